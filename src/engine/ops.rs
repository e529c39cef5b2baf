//! Sessions' cryptographic operations: digest, encrypt, decrypt, sign, verify and key
//! generation. Each operation is built once at `*Init` from the typed mechanism and the parsed
//! key, then driven by single- or multi-part calls.

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::access::{self, Usage};
use super::{lock, Engine, Error, ObjectHandle, Result, SessionHandle};
use crate::crypto::{
    self, CbcPad, Curve, EcPrivateKey, EcPublicKey, HashAlg, Hasher, RsaPrivateKey, RsaPublicKey,
};
use crate::mechanism::{GcmParams, Mechanism, PssParams};
use crate::object::{Attr, Attributes};

/// Where an operation's output goes: a length query, or a buffer of some capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Out {
    /// The caller passed no buffer and asks for the length.
    Query,
    /// The caller's buffer holds this many bytes.
    Capacity(usize),
}

/// What an output-producing call gives back.
#[derive(Debug, PartialEq, Eq)]
pub enum Produced {
    /// The output did not fit (or was only asked about): this many bytes are needed. The
    /// operation stays active.
    Needed(usize),
    /// The output.
    Data(Vec<u8>),
}

/// A key parsed once for use.
pub(crate) enum Key {
    Aes(Zeroizing<Vec<u8>>),
    RsaPrivate(RsaPrivateKey),
    RsaPublic(RsaPublicKey),
    EcPrivate(EcPrivateKey),
    EcPublic(EcPublicKey),
}

fn attr(a: &Attributes, ty: CK_ATTRIBUTE_TYPE) -> Result<&[u8]> {
    a.bytes(ty).ok_or(Error::KeyTypeInconsistent)
}

impl Key {
    pub(crate) fn from_attributes(a: &Attributes) -> Result<Key> {
        let bad = |_| Error::General("stored key material is invalid".into());
        Ok(match (a.class(), a.key_type()) {
            (Some(CKO_SECRET_KEY), Some(CKK_AES)) => {
                Key::Aes(Zeroizing::new(attr(a, CKA_VALUE)?.to_vec()))
            }
            (Some(CKO_PRIVATE_KEY), Some(CKK_RSA)) => Key::RsaPrivate(
                RsaPrivateKey::from_components(
                    attr(a, CKA_MODULUS)?,
                    attr(a, CKA_PUBLIC_EXPONENT)?,
                    attr(a, CKA_PRIVATE_EXPONENT)?,
                    attr(a, CKA_PRIME_1)?,
                    attr(a, CKA_PRIME_2)?,
                    attr(a, CKA_EXPONENT_1)?,
                    attr(a, CKA_EXPONENT_2)?,
                    attr(a, CKA_COEFFICIENT)?,
                )
                .map_err(bad)?,
            ),
            (Some(CKO_PUBLIC_KEY), Some(CKK_RSA)) => Key::RsaPublic(
                RsaPublicKey::from_components(attr(a, CKA_MODULUS)?, attr(a, CKA_PUBLIC_EXPONENT)?)
                    .map_err(bad)?,
            ),
            (Some(CKO_PRIVATE_KEY), Some(CKK_EC)) => {
                let curve = access::curve_of(a)?;
                Key::EcPrivate(EcPrivateKey::from_scalar(curve, attr(a, CKA_VALUE)?).map_err(bad)?)
            }
            (Some(CKO_PUBLIC_KEY), Some(CKK_EC)) => {
                let curve = access::curve_of(a)?;
                Key::EcPublic(EcPublicKey::from_point(curve, attr(a, CKA_EC_POINT)?).map_err(bad)?)
            }
            _ => return Err(Error::KeyTypeInconsistent),
        })
    }
}

/// A symmetric cipher in progress.
pub(crate) enum Cipher {
    /// GCM buffers everything: decryption must not release unauthenticated plaintext.
    Gcm {
        key: Arc<Key>,
        params: GcmParams,
        buf: Zeroizing<Vec<u8>>,
    },
    CbcPad(CbcPad),
}

