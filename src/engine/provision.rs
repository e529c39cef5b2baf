//! Making a store and unsealing it: the master key, its shares, the header commitments, share
//! files (plain or passphrase-protected), and the proof that a rebuilt key opens every record.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::config::Config;
use crate::store::{SealKey, Store, StoreError, StoreHeader, STORE_FORMAT_VERSION};
use crate::vault::{self, MasterKey, Share, ShareFile, Unsealer, VaultError};

use super::DEV_SHARE_FILE;
use crate::store::audit::{Actor, AuditEvent, NO_SLOT};

/// The HKDF purpose of the record-sealing key.
const RECORD_KEY_PURPOSE: &str = "custos/v1/record-seal";

/// Why a store could not be made or unsealed.
#[derive(Debug)]
pub enum ProvisionError {
    /// A store problem.
    Store(StoreError),
    /// A share or quorum problem.
    Vault(VaultError),
    /// A share file could not be read or written.
    Io(String),
    /// Bad parameters.
    Invalid(String),
}

impl std::fmt::Display for ProvisionError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ProvisionError::Store(e) => write!(f, "{e}"),
            ProvisionError::Vault(e) => write!(f, "{e}"),
            ProvisionError::Io(s) | ProvisionError::Invalid(s) => f.write_str(s),
        }
    }
}
impl std::error::Error for ProvisionError {}

impl From<StoreError> for ProvisionError {
    fn from(e: StoreError) -> Self {
        ProvisionError::Store(e)
    }
}
impl From<VaultError> for ProvisionError {
    fn from(e: VaultError) -> Self {
        ProvisionError::Vault(e)
    }
}

/// Creates a store in `dir`: a fresh master key split into `total` shares with threshold
/// `threshold`. The master key itself is written nowhere; the shares are returned to the caller.
pub fn create_store(
    dir: &Path,
    threshold: u8,
    total: u8,
    slot_count: u32,
) -> Result<Vec<Share>, ProvisionError> {
    if slot_count == 0 || slot_count > 64 {
        return Err(ProvisionError::Invalid(
            "slot count must be between 1 and 64".into(),
        ));
    }
    let mk = MasterKey::generate()?;
    let store_id = vault::new_store_id()?;
    let shares = vault::split_master_key(&mk, store_id, threshold, total)?;
    let created_unix = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let header = StoreHeader {
        format_version: STORE_FORMAT_VERSION,
        store_id,
        threshold,
        total,
        commitments: shares.iter().map(Share::commitment).collect(),
        kcv: mk.key_check_value(),
        slot_count,
        created_unix,
    };
    let mut store = Store::create(dir, &header)?;
    unseal_with_key(&mut store, &mk)?;
    let ev = AuditEvent::now(NO_SLOT, Actor::Custodian, "store.init").detail(format!(
        "{threshold} of {total} shares, {slot_count} slots{}",
        if mk.is_locked() {
            ""
        } else {
            "; master key memory not locked"
        }
    ));
    store.write(|tx| tx.append_audit(&ev).map(drop))?;
    Ok(shares)
}

/// Replaces the master key of the store in `dir`: the current quorum (`shares`) opens it, a
/// new master key is split into `total` shares with threshold `threshold`, and every record
/// and audit entry is sealed again under it in one transaction (see [`Store::rekey`]). The
/// store id, slots and objects stay; the old shares no longer open the store.
///
/// `deliver` receives the new shares before anything changes (to write them out); if it fails,
/// the store is left as it was. If the rekey itself then fails, the old shares still open the
/// store and the error says so; the delivered shares are then useless.
pub fn rekey_store(
    dir: &Path,
    shares: Vec<Share>,
    threshold: u8,
    total: u8,
    witness: Option<&Path>,
    deliver: impl FnOnce(&[Share]) -> Result<(), ProvisionError>,
) -> Result<(), ProvisionError> {
    let mut store = Store::open(dir)?;
    if let Some(w) = witness {
        store.set_witness_dir(w);
    }
    unseal_store(&mut store, shares)?;
    // The whole store must verify before it is sealed again under a new key.
    store.snapshot()?;
    let old = store.header().clone();
    let mk = MasterKey::generate()?;
    let new_shares = vault::split_master_key(&mk, old.store_id, threshold, total)?;
    let header = StoreHeader {
        threshold,
        total,
        commitments: new_shares.iter().map(Share::commitment).collect(),
        kcv: mk.key_check_value(),
        ..old.clone()
    };
    let key = SealKey::from_bytes(mk.derive(RECORD_KEY_PURPOSE).as_bytes())?;
    let ev = AuditEvent::now(NO_SLOT, Actor::Custodian, "store.rekey").detail(format!(
        "{} of {} shares replaced by {threshold} of {total}",
        old.threshold, old.total
    ));
    deliver(&new_shares)?;
    store.rekey(&header, key, &ev)?;
    Ok(())
}

/// Creates a `--dev` store: 1-of-1, its share written beside it so any process can unseal it.
pub fn create_dev_store(dir: &Path, slot_count: u32) -> Result<(), ProvisionError> {
    let shares = create_store(dir, 1, 1, slot_count)?;
    write_share_file(&dir.join(DEV_SHARE_FILE), &shares[0])
}

