//! Quorum unsealing: collecting shares and recovering the master key.

use std::fmt;

use aws_lc_rs::constant_time;

use super::shamir;
use super::{MasterKey, Share, VaultError};

/// How many verified shares have been entered and how many are needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Progress {
    /// Shares accepted so far.
    pub have: u8,
    /// Shares required (the threshold M).
    pub need: u8,
}

/// Collects master-key shares for one store and recovers the key once the
/// threshold is reached.
///
/// Built from the store header's public data: store id, threshold M, total N,
/// one commitment per share and the key check value. Each share is verified
/// against its commitment when added; a refused share leaves the state
/// unchanged. Accepted shares are wiped when the unsealer is dropped.
pub struct Unsealer {
    store_id: [u8; 16],
    threshold: u8,
    total: u8,
    commitments: Vec<[u8; 32]>,
    kcv: [u8; 32],
    shares: Vec<Share>,
}

impl fmt::Debug for Unsealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Unsealer")
            .field("threshold", &self.threshold)
            .field("total", &self.total)
            .field("progress", &self.progress())
            .finish_non_exhaustive()
    }
}

impl Unsealer {
    /// Creates an unsealer for a store with a `threshold`-of-`total` sharing.
    ///
    /// `commitments[i]` is the commitment of the share with index `i + 1`, so
    /// there must be exactly `total` of them.
    pub fn new(
        store_id: [u8; 16],
        threshold: u8,
        total: u8,
        commitments: Vec<[u8; 32]>,
        kcv: [u8; 32],
    ) -> Result<Unsealer, VaultError> {
        shamir::check_parameters(threshold, total)?;
        if commitments.len() != usize::from(total) {
            return Err(VaultError::CommitmentCount {
                expected: usize::from(total),
                found: commitments.len(),
            });
        }
        Ok(Unsealer {
            store_id,
            threshold,
            total,
            commitments,
            kcv,
            shares: Vec::with_capacity(usize::from(threshold)),
        })
    }

    /// Verifies and records one share.
    ///
    /// Refuses, leaving the state unchanged, a share of another store
    /// ([`VaultError::ForeignShare`]), with a different M/N
    /// ([`VaultError::ShareMismatch`]), with an index outside `1..=N`
    /// ([`VaultError::IndexOutOfRange`]), not matching the header commitment
    /// for its index ([`VaultError::WrongShare`]), with an index already
    /// entered ([`VaultError::DuplicateShare`]), or arriving after the
    /// threshold was reached ([`VaultError::AlreadyComplete`]).
    pub fn add(&mut self, share: Share) -> Result<Progress, VaultError> {
        if share.store_id() != &self.store_id {
            return Err(VaultError::ForeignShare);
        }
        if (share.threshold(), share.total()) != (self.threshold, self.total) {
            return Err(VaultError::ShareMismatch {
                expected: (self.threshold, self.total),
                found: (share.threshold(), share.total()),
            });
        }
        let index = share.index();
        let slot = usize::from(index)
            .checked_sub(1)
            .and_then(|i| self.commitments.get(i))
            .ok_or(VaultError::IndexOutOfRange {
                index,
                total: self.total,
            })?;
        if constant_time::verify_slices_are_equal(&share.commitment(), slot).is_err() {
            return Err(VaultError::WrongShare { index });
        }
        if self.shares.iter().any(|s| s.index() == index) {
            return Err(VaultError::DuplicateShare { index });
        }
        if self.is_complete() {
            return Err(VaultError::AlreadyComplete);
        }
        self.shares.push(share);
        Ok(self.progress())
    }

    /// Whether the threshold number of shares has been entered.
    pub fn is_complete(&self) -> bool {
        self.shares.len() >= usize::from(self.threshold)
    }

    /// Shares entered so far and shares needed.
    pub fn progress(&self) -> Progress {
        Progress {
            // At most `threshold` shares are ever stored, so this fits in a u8.
            have: u8::try_from(self.shares.len()).unwrap_or(u8::MAX),
            need: self.threshold,
        }
    }

    /// Recombines the entered shares and returns the master key.
    ///
    /// Fails with [`VaultError::NotEnoughShares`] before the threshold is
    /// reached, and with [`VaultError::KeyCheckFailed`] if the recombined key
    /// does not match the store's key check value.
    pub fn finish(self) -> Result<MasterKey, VaultError> {
        if !self.is_complete() {
            let p = self.progress();
            return Err(VaultError::NotEnoughShares {
                have: p.have,
                need: p.need,
            });
        }
        let points: Vec<(u8, &[u8; 32])> =
            self.shares.iter().map(|s| (s.index(), s.value())).collect();
        let mk = MasterKey::from_zeroizing(shamir::combine(&points)?);
        if !mk.matches_kcv(&self.kcv) {
            return Err(VaultError::KeyCheckFailed);
        }
        Ok(mk)
    }
}

