//! The token engine: slots, tokens, sessions, login state, the object index and the policy
//! that governs them. Safe Rust, testable without the C ABI; every call takes and returns plain
//! Rust values so the engine can later be served over a socket unchanged.
//!
//! Concurrency: the session table and each token's state sit behind their own locks, held only
//! for bookkeeping. A cryptographic operation runs under its session's own mutex with the key
//! cloned out as an `Arc`, so no engine-wide lock is held across a signature.

pub mod access;
mod cipher;
mod error;
mod index;
mod keymgmt;
mod keys;
mod ops;
pub mod provision;
mod sign;
mod token;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

use cryptoki_sys::*;
use zeroize::Zeroizing;

pub use error::{Error, Result};
pub use ops::{Out, Produced};

use crate::config::Config;
use crate::mechanism::{self, MechInfo};
use crate::object::{Attr, Attributes, Value};
use crate::store::audit::{self, AuditEvent};
use crate::store::{RecordKind, Store, StoreHeader};
use crate::vault::{PinVerifier, Share};
use access::Actor;
use keys::Key;
use ops::Session;
use token::TokenRecord;

/// A slot number.
pub type SlotId = u64;
/// A session handle.
pub type SessionHandle = u64;
/// An object handle.
pub type ObjectHandle = u64;

/// Session object handles are allocated above every store id, so the two never meet.
const SESSION_OBJECT_BASE: u64 = 1 << 48;
/// Shortest and longest PINs accepted.
pub const MIN_PIN_LEN: usize = 4;
/// Longest PIN accepted.
pub const MAX_PIN_LEN: usize = 255;
/// How stale this process's view of the store may be when a cryptographic operation looks a
/// key up: a key changed or destroyed by another process may still be used by an operation
/// started within this interval of the change.
pub const KEY_SYNC_INTERVAL: std::time::Duration = std::time::Duration::from_millis(1);
/// The file, inside a `--dev` store directory, that holds its one share.
pub const DEV_SHARE_FILE: &str = "dev-share.txt";

/// `C_GetSlotInfo`, in plain values.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SlotInfo {
    /// The slot description.
    pub description: String,
    /// Whether a token is present (false while the store is sealed).
    pub token_present: bool,
}

/// `C_GetTokenInfo`, in plain values.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TokenInfo {
    /// The label, blank padded.
    pub label: [u8; 32],
    /// The serial number (16 characters).
    pub serial: String,
    /// `CKF_*` token flags.
    pub flags: CK_FLAGS,
    /// Sessions this application has open on the token.
    pub session_count: u64,
    /// Read/write sessions among them.
    pub rw_session_count: u64,
    /// Token objects, for `custos status`.
    pub object_count: u64,
}

/// `C_GetSessionInfo`, in plain values.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionInfo {
    /// The slot.
    pub slot: SlotId,
    /// `CKS_*`.
    pub state: CK_STATE,
    /// `CKF_SERIAL_SESSION` and maybe `CKF_RW_SESSION`.
    pub flags: CK_FLAGS,
}

/// One attribute as `C_GetAttributeValue` may report it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AttrRead {
    /// The value.
    Value(Value),
    /// Sensitive: `CKR_ATTRIBUTE_SENSITIVE`.
    Sensitive,
    /// Not an attribute of the object: `CKR_ATTRIBUTE_TYPE_INVALID`.
    Invalid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
enum Login {
    #[default]
    None,
    User,
    So,
}

/// One object in the index.
pub(crate) struct Obj {
    pub(crate) handle: ObjectHandle,
    pub(crate) attrs: Attributes,
    /// The session that owns a session object.
    pub(crate) owner: Option<SessionHandle>,
    /// `CKA_PRIVATE` (true when absent), read once: every search checks it.
    private: bool,
    key: OnceLock<Arc<Key>>,
    /// The usage policy read from `attrs`, gathered at the first use.
    key_use: OnceLock<access::KeyUse>,
}

impl Obj {
    fn new(handle: ObjectHandle, attrs: Attributes, owner: Option<SessionHandle>) -> Arc<Obj> {
        Arc::new(Obj {
            handle,
            private: attrs.bool_or(CKA_PRIVATE, true),
            attrs,
            owner,
            key: OnceLock::new(),
            key_use: OnceLock::new(),
        })
    }

    /// The object's usage policy as a key.
    pub(crate) fn key_use(&self) -> &access::KeyUse {
        self.key_use.get_or_init(|| access::KeyUse::of(&self.attrs))
    }

    fn is_private(&self) -> bool {
        self.private
    }
}

#[derive(Default)]
struct TokenState {
    record: Option<TokenRecord>,
    login: Login,
    objects: index::ObjectIndex,
    /// This application's sessions on the token: handle and read/write flag.
    sessions: Vec<(SessionHandle, bool)>,
    /// The session objects each session owns.
    session_objects: index::HandleMap<Vec<ObjectHandle>>,
}

impl TokenState {
    fn actor(&self) -> Actor {
        match self.login {
            Login::None => Actor::Public,
            Login::User => Actor::User,
            Login::So => Actor::So,
        }
    }

    fn audit_actor(&self) -> audit::Actor {
        login_actor(self.login)
    }

    fn visible(&self, h: ObjectHandle) -> Result<&Arc<Obj>> {
        let o = self.objects.get(&h).ok_or(Error::ObjectHandleInvalid)?;
        if o.is_private() && self.login != Login::User {
            return Err(Error::ObjectHandleInvalid);
        }
        Ok(o)
    }
}

/// A session: its slot and mode, fixed when it opens, and its operations behind a lock of their own.
pub(crate) struct SessionEntry {
    slot: u32,
    rw: bool,
    op: Mutex<Session>,
}

struct Slot {
    id: u32,
    state: RwLock<TokenState>,
}

