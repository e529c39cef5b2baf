//! Entry points shared by the fuzz targets and the corpus replay test.
//!
//! Each function takes arbitrary bytes, must not panic on any input other than through one of its
//! own invariant checks, and returns whether the input was accepted by the code under test (the
//! replay test uses that to keep the seed corpus meaningful): for parsers, whether the input
//! parsed; for [`sealed_record`], whether it held a genuine sealed record; for [`engine_model`],
//! whether every operation succeeded. An `assert!` failing here is a bug in the code under test,
//! not in the harness.

use std::path::Path;
use std::sync::OnceLock;

use cryptoki_sys::*;

use crate::config::Config;
use crate::crypto::HashAlg;
use crate::engine::Error;
use crate::mechanism::{
    self, EcKdf, EddsaParams, Family, HkdfSalt, Kind, Mechanism, OaepParams, ParamShape, RawParam,
    RawPrfData, Sp800Data, Sp800Prf, MECHANISMS,
};
use crate::object::Attributes;
use crate::store::{SealKey, StoreError, StoreHeader, STORE_FORMAT_VERSION};
use crate::vault::{PinVerifier, Share};

/// Decodes an encoded attribute map; an accepted map must re-encode to the same length, decode
/// back to itself, and encode identically a second time.
pub fn attributes(data: &[u8]) -> bool {
    let Ok(attrs) = Attributes::decode(data) else {
        return false;
    };
    let enc = attrs.encode();
    // Decoding is strict (no trailing bytes, no duplicates, fixed-size values), so only the
    // attribute order may differ from the input.
    assert_eq!(enc.len(), data.len(), "re-encoding changed the length");
    assert_eq!(attrs.encoded_len(), enc.len(), "encoded_len disagrees");
    let again = Attributes::decode(&enc).expect("re-encoded attributes must decode");
    assert_eq!(again, attrs, "decode(encode(x)) != x");
    assert_eq!(again.encode(), enc, "encoding is not stable");
    assert_eq!(again.len(), attrs.len());
    true
}

/// Parses a share text; an accepted share must survive a round trip through its text form with
/// every public field and its commitment unchanged.
pub fn share_text(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(share) = Share::parse(text) else {
        return false;
    };
    assert!(share.index() >= 1 && share.index() <= share.total());
    assert!(share.threshold() >= 1 && share.threshold() <= share.total());
    let out = share.to_text();
    let again = Share::parse(&out).expect("to_text output must parse");
    assert_eq!(again.index(), share.index());
    assert_eq!(again.threshold(), share.threshold());
    assert_eq!(again.total(), share.total());
    assert_eq!(again.store_id(), share.store_id());
    assert_eq!(again.commitment(), share.commitment());
    assert_eq!(*again.to_text(), *out, "share text is not stable");
    true
}

/// Parses a configuration file's text, without and with a base directory; both must agree on
/// acceptance, and an accepted configuration must hold values in their documented ranges.
pub fn config_text(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let plain = Config::parse(text, None);
    let based = Config::parse(text, Some(Path::new("/fuzz/base")));
    assert_eq!(
        plain.is_ok(),
        based.is_ok(),
        "a base directory changed whether the text parses"
    );
    let (Ok(plain), Ok(based)) = (plain, based) else {
        return false;
    };
    assert!((1..=255).contains(&plain.max_pin_failures));
    assert!(plain.pin_iterations >= 1);
    assert_eq!(plain.max_pin_failures, based.max_pin_failures);
    assert_eq!(plain.pin_iterations, based.pin_iterations);
    assert_eq!(plain.shares_env, based.shares_env);
    assert_eq!(plain.shares.len(), based.shares.len());
    assert!(based.store.is_absolute(), "store not made absolute");
    assert!(based.shares.iter().all(|s| s.is_absolute()));
    true
}

/// Decodes a store header; the layout is fixed, so an accepted header must encode back to
/// exactly the input and decode to itself.
pub fn store_header(data: &[u8]) -> bool {
    let Ok(header) = StoreHeader::decode(data) else {
        return false;
    };
    let enc = header.encode().expect("a decoded header must be encodable");
    assert_eq!(enc, data, "re-encoding a header changed its bytes");
    let again = StoreHeader::decode(&enc).expect("re-encoded header must decode");
    assert_eq!(again, header);
    true
}

/// Reads fixed-width fields from fuzz input, yielding zeros once the input runs out.
struct Bytes<'a>(&'a [u8]);

