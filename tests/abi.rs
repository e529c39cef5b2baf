//! The built module `libcustos_pkcs11.so`, loaded with `cryptoki` and used as an application
//! uses it: library and slot management, the sealed store, sessions and login, objects and
//! their policy, cryptography checked against an independent implementation, several
//! processes on one store, `fork`, and what reaches the disk.
//!
//! Every assertion on a failure names the exact PKCS#11 return code.

mod common;

use std::path::PathBuf;

use aws_lc_rs::digest;
use aws_lc_rs::encoding::AsBigEndian;
use aws_lc_rs::signature::{self, KeyPair, UnparsedPublicKey};
use cryptoki::context::{Function, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{
    Attribute, AttributeInfo, AttributeType, KeyType, ObjectClass, ObjectHandle,
};
use cryptoki::session::{Session, SessionState, UserType};
use cryptoki::slot::Slot;
use custos_pkcs11::engine::provision;

use common::*;

/// DER of the P-256 curve OID, as `CKA_EC_PARAMS`.
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// DER of the P-384 curve OID, as `CKA_EC_PARAMS`.
const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// The DigestInfo prefix of a SHA-256 digest (PKCS #1 v1.5).
const SHA256_DIGEST_INFO: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];

// ----- helpers ---------------------------------------------------------------------------------

fn ids(slots: &[Slot]) -> Vec<u64> {
    slots.iter().map(Slot::id).collect()
}

fn label(l: &str) -> Attribute {
    Attribute::Label(l.as_bytes().to_vec())
}

fn find(s: &Session, template: &[Attribute]) -> Vec<ObjectHandle> {
    s.find_objects(template).expect("C_FindObjects*")
}

fn find_label(s: &Session, l: &str) -> Vec<ObjectHandle> {
    find(s, &[label(l)])
}

/// One attribute of an object, which must be readable.
fn attr(s: &Session, obj: ObjectHandle, ty: AttributeType) -> Attribute {
    let mut v = s.get_attributes(obj, &[ty]).expect("C_GetAttributeValue");
    assert_eq!(v.len(), 1, "attribute {ty:?} not returned");
    v.remove(0)
}

fn attr_bytes(s: &Session, obj: ObjectHandle, ty: AttributeType) -> Vec<u8> {
    match attr(s, obj, ty) {
        Attribute::Value(v)
        | Attribute::Label(v)
        | Attribute::UniqueId(v)
        | Attribute::Id(v)
        | Attribute::EcPoint(v)
        | Attribute::EcParams(v)
        | Attribute::Modulus(v)
        | Attribute::PublicExponent(v) => v,
        other => panic!("{ty:?} is not a byte attribute: {other:?}"),
    }
}

fn attr_bool(s: &Session, obj: ObjectHandle, ty: AttributeType) -> bool {
    match attr(s, obj, ty) {
        Attribute::Sensitive(b)
        | Attribute::Extractable(b)
        | Attribute::AlwaysSensitive(b)
        | Attribute::NeverExtractable(b)
        | Attribute::Local(b)
        | Attribute::Token(b)
        | Attribute::Private(b)
        | Attribute::Modifiable(b)
        | Attribute::Copyable(b)
        | Attribute::Destroyable(b)
        | Attribute::Sign(b) => b,
        other => panic!("{ty:?} is not a boolean attribute: {other:?}"),
    }
}

/// A dev store with slot 0's token initialised and its user PIN set.
fn ready_token(m: &Module, token_label: &str) -> Slot {
    let s = slot(m, 0);
    init_token_with_user(m, s, token_label);
    s
}

fn aes_key(s: &Session, len: u64, extra: &[Attribute]) -> ObjectHandle {
    let mut t = vec![
        Attribute::Token(false),
        Attribute::ValueLen(len.into()),
        Attribute::Encrypt(true),
        Attribute::Decrypt(true),
    ];
    t.extend_from_slice(extra);
    s.generate_key(&Mechanism::AesKeyGen, &t)
        .expect("C_GenerateKey AES")
}

fn ec_pair(
    s: &Session,
    params: &[u8],
    private_extra: &[Attribute],
) -> (ObjectHandle, ObjectHandle) {
    let public = vec![
        Attribute::Token(false),
        Attribute::EcParams(params.to_vec()),
        Attribute::Verify(true),
    ];
    let mut private = vec![Attribute::Token(false), Attribute::Sign(true)];
    private.extend_from_slice(private_extra);
    s.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
        .expect("C_GenerateKeyPair EC")
}

fn rsa_pair(s: &Session, token: bool) -> (ObjectHandle, ObjectHandle) {
    let public = vec![
        Attribute::Token(token),
        Attribute::ModulusBits(2048.into()),
        Attribute::PublicExponent(vec![1, 0, 1]),
        Attribute::Verify(true),
    ];
    let private = vec![
        Attribute::Token(token),
        Attribute::Sign(true),
        label("rsa private"),
    ];
    s.generate_key_pair(&Mechanism::RsaPkcsKeyPairGen, &public, &private)
        .expect("C_GenerateKeyPair RSA")
}

/// The uncompressed point inside a `CKA_EC_POINT` DER OCTET STRING.
fn ec_point_raw(der: &[u8], field_len: usize) -> Vec<u8> {
    let n = 1 + 2 * field_len;
    assert_eq!(der.len(), n + 2, "CKA_EC_POINT length");
    assert_eq!(der[0], 0x04, "CKA_EC_POINT is an OCTET STRING");
    assert_eq!(der[1] as usize, n, "CKA_EC_POINT OCTET STRING length");
    assert_eq!(der[2], 0x04, "the point is uncompressed");
    der[2..].to_vec()
}

/// A raw `r || s` ECDSA signature as DER, for the `*_ASN1` verifiers.
fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    let int = |x: &[u8]| {
        let z = x.iter().take_while(|b| **b == 0).count().min(x.len() - 1);
        let x = &x[z..];
        let pad = x[0] & 0x80 != 0;
        let mut v = vec![0x02, (x.len() + usize::from(pad)) as u8];
        if pad {
            v.push(0);
        }
        v.extend_from_slice(x);
        v
    };
    let body = [int(r), int(s)].concat();
    let mut out = vec![0x30, body.len() as u8];
    out.extend(body);
    out
}

fn sha(alg: &'static digest::Algorithm, data: &[u8]) -> Vec<u8> {
    digest::digest(alg, data).as_ref().to_vec()
}

fn strip_zeros(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|x| **x == 0).count();
    &b[n..]
}

fn pss_sha256() -> PkcsPssParams {
    PkcsPssParams {
        hash_alg: MechanismType::SHA256,
        mgf: PkcsMgfType::MGF1_SHA256,
        s_len: 32.into(),
    }
}

// ----- 1. library and function lists ----------------------------------------------------------

#[test]
fn library_info_and_function_list() {
    let _fx = Fixture::dev_store(4);
    let m = Module::load();
    assert_eq!(rv(m.get_library_info()), RvError::CryptokiNotInitialized);
    m.initialize(init_args()).expect("C_Initialize");

    let info = m.get_library_info().expect("C_GetInfo");
    assert_eq!(info.manufacturer_id(), "Custos");
    assert_eq!(info.library_description(), "Custos software HSM");
    // cryptoki takes the default interface of C_GetInterface: the 3.0 table.
    assert_eq!(
        (
            info.cryptoki_version().major(),
            info.cryptoki_version().minor()
        ),
        (3, 0)
    );
    let major: u8 = env!("CARGO_PKG_VERSION_MAJOR").parse().unwrap();
    let minor: u8 = env!("CARGO_PKG_VERSION_MINOR").parse().unwrap();
    assert_eq!(
        (
            info.library_version().major(),
            info.library_version().minor()
        ),
        (major, minor)
    );

    for f in [
        Function::Initialize,
        Function::Finalize,
        Function::GetInfo,
        Function::GetFunctionList,
        Function::GetSlotList,
        Function::GetTokenInfo,
        Function::InitToken,
        Function::OpenSession,
        Function::Login,
        Function::CreateObject,
        Function::GetAttributeValue,
        Function::FindObjectsInit,
        Function::EncryptInit,
        Function::DecryptFinal,
        Function::DigestInit,
        Function::SignInit,
        Function::VerifyFinal,
        Function::GenerateKey,
        Function::GenerateKeyPair,
        Function::GenerateRandom,
        Function::WaitForSlotEvent,
        Function::GetInterfaceList,
        Function::GetInterface,
        Function::LoginUser,
        Function::SessionCancel,
        Function::MessageEncryptInit,
        Function::MessageVerifyFinal,
    ] {
        assert!(
            m.is_fn_supported(f),
            "{f:?} missing from the function table"
        );
    }
    m.finalize().expect("C_Finalize");
}

