//! The benchmark rows: what each one needs from a module, the timed operation, a one-time
//! check of its output, and the in-process reference operation.

use std::sync::atomic::{AtomicU32, Ordering};

use cryptoki_sys::*;

use crate::crypto::aes::cbc_pad_encrypt;
use crate::crypto::keywrap::kw_wrap;
use crate::crypto::mac::hmac;
use crate::crypto::{digest, ec_generate, gcm_encrypt, Curve, HashAlg};

use super::material::{der_octet_string, KeyId, Material};
use crate::ffi::client::{Attr, Mech, Module, P11Error};

/// The GCM tag length used throughout, in bits.
const GCM_TAG_BITS: usize = 128;
/// The CBC IV.
const CBC_IV: [u8; 16] = [0x5a; 16];
/// Bytes of value in each population and create/destroy data object.
const DATA_OBJECT_LEN: usize = 64;

/// What a row measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// RSA signing with `CKM_SHA256_RSA_PKCS` or, with `pss`, `CKM_RSA_PKCS_PSS` over a digest.
    RsaSign {
        /// Modulus bits.
        bits: usize,
        /// PSS instead of PKCS #1 v1.5.
        pss: bool,
    },
    /// RSA-2048 `CKM_SHA256_RSA_PKCS` verification.
    RsaVerify,
    /// RSA-2048 OAEP (SHA-256) decryption.
    RsaOaepDecrypt,
    /// `CKM_ECDSA` signing of a digest.
    EcdsaSign(Curve),
    /// `CKM_ECDSA` verification of a digest.
    EcdsaVerify(Curve),
    /// `CKM_EDDSA` (Ed25519) signing.
    Ed25519Sign,
    /// AES-256-GCM encryption of this many bytes.
    GcmEncrypt(usize),
    /// AES-256-CBC-PAD encryption of this many bytes.
    CbcPadEncrypt(usize),
    /// HMAC-SHA256 of this many bytes.
    Hmac(usize),
    /// SHA-256 of this many bytes.
    Digest(usize),
    /// `CKM_AES_KEY_WRAP` of a 32-byte AES key.
    KeyWrap,
    /// EC P-256 key-pair generation as token objects.
    EcKeygen,
    /// Creation and destruction of a token data object.
    DataCreateDestroy,
    /// `C_OpenSession` + `C_CloseSession`.
    OpenClose,
    /// `C_GenerateRandom` of 32 bytes: the cost of one call through the module.
    Random,
    /// One search among a population of public token objects.
    Find {
        /// Search by `CKA_LABEL` instead of `CKA_ID`.
        by_label: bool,
        /// The population size.
        pop: usize,
    },
    /// `C_Initialize` and a first search in a fresh process.
    InitProbe {
        /// The population size.
        pop: usize,
    },
    /// Peak resident memory of a fresh process after `C_Initialize` and a first search.
    PeakRss {
        /// The population size.
        pop: usize,
    },
    /// `C_Login` + `C_Logout`.
    Login,
}

/// The unit of a row's figures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Operations per second (higher is better).
    OpsPerSec,
    /// Milliseconds (lower is better).
    Ms,
    /// Milliseconds per operation (lower is better).
    MsPerOp,
    /// Mebibytes (lower is better).
    MiB,
    /// A multi-thread figure over the single-thread one, measured in the same rounds
    /// (higher is better).
    Scaling,
}

impl Unit {
    /// The unit's name in tables and JSON.
    pub fn name(self) -> &'static str {
        match self {
            Unit::OpsPerSec => "ops/s",
            Unit::Ms => "ms",
            Unit::MsPerOp => "ms/op",
            Unit::MiB => "MiB",
            Unit::Scaling => "x",
        }
    }
}

/// A mechanism a row needs: the mechanism, the function flag, and for RSA the key size.
#[derive(Debug, Clone, Copy)]
pub struct Need {
    /// The mechanism.
    pub mech: CK_MECHANISM_TYPE,
    /// The `CKF_*` function flag the module must report for it.
    pub flag: CK_FLAGS,
    /// The RSA modulus size in bits, checked against the reported key-size range.
    pub bits: Option<usize>,
}

