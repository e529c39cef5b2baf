//! Engine tests: the token engine driven directly, without the C ABI.

use cryptoki_sys::*;

use super::*;
use crate::crypto::HashAlg;
use crate::mechanism::{GcmParams, Kind, Mechanism, PssParams};

const SO: &[u8] = b"so-pin-1234";
const PIN: &[u8] = b"user-1234";

fn m(ty: CK_MECHANISM_TYPE) -> Mechanism {
    Mechanism::simple(ty).unwrap()
}

fn mk(ty: CK_MECHANISM_TYPE, kind: Kind) -> Mechanism {
    Mechanism { ty, kind }
}

fn label(s: &str) -> [u8; 32] {
    crate::ffi::args::padded(s)
}

fn config(dir: &std::path::Path) -> Config {
    let mut c = Config::for_store(dir);
    c.max_pin_failures = 3;
    c.pin_iterations = 10;
    c.witness_dir = Some(dir.join("witness"));
    c
}

/// A --dev store with slot 0 initialised and its user PIN set.
fn ready() -> (tempfile::TempDir, Engine) {
    let dir = tempfile::tempdir().unwrap();
    provision::create_dev_store(dir.path(), 2).unwrap();
    let e = Engine::open(config(dir.path())).unwrap();
    e.init_token(0, SO, label("test")).unwrap();
    let h = e
        .open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
        .unwrap();
    e.login(h, CKU_SO, SO).unwrap();
    e.init_pin(h, PIN).unwrap();
    e.close_session(h).unwrap();
    (dir, e)
}

fn user_session(e: &Engine) -> SessionHandle {
    let h = e
        .open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
        .unwrap();
    e.login(h, CKU_USER, PIN).unwrap();
    h
}

fn data(r: Result<Produced>) -> Vec<u8> {
    match r.unwrap() {
        Produced::Data(v) => v,
        Produced::Needed(n) => panic!("needed {n}"),
    }
}

#[test]
fn sealed_store_has_no_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let shares = provision::create_store(dir.path(), 2, 3, 2).unwrap();
    let e = Engine::open(config(dir.path())).unwrap();
    assert!(!e.is_unsealed());
    assert!(e.seal_problem().unwrap().contains("sealed"));
    assert!(e.slot_list(true).is_empty());
    assert_eq!(e.slot_list(false), vec![0, 1]);
    assert_eq!(
        e.open_session(0, CKF_SERIAL_SESSION),
        Err(Error::TokenNotPresent)
    );
    assert!(!e.slot_info(0).unwrap().token_present);

    // One share is not a quorum; two are.
    let mut it = shares.into_iter();
    let s1 = it.next().unwrap();
    let s2 = it.next().unwrap();
    let dir_s = dir.path().to_path_buf();
    let one = Share::parse(&s1.to_text()).unwrap();
    assert!(Engine::open_with_shares(config(&dir_s), vec![one]).is_err());
    let e = Engine::open_with_shares(config(&dir_s), vec![s1, s2]).unwrap();
    assert!(e.is_unsealed());
    assert_eq!(e.slot_list(true), vec![0, 1]);
}

#[test]
fn wrong_duplicate_and_foreign_shares_are_refused() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let sa = provision::create_store(a.path(), 2, 3, 1).unwrap();
    let sb = provision::create_store(b.path(), 2, 3, 1).unwrap();
    let dup = vec![
        Share::parse(&sa[0].to_text()).unwrap(),
        Share::parse(&sa[0].to_text()).unwrap(),
    ];
    let err = Engine::open_with_shares(config(a.path()), dup)
        .err()
        .unwrap();
    assert!(err.to_string().to_lowercase().contains("already"), "{err}");
    let foreign = vec![
        Share::parse(&sa[0].to_text()).unwrap(),
        Share::parse(&sb[1].to_text()).unwrap(),
    ];
    let err = Engine::open_with_shares(config(a.path()), foreign)
        .err()
        .unwrap();
    assert!(err.to_string().to_lowercase().contains("store"), "{err}");
}

