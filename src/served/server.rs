//! `custos serve`: a long-lived process that owns a store and answers engine calls over the Unix
//! socket `DIR/custos.sock`.
//!
//! - One [`Engine`] per connection: each connection is one PKCS#11 application with its own
//!   sessions and login state. Engines of different connections share the store through SQLite,
//!   as separate processes do in embedded mode.
//! - The master key is held once, in locked memory, after the custodians' unseal ceremony
//!   ([`Control::Unseal`], one share per request). While it is absent every connection's engine
//!   is sealed and reports no token. A connection whose engine is out of date (built before the
//!   last unseal or seal) gets a fresh engine at its next call; sealing drops every connection's
//!   unsealed engine at once (its sessions are gone).
//! - Only one server runs per store (an exclusive `flock` on `DIR/custos.lock`); a stale socket
//!   left by a dead server is replaced. The socket is created with mode 0600 under a temporary
//!   name and renamed into place; a peer whose uid differs from the server's is refused.
//! - A malformed frame closes that connection only. SIGTERM or SIGINT stop the server: it stops
//!   accepting, lets in-flight calls finish, closes every connection and removes the socket.
//! - One line per event on stderr: `custos serve: <UTC time> <event>`.

use std::collections::HashMap;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::net::Shutdown;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Instant;

use zeroize::Zeroizing;

use super::protocol::{
    read_frame, write_frame, Call, Control, ControlReply, FrameError, Reply, Request, Response,
    ServerStatus, UnsealProgress,
};
use super::{LOCK_FILE, SOCKET_FILE};
use crate::config::Config;
use crate::engine::provision;
use crate::engine::{Engine, Error, DEV_SHARE_FILE};
use crate::ffi::os;
use crate::store::{Store, StoreHeader};
use crate::vault::{Ceremony, MasterKey, Refusal, Share};

/// Why the server could not start or run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeError(pub String);

impl std::fmt::Display for ServeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ServeError {}

/// Writes one event line to stderr: `custos serve: <UTC time> <event>`.
pub fn log(event: &str) {
    eprintln!("custos serve: {} {event}", utc_now());
}

/// The current time as `YYYY-MM-DDTHH:MM:SSZ`.
fn utc_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = crate::engine::civil_date((secs / 86_400) as i64);
    let s = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        s / 3600,
        s % 3600 / 60,
        s % 60
    )
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// The master key and the ceremony that rebuilds it.
struct Vault {
    /// The master key, while the server is unsealed.
    master: Option<MasterKey>,
    /// The ceremony in progress while sealed (created at the first share).
    ceremony: Option<Ceremony>,
    /// Counts seals and unseals; an engine built under another generation is out of date.
    generation: u64,
}

/// A connection's engine and the vault generation it was built under.
struct ConnEngine {
    engine: Option<Arc<Engine>>,
    generation: u64,
}

/// What the server keeps of one connection.
struct ConnEntry {
    /// A second handle on the stream, to end the connection at shutdown.
    stream: UnixStream,
    engine: Arc<Mutex<ConnEngine>>,
}

/// State shared by the accept loop and every connection.
struct Shared {
    dir: PathBuf,
    /// The settings every connection's engine is built with.
    config: Config,
    header: StoreHeader,
    vault: Mutex<Vault>,
    conns: Mutex<HashMap<u64, ConnEntry>>,
    next_conn: AtomicU64,
    started: Instant,
    stopping: AtomicBool,
}

impl Shared {
    /// Builds an engine over a fresh handle on the store: unsealed with `master`, or sealed.
    fn build_engine(&self, master: Option<&MasterKey>) -> Result<Engine, Error> {
        let config = self.config.clone();
        let mut store = Store::open(&self.dir)?;
        if let Some(w) = config.witness_location() {
            store.set_witness_dir(&w);
        }
        let header = store.header().clone();
        let problem = match master {
            Some(mk) => {
                provision::unseal_with_key(&mut store, mk)
                    .map_err(|e| Error::DeviceError(e.to_string()))?;
                None
            }
            None => Some(format!(
                "store {} is sealed: the server awaits its custodians' shares",
                self.dir.display()
            )),
        };
        Engine::with_store(config, store, header, problem)
    }

