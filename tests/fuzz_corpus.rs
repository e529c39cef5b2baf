//! Replays the fuzz seed corpus (`fuzz/corpus/<target>/`) and any saved crash inputs
//! (`fuzz/regressions/<target>/`) through the same harness functions the fuzz targets call.
//!
//! Seed files named `valid-*` must be accepted by the code under test and files named
//! `invalid-*` must be rejected (for `sealed_record`: hold a genuine record or not; for
//! `engine_model`: every operation succeeds, or one is refused), so the corpus keeps covering
//! both paths. Every other file (fuzzer findings, `regression-*` crash inputs) only has to run
//! without a panic.
//!
//! `cargo test --test fuzz_corpus -- --ignored regenerate_seeds` rewrites the generated seeds.

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use cryptoki_sys::*;
use custos_pkcs11::fuzz_harness::{
    self, mechanism_input, model, seal_with_fuzz_key, SEALED_RECORD_HEADER,
};
use custos_pkcs11::mechanism::{RawParam, RawPrfData, CKM_AES_KEY_WRAP_KWP_LEGACY};
use custos_pkcs11::object::{Attributes, Value};
use custos_pkcs11::store::{StoreHeader, STORE_FORMAT_VERSION};
use custos_pkcs11::vault::{split_master_key, MasterKey, PinVerifier};

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

#[test]
fn replay_sealed_record() {
    assert!(replay("sealed_record", fuzz_harness::sealed_record) >= 2);
}

#[test]
fn replay_engine_model() {
    assert!(replay("engine_model", fuzz_harness::engine_model) >= 2);
}

