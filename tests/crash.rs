//! Crash consistency of the store, through the built module: a process using the module is
//! killed with SIGKILL at random moments, again and again, and after every kill the store must
//! open, hold exactly what the killed process was told had been done, and show nothing
//! half-written.
//!
//! # How it works
//!
//! The parent test makes a `--dev` store with two slots, then over and over starts a child (this
//! test binary re-run for [`crash_child`]) and kills it with SIGKILL after a random delay. The
//! child opens the module and performs, one after another, random durable operations on token
//! objects of both slots: `C_InitToken` (slot 1 only, destroying its objects), `C_InitPIN`,
//! `C_SetPIN` (user and SO), `C_GenerateKeyPair` (EC P-256), `C_GenerateKey` (AES-256),
//! `C_CreateObject` (data objects), `C_SetAttributeValue`, `C_CopyObject` and
//! `C_DestroyObject`. It runs until it is killed.
//!
//! # The journal rule
//!
//! The child keeps a journal file of one-line entries, each written with a single `write` and
//! then `fdatasync`ed before the child goes on:
//!
//! - `I <seq> <operation>` (intent) is written and synced **before** the operation's first
//!   PKCS#11 call;
//! - `D <seq> <results>` (done) is written and synced **after** every call of the operation
//!   returned `CKR_OK`, and before the intent of the next operation.
//!
//! So when the child dies, let `L` be the journal's last complete line (a partly written last
//! line is cut off and ignored: its `write` never finished):
//!
//! - if `L` is a `D` (or a resolution, below), every operation in the journal finished and no
//!   later one had started (its intent was not complete, so its first call had not been
//!   made): the store must hold **exactly** the state the journal describes;
//! - if `L` is `I <n>`, operation `n` was in flight. It may have been killed before, during or
//!   after its store transaction (even after it returned, before `D` was written). The store
//!   must hold **either** exactly the journal's state before `n` **or** exactly that state with
//!   `n` wholly applied; anything else (a key pair with one half, an attribute change of which
//!   only part is visible, a token half re-initialised) fails the test.
//!
//! At most one operation is ever uncertain. The parent decides which of the two states it finds
//! and appends `R <n> applied <results>` or `R <n> absent`, so the journal again describes the
//! store exactly and the next child continues from it.
//!
//! # What is checked after every kill
//!
//! The parent re-initialises the module in its own process and checks: `C_Initialize`
//! succeeds and both tokens are present; the SO and user PIN the journal last set work (a wrong
//! candidate is tried only while a PIN change was in flight); every object is found by
//! `C_FindObjects` over everything and every attribute asked of it is returned; each object
//! obeys its label rule (a data object's `CKA_APPLICATION` is its label's stem and its value is
//! derived from the stem; a key's `CKA_ID` is its stem and its end date is derived from its
//! label's version, so an attribute change visible in part is caught); every EC private key has
//! a public key with its `CKA_ID` and signs what that key verifies (checked by aws-lc-rs and by
//! `C_Verify`); every AES key encrypts and decrypts; the objects, labels and PINs equal the
//! journal's state as described above; and `custos status --store DIR` exits 0, reports the
//! store unsealed and the object counts and labels of the journal's state.
//!
//! `CUSTOS_CRASH_KILLS` (default 200) sets the number of kills; `CUSTOS_CRASH_SEED` repeats a
//! run's sequence of operations and delays (the exact moment a kill lands still depends on the
//! scheduler, so a failure report names the operation and the journal, not only the seed).

mod common;
#[path = "support_crash/mod.rs"]
mod support;

use std::collections::{BTreeMap, HashMap};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use cryptoki::context::Pkcs11;
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::Date;

use common::*;
use support::*;

/// The child's journal file.
const CHILD_JOURNAL: &str = "CUSTOS_CRASH_CHILD_JOURNAL";
/// The child's store directory.
const CHILD_STORE: &str = "CUSTOS_CRASH_CHILD_STORE";
/// The child's random seed.
const CHILD_SEED: &str = "CUSTOS_CRASH_CHILD_SEED";
/// What the child prints once it has opened the module and found its objects.
const READY: &str = "CUSTOS-CRASH-CHILD-READY";
/// Slots in the test store: slot 0 is never re-initialised, slot 1 is.
const SLOTS: usize = 2;
/// DER of the P-256 curve OID, as `CKA_EC_PARAMS`.
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// What the checker signs with every EC private key.
const SIGNED: &[u8] = b"custos crash test: signed after a kill";
/// Longest delay, after the child is ready, before it is killed.
const MAX_DELAY_MS: u64 = 90;
/// Percentage of kills that land at a random moment of the child's start instead.
const EARLY_KILL_PERCENT: u64 = 10;
/// Percentage of kills made while the parent holds the store open (see [`Tally::watched`]).
const WATCH_PERCENT: u64 = 30;
/// How long a child may take to open the module before the test calls it hung.
const READY_TIMEOUT: Duration = Duration::from_secs(120);

// ----- the model: what the journal says the store holds ----------------------------------------

/// The kinds of object the test makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Class {
    Data,
    EcPublic,
    EcPrivate,
    Aes,
}

impl Class {
    fn is_key(self) -> bool {
        self != Class::Data
    }
}

/// One token object as the journal describes it (and as the checker reads it back).
#[derive(Clone, Debug, PartialEq, Eq)]
struct Obj {
    class: Class,
    label: String,
    private: bool,
    /// The label's stem: a data object's `CKA_APPLICATION`, a key's `CKA_ID`.
    stem: String,
    /// A key's `CKA_END_DATE` (`YYYYMMDD`); empty for data objects.
    end: String,
    /// The EC point (DER) of either half of a key pair, the AES key's check value (AES-ECB of a
    /// zero block), or the SHA-256 of a data object's value.
    fingerprint: Vec<u8>,
}

/// One initialised token as the journal describes it.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Token {
    label: String,
    so_pin: String,
    user_pin: Option<String>,
    /// Objects by `CKA_UNIQUE_ID`.
    objects: BTreeMap<String, Obj>,
}

/// The whole store: one entry per slot, `None` while the slot's token is uninitialised.
type Model = Vec<Option<Token>>;

/// The part of a label before `~`: the name the object (or the object it was copied from) was
/// born with, such as `d17`, `kp40` or `aes9`.
fn stem_of(label: &str) -> &str {
    label.split('~').next().unwrap_or(label)
}

/// The sequence number a label was last given: the number after `~`, else the stem's digits.
fn version_of(label: &str) -> Option<u64> {
    match label.split_once('~') {
        Some((_, v)) => v.parse().ok(),
        None => label
            .trim_start_matches(|c: char| c.is_ascii_alphabetic())
            .parse()
            .ok(),
    }
}

/// The `CKA_END_DATE` a key with this label version carries: a valid far-future date.
fn end_date(version: u64) -> String {
    format!("9{:07}", version % 10_000_000)
}

/// The value of a data object with this stem: 1 to 4000 bytes derived from the stem.
fn data_value(stem: &str) -> Vec<u8> {
    let h = sha256(stem.as_bytes());
    let len = 1 + usize::from(u16::from_le_bytes([h[0], h[1]])) % 4000;
    expand(stem.as_bytes(), len)
}

fn date_attr(s: &str) -> Attribute {
    let d = Date::new_from_str_slice(&s[0..4], &s[4..6], &s[6..8]).expect("an 8-digit date");
    Attribute::EndDate(d)
}

fn date_text(d: &Date) -> String {
    let mut b = d.year.to_vec();
    b.extend_from_slice(&d.month);
    b.extend_from_slice(&d.day);
    String::from_utf8_lossy(&b).into_owned()
}