/// A signature or verification in progress.
pub(crate) struct SignOp {
    mech: Mechanism,
    key: Arc<Key>,
    hasher: Option<Hasher>,
    /// Input buffered for mechanisms that sign the caller's bytes as they are.
    raw: Zeroizing<Vec<u8>>,
    /// Whether `C_SignUpdate` has been used (single-part calls are then refused).
    multi: bool,
    /// The key demands a context-specific login before each use.
    needs_context_login: bool,
}

/// One session's state.
pub(crate) struct Session {
    pub(crate) slot: u32,
    pub(crate) rw: bool,
    pub(crate) find: Option<Vec<ObjectHandle>>,
    digest: Option<(Hasher, bool)>,
    encrypt: Option<Cipher>,
    decrypt: Option<Cipher>,
    sign: Option<SignOp>,
    verify: Option<SignOp>,
}

impl Session {
    pub(crate) fn new(slot: u32, rw: bool) -> Session {
        Session {
            slot,
            rw,
            find: None,
            digest: None,
            encrypt: None,
            decrypt: None,
            sign: None,
            verify: None,
        }
    }

    pub(crate) fn awaits_context_login(&self) -> bool {
        self.sign.as_ref().is_some_and(|s| s.needs_context_login)
    }

    pub(crate) fn context_login_done(&mut self) {
        if let Some(s) = self.sign.as_mut() {
            s.needs_context_login = false;
        }
    }
}

/// Runs the output protocol for a call that ends an operation: a query or a too-small buffer
/// reports the length and keeps the operation; otherwise the operation is consumed, and an
/// error ends it too.
fn finish<T>(
    slot: &mut Option<T>,
    out: Out,
    need: impl FnOnce(&T) -> usize,
    run: impl FnOnce(T) -> Result<Vec<u8>>,
) -> Result<Produced> {
    let op = slot.as_ref().ok_or(Error::OperationNotInitialized)?;
    let n = need(op);
    match out {
        Out::Query => return Ok(Produced::Needed(n)),
        Out::Capacity(c) if c < n => return Ok(Produced::Needed(n)),
        Out::Capacity(_) => {}
    }
    let op = slot.take().ok_or(Error::OperationNotInitialized)?;
    run(op).map(Produced::Data)
}

/// The same protocol for a multi-part update that produces output and keeps the operation.
fn update<T>(
    slot: &mut Option<T>,
    out: Out,
    need: impl FnOnce(&T) -> usize,
    run: impl FnOnce(&mut T) -> Result<Vec<u8>>,
) -> Result<Produced> {
    let op = slot.as_mut().ok_or(Error::OperationNotInitialized)?;
    let n = need(op);
    match out {
        Out::Query => return Ok(Produced::Needed(n)),
        Out::Capacity(c) if c < n => return Ok(Produced::Needed(n)),
        Out::Capacity(_) => {}
    }
    match run(op) {
        Ok(v) => Ok(Produced::Data(v)),
        Err(e) => {
            *slot = None;
            Err(e)
        }
    }
}

/// Ends the operation in `slot` when `r` is an error.
fn end_on_error<T, R>(slot: &mut Option<T>, r: Result<R>) -> Result<R> {
    if r.is_err() {
        *slot = None;
    }
    r
}

fn gcm_run(key: &Key, p: &GcmParams, encrypt: bool, data: &[u8]) -> Result<Vec<u8>> {
    let Key::Aes(k) = key else {
        return Err(Error::KeyTypeInconsistent);
    };
    let tag = p.tag_bits as usize;
    Ok(if encrypt {
        crypto::gcm_encrypt(k, &p.iv, &p.aad, tag, data)?
    } else {
        crypto::gcm_decrypt(k, &p.iv, &p.aad, tag, data)?
    })
}

fn gcm_need(p: &GcmParams, encrypt: bool, len: usize) -> usize {
    let tag = (p.tag_bits / 8) as usize;
    if encrypt {
        len + tag
    } else {
        len.saturating_sub(tag)
    }
}

fn sig_len(k: &Key) -> usize {
    match k {
        Key::RsaPrivate(r) => r.modulus_len(),
        Key::RsaPublic(r) => r.modulus_len(),
        Key::EcPrivate(e) => 2 * e.curve().field_len(),
        Key::EcPublic(e) => 2 * e.curve().field_len(),
        Key::Aes(_) => 0,
    }
}

