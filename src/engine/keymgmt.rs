//! Making keys inside the token: generation, derivation, wrapping and unwrapping.

use cryptoki_sys::*;
use zeroize::Zeroizing;

use super::access::{self, Actor, Origin, Usage};
use super::keys::Key;
use super::{ops::finish, Out};
use super::{Engine, Error, ObjectHandle, Produced, Result, SessionHandle, Slot};
use crate::crypto::edwards;
use crate::crypto::pkcs8::{self, PrivateKeyParts};
use crate::crypto::{self, kdf, keywrap, Curve};
use crate::mechanism::{EcKdf, HkdfSalt, Kind, Mechanism, Sp800Data, Sp800Prf};
use crate::object::{Attr, Attributes};

/// The DER OID of Ed25519 (1.3.101.112), used for keys that arrive without parameters.
const ED25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
/// The DER OID of X25519 (1.3.101.110).
const X25519_OID: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x6e];

/// Most bytes a derived or generated secret may have.
const MAX_SECRET: usize = 512;

fn template_class(t: &[Attr], default: CK_OBJECT_CLASS) -> CK_OBJECT_CLASS {
    access::wanted_ulong(t, CKA_CLASS).unwrap_or(default)
}

fn template_key_type(t: &[Attr], default: CK_KEY_TYPE) -> CK_KEY_TYPE {
    access::wanted_ulong(t, CKA_KEY_TYPE).unwrap_or(default)
}

/// The length a new secret key must have: `CKA_VALUE_LEN`, else `natural` when the mechanism
/// yields a natural length. AES keys must be 16, 24 or 32 bytes.
fn secret_len(t: &[Attr], key_type: CK_KEY_TYPE, natural: Option<usize>) -> Result<usize> {
    let len = match access::wanted_ulong(t, CKA_VALUE_LEN) {
        Some(n) => usize::try_from(n).map_err(|_| Error::KeySizeRange)?,
        None => natural.ok_or(Error::TemplateIncomplete)?,
    };
    match key_type {
        CKK_AES if !matches!(len, 16 | 24 | 32) => Err(Error::KeySizeRange),
        CKK_AES | CKK_GENERIC_SECRET if (1..=MAX_SECRET).contains(&len) => Ok(len),
        CKK_AES | CKK_GENERIC_SECRET => Err(Error::KeySizeRange),
        _ => Err(Error::TemplateInconsistent),
    }
}

impl Engine {
    /// Stores a new secret key with `value` (truncated to `len`).
    #[allow(clippy::too_many_arguments)]
    fn store_secret(
        &self,
        s: &Slot,
        h: SessionHandle,
        rw: bool,
        actor: Actor,
        t: &[Attr],
        key_type: CK_KEY_TYPE,
        origin: Origin,
        value: &[u8],
        len: usize,
    ) -> Result<ObjectHandle> {
        if len > value.len() {
            return Err(Error::KeySizeRange);
        }
        let t = access::generation_template(t, &[CKA_VALUE], &[CKA_VALUE_LEN])?;
        let material = vec![
            Attr::bytes(CKA_VALUE, value[..len].to_vec()),
            Attr::ulong(CKA_VALUE_LEN, len as u64),
        ];
        let attrs = access::new_key(
            &t,
            CKO_SECRET_KEY,
            key_type,
            origin,
            material,
            actor,
            Self::unique_id()?,
        )?;
        let ev = self.origin_event(s, &origin);
        self.insert_object(s, h, rw, attrs, ev)
    }

    /// The audit event of a key made with `origin`.
    fn origin_event(&self, s: &Slot, origin: &Origin) -> super::AuditEvent {
        match origin {
            Origin::Created => self.event(s, "C_CreateObject"),
            Origin::Generated(m) => self.event(s, "C_GenerateKey").detail(mechanism_name(*m)),
            Origin::Derived { .. } => self.event(s, "C_DeriveKey"),
            Origin::Unwrapped => self.event(s, "C_UnwrapKey"),
        }
    }

