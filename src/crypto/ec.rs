//! ECDSA on NIST P-256 and P-384 with PKCS#11 encodings: fixed-width
//! big-endian private scalars, uncompressed points and `r || s` signatures.

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
}

const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
const NAME_P256: &[u8] = b"\x13\x0aprime256v1";
const NAME_P384: &[u8] = b"\x13\x09secp384r1";

impl Curve {
    /// Recognises `CKA_EC_PARAMS`: the DER OBJECT IDENTIFIER of the curve, or
    /// the DER PrintableString of its name (`prime256v1`, `secp384r1`).
    pub fn from_oid_der(params: &[u8]) -> Option<Curve> {
        match params {
            OID_P256 | NAME_P256 => Some(Curve::P256),
            OID_P384 | NAME_P384 => Some(Curve::P384),
            _ => None,
        }
    }

    /// The DER OBJECT IDENTIFIER of the curve (the canonical `CKA_EC_PARAMS`).
    pub fn oid_der(self) -> &'static [u8] {
        match self {
            Curve::P256 => OID_P256,
            Curve::P384 => OID_P384,
        }
    }

    /// Byte length of a field element, private scalar, and of each of `r` and
    /// `s` in a signature.
    pub fn field_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
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
            Curve::P256 => 256,
            Curve::P384 => 384,
        }
    }

    /// The NIST name of the curve.
    pub fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
        }
    }

    fn nid(self) -> i32 {
        match self {
            Curve::P256 => sys::NID_X9_62_prime256v1,
            Curve::P384 => sys::NID_secp384r1,
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

/// Returns the raw uncompressed point from either encoding, checking its
/// length and leading 0x04 byte.
fn unwrap_point(curve: Curve, point: &[u8]) -> Option<&[u8]> {
    let plen = curve.point_len();
    let raw = if point.len() == plen {
        point
    } else if point.len() == plen + 2 && point[0] == 0x04 && usize::from(point[1]) == plen {
        // Both point lengths (65, 97) are below 128: short-form DER length.
        &point[2..]
    } else {
        return None;
    };
    (raw[0] == 0x04).then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::super::digest::{digest, hex, HashAlg};
    use super::*;
    use aws_lc_rs::signature::{self as lcsig, UnparsedPublicKey};

    const CURVES: [Curve; 2] = [Curve::P256, Curve::P384];

    const P256_G: &str = "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296\
                          4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";
    const P384_G: &str = "04aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a38\
                          5502f25dbf55296c3a545e3872760ab7\
                          3617de4a96262c6f5d9e98bf9292dc29f8f41dbd289a147ce9da3113b5f0b8c0\
                          0a60b1ce1d7e819d7a431d7c90ea0e5f";
    const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";
    const P384_N: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf\
                          581a0db248b0a77aecec196accc52973";

    fn order(curve: Curve) -> Vec<u8> {
        match curve {
            Curve::P256 => hex(P256_N),
            Curve::P384 => hex(P384_N),
        }
    }

    #[test]
    fn curve_params_round_trip() {
        for c in CURVES {
            assert_eq!(Curve::from_oid_der(c.oid_der()), Some(c));
            assert_eq!(c.point_len(), 1 + 2 * c.field_len());
            assert_eq!(c.bits(), 8 * c.field_len());
        }
        assert_eq!(
            Curve::from_oid_der(b"\x13\x0aprime256v1"),
            Some(Curve::P256)
        );
        assert_eq!(Curve::from_oid_der(b"\x13\x09secp384r1"), Some(Curve::P384));
        assert_eq!(Curve::P256.name(), "P-256");
        assert_eq!(Curve::P384.name(), "P-384");
        // secp521r1, a truncated OID, trailing garbage, wrong string tag.
        assert_eq!(Curve::from_oid_der(&hex("06052b81040023")), None);
        assert_eq!(Curve::from_oid_der(&hex("06082a8648ce3d0301")), None);
        assert_eq!(Curve::from_oid_der(&hex("06082a8648ce3d03010700")), None);
        assert_eq!(Curve::from_oid_der(b"\x0c\x0aprime256v1"), None);
        assert_eq!(Curve::from_oid_der(&[]), None);
    }

    #[test]
    fn scalar_one_gives_generator() {
        let g = [hex(P256_G), hex(P384_G)];
        for (c, g) in CURVES.iter().zip(g) {
            let k = EcPrivateKey::from_scalar(*c, &[1]).unwrap();
            assert_eq!(k.public_point(), g);
            let padded = vec![0u8; c.field_len() - 1]
                .into_iter()
                .chain([1])
                .collect::<Vec<_>>();
            let k2 = EcPrivateKey::from_scalar(*c, &padded).unwrap();
            assert_eq!(k2.public_point(), g);
            assert_eq!(k2.curve(), *c);
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
            let mut wrapped = vec![0x04, q.len() as u8];
            wrapped.extend_from_slice(&q);
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
            bad_wrap[1] += 1;
            for bad in [
                compressed,
                bad_prefix,
                q[..q.len() - 1].to_vec(),
                bad_wrap,
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
}