/// Writes a share to a new file, readable by its owner only.
pub fn write_share_file(path: &Path, share: &Share) -> Result<(), ProvisionError> {
    write_private_file(path, share.to_text().as_bytes())
}

/// Writes a share of either kind (plain, or passphrase-protected) to a new file, readable
/// by its owner only.
pub fn write_any_share_file(path: &Path, share: &ShareFile) -> Result<(), ProvisionError> {
    match share {
        ShareFile::Plain(s) => write_share_file(path, s),
        ShareFile::Protected(p) => write_private_file(path, p.to_text().as_bytes()),
    }
}

/// Creates `path` (never replacing an existing file) with mode 0600, writes `bytes` and
/// syncs it to disk.
fn write_private_file(path: &Path, bytes: &[u8]) -> Result<(), ProvisionError> {
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| ProvisionError::Io(format!("cannot create {}: {e}", path.display())))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| ProvisionError::Io(format!("cannot write {}: {e}", path.display())))
}

/// The reason given when a passphrase-protected share is offered where nobody can type its
/// passphrase (the module unsealing at `C_Initialize`).
pub const PROTECTED_SHARE_UNATTENDED: &str =
    "the share is passphrase-protected and the module cannot ask for a passphrase: \
     configure plain share files for unattended unsealing \
     (protected shares are for ceremonies: `custos unseal`, and the served mode once it exists)";

/// Reads a plain share file, for unattended use. A passphrase-protected share is refused
/// with [`PROTECTED_SHARE_UNATTENDED`] as the reason.
pub fn read_share_file(path: &Path) -> Result<Share, ProvisionError> {
    match read_any_share_file(path)? {
        ShareFile::Plain(s) => Ok(s),
        ShareFile::Protected(_) => Err(ProvisionError::Io(format!(
            "{}: {PROTECTED_SHARE_UNATTENDED}",
            path.display()
        ))),
    }
}

/// Reads a share file of either kind (plain, or passphrase-protected and still locked).
pub fn read_any_share_file(path: &Path) -> Result<ShareFile, ProvisionError> {
    let text =
        zeroize::Zeroizing::new(fs::read_to_string(path).map_err(|e| {
            ProvisionError::Io(format!("cannot read share {}: {e}", path.display()))
        })?);
    ShareFile::parse(&text).map_err(|e| ProvisionError::Io(format!("{}: {e}", path.display())))
}

/// Every share the configuration makes available: its share files, the shares in its variable,
/// and a `--dev` store's own share.
pub fn collect_shares(config: &Config) -> Result<Vec<Share>, ProvisionError> {
    let mut out = Vec::new();
    for p in &config.shares {
        out.push(read_share_file(p)?);
    }
    if let Some(var) = &config.shares_env {
        if let Some(text) = std::env::var_os(var) {
            let text = zeroize::Zeroizing::new(text.to_string_lossy().into_owned());
            for block in split_share_texts(&text) {
                out.push(Share::parse(&block).map_err(|e| match e {
                    VaultError::PassphraseProtected => {
                        ProvisionError::Io(format!("${var}: {PROTECTED_SHARE_UNATTENDED}"))
                    }
                    other => ProvisionError::Io(format!("${var}: {other}")),
                })?);
            }
        }
    }
    let dev = config.store.join(DEV_SHARE_FILE);
    if dev.exists() {
        out.push(read_share_file(&dev)?);
    }
    Ok(out)
}

/// Splits a text holding several shares one after another into one text per share.
fn split_share_texts(text: &str) -> Vec<zeroize::Zeroizing<String>> {
    let mut out: Vec<zeroize::Zeroizing<String>> = Vec::new();
    for line in text.lines() {
        let start = line.trim_start();
        if start.starts_with("CUSTOS SHARE")
            || start.starts_with("CUSTOS PROTECTED SHARE")
            || out.is_empty()
        {
            out.push(zeroize::Zeroizing::new(String::new()));
        }
        if let Some(cur) = out.last_mut() {
            cur.push_str(line);
            cur.push('\n');
        }
    }
    out.retain(|s| !s.trim().is_empty());
    out
}

/// Checks each share as it is entered and, with a quorum, rebuilds the master key and gives
/// the store its record key.
pub fn unseal_store(store: &mut Store, shares: Vec<Share>) -> Result<(), ProvisionError> {
    let h = store.header().clone();
    let mut u = Unsealer::new(
        h.store_id,
        h.threshold,
        h.total,
        h.commitments.clone(),
        h.kcv,
    )?;
    for s in shares {
        if u.is_complete() {
            break;
        }
        u.add(s)?;
    }
    let mk = u.finish()?;
    unseal_with_key(store, &mk)
}

/// Gives the store its record key, derived from a master key that has already been checked
/// against the store's key check value.
pub fn unseal_with_key(store: &mut Store, mk: &MasterKey) -> Result<(), ProvisionError> {
    let key = mk.derive(RECORD_KEY_PURPOSE);
    store.set_seal_key(SealKey::from_bytes(key.as_bytes())?);
    Ok(())
}