impl<'a> Bytes<'a> {
    fn u8(&mut self) -> u8 {
        match self.0.split_first() {
            Some((b, rest)) => {
                self.0 = rest;
                *b
            }
            None => 0,
        }
    }
    fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }
    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }
    fn u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        b.iter_mut().for_each(|x| *x = self.u8());
        u64::from_le_bytes(b)
    }
    fn flag(&mut self) -> bool {
        self.u8() & 1 == 1
    }
    fn take(&mut self, n: usize) -> &'a [u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }
    fn rest(&mut self) -> &'a [u8] {
        self.take(self.0.len())
    }
    /// A byte string preceded by its one-byte length.
    fn blob(&mut self) -> Vec<u8> {
        let n = usize::from(self.u8());
        self.take(n).to_vec()
    }
    /// Sixteen bytes (zero filled once the input runs out).
    fn block(&mut self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b.iter_mut().for_each(|x| *x = self.u8());
        b
    }
    /// A `CK_ULONG` field: a selector byte picks one of `dict` (valid and invalid values the
    /// parser distinguishes), except 0xff, which reads an arbitrary 8-byte value.
    fn pick(&mut self, dict: &[u64]) -> u64 {
        match self.u8() {
            0xff => self.u64(),
            b => dict[usize::from(b) % dict.len()],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Mechanism parameters.

/// `hashAlg` / `prfHashMechanism` values: every hash the token knows, and two it does not.
const HASH_MECHS: &[u64] = &[
    CKM_SHA_1,
    CKM_SHA224,
    CKM_SHA256,
    CKM_SHA384,
    CKM_SHA512,
    CKM_SHA3_224,
    CKM_SHA3_256,
    CKM_SHA3_384,
    CKM_SHA3_512,
    CKM_MD5,
    0,
];
/// `mgf` values.
const MGFS: &[u64] = &[
    CKG_MGF1_SHA1,
    CKG_MGF1_SHA224,
    CKG_MGF1_SHA256,
    CKG_MGF1_SHA384,
    CKG_MGF1_SHA512,
    CKG_MGF1_SHA3_224,
    CKG_MGF1_SHA3_256,
    CKG_MGF1_SHA3_384,
    CKG_MGF1_SHA3_512,
    0,
];
/// `CK_EC_KDF_TYPE` values.
const EC_KDFS: &[u64] = &[
    CKD_NULL,
    CKD_SHA1_KDF,
    CKD_SHA224_KDF,
    CKD_SHA256_KDF,
    CKD_SHA384_KDF,
    CKD_SHA512_KDF,
    CKD_SHA3_224_KDF,
    CKD_SHA3_256_KDF,
    CKD_SHA3_384_KDF,
    CKD_SHA3_512_KDF,
    0x99,
];
/// PBKDF2 `prf` values.
const PBKDF2_PRFS: &[u64] = &[
    CKP_PKCS5_PBKD2_HMAC_SHA1,
    CKP_PKCS5_PBKD2_HMAC_SHA224,
    CKP_PKCS5_PBKD2_HMAC_SHA256,
    CKP_PKCS5_PBKD2_HMAC_SHA384,
    CKP_PKCS5_PBKD2_HMAC_SHA512,
    CKP_PKCS5_PBKD2_HMAC_GOSTR3411,
    0,
];
/// SP 800-108 `prfType` values.
const SP800_PRFS: &[u64] = &[
    CKM_AES_CMAC,
    CKM_SHA_1_HMAC,
    CKM_SHA224_HMAC,
    CKM_SHA256_HMAC,
    CKM_SHA384_HMAC,
    CKM_SHA512_HMAC,
    CKM_SHA3_224_HMAC,
    CKM_SHA3_256_HMAC,
    CKM_SHA3_384_HMAC,
    CKM_SHA3_512_HMAC,
    CKM_SHA256,
];

/// The number of [`RawParam`] variants `raw_param` builds.
pub const RAW_PARAM_SHAPES: u8 = 15;

/// Builds one raw parameter from the bytes. The shape byte picks the variant modulo
/// [`RAW_PARAM_SHAPES`]: 0 none, 1 bytes, 2 GCM, 3 PSS, 4 `CK_ULONG`, 5 CCM, 6 CTR, 7 OAEP,
/// 8 ECDH, 9 EdDSA, 10 CBC encrypt data, 11 HKDF, 12 SP 800-108, 13 PBKDF2, 14 RSA-AES wrap.
/// Numeric fields are [`Bytes::pick`]ed from short lists of meaningful values; byte strings are
/// [`Bytes::blob`]s except where a field is fixed-size.
fn raw_param(r: &mut Bytes<'_>) -> RawParam {
    match r.u8() % RAW_PARAM_SHAPES {
        0 => RawParam::None,
        1 => RawParam::Bytes(r.blob()),
        2 => {
            let iv_len = usize::from(r.u16() % 1024);
            let iv_bits = r.pick(&[0, 96, 64, 8, 95, 128]);
            let tag_bits = r.pick(&[128, 120, 112, 104, 96, 64, 32, 0, 127, 256]);
            let iv = r.take(iv_len).to_vec();
            RawParam::Gcm {
                iv,
                iv_bits,
                aad: r.blob(),
                tag_bits,
            }
        }
        3 => RawParam::Pss {
            hash: r.pick(HASH_MECHS),
            mgf: r.pick(MGFS),
            salt_len: r.pick(&[0, 20, 32, 48, 64, 1 << 20]),
        },
        4 => RawParam::Ulong(r.pick(&[0, 1, 8, 16, 17, 20, 28, 32, 48, 64, 65, 1 << 40])),
        5 => RawParam::Ccm {
            data_len: r.pick(&[0, 16, 1 << 32]),
            nonce: r.blob(),
            aad: r.blob(),
            mac_len: r.pick(&[4, 6, 8, 10, 12, 14, 16, 0, 5, 18]),
        },
        6 => RawParam::Ctr {
            counter_bits: r.pick(&[1, 32, 64, 128, 0, 129]),
            block: r.block(),
        },
        7 => oaep_param(r),
        8 => RawParam::Ecdh {
            kdf: r.pick(EC_KDFS),
            shared_data: r.blob(),
            public: r.blob(),
        },
        9 => {
            let flags = r.u8();
            let context = if flags & 2 != 0 {
                let n = usize::from(r.u16() % 512);
                Some(r.take(n).to_vec())
            } else {
                None
            };
            RawParam::Eddsa {
                prehash: flags & 1 != 0,
                context,
            }
        }
        10 => RawParam::CbcEncryptData {
            iv: r.block(),
            data: r.blob(),
        },
        11 => {
            let flags = r.u8();
            RawParam::Hkdf {
                extract: flags & 1 != 0,
                expand: flags & 2 != 0,
                hash: r.pick(HASH_MECHS),
                salt_type: r.pick(&[
                    CKF_HKDF_SALT_NULL,
                    CKF_HKDF_SALT_DATA,
                    CKF_HKDF_SALT_KEY,
                    0,
                    8,
                ]),
                salt: r.blob(),
                salt_key: r.pick(&[1, 0x1234, 1 << 48]),
                info: r.blob(),
            }
        }
        12 => {
            let prf = r.pick(SP800_PRFS);
            let count = r.u8() % 5;
            let data = (0..count).map(|_| prf_data_param(r)).collect();
            RawParam::Sp800 {
                prf,
                data,
                additional_keys: r.pick(&[0, 1, 2]),
            }
        }
        13 => RawParam::Pbkdf2 {
            salt_source: r.pick(&[CKZ_SALT_SPECIFIED, 0, 2]),
            salt: r.blob(),
            iterations: r.pick(&[1, 1000, 0, u64::from(u32::MAX), u64::from(u32::MAX) + 1]),
            prf: r.pick(PBKDF2_PRFS),
            prf_data_len: r.pick(&[0, 1]),
            password: r.blob(),
        },
        _ => {
            let aes_bits = r.pick(&[128, 192, 256, 0, 64, 512]);
            // The C layer reads a CK_RSA_PKCS_OAEP_PARAMS here; anything else is a parser bug
            // to refuse.
            let oaep = if r.flag() {
                oaep_param(r)
            } else {
                RawParam::None
            };
            RawParam::RsaAesWrap {
                aes_bits,
                oaep: Box::new(oaep),
            }
        }
    }
}

fn oaep_param(r: &mut Bytes<'_>) -> RawParam {
    RawParam::Oaep {
        hash: r.pick(HASH_MECHS),
        mgf: r.pick(MGFS),
        source: r.pick(&[CKZ_DATA_SPECIFIED, 0, 2]),
        label: r.blob(),
    }
}

fn prf_data_param(r: &mut Bytes<'_>) -> RawPrfData {
    const WIDTHS: &[u64] = &[8, 16, 24, 32, 40, 64, 0, 7, 72];
    match r.u8() % 4 {
        0 => {
            let some = r.flag();
            let le = r.flag();
            let bits = r.pick(WIDTHS);
            RawPrfData::Iteration(some.then_some((le, bits)))
        }
        1 => {
            let le = r.flag();
            RawPrfData::Counter(le, r.pick(WIDTHS))
        }
        2 => {
            let method = r.pick(&[
                CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS,
                CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS,
                0x99,
            ]);
            let le = r.flag();
            RawPrfData::DkmLength(method, le, r.pick(WIDTHS))
        }
        _ => RawPrfData::Bytes(r.blob()),
    }
}

/// `CKM_SHA*` of a hash.
fn hash_mech(h: HashAlg) -> u64 {
    match h {
        HashAlg::Sha1 => CKM_SHA_1,
        HashAlg::Sha224 => CKM_SHA224,
        HashAlg::Sha256 => CKM_SHA256,
        HashAlg::Sha384 => CKM_SHA384,
        HashAlg::Sha512 => CKM_SHA512,
        HashAlg::Sha3_224 => CKM_SHA3_224,
        HashAlg::Sha3_256 => CKM_SHA3_256,
        HashAlg::Sha3_384 => CKM_SHA3_384,
        HashAlg::Sha3_512 => CKM_SHA3_512,
    }
}

/// `CKG_MGF1_*` of a hash.
fn mgf_of(h: HashAlg) -> u64 {
    match h {
        HashAlg::Sha1 => CKG_MGF1_SHA1,
        HashAlg::Sha224 => CKG_MGF1_SHA224,
        HashAlg::Sha256 => CKG_MGF1_SHA256,
        HashAlg::Sha384 => CKG_MGF1_SHA384,
        HashAlg::Sha512 => CKG_MGF1_SHA512,
        HashAlg::Sha3_224 => CKG_MGF1_SHA3_224,
        HashAlg::Sha3_256 => CKG_MGF1_SHA3_256,
        HashAlg::Sha3_384 => CKG_MGF1_SHA3_384,
        HashAlg::Sha3_512 => CKG_MGF1_SHA3_512,
    }
}

/// `CKD_*` of an ECDH KDF.
fn ec_kdf_of(k: EcKdf) -> u64 {
    match k {
        EcKdf::Null => CKD_NULL,
        EcKdf::X963(h) => match h {
            HashAlg::Sha1 => CKD_SHA1_KDF,
            HashAlg::Sha224 => CKD_SHA224_KDF,
            HashAlg::Sha256 => CKD_SHA256_KDF,
            HashAlg::Sha384 => CKD_SHA384_KDF,
            HashAlg::Sha512 => CKD_SHA512_KDF,
            HashAlg::Sha3_224 => CKD_SHA3_224_KDF,
            HashAlg::Sha3_256 => CKD_SHA3_256_KDF,
            HashAlg::Sha3_384 => CKD_SHA3_384_KDF,
            HashAlg::Sha3_512 => CKD_SHA3_512_KDF,
        },
    }
}

/// `CKP_PKCS5_PBKD2_HMAC_*` of a hash; `None` for the hashes PBKDF2 has no number for.
fn pbkdf2_prf_of(h: HashAlg) -> Option<u64> {
    Some(match h {
        HashAlg::Sha1 => CKP_PKCS5_PBKD2_HMAC_SHA1,
        HashAlg::Sha224 => CKP_PKCS5_PBKD2_HMAC_SHA224,
        HashAlg::Sha256 => CKP_PKCS5_PBKD2_HMAC_SHA256,
        HashAlg::Sha384 => CKP_PKCS5_PBKD2_HMAC_SHA384,
        HashAlg::Sha512 => CKP_PKCS5_PBKD2_HMAC_SHA512,
        HashAlg::Sha3_224 | HashAlg::Sha3_256 | HashAlg::Sha3_384 | HashAlg::Sha3_512 => {
            return None
        }
    })
}

/// The `prfType` of an SP 800-108 PRF.
fn sp800_prf_of(p: Sp800Prf) -> u64 {
    match p {
        Sp800Prf::Cmac => CKM_AES_CMAC,
        Sp800Prf::Hmac(h) => match h {
            HashAlg::Sha1 => CKM_SHA_1_HMAC,
            HashAlg::Sha224 => CKM_SHA224_HMAC,
            HashAlg::Sha256 => CKM_SHA256_HMAC,
            HashAlg::Sha384 => CKM_SHA384_HMAC,
            HashAlg::Sha512 => CKM_SHA512_HMAC,
            HashAlg::Sha3_224 => CKM_SHA3_224_HMAC,
            HashAlg::Sha3_256 => CKM_SHA3_256_HMAC,
            HashAlg::Sha3_384 => CKM_SHA3_384_HMAC,
            HashAlg::Sha3_512 => CKM_SHA3_512_HMAC,
        },
    }
}

fn oaep_raw(p: &OaepParams) -> RawParam {
    RawParam::Oaep {
        hash: hash_mech(p.hash),
        mgf: mgf_of(p.mgf1),
        source: CKZ_DATA_SPECIFIED,
        label: p.label.clone(),
    }
}

/// The raw parameters a C caller would pass to obtain `m`: the inverse of [`mechanism::parse`],
/// written from the `CK_*_PARAMS` definitions.
fn raw_of(m: &Mechanism) -> RawParam {
    let family = mechanism::info(m.ty).map(|r| r.family);
    match &m.kind {
        Kind::Digest(_)
        | Kind::AesKeyGen
        | Kind::GenericSecretKeyGen
        | Kind::EcKeyPairGen
        | Kind::EdwardsKeyPairGen
        | Kind::MontgomeryKeyPairGen
        | Kind::RsaKeyPairGen
        | Kind::RsaPkcs
        | Kind::RsaX509
        | Kind::RsaPkcsWith(_)
        | Kind::Ecdsa
        | Kind::EcdsaWith(_)
        | Kind::AesEcb
        | Kind::AesKeyWrap
        | Kind::AesKeyWrapPad => RawParam::None,
        Kind::RsaOaep(p) => oaep_raw(p),
        Kind::RsaPss(p) | Kind::RsaPssWith(p) => RawParam::Pss {
            hash: hash_mech(p.hash),
            mgf: mgf_of(p.mgf1),
            salt_len: p.salt_len as u64,
        },
        Kind::Eddsa(p) => RawParam::Eddsa {
            prehash: p.prehash,
            context: p.context.clone(),
        },
        Kind::Ecdh(p) => RawParam::Ecdh {
            kdf: ec_kdf_of(p.kdf),
            shared_data: p.shared_data.clone(),
            public: p.public.clone(),
        },
        Kind::AesCbc(iv) | Kind::AesCbcPad(iv) | Kind::AesCts(iv) => RawParam::Bytes(iv.to_vec()),
        Kind::AesCtr {
            counter_bits,
            block,
        } => RawParam::Ctr {
            counter_bits: u64::from(*counter_bits),
            block: *block,
        },
        Kind::AesGcm(g) => RawParam::Gcm {
            iv: g.iv.clone(),
            iv_bits: g.iv.len() as u64 * 8,
            aad: g.aad.clone(),
            tag_bits: g.tag_bits,
        },
        Kind::AesCcm(c) => RawParam::Ccm {
            data_len: c.data_len,
            nonce: c.nonce.clone(),
            aad: c.aad.clone(),
            mac_len: c.mac_len as u64,
        },
        Kind::AesCmac(_) if family == Some(Family::AesCmac) => RawParam::None,
        Kind::AesCmac(n) => RawParam::Ulong(*n as u64),
        Kind::AesEcbEncryptData(d)
        | Kind::ConcatBaseAndData(d)
        | Kind::ConcatDataAndBase(d)
        | Kind::XorBaseAndData(d) => RawParam::Bytes(d.clone()),
        Kind::AesCbcEncryptData { iv, data } => RawParam::CbcEncryptData {
            iv: *iv,
            data: data.clone(),
        },
        Kind::Hmac(_, _) if matches!(family, Some(Family::Hmac(_))) => RawParam::None,
        Kind::Hmac(_, n) => RawParam::Ulong(*n as u64),
        Kind::HkdfDerive(p) | Kind::HkdfData(p) => {
            let (salt_type, salt, salt_key) = match &p.salt {
                HkdfSalt::Null => (CKF_HKDF_SALT_NULL, Vec::new(), 0),
                HkdfSalt::Data(s) => (CKF_HKDF_SALT_DATA, s.clone(), 0),
                HkdfSalt::Key(k) => (CKF_HKDF_SALT_KEY, Vec::new(), *k),
            };
            RawParam::Hkdf {
                extract: p.extract,
                expand: p.expand,
                hash: hash_mech(p.hash),
                salt_type,
                salt,
                salt_key,
                info: p.info.clone(),
            }
        }
        Kind::Sp800Counter(p) => RawParam::Sp800 {
            prf: sp800_prf_of(p.prf),
            data: p
                .data
                .iter()
                .map(|d| match d {
                    Sp800Data::Counter {
                        little_endian,
                        bits,
                    } => RawPrfData::Iteration(Some((*little_endian, u64::from(*bits)))),
                    Sp800Data::DkmLength {
                        sum_of_segments,
                        little_endian,
                        bits,
                    } => RawPrfData::DkmLength(
                        if *sum_of_segments {
                            CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS
                        } else {
                            CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS
                        },
                        *little_endian,
                        u64::from(*bits),
                    ),
                    Sp800Data::Bytes(b) => RawPrfData::Bytes(b.clone()),
                })
                .collect(),
            additional_keys: 0,
        },
        Kind::Pbkdf2(p) => RawParam::Pbkdf2 {
            salt_source: CKZ_SALT_SPECIFIED,
            salt: p.salt.clone(),
            iterations: u64::from(p.iterations),
            prf: pbkdf2_prf_of(p.hash)
                .unwrap_or_else(|| panic!("PBKDF2 accepted with {:?}", p.hash)),
            prf_data_len: 0,
            password: p.password.clone(),
        },
        Kind::ConcatBaseAndKey(h) => RawParam::Ulong(*h),
        Kind::ExtractKeyFromKey(bit) => RawParam::Ulong(*bit),
        Kind::RsaAesKeyWrap(p) => RawParam::RsaAesWrap {
            aes_bits: p.aes_bits as u64,
            oaep: Box::new(oaep_raw(&p.oaep)),
        },
    }
}

/// Whether the C ABI layer can produce `raw` for a row of shape `shape` (what `ffi::args`
/// reads for each shape).
fn shape_allows(shape: ParamShape, raw: &RawParam) -> bool {
    matches!(
        (shape, raw),
        (ParamShape::None | ParamShape::OptionalIv, RawParam::None)
            | (
                ParamShape::Iv16 | ParamShape::StringData,
                RawParam::Bytes(_)
            )
            | (ParamShape::Gcm, RawParam::Gcm { .. })
            | (ParamShape::Ccm, RawParam::Ccm { .. })
            | (ParamShape::Ctr, RawParam::Ctr { .. })
            | (ParamShape::Pss, RawParam::Pss { .. })
            | (ParamShape::Oaep, RawParam::Oaep { .. })
            | (ParamShape::Ecdh, RawParam::Ecdh { .. })
            | (ParamShape::Eddsa, RawParam::None | RawParam::Eddsa { .. })
            | (
                ParamShape::MacLen | ParamShape::Extract | ParamShape::KeyHandle,
                RawParam::Ulong(_)
            )
            | (ParamShape::CbcEncryptData, RawParam::CbcEncryptData { .. })
            | (ParamShape::Hkdf, RawParam::Hkdf { .. })
            | (ParamShape::Sp800, RawParam::Sp800 { .. })
            | (ParamShape::Pbkdf2, RawParam::Pbkdf2 { .. })
            | (ParamShape::RsaAesWrap, RawParam::RsaAesWrap { .. })
    )
}

/// The hash a table family names, if it names one.
fn family_hash(f: Family) -> Option<HashAlg> {
    match f {
        Family::Digest(h)
        | Family::RsaPkcsWith(h)
        | Family::RsaPssWith(h)
        | Family::EcdsaWith(h)
        | Family::Hmac(h)
        | Family::HmacGeneral(h) => Some(h),
        _ => None,
    }
}

/// Checks OAEP parameters against the raw fields they came from.
fn check_oaep(p: &OaepParams, raw: &RawParam) {
    let RawParam::Oaep {
        hash,
        mgf,
        source,
        label,
    } = raw
    else {
        panic!("OAEP parameters from {raw:?}");
    };
    assert_eq!(mechanism::hash_of_mechanism(*hash), Some(p.hash));
    assert_eq!(mechanism::hash_of_mgf(*mgf), Some(p.mgf1));
    assert_eq!(&p.label, label);
    assert!(
        *source == CKZ_DATA_SPECIFIED || (*source == 0 && label.is_empty()),
        "OAEP source {source:#x} accepted"
    );
}

/// Checks every field of an accepted mechanism against the raw parameters it was built from,
/// with the rules of the `CK_*_PARAMS` definitions (lengths, allowed values, hash names).
fn check_fields(m: &Mechanism, family: Family, raw: &RawParam) {
    if let Some(h) = family_hash(family) {
        let got = match &m.kind {
            Kind::Digest(h) | Kind::RsaPkcsWith(h) | Kind::EcdsaWith(h) | Kind::Hmac(h, _) => *h,
            Kind::RsaPssWith(p) => p.hash,
            other => panic!("{family:?} row built {other:?}"),
        };
        assert_eq!(got, h, "{family:?} row built a mechanism with {got:?}");
    }
    match (&m.kind, raw) {
        (
            Kind::Digest(_)
            | Kind::AesKeyGen
            | Kind::GenericSecretKeyGen
            | Kind::EcKeyPairGen
            | Kind::EdwardsKeyPairGen
            | Kind::MontgomeryKeyPairGen
            | Kind::RsaKeyPairGen
            | Kind::RsaPkcs
            | Kind::RsaX509
            | Kind::RsaPkcsWith(_)
            | Kind::Ecdsa
            | Kind::EcdsaWith(_)
            | Kind::AesEcb
            | Kind::AesKeyWrap
            | Kind::AesKeyWrapPad,
            RawParam::None,
        ) => {}
        (Kind::RsaOaep(p), _) => check_oaep(p, raw),
        (
            Kind::RsaPss(p) | Kind::RsaPssWith(p),
            RawParam::Pss {
                hash,
                mgf,
                salt_len,
            },
        ) => {
            assert_eq!(mechanism::hash_of_mechanism(*hash), Some(p.hash));
            assert_eq!(mechanism::hash_of_mgf(*mgf), Some(p.mgf1));
            assert_eq!(p.salt_len as u64, *salt_len);
        }
        (Kind::Eddsa(p), RawParam::None) => assert_eq!(*p, EddsaParams::default()),
        (Kind::Eddsa(p), RawParam::Eddsa { prehash, context }) => {
            assert_eq!(p.prehash, *prehash);
            assert_eq!(&p.context, context);
            assert!(p.context.as_ref().is_none_or(|c| c.len() <= 255));
        }
        (
            Kind::Ecdh(p),
            RawParam::Ecdh {
                kdf,
                shared_data,
                public,
            },
        ) => {
            assert_eq!(ec_kdf_of(p.kdf), *kdf);
            assert_eq!(&p.shared_data, shared_data);
            assert_eq!(&p.public, public);
            assert!(!p.public.is_empty(), "ECDH without a public value");
            assert!(p.kdf != EcKdf::Null || p.shared_data.is_empty());
        }
        (Kind::AesCbc(iv) | Kind::AesCbcPad(iv) | Kind::AesCts(iv), RawParam::Bytes(b)) => {
            assert_eq!(&iv[..], &b[..]);
        }
        (
            Kind::AesCtr {
                counter_bits,
                block,
            },
            RawParam::Ctr {
                counter_bits: raw_bits,
                block: raw_block,
            },
        ) => {
            assert_eq!(u64::from(*counter_bits), *raw_bits);
            assert!((1..=128).contains(counter_bits));
            assert_eq!(block, raw_block);
        }
        (
            Kind::AesGcm(g),
            RawParam::Gcm {
                iv,
                iv_bits,
                aad,
                tag_bits,
            },
        ) => {
            assert_eq!(&g.iv, iv);
            assert_eq!(&g.aad, aad);
            assert_eq!(g.tag_bits, *tag_bits);
            assert!((1..=crate::crypto::aes::GCM_MAX_IV_LEN).contains(&g.iv.len()));
            assert!(*iv_bits == 0 || *iv_bits == g.iv.len() as u64 * 8);
            assert!(matches!(g.tag_bits, 32 | 64 | 96 | 104 | 112 | 120 | 128));
        }
        (
            Kind::AesCcm(c),
            RawParam::Ccm {
                data_len,
                nonce,
                aad,
                mac_len,
            },
        ) => {
            assert_eq!(c.data_len, *data_len);
            assert_eq!(&c.nonce, nonce);
            assert_eq!(&c.aad, aad);
            assert_eq!(c.mac_len as u64, *mac_len);
            assert!((7..=13).contains(&c.nonce.len()));
            assert!(matches!(c.mac_len, 4 | 6 | 8 | 10 | 12 | 14 | 16));
        }
        (Kind::AesCmac(n), RawParam::None) => assert_eq!(*n, 16),
        (Kind::AesCmac(n), RawParam::Ulong(u)) => {
            assert_eq!(*n as u64, *u);
            assert!((1..=16).contains(n));
        }
        (Kind::AesEcbEncryptData(d), RawParam::Bytes(b)) => {
            assert_eq!(d, b);
            assert!(!d.is_empty() && d.len() % 16 == 0);
        }
        (
            Kind::AesCbcEncryptData { iv, data },
            RawParam::CbcEncryptData {
                iv: raw_iv,
                data: raw_data,
            },
        ) => {
            assert_eq!(iv, raw_iv);
            assert_eq!(data, raw_data);
            assert!(!data.is_empty() && data.len() % 16 == 0);
        }
        (Kind::Hmac(h, n), RawParam::None) => assert_eq!(*n, h.output_len()),
        (Kind::Hmac(h, n), RawParam::Ulong(u)) => {
            assert_eq!(*n as u64, *u);
            assert!((1..=h.output_len()).contains(n));
        }
        (
            Kind::HkdfDerive(p) | Kind::HkdfData(p),
            RawParam::Hkdf {
                extract,
                expand,
                hash,
                salt_type,
                salt,
                salt_key,
                info,
            },
        ) => {
            assert_eq!(
                matches!(m.kind, Kind::HkdfData(_)),
                family == Family::HkdfData
            );
            assert_eq!((p.extract, p.expand), (*extract, *expand));
            assert!(
                p.extract || p.expand,
                "HKDF that neither extracts nor expands"
            );
            assert_eq!(mechanism::hash_of_mechanism(*hash), Some(p.hash));
            assert_eq!(&p.info, info);
            let want = if !p.extract {
                HkdfSalt::Null
            } else {
                match *salt_type {
                    CKF_HKDF_SALT_NULL => HkdfSalt::Null,
                    CKF_HKDF_SALT_DATA => HkdfSalt::Data(salt.clone()),
                    CKF_HKDF_SALT_KEY => HkdfSalt::Key(*salt_key),
                    other => panic!("HKDF salt type {other:#x} accepted"),
                }
            };
            assert_eq!(p.salt, want);
            assert!(!matches!(&p.salt, HkdfSalt::Data(s) if s.is_empty()));
        }
        (
            Kind::Sp800Counter(p),
            RawParam::Sp800 {
                prf,
                data,
                additional_keys,
            },
        ) => {
            assert_eq!(*additional_keys, 0);
            assert_eq!(sp800_prf_of(p.prf), *prf);
            assert_eq!(p.data.len(), data.len());
            let counters = p
                .data
                .iter()
                .filter(|d| matches!(d, Sp800Data::Counter { .. }))
                .count();
            assert_eq!(counters, 1, "SP 800-108 needs exactly one counter");
            for (d, raw) in p.data.iter().zip(data) {
                match (d, raw) {
                    (
                        Sp800Data::Counter {
                            little_endian,
                            bits,
                        },
                        RawPrfData::Iteration(Some((le, b))),
                    ) => {
                        assert_eq!((*little_endian, u64::from(*bits)), (*le, *b));
                        assert!(*bits > 0 && bits % 8 == 0 && *bits <= 32);
                    }
                    (
                        Sp800Data::DkmLength {
                            sum_of_segments,
                            little_endian,
                            bits,
                        },
                        RawPrfData::DkmLength(method, le, b),
                    ) => {
                        let want = *method == CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS;
                        assert!(want || *method == CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS);
                        assert_eq!(
                            (*sum_of_segments, *little_endian, u64::from(*bits)),
                            (want, *le, *b)
                        );
                        assert!(*bits > 0 && bits % 8 == 0 && *bits <= 64);
                    }
                    (Sp800Data::Bytes(a), RawPrfData::Bytes(b)) => assert_eq!(a, b),
                    (d, raw) => panic!("SP 800-108 data {d:?} built from {raw:?}"),
                }
            }
        }
        (
            Kind::Pbkdf2(p),
            RawParam::Pbkdf2 {
                salt_source,
                salt,
                iterations,
                prf,
                prf_data_len,
                password,
            },
        ) => {
            assert_eq!(*salt_source, CKZ_SALT_SPECIFIED);
            assert_eq!(*prf_data_len, 0);
            assert_eq!(u64::from(p.iterations), *iterations);
            assert!(p.iterations >= 1);
            assert_eq!(pbkdf2_prf_of(p.hash), Some(*prf));
            assert_eq!(&p.salt, salt);
            assert_eq!(&p.password, password);
        }
        (Kind::ConcatBaseAndKey(h), RawParam::Ulong(u)) => assert_eq!(h, u),
        (Kind::ExtractKeyFromKey(b), RawParam::Ulong(u)) => assert_eq!(b, u),
        (
            Kind::ConcatBaseAndData(d) | Kind::ConcatDataAndBase(d) | Kind::XorBaseAndData(d),
            RawParam::Bytes(b),
        ) => assert_eq!(d, b),
        (Kind::RsaAesKeyWrap(p), RawParam::RsaAesWrap { aes_bits, oaep }) => {
            assert_eq!(p.aes_bits as u64, *aes_bits);
            assert!(matches!(p.aes_bits, 128 | 192 | 256));
            check_oaep(&p.oaep, oaep);
        }
        (kind, raw) => panic!("{kind:?} accepted from mismatched parameters {raw:?}"),
    }
}

/// Encodes a mechanism type and raw parameter in the layout [`mechanism_params`] reads, with
/// every numeric field written out in full (selector 0xff), for seed inputs. Byte strings
/// longer than the layout carries are cut short.
pub fn mechanism_input(ty: u64, param: &RawParam) -> Vec<u8> {
    fn full(out: &mut Vec<u8>, v: u64) {
        out.push(0xff);
        out.extend_from_slice(&v.to_le_bytes());
    }
    fn blob(out: &mut Vec<u8>, b: &[u8]) {
        let b = &b[..b.len().min(255)];
        out.push(b.len() as u8);
        out.extend_from_slice(b);
    }
    fn oaep(out: &mut Vec<u8>, p: &RawParam) {
        if let RawParam::Oaep {
            hash,
            mgf,
            source,
            label,
        } = p
        {
            full(out, *hash);
            full(out, *mgf);
            full(out, *source);
            blob(out, label);
        }
    }
    let mut out = match MECHANISMS.iter().position(|m| m.ty == ty) {
        Some(i) if i < 0x80 => vec![i as u8],
        _ => {
            let mut v = vec![0x80];
            v.extend_from_slice(&ty.to_le_bytes());
            v
        }
    };
    match param {
        RawParam::None => out.push(0),
        RawParam::Bytes(b) => {
            out.push(1);
            blob(&mut out, b);
        }
        RawParam::Gcm {
            iv,
            iv_bits,
            aad,
            tag_bits,
        } => {
            out.push(2);
            let iv = &iv[..iv.len().min(1023)];
            out.extend_from_slice(&(iv.len() as u16).to_le_bytes());
            full(&mut out, *iv_bits);
            full(&mut out, *tag_bits);
            out.extend_from_slice(iv);
            blob(&mut out, aad);
        }
        RawParam::Pss {
            hash,
            mgf,
            salt_len,
        } => {
            out.push(3);
            for v in [hash, mgf, salt_len] {
                full(&mut out, *v);
            }
        }
        RawParam::Ulong(v) => {
            out.push(4);
            full(&mut out, *v);
        }
        RawParam::Ccm {
            data_len,
            nonce,
            aad,
            mac_len,
        } => {
            out.push(5);
            full(&mut out, *data_len);
            blob(&mut out, nonce);
            blob(&mut out, aad);
            full(&mut out, *mac_len);
        }
        RawParam::Ctr {
            counter_bits,
            block,
        } => {
            out.push(6);
            full(&mut out, *counter_bits);
            out.extend_from_slice(block);
        }
        RawParam::Oaep { .. } => {
            out.push(7);
            oaep(&mut out, param);
        }
        RawParam::Ecdh {
            kdf,
            shared_data,
            public,
        } => {
            out.push(8);
            full(&mut out, *kdf);
            blob(&mut out, shared_data);
            blob(&mut out, public);
        }
        RawParam::Eddsa { prehash, context } => {
            out.push(9);
            out.push(u8::from(*prehash) | if context.is_some() { 2 } else { 0 });
            if let Some(c) = context {
                let c = &c[..c.len().min(511)];
                out.extend_from_slice(&(c.len() as u16).to_le_bytes());
                out.extend_from_slice(c);
            }
        }
        RawParam::CbcEncryptData { iv, data } => {
            out.push(10);
            out.extend_from_slice(iv);
            blob(&mut out, data);
        }
        RawParam::Hkdf {
            extract,
            expand,
            hash,
            salt_type,
            salt,
            salt_key,
            info,
        } => {
            out.push(11);
            out.push(u8::from(*extract) | u8::from(*expand) << 1);
            full(&mut out, *hash);
            full(&mut out, *salt_type);
            blob(&mut out, salt);
            full(&mut out, *salt_key);
            blob(&mut out, info);
        }
        RawParam::Sp800 {
            prf,
            data,
            additional_keys,
        } => {
            out.push(12);
            full(&mut out, *prf);
            let data = &data[..data.len().min(4)];
            out.push(data.len() as u8);
            for d in data {
                match d {
                    RawPrfData::Iteration(None) => out.extend([0, 0, 0, 0]),
                    RawPrfData::Iteration(Some((le, bits))) => {
                        out.extend([0, 1, u8::from(*le)]);
                        full(&mut out, *bits);
                    }
                    RawPrfData::Counter(le, bits) => {
                        out.extend([1, u8::from(*le)]);
                        full(&mut out, *bits);
                    }
                    RawPrfData::DkmLength(method, le, bits) => {
                        out.push(2);
                        full(&mut out, *method);
                        out.push(u8::from(*le));
                        full(&mut out, *bits);
                    }
                    RawPrfData::Bytes(b) => {
                        out.push(3);
                        blob(&mut out, b);
                    }
                }
            }
            full(&mut out, *additional_keys);
        }
        RawParam::Pbkdf2 {
            salt_source,
            salt,
            iterations,
            prf,
            prf_data_len,
            password,
        } => {
            out.push(13);
            full(&mut out, *salt_source);
            blob(&mut out, salt);
            full(&mut out, *iterations);
            full(&mut out, *prf);
            full(&mut out, *prf_data_len);
            blob(&mut out, password);
        }
        RawParam::RsaAesWrap { aes_bits, oaep: o } => {
            out.push(14);
            full(&mut out, *aes_bits);
            let is_oaep = matches!(**o, RawParam::Oaep { .. });
            out.push(u8::from(is_oaep));
            oaep(&mut out, o);
        }
    }
    out
}

/// Builds a mechanism type and raw parameters from the bytes and parses them.
///
/// Layout: byte 0 picks the type (below 0x80: a row of [`MECHANISMS`], modulo its length;
/// otherwise the next 8 bytes are an arbitrary little-endian type); the rest is one raw
/// parameter of any [`RawParam`] variant (see `raw_param`).
///
/// Checked: an unknown type is `CKR_MECHANISM_INVALID` and a known one is never refused with
/// anything but `CKR_MECHANISM_PARAM_INVALID`; rows whose parameter is optional accept none;
/// parsing is deterministic. An accepted mechanism reports the requested type, came from a
/// parameter variant the C layer reads for that row's [`ParamShape`], carries exactly the given
/// fields within their documented ranges (`check_fields`), and re-parses to itself from the
/// parameters a C caller would write for it (`raw_of`).
pub fn mechanism_params(data: &[u8]) -> bool {
    let mut r = Bytes(data);
    let pick = r.u8();
    let ty = if pick < 0x80 {
        MECHANISMS[usize::from(pick) % MECHANISMS.len()].ty
    } else {
        r.u64()
    };
    let param = raw_param(&mut r);
    let result = mechanism::parse(ty, param.clone());
    assert_eq!(
        result,
        mechanism::parse(ty, param.clone()),
        "parsing is not deterministic"
    );
    let Some(row) = mechanism::info(ty) else {
        assert_eq!(result, Err(Error::MechanismInvalid), "unknown type {ty:#x}");
        return false;
    };
    let m = match result {
        Ok(m) => m,
        Err(e) => {
            assert_eq!(e, Error::MechanismParamInvalid, "{ty:#x} with {param:?}");
            assert!(
                !(matches!(param, RawParam::None)
                    && matches!(
                        row.param,
                        ParamShape::None | ParamShape::OptionalIv | ParamShape::Eddsa
                    )),
                "{} refused without parameters",
                row.name
            );
            return false;
        }
    };
    assert_eq!(m.ck_type(), ty, "parsed {m:?} for requested {ty:#x}");
    assert!(
        shape_allows(row.param, &param),
        "{} (shape {:?}) accepted {param:?}",
        row.name,
        row.param
    );
    check_fields(&m, row.family, &param);
    let again = mechanism::parse(ty, raw_of(&m));
    assert_eq!(
        again.as_ref(),
        Ok(&m),
        "{} does not re-parse from its own parameters",
        row.name
    );
    true
}

// ---------------------------------------------------------------------------------------------
// Sealed records.

/// The fixed key of the sealed-record target.
const FUZZ_SEAL_KEY: [u8; 32] = [0x5c; 32];
/// Length of a sealed record's version and nonce.
const SEAL_PREFIX: usize = 2 + 12;
/// Length of a sealed record's tag.
const SEAL_TAG: usize = 16;
/// Bytes of a [`sealed_record`] input before the record itself: kind, id, slot, mutation.
pub const SEALED_RECORD_HEADER: usize = 2 + 8 + 4 + 4;

fn fuzz_seal_key() -> &'static SealKey {
    static KEY: OnceLock<SealKey> = OnceLock::new();
    KEY.get_or_init(|| SealKey::from_bytes(&FUZZ_SEAL_KEY).expect("AES-256-GCM key"))
}

/// Seals `plain` under the sealed-record target's fixed key, for seed inputs.
pub fn seal_with_fuzz_key(kind: u16, id: u64, slot: u32, plain: &[u8]) -> Vec<u8> {
    fuzz_seal_key()
        .seal(kind, id, slot, plain)
        .expect("sealing a record")
}

/// Opens a sealed record with plain AES-256-GCM, following the documented layout
/// (`version u16 || nonce (12) || ciphertext || tag (16)`, AAD
/// `"custos-record" || kind || id || slot || version`, all little-endian): the reference the
/// store's own implementation is compared with.
fn reference_open(kind: u16, id: u64, slot: u32, blob: &[u8]) -> Option<Vec<u8>> {
    use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM};
    if blob.len() < SEAL_PREFIX + SEAL_TAG {
        return None;
    }
    let version = u16::from_le_bytes([blob[0], blob[1]]);
    if version != STORE_FORMAT_VERSION {
        return None;
    }
    let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &FUZZ_SEAL_KEY).ok()?);
    let nonce = Nonce::try_assume_unique_for_key(&blob[2..SEAL_PREFIX]).ok()?;
    let mut aad = b"custos-record".to_vec();
    aad.extend_from_slice(&kind.to_le_bytes());
    aad.extend_from_slice(&id.to_le_bytes());
    aad.extend_from_slice(&slot.to_le_bytes());
    aad.extend_from_slice(&version.to_le_bytes());
    let mut body = blob[SEAL_PREFIX..].to_vec();
    let plain = key
        .open_in_place(nonce, Aad::from(&aad[..]), &mut body)
        .ok()?;
    Some(plain.to_vec())
}