#[test]
fn token_lifecycle_and_stable_slots() {
    let (_d, e) = ready();
    let info = e.token_info(0).unwrap();
    assert_ne!(info.flags & CKF_TOKEN_INITIALIZED, 0);
    assert_ne!(info.flags & CKF_USER_PIN_INITIALIZED, 0);
    assert_eq!(&info.label[..4], b"test");
    let blank = e.token_info(1).unwrap();
    assert_eq!(blank.flags & CKF_TOKEN_INITIALIZED, 0);
    assert_eq!(
        e.open_session(1, CKF_SERIAL_SESSION),
        Err(Error::TokenNotRecognized)
    );

    // A token object, then re-initialisation with the wrong and the right SO PIN.
    let h = user_session(&e);
    e.create_object(
        h,
        &[
            Attr::ulong(CKA_CLASS, CKO_DATA),
            Attr::bool(CKA_TOKEN, true),
            Attr::bytes(CKA_VALUE, b"hello".to_vec()),
        ],
    )
    .unwrap();
    assert_eq!(
        e.init_token(0, SO, label("again")),
        Err(Error::SessionExists)
    );
    e.close_session(h).unwrap();
    assert_eq!(
        e.init_token(0, b"wrong-pin", label("again")),
        Err(Error::PinIncorrect)
    );
    e.init_token(0, SO, label("again")).unwrap();
    assert_eq!(e.slot_list(true), vec![0, 1]);
    let info = e.token_info(0).unwrap();
    assert_eq!(info.object_count, 0);
    assert_eq!(info.flags & CKF_USER_PIN_INITIALIZED, 0);
    assert_eq!(&info.label[..5], b"again");
}

#[test]
fn pin_counters_lock_and_so_unlocks() {
    let (_d, e) = ready();
    let h = e
        .open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
        .unwrap();
    assert_eq!(e.login(h, CKU_USER, b"bad-pin"), Err(Error::PinIncorrect));
    assert_ne!(e.token_info(0).unwrap().flags & CKF_USER_PIN_COUNT_LOW, 0);
    assert_eq!(e.login(h, CKU_USER, b"bad-pin"), Err(Error::PinIncorrect));
    assert_ne!(e.token_info(0).unwrap().flags & CKF_USER_PIN_FINAL_TRY, 0);
    assert_eq!(e.login(h, CKU_USER, b"bad-pin"), Err(Error::PinIncorrect));
    assert_ne!(e.token_info(0).unwrap().flags & CKF_USER_PIN_LOCKED, 0);
    // Locked: even the right PIN is refused.
    assert_eq!(e.login(h, CKU_USER, PIN), Err(Error::PinLocked));
    // The SO resets it.
    e.login(h, CKU_SO, SO).unwrap();
    e.init_pin(h, b"new-pin-1").unwrap();
    e.logout(h).unwrap();
    e.login(h, CKU_USER, b"new-pin-1").unwrap();
    assert_eq!(
        e.token_info(0).unwrap().flags & (CKF_USER_PIN_COUNT_LOW | CKF_USER_PIN_LOCKED),
        0
    );
}

#[test]
fn counters_survive_reopen() {
    let (d, e) = ready();
    let h = e.open_session(0, CKF_SERIAL_SESSION).unwrap();
    assert_eq!(e.login(h, CKU_USER, b"bad-pin"), Err(Error::PinIncorrect));
    drop(e);
    let e = Engine::open(config(d.path())).unwrap();
    assert_ne!(e.token_info(0).unwrap().flags & CKF_USER_PIN_COUNT_LOW, 0);
}

#[test]
fn session_and_login_rules() {
    let (_d, e) = ready();
    let ro = e.open_session(0, CKF_SERIAL_SESSION).unwrap();
    assert_eq!(
        e.open_session(0, 0),
        Err(Error::SessionParallelNotSupported)
    );
    assert_eq!(e.login(ro, CKU_SO, SO), Err(Error::SessionReadOnlyExists));
    e.close_session(ro).unwrap();
    let rw = e
        .open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
        .unwrap();
    e.login(rw, CKU_SO, SO).unwrap();
    assert_eq!(e.session_info(rw).unwrap().state, CKS_RW_SO_FUNCTIONS);
    assert_eq!(
        e.open_session(0, CKF_SERIAL_SESSION),
        Err(Error::SessionReadWriteSoExists)
    );
    assert_eq!(
        e.login(rw, CKU_USER, PIN),
        Err(Error::UserAnotherAlreadyLoggedIn)
    );
    assert_eq!(e.login(rw, CKU_SO, SO), Err(Error::UserAlreadyLoggedIn));
    assert_eq!(e.login(rw, 7, SO), Err(Error::UserTypeInvalid));
    e.logout(rw).unwrap();
    assert_eq!(e.logout(rw), Err(Error::UserNotLoggedIn));
    e.login(rw, CKU_USER, PIN).unwrap();
    assert_eq!(e.session_info(rw).unwrap().state, CKS_RW_USER_FUNCTIONS);
    // Closing the last session logs out.
    e.close_session(rw).unwrap();
    let again = e.open_session(0, CKF_SERIAL_SESSION).unwrap();
    assert_eq!(e.session_info(again).unwrap().state, CKS_RO_PUBLIC_SESSION);
    assert_eq!(e.close_session(12345), Err(Error::SessionHandleInvalid));
}