fn pss_check(p: &PssParams, digest_len: usize) -> Result<()> {
    if digest_len != p.hash.output_len() {
        return Err(Error::DataLenRange);
    }
    Ok(())
}

impl SignOp {
    fn raw_limit(&self) -> usize {
        match (&self.mech, self.key.as_ref()) {
            (Mechanism::RsaPkcs, k) => sig_len(k).saturating_sub(11),
            (Mechanism::RsaPss(p), _) => p.hash.output_len(),
            _ => 1024,
        }
    }

    fn absorb(&mut self, data: &[u8]) -> Result<()> {
        match self.hasher.as_mut() {
            Some(h) => h.update(data),
            None => {
                if self.raw.len() + data.len() > self.raw_limit() {
                    return Err(Error::DataLenRange);
                }
                self.raw.extend_from_slice(data);
            }
        }
        Ok(())
    }

    /// The bytes the primitive signs: the digest, or the buffered input.
    fn message(&mut self) -> Zeroizing<Vec<u8>> {
        match self.hasher.take() {
            Some(h) => Zeroizing::new(h.finish()),
            None => std::mem::take(&mut self.raw),
        }
    }

    fn sign(mut self) -> Result<Vec<u8>> {
        if self.needs_context_login {
            return Err(Error::UserNotLoggedIn);
        }
        let m = self.message();
        Ok(match (&self.mech, self.key.as_ref()) {
            (Mechanism::Ecdsa | Mechanism::EcdsaWith(_), Key::EcPrivate(k)) => k.sign_digest(&m)?,
            (Mechanism::RsaPkcs, Key::RsaPrivate(k)) => k.sign_pkcs1_raw(&m)?,
            (Mechanism::RsaPkcsWith(h), Key::RsaPrivate(k)) => {
                let mut di = h.digest_info_prefix().to_vec();
                di.extend_from_slice(&m);
                k.sign_pkcs1_raw(&di)?
            }
            (Mechanism::RsaPss(p) | Mechanism::RsaPssWith(p), Key::RsaPrivate(k)) => {
                pss_check(p, m.len())?;
                k.sign_pss(p.hash, p.mgf1, p.salt_len, &m)?
            }
            _ => return Err(Error::KeyTypeInconsistent),
        })
    }

    fn verify(mut self, sig: &[u8]) -> Result<()> {
        let m = self.message();
        match (&self.mech, self.key.as_ref()) {
            (Mechanism::Ecdsa | Mechanism::EcdsaWith(_), Key::EcPublic(k)) => {
                k.verify_digest(&m, sig)?
            }
            (Mechanism::RsaPkcs, Key::RsaPublic(k)) => k.verify_pkcs1_raw(&m, sig)?,
            (Mechanism::RsaPkcsWith(h), Key::RsaPublic(k)) => {
                let mut di = h.digest_info_prefix().to_vec();
                di.extend_from_slice(&m);
                k.verify_pkcs1_raw(&di, sig)?
            }
            (Mechanism::RsaPss(p) | Mechanism::RsaPssWith(p), Key::RsaPublic(k)) => {
                pss_check(p, m.len())?;
                k.verify_pss(p.hash, p.mgf1, p.salt_len, &m, sig)?
            }
            _ => return Err(Error::KeyTypeInconsistent),
        }
        Ok(())
    }
}

/// The class, key type and key size limits a signing mechanism needs.
fn sign_key_kind(
    m: &Mechanism,
    usage: Usage,
) -> Result<(CK_OBJECT_CLASS, CK_KEY_TYPE, Option<HashAlg>)> {
    let class = if usage == Usage::Sign {
        CKO_PRIVATE_KEY
    } else {
        CKO_PUBLIC_KEY
    };
    Ok(match m {
        Mechanism::Ecdsa => (class, CKK_EC, None),
        Mechanism::EcdsaWith(h) => (class, CKK_EC, Some(*h)),
        Mechanism::RsaPkcs => (class, CKK_RSA, None),
        Mechanism::RsaPkcsWith(h) => (class, CKK_RSA, Some(*h)),
        Mechanism::RsaPss(_) => (class, CKK_RSA, None),
        Mechanism::RsaPssWith(p) => (class, CKK_RSA, Some(p.hash)),
        _ => return Err(Error::MechanismInvalid),
    })
}