// ----- 2. initialise and finalise -------------------------------------------------------------

#[test]
fn initialize_twice_finalize_and_reinitialize() {
    let _fx = Fixture::dev_store(4);
    let m = Module::load();
    assert_eq!(rv(m.get_all_slots()), RvError::CryptokiNotInitialized);
    assert_eq!(
        rv(m.ctx().clone().finalize()),
        RvError::CryptokiNotInitialized
    );

    m.initialize(init_args()).expect("C_Initialize");
    assert_eq!(
        rv(m.initialize(init_args())),
        RvError::CryptokiAlreadyInitialized
    );
    // A second application context on the same module shares the library state.
    let other = Pkcs11::new(module_path()).expect("load the module again");
    assert_eq!(
        rv(other.initialize(init_args())),
        RvError::CryptokiAlreadyInitialized
    );
    drop(other);
    assert_eq!(m.get_all_slots().expect("C_GetSlotList").len(), 4);

    let s0 = slot(&m, 0);
    m.init_token(s0, &pin(SO_PIN), "init test")
        .expect("C_InitToken");
    let session = m.open_ro_session(s0).expect("C_OpenSession");
    assert!(session.get_session_info().is_ok());

    m.ctx().clone().finalize().expect("C_Finalize");
    assert_eq!(rv(m.get_all_slots()), RvError::CryptokiNotInitialized);
    assert_eq!(rv(m.get_library_info()), RvError::CryptokiNotInitialized);
    assert_eq!(rv(m.get_token_info(s0)), RvError::CryptokiNotInitialized);
    assert_eq!(
        rv(session.get_session_info()),
        RvError::CryptokiNotInitialized
    );
    assert_eq!(
        rv(m.ctx().clone().finalize()),
        RvError::CryptokiNotInitialized
    );

    m.initialize(init_args())
        .expect("C_Initialize after C_Finalize");
    assert_eq!(ids(&m.get_slots_with_token().unwrap()), vec![0, 1, 2, 3]);
    // The token survived; the session did not.
    let ti = m.get_token_info(s0).expect("C_GetTokenInfo");
    assert!(ti.token_initialized());
    assert_eq!(ti.label(), "init test");
    assert_eq!(
        rv(session.get_session_info()),
        RvError::SessionHandleInvalid
    );
    drop(session);
    m.finalize().expect("C_Finalize");
}

// ----- 3. slots and tokens --------------------------------------------------------------------

#[test]
fn slots_and_token_initialisation() {
    let _fx = Fixture::dev_store(4);
    let m = Module::open();
    assert_eq!(ids(&m.get_all_slots().unwrap()), vec![0, 1, 2, 3]);
    assert_eq!(ids(&m.get_slots_with_token().unwrap()), vec![0, 1, 2, 3]);
    for s in m.get_all_slots().unwrap() {
        let info = m.get_slot_info(s).expect("C_GetSlotInfo");
        assert!(info.token_present());
        assert!(!info.removable_device());
        assert_eq!(info.slot_description(), format!("Custos slot {}", s.id()));
        assert_eq!(info.manufacturer_id(), "Custos");
    }
    let bad = Slot::try_from(99u64).unwrap();
    assert_eq!(rv(m.get_slot_info(bad)), RvError::SlotIdInvalid);
    assert_eq!(rv(m.get_token_info(bad)), RvError::SlotIdInvalid);
    assert_eq!(rv(m.open_ro_session(bad)), RvError::SlotIdInvalid);

    let s1 = slot(&m, 1);
    let ti = m.get_token_info(s1).expect("C_GetTokenInfo");
    assert!(!ti.token_initialized());
    assert!(!ti.user_pin_initialized());
    assert!(ti.rng());
    assert!(ti.login_required());
    assert_eq!(rv(m.open_ro_session(s1)), RvError::TokenNotRecognized);

    m.init_token(s1, &pin(SO_PIN), "abi slots")
        .expect("C_InitToken");
    let ti = m.get_token_info(s1).unwrap();
    assert!(ti.token_initialized());
    assert!(!ti.user_pin_initialized());
    assert_eq!(ti.label(), "abi slots");
    assert_eq!(ti.manufacturer_id(), "Custos");
    assert_eq!(ti.serial_number().len(), 16);
    assert!(!m.get_token_info(slot(&m, 0)).unwrap().token_initialized());
    assert_eq!(ids(&m.get_all_slots().unwrap()), vec![0, 1, 2, 3]);
    assert_eq!(ids(&m.get_slots_with_token().unwrap()), vec![0, 1, 2, 3]);

    {
        let s = m.open_rw_session(s1).expect("C_OpenSession");
        s.create_object(&data_object("before reinit", true))
            .expect("C_CreateObject");
        assert_eq!(find_label(&s, "before reinit").len(), 1);
        assert_eq!(
            rv(m.init_token(s1, &pin(SO_PIN), "abi slots")),
            RvError::SessionExists
        );
    }

    assert_eq!(
        rv(m.init_token(s1, &pin("wrong-so-pin"), "abi slots")),
        RvError::PinIncorrect
    );
    assert!(m.get_token_info(s1).unwrap().so_pin_count_low());
    m.init_token(s1, &pin(SO_PIN), "abi slots again")
        .expect("re-initialise with the SO PIN");
    let ti = m.get_token_info(s1).unwrap();
    assert_eq!(ti.label(), "abi slots again");
    assert!(!ti.so_pin_count_low());
    assert!(!ti.user_pin_initialized());
    assert_eq!(ids(&m.get_all_slots().unwrap()), vec![0, 1, 2, 3]);
    let s = m.open_ro_session(s1).unwrap();
    assert!(find_label(&s, "before reinit").is_empty());
    assert!(find(&s, &[]).is_empty());
    drop(s);
    m.finalize().expect("C_Finalize");
}

// ----- 4. a sealed store ----------------------------------------------------------------------

#[test]
fn sealed_store_has_no_tokens_until_a_quorum_is_configured() {
    let fx = Fixture::new();
    let dir = fx.store_dir();
    let shares = provision::create_store(&dir, 2, 3, 4).expect("create a 2-of-3 store");
    assert_eq!(shares.len(), 3);
    let paths: Vec<PathBuf> = shares
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let p = fx.tmp.path().join(format!("share-{}.txt", i + 1));
            provision::write_share_file(&p, s).expect("write a share");
            p
        })
        .collect();
    let conf = |a: usize, b: Option<usize>| {
        let mut list = toml_path(&paths[a]);
        if let Some(b) = b {
            list = format!("{list}, {}", toml_path(&paths[b]));
        }
        format!("store = {}\nshares = [{list}]\n", toml_path(&dir))
    };

    fx.use_conf("one-share.toml", &conf(0, None));
    let m = Module::open();
    assert!(m.get_slots_with_token().unwrap().is_empty());
    assert_eq!(ids(&m.get_all_slots().unwrap()), vec![0, 1, 2, 3]);
    let s0 = slot(&m, 0);
    assert!(!m.get_slot_info(s0).unwrap().token_present());
    assert_eq!(rv(m.open_ro_session(s0)), RvError::TokenNotPresent);
    assert_eq!(rv(m.open_rw_session(s0)), RvError::TokenNotPresent);
    assert_eq!(rv(m.get_token_info(s0)), RvError::TokenNotPresent);
    assert_eq!(
        rv(m.init_token(s0, &pin(SO_PIN), "sealed")),
        RvError::TokenNotPresent
    );
    m.finalize().expect("C_Finalize");

    fx.use_conf("two-shares.toml", &conf(0, Some(1)));
    let m = Module::open();
    assert_eq!(ids(&m.get_slots_with_token().unwrap()), vec![0, 1, 2, 3]);
    assert!(m.get_slot_info(s0).unwrap().token_present());
    m.init_token(s0, &pin(SO_PIN), "unsealed")
        .expect("C_InitToken");
    let s = m.open_rw_session(s0).expect("C_OpenSession");
    s.create_object(&data_object("quorum object", true))
        .expect("C_CreateObject");
    drop(s);
    m.finalize().expect("C_Finalize");

    // Any other quorum opens the same store.
    fx.use_conf("other-shares.toml", &conf(2, Some(1)));
    let m = Module::open();
    let s = m.open_ro_session(s0).expect("C_OpenSession");
    assert_eq!(find_label(&s, "quorum object").len(), 1);
    assert_eq!(m.get_token_info(s0).unwrap().label(), "unsealed");
    drop(s);
    m.finalize().expect("C_Finalize");
}

