//! Store administration behind the `custos` tool: the audit log listing and verification, and
//! backups.
//!
//! A backup is one file:
//!
//! ```text
//! magic "CUSTOS-BACKUP\0" (14) || version u16 || store id (16) ||
//! dev share length u32 || dev share text || database length u64 || database ||
//! SHA-256 of everything before it (32)
//! ```
//!
//! The database is a consistent copy of the store's SQLite file (`VACUUM INTO`): its records
//! stay sealed under the master key, so the file is useless without a quorum of shares, and
//! its sealed integrity state covers every record, the header and the audit log. The digest
//! at the end only catches accidental damage before anything is unsealed. A `--dev` store's
//! share travels with its backup (a `--dev` store is opened by its own share by design), so
//! its backup restores to a store that opens the same way.

#![deny(unsafe_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::bench::report::json_string;
use crate::config::Config;
use crate::engine::provision::{self, ProvisionError};
use crate::engine::{Engine, DEV_SHARE_FILE};
use crate::store::audit::{Actor, AuditDefect, AuditEntry, AuditEvent, NO_SLOT};
use crate::store::{Store, StoreError, DB_FILE};
use crate::vault::Share;

const BACKUP_MAGIC: &[u8; 14] = b"CUSTOS-BACKUP\0";
const BACKUP_VERSION: u16 = 1;

/// An administration failure, worded for the operator.
#[derive(Debug)]
pub struct AdminError(pub String);

impl std::fmt::Display for AdminError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AdminError {}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        AdminError(e.to_string())
    }
}

impl From<ProvisionError> for AdminError {
    fn from(e: ProvisionError) -> Self {
        AdminError(e.to_string())
    }
}

impl From<crate::engine::Error> for AdminError {
    fn from(e: crate::engine::Error) -> Self {
        AdminError(e.to_string())
    }
}

type Result<T> = std::result::Result<T, AdminError>;

// ----- audit --------------------------------------------------------------------------------

/// Which audit entries to list.
#[derive(Debug, Default, Clone)]
pub struct AuditFilter {
    /// Only entries whose operation contains this text (case-insensitive).
    pub op: Option<String>,
    /// Only entries of this slot.
    pub slot: Option<u32>,
    /// Only entries of this actor (`public`, `user`, `so`, `custodian`).
    pub actor: Option<String>,
    /// Only failed operations.
    pub failures: bool,
    /// Only the last N entries (after the other filters).
    pub last: Option<usize>,
}

impl AuditFilter {
    fn keeps(&self, e: &AuditEntry) -> bool {
        let ev = &e.event;
        self.op
            .as_ref()
            .is_none_or(|o| ev.op.to_lowercase().contains(&o.to_lowercase()))
            && self.slot.is_none_or(|s| ev.slot == s)
            && self
                .actor
                .as_ref()
                .is_none_or(|a| ev.actor.name().eq_ignore_ascii_case(a))
            && (!self.failures || ev.result != 0)
    }
}

fn utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = crate::engine::civil_date(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        unix_ms % 1000
    )
}

fn hex(b: &[u8]) -> String {
    b.iter().fold(String::new(), |mut s, x| {
        let _ = write!(s, "{x:02x}");
        s
    })
}

fn slot_text(slot: u32) -> String {
    if slot == NO_SLOT {
        "-".into()
    } else {
        slot.to_string()
    }
}