/// Recovers a store's master key from a list of shares in one call.
///
/// Shares are added in order as with [`Unsealer::add`] (the first refused
/// share stops the process with its error); once the threshold is reached the
/// remaining shares are not examined. Then [`Unsealer::finish`] is applied.
pub fn unseal_with(
    store_id: [u8; 16],
    threshold: u8,
    total: u8,
    commitments: Vec<[u8; 32]>,
    kcv: [u8; 32],
    shares: Vec<Share>,
) -> Result<MasterKey, VaultError> {
    let mut unsealer = Unsealer::new(store_id, threshold, total, commitments, kcv)?;
    for share in shares {
        if unsealer.is_complete() {
            break;
        }
        unsealer.add(share)?;
    }
    unsealer.finish()
}

#[cfg(test)]
mod tests {
    use super::super::split_master_key;
    use super::*;
    use zeroize::Zeroizing;

    struct Store {
        mk: MasterKey,
        id: [u8; 16],
        m: u8,
        n: u8,
        commitments: Vec<[u8; 32]>,
        kcv: [u8; 32],
    }

    impl Store {
        fn new(m: u8, n: u8) -> (Store, Vec<Share>) {
            let mk = MasterKey::generate().unwrap();
            let id = super::super::new_store_id().unwrap();
            let shares = split_master_key(&mk, id, m, n).unwrap();
            let commitments = shares.iter().map(Share::commitment).collect();
            let kcv = mk.key_check_value();
            (
                Store {
                    mk,
                    id,
                    m,
                    n,
                    commitments,
                    kcv,
                },
                shares,
            )
        }

        fn unsealer(&self) -> Unsealer {
            Unsealer::new(self.id, self.m, self.n, self.commitments.clone(), self.kcv).unwrap()
        }
    }

