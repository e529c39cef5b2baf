//! Small owning wrappers and helpers around `aws-lc-sys` objects shared by
//! the RSA and EC code.

use std::ptr::NonNull;

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::CryptoError;

/// Discards any errors AWS-LC queued on this thread, so a failed call does not
/// leave stale entries behind for unrelated later calls.
pub(crate) fn clear_errors() {
    // SAFETY: ERR_clear_error only touches AWS-LC's thread-local error queue.
    unsafe { sys::ERR_clear_error() };
}

/// Clears the AWS-LC error queue and returns `err`.
pub(crate) fn fail<T>(err: CryptoError) -> Result<T, CryptoError> {
    clear_errors();
    Err(err)
}

/// An owned AWS-LC `BIGNUM`, freed (and wiped, AWS-LC's free cleanses) on drop.
pub(crate) struct Bn(NonNull<sys::BIGNUM>);

impl Bn {
    /// Parses a big-endian unsigned integer. Leading zero bytes are allowed;
    /// an empty slice is zero.
    pub(crate) fn from_be(bytes: &[u8]) -> Result<Self, CryptoError> {
        // SAFETY: `bytes` is valid for reads of `bytes.len()` bytes (AWS-LC reads
        // nothing when the length is zero); a null `ret` asks for a new BIGNUM.
        let p = unsafe { sys::BN_bin2bn(bytes.as_ptr(), bytes.len(), std::ptr::null_mut()) };
        match NonNull::new(p) {
            Some(p) => Ok(Bn(p)),
            None => fail(CryptoError::General("BIGNUM allocation failed")),
        }
    }

    /// Creates a BIGNUM holding a small value.
    pub(crate) fn from_u64(value: u64) -> Result<Self, CryptoError> {
        let bn = Bn::from_be(&[])?;
        // SAFETY: `bn` owns a valid BIGNUM.
        if unsafe { sys::BN_set_u64(bn.0.as_ptr(), value) } != 1 {
            return fail(CryptoError::General("BIGNUM assignment failed"));
        }
        Ok(bn)
    }

    pub(crate) fn as_ptr(&self) -> *const sys::BIGNUM {
        self.0.as_ptr()
    }

    /// Number of significant bits.
    pub(crate) fn num_bits(&self) -> usize {
        // SAFETY: `self` owns a valid BIGNUM.
        unsafe { sys::BN_num_bits(self.0.as_ptr()) as usize }
    }

    /// Gives up ownership; the caller must hand the pointer to AWS-LC, which
    /// then frees it.
    pub(crate) fn into_raw(self) -> *mut sys::BIGNUM {
        let p = self.0.as_ptr();
        std::mem::forget(self);
        p
    }
}

impl Drop for Bn {
    fn drop(&mut self) {
        // SAFETY: we own the BIGNUM and free it exactly once.
        unsafe { sys::BN_free(self.0.as_ptr()) };
    }
}

/// Minimal big-endian encoding (no leading zeros; zero encodes as empty).
///
/// # Safety
/// `bn` must point to a valid BIGNUM that stays alive for the call.
pub(crate) unsafe fn bn_to_be(bn: *const sys::BIGNUM) -> Zeroizing<Vec<u8>> {
    // SAFETY: guaranteed by the caller.
    let len = unsafe { sys::BN_num_bytes(bn) } as usize;
    let mut out = Zeroizing::new(vec![0u8; len]);
    // SAFETY: `out` has exactly BN_num_bytes(bn) bytes, which BN_bn2bin writes.
    let written = unsafe { sys::BN_bn2bin(bn, out.as_mut_ptr()) };
    debug_assert_eq!(written, len);
    out
}

/// Big-endian encoding left-padded with zeros to exactly `len` bytes, or
/// `None` if the value does not fit.
///
/// # Safety
/// `bn` must point to a valid BIGNUM that stays alive for the call.
pub(crate) unsafe fn bn_to_be_padded(
    bn: *const sys::BIGNUM,
    len: usize,
) -> Option<Zeroizing<Vec<u8>>> {
    let mut out = Zeroizing::new(vec![0u8; len]);
    // SAFETY: `out` is valid for `len` bytes of writes; `bn` is valid per the
    // caller's guarantee.
    let ok = unsafe { sys::BN_bn2bin_padded(out.as_mut_ptr(), len, bn) };
    if ok == 1 {
        Some(out)
    } else {
        clear_errors();
        None
    }
}

/// Strips leading zero bytes from a big-endian integer.
pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bignum_round_trip() {
        let bn = Bn::from_be(&[0, 0, 1, 2, 3]).unwrap();
        assert_eq!(bn.num_bits(), 17);
        // SAFETY: `bn` is alive for the call.
        let min = unsafe { bn_to_be(bn.as_ptr()) };
        assert_eq!(&min[..], &[1, 2, 3]);
        // SAFETY: as above.
        let padded = unsafe { bn_to_be_padded(bn.as_ptr(), 5) }.unwrap();
        assert_eq!(&padded[..], &[0, 0, 1, 2, 3]);
        // SAFETY: as above.
        assert!(unsafe { bn_to_be_padded(bn.as_ptr(), 2) }.is_none());
        let zero = Bn::from_be(&[]).unwrap();
        assert_eq!(zero.num_bits(), 0);
        let small = Bn::from_u64(65537).unwrap();
        // SAFETY: `small` is alive for the call.
        assert_eq!(&unsafe { bn_to_be(small.as_ptr()) }[..], &[1, 0, 1]);
    }

    #[test]
    fn strips_zeros() {
        assert_eq!(strip_leading_zeros(&[0, 0, 5, 0]), &[5, 0]);
        assert_eq!(strip_leading_zeros(&[0, 0]), &[] as &[u8]);
        assert_eq!(strip_leading_zeros(&[]), &[] as &[u8]);
    }
}
