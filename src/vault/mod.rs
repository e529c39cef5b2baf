//! Key custody: the store master key and its derived keys, M-of-N sharing of
//! the master key, quorum unsealing, and PIN verifiers.
//!
//! The master key is split with Shamir secret sharing over GF(2^8). The store
//! header keeps public data only: the store id, M and N, one commitment per
//! share and a key check value. An [`Unsealer`] built from that data checks
//! each share as it is entered and confirms the recombined key against the
//! key check value, and a [`Ceremony`] drives the same checks one custodian at a time.
//! A share may be kept in a file protected by its custodian's passphrase
//! ([`ProtectedShare`]: Argon2id and AES-256-GCM).

#![deny(unsafe_code)]

mod ceremony;
mod error;
mod key;
mod pin;
mod protect;
pub mod shamir;
mod share;
mod unseal;

use aws_lc_rs::rand::{SecureRandom, SystemRandom};

pub use ceremony::{Accepted, Ceremony, Refusal};
pub use error::VaultError;
pub use key::{DerivedKey, MasterKey};
pub use pin::{PinVerifier, DEFAULT_PIN_ITERATIONS};
pub use protect::{
    check_new_passphrase, KdfParams, ProtectedShare, ShareFile, MAX_PASSPHRASE_LEN,
    MIN_PASSPHRASE_LEN,
};
pub use share::{split_master_key, Share};
pub use unseal::{unseal_with, Progress, Unsealer};

/// Returns `N` bytes from the system random number generator.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], VaultError> {
    let mut out = [0u8; N];
    SystemRandom::new()
        .fill(&mut out)
        .map_err(|_| VaultError::Random)?;
    Ok(out)
}

/// Returns a fresh random 16-byte store identifier.
pub fn new_store_id() -> Result<[u8; 16], VaultError> {
    random_bytes::<16>()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_bytes_differ() {
        let a = random_bytes::<32>().unwrap();
        let b = random_bytes::<32>().unwrap();
        assert_ne!(a, b);
        assert_ne!(a, [0u8; 32]);
        assert_eq!(random_bytes::<0>().unwrap(), [0u8; 0]);
    }

    #[test]
    fn store_ids_differ() {
        assert_ne!(new_store_id().unwrap(), new_store_id().unwrap());
    }

    #[test]
    fn errors_display() {
        let e: Box<dyn std::error::Error> =
            Box::new(VaultError::NotEnoughShares { have: 1, need: 3 });
        assert_eq!(e.to_string(), "not enough shares: have 1, need 3");
        assert!(VaultError::ShareChecksum.to_string().contains("mistyped"));
        assert!(VaultError::InvalidThreshold {
            threshold: 4,
            total: 3
        }
        .to_string()
        .contains("4-of-3"));
    }

    #[test]
    fn end_to_end() {
        let mk = MasterKey::generate().unwrap();
        let id = new_store_id().unwrap();
        let shares = split_master_key(&mk, id, 2, 3).unwrap();
        let commitments: Vec<[u8; 32]> = shares.iter().map(Share::commitment).collect();
        let kcv = mk.key_check_value();
        let texts: Vec<_> = shares.iter().map(Share::to_text).collect();
        drop(shares);
        let entered = vec![
            Share::parse(&texts[2]).unwrap(),
            Share::parse(&texts[1]).unwrap(),
        ];
        let recovered = unseal_with(id, 2, 3, commitments, kcv, entered).unwrap();
        assert_eq!(
            recovered.derive("object-wrap").as_bytes(),
            mk.derive("object-wrap").as_bytes()
        );
    }
}
