//! Mechanisms: a typed enum parsed once at `*Init`, and one static table that feeds
//! `C_GetMechanismList` / `C_GetMechanismInfo`.

use cryptoki_sys::*;

use crate::crypto::HashAlg;
use crate::engine::{Error, Result};

/// `CK_GCM_PARAMS`, owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GcmParams {
    /// The IV (any length from 1 to 256 bytes).
    pub iv: Vec<u8>,
    /// Additional authenticated data.
    pub aad: Vec<u8>,
    /// Tag length in bits.
    pub tag_bits: u64,
}

/// `CK_RSA_PKCS_PSS_PARAMS`, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PssParams {
    /// The message hash.
    pub hash: HashAlg,
    /// The MGF1 hash.
    pub mgf1: HashAlg,
    /// Salt length in bytes.
    pub salt_len: usize,
}

/// A mechanism with its parameters, as parsed from a caller's `CK_MECHANISM`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mechanism {
    /// `CKM_SHA256`, `CKM_SHA384`, `CKM_SHA512`.
    Digest(HashAlg),
    /// `CKM_AES_KEY_GEN`.
    AesKeyGen,
    /// `CKM_AES_GCM`.
    AesGcm(GcmParams),
    /// `CKM_AES_CBC_PAD` with its IV.
    AesCbcPad([u8; 16]),
    /// `CKM_EC_KEY_PAIR_GEN`.
    EcKeyPairGen,
    /// `CKM_ECDSA` over a caller's digest.
    Ecdsa,
    /// `CKM_ECDSA_SHA256`, `CKM_ECDSA_SHA384`.
    EcdsaWith(HashAlg),
    /// `CKM_RSA_PKCS_KEY_PAIR_GEN`.
    RsaKeyPairGen,
    /// `CKM_RSA_PKCS` (signing a caller's DigestInfo).
    RsaPkcs,
    /// `CKM_SHA256_RSA_PKCS`.
    RsaPkcsWith(HashAlg),
    /// `CKM_RSA_PKCS_PSS` over a caller's digest.
    RsaPss(PssParams),
    /// `CKM_SHA256_RSA_PKCS_PSS`.
    RsaPssWith(PssParams),
}

impl Mechanism {
    /// The mechanism's `CK_MECHANISM_TYPE`.
    pub fn ck_type(&self) -> CK_MECHANISM_TYPE {
        match self {
            Mechanism::Digest(h) => digest_mechanism(*h),
            Mechanism::AesKeyGen => CKM_AES_KEY_GEN,
            Mechanism::AesGcm(_) => CKM_AES_GCM,
            Mechanism::AesCbcPad(_) => CKM_AES_CBC_PAD,
            Mechanism::EcKeyPairGen => CKM_EC_KEY_PAIR_GEN,
            Mechanism::Ecdsa => CKM_ECDSA,
            Mechanism::EcdsaWith(HashAlg::Sha384) => CKM_ECDSA_SHA384,
            Mechanism::EcdsaWith(HashAlg::Sha512) => CKM_ECDSA_SHA512,
            Mechanism::EcdsaWith(HashAlg::Sha224) => CKM_ECDSA_SHA224,
            Mechanism::EcdsaWith(HashAlg::Sha1) => CKM_ECDSA_SHA1,
            Mechanism::EcdsaWith(HashAlg::Sha256) => CKM_ECDSA_SHA256,
            Mechanism::RsaKeyPairGen => CKM_RSA_PKCS_KEY_PAIR_GEN,
            Mechanism::RsaPkcs => CKM_RSA_PKCS,
            Mechanism::RsaPkcsWith(HashAlg::Sha1) => CKM_SHA1_RSA_PKCS,
            Mechanism::RsaPkcsWith(HashAlg::Sha224) => CKM_SHA224_RSA_PKCS,
            Mechanism::RsaPkcsWith(HashAlg::Sha256) => CKM_SHA256_RSA_PKCS,
            Mechanism::RsaPkcsWith(HashAlg::Sha384) => CKM_SHA384_RSA_PKCS,
            Mechanism::RsaPkcsWith(HashAlg::Sha512) => CKM_SHA512_RSA_PKCS,
            Mechanism::RsaPss(_) => CKM_RSA_PKCS_PSS,
            Mechanism::RsaPssWith(p) => match p.hash {
                HashAlg::Sha1 => CKM_SHA1_RSA_PKCS_PSS,
                HashAlg::Sha224 => CKM_SHA224_RSA_PKCS_PSS,
                HashAlg::Sha256 => CKM_SHA256_RSA_PKCS_PSS,
                HashAlg::Sha384 => CKM_SHA384_RSA_PKCS_PSS,
                HashAlg::Sha512 => CKM_SHA512_RSA_PKCS_PSS,
            },
        }
    }
}

