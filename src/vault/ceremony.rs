//! The unseal ceremony: custodians' shares are accepted one at a time, each checked on entry,
//! until the store's threshold is reached.
//!
//! A [`Ceremony`] is built from a store header's public data. [`Ceremony::add`] either accepts
//! a share, returning where the ceremony stands ([`Accepted`]), or refuses it with a
//! [`Refusal`] that names the reason; a refused share changes nothing, so the ceremony goes on
//! with the next one. Once enough shares are in, [`Ceremony::finish`] rebuilds the master key
//! and checks it against the store's key check value. The same type serves a ceremony driven
//! from the command line and one driven over a connection.

use std::fmt;

use super::{MasterKey, Share, Unsealer, VaultError};

/// Why a share was refused. A refusal leaves the ceremony unchanged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The share belongs to another store.
    ForeignStore,
    /// The share is from a sharing with another threshold or total.
    QuorumMismatch {
        /// The store's threshold and total.
        expected: (u8, u8),
        /// The share's threshold and total.
        found: (u8, u8),
    },
    /// The share's index is not one of the store's.
    IndexOutOfRange {
        /// The index the share carries.
        index: u8,
        /// The store's number of shares.
        total: u8,
    },
    /// The share does not match the store's commitment for its index: it was altered,
    /// forged, or carries another share's index.
    CommitmentMismatch {
        /// The index the share carries.
        index: u8,
    },
    /// A share with this index was already accepted.
    Duplicate {
        /// The repeated index.
        index: u8,
    },
    /// The threshold was already reached.
    AlreadyComplete,
    /// A protected share did not open: wrong passphrase, or the file was altered.
    WrongPassphrase,
    /// The share could not be read or understood; the string says why.
    Unreadable(String),
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::ForeignStore => {
                f.write_str("this share belongs to a different store (foreign share)")
            }
            Refusal::QuorumMismatch { expected, found } => write!(
                f,
                "this share is from a {}-of-{} sharing but the store uses {}-of-{}",
                found.0, found.1, expected.0, expected.1
            ),
            Refusal::IndexOutOfRange { index, total } => write!(
                f,
                "share index {index} is not one of this store's shares 1..={total}"
            ),
            Refusal::CommitmentMismatch { index } => write!(
                f,
                "share {index} does not match this store's record of it \
                 (wrong, forged or corrupted share)"
            ),
            Refusal::Duplicate { index } => {
                write!(f, "share {index} was already accepted (duplicate share)")
            }
            Refusal::AlreadyComplete => f.write_str("enough shares were already accepted"),
            Refusal::WrongPassphrase => f.write_str("wrong passphrase or damaged share file"),
            Refusal::Unreadable(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for Refusal {}

impl From<VaultError> for Refusal {
    /// Maps the unsealer's share errors to their refusal; any other error makes the share
    /// unreadable, with the error's text as the reason.
    fn from(e: VaultError) -> Refusal {
        match e {
            VaultError::ForeignShare => Refusal::ForeignStore,
            VaultError::ShareMismatch { expected, found } => {
                Refusal::QuorumMismatch { expected, found }
            }
            VaultError::IndexOutOfRange { index, total } => {
                Refusal::IndexOutOfRange { index, total }
            }
            VaultError::WrongShare { index } => Refusal::CommitmentMismatch { index },
            VaultError::DuplicateShare { index } => Refusal::Duplicate { index },
            VaultError::AlreadyComplete => Refusal::AlreadyComplete,
            VaultError::WrongPassphrase => Refusal::WrongPassphrase,
            other => Refusal::Unreadable(other.to_string()),
        }
    }
}

/// Where the ceremony stands after a share was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Accepted {
    /// The index of the share just accepted.
    pub index: u8,
    /// Shares accepted so far.
    pub have: u8,
    /// Shares needed (the threshold M).
    pub need: u8,
}

impl Accepted {
    /// Whether the threshold is reached.
    pub fn is_complete(&self) -> bool {
        self.have >= self.need
    }
}

/// Collects a store's shares one at a time and rebuilds its master key at the threshold.
///
/// Accepted shares are wiped when the ceremony is dropped.
#[derive(Debug)]
pub struct Ceremony {
    unsealer: Unsealer,
    store_id: [u8; 16],
    threshold: u8,
    total: u8,
    accepted: Vec<u8>,
    refused: usize,
}

