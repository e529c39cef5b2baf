//! Every mechanism of the mechanism table (`src/mechanism/table.rs`), through the built module
//! `libcustos_pkcs11.so` as an application reaches it: key generation where the family
//! generates, the operation itself checked against an independent implementation (aws-lc-rs)
//! or published test vectors, a key of the wrong type (`CKR_KEY_TYPE_INCONSISTENT`), a key whose
//! usage flag is off (`CKR_KEY_FUNCTION_NOT_PERMITTED`), and multi-part against single-part
//! wherever the family streams or buffers.
//!
//! Typed `cryptoki` mechanisms are used where the crate has them; the mechanisms and parameter
//! structures it lacks go through `cryptoki_sys` with hand-built parameters, on the same
//! session.

mod common;

use std::any::Any;
use std::ffi::c_void;
use std::fmt::Debug;
use std::num::{NonZeroU32, NonZeroUsize};
use std::ptr;
use std::sync::OnceLock;

use aws_lc_rs::key_wrap::{KeyWrap, KeyWrapPadded};
use aws_lc_rs::signature::{self, UnparsedPublicKey};
use aws_lc_rs::{aead, agreement, cipher, cmac, digest, hkdf, hmac, key_wrap, pbkdf2, rsa};
use cryptoki::error::{Error, Rv, RvError};
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::mechanism::ekdf::AesCbcDeriveParams;
use cryptoki::mechanism::elliptic_curve::{EcKdf, Ecdh1DeriveParams};
use cryptoki::mechanism::hkdf::{HkdfParams, HkdfSalt};
use cryptoki::mechanism::kbkdf::{
    Endianness, KbkdfCounterFormat, KbkdfDkmLengthFormat, KbkdfDkmLengthMethod, KbkdfParams,
    PrfDataParam, PrfDataParamType,
};
use cryptoki::mechanism::misc::{ExtractParams, KeyDerivationStringData};
use cryptoki::mechanism::rsa::{PkcsMgfType, PkcsOaepParams, PkcsOaepSource, PkcsPssParams};
use cryptoki::mechanism::{Mechanism, MechanismType};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki_sys::*;
use custos_pkcs11::mechanism::MECHANISMS;

use common::*;

// ----- constants ---------------------------------------------------------------------------------

/// `CKA_EC_PARAMS` of P-256 (the DER OID 1.2.840.10045.3.1.7).
const P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// `CKA_EC_PARAMS` of P-384 (1.3.132.0.34).
const P384: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22];
/// `CKA_EC_PARAMS` of P-521 (1.3.132.0.35).
const P521: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
/// `CKA_EC_PARAMS` of secp256k1 (1.3.132.0.10).
const SECP256K1: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x0a];
/// `CKA_EC_PARAMS` of P-256 as a DER PrintableString "prime256v1".
const PRIME256V1: &[u8] = b"\x13\x0aprime256v1";
/// `CKA_EC_PARAMS` of Ed25519 (1.3.101.112).
const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// `CKA_EC_PARAMS` of X25519 (1.3.101.110).
const X25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];
/// The DER OID of rsaEncryption, for a SubjectPublicKeyInfo.
const RSA_ENCRYPTION_OID: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
/// The DigestInfo prefix of a SHA-256 digest (PKCS #1 v1.5).
const SHA256_DIGEST_INFO: &[u8] = &[
    0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05,
    0x00, 0x04, 0x20,
];
/// The vendor number some modules use for RFC 5649 key wrap with padding.
const CKM_AES_KEY_WRAP_KWP_LEGACY: CK_MECHANISM_TYPE = 0x0000_210A;
/// `CKR_AEAD_DECRYPT_FAILED` (PKCS #11 3.0), which `cryptoki` 0.12 has no name for.
const CKR_AEAD_DECRYPT_FAILED: CK_RV = 0x0000_0035;

/// The mechanisms this file exercises, by family. `mechanism_list_and_info_match_the_table`
/// checks that it is exactly the table, so a mechanism added to the table without a test here
/// fails.
const COVERED: &[CK_MECHANISM_TYPE] = &[
    // digests_match_references_and_digest_key
    CKM_SHA_1,
    CKM_SHA224,
    CKM_SHA256,
    CKM_SHA384,
    CKM_SHA512,
    CKM_SHA3_224,
    CKM_SHA3_256,
    CKM_SHA3_384,
    CKM_SHA3_512,
    // rsa_key_generation, rsa_encryption_mechanisms, rsa_signature_mechanisms
    CKM_RSA_PKCS_KEY_PAIR_GEN,
    CKM_RSA_PKCS,
    CKM_RSA_X_509,
    CKM_RSA_PKCS_OAEP,
    CKM_RSA_PKCS_PSS,
    CKM_SHA1_RSA_PKCS,
    CKM_SHA224_RSA_PKCS,
    CKM_SHA256_RSA_PKCS,
    CKM_SHA384_RSA_PKCS,
    CKM_SHA512_RSA_PKCS,
    CKM_SHA3_224_RSA_PKCS,
    CKM_SHA3_256_RSA_PKCS,
    CKM_SHA3_384_RSA_PKCS,
    CKM_SHA3_512_RSA_PKCS,
    CKM_SHA1_RSA_PKCS_PSS,
    CKM_SHA224_RSA_PKCS_PSS,
    CKM_SHA256_RSA_PKCS_PSS,
    CKM_SHA384_RSA_PKCS_PSS,
    CKM_SHA512_RSA_PKCS_PSS,
    CKM_SHA3_224_RSA_PKCS_PSS,
    CKM_SHA3_256_RSA_PKCS_PSS,
    CKM_SHA3_384_RSA_PKCS_PSS,
    CKM_SHA3_512_RSA_PKCS_PSS,
    // rsa_wrapping_mechanisms
    CKM_RSA_AES_KEY_WRAP,
    // ec_key_generation_and_ecdsa, ecdh_derivation
    CKM_EC_KEY_PAIR_GEN,
    CKM_ECDSA,
    CKM_ECDSA_SHA1,
    CKM_ECDSA_SHA224,
    CKM_ECDSA_SHA256,
    CKM_ECDSA_SHA384,
    CKM_ECDSA_SHA512,
    CKM_ECDSA_SHA3_224,
    CKM_ECDSA_SHA3_256,
    CKM_ECDSA_SHA3_384,
    CKM_ECDSA_SHA3_512,
    CKM_ECDH1_DERIVE,
    CKM_ECDH1_COFACTOR_DERIVE,
    // eddsa_and_x25519
    CKM_EC_EDWARDS_KEY_PAIR_GEN,
    CKM_EDDSA,
    CKM_EC_MONTGOMERY_KEY_PAIR_GEN,
    // aes_* tests
    CKM_AES_KEY_GEN,
    CKM_AES_ECB,
    CKM_AES_CBC,
    CKM_AES_CBC_PAD,
    CKM_AES_CTR,
    CKM_AES_GCM,
    CKM_AES_CCM,
    CKM_AES_CTS,
    CKM_AES_CMAC,
    CKM_AES_CMAC_GENERAL,
    CKM_AES_KEY_WRAP,
    CKM_AES_KEY_WRAP_KWP,
    CKM_AES_ECB_ENCRYPT_DATA,
    CKM_AES_CBC_ENCRYPT_DATA,
    // hmac_mechanisms
    CKM_GENERIC_SECRET_KEY_GEN,
    CKM_SHA_1_HMAC,
    CKM_SHA_1_HMAC_GENERAL,
    CKM_SHA224_HMAC,
    CKM_SHA224_HMAC_GENERAL,
    CKM_SHA256_HMAC,
    CKM_SHA256_HMAC_GENERAL,
    CKM_SHA384_HMAC,
    CKM_SHA384_HMAC_GENERAL,
    CKM_SHA512_HMAC,
    CKM_SHA512_HMAC_GENERAL,
    CKM_SHA3_224_HMAC,
    CKM_SHA3_224_HMAC_GENERAL,
    CKM_SHA3_256_HMAC,
    CKM_SHA3_256_HMAC_GENERAL,
    CKM_SHA3_384_HMAC,
    CKM_SHA3_384_HMAC_GENERAL,
    CKM_SHA3_512_HMAC,
    CKM_SHA3_512_HMAC_GENERAL,
    // hkdf_derive_and_data, sp800_108_counter_kdf, pbkdf2_key_generation, simple_derivations
    CKM_HKDF_DERIVE,
    CKM_HKDF_DATA,
    CKM_SP800_108_COUNTER_KDF,
    CKM_PKCS5_PBKD2,
    CKM_CONCATENATE_BASE_AND_KEY,
    CKM_CONCATENATE_BASE_AND_DATA,
    CKM_CONCATENATE_DATA_AND_BASE,
    CKM_XOR_BASE_AND_DATA,
    CKM_EXTRACT_KEY_FROM_KEY,
];

// ----- the raw module and return codes -----------------------------------------------------------

/// The module's symbols through `cryptoki_sys`, for what `cryptoki` has no type for. The same
/// shared object as the `cryptoki` context, so it shares the initialised state and sessions.
fn lib() -> &'static cryptoki_sys::Pkcs11 {
    static LIB: OnceLock<cryptoki_sys::Pkcs11> = OnceLock::new();
    LIB.get_or_init(|| {
        keep_module_loaded();
        // SAFETY: the path names the PKCS#11 module this crate builds.
        unsafe { cryptoki_sys::Pkcs11::new(module_path()) }.expect("dlopen the module")
    })
}

/// A call's outcome: the value, or the PKCS#11 return code.
type R<T> = Result<T, RvError>;

fn ck(rv: CK_RV) -> R<()> {
    match Rv::from(rv) {
        Rv::Ok => Ok(()),
        Rv::Error(e) => Err(e),
    }
}

/// A `cryptoki` result as [`R`]; a failure without a return code is a test failure.
fn cr<T>(r: cryptoki::error::Result<T>) -> R<T> {
    match r {
        Ok(v) => Ok(v),
        Err(Error::Pkcs11(e, _)) => Err(e),
        Err(e) => panic!("cryptoki failed without a PKCS#11 return code: {e}"),
    }
}

/// Asserts that `r` failed with exactly `want`.
#[track_caller]
fn fails<T: Debug>(r: R<T>, want: RvError, what: &str) {
    match r {
        Err(e) if e == want => {}
        other => panic!("{what}: expected {want:?}, got {other:?}"),
    }
}

fn ulen(b: &[u8]) -> CK_ULONG {
    b.len() as CK_ULONG
}

/// Calls a PKCS#11 function with output twice, as applications do: once for the length, once
/// with a buffer of that length.
fn out2(mut f: impl FnMut(*mut u8, *mut CK_ULONG) -> CK_RV) -> R<Vec<u8>> {
    let mut n: CK_ULONG = 0;
    ck(f(ptr::null_mut(), &mut n))?;
    let mut v = vec![0u8; n as usize];
    ck(f(v.as_mut_ptr(), &mut n))?;
    v.truncate(n as usize);
    Ok(v)
}

fn handle(h: CK_OBJECT_HANDLE) -> ObjectHandle {
    // SAFETY: `h` was just returned by the module for this session.
    unsafe { ObjectHandle::new_from_raw(h) }
}

// ----- mechanisms --------------------------------------------------------------------------------

/// A mechanism `cryptoki` has no type for: its number and a parameter built here, with every
/// buffer the parameter points to owned for as long as the mechanism lives.
struct RawMech {
    ty: CK_MECHANISM_TYPE,
    param: *mut c_void,
    len: CK_ULONG,
    holder: Option<Box<dyn Any>>,
    keep: Vec<Vec<u8>>,
}

impl RawMech {
    fn new(ty: CK_MECHANISM_TYPE) -> RawMech {
        RawMech {
            ty,
            param: ptr::null_mut(),
            len: 0,
            holder: None,
            keep: Vec::new(),
        }
    }

    /// A copy of `b` that lives as long as the mechanism; NULL for an empty slice.
    fn buf(&mut self, b: &[u8]) -> *mut u8 {
        if b.is_empty() {
            return ptr::null_mut();
        }
        self.keep.push(b.to_vec());
        self.keep.last_mut().expect("just pushed").as_mut_ptr()
    }

    /// Sets the parameter to a structure (boxed, so its address is stable).
    fn with<T: 'static>(mut self, p: T) -> RawMech {
        let mut b = Box::new(p);
        self.param = (&mut *b as *mut T).cast();
        self.len = std::mem::size_of::<T>() as CK_ULONG;
        self.holder = Some(b);
        self
    }

    /// A mechanism whose parameter is a byte string (an IV).
    fn bytes(ty: CK_MECHANISM_TYPE, b: &[u8]) -> RawMech {
        let mut m = RawMech::new(ty);
        m.param = m.buf(b).cast();
        m.len = ulen(b);
        m
    }

    /// A mechanism whose parameter is one `CK_ULONG` (`CK_MAC_GENERAL_PARAMS`).
    fn ulong(ty: CK_MECHANISM_TYPE, v: CK_ULONG) -> RawMech {
        RawMech::new(ty).with(v)
    }

    fn ck(&self) -> CK_MECHANISM {
        CK_MECHANISM {
            mechanism: self.ty,
            pParameter: self.param,
            ulParameterLen: self.len,
        }
    }
}

/// A mechanism as the tests use it: `cryptoki`'s typed value, or a [`RawMech`].
enum Mech<'a> {
    T(Mechanism<'a>),
    R(RawMech),
}

impl<'a> From<Mechanism<'a>> for Mech<'a> {
    fn from(m: Mechanism<'a>) -> Self {
        Mech::T(m)
    }
}

impl From<RawMech> for Mech<'_> {
    fn from(m: RawMech) -> Self {
        Mech::R(m)
    }
}

fn raw(ty: CK_MECHANISM_TYPE) -> Mech<'static> {
    RawMech::new(ty).into()
}

fn string_data(ty: CK_MECHANISM_TYPE, data: &[u8]) -> Mech<'static> {
    let mut m = RawMech::new(ty);
    let p = CK_KEY_DERIVATION_STRING_DATA {
        pData: m.buf(data),
        ulLen: ulen(data),
    };
    m.with(p).into()
}

fn gcm(iv: &[u8], aad: &[u8], tag_bits: u64) -> Mech<'static> {
    let mut m = RawMech::new(CKM_AES_GCM);
    let p = CK_GCM_PARAMS {
        pIv: m.buf(iv),
        ulIvLen: ulen(iv),
        ulIvBits: ulen(iv) * 8,
        pAAD: m.buf(aad),
        ulAADLen: ulen(aad),
        ulTagBits: tag_bits,
    };
    m.with(p).into()
}

fn ccm(data_len: usize, nonce: &[u8], aad: &[u8], mac_len: u64) -> Mech<'static> {
    let mut m = RawMech::new(CKM_AES_CCM);
    let p = CK_CCM_PARAMS {
        ulDataLen: data_len as CK_ULONG,
        pNonce: m.buf(nonce),
        ulNonceLen: ulen(nonce),
        pAAD: m.buf(aad),
        ulAADLen: ulen(aad),
        ulMACLen: mac_len,
    };
    m.with(p).into()
}

fn ctr(bits: u64, cb: [u8; 16]) -> Mech<'static> {
    RawMech::new(CKM_AES_CTR)
        .with(CK_AES_CTR_PARAMS {
            ulCounterBits: bits,
            cb,
        })
        .into()
}

fn oaep_params(
    m: &mut RawMech,
    hash: CK_MECHANISM_TYPE,
    mgf: u64,
    label: &[u8],
) -> CK_RSA_PKCS_OAEP_PARAMS {
    CK_RSA_PKCS_OAEP_PARAMS {
        hashAlg: hash,
        mgf,
        source: CKZ_DATA_SPECIFIED,
        pSourceData: m.buf(label).cast(),
        ulSourceDataLen: ulen(label),
    }
}

fn oaep(hash: CK_MECHANISM_TYPE, mgf: u64, label: &[u8]) -> Mech<'static> {
    let mut m = RawMech::new(CKM_RSA_PKCS_OAEP);
    let p = oaep_params(&mut m, hash, mgf, label);
    m.with(p).into()
}

fn rsa_aes_wrap(aes_bits: u64) -> Mech<'static> {
    let mut m = RawMech::new(CKM_RSA_AES_KEY_WRAP);
    let o = oaep_params(&mut m, CKM_SHA256, CKG_MGF1_SHA256, &[]);
    let mut inner = Box::new(o);
    let p = CK_RSA_AES_KEY_WRAP_PARAMS {
        ulAESKeyBits: aes_bits,
        pOAEPParams: &mut *inner,
    };
    let mut m = m.with(p);
    // The OAEP structure must live as long as the mechanism too: keep it beside the outer one.
    let holder = m.holder.take().expect("the outer parameter");
    m.holder = Some(Box::new((holder, inner)));
    m.into()
}

fn ecdh_raw(ty: CK_MECHANISM_TYPE, kdf: u64, shared: &[u8], public: &[u8]) -> Mech<'static> {
    let mut m = RawMech::new(ty);
    let p = CK_ECDH1_DERIVE_PARAMS {
        kdf,
        ulSharedDataLen: ulen(shared),
        pSharedData: m.buf(shared),
        ulPublicDataLen: ulen(public),
        pPublicData: m.buf(public),
    };
    m.with(p).into()
}

fn eddsa_raw(prehash: bool, context: Option<&[u8]>) -> Mech<'static> {
    let mut m = RawMech::new(CKM_EDDSA);
    let (p, n) = match context {
        // A non-NULL pointer with length zero: an empty context, as opposed to none.
        Some([]) => {
            m.keep.push(vec![0]);
            (m.keep.last_mut().expect("just pushed").as_mut_ptr(), 0)
        }
        Some(c) => (m.buf(c), ulen(c)),
        None => (ptr::null_mut(), 0),
    };
    m.with(CK_EDDSA_PARAMS {
        phFlag: CK_BBOOL::from(prehash),
        ulContextDataLen: n,
        pContextData: p,
    })
    .into()
}

// ----- a session and its operations --------------------------------------------------------------

/// One user session, with every operation returning [`R`]: typed mechanisms go through
/// `cryptoki`'s session, raw ones through `cryptoki_sys` on the same session handle.
struct Tk<'s> {
    s: &'s Session,
}