/// The token engine over one store.
pub struct Engine {
    config: Config,
    store: Mutex<Store>,
    header: StoreHeader,
    unsealed: bool,
    seal_problem: Option<String>,
    slots: Vec<Slot>,
    sessions: RwLock<index::HandleMap<Arc<SessionEntry>>>,
    next_session: AtomicU64,
    next_object: AtomicU64,
    /// When the store was last checked for other processes' changes (ns since `epoch`).
    last_sync: AtomicU64,
    epoch: std::time::Instant,
    /// Lock-free check of the store's shared WAL index, and its token as of the last full
    /// check (0: none yet).
    probe: Option<crate::store::ChangeProbe>,
    probe_token: AtomicU64,
}

fn login_actor(l: Login) -> audit::Actor {
    match l {
        Login::None => audit::Actor::Public,
        Login::User => audit::Actor::User,
        Login::So => audit::Actor::So,
    }
}

/// The `CKA_UNIQUE_ID` of an object, for the audit log.
fn unique_id_of(attrs: &Attributes) -> String {
    attrs
        .bytes(CKA_UNIQUE_ID)
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .unwrap_or_default()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}
fn read<T>(m: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    m.read().unwrap_or_else(|p| p.into_inner())
}
fn write<T>(m: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    m.write().unwrap_or_else(|p| p.into_inner())
}

fn pin_len_ok(pin: &[u8]) -> Result<()> {
    if (MIN_PIN_LEN..=MAX_PIN_LEN).contains(&pin.len()) {
        Ok(())
    } else {
        Err(Error::PinLenRange)
    }
}

