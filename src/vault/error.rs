//! The error type shared by every part of the key-custody module.

use std::fmt;

/// Errors returned by key custody, secret sharing, unsealing and PIN handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VaultError {
    /// The system random number generator failed to produce bytes.
    Random,
    /// An underlying cryptographic primitive reported a failure.
    Crypto,
    /// The threshold M and total N of a sharing are not `1 <= M <= N <= 255`.
    InvalidThreshold {
        /// Requested threshold M.
        threshold: u8,
        /// Requested total N.
        total: u8,
    },
    /// A share text or share structure is not well formed; the string says why.
    ShareMalformed(String),
    /// A share's check digits do not match its contents (usually a typing mistake).
    ShareChecksum,
    /// A share belongs to a different key store.
    ForeignShare,
    /// A share's threshold or total differ from the store's.
    ShareMismatch {
        /// Threshold and total recorded in the store header.
        expected: (u8, u8),
        /// Threshold and total carried by the share.
        found: (u8, u8),
    },
    /// A share index is outside `1..=N`.
    IndexOutOfRange {
        /// The index carried by the share.
        index: u8,
        /// The number of shares N.
        total: u8,
    },
    /// A share does not match the commitment recorded for its index (forged or corrupted).
    WrongShare {
        /// The index carried by the share.
        index: u8,
    },
    /// A share with this index has already been entered.
    DuplicateShare {
        /// The repeated index.
        index: u8,
    },
    /// The threshold has already been reached; no more shares are accepted.
    AlreadyComplete,
    /// Fewer shares than the threshold were entered.
    NotEnoughShares {
        /// Shares entered so far.
        have: u8,
        /// Shares required.
        need: u8,
    },
    /// The number of commitments in the store header differs from the number of shares.
    CommitmentCount {
        /// Number of shares N.
        expected: usize,
        /// Number of commitments supplied.
        found: usize,
    },
    /// The recombined master key does not match the store's key check value.
    KeyCheckFailed,
    /// Secret-sharing points were unusable (empty, zero index or repeated index).
    InvalidPoints(String),
    /// A serialized PIN verifier is malformed; the string says why.
    PinVerifierMalformed(String),
    /// A PBKDF2 iteration count of zero was requested.
    InvalidIterations,
    /// A plain share was expected but the text is a passphrase-protected share.
    PassphraseProtected,
    /// A protected share failed to open: the passphrase is wrong, or the file was altered.
    WrongPassphrase,
    /// Argon2 parameters outside the accepted range; the string says which and why.
    KdfParameters(String),
    /// The memory Argon2 needs could not be allocated.
    KdfMemory {
        /// The memory requested, in KiB.
        kib: u32,
    },
    /// A passphrase that cannot be used to protect a share; the string says why.
    Passphrase(String),
}

impl fmt::Display for VaultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            VaultError::Random => write!(f, "the system random number generator failed"),
            VaultError::Crypto => write!(f, "a cryptographic operation failed"),
            VaultError::InvalidThreshold { threshold, total } => write!(
                f,
                "invalid sharing parameters {threshold}-of-{total}: need 1 <= threshold <= total <= 255"
            ),
            VaultError::ShareMalformed(reason) => write!(f, "malformed share: {reason}"),
            VaultError::ShareChecksum => write!(
                f,
                "share check digits do not match; the share was probably mistyped"
            ),
            VaultError::ForeignShare => write!(f, "the share belongs to a different key store"),
            VaultError::ShareMismatch { expected, found } => write!(
                f,
                "the share is from a {}-of-{} sharing but the store uses {}-of-{}",
                found.0, found.1, expected.0, expected.1
            ),
            VaultError::IndexOutOfRange { index, total } => {
                write!(f, "share index {index} is outside 1..={total}")
            }
            VaultError::WrongShare { index } => write!(
                f,
                "share {index} does not match the store's commitment (forged or corrupted)"
            ),
            VaultError::DuplicateShare { index } => {
                write!(f, "share {index} has already been entered")
            }
            VaultError::AlreadyComplete => {
                write!(f, "enough shares have already been entered")
            }
            VaultError::NotEnoughShares { have, need } => {
                write!(f, "not enough shares: have {have}, need {need}")
            }
            VaultError::CommitmentCount { expected, found } => write!(
                f,
                "store header has {found} share commitments but {expected} shares"
            ),
            VaultError::KeyCheckFailed => write!(
                f,
                "the recombined master key does not match the store's key check value"
            ),
            VaultError::InvalidPoints(reason) => write!(f, "invalid sharing points: {reason}"),
            VaultError::PinVerifierMalformed(reason) => {
                write!(f, "malformed PIN verifier: {reason}")
            }
            VaultError::InvalidIterations => {
                write!(f, "PBKDF2 iteration count must be at least 1")
            }
            VaultError::PassphraseProtected => write!(
                f,
                "the share is passphrase-protected and must be unlocked with its custodian's passphrase"
            ),
            VaultError::WrongPassphrase => write!(f, "wrong passphrase or damaged share file"),
            VaultError::KdfParameters(reason) => write!(f, "Argon2 parameters: {reason}"),
            VaultError::KdfMemory { kib } => write!(
                f,
                "cannot allocate the {} MiB of memory Argon2 needs",
                kib.div_ceil(1024)
            ),
            VaultError::Passphrase(reason) => write!(f, "unusable passphrase: {reason}"),
        }
    }
}

impl std::error::Error for VaultError {}
