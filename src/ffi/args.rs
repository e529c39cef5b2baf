//! Raw pointers in, typed values out. Nothing below this layer ever sees a pointer.

use std::slice;

use cryptoki_sys::*;

use crate::mechanism::{self, Mechanism, ParamShape, RawParam, RawPrfData};
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

/// Converts one `CK_ATTRIBUTE` with a value into a typed attribute; attribute arrays are read
/// one level deep.
fn attr_of(a: &CK_ATTRIBUTE, nested_ok: bool) -> Result<Attr, CK_RV> {
    if kind_of(a.type_) == Kind::AttributeArray {
        if !nested_ok {
            return Err(CKR_ATTRIBUTE_VALUE_INVALID);
        }
        let w = std::mem::size_of::<CK_ATTRIBUTE>() as CK_ULONG;
        if a.ulValueLen % w != 0 {
            return Err(CKR_ATTRIBUTE_VALUE_INVALID);
        }
        let inner = array(
            a.pValue as *const CK_ATTRIBUTE,
            a.ulValueLen / w,
            MAX_TEMPLATE,
        )?;
        let t = inner
            .iter()
            .map(|x| attr_of(x, false))
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(Attr {
            ty: a.type_,
            value: Value::Template(t),
        });
    }
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
        Kind::AttributeArray => return Err(CKR_ATTRIBUTE_VALUE_INVALID),
    };
    Ok(Attr { ty: a.type_, value })
}

/// Reads a template with values (`C_CreateObject`, `C_FindObjectsInit`, ...).
pub fn template(ptr: *const CK_ATTRIBUTE, count: CK_ULONG) -> Result<Vec<Attr>, CK_RV> {
    array(ptr, count, MAX_TEMPLATE)?
        .iter()
        .map(|a| attr_of(a, true))
        .collect()
}

/// `CK_GCM_PARAMS` as PKCS#11 v2.30 defined it, before `ulIvBits` was added.
#[repr(C)]
#[derive(Clone, Copy)]
struct GcmParamsV230 {
    pIv: *mut CK_BYTE,
    ulIvLen: CK_ULONG,
    pAAD: *mut CK_BYTE,
    ulAADLen: CK_ULONG,
    ulTagBits: CK_ULONG,
}

fn pbytes(ptr: *const u8, len: CK_ULONG) -> Result<Vec<u8>, CK_RV> {
    bytes(ptr, len)
        .map(<[u8]>::to_vec)
        .map_err(|_| CKR_MECHANISM_PARAM_INVALID)
}

fn oaep_param(p: &CK_RSA_PKCS_OAEP_PARAMS) -> Result<RawParam, CK_RV> {
    Ok(RawParam::Oaep {
        hash: p.hashAlg,
        mgf: p.mgf,
        source: p.source,
        label: pbytes(p.pSourceData as *const u8, p.ulSourceDataLen)?,
    })
}

