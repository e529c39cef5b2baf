//! Helpers shared by the crash-consistency test (`tests/crash.rs`) and the load test
//! (`tests/load.rs`): a seeded random generator, hex, SHA-256, P-256 signature checks against
//! an independent implementation, and child processes that are killed when dropped.
//!
//! Both tests include this file with `#[path]`; built on its own it is an empty test binary.

#![allow(dead_code)]

use std::process::{Child, Command};

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, UnparsedPublicKey};

/// A small deterministic generator (SplitMix64): the same seed gives the same choices.
pub struct Rng(u64);

impl Rng {
    /// A generator started from `seed`.
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`0` when `n` is `0`).
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }

    /// `true` with probability `percent` / 100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    /// A uniformly chosen element, or `None` for an empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            None
        } else {
            items.get(self.below(items.len() as u64) as usize)
        }
    }

    /// An index chosen with the given weights (weights of zero are never chosen). Returns
    /// `None` when every weight is zero.
    pub fn weighted(&mut self, weights: &[u64]) -> Option<usize> {
        let total: u64 = weights.iter().sum();
        if total == 0 {
            return None;
        }
        let mut x = self.below(total);
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return Some(i);
            }
            x -= w;
        }
        None
    }
}

/// The seed named by the environment variable `var`, or else one taken from the clock; the
/// caller prints it so a run can be repeated.
pub fn seed_from_env(var: &str) -> u64 {
    if let Some(v) = std::env::var(var).ok().filter(|v| !v.is_empty()) {
        return v
            .parse()
            .unwrap_or_else(|_| panic!("{var} must be a decimal u64, got {v:?}"));
    }
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
}

/// Lower-case hex.
pub fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Parses lower- or upper-case hex; `None` for anything else.
pub fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|p| u8::from_str_radix(p, 16).ok()))
        .collect()
}

/// SHA-256 of `b`.
pub fn sha256(b: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, b).as_ref().to_vec()
}

/// `len` bytes derived from `seed`: SHA-256 in counter mode.
pub fn expand(seed: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    let mut counter: u32 = 0;
    while out.len() < len {
        let mut block = seed.to_vec();
        block.extend_from_slice(&counter.to_le_bytes());
        out.extend_from_slice(&sha256(&block));
        counter += 1;
    }
    out.truncate(len);
    out
}

/// The uncompressed P-256 point inside a `CKA_EC_POINT` DER OCTET STRING, or `None` if the
/// encoding is not exactly that.
pub fn p256_point(der: &[u8]) -> Option<Vec<u8>> {
    if der.len() == 67 && der[0] == 0x04 && der[1] == 65 && der[2] == 0x04 {
        Some(der[2..].to_vec())
    } else {
        None
    }
}

/// Whether `sig` (raw `r || s`, as `CKM_ECDSA_SHA256` returns it) is a valid ECDSA-SHA256
/// signature of `msg` under the public key whose `CKA_EC_POINT` is `point_der`, checked by
/// aws-lc-rs rather than by the module.
pub fn p256_verifies(point_der: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let Some(point) = p256_point(point_der) else {
        return false;
    };
    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
        .verify(msg, sig)
        .is_ok()
}

/// Whether `sig` is a valid RSASSA-PKCS1-v1_5 SHA-256 signature of `msg` under the public key
/// (`modulus`, `exponent`, big-endian), checked by aws-lc-rs rather than by the module.
pub fn rsa_verifies(modulus: &[u8], exponent: &[u8], msg: &[u8], sig: &[u8]) -> bool {
    let key = signature::RsaPublicKeyComponents {
        n: modulus,
        e: exponent,
    };
    key.verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, sig)
        .is_ok()
}

/// A child process that is killed (and reaped) when dropped, so a failing parent leaves no
/// process behind.
pub struct ChildGuard(Option<Child>);

impl ChildGuard {
    /// Starts `cmd`.
    pub fn spawn(cmd: &mut Command) -> ChildGuard {
        ChildGuard(Some(cmd.spawn().expect("start a child test process")))
    }

    /// The running child.
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("the child is still held")
    }

    /// Gives the child up without killing it.
    pub fn into_inner(mut self) -> Child {
        self.0.take().expect("the child is still held")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if let Some(mut c) = self.0.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// A command that re-runs this test binary for the single (ignored) test `name` only, with
/// its output not captured.
pub fn self_command(name: &str) -> Command {
    let exe = std::env::current_exe().expect("the path of the test binary");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        name,
        "--nocapture",
        "--ignored",
        "--test-threads=1",
    ]);
    cmd
}
