//! Shamir secret sharing of 32-byte secrets over GF(2^8).
//!
//! The field is `GF(2)[x]` / (x^8 + x^4 + x^3 + x + 1), the AES field. Each byte
//! of the secret is shared independently with its own random polynomial of
//! degree `threshold - 1` whose constant term is the secret byte; share `i`
//! holds the polynomials evaluated at `x = i`. Field multiplication and
//! inversion run without table lookups or branches that depend on the values.

use zeroize::{Zeroize, Zeroizing};

use super::{random_bytes, VaultError};

/// Low byte of the reduction polynomial x^8 + x^4 + x^3 + x + 1.
const REDUCTION: u8 = 0x1b;

/// One share of a split secret: its non-zero index and its 32-byte value.
pub type Point = (u8, Zeroizing<[u8; 32]>);

/// Multiplies two field elements in constant time (shift-and-add).
pub(crate) fn gf_mul(a: u8, b: u8) -> u8 {
    let mut a = a;
    let mut b = b;
    let mut product = 0u8;
    for _ in 0..8 {
        // All-ones when the low bit of b is set, all-zeros otherwise.
        let take = 0u8.wrapping_sub(b & 1);
        product ^= a & take;
        // All-ones when a will overflow past x^7 on the shift.
        let carry = 0u8.wrapping_sub(a >> 7);
        a = (a << 1) ^ (REDUCTION & carry);
        b >>= 1;
    }
    product
}

/// Multiplicative inverse in constant time, computed as `a^254`.
///
/// Maps 0 to 0. The exponent is fixed, so the square-and-multiply chain is the
/// same for every input.
pub(crate) fn gf_inv(a: u8) -> u8 {
    // 254 = 0b1111_1110: a^254 = a^2 * a^4 * ... * a^128.
    let mut square = gf_mul(a, a); // a^2
    let mut result = square;
    for _ in 0..6 {
        square = gf_mul(square, square); // a^4 .. a^128
        result = gf_mul(result, square);
    }
    result
}

/// Checks `1 <= threshold <= total` (a `u8` total is already at most 255).
pub(crate) fn check_parameters(threshold: u8, total: u8) -> Result<(), VaultError> {
    if threshold == 0 || threshold > total {
        return Err(VaultError::InvalidThreshold { threshold, total });
    }
    Ok(())
}

/// Splits `secret` into `total` shares, any `threshold` of which recover it.
///
/// Returns `(index, value)` pairs with indices `1..=total`. Requires
/// `1 <= threshold <= total <= 255`; with `threshold == 1` every share equals
/// the secret.
pub fn split(secret: &[u8; 32], threshold: u8, total: u8) -> Result<Vec<Point>, VaultError> {
    check_parameters(threshold, total)?;
    // coefficients[k] holds the x^(k+1) coefficients for all 32 byte positions.
    let degree = usize::from(threshold) - 1;
    let mut coefficients: Zeroizing<Vec<[u8; 32]>> = Zeroizing::new(Vec::with_capacity(degree));
    for _ in 0..degree {
        let mut c = random_bytes::<32>()?;
        coefficients.push(c);
        c.zeroize();
    }

    let mut shares = Vec::with_capacity(usize::from(total));
    for x in 1..=total {
        let mut y = Zeroizing::new([0u8; 32]);
        for (pos, out) in y.iter_mut().enumerate() {
            // Horner's rule from the highest coefficient down to the secret.
            let mut acc = 0u8;
            for c in coefficients.iter().rev() {
                acc = gf_mul(acc, x) ^ c[pos];
            }
            acc = gf_mul(acc, x) ^ secret[pos];
            *out = acc;
        }
        shares.push((x, y));
    }
    Ok(shares)
}

