//! The store master key, keys derived from it, and its key check value.

use aws_lc_rs::{constant_time, hmac};
use zeroize::Zeroizing;

use super::{random_bytes, VaultError};
use crate::crypto::secmem::LockedBytes;

/// Salt used when deriving purpose keys from the master key.
const HIERARCHY_SALT: &[u8] = b"custos/v1/key-hierarchy";
/// Message authenticated under the master key to form the key check value.
const KCV_MESSAGE: &[u8] = b"custos/v1/key-check-value";

/// The 32-byte master key protecting a key store.
///
/// The bytes live in locked memory (`mlock`, excluded from core dumps, where the system
/// allows; see [`LockedBytes`]) and are wiped when the value is dropped. The type
/// deliberately has no `Clone` and no `Debug`.
pub struct MasterKey {
    bytes: LockedBytes<32>,
}

/// A 32-byte key derived from the master key for one purpose.
///
/// Kept like the master key. No `Clone`, no `Debug`.
pub struct DerivedKey {
    bytes: LockedBytes<32>,
}

impl DerivedKey {
    /// The raw key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        self.bytes.as_bytes()
    }
}

impl MasterKey {
    /// Whether the key's memory is locked against swapping.
    pub fn is_locked(&self) -> bool {
        self.bytes.is_locked()
    }

    /// Generates a fresh master key from the system random number generator.
    pub fn generate() -> Result<MasterKey, VaultError> {
        let bytes = Zeroizing::new(random_bytes::<32>()?);
        Ok(MasterKey::from_zeroizing(bytes))
    }

    /// Wraps existing key bytes as a master key.
    ///
    /// The array is moved in; callers holding another copy remain responsible
    /// for wiping it.
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey {
            bytes: LockedBytes::from_bytes(&Zeroizing::new(bytes)),
        }
    }

    /// Wraps key bytes that are already in a wiping container.
    pub(crate) fn from_zeroizing(bytes: Zeroizing<[u8; 32]>) -> MasterKey {
        MasterKey {
            bytes: LockedBytes::from_bytes(&bytes),
        }
    }

    /// The raw master key bytes, for splitting into shares.
    pub(crate) fn secret_bytes(&self) -> &[u8; 32] {
        self.bytes.as_bytes()
    }

    /// Derives a 32-byte key for `purpose` with HKDF-SHA256 (RFC 5869).
    ///
    /// The master key is the input keying material, the salt is
    /// `"custos/v1/key-hierarchy"` and the info is the UTF-8 bytes of `purpose`.
    /// Different purposes give independent keys.
    pub fn derive(&self, purpose: &str) -> DerivedKey {
        DerivedKey {
            bytes: LockedBytes::from_bytes(&hkdf_sha256_32(
                HIERARCHY_SALT,
                &self.bytes.as_bytes()[..],
                purpose.as_bytes(),
            )),
        }
    }

    /// The key check value: HMAC-SHA256 keyed with the master key over
    /// `"custos/v1/key-check-value"`.
    ///
    /// It can be stored in the clear and lets a recombined key be confirmed
    /// without revealing it.
    pub fn key_check_value(&self) -> [u8; 32] {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.bytes.as_bytes()[..]);
        let tag = hmac::sign(&key, KCV_MESSAGE);
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Whether `kcv` is this key's check value, compared in constant time.
    pub fn matches_kcv(&self, kcv: &[u8; 32]) -> bool {
        let own = self.key_check_value();
        constant_time::verify_slices_are_equal(&own, kcv).is_ok()
    }
}

