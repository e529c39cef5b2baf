//! Record sealing with AES-256-GCM.
//!
//! A sealed record is `version u16 LE || nonce (12) || ciphertext || tag (16)`.
//! The additional authenticated data binds the record to its place:
//! `b"custos-record" || kind u16 LE || id u64 LE || slot u32 LE || version u16 LE`.

use aws_lc_rs::aead::{Aad, Nonce, RandomizedNonceKey, AES_256_GCM, NONCE_LEN};
use aws_lc_rs::hmac;
use zeroize::Zeroizing;

use super::error::StoreError;
use super::STORE_FORMAT_VERSION;

const AAD_LABEL: &[u8] = b"custos-record";
/// Message under which the record-digest key is derived from the seal key bytes.
const DIGEST_KEY_LABEL: &[u8] = b"custos-record-digest-key-v1";
/// Domain label of every record digest.
const DIGEST_LABEL: &[u8] = b"custos-record-digest";
const TAG_LEN: usize = 16;
const PREFIX_LEN: usize = 2 + NONCE_LEN;

/// The 256-bit key that seals every record of a store.
///
/// Only the AWS-LC AEAD context is kept (AWS-LC cleanses it when it is dropped);
/// the caller's key bytes are not copied. There is deliberately no `Clone` and no `Debug`.
pub struct SealKey {
    key: RandomizedNonceKey,
    /// HMAC-SHA256 key for record digests (see [`SealKey::record_digest`]), derived from the
    /// same bytes under a distinct label.
    digest: hmac::Key,
}

impl SealKey {
    /// Builds a seal key from 32 raw bytes. The caller remains responsible for
    /// zeroizing its own copy of `bytes`.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<SealKey, StoreError> {
        let key = RandomizedNonceKey::new(&AES_256_GCM, bytes)
            .map_err(|_| StoreError::Crypto("cannot initialise AES-256-GCM key"))?;
        let derived = Zeroizing::new(
            hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, bytes), DIGEST_KEY_LABEL)
                .as_ref()
                .to_vec(),
        );
        let digest = hmac::Key::new(hmac::HMAC_SHA256, &derived);
        Ok(SealKey { key, digest })
    }

    /// A keyed digest of one sealed record in its place: HMAC-SHA256 over
    /// `"custos-record-digest" || kind u16 || id u64 || slot u32 || blob`.
    ///
    /// The store keeps the XOR of the digests of all its records, sealed in its integrity
    /// state. The digests are pseudorandom to anyone without the key, so no set of records
    /// other than the genuine one (an older copy of a record, a deleted or an added record)
    /// reproduces that sum.
    pub(crate) fn record_digest(&self, kind: u16, id: u64, slot: u32, blob: &[u8]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.digest);
        ctx.update(DIGEST_LABEL);
        ctx.update(&kind.to_le_bytes());
        ctx.update(&id.to_le_bytes());
        ctx.update(&slot.to_le_bytes());
        ctx.update(blob);
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }

    /// Encrypts `plain` for record (`kind`, `id`, `slot`) with a fresh random nonce.
    pub(crate) fn seal(
        &self,
        kind: u16,
        id: u64,
        slot: u32,
        plain: &[u8],
    ) -> Result<Vec<u8>, StoreError> {
        let total = PREFIX_LEN
            .checked_add(plain.len())
            .and_then(|n| n.checked_add(TAG_LEN))
            .ok_or(StoreError::Crypto("record too large"))?;
        // Capacity is reserved up front so the buffer holding plaintext is never reallocated
        // (which would leave an unzeroized copy behind). Zeroizing covers the error paths.
        let mut buf = Zeroizing::new(Vec::with_capacity(total));
        buf.extend_from_slice(&STORE_FORMAT_VERSION.to_le_bytes());
        buf.extend_from_slice(&[0u8; NONCE_LEN]);
        buf.extend_from_slice(plain);
        let aad = aad(kind, id, slot, STORE_FORMAT_VERSION);
        let (nonce, tag) = self
            .key
            .seal_in_place_separate_tag(Aad::from(&aad[..]), &mut buf[PREFIX_LEN..])
            .map_err(|_| StoreError::Crypto("AES-256-GCM sealing failed"))?;
        buf[2..PREFIX_LEN].copy_from_slice(nonce.as_ref());
        buf.extend_from_slice(tag.as_ref());
        // The buffer now holds only ciphertext; hand it out without zeroizing a copy.
        Ok(std::mem::take(&mut *buf))
    }

    /// Authenticates and decrypts a sealed record. Any defect gives
    /// [`StoreError::RecordCorrupt`].
    pub(crate) fn open(
        &self,
        kind: u16,
        id: u64,
        slot: u32,
        blob: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let corrupt = StoreError::RecordCorrupt { kind, id };
        if blob.len() < PREFIX_LEN + TAG_LEN {
            return Err(corrupt);
        }
        let version = u16::from_le_bytes([blob[0], blob[1]]);
        if version != STORE_FORMAT_VERSION {
            return Err(corrupt);
        }
        let mut nonce_bytes = [0u8; NONCE_LEN];
        nonce_bytes.copy_from_slice(&blob[2..PREFIX_LEN]);
        let nonce = Nonce::assume_unique_for_key(nonce_bytes);
        let aad = aad(kind, id, slot, version);
        let mut buf = Zeroizing::new(blob[PREFIX_LEN..].to_vec());
        let plain_len = match self
            .key
            .open_in_place(nonce, Aad::from(&aad[..]), &mut buf[..])
        {
            Ok(p) => p.len(),
            Err(_) => return Err(corrupt),
        };
        buf.truncate(plain_len);
        Ok(buf)
    }
}