#[test]
fn set_pin_changes_the_user_pin() {
    let (_d, e) = ready();
    let h = user_session(&e);
    e.set_pin(h, PIN, b"changed-1").unwrap();
    e.logout(h).unwrap();
    assert_eq!(e.login(h, CKU_USER, PIN), Err(Error::PinIncorrect));
    e.login(h, CKU_USER, b"changed-1").unwrap();
    assert_eq!(e.set_pin(h, b"changed-1", b"x"), Err(Error::PinLenRange));
}

#[test]
fn objects_visibility_and_persistence() {
    let (d, e) = ready();
    let public = e
        .open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
        .unwrap();
    let priv_t = [
        Attr::ulong(CKA_CLASS, CKO_DATA),
        Attr::bool(CKA_TOKEN, true),
        Attr::bool(CKA_PRIVATE, true),
        Attr::bytes(CKA_LABEL, b"secret-note".to_vec()),
    ];
    assert_eq!(
        e.create_object(public, &priv_t),
        Err(Error::UserNotLoggedIn)
    );
    e.login(public, CKU_USER, PIN).unwrap();
    let obj = e.create_object(public, &priv_t).unwrap();
    e.find_init(public, &[Attr::bytes(CKA_LABEL, b"secret-note".to_vec())])
        .unwrap();
    assert_eq!(e.find(public, 10).unwrap(), vec![obj]);
    assert_eq!(e.find_init(public, &[]), Err(Error::OperationActive));
    e.find_final(public).unwrap();
    e.logout(public).unwrap();
    e.find_init(public, &[]).unwrap();
    assert!(e.find(public, 10).unwrap().is_empty());
    e.find_final(public).unwrap();
    assert_eq!(
        e.get_attributes(public, obj, &[CKA_LABEL]),
        Err(Error::ObjectHandleInvalid)
    );
    drop(e);

    // Reopened: the object is still there, with its attributes.
    let e = Engine::open(config(d.path())).unwrap();
    let h = user_session(&e);
    e.find_init(h, &[Attr::ulong(CKA_CLASS, CKO_DATA)]).unwrap();
    let found = e.find(h, 10).unwrap();
    assert_eq!(found.len(), 1);
    let got = e
        .get_attributes(h, found[0], &[CKA_LABEL, CKA_MODULUS])
        .unwrap();
    assert_eq!(
        got[0],
        AttrRead::Value(Value::Bytes(b"secret-note".to_vec()))
    );
    assert_eq!(got[1], AttrRead::Invalid);
}

#[test]
fn two_engines_see_each_others_commits() {
    let (d, a) = ready();
    let b = Engine::open(config(d.path())).unwrap();
    let ha = user_session(&a);
    let hb = user_session(&b);
    let t = [
        Attr::ulong(CKA_CLASS, CKO_DATA),
        Attr::bool(CKA_TOKEN, true),
        Attr::bytes(CKA_LABEL, b"from-a".to_vec()),
    ];
    let obj = a.create_object(ha, &t).unwrap();
    b.find_init(hb, &[Attr::bytes(CKA_LABEL, b"from-a".to_vec())])
        .unwrap();
    assert_eq!(b.find(hb, 5).unwrap(), vec![obj]);
    b.find_final(hb).unwrap();
    b.set_attributes(hb, obj, &[Attr::bytes(CKA_LABEL, b"renamed".to_vec())])
        .unwrap();
    let got = a.get_attributes(ha, obj, &[CKA_LABEL]).unwrap();
    assert_eq!(got[0], AttrRead::Value(Value::Bytes(b"renamed".to_vec())));
    b.destroy_object(hb, obj).unwrap();
    assert_eq!(
        a.get_attributes(ha, obj, &[CKA_LABEL]),
        Err(Error::ObjectHandleInvalid)
    );
}