/// A PKCS#11 mechanism's name for messages.
pub fn mech_name(m: CK_MECHANISM_TYPE) -> String {
    let name = match m {
        CKM_SHA256_RSA_PKCS => "CKM_SHA256_RSA_PKCS",
        CKM_RSA_PKCS_PSS => "CKM_RSA_PKCS_PSS",
        CKM_RSA_PKCS_OAEP => "CKM_RSA_PKCS_OAEP",
        CKM_ECDSA => "CKM_ECDSA",
        CKM_EDDSA => "CKM_EDDSA",
        CKM_AES_GCM => "CKM_AES_GCM",
        CKM_AES_CBC_PAD => "CKM_AES_CBC_PAD",
        CKM_SHA256_HMAC => "CKM_SHA256_HMAC",
        CKM_SHA256 => "CKM_SHA256",
        CKM_AES_KEY_WRAP => "CKM_AES_KEY_WRAP",
        CKM_EC_KEY_PAIR_GEN => "CKM_EC_KEY_PAIR_GEN",
        other => return format!("mechanism 0x{other:08x}"),
    };
    name.to_string()
}

/// The name of a function flag.
pub fn flag_name(f: CK_FLAGS) -> &'static str {
    match f {
        CKF_SIGN => "signing",
        CKF_VERIFY => "verification",
        CKF_ENCRYPT => "encryption",
        CKF_DECRYPT => "decryption",
        CKF_DIGEST => "digesting",
        CKF_WRAP => "key wrapping",
        CKF_GENERATE_KEY_PAIR => "key-pair generation",
        _ => "this use",
    }
}

fn size_name(n: usize) -> String {
    if n >= 1024 && n % 1024 == 0 {
        format!("{} KiB", n / 1024)
    } else {
        format!("{n} B")
    }
}