// ----- operations and the journal --------------------------------------------------------------

/// One durable operation of the child.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Op {
    /// `C_InitToken` with the current SO PIN.
    InitToken {
        slot: usize,
        label: String,
        so_pin: String,
    },
    /// SO login, `C_InitPIN`, SO logout.
    InitPin { slot: usize, pin: String },
    /// `C_SetPIN` by the logged-in user.
    SetUserPin { slot: usize, pin: String },
    /// SO login, `C_SetPIN`, SO logout.
    SetSoPin { slot: usize, pin: String },
    /// `C_GenerateKeyPair`, EC P-256, both halves token objects named `name`.
    GenPair { slot: usize, name: String },
    /// `C_GenerateKey`, AES-256 token key named `name`.
    GenAes { slot: usize, name: String },
    /// `C_CreateObject` of a data object named `name`.
    CreateData {
        slot: usize,
        name: String,
        private: bool,
    },
    /// `C_SetAttributeValue`: a new label, and for keys the end date that goes with it.
    Set {
        slot: usize,
        uid: String,
        label: String,
    },
    /// `C_CopyObject` with a new label (and end date for keys).
    Copy {
        slot: usize,
        uid: String,
        label: String,
    },
    /// `C_DestroyObject`.
    Destroy { slot: usize, uid: String },
}

impl Op {
    fn kind(&self) -> &'static str {
        match self {
            Op::InitToken { .. } => "init-token",
            Op::InitPin { .. } => "init-pin",
            Op::SetUserPin { .. } => "set-user-pin",
            Op::SetSoPin { .. } => "set-so-pin",
            Op::GenPair { .. } => "gen-pair",
            Op::GenAes { .. } => "gen-aes",
            Op::CreateData { .. } => "create-data",
            Op::Set { .. } => "set-attrs",
            Op::Copy { .. } => "copy",
            Op::Destroy { .. } => "destroy",
        }
    }

    fn slot(&self) -> usize {
        match self {
            Op::InitToken { slot, .. }
            | Op::InitPin { slot, .. }
            | Op::SetUserPin { slot, .. }
            | Op::SetSoPin { slot, .. }
            | Op::GenPair { slot, .. }
            | Op::GenAes { slot, .. }
            | Op::CreateData { slot, .. }
            | Op::Set { slot, .. }
            | Op::Copy { slot, .. }
            | Op::Destroy { slot, .. } => *slot,
        }
    }

    /// The journal text of the operation (no spaces inside fields).
    fn encode(&self) -> String {
        let k = self.kind();
        match self {
            Op::InitToken {
                slot,
                label,
                so_pin,
            } => format!("{k} {slot} {label} {so_pin}"),
            Op::InitPin { slot, pin }
            | Op::SetUserPin { slot, pin }
            | Op::SetSoPin { slot, pin } => {
                format!("{k} {slot} {pin}")
            }
            Op::GenPair { slot, name } | Op::GenAes { slot, name } => format!("{k} {slot} {name}"),
            Op::CreateData {
                slot,
                name,
                private,
            } => format!("{k} {slot} {name} {}", u8::from(*private)),
            Op::Set { slot, uid, label } | Op::Copy { slot, uid, label } => {
                format!("{k} {slot} {uid} {label}")
            }
            Op::Destroy { slot, uid } => format!("{k} {slot} {uid}"),
        }
    }

    fn decode(f: &[&str]) -> Option<Op> {
        let slot: usize = f.get(1)?.parse().ok()?;
        let s = |i: usize| f.get(i).map(|x| x.to_string());
        Some(match *f.first()? {
            "init-token" => Op::InitToken {
                slot,
                label: s(2)?,
                so_pin: s(3)?,
            },
            "init-pin" => Op::InitPin { slot, pin: s(2)? },
            "set-user-pin" => Op::SetUserPin { slot, pin: s(2)? },
            "set-so-pin" => Op::SetSoPin { slot, pin: s(2)? },
            "gen-pair" => Op::GenPair { slot, name: s(2)? },
            "gen-aes" => Op::GenAes { slot, name: s(2)? },
            "create-data" => Op::CreateData {
                slot,
                name: s(2)?,
                private: s(3)? == "1",
            },
            "set-attrs" => Op::Set {
                slot,
                uid: s(2)?,
                label: s(3)?,
            },
            "copy" => Op::Copy {
                slot,
                uid: s(2)?,
                label: s(3)?,
            },
            "destroy" => Op::Destroy { slot, uid: s(2)? },
            _ => return None,
        })
    }
}

/// What an operation produced: the `CKA_UNIQUE_ID`s of new objects (public key first for a
/// pair) and the fingerprint of new key material (EC point or AES check value).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Outcome {
    uids: Vec<String>,
    fingerprint: Vec<u8>,
}

impl Outcome {
    fn encode(&self) -> String {
        let uids = if self.uids.is_empty() {
            "-".to_string()
        } else {
            self.uids.join(",")
        };
        let fp = if self.fingerprint.is_empty() {
            "-".to_string()
        } else {
            hex(&self.fingerprint)
        };
        format!("{uids} {fp}")
    }

    fn decode(f: &[&str]) -> Option<Outcome> {
        let uids = match *f.first()? {
            "-" => Vec::new(),
            u => u.split(',').map(str::to_string).collect(),
        };
        let fingerprint = match *f.get(1)? {
            "-" => Vec::new(),
            h => unhex(h)?,
        };
        Some(Outcome { uids, fingerprint })
    }
}

/// Applies a finished operation to the model.
fn apply(model: &mut Model, op: &Op, out: &Outcome) -> Result<(), String> {
    let slot = op.slot();
    if slot >= model.len() {
        return Err(format!("slot {slot} out of range"));
    }
    if let Op::InitToken { label, so_pin, .. } = op {
        model[slot] = Some(Token {
            label: label.clone(),
            so_pin: so_pin.clone(),
            user_pin: None,
            objects: BTreeMap::new(),
        });
        return Ok(());
    }
    let t = model[slot]
        .as_mut()
        .ok_or_else(|| format!("{} on the uninitialised slot {slot}", op.kind()))?;
    let uid = |i: usize| {
        out.uids
            .get(i)
            .cloned()
            .ok_or_else(|| format!("{} without the unique id of its object {i}", op.kind()))
    };
    match op {
        Op::InitToken { .. } => unreachable!("handled above"),
        Op::InitPin { pin, .. } | Op::SetUserPin { pin, .. } => t.user_pin = Some(pin.clone()),
        Op::SetSoPin { pin, .. } => t.so_pin = pin.clone(),
        Op::GenPair { name, .. } => {
            let half = |class, private| Obj {
                class,
                label: name.clone(),
                private,
                stem: name.clone(),
                end: end_date(version_of(name).unwrap_or(0)),
                fingerprint: out.fingerprint.clone(),
            };
            t.objects.insert(uid(0)?, half(Class::EcPublic, false));
            t.objects.insert(uid(1)?, half(Class::EcPrivate, true));
        }
        Op::GenAes { name, .. } => {
            let o = Obj {
                class: Class::Aes,
                label: name.clone(),
                private: true,
                stem: name.clone(),
                end: end_date(version_of(name).unwrap_or(0)),
                fingerprint: out.fingerprint.clone(),
            };
            t.objects.insert(uid(0)?, o);
        }
        Op::CreateData { name, private, .. } => {
            let o = Obj {
                class: Class::Data,
                label: name.clone(),
                private: *private,
                stem: name.clone(),
                end: String::new(),
                fingerprint: sha256(&data_value(name)),
            };
            t.objects.insert(uid(0)?, o);
        }
        Op::Set { uid: u, label, .. } => {
            let o = t
                .objects
                .get_mut(u)
                .ok_or_else(|| format!("set-attrs on the unknown object {u}"))?;
            o.label = label.clone();
            if o.class.is_key() {
                o.end = end_date(version_of(label).unwrap_or(0));
            }
        }
        Op::Copy { uid: u, label, .. } => {
            let mut o = t
                .objects
                .get(u)
                .cloned()
                .ok_or_else(|| format!("copy of the unknown object {u}"))?;
            o.label = label.clone();
            if o.class.is_key() {
                o.end = end_date(version_of(label).unwrap_or(0));
            }
            t.objects.insert(uid(0)?, o);
        }
        Op::Destroy { uid: u, .. } => {
            t.objects
                .remove(u)
                .ok_or_else(|| format!("destroy of the unknown object {u}"))?;
        }
    }
    Ok(())
}

