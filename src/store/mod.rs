//! The sealed persistent store.
//!
//! A store is a directory holding one SQLite database, [`DB_FILE`], in WAL mode with
//! `synchronous=FULL`, so each committed write is durable when the call returns.
//! Several processes may open the same store at once; each has its own [`Store`].
//!
//! Only the [`StoreHeader`] is kept in plain. Every record is sealed with AES-256-GCM
//! under the [`SealKey`], and the record's kind, id and slot are bound into the
//! authenticated data, so a record that is altered or moved fails to open with
//! [`StoreError::RecordCorrupt`].
//!
//! Each record authenticates alone, but that cannot reveal a record deleted, added, or put
//! back from an older copy of the store. So the store also keeps a sealed *integrity state*
//! (module `state`): the number of records, the XOR of their keyed digests, a digest of the
//! plain header and a write generation that grows with every commit. Every write transaction
//! updates it; [`Store::snapshot`] reads everything in one read transaction and checks it; and
//! the generation is compared with the highest one seen before, in this process and in the
//! rollback witness file ([`witness`]), so a store rolled back to an older copy is refused.
//!
//! Schema:
//! - `header(id = 1, blob)`: the encoded [`StoreHeader`];
//! - `counter(id = 1, next)`: the next id handed out by [`WriteTx::alloc_id`];
//! - `state(id = 1, blob)`: the sealed integrity state (absent only in a store never written);
//! - `records(kind, id, slot, blob)`: sealed records, keyed by `(kind, id)`.
//!
//! Ids are stored in SQLite's signed 64-bit integer column by reinterpreting the bits
//! of the `u64`, so the full `u64` range round-trips.

#![deny(unsafe_code)]

pub mod audit;
mod error;
mod header;
mod seal;
mod state;
pub mod witness;

use std::cell::Cell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use zeroize::Zeroizing;

use state::{IntegrityState, STATE_KIND};

pub use error::StoreError;
pub use header::StoreHeader;
pub use seal::SealKey;

/// Format version of the header and of every sealed record.
pub const STORE_FORMAT_VERSION: u16 = 1;

/// Name of the database file inside a store directory.
pub const DB_FILE: &str = "custos.db";

/// How long a connection waits for another process's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(15);

const SCHEMA: &str = "
CREATE TABLE header (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    blob BLOB NOT NULL
);
CREATE TABLE counter (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    next INTEGER NOT NULL
);
CREATE TABLE audit (
    pos  INTEGER PRIMARY KEY,
    blob BLOB NOT NULL
);
CREATE TABLE state (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    blob BLOB NOT NULL
);
CREATE TABLE records (
    kind INTEGER NOT NULL,
    id   INTEGER NOT NULL,
    slot INTEGER NOT NULL,
    blob BLOB NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
CREATE INDEX records_by_slot ON records (kind, slot);
";

/// The kinds of record a store holds.
#[repr(u16)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RecordKind {
    /// Per-token state (label, PIN verifiers, flags).
    Token = 1,
    /// A PKCS#11 object.
    Object = 2,
    /// Store-wide metadata.
    Meta = 3,
}

impl RecordKind {
    /// Maps the on-disk number back to a kind; `None` for unknown numbers.
    pub fn from_u16(v: u16) -> Option<RecordKind> {
        match v {
            1 => Some(RecordKind::Token),
            2 => Some(RecordKind::Object),
            3 => Some(RecordKind::Meta),
            _ => None,
        }
    }

    /// The on-disk number of this kind.
    pub fn as_u16(self) -> u16 {
        self as u16
    }
}

/// A record's slot and decrypted content, as returned by [`Store::get`] and [`WriteTx::get`].
pub type SlotContent = (u32, Zeroizing<Vec<u8>>);

/// One decrypted record returned by [`Store::list`].
pub struct Record {
    /// Record id.
    pub id: u64,
    /// Slot the record belongs to.
    pub slot: u32,
    /// Decrypted content, zeroized on drop.
    pub plain: Zeroizing<Vec<u8>>,
}

impl fmt::Debug for Record {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Record")
            .field("id", &self.id)
            .field("slot", &self.slot)
            .field("plain_len", &self.plain.len())
            .finish()
    }
}

/// Every record of a store, read in one read transaction and verified against the sealed
/// integrity state, as returned by [`Store::snapshot`].
#[derive(Debug, Default)]
pub struct Snapshot {
    /// The write generation the records belong to.
    pub generation: u64,
    /// Token records, ordered by id.
    pub tokens: Vec<Record>,
    /// Object records, ordered by id.
    pub objects: Vec<Record>,
    /// Store-wide metadata records, ordered by id.
    pub meta: Vec<Record>,
}