/// HKDF-SHA256 (RFC 5869) with a 32-byte output.
///
/// With L = 32 the expand step is a single block:
/// `PRK = HMAC(salt, ikm)`, `OKM = HMAC(PRK, info || 0x01)`.
/// Written directly over HMAC so that it is infallible.
fn hkdf_sha256_32(salt: &[u8], ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; 32]> {
    let salt_key = hmac::Key::new(hmac::HMAC_SHA256, salt);
    let prk = hmac::sign(&salt_key, ikm);
    let prk_key = hmac::Key::new(hmac::HMAC_SHA256, prk.as_ref());
    let mut ctx = hmac::Context::with_key(&prk_key);
    ctx.update(info);
    ctx.update(&[0x01]);
    let okm = ctx.sign();
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(okm.as_ref());
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::hkdf;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    fn sequential_key() -> MasterKey {
        let mut b = [0u8; 32];
        for (i, x) in b.iter_mut().enumerate() {
            *x = i as u8;
        }
        MasterKey::from_bytes(b)
    }

    #[test]
    fn hkdf_rfc5869_case1() {
        // RFC 5869 A.1; the first 32 bytes of the 42-byte OKM.
        let ikm = [0x0bu8; 22];
        let salt = hex("000102030405060708090a0b0c");
        let info = hex("f0f1f2f3f4f5f6f7f8f9");
        let okm = hkdf_sha256_32(&salt, &ikm, &info);
        assert_eq!(
            okm.to_vec(),
            hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf")
        );
    }

    #[test]
    fn hkdf_rfc5869_case3_empty_salt_info() {
        // RFC 5869 A.3 (zero-length salt and info), first 32 bytes.
        let ikm = [0x0bu8; 22];
        let okm = hkdf_sha256_32(&[], &ikm, &[]);
        assert_eq!(
            okm.to_vec(),
            hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d")
        );
    }

    #[test]
    fn derive_known_answer() {
        let mk = sequential_key();
        let dk = mk.derive("object-wrap");
        assert_eq!(
            dk.as_bytes().to_vec(),
            hex("a886119bbf68ce1b2188b756ad332d1a1aca384915467d74ea7628713cd15ea6")
        );
    }

    #[test]
    fn derive_matches_library_hkdf() {
        let mk = MasterKey::generate().unwrap();
        for purpose in [
            "",
            "a",
            "object-wrap",
            "audit-mac",
            "x".repeat(300).as_str(),
        ] {
            let ours = mk.derive(purpose);
            let salt = hkdf::Salt::new(hkdf::HKDF_SHA256, HIERARCHY_SALT);
            let prk = salt.extract(&mk.secret_bytes()[..]);
            let info = [purpose.as_bytes()];
            let okm = prk.expand(&info, hkdf::HKDF_SHA256).unwrap();
            let mut theirs = [0u8; 32];
            okm.fill(&mut theirs).unwrap();
            assert_eq!(ours.as_bytes(), &theirs, "purpose {purpose:?}");
        }
    }

    #[test]
    fn derive_separates_purposes_and_keys() {
        let a = MasterKey::generate().unwrap();
        let b = MasterKey::generate().unwrap();
        assert_ne!(a.secret_bytes(), b.secret_bytes());
        assert_ne!(a.derive("one").as_bytes(), a.derive("two").as_bytes());
        assert_ne!(a.derive("one").as_bytes(), b.derive("one").as_bytes());
        assert_eq!(a.derive("one").as_bytes(), a.derive("one").as_bytes());
        assert_ne!(a.derive("one").as_bytes(), a.secret_bytes());
    }

    #[test]
    fn kcv_known_answer() {
        let mk = sequential_key();
        assert_eq!(
            mk.key_check_value().to_vec(),
            hex("6f79a7e4acc2fefd09e4e3e62883dd8075a90953a02053627871a1bb6f775863")
        );
    }

    #[test]
    fn kcv_matching() {
        let mk = MasterKey::generate().unwrap();
        let kcv = mk.key_check_value();
        assert!(mk.matches_kcv(&kcv));
        let mut bad = kcv;
        bad[31] ^= 1;
        assert!(!mk.matches_kcv(&bad));
        let other = MasterKey::generate().unwrap();
        assert!(!other.matches_kcv(&kcv));
    }
}
