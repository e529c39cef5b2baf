//! Signing and verification: public-key signatures and MACs, single- and multi-part.

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::access::Usage;
use super::keys::Key;
use super::{Error, Result};
use crate::crypto::cmac::Cmac;
use crate::crypto::edwards::{Ed25519PrivateKey, Ed25519PublicKey};
use crate::crypto::mac::{verify_mac, Hmac};
use crate::crypto::Hasher;
use crate::mechanism::{EddsaParams, Kind, Mechanism, PssParams};

/// Input absorbed so far.
enum Absorb {
    /// A running hash (hash-then-sign mechanisms).
    Hash(Hasher),
    /// A running HMAC.
    Hmac(Hmac),
    /// A running CMAC.
    Cmac(Cmac),
    /// The caller's bytes, kept for mechanisms that sign them as they are.
    Raw(Zeroizing<Vec<u8>>),
}

/// A signature or verification in progress.
pub(crate) struct SignOp {
    kind: Kind,
    key: Arc<Key>,
    absorb: Absorb,
    /// Whether `*Update` has been used (single-part calls are then refused).
    pub(crate) multi: bool,
    /// The key demands a context-specific login before each use.
    pub(crate) needs_context_login: bool,
}

/// The class and key type a signing mechanism needs.
pub(crate) fn key_kind(m: &Mechanism, usage: Usage) -> Result<(CK_OBJECT_CLASS, CK_KEY_TYPE)> {
    let asym = if usage == Usage::Sign {
        CKO_PRIVATE_KEY
    } else {
        CKO_PUBLIC_KEY
    };
    Ok(match &m.kind {
        Kind::Ecdsa | Kind::EcdsaWith(_) => (asym, CKK_EC),
        Kind::RsaPkcs
        | Kind::RsaX509
        | Kind::RsaPkcsWith(_)
        | Kind::RsaPss(_)
        | Kind::RsaPssWith(_) => (asym, CKK_RSA),
        Kind::Eddsa(_) => (asym, CKK_EC_EDWARDS),
        Kind::Hmac(..) => (CKO_SECRET_KEY, CKK_GENERIC_SECRET),
        Kind::AesCmac(_) => (CKO_SECRET_KEY, CKK_AES),
        _ => return Err(Error::MechanismInvalid),
    })
}