/// One journal line.
#[derive(Debug)]
enum Entry {
    Intent(u64, Op),
    Done(u64, Outcome),
    Applied(u64, Outcome),
    Absent(u64),
    Failed(u64, String),
}

fn parse_entry(line: &str) -> Option<Entry> {
    let f: Vec<&str> = line.split(' ').collect();
    let seq: u64 = f.get(1)?.parse().ok()?;
    Some(match *f.first()? {
        "I" => Entry::Intent(seq, Op::decode(&f[2..])?),
        "D" => Entry::Done(seq, Outcome::decode(&f[2..])?),
        "R" => match *f.get(2)? {
            "applied" => Entry::Applied(seq, Outcome::decode(&f[3..])?),
            "absent" => Entry::Absent(seq),
            _ => return None,
        },
        "F" => Entry::Failed(seq, f[2..].join(" ")),
        _ => return None,
    })
}

/// The journal read back: its complete lines, and the length they take (a partly written last
/// line, if any, comes after it).
struct JournalText {
    lines: Vec<String>,
    complete_len: u64,
    torn_tail: bool,
}

fn read_journal(path: &Path) -> JournalText {
    let mut bytes = Vec::new();
    if let Ok(mut f) = File::open(path) {
        f.read_to_end(&mut bytes).expect("read the journal");
    }
    let complete = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let text = String::from_utf8(bytes[..complete].to_vec()).expect("a UTF-8 journal");
    JournalText {
        lines: text.lines().map(str::to_string).collect(),
        complete_len: complete as u64,
        torn_tail: complete < bytes.len(),
    }
}

/// The state a journal describes.
struct Replayed {
    model: Model,
    /// The operation in flight: its intent is the last entry.
    pending: Option<(u64, Op)>,
    next_seq: u64,
    /// Operations with a done or resolution entry.
    finished: u64,
}

fn replay(lines: &[String]) -> Result<Replayed, String> {
    let mut model: Model = vec![None; SLOTS];
    let mut pending: Option<(u64, Op)> = None;
    let mut next_seq = 1;
    let mut finished = 0;
    for (n, line) in lines.iter().enumerate() {
        let at = |m: String| format!("journal line {}: {m}: {line}", n + 1);
        let e = parse_entry(line).ok_or_else(|| at("unreadable entry".into()))?;
        match e {
            Entry::Intent(seq, op) => {
                if let Some((p, _)) = &pending {
                    return Err(at(format!("intent while operation {p} is unresolved")));
                }
                if seq != next_seq {
                    return Err(at(format!("sequence {seq}, expected {next_seq}")));
                }
                pending = Some((seq, op));
                next_seq += 1;
            }
            Entry::Done(seq, out) | Entry::Applied(seq, out) => {
                let (p, op) = pending
                    .take()
                    .ok_or_else(|| at("result without an intent".into()))?;
                if p != seq {
                    return Err(at(format!("result of {seq} for the intent {p}")));
                }
                apply(&mut model, &op, &out).map_err(at)?;
                finished += 1;
            }
            Entry::Absent(seq) => {
                let (p, _) = pending
                    .take()
                    .ok_or_else(|| at("resolution without an intent".into()))?;
                if p != seq {
                    return Err(at(format!("resolution of {seq} for the intent {p}")));
                }
                finished += 1;
            }
            Entry::Failed(seq, why) => {
                return Err(at(format!("operation {seq} failed in the child: {why}")));
            }
        }
    }
    Ok(Replayed {
        model,
        pending,
        next_seq,
        finished,
    })
}

/// Appends one line and makes it durable before returning.
fn append_line(f: &mut File, line: &str) {
    let mut buf = String::with_capacity(line.len() + 1);
    buf.push_str(line);
    buf.push('\n');
    f.write_all(buf.as_bytes()).expect("append to the journal");
    f.sync_data().expect("fdatasync the journal");
}

fn open_journal(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .expect("open the journal")
}

// ----- the worker: performs operations through the module --------------------------------------

fn slot_of(ctx: &Pkcs11, id: usize) -> Slot {
    slot(ctx, id as u64)
}

fn uid_of(s: &Session, h: ObjectHandle) -> cryptoki::error::Result<String> {
    let v = s.get_attributes(h, &[AttributeType::UniqueId])?;
    match v.first() {
        Some(Attribute::UniqueId(u)) => Ok(String::from_utf8_lossy(u).into_owned()),
        _ => Err(Error::Pkcs11(
            RvError::GeneralError,
            cryptoki::context::Function::GetAttributeValue,
        )),
    }
}

fn ec_point_of(s: &Session, h: ObjectHandle) -> cryptoki::error::Result<Vec<u8>> {
    let v = s.get_attributes(h, &[AttributeType::EcPoint])?;
    match v.first() {
        Some(Attribute::EcPoint(p)) => Ok(p.clone()),
        _ => Err(Error::Pkcs11(
            RvError::GeneralError,
            cryptoki::context::Function::GetAttributeValue,
        )),
    }
}

/// The AES key check value: AES-ECB of one zero block.
fn kcv_of(s: &Session, h: ObjectHandle) -> cryptoki::error::Result<Vec<u8>> {
    s.encrypt(&Mechanism::AesEcb, h, &[0u8; 16])
}

/// Performs operations through the module, keeping a read/write session per slot (logged in
/// as the user whenever the token has a user PIN) and the handles of the objects by unique id.
struct Worker {
    ctx: Pkcs11,
    sessions: Vec<Option<Session>>,
    handles: Vec<HashMap<String, ObjectHandle>>,
    model: Model,
    next_seq: u64,
    journal: File,
}

impl Worker {
    /// Opens a session on every initialised token, logs the user in and finds every object.
    fn start(ctx: Pkcs11, model: Model, next_seq: u64, journal: File) -> Worker {
        let mut w = Worker {
            ctx,
            sessions: (0..SLOTS).map(|_| None).collect(),
            handles: vec![HashMap::new(); SLOTS],
            model,
            next_seq,
            journal,
        };
        for slot in 0..SLOTS {
            let Some(t) = w.model[slot].clone() else {
                continue;
            };
            let s = w
                .ctx
                .open_rw_session(slot_of(&w.ctx, slot))
                .expect("C_OpenSession");
            if let Some(p) = &t.user_pin {
                s.login(UserType::User, Some(&pin(p)))
                    .expect("C_Login with the journal's user PIN");
            }
            for h in s.find_objects(&[]).expect("C_FindObjects") {
                let uid = uid_of(&s, h).expect("CKA_UNIQUE_ID");
                w.handles[slot].insert(uid, h);
            }
            w.sessions[slot] = Some(s);
        }
        w
    }

