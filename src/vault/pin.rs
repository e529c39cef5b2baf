//! Salted, iterated PIN verifiers (PBKDF2-HMAC-SHA256).

use std::fmt;
use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;

use super::{random_bytes, VaultError};

/// Default PBKDF2 iterations for new PIN verifiers. Verifiers live inside sealed token records,
/// so an offline guess needs the master key first (and with it every key in the store); the
/// KDF is defence in depth, and login latency matters to applications that log in often.
/// Guessing through the module is stopped by the retry counter.
pub const DEFAULT_PIN_ITERATIONS: u32 = 2_000;

/// Format version written by [`PinVerifier::to_bytes`].
const FORMAT_VERSION: u16 = 1;
/// Serialized length: version (2) + iterations (4) + salt (16) + hash (32).
const ENCODED_LEN: usize = 2 + 4 + 16 + 32;

/// A salted PBKDF2-HMAC-SHA256 hash of a PIN, used to check PINs without
/// storing them.
///
/// It holds no secret (only a random salt and the hash), so it may be cloned.
#[derive(Clone)]
pub struct PinVerifier {
    iterations: NonZeroU32,
    salt: [u8; 16],
    hash: [u8; 32],
}

impl fmt::Debug for PinVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PinVerifier{..}")
    }
}

impl PinVerifier {
    /// Hashes `pin` with a fresh 16-byte random salt and `iterations` rounds.
    ///
    /// Fails with [`VaultError::InvalidIterations`] if `iterations` is 0.
    pub fn new(pin: &[u8], iterations: u32) -> Result<PinVerifier, VaultError> {
        let iterations = NonZeroU32::new(iterations).ok_or(VaultError::InvalidIterations)?;
        let salt = random_bytes::<16>()?;
        let mut hash = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            iterations,
            &salt,
            pin,
            &mut hash,
        );
        Ok(PinVerifier {
            iterations,
            salt,
            hash,
        })
    }

    /// Whether `pin` matches; the hashes are compared in constant time.
    pub fn verify(&self, pin: &[u8]) -> bool {
        pbkdf2::verify(
            pbkdf2::PBKDF2_HMAC_SHA256,
            self.iterations,
            &self.salt,
            pin,
            &self.hash,
        )
        .is_ok()
    }

    /// The iteration count used by this verifier.
    pub fn iterations(&self) -> u32 {
        self.iterations.get()
    }

    /// Serializes as `version u16 LE (1) || iterations u32 LE || salt (16) || hash (32)`,
    /// 54 bytes in all.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(ENCODED_LEN);
        out.extend_from_slice(&FORMAT_VERSION.to_le_bytes());
        out.extend_from_slice(&self.iterations.get().to_le_bytes());
        out.extend_from_slice(&self.salt);
        out.extend_from_slice(&self.hash);
        out
    }

    /// Parses the output of [`PinVerifier::to_bytes`].
    ///
    /// The input must be exactly 54 bytes, with version 1 and a non-zero
    /// iteration count.
    pub fn from_bytes(bytes: &[u8]) -> Result<PinVerifier, VaultError> {
        let bad = |reason: String| VaultError::PinVerifierMalformed(reason);
        if bytes.len() != ENCODED_LEN {
            return Err(bad(format!(
                "expected {ENCODED_LEN} bytes, found {}",
                bytes.len()
            )));
        }
        let field_error = || bad("truncated".into());
        let (version, rest) = bytes.split_first_chunk::<2>().ok_or_else(field_error)?;
        let (iterations, rest) = rest.split_first_chunk::<4>().ok_or_else(field_error)?;
        let (salt, rest) = rest.split_first_chunk::<16>().ok_or_else(field_error)?;
        let hash: &[u8; 32] = rest.try_into().map_err(|_| field_error())?;

        let version = u16::from_le_bytes(*version);
        if version != FORMAT_VERSION {
            return Err(bad(format!(
                "unsupported version {version} (expected {FORMAT_VERSION})"
            )));
        }
        let iterations = NonZeroU32::new(u32::from_le_bytes(*iterations))
            .ok_or_else(|| bad("iteration count is 0".into()))?;
        Ok(PinVerifier {
            iterations,
            salt: *salt,
            hash: *hash,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Low iteration count so the tests stay fast.
    const FAST: u32 = 100;

    #[test]
    fn right_and_wrong_pin() {
        let v = PinVerifier::new(b"123456", FAST).unwrap();
        assert!(v.verify(b"123456"));
        assert!(!v.verify(b"123457"));
        assert!(!v.verify(b"12345"));
        assert!(!v.verify(b""));
        assert_eq!(v.iterations(), FAST);
    }

    #[test]
    fn empty_pin_works() {
        let v = PinVerifier::new(b"", 1).unwrap();
        assert!(v.verify(b""));
        assert!(!v.verify(b"0"));
    }

    #[test]
    fn salts_are_fresh() {
        let a = PinVerifier::new(b"pin", FAST).unwrap();
        let b = PinVerifier::new(b"pin", FAST).unwrap();
        assert_ne!(a.to_bytes(), b.to_bytes());
        assert!(a.verify(b"pin") && b.verify(b"pin"));
    }

    #[test]
    fn known_answer() {
        // Serialized verifier for PIN "123456", 1000 iterations, salt 00..0f;
        // hash = PBKDF2-HMAC-SHA256(P, S, 1000, 32) computed independently.
        let mut bytes = vec![1, 0];
        bytes.extend_from_slice(&1000u32.to_le_bytes());
        bytes.extend((0u8..16).collect::<Vec<_>>());
        bytes.extend_from_slice(&[
            0x6e, 0x38, 0x49, 0x11, 0x1b, 0xe8, 0xd3, 0x07, 0x06, 0x34, 0x22, 0x06, 0x66, 0xe9,
            0x3c, 0x55, 0xdb, 0xfd, 0x75, 0xe9, 0x23, 0xf3, 0x4d, 0x35, 0x71, 0x68, 0x05, 0x46,
            0x4c, 0x0a, 0x7e, 0xaf,
        ]);
        let v = PinVerifier::from_bytes(&bytes).unwrap();
        assert_eq!(v.iterations(), 1000);
        assert!(v.verify(b"123456"));
        assert!(!v.verify(b"654321"));
        assert_eq!(v.to_bytes(), bytes);
    }

    #[test]
    fn bytes_round_trip() {
        let v = PinVerifier::new(b"hunter2", FAST).unwrap();
        let bytes = v.to_bytes();
        assert_eq!(bytes.len(), 54);
        assert_eq!(&bytes[..2], &[1, 0]);
        assert_eq!(&bytes[2..6], &FAST.to_le_bytes());
        let back = PinVerifier::from_bytes(&bytes).unwrap();
        assert_eq!(back.to_bytes(), bytes);
        assert!(back.verify(b"hunter2"));
        assert!(!back.verify(b"hunter3"));
        let cloned = back.clone();
        assert!(cloned.verify(b"hunter2"));
        assert_eq!(format!("{cloned:?}"), "PinVerifier{..}");
    }

    #[test]
    fn rejects_bad_bytes() {
        let bytes = PinVerifier::new(b"1234", FAST).unwrap().to_bytes();
        let malformed = |b: &[u8]| {
            matches!(
                PinVerifier::from_bytes(b),
                Err(VaultError::PinVerifierMalformed(_))
            )
        };
        assert!(malformed(&bytes[..53]));
        assert!(malformed(&[]));
        let mut long = bytes.clone();
        long.push(0);
        assert!(malformed(&long));
        let mut version = bytes.clone();
        version[0] = 2;
        assert!(malformed(&version));
        let mut version_hi = bytes.clone();
        version_hi[1] = 1;
        assert!(malformed(&version_hi));
        let mut zero_iter = bytes.clone();
        zero_iter[2..6].copy_from_slice(&[0, 0, 0, 0]);
        assert!(malformed(&zero_iter));
        // A tampered hash parses but no longer verifies.
        let mut tampered = bytes.clone();
        tampered[53] ^= 1;
        assert!(!PinVerifier::from_bytes(&tampered).unwrap().verify(b"1234"));
    }

    #[test]
    fn zero_iterations_rejected() {
        assert_eq!(
            PinVerifier::new(b"1234", 0).unwrap_err(),
            VaultError::InvalidIterations
        );
    }
}
