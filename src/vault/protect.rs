//! Passphrase-protected share files.
//!
//! A custodian's share can be kept in a file that is useless without the custodian's
//! passphrase. A 256-bit key is derived from the passphrase and a random 16-byte salt with
//! Argon2id (RFC 9106, version 0x13), and the 32-byte share value is encrypted under it with
//! AES-256-GCM and a random 96-bit nonce. The plain fields of the file (format version, store
//! id, share index, threshold M, total N), the Argon2 parameters and the salt are the
//! associated data, so changing any of them makes the file fail to open, exactly like a wrong
//! passphrase.
//!
//! The text form, one share per file:
//!
//! ```text
//! CUSTOS PROTECTED SHARE v1
//! store: <32 hex digits>
//! share: <index> of <N> (threshold <M>)
//! kdf: argon2id m=<memory in KiB> t=<passes> p=<lanes>
//! salt: <32 hex digits>
//! nonce: <24 hex digits>
//! ciphertext: <96 hex digits: the encrypted 32-byte value, then the 16-byte tag>
//! ```
//!
//! Its first line differs from a plain share's (`CUSTOS SHARE v1`), so the two kinds are told
//! apart before anything else is read, and [`super::Share::parse`] refuses a protected share
//! with [`VaultError::PassphraseProtected`].

use std::fmt;

use argon2::{Algorithm, Argon2, Block, Params, Version};
use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use zeroize::Zeroizing;

use super::share::{check_structure, field, hex_decode, hex_encode, malformed, parse_share_line};
use super::{random_bytes, Share, VaultError};

/// Start of the first line of every protected share text.
pub(super) const PROTECTED_HEADER_PREFIX: &str = "CUSTOS PROTECTED SHARE ";
/// Protected share format version written and accepted.
const PROTECTED_VERSION: &str = "v1";
/// The format version as the byte bound into the associated data.
const PROTECTED_VERSION_BYTE: u8 = 1;
/// Domain separator at the start of the associated data.
const AAD_DOMAIN: &[u8] = b"custos/v1/protected-share";
/// Length of the Argon2 salt in bytes.
pub const SALT_LEN: usize = 16;
/// Length of the AES-GCM authentication tag in bytes.
const TAG_LEN: usize = 16;
/// Length of the encrypted share value with its tag.
const SEALED_LEN: usize = 32 + TAG_LEN;
/// Shortest passphrase accepted when a share is protected, in bytes.
pub const MIN_PASSPHRASE_LEN: usize = 8;
/// Longest passphrase accepted, in bytes.
pub const MAX_PASSPHRASE_LEN: usize = 1024;

/// Argon2id cost parameters: memory in KiB, passes over the memory, and lanes.
///
/// [`KdfParams::DEFAULT`] is 64 MiB, 3 passes, 1 lane: the second recommendation of
/// RFC 9106 (section 4, 64 MiB and 3 passes, for memory-constrained settings), with one lane
/// because the derivation runs on one thread, so more lanes would add no cost for an
/// attacker who runs them in parallel. A share is unlocked a handful of times per ceremony,
/// so a fraction of a second per passphrase is affordable, and 64 MiB is available on any
/// machine that runs the tool.
///
/// [`KdfParams::new`] accepts stronger choices and nothing weaker than
/// [`KdfParams::MIN_MEMORY_KIB`] (19 MiB) and [`KdfParams::MIN_PASSES`] (2), OWASP's minimum
/// for Argon2id. Weaker parameters are only made by [`KdfParams::weak_for_tests`], which
/// exists so that tests run quickly. Every constructor caps memory at
/// [`KdfParams::MAX_MEMORY_KIB`], passes at [`KdfParams::MAX_PASSES`] and lanes at
/// [`KdfParams::MAX_LANES`], so a file cannot make the tool spend unbounded memory or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfParams {
    memory_kib: u32,
    passes: u32,
    lanes: u32,
}

impl KdfParams {
    /// The default for new protected shares: 64 MiB, 3 passes, 1 lane.
    pub const DEFAULT: KdfParams = KdfParams {
        memory_kib: 64 * 1024,
        passes: 3,
        lanes: 1,
    };
    /// Least memory [`KdfParams::new`] accepts, in KiB (19 MiB).
    pub const MIN_MEMORY_KIB: u32 = 19 * 1024;
    /// Fewest passes [`KdfParams::new`] accepts.
    pub const MIN_PASSES: u32 = 2;
    /// Most memory accepted anywhere, in KiB (1 GiB).
    pub const MAX_MEMORY_KIB: u32 = 1024 * 1024;
    /// Most passes accepted anywhere.
    pub const MAX_PASSES: u32 = 64;
    /// Most lanes accepted anywhere.
    pub const MAX_LANES: u32 = 16;