    fn session(&self, slot: usize) -> &Session {
        self.sessions[slot]
            .as_ref()
            .expect("a session on an initialised token")
    }

    fn handle(&self, slot: usize, uid: &str) -> ObjectHandle {
        *self.handles[slot]
            .get(uid)
            .unwrap_or_else(|| panic!("no handle for the object {uid} of slot {slot}"))
    }

    fn token(&self, slot: usize) -> &Token {
        self.model[slot].as_ref().expect("an initialised token")
    }

    /// Journals, performs and journals one operation. A failure is journalled and returned.
    fn run(&mut self, op: Op) -> Result<(), String> {
        let seq = self.next_seq;
        append_line(&mut self.journal, &format!("I {seq} {}", op.encode()));
        match self.perform(&op) {
            Ok(out) => {
                append_line(&mut self.journal, &format!("D {seq} {}", out.encode()));
                apply(&mut self.model, &op, &out)?;
                self.next_seq += 1;
                Ok(())
            }
            Err(e) => {
                let why = format!("{}: {e}", op.encode());
                append_line(&mut self.journal, &format!("F {seq} {why}"));
                Err(why)
            }
        }
    }

    fn perform(&mut self, op: &Op) -> cryptoki::error::Result<Outcome> {
        let mut out = Outcome::default();
        match op {
            Op::InitToken {
                slot,
                label,
                so_pin,
            } => {
                // C_InitToken needs every session of this application on the token closed.
                self.sessions[*slot] = None;
                self.handles[*slot].clear();
                let sl = slot_of(&self.ctx, *slot);
                self.ctx.init_token(sl, &pin(so_pin), label)?;
                self.sessions[*slot] = Some(self.ctx.open_rw_session(sl)?);
            }
            Op::InitPin { slot, pin: new } => {
                let t = self.token(*slot).clone();
                let s = self.session(*slot);
                if t.user_pin.is_some() {
                    s.logout()?;
                }
                s.login(UserType::So, Some(&pin(&t.so_pin)))?;
                s.init_pin(&pin(new))?;
                s.logout()?;
                s.login(UserType::User, Some(&pin(new)))?;
            }
            Op::SetUserPin { slot, pin: new } => {
                let old = self.token(*slot).user_pin.clone().unwrap_or_default();
                self.session(*slot).set_pin(&pin(&old), &pin(new))?;
            }
            Op::SetSoPin { slot, pin: new } => {
                let t = self.token(*slot).clone();
                let s = self.session(*slot);
                if t.user_pin.is_some() {
                    s.logout()?;
                }
                s.login(UserType::So, Some(&pin(&t.so_pin)))?;
                s.set_pin(&pin(&t.so_pin), &pin(new))?;
                s.logout()?;
                if let Some(p) = &t.user_pin {
                    s.login(UserType::User, Some(&pin(p)))?;
                }
            }
            Op::GenPair { slot, name } => {
                let end = end_date(version_of(name).unwrap_or(0));
                let common = vec![
                    Attribute::Token(true),
                    Attribute::Label(name.as_bytes().to_vec()),
                    Attribute::Id(name.as_bytes().to_vec()),
                    date_attr(&end),
                ];
                let mut public = common.clone();
                public.extend([
                    Attribute::Private(false),
                    Attribute::EcParams(P256.to_vec()),
                    Attribute::Verify(true),
                ]);
                let mut private = common;
                private.extend([
                    Attribute::Private(true),
                    Attribute::Sensitive(true),
                    Attribute::Sign(true),
                ]);
                let s = self.session(*slot);
                let (pubk, privk) =
                    s.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)?;
                let (pu, pr) = (uid_of(s, pubk)?, uid_of(s, privk)?);
                out.fingerprint = ec_point_of(s, pubk)?;
                self.handles[*slot].insert(pu.clone(), pubk);
                self.handles[*slot].insert(pr.clone(), privk);
                out.uids = vec![pu, pr];
            }
            Op::GenAes { slot, name } => {
                let end = end_date(version_of(name).unwrap_or(0));
                let t = [
                    Attribute::Token(true),
                    Attribute::Private(true),
                    Attribute::Label(name.as_bytes().to_vec()),
                    Attribute::Id(name.as_bytes().to_vec()),
                    date_attr(&end),
                    Attribute::ValueLen(32.into()),
                    Attribute::Encrypt(true),
                    Attribute::Decrypt(true),
                ];
                let s = self.session(*slot);
                let k = s.generate_key(&Mechanism::AesKeyGen, &t)?;
                let u = uid_of(s, k)?;
                out.fingerprint = kcv_of(s, k)?;
                self.handles[*slot].insert(u.clone(), k);
                out.uids = vec![u];
            }
            Op::CreateData {
                slot,
                name,
                private,
            } => {
                let t = [
                    Attribute::Class(ObjectClass::DATA),
                    Attribute::Token(true),
                    Attribute::Private(*private),
                    Attribute::Label(name.as_bytes().to_vec()),
                    Attribute::Application(name.as_bytes().to_vec()),
                    Attribute::Value(data_value(name)),
                ];
                let s = self.session(*slot);
                let h = s.create_object(&t)?;
                let u = uid_of(s, h)?;
                self.handles[*slot].insert(u.clone(), h);
                out.uids = vec![u];
            }
            Op::Set { slot, uid, label } => {
                let key = self.token(*slot).objects[uid].class.is_key();
                let mut t = vec![Attribute::Label(label.as_bytes().to_vec())];
                if key {
                    t.push(date_attr(&end_date(version_of(label).unwrap_or(0))));
                }
                let h = self.handle(*slot, uid);
                self.session(*slot).update_attributes(h, &t)?;
            }
            Op::Copy { slot, uid, label } => {
                let key = self.token(*slot).objects[uid].class.is_key();
                let mut t = vec![Attribute::Label(label.as_bytes().to_vec())];
                if key {
                    t.push(date_attr(&end_date(version_of(label).unwrap_or(0))));
                }
                let h = self.handle(*slot, uid);
                let s = self.session(*slot);
                let c = s.copy_object(h, &t)?;
                let u = uid_of(s, c)?;
                self.handles[*slot].insert(u.clone(), c);
                out.uids = vec![u];
            }
            Op::Destroy { slot, uid } => {
                let h = self.handle(*slot, uid);
                self.session(*slot).destroy_object(h)?;
                self.handles[*slot].remove(uid);
            }
        }
        Ok(out)
    }

    /// A random next operation, valid in the current state.
    fn choose(&self, rng: &mut Rng) -> Op {
        let seq = self.next_seq;
        let slot = if rng.chance(65) { 0 } else { 1 };
        let t = self.token(slot);
        if t.user_pin.is_none() {
            // Nothing but PIN and token management works before the user PIN is set.
            return if slot == 1 && rng.chance(20) {
                Op::InitToken {
                    slot,
                    label: format!("crash-{seq}"),
                    so_pin: t.so_pin.clone(),
                }
            } else {
                Op::InitPin {
                    slot,
                    pin: format!("upin{seq}"),
                }
            };
        }
        let n = t.objects.len() as u64;
        let has = u64::from(n > 0);
        // init-token, init-pin, set-user-pin, set-so-pin, gen-pair, gen-aes, create-data,
        // set-attrs, copy, destroy.
        let weights = [
            if slot == 1 { 12 } else { 0 },
            4,
            4,
            4,
            12,
            10,
            16,
            14 * has,
            8 * has,
            (14 + if n > 40 { 40 } else { 0 }) * has,
        ];
        let uids: Vec<&String> = t.objects.keys().collect();
        let any_uid = |rng: &mut Rng| uids[rng.below(uids.len() as u64) as usize].clone();
        match rng.weighted(&weights).expect("a non-zero weight") {
            0 => Op::InitToken {
                slot,
                label: format!("crash-{seq}"),
                so_pin: t.so_pin.clone(),
            },
            1 => Op::InitPin {
                slot,
                pin: format!("upin{seq}"),
            },
            2 => Op::SetUserPin {
                slot,
                pin: format!("upin{seq}"),
            },
            3 => Op::SetSoPin {
                slot,
                pin: format!("sopin{seq}"),
            },
            4 => Op::GenPair {
                slot,
                name: format!("kp{seq}"),
            },
            5 => Op::GenAes {
                slot,
                name: format!("aes{seq}"),
            },
            6 => Op::CreateData {
                slot,
                name: format!("d{seq}"),
                private: rng.chance(50),
            },
            7 => {
                let uid = any_uid(rng);
                let label = format!("{}~{seq}", t.objects[&uid].stem);
                Op::Set { slot, uid, label }
            }
            8 => {
                let uid = any_uid(rng);
                let label = format!("{}~{seq}", t.objects[&uid].stem);
                Op::Copy { slot, uid, label }
            }
            _ => {
                let mut uid = any_uid(rng);
                // A key pair loses its private half first, so every private key always has a
                // public key with its CKA_ID.
                let o = &t.objects[&uid];
                if o.class == Class::EcPublic {
                    let same = |c: Class| {
                        t.objects
                            .iter()
                            .filter(|(_, x)| x.class == c && x.stem == o.stem)
                            .map(|(u, _)| u.clone())
                            .collect::<Vec<_>>()
                    };
                    let privates = same(Class::EcPrivate);
                    if !privates.is_empty() && same(Class::EcPublic).len() == 1 {
                        uid = privates[0].clone();
                    }
                }
                Op::Destroy { slot, uid }
            }
        }
    }
}

