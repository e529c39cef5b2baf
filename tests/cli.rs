//! The `custos` administration tool, run as a real process.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use custos_pkcs11::engine::provision;

mod common;

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
    assert!(r.stdout.contains("protection: none"), "{}", r.stdout);
    assert!(std::fs::read_to_string(out.join("share-1-of-3.txt"))
        .unwrap()
        .starts_with("CUSTOS SHARE v1\n"));
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

// ----- passphrase-protected shares and the unseal ceremony ----------------------------------
//
// Every run above and below has its standard input on /dev/null (`Command::output`), so a
// command that waited for input would see end of input at once instead of hanging.

/// Fast Argon2id parameters, allowed only with the explicit test option.
const WEAK_ARGON2: [&str; 3] = ["--argon2", "m=64,t=1,p=1", "--insecure-weak-argon2"];

/// Custodian `i`'s passphrase in these tests.
fn passphrase(i: usize) -> String {
    format!("passphrase of custodian {i}")
}

/// Writes a passphrase file (mode 0600), one line per entry.
fn passphrase_file(dir: &Path, name: &str, lines: &[String]) -> PathBuf {
    let p = dir.join(name);
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(&p, text).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

/// Creates an M-of-N store in `root/store` whose shares (in `root/shares`) are protected with
/// [`passphrase`]; returns the store, the share files and the passphrase file used (line i
/// for custodian i).
fn init_protected(root: &Path, m: usize, n: usize) -> (PathBuf, Vec<PathBuf>, PathBuf) {
    std::fs::create_dir_all(root).unwrap();
    let store = root.join("store");
    let out = root.join("shares");
    let lines: Vec<String> = (1..=n).map(passphrase).collect();
    let pf = passphrase_file(root, "passphrases.txt", &lines);
    let mut args = vec![
        "init".to_string(),
        "--store".into(),
        s(&store),
        "--shares".into(),
        n.to_string(),
        "--threshold".into(),
        m.to_string(),
        "--out".into(),
        s(&out),
        "--passphrase-file".into(),
        s(&pf),
    ];
    args.extend(WEAK_ARGON2.iter().map(|a| a.to_string()));
    let r = custos(&args);
    r.ok();
    assert!(
        r.stdout.contains("Argon2id m=64,t=1,p=1, AES-256-GCM"),
        "{}",
        r.stdout
    );
    let shares = (1..=n)
        .map(|i| out.join(format!("share-{i}-of-{n}.txt")))
        .collect();
    (store, shares, pf)
}

/// Runs `custos` with `input` on its standard input.
fn custos_input(args: &[String], input: &[u8]) -> Run {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(args)
        .env_remove("CUSTOS_CONF")
        .env_remove("CUSTOS_STORE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run the custos binary");
    let mut stdin = child.stdin.take().expect("a stdin pipe");
    stdin.write_all(input).expect("write to custos's stdin");
    drop(stdin);
    let Output {
        status,
        stdout,
        stderr,
    } = child.wait_with_output().expect("wait for custos");
    Run {
        code: status.code(),
        stdout: String::from_utf8_lossy(&stdout).into_owned(),
        stderr: String::from_utf8_lossy(&stderr).into_owned(),
    }
}

/// Every file under a store directory with its bytes.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    common::files_under(dir)
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// `custos unseal --store STORE [--passphrase-file PF] FILE...`.
fn unseal(store: &Path, files: &[&PathBuf], pf: Option<&Path>) -> Run {
    let mut args = vec!["unseal".to_string(), "--store".into(), s(store)];
    if let Some(pf) = pf {
        args.push("--passphrase-file".into());
        args.push(s(pf));
    }
    args.extend(files.iter().map(|p| s(p)));
    custos(&args)
}

/// `custos share verify --store STORE [--passphrase-file PF] FILE`.
fn verify_share(store: &Path, file: &Path, pf: Option<&Path>) -> Run {
    let mut args = vec![
        "share".to_string(),
        "verify".into(),
        "--store".into(),
        s(store),
    ];
    if let Some(pf) = pf {
        args.push("--passphrase-file".into());
        args.push(s(pf));
    }
    args.push(s(file));
    custos(&args)
}

/// The text with the first hex digit of the `name:` line's value changed.
fn flip_first_digit(text: &str, name: &str) -> String {
    let prefix = format!("{name}: ");
    let out: String = text
        .lines()
        .map(|l| match l.strip_prefix(&prefix) {
            Some(v) => {
                let first = if v.starts_with('0') { '1' } else { '0' };
                format!("{prefix}{first}{}\n", &v[1..])
            }
            None => format!("{l}\n"),
        })
        .collect();
    assert_ne!(out, text, "no {name} line");
    out
}

#[test]
fn init_protects_shares_with_passphrases_from_a_file() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, shares, _) = init_protected(tmp.path(), 2, 3);
    let status_out = custos(["status", "--store", &s(&store)]);
    status_out.ok();
    let id_line = status_out
        .stdout
        .lines()
        .find_map(|l| l.strip_prefix("store id: "))
        .expect("a store id line")
        .to_string();
    for (i, p) in shares.iter().enumerate() {
        let n = i + 1;
        let mode = std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", p.display());
        let text = std::fs::read_to_string(p).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[0], "CUSTOS PROTECTED SHARE v1", "{text}");
        assert_eq!(lines[1], format!("store: {id_line}"), "{text}");
        assert_eq!(lines[2], format!("share: {n} of 3 (threshold 2)"), "{text}");
        assert_eq!(lines[3], "kdf: argon2id m=64 t=1 p=1", "{text}");
        assert!(
            lines[4].starts_with("salt: ") && lines[4].len() == 6 + 32,
            "{text}"
        );
        assert!(
            lines[5].starts_with("nonce: ") && lines[5].len() == 7 + 24,
            "{text}"
        );
        assert!(lines[6].starts_with("ciphertext: ") && lines[6].len() == 12 + 96);
        assert!(!text.contains("value:"), "{text}");

        // The plain reader (the module's) refuses it, naming the reason; the full reader
        // opens it with the right passphrase only.
        let e = provision::read_share_file(p).unwrap_err().to_string();
        assert!(e.contains("passphrase-protected"), "{e}");
        let custos_pkcs11::vault::ShareFile::Protected(locked) =
            provision::read_any_share_file(p).unwrap()
        else {
            panic!("{} is not protected", p.display());
        };
        assert_eq!(usize::from(locked.index()), n);
        assert!(locked.params().is_weak());
        let share = locked.unlock(passphrase(n).as_bytes()).unwrap();
        assert_eq!((usize::from(share.index()), share.threshold()), (n, 2));
        assert!(locked.unlock(passphrase(n + 1).as_bytes()).is_err());
    }

    // Passphrases from standard input, one line per custodian.
    let store2 = tmp.path().join("store2");
    let out2 = tmp.path().join("shares2");
    let mut args: Vec<String> = [
        "init",
        "--store",
        &s(&store2),
        "--shares",
        "2",
        "--threshold",
        "1",
        "--out",
        &s(&out2),
        "--passphrase-stdin",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.extend(WEAK_ARGON2.iter().map(|a| a.to_string()));
    let r = custos_input(&args, b"first passphrase\r\nsecond passphrase\n");
    r.ok();
    assert!(
        r.stdout.contains("custodian 2: ") && r.stdout.contains("(passphrase-protected)"),
        "{}",
        r.stdout
    );
    let second = out2.join("share-2-of-2.txt");
    let good = passphrase_file(tmp.path(), "second.txt", &["second passphrase".into()]);
    verify_share(&store2, &second, Some(&good)).ok();

    // Two custodians with one passphrase: allowed, with a warning.
    let mut args: Vec<String> = [
        "init",
        "--store",
        &s(&tmp.path().join("store3")),
        "--shares",
        "3",
        "--threshold",
        "2",
        "--out",
        &s(&tmp.path().join("shares3")),
        "--passphrase-stdin",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.extend(WEAK_ARGON2.iter().map(|a| a.to_string()));
    let r = custos_input(
        &args,
        b"same passphrase\nother passphrase\nsame passphrase\n",
    );
    r.ok();
    assert!(
        r.stderr
            .contains("custodians 1 and 3 have the same passphrase"),
        "{}",
        r.stderr
    );
}

#[test]
fn init_refuses_bad_protection_settings_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let st = tmp.path().join("st");
    let out = tmp.path().join("out");
    let base = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "init",
            "--store",
            &s(&st),
            "--shares",
            "3",
            "--threshold",
            "2",
            "--out",
            &s(&out),
        ]
        .iter()
        .map(|a| a.to_string())
        .collect();
        v.extend(extra.iter().map(|a| a.to_string()));
        v
    };
    let two = passphrase_file(tmp.path(), "two.txt", &[passphrase(1), passphrase(2)]);
    let short = passphrase_file(
        tmp.path(),
        "short.txt",
        &[passphrase(1), "1234567".into(), passphrase(3)],
    );
    let three = passphrase_file(
        tmp.path(),
        "three.txt",
        &[passphrase(1), passphrase(2), passphrase(3)],
    );
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            base(&["--passphrase-file", &s(&two)]),
            vec!["has 2 lines", "3 custodians", "Nothing was created"],
        ),
        (
            base(&["--passphrase-file", &s(&short)]),
            vec!["line 2 (custodian 2)", "at least 8"],
        ),
        // No terminal (stdin is /dev/null) and no passphrase source.
        (
            base(&["--protect"]),
            vec!["not a terminal", "--passphrase-file"],
        ),
        // Weak parameters need the explicit test option.
        (
            base(&["--passphrase-file", &s(&three), "--argon2", "m=64,t=1,p=1"]),
            vec!["--argon2", "below the minimum", "--insecure-weak-argon2"],
        ),
        (
            base(&[
                "--passphrase-file",
                &s(&three),
                "--argon2",
                "m=65536,t=1,p=1",
            ]),
            vec!["t=1 passes is below the minimum of 2"],
        ),
        (
            base(&["--passphrase-file", &s(&three), "--argon2", "lots"]),
            vec!["--argon2", "m=<KiB>,t=<passes>,p=<lanes>"],
        ),
        (
            base(&["--argon2", "m=65536,t=3,p=1"]),
            vec!["--argon2 applies to protected shares"],
        ),
    ];
    for (args, needles) in cases {
        custos(&args).fails_with(&needles);
        no_store_left(&st);
        assert!(!out.exists(), "shares directory made for {args:?}");
    }
    // Empty standard input: no passphrases at all.
    custos_input(&base(&["--passphrase-stdin"]), b"").fails_with(&["standard input has 0 lines"]);
    no_store_left(&st);
    // The test option without --argon2 is a usage error.
    let r = custos(base(&[
        "--passphrase-file",
        &s(&three),
        "--insecure-weak-argon2",
    ]));
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    // --dev cannot be protected.
    let r = custos(["init", "--store", &s(&st), "--dev", "--protect"]);
    assert_eq!(r.code, Some(2), "{}", r.stderr);
    no_store_left(&st);
}