// ----- 5. sessions and login ------------------------------------------------------------------

#[test]
fn sessions_login_pins_and_lockout() {
    let fx = Fixture::dev_store(4);
    fx.use_conf(
        "custos.toml",
        &format!(
            "store = {}\nmax_pin_failures = 3\n",
            toml_path(&fx.store_dir())
        ),
    );
    let m = Module::open();
    let s0 = slot(&m, 0);
    m.init_token(s0, &pin(SO_PIN), "login")
        .expect("C_InitToken");

    let ro = m.open_ro_session(s0).expect("C_OpenSession RO");
    let info = ro.get_session_info().unwrap();
    assert_eq!(info.session_state(), SessionState::RoPublic);
    assert!(!info.read_write());
    assert_eq!(info.slot_id().id(), 0);
    assert_eq!(
        rv(ro.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::UserPinNotInitialized
    );
    assert_eq!(
        rv(ro.login(UserType::So, Some(&pin(SO_PIN)))),
        RvError::SessionReadOnlyExists
    );
    drop(ro);

    let rw = m.open_rw_session(s0).expect("C_OpenSession RW");
    assert_eq!(
        rw.get_session_info().unwrap().session_state(),
        SessionState::RwPublic
    );
    assert!(rw.get_session_info().unwrap().read_write());
    rw.login(UserType::So, Some(&pin(SO_PIN)))
        .expect("SO login");
    assert_eq!(
        rw.get_session_info().unwrap().session_state(),
        SessionState::RwSecurityOfficer
    );
    assert_eq!(rv(m.open_ro_session(s0)), RvError::SessionReadWriteSoExists);
    assert_eq!(
        rv(rw.login(UserType::So, Some(&pin(SO_PIN)))),
        RvError::UserAlreadyLoggedIn
    );
    assert_eq!(
        rv(rw.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::UserAnotherAlreadyLoggedIn
    );
    rw.init_pin(&pin(USER_PIN)).expect("C_InitPIN");
    assert!(m.get_token_info(s0).unwrap().user_pin_initialized());
    rw.logout().expect("C_Logout");
    assert_eq!(rv(rw.logout()), RvError::UserNotLoggedIn);

    rw.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("user login");
    assert_eq!(
        rw.get_session_info().unwrap().session_state(),
        SessionState::RwUser
    );
    assert_eq!(
        rv(rw.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::UserAlreadyLoggedIn
    );
    // Login state belongs to the token: a new RO session is a user session too.
    let ro = m.open_ro_session(s0).unwrap();
    assert_eq!(
        ro.get_session_info().unwrap().session_state(),
        SessionState::RoUser
    );
    rw.logout().unwrap();
    assert_eq!(
        ro.get_session_info().unwrap().session_state(),
        SessionState::RoPublic
    );

    // Wrong PINs: count low, final try, locked.
    assert_eq!(
        rv(ro.login(UserType::User, Some(&pin("wrong-1")))),
        RvError::PinIncorrect
    );
    let ti = m.get_token_info(s0).unwrap();
    assert!(ti.user_pin_count_low());
    assert!(!ti.user_pin_final_try());
    assert!(!ti.user_pin_locked());
    assert_eq!(
        rv(ro.login(UserType::User, Some(&pin("wrong-2")))),
        RvError::PinIncorrect
    );
    let ti = m.get_token_info(s0).unwrap();
    assert!(ti.user_pin_final_try());
    assert!(!ti.user_pin_locked());
    assert_eq!(
        rv(ro.login(UserType::User, Some(&pin("wrong-3")))),
        RvError::PinIncorrect
    );
    let ti = m.get_token_info(s0).unwrap();
    assert!(ti.user_pin_locked());
    assert_eq!(
        rv(ro.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::PinLocked
    );
    assert_eq!(
        ro.get_session_info().unwrap().session_state(),
        SessionState::RoPublic
    );
    drop(ro);

    // The SO unlocks by setting a new user PIN.
    rw.login(UserType::So, Some(&pin(SO_PIN))).unwrap();
    rw.init_pin(&pin("user-pin-two"))
        .expect("C_InitPIN unlocks");
    rw.logout().unwrap();
    let ti = m.get_token_info(s0).unwrap();
    assert!(!ti.user_pin_locked());
    assert!(!ti.user_pin_count_low());
    assert_eq!(
        rv(rw.login(UserType::User, Some(&pin(USER_PIN)))),
        RvError::PinIncorrect
    );
    rw.login(UserType::User, Some(&pin("user-pin-two")))
        .expect("login with the new PIN");
    assert!(!m.get_token_info(s0).unwrap().user_pin_count_low());

    // C_SetPIN changes the user's own PIN.
    assert_eq!(
        rv(rw.set_pin(&pin("not-the-pin"), &pin("user-pin-three"))),
        RvError::PinIncorrect
    );
    rw.set_pin(&pin("user-pin-two"), &pin("user-pin-three"))
        .expect("C_SetPIN");
    rw.logout().unwrap();
    assert_eq!(
        rv(rw.login(UserType::User, Some(&pin("user-pin-two")))),
        RvError::PinIncorrect
    );
    rw.login(UserType::User, Some(&pin("user-pin-three")))
        .expect("login with the changed PIN");
    let ro_set = m.open_ro_session(s0).unwrap();
    assert_eq!(
        rv(ro_set.set_pin(&pin("user-pin-three"), &pin("user-pin-four"))),
        RvError::SessionReadOnly
    );
    drop(ro_set);

    // C_CloseAllSessions logs the application out.
    let handle = rw.handle();
    let raw = Raw::load();
    assert_eq!(raw.close_all_sessions(0), cryptoki_sys::CKR_OK);
    assert_eq!(rv(rw.get_session_info()), RvError::SessionHandleInvalid);
    let again = m.open_rw_session(s0).unwrap();
    assert_ne!(again.handle(), handle);
    assert_eq!(
        again.get_session_info().unwrap().session_state(),
        SessionState::RwPublic
    );
    drop(again);
    drop(rw);
    m.finalize().expect("C_Finalize");
}

// ----- 6. objects -----------------------------------------------------------------------------

#[test]
fn object_creation_visibility_and_sessions() {
    let _fx = Fixture::dev_store(4);
    let m = Module::open();
    let s0 = ready_token(&m, "objects");
    let rw = m.open_rw_session(s0).unwrap();
    let ro = m.open_ro_session(s0).unwrap();

    // Public objects need no login; private ones do.
    let public = rw
        .create_object(&data_object("public data", true))
        .expect("C_CreateObject public token object");
    let mut private = data_object("private data", true);
    private[2] = Attribute::Private(true);
    assert_eq!(rv(rw.create_object(&private)), RvError::UserNotLoggedIn);
    // Token objects need a read/write session; session objects do not.
    assert_eq!(
        rv(ro.create_object(&data_object("ro token", true))),
        RvError::SessionReadOnly
    );
    let ro_session_obj = ro
        .create_object(&data_object("ro session object", false))
        .expect("session object in a RO session");
    assert!(!attr_bool(&ro, ro_session_obj, AttributeType::Token));
    assert_eq!(rv(ro.destroy_object(public)), RvError::SessionReadOnly);
    // Attributes a data object does not have, and unknown types.
    let mut with_modulus = data_object("bad", false);
    with_modulus.push(Attribute::Modulus(vec![1, 2, 3]));
    assert_eq!(
        rv(rw.create_object(&with_modulus)),
        RvError::TemplateInconsistent
    );
    let mut unknown = data_object("bad", false);
    unknown.push(Attribute::VendorDefined((
        AttributeType::VendorDefined(0x8000_7777),
        vec![1],
    )));
    assert_eq!(
        rv(rw.create_object(&unknown)),
        RvError::AttributeTypeInvalid
    );

    rw.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    let private = rw.create_object(&private).expect("private data object");
    assert!(attr_bool(&rw, private, AttributeType::Private));
    assert_eq!(find_label(&ro, "private data"), vec![private]);
    rw.logout().unwrap();
    assert!(find_label(&ro, "private data").is_empty());
    assert!(find_label(&rw, "private data").is_empty());
    assert!(!find(&ro, &[]).contains(&private));
    assert!(find(&ro, &[]).contains(&public));
    assert_eq!(
        rv(ro.get_attributes(private, &[AttributeType::Label])),
        RvError::ObjectHandleInvalid
    );
    rw.login(UserType::User, Some(&pin(USER_PIN))).unwrap();
    assert_eq!(find_label(&ro, "private data"), vec![private]);

    // Session objects are seen by every session and die with their own.
    let other = m.open_rw_session(s0).unwrap();
    let sess_obj = other
        .create_object(&data_object("session object", false))
        .unwrap();
    assert_eq!(find_label(&rw, "session object"), vec![sess_obj]);
    drop(other);
    assert!(find_label(&rw, "session object").is_empty());
    drop(ro);
    assert!(find_label(&rw, "ro session object").is_empty());
    assert_eq!(find_label(&rw, "public data"), vec![public]);

    // C_GetObjectSize.
    let raw = Raw::load();
    let (code, size) = raw.object_size(rw.handle(), public.handle());
    assert_eq!(code, cryptoki_sys::CKR_OK);
    assert!(size > 0);
    let (code, _) = raw.object_size(rw.handle(), 0x7777_7777);
    assert_eq!(code, cryptoki_sys::CKR_OBJECT_HANDLE_INVALID);

    drop(rw);
    m.finalize().expect("C_Finalize");
}

#[test]
fn attribute_reads_and_sensitive_values() {
    let _fx = Fixture::dev_store(4);
    let m = Module::open();
    let s0 = ready_token(&m, "attributes");
    let s = user_session(&m, s0);
    let key = aes_key(&s, 32, &[label("secret"), Attribute::Id(b"k-1".to_vec())]);

    // Per attribute through cryptoki: CKA_VALUE is sensitive, the rest readable.
    let info = s
        .get_attribute_info(
            key,
            &[
                AttributeType::Value,
                AttributeType::Label,
                AttributeType::Modulus,
                AttributeType::VendorDefined(0x8000_1234),
                AttributeType::ValueLen,
            ],
        )
        .expect("C_GetAttributeValue (lengths)");
    assert!(matches!(info[0], AttributeInfo::Sensitive), "{info:?}");
    assert!(matches!(info[1], AttributeInfo::Available(6)), "{info:?}");
    assert!(matches!(info[2], AttributeInfo::TypeInvalid), "{info:?}");
    assert!(matches!(info[3], AttributeInfo::TypeInvalid), "{info:?}");
    assert!(matches!(info[4], AttributeInfo::Available(_)), "{info:?}");
    let got = s
        .get_attributes(
            key,
            &[
                AttributeType::Value,
                AttributeType::Label,
                AttributeType::Class,
                AttributeType::ValueLen,
                AttributeType::KeyType,
            ],
        )
        .expect("get_attributes skips the sensitive value");
    assert_eq!(
        got,
        vec![
            label("secret"),
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::ValueLen(32.into()),
            Attribute::KeyType(KeyType::AES),
        ]
    );

    // One raw call: CKR_ATTRIBUTE_SENSITIVE, the value marked unavailable, the others filled.
    let raw = Raw::load();
    let (code, vals) = raw.get_attribute_values(
        s.handle(),
        key.handle(),
        &[
            cryptoki_sys::CKA_LABEL,
            cryptoki_sys::CKA_VALUE,
            cryptoki_sys::CKA_ID,
        ],
    );
    assert_eq!(code, cryptoki_sys::CKR_ATTRIBUTE_SENSITIVE);
    assert_eq!(vals[0].1, b"secret");
    assert_eq!(vals[1].0, cryptoki_sys::CK_UNAVAILABLE_INFORMATION);
    assert_eq!(vals[2].1, b"k-1");
    let (code, vals) = raw.get_attribute_values(
        s.handle(),
        key.handle(),
        &[cryptoki_sys::CKA_LABEL, 0x8000_1234],
    );
    assert_eq!(code, cryptoki_sys::CKR_ATTRIBUTE_TYPE_INVALID);
    assert_eq!(vals[0].1, b"secret");
    assert_eq!(vals[1].0, cryptoki_sys::CK_UNAVAILABLE_INFORMATION);

    // Generated keys: local, always sensitive, never extractable.
    assert!(attr_bool(&s, key, AttributeType::Sensitive));
    assert!(!attr_bool(&s, key, AttributeType::Extractable));
    assert!(attr_bool(&s, key, AttributeType::AlwaysSensitive));
    assert!(attr_bool(&s, key, AttributeType::NeverExtractable));
    assert!(attr_bool(&s, key, AttributeType::Local));
    assert!(attr_bool(&s, key, AttributeType::Private));
    assert_eq!(
        attr(&s, key, AttributeType::KeyGenMechanism),
        Attribute::KeyGenMechanism(MechanismType::AES_KEY_GEN)
    );
    let (_, ec_priv) = ec_pair(&s, P256, &[]);
    assert!(attr_bool(&s, ec_priv, AttributeType::AlwaysSensitive));
    assert!(attr_bool(&s, ec_priv, AttributeType::NeverExtractable));
    assert!(attr_bool(&s, ec_priv, AttributeType::Local));
    let info = s
        .get_attribute_info(ec_priv, &[AttributeType::Value])
        .unwrap();
    assert!(matches!(info[..], [AttributeInfo::Sensitive]), "{info:?}");

    // Imported keys: neither, and not local.
    let imported = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![0x42; 16]),
            Attribute::Token(false),
            label("imported"),
            Attribute::Id(b"k-2".to_vec()),
        ])
        .expect("import an AES key");
    assert!(attr_bool(&s, imported, AttributeType::Sensitive));
    assert!(!attr_bool(&s, imported, AttributeType::AlwaysSensitive));
    assert!(!attr_bool(&s, imported, AttributeType::NeverExtractable));
    assert!(!attr_bool(&s, imported, AttributeType::Local));
    assert_eq!(
        attr(&s, imported, AttributeType::ValueLen),
        Attribute::ValueLen(16.into())
    );
    // An extractable, non-sensitive key shows its value.
    let open = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(vec![0x24; 16]),
            Attribute::Sensitive(false),
            Attribute::Extractable(true),
        ])
        .unwrap();
    assert_eq!(attr_bytes(&s, open, AttributeType::Value), vec![0x24; 16]);

    // Search by CKA_ID and CKA_LABEL.
    assert_eq!(find(&s, &[Attribute::Id(b"k-1".to_vec())]), vec![key]);
    assert_eq!(find(&s, &[Attribute::Id(b"k-2".to_vec())]), vec![imported]);
    assert_eq!(find_label(&s, "imported"), vec![imported]);
    assert_eq!(
        find(
            &s,
            &[label("secret"), Attribute::Class(ObjectClass::SECRET_KEY)]
        ),
        vec![key]
    );
    assert!(find(&s, &[label("secret"), Attribute::Class(ObjectClass::DATA)]).is_empty());
    drop(s);
    m.finalize().expect("C_Finalize");
}