fn random_hex(n: usize) -> Result<String> {
    let mut b = vec![0u8; n];
    crate::crypto::fill_random(&mut b)?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The civil date (year, month, day; proleptic Gregorian, UTC) of a day number counted from
/// 1970-01-01.
pub fn civil_date(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Today's date as `YYYYMMDD` (UTC), computed from the day number.
fn date_of_day(days: i64) -> [u8; 8] {
    let (y, m, d) = civil_date(days);
    let s = format!("{:04}{:02}{:02}", y.clamp(0, 9999), m, d);
    let mut out = [b'0'; 8];
    out.copy_from_slice(s.as_bytes());
    out
}

/// Today's date as `YYYYMMDD`, for `CKA_START_DATE` / `CKA_END_DATE`; recomputed once a day.
fn today() -> [u8; 8] {
    use std::sync::atomic::AtomicI64;
    static DAY: AtomicI64 = AtomicI64::new(i64::MIN);
    static DATE: AtomicU64 = AtomicU64::new(0);
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let day = (secs / 86_400) as i64;
    if DAY.load(Ordering::Acquire) != day {
        DATE.store(u64::from_le_bytes(date_of_day(day)), Ordering::Release);
        DAY.store(day, Ordering::Release);
    }
    DATE.load(Ordering::Acquire).to_le_bytes()
}

impl Engine {
    /// Opens the store named by `config` and unseals it with the shares the configuration names
    /// (share files, a variable, or a `--dev` store's own share). Without enough shares the
    /// engine still opens, with every token absent.
    pub fn open(config: Config) -> Result<Engine> {
        let mut store = Store::open(&config.store)?;
        if let Some(dir) = config.witness_location() {
            store.set_witness_dir(&dir);
        }
        let header = store.header().clone();
        let mut seal_problem = None;
        match provision::collect_shares(&config) {
            Ok(shares) if shares.is_empty() => {
                seal_problem = Some(format!(
                    "store {} is sealed: no shares configured",
                    config.store.display()
                ));
            }
            Ok(shares) => match provision::unseal_store(&mut store, shares) {
                Ok(()) => {}
                Err(e) => seal_problem = Some(e.to_string()),
            },
            Err(e) => seal_problem = Some(e.to_string()),
        }
        Self::with_store(config, store, header, seal_problem)
    }

    /// Builds the engine around an opened (and possibly unsealed) store.
    pub fn with_store(
        config: Config,
        store: Store,
        header: StoreHeader,
        seal_problem: Option<String>,
    ) -> Result<Engine> {
        let unsealed = store.is_unsealed();
        let probe = store.change_probe();
        let slots = (0..header.slot_count)
            .map(|id| Slot {
                id,
                state: RwLock::new(TokenState::default()),
            })
            .collect();
        let e = Engine {
            config,
            store: Mutex::new(store),
            header,
            unsealed,
            seal_problem,
            slots,
            sessions: RwLock::new(index::HandleMap::default()),
            next_session: AtomicU64::new(1),
            next_object: AtomicU64::new(SESSION_OBJECT_BASE),
            last_sync: AtomicU64::new(0),
            epoch: std::time::Instant::now(),
            probe,
            probe_token: AtomicU64::new(0),
        };
        if e.unsealed {
            // Prime the change counter, then load everything once.
            let store = lock(&e.store);
            store.external_change()?;
            e.reload(&store)?;
        }
        Ok(e)
    }

    /// Why the store is sealed, if it is.
    pub fn seal_problem(&self) -> Option<&str> {
        self.seal_problem.as_deref()
    }

    /// Whether the master key is present.
    pub fn is_unsealed(&self) -> bool {
        self.unsealed
    }

    /// The store header.
    pub fn header(&self) -> &StoreHeader {
        &self.header
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn slot(&self, slot: SlotId) -> Result<&Slot> {
        usize::try_from(slot)
            .ok()
            .and_then(|i| self.slots.get(i))
            .ok_or(Error::SlotIdInvalid)
    }

    fn present(&self) -> Result<()> {
        if self.unsealed {
            Ok(())
        } else {
            Err(Error::TokenNotPresent)
        }
    }

    /// With `audit_key_use` configured, records the use of a private or secret key (the
    /// operation being started, the mechanism and the key) before the operation may proceed.
    pub(crate) fn audit_key_use(
        &self,
        h: SessionHandle,
        o: &Obj,
        usage: access::Usage,
        mech: CK_MECHANISM_TYPE,
    ) -> Result<()> {
        if !self.config.audit_key_use
            || !matches!(o.attrs.class(), Some(CKO_PRIVATE_KEY | CKO_SECRET_KEY))
        {
            return Ok(());
        }
        let (s, _) = self.session_slot(h)?;
        let ev = self
            .event(s, "key use")
            .object(unique_id_of(&o.attrs))
            .detail(format!("{usage:?} {}", keymgmt::mechanism_name(mech)));
        self.audit_only(&ev)
    }

    /// Reads and verifies the audit log (see [`Store::verify_audit`]).
    pub fn audit_log(&self) -> Result<(Vec<audit::AuditEntry>, Vec<audit::AuditDefect>)> {
        self.present()?;
        Ok(lock(&self.store).verify_audit()?)
    }

    /// Appends a store-wide entry to the audit log (an action of the custodians or the
    /// operator, such as an unseal ceremony).
    pub fn audit_store_event(&self, ev: &AuditEvent) -> Result<()> {
        self.present()?;
        self.audit_only(ev)
    }

    /// Appends one audit entry in a transaction of its own, for operations that write nothing
    /// else to the store. Fails (and so fails the operation) when the entry cannot be written.
    ///
    /// The commit skips the disk sync (see [`Store::write_relaxed`]): these entries record
    /// events that change nothing else, and a sync each would make every login cost a disk
    /// flush. Entries recorded with a change (failures and lockouts with their counters, every
    /// object and token change) are synced with it.
    fn audit_only(&self, ev: &AuditEvent) -> Result<()> {
        lock(&self.store).write_relaxed(|tx| tx.append_audit(ev).map(drop))?;
        Ok(())
    }

    /// Reloads the token records and token objects when another process has committed since
    /// the last look. Cheap when nothing changed.
    fn sync(&self) -> Result<()> {
        if !self.unsealed {
            return Ok(());
        }
        self.last_sync
            .store(self.epoch.elapsed().as_nanos() as u64, Ordering::Relaxed);
        // The probe is read before the full check, so a commit landing in between is seen by
        // the check (and changes the token again for the next call).
        let token = self.probe.as_ref().and_then(|p| p.token());
        if let Some(t) = token {
            if t == self.probe_token.load(Ordering::Acquire) {
                return Ok(());
            }
        }
        // The store stays locked from the check to the end of the reload, so no change this
        // process commits meanwhile (they all take the lock) can be lost from the index or
        // brought back by a reload that read the store before it.
        let store = lock(&self.store);
        if store.external_change()? {
            if let Err(e) = self.reload(&store) {
                // A store that fails verification stays refused: look again on every call.
                self.probe_token.store(0, Ordering::Release);
                store.invalidate();
                return Err(e);
            }
        }
        drop(store);
        if let Some(t) = token {
            self.probe_token.store(t, Ordering::Release);
        }
        Ok(())
    }

    /// [`Engine::sync`] unless this process looked less than [`KEY_SYNC_INTERVAL`] ago. Used on
    /// the hot path of cryptographic operations, where the store check would cost more than a
    /// small operation itself; object management always looks.
    fn sync_recent(&self) -> Result<()> {
        let now = self.epoch.elapsed().as_nanos() as u64;
        let last = self.last_sync.load(Ordering::Relaxed);
        if now.saturating_sub(last) < KEY_SYNC_INTERVAL.as_nanos() as u64 {
            return Ok(());
        }
        self.sync()
    }

    /// Replaces the token records and the token objects of the index with the store's. The
    /// caller holds the store lock (`store`), which every writer of the store also holds until
    /// it has updated the index: lock order is always store, then slot state.
    fn reload(&self, store: &Store) -> Result<()> {
        let snap = store.snapshot()?;
        let (tokens, objects) = (snap.tokens, snap.objects);
        let mut records: HashMap<u32, TokenRecord> = HashMap::new();
        for r in tokens {
            records.insert(r.slot, TokenRecord::decode(&r.plain)?);
        }
        let mut per_slot: HashMap<u32, Vec<(u64, Attributes)>> = HashMap::new();
        for r in objects {
            let attrs = Attributes::decode(&r.plain)
                .map_err(|e| Error::DeviceError(format!("object {}: {e}", r.id)))?;
            per_slot.entry(r.slot).or_default().push((r.id, attrs));
        }
        for slot in &self.slots {
            let mut st = write(&slot.state);
            st.record = records.remove(&slot.id);
            let fresh = per_slot.remove(&slot.id).unwrap_or_default();
            let mut objects = index::ObjectIndex::default();
            for o in st.objects.values().filter(|o| o.owner.is_some()) {
                objects.insert(o.clone());
            }
            for (id, attrs) in fresh {
                // Keep the existing entry (and its parsed key) when nothing changed.
                let keep = st.objects.get(&id).filter(|o| o.attrs == attrs).cloned();
                objects.insert(keep.unwrap_or_else(|| Obj::new(id, attrs, None)));
            }
            st.objects = objects;
            if st.record.is_none() {
                st.login = Login::None;
            }
        }
        Ok(())
    }

    // ----- slots and tokens -------------------------------------------------------------

    /// `C_GetSlotList`. Every slot has a token unless the store is sealed.
    pub fn slot_list(&self, token_present: bool) -> Vec<SlotId> {
        if token_present && !self.unsealed {
            return Vec::new();
        }
        self.slots.iter().map(|s| SlotId::from(s.id)).collect()
    }

    /// `C_GetSlotInfo`.
    pub fn slot_info(&self, slot: SlotId) -> Result<SlotInfo> {
        let s = self.slot(slot)?;
        Ok(SlotInfo {
            description: format!("Custos slot {}", s.id),
            token_present: self.unsealed,
        })
    }

    /// `C_GetTokenInfo`.
    pub fn token_info(&self, slot: SlotId) -> Result<TokenInfo> {
        let s = self.slot(slot)?;
        self.present()?;
        self.sync()?;
        let st = read(&s.state);
        let max = self.config.max_pin_failures;
        let mut flags = CKF_RNG | CKF_LOGIN_REQUIRED | CKF_DUAL_CRYPTO_OPERATIONS;
        let (label, serial) = match &st.record {
            Some(r) => {
                flags |= CKF_TOKEN_INITIALIZED;
                if r.user_pin.is_some() {
                    flags |= CKF_USER_PIN_INITIALIZED;
                }
                flags |= pin_flags(
                    r.user_failures,
                    max,
                    CKF_USER_PIN_COUNT_LOW,
                    CKF_USER_PIN_FINAL_TRY,
                    CKF_USER_PIN_LOCKED,
                );
                flags |= pin_flags(
                    r.so_failures,
                    max,
                    CKF_SO_PIN_COUNT_LOW,
                    CKF_SO_PIN_FINAL_TRY,
                    CKF_SO_PIN_LOCKED,
                );
                let serial: String = r.serial.iter().map(|b| format!("{b:02x}")).collect();
                (r.label, serial)
            }
            None => {
                let mut l = [b' '; 32];
                l[..14].copy_from_slice(b"uninitialised ");
                (l, format!("{:016x}", s.id))
            }
        };
        let rw = st.sessions.iter().filter(|(_, rw)| *rw).count() as u64;
        Ok(TokenInfo {
            label,
            serial,
            flags,
            session_count: st.sessions.len() as u64,
            rw_session_count: rw,
            object_count: st.objects.values().filter(|o| o.owner.is_none()).count() as u64,
        })
    }

    /// `C_GetMechanismList`.
    pub fn mechanism_list(&self, slot: SlotId) -> Result<Vec<CK_MECHANISM_TYPE>> {
        self.slot(slot)?;
        Ok(mechanism::MECHANISMS.iter().map(|m| m.ty).collect())
    }

    /// `C_GetMechanismInfo`.
    pub fn mechanism_info(&self, slot: SlotId, ty: CK_MECHANISM_TYPE) -> Result<MechInfo> {
        self.slot(slot)?;
        mechanism::info(ty).copied().ok_or(Error::MechanismInvalid)
    }

    /// `C_InitToken`: initialises a blank token, or re-initialises one with its SO PIN, which
    /// destroys all its objects and clears its user PIN. The slot id does not change.
    pub fn init_token(&self, slot: SlotId, so_pin: &[u8], label: [u8; 32]) -> Result<()> {
        let s = self.slot(slot)?;
        self.present()?;
        self.sync()?;
        pin_len_ok(so_pin)?;
        {
            let st = read(&s.state);
            if !st.sessions.is_empty() {
                return Err(Error::SessionExists);
            }
        }
        if read(&s.state).record.is_some() {
            self.check_pin(s, Login::So, so_pin, "C_InitToken")?;
        }
        let mut serial = [0u8; 8];
        crate::crypto::fill_random(&mut serial)?;
        let record = TokenRecord {
            label,
            so_pin: PinVerifier::new(so_pin, self.config.pin_iterations)
                .map_err(|e| Error::General(e.to_string()))?,
            user_pin: None,
            so_failures: 0,
            user_failures: 0,
            serial,
        };
        let enc = Zeroizing::new(record.encode());
        let ev = AuditEvent::now(s.id, audit::Actor::So, "C_InitToken")
            .detail(String::from_utf8_lossy(&label).trim_end().to_string());
        // The store stays locked until the index shows the change (see `reload`).
        let mut store = lock(&self.store);
        store.write(|tx| {
            let destroyed = tx.delete_slot(RecordKind::Object, s.id)?;
            tx.put(RecordKind::Token, u64::from(s.id), s.id, &enc)?;
            let detail = format!("{}; {destroyed} objects destroyed", ev.detail);
            tx.append_audit(&ev.clone().detail(detail)).map(drop)
        })?;
        let mut st = write(&s.state);
        st.record = Some(record);
        st.login = Login::None;
        st.objects.clear();
        drop(st);
        drop(store);
        Ok(())
    }

    /// Verifies a PIN against the token record, counting failures durably. The slow KDF runs
    /// without any lock held.
    /// Failures and lockouts are written to the audit log as operation `op`, in the same
    /// transaction as the failure counter.
    fn check_pin(&self, s: &Slot, who: Login, pin: &[u8], op: &str) -> Result<()> {
        let max = self.config.max_pin_failures;
        let ev = AuditEvent::now(s.id, login_actor(who), op);
        let locked_ev = ev
            .clone()
            .result(CKR_PIN_LOCKED)
            .detail("refused: the PIN is locked");
        let verifier = {
            let st = read(&s.state);
            let r = st.record.as_ref().ok_or(Error::TokenNotRecognized)?;
            let (v, failures) = match who {
                Login::So => (Some(r.so_pin.clone()), r.so_failures),
                _ => (r.user_pin.clone(), r.user_failures),
            };
            if failures >= max {
                drop(st);
                self.audit_only(&locked_ev)?;
                return Err(Error::PinLocked);
            }
            v.ok_or(Error::UserPinNotInitialized)?
        };
        let ok = verifier.verify(pin);
        let slot_id = s.id;
        let mut store = lock(&self.store);
        let updated = store.write(|tx| {
            let Some((_, plain)) = tx.get(RecordKind::Token, u64::from(slot_id))? else {
                return Ok(None);
            };
            let mut r = TokenRecord::decode(&plain).map_err(|_| {
                crate::store::StoreError::RecordCorrupt {
                    kind: RecordKind::Token as u16,
                    id: u64::from(slot_id),
                }
            })?;
            let counter = match who {
                Login::So => &mut r.so_failures,
                _ => &mut r.user_failures,
            };
            if *counter >= max {
                // Another process locked it meanwhile.
                tx.append_audit(&locked_ev)?;
                return Ok(Some((r, false)));
            }
            let before = *counter;
            *counter = if ok { 0 } else { before + 1 };
            let after = *counter;
            if after != before {
                tx.put(RecordKind::Token, u64::from(slot_id), slot_id, &r.encode())?;
            }
            if !ok {
                let ev = if after >= max {
                    ev.result(CKR_PIN_INCORRECT)
                        .detail(format!("wrong PIN; locked after {after} failures"))
                } else {
                    ev.result(CKR_PIN_INCORRECT)
                        .detail(format!("wrong PIN; {after} of {max} failures"))
                };
                tx.append_audit(&ev)?;
            }
            Ok(Some((r, true)))
        })?;
        let Some((record, counted)) = updated else {
            return Err(Error::TokenNotRecognized);
        };
        write(&s.state).record = Some(record);
        drop(store);
        match (ok, counted) {
            (true, true) => Ok(()),
            (_, false) => Err(Error::PinLocked),
            (false, true) => Err(Error::PinIncorrect),
        }
    }

    fn store_token_record(
        &self,
        s: &Slot,
        ev: &AuditEvent,
        f: impl FnOnce(&mut TokenRecord),
    ) -> Result<()> {
        let slot_id = s.id;
        let mut out = None;
        let mut store = lock(&self.store);
        store.write(|tx| {
            let Some((_, plain)) = tx.get(RecordKind::Token, u64::from(slot_id))? else {
                return Ok(());
            };
            let mut r = TokenRecord::decode(&plain).map_err(|_| {
                crate::store::StoreError::RecordCorrupt {
                    kind: RecordKind::Token as u16,
                    id: u64::from(slot_id),
                }
            })?;
            f(&mut r);
            tx.put(RecordKind::Token, u64::from(slot_id), slot_id, &r.encode())?;
            tx.append_audit(ev)?;
            out = Some(r);
            Ok(())
        })?;
        let r = out.ok_or(Error::TokenNotRecognized)?;
        write(&s.state).record = Some(r);
        drop(store);
        Ok(())
    }

    // ----- sessions and login -----------------------------------------------------------

    fn session(&self, h: SessionHandle) -> Result<Arc<SessionEntry>> {
        read(&self.sessions)
            .get(&h)
            .cloned()
            .ok_or(Error::SessionHandleInvalid)
    }

    /// The session's slot and read/write flag.
    fn session_slot(&self, h: SessionHandle) -> Result<(&Slot, bool)> {
        let sess = self.session(h)?;
        let slot = self.slot(SlotId::from(sess.slot))?;
        Ok((slot, sess.rw))
    }

    /// `C_OpenSession`.
    pub fn open_session(&self, slot: SlotId, flags: CK_FLAGS) -> Result<SessionHandle> {
        let s = self.slot(slot)?;
        if flags & CKF_SERIAL_SESSION == 0 {
            return Err(Error::SessionParallelNotSupported);
        }
        self.present()?;
        self.sync_recent()?;
        let rw = flags & CKF_RW_SESSION != 0;
        let mut st = write(&s.state);
        if st.record.is_none() {
            return Err(Error::TokenNotRecognized);
        }
        if !rw && st.login == Login::So {
            return Err(Error::SessionReadWriteSoExists);
        }
        let h = self.next_session.fetch_add(1, Ordering::Relaxed);
        st.sessions.push((h, rw));
        write(&self.sessions).insert(
            h,
            Arc::new(SessionEntry {
                slot: s.id,
                rw,
                op: Mutex::new(Session::new()),
            }),
        );
        Ok(h)
    }

    /// `C_CloseSession`: destroys the session's objects; closing the last session of a token
    /// logs the application out of it.
    pub fn close_session(&self, h: SessionHandle) -> Result<()> {
        let sess = write(&self.sessions)
            .remove(&h)
            .ok_or(Error::SessionHandleInvalid)?;
        let slot_id = sess.slot;
        let s = self.slot(SlotId::from(slot_id))?;
        let mut st = write(&s.state);
        st.sessions.retain(|(x, _)| *x != h);
        for o in st.session_objects.remove(&h).unwrap_or_default() {
            st.objects.remove(&o);
        }
        if st.sessions.is_empty() {
            st.login = Login::None;
        }
        Ok(())
    }

    /// `C_CloseAllSessions`.
    pub fn close_all_sessions(&self, slot: SlotId) -> Result<()> {
        let s = self.slot(slot)?;
        let handles: Vec<SessionHandle> = read(&s.state).sessions.iter().map(|(h, _)| *h).collect();
        for h in handles {
            // A concurrent close of the same session is not an error here.
            let _ = self.close_session(h);
        }
        Ok(())
    }

    /// Closes every session of every slot (`C_Finalize`).
    pub fn close_everything(&self) {
        for s in &self.slots {
            let _ = self.close_all_sessions(SlotId::from(s.id));
        }
    }

    /// `C_GetSessionInfo`.
    pub fn session_info(&self, h: SessionHandle) -> Result<SessionInfo> {
        let (s, rw) = self.session_slot(h)?;
        let login = read(&s.state).login;
        let state = match (login, rw) {
            (Login::None, false) => CKS_RO_PUBLIC_SESSION,
            (Login::None, true) => CKS_RW_PUBLIC_SESSION,
            (Login::User, false) => CKS_RO_USER_FUNCTIONS,
            (Login::User, true) => CKS_RW_USER_FUNCTIONS,
            (Login::So, _) => CKS_RW_SO_FUNCTIONS,
        };
        let flags = CKF_SERIAL_SESSION | if rw { CKF_RW_SESSION } else { 0 };
        Ok(SessionInfo {
            slot: SlotId::from(s.id),
            state,
            flags,
        })
    }

    /// `C_Login`.
    pub fn login(&self, h: SessionHandle, user_type: CK_USER_TYPE, pin: &[u8]) -> Result<()> {
        let sess = self.session(h)?;
        let (s, _) = self.session_slot(h)?;
        self.sync()?;
        let current = read(&s.state).login;
        match user_type {
            CKU_SO => {
                match current {
                    Login::So => return Err(Error::UserAlreadyLoggedIn),
                    Login::User => return Err(Error::UserAnotherAlreadyLoggedIn),
                    Login::None => {}
                }
                if read(&s.state).sessions.iter().any(|(_, rw)| !rw) {
                    return Err(Error::SessionReadOnlyExists);
                }
                self.check_pin(s, Login::So, pin, "C_Login")?;
                self.audit_only(&AuditEvent::now(s.id, audit::Actor::So, "C_Login"))?;
                write(&s.state).login = Login::So;
            }
            CKU_USER => {
                match current {
                    Login::User => return Err(Error::UserAlreadyLoggedIn),
                    Login::So => return Err(Error::UserAnotherAlreadyLoggedIn),
                    Login::None => {}
                }
                self.check_pin(s, Login::User, pin, "C_Login")?;
                self.audit_only(&AuditEvent::now(s.id, audit::Actor::User, "C_Login"))?;
                write(&s.state).login = Login::User;
            }
            CKU_CONTEXT_SPECIFIC => {
                if current != Login::User {
                    return Err(Error::UserNotLoggedIn);
                }
                if !lock(&sess.op).awaits_context_login() {
                    return Err(Error::OperationNotInitialized);
                }
                self.check_pin(s, Login::User, pin, "C_Login")?;
                self.audit_only(
                    &AuditEvent::now(s.id, audit::Actor::User, "C_Login")
                        .detail("context-specific"),
                )?;
                lock(&sess.op).context_login_done();
            }
            _ => return Err(Error::UserTypeInvalid),
        }
        Ok(())
    }

    /// `C_Logout`: private session objects are destroyed.
    pub fn logout(&self, h: SessionHandle) -> Result<()> {
        let (s, _) = self.session_slot(h)?;
        let mut st = write(&s.state);
        if st.login == Login::None {
            return Err(Error::UserNotLoggedIn);
        }
        st.login = Login::None;
        let private: Vec<ObjectHandle> = st
            .session_objects
            .values()
            .flatten()
            .copied()
            .filter(|o| st.objects.get(o).is_some_and(|x| x.is_private()))
            .collect();
        for o in private {
            st.objects.remove(&o);
        }
        Ok(())
    }

    /// `C_InitPIN`: the SO sets the user PIN (also unlocking a locked one).
    pub fn init_pin(&self, h: SessionHandle, pin: &[u8]) -> Result<()> {
        let (s, rw) = self.session_slot(h)?;
        if read(&s.state).login != Login::So {
            return Err(Error::UserNotLoggedIn);
        }
        if !rw {
            return Err(Error::SessionReadOnly);
        }
        pin_len_ok(pin)?;
        let v = PinVerifier::new(pin, self.config.pin_iterations)
            .map_err(|e| Error::General(e.to_string()))?;
        let ev = AuditEvent::now(s.id, audit::Actor::So, "C_InitPIN");
        self.store_token_record(s, &ev, |r| {
            r.user_pin = Some(v);
            r.user_failures = 0;
        })
    }

    /// `C_SetPIN`: the SO's PIN when the SO is logged in, otherwise the user's.
    pub fn set_pin(&self, h: SessionHandle, old: &[u8], new: &[u8]) -> Result<()> {
        let (s, rw) = self.session_slot(h)?;
        if !rw {
            return Err(Error::SessionReadOnly);
        }
        self.sync()?;
        pin_len_ok(new)?;
        let who = match read(&s.state).login {
            Login::So => Login::So,
            _ => Login::User,
        };
        self.check_pin(s, who, old, "C_SetPIN")?;
        let v = PinVerifier::new(new, self.config.pin_iterations)
            .map_err(|e| Error::General(e.to_string()))?;
        let ev = AuditEvent::now(s.id, login_actor(who), "C_SetPIN");
        self.store_token_record(s, &ev, |r| match who {
            Login::So => r.so_pin = v,
            _ => r.user_pin = Some(v),
        })
    }

    // ----- objects ----------------------------------------------------------------------

    /// The state needed to act on objects in a session: slot, read/write flag, actor.
    fn object_context(&self, h: SessionHandle) -> Result<(&Slot, bool, Actor)> {
        let (s, rw) = self.session_slot(h)?;
        self.sync()?;
        let actor = read(&s.state).actor();
        Ok((s, rw, actor))
    }

    /// Writes a new object: token objects durably to the store, session objects to memory.
    fn insert_object(
        &self,
        s: &Slot,
        h: SessionHandle,
        rw: bool,
        attrs: Attributes,
        ev: AuditEvent,
    ) -> Result<ObjectHandle> {
        self.insert_objects(s, h, rw, vec![attrs], ev).map(|v| v[0])
    }

    /// An audit event of this slot's current actor.
    fn event(&self, s: &Slot, op: &str) -> AuditEvent {
        AuditEvent::now(s.id, read(&s.state).audit_actor(), op)
    }

    /// Writes several new objects at once (a key pair): all or none, with the audit entry `ev`
    /// (completed with the objects' unique ids) in the same transaction.
    fn insert_objects(
        &self,
        s: &Slot,
        h: SessionHandle,
        rw: bool,
        list: Vec<Attributes>,
        ev: AuditEvent,
    ) -> Result<Vec<ObjectHandle>> {
        if list.iter().any(|a| a.bool_or(CKA_TOKEN, false)) && !rw {
            return Err(Error::SessionReadOnly);
        }
        let token: Vec<bool> = list.iter().map(|a| a.bool_or(CKA_TOKEN, false)).collect();
        let ev = ev.object(list.iter().map(unique_id_of).collect::<Vec<_>>().join(","));
        let ev = if ev.detail.is_empty() {
            ev.detail(if token.iter().any(|t| *t) {
                "token object"
            } else {
                "session object"
            })
        } else {
            ev
        };
        // For token objects the store stays locked until the index holds them (see `reload`).
        let mut store_guard = None;
        let ids: Vec<u64> = if token.iter().any(|t| *t) {
            let store = store_guard.insert(lock(&self.store));
            store.write(|tx| {
                tx.append_audit(&ev)?;
                let mut ids = Vec::new();
                for (a, t) in list.iter().zip(&token) {
                    if *t {
                        let id = tx.alloc_id()?;
                        let enc = Zeroizing::new(a.encode());
                        tx.put(RecordKind::Object, id, s.id, &enc)?;
                        ids.push(id);
                    } else {
                        ids.push(0);
                    }
                }
                Ok(ids)
            })?
        } else {
            self.audit_only(&ev)?;
            vec![0; list.len()]
        };
        let mut st = write(&s.state);
        // A private session object must not outlive a C_Logout that ran since the caller
        // checked the login: look again under the lock the logout takes.
        let private_session = list
            .iter()
            .zip(&token)
            .any(|(a, t)| !*t && a.bool_or(CKA_PRIVATE, false));
        if private_session && st.login != Login::User {
            return Err(Error::UserNotLoggedIn);
        }
        let mut out = Vec::new();
        for ((a, t), id) in list.into_iter().zip(token).zip(ids) {
            let (handle, owner) = if t {
                (id, None)
            } else {
                (self.next_object.fetch_add(1, Ordering::Relaxed), Some(h))
            };
            if let Some(owner) = owner {
                st.session_objects.entry(owner).or_default().push(handle);
            }
            st.objects.insert(Obj::new(handle, a, owner));
            out.push(handle);
        }
        drop(st);
        drop(store_guard);
        Ok(out)
    }

    fn unique_id() -> Result<String> {
        random_hex(16)
    }

    /// `C_CreateObject`.
    pub fn create_object(&self, h: SessionHandle, template: &[Attr]) -> Result<ObjectHandle> {
        let (s, rw, actor) = self.object_context(h)?;
        let attrs = access::new_object(template, actor, Self::unique_id()?)?;
        let ev = self.event(s, "C_CreateObject");
        self.insert_object(s, h, rw, attrs, ev)
    }

    /// `C_CopyObject`.
    pub fn copy_object(
        &self,
        h: SessionHandle,
        obj: ObjectHandle,
        template: &[Attr],
    ) -> Result<ObjectHandle> {
        let (s, rw, actor) = self.object_context(h)?;
        let source = read(&s.state).visible(obj)?.clone();
        access::check_copy(&source.attrs, template, actor)?;
        let mut attrs = source.attrs.clone();
        access::apply_set(&mut attrs, template);
        attrs.set(CKA_UNIQUE_ID, Value::Bytes(Self::unique_id()?.into_bytes()));
        if attrs.bool_or(CKA_PRIVATE, false) && actor != Actor::User {
            return Err(Error::UserNotLoggedIn);
        }
        let ev = self
            .event(s, "C_CopyObject")
            .detail(format!("copy of {}", unique_id_of(&source.attrs)));
        self.insert_object(s, h, rw, attrs, ev)
    }

    fn check_writable(o: &Obj, rw: bool, actor: Actor) -> Result<()> {
        if o.owner.is_none() && !rw {
            return Err(Error::SessionReadOnly);
        }
        if o.is_private() && actor != Actor::User {
            return Err(Error::UserNotLoggedIn);
        }
        Ok(())
    }

    /// `C_DestroyObject`.
    pub fn destroy_object(&self, h: SessionHandle, obj: ObjectHandle) -> Result<()> {
        let (s, rw, actor) = self.object_context(h)?;
        let o = read(&s.state).visible(obj)?.clone();
        Self::check_writable(&o, rw, actor)?;
        if !o.attrs.bool_or(CKA_DESTROYABLE, true) {
            return Err(Error::ActionProhibited);
        }
        let ev = self
            .event(s, "C_DestroyObject")
            .object(unique_id_of(&o.attrs));
        if o.owner.is_none() {
            // The store stays locked until the index shows the change (see `reload`).
            let mut store = lock(&self.store);
            let found = store.write(|tx| {
                let found = tx.delete(RecordKind::Object, obj)?;
                if found {
                    tx.append_audit(&ev)?;
                }
                Ok(found)
            })?;
            write(&s.state).objects.remove(&obj);
            drop(store);
            if !found {
                return Err(Error::ObjectHandleInvalid);
            }
            return Ok(());
        }
        self.audit_only(&ev.detail("session object"))?;
        write(&s.state).objects.remove(&obj);
        Ok(())
    }

    /// `C_GetObjectSize`: the size of the object's sealed record.
    pub fn object_size(&self, h: SessionHandle, obj: ObjectHandle) -> Result<u64> {
        let (s, _, _) = self.object_context(h)?;
        let st = read(&s.state);
        Ok(st.visible(obj)?.attrs.encoded_len() as u64)
    }

    /// `C_GetAttributeValue`: one verdict per requested type.
    pub fn get_attributes(
        &self,
        h: SessionHandle,
        obj: ObjectHandle,
        types: &[CK_ATTRIBUTE_TYPE],
    ) -> Result<Vec<AttrRead>> {
        let (s, _, _) = self.object_context(h)?;
        let st = read(&s.state);
        let o = st.visible(obj)?;
        Ok(types
            .iter()
            .map(|t| match access::readable(&o.attrs, *t) {
                access::Readable::Value(v) => AttrRead::Value(v.clone()),
                access::Readable::Sensitive => AttrRead::Sensitive,
                access::Readable::Invalid => AttrRead::Invalid,
            })
            .collect())
    }

    /// `C_SetAttributeValue`.
    pub fn set_attributes(
        &self,
        h: SessionHandle,
        obj: ObjectHandle,
        template: &[Attr],
    ) -> Result<()> {
        let (s, rw, actor) = self.object_context(h)?;
        let o = read(&s.state).visible(obj)?.clone();
        Self::check_writable(&o, rw, actor)?;
        access::check_set(&o.attrs, template, actor)?;
        let mut attrs = o.attrs.clone();
        access::apply_set(&mut attrs, template);
        let types: Vec<String> = template.iter().map(|a| format!("0x{:x}", a.ty)).collect();
        let ev = self
            .event(s, "C_SetAttributeValue")
            .object(unique_id_of(&o.attrs))
            .detail(format!("attributes {}", types.join(",")));
        if o.owner.is_none() {
            let enc = Zeroizing::new(attrs.encode());
            // The store stays locked until the index shows the change (see `reload`).
            let mut store = lock(&self.store);
            let found = store.write(|tx| {
                if tx.get(RecordKind::Object, obj)?.is_none() {
                    return Ok(false);
                }
                tx.put(RecordKind::Object, obj, s.id, &enc)?;
                tx.append_audit(&ev)?;
                Ok(true)
            })?;
            let mut st = write(&s.state);
            if !found {
                st.objects.remove(&obj);
                return Err(Error::ObjectHandleInvalid);
            }
            st.objects.insert(Obj::new(obj, attrs, o.owner));
            drop(st);
            drop(store);
            return Ok(());
        }
        write(&s.state)
            .objects
            .insert(Obj::new(obj, attrs, o.owner));
        Ok(())
    }

    /// `C_FindObjectsInit`.
    pub fn find_init(&self, h: SessionHandle, template: &[Attr]) -> Result<()> {
        let sess = self.session(h)?;
        let (s, _, _) = self.object_context(h)?;
        let mut g = lock(&sess.op);
        if g.find.is_some() {
            return Err(Error::OperationActive);
        }
        let st = read(&s.state);
        let (candidates, indexed) = st.objects.candidates(template);
        // The index already matched the attribute it was looked up by; only the rest of the
        // template is compared with each candidate's attributes.
        let mut found: Vec<ObjectHandle> = candidates
            .filter(|o| !(o.is_private() && st.login != Login::User))
            .filter(|o| {
                o.attrs
                    .matches_all(template.iter().filter(|a| Some(a.ty) != indexed))
            })
            .map(|o| o.handle)
            .collect();
        found.sort_unstable();
        found.reverse();
        g.find = Some(found);
        Ok(())
    }

    /// `C_FindObjects`.
    pub fn find(&self, h: SessionHandle, max: usize) -> Result<Vec<ObjectHandle>> {
        let sess = self.session(h)?;
        let mut g = lock(&sess.op);
        let list = g.find.as_mut().ok_or(Error::OperationNotInitialized)?;
        let n = max.min(list.len());
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            if let Some(x) = list.pop() {
                out.push(x);
            }
        }
        Ok(out)
    }

    /// `C_FindObjectsFinal`.
    pub fn find_final(&self, h: SessionHandle) -> Result<()> {
        let sess = self.session(h)?;
        let mut g = lock(&sess.op);
        g.find.take().ok_or(Error::OperationNotInitialized)?;
        Ok(())
    }

    /// A key object, visible to the session, with its parsed key.
    fn key_for(&self, h: SessionHandle, key: ObjectHandle) -> Result<(Arc<Obj>, Arc<Key>)> {
        let sess = self.session(h)?;
        self.key_in(&sess, key)
    }

    /// [`key_for`](Self::key_for) for a session already looked up.
    fn key_in(&self, sess: &SessionEntry, key: ObjectHandle) -> Result<(Arc<Obj>, Arc<Key>)> {
        let s = self.slot(SlotId::from(sess.slot))?;
        self.sync_recent()?;
        let o = read(&s.state)
            .visible(key)
            .map_err(|_| Error::KeyHandleInvalid)?
            .clone();
        // A data object, certificate or other non-key object in a key's place is not a key
        // handle: the specification's answer is the (wrapping/unwrapping) key-handle code.
        if !matches!(
            o.attrs.class(),
            Some(CKO_SECRET_KEY | CKO_PUBLIC_KEY | CKO_PRIVATE_KEY)
        ) {
            return Err(Error::KeyHandleInvalid);
        }
        let k = match o.key.get() {
            Some(k) => k.clone(),
            None => {
                let k = Arc::new(Key::from_attributes(&o.attrs)?);
                o.key.get_or_init(|| k).clone()
            }
        };
        Ok((o, k))
    }

    /// `C_GenerateRandom`.
    pub fn generate_random(&self, h: SessionHandle, len: usize) -> Result<Vec<u8>> {
        self.session(h)?;
        let mut v = vec![0u8; len];
        crate::crypto::fill_random(&mut v)?;
        Ok(v)
    }

    /// Opens the store and unseals it with explicit shares (the CLI's path).
    pub fn open_with_shares(config: Config, shares: Vec<Share>) -> Result<Engine> {
        let mut store = Store::open(&config.store)?;
        if let Some(dir) = config.witness_location() {
            store.set_witness_dir(&dir);
        }
        let header = store.header().clone();
        provision::unseal_store(&mut store, shares).map_err(|e| Error::General(e.to_string()))?;
        Self::with_store(config, store, header, None)
    }
}

fn pin_flags(
    failures: u32,
    max: u32,
    low: CK_FLAGS,
    final_try: CK_FLAGS,
    locked: CK_FLAGS,
) -> CK_FLAGS {
    if failures >= max {
        locked
    } else if failures + 1 == max {
        final_try | low
    } else if failures > 0 {
        low
    } else {
        0
    }
}

#[cfg(test)]
mod tests;