fn check_pss_key(m: &Mechanism, key: &Key) -> Result<()> {
    if let (
        Mechanism::RsaPss(p) | Mechanism::RsaPssWith(p),
        Key::RsaPrivate(_) | Key::RsaPublic(_),
    ) = (m, key)
    {
        // emLen must hold the hash, the salt and two more bytes.
        if p.hash.output_len() + p.salt_len + 2 > sig_len(key) {
            return Err(Error::MechanismParamInvalid);
        }
    }
    Ok(())
}

impl Engine {
    fn with_session<R>(
        &self,
        h: SessionHandle,
        f: impl FnOnce(&mut Session) -> Result<R>,
    ) -> Result<R> {
        let sess = self.session(h)?;
        let mut g = lock(&sess);
        f(&mut g)
    }

    // ----- digest -----------------------------------------------------------------------

    /// `C_DigestInit`.
    pub fn digest_init(&self, h: SessionHandle, mech: &Mechanism) -> Result<()> {
        let Mechanism::Digest(alg) = mech else {
            return Err(Error::MechanismInvalid);
        };
        self.with_session(h, |s| {
            if s.digest.is_some() {
                return Err(Error::OperationActive);
            }
            s.digest = Some((Hasher::new(*alg), false));
            Ok(())
        })
    }

    /// `C_Digest`.
    pub fn digest(&self, h: SessionHandle, data: &[u8], out: Out) -> Result<Produced> {
        self.with_session(h, |s| {
            if s.digest.as_ref().is_some_and(|(_, multi)| *multi) {
                s.digest = None;
                return Err(Error::OperationActive);
            }
            finish(
                &mut s.digest,
                out,
                |(d, _)| d.alg().output_len(),
                |(mut d, _)| {
                    d.update(data);
                    Ok(d.finish())
                },
            )
        })
    }

    /// `C_DigestUpdate`.
    pub fn digest_update(&self, h: SessionHandle, data: &[u8]) -> Result<()> {
        self.with_session(h, |s| {
            let (d, multi) = s.digest.as_mut().ok_or(Error::OperationNotInitialized)?;
            d.update(data);
            *multi = true;
            Ok(())
        })
    }

    /// `C_DigestKey`: digests a secret key's value without revealing it.
    pub fn digest_key(&self, h: SessionHandle, key: ObjectHandle) -> Result<()> {
        let (o, _) = self.key_for(h, key)?;
        if o.attrs.class() != Some(CKO_SECRET_KEY) {
            return Err(Error::KeyHandleInvalid);
        }
        if !o.attrs.bool_or(CKA_EXTRACTABLE, false) && o.attrs.bool_or(CKA_SENSITIVE, true) {
            // Digesting a secret is a way to test guesses about it: only for keys the caller
            // could read anyway.
            return Err(Error::KeyFunctionNotPermitted);
        }
        let value = o
            .attrs
            .bytes(CKA_VALUE)
            .ok_or(Error::KeyHandleInvalid)?
            .to_vec();
        let value = Zeroizing::new(value);
        self.with_session(h, |s| {
            let (d, multi) = s.digest.as_mut().ok_or(Error::OperationNotInitialized)?;
            d.update(&value);
            *multi = true;
            Ok(())
        })
    }

    /// `C_DigestFinal`.
    pub fn digest_final(&self, h: SessionHandle, out: Out) -> Result<Produced> {
        self.with_session(h, |s| {
            finish(
                &mut s.digest,
                out,
                |(d, _)| d.alg().output_len(),
                |(d, _)| Ok(d.finish()),
            )
        })
    }

    // ----- encrypt / decrypt ------------------------------------------------------------