impl Tk<'_> {
    fn h(&self) -> CK_SESSION_HANDLE {
        self.s.handle()
    }

    fn cipher_init(&self, r: &RawMech, key: ObjectHandle, encrypt: bool) -> R<()> {
        let mut c = r.ck();
        // SAFETY: `c` and its parameter live for the duration of the call.
        ck(unsafe {
            if encrypt {
                lib().C_EncryptInit(self.h(), &mut c, key.handle())
            } else {
                lib().C_DecryptInit(self.h(), &mut c, key.handle())
            }
        })
    }

    fn cipher(&self, m: &Mech, key: ObjectHandle, data: &[u8], encrypt: bool) -> R<Vec<u8>> {
        match m {
            Mech::T(t) if encrypt => cr(self.s.encrypt(t, key, data)),
            Mech::T(t) => cr(self.s.decrypt(t, key, data)),
            Mech::R(r) => {
                self.cipher_init(r, key, encrypt)?;
                let (h, d, n) = (self.h(), data.as_ptr() as *mut u8, ulen(data));
                out2(|p, l| {
                    // SAFETY: `d` is readable for `n` bytes; `p` is NULL or `*l` bytes long.
                    unsafe {
                        if encrypt {
                            lib().C_Encrypt(h, d, n, p, l)
                        } else {
                            lib().C_Decrypt(h, d, n, p, l)
                        }
                    }
                })
            }
        }
    }

    fn cipher_parts(
        &self,
        m: &Mech,
        key: ObjectHandle,
        parts: &[&[u8]],
        encrypt: bool,
    ) -> R<Vec<u8>> {
        let mut out = Vec::new();
        match m {
            Mech::T(t) => {
                if encrypt {
                    cr(self.s.encrypt_init(t, key))?;
                    for p in parts {
                        out.extend(cr(self.s.encrypt_update(p))?);
                    }
                    out.extend(cr(self.s.encrypt_final())?);
                } else {
                    cr(self.s.decrypt_init(t, key))?;
                    for p in parts {
                        out.extend(cr(self.s.decrypt_update(p))?);
                    }
                    out.extend(cr(self.s.decrypt_final())?);
                }
            }
            Mech::R(r) => {
                self.cipher_init(r, key, encrypt)?;
                let h = self.h();
                for part in parts {
                    let (d, n) = (part.as_ptr() as *mut u8, ulen(part));
                    out.extend(out2(|p, l| {
                        // SAFETY: `d` is readable for `n` bytes; `p` is NULL or `*l` bytes long.
                        unsafe {
                            if encrypt {
                                lib().C_EncryptUpdate(h, d, n, p, l)
                            } else {
                                lib().C_DecryptUpdate(h, d, n, p, l)
                            }
                        }
                    })?);
                }
                out.extend(out2(|p, l| {
                    // SAFETY: `p` is NULL or `*l` bytes long.
                    unsafe {
                        if encrypt {
                            lib().C_EncryptFinal(h, p, l)
                        } else {
                            lib().C_DecryptFinal(h, p, l)
                        }
                    }
                })?);
            }
        }
        Ok(out)
    }

    fn encrypt(&self, m: &Mech, key: ObjectHandle, data: &[u8]) -> R<Vec<u8>> {
        self.cipher(m, key, data, true)
    }

    fn decrypt(&self, m: &Mech, key: ObjectHandle, data: &[u8]) -> R<Vec<u8>> {
        self.cipher(m, key, data, false)
    }

    fn encrypt_parts(&self, m: &Mech, key: ObjectHandle, parts: &[&[u8]]) -> R<Vec<u8>> {
        self.cipher_parts(m, key, parts, true)
    }

    fn decrypt_parts(&self, m: &Mech, key: ObjectHandle, parts: &[&[u8]]) -> R<Vec<u8>> {
        self.cipher_parts(m, key, parts, false)
    }

    fn sig_init(&self, r: &RawMech, key: ObjectHandle, sign: bool) -> R<()> {
        let mut c = r.ck();
        // SAFETY: `c` and its parameter live for the duration of the call.
        ck(unsafe {
            if sign {
                lib().C_SignInit(self.h(), &mut c, key.handle())
            } else {
                lib().C_VerifyInit(self.h(), &mut c, key.handle())
            }
        })
    }

    fn sign(&self, m: &Mech, key: ObjectHandle, data: &[u8]) -> R<Vec<u8>> {
        match m {
            Mech::T(t) => cr(self.s.sign(t, key, data)),
            Mech::R(r) => {
                self.sig_init(r, key, true)?;
                let (h, d, n) = (self.h(), data.as_ptr() as *mut u8, ulen(data));
                // SAFETY: `d` is readable for `n` bytes; `p` is NULL or `*l` bytes long.
                out2(|p, l| unsafe { lib().C_Sign(h, d, n, p, l) })
            }
        }
    }

    fn sign_parts(&self, m: &Mech, key: ObjectHandle, parts: &[&[u8]]) -> R<Vec<u8>> {
        match m {
            Mech::T(t) => {
                cr(self.s.sign_init(t, key))?;
                for p in parts {
                    cr(self.s.sign_update(p))?;
                }
                cr(self.s.sign_final())
            }
            Mech::R(r) => {
                self.sig_init(r, key, true)?;
                for p in parts {
                    // SAFETY: the part is readable for its length.
                    ck(unsafe { lib().C_SignUpdate(self.h(), p.as_ptr() as *mut u8, ulen(p)) })?;
                }
                let h = self.h();
                // SAFETY: `p` is NULL or `*l` bytes long.
                out2(|p, l| unsafe { lib().C_SignFinal(h, p, l) })
            }
        }
    }

    fn verify(&self, m: &Mech, key: ObjectHandle, data: &[u8], sig: &[u8]) -> R<()> {
        match m {
            Mech::T(t) => cr(self.s.verify(t, key, data, sig)),
            Mech::R(r) => {
                self.sig_init(r, key, false)?;
                // SAFETY: both buffers are readable for their lengths.
                ck(unsafe {
                    lib().C_Verify(
                        self.h(),
                        data.as_ptr() as *mut u8,
                        ulen(data),
                        sig.as_ptr() as *mut u8,
                        ulen(sig),
                    )
                })
            }
        }
    }

    fn verify_parts(&self, m: &Mech, key: ObjectHandle, parts: &[&[u8]], sig: &[u8]) -> R<()> {
        match m {
            Mech::T(t) => {
                cr(self.s.verify_init(t, key))?;
                for p in parts {
                    cr(self.s.verify_update(p))?;
                }
                cr(self.s.verify_final(sig))
            }
            Mech::R(r) => {
                self.sig_init(r, key, false)?;
                for p in parts {
                    // SAFETY: the part is readable for its length.
                    ck(unsafe { lib().C_VerifyUpdate(self.h(), p.as_ptr() as *mut u8, ulen(p)) })?;
                }
                // SAFETY: the signature is readable for its length.
                ck(unsafe { lib().C_VerifyFinal(self.h(), sig.as_ptr() as *mut u8, ulen(sig)) })
            }
        }
    }

    fn digest_init_raw(&self, r: &RawMech) -> R<()> {
        let mut c = r.ck();
        // SAFETY: `c` lives for the duration of the call.
        ck(unsafe { lib().C_DigestInit(self.h(), &mut c) })
    }

    fn digest(&self, m: &Mech, data: &[u8]) -> R<Vec<u8>> {
        match m {
            Mech::T(t) => cr(self.s.digest(t, data)),
            Mech::R(r) => {
                self.digest_init_raw(r)?;
                let (h, d, n) = (self.h(), data.as_ptr() as *mut u8, ulen(data));
                // SAFETY: `d` is readable for `n` bytes; `p` is NULL or `*l` bytes long.
                out2(|p, l| unsafe { lib().C_Digest(h, d, n, p, l) })
            }
        }
    }

    fn digest_parts(&self, m: &Mech, parts: &[&[u8]]) -> R<Vec<u8>> {
        match m {
            Mech::T(t) => {
                cr(self.s.digest_init(t))?;
                for p in parts {
                    cr(self.s.digest_update(p))?;
                }
                cr(self.s.digest_final())
            }
            Mech::R(r) => {
                self.digest_init_raw(r)?;
                for p in parts {
                    // SAFETY: the part is readable for its length.
                    ck(unsafe { lib().C_DigestUpdate(self.h(), p.as_ptr() as *mut u8, ulen(p)) })?;
                }
                let h = self.h();
                // SAFETY: `p` is NULL or `*l` bytes long.
                out2(|p, l| unsafe { lib().C_DigestFinal(h, p, l) })
            }
        }
    }

    fn derive(&self, m: &Mech, base: ObjectHandle, tpl: &[Attribute]) -> R<ObjectHandle> {
        match m {
            Mech::T(t) => cr(self.s.derive_key(t, base, tpl)),
            Mech::R(r) => {
                let mut c = r.ck();
                let mut t: Vec<CK_ATTRIBUTE> = tpl.iter().map(CK_ATTRIBUTE::from).collect();
                let mut h = CK_INVALID_HANDLE;
                // SAFETY: the mechanism, the template (pointing into `tpl`) and `h` live for
                // the duration of the call.
                ck(unsafe {
                    lib().C_DeriveKey(
                        self.h(),
                        &mut c,
                        base.handle(),
                        t.as_mut_ptr(),
                        t.len() as CK_ULONG,
                        &mut h,
                    )
                })?;
                Ok(handle(h))
            }
        }
    }

    fn wrap(&self, m: &Mech, wrapping: ObjectHandle, key: ObjectHandle) -> R<Vec<u8>> {
        match m {
            Mech::T(t) => cr(self.s.wrap_key(t, wrapping, key)),
            Mech::R(r) => {
                let mut c = r.ck();
                let h = self.h();
                out2(|p, l| {
                    // SAFETY: `c` lives across the calls; `p` is NULL or `*l` bytes long.
                    unsafe { lib().C_WrapKey(h, &mut c, wrapping.handle(), key.handle(), p, l) }
                })
            }
        }
    }

    fn unwrap(
        &self,
        m: &Mech,
        unwrapping: ObjectHandle,
        wrapped: &[u8],
        tpl: &[Attribute],
    ) -> R<ObjectHandle> {
        match m {
            Mech::T(t) => cr(self.s.unwrap_key(t, unwrapping, wrapped, tpl)),
            Mech::R(r) => {
                let mut c = r.ck();
                let mut t: Vec<CK_ATTRIBUTE> = tpl.iter().map(CK_ATTRIBUTE::from).collect();
                let mut h = CK_INVALID_HANDLE;
                // SAFETY: every pointer refers to a live buffer of the length given.
                ck(unsafe {
                    lib().C_UnwrapKey(
                        self.h(),
                        &mut c,
                        unwrapping.handle(),
                        wrapped.as_ptr() as *mut u8,
                        ulen(wrapped),
                        t.as_mut_ptr(),
                        t.len() as CK_ULONG,
                        &mut h,
                    )
                })?;
                Ok(handle(h))
            }
        }
    }

    fn generate(&self, m: &Mech, tpl: &[Attribute]) -> R<ObjectHandle> {
        match m {
            Mech::T(t) => cr(self.s.generate_key(t, tpl)),
            Mech::R(r) => {
                let mut c = r.ck();
                let mut t: Vec<CK_ATTRIBUTE> = tpl.iter().map(CK_ATTRIBUTE::from).collect();
                let mut h = CK_INVALID_HANDLE;
                // SAFETY: every pointer refers to a live buffer of the length given.
                ck(unsafe {
                    lib().C_GenerateKey(
                        self.h(),
                        &mut c,
                        t.as_mut_ptr(),
                        t.len() as CK_ULONG,
                        &mut h,
                    )
                })?;
                Ok(handle(h))
            }
        }
    }

    fn pair(
        &self,
        m: Mechanism,
        public: &[Attribute],
        private: &[Attribute],
    ) -> R<(ObjectHandle, ObjectHandle)> {
        cr(self.s.generate_key_pair(&m, public, private))
    }

    fn create(&self, t: &[Attribute]) -> ObjectHandle {
        self.s.create_object(t).expect("C_CreateObject")
    }

    /// `C_CreateObject` with attribute-array attributes (`CKA_WRAP_TEMPLATE`, ...), which
    /// `cryptoki` cannot express.
    fn create_with_templates(
        &self,
        attrs: &[Attribute],
        nested: &[(CK_ATTRIBUTE_TYPE, &[Attribute])],
    ) -> R<ObjectHandle> {
        let inner: Vec<Vec<CK_ATTRIBUTE>> = nested
            .iter()
            .map(|(_, a)| a.iter().map(CK_ATTRIBUTE::from).collect())
            .collect();
        let mut t: Vec<CK_ATTRIBUTE> = attrs.iter().map(CK_ATTRIBUTE::from).collect();
        for ((ty, _), v) in nested.iter().zip(&inner) {
            t.push(CK_ATTRIBUTE {
                type_: *ty,
                pValue: v.as_ptr() as *mut c_void,
                ulValueLen: (v.len() * std::mem::size_of::<CK_ATTRIBUTE>()) as CK_ULONG,
            });
        }
        let mut h = CK_INVALID_HANDLE;
        // SAFETY: the template and the arrays it points to live for the duration of the call.
        ck(unsafe { lib().C_CreateObject(self.h(), t.as_mut_ptr(), t.len() as CK_ULONG, &mut h) })?;
        Ok(handle(h))
    }

    // ----- attributes -----

    fn attr(&self, o: ObjectHandle, ty: AttributeType) -> Attribute {
        let mut v = self
            .s
            .get_attributes(o, &[ty])
            .expect("C_GetAttributeValue");
        assert_eq!(v.len(), 1, "attribute {ty:?} not returned");
        v.remove(0)
    }

    fn bytes(&self, o: ObjectHandle, ty: AttributeType) -> Vec<u8> {
        match self.attr(o, ty) {
            Attribute::Value(v)
            | Attribute::Label(v)
            | Attribute::EcPoint(v)
            | Attribute::EcParams(v)
            | Attribute::Modulus(v)
            | Attribute::PublicExponent(v) => v,
            other => panic!("{ty:?} is not a byte attribute: {other:?}"),
        }
    }

    fn value(&self, o: ObjectHandle) -> Vec<u8> {
        self.bytes(o, AttributeType::Value)
    }

    fn flag(&self, o: ObjectHandle, ty: AttributeType) -> bool {
        match self.attr(o, ty) {
            Attribute::Sensitive(b)
            | Attribute::Extractable(b)
            | Attribute::AlwaysSensitive(b)
            | Attribute::NeverExtractable(b)
            | Attribute::Local(b)
            | Attribute::Encrypt(b)
            | Attribute::Decrypt(b)
            | Attribute::Sign(b)
            | Attribute::Verify(b)
            | Attribute::Wrap(b)
            | Attribute::Unwrap(b)
            | Attribute::Derive(b)
            | Attribute::Token(b)
            | Attribute::Private(b) => b,
            other => panic!("{ty:?} is not a boolean attribute: {other:?}"),
        }
    }

    fn ulong(&self, o: ObjectHandle, ty: AttributeType) -> u64 {
        match self.attr(o, ty) {
            Attribute::ValueLen(u) | Attribute::ModulusBits(u) => u.into(),
            other => panic!("{ty:?} is not a CK_ULONG attribute: {other:?}"),
        }
    }

    fn key_type(&self, o: ObjectHandle) -> KeyType {
        match self.attr(o, AttributeType::KeyType) {
            Attribute::KeyType(k) => k,
            other => panic!("CKA_KEY_TYPE: {other:?}"),
        }
    }

    fn class(&self, o: ObjectHandle) -> ObjectClass {
        match self.attr(o, AttributeType::Class) {
            Attribute::Class(c) => c,
            other => panic!("CKA_CLASS: {other:?}"),
        }
    }

    fn key_gen_mechanism(&self, o: ObjectHandle) -> CK_MECHANISM_TYPE {
        match self.attr(o, AttributeType::KeyGenMechanism) {
            Attribute::KeyGenMechanism(m) => *m,
            other => panic!("CKA_KEY_GEN_MECHANISM: {other:?}"),
        }
    }

    /// The raw point inside a public key's `CKA_EC_POINT`, which must be a DER OCTET STRING.
    fn point(&self, o: ObjectHandle) -> Vec<u8> {
        octet_string_payload(&self.bytes(o, AttributeType::EcPoint))
    }

    // ----- keys -----

    /// A session secret key with a known value.
    fn secret(&self, kt: KeyType, value: &[u8], extra: &[Attribute]) -> ObjectHandle {
        let mut t = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(kt),
            Attribute::Token(false),
            Attribute::Value(value.to_vec()),
        ];
        t.extend_from_slice(extra);
        self.create(&t)
    }

    fn aes(&self, value: &[u8], extra: &[Attribute]) -> ObjectHandle {
        self.secret(KeyType::AES, value, extra)
    }

    fn generic(&self, value: &[u8], extra: &[Attribute]) -> ObjectHandle {
        self.secret(KeyType::GENERIC_SECRET, value, extra)
    }

    fn ec_pair(
        &self,
        params: &[u8],
        public_extra: &[Attribute],
        private_extra: &[Attribute],
    ) -> (ObjectHandle, ObjectHandle) {
        let mut public = vec![
            Attribute::Token(false),
            Attribute::EcParams(params.to_vec()),
        ];
        public.extend_from_slice(public_extra);
        let mut private = vec![Attribute::Token(false)];
        private.extend_from_slice(private_extra);
        self.pair(Mechanism::EccKeyPairGen, &public, &private)
            .expect("C_GenerateKeyPair EC")
    }

    fn ed_pair(
        &self,
        public_extra: &[Attribute],
        private_extra: &[Attribute],
    ) -> (ObjectHandle, ObjectHandle) {
        let mut public = vec![
            Attribute::Token(false),
            Attribute::EcParams(ED25519.to_vec()),
        ];
        public.extend_from_slice(public_extra);
        let mut private = vec![Attribute::Token(false)];
        private.extend_from_slice(private_extra);
        self.pair(Mechanism::EccEdwardsKeyPairGen, &public, &private)
            .expect("C_GenerateKeyPair Ed25519")
    }

    fn rsa_pair(
        &self,
        bits: u64,
        exponent: &[u8],
        private_extra: &[Attribute],
    ) -> (ObjectHandle, ObjectHandle) {
        let public = vec![
            Attribute::Token(false),
            Attribute::ModulusBits(bits.into()),
            Attribute::PublicExponent(exponent.to_vec()),
            Attribute::Verify(true),
            Attribute::Encrypt(true),
            Attribute::Wrap(true),
        ];
        let mut private = vec![
            Attribute::Token(false),
            Attribute::Sign(true),
            Attribute::Decrypt(true),
            Attribute::Unwrap(true),
        ];
        private.extend_from_slice(private_extra);
        self.pair(Mechanism::RsaPkcsKeyPairGen, &public, &private)
            .expect("C_GenerateKeyPair RSA")
    }

    /// A copy of `o` with some attributes changed (to switch usage flags off).
    fn copy(&self, o: ObjectHandle, changes: &[Attribute]) -> ObjectHandle {
        self.s.copy_object(o, changes).expect("C_CopyObject")
    }

    /// An RSA public key object made from another's modulus and exponent.
    fn rsa_public_copy(&self, public: ObjectHandle, extra: &[Attribute]) -> ObjectHandle {
        let mut t = vec![
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::RSA),
            Attribute::Token(false),
            Attribute::Modulus(self.bytes(public, AttributeType::Modulus)),
            Attribute::PublicExponent(self.bytes(public, AttributeType::PublicExponent)),
        ];
        t.extend_from_slice(extra);
        self.create(&t)
    }
}

/// The template of a derived, unwrapped or generated secret whose value the test reads.
fn open_secret(kt: KeyType, len: Option<u64>) -> Vec<Attribute> {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(kt),
        Attribute::Token(false),
        Attribute::Sensitive(false),
        Attribute::Extractable(true),
    ];
    if let Some(n) = len {
        t.push(Attribute::ValueLen(n.into()));
    }
    t
}

fn open_generic(len: Option<u64>) -> Vec<Attribute> {
    open_secret(KeyType::GENERIC_SECRET, len)
}

/// A readable private key's attributes (for the ECDH peers whose scalars the tests need).
fn open_private() -> Vec<Attribute> {
    vec![Attribute::Sensitive(false), Attribute::Extractable(true)]
}

/// A fresh `--dev` store, the module, and slot 0's token initialised with a user PIN. Bind it
/// as `let (_fx, m, slot) = token();` so the module is finalised before the store goes.
fn token() -> (Fixture, Module, Slot) {
    let fx = Fixture::dev_store(1);
    let m = Module::open();
    let sl = slot(&m, 0);
    init_token_with_user(&m, sl, "mechanisms");
    (fx, m, sl)
}

// ----- bytes, DER and references -----------------------------------------------------------------

fn hex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    assert!(s.len() % 2 == 0, "odd hex string");
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex digits"))
        .collect()
}

/// Deterministic test data.
fn pattern(n: usize, seed: u8) -> Vec<u8> {
    (0..n)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed).rotate_left(3))
        .collect()
}

/// Splits `data` into parts whose sizes cycle through `sizes` (zero sizes give empty parts).
fn split<'d>(data: &'d [u8], sizes: &[usize]) -> Vec<&'d [u8]> {
    assert!(sizes.iter().any(|s| *s > 0));
    let mut out = Vec::new();
    let mut at = 0;
    for s in sizes.iter().cycle() {
        if at >= data.len() {
            break;
        }
        let end = (at + s).min(data.len());
        out.push(&data[at..end]);
        at = end;
    }
    out
}

/// The ways multi-part tests cut their input.
const SPLITS: &[&[usize]] = &[&[1], &[7, 0, 9], &[15, 16, 17], &[16], &[33, 5], &[64]];

fn der_len(n: usize) -> Vec<u8> {
    if n < 0x80 {
        vec![n as u8]
    } else if n < 0x100 {
        vec![0x81, n as u8]
    } else {
        vec![0x82, (n >> 8) as u8, n as u8]
    }
}

fn der(tag: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![tag];
    v.extend(der_len(body.len()));
    v.extend_from_slice(body);
    v
}

fn der_uint(b: &[u8]) -> Vec<u8> {
    let z = b
        .iter()
        .take_while(|x| **x == 0)
        .count()
        .min(b.len().saturating_sub(1));
    let b = &b[z..];
    let mut v = Vec::new();
    if b[0] & 0x80 != 0 {
        v.push(0);
    }
    v.extend_from_slice(b);
    der(0x02, &v)
}

/// The payload of a DER OCTET STRING (short or one-byte long form).
fn octet_string_payload(d: &[u8]) -> Vec<u8> {
    assert_eq!(d[0], 0x04, "a DER OCTET STRING: {d:02x?}");
    let (n, at) = if d[1] == 0x81 {
        (d[2] as usize, 3)
    } else {
        (d[1] as usize, 2)
    };
    assert!(d[1] != 0x80 && d[1] < 0x82, "length form of {d:02x?}");
    assert_eq!(d.len(), at + n, "DER OCTET STRING length");
    d[at..].to_vec()
}

/// An RSA SubjectPublicKeyInfo, for aws-lc-rs's encrypting keys.
fn rsa_spki(n: &[u8], e: &[u8]) -> Vec<u8> {
    let rsa_public = der(0x30, &[der_uint(n), der_uint(e)].concat());
    let alg = der(
        0x30,
        &[der(0x06, RSA_ENCRYPTION_OID), vec![0x05, 0x00]].concat(),
    );
    let mut bits = vec![0u8];
    bits.extend(rsa_public);
    der(0x30, &[alg, der(0x03, &bits)].concat())
}

/// A raw `r || s` ECDSA signature as DER, for aws-lc-rs's `*_ASN1` verifiers.
fn ecdsa_der(raw: &[u8]) -> Vec<u8> {
    let (r, s) = raw.split_at(raw.len() / 2);
    der(0x30, &[der_uint(r), der_uint(s)].concat())
}

fn sha(alg: &'static digest::Algorithm, data: &[u8]) -> Vec<u8> {
    digest::digest(alg, data).as_ref().to_vec()
}

fn aes_alg(k: &[u8]) -> &'static cipher::Algorithm {
    match k.len() {
        16 => &cipher::AES_128,
        24 => &cipher::AES_192,
        32 => &cipher::AES_256,
        n => panic!("no AES key of {n} bytes"),
    }
}

fn ukey(k: &[u8]) -> cipher::UnboundCipherKey {
    cipher::UnboundCipherKey::new(aes_alg(k), k).expect("an AES key")
}

fn ref_ecb(k: &[u8], data: &[u8]) -> Vec<u8> {
    let key = cipher::EncryptingKey::ecb(ukey(k)).expect("ECB key");
    let mut b = data.to_vec();
    key.encrypt(&mut b).expect("ECB");
    b
}

fn ref_cbc(k: &[u8], iv: [u8; 16], data: &[u8]) -> Vec<u8> {
    let key = cipher::EncryptingKey::cbc(ukey(k)).expect("CBC key");
    let mut b = data.to_vec();
    key.less_safe_encrypt(&mut b, cipher::EncryptionContext::Iv128(iv.into()))
        .expect("CBC");
    b
}

fn ref_cbc_pad(k: &[u8], iv: [u8; 16], data: &[u8]) -> Vec<u8> {
    let key = cipher::PaddedBlockEncryptingKey::cbc_pkcs7(ukey(k)).expect("CBC-PAD key");
    let mut b = data.to_vec();
    key.less_safe_encrypt(&mut b, cipher::EncryptionContext::Iv128(iv.into()))
        .expect("CBC-PAD");
    b
}

fn ref_ctr(k: &[u8], cb: [u8; 16], data: &[u8]) -> Vec<u8> {
    let key = cipher::EncryptingKey::ctr(ukey(k)).expect("CTR key");
    let mut b = data.to_vec();
    key.less_safe_encrypt(&mut b, cipher::EncryptionContext::Iv128(cb.into()))
        .expect("CTR");
    b
}

/// CBC with ciphertext stealing in the order the module uses: NIST SP 800-38A Addendum's CBC-CS1
/// (`... C*_{n-1} || C_n`, plain CBC for whole blocks), the variant NSS's softoken also
/// implements, PKCS #11 naming none. Built from CBC over the zero-padded input, whose
/// penultimate block is cut to the length of the last partial one.
fn ref_cts(k: &[u8], iv: [u8; 16], data: &[u8]) -> Vec<u8> {
    assert!(data.len() >= 16);
    let n = data.len().div_ceil(16);
    let d = data.len() - (n - 1) * 16;
    let mut padded = data.to_vec();
    padded.resize(n * 16, 0);
    let c = ref_cbc(k, iv, &padded);
    if n == 1 {
        return c;
    }
    let mut out = c[..(n - 2) * 16 + d].to_vec();
    out.extend_from_slice(&c[(n - 1) * 16..]);
    out
}

/// Reorders CBC-CS3 output (RFC 3962's test vectors) into CBC-CS1: the last full block moves
/// back behind the (possibly partial) block before it.
fn cs3_to_cs1(cs3: &[u8]) -> Vec<u8> {
    let n = cs3.len();
    if n <= 16 {
        return cs3.to_vec();
    }
    let d = match n % 16 {
        0 => 16,
        r => r,
    };
    let head = n - 16 - d;
    let mut out = cs3[..head].to_vec();
    out.extend_from_slice(&cs3[head + 16..]);
    out.extend_from_slice(&cs3[head..head + 16]);
    out
}

fn ref_cmac(k: &[u8], data: &[u8]) -> Vec<u8> {
    let alg = match k.len() {
        16 => cmac::AES_128,
        24 => cmac::AES_192,
        _ => cmac::AES_256,
    };
    let key = cmac::Key::new(alg, k).expect("CMAC key");
    cmac::sign(&key, data).expect("CMAC").as_ref().to_vec()
}

fn ref_hmac(alg: hmac::Algorithm, k: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(alg, k), data).as_ref().to_vec()
}

/// ANSI X9.63 KDF, as `CKD_SHA*_KDF` applies it to an ECDH shared secret.
fn x963(alg: &'static digest::Algorithm, z: &[u8], shared: &[u8], len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut counter: u32 = 1;
    while out.len() < len {
        let mut c = digest::Context::new(alg);
        c.update(z);
        c.update(&counter.to_be_bytes());
        c.update(shared);
        out.extend_from_slice(c.finish().as_ref());
        counter += 1;
    }
    out.truncate(len);
    out
}

/// An output length for aws-lc-rs's HKDF.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn ref_hkdf(alg: hkdf::Algorithm, salt: &[u8], ikm: &[u8], info: &[u8], len: usize) -> Vec<u8> {
    let prk = hkdf::Salt::new(alg, salt).extract(ikm);
    let mut out = vec![0u8; len];
    prk.expand(&[info], Len(len))
        .expect("HKDF expand")
        .fill(&mut out)
        .expect("HKDF fill");
    out
}

/// The EMSA-PKCS1-v1_5 block of a DigestInfo for a `k`-byte modulus.
fn emsa_pkcs1(k: usize, digest_info: &[u8]) -> Vec<u8> {
    let mut v = vec![0x00, 0x01];
    v.resize(k - digest_info.len() - 1, 0xff);
    v.push(0x00);
    v.extend_from_slice(digest_info);
    v
}

// ----- hashes of the hash-then-sign families -----------------------------------------------------

/// A hash as the parameter structures name it, with its MGF1, its X9.63 KDF and its length.
#[derive(Clone, Copy)]
struct Hash {
    mech: CK_MECHANISM_TYPE,
    mgf: CK_RSA_PKCS_MGF_TYPE,
    len: usize,
}

fn hash(mech: CK_MECHANISM_TYPE) -> Hash {
    let (mgf, len) = match mech {
        CKM_SHA_1 => (CKG_MGF1_SHA1, 20),
        CKM_SHA224 => (CKG_MGF1_SHA224, 28),
        CKM_SHA256 => (CKG_MGF1_SHA256, 32),
        CKM_SHA384 => (CKG_MGF1_SHA384, 48),
        CKM_SHA512 => (CKG_MGF1_SHA512, 64),
        CKM_SHA3_224 => (CKG_MGF1_SHA3_224, 28),
        CKM_SHA3_256 => (CKG_MGF1_SHA3_256, 32),
        CKM_SHA3_384 => (CKG_MGF1_SHA3_384, 48),
        CKM_SHA3_512 => (CKG_MGF1_SHA3_512, 64),
        other => panic!("not a hash: {other:#x}"),
    };
    Hash { mech, mgf, len }
}

/// aws-lc-rs's digest for a hash, where it has one (it lacks SHA3-224).
fn reference_digest(mech: CK_MECHANISM_TYPE) -> Option<&'static digest::Algorithm> {
    Some(match mech {
        CKM_SHA_1 => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        CKM_SHA224 => &digest::SHA224,
        CKM_SHA256 => &digest::SHA256,
        CKM_SHA384 => &digest::SHA384,
        CKM_SHA512 => &digest::SHA512,
        CKM_SHA3_256 => &digest::SHA3_256,
        CKM_SHA3_384 => &digest::SHA3_384,
        CKM_SHA3_512 => &digest::SHA3_512,
        _ => return None,
    })
}

const DIGESTS: &[CK_MECHANISM_TYPE] = &[
    CKM_SHA_1,
    CKM_SHA224,
    CKM_SHA256,
    CKM_SHA384,
    CKM_SHA512,
    CKM_SHA3_224,
    CKM_SHA3_256,
    CKM_SHA3_384,
    CKM_SHA3_512,
];

