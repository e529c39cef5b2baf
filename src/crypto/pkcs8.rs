//! PKCS#8 `PrivateKeyInfo` (RFC 5208, and RFC 5958 `OneAsymmetricKey` on
//! input) encoding and decoding of private keys, for `C_WrapKey` and
//! `C_UnwrapKey`.
//!
//! Keys travel in and out as [`PrivateKeyParts`], the byte forms PKCS#11
//! keeps in attributes: minimal big-endian RSA components, a fixed-width EC
//! scalar with the curve's DER OID, and raw 32-byte Ed25519 seeds and X25519
//! private keys. The DER work is done by AWS-LC (`EVP_marshal_private_key`,
//! `EVP_parse_private_key`), which also checks that the key is consistent
//! (RSA key check, EC scalar range and public point, Ed25519/X25519 public
//! key when present).
//!
//! Encodings produced:
//! * RSA: `rsaEncryption` with NULL parameters, `RSAPrivateKey` (RFC 8017).
//! * EC: `id-ecPublicKey` with the named curve as parameters, RFC 5915
//!   `ECPrivateKey` with the scalar at full field width and the public key
//!   (the redundant inner curve parameters are omitted, as PKCS#11, OpenSSL
//!   and NSS do).
//! * Ed25519 / X25519: RFC 8410 version 1 (`v1`, integer 0) structure holding
//!   the 32-byte private key in an inner OCTET STRING.

use std::fmt;
use std::os::raw::c_int;
use std::ptr::{self, NonNull};

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::ec::{unwrap_octet_string, Curve};
use super::ffi::{bn_to_be, bn_to_be_padded, clear_errors, fail, strip_leading_zeros, Bn};
use super::CryptoError;

/// A private key as PKCS#11 attribute components. Secret fields are wiped on
/// drop; the `Debug` output names the key type only.
pub enum PrivateKeyParts {
    /// An RSA key. All components are big-endian; on decode they are minimal
    /// (no leading zero bytes). Encoding also accepts leading zeros.
    Rsa {
        /// Modulus n (`CKA_MODULUS`).
        n: Zeroizing<Vec<u8>>,
        /// Public exponent e (`CKA_PUBLIC_EXPONENT`).
        e: Zeroizing<Vec<u8>>,
        /// Private exponent d (`CKA_PRIVATE_EXPONENT`).
        d: Zeroizing<Vec<u8>>,
        /// First prime p (`CKA_PRIME_1`).
        p: Zeroizing<Vec<u8>>,
        /// Second prime q (`CKA_PRIME_2`).
        q: Zeroizing<Vec<u8>>,
        /// d mod (p-1) (`CKA_EXPONENT_1`).
        dp: Zeroizing<Vec<u8>>,
        /// d mod (q-1) (`CKA_EXPONENT_2`).
        dq: Zeroizing<Vec<u8>>,
        /// q^-1 mod p (`CKA_COEFFICIENT`).
        qinv: Zeroizing<Vec<u8>>,
    },
    /// An EC key on P-256, P-384, P-521 or secp256k1.
    Ec {
        /// The curve's DER OBJECT IDENTIFIER (`CKA_EC_PARAMS`): P-256
        /// `06 08 2A 86 48 CE 3D 03 01 07`, P-384 `06 05 2B 81 04 00 22`,
        /// P-521 `06 05 2B 81 04 00 23`, secp256k1 `06 05 2B 81 04 00 0A`.
        /// Decode always returns the OID; encode also accepts the DER
        /// PrintableString curve names [`Curve::from_oid_der`] knows.
        curve_oid_der: Vec<u8>,
        /// The private scalar, big-endian, left-padded to the field length
        /// (32, 48, 66 or 32 bytes) on decode. Encoding also accepts shorter
        /// values and extra leading zero bytes.
        d: Zeroizing<Vec<u8>>,
        /// The public point `04 || X || Y`. Always present on decode
        /// (computed from `d` when the encoding omits it). Optional on encode:
        /// when given it must match `d` (raw or wrapped in a DER OCTET STRING,
        /// as `CKA_EC_POINT` holds it); it is computed from `d` either way.
        public_point: Option<Vec<u8>>,
    },
    /// An Ed25519 key: the 32-byte RFC 8032 seed (`CKA_VALUE`).
    Ed25519 {
        /// The 32-byte seed.
        seed: Zeroizing<Vec<u8>>,
    },
    /// An X25519 key: the 32-byte RFC 7748 private key (`CKA_VALUE`).
    X25519 {
        /// The 32-byte private key.
        private: Zeroizing<Vec<u8>>,
    },
}

impl fmt::Debug for PrivateKeyParts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrivateKeyParts::Rsa { n, .. } => f
                .debug_struct("Rsa")
                .field("modulus_bytes", &n.len())
                .finish_non_exhaustive(),
            PrivateKeyParts::Ec { curve_oid_der, .. } => f
                .debug_struct("Ec")
                .field("curve_oid_der", curve_oid_der)
                .finish_non_exhaustive(),
            PrivateKeyParts::Ed25519 { .. } => f.write_str("Ed25519 { .. }"),
            PrivateKeyParts::X25519 { .. } => f.write_str("X25519 { .. }"),
        }
    }
}

/// The curves PKCS#8 EC keys may use.
const CURVES: [Curve; 4] = [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1];

/// AWS-LC's identifier for `curve`.
fn curve_nid(curve: Curve) -> c_int {
    match curve {
        Curve::P256 => sys::NID_X9_62_prime256v1,
        Curve::P384 => sys::NID_secp384r1,
        Curve::P521 => sys::NID_secp521r1,
        Curve::Secp256k1 => sys::NID_secp256k1,
    }
}

/// The supported curve with AWS-LC identifier `nid`.
fn curve_from_nid(nid: c_int) -> Option<Curve> {
    CURVES.into_iter().find(|&c| curve_nid(c) == nid)
}

/// An owned `EVP_PKEY`.
struct Pkey(NonNull<sys::EVP_PKEY>);

impl Pkey {
    fn from_raw(p: *mut sys::EVP_PKEY, err: CryptoError) -> Result<Self, CryptoError> {
        match NonNull::new(p) {
            Some(p) => Ok(Pkey(p)),
            None => fail(err),
        }
    }

    fn new() -> Result<Self, CryptoError> {
        // SAFETY: allocation with no preconditions; null is handled.
        Self::from_raw(
            unsafe { sys::EVP_PKEY_new() },
            CryptoError::General("EVP_PKEY allocation failed"),
        )
    }

