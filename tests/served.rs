//! Served mode end to end: `custos serve` runs as a child process of the built binary, and the
//! tests talk to it over its real socket through `RemoteEngine` and the control requests.
//!
//! Waiting for the server to come up or go away polls with a generous deadline that only turns
//! a hang into a failure; no assertion depends on timing.

#![allow(unsafe_code)]

use std::fs;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use cryptoki_sys::*;
use custos_pkcs11::crypto::Curve;
use custos_pkcs11::engine::provision;
use custos_pkcs11::engine::{Error, Out, Produced, SessionHandle};
use custos_pkcs11::mechanism::{Kind, Mechanism};
use custos_pkcs11::object::Attr;
use custos_pkcs11::served::client::{ClientError, Connection, RemoteEngine};
use custos_pkcs11::served::protocol::{self, FrameError};
use custos_pkcs11::served::{LOCK_FILE, SOCKET_FILE};

const SO_PIN: &[u8] = b"so-pin-1234";
const USER_PIN: &[u8] = b"user-pin-5678";
/// How long the server may take to start or stop before a test fails.
const DEADLINE: Duration = Duration::from_secs(60);

/// A `custos serve` child process, killed when dropped.
struct Server {
    child: Option<Child>,
    dir: PathBuf,
    log: PathBuf,
}

impl Server {
    /// Starts `custos serve --store DIR` and waits until its socket answers.
    fn start(dir: &Path, state: &Path) -> Server {
        let log = state.join(format!(
            "serve-{}.log",
            dir.file_name().unwrap().to_string_lossy()
        ));
        let child = serve_command(dir, state)
            .stderr(fs::File::create(&log).expect("create the server log"))
            .spawn()
            .expect("start custos serve");
        let mut s = Server {
            child: Some(child),
            dir: dir.to_path_buf(),
            log,
        };
        s.wait_until_ready();
        s
    }