// ----- the child -------------------------------------------------------------------------------

/// Run by `store_survives_sigkill` in a child process, which it kills; does nothing otherwise.
#[test]
#[ignore = "helper: run in a child process by store_survives_sigkill"]
fn crash_child() {
    let Some(journal_path) = std::env::var_os(CHILD_JOURNAL) else {
        return;
    };
    let store = std::env::var_os(CHILD_STORE).expect("the store directory");
    let seed: u64 = std::env::var(CHILD_SEED)
        .expect("the seed")
        .parse()
        .expect("a decimal seed");
    std::env::remove_var("CUSTOS_CONF");
    std::env::set_var("CUSTOS_STORE", store);
    std::env::set_var("CUSTOS_QUIET", "1");
    let journal_path = PathBuf::from(journal_path);
    let text = read_journal(&journal_path);
    assert!(!text.torn_tail, "the parent left a torn journal line");
    let r = replay(&text.lines).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        r.pending.is_none(),
        "the parent left an operation unresolved"
    );
    let m = Module::open();
    let ctx = m.ctx().clone();
    let mut w = Worker::start(ctx, r.model, r.next_seq, open_journal(&journal_path));
    let mut rng = Rng::new(seed);
    // The first random bytes a process draws seed AWS-LC's generator from jitter entropy, which
    // takes about 100 ms in a debug build; drawing them before reporting ready keeps that cost
    // out of the window the kills aim at.
    if let Some(s) = w.sessions.iter().flatten().next() {
        s.generate_random_vec(16).expect("C_GenerateRandom");
    }
    println!("{READY}");
    std::io::stdout().flush().expect("flush stdout");
    loop {
        let op = w.choose(&mut rng);
        if let Err(why) = w.run(op) {
            eprintln!("operation failed (child seed {seed}): {why}");
            std::process::exit(3);
        }
    }
}

// ----- the checker -----------------------------------------------------------------------------

/// Tries `C_Login` with each candidate PIN in order; the first that works, or why none did.
fn probe_login(s: &Session, who: UserType, candidates: &[String]) -> Result<String, String> {
    let mut tried = Vec::new();
    for p in candidates {
        match s.login(who, Some(&pin(p))) {
            Ok(()) => return Ok(p.clone()),
            Err(Error::Pkcs11(RvError::PinIncorrect, _)) => tried.push(p.clone()),
            Err(e) => return Err(format!("C_Login {who:?} with {p}: {e}")),
        }
    }
    Err(format!(
        "no PIN the journal allows opens the {who:?} login (tried {tried:?})"
    ))
}

/// Reads every attribute the test needs of one object and checks it against its own rules.
/// Returns the object and, for an EC private key, its handle (paired with public keys later).
fn read_object(s: &Session, h: ObjectHandle, errs: &mut Vec<String>) -> Option<(String, Obj)> {
    let common = [
        AttributeType::Class,
        AttributeType::UniqueId,
        AttributeType::Label,
        AttributeType::Private,
        AttributeType::Token,
    ];
    let attrs = match s.get_attributes(h, &common) {
        Ok(a) if a.len() == common.len() => a,
        Ok(a) => {
            errs.push(format!(
                "object {h}: {} of the common attributes readable",
                a.len()
            ));
            return None;
        }
        Err(e) => {
            errs.push(format!("object {h}: C_GetAttributeValue: {e}"));
            return None;
        }
    };
    let (mut class, mut uid, mut label, mut private, mut token) = (None, None, None, None, None);
    for a in attrs {
        match a {
            Attribute::Class(c) => class = Some(c),
            Attribute::UniqueId(u) => uid = Some(String::from_utf8_lossy(&u).into_owned()),
            Attribute::Label(l) => label = Some(String::from_utf8_lossy(&l).into_owned()),
            Attribute::Private(p) => private = Some(p),
            Attribute::Token(t) => token = Some(t),
            _ => {}
        }
    }
    let (Some(class), Some(uid), Some(label), Some(private), Some(token)) =
        (class, uid, label, private, token)
    else {
        errs.push(format!("object {h}: common attributes missing"));
        return None;
    };
    let name = format!("object {uid} \"{label}\"");
    if !token {
        errs.push(format!("{name}: a session object in a new process"));
    }
    let stem = stem_of(&label).to_string();
    let specific: &[AttributeType] = if class == ObjectClass::DATA {
        &[AttributeType::Application, AttributeType::Value]
    } else if class == ObjectClass::PUBLIC_KEY {
        &[
            AttributeType::KeyType,
            AttributeType::Id,
            AttributeType::EndDate,
            AttributeType::EcParams,
            AttributeType::EcPoint,
        ]
    } else if class == ObjectClass::PRIVATE_KEY {
        &[
            AttributeType::KeyType,
            AttributeType::Id,
            AttributeType::EndDate,
            AttributeType::EcParams,
            AttributeType::Sensitive,
        ]
    } else if class == ObjectClass::SECRET_KEY {
        &[
            AttributeType::KeyType,
            AttributeType::Id,
            AttributeType::EndDate,
            AttributeType::ValueLen,
        ]
    } else {
        errs.push(format!("{name}: unexpected class {class}"));
        return None;
    };
    let attrs = match s.get_attributes(h, specific) {
        Ok(a) if a.len() == specific.len() => a,
        Ok(a) => {
            errs.push(format!(
                "{name}: only {} of {:?} readable",
                a.len(),
                specific
            ));
            return None;
        }
        Err(e) => {
            errs.push(format!("{name}: C_GetAttributeValue {specific:?}: {e}"));
            return None;
        }
    };
    let mut o = Obj {
        class: Class::Data,
        label: label.clone(),
        private,
        stem: stem.clone(),
        end: String::new(),
        fingerprint: Vec::new(),
    };
    let mut key_type = None;
    let mut id = None;
    for a in attrs {
        match a {
            Attribute::Application(app) if app != stem.as_bytes() => {
                errs.push(format!(
                    "{name}: CKA_APPLICATION {:?} is not the label's stem",
                    String::from_utf8_lossy(&app)
                ));
            }
            Attribute::Value(v) => {
                if v != data_value(&stem) {
                    errs.push(format!(
                        "{name}: the value ({} bytes) is not the one its label gives",
                        v.len()
                    ));
                }
                o.fingerprint = sha256(&v);
            }
            Attribute::KeyType(k) => key_type = Some(k),
            Attribute::Id(i) => id = Some(i),
            Attribute::EndDate(d) => o.end = date_text(&d),
            Attribute::EcParams(p) if p != P256 => {
                errs.push(format!("{name}: CKA_EC_PARAMS is not P-256"));
            }
            Attribute::EcPoint(p) => {
                if p256_point(&p).is_none() {
                    errs.push(format!("{name}: CKA_EC_POINT is not a P-256 point"));
                }
                o.fingerprint = p;
            }
            Attribute::Sensitive(false) => {
                errs.push(format!("{name}: the private key is not sensitive"));
            }
            Attribute::ValueLen(l) if u64::from(l) != 32 => {
                errs.push(format!("{name}: CKA_VALUE_LEN {l}"));
            }
            _ => {}
        }
    }
    if class != ObjectClass::DATA {
        o.class = if class == ObjectClass::PUBLIC_KEY {
            Class::EcPublic
        } else if class == ObjectClass::PRIVATE_KEY {
            Class::EcPrivate
        } else {
            Class::Aes
        };
        let want_type = if o.class == Class::Aes {
            KeyType::AES
        } else {
            KeyType::EC
        };
        if key_type != Some(want_type) {
            errs.push(format!("{name}: key type {key_type:?}"));
        }
        if id.as_deref() != Some(stem.as_bytes()) {
            errs.push(format!("{name}: CKA_ID {id:?} is not the label's stem"));
        }
        let want_end = version_of(&label).map(end_date);
        if want_end.as_deref() != Some(o.end.as_str()) {
            errs.push(format!(
                "{name}: end date {} does not go with the label (want {want_end:?}): an \
                 attribute change is visible in part",
                o.end
            ));
        }
        if o.class == Class::Aes {
            match kcv_of(s, h) {
                Ok(kcv) => {
                    match s.decrypt(&Mechanism::AesEcb, h, &kcv) {
                        Ok(p) if p == [0u8; 16] => {}
                        other => errs.push(format!("{name}: AES-ECB decrypt: {other:?}")),
                    }
                    o.fingerprint = kcv;
                }
                Err(e) => errs.push(format!("{name}: AES-ECB encrypt: {e}")),
            }
        }
    }
    Some((uid, o))
}

