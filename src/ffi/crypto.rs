//! Digest, encrypt, decrypt, sign, verify, key generation and random numbers.

use cryptoki_sys::*;

use super::args::{self};
use super::engine;
use super::guard::{eng, guard};
use super::out::{capacity, produced, put};
use crate::served::Backend;

/// Refuses a call that continues an operation because of an argument this layer rejects.
///
/// PKCS#11 2.40 5.8ff: a single-part or final call "always terminates the active operation
/// unless it returns CKR_BUFFER_TOO_SMALL or is a successful call to determine the length",
/// and an update "which results in an error terminates the current operation". An argument
/// error is such an error, so the operation named by `op` (a `CKF_*` operation flag, as
/// `C_SessionCancel` takes) is ended before `rv` is returned. An invalid session handle has no
/// operation to end.
fn refuse(e: &Backend, hSession: CK_SESSION_HANDLE, op: CK_FLAGS, rv: CK_RV) -> CK_RV {
    let _ = e.cancel(hSession, op);
    rv
}

/// Defines an `*Init` entry point: parse the mechanism, call the engine.
macro_rules! init_fn {
    ($name:ident, $method:ident) => {
        #[no_mangle]
        pub extern "C" fn $name(
            hSession: CK_SESSION_HANDLE,
            pMechanism: *mut CK_MECHANISM,
            hKey: CK_OBJECT_HANDLE,
        ) -> CK_RV {
            guard(|| {
                let e = engine()?;
                // The engine checks the session first; only a mechanism the parser refuses
                // needs the session checked here, so that a bad session still answers first.
                let m = args::mechanism(pMechanism).map_err(|rv| {
                    e.session_info(hSession as u64)
                        .map_or_else(|err| CK_RV::from(err), |_| rv)
                })?;
                eng(e.$method(hSession as u64, &m, hKey as u64))?;
                Ok(CKR_OK)
            })
        }
    };
}

/// Defines a single-part or update entry point with input and output buffers; `$op` is the
/// operation an argument error ends.
macro_rules! inout_fn {
    ($name:ident, $method:ident, $op:expr) => {
        #[no_mangle]
        pub extern "C" fn $name(
            hSession: CK_SESSION_HANDLE,
            pIn: *mut u8,
            ulInLen: CK_ULONG,
            pOut: *mut u8,
            pulOutLen: *mut CK_ULONG,
        ) -> CK_RV {
            guard(|| {
                let e = engine()?;
                let parsed = args::bytes(pIn, ulInLen)
                    .and_then(|data| Ok((data, capacity(pOut, pulOutLen)?)));
                let (data, out) = parsed.map_err(|rv| refuse(&e, hSession, $op, rv))?;
                let p = eng(e.$method(hSession as u64, data, out))?;
                produced(p, out, pOut, pulOutLen)
            })
        }
    };
}

/// Defines a final entry point with an output buffer; `$op` is the operation an argument
/// error ends.
macro_rules! final_fn {
    ($name:ident, $method:ident, $op:expr) => {
        #[no_mangle]
        pub extern "C" fn $name(
            hSession: CK_SESSION_HANDLE,
            pOut: *mut u8,
            pulOutLen: *mut CK_ULONG,
        ) -> CK_RV {
            guard(|| {
                let e = engine()?;
                let out = capacity(pOut, pulOutLen).map_err(|rv| refuse(&e, hSession, $op, rv))?;
                let p = eng(e.$method(hSession as u64, out))?;
                produced(p, out, pOut, pulOutLen)
            })
        }
    };
}

/// Defines an update entry point with input only; `$op` is the operation an argument error
/// ends.
macro_rules! update_fn {
    ($name:ident, $method:ident, $op:expr) => {
        #[no_mangle]
        pub extern "C" fn $name(
            hSession: CK_SESSION_HANDLE,
            pPart: *mut u8,
            ulPartLen: CK_ULONG,
        ) -> CK_RV {
            guard(|| {
                let e = engine()?;
                let data =
                    args::bytes(pPart, ulPartLen).map_err(|rv| refuse(&e, hSession, $op, rv))?;
                eng(e.$method(hSession as u64, data))?;
                Ok(CKR_OK)
            })
        }
    };
}

init_fn!(C_EncryptInit, encrypt_init);
inout_fn!(C_Encrypt, encrypt, CKF_ENCRYPT);
inout_fn!(C_EncryptUpdate, encrypt_update, CKF_ENCRYPT);
final_fn!(C_EncryptFinal, encrypt_final, CKF_ENCRYPT);
init_fn!(C_DecryptInit, decrypt_init);
inout_fn!(C_Decrypt, decrypt, CKF_DECRYPT);
inout_fn!(C_DecryptUpdate, decrypt_update, CKF_DECRYPT);
final_fn!(C_DecryptFinal, decrypt_final, CKF_DECRYPT);
inout_fn!(C_Digest, digest, CKF_DIGEST);
update_fn!(C_DigestUpdate, digest_update, CKF_DIGEST);
final_fn!(C_DigestFinal, digest_final, CKF_DIGEST);
init_fn!(C_SignInit, sign_init);
inout_fn!(C_Sign, sign, CKF_SIGN);
update_fn!(C_SignUpdate, sign_update, CKF_SIGN);
final_fn!(C_SignFinal, sign_final, CKF_SIGN);
init_fn!(C_VerifyInit, verify_init);
update_fn!(C_VerifyUpdate, verify_update, CKF_VERIFY);