fn digest_mech(ty: CK_MECHANISM_TYPE) -> Mech<'static> {
    match ty {
        CKM_SHA_1 => Mechanism::Sha1.into(),
        CKM_SHA224 => Mechanism::Sha224.into(),
        CKM_SHA256 => Mechanism::Sha256.into(),
        CKM_SHA384 => Mechanism::Sha384.into(),
        CKM_SHA512 => Mechanism::Sha512.into(),
        other => raw(other),
    }
}

/// `CKM_<hash>_RSA_PKCS` with its hash.
const RSA_PKCS_HASHED: &[(CK_MECHANISM_TYPE, CK_MECHANISM_TYPE)] = &[
    (CKM_SHA1_RSA_PKCS, CKM_SHA_1),
    (CKM_SHA224_RSA_PKCS, CKM_SHA224),
    (CKM_SHA256_RSA_PKCS, CKM_SHA256),
    (CKM_SHA384_RSA_PKCS, CKM_SHA384),
    (CKM_SHA512_RSA_PKCS, CKM_SHA512),
    (CKM_SHA3_224_RSA_PKCS, CKM_SHA3_224),
    (CKM_SHA3_256_RSA_PKCS, CKM_SHA3_256),
    (CKM_SHA3_384_RSA_PKCS, CKM_SHA3_384),
    (CKM_SHA3_512_RSA_PKCS, CKM_SHA3_512),
];

/// `CKM_<hash>_RSA_PKCS_PSS` with its hash.
const RSA_PSS_HASHED: &[(CK_MECHANISM_TYPE, CK_MECHANISM_TYPE)] = &[
    (CKM_SHA1_RSA_PKCS_PSS, CKM_SHA_1),
    (CKM_SHA224_RSA_PKCS_PSS, CKM_SHA224),
    (CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256),
    (CKM_SHA384_RSA_PKCS_PSS, CKM_SHA384),
    (CKM_SHA512_RSA_PKCS_PSS, CKM_SHA512),
    (CKM_SHA3_224_RSA_PKCS_PSS, CKM_SHA3_224),
    (CKM_SHA3_256_RSA_PKCS_PSS, CKM_SHA3_256),
    (CKM_SHA3_384_RSA_PKCS_PSS, CKM_SHA3_384),
    (CKM_SHA3_512_RSA_PKCS_PSS, CKM_SHA3_512),
];

/// `CKM_ECDSA_<hash>` with its hash.
const ECDSA_HASHED: &[(CK_MECHANISM_TYPE, CK_MECHANISM_TYPE)] = &[
    (CKM_ECDSA_SHA1, CKM_SHA_1),
    (CKM_ECDSA_SHA224, CKM_SHA224),
    (CKM_ECDSA_SHA256, CKM_SHA256),
    (CKM_ECDSA_SHA384, CKM_SHA384),
    (CKM_ECDSA_SHA512, CKM_SHA512),
    (CKM_ECDSA_SHA3_224, CKM_SHA3_224),
    (CKM_ECDSA_SHA3_256, CKM_SHA3_256),
    (CKM_ECDSA_SHA3_384, CKM_SHA3_384),
    (CKM_ECDSA_SHA3_512, CKM_SHA3_512),
];

fn rsa_pkcs_hashed(ty: CK_MECHANISM_TYPE) -> Mech<'static> {
    match ty {
        CKM_SHA1_RSA_PKCS => Mechanism::Sha1RsaPkcs.into(),
        CKM_SHA224_RSA_PKCS => Mechanism::Sha224RsaPkcs.into(),
        CKM_SHA256_RSA_PKCS => Mechanism::Sha256RsaPkcs.into(),
        CKM_SHA384_RSA_PKCS => Mechanism::Sha384RsaPkcs.into(),
        CKM_SHA512_RSA_PKCS => Mechanism::Sha512RsaPkcs.into(),
        other => raw(other),
    }
}

fn pss_raw(ty: CK_MECHANISM_TYPE, h: Hash, salt: usize) -> Mech<'static> {
    RawMech::new(ty)
        .with(CK_RSA_PKCS_PSS_PARAMS {
            hashAlg: h.mech,
            mgf: h.mgf,
            sLen: salt as CK_ULONG,
        })
        .into()
}

/// A PSS mechanism with the hash's MGF1 and a salt as long as the hash.
fn pss(ty: CK_MECHANISM_TYPE, hash_mech: CK_MECHANISM_TYPE) -> Mech<'static> {
    let h = hash(hash_mech);
    let typed = |hash_alg: MechanismType, mgf: PkcsMgfType| PkcsPssParams {
        hash_alg,
        mgf,
        s_len: (h.len as u64).into(),
    };
    match (ty, hash_mech) {
        (CKM_SHA1_RSA_PKCS_PSS, _) => {
            Mechanism::Sha1RsaPkcsPss(typed(MechanismType::SHA1, PkcsMgfType::MGF1_SHA1)).into()
        }
        (CKM_SHA256_RSA_PKCS_PSS, _) => {
            Mechanism::Sha256RsaPkcsPss(typed(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256))
                .into()
        }
        (CKM_SHA384_RSA_PKCS_PSS, _) => {
            Mechanism::Sha384RsaPkcsPss(typed(MechanismType::SHA384, PkcsMgfType::MGF1_SHA384))
                .into()
        }
        (CKM_SHA512_RSA_PKCS_PSS, _) => {
            Mechanism::Sha512RsaPkcsPss(typed(MechanismType::SHA512, PkcsMgfType::MGF1_SHA512))
                .into()
        }
        (CKM_RSA_PKCS_PSS, CKM_SHA256) => {
            Mechanism::RsaPkcsPss(typed(MechanismType::SHA256, PkcsMgfType::MGF1_SHA256)).into()
        }
        _ => pss_raw(ty, h, h.len),
    }
}

fn ecdsa_hashed(ty: CK_MECHANISM_TYPE) -> Mech<'static> {
    match ty {
        CKM_ECDSA_SHA1 => Mechanism::EcdsaSha1.into(),
        CKM_ECDSA_SHA224 => Mechanism::EcdsaSha224.into(),
        CKM_ECDSA_SHA256 => Mechanism::EcdsaSha256.into(),
        CKM_ECDSA_SHA384 => Mechanism::EcdsaSha384.into(),
        CKM_ECDSA_SHA512 => Mechanism::EcdsaSha512.into(),
        other => raw(other),
    }
}

// ----- the table ---------------------------------------------------------------------------------

#[test]
fn mechanism_list_and_info_match_the_table() {
    let (_fx, m, sl) = token();
    // Through cryptoki_sys: cryptoki's own list drops the types it has no name for.
    let mut n: CK_ULONG = 0;
    // SAFETY: `n` is a valid out-pointer; a NULL list asks for the count.
    ck(unsafe { lib().C_GetMechanismList(sl.id(), ptr::null_mut(), &mut n) })
        .expect("C_GetMechanismList count");
    let mut listed: Vec<CK_MECHANISM_TYPE> = vec![0; n as usize];
    // SAFETY: `listed` holds `n` entries.
    ck(unsafe { lib().C_GetMechanismList(sl.id(), listed.as_mut_ptr(), &mut n) })
        .expect("C_GetMechanismList");
    listed.truncate(n as usize);
    let table: Vec<CK_MECHANISM_TYPE> = MECHANISMS.iter().map(|r| r.ty).collect();
    assert_eq!(
        listed, table,
        "C_GetMechanismList lists exactly the table's mechanisms, in its order"
    );

    let info = |ty: CK_MECHANISM_TYPE| {
        let mut i = CK_MECHANISM_INFO::default();
        // SAFETY: `i` is a valid out-pointer for the call.
        ck(unsafe { lib().C_GetMechanismInfo(sl.id(), ty, &mut i) }).map(|_| i)
    };
    for row in MECHANISMS {
        let i = info(row.ty).unwrap_or_else(|e| panic!("C_GetMechanismInfo {}: {e:?}", row.name));
        assert_eq!(i.flags, row.flags, "{}: CK_MECHANISM_INFO.flags", row.name);
        assert_eq!(
            (i.ulMinKeySize, i.ulMaxKeySize),
            (row.min_key, row.max_key),
            "{}: key sizes",
            row.name
        );
        assert!(i.ulMinKeySize <= i.ulMaxKeySize, "{}: min > max", row.name);
        assert_ne!(i.flags, 0, "{}: no function flags", row.name);
    }
    // The same through cryptoki's typed info, for the list's own mechanism types.
    for t in m.get_mechanism_list(sl).expect("C_GetMechanismList") {
        let row = MECHANISMS.iter().find(|r| r.ty == *t).expect("a table row");
        let i = m.get_mechanism_info(sl, t).expect("C_GetMechanismInfo");
        assert_eq!(i.min_key_size() as u64, row.min_key, "{}", row.name);
        assert_eq!(i.max_key_size() as u64, row.max_key, "{}", row.name);
        assert_eq!(
            i.sign(),
            row.flags & CKF_SIGN != 0,
            "{}: CKF_SIGN",
            row.name
        );
        assert_eq!(
            i.encrypt(),
            row.flags & CKF_ENCRYPT != 0,
            "{}: CKF_ENCRYPT",
            row.name
        );
        assert_eq!(
            i.digest(),
            row.flags & CKF_DIGEST != 0,
            "{}: CKF_DIGEST",
            row.name
        );
    }
    fails(
        info(CKM_DES3_CBC),
        RvError::MechanismInvalid,
        "an unoffered mechanism",
    );
    fails(
        info(CKM_VENDOR_DEFINED | 0x1234),
        RvError::MechanismInvalid,
        "a vendor mechanism",
    );

    let mut covered = COVERED.to_vec();
    covered.sort_unstable();
    let mut t = table;
    t.sort_unstable();
    assert_eq!(
        covered, t,
        "every table mechanism has a test in this file, and no other"
    );
    drop(m);
}

// ----- digests -----------------------------------------------------------------------------------

#[test]
fn digests_match_references_and_digest_key() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let data = pattern(300, 1);
    for &ty in DIGESTS {
        let mech = digest_mech(ty);
        let single = t
            .digest(&mech, &data)
            .unwrap_or_else(|e| panic!("C_Digest {ty:#x}: {e:?}"));
        assert_eq!(single.len(), hash(ty).len, "{ty:#x}: digest length");
        let empty = t.digest(&mech, b"").expect("C_Digest of nothing");
        if let Some(alg) = reference_digest(ty) {
            assert_eq!(single, sha(alg, &data), "{ty:#x} against aws-lc-rs");
            assert_eq!(empty, sha(alg, b""), "{ty:#x} of the empty string");
        }
        for sizes in SPLITS {
            let multi = t
                .digest_parts(&mech, &split(&data, sizes))
                .expect("multi-part digest");
            assert_eq!(
                multi, single,
                "{ty:#x}: multi-part {sizes:?} == single-part"
            );
        }
        assert_eq!(
            t.digest_parts(&mech, &[]).unwrap(),
            empty,
            "{ty:#x}: no update at all"
        );
    }
    // SHA3-224, which aws-lc-rs lacks: FIPS 202's "abc" example and a second known answer.
    let sha3_224 = raw(CKM_SHA3_224);
    assert_eq!(
        t.digest(&sha3_224, b"abc").unwrap(),
        hex("e642824c3f8cf24ad09234ee7d3c766fc9a3a5168d0c94ad73b46fdf")
    );
    let kat = b"digest input that spans more than one call";
    let want = hex("147c561899ce0c13de72c90cb3ca1acd4e750a0e0542213380e74811");
    assert_eq!(t.digest(&sha3_224, kat).unwrap(), want);
    assert_eq!(
        t.digest_parts(&sha3_224, &split(kat, &[5, 11])).unwrap(),
        want
    );

    // C_DigestKey of an extractable, non-sensitive generic secret digests its value.
    let v = pattern(40, 9);
    let k = t.generic(
        &v,
        &[Attribute::Sensitive(false), Attribute::Extractable(true)],
    );
    s.digest_init(&Mechanism::Sha256).expect("C_DigestInit");
    s.digest_update(b"prefix").expect("C_DigestUpdate");
    s.digest_key(k).expect("C_DigestKey");
    s.digest_update(b"suffix").expect("C_DigestUpdate");
    let d = s.digest_final().expect("C_DigestFinal");
    assert_eq!(
        d,
        sha(
            &digest::SHA256,
            &[b"prefix".as_slice(), &v, b"suffix"].concat()
        )
    );
    t.digest_init_raw(&RawMech::new(CKM_SHA3_256))
        .expect("C_DigestInit SHA3-256");
    // SAFETY: plain handles.
    ck(unsafe { lib().C_DigestKey(t.h(), k.handle()) }).expect("C_DigestKey SHA3-256");
    let h = t.h();
    // SAFETY: `p` is NULL or `*l` bytes long.
    let d = out2(|p, l| unsafe { lib().C_DigestFinal(h, p, l) }).expect("C_DigestFinal");
    assert_eq!(d, sha(&digest::SHA3_256, &v));
}

// ----- RSA ---------------------------------------------------------------------------------------

fn strip(b: &[u8]) -> &[u8] {
    let n = b.iter().take_while(|x| **x == 0).count();
    &b[n..]
}

fn rsa_components(t: &Tk, public: ObjectHandle) -> (Vec<u8>, Vec<u8>) {
    (
        t.bytes(public, AttributeType::Modulus),
        t.bytes(public, AttributeType::PublicExponent),
    )
}

fn rsa_verify_independently(
    alg: &'static signature::RsaParameters,
    n: &[u8],
    e: &[u8],
    msg: &[u8],
    sig: &[u8],
) -> bool {
    signature::RsaPublicKeyComponents { n, e }
        .verify(alg, msg, sig)
        .is_ok()
}

#[test]
fn rsa_key_generation() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let msg = b"RSA key generation";

    let (pubk, privk) = t.rsa_pair(2048, &[1, 0, 1], &[]);
    assert_eq!(t.ulong(pubk, AttributeType::ModulusBits), 2048);
    let (n, e) = rsa_components(&t, pubk);
    assert_eq!(strip(&n).len(), 256, "a 2048-bit modulus");
    assert!(strip(&n)[0] & 0x80 != 0, "the modulus has its top bit set");
    assert_eq!(strip(&e), [1, 0, 1]);
    assert_eq!(t.bytes(privk, AttributeType::Modulus), n);
    for (k, class) in [
        (pubk, ObjectClass::PUBLIC_KEY),
        (privk, ObjectClass::PRIVATE_KEY),
    ] {
        assert_eq!(t.class(k), class);
        assert_eq!(t.key_type(k), KeyType::RSA);
        assert!(
            t.flag(k, AttributeType::Local),
            "generated keys are CKA_LOCAL"
        );
        assert_eq!(t.key_gen_mechanism(k), CKM_RSA_PKCS_KEY_PAIR_GEN);
    }
    assert!(t.flag(privk, AttributeType::AlwaysSensitive));
    assert!(t.flag(privk, AttributeType::NeverExtractable));
    let (rv_read, _) =
        Raw::load().get_attribute_values(s.handle(), privk.handle(), &[CKA_PRIVATE_EXPONENT]);
    assert_eq!(
        rv_read, CKR_ATTRIBUTE_SENSITIVE,
        "the private exponent stays inside"
    );
    let sig = t
        .sign(&Mechanism::Sha256RsaPkcs.into(), privk, msg)
        .expect("C_Sign");
    assert!(rsa_verify_independently(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        &n,
        &e,
        msg,
        &sig
    ));

    // A 3072-bit key.
    let (pub3, priv3) = t.rsa_pair(3072, &[1, 0, 1], &[]);
    assert_eq!(t.ulong(pub3, AttributeType::ModulusBits), 3072);
    let (n3, e3) = rsa_components(&t, pub3);
    assert_eq!(strip(&n3).len(), 384);
    let mech = pss(CKM_SHA256_RSA_PKCS_PSS, CKM_SHA256);
    let sig = t.sign(&mech, priv3, msg).expect("C_Sign PSS 3072");
    assert_eq!(sig.len(), 384);
    assert!(rsa_verify_independently(
        &signature::RSA_PSS_2048_8192_SHA256,
        &n3,
        &e3,
        msg,
        &sig
    ));

    // Public exponent 3.
    let (pub_e3, priv_e3) = t.rsa_pair(2048, &[3], &[]);
    assert_eq!(strip(&t.bytes(pub_e3, AttributeType::PublicExponent)), [3]);
    let mech: Mech = Mechanism::Sha256RsaPkcs.into();
    let sig = t.sign(&mech, priv_e3, msg).expect("C_Sign with e = 3");
    t.verify(&mech, pub_e3, msg, &sig)
        .expect("C_Verify with e = 3");

    let gen = |bits: Option<u64>| {
        let mut public = vec![
            Attribute::Token(false),
            Attribute::PublicExponent(vec![1, 0, 1]),
        ];
        if let Some(b) = bits {
            public.push(Attribute::ModulusBits(b.into()));
        }
        t.pair(
            Mechanism::RsaPkcsKeyPairGen,
            &public,
            &[Attribute::Token(false)],
        )
    };
    fails(gen(Some(1024)), RvError::KeySizeRange, "a 1024-bit key");
    fails(
        gen(None),
        RvError::TemplateIncomplete,
        "no CKA_MODULUS_BITS",
    );
}

#[test]
fn rsa_encryption_mechanisms() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let (pubk, privk) = t.rsa_pair(2048, &[1, 0, 1], &[]);
    let (n, e) = rsa_components(&t, pubk);
    let aws_pub = rsa::PublicEncryptingKey::from_der(&rsa_spki(&n, &e))
        .expect("aws-lc-rs takes the module's public key");
    let msg = b"a secret message for RSA encryption";

    // CKM_RSA_PKCS.
    let pkcs: Mech = Mechanism::RsaPkcs.into();
    let c = t.encrypt(&pkcs, pubk, msg).expect("C_Encrypt RSA_PKCS");
    assert_eq!(c.len(), 256);
    assert_ne!(
        t.encrypt(&pkcs, pubk, msg).unwrap(),
        c,
        "PKCS #1 v1.5 padding is random"
    );
    assert_eq!(
        t.decrypt(&pkcs, privk, &c).expect("C_Decrypt RSA_PKCS"),
        msg
    );
    let aws = rsa::Pkcs1PublicEncryptingKey::new(aws_pub.clone()).unwrap();
    let mut out = vec![0u8; aws.ciphertext_size()];
    let c = aws
        .encrypt(msg, &mut out)
        .expect("aws-lc-rs PKCS #1 encryption");
    assert_eq!(
        t.decrypt(&pkcs, privk, c).unwrap(),
        msg,
        "an aws-lc-rs ciphertext"
    );
    t.encrypt(&pkcs, pubk, &[1u8; 245])
        .expect("k - 11 bytes fit");
    fails(
        t.encrypt(&pkcs, pubk, &[1u8; 246]),
        RvError::DataLenRange,
        "k - 10 bytes",
    );

    // CKM_RSA_X_509: raw RSA; decryption gives back the whole k-byte block.
    let x509: Mech = Mechanism::RsaX509.into();
    let data = pattern(100, 4);
    let c = t.encrypt(&x509, pubk, &data).expect("C_Encrypt RSA_X_509");
    assert_eq!(c.len(), 256);
    assert_eq!(
        t.encrypt(&x509, pubk, &data).unwrap(),
        c,
        "raw RSA is deterministic"
    );
    let mut block = vec![0u8; 156];
    block.extend_from_slice(&data);
    assert_eq!(
        t.decrypt(&x509, privk, &c).expect("C_Decrypt RSA_X_509"),
        block
    );

    // CKM_RSA_PKCS_OAEP: SHA-1 without a label, SHA-256 with one, and MGF1 unlike the hash.
    let label = b"custos label";
    let oaep1: Mech = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA1,
        PkcsMgfType::MGF1_SHA1,
        PkcsOaepSource::empty(),
    ))
    .into();
    let oaep256: Mech = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA256,
        PkcsMgfType::MGF1_SHA256,
        PkcsOaepSource::data_specified(label),
    ))
    .into();
    let aws = rsa::OaepPublicEncryptingKey::new(aws_pub).unwrap();
    for (mech, alg, l) in [
        (&oaep1, &rsa::OAEP_SHA1_MGF1SHA1, None),
        (
            &oaep256,
            &rsa::OAEP_SHA256_MGF1SHA256,
            Some(label.as_slice()),
        ),
    ] {
        let c = t.encrypt(mech, pubk, msg).expect("C_Encrypt OAEP");
        assert_eq!(c.len(), 256);
        assert_eq!(t.decrypt(mech, privk, &c).expect("C_Decrypt OAEP"), msg);
        let mut out = vec![0u8; aws.ciphertext_size()];
        let c = aws.encrypt(alg, msg, &mut out, l).expect("aws-lc-rs OAEP");
        assert_eq!(
            t.decrypt(mech, privk, c).unwrap(),
            msg,
            "an aws-lc-rs OAEP ciphertext"
        );
    }
    let c = t.encrypt(&oaep256, pubk, msg).unwrap();
    fails(
        t.decrypt(
            &oaep(CKM_SHA256, CKG_MGF1_SHA256, b"another label"),
            privk,
            &c,
        ),
        RvError::EncryptedDataInvalid,
        "OAEP with the wrong label",
    );
    let mixed = oaep(CKM_SHA256, CKG_MGF1_SHA1, label);
    let c = t
        .encrypt(&mixed, pubk, msg)
        .expect("OAEP SHA-256 with MGF1-SHA1");
    assert_eq!(t.decrypt(&mixed, privk, &c).unwrap(), msg);
    fails(
        t.decrypt(&oaep256, privk, &c),
        RvError::EncryptedDataInvalid,
        "OAEP with the wrong MGF1",
    );
    t.encrypt(&oaep256, pubk, &[7u8; 190])
        .expect("k - 2hLen - 2 bytes fit");
    fails(
        t.encrypt(&oaep256, pubk, &[7u8; 191]),
        RvError::DataLenRange,
        "one byte too many for OAEP",
    );

    // Key type and usage.
    let (ec_pub, ec_priv) = t.ec_pair(P256, &[], &[]);
    let aes = t.aes(&[1u8; 16], &[]);
    let no_encrypt = t.rsa_public_copy(pubk, &[Attribute::Encrypt(false)]);
    let no_decrypt = t.copy(privk, &[Attribute::Decrypt(false)]);
    for (name, mech) in [
        ("RSA_PKCS", &pkcs),
        ("RSA_X_509", &x509),
        ("RSA_PKCS_OAEP", &oaep256),
    ] {
        fails(
            t.encrypt(mech, ec_pub, msg),
            RvError::KeyTypeInconsistent,
            &format!("{name}: EC key"),
        );
        fails(
            t.decrypt(mech, ec_priv, &c),
            RvError::KeyTypeInconsistent,
            &format!("{name}: EC key"),
        );
        fails(
            t.encrypt(mech, aes, msg),
            RvError::KeyTypeInconsistent,
            &format!("{name}: AES key"),
        );
        fails(
            t.encrypt(mech, privk, msg),
            RvError::KeyTypeInconsistent,
            &format!("{name}: private key"),
        );
        fails(
            t.encrypt(mech, no_encrypt, msg),
            RvError::KeyFunctionNotPermitted,
            &format!("{name}: CKA_ENCRYPT false"),
        );
        fails(
            t.decrypt(mech, no_decrypt, &c),
            RvError::KeyFunctionNotPermitted,
            &format!("{name}: CKA_DECRYPT false"),
        );
    }
}