    /// The connection's engine, rebuilt first if the server was sealed or unsealed since.
    fn engine_for(&self, slot: &Mutex<ConnEngine>) -> Result<Arc<Engine>, Error> {
        let vault = lock(&self.vault);
        let mut g = lock(slot);
        if g.generation != vault.generation || g.engine.is_none() {
            if let Some(old) = g.engine.take() {
                old.close_everything();
            }
            let fresh = Arc::new(self.build_engine(vault.master.as_ref())?);
            g.engine = Some(fresh);
            g.generation = vault.generation;
        }
        g.engine
            .clone()
            .ok_or_else(|| Error::General("no engine".into()))
    }

    /// Runs one engine call for a connection.
    fn run_call(&self, slot: &Mutex<ConnEngine>, call: Call) -> Reply {
        if let Err(e) = call.admissible() {
            return Reply::error_for(&call, e);
        }
        let engine = match self.engine_for(slot) {
            Ok(engine) => engine,
            Err(e) => return Reply::error_for(&call, e),
        };
        // A call's arguments come from another process: should one reach a panic in the
        // engine, the connection gets an error instead of losing its thread.
        let fallback = Reply::error_for(&call, Error::General(String::new()));
        let method = call.method();
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| call.dispatch(&engine)))
            .unwrap_or_else(|_| {
                log(&format!(
                    "{method} panicked in the engine; answered with an error"
                ));
                fallback.with_error(Error::General(format!("{method} failed inside the server")))
            })
    }

    /// Answers a control request.
    fn control(&self, c: Control) -> ControlReply {
        match c {
            Control::Status => ControlReply::Status(self.status()),
            Control::Unseal { share } => self.unseal(&Zeroizing::new(share)),
            Control::Seal { share } => self.seal(&Zeroizing::new(share)),
        }
    }

    fn status(&self) -> ServerStatus {
        let vault = lock(&self.vault);
        ServerStatus {
            unsealed: vault.master.is_some(),
            shares_have: vault.ceremony.as_ref().map_or(0, Ceremony::have),
            shares_need: self.header.threshold,
            shares_total: self.header.total,
            clients: lock(&self.conns).len() as u64,
            uptime_secs: self.started.elapsed().as_secs(),
        }
    }

    /// Offers one share to the ceremony; at the threshold, rebuilds and keeps the master key.
    fn unseal(&self, text: &str) -> ControlReply {
        let mut vault = lock(&self.vault);
        if vault.master.is_some() {
            return ControlReply::Refused("the store is already unsealed".into());
        }
        let share = match Share::parse(text) {
            Ok(s) => s,
            Err(e) => {
                let why = Refusal::from(e).to_string();
                log(&format!("share refused: {why}"));
                return ControlReply::Refused(why);
            }
        };
        if vault.ceremony.is_none() {
            match provision::ceremony_for(&self.header) {
                Ok(c) => vault.ceremony = Some(c),
                Err(e) => return ControlReply::Refused(format!("cannot start the ceremony: {e}")),
            }
        }
        let Some(ceremony) = vault.ceremony.as_mut() else {
            return ControlReply::Refused("no ceremony".into());
        };
        let accepted = match ceremony.add(share) {
            Ok(a) => a,
            Err(why) => {
                log(&format!("share refused: {why}"));
                return ControlReply::Refused(why.to_string());
            }
        };
        log(&format!(
            "share {} accepted ({} of {})",
            accepted.index, accepted.have, accepted.need
        ));
        if !accepted.is_complete() {
            return ControlReply::Unseal(UnsealProgress {
                have: accepted.have,
                need: accepted.need,
                unsealed: false,
            });
        }
        let Some(ceremony) = vault.ceremony.take() else {
            return ControlReply::Refused("no ceremony".into());
        };
        match ceremony.finish() {
            Ok(mk) => {
                vault.master = Some(mk);
                vault.generation += 1;
                log("unsealed");
                ControlReply::Unseal(UnsealProgress {
                    have: accepted.have,
                    need: accepted.need,
                    unsealed: true,
                })
            }
            Err(e) => {
                log(&format!("the shares did not rebuild the master key: {e}"));
                ControlReply::Refused(format!(
                    "the shares did not rebuild the master key ({e}); the ceremony starts over"
                ))
            }
        }
    }

    /// Seals the server if `text` is a genuine share of the store: wipes the master key and
    /// drops every connection's unsealed engine.
    fn seal(&self, text: &str) -> ControlReply {
        let share = match Share::parse(text) {
            Ok(s) => s,
            Err(e) => return ControlReply::Refused(Refusal::from(e).to_string()),
        };
        let genuine = provision::ceremony_for(&self.header)
            .map_err(|e| e.to_string())
            .and_then(|mut c| c.add(share).map_err(|r| r.to_string()));
        if let Err(why) = genuine {
            log(&format!("seal refused: {why}"));
            return ControlReply::Refused(format!("not a share of this store: {why}"));
        }
        let mut vault = lock(&self.vault);
        if vault.master.is_none() {
            return ControlReply::Refused("the store is already sealed".into());
        }
        // Dropping the key wipes its locked memory.
        vault.master = None;
        vault.ceremony = None;
        vault.generation += 1;
        for c in lock(&self.conns).values() {
            let mut g = lock(&c.engine);
            if let Some(old) = g.engine.take() {
                old.close_everything();
            }
        }
        log("sealed: master key wiped, connections' sessions closed");
        ControlReply::Sealed
    }
}

