//! Master-key shares: structure, text encoding, and commitments.

use std::fmt;

use aws_lc_rs::digest;
use zeroize::Zeroizing;

use super::shamir;
use super::{MasterKey, VaultError};

/// First line of every plain share text.
pub(super) const HEADER_PREFIX: &str = "CUSTOS SHARE ";
/// Format version written and accepted.
pub(super) const VERSION: &str = "v1";
/// Domain separator for the typing check digits.
const CHECK_DOMAIN: &[u8] = b"custos/v1/share-check";
/// Domain separator for the share commitment kept in the store header.
const COMMITMENT_DOMAIN: &[u8] = b"custos/v1/share-commitment";

/// One share of a store's master key.
///
/// Holds the store it belongs to, its index `1..=total`, the threshold M and
/// total N of the sharing, and the 32-byte share value. The value is wiped on
/// drop; there is no `Clone`, and `Debug` shows only the public fields.
pub struct Share {
    store_id: [u8; 16],
    index: u8,
    threshold: u8,
    total: u8,
    value: Zeroizing<[u8; 32]>,
}

impl fmt::Debug for Share {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Share")
            .field("store_id", &hex_encode(&self.store_id).as_str())
            .field("index", &self.index)
            .field("threshold", &self.threshold)
            .field("total", &self.total)
            .finish_non_exhaustive()
    }
}

impl Share {
    /// Builds a share, checking `1 <= threshold <= total` and `1 <= index <= total`.
    pub fn new(
        store_id: [u8; 16],
        index: u8,
        threshold: u8,
        total: u8,
        value: Zeroizing<[u8; 32]>,
    ) -> Result<Share, VaultError> {
        check_structure(index, threshold, total)?;
        Ok(Share {
            store_id,
            index,
            threshold,
            total,
            value,
        })
    }

    /// Identifier of the key store this share belongs to.
    pub fn store_id(&self) -> &[u8; 16] {
        &self.store_id
    }

    /// Index of this share, `1..=total`.
    pub fn index(&self) -> u8 {
        self.index
    }

    /// Number of shares needed to recover the master key (M).
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// Number of shares issued (N).
    pub fn total(&self) -> u8 {
        self.total
    }

    /// The secret share value.
    pub(crate) fn value(&self) -> &[u8; 32] {
        &self.value
    }

    /// Bytes `store_id || index || threshold || total || value` after `domain`.
    fn digest_with(&self, domain: &[u8]) -> digest::Digest {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(domain);
        ctx.update(&self.store_id);
        ctx.update(&[self.index, self.threshold, self.total]);
        ctx.update(&self.value[..]);
        ctx.finish()
    }

    /// Four check bytes that catch typing mistakes in the text form:
    /// the first 4 bytes of SHA-256 over
    /// `"custos/v1/share-check" || store_id || index || M || N || value`.
    fn check_bytes(&self) -> [u8; 4] {
        let d = self.digest_with(CHECK_DOMAIN);
        let mut out = [0u8; 4];
        out.copy_from_slice(&d.as_ref()[..4]);
        out
    }

    /// Commitment kept in the store header so that each share can be verified
    /// when it is entered: SHA-256 over
    /// `"custos/v1/share-commitment" || store_id || index || M || N || value`.
    pub fn commitment(&self) -> [u8; 32] {
        let d = self.digest_with(COMMITMENT_DOMAIN);
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        out
    }