/// Opens a record and insists on the one refusal the store gives for any defect.
fn open_refused(kind: u16, id: u64, slot: u32, blob: &[u8], what: &str) {
    match fuzz_seal_key().open(kind, id, slot, blob) {
        Err(StoreError::RecordCorrupt { kind: k, id: i }) if k == kind && i == id => {}
        Err(e) => panic!("{what}: refused with {e:?} instead of RecordCorrupt"),
        Ok(_) => panic!("{what}: a tampered record opened"),
    }
}

/// Decodes record plaintext the ways the store's readers do: as an object's attribute map
/// (with [`attributes`]' round-trip checks) and as a PIN verifier (the variable part of a
/// token record), which must re-encode to the same bytes.
fn decode_plaintext(plain: &[u8]) {
    attributes(plain);
    if let Ok(v) = PinVerifier::from_bytes(plain) {
        assert_eq!(v.to_bytes(), plain, "PIN verifier did not round-trip");
        assert_eq!(
            v.iterations(),
            u32::from_le_bytes([plain[2], plain[3], plain[4], plain[5]])
        );
        assert!(v.iterations() >= 1);
    }
}

/// Opens and seals records under a fixed key.
///
/// Layout: kind u16, id u64, slot u32, then a mutation (mode u8, position u16, bit u8), then
/// the record bytes. The record bytes are
/// 1. opened as a sealed record of (kind, id, slot): the store must agree with an independent
///    AES-256-GCM opening (`reference_open`) on whether it is genuine and on its plaintext,
///    and must refuse it with `RecordCorrupt` otherwise; a genuine record must be refused
///    under any other kind, id or slot;
/// 2. sealed as plaintext: the record has the documented length and version, opens to the same
///    plaintext (with the store and with the reference), a second sealing uses a fresh nonce,
///    and the mutation (a flipped bit, another kind, id or slot, truncation, an extra byte, or
///    another version) makes opening fail;
/// 3. decoded as an attribute map and as a PIN verifier (`decode_plaintext`), as is the
///    plaintext of a genuine record.
///
/// Returns whether the record bytes were a genuine sealed record.
pub fn sealed_record(data: &[u8]) -> bool {
    let mut r = Bytes(data);
    let kind = r.u16();
    let id = r.u64();
    let slot = r.u32();
    let mode = r.u8();
    let pos = r.u16();
    let bit = 1u8 << (r.u8() % 8);
    let blob = r.rest();
    let key = fuzz_seal_key();

    // 1. The bytes as a sealed record.
    let genuine = match (
        key.open(kind, id, slot, blob),
        reference_open(kind, id, slot, blob),
    ) {
        (Ok(plain), Some(want)) => {
            assert_eq!(
                &plain[..],
                &want[..],
                "plaintext differs from the reference"
            );
            assert_eq!(plain.len() + SEAL_PREFIX + SEAL_TAG, blob.len());
            open_refused(kind ^ 1, id, slot, blob, "record under another kind");
            open_refused(kind, id ^ 1, slot, blob, "record under another id");
            open_refused(kind, id, slot ^ 1, blob, "record under another slot");
            decode_plaintext(&plain);
            true
        }
        (Err(StoreError::RecordCorrupt { kind: k, id: i }), None) if k == kind && i == id => false,
        (ours, reference) => panic!(
            "store and reference disagree: store {:?}, reference {}",
            ours.map(|p| p.len()),
            if reference.is_some() {
                "opened"
            } else {
                "refused"
            }
        ),
    };

    // 2. The bytes as plaintext.
    let sealed = key.seal(kind, id, slot, blob).expect("sealing");
    assert_eq!(sealed.len(), SEAL_PREFIX + blob.len() + SEAL_TAG);
    assert_eq!(sealed[..2], STORE_FORMAT_VERSION.to_le_bytes());
    let opened = key.open(kind, id, slot, &sealed).expect("own record opens");
    assert_eq!(&opened[..], blob, "sealed record opened to other bytes");
    assert_eq!(
        reference_open(kind, id, slot, &sealed).as_deref(),
        Some(blob),
        "reference cannot open the store's record"
    );
    let second = key.seal(kind, id, slot, blob).expect("sealing");
    assert_ne!(
        sealed[2..SEAL_PREFIX],
        second[2..SEAL_PREFIX],
        "nonce reused"
    );

    let at = usize::from(pos) % sealed.len();
    let step = u16::from(bit);
    let (mut k, mut i, mut s, mut b) = (kind, id, slot, sealed.clone());
    let what = match mode % 7 {
        0 => {
            b[at] ^= bit;
            "flipped bit"
        }
        1 => {
            k ^= step;
            "other kind"
        }
        2 => {
            i ^= u64::from(pos) << 8 | u64::from(bit);
            "other id"
        }
        3 => {
            s ^= u32::from(pos) << 8 | u32::from(bit);
            "other slot"
        }
        4 => {
            b.truncate(at);
            "truncated"
        }
        5 => {
            b.push(bit);
            "extra byte"
        }
        _ => {
            b[..2].copy_from_slice(&(STORE_FORMAT_VERSION ^ step).to_le_bytes());
            "other version"
        }
    };
    open_refused(k, i, s, &b, what);
    assert!(
        reference_open(k, i, s, &b).is_none(),
        "reference opened {what}"
    );

    // 3. The bytes as record plaintext.
    decode_plaintext(blob);
    genuine
}

// ---------------------------------------------------------------------------------------------
// The engine against a reference model.

/// Runs an operation sequence against the engine and a reference model; see [`model`].
pub fn engine_model(data: &[u8]) -> bool {
    model::run(data)
}