#[test]
fn share_verify_checks_protected_shares_without_unsealing() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, shares, _) = init_protected(&tmp.path().join("a"), 2, 3);
    let (other, other_shares, _) = init_protected(&tmp.path().join("b"), 2, 3);
    let before = snapshot(&store);
    let pass = |i: usize| passphrase_file(tmp.path(), &format!("p{i}.txt"), &[passphrase(i)]);

    let good = verify_share(&store, &shares[1], Some(&pass(2)));
    good.ok();
    assert!(
        good.stdout.starts_with("genuine share 2 of 3 for store "),
        "{}",
        good.stdout
    );
    assert!(
        good.stdout
            .contains("passphrase-protected: Argon2id m=64,t=1,p=1, AES-256-GCM"),
        "{}",
        good.stdout
    );
    assert!(
        good.stderr.contains("below the minimums"),
        "{}",
        good.stderr
    );
    verify_share(&other, &other_shares[0], Some(&pass(1))).ok();

    // The passphrase may also come on standard input.
    let args: Vec<String> = [
        "share",
        "verify",
        "--store",
        &s(&store),
        "--passphrase-stdin",
        &s(&shares[2]),
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    custos_input(&args, passphrase(3).as_bytes()).ok();
    custos_input(&args, b"not the passphrase\n")
        .fails_with(&["wrong passphrase or damaged share file"]);

    // Wrong passphrase.
    verify_share(&store, &shares[1], Some(&pass(1)))
        .fails_with(&["share-2-of-3.txt", "wrong passphrase or damaged share file"]);
    // A foreign share is refused before any passphrase is asked: no source given at all.
    verify_share(&store, &other_shares[1], None)
        .fails_with(&["not a genuine share", "different store"]);
    // A protected share with no terminal and no passphrase source: a clear error, no hang.
    verify_share(&store, &shares[0], None).fails_with(&[
        "passphrase-protected",
        "not a terminal",
        "--passphrase-file",
    ]);
    let empty = passphrase_file(tmp.path(), "empty.txt", &[]);
    std::fs::write(&empty, "").unwrap();
    verify_share(&store, &shares[0], Some(&empty)).fails_with(&["has no line 1"]);

    // Tampering with any field of the file: refused, as the AEAD cannot tell it from a wrong
    // passphrase.
    let text = std::fs::read_to_string(&shares[1]).unwrap();
    let tampered = [
        ("salt", flip_first_digit(&text, "salt")),
        ("nonce", flip_first_digit(&text, "nonce")),
        ("ciphertext", flip_first_digit(&text, "ciphertext")),
        (
            "index",
            text.replace("share: 2 of 3 (threshold 2)", "share: 1 of 3 (threshold 2)"),
        ),
        (
            "kdf",
            text.replace("kdf: argon2id m=64 t=1 p=1", "kdf: argon2id m=128 t=1 p=1"),
        ),
    ];
    for (what, t) in tampered {
        assert_ne!(t, text, "{what}");
        let f = tmp.path().join(format!("tampered-{what}.txt"));
        std::fs::write(&f, t).unwrap();
        verify_share(&store, &f, Some(&pass(2)))
            .fails_with(&["wrong passphrase or damaged share file"]);
    }
    // A store id edited to another store's is refused as foreign.
    let other_id = std::fs::read_to_string(&other_shares[0]).unwrap();
    let other_id = other_id.lines().nth(1).unwrap();
    let moved = tmp.path().join("moved.txt");
    let own_id = text.lines().nth(1).unwrap();
    std::fs::write(&moved, text.replace(own_id, other_id)).unwrap();
    verify_share(&store, &moved, Some(&pass(2))).fails_with(&["different store"]);
    // A share claiming an index the store does not have.
    let far = tmp.path().join("far.txt");
    std::fs::write(
        &far,
        text.replace("share: 2 of 3 (threshold 2)", "share: 3 of 3 (threshold 3)"),
    )
    .unwrap();
    verify_share(&store, &far, Some(&pass(2))).fails_with(&["3-of-3", "2-of-3"]);
    // A plain share whose value belongs to another index (its check digits recomputed).
    let real = provision::read_any_share_file(&shares[0]).unwrap();
    let custos_pkcs11::vault::ShareFile::Protected(real) = real else {
        panic!("expected a protected share");
    };
    let real = real.unlock(passphrase(1).as_bytes()).unwrap();
    let text1 = real.to_text();
    let renumbered = custos_pkcs11::vault::Share::parse(&text1).unwrap();
    let wrong_index = tmp.path().join("wrong-index.txt");
    // Share 1's value presented as share 3: a well-formed share that the store's commitment
    // for index 3 refuses.
    let as_three = custos_pkcs11::vault::Share::new(
        *renumbered.store_id(),
        3,
        renumbered.threshold(),
        renumbered.total(),
        zeroize::Zeroizing::new(share_value(&text1)),
    )
    .unwrap();
    provision::write_share_file(&wrong_index, &as_three).unwrap();
    verify_share(&store, &wrong_index, None)
        .fails_with(&["not a genuine share", "share 3 does not match"]);

    assert_eq!(snapshot(&store), before, "share verify changed the store");
}