    fn cipher_init(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        key: ObjectHandle,
        encrypt: bool,
    ) -> Result<()> {
        let usage = if encrypt {
            Usage::Encrypt
        } else {
            Usage::Decrypt
        };
        let slot_busy = self.with_session(h, |s| {
            Ok(if encrypt {
                s.encrypt.is_some()
            } else {
                s.decrypt.is_some()
            })
        })?;
        if slot_busy {
            return Err(Error::OperationActive);
        }
        let (o, k) = self.key_for(h, key)?;
        access::check_use(
            &o.attrs,
            usage,
            mech.ck_type(),
            CKO_SECRET_KEY,
            CKK_AES,
            &super::today(),
        )?;
        let op = match mech {
            Mechanism::AesGcm(p) => Cipher::Gcm {
                key: k,
                params: p.clone(),
                buf: Zeroizing::new(Vec::new()),
            },
            Mechanism::AesCbcPad(iv) => {
                let Key::Aes(kb) = k.as_ref() else {
                    return Err(Error::KeyTypeInconsistent);
                };
                Cipher::CbcPad(CbcPad::new(kb, iv, encrypt)?)
            }
            _ => return Err(Error::MechanismInvalid),
        };
        self.with_session(h, |s| {
            let slot = if encrypt {
                &mut s.encrypt
            } else {
                &mut s.decrypt
            };
            if slot.is_some() {
                return Err(Error::OperationActive);
            }
            *slot = Some(op);
            Ok(())
        })
    }

    fn cipher_single(
        &self,
        h: SessionHandle,
        data: &[u8],
        out: Out,
        encrypt: bool,
    ) -> Result<Produced> {
        self.with_session(h, |s| {
            let slot = if encrypt {
                &mut s.encrypt
            } else {
                &mut s.decrypt
            };
            finish(
                slot,
                out,
                |c| match c {
                    Cipher::Gcm { params, buf, .. } => {
                        gcm_need(params, encrypt, buf.len() + data.len())
                    }
                    // Encryption pads to the next whole block; decryption never yields more
                    // than its input.
                    Cipher::CbcPad(_) if encrypt => (data.len() / 16 + 1) * 16,
                    Cipher::CbcPad(_) => data.len(),
                },
                |c| match c {
                    Cipher::Gcm {
                        key,
                        params,
                        mut buf,
                        ..
                    } => {
                        buf.extend_from_slice(data);
                        gcm_run(&key, &params, encrypt, &buf)
                    }
                    Cipher::CbcPad(mut c) => {
                        let mut v = c.update(data)?;
                        v.extend_from_slice(&c.finish()?);
                        Ok(v)
                    }
                },
            )
        })
    }

    fn cipher_update(
        &self,
        h: SessionHandle,
        data: &[u8],
        out: Out,
        encrypt: bool,
    ) -> Result<Produced> {
        self.with_session(h, |s| {
            let slot = if encrypt {
                &mut s.encrypt
            } else {
                &mut s.decrypt
            };
            update(
                slot,
                out,
                |c| match c {
                    Cipher::Gcm { .. } => 0,
                    Cipher::CbcPad(c) => c.update_output_bound(data.len()),
                },
                |c| match c {
                    Cipher::Gcm { buf, .. } => {
                        buf.extend_from_slice(data);
                        Ok(Vec::new())
                    }
                    Cipher::CbcPad(c) => Ok(c.update(data)?),
                },
            )
        })
    }

    fn cipher_final(&self, h: SessionHandle, out: Out, encrypt: bool) -> Result<Produced> {
        self.with_session(h, |s| {
            let slot = if encrypt {
                &mut s.encrypt
            } else {
                &mut s.decrypt
            };
            finish(
                slot,
                out,
                |c| match c {
                    Cipher::Gcm { params, buf, .. } => gcm_need(params, encrypt, buf.len()),
                    Cipher::CbcPad(c) => c.finish_output_bound(),
                },
                |c| match c {
                    Cipher::Gcm {
                        key, params, buf, ..
                    } => gcm_run(&key, &params, encrypt, &buf),
                    Cipher::CbcPad(c) => Ok(c.finish()?),
                },
            )
        })
    }

