//! The rollback witness: the highest write generation of a store, kept outside it.
//!
//! A store's integrity state carries a write generation that grows with every commit. An
//! older copy of the whole store is internally consistent, so only something outside the
//! store can tell that it is older: each process remembers the highest generation it has
//! seen, and the witness file remembers it across processes and restarts.
//!
//! The file is `<dir>/<store-id-hex>.generation`, holding one decimal number; it is replaced
//! atomically (write to a temporary file, then rename) and is not synced, so after a power
//! loss it may lag behind the store, never run ahead of it. Its directory is the `witness`
//! setting of the configuration, by default `$XDG_STATE_HOME/custos` (or
//! `~/.local/state/custos`), which should not be on the same backup or snapshot as the store.
//!
//! What it protects against: putting back an older copy of the store directory (a restored
//! file-system backup, a copied directory, a VM or container image) while the witness
//! survives. What it cannot protect against: someone who can also roll back or delete the
//! witness file, or a rollback onto a machine that never saw the newer store. A hardware
//! HSM would keep this counter in tamper-resistant monotonic storage.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::StoreError;

/// How often at most a store handle writes the witness while it works; it also writes it when
/// it is dropped.
const WITNESS_INTERVAL: Duration = Duration::from_secs(1);

/// The write generations one store handle has seen, and its witness.
#[derive(Debug, Default)]
pub(crate) struct Generations {
    seen: Cell<u64>,
    witness: Option<Witness>,
    /// The store's write-ahead log, synced before the witness is written.
    wal: Option<PathBuf>,
    /// Whether the witness has been read into `seen` yet.
    witness_read: Cell<bool>,
    /// The generation last written to the witness, and when.
    written: Cell<(u64, Option<Instant>)>,
}

impl Generations {
    pub(crate) fn set_witness(&mut self, w: Witness, wal: PathBuf) {
        self.witness = Some(w);
        self.wal = Some(wal);
        self.witness_read.set(false);
    }

    /// The highest generation seen.
    pub(crate) fn seen(&self) -> u64 {
        self.seen.get()
    }

    /// Fails with [`StoreError::RolledBack`] if `generation` is older than one seen before,
    /// through this handle or in the witness.
    pub(crate) fn check_not_older(&self, generation: u64) -> Result<(), StoreError> {
        let mut seen = self.seen.get();
        if let Some(w) = &self.witness {
            if !self.witness_read.replace(true) {
                seen = seen.max(w.read());
                self.seen.set(seen);
            }
        }
        if generation < seen {
            return Err(StoreError::RolledBack {
                seen,
                found: generation,
            });
        }
        Ok(())
    }

    /// Accepts `generation` if it is not older than any seen before, remembers it, and brings
    /// the witness up to date at most once per [`WITNESS_INTERVAL`].
    pub(crate) fn observe(&self, generation: u64) -> Result<(), StoreError> {
        self.check_not_older(generation)?;
        self.seen.set(generation);
        let (_, at) = self.written.get();
        if at.is_none_or(|t| t.elapsed() >= WITNESS_INTERVAL) {
            self.flush();
        }
        Ok(())
    }

    /// Writes the highest generation seen to the witness if it is newer than what was last
    /// written there.
    pub(crate) fn flush(&self) {
        let Some(w) = &self.witness else {
            return;
        };
        let seen = self.seen.get();
        if seen > self.written.get().0 {
            // The witness must never run ahead of what a power loss would leave of the store:
            // commits that skipped the disk sync (see `Store::write_relaxed`) are synced first.
            // Without that guarantee the witness is left as it is.
            let synced = match &self.wal {
                Some(p) => std::fs::File::open(p).and_then(|f| f.sync_all()).is_ok() || !p.exists(),
                None => true,
            };
            if !synced {
                return;
            }
            w.record(seen);
        }
        self.written.set((seen, Some(Instant::now())));
    }
}

impl Drop for Generations {
    fn drop(&mut self) {
        self.flush();
    }
}

/// One store's witness file. Reads and writes are best effort: a witness that cannot be read
/// counts as generation 0, and one that cannot be written is left as it was.
#[derive(Debug, Clone)]
pub struct Witness {
    path: PathBuf,
}

impl Witness {
    /// The witness of the store `store_id` in directory `dir`.
    pub fn new(dir: &Path, store_id: &[u8; 16]) -> Witness {
        let name: String = store_id.iter().map(|b| format!("{b:02x}")).collect();
        Witness {
            path: dir.join(format!("{name}.generation")),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The generation recorded, or 0 when there is no readable witness.
    pub fn read(&self) -> u64 {
        std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| t.trim().parse().ok())
            .unwrap_or(0)
    }

    /// Records `generation` unless the witness already holds a higher one.
    pub fn record(&self, generation: u64) {
        if generation <= self.read() {
            return;
        }
        let Some(dir) = self.path.parent() else {
            return;
        };
        if super::create_dir_private(dir).is_err() {
            return;
        }
        let tmp = self
            .path
            .with_extension(format!("tmp{}", std::process::id()));
        if std::fs::write(&tmp, format!("{generation}\n")).is_ok()
            && std::fs::rename(&tmp, &self.path).is_err()
        {
            let _ = std::fs::remove_file(&tmp);
        }
    }

    /// Replaces the recorded generation, even with a lower one. Used only when a store is
    /// deliberately replaced by an older copy (a restore from backup).
    pub fn reset(&self, generation: u64) -> std::io::Result<()> {
        if let Some(dir) = self.path.parent() {
            super::create_dir_private(dir)?;
        }
        std::fs::write(&self.path, format!("{generation}\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_upwards_and_resets() {
        let tmp = tempfile::tempdir().unwrap();
        let w = Witness::new(&tmp.path().join("state"), &[0xAB; 16]);
        assert_eq!(w.read(), 0);
        w.record(5);
        assert_eq!(w.read(), 5);
        assert!(w
            .path()
            .ends_with(format!("{}.generation", "ab".repeat(16))));
        w.record(3);
        assert_eq!(w.read(), 5);
        w.record(9);
        assert_eq!(w.read(), 9);
        w.reset(2).unwrap();
        assert_eq!(w.read(), 2);
        std::fs::write(w.path(), "garbage").unwrap();
        assert_eq!(w.read(), 0);
    }
}
