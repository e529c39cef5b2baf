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
mod sys;
pub mod wire;

/// The socket's file name inside the store directory.
pub const SOCKET_FILE: &str = "custos.sock";
/// The lock file, inside the store directory, that a running server holds.
pub const LOCK_FILE: &str = "custos.lock";
