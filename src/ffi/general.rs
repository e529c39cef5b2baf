//! `C_Initialize`, `C_Finalize`, `C_GetInfo` and the functions Custos does not offer.

use std::ffi::{c_void, CStr};
use std::path::PathBuf;
use std::sync::Arc;

use cryptoki_sys::*;

use super::args::padded;
use super::guard::guard;
use super::out::put;
use super::{engine, library_version, State, STATE};
use crate::config::Config;
use crate::engine::Engine;
use crate::served::Backend;

fn initialize(args: *mut c_void) -> Result<CK_RV, CK_RV> {
    let mut config_path: Option<PathBuf> = None;
    if !args.is_null() {
        // SAFETY: a non-NULL pInitArgs points to a CK_C_INITIALIZE_ARGS (PKCS#11 §5.4).
        let a: CK_C_INITIALIZE_ARGS = unsafe { std::ptr::read_unaligned(args.cast()) };
        let given = [
            a.CreateMutex.is_some(),
            a.DestroyMutex.is_some(),
            a.LockMutex.is_some(),
            a.UnlockMutex.is_some(),
        ];
        // All four mutex callbacks or none. Custos synchronises with the operating system's
        // primitives in every case, which is correct whether or not callbacks are supplied.
        if given.iter().any(|g| *g) && !given.iter().all(|g| *g) {
            return Err(CKR_ARGUMENTS_BAD);
        }
        if a.flags & !(CKF_OS_LOCKING_OK | CKF_LIBRARY_CANT_CREATE_OS_THREADS) != 0 {
            return Err(CKR_ARGUMENTS_BAD);
        }
        if !a.pReserved.is_null() {
            // Some applications pass a configuration string here; Custos takes it as the path
            // of its configuration file.
            // SAFETY: pReserved, when used this way, is a NUL-terminated string.
            let s = unsafe { CStr::from_ptr(a.pReserved as *const std::ffi::c_char) };
            let p = PathBuf::from(s.to_string_lossy().into_owned());
            if p.is_file() {
                config_path = Some(p);
            }
        }
    }
    let mut g = STATE.write().unwrap_or_else(|p| p.into_inner());
    let pid = std::process::id();
    let generation = super::os::fork_generation();
    if let Some(s) = g.as_ref() {
        if s.is_current_process() {
            return Err(CKR_CRYPTOKI_ALREADY_INITIALIZED);
        }
        // A forked child: the parent's engine (and its database connection) belongs to the
        // parent; leave it untouched rather than closing it from here.
        if let Some(old) = g.take() {
            std::mem::forget(old);
        }
    }
    let config = match config_path {
        Some(p) => Config::load(&p),
        None => Config::from_env(),
    };
    let config = config.map_err(|e| {
        if std::env::var_os("CUSTOS_QUIET").is_none() || super::debug_enabled() {
            eprintln!("custos: {e}");
        }
        CKR_GENERAL_ERROR
    })?;
    // A store with a live server is used through it (served mode); otherwise this process
    // opens the store itself (embedded mode).
    let engine = match crate::served::client::RemoteEngine::connect_store(&config.store) {
        Ok(remote) => Backend::Remote(remote),
        Err(_) => Backend::Local(Box::new(Engine::open(config).map_err(|e| {
            eprintln!("custos: cannot open the store: {e}");
            CKR_DEVICE_ERROR
        })?)),
    };
    if let Some(problem) = engine.seal_problem() {
        if super::debug_enabled() || std::env::var_os("CUSTOS_QUIET").is_none() {
            eprintln!("custos: {problem}; tokens are not present");
        }
    }
    *g = Some(State {
        engine: Arc::new(engine),
        pid,
        generation,
    });
    Ok(CKR_OK)
}

#[no_mangle]
pub extern "C" fn C_Initialize(pInitArgs: *mut c_void) -> CK_RV {
    guard(|| initialize(pInitArgs))
}

#[no_mangle]
pub extern "C" fn C_Finalize(pReserved: *mut c_void) -> CK_RV {
    guard(|| {
        if !pReserved.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let mut g = STATE.write().unwrap_or_else(|p| p.into_inner());
        match g.as_ref() {
            Some(s) if s.is_current_process() => {}
            _ => return Err(CKR_CRYPTOKI_NOT_INITIALIZED),
        }
        if let Some(s) = g.take() {
            // A server that went away has nothing left to close.
            let _ = s.engine.close_everything();
        }
        Ok(CKR_OK)
    })
}

fn info(version: CK_VERSION, p: *mut CK_INFO) -> Result<CK_RV, CK_RV> {
    engine()?;
    put(
        p,
        CK_INFO {
            cryptokiVersion: version,
            manufacturerID: padded("Custos"),
            flags: 0,
            libraryDescription: padded("Custos software HSM"),
            libraryVersion: library_version(),
        },
    )?;
    Ok(CKR_OK)
}

/// `C_GetInfo` of the 2.40 table.
#[no_mangle]
pub extern "C" fn C_GetInfo(pInfo: *mut CK_INFO) -> CK_RV {
    guard(|| {
        info(
            CK_VERSION {
                major: 2,
                minor: 40,
            },
            pInfo,
        )
    })
}

/// `C_GetInfo` of the 3.0 table.
pub extern "C" fn C_GetInfo_v3(pInfo: *mut CK_INFO) -> CK_RV {
    guard(|| info(CK_VERSION { major: 3, minor: 0 }, pInfo))
}

/// Defines entry points Custos does not offer: after the usual initialisation check they
/// return `CKR_FUNCTION_NOT_SUPPORTED`.
macro_rules! not_supported {
    ($($name:ident($($arg:ident: $ty:ty),*);)*) => {$(
        #[no_mangle]
        pub extern "C" fn $name($(_: $ty),*) -> CK_RV {
            guard(|| {
                engine()?;
                Err(CKR_FUNCTION_NOT_SUPPORTED)
            })
        }
    )*};
}