/// The 32-byte value of a plain share text.
fn share_value(text: &str) -> [u8; 32] {
    let hex = text
        .lines()
        .find_map(|l| l.strip_prefix("value: "))
        .expect("a value line");
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap();
    }
    out
}

#[test]
fn unseal_ceremony_with_files() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, shares, _) = init_protected(&tmp.path().join("a"), 2, 3);
    let (_, other_shares, _) = init_protected(&tmp.path().join("b"), 2, 3);
    let mut before = snapshot(&store);
    assert!(!before.is_empty());
    let unchanged =
        |before: &_, what: &str| assert_eq!(&snapshot(&store), before, "{what} changed the store");
    let pf = |name: &str, ids: &[usize]| {
        let lines: Vec<String> = ids.iter().map(|&i| passphrase(i)).collect();
        passphrase_file(tmp.path(), name, &lines)
    };

    // 2 of 3: shares 3 then 1, passphrases in the same order.
    let r = unseal(
        &store,
        &[&shares[2], &shares[0]],
        Some(&pf("31.txt", &[3, 1])),
    );
    r.ok();
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(
        lines[0].starts_with("unseal ceremony for store ")
            && lines[0].ends_with(": 2 of 3 shares needed"),
        "{}",
        r.stdout
    );
    assert_eq!(lines[1], "share 3 accepted (have 1 of 2 needed)");
    assert_eq!(
        lines[2],
        "share 1 accepted (have 2 of 2 needed: quorum reached)"
    );
    assert_eq!(
        lines[3],
        "master key rebuilt from shares 3, 1; it matches the store's key check value"
    );
    assert!(
        lines[4].starts_with("store opened: 0 tokens, 0 objects and 0 metadata records"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("audit log (1 entry) intact"),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout
            .contains("recorded in the audit log and nothing else was written"),
        "{}",
        r.stdout
    );
    // The only write is the ceremony's audit entry.
    assert_ne!(snapshot(&store), before, "the ceremony was not recorded");

    // Shares beyond the quorum are not read.
    let r = unseal(
        &store,
        &[&shares[0], &shares[1], &shares[2]],
        Some(&pf("123.txt", &[1, 2, 3])),
    );
    r.ok();
    assert!(
        r.stdout
            .contains(&format!("quorum reached; not read: {}", s(&shares[2]))),
        "{}",
        r.stdout
    );
    before = snapshot(&store);

    // One share is not enough.
    let r = unseal(&store, &[&shares[1]], Some(&pf("2.txt", &[2])));
    r.fails_with(&[
        "quorum not reached",
        "have 1 of 2 needed shares",
        "0 refused",
    ]);
    assert!(r.stdout.contains("share 2 accepted (have 1 of 2 needed)"));
    assert!(!r.stdout.contains("store opened"), "{}", r.stdout);
    unchanged(&before, "a one-share ceremony");

    // A duplicate share is refused; with only files, the ceremony ends short of the quorum.
    let r = unseal(
        &store,
        &[&shares[0], &shares[0]],
        Some(&pf("11.txt", &[1, 1])),
    );
    r.fails_with(&["quorum not reached", "have 1 of 2", "1 refused"]);
    assert!(
        r.stdout.contains(&format!(
            "{} refused: share 1 was already accepted (duplicate share)",
            s(&shares[0])
        )),
        "{}",
        r.stdout
    );
    unchanged(&before, "a duplicate-share ceremony");

    // A foreign share is refused (without using its passphrase line).
    let r = unseal(
        &store,
        &[&shares[0], &other_shares[1]],
        Some(&pf("1x.txt", &[1, 2])),
    );
    r.fails_with(&["quorum not reached", "1 refused"]);
    assert!(
        r.stdout
            .contains("refused: this share belongs to a different store"),
        "{}",
        r.stdout
    );
    unchanged(&before, "a foreign-share ceremony");

    // A wrong passphrase is refused.
    let r = unseal(
        &store,
        &[&shares[0], &shares[1]],
        Some(&pf("13.txt", &[1, 3])),
    );
    r.fails_with(&["quorum not reached"]);
    assert!(
        r.stdout.contains(&format!(
            "{} refused: wrong passphrase or damaged share file",
            s(&shares[1])
        )),
        "{}",
        r.stdout
    );
    unchanged(&before, "a wrong-passphrase ceremony");

    // A refusal along the way does not stop a ceremony that still reaches the quorum.
    let missing = tmp.path().join("missing.txt");
    let r = unseal(
        &store,
        &[&shares[1], &missing, &other_shares[0], &shares[2]],
        Some(&pf("2xx3.txt", &[2, 1, 1, 3])),
    );
    r.ok();
    assert!(r.stdout.contains("cannot read share"), "{}", r.stdout);
    assert!(r.stdout.contains("different store"), "{}", r.stdout);
    assert!(r.stdout.contains("master key rebuilt from shares 2, 3"));
    before = snapshot(&store);

    // Too few passphrase lines: a clear error, not a refusal of the share.
    unseal(
        &store,
        &[&shares[0], &shares[1]],
        Some(&pf("only1.txt", &[1])),
    )
    .fails_with(&["has no line 2", "share 2 of 3"]);
    unchanged(&before, "a ceremony short of passphrases");
}