/// `1000` as `1,000`.
pub fn thousands(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

impl Kind {
    /// The row's name.
    pub fn name(&self) -> String {
        match *self {
            Kind::RsaSign { bits, pss: false } => format!("RSA-{bits} sign SHA256_RSA_PKCS"),
            Kind::RsaSign { bits, pss: true } => format!("RSA-{bits} sign RSA_PKCS_PSS"),
            Kind::RsaVerify => "RSA-2048 verify SHA256_RSA_PKCS".into(),
            Kind::RsaOaepDecrypt => "RSA-2048 decrypt RSA_PKCS_OAEP".into(),
            Kind::EcdsaSign(c) => format!("ECDSA {} sign", c.name()),
            Kind::EcdsaVerify(c) => format!("ECDSA {} verify", c.name()),
            Kind::Ed25519Sign => "Ed25519 sign EDDSA".into(),
            Kind::GcmEncrypt(n) => format!("AES-256-GCM encrypt {}", size_name(n)),
            Kind::CbcPadEncrypt(n) => format!("AES-256-CBC-PAD encrypt {}", size_name(n)),
            Kind::Hmac(n) => format!("HMAC-SHA256 {}", size_name(n)),
            Kind::Digest(n) => format!("SHA-256 digest {}", size_name(n)),
            Kind::KeyWrap => "AES key wrap AES_KEY_WRAP".into(),
            Kind::EcKeygen => "EC P-256 key-pair generation (token)".into(),
            Kind::DataCreateDestroy => "Data object create + destroy (token)".into(),
            Kind::OpenClose => "C_OpenSession + C_CloseSession".into(),
            Kind::Random => "C_GenerateRandom 32 B".into(),
            Kind::Find { by_label, pop } => format!(
                "C_FindObjects by {}, {} objects",
                if by_label { "CKA_LABEL" } else { "CKA_ID" },
                thousands(pop)
            ),
            Kind::InitProbe { pop } => format!(
                "C_Initialize + first C_FindObjects, {} objects",
                thousands(pop)
            ),
            Kind::PeakRss { pop } => format!(
                "Peak RSS after C_Initialize + first C_FindObjects, {} objects",
                thousands(pop)
            ),
            Kind::Login => "C_Login + C_Logout".into(),
        }
    }

    /// Whether the row is also measured with several threads.
    pub fn multi_thread(&self) -> bool {
        !matches!(
            self,
            Kind::InitProbe { .. } | Kind::PeakRss { .. } | Kind::Login
        )
    }

    /// The unit of the row's figures.
    pub fn unit(&self) -> Unit {
        match self {
            Kind::InitProbe { .. } => Unit::Ms,
            Kind::PeakRss { .. } => Unit::MiB,
            _ => Unit::OpsPerSec,
        }
    }

    /// The population the row needs in the token.
    pub fn population(&self) -> Option<usize> {
        match *self {
            Kind::Find { pop, .. } | Kind::InitProbe { pop } | Kind::PeakRss { pop } => Some(pop),
            _ => None,
        }
    }

    /// Whether the row signs (its multi-thread scaling is reported on its own row).
    pub fn is_sign(&self) -> bool {
        matches!(
            self,
            Kind::RsaSign { .. } | Kind::EcdsaSign(_) | Kind::Ed25519Sign
        )
    }

    /// Whether the row has an in-process reference.
    pub fn has_reference(&self) -> bool {
        !matches!(
            self,
            Kind::DataCreateDestroy
                | Kind::OpenClose
                | Kind::Random
                | Kind::Find { .. }
                | Kind::InitProbe { .. }
                | Kind::PeakRss { .. }
                | Kind::Login
        )
    }

    /// The mechanisms the row needs.
    pub fn needs(&self) -> Vec<Need> {
        let n = |mech, flag| Need {
            mech,
            flag,
            bits: None,
        };
        match *self {
            Kind::RsaSign { bits, pss } => vec![Need {
                mech: if pss {
                    CKM_RSA_PKCS_PSS
                } else {
                    CKM_SHA256_RSA_PKCS
                },
                flag: CKF_SIGN,
                bits: Some(bits),
            }],
            Kind::RsaVerify => vec![Need {
                mech: CKM_SHA256_RSA_PKCS,
                flag: CKF_VERIFY,
                bits: Some(2048),
            }],
            Kind::RsaOaepDecrypt => vec![Need {
                mech: CKM_RSA_PKCS_OAEP,
                flag: CKF_DECRYPT,
                bits: Some(2048),
            }],
            Kind::EcdsaSign(_) => vec![n(CKM_ECDSA, CKF_SIGN)],
            Kind::EcdsaVerify(_) => vec![n(CKM_ECDSA, CKF_VERIFY)],
            Kind::Ed25519Sign => vec![n(CKM_EDDSA, CKF_SIGN)],
            Kind::GcmEncrypt(_) => vec![n(CKM_AES_GCM, CKF_ENCRYPT)],
            Kind::CbcPadEncrypt(_) => vec![n(CKM_AES_CBC_PAD, CKF_ENCRYPT)],
            Kind::Hmac(_) => vec![n(CKM_SHA256_HMAC, CKF_SIGN)],
            Kind::Digest(_) => vec![n(CKM_SHA256, CKF_DIGEST)],
            Kind::KeyWrap => vec![n(CKM_AES_KEY_WRAP, CKF_WRAP)],
            Kind::EcKeygen => vec![n(CKM_EC_KEY_PAIR_GEN, CKF_GENERATE_KEY_PAIR)],
            _ => Vec::new(),
        }
    }

    /// The keys the row needs in the module, in the order the operation uses them.
    pub fn keys(&self) -> Vec<KeyId> {
        match *self {
            Kind::RsaSign { bits, .. } => vec![KeyId::RsaPrivate(bits)],
            Kind::RsaVerify => vec![KeyId::RsaPublic(2048)],
            Kind::RsaOaepDecrypt => vec![KeyId::RsaPrivate(2048)],
            Kind::EcdsaSign(c) => vec![KeyId::EcPrivate(c)],
            Kind::EcdsaVerify(c) => vec![KeyId::EcPublic(c)],
            Kind::Ed25519Sign => vec![KeyId::EdPrivate],
            Kind::GcmEncrypt(_) | Kind::CbcPadEncrypt(_) => vec![KeyId::Aes],
            Kind::Hmac(_) => vec![KeyId::Hmac],
            Kind::KeyWrap => vec![KeyId::Kek, KeyId::Wrapped],
            _ => Vec::new(),
        }
    }
}

/// The key handles and templates one module uses for one row.
pub struct Prep {
    /// Handles for [`Kind::keys`], in order.
    pub keys: Vec<CK_OBJECT_HANDLE>,
    /// Templates for objects the operation creates.
    pub templates: Vec<Vec<Attr>>,
}

/// The templates a row's operation creates objects from.
pub fn templates(kind: Kind, mat: &Material) -> Vec<Vec<Attr>> {
    match kind {
        Kind::EcKeygen => {
            let label = format!("{}keygen", mat.prefix);
            vec![
                vec![
                    Attr::bool(CKA_TOKEN, true),
                    Attr::bool(CKA_PRIVATE, false),
                    Attr::bool(CKA_VERIFY, true),
                    Attr::bytes(CKA_EC_PARAMS, Curve::P256.oid_der()),
                    Attr::bytes(CKA_LABEL, label.as_bytes()),
                ],
                vec![
                    Attr::bool(CKA_TOKEN, true),
                    Attr::bool(CKA_PRIVATE, true),
                    Attr::bool(CKA_SENSITIVE, true),
                    Attr::bool(CKA_SIGN, true),
                    Attr::bytes(CKA_LABEL, label.as_bytes()),
                ],
            ]
        }
        Kind::DataCreateDestroy => vec![data_object(
            format!("{}data", mat.prefix).as_bytes(),
            &mat.data[..DATA_OBJECT_LEN],
        )],
        _ => Vec::new(),
    }
}

/// A public token data object.
pub fn data_object(label: &[u8], value: &[u8]) -> Vec<Attr> {
    vec![
        Attr::ulong(CKA_CLASS, CKO_DATA),
        Attr::bool(CKA_TOKEN, true),
        Attr::bool(CKA_PRIVATE, false),
        Attr::bytes(CKA_LABEL, label),
        Attr::bytes(CKA_APPLICATION, b"custos bench"),
        Attr::bytes(CKA_VALUE, value),
    ]
}

/// The template of population object `i`: a public token EC P-256 public key (data objects
/// have no `CKA_ID`), all sharing one point and each with its own `CKA_ID` and `CKA_LABEL`.
pub fn population_object(mat: &Material, i: usize) -> Result<Vec<Attr>, String> {
    let k = mat
        .ec
        .get(&Curve::P256)
        .ok_or("internal error: no P-256 key for the population")?;
    let (Some(label), Some(id)) = (mat.pop_labels.get(i), mat.pop_ids.get(i)) else {
        return Err("internal error: population identifiers missing".into());
    };
    Ok(vec![
        Attr::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
        Attr::ulong(CKA_KEY_TYPE, CKK_EC),
        Attr::bool(CKA_TOKEN, true),
        Attr::bool(CKA_PRIVATE, false),
        Attr::bool(CKA_VERIFY, true),
        Attr::bytes(CKA_EC_PARAMS, Curve::P256.oid_der()),
        Attr::bytes(CKA_EC_POINT, &der_octet_string(&k.point)),
        Attr::bytes(CKA_LABEL, label),
        Attr::bytes(CKA_ID, id),
    ])
}

/// Why an operation failed.
#[derive(Debug, Clone)]
pub enum OpError {
    /// A PKCS#11 call failed.
    P11(P11Error),
    /// The call succeeded but the result is wrong.
    Wrong(String),
}

impl From<P11Error> for OpError {
    fn from(e: P11Error) -> Self {
        OpError::P11(e)
    }
}

impl std::fmt::Display for OpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpError::P11(e) => write!(f, "{e}"),
            OpError::Wrong(s) => f.write_str(s),
        }
    }
}