not_supported! {
    C_GetOperationState(h: CK_SESSION_HANDLE, s: *mut u8, l: *mut CK_ULONG);
    C_SetOperationState(h: CK_SESSION_HANDLE, s: *mut u8, l: CK_ULONG, e: CK_OBJECT_HANDLE, a: CK_OBJECT_HANDLE);
    C_SignRecoverInit(h: CK_SESSION_HANDLE, m: *mut CK_MECHANISM, k: CK_OBJECT_HANDLE);
    C_SignRecover(h: CK_SESSION_HANDLE, d: *mut u8, l: CK_ULONG, s: *mut u8, sl: *mut CK_ULONG);
    C_VerifyRecoverInit(h: CK_SESSION_HANDLE, m: *mut CK_MECHANISM, k: CK_OBJECT_HANDLE);
    C_VerifyRecover(h: CK_SESSION_HANDLE, s: *mut u8, l: CK_ULONG, d: *mut u8, dl: *mut CK_ULONG);
    C_DigestEncryptUpdate(h: CK_SESSION_HANDLE, a: *mut u8, b: CK_ULONG, c: *mut u8, d: *mut CK_ULONG);
    C_DecryptDigestUpdate(h: CK_SESSION_HANDLE, a: *mut u8, b: CK_ULONG, c: *mut u8, d: *mut CK_ULONG);
    C_SignEncryptUpdate(h: CK_SESSION_HANDLE, a: *mut u8, b: CK_ULONG, c: *mut u8, d: *mut CK_ULONG);
    C_DecryptVerifyUpdate(h: CK_SESSION_HANDLE, a: *mut u8, b: CK_ULONG, c: *mut u8, d: *mut CK_ULONG);
    C_MessageEncryptInit(h: CK_SESSION_HANDLE, m: *mut CK_MECHANISM, k: CK_OBJECT_HANDLE);
    C_EncryptMessage(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG, a: *mut u8, al: CK_ULONG, d: *mut u8, dl: CK_ULONG, c: *mut u8, cl: *mut CK_ULONG);
    C_EncryptMessageBegin(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG, a: *mut u8, al: CK_ULONG);
    C_EncryptMessageNext(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG, d: *mut u8, dl: CK_ULONG, c: *mut u8, cl: *mut CK_ULONG, f: CK_FLAGS);
    C_MessageEncryptFinal(h: CK_SESSION_HANDLE);
    C_MessageDecryptInit(h: CK_SESSION_HANDLE, m: *mut CK_MECHANISM, k: CK_OBJECT_HANDLE);
    C_DecryptMessage(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG, a: *mut u8, al: CK_ULONG, c: *mut u8, cl: CK_ULONG, d: *mut u8, dl: *mut CK_ULONG);
    C_DecryptMessageBegin(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG, a: *mut u8, al: CK_ULONG);
    C_DecryptMessageNext(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG, c: *mut u8, cl: CK_ULONG, d: *mut u8, dl: *mut CK_ULONG, f: CK_FLAGS);
    C_MessageDecryptFinal(h: CK_SESSION_HANDLE);
    C_MessageSignInit(h: CK_SESSION_HANDLE, m: *mut CK_MECHANISM, k: CK_OBJECT_HANDLE);
    C_SignMessage(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG, d: *mut u8, dl: CK_ULONG, s: *mut u8, sl: *mut CK_ULONG);
    C_SignMessageBegin(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG);
    C_SignMessageNext(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG, d: *mut u8, dl: CK_ULONG, s: *mut u8, sl: *mut CK_ULONG);
    C_MessageSignFinal(h: CK_SESSION_HANDLE);
    C_MessageVerifyInit(h: CK_SESSION_HANDLE, m: *mut CK_MECHANISM, k: CK_OBJECT_HANDLE);
    C_VerifyMessage(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG, d: *mut u8, dl: CK_ULONG, s: *mut u8, sl: CK_ULONG);
    C_VerifyMessageBegin(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG);
    C_VerifyMessageNext(h: CK_SESSION_HANDLE, p: *mut c_void, pl: CK_ULONG, d: *mut u8, dl: CK_ULONG, s: *mut u8, sl: CK_ULONG);
    C_MessageVerifyFinal(h: CK_SESSION_HANDLE);
}

/// `C_GetFunctionStatus`: a legacy function; always `CKR_FUNCTION_NOT_PARALLEL`.
#[no_mangle]
pub extern "C" fn C_GetFunctionStatus(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| {
        engine()?.session_info(hSession).map_err(CK_RV::from)?;
        Err(CKR_FUNCTION_NOT_PARALLEL)
    })
}

/// `C_CancelFunction`: a legacy function; always `CKR_FUNCTION_NOT_PARALLEL`.
#[no_mangle]
pub extern "C" fn C_CancelFunction(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| {
        engine()?.session_info(hSession).map_err(CK_RV::from)?;
        Err(CKR_FUNCTION_NOT_PARALLEL)
    })
}

/// `C_WaitForSlotEvent`: tokens are never inserted or removed, so there is no event to wait
/// for.
#[no_mangle]
pub extern "C" fn C_WaitForSlotEvent(
    flags: CK_FLAGS,
    pSlot: *mut CK_SLOT_ID,
    pReserved: *mut c_void,
) -> CK_RV {
    guard(|| {
        engine()?;
        if pSlot.is_null() || !pReserved.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        if flags & CKF_DONT_BLOCK != 0 {
            return Ok(CKR_NO_EVENT);
        }
        Err(CKR_FUNCTION_NOT_SUPPORTED)
    })
}