/// Recovers the secret from shares by Lagrange interpolation at `x = 0`.
///
/// Every supplied point is used, so exactly the shares meant to be combined
/// should be passed. Indices must be non-zero and distinct. Passing fewer
/// shares than the threshold yields an unrelated value, not an error; callers
/// confirm the result with a key check value.
pub fn combine(points: &[(u8, &[u8; 32])]) -> Result<Zeroizing<[u8; 32]>, VaultError> {
    if points.is_empty() {
        return Err(VaultError::InvalidPoints("no shares given".into()));
    }
    for (i, (xi, _)) in points.iter().enumerate() {
        if *xi == 0 {
            return Err(VaultError::InvalidPoints("share index 0".into()));
        }
        if points[..i].iter().any(|(xj, _)| xj == xi) {
            return Err(VaultError::InvalidPoints(format!(
                "share index {xi} repeated"
            )));
        }
    }

    let mut secret = Zeroizing::new([0u8; 32]);
    for (j, (xj, yj)) in points.iter().enumerate() {
        // Lagrange basis at 0: prod_{m != j} x_m / (x_m - x_j); subtraction is XOR.
        let mut numerator = 1u8;
        let mut denominator = 1u8;
        for (m, (xm, _)) in points.iter().enumerate() {
            if m != j {
                numerator = gf_mul(numerator, *xm);
                denominator = gf_mul(denominator, *xm ^ *xj);
            }
        }
        let basis = gf_mul(numerator, gf_inv(denominator));
        for (out, y) in secret.iter_mut().zip(yj.iter()) {
            *out ^= gf_mul(basis, *y);
        }
    }
    Ok(secret)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reference multiplication: schoolbook carry-less product, then reduction.
    fn reference_mul(a: u8, b: u8) -> u8 {
        let mut wide: u16 = 0;
        for bit in 0..8 {
            if (b >> bit) & 1 == 1 {
                wide ^= u16::from(a) << bit;
            }
        }
        for bit in (8..16).rev() {
            if (wide >> bit) & 1 == 1 {
                wide ^= 0x11b << (bit - 8);
            }
        }
        wide as u8
    }

    fn random_secret() -> [u8; 32] {
        random_bytes::<32>().unwrap()
    }

    /// Small deterministic generator for picking subsets in tests.
    struct Lcg(u64);
    impl Lcg {
        fn next(&mut self) -> u64 {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            self.0 >> 33
        }
        /// A random subset of `k` indices out of `0..n`, in random order.
        fn subset(&mut self, n: usize, k: usize) -> Vec<usize> {
            let mut all: Vec<usize> = (0..n).collect();
            for i in (1..n).rev() {
                let j = (self.next() % (i as u64 + 1)) as usize;
                all.swap(i, j);
            }
            all.truncate(k);
            all
        }
    }

    fn recombine(shares: &[Point], pick: &[usize]) -> Zeroizing<[u8; 32]> {
        let points: Vec<(u8, &[u8; 32])> =
            pick.iter().map(|&i| (shares[i].0, &*shares[i].1)).collect();
        combine(&points).unwrap()
    }

    #[test]
    fn known_products() {
        // FIPS-197 section 4.2 examples.
        assert_eq!(gf_mul(0x57, 0x83), 0xc1);
        assert_eq!(gf_mul(0x57, 0x13), 0xfe);
        assert_eq!(gf_mul(0x57, 0x02), 0xae);
        assert_eq!(gf_mul(0x57, 0x04), 0x47);
        assert_eq!(gf_mul(0x57, 0x08), 0x8e);
        assert_eq!(gf_mul(0x57, 0x10), 0x07);
        assert_eq!(gf_mul(0, 0xff), 0);
        assert_eq!(gf_mul(1, 0xab), 0xab);
        // Known inverse pair from the AES S-box construction: 0x53 * 0xca = 1.
        assert_eq!(gf_inv(0x53), 0xca);
    }

    #[test]
    fn mul_matches_reference_exhaustively() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                assert_eq!(gf_mul(a, b), reference_mul(a, b), "{a:#x} * {b:#x}");
            }
        }
    }

    #[test]
    fn inverse_of_every_nonzero_element() {
        for x in 1..=255u8 {
            assert_eq!(gf_mul(gf_inv(x), x), 1, "inverse of {x:#x}");
        }
        assert_eq!(gf_inv(0), 0);
    }

    #[test]
    fn rejects_bad_parameters() {
        let s = [7u8; 32];
        assert!(matches!(
            split(&s, 0, 5),
            Err(VaultError::InvalidThreshold { .. })
        ));
        assert!(matches!(
            split(&s, 6, 5),
            Err(VaultError::InvalidThreshold { .. })
        ));
        assert!(matches!(
            split(&s, 0, 0),
            Err(VaultError::InvalidThreshold { .. })
        ));
        assert!(matches!(
            split(&s, 1, 0),
            Err(VaultError::InvalidThreshold { .. })
        ));
    }

    #[test]
    fn three_of_five_every_subset() {
        let secret = random_secret();
        let shares = split(&secret, 3, 5).unwrap();
        assert_eq!(shares.len(), 5);
        for (k, (x, _)) in shares.iter().enumerate() {
            assert_eq!(usize::from(*x), k + 1);
        }
        let mut count = 0;
        for a in 0..5 {
            for b in a + 1..5 {
                for c in b + 1..5 {
                    assert_eq!(*recombine(&shares, &[a, b, c]), secret);
                    assert_eq!(*recombine(&shares, &[c, a, b]), secret);
                    count += 1;
                }
            }
        }
        assert_eq!(count, 10);
        // All five shares together also interpolate the same polynomial.
        assert_eq!(*recombine(&shares, &[0, 1, 2, 3, 4]), secret);
    }

    #[test]
    fn below_threshold_gives_other_value() {
        let secret = random_secret();
        let shares = split(&secret, 3, 5).unwrap();
        for a in 0..5 {
            for b in a + 1..5 {
                assert_ne!(*recombine(&shares, &[a, b]), secret);
            }
        }
    }

    #[test]
    fn shares_differ_from_secret_and_each_other() {
        let secret = random_secret();
        let shares = split(&secret, 2, 4).unwrap();
        for (i, (_, v)) in shares.iter().enumerate() {
            assert_ne!(**v, secret);
            for (_, w) in &shares[i + 1..] {
                assert_ne!(**v, **w);
            }
        }
        // Two splits of the same secret use fresh randomness.
        let again = split(&secret, 2, 4).unwrap();
        assert_ne!(*shares[0].1, *again[0].1);
    }

    #[test]
    fn one_of_n_gives_copies() {
        let secret = random_secret();
        let shares = split(&secret, 1, 4).unwrap();
        for (_, v) in &shares {
            assert_eq!(**v, secret);
        }
        assert_eq!(*recombine(&shares, &[2]), secret);
    }

    #[test]
    fn round_trips() {
        let mut rng = Lcg(0x5eed);
        for (m, n, trials) in [(1u8, 1u8, 1), (2, 2, 1), (5, 9, 6), (255, 255, 2)] {
            let secret = random_secret();
            let shares = split(&secret, m, n).unwrap();
            assert_eq!(shares.len(), usize::from(n));
            for _ in 0..trials {
                let pick = rng.subset(usize::from(n), usize::from(m));
                assert_eq!(*recombine(&shares, &pick), secret, "{m}-of-{n}");
            }
            if m > 1 {
                let pick = rng.subset(usize::from(n), usize::from(m) - 1);
                assert_ne!(*recombine(&shares, &pick), secret, "{m}-of-{n} minus one");
            }
        }
    }

    #[test]
    fn combine_rejects_bad_points() {
        let v = [1u8; 32];
        assert!(matches!(combine(&[]), Err(VaultError::InvalidPoints(_))));
        assert!(matches!(
            combine(&[(0, &v)]),
            Err(VaultError::InvalidPoints(_))
        ));
        assert!(matches!(
            combine(&[(1, &v), (2, &v), (1, &v)]),
            Err(VaultError::InvalidPoints(_))
        ));
    }
}