/// What the checker found on one token.
struct SeenToken {
    token: Token,
}

/// Observes one slot: label, which of the candidate PINs work, every object. Objects are read
/// with the user logged in when the token has a user PIN.
fn observe_slot(
    ctx: &Pkcs11,
    slot: usize,
    so_candidates: &[String],
    user_candidates: &[String],
    errs: &mut Vec<String>,
) -> Option<SeenToken> {
    let sl = slot_of(ctx, slot);
    let info = match ctx.get_token_info(sl) {
        Ok(i) => i,
        Err(e) => {
            errs.push(format!("slot {slot}: C_GetTokenInfo: {e}"));
            return None;
        }
    };
    if !info.token_initialized() {
        errs.push(format!("slot {slot}: the token is not initialised"));
        return None;
    }
    let s = match ctx.open_rw_session(sl) {
        Ok(s) => s,
        Err(e) => {
            errs.push(format!("slot {slot}: C_OpenSession: {e}"));
            return None;
        }
    };
    let so_pin = match probe_login(&s, UserType::So, so_candidates) {
        Ok(p) => p,
        Err(e) => {
            errs.push(format!("slot {slot}: {e}"));
            return None;
        }
    };
    if let Err(e) = s.logout() {
        errs.push(format!("slot {slot}: SO C_Logout: {e}"));
        return None;
    }
    let user_pin = if info.user_pin_initialized() {
        match probe_login(&s, UserType::User, user_candidates) {
            Ok(p) => Some(p),
            Err(e) => {
                errs.push(format!("slot {slot}: {e}"));
                return None;
            }
        }
    } else {
        None
    };
    let found = match s.find_objects(&[]) {
        Ok(f) => f,
        Err(e) => {
            errs.push(format!("slot {slot}: C_FindObjects: {e}"));
            return None;
        }
    };
    let mut objects = BTreeMap::new();
    let mut handles = Vec::new();
    for h in found {
        if let Some((uid, o)) = read_object(&s, h, errs) {
            handles.push((uid.clone(), h));
            if objects.insert(uid.clone(), o).is_some() {
                errs.push(format!("slot {slot}: two objects with unique id {uid}"));
            }
        }
    }
    // Every private key has a public key with its CKA_ID (all such public keys share one
    // point), and signs what that key verifies.
    let handle_of: HashMap<&String, ObjectHandle> = handles.iter().map(|(u, h)| (u, *h)).collect();
    let mut points = Vec::new();
    for (uid, o) in objects.iter().filter(|(_, o)| o.class == Class::EcPrivate) {
        let publics: Vec<(&String, &Obj)> = objects
            .iter()
            .filter(|(_, p)| p.class == Class::EcPublic && p.stem == o.stem)
            .collect();
        let Some((pub_uid, first)) = publics.first() else {
            errs.push(format!(
                "slot {slot}: private key {uid} \"{}\" without a public key with its CKA_ID",
                o.label
            ));
            continue;
        };
        if publics
            .iter()
            .any(|(_, p)| p.fingerprint != first.fingerprint)
        {
            errs.push(format!(
                "slot {slot}: public keys with CKA_ID {} hold different points",
                o.stem
            ));
        }
        let sig = match s.sign(&Mechanism::EcdsaSha256, handle_of[uid], SIGNED) {
            Ok(sig) => sig,
            Err(e) => {
                errs.push(format!("slot {slot}: private key {uid}: C_Sign: {e}"));
                continue;
            }
        };
        if !p256_verifies(&first.fingerprint, SIGNED, &sig) {
            errs.push(format!(
                "slot {slot}: private key {uid} does not sign for its public key {pub_uid}"
            ));
        }
        if let Err(e) = s.verify(&Mechanism::EcdsaSha256, handle_of[pub_uid], SIGNED, &sig) {
            errs.push(format!("slot {slot}: C_Verify with {pub_uid}: {e}"));
        }
        points.push((uid.clone(), first.fingerprint.clone()));
    }
    for (uid, p) in points {
        if let Some(o) = objects.get_mut(&uid) {
            o.fingerprint = p;
        }
    }
    if user_pin.is_some() {
        if let Err(e) = s.logout() {
            errs.push(format!("slot {slot}: C_Logout: {e}"));
        }
    }
    Some(SeenToken {
        token: Token {
            label: info.label().trim_end().to_string(),
            so_pin,
            user_pin,
            objects,
        },
    })
}