#[test]
fn unseal_never_waits_for_missing_input() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, shares, _) = init_protected(tmp.path(), 2, 3);
    let before = snapshot(&store);
    // No files and no terminal: stdin is /dev/null.
    unseal(&store, &[], None).fails_with(&["no share files given", "not a terminal"]);
    // Protected shares and no passphrase source.
    unseal(&store, &[&shares[0], &shares[1]], None).fails_with(&[
        "passphrase-protected",
        "not a terminal",
        "--passphrase-stdin",
    ]);
    // With stdin closed altogether.
    let out = Command::new("sh")
        .arg("-c")
        .arg("exec \"$0\" \"$@\" <&-")
        .arg(env!("CARGO_BIN_EXE_custos"))
        .args([
            "unseal",
            "--store",
            &s(&store),
            &s(&shares[0]),
            &s(&shares[1]),
        ])
        .env_remove("CUSTOS_CONF")
        .output()
        .expect("run custos under sh (Debian package dash)");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("passphrase-protected"), "{stderr}");
    let args: Vec<String> = vec![
        "unseal".into(),
        "--store".into(),
        s(&store),
        "--passphrase-stdin".into(),
    ];
    custos(&args).fails_with(&["go with share files given as arguments"]);
    // --passphrase-stdin with an empty stdin.
    let mut args = args;
    args.push(s(&shares[0]));
    custos_input(&args, b"").fails_with(&["standard input has no line 1"]);
    assert_eq!(snapshot(&store), before);
}