    /// `C_GenerateKey`: AES and generic secret keys, and PBKDF2.
    pub fn generate_key(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        template: &[Attr],
    ) -> Result<ObjectHandle> {
        let (s, rw, actor) = self.object_context(h)?;
        let origin = Origin::Generated(mech.ck_type());
        match &mech.kind {
            Kind::AesKeyGen => {
                if template_key_type(template, CKK_AES) != CKK_AES {
                    return Err(Error::TemplateInconsistent);
                }
                let len = match access::wanted_ulong(template, CKA_VALUE_LEN) {
                    Some(n @ (16 | 24 | 32)) => n as usize,
                    Some(_) => return Err(Error::KeySizeRange),
                    None => return Err(Error::TemplateIncomplete),
                };
                let v = crypto::aes_generate_key(len)?;
                self.store_secret(s, h, rw, actor, template, CKK_AES, origin, &v, len)
            }
            Kind::GenericSecretKeyGen => {
                if template_key_type(template, CKK_GENERIC_SECRET) != CKK_GENERIC_SECRET {
                    return Err(Error::TemplateInconsistent);
                }
                let len = secret_len(template, CKK_GENERIC_SECRET, None)?;
                let mut v = Zeroizing::new(vec![0u8; len]);
                crypto::fill_random(&mut v)?;
                self.store_secret(
                    s,
                    h,
                    rw,
                    actor,
                    template,
                    CKK_GENERIC_SECRET,
                    origin,
                    &v,
                    len,
                )
            }
            Kind::Pbkdf2(p) => {
                let kt = template_key_type(template, CKK_GENERIC_SECRET);
                let len = secret_len(template, kt, None)?;
                let v = kdf::pbkdf2(p.hash, &p.password, &p.salt, p.iterations, len)?;
                // The key comes from a password the caller knows: it was never only inside.
                self.store_secret(s, h, rw, actor, template, kt, Origin::Unwrapped, &v, len)
            }
            _ => Err(Error::MechanismInvalid),
        }
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
        let origin = Origin::Generated(mech.ck_type());
        let uid = Self::unique_id;
        let (key_type, pub_material, priv_material, pub_t, priv_t) = match &mech.kind {
            Kind::EcKeyPairGen => {
                let params =
                    access::wanted_bytes(public, CKA_EC_PARAMS).ok_or(Error::TemplateIncomplete)?;
                let curve = Curve::from_oid_der(params).ok_or(Error::CurveNotSupported)?;
                let (d, point) = crypto::ec_generate(curve)?;
                let oid = curve.oid_der().to_vec();
                (
                    CKK_EC,
                    vec![
                        Attr::bytes(CKA_EC_PARAMS, oid.clone()),
                        Attr::bytes(CKA_EC_POINT, access::der_octet_string(&point)),
                    ],
                    vec![
                        Attr::bytes(CKA_EC_PARAMS, oid),
                        Attr::bytes(CKA_VALUE, d.to_vec()),
                    ],
                    access::generation_template(public, &[CKA_EC_POINT], &[CKA_EC_PARAMS])?,
                    access::generation_template(private, &[CKA_VALUE], &[CKA_EC_PARAMS])?,
                )
            }
            Kind::EdwardsKeyPairGen | Kind::MontgomeryKeyPairGen => {
                let edwards = matches!(mech.kind, Kind::EdwardsKeyPairGen);
                let default = if edwards { ED25519_OID } else { X25519_OID };
                let params = access::wanted_bytes(public, CKA_EC_PARAMS)
                    .unwrap_or(default)
                    .to_vec();
                let ok = if edwards {
                    edwards::edwards_params_ok(&params)
                } else {
                    edwards::montgomery_params_ok(&params)
                };
                if !ok {
                    return Err(Error::CurveNotSupported);
                }
                let (secret, point) = if edwards {
                    edwards::ed25519_generate()
                } else {
                    edwards::x25519_generate()
                };
                (
                    if edwards {
                        CKK_EC_EDWARDS
                    } else {
                        CKK_EC_MONTGOMERY
                    },
                    vec![
                        Attr::bytes(CKA_EC_PARAMS, params.clone()),
                        Attr::bytes(CKA_EC_POINT, access::der_octet_string(&point)),
                    ],
                    vec![
                        Attr::bytes(CKA_EC_PARAMS, params),
                        Attr::bytes(CKA_VALUE, secret.to_vec()),
                    ],
                    access::generation_template(public, &[CKA_EC_POINT], &[CKA_EC_PARAMS])?,
                    access::generation_template(private, &[CKA_VALUE], &[CKA_EC_PARAMS])?,
                )
            }
            Kind::RsaKeyPairGen => {
                let bits = access::wanted_ulong(public, CKA_MODULUS_BITS)
                    .ok_or(Error::TemplateIncomplete)?;
                if !(2048..=8192).contains(&bits) {
                    return Err(Error::KeySizeRange);
                }
                let e = access::wanted_bytes(public, CKA_PUBLIC_EXPONENT)
                    .map(<[u8]>::to_vec)
                    .unwrap_or_else(|| vec![1, 0, 1]);
                let c = crypto::rsa_generate(bits as usize, &e).map_err(|err| match err {
                    crypto::CryptoError::KeyInvalid => Error::TemplateInconsistent,
                    other => other.into(),
                })?;
                (
                    CKK_RSA,
                    vec![
                        Attr::bytes(CKA_MODULUS, c.modulus.to_vec()),
                        Attr::bytes(CKA_PUBLIC_EXPONENT, c.public_exponent.to_vec()),
                        Attr::ulong(CKA_MODULUS_BITS, bits),
                    ],
                    vec![
                        Attr::bytes(CKA_MODULUS, c.modulus.to_vec()),
                        Attr::bytes(CKA_PUBLIC_EXPONENT, c.public_exponent.to_vec()),
                        Attr::bytes(CKA_PRIVATE_EXPONENT, c.private_exponent.to_vec()),
                        Attr::bytes(CKA_PRIME_1, c.prime1.to_vec()),
                        Attr::bytes(CKA_PRIME_2, c.prime2.to_vec()),
                        Attr::bytes(CKA_EXPONENT_1, c.exponent1.to_vec()),
                        Attr::bytes(CKA_EXPONENT_2, c.exponent2.to_vec()),
                        Attr::bytes(CKA_COEFFICIENT, c.coefficient.to_vec()),
                    ],
                    access::generation_template(
                        public,
                        &[CKA_MODULUS],
                        &[CKA_MODULUS_BITS, CKA_PUBLIC_EXPONENT],
                    )?,
                    access::generation_template(
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
                    )?,
                )
            }
            _ => return Err(Error::MechanismInvalid),
        };
        let pub_attrs = access::new_key(
            &pub_t,
            CKO_PUBLIC_KEY,
            key_type,
            origin,
            pub_material,
            actor,
            uid()?,
        )?;
        let priv_attrs = access::new_key(
            &priv_t,
            CKO_PRIVATE_KEY,
            key_type,
            origin,
            priv_material,
            actor,
            uid()?,
        )?;
        let ev = self
            .event(s, "C_GenerateKeyPair")
            .detail(mechanism_name(mech.ck_type()));
        let handles = self.insert_objects(s, h, rw, vec![pub_attrs, priv_attrs], ev)?;
        Ok((handles[0], handles[1]))
    }

