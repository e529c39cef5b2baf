//! Tamper evidence through the built module: a store whose files were edited behind Custos'
//! back is refused by `C_Initialize` (or by the next call, when the edit happens while the
//! module runs) with `CKR_DEVICE_ERROR` and a message saying what was found, and none of its
//! keys is used. Each case edits a copy of one pristine store with SQLite directly: flipped
//! bytes in each kind of sealed record, in the integrity state and in the header, records
//! swapped between objects and between tokens, an older copy of a record, a deleted record,
//! and the whole store rolled back to an older copy. The module's output in every case is
//! scanned for the key value, the PINs and the master key.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use cryptoki::error::{Error, RvError};
use cryptoki::object::{Attribute, KeyType, ObjectClass};
use rusqlite::{params, Connection};

/// The AES key value imported into the pristine store; it must never appear in any output.
const KEY_VALUE: [u8; 32] = *b"tamper-test key value 0123456789";

const CHILD_STORE: &str = "CUSTOS_TAMPER_CHILD_STORE";
const CHILD_WITNESS: &str = "CUSTOS_TAMPER_CHILD_WITNESS";

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// The master key of a 1-of-1 store is the value of its only share.
fn master_key_hex(store: &Path) -> String {
    let text = std::fs::read_to_string(store.join("dev-share.txt")).expect("the dev share");
    text.lines()
        .find_map(|l| l.strip_prefix("value: "))
        .expect("a value line")
        .trim()
        .to_string()
}

fn data_object(label: &str) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(true),
        Attribute::Private(false),
        Attribute::Label(label.into()),
        Attribute::Value(format!("value of {label}").into_bytes()),
    ]
}

/// Builds the pristine store: two initialised tokens, an imported sensitive AES key, two data
/// objects; returns the blob of data object "d1" as it was before its label changed.
fn pristine(fx: &Fixture) -> Vec<u8> {
    let m = Module::open();
    let s0 = slot(&m, 0);
    let s1 = slot(&m, 1);
    init_token_with_user(&m, s0, "zero");
    init_token_with_user(&m, s1, "one");
    let s = m.open_rw_session(s0).unwrap();
    s.login(cryptoki::session::UserType::User, Some(&pin(USER_PIN)))
        .unwrap();
    s.create_object(&[
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::AES),
        Attribute::Token(true),
        Attribute::Sensitive(true),
        Attribute::Encrypt(true),
        Attribute::Label("the key".into()),
        Attribute::Value(KEY_VALUE.to_vec()),
    ])
    .unwrap();
    let d1 = s.create_object(&data_object("d1")).unwrap();
    s.create_object(&data_object("d2")).unwrap();
    let db = raw(&fx.store_dir());
    let ids = object_ids(&db);
    let d1_blob_before: Vec<Vec<u8>> = ids.iter().map(|&id| blob(&db, 2, id)).collect();
    s.update_attributes(d1, &[Attribute::Label("d1, renamed".into())])
        .unwrap();
    drop(s);
    m.finalize().unwrap();
    // The record that changed is d1's; return its older blob.
    let after: Vec<Vec<u8>> = ids.iter().map(|&id| blob(&db, 2, id)).collect();
    let changed: Vec<usize> = (0..ids.len())
        .filter(|&i| after[i] != d1_blob_before[i])
        .collect();
    assert_eq!(changed.len(), 1, "exactly one object record changed");
    d1_blob_before[changed[0]].clone()
}

fn raw(dir: &Path) -> Connection {
    Connection::open(dir.join("custos.db")).expect("open the store database")
}