#[test]
fn fewer_than_the_quorum_open_nothing() {
    // Plain shares, so that the module may be configured with them.
    let fx = common::Fixture::new();
    let root = fx.tmp.path().join("q");
    let (store, shares) = init_store(&root, 2, 3);
    let before = snapshot(&store);
    for (i, one) in shares.iter().enumerate() {
        let r = unseal(&store, &[one], None);
        r.fails_with(&["quorum not reached", "have 1 of 2"]);
        assert!(r.stdout.contains(&format!("share {} accepted", i + 1)));
        status(&store, &[one]).fails_with(&["store is sealed", "need 2 of 3", "(have 1)"]);
        // The module, configured with this one share, reports no token.
        fx.use_conf(
            "one.toml",
            &format!(
                "store = {}\nshares = [{}]\n",
                common::toml_path(&store),
                common::toml_path(one)
            ),
        );
        let m = common::Module::open();
        let slot0 = common::slot(&m, 0);
        assert_eq!(
            common::rv(m.open_ro_session(slot0)),
            cryptoki::error::RvError::TokenNotPresent
        );
        assert_eq!(
            common::rv(m.get_token_info(slot0)),
            cryptoki::error::RvError::TokenNotPresent
        );
        m.finalize().unwrap();
    }
    assert_eq!(
        snapshot(&store),
        before,
        "failed ceremonies changed the store"
    );

    // With two shares the module opens the store; its token and objects are what the
    // ceremony then finds, every record decrypted.
    fx.use_conf(
        "two.toml",
        &format!(
            "store = {}\nshares = [{}, {}]\n",
            common::toml_path(&store),
            common::toml_path(&shares[0]),
            common::toml_path(&shares[2])
        ),
    );
    {
        let m = common::Module::open();
        let slot0 = common::slot(&m, 0);
        common::init_token_with_user(&m, slot0, "ceremony");
        let session = common::user_session(&m, slot0);
        session
            .create_object(&common::data_object("one", true))
            .unwrap();
        session
            .create_object(&common::data_object("two", true))
            .unwrap();
        drop(session);
        m.finalize().unwrap();
    }
    let after_module = snapshot(&store);
    let r = unseal(&store, &[&shares[1], &shares[2]], None);
    r.ok();
    assert!(
        r.stdout
            .contains("store opened: 1 token, 2 objects and 0 metadata records"),
        "{}",
        r.stdout
    );
    // A successful ceremony writes its audit entry and nothing else.
    assert_ne!(
        snapshot(&store),
        after_module,
        "the ceremony was not recorded in the audit log"
    );
}

