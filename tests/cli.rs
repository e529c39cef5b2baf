//! The `custos` administration tool, run as a real process.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use custos_pkcs11::engine::provision;

const SO_PIN: &str = "so-secret-1";
const USER_PIN: &str = "user-secret-1";

struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Run {
    fn ok(&self) -> &Self {
        assert_eq!(
            self.code,
            Some(0),
            "expected success\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// Asserts exit status 1 with one `custos: error:` line mentioning every needle.
    fn fails_with(&self, needles: &[&str]) -> &Self {
        assert_eq!(
            self.code,
            Some(1),
            "expected exit 1\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        let errors: Vec<&str> = self
            .stderr
            .lines()
            .filter(|l| l.starts_with("custos: error: "))
            .collect();
        assert_eq!(errors.len(), 1, "one error line expected:\n{}", self.stderr);
        for n in needles {
            assert!(
                errors[0].contains(n),
                "error line lacks {n:?}: {}",
                errors[0]
            );
        }
        self
    }
}

fn custos<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    custos_env(args, &[])
}

fn custos_env<I, S>(args: I, env: &[(&str, &str)]) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_custos"));
    cmd.args(args)
        .env_remove("CUSTOS_CONF")
        .env_remove("CUSTOS_STORE")
        .env_remove("CUSTOS_SO_PIN")
        .env_remove("CUSTOS_PIN");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run the custos binary");
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

fn s(p: &Path) -> String {
    p.to_str().expect("utf-8 temp path").to_string()
}

/// Creates an M-of-N store in `root/store`, shares in `root/shares`.
fn init_store(root: &Path, m: u32, n: u32) -> (PathBuf, Vec<PathBuf>) {
    let store = root.join("store");
    let out = root.join("shares");
    custos([
        "init",
        "--store",
        &s(&store),
        "--shares",
        &n.to_string(),
        "--threshold",
        &m.to_string(),
        "--out",
        &s(&out),
    ])
    .ok();
    let shares = (1..=n)
        .map(|i| out.join(format!("share-{i}-of-{n}.txt")))
        .collect();
    (store, shares)
}

fn with_shares(mut args: Vec<String>, shares: &[&PathBuf]) -> Vec<String> {
    for p in shares {
        args.push("--share".into());
        args.push(s(p));
    }
    args
}

fn status(store: &Path, shares: &[&PathBuf]) -> Run {
    custos(with_shares(
        vec!["status".into(), "--store".into(), s(store)],
        shares,
    ))
}

fn no_store_left(store: &Path) {
    assert!(
        !store.join("custos.db").exists(),
        "a store was left in {}",
        store.display()
    );
}

#[test]
fn init_two_of_three_then_status_sealed_and_unsealed() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, shares) = init_store(tmp.path(), 2, 3);
    let listing = custos(["status", "--store", &s(&store)]);
    listing.ok();
    assert!(
        listing.stdout.contains("quorum:   2 of 3"),
        "{}",
        listing.stdout
    );
    assert!(listing.stdout.contains("sealed"), "{}", listing.stdout);
    assert!(!listing.stdout.contains("unsealed"), "{}", listing.stdout);
    assert!(!listing.stdout.contains("slot 0"), "{}", listing.stdout);

    let out_dir = tmp.path().join("shares");
    assert_eq!(
        std::fs::metadata(&out_dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    let mut ids = Vec::new();
    for (i, p) in shares.iter().enumerate() {
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
        let share = provision::read_share_file(p).unwrap();
        assert_eq!(usize::from(share.index()), i + 1);
        assert_eq!((share.threshold(), share.total()), (2, 3));
        ids.push(*share.store_id());
    }
    assert!(ids.windows(2).all(|w| w[0] == w[1]));
    let id_hex: String = ids[0].iter().map(|b| format!("{b:02x}")).collect();
    assert!(listing.stdout.contains(&id_hex), "{}", listing.stdout);

    let open = status(&store, &[&shares[0], &shares[2]]);
    open.ok();
    assert!(
        open.stdout.contains("state:    unsealed"),
        "{}",
        open.stdout
    );
    assert!(
        open.stdout.contains("tokens:   0 initialised of 4 slots"),
        "{}",
        open.stdout
    );
    assert!(open.stdout.contains("slot 3: (not initialised)"));

    status(&store, &[&shares[1]]).fails_with(&["sealed", "need 2 of 3", "--share"]);
    custos(with_shares(
        vec!["token".into(), "list".into(), "--store".into(), s(&store)],
        &[],
    ))
    .fails_with(&["store is sealed: need 2 of 3 shares"]);
}

#[test]
fn init_prints_custodians_and_quorum_reminder() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("st");
    let out = tmp.path().join("out");
    let r = custos([
        "init",
        "--store",
        &s(&store),
        "--shares",
        "3",
        "--threshold",
        "2",
        "--out",
        &s(&out),
        "--slots",
        "2",
    ]);
    r.ok();
    for i in 1..=3 {
        let line = format!(
            "custodian {i}: {}",
            out.join(format!("share-{i}-of-3.txt")).display()
        );
        assert!(r.stdout.contains(&line), "{line}\n{}", r.stdout);
    }
    assert!(r.stdout.contains("Fewer than 2 shares can never open"));
    assert!(r.stdout.contains("slots:    2"));
}

#[test]
fn bad_shares_are_refused_with_reasons() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, shares) = init_store(&tmp.path().join("a"), 2, 3);
    let (other, other_shares) = init_store(&tmp.path().join("b"), 2, 3);

    status(&store, &[&shares[0], &shares[0]]).fails_with(&["duplicate", "share 1"]);
    status(&store, &[&shares[0], &other_shares[1]]).fails_with(&["different store"]);

    let corrupt = tmp.path().join("corrupt.txt");
    let text = std::fs::read_to_string(&shares[1]).unwrap();
    let edited: String = text
        .lines()
        .map(|l| match l.strip_prefix("value: ") {
            Some(v) => {
                let first = if v.starts_with('0') { '1' } else { '0' };
                format!("value: {first}{}\n", &v[1..])
            }
            None => format!("{l}\n"),
        })
        .collect();
    assert_ne!(edited, text);
    std::fs::write(&corrupt, edited).unwrap();
    status(&store, &[&shares[0], &corrupt]).fails_with(&["check digits", "mistyped"]);

    let malformed = tmp.path().join("malformed.txt");
    std::fs::write(&malformed, "not a share\n").unwrap();
    status(&store, &[&malformed]).fails_with(&["malformed share"]);
    status(&store, &[&tmp.path().join("missing.txt")]).fails_with(&["cannot read share"]);

    // share verify: genuine, foreign, corrupt, malformed.
    let verify = |st: &Path, f: &Path| custos(["share", "verify", "--store", &s(st), &s(f)]);
    let good = verify(&store, &shares[2]);
    good.ok();
    assert!(
        good.stdout.starts_with("genuine share 3 of 3 for store "),
        "{}",
        good.stdout
    );
    verify(&other, &other_shares[0]).ok();
    verify(&store, &other_shares[0]).fails_with(&["not a genuine share", "different store"]);
    verify(&store, &corrupt).fails_with(&["check digits"]);
    verify(&store, &malformed).fails_with(&["malformed"]);
    verify(&tmp.path().join("nowhere"), &shares[0]).fails_with(&["no Custos store"]);

    // A well-formed share with a correct checksum but a made-up value: refused by the
    // store's commitment, both when unsealing and when verifying.
    let real = provision::read_share_file(&shares[1]).unwrap();
    let forged = custos_pkcs11::vault::Share::new(
        *real.store_id(),
        real.index(),
        real.threshold(),
        real.total(),
        zeroize::Zeroizing::new([0x5a; 32]),
    )
    .unwrap();
    let forged_path = tmp.path().join("forged.txt");
    provision::write_share_file(&forged_path, &forged).unwrap();
    status(&store, &[&shares[0], &forged_path]).fails_with(&["share 2 does not match"]);
    verify(&store, &forged_path).fails_with(&["not a genuine share", "share 2 does not match"]);

    // Nothing above changed the store: two good shares still open it.
    status(&store, &[&shares[2], &shares[1]]).ok();
}