/// A lock-free way to notice that some connection may have committed to the store: it reads
/// the header of SQLite's shared WAL index (the `-shm` file), whose change counter, last frame
/// and salts every commit updates (the layout is part of SQLite's documented WAL file
/// format). Reading it costs one `pread`, takes no lock and can be done from any thread.
///
/// The probe only decides when [`Store::external_change`] is worth asking: a different token
/// means "look", an equal token means no commit happened in between. A header whose two
/// copies disagree (a writer is updating it) gives no token, which callers treat as a change.
#[derive(Debug)]
pub struct ChangeProbe {
    shm: std::fs::File,
}

/// Size of one copy of SQLite's WAL-index header.
const WAL_INDEX_HEADER_LEN: usize = 48;

impl ChangeProbe {
    /// A token that changes whenever a transaction commits, or `None` when the header could
    /// not be read consistently.
    #[cfg(unix)]
    pub fn token(&self) -> Option<u64> {
        use std::os::unix::fs::FileExt;
        let mut buf = [0u8; 2 * WAL_INDEX_HEADER_LEN];
        let n = self.shm.read_at(&mut buf, 0).ok()?;
        let (a, b) = buf.split_at(WAL_INDEX_HEADER_LEN);
        if n < buf.len() || a != b {
            return None;
        }
        // FNV-1a over the header: the fields that change on commit all feed the token.
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for &x in a {
            h = (h ^ u64::from(x)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        Some(h)
    }

    /// Without positioned reads the probe never vouches for anything.
    #[cfg(not(unix))]
    pub fn token(&self) -> Option<u64> {
        None
    }
}

/// An open store. Not shared between threads; each process (or thread) opens its own.
pub struct Store {
    conn: Connection,
    dir: PathBuf,
    header: StoreHeader,
    /// SHA-256 of the header bytes as read from the database.
    header_digest: [u8; 32],
    key: Option<SealKey>,
    data_version: Cell<i64>,
    /// Highest write generation seen, and the rollback witness.
    generations: witness::Generations,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("dir", &self.dir)
            .field("header", &self.header)
            .field("unsealed", &self.key.is_some())
            .field("seen_generation", &self.generations.seen())
            .finish()
    }
}

/// Stores a `u64` id in SQLite's signed integer by reinterpreting its bits.
fn id_to_sql(id: u64) -> i64 {
    i64::from_le_bytes(id.to_le_bytes())
}

/// Inverse of [`id_to_sql`].
fn id_from_sql(v: i64) -> u64 {
    u64::from_le_bytes(v.to_le_bytes())
}

/// Reads a slot column, rejecting values outside `u32` as corruption of that record.
fn slot_from_sql(v: i64, kind: RecordKind, id: u64) -> Result<u32, StoreError> {
    u32::try_from(v).map_err(|_| StoreError::RecordCorrupt {
        kind: kind.as_u16(),
        id,
    })
}

/// Applies the per-connection settings every store connection uses.
fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch(
        "PRAGMA secure_delete = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA trusted_schema = OFF;
         PRAGMA cell_size_check = ON;",
    )?;
    let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(StoreError::Sqlite(format!(
                "cannot switch database to WAL mode (journal_mode is {mode})"
            )));
        }
    }
    // synchronous must be set after the journal mode is known.
    conn.execute_batch("PRAGMA synchronous = FULL;")?;
    let sync: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
    let secure: i64 = conn.query_row("PRAGMA secure_delete", [], |r| r.get(0))?;
    if sync != 2 || secure != 1 {
        return Err(StoreError::Sqlite(
            "database refused synchronous=FULL or secure_delete=ON".into(),
        ));
    }
    Ok(())
}

fn read_data_version(conn: &Connection) -> Result<i64, StoreError> {
    let mut stmt = conn.prepare_cached("PRAGMA data_version")?;
    let v = stmt.query_row([], |r| r.get(0))?;
    Ok(v)
}

fn table_exists(conn: &Connection, name: &str) -> Result<bool, StoreError> {
    let n: i64 = conn.query_row(
        "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = ?1",
        [name],
        |r| r.get(0),
    )?;
    Ok(n > 0)
}