/// A model-based test of the token engine.
///
/// A fuzz input is decoded (`decode`) into up to `MAX_OPS` operations (`Op`): open and
/// close sessions, log in and out (user with the right or a wrong PIN, SO), set and initialise
/// the user PIN, create data objects and secret keys, generate secret keys and P-256 key pairs,
/// copy, set attributes, destroy, find (in one go, or started and finished by separate
/// operations), read attributes, sign with HMAC-SHA256 / AES-CMAC / ECDSA-SHA256 and wrap with
/// AES-KWP then unwrap. Each operation is applied to one real `Engine` (a `--dev` store made
/// once per process, its token re-initialised before every input so inputs are independent) and
/// to a small model written from the PKCS#11 rules: which sessions are open and read/write, who
/// is logged in, PIN failure counters, and which objects exist with their class, storage
/// attributes, label, id, usage flags, sensitivity and key material.
///
/// Checked after every operation:
/// - the engine succeeds exactly when the model does, and fails with the error the model
///   names (for example a handle the model does not know, or a private object while the user
///   is not logged in, gives `CKR_OBJECT_HANDLE_INVALID` / `CKR_KEY_HANDLE_INVALID`; a token
///   object in a read-only session gives `CKR_SESSION_READ_ONLY`);
/// - a new object's handle was never handed out before;
/// - every attribute the model tracks reads back as the model expects: the value, or
///   `CKR_ATTRIBUTE_SENSITIVE` for secret material of a sensitive or unextractable key, or
///   `CKR_ATTRIBUTE_TYPE_INVALID` for an attribute the class does not have;
/// - finds return exactly the matching visible objects, each once, in chunks of at most the
///   size asked for; a find started by one operation returns what matched when it started;
/// - session states, session counts, the token object count and the PIN flags (count low,
///   final try, locked) agree with the model, and an unfiltered find sees exactly the visible
///   objects;
/// - signatures verify: HMAC and CMAC values equal an independent computation when the key
///   value is known and are equal for every key holding the same material (copies, unwrapped
///   keys), ECDSA signatures verify under the pair's public key with an independent
///   verifier, and the engine's own verification accepts the signature and refuses a
///   tampered one;
/// - a wrapped key unwraps only with the same wrapping key material, into a key with the same
///   material.
pub mod model {
    use std::collections::{BTreeMap, BTreeSet, HashMap};
    use std::fmt::{Debug, Display};
    use std::path::Path;
    use std::sync::{Mutex, MutexGuard, OnceLock};

    use cryptoki_sys::*;

    use super::Bytes;
    use crate::config::Config;
    use crate::engine::{provision, AttrRead, Engine, Error, Out, Produced, Result};
    use crate::mechanism::Mechanism;
    use crate::object::{Attr, Value};

    /// Most operations run per input.
    pub const MAX_OPS: usize = 64;
    /// The number of operation codes.
    pub const OP_CODES: u8 = 19;
    /// The SO PIN of the model token (never entered wrongly often enough to lock).
    const SO_PIN: &[u8] = b"so-pin-0000";
    /// The user PINs an operation may pick: two valid ones and one too short.
    pub const USER_PINS: [&[u8]; 3] = [b"user-pin-0", b"user-pin-1", b"12"];
    /// The labels an operation may pick.
    pub const LABELS: [&[u8]; 4] = [b"", b"alpha", b"beta", b"gamma"];
    /// The key ids an operation may pick.
    pub const IDS: [&[u8]; 4] = [b"", &[1], &[2], &[1, 2]];
    /// Consecutive wrong PINs before a PIN locks.
    const MAX_FAILURES: u32 = 3;
    /// A session handle the engine never hands out.
    const BOGUS_SESSION: u64 = 0;
    /// An object handle the engine never hands out.
    const BOGUS_OBJECT: u64 = u64::MAX;
    /// Selector bytes at or above this value name the bogus session or object.
    const BOGUS_SELECTOR: u8 = 0xf0;
    /// Prefix of the store directories this target makes.
    const DIR_PREFIX: &str = "custos-fuzz-model-";

    /// One operation of a model run. Selector fields (`session`, `object`, `key`, ...) index the
    /// sessions or object handles seen so far in the run, modulo their number; values from 0xf0
    /// name a handle the engine never issued.
    #[derive(Clone, Debug, PartialEq, Eq)]
    pub enum Op {
        /// `C_OpenSession`, read/write or read-only.
        OpenSession {
            /// Read/write.
            rw: bool,
        },
        /// `C_CloseSession`.
        CloseSession {
            /// Session selector.
            session: u8,
        },
        /// `C_Login` as the user (with `USER_PINS[pin % 3]`) or as the SO (with the right
        /// PIN, or a wrong one when `pin` is odd and that cannot lock the SO PIN).
        Login {
            /// Session selector.
            session: u8,
            /// Log in as the SO.
            so: bool,
            /// PIN selector.
            pin: u8,
        },
        /// `C_Logout`.
        Logout {
            /// Session selector.
            session: u8,
        },
        /// `C_InitPIN` with `USER_PINS[pin % 3]`.
        InitPin {
            /// Session selector.
            session: u8,
            /// PIN selector.
            pin: u8,
        },
        /// `C_SetPIN` from `USER_PINS[old % 3]` to `USER_PINS[new % 3]` (skipped while the SO
        /// is logged in, so the SO PIN never changes).
        SetPin {
            /// Session selector.
            session: u8,
            /// Old PIN selector.
            old: u8,
            /// New PIN selector.
            new: u8,
        },
        /// `C_CreateObject` of a data object.
        CreateData {
            /// Session selector.
            session: u8,
            /// Storage flags (see `storage`).
            flags: u8,
            /// Label selector.
            label: u8,
            /// `CKA_VALUE`.
            value: Vec<u8>,
        },
        /// `C_CreateObject` of a secret key.
        CreateSecret {
            /// Session selector.
            session: u8,
            /// Storage flags (see `storage`).
            flags: u8,
            /// Usage flags (see `usage_template`).
            usage: u8,
            /// Label selector.
            label: u8,
            /// Id selector.
            id: u8,
            /// Key kind (see `key_kind`) and, in bits 3 and up, the seed of its value.
            key: u8,
        },
        /// `C_GenerateKey` of an AES or generic secret key.
        GenerateSecret {
            /// Session selector.
            session: u8,
            /// Storage flags.
            flags: u8,
            /// Usage flags.
            usage: u8,
            /// Label selector.
            label: u8,
            /// Id selector.
            id: u8,
            /// Key kind.
            key: u8,
        },
        /// `C_GenerateKeyPair` of a P-256 key pair.
        GenerateEcPair {
            /// Session selector.
            session: u8,
            /// Storage flags (of the private key; the public key takes `CKA_TOKEN` only).
            flags: u8,
            /// Usage flags.
            usage: u8,
            /// Label selector.
            label: u8,
            /// Id selector.
            id: u8,
        },
        /// `C_CopyObject` with one change (see `copy_template`).
        Copy {
            /// Session selector.
            session: u8,
            /// Object selector.
            object: u8,
            /// Which change.
            change: u8,
            /// The change's argument.
            arg: u8,
        },
        /// `C_SetAttributeValue` (see `set_template`).
        SetAttribute {
            /// Session selector.
            session: u8,
            /// Object selector.
            object: u8,
            /// Which change.
            change: u8,
            /// The change's argument.
            arg: u8,
        },
        /// `C_DestroyObject`.
        Destroy {
            /// Session selector.
            session: u8,
            /// Object selector.
            object: u8,
        },
        /// `C_FindObjectsInit`, `C_FindObjects` in chunks of `chunk % 4 + 1`, `C_FindObjectsFinal`
        /// (see `find_template`).
        Find {
            /// Session selector.
            session: u8,
            /// Which template.
            by: u8,
            /// The template's argument.
            arg: u8,
            /// Chunk size selector.
            chunk: u8,
        },
        /// `C_FindObjectsInit` only.
        FindInit {
            /// Session selector.
            session: u8,
            /// Which template.
            by: u8,
            /// The template's argument.
            arg: u8,
        },
        /// `C_FindObjects` for everything left, then `C_FindObjectsFinal`.
        FindFinal {
            /// Session selector.
            session: u8,
        },
        /// `C_GetAttributeValue` of every attribute the model tracks.
        GetAttributes {
            /// Session selector.
            session: u8,
            /// Object selector.
            object: u8,
        },
        /// `C_SignInit` + `C_Sign` with HMAC-SHA256, AES-CMAC or ECDSA-SHA256 (`mech % 3`),
        /// then verification.
        Sign {
            /// Session selector.
            session: u8,
            /// Key selector.
            key: u8,
            /// Mechanism selector.
            mech: u8,
            /// The message.
            message: Vec<u8>,
        },
        /// `C_WrapKey` with AES-KWP, then `C_UnwrapKey` of the result (the operation succeeds
        /// when both do).
        Wrap {
            /// Session selector.
            session: u8,
            /// Wrapping key selector.
            wrapping: u8,
            /// Selector of the key to wrap.
            key: u8,
            /// Unwrapping key selector.
            unwrapping: u8,
            /// Storage flags of the unwrapped key: token, private, sensitive, extractable
            /// (bits 0 to 3).
            flags: u8,
        },
    }

    /// Encodes operations in the layout `decode` reads: an operation code, one byte per
    /// selector or flag field, and byte strings as a length byte and at most 255 bytes.
    pub fn encode(ops: &[Op]) -> Vec<u8> {
        let mut out = Vec::new();
        let blob = |out: &mut Vec<u8>, b: &[u8]| {
            let b = &b[..b.len().min(255)];
            out.push(b.len() as u8);
            out.extend_from_slice(b);
        };
        for op in ops {
            match op {
                Op::OpenSession { rw } => out.extend([0, u8::from(*rw)]),
                Op::CloseSession { session } => out.extend([1, *session]),
                Op::Login { session, so, pin } => out.extend([2, *session, u8::from(*so), *pin]),
                Op::Logout { session } => out.extend([3, *session]),
                Op::InitPin { session, pin } => out.extend([4, *session, *pin]),
                Op::SetPin { session, old, new } => out.extend([5, *session, *old, *new]),
                Op::CreateData {
                    session,
                    flags,
                    label,
                    value,
                } => {
                    out.extend([6, *session, *flags, *label]);
                    blob(&mut out, value);
                }
                Op::CreateSecret {
                    session,
                    flags,
                    usage,
                    label,
                    id,
                    key,
                } => out.extend([7, *session, *flags, *usage, *label, *id, *key]),
                Op::GenerateSecret {
                    session,
                    flags,
                    usage,
                    label,
                    id,
                    key,
                } => out.extend([8, *session, *flags, *usage, *label, *id, *key]),
                Op::GenerateEcPair {
                    session,
                    flags,
                    usage,
                    label,
                    id,
                } => out.extend([9, *session, *flags, *usage, *label, *id]),
                Op::Copy {
                    session,
                    object,
                    change,
                    arg,
                } => out.extend([10, *session, *object, *change, *arg]),
                Op::SetAttribute {
                    session,
                    object,
                    change,
                    arg,
                } => out.extend([11, *session, *object, *change, *arg]),
                Op::Destroy { session, object } => out.extend([12, *session, *object]),
                Op::Find {
                    session,
                    by,
                    arg,
                    chunk,
                } => out.extend([13, *session, *by, *arg, *chunk]),
                Op::FindInit { session, by, arg } => out.extend([14, *session, *by, *arg]),
                Op::FindFinal { session } => out.extend([15, *session]),
                Op::GetAttributes { session, object } => out.extend([16, *session, *object]),
                Op::Sign {
                    session,
                    key,
                    mech,
                    message,
                } => {
                    out.extend([17, *session, *key, *mech]);
                    blob(&mut out, message);
                }
                Op::Wrap {
                    session,
                    wrapping,
                    key,
                    unwrapping,
                    flags,
                } => out.extend([18, *session, *wrapping, *key, *unwrapping, *flags]),
            }
        }
        out
    }

    /// Decodes up to `MAX_OPS` operations; the operation code is taken modulo [`OP_CODES`] and
    /// fields missing at the end of the input read as zero.
    pub fn decode(data: &[u8]) -> Vec<Op> {
        let mut r = Bytes(data);
        let mut ops = Vec::new();
        while !r.0.is_empty() && ops.len() < MAX_OPS {
            let op = match r.u8() % OP_CODES {
                0 => Op::OpenSession { rw: r.flag() },
                1 => Op::CloseSession { session: r.u8() },
                2 => Op::Login {
                    session: r.u8(),
                    so: r.flag(),
                    pin: r.u8(),
                },
                3 => Op::Logout { session: r.u8() },
                4 => Op::InitPin {
                    session: r.u8(),
                    pin: r.u8(),
                },
                5 => Op::SetPin {
                    session: r.u8(),
                    old: r.u8(),
                    new: r.u8(),
                },
                6 => Op::CreateData {
                    session: r.u8(),
                    flags: r.u8(),
                    label: r.u8(),
                    value: r.blob(),
                },
                7 => Op::CreateSecret {
                    session: r.u8(),
                    flags: r.u8(),
                    usage: r.u8(),
                    label: r.u8(),
                    id: r.u8(),
                    key: r.u8(),
                },
                8 => Op::GenerateSecret {
                    session: r.u8(),
                    flags: r.u8(),
                    usage: r.u8(),
                    label: r.u8(),
                    id: r.u8(),
                    key: r.u8(),
                },
                9 => Op::GenerateEcPair {
                    session: r.u8(),
                    flags: r.u8(),
                    usage: r.u8(),
                    label: r.u8(),
                    id: r.u8(),
                },
                10 => Op::Copy {
                    session: r.u8(),
                    object: r.u8(),
                    change: r.u8(),
                    arg: r.u8(),
                },
                11 => Op::SetAttribute {
                    session: r.u8(),
                    object: r.u8(),
                    change: r.u8(),
                    arg: r.u8(),
                },
                12 => Op::Destroy {
                    session: r.u8(),
                    object: r.u8(),
                },
                13 => Op::Find {
                    session: r.u8(),
                    by: r.u8(),
                    arg: r.u8(),
                    chunk: r.u8(),
                },
                14 => Op::FindInit {
                    session: r.u8(),
                    by: r.u8(),
                    arg: r.u8(),
                },
                15 => Op::FindFinal { session: r.u8() },
                16 => Op::GetAttributes {
                    session: r.u8(),
                    object: r.u8(),
                },
                17 => Op::Sign {
                    session: r.u8(),
                    key: r.u8(),
                    mech: r.u8(),
                    message: r.blob(),
                },
                _ => Op::Wrap {
                    session: r.u8(),
                    wrapping: r.u8(),
                    key: r.u8(),
                    unwrapping: r.u8(),
                    flags: r.u8(),
                },
            };
            ops.push(op);
        }
        ops
    }

    // ----- the engine under test ----------------------------------------------------------

    /// The process-wide engine over its own `--dev` store.
    struct Env {
        engine: Engine,
    }

    fn token_label() -> [u8; 32] {
        let mut l = [b' '; 32];
        l[..5].copy_from_slice(b"model");
        l
    }

    /// Removes store directories this target left behind in `base` for processes that no
    /// longer run (found through `/proc`; nothing is removed where that does not exist).
    fn remove_stale_dirs(base: &Path) {
        if !Path::new("/proc/self").exists() {
            return;
        }
        let Ok(entries) = std::fs::read_dir(base) else {
            return;
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name
                .to_str()
                .and_then(|n| n.strip_prefix(DIR_PREFIX))
                .and_then(|rest| rest.split('-').next())
            else {
                continue;
            };
            if pid.is_empty() || !pid.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            if !Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }

    impl Env {
        /// Makes the store (in `/dev/shm` when there is one, so that commits cost no disk
        /// flushes) with one PBKDF2 iteration per PIN verifier, and initialises its token.
        fn create() -> Env {
            let base = if Path::new("/dev/shm").is_dir() {
                std::path::PathBuf::from("/dev/shm")
            } else {
                std::env::temp_dir()
            };
            remove_stale_dirs(&base);
            let nanos = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos());
            let dir = base.join(format!("{DIR_PREFIX}{}-{nanos}", std::process::id()));
            std::fs::create_dir(&dir)
                .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
            provision::create_dev_store(&dir, 1)
                .unwrap_or_else(|e| panic!("cannot create a store in {}: {e}", dir.display()));
            let mut config = Config::for_store(&dir);
            config.max_pin_failures = MAX_FAILURES;
            config.pin_iterations = 1;
            let engine = Engine::open(config).unwrap_or_else(|e| panic!("engine: {e:?}"));
            engine
                .init_token(0, SO_PIN, token_label())
                .unwrap_or_else(|e| panic!("initialising the token: {e:?}"));
            Env { engine }
        }
    }

