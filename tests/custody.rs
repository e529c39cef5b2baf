//! Custody through the `custos` tool and the built module: rekey (and a rekey killed part-way),
//! the audit log's verification naming each kind of edit, backup → restore → sign, and the
//! PIN lockout that only the SO can lift.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::*;
use cryptoki::mechanism::Mechanism;
use cryptoki::object::{Attribute, AttributeType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use rusqlite::Connection;

/// DER of the P-256 curve OID.
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];

fn custos(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(args)
        .env_remove("CUSTOS_CONF")
        .env_remove("CUSTOS_STORE")
        .stdin(Stdio::null())
        .output()
        .expect("run custos")
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
fn ok(o: Output) -> String {
    assert!(o.status.success(), "custos failed:\n{}", text(&o));
    text(&o)
}

fn ps(p: &Path) -> String {
    p.to_str().expect("UTF-8 path").to_string()
}

/// `--share A --share B ...`
fn share_args(files: &[PathBuf]) -> Vec<String> {
    files
        .iter()
        .flat_map(|f| ["--share".to_string(), ps(f)])
        .collect()
}

fn run(args: Vec<String>) -> Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    custos(&refs)
}

/// Points the module at `store` unsealed by `shares`.
fn use_shares(fx: &Fixture, store: &Path, shares: &[PathBuf], extra: &str) {
    let list: Vec<String> = shares.iter().map(|p| toml_path(p)).collect();
    fx.use_conf(
        "custos.toml",
        &format!(
            "store = {}\nshares = [{}]\n{extra}",
            toml_path(store),
            list.join(", ")
        ),
    );
}

fn ec_token_pair(s: &Session, label: &str) -> (ObjectHandle, ObjectHandle) {
    s.generate_key_pair(
        &Mechanism::EccKeyPairGen,
        &[
            Attribute::Token(true),
            Attribute::EcParams(P256.to_vec()),
            Attribute::Verify(true),
            Attribute::Label(label.into()),
        ],
        &[
            Attribute::Token(true),
            Attribute::Sign(true),
            Attribute::Label(label.into()),
        ],
    )
    .expect("C_GenerateKeyPair")
}

fn find_one(s: &Session, class: ObjectClass, label: &str) -> ObjectHandle {
    let v = s
        .find_objects(&[Attribute::Class(class), Attribute::Label(label.into())])
        .expect("C_FindObjects");
    assert_eq!(v.len(), 1, "objects labelled {label:?}");
    v[0]
}

fn ec_point(s: &Session, h: ObjectHandle) -> Vec<u8> {
    match s
        .get_attributes(h, &[AttributeType::EcPoint])
        .unwrap()
        .pop()
    {
        Some(Attribute::EcPoint(p)) => p,
        other => panic!("no EC point: {other:?}"),
    }
}

/// Signs with the private key labelled `label` and checks the signature with its public key.
fn sign_and_verify(s: &Session, label: &str) {
    let private = find_one(s, ObjectClass::PRIVATE_KEY, label);
    let public = find_one(s, ObjectClass::PUBLIC_KEY, label);
    let sig = s
        .sign(&Mechanism::EcdsaSha256, private, b"custody")
        .expect("C_Sign");
    s.verify(&Mechanism::EcdsaSha256, public, b"custody", &sig)
        .expect("C_Verify");
}

/// A 2-of-3 store made by `custos init`; returns its directory and the three share files.
fn custodian_store(dir: &Path) -> (PathBuf, Vec<PathBuf>) {
    let store = dir.join("store");
    let out = dir.join("shares");
    ok(custos(&[
        "init",
        "--store",
        &ps(&store),
        "--shares",
        "3",
        "--threshold",
        "2",
        "--out",
        &ps(&out),
        "--slots",
        "2",
    ]));
    let shares = (1..=3)
        .map(|i| out.join(format!("share-{i}-of-3.txt")))
        .collect();
    (store, shares)
}