/// The audit log as text (one line per entry) or as JSON (one object per line), filtered.
/// Defects are listed after the entries; the log is shown even when it is damaged.
pub fn audit_show(engine: &Engine, filter: &AuditFilter, json: bool) -> Result<String> {
    let (entries, defects) = engine.audit_log()?;
    let mut kept: Vec<&AuditEntry> = entries.iter().filter(|e| filter.keeps(e)).collect();
    if let Some(n) = filter.last {
        let skip = kept.len().saturating_sub(n);
        kept.drain(..skip);
    }
    let mut out = String::new();
    for e in kept {
        let ev = &e.event;
        if json {
            let _ = writeln!(
                out,
                "{{\"seq\": {}, \"time\": {}, \"unix_ms\": {}, \"pid\": {}, \"slot\": {}, \
                 \"actor\": {}, \"op\": {}, \"object\": {}, \"result\": {}, \"detail\": {}, \
                 \"prev\": {}}}",
                e.seq,
                json_string(&utc(ev.unix_ms)),
                ev.unix_ms,
                ev.pid,
                if ev.slot == NO_SLOT {
                    "null".to_string()
                } else {
                    ev.slot.to_string()
                },
                json_string(ev.actor.name()),
                json_string(&ev.op),
                json_string(&ev.object),
                ev.result,
                json_string(&ev.detail),
                json_string(&hex(&e.prev)),
            );
        } else {
            let result = if ev.result == 0 {
                "ok".to_string()
            } else {
                format!("0x{:x}", ev.result)
            };
            let _ = writeln!(
                out,
                "{:>6} {} pid={} slot={} {} {} {}{}{}",
                e.seq,
                utc(ev.unix_ms),
                ev.pid,
                slot_text(ev.slot),
                ev.actor.name(),
                ev.op,
                result,
                if ev.object.is_empty() {
                    String::new()
                } else {
                    format!(" object={}", ev.object)
                },
                if ev.detail.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", ev.detail)
                },
            );
        }
    }
    for d in &defects {
        if json {
            let _ = writeln!(out, "{{\"defect\": {}}}", json_string(&d.to_string()));
        } else {
            let _ = writeln!(out, "DEFECT: {d}");
        }
    }
    Ok(out)
}

/// Verifies the audit log: the report, and whether it is intact.
pub fn audit_verify(engine: &Engine) -> Result<(String, Vec<AuditDefect>)> {
    let (entries, defects) = engine.audit_log()?;
    let mut out = String::new();
    if defects.is_empty() {
        let _ = writeln!(
            out,
            "audit log intact: {} entries, each sealed and chained to the one before",
            entries.len()
        );
    } else {
        let _ = writeln!(
            out,
            "audit log DAMAGED: {} defect(s) among {} readable entries",
            defects.len(),
            entries.len()
        );
        for d in &defects {
            let _ = writeln!(out, "  {d}");
        }
    }
    Ok((out, defects))
}

// ----- backup and restore ------------------------------------------------------------------

/// What a backup holds.
#[derive(Debug, Clone)]
pub struct BackupInfo {
    /// The store's id.
    pub store_id: [u8; 16],
    /// Whether the backup carries a `--dev` store's share.
    pub dev: bool,
    /// Size of the database copy in bytes.
    pub database_len: u64,
}