fn prf_data(d: &CK_PRF_DATA_PARAM) -> Result<RawPrfData, CK_RV> {
    let bad = CKR_MECHANISM_PARAM_INVALID;
    Ok(match d.type_ {
        CK_SP800_108_ITERATION_VARIABLE | CK_SP800_108_COUNTER => {
            let fmt = if d.pValue.is_null() && d.ulValueLen == 0 {
                None
            } else {
                let f: CK_SP800_108_COUNTER_FORMAT = param(d.pValue, d.ulValueLen)?;
                Some((f.bLittleEndian != 0, f.ulWidthInBits))
            };
            if d.type_ == CK_SP800_108_COUNTER {
                let (le, bits) = fmt.ok_or(bad)?;
                RawPrfData::Counter(le, bits)
            } else {
                RawPrfData::Iteration(fmt)
            }
        }
        CK_SP800_108_DKM_LENGTH => {
            let f: CK_SP800_108_DKM_LENGTH_FORMAT = param(d.pValue, d.ulValueLen)?;
            RawPrfData::DkmLength(f.dkmLengthMethod, f.bLittleEndian != 0, f.ulWidthInBits)
        }
        CK_SP800_108_BYTE_ARRAY => RawPrfData::Bytes(pbytes(d.pValue as *const u8, d.ulValueLen)?),
        _ => return Err(bad),
    })
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
    let (pp, pl) = (m.pParameter, m.ulParameterLen);
    let raw = match shape {
        ParamShape::None if given => return Err(CKR_MECHANISM_PARAM_INVALID),
        ParamShape::None => RawParam::None,
        // The key wrap mechanisms accept only their default IV.
        ParamShape::OptionalIv if given => return Err(CKR_MECHANISM_PARAM_INVALID),
        ParamShape::OptionalIv => RawParam::None,
        ParamShape::Iv16 => RawParam::Bytes(pbytes(pp as *const u8, pl)?),
        ParamShape::Gcm if pl as usize == std::mem::size_of::<GcmParamsV230>() => {
            // The layout without ulIvBits that some applications (Java 17 first) still send.
            let p: GcmParamsV230 = param(pp, pl)?;
            RawParam::Gcm {
                iv: pbytes(p.pIv as *const u8, p.ulIvLen)?,
                iv_bits: 0,
                aad: pbytes(p.pAAD as *const u8, p.ulAADLen)?,
                tag_bits: p.ulTagBits,
            }
        }
        ParamShape::Gcm => {
            let p: CK_GCM_PARAMS = param(pp, pl)?;
            RawParam::Gcm {
                iv: pbytes(p.pIv as *const u8, p.ulIvLen)?,
                iv_bits: p.ulIvBits,
                aad: pbytes(p.pAAD as *const u8, p.ulAADLen)?,
                tag_bits: p.ulTagBits,
            }
        }
        ParamShape::Ccm => {
            let p: CK_CCM_PARAMS = param(pp, pl)?;
            RawParam::Ccm {
                data_len: p.ulDataLen,
                nonce: pbytes(p.pNonce as *const u8, p.ulNonceLen)?,
                aad: pbytes(p.pAAD as *const u8, p.ulAADLen)?,
                mac_len: p.ulMACLen,
            }
        }
        ParamShape::Ctr => {
            let p: CK_AES_CTR_PARAMS = param(pp, pl)?;
            RawParam::Ctr {
                counter_bits: p.ulCounterBits,
                block: p.cb,
            }
        }
        ParamShape::Pss => {
            let p: CK_RSA_PKCS_PSS_PARAMS = param(pp, pl)?;
            RawParam::Pss {
                hash: p.hashAlg,
                mgf: p.mgf,
                salt_len: p.sLen,
            }
        }
        ParamShape::Oaep => oaep_param(&param::<CK_RSA_PKCS_OAEP_PARAMS>(pp, pl)?)?,
        ParamShape::Ecdh => {
            let p: CK_ECDH1_DERIVE_PARAMS = param(pp, pl)?;
            RawParam::Ecdh {
                kdf: p.kdf,
                shared_data: pbytes(p.pSharedData as *const u8, p.ulSharedDataLen)?,
                public: pbytes(p.pPublicData as *const u8, p.ulPublicDataLen)?,
            }
        }
        ParamShape::Eddsa if !given => RawParam::None,
        ParamShape::Eddsa => {
            let p: CK_EDDSA_PARAMS = param(pp, pl)?;
            RawParam::Eddsa {
                prehash: p.phFlag != 0,
                // No context is NULL with length 0; NULL with a length is malformed.
                context: if p.pContextData.is_null() && p.ulContextDataLen == 0 {
                    None
                } else {
                    Some(pbytes(p.pContextData as *const u8, p.ulContextDataLen)?)
                },
            }
        }
        ParamShape::MacLen | ParamShape::Extract | ParamShape::KeyHandle => {
            RawParam::Ulong(param::<CK_ULONG>(pp, pl)?)
        }
        ParamShape::StringData => {
            let p: CK_KEY_DERIVATION_STRING_DATA = param(pp, pl)?;
            RawParam::Bytes(pbytes(p.pData as *const u8, p.ulLen)?)
        }
        ParamShape::CbcEncryptData => {
            let p: CK_AES_CBC_ENCRYPT_DATA_PARAMS = param(pp, pl)?;
            RawParam::CbcEncryptData {
                iv: p.iv,
                data: pbytes(p.pData as *const u8, p.length)?,
            }
        }
        ParamShape::Hkdf => {
            let p: CK_HKDF_PARAMS = param(pp, pl)?;
            RawParam::Hkdf {
                extract: p.bExtract != 0,
                expand: p.bExpand != 0,
                hash: p.prfHashMechanism,
                salt_type: p.ulSaltType,
                salt: pbytes(p.pSalt as *const u8, p.ulSaltLen)?,
                salt_key: p.hSaltKey,
                info: pbytes(p.pInfo as *const u8, p.ulInfoLen)?,
            }
        }
        ParamShape::Sp800 => {
            let p: CK_SP800_108_KDF_PARAMS = param(pp, pl)?;
            let data = array(
                p.pDataParams as *const CK_PRF_DATA_PARAM,
                p.ulNumberOfDataParams,
                64,
            )
            .map_err(|_| CKR_MECHANISM_PARAM_INVALID)?
            .iter()
            .map(prf_data)
            .collect::<Result<Vec<_>, _>>()?;
            RawParam::Sp800 {
                prf: p.prfType,
                data,
                additional_keys: p.ulAdditionalDerivedKeys,
            }
        }
        ParamShape::Pbkdf2 => {
            let p: CK_PKCS5_PBKD2_PARAMS2 = param(pp, pl)?;
            RawParam::Pbkdf2 {
                salt_source: p.saltSource,
                salt: pbytes(p.pSaltSourceData as *const u8, p.ulSaltSourceDataLen)?,
                iterations: p.iterations,
                prf: p.prf,
                prf_data_len: p.ulPrfDataLen,
                password: pbytes(p.pPassword as *const u8, p.ulPasswordLen)?,
            }
        }
        ParamShape::RsaAesWrap => {
            let p: CK_RSA_AES_KEY_WRAP_PARAMS = param(pp, pl)?;
            if p.pOAEPParams.is_null() {
                return Err(CKR_MECHANISM_PARAM_INVALID);
            }
            // SAFETY: non-NULL pointer to the caller's CK_RSA_PKCS_OAEP_PARAMS.
            let o: CK_RSA_PKCS_OAEP_PARAMS = unsafe { std::ptr::read_unaligned(p.pOAEPParams) };
            RawParam::RsaAesWrap {
                aes_bits: p.ulAESKeyBits,
                oaep: Box::new(oaep_param(&o)?),
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