    /// A secret key's value, for a mechanism that takes a second key (salt keys, concatenation).
    fn other_secret(&self, h: SessionHandle, key: ObjectHandle) -> Result<Zeroizing<Vec<u8>>> {
        let (o, k) = self
            .key_for(h, key)
            .map_err(|_| Error::MechanismParamInvalid)?;
        if o.attrs.class() != Some(CKO_SECRET_KEY) {
            return Err(Error::MechanismParamInvalid);
        }
        Ok(Zeroizing::new(k.secret()?.to_vec()))
    }

    /// `C_DeriveKey`.
    pub fn derive_key(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        base: ObjectHandle,
        template: &[Attr],
    ) -> Result<ObjectHandle> {
        let (s, rw, actor) = self.object_context(h)?;
        // Only mechanisms that derive are accepted here (PKCS#11 2.40 §5.1.6: a mechanism
        // that does not support the function is CKR_MECHANISM_INVALID).
        if crate::mechanism::info(mech.ck_type()).is_none_or(|i| i.flags & CKF_DERIVE == 0) {
            return Err(Error::MechanismInvalid);
        }
        let (bo, bk) = self.key_for(h, base)?;
        let (class, key_type) = match &mech.kind {
            Kind::Ecdh(_) => {
                let kt = bo
                    .attrs
                    .key_type()
                    .filter(|k| matches!(*k, CKK_EC | CKK_EC_MONTGOMERY));
                (CKO_PRIVATE_KEY, kt.ok_or(Error::KeyTypeInconsistent)?)
            }
            Kind::AesEcbEncryptData(_) | Kind::AesCbcEncryptData { .. } => {
                (CKO_SECRET_KEY, CKK_AES)
            }
            Kind::Sp800Counter(p) if p.prf == Sp800Prf::Cmac => (CKO_SECRET_KEY, CKK_AES),
            _ => {
                let kt = bo
                    .attrs
                    .key_type()
                    .filter(|k| matches!(*k, CKK_GENERIC_SECRET | CKK_AES));
                (CKO_SECRET_KEY, kt.ok_or(Error::KeyTypeInconsistent)?)
            }
        };
        bo.key_use()
            .check(Usage::Derive, mech.ck_type(), class, key_type, super::today)?;
        let mut t = access::merge_required(template, bo.attrs.get(CKA_DERIVE_TEMPLATE))?;
        // Mechanisms whose result contains the base key's bits pass its protection on: the
        // derived key is sensitive if a source key is, and unextractable if a source key is.
        let mut sources = vec![bo.attrs.clone()];
        if let Kind::ConcatBaseAndKey(other) = &mech.kind {
            let (oo, _) = self
                .key_for(h, *other)
                .map_err(|_| Error::MechanismParamInvalid)?;
            sources.push(oo.attrs.clone());
        }
        if matches!(
            mech.kind,
            Kind::ConcatBaseAndKey(_)
                | Kind::ConcatBaseAndData(_)
                | Kind::ConcatDataAndBase(_)
                | Kind::XorBaseAndData(_)
                | Kind::ExtractKeyFromKey(_)
        ) {
            let mut required = Vec::new();
            if sources.iter().any(|a| a.bool_or(CKA_SENSITIVE, true)) {
                required.push(Attr::bool(CKA_SENSITIVE, true));
            }
            if sources.iter().any(|a| !a.bool_or(CKA_EXTRACTABLE, false)) {
                required.push(Attr::bool(CKA_EXTRACTABLE, false));
            }
            t = access::merge_required(&t, Some(&crate::object::Value::Template(required)))?;
        }
        let data_object = matches!(mech.kind, Kind::HkdfData(_));
        let new_class = template_class(
            &t,
            if data_object {
                CKO_DATA
            } else {
                CKO_SECRET_KEY
            },
        );
        if new_class
            != if data_object {
                CKO_DATA
            } else {
                CKO_SECRET_KEY
            }
        {
            return Err(Error::TemplateInconsistent);
        }
        let kt = template_key_type(&t, CKK_GENERIC_SECRET);
        let (value, natural): (Zeroizing<Vec<u8>>, Option<usize>) = match &mech.kind {
            Kind::Ecdh(p) => {
                // The peer's public value is a mechanism parameter: a bad one is reported as such.
                let peer_err = |e: crypto::CryptoError| match e {
                    crypto::CryptoError::DataInvalid => Error::MechanismParamInvalid,
                    other => other.into(),
                };
                let z = match bk.as_ref() {
                    Key::EcPrivate(k) => k.ecdh(&p.public).map_err(peer_err)?,
                    Key::XPrivate(d) => edwards::x25519(d, &p.public).map_err(peer_err)?,
                    _ => return Err(Error::KeyTypeInconsistent),
                };
                match p.kdf {
                    EcKdf::Null => {
                        let n = z.len();
                        (z, Some(n))
                    }
                    EcKdf::X963(hash) => {
                        let len = secret_len(&t, kt, None)?;
                        (kdf::x963_kdf(hash, &z, &p.shared_data, len)?, Some(len))
                    }
                }
            }
            Kind::AesEcbEncryptData(d) => {
                let mut c = crypto::aes_modes::Blocks::ecb(bk.secret()?, true)?;
                let mut v = c.update(d)?;
                v.extend(c.finish()?);
                let n = v.len();
                (Zeroizing::new(v), Some(n))
            }
            Kind::AesCbcEncryptData { iv, data } => {
                let mut c = crypto::aes_modes::Blocks::cbc(bk.secret()?, iv, true)?;
                let mut v = c.update(data)?;
                v.extend(c.finish()?);
                let n = v.len();
                (Zeroizing::new(v), Some(n))
            }
            Kind::HkdfDerive(p) | Kind::HkdfData(p) => {
                let ikm = bk.secret()?;
                let prk = if p.extract {
                    let salt = match &p.salt {
                        HkdfSalt::Null => Zeroizing::new(Vec::new()),
                        HkdfSalt::Data(d) => Zeroizing::new(d.clone()),
                        HkdfSalt::Key(k) => self.other_secret(h, *k)?,
                    };
                    kdf::hkdf_extract(p.hash, &salt, ikm)?
                } else {
                    Zeroizing::new(ikm.to_vec())
                };
                if p.expand {
                    let len = if data_object {
                        access::wanted_ulong(&t, CKA_VALUE_LEN).ok_or(Error::TemplateIncomplete)?
                            as usize
                    } else {
                        secret_len(&t, kt, None)?
                    };
                    (kdf::hkdf_expand(p.hash, &prk, &p.info, len)?, Some(len))
                } else {
                    let n = prk.len();
                    (prk, Some(n))
                }
            }
            Kind::Sp800Counter(p) => {
                let len = secret_len(&t, kt, None)?;
                let prf = match p.prf {
                    Sp800Prf::Hmac(hash) => kdf::Prf::Hmac(hash),
                    Sp800Prf::Cmac => kdf::Prf::Cmac,
                };
                let data: Vec<kdf::DataParam> = p
                    .data
                    .iter()
                    .map(|d| match d {
                        Sp800Data::Counter {
                            little_endian,
                            bits,
                        } => kdf::DataParam::Counter {
                            little_endian: *little_endian,
                            bits: *bits,
                        },
                        Sp800Data::DkmLength {
                            sum_of_segments,
                            little_endian,
                            bits,
                        } => kdf::DataParam::DkmLength {
                            sum_of_segments: *sum_of_segments,
                            little_endian: *little_endian,
                            bits: *bits,
                        },
                        Sp800Data::Bytes(b) => kdf::DataParam::Bytes(b.clone()),
                    })
                    .collect();
                (
                    kdf::sp800_108_counter(prf, bk.secret()?, &data, len)?,
                    Some(len),
                )
            }
            Kind::ConcatBaseAndKey(other) => {
                let o = self.other_secret(h, *other)?;
                let mut v = Zeroizing::new(bk.secret()?.to_vec());
                v.extend_from_slice(&o);
                let n = v.len();
                (v, Some(n))
            }
            Kind::ConcatBaseAndData(d) => {
                let mut v = Zeroizing::new(bk.secret()?.to_vec());
                v.extend_from_slice(d);
                let n = v.len();
                (v, Some(n))
            }
            Kind::ConcatDataAndBase(d) => {
                let mut v = Zeroizing::new(d.clone());
                v.extend_from_slice(bk.secret()?);
                let n = v.len();
                (v, Some(n))
            }
            Kind::XorBaseAndData(d) => {
                let b = bk.secret()?;
                let v: Zeroizing<Vec<u8>> =
                    Zeroizing::new(b.iter().zip(d).map(|(x, y)| x ^ y).collect());
                let n = v.len();
                (v, Some(n))
            }
            Kind::ExtractKeyFromKey(start) => {
                let b = bk.secret()?;
                let len = secret_len(&t, kt, None)?;
                let total_bits = b.len() as u64 * 8;
                let mut v = Zeroizing::new(vec![0u8; len]);
                for i in 0..(len as u64 * 8) {
                    let src = (start + i) % total_bits;
                    let bit = (b[(src / 8) as usize] >> (7 - (src % 8))) & 1;
                    v[(i / 8) as usize] |= bit << (7 - (i % 8));
                }
                (v, Some(len))
            }
            _ => return Err(Error::MechanismInvalid),
        };
        if data_object {
            let t = access::generation_template(&t, &[CKA_VALUE], &[CKA_VALUE_LEN, CKA_CLASS])?;
            let mut attrs_t = t;
            attrs_t.push(Attr::ulong(CKA_CLASS, CKO_DATA));
            attrs_t.push(Attr::bytes(CKA_VALUE, value.to_vec()));
            let attrs = access::new_object(&attrs_t, actor, Self::unique_id()?)?;
            let ev = self
                .event(s, "C_DeriveKey")
                .detail(mechanism_name(mech.ck_type()));
            return self.insert_object(s, h, rw, attrs, ev);
        }
        let len = secret_len(&t, kt, natural)?;
        let origin = Origin::Derived {
            always_sensitive: sources
                .iter()
                .all(|a| a.bool_or(CKA_ALWAYS_SENSITIVE, false)),
            never_extractable: sources
                .iter()
                .all(|a| a.bool_or(CKA_NEVER_EXTRACTABLE, false)),
        };
        self.store_secret(s, h, rw, actor, &t, kt, origin, &value, len)
    }

