//! Slots, tokens, mechanisms and PINs.

use cryptoki_sys::*;

use super::args::{self, padded};
use super::guard::{eng, guard};
use super::out::{list, put};
use super::{engine, library_version};

#[no_mangle]
pub extern "C" fn C_GetSlotList(
    tokenPresent: CK_BBOOL,
    pSlotList: *mut CK_SLOT_ID,
    pulCount: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        let slots: Vec<CK_SLOT_ID> = eng(e.slot_list(tokenPresent != 0))?
            .into_iter()
            .map(|s| s as CK_SLOT_ID)
            .collect();
        list(&slots, pSlotList, pulCount)
    })
}

#[no_mangle]
pub extern "C" fn C_GetSlotInfo(slotID: CK_SLOT_ID, pInfo: *mut CK_SLOT_INFO) -> CK_RV {
    guard(|| {
        let e = engine()?;
        let i = eng(e.slot_info(slotID))?;
        let flags = if i.token_present {
            CKF_TOKEN_PRESENT
        } else {
            0
        };
        put(
            pInfo,
            CK_SLOT_INFO {
                slotDescription: padded(&i.description),
                manufacturerID: padded("Custos"),
                flags,
                hardwareVersion: library_version(),
                firmwareVersion: library_version(),
            },
        )?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_GetTokenInfo(slotID: CK_SLOT_ID, pInfo: *mut CK_TOKEN_INFO) -> CK_RV {
    guard(|| {
        let e = engine()?;
        let t = eng(e.token_info(slotID))?;
        put(
            pInfo,
            CK_TOKEN_INFO {
                label: t.label,
                manufacturerID: padded("Custos"),
                model: padded("Custos"),
                serialNumber: padded(&t.serial),
                flags: t.flags as CK_FLAGS,
                ulMaxSessionCount: CK_EFFECTIVELY_INFINITE,
                ulSessionCount: t.session_count as CK_ULONG,
                ulMaxRwSessionCount: CK_EFFECTIVELY_INFINITE,
                ulRwSessionCount: t.rw_session_count as CK_ULONG,
                ulMaxPinLen: crate::engine::MAX_PIN_LEN as CK_ULONG,
                ulMinPinLen: crate::engine::MIN_PIN_LEN as CK_ULONG,
                ulTotalPublicMemory: CK_UNAVAILABLE_INFORMATION,
                ulFreePublicMemory: CK_UNAVAILABLE_INFORMATION,
                ulTotalPrivateMemory: CK_UNAVAILABLE_INFORMATION,
                ulFreePrivateMemory: CK_UNAVAILABLE_INFORMATION,
                hardwareVersion: library_version(),
                firmwareVersion: library_version(),
                utcTime: [b' '; 16],
            },
        )?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_GetMechanismList(
    slotID: CK_SLOT_ID,
    pMechanismList: *mut CK_MECHANISM_TYPE,
    pulCount: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        let m: Vec<CK_MECHANISM_TYPE> = eng(e.mechanism_list(slotID))?
            .into_iter()
            .map(|x| x as CK_MECHANISM_TYPE)
            .collect();
        list(&m, pMechanismList, pulCount)
    })
}

#[no_mangle]
pub extern "C" fn C_GetMechanismInfo(
    slotID: CK_SLOT_ID,
    type_: CK_MECHANISM_TYPE,
    pInfo: *mut CK_MECHANISM_INFO,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        let i = eng(e.mechanism_info(slotID, type_))?;
        put(
            pInfo,
            CK_MECHANISM_INFO {
                ulMinKeySize: i.min_key as CK_ULONG,
                ulMaxKeySize: i.max_key as CK_ULONG,
                flags: i.flags,
            },
        )?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_InitToken(
    slotID: CK_SLOT_ID,
    pPin: *mut u8,
    ulPinLen: CK_ULONG,
    pLabel: *mut u8,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        let pin = args::pin(pPin, ulPinLen)?;
        if pLabel.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let label: [u8; 32] = args::bytes(pLabel, 32)?
            .try_into()
            .map_err(|_| CKR_ARGUMENTS_BAD)?;
        eng(e.init_token(slotID, pin, label))?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_InitPIN(
    hSession: CK_SESSION_HANDLE,
    pPin: *mut u8,
    ulPinLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        let pin = args::pin(pPin, ulPinLen)?;
        eng(e.init_pin(hSession, pin))?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_SetPIN(
    hSession: CK_SESSION_HANDLE,
    pOldPin: *mut u8,
    ulOldLen: CK_ULONG,
    pNewPin: *mut u8,
    ulNewLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        let old = args::pin(pOldPin, ulOldLen)?;
        let new = args::pin(pNewPin, ulNewLen)?;
        eng(e.set_pin(hSession, old, new))?;
        Ok(CKR_OK)
    })
}