    fn ptr(&self) -> *mut sys::EVP_PKEY {
        self.0.as_ptr()
    }
}

impl Drop for Pkey {
    fn drop(&mut self) {
        // SAFETY: we own the key and free it exactly once; AWS-LC wipes the
        // key material while freeing.
        unsafe { sys::EVP_PKEY_free(self.0.as_ptr()) };
    }
}

/// An owned `RSA` object (before it is handed to an `EVP_PKEY`).
struct Rsa(NonNull<sys::RSA>);

impl Drop for Rsa {
    fn drop(&mut self) {
        // SAFETY: we own the object and free it exactly once.
        unsafe { sys::RSA_free(self.0.as_ptr()) };
    }
}

/// An owned `EC_KEY` (before it is handed to an `EVP_PKEY`).
struct EcKey(NonNull<sys::EC_KEY>);

impl Drop for EcKey {
    fn drop(&mut self) {
        // SAFETY: we own the key and free it exactly once.
        unsafe { sys::EC_KEY_free(self.0.as_ptr()) };
    }
}

/// An owned `EC_POINT`.
struct EcPoint(NonNull<sys::EC_POINT>);

impl EcPoint {
    fn new(group: *const sys::EC_GROUP) -> Result<Self, CryptoError> {
        // SAFETY: `group` is a valid built-in group; null is handled.
        match NonNull::new(unsafe { sys::EC_POINT_new(group) }) {
            Some(p) => Ok(EcPoint(p)),
            None => fail(CryptoError::General("EC point allocation failed")),
        }
    }
}

impl Drop for EcPoint {
    fn drop(&mut self) {
        // SAFETY: we own the point and free it exactly once.
        unsafe { sys::EC_POINT_free(self.0.as_ptr()) };
    }
}

/// A growable AWS-LC `CBB`, cleaned up (buffer wiped and freed) on drop.
struct Cbb(sys::CBB);

impl Drop for Cbb {
    fn drop(&mut self) {
        // SAFETY: the CBB is either all-zero or initialised by CBB_init; both
        // are valid for CBB_cleanup, which frees (and AWS-LC's allocator
        // wipes) the buffer.
        unsafe { sys::CBB_cleanup(&mut self.0) };
    }
}

/// Serialises `pkey` as a PKCS#8 `PrivateKeyInfo`.
fn marshal(pkey: &Pkey) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    // SAFETY: CBB is a plain C struct for which all-zero is the state
    // CBB_zero produces, valid for CBB_init and CBB_cleanup.
    let mut cbb = Cbb(unsafe { std::mem::zeroed() });
    // SAFETY: `cbb.0` is zeroed and is not moved while in use below.
    if unsafe { sys::CBB_init(&mut cbb.0, 256) } != 1 {
        return fail(CryptoError::General("CBB allocation failed"));
    }
    // SAFETY: `cbb` is initialised; `pkey` owns a valid key. The call adds
    // and flushes its own child CBBs before returning.
    if unsafe { sys::EVP_marshal_private_key(&mut cbb.0, pkey.ptr()) } != 1 {
        return fail(CryptoError::General("PKCS#8 encoding failed"));
    }
    // SAFETY: the CBB is flushed (no pending children); CBB_data/CBB_len
    // describe its buffer, which stays alive until `cbb` drops.
    let out = unsafe {
        let data = sys::CBB_data(&cbb.0);
        let len = sys::CBB_len(&cbb.0);
        if data.is_null() {
            return fail(CryptoError::General("PKCS#8 encoding failed"));
        }
        Zeroizing::new(std::slice::from_raw_parts(data, len).to_vec())
    };
    Ok(out)
}

/// Encodes a private key as a DER PKCS#8 `PrivateKeyInfo` (version 0).
///
/// Errors: `KeyInvalid` when the parts do not form a valid key (a missing
/// RSA component, inconsistent RSA components, an unsupported curve OID, an
/// EC scalar outside `1..n-1`, a public point that does not match the scalar,
/// an Ed25519 seed or X25519 key that is not 32 bytes); `General` on AWS-LC
/// failures.
pub fn encode_pkcs8(parts: &PrivateKeyParts) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let pkey = match parts {
        PrivateKeyParts::Rsa {
            n,
            e,
            d,
            p,
            q,
            dp,
            dq,
            qinv,
        } => rsa_pkey(&[n, e, d, p, q, dp, dq, qinv])?,
        PrivateKeyParts::Ec {
            curve_oid_der,
            d,
            public_point,
        } => {
            let curve = Curve::from_oid_der(curve_oid_der).ok_or(CryptoError::KeyInvalid)?;
            ec_pkey(curve, d, public_point.as_deref())?
        }
        PrivateKeyParts::Ed25519 { seed } => raw_pkey(sys::EVP_PKEY_ED25519, seed)?,
        PrivateKeyParts::X25519 { private } => raw_pkey(sys::EVP_PKEY_X25519, private)?,
    };
    marshal(&pkey)
}