    /// The bytes that wrapping exports for a key: a secret key's value, a private key's PKCS#8.
    fn wrap_payload(a: &Attributes) -> Result<Zeroizing<Vec<u8>>> {
        let b = |ty| {
            a.bytes(ty)
                .map(|v| Zeroizing::new(v.to_vec()))
                .ok_or(Error::KeyNotWrappable)
        };
        match (a.class(), a.key_type()) {
            (Some(CKO_SECRET_KEY), _) => b(CKA_VALUE),
            (Some(CKO_PRIVATE_KEY), Some(CKK_RSA)) => {
                let parts = PrivateKeyParts::Rsa {
                    n: b(CKA_MODULUS)?,
                    e: b(CKA_PUBLIC_EXPONENT)?,
                    d: b(CKA_PRIVATE_EXPONENT)?,
                    p: b(CKA_PRIME_1)?,
                    q: b(CKA_PRIME_2)?,
                    dp: b(CKA_EXPONENT_1)?,
                    dq: b(CKA_EXPONENT_2)?,
                    qinv: b(CKA_COEFFICIENT)?,
                };
                Ok(pkcs8::encode_pkcs8(&parts)?)
            }
            (Some(CKO_PRIVATE_KEY), Some(CKK_EC)) => {
                let curve = access::curve_of(a)?;
                let parts = PrivateKeyParts::Ec {
                    curve_oid_der: curve.oid_der().to_vec(),
                    d: b(CKA_VALUE)?,
                    public_point: None,
                };
                Ok(pkcs8::encode_pkcs8(&parts)?)
            }
            (Some(CKO_PRIVATE_KEY), Some(CKK_EC_EDWARDS)) => {
                Ok(pkcs8::encode_pkcs8(&PrivateKeyParts::Ed25519 {
                    seed: b(CKA_VALUE)?,
                })?)
            }
            (Some(CKO_PRIVATE_KEY), Some(CKK_EC_MONTGOMERY)) => {
                Ok(pkcs8::encode_pkcs8(&PrivateKeyParts::X25519 {
                    private: b(CKA_VALUE)?,
                })?)
            }
            _ => Err(Error::KeyNotWrappable),
        }
    }

