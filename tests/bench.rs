//! `custos bench` end to end: a `--dev` store, a token set up with the `custos` tool, and the
//! benchmark run in `--quick` mode against the built module through its C ABI. The figures
//! themselves are not checked (no timing assertions): every row must be present with a
//! positive figure, and the token must be left as it was found.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const CUSTOS: &str = env!("CARGO_BIN_EXE_custos");
const PIN: &str = "1234";
const SO_PIN: &str = "12345678";

/// Every row `--quick --threads 2` reports, with its thread counts. Each signing row is
/// followed by its scaling (2 threads over 1, paired within each round).
const QUICK_ROWS: &[(&str, &[u64])] = &[
    ("RSA-2048 sign SHA256_RSA_PKCS", &[1, 2]),
    ("RSA-2048 sign SHA256_RSA_PKCS: scaling", &[2]),
    ("RSA-3072 sign SHA256_RSA_PKCS", &[1, 2]),
    ("RSA-3072 sign SHA256_RSA_PKCS: scaling", &[2]),
    ("RSA-4096 sign SHA256_RSA_PKCS", &[1, 2]),
    ("RSA-4096 sign SHA256_RSA_PKCS: scaling", &[2]),
    ("RSA-2048 sign RSA_PKCS_PSS", &[1, 2]),
    ("RSA-2048 sign RSA_PKCS_PSS: scaling", &[2]),
    ("RSA-3072 sign RSA_PKCS_PSS", &[1, 2]),
    ("RSA-3072 sign RSA_PKCS_PSS: scaling", &[2]),
    ("RSA-4096 sign RSA_PKCS_PSS", &[1, 2]),
    ("RSA-4096 sign RSA_PKCS_PSS: scaling", &[2]),
    ("RSA-2048 verify SHA256_RSA_PKCS", &[1, 2]),
    ("RSA-2048 decrypt RSA_PKCS_OAEP", &[1, 2]),
    ("ECDSA P-256 sign", &[1, 2]),
    ("ECDSA P-256 sign: scaling", &[2]),
    ("ECDSA P-384 sign", &[1, 2]),
    ("ECDSA P-384 sign: scaling", &[2]),
    ("ECDSA P-256 verify", &[1, 2]),
    ("ECDSA P-384 verify", &[1, 2]),
    ("Ed25519 sign EDDSA", &[1, 2]),
    ("Ed25519 sign EDDSA: scaling", &[2]),
    ("AES-256-GCM encrypt 64 B", &[1, 2]),
    ("AES-256-GCM encrypt 1 KiB", &[1, 2]),
    ("AES-256-GCM encrypt 16 KiB", &[1, 2]),
    ("AES-256-CBC-PAD encrypt 1 KiB", &[1, 2]),
    ("HMAC-SHA256 64 B", &[1, 2]),
    ("SHA-256 digest 1 KiB", &[1, 2]),
    ("AES key wrap AES_KEY_WRAP", &[1, 2]),
    ("EC P-256 key-pair generation (token)", &[1, 2]),
    ("Data object create + destroy (token)", &[1, 2]),
    ("C_OpenSession + C_CloseSession", &[1, 2]),
    ("C_GenerateRandom 32 B", &[1, 2]),
    ("C_FindObjects by CKA_ID, 10 objects", &[1, 2]),
    ("C_FindObjects by CKA_LABEL, 10 objects", &[1, 2]),
    ("C_FindObjects by CKA_ID, 100 objects", &[1, 2]),
    ("C_FindObjects by CKA_LABEL, 100 objects", &[1, 2]),
    ("C_Initialize + first C_FindObjects, 100 objects", &[1]),
    (
        "Peak RSS after C_Initialize + first C_FindObjects, 100 objects",
        &[1],
    ),
    ("C_Login + C_Logout", &[1]),
    ("C_Login + C_Logout latency", &[1]),
];

/// Rows with an in-process reference figure (on their 1-thread line).
const WITH_REFERENCE: &[&str] = &[
    "RSA-2048 sign SHA256_RSA_PKCS",
    "RSA-2048 verify SHA256_RSA_PKCS",
    "RSA-2048 decrypt RSA_PKCS_OAEP",
    "ECDSA P-384 verify",
    "Ed25519 sign EDDSA",
    "AES-256-GCM encrypt 16 KiB",
    "HMAC-SHA256 64 B",
    "SHA-256 digest 1 KiB",
    "AES key wrap AES_KEY_WRAP",
];