fn write_new_private(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| AdminError(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| AdminError(format!("cannot write {}: {e}", path.display())))
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = aws_lc_rs::digest::Context::new(&aws_lc_rs::digest::SHA256);
    for p in parts {
        ctx.update(p);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(ctx.finish().as_ref());
    out
}

/// Writes a backup of the store in `dir` to `out` (which must not exist). Works while the
/// store is sealed and in use: the copy is one consistent read transaction.
pub fn backup(dir: &Path, out: &Path) -> Result<BackupInfo> {
    if out.exists() {
        return Err(AdminError(format!(
            "{} already exists; a backup never overwrites a file",
            out.display()
        )));
    }
    let store = Store::open(dir)?;
    let store_id = store.header().store_id;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let copy = out.with_file_name(format!(
        ".{}.custos-copy-{}-{nanos}",
        out.file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        std::process::id()
    ));
    let copied = store.copy_database_to(&copy);
    let db = copied.and_then(|()| {
        std::fs::read(&copy)
            .map_err(|e| StoreError::Io(format!("cannot read the database copy: {e}")))
    });
    let _ = std::fs::remove_file(&copy);
    let db = db?;
    let dev_path = dir.join(DEV_SHARE_FILE);
    let dev = if dev_path.exists() {
        std::fs::read(&dev_path)
            .map_err(|e| AdminError(format!("cannot read {}: {e}", dev_path.display())))?
    } else {
        Vec::new()
    };
    let mut file = Vec::with_capacity(db.len() + dev.len() + 96);
    file.extend_from_slice(BACKUP_MAGIC);
    file.extend_from_slice(&BACKUP_VERSION.to_le_bytes());
    file.extend_from_slice(&store_id);
    file.extend_from_slice(&(dev.len() as u32).to_le_bytes());
    file.extend_from_slice(&dev);
    file.extend_from_slice(&(db.len() as u64).to_le_bytes());
    file.extend_from_slice(&db);
    let digest = sha256(&[&file]);
    file.extend_from_slice(&digest);
    write_new_private(out, &file)?;
    Ok(BackupInfo {
        store_id,
        dev: !dev.is_empty(),
        database_len: db.len() as u64,
    })
}

/// The parts of a backup file, checked for damage.
struct BackupParts {
    info: BackupInfo,
    dev_share: Vec<u8>,
    database: Vec<u8>,
}

fn parse_backup(bytes: &[u8]) -> Result<BackupParts> {
    let bad = |why: &str| AdminError(format!("not a usable Custos backup: {why}"));
    if bytes.len() < BACKUP_MAGIC.len() + 2 + 16 + 4 + 8 + 32 || !bytes.starts_with(BACKUP_MAGIC) {
        return Err(bad("wrong magic or too short"));
    }
    let (body, digest) = bytes.split_at(bytes.len() - 32);
    if sha256(&[body]) != digest {
        return Err(bad(
            "its checksum does not match (the file is damaged or truncated)",
        ));
    }
    let mut at = BACKUP_MAGIC.len();
    let mut take = |n: usize| -> Result<&[u8]> {
        let s = body.get(at..at + n).ok_or_else(|| bad("truncated"))?;
        at += n;
        Ok(s)
    };
    let version = u16::from_le_bytes(take(2)?.try_into().map_err(|_| bad("version"))?);
    if version != BACKUP_VERSION {
        return Err(bad(&format!("unsupported version {version}")));
    }
    let mut store_id = [0u8; 16];
    store_id.copy_from_slice(take(16)?);
    let dev_len = u32::from_le_bytes(take(4)?.try_into().map_err(|_| bad("length"))?) as usize;
    let dev_share = take(dev_len)?.to_vec();
    let db_len = u64::from_le_bytes(take(8)?.try_into().map_err(|_| bad("length"))?);
    let db_len = usize::try_from(db_len).map_err(|_| bad("database too large"))?;
    let database = take(db_len)?.to_vec();
    if at != body.len() {
        return Err(bad("trailing bytes"));
    }
    Ok(BackupParts {
        info: BackupInfo {
            store_id,
            dev: !dev_share.is_empty(),
            database_len: db_len as u64,
        },
        dev_share,
        database,
    })
}

/// The plain header of the store inside a backup (to check shares before a restore).
pub fn backup_header(bytes: &[u8]) -> Result<crate::store::StoreHeader> {
    let parts = parse_backup(bytes)?;
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let dir = std::env::temp_dir().join(format!(
        "custos-backup-header-{}-{nanos}",
        std::process::id()
    ));
    std::fs::create_dir(&dir)
        .map_err(|e| AdminError(format!("cannot create {}: {e}", dir.display())))?;
    let header = write_new_private(&dir.join(DB_FILE), &parts.database)
        .and_then(|()| Ok(Store::open(&dir)?.header().clone()));
    let _ = std::fs::remove_dir_all(&dir);
    header
}

/// What a restore found.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    /// The backup's description.
    pub info: BackupInfo,
    /// Slots of the restored store.
    pub slots: u32,
    /// Token records restored.
    pub tokens: usize,
    /// Token objects restored.
    pub objects: usize,
    /// Audit entries restored (before the restore's own entry).
    pub audit_entries: usize,
    /// The write generation of the restored store.
    pub generation: u64,
}

/// Recreates a store in `new_dir` (which must not hold a store) from a backup, unseals it with
/// `shares` (or, for a `--dev` backup, its own share), verifies every record and the audit
/// log, records the restore in the audit log, and accepts the restored generation in the
/// rollback witness of `config`. If anything fails, `new_dir` is left as it was found.
pub fn restore(
    from: &Path,
    new_dir: &Path,
    shares: Vec<Share>,
    config: &Config,
) -> Result<RestoreReport> {
    let bytes = std::fs::read(from)
        .map_err(|e| AdminError(format!("cannot read {}: {e}", from.display())))?;
    let parts = parse_backup(&bytes)?;
    if new_dir.join(DB_FILE).exists() {
        return Err(AdminError(format!(
            "{} already holds a store; restore into a new directory",
            new_dir.display()
        )));
    }
    let existed = new_dir.exists();
    let result = restore_into(&parts, new_dir, shares, config);
    if result.is_err() {
        // Leave nothing half-made behind.
        for name in [DB_FILE, "custos.db-wal", "custos.db-shm", DEV_SHARE_FILE] {
            let _ = std::fs::remove_file(new_dir.join(name));
        }
        if !existed {
            let _ = std::fs::remove_dir(new_dir);
        }
    }
    result
}