#[test]
fn session_objects_go_with_their_session() {
    let (_d, e) = ready();
    let h1 = user_session(&e);
    let h2 = e.open_session(0, CKF_SERIAL_SESSION).unwrap();
    let obj = e
        .create_object(
            h1,
            &[
                Attr::ulong(CKA_CLASS, CKO_DATA),
                Attr::bytes(CKA_LABEL, b"s".to_vec()),
            ],
        )
        .unwrap();
    assert!(obj >= SESSION_OBJECT_BASE);
    // Visible from the other session of the application.
    assert!(e.get_attributes(h2, obj, &[CKA_LABEL]).is_ok());
    e.close_session(h1).unwrap();
    assert_eq!(
        e.get_attributes(h2, obj, &[CKA_LABEL]),
        Err(Error::ObjectHandleInvalid)
    );
}

#[test]
fn read_only_session_cannot_write_token_objects() {
    let (_d, e) = ready();
    let h = e.open_session(0, CKF_SERIAL_SESSION).unwrap();
    e.login(h, CKU_USER, PIN).unwrap();
    let t = [
        Attr::ulong(CKA_CLASS, CKO_DATA),
        Attr::bool(CKA_TOKEN, true),
    ];
    assert_eq!(e.create_object(h, &t), Err(Error::SessionReadOnly));
    // Session objects are fine in a read-only session.
    assert!(e.create_object(h, &t[..1]).is_ok());
}

#[test]
fn attribute_policy_through_the_engine() {
    let (_d, e) = ready();
    let h = user_session(&e);
    let key = e
        .generate_key(
            h,
            &m(CKM_AES_KEY_GEN),
            &[
                Attr::ulong(CKA_VALUE_LEN, 32),
                Attr::bool(CKA_TOKEN, true),
                Attr::bool(CKA_COPYABLE, false),
            ],
        )
        .unwrap();
    let got = e
        .get_attributes(
            h,
            key,
            &[
                CKA_VALUE,
                CKA_ALWAYS_SENSITIVE,
                CKA_NEVER_EXTRACTABLE,
                CKA_LOCAL,
                CKA_UNIQUE_ID,
            ],
        )
        .unwrap();
    assert_eq!(got[0], AttrRead::Sensitive);
    assert_eq!(got[1], AttrRead::Value(Value::Bool(true)));
    assert_eq!(got[2], AttrRead::Value(Value::Bool(true)));
    assert_eq!(got[3], AttrRead::Value(Value::Bool(true)));
    assert!(matches!(&got[4], AttrRead::Value(Value::Bytes(b)) if b.len() == 32));
    assert_eq!(
        e.set_attributes(h, key, &[Attr::bool(CKA_SENSITIVE, false)]),
        Err(Error::AttributeReadOnly)
    );
    assert_eq!(
        e.set_attributes(h, key, &[Attr::bool(CKA_EXTRACTABLE, true)]),
        Err(Error::AttributeReadOnly)
    );
    assert_eq!(e.copy_object(h, key, &[]), Err(Error::ActionProhibited));
    let fixed = e
        .create_object(
            h,
            &[
                Attr::ulong(CKA_CLASS, CKO_DATA),
                Attr::bool(CKA_TOKEN, true),
                Attr::bool(CKA_DESTROYABLE, false),
                Attr::bool(CKA_MODIFIABLE, false),
            ],
        )
        .unwrap();
    assert_eq!(e.destroy_object(h, fixed), Err(Error::ActionProhibited));
    assert_eq!(
        e.set_attributes(h, fixed, &[Attr::bytes(CKA_LABEL, b"x".to_vec())]),
        Err(Error::ActionProhibited)
    );
    let copy = e
        .copy_object(h, fixed, &[Attr::bool(CKA_TOKEN, false)])
        .unwrap();
    let a = e.get_attributes(h, fixed, &[CKA_UNIQUE_ID]).unwrap();
    let b = e.get_attributes(h, copy, &[CKA_UNIQUE_ID]).unwrap();
    assert_ne!(a, b);
}