    /// Encodes the share as text, one share per file:
    ///
    /// ```text
    /// CUSTOS SHARE v1
    /// store: <32 hex digits>
    /// share: <index> of <N> (threshold <M>)
    /// value: <64 hex digits>
    /// check: <8 hex digits>
    /// ```
    ///
    /// The result ends with a newline and is wiped on drop.
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut text = Zeroizing::new(String::with_capacity(200));
        text.push_str(HEADER_PREFIX);
        text.push_str(VERSION);
        text.push_str("\nstore: ");
        text.push_str(&hex_encode(&self.store_id));
        text.push_str(&format!(
            "\nshare: {} of {} (threshold {})\nvalue: ",
            self.index, self.total, self.threshold
        ));
        text.push_str(&hex_encode(&self.value[..]));
        text.push_str("\ncheck: ");
        text.push_str(&hex_encode(&self.check_bytes()));
        text.push('\n');
        text
    }

    /// Parses the text produced by [`Share::to_text`].
    ///
    /// Leading and trailing whitespace, CRLF line endings and whitespace around
    /// each line are accepted; hex digits may be upper or lower case. Anything
    /// else that differs from the format is rejected with
    /// [`VaultError::ShareMalformed`] stating the reason, and a share whose
    /// check digits do not match its contents is rejected with
    /// [`VaultError::ShareChecksum`]. A passphrase-protected share (first line
    /// `CUSTOS PROTECTED SHARE ...`) is refused with [`VaultError::PassphraseProtected`];
    /// [`super::ShareFile::parse`] reads both kinds.
    pub fn parse(text: &str) -> Result<Share, VaultError> {
        let lines: Vec<&str> = text.trim().split('\n').map(str::trim).collect();

        let header = lines.first().copied().unwrap_or("");
        if header.starts_with(super::protect::PROTECTED_HEADER_PREFIX) {
            return Err(VaultError::PassphraseProtected);
        }
        match header.strip_prefix(HEADER_PREFIX) {
            Some(VERSION) => {}
            Some(other) => {
                return Err(malformed(format!(
                    "unsupported share format version '{other}' (expected {VERSION})"
                )))
            }
            None => {
                return Err(malformed(format!(
                    "missing '{HEADER_PREFIX}{VERSION}' header line"
                )))
            }
        }
        let [_, store_line, share_line, value_line, check_line] = lines.as_slice() else {
            return Err(malformed(format!(
                "expected 5 lines, found {}",
                lines.len()
            )));
        };

        let mut store_id = [0u8; 16];
        hex_decode(field(store_line, "store")?, &mut store_id, "store")?;

        let (index, total, threshold) = parse_share_line(field(share_line, "share")?)?;

        let mut value = Zeroizing::new([0u8; 32]);
        hex_decode(field(value_line, "value")?, &mut value[..], "value")?;

        let mut check = [0u8; 4];
        hex_decode(field(check_line, "check")?, &mut check, "check")?;

        let share = Share::new(store_id, index, threshold, total, value)?;
        if share.check_bytes() != check {
            return Err(VaultError::ShareChecksum);
        }
        Ok(share)
    }
}

/// Splits the master key into `total` shares for store `store_id`, any
/// `threshold` of which recover it. Requires `1 <= threshold <= total`.
pub fn split_master_key(
    mk: &MasterKey,
    store_id: [u8; 16],
    threshold: u8,
    total: u8,
) -> Result<Vec<Share>, VaultError> {
    let points = shamir::split(mk.secret_bytes(), threshold, total)?;
    points
        .into_iter()
        .map(|(index, value)| Share::new(store_id, index, threshold, total, value))
        .collect()
}

/// Checks the M/N/index relationship of a share.
pub(super) fn check_structure(index: u8, threshold: u8, total: u8) -> Result<(), VaultError> {
    if threshold == 0 {
        return Err(malformed("threshold is 0; it must be at least 1".into()));
    }
    if threshold > total {
        return Err(malformed(format!(
            "threshold {threshold} exceeds the number of shares {total}"
        )));
    }
    if index == 0 {
        return Err(malformed("share index is 0; indices start at 1".into()));
    }
    if index > total {
        return Err(malformed(format!(
            "share index {index} exceeds the number of shares {total}"
        )));
    }
    Ok(())
}

pub(super) fn malformed(reason: String) -> VaultError {
    VaultError::ShareMalformed(reason)
}

/// Returns the text after `name:` on a line, or an error naming the field.
pub(super) fn field<'a>(line: &'a str, name: &str) -> Result<&'a str, VaultError> {
    match line.split_once(':') {
        Some((key, rest)) if key.trim() == name => Ok(rest.trim()),
        _ => Err(malformed(format!("expected a '{name}:' line"))),
    }
}