    /// Parameters for new protected shares, refusing anything below the minimums
    /// (19 MiB, 2 passes, 1 lane) or above the maximums.
    pub fn new(memory_kib: u32, passes: u32, lanes: u32) -> Result<KdfParams, VaultError> {
        let p = KdfParams::weak_for_tests(memory_kib, passes, lanes)?;
        if memory_kib < KdfParams::MIN_MEMORY_KIB {
            return Err(VaultError::KdfParameters(format!(
                "memory m={memory_kib} KiB is below the minimum of {} KiB (19 MiB)",
                KdfParams::MIN_MEMORY_KIB
            )));
        }
        if passes < KdfParams::MIN_PASSES {
            return Err(VaultError::KdfParameters(format!(
                "t={passes} passes is below the minimum of {}",
                KdfParams::MIN_PASSES
            )));
        }
        Ok(p)
    }

    /// Parameters that may be far below the minimums, for tests only.
    ///
    /// Still refuses what Argon2 itself cannot run (fewer than 8 KiB per lane, 0 passes,
    /// 0 lanes) and anything above the maximums. Protected share files are read with these
    /// limits, so that files made by tests can be opened; [`KdfParams::is_weak`] tells
    /// whether a file's parameters are below the minimums.
    pub fn weak_for_tests(
        memory_kib: u32,
        passes: u32,
        lanes: u32,
    ) -> Result<KdfParams, VaultError> {
        let bad = |why: String| Err(VaultError::KdfParameters(why));
        if lanes == 0 || lanes > KdfParams::MAX_LANES {
            return bad(format!(
                "p={lanes} lanes is outside 1..={}",
                KdfParams::MAX_LANES
            ));
        }
        if passes == 0 || passes > KdfParams::MAX_PASSES {
            return bad(format!(
                "t={passes} passes is outside 1..={}",
                KdfParams::MAX_PASSES
            ));
        }
        let floor = 8 * lanes;
        if memory_kib < floor || memory_kib > KdfParams::MAX_MEMORY_KIB {
            return bad(format!(
                "memory m={memory_kib} KiB is outside {floor}..={} KiB for {lanes} lane(s)",
                KdfParams::MAX_MEMORY_KIB
            ));
        }
        Ok(KdfParams {
            memory_kib,
            passes,
            lanes,
        })
    }

    /// Parses `m=<KiB>,t=<passes>,p=<lanes>` (commas or spaces between the three, in this
    /// order) into parameters checked by [`KdfParams::weak_for_tests`]; callers that make new
    /// shares apply [`KdfParams::new`]'s minimums through [`KdfParams::is_weak`] or by
    /// rebuilding with [`KdfParams::new`].
    pub fn parse_spec(spec: &str) -> Result<KdfParams, VaultError> {
        let (m, t, p) = parse_mtp(spec)?;
        KdfParams::weak_for_tests(m, t, p)
    }

    /// Memory in KiB.
    pub fn memory_kib(&self) -> u32 {
        self.memory_kib
    }

    /// Passes over the memory.
    pub fn passes(&self) -> u32 {
        self.passes
    }

    /// Lanes.
    pub fn lanes(&self) -> u32 {
        self.lanes
    }

    /// Whether these parameters are below the minimums of [`KdfParams::new`].
    pub fn is_weak(&self) -> bool {
        self.memory_kib < KdfParams::MIN_MEMORY_KIB || self.passes < KdfParams::MIN_PASSES
    }