#[test]
fn aes_gcm_and_cbc_pad() {
    let (_d, e) = ready();
    let h = user_session(&e);
    let key = e
        .generate_key(h, &m(CKM_AES_KEY_GEN), &[Attr::ulong(CKA_VALUE_LEN, 32)])
        .unwrap();
    let gcm = mk(
        CKM_AES_GCM,
        Kind::AesGcm(GcmParams {
            iv: vec![3; 12],
            aad: b"header".to_vec(),
            tag_bits: 128,
        }),
    );
    let msg = b"the quick brown fox jumps over the lazy dog".to_vec();
    e.encrypt_init(h, &gcm, key).unwrap();
    assert_eq!(
        e.encrypt(h, &msg, Out::Query).unwrap(),
        Produced::Needed(msg.len() + 16)
    );
    assert_eq!(
        e.encrypt(h, &msg, Out::Capacity(3)).unwrap(),
        Produced::Needed(msg.len() + 16)
    );
    let ct = data(e.encrypt(h, &msg, Out::Capacity(1000)));
    assert_eq!(ct.len(), msg.len() + 16);
    // Multi-part decryption gives the same plaintext.
    e.decrypt_init(h, &gcm, key).unwrap();
    let mut pt = data(e.decrypt_update(h, &ct[..10], Out::Capacity(1000)));
    pt.extend(data(e.decrypt_update(h, &ct[10..], Out::Capacity(1000))));
    pt.extend(data(e.decrypt_final(h, Out::Capacity(1000))));
    assert_eq!(pt, msg);
    // A flipped bit is refused and ends the operation.
    let mut bad = ct.clone();
    bad[0] ^= 1;
    e.decrypt_init(h, &gcm, key).unwrap();
    assert_eq!(
        e.decrypt(h, &bad, Out::Capacity(1000)),
        Err(Error::EncryptedDataInvalid)
    );
    assert_eq!(
        e.decrypt(h, &ct, Out::Capacity(1000)),
        Err(Error::OperationNotInitialized)
    );

    let cbc = mk(CKM_AES_CBC_PAD, Kind::AesCbcPad([9; 16]));
    e.encrypt_init(h, &cbc, key).unwrap();
    let single = data(e.encrypt(h, &msg, Out::Capacity(1000)));
    assert_eq!(single.len(), 48);
    e.encrypt_init(h, &cbc, key).unwrap();
    let mut multi = Vec::new();
    for chunk in msg.chunks(7) {
        multi.extend(data(e.encrypt_update(h, chunk, Out::Capacity(1000))));
    }
    multi.extend(data(e.encrypt_final(h, Out::Capacity(1000))));
    assert_eq!(single, multi);
    e.decrypt_init(h, &cbc, key).unwrap();
    assert_eq!(data(e.decrypt(h, &single, Out::Capacity(1000))), msg);
}

#[test]
fn ecdsa_and_rsa_sign_verify() {
    let (_d, e) = ready();
    let h = user_session(&e);
    let p256 = crate::crypto::Curve::P256.oid_der().to_vec();
    let (pubk, privk) = e
        .generate_key_pair(
            h,
            &m(CKM_EC_KEY_PAIR_GEN),
            &[
                Attr::bytes(CKA_EC_PARAMS, p256),
                Attr::bool(CKA_TOKEN, true),
            ],
            &[Attr::bool(CKA_TOKEN, true)],
        )
        .unwrap();
    let msg = b"message to sign";
    e.sign_init(h, &m(CKM_ECDSA_SHA256), privk).unwrap();
    let sig = data(e.sign(h, msg, Out::Capacity(200)));
    assert_eq!(sig.len(), 64);
    e.verify_init(h, &m(CKM_ECDSA_SHA256), pubk).unwrap();
    e.verify(h, msg, &sig).unwrap();
    e.verify_init(h, &m(CKM_ECDSA_SHA256), pubk).unwrap();
    assert_eq!(
        e.verify(h, b"other message", &sig),
        Err(Error::SignatureInvalid)
    );
    // The wrong key class for the operation.
    assert_eq!(
        e.sign_init(h, &m(CKM_ECDSA_SHA256), pubk),
        Err(Error::KeyTypeInconsistent)
    );
    // CKM_ECDSA over a digest of any length.
    for len in [20usize, 32, 64] {
        let digest = vec![0x5a; len];
        e.sign_init(h, &m(CKM_ECDSA), privk).unwrap();
        let s = data(e.sign(h, &digest, Out::Capacity(200)));
        e.verify_init(h, &m(CKM_ECDSA), pubk).unwrap();
        e.verify(h, &digest, &s).unwrap();
    }

    let (rpub, rpriv) = e
        .generate_key_pair(
            h,
            &m(CKM_RSA_PKCS_KEY_PAIR_GEN),
            &[Attr::ulong(CKA_MODULUS_BITS, 2048)],
            &[Attr::bool(CKA_SIGN, true)],
        )
        .unwrap();
    e.sign_init(h, &m(CKM_SHA256_RSA_PKCS), rpriv).unwrap();
    assert_eq!(e.sign(h, msg, Out::Query).unwrap(), Produced::Needed(256));
    let s1 = data(e.sign(h, msg, Out::Capacity(256)));
    // CKM_RSA_PKCS over the caller's DigestInfo gives the same signature.
    let mut di = HashAlg::Sha256.digest_info_prefix().to_vec();
    di.extend(crate::crypto::digest(HashAlg::Sha256, msg));
    e.sign_init(h, &m(CKM_RSA_PKCS), rpriv).unwrap();
    let s2 = data(e.sign(h, &di, Out::Capacity(256)));
    assert_eq!(s1, s2);
    e.verify_init(h, &m(CKM_SHA256_RSA_PKCS), rpub).unwrap();
    e.verify_update(h, &msg[..4]).unwrap();
    e.verify_update(h, &msg[4..]).unwrap();
    e.verify_final(h, &s1).unwrap();

    let pss = PssParams {
        hash: HashAlg::Sha256,
        mgf1: HashAlg::Sha256,
        salt_len: 32,
    };
    e.sign_init(
        h,
        &mk(CKM_SHA256_RSA_PKCS_PSS, Kind::RsaPssWith(pss)),
        rpriv,
    )
    .unwrap();
    e.sign_update(h, msg).unwrap();
    let s3 = data(e.sign_final(h, Out::Capacity(256)));
    e.verify_init(h, &mk(CKM_SHA256_RSA_PKCS_PSS, Kind::RsaPssWith(pss)), rpub)
        .unwrap();
    e.verify(h, msg, &s3).unwrap();
    // PSS over a digest of the wrong length.
    e.sign_init(h, &mk(CKM_RSA_PKCS_PSS, Kind::RsaPss(pss)), rpriv)
        .unwrap();
    assert_eq!(
        e.sign(h, &[1u8; 20], Out::Capacity(256)),
        Err(Error::DataLenRange)
    );
}