impl Ceremony {
    /// Starts a ceremony for a store with a `threshold`-of-`total` sharing, from the store
    /// header's commitments (`commitments[i]` for share `i + 1`) and key check value.
    pub fn new(
        store_id: [u8; 16],
        threshold: u8,
        total: u8,
        commitments: Vec<[u8; 32]>,
        kcv: [u8; 32],
    ) -> Result<Ceremony, VaultError> {
        Ok(Ceremony {
            unsealer: Unsealer::new(store_id, threshold, total, commitments, kcv)?,
            store_id,
            threshold,
            total,
            accepted: Vec::new(),
            refused: 0,
        })
    }

    /// Checks one share and accepts it, or refuses it with the reason.
    ///
    /// A share is refused when it is of another store, of another sharing, has an index
    /// the store does not have, does not match the store's commitment for its index, repeats
    /// an accepted index, or arrives after the threshold was reached.
    pub fn add(&mut self, share: Share) -> Result<Accepted, Refusal> {
        let index = share.index();
        match self.unsealer.add(share) {
            Ok(p) => {
                self.accepted.push(index);
                Ok(Accepted {
                    index,
                    have: p.have,
                    need: p.need,
                })
            }
            Err(e) => {
                self.refused += 1;
                Err(Refusal::from(e))
            }
        }
    }

    /// Checks what a share states about itself (store, quorum, index) before it is unlocked,
    /// so that no passphrase is asked for a share that would be refused anyway. The share's
    /// value is checked against the store's commitment only by [`Ceremony::add`].
    ///
    /// Changes nothing; a caller that gives up on the share records it with
    /// [`Ceremony::refuse`].
    pub fn check_claim(
        &self,
        store_id: &[u8; 16],
        index: u8,
        threshold: u8,
        total: u8,
    ) -> Result<(), Refusal> {
        if store_id != &self.store_id {
            return Err(Refusal::ForeignStore);
        }
        if (threshold, total) != (self.threshold, self.total) {
            return Err(Refusal::QuorumMismatch {
                expected: (self.threshold, self.total),
                found: (threshold, total),
            });
        }
        if index == 0 || index > self.total {
            return Err(Refusal::IndexOutOfRange {
                index,
                total: self.total,
            });
        }
        if self.accepted.contains(&index) {
            return Err(Refusal::Duplicate { index });
        }
        if self.is_complete() {
            return Err(Refusal::AlreadyComplete);
        }
        Ok(())
    }

    /// Records a share that was refused before it could be added (unreadable, or a
    /// protected share that did not open), and returns the refusal.
    pub fn refuse(&mut self, why: Refusal) -> Refusal {
        self.refused += 1;
        why
    }

    /// Shares accepted so far.
    pub fn have(&self) -> u8 {
        self.unsealer.progress().have
    }

    /// Shares needed (the threshold M).
    pub fn need(&self) -> u8 {
        self.unsealer.progress().need
    }

    /// The store's number of shares (N).
    pub fn total(&self) -> u8 {
        self.total
    }

    /// Whether the threshold is reached.
    pub fn is_complete(&self) -> bool {
        self.unsealer.is_complete()
    }

    /// The indices of the accepted shares, in the order they were accepted.
    pub fn accepted(&self) -> &[u8] {
        &self.accepted
    }

    /// How many shares were refused.
    pub fn refused(&self) -> usize {
        self.refused
    }

