//! The error type of the store module.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong while creating, opening, reading or writing a store.
#[derive(Debug)]
pub enum StoreError {
    /// No store exists in the given directory.
    NotFound(PathBuf),
    /// A store already exists in the given directory.
    AlreadyExists(PathBuf),
    /// The store was written in a format version this build does not understand.
    UnsupportedVersion(u16),
    /// The plain header of the store is malformed or inconsistent.
    HeaderCorrupt(String),
    /// A record was accessed before the seal key was set.
    Sealed,
    /// A record failed authenticated decryption: it was altered, moved, or the seal key is wrong.
    RecordCorrupt {
        /// Record kind as stored on disk.
        kind: u16,
        /// Record id.
        id: u64,
    },
    /// The store as a whole failed verification: the records do not match the sealed
    /// integrity state (a record was deleted, added or replaced by an older copy), the
    /// header does not match its sealed digest, or the integrity state itself is damaged.
    IntegrityFailure(String),
    /// The store shows an older write generation than one already seen for it: the store
    /// (or its integrity state) was rolled back to an earlier copy.
    RolledBack {
        /// The highest generation seen before (in this process or in the rollback witness).
        seen: u64,
        /// The generation the store shows now.
        found: u64,
    },
    /// The database stayed locked by another process past the busy timeout.
    Busy,
    /// Any other SQLite failure, with SQLite's message.
    Sqlite(String),
    /// A file-system failure, with the operating system's message.
    Io(String),
    /// A cryptographic primitive failed (for example the random generator).
    Crypto(&'static str),
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::NotFound(p) => write!(
                f,
                "no Custos store found in {} (expected {})",
                p.display(),
                p.join(super::DB_FILE).display()
            ),
            StoreError::AlreadyExists(p) => write!(
                f,
                "a Custos store already exists in {}; refusing to overwrite it",
                p.display()
            ),
            StoreError::UnsupportedVersion(v) => write!(
                f,
                "store format version {v} is not supported (this build supports version {})",
                super::STORE_FORMAT_VERSION
            ),
            StoreError::HeaderCorrupt(why) => write!(f, "store header is corrupt: {why}"),
            StoreError::Sealed => write!(f, "store is sealed: the master key has not been supplied"),
            StoreError::RecordCorrupt { kind, id } => write!(
                f,
                "record kind {kind} id {id} failed integrity check (tampered, moved, or wrong master key)"
            ),
            StoreError::IntegrityFailure(why) => {
                write!(f, "store failed its integrity check: {why}")
            }
            StoreError::RolledBack { seen, found } => write!(
                f,
                "store was rolled back: it shows write generation {found}, but generation {seen} \
                 was already seen (an older copy of the store was put in place)"
            ),
            StoreError::Busy => write!(
                f,
                "store database is locked by another process and the wait timed out"
            ),
            StoreError::Sqlite(m) => write!(f, "store database error: {m}"),
            StoreError::Io(m) => write!(f, "store file-system error: {m}"),
            StoreError::Crypto(m) => write!(f, "store cryptographic failure: {m}"),
        }
    }
}

impl std::error::Error for StoreError {}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        if let rusqlite::Error::SqliteFailure(code, _) = &e {
            if matches!(
                code.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) {
                return StoreError::Busy;
            }
        }
        StoreError::Sqlite(e.to_string())
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        StoreError::Io(e.to_string())
    }
}