#[test]
fn usage_flags_and_allowed_mechanisms_are_enforced() {
    let (_d, e) = ready();
    let h = user_session(&e);
    let p256 = crate::crypto::Curve::P256.oid_der().to_vec();
    let (_, no_sign) = e
        .generate_key_pair(
            h,
            &m(CKM_EC_KEY_PAIR_GEN),
            &[Attr::bytes(CKA_EC_PARAMS, p256.clone())],
            &[Attr::bool(CKA_SIGN, false)],
        )
        .unwrap();
    assert_eq!(
        e.sign_init(h, &m(CKM_ECDSA), no_sign),
        Err(Error::KeyFunctionNotPermitted)
    );
    let (_, only256) = e
        .generate_key_pair(
            h,
            &m(CKM_EC_KEY_PAIR_GEN),
            &[Attr::bytes(CKA_EC_PARAMS, p256)],
            &[Attr {
                ty: CKA_ALLOWED_MECHANISMS,
                value: Value::Mechanisms(vec![CKM_ECDSA_SHA256]),
            }],
        )
        .unwrap();
    assert!(e.sign_init(h, &m(CKM_ECDSA_SHA256), only256).is_ok());
    assert_eq!(
        e.sign_init(h, &m(CKM_ECDSA_SHA384), only256),
        Err(Error::OperationActive)
    );
    e.cancel(h, CKF_SIGN).unwrap();
    assert_eq!(
        e.sign_init(h, &m(CKM_ECDSA_SHA384), only256),
        Err(Error::MechanismInvalid)
    );
}

#[test]
fn digests_single_and_multi_part() {
    let (_d, e) = ready();
    let h = e.open_session(0, CKF_SERIAL_SESSION).unwrap();
    for alg in [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512] {
        let expect = crate::crypto::digest(alg, b"abcdef");
        e.digest_init(
            h,
            &mk(
                crate::mechanism::MECHANISMS
                    .iter()
                    .find(|r| r.family == crate::mechanism::Family::Digest(alg))
                    .unwrap()
                    .ty,
                Kind::Digest(alg),
            ),
        )
        .unwrap();
        assert_eq!(
            e.digest(h, b"abcdef", Out::Query).unwrap(),
            Produced::Needed(expect.len())
        );
        assert_eq!(data(e.digest(h, b"abcdef", Out::Capacity(64))), expect);
        e.digest_init(
            h,
            &mk(
                crate::mechanism::MECHANISMS
                    .iter()
                    .find(|r| r.family == crate::mechanism::Family::Digest(alg))
                    .unwrap()
                    .ty,
                Kind::Digest(alg),
            ),
        )
        .unwrap();
        e.digest_update(h, b"abc").unwrap();
        e.digest_update(h, b"def").unwrap();
        assert_eq!(data(e.digest_final(h, Out::Capacity(64))), expect);
    }
}