/// A `--dev` store with the token in slot 0 (and, with `two`, slot 1) initialised.
struct Store {
    tmp: tempfile::TempDir,
}

impl Store {
    fn new(two: bool) -> Store {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let s = Store { tmp };
        custos_pkcs11::engine::provision::create_dev_store(&s.dir(), 2)
            .expect("create a dev store");
        s.token_init(0, "bench");
        if two {
            s.token_init(1, "other");
        }
        s
    }

    fn dir(&self) -> PathBuf {
        self.tmp.path().join("store")
    }

    fn token_init(&self, slot: u32, label: &str) {
        let out = self
            .custos()
            .args(["token", "init", "--store"])
            .arg(self.dir())
            .args(["--slot", &slot.to_string(), "--label", label])
            .args(["--so-pin", SO_PIN, "--pin", PIN])
            .output()
            .expect("run custos token init");
        assert_ok(&out, "custos token init");
    }

    /// The `custos` tool with the store named by `CUSTOS_STORE`.
    fn custos(&self) -> Command {
        let mut c = Command::new(CUSTOS);
        c.env_remove("CUSTOS_CONF")
            .env_remove("CUSTOS_PIN")
            .env("CUSTOS_STORE", self.dir())
            .env("CUSTOS_QUIET", "1");
        c
    }

    fn bench(&self, args: &[&str]) -> Output {
        self.custos()
            .arg("bench")
            .arg("--module")
            .arg(common::module_path())
            .args(args)
            .output()
            .expect("run custos bench")
    }

    /// `custos token list`: the object count of each initialised slot's token.
    fn object_counts(&self) -> Vec<u64> {
        let out = self
            .custos()
            .args(["token", "list", "--store"])
            .arg(self.dir())
            .output()
            .expect("run custos token list");
        assert_ok(&out, "custos token list");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .filter(|l| l.contains("initialised, label"))
            .map(|l| {
                let n = l
                    .split([',', ';'])
                    .map(str::trim)
                    .find_map(|p| p.strip_suffix(" objects").or(p.strip_suffix(" object")))
                    .unwrap_or_else(|| panic!("no object count in {l:?}"));
                n.parse().unwrap_or_else(|_| panic!("bad count in {l:?}"))
            })
            .collect()
    }
}