/// The digest mechanism for a hash.
pub fn digest_mechanism(h: HashAlg) -> CK_MECHANISM_TYPE {
    match h {
        HashAlg::Sha1 => CKM_SHA_1,
        HashAlg::Sha224 => CKM_SHA224,
        HashAlg::Sha256 => CKM_SHA256,
        HashAlg::Sha384 => CKM_SHA384,
        HashAlg::Sha512 => CKM_SHA512,
    }
}

/// The hash named by a `CKM_SHA*` value, as used in PSS/OAEP parameters.
pub fn hash_of_mechanism(m: CK_MECHANISM_TYPE) -> Option<HashAlg> {
    Some(match m {
        CKM_SHA_1 => HashAlg::Sha1,
        CKM_SHA224 => HashAlg::Sha224,
        CKM_SHA256 => HashAlg::Sha256,
        CKM_SHA384 => HashAlg::Sha384,
        CKM_SHA512 => HashAlg::Sha512,
        _ => return None,
    })
}

/// The hash named by a `CKG_MGF1_*` value.
pub fn hash_of_mgf(m: CK_RSA_PKCS_MGF_TYPE) -> Option<HashAlg> {
    Some(match m {
        CKG_MGF1_SHA1 => HashAlg::Sha1,
        CKG_MGF1_SHA224 => HashAlg::Sha224,
        CKG_MGF1_SHA256 => HashAlg::Sha256,
        CKG_MGF1_SHA384 => HashAlg::Sha384,
        CKG_MGF1_SHA512 => HashAlg::Sha512,
        _ => return None,
    })
}

/// The parameter shapes the C ABI layer must read for a mechanism type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamShape {
    /// No parameter (a non-NULL one is refused).
    None,
    /// A 16-byte IV.
    Iv16,
    /// `CK_GCM_PARAMS`.
    Gcm,
    /// `CK_RSA_PKCS_PSS_PARAMS`.
    Pss,
}

/// A row of the mechanism table.
#[derive(Clone, Copy, Debug)]
pub struct MechInfo {
    /// The mechanism type.
    pub ty: CK_MECHANISM_TYPE,
    /// Minimum key size (bits for RSA/EC, bytes for AES), as `CK_MECHANISM_INFO` reports it.
    pub min_key: u64,
    /// Maximum key size.
    pub max_key: u64,
    /// `CKF_*` flags.
    pub flags: CK_FLAGS,
    /// The parameter the mechanism takes.
    pub param: ParamShape,
}

const SV: CK_FLAGS = CKF_SIGN | CKF_VERIFY;
const ED: CK_FLAGS = CKF_ENCRYPT | CKF_DECRYPT;
const EC_FLAGS: CK_FLAGS = CKF_EC_F_P | CKF_EC_NAMEDCURVE | CKF_EC_UNCOMPRESS;

const fn row(
    ty: CK_MECHANISM_TYPE,
    min: u64,
    max: u64,
    flags: CK_FLAGS,
    p: ParamShape,
) -> MechInfo {
    MechInfo {
        ty,
        min_key: min,
        max_key: max,
        flags,
        param: p,
    }
}