/// The next worker's IV prefix.
static NEXT_WORKER: AtomicU32 = AtomicU32::new(0);

/// One thread's state.
pub struct Worker {
    counter: u64,
    rng: u64,
    idx: u32,
    out: Vec<u8>,
    found: [CK_OBJECT_HANDLE; 16],
    last_iv: [u8; 12],
    /// Objects created by the timed loop, destroyed after it.
    pub created: Vec<CK_OBJECT_HANDLE>,
}

impl Worker {
    /// The state of thread `idx`.
    pub fn new(idx: usize) -> Worker {
        Worker {
            counter: 0,
            rng: 0x9e37_79b9_7f4a_7c15 ^ (idx as u64).wrapping_mul(0xd134_2543_de82_ef95),
            // Unique per worker over the whole run, so no GCM IV repeats under a key.
            idx: NEXT_WORKER.fetch_add(1, Ordering::Relaxed),
            out: vec![0u8; super::material::DATA_LEN + 64],
            found: [0; 16],
            last_iv: [0; 12],
            created: Vec::new(),
        }
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A fresh 96-bit IV: the thread index and a counter.
    fn next_iv(&mut self) -> [u8; 12] {
        self.counter += 1;
        let mut iv = [0u8; 12];
        iv[..4].copy_from_slice(&self.idx.to_be_bytes());
        iv[4..].copy_from_slice(&self.counter.to_be_bytes());
        self.last_iv = iv;
        iv
    }
}

/// What an operation runs against.
pub struct Ctx<'a> {
    /// The module.
    pub m: &'a Module,
    /// The token's slot.
    pub slot: CK_SLOT_ID,
    /// The user PIN.
    pub pin: &'a [u8],
    /// The shared material.
    pub mat: &'a Material,
}