#[no_mangle]
pub extern "C" fn C_DigestInit(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        e.session_info(hSession).map_err(CK_RV::from)?;
        let m = args::mechanism(pMechanism)?;
        eng(e.digest_init(hSession, &m))?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_DigestKey(hSession: CK_SESSION_HANDLE, hKey: CK_OBJECT_HANDLE) -> CK_RV {
    guard(|| {
        eng(engine()?.digest_key(hSession, hKey))?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_Verify(
    hSession: CK_SESSION_HANDLE,
    pData: *mut u8,
    ulDataLen: CK_ULONG,
    pSignature: *mut u8,
    ulSignatureLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        let parsed = args::bytes(pData, ulDataLen)
            .and_then(|data| Ok((data, args::bytes(pSignature, ulSignatureLen)?)));
        let (data, sig) = parsed.map_err(|rv| refuse(&e, hSession, CKF_VERIFY, rv))?;
        eng(e.verify(hSession, data, sig))?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_VerifyFinal(
    hSession: CK_SESSION_HANDLE,
    pSignature: *mut u8,
    ulSignatureLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        let sig = args::bytes(pSignature, ulSignatureLen)
            .map_err(|rv| refuse(&e, hSession, CKF_VERIFY, rv))?;
        eng(e.verify_final(hSession, sig))?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_GenerateKey(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
    phKey: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        e.session_info(hSession).map_err(CK_RV::from)?;
        if phKey.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let m = args::mechanism(pMechanism)?;
        let t = args::template(pTemplate, ulCount)?;
        let h = eng(e.generate_key(hSession, &m, &t))?;
        put(phKey, h as CK_OBJECT_HANDLE)?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_GenerateKeyPair(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    pPublicKeyTemplate: *mut CK_ATTRIBUTE,
    ulPublicKeyAttributeCount: CK_ULONG,
    pPrivateKeyTemplate: *mut CK_ATTRIBUTE,
    ulPrivateKeyAttributeCount: CK_ULONG,
    phPublicKey: *mut CK_OBJECT_HANDLE,
    phPrivateKey: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        e.session_info(hSession).map_err(CK_RV::from)?;
        if phPublicKey.is_null() || phPrivateKey.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let m = args::mechanism(pMechanism)?;
        let pt = args::template(pPublicKeyTemplate, ulPublicKeyAttributeCount)?;
        let st = args::template(pPrivateKeyTemplate, ulPrivateKeyAttributeCount)?;
        let (p, s) = eng(e.generate_key_pair(hSession, &m, &pt, &st))?;
        put(phPublicKey, p as CK_OBJECT_HANDLE)?;
        put(phPrivateKey, s as CK_OBJECT_HANDLE)?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_SeedRandom(
    hSession: CK_SESSION_HANDLE,
    pSeed: *mut u8,
    ulSeedLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        e.session_info(hSession).map_err(CK_RV::from)?;
        args::bytes(pSeed, ulSeedLen)?;
        // The generator is the operating system's; callers cannot weaken it with a seed.
        Err(CKR_RANDOM_SEED_NOT_SUPPORTED)
    })
}

#[no_mangle]
pub extern "C" fn C_GenerateRandom(
    hSession: CK_SESSION_HANDLE,
    RandomData: *mut u8,
    ulRandomLen: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        let len = usize::try_from(ulRandomLen).map_err(|_| CKR_ARGUMENTS_BAD)?;
        if len > args::MAX_INPUT || (RandomData.is_null() && len > 0) {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let v = eng(e.generate_random(hSession, len))?;
        if len > 0 {
            // SAFETY: the caller's buffer holds ulRandomLen bytes.
            unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), RandomData, len) };
        }
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_WrapKey(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    hWrappingKey: CK_OBJECT_HANDLE,
    hKey: CK_OBJECT_HANDLE,
    pWrappedKey: *mut u8,
    pulWrappedKeyLen: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        e.session_info(hSession).map_err(CK_RV::from)?;
        let m = args::mechanism(pMechanism)?;
        let out = capacity(pWrappedKey, pulWrappedKeyLen)?;
        let p = eng(e.wrap_key(hSession, &m, hWrappingKey, hKey, out))?;
        produced(p, out, pWrappedKey, pulWrappedKeyLen)
    })
}

#[no_mangle]
pub extern "C" fn C_UnwrapKey(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    hUnwrappingKey: CK_OBJECT_HANDLE,
    pWrappedKey: *mut u8,
    ulWrappedKeyLen: CK_ULONG,
    pTemplate: *mut CK_ATTRIBUTE,
    ulAttributeCount: CK_ULONG,
    phKey: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        e.session_info(hSession).map_err(CK_RV::from)?;
        if phKey.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let m = args::mechanism(pMechanism)?;
        let wrapped = args::bytes(pWrappedKey, ulWrappedKeyLen)?;
        let t = args::template(pTemplate, ulAttributeCount)?;
        let k = eng(e.unwrap_key(hSession, &m, hUnwrappingKey, wrapped, &t))?;
        put(phKey, k as CK_OBJECT_HANDLE)?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_DeriveKey(
    hSession: CK_SESSION_HANDLE,
    pMechanism: *mut CK_MECHANISM,
    hBaseKey: CK_OBJECT_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulAttributeCount: CK_ULONG,
    phKey: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        e.session_info(hSession).map_err(CK_RV::from)?;
        if phKey.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let m = args::mechanism(pMechanism)?;
        let t = args::template(pTemplate, ulAttributeCount)?;
        let k = eng(e.derive_key(hSession, &m, hBaseKey, &t))?;
        put(phKey, k as CK_OBJECT_HANDLE)?;
        Ok(CKR_OK)
    })
}