    fn env() -> MutexGuard<'static, Env> {
        static ENV: OnceLock<Mutex<Env>> = OnceLock::new();
        ENV.get_or_init(|| Mutex::new(Env::create()))
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Brings the token back to its starting state: no sessions, no objects, nobody logged in,
    /// the user PIN set to `USER_PINS[0]` and both failure counters at zero.
    fn reset(e: &Engine) {
        fn ok<T>(what: &str, r: Result<T>) -> T {
            r.unwrap_or_else(|err| panic!("resetting the model token: {what}: {err:?}"))
        }
        ok("close sessions", e.close_all_sessions(0));
        ok("init token", e.init_token(0, SO_PIN, token_label()));
        let h = ok(
            "open session",
            e.open_session(0, CKF_SERIAL_SESSION | CKF_RW_SESSION),
        );
        ok("SO login", e.login(h, CKU_SO, SO_PIN));
        ok("init PIN", e.init_pin(h, USER_PINS[0]));
        ok("close session", e.close_session(h));
    }

    /// Runs one input; returns whether every operation succeeded. Any answer the specification
    /// does not allow for the model's state fails (panics).
    pub fn run(data: &[u8]) -> bool {
        let ops = decode(data);
        let env = env();
        reset(&env.engine);
        let mut run = Run {
            e: &env.engine,
            m: Model::default(),
            step: 0,
            op: None,
        };
        let mut all_ok = true;
        for (step, op) in ops.into_iter().enumerate() {
            run.step = step;
            run.op = Some(op.clone());
            all_ok &= run.apply(&op);
            run.check_invariants();
        }
        all_ok
    }

    // ----- the model ----------------------------------------------------------------------

    #[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
    enum Who {
        #[default]
        Nobody,
        User,
        So,
    }

    #[derive(Debug)]
    struct MSession {
        handle: u64,
        rw: bool,
        open: bool,
        /// The handles a find started by [`Op::FindInit`] will return.
        find: Option<BTreeSet<u64>>,
    }

    /// One object as the model knows it.
    #[derive(Debug, Clone)]
    struct MObj {
        /// Every tracked attribute the object has; `None` where only its presence is known
        /// (key values, EC points).
        attrs: BTreeMap<CK_ATTRIBUTE_TYPE, Option<Value>>,
        /// The session owning a session object.
        owner: Option<u64>,
        /// Keys holding the same key material share this number.
        material: u64,
    }

    impl MObj {
        fn value(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<&Value> {
            self.attrs.get(&ty).and_then(Option::as_ref)
        }
        fn flag(&self, ty: CK_ATTRIBUTE_TYPE) -> bool {
            matches!(self.value(ty), Some(Value::Bool(true)))
        }
        fn ulong(&self, ty: CK_ATTRIBUTE_TYPE) -> Option<u64> {
            match self.value(ty) {
                Some(Value::Ulong(u)) => Some(*u),
                _ => None,
            }
        }
        fn class(&self) -> u64 {
            self.ulong(CKA_CLASS).unwrap_or(u64::MAX)
        }
        fn key_type(&self) -> Option<u64> {
            self.ulong(CKA_KEY_TYPE)
        }
        fn token(&self) -> bool {
            self.flag(CKA_TOKEN)
        }
        fn private(&self) -> bool {
            self.flag(CKA_PRIVATE)
        }
        fn matches(&self, template: &[Attr]) -> bool {
            template.iter().all(|a| self.value(a.ty) == Some(&a.value))
        }
        /// Applies a change, with the companions that only ever lose their truth.
        fn apply(&mut self, changes: &[Attr]) {
            for c in changes {
                self.attrs.insert(c.ty, Some(c.value.clone()));
            }
            if self.attrs.contains_key(&CKA_SENSITIVE) && !self.flag(CKA_SENSITIVE) {
                self.attrs
                    .insert(CKA_ALWAYS_SENSITIVE, Some(Value::Bool(false)));
            }
            if self.flag(CKA_EXTRACTABLE) {
                self.attrs
                    .insert(CKA_NEVER_EXTRACTABLE, Some(Value::Bool(false)));
            }
        }
    }

    #[derive(Default)]
    struct Model {
        who: Who,
        user_pin: usize,
        user_failures: u32,
        so_failures: u32,
        sessions: Vec<MSession>,
        objects: BTreeMap<u64, MObj>,
        /// Every object handle handed out in this run, in order.
        handles: Vec<u64>,
        next_material: u64,
        /// Known key values by material.
        values: HashMap<u64, Vec<u8>>,
        /// Raw EC public points by material.
        points: HashMap<u64, Vec<u8>>,
        /// MACs seen, by material, mechanism and message.
        macs: HashMap<(u64, u64, Vec<u8>), Vec<u8>>,
    }

    impl Model {
        fn session(&self, h: u64) -> Option<&MSession> {
            self.sessions.iter().find(|s| s.open && s.handle == h)
        }
        fn session_mut(&mut self, h: u64) -> Option<&mut MSession> {
            self.sessions.iter_mut().find(|s| s.open && s.handle == h)
        }
        fn open_sessions(&self) -> impl Iterator<Item = &MSession> {
            self.sessions.iter().filter(|s| s.open)
        }
        fn session_handle(&self, sel: u8) -> u64 {
            if sel >= BOGUS_SELECTOR || self.sessions.is_empty() {
                BOGUS_SESSION
            } else {
                self.sessions[usize::from(sel) % self.sessions.len()].handle
            }
        }
        fn object_handle(&self, sel: u8) -> u64 {
            if sel >= BOGUS_SELECTOR || self.handles.is_empty() {
                BOGUS_OBJECT
            } else {
                self.handles[usize::from(sel) % self.handles.len()]
            }
        }
        /// The object, if it exists and the current login may see it.
        fn visible(&self, h: u64) -> Option<&MObj> {
            self.objects
                .get(&h)
                .filter(|o| !o.private() || self.who == Who::User)
        }
        fn visible_set(&self, template: &[Attr]) -> BTreeSet<u64> {
            self.objects
                .keys()
                .copied()
                .filter(|h| self.visible(*h).is_some_and(|o| o.matches(template)))
                .collect()
        }
        /// The material number of a key value: the same bytes always get the same number.
        fn material_of_value(&mut self, value: &[u8]) -> u64 {
            if let Some((m, _)) = self.values.iter().find(|(_, v)| v.as_slice() == value) {
                return *m;
            }
            let m = self.fresh_material();
            self.values.insert(m, value.to_vec());
            m
        }
        fn fresh_material(&mut self) -> u64 {
            self.next_material += 1;
            self.next_material
        }
        fn summary(&self) -> String {
            let objects: Vec<String> = self
                .objects
                .iter()
                .map(|(h, o)| {
                    format!(
                        "{h:#x}: class {:#x} token {} private {} owner {:?} material {}",
                        o.class(),
                        o.token(),
                        o.private(),
                        o.owner,
                        o.material
                    )
                })
                .collect();
            format!(
                "who {:?}, user PIN {} failures {}, SO failures {}, sessions {:?}, objects [{}]",
                self.who,
                self.user_pin,
                self.user_failures,
                self.so_failures,
                self.sessions,
                objects.join("; ")
            )
        }
    }

    // ----- templates and the rules the model applies ---------------------------------------

    fn is_key(class: u64) -> bool {
        matches!(class, CKO_SECRET_KEY | CKO_PUBLIC_KEY | CKO_PRIVATE_KEY)
    }

    /// Whether objects of `class` have attribute `ty` (for the attributes the model uses).
    fn allowed(class: u64, ty: CK_ATTRIBUTE_TYPE) -> bool {
        let secretish = matches!(class, CKO_SECRET_KEY | CKO_PRIVATE_KEY);
        match ty {
            CKA_CLASS | CKA_TOKEN | CKA_PRIVATE | CKA_MODIFIABLE | CKA_COPYABLE
            | CKA_DESTROYABLE | CKA_LABEL => true,
            CKA_APPLICATION => class == CKO_DATA,
            CKA_VALUE => class == CKO_DATA || secretish,
            CKA_ID | CKA_KEY_TYPE | CKA_LOCAL | CKA_DERIVE => is_key(class),
            CKA_SENSITIVE
            | CKA_EXTRACTABLE
            | CKA_ALWAYS_SENSITIVE
            | CKA_NEVER_EXTRACTABLE
            | CKA_SIGN
            | CKA_DECRYPT
            | CKA_UNWRAP => secretish,
            CKA_VERIFY | CKA_ENCRYPT | CKA_WRAP => {
                matches!(class, CKO_SECRET_KEY | CKO_PUBLIC_KEY)
            }
            CKA_VALUE_LEN => class == CKO_SECRET_KEY,
            CKA_EC_PARAMS => matches!(class, CKO_PUBLIC_KEY | CKO_PRIVATE_KEY),
            CKA_EC_POINT => class == CKO_PUBLIC_KEY,
            _ => false,
        }
    }

    /// How an attribute may change after the object is made.
    #[derive(PartialEq)]
    enum Rule {
        Modifiable,
        OnlyToTrue,
        OnlyToFalse,
        Fixed,
    }

    fn rule(ty: CK_ATTRIBUTE_TYPE) -> Rule {
        match ty {
            CKA_LABEL | CKA_ID | CKA_DESTROYABLE | CKA_DERIVE | CKA_SIGN | CKA_VERIFY
            | CKA_ENCRYPT | CKA_DECRYPT | CKA_WRAP | CKA_UNWRAP => Rule::Modifiable,
            CKA_SENSITIVE => Rule::OnlyToTrue,
            CKA_EXTRACTABLE | CKA_COPYABLE => Rule::OnlyToFalse,
            _ => Rule::Fixed,
        }
    }

    /// `C_SetAttributeValue`'s verdict on a change of `obj`.
    fn set_verdict(obj: &MObj, changes: &[Attr]) -> Option<Error> {
        if !obj.flag(CKA_MODIFIABLE) {
            return Some(Error::ActionProhibited);
        }
        for c in changes {
            if !allowed(obj.class(), c.ty) {
                return Some(Error::AttributeTypeInvalid);
            }
            let unchanged = obj.value(c.ty) == Some(&c.value);
            let refused = match rule(c.ty) {
                Rule::Modifiable => false,
                Rule::OnlyToTrue => c.value != Value::Bool(true) && !unchanged,
                Rule::OnlyToFalse => c.value != Value::Bool(false) && !unchanged,
                Rule::Fixed => !unchanged,
            };
            if refused {
                return Some(Error::AttributeReadOnly);
            }
        }
        None
    }

    /// `C_CopyObject`'s verdict on the template: storage attributes may change (private only to
    /// TRUE), anything else as `C_SetAttributeValue` would allow on a modifiable object.
    fn copy_verdict(obj: &MObj, changes: &[Attr]) -> Option<Error> {
        if !obj.flag(CKA_COPYABLE) {
            return Some(Error::ActionProhibited);
        }
        let mut rest = Vec::new();
        for c in changes {
            match c.ty {
                CKA_TOKEN | CKA_MODIFIABLE | CKA_DESTROYABLE => {}
                CKA_PRIVATE => {
                    if c.value != Value::Bool(true) && obj.value(CKA_PRIVATE) != Some(&c.value) {
                        return Some(Error::AttributeReadOnly);
                    }
                }
                _ => rest.push(c.clone()),
            }
        }
        let mut probe = obj.clone();
        probe.attrs.insert(CKA_MODIFIABLE, Some(Value::Bool(true)));
        set_verdict(&probe, &rest)
    }

    /// How a key came to be.
    #[derive(Clone, Copy, PartialEq)]
    enum Origin {
        Created,
        Generated,
        Unwrapped,
    }

    /// The storage attributes of a new object, from a flags byte: bit 7 clear gives `CKA_TOKEN`
    /// (bit 0) and `CKA_PRIVATE` (bit 1), and for keys `CKA_SENSITIVE` (bit 2) and
    /// `CKA_EXTRACTABLE` (bit 3); bit 7 set leaves them to their defaults. Bits 4, 5 and 6 set
    /// `CKA_MODIFIABLE`, `CKA_DESTROYABLE` and `CKA_COPYABLE` to FALSE.
    fn storage(flags: u8, class: u64) -> (Vec<Attr>, BTreeMap<CK_ATTRIBUTE_TYPE, Option<Value>>) {
        let secretish = matches!(class, CKO_SECRET_KEY | CKO_PRIVATE_KEY);
        let explicit = flags & 0x80 == 0;
        let bit = |n: u8| flags >> n & 1 == 1;
        let mut t = Vec::new();
        let mut m = BTreeMap::new();
        let mut put = |ty, given: bool, value: bool, default: bool| {
            if given {
                t.push(Attr::bool(ty, value));
            }
            m.insert(ty, Some(Value::Bool(if given { value } else { default })));
        };
        put(CKA_TOKEN, explicit, bit(0), false);
        put(CKA_PRIVATE, explicit, bit(1), secretish);
        put(CKA_MODIFIABLE, bit(4), false, true);
        put(CKA_DESTROYABLE, bit(5), false, true);
        put(CKA_COPYABLE, bit(6), false, true);
        if secretish {
            put(CKA_SENSITIVE, explicit, bit(2), true);
            put(CKA_EXTRACTABLE, explicit, bit(3), false);
        }
        (t, m)
    }

    /// Usage attributes from a usage byte: bit 7 set leaves them to their defaults; otherwise
    /// bits 0 to 5 give `CKA_SIGN`, `CKA_VERIFY`, `CKA_WRAP`, `CKA_UNWRAP`, `CKA_ENCRYPT` and
    /// `CKA_DECRYPT`, as far as the class has them.
    fn usage_template(usage: u8, class: u64) -> Vec<Attr> {
        if usage & 0x80 != 0 {
            return Vec::new();
        }
        [
            CKA_SIGN,
            CKA_VERIFY,
            CKA_WRAP,
            CKA_UNWRAP,
            CKA_ENCRYPT,
            CKA_DECRYPT,
        ]
        .into_iter()
        .enumerate()
        .filter(|(_, ty)| allowed(class, *ty))
        .map(|(bit, ty)| Attr::bool(ty, usage >> bit & 1 == 1))
        .collect()
    }

    /// The usage a key has when its template does not say: keys that can encrypt (AES) also
    /// wrap; keys that can sign (all but AES) sign and verify.
    fn usage_default(ty: CK_ATTRIBUTE_TYPE, key_type: u64) -> bool {
        let ciphers = key_type == CKK_AES;
        match ty {
            CKA_SIGN | CKA_VERIFY => !ciphers,
            _ => ciphers,
        }
    }

    /// The tracked attributes of a new key.
    #[allow(clippy::too_many_arguments)]
    fn key_attrs(
        class: u64,
        key_type: u64,
        origin: Origin,
        storage: BTreeMap<CK_ATTRIBUTE_TYPE, Option<Value>>,
        usage: &[Attr],
        label: &[u8],
        id: &[u8],
    ) -> BTreeMap<CK_ATTRIBUTE_TYPE, Option<Value>> {
        let mut a = storage;
        a.insert(CKA_CLASS, Some(Value::Ulong(class)));
        a.insert(CKA_KEY_TYPE, Some(Value::Ulong(key_type)));
        a.insert(CKA_LABEL, Some(Value::Bytes(label.to_vec())));
        a.insert(CKA_ID, Some(Value::Bytes(id.to_vec())));
        a.insert(CKA_DERIVE, Some(Value::Bool(false)));
        a.insert(CKA_LOCAL, Some(Value::Bool(origin == Origin::Generated)));
        for ty in [
            CKA_SIGN,
            CKA_VERIFY,
            CKA_WRAP,
            CKA_UNWRAP,
            CKA_ENCRYPT,
            CKA_DECRYPT,
        ] {
            if allowed(class, ty) {
                let given = usage.iter().find(|u| u.ty == ty).map(|u| u.value.clone());
                a.insert(
                    ty,
                    Some(given.unwrap_or(Value::Bool(usage_default(ty, key_type)))),
                );
            }
        }
        if class != CKO_PUBLIC_KEY {
            let sensitive = matches!(a.get(&CKA_SENSITIVE), Some(Some(Value::Bool(true))));
            let extractable = matches!(a.get(&CKA_EXTRACTABLE), Some(Some(Value::Bool(true))));
            let generated = origin == Origin::Generated;
            a.insert(
                CKA_ALWAYS_SENSITIVE,
                Some(Value::Bool(generated && sensitive)),
            );
            a.insert(
                CKA_NEVER_EXTRACTABLE,
                Some(Value::Bool(generated && !extractable)),
            );
            a.insert(CKA_VALUE, None);
        }
        if key_type == CKK_EC {
            a.insert(
                CKA_EC_PARAMS,
                Some(Value::Bytes(crate::crypto::Curve::P256.oid_der().to_vec())),
            );
            if class == CKO_PUBLIC_KEY {
                a.insert(CKA_EC_POINT, None);
            }
        }
        a
    }

    /// A key kind: key type, length and whether the length is one the key type allows.
    fn key_kind(key: u8) -> (u64, usize, bool) {
        match key % 5 {
            0 => (CKK_AES, 16, true),
            1 => (CKK_AES, 32, true),
            2 => (CKK_GENERIC_SECRET, 32, true),
            3 => (CKK_GENERIC_SECRET, 20, true),
            _ => (CKK_AES, 15, false),
        }
    }