/// Every mechanism the token offers, in the order `C_GetMechanismList` reports them.
pub static MECHANISMS: &[MechInfo] = &[
    row(CKM_SHA256, 0, 0, CKF_DIGEST, ParamShape::None),
    row(CKM_SHA384, 0, 0, CKF_DIGEST, ParamShape::None),
    row(CKM_SHA512, 0, 0, CKF_DIGEST, ParamShape::None),
    row(CKM_AES_KEY_GEN, 16, 32, CKF_GENERATE, ParamShape::None),
    row(CKM_AES_GCM, 16, 32, ED, ParamShape::Gcm),
    row(CKM_AES_CBC_PAD, 16, 32, ED, ParamShape::Iv16),
    row(
        CKM_EC_KEY_PAIR_GEN,
        256,
        384,
        CKF_GENERATE_KEY_PAIR | EC_FLAGS,
        ParamShape::None,
    ),
    row(CKM_ECDSA, 256, 384, SV | EC_FLAGS, ParamShape::None),
    row(CKM_ECDSA_SHA256, 256, 384, SV | EC_FLAGS, ParamShape::None),
    row(CKM_ECDSA_SHA384, 256, 384, SV | EC_FLAGS, ParamShape::None),
    row(
        CKM_RSA_PKCS_KEY_PAIR_GEN,
        2048,
        4096,
        CKF_GENERATE_KEY_PAIR,
        ParamShape::None,
    ),
    row(CKM_RSA_PKCS, 1024, 8192, SV, ParamShape::None),
    row(CKM_SHA256_RSA_PKCS, 1024, 8192, SV, ParamShape::None),
    row(CKM_RSA_PKCS_PSS, 1024, 8192, SV, ParamShape::Pss),
    row(CKM_SHA256_RSA_PKCS_PSS, 1024, 8192, SV, ParamShape::Pss),
];

/// The table row for a mechanism type.
pub fn info(ty: CK_MECHANISM_TYPE) -> Option<&'static MechInfo> {
    MECHANISMS.iter().find(|m| m.ty == ty)
}

/// Parameters as the C ABI layer read them, before checking.
#[derive(Clone, Debug)]
pub enum RawParam {
    /// No parameter given.
    None,
    /// A byte string (an IV).
    Bytes(Vec<u8>),
    /// `CK_GCM_PARAMS` fields.
    Gcm {
        /// `pIv`.
        iv: Vec<u8>,
        /// `ulIvBits`.
        iv_bits: u64,
        /// `pAAD`.
        aad: Vec<u8>,
        /// `ulTagBits`.
        tag_bits: u64,
    },
    /// `CK_RSA_PKCS_PSS_PARAMS` fields.
    Pss {
        /// `hashAlg`.
        hash: u64,
        /// `mgf`.
        mgf: u64,
        /// `sLen`.
        salt_len: u64,
    },
}