#[test]
fn key_generation_templates_are_checked() {
    let (_d, e) = ready();
    let h = user_session(&e);
    assert_eq!(
        e.generate_key(h, &m(CKM_AES_KEY_GEN), &[]),
        Err(Error::TemplateIncomplete)
    );
    assert_eq!(
        e.generate_key(h, &m(CKM_AES_KEY_GEN), &[Attr::ulong(CKA_VALUE_LEN, 17)]),
        Err(Error::KeySizeRange)
    );
    assert_eq!(
        e.generate_key(
            h,
            &m(CKM_AES_KEY_GEN),
            &[
                Attr::ulong(CKA_VALUE_LEN, 16),
                Attr::ulong(CKA_KEY_TYPE, CKK_RSA)
            ]
        ),
        Err(Error::TemplateInconsistent)
    );
    assert_eq!(
        e.generate_key_pair(
            h,
            &m(CKM_EC_KEY_PAIR_GEN),
            &[Attr::bytes(CKA_EC_PARAMS, vec![6, 3, 1, 2, 3])],
            &[]
        ),
        Err(Error::CurveNotSupported)
    );
    assert_eq!(
        e.generate_key_pair(
            h,
            &m(CKM_RSA_PKCS_KEY_PAIR_GEN),
            &[Attr::ulong(CKA_MODULUS_BITS, 1024)],
            &[]
        ),
        Err(Error::KeySizeRange)
    );
}

#[test]
fn find_uses_the_index_and_stays_correct_through_changes() {
    let (_d, e) = ready();
    let h = user_session(&e);
    let mut handles = Vec::new();
    for i in 0..50u8 {
        let o = e
            .create_object(
                h,
                &[
                    Attr::ulong(CKA_CLASS, CKO_DATA),
                    Attr::bool(CKA_TOKEN, i % 2 == 0),
                    Attr::bytes(CKA_LABEL, format!("obj-{}", i % 5).into_bytes()),
                    Attr::bytes(CKA_APPLICATION, vec![i]),
                ],
            )
            .unwrap();
        handles.push(o);
    }
    let find = |t: &[Attr]| {
        e.find_init(h, t).unwrap();
        let mut v = e.find(h, 1000).unwrap();
        e.find_final(h).unwrap();
        v.sort_unstable();
        v
    };
    assert_eq!(find(&[Attr::bytes(CKA_LABEL, b"obj-3".to_vec())]).len(), 10);
    assert_eq!(
        find(&[
            Attr::bytes(CKA_LABEL, b"obj-3".to_vec()),
            Attr::bytes(CKA_APPLICATION, vec![13]),
        ]),
        vec![handles[13]]
    );
    assert!(find(&[Attr::bytes(CKA_LABEL, b"nothing".to_vec())]).is_empty());
    assert_eq!(find(&[Attr::ulong(CKA_CLASS, CKO_DATA)]).len(), 50);
    // A relabelled object moves in the index; a destroyed one leaves it.
    e.set_attributes(h, handles[13], &[Attr::bytes(CKA_LABEL, b"moved".to_vec())])
        .unwrap();
    assert_eq!(
        find(&[Attr::bytes(CKA_LABEL, b"moved".to_vec())]),
        vec![handles[13]]
    );
    assert_eq!(find(&[Attr::bytes(CKA_LABEL, b"obj-3".to_vec())]).len(), 9);
    e.destroy_object(h, handles[3]).unwrap();
    assert_eq!(find(&[Attr::bytes(CKA_LABEL, b"obj-3".to_vec())]).len(), 8);
    // Session objects go with their session, from the index too.
    e.close_session(h).unwrap();
    let h = user_session(&e);
    let left = {
        e.find_init(h, &[Attr::bytes(CKA_LABEL, b"obj-3".to_vec())])
            .unwrap();
        let v = e.find(h, 1000).unwrap();
        e.find_final(h).unwrap();
        v
    };
    assert_eq!(left.len(), 5, "only the token objects remain");
}