    /// `C_EncryptInit`.
    pub fn encrypt_init(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        key: ObjectHandle,
    ) -> Result<()> {
        self.cipher_init(h, mech, key, true)
    }
    /// `C_Encrypt`.
    pub fn encrypt(&self, h: SessionHandle, data: &[u8], out: Out) -> Result<Produced> {
        self.cipher_single(h, data, out, true)
    }
    /// `C_EncryptUpdate`.
    pub fn encrypt_update(&self, h: SessionHandle, data: &[u8], out: Out) -> Result<Produced> {
        self.cipher_update(h, data, out, true)
    }
    /// `C_EncryptFinal`.
    pub fn encrypt_final(&self, h: SessionHandle, out: Out) -> Result<Produced> {
        self.cipher_final(h, out, true)
    }
    /// `C_DecryptInit`.
    pub fn decrypt_init(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        key: ObjectHandle,
    ) -> Result<()> {
        self.cipher_init(h, mech, key, false)
    }
    /// `C_Decrypt`.
    pub fn decrypt(&self, h: SessionHandle, data: &[u8], out: Out) -> Result<Produced> {
        self.cipher_single(h, data, out, false)
    }
    /// `C_DecryptUpdate`.
    pub fn decrypt_update(&self, h: SessionHandle, data: &[u8], out: Out) -> Result<Produced> {
        self.cipher_update(h, data, out, false)
    }
    /// `C_DecryptFinal`.
    pub fn decrypt_final(&self, h: SessionHandle, out: Out) -> Result<Produced> {
        self.cipher_final(h, out, false)
    }

    // ----- sign / verify ----------------------------------------------------------------

    fn sig_init(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        key: ObjectHandle,
        usage: Usage,
    ) -> Result<()> {
        let busy = self.with_session(h, |s| {
            Ok(if usage == Usage::Sign {
                s.sign.is_some()
            } else {
                s.verify.is_some()
            })
        })?;
        if busy {
            return Err(Error::OperationActive);
        }
        let (class, key_type, hash) = sign_key_kind(mech, usage)?;
        let (o, k) = self.key_for(h, key)?;
        access::check_use(
            &o.attrs,
            usage,
            mech.ck_type(),
            class,
            key_type,
            &super::today(),
        )?;
        check_pss_key(mech, &k)?;
        let op = SignOp {
            mech: mech.clone(),
            key: k,
            hasher: hash.map(Hasher::new),
            raw: Zeroizing::new(Vec::new()),
            multi: false,
            needs_context_login: usage == Usage::Sign
                && o.attrs.bool_or(CKA_ALWAYS_AUTHENTICATE, false),
        };
        self.with_session(h, |s| {
            let slot = if usage == Usage::Sign {
                &mut s.sign
            } else {
                &mut s.verify
            };
            if slot.is_some() {
                return Err(Error::OperationActive);
            }
            *slot = Some(op);
            Ok(())
        })
    }

    /// `C_SignInit`.
    pub fn sign_init(&self, h: SessionHandle, mech: &Mechanism, key: ObjectHandle) -> Result<()> {
        self.sig_init(h, mech, key, Usage::Sign)
    }

    /// `C_Sign`.
    pub fn sign(&self, h: SessionHandle, data: &[u8], out: Out) -> Result<Produced> {
        self.with_session(h, |s| {
            if s.sign.as_ref().is_some_and(|o| o.multi) {
                s.sign = None;
                return Err(Error::OperationActive);
            }
            finish(
                &mut s.sign,
                out,
                |o| sig_len(&o.key),
                |mut o| {
                    o.absorb(data)?;
                    o.sign()
                },
            )
        })
    }

    /// `C_SignUpdate`.
    pub fn sign_update(&self, h: SessionHandle, data: &[u8]) -> Result<()> {
        self.with_session(h, |s| {
            let op = s.sign.as_mut().ok_or(Error::OperationNotInitialized)?;
            op.multi = true;
            let r = op.absorb(data);
            end_on_error(&mut s.sign, r)
        })
    }

    /// `C_SignFinal`.
    pub fn sign_final(&self, h: SessionHandle, out: Out) -> Result<Produced> {
        self.with_session(h, |s| {
            finish(&mut s.sign, out, |o| sig_len(&o.key), SignOp::sign)
        })
    }