/// A ceremony for the store: its header's store id, quorum, commitments and key check value.
pub fn ceremony_for(header: &StoreHeader) -> Result<vault::Ceremony, ProvisionError> {
    Ok(vault::Ceremony::new(
        header.store_id,
        header.threshold,
        header.total,
        header.commitments.clone(),
        header.kcv,
    )?)
}

/// What reading back every sealed record of an unsealed store found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordCount {
    /// Token records (one per initialised token).
    pub tokens: usize,
    /// Token object records.
    pub objects: usize,
    /// Store metadata records.
    pub meta: usize,
    /// Audit log entries.
    pub audit: usize,
}

/// Proves that an unsealed store opens: decrypts every token, object and metadata record
/// (each one is authenticated by AES-GCM), checks them as a whole against the sealed
/// integrity state ([`Store::snapshot`]) and checks the audit log, and counts them. Reads
/// only. Fails, naming what is wrong, if anything does not verify.
pub fn prove_records(store: &Store) -> Result<RecordCount, ProvisionError> {
    let snap = store.snapshot()?;
    let (entries, defects) = store.verify_audit()?;
    if let Some(d) = defects.first() {
        return Err(ProvisionError::Invalid(format!(
            "the audit log is damaged: {d}"
        )));
    }
    Ok(RecordCount {
        tokens: snap.tokens.len(),
        objects: snap.objects.len(),
        meta: snap.meta.len(),
        audit: entries.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::RecordKind;
    use crate::vault::{KdfParams, ProtectedShare};

    fn weak() -> KdfParams {
        KdfParams::weak_for_tests(64, 1, 1).unwrap()
    }

    #[test]
    fn protected_share_files_round_trip_and_are_refused_unattended() {
        let dir = tempfile::tempdir().unwrap();
        let store_dir = dir.path().join("store");
        let shares = create_store(&store_dir, 2, 3, 1).unwrap();
        let plain = dir.path().join("plain.txt");
        let locked = dir.path().join("locked.txt");
        write_share_file(&plain, &shares[0]).unwrap();
        let p = ProtectedShare::protect(&shares[1], b"passphrase-2", weak()).unwrap();
        let file = ShareFile::Protected(p.clone());
        write_any_share_file(&locked, &file).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&locked).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // Never overwrites.
        assert!(write_any_share_file(&locked, &file).is_err());

        assert!(!read_any_share_file(&plain).unwrap().is_protected());
        let ShareFile::Protected(back) = read_any_share_file(&locked).unwrap() else {
            panic!("expected a protected share");
        };
        assert_eq!(back, p);
        assert_eq!(read_share_file(&plain).unwrap().index(), 1);
        let e = read_share_file(&locked).unwrap_err().to_string();
        assert!(e.contains("passphrase-protected"), "{e}");
        assert!(e.contains("plain share files"), "{e}");
        assert!(e.contains("locked.txt"), "{e}");

        // The module's configuration: the protected share stops unsealing with that reason.
        let mut config = Config::for_store(&store_dir);
        config.shares = vec![plain.clone(), locked.clone()];
        let e = collect_shares(&config).unwrap_err().to_string();
        assert!(e.contains("passphrase-protected"), "{e}");

        // Unlocked, the two shares open the store and every record reads back.
        let mut store = Store::open(&store_dir).unwrap();
        let unlocked = back.unlock(b"passphrase-2").unwrap();
        unseal_store(&mut store, vec![read_share_file(&plain).unwrap(), unlocked]).unwrap();
        assert_eq!(
            prove_records(&store).unwrap(),
            RecordCount {
                tokens: 0,
                objects: 0,
                meta: 0,
                audit: 1,
            }
        );
    }

    #[test]
    fn share_texts_split_on_both_headers() {
        let mk = MasterKey::generate().unwrap();
        let shares = vault::split_master_key(&mk, [1; 16], 2, 2).unwrap();
        let p = ProtectedShare::protect(&shares[1], b"passphrase-2", weak()).unwrap();
        let joined = format!("{}{}", shares[0].to_text().as_str(), p.to_text());
        let blocks = split_share_texts(&joined);
        assert_eq!(blocks.len(), 2);
        assert!(Share::parse(&blocks[0]).is_ok());
        assert_eq!(
            Share::parse(&blocks[1]).unwrap_err(),
            VaultError::PassphraseProtected
        );
    }

    #[test]
    fn prove_records_fails_with_the_wrong_key() {
        let dir = tempfile::tempdir().unwrap();
        create_dev_store(dir.path(), 1).unwrap();
        let config = Config::for_store(dir.path());
        let mut store = Store::open(dir.path()).unwrap();
        unseal_store(&mut store, collect_shares(&config).unwrap()).unwrap();
        store
            .write(|tx| tx.put(RecordKind::Meta, 7, 0, b"hello"))
            .unwrap();
        assert_eq!(prove_records(&store).unwrap().meta, 1);
        let mut wrong = Store::open(dir.path()).unwrap();
        unseal_with_key(&mut wrong, &MasterKey::generate().unwrap()).unwrap();
        assert!(prove_records(&wrong).is_err());
    }
}