#[test]
fn replay_frame() {
    assert!(replay("frame", custos_pkcs11::served::protocol::fuzz_frame) >= 2);
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
    let seed = |name, ty, p: RawParam| (name, mechanism_input(ty, &p));
    let gcm = |iv_len: usize, iv_bits: u64, tag_bits: u64| RawParam::Gcm {
        iv: (0..iv_len).map(|i| i as u8).collect(),
        iv_bits,
        aad: b"header".to_vec(),
        tag_bits,
    };
    let pss = |hash, mgf, salt_len| RawParam::Pss {
        hash,
        mgf,
        salt_len,
    };
    let oaep = |source, label: &[u8]| RawParam::Oaep {
        hash: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        source,
        label: label.to_vec(),
    };
    let ccm = |nonce_len: usize, mac_len| RawParam::Ccm {
        data_len: 32,
        nonce: vec![7; nonce_len],
        aad: b"aad".to_vec(),
        mac_len,
    };
    let ctr = |counter_bits| RawParam::Ctr {
        counter_bits,
        block: [0x11; 16],
    };
    // An uncompressed P-256 point (the generator).
    let mut point = vec![0x04];
    point.extend_from_slice(&[
        0x6b, 0x17, 0xd1, 0xf2, 0xe1, 0x2c, 0x42, 0x47, 0xf8, 0xbc, 0xe6, 0xe5, 0x63, 0xa4, 0x40,
        0xf2, 0x77, 0x03, 0x7d, 0x81, 0x2d, 0xeb, 0x33, 0xa0, 0xf4, 0xa1, 0x39, 0x45, 0xd8, 0x98,
        0xc2, 0x96, 0x4f, 0xe3, 0x42, 0xe2, 0xfe, 0x1a, 0x7f, 0x9b, 0x8e, 0xe7, 0xeb, 0x4a, 0x7c,
        0x0f, 0x9e, 0x16, 0x2b, 0xce, 0x33, 0x57, 0x6b, 0x31, 0x5e, 0xce, 0xcb, 0xb6, 0x40, 0x68,
        0x37, 0xbf, 0x51, 0xf5,
    ]);
    let ecdh = |kdf, shared: &[u8]| RawParam::Ecdh {
        kdf,
        shared_data: shared.to_vec(),
        public: point.clone(),
    };
    let hkdf = |extract, expand, salt_type, salt: &[u8]| RawParam::Hkdf {
        extract,
        expand,
        hash: CKM_SHA256,
        salt_type,
        salt: salt.to_vec(),
        salt_key: 0x1234,
        info: b"info".to_vec(),
    };
    let sp800 = |data: Vec<RawPrfData>, additional_keys| RawParam::Sp800 {
        prf: CKM_SHA256_HMAC,
        data,
        additional_keys,
    };
    let counter = RawPrfData::Iteration(Some((false, 32)));
    let label = RawPrfData::Bytes(b"label".to_vec());
    let dkm = RawPrfData::DkmLength(CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, false, 32);
    let pbkdf2 = |iterations, prf| RawParam::Pbkdf2 {
        salt_source: CKZ_SALT_SPECIFIED,
        salt: b"salt".to_vec(),
        iterations,
        prf,
        prf_data_len: 0,
        password: b"password".to_vec(),
    };
    let rsa_aes = |aes_bits, inner: RawParam| RawParam::RsaAesWrap {
        aes_bits,
        oaep: Box::new(inner),
    };
    let bytes = |n: usize| RawParam::Bytes(vec![0xa5; n]);
    vec![
        seed("valid-sha256", CKM_SHA256, RawParam::None),
        seed("valid-ecdsa-sha384", CKM_ECDSA_SHA384, RawParam::None),
        seed(
            "valid-kwp-legacy-number",
            CKM_AES_KEY_WRAP_KWP_LEGACY,
            RawParam::None,
        ),
        seed("valid-gcm", CKM_AES_GCM, gcm(12, 96, 128)),
        seed("valid-gcm-no-iv-bits", CKM_AES_GCM, gcm(16, 0, 96)),
        seed("valid-cbc", CKM_AES_CBC, bytes(16)),
        seed("valid-cbc-pad", CKM_AES_CBC_PAD, bytes(16)),
        seed("valid-cts", CKM_AES_CTS, bytes(16)),
        seed("valid-ctr", CKM_AES_CTR, ctr(32)),
        seed("valid-ccm", CKM_AES_CCM, ccm(12, 16)),
        seed(
            "valid-rsa-pss",
            CKM_RSA_PKCS_PSS,
            pss(CKM_SHA384, CKG_MGF1_SHA384, 48),
        ),
        seed(
            "valid-sha256-rsa-pss",
            CKM_SHA256_RSA_PKCS_PSS,
            pss(CKM_SHA256, CKG_MGF1_SHA256, 32),
        ),
        seed(
            "valid-oaep",
            CKM_RSA_PKCS_OAEP,
            oaep(CKZ_DATA_SPECIFIED, b"label"),
        ),
        seed("valid-oaep-no-source", CKM_RSA_PKCS_OAEP, oaep(0, b"")),
        seed(
            "valid-ecdh-x963",
            CKM_ECDH1_DERIVE,
            ecdh(CKD_SHA256_KDF, b"info"),
        ),
        seed(
            "valid-ecdh-null",
            CKM_ECDH1_COFACTOR_DERIVE,
            ecdh(CKD_NULL, b""),
        ),
        seed("valid-eddsa-none", CKM_EDDSA, RawParam::None),
        seed(
            "valid-eddsa-context",
            CKM_EDDSA,
            RawParam::Eddsa {
                prehash: true,
                context: Some(b"context".to_vec()),
            },
        ),
        seed(
            "valid-cmac-general",
            CKM_AES_CMAC_GENERAL,
            RawParam::Ulong(8),
        ),
        seed(
            "valid-hmac-general",
            CKM_SHA384_HMAC_GENERAL,
            RawParam::Ulong(48),
        ),
        seed(
            "valid-ecb-encrypt-data",
            CKM_AES_ECB_ENCRYPT_DATA,
            bytes(32),
        ),
        seed(
            "valid-cbc-encrypt-data",
            CKM_AES_CBC_ENCRYPT_DATA,
            RawParam::CbcEncryptData {
                iv: [3; 16],
                data: vec![4; 16],
            },
        ),
        seed(
            "valid-hkdf-derive",
            CKM_HKDF_DERIVE,
            hkdf(true, true, CKF_HKDF_SALT_DATA, b"salt"),
        ),
        seed(
            "valid-hkdf-data-salt-key",
            CKM_HKDF_DATA,
            hkdf(true, false, CKF_HKDF_SALT_KEY, b""),
        ),
        seed(
            "valid-hkdf-expand-only",
            CKM_HKDF_DERIVE,
            hkdf(false, true, 0x77, b""),
        ),
        seed(
            "valid-sp800-counter",
            CKM_SP800_108_COUNTER_KDF,
            sp800(vec![counter.clone(), label.clone(), dkm.clone()], 0),
        ),
        seed(
            "valid-pbkdf2",
            CKM_PKCS5_PBKD2,
            pbkdf2(1000, CKP_PKCS5_PBKD2_HMAC_SHA256),
        ),
        seed(
            "valid-concat-base-and-key",
            CKM_CONCATENATE_BASE_AND_KEY,
            RawParam::Ulong(5),
        ),
        seed(
            "valid-concat-data-and-base",
            CKM_CONCATENATE_DATA_AND_BASE,
            bytes(5),
        ),
        seed("valid-xor-base-and-data", CKM_XOR_BASE_AND_DATA, bytes(8)),
        seed(
            "valid-extract-key-from-key",
            CKM_EXTRACT_KEY_FROM_KEY,
            RawParam::Ulong(3),
        ),
        seed(
            "valid-rsa-aes-key-wrap",
            CKM_RSA_AES_KEY_WRAP,
            rsa_aes(256, oaep(CKZ_DATA_SPECIFIED, b"")),
        ),
        seed("invalid-unknown-type", CKM_DES3_CBC, RawParam::None),
        seed("invalid-digest-with-parameter", CKM_SHA256, bytes(4)),
        seed("invalid-key-wrap-with-iv", CKM_AES_KEY_WRAP, bytes(8)),
        seed("invalid-gcm-tag-bits", CKM_AES_GCM, gcm(12, 0, 127)),
        seed("invalid-gcm-iv-bits", CKM_AES_GCM, gcm(12, 95, 128)),
        seed("invalid-cbc-short-iv", CKM_AES_CBC_PAD, bytes(15)),
        seed("invalid-ctr-zero-bits", CKM_AES_CTR, ctr(0)),
        seed("invalid-ccm-short-nonce", CKM_AES_CCM, ccm(6, 16)),
        seed("invalid-ccm-odd-mac", CKM_AES_CCM, ccm(12, 5)),
        seed(
            "invalid-pss-hash-mismatch",
            CKM_SHA256_RSA_PKCS_PSS,
            pss(CKM_SHA384, CKG_MGF1_SHA256, 32),
        ),
        seed("invalid-oaep-source", CKM_RSA_PKCS_OAEP, oaep(0, b"label")),
        seed(
            "invalid-ecdh-null-shared-data",
            CKM_ECDH1_DERIVE,
            ecdh(CKD_NULL, b"info"),
        ),
        seed(
            "invalid-eddsa-long-context",
            CKM_EDDSA,
            RawParam::Eddsa {
                prehash: false,
                context: Some(vec![1; 256]),
            },
        ),
        seed(
            "invalid-cmac-general-17",
            CKM_AES_CMAC_GENERAL,
            RawParam::Ulong(17),
        ),
        seed(
            "invalid-hmac-general-zero",
            CKM_SHA256_HMAC_GENERAL,
            RawParam::Ulong(0),
        ),
        seed(
            "invalid-ecb-encrypt-data-unaligned",
            CKM_AES_ECB_ENCRYPT_DATA,
            bytes(15),
        ),
        seed(
            "invalid-hkdf-neither-step",
            CKM_HKDF_DERIVE,
            hkdf(false, false, CKF_HKDF_SALT_NULL, b""),
        ),
        seed(
            "invalid-hkdf-empty-salt-data",
            CKM_HKDF_DERIVE,
            hkdf(true, true, CKF_HKDF_SALT_DATA, b""),
        ),
        seed(
            "invalid-sp800-two-counters",
            CKM_SP800_108_COUNTER_KDF,
            sp800(vec![counter.clone(), counter.clone()], 0),
        ),
        seed(
            "invalid-sp800-additional-keys",
            CKM_SP800_108_COUNTER_KDF,
            sp800(vec![counter, label, dkm], 1),
        ),
        seed(
            "invalid-pbkdf2-zero-iterations",
            CKM_PKCS5_PBKD2,
            pbkdf2(0, CKP_PKCS5_PBKD2_HMAC_SHA256),
        ),
        seed(
            "invalid-pbkdf2-gost",
            CKM_PKCS5_PBKD2,
            pbkdf2(1000, CKP_PKCS5_PBKD2_HMAC_GOSTR3411),
        ),
        seed(
            "invalid-rsa-aes-bits",
            CKM_RSA_AES_KEY_WRAP,
            rsa_aes(100, oaep(CKZ_DATA_SPECIFIED, b"")),
        ),
        seed(
            "invalid-rsa-aes-without-oaep",
            CKM_RSA_AES_KEY_WRAP,
            rsa_aes(256, RawParam::None),
        ),
    ]
}