/// The results an in-flight operation would have had, read from the store: the new objects it
/// would have made, found by their label. `None` when they are not there at all.
fn outcome_from(seen: &SeenToken, op: &Op) -> Result<Option<Outcome>, String> {
    let named = |label: &str| -> Vec<(String, Obj)> {
        seen.token
            .objects
            .iter()
            .filter(|(_, o)| o.label == label)
            .map(|(u, o)| (u.clone(), o.clone()))
            .collect()
    };
    let label = match op {
        Op::GenPair { name, .. } | Op::GenAes { name, .. } | Op::CreateData { name, .. } => name,
        Op::Copy { label, .. } => label,
        _ => return Ok(Some(Outcome::default())),
    };
    let found = named(label);
    if found.is_empty() {
        return Ok(None);
    }
    match op {
        Op::GenPair { .. } => {
            let public: Vec<_> = found
                .iter()
                .filter(|(_, o)| o.class == Class::EcPublic)
                .collect();
            let private: Vec<_> = found
                .iter()
                .filter(|(_, o)| o.class == Class::EcPrivate)
                .collect();
            if public.len() != 1 || private.len() != 1 || found.len() != 2 {
                return Err(format!(
                    "the in-flight key pair \"{label}\" is half there: {} public, {} private \
                     key(s)",
                    public.len(),
                    private.len()
                ));
            }
            Ok(Some(Outcome {
                uids: vec![public[0].0.clone(), private[0].0.clone()],
                fingerprint: public[0].1.fingerprint.clone(),
            }))
        }
        _ => {
            if found.len() != 1 {
                return Err(format!(
                    "{} objects labelled \"{label}\" from one operation",
                    found.len()
                ));
            }
            Ok(Some(Outcome {
                uids: vec![found[0].0.clone()],
                fingerprint: if matches!(op, Op::GenAes { .. }) {
                    found[0].1.fingerprint.clone()
                } else {
                    Vec::new()
                },
            }))
        }
    }
}

/// A readable account of how two store states differ.
fn diff(want: &Model, got: &Model) -> String {
    let mut out = Vec::new();
    for slot in 0..SLOTS {
        match (&want[slot], &got[slot]) {
            (Some(w), Some(g)) => {
                if w.label != g.label {
                    out.push(format!("slot {slot}: label {:?} != {:?}", w.label, g.label));
                }
                if w.so_pin != g.so_pin {
                    out.push(format!(
                        "slot {slot}: SO PIN {:?} != {:?}",
                        w.so_pin, g.so_pin
                    ));
                }
                if w.user_pin != g.user_pin {
                    out.push(format!(
                        "slot {slot}: user PIN {:?} != {:?}",
                        w.user_pin, g.user_pin
                    ));
                }
                for (u, o) in &w.objects {
                    match g.objects.get(u) {
                        None => out.push(format!("slot {slot}: missing {u} {o:?}")),
                        Some(x) if x != o => {
                            out.push(format!("slot {slot}: {u} is {x:?}, want {o:?}"))
                        }
                        Some(_) => {}
                    }
                }
                for (u, o) in &g.objects {
                    if !w.objects.contains_key(u) {
                        out.push(format!("slot {slot}: unexpected {u} {o:?}"));
                    }
                }
            }
            (w, g) => {
                if w.is_some() != g.is_some() {
                    out.push(format!(
                        "slot {slot}: initialised {} != {}",
                        w.is_some(),
                        g.is_some()
                    ));
                }
            }
        }
    }
    out.join("\n")
}

/// How the check of one kill came out.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    /// Nothing was in flight and the store equals the journal.
    Exact,
    /// The in-flight operation is wholly in the store.
    Applied(Outcome),
    /// The in-flight operation left no trace.
    Absent,
}

/// Checks the store, through an initialised module, against the journal (see the crate docs).
fn check_store(m: &Pkcs11, before: &Model, pending: Option<&Op>) -> Result<Verdict, String> {
    let present = m
        .get_slots_with_token()
        .map_err(|e| format!("C_GetSlotList: {e}"))?;
    if present.len() != SLOTS {
        return Err(format!("{} of {SLOTS} tokens present", present.len()));
    }
    let mut errs = Vec::new();
    let mut seen: Vec<Option<SeenToken>> = Vec::new();
    for (slot, t) in before.iter().enumerate() {
        let t = t.as_ref().expect("both tokens are initialised at setup");
        let mut so = vec![t.so_pin.clone()];
        let mut user: Vec<String> = t.user_pin.iter().cloned().collect();
        match pending {
            Some(Op::SetSoPin { slot: s, pin }) if *s == slot => so.insert(0, pin.clone()),
            Some(Op::InitPin { slot: s, pin } | Op::SetUserPin { slot: s, pin }) if *s == slot => {
                user.insert(0, pin.clone())
            }
            _ => {}
        }
        seen.push(observe_slot(m, slot, &so, &user, &mut errs));
    }
    if !errs.is_empty() {
        return Err(errs.join("\n"));
    }
    let got: Model = seen
        .iter()
        .map(|s| s.as_ref().map(|s| s.token.clone()))
        .collect();
    if &got == before {
        return Ok(match pending {
            Some(_) => Verdict::Absent,
            None => Verdict::Exact,
        });
    }
    let Some(op) = pending else {
        return Err(format!(
            "the store differs from the journal with nothing in flight:\n{}",
            diff(before, &got)
        ));
    };
    let s = seen[op.slot()]
        .as_ref()
        .expect("observed every slot without errors");
    let out = match outcome_from(s, op)? {
        Some(out) => out,
        None => {
            return Err(format!(
                "the in-flight {} left the store neither before nor after it:\n{}",
                op.encode(),
                diff(before, &got)
            ))
        }
    };
    let mut after = before.clone();
    apply(&mut after, op, &out)?;
    if got == after {
        Ok(Verdict::Applied(out))
    } else {
        Err(format!(
            "the in-flight {} is partly applied.\nagainst the state before it:\n{}\nagainst the \
             state after it:\n{}",
            op.encode(),
            diff(before, &got),
            diff(&after, &got)
        ))
    }
}

/// Runs `custos status` on the store and checks it exits 0, reports the store unsealed, and
/// names each token's label and object count as the model has them.
fn check_status(store: &Path, model: &Model) -> Result<(), String> {
    let out = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["status", "--store"])
        .arg(store)
        .env_remove("CUSTOS_CONF")
        .output()
        .map_err(|e| format!("run custos status: {e}"))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        return Err(format!(
            "custos status exited {}:\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    if !stdout.contains("state:    unsealed") {
        return Err(format!(
            "custos status does not report the store unsealed:\n{stdout}"
        ));
    }
    for (slot, t) in model.iter().enumerate() {
        let t = t.as_ref().expect("both tokens are initialised");
        let n = t.objects.len();
        let want = format!(
            "slot {slot}: initialised, label \"{}\", {n} object{};",
            t.label,
            if n == 1 { "" } else { "s" }
        );
        if !stdout.contains(&want) {
            return Err(format!("custos status does not say {want:?}:\n{stdout}"));
        }
    }
    Ok(())
}

/// Counts of what the kills landed on.
#[derive(Default)]
struct Tally {
    /// Per operation kind: kills with it in flight that left it applied, and absent.
    in_flight: BTreeMap<&'static str, (u32, u32)>,
    /// Kills that landed between operations (or in the journal writes around them).
    between: u32,
    /// Kills aimed at the child's start, before it reported ready.
    early: u32,
    /// Of those, the kills that landed before the child's first operation.
    early_idle: u32,
    /// Kills made while the parent held the store open in a module initialised before the
    /// child started, and checked through that module afterwards.
    watched: u32,
    /// Kills that left a partly written journal line.
    torn: u32,
    /// Operations finished over the run.
    ops: u64,
}