    fn wait_until_ready(&mut self) {
        let start = Instant::now();
        loop {
            if let Ok(c) = Connection::connect_store(&self.dir) {
                if c.status().is_ok() {
                    return;
                }
            }
            if let Some(st) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("custos serve exited with {st}: {}", self.log_text());
            }
            assert!(
                start.elapsed() < DEADLINE,
                "custos serve did not come up: {}",
                self.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn pid(&self) -> i32 {
        self.child.as_ref().unwrap().id() as i32
    }

    /// Sends a signal and waits for the process to exit.
    fn signal_and_wait(&mut self, sig: i32) -> ExitStatus {
        // SAFETY: kill only reads its two integer arguments; the pid is our own child, which
        // has not been waited for yet, so it cannot have been reused.
        let rc = unsafe { libc::kill(self.pid(), sig) };
        assert_eq!(rc, 0, "kill failed");
        self.child
            .take()
            .unwrap()
            .wait()
            .expect("wait for custos serve")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `custos serve --store DIR`, with its rollback witness kept under `state`.
fn serve_command(dir: &Path, state: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_custos"));
    c.args(["serve", "--store"])
        .arg(dir)
        .env("XDG_STATE_HOME", state)
        .env_remove("CUSTOS_CONF")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    c
}

/// A temporary directory holding a store directory and the server's state.
struct Place {
    _tmp: tempfile::TempDir,
    store: PathBuf,
    state: PathBuf,
}

impl Place {
    fn new() -> Place {
        let tmp = tempfile::tempdir().unwrap();
        let store = tmp.path().join("store");
        let state = tmp.path().join("state");
        fs::create_dir_all(&state).unwrap();
        Place {
            _tmp: tmp,
            store,
            state,
        }
    }
}

/// A 2-of-3 store; returns the three shares' texts.
fn quorum_store(dir: &Path) -> Vec<String> {
    provision::create_store(dir, 2, 3, 2)
        .unwrap()
        .iter()
        .map(|s| s.to_text().to_string())
        .collect()
}

fn label(s: &str) -> [u8; 32] {
    let mut l = [b' '; 32];
    l[..s.len()].copy_from_slice(s.as_bytes());
    l
}

fn rw() -> CK_FLAGS {
    CKF_SERIAL_SESSION | CKF_RW_SESSION
}

/// Initialises slot 0's token and its user PIN through the server.
fn init_token(e: &RemoteEngine) {
    e.init_token(0, SO_PIN, label("served")).unwrap();
    let h = e.open_session(0, rw()).unwrap();
    e.login(h, CKU_SO, SO_PIN).unwrap();
    e.init_pin(h, USER_PIN).unwrap();
    e.close_session(h).unwrap();
}

fn data(p: Produced) -> Vec<u8> {
    match p {
        Produced::Data(v) => v,
        Produced::Needed(n) => panic!("needed {n} bytes"),
    }
}

/// Generates a P-256 key pair in a user session, signs with ECDSA-SHA256 (asking for the length
/// first) and verifies the signature; returns the signature's length.
fn ec_sign_and_verify(e: &RemoteEngine, h: SessionHandle) -> usize {
    let mech = Mechanism {
        ty: CKM_EC_KEY_PAIR_GEN,
        kind: Kind::EcKeyPairGen,
    };
    let (public, private) = e
        .generate_key_pair(
            h,
            &mech,
            &[
                Attr::bytes(CKA_EC_PARAMS, Curve::P256.oid_der().to_vec()),
                Attr::bool(CKA_TOKEN, true),
                Attr::bool(CKA_VERIFY, true),
            ],
            &[
                Attr::bool(CKA_TOKEN, true),
                Attr::bool(CKA_SIGN, true),
                Attr::bool(CKA_SENSITIVE, true),
            ],
        )
        .unwrap();
    let ecdsa = Mechanism::simple(CKM_ECDSA_SHA256).unwrap();
    let msg = b"served mode signs this";
    e.sign_init(h, &ecdsa, private).unwrap();
    let needed = match e.sign(h, msg, Out::Query).unwrap() {
        Produced::Needed(n) => n,
        Produced::Data(_) => panic!("a length query returned data"),
    };
    let sig = data(e.sign(h, msg, Out::Capacity(needed)).unwrap());
    assert_eq!(sig.len(), 64, "P-256 ECDSA signature length");
    e.verify_init(h, &ecdsa, public).unwrap();
    e.verify(h, msg, &sig).unwrap();
    // A changed message does not verify.
    e.verify_init(h, &ecdsa, public).unwrap();
    assert_eq!(
        e.verify(h, b"another message", &sig),
        Err(Error::SignatureInvalid)
    );
    sig.len()
}

fn refused(r: Result<impl std::fmt::Debug, ClientError>) -> String {
    match r {
        Err(ClientError::Refused(why)) => why,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn ceremony_is_observed_by_an_already_connected_client() {
    let p = Place::new();
    let shares = quorum_store(&p.store);
    let other = Place::new();
    let foreign = quorum_store(&other.store);
    let server = Server::start(&p.store, &p.state);

    // Mode 0600 socket beside the store.
    let mode = fs::metadata(p.store.join(SOCKET_FILE))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600, "socket mode {mode:o}");

    // The client connects while the server is sealed: no token anywhere.
    let app = RemoteEngine::connect_store(&p.store).unwrap();
    assert_eq!(app.slot_list(true).unwrap(), Vec::<u64>::new());
    assert_eq!(app.slot_list(false).unwrap(), vec![0, 1]);
    assert!(!app.slot_info(0).unwrap().token_present);
    assert_eq!(app.open_session(0, rw()), Err(Error::TokenNotPresent));

    let custodian = Connection::connect_store(&p.store).unwrap();
    let st = custodian.status().unwrap();
    assert!(!st.unsealed);
    assert_eq!((st.shares_have, st.shares_need, st.shares_total), (0, 2, 3));
    assert_eq!(st.clients, 2);

    // First share: 1 of 2.
    let prog = custodian.unseal(&shares[0]).unwrap();
    assert_eq!((prog.have, prog.need, prog.unsealed), (1, 2, false));
    let st = custodian.status().unwrap();
    assert_eq!((st.unsealed, st.shares_have, st.shares_need), (false, 1, 2));
    assert!(st.to_string().starts_with("sealed (1 of 2 shares)"), "{st}");
    // Refused shares change nothing: a duplicate, a foreign share, and garbage.
    assert!(refused(custodian.unseal(&shares[0])).contains("duplicate"));
    assert!(refused(custodian.unseal(&foreign[1])).contains("foreign"));
    assert!(!refused(custodian.unseal("not a share")).is_empty());
    assert_eq!(custodian.status().unwrap().shares_have, 1);
    // Still sealed for the application.
    assert_eq!(app.slot_list(true).unwrap(), Vec::<u64>::new());

    // Second share: unsealed.
    let prog = custodian.unseal(&shares[2]).unwrap();
    assert_eq!((prog.have, prog.need, prog.unsealed), (2, 2, true));
    let st = custodian.status().unwrap();
    assert!(st.unsealed);
    assert!(st.to_string().starts_with("unsealed"), "{st}");
    assert!(refused(custodian.unseal(&shares[1])).contains("already unsealed"));

    // The same connection now sees the tokens and works.
    assert_eq!(app.slot_list(true).unwrap(), vec![0, 1]);
    assert!(app.slot_info(0).unwrap().token_present);
    init_token(&app);
    let h = app.open_session(0, rw()).unwrap();
    app.login(h, CKU_USER, USER_PIN).unwrap();
    assert_eq!(app.session_info(h).unwrap().state, CKS_RW_USER_FUNCTIONS);
    assert_eq!(ec_sign_and_verify(&app, h), 64);
    let log = server.log_text();
    for line in [
        "share 1 accepted (1 of 2)",
        "share 3 accepted (2 of 2)",
        "unsealed",
    ] {
        assert!(log.contains(line), "log lacks {line:?}: {log}");
    }
    assert!(
        log.lines().all(|l| l.starts_with("custos serve: ")),
        "{log}"
    );
}

#[test]
fn seal_wipes_the_key_and_ends_sessions_until_the_next_unseal() {
    let p = Place::new();
    let shares = quorum_store(&p.store);
    let share_file = p.state.join("share-2.txt");
    fs::write(&share_file, &shares[1]).unwrap();
    let other = Place::new();
    let foreign = quorum_store(&other.store);
    let foreign_file = p.state.join("foreign.txt");
    fs::write(&foreign_file, &foreign[0]).unwrap();
    let server = Server::start(&p.store, &p.state);

    let c = Connection::connect_store(&p.store).unwrap();
    // Sealing a sealed server is refused.
    assert!(refused(c.seal(&shares[0])).contains("already sealed"));
    c.unseal(&shares[0]).unwrap();
    c.unseal(&shares[1]).unwrap();
    let app = RemoteEngine::connect_store(&p.store).unwrap();
    init_token(&app);
    let h = app.open_session(0, rw()).unwrap();
    app.login(h, CKU_USER, USER_PIN).unwrap();

    // custos seal with a foreign share is refused; the session lives on.
    let out = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["seal", "--store"])
        .arg(&p.store)
        .arg(&foreign_file)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a share of this store"), "{err}");
    assert_eq!(app.session_info(h).unwrap().state, CKS_RW_USER_FUNCTIONS);

    // With a genuine share it seals: the session is gone and the token absent.
    let out = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["seal", "--store"])
        .arg(&p.store)
        .arg(&share_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("sealed"));
    assert!(!c.status().unwrap().unsealed);
    assert_eq!(app.session_info(h), Err(Error::SessionHandleInvalid));
    assert!(!app.slot_info(0).unwrap().token_present);
    assert_eq!(app.open_session(0, rw()), Err(Error::TokenNotPresent));

    // A new ceremony (other shares this time) brings the token back, objects and PINs intact.
    c.unseal(&shares[2]).unwrap();
    assert!(c.unseal(&shares[0]).unwrap().unsealed);
    let h = app.open_session(0, rw()).unwrap();
    app.login(h, CKU_USER, USER_PIN).unwrap();
    assert!(server.log_text().contains("sealed: master key wiped"));
}

#[test]
fn two_clients_have_independent_login_state() {
    let p = Place::new();
    provision::create_dev_store(&p.store, 1).unwrap();
    let server = Server::start(&p.store, &p.state);
    let a = RemoteEngine::connect_store(&p.store).unwrap();
    let b = RemoteEngine::connect_store(&p.store).unwrap();
    // A --dev store unseals itself.
    assert_eq!(a.slot_list(true).unwrap(), vec![0]);
    init_token(&a);

    let ha = a.open_session(0, rw()).unwrap();
    let hb = b.open_session(0, rw()).unwrap();
    a.login(ha, CKU_USER, USER_PIN).unwrap();
    assert_eq!(a.session_info(ha).unwrap().state, CKS_RW_USER_FUNCTIONS);
    // B is another application: A's login does not log it in.
    assert_eq!(b.session_info(hb).unwrap().state, CKS_RW_PUBLIC_SESSION);
    let mech = Mechanism {
        ty: CKM_AES_KEY_GEN,
        kind: Kind::AesKeyGen,
    };
    let private_key = [
        Attr::ulong(CKA_VALUE_LEN, 32),
        Attr::bool(CKA_TOKEN, true),
        Attr::bool(CKA_PRIVATE, true),
        Attr::bool(CKA_SENSITIVE, true),
    ];
    assert_eq!(
        b.generate_key(hb, &mech, &private_key),
        Err(Error::UserNotLoggedIn)
    );
    let key = a.generate_key(ha, &mech, &private_key).unwrap();
    // B sees no private objects until it logs in itself.
    b.find_init(hb, &[Attr::ulong(CKA_CLASS, CKO_SECRET_KEY)])
        .unwrap();
    assert!(b.find(hb, 10).unwrap().is_empty());
    b.find_final(hb).unwrap();
    b.login(hb, CKU_USER, USER_PIN).unwrap();
    b.find_init(hb, &[Attr::ulong(CKA_CLASS, CKO_SECRET_KEY)])
        .unwrap();
    assert_eq!(b.find(hb, 10).unwrap().len(), 1);
    b.find_final(hb).unwrap();
    // B logging out leaves A logged in; A's session handle means nothing to B.
    b.logout(hb).unwrap();
    assert_eq!(b.session_info(hb).unwrap().state, CKS_RW_PUBLIC_SESSION);
    assert_eq!(a.session_info(ha).unwrap().state, CKS_RW_USER_FUNCTIONS);
    assert!(a.object_size(ha, key).is_ok());
    if ha != hb {
        assert_eq!(b.session_info(ha), Err(Error::SessionHandleInvalid));
    }
    // A client that goes away leaves nothing behind: its connection ends on the server, and
    // the other application's login is untouched.
    // (A, B and the watcher; the start-up probe's connection may take a moment to be counted
    // out.)
    let watcher = Connection::connect_store(&p.store).unwrap();
    let wait_for = |n: u64| {
        let start = Instant::now();
        loop {
            let now = watcher.status().unwrap().clients;
            if now == n {
                return;
            }
            assert!(now > n, "{now} clients counted, expected {n}");
            assert!(
                start.elapsed() < DEADLINE,
                "{now} clients still counted, expected {n}"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    };
    wait_for(3);
    drop(b);
    wait_for(2);
    assert_eq!(a.session_info(ha).unwrap().state, CKS_RW_USER_FUNCTIONS);
    // The sensitive key's value stays on the server.
    let reads = a.get_attributes(ha, key, &[CKA_VALUE]).unwrap();
    assert_eq!(
        reads,
        vec![custos_pkcs11::engine::AttrRead::Sensitive],
        "a secret key value crossed the socket"
    );
    assert!(server.log_text().contains("disconnected"));
}

/// Sends raw bytes on a fresh connection and reports whether the server closed it (EOF)
/// without answering.
fn closed_without_answer(dir: &Path, bytes: &[u8]) -> bool {
    let mut s = UnixStream::connect(dir.join(SOCKET_FILE)).unwrap();
    s.write_all(bytes).unwrap();
    s.shutdown(std::net::Shutdown::Write).unwrap();
    let mut rest = Vec::new();
    match s.read_to_end(&mut rest) {
        Ok(_) => rest.is_empty(),
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => rest.is_empty(),
        Err(e) => panic!("reading the answer: {e}"),
    }
}

#[test]
fn a_malformed_frame_closes_only_its_connection() {
    let p = Place::new();
    provision::create_dev_store(&p.store, 1).unwrap();
    let server = Server::start(&p.store, &p.state);
    let app = RemoteEngine::connect_store(&p.store).unwrap();
    init_token(&app);
    let h = app.open_session(0, rw()).unwrap();
    app.login(h, CKU_USER, USER_PIN).unwrap();

    let good =
        protocol::encode_frame(1, &protocol::Request::Control(protocol::Control::Status)).unwrap();
    let mut bad_version = good.clone();
    bad_version[protocol::LENGTH_FIELD_LEN] = protocol::PROTOCOL_VERSION + 1;
    let oversized = (protocol::MAX_FRAME_LEN + 1).to_le_bytes().to_vec();
    let mut garbage = 12u32.to_le_bytes().to_vec();
    garbage.push(protocol::PROTOCOL_VERSION);
    garbage.extend_from_slice(&[0xff; 11]);
    let truncated = good[..good.len() - 1].to_vec();
    for (what, bytes) in [
        ("a wrong version", &bad_version),
        ("an oversized length", &oversized),
        ("an undecodable payload", &garbage),
        ("a truncated frame", &truncated),
    ] {
        assert!(
            closed_without_answer(&p.store, bytes),
            "{what} was answered"
        );
        // The well-behaved application is untouched: same session, still logged in.
        assert_eq!(
            app.session_info(h).unwrap().state,
            CKS_RW_USER_FUNCTIONS,
            "after {what}"
        );
    }
    // A well-formed request on a raw connection is answered.
    let mut s = UnixStream::connect(p.store.join(SOCKET_FILE)).unwrap();
    s.write_all(&good).unwrap();
    let (id, resp) = protocol::read_frame::<_, protocol::Response>(&mut s)
        .unwrap()
        .expect("an answer");
    assert_eq!(id, 1);
    assert!(matches!(
        resp,
        protocol::Response::Control(protocol::ControlReply::Status(_))
    ));
    assert_eq!(ec_sign_and_verify(&app, h), 64);
    let log = server.log_text();
    assert!(log.contains("protocol version"), "{log}");
    assert!(log.contains("exceeds the maximum"), "{log}");
}

#[test]
fn a_second_server_on_the_same_store_is_refused_and_a_stale_socket_is_replaced() {
    let p = Place::new();
    provision::create_dev_store(&p.store, 1).unwrap();
    let mut first = Server::start(&p.store, &p.state);
    let out = serve_command(&p.store, &p.state)
        .stderr(Stdio::piped())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("a server is already running on this store"),
        "{err}"
    );
    // The first server still answers.
    assert!(
        Connection::connect_store(&p.store)
            .unwrap()
            .status()
            .unwrap()
            .unsealed
    );

    // Killed outright, the server leaves its socket behind; the next one replaces it.
    first.signal_and_wait(libc::SIGKILL);
    assert!(p.store.join(SOCKET_FILE).exists(), "no stale socket left");
    assert!(matches!(
        Connection::connect_store(&p.store).map(|c| c.status()),
        Err(ClientError::Connect(_))
    ));
    let second = Server::start(&p.store, &p.state);
    assert!(
        Connection::connect_store(&p.store)
            .unwrap()
            .status()
            .unwrap()
            .unsealed
    );
    assert!(second.log_text().contains("stale socket"));
}

#[test]
fn sigterm_stops_the_server_and_removes_the_socket() {
    let p = Place::new();
    provision::create_dev_store(&p.store, 1).unwrap();
    let mut server = Server::start(&p.store, &p.state);
    let app = RemoteEngine::connect_store(&p.store).unwrap();
    init_token(&app);
    let h = app.open_session(0, rw()).unwrap();
    let status = server.signal_and_wait(libc::SIGTERM);
    assert!(status.success(), "custos serve exited with {status}");
    assert!(!p.store.join(SOCKET_FILE).exists(), "socket left behind");
    assert!(p.store.join(LOCK_FILE).exists());
    // The connected application now gets a device error, not a hang.
    assert!(matches!(app.session_info(h), Err(Error::DeviceError(_))));
    let log = server.log_text();
    assert!(log.contains("SIGTERM received"), "{log}");
    assert!(log.contains("stopped"), "{log}");
    // The store is intact: a new server serves the token.
    let _again = Server::start(&p.store, &p.state);
    let app = RemoteEngine::connect_store(&p.store).unwrap();
    let h = app.open_session(0, rw()).unwrap();
    app.login(h, CKU_USER, USER_PIN).unwrap();
}

#[test]
fn control_refusals_reach_the_cli() {
    let p = Place::new();
    provision::create_dev_store(&p.store, 1).unwrap();
    // No server: custos seal says so.
    let share = p.store.join(custos_pkcs11::engine::DEV_SHARE_FILE);
    let out = Command::new(env!("CARGO_BIN_EXE_custos"))
        .args(["seal", "--store"])
        .arg(&p.store)
        .arg(&share)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("cannot reach the custos server"), "{err}");
}

/// The frame fuzz target's seed corpus: `valid-*` seeds decode, `invalid-*` seeds do not, and
/// none makes the decoder panic.
#[test]
fn frame_fuzz_corpus_replays() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/frame");
    let mut files: Vec<PathBuf> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let (mut valid, mut invalid) = (0, 0);
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        let accepted = protocol::fuzz_frame(&fs::read(f).unwrap());
        if name.starts_with("valid-") {
            assert!(accepted, "{name} refused");
            valid += 1;
        } else if name.starts_with("invalid-") {
            assert!(!accepted, "{name} accepted");
            invalid += 1;
        }
    }
    assert!(
        valid >= 3 && invalid >= 3,
        "{valid} valid, {invalid} invalid"
    );
    // The seeds on disk are the ones this file generates.
    for (name, bytes) in frame_seeds() {
        assert_eq!(
            fs::read(dir.join(&name)).ok().as_deref(),
            Some(&bytes[..]),
            "seed {name} is stale: run `cargo test --test served -- --ignored regenerate_frame_seeds`"
        );
    }
}

/// The frame seeds: one of several request and response kinds, and refused frames.
fn frame_seeds() -> Vec<(String, Vec<u8>)> {
    use protocol::{Call, Control, ControlReply, Reply, Request, Response};
    let mut v = Vec::new();
    let mut add = |name: &str, bytes: Vec<u8>| v.push((name.to_string(), bytes));
    let ecdsa = Mechanism::simple(CKM_ECDSA_SHA256).unwrap();
    add(
        "valid-status",
        protocol::encode_frame(1, &Request::Control(Control::Status)).unwrap(),
    );
    add(
        "valid-login",
        protocol::encode_frame(
            2,
            &Request::Call(Call::Login {
                h: 1,
                user_type: CKU_USER,
                pin: b"1234".to_vec(),
            }),
        )
        .unwrap(),
    );
    add(
        "valid-sign-init",
        protocol::encode_frame(
            3,
            &Request::Call(Call::SignInit {
                h: 1,
                mech: ecdsa,
                key: 7,
            }),
        )
        .unwrap(),
    );
    add(
        "valid-generate-key-pair",
        protocol::encode_frame(
            4,
            &Request::Call(Call::GenerateKeyPair {
                h: 1,
                mech: Mechanism {
                    ty: CKM_EC_KEY_PAIR_GEN,
                    kind: Kind::EcKeyPairGen,
                },
                public: vec![Attr::bytes(CKA_EC_PARAMS, Curve::P256.oid_der().to_vec())],
                private: vec![Attr::bool(CKA_SIGN, true)],
            }),
        )
        .unwrap(),
    );
    add(
        "valid-reply-sign",
        protocol::encode_frame(
            5,
            &Response::Call(Reply::Sign(Ok(Produced::Data(vec![7; 64])))),
        )
        .unwrap(),
    );
    add(
        "valid-reply-refused",
        protocol::encode_frame(
            6,
            &Response::Control(ControlReply::Refused("duplicate".into())),
        )
        .unwrap(),
    );
    let good = protocol::encode_frame(1, &Request::Control(Control::Status)).unwrap();
    let mut bad_version = good.clone();
    bad_version[protocol::LENGTH_FIELD_LEN] = 0;
    add("invalid-version", bad_version);
    add("invalid-truncated", good[..good.len() - 1].to_vec());
    add(
        "invalid-oversized",
        (protocol::MAX_FRAME_LEN + 1).to_le_bytes().to_vec(),
    );
    add("invalid-short-length", 3u32.to_le_bytes().to_vec());
    let mut garbage = 12u32.to_le_bytes().to_vec();
    garbage.push(protocol::PROTOCOL_VERSION);
    garbage.extend_from_slice(&[0xff; 11]);
    add("invalid-payload", garbage);
    v
}

/// Rewrites the frame seeds: `cargo test --test served -- --ignored regenerate_frame_seeds`.
#[test]
#[ignore = "rewrites fuzz/corpus/frame; run by hand after a protocol change"]
fn regenerate_frame_seeds() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/frame");
    fs::create_dir_all(&dir).unwrap();
    for (name, bytes) in frame_seeds() {
        fs::write(dir.join(name), bytes).unwrap();
    }
}