fn restore_into(
    parts: &BackupParts,
    new_dir: &Path,
    shares: Vec<Share>,
    config: &Config,
) -> Result<RestoreReport> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(new_dir)
            .map_err(|e| AdminError(format!("cannot create {}: {e}", new_dir.display())))?;
    }
    #[cfg(not(unix))]
    std::fs::create_dir_all(new_dir)
        .map_err(|e| AdminError(format!("cannot create {}: {e}", new_dir.display())))?;
    write_new_private(&new_dir.join(DB_FILE), &parts.database)?;
    let mut shares = shares;
    if parts.info.dev {
        write_new_private(&new_dir.join(DEV_SHARE_FILE), &parts.dev_share)?;
        let text = String::from_utf8_lossy(&parts.dev_share).into_owned();
        shares.push(
            Share::parse(&text).map_err(|e| AdminError(format!("the backup's dev share: {e}")))?,
        );
    }
    let mut store = Store::open(new_dir)?;
    if store.header().store_id != parts.info.store_id {
        return Err(AdminError(
            "the database in the backup belongs to another store".into(),
        ));
    }
    if shares.is_empty() {
        return Err(AdminError(format!(
            "the restored store is sealed: give a quorum of {} of its {} shares with --share FILE",
            store.header().threshold,
            store.header().total
        )));
    }
    provision::unseal_store(&mut store, shares)?;
    // The restored store is older than what the witness may have seen of this store: that is
    // the point of a restore, so its generation is accepted explicitly.
    // (This handle has no witness set, so the check is against itself only.)
    let snap = store.snapshot()?;
    let (entries, defects) = store.verify_audit()?;
    if let Some(d) = defects.first() {
        return Err(AdminError(format!(
            "the backup's audit log is damaged: {d}"
        )));
    }
    let ev = AuditEvent::now(NO_SLOT, Actor::Custodian, "store.restore").detail(format!(
        "restored from a backup of generation {}",
        snap.generation
    ));
    store.write(|tx| tx.append_audit(&ev).map(drop))?;
    if let Some(w) = config.witness_location() {
        crate::store::witness::Witness::new(&w, &parts.info.store_id)
            .reset(store.seen_generation())
            .map_err(|e| {
                AdminError(format!(
                    "cannot update the rollback witness in {}: {e}",
                    w.display()
                ))
            })?;
    }
    Ok(RestoreReport {
        info: parts.info.clone(),
        slots: store.header().slot_count,
        tokens: snap.tokens.len(),
        objects: snap.objects.len(),
        audit_entries: entries.len(),
        generation: store.seen_generation(),
    })
}