    /// Derives a 32-byte key from `passphrase` and `salt` with Argon2id version 0x13.
    ///
    /// The Argon2 working memory is allocated fallibly (an allocation failure is
    /// [`VaultError::KdfMemory`], not an abort) and wiped before it is freed.
    pub fn derive_key(
        &self,
        passphrase: &[u8],
        salt: &[u8; SALT_LEN],
    ) -> Result<Zeroizing<[u8; 32]>, VaultError> {
        let params = Params::new(self.memory_kib, self.passes, self.lanes, Some(32))
            .map_err(|e| VaultError::KdfParameters(e.to_string()))?;
        let blocks_needed = params.block_count();
        let mut blocks: Zeroizing<Vec<Block>> = Zeroizing::new(Vec::new());
        blocks
            .try_reserve_exact(blocks_needed)
            .map_err(|_| VaultError::KdfMemory {
                kib: self.memory_kib,
            })?;
        blocks.resize(blocks_needed, Block::new());
        let mut key = Zeroizing::new([0u8; 32]);
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
            .hash_password_into_with_memory(passphrase, salt, &mut key[..], &mut blocks[..])
            .map_err(|e| VaultError::KdfParameters(e.to_string()))?;
        Ok(key)
    }
}

impl Default for KdfParams {
    fn default() -> Self {
        KdfParams::DEFAULT
    }
}

impl fmt::Display for KdfParams {
    /// `m=<KiB>,t=<passes>,p=<lanes>`, the form [`KdfParams::parse_spec`] reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "m={},t={},p={}",
            self.memory_kib, self.passes, self.lanes
        )
    }
}

/// Parses `m=<n>`, `t=<n>`, `p=<n>` in this order, separated by commas and/or spaces.
fn parse_mtp(spec: &str) -> Result<(u32, u32, u32), VaultError> {
    let parts: Vec<&str> = spec
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .collect();
    let bad =
        || VaultError::KdfParameters(format!("'{spec}' is not 'm=<KiB>,t=<passes>,p=<lanes>'"));
    let [m, t, p] = parts.as_slice() else {
        return Err(bad());
    };
    let num = |part: &str, key: &str| -> Result<u32, VaultError> {
        let v = part.strip_prefix(key).ok_or_else(bad)?;
        if v.is_empty() || v.len() > 10 || !v.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad());
        }
        v.parse::<u32>().map_err(|_| bad())
    };
    Ok((num(m, "m=")?, num(t, "t=")?, num(p, "p=")?))
}

/// Checks a passphrase chosen for a new protected share: 8 to 1024 bytes.
pub fn check_new_passphrase(passphrase: &[u8]) -> Result<(), VaultError> {
    if passphrase.len() < MIN_PASSPHRASE_LEN {
        return Err(VaultError::Passphrase(format!(
            "it is {} bytes long; use at least {MIN_PASSPHRASE_LEN}",
            passphrase.len()
        )));
    }
    if passphrase.len() > MAX_PASSPHRASE_LEN {
        return Err(VaultError::Passphrase(format!(
            "it is longer than {MAX_PASSPHRASE_LEN} bytes"
        )));
    }
    Ok(())
}

/// A share encrypted under its custodian's passphrase.
///
/// Holds only public data (the plain fields, the Argon2 parameters, the salt, the nonce) and
/// the ciphertext; [`ProtectedShare::unlock`] turns it back into a [`Share`].
#[derive(Clone, PartialEq, Eq)]
pub struct ProtectedShare {
    store_id: [u8; 16],
    index: u8,
    threshold: u8,
    total: u8,
    params: KdfParams,
    salt: [u8; SALT_LEN],
    nonce: [u8; NONCE_LEN],
    sealed: [u8; SEALED_LEN],
}

impl fmt::Debug for ProtectedShare {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtectedShare")
            .field("store_id", &hex_encode(&self.store_id).as_str())
            .field("index", &self.index)
            .field("threshold", &self.threshold)
            .field("total", &self.total)
            .field("params", &self.params)
            .finish_non_exhaustive()
    }
}

