//! SHA-1, SHA-2 and SHA-3 message digests.

use aws_lc_sys as sys;

/// A hash algorithm the engine can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum HashAlg {
    /// SHA-1 (legacy; still needed for PKCS#11 interoperability).
    Sha1,
    /// SHA-224.
    Sha224,
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
    /// SHA3-224.
    Sha3_224,
    /// SHA3-256.
    Sha3_256,
    /// SHA3-384.
    Sha3_384,
    /// SHA3-512.
    Sha3_512,
}

impl HashAlg {
    /// Length of the digest in bytes.
    pub fn output_len(self) -> usize {
        match self {
            HashAlg::Sha1 => 20,
            HashAlg::Sha224 => 28,
            HashAlg::Sha256 => 32,
            HashAlg::Sha384 => 48,
            HashAlg::Sha512 => 64,
            HashAlg::Sha3_224 => 28,
            HashAlg::Sha3_256 => 32,
            HashAlg::Sha3_384 => 48,
            HashAlg::Sha3_512 => 64,
        }
    }

    /// The DER encoding of the PKCS#1 v1.5 `DigestInfo` structure up to (and
    /// including) the OCTET STRING header of the digest. Appending the digest
    /// gives the complete `DigestInfo`.
    pub fn digest_info_prefix(self) -> &'static [u8] {
        match self {
            HashAlg::Sha1 => &[
                0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04,
                0x14,
            ],
            HashAlg::Sha224 => &[
                0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x04, 0x05, 0x00, 0x04, 0x1c,
            ],
            HashAlg::Sha256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x01, 0x05, 0x00, 0x04, 0x20,
            ],
            HashAlg::Sha384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x02, 0x05, 0x00, 0x04, 0x30,
            ],
            HashAlg::Sha512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x03, 0x05, 0x00, 0x04, 0x40,
            ],
            // id-sha3-224 .. id-sha3-512: 2.16.840.1.101.3.4.2.7 .. .10
            HashAlg::Sha3_224 => &[
                0x30, 0x2d, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x07, 0x05, 0x00, 0x04, 0x1c,
            ],
            HashAlg::Sha3_256 => &[
                0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x08, 0x05, 0x00, 0x04, 0x20,
            ],
            HashAlg::Sha3_384 => &[
                0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x09, 0x05, 0x00, 0x04, 0x30,
            ],
            HashAlg::Sha3_512 => &[
                0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02,
                0x0a, 0x05, 0x00, 0x04, 0x40,
            ],
        }
    }

    /// The complete DER `DigestInfo` for a digest computed with this algorithm.
    pub fn digest_info(self, digest: &[u8]) -> Vec<u8> {
        let prefix = self.digest_info_prefix();
        let mut out = Vec::with_capacity(prefix.len() + digest.len());
        out.extend_from_slice(prefix);
        out.extend_from_slice(digest);
        out
    }

    pub(crate) fn evp_md(self) -> *const sys::EVP_MD {
        // SAFETY: these functions take no arguments and return pointers to
        // static, immutable method tables.
        unsafe {
            match self {
                HashAlg::Sha1 => sys::EVP_sha1(),
                HashAlg::Sha224 => sys::EVP_sha224(),
                HashAlg::Sha256 => sys::EVP_sha256(),
                HashAlg::Sha384 => sys::EVP_sha384(),
                HashAlg::Sha512 => sys::EVP_sha512(),
                HashAlg::Sha3_224 => sys::EVP_sha3_224(),
                HashAlg::Sha3_256 => sys::EVP_sha3_256(),
                HashAlg::Sha3_384 => sys::EVP_sha3_384(),
                HashAlg::Sha3_512 => sys::EVP_sha3_512(),
            }
        }
    }
}

/// An incremental hash computation. Cloning forks the state, so a common
/// prefix can be hashed once and finished in several ways.
/// An incremental hash over AWS-LC's `EVP_MD_CTX`; `Clone` forks the state.
pub struct Hasher {
    alg: HashAlg,
    ctx: *mut sys::EVP_MD_CTX,
}

// SAFETY: the context is exclusively owned by this value and AWS-LC digest contexts have no
// thread affinity; moving one to another thread is sound.
unsafe impl Send for Hasher {}
// SAFETY: every method that touches the context takes `&mut self` (or `self`), except `clone`,
// which only reads it; concurrent reads of a digest context are sound.
unsafe impl Sync for Hasher {}

impl Hasher {
    /// Starts a hash.
    pub fn new(alg: HashAlg) -> Self {
        // SAFETY: EVP_MD_CTX_new returns an owned context (or NULL on allocation failure, which
        // aborts below); EVP_DigestInit_ex with a static EVP_MD cannot fail for valid inputs.
        let ctx = unsafe {
            let ctx = sys::EVP_MD_CTX_new();
            assert!(!ctx.is_null(), "out of memory");
            sys::EVP_DigestInit_ex(ctx, alg.evp_md(), std::ptr::null_mut());
            ctx
        };
        Hasher { alg, ctx }
    }

    /// The hash algorithm.
    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    /// Absorbs data.
    pub fn update(&mut self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        // SAFETY: ctx is a live initialised context; data is a valid slice.
        unsafe { sys::EVP_DigestUpdate(self.ctx, data.as_ptr().cast(), data.len()) };
    }