    /// `C_VerifyInit`.
    pub fn verify_init(&self, h: SessionHandle, mech: &Mechanism, key: ObjectHandle) -> Result<()> {
        self.sig_init(h, mech, key, Usage::Verify)
    }

    /// `C_Verify`.
    pub fn verify(&self, h: SessionHandle, data: &[u8], sig: &[u8]) -> Result<()> {
        self.with_session(h, |s| {
            let mut op = s.verify.take().ok_or(Error::OperationNotInitialized)?;
            if op.multi {
                return Err(Error::OperationActive);
            }
            op.absorb(data)?;
            op.verify(sig)
        })
    }

    /// `C_VerifyUpdate`.
    pub fn verify_update(&self, h: SessionHandle, data: &[u8]) -> Result<()> {
        self.with_session(h, |s| {
            let op = s.verify.as_mut().ok_or(Error::OperationNotInitialized)?;
            op.multi = true;
            let r = op.absorb(data);
            end_on_error(&mut s.verify, r)
        })
    }

    /// `C_VerifyFinal`.
    pub fn verify_final(&self, h: SessionHandle, sig: &[u8]) -> Result<()> {
        self.with_session(h, |s| {
            let op = s.verify.take().ok_or(Error::OperationNotInitialized)?;
            op.verify(sig)
        })
    }

    // ----- key generation ---------------------------------------------------------------

    /// `C_GenerateKey`.
    pub fn generate_key(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        template: &[Attr],
    ) -> Result<ObjectHandle> {
        if *mech != Mechanism::AesKeyGen {
            return Err(Error::MechanismInvalid);
        }
        let (s, rw, actor) = self.object_context(h)?;
        let len = access::wanted_ulong(template, CKA_VALUE_LEN).ok_or(Error::TemplateIncomplete)?;
        if !matches!(len, 16 | 24 | 32) {
            return Err(Error::KeySizeRange);
        }
        let t = access::generation_template(template, &[CKA_VALUE], &[CKA_VALUE_LEN])?;
        let value = crypto::aes_generate_key(len as usize)?;
        let material = vec![
            Attr::bytes(CKA_VALUE, value.to_vec()),
            Attr::ulong(CKA_VALUE_LEN, len),
        ];
        let attrs = access::new_generated(
            &t,
            CKO_SECRET_KEY,
            CKK_AES,
            CKM_AES_KEY_GEN,
            material,
            actor,
            Self::unique_id()?,
        )?;
        self.insert_object(s, h, rw, attrs)
    }