/// `FrameError` is what a client sees for a bad frame from a server; its text names the cause.
#[test]
fn frame_errors_name_their_cause() {
    assert!(FrameError::TooLarge(protocol::MAX_FRAME_LEN + 1)
        .to_string()
        .contains("exceeds the maximum"));
    assert!(FrameError::BadVersion(9)
        .to_string()
        .contains("protocol version 9"));
}

/// Mechanisms arrive typed and already checked by the client's parser; a client that skips the
/// parser can send parameters no parser would build. Each such call must get an error (or a
/// result), and the connection and its login must survive.
#[test]
fn unchecked_mechanism_parameters_do_not_break_the_connection() {
    use custos_pkcs11::crypto::HashAlg;
    use custos_pkcs11::mechanism::{CcmParams, GcmParams};
    let p = Place::new();
    provision::create_dev_store(&p.store, 1).unwrap();
    let server = Server::start(&p.store, &p.state);
    let app = RemoteEngine::connect_store(&p.store).unwrap();
    init_token(&app);
    let h = app.open_session(0, rw()).unwrap();
    app.login(h, CKU_USER, USER_PIN).unwrap();
    let aes = app
        .generate_key(
            h,
            &Mechanism {
                ty: CKM_AES_KEY_GEN,
                kind: Kind::AesKeyGen,
            },
            &[
                Attr::ulong(CKA_VALUE_LEN, 32),
                Attr::bool(CKA_SIGN, true),
                Attr::bool(CKA_ENCRYPT, true),
            ],
        )
        .unwrap();
    let hmac = app
        .generate_key(
            h,
            &Mechanism {
                ty: CKM_GENERIC_SECRET_KEY_GEN,
                kind: Kind::GenericSecretKeyGen,
            },
            &[Attr::ulong(CKA_VALUE_LEN, 32), Attr::bool(CKA_SIGN, true)],
        )
        .unwrap();
    let signs = [
        (
            hmac,
            Mechanism {
                ty: CKM_SHA256_HMAC_GENERAL,
                kind: Kind::Hmac(HashAlg::Sha256, 1 << 40),
            },
        ),
        (
            aes,
            Mechanism {
                ty: CKM_AES_CMAC_GENERAL,
                kind: Kind::AesCmac(1000),
            },
        ),
    ];
    for (key, m) in &signs {
        let r = app
            .sign_init(h, m, *key)
            .and_then(|()| app.sign(h, b"data", Out::Capacity(1 << 20)));
        assert!(!matches!(r, Err(Error::DeviceError(_))), "{m:?}: {r:?}");
        let _ = app.cancel(h, CKF_SIGN);
    }
    let encrypts = [
        Mechanism {
            ty: CKM_AES_GCM,
            kind: Kind::AesGcm(GcmParams {
                iv: Vec::new(),
                aad: Vec::new(),
                tag_bits: 0,
            }),
        },
        Mechanism {
            ty: CKM_AES_GCM,
            kind: Kind::AesGcm(GcmParams {
                iv: vec![0; 12],
                aad: Vec::new(),
                tag_bits: 4096,
            }),
        },
        Mechanism {
            ty: CKM_AES_CTR,
            kind: Kind::AesCtr {
                counter_bits: 0,
                block: [0; 16],
            },
        },
        Mechanism {
            ty: CKM_AES_CTR,
            kind: Kind::AesCtr {
                counter_bits: 4096,
                block: [0xff; 16],
            },
        },
        Mechanism {
            ty: CKM_AES_CCM,
            kind: Kind::AesCcm(CcmParams {
                data_len: 4,
                nonce: Vec::new(),
                aad: Vec::new(),
                mac_len: 0,
            }),
        },
        Mechanism {
            ty: CKM_AES_CCM,
            kind: Kind::AesCcm(CcmParams {
                data_len: 1 << 62,
                nonce: vec![0; 40],
                aad: Vec::new(),
                mac_len: 1000,
            }),
        },
    ];
    for m in &encrypts {
        let r = app
            .encrypt_init(h, m, aes)
            .and_then(|()| app.encrypt(h, b"data", Out::Capacity(1 << 20)));
        assert!(!matches!(r, Err(Error::DeviceError(_))), "{m:?}: {r:?}");
        let _ = app.cancel(h, CKF_ENCRYPT);
    }
    assert_eq!(app.session_info(h).unwrap().state, CKS_RW_USER_FUNCTIONS);
    let log = server.log_text();
    assert!(!log.contains("connection closed"), "{log}");
    assert!(
        log.lines().all(|l| l.starts_with("custos serve: ")),
        "a line not in the log format: {log}"
    );
}