#[test]
fn security_relevant_actions_are_audited_in_order() {
    use crate::store::audit::Actor as A;
    let dir = tempfile::tempdir().unwrap();
    provision::create_dev_store(dir.path(), 2).unwrap();
    let mut c = config(dir.path());
    c.audit_key_use = true;
    let e = Engine::open(c).unwrap();
    e.init_token(0, SO, label("audited")).unwrap();
    let h = e
        .open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION)
        .unwrap();
    e.login(h, CKU_SO, SO).unwrap();
    e.init_pin(h, PIN).unwrap();
    e.logout(h).unwrap();
    // Three wrong user PINs lock it (max_pin_failures = 3), a fourth attempt is refused.
    for _ in 0..3 {
        assert_eq!(e.login(h, CKU_USER, b"wrong-pin"), Err(Error::PinIncorrect));
    }
    assert_eq!(e.login(h, CKU_USER, PIN), Err(Error::PinLocked));
    // The SO resets it; the user logs in and works.
    e.login(h, CKU_SO, SO).unwrap();
    e.init_pin(h, PIN).unwrap();
    e.logout(h).unwrap();
    e.login(h, CKU_USER, PIN).unwrap();
    let key = e
        .generate_key(
            h,
            &m(CKM_AES_KEY_GEN),
            &[
                Attr::ulong(CKA_VALUE_LEN, 32),
                Attr::bool(CKA_TOKEN, true),
                Attr::bool(CKA_ENCRYPT, true),
            ],
        )
        .unwrap();
    e.set_attributes(h, key, &[Attr::bytes(CKA_LABEL, b"renamed".to_vec())])
        .unwrap();
    e.encrypt_init(h, &mk(CKM_AES_ECB, Kind::AesEcb), key)
        .unwrap();
    e.destroy_object(h, key).unwrap();
    let (entries, defects) = e.audit_log().unwrap();
    assert!(defects.is_empty(), "{defects:?}");
    let got: Vec<(&str, A, u64)> = entries
        .iter()
        .map(|x| (x.event.op.as_str(), x.event.actor, x.event.result))
        .collect();
    assert_eq!(
        got,
        [
            ("store.init", A::Custodian, 0),
            ("C_InitToken", A::So, 0),
            ("C_Login", A::So, 0),
            ("C_InitPIN", A::So, 0),
            ("C_Login", A::User, CKR_PIN_INCORRECT),
            ("C_Login", A::User, CKR_PIN_INCORRECT),
            ("C_Login", A::User, CKR_PIN_INCORRECT),
            ("C_Login", A::User, CKR_PIN_LOCKED),
            ("C_Login", A::So, 0),
            ("C_InitPIN", A::So, 0),
            ("C_Login", A::User, 0),
            ("C_GenerateKey", A::User, 0),
            ("C_SetAttributeValue", A::User, 0),
            ("key use", A::User, 0),
            ("C_DestroyObject", A::User, 0),
        ]
    );
    assert_eq!(entries[0].event.slot, audit::NO_SLOT);
    assert_eq!(entries[0].event.detail, "1 of 1 shares, 2 slots");
    let entries = &entries[1..];
    assert!(entries[5].event.detail.contains("locked after 3 failures"));
    assert_eq!(entries[10].event.detail, "CKM_AES_KEY_GEN");
    let uid = entries[10].event.object.clone();
    assert_eq!(uid.len(), 32, "the key's CKA_UNIQUE_ID");
    for i in [11, 12, 13] {
        assert_eq!(entries[i].event.object, uid, "entry {i} names the key");
    }
    assert!(entries[12].event.detail.contains("CKM_AES_ECB"));
    assert!(entries
        .iter()
        .all(|x| x.event.slot == 0 && x.event.pid == std::process::id()));
    assert!(entries
        .windows(2)
        .all(|w| w[0].event.unix_ms <= w[1].event.unix_ms));
}

#[test]
fn key_use_is_not_audited_unless_configured() {
    let (_dir, e) = ready();
    let h = user_session(&e);
    let key = e
        .generate_key(
            h,
            &m(CKM_AES_KEY_GEN),
            &[
                Attr::ulong(CKA_VALUE_LEN, 16),
                Attr::bool(CKA_ENCRYPT, true),
            ],
        )
        .unwrap();
    let before = e.audit_log().unwrap().0.len();
    e.encrypt_init(h, &mk(CKM_AES_ECB, Kind::AesEcb), key)
        .unwrap();
    assert_eq!(e.audit_log().unwrap().0.len(), before);
    // Session-object key generation is audited too (in a transaction of its own).
    let last = e.audit_log().unwrap().0.pop().unwrap();
    assert_eq!(last.event.op, "C_GenerateKey");
    assert_eq!(last.event.detail, "CKM_AES_KEY_GEN");
}