#[test]
fn rsa_signature_mechanisms() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let (pubk, privk) = t.rsa_pair(2048, &[1, 0, 1], &[]);
    let (n, e) = rsa_components(&t, pubk);
    let msg = pattern(150, 3);

    // CKM_RSA_PKCS over a DigestInfo, and CKM_RSA_X_509 over its EMSA-PKCS1 block: the same
    // signature, which the public operation turns back into the block.
    let di = [SHA256_DIGEST_INFO, &sha(&digest::SHA256, &msg)].concat();
    let pkcs: Mech = Mechanism::RsaPkcs.into();
    let x509: Mech = Mechanism::RsaX509.into();
    let sig = t.sign(&pkcs, privk, &di).expect("C_Sign RSA_PKCS");
    assert!(rsa_verify_independently(
        &signature::RSA_PKCS1_2048_8192_SHA256,
        &n,
        &e,
        &msg,
        &sig
    ));
    t.verify(&pkcs, pubk, &di, &sig).expect("C_Verify RSA_PKCS");
    let block = emsa_pkcs1(256, &di);
    let sig_x = t.sign(&x509, privk, &block).expect("C_Sign RSA_X_509");
    assert_eq!(sig_x, sig, "raw RSA over the EMSA block == CKM_RSA_PKCS");
    t.verify(&x509, pubk, &block, &sig_x)
        .expect("C_Verify RSA_X_509");
    assert_eq!(
        t.encrypt(&x509, pubk, &sig_x).unwrap(),
        block,
        "s^e mod n is the block"
    );
    let mut bad = sig.clone();
    bad[100] ^= 0x10;
    fails(
        t.verify(&pkcs, pubk, &di, &bad),
        RvError::SignatureInvalid,
        "RSA_PKCS bad signature",
    );
    fails(
        t.verify(&x509, pubk, &block, &bad),
        RvError::SignatureInvalid,
        "RSA_X_509 bad signature",
    );

    // CKM_RSA_PKCS_PSS over a digest.
    let d = sha(&digest::SHA256, &msg);
    let raw_pss = pss(CKM_RSA_PKCS_PSS, CKM_SHA256);
    let sig = t.sign(&raw_pss, privk, &d).expect("C_Sign RSA_PKCS_PSS");
    assert!(rsa_verify_independently(
        &signature::RSA_PSS_2048_8192_SHA256,
        &n,
        &e,
        &msg,
        &sig
    ));
    t.verify(&raw_pss, pubk, &d, &sig)
        .expect("C_Verify RSA_PKCS_PSS");
    let mut bad = sig.clone();
    bad[5] ^= 1;
    fails(
        t.verify(&raw_pss, pubk, &d, &bad),
        RvError::SignatureInvalid,
        "RSA_PKCS_PSS bad signature",
    );
    let pss1 = pss(CKM_RSA_PKCS_PSS, CKM_SHA_1);
    let d1 = sha(&digest::SHA1_FOR_LEGACY_USE_ONLY, &msg);
    let sig = t
        .sign(&pss1, privk, &d1)
        .expect("C_Sign RSA_PKCS_PSS SHA-1");
    t.verify(&pss1, pubk, &d1, &sig)
        .expect("C_Verify RSA_PKCS_PSS SHA-1");

    // Hash-then-sign PKCS #1 v1.5: deterministic, so multi-part must equal single-part.
    for &(ty, hm) in RSA_PKCS_HASHED {
        let mech = rsa_pkcs_hashed(ty);
        let sig = t
            .sign(&mech, privk, &msg)
            .unwrap_or_else(|e| panic!("C_Sign {ty:#x}: {e:?}"));
        assert_eq!(sig.len(), 256);
        for sizes in SPLITS {
            let multi = t
                .sign_parts(&mech, privk, &split(&msg, sizes))
                .expect("multi-part sign");
            assert_eq!(multi, sig, "{ty:#x}: multi-part {sizes:?} == single-part");
        }
        t.verify(&mech, pubk, &msg, &sig)
            .unwrap_or_else(|e| panic!("C_Verify {ty:#x}: {e:?}"));
        t.verify_parts(&mech, pubk, &split(&msg, &[7, 0, 9]), &sig)
            .expect("multi-part verify");
        let mut bad = sig.clone();
        bad[0] ^= 0x01;
        fails(
            t.verify(&mech, pubk, &msg, &bad),
            RvError::SignatureInvalid,
            "bad signature",
        );
        fails(
            t.verify_parts(&mech, pubk, &[&msg], &bad),
            RvError::SignatureInvalid,
            "bad signature, multi-part",
        );
        fails(
            t.verify(&mech, pubk, b"another message", &sig),
            RvError::SignatureInvalid,
            "other message",
        );
        let reference = match hm {
            CKM_SHA_1 => Some(&signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY),
            CKM_SHA256 => Some(&signature::RSA_PKCS1_2048_8192_SHA256),
            CKM_SHA384 => Some(&signature::RSA_PKCS1_2048_8192_SHA384),
            CKM_SHA512 => Some(&signature::RSA_PKCS1_2048_8192_SHA512),
            _ => None,
        };
        if let Some(alg) = reference {
            assert!(
                rsa_verify_independently(alg, &n, &e, &msg, &sig),
                "{ty:#x} against aws-lc-rs"
            );
        }
    }

    // Hash-then-sign PSS: randomised, so each form must verify the other's signature.
    for &(ty, hm) in RSA_PSS_HASHED {
        let mech = pss(ty, hm);
        let single = t
            .sign(&mech, privk, &msg)
            .unwrap_or_else(|e| panic!("C_Sign {ty:#x}: {e:?}"));
        let multi = t
            .sign_parts(&mech, privk, &split(&msg, &[15, 16, 17]))
            .expect("multi-part sign");
        for sig in [&single, &multi] {
            assert_eq!(sig.len(), 256);
            t.verify(&mech, pubk, &msg, sig)
                .unwrap_or_else(|e| panic!("C_Verify {ty:#x}: {e:?}"));
            t.verify_parts(&mech, pubk, &split(&msg, &[1]), sig)
                .expect("multi-part verify");
        }
        let mut bad = single.clone();
        bad[255] ^= 0x80;
        fails(
            t.verify(&mech, pubk, &msg, &bad),
            RvError::SignatureInvalid,
            "bad PSS signature",
        );
        fails(
            t.verify(&mech, pubk, &msg[1..], &single),
            RvError::SignatureInvalid,
            "other message",
        );
        let reference = match hm {
            CKM_SHA256 => Some(&signature::RSA_PSS_2048_8192_SHA256),
            CKM_SHA384 => Some(&signature::RSA_PSS_2048_8192_SHA384),
            CKM_SHA512 => Some(&signature::RSA_PSS_2048_8192_SHA512),
            _ => None,
        };
        if let Some(alg) = reference {
            for sig in [&single, &multi] {
                assert!(
                    rsa_verify_independently(alg, &n, &e, &msg, sig),
                    "{ty:#x} against aws-lc-rs"
                );
            }
        }
    }
    // The PSS parameters must name the mechanism's own hash.
    fails(
        t.sign(
            &pss_raw(CKM_SHA256_RSA_PKCS_PSS, hash(CKM_SHA384), 48),
            privk,
            &msg,
        ),
        RvError::MechanismParamInvalid,
        "SHA256_RSA_PKCS_PSS with hashAlg SHA-384",
    );

    // Key type and usage, for every RSA signature mechanism.
    let (ed_pub, ed_priv) = t.ed_pair(&[], &[]);
    let no_sign = t.copy(privk, &[Attribute::Sign(false)]);
    let no_verify = t.rsa_public_copy(pubk, &[Attribute::Verify(false)]);
    let mut all: Vec<(CK_MECHANISM_TYPE, Mech)> = vec![
        (CKM_RSA_PKCS, pkcs),
        (CKM_RSA_X_509, x509),
        (CKM_RSA_PKCS_PSS, raw_pss),
    ];
    all.extend(
        RSA_PKCS_HASHED
            .iter()
            .map(|&(ty, _)| (ty, rsa_pkcs_hashed(ty))),
    );
    all.extend(RSA_PSS_HASHED.iter().map(|&(ty, hm)| (ty, pss(ty, hm))));
    let sig = vec![0u8; 256];
    for (ty, mech) in &all {
        fails(
            t.sign(mech, ed_priv, &d),
            RvError::KeyTypeInconsistent,
            &format!("{ty:#x}: Ed25519 key"),
        );
        fails(
            t.verify(mech, ed_pub, &d, &sig),
            RvError::KeyTypeInconsistent,
            &format!("{ty:#x}: Ed25519 key"),
        );
        fails(
            t.sign(mech, pubk, &d),
            RvError::KeyTypeInconsistent,
            &format!("{ty:#x}: signing with a public key"),
        );
        fails(
            t.sign(mech, no_sign, &d),
            RvError::KeyFunctionNotPermitted,
            &format!("{ty:#x}: CKA_SIGN false"),
        );
        fails(
            t.verify(mech, no_verify, &d, &sig),
            RvError::KeyFunctionNotPermitted,
            &format!("{ty:#x}: CKA_VERIFY false"),
        );
    }
}

// ----- EC ----------------------------------------------------------------------------------------

#[test]
fn ec_key_generation_and_ecdsa() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let msg = pattern(100, 5);
    let ecdsa: Mech = Mechanism::Ecdsa.into();
    let sv = (&[Attribute::Verify(true)][..], &[Attribute::Sign(true)][..]);

    // Every curve: the attributes, the point's encoding, and CKM_ECDSA over the curve's hash.
    for (params, field, alg, verifier) in [
        (
            P256,
            32,
            &digest::SHA256,
            &signature::ECDSA_P256_SHA256_FIXED,
        ),
        (
            P384,
            48,
            &digest::SHA384,
            &signature::ECDSA_P384_SHA384_FIXED,
        ),
        (
            P521,
            66,
            &digest::SHA512,
            &signature::ECDSA_P521_SHA512_FIXED,
        ),
        (
            SECP256K1,
            32,
            &digest::SHA256,
            &signature::ECDSA_P256K1_SHA256_FIXED,
        ),
    ] {
        let (pubk, privk) = t.ec_pair(params, sv.0, sv.1);
        for k in [pubk, privk] {
            assert_eq!(t.key_type(k), KeyType::EC);
            assert_eq!(t.bytes(k, AttributeType::EcParams), params);
            assert!(t.flag(k, AttributeType::Local));
            assert_eq!(t.key_gen_mechanism(k), CKM_EC_KEY_PAIR_GEN);
        }
        let point = t.point(pubk);
        assert_eq!(
            point.len(),
            1 + 2 * field,
            "{params:02x?}: uncompressed point length"
        );
        assert_eq!(point[0], 0x04, "uncompressed");
        let d = sha(alg, &msg);
        let sig = t
            .sign(&ecdsa, privk, &d)
            .unwrap_or_else(|e| panic!("C_Sign ECDSA {params:02x?}: {e:?}"));
        assert_eq!(sig.len(), 2 * field, "r || s");
        t.verify(&ecdsa, pubk, &d, &sig).expect("C_Verify ECDSA");
        UnparsedPublicKey::new(verifier, &point)
            .verify(&msg, &sig)
            .unwrap_or_else(|_| panic!("aws-lc-rs verifies ECDSA on {params:02x?}"));
        let mut bad = sig.clone();
        bad[3] ^= 4;
        fails(
            t.verify(&ecdsa, pubk, &d, &bad),
            RvError::SignatureInvalid,
            "bad ECDSA signature",
        );
    }

    // CKA_EC_PARAMS as the PrintableString "prime256v1".
    let (pubk, privk) = t.ec_pair(PRIME256V1, sv.0, sv.1);
    assert_eq!(
        t.bytes(pubk, AttributeType::EcParams),
        P256,
        "stored as the OID"
    );
    let sig = t.sign(&Mechanism::EcdsaSha256.into(), privk, &msg).unwrap();
    UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, t.point(pubk))
        .verify(&msg, &sig)
        .expect("a prime256v1 key is P-256");
    let unsupported = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x01]; // P-192
    fails(
        t.pair(
            Mechanism::EccKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::EcParams(unsupported.to_vec()),
            ],
            &[Attribute::Token(false)],
        ),
        RvError::CurveNotSupported,
        "P-192",
    );

    // CKM_ECDSA over 20-, 32- and 64-byte digests on P-256 (the 64-byte one is truncated).
    let (pubk, privk) = t.ec_pair(P256, sv.0, sv.1);
    let point = t.point(pubk);
    for (alg, verifier) in [
        (
            &digest::SHA1_FOR_LEGACY_USE_ONLY,
            &signature::ECDSA_P256_SHA1_ASN1,
        ),
        (&digest::SHA256, &signature::ECDSA_P256_SHA256_ASN1),
        (&digest::SHA512, &signature::ECDSA_P256_SHA512_ASN1),
    ] {
        let d = sha(alg, &msg);
        let sig = t.sign(&ecdsa, privk, &d).expect("C_Sign ECDSA");
        t.verify(&ecdsa, pubk, &d, &sig).expect("C_Verify ECDSA");
        UnparsedPublicKey::new(verifier, &point)
            .verify(&msg, &ecdsa_der(&sig))
            .unwrap_or_else(|_| panic!("aws-lc-rs verifies ECDSA over a {}-byte digest", d.len()));
    }

    // CKM_ECDSA_<hash>: single- and multi-part signatures verify either way, and under
    // CKM_ECDSA over the module's own digest of the message.
    for &(ty, hm) in ECDSA_HASHED {
        let mech = ecdsa_hashed(ty);
        let single = t
            .sign(&mech, privk, &msg)
            .unwrap_or_else(|e| panic!("C_Sign {ty:#x}: {e:?}"));
        let multi = t
            .sign_parts(&mech, privk, &split(&msg, &[15, 16, 17]))
            .expect("multi-part sign");
        let d = t.digest(&digest_mech(hm), &msg).expect("C_Digest");
        for sig in [&single, &multi] {
            assert_eq!(sig.len(), 64);
            t.verify(&mech, pubk, &msg, sig)
                .unwrap_or_else(|e| panic!("C_Verify {ty:#x}: {e:?}"));
            t.verify_parts(&mech, pubk, &split(&msg, &[1, 30]), sig)
                .expect("multi-part verify");
            t.verify(&ecdsa, pubk, &d, sig)
                .expect("the same signature under CKM_ECDSA");
        }
        let mut bad = single.clone();
        bad[40] ^= 0x20;
        fails(
            t.verify(&mech, pubk, &msg, &bad),
            RvError::SignatureInvalid,
            "bad signature",
        );
        fails(
            t.verify_parts(&mech, pubk, &[&msg], &bad),
            RvError::SignatureInvalid,
            "bad signature, multi-part",
        );
        fails(
            t.verify(&mech, pubk, &msg[..99], &single),
            RvError::SignatureInvalid,
            "other message",
        );
        let reference = match hm {
            CKM_SHA_1 => Some(&signature::ECDSA_P256_SHA1_ASN1),
            CKM_SHA256 => Some(&signature::ECDSA_P256_SHA256_ASN1),
            CKM_SHA384 => Some(&signature::ECDSA_P256_SHA384_ASN1),
            CKM_SHA512 => Some(&signature::ECDSA_P256_SHA512_ASN1),
            _ => None,
        };
        if let Some(alg) = reference {
            for sig in [&single, &multi] {
                UnparsedPublicKey::new(alg, &point)
                    .verify(&msg, &ecdsa_der(sig))
                    .unwrap_or_else(|_| panic!("{ty:#x} against aws-lc-rs"));
            }
        }
    }

    // Key type and usage, for every ECDSA mechanism.
    let (ed_pub, ed_priv) = t.ed_pair(&[], &[]);
    let (np_pub, np_priv) = t.ec_pair(P256, &[Attribute::Verify(false)], &[Attribute::Sign(false)]);
    let aes = t.aes(
        &[3u8; 16],
        &[Attribute::Sign(true), Attribute::Verify(true)],
    );
    let mut all: Vec<(CK_MECHANISM_TYPE, Mech)> = vec![(CKM_ECDSA, ecdsa)];
    all.extend(ECDSA_HASHED.iter().map(|&(ty, _)| (ty, ecdsa_hashed(ty))));
    let d = sha(&digest::SHA256, &msg);
    let sig = vec![1u8; 64];
    for (ty, mech) in &all {
        fails(
            t.sign(mech, ed_priv, &d),
            RvError::KeyTypeInconsistent,
            &format!("{ty:#x}: Ed25519 key"),
        );
        fails(
            t.verify(mech, ed_pub, &d, &sig),
            RvError::KeyTypeInconsistent,
            &format!("{ty:#x}: Ed25519 key"),
        );
        fails(
            t.sign(mech, aes, &d),
            RvError::KeyTypeInconsistent,
            &format!("{ty:#x}: AES key"),
        );
        fails(
            t.sign(mech, np_priv, &d),
            RvError::KeyFunctionNotPermitted,
            &format!("{ty:#x}: CKA_SIGN false"),
        );
        fails(
            t.verify(mech, np_pub, &d, &sig),
            RvError::KeyFunctionNotPermitted,
            &format!("{ty:#x}: CKA_VERIFY false"),
        );
    }
}

fn ecdh<'a>(ty: CK_MECHANISM_TYPE, kdf: u64, shared: &'a [u8], public: &'a [u8]) -> Mech<'a> {
    if ty != CKM_ECDH1_DERIVE {
        return ecdh_raw(ty, kdf, shared, public);
    }
    let k = match kdf {
        CKD_NULL => EcKdf::null(),
        CKD_SHA256_KDF => EcKdf::sha256(shared),
        _ => return ecdh_raw(ty, kdf, shared, public),
    };
    Mechanism::Ecdh1Derive(Ecdh1DeriveParams::new(k, public)).into()
}

fn reference_ecdh(alg: &'static agreement::Algorithm, private: &[u8], peer: &[u8]) -> Vec<u8> {
    let k =
        agreement::PrivateKey::from_private_key(alg, private).expect("aws-lc-rs takes the scalar");
    agreement::agree(&k, agreement::UnparsedPublicKey::new(alg, peer), (), |z| {
        Ok(z.to_vec())
    })
    .expect("aws-lc-rs agrees")
}

#[test]
fn ecdh_derivation() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let mut readable = open_private();
    readable.push(Attribute::Derive(true));
    let (a_pub, a_priv) = t.ec_pair(P256, &[], &readable);
    let (b_pub, b_priv) = t.ec_pair(P256, &[], &[Attribute::Derive(true)]);
    let (a_raw, a_der) = (t.point(a_pub), t.bytes(a_pub, AttributeType::EcPoint));
    let (b_raw, b_der) = (t.point(b_pub), t.bytes(b_pub, AttributeType::EcPoint));
    let z = reference_ecdh(&agreement::ECDH_P256, &t.value(a_priv), &b_raw);
    assert_eq!(z.len(), 32);
    let shared = b"shared info for X9.63";

    for ty in [CKM_ECDH1_DERIVE, CKM_ECDH1_COFACTOR_DERIVE] {
        // CKD_NULL: both sides, each with the peer's point raw and as DER.
        for (b_point, a_point) in [(&b_raw, &a_der), (&b_der, &a_raw)] {
            let ka = t
                .derive(
                    &ecdh(ty, CKD_NULL, &[], b_point),
                    a_priv,
                    &open_generic(None),
                )
                .unwrap_or_else(|e| panic!("C_DeriveKey {ty:#x}: {e:?}"));
            let kb = t
                .derive(
                    &ecdh(ty, CKD_NULL, &[], a_point),
                    b_priv,
                    &open_generic(None),
                )
                .unwrap_or_else(|e| panic!("C_DeriveKey {ty:#x}: {e:?}"));
            assert_eq!(t.key_type(ka), KeyType::GENERIC_SECRET);
            assert_eq!(t.value(ka), z, "{ty:#x}: A's secret against aws-lc-rs");
            assert_eq!(t.value(kb), z, "{ty:#x}: B's secret");
        }
        // CKD_SHA256_KDF with shared data.
        let ka = t
            .derive(
                &ecdh(ty, CKD_SHA256_KDF, shared, &b_der),
                a_priv,
                &open_generic(Some(48)),
            )
            .expect("ECDH with the SHA-256 KDF");
        let kb = t
            .derive(
                &ecdh(ty, CKD_SHA256_KDF, shared, &a_raw),
                b_priv,
                &open_generic(Some(48)),
            )
            .expect("ECDH with the SHA-256 KDF");
        let want = x963(&digest::SHA256, &z, shared, 48);
        assert_eq!(t.value(ka), want, "{ty:#x}: X9.63 KDF output");
        assert_eq!(t.value(kb), want);
        // The derived secret as an AES key both sides can use.
        let aes_tpl = |kt| {
            vec![
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(kt),
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
            ]
        };
        let ka = t
            .derive(
                &ecdh(ty, CKD_SHA256_KDF, shared, &b_raw),
                a_priv,
                &aes_tpl(KeyType::AES),
            )
            .unwrap();
        let kb = t
            .derive(
                &ecdh(ty, CKD_SHA256_KDF, shared, &a_raw),
                b_priv,
                &aes_tpl(KeyType::AES),
            )
            .unwrap();
        let c = t
            .encrypt(&Mechanism::AesEcb.into(), ka, &[9u8; 32])
            .unwrap();
        assert_eq!(
            t.decrypt(&Mechanism::AesEcb.into(), kb, &c).unwrap(),
            [9u8; 32]
        );
    }

    // The other curves, both ways.
    for (params, field, alg) in [
        (P384, 48, Some(&agreement::ECDH_P384)),
        (P521, 66, Some(&agreement::ECDH_P521)),
        (SECP256K1, 32, None),
    ] {
        let (a_pub, a_priv) = t.ec_pair(params, &[], &readable);
        let (b_pub, b_priv) = t.ec_pair(params, &[], &[Attribute::Derive(true)]);
        let ka = t
            .derive(
                &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &t.point(b_pub)),
                a_priv,
                &open_generic(None),
            )
            .expect("ECDH");
        let kb = t
            .derive(
                &ecdh(
                    CKM_ECDH1_COFACTOR_DERIVE,
                    CKD_NULL,
                    &[],
                    &t.bytes(a_pub, AttributeType::EcPoint),
                ),
                b_priv,
                &open_generic(None),
            )
            .expect("ECDH with cofactor");
        let z = t.value(ka);
        assert_eq!(z.len(), field, "{params:02x?}: the shared x-coordinate");
        assert_eq!(t.value(kb), z, "{params:02x?}: both sides agree");
        if let Some(alg) = alg {
            assert_eq!(
                reference_ecdh(alg, &t.value(a_priv), &t.point(b_pub)),
                z,
                "{params:02x?} against aws-lc-rs"
            );
        }
    }

    // Parameters, key type and usage.
    fails(
        t.derive(
            &ecdh_raw(CKM_ECDH1_DERIVE, CKD_NULL, b"shared", &b_raw),
            a_priv,
            &open_generic(None),
        ),
        RvError::MechanismParamInvalid,
        "CKD_NULL with shared data",
    );
    let aes = t.aes(&[5u8; 16], &[Attribute::Derive(true)]);
    let (_, no_derive) = t.ec_pair(P256, &[], &[]);
    for ty in [CKM_ECDH1_DERIVE, CKM_ECDH1_COFACTOR_DERIVE] {
        let mech = ecdh(ty, CKD_NULL, &[], &b_raw);
        fails(
            t.derive(&mech, aes, &open_generic(None)),
            RvError::KeyTypeInconsistent,
            &format!("{ty:#x}: AES base key"),
        );
        fails(
            t.derive(&mech, b_pub, &open_generic(None)),
            RvError::KeyTypeInconsistent,
            &format!("{ty:#x}: public base key"),
        );
        fails(
            t.derive(&mech, no_derive, &open_generic(None)),
            RvError::KeyFunctionNotPermitted,
            &format!("{ty:#x}: CKA_DERIVE false"),
        );
    }
}

// ----- Ed25519 and X25519 ------------------------------------------------------------------------

fn eddsa(scheme: EddsaSignatureScheme) -> Mech {
    Mechanism::Eddsa(EddsaParams::new(scheme)).into()
}