fn object_ids(db: &Connection) -> Vec<i64> {
    let mut st = db
        .prepare("SELECT id FROM records WHERE kind = 2 ORDER BY id")
        .unwrap();
    let rows = st.query_map([], |r| r.get(0)).unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

fn blob(db: &Connection, kind: i64, id: i64) -> Vec<u8> {
    db.query_row(
        "SELECT blob FROM records WHERE kind = ?1 AND id = ?2",
        params![kind, id],
        |r| r.get(0),
    )
    .unwrap()
}

fn set_blob(db: &Connection, kind: i64, id: i64, b: &[u8]) {
    let n = db
        .execute(
            "UPDATE records SET blob = ?3 WHERE kind = ?1 AND id = ?2",
            params![kind, id, b],
        )
        .unwrap();
    assert_eq!(n, 1);
}

fn flip(b: &mut [u8]) {
    let at = b.len() / 2;
    b[at] ^= 0x20;
}

fn copy_store(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// What a fresh process saw when it initialised the module on a store.
struct Outcome {
    rv: String,
    output: Vec<u8>,
}

/// Runs [`tamper_child`] on `store` and returns what it printed.
fn run_child(store: &Path, witness: Option<&Path>) -> Outcome {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = std::process::Command::new(exe);
    cmd.args(["--exact", "tamper_child", "--nocapture", "--ignored"])
        .env(CHILD_STORE, store)
        .env_remove("CUSTOS_QUIET");
    if let Some(w) = witness {
        cmd.env(CHILD_WITNESS, w);
    }
    let out = cmd.output().expect("run the child process");
    assert!(
        out.status.success(),
        "child failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout).to_string();
    let rv = stdout
        .lines()
        .find_map(|l| l.strip_prefix("C_Initialize: "))
        .expect("the child reports C_Initialize")
        .trim()
        .to_string();
    let mut output = out.stdout.clone();
    output.extend_from_slice(&out.stderr);
    Outcome { rv, output }
}

/// Run in a child process by the tests below: initialises the module on the given store
/// (printing the result and whatever the module writes to stderr) and, when that works,
/// counts the objects of slot 0.
#[test]
#[ignore = "helper: run in a child process by the tamper tests"]
fn tamper_child() {
    let Some(store) = std::env::var_os(CHILD_STORE) else {
        return;
    };
    let fx = Fixture::new();
    std::env::remove_var("CUSTOS_QUIET");
    let conf = match std::env::var_os(CHILD_WITNESS) {
        Some(w) => format!(
            "store = {}\nwitness_dir = {}\n",
            toml_path(Path::new(&store)),
            toml_path(Path::new(&w))
        ),
        None => format!(
            "store = {}\nrollback_witness = false\n",
            toml_path(Path::new(&store))
        ),
    };
    // The dev share sits beside the store; name it explicitly since a configuration is used.
    let conf = format!(
        "{conf}shares = [{}]\n",
        toml_path(&Path::new(&store).join("dev-share.txt"))
    );
    fx.use_conf("custos.toml", &conf);
    let m = Module::load();
    match m.initialize(init_args()) {
        Ok(()) => {
            println!("C_Initialize: OK");
            let s = m.open_ro_session(slot(&m, 0)).unwrap();
            let n = s.find_objects(&[]).unwrap().len();
            println!("objects: {n}");
        }
        Err(Error::Pkcs11(rv, _)) => println!("C_Initialize: {rv:?}"),
        Err(e) => println!("C_Initialize: {e}"),
    }
}

/// Asserts the module refused the store with `CKR_DEVICE_ERROR` and a message containing
/// `why`, and leaked no secret in doing so.
fn assert_refused(case: &str, o: &Outcome, why: &str, secrets: &[Vec<u8>]) {
    let text = String::from_utf8_lossy(&o.output);
    assert_eq!(
        o.rv, "DeviceError",
        "{case}: module accepted the store:\n{text}"
    );
    assert!(
        text.contains(why),
        "{case}: the message does not say {why:?}:\n{text}"
    );
    assert_no_secret(case, &o.output, secrets);
}

fn assert_no_secret(case: &str, output: &[u8], secrets: &[Vec<u8>]) {
    for s in secrets {
        assert!(
            !contains(output, s),
            "{case}: the output contains a secret ({})",
            String::from_utf8_lossy(s)
        );
    }
}

#[test]
fn edited_stores_are_refused_by_a_new_process() {
    let fx = Fixture::dev_store(2);
    let old_d1 = pristine(&fx);
    let store = fx.store_dir();
    let mk = master_key_hex(&store);
    let secrets: Vec<Vec<u8>> = vec![
        KEY_VALUE.to_vec(),
        hex(&KEY_VALUE).into_bytes(),
        hex(&KEY_VALUE).to_uppercase().into_bytes(),
        USER_PIN.as_bytes().to_vec(),
        SO_PIN.as_bytes().to_vec(),
        mk.clone().into_bytes(),
        mk.to_uppercase().into_bytes(),
    ];

    // The untouched copy opens: the cases below fail because of their edit alone.
    let fresh = |name: &str| -> PathBuf {
        let d = fx.tmp.path().join(name);
        copy_store(&store, &d);
        d
    };
    let ok = run_child(&fresh("untouched"), None);
    assert_eq!(ok.rv, "OK", "{}", String::from_utf8_lossy(&ok.output));
    assert_no_secret("untouched", &ok.output, &secrets);

    type Edit = Box<dyn Fn(&Connection)>;
    let ids = object_ids(&raw(&store));
    assert_eq!(ids.len(), 3);
    let (a, b) = (ids[0], ids[1]);
    let cases: Vec<(&str, Edit, &str)> = vec![
        (
            "flipped byte in a token record",
            Box::new(|db| {
                let id: i64 = db
                    .query_row("SELECT id FROM records WHERE kind = 1 LIMIT 1", [], |r| {
                        r.get(0)
                    })
                    .unwrap();
                let mut x = blob(db, 1, id);
                flip(&mut x);
                set_blob(db, 1, id, &x);
            }),
            "record kind 1",
        ),
        (
            "flipped byte in an object record",
            Box::new(move |db| {
                let mut x = blob(db, 2, a);
                flip(&mut x);
                set_blob(db, 2, a, &x);
            }),
            "record kind 2",
        ),
        (
            "flipped byte in the integrity state",
            Box::new(|db| {
                let mut x: Vec<u8> = db
                    .query_row("SELECT blob FROM state", [], |r| r.get(0))
                    .unwrap();
                flip(&mut x);
                db.execute("UPDATE state SET blob = ?1", [x]).unwrap();
            }),
            "integrity state failed authentication",
        ),
        (
            "edited header",
            Box::new(|db| {
                let h: Vec<u8> = db
                    .query_row("SELECT blob FROM header", [], |r| r.get(0))
                    .unwrap();
                let mut h = custos_pkcs11::store::StoreHeader::decode(&h).unwrap();
                h.slot_count = 3;
                db.execute("UPDATE header SET blob = ?1", [h.encode().unwrap()])
                    .unwrap();
            }),
            "header does not match",
        ),
        (
            "records swapped between two objects",
            Box::new(move |db| {
                let (x, y) = (blob(db, 2, a), blob(db, 2, b));
                set_blob(db, 2, a, &y);
                set_blob(db, 2, b, &x);
            }),
            "failed integrity check",
        ),
        (
            "token records swapped between slots",
            Box::new(|db| {
                db.execute("UPDATE records SET slot = 1 - slot WHERE kind = 1", [])
                    .unwrap();
            }),
            "record kind 1",
        ),
        (
            "a deleted record",
            Box::new(move |db| {
                db.execute("DELETE FROM records WHERE kind = 2 AND id = ?1", [b])
                    .unwrap();
            }),
            "do not match the sealed integrity state",
        ),
    ];
    for (i, (case, edit, why)) in cases.iter().enumerate() {
        let dir = fresh(&format!("case{i}"));
        edit(&raw(&dir));
        assert_refused(case, &run_child(&dir, None), why, &secrets);
    }

    // An older copy of d1's record, put back in its place, authenticates alone but not as
    // part of the store.
    let dir = fresh("older-record");
    {
        let db = raw(&dir);
        // Put the old blob in each object's place: only d1's own place authenticates it, and
        // there it is refused as an older copy.
        let mut replaced = 0;
        for id in object_ids(&db) {
            let cur = blob(&db, 2, id);
            set_blob(&db, 2, id, &old_d1);
            let ok = run_child(&dir, None);
            set_blob(&db, 2, id, &cur);
            let text = String::from_utf8_lossy(&ok.output).to_string();
            if text.contains("older copy") {
                replaced += 1;
                assert_refused("an older copy of a record", &ok, "older copy", &secrets);
            } else {
                assert_refused(
                    "an older record in another place",
                    &ok,
                    "record kind 2",
                    &secrets,
                );
            }
        }
        assert_eq!(
            replaced, 1,
            "the older record is refused as such in its own place"
        );
    }
}

#[test]
fn a_rolled_back_store_is_refused_while_the_witness_survives() {
    let fx = Fixture::dev_store(2);
    let witness = fx.tmp.path().join("witness");
    let conf = format!(
        "store = {}\nshares = [{}]\nwitness_dir = {}\n",
        toml_path(&fx.store_dir()),
        toml_path(&fx.store_dir().join("dev-share.txt")),
        toml_path(&witness)
    );
    fx.use_conf("custos.toml", &conf);
    {
        let m = Module::open();
        init_token_with_user(&m, slot(&m, 0), "zero");
        m.finalize().unwrap();
    }
    let old = fx.tmp.path().join("old-copy");
    copy_store(&fx.store_dir(), &old);
    {
        let m = Module::open();
        let s = m.open_rw_session(slot(&m, 0)).unwrap();
        s.create_object(&data_object("made after the copy"))
            .unwrap();
        drop(s);
        m.finalize().unwrap();
    }
    // Put the older copy in place of the store.
    for f in ["custos.db", "custos.db-wal", "custos.db-shm"] {
        let _ = std::fs::remove_file(fx.store_dir().join(f));
    }
    copy_store(&old, &fx.store_dir());
    let o = run_child(&fx.store_dir(), Some(&witness));
    assert_refused("rolled back store", &o, "rolled back", &[]);
    // The documented limit: without the witness, an older copy is consistent on its own.
    let o = run_child(&fx.store_dir(), None);
    assert_eq!(o.rv, "OK", "{}", String::from_utf8_lossy(&o.output));
}

#[test]
fn an_edit_while_the_module_runs_fails_every_later_call() {
    let fx = Fixture::dev_store(1);
    let m = Module::open();
    let s0 = slot(&m, 0);
    init_token_with_user(&m, s0, "zero");
    let s = m.open_rw_session(s0).unwrap();
    s.create_object(&data_object("x")).unwrap();
    s.create_object(&data_object("y")).unwrap();
    assert_eq!(s.find_objects(&[]).unwrap().len(), 2);
    let db = raw(&fx.store_dir());
    let id = object_ids(&db)[0];
    let mut x = blob(&db, 2, id);
    flip(&mut x);
    set_blob(&db, 2, id, &x);
    for _ in 0..3 {
        assert_eq!(rv(s.find_objects(&[])), RvError::DeviceError);
        assert_eq!(rv(s.create_object(&data_object("z"))), RvError::DeviceError);
    }
    drop(s);
    m.finalize().unwrap();
}

const SECRETS_CHILD: &str = "CUSTOS_SECRETS_CHILD_STORE";

/// Run in a child process by `no_secret_in_store_files_or_debug_output`: with
/// `CUSTOS_DEBUG=1`, initialises a token, fails a login, imports a secret key and uses it,
/// and provokes a few errors, so the module has every chance to print something.
#[test]
#[ignore = "helper: run in a child process by no_secret_in_store_files_or_debug_output"]
fn secrets_child() {
    let Some(store) = std::env::var_os(SECRETS_CHILD) else {
        return;
    };
    let fx = Fixture::new();
    std::env::remove_var("CUSTOS_QUIET");
    std::env::set_var("CUSTOS_DEBUG", "1");
    fx.use_store(Path::new(&store));
    let m = Module::open();
    let s0 = slot(&m, 0);
    init_token_with_user(&m, s0, "secrets");
    let s = m.open_rw_session(s0).unwrap();
    let wrong = format!("{USER_PIN}-wrong");
    assert_eq!(
        rv(s.login(cryptoki::session::UserType::User, Some(&pin(&wrong)))),
        RvError::PinIncorrect
    );
    s.login(cryptoki::session::UserType::User, Some(&pin(USER_PIN)))
        .unwrap();
    let key = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Sensitive(true),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Value(KEY_VALUE.to_vec()),
        ])
        .unwrap();
    let iv = [0u8; 16];
    let ct = s
        .encrypt(
            &cryptoki::mechanism::Mechanism::AesCbcPad(iv),
            key,
            b"hello",
        )
        .unwrap();
    assert_eq!(
        s.decrypt(&cryptoki::mechanism::Mechanism::AesCbcPad(iv), key, &ct)
            .unwrap(),
        b"hello"
    );
    // Errors: a sensitive value read, a bad ciphertext, a bad PIN change.
    // cryptoki leaves out an attribute the module refuses as sensitive.
    assert!(s
        .get_attributes(key, &[cryptoki::object::AttributeType::Value])
        .map_or(true, |v| v.is_empty()));
    assert!(s
        .decrypt(&cryptoki::mechanism::Mechanism::AesCbcPad(iv), key, &[1; 7])
        .is_err());
    assert!(s.set_pin(&pin(&wrong), &pin("new-pin-123")).is_err());
    // And a store error, whose message goes to stderr under CUSTOS_DEBUG.
    let db = raw(Path::new(&store));
    let id = object_ids(&db)[0];
    let mut x = blob(&db, 2, id);
    flip(&mut x);
    set_blob(&db, 2, id, &x);
    assert_eq!(rv(s.find_objects(&[])), RvError::DeviceError);
    drop(s);
    m.finalize().unwrap();
    println!("secrets child done");
}

#[test]
fn no_secret_in_store_files_or_debug_output() {
    let fx = Fixture::dev_store(1);
    let store = fx.store_dir();
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "secrets_child", "--nocapture", "--ignored"])
        .env(SECRETS_CHILD, &store)
        .output()
        .expect("run the child process");
    let mut output = out.stdout.clone();
    output.extend_from_slice(&out.stderr);
    let text = String::from_utf8_lossy(&output).to_string();
    assert!(
        out.status.success() && text.contains("secrets child done"),
        "child failed:\n{text}"
    );
    assert!(
        text.contains("custos: device error: record kind 2"),
        "the debug run printed no error message, so the scan would prove little:\n{text}"
    );
    let mk = master_key_hex(&store);
    let mk_raw: Vec<u8> = (0..mk.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&mk[i..i + 2], 16).unwrap())
        .collect();
    let secrets: Vec<Vec<u8>> = vec![
        KEY_VALUE.to_vec(),
        hex(&KEY_VALUE).into_bytes(),
        USER_PIN.as_bytes().to_vec(),
        SO_PIN.as_bytes().to_vec(),
        format!("{USER_PIN}-wrong").into_bytes(),
        mk_raw.clone(),
        mk.clone().into_bytes(),
    ];
    assert_no_secret("debug output", &output, &secrets);
    // Every file of the store directory except the dev share (which is the master key, by
    // design of a --dev store).
    let mut scanned = 0;
    for entry in std::fs::read_dir(&store).unwrap() {
        let p = entry.unwrap().path();
        if p.file_name().is_some_and(|n| n == "dev-share.txt") {
            continue;
        }
        let bytes = std::fs::read(&p).unwrap();
        assert_no_secret(&p.display().to_string(), &bytes, &secrets);
        scanned += bytes.len();
    }
    assert!(scanned > 10_000, "only {scanned} bytes of store files");
    // The scan works: the plain store id is in the database.
    let db = std::fs::read(store.join("custos.db")).unwrap();
    let header = custos_pkcs11::store::Store::open(&store).unwrap();
    assert!(contains(&db, &header.header().store_id));
}
