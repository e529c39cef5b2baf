//! Replays the fuzz seed corpus (`fuzz/corpus/<target>/`) and any saved crash inputs
//! (`fuzz/regressions/<target>/`) through the same harness functions the fuzz targets call.
//!
//! Seed files named `valid-*` must be accepted by the parser under test and files named
//! `invalid-*` must be rejected, so the corpus keeps covering both paths. Every other file (fuzzer
//! findings, regressions) only has to run without a panic.
//!
//! `cargo test --test fuzz_corpus -- --ignored regenerate_seeds` rewrites the generated seeds.

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use cryptoki_sys::*;
use custos_pkcs11::fuzz_harness;
use custos_pkcs11::mechanism::MECHANISMS;
use custos_pkcs11::object::{Attributes, Value};
use custos_pkcs11::store::{StoreHeader, STORE_FORMAT_VERSION};
use custos_pkcs11::vault::{split_master_key, MasterKey};

fn fuzz_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz")
}

/// The regular files directly inside `dir`, sorted by name.
fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|e| e.expect("directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Runs `harness` on every corpus and regression file of `target`; returns how many ran.
fn replay(target: &str, harness: fn(&[u8]) -> bool) -> usize {
    let corpus = fuzz_dir().join("corpus").join(target);
    assert!(
        corpus.is_dir(),
        "seed corpus {} is missing",
        corpus.display()
    );
    let mut files = files_in(&corpus);
    assert!(
        !files.is_empty(),
        "seed corpus {} is empty",
        corpus.display()
    );
    let (mut valid, mut invalid) = (0, 0);
    for f in &files {
        let name = f.file_name().unwrap().to_string_lossy();
        valid += usize::from(name.starts_with("valid-"));
        invalid += usize::from(name.starts_with("invalid-"));
    }
    assert!(valid > 0, "{target}: no valid-* seed in the corpus");
    assert!(invalid > 0, "{target}: no invalid-* seed in the corpus");

    let regressions = fuzz_dir().join("regressions").join(target);
    if regressions.is_dir() {
        files.extend(files_in(&regressions));
    }

    let mut failures = Vec::new();
    for f in &files {
        let data = fs::read(f).unwrap_or_else(|e| panic!("cannot read {}: {e}", f.display()));
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        match catch_unwind(AssertUnwindSafe(|| harness(&data))) {
            Err(_) => failures.push(format!("{}: harness panicked", f.display())),
            Ok(accepted) => {
                if name.starts_with("valid-") && !accepted {
                    failures.push(format!("{}: valid seed rejected", f.display()));
                }
                if name.starts_with("invalid-") && accepted {
                    failures.push(format!("{}: invalid seed accepted", f.display()));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{target}: {} of {} inputs failed:\n{}",
        failures.len(),
        files.len(),
        failures.join("\n")
    );
    eprintln!("{target}: replayed {} inputs", files.len());
    files.len()
}

#[test]
fn replay_attributes() {
    assert!(replay("attributes", fuzz_harness::attributes) >= 2);
}

#[test]
fn replay_share_text() {
    assert!(replay("share_text", fuzz_harness::share_text) >= 2);
}

#[test]
fn replay_config_text() {
    assert!(replay("config_text", fuzz_harness::config_text) >= 2);
}

#[test]
fn replay_store_header() {
    assert!(replay("store_header", fuzz_harness::store_header) >= 2);
}

#[test]
fn replay_mechanism_params() {
    assert!(replay("mechanism_params", fuzz_harness::mechanism_params) >= 2);
}

// ---------------------------------------------------------------------------------------------
// Seed generation.

fn attributes_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mut key = Attributes::new();
    key.set(CKA_CLASS, Value::Ulong(CKO_SECRET_KEY));
    key.set(CKA_KEY_TYPE, Value::Ulong(CKK_AES));
    key.set(CKA_TOKEN, Value::Bool(true));
    key.set(CKA_PRIVATE, Value::Bool(true));
    key.set(CKA_SENSITIVE, Value::Bool(true));
    key.set(CKA_EXTRACTABLE, Value::Bool(false));
    key.set(CKA_ENCRYPT, Value::Bool(true));
    key.set(CKA_DECRYPT, Value::Bool(true));
    key.set(CKA_LABEL, Value::Bytes(b"fuzz aes key".to_vec()));
    key.set(CKA_ID, Value::Bytes(vec![0x01, 0x02]));
    key.set(CKA_VALUE_LEN, Value::Ulong(32));
    key.set(CKA_VALUE, Value::Bytes((0u8..32).collect()));
    key.set(
        CKA_ALLOWED_MECHANISMS,
        Value::Mechanisms(vec![CKM_AES_GCM, CKM_AES_CBC_PAD]),
    );
    let key = key.encode();

    let mut ec = Attributes::new();
    ec.set(CKA_CLASS, Value::Ulong(CKO_PUBLIC_KEY));
    ec.set(CKA_KEY_TYPE, Value::Ulong(CKK_EC));
    ec.set(CKA_VERIFY, Value::Bool(true));
    // DER OID of prime256v1, and an (all-zero) uncompressed point wrapped in an OCTET STRING.
    ec.set(
        CKA_EC_PARAMS,
        Value::Bytes(vec![
            0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07,
        ]),
    );
    let mut point = vec![0x04, 0x41, 0x04];
    point.extend_from_slice(&[0u8; 64]);
    ec.set(CKA_EC_POINT, Value::Bytes(point));
    let ec = ec.encode();

    let empty = Attributes::new().encode();

    // Two attributes written in descending type order: accepted, re-encoded sorted.
    let mut unsorted = 1u16.to_le_bytes().to_vec();
    unsorted.extend_from_slice(&2u32.to_le_bytes());
    for (ty, b) in [(CKA_TOKEN, 1u8), (CKA_CLASS, 0u8)] {
        unsorted.extend_from_slice(&ty.to_le_bytes());
        if ty == CKA_CLASS {
            unsorted.push(2);
            unsorted.extend_from_slice(&8u32.to_le_bytes());
            unsorted.extend_from_slice(&CKO_DATA.to_le_bytes());
        } else {
            unsorted.push(1);
            unsorted.extend_from_slice(&1u32.to_le_bytes());
            unsorted.push(b);
        }
    }

    let truncated = key[..key.len() - 1].to_vec();
    let mut trailing = ec.clone();
    trailing.push(0);
    // One boolean attribute whose byte is 2.
    let mut bad_bool = 1u16.to_le_bytes().to_vec();
    bad_bool.extend_from_slice(&1u32.to_le_bytes());
    bad_bool.extend_from_slice(&CKA_TOKEN.to_le_bytes());
    bad_bool.extend_from_slice(&[1, 1, 0, 0, 0, 2]);
    // The same attribute twice.
    let mut duplicate = 1u16.to_le_bytes().to_vec();
    duplicate.extend_from_slice(&2u32.to_le_bytes());
    for _ in 0..2 {
        duplicate.extend_from_slice(&CKA_TOKEN.to_le_bytes());
        duplicate.extend_from_slice(&[1, 1, 0, 0, 0, 1]);
    }
    let mut huge_count = empty.clone();
    huge_count[2..6].copy_from_slice(&u32::MAX.to_le_bytes());

    vec![
        ("valid-secret-key", key),
        ("valid-ec-public-key", ec),
        ("valid-empty", empty),
        ("valid-unsorted", unsorted),
        ("invalid-truncated", truncated),
        ("invalid-trailing-byte", trailing),
        ("invalid-bad-bool", bad_bool),
        ("invalid-duplicate", duplicate),
        ("invalid-huge-count", huge_count),
    ]
}

fn share_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let mk = MasterKey::from_bytes([0x5a; 32]);
    let shares = split_master_key(&mk, [0x11; 16], 2, 3).expect("split");
    let one = shares[0].to_text().as_bytes().to_vec();
    let three = shares[2].to_text().as_bytes().to_vec();
    let single = split_master_key(&mk, [0x22; 16], 1, 1).expect("split");
    let single = single[0].to_text().as_bytes().to_vec();

    let text = String::from_utf8(one.clone()).unwrap();
    let crlf_upper = {
        // Upper-case hex, CRLF line ends and surrounding blanks are all accepted.
        let mut out = String::from("\n  ");
        for line in text.lines() {
            let (k, v) = line.split_once(": ").unwrap_or((line, ""));
            if v.is_empty() {
                out.push_str(line);
            } else if k == "share" {
                out.push_str(&format!("{k}:   {v}"));
            } else {
                out.push_str(&format!("{k}: {}", v.to_uppercase()));
            }
            out.push_str("  \r\n");
        }
        out.into_bytes()
    };
    let bad_check = {
        let mut t = text.clone();
        let pos = t.rfind("check: ").unwrap() + "check: ".len();
        let c = t.as_bytes()[pos];
        let flipped = if c == b'0' { "1" } else { "0" };
        t.replace_range(pos..pos + 1, flipped);
        t.into_bytes()
    };
    let version = text.replacen("v1", "v2", 1).into_bytes();
    let index_zero = text.replacen("share: 1 of", "share: 0 of", 1).into_bytes();
    let short_value = {
        let pos = text.find("value: ").unwrap() + "value: ".len();
        let mut t = text.clone();
        t.replace_range(pos..pos + 2, "");
        t.into_bytes()
    };
    let non_ascii = text.replacen("store: ", "store: é", 1).into_bytes();

    vec![
        ("valid-share-1-of-3", one),
        ("valid-share-3-of-3", three),
        ("valid-share-1-of-1", single),
        ("valid-crlf-upper-case", crlf_upper),
        ("invalid-bad-check", bad_check),
        ("invalid-version", version),
        ("invalid-index-zero", index_zero),
        ("invalid-short-value", short_value),
        ("invalid-non-ascii", non_ascii),
    ]
}

fn config_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let s = |t: &str| t.as_bytes().to_vec();
    vec![
        (
            "valid-full",
            s(concat!(
                "store = \"/var/lib/custos\"\n",
                "shares = [\"/etc/custos/share-1.txt\", \"/etc/custos/share-3.txt\"]\n",
                "shares_env = \"CUSTOS_SHARES\"\n",
                "max_pin_failures = 10\n",
                "pin_iterations = 20000\n",
            )),
        ),
        ("valid-minimal", s("store = \"/srv/custos\"\n")),
        (
            "valid-relative",
            s("# relative to the file\nstore = 's'\nshares = ['a.txt', \"/abs/b.txt\"]\nmax_pin_failures = 255\n"),
        ),
        ("invalid-unknown-key", s("store = \"x\"\nstroe = 1\n")),
        ("invalid-zero-failures", s("store = \"x\"\nmax_pin_failures = 0\n")),
        ("invalid-missing-store", s("shares = []\n")),
        ("invalid-not-toml", s("store = [\n")),
        ("invalid-not-utf8", vec![b's', 0xff, 0xfe, b'=']),
    ]
}

fn header_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let h = StoreHeader {
        format_version: STORE_FORMAT_VERSION,
        store_id: [0x11; 16],
        threshold: 2,
        total: 3,
        commitments: vec![[0xc1; 32], [0xc2; 32], [0xc3; 32]],
        kcv: [0x4b; 32],
        slot_count: 2,
        created_unix: 1_700_000_000,
    };
    let enc = h.encode().expect("encode");
    let single = StoreHeader {
        format_version: STORE_FORMAT_VERSION,
        store_id: [0x22; 16],
        threshold: 1,
        total: 1,
        commitments: vec![],
        kcv: [0; 32],
        slot_count: 1,
        created_unix: 0,
    }
    .encode()
    .expect("encode");
    let truncated = enc[..enc.len() - 3].to_vec();
    let mut trailing = enc.clone();
    trailing.push(0);
    let mut version = enc.clone();
    version[4] = 2;
    let mut threshold = enc.clone();
    threshold[22] = 4; // threshold 4 of 3
    let mut magic = enc.clone();
    magic[0] = b'X';
    vec![
        ("valid-2-of-3", enc),
        ("valid-1-of-1", single),
        ("invalid-truncated", truncated),
        ("invalid-trailing-byte", trailing),
        ("invalid-version", version),
        ("invalid-threshold-above-total", threshold),
        ("invalid-magic", magic),
    ]
}