#[test]
fn eddsa_and_x25519() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let msg = pattern(77, 7);

    let (pubk, privk) = t.ed_pair(&[Attribute::Verify(true)], &[Attribute::Sign(true)]);
    for k in [pubk, privk] {
        assert_eq!(t.key_type(k), KeyType::EC_EDWARDS);
        assert_eq!(t.bytes(k, AttributeType::EcParams), ED25519);
        assert_eq!(t.key_gen_mechanism(k), CKM_EC_EDWARDS_KEY_PAIR_GEN);
        assert!(t.flag(k, AttributeType::Local));
    }
    let point = t.point(pubk);
    assert_eq!(point.len(), 32);

    // Pure Ed25519, without parameters: deterministic and checked by aws-lc-rs.
    let pure = eddsa(EddsaSignatureScheme::Pure);
    let sig = t.sign(&pure, privk, &msg).expect("C_Sign EDDSA");
    assert_eq!(sig.len(), 64);
    assert_eq!(
        t.sign(&pure, privk, &msg).unwrap(),
        sig,
        "Ed25519 is deterministic"
    );
    t.verify(&pure, pubk, &msg, &sig).expect("C_Verify EDDSA");
    UnparsedPublicKey::new(&signature::ED25519, &point)
        .verify(&msg, &sig)
        .expect("aws-lc-rs verifies the Ed25519 signature");
    let mut bad = sig.clone();
    bad[63] ^= 0x40;
    fails(
        t.verify(&pure, pubk, &msg, &bad),
        RvError::SignatureInvalid,
        "bad Ed25519 signature",
    );
    fails(
        t.verify(&pure, pubk, &msg[1..], &sig),
        RvError::SignatureInvalid,
        "other message",
    );
    // CK_EDDSA_PARAMS with phFlag false and no context is plain Ed25519.
    assert_eq!(t.sign(&eddsa_raw(false, None), privk, &msg).unwrap(), sig);
    t.verify(&eddsa_raw(false, None), pubk, &msg, &sig)
        .expect("C_Verify EDDSA, explicit params");

    // Ed25519ctx and Ed25519ph: each scheme verifies only its own signatures.
    let ctx = b"custos context";
    let schemes = [
        ("Ed25519ctx", eddsa(EddsaSignatureScheme::Ed25519ctx(ctx))),
        ("Ed25519ph", eddsa(EddsaSignatureScheme::Ed25519ph(&[]))),
        (
            "Ed25519ph with context",
            eddsa(EddsaSignatureScheme::Ed25519ph(ctx)),
        ),
        (
            "Ed25519ctx, other context",
            eddsa(EddsaSignatureScheme::Ed25519ctx(b"other")),
        ),
    ];
    let sigs: Vec<Vec<u8>> = schemes
        .iter()
        .map(|(name, m)| {
            t.sign(m, privk, &msg)
                .unwrap_or_else(|e| panic!("C_Sign {name}: {e:?}"))
        })
        .collect();
    for (i, (name, m)) in schemes.iter().enumerate() {
        assert_ne!(sigs[i], sig, "{name} differs from pure Ed25519");
        t.verify(m, pubk, &msg, &sigs[i])
            .unwrap_or_else(|e| panic!("C_Verify {name}: {e:?}"));
        fails(
            t.verify(&pure, pubk, &msg, &sigs[i]),
            RvError::SignatureInvalid,
            &format!("{name} under pure"),
        );
        for (j, (other, _)) in schemes.iter().enumerate() {
            if i != j {
                fails(
                    t.verify(m, pubk, &msg, &sigs[j]),
                    RvError::SignatureInvalid,
                    &format!("{other} under {name}"),
                );
            }
        }
    }
    assert_eq!(
        t.sign(&eddsa_raw(false, Some(ctx)), privk, &msg).unwrap(),
        sigs[0]
    );
    assert_eq!(
        t.sign(&eddsa_raw(true, None), privk, &msg).unwrap(),
        sigs[1],
        "phFlag without context"
    );
    assert_eq!(
        t.sign(&eddsa_raw(true, Some(&[])), privk, &msg).unwrap(),
        sigs[1]
    );

    // RFC 8032's Ed25519ctx (7.2, context "foo") and Ed25519ph (7.3) test vectors.
    let rfc_key = |secret: &str, public: &str| {
        let private = t.create(&[
            Attribute::Class(ObjectClass::PRIVATE_KEY),
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::Token(false),
            Attribute::EcParams(ED25519.to_vec()),
            Attribute::Value(hex(secret)),
            Attribute::Sign(true),
        ]);
        let public = t.create(&[
            Attribute::Class(ObjectClass::PUBLIC_KEY),
            Attribute::KeyType(KeyType::EC_EDWARDS),
            Attribute::Token(false),
            Attribute::EcParams(ED25519.to_vec()),
            Attribute::EcPoint(der(0x04, &hex(public))),
            Attribute::Verify(true),
        ]);
        (public, private)
    };
    let (p, k) = rfc_key(
        "0305334e381af78f141cb666f6199f57bc3495335a256a95bd2a55bf546663f6",
        "dfc9425e4f968f7f0c29f0259cf5f9aed6851c2bb4ad8bfb860cfee0ab248292",
    );
    let m_ctx = eddsa(EddsaSignatureScheme::Ed25519ctx(b"foo"));
    let rfc_msg = hex("f726936d19c800494e3fdaff20b276a8");
    let want = hex(
        "55a4cc2f70a54e04288c5f4cd1e45a7bb520b36292911876cada7323198dd87a\
         8b36950b95130022907a7fb7c4e9b2d5f6cca685a587b4b21f4b888e4e7edb0d",
    );
    assert_eq!(
        t.sign(&m_ctx, k, &rfc_msg).expect("Ed25519ctx"),
        want,
        "RFC 8032 7.2"
    );
    t.verify(&m_ctx, p, &rfc_msg, &want)
        .expect("Ed25519ctx RFC vector verifies");
    let (p, k) = rfc_key(
        "833fe62409237b9d62ec77587520911e9a759cec1d19755b7da901b96dca3d42",
        "ec172b93ad5e563bf4932c70e1245034c35467ef2efd4d64ebf819683467e2bf",
    );
    let m_ph = eddsa(EddsaSignatureScheme::Ed25519ph(&[]));
    let want = hex(
        "98a70222f0b8121aa9d30f813d683f809e462b469c7ff87639499bb94e6dae41\
         31f85042463c2a355a2003d062adf5aaa10b8c61e636062aaad11c2a26083406",
    );
    assert_eq!(
        t.sign(&m_ph, k, b"abc").expect("Ed25519ph"),
        want,
        "RFC 8032 7.3"
    );
    t.verify(&m_ph, p, b"abc", &want)
        .expect("Ed25519ph RFC vector verifies");

    // Key type and usage.
    let (ec_pub, ec_priv) = t.ec_pair(P256, &[Attribute::Verify(true)], &[Attribute::Sign(true)]);
    let (np_pub, np_priv) = t.ed_pair(&[Attribute::Verify(false)], &[Attribute::Sign(false)]);
    for (name, mech) in [
        ("pure", &pure),
        ("ctx", &schemes[0].1),
        ("ph", &schemes[1].1),
    ] {
        fails(
            t.sign(mech, ec_priv, &msg),
            RvError::KeyTypeInconsistent,
            &format!("EDDSA {name}: P-256 key"),
        );
        fails(
            t.verify(mech, ec_pub, &msg, &sig),
            RvError::KeyTypeInconsistent,
            &format!("EDDSA {name}: P-256 key"),
        );
        fails(
            t.sign(mech, np_priv, &msg),
            RvError::KeyFunctionNotPermitted,
            &format!("EDDSA {name}: CKA_SIGN false"),
        );
        fails(
            t.verify(mech, np_pub, &msg, &sig),
            RvError::KeyFunctionNotPermitted,
            &format!("EDDSA {name}: CKA_VERIFY false"),
        );
    }

    // X25519: CKK_EC_MONTGOMERY keys, ECDH both ways, against aws-lc-rs.
    let x_pair = |private: &[Attribute]| {
        let mut p = vec![Attribute::Token(false), Attribute::Derive(true)];
        p.extend_from_slice(private);
        t.pair(
            Mechanism::EccMontgomeryKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::EcParams(X25519.to_vec()),
            ],
            &p,
        )
        .expect("C_GenerateKeyPair X25519")
    };
    let (xa_pub, xa_priv) = x_pair(&open_private());
    let (xb_pub, xb_priv) = x_pair(&[]);
    for k in [xa_pub, xa_priv, xb_pub, xb_priv] {
        assert_eq!(
            t.key_type(k),
            KeyType::EC_MONTGOMERY,
            "X25519 keys are CKK_EC_MONTGOMERY"
        );
        assert_eq!(t.key_gen_mechanism(k), CKM_EC_MONTGOMERY_KEY_PAIR_GEN);
    }
    let (pa, pb) = (t.point(xa_pub), t.point(xb_pub));
    assert_eq!((pa.len(), pb.len()), (32, 32));
    let scalar = t.value(xa_priv);
    let aws = agreement::PrivateKey::from_private_key(&agreement::X25519, &scalar).unwrap();
    assert_eq!(
        aws.compute_public_key().unwrap().as_ref(),
        pa.as_slice(),
        "the public key matches the scalar"
    );
    let z = reference_ecdh(&agreement::X25519, &scalar, &pb);
    let ka = t
        .derive(
            &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &pb),
            xa_priv,
            &open_generic(None),
        )
        .expect("X25519 ECDH");
    let a_der = t.bytes(xa_pub, AttributeType::EcPoint);
    let kb = t
        .derive(
            &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &a_der),
            xb_priv,
            &open_generic(None),
        )
        .expect("X25519 ECDH");
    assert_eq!(t.value(ka), z, "X25519 against aws-lc-rs");
    assert_eq!(t.value(kb), z, "X25519 both ways");
    let ka = t
        .derive(
            &ecdh(CKM_ECDH1_DERIVE, CKD_SHA256_KDF, b"x", &pb),
            xa_priv,
            &open_generic(Some(20)),
        )
        .unwrap();
    let kb = t
        .derive(
            &ecdh(CKM_ECDH1_DERIVE, CKD_SHA256_KDF, b"x", &pa),
            xb_priv,
            &open_generic(Some(20)),
        )
        .unwrap();
    assert_eq!(t.value(ka), x963(&digest::SHA256, &z, b"x", 20));
    assert_eq!(t.value(kb), t.value(ka));
    let (_, ed_derive) = t.ed_pair(&[], &[Attribute::Derive(true)]);
    fails(
        t.derive(
            &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &pb),
            ed_derive,
            &open_generic(None),
        ),
        RvError::KeyTypeInconsistent,
        "ECDH with an Ed25519 key",
    );
    fails(
        t.sign(&pure, xa_priv, &msg),
        RvError::KeyTypeInconsistent,
        "EDDSA with an X25519 key",
    );
    let (_, x_no_derive) = t
        .pair(
            Mechanism::EccMontgomeryKeyPairGen,
            &[
                Attribute::Token(false),
                Attribute::EcParams(X25519.to_vec()),
            ],
            &[Attribute::Token(false)],
        )
        .unwrap();
    fails(
        t.derive(
            &ecdh(CKM_ECDH1_DERIVE, CKD_NULL, &[], &pb),
            x_no_derive,
            &open_generic(None),
        ),
        RvError::KeyFunctionNotPermitted,
        "X25519 ECDH with CKA_DERIVE false",
    );
}

// ----- AES ---------------------------------------------------------------------------------------

/// AES keys of the three lengths, with known values.
fn aes_keys() -> [Vec<u8>; 3] {
    [pattern(16, 0x11), pattern(24, 0x22), pattern(32, 0x33)]
}

const IV: [u8; 16] = [
    0xf0, 0xe1, 0xd2, 0xc3, 0xb4, 0xa5, 0x96, 0x87, 0x78, 0x69, 0x5a, 0x4b, 0x3c, 0x2d, 0x1e, 0x0f,
];

/// Checks that multi-part encryption and decryption, cut every way in [`SPLITS`], equal the
/// single-part results.
#[track_caller]
fn same_in_parts(t: &Tk, mech: &Mech, key: ObjectHandle, plain: &[u8], cipher: &[u8], what: &str) {
    for sizes in SPLITS {
        let c = t
            .encrypt_parts(mech, key, &split(plain, sizes))
            .unwrap_or_else(|e| panic!("{what}: multi-part encrypt {sizes:?}: {e:?}"));
        assert_eq!(
            c, cipher,
            "{what}: multi-part encryption {sizes:?} == single-part"
        );
        let p = t
            .decrypt_parts(mech, key, &split(cipher, sizes))
            .unwrap_or_else(|e| panic!("{what}: multi-part decrypt {sizes:?}: {e:?}"));
        assert_eq!(
            p, plain,
            "{what}: multi-part decryption {sizes:?} == single-part"
        );
    }
}

#[test]
fn aes_key_generation() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let gen: Mech = Mechanism::AesKeyGen.into();
    for len in [16u64, 24, 32] {
        let k = t
            .generate(&gen, &open_secret(KeyType::AES, Some(len)))
            .expect("C_GenerateKey AES");
        assert_eq!(t.value(k).len() as u64, len);
        assert_eq!(t.ulong(k, AttributeType::ValueLen), len);
        assert_eq!(t.key_type(k), KeyType::AES);
        assert!(t.flag(k, AttributeType::Local));
        assert_eq!(t.key_gen_mechanism(k), CKM_AES_KEY_GEN);
        assert!(
            !t.flag(k, AttributeType::AlwaysSensitive),
            "generated non-sensitive"
        );
        assert!(
            !t.flag(k, AttributeType::NeverExtractable),
            "generated extractable"
        );
        let c = t.encrypt(&Mechanism::AesEcb.into(), k, &[0u8; 16]).unwrap();
        assert_eq!(
            c,
            ref_ecb(&t.value(k), &[0u8; 16]),
            "the generated value is the key"
        );
    }
    let k = t
        .generate(
            &gen,
            &[Attribute::Token(false), Attribute::ValueLen(32.into())],
        )
        .expect("a default AES key");
    assert!(t.flag(k, AttributeType::Sensitive) && t.flag(k, AttributeType::AlwaysSensitive));
    assert!(!t.flag(k, AttributeType::Extractable) && t.flag(k, AttributeType::NeverExtractable));
    fails(
        t.generate(&gen, &open_secret(KeyType::AES, Some(20))),
        RvError::KeySizeRange,
        "a 20-byte AES key",
    );
    fails(
        t.generate(&gen, &open_secret(KeyType::AES, None)),
        RvError::TemplateIncomplete,
        "no CKA_VALUE_LEN",
    );
    fails(
        t.generate(&gen, &open_secret(KeyType::GENERIC_SECRET, Some(16))),
        RvError::TemplateInconsistent,
        "AES_KEY_GEN of a generic secret",
    );
}

#[test]
fn aes_ecb_cbc_and_cbc_pad() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let data = pattern(64, 0x5c);
    let odd = pattern(61, 0x3a);
    for kv in aes_keys() {
        let key = t.aes(&kv, &[]);
        let n = kv.len();

        let ecb: Mech = Mechanism::AesEcb.into();
        let c = t.encrypt(&ecb, key, &data).expect("C_Encrypt AES_ECB");
        assert_eq!(c, ref_ecb(&kv, &data), "AES-{n} ECB against aws-lc-rs");
        assert_eq!(t.decrypt(&ecb, key, &c).unwrap(), data);
        same_in_parts(&t, &ecb, key, &data, &c, "ECB");
        fails(
            t.encrypt(&ecb, key, &data[..63]),
            RvError::DataLenRange,
            "ECB of 63 bytes",
        );

        let cbc: Mech = Mechanism::AesCbc(IV).into();
        let c = t.encrypt(&cbc, key, &data).expect("C_Encrypt AES_CBC");
        assert_eq!(c, ref_cbc(&kv, IV, &data), "AES-{n} CBC against aws-lc-rs");
        assert_eq!(t.decrypt(&cbc, key, &c).unwrap(), data);
        same_in_parts(&t, &cbc, key, &data, &c, "CBC");
        fails(
            t.encrypt(&cbc, key, &data[..17]),
            RvError::DataLenRange,
            "CBC of 17 bytes",
        );

        let pad: Mech = Mechanism::AesCbcPad(IV).into();
        for plain in [&odd[..], &data[..], &[][..]] {
            let c = t.encrypt(&pad, key, plain).expect("C_Encrypt AES_CBC_PAD");
            assert_eq!(
                c,
                ref_cbc_pad(&kv, IV, plain),
                "AES-{n} CBC-PAD of {} bytes",
                plain.len()
            );
            assert_eq!(t.decrypt(&pad, key, &c).unwrap(), plain);
            if !plain.is_empty() {
                same_in_parts(&t, &pad, key, plain, &c, "CBC_PAD");
            }
        }
    }
}

#[test]
fn aes_ctr() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let data = pattern(100, 0x71);
    // A 128-bit counter two blocks from carrying into its upper bytes.
    let mut cb = [0xffu8; 16];
    cb[..4].copy_from_slice(&[1, 2, 3, 4]);
    cb[15] = 0xfe;
    for kv in aes_keys() {
        let key = t.aes(&kv, &[]);
        let mech = ctr(128, cb);
        let c = t.encrypt(&mech, key, &data).expect("C_Encrypt AES_CTR");
        assert_eq!(
            c,
            ref_ctr(&kv, cb, &data),
            "AES-{} CTR against aws-lc-rs",
            kv.len()
        );
        assert_eq!(t.decrypt(&mech, key, &c).unwrap(), data);
        same_in_parts(&t, &mech, key, &data, &c, "CTR");
    }
    // An 8-bit counter starting at 0 covers 256 blocks and no more.
    let kv = &aes_keys()[0];
    let key = t.aes(kv, &[]);
    let mut cb = [0x42u8; 16];
    cb[15] = 0;
    let mech = ctr(8, cb);
    let full = pattern(256 * 16, 0x19);
    let c = t
        .encrypt(&mech, key, &full)
        .expect("256 blocks under an 8-bit counter");
    assert_eq!(
        c,
        ref_ctr(kv, cb, &full),
        "an 8-bit counter that does not wrap"
    );
    let over = pattern(256 * 16 + 1, 0x19);
    fails(
        t.encrypt(&mech, key, &over),
        RvError::DataLenRange,
        "257 blocks under an 8-bit counter",
    );
    fails(
        t.decrypt(&mech, key, &over),
        RvError::DataLenRange,
        "257 blocks under an 8-bit counter, decrypt",
    );
    fails(
        t.encrypt_parts(&mech, key, &[&full[..4000], &full[4000..], &[0u8; 16]]),
        RvError::DataLenRange,
        "a multi-part 257th block under an 8-bit counter",
    );
    for bits in [0, 129] {
        fails(
            t.encrypt(&ctr(bits, cb), key, &data),
            RvError::MechanismParamInvalid,
            &format!("ulCounterBits {bits}"),
        );
    }
}

#[test]
fn aes_gcm() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let aad = b"header";
    let plain = b"GCM with a one-byte IV, forty bytes.....";
    assert_eq!(plain.len(), 40);

    // A 12-byte IV, against aws-lc-rs, with 128- and 96-bit tags.
    for kv in [pattern(16, 1), pattern(32, 2)] {
        let key = t.aes(&kv, &[]);
        let iv: [u8; 12] = std::array::from_fn(|i| 100 + i as u8);
        let alg = if kv.len() == 16 {
            &aead::AES_128_GCM
        } else {
            &aead::AES_256_GCM
        };
        let aws = aead::LessSafeKey::new(aead::UnboundKey::new(alg, &kv).unwrap());
        let mut want = plain.to_vec();
        aws.seal_in_place_append_tag(
            aead::Nonce::assume_unique_for_key(iv),
            aead::Aad::from(aad),
            &mut want,
        )
        .unwrap();
        let mut iv_buf = iv;
        let typed: Mech =
            Mechanism::AesGcm(GcmParams::new(&mut iv_buf, aad, 128.into()).unwrap()).into();
        let c = t.encrypt(&typed, key, plain).expect("C_Encrypt AES_GCM");
        assert_eq!(c, want, "AES-{} GCM against aws-lc-rs", kv.len());
        assert_eq!(t.decrypt(&typed, key, &c).unwrap(), plain);
        same_in_parts(&t, &typed, key, plain, &c, "GCM, 12-byte IV");
        let short = gcm(&iv, aad, 96);
        let c96 = t
            .encrypt(&short, key, plain)
            .expect("GCM with a 96-bit tag");
        assert_eq!(
            c96,
            want[..40 + 12],
            "a 96-bit tag is the first 12 bytes of the full tag"
        );
        assert_eq!(t.decrypt(&short, key, &c96).unwrap(), plain);
        same_in_parts(&t, &short, key, plain, &c96, "GCM, 96-bit tag");
    }

    // A 1-byte IV (GHASH-derived counter block), checked against a known answer.
    let key = t.aes(&(0..16).collect::<Vec<u8>>(), &[]);
    let want = hex(
        "69931f154f2a5192874f924e9f4a8303e0b7a2b55c61dae867a578b96a208a40\
         b61ebfc9bd660ef0b3f11f19d7de0334c491fe36ad4f5b8b",
    );
    for (bits, tag) in [(128u64, 16usize), (96, 12)] {
        let mech = gcm(&[0x5a], aad, bits);
        let c = t.encrypt(&mech, key, plain).expect("GCM with a 1-byte IV");
        assert_eq!(c, want[..40 + tag], "GCM, 1-byte IV, {bits}-bit tag");
        assert_eq!(t.decrypt(&mech, key, &c).unwrap(), plain);
        same_in_parts(&t, &mech, key, plain, &c, "GCM, 1-byte IV");
        for i in [0, 39, 40 + tag - 1] {
            let mut bad = c.clone();
            bad[i] ^= 1;
            for r in [
                t.decrypt(&mech, key, &bad),
                t.decrypt_parts(&mech, key, &split(&bad, &[7])),
            ] {
                match r {
                    Err(RvError::EncryptedDataInvalid) => {}
                    Err(RvError::UnknownErrorCode(CKR_AEAD_DECRYPT_FAILED)) => {}
                    other => panic!(
                        "GCM with byte {i} altered: expected a failed tag check, got {other:?}"
                    ),
                }
            }
        }
    }
    fails(
        t.encrypt(&gcm(&[], aad, 128), key, plain),
        RvError::MechanismParamInvalid,
        "GCM without an IV",
    );
    fails(
        t.encrypt(&gcm(&[1; 12], aad, 100), key, plain),
        RvError::MechanismParamInvalid,
        "a 100-bit GCM tag",
    );
}

#[test]
fn aes_ccm() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    // NIST SP 800-38C, appendix C, examples 1 and 2.
    let key = t.aes(&hex("404142434445464748494a4b4c4d4e4f"), &[]);
    for (nonce, aad, plain, mac, want) in [
        (
            "10111213141516",
            "0001020304050607",
            "20212223",
            4u64,
            "7162015b4dac255d",
        ),
        (
            "1011121314151617",
            "000102030405060708090a0b0c0d0e0f",
            "202122232425262728292a2b2c2d2e2f",
            6,
            "d2a1f0e051ea5f62081a7792073d593d1fc64fbfaccd",
        ),
    ] {
        let (nonce, aad, plain, want) = (hex(nonce), hex(aad), hex(plain), hex(want));
        let mech = ccm(plain.len(), &nonce, &aad, mac);
        let c = t.encrypt(&mech, key, &plain).expect("C_Encrypt AES_CCM");
        assert_eq!(c, want, "SP 800-38C example with a {mac}-byte MAC");
        assert_eq!(t.decrypt(&mech, key, &c).expect("C_Decrypt AES_CCM"), plain);
        same_in_parts(&t, &mech, key, &plain, &c, "CCM");
        let mut bad = c.clone();
        bad[0] ^= 0x80;
        match t.decrypt(&mech, key, &bad) {
            Err(RvError::EncryptedDataInvalid) => {}
            Err(RvError::UnknownErrorCode(CKR_AEAD_DECRYPT_FAILED)) => {}
            other => {
                panic!("CCM with an altered ciphertext: expected a failed MAC check, got {other:?}")
            }
        }
    }
    let plain = pattern(50, 1);
    for kv in aes_keys() {
        let key = t.aes(&kv, &[]);
        let mech = ccm(plain.len(), &[7u8; 13], b"aad", 16);
        let c = t
            .encrypt(&mech, key, &plain)
            .expect("CCM with a 13-byte nonce");
        assert_eq!(c.len(), 66);
        assert_eq!(t.decrypt(&mech, key, &c).unwrap(), plain);
        same_in_parts(&t, &mech, key, &plain, &c, "CCM");
    }
    fails(
        t.encrypt(&ccm(4, &[1u8; 6], &[], 8), key, &[0u8; 4]),
        RvError::MechanismParamInvalid,
        "a 6-byte CCM nonce",
    );
}

#[test]
fn aes_cts() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    // RFC 3962, appendix B: AES-128 CTS ("chicken teriyaki", zero IV), given there in the CBC-CS3
    // order and reordered to the CBC-CS1 the module (like NSS) produces.
    let key = t.aes(b"chicken teriyaki", &[]);
    let input = b"I would like the General Gau's Chicken, please, and wonton soup.";
    let mech = RawMech::bytes(CKM_AES_CTS, &[0u8; 16]).into();
    for (n, want) in [
        (17, "c6353568f2bf8cb4d8a580362da7ff7f97"),
        (31, "fc00783e0efdb2c1d445d4c8eff7ed2297687268d6ecccc0c07b25e25ecfe5"),
        (32, "39312523a78662d5be7fcbcc98ebf5a897687268d6ecccc0c07b25e25ecfe584"),
        (47, "97687268d6ecccc0c07b25e25ecfe584b3fffd940c16a18c1b5549d2f838029e39312523a78662d5be7fcbcc98ebf5"),
        (48, "97687268d6ecccc0c07b25e25ecfe5849dad8bbb96c4cdc03bc103e1a194bbd839312523a78662d5be7fcbcc98ebf5a8"),
        (
            64,
            "97687268d6ecccc0c07b25e25ecfe58439312523a78662d5be7fcbcc98ebf5a8\
             4807efe836ee89a526730dbc2f7bc8409dad8bbb96c4cdc03bc103e1a194bbd8",
        ),
    ] {
        let c = t.encrypt(&mech, key, &input[..n]).unwrap_or_else(|e| panic!("C_Encrypt AES_CTS {n}: {e:?}"));
        let want = cs3_to_cs1(&hex(want));
        assert_eq!(ref_cts(b"chicken teriyaki", [0; 16], &input[..n]), want, "the reference itself, {n} bytes");
        assert_eq!(c, want, "RFC 3962 vector of {n} bytes, in CS1 order");
        assert_eq!(t.decrypt(&mech, key, &c).unwrap(), &input[..n]);
        same_in_parts(&t, &mech, key, &input[..n], &c, "CTS");
    }
    // Other keys and lengths against CBC-CS1 built on aws-lc-rs's CBC.
    for kv in aes_keys() {
        let key = t.aes(&kv, &[]);
        let mech = RawMech::bytes(CKM_AES_CTS, &IV).into();
        for n in [16, 20, 33, 100] {
            let plain = pattern(n, n as u8);
            let c = t.encrypt(&mech, key, &plain).expect("C_Encrypt AES_CTS");
            assert_eq!(
                c,
                ref_cts(&kv, IV, &plain),
                "AES-{} CTS of {n} bytes",
                kv.len()
            );
            assert_eq!(t.decrypt(&mech, key, &c).unwrap(), plain);
            same_in_parts(&t, &mech, key, &plain, &c, "CTS");
        }
        fails(
            t.encrypt(&mech, key, &[1u8; 15]),
            RvError::DataLenRange,
            "CTS of less than a block",
        );
    }
}