#[test]
fn rekey_replaces_the_shares_and_keeps_every_key() {
    let fx = Fixture::new();
    let (store, old) = custodian_store(fx.tmp.path());
    use_shares(&fx, &store, &old[..2], "");
    {
        let m = Module::open();
        init_token_with_user(&m, slot(&m, 0), "custody");
        let s = user_session(&m, slot(&m, 0));
        ec_token_pair(&s, "signer");
        sign_and_verify(&s, "signer");
        drop(s);
        m.finalize().unwrap();
    }
    let new_dir = fx.tmp.path().join("new-shares");
    let mut args = vec!["rekey".to_string(), "--store".into(), ps(&store)];
    args.extend(share_args(&old[1..]));
    args.extend(["--shares", "4", "--threshold", "3", "--out"].map(String::from));
    args.push(ps(&new_dir));
    let out = ok(run(args));
    assert!(out.contains("3 of 4 shares"), "{out}");
    let new: Vec<PathBuf> = (1..=4)
        .map(|i| new_dir.join(format!("share-{i}-of-4.txt")))
        .collect();

    // The old quorum opens nothing any more, through the tool or the module.
    let mut verify = vec!["verify".to_string(), "--store".into(), ps(&store)];
    verify.extend(share_args(&old[..2]));
    let o = run(verify);
    assert!(!o.status.success(), "old shares still open the store");
    use_shares(&fx, &store, &old[..2], "");
    {
        let m = Module::open();
        assert!(
            m.get_slots_with_token().unwrap().is_empty(),
            "token present with old shares"
        );
        m.finalize().unwrap();
    }
    // Two new shares are not a quorum of three.
    use_shares(&fx, &store, &new[..2], "");
    {
        let m = Module::open();
        assert!(m.get_slots_with_token().unwrap().is_empty());
        m.finalize().unwrap();
    }
    // Three new shares open it, with the same slot, token, PIN and key.
    use_shares(&fx, &store, &new[1..], "");
    {
        let m = Module::open();
        let s = user_session(&m, slot(&m, 0));
        sign_and_verify(&s, "signer");
        drop(s);
        m.finalize().unwrap();
    }
    let mut show = vec![
        "audit".to_string(),
        "show".into(),
        "--store".into(),
        ps(&store),
    ];
    show.extend(share_args(&new[..3]));
    show.extend(["--op", "store."].map(String::from));
    let log = ok(run(show));
    assert!(
        log.contains("store.init") && log.contains("store.rekey"),
        "{log}"
    );
    assert!(log.contains("2 of 3 shares replaced by 3 of 4"), "{log}");
}

#[test]
fn a_rekey_killed_part_way_leaves_a_store_that_opens() {
    let fx = Fixture::new();
    let (store, first) = custodian_store(fx.tmp.path());
    // Enough records that the rekey transaction takes a while.
    {
        let config = custos_pkcs11::config::Config {
            witness_dir: Some(fx.tmp.path().join("witness")),
            ..custos_pkcs11::config::Config::for_store(&store)
        };
        let shares = first[..2]
            .iter()
            .map(|p| custos_pkcs11::engine::provision::read_share_file(p).unwrap())
            .collect();
        let e = custos_pkcs11::engine::Engine::open_with_shares(config, shares).unwrap();
        e.init_token(0, b"so-pin-123", [b' '; 32]).unwrap();
        let h = e.open_session(0, 6).unwrap();
        for i in 0..1500 {
            e.create_object(
                h,
                &[
                    custos_pkcs11::object::Attr::ulong(0, 0),
                    custos_pkcs11::object::Attr::bool(1, true),
                    custos_pkcs11::object::Attr::bytes(3, format!("object {i}").into_bytes()),
                ],
            )
            .unwrap();
        }
    }
    let count_objects = |shares: &[PathBuf]| -> Option<String> {
        let mut args = vec!["verify".to_string(), "--store".into(), ps(&store)];
        args.extend(share_args(shares));
        let o = run(args);
        o.status.success().then(|| text(&o))
    };
    // How long an undisturbed rekey takes here, to spread the kills over it.
    let mut current: Vec<PathBuf> = first[..2].to_vec();
    let rekey = |current: &[PathBuf],
                 n: usize,
                 kill_after: Option<Duration>|
     -> (Vec<PathBuf>, bool, Duration) {
        let out = fx.tmp.path().join(format!("shares-{n}"));
        let mut args = vec!["rekey".to_string(), "--store".into(), ps(&store)];
        args.extend(share_args(current));
        args.extend(["--shares", "2", "--threshold", "2", "--out"].map(String::from));
        args.push(ps(&out));
        let start = Instant::now();
        let mut child = Command::new(env!("CARGO_BIN_EXE_custos"))
            .args(&args)
            .env_remove("CUSTOS_CONF")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let killed = match kill_after {
            Some(d) => {
                std::thread::sleep(d);
                child.kill().is_ok()
            }
            None => false,
        };
        let status = child.wait().unwrap();
        let took = start.elapsed();
        let new = (1..=2)
            .map(|i| out.join(format!("share-{i}-of-2.txt")))
            .collect();
        (new, killed && !status.success(), took)
    };
    let (new, _, took) = rekey(&current, 0, None);
    assert!(count_objects(&new).is_some(), "an undisturbed rekey works");
    current = new;
    let mut committed = 0;
    let mut interrupted = 0;
    for n in 1..=10u32 {
        let delay = took.mul_f64(f64::from(n) / 10.0);
        let (new, killed, _) = rekey(&current, n as usize, Some(delay));
        let old_opens = count_objects(&current);
        let new_opens = if new.iter().all(|p| p.exists()) {
            count_objects(&new)
        } else {
            None
        };
        match (old_opens, new_opens) {
            (Some(report), None) => {
                interrupted += usize::from(killed);
                assert!(report.contains("store verified"), "{report}");
            }
            (None, Some(report)) => {
                committed += 1;
                assert!(report.contains("store verified"), "{report}");
                current = new;
            }
            (a, b) => panic!(
                "after a kill at {delay:?}: old shares open: {}, new shares open: {}",
                a.is_some(),
                b.is_some()
            ),
        }
    }
    println!(
        "rekey took {took:?}; {interrupted} kills interrupted it, {committed} rekeys committed"
    );
    assert!(interrupted >= 1, "no kill landed before the commit");
    // Every object is still there.
    let mut args = vec![
        "token".to_string(),
        "list".into(),
        "--store".into(),
        ps(&store),
    ];
    args.extend(share_args(&current));
    let list = ok(run(args));
    assert!(list.contains("1500 objects"), "{list}");
}

