//! Sessions and login.

use std::ffi::c_void;

use cryptoki_sys::*;

use super::args;
use super::engine;
use super::guard::{eng, guard};
use super::out::put;

#[no_mangle]
pub extern "C" fn C_OpenSession(
    slotID: CK_SLOT_ID,
    flags: CK_FLAGS,
    _pApplication: *mut c_void,
    _Notify: CK_NOTIFY,
    phSession: *mut CK_SESSION_HANDLE,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        if phSession.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let h = eng(e.open_session(slotID, flags))?;
        put(phSession, h as CK_SESSION_HANDLE)?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_CloseSession(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| {
        eng(engine()?.close_session(hSession))?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_CloseAllSessions(slotID: CK_SLOT_ID) -> CK_RV {
    guard(|| {
        eng(engine()?.close_all_sessions(slotID))?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_GetSessionInfo(
    hSession: CK_SESSION_HANDLE,
    pInfo: *mut CK_SESSION_INFO,
) -> CK_RV {
    guard(|| {
        let i = eng(engine()?.session_info(hSession))?;
        put(
            pInfo,
            CK_SESSION_INFO {
                slotID: i.slot as CK_SLOT_ID,
                state: i.state,
                flags: i.flags,
                ulDeviceError: 0,
            },
        )?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_Login(
    hSession: CK_SESSION_HANDLE,
    userType: CK_USER_TYPE,
    pPin: *mut u8,
    ulPinLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        let pin = args::pin(pPin, ulPinLen)?;
        eng(e.login(hSession, userType, pin))?;
        Ok(CKR_OK)
    })
}

/// `C_LoginUser` (3.0): Custos tokens have one user, so the user name is not used; it is
/// still a buffer the caller describes, and NULL with a length, or a length no buffer can
/// have, is refused with `CKR_ARGUMENTS_BAD` like any other.
#[no_mangle]
pub extern "C" fn C_LoginUser(
    hSession: CK_SESSION_HANDLE,
    userType: CK_USER_TYPE,
    pPin: *mut u8,
    ulPinLen: CK_ULONG,
    pUsername: *mut u8,
    ulUsernameLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        engine()?;
        args::bytes(pUsername, ulUsernameLen)?;
        Ok(C_Login(hSession, userType, pPin, ulPinLen))
    })
}

#[no_mangle]
pub extern "C" fn C_Logout(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| {
        eng(engine()?.logout(hSession))?;
        Ok(CKR_OK)
    })
}

/// `C_SessionCancel` (3.0): ends the operations named by `flags`.
#[no_mangle]
pub extern "C" fn C_SessionCancel(hSession: CK_SESSION_HANDLE, flags: CK_FLAGS) -> CK_RV {
    guard(|| {
        eng(engine()?.cancel(hSession, flags))?;
        Ok(CKR_OK)
    })
}