#[test]
fn aes_key_checks_for_every_cipher_mechanism() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let generic = t.generic(
        &[1u8; 32],
        &[Attribute::Encrypt(true), Attribute::Decrypt(true)],
    );
    let (ec_pub, _) = t.ec_pair(P256, &[], &[]);
    let no_encrypt = t.aes(&[2u8; 32], &[Attribute::Encrypt(false)]);
    let no_decrypt = t.aes(&[2u8; 32], &[Attribute::Decrypt(false)]);
    let mechs: Vec<(&str, Mech)> = vec![
        ("AES_ECB", Mechanism::AesEcb.into()),
        ("AES_CBC", Mechanism::AesCbc(IV).into()),
        ("AES_CBC_PAD", Mechanism::AesCbcPad(IV).into()),
        ("AES_CTR", ctr(128, IV)),
        ("AES_GCM", gcm(&[1; 12], b"", 128)),
        ("AES_CCM", ccm(32, &[1; 12], b"", 16)),
        ("AES_CTS", RawMech::bytes(CKM_AES_CTS, &IV).into()),
        ("AES_KEY_WRAP", Mechanism::AesKeyWrap.into()),
        ("AES_KEY_WRAP_KWP", raw(CKM_AES_KEY_WRAP_KWP)),
    ];
    let data = [0u8; 32];
    for (name, mech) in &mechs {
        fails(
            t.encrypt(mech, generic, &data),
            RvError::KeyTypeInconsistent,
            &format!("{name}: generic secret"),
        );
        fails(
            t.decrypt(mech, generic, &data),
            RvError::KeyTypeInconsistent,
            &format!("{name}: generic secret"),
        );
        fails(
            t.encrypt(mech, ec_pub, &data),
            RvError::KeyTypeInconsistent,
            &format!("{name}: EC key"),
        );
        fails(
            t.encrypt(mech, no_encrypt, &data),
            RvError::KeyFunctionNotPermitted,
            &format!("{name}: CKA_ENCRYPT false"),
        );
        fails(
            t.decrypt(mech, no_decrypt, &data),
            RvError::KeyFunctionNotPermitted,
            &format!("{name}: CKA_DECRYPT false"),
        );
    }
}

#[test]
fn aes_cmac() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let sv = [Attribute::Sign(true), Attribute::Verify(true)];
    let cmac: Mech = Mechanism::AesCMac.into();
    let general = RawMech::ulong(CKM_AES_CMAC_GENERAL, 8).into();
    for kv in aes_keys() {
        let key = t.aes(&kv, &sv);
        for n in [0, 16, 40, 64] {
            let msg = pattern(n, 0x4d);
            let mac = t.sign(&cmac, key, &msg).expect("C_Sign AES_CMAC");
            assert_eq!(
                mac,
                ref_cmac(&kv, &msg),
                "AES-{} CMAC of {n} bytes against aws-lc-rs",
                kv.len()
            );
            t.verify(&cmac, key, &msg, &mac).expect("C_Verify AES_CMAC");
            let short = t
                .sign(&general, key, &msg)
                .expect("C_Sign AES_CMAC_GENERAL");
            assert_eq!(short, mac[..8], "CMAC_GENERAL(8) is the first 8 bytes");
            t.verify(&general, key, &msg, &short)
                .expect("C_Verify AES_CMAC_GENERAL");
            if n > 0 {
                for sizes in SPLITS {
                    let parts = split(&msg, sizes);
                    assert_eq!(
                        t.sign_parts(&cmac, key, &parts).unwrap(),
                        mac,
                        "multi-part CMAC {sizes:?}"
                    );
                    assert_eq!(t.sign_parts(&general, key, &parts).unwrap(), short);
                    t.verify_parts(&cmac, key, &parts, &mac)
                        .expect("multi-part CMAC verify");
                }
            }
            let mut bad = mac.clone();
            bad[15] ^= 1;
            fails(
                t.verify(&cmac, key, &msg, &bad),
                RvError::SignatureInvalid,
                "bad CMAC",
            );
            let mut bad = short.clone();
            bad[0] ^= 1;
            fails(
                t.verify(&general, key, &msg, &bad),
                RvError::SignatureInvalid,
                "bad CMAC_GENERAL",
            );
            fails(
                t.verify(&cmac, key, &msg, &mac[..15]),
                RvError::SignatureLenRange,
                "a short CMAC",
            );
        }
    }
    let key = t.aes(&[9u8; 16], &sv);
    fails(
        t.sign(&RawMech::ulong(CKM_AES_CMAC_GENERAL, 17).into(), key, b"x"),
        RvError::MechanismParamInvalid,
        "CMAC_GENERAL(17)",
    );
    let generic = t.generic(&[9u8; 16], &sv);
    let default_aes = t.aes(&[9u8; 16], &[]);
    let no_verify = t.aes(
        &[9u8; 16],
        &[Attribute::Sign(true), Attribute::Verify(false)],
    );
    for (name, mech) in [("AES_CMAC", &cmac), ("AES_CMAC_GENERAL", &general)] {
        fails(
            t.sign(mech, generic, b"x"),
            RvError::KeyTypeInconsistent,
            &format!("{name}: generic secret"),
        );
        fails(
            t.verify(mech, generic, b"x", &[0; 8]),
            RvError::KeyTypeInconsistent,
            &format!("{name}: generic secret"),
        );
        fails(
            t.sign(mech, default_aes, b"x"),
            RvError::KeyFunctionNotPermitted,
            &format!("{name}: CKA_SIGN false"),
        );
        fails(
            t.verify(mech, no_verify, b"x", &[0; 8]),
            RvError::KeyFunctionNotPermitted,
            &format!("{name}: CKA_VERIFY false"),
        );
    }
}

#[test]
fn aes_key_wrap_encryption() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let kw: Mech = Mechanism::AesKeyWrap.into();
    let kwp = raw(CKM_AES_KEY_WRAP_KWP);
    // cryptoki's AesKeyWrapPad is the vendor number 0x210A, which the module takes as KWP.
    let kwp_legacy: Mech = Mechanism::AesKeyWrapPad.into();
    assert_eq!(
        CK_MECHANISM::from(&Mechanism::AesKeyWrapPad).mechanism,
        CKM_AES_KEY_WRAP_KWP_LEGACY
    );

    // RFC 3394 4.1: a 128-bit key under a 128-bit KEK.
    let kek = t.aes(&hex("000102030405060708090A0B0C0D0E0F"), &[]);
    let key_data = hex("00112233445566778899AABBCCDDEEFF");
    let want = hex("1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5");
    assert_eq!(
        t.encrypt(&kw, kek, &key_data)
            .expect("C_Encrypt AES_KEY_WRAP"),
        want,
        "RFC 3394 4.1"
    );
    assert_eq!(
        t.decrypt(&kw, kek, &want).expect("C_Decrypt AES_KEY_WRAP"),
        key_data
    );
    fails(
        t.encrypt(&kw, kek, &[1u8; 20]),
        RvError::DataLenRange,
        "KW of 20 bytes",
    );
    let mut bad = want.clone();
    bad[3] ^= 1;
    fails(
        t.decrypt(&kw, kek, &bad),
        RvError::EncryptedDataInvalid,
        "KW integrity check",
    );

    // RFC 5649 section 6: a 20-byte and a 7-byte key under a 192-bit KEK.
    let kek = t.aes(
        &hex("5840df6e29b02af1ab493b705bf16ea1ae8338f4dcc176a8"),
        &[],
    );
    for (plain, want) in [
        (
            "c37b7e6492584340bed12207808941155068f738",
            "138bdeaa9b8fa7fc61f97742e72248ee5ae6ae5360d1ae6a5f54f373fa543b6a",
        ),
        ("466f7250617369", "afbeb0f07dfbf5419200f2ccb50bb24f"),
    ] {
        let (plain, want) = (hex(plain), hex(want));
        for (name, mech) in [("AES_KEY_WRAP_KWP", &kwp), ("0x210A", &kwp_legacy)] {
            assert_eq!(
                t.encrypt(mech, kek, &plain)
                    .unwrap_or_else(|e| panic!("C_Encrypt {name}: {e:?}")),
                want,
                "{name}: RFC 5649"
            );
            assert_eq!(
                t.decrypt(mech, kek, &want)
                    .unwrap_or_else(|e| panic!("C_Decrypt {name}: {e:?}")),
                plain
            );
        }
        let mut bad = want.clone();
        bad[0] ^= 1;
        fails(
            t.decrypt(&kwp, kek, &bad),
            RvError::EncryptedDataInvalid,
            "KWP integrity check",
        );
    }

    // Other data against aws-lc-rs (128- and 256-bit KEKs).
    for kv in [pattern(16, 5), pattern(32, 6)] {
        let kek = t.aes(&kv, &[]);
        let data = pattern(40, 9);
        let mut out = vec![0u8; 64];
        let want = if kv.len() == 16 {
            key_wrap::KeyEncryptionKey::new(&key_wrap::AES_128, &kv)
                .unwrap()
                .wrap(&data, &mut out)
                .unwrap()
                .to_vec()
        } else {
            key_wrap::KeyEncryptionKey::new(&key_wrap::AES_256, &kv)
                .unwrap()
                .wrap(&data, &mut out)
                .unwrap()
                .to_vec()
        };
        assert_eq!(
            t.encrypt(&kw, kek, &data).unwrap(),
            want,
            "AES-{} KW against aws-lc-rs",
            kv.len()
        );
        let data = pattern(23, 9);
        let mut out = vec![0u8; 64];
        let want = if kv.len() == 16 {
            key_wrap::KeyEncryptionKey::new(&key_wrap::AES_128, &kv)
                .unwrap()
                .wrap_with_padding(&data, &mut out)
                .unwrap()
                .to_vec()
        } else {
            key_wrap::KeyEncryptionKey::new(&key_wrap::AES_256, &kv)
                .unwrap()
                .wrap_with_padding(&data, &mut out)
                .unwrap()
                .to_vec()
        };
        assert_eq!(
            t.encrypt(&kwp, kek, &data).unwrap(),
            want,
            "AES-{} KWP against aws-lc-rs",
            kv.len()
        );
    }
}

#[test]
fn aes_encrypt_data_derivation() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let data = pattern(32, 0x6e);
    for kv in aes_keys() {
        let base = t.aes(&kv, &[Attribute::Derive(true)]);
        // The derived key equals encrypting the data with the base key, through the module.
        let k = t
            .derive(
                &string_data(CKM_AES_ECB_ENCRYPT_DATA, &data),
                base,
                &open_secret(KeyType::AES, None),
            )
            .expect("C_DeriveKey AES_ECB_ENCRYPT_DATA");
        assert_eq!(
            t.value(k),
            t.encrypt(&Mechanism::AesEcb.into(), base, &data).unwrap()
        );
        assert_eq!(t.value(k), ref_ecb(&kv, &data));
        assert_eq!(t.key_type(k), KeyType::AES);
        let mech: Mech = Mechanism::AesCbcEncryptData(AesCbcDeriveParams::new(IV, &data)).into();
        let k = t
            .derive(&mech, base, &open_secret(KeyType::AES, None))
            .expect("C_DeriveKey AES_CBC_ENCRYPT_DATA");
        assert_eq!(
            t.value(k),
            t.encrypt(&Mechanism::AesCbc(IV).into(), base, &data)
                .unwrap()
        );
        assert_eq!(t.value(k), ref_cbc(&kv, IV, &data));
        // A shorter derived key takes the first bytes.
        let k = t
            .derive(&mech, base, &open_generic(Some(20)))
            .expect("a 20-byte derived secret");
        assert_eq!(t.value(k), ref_cbc(&kv, IV, &data)[..20]);
    }
    let base = t.aes(&[1u8; 16], &[Attribute::Derive(true)]);
    fails(
        t.derive(
            &string_data(CKM_AES_ECB_ENCRYPT_DATA, &data[..20]),
            base,
            &open_generic(None),
        ),
        RvError::MechanismParamInvalid,
        "AES_ECB_ENCRYPT_DATA of 20 bytes",
    );
    let generic = t.generic(&[1u8; 16], &[Attribute::Derive(true)]);
    let no_derive = t.aes(&[1u8; 16], &[]);
    let mechs: [(&str, Mech); 2] = [
        (
            "AES_ECB_ENCRYPT_DATA",
            string_data(CKM_AES_ECB_ENCRYPT_DATA, &data),
        ),
        (
            "AES_CBC_ENCRYPT_DATA",
            Mechanism::AesCbcEncryptData(AesCbcDeriveParams::new(IV, &data)).into(),
        ),
    ];
    for (name, mech) in &mechs {
        fails(
            t.derive(mech, generic, &open_generic(None)),
            RvError::KeyTypeInconsistent,
            &format!("{name}: generic base"),
        );
        fails(
            t.derive(mech, no_derive, &open_generic(None)),
            RvError::KeyFunctionNotPermitted,
            &format!("{name}: CKA_DERIVE false"),
        );
    }
}

// ----- HMAC --------------------------------------------------------------------------------------

/// `CKM_<hash>_HMAC`, `CKM_<hash>_HMAC_GENERAL` and the hash.
const HMACS: &[(CK_MECHANISM_TYPE, CK_MECHANISM_TYPE, CK_MECHANISM_TYPE)] = &[
    (CKM_SHA_1_HMAC, CKM_SHA_1_HMAC_GENERAL, CKM_SHA_1),
    (CKM_SHA224_HMAC, CKM_SHA224_HMAC_GENERAL, CKM_SHA224),
    (CKM_SHA256_HMAC, CKM_SHA256_HMAC_GENERAL, CKM_SHA256),
    (CKM_SHA384_HMAC, CKM_SHA384_HMAC_GENERAL, CKM_SHA384),
    (CKM_SHA512_HMAC, CKM_SHA512_HMAC_GENERAL, CKM_SHA512),
    (CKM_SHA3_224_HMAC, CKM_SHA3_224_HMAC_GENERAL, CKM_SHA3_224),
    (CKM_SHA3_256_HMAC, CKM_SHA3_256_HMAC_GENERAL, CKM_SHA3_256),
    (CKM_SHA3_384_HMAC, CKM_SHA3_384_HMAC_GENERAL, CKM_SHA3_384),
    (CKM_SHA3_512_HMAC, CKM_SHA3_512_HMAC_GENERAL, CKM_SHA3_512),
];

/// The message of the HMAC tests.
const HMAC_MSG: &[u8] = b"HMAC message for the SHA-3 family";

/// HMAC-SHA3 of [`HMAC_MSG`] under the keys 00 01 02 .. of 32 and of 200 bytes (aws-lc-rs has no
/// HMAC-SHA3; computed with Python's `hmac` and `hashlib`).
const HMAC_SHA3_KAT: &[(CK_MECHANISM_TYPE, usize, &str)] = &[
    (CKM_SHA3_224, 32, "317403dbe5a28695a9213b37834eac62e83d8f6f3648044a16a076c9"),
    (CKM_SHA3_256, 32, "078bafc02f6ec5322172c03f3b4abd4f335b184b661858cbaf62d00566008063"),
    (
        CKM_SHA3_384,
        32,
        "33f7e0f761000f5c241063fb41c6cdbeee431387876e1d06057ed9501189f71fe879885126041e340ecb972a898755e3",
    ),
    (
        CKM_SHA3_512,
        32,
        "74366c49a20a7d0b3176f588395a99b840409d48d7ab9cc3309b80a45c03531d\
         01c28930978ab1edb81e5ec20653ffb4ae0750f0782668e574336c6393cb7f83",
    ),
    (CKM_SHA3_224, 200, "1592d7996ea5d489c972c29a45121e9e325f00c7fff681cfef246368"),
    (CKM_SHA3_256, 200, "11630d582c5dad1f71d7da87b56ac9f3bff9f601a5668ce45f35e1143f919ff0"),
    (
        CKM_SHA3_384,
        200,
        "56b3df8dbaa5fd69689a2837de130a41c57a076f7832926da3ec82bcd67eaef1acef55ae2fe3bf05980222a61b0ea240",
    ),
    (
        CKM_SHA3_512,
        200,
        "1889947d96845136a38f3f9401d0320cd11d45683dde60796d0b4e33da5335fc\
         a06f6ce8c4eade5a3a17f9486696944dfca19e6708545e3e6f85c86fe85cabfb",
    ),
];

fn hmac_mech(ty: CK_MECHANISM_TYPE) -> Mech<'static> {
    match ty {
        CKM_SHA_1_HMAC => Mechanism::Sha1Hmac.into(),
        CKM_SHA224_HMAC => Mechanism::Sha224Hmac.into(),
        CKM_SHA256_HMAC => Mechanism::Sha256Hmac.into(),
        CKM_SHA384_HMAC => Mechanism::Sha384Hmac.into(),
        CKM_SHA512_HMAC => Mechanism::Sha512Hmac.into(),
        other => raw(other),
    }
}

fn reference_hmac(hm: CK_MECHANISM_TYPE, key: &[u8], msg: &[u8]) -> Vec<u8> {
    let alg = match hm {
        CKM_SHA_1 => hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY,
        CKM_SHA224 => hmac::HMAC_SHA224,
        CKM_SHA256 => hmac::HMAC_SHA256,
        CKM_SHA384 => hmac::HMAC_SHA384,
        CKM_SHA512 => hmac::HMAC_SHA512,
        _ => {
            assert_eq!(msg, HMAC_MSG, "HMAC-SHA3 known answers are for HMAC_MSG");
            let (_, _, h) = HMAC_SHA3_KAT
                .iter()
                .find(|(m, n, _)| *m == hm && *n == key.len())
                .expect("an HMAC-SHA3 known answer");
            return hex(h);
        }
    };
    ref_hmac(alg, key, msg)
}

#[test]
fn hmac_mechanisms() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };

    // CKM_GENERIC_SECRET_KEY_GEN.
    let gen: Mech = Mechanism::GenericSecretKeyGen.into();
    let k = t
        .generate(&gen, &open_generic(Some(32)))
        .expect("C_GenerateKey GENERIC_SECRET");
    let v = t.value(k);
    assert_eq!(v.len(), 32);
    assert_eq!(t.key_type(k), KeyType::GENERIC_SECRET);
    assert!(t.flag(k, AttributeType::Local));
    assert_eq!(t.key_gen_mechanism(k), CKM_GENERIC_SECRET_KEY_GEN);
    let mac = t
        .sign(&hmac_mech(CKM_SHA256_HMAC), k, HMAC_MSG)
        .expect("HMAC with a generated key");
    assert_eq!(mac, ref_hmac(hmac::HMAC_SHA256, &v, HMAC_MSG));
    let k = t
        .generate(
            &gen,
            &[Attribute::Token(false), Attribute::ValueLen(64.into())],
        )
        .unwrap();
    assert!(
        t.flag(k, AttributeType::AlwaysSensitive) && t.flag(k, AttributeType::NeverExtractable)
    );
    fails(
        t.generate(&gen, &open_generic(None)),
        RvError::TemplateIncomplete,
        "no CKA_VALUE_LEN",
    );
    fails(
        t.generate(&gen, &open_generic(Some(0))),
        RvError::KeySizeRange,
        "an empty generic secret",
    );
    fails(
        t.generate(&gen, &open_generic(Some(513))),
        RvError::KeySizeRange,
        "beyond the table's maximum",
    );
    fails(
        t.generate(&gen, &open_secret(KeyType::AES, Some(16))),
        RvError::TemplateInconsistent,
        "an AES key",
    );

    let keys: Vec<(Vec<u8>, ObjectHandle)> = [32usize, 200]
        .iter()
        .map(|&n| {
            let v: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let k = t.generic(&v, &[]);
            (v, k)
        })
        .collect();
    let aes = t.aes(
        &[4u8; 32],
        &[Attribute::Sign(true), Attribute::Verify(true)],
    );
    let no_sign = t.generic(&[4u8; 32], &[Attribute::Sign(false)]);
    let no_verify = t.generic(&[4u8; 32], &[Attribute::Verify(false)]);
    for &(ty, gty, hm) in HMACS {
        let n = hash(hm).len;
        let mech = hmac_mech(ty);
        let general = RawMech::ulong(gty, 10).into();
        let general_full = RawMech::ulong(gty, n as CK_ULONG).into();
        for (v, key) in &keys {
            let mac = t
                .sign(&mech, *key, HMAC_MSG)
                .unwrap_or_else(|e| panic!("C_Sign {ty:#x}: {e:?}"));
            assert_eq!(mac.len(), n);
            assert_eq!(
                mac,
                reference_hmac(hm, v, HMAC_MSG),
                "{ty:#x} with a {}-byte key",
                v.len()
            );
            t.verify(&mech, *key, HMAC_MSG, &mac)
                .expect("C_Verify HMAC");
            for sizes in SPLITS {
                let parts = split(HMAC_MSG, sizes);
                assert_eq!(
                    t.sign_parts(&mech, *key, &parts).unwrap(),
                    mac,
                    "{ty:#x}: multi-part {sizes:?}"
                );
                t.verify_parts(&mech, *key, &parts, &mac)
                    .expect("multi-part HMAC verify");
            }
            let mut bad = mac.clone();
            bad[n - 1] ^= 1;
            fails(
                t.verify(&mech, *key, HMAC_MSG, &bad),
                RvError::SignatureInvalid,
                "bad HMAC",
            );
            fails(
                t.verify_parts(&mech, *key, &[HMAC_MSG], &bad),
                RvError::SignatureInvalid,
                "bad HMAC, multi-part",
            );
            fails(
                t.verify(&mech, *key, HMAC_MSG, &mac[..n - 1]),
                RvError::SignatureLenRange,
                "a short HMAC",
            );

            let short = t
                .sign(&general, *key, HMAC_MSG)
                .unwrap_or_else(|e| panic!("C_Sign {gty:#x}: {e:?}"));
            assert_eq!(short, mac[..10], "{gty:#x}(10) is the first 10 bytes");
            assert_eq!(
                t.sign_parts(&general, *key, &split(HMAC_MSG, &[3]))
                    .unwrap(),
                short
            );
            t.verify(&general, *key, HMAC_MSG, &short)
                .expect("C_Verify HMAC_GENERAL");
            t.verify_parts(&general, *key, &split(HMAC_MSG, &[3]), &short)
                .expect("multi-part HMAC_GENERAL verify");
            fails(
                t.verify(&general, *key, HMAC_MSG, &mac),
                RvError::SignatureLenRange,
                "a full MAC under GENERAL(10)",
            );
            let mut bad = short.clone();
            bad[0] ^= 1;
            fails(
                t.verify(&general, *key, HMAC_MSG, &bad),
                RvError::SignatureInvalid,
                "bad HMAC_GENERAL",
            );
            assert_eq!(
                t.sign(&general_full, *key, HMAC_MSG).unwrap(),
                mac,
                "{gty:#x} at full length"
            );
        }
        for bad_len in [0, n + 1] {
            fails(
                t.sign(
                    &RawMech::ulong(gty, bad_len as CK_ULONG).into(),
                    keys[0].1,
                    HMAC_MSG,
                ),
                RvError::MechanismParamInvalid,
                &format!("{gty:#x}({bad_len})"),
            );
        }
        for (name, mm) in [("HMAC", &mech), ("HMAC_GENERAL", &general)] {
            fails(
                t.sign(mm, aes, HMAC_MSG),
                RvError::KeyTypeInconsistent,
                &format!("{ty:#x} {name}: AES key"),
            );
            fails(
                t.verify(mm, aes, HMAC_MSG, &[0; 10]),
                RvError::KeyTypeInconsistent,
                &format!("{ty:#x} {name}: AES key"),
            );
            fails(
                t.sign(mm, no_sign, HMAC_MSG),
                RvError::KeyFunctionNotPermitted,
                &format!("{ty:#x} {name}: CKA_SIGN false"),
            );
            fails(
                t.verify(mm, no_verify, HMAC_MSG, &[0; 10]),
                RvError::KeyFunctionNotPermitted,
                &format!("{ty:#x} {name}: CKA_VERIFY false"),
            );
        }
    }
}

// ----- key derivation functions ------------------------------------------------------------------