fn mechanism_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let row = |ty: u64| -> u8 {
        let i = MECHANISMS
            .iter()
            .position(|m| m.ty == ty)
            .expect("mechanism in table");
        u8::try_from(i).expect("small table")
    };
    let gcm = |iv_len: u16, iv_bits: u64, tag_bits: u64| {
        let mut v = vec![row(CKM_AES_GCM), 2];
        v.extend_from_slice(&iv_len.to_le_bytes());
        v.extend_from_slice(&iv_bits.to_le_bytes());
        v.extend_from_slice(&tag_bits.to_le_bytes());
        v.extend((0..iv_len).map(|i| i as u8));
        v.extend_from_slice(b"header");
        v
    };
    let pss = |ty: u64, hash: u64, mgf: u64, salt: u64| {
        let mut v = vec![row(ty), 3];
        for x in [hash, mgf, salt] {
            v.extend_from_slice(&x.to_le_bytes());
        }
        v
    };
    let mut cbc = vec![row(CKM_AES_CBC_PAD), 1];
    cbc.extend_from_slice(&[0xa5; 16]);
    let mut unknown = vec![0x80];
    unknown.extend_from_slice(&CKM_DES3_CBC.to_le_bytes());
    unknown.push(0);
    vec![
        ("valid-sha256", vec![row(CKM_SHA256), 0]),
        ("valid-ecdsa-sha384", vec![row(CKM_ECDSA_SHA384), 0]),
        ("valid-gcm", gcm(12, 96, 128)),
        ("valid-cbc-pad", cbc.clone()),
        (
            "valid-rsa-pss",
            pss(CKM_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA384, 48),
        ),
        (
            "valid-sha256-rsa-pss",
            pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256, CKG_MGF1_SHA256, 32),
        ),
        ("invalid-unknown-type", unknown),
        ("invalid-gcm-tag-bits", gcm(12, 0, 127)),
        ("invalid-cbc-short-iv", cbc[..cbc.len() - 1].to_vec()),
        (
            "invalid-pss-hash-mismatch",
            pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA384, CKG_MGF1_SHA256, 32),
        ),
    ]
}

/// Named seed inputs of one target.
type Seeds = Vec<(&'static str, Vec<u8>)>;

fn all_seeds() -> Vec<(&'static str, Seeds)> {
    vec![
        ("attributes", attributes_seeds()),
        ("share_text", share_seeds()),
        ("config_text", config_seeds()),
        ("store_header", header_seeds()),
        ("mechanism_params", mechanism_seeds()),
    ]
}

#[test]
fn generated_seeds_stay_small() {
    let all = all_seeds();
    let count: usize = all.iter().map(|(_, s)| s.len()).sum();
    assert!(count < 50, "{count} seed files");
    for (target, seeds) in &all {
        for (name, data) in seeds {
            assert!(data.len() < 4096, "{target}/{name} is {} bytes", data.len());
        }
    }
}

#[test]
#[ignore = "writes fuzz/corpus/*/{valid,invalid}-* seed files; run explicitly to regenerate"]
fn regenerate_seeds() {
    for (target, seeds) in all_seeds() {
        let dir = fuzz_dir().join("corpus").join(target);
        fs::create_dir_all(&dir).expect("create corpus dir");
        for (name, data) in seeds {
            fs::write(dir.join(name), data).expect("write seed");
        }
    }
}