#[test]
fn attribute_changes_copy_and_destroy_policy() {
    let _fx = Fixture::dev_store(4);
    let m = Module::open();
    let s0 = ready_token(&m, "policy");
    let s = user_session(&m, s0);
    let key = aes_key(&s, 16, &[label("before")]);

    s.update_attributes(key, &[label("after")])
        .expect("C_SetAttributeValue label");
    assert_eq!(attr_bytes(&s, key, AttributeType::Label), b"after");
    assert_eq!(
        rv(s.update_attributes(key, &[Attribute::Value(vec![0; 16])])),
        RvError::AttributeReadOnly
    );
    assert_eq!(
        rv(s.update_attributes(key, &[Attribute::Sensitive(false)])),
        RvError::AttributeReadOnly
    );
    assert_eq!(
        rv(s.update_attributes(key, &[Attribute::Extractable(true)])),
        RvError::AttributeReadOnly
    );
    assert_eq!(
        rv(s.update_attributes(key, &[Attribute::Class(ObjectClass::DATA)])),
        RvError::AttributeReadOnly
    );
    assert!(attr_bool(&s, key, AttributeType::Sensitive));

    // CKA_MODIFIABLE = FALSE refuses every change.
    let mut fixed = data_object("fixed", true);
    fixed.push(Attribute::Modifiable(false));
    let fixed = s.create_object(&fixed).unwrap();
    assert!(!attr_bool(&s, fixed, AttributeType::Modifiable));
    assert_eq!(
        rv(s.update_attributes(fixed, &[label("changed")])),
        RvError::ActionProhibited
    );
    assert_eq!(attr_bytes(&s, fixed, AttributeType::Label), b"fixed");

    // CKA_DESTROYABLE = FALSE refuses C_DestroyObject.
    let mut keep = data_object("keep", true);
    keep.push(Attribute::Destroyable(false));
    let keep = s.create_object(&keep).unwrap();
    assert_eq!(rv(s.destroy_object(keep)), RvError::ActionProhibited);
    assert_eq!(find_label(&s, "keep"), vec![keep]);

    // CKA_COPYABLE = FALSE refuses C_CopyObject.
    let mut single = data_object("single", true);
    single.push(Attribute::Copyable(false));
    let single = s.create_object(&single).unwrap();
    assert_eq!(rv(s.copy_object(single, &[])), RvError::ActionProhibited);

    // A copy is a new object with its own unique id.
    let original = s.create_object(&data_object("original", true)).unwrap();
    let copy = s
        .copy_object(original, &[label("copy"), Attribute::Token(false)])
        .expect("C_CopyObject");
    assert_ne!(copy, original);
    let uid_a = attr_bytes(&s, original, AttributeType::UniqueId);
    let uid_b = attr_bytes(&s, copy, AttributeType::UniqueId);
    assert!(!uid_a.is_empty());
    assert_ne!(uid_a, uid_b);
    assert_eq!(attr_bytes(&s, copy, AttributeType::Label), b"copy");
    assert!(!attr_bool(&s, copy, AttributeType::Token));
    assert_eq!(
        attr_bytes(&s, copy, AttributeType::Value),
        b"data object value"
    );
    assert_eq!(
        rv(s.update_attributes(original, &[Attribute::UniqueId(b"x".to_vec())])),
        RvError::AttributeReadOnly
    );

    s.destroy_object(original).expect("C_DestroyObject");
    assert!(find_label(&s, "original").is_empty());
    assert_eq!(
        rv(s.get_attributes(original, &[AttributeType::Label])),
        RvError::ObjectHandleInvalid
    );
    assert_eq!(rv(s.destroy_object(original)), RvError::ObjectHandleInvalid);
    drop(s);
    m.finalize().expect("C_Finalize");
}

