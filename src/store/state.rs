//! The sealed integrity state of a store.
//!
//! One row of the `state` table holds this structure, sealed like a record (kind
//! [`STATE_KIND`], id 0, slot 0). It ties the whole store together:
//!
//! - `generation` counts committed write transactions. It only grows, so a process that has
//!   seen generation *g* refuses a store showing less (see also the rollback witness);
//! - `header_digest` is SHA-256 of the encoded plain header, so an edited header is refused
//!   once the store is unsealed, although the header itself must stay readable while sealed;
//! - `audit_count` and `audit_head` are the number of audit entries and the digest of the last
//!   one, so a truncated audit log is detected (see [`super::audit`]);
//! - `records` and `digest_sum` are the number of records and the XOR of their keyed digests
//!   ([`super::SealKey::record_digest`]), so deleting a record, adding one, or putting back an
//!   older copy of one is detected even though each such record still authenticates alone.
//!
//! Layout (little-endian): `magic "CSTS"` (4) || `version` u16 || `generation` u64 ||
//! `records` u64 || `header_digest` (32) || `digest_sum` (32) || `audit_count` u64 ||
//! `audit_head` (32).

use super::error::StoreError;

/// Record kind used in the seal's authenticated data for the state row. It is not a kind of
/// the `records` table.
pub(crate) const STATE_KIND: u16 = 0x5354;

const MAGIC: [u8; 4] = *b"CSTS";
const VERSION: u16 = 1;
const ENCODED_LEN: usize = 4 + 2 + 8 + 8 + 32 + 32 + 8 + 32;

/// The decoded integrity state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IntegrityState {
    /// Committed write transactions so far.
    pub generation: u64,
    /// Rows in the `records` table.
    pub records: u64,
    /// SHA-256 of the encoded plain header.
    pub header_digest: [u8; 32],
    /// XOR of the keyed digests of all records.
    pub digest_sum: [u8; 32],
    /// Entries in the audit log.
    pub audit_count: u64,
    /// Digest of the last audit entry (zero when there is none).
    pub audit_head: [u8; 32],
}

impl IntegrityState {
    /// The state of a store with no records and no committed writes.
    pub fn empty(header_digest: [u8; 32]) -> IntegrityState {
        IntegrityState {
            generation: 0,
            records: 0,
            header_digest,
            digest_sum: [0; 32],
            audit_count: 0,
            audit_head: [0; 32],
        }
    }

    /// Adds or removes one record digest (XOR is its own inverse).
    pub fn toggle(&mut self, digest: &[u8; 32]) {
        for (s, d) in self.digest_sum.iter_mut().zip(digest) {
            *s ^= d;
        }
    }

    /// Fixed-size encoding.
    pub fn encode(&self) -> [u8; ENCODED_LEN] {
        let mut out = [0u8; ENCODED_LEN];
        out[..4].copy_from_slice(&MAGIC);
        out[4..6].copy_from_slice(&VERSION.to_le_bytes());
        out[6..14].copy_from_slice(&self.generation.to_le_bytes());
        out[14..22].copy_from_slice(&self.records.to_le_bytes());
        out[22..54].copy_from_slice(&self.header_digest);
        out[54..86].copy_from_slice(&self.digest_sum);
        out[86..94].copy_from_slice(&self.audit_count.to_le_bytes());
        out[94..126].copy_from_slice(&self.audit_head);
        out
    }

    /// Strict decoding: wrong length, magic or version is an error.
    pub fn decode(bytes: &[u8]) -> Result<IntegrityState, StoreError> {
        let bad = |why: &str| StoreError::IntegrityFailure(format!("integrity state {why}"));
        if bytes.len() != ENCODED_LEN {
            return Err(bad("has the wrong length"));
        }
        if bytes[..4] != MAGIC {
            return Err(bad("has a wrong magic number"));
        }
        if u16::from_le_bytes([bytes[4], bytes[5]]) != VERSION {
            return Err(bad("has an unsupported version"));
        }
        let u64_at = |at: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[at..at + 8]);
            u64::from_le_bytes(b)
        };
        let mut header_digest = [0u8; 32];
        header_digest.copy_from_slice(&bytes[22..54]);
        let mut digest_sum = [0u8; 32];
        digest_sum.copy_from_slice(&bytes[54..86]);
        let mut audit_head = [0u8; 32];
        audit_head.copy_from_slice(&bytes[94..126]);
        Ok(IntegrityState {
            generation: u64_at(6),
            records: u64_at(14),
            header_digest,
            digest_sum,
            audit_count: u64_at(86),
            audit_head,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        let mut s = IntegrityState::empty([7; 32]);
        s.generation = 0x0102_0304_0506_0708;
        s.records = 42;
        s.toggle(&[0xF0; 32]);
        s.audit_count = 3;
        s.audit_head = [0xAA; 32];
        let enc = s.encode();
        assert_eq!(&enc[..4], b"CSTS");
        assert_eq!(&enc[6..14], &[8, 7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(IntegrityState::decode(&enc).unwrap(), s);
        assert!(IntegrityState::decode(&enc[..ENCODED_LEN - 1]).is_err());
        let mut longer = enc.to_vec();
        longer.push(0);
        assert!(IntegrityState::decode(&longer).is_err());
        let mut bad = enc;
        bad[0] ^= 1;
        assert!(IntegrityState::decode(&bad).is_err());
        let mut bad = enc;
        bad[4] = 9;
        assert!(IntegrityState::decode(&bad).is_err());
    }

    #[test]
    fn toggle_is_its_own_inverse() {
        let mut s = IntegrityState::empty([0; 32]);
        s.toggle(&[0x5A; 32]);
        s.toggle(&[0x0F; 32]);
        assert_eq!(s.digest_sum, [0x55; 32]);
        s.toggle(&[0x0F; 32]);
        s.toggle(&[0x5A; 32]);
        assert_eq!(s.digest_sum, [0; 32]);
    }
}