#[test]
fn the_module_refuses_protected_shares_with_a_clear_reason() {
    let fx = common::Fixture::new();
    let (store, shares, _) = init_protected(&fx.tmp.path().join("p"), 1, 2);
    let toml = format!(
        "store = {}\nshares = [{}]\n",
        common::toml_path(&store),
        common::toml_path(&shares[0])
    );
    let conf = fx.use_conf("protected.toml", &toml);
    let engine =
        custos_pkcs11::engine::Engine::open(custos_pkcs11::config::Config::load(&conf).unwrap())
            .unwrap();
    assert!(!engine.is_unsealed());
    let why = engine.seal_problem().expect("a reason").to_string();
    assert!(why.contains("passphrase-protected"), "{why}");
    assert!(why.contains("cannot ask for a passphrase"), "{why}");
    assert!(why.contains("plain share files"), "{why}");
    drop(engine);
    let m = common::Module::open();
    let slot0 = common::slot(&m, 0);
    assert_eq!(
        common::rv(m.open_ro_session(slot0)),
        cryptoki::error::RvError::TokenNotPresent
    );
    m.finalize().unwrap();
    // The CLI reports the same reason when the configuration is used.
    let r = custos_env(
        ["status", "--store", &s(&store)],
        &[("CUSTOS_CONF", &s(&conf))],
    );
    r.ok();
    assert!(r.stdout.contains("state:    sealed"), "{}", r.stdout);
    assert!(r.stdout.contains("passphrase-protected"), "{}", r.stdout);
    // Given on the command line with its passphrase, the protected share opens the store.
    let pf = passphrase_file(fx.tmp.path(), "p1.txt", &[passphrase(1)]);
    let r = custos([
        "status",
        "--store",
        &s(&store),
        "--share",
        &s(&shares[0]),
        "--passphrase-file",
        &s(&pf),
    ]);
    r.ok();
    assert!(r.stdout.contains("state:    unsealed"), "{}", r.stdout);
}

/// A `custos` process whose standard input is a pseudo-terminal, answered prompt by prompt.
/// Its stdout and stderr are pipes; what the terminal echoes is collected apart.
struct Terminal {
    child: std::process::Child,
    master: std::fs::File,
    stderr_chunks: std::sync::mpsc::Receiver<Vec<u8>>,
    stderr: String,
    /// How much of `stderr` earlier waits have consumed.
    consumed: usize,
    echo: std::thread::JoinHandle<Vec<u8>>,
    stdout: std::thread::JoinHandle<Vec<u8>>,
}