/// Seeds of the sealed-record target: genuine records of each kind, tampered ones, and
/// unsealed plaintext.
fn sealed_record_seeds() -> Vec<(&'static str, Vec<u8>)> {
    let input = |kind: u16, id: u64, slot: u32, mutation: [u8; 4], blob: &[u8]| {
        let mut v = kind.to_le_bytes().to_vec();
        v.extend_from_slice(&id.to_le_bytes());
        v.extend_from_slice(&slot.to_le_bytes());
        v.extend_from_slice(&mutation);
        assert_eq!(v.len(), SEALED_RECORD_HEADER);
        v.extend_from_slice(blob);
        v
    };
    let mut key = Attributes::new();
    key.set(CKA_CLASS, Value::Ulong(CKO_SECRET_KEY));
    key.set(CKA_KEY_TYPE, Value::Ulong(CKK_AES));
    key.set(CKA_VALUE, Value::Bytes(vec![9; 16]));
    key.set(CKA_LABEL, Value::Bytes(b"sealed".to_vec()));
    let object = key.encode();
    let verifier = PinVerifier::new(b"1234", 1).expect("verifier").to_bytes();

    let sealed_object = seal_with_fuzz_key(2, 5, 0, &object);
    let sealed_verifier = seal_with_fuzz_key(1, 0, 1, &verifier);
    let sealed_empty = seal_with_fuzz_key(3, 1, 0, b"");
    let mut flipped = sealed_object.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 0x01;
    let mut version = sealed_object.clone();
    version[0] ^= 0x02;
    vec![
        ("valid-object", input(2, 5, 0, [0, 7, 0, 3], &sealed_object)),
        (
            "valid-pin-verifier",
            input(1, 0, 1, [1, 0, 0, 0], &sealed_verifier),
        ),
        ("valid-empty", input(3, 1, 0, [4, 3, 0, 0], &sealed_empty)),
        (
            "invalid-flipped-tag",
            input(2, 5, 0, [2, 1, 0, 0], &flipped),
        ),
        (
            "invalid-other-id",
            input(2, 6, 0, [3, 1, 0, 0], &sealed_object),
        ),
        (
            "invalid-other-version",
            input(2, 5, 0, [5, 0, 0, 0], &version),
        ),
        (
            "invalid-short",
            input(2, 5, 0, [6, 0, 0, 0], &sealed_object[..29]),
        ),
        (
            "invalid-plain-attributes",
            input(2, 5, 0, [0, 9, 0, 0], &object),
        ),
    ]
}