    /// The error of a result whose success value has no `Debug`.
    fn err(r: Result<MasterKey, VaultError>) -> VaultError {
        match r {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    /// An independent copy of a share (shares have no Clone).
    fn copy(s: &Share) -> Share {
        Share::new(
            *s.store_id(),
            s.index(),
            s.threshold(),
            s.total(),
            Zeroizing::new(*s.value()),
        )
        .unwrap()
    }

    #[test]
    fn two_of_three_every_pair() {
        let (store, shares) = Store::new(2, 3);
        for a in 0..3 {
            for b in 0..3 {
                if a == b {
                    continue;
                }
                let mut u = store.unsealer();
                assert_eq!(u.progress(), Progress { have: 0, need: 2 });
                assert!(!u.is_complete());
                assert_eq!(
                    u.add(copy(&shares[a])).unwrap(),
                    Progress { have: 1, need: 2 }
                );
                assert!(!u.is_complete());
                assert_eq!(
                    u.add(copy(&shares[b])).unwrap(),
                    Progress { have: 2, need: 2 }
                );
                assert!(u.is_complete());
                let mk = u.finish().unwrap();
                assert_eq!(mk.secret_bytes(), store.mk.secret_bytes());
            }
        }
    }

    #[test]
    fn through_text_form() {
        let (store, shares) = Store::new(3, 5);
        let texts: Vec<_> = shares.iter().map(Share::to_text).collect();
        let picked = vec![
            Share::parse(&texts[4]).unwrap(),
            Share::parse(&texts[0]).unwrap(),
            Share::parse(&texts[2]).unwrap(),
        ];
        let mk = unseal_with(store.id, 3, 5, store.commitments.clone(), store.kcv, picked).unwrap();
        assert_eq!(mk.secret_bytes(), store.mk.secret_bytes());
    }

    #[test]
    fn refuses_foreign_share() {
        let (store, shares) = Store::new(2, 3);
        let (_, other_shares) = Store::new(2, 3);
        let mut u = store.unsealer();
        u.add(copy(&shares[0])).unwrap();
        assert_eq!(
            u.add(copy(&other_shares[1])).unwrap_err(),
            VaultError::ForeignShare
        );
        assert_eq!(u.progress().have, 1);
        u.add(copy(&shares[1])).unwrap();
        assert!(u.finish().is_ok());
    }

    #[test]
    fn refuses_duplicate() {
        let (store, shares) = Store::new(2, 3);
        let mut u = store.unsealer();
        u.add(copy(&shares[1])).unwrap();
        assert_eq!(
            u.add(copy(&shares[1])).unwrap_err(),
            VaultError::DuplicateShare { index: 2 }
        );
        assert_eq!(u.progress().have, 1);
        assert!(!u.is_complete());
    }

    #[test]
    fn refuses_corrupted_or_forged_value() {
        let (store, shares) = Store::new(2, 3);
        let mut u = store.unsealer();
        let mut value = Zeroizing::new(*shares[0].value());
        value[5] ^= 0x40;
        let bad = Share::new(store.id, 1, 2, 3, value).unwrap();
        assert_eq!(u.add(bad).unwrap_err(), VaultError::WrongShare { index: 1 });
        // A genuine share presented under another index is also refused.
        let moved = Share::new(store.id, 3, 2, 3, Zeroizing::new(*shares[0].value())).unwrap();
        assert_eq!(
            u.add(moved).unwrap_err(),
            VaultError::WrongShare { index: 3 }
        );
        assert_eq!(u.progress().have, 0);
        // The genuine share is still accepted afterwards.
        u.add(copy(&shares[0])).unwrap();
        u.add(copy(&shares[2])).unwrap();
        assert_eq!(u.finish().unwrap().secret_bytes(), store.mk.secret_bytes());
    }

    #[test]
    fn refuses_mismatched_parameters() {
        let (store, _) = Store::new(2, 3);
        // Shares of the same store id but a 2-of-4 and a 3-of-3 sharing.
        let other_n = split_master_key(&store.mk, store.id, 2, 4).unwrap();
        let other_m = split_master_key(&store.mk, store.id, 3, 3).unwrap();
        let mut u = store.unsealer();
        assert_eq!(
            u.add(copy(&other_n[0])).unwrap_err(),
            VaultError::ShareMismatch {
                expected: (2, 3),
                found: (2, 4)
            }
        );
        assert!(matches!(
            u.add(copy(&other_m[0])).unwrap_err(),
            VaultError::ShareMismatch { .. }
        ));
        assert_eq!(u.progress().have, 0);
    }

    #[test]
    fn too_few_shares() {
        let (store, shares) = Store::new(3, 5);
        let mut u = store.unsealer();
        u.add(copy(&shares[0])).unwrap();
        u.add(copy(&shares[3])).unwrap();
        assert_eq!(
            err(u.finish()),
            VaultError::NotEnoughShares { have: 2, need: 3 }
        );
        assert_eq!(
            err(store.unsealer().finish()),
            VaultError::NotEnoughShares { have: 0, need: 3 }
        );
        let two: Vec<Share> = shares.iter().take(2).map(copy).collect();
        assert_eq!(
            err(unseal_with(
                store.id,
                3,
                5,
                store.commitments.clone(),
                store.kcv,
                two
            )),
            VaultError::NotEnoughShares { have: 2, need: 3 }
        );
    }

    #[test]
    fn refuses_beyond_threshold() {
        let (store, shares) = Store::new(2, 3);
        let mut u = store.unsealer();
        u.add(copy(&shares[0])).unwrap();
        u.add(copy(&shares[1])).unwrap();
        assert_eq!(
            u.add(copy(&shares[2])).unwrap_err(),
            VaultError::AlreadyComplete
        );
        assert_eq!(u.progress(), Progress { have: 2, need: 2 });
        assert!(u.finish().is_ok());
        // The one-call form stops at the threshold.
        let all: Vec<Share> = shares.iter().map(copy).collect();
        let mk = unseal_with(store.id, 2, 3, store.commitments.clone(), store.kcv, all).unwrap();
        assert_eq!(mk.secret_bytes(), store.mk.secret_bytes());
    }

    #[test]
    fn kcv_mismatch() {
        let (store, shares) = Store::new(2, 3);
        let mut kcv = store.kcv;
        kcv[0] ^= 1;
        let picked: Vec<Share> = shares.iter().take(2).map(copy).collect();
        assert_eq!(
            err(unseal_with(
                store.id,
                2,
                3,
                store.commitments.clone(),
                kcv,
                picked
            )),
            VaultError::KeyCheckFailed
        );
    }

    #[test]
    fn kcv_catches_consistent_forgery() {
        // An attacker who controls the header can make forged shares pass their
        // commitments; the key check value still rejects the result.
        let (store, shares) = Store::new(2, 2);
        let mut v = Zeroizing::new(*shares[1].value());
        v[0] ^= 0xff;
        let forged = Share::new(store.id, 2, 2, 2, v).unwrap();
        let commitments = vec![shares[0].commitment(), forged.commitment()];
        let picked = vec![copy(&shares[0]), forged];
        assert_eq!(
            err(unseal_with(store.id, 2, 2, commitments, store.kcv, picked)),
            VaultError::KeyCheckFailed
        );
    }

    #[test]
    fn new_validates_header() {
        assert_eq!(
            Unsealer::new([0; 16], 2, 3, vec![[0; 32]; 2], [0; 32]).unwrap_err(),
            VaultError::CommitmentCount {
                expected: 3,
                found: 2
            }
        );
        assert!(matches!(
            Unsealer::new([0; 16], 0, 3, vec![[0; 32]; 3], [0; 32]),
            Err(VaultError::InvalidThreshold { .. })
        ));
        assert!(matches!(
            Unsealer::new([0; 16], 4, 3, vec![[0; 32]; 3], [0; 32]),
            Err(VaultError::InvalidThreshold { .. })
        ));
        let u = Unsealer::new([0; 16], 1, 1, vec![[0; 32]], [0; 32]).unwrap();
        assert!(format!("{u:?}").contains("have: 0"));
    }

    #[test]
    fn one_of_one() {
        let (store, shares) = Store::new(1, 1);
        let picked: Vec<Share> = shares.iter().map(copy).collect();
        let mk = unseal_with(store.id, 1, 1, store.commitments.clone(), store.kcv, picked).unwrap();
        assert_eq!(mk.secret_bytes(), store.mk.secret_bytes());
    }
}