    /// The class and key type of the wrapping key a mechanism needs.
    fn wrap_key_kind(m: &Mechanism, wrap: bool) -> Result<(CK_OBJECT_CLASS, CK_KEY_TYPE)> {
        Ok(match &m.kind {
            Kind::AesKeyWrap | Kind::AesKeyWrapPad | Kind::AesCbcPad(_) => {
                (CKO_SECRET_KEY, CKK_AES)
            }
            Kind::RsaPkcs | Kind::RsaOaep(_) | Kind::RsaAesKeyWrap(_) => (
                if wrap {
                    CKO_PUBLIC_KEY
                } else {
                    CKO_PRIVATE_KEY
                },
                CKK_RSA,
            ),
            _ => return Err(Error::MechanismInvalid),
        })
    }

    /// `C_WrapKey`.
    pub fn wrap_key(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        wrapping: ObjectHandle,
        key: ObjectHandle,
        out: Out,
    ) -> Result<Produced> {
        let (class, key_type) = Self::wrap_key_kind(mech, true)?;
        let (wo, wk) = self.key_for(h, wrapping).map_err(|e| match e {
            Error::KeyHandleInvalid => Error::WrappingKeyHandleInvalid,
            other => other,
        })?;
        wo.key_use()
            .check(Usage::Wrap, mech.ck_type(), class, key_type, super::today)
            .map_err(|e| match e {
                Error::KeyTypeInconsistent => Error::WrappingKeyTypeInconsistent,
                other => other,
            })?;
        let (ko, _) = self.key_for(h, key)?;
        access::check_wrappable(&ko.attrs, &wo.attrs)?;
        self.audit_key_use(h, &wo, Usage::Wrap, mech.ck_type())?;
        self.audit_key_use(h, &ko, Usage::Wrap, mech.ck_type())?;
        let payload = Self::wrap_payload(&ko.attrs)?;
        let wrapped = match (&mech.kind, wk.as_ref()) {
            (Kind::AesKeyWrap, Key::Secret(k, _)) => {
                if payload.len() % 8 != 0 || payload.len() < 16 {
                    return Err(Error::KeyNotWrappable);
                }
                keywrap::kw_wrap(k, &payload)?
            }
            (Kind::AesKeyWrapPad, Key::Secret(k, _)) => keywrap::kwp_wrap(k, &payload)?,
            (Kind::AesCbcPad(iv), Key::Secret(k, _)) => {
                crypto::aes::cbc_pad_encrypt(k, iv, &payload)?
            }
            (Kind::RsaPkcs, Key::RsaPublic(k)) => k
                .encrypt_pkcs1(&payload)
                .map_err(|_| Error::KeyNotWrappable)?,
            (Kind::RsaOaep(p), Key::RsaPublic(k)) => k
                .encrypt_oaep(p.hash, p.mgf1, &p.label, &payload)
                .map_err(|_| Error::KeyNotWrappable)?,
            (Kind::RsaAesKeyWrap(p), Key::RsaPublic(k)) => {
                let eph = crypto::aes_generate_key(p.aes_bits / 8)?;
                let mut v = k.encrypt_oaep(p.oaep.hash, p.oaep.mgf1, &p.oaep.label, &eph)?;
                v.extend(keywrap::kwp_wrap(&eph, &payload)?);
                v
            }
            _ => return Err(Error::WrappingKeyTypeInconsistent),
        };
        let mut slot = Some(wrapped);
        finish(&mut slot, out, Vec::len, Ok)
    }