impl ProtectedShare {
    /// Encrypts `share` under a key derived from `passphrase` with `params` and a fresh
    /// random salt and nonce. The passphrase must pass [`check_new_passphrase`].
    pub fn protect(
        share: &Share,
        passphrase: &[u8],
        params: KdfParams,
    ) -> Result<ProtectedShare, VaultError> {
        check_new_passphrase(passphrase)?;
        let mut out = ProtectedShare {
            store_id: *share.store_id(),
            index: share.index(),
            threshold: share.threshold(),
            total: share.total(),
            params,
            salt: random_bytes::<SALT_LEN>()?,
            nonce: random_bytes::<NONCE_LEN>()?,
            sealed: [0u8; SEALED_LEN],
        };
        let key = out.params.derive_key(passphrase, &out.salt)?;
        let aead = aead_key(&key)?;
        let mut buf = Zeroizing::new(share.value().to_vec());
        let tag = aead
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(out.nonce),
                Aad::from(out.aad()),
                &mut buf[..],
            )
            .map_err(|_| VaultError::Crypto)?;
        let (ct, tg) = out.sealed.split_at_mut(32);
        ct.copy_from_slice(&buf);
        tg.copy_from_slice(tag.as_ref());
        Ok(out)
    }

    /// Decrypts the share with `passphrase`.
    ///
    /// A wrong passphrase and any change to the file (plain fields, parameters, salt, nonce
    /// or ciphertext) give [`VaultError::WrongPassphrase`]: the two cannot be told apart.
    pub fn unlock(&self, passphrase: &[u8]) -> Result<Share, VaultError> {
        if passphrase.len() > MAX_PASSPHRASE_LEN {
            return Err(VaultError::WrongPassphrase);
        }
        let key = self.params.derive_key(passphrase, &self.salt)?;
        let aead = aead_key(&key)?;
        let mut buf = Zeroizing::new(self.sealed.to_vec());
        let plain = aead
            .open_in_place(
                Nonce::assume_unique_for_key(self.nonce),
                Aad::from(self.aad()),
                &mut buf[..],
            )
            .map_err(|_| VaultError::WrongPassphrase)?;
        let mut value = Zeroizing::new([0u8; 32]);
        if plain.len() != value.len() {
            return Err(VaultError::WrongPassphrase);
        }
        value.copy_from_slice(plain);
        Share::new(self.store_id, self.index, self.threshold, self.total, value)
    }

    /// Identifier of the key store the share belongs to (as the file states it).
    pub fn store_id(&self) -> &[u8; 16] {
        &self.store_id
    }

    /// Index of the share, `1..=total`.
    pub fn index(&self) -> u8 {
        self.index
    }

    /// Shares needed to recover the master key (M).
    pub fn threshold(&self) -> u8 {
        self.threshold
    }

    /// Shares issued (N).
    pub fn total(&self) -> u8 {
        self.total
    }

    /// The Argon2id parameters the file was made with.
    pub fn params(&self) -> KdfParams {
        self.params
    }

    /// The associated data: `"custos/v1/protected-share" || version (1) || store_id ||
    /// index || M || N || m (u32 LE) || t (u32 LE) || p (u32 LE) || salt`.
    fn aad(&self) -> Vec<u8> {
        let mut a = Vec::with_capacity(AAD_DOMAIN.len() + 1 + 16 + 3 + 12 + SALT_LEN);
        a.extend_from_slice(AAD_DOMAIN);
        a.push(PROTECTED_VERSION_BYTE);
        a.extend_from_slice(&self.store_id);
        a.extend_from_slice(&[self.index, self.threshold, self.total]);
        a.extend_from_slice(&self.params.memory_kib.to_le_bytes());
        a.extend_from_slice(&self.params.passes.to_le_bytes());
        a.extend_from_slice(&self.params.lanes.to_le_bytes());
        a.extend_from_slice(&self.salt);
        a
    }

    /// Encodes the protected share as text (see the module documentation); ends with a
    /// newline.
    pub fn to_text(&self) -> String {
        format!(
            "{PROTECTED_HEADER_PREFIX}{PROTECTED_VERSION}\n\
             store: {}\n\
             share: {} of {} (threshold {})\n\
             kdf: argon2id m={} t={} p={}\n\
             salt: {}\n\
             nonce: {}\n\
             ciphertext: {}\n",
            hex_encode(&self.store_id).as_str(),
            self.index,
            self.total,
            self.threshold,
            self.params.memory_kib,
            self.params.passes,
            self.params.lanes,
            hex_encode(&self.salt).as_str(),
            hex_encode(&self.nonce).as_str(),
            hex_encode(&self.sealed).as_str(),
        )
    }

    /// Parses the text produced by [`ProtectedShare::to_text`].
    ///
    /// Whitespace is tolerated as by [`Share::parse`]. Malformed text gives
    /// [`VaultError::ShareMalformed`] with the reason, and Argon2 parameters outside the
    /// limits of [`KdfParams::weak_for_tests`] give [`VaultError::KdfParameters`]. A plain
    /// share is refused as malformed, naming the header it has.
    pub fn parse(text: &str) -> Result<ProtectedShare, VaultError> {
        let lines: Vec<&str> = text.trim().split('\n').map(str::trim).collect();
        let header = lines.first().copied().unwrap_or("");
        match header.strip_prefix(PROTECTED_HEADER_PREFIX) {
            Some(PROTECTED_VERSION) => {}
            Some(other) => {
                return Err(malformed(format!(
                    "unsupported protected share format version '{other}' \
                     (expected {PROTECTED_VERSION})"
                )))
            }
            None => {
                return Err(malformed(format!(
                    "missing '{PROTECTED_HEADER_PREFIX}{PROTECTED_VERSION}' header line"
                )))
            }
        }
        let [_, store_line, share_line, kdf_line, salt_line, nonce_line, ct_line] =
            lines.as_slice()
        else {
            return Err(malformed(format!(
                "a protected share has 7 lines, found {}",
                lines.len()
            )));
        };
        let mut store_id = [0u8; 16];
        hex_decode(field(store_line, "store")?, &mut store_id, "store")?;
        let (index, total, threshold) = parse_share_line(field(share_line, "share")?)?;
        check_structure(index, threshold, total)?;
        let kdf = field(kdf_line, "kdf")?;
        let spec = kdf.strip_prefix("argon2id ").ok_or_else(|| {
            malformed(format!(
                "kdf '{kdf}' is not 'argon2id m=<KiB> t=<passes> p=<lanes>'"
            ))
        })?;
        let params = KdfParams::parse_spec(spec)?;
        let mut salt = [0u8; SALT_LEN];
        hex_decode(field(salt_line, "salt")?, &mut salt, "salt")?;
        let mut nonce = [0u8; NONCE_LEN];
        hex_decode(field(nonce_line, "nonce")?, &mut nonce, "nonce")?;
        let mut sealed = [0u8; SEALED_LEN];
        hex_decode(field(ct_line, "ciphertext")?, &mut sealed, "ciphertext")?;
        Ok(ProtectedShare {
            store_id,
            index,
            threshold,
            total,
            params,
            salt,
            nonce,
            sealed,
        })
    }
}