/// Parses `<index> of <total> (threshold <m>)`.
pub(super) fn parse_share_line(s: &str) -> Result<(u8, u8, u8), VaultError> {
    let bad = || {
        malformed(format!(
            "share line '{s}' is not '<i> of <n> (threshold <m>)'"
        ))
    };
    let words: Vec<&str> = s.split_whitespace().collect();
    match words.as_slice() {
        [index, "of", total, "(threshold", m] => {
            let m = m.strip_suffix(')').ok_or_else(bad)?;
            Ok((
                parse_u8(index, "index")?,
                parse_u8(total, "total")?,
                parse_u8(m, "threshold")?,
            ))
        }
        _ => Err(bad()),
    }
}

/// Parses a plain decimal number in `0..=255` (digits only).
pub(super) fn parse_u8(s: &str, what: &str) -> Result<u8, VaultError> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(format!("{what} '{s}' is not a number")));
    }
    s.parse::<u8>()
        .map_err(|_| malformed(format!("{what} {s} is larger than 255")))
}

/// Lower-case hex encoding without branches on the data.
pub(super) fn hex_encode(bytes: &[u8]) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(bytes.len() * 2));
    for &b in bytes {
        out.push(char::from(hex_digit(b >> 4)));
        out.push(char::from(hex_digit(b & 0x0f)));
    }
    out
}

/// Maps a nibble to its lower-case ASCII hex digit with arithmetic only.
fn hex_digit(nibble: u8) -> u8 {
    let n = i16::from(nibble);
    // (9 - n) >> 8 is all ones when n > 9; then add 'a' - '0' - 10 = 39.
    (n + 48 + (((9 - n) >> 8) & 39)) as u8
}

/// All ones when `lo <= x <= hi`, zero otherwise, without branches.
fn in_range_mask(x: i16, lo: i16, hi: i16) -> i16 {
    ((lo - 1 - x) & (x - hi - 1)) >> 15
}