#[test]
fn hkdf_derive_and_data() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    // RFC 5869 A.1 (and A.3 for an absent salt and info).
    let ikm = [0x0bu8; 22];
    let salt = hex("000102030405060708090a0b0c");
    let info = hex("f0f1f2f3f4f5f6f7f8f9");
    let prk = hex("077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5");
    let okm =
        hex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865");
    let okm_a3 =
        hex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8");
    let base = t.generic(&ikm, &[Attribute::Derive(true)]);
    fn hkdf(p: HkdfParams<'_>) -> Mech<'_> {
        Mechanism::HkdfDerive(p).into()
    }

    let k = t
        .derive(
            &hkdf(HkdfParams::new(
                MechanismType::SHA256,
                Some(HkdfSalt::Data(&salt)),
                Some(&info),
            )),
            base,
            &open_generic(Some(42)),
        )
        .expect("HKDF extract and expand");
    assert_eq!(t.value(k), okm, "RFC 5869 A.1 OKM");
    let k = t
        .derive(
            &hkdf(HkdfParams::new(
                MechanismType::SHA256,
                Some(HkdfSalt::Data(&salt)),
                None,
            )),
            base,
            &open_generic(None),
        )
        .expect("HKDF extract only");
    assert_eq!(t.value(k), prk, "RFC 5869 A.1 PRK");
    let prk_key = t.generic(&prk, &[Attribute::Derive(true)]);
    let k = t
        .derive(
            &hkdf(HkdfParams::new(MechanismType::SHA256, None, Some(&info))),
            prk_key,
            &open_generic(Some(42)),
        )
        .expect("HKDF expand only");
    assert_eq!(t.value(k), okm, "expand of the PRK");
    let k = t
        .derive(
            &hkdf(HkdfParams::new(
                MechanismType::SHA256,
                Some(HkdfSalt::Null),
                Some(&[]),
            )),
            base,
            &open_generic(Some(42)),
        )
        .expect("HKDF with a NULL salt");
    assert_eq!(
        t.value(k),
        okm_a3,
        "RFC 5869 A.3: no salt is HashLen zero bytes"
    );
    let salt_key = t.generic(&salt, &[Attribute::Derive(true)]);
    let k = t
        .derive(
            &hkdf(HkdfParams::new(
                MechanismType::SHA256,
                Some(HkdfSalt::Key(salt_key)),
                Some(&info),
            )),
            base,
            &open_generic(Some(42)),
        )
        .expect("HKDF with the salt in a key");
    assert_eq!(t.value(k), okm, "the salt as a key");
    let k = t
        .derive(
            &hkdf(HkdfParams::new(
                MechanismType::SHA384,
                Some(HkdfSalt::Data(&salt)),
                Some(&info),
            )),
            base,
            &open_generic(Some(100)),
        )
        .expect("HKDF-SHA384");
    assert_eq!(
        t.value(k),
        ref_hkdf(hkdf::HKDF_SHA384, &salt, &ikm, &info, 100),
        "HKDF-SHA384 against aws-lc-rs"
    );
    let k = t
        .derive(
            &hkdf(HkdfParams::new(
                MechanismType::SHA256,
                Some(HkdfSalt::Data(&salt)),
                Some(&info),
            )),
            base,
            &open_secret(KeyType::AES, Some(32)),
        )
        .expect("HKDF to an AES key");
    assert_eq!(t.key_type(k), KeyType::AES);
    assert_eq!(
        t.value(k),
        ref_hkdf(hkdf::HKDF_SHA256, &salt, &ikm, &info, 32)
    );

    // CKM_HKDF_DATA makes a data object.
    let data: Mech = Mechanism::HkdfData(HkdfParams::new(
        MechanismType::SHA256,
        Some(HkdfSalt::Data(&salt)),
        Some(&info),
    ))
    .into();
    let d = t
        .derive(
            &data,
            base,
            &[
                Attribute::Class(ObjectClass::DATA),
                Attribute::Token(false),
                Attribute::ValueLen(42.into()),
            ],
        )
        .expect("C_DeriveKey HKDF_DATA");
    assert_eq!(t.class(d), ObjectClass::DATA);
    assert_eq!(t.value(d), okm, "the data object holds the OKM");
    let extract_only: Mech = Mechanism::HkdfData(HkdfParams::new(
        MechanismType::SHA256,
        Some(HkdfSalt::Data(&salt)),
        None,
    ))
    .into();
    let d = t
        .derive(
            &extract_only,
            base,
            &[Attribute::Class(ObjectClass::DATA), Attribute::Token(false)],
        )
        .expect("HKDF_DATA extract only");
    assert_eq!(t.value(d), prk);

    // Parameters, key type and usage.
    fails(
        t.derive(
            &hkdf(HkdfParams::new(MechanismType::SHA256, None, None)),
            base,
            &open_generic(Some(32)),
        ),
        RvError::MechanismParamInvalid,
        "neither extract nor expand",
    );
    let (_, ec_priv) = t.ec_pair(P256, &[], &[Attribute::Derive(true)]);
    let no_derive = t.generic(&ikm, &[]);
    let derive_mech = hkdf(HkdfParams::new(
        MechanismType::SHA256,
        Some(HkdfSalt::Data(&salt)),
        Some(&info),
    ));
    let data_tpl = [
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(false),
        Attribute::ValueLen(42.into()),
    ];
    for (name, mech, tpl) in [
        ("HKDF_DERIVE", &derive_mech, &open_generic(Some(42))[..]),
        ("HKDF_DATA", &data, &data_tpl[..]),
    ] {
        fails(
            t.derive(mech, ec_priv, tpl),
            RvError::KeyTypeInconsistent,
            &format!("{name}: EC base key"),
        );
        fails(
            t.derive(mech, no_derive, tpl),
            RvError::KeyFunctionNotPermitted,
            &format!("{name}: CKA_DERIVE false"),
        );
    }
}

/// SP 800-108 counter mode as the tests lay out its input: counter || label || 00 || context ||
/// length, all big-endian, the counter of `counter_bytes`.
fn ref_sp800_108(
    prf: impl Fn(&[u8]) -> Vec<u8>,
    counter_bytes: usize,
    label: &[u8],
    context: &[u8],
    len: usize,
) -> Vec<u8> {
    let mut out = Vec::new();
    let mut i: u32 = 1;
    while out.len() < len {
        let mut input = i.to_be_bytes()[4 - counter_bytes..].to_vec();
        input.extend_from_slice(label);
        input.push(0);
        input.extend_from_slice(context);
        input.extend_from_slice(&((len * 8) as u32).to_be_bytes());
        out.extend(prf(&input));
        i += 1;
    }
    out.truncate(len);
    out
}

#[test]
fn sp800_108_counter_kdf() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let (label, context) = (b"custos label".as_slice(), b"context".as_slice());
    let dkm = KbkdfDkmLengthFormat::new(
        KbkdfDkmLengthMethod::SumOfKeys,
        Endianness::Big,
        NonZeroUsize::new(32).unwrap(),
    );
    let zero = [0u8];
    for counter_bits in [32usize, 16] {
        let counter =
            KbkdfCounterFormat::new(Endianness::Big, NonZeroUsize::new(counter_bits).unwrap());
        let params = [
            PrfDataParam::new(PrfDataParamType::IterationVariable(Some(&counter))),
            PrfDataParam::new(PrfDataParamType::ByteArray(label)),
            PrfDataParam::new(PrfDataParamType::ByteArray(&zero)),
            PrfDataParam::new(PrfDataParamType::ByteArray(context)),
            PrfDataParam::new(PrfDataParamType::DkmLength(&dkm)),
        ];
        // HMAC-SHA256 over a generic secret.
        let kv = pattern(32, 0x31);
        let base = t.generic(&kv, &[Attribute::Derive(true)]);
        let mech: Mech =
            Mechanism::KbkdfCounter(KbkdfParams::new(MechanismType::SHA256_HMAC, &params, None))
                .into();
        let k = t
            .derive(&mech, base, &open_generic(Some(40)))
            .expect("SP 800-108 with HMAC-SHA256");
        let want = ref_sp800_108(
            |x| ref_hmac(hmac::HMAC_SHA256, &kv, x),
            counter_bits / 8,
            label,
            context,
            40,
        );
        assert_eq!(
            t.value(k),
            want,
            "HMAC-SHA256 PRF, {counter_bits}-bit counter"
        );
        // AES-CMAC over an AES key.
        let kv = pattern(16, 0x41);
        let base = t.aes(&kv, &[Attribute::Derive(true)]);
        let mech: Mech =
            Mechanism::KbkdfCounter(KbkdfParams::new(MechanismType::AES_CMAC, &params, None))
                .into();
        let k = t
            .derive(&mech, base, &open_generic(Some(40)))
            .expect("SP 800-108 with AES-CMAC");
        let want = ref_sp800_108(|x| ref_cmac(&kv, x), counter_bits / 8, label, context, 40);
        assert_eq!(t.value(k), want, "AES-CMAC PRF, {counter_bits}-bit counter");
        let k = t
            .derive(&mech, base, &open_secret(KeyType::AES, Some(16)))
            .expect("SP 800-108 to an AES key");
        assert_eq!(t.key_type(k), KeyType::AES);
    }

    // Parameters, key type and usage.
    let counter = KbkdfCounterFormat::new(Endianness::Big, NonZeroUsize::new(32).unwrap());
    let params = [
        PrfDataParam::new(PrfDataParamType::IterationVariable(Some(&counter))),
        PrfDataParam::new(PrfDataParamType::ByteArray(label)),
    ];
    let no_counter = [PrfDataParam::new(PrfDataParamType::ByteArray(label))];
    let generic = t.generic(&pattern(32, 1), &[Attribute::Derive(true)]);
    let aes = t.aes(&pattern(16, 1), &[Attribute::Derive(true)]);
    let (_, ec_priv) = t.ec_pair(P256, &[], &[Attribute::Derive(true)]);
    let hmac_kdf: Mech =
        Mechanism::KbkdfCounter(KbkdfParams::new(MechanismType::SHA256_HMAC, &params, None)).into();
    let cmac_kdf: Mech =
        Mechanism::KbkdfCounter(KbkdfParams::new(MechanismType::AES_CMAC, &params, None)).into();
    fails(
        t.derive(
            &Mechanism::KbkdfCounter(KbkdfParams::new(
                MechanismType::SHA256_HMAC,
                &no_counter,
                None,
            ))
            .into(),
            generic,
            &open_generic(Some(16)),
        ),
        RvError::MechanismParamInvalid,
        "no iteration variable",
    );
    fails(
        t.derive(&cmac_kdf, generic, &open_generic(Some(16))),
        RvError::KeyTypeInconsistent,
        "CMAC PRF over a generic secret",
    );
    fails(
        t.derive(&hmac_kdf, ec_priv, &open_generic(Some(16))),
        RvError::KeyTypeInconsistent,
        "HMAC PRF over an EC key",
    );
    let no_derive_g = t.generic(&pattern(32, 1), &[]);
    let no_derive_a = t.aes(&pattern(16, 1), &[]);
    fails(
        t.derive(&hmac_kdf, no_derive_g, &open_generic(Some(16))),
        RvError::KeyFunctionNotPermitted,
        "HMAC PRF, CKA_DERIVE false",
    );
    fails(
        t.derive(&cmac_kdf, no_derive_a, &open_generic(Some(16))),
        RvError::KeyFunctionNotPermitted,
        "CMAC PRF, CKA_DERIVE false",
    );
    t.derive(&cmac_kdf, aes, &open_generic(Some(16)))
        .expect("the same parameters work with a derive key");
}

fn pbkdf2_mech(prf: u64, salt: &[u8], iterations: u64, password: &[u8]) -> Mech<'static> {
    let mut m = RawMech::new(CKM_PKCS5_PBKD2);
    let p = CK_PKCS5_PBKD2_PARAMS2 {
        saltSource: CKZ_SALT_SPECIFIED,
        pSaltSourceData: m.buf(salt).cast(),
        ulSaltSourceDataLen: ulen(salt),
        iterations,
        prf,
        pPrfData: ptr::null_mut(),
        ulPrfDataLen: 0,
        pPassword: m.buf(password),
        ulPasswordLen: ulen(password),
    };
    m.with(p).into()
}

#[test]
fn pbkdf2_key_generation() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    // RFC 6070 (PBKDF2-HMAC-SHA1).
    for (iterations, want) in [
        (1, "0c60c80f961f0e71f3a9b524af6012062fe037a6"),
        (2, "ea6c014dc72d6f8ccd1ed92ace1d41f0d8de8957"),
    ] {
        let mech = pbkdf2_mech(CKP_PKCS5_PBKD2_HMAC_SHA1, b"salt", iterations, b"password");
        let k = t
            .generate(&mech, &open_generic(Some(20)))
            .expect("C_GenerateKey PKCS5_PBKD2");
        assert_eq!(t.value(k), hex(want), "RFC 6070 with c = {iterations}");
        assert_eq!(t.key_type(k), KeyType::GENERIC_SECRET);
    }
    // SHA-256 and SHA-512 against aws-lc-rs.
    let salt = pattern(16, 0x5a);
    let password = b"correct horse battery staple";
    for (prf, alg, len) in [
        (
            CKP_PKCS5_PBKD2_HMAC_SHA256,
            pbkdf2::PBKDF2_HMAC_SHA256,
            32usize,
        ),
        (CKP_PKCS5_PBKD2_HMAC_SHA512, pbkdf2::PBKDF2_HMAC_SHA512, 64),
    ] {
        let mut want = vec![0u8; len];
        pbkdf2::derive(
            alg,
            NonZeroU32::new(1000).unwrap(),
            &salt,
            password,
            &mut want,
        );
        let k = t
            .generate(
                &pbkdf2_mech(prf, &salt, 1000, password),
                &open_generic(Some(len as u64)),
            )
            .expect("C_GenerateKey PKCS5_PBKD2");
        assert_eq!(t.value(k), want, "PBKDF2 prf {prf:#x} against aws-lc-rs");
    }
    // Straight to an AES key, which then encrypts as that key.
    let mut want = vec![0u8; 16];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        NonZeroU32::new(1000).unwrap(),
        &salt,
        password,
        &mut want,
    );
    let mech = pbkdf2_mech(CKP_PKCS5_PBKD2_HMAC_SHA256, &salt, 1000, password);
    let k = t
        .generate(
            &mech,
            &[
                Attribute::Class(ObjectClass::SECRET_KEY),
                Attribute::KeyType(KeyType::AES),
                Attribute::Token(false),
                Attribute::ValueLen(16.into()),
            ],
        )
        .expect("PBKDF2 to an AES key");
    assert_eq!(t.key_type(k), KeyType::AES);
    assert_eq!(
        t.encrypt(&Mechanism::AesEcb.into(), k, &[0u8; 16]).unwrap(),
        ref_ecb(&want, &[0u8; 16])
    );
    fails(
        t.generate(
            &pbkdf2_mech(CKP_PKCS5_PBKD2_HMAC_SHA256, &salt, 0, password),
            &open_generic(Some(16)),
        ),
        RvError::MechanismParamInvalid,
        "zero iterations",
    );
    fails(
        t.generate(
            &pbkdf2_mech(0x77, &salt, 10, password),
            &open_generic(Some(16)),
        ),
        RvError::MechanismParamInvalid,
        "an unknown PRF",
    );
    fails(
        t.generate(&mech, &open_generic(None)),
        RvError::TemplateIncomplete,
        "PBKDF2 without CKA_VALUE_LEN",
    );
}

#[test]
fn simple_derivations() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let a = pattern(16, 0xa1);
    let b = pattern(8, 0xb2);
    let data = pattern(12, 0xd3);
    let open = [Attribute::Sensitive(false), Attribute::Extractable(true)];
    let base = t.generic(
        &a,
        &[Attribute::Derive(true), open[0].clone(), open[1].clone()],
    );
    let other = t.generic(&b, &open);

    let cases: Vec<(&str, Mech, Vec<u8>)> = vec![
        (
            "CONCATENATE_BASE_AND_KEY",
            Mechanism::ConcatenateBaseAndKey(other).into(),
            [a.clone(), b.clone()].concat(),
        ),
        (
            "CONCATENATE_BASE_AND_DATA",
            Mechanism::ConcatenateBaseAndData(KeyDerivationStringData::new(&data)).into(),
            [a.clone(), data.clone()].concat(),
        ),
        (
            "CONCATENATE_DATA_AND_BASE",
            Mechanism::ConcatenateDataAndBase(KeyDerivationStringData::new(&data)).into(),
            [data.clone(), a.clone()].concat(),
        ),
        (
            "XOR_BASE_AND_DATA",
            Mechanism::XorBaseAndData(KeyDerivationStringData::new(&data)).into(),
            a.iter().zip(&data).map(|(x, y)| x ^ y).collect(),
        ),
    ];
    for (name, mech, want) in &cases {
        let k = t
            .derive(mech, base, &open_generic(None))
            .unwrap_or_else(|e| panic!("C_DeriveKey {name}: {e:?}"));
        assert_eq!(&t.value(k), want, "{name}");
        assert_eq!(t.key_type(k), KeyType::GENERIC_SECRET);
        let k = t
            .derive(mech, base, &open_generic(Some(5)))
            .expect("a shorter derived key");
        assert_eq!(
            t.value(k),
            want[..5],
            "{name}: CKA_VALUE_LEN takes the first bytes"
        );
        assert!(
            t.derive(mech, base, &open_generic(Some(want.len() as u64 + 1)))
                .is_err(),
            "{name}: a key longer than the material is an error"
        );
    }
    // XOR takes the shorter of key and data; the raw mechanism gives the same.
    let long = pattern(20, 0xee);
    let k = t
        .derive(
            &Mechanism::XorBaseAndData(KeyDerivationStringData::new(&long)).into(),
            base,
            &open_generic(None),
        )
        .unwrap();
    assert_eq!(
        t.value(k),
        a.iter().zip(&long).map(|(x, y)| x ^ y).collect::<Vec<u8>>()
    );
    let k = t
        .derive(
            &string_data(CKM_XOR_BASE_AND_DATA, &data),
            base,
            &open_generic(None),
        )
        .unwrap();
    assert_eq!(t.value(k), cases[3].2);
    let k = t
        .derive(
            &Mechanism::XorBaseAndData(KeyDerivationStringData::new(&long[..16])).into(),
            base,
            &open_secret(KeyType::AES, None),
        )
        .unwrap();
    assert_eq!(
        t.key_type(k),
        KeyType::AES,
        "a 16-byte XOR result as an AES key"
    );

    // CKM_EXTRACT_KEY_FROM_KEY: the specification's example, 0x329F84A9 from bit 21 is 0x9526.
    let spec_key = t.generic(
        &[0x32, 0x9f, 0x84, 0xa9],
        &[Attribute::Derive(true), open[0].clone(), open[1].clone()],
    );
    let extract: Mech = Mechanism::ExtractKeyFromKey(ExtractParams::new(21)).into();
    let k = t
        .derive(&extract, spec_key, &open_generic(Some(2)))
        .expect("C_DeriveKey EXTRACT_KEY_FROM_KEY");
    assert_eq!(t.value(k), [0x95, 0x26], "PKCS #11's worked example");
    let k = t
        .derive(
            &Mechanism::ExtractKeyFromKey(ExtractParams::new(0)).into(),
            base,
            &open_generic(Some(16)),
        )
        .unwrap();
    assert_eq!(t.value(k), a, "from bit 0, the whole key");
    let k = t
        .derive(
            &Mechanism::ExtractKeyFromKey(ExtractParams::new(8)).into(),
            base,
            &open_generic(Some(16)),
        )
        .unwrap();
    assert_eq!(
        t.value(k),
        [&a[1..], &a[..1]].concat(),
        "from bit 8, wrapping around"
    );

    // Key type and usage, for every one of them.
    let (_, ec_priv) = t.ec_pair(P256, &[], &[Attribute::Derive(true)]);
    let no_derive = t.generic(&a, &[]);
    let mut all: Vec<(&str, Mech)> = cases.into_iter().map(|(n, m, _)| (n, m)).collect();
    all.push(("EXTRACT_KEY_FROM_KEY", extract));
    for (name, mech) in &all {
        fails(
            t.derive(mech, ec_priv, &open_generic(Some(2))),
            RvError::KeyTypeInconsistent,
            &format!("{name}: EC base key"),
        );
        fails(
            t.derive(mech, no_derive, &open_generic(Some(2))),
            RvError::KeyFunctionNotPermitted,
            &format!("{name}: CKA_DERIVE false"),
        );
    }
}

// ----- wrapping ----------------------------------------------------------------------------------

fn unwrap_secret(kt: KeyType, open: bool) -> Vec<Attribute> {
    let mut t = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(kt),
        Attribute::Token(false),
    ];
    if open {
        t.extend(open_private());
    }
    t
}

fn unwrap_private(kt: KeyType) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::PRIVATE_KEY),
        Attribute::KeyType(kt),
        Attribute::Token(false),
        Attribute::Sign(true),
    ]
}

/// An unwrapped key came from outside: never local, never "always sensitive" or "never
/// extractable", whatever its template says.
#[track_caller]
fn assert_unwrapped(t: &Tk, k: ObjectHandle, what: &str) {
    assert!(
        !t.flag(k, AttributeType::Local),
        "{what}: CKA_LOCAL of an unwrapped key"
    );
    assert!(
        !t.flag(k, AttributeType::AlwaysSensitive),
        "{what}: CKA_ALWAYS_SENSITIVE of an unwrapped key"
    );
    assert!(
        !t.flag(k, AttributeType::NeverExtractable),
        "{what}: CKA_NEVER_EXTRACTABLE of an unwrapped key"
    );
}

fn aws_kw(kek: &[u8], data: &[u8], pad: bool) -> Vec<u8> {
    let mut out = vec![0u8; data.len() + 16];
    let r = match (kek.len(), pad) {
        (16, false) => key_wrap::KeyEncryptionKey::new(&key_wrap::AES_128, kek)
            .unwrap()
            .wrap(data, &mut out)
            .map(|o| o.len()),
        (16, true) => key_wrap::KeyEncryptionKey::new(&key_wrap::AES_128, kek)
            .unwrap()
            .wrap_with_padding(data, &mut out)
            .map(|o| o.len()),
        (_, false) => key_wrap::KeyEncryptionKey::new(&key_wrap::AES_256, kek)
            .unwrap()
            .wrap(data, &mut out)
            .map(|o| o.len()),
        (_, true) => key_wrap::KeyEncryptionKey::new(&key_wrap::AES_256, kek)
            .unwrap()
            .wrap_with_padding(data, &mut out)
            .map(|o| o.len()),
    };
    out.truncate(r.expect("aws-lc-rs key wrap"));
    out
}