/// An AES-256-GCM key.
fn aead_key(key: &[u8; 32]) -> Result<LessSafeKey, VaultError> {
    UnboundKey::new(&AES_256_GCM, &key[..])
        .map(LessSafeKey::new)
        .map_err(|_| VaultError::Crypto)
}

/// The contents of a share file: a plain share, or one protected by a passphrase.
#[derive(Debug)]
pub enum ShareFile {
    /// A plain share, usable as it is.
    Plain(Share),
    /// A passphrase-protected share; [`ProtectedShare::unlock`] opens it.
    Protected(ProtectedShare),
}

impl ShareFile {
    /// Parses either kind of share text, telling them apart by the first line.
    pub fn parse(text: &str) -> Result<ShareFile, VaultError> {
        let first = text.trim_start().lines().next().unwrap_or("").trim();
        if first.starts_with(PROTECTED_HEADER_PREFIX) {
            ProtectedShare::parse(text).map(ShareFile::Protected)
        } else {
            Share::parse(text).map(ShareFile::Plain)
        }
    }

    /// Whether the share needs a passphrase.
    pub fn is_protected(&self) -> bool {
        matches!(self, ShareFile::Protected(_))
    }

    /// The store id the file states.
    pub fn store_id(&self) -> &[u8; 16] {
        match self {
            ShareFile::Plain(s) => s.store_id(),
            ShareFile::Protected(p) => p.store_id(),
        }
    }

    /// The share index the file states.
    pub fn index(&self) -> u8 {
        match self {
            ShareFile::Plain(s) => s.index(),
            ShareFile::Protected(p) => p.index(),
        }
    }

    /// The threshold M the file states.
    pub fn threshold(&self) -> u8 {
        match self {
            ShareFile::Plain(s) => s.threshold(),
            ShareFile::Protected(p) => p.threshold(),
        }
    }