// ----- 7. cryptography ------------------------------------------------------------------------

#[test]
fn digests_match_a_reference() {
    let _fx = Fixture::dev_store(4);
    let m = Module::open();
    let s0 = ready_token(&m, "digest");
    let s = m.open_ro_session(s0).unwrap();
    let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();

    for (mech, alg) in [
        (Mechanism::Sha256, &digest::SHA256),
        (Mechanism::Sha384, &digest::SHA384),
        (Mechanism::Sha512, &digest::SHA512),
    ] {
        assert_eq!(s.digest(&mech, &data).expect("C_Digest"), sha(alg, &data));
    }
    s.digest_init(&Mechanism::Sha256).expect("C_DigestInit");
    for part in data.chunks(333) {
        s.digest_update(part).expect("C_DigestUpdate");
    }
    assert_eq!(
        s.digest_final().expect("C_DigestFinal"),
        sha(&digest::SHA256, &data)
    );
    assert_eq!(
        s.digest(&Mechanism::Sha256, b"").unwrap(),
        sha(&digest::SHA256, b"")
    );
    assert_eq!(rv(s.digest_final()), RvError::OperationNotInitialized);
    assert_eq!(
        rv(s.digest(&Mechanism::AesKeyGen, b"x")),
        RvError::MechanismInvalid
    );
    drop(s);
    m.finalize().expect("C_Finalize");
}

#[test]
fn aes_gcm_single_and_multi_part() {
    let _fx = Fixture::dev_store(4);
    let m = Module::open();
    let s0 = ready_token(&m, "gcm");
    let s = user_session(&m, s0);
    let key = aes_key(&s, 32, &[]);
    let plain: Vec<u8> = (0..200u8).collect();
    let aad = b"header bytes";

    for iv_len in [12usize, 16] {
        let mut iv: Vec<u8> = (0..iv_len as u8).map(|i| i ^ 0x5c).collect();
        let mech = Mechanism::AesGcm(GcmParams::new(&mut iv, aad, 128.into()).unwrap());
        let ct = s.encrypt(&mech, key, &plain).expect("C_Encrypt GCM");
        assert_eq!(ct.len(), plain.len() + 16);
        assert_eq!(s.decrypt(&mech, key, &ct).expect("C_Decrypt GCM"), plain);

        s.encrypt_init(&mech, key).unwrap();
        let mut multi = Vec::new();
        for part in plain.chunks(64) {
            multi.extend(s.encrypt_update(part).expect("C_EncryptUpdate"));
        }
        multi.extend(s.encrypt_final().expect("C_EncryptFinal"));
        assert_eq!(
            multi, ct,
            "multi-part GCM equals single-part ({iv_len}-byte IV)"
        );

        s.decrypt_init(&mech, key).unwrap();
        let mut back = Vec::new();
        for part in ct.chunks(50) {
            back.extend(s.decrypt_update(part).expect("C_DecryptUpdate"));
        }
        back.extend(s.decrypt_final().expect("C_DecryptFinal"));
        assert_eq!(back, plain);

        let mut bad = ct.clone();
        bad[3] ^= 1;
        assert_eq!(
            rv(s.decrypt(&mech, key, &bad)),
            RvError::EncryptedDataInvalid
        );
        let mut bad_tag = ct.clone();
        let n = bad_tag.len();
        bad_tag[n - 1] ^= 0x80;
        assert_eq!(
            rv(s.decrypt(&mech, key, &bad_tag)),
            RvError::EncryptedDataInvalid
        );
        s.decrypt_init(&mech, key).unwrap();
        s.decrypt_update(&bad).unwrap();
        assert_eq!(rv(s.decrypt_final()), RvError::EncryptedDataInvalid);
    }

    // Against an independent implementation, with a key whose value is known.
    let known = [0x3du8; 32];
    let imported = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(known.to_vec()),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
        ])
        .unwrap();
    let nonce = [9u8; 12];
    let mut iv = nonce.to_vec();
    let mech = Mechanism::AesGcm(GcmParams::new(&mut iv, aad, 128.into()).unwrap());
    let ct = s.encrypt(&mech, imported, &plain).unwrap();
    let reference = {
        use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
        let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &known).unwrap());
        let mut buf = plain.clone();
        k.seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(&aad[..]),
            &mut buf,
        )
        .unwrap();
        buf
    };
    assert_eq!(ct, reference);
    drop(s);
    m.finalize().expect("C_Finalize");
}

#[test]
fn aes_cbc_pad_round_trip() {
    let _fx = Fixture::dev_store(4);
    let m = Module::open();
    let s0 = ready_token(&m, "cbc");
    let s = user_session(&m, s0);
    let key = aes_key(&s, 16, &[]);
    let iv = [0xa5u8; 16];
    let mech = Mechanism::AesCbcPad(iv);
    for len in [0usize, 1, 15, 16, 17, 100] {
        let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let ct = s.encrypt(&mech, key, &plain).expect("C_Encrypt CBC-PAD");
        assert_eq!(ct.len(), (len / 16 + 1) * 16);

        s.encrypt_init(&mech, key).unwrap();
        let mut multi = Vec::new();
        for part in plain.chunks(7) {
            multi.extend(s.encrypt_update(part).unwrap());
        }
        multi.extend(s.encrypt_final().unwrap());
        assert_eq!(
            multi, ct,
            "multi-part CBC-PAD equals single-part ({len} bytes)"
        );

        s.decrypt_init(&mech, key).unwrap();
        let mut back = Vec::new();
        for part in ct.chunks(5) {
            back.extend(s.decrypt_update(part).unwrap());
        }
        back.extend(s.decrypt_final().unwrap());
        assert_eq!(back, plain);
    }
    assert_eq!(
        rv(s.decrypt(&mech, key, &[0u8; 15])),
        RvError::EncryptedDataLenRange
    );
    drop(s);
    m.finalize().expect("C_Finalize");
}

