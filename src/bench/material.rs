//! The key material and inputs every module is given: generated once in-process, imported
//! into each module with `C_CreateObject`, and used directly for the reference column.

use std::collections::HashMap;

use cryptoki_sys::*;

use crate::crypto::edwards::{ed25519_generate, Ed25519PrivateKey};
use crate::crypto::{
    digest, ec_generate, fill_random, rsa_generate, Curve, EcPrivateKey, EcPublicKey, HashAlg,
    RsaComponents, RsaPrivateKey, RsaPublicKey,
};

use crate::ffi::client::Attr;

/// DER `OBJECT IDENTIFIER` 1.3.101.112 (id-Ed25519).
const OID_ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];

/// The public exponent of every RSA key (65537).
const RSA_E: &[u8] = &[0x01, 0x00, 0x01];

/// Length of the data buffer the symmetric rows take their input from.
pub const DATA_LEN: usize = 16 * 1024;

/// An RSA key in both forms.
pub struct RsaKey {
    /// The components, for import.
    pub comps: RsaComponents,
    /// The private key, for the reference column.
    pub private: RsaPrivateKey,
    /// The public key.
    pub public: RsaPublicKey,
}

/// An EC key in both forms.
pub struct EcKey {
    /// The private scalar.
    pub scalar: Vec<u8>,
    /// The uncompressed public point.
    pub point: Vec<u8>,
    /// The private key, for the reference column.
    pub private: EcPrivateKey,
    /// The public key.
    pub public: EcPublicKey,
}

/// An Ed25519 key.
pub struct EdKey {
    /// The 32-byte seed (`CKA_VALUE`).
    pub seed: Vec<u8>,
    /// The private key, for the reference column.
    pub private: Ed25519PrivateKey,
}

/// Which key a row needs in a module.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyId {
    /// An RSA private key of this many bits.
    RsaPrivate(usize),
    /// An RSA public key of this many bits.
    RsaPublic(usize),
    /// An EC private key.
    EcPrivate(Curve),
    /// An EC public key.
    EcPublic(Curve),
    /// The Ed25519 private key.
    EdPrivate,
    /// The AES-256 key for GCM and CBC.
    Aes,
    /// The generic secret for HMAC.
    Hmac,
    /// The AES-256 key-encryption key.
    Kek,
    /// The extractable AES-256 key that is wrapped.
    Wrapped,
}

/// Everything generated in-process.
pub struct Material {
    /// Labels start with this (`custos-bench-<run id>-`).
    pub prefix: String,
    /// RSA keys by size.
    pub rsa: HashMap<usize, RsaKey>,
    /// EC keys by curve.
    pub ec: HashMap<Curve, EcKey>,
    /// The Ed25519 key.
    pub ed: Option<EdKey>,
    /// AES-256 key for GCM and CBC.
    pub aes: Vec<u8>,
    /// HMAC key.
    pub hmac: Vec<u8>,
    /// Key-encryption key.
    pub kek: Vec<u8>,
    /// The key that is wrapped.
    pub wrapped: Vec<u8>,
    /// The 64-byte message signed by hash-and-sign mechanisms.
    pub msg: Vec<u8>,
    /// SHA-256 of `msg`.
    pub digest32: Vec<u8>,
    /// SHA-384 of `msg`.
    pub digest48: Vec<u8>,
    /// Random input for the symmetric rows.
    pub data: Vec<u8>,
    /// The 32-byte plaintext of the OAEP ciphertext.
    pub oaep_plain: Vec<u8>,
    /// OAEP (SHA-256) ciphertext under the RSA-2048 key, when that key exists.
    pub oaep_ct: Vec<u8>,
    /// SHA256_RSA_PKCS signature of `msg` under the RSA-2048 key, when that key exists.
    pub rsa_sig: Vec<u8>,
    /// ECDSA signatures of the curve's digest.
    pub ec_sig: HashMap<Curve, Vec<u8>>,
    /// The population's `CKA_ID` values.
    pub pop_ids: Vec<Vec<u8>>,
    /// The population's `CKA_LABEL` values.
    pub pop_labels: Vec<Vec<u8>>,
}

fn random(n: usize) -> Result<Vec<u8>, String> {
    let mut v = vec![0u8; n];
    fill_random(&mut v).map_err(|e| format!("random generation failed: {e}"))?;
    Ok(v)
}

/// A fresh run identifier: 8 hex digits.
pub fn run_id() -> Result<String, String> {
    Ok(random(4)?.iter().map(|b| format!("{b:02x}")).collect())
}

fn cerr(what: &str) -> impl Fn(crate::crypto::CryptoError) -> String + '_ {
    move |e| format!("{what}: {e}")
}