fn pss_fits(p: &PssParams, key: &Key) -> Result<()> {
    // emLen must hold the hash, the salt and two more bytes.
    if p.hash.output_len() + p.salt_len + 2 > key.block_len() {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(())
}

/// Most bytes a raw-input mechanism buffers.
const MAX_RAW: usize = 64 << 20;

impl SignOp {
    pub(crate) fn new(m: &Mechanism, key: Arc<Key>, needs_context_login: bool) -> Result<SignOp> {
        let absorb = match &m.kind {
            Kind::EcdsaWith(h) | Kind::RsaPkcsWith(h) => Absorb::Hash(Hasher::new(*h)),
            Kind::RsaPssWith(p) => {
                pss_fits(p, &key)?;
                Absorb::Hash(Hasher::new(p.hash))
            }
            Kind::RsaPss(p) => {
                pss_fits(p, &key)?;
                Absorb::Raw(Zeroizing::new(Vec::new()))
            }
            Kind::Hmac(h, _) => Absorb::Hmac(key.hmac(*h)?),
            Kind::AesCmac(_) => Absorb::Cmac(Cmac::new(key.secret()?)?),
            _ => Absorb::Raw(Zeroizing::new(Vec::new())),
        };
        Ok(SignOp {
            kind: m.kind.clone(),
            key,
            absorb,
            multi: false,
            needs_context_login,
        })
    }

    /// The signature or MAC length.
    pub(crate) fn output_len(&self) -> usize {
        match &self.kind {
            Kind::Hmac(_, n) | Kind::AesCmac(n) => *n,
            _ => self.key.block_len(),
        }
    }

    fn raw_limit(&self) -> usize {
        match &self.kind {
            Kind::RsaPkcs => self.key.block_len().saturating_sub(11),
            Kind::RsaX509 => self.key.block_len(),
            Kind::RsaPss(p) => p.hash.output_len(),
            Kind::Ecdsa => 1024,
            _ => MAX_RAW,
        }
    }

    pub(crate) fn absorb(&mut self, data: &[u8]) -> Result<()> {
        let limit = self.raw_limit();
        match &mut self.absorb {
            Absorb::Hash(h) => h.update(data),
            Absorb::Hmac(h) => h.update(data),
            Absorb::Cmac(c) => c.update(data)?,
            Absorb::Raw(r) => {
                if r.len() + data.len() > limit {
                    return Err(Error::DataLenRange);
                }
                r.extend_from_slice(data);
            }
        }
        Ok(())
    }

    /// The MAC, or the bytes the signature primitive works on.
    fn message(self) -> Result<(Kind, Arc<Key>, Zeroizing<Vec<u8>>)> {
        let m = match self.absorb {
            Absorb::Hash(h) => Zeroizing::new(h.finish()),
            Absorb::Hmac(h) => h.finish_secret()?,
            Absorb::Cmac(c) => Zeroizing::new(c.finish()?.to_vec()),
            Absorb::Raw(r) => r,
        };
        Ok((self.kind, self.key, m))
    }

    pub(crate) fn sign(self) -> Result<Vec<u8>> {
        if self.needs_context_login {
            return Err(Error::UserNotLoggedIn);
        }
        let (kind, key, m) = self.message()?;
        Ok(match (&kind, key.as_ref()) {
            (Kind::Ecdsa | Kind::EcdsaWith(_), Key::EcPrivate(k)) => k.sign_digest(&m)?,
            (Kind::RsaPkcs, Key::RsaPrivate(k)) => k.sign_pkcs1_raw(&m)?,
            (Kind::RsaX509, Key::RsaPrivate(k)) => k.sign_raw(&m)?,
            (Kind::RsaPkcsWith(h), Key::RsaPrivate(k)) => k.sign_pkcs1_raw(&h.digest_info(&m))?,
            (Kind::RsaPss(p) | Kind::RsaPssWith(p), Key::RsaPrivate(k)) => {
                if m.len() != p.hash.output_len() {
                    return Err(Error::DataLenRange);
                }
                k.sign_pss(p.hash, p.mgf1, p.salt_len, &m)?
            }
            (Kind::Eddsa(p), Key::EdPrivate(k)) => eddsa_sign(k, p, &m)?,
            (Kind::Hmac(_, n) | Kind::AesCmac(n), Key::Secret(..)) => {
                m.get(..*n).ok_or(Error::MechanismParamInvalid)?.to_vec()
            }
            _ => return Err(Error::KeyTypeInconsistent),
        })
    }

    pub(crate) fn verify(self, sig: &[u8]) -> Result<()> {
        let (kind, key, m) = self.message()?;
        match (&kind, key.as_ref()) {
            (Kind::Ecdsa | Kind::EcdsaWith(_), Key::EcPublic(k)) => k.verify_digest(&m, sig)?,
            (Kind::RsaPkcs, Key::RsaPublic(k)) => k.verify_pkcs1_raw(&m, sig)?,
            (Kind::RsaX509, Key::RsaPublic(k)) => {
                if sig.len() != k.modulus_len() {
                    return Err(Error::SignatureLenRange);
                }
                let recovered = k.verify_recover_raw(sig)?;
                let mut expect = vec![0u8; k.modulus_len().saturating_sub(m.len())];
                expect.extend_from_slice(&m);
                verify_mac(&expect, &recovered).map_err(|_| Error::SignatureInvalid)?;
            }
            (Kind::RsaPkcsWith(h), Key::RsaPublic(k)) => {
                k.verify_pkcs1_raw(&h.digest_info(&m), sig)?
            }
            (Kind::RsaPss(p) | Kind::RsaPssWith(p), Key::RsaPublic(k)) => {
                if m.len() != p.hash.output_len() {
                    return Err(Error::DataLenRange);
                }
                k.verify_pss(p.hash, p.mgf1, p.salt_len, &m, sig)?
            }
            (Kind::Eddsa(p), Key::EdPublic(k)) => eddsa_verify(k, p, &m, sig)?,
            (Kind::Hmac(_, n) | Kind::AesCmac(n), Key::Secret(..)) => {
                if sig.len() != *n {
                    return Err(Error::SignatureLenRange);
                }
                verify_mac(m.get(..*n).ok_or(Error::MechanismParamInvalid)?, sig)?;
            }
            _ => return Err(Error::KeyTypeInconsistent),
        }
        Ok(())
    }
}

fn eddsa_sign(k: &Ed25519PrivateKey, p: &EddsaParams, m: &[u8]) -> Result<Vec<u8>> {
    if !p.prehash && p.context.is_none() {
        return Ok(k.sign(m)?);
    }
    Ok(k.sign_with(p.prehash, p.context.as_deref().unwrap_or_default(), m)?)
}

fn eddsa_verify(k: &Ed25519PublicKey, p: &EddsaParams, m: &[u8], sig: &[u8]) -> Result<()> {
    if sig.len() != 64 {
        return Err(Error::SignatureLenRange);
    }
    if !p.prehash && p.context.is_none() {
        return Ok(k.verify(m, sig)?);
    }
    Ok(k.verify_with(p.prehash, p.context.as_deref().unwrap_or_default(), m, sig)?)
}