/// Whether the database holds no schema objects at all. A file that is not an SQLite
/// database counts as an existing, foreign file.
fn schema_is_empty(conn: &Connection, dir: &Path) -> Result<bool, StoreError> {
    match conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(n) => Ok(n == 0),
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.code == rusqlite::ErrorCode::NotADatabase =>
        {
            Err(StoreError::AlreadyExists(dir.to_path_buf()))
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(unix)]
pub(crate) fn create_dir_private(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
pub(crate) fn create_dir_private(dir: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

/// Creates (or opens, if left empty by an interrupted creation) the database file with
/// owner-only permissions, so SQLite's `-wal` and `-shm` files inherit them.
#[cfg(unix)]
fn touch_db_private(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map(drop)
}

#[cfg(not(unix))]
fn touch_db_private(path: &Path) -> std::io::Result<()> {
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
}

impl Store {
    /// Creates a new store in `dir` with the given header.
    ///
    /// The directory is created if missing (mode 0700 on Unix). Fails with
    /// [`StoreError::AlreadyExists`] if a store is already there. The schema, the header
    /// and the id counter are written in one transaction. The returned store is sealed.
    pub fn create(dir: &Path, header: &StoreHeader) -> Result<Store, StoreError> {
        let encoded = header.encode()?;
        create_dir_private(dir)
            .map_err(|e| StoreError::Io(format!("cannot create {}: {e}", dir.display())))?;
        let path = dir.join(DB_FILE);
        let exists = || StoreError::AlreadyExists(dir.to_path_buf());
        if std::fs::symlink_metadata(&path).is_ok_and(|m| !m.is_file()) {
            return Err(exists());
        }
        touch_db_private(&path)
            .map_err(|e| StoreError::Io(format!("cannot create {}: {e}", path.display())))?;
        let mut conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        // An existing file is only reused if it is an empty database (left by an
        // interrupted creation); anything else, including a non-SQLite file, is refused
        // before any setting of it is changed.
        if !schema_is_empty(&conn, dir)? {
            return Err(exists());
        }
        configure(&conn)?;
        {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Checked again under the write lock, so two concurrent creators cannot both succeed.
            if !schema_is_empty(&tx, dir)? {
                return Err(exists());
            }
            tx.execute_batch(SCHEMA)?;
            tx.execute("INSERT INTO header (id, blob) VALUES (1, ?1)", [&encoded])?;
            tx.execute("INSERT INTO counter (id, next) VALUES (1, 1)", [])?;
            tx.commit()?;
        }
        let data_version = read_data_version(&conn)?;
        Ok(Store {
            conn,
            dir: dir.to_path_buf(),
            header: header.clone(),
            header_digest: sha256(&encoded),
            key: None,
            data_version: Cell::new(data_version),
            generations: witness::Generations::default(),
        })
    }

    /// Opens the existing store in `dir`. The returned store is sealed.
    ///
    /// Fails with [`StoreError::NotFound`] if `dir` holds no store, and with
    /// [`StoreError::UnsupportedVersion`] or [`StoreError::HeaderCorrupt`] if the header
    /// cannot be accepted.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        let path = dir.join(DB_FILE);
        match std::fs::metadata(&path) {
            Ok(m) if m.is_file() && m.len() > 0 => {}
            Ok(_) => return Err(StoreError::NotFound(dir.to_path_buf())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StoreError::NotFound(dir.to_path_buf()))
            }
            Err(e) => {
                return Err(StoreError::Io(format!(
                    "cannot inspect {}: {e}",
                    path.display()
                )))
            }
        }
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        if !table_exists(&conn, "header")? {
            return Err(StoreError::NotFound(dir.to_path_buf()));
        }
        configure(&conn)?;
        if !table_exists(&conn, "records")?
            || !table_exists(&conn, "counter")?
            || !table_exists(&conn, "state")?
            || !table_exists(&conn, "audit")?
        {
            return Err(StoreError::HeaderCorrupt(
                "database schema is incomplete".into(),
            ));
        }
        let blob: Option<Vec<u8>> = conn
            .query_row("SELECT blob FROM header WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        let blob = blob.ok_or_else(|| StoreError::HeaderCorrupt("header row missing".into()))?;
        let header = StoreHeader::decode(&blob)?;
        let data_version = read_data_version(&conn)?;
        Ok(Store {
            conn,
            dir: dir.to_path_buf(),
            header,
            header_digest: sha256(&blob),
            key: None,
            data_version: Cell::new(data_version),
            generations: witness::Generations::default(),
        })
    }

    /// Keeps the highest write generation of this store in a witness file in `dir` (outside
    /// the store directory), and refuses from now on a store older than the witness says.
    /// See [`witness`] for what this protects against.
    pub fn set_witness_dir(&mut self, dir: &Path) {
        self.generations.set_witness(
            witness::Witness::new(dir, &self.header.store_id),
            self.dir.join(format!("{DB_FILE}-wal")),
        );
    }

    /// The highest write generation seen so far through this handle.
    pub fn seen_generation(&self) -> u64 {
        self.generations.seen()
    }

    /// The store's plain header.
    pub fn header(&self) -> &StoreHeader {
        &self.header
    }

    /// The store directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Supplies the seal key, after which records can be read and written.
    /// A wrong key is not detected here; records then fail with [`StoreError::RecordCorrupt`].
    pub fn set_seal_key(&mut self, key: SealKey) {
        self.key = Some(key);
    }

    /// Whether a seal key has been supplied.
    pub fn is_unsealed(&self) -> bool {
        self.key.is_some()
    }

    fn seal_key(&self) -> Result<&SealKey, StoreError> {
        self.key.as_ref().ok_or(StoreError::Sealed)
    }

    /// Reads and decrypts one record, returning its slot and content, or `None` if absent.
    pub fn get(&self, kind: RecordKind, id: u64) -> Result<Option<SlotContent>, StoreError> {
        let key = self.seal_key()?;
        get_record(&self.conn, key, kind, id)
    }

    /// Reads and decrypts every record of `kind` (restricted to `slot` if given),
    /// ordered by id. Fails as a whole if any of them fails to open.
    pub fn list(&self, kind: RecordKind, slot: Option<u32>) -> Result<Vec<Record>, StoreError> {
        let key = self.seal_key()?;
        let rows: Vec<(i64, i64, Vec<u8>)> = match slot {
            Some(s) => {
                let mut stmt = self.conn.prepare_cached(
                    "SELECT id, slot, blob FROM records WHERE kind = ?1 AND slot = ?2",
                )?;
                let rows = stmt.query_map(params![kind.as_u16(), s], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
                rows.collect::<Result<_, _>>()?
            }
            None => {
                let mut stmt = self
                    .conn
                    .prepare_cached("SELECT id, slot, blob FROM records WHERE kind = ?1")?;
                let rows = stmt.query_map(params![kind.as_u16()], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?;
                rows.collect::<Result<_, _>>()?
            }
        };
        let mut out = Vec::with_capacity(rows.len());
        for (id, slot_v, blob) in rows {
            let id = id_from_sql(id);
            let slot_v = slot_from_sql(slot_v, kind, id)?;
            let plain = key.open(kind.as_u16(), id, slot_v, &blob)?;
            out.push(Record {
                id,
                slot: slot_v,
                plain,
            });
        }
        // Sorted here rather than in SQL so ids above i64::MAX keep unsigned order.
        out.sort_by_key(|r| r.id);
        Ok(out)
    }

    /// Number of records of `kind` (restricted to `slot` if given), without decrypting.
    /// Works while sealed, since kinds and slots are stored in plain.
    pub fn count(&self, kind: RecordKind, slot: Option<u32>) -> Result<u64, StoreError> {
        let n: i64 = match slot {
            Some(s) => {
                let mut stmt = self
                    .conn
                    .prepare_cached("SELECT count(*) FROM records WHERE kind = ?1 AND slot = ?2")?;
                stmt.query_row(params![kind.as_u16(), s], |r| r.get(0))?
            }
            None => {
                let mut stmt = self
                    .conn
                    .prepare_cached("SELECT count(*) FROM records WHERE kind = ?1")?;
                stmt.query_row(params![kind.as_u16()], |r| r.get(0))?
            }
        };
        u64::try_from(n).map_err(|_| StoreError::Sqlite(format!("negative row count {n}")))
    }

    /// Like [`Store::write`], but the commit is not synced to disk before this returns: it is
    /// complete and visible to every process at once and survives the death of any process,
    /// but a power loss or operating-system crash before the next synced commit (or
    /// checkpoint) can lose it, never half of it. For records of events that change nothing
    /// else (a successful login, a key use), which would otherwise cost a disk sync each.
    pub fn write_relaxed<T>(
        &mut self,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.conn.execute_batch("PRAGMA synchronous = NORMAL;")?;
        let r = self.write(f);
        let restored = self.conn.execute_batch("PRAGMA synchronous = FULL;");
        let v = r?;
        restored?;
        Ok(v)
    }

    /// Runs `f` inside one `BEGIN IMMEDIATE` transaction. The transaction commits if `f`
    /// returns `Ok` (durably, before this returns) and rolls back, writing nothing, if
    /// `f` returns `Err`. Fails with [`StoreError::Sealed`] before a key is set.
    pub fn write<T>(
        &mut self,
        f: impl FnOnce(&mut WriteTx<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let key = self.key.as_ref().ok_or(StoreError::Sealed)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let state = read_state(&tx, key, &self.header_digest)?;
        // Nothing is written on top of a store older than one already seen.
        self.generations.check_not_older(state.generation)?;
        let mut wtx = WriteTx {
            tx: &tx,
            key,
            state,
            dirty: false,
        };
        match f(&mut wtx) {
            Ok(v) if !wtx.dirty => {
                // Nothing was written: nothing to commit, and no new generation.
                let _ = tx.rollback();
                Ok(v)
            }
            Ok(v) => {
                let mut state = wtx.state;
                state.generation = state
                    .generation
                    .checked_add(1)
                    .ok_or_else(|| StoreError::IntegrityFailure("generation exhausted".into()))?;
                write_state(&tx, key, &state)?;
                tx.commit()?;
                // Recorded after the commit, so the witness never runs ahead of the store.
                self.generations.observe(state.generation)?;
                Ok(v)
            }
            Err(e) => {
                // Dropping would also roll back; doing it explicitly surfaces nothing new,
                // so a rollback failure is ignored in favour of the caller's error.
                let _ = tx.rollback();
                Err(e)
            }
        }
    }

    /// Reads every record in one read transaction and verifies the store as a whole: each
    /// record authenticates in its place, the records match the sealed integrity state
    /// (count and digest sum), the plain header matches its sealed digest, and the write
    /// generation is not older than one seen before. Any failure refuses the whole snapshot.
    pub fn snapshot(&self) -> Result<Snapshot, StoreError> {
        let key = self.seal_key()?;
        // A deferred transaction: every read below sees the same committed state.
        let tx = self.conn.unchecked_transaction()?;
        let state = read_state(&tx, key, &self.header_digest)?;
        let mut check = IntegrityState::empty(self.header_digest);
        let mut snap = Snapshot {
            generation: state.generation,
            ..Snapshot::default()
        };
        for raw in all_records(&tx)? {
            let plain = raw.open_and_tally(key, &mut check)?;
            let rec = Record {
                id: raw.id,
                slot: raw.slot,
                plain,
            };
            match raw.kind {
                RecordKind::Token => snap.tokens.push(rec),
                RecordKind::Object => snap.objects.push(rec),
                RecordKind::Meta => snap.meta.push(rec),
            }
        }
        drop(tx);
        if check.records != state.records || check.digest_sum != state.digest_sum {
            return Err(StoreError::IntegrityFailure(format!(
                "the {} records present do not match the sealed integrity state ({} records): \
                 a record was deleted, added, or replaced by an older copy",
                check.records, state.records
            )));
        }
        self.generations.observe(state.generation)?;
        for list in [&mut snap.tokens, &mut snap.objects, &mut snap.meta] {
            list.sort_by_key(|r| r.id);
        }
        Ok(snap)
    }

    /// A [`ChangeProbe`] on this store's shared WAL index, or `None` if it cannot be opened.
    pub fn change_probe(&self) -> Option<ChangeProbe> {
        let path = self.dir.join(format!("{DB_FILE}-shm"));
        std::fs::File::open(path)
            .ok()
            .map(|shm| ChangeProbe { shm })
    }

    /// Makes the next [`Store::external_change`] report a change, so a caller whose reload
    /// failed looks at the store again on its next call instead of going on with old data.
    pub fn invalidate(&self) {
        self.data_version.set(-1);
    }

    /// Re-seals the whole store under `new_key` with `new_header` (new threshold, shares
    /// and key check value; the store id and slot count must stay), in one transaction:
    /// every record and audit entry is opened with the current key and sealed again, the
    /// header replaced, and `event` appended to the audit log. If anything fails, or the
    /// process dies part-way, nothing changes and the old key still opens the store.
    pub fn rekey(
        &mut self,
        new_header: &StoreHeader,
        new_key: SealKey,
        event: &audit::AuditEvent,
    ) -> Result<(), StoreError> {
        if new_header.store_id != self.header.store_id
            || new_header.slot_count != self.header.slot_count
        {
            return Err(StoreError::HeaderCorrupt(
                "a rekey must keep the store id and the slot count".into(),
            ));
        }
        let encoded = new_header.encode()?;
        let new_digest = sha256(&encoded);
        let old_key = self.key.as_ref().ok_or(StoreError::Sealed)?;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let old_state = read_state(&tx, old_key, &self.header_digest)?;
        self.generations.check_not_older(old_state.generation)?;
        let mut state = IntegrityState::empty(new_digest);
        state.generation = old_state
            .generation
            .checked_add(1)
            .ok_or_else(|| StoreError::IntegrityFailure("generation exhausted".into()))?;
        let mut check = IntegrityState::empty(self.header_digest);
        for raw in all_records(&tx)? {
            let plain = raw.open_and_tally(old_key, &mut check)?;
            let (kind, id, slot) = (raw.kind.as_u16(), raw.id, raw.slot);
            let sealed = new_key.seal(kind, id, slot, &plain)?;
            state.toggle(&new_key.record_digest(kind, id, slot, &sealed));
            state.records += 1;
            tx.prepare_cached("UPDATE records SET blob = ?3 WHERE kind = ?1 AND id = ?2")?
                .execute(params![kind, id_to_sql(id), sealed])?;
        }
        if check.records != old_state.records || check.digest_sum != old_state.digest_sum {
            return Err(StoreError::IntegrityFailure(
                "the records do not match the sealed integrity state; refusing to rekey".into(),
            ));
        }
        let entries: Vec<(i64, Vec<u8>)> = {
            let mut stmt = tx.prepare("SELECT pos, blob FROM audit ORDER BY pos")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        for (pos, blob) in &entries {
            let plain = old_key.open(audit::AUDIT_KIND, 0, 0, blob).map_err(|_| {
                StoreError::IntegrityFailure(format!(
                    "audit entry {pos} was modified; refusing to rekey"
                ))
            })?;
            let sealed = new_key.seal(audit::AUDIT_KIND, 0, 0, &plain)?;
            tx.prepare_cached("UPDATE audit SET blob = ?2 WHERE pos = ?1")?
                .execute(params![pos, sealed])?;
        }
        state.audit_count = old_state.audit_count;
        state.audit_head = old_state.audit_head;
        tx.execute("UPDATE header SET blob = ?1 WHERE id = 1", [&encoded])?;
        {
            let mut wtx = WriteTx {
                tx: &tx,
                key: &new_key,
                state,
                dirty: true,
            };
            wtx.append_audit(event)?;
            write_state(&tx, &new_key, &wtx.state)?;
            state = wtx.state;
        }
        tx.commit()?;
        self.key = Some(new_key);
        self.header = new_header.clone();
        self.header_digest = new_digest;
        self.generations.observe(state.generation)?;
        Ok(())
    }

    /// Writes a consistent copy of the database to `path` (which must not exist), as SQLite's
    /// `VACUUM INTO` makes it: one file, every record still sealed. Works while sealed.
    pub fn copy_database_to(&self, path: &Path) -> Result<(), StoreError> {
        if path.exists() {
            return Err(StoreError::Io(format!("{} already exists", path.display())));
        }
        let target = path
            .to_str()
            .ok_or_else(|| StoreError::Io(format!("{} is not UTF-8", path.display())))?;
        self.conn.execute("VACUUM INTO ?1", [target])?;
        Ok(())
    }

    /// Reads the whole audit log and checks it against itself and the sealed state: every
    /// entry authenticates, carries the sequence number of its position, chains to the one
    /// before it, and the log ends where the sealed state says. Returns the entries that
    /// could be read and every defect found (an empty list means the log is intact).
    pub fn verify_audit(
        &self,
    ) -> Result<(Vec<audit::AuditEntry>, Vec<audit::AuditDefect>), StoreError> {
        use audit::{AuditDefect, AuditEntry};
        let key = self.seal_key()?;
        let tx = self.conn.unchecked_transaction()?;
        let state = read_state(&tx, key, &self.header_digest)?;
        let rows: Vec<(i64, Vec<u8>)> = {
            let mut stmt = tx.prepare("SELECT pos, blob FROM audit ORDER BY pos")?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        drop(tx);
        let mut entries = Vec::new();
        let mut defects = Vec::new();
        let mut expected: u64 = 1;
        let mut prev_digest = [0u8; 32];
        let mut chain_known = true;
        for (pos, blob) in rows {
            let pos = u64::try_from(pos).unwrap_or(0);
            if pos > state.audit_count {
                defects.push(AuditDefect::Extra(pos));
                continue;
            }
            while expected < pos {
                defects.push(AuditDefect::Missing(expected));
                expected += 1;
                chain_known = false;
            }
            expected = pos + 1;
            let Ok(plain) = key.open(audit::AUDIT_KIND, 0, 0, &blob) else {
                defects.push(AuditDefect::Modified(pos));
                chain_known = false;
                continue;
            };
            let Ok(entry) = AuditEntry::decode(&plain) else {
                defects.push(AuditDefect::Modified(pos));
                chain_known = false;
                continue;
            };
            // After a defect the check picks the chain up again at the next readable entry,
            // so one edit is reported once.
            let sound = if entry.seq != pos {
                defects.push(AuditDefect::Misplaced {
                    position: pos,
                    seq: entry.seq,
                });
                false
            } else if chain_known && entry.prev != prev_digest {
                defects.push(AuditDefect::ChainBroken(pos));
                false
            } else {
                true
            };
            prev_digest = entry.digest();
            chain_known = sound;
            entries.push(entry);
        }
        let present = expected - 1;
        if present < state.audit_count {
            defects.push(AuditDefect::Truncated {
                present,
                sealed: state.audit_count,
            });
        } else if state.audit_count > 0 && (!chain_known || prev_digest != state.audit_head) {
            defects.push(AuditDefect::HeadMismatch);
        }
        Ok((entries, defects))
    }

    /// Returns `true` if another connection (in this or another process) has committed
    /// to the store since the previous call (or since open). This connection's own
    /// commits do not count. Cheap: one `PRAGMA data_version` query.
    pub fn external_change(&self) -> Result<bool, StoreError> {
        let v = read_data_version(&self.conn)?;
        let changed = v != self.data_version.get();
        self.data_version.set(v);
        Ok(changed)
    }
}

/// One row of the `records` table, its place checked but its content still sealed.
struct RawRecord {
    kind: RecordKind,
    id: u64,
    slot: u32,
    blob: Vec<u8>,
}

impl RawRecord {
    /// Opens the record and adds it to `tally` (its count and digest sum).
    fn open_and_tally(
        &self,
        key: &SealKey,
        tally: &mut IntegrityState,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let kind = self.kind.as_u16();
        let plain = key.open(kind, self.id, self.slot, &self.blob)?;
        tally.toggle(&key.record_digest(kind, self.id, self.slot, &self.blob));
        tally.records += 1;
        Ok(plain)
    }
}

/// Every row of the `records` table; an unknown kind or a slot outside `u32` is an error.
fn all_records(conn: &Connection) -> Result<Vec<RawRecord>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT kind, id, slot, blob FROM records")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, i64>(1)?,
            r.get::<_, i64>(2)?,
            r.get::<_, Vec<u8>>(3)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (kind_v, id_v, slot_v, blob) = row?;
        let id = id_from_sql(id_v);
        let kind = u16::try_from(kind_v)
            .ok()
            .and_then(RecordKind::from_u16)
            .ok_or_else(|| StoreError::IntegrityFailure(format!("unknown record kind {kind_v}")))?;
        let slot = slot_from_sql(slot_v, kind, id)?;
        out.push(RawRecord {
            kind,
            id,
            slot,
            blob,
        });
    }
    Ok(out)
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, bytes);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Reads and checks the integrity state. A store that was never written has none: that is
/// accepted only while the store holds no record and has handed out no id.
fn read_state(
    conn: &Connection,
    key: &SealKey,
    header_digest: &[u8; 32],
) -> Result<IntegrityState, StoreError> {
    let blob: Option<Vec<u8>> = conn
        .prepare_cached("SELECT blob FROM state WHERE id = 1")?
        .query_row([], |r| r.get(0))
        .optional()?;
    let Some(blob) = blob else {
        let records: i64 = conn.query_row(
            "SELECT (SELECT count(*) FROM records) + (SELECT count(*) FROM audit)",
            [],
            |r| r.get(0),
        )?;
        let next: Option<i64> = conn
            .query_row("SELECT next FROM counter WHERE id = 1", [], |r| r.get(0))
            .optional()?;
        if records != 0 || next != Some(1) {
            return Err(StoreError::IntegrityFailure(
                "the integrity state is missing from a store that has been written".into(),
            ));
        }
        return Ok(IntegrityState::empty(*header_digest));
    };
    let plain = key.open(STATE_KIND, 0, 0, &blob).map_err(|_| {
        StoreError::IntegrityFailure(
            "the integrity state failed authentication (tampered, or wrong master key)".into(),
        )
    })?;
    let state = IntegrityState::decode(&plain)?;
    if state.header_digest != *header_digest {
        return Err(StoreError::IntegrityFailure(
            "the plain store header does not match its sealed digest (the header was edited)"
                .into(),
        ));
    }
    Ok(state)
}

fn write_state(conn: &Connection, key: &SealKey, state: &IntegrityState) -> Result<(), StoreError> {
    let blob = key.seal(STATE_KIND, 0, 0, &state.encode())?;
    conn.prepare_cached(
        "INSERT INTO state (id, blob) VALUES (1, ?1) ON CONFLICT (id) DO UPDATE SET blob = excluded.blob",
    )?
    .execute([blob])?;
    Ok(())
}

fn get_record(
    conn: &Connection,
    key: &SealKey,
    kind: RecordKind,
    id: u64,
) -> Result<Option<SlotContent>, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT slot, blob FROM records WHERE kind = ?1 AND id = ?2")?;
    let row: Option<(i64, Vec<u8>)> = stmt
        .query_row(params![kind.as_u16(), id_to_sql(id)], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()?;
    match row {
        None => Ok(None),
        Some((slot, blob)) => {
            let slot = slot_from_sql(slot, kind, id)?;
            let plain = key.open(kind.as_u16(), id, slot, &blob)?;
            Ok(Some((slot, plain)))
        }
    }
}

/// The operations available inside [`Store::write`].
pub struct WriteTx<'a> {
    tx: &'a rusqlite::Transaction<'a>,
    key: &'a SealKey,
    /// The integrity state as it will be after this transaction, kept up to date by every
    /// change.
    state: IntegrityState,
    /// Whether anything has been written; a transaction that wrote nothing commits nothing.
    dirty: bool,
}

impl WriteTx<'_> {
    /// Seals `plain` and stores it as record (`kind`, `id`) in `slot`, replacing any
    /// existing record with that kind and id.
    pub fn put(
        &mut self,
        kind: RecordKind,
        id: u64,
        slot: u32,
        plain: &[u8],
    ) -> Result<(), StoreError> {
        let blob = self.key.seal(kind.as_u16(), id, slot, plain)?;
        self.dirty = true;
        if !self.forget_existing(kind, id)? {
            self.state.records += 1;
        }
        self.state
            .toggle(&self.key.record_digest(kind.as_u16(), id, slot, &blob));
        let mut stmt = self.tx.prepare_cached(
            "INSERT INTO records (kind, id, slot, blob) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kind, id) DO UPDATE SET slot = excluded.slot, blob = excluded.blob",
        )?;
        stmt.execute(params![kind.as_u16(), id_to_sql(id), slot, blob])?;
        Ok(())
    }

    /// Deletes record (`kind`, `id`); returns whether it existed.
    pub fn delete(&mut self, kind: RecordKind, id: u64) -> Result<bool, StoreError> {
        if !self.forget_existing(kind, id)? {
            return Ok(false);
        }
        self.dirty = true;
        self.state.records = self.state.records.saturating_sub(1);
        let mut stmt = self
            .tx
            .prepare_cached("DELETE FROM records WHERE kind = ?1 AND id = ?2")?;
        let n = stmt.execute(params![kind.as_u16(), id_to_sql(id)])?;
        Ok(n > 0)
    }

    /// Deletes every record of `kind` in `slot`; returns how many were deleted.
    pub fn delete_slot(&mut self, kind: RecordKind, slot: u32) -> Result<u64, StoreError> {
        let doomed: Vec<(i64, Vec<u8>)> = {
            let mut stmt = self
                .tx
                .prepare_cached("SELECT id, blob FROM records WHERE kind = ?1 AND slot = ?2")?;
            let rows =
                stmt.query_map(params![kind.as_u16(), slot], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect::<Result<_, _>>()?
        };
        self.dirty |= !doomed.is_empty();
        for (id, blob) in &doomed {
            let digest = self
                .key
                .record_digest(kind.as_u16(), id_from_sql(*id), slot, blob);
            self.state.toggle(&digest);
            self.state.records = self.state.records.saturating_sub(1);
        }
        let mut stmt = self
            .tx
            .prepare_cached("DELETE FROM records WHERE kind = ?1 AND slot = ?2")?;
        let n = stmt.execute(params![kind.as_u16(), slot])?;
        u64::try_from(n).map_err(|_| StoreError::Sqlite("row count out of range".into()))
    }

    /// Hands out a fresh id from the store-wide counter. Ids start at 1, increase
    /// monotonically and are never reused, even if the record is deleted. The increment
    /// is part of this transaction, so it is undone if the transaction rolls back.
    pub fn alloc_id(&mut self) -> Result<u64, StoreError> {
        let next: i64 = self
            .tx
            .query_row("SELECT next FROM counter WHERE id = 1", [], |r| r.get(0))
            .optional()?
            .ok_or_else(|| StoreError::HeaderCorrupt("id counter row missing".into()))?;
        if next < 1 {
            return Err(StoreError::HeaderCorrupt(format!(
                "id counter holds invalid value {next}"
            )));
        }
        let after = next
            .checked_add(1)
            .ok_or_else(|| StoreError::Sqlite("id counter exhausted".into()))?;
        self.tx
            .execute("UPDATE counter SET next = ?1 WHERE id = 1", [after])?;
        self.dirty = true;
        Ok(id_from_sql(next))
    }

    /// Appends an entry to the audit log in this transaction; returns its sequence number.
    /// The entry commits or rolls back with everything else the transaction does.
    pub fn append_audit(&mut self, event: &audit::AuditEvent) -> Result<u64, StoreError> {
        let seq = self
            .state
            .audit_count
            .checked_add(1)
            .ok_or_else(|| StoreError::IntegrityFailure("audit log full".into()))?;
        let entry = audit::AuditEntry {
            seq,
            prev: self.state.audit_head,
            event: event.clone(),
        };
        let blob = self.key.seal(audit::AUDIT_KIND, 0, 0, &entry.encode())?;
        self.tx
            .prepare_cached("INSERT INTO audit (pos, blob) VALUES (?1, ?2)")?
            .execute(params![id_to_sql(seq), blob])?;
        self.state.audit_count = seq;
        self.state.audit_head = entry.digest();
        self.dirty = true;
        Ok(seq)
    }

    /// Removes the digest of the current record (`kind`, `id`), if there is one, from the
    /// integrity state; returns whether it existed.
    fn forget_existing(&mut self, kind: RecordKind, id: u64) -> Result<bool, StoreError> {
        let old: Option<(i64, Vec<u8>)> = self
            .tx
            .prepare_cached("SELECT slot, blob FROM records WHERE kind = ?1 AND id = ?2")?
            .query_row(params![kind.as_u16(), id_to_sql(id)], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()?;
        let Some((slot, blob)) = old else {
            return Ok(false);
        };
        let slot = slot_from_sql(slot, kind, id)?;
        self.state
            .toggle(&self.key.record_digest(kind.as_u16(), id, slot, &blob));
        Ok(true)
    }

    /// Reads and decrypts one record as seen inside this transaction.
    pub fn get(&self, kind: RecordKind, id: u64) -> Result<Option<SlotContent>, StoreError> {
        get_record(self.tx, self.key, kind, id)
    }
}

#[cfg(test)]
mod tests;