/// Everything the child left on stderr, for a failure message.
fn child_stderr(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

fn journal_tail(path: &Path) -> String {
    let t = read_journal(path);
    let n = t.lines.len();
    t.lines[n.saturating_sub(8)..].join("\n")
}

#[test]
fn store_survives_sigkill() {
    let kills: u32 = std::env::var("CUSTOS_CRASH_KILLS")
        .ok()
        .filter(|v| !v.is_empty())
        .map(|v| v.parse().expect("CUSTOS_CRASH_KILLS must be a number"))
        .unwrap_or(200);
    let seed = seed_from_env("CUSTOS_CRASH_SEED");
    println!("crash test: seed {seed} (repeat with CUSTOS_CRASH_SEED={seed}), {kills} kills");
    let fx = Fixture::dev_store(SLOTS as u32);
    let store = fx.store_dir();
    let journal_path = fx.tmp.path().join("journal");
    let mut rng = Rng::new(seed);

    // Both tokens initialised through the same journalled path the child uses.
    {
        let m = Module::open();
        let mut w = Worker::start(
            m.ctx().clone(),
            vec![None; SLOTS],
            1,
            open_journal(&journal_path),
        );
        for slot in 0..SLOTS {
            w.run(Op::InitToken {
                slot,
                label: format!("crash-slot-{slot}"),
                so_pin: SO_PIN.to_string(),
            })
            .expect("initialise the token");
            w.run(Op::InitPin {
                slot,
                pin: USER_PIN.to_string(),
            })
            .expect("set the user PIN");
        }
        drop(w);
        m.finalize().expect("C_Finalize");
    }

    let started = Instant::now();
    let mut tally = Tally::default();
    let mut check_time = Duration::ZERO;
    for cycle in 0..kills {
        let child_seed = rng.next_u64();
        let early = rng.chance(EARLY_KILL_PERCENT);
        let delay = Duration::from_millis(if early {
            rng.below(40)
        } else {
            rng.below(MAX_DELAY_MS + 1)
        });
        // Sometimes the parent keeps the store open in its own process while the child runs and
        // dies, and checks through that module afterwards: it must notice the child's commits
        // and read the store as a fresh process would.
        let watcher = rng.chance(WATCH_PERCENT).then(|| {
            let m = Module::open();
            let sessions: Vec<Session> = (0..SLOTS)
                .map(|slot| {
                    let s = m.open_rw_session(slot_of(&m, slot)).expect("C_OpenSession");
                    s.find_objects(&[]).expect("C_FindObjects");
                    s
                })
                .collect();
            (m, sessions)
        });
        let stderr_path = fx.tmp.path().join("child-stderr");
        let stderr = File::create(&stderr_path).expect("create the child's stderr file");
        let mut child = ChildGuard::spawn(
            self_command("crash_child")
                .env(CHILD_JOURNAL, &journal_path)
                .env(CHILD_STORE, &store)
                .env(CHILD_SEED, child_seed.to_string())
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::from(stderr)),
        );
        let stdout = child.child().stdout.take().expect("the child's stdout");
        let (ready_tx, ready_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut ready = false;
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if !ready && line.contains(READY) {
                    ready = true;
                    let _ = ready_tx.send(true);
                }
            }
            if !ready {
                let _ = ready_tx.send(false);
            }
        });
        let context = |what: &str| {
            format!(
                "kill {cycle} (seed {seed}, child seed {child_seed}): {what}\n--- child stderr\n{}\n\
                 --- journal tail\n{}",
                child_stderr(&stderr_path),
                journal_tail(&journal_path)
            )
        };
        if early {
            tally.early += 1;
        } else {
            match ready_rx.recv_timeout(READY_TIMEOUT) {
                Ok(true) => {}
                Ok(false) => {
                    let status = child.child().wait().expect("wait for the child");
                    panic!(
                        "{}",
                        context(&format!("the child ended before it was ready: {status}"))
                    );
                }
                Err(_) => panic!("{}", context("the child hung while opening the module")),
            }
        }
        std::thread::sleep(delay);
        if let Some(status) = child.child().try_wait().expect("poll the child") {
            panic!(
                "{}",
                context(&format!("the child ended before it was killed: {status}"))
            );
        }
        let mut c = child.into_inner();
        c.kill().expect("SIGKILL the child");
        let status = c.wait().expect("reap the child");
        {
            use std::os::unix::process::ExitStatusExt;
            if status.signal() != Some(9) {
                panic!(
                    "{}",
                    context(&format!("the child ended with {status}, not SIGKILL"))
                );
            }
        }

        // The journal as the kill left it; a torn last line never finished its write.
        let text = read_journal(&journal_path);
        if text.torn_tail {
            tally.torn += 1;
            OpenOptions::new()
                .write(true)
                .open(&journal_path)
                .and_then(|f| f.set_len(text.complete_len))
                .expect("cut the torn journal line");
        }
        let r = replay(&text.lines).unwrap_or_else(|e| panic!("{}", context(&e)));
        let t0 = Instant::now();
        let pending = r.pending.as_ref().map(|(_, op)| op);
        let verdict = match watcher {
            Some((m, sessions)) => {
                tally.watched += 1;
                let v = check_store(&m, &r.model, pending);
                drop(sessions);
                m.finalize().expect("C_Finalize");
                v
            }
            None => {
                let m = Module::load();
                m.initialize(init_args())
                    .map_err(|e| format!("C_Initialize after the kill: {e}"))
                    .and_then(|()| check_store(&m, &r.model, pending))
                    .and_then(|v| {
                        m.finalize()
                            .map(|()| v)
                            .map_err(|e| format!("C_Finalize: {e}"))
                    })
            }
        }
        .unwrap_or_else(|e| panic!("{}", context(&e)));
        let mut model = r.model.clone();
        match (&r.pending, &verdict) {
            (None, _) if early => tally.early_idle += 1,
            (None, _) => tally.between += 1,
            (Some((seq, op)), Verdict::Applied(out)) => {
                tally.in_flight.entry(op.kind()).or_default().0 += 1;
                apply(&mut model, op, out).expect("apply the resolved operation");
                append_line(
                    &mut open_journal(&journal_path),
                    &format!("R {seq} applied {}", out.encode()),
                );
            }
            (Some((seq, op)), _) => {
                tally.in_flight.entry(op.kind()).or_default().1 += 1;
                append_line(&mut open_journal(&journal_path), &format!("R {seq} absent"));
            }
        }
        check_status(&store, &model).unwrap_or_else(|e| panic!("{}", context(&e)));
        check_time += t0.elapsed();
        tally.ops = r.finished;
    }
    let elapsed = started.elapsed();

    let text = read_journal(&journal_path);
    let r = replay(&text.lines).expect("the final journal replays");
    assert!(
        r.pending.is_none(),
        "every in-flight operation was resolved"
    );
    let objects: usize = r.model.iter().flatten().map(|t| t.objects.len()).sum();
    println!(
        "crash test: {kills} SIGKILLs in {:.1} s (checks {:.1} s); {} operations finished; \
         {objects} objects in the store at the end",
        elapsed.as_secs_f64(),
        check_time.as_secs_f64(),
        r.finished
    );
    println!(
        "  kills at the child's start: {} (of {} aimed there); between operations: {}; with the \
         store held open by the parent: {}; torn journal lines: {}",
        tally.early_idle, tally.early, tally.between, tally.watched, tally.torn
    );
    println!("  in flight at the kill        applied  absent");
    let mut in_flight = 0;
    for (kind, (applied, absent)) in &tally.in_flight {
        in_flight += applied + absent;
        println!("  {kind:<28} {applied:>7} {absent:>7}");
    }
    assert_eq!(
        in_flight + tally.between + tally.early_idle,
        kills,
        "every kill was classified"
    );
    assert!(
        tally.ops >= u64::from(kills),
        "the children finished only {} operations in {kills} runs: the kills prove little",
        tally.ops
    );
}