/// The configuration used for a store given on the command line: the file configuration's
/// settings where there is one, with the store directory replaced.
pub fn config_for(dir: &Path) -> Config {
    let mut c = Config::from_env().unwrap_or_else(|_| Config::for_store(PathBuf::new()));
    c.store = dir.to_path_buf();
    c
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formatting() {
        assert_eq!(utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(utc(951_782_400_123), "2000-02-29T00:00:00.123Z");
        assert_eq!(utc(1_795_824_000_000), "2026-11-28T00:00:00.000Z");
    }

    #[test]
    fn backup_parsing_refuses_damage() {
        let mut file = Vec::new();
        file.extend_from_slice(BACKUP_MAGIC);
        file.extend_from_slice(&BACKUP_VERSION.to_le_bytes());
        file.extend_from_slice(&[7; 16]);
        file.extend_from_slice(&3u32.to_le_bytes());
        file.extend_from_slice(b"dev");
        file.extend_from_slice(&4u64.to_le_bytes());
        file.extend_from_slice(b"data");
        let d = sha256(&[&file]);
        file.extend_from_slice(&d);
        let p = parse_backup(&file).unwrap();
        assert_eq!(p.info.store_id, [7; 16]);
        assert_eq!(p.dev_share, b"dev");
        assert_eq!(p.database, b"data");
        for at in [0, 20, file.len() - 40, file.len() - 1] {
            let mut bad = file.clone();
            bad[at] ^= 1;
            assert!(parse_backup(&bad).is_err(), "byte {at}");
        }
        assert!(parse_backup(&file[..file.len() - 1]).is_err());
    }

    fn test_config(dir: &Path, witness: &Path) -> Config {
        let mut c = Config::for_store(dir);
        c.pin_iterations = 10;
        c.witness_dir = Some(witness.to_path_buf());
        c
    }

    #[test]
    fn backup_restore_round_trip_of_a_dev_store() {
        use cryptoki_sys::*;
        let tmp = tempfile::tempdir().unwrap();
        let (dir, witness) = (tmp.path().join("st"), tmp.path().join("w"));
        provision::create_dev_store(&dir, 3).unwrap();
        let labels: Vec<String>;
        {
            let e = Engine::open(test_config(&dir, &witness)).unwrap();
            e.init_token(1, b"so-pin-1", crate::ffi::args::padded("one"))
                .unwrap();
            let h = e
                .open_session(1, CKF_SERIAL_SESSION | CKF_RW_SESSION)
                .unwrap();
            for i in 0..5 {
                e.create_object(
                    h,
                    &[
                        crate::object::Attr::ulong(CKA_CLASS, CKO_DATA),
                        crate::object::Attr::bool(CKA_TOKEN, true),
                        crate::object::Attr::bytes(CKA_LABEL, format!("obj {i}").into_bytes()),
                    ],
                )
                .unwrap();
            }
            labels = (0..5).map(|i| format!("obj {i}")).collect();
        }
        let file = tmp.path().join("backup.custos");
        let info = backup(&dir, &file).unwrap();
        assert!(info.dev);
        assert!(backup(&dir, &file).is_err(), "never overwrites");
        // More work after the backup, so the restore is a step back in time.
        {
            let e = Engine::open(test_config(&dir, &witness)).unwrap();
            let h = e
                .open_session(1, CKF_SERIAL_SESSION | CKF_RW_SESSION)
                .unwrap();
            let all = {
                e.find_init(h, &[]).unwrap();
                let v = e.find(h, 100).unwrap();
                e.find_final(h).unwrap();
                v
            };
            e.destroy_object(h, all[0]).unwrap();
        }
        let new_dir = tmp.path().join("restored");
        let report = restore(
            &file,
            &new_dir,
            Vec::new(),
            &test_config(&new_dir, &witness),
        )
        .unwrap();
        assert_eq!((report.slots, report.tokens, report.objects), (3, 1, 5));
        let e = Engine::open(test_config(&new_dir, &witness)).unwrap();
        assert_eq!(e.header().store_id, info.store_id);
        let h = e.open_session(1, CKF_SERIAL_SESSION).unwrap();
        e.find_init(h, &[]).unwrap();
        let found = e.find(h, 100).unwrap();
        assert_eq!(found.len(), labels.len());
        let (entries, defects) = e.audit_log().unwrap();
        assert!(defects.is_empty());
        assert_eq!(entries.last().unwrap().event.op, "store.restore");
        // A restore never overwrites a store, and a damaged backup leaves nothing behind.
        assert!(restore(
            &file,
            &new_dir,
            Vec::new(),
            &test_config(&new_dir, &witness)
        )
        .is_err());
        let mut bytes = std::fs::read(&file).unwrap();
        let n = bytes.len();
        bytes[n / 2] ^= 1;
        let damaged = tmp.path().join("damaged.custos");
        std::fs::write(&damaged, &bytes).unwrap();
        let other = tmp.path().join("other");
        let err =
            restore(&damaged, &other, Vec::new(), &test_config(&other, &witness)).unwrap_err();
        assert!(err.0.contains("checksum"), "{err}");
        assert!(!other.exists());
    }
}
