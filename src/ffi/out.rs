//! Typed values out to caller memory, and the output-buffer protocol in one place:
//! NULL buffer → length and `CKR_OK`; too small → length and `CKR_BUFFER_TOO_SMALL` with the
//! operation kept; otherwise the data and its length.

use cryptoki_sys::*;

use crate::engine::{Out, Produced};

/// Writes one value through a caller's out-pointer.
pub fn put<T>(ptr: *mut T, v: T) -> Result<(), CK_RV> {
    if ptr.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    // SAFETY: non-NULL out-pointer the caller provided for exactly this type.
    unsafe { std::ptr::write_unaligned(ptr, v) };
    Ok(())
}

/// Reads the capacity a caller declares for an output buffer.
pub fn capacity(buf: *mut u8, len_ptr: *mut CK_ULONG) -> Result<Out, CK_RV> {
    if len_ptr.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    if buf.is_null() {
        return Ok(Out::Query);
    }
    // SAFETY: non-NULL pointer to the caller's length.
    let cap = unsafe { std::ptr::read_unaligned(len_ptr) };
    Ok(Out::Capacity(usize::try_from(cap).unwrap_or(usize::MAX)))
}

/// Finishes a call that produced output.
pub fn produced(
    p: Produced,
    out: Out,
    buf: *mut u8,
    len_ptr: *mut CK_ULONG,
) -> Result<CK_RV, CK_RV> {
    match p {
        Produced::Needed(n) => {
            put(len_ptr, n as CK_ULONG)?;
            Ok(if out == Out::Query {
                CKR_OK
            } else {
                CKR_BUFFER_TOO_SMALL
            })
        }
        Produced::Data(v) => {
            // The engine checks the capacity against its bound before producing; this is the
            // last line of defence so that a wrong bound can never write past the buffer.
            if let Out::Capacity(c) = out {
                if v.len() > c {
                    put(len_ptr, v.len() as CK_ULONG)?;
                    return Err(CKR_BUFFER_TOO_SMALL);
                }
            }
            if !v.is_empty() {
                // SAFETY: Produced::Data is only returned when the caller's capacity (checked
                // by the engine against the needed length) covers v.len() bytes at `buf`.
                unsafe { std::ptr::copy_nonoverlapping(v.as_ptr(), buf, v.len()) };
            }
            put(len_ptr, v.len() as CK_ULONG)?;
            Ok(CKR_OK)
        }
    }
}

/// Writes a list (`C_GetSlotList`, `C_GetMechanismList`, `C_FindObjects`-style) with the
/// size-query protocol.
pub fn list<T: Copy>(items: &[T], ptr: *mut T, count_ptr: *mut CK_ULONG) -> Result<CK_RV, CK_RV> {
    if count_ptr.is_null() {
        return Err(CKR_ARGUMENTS_BAD);
    }
    if ptr.is_null() {
        put(count_ptr, items.len() as CK_ULONG)?;
        return Ok(CKR_OK);
    }
    // SAFETY: non-NULL pointer to the caller's count.
    let cap = unsafe { std::ptr::read_unaligned(count_ptr) } as usize;
    put(count_ptr, items.len() as CK_ULONG)?;
    if cap < items.len() {
        return Ok(CKR_BUFFER_TOO_SMALL);
    }
    // SAFETY: the caller declared room for `cap` >= items.len() elements at `ptr`.
    unsafe { std::ptr::copy_nonoverlapping(items.as_ptr(), ptr, items.len()) };
    Ok(CKR_OK)
}