    /// `C_UnwrapKey`.
    pub fn unwrap_key(
        &self,
        h: SessionHandle,
        mech: &Mechanism,
        unwrapping: ObjectHandle,
        wrapped: &[u8],
        template: &[Attr],
    ) -> Result<ObjectHandle> {
        let (s, rw, actor) = self.object_context(h)?;
        let (class, key_type) = Self::wrap_key_kind(mech, false)?;
        let (uo, uk) = self.key_for(h, unwrapping).map_err(|e| match e {
            Error::KeyHandleInvalid => Error::UnwrappingKeyHandleInvalid,
            other => other,
        })?;
        uo.key_use()
            .check(Usage::Unwrap, mech.ck_type(), class, key_type, super::today)
            .map_err(|e| match e {
                Error::KeyTypeInconsistent => Error::UnwrappingKeyTypeInconsistent,
                other => other,
            })?;
        let t = access::merge_required(template, uo.attrs.get(CKA_UNWRAP_TEMPLATE))?;
        let new_class = access::wanted_ulong(&t, CKA_CLASS).ok_or(Error::TemplateIncomplete)?;
        let new_type = access::wanted_ulong(&t, CKA_KEY_TYPE).ok_or(Error::TemplateIncomplete)?;
        let bad = |e: crypto::CryptoError| match e {
            crypto::CryptoError::EncryptedDataLenRange | crypto::CryptoError::DataLenRange => {
                Error::WrappedKeyLenRange
            }
            _ => Error::WrappedKeyInvalid,
        };
        let payload: Zeroizing<Vec<u8>> = match (&mech.kind, uk.as_ref()) {
            (Kind::AesKeyWrap, Key::Secret(k, _)) => keywrap::kw_unwrap(k, wrapped).map_err(bad)?,
            (Kind::AesKeyWrapPad, Key::Secret(k, _)) => {
                keywrap::kwp_unwrap(k, wrapped).map_err(bad)?
            }
            (Kind::AesCbcPad(iv), Key::Secret(k, _)) => {
                Zeroizing::new(crypto::aes::cbc_pad_decrypt(k, iv, wrapped).map_err(bad)?)
            }
            (Kind::RsaPkcs, Key::RsaPrivate(k)) => k.decrypt_pkcs1(wrapped).map_err(bad)?,
            (Kind::RsaOaep(p), Key::RsaPrivate(k)) => k
                .decrypt_oaep(p.hash, p.mgf1, &p.label, wrapped)
                .map_err(bad)?,
            (Kind::RsaAesKeyWrap(p), Key::RsaPrivate(k)) => {
                let n = k.modulus_len();
                if wrapped.len() <= n {
                    return Err(Error::WrappedKeyLenRange);
                }
                let eph = k
                    .decrypt_oaep(p.oaep.hash, p.oaep.mgf1, &p.oaep.label, &wrapped[..n])
                    .map_err(bad)?;
                if eph.len() != p.aes_bits / 8 {
                    return Err(Error::WrappedKeyInvalid);
                }
                keywrap::kwp_unwrap(&eph, &wrapped[n..]).map_err(bad)?
            }
            _ => return Err(Error::UnwrappingKeyTypeInconsistent),
        };
        match new_class {
            CKO_SECRET_KEY => {
                let len = payload.len();
                if let Some(want) = access::wanted_ulong(&t, CKA_VALUE_LEN) {
                    if want as usize != len {
                        return Err(Error::TemplateInconsistent);
                    }
                }
                if new_type == CKK_AES && !matches!(len, 16 | 24 | 32) {
                    return Err(Error::WrappedKeyInvalid);
                }
                if !matches!(new_type, CKK_AES | CKK_GENERIC_SECRET) {
                    return Err(Error::TemplateInconsistent);
                }
                self.store_secret(
                    s,
                    h,
                    rw,
                    actor,
                    &t,
                    new_type,
                    Origin::Unwrapped,
                    &payload,
                    len,
                )
            }
            CKO_PRIVATE_KEY => {
                let parts = pkcs8::decode_pkcs8(&payload).map_err(|_| Error::WrappedKeyInvalid)?;
                let (kt, material) = private_material(parts)?;
                if kt != new_type {
                    return Err(Error::TemplateInconsistent);
                }
                let computed: Vec<CK_ATTRIBUTE_TYPE> = material.iter().map(|a| a.ty).collect();
                let t = access::generation_template(&t, &[], &computed)?;
                let attrs = access::new_key(
                    &t,
                    CKO_PRIVATE_KEY,
                    kt,
                    Origin::Unwrapped,
                    material,
                    actor,
                    Self::unique_id()?,
                )?;
                let ev = self
                    .event(s, "C_UnwrapKey")
                    .detail(mechanism_name(mech.ck_type()));
                self.insert_object(s, h, rw, attrs, ev)
            }
            _ => Err(Error::TemplateInconsistent),
        }
    }
}