#[test]
fn init_refuses_existing_store_and_bad_quorums() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, _) = init_store(tmp.path(), 2, 3);
    let again = tmp.path().join("again");
    custos([
        "init",
        "--store",
        &s(&store),
        "--shares",
        "3",
        "--threshold",
        "2",
        "--out",
        &s(&again),
    ])
    .fails_with(&["already exists"]);
    assert!(!again.exists(), "shares directory made for a refused init");
    custos(["init", "--store", &s(&store), "--dev"]).fails_with(&["already exists"]);

    for (m, n) in [
        ("4", "3"),
        ("0", "3"),
        ("2", "0"),
        ("2", "256"),
        ("300", "300"),
    ] {
        let st = tmp.path().join(format!("bad-{m}-{n}"));
        let out = tmp.path().join(format!("bad-out-{m}-{n}"));
        custos([
            "init",
            "--store",
            &s(&st),
            "--shares",
            n,
            "--threshold",
            m,
            "--out",
            &s(&out),
        ])
        .fails_with(&["invalid quorum"]);
        assert!(!st.exists(), "store directory made for {m} of {n}");
        assert!(!out.exists(), "shares directory made for {m} of {n}");
        no_store_left(&st);
    }

    // Existing share files are never overwritten, and then no store is made.
    let out = tmp.path().join("taken");
    std::fs::create_dir(&out).unwrap();
    std::fs::write(out.join("share-2-of-2.txt"), "keep me").unwrap();
    let st = tmp.path().join("st2");
    custos([
        "init",
        "--store",
        &s(&st),
        "--shares",
        "2",
        "--threshold",
        "1",
        "--out",
        &s(&out),
    ])
    .fails_with(&["already exists", "share-2-of-2.txt"]);
    no_store_left(&st);
    assert_eq!(
        std::fs::read_to_string(out.join("share-2-of-2.txt")).unwrap(),
        "keep me"
    );

    // Usage errors stay clap's (exit 2).
    let r = custos(["init", "--store", &s(&st), "--dev", "--shares", "3"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    let r = custos(["init", "--store", &s(&st), "--shares", "3"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    no_store_left(&st);
}

#[test]
fn init_removes_the_store_when_shares_cannot_be_written() {
    let tmp = tempfile::tempdir().unwrap();
    // A shares directory whose own path is valid but whose share paths exceed PATH_MAX
    // (4096 on Linux): creating the first share file fails after the store was made, for
    // every user including root.
    let mut out = tmp.path().to_path_buf();
    while out.as_os_str().len() < 4090 {
        let room = 4090 - out.as_os_str().len();
        out.push("d".repeat(room.clamp(1, 200)));
    }
    std::fs::create_dir_all(&out).unwrap();
    assert!(out.as_os_str().len() + "/share-1-of-2.txt".len() > 4096);
    let st = tmp.path().join("st");
    let r = custos([
        "init",
        "--store",
        &s(&st),
        "--shares",
        "2",
        "--threshold",
        "2",
        "--out",
        &s(&out),
    ]);
    r.fails_with(&["cannot create", "was removed", "Nothing was created"]);
    no_store_left(&st);
    assert!(!st.exists(), "empty store directory left behind");
    assert_eq!(std::fs::read_dir(&out).unwrap().count(), 0);
}

#[test]
fn dev_store_tokens_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("dev");
    let st = s(&store);
    let r = custos(["init", "--store", &st, "--dev", "--slots", "3"]);
    r.ok();
    assert!(r.stderr.contains("WARNING"), "{}", r.stderr);
    assert!(r.stderr.contains("dev-share.txt"), "{}", r.stderr);
    assert!(store.join("dev-share.txt").exists());

    let init = |slot: &str, label: &str, so: &str| {
        custos([
            "token", "init", "--store", &st, "--slot", slot, "--label", label, "--so-pin", so,
            "--pin", USER_PIN,
        ])
    };
    let r = init("0", "ci token", SO_PIN);
    r.ok();
    assert!(
        r.stdout
            .contains("token in slot 0 initialised, label ci token"),
        "{}",
        r.stdout
    );

    let list = custos(["token", "list", "--store", &st]);
    list.ok();
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", list.stdout);
    assert!(lines[0].starts_with("slot 0: initialised, label \"ci token\", 0 objects"));
    assert!(
        lines[0].contains("user PIN: set, ok; SO PIN: ok"),
        "{}",
        lines[0]
    );
    assert_eq!(lines[1], "slot 1: (not initialised)");

    let stat = custos(["status", "--store", &st]);
    stat.ok();
    assert!(stat.stdout.contains("quorum:   1 of 1"), "{}", stat.stdout);
    assert!(
        stat.stdout.contains("state:    unsealed"),
        "{}",
        stat.stdout
    );
    assert!(
        stat.stdout.contains("tokens:   1 initialised of 3 slots"),
        "{}",
        stat.stdout
    );

    // Re-initialising needs the current SO PIN.
    init("0", "other", "wrong-so-pin").fails_with(&["wrong SO PIN"]);
    let after_wrong = custos(["token", "list", "--store", &st]);
    assert!(
        after_wrong.stdout.contains("SO PIN: count low"),
        "{}",
        after_wrong.stdout
    );
    init("0", "renamed", SO_PIN).ok();
    let list = custos(["token", "list", "--store", &st]);
    let lines: Vec<&str> = list.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{}", list.stdout);
    assert!(
        lines[0].starts_with("slot 0: initialised, label \"renamed\""),
        "{}",
        list.stdout
    );
    assert!(lines[0].contains("SO PIN: ok"), "{}", lines[0]);
    assert_eq!(lines[1], "slot 1: (not initialised)");

    // PINs from the environment; flags win over it.
    let r = custos_env(
        [
            "token", "init", "--store", &st, "--slot", "2", "--label", "env",
        ],
        &[("CUSTOS_SO_PIN", SO_PIN), ("CUSTOS_PIN", USER_PIN)],
    );
    r.ok();
    let r = custos_env(
        [
            "token", "init", "--store", &st, "--slot", "2", "--label", "env2", "--so-pin", SO_PIN,
        ],
        &[("CUSTOS_SO_PIN", "not-the-pin"), ("CUSTOS_PIN", USER_PIN)],
    );
    r.ok();

    // Clear errors for bad input.
    init("3", "x", SO_PIN).fails_with(&["no slot 3", "3 slots (0..2)"]);
    init("1", &"x".repeat(33), SO_PIN).fails_with(&["33 bytes", "at most 32"]);
    init("1", "x", "123").fails_with(&["SO PIN", "4 to 255"]);
    custos([
        "token", "init", "--store", &st, "--slot", "1", "--label", "x", "--pin", USER_PIN,
    ])
    .fails_with(&["no SO PIN", "CUSTOS_SO_PIN"]);
    custos([
        "token", "init", "--store", &st, "--slot", "1", "--label", "x", "--so-pin", SO_PIN,
    ])
    .fails_with(&["no user PIN", "CUSTOS_PIN"]);
    let r = custos([
        "token", "init", "--store", &st, "--slot", "-1", "--label", "x",
    ]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    custos(["token", "list", "--store", &s(&tmp.path().join("none"))])
        .fails_with(&["no Custos store"]);

    // The dev share also works as an explicit --share.
    let r = status(&store, &[&store.join("dev-share.txt")]);
    r.ok();
    assert!(
        r.stdout.contains("tokens:   2 initialised of 3 slots"),
        "{}",
        r.stdout
    );
}

#[test]
fn shares_from_a_configuration_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, shares) = init_store(tmp.path(), 2, 3);
    let conf = tmp.path().join("custos.toml");
    std::fs::write(
        &conf,
        format!(
            "store = \"{}\"\nshares = [\"{}\", \"{}\"]\n",
            s(&store),
            s(&shares[0]),
            s(&shares[1])
        ),
    )
    .unwrap();
    let conf_s = s(&conf);
    let st = s(&store);
    let env = [("CUSTOS_CONF", conf_s.as_str())];
    let r = custos_env(["status", "--store", &st], &env);
    r.ok();
    assert!(r.stdout.contains("state:    unsealed"), "{}", r.stdout);
    custos_env(
        [
            "token", "init", "--store", &st, "--slot", "1", "--label", "conf", "--so-pin", SO_PIN,
            "--pin", USER_PIN,
        ],
        &env,
    )
    .ok();
    let r = custos_env(["token", "list", "--store", &st], &env);
    r.ok();
    assert!(
        r.stdout.contains("slot 1: initialised, label \"conf\""),
        "{}",
        r.stdout
    );

    // A configuration with one share leaves the store sealed, and says why.
    std::fs::write(
        &conf,
        format!(
            "store = \"{}\"\nshares = [\"{}\"]\n",
            s(&store),
            s(&shares[2])
        ),
    )
    .unwrap();
    let r = custos_env(["status", "--store", &st], &env);
    r.ok();
    assert!(r.stdout.contains("state:    sealed"), "{}", r.stdout);
    custos_env(["token", "list", "--store", &st], &env)
        .fails_with(&["store is sealed: need 2 of 3 shares"]);
    let bad = tmp.path().join("bad.toml");
    std::fs::write(&bad, "stroe = 1\n").unwrap();
    custos_env(["status", "--store", &st], &[("CUSTOS_CONF", &s(&bad))])
        .fails_with(&["invalid configuration"]);
}