    /// `C_CopyObject` templates.
    fn copy_template(change: u8, arg: u8) -> Vec<Attr> {
        match change % 10 {
            0 => vec![],
            1 => vec![Attr::bool(CKA_TOKEN, true)],
            2 => vec![Attr::bool(CKA_TOKEN, false)],
            3 => vec![Attr::bytes(CKA_LABEL, LABELS[usize::from(arg % 4)])],
            4 => vec![Attr::bool(CKA_PRIVATE, true)],
            5 => vec![Attr::bool(CKA_PRIVATE, false)],
            6 => vec![Attr::bool(CKA_SENSITIVE, true)],
            7 => vec![Attr::bool(CKA_EXTRACTABLE, true)],
            8 => vec![Attr::bool(CKA_MODIFIABLE, false)],
            _ => vec![Attr::bool(CKA_DESTROYABLE, false)],
        }
    }

    /// `C_SetAttributeValue` templates.
    fn set_template(change: u8, arg: u8) -> Vec<Attr> {
        let on = arg & 1 == 1;
        let label = Attr::bytes(CKA_LABEL, LABELS[usize::from(arg % 4)]);
        let id = Attr::bytes(CKA_ID, IDS[usize::from(arg >> 2 & 3)]);
        match change % 14 {
            0 => vec![label],
            1 => vec![id],
            2 => vec![Attr::bool(CKA_SENSITIVE, true)],
            3 => vec![Attr::bool(CKA_SENSITIVE, false)],
            4 => vec![Attr::bool(CKA_EXTRACTABLE, false)],
            5 => vec![Attr::bool(CKA_EXTRACTABLE, true)],
            6 => vec![Attr::bool(CKA_SIGN, on)],
            7 => vec![Attr::bool(CKA_VERIFY, on)],
            8 => vec![Attr::bool(CKA_TOKEN, on)],
            9 => vec![Attr::bool(CKA_DESTROYABLE, on)],
            10 => vec![Attr::bytes(
                CKA_APPLICATION,
                if on { &b"fuzz"[..] } else { &b""[..] },
            )],
            11 => vec![Attr::bool(CKA_COPYABLE, on)],
            12 => vec![Attr::bool(CKA_MODIFIABLE, on)],
            _ => vec![label, id],
        }
    }

    /// Find templates.
    fn find_template(by: u8, arg: u8) -> Vec<Attr> {
        let label = Attr::bytes(CKA_LABEL, LABELS[usize::from(arg % 4)]);
        let class =
            [CKO_DATA, CKO_SECRET_KEY, CKO_PUBLIC_KEY, CKO_PRIVATE_KEY][usize::from(arg % 4)];
        match by % 8 {
            0 => vec![],
            1 => vec![label],
            2 => vec![Attr::bytes(CKA_ID, IDS[usize::from(arg >> 2 & 3)])],
            3 => vec![Attr::ulong(CKA_CLASS, class)],
            4 => vec![label, Attr::ulong(CKA_CLASS, class)],
            5 => vec![Attr::bool(CKA_TOKEN, arg & 1 == 1)],
            6 => vec![Attr::bool(CKA_SENSITIVE, true)],
            _ => vec![Attr::ulong(
                CKA_KEY_TYPE,
                [CKK_AES, CKK_GENERIC_SECRET, CKK_EC][usize::from(arg % 3)],
            )],
        }
    }

    /// The attributes read back and compared.
    const TRACKED: [CK_ATTRIBUTE_TYPE; 27] = [
        CKA_CLASS,
        CKA_TOKEN,
        CKA_PRIVATE,
        CKA_MODIFIABLE,
        CKA_COPYABLE,
        CKA_DESTROYABLE,
        CKA_LABEL,
        CKA_APPLICATION,
        CKA_VALUE,
        CKA_KEY_TYPE,
        CKA_ID,
        CKA_DERIVE,
        CKA_LOCAL,
        CKA_SENSITIVE,
        CKA_EXTRACTABLE,
        CKA_ALWAYS_SENSITIVE,
        CKA_NEVER_EXTRACTABLE,
        CKA_SIGN,
        CKA_VERIFY,
        CKA_WRAP,
        CKA_UNWRAP,
        CKA_ENCRYPT,
        CKA_DECRYPT,
        CKA_VALUE_LEN,
        CKA_EC_PARAMS,
        CKA_EC_POINT,
        CKA_MODULUS,
    ];

    /// What the model expects of one attribute read.
    #[derive(Debug)]
    enum Read {
        Invalid,
        Sensitive,
        Known(Value),
        Unknown,
    }

    fn read_verdict(o: &MObj, ty: CK_ATTRIBUTE_TYPE) -> Read {
        let Some(v) = o.attrs.get(&ty) else {
            return Read::Invalid;
        };
        let secret_material =
            matches!(o.class(), CKO_SECRET_KEY | CKO_PRIVATE_KEY) && ty == CKA_VALUE;
        if secret_material && (o.flag(CKA_SENSITIVE) || !o.flag(CKA_EXTRACTABLE)) {
            return Read::Sensitive;
        }
        match v {
            Some(v) => Read::Known(v.clone()),
            None => Read::Unknown,
        }
    }

    /// What the model expects of one engine call: success, or one of these errors.
    type Want = std::result::Result<(), Vec<Error>>;

    fn refuse(e: Error) -> Want {
        Err(vec![e])
    }

    fn pin_flags(failures: u32, low: CK_FLAGS, final_try: CK_FLAGS, locked: CK_FLAGS) -> CK_FLAGS {
        if failures >= MAX_FAILURES {
            locked
        } else if failures + 1 == MAX_FAILURES {
            low | final_try
        } else if failures > 0 {
            low
        } else {
            0
        }
    }

    /// Unwraps a DER OCTET STRING with a short or one-byte long length.
    fn octet_string(der: &[u8]) -> Option<&[u8]> {
        match der {
            [0x04, n, rest @ ..] if usize::from(*n) == rest.len() && *n < 0x80 => Some(rest),
            [0x04, 0x81, n, rest @ ..] if usize::from(*n) == rest.len() => Some(rest),
            _ => None,
        }
    }

    // ----- running operations ---------------------------------------------------------------

    struct Run<'e> {
        e: &'e Engine,
        m: Model,
        step: usize,
        op: Option<Op>,
    }

    impl Run<'_> {
        fn fail(&self, msg: impl Display) -> ! {
            panic!(
                "step {} {:?}: {msg}\nmodel: {}",
                self.step,
                self.op,
                self.m.summary()
            )
        }

        /// Compares an engine result with the model's expectation; true when both succeeded.
        fn agree<T: Debug>(&self, call: &str, got: &Result<T>, want: &Want) -> bool {
            match (got, want) {
                (Ok(_), Ok(())) => true,
                (Err(e), Err(allowed)) if allowed.contains(e) => false,
                _ => self.fail(format_args!(
                    "{call}: engine gave {got:?}, model expects {want:?}"
                )),
            }
        }

        fn session_want(&self, h: u64) -> Want {
            match self.m.session(h) {
                Some(_) => Ok(()),
                None => refuse(Error::SessionHandleInvalid),
            }
        }

        fn rw(&self, h: u64) -> bool {
            self.m.session(h).is_some_and(|s| s.rw)
        }

        /// The rules every new object meets: private objects need the user, token objects a
        /// read/write session (checked after the objects' other rules).
        fn new_object_want(
            &self,
            h: u64,
            attrs: &BTreeMap<CK_ATTRIBUTE_TYPE, Option<Value>>,
        ) -> Want {
            self.new_objects_want(h, &[attrs])
        }

        /// [`Run::new_object_want`] for objects made together: every object's login rule comes
        /// before the read/write rule.
        fn new_objects_want(
            &self,
            h: u64,
            list: &[&BTreeMap<CK_ATTRIBUTE_TYPE, Option<Value>>],
        ) -> Want {
            let flag = |a: &BTreeMap<CK_ATTRIBUTE_TYPE, Option<Value>>, ty| {
                matches!(a.get(&ty), Some(Some(Value::Bool(true))))
            };
            if list.iter().any(|a| flag(a, CKA_PRIVATE)) && self.m.who != Who::User {
                return refuse(Error::UserNotLoggedIn);
            }
            if list.iter().any(|a| flag(a, CKA_TOKEN)) && !self.rw(h) {
                return refuse(Error::SessionReadOnly);
            }
            Ok(())
        }

        /// Records a new object and reads all its tracked attributes back.
        fn add_object(
            &mut self,
            h: u64,
            handle: u64,
            attrs: BTreeMap<CK_ATTRIBUTE_TYPE, Option<Value>>,
            material: u64,
        ) {
            if handle == BOGUS_OBJECT || self.m.handles.contains(&handle) {
                self.fail(format_args!("handle {handle:#x} handed out again"));
            }
            let token = matches!(attrs.get(&CKA_TOKEN), Some(Some(Value::Bool(true))));
            self.m.handles.push(handle);
            self.m.objects.insert(
                handle,
                MObj {
                    attrs,
                    owner: (!token).then_some(h),
                    material,
                },
            );
            if self.m.visible(handle).is_some() {
                self.compare_attributes(h, handle);
            }
        }

        /// Reads every tracked attribute of a visible object and compares it with the model,
        /// learning values the model did not know.
        fn compare_attributes(&mut self, h: u64, handle: u64) {
            let got = match self.e.get_attributes(h, handle, &TRACKED) {
                Ok(v) => v,
                Err(e) => self.fail(format_args!("reading {handle:#x}: {e:?}")),
            };
            if got.len() != TRACKED.len() {
                self.fail(format_args!(
                    "{} verdicts for {} types",
                    got.len(),
                    TRACKED.len()
                ));
            }
            for (ty, read) in TRACKED.iter().zip(got) {
                let o = &self.m.objects[&handle];
                match (read_verdict(o, *ty), read) {
                    (Read::Invalid, AttrRead::Invalid) | (Read::Sensitive, AttrRead::Sensitive) => {}
                    (Read::Known(want), AttrRead::Value(v)) if want == v => {}
                    (Read::Unknown, AttrRead::Value(v)) => self.learn(handle, *ty, v),
                    (want, got) => self.fail(format_args!(
                        "attribute {ty:#x} of {handle:#x}: engine gave {got:?}, model expects {want:?}"
                    )),
                }
            }
        }

        /// Takes in a value the model only knew the presence of.
        fn learn(&mut self, handle: u64, ty: CK_ATTRIBUTE_TYPE, v: Value) {
            let o = &self.m.objects[&handle];
            let material = o.material;
            let Value::Bytes(bytes) = v else {
                self.fail(format_args!(
                    "attribute {ty:#x} of {handle:#x} is not bytes"
                ));
            };
            match (o.class(), ty) {
                (CKO_SECRET_KEY, CKA_VALUE) => {
                    if o.ulong(CKA_VALUE_LEN) != Some(bytes.len() as u64) {
                        self.fail("secret key value and CKA_VALUE_LEN disagree");
                    }
                    match self.m.values.get(&material) {
                        Some(known) if *known != bytes => self.fail("key value changed"),
                        Some(_) => {}
                        None => {
                            self.m.values.insert(material, bytes);
                        }
                    }
                }
                (CKO_PRIVATE_KEY, CKA_VALUE) => {
                    if bytes.len() != 32 {
                        self.fail("P-256 private value is not 32 bytes");
                    }
                }
                (CKO_PUBLIC_KEY, CKA_EC_POINT) => {
                    let Some(raw) = octet_string(&bytes) else {
                        self.fail("CKA_EC_POINT is not a DER OCTET STRING");
                    };
                    if raw.len() != 65 || raw[0] != 4 {
                        self.fail("CKA_EC_POINT is not an uncompressed P-256 point");
                    }
                    match self.m.points.get(&material) {
                        Some(p) if p.as_slice() != raw => self.fail("public point changed"),
                        Some(_) => {}
                        None => {
                            self.m.points.insert(material, raw.to_vec());
                        }
                    }
                    if let Some(o) = self.m.objects.get_mut(&handle) {
                        o.attrs.insert(CKA_EC_POINT, Some(Value::Bytes(bytes)));
                    }
                }
                _ => self.fail(format_args!("no rule to learn attribute {ty:#x}")),
            }
        }

        fn apply(&mut self, op: &Op) -> bool {
            match op {
                Op::OpenSession { rw } => self.open_session(*rw),
                Op::CloseSession { session } => self.close_session(*session),
                Op::Login { session, so, pin } => self.login(*session, *so, *pin),
                Op::Logout { session } => self.logout(*session),
                Op::InitPin { session, pin } => self.init_pin(*session, *pin),
                Op::SetPin { session, old, new } => self.set_pin(*session, *old, *new),
                Op::CreateData {
                    session,
                    flags,
                    label,
                    value,
                } => self.create_data(*session, *flags, *label, value),
                Op::CreateSecret {
                    session,
                    flags,
                    usage,
                    label,
                    id,
                    key,
                } => self.secret(*session, *flags, *usage, *label, *id, *key, false),
                Op::GenerateSecret {
                    session,
                    flags,
                    usage,
                    label,
                    id,
                    key,
                } => self.secret(*session, *flags, *usage, *label, *id, *key, true),
                Op::GenerateEcPair {
                    session,
                    flags,
                    usage,
                    label,
                    id,
                } => self.ec_pair(*session, *flags, *usage, *label, *id),
                Op::Copy {
                    session,
                    object,
                    change,
                    arg,
                } => self.copy(*session, *object, *change, *arg),
                Op::SetAttribute {
                    session,
                    object,
                    change,
                    arg,
                } => self.set_attribute(*session, *object, *change, *arg),
                Op::Destroy { session, object } => self.destroy(*session, *object),
                Op::Find {
                    session,
                    by,
                    arg,
                    chunk,
                } => self.find(*session, *by, *arg, *chunk),
                Op::FindInit { session, by, arg } => self.find_init(*session, *by, *arg),
                Op::FindFinal { session } => self.find_final(*session),
                Op::GetAttributes { session, object } => self.get_attributes(*session, *object),
                Op::Sign {
                    session,
                    key,
                    mech,
                    message,
                } => self.sign(*session, *key, *mech, message),
                Op::Wrap {
                    session,
                    wrapping,
                    key,
                    unwrapping,
                    flags,
                } => self.wrap(*session, *wrapping, *key, *unwrapping, *flags),
            }
        }

        // ----- sessions and login -----

        fn open_session(&mut self, rw: bool) -> bool {
            let want = if !rw && self.m.who == Who::So {
                refuse(Error::SessionReadWriteSoExists)
            } else {
                Ok(())
            };
            let flags = CKF_SERIAL_SESSION | if rw { CKF_RW_SESSION } else { 0 };
            let got = self.e.open_session(0, flags);
            if !self.agree("open_session", &got, &want) {
                return false;
            }
            let Ok(h) = got else { return false };
            if h == BOGUS_SESSION || self.m.sessions.iter().any(|s| s.handle == h) {
                self.fail(format_args!("session handle {h} handed out again"));
            }
            self.m.sessions.push(MSession {
                handle: h,
                rw,
                open: true,
                find: None,
            });
            true
        }

        fn close_session(&mut self, session: u8) -> bool {
            let h = self.m.session_handle(session);
            let want = self.session_want(h);
            let got = self.e.close_session(h);
            if !self.agree("close_session", &got, &want) {
                return false;
            }
            if let Some(s) = self.m.session_mut(h) {
                s.open = false;
                s.find = None;
            }
            self.m.objects.retain(|_, o| o.owner != Some(h));
            if self.m.open_sessions().next().is_none() {
                self.m.who = Who::Nobody;
            }
            true
        }

        fn login(&mut self, session: u8, so: bool, pin: u8) -> bool {
            let h = self.m.session_handle(session);
            let wrong_so = pin & 1 == 1 && self.m.so_failures + 1 < MAX_FAILURES;
            let user_pin = usize::from(pin % 3);
            let want = if self.m.session(h).is_none() {
                refuse(Error::SessionHandleInvalid)
            } else {
                match (so, self.m.who) {
                    (true, Who::So) | (false, Who::User) => refuse(Error::UserAlreadyLoggedIn),
                    (true, Who::User) | (false, Who::So) => {
                        refuse(Error::UserAnotherAlreadyLoggedIn)
                    }
                    (true, Who::Nobody) if self.m.open_sessions().any(|s| !s.rw) => {
                        refuse(Error::SessionReadOnlyExists)
                    }
                    (true, Who::Nobody) if wrong_so => refuse(Error::PinIncorrect),
                    (false, Who::Nobody) if self.m.user_failures >= MAX_FAILURES => {
                        refuse(Error::PinLocked)
                    }
                    (false, Who::Nobody) if user_pin != self.m.user_pin => {
                        refuse(Error::PinIncorrect)
                    }
                    (_, Who::Nobody) => Ok(()),
                }
            };
            let (ty, pin_bytes): (CK_USER_TYPE, &[u8]) = if so {
                (CKU_SO, if wrong_so { b"so-pin-wrong" } else { SO_PIN })
            } else {
                (CKU_USER, USER_PINS[user_pin])
            };
            let got = self.e.login(h, ty, pin_bytes);
            let ok = self.agree("login", &got, &want);
            match (&got, so) {
                (Ok(()), true) => {
                    self.m.who = Who::So;
                    self.m.so_failures = 0;
                }
                (Ok(()), false) => {
                    self.m.who = Who::User;
                    self.m.user_failures = 0;
                }
                (Err(Error::PinIncorrect), true) => self.m.so_failures += 1,
                (Err(Error::PinIncorrect), false) => self.m.user_failures += 1,
                _ => {}
            }
            ok
        }