/// Builds the typed mechanism from its type and parameters; the one place parameters are checked.
pub fn parse(ty: CK_MECHANISM_TYPE, param: RawParam) -> Result<Mechanism> {
    let row = info(ty).ok_or(Error::MechanismInvalid)?;
    let pss = |hash: u64, mgf: u64, salt_len: u64| -> Result<PssParams> {
        Ok(PssParams {
            hash: hash_of_mechanism(hash).ok_or(Error::MechanismParamInvalid)?,
            mgf1: hash_of_mgf(mgf).ok_or(Error::MechanismParamInvalid)?,
            salt_len: usize::try_from(salt_len).map_err(|_| Error::MechanismParamInvalid)?,
        })
    };
    match (row.param, param) {
        (ParamShape::None, RawParam::None) => Ok(match ty {
            CKM_SHA256 => Mechanism::Digest(HashAlg::Sha256),
            CKM_SHA384 => Mechanism::Digest(HashAlg::Sha384),
            CKM_SHA512 => Mechanism::Digest(HashAlg::Sha512),
            CKM_AES_KEY_GEN => Mechanism::AesKeyGen,
            CKM_EC_KEY_PAIR_GEN => Mechanism::EcKeyPairGen,
            CKM_ECDSA => Mechanism::Ecdsa,
            CKM_ECDSA_SHA256 => Mechanism::EcdsaWith(HashAlg::Sha256),
            CKM_ECDSA_SHA384 => Mechanism::EcdsaWith(HashAlg::Sha384),
            CKM_RSA_PKCS_KEY_PAIR_GEN => Mechanism::RsaKeyPairGen,
            CKM_RSA_PKCS => Mechanism::RsaPkcs,
            CKM_SHA256_RSA_PKCS => Mechanism::RsaPkcsWith(HashAlg::Sha256),
            _ => return Err(Error::MechanismInvalid),
        }),
        (ParamShape::Iv16, RawParam::Bytes(iv)) => {
            let iv: [u8; 16] = iv
                .as_slice()
                .try_into()
                .map_err(|_| Error::MechanismParamInvalid)?;
            Ok(Mechanism::AesCbcPad(iv))
        }
        (
            ParamShape::Gcm,
            RawParam::Gcm {
                iv,
                iv_bits,
                aad,
                tag_bits,
            },
        ) => {
            // ulIvBits is advisory in v3.0; when given it must agree with ulIvLen.
            let iv_len_ok = (1..=256).contains(&iv.len());
            let bits_ok = iv_bits == 0 || iv_bits == (iv.len() as u64) * 8;
            let tag_ok = matches!(tag_bits, 32 | 64 | 96 | 104 | 112 | 120 | 128);
            if !(iv_len_ok && bits_ok && tag_ok) {
                return Err(Error::MechanismParamInvalid);
            }
            Ok(Mechanism::AesGcm(GcmParams { iv, aad, tag_bits }))
        }
        (
            ParamShape::Pss,
            RawParam::Pss {
                hash,
                mgf,
                salt_len,
            },
        ) => {
            let p = pss(hash, mgf, salt_len)?;
            if ty == CKM_RSA_PKCS_PSS {
                Ok(Mechanism::RsaPss(p))
            } else if ty == CKM_SHA256_RSA_PKCS_PSS && p.hash == HashAlg::Sha256 {
                Ok(Mechanism::RsaPssWith(p))
            } else {
                Err(Error::MechanismParamInvalid)
            }
        }
        _ => Err(Error::MechanismParamInvalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_parses_or_needs_params() {
        for m in MECHANISMS {
            let r = parse(m.ty, RawParam::None);
            match m.param {
                ParamShape::None => assert_eq!(r.unwrap().ck_type(), m.ty),
                _ => assert_eq!(r, Err(Error::MechanismParamInvalid)),
            }
        }
    }

    #[test]
    fn unknown_mechanism_is_invalid() {
        assert_eq!(
            parse(CKM_DES3_CBC, RawParam::None),
            Err(Error::MechanismInvalid)
        );
    }

    #[test]
    fn gcm_params_are_checked() {
        let ok = RawParam::Gcm {
            iv: vec![0; 12],
            iv_bits: 96,
            aad: vec![],
            tag_bits: 128,
        };
        assert!(matches!(parse(CKM_AES_GCM, ok), Ok(Mechanism::AesGcm(_))));
        for (iv, bits, tag) in [
            (0usize, 0u64, 128u64),
            (12, 95, 128),
            (12, 0, 127),
            (257, 0, 128),
        ] {
            let p = RawParam::Gcm {
                iv: vec![0; iv],
                iv_bits: bits,
                aad: vec![],
                tag_bits: tag,
            };
            assert_eq!(parse(CKM_AES_GCM, p), Err(Error::MechanismParamInvalid));
        }
    }

    #[test]
    fn pss_params_must_match_the_mechanism_hash() {
        let p = |h| RawParam::Pss {
            hash: h,
            mgf: CKG_MGF1_SHA256,
            salt_len: 32,
        };
        assert!(parse(CKM_SHA256_RSA_PKCS_PSS, p(CKM_SHA256)).is_ok());
        assert_eq!(
            parse(CKM_SHA256_RSA_PKCS_PSS, p(CKM_SHA384)),
            Err(Error::MechanismParamInvalid)
        );
        assert!(parse(CKM_RSA_PKCS_PSS, p(CKM_SHA384)).is_ok());
        assert_eq!(
            parse(CKM_RSA_PKCS_PSS, p(CKM_MD5)),
            Err(Error::MechanismParamInvalid)
        );
    }

    #[test]
    fn cbc_pad_needs_a_16_byte_iv() {
        assert!(parse(CKM_AES_CBC_PAD, RawParam::Bytes(vec![0; 16])).is_ok());
        assert_eq!(
            parse(CKM_AES_CBC_PAD, RawParam::Bytes(vec![0; 15])),
            Err(Error::MechanismParamInvalid)
        );
    }
}