fn pss() -> Mech {
    Mech::Pss {
        mech: CKM_RSA_PKCS_PSS,
        hash: CKM_SHA256,
        mgf: CKG_MGF1_SHA256,
        salt: 32,
    }
}

fn key(prep: &Prep, i: usize) -> Result<CK_OBJECT_HANDLE, OpError> {
    prep.keys
        .get(i)
        .copied()
        .ok_or_else(|| OpError::Wrong("internal error: row key missing".into()))
}

/// Runs one operation on session `s`; returns how many bytes of output it left in the
/// worker's buffer.
pub fn run_op(
    kind: Kind,
    c: &Ctx<'_>,
    s: CK_SESSION_HANDLE,
    prep: &Prep,
    w: &mut Worker,
) -> Result<usize, OpError> {
    let (m, mat) = (c.m, c.mat);
    Ok(match kind {
        Kind::RsaSign { pss: false, .. } => m.sign(
            s,
            &Mech::Plain(CKM_SHA256_RSA_PKCS),
            key(prep, 0)?,
            &mat.msg,
            &mut w.out,
        )?,
        Kind::RsaSign { pss: true, .. } => {
            m.sign(s, &pss(), key(prep, 0)?, &mat.digest32, &mut w.out)?
        }
        Kind::RsaVerify => {
            m.verify(
                s,
                &Mech::Plain(CKM_SHA256_RSA_PKCS),
                key(prep, 0)?,
                &mat.msg,
                &mat.rsa_sig,
            )?;
            0
        }
        Kind::RsaOaepDecrypt => m.decrypt(
            s,
            &Mech::Oaep {
                hash: CKM_SHA256,
                mgf: CKG_MGF1_SHA256,
            },
            key(prep, 0)?,
            &mat.oaep_ct,
            &mut w.out,
        )?,
        Kind::EcdsaSign(curve) => m.sign(
            s,
            &Mech::Plain(CKM_ECDSA),
            key(prep, 0)?,
            mat.ec_digest(curve),
            &mut w.out,
        )?,
        Kind::EcdsaVerify(curve) => {
            let sig = mat
                .ec_sig
                .get(&curve)
                .ok_or_else(|| OpError::Wrong("internal error: no ECDSA signature".into()))?;
            m.verify(
                s,
                &Mech::Plain(CKM_ECDSA),
                key(prep, 0)?,
                mat.ec_digest(curve),
                sig,
            )?;
            0
        }
        Kind::Ed25519Sign => m.sign(
            s,
            &Mech::Plain(CKM_EDDSA),
            key(prep, 0)?,
            &mat.msg,
            &mut w.out,
        )?,
        Kind::GcmEncrypt(n) => {
            let mech = Mech::Gcm {
                iv: w.next_iv(),
                tag_bits: GCM_TAG_BITS as CK_ULONG,
            };
            m.encrypt(s, &mech, key(prep, 0)?, &mat.data[..n], &mut w.out)?
        }
        Kind::CbcPadEncrypt(n) => m.encrypt(
            s,
            &Mech::Iv16(CKM_AES_CBC_PAD, CBC_IV),
            key(prep, 0)?,
            &mat.data[..n],
            &mut w.out,
        )?,
        Kind::Hmac(n) => m.sign(
            s,
            &Mech::Plain(CKM_SHA256_HMAC),
            key(prep, 0)?,
            &mat.data[..n],
            &mut w.out,
        )?,
        Kind::Digest(n) => m.digest(s, &Mech::Plain(CKM_SHA256), &mat.data[..n], &mut w.out)?,
        Kind::KeyWrap => m.wrap_key(
            s,
            &Mech::Plain(CKM_AES_KEY_WRAP),
            key(prep, 0)?,
            key(prep, 1)?,
            &mut w.out,
        )?,
        Kind::EcKeygen => {
            let (public, private) = match prep.templates.as_slice() {
                [p, q, ..] => (p, q),
                _ => return Err(OpError::Wrong("internal error: no templates".into())),
            };
            let (hp, hq) =
                m.generate_key_pair(s, &Mech::Plain(CKM_EC_KEY_PAIR_GEN), public, private)?;
            w.created.push(hp);
            w.created.push(hq);
            0
        }
        Kind::DataCreateDestroy => {
            let t = prep
                .templates
                .first()
                .ok_or_else(|| OpError::Wrong("internal error: no template".into()))?;
            let h = m.create_object(s, t)?;
            m.destroy_object(s, h)?;
            0
        }
        Kind::OpenClose => {
            let h = m.open_session(c.slot)?;
            m.close_session(h)?;
            0
        }
        Kind::Random => {
            let mut buf = [0u8; 32];
            m.generate_random(s, &mut buf)?;
            buf.len()
        }
        Kind::Find { by_label, pop } => {
            let i = (w.next_rand() % pop.max(1) as u64) as usize;
            let attr = if by_label {
                Attr::bytes(CKA_LABEL, &mat.pop_labels[i])
            } else {
                Attr::bytes(CKA_ID, &mat.pop_ids[i])
            };
            let n = m.find_into(s, std::slice::from_ref(&attr), &mut w.found)?;
            if n != 1 {
                return Err(OpError::Wrong(format!(
                    "a search for population object {i} found {n} objects, not 1"
                )));
            }
            0
        }
        Kind::Login => {
            m.login(s, c.pin)?;
            m.logout(s)?;
            0
        }
        Kind::InitProbe { .. } | Kind::PeakRss { .. } => {
            return Err(OpError::Wrong(
                "internal error: the init probe runs in a child process".into(),
            ))
        }
    })
}