/// Builds an RSA `EVP_PKEY` from n, e, d, p, q, dp, dq, qinv.
fn rsa_pkey(c: &[&Zeroizing<Vec<u8>>; 8]) -> Result<Pkey, CryptoError> {
    if c.iter().any(|x| strip_leading_zeros(x).is_empty()) {
        return Err(CryptoError::KeyInvalid);
    }
    let bns = c
        .iter()
        .map(|x| Bn::from_be(strip_leading_zeros(x)))
        .collect::<Result<Vec<_>, _>>()?;
    let [n, e, d, p, q, dp, dq, qinv] = match bns.as_slice() {
        [a, b, c, d, e, f, g, h] => [a, b, c, d, e, f, g, h],
        _ => return Err(CryptoError::General("RSA component count")),
    };
    // SAFETY: all BIGNUMs are valid for the call; AWS-LC copies them and runs
    // its key check, returning null if the components are inconsistent.
    let raw = unsafe {
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
    let rsa = match NonNull::new(raw) {
        Some(r) => Rsa(r),
        None => return fail(CryptoError::KeyInvalid),
    };
    let pkey = Pkey::new()?;
    // SAFETY: both objects are valid; on success the EVP_PKEY takes
    // ownership of the RSA object, so our handle is forgotten.
    if unsafe { sys::EVP_PKEY_assign_RSA(pkey.ptr(), rsa.0.as_ptr()) } != 1 {
        return fail(CryptoError::General("EVP_PKEY RSA assignment failed"));
    }
    std::mem::forget(rsa);
    Ok(pkey)
}

/// Accepts an uncompressed point, raw or wrapped in a DER OCTET STRING.
fn raw_point(curve: Curve, point: &[u8]) -> Option<&[u8]> {
    let raw = unwrap_octet_string(point, curve.point_len())?;
    (raw.first() == Some(&0x04)).then_some(raw)
}

/// Builds an EC `EVP_PKEY` from a scalar, checking an optional public point.
fn ec_pkey(curve: Curve, d: &[u8], public: Option<&[u8]>) -> Result<Pkey, CryptoError> {
    let d = strip_leading_zeros(d);
    if d.is_empty() || d.len() > curve.field_len() {
        return Err(CryptoError::KeyInvalid);
    }
    let given = match public {
        Some(p) => Some(raw_point(curve, p).ok_or(CryptoError::KeyInvalid)?),
        None => None,
    };
    let scalar = Bn::from_be(d)?;
    // SAFETY: allocation with a valid built-in curve NID; null is handled.
    let key = match NonNull::new(unsafe { sys::EC_KEY_new_by_curve_name(curve_nid(curve)) }) {
        Some(k) => EcKey(k),
        None => return fail(CryptoError::General("EC key allocation failed")),
    };
    // SAFETY: the key was created for a curve, so it has a static group.
    let group = unsafe { sys::EC_KEY_get0_group(key.0.as_ptr()) };
    // SAFETY: key and scalar are valid; AWS-LC copies the scalar and rejects
    // zero and values not below the group order.
    if unsafe { sys::EC_KEY_set_private_key(key.0.as_ptr(), scalar.as_ptr()) } != 1 {
        return fail(CryptoError::KeyInvalid);
    }
    let computed = EcPoint::new(group)?;
    // SAFETY: `computed` belongs to `group`; d*G with null q/m and a null
    // BN_CTX is allowed.
    let ok = unsafe {
        sys::EC_POINT_mul(
            group,
            computed.0.as_ptr(),
            scalar.as_ptr(),
            ptr::null(),
            ptr::null(),
            ptr::null_mut(),
        )
    };
    if ok != 1 {
        return fail(CryptoError::General("EC public point computation failed"));
    }
    if let Some(raw) = given {
        let parsed = EcPoint::new(group)?;
        // SAFETY: `parsed` belongs to `group`; `raw` is valid for its length.
        // AWS-LC rejects points not on the curve.
        let ok = unsafe {
            sys::EC_POINT_oct2point(
                group,
                parsed.0.as_ptr(),
                raw.as_ptr(),
                raw.len(),
                ptr::null_mut(),
            )
        };
        if ok != 1 {
            return fail(CryptoError::KeyInvalid);
        }
        // SAFETY: both points belong to `group`; a null BN_CTX is allowed.
        let cmp = unsafe {
            sys::EC_POINT_cmp(
                group,
                parsed.0.as_ptr(),
                computed.0.as_ptr(),
                ptr::null_mut(),
            )
        };
        if cmp != 0 {
            return fail(CryptoError::KeyInvalid);
        }
    }
    // SAFETY: both objects are valid; AWS-LC copies the point.
    if unsafe { sys::EC_KEY_set_public_key(key.0.as_ptr(), computed.0.as_ptr()) } != 1 {
        return fail(CryptoError::General("EC public point setup failed"));
    }
    // SAFETY: the key is valid; the check confirms the point matches d.
    if unsafe { sys::EC_KEY_check_key(key.0.as_ptr()) } != 1 {
        return fail(CryptoError::KeyInvalid);
    }
    let pkey = Pkey::new()?;
    // SAFETY: both objects are valid; on success the EVP_PKEY takes
    // ownership of the EC_KEY, so our handle is forgotten.
    if unsafe { sys::EVP_PKEY_assign_EC_KEY(pkey.ptr(), key.0.as_ptr()) } != 1 {
        return fail(CryptoError::General("EVP_PKEY EC assignment failed"));
    }
    std::mem::forget(key);
    Ok(pkey)
}

/// Builds an Ed25519 or X25519 `EVP_PKEY` from its 32-byte private key.
fn raw_pkey(kind: c_int, private: &[u8]) -> Result<Pkey, CryptoError> {
    if private.len() != 32 {
        return Err(CryptoError::KeyInvalid);
    }
    // SAFETY: `private` is valid for 32 bytes, which AWS-LC copies; the
    // ENGINE argument is unused and may be null.
    let p = unsafe {
        sys::EVP_PKEY_new_raw_private_key(kind, ptr::null_mut(), private.as_ptr(), private.len())
    };
    Pkey::from_raw(p, CryptoError::KeyInvalid)
}

/// Decodes a DER PKCS#8 `PrivateKeyInfo` (version 0) or RFC 5958
/// `OneAsymmetricKey` (version 1, with an optional public key that must match
/// the private key) holding an RSA (`rsaEncryption`), EC (`id-ecPublicKey`
/// on P-256, P-384, P-521 or secp256k1), Ed25519 or X25519 key. Attributes
/// are ignored.
///
/// Every failure — malformed or non-DER input, trailing bytes after the
/// structure, another version, an unsupported algorithm or curve, or an
/// inconsistent key — is `DataInvalid`, without further detail.
pub fn decode_pkcs8(der: &[u8]) -> Result<PrivateKeyParts, CryptoError> {
    let result = decode_inner(der);
    clear_errors();
    result.map_err(|_| CryptoError::DataInvalid)
}

fn decode_inner(der: &[u8]) -> Result<PrivateKeyParts, CryptoError> {
    // SAFETY: CBS is a plain C struct (pointer and length); it is fully set
    // by CBS_init before use.
    let mut cbs: sys::CBS = unsafe { std::mem::zeroed() };
    // SAFETY: `der` is valid for reads of `der.len()` bytes and outlives
    // `cbs` (AWS-LC reads nothing when the length is zero).
    unsafe { sys::CBS_init(&mut cbs, der.as_ptr(), der.len()) };
    // SAFETY: `cbs` views `der`; AWS-LC advances it past the structure and
    // returns a new key or null.
    let pkey = Pkey::from_raw(
        unsafe { sys::EVP_parse_private_key(&mut cbs) },
        CryptoError::DataInvalid,
    )?;
    // SAFETY: `cbs` is valid.
    if unsafe { sys::CBS_len(&cbs) } != 0 {
        return Err(CryptoError::DataInvalid);
    }
    // SAFETY: `pkey` is a valid key.
    match unsafe { sys::EVP_PKEY_id(pkey.ptr()) } {
        sys::EVP_PKEY_RSA => rsa_parts(&pkey),
        sys::EVP_PKEY_EC => ec_parts(&pkey),
        sys::EVP_PKEY_ED25519 => Ok(PrivateKeyParts::Ed25519 {
            seed: raw_private(&pkey)?,
        }),
        sys::EVP_PKEY_X25519 => Ok(PrivateKeyParts::X25519 {
            private: raw_private(&pkey)?,
        }),
        _ => Err(CryptoError::DataInvalid),
    }
}

fn rsa_parts(pkey: &Pkey) -> Result<PrivateKeyParts, CryptoError> {
    // SAFETY: `pkey` is an RSA key; the RSA object is borrowed from it.
    let rsa = unsafe { sys::EVP_PKEY_get0_RSA(pkey.ptr()) };
    if rsa.is_null() {
        return Err(CryptoError::DataInvalid);
    }
    let mut c = [ptr::null(); 8];
    // SAFETY: `rsa` is valid; the out-pointers are valid locals receiving
    // borrowed pointers owned by `rsa`.
    unsafe {
        let [n, e, d, p, q, dp, dq, qinv] = &mut c;
        sys::RSA_get0_key(rsa, n, e, d);
        sys::RSA_get0_factors(rsa, p, q);
        sys::RSA_get0_crt_params(rsa, dp, dq, qinv);
    }
    if c.iter().any(|x| x.is_null()) {
        return Err(CryptoError::DataInvalid);
    }
    // SAFETY: each pointer is non-null and owned by `rsa`, which `pkey`
    // keeps alive for this whole function.
    let [n, e, d, p, q, dp, dq, qinv] = c.map(|x| unsafe { bn_to_be(x) });
    Ok(PrivateKeyParts::Rsa {
        n,
        e,
        d,
        p,
        q,
        dp,
        dq,
        qinv,
    })
}

fn ec_parts(pkey: &Pkey) -> Result<PrivateKeyParts, CryptoError> {
    // SAFETY: `pkey` is an EC key; the EC_KEY is borrowed from it.
    let key = unsafe { sys::EVP_PKEY_get0_EC_KEY(pkey.ptr()) };
    if key.is_null() {
        return Err(CryptoError::DataInvalid);
    }
    // SAFETY: `key` is valid; group, scalar and point are borrowed from it.
    let (group, d, point) = unsafe {
        (
            sys::EC_KEY_get0_group(key),
            sys::EC_KEY_get0_private_key(key),
            sys::EC_KEY_get0_public_key(key),
        )
    };
    if group.is_null() || d.is_null() || point.is_null() {
        return Err(CryptoError::DataInvalid);
    }
    // SAFETY: `group` is valid.
    let nid = unsafe { sys::EC_GROUP_get_curve_name(group) };
    let curve = curve_from_nid(nid).ok_or(CryptoError::DataInvalid)?;
    // SAFETY: `d` is non-null and owned by `key`, alive here.
    let scalar =
        unsafe { bn_to_be_padded(d, curve.field_len()) }.ok_or(CryptoError::DataInvalid)?;
    let mut public = vec![0u8; curve.point_len()];
    // SAFETY: `point` belongs to `group`; `public` has room for the
    // uncompressed encoding, which is exactly point_len bytes.
    let written = unsafe {
        sys::EC_POINT_point2oct(
            group,
            point,
            sys::point_conversion_form_t::POINT_CONVERSION_UNCOMPRESSED,
            public.as_mut_ptr(),
            public.len(),
            ptr::null_mut(),
        )
    };
    if written != public.len() {
        return Err(CryptoError::DataInvalid);
    }
    Ok(PrivateKeyParts::Ec {
        curve_oid_der: curve.oid_der().to_vec(),
        d: scalar,
        public_point: Some(public),
    })
}

/// Extracts the 32-byte raw private key of an Ed25519 or X25519 key.
fn raw_private(pkey: &Pkey) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    let mut out = Zeroizing::new(vec![0u8; 32]);
    let mut len = out.len();
    // SAFETY: `out` is valid for `len` bytes of writes; AWS-LC writes at
    // most `len` bytes and stores the written length in `len`.
    let ok = unsafe { sys::EVP_PKEY_get_raw_private_key(pkey.ptr(), out.as_mut_ptr(), &mut len) };
    if ok != 1 || len != 32 {
        return Err(CryptoError::DataInvalid);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::encoding::{AsBigEndian, AsDer, Curve25519SeedBin, EcPrivateKeyBin};
    use aws_lc_rs::rand::SystemRandom;
    use aws_lc_rs::signature::{self, EcdsaKeyPair, Ed25519KeyPair, KeyPair as _};

    fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        assert!(s.len() % 2 == 0);
        s.chunks(2)
            .map(|p| {
                let v = |c: u8| (c as char).to_digit(16).unwrap() as u8;
                (v(p[0]) << 4) | v(p[1])
            })
            .collect()
    }

    fn base64(s: &str) -> Vec<u8> {
        let val = |c: u8| -> u32 {
            match c {
                b'A'..=b'Z' => u32::from(c - b'A'),
                b'a'..=b'z' => u32::from(c - b'a') + 26,
                b'0'..=b'9' => u32::from(c - b'0') + 52,
                b'+' => 62,
                b'/' => 63,
                _ => panic!("bad base64"),
            }
        };
        let chars: Vec<u8> = s
            .bytes()
            .filter(|b| !b.is_ascii_whitespace() && *b != b'=')
            .collect();
        let mut out = Vec::new();
        for chunk in chars.chunks(4) {
            let mut acc = 0u32;
            for &c in chunk {
                acc = (acc << 6) | val(c);
            }
            acc <<= 6 * (4 - chunk.len() as u32);
            let bytes = acc.to_be_bytes();
            out.extend_from_slice(&bytes[1..chunk.len()]);
        }
        out
    }

    /// DER TLV with a short or one/two-byte long-form length.
    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        let mut out = vec![tag];
        let n = content.len();
        if n < 0x80 {
            out.push(n as u8);
        } else if n < 0x100 {
            out.extend_from_slice(&[0x81, n as u8]);
        } else {
            out.extend_from_slice(&[0x82, (n >> 8) as u8, n as u8]);
        }
        out.extend_from_slice(content);
        out
    }

    /// Splits DER content into its top-level elements (whole TLVs).
    fn elements(mut der: &[u8]) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while !der.is_empty() {
            let (hdr, len) = match der[1] {
                n if n < 0x80 => (2, n as usize),
                0x81 => (3, der[2] as usize),
                0x82 => (4, ((der[2] as usize) << 8) | der[3] as usize),
                _ => panic!("unsupported length"),
            };
            out.push(der[..hdr + len].to_vec());
            der = &der[hdr + len..];
        }
        out
    }

    /// Content of a TLV.
    fn content(tlv: &[u8]) -> &[u8] {
        match tlv[1] {
            n if n < 0x80 => &tlv[2..],
            0x81 => &tlv[3..],
            _ => &tlv[4..],
        }
    }

    fn ec_alg(
        curve: Curve,
    ) -> (
        &'static signature::EcdsaSigningAlgorithm,
        &'static signature::EcdsaVerificationAlgorithm,
    ) {
        match curve {
            Curve::P256 => (
                &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
                &signature::ECDSA_P256_SHA256_ASN1,
            ),
            Curve::P384 => (
                &signature::ECDSA_P384_SHA384_ASN1_SIGNING,
                &signature::ECDSA_P384_SHA384_ASN1,
            ),
            Curve::P521 => (
                &signature::ECDSA_P521_SHA512_ASN1_SIGNING,
                &signature::ECDSA_P521_SHA512_ASN1,
            ),
            Curve::Secp256k1 => (
                &signature::ECDSA_P256K1_SHA256_ASN1_SIGNING,
                &signature::ECDSA_P256K1_SHA256_ASN1,
            ),
        }
    }

    fn expect_invalid(der: &[u8]) {
        assert_eq!(
            decode_pkcs8(der).unwrap_err(),
            CryptoError::DataInvalid,
            "accepted {}",
            der.len()
        );
    }

    fn rsa_fields(p: &PrivateKeyParts) -> [Vec<u8>; 8] {
        match p {
            PrivateKeyParts::Rsa {
                n,
                e,
                d,
                p,
                q,
                dp,
                dq,
                qinv,
            } => [n, e, d, p, q, dp, dq, qinv].map(|x| x.to_vec()),
            other => panic!("not RSA: {other:?}"),
        }
    }

    fn rsa_parts_from(c: &crate::crypto::RsaComponents) -> PrivateKeyParts {
        let z = |v: &Zeroizing<Vec<u8>>| Zeroizing::new(v.to_vec());
        PrivateKeyParts::Rsa {
            n: z(&c.modulus),
            e: z(&c.public_exponent),
            d: z(&c.private_exponent),
            p: z(&c.prime1),
            q: z(&c.prime2),
            dp: z(&c.exponent1),
            dq: z(&c.exponent2),
            qinv: z(&c.coefficient),
        }
    }

    fn rsa_fixture() -> PrivateKeyParts {
        let c = crate::crypto::rsa_generate(2048, &[1, 0, 1]).unwrap();
        rsa_parts_from(&c)
    }

    /// Checks an RSA PKCS#8 loads in aws-lc-rs and signs consistently with
    /// the public key in `public_der` (DER RSAPublicKey).
    fn rsa_sign_check(pkcs8: &[u8], public_der: &[u8]) {
        let kp = signature::RsaKeyPair::from_pkcs8(pkcs8).unwrap();
        assert_eq!(kp.public_key().as_ref(), public_der);
        let mut sig = vec![0u8; kp.public_modulus_len()];
        let rng = SystemRandom::new();
        kp.sign(&signature::RSA_PKCS1_SHA256, &rng, b"msg", &mut sig)
            .unwrap();
        signature::UnparsedPublicKey::new(&signature::RSA_PKCS1_2048_8192_SHA256, public_der)
            .verify(b"msg", &sig)
            .unwrap();
    }

    #[test]
    fn rsa_round_trip() {
        let parts = rsa_fixture();
        let der = encode_pkcs8(&parts).unwrap();
        let back = decode_pkcs8(&der).unwrap();
        assert_eq!(rsa_fields(&parts), rsa_fields(&back));
        for f in rsa_fields(&back) {
            assert_ne!(f.first(), Some(&0), "components must be minimal");
        }
        // Re-encoding is deterministic.
        assert_eq!(&encode_pkcs8(&back).unwrap()[..], &der[..]);
        // aws-lc-rs accepts it, and its public key is (n, e).
        let kp = signature::RsaKeyPair::from_pkcs8(&der).unwrap();
        rsa_sign_check(&der, kp.public_key().as_ref());
    }

    #[test]
    fn rsa_leading_zeros_accepted_on_encode() {
        let parts = rsa_fixture();
        let der = encode_pkcs8(&parts).unwrap();
        let f = rsa_fields(&parts);
        let padded = f.clone().map(|mut v| {
            v.insert(0, 0);
            Zeroizing::new(v)
        });
        let [n, e, d, p, q, dp, dq, qinv] = padded;
        let padded_parts = PrivateKeyParts::Rsa {
            n,
            e,
            d,
            p,
            q,
            dp,
            dq,
            qinv,
        };
        assert_eq!(&encode_pkcs8(&padded_parts).unwrap()[..], &der[..]);
    }

    #[test]
    fn rsa_from_aws_lc_rs() {
        let kp = aws_lc_rs::rsa::KeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048).unwrap();
        let pkcs8 = AsDer::<aws_lc_rs::encoding::Pkcs8V1Der>::as_der(&kp).unwrap();
        let parts = decode_pkcs8(pkcs8.as_ref()).unwrap();
        let f = rsa_fields(&parts);
        assert_eq!(f[1], vec![1, 0, 1]);
        assert_eq!(f[0].len(), 256);
        let again = encode_pkcs8(&parts).unwrap();
        assert_eq!(&again[..], pkcs8.as_ref());
        rsa_sign_check(&again, kp.public_key().as_ref());
    }

    #[test]
    fn ec_round_trip_each_curve() {
        for curve in CURVES {
            let (alg, verify_alg) = ec_alg(curve);
            let kp = EcdsaKeyPair::generate(alg).unwrap();
            let d: EcPrivateKeyBin = kp.private_key().as_be_bytes().unwrap();
            let q = kp.public_key().as_ref().to_vec();
            assert_eq!(d.as_ref().len(), curve.field_len());
            assert_eq!(q.len(), curve.point_len());
            for public_point in [Some(q.clone()), None] {
                let parts = PrivateKeyParts::Ec {
                    curve_oid_der: curve.oid_der().to_vec(),
                    d: Zeroizing::new(d.as_ref().to_vec()),
                    public_point,
                };
                let der = encode_pkcs8(&parts).unwrap();
                match decode_pkcs8(&der).unwrap() {
                    PrivateKeyParts::Ec {
                        curve_oid_der,
                        d: d2,
                        public_point,
                    } => {
                        assert_eq!(curve_oid_der, curve.oid_der());
                        assert_eq!(&d2[..], d.as_ref());
                        assert_eq!(public_point.as_deref(), Some(&q[..]));
                    }
                    other => panic!("wrong type {other:?}"),
                }
                let loaded = EcdsaKeyPair::from_pkcs8(alg, &der).unwrap();
                assert_eq!(loaded.public_key().as_ref(), &q[..]);
                let sig = loaded.sign(&SystemRandom::new(), b"msg").unwrap();
                signature::UnparsedPublicKey::new(verify_alg, &q)
                    .verify(b"msg", sig.as_ref())
                    .unwrap();
            }
        }
    }

    #[test]
    fn ec_short_scalar_and_wrapped_point() {
        // d = 1 on P-256 gives the generator G (FIPS 186-4 D.1.2.3).
        let g = hex(
            "04 6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296
             4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
        );
        let mut wrapped = vec![0x04, 65];
        wrapped.extend_from_slice(&g);
        for (d, point) in [
            (vec![1u8], None),
            (vec![0, 0, 1], Some(g.clone())),
            (vec![1], Some(wrapped)),
        ] {
            let parts = PrivateKeyParts::Ec {
                curve_oid_der: Curve::P256.oid_der().to_vec(),
                d: Zeroizing::new(d),
                public_point: point,
            };
            let der = encode_pkcs8(&parts).unwrap();
            match decode_pkcs8(&der).unwrap() {
                PrivateKeyParts::Ec {
                    d, public_point, ..
                } => {
                    let mut one = [0u8; 32];
                    one[31] = 1;
                    assert_eq!(&d[..], &one[..]);
                    assert_eq!(public_point.as_deref(), Some(&g[..]));
                }
                other => panic!("wrong type {other:?}"),
            }
        }
    }

    #[test]
    fn ec_from_aws_lc_rs() {
        let rng = SystemRandom::new();
        for curve in CURVES {
            let (alg, verify_alg) = ec_alg(curve);
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(alg, &rng).unwrap();
            let original = EcdsaKeyPair::from_pkcs8(alg, pkcs8.as_ref()).unwrap();
            let parts = decode_pkcs8(pkcs8.as_ref()).unwrap();
            match &parts {
                PrivateKeyParts::Ec {
                    curve_oid_der,
                    d,
                    public_point,
                } => {
                    assert_eq!(&curve_oid_der[..], curve.oid_der());
                    assert_eq!(d.len(), curve.field_len());
                    assert_eq!(
                        public_point.as_deref(),
                        Some(original.public_key().as_ref())
                    );
                }
                other => panic!("wrong type {other:?}"),
            }
            let again = encode_pkcs8(&parts).unwrap();
            assert_eq!(&again[..], pkcs8.as_ref());
            let loaded = EcdsaKeyPair::from_pkcs8(alg, &again).unwrap();
            let sig = loaded.sign(&rng, b"wrap").unwrap();
            signature::UnparsedPublicKey::new(verify_alg, original.public_key().as_ref())
                .verify(b"wrap", sig.as_ref())
                .unwrap();
        }
    }

    fn ed25519_seed(p: &PrivateKeyParts) -> Vec<u8> {
        match p {
            PrivateKeyParts::Ed25519 { seed } => seed.to_vec(),
            other => panic!("not Ed25519: {other:?}"),
        }
    }

    #[test]
    fn ed25519_round_trip() {
        let mut seed = Zeroizing::new(vec![0u8; 32]);
        crate::crypto::fill_random(&mut seed).unwrap();
        let der = encode_pkcs8(&PrivateKeyParts::Ed25519 { seed: seed.clone() }).unwrap();
        let back = decode_pkcs8(&der).unwrap();
        assert_eq!(ed25519_seed(&back), &seed[..]);
        let kp = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).unwrap();
        let direct = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
        assert_eq!(kp.public_key().as_ref(), direct.public_key().as_ref());
    }

    #[test]
    fn ed25519_from_aws_lc_rs() {
        let rng = SystemRandom::new();
        let v2 = Ed25519KeyPair::generate_pkcs8(&rng).unwrap();
        let v1 = Ed25519KeyPair::generate_pkcs8v1(&rng).unwrap();
        for (pkcs8, is_v1) in [(v2, false), (v1, true)] {
            let original = Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8.as_ref()).unwrap();
            let parts = decode_pkcs8(pkcs8.as_ref()).unwrap();
            let seed: Curve25519SeedBin = original.seed().unwrap().as_be_bytes().unwrap();
            assert_eq!(ed25519_seed(&parts), seed.as_ref());
            let again = encode_pkcs8(&parts).unwrap();
            if is_v1 {
                assert_eq!(&again[..], pkcs8.as_ref());
            }
            let loaded = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&again).unwrap();
            let sig = loaded.sign(b"wrap");
            signature::UnparsedPublicKey::new(&signature::ED25519, original.public_key().as_ref())
                .verify(b"wrap", sig.as_ref())
                .unwrap();
        }
    }

    /// RFC 8410, section 10.3: the example Ed25519 private keys.
    const RFC8410_ED25519_V1: &str =
        "MC4CAQAwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC";
    const RFC8410_ED25519_V2: &str =
        "MHICAQEwBQYDK2VwBCIEINTuctv5E1hK1bbY8fdp+K06/nwoy/HU++CXqI9EdVhC
         oB8wHQYKKoZIhvcNAQkJFDEPDA1DdXJkbGUgQ2hhaXJzgSEAGb9ECWmEzf6FQbrB
         Z9w7lshQhqowtrbLDFw4rXAxZuE=";
    const RFC8410_SEED: &str = "d4ee72dbf913584ad5b6d8f1f769f8ad3afe7c28cbf1d4fbe097a88f44755842";

    #[test]
    fn ed25519_rfc8410_known_answers() {
        let seed = hex(RFC8410_SEED);
        let v1 = base64(RFC8410_ED25519_V1);
        assert_eq!(ed25519_seed(&decode_pkcs8(&v1).unwrap()), seed);
        let enc = encode_pkcs8(&PrivateKeyParts::Ed25519 {
            seed: Zeroizing::new(seed.clone()),
        })
        .unwrap();
        assert_eq!(&enc[..], &v1[..]);

        // Version 1 with attributes and the (checked) public key.
        let v2 = base64(RFC8410_ED25519_V2);
        assert_eq!(ed25519_seed(&decode_pkcs8(&v2).unwrap()), seed);
        let public = hex("19bf44096984cdfe8541bac167dc3b96c85086aa30b6b6cb0c5c38ad703166e1");
        assert!(v2.ends_with(&public));
        let kp = Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
        assert_eq!(kp.public_key().as_ref(), &public[..]);
        // A public key that does not match the seed is rejected.
        let mut bad = v2.clone();
        let last = bad.len() - 1;
        bad[last] ^= 1;
        expect_invalid(&bad);
    }

    fn x25519_private(p: &PrivateKeyParts) -> Vec<u8> {
        match p {
            PrivateKeyParts::X25519 { private } => private.to_vec(),
            other => panic!("not X25519: {other:?}"),
        }
    }

    /// X25519 public key of a raw private key, computed by aws-lc-rs.
    fn x25519_public(private: &[u8]) -> Vec<u8> {
        use aws_lc_rs::agreement;
        agreement::PrivateKey::from_private_key(&agreement::X25519, private)
            .unwrap()
            .compute_public_key()
            .unwrap()
            .as_ref()
            .to_vec()
    }

    #[test]
    fn x25519_round_trip() {
        use aws_lc_rs::agreement;
        let key = agreement::PrivateKey::generate(&agreement::X25519).unwrap();
        let raw: Curve25519SeedBin = key.as_be_bytes().unwrap();
        let der = encode_pkcs8(&PrivateKeyParts::X25519 {
            private: Zeroizing::new(raw.as_ref().to_vec()),
        })
        .unwrap();
        let back = x25519_private(&decode_pkcs8(&der).unwrap());
        assert_eq!(back, raw.as_ref());
        assert_eq!(
            x25519_public(&back),
            key.compute_public_key().unwrap().as_ref()
        );
    }

    #[test]
    fn x25519_known_answer() {
        // RFC 8410 has no X25519 private key example; this uses Alice's key
        // pair from RFC 7748, section 6.1, in the RFC 8410 section 7
        // structure: SEQUENCE { INTEGER 0, SEQUENCE { OID 1.3.101.110 },
        // OCTET STRING { OCTET STRING (32 bytes) } }.
        let private = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let public = hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let mut expected = hex("302e020100300506032b656e04220420");
        expected.extend_from_slice(&private);
        let enc = encode_pkcs8(&PrivateKeyParts::X25519 {
            private: Zeroizing::new(private.clone()),
        })
        .unwrap();
        assert_eq!(&enc[..], &expected[..]);
        let back = x25519_private(&decode_pkcs8(&expected).unwrap());
        assert_eq!(back, private);
        assert_eq!(x25519_public(&back), public);

        // RFC 5958 version 1 with the matching public key [1] is accepted;
        // a mismatching one is not.
        let mut v2 = hex("3051020101300506032b656e04220420");
        v2.extend_from_slice(&private);
        v2.extend_from_slice(&hex("812100"));
        v2.extend_from_slice(&public);
        assert_eq!(x25519_private(&decode_pkcs8(&v2).unwrap()), private);
        let last = v2.len() - 1;
        v2[last] ^= 0x80;
        expect_invalid(&v2);
    }

    /// One valid encoding of each key type.
    fn samples() -> Vec<Vec<u8>> {
        let rng = SystemRandom::new();
        let mut out = vec![
            base64(RFC8410_ED25519_V1),
            base64(RFC8410_ED25519_V2),
            {
                let mut x = hex("302e020100300506032b656e04220420");
                x.extend_from_slice(&[0x42; 32]);
                x
            },
            encode_pkcs8(&rsa_fixture()).unwrap().to_vec(),
        ];
        for curve in CURVES {
            let pkcs8 = EcdsaKeyPair::generate_pkcs8(ec_alg(curve).0, &rng).unwrap();
            out.push(pkcs8.as_ref().to_vec());
        }
        for s in &out {
            decode_pkcs8(s).unwrap();
        }
        out
    }

    #[test]
    fn truncated_and_trailing_rejected() {
        for s in samples() {
            for len in 0..s.len() {
                expect_invalid(&s[..len]);
            }
            for extra in [&[0u8][..], &[0x05, 0x00], &s[..]] {
                let mut t = s.clone();
                t.extend_from_slice(extra);
                expect_invalid(&t);
            }
        }
    }

    #[test]
    fn wrong_version_rejected() {
        for s in samples() {
            // Every sample starts SEQUENCE { INTEGER version, ... }.
            let body = elements(content(&s));
            assert_eq!(body[0][..2], [0x02, 0x01]);
            for v in [2u8, 3, 0x7f] {
                let mut fields = body.clone();
                fields[0] = vec![0x02, 0x01, v];
                expect_invalid(&tlv(0x30, &fields.concat()));
            }
            // Negative and non-minimal versions.
            for bad in [hex("0201ff"), hex("02020000"), hex("0200")] {
                let mut fields = body.clone();
                fields[0] = bad;
                expect_invalid(&tlv(0x30, &fields.concat()));
            }
            // Missing version.
            expect_invalid(&tlv(0x30, &body[1..].concat()));
        }
    }

    #[test]
    fn unsupported_algorithms_rejected() {
        let version = hex("020100");
        // Ed448 (RFC 8410, OID 1.3.101.113) with a 57-byte key.
        let ed448 = [
            version.clone(),
            tlv(0x30, &hex("06032b6571")),
            tlv(0x04, &tlv(0x04, &[7u8; 57])),
        ]
        .concat();
        expect_invalid(&tlv(0x30, &ed448));

        // An unknown OID (1.2.3.4) with NULL parameters.
        let unknown = [
            version.clone(),
            tlv(0x30, &hex("06032a0304 0500")),
            tlv(0x04, &tlv(0x04, &[7u8; 32])),
        ]
        .concat();
        expect_invalid(&tlv(0x30, &unknown));

        // EC on P-224 (secp224r1, OID 1.3.132.0.33), a curve AWS-LC parses
        // but which is not supported here. d = 1.
        let mut d = vec![0u8; 28];
        d[27] = 1;
        let ec_priv = tlv(0x30, &[hex("020101"), tlv(0x04, &d)].concat());
        let p224 = [
            version.clone(),
            tlv(0x30, &hex("06072a8648ce3d0201 06052b81040021")),
            tlv(0x04, &ec_priv),
        ]
        .concat();
        expect_invalid(&tlv(0x30, &p224));
        // The same structure on P-256 is accepted (sanity check).
        let mut d = vec![0u8; 32];
        d[31] = 1;
        let ec_priv = tlv(0x30, &[hex("020101"), tlv(0x04, &d)].concat());
        let p256 = [
            version.clone(),
            tlv(
                0x30,
                &[hex("06072a8648ce3d0201"), Curve::P256.oid_der().to_vec()].concat(),
            ),
            tlv(0x04, &ec_priv),
        ]
        .concat();
        assert!(matches!(
            decode_pkcs8(&tlv(0x30, &p256)).unwrap(),
            PrivateKeyParts::Ec { .. }
        ));

        // An RSA key under id-RSASSA-PSS (1.2.840.113549.1.1.10).
        let rsa = encode_pkcs8(&rsa_fixture()).unwrap();
        let body = elements(content(&rsa));
        let pss = [
            body[0].clone(),
            tlv(0x30, &hex("06092a864886f70d01010a")),
            body[2].clone(),
        ]
        .concat();
        expect_invalid(&tlv(0x30, &pss));

        // Ed25519 with (forbidden) NULL parameters.
        let v1 = base64(RFC8410_ED25519_V1);
        let body = elements(content(&v1));
        let with_null = [
            body[0].clone(),
            tlv(0x30, &hex("06032b6570 0500")),
            body[2].clone(),
        ]
        .concat();
        expect_invalid(&tlv(0x30, &with_null));
    }

    #[test]
    fn garbage_rejected_without_panic() {
        for g in [
            vec![],
            vec![0x30],
            vec![0x30, 0x00],
            vec![0x30, 0x80, 0x02, 0x01, 0x00, 0x00, 0x00],
            vec![0x04, 0x02, 0x00, 0x00],
            vec![0xff; 64],
        ] {
            expect_invalid(&g);
        }
        // Every single-byte corruption of every sample either fails cleanly
        // or still decodes; none panics. RSA is sampled with a stride to
        // keep the test fast.
        for s in samples() {
            let stride = if s.len() > 500 { 7 } else { 1 };
            for i in (0..s.len()).step_by(stride) {
                for mask in [0x01u8, 0x80, 0xff] {
                    let mut t = s.clone();
                    t[i] ^= mask;
                    if let Err(e) = decode_pkcs8(&t) {
                        assert_eq!(e, CryptoError::DataInvalid);
                    }
                }
            }
        }
    }

    #[test]
    fn encode_rejects_bad_parts() {
        let z = |v: &[u8]| Zeroizing::new(v.to_vec());
        // RSA: a missing (empty) component, and swapped primes.
        let f = rsa_fields(&rsa_fixture());
        for (missing, swap) in [(Some(7), false), (Some(0), false), (None, true)] {
            let mut f = f.clone();
            if let Some(i) = missing {
                f[i].clear();
            }
            if swap {
                f.swap(3, 4);
            }
            let [n, e, d, p, q, dp, dq, qinv] = f.map(Zeroizing::new);
            let parts = PrivateKeyParts::Rsa {
                n,
                e,
                d,
                p,
                q,
                dp,
                dq,
                qinv,
            };
            assert_eq!(encode_pkcs8(&parts).unwrap_err(), CryptoError::KeyInvalid);
        }

        // EC: unknown curve, zero, order-exceeding and oversize scalars,
        // a point that is not d*G, a malformed point.
        let ec = |oid: &[u8], d: &[u8], q: Option<Vec<u8>>| {
            encode_pkcs8(&PrivateKeyParts::Ec {
                curve_oid_der: oid.to_vec(),
                d: z(d),
                public_point: q,
            })
        };
        let p224 = hex("06052b81040021");
        assert_eq!(ec(&p224, &[1], None).unwrap_err(), CryptoError::KeyInvalid);
        assert_eq!(
            ec(Curve::P256.oid_der(), &[0; 32], None).unwrap_err(),
            CryptoError::KeyInvalid
        );
        assert_eq!(
            ec(Curve::P256.oid_der(), &[], None).unwrap_err(),
            CryptoError::KeyInvalid
        );
        assert_eq!(
            ec(Curve::P256.oid_der(), &[0xff; 32], None).unwrap_err(),
            CryptoError::KeyInvalid
        );
        assert_eq!(
            ec(Curve::P256.oid_der(), &[1; 33], None).unwrap_err(),
            CryptoError::KeyInvalid
        );
        let (_, q) = crate::crypto::ec_generate(crate::crypto::Curve::P256).unwrap();
        assert_eq!(
            ec(Curve::P256.oid_der(), &[1], Some(q.clone())).unwrap_err(),
            CryptoError::KeyInvalid
        );
        assert_eq!(
            ec(Curve::P256.oid_der(), &[1], Some(q[..64].to_vec())).unwrap_err(),
            CryptoError::KeyInvalid
        );
        let mut compressed = q[..33].to_vec();
        compressed[0] = 0x02;
        assert_eq!(
            ec(Curve::P256.oid_der(), &[1], Some(compressed)).unwrap_err(),
            CryptoError::KeyInvalid
        );

        // Ed25519 / X25519 lengths.
        for len in [0usize, 31, 33, 64] {
            let v = vec![1u8; len];
            assert_eq!(
                encode_pkcs8(&PrivateKeyParts::Ed25519 { seed: z(&v) }).unwrap_err(),
                CryptoError::KeyInvalid
            );
            assert_eq!(
                encode_pkcs8(&PrivateKeyParts::X25519 { private: z(&v) }).unwrap_err(),
                CryptoError::KeyInvalid
            );
        }
    }

    #[test]
    fn debug_does_not_show_secrets() {
        let seed = hex(RFC8410_SEED);
        let parts = decode_pkcs8(&base64(RFC8410_ED25519_V1)).unwrap();
        assert_eq!(format!("{parts:?}"), "Ed25519 { .. }");
        let x = PrivateKeyParts::X25519 {
            private: Zeroizing::new(seed.clone()),
        };
        assert_eq!(format!("{x:?}"), "X25519 { .. }");
        let ec = PrivateKeyParts::Ec {
            curve_oid_der: Curve::P384.oid_der().to_vec(),
            d: Zeroizing::new(seed),
            public_point: None,
        };
        let s = format!("{ec:?}");
        assert!(s.starts_with("Ec {") && !s.contains("212"), "{s}");
        let rsa = format!("{:?}", rsa_fixture());
        assert_eq!(rsa, "Rsa { modulus_bytes: 256, .. }");
    }
}