/// Measures the added cost of a served call: `generate_random` of 32 bytes through the socket
/// against the same call on an engine in this process. Prints the numbers; run with
/// `cargo test --release --test served -- --ignored --nocapture served_call_latency`.
#[test]
#[ignore = "a measurement, not a check; run by hand"]
fn served_call_latency() {
    const CALLS: u32 = 5000;
    let p = Place::new();
    provision::create_dev_store(&p.store, 1).unwrap();
    let _server = Server::start(&p.store, &p.state);
    let app = RemoteEngine::connect_store(&p.store).unwrap();
    init_token(&app);
    let h = app.open_session(0, rw()).unwrap();
    let start = Instant::now();
    for _ in 0..CALLS {
        assert_eq!(app.generate_random(h, 32).unwrap().len(), 32);
    }
    let served = start.elapsed() / CALLS;

    let mut config = custos_pkcs11::config::Config::for_store(&p.store);
    config.witness_dir = Some(p.state.join("embedded-witness"));
    config.shares = vec![p.store.join(custos_pkcs11::engine::DEV_SHARE_FILE)];
    let local = custos_pkcs11::engine::Engine::open(config).unwrap();
    let h = local.open_session(0, rw()).unwrap();
    let start = Instant::now();
    for _ in 0..CALLS {
        assert_eq!(local.generate_random(h, 32).unwrap().len(), 32);
    }
    let embedded = start.elapsed() / CALLS;
    println!(
        "generate_random(32): served {served:?} per call, embedded {embedded:?} per call, \
         added {:?}",
        served.saturating_sub(embedded)
    );
}