/// A --dev store with a token, some objects and a few audit entries.
fn audited_dev_store(fx: &Fixture) -> PathBuf {
    let m = Module::open();
    init_token_with_user(&m, slot(&m, 0), "audited");
    let s = user_session(&m, slot(&m, 0));
    ec_token_pair(&s, "k");
    for i in 0..3 {
        s.create_object(&data_object(&format!("d{i}"), true))
            .unwrap();
    }
    drop(s);
    m.finalize().unwrap();
    fx.store_dir()
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), to.join(e.file_name())).unwrap();
    }
}

fn audit_blob(db: &Connection, pos: i64) -> Vec<u8> {
    db.query_row("SELECT blob FROM audit WHERE pos = ?1", [pos], |r| r.get(0))
        .unwrap()
}

#[test]
fn audit_verify_names_each_kind_of_edit() {
    let fx = Fixture::dev_store(1);
    let store = audited_dev_store(&fx);
    let report = ok(custos(&["audit", "verify", "--store", &ps(&store)]));
    assert!(report.contains("audit log intact"), "{report}");
    let json = ok(custos(&["audit", "show", "--store", &ps(&store), "--json"]));
    let lines: Vec<&str> = json.lines().filter(|l| l.starts_with("{\"seq\"")).collect();
    assert!(lines.len() >= 8, "{json}");
    assert!(lines[0].contains("\"op\": \"store.init\""), "{json}");
    assert!(json.contains("\"op\": \"C_GenerateKeyPair\""), "{json}");
    let n = lines.len() as i64;

    type Edit = Box<dyn Fn(&Connection)>;
    let cases: Vec<(&str, Edit, String)> = vec![
        (
            "modified",
            Box::new(|db| {
                let mut b = audit_blob(db, 3);
                b[20] ^= 1;
                db.execute("UPDATE audit SET blob = ?1 WHERE pos = 3", [b])
                    .unwrap();
            }),
            "entry 3 was modified".into(),
        ),
        (
            "deleted",
            Box::new(|db| {
                db.execute("DELETE FROM audit WHERE pos = 4", []).unwrap();
            }),
            "entry 4 is missing (deleted)".into(),
        ),
        (
            "reordered",
            Box::new(|db| {
                let (a, b) = (audit_blob(db, 2), audit_blob(db, 5));
                db.execute("UPDATE audit SET blob = ?1 WHERE pos = 2", [b])
                    .unwrap();
                db.execute("UPDATE audit SET blob = ?1 WHERE pos = 5", [a])
                    .unwrap();
            }),
            "entry 5 was found at position 2: entries were reordered".into(),
        ),
        (
            "truncated",
            Box::new(move |db| {
                db.execute("DELETE FROM audit WHERE pos >= ?1", [n - 1])
                    .unwrap();
            }),
            format!(
                "the log was truncated: {} entries present, {n} recorded",
                n - 2
            ),
        ),
    ];
    for (i, (what, edit, want)) in cases.iter().enumerate() {
        let copy = fx.tmp.path().join(format!("copy-{i}"));
        copy_dir(&store, &copy);
        edit(&Connection::open(copy.join("custos.db")).unwrap());
        let o = custos(&["audit", "verify", "--store", &ps(&copy)]);
        let t = text(&o);
        assert!(!o.status.success(), "{what}: verify passed:\n{t}");
        assert!(t.contains("audit log DAMAGED"), "{what}:\n{t}");
        assert!(t.contains(want.as_str()), "{what}: expected {want:?}:\n{t}");
        // The rest of the store is untouched and still opens.
        let shown = ok(custos(&["audit", "show", "--store", &ps(&copy)]));
        assert!(shown.contains("DEFECT: "), "{what}:\n{shown}");
    }
}