    /// The total N the file states.
    pub fn total(&self) -> u8 {
        match self {
            ShareFile::Plain(s) => s.total(),
            ShareFile::Protected(p) => p.total(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::{split_master_key, MasterKey};

    /// Fast parameters for tests: 64 KiB, 1 pass, 1 lane.
    fn fast() -> KdfParams {
        KdfParams::weak_for_tests(64, 1, 1).unwrap()
    }

    const PASS: &[u8] = b"correct horse battery";

    fn share() -> Share {
        let mk = MasterKey::generate().unwrap();
        let mut shares = split_master_key(&mk, [7; 16], 2, 3).unwrap();
        shares.remove(1)
    }

    /// The protected text with one line replaced.
    fn edit_line(text: &str, n: usize, line: &str) -> String {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        lines[n] = line.to_string();
        lines.join("\n") + "\n"
    }

    /// The protected text with one hex digit of a line's value changed.
    fn flip_digit(text: &str, name: &str) -> String {
        let lines: Vec<&str> = text.lines().collect();
        let n = lines
            .iter()
            .position(|l| l.starts_with(&format!("{name}: ")))
            .unwrap();
        let value = lines[n].split_once(": ").unwrap().1;
        let first = if value.starts_with('0') { '1' } else { '0' };
        edit_line(text, n, &format!("{name}: {first}{}", &value[1..]))
    }

    fn unlock_err(text: &str, pass: &[u8]) -> VaultError {
        match ProtectedShare::parse(text).and_then(|p| p.unlock(pass)) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e,
        }
    }

    #[test]
    fn round_trip() {
        let s = share();
        let p = ProtectedShare::protect(&s, PASS, fast()).unwrap();
        let text = p.to_text();
        assert!(text.starts_with("CUSTOS PROTECTED SHARE v1\n"), "{text}");
        assert!(text.contains("\nshare: 2 of 3 (threshold 2)\n"), "{text}");
        assert!(text.contains("\nkdf: argon2id m=64 t=1 p=1\n"), "{text}");
        assert!(text.contains(&format!("\nstore: {}\n", "07".repeat(16))));
        // The share value appears nowhere in the text.
        assert!(!text.contains(hex_encode(s.value()).as_str()));
        let parsed = ProtectedShare::parse(&text).unwrap();
        assert_eq!(parsed, p);
        let back = parsed.unlock(PASS).unwrap();
        assert_eq!(back.value(), s.value());
        assert_eq!(back.commitment(), s.commitment());
        assert_eq!((back.index(), back.threshold(), back.total()), (2, 2, 3));
        // Fresh salt and nonce every time.
        let again = ProtectedShare::protect(&s, PASS, fast()).unwrap();
        assert_ne!(again.salt, p.salt);
        assert_ne!(again.nonce, p.nonce);
        assert_ne!(again.sealed, p.sealed);
    }

    #[test]
    fn wrong_passphrase() {
        let p = ProtectedShare::protect(&share(), PASS, fast()).unwrap();
        let text = p.to_text();
        for wrong in [
            &b"correct horse batterY"[..],
            b"",
            b"correct horse battery ",
        ] {
            assert_eq!(unlock_err(&text, wrong), VaultError::WrongPassphrase);
        }
        assert_eq!(
            VaultError::WrongPassphrase.to_string(),
            "wrong passphrase or damaged share file"
        );
        assert_eq!(
            unlock_err(&text, &[b'x'; MAX_PASSPHRASE_LEN + 1]),
            VaultError::WrongPassphrase
        );
    }

    #[test]
    fn every_field_is_authenticated() {
        let p = ProtectedShare::protect(&share(), PASS, fast()).unwrap();
        let text = p.to_text();
        let tampered = [
            ("salt", flip_digit(&text, "salt")),
            ("nonce", flip_digit(&text, "nonce")),
            ("ciphertext", flip_digit(&text, "ciphertext")),
            ("store", flip_digit(&text, "store")),
            ("index", edit_line(&text, 2, "share: 3 of 3 (threshold 2)")),
            (
                "threshold",
                edit_line(&text, 2, "share: 2 of 3 (threshold 3)"),
            ),
            ("total", edit_line(&text, 2, "share: 2 of 4 (threshold 2)")),
            ("memory", edit_line(&text, 3, "kdf: argon2id m=72 t=1 p=1")),
            ("passes", edit_line(&text, 3, "kdf: argon2id m=64 t=2 p=1")),
            ("lanes", edit_line(&text, 3, "kdf: argon2id m=64 t=1 p=2")),
        ];
        for (what, t) in &tampered {
            assert_ne!(t, &text, "{what}");
            assert_eq!(unlock_err(t, PASS), VaultError::WrongPassphrase, "{what}");
        }
        // The untouched text still opens.
        assert!(ProtectedShare::parse(&text).unwrap().unlock(PASS).is_ok());
    }

    #[test]
    fn associated_data_binds_the_version() {
        // The version byte is part of the associated data: a file claiming another version
        // is refused by the parser, and a share sealed with another version byte does not
        // open.
        let p = ProtectedShare::protect(&share(), PASS, fast()).unwrap();
        let v2 = p.to_text().replace("SHARE v1", "SHARE v2");
        assert!(matches!(
            ProtectedShare::parse(&v2),
            Err(VaultError::ShareMalformed(r)) if r.contains("version 'v2'")
        ));
        let mut aad = p.aad();
        assert_eq!(aad[AAD_DOMAIN.len()], PROTECTED_VERSION_BYTE);
        aad[AAD_DOMAIN.len()] = 2;
        let key = p.params.derive_key(PASS, &p.salt).unwrap();
        let mut buf = p.sealed.to_vec();
        assert!(aead_key(&key)
            .unwrap()
            .open_in_place(
                Nonce::assume_unique_for_key(p.nonce),
                Aad::from(aad),
                &mut buf
            )
            .is_err());
    }

    #[test]
    fn plain_and_protected_are_told_apart() {
        let s = share();
        let plain = s.to_text();
        let protected = ProtectedShare::protect(&s, PASS, fast()).unwrap().to_text();
        assert_eq!(
            Share::parse(&protected).unwrap_err(),
            VaultError::PassphraseProtected
        );
        assert!(VaultError::PassphraseProtected
            .to_string()
            .contains("passphrase-protected"));
        assert!(matches!(
            ProtectedShare::parse(&plain),
            Err(VaultError::ShareMalformed(r)) if r.contains("CUSTOS PROTECTED SHARE v1")
        ));
        match ShareFile::parse(&plain).unwrap() {
            ShareFile::Plain(p) => assert_eq!(p.value(), s.value()),
            other => panic!("expected a plain share, got {other:?}"),
        }
        let f = ShareFile::parse(&format!("\n  {protected}")).unwrap();
        assert!(f.is_protected());
        assert_eq!((f.index(), f.threshold(), f.total()), (2, 2, 3));
        assert_eq!(f.store_id(), &[7; 16]);
        let ShareFile::Protected(p) = f else {
            panic!("expected a protected share")
        };
        assert_eq!(p.unlock(PASS).unwrap().value(), s.value());
        assert!(matches!(
            ShareFile::parse("garbage"),
            Err(VaultError::ShareMalformed(_))
        ));
    }

    #[test]
    fn parse_rejects_malformed_text() {
        let text = ProtectedShare::protect(&share(), PASS, fast())
            .unwrap()
            .to_text();
        let reason = |t: &str| match ProtectedShare::parse(t) {
            Err(VaultError::ShareMalformed(r)) => r,
            other => panic!("expected malformed, got {other:?}"),
        };
        let short: String = text.lines().take(6).collect::<Vec<_>>().join("\n");
        assert!(reason(&short).contains("7 lines"));
        assert!(reason(&edit_line(&text, 3, "kdf: scrypt m=64 t=1 p=1")).contains("argon2id"));
        assert!(reason(&edit_line(&text, 4, "salt: 00")).contains("32 hex digits"));
        assert!(reason(&edit_line(&text, 5, "pepper: 00")).contains("'nonce:'"));
        assert!(reason(&edit_line(&text, 2, "share: 4 of 3 (threshold 2)")).contains("exceeds"));
        let bad_kdf = |line: &str| match ProtectedShare::parse(&edit_line(&text, 3, line)) {
            Err(VaultError::KdfParameters(r)) => r,
            other => panic!("expected bad parameters for {line}, got {other:?}"),
        };
        assert!(bad_kdf("kdf: argon2id m=4 t=1 p=1").contains("m=4"));
        assert!(bad_kdf("kdf: argon2id m=2097152 t=1 p=1").contains("m=2097152"));
        assert!(bad_kdf("kdf: argon2id m=64 t=0 p=1").contains("t=0"));
        assert!(bad_kdf("kdf: argon2id m=64 t=65 p=1").contains("t=65"));
        assert!(bad_kdf("kdf: argon2id m=64 t=1 p=0").contains("p=0"));
        assert!(bad_kdf("kdf: argon2id m=64 t=1 p=17").contains("p=17"));
        assert!(bad_kdf("kdf: argon2id t=1 m=64 p=1").contains("not 'm="));
        assert!(bad_kdf("kdf: argon2id m=64 t=1").contains("not 'm="));
        assert!(bad_kdf("kdf: argon2id m=-64 t=1 p=1").contains("not 'm="));
        assert!(bad_kdf("kdf: argon2id m=99999999999 t=1 p=1").contains("not 'm="));
    }

    #[test]
    fn parameter_minimums() {
        assert_eq!(KdfParams::default(), KdfParams::new(65536, 3, 1).unwrap());
        assert!(!KdfParams::DEFAULT.is_weak());
        assert_eq!(KdfParams::DEFAULT.to_string(), "m=65536,t=3,p=1");
        assert!(KdfParams::new(19 * 1024, 2, 1).is_ok());
        assert!(KdfParams::new(1024 * 1024, 64, 16).is_ok());
        for (m, t, p, needle) in [
            (19 * 1024 - 1, 3, 1, "below the minimum"),
            (65536, 1, 1, "below the minimum"),
            (65536, 3, 0, "p=0"),
            (65536, 3, 17, "p=17"),
            (1024 * 1024 + 1, 3, 1, "outside"),
            (65536, 65, 1, "t=65"),
        ] {
            match KdfParams::new(m, t, p) {
                Err(VaultError::KdfParameters(r)) => assert!(r.contains(needle), "{r}"),
                other => panic!("{m},{t},{p}: {other:?}"),
            }
        }
        // The test-only constructor allows weak values but not impossible ones.
        let weak = KdfParams::weak_for_tests(8, 1, 1).unwrap();
        assert!(weak.is_weak());
        assert!(KdfParams::weak_for_tests(15, 1, 2).is_err());
        assert!(KdfParams::weak_for_tests(16, 1, 2).is_ok());
        assert!(KdfParams::weak_for_tests(64, 0, 1).is_err());
        assert_eq!(
            KdfParams::parse_spec("m=64,t=1,p=1").unwrap(),
            KdfParams::weak_for_tests(64, 1, 1).unwrap()
        );
        assert_eq!(
            KdfParams::parse_spec(" m=65536 t=3 p=1 ").unwrap(),
            KdfParams::DEFAULT
        );
        assert!(KdfParams::parse_spec("m=64,t=1").is_err());
        assert!(KdfParams::parse_spec("m=64,t=1,p=1,x=2").is_err());
        assert!(KdfParams::parse_spec("m=,t=1,p=1").is_err());
    }

    #[test]
    fn new_passphrases_are_checked() {
        let s = share();
        for bad in [&b""[..], b"short", b"1234567"] {
            assert!(matches!(
                ProtectedShare::protect(&s, bad, fast()),
                Err(VaultError::Passphrase(r)) if r.contains("at least 8")
            ));
        }
        assert!(matches!(
            ProtectedShare::protect(&s, &[b'a'; MAX_PASSPHRASE_LEN + 1], fast()),
            Err(VaultError::Passphrase(_))
        ));
        assert!(ProtectedShare::protect(&s, b"12345678", fast()).is_ok());
    }

    #[test]
    fn argon2id_known_answer() {
        // From the reference implementation (Debian's `argon2` tool):
        // echo -n password | argon2 somesaltsomesalt -id -t 2 -m 10 -p 1 -l 32 -r
        let salt: [u8; 16] = *b"somesaltsomesalt";
        let key = KdfParams::weak_for_tests(1024, 2, 1)
            .unwrap()
            .derive_key(b"password", &salt)
            .unwrap();
        assert_eq!(
            hex_encode(&key[..]).as_str(),
            "08a19ee7f6d7f589c2ab6af18d6e724172b19f7d6fd462b38430ab31ceabeaf0"
        );
    }

    #[test]
    fn debug_shows_no_ciphertext() {
        let p = ProtectedShare::protect(&share(), PASS, fast()).unwrap();
        let d = format!("{p:?}");
        assert!(d.contains("index: 2"), "{d}");
        assert!(!d.contains(hex_encode(&p.sealed).as_str()));
        assert!(!d.contains(hex_encode(&p.salt).as_str()));
    }
}
