//! The plain store header and its binary encoding.
//!
//! Layout (all integers little-endian):
//! `magic "CSTH"` (4) || `format_version` u16 || `store_id` (16) || `threshold` u8 || `total` u8 ||
//! commitment count u8 || commitments (32 each) || `kcv` (32) || `slot_count` u32 || `created_unix` u64.
//! Decoding is strict: wrong magic, inconsistent values, short input or trailing bytes are errors.

use super::error::StoreError;
use super::STORE_FORMAT_VERSION;

const HEADER_MAGIC: [u8; 4] = *b"CSTH";

/// Public description of a store, readable before the master key is known.
///
/// It holds no secret: the share commitments and the key check value only let a
/// quorum verify shares and the reconstructed master key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreHeader {
    /// Format version; must equal [`STORE_FORMAT_VERSION`].
    pub format_version: u16,
    /// Random identifier of this store.
    pub store_id: [u8; 16],
    /// Number of shares needed to unseal.
    pub threshold: u8,
    /// Number of shares issued.
    pub total: u8,
    /// Commitments used to verify shares (at most 255).
    pub commitments: Vec<[u8; 32]>,
    /// Key check value of the master key.
    pub kcv: [u8; 32],
    /// Number of token slots the store provides.
    pub slot_count: u32,
    /// Creation time, seconds since the Unix epoch.
    pub created_unix: u64,
}

impl StoreHeader {
    /// Checks the internal consistency of the header values.
    fn validate(&self) -> Result<(), StoreError> {
        if self.format_version != STORE_FORMAT_VERSION {
            return Err(StoreError::UnsupportedVersion(self.format_version));
        }
        if self.threshold == 0 {
            return Err(StoreError::HeaderCorrupt("threshold is zero".into()));
        }
        if self.threshold > self.total {
            return Err(StoreError::HeaderCorrupt(format!(
                "threshold {} exceeds total {}",
                self.threshold, self.total
            )));
        }
        if self.commitments.len() > usize::from(u8::MAX) {
            return Err(StoreError::HeaderCorrupt(format!(
                "{} commitments (at most 255 allowed)",
                self.commitments.len()
            )));
        }
        Ok(())
    }

    /// Encodes the header into its on-disk form after validating it.
    pub fn encode(&self) -> Result<Vec<u8>, StoreError> {
        self.validate()?;
        let count = u8::try_from(self.commitments.len())
            .map_err(|_| StoreError::HeaderCorrupt("too many commitments".into()))?;
        let mut out = Vec::with_capacity(4 + 2 + 16 + 3 + 32 * self.commitments.len() + 32 + 12);
        out.extend_from_slice(&HEADER_MAGIC);
        out.extend_from_slice(&self.format_version.to_le_bytes());
        out.extend_from_slice(&self.store_id);
        out.push(self.threshold);
        out.push(self.total);
        out.push(count);
        for c in &self.commitments {
            out.extend_from_slice(c);
        }
        out.extend_from_slice(&self.kcv);
        out.extend_from_slice(&self.slot_count.to_le_bytes());
        out.extend_from_slice(&self.created_unix.to_le_bytes());
        Ok(out)
    }