    /// `C_GenerateKeyPair`: both keys are written in one transaction.
    pub fn generate_key_pair(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        public: &[Attr],
        private: &[Attr],
    ) -> Result<(ObjectHandle, ObjectHandle)> {
        let (s, rw, actor) = self.object_context(h)?;
        let (pub_attrs, priv_attrs) = match mech {
            Mechanism::EcKeyPairGen => {
                let params =
                    access::wanted_bytes(public, CKA_EC_PARAMS).ok_or(Error::TemplateIncomplete)?;
                let curve = Curve::from_oid_der(params).ok_or(Error::CurveNotSupported)?;
                let pt = access::generation_template(public, &[CKA_EC_POINT], &[CKA_EC_PARAMS])?;
                let st = access::generation_template(private, &[CKA_VALUE], &[CKA_EC_PARAMS])?;
                let (d, point) = crypto::ec_generate(curve)?;
                let oid = curve.oid_der().to_vec();
                let pub_material = vec![
                    Attr::bytes(CKA_EC_PARAMS, oid.clone()),
                    Attr::bytes(CKA_EC_POINT, access::der_octet_string(&point)),
                ];
                let priv_material = vec![
                    Attr::bytes(CKA_EC_PARAMS, oid),
                    Attr::bytes(CKA_VALUE, d.to_vec()),
                ];
                (
                    access::new_generated(
                        &pt,
                        CKO_PUBLIC_KEY,
                        CKK_EC,
                        CKM_EC_KEY_PAIR_GEN,
                        pub_material,
                        actor,
                        Self::unique_id()?,
                    )?,
                    access::new_generated(
                        &st,
                        CKO_PRIVATE_KEY,
                        CKK_EC,
                        CKM_EC_KEY_PAIR_GEN,
                        priv_material,
                        actor,
                        Self::unique_id()?,
                    )?,
                )
            }
            Mechanism::RsaKeyPairGen => {
                let bits = access::wanted_ulong(public, CKA_MODULUS_BITS)
                    .ok_or(Error::TemplateIncomplete)?;
                if !(2048..=8192).contains(&bits) || bits % 8 != 0 {
                    return Err(Error::KeySizeRange);
                }
                let e = access::wanted_bytes(public, CKA_PUBLIC_EXPONENT)
                    .map(<[u8]>::to_vec)
                    .unwrap_or_else(|| vec![1, 0, 1]);
                let pt = access::generation_template(
                    public,
                    &[CKA_MODULUS],
                    &[CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT],
                )?;
                let st = access::generation_template(
                    private,
                    &[
                        CKA_PRIVATE_EXPONENT,
                        CKA_PRIME_1,
                        CKA_PRIME_2,
                        CKA_EXPONENT_1,
                        CKA_EXPONENT_2,
                        CKA_COEFFICIENT,
                        CKA_MODULUS,
                    ],
                    &[CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT],
                )?;
                let c = crypto::rsa_generate(bits as usize, &e)?;
                let pub_material = vec![
                    Attr::bytes(CKA_MODULUS, c.modulus.to_vec()),
                    Attr::bytes(CKA_PUBLIC_EXPONENT, c.public_exponent.to_vec()),
                    Attr::ulong(CKA_MODULUS_BITS, bits),
                ];
                let priv_material = vec![
                    Attr::bytes(CKA_MODULUS, c.modulus.to_vec()),
                    Attr::bytes(CKA_PUBLIC_EXPONENT, c.public_exponent.to_vec()),
                    Attr::bytes(CKA_PRIVATE_EXPONENT, c.private_exponent.to_vec()),
                    Attr::bytes(CKA_PRIME_1, c.prime1.to_vec()),
                    Attr::bytes(CKA_PRIME_2, c.prime2.to_vec()),
                    Attr::bytes(CKA_EXPONENT_1, c.exponent1.to_vec()),
                    Attr::bytes(CKA_EXPONENT_2, c.exponent2.to_vec()),
                    Attr::bytes(CKA_COEFFICIENT, c.coefficient.to_vec()),
                ];
                (
                    access::new_generated(
                        &pt,
                        CKO_PUBLIC_KEY,
                        CKK_RSA,
                        CKM_RSA_PKCS_KEY_PAIR_GEN,
                        pub_material,
                        actor,
                        Self::unique_id()?,
                    )?,
                    access::new_generated(
                        &st,
                        CKO_PRIVATE_KEY,
                        CKK_RSA,
                        CKM_RSA_PKCS_KEY_PAIR_GEN,
                        priv_material,
                        actor,
                        Self::unique_id()?,
                    )?,
                )
            }
            _ => return Err(Error::MechanismInvalid),
        };
        let handles = self.insert_objects(s, h, rw, vec![pub_attrs, priv_attrs])?;
        Ok((handles[0], handles[1]))
    }
}

impl Engine {
    /// `C_SessionCancel`: ends the operations named by `flags`.
    pub fn cancel(&self, h: SessionHandle, flags: CK_FLAGS) -> Result<()> {
        self.with_session(h, |s| {
            if flags & CKF_FIND_OBJECTS != 0 {
                s.find = None;
            }
            if flags & CKF_DIGEST != 0 {
                s.digest = None;
            }
            if flags & CKF_ENCRYPT != 0 {
                s.encrypt = None;
            }
            if flags & CKF_DECRYPT != 0 {
                s.decrypt = None;
            }
            if flags & CKF_SIGN != 0 {
                s.sign = None;
            }
            if flags & CKF_VERIFY != 0 {
                s.verify = None;
            }
            Ok(())
        })
    }
}
