//! Sessions' cryptographic operations: digest, encrypt, decrypt, sign and verify. Each
//! operation is built once at `*Init` from the typed mechanism and the parsed key, then driven
//! by single- or multi-part calls. The output-length protocol lives in [`finish`] and [`update`].

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::access::Usage;
use super::cipher::{self, Cipher};
use super::sign::{self, SignOp};
use std::sync::Arc;

use super::keys::Key;
use super::{lock, Engine, Error, Obj, ObjectHandle, Result, SessionHandle};
use crate::crypto::Hasher;
use crate::mechanism::{Kind, Mechanism};

/// Where an operation's output goes: a length query, or a buffer of some capacity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Out {
    /// The caller passed no buffer and asks for the length.
    Query,
    /// The caller's buffer holds this many bytes.
    Capacity(usize),
}

/// What an output-producing call gives back.
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Produced {
    /// The output did not fit (or was only asked about): this many bytes are needed. The
    /// operation stays active.
    Needed(usize),
    /// The output.
    Data(Vec<u8>),
}

/// One session's state.
pub(crate) struct Session {
    pub(crate) find: Option<Vec<ObjectHandle>>,
    digest: Option<(Hasher, bool)>,
    encrypt: Option<(Cipher, bool)>,
    decrypt: Option<(Cipher, bool)>,
    sign: Option<SignOp>,
    verify: Option<SignOp>,
}

impl Session {
    pub(crate) fn new() -> Session {
        Session {
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
pub(crate) fn finish<T>(
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

impl Engine {
    pub(crate) fn with_session<R>(
        &self,
        h: SessionHandle,
        f: impl FnOnce(&mut Session) -> Result<R>,
    ) -> Result<R> {
        let sess = self.session(h)?;
        let mut g = lock(&sess.op);
        f(&mut g)
    }

    /// The common part of every `*Init` with a key: the operation slot (`slot` picks it from
    /// the session) must be free, the key must suit the mechanism and be permitted for this
    /// use; then `make` builds the operation from the key object and its parsed key, and it is
    /// stored in the slot.
    fn start_with_key<T>(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        key: ObjectHandle,
        usage: Usage,
        slot: fn(&mut Session) -> &mut Option<T>,
        make: impl FnOnce(&Obj, Arc<Key>) -> Result<T>,
    ) -> Result<()> {
        let sess = self.session(h)?;
        if slot(&mut lock(&sess.op)).is_some() {
            return Err(Error::OperationActive);
        }
        let (class, key_type) = match usage {
            Usage::Encrypt | Usage::Decrypt => cipher::key_kind(mech, usage)?,
            _ => sign::key_kind(mech, usage)?,
        };
        let (o, k) = self.key_in(&sess, key)?;
        o.key_use()
            .check(usage, mech.ck_type(), class, key_type, super::today)?;
        self.audit_key_use(h, &o, usage, mech.ck_type())?;
        let op = make(&o, k)?;
        let mut g = lock(&sess.op);
        let free = slot(&mut g);
        if free.is_some() {
            return Err(Error::OperationActive);
        }
        *free = Some(op);
        Ok(())
    }

    // ----- digest -----------------------------------------------------------------------

    /// `C_DigestInit`.
    pub fn digest_init(&self, h: SessionHandle, mech: &Mechanism) -> Result<()> {
        let Kind::Digest(alg) = mech.kind else {
            return Err(Error::MechanismInvalid);
        };
        self.with_session(h, |s| {
            if s.digest.is_some() {
                return Err(Error::OperationActive);
            }
            s.digest = Some((Hasher::new(alg), false));
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
        self.with_session(h, |s| {
            s.digest
                .as_ref()
                .map(|_| ())
                .ok_or(Error::OperationNotInitialized)
        })?;
        let (o, _) = self.key_for(h, key)?;
        if o.attrs.class() != Some(CKO_SECRET_KEY) {
            return Err(Error::KeyIndigestible);
        }
        if !o.attrs.bool_or(CKA_EXTRACTABLE, false) && o.attrs.bool_or(CKA_SENSITIVE, true) {
            // Digesting a secret is a way to test guesses about it: only for keys the caller
            // could read anyway.
            return Err(Error::KeyIndigestible);
        }
        let value = Zeroizing::new(
            o.attrs
                .bytes(CKA_VALUE)
                .ok_or(Error::KeyIndigestible)?
                .to_vec(),
        );
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
        let slot: fn(&mut Session) -> &mut Option<(Cipher, bool)> = if encrypt {
            |s| &mut s.encrypt
        } else {
            |s| &mut s.decrypt
        };
        self.start_with_key(h, mech, key, usage, slot, |_, k| {
            Ok((Cipher::new(mech, k, encrypt)?, false))
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
            if slot.as_ref().is_some_and(|(_, multi)| *multi) {
                *slot = None;
                return Err(Error::OperationActive);
            }
            finish(
                slot,
                out,
                |(c, _)| {
                    let bound = c.single_bound(data.len());
                    match out {
                        // The bound does not fit: ask for exactly what is needed, which may.
                        Out::Capacity(cap) if cap < bound => {
                            c.exact_single_len(data).unwrap_or(bound)
                        }
                        _ => bound,
                    }
                },
                |(c, _)| c.single(data),
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
                |(c, _)| c.update_bound(data.len()),
                |(c, multi)| {
                    *multi = true;
                    c.update(data)
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
            finish(slot, out, |(c, _)| c.final_bound(), |(c, _)| c.finish())
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
        let slot: fn(&mut Session) -> &mut Option<SignOp> = if usage == Usage::Sign {
            |s| &mut s.sign
        } else {
            |s| &mut s.verify
        };
        self.start_with_key(h, mech, key, usage, slot, |o, k| {
            let context = usage == Usage::Sign && o.attrs.bool_or(CKA_ALWAYS_AUTHENTICATE, false);
            SignOp::new(mech, k, context)
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
            finish(&mut s.sign, out, SignOp::output_len, |mut o| {
                o.absorb(data)?;
                o.sign()
            })
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
            finish(&mut s.sign, out, SignOp::output_len, SignOp::sign)
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
