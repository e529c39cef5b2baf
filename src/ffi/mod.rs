//! The PKCS#11 C ABI, both ways. Every `C_*` entry point lives in this module and is a few lines:
//! `guard(|| { parse arguments; call the engine; write outputs })`. All `unsafe` for PKCS#11 is
//! here, in `args` (pointers in) and `out` (pointers out); [`client`] is the other direction, a
//! small PKCS#11 client that loads any module by path (used by `custos bench`).
//!
//! The C ABI's own contract is the safety contract of these functions: the caller passes
//! pointers that are valid for the lengths it declares. The functions check what can be
//! checked (NULL, lengths, handles) and never trust more than that.

#![allow(unsafe_code)]
#![allow(non_snake_case)]
#![allow(clippy::not_unsafe_ptr_arg_deref)]
#![allow(clippy::missing_safety_doc)]

pub mod args;
pub mod client;
pub mod entry;
pub mod guard;
pub mod os;
pub mod out;

mod crypto;
mod general;
mod object;
mod session;
mod token;

use std::sync::{Arc, RwLock};

use cryptoki_sys::*;

use crate::served::Backend;

struct State {
    engine: Arc<Backend>,
    /// The process that initialised the library, and its fork generation then
    /// ([`os::fork_generation`]): a forked child sees another generation.
    pid: u32,
    generation: Option<u64>,
}

impl State {
    /// Whether this is the process that initialised the library (not a forked child).
    fn is_current_process(&self) -> bool {
        match self.generation {
            Some(g) => os::fork_generation() == Some(g),
            None => self.pid == std::process::id(),
        }
    }
}

static STATE: RwLock<Option<State>> = RwLock::new(None);

/// The engine of an initialised library. A forked child sees `CKR_CRYPTOKI_NOT_INITIALIZED`
/// until it calls `C_Initialize` itself.
pub(crate) fn engine() -> Result<Arc<Backend>, CK_RV> {
    let g = STATE.read().unwrap_or_else(|p| p.into_inner());
    match &*g {
        Some(s) if s.is_current_process() => Ok(s.engine.clone()),
        _ => Err(CKR_CRYPTOKI_NOT_INITIALIZED),
    }
}

/// Whether operator diagnostics go to stderr (`CUSTOS_DEBUG=1`).
pub(crate) fn debug_enabled() -> bool {
    std::env::var_os("CUSTOS_DEBUG").is_some_and(|v| v != "0" && !v.is_empty())
}

/// The library's version as PKCS#11 reports it.
pub(crate) fn library_version() -> CK_VERSION {
    let major = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap_or(0);
    let minor = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap_or(0);
    CK_VERSION { major, minor }
}
