//! Objects: create, copy, destroy, attributes, search.

use cryptoki_sys::*;

use super::args::{self, MAX_TEMPLATE};
use super::engine;
use super::guard::{eng, guard};
use super::out::put;
use crate::engine::AttrRead;
use crate::object::Value;

fn encode(v: &Value) -> Vec<u8> {
    match v {
        Value::Template(_) => Vec::new(),
        Value::Bool(b) => vec![u8::from(*b)],
        Value::Ulong(u) => (*u as CK_ULONG).to_ne_bytes().to_vec(),
        Value::Bytes(b) => b.clone(),
        Value::Mechanisms(m) => m
            .iter()
            .flat_map(|x| (*x as CK_ULONG).to_ne_bytes())
            .collect(),
    }
}

/// Writes one attribute value under the size-query protocol: NULL `pValue` asks for the length;
/// a too-small buffer gets `CK_UNAVAILABLE_INFORMATION` and `CKR_BUFFER_TOO_SMALL`.
fn write_value(a: &mut CK_ATTRIBUTE, bytes: &[u8]) -> Result<(), CK_RV> {
    if a.pValue.is_null() {
        a.ulValueLen = bytes.len() as CK_ULONG;
        return Ok(());
    }
    if (a.ulValueLen as usize) < bytes.len() {
        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
        return Err(CKR_BUFFER_TOO_SMALL);
    }
    // SAFETY: the caller's buffer holds ulValueLen >= bytes.len() bytes.
    unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), a.pValue as *mut u8, bytes.len()) };
    a.ulValueLen = bytes.len() as CK_ULONG;
    Ok(())
}

#[no_mangle]
pub extern "C" fn C_CreateObject(
    hSession: CK_SESSION_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
    phObject: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        if phObject.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let t = args::template(pTemplate, ulCount)?;
        let h = eng(e.create_object(hSession, &t))?;
        put(phObject, h as CK_OBJECT_HANDLE)?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_CopyObject(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
    phNewObject: *mut CK_OBJECT_HANDLE,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        if phNewObject.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let t = args::template(pTemplate, ulCount)?;
        let h = eng(e.copy_object(hSession, hObject, &t))?;
        put(phNewObject, h as CK_OBJECT_HANDLE)?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_DestroyObject(hSession: CK_SESSION_HANDLE, hObject: CK_OBJECT_HANDLE) -> CK_RV {
    guard(|| {
        eng(engine()?.destroy_object(hSession, hObject))?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_GetObjectSize(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pulSize: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        if pulSize.is_null() {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let n = eng(e.object_size(hSession, hObject))?;
        put(pulSize, n as CK_ULONG)?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_GetAttributeValue(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        let n = args::array(pTemplate as *const CK_ATTRIBUTE, ulCount, MAX_TEMPLATE)?.len();
        let types: Vec<u64> = args::array(pTemplate as *const CK_ATTRIBUTE, ulCount, MAX_TEMPLATE)?
            .iter()
            .map(|a| a.type_)
            .collect();
        let reads = eng(e.get_attributes(hSession, hObject, &types))?;
        let mut rv = CKR_OK;
        for (i, r) in reads.into_iter().enumerate().take(n) {
            // SAFETY: i < n, the count of the caller's template array, which is writable
            // (C_GetAttributeValue fills in lengths and values in place).
            let a = unsafe { &mut *pTemplate.add(i) };
            match r {
                AttrRead::Invalid => {
                    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    rv = CKR_ATTRIBUTE_TYPE_INVALID;
                }
                AttrRead::Sensitive => {
                    a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                    rv = CKR_ATTRIBUTE_SENSITIVE;
                }
                AttrRead::Value(Value::Template(t)) => {
                    let w = std::mem::size_of::<CK_ATTRIBUTE>();
                    let need = t.len() * w;
                    if a.pValue.is_null() {
                        a.ulValueLen = need as CK_ULONG;
                    } else if (a.ulValueLen as usize) < need {
                        a.ulValueLen = CK_UNAVAILABLE_INFORMATION;
                        rv = CKR_BUFFER_TOO_SMALL;
                    } else {
                        let inner = a.pValue as *mut CK_ATTRIBUTE;
                        for (j, x) in t.iter().enumerate() {
                            // SAFETY: the caller's array holds ulValueLen >= t.len() entries.
                            let e = unsafe { &mut *inner.add(j) };
                            e.type_ = x.ty as CK_ATTRIBUTE_TYPE;
                            let bytes = zeroize::Zeroizing::new(encode(&x.value));
                            if let Err(e) = write_value(e, &bytes) {
                                rv = e;
                            }
                        }
                        a.ulValueLen = need as CK_ULONG;
                    }
                }
                AttrRead::Value(v) => {
                    let bytes = zeroize::Zeroizing::new(encode(&v));
                    if let Err(e) = write_value(a, &bytes) {
                        rv = e;
                    }
                }
            }
        }
        Ok(rv)
    })
}

#[no_mangle]
pub extern "C" fn C_SetAttributeValue(
    hSession: CK_SESSION_HANDLE,
    hObject: CK_OBJECT_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        let t = args::template(pTemplate, ulCount)?;
        eng(e.set_attributes(hSession, hObject, &t))?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_FindObjectsInit(
    hSession: CK_SESSION_HANDLE,
    pTemplate: *mut CK_ATTRIBUTE,
    ulCount: CK_ULONG,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        let t = args::template(pTemplate, ulCount)?;
        eng(e.find_init(hSession, &t))?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_FindObjects(
    hSession: CK_SESSION_HANDLE,
    phObject: *mut CK_OBJECT_HANDLE,
    ulMaxObjectCount: CK_ULONG,
    pulObjectCount: *mut CK_ULONG,
) -> CK_RV {
    guard(|| {
        let e = engine()?;
        if pulObjectCount.is_null() || (phObject.is_null() && ulMaxObjectCount > 0) {
            return Err(CKR_ARGUMENTS_BAD);
        }
        let found = eng(e.find(hSession, ulMaxObjectCount as usize))?;
        for (i, h) in found.iter().enumerate() {
            // SAFETY: found.len() <= ulMaxObjectCount, the room the caller declared.
            unsafe { std::ptr::write_unaligned(phObject.add(i), *h as CK_OBJECT_HANDLE) };
        }
        put(pulObjectCount, found.len() as CK_ULONG)?;
        Ok(CKR_OK)
    })
}

#[no_mangle]
pub extern "C" fn C_FindObjectsFinal(hSession: CK_SESSION_HANDLE) -> CK_RV {
    guard(|| {
        eng(engine()?.find_final(hSession))?;
        Ok(CKR_OK)
    })
}