    /// Rebuilds the master key from the accepted shares and checks it against the key
    /// check value ([`VaultError::NotEnoughShares`] before the threshold,
    /// [`VaultError::KeyCheckFailed`] if the key does not check).
    pub fn finish(self) -> Result<MasterKey, VaultError> {
        self.unsealer.finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::{new_store_id, split_master_key};
    use zeroize::Zeroizing;

    struct Fixture {
        mk: MasterKey,
        id: [u8; 16],
        commitments: Vec<[u8; 32]>,
        kcv: [u8; 32],
        shares: Vec<Share>,
    }

    fn fixture(m: u8, n: u8) -> Fixture {
        let mk = MasterKey::generate().unwrap();
        let id = new_store_id().unwrap();
        let shares = split_master_key(&mk, id, m, n).unwrap();
        Fixture {
            commitments: shares.iter().map(Share::commitment).collect(),
            kcv: mk.key_check_value(),
            mk,
            id,
            shares,
        }
    }

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

    fn ceremony(f: &Fixture) -> Ceremony {
        let n = u8::try_from(f.shares.len()).unwrap();
        Ceremony::new(
            f.id,
            f.shares[0].threshold(),
            n,
            f.commitments.clone(),
            f.kcv,
        )
        .unwrap()
    }

    #[test]
    fn accepts_to_the_threshold_and_refuses_along_the_way() {
        let f = fixture(2, 3);
        let other = fixture(2, 3);
        let mut c = ceremony(&f);
        assert_eq!((c.have(), c.need(), c.total()), (0, 2, 3));
        let a = c.add(copy(&f.shares[2])).unwrap();
        assert_eq!(
            a,
            Accepted {
                index: 3,
                have: 1,
                need: 2
            }
        );
        assert!(!a.is_complete());
        assert_eq!(
            c.add(copy(&f.shares[2])).unwrap_err(),
            Refusal::Duplicate { index: 3 }
        );
        assert_eq!(
            c.add(copy(&other.shares[0])).unwrap_err(),
            Refusal::ForeignStore
        );
        let mut v = Zeroizing::new(*f.shares[0].value());
        v[0] ^= 1;
        let forged = Share::new(f.id, 1, 2, 3, v).unwrap();
        assert_eq!(
            c.add(forged).unwrap_err(),
            Refusal::CommitmentMismatch { index: 1 }
        );
        let wrong_quorum = split_master_key(&f.mk, f.id, 2, 4).unwrap();
        assert_eq!(
            c.add(copy(&wrong_quorum[0])).unwrap_err(),
            Refusal::QuorumMismatch {
                expected: (2, 3),
                found: (2, 4)
            }
        );
        assert_eq!(c.refuse(Refusal::WrongPassphrase), Refusal::WrongPassphrase);
        assert_eq!(c.refused(), 5);
        assert_eq!(c.have(), 1);
        assert!(!c.is_complete());
        let a = c.add(copy(&f.shares[0])).unwrap();
        assert!(a.is_complete());
        assert_eq!(c.accepted(), &[3, 1]);
        assert_eq!(
            c.add(copy(&f.shares[1])).unwrap_err(),
            Refusal::AlreadyComplete
        );
        let mk = c.finish().unwrap();
        assert!(mk.matches_kcv(&f.kcv));
        assert_eq!(mk.derive("x").as_bytes(), f.mk.derive("x").as_bytes());
    }

    #[test]
    fn claims_are_checked_before_unlocking() {
        let f = fixture(2, 3);
        let mut c = ceremony(&f);
        assert_eq!(c.check_claim(&f.id, 1, 2, 3), Ok(()));
        assert_eq!(c.check_claim(&[0; 16], 1, 2, 3), Err(Refusal::ForeignStore));
        assert_eq!(
            c.check_claim(&f.id, 1, 3, 3),
            Err(Refusal::QuorumMismatch {
                expected: (2, 3),
                found: (3, 3)
            })
        );
        assert_eq!(
            c.check_claim(&f.id, 4, 2, 3),
            Err(Refusal::IndexOutOfRange { index: 4, total: 3 })
        );
        assert_eq!(
            c.check_claim(&f.id, 0, 2, 3),
            Err(Refusal::IndexOutOfRange { index: 0, total: 3 })
        );
        c.add(copy(&f.shares[0])).unwrap();
        assert_eq!(
            c.check_claim(&f.id, 1, 2, 3),
            Err(Refusal::Duplicate { index: 1 })
        );
        assert_eq!(c.refused(), 0);
        c.add(copy(&f.shares[1])).unwrap();
        assert_eq!(c.check_claim(&f.id, 3, 2, 3), Err(Refusal::AlreadyComplete));
    }

    #[test]
    fn every_single_share_of_two_of_three_is_not_enough() {
        let f = fixture(2, 3);
        for s in &f.shares {
            let mut c = ceremony(&f);
            c.add(copy(s)).unwrap();
            assert!(!c.is_complete());
            assert!(matches!(
                c.finish(),
                Err(VaultError::NotEnoughShares { have: 1, need: 2 })
            ));
        }
    }

    #[test]
    fn refusals_read_clearly() {
        assert!(Refusal::ForeignStore
            .to_string()
            .contains("different store"));
        assert!(Refusal::Duplicate { index: 2 }
            .to_string()
            .contains("duplicate"));
        assert!(Refusal::CommitmentMismatch { index: 2 }
            .to_string()
            .contains("share 2 does not match"));
        assert_eq!(
            Refusal::WrongPassphrase.to_string(),
            "wrong passphrase or damaged share file"
        );
        assert_eq!(
            Refusal::from(VaultError::WrongPassphrase),
            Refusal::WrongPassphrase
        );
        assert_eq!(
            Refusal::from(VaultError::ShareChecksum),
            Refusal::Unreadable(VaultError::ShareChecksum.to_string())
        );
        assert_eq!(
            Refusal::from(VaultError::IndexOutOfRange { index: 9, total: 3 }).to_string(),
            "share index 9 is not one of this store's shares 1..=3"
        );
    }
}