#[track_caller]
fn assert_ok(out: &Output, what: &str) {
    assert!(
        out.status.success(),
        "{what} failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The one-line error of a failed run.
#[track_caller]
fn error_line(out: &Output) -> String {
    assert!(
        !out.status.success(),
        "expected a failure, got success:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let line = err
        .lines()
        .find(|l| l.starts_with("custos: error: "))
        .unwrap_or_else(|| panic!("no error line in:\n{err}"))
        .to_string();
    line
}

// ----- a small JSON reader ------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Json {
    Null,
    Bool(bool),
    Num(f64),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    fn get(&self, key: &str) -> Option<&Json> {
        match self {
            Json::Obj(v) => v.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }
    fn num(&self) -> Option<f64> {
        match self {
            Json::Num(n) => Some(*n),
            _ => None,
        }
    }
    fn str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn parse(text: &str) -> Json {
        let mut p = Parser {
            s: text.as_bytes(),
            i: 0,
        };
        let v = p.value();
        p.ws();
        assert_eq!(p.i, p.s.len(), "trailing data after the JSON value");
        v
    }

    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn eat(&mut self, c: u8) {
        self.ws();
        assert_eq!(
            self.s.get(self.i).copied(),
            Some(c),
            "expected '{}' at byte {}",
            c as char,
            self.i
        );
        self.i += 1;
    }

    fn peek(&mut self) -> u8 {
        self.ws();
        *self.s.get(self.i).expect("unexpected end of JSON")
    }

    fn value(&mut self) -> Json {
        match self.peek() {
            b'{' => {
                self.eat(b'{');
                let mut v = Vec::new();
                if self.peek() == b'}' {
                    self.eat(b'}');
                    return Json::Obj(v);
                }
                loop {
                    let k = self.string();
                    self.eat(b':');
                    v.push((k, self.value()));
                    if self.peek() == b',' {
                        self.eat(b',');
                    } else {
                        self.eat(b'}');
                        return Json::Obj(v);
                    }
                }
            }
            b'[' => {
                self.eat(b'[');
                let mut v = Vec::new();
                if self.peek() == b']' {
                    self.eat(b']');
                    return Json::Arr(v);
                }
                loop {
                    v.push(self.value());
                    if self.peek() == b',' {
                        self.eat(b',');
                    } else {
                        self.eat(b']');
                        return Json::Arr(v);
                    }
                }
            }
            b'"' => Json::Str(self.string()),
            b't' => self.word("true", Json::Bool(true)),
            b'f' => self.word("false", Json::Bool(false)),
            b'n' => self.word("null", Json::Null),
            _ => {
                let start = self.i;
                while self.i < self.s.len() && b"+-.eE0123456789".contains(&self.s[self.i]) {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).expect("ASCII number");
                Json::Num(t.parse().unwrap_or_else(|_| panic!("bad number {t:?}")))
            }
        }
    }

    fn word(&mut self, w: &str, v: Json) -> Json {
        assert!(
            self.s[self.i..].starts_with(w.as_bytes()),
            "bad literal at byte {}",
            self.i
        );
        self.i += w.len();
        v
    }

    fn string(&mut self) -> String {
        self.eat(b'"');
        let mut out = Vec::new();
        loop {
            let c = *self.s.get(self.i).expect("unterminated string");
            self.i += 1;
            match c {
                b'"' => break,
                b'\\' => {
                    let e = self.s[self.i];
                    self.i += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b't' => out.push(b'\t'),
                        b'r' => out.push(b'\r'),
                        b'u' => {
                            let hex = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                            let cp = u32::from_str_radix(hex, 16).expect("hex escape");
                            let ch = char::from_u32(cp).expect("a scalar value");
                            out.extend(ch.to_string().as_bytes());
                            self.i += 4;
                        }
                        other => out.push(other),
                    }
                }
                c => out.push(c),
            }
        }
        String::from_utf8(out).expect("UTF-8 string")
    }
}

fn read_json(path: &Path) -> Json {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("the JSON file {} was not written: {e}", path.display()));
    Parser::parse(&text)
}

fn rows(json: &Json) -> &[Json] {
    match json.get("rows") {
        Some(Json::Arr(v)) => v,
        other => panic!("no rows array in the JSON: {other:?}"),
    }
}

fn find_row<'a>(rows: &'a [Json], name: &str, threads: u64) -> &'a Json {
    rows.iter()
        .find(|r| {
            r.get("name").and_then(Json::str) == Some(name)
                && r.get("threads").and_then(Json::num) == Some(threads as f64)
        })
        .unwrap_or_else(|| panic!("row {name:?} with {threads} thread(s) is missing"))
}

// ----- tests --------------------------------------------------------------------------------

#[test]
fn quick_run_reports_every_row_and_leaves_the_token_clean() {
    let store = Store::new(false);
    let json_path = store.tmp.path().join("out.json");
    let out = store.bench(&[
        "--pin",
        PIN,
        "--quick",
        "--threads",
        "2",
        "--json",
        json_path.to_str().expect("a UTF-8 path"),
    ]);
    assert_ok(&out, "custos bench --quick");

    let json = read_json(&json_path);
    assert_eq!(json.get("threads").and_then(Json::num), Some(2.0));
    assert_eq!(json.get("module_b"), Some(&Json::Null));
    let rows = rows(&json);
    let expected: usize = QUICK_ROWS.iter().map(|(_, t)| t.len()).sum();
    assert_eq!(rows.len(), expected, "row count");
    for (name, threads) in QUICK_ROWS {
        for &t in *threads {
            let r = find_row(rows, name, t);
            let a = r
                .get("a")
                .and_then(Json::num)
                .unwrap_or_else(|| panic!("row {name:?} ({t}) has no A figure"));
            assert!(a > 0.0, "row {name:?} ({t}) has A = {a}");
            assert_eq!(r.get("b"), Some(&Json::Null), "no B without --vs");
            let unit = r.get("unit").and_then(Json::str).expect("a unit");
            let want_unit = match *name {
                "C_Initialize + first C_FindObjects, 100 objects" => "ms",
                "Peak RSS after C_Initialize + first C_FindObjects, 100 objects" => "MiB",
                "C_Login + C_Logout latency" => "ms/op",
                n if n.ends_with(": scaling") => "x",
                _ => "ops/s",
            };
            assert_eq!(unit, want_unit, "unit of {name:?}");
        }
    }
    for name in WITH_REFERENCE {
        let r = find_row(rows, name, 1);
        let reference = r.get("reference").and_then(Json::num);
        assert!(
            reference.is_some_and(|v| v > 0.0),
            "row {name:?} has no reference figure: {r:?}"
        );
    }
    // The final table is on stdout.
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("RSA-2048 sign SHA256_RSA_PKCS"), "{stdout}");
    assert!(stdout.contains("A/reference"), "{stdout}");
    // Progress went to stderr.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("RSA-2048 sign SHA256_RSA_PKCS, round 1/1: 1 thread A "),
        "{stderr}"
    );

    // Everything the benchmark created is gone.
    assert_eq!(store.object_counts(), vec![0], "objects left in the token");
}