/// The engines' settings: those of the file named by `CUSTOS_CONF`, if set, for the store in
/// `dir` (its share settings are not used: the server is unsealed by its custodians), or the
/// defaults.
fn server_config(dir: &Path) -> Result<Config, ServeError> {
    let mut config = match std::env::var_os("CUSTOS_CONF").filter(|v| !v.is_empty()) {
        Some(p) => Config::load(Path::new(&p)).map_err(|e| ServeError(e.to_string()))?,
        None => Config::for_store(dir),
    };
    config.store = dir.to_path_buf();
    config.shares.clear();
    config.shares_env = None;
    Ok(config)
}

/// Opens (creating it, owner-only) and locks `DIR/custos.lock`, or says that a server runs.
fn lock_store(dir: &Path) -> Result<File, ServeError> {
    let path = dir.join(LOCK_FILE);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(|e| ServeError(format!("cannot open {}: {e}", path.display())))?;
    match os::try_lock_exclusive(&file) {
        Ok(true) => Ok(file),
        Ok(false) => Err(ServeError(format!(
            "a server is already running on this store ({})",
            dir.display()
        ))),
        Err(e) => Err(ServeError(format!("cannot lock {}: {e}", path.display()))),
    }
}

/// Binds the socket: under a temporary name, made owner-only, then renamed into place (so the
/// socket is never reachable with wider permissions). Any socket already there is stale: its
/// server no longer holds the lock.
fn bind_socket(dir: &Path) -> Result<UnixListener, ServeError> {
    let path = dir.join(SOCKET_FILE);
    let tmp = dir.join(format!("{SOCKET_FILE}.{}.tmp", std::process::id()));
    let fail = |what: &str, p: &Path, e: io::Error| {
        ServeError(format!("cannot {what} socket {}: {e}", p.display()))
    };
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(fail("remove", &tmp, e)),
    }
    let listener = UnixListener::bind(&tmp).map_err(|e| fail("create", &tmp, e))?;
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))
        .map_err(|e| fail("restrict", &tmp, e))?;
    if path.exists() {
        log(&format!("replacing the stale socket {}", path.display()));
    }
    fs::rename(&tmp, &path).map_err(|e| fail("place", &path, e))?;
    Ok(listener)
}

/// Unseals a `--dev` store from its own share file.
fn dev_master_key(dir: &Path, header: &StoreHeader) -> Result<Option<MasterKey>, ServeError> {
    let path = dir.join(DEV_SHARE_FILE);
    if !path.exists() {
        return Ok(None);
    }
    let share = provision::read_share_file(&path).map_err(|e| ServeError(e.to_string()))?;
    let mut c = provision::ceremony_for(header).map_err(|e| ServeError(e.to_string()))?;
    c.add(share)
        .map_err(|e| ServeError(format!("the dev share does not open this store: {e}")))?;
    c.finish()
        .map(Some)
        .map_err(|e| ServeError(format!("the dev share does not open this store: {e}")))
}

/// Serves one connection until the client closes it, sends a malformed frame, or the server
/// stops.
fn serve_connection(shared: &Shared, id: u64, mut stream: UnixStream, slot: &Mutex<ConnEngine>) {
    loop {
        let (req_id, req) = match read_frame::<_, Request>(&mut stream) {
            Ok(Some(r)) => r,
            Ok(None) => break,
            Err(e) => {
                log(&format!("client {id}: {e}; connection closed"));
                break;
            }
        };
        let resp = match req {
            Request::Call(call) => Response::Call(shared.run_call(slot, call)),
            Request::Control(c) => Response::Control(shared.control(c)),
        };
        let sent = match write_frame(&mut stream, req_id, &resp) {
            Err(FrameError::TooLarge(n)) => {
                let why = format!("the reply ({n} bytes) exceeds the frame limit");
                let resp = match &resp {
                    Response::Call(r) => Response::Call(r.with_error(Error::DeviceError(why))),
                    Response::Control(_) => Response::Control(ControlReply::Refused(why)),
                };
                write_frame(&mut stream, req_id, &resp)
            }
            other => other,
        };
        if let Err(e) = sent {
            log(&format!("client {id}: {e}; connection closed"));
            break;
        }
    }
}