        fn logout(&mut self, session: u8) -> bool {
            let h = self.m.session_handle(session);
            let want = match self.session_want(h) {
                Ok(()) if self.m.who == Who::Nobody => refuse(Error::UserNotLoggedIn),
                other => other,
            };
            let got = self.e.logout(h);
            if !self.agree("logout", &got, &want) {
                return false;
            }
            self.m.who = Who::Nobody;
            self.m
                .objects
                .retain(|_, o| !(o.owner.is_some() && o.private()));
            true
        }

        fn init_pin(&mut self, session: u8, pin: u8) -> bool {
            let h = self.m.session_handle(session);
            let pin = usize::from(pin % 3);
            let want = match self.session_want(h) {
                Ok(()) if self.m.who != Who::So => refuse(Error::UserNotLoggedIn),
                Ok(()) if !self.rw(h) => refuse(Error::SessionReadOnly),
                Ok(()) if USER_PINS[pin].len() < crate::engine::MIN_PIN_LEN => {
                    refuse(Error::PinLenRange)
                }
                other => other,
            };
            let got = self.e.init_pin(h, USER_PINS[pin]);
            if !self.agree("init_pin", &got, &want) {
                return false;
            }
            self.m.user_pin = pin;
            self.m.user_failures = 0;
            true
        }

        fn set_pin(&mut self, session: u8, old: u8, new: u8) -> bool {
            if self.m.who == Who::So {
                // The SO PIN must stay known so the next input can re-initialise the token.
                return true;
            }
            let h = self.m.session_handle(session);
            let (old, new) = (usize::from(old % 3), usize::from(new % 3));
            let want = match self.session_want(h) {
                Ok(()) if !self.rw(h) => refuse(Error::SessionReadOnly),
                Ok(()) if USER_PINS[new].len() < crate::engine::MIN_PIN_LEN => {
                    refuse(Error::PinLenRange)
                }
                Ok(()) if self.m.user_failures >= MAX_FAILURES => refuse(Error::PinLocked),
                Ok(()) if old != self.m.user_pin => refuse(Error::PinIncorrect),
                other => other,
            };
            let got = self.e.set_pin(h, USER_PINS[old], USER_PINS[new]);
            let ok = self.agree("set_pin", &got, &want);
            match got {
                Ok(()) => {
                    self.m.user_pin = new;
                    self.m.user_failures = 0;
                }
                Err(Error::PinIncorrect) => self.m.user_failures += 1,
                Err(_) => {}
            }
            ok
        }

        // ----- making objects -----

        fn create_data(&mut self, session: u8, flags: u8, label: u8, value: &[u8]) -> bool {
            let h = self.m.session_handle(session);
            let label = LABELS[usize::from(label % 4)];
            let (mut t, mut attrs) = storage(flags, CKO_DATA);
            let app: &[u8] = if flags & 4 != 0 { b"fuzz" } else { b"" };
            t.push(Attr::ulong(CKA_CLASS, CKO_DATA));
            t.push(Attr::bytes(CKA_LABEL, label));
            t.push(Attr::bytes(CKA_VALUE, value));
            if flags & 4 != 0 {
                t.push(Attr::bytes(CKA_APPLICATION, app));
            }
            attrs.insert(CKA_CLASS, Some(Value::Ulong(CKO_DATA)));
            attrs.insert(CKA_LABEL, Some(Value::Bytes(label.to_vec())));
            attrs.insert(CKA_VALUE, Some(Value::Bytes(value.to_vec())));
            attrs.insert(CKA_APPLICATION, Some(Value::Bytes(app.to_vec())));
            let want = self
                .session_want(h)
                .and_then(|()| self.new_object_want(h, &attrs));
            let got = self.e.create_object(h, &t);
            if !self.agree("create_object", &got, &want) {
                return false;
            }
            let Ok(handle) = got else { return false };
            let material = self.m.fresh_material();
            self.add_object(h, handle, attrs, material);
            true
        }

        #[allow(clippy::too_many_arguments)]
        fn secret(
            &mut self,
            session: u8,
            flags: u8,
            usage: u8,
            label: u8,
            id: u8,
            key: u8,
            generate: bool,
        ) -> bool {
            let h = self.m.session_handle(session);
            let (key_type, len, len_ok) = key_kind(key);
            let label = LABELS[usize::from(label % 4)];
            let id = IDS[usize::from(id % 4)];
            let (mut t, storage_attrs) = storage(flags, CKO_SECRET_KEY);
            let usage_t = usage_template(usage, CKO_SECRET_KEY);
            t.extend(usage_t.iter().cloned());
            t.push(Attr::ulong(CKA_CLASS, CKO_SECRET_KEY));
            t.push(Attr::ulong(CKA_KEY_TYPE, key_type));
            t.push(Attr::bytes(CKA_LABEL, label));
            t.push(Attr::bytes(CKA_ID, id));
            let origin = if generate {
                Origin::Generated
            } else {
                Origin::Created
            };
            let mut attrs = key_attrs(
                CKO_SECRET_KEY,
                key_type,
                origin,
                storage_attrs,
                &usage_t,
                label,
                id,
            );
            attrs.insert(CKA_VALUE_LEN, Some(Value::Ulong(len as u64)));
            // Created keys get a value from the seed in the key byte; generated ones ask for a
            // length (17 bytes where the created key has 15).
            let seed = key >> 3;
            let value: Vec<u8> = (0..len)
                .map(|i| seed.wrapping_add(i as u8).wrapping_mul(0x9d))
                .collect();
            let length_error = if generate {
                Error::KeySizeRange
            } else {
                Error::AttributeValueInvalid
            };
            let want = self.session_want(h).and_then(|()| {
                if len_ok {
                    self.new_object_want(h, &attrs)
                } else {
                    refuse(length_error)
                }
            });
            let got = if generate {
                let (mech, value_len) = match (key_type, len_ok) {
                    (CKK_AES, true) => (CKM_AES_KEY_GEN, len),
                    (CKK_AES, false) => (CKM_AES_KEY_GEN, 17),
                    _ => (CKM_GENERIC_SECRET_KEY_GEN, len),
                };
                t.push(Attr::ulong(CKA_VALUE_LEN, value_len as u64));
                let mech = Mechanism::simple(mech).expect("key generation mechanism");
                self.e.generate_key(h, &mech, &t)
            } else {
                t.push(Attr::bytes(CKA_VALUE, value.clone()));
                self.e.create_object(h, &t)
            };
            let call = if generate {
                "generate_key"
            } else {
                "create_object"
            };
            if !self.agree(call, &got, &want) {
                return false;
            }
            let Ok(handle) = got else { return false };
            let material = if generate {
                self.m.fresh_material()
            } else {
                self.m.material_of_value(&value)
            };
            self.add_object(h, handle, attrs, material);
            true
        }

        fn ec_pair(&mut self, session: u8, flags: u8, usage: u8, label: u8, id: u8) -> bool {
            let h = self.m.session_handle(session);
            let label = LABELS[usize::from(label % 4)];
            let id = IDS[usize::from(id % 4)];
            let oid = crate::crypto::Curve::P256.oid_der().to_vec();

            let (mut priv_t, priv_storage) = storage(flags, CKO_PRIVATE_KEY);
            let priv_usage = usage_template(usage, CKO_PRIVATE_KEY);
            priv_t.extend(priv_usage.iter().cloned());
            priv_t.push(Attr::bytes(CKA_LABEL, label));
            priv_t.push(Attr::bytes(CKA_ID, id));

            // The public key takes the token flag only.
            let pub_flags = if flags & 0x80 == 0 { flags & 1 } else { 0x80 };
            let (mut pub_t, pub_storage) = storage(pub_flags, CKO_PUBLIC_KEY);
            let pub_usage = usage_template(usage, CKO_PUBLIC_KEY);
            pub_t.extend(pub_usage.iter().cloned());
            pub_t.push(Attr::bytes(CKA_EC_PARAMS, oid));
            pub_t.push(Attr::bytes(CKA_LABEL, label));
            pub_t.push(Attr::bytes(CKA_ID, id));

            let pub_attrs = key_attrs(
                CKO_PUBLIC_KEY,
                CKK_EC,
                Origin::Generated,
                pub_storage,
                &pub_usage,
                label,
                id,
            );
            let priv_attrs = key_attrs(
                CKO_PRIVATE_KEY,
                CKK_EC,
                Origin::Generated,
                priv_storage,
                &priv_usage,
                label,
                id,
            );
            let want = self
                .session_want(h)
                .and_then(|()| self.new_objects_want(h, &[&pub_attrs, &priv_attrs]));
            let mech = Mechanism::simple(CKM_EC_KEY_PAIR_GEN).expect("EC key pair generation");
            let got = self.e.generate_key_pair(h, &mech, &pub_t, &priv_t);
            if !self.agree("generate_key_pair", &got, &want) {
                return false;
            }
            let Ok((public, private)) = got else {
                return false;
            };
            let material = self.m.fresh_material();
            // The public key is never private here, so its point is read back (and learnt)
            // right away.
            self.add_object(h, public, pub_attrs, material);
            self.add_object(h, private, priv_attrs, material);
            if !self.m.points.contains_key(&material) {
                self.fail("the new public key's point was not read");
            }
            true
        }

        fn copy(&mut self, session: u8, object: u8, change: u8, arg: u8) -> bool {
            let h = self.m.session_handle(session);
            let obj = self.m.object_handle(object);
            let t = copy_template(change, arg);
            let mut copy = None;
            let want = self.session_want(h).and_then(|()| {
                let Some(o) = self.m.visible(obj) else {
                    return refuse(Error::ObjectHandleInvalid);
                };
                if let Some(e) = copy_verdict(o, &t) {
                    return refuse(e);
                }
                let mut c = o.clone();
                c.apply(&t);
                let want = self.new_object_want(h, &c.attrs);
                copy = Some(c);
                want
            });
            let got = self.e.copy_object(h, obj, &t);
            if !self.agree("copy_object", &got, &want) {
                return false;
            }
            let (Ok(handle), Some(c)) = (got, copy) else {
                return false;
            };
            self.add_object(h, handle, c.attrs, c.material);
            true
        }

        /// The checks every operation on an existing object makes: the session, the object's
        /// visibility, and for token objects a read/write session.
        fn writable_want(&self, h: u64, obj: u64) -> Want {
            self.session_want(h)?;
            let Some(o) = self.m.visible(obj) else {
                return refuse(Error::ObjectHandleInvalid);
            };
            if o.token() && !self.rw(h) {
                return refuse(Error::SessionReadOnly);
            }
            Ok(())
        }

        fn set_attribute(&mut self, session: u8, object: u8, change: u8, arg: u8) -> bool {
            let h = self.m.session_handle(session);
            let obj = self.m.object_handle(object);
            let t = set_template(change, arg);
            let want = self.writable_want(h, obj).and_then(|()| {
                match set_verdict(&self.m.objects[&obj], &t) {
                    Some(e) => refuse(e),
                    None => Ok(()),
                }
            });
            let got = self.e.set_attributes(h, obj, &t);
            if !self.agree("set_attributes", &got, &want) {
                return false;
            }
            if let Some(o) = self.m.objects.get_mut(&obj) {
                o.apply(&t);
            }
            self.compare_attributes(h, obj);
            true
        }

        fn destroy(&mut self, session: u8, object: u8) -> bool {
            let h = self.m.session_handle(session);
            let obj = self.m.object_handle(object);
            let want = self.writable_want(h, obj).and_then(|()| {
                if self.m.objects[&obj].flag(CKA_DESTROYABLE) {
                    Ok(())
                } else {
                    refuse(Error::ActionProhibited)
                }
            });
            let got = self.e.destroy_object(h, obj);
            if !self.agree("destroy_object", &got, &want) {
                return false;
            }
            self.m.objects.remove(&obj);
            true
        }

        // ----- finding and reading -----

        fn find_init_want(&self, h: u64) -> Want {
            match self.m.session(h) {
                None => refuse(Error::SessionHandleInvalid),
                Some(s) if s.find.is_some() => refuse(Error::OperationActive),
                Some(_) => Ok(()),
            }
        }

        /// Reads the rest of an active find in chunks and checks it against `want`.
        fn drain_find(&self, h: u64, chunk: usize, want: &BTreeSet<u64>) {
            let mut found = BTreeSet::new();
            loop {
                let batch = match self.e.find(h, chunk) {
                    Ok(b) => b,
                    Err(e) => self.fail(format_args!("find: {e:?}")),
                };
                if batch.len() > chunk {
                    self.fail(format_args!(
                        "find returned {} for a chunk of {chunk}",
                        batch.len()
                    ));
                }
                if batch.is_empty() {
                    break;
                }
                for x in batch {
                    if !found.insert(x) {
                        self.fail(format_args!("find returned {x:#x} twice"));
                    }
                }
                if found.len() > want.len() {
                    break;
                }
            }
            if &found != want {
                self.fail(format_args!(
                    "find gave {found:x?}, model expects {want:x?}"
                ));
            }
        }

        fn find(&mut self, session: u8, by: u8, arg: u8, chunk: u8) -> bool {
            let h = self.m.session_handle(session);
            let t = find_template(by, arg);
            let want = self.find_init_want(h);
            let got = self.e.find_init(h, &t);
            if !self.agree("find_init", &got, &want) {
                return false;
            }
            let expected = self.m.visible_set(&t);
            self.drain_find(h, usize::from(chunk % 4) + 1, &expected);
            let done = self.e.find_final(h);
            self.agree("find_final", &done, &Ok(()))
        }

        fn find_init(&mut self, session: u8, by: u8, arg: u8) -> bool {
            let h = self.m.session_handle(session);
            let t = find_template(by, arg);
            let want = self.find_init_want(h);
            let got = self.e.find_init(h, &t);
            if !self.agree("find_init", &got, &want) {
                return false;
            }
            let expected = self.m.visible_set(&t);
            if let Some(s) = self.m.session_mut(h) {
                s.find = Some(expected);
            }
            true
        }

        fn find_final(&mut self, session: u8) -> bool {
            let h = self.m.session_handle(session);
            let active = self.m.session(h).and_then(|s| s.find.clone());
            if let Some(expected) = &active {
                self.drain_find(h, 1000, expected);
            }
            let want = match (self.m.session(h), &active) {
                (None, _) => refuse(Error::SessionHandleInvalid),
                (Some(_), None) => refuse(Error::OperationNotInitialized),
                (Some(_), Some(_)) => Ok(()),
            };
            let got = self.e.find_final(h);
            if !self.agree("find_final", &got, &want) {
                return false;
            }
            if let Some(s) = self.m.session_mut(h) {
                s.find = None;
            }
            true
        }

        fn get_attributes(&mut self, session: u8, object: u8) -> bool {
            let h = self.m.session_handle(session);
            let obj = self.m.object_handle(object);
            let want = self
                .session_want(h)
                .and_then(|()| match self.m.visible(obj) {
                    Some(_) => Ok(()),
                    None => refuse(Error::ObjectHandleInvalid),
                });
            let got = self.e.get_attributes(h, obj, &[CKA_CLASS]);
            if !self.agree("get_attributes", &got, &want) {
                return false;
            }
            self.compare_attributes(h, obj);
            true
        }

        // ----- using keys -----

        /// The checks of a key for an operation: the session, the key's visibility, its class
        /// and type, and its usage flag.
        #[allow(clippy::too_many_arguments)]
        fn key_want(
            &self,
            h: u64,
            key: u64,
            class: u64,
            key_type: u64,
            flag: CK_ATTRIBUTE_TYPE,
            missing: Error,
            wrong: Error,
        ) -> Want {
            self.session_want(h)?;
            let Some(o) = self.m.visible(key) else {
                return refuse(missing);
            };
            // A data object is not a key: its handle is no key handle.
            if o.class() == CKO_DATA {
                return refuse(missing);
            }
            if o.class() != class || o.key_type() != Some(key_type) {
                return refuse(wrong);
            }
            if !o.flag(flag) {
                return refuse(Error::KeyFunctionNotPermitted);
            }
            Ok(())
        }