/// Decodes exactly `out.len()` bytes of hex (either case) into `out`.
///
/// The digits are decoded without branches on their values; only the length
/// and the final validity are branched on.
pub(super) fn hex_decode(s: &str, out: &mut [u8], what: &str) -> Result<(), VaultError> {
    let digits = s.as_bytes();
    if !s.is_ascii() {
        return Err(malformed(format!("{what} contains a non-hex character")));
    }
    if digits.len() != out.len() * 2 {
        return Err(malformed(format!(
            "{what} must be {} hex digits, found {}",
            out.len() * 2,
            digits.len()
        )));
    }
    let mut invalid: i16 = 0;
    for (o, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let mut byte: i16 = 0;
        for &c in pair {
            let c = i16::from(c);
            let digit = in_range_mask(c, 0x30, 0x39);
            let lower = in_range_mask(c, 0x61, 0x66);
            let upper = in_range_mask(c, 0x41, 0x46);
            let nibble = (digit & (c - 0x30)) | (lower & (c - 0x57)) | (upper & (c - 0x37));
            invalid |= !(digit | lower | upper);
            byte = (byte << 4) | (nibble & 0x0f);
        }
        *o = (byte & 0xff) as u8;
    }
    if invalid != 0 {
        out.iter_mut().for_each(|b| *b = 0);
        return Err(malformed(format!("{what} contains a non-hex character")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Share {
        let mut value = Zeroizing::new([0u8; 32]);
        for (i, b) in value.iter_mut().enumerate() {
            *b = 0x20 + i as u8;
        }
        let mut store = [0u8; 16];
        for (i, b) in store.iter_mut().enumerate() {
            *b = i as u8;
        }
        Share::new(store, 2, 3, 5, value).unwrap()
    }

    const SAMPLE_TEXT: &str = "CUSTOS SHARE v1\n\
        store: 000102030405060708090a0b0c0d0e0f\n\
        share: 2 of 5 (threshold 3)\n\
        value: 202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f\n\
        check: fc1b74b8\n";

    fn reason(r: Result<Share, VaultError>) -> String {
        match r {
            Err(VaultError::ShareMalformed(s)) => s,
            other => panic!("expected ShareMalformed, got {other:?}"),
        }
    }

    /// Replaces one line of the sample text.
    fn with_line(n: usize, line: &str) -> String {
        let mut lines: Vec<&str> = SAMPLE_TEXT.lines().collect();
        lines[n] = line;
        lines.join("\n")
    }

    #[test]
    fn text_known_answer() {
        assert_eq!(sample().to_text().as_str(), SAMPLE_TEXT);
    }

    #[test]
    fn commitment_known_answer() {
        let expected = "6cd7afd0c6eb44ff31ce8b1d6c4eae2bd41b65d9a839bf7e3e3540d80b09a280";
        assert_eq!(hex_encode(&sample().commitment()).as_str(), expected);
    }

    #[test]
    fn parse_round_trip() {
        let s = Share::parse(SAMPLE_TEXT).unwrap();
        let r = sample();
        assert_eq!(s.store_id(), r.store_id());
        assert_eq!((s.index(), s.threshold(), s.total()), (2, 3, 5));
        assert_eq!(s.value(), r.value());
        assert_eq!(s.commitment(), r.commitment());
    }

    #[test]
    fn parse_tolerates_whitespace_crlf_and_case() {
        let crlf = SAMPLE_TEXT.replace('\n', "\r\n");
        assert_eq!(Share::parse(&crlf).unwrap().index(), 2);
        let padded = format!("\n\n   {}   \n\n", SAMPLE_TEXT.replace('\n', "  \n  "));
        assert_eq!(Share::parse(&padded).unwrap().index(), 2);
        let no_newline = SAMPLE_TEXT.trim_end();
        assert_eq!(Share::parse(no_newline).unwrap().index(), 2);
        let upper = with_line(
            3,
            "value: 202122232425262728292A2B2C2D2E2F303132333435363738393A3B3C3D3E3F",
        );
        assert_eq!(Share::parse(&upper).unwrap().value(), sample().value());
    }

    #[test]
    fn parse_rejects_bad_header_and_version() {
        assert!(reason(Share::parse("hello\n")).contains("header"));
        assert!(reason(Share::parse("")).contains("header"));
        let v2 = with_line(0, "CUSTOS SHARE v2");
        assert!(reason(Share::parse(&v2)).contains("version"));
    }

    #[test]
    fn parse_rejects_structure_errors() {
        let short: String = SAMPLE_TEXT.lines().take(4).collect::<Vec<_>>().join("\n");
        assert!(reason(Share::parse(&short)).contains("5 lines"));
        let extra = format!("{SAMPLE_TEXT}extra: 1\n");
        assert!(reason(Share::parse(&extra)).contains("5 lines"));
        let blank = SAMPLE_TEXT.replacen("\nstore", "\n\nstore", 1);
        assert!(reason(Share::parse(&blank)).contains("5 lines"));
        let wrong_field = with_line(1, "shop: 000102030405060708090a0b0c0d0e0f");
        assert!(reason(Share::parse(&wrong_field)).contains("'store:'"));
        let garbled = with_line(2, "share: 2 from 5 (threshold 3)");
        assert!(reason(Share::parse(&garbled)).contains("share line"));
        let signed = with_line(2, "share: +2 of 5 (threshold 3)");
        assert!(reason(Share::parse(&signed)).contains("not a number"));
        let big = with_line(2, "share: 2 of 300 (threshold 3)");
        assert!(reason(Share::parse(&big)).contains("larger than 255"));
    }

    #[test]
    fn parse_rejects_bad_hex() {
        let short = with_line(1, "store: 000102030405060708090a0b0c0d0e");
        assert!(reason(Share::parse(&short)).contains("32 hex digits"));
        let nonhex = with_line(
            3,
            "value: 20212223242526272829za2b2c2d2e2f303132333435363738393a3b3c3d3e3f",
        );
        assert!(reason(Share::parse(&nonhex)).contains("non-hex"));
        let nonascii = with_line(4, "check: fc1b74é");
        assert!(reason(Share::parse(&nonascii)).contains("check contains a non-hex"));
    }

    #[test]
    fn parse_rejects_bad_numbers() {
        let zero_index = with_line(2, "share: 0 of 5 (threshold 3)");
        assert!(reason(Share::parse(&zero_index)).contains("index is 0"));
        let high_index = with_line(2, "share: 6 of 5 (threshold 3)");
        assert!(reason(Share::parse(&high_index)).contains("index 6 exceeds"));
        let big_m = with_line(2, "share: 2 of 5 (threshold 6)");
        assert!(reason(Share::parse(&big_m)).contains("threshold 6 exceeds"));
        let zero_m = with_line(2, "share: 2 of 5 (threshold 0)");
        assert!(reason(Share::parse(&zero_m)).contains("threshold is 0"));
    }

    #[test]
    fn parse_rejects_typos_by_checksum() {
        // Value typo.
        let typo = with_line(
            3,
            "value: 202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3e",
        );
        assert_eq!(Share::parse(&typo).unwrap_err(), VaultError::ShareChecksum);
        // Store typo, index typo, check typo.
        let store = with_line(1, "store: 000102030405060708090a0b0c0d0e0e");
        assert_eq!(Share::parse(&store).unwrap_err(), VaultError::ShareChecksum);
        let index = with_line(2, "share: 3 of 5 (threshold 3)");
        assert_eq!(Share::parse(&index).unwrap_err(), VaultError::ShareChecksum);
        let check = with_line(4, "check: fc1b74b9");
        assert_eq!(Share::parse(&check).unwrap_err(), VaultError::ShareChecksum);
    }

    #[test]
    fn new_validates() {
        let v = || Zeroizing::new([0u8; 32]);
        assert!(Share::new([0; 16], 1, 1, 1, v()).is_ok());
        assert!(Share::new([0; 16], 0, 1, 1, v()).is_err());
        assert!(Share::new([0; 16], 2, 1, 1, v()).is_err());
        assert!(Share::new([0; 16], 1, 0, 1, v()).is_err());
        assert!(Share::new([0; 16], 1, 2, 1, v()).is_err());
    }

    #[test]
    fn debug_hides_value() {
        let s = format!("{:?}", sample());
        assert!(s.contains("000102030405060708090a0b0c0d0e0f"));
        assert!(s.contains("index: 2"));
        assert!(!s.contains("202122"));
        assert!(!s.contains("32, 33"));
    }

    #[test]
    fn hex_helpers() {
        let all: Vec<u8> = (0..=255).collect();
        let enc = hex_encode(&all);
        let mut dec = vec![0u8; 256];
        hex_decode(&enc, &mut dec, "t").unwrap();
        assert_eq!(dec, all);
        assert_eq!(hex_encode(&[0x0f, 0xa9]).as_str(), "0fa9");
        for bad in ["0g", "g0", "/0", ":0", "@0", "G0", "`0", " 0"] {
            let mut out = [0u8; 1];
            assert!(hex_decode(bad, &mut out, "t").is_err(), "{bad}");
        }
    }

    #[test]
    fn split_master_key_produces_valid_shares() {
        let mk = MasterKey::generate().unwrap();
        let shares = split_master_key(&mk, [9; 16], 2, 3).unwrap();
        assert_eq!(shares.len(), 3);
        for (i, s) in shares.iter().enumerate() {
            assert_eq!(usize::from(s.index()), i + 1);
            assert_eq!((s.threshold(), s.total(), *s.store_id()), (2, 3, [9; 16]));
            let back = Share::parse(&s.to_text()).unwrap();
            assert_eq!(back.value(), s.value());
        }
        let points = [(1u8, shares[0].value()), (3u8, shares[2].value())];
        assert_eq!(&*shamir::combine(&points).unwrap(), mk.secret_bytes());
        assert!(matches!(
            split_master_key(&mk, [9; 16], 4, 3),
            Err(VaultError::InvalidThreshold {
                threshold: 4,
                total: 3
            })
        ));
        assert!(matches!(
            split_master_key(&mk, [9; 16], 0, 3),
            Err(VaultError::InvalidThreshold { .. })
        ));
    }
}