    /// Finishes the hash.
    pub fn finish(self) -> Vec<u8> {
        let mut out = vec![0u8; sys::EVP_MAX_MD_SIZE as usize];
        let mut len: u32 = 0;
        // SAFETY: out has EVP_MAX_MD_SIZE bytes, the most any digest writes.
        unsafe { sys::EVP_DigestFinal_ex(self.ctx, out.as_mut_ptr(), &mut len) };
        out.truncate(len as usize);
        out
    }
}

impl Clone for Hasher {
    fn clone(&self) -> Self {
        // SAFETY: a fresh context receives a copy of ours; both are owned separately.
        let ctx = unsafe {
            let ctx = sys::EVP_MD_CTX_new();
            assert!(!ctx.is_null(), "out of memory");
            sys::EVP_MD_CTX_copy_ex(ctx, self.ctx);
            ctx
        };
        Hasher { alg: self.alg, ctx }
    }
}

impl Drop for Hasher {
    fn drop(&mut self) {
        // SAFETY: ctx was allocated by EVP_MD_CTX_new and is freed once, here.
        unsafe { sys::EVP_MD_CTX_free(self.ctx) };
    }
}

/// Hashes data in one call.
pub fn digest(alg: HashAlg, data: &[u8]) -> Vec<u8> {
    let mut h = Hasher::new(alg);
    h.update(data);
    h.finish()
}

#[cfg(test)]
pub(crate) fn hex(s: &str) -> Vec<u8> {
    let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    assert!(s.len() % 2 == 0, "odd hex length");
    s.chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [HashAlg; 5] = [
        HashAlg::Sha1,
        HashAlg::Sha224,
        HashAlg::Sha256,
        HashAlg::Sha384,
        HashAlg::Sha512,
    ];

    #[test]
    fn abc_known_answers() {
        // FIPS 180 example "abc" digests.
        let cases = [
            (HashAlg::Sha1, "a9993e364706816aba3e25717850c26c9cd0d89d"),
            (
                HashAlg::Sha224,
                "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7",
            ),
            (
                HashAlg::Sha256,
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
            ),
            (
                HashAlg::Sha384,
                "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded163\
                 1a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7",
            ),
            (
                HashAlg::Sha512,
                "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a\
                 2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f",
            ),
        ];
        for (alg, expected) in cases {
            assert_eq!(digest(alg, b"abc"), hex(expected), "{alg:?}");
        }
    }

    #[test]
    fn output_len_matches() {
        for alg in ALL {
            assert_eq!(digest(alg, b"").len(), alg.output_len());
        }
    }

    #[test]
    fn incremental_and_fork() {
        for alg in ALL {
            let mut h = Hasher::new(alg);
            assert_eq!(h.alg(), alg);
            h.update(b"hello ");
            let mut fork = h.clone();
            h.update(b"world");
            fork.update(b"there");
            assert_eq!(h.finish(), digest(alg, b"hello world"));
            assert_eq!(fork.finish(), digest(alg, b"hello there"));
        }
    }

    #[test]
    fn digest_info_prefix_is_well_formed() {
        for alg in ALL {
            let p = alg.digest_info_prefix();
            // Outer SEQUENCE length covers everything after the first two bytes.
            assert_eq!(p[0], 0x30);
            assert_eq!(p[1] as usize, p.len() - 2 + alg.output_len());
            // Final OCTET STRING header announces the digest length.
            assert_eq!(p[p.len() - 2], 0x04);
            assert_eq!(p[p.len() - 1] as usize, alg.output_len());
            let info = alg.digest_info(&digest(alg, b"x"));
            assert_eq!(info.len(), p.len() + alg.output_len());
        }
    }

    #[test]
    fn evp_md_sizes_agree() {
        for alg in ALL {
            // SAFETY: evp_md returns a valid static EVP_MD.
            let size = unsafe { sys::EVP_MD_size(alg.evp_md()) };
            assert_eq!(size, alg.output_len());
        }
    }

    /// FIPS 202 example values (NIST "Examples with Intermediate Values",
    /// SHA3-224/256/384/512 of "abc").
    #[test]
    fn sha3_abc_digests() {
        let cases = [
            (
                HashAlg::Sha3_224,
                "e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf",
            ),
            (
                HashAlg::Sha3_256,
                "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532",
            ),
            (
                HashAlg::Sha3_384,
                "ec01498288516fc926459f58e2c6ad8df9b473cb0fc08c2596da7cf0e49be4b2\
                 98d88cea927ac7f539f1edf228376d25",
            ),
            (
                HashAlg::Sha3_512,
                "b751850b1a57168a5693cd924b6b096e08f621827444f70d884f5d0240d2712e\
                 10e116e9192af3c91a7ec57647e3934057340b4cf408d5a56592f8274eec53f0",
            ),
        ];
        for (alg, expected) in cases {
            assert_eq!(digest(alg, b"abc"), hex(expected), "{alg:?}");
            let mut h = Hasher::new(alg);
            h.update(b"a");
            h.update(b"bc");
            assert_eq!(h.finish(), hex(expected));
            assert_eq!(digest(alg, b"").len(), alg.output_len());
        }
    }
}