impl Material {
    /// The symmetric keys, messages and data; asymmetric keys are added on demand.
    pub fn new(run_id: &str) -> Result<Material, String> {
        let msg = random(64)?;
        let digest32 = digest(HashAlg::Sha256, &msg);
        let digest48 = digest(HashAlg::Sha384, &msg);
        Ok(Material {
            prefix: format!("custos-bench-{run_id}-"),
            rsa: HashMap::new(),
            ec: HashMap::new(),
            ed: None,
            aes: random(32)?,
            hmac: random(32)?,
            kek: random(32)?,
            wrapped: random(32)?,
            msg,
            digest32,
            digest48,
            data: random(DATA_LEN)?,
            oaep_plain: random(32)?,
            oaep_ct: Vec::new(),
            rsa_sig: Vec::new(),
            ec_sig: HashMap::new(),
            pop_ids: Vec::new(),
            pop_labels: Vec::new(),
        })
    }

    /// Generates what `key` needs, if not done yet.
    pub fn ensure(&mut self, key: KeyId) -> Result<(), String> {
        match key {
            KeyId::RsaPrivate(bits) | KeyId::RsaPublic(bits) => self.ensure_rsa(bits),
            KeyId::EcPrivate(c) | KeyId::EcPublic(c) => self.ensure_ec(c),
            KeyId::EdPrivate => {
                if self.ed.is_none() {
                    let (seed, _public) = ed25519_generate();
                    let private = Ed25519PrivateKey::from_seed(&seed)
                        .map_err(cerr("Ed25519 key generation"))?;
                    self.ed = Some(EdKey {
                        seed: seed.to_vec(),
                        private,
                    });
                }
                Ok(())
            }
            KeyId::Aes | KeyId::Hmac | KeyId::Kek | KeyId::Wrapped => Ok(()),
        }
    }

    fn ensure_rsa(&mut self, bits: usize) -> Result<(), String> {
        if self.rsa.contains_key(&bits) {
            return Ok(());
        }
        let what = format!("RSA-{bits} key generation");
        let comps = rsa_generate(bits, RSA_E).map_err(cerr(&what))?;
        let private = RsaPrivateKey::from_generated(&comps).map_err(cerr(&what))?;
        let public = private.public_key().map_err(cerr(&what))?;
        if bits == 2048 {
            self.oaep_ct = public
                .encrypt_oaep(HashAlg::Sha256, HashAlg::Sha256, &[], &self.oaep_plain)
                .map_err(cerr("OAEP encryption"))?;
            self.rsa_sig = private
                .sign_pkcs1(HashAlg::Sha256, &self.msg)
                .map_err(cerr("RSA signing"))?;
        }
        self.rsa.insert(
            bits,
            RsaKey {
                comps,
                private,
                public,
            },
        );
        Ok(())
    }

    fn ensure_ec(&mut self, curve: Curve) -> Result<(), String> {
        if self.ec.contains_key(&curve) {
            return Ok(());
        }
        let what = format!("{} key generation", curve.name());
        let (scalar, point) = ec_generate(curve).map_err(cerr(&what))?;
        let private = EcPrivateKey::from_scalar(curve, &scalar).map_err(cerr(&what))?;
        let public = EcPublicKey::from_point(curve, &point).map_err(cerr(&what))?;
        let sig = private
            .sign_digest(self.ec_digest(curve))
            .map_err(cerr("ECDSA signing"))?;
        self.ec_sig.insert(curve, sig);
        self.ec.insert(
            curve,
            EcKey {
                scalar: scalar.to_vec(),
                point,
                private,
                public,
            },
        );
        Ok(())
    }

    /// The digest ECDSA signs on `curve`: SHA-256 for P-256, SHA-384 otherwise.
    pub fn ec_digest(&self, curve: Curve) -> &[u8] {
        if curve == Curve::P256 {
            &self.digest32
        } else {
            &self.digest48
        }
    }

    /// Extends the population's identifiers to `n` objects.
    pub fn ensure_population(&mut self, n: usize) {
        while self.pop_ids.len() < n {
            let i = self.pop_ids.len();
            self.pop_ids
                .push(format!("{}id-{i:06}", self.prefix).into_bytes());
            self.pop_labels
                .push(format!("{}pop-{i:06}", self.prefix).into_bytes());
        }
    }

    /// The label of a key.
    pub fn key_label(&self, key: KeyId) -> String {
        let what = match key {
            KeyId::RsaPrivate(b) => format!("rsa{b}-private"),
            KeyId::RsaPublic(b) => format!("rsa{b}-public"),
            KeyId::EcPrivate(c) => format!("{}-private", c.name()),
            KeyId::EcPublic(c) => format!("{}-public", c.name()),
            KeyId::EdPrivate => "ed25519-private".into(),
            KeyId::Aes => "aes".into(),
            KeyId::Hmac => "hmac".into(),
            KeyId::Kek => "kek".into(),
            KeyId::Wrapped => "wrapped".into(),
        };
        format!("{}{what}", self.prefix)
    }

