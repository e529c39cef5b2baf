//! Encryption and decryption: streaming AES modes, buffered authenticated and key-wrap modes,
//! and RSA.

use std::sync::Arc;

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::access::Usage;
use super::keys::Key;
use super::{Error, Result};
use crate::crypto::aes_modes::{Blocks, Ctr, Cts, CtsVariant};
use crate::crypto::{self, keywrap, CbcPad};
use crate::mechanism::{Kind, Mechanism};

/// A streaming AES mode: output follows input, block by block.
pub(crate) enum Stream {
    /// ECB or CBC without padding.
    Blocks(Blocks),
    /// CBC with PKCS#7 padding; when decrypting, also the key and IV, so the exact length of
    /// a single-part result can be learnt from the last block without touching the stream.
    CbcPad(CbcPad, Option<(Arc<Key>, Vec<u8>)>),
    Ctr(Ctr),
    Cts(Cts),
}

impl Stream {
    fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        Ok(match self {
            Stream::Blocks(s) => s.update(data)?,
            Stream::CbcPad(s, _) => s.update(data)?,
            Stream::Ctr(s) => s.update(data)?,
            Stream::Cts(s) => s.update(data)?,
        })
    }

    fn finish(self) -> Result<Vec<u8>> {
        Ok(match self {
            Stream::Blocks(s) => s.finish()?,
            Stream::CbcPad(s, _) => s.finish()?,
            Stream::Ctr(s) => s.finish()?,
            Stream::Cts(s) => s.finish()?,
        })
    }

    fn update_bound(&self, n: usize) -> usize {
        match self {
            Stream::Blocks(s) => s.update_output_bound(n),
            Stream::CbcPad(s, _) => s.update_output_bound(n),
            Stream::Ctr(s) => s.update_output_bound(n),
            Stream::Cts(s) => s.update_output_bound(n),
        }
    }

    fn finish_bound(&self) -> usize {
        match self {
            Stream::Blocks(s) => s.finish_output_bound(),
            Stream::CbcPad(s, _) => s.finish_output_bound(),
            Stream::Ctr(s) => s.finish_output_bound(),
            Stream::Cts(s) => s.finish_output_bound(),
        }
    }
}

/// A cipher in progress.
pub(crate) enum Cipher {
    /// A streaming mode.
    Stream(Stream, bool),
    /// A mode that needs the whole input at once (GCM, CCM, key wrap, RSA). Decryption in
    /// these modes must not release anything before the whole input is checked.
    Buffered {
        kind: Kind,
        key: Arc<Key>,
        encrypt: bool,
        buf: Zeroizing<Vec<u8>>,
    },
}

/// The class and key type an encryption mechanism needs.
pub(crate) fn key_kind(m: &Mechanism, usage: Usage) -> Result<(CK_OBJECT_CLASS, CK_KEY_TYPE)> {
    Ok(match &m.kind {
        Kind::AesEcb
        | Kind::AesCbc(_)
        | Kind::AesCbcPad(_)
        | Kind::AesCtr { .. }
        | Kind::AesGcm(_)
        | Kind::AesCcm(_)
        | Kind::AesCts(_)
        | Kind::AesKeyWrap
        | Kind::AesKeyWrapPad => (CKO_SECRET_KEY, CKK_AES),
        Kind::RsaPkcs | Kind::RsaX509 | Kind::RsaOaep(_) => {
            if usage == Usage::Encrypt {
                (CKO_PUBLIC_KEY, CKK_RSA)
            } else {
                (CKO_PRIVATE_KEY, CKK_RSA)
            }
        }
        _ => return Err(Error::MechanismInvalid),
    })
}

/// Most bytes a buffered mode accepts.
const MAX_BUFFERED: usize = 64 << 20;