        fn sign(&mut self, session: u8, key: u8, mech: u8, message: &[u8]) -> bool {
            let h = self.m.session_handle(session);
            let k = self.m.object_handle(key);
            let (ty, class, key_type, sig_len) = match mech % 3 {
                0 => (CKM_SHA256_HMAC, CKO_SECRET_KEY, CKK_GENERIC_SECRET, 32),
                1 => (CKM_AES_CMAC, CKO_SECRET_KEY, CKK_AES, 16),
                _ => (CKM_ECDSA_SHA256, CKO_PRIVATE_KEY, CKK_EC, 64),
            };
            let mech = Mechanism::simple(ty).expect("signing mechanism");
            let want = self.key_want(
                h,
                k,
                class,
                key_type,
                CKA_SIGN,
                Error::KeyHandleInvalid,
                Error::KeyTypeInconsistent,
            );
            let got = self.e.sign_init(h, &mech, k);
            if !self.agree("sign_init", &got, &want) {
                return false;
            }
            let sig = match self.e.sign(h, message, Out::Capacity(1024)) {
                Ok(Produced::Data(s)) => s,
                other => self.fail(format_args!("sign: {other:?}")),
            };
            if sig.len() != sig_len {
                self.fail(format_args!("{}-byte signature", sig.len()));
            }
            let material = self.m.objects[&k].material;
            if ty == CKM_ECDSA_SHA256 {
                self.check_ecdsa(h, material, message, &sig);
            } else {
                self.check_mac(h, k, &mech, material, message, &sig);
            }
            true
        }

        /// Checks a MAC against an independent computation, against earlier MACs of the same
        /// material, and with the engine's verification.
        fn check_mac(
            &mut self,
            h: u64,
            k: u64,
            mech: &Mechanism,
            material: u64,
            message: &[u8],
            mac: &[u8],
        ) {
            if let Some(value) = self.m.values.get(&material) {
                let want = if mech.ty == CKM_AES_CMAC {
                    crate::crypto::cmac::cmac(value, message)
                        .expect("CMAC")
                        .to_vec()
                } else {
                    let key = aws_lc_rs::hmac::Key::new(aws_lc_rs::hmac::HMAC_SHA256, value);
                    aws_lc_rs::hmac::sign(&key, message).as_ref().to_vec()
                };
                if want != mac {
                    self.fail("MAC differs from an independent computation");
                }
            }
            let seen = (material, mech.ty, message.to_vec());
            match self.m.macs.get(&seen) {
                Some(m) if m.as_slice() != mac => {
                    self.fail("two keys with the same material gave different MACs")
                }
                Some(_) => {}
                None => {
                    self.m.macs.insert(seen, mac.to_vec());
                }
            }
            let want = if self.m.objects[&k].flag(CKA_VERIFY) {
                Ok(())
            } else {
                refuse(Error::KeyFunctionNotPermitted)
            };
            let got = self.e.verify_init(h, mech, k);
            if self.agree("verify_init", &got, &want) {
                self.verify_both(h, mech, k, message, mac);
            }
        }

        /// Verifies a signature with the engine (an initialised verification is consumed), then
        /// a tampered copy, which must be refused.
        fn verify_both(&self, h: u64, mech: &Mechanism, k: u64, message: &[u8], sig: &[u8]) {
            let good = self.e.verify(h, message, sig);
            self.agree("verify", &good, &Ok(()));
            let mut bad = sig.to_vec();
            if let Some(last) = bad.last_mut() {
                *last ^= 1;
            }
            let init = self.e.verify_init(h, mech, k);
            self.agree("verify_init", &init, &Ok(()));
            let refused = self.e.verify(h, message, &bad);
            self.agree(
                "verify of a tampered signature",
                &refused,
                &refuse(Error::SignatureInvalid),
            );
        }

        /// Checks an ECDSA signature with an independent verifier and the pair's public point,
        /// and with the engine through a visible public key of the same pair.
        fn check_ecdsa(&mut self, h: u64, material: u64, message: &[u8], sig: &[u8]) {
            use aws_lc_rs::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_FIXED};
            let Some(point) = self.m.points.get(&material) else {
                self.fail("no public point for the key's material");
            };
            if UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                .verify(message, sig)
                .is_err()
            {
                self.fail("ECDSA signature does not verify under the pair's public key");
            }
            let public = self.m.objects.iter().find(|(handle, o)| {
                o.material == material
                    && o.class() == CKO_PUBLIC_KEY
                    && o.flag(CKA_VERIFY)
                    && self.m.visible(**handle).is_some()
            });
            if let Some((public, _)) = public {
                let mech = Mechanism::simple(CKM_ECDSA_SHA256).expect("ECDSA");
                let init = self.e.verify_init(h, &mech, *public);
                self.agree("verify_init", &init, &Ok(()));
                self.verify_both(h, &mech, *public, message, sig);
            }
        }

        fn wrap(&mut self, session: u8, wrapping: u8, key: u8, unwrapping: u8, flags: u8) -> bool {
            let h = self.m.session_handle(session);
            let w = self.m.object_handle(wrapping);
            let k = self.m.object_handle(key);
            let u = self.m.object_handle(unwrapping);
            let mech = Mechanism::simple(CKM_AES_KEY_WRAP_KWP).expect("AES-KWP");
            let want = self
                .key_want(
                    h,
                    w,
                    CKO_SECRET_KEY,
                    CKK_AES,
                    CKA_WRAP,
                    Error::WrappingKeyHandleInvalid,
                    Error::WrappingKeyTypeInconsistent,
                )
                .and_then(|()| {
                    let Some(o) = self.m.visible(k) else {
                        return refuse(Error::KeyHandleInvalid);
                    };
                    match o.class() {
                        CKO_DATA => refuse(Error::KeyHandleInvalid),
                        CKO_PUBLIC_KEY => refuse(Error::KeyNotWrappable),
                        _ if !o.flag(CKA_EXTRACTABLE) => refuse(Error::KeyUnextractable),
                        _ => Ok(()),
                    }
                });
            let got = self.e.wrap_key(h, &mech, w, k, Out::Capacity(8192));
            if !self.agree("wrap_key", &got, &want) {
                return false;
            }
            let wrapped = match got {
                Ok(Produced::Data(v)) => v,
                other => self.fail(format_args!("wrap_key: {other:?}")),
            };
            let target = self.m.objects[&k].clone();
            if let Some(len) = target.ulong(CKA_VALUE_LEN) {
                if wrapped.len() as u64 != len.div_ceil(8) * 8 + 8 {
                    self.fail(format_args!(
                        "{}-byte KWP output for a {len}-byte key",
                        wrapped.len()
                    ));
                }
            }

            // Unwrap it again, as the same kind of key.
            let class = target.class();
            let key_type = target.key_type().unwrap_or(u64::MAX);
            let bit = |n: u8| flags >> n & 1 == 1;
            let mut t = vec![
                Attr::ulong(CKA_CLASS, class),
                Attr::ulong(CKA_KEY_TYPE, key_type),
                Attr::bool(CKA_TOKEN, bit(0)),
                Attr::bool(CKA_PRIVATE, bit(1)),
                Attr::bool(CKA_SENSITIVE, bit(2)),
                Attr::bool(CKA_EXTRACTABLE, bit(3)),
                Attr::bytes(CKA_LABEL, b"unwrapped".to_vec()),
                Attr::bool(CKA_SIGN, true),
            ];
            if class == CKO_SECRET_KEY {
                t.push(Attr::bool(CKA_VERIFY, true));
            }
            let storage_attrs: BTreeMap<CK_ATTRIBUTE_TYPE, Option<Value>> = [
                (CKA_TOKEN, bit(0)),
                (CKA_PRIVATE, bit(1)),
                (CKA_SENSITIVE, bit(2)),
                (CKA_EXTRACTABLE, bit(3)),
                (CKA_MODIFIABLE, true),
                (CKA_COPYABLE, true),
                (CKA_DESTROYABLE, true),
            ]
            .into_iter()
            .map(|(ty, b)| (ty, Some(Value::Bool(b))))
            .collect();
            let usage: Vec<Attr> = t
                .iter()
                .filter(|a| matches!(a.ty, CKA_SIGN | CKA_VERIFY))
                .cloned()
                .collect();
            let mut attrs = key_attrs(
                class,
                key_type,
                Origin::Unwrapped,
                storage_attrs,
                &usage,
                b"unwrapped",
                b"",
            );
            if let Some(len) = target.ulong(CKA_VALUE_LEN) {
                attrs.insert(CKA_VALUE_LEN, Some(Value::Ulong(len)));
            }
            let wrapping_material = self.m.objects[&w].material;
            let want = self
                .key_want(
                    h,
                    u,
                    CKO_SECRET_KEY,
                    CKK_AES,
                    CKA_UNWRAP,
                    Error::UnwrappingKeyHandleInvalid,
                    Error::UnwrappingKeyTypeInconsistent,
                )
                .and_then(|()| {
                    if self.m.objects[&u].material != wrapping_material {
                        refuse(Error::WrappedKeyInvalid)
                    } else {
                        self.new_object_want(h, &attrs)
                    }
                });
            let got = self.e.unwrap_key(h, &mech, u, &wrapped, &t);
            if !self.agree("unwrap_key", &got, &want) {
                return false;
            }
            let Ok(handle) = got else { return false };
            self.add_object(h, handle, attrs, target.material);
            true
        }

        // ----- invariants -----

        /// Session states and counts, the token's object count and PIN flags, and (through a
        /// session with no find in progress) the visible objects.
        fn check_invariants(&mut self) {
            for s in &self.m.sessions {
                let got = self.e.session_info(s.handle);
                if !s.open {
                    if got != Err(Error::SessionHandleInvalid) {
                        self.fail(format_args!("closed session {}: {got:?}", s.handle));
                    }
                    continue;
                }
                let state = match (self.m.who, s.rw) {
                    (Who::Nobody, false) => CKS_RO_PUBLIC_SESSION,
                    (Who::Nobody, true) => CKS_RW_PUBLIC_SESSION,
                    (Who::User, false) => CKS_RO_USER_FUNCTIONS,
                    (Who::User, true) => CKS_RW_USER_FUNCTIONS,
                    (Who::So, _) => CKS_RW_SO_FUNCTIONS,
                };
                let flags = CKF_SERIAL_SESSION | if s.rw { CKF_RW_SESSION } else { 0 };
                match got {
                    Ok(i) if i.slot == 0 && i.state == state && i.flags == flags => {}
                    other => self.fail(format_args!(
                        "session {}: {other:?}, model expects state {state} flags {flags:#x}",
                        s.handle
                    )),
                }
            }
            let info = match self.e.token_info(0) {
                Ok(i) => i,
                Err(e) => self.fail(format_args!("token_info: {e:?}")),
            };
            let open = self.m.open_sessions().count() as u64;
            let rw = self.m.open_sessions().filter(|s| s.rw).count() as u64;
            let token_objects = self.m.objects.values().filter(|o| o.token()).count() as u64;
            if (info.session_count, info.rw_session_count, info.object_count)
                != (open, rw, token_objects)
            {
                self.fail(format_args!(
                    "token info counts {} sessions, {} rw, {} objects; model {open}, {rw}, {token_objects}",
                    info.session_count, info.rw_session_count, info.object_count
                ));
            }
            let pin_mask = CKF_USER_PIN_COUNT_LOW
                | CKF_USER_PIN_FINAL_TRY
                | CKF_USER_PIN_LOCKED
                | CKF_SO_PIN_COUNT_LOW
                | CKF_SO_PIN_FINAL_TRY
                | CKF_SO_PIN_LOCKED
                | CKF_TOKEN_INITIALIZED
                | CKF_USER_PIN_INITIALIZED;
            let want = CKF_TOKEN_INITIALIZED
                | CKF_USER_PIN_INITIALIZED
                | pin_flags(
                    self.m.user_failures,
                    CKF_USER_PIN_COUNT_LOW,
                    CKF_USER_PIN_FINAL_TRY,
                    CKF_USER_PIN_LOCKED,
                )
                | pin_flags(
                    self.m.so_failures,
                    CKF_SO_PIN_COUNT_LOW,
                    CKF_SO_PIN_FINAL_TRY,
                    CKF_SO_PIN_LOCKED,
                );
            if info.flags & pin_mask != want {
                self.fail(format_args!(
                    "token flags {:#x}, model expects {want:#x}",
                    info.flags & pin_mask
                ));
            }
            let idle = self
                .m
                .open_sessions()
                .find(|s| s.find.is_none())
                .map(|s| s.handle);
            if let Some(h) = idle {
                let init = self.e.find_init(h, &[]);
                self.agree("find_init", &init, &Ok(()));
                let everything = self.m.visible_set(&[]);
                self.drain_find(h, 1000, &everything);
                let done = self.e.find_final(h);
                self.agree("find_final", &done, &Ok(()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_and_empty_inputs_are_rejected_without_panicking() {
        for f in [
            attributes,
            share_text,
            config_text,
            store_header,
            mechanism_params,
            sealed_record,
            engine_model,
        ] {
            let _ = f(&[]);
            let _ = f(&[0xff]);
            let _ = f(&[0; 3]);
        }
        assert!(!attributes(&[]));
        assert!(!store_header(&[]));
        assert!(!sealed_record(&[]));
    }

    #[test]
    fn mechanism_params_accepts_a_plain_digest() {
        // Row 0 (SHA-1), shape 0 (no parameter).
        assert!(mechanism_params(&[0, 0]));
        // Arbitrary unknown type.
        assert!(!mechanism_params(&[0x80, 1, 2, 3, 4, 5, 6, 7, 0x7f, 0]));
        // A digest with a byte-string parameter is refused.
        assert!(!mechanism_params(&[0, 1, 2, 0xaa, 0xbb]));
    }

    #[test]
    fn mechanism_inputs_decode_to_the_parameters_they_encode() {
        let params = [
            RawParam::None,
            RawParam::Bytes(vec![1; 16]),
            RawParam::Gcm {
                iv: vec![2; 12],
                iv_bits: 96,
                aad: b"aad".to_vec(),
                tag_bits: 128,
            },
            RawParam::Ulong(7),
            RawParam::Eddsa {
                prehash: true,
                context: Some(b"ctx".to_vec()),
            },
            RawParam::Sp800 {
                prf: CKM_SHA256_HMAC,
                data: vec![
                    RawPrfData::Iteration(Some((true, 16))),
                    RawPrfData::Counter(false, 8),
                    RawPrfData::DkmLength(CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS, false, 32),
                    RawPrfData::Bytes(b"label".to_vec()),
                ],
                additional_keys: 0,
            },
            RawParam::RsaAesWrap {
                aes_bits: 256,
                oaep: Box::new(RawParam::Oaep {
                    hash: CKM_SHA256,
                    mgf: CKG_MGF1_SHA256,
                    source: CKZ_DATA_SPECIFIED,
                    label: vec![],
                }),
            },
        ];
        for p in params {
            let input = mechanism_input(CKM_SHA256, &p);
            let mut r = Bytes(&input[1..]);
            let back = raw_param(&mut r);
            assert_eq!(format!("{back:?}"), format!("{p:?}"));
            assert!(r.0.is_empty(), "{p:?} left bytes over");
        }
    }

    #[test]
    fn sealed_record_tells_genuine_from_forged() {
        let mut input = 7u16.to_le_bytes().to_vec();
        input.extend_from_slice(&99u64.to_le_bytes());
        input.extend_from_slice(&3u32.to_le_bytes());
        input.extend_from_slice(&[0, 5, 0, 1]);
        assert_eq!(input.len(), SEALED_RECORD_HEADER);
        let mut genuine = input.clone();
        genuine.extend(seal_with_fuzz_key(7, 99, 3, b"payload"));
        assert!(sealed_record(&genuine));
        let last = genuine.len() - 1;
        genuine[last] ^= 0x80;
        assert!(!sealed_record(&genuine));
    }

    #[test]
    fn model_operations_round_trip_through_their_encoding() {
        use model::Op;
        let ops = vec![
            Op::OpenSession { rw: true },
            Op::Login {
                session: 0,
                so: false,
                pin: 0,
            },
            Op::CreateData {
                session: 0,
                flags: 1,
                label: 2,
                value: b"v".to_vec(),
            },
            Op::Sign {
                session: 0,
                key: 0,
                mech: 2,
                message: vec![1, 2, 3],
            },
            Op::Wrap {
                session: 0,
                wrapping: 1,
                key: 2,
                unwrapping: 3,
                flags: 4,
            },
        ];
        assert_eq!(model::decode(&model::encode(&ops)), ops);
    }

    #[test]
    fn model_runs_a_simple_session() {
        use model::{encode, Op};
        let ok = encode(&[
            Op::OpenSession { rw: true },
            Op::Login {
                session: 0,
                so: false,
                pin: 0,
            },
            Op::CreateSecret {
                session: 0,
                flags: 0b0011,
                usage: 0b11,
                label: 1,
                id: 1,
                key: 2,
            },
            Op::Sign {
                session: 0,
                key: 0,
                mech: 0,
                message: b"hello".to_vec(),
            },
        ]);
        assert!(engine_model(&ok));
        // The same key while logged out: the private key is invisible.
        let refused = encode(&[
            Op::OpenSession { rw: true },
            Op::Login {
                session: 0,
                so: false,
                pin: 0,
            },
            Op::CreateSecret {
                session: 0,
                flags: 0b0011,
                usage: 0b11,
                label: 1,
                id: 1,
                key: 2,
            },
            Op::Logout { session: 0 },
            Op::Sign {
                session: 0,
                key: 0,
                mech: 0,
                message: b"hello".to_vec(),
            },
        ]);
        assert!(!engine_model(&refused));
    }
}