/// The attributes of a private key from its PKCS#8 parts.
fn private_material(parts: PrivateKeyParts) -> Result<(CK_KEY_TYPE, Vec<Attr>)> {
    let v = |z: &Zeroizing<Vec<u8>>| z.to_vec();
    Ok(match &parts {
        PrivateKeyParts::Rsa {
            n,
            e,
            d,
            p,
            q,
            dp,
            dq,
            qinv,
        } => (
            CKK_RSA,
            vec![
                Attr::bytes(CKA_MODULUS, v(n)),
                Attr::bytes(CKA_PUBLIC_EXPONENT, v(e)),
                Attr::bytes(CKA_PRIVATE_EXPONENT, v(d)),
                Attr::bytes(CKA_PRIME_1, v(p)),
                Attr::bytes(CKA_PRIME_2, v(q)),
                Attr::bytes(CKA_EXPONENT_1, v(dp)),
                Attr::bytes(CKA_EXPONENT_2, v(dq)),
                Attr::bytes(CKA_COEFFICIENT, v(qinv)),
            ],
        ),
        PrivateKeyParts::Ec {
            curve_oid_der, d, ..
        } => (
            CKK_EC,
            vec![
                Attr::bytes(CKA_EC_PARAMS, curve_oid_der.clone()),
                Attr::bytes(CKA_VALUE, v(d)),
            ],
        ),
        PrivateKeyParts::Ed25519 { seed } => (
            CKK_EC_EDWARDS,
            vec![
                Attr::bytes(CKA_EC_PARAMS, ED25519_OID.to_vec()),
                Attr::bytes(CKA_VALUE, v(seed)),
            ],
        ),
        PrivateKeyParts::X25519 { private } => (
            CKK_EC_MONTGOMERY,
            vec![
                Attr::bytes(CKA_EC_PARAMS, X25519_OID.to_vec()),
                Attr::bytes(CKA_VALUE, v(private)),
            ],
        ),
    })
}

/// The specification's name of a mechanism, or its number.
pub(crate) fn mechanism_name(t: CK_MECHANISM_TYPE) -> String {
    crate::mechanism::MECHANISMS
        .iter()
        .find(|m| m.ty == t)
        .map_or_else(|| format!("0x{t:x}"), |m| m.name.to_string())
}