fn same(what: &str, got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what} differs from the in-process result"))
    }
}

/// Checks the output of the operation just run by [`run_op`] against the in-process
/// implementation.
pub fn check_output(kind: Kind, mat: &Material, w: &Worker, n: usize) -> Result<(), String> {
    let out = &w.out[..n.min(w.out.len())];
    let ce = |e: crate::crypto::CryptoError| format!("reference: {e}");
    match kind {
        Kind::RsaSign { bits, pss } => {
            let k = mat.rsa.get(&bits).ok_or("no RSA key")?;
            if pss {
                k.public
                    .verify_pss(HashAlg::Sha256, HashAlg::Sha256, 32, &mat.digest32, out)
                    .map_err(|_| "the PSS signature does not verify".to_string())
            } else {
                let want = k
                    .private
                    .sign_pkcs1(HashAlg::Sha256, &mat.msg)
                    .map_err(ce)?;
                same("the signature", out, &want)
            }
        }
        Kind::RsaOaepDecrypt => same("the decrypted plaintext", out, &mat.oaep_plain),
        Kind::EcdsaSign(curve) => {
            let k = mat.ec.get(&curve).ok_or("no EC key")?;
            k.public
                .verify_digest(mat.ec_digest(curve), out)
                .map_err(|_| "the ECDSA signature does not verify".to_string())
        }
        Kind::Ed25519Sign => {
            let k = mat.ed.as_ref().ok_or("no Ed25519 key")?;
            same("the signature", out, &k.private.sign(&mat.msg).map_err(ce)?)
        }
        Kind::GcmEncrypt(len) => {
            let want = gcm_encrypt(&mat.aes, &w.last_iv, &[], GCM_TAG_BITS, &mat.data[..len])
                .map_err(ce)?;
            same("the GCM ciphertext", out, &want)
        }
        Kind::CbcPadEncrypt(len) => {
            let want = cbc_pad_encrypt(&mat.aes, &CBC_IV, &mat.data[..len]).map_err(ce)?;
            same("the CBC ciphertext", out, &want)
        }
        Kind::Hmac(len) => {
            let want = hmac(HashAlg::Sha256, &mat.hmac, &mat.data[..len]).map_err(ce)?;
            same("the HMAC", out, &want)
        }
        Kind::Digest(len) => same(
            "the digest",
            out,
            &digest(HashAlg::Sha256, &mat.data[..len]),
        ),
        Kind::KeyWrap => {
            let want = kw_wrap(&mat.kek, &mat.wrapped).map_err(ce)?;
            same("the wrapped key", out, &want)
        }
        _ => Ok(()),
    }
}