impl Cipher {
    pub(crate) fn new(m: &Mechanism, key: Arc<Key>, encrypt: bool) -> Result<Cipher> {
        let stream = match &m.kind {
            Kind::AesEcb => Some(Stream::Blocks(Blocks::ecb(key.secret()?, encrypt)?)),
            Kind::AesCbc(iv) => Some(Stream::Blocks(Blocks::cbc(key.secret()?, iv, encrypt)?)),
            Kind::AesCbcPad(iv) => Some(Stream::CbcPad(
                CbcPad::new(key.secret()?, iv, encrypt)?,
                (!encrypt).then(|| (key.clone(), iv.to_vec())),
            )),
            Kind::AesCtr {
                counter_bits,
                block,
            } => Some(Stream::Ctr(Ctr::new(
                key.secret()?,
                block,
                *counter_bits as usize,
            )?)),
            Kind::AesCts(iv) => Some(Stream::Cts(Cts::new(
                key.secret()?,
                iv,
                encrypt,
                CtsVariant::Cs1,
            )?)),
            _ => None,
        };
        if let Some(s) = stream {
            return Ok(Cipher::Stream(s, encrypt));
        }
        if let Kind::AesGcm(_) | Kind::AesCcm(_) | Kind::AesKeyWrap | Kind::AesKeyWrapPad = &m.kind
        {
            crypto::aes::aes_key_check(key.secret()?.len())?;
        }
        Ok(Cipher::Buffered {
            kind: m.kind.clone(),
            key,
            encrypt,
            buf: Zeroizing::new(Vec::new()),
        })
    }

    /// An upper bound on a single-part call's output for `n` input bytes.
    pub(crate) fn single_bound(&self, n: usize) -> usize {
        match self {
            Cipher::Stream(Stream::CbcPad(..), true) => (n / 16 + 1) * 16,
            Cipher::Stream(_, _) => n,
            Cipher::Buffered { .. } => self.final_bound_with(n),
        }
    }

    /// The exact length of a single-part result for `data`, where it can be known without
    /// running the operation: CBC-PAD decryption reads its padding from the last block
    /// (decrypted on the side, the operation itself untouched). `None` elsewhere, or when
    /// the padding is invalid (the operation itself will then report the error).
    pub(crate) fn exact_single_len(&self, data: &[u8]) -> Option<usize> {
        let Cipher::Stream(Stream::CbcPad(_, Some((key, iv))), false) = self else {
            return None;
        };
        let n = data.len();
        if n == 0 || n % 16 != 0 {
            return None;
        }
        let prev = if n == 16 {
            &iv[..]
        } else {
            &data[n - 32..n - 16]
        };
        let last = crypto::aes::cbc_pad_decrypt(key.secret().ok()?, prev, &data[n - 16..]).ok()?;
        Some(n - 16 + last.len())
    }

    /// An upper bound on an update's output.
    pub(crate) fn update_bound(&self, n: usize) -> usize {
        match self {
            Cipher::Stream(s, _) => s.update_bound(n),
            Cipher::Buffered { .. } => 0,
        }
    }

    /// An upper bound on the final call's output.
    pub(crate) fn final_bound(&self) -> usize {
        match self {
            Cipher::Stream(s, _) => s.finish_bound(),
            Cipher::Buffered { buf, .. } => self.final_bound_with(buf.len()),
        }
    }

    fn final_bound_with(&self, total: usize) -> usize {
        let Cipher::Buffered {
            kind, key, encrypt, ..
        } = self
        else {
            return 0;
        };
        let e = *encrypt;
        match kind {
            Kind::AesGcm(p) => {
                let t = (p.tag_bits / 8) as usize;
                if e {
                    total + t
                } else {
                    total.saturating_sub(t)
                }
            }
            Kind::AesCcm(p) => {
                if e {
                    total + p.mac_len
                } else {
                    total.saturating_sub(p.mac_len)
                }
            }
            Kind::AesKeyWrap => {
                if e {
                    total + 8
                } else {
                    total.saturating_sub(8)
                }
            }
            Kind::AesKeyWrapPad => {
                if e {
                    total.div_ceil(8) * 8 + 8
                } else {
                    total.saturating_sub(8)
                }
            }
            _ => key.block_len(),
        }
    }

