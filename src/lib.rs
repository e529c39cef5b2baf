//! Custos: a software HSM. This crate builds the PKCS#11 module `libcustos_pkcs11.so` and the
//! library behind the `custos` administration tool.
//!
//! # Layout
//!
//! - [`ffi`]: the PKCS#11 C ABI. Every `C_*` entry point lives here, and so does every block of
//!   code the compiler cannot check for PKCS#11: raw pointers become typed values, the engine is
//!   called, results are written back under the buffer-length protocol.
//! - [`engine`]: the token engine in safe Rust: slots, tokens, sessions, login, the object index
//!   and every policy check (`engine::access`).
//! - [`object`]: the attribute table and typed attribute maps.
//! - [`mechanism`]: the typed mechanism enum and the static mechanism table.
//! - [`crypto`]: the cryptographic backend (aws-lc-rs, and aws-lc-sys where its safe API lacks
//!   a function).
//! - [`store`]: the sealed SQLite store; the only module that names SQLite.
//! - [`vault`]: the master key, Shamir shares, unsealing and PIN verifiers.
//! - [`config`]: configuration files and environment.
//! - [`served`]: the served mode: `custos serve`, its wire protocol and its client.
//! - [`bench`](mod@bench): the `custos bench` benchmark, which drives any PKCS#11 module through its C ABI.

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod admin;
pub mod bench;
pub mod config;
pub mod crypto;
pub mod engine;
pub mod ffi;
#[doc(hidden)]
pub mod fuzz_harness;
pub mod mechanism;
pub mod object;
pub mod served;
pub mod store;
pub mod vault;
