//! The client side of the served mode: a [`Connection`] to a running `custos serve`, the engine
//! stub [`RemoteEngine`] whose methods (generated in [`super::protocol`]) mirror the engine's,
//! and the control requests (status, unseal, seal).

use std::fmt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::protocol::{
    read_frame, write_frame, Call, Control, ControlReply, FrameError, Reply, Request, Response,
    ServerStatus, UnsealProgress,
};
use super::SOCKET_FILE;
use crate::engine::Error;

/// Why a request to the server failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClientError {
    /// The socket could not be reached (no server, or not ours).
    Connect(String),
    /// The connection failed or carried a bad frame.
    Frame(FrameError),
    /// The server closed the connection before answering.
    Closed,
    /// The server answered with another request's id or another kind of answer.
    Mismatch(String),
    /// The server refused a control request; the string is its reason.
    Refused(String),
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Connect(why) => write!(f, "cannot reach the custos server: {why}"),
            ClientError::Frame(e) => write!(f, "custos server connection: {e}"),
            ClientError::Closed => f.write_str("the custos server closed the connection"),
            ClientError::Mismatch(why) => write!(f, "unexpected answer from the server: {why}"),
            ClientError::Refused(why) => write!(f, "refused by the server: {why}"),
        }
    }
}

impl std::error::Error for ClientError {}

impl From<ClientError> for Error {
    /// A failed exchange is a device error, as a removed device would be.
    fn from(e: ClientError) -> Error {
        Error::DeviceError(e.to_string())
    }
}

/// The socket path of the server of a store directory.
pub fn socket_path(store_dir: &Path) -> PathBuf {
    store_dir.join(SOCKET_FILE)
}

/// One connection to the server: requests are sent one at a time, each waiting for its answer.
pub struct Connection {
    inner: Mutex<Inner>,
}

struct Inner {
    /// The server's socket, to connect again after a failure.
    socket: PathBuf,
    stream: UnixStream,
    next_id: u64,
    /// Set after a failed exchange: the stream may hold half a frame, so it is not used again.
    broken: bool,
}

impl Connection {
    /// Connects to the server listening on `socket`.
    pub fn connect(socket: &Path) -> Result<Connection, ClientError> {
        let stream = UnixStream::connect(socket)
            .map_err(|e| ClientError::Connect(format!("{}: {e}", socket.display())))?;
        Ok(Connection {
            inner: Mutex::new(Inner {
                socket: socket.to_path_buf(),
                stream,
                next_id: 1,
                broken: false,
            }),
        })
    }

    /// Connects to the server of the store in `store_dir`.
    pub fn connect_store(store_dir: &Path) -> Result<Connection, ClientError> {
        Connection::connect(&socket_path(store_dir))
    }

    /// Sends one request and waits for the response with the same id. After a failed
    /// exchange the next request connects again first (a restarted server), and fails at once
    /// if the server is still not there; what the old connection held on the server (its
    /// sessions and login) is gone.
    pub fn request(&self, req: &Request) -> Result<Response, ClientError> {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if g.broken {
            let fresh = UnixStream::connect(&g.socket)
                .map_err(|e| ClientError::Connect(format!("{}: {e}", g.socket.display())))?;
            g.stream = fresh;
            g.broken = false;
        }
        let id = g.next_id;
        g.next_id = g.next_id.wrapping_add(1);
        let result = exchange(&mut g.stream, id, req);
        if result.is_err() {
            g.broken = true;
        }
        result
    }

    /// Sends a control request and returns the server's answer; a refusal is an error.
    pub fn control(&self, c: Control) -> Result<ControlReply, ClientError> {
        match self.request(&Request::Control(c))? {
            Response::Control(ControlReply::Refused(why)) => Err(ClientError::Refused(why)),
            Response::Control(r) => Ok(r),
            Response::Call(r) => Err(ClientError::Mismatch(format!(
                "an engine reply ({}) to a control request",
                r.method()
            ))),
        }
    }

    /// The server's state.
    pub fn status(&self) -> Result<ServerStatus, ClientError> {
        match self.control(Control::Status)? {
            ControlReply::Status(s) => Ok(s),
            other => Err(ClientError::Mismatch(format!(
                "{other:?} to a status request"
            ))),
        }
    }

    /// Offers one share (its text) to the server's unseal ceremony.
    pub fn unseal(&self, share_text: &str) -> Result<UnsealProgress, ClientError> {
        let share = share_text.to_owned();
        match self.control(Control::Unseal { share })? {
            ControlReply::Unseal(p) => Ok(p),
            other => Err(ClientError::Mismatch(format!(
                "{other:?} to an unseal request"
            ))),
        }
    }

    /// Seals the server, proving custody with a share of the store (its text).
    pub fn seal(&self, share_text: &str) -> Result<(), ClientError> {
        let share = share_text.to_owned();
        match self.control(Control::Seal { share })? {
            ControlReply::Sealed => Ok(()),
            other => Err(ClientError::Mismatch(format!(
                "{other:?} to a seal request"
            ))),
        }
    }
}

/// Writes a request frame and reads the answer, which must carry the same id.
fn exchange(stream: &mut UnixStream, id: u64, req: &Request) -> Result<Response, ClientError> {
    write_frame(stream, id, req).map_err(ClientError::Frame)?;
    match read_frame::<_, Response>(stream).map_err(ClientError::Frame)? {
        None => Err(ClientError::Closed),
        Some((got, _)) if got != id => Err(ClientError::Mismatch(format!(
            "answer to request {got} while waiting for {id}"
        ))),
        Some((_, resp)) => Ok(resp),
    }
}

/// An engine on the other side of a connection: one PKCS#11 application's sessions and login
/// state, held by the server. Its methods, generated from the protocol's list of engine calls,
/// take the same arguments as [`crate::engine::Engine`]'s and return the engine's result, or
/// `Error::DeviceError` when the server cannot be reached. (`slot_list` and `close_everything`,
/// which cannot fail in the engine, return a `Result` here for that reason.)
pub struct RemoteEngine {
    conn: Connection,
}

impl RemoteEngine {
    /// Connects to the server of the store in `store_dir`.
    pub fn connect_store(store_dir: &Path) -> Result<RemoteEngine, ClientError> {
        Ok(RemoteEngine::new(Connection::connect_store(store_dir)?))
    }

    /// An engine stub over an open connection.
    pub fn new(conn: Connection) -> RemoteEngine {
        RemoteEngine { conn }
    }

    /// The connection, for control requests.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// Sends one engine call and returns its reply.
    pub(crate) fn call(&self, call: Call) -> Result<Reply, Error> {
        match self.conn.request(&Request::Call(call))? {
            Response::Call(r) => Ok(r),
            Response::Control(c) => Err(ClientError::Mismatch(format!(
                "a control answer ({c:?}) to an engine call"
            ))
            .into()),
        }
    }

    /// The error for a reply to another method than the one called.
    pub(crate) fn mismatch(called: &str, answered: &str) -> Error {
        ClientError::Mismatch(format!("reply to {answered} for a call to {called}")).into()
    }
}
