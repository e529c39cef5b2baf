//! Served mode: `custos serve` owns a store and answers engine calls over a Unix socket, so
//! that keys stay in the server's memory and the custodians unseal the store once.
//!
//! - [`protocol`]: the framed wire protocol and the one list of engine calls it carries.
//! - [`server`]: the server (`custos serve --store DIR`).
//! - [`client`]: a connection to the server, the engine stub [`client::RemoteEngine`] and the
//!   control requests (status, unseal, seal).
//! - [`wire`]: wire forms of the engine values that need one.

pub mod client;
pub mod protocol;
pub mod server;
pub mod wire;

/// The socket's file name inside the store directory.
pub const SOCKET_FILE: &str = "custos.sock";
/// The lock file, inside the store directory, that a running server holds.
pub const LOCK_FILE: &str = "custos.lock";

/// Where the engine of a PKCS#11 application runs: in the application's own process (embedded
/// mode), or in a `custos serve` process reached through its socket (served mode). Both offer
/// the same calls, with the same results and errors.
pub enum Backend {
    /// The engine in this process (boxed: it is much larger than a connection).
    Local(Box<crate::engine::Engine>),
    /// The engine of this connection in the server.
    Remote(client::RemoteEngine),
}

impl Backend {
    /// Why the store is sealed, if this process knows (in served mode the server reports a
    /// sealed store as tokens not present).
    pub fn seal_problem(&self) -> Option<&str> {
        match self {
            Backend::Local(e) => e.seal_problem(),
            Backend::Remote(_) => None,
        }
    }

    /// Whether the calls go to a server.
    pub fn is_remote(&self) -> bool {
        matches!(self, Backend::Remote(_))
    }
}
