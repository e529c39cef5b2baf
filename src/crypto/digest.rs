//! SHA-1 and SHA-2 message digests.

use aws_lc_rs::digest as lc;
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

    fn lc_alg(self) -> &'static lc::Algorithm {
        match self {
            HashAlg::Sha1 => &lc::SHA1_FOR_LEGACY_USE_ONLY,
            HashAlg::Sha224 => &lc::SHA224,
            HashAlg::Sha256 => &lc::SHA256,
            HashAlg::Sha384 => &lc::SHA384,
            HashAlg::Sha512 => &lc::SHA512,
        }
    }

    /// The AWS-LC `EVP_MD` for this algorithm (a pointer to static data).
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
            }
        }
    }
}

/// An incremental hash computation. Cloning forks the state, so a common
/// prefix can be hashed once and finished in several ways.
#[derive(Clone)]
pub struct Hasher {
    alg: HashAlg,
    ctx: lc::Context,
}

impl Hasher {
    /// Starts a new hash computation.
    pub fn new(alg: HashAlg) -> Self {
        Hasher {
            alg,
            ctx: lc::Context::new(alg.lc_alg()),
        }
    }

    /// The algorithm this hasher computes.
    pub fn alg(&self) -> HashAlg {
        self.alg
    }

    /// Feeds more data.
    pub fn update(&mut self, data: &[u8]) {
        self.ctx.update(data);
    }

    /// Finishes and returns the digest (`alg.output_len()` bytes).
    pub fn finish(self) -> Vec<u8> {
        self.ctx.finish().as_ref().to_vec()
    }
}

/// Hashes `data` in one call.
pub fn digest(alg: HashAlg, data: &[u8]) -> Vec<u8> {
    lc::digest(alg.lc_alg(), data).as_ref().to_vec()
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
}