/// Single-part `C_Decrypt` with CKM_AES_CBC_PAD: the length query must cover the plaintext
/// (cryptoki sizes its buffer from it), and then the round trip works.
#[test]
fn aes_cbc_pad_single_part_decrypt() {
    let _fx = Fixture::dev_store(4);
    let m = Module::open();
    let s0 = ready_token(&m, "cbc single");
    let s = user_session(&m, s0);
    let key = aes_key(&s, 16, &[]);
    let iv = [0x5au8; 16];
    let mech = Mechanism::AesCbcPad(iv);
    let raw = Raw::load();
    for len in [0usize, 1, 15, 16, 17, 100] {
        let plain: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let ct = s.encrypt(&mech, key, &plain).expect("C_Encrypt CBC-PAD");

        // The query through the raw ABI first, so a short answer fails cleanly here rather
        // than corrupting memory inside cryptoki's buffer.
        assert_eq!(
            raw.decrypt_init(s.handle(), cryptoki_sys::CKM_AES_CBC_PAD, &iv, key.handle()),
            cryptoki_sys::CKR_OK
        );
        let (code, need) = raw.decrypt(s.handle(), &ct, None, 0);
        assert_eq!(code, cryptoki_sys::CKR_OK);
        assert!(
            need as usize >= len,
            "C_Decrypt length query says {need} bytes for a {len}-byte plaintext"
        );
        // A buffer declared too small is refused, and nothing is written to it.
        if len > 0 {
            let mut buf = vec![0xeeu8; 256];
            let (code, _) = raw.decrypt(s.handle(), &ct, Some(&mut buf), 0);
            assert_eq!(code, cryptoki_sys::CKR_BUFFER_TOO_SMALL);
            assert!(
                buf.iter().all(|b| *b == 0xee),
                "written past the declared length"
            );
        }
        let mut buf = vec![0u8; need as usize];
        let (code, got) = raw.decrypt(s.handle(), &ct, Some(&mut buf), need);
        assert_eq!(code, cryptoki_sys::CKR_OK);
        assert_eq!(&buf[..got as usize], &plain[..]);

        assert_eq!(
            s.decrypt(&mech, key, &ct).expect("C_Decrypt CBC-PAD"),
            plain
        );
    }
    drop(s);
    m.finalize().expect("C_Finalize");
}

#[test]
fn ecdsa_p256_and_p384_verify_independently() {
    let _fx = Fixture::dev_store(4);
    let m = Module::open();
    let s0 = ready_token(&m, "ecdsa");
    let s = user_session(&m, s0);
    let msg = b"a message to sign with ECDSA";

    let (pubk, privk) = ec_pair(&s, P256, &[]);
    assert_eq!(attr_bytes(&s, pubk, AttributeType::EcParams), P256);
    let point = ec_point_raw(&attr_bytes(&s, pubk, AttributeType::EcPoint), 32);
    let sig = s
        .sign(&Mechanism::EcdsaSha256, privk, msg)
        .expect("C_Sign ECDSA_SHA256");
    assert_eq!(sig.len(), 64);
    s.verify(&Mechanism::EcdsaSha256, pubk, msg, &sig)
        .expect("C_Verify ECDSA_SHA256");
    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
        .verify(msg, &sig)
        .expect("independent P-256 verification");
    let mut bad = sig.clone();
    bad[10] ^= 1;
    assert_eq!(
        rv(s.verify(&Mechanism::EcdsaSha256, pubk, msg, &bad)),
        RvError::SignatureInvalid
    );
    assert_eq!(
        rv(s.verify(&Mechanism::EcdsaSha256, pubk, b"another message", &sig)),
        RvError::SignatureInvalid
    );

    // Multi-part equals what an independent verifier accepts.
    s.sign_init(&Mechanism::EcdsaSha256, privk).unwrap();
    s.sign_update(&msg[..5]).unwrap();
    s.sign_update(&msg[5..]).unwrap();
    let sig2 = s.sign_final().unwrap();
    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &point)
        .verify(msg, &sig2)
        .expect("independent verification of a multi-part signature");

    // CKM_ECDSA over digests of 20, 32 and 64 bytes.
    for (alg, verifier) in [
        (
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            &signature::ECDSA_P256_SHA1_ASN1,
        ),
        (&digest::SHA256, &signature::ECDSA_P256_SHA256_ASN1),
        (&digest::SHA512, &signature::ECDSA_P256_SHA512_ASN1),
    ] {
        let d = sha(alg, msg);
        let sig = s.sign(&Mechanism::Ecdsa, privk, &d).expect("C_Sign ECDSA");
        s.verify(&Mechanism::Ecdsa, pubk, &d, &sig)
            .expect("C_Verify ECDSA");
        UnparsedPublicKey::new(verifier, &point)
            .verify(msg, &ecdsa_der(&sig))
            .unwrap_or_else(|_| panic!("independent ECDSA over a {}-byte digest", d.len()));
    }

    let (pubk, privk) = ec_pair(&s, P384, &[]);
    let point = ec_point_raw(&attr_bytes(&s, pubk, AttributeType::EcPoint), 48);
    let sig = s
        .sign(&Mechanism::EcdsaSha384, privk, msg)
        .expect("C_Sign ECDSA_SHA384");
    assert_eq!(sig.len(), 96);
    s.verify(&Mechanism::EcdsaSha384, pubk, msg, &sig).unwrap();
    UnparsedPublicKey::new(&signature::ECDSA_P384_SHA384_FIXED, &point)
        .verify(msg, &sig)
        .expect("independent P-384 verification");
    drop(s);
    m.finalize().expect("C_Finalize");
}

#[test]
fn rsa_pkcs1_and_pss_verify_independently() {
    let _fx = Fixture::dev_store(4);
    let m = Module::open();
    let s0 = ready_token(&m, "rsa");
    let s = user_session(&m, s0);
    let msg = b"a message to sign with RSA";

    let (pubk, privk) = rsa_pair(&s, false);
    let n = attr_bytes(&s, pubk, AttributeType::Modulus);
    let e = attr_bytes(&s, pubk, AttributeType::PublicExponent);
    assert_eq!(strip_zeros(&n).len(), 256);
    assert_eq!(strip_zeros(&e), [1, 0, 1]);
    assert_eq!(
        attr(&s, pubk, AttributeType::ModulusBits),
        Attribute::ModulusBits(2048.into())
    );
    assert_eq!(attr_bytes(&s, privk, AttributeType::Modulus), n);
    let info = s
        .get_attribute_info(
            privk,
            &[AttributeType::PrivateExponent, AttributeType::Prime1],
        )
        .unwrap();
    assert!(
        matches!(
            info[..],
            [AttributeInfo::Sensitive, AttributeInfo::Sensitive]
        ),
        "{info:?}"
    );
    let public = signature::RsaPublicKeyComponents {
        n: strip_zeros(&n),
        e: strip_zeros(&e),
    };

    let sig = s
        .sign(&Mechanism::Sha256RsaPkcs, privk, msg)
        .expect("C_Sign SHA256_RSA_PKCS");
    assert_eq!(sig.len(), 256);
    public
        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, msg, &sig)
        .expect("independent PKCS #1 v1.5 verification");
    s.verify(&Mechanism::Sha256RsaPkcs, pubk, msg, &sig)
        .expect("C_Verify SHA256_RSA_PKCS");

    // CKM_RSA_PKCS over a DigestInfo is the same deterministic signature.
    let mut digest_info = SHA256_DIGEST_INFO.to_vec();
    digest_info.extend(sha(&digest::SHA256, msg));
    let raw_sig = s
        .sign(&Mechanism::RsaPkcs, privk, &digest_info)
        .expect("C_Sign RSA_PKCS");
    assert_eq!(raw_sig, sig);
    s.verify(&Mechanism::RsaPkcs, pubk, &digest_info, &raw_sig)
        .expect("C_Verify RSA_PKCS");

    // PSS: SHA-256, MGF1-SHA-256, 32-byte salt.
    let pss = Mechanism::Sha256RsaPkcsPss(pss_sha256());
    let psig = s
        .sign(&pss, privk, msg)
        .expect("C_Sign SHA256_RSA_PKCS_PSS");
    public
        .verify(&signature::RSA_PSS_2048_8192_SHA256, msg, &psig)
        .expect("independent PSS verification");
    s.verify(&pss, pubk, msg, &psig).expect("C_Verify PSS");
    let raw_pss = Mechanism::RsaPkcsPss(pss_sha256());
    let psig2 = s
        .sign(&raw_pss, privk, &sha(&digest::SHA256, msg))
        .expect("C_Sign RSA_PKCS_PSS");
    public
        .verify(&signature::RSA_PSS_2048_8192_SHA256, msg, &psig2)
        .expect("independent verification of PSS over a digest");

    let mut bad = sig.clone();
    bad[100] ^= 4;
    assert_eq!(
        rv(s.verify(&Mechanism::Sha256RsaPkcs, pubk, msg, &bad)),
        RvError::SignatureInvalid
    );
    let mut bad = psig.clone();
    bad[7] ^= 4;
    assert_eq!(
        rv(s.verify(&pss, pubk, msg, &bad)),
        RvError::SignatureInvalid
    );
    drop(s);
    m.finalize().expect("C_Finalize");
}