#[test]
fn aes_wrapping_mechanisms() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let kek_v = pattern(32, 0x77);
    let kek = t.aes(&kek_v, &[]);
    let aes_v = pattern(16, 0x88);
    let aes = t.aes(&aes_v, &[Attribute::Extractable(true)]);
    let gen_v = pattern(20, 0x99);
    let gen = t.generic(&gen_v, &[Attribute::Extractable(true)]);

    // CKM_AES_KEY_WRAP (RFC 3394).
    let kw: Mech = Mechanism::AesKeyWrap.into();
    let w = t.wrap(&kw, kek, aes).expect("C_WrapKey AES_KEY_WRAP");
    assert_eq!(w, aws_kw(&kek_v, &aes_v, false), "KW against aws-lc-rs");
    let u = t
        .unwrap(&kw, kek, &w, &unwrap_secret(KeyType::AES, true))
        .expect("C_UnwrapKey AES_KEY_WRAP");
    assert_eq!(t.value(u), aes_v);
    assert_eq!(t.key_type(u), KeyType::AES);
    assert_unwrapped(&t, u, "KW, readable");
    let u = t
        .unwrap(&kw, kek, &w, &unwrap_secret(KeyType::AES, false))
        .unwrap();
    assert!(t.flag(u, AttributeType::Sensitive) && !t.flag(u, AttributeType::Extractable));
    assert_unwrapped(&t, u, "KW, sensitive and unextractable");
    assert_eq!(
        t.encrypt(&Mechanism::AesEcb.into(), u, &[0u8; 16]).unwrap(),
        ref_ecb(&aes_v, &[0u8; 16]),
        "the unwrapped key works as the original"
    );
    let mut bad = w.clone();
    bad[10] ^= 1;
    fails(
        t.unwrap(&kw, kek, &bad, &unwrap_secret(KeyType::AES, true)),
        RvError::WrappedKeyInvalid,
        "an altered KW blob",
    );

    // CKM_AES_KEY_WRAP_KWP (RFC 5649), under both its numbers.
    for (name, kwp) in [
        ("AES_KEY_WRAP_KWP", raw(CKM_AES_KEY_WRAP_KWP)),
        ("0x210A", Mechanism::AesKeyWrapPad.into()),
    ] {
        let w = t
            .wrap(&kwp, kek, gen)
            .unwrap_or_else(|e| panic!("C_WrapKey {name}: {e:?}"));
        assert_eq!(w, aws_kw(&kek_v, &gen_v, true), "{name} against aws-lc-rs");
        let u = t
            .unwrap(&kwp, kek, &w, &unwrap_secret(KeyType::GENERIC_SECRET, true))
            .expect("C_UnwrapKey KWP");
        assert_eq!(t.value(u), gen_v, "{name}");
        assert_unwrapped(&t, u, name);
    }

    // CKM_AES_CBC_PAD.
    let cbc_pad: Mech = Mechanism::AesCbcPad(IV).into();
    let w = t.wrap(&cbc_pad, kek, gen).expect("C_WrapKey AES_CBC_PAD");
    assert_eq!(
        w,
        ref_cbc_pad(&kek_v, IV, &gen_v),
        "CBC-PAD wrap against aws-lc-rs"
    );
    let u = t
        .unwrap(
            &cbc_pad,
            kek,
            &w,
            &unwrap_secret(KeyType::GENERIC_SECRET, true),
        )
        .expect("C_UnwrapKey AES_CBC_PAD");
    assert_eq!(t.value(u), gen_v);
    assert_unwrapped(&t, u, "CBC_PAD");

    // A private key through KWP: unwrapped, it signs for the original public key.
    let (ec_pub, ec_priv) = t.ec_pair(
        P256,
        &[Attribute::Verify(true)],
        &[Attribute::Sign(true), Attribute::Extractable(true)],
    );
    let kwp = raw(CKM_AES_KEY_WRAP_KWP);
    let w = t
        .wrap(&kwp, kek, ec_priv)
        .expect("C_WrapKey of an EC private key");
    let u = t
        .unwrap(&kwp, kek, &w, &unwrap_private(KeyType::EC))
        .expect("C_UnwrapKey of an EC private key");
    assert_unwrapped(&t, u, "EC private key");
    let msg = b"signed with an unwrapped key";
    let sig = t.sign(&Mechanism::EcdsaSha256.into(), u, msg).unwrap();
    t.verify(&Mechanism::EcdsaSha256.into(), ec_pub, msg, &sig)
        .expect("the original public key verifies");

    // Key type and usage, for every AES wrapping mechanism.
    let generic_kek = t.generic(&kek_v, &[Attribute::Wrap(true), Attribute::Unwrap(true)]);
    let no_wrap = t.aes(&kek_v, &[Attribute::Wrap(false)]);
    let no_unwrap = t.aes(&kek_v, &[Attribute::Unwrap(false)]);
    let w = t.wrap(&kw, kek, aes).unwrap();
    for (name, mech) in [
        ("AES_KEY_WRAP", &kw),
        ("AES_KEY_WRAP_KWP", &kwp),
        ("AES_CBC_PAD", &cbc_pad),
    ] {
        let tpl = unwrap_secret(KeyType::AES, false);
        fails(
            t.wrap(mech, generic_kek, aes),
            RvError::WrappingKeyTypeInconsistent,
            &format!("{name}: generic wrapping key"),
        );
        fails(
            t.unwrap(mech, generic_kek, &w, &tpl),
            RvError::UnwrappingKeyTypeInconsistent,
            &format!("{name}: generic unwrapping key"),
        );
        fails(
            t.wrap(mech, ec_pub, aes),
            RvError::WrappingKeyTypeInconsistent,
            &format!("{name}: EC wrapping key"),
        );
        fails(
            t.wrap(mech, no_wrap, aes),
            RvError::KeyFunctionNotPermitted,
            &format!("{name}: CKA_WRAP false"),
        );
        fails(
            t.unwrap(mech, no_unwrap, &w, &tpl),
            RvError::KeyFunctionNotPermitted,
            &format!("{name}: CKA_UNWRAP false"),
        );
    }
}

#[test]
fn rsa_wrapping_mechanisms() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let (rsa_pub, rsa_priv) = t.rsa_pair(2048, &[1, 0, 1], &[Attribute::Extractable(true)]);
    let (ec_pub, ec_priv) = t.ec_pair(
        P256,
        &[Attribute::Verify(true)],
        &[Attribute::Sign(true), Attribute::Extractable(true)],
    );
    let aes_v = pattern(32, 0x12);
    let aes = t.aes(&aes_v, &[Attribute::Extractable(true)]);
    let no_wrap = t.rsa_public_copy(rsa_pub, &[Attribute::Wrap(false)]);
    let no_unwrap = t.copy(rsa_priv, &[Attribute::Unwrap(false)]);
    let aes_kek = t.aes(&[3u8; 32], &[]);

    // CKM_RSA_PKCS_OAEP and CKM_RSA_PKCS wrap a secret key's value.
    let label = b"wrapping label";
    let oaep_mech: Mech = Mechanism::RsaPkcsOaep(PkcsOaepParams::new(
        MechanismType::SHA256,
        PkcsMgfType::MGF1_SHA256,
        PkcsOaepSource::data_specified(label),
    ))
    .into();
    let pkcs: Mech = Mechanism::RsaPkcs.into();
    for (name, mech) in [("RSA_PKCS_OAEP", &oaep_mech), ("RSA_PKCS", &pkcs)] {
        let w = t
            .wrap(mech, rsa_pub, aes)
            .unwrap_or_else(|e| panic!("C_WrapKey {name}: {e:?}"));
        assert_eq!(w.len(), 256);
        assert_eq!(
            t.decrypt(mech, rsa_priv, &w).unwrap(),
            aes_v,
            "{name}: the wrapped bytes are the key's value"
        );
        let u = t
            .unwrap(mech, rsa_priv, &w, &unwrap_secret(KeyType::AES, true))
            .unwrap_or_else(|e| panic!("C_UnwrapKey {name}: {e:?}"));
        assert_eq!(t.value(u), aes_v, "{name}");
        assert_unwrapped(&t, u, name);
        let tpl = unwrap_secret(KeyType::AES, false);
        fails(
            t.wrap(mech, aes_kek, aes),
            RvError::WrappingKeyTypeInconsistent,
            &format!("{name}: AES wrapping key"),
        );
        fails(
            t.wrap(mech, rsa_priv, aes),
            RvError::WrappingKeyTypeInconsistent,
            &format!("{name}: private wrapping key"),
        );
        fails(
            t.unwrap(mech, aes_kek, &w, &tpl),
            RvError::UnwrappingKeyTypeInconsistent,
            &format!("{name}: AES unwrapping key"),
        );
        fails(
            t.unwrap(mech, rsa_pub, &w, &tpl),
            RvError::UnwrappingKeyTypeInconsistent,
            &format!("{name}: public unwrapping key"),
        );
        fails(
            t.wrap(mech, no_wrap, aes),
            RvError::KeyFunctionNotPermitted,
            &format!("{name}: CKA_WRAP false"),
        );
        fails(
            t.unwrap(mech, no_unwrap, &w, &tpl),
            RvError::KeyFunctionNotPermitted,
            &format!("{name}: CKA_UNWRAP false"),
        );
    }

    // CKM_RSA_AES_KEY_WRAP: OAEP(ephemeral AES key) || KWP(ephemeral key, PKCS #8), for an RSA
    // and an EC private key. The unwrapped keys sign for the original public keys.
    let msg = b"signed with an unwrapped private key";
    for aes_bits in [256u64, 128] {
        let mech = rsa_aes_wrap(aes_bits);
        let w = t
            .wrap(&mech, rsa_pub, rsa_priv)
            .expect("C_WrapKey RSA_AES_KEY_WRAP of an RSA key");
        let eph = t
            .decrypt(&oaep(CKM_SHA256, CKG_MGF1_SHA256, &[]), rsa_priv, &w[..256])
            .expect("the OAEP part");
        assert_eq!(
            eph.len() as u64 * 8,
            aes_bits,
            "the ephemeral key has ulAESKeyBits"
        );
        let mut out = vec![0u8; w.len()];
        let p8 = match aes_bits {
            256 => key_wrap::KeyEncryptionKey::new(&key_wrap::AES_256, &eph)
                .unwrap()
                .unwrap_with_padding(&w[256..], &mut out),
            _ => key_wrap::KeyEncryptionKey::new(&key_wrap::AES_128, &eph)
                .unwrap()
                .unwrap_with_padding(&w[256..], &mut out),
        }
        .expect("the KWP part opens with the ephemeral key");
        let kp =
            signature::RsaKeyPair::from_pkcs8(p8).expect("the payload is the RSA key as PKCS #8");
        let (n, _) = rsa_components(&t, rsa_pub);
        let aws_sig = {
            let mut sig = vec![0u8; kp.public_modulus_len()];
            kp.sign(
                &signature::RSA_PKCS1_SHA256,
                &aws_lc_rs::rand::SystemRandom::new(),
                msg,
                &mut sig,
            )
            .unwrap();
            sig
        };
        t.verify(&Mechanism::Sha256RsaPkcs.into(), rsa_pub, msg, &aws_sig)
            .expect("the PKCS #8 key is the wrapped key");
        assert_eq!(kp.public_modulus_len(), strip(&n).len());

        let u = t
            .unwrap(&mech, rsa_priv, &w, &unwrap_private(KeyType::RSA))
            .expect("C_UnwrapKey RSA_AES_KEY_WRAP, RSA");
        assert_eq!(t.key_type(u), KeyType::RSA);
        assert_eq!(
            t.bytes(u, AttributeType::Modulus),
            t.bytes(rsa_priv, AttributeType::Modulus)
        );
        assert_unwrapped(&t, u, "RSA_AES_KEY_WRAP of an RSA key");
        let sig = t.sign(&Mechanism::Sha256RsaPkcs.into(), u, msg).unwrap();
        t.verify(&Mechanism::Sha256RsaPkcs.into(), rsa_pub, msg, &sig)
            .expect("the unwrapped RSA key signs for the original");

        let w = t
            .wrap(&mech, rsa_pub, ec_priv)
            .expect("C_WrapKey RSA_AES_KEY_WRAP of an EC key");
        let u = t
            .unwrap(&mech, rsa_priv, &w, &unwrap_private(KeyType::EC))
            .expect("C_UnwrapKey RSA_AES_KEY_WRAP, EC");
        assert_eq!(t.bytes(u, AttributeType::EcParams), P256);
        assert_unwrapped(&t, u, "RSA_AES_KEY_WRAP of an EC key");
        let sig = t.sign(&Mechanism::EcdsaSha256.into(), u, msg).unwrap();
        t.verify(&Mechanism::EcdsaSha256.into(), ec_pub, msg, &sig)
            .expect("the unwrapped EC key signs for the original");
    }
    let mech = rsa_aes_wrap(256);
    let w = t.wrap(&mech, rsa_pub, ec_priv).unwrap();
    let tpl = unwrap_private(KeyType::EC);
    fails(
        t.wrap(&mech, aes_kek, ec_priv),
        RvError::WrappingKeyTypeInconsistent,
        "RSA_AES_KEY_WRAP: AES wrapping key",
    );
    fails(
        t.unwrap(&mech, aes_kek, &w, &tpl),
        RvError::UnwrappingKeyTypeInconsistent,
        "RSA_AES_KEY_WRAP: AES unwrapping key",
    );
    fails(
        t.wrap(&mech, no_wrap, ec_priv),
        RvError::KeyFunctionNotPermitted,
        "RSA_AES_KEY_WRAP: CKA_WRAP false",
    );
    fails(
        t.unwrap(&mech, no_unwrap, &w, &tpl),
        RvError::KeyFunctionNotPermitted,
        "RSA_AES_KEY_WRAP: CKA_UNWRAP false",
    );
    fails(
        t.wrap(&rsa_aes_wrap(100), rsa_pub, ec_priv),
        RvError::MechanismParamInvalid,
        "ulAESKeyBits 100",
    );
}

#[test]
fn wrap_and_unwrap_policy() {
    let (_fx, m, sl) = token();
    let kek_v = pattern(16, 0x42);
    // Only the SO may set CKA_TRUSTED: the SO makes a public, trusted wrapping key.
    {
        let so = m.open_rw_session(sl).expect("C_OpenSession");
        so.login(UserType::So, Some(&pin(SO_PIN)))
            .expect("SO C_Login");
        so.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(true),
            Attribute::Private(false),
            Attribute::Trusted(true),
            Attribute::Value(kek_v.clone()),
            Attribute::Label(b"trusted kek".to_vec()),
        ])
        .expect("the SO creates a trusted public key");
        so.logout().expect("C_Logout");
    }
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let found = s
        .find_objects(&[Attribute::Label(b"trusted kek".to_vec())])
        .expect("C_FindObjects");
    assert_eq!(found.len(), 1, "the user sees the SO's public key");
    let trusted = found[0];
    assert!(matches!(
        t.attr(trusted, AttributeType::Trusted),
        Attribute::Trusted(true)
    ));
    fails(
        cr(s.create_object(&[
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Trusted(true),
            Attribute::Value(kek_v.clone()),
        ])),
        RvError::AttributeReadOnly,
        "the user sets CKA_TRUSTED",
    );

    let kw: Mech = Mechanism::AesKeyWrap.into();
    let untrusted = t.aes(&kek_v, &[]);
    let target_v = pattern(16, 0x24);
    let target = t.aes(&target_v, &[Attribute::Extractable(true)]);
    let locked = t.aes(&target_v, &[]);
    let no_wrap = t.aes(&kek_v, &[Attribute::Wrap(false)]);
    fails(
        t.wrap(&kw, untrusted, locked),
        RvError::KeyUnextractable,
        "wrapping an unextractable key",
    );
    fails(
        t.wrap(&kw, no_wrap, target),
        RvError::KeyFunctionNotPermitted,
        "a wrapping key with CKA_WRAP false",
    );

    // CKA_WRAP_WITH_TRUSTED.
    let wwt = t.aes(
        &target_v,
        &[
            Attribute::Extractable(true),
            Attribute::WrapWithTrusted(true),
        ],
    );
    fails(
        t.wrap(&kw, untrusted, wwt),
        RvError::KeyNotWrappable,
        "CKA_WRAP_WITH_TRUSTED under an untrusted key",
    );
    let w = t
        .wrap(&kw, trusted, wwt)
        .expect("CKA_WRAP_WITH_TRUSTED under the SO's trusted key");
    assert_eq!(w, aws_kw(&kek_v, &target_v, false));
    assert_eq!(
        w,
        t.wrap(&kw, untrusted, target).unwrap(),
        "the same wrapping for an ordinary key"
    );

    // CKA_WRAP_TEMPLATE: only keys matching it may be wrapped.
    let secret = |v: &[u8]| {
        vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::Token(false),
            Attribute::Value(v.to_vec()),
        ]
    };
    let templated = t
        .create_with_templates(
            &secret(&kek_v),
            &[(
                CKA_WRAP_TEMPLATE,
                &[Attribute::KeyType(KeyType::GENERIC_SECRET)],
            )],
        )
        .expect("a key with CKA_WRAP_TEMPLATE");
    fails(
        t.wrap(&kw, templated, target),
        RvError::KeyNotWrappable,
        "an AES key against a generic-only CKA_WRAP_TEMPLATE",
    );
    let generic = t.generic(&pattern(24, 3), &[Attribute::Extractable(true)]);
    let w_generic = t
        .wrap(&kw, templated, generic)
        .expect("a key that matches CKA_WRAP_TEMPLATE");
    assert_eq!(w_generic, aws_kw(&kek_v, &pattern(24, 3), false));

    // CKA_UNWRAP_TEMPLATE: merged into the caller's template, a conflict is inconsistent.
    let label = b"from the unwrap template".to_vec();
    let unwrapper = t
        .create_with_templates(
            &secret(&kek_v),
            &[(
                CKA_UNWRAP_TEMPLATE,
                &[Attribute::Encrypt(false), Attribute::Label(label.clone())],
            )],
        )
        .expect("a key with CKA_UNWRAP_TEMPLATE");
    let base = unwrap_secret(KeyType::AES, false);
    let with = |a: Attribute| [base.clone(), vec![a]].concat();
    fails(
        t.unwrap(&kw, unwrapper, &w, &with(Attribute::Encrypt(true))),
        RvError::TemplateInconsistent,
        "CKA_ENCRYPT true against an unwrap template's false",
    );
    let u = t
        .unwrap(&kw, unwrapper, &w, &base)
        .expect("C_UnwrapKey under CKA_UNWRAP_TEMPLATE");
    assert!(
        !t.flag(u, AttributeType::Encrypt),
        "the unwrap template's CKA_ENCRYPT applies"
    );
    assert!(t.flag(u, AttributeType::Decrypt));
    assert_eq!(
        t.bytes(u, AttributeType::Label),
        label,
        "the unwrap template's CKA_LABEL applies"
    );
    t.unwrap(&kw, unwrapper, &w, &with(Attribute::Encrypt(false)))
        .expect("an agreeing template");

    // CKA_DERIVE_TEMPLATE likewise for derivation.
    let label = b"from the derive template".to_vec();
    let mut base_attrs = secret(&pattern(16, 7));
    base_attrs[1] = Attribute::KeyType(KeyType::GENERIC_SECRET);
    base_attrs.push(Attribute::Derive(true));
    let deriver = t
        .create_with_templates(
            &base_attrs,
            &[(
                CKA_DERIVE_TEMPLATE,
                &[Attribute::Sign(false), Attribute::Label(label.clone())],
            )],
        )
        .expect("a key with CKA_DERIVE_TEMPLATE");
    let mech: Mech =
        Mechanism::ConcatenateBaseAndData(KeyDerivationStringData::new(b"data")).into();
    let dt = vec![
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
    ];
    fails(
        t.derive(
            &mech,
            deriver,
            &[dt.clone(), vec![Attribute::Sign(true)]].concat(),
        ),
        RvError::TemplateInconsistent,
        "CKA_SIGN true against a derive template's false",
    );
    let k = t
        .derive(&mech, deriver, &dt)
        .expect("C_DeriveKey under CKA_DERIVE_TEMPLATE");
    assert!(
        !t.flag(k, AttributeType::Sign),
        "the derive template's CKA_SIGN applies"
    );
    assert!(t.flag(k, AttributeType::Verify));
    assert_eq!(
        t.bytes(k, AttributeType::Label),
        label,
        "the derive template's CKA_LABEL applies"
    );
}

/// PKCS #11 (the sensitivity rules each derivation mechanism states, e.g. for CKM_ECDH1_DERIVE and
/// CKM_CONCATENATE_BASE_AND_DATA): a key derived from a base whose CKA_ALWAYS_SENSITIVE is true
/// has CKA_ALWAYS_SENSITIVE equal to its own CKA_SENSITIVE; likewise CKA_NEVER_EXTRACTABLE is the
/// opposite of its own CKA_EXTRACTABLE when the base's is true, and false otherwise.
#[test]
fn derived_keys_inherit_always_sensitive_and_never_extractable() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let base = t
        .generate(
            &Mechanism::GenericSecretKeyGen.into(),
            &[
                Attribute::Token(false),
                Attribute::ValueLen(32.into()),
                Attribute::Derive(true),
            ],
        )
        .expect("a generated base key");
    assert!(
        t.flag(base, AttributeType::AlwaysSensitive)
            && t.flag(base, AttributeType::NeverExtractable)
    );
    let created = t.generic(&pattern(32, 1), &[Attribute::Derive(true)]);
    assert!(
        !t.flag(created, AttributeType::AlwaysSensitive)
            && !t.flag(created, AttributeType::NeverExtractable)
    );

    let salt = b"salt".to_vec();
    let info = b"info".to_vec();
    let mechs: [(&str, Mech); 2] = [
        (
            "CONCATENATE_BASE_AND_DATA",
            Mechanism::ConcatenateBaseAndData(KeyDerivationStringData::new(b"data")).into(),
        ),
        (
            "HKDF_DERIVE",
            Mechanism::HkdfDerive(HkdfParams::new(
                MechanismType::SHA256,
                Some(HkdfSalt::Data(&salt)),
                Some(&info),
            ))
            .into(),
        ),
    ];
    let tpl = |extra: &[Attribute]| {
        let mut v = vec![
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::Token(false),
            Attribute::ValueLen(32.into()),
        ];
        v.extend_from_slice(extra);
        v
    };
    let mut wrong = Vec::new();
    for (name, mech) in &mechs {
        let k = t
            .derive(mech, base, &tpl(&[]))
            .unwrap_or_else(|e| panic!("C_DeriveKey {name}: {e:?}"));
        assert!(
            !t.flag(k, AttributeType::Local),
            "{name}: a derived key is not CKA_LOCAL"
        );
        assert!(t.flag(k, AttributeType::Sensitive) && !t.flag(k, AttributeType::Extractable));
        let (always, never) = (
            t.flag(k, AttributeType::AlwaysSensitive),
            t.flag(k, AttributeType::NeverExtractable),
        );
        if !always || !never {
            wrong.push(format!(
                "{name}: sensitive, unextractable key from a generated base: \
                 CKA_ALWAYS_SENSITIVE {always}, CKA_NEVER_EXTRACTABLE {never} (both must be true)"
            ));
        }
        let k = t.derive(mech, created, &tpl(&[])).unwrap();
        assert!(
            !t.flag(k, AttributeType::AlwaysSensitive),
            "{name}: from a created base, not always sensitive"
        );
        assert!(
            !t.flag(k, AttributeType::NeverExtractable),
            "{name}: from a created base, not never extractable"
        );
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// PKCS #11 (CKM_CONCATENATE_*, CKM_XOR_BASE_AND_DATA, CKM_EXTRACT_KEY_FROM_KEY): "if the base key
/// has its CKA_SENSITIVE attribute set to CK_TRUE, so does the derived key", and likewise an
/// unextractable base gives an unextractable key; extraction "must" yield a sensitive key "for
/// the derivation to succeed". Whatever the template asks, these mechanisms must not turn a
/// sensitive, unextractable key into one whose value can be read.
#[test]
fn derivation_keeps_a_sensitive_base_key_secret() {
    let (_fx, m, sl) = token();
    let s = user_session(&m, sl);
    let t = Tk { s: &s };
    let secret_v = pattern(16, 0x5e);
    let base = t.generic(&secret_v, &[Attribute::Derive(true)]);
    assert!(t.flag(base, AttributeType::Sensitive) && !t.flag(base, AttributeType::Extractable));
    let other = t.generic(
        &[0u8; 1],
        &[Attribute::Sensitive(false), Attribute::Extractable(true)],
    );
    let zeros = [0u8; 16];
    let one = [0u8; 1];
    let mechs: [(&str, Mech); 5] = [
        (
            "CONCATENATE_BASE_AND_KEY",
            Mechanism::ConcatenateBaseAndKey(other).into(),
        ),
        (
            "CONCATENATE_BASE_AND_DATA",
            Mechanism::ConcatenateBaseAndData(KeyDerivationStringData::new(&one)).into(),
        ),
        (
            "CONCATENATE_DATA_AND_BASE",
            Mechanism::ConcatenateDataAndBase(KeyDerivationStringData::new(&one)).into(),
        ),
        (
            "XOR_BASE_AND_DATA",
            Mechanism::XorBaseAndData(KeyDerivationStringData::new(&zeros)).into(),
        ),
        (
            "EXTRACT_KEY_FROM_KEY",
            Mechanism::ExtractKeyFromKey(ExtractParams::new(0)).into(),
        ),
    ];
    let raw_reader = Raw::load();
    let plain_tpl = [
        Attribute::Class(ObjectClass::SECRET_KEY),
        Attribute::KeyType(KeyType::GENERIC_SECRET),
        Attribute::Token(false),
        Attribute::ValueLen(16.into()),
    ];
    let mut leaks = Vec::new();
    for (name, mech) in &mechs {
        // With a template that asks nothing, the derivation works and its key stays secret.
        let k = t
            .derive(mech, base, &plain_tpl)
            .unwrap_or_else(|e| panic!("C_DeriveKey {name} from a sensitive base: {e:?}"));
        assert!(t.flag(k, AttributeType::Sensitive) && !t.flag(k, AttributeType::Extractable));
        // Asking for a readable key must not give one.
        let Ok(k) = t.derive(mech, base, &open_generic(Some(16))) else {
            continue; // refusing the template is a conforming answer
        };
        let (rv_read, values) =
            raw_reader.get_attribute_values(s.handle(), k.handle(), &[CKA_VALUE]);
        let sensitive = t.flag(k, AttributeType::Sensitive);
        let extractable = t.flag(k, AttributeType::Extractable);
        if rv_read != CKR_ATTRIBUTE_SENSITIVE || !sensitive || extractable {
            leaks.push(format!(
                "{name}: C_GetAttributeValue(CKA_VALUE) returned {rv_read:#x} with {:02x?}, \
                 CKA_SENSITIVE {sensitive}, CKA_EXTRACTABLE {extractable}",
                values[0].1
            ));
        }
    }
    assert!(
        leaks.is_empty(),
        "keys derived from a sensitive, unextractable base ({secret_v:02x?}) with a template \
         asking for CKA_SENSITIVE false and CKA_EXTRACTABLE true must stay secret:\n{}",
        leaks.join("\n")
    );
}
