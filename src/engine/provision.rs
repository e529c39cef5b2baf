//! Making a store and unsealing it: the master key, its shares, the header commitments.

use std::fs;
use std::io::Write;
use std::path::Path;

use crate::config::Config;
use crate::store::{SealKey, Store, StoreError, StoreHeader, STORE_FORMAT_VERSION};
use crate::vault::{self, MasterKey, Share, Unsealer, VaultError};

use super::DEV_SHARE_FILE;

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
    Store::create(dir, &header)?;
    Ok(shares)
}

/// Creates a `--dev` store: 1-of-1, its share written beside it so any process can unseal it.
pub fn create_dev_store(dir: &Path, slot_count: u32) -> Result<(), ProvisionError> {
    let shares = create_store(dir, 1, 1, slot_count)?;
    write_share_file(&dir.join(DEV_SHARE_FILE), &shares[0])
}

/// Writes a share to a new file, readable by its owner only.
pub fn write_share_file(path: &Path, share: &Share) -> Result<(), ProvisionError> {
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
    f.write_all(share.to_text().as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| ProvisionError::Io(format!("cannot write {}: {e}", path.display())))
}

/// Reads a share file.
pub fn read_share_file(path: &Path) -> Result<Share, ProvisionError> {
    let text =
        zeroize::Zeroizing::new(fs::read_to_string(path).map_err(|e| {
            ProvisionError::Io(format!("cannot read share {}: {e}", path.display()))
        })?);
    Share::parse(&text).map_err(|e| ProvisionError::Io(format!("{}: {e}", path.display())))
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
                out.push(
                    Share::parse(&block).map_err(|e| ProvisionError::Io(format!("${var}: {e}")))?,
                );
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
        if line.trim_start().starts_with("CUSTOS SHARE") || out.is_empty() {
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
    let key = mk.derive(RECORD_KEY_PURPOSE);
    store.set_seal_key(SealKey::from_bytes(key.as_bytes())?);
    Ok(())
}