#[test]
fn backup_restore_and_sign_with_the_restored_key() {
    let fx = Fixture::dev_store(2);
    let m = Module::open();
    init_token_with_user(&m, slot(&m, 1), "backed up");
    let s0 = user_session(&m, slot(&m, 1));
    let (public, _) = ec_token_pair(&s0, "signer");
    let point = ec_point(&s0, public);
    drop(s0);
    m.finalize().unwrap();

    let file = fx.tmp.path().join("store.backup");
    let out = ok(custos(&[
        "backup",
        "--store",
        &ps(&fx.store_dir()),
        "--out",
        &ps(&file),
    ]));
    assert!(out.contains("a --dev store"), "{out}");
    let again = custos(&[
        "backup",
        "--store",
        &ps(&fx.store_dir()),
        "--out",
        &ps(&file),
    ]);
    assert!(!again.status.success(), "a backup overwrote a file");

    let restored = fx.tmp.path().join("restored");
    let out = ok(custos(&[
        "restore",
        "--from",
        &ps(&file),
        "--store",
        &ps(&restored),
    ]));
    assert!(out.contains("2 slots, 1 tokens, 2 objects"), "{out}");
    fx.use_store(&restored);
    let m = Module::open();
    // The same slot id holds the same token and key.
    assert_eq!(m.get_token_info(slot(&m, 1)).unwrap().label(), "backed up");
    let s1 = user_session(&m, slot(&m, 1));
    let restored_public = find_one(&s1, ObjectClass::PUBLIC_KEY, "signer");
    assert_eq!(ec_point(&s1, restored_public), point);
    sign_and_verify(&s1, "signer");
    drop(s1);
    m.finalize().unwrap();
    let log = ok(custos(&[
        "audit",
        "show",
        "--store",
        &ps(&restored),
        "--op",
        "store.",
        "--last",
        "1",
    ]));
    assert!(
        log.contains("store.restore") && log.lines().count() == 1,
        "{log}"
    );
    // A restore never lands on an existing store.
    let o = custos(&["restore", "--from", &ps(&file), "--store", &ps(&restored)]);
    assert!(!o.status.success() && text(&o).contains("already holds a store"));
}

#[test]
fn a_custodian_backup_needs_the_quorum_to_restore() {
    let fx = Fixture::new();
    let (store, shares) = custodian_store(fx.tmp.path());
    let file = fx.tmp.path().join("b");
    ok(custos(&[
        "backup",
        "--store",
        &ps(&store),
        "--out",
        &ps(&file),
    ]));
    let target = fx.tmp.path().join("r");
    let o = custos(&["restore", "--from", &ps(&file), "--store", &ps(&target)]);
    assert!(!o.status.success(), "restored without shares");
    assert!(
        text(&o).contains("give a quorum of 2 of its 3 shares"),
        "{}",
        text(&o)
    );
    assert!(!target.exists(), "a failed restore left files behind");
    let mut args = vec![
        "restore".to_string(),
        "--from".into(),
        ps(&file),
        "--store".into(),
        ps(&target),
    ];
    args.extend(share_args(&shares[..1]));
    assert!(!run(args.clone()).status.success(), "one share restored it");
    args.extend(share_args(&shares[2..]));
    let out = ok(run(args));
    assert!(
        out.contains("every record and the audit log verified"),
        "{out}"
    );
    // The backup file holds no share value and no plain record.
    let bytes = std::fs::read(&file).unwrap();
    for p in &shares {
        let value = std::fs::read_to_string(p).unwrap();
        let v = value
            .lines()
            .find_map(|l| l.strip_prefix("value: "))
            .unwrap()
            .trim()
            .to_string();
        assert!(!contains(&bytes, v.as_bytes()));
    }
}