impl Terminal {
    fn spawn(args: &[String]) -> Terminal {
        use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
        use std::io::Read;
        use std::os::unix::ffi::OsStrExt;
        use std::os::unix::fs::OpenOptionsExt;
        let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY)
            .expect("open a pseudo-terminal (/dev/ptmx must exist)");
        grantpt(&master).expect("grantpt");
        unlockpt(&master).expect("unlockpt");
        let name = ptsname(&master, Vec::new()).expect("ptsname");
        let slave = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(std::ffi::OsStr::from_bytes(name.as_bytes()))
            .expect("open the pseudo-terminal's slave side");
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_custos"));
        cmd.args(args)
            .env_remove("CUSTOS_CONF")
            .env_remove("CUSTOS_STORE")
            .stdin(std::process::Stdio::from(slave))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().expect("run the custos binary");
        // Only the child holds the slave side now, so the master sees its end.
        drop(cmd);
        let master = std::fs::File::from(master);
        let mut reader = master.try_clone().expect("clone the master side");
        let echo = std::thread::spawn(move || {
            let mut all = Vec::new();
            let mut chunk = [0u8; 1024];
            while let Ok(n) = reader.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                all.extend_from_slice(&chunk[..n]);
            }
            all
        });
        let mut out = child.stdout.take().expect("a stdout pipe");
        let stdout = std::thread::spawn(move || {
            let mut all = Vec::new();
            let _ = out.read_to_end(&mut all);
            all
        });
        let mut err = child.stderr.take().expect("a stderr pipe");
        let (tx, stderr_chunks) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut chunk = [0u8; 1024];
            while let Ok(n) = err.read(&mut chunk) {
                if n == 0 || tx.send(chunk[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Terminal {
            child,
            master,
            stderr_chunks,
            stderr: String::new(),
            consumed: 0,
            echo,
            stdout,
        }
    }

    /// Waits until stderr shows `prompt` after what was already consumed.
    fn wait_for(&mut self, prompt: &str) {
        loop {
            if let Some(at) = self.stderr[self.consumed..].find(prompt) {
                self.consumed += at + prompt.len();
                return;
            }
            // A guard against a hang, not a measurement: custos answers in well under a second.
            match self
                .stderr_chunks
                .recv_timeout(std::time::Duration::from_secs(120))
            {
                Ok(chunk) => self.stderr.push_str(&String::from_utf8_lossy(&chunk)),
                Err(e) => panic!(
                    "custos never showed {prompt:?} ({e}); stderr so far:\n{}",
                    self.stderr
                ),
            }
        }
    }

    /// Waits for `prompt`, then types `line` and Enter.
    fn answer(&mut self, prompt: &str, line: &str) {
        use std::io::Write;
        self.wait_for(prompt);
        self.master
            .write_all(format!("{line}\n").as_bytes())
            .expect("type on the terminal");
    }

    /// Waits for `prompt`, then ends the input (Ctrl-D).
    fn end_input(&mut self, prompt: &str) {
        use std::io::Write;
        self.wait_for(prompt);
        self.master.write_all(&[4]).expect("type Ctrl-D");
    }

    /// Waits for the process; returns its run and what the terminal echoed.
    fn finish(mut self) -> (Run, String) {
        let status = self.child.wait().expect("wait for custos");
        while let Ok(chunk) = self.stderr_chunks.recv() {
            self.stderr.push_str(&String::from_utf8_lossy(&chunk));
        }
        drop(self.master);
        let stdout = self.stdout.join().expect("the stdout reader");
        let echo = self.echo.join().expect("the terminal reader");
        (
            Run {
                code: status.code(),
                stdout: String::from_utf8_lossy(&stdout).into_owned(),
                stderr: self.stderr,
            },
            String::from_utf8_lossy(&echo).into_owned(),
        )
    }
}

#[test]
fn interactive_ceremony_on_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, shares, _) = init_protected(&tmp.path().join("a"), 2, 3);
    let (_, other_shares, _) = init_protected(&tmp.path().join("b"), 2, 3);
    let before = snapshot(&store);
    let args = vec!["unseal".to_string(), "--store".into(), s(&store)];
    let missing = tmp.path().join("no-such-share.txt");

    let mut t = Terminal::spawn(&args);
    t.answer("(have 0 of 2 needed): ", &s(&missing));
    // A foreign share is refused before its passphrase is asked.
    t.answer("(have 0 of 2 needed): ", &s(&other_shares[0]));
    t.answer("(have 0 of 2 needed): ", &s(&shares[1]));
    t.answer(
        &format!("Passphrase for share 2 of 3 ({}): ", s(&shares[1])),
        &passphrase(3),
    );
    t.answer("(have 0 of 2 needed): ", &s(&shares[1]));
    t.answer("Passphrase for share 2 of 3", &passphrase(2));
    t.answer("(have 1 of 2 needed): ", &s(&shares[1]));
    t.answer("(have 1 of 2 needed): ", &s(&shares[2]));
    t.answer("Passphrase for share 3 of 3", &passphrase(3));
    let (r, echo) = t.finish();
    r.ok();
    let expected = [
        format!("{} refused: cannot read share", s(&missing)),
        format!(
            "{} refused: this share belongs to a different store",
            s(&other_shares[0])
        ),
        format!(
            "{} refused: wrong passphrase or damaged share file",
            s(&shares[1])
        ),
        "share 2 accepted (have 1 of 2 needed)".to_string(),
        format!(
            "{} refused: share 2 was already accepted (duplicate share)",
            s(&shares[1])
        ),
        "share 3 accepted (have 2 of 2 needed: quorum reached)".to_string(),
        "master key rebuilt from shares 2, 3".to_string(),
        "store opened: 0 tokens, 0 objects".to_string(),
    ];
    let mut rest = r.stdout.as_str();
    for e in &expected {
        let at = rest
            .find(e.as_str())
            .unwrap_or_else(|| panic!("{e:?} missing or out of order in:\n{}", r.stdout));
        rest = &rest[at + e.len()..];
    }
    // Only one passphrase was asked for share 2's second entry and none for the duplicate
    // or the foreign share.
    assert_eq!(
        r.stderr.matches("Passphrase for").count(),
        3,
        "{}",
        r.stderr
    );
    // Paths are echoed; passphrases are not.
    assert!(echo.contains(&s(&shares[2])), "{echo}");
    for i in 1..=3 {
        assert!(
            !echo.contains(&passphrase(i)),
            "passphrase {i} echoed: {echo}"
        );
    }
    // The successful ceremony recorded itself in the audit log.
    assert_ne!(snapshot(&store), before);
    let before = snapshot(&store);

    // Abandoned with Ctrl-D after one share: nonzero, nothing opened.
    let mut t = Terminal::spawn(&args);
    t.answer("(have 0 of 2 needed): ", &s(&shares[0]));
    t.answer("Passphrase for share 1 of 3", &passphrase(1));
    t.end_input("(have 1 of 2 needed): ");
    let (r, _) = t.finish();
    r.fails_with(&["quorum not reached", "have 1 of 2"]);
    assert!(!r.stdout.contains("store opened"), "{}", r.stdout);
    assert_eq!(snapshot(&store), before);
}

