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