    /// The `C_CreateObject` template that imports `key` as a session object.
    pub fn template(&self, key: KeyId) -> Result<Vec<Attr>, String> {
        let label = self.key_label(key);
        let mut t = vec![
            Attr::bool(CKA_TOKEN, false),
            Attr::bytes(CKA_LABEL, label.as_bytes()),
            Attr::bytes(CKA_ID, label.as_bytes()),
        ];
        let missing = || format!("internal error: key material for {label} was not generated");
        match key {
            KeyId::RsaPrivate(bits) => {
                let k = self.rsa.get(&bits).ok_or_else(missing)?;
                let c = &k.comps;
                t.extend([
                    Attr::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
                    Attr::ulong(CKA_KEY_TYPE, CKK_RSA),
                    Attr::bool(CKA_PRIVATE, true),
                    Attr::bool(CKA_SENSITIVE, true),
                    Attr::bool(CKA_SIGN, true),
                    Attr::bool(CKA_DECRYPT, true),
                    Attr::bytes(CKA_MODULUS, &c.modulus),
                    Attr::bytes(CKA_PUBLIC_EXPONENT, &c.public_exponent),
                    Attr::bytes(CKA_PRIVATE_EXPONENT, &c.private_exponent),
                    Attr::bytes(CKA_PRIME_1, &c.prime1),
                    Attr::bytes(CKA_PRIME_2, &c.prime2),
                    Attr::bytes(CKA_EXPONENT_1, &c.exponent1),
                    Attr::bytes(CKA_EXPONENT_2, &c.exponent2),
                    Attr::bytes(CKA_COEFFICIENT, &c.coefficient),
                ]);
            }
            KeyId::RsaPublic(bits) => {
                let k = self.rsa.get(&bits).ok_or_else(missing)?;
                t.extend([
                    Attr::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
                    Attr::ulong(CKA_KEY_TYPE, CKK_RSA),
                    Attr::bool(CKA_VERIFY, true),
                    Attr::bytes(CKA_MODULUS, &k.comps.modulus),
                    Attr::bytes(CKA_PUBLIC_EXPONENT, &k.comps.public_exponent),
                ]);
            }
            KeyId::EcPrivate(c) => {
                let k = self.ec.get(&c).ok_or_else(missing)?;
                t.extend([
                    Attr::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
                    Attr::ulong(CKA_KEY_TYPE, CKK_EC),
                    Attr::bool(CKA_PRIVATE, true),
                    Attr::bool(CKA_SENSITIVE, true),
                    Attr::bool(CKA_SIGN, true),
                    Attr::bytes(CKA_EC_PARAMS, c.oid_der()),
                    Attr::bytes(CKA_VALUE, &k.scalar),
                ]);
            }
            KeyId::EcPublic(c) => {
                let k = self.ec.get(&c).ok_or_else(missing)?;
                t.extend([
                    Attr::ulong(CKA_CLASS, CKO_PUBLIC_KEY),
                    Attr::ulong(CKA_KEY_TYPE, CKK_EC),
                    Attr::bool(CKA_VERIFY, true),
                    Attr::bytes(CKA_EC_PARAMS, c.oid_der()),
                    Attr::bytes(CKA_EC_POINT, &der_octet_string(&k.point)),
                ]);
            }
            KeyId::EdPrivate => {
                let k = self.ed.as_ref().ok_or_else(missing)?;
                t.extend([
                    Attr::ulong(CKA_CLASS, CKO_PRIVATE_KEY),
                    Attr::ulong(CKA_KEY_TYPE, CKK_EC_EDWARDS),
                    Attr::bool(CKA_PRIVATE, true),
                    Attr::bool(CKA_SENSITIVE, true),
                    Attr::bool(CKA_SIGN, true),
                    Attr::bytes(CKA_EC_PARAMS, OID_ED25519),
                    Attr::bytes(CKA_VALUE, &k.seed),
                ]);
            }
            KeyId::Aes => t.extend(secret(CKK_AES, &self.aes, &[CKA_ENCRYPT, CKA_DECRYPT])),
            KeyId::Hmac => t.extend(secret(
                CKK_GENERIC_SECRET,
                &self.hmac,
                &[CKA_SIGN, CKA_VERIFY],
            )),
            KeyId::Kek => t.extend(secret(CKK_AES, &self.kek, &[CKA_WRAP, CKA_UNWRAP])),
            KeyId::Wrapped => {
                t.extend(secret(CKK_AES, &self.wrapped, &[CKA_ENCRYPT]));
                t.push(Attr::bool(CKA_EXTRACTABLE, true));
            }
        }
        Ok(t)
    }
}

/// A private, sensitive secret key allowed the given functions.
fn secret(key_type: CK_KEY_TYPE, value: &[u8], allow: &[CK_ATTRIBUTE_TYPE]) -> Vec<Attr> {
    let mut t = vec![
        Attr::ulong(CKA_CLASS, CKO_SECRET_KEY),
        Attr::ulong(CKA_KEY_TYPE, key_type),
        Attr::bool(CKA_PRIVATE, true),
        Attr::bool(CKA_SENSITIVE, true),
        Attr::bytes(CKA_VALUE, value),
    ];
    t.extend(allow.iter().map(|&a| Attr::bool(a, true)));
    t
}

/// A DER OCTET STRING around `v` (short or long form length).
pub fn der_octet_string(v: &[u8]) -> Vec<u8> {
    let mut out = vec![0x04];
    let n = v.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n <= 0xff {
        out.extend([0x81, n as u8]);
    } else {
        out.extend([0x82, (n >> 8) as u8, n as u8]);
    }
    out.extend_from_slice(v);
    out
}