#[test]
fn init_asks_each_custodian_twice_on_a_terminal() {
    let tmp = tempfile::tempdir().unwrap();
    let store = tmp.path().join("store");
    let out = tmp.path().join("shares");
    let mut args: Vec<String> = [
        "init",
        "--store",
        &s(&store),
        "--shares",
        "2",
        "--threshold",
        "2",
        "--out",
        &s(&out),
        "--protect",
    ]
    .iter()
    .map(|a| a.to_string())
    .collect();
    args.extend(WEAK_ARGON2.iter().map(|a| a.to_string()));
    let mut t = Terminal::spawn(&args);
    t.answer("Passphrase for custodian 1 of 2: ", &passphrase(1));
    t.answer(
        "Repeat the passphrase for custodian 1 of 2: ",
        &passphrase(1),
    );
    t.answer("Passphrase for custodian 2 of 2: ", "short");
    t.wait_for("at least 8; try again");
    t.answer("Passphrase for custodian 2 of 2: ", &passphrase(2));
    t.answer(
        "Repeat the passphrase for custodian 2 of 2: ",
        "a different one",
    );
    t.wait_for("the two entries differ; try again");
    t.answer("Passphrase for custodian 2 of 2: ", &passphrase(2));
    t.answer(
        "Repeat the passphrase for custodian 2 of 2: ",
        &passphrase(2),
    );
    let (r, echo) = t.finish();
    r.ok();
    assert!(r.stdout.contains("(passphrase-protected)"), "{}", r.stdout);
    for i in 1..=2 {
        assert!(
            !echo.contains(&passphrase(i)),
            "passphrase {i} echoed: {echo}"
        );
    }
    assert!(!echo.contains("a different one"), "{echo}");
    let pf = passphrase_file(tmp.path(), "pf.txt", &[passphrase(1), passphrase(2)]);
    unseal(
        &store,
        &[&out.join("share-1-of-2.txt"), &out.join("share-2-of-2.txt")],
        Some(&pf),
    )
    .ok();
}