#[test]
fn comparison_module_markdown_and_only() {
    let store = Store::new(true);
    let json_path = store.tmp.path().join("vs.json");
    let module = common::module_path();
    let out = store.bench(&[
        "--slot",
        "0",
        "--pin",
        PIN,
        "--vs",
        module.to_str().expect("a UTF-8 path"),
        "--vs-token-label",
        "other",
        "--quick",
        "--threads",
        "1",
        "--only",
        "SHA-256 digest",
        "ECDSA P-256 sign",
        "by CKA_LABEL",
        "--populations",
        "20,5",
        "--markdown",
        "--json",
        json_path.to_str().expect("a UTF-8 path"),
    ]);
    assert_ok(&out, "custos bench --vs");
    let json = read_json(&json_path);
    let rows = rows(&json);
    let names: Vec<&str> = rows
        .iter()
        .filter_map(|r| r.get("name").and_then(Json::str))
        .collect();
    assert_eq!(
        names,
        [
            "ECDSA P-256 sign",
            "SHA-256 digest 1 KiB",
            "C_FindObjects by CKA_LABEL, 5 objects",
            "C_FindObjects by CKA_LABEL, 20 objects",
        ]
    );
    for r in rows {
        let a = r.get("a").and_then(Json::num).expect("A");
        let b = r.get("b").and_then(Json::num).expect("B");
        let ratio = r.get("ratio").and_then(Json::num).expect("ratio");
        assert!(a > 0.0 && b > 0.0 && ratio > 0.0, "{r:?}");
    }
    assert!(json
        .get("module_b")
        .and_then(Json::str)
        .is_some_and(|s| s.contains("\"other\"")));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("| Row | Threads | A ops/s | B ops/s | A/B |"),
        "{stdout}"
    );
    assert!(stdout.contains("| ECDSA P-256 sign | 1 |"), "{stdout}");
    assert_eq!(
        store.object_counts(),
        vec![0, 0],
        "objects left in the tokens"
    );
}

#[test]
fn clear_errors() {
    let store = Store::new(false);

    let missing = store.tmp.path().join("no-such-module.so");
    let out = store
        .custos()
        .args(["bench", "--module"])
        .arg(&missing)
        .args(["--pin", PIN, "--quick"])
        .output()
        .expect("run custos bench");
    let e = error_line(&out);
    assert!(e.contains("cannot load PKCS#11 module"), "{e}");

    let not_a_module = store.tmp.path().join("not-a-module.so");
    std::fs::write(&not_a_module, b"not an ELF file").expect("write a file");
    let out = store
        .custos()
        .args(["bench", "--module"])
        .arg(&not_a_module)
        .args(["--pin", PIN, "--quick"])
        .output()
        .expect("run custos bench");
    let e = error_line(&out);
    assert!(e.contains("cannot load PKCS#11 module"), "{e}");

    let out = store.bench(&["--pin", "9999", "--quick"]);
    let e = error_line(&out);
    assert!(e.contains("wrong PIN"), "{e}");
    assert!(e.contains("CKR_PIN_INCORRECT"), "{e}");

    let out = store.bench(&["--slot", "1", "--pin", PIN, "--quick"]);
    let e = error_line(&out);
    assert!(e.contains("slot 1") && e.contains("not initialised"), "{e}");

    let out = store.bench(&["--slot", "7", "--pin", PIN, "--quick"]);
    let e = error_line(&out);
    assert!(e.contains("no slot 7"), "{e}");

    let out = store.bench(&["--token-label", "nope", "--pin", PIN, "--quick"]);
    let e = error_line(&out);
    assert!(e.contains("no token labelled \"nope\""), "{e}");

    let out = store.bench(&["--pin", PIN, "--quick", "--only", "no such row"]);
    let e = error_line(&out);
    assert!(e.contains("no row matches"), "{e}");

    // Nothing was created by the failed runs.
    assert_eq!(store.object_counts(), vec![0]);
}