    /// Decodes a header strictly. A version other than [`STORE_FORMAT_VERSION`]
    /// gives [`StoreError::UnsupportedVersion`]; any other defect gives
    /// [`StoreError::HeaderCorrupt`].
    pub fn decode(bytes: &[u8]) -> Result<StoreHeader, StoreError> {
        let mut r = Reader { buf: bytes };
        if r.array::<4>()? != HEADER_MAGIC {
            return Err(StoreError::HeaderCorrupt("bad magic".into()));
        }
        let format_version = u16::from_le_bytes(r.array()?);
        if format_version != STORE_FORMAT_VERSION {
            return Err(StoreError::UnsupportedVersion(format_version));
        }
        let store_id = r.array::<16>()?;
        let [threshold] = r.array::<1>()?;
        let [total] = r.array::<1>()?;
        let [count] = r.array::<1>()?;
        let mut commitments = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            commitments.push(r.array::<32>()?);
        }
        let kcv = r.array::<32>()?;
        let slot_count = u32::from_le_bytes(r.array()?);
        let created_unix = u64::from_le_bytes(r.array()?);
        if !r.buf.is_empty() {
            return Err(StoreError::HeaderCorrupt(format!(
                "{} trailing bytes",
                r.buf.len()
            )));
        }
        let h = StoreHeader {
            format_version,
            store_id,
            threshold,
            total,
            commitments,
            kcv,
            slot_count,
            created_unix,
        };
        h.validate()?;
        Ok(h)
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl Reader<'_> {
    fn array<const N: usize>(&mut self) -> Result<[u8; N], StoreError> {
        if self.buf.len() < N {
            return Err(StoreError::HeaderCorrupt("truncated".into()));
        }
        let (head, rest) = self.buf.split_at(N);
        let mut out = [0u8; N];
        out.copy_from_slice(head);
        self.buf = rest;
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> StoreHeader {
        StoreHeader {
            format_version: STORE_FORMAT_VERSION,
            store_id: [7; 16],
            threshold: 2,
            total: 3,
            commitments: vec![[1; 32], [2; 32]],
            kcv: [9; 32],
            slot_count: 4,
            created_unix: 1_700_000_000,
        }
    }

    #[test]
    fn round_trip() {
        let h = sample();
        let enc = h.encode().unwrap();
        assert_eq!(enc.len(), 4 + 2 + 16 + 3 + 64 + 32 + 4 + 8);
        assert_eq!(StoreHeader::decode(&enc).unwrap(), h);
    }

    #[test]
    fn known_encoding() {
        let h = StoreHeader {
            format_version: 1,
            store_id: [0xAA; 16],
            threshold: 1,
            total: 1,
            commitments: vec![],
            kcv: [0x55; 32],
            slot_count: 0x0102_0304,
            created_unix: 0x1122_3344_5566_7788,
        };
        let mut want = b"CSTH\x01\x00".to_vec();
        want.extend_from_slice(&[0xAA; 16]);
        want.extend_from_slice(&[1, 1, 0]);
        want.extend_from_slice(&[0x55; 32]);
        want.extend_from_slice(&[4, 3, 2, 1]);
        want.extend_from_slice(&[0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
        assert_eq!(h.encode().unwrap(), want);
    }

    #[test]
    fn every_truncation_rejected() {
        let enc = sample().encode().unwrap();
        for n in 0..enc.len() {
            assert!(
                matches!(
                    StoreHeader::decode(&enc[..n]),
                    Err(StoreError::HeaderCorrupt(_))
                ),
                "prefix of length {n} accepted"
            );
        }
    }

    #[test]
    fn trailing_bytes_rejected() {
        let mut enc = sample().encode().unwrap();
        enc.push(0);
        assert!(matches!(
            StoreHeader::decode(&enc),
            Err(StoreError::HeaderCorrupt(_))
        ));
    }

    #[test]
    fn bad_magic_and_version_rejected() {
        let mut enc = sample().encode().unwrap();
        enc[0] ^= 1;
        assert!(matches!(
            StoreHeader::decode(&enc),
            Err(StoreError::HeaderCorrupt(_))
        ));
        let mut enc = sample().encode().unwrap();
        enc[4] = 2;
        assert!(matches!(
            StoreHeader::decode(&enc),
            Err(StoreError::UnsupportedVersion(2))
        ));
    }

    #[test]
    fn inconsistent_values_rejected() {
        let mut h = sample();
        h.threshold = 0;
        assert!(matches!(h.encode(), Err(StoreError::HeaderCorrupt(_))));
        let mut h = sample();
        h.threshold = 4;
        assert!(matches!(h.encode(), Err(StoreError::HeaderCorrupt(_))));
        let mut h = sample();
        h.commitments = vec![[0; 32]; 256];
        assert!(matches!(h.encode(), Err(StoreError::HeaderCorrupt(_))));
        let mut h = sample();
        h.format_version = 9;
        assert!(matches!(h.encode(), Err(StoreError::UnsupportedVersion(9))));
        // threshold > total in an otherwise well-formed blob
        let mut enc = sample().encode().unwrap();
        enc[22] = 5;
        assert!(matches!(
            StoreHeader::decode(&enc),
            Err(StoreError::HeaderCorrupt(_))
        ));
    }
}
