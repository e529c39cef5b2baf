//! Keys parsed once from their attributes for use, and the checks that tie a key to the
//! mechanisms that may use it.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::access;
use super::{Error, Result};
use crate::crypto::edwards::{Ed25519PrivateKey, Ed25519PublicKey};
use crate::crypto::mac::Hmac;
use crate::crypto::{EcPrivateKey, EcPublicKey, HashAlg, RsaPrivateKey, RsaPublicKey};
use crate::object::Attributes;

/// A key ready for use. Built lazily from an object's attributes and cached with the object.
pub(crate) enum Key {
    /// AES or generic secret key material.
    Secret(Zeroizing<Vec<u8>>, MacCache),
    RsaPrivate(RsaPrivateKey),
    RsaPublic(RsaPublicKey),
    EcPrivate(EcPrivateKey),
    EcPublic(EcPublicKey),
    EdPrivate(Ed25519PrivateKey),
    EdPublic(Ed25519PublicKey),
    XPrivate(Zeroizing<Vec<u8>>),
}

fn attr(a: &Attributes, ty: CK_ATTRIBUTE_TYPE) -> Result<&[u8]> {
    a.bytes(ty).ok_or(Error::KeyTypeInconsistent)
}

/// The raw public value inside a DER OCTET STRING, or the bytes as given.
pub(crate) fn unwrap_octet_string(b: &[u8]) -> &[u8] {
    match b {
        [0x04, n, rest @ ..] if usize::from(*n) == rest.len() && *n < 0x80 => rest,
        [0x04, 0x81, n, rest @ ..] if usize::from(*n) == rest.len() => rest,
        _ => b,
    }
}

/// An HMAC context keyed once with a secret key, forked for each operation so the key's inner
/// and outer pads are not recomputed every time.
#[derive(Default)]
pub(crate) struct MacCache(std::sync::OnceLock<Hmac>);

impl Key {
    /// A fresh HMAC over `hash` keyed with this secret key.
    pub(crate) fn hmac(&self, hash: HashAlg) -> Result<Hmac> {
        let Key::Secret(v, cache) = self else {
            return Err(Error::KeyTypeInconsistent);
        };
        if let Some(h) = cache.0.get() {
            if h.hash() == hash {
                return Ok(h.fork()?);
            }
            return Ok(Hmac::new(hash, v)?);
        }
        let h = Hmac::new(hash, v)?;
        let fork = h.fork()?;
        let _ = cache.0.set(h);
        Ok(fork)
    }
}

impl Key {
    pub(crate) fn from_attributes(a: &Attributes) -> Result<Key> {
        let bad = |_| Error::General("stored key material is invalid".into());
        Ok(match (a.class(), a.key_type()) {
            (Some(CKO_SECRET_KEY), Some(_)) => Key::Secret(
                Zeroizing::new(attr(a, CKA_VALUE)?.to_vec()),
                MacCache::default(),
            ),
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
            (Some(CKO_PRIVATE_KEY), Some(CKK_EC_EDWARDS)) => {
                Key::EdPrivate(Ed25519PrivateKey::from_seed(attr(a, CKA_VALUE)?).map_err(bad)?)
            }
            (Some(CKO_PUBLIC_KEY), Some(CKK_EC_EDWARDS)) => {
                Key::EdPublic(Ed25519PublicKey::from_bytes(attr(a, CKA_EC_POINT)?).map_err(bad)?)
            }
            (Some(CKO_PRIVATE_KEY), Some(CKK_EC_MONTGOMERY)) => {
                Key::XPrivate(Zeroizing::new(attr(a, CKA_VALUE)?.to_vec()))
            }
            _ => return Err(Error::KeyTypeInconsistent),
        })
    }

    /// The secret bytes of a secret key.
    pub(crate) fn secret(&self) -> Result<&[u8]> {
        match self {
            Key::Secret(v, _) => Ok(v),
            _ => Err(Error::KeyTypeInconsistent),
        }
    }

    /// The length of a signature or of a public-key cipher block made with this key.
    pub(crate) fn block_len(&self) -> usize {
        match self {
            Key::RsaPrivate(r) => r.modulus_len(),
            Key::RsaPublic(r) => r.modulus_len(),
            Key::EcPrivate(e) => 2 * e.curve().field_len(),
            Key::EcPublic(e) => 2 * e.curve().field_len(),
            Key::EdPrivate(_) | Key::EdPublic(_) => 64,
            Key::Secret(..) | Key::XPrivate(_) => 0,
        }
    }
}