#[test]
fn key_usage_policy_is_enforced() {
    let _fx = Fixture::dev_store(4);
    let m = Module::open();
    let s0 = ready_token(&m, "usage");
    let s = user_session(&m, s0);
    let msg = b"policy";

    let (_, no_sign) = ec_pair(&s, P256, &[Attribute::Label(b"no sign".to_vec())]);
    s.update_attributes(no_sign, &[Attribute::Sign(false)])
        .expect("clear CKA_SIGN");
    assert_eq!(
        rv(s.sign(&Mechanism::EcdsaSha256, no_sign, msg)),
        RvError::KeyFunctionNotPermitted
    );
    let (_, made_without_sign) = {
        let public = vec![Attribute::Token(false), Attribute::EcParams(P256.to_vec())];
        let private = vec![Attribute::Token(false), Attribute::Sign(false)];
        s.generate_key_pair(&Mechanism::EccKeyPairGen, &public, &private)
            .unwrap()
    };
    assert!(!attr_bool(&s, made_without_sign, AttributeType::Sign));
    assert_eq!(
        rv(s.sign(&Mechanism::EcdsaSha256, made_without_sign, msg)),
        RvError::KeyFunctionNotPermitted
    );

    let (pubk, restricted) = ec_pair(
        &s,
        P256,
        &[Attribute::AllowedMechanisms(vec![
            MechanismType::ECDSA_SHA256,
        ])],
    );
    assert_eq!(
        attr(&s, restricted, AttributeType::AllowedMechanisms),
        Attribute::AllowedMechanisms(vec![MechanismType::ECDSA_SHA256])
    );
    let sig = s
        .sign(&Mechanism::EcdsaSha256, restricted, msg)
        .expect("the allowed mechanism");
    s.verify(&Mechanism::EcdsaSha256, pubk, msg, &sig).unwrap();
    assert_eq!(
        rv(s.sign(&Mechanism::EcdsaSha384, restricted, msg)),
        RvError::MechanismInvalid
    );
    assert_eq!(
        rv(s.sign(&Mechanism::Ecdsa, restricted, &[0u8; 32])),
        RvError::MechanismInvalid
    );

    // Wrong key kinds.
    let aes = aes_key(&s, 16, &[]);
    assert_eq!(
        rv(s.sign(&Mechanism::EcdsaSha256, aes, msg)),
        RvError::KeyTypeInconsistent
    );
    assert_eq!(
        rv(s.encrypt(&Mechanism::AesCbcPad([0; 16]), restricted, msg)),
        RvError::KeyTypeInconsistent
    );
    // An AES key without CKA_ENCRYPT.
    let no_encrypt = aes_key(&s, 16, &[]);
    s.update_attributes(no_encrypt, &[Attribute::Encrypt(false)])
        .unwrap();
    assert_eq!(
        rv(s.encrypt(&Mechanism::AesCbcPad([0; 16]), no_encrypt, msg)),
        RvError::KeyFunctionNotPermitted
    );
    drop(s);
    m.finalize().expect("C_Finalize");
}

#[test]
fn mechanism_list_info_and_random() {
    let _fx = Fixture::dev_store(4);
    let m = Module::open();
    let s0 = ready_token(&m, "mechanisms");
    let list = m.get_mechanism_list(s0).expect("C_GetMechanismList");
    for t in [
        MechanismType::SHA256,
        MechanismType::SHA384,
        MechanismType::SHA512,
        MechanismType::AES_KEY_GEN,
        MechanismType::AES_GCM,
        MechanismType::AES_CBC_PAD,
        MechanismType::ECC_KEY_PAIR_GEN,
        MechanismType::ECDSA,
        MechanismType::ECDSA_SHA256,
        MechanismType::ECDSA_SHA384,
        MechanismType::RSA_PKCS_KEY_PAIR_GEN,
        MechanismType::RSA_PKCS,
        MechanismType::SHA256_RSA_PKCS,
        MechanismType::RSA_PKCS_PSS,
        MechanismType::SHA256_RSA_PKCS_PSS,
    ] {
        assert!(list.contains(&t), "{t} missing from C_GetMechanismList");
    }
    // cryptoki drops mechanism numbers it has no name for; every one it reports must be ours.
    for t in &list {
        let n: u64 = (*t).into();
        assert!(
            custos_pkcs11::mechanism::MECHANISMS
                .iter()
                .any(|m| m.ty == n),
            "{t} is not in the mechanism table"
        );
    }

    let gcm = m
        .get_mechanism_info(s0, MechanismType::AES_GCM)
        .expect("C_GetMechanismInfo");
    assert!(gcm.encrypt() && gcm.decrypt());
    assert!(!gcm.sign() && !gcm.digest());
    assert_eq!((gcm.min_key_size(), gcm.max_key_size()), (16, 32));
    let ecgen = m
        .get_mechanism_info(s0, MechanismType::ECC_KEY_PAIR_GEN)
        .unwrap();
    assert!(ecgen.generate_key_pair());
    assert!(ecgen.ec_from_oid());
    assert!(ecgen.ec_uncompressed());
    assert_eq!((ecgen.min_key_size(), ecgen.max_key_size()), (256, 521));
    let sha = m.get_mechanism_info(s0, MechanismType::SHA256).unwrap();
    assert!(sha.digest());
    assert!(!sha.encrypt());
    let rsa = m
        .get_mechanism_info(s0, MechanismType::RSA_PKCS_KEY_PAIR_GEN)
        .unwrap();
    assert!(rsa.generate_key_pair());
    assert_eq!(rsa.min_key_size(), 2048);
    assert_eq!(
        rv(m.get_mechanism_info(s0, MechanismType::DES3_CBC)),
        RvError::MechanismInvalid
    );

    let s = m.open_ro_session(s0).unwrap();
    let a = s.generate_random_vec(32).expect("C_GenerateRandom");
    let b = s.generate_random_vec(32).expect("C_GenerateRandom");
    assert_eq!(a.len(), 32);
    assert_ne!(a, b);
    assert_ne!(a, vec![0u8; 32]);
    assert_eq!(rv(s.seed_random(b"seed")), RvError::RandomSeedNotSupported);
    drop(s);
    m.finalize().expect("C_Finalize");
}

// ----- 8. two processes -----------------------------------------------------------------------

const CHILD_STORE: &str = "CUSTOS_ABI_CHILD_STORE";
const CHILD_LABEL: &str = "CUSTOS_ABI_CHILD_LABEL";
const CHILD_MARK: &str = "CUSTOS_ABI_CHILD_MARK";