/// Runs the server for the store in `dir` until SIGTERM or SIGINT.
pub fn serve(dir: &Path) -> Result<(), ServeError> {
    let store = Store::open(dir)
        .map_err(|e| ServeError(format!("cannot open the store {}: {e}", dir.display())))?;
    let header = store.header().clone();
    drop(store);
    let config = server_config(dir)?;
    let lock_file = lock_store(dir)?;
    let master = dev_master_key(dir, &header)?;
    let listener = bind_socket(dir)?;
    let socket = dir.join(SOCKET_FILE);
    let dev = master.is_some();
    let shared = Arc::new(Shared {
        dir: dir.to_path_buf(),
        config,
        header,
        vault: Mutex::new(Vault {
            master,
            ceremony: None,
            generation: 0,
        }),
        conns: Mutex::new(HashMap::new()),
        next_conn: AtomicU64::new(1),
        started: Instant::now(),
        stopping: AtomicBool::new(false),
    });

    let mut signals = signal_hook::iterator::Signals::new([
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGINT,
    ])
    .map_err(|e| ServeError(format!("cannot handle signals: {e}")))?;
    {
        let shared = shared.clone();
        let socket = socket.clone();
        std::thread::spawn(move || {
            if let Some(sig) = signals.forever().next() {
                let name = if sig == signal_hook::consts::SIGINT {
                    "SIGINT"
                } else {
                    "SIGTERM"
                };
                log(&format!("{name} received: stopping"));
                shared.stopping.store(true, Ordering::SeqCst);
                // Wake the accept loop.
                let _ = UnixStream::connect(&socket);
            }
        });
    }

    // A panic (caught per call in `run_call`) is reported as one log line.
    std::panic::set_hook(Box::new(|info| {
        log(&format!("panic: {}", info.to_string().replace('\n', "; ")));
    }));

    let h = &shared.header;
    log(&format!(
        "serving {} on {} ({}, quorum {} of {})",
        dir.display(),
        socket.display(),
        if dev { "dev store, unsealed" } else { "sealed" },
        h.threshold,
        h.total
    ));

    let own_uid = os::own_uid();
    let mut threads: Vec<JoinHandle<()>> = Vec::new();
    for conn in listener.incoming() {
        if shared.stopping.load(Ordering::SeqCst) {
            break;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                log(&format!("accept failed: {e}"));
                continue;
            }
        };
        match os::peer_uid(&stream) {
            Ok(uid) if uid == own_uid => {}
            Ok(uid) => {
                log(&format!("refused a connection from uid {uid}"));
                continue;
            }
            Err(e) => {
                log(&format!("refused a connection: no peer credentials: {e}"));
                continue;
            }
        }
        let handle = match stream.try_clone() {
            Ok(s) => s,
            Err(e) => {
                log(&format!("refused a connection: {e}"));
                continue;
            }
        };
        let id = shared.next_conn.fetch_add(1, Ordering::Relaxed);
        let slot = Arc::new(Mutex::new(ConnEngine {
            engine: None,
            generation: 0,
        }));
        lock(&shared.conns).insert(
            id,
            ConnEntry {
                stream: handle,
                engine: slot.clone(),
            },
        );
        log(&format!("client {id} connected"));
        let shared2 = shared.clone();
        threads.retain(|t| !t.is_finished());
        threads.push(std::thread::spawn(move || {
            serve_connection(&shared2, id, stream, &slot);
            let entry = lock(&shared2.conns).remove(&id);
            if let Some(old) = entry.and_then(|e| lock(&e.engine).engine.take()) {
                old.close_everything();
            }
            log(&format!("client {id} disconnected"));
        }));
    }

    // Stop: no new connections; every connection ends after its in-flight call.
    drop(listener);
    let _ = fs::remove_file(&socket);
    for c in lock(&shared.conns).values() {
        let _ = c.stream.shutdown(Shutdown::Read);
    }
    for t in threads {
        let _ = t.join();
    }
    lock(&shared.vault).master = None;
    drop(lock_file);
    log("stopped");
    Ok(())
}