#[test]
fn a_locked_user_pin_is_reset_by_the_so_and_nothing_else() {
    let fx = Fixture::dev_store(1);
    let dev_share = fx.store_dir().join("dev-share.txt");
    use_shares(&fx, &fx.store_dir(), &[dev_share], "max_pin_failures = 3\n");
    let m = Module::open();
    let sl = slot(&m, 0);
    init_token_with_user(&m, sl, "lockout");
    let s = m.open_rw_session(sl).unwrap();
    let wrong = pin("wrong-pin-1");
    for _ in 0..3 {
        assert_eq!(
            rv(s.login(UserType::User, Some(&wrong))),
            cryptoki::error::RvError::PinIncorrect
        );
    }
    let locked = cryptoki::error::RvError::PinLocked;
    // The right PIN, C_SetPIN with the right PIN, and a fresh process: all still locked.
    assert_eq!(rv(s.login(UserType::User, Some(&pin(USER_PIN)))), locked);
    assert_eq!(rv(s.set_pin(&pin(USER_PIN), &pin("another-pin"))), locked);
    drop(s);
    m.finalize().unwrap();
    let m = Module::open();
    let s = m.open_rw_session(slot(&m, 0)).unwrap();
    assert_eq!(rv(s.login(UserType::User, Some(&pin(USER_PIN)))), locked);
    assert!(m.get_token_info(slot(&m, 0)).unwrap().user_pin_locked());
    // The SO lifts it.
    s.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    s.init_pin(&pin("fresh-pin-1")).unwrap();
    s.logout().unwrap();
    s.login(UserType::User, Some(&pin("fresh-pin-1"))).unwrap();
    drop(s);
    m.finalize().unwrap();
    // And the audit log tells the story.
    let log = ok(custos(&[
        "audit",
        "show",
        "--store",
        &ps(&fx.store_dir()),
        "--op",
        "C_Login",
    ]));
    assert!(log.contains("locked after 3 failures"), "{log}");
    assert!(log.contains("refused: the PIN is locked"), "{log}");
}

#[test]
fn rekey_can_protect_the_new_shares() {
    let fx = Fixture::new();
    let (store, old) = custodian_store(fx.tmp.path());
    let pw = fx.tmp.path().join("new-passphrases.txt");
    std::fs::write(&pw, "first passphrase\nsecond passphrase\n").unwrap();
    let out_dir = fx.tmp.path().join("protected");
    let mut args = vec!["rekey".to_string(), "--store".into(), ps(&store)];
    args.extend(share_args(&old[..2]));
    args.extend(
        [
            "--shares",
            "2",
            "--threshold",
            "2",
            "--new-passphrase-file",
            &ps(&pw),
            "--argon2",
            "m=64,t=1,p=1",
            "--insecure-weak-argon2",
            "--out",
            &ps(&out_dir),
        ]
        .map(String::from),
    );
    let out = ok(run(args));
    assert!(
        out.contains("each protected by its custodian's passphrase"),
        "{out}"
    );
    let new: Vec<PathBuf> = (1..=2)
        .map(|i| out_dir.join(format!("share-{i}-of-2.txt")))
        .collect();
    for p in &new {
        let t = std::fs::read_to_string(p).unwrap();
        assert!(t.starts_with("CUSTOS PROTECTED SHARE v1"), "{t}");
        assert!(!t.contains("value: "), "a protected share shows its value");
    }
    // The ceremony opens the store with the new shares and their passphrases.
    let ceremony = ok(custos(&[
        "unseal",
        "--store",
        &ps(&store),
        "--passphrase-file",
        &ps(&pw),
        &ps(&new[0]),
        &ps(&new[1]),
    ]));
    assert!(ceremony.contains("quorum reached"), "{ceremony}");
    // A wrong passphrase does not.
    let bad = fx.tmp.path().join("bad.txt");
    std::fs::write(&bad, "first passphrase\nnot the second\n").unwrap();
    let o = custos(&[
        "unseal",
        "--store",
        &ps(&store),
        "--passphrase-file",
        &ps(&bad),
        &ps(&new[0]),
        &ps(&new[1]),
    ]);
    assert!(!o.status.success());
    assert!(text(&o).contains("wrong passphrase"), "{}", text(&o));
}