    pub(crate) fn update(&mut self, data: &[u8]) -> Result<Vec<u8>> {
        match self {
            Cipher::Stream(s, _) => s.update(data),
            Cipher::Buffered { buf, .. } => {
                if buf.len() + data.len() > MAX_BUFFERED {
                    return Err(Error::DataLenRange);
                }
                buf.extend_from_slice(data);
                Ok(Vec::new())
            }
        }
    }

    /// A single-part operation on `data`: the same result as [`update`](Self::update) then
    /// [`finish`](Self::finish), without copying the input into the buffer of a one-shot
    /// mechanism.
    pub(crate) fn single(mut self, data: &[u8]) -> Result<Vec<u8>> {
        match &self {
            Cipher::Buffered {
                kind,
                key,
                encrypt,
                buf,
            } if buf.is_empty() => {
                if data.len() > MAX_BUFFERED {
                    return Err(Error::DataLenRange);
                }
                run_buffered(kind, key, *encrypt, data)
            }
            _ => {
                let mut v = self.update(data)?;
                v.extend_from_slice(&self.finish()?);
                Ok(v)
            }
        }
    }

    pub(crate) fn finish(self) -> Result<Vec<u8>> {
        match self {
            Cipher::Stream(s, _) => s.finish(),
            Cipher::Buffered {
                kind,
                key,
                encrypt,
                buf,
            } => run_buffered(&kind, &key, encrypt, &buf),
        }
    }
}

fn run_buffered(kind: &Kind, key: &Key, encrypt: bool, data: &[u8]) -> Result<Vec<u8>> {
    let plain = |v: Zeroizing<Vec<u8>>| v.to_vec();
    Ok(match (kind, key, encrypt) {
        (Kind::AesGcm(p), Key::Secret(k, _), true) => {
            crypto::gcm_encrypt(k, &p.iv, &p.aad, p.tag_bits as usize, data)?
        }
        (Kind::AesGcm(p), Key::Secret(k, _), false) => {
            crypto::gcm_decrypt(k, &p.iv, &p.aad, p.tag_bits as usize, data)?
        }
        (Kind::AesCcm(p), Key::Secret(k, _), true) => {
            if p.data_len != data.len() as u64 {
                return Err(Error::DataLenRange);
            }
            crypto::aes_modes::ccm_encrypt(k, &p.nonce, &p.aad, p.mac_len, data)?
        }
        (Kind::AesCcm(p), Key::Secret(k, _), false) => {
            let expected = usize::try_from(p.data_len)
                .ok()
                .and_then(|n| n.checked_add(p.mac_len));
            if expected != Some(data.len()) {
                return Err(Error::EncryptedDataLenRange);
            }
            crypto::aes_modes::ccm_decrypt(k, &p.nonce, &p.aad, p.mac_len, data)?
        }
        (Kind::AesKeyWrap, Key::Secret(k, _), true) => keywrap::kw_wrap(k, data)?,
        (Kind::AesKeyWrap, Key::Secret(k, _), false) => plain(keywrap::kw_unwrap(k, data)?),
        (Kind::AesKeyWrapPad, Key::Secret(k, _), true) => keywrap::kwp_wrap(k, data)?,
        (Kind::AesKeyWrapPad, Key::Secret(k, _), false) => plain(keywrap::kwp_unwrap(k, data)?),
        (Kind::RsaPkcs, Key::RsaPublic(k), true) => k.encrypt_pkcs1(data)?,
        (Kind::RsaPkcs, Key::RsaPrivate(k), false) => plain(k.decrypt_pkcs1(data)?),
        (Kind::RsaX509, Key::RsaPublic(k), true) => k.encrypt_raw(data)?,
        (Kind::RsaX509, Key::RsaPrivate(k), false) => plain(k.decrypt_raw(data)?),
        (Kind::RsaOaep(p), Key::RsaPublic(k), true) => {
            k.encrypt_oaep(p.hash, p.mgf1, &p.label, data)?
        }
        (Kind::RsaOaep(p), Key::RsaPrivate(k), false) => {
            plain(k.decrypt_oaep(p.hash, p.mgf1, &p.label, data)?)
        }
        _ => return Err(Error::KeyTypeInconsistent),
    })
}
