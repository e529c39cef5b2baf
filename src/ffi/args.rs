//! Raw pointers in, typed values out. Nothing below this layer ever sees a pointer.

use std::slice;

use cryptoki_sys::*;

use crate::mechanism::{self, Mechanism, ParamShape, RawParam};
use crate::object::{kind_of, Attr, Kind, Value};

/// The largest buffer a caller may hand in (a guard against absurd lengths).
pub const MAX_INPUT: usize = 1 << 30;
/// The most attributes one template may hold.
pub const MAX_TEMPLATE: usize = 4096;

/// Reads `len` bytes at `ptr`. NULL is allowed only for an empty buffer.
pub fn bytes<'a>(ptr: *const u8, len: CK_ULONG) -> Result<&'a [u8], CK_RV> {
    let len = usize::try_from(len).map_err(|_| CKR_ARGUMENTS_BAD)?;
    if len > MAX_INPUT {
        return Err(CKR_ARGUMENTS_BAD);
    }
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: the caller promises `ptr` points to `len` readable bytes for the duration of the
    // call (PKCS#11 buffer convention); NULL and zero length were handled above.
    Ok(unsafe { slice::from_raw_parts(ptr, len) })
}

/// Reads an array of `len` values of type `T` at `ptr`.
pub fn array<'a, T>(ptr: *const T, len: CK_ULONG, max: usize) -> Result<&'a [T], CK_RV> {
    let len = usize::try_from(len).map_err(|_| CKR_ARGUMENTS_BAD)?;
    if len > max {
        return Err(CKR_ARGUMENTS_BAD);
    }
    if len == 0 {
        return Ok(&[]);
    }
    if ptr.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: the caller promises `ptr` points to `len` initialised values of `T`.
    Ok(unsafe { slice::from_raw_parts(ptr, len) })
}

/// Reads a fixed-size structure, checking the length the caller declared.
pub fn param<T: Copy>(ptr: *const std::ffi::c_void, len: CK_ULONG) -> Result<T, CK_RV> {
    if ptr.is_null() || usize::try_from(len).ok() != Some(std::mem::size_of::<T>()) {
        return Err(CKR_MECHANISM_PARAM_INVALID);
    }
    // SAFETY: non-NULL and the caller declared exactly size_of::<T>() bytes; read_unaligned
    // tolerates any alignment.
    Ok(unsafe { std::ptr::read_unaligned(ptr.cast::<T>()) })
}

/// A PIN; NULL with length 0 is an empty PIN.
pub fn pin<'a>(ptr: *const u8, len: CK_ULONG) -> Result<&'a [u8], CK_RV> {
    bytes(ptr, len)
}

fn native_ulong(b: &[u8]) -> Option<u64> {
    let a: [u8; std::mem::size_of::<CK_ULONG>()] = b.try_into().ok()?;
    Some(CK_ULONG::from_ne_bytes(a))
}

/// Converts one `CK_ATTRIBUTE` with a value into a typed attribute.
fn attr_of(a: &CK_ATTRIBUTE) -> Result<Attr, CK_RV> {
    let raw = bytes(a.pValue as *const u8, a.ulValueLen)?;
    let value = match kind_of(a.type_) {
        Kind::Bool => match raw {
            [0] => Value::Bool(false),
            [_] => Value::Bool(true),
            _ => return Err(CKR_ATTRIBUTE_VALUE_INVALID),
        },
        Kind::Ulong => Value::Ulong(native_ulong(raw).ok_or(CKR_ATTRIBUTE_VALUE_INVALID)?),
        Kind::Bytes => Value::Bytes(raw.to_vec()),
        Kind::MechanismList => {
            let w = std::mem::size_of::<CK_ULONG>();
            if raw.len() % w != 0 {
                return Err(CKR_ATTRIBUTE_VALUE_INVALID);
            }
            Value::Mechanisms(raw.chunks_exact(w).filter_map(native_ulong).collect())
        }
    };
    Ok(Attr { ty: a.type_, value })
}

/// Reads a template with values (`C_CreateObject`, `C_FindObjectsInit`, ...).
pub fn template(ptr: *const CK_ATTRIBUTE, count: CK_ULONG) -> Result<Vec<Attr>, CK_RV> {
    array(ptr, count, MAX_TEMPLATE)?
        .iter()
        .map(attr_of)
        .collect()
}

/// Reads a `CK_MECHANISM` into the typed mechanism.
pub fn mechanism(ptr: *const CK_MECHANISM) -> Result<Mechanism, CK_RV> {
    if ptr.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL pointer to a caller-owned CK_MECHANISM, read without alignment needs.
    let m: CK_MECHANISM = unsafe { std::ptr::read_unaligned(ptr) };
    let shape = mechanism::info(m.mechanism)
        .map(|i| i.param)
        .ok_or(CKR_MECHANISM_INVALID)?;
    let given = !m.pParameter.is_null() || m.ulParameterLen != 0;
    let raw = match shape {
        ParamShape::None if given => return Err(CKR_MECHANISM_PARAM_INVALID),
        ParamShape::None => RawParam::None,
        ParamShape::Iv16 => RawParam::Bytes(
            bytes(m.pParameter as *const u8, m.ulParameterLen)
                .map_err(|_| CKR_MECHANISM_PARAM_INVALID)?
                .to_vec(),
        ),
        ParamShape::Gcm => {
            let p: CK_GCM_PARAMS = param(m.pParameter, m.ulParameterLen)?;
            let iv =
                bytes(p.pIv as *const u8, p.ulIvLen).map_err(|_| CKR_MECHANISM_PARAM_INVALID)?;
            let aad =
                bytes(p.pAAD as *const u8, p.ulAADLen).map_err(|_| CKR_MECHANISM_PARAM_INVALID)?;
            RawParam::Gcm {
                iv: iv.to_vec(),
                iv_bits: p.ulIvBits as u64,
                aad: aad.to_vec(),
                tag_bits: p.ulTagBits as u64,
            }
        }
        ParamShape::Pss => {
            let p: CK_RSA_PKCS_PSS_PARAMS = param(m.pParameter, m.ulParameterLen)?;
            RawParam::Pss {
                hash: p.hashAlg as u64,
                mgf: p.mgf as u64,
                salt_len: p.sLen as u64,
            }
        }
    };
    mechanism::parse(m.mechanism, raw).map_err(CK_RV::from)
}

/// Fixed-width, blank-padded text for `CK_*_INFO` fields.
pub fn padded<const N: usize>(s: &str) -> [u8; N] {
    let mut out = [b' '; N];
    let b = s.as_bytes();
    let n = b.len().min(N);
    out[..n].copy_from_slice(&b[..n]);
    out
}