/// Seeds of the model-based engine target: scripts whose every operation succeeds, and
/// scripts where the engine must refuse one.
fn engine_model_seeds() -> Vec<(&'static str, Vec<u8>)> {
    use model::Op::*;
    let open_rw = OpenSession { rw: true };
    let user = |session| Login {
        session,
        so: false,
        pin: 0,
    };
    // Storage flags: bit 0 token, 1 private, 2 sensitive, 3 extractable, 6 not copyable.
    // Usage flags: bit 0 sign, 1 verify, 2 wrap, 3 unwrap.
    let secret = |flags, usage, key| CreateSecret {
        session: 0,
        flags,
        usage,
        label: 1,
        id: 1,
        key,
    };
    let sign = |key, mech| Sign {
        session: 0,
        key,
        mech,
        message: b"message".to_vec(),
    };
    let seeds: Vec<(&'static str, Vec<model::Op>)> = vec![
        (
            "valid-data-objects",
            vec![
                open_rw.clone(),
                user(0),
                CreateData {
                    session: 0,
                    flags: 0b011,
                    label: 1,
                    value: b"private token data".to_vec(),
                },
                CreateData {
                    session: 0,
                    flags: 0b100,
                    label: 2,
                    value: b"public session data".to_vec(),
                },
                Find {
                    session: 0,
                    by: 1,
                    arg: 1,
                    chunk: 0,
                },
                GetAttributes {
                    session: 0,
                    object: 0,
                },
                Copy {
                    session: 0,
                    object: 0,
                    change: 3,
                    arg: 3,
                },
                SetAttribute {
                    session: 0,
                    object: 2,
                    change: 0,
                    arg: 2,
                },
                Destroy {
                    session: 0,
                    object: 2,
                },
                Logout { session: 0 },
                Find {
                    session: 0,
                    by: 0,
                    arg: 0,
                    chunk: 1,
                },
            ],
        ),
        (
            "valid-hmac-keys",
            vec![
                open_rw.clone(),
                user(0),
                secret(0b011, 0b11, 2),
                sign(0, 0),
                Copy {
                    session: 0,
                    object: 0,
                    change: 2,
                    arg: 0,
                },
                sign(1, 0),
                GenerateSecret {
                    session: 0,
                    flags: 0b1010,
                    usage: 0b11,
                    label: 2,
                    id: 2,
                    key: 3,
                },
                sign(2, 0),
                GetAttributes {
                    session: 0,
                    object: 2,
                },
            ],
        ),
        (
            "valid-cmac-and-wrap",
            vec![
                open_rw.clone(),
                user(0),
                secret(0b0011, 0b1111, 1),
                sign(0, 1),
                GenerateSecret {
                    session: 0,
                    flags: 0b1010,
                    usage: 0b11,
                    label: 3,
                    id: 3,
                    key: 2,
                },
                Wrap {
                    session: 0,
                    wrapping: 0,
                    key: 1,
                    unwrapping: 0,
                    flags: 0b1010,
                },
                sign(2, 0),
                GetAttributes {
                    session: 0,
                    object: 2,
                },
            ],
        ),
        (
            "valid-ec-sign-and-wrap",
            vec![
                open_rw.clone(),
                user(0),
                GenerateEcPair {
                    session: 0,
                    flags: 0b1011,
                    usage: 0b11,
                    label: 1,
                    id: 2,
                },
                sign(1, 2),
                secret(0b0010, 0b1100, 0),
                Wrap {
                    session: 0,
                    wrapping: 2,
                    key: 1,
                    unwrapping: 2,
                    flags: 0b0110,
                },
                sign(3, 2),
                Find {
                    session: 0,
                    by: 7,
                    arg: 2,
                    chunk: 2,
                },
            ],
        ),
        (
            "valid-pin-changes",
            vec![
                open_rw.clone(),
                SetPin {
                    session: 0,
                    old: 0,
                    new: 1,
                },
                Login {
                    session: 0,
                    so: false,
                    pin: 1,
                },
                Logout { session: 0 },
                Login {
                    session: 0,
                    so: true,
                    pin: 0,
                },
                InitPin { session: 0, pin: 0 },
                Logout { session: 0 },
                user(0),
            ],
        ),
        (
            "valid-find-in-steps",
            vec![
                open_rw.clone(),
                OpenSession { rw: false },
                user(0),
                secret(0b0011, 0x80, 0),
                secret(0b0010, 0x80, 3),
                FindInit {
                    session: 0,
                    by: 3,
                    arg: 1,
                },
                secret(0b0010, 0x80, 1),
                FindFinal { session: 0 },
                Find {
                    session: 1,
                    by: 6,
                    arg: 0,
                    chunk: 0,
                },
                CloseSession { session: 0 },
            ],
        ),
        (
            "valid-read-only-session",
            vec![
                OpenSession { rw: false },
                user(0),
                CreateData {
                    session: 0,
                    flags: 0b010,
                    label: 0,
                    value: vec![],
                },
                Find {
                    session: 0,
                    by: 3,
                    arg: 0,
                    chunk: 3,
                },
            ],
        ),
        (
            "invalid-private-object-logged-out",
            vec![
                open_rw.clone(),
                CreateData {
                    session: 0,
                    flags: 0b010,
                    label: 0,
                    value: vec![1],
                },
            ],
        ),
        (
            "invalid-token-object-read-only",
            vec![
                OpenSession { rw: false },
                user(0),
                CreateData {
                    session: 0,
                    flags: 0b001,
                    label: 0,
                    value: vec![1],
                },
            ],
        ),
        (
            "invalid-sign-after-logout",
            vec![
                open_rw.clone(),
                user(0),
                secret(0b0011, 0b11, 2),
                Logout { session: 0 },
                sign(0, 0),
            ],
        ),
        (
            "invalid-pin-lockout",
            vec![
                open_rw.clone(),
                Login {
                    session: 0,
                    so: false,
                    pin: 1,
                },
                Login {
                    session: 0,
                    so: false,
                    pin: 1,
                },
                Login {
                    session: 0,
                    so: false,
                    pin: 1,
                },
                user(0),
            ],
        ),
        (
            "invalid-stale-handle",
            vec![
                open_rw.clone(),
                CreateData {
                    session: 0,
                    flags: 0,
                    label: 1,
                    value: vec![2],
                },
                Destroy {
                    session: 0,
                    object: 0,
                },
                GetAttributes {
                    session: 0,
                    object: 0,
                },
            ],
        ),
        (
            "invalid-unwrap-with-other-key",
            vec![
                open_rw.clone(),
                user(0),
                secret(0b0010, 0b1100, 0),
                secret(0b0010, 0b1100, 1),
                secret(0b1010, 0b11, 2),
                Wrap {
                    session: 0,
                    wrapping: 0,
                    key: 2,
                    unwrapping: 1,
                    flags: 0,
                },
            ],
        ),
        (
            "invalid-so-with-read-only-session",
            vec![
                OpenSession { rw: false },
                open_rw.clone(),
                Login {
                    session: 1,
                    so: true,
                    pin: 0,
                },
            ],
        ),
        (
            "invalid-copy-not-copyable",
            vec![
                open_rw.clone(),
                user(0),
                secret(0b100_0011, 0b11, 2),
                Copy {
                    session: 0,
                    object: 0,
                    change: 0,
                    arg: 0,
                },
            ],
        ),
        (
            "invalid-unset-sensitive",
            vec![
                open_rw.clone(),
                user(0),
                secret(0b0111, 0b11, 2),
                SetAttribute {
                    session: 0,
                    object: 0,
                    change: 3,
                    arg: 0,
                },
            ],
        ),
        // A data object in a key's place: CKR_(UN)WRAPPING_KEY_HANDLE_INVALID / CKR_KEY_HANDLE_INVALID.
        (
            "regression-wrap-with-data-object",
            vec![
                open_rw.clone(),
                user(0),
                CreateData {
                    session: 0,
                    flags: 0,
                    label: 0,
                    value: vec![],
                },
                secret(0b1010, 0b1100, 0),
                Wrap {
                    session: 0,
                    wrapping: 0,
                    key: 1,
                    unwrapping: 1,
                    flags: 0,
                },
            ],
        ),
        (
            "regression-wrap-data-object",
            vec![
                open_rw.clone(),
                user(0),
                secret(0b0010, 0b1100, 0),
                CreateData {
                    session: 0,
                    flags: 0,
                    label: 0,
                    value: vec![],
                },
                Wrap {
                    session: 0,
                    wrapping: 0,
                    key: 1,
                    unwrapping: 0,
                    flags: 0,
                },
            ],
        ),
        (
            "regression-unwrap-with-data-object",
            vec![
                open_rw.clone(),
                user(0),
                secret(0b0010, 0b1100, 0),
                secret(0b1010, 0b11, 2),
                CreateData {
                    session: 0,
                    flags: 0,
                    label: 0,
                    value: vec![],
                },
                Wrap {
                    session: 0,
                    wrapping: 0,
                    key: 1,
                    unwrapping: 2,
                    flags: 0,
                },
            ],
        ),
        (
            "invalid-closed-session",
            vec![
                open_rw,
                CloseSession { session: 0 },
                CreateData {
                    session: 0,
                    flags: 0,
                    label: 0,
                    value: vec![],
                },
            ],
        ),
    ];
    seeds
        .into_iter()
        .map(|(name, ops)| (name, model::encode(&ops)))
        .collect()
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
        ("sealed_record", sealed_record_seeds()),
        ("engine_model", engine_model_seeds()),
    ]
}

#[test]
fn generated_seeds_stay_small() {
    let all = all_seeds();
    let count: usize = all.iter().map(|(_, s)| s.len()).sum();
    assert!(count < 200, "{count} seed files");
    for (target, seeds) in &all {
        for (name, data) in seeds {
            assert!(data.len() < 4096, "{target}/{name} is {} bytes", data.len());
        }
    }
}

/// Every generated seed has been written to the corpus (contents may differ where the
/// generator uses fresh randomness: share polynomials, record nonces).
#[test]
fn generated_seeds_are_in_the_corpus() {
    let mut missing = Vec::new();
    for (target, seeds) in all_seeds() {
        let dir = fuzz_dir().join("corpus").join(target);
        for (name, _) in seeds {
            if !dir.join(name).is_file() {
                missing.push(format!("{target}/{name}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "seeds missing from fuzz/corpus (run the ignored regenerate_seeds test): {missing:?}"
    );
}

/// The model script seeds decode back to the operations they were written from.
#[test]
fn engine_model_seeds_decode_to_their_operations() {
    for (name, data) in engine_model_seeds() {
        let ops = model::decode(&data);
        assert!(!ops.is_empty(), "{name} is empty");
        assert_eq!(model::encode(&ops), data, "{name} does not round-trip");
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