/// Runs the row's operation in-process on the same key (`None` when the row has no
/// reference).
pub fn reference_op(kind: Kind, mat: &Material, w: &mut Worker) -> Option<Result<(), String>> {
    let ce = |e: crate::crypto::CryptoError| e.to_string();
    let rsa = |bits: usize| mat.rsa.get(&bits).ok_or("no RSA key".to_string());
    let ec = |c: Curve| mat.ec.get(&c).ok_or("no EC key".to_string());
    let r: Result<(), String> = match kind {
        Kind::RsaSign { bits, pss: false } => rsa(bits).and_then(|k| {
            k.private
                .sign_pkcs1(HashAlg::Sha256, &mat.msg)
                .map(drop)
                .map_err(ce)
        }),
        Kind::RsaSign { bits, pss: true } => rsa(bits).and_then(|k| {
            k.private
                .sign_pss(HashAlg::Sha256, HashAlg::Sha256, 32, &mat.digest32)
                .map(drop)
                .map_err(ce)
        }),
        Kind::RsaVerify => rsa(2048).and_then(|k| {
            k.public
                .verify_pkcs1(HashAlg::Sha256, &mat.msg, &mat.rsa_sig)
                .map_err(ce)
        }),
        Kind::RsaOaepDecrypt => rsa(2048).and_then(|k| {
            k.private
                .decrypt_oaep(HashAlg::Sha256, HashAlg::Sha256, &[], &mat.oaep_ct)
                .map(drop)
                .map_err(ce)
        }),
        Kind::EcdsaSign(c) => ec(c).and_then(|k| {
            k.private
                .sign_digest(mat.ec_digest(c))
                .map(drop)
                .map_err(ce)
        }),
        Kind::EcdsaVerify(c) => ec(c).and_then(|k| {
            let sig = mat.ec_sig.get(&c).ok_or("no signature")?;
            k.public.verify_digest(mat.ec_digest(c), sig).map_err(ce)
        }),
        Kind::Ed25519Sign => match &mat.ed {
            Some(k) => k.private.sign(&mat.msg).map(drop).map_err(ce),
            None => Err("no Ed25519 key".into()),
        },
        Kind::GcmEncrypt(n) => {
            let iv = w.next_iv();
            gcm_encrypt(&mat.aes, &iv, &[], GCM_TAG_BITS, &mat.data[..n])
                .map(drop)
                .map_err(ce)
        }
        Kind::CbcPadEncrypt(n) => cbc_pad_encrypt(&mat.aes, &CBC_IV, &mat.data[..n])
            .map(drop)
            .map_err(ce),
        Kind::Hmac(n) => hmac(HashAlg::Sha256, &mat.hmac, &mat.data[..n])
            .map(drop)
            .map_err(ce),
        Kind::Digest(n) => {
            std::hint::black_box(digest(HashAlg::Sha256, &mat.data[..n]));
            Ok(())
        }
        Kind::KeyWrap => kw_wrap(&mat.kek, &mat.wrapped).map(drop).map_err(ce),
        Kind::EcKeygen => ec_generate(Curve::P256).map(drop).map_err(ce),
        _ => return None,
    };
    Some(r)
}