#[test]
fn two_processes_share_the_store() {
    let fx = Fixture::dev_store(4);
    let m = Module::open();
    let s0 = ready_token(&m, "shared");
    let s = m.open_rw_session(s0).unwrap();
    s.create_object(&data_object("made by the parent", true))
        .unwrap();
    assert!(find_label(&s, "made by the child").is_empty());

    let mark = fx.tmp.path().join("child-done");
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args([
            "--exact",
            "child_process_helper",
            "--nocapture",
            "--ignored",
        ])
        .env(CHILD_STORE, fx.store_dir())
        .env(CHILD_LABEL, "made by the parent")
        .env(CHILD_MARK, &mark)
        .output()
        .expect("run the child test process");
    assert!(
        out.status.success() && mark.exists(),
        "child process failed ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );

    // The module notices the other process's commit without re-initialising.
    let found = find_label(&s, "made by the child");
    assert_eq!(found.len(), 1);
    assert_eq!(
        attr_bytes(&s, found[0], AttributeType::Value),
        b"data object value"
    );
    assert_eq!(find(&s, &[Attribute::Token(true)]).len(), 2);
    drop(s);
    m.finalize().expect("C_Finalize");
}

/// Run by `two_processes_share_the_store` in a child process; does nothing otherwise.
#[test]
#[ignore = "helper: run in a child process by two_processes_share_the_store"]
fn child_process_helper() {
    let Some(store) = std::env::var_os(CHILD_STORE) else {
        return;
    };
    let wanted = std::env::var(CHILD_LABEL).expect("the label to look for");
    let mark = std::env::var_os(CHILD_MARK).expect("the mark file");
    let fx = Fixture::new();
    fx.use_store(std::path::Path::new(&store));
    let m = Module::open();
    let s0 = slot(&m, 0);
    assert_eq!(m.get_token_info(s0).unwrap().label(), "shared");
    let s = m.open_rw_session(s0).unwrap();
    assert_eq!(find_label(&s, &wanted).len(), 1, "the parent's object");
    s.create_object(&data_object("made by the child", true))
        .expect("create the child's object");
    drop(s);
    m.finalize().expect("C_Finalize");
    std::fs::write(mark, b"done").expect("write the mark file");
}

// ----- 9. fork --------------------------------------------------------------------------------

/// The forked child's checks; the exit code says which failed.
fn fork_child(ctx: &Pkcs11) -> i32 {
    match ctx.get_all_slots() {
        Err(Error::Pkcs11(RvError::CryptokiNotInitialized, _)) => {}
        _ => return 10,
    }
    match ctx.get_library_info() {
        Err(Error::Pkcs11(RvError::CryptokiNotInitialized, _)) => {}
        _ => return 11,
    }
    if ctx.initialize(init_args()).is_err() {
        return 12;
    }
    let Ok(slots) = ctx.get_slots_with_token() else {
        return 13;
    };
    if ids(&slots) != [0, 1, 2, 3] {
        return 13;
    }
    let Ok(s) = ctx.open_rw_session(slots[0]) else {
        return 14;
    };
    match s.find_objects(&[label("before fork")]) {
        Ok(v) if v.len() == 1 => {}
        _ => return 15,
    }
    if s.create_object(&data_object("made after fork", true))
        .is_err()
    {
        return 16;
    }
    drop(s);
    if ctx.clone().finalize().is_err() {
        return 17;
    }
    0
}

fn fork_failure(code: i32) -> &'static str {
    match code {
        10 => "C_GetSlotList in the child did not return CKR_CRYPTOKI_NOT_INITIALIZED",
        11 => "C_GetInfo in the child did not return CKR_CRYPTOKI_NOT_INITIALIZED",
        12 => "C_Initialize in the child failed",
        13 => "C_GetSlotList in the child after C_Initialize failed",
        14 => "C_OpenSession in the child failed",
        15 => "the child did not find the parent's object",
        16 => "C_CreateObject in the child failed",
        17 => "C_Finalize in the child failed",
        99 => "the child panicked",
        _ => "unexpected exit status",
    }
}

#[test]
fn forked_child_must_initialize_again() {
    let _fx = Fixture::dev_store(4);
    let m = Module::open();
    let s0 = ready_token(&m, "fork");
    let s = m.open_rw_session(s0).unwrap();
    s.create_object(&data_object("before fork", true)).unwrap();
    let ctx = m.ctx().clone();

    // SAFETY: the child runs only the checks below and leaves with _exit, never returning
    // into the test harness; the global test lock keeps other tests out of the module.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork failed");
    if pid == 0 {
        std::panic::set_hook(Box::new(|_| {}));
        let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fork_child(&ctx)))
            .unwrap_or(99);
        // SAFETY: ends the child without running the parent's destructors or atexit handlers.
        unsafe { libc::_exit(code) };
    }
    let mut status = 0;
    // SAFETY: waits for the child just forked; `status` is a valid out-pointer.
    let r = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(r, pid, "waitpid");
    assert!(
        libc::WIFEXITED(status),
        "the child did not exit normally ({status:#x})"
    );
    let code = libc::WEXITSTATUS(status);
    assert_eq!(code, 0, "{}", fork_failure(code));

    // The parent is still initialised, and sees what the child wrote.
    assert_eq!(s.get_session_info().unwrap().slot_id().id(), 0);
    assert_eq!(find_label(&s, "before fork").len(), 1);
    assert_eq!(find_label(&s, "made after fork").len(), 1);
    drop(s);
    m.finalize().expect("C_Finalize");
}

// ----- 10. secrets never reach the disk -------------------------------------------------------

#[test]
fn key_material_never_reaches_the_disk() {
    let fx = Fixture::dev_store(4);
    let dir = fx.store_dir();
    let store_id = custos_pkcs11::store::Store::open(&dir)
        .expect("open the store")
        .header()
        .store_id;

    let mut aes_value = [0u8; 32];
    aws_lc_rs::rand::fill(&mut aes_value).unwrap();
    let ec = signature::EcdsaKeyPair::generate(&signature::ECDSA_P256_SHA256_FIXED_SIGNING)
        .expect("an EC key pair");
    let scalar = ec.private_key().as_be_bytes().unwrap().as_ref().to_vec();
    assert_eq!(scalar.len(), 32);
    let ec_public = ec.public_key().as_ref().to_vec();

    let m = Module::open();
    let s0 = ready_token(&m, "disk");
    let s = user_session(&m, s0);
    let aes = s
        .create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Value(aes_value.to_vec()),
            Attribute::Token(true),
            Attribute::Encrypt(true),
            label("disk aes"),
        ])
        .expect("import the AES key");
    let ec_priv = s
        .create_object(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC),
            Attribute::EcParams(P256.to_vec()),
            Attribute::Value(scalar.clone()),
            Attribute::Token(true),
            Attribute::Sign(true),
            label("disk ec"),
        ])
        .expect("import the EC key");
    let (_, _rsa_priv) = rsa_pair(&s, true);

    // The imported keys are the ones in use.
    let msg = b"disk";
    let sig = s.sign(&Mechanism::EcdsaSha256, ec_priv, msg).unwrap();
    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &ec_public)
        .verify(msg, &sig)
        .expect("the imported scalar signs");
    let nonce = [1u8; 12];
    let mut iv = nonce.to_vec();
    let ct = s
        .encrypt(
            &Mechanism::AesGcm(GcmParams::new(&mut iv, b"", 128.into()).unwrap()),
            aes,
            msg,
        )
        .unwrap();
    {
        use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
        let k = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &aes_value).unwrap());
        let mut buf = msg.to_vec();
        k.seal_in_place_append_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
            .unwrap();
        assert_eq!(ct, buf, "the imported AES value encrypts");
    }
    assert_eq!(find(&s, &[Attribute::Token(true)]).len(), 4);
    drop(s);
    m.finalize().expect("C_Finalize");

    let files = files_under(&dir);
    assert!(
        files.iter().any(|f| f.ends_with("custos.db")),
        "no custos.db in {files:?}"
    );
    let mut id_seen = false;
    for f in &files {
        let bytes = std::fs::read(f).expect("read a store file");
        id_seen |= contains(&bytes, &store_id);
        assert!(
            !contains(&bytes, &aes_value),
            "the AES key value is in plain text in {}",
            f.display()
        );
        assert!(
            !contains(&bytes, &scalar),
            "the EC private scalar is in plain text in {}",
            f.display()
        );
    }
    assert!(
        id_seen,
        "the scan did not find the plain store id: it proves nothing"
    );
}

// ----- unloading ------------------------------------------------------------------------------

const UNLOAD_STORE: &str = "CUSTOS_ABI_UNLOAD_STORE";

/// Applications (and PKCS#11 proxies such as p11-kit) `dlclose` a module after `C_Finalize`.
/// Threads that used the module must be able to end afterwards.
#[test]
fn module_can_be_unloaded_after_use() {
    let fx = Fixture::dev_store(4);
    let exe = std::env::current_exe().unwrap();
    let out = std::process::Command::new(exe)
        .args(["--exact", "unload_child_helper", "--nocapture", "--ignored"])
        .env(UNLOAD_STORE, fx.store_dir())
        .output()
        .expect("run the child test process");
    assert!(
        out.status.success(),
        "loading, using, finalising and unloading the module in a thread killed the process \
         ({}):\n--- stdout\n{}\n--- stderr\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Run by `module_can_be_unloaded_after_use` in a child process; does nothing otherwise. It
/// must not use the helpers that keep the module loaded.
#[test]
#[ignore = "helper: run in a child process by module_can_be_unloaded_after_use"]
fn unload_child_helper() {
    let Some(store) = std::env::var_os(UNLOAD_STORE) else {
        return;
    };
    std::env::set_var("CUSTOS_STORE", store);
    std::env::set_var("CUSTOS_QUIET", "1");
    let path = module_path();
    std::thread::spawn(move || {
        let ctx = Pkcs11::new(path).expect("load the module");
        ctx.initialize(init_args()).expect("C_Initialize");
        let s0 = Slot::try_from(0u64).unwrap();
        ctx.init_token(s0, &pin(SO_PIN), "unload")
            .expect("C_InitToken");
        let s = ctx.open_ro_session(s0).expect("C_OpenSession");
        s.digest(&Mechanism::Sha256, b"x").expect("C_Digest");
        drop(s);
        // Finalise, then drop the last context: the module is unloaded.
        ctx.finalize().expect("C_Finalize");
    })
    .join()
    .expect("the thread that used the module ended");
}