fn aad(kind: u16, id: u64, slot: u32, version: u16) -> [u8; 13 + 2 + 8 + 4 + 2] {
    let mut a = [0u8; 13 + 2 + 8 + 4 + 2];
    a[..13].copy_from_slice(AAD_LABEL);
    a[13..15].copy_from_slice(&kind.to_le_bytes());
    a[15..23].copy_from_slice(&id.to_le_bytes());
    a[23..27].copy_from_slice(&slot.to_le_bytes());
    a[27..29].copy_from_slice(&version.to_le_bytes());
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::aead::{LessSafeKey, UnboundKey};

    fn key(b: u8) -> SealKey {
        SealKey::from_bytes(&[b; 32]).unwrap()
    }

    #[test]
    fn aad_layout() {
        let a = aad(0x0201, 0x0807_0605_0403_0201, 0x0403_0201, 1);
        let mut want = b"custos-record".to_vec();
        want.extend_from_slice(&[1, 2]);
        want.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
        want.extend_from_slice(&[1, 2, 3, 4]);
        want.extend_from_slice(&[1, 0]);
        assert_eq!(a.to_vec(), want);
    }

    #[test]
    fn round_trip_and_layout() {
        let k = key(3);
        let blob = k.seal(2, 77, 5, b"hello record").unwrap();
        assert_eq!(blob.len(), 2 + 12 + 12 + 16);
        assert_eq!(&blob[..2], &[1, 0]);
        assert_eq!(&*k.open(2, 77, 5, &blob).unwrap(), b"hello record");
        let empty = k.seal(1, 1, 0, b"").unwrap();
        assert!(k.open(1, 1, 0, &empty).unwrap().is_empty());
    }

    #[test]
    fn nonces_differ() {
        let k = key(3);
        let a = k.seal(1, 1, 0, b"same").unwrap();
        let b = k.seal(1, 1, 0, b"same").unwrap();
        assert_ne!(a[2..14], b[2..14]);
        assert_ne!(a, b);
    }

    /// The blob is plain AES-256-GCM: an independent implementation with the
    /// documented nonce and AAD opens it.
    #[test]
    fn interoperates_with_plain_aes_gcm() {
        let k = key(0x42);
        let blob = k.seal(3, 9, 2, b"interop").unwrap();
        let other = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[0x42; 32]).unwrap());
        let mut n = [0u8; 12];
        n.copy_from_slice(&blob[2..14]);
        let mut body = blob[14..].to_vec();
        let mut aad_bytes = b"custos-record".to_vec();
        aad_bytes.extend_from_slice(&3u16.to_le_bytes());
        aad_bytes.extend_from_slice(&9u64.to_le_bytes());
        aad_bytes.extend_from_slice(&2u32.to_le_bytes());
        aad_bytes.extend_from_slice(&1u16.to_le_bytes());
        let plain = other
            .open_in_place(
                Nonce::assume_unique_for_key(n),
                Aad::from(aad_bytes),
                &mut body,
            )
            .unwrap();
        assert_eq!(plain, b"interop");
    }

    #[test]
    fn tampering_rejected() {
        let k = key(3);
        let blob = k.seal(2, 77, 5, b"payload").unwrap();
        let bad = |r: Result<Zeroizing<Vec<u8>>, StoreError>| {
            matches!(r, Err(StoreError::RecordCorrupt { kind: 2, id: 77 }))
        };
        for i in 0..blob.len() {
            let mut b = blob.clone();
            b[i] ^= 0x01;
            assert!(bad(k.open(2, 77, 5, &b)), "flip at byte {i} accepted");
        }
        assert!(k.open(2, 78, 5, &blob).is_err());
        assert!(k.open(1, 77, 5, &blob).is_err());
        assert!(k.open(2, 77, 6, &blob).is_err());
        assert!(bad(key(4).open(2, 77, 5, &blob)));
        for n in 0..blob.len() {
            assert!(bad(k.open(2, 77, 5, &blob[..n])));
        }
    }
}
