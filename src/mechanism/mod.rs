//! Mechanisms: one static table ([`MECHANISMS`]) that feeds `C_GetMechanismList` /
//! `C_GetMechanismInfo`, tells the C ABI layer which parameter structure to read, and names the
//! family each mechanism belongs to; and the typed [`Mechanism`] that [`parse`] builds once at
//! `*Init` from a row and the caller's parameters.

use cryptoki_sys::*;

use crate::crypto::HashAlg;
use crate::engine::{Error, Result};

mod table;
pub use table::MECHANISMS;

/// The vendor number some modules use for AES key wrap with padding; accepted as an alias of
/// `CKM_AES_KEY_WRAP_KWP`.
pub const CKM_AES_KEY_WRAP_KWP_LEGACY: CK_MECHANISM_TYPE = 0x0000_210A;

/// `CK_GCM_PARAMS`, owned.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct GcmParams {
    /// The IV (1 to 65,536 bytes).
    pub iv: Vec<u8>,
    /// Additional authenticated data.
    pub aad: Vec<u8>,
    /// Tag length in bits.
    pub tag_bits: u64,
}

/// `CK_CCM_PARAMS`, owned.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CcmParams {
    /// The message length the caller announced.
    pub data_len: u64,
    /// The nonce (7 to 13 bytes).
    pub nonce: Vec<u8>,
    /// Additional authenticated data.
    pub aad: Vec<u8>,
    /// Tag length in bytes.
    pub mac_len: usize,
}

/// `CK_RSA_PKCS_PSS_PARAMS`, checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PssParams {
    /// The message hash.
    #[serde(with = "crate::served::wire::hash_alg")]
    pub hash: HashAlg,
    /// The MGF1 hash.
    #[serde(with = "crate::served::wire::hash_alg")]
    pub mgf1: HashAlg,
    /// Salt length in bytes.
    pub salt_len: usize,
}

/// `CK_RSA_PKCS_OAEP_PARAMS`, checked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct OaepParams {
    /// The label hash.
    #[serde(with = "crate::served::wire::hash_alg")]
    pub hash: HashAlg,
    /// The MGF1 hash.
    #[serde(with = "crate::served::wire::hash_alg")]
    pub mgf1: HashAlg,
    /// The label (`CKZ_DATA_SPECIFIED` source data).
    pub label: Vec<u8>,
}

/// The key derivation function applied to an ECDH shared secret.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum EcKdf {
    /// `CKD_NULL`: the raw shared secret.
    Null,
    /// `CKD_SHA*_KDF` / `CKD_SHA3_*_KDF`: ANSI X9.63 with this hash.
    X963(#[serde(with = "crate::served::wire::hash_alg")] HashAlg),
}

/// `CK_ECDH1_DERIVE_PARAMS`, checked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EcdhParams {
    /// The KDF.
    pub kdf: EcKdf,
    /// Shared info for the KDF (empty with `CKD_NULL`).
    pub shared_data: Vec<u8>,
    /// The peer's public value (raw or DER).
    pub public: Vec<u8>,
}

/// `CK_EDDSA_PARAMS`, checked.
#[derive(Clone, Debug, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct EddsaParams {
    /// Ed25519ph (pre-hashed).
    pub prehash: bool,
    /// The context string (Ed25519ctx / Ed25519ph).
    pub context: Option<Vec<u8>>,
}

/// Where HKDF's salt comes from.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum HkdfSalt {
    /// `CKF_HKDF_SALT_NULL`.
    Null,
    /// `CKF_HKDF_SALT_DATA`.
    Data(Vec<u8>),
    /// `CKF_HKDF_SALT_KEY`: the value of this secret key.
    Key(u64),
}

/// `CK_HKDF_PARAMS`, checked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HkdfParams {
    /// Run the extract step.
    pub extract: bool,
    /// Run the expand step.
    pub expand: bool,
    /// The hash.
    #[serde(with = "crate::served::wire::hash_alg")]
    pub hash: HashAlg,
    /// The salt.
    pub salt: HkdfSalt,
    /// The info string.
    pub info: Vec<u8>,
}

/// The PRF of an SP 800-108 KDF.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Sp800Prf {
    /// HMAC with a hash.
    Hmac(#[serde(with = "crate::served::wire::hash_alg")] HashAlg),
    /// AES-CMAC.
    Cmac,
}

/// One `CK_PRF_DATA_PARAM` of an SP 800-108 KDF.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Sp800Data {
    /// The iteration counter.
    Counter {
        /// Little-endian encoding.
        little_endian: bool,
        /// Width in bits.
        bits: u32,
    },
    /// The derived key material length.
    DkmLength {
        /// `CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS` rather than `..._SUM_OF_KEYS`.
        sum_of_segments: bool,
        /// Little-endian encoding.
        little_endian: bool,
        /// Width in bits.
        bits: u32,
    },
    /// A byte string.
    Bytes(Vec<u8>),
}

/// `CK_SP800_108_KDF_PARAMS`, checked (one derived key only).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Sp800Params {
    /// The PRF.
    pub prf: Sp800Prf,
    /// The fixed input data layout.
    pub data: Vec<Sp800Data>,
}

/// `CK_PKCS5_PBKD2_PARAMS2`, checked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Pbkdf2Params {
    /// The salt.
    pub salt: Vec<u8>,
    /// The iteration count.
    pub iterations: u32,
    /// The HMAC hash.
    #[serde(with = "crate::served::wire::hash_alg")]
    pub hash: HashAlg,
    /// The password.
    pub password: Vec<u8>,
}

/// `CK_RSA_AES_KEY_WRAP_PARAMS`, checked.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RsaAesWrapParams {
    /// The ephemeral AES key length in bits (128, 192 or 256).
    pub aes_bits: usize,
    /// The OAEP parameters that wrap the AES key.
    pub oaep: OaepParams,
}

/// What a mechanism does, with its checked parameters.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Kind {
    /// A digest.
    Digest(#[serde(with = "crate::served::wire::hash_alg")] HashAlg),
    /// `CKM_AES_KEY_GEN`.
    AesKeyGen,
    /// `CKM_GENERIC_SECRET_KEY_GEN`.
    GenericSecretKeyGen,
    /// `CKM_EC_KEY_PAIR_GEN`.
    EcKeyPairGen,
    /// `CKM_EC_EDWARDS_KEY_PAIR_GEN`.
    EdwardsKeyPairGen,
    /// `CKM_EC_MONTGOMERY_KEY_PAIR_GEN`.
    MontgomeryKeyPairGen,
    /// `CKM_RSA_PKCS_KEY_PAIR_GEN`.
    RsaKeyPairGen,
    /// `CKM_RSA_PKCS`.
    RsaPkcs,
    /// `CKM_RSA_X_509`.
    RsaX509,
    /// `CKM_RSA_PKCS_OAEP`.
    RsaOaep(OaepParams),
    /// `CKM_SHA*_RSA_PKCS`.
    RsaPkcsWith(#[serde(with = "crate::served::wire::hash_alg")] HashAlg),
    /// `CKM_RSA_PKCS_PSS` over a caller's digest.
    RsaPss(PssParams),
    /// `CKM_SHA*_RSA_PKCS_PSS`.
    RsaPssWith(PssParams),
    /// `CKM_ECDSA` over a caller's digest.
    Ecdsa,
    /// `CKM_ECDSA_SHA*`.
    EcdsaWith(#[serde(with = "crate::served::wire::hash_alg")] HashAlg),
    /// `CKM_EDDSA`.
    Eddsa(EddsaParams),
    /// `CKM_ECDH1_DERIVE` / `CKM_ECDH1_COFACTOR_DERIVE`.
    Ecdh(EcdhParams),
    /// `CKM_AES_ECB`.
    AesEcb,
    /// `CKM_AES_CBC`.
    AesCbc([u8; 16]),
    /// `CKM_AES_CBC_PAD`.
    AesCbcPad([u8; 16]),
    /// `CKM_AES_CTR`.
    AesCtr {
        /// Counter width in bits.
        counter_bits: u32,
        /// The initial counter block.
        block: [u8; 16],
    },
    /// `CKM_AES_GCM`.
    AesGcm(GcmParams),
    /// `CKM_AES_CCM`.
    AesCcm(CcmParams),
    /// `CKM_AES_CTS`.
    AesCts([u8; 16]),
    /// `CKM_AES_CMAC` (16-byte tag) and `CKM_AES_CMAC_GENERAL` (shorter).
    AesCmac(usize),
    /// `CKM_AES_KEY_WRAP` (RFC 3394).
    AesKeyWrap,
    /// `CKM_AES_KEY_WRAP_KWP` (RFC 5649).
    AesKeyWrapPad,
    /// `CKM_AES_ECB_ENCRYPT_DATA`.
    AesEcbEncryptData(Vec<u8>),
    /// `CKM_AES_CBC_ENCRYPT_DATA`.
    AesCbcEncryptData {
        /// The IV.
        iv: [u8; 16],
        /// The data to encrypt.
        data: Vec<u8>,
    },
    /// `CKM_SHA*_HMAC` (full length) and `CKM_SHA*_HMAC_GENERAL` (truncated).
    Hmac(
        #[serde(with = "crate::served::wire::hash_alg")] HashAlg,
        usize,
    ),
    /// `CKM_HKDF_DERIVE`.
    HkdfDerive(HkdfParams),
    /// `CKM_HKDF_DATA`.
    HkdfData(HkdfParams),
    /// `CKM_SP800_108_COUNTER_KDF`.
    Sp800Counter(Sp800Params),
    /// `CKM_PKCS5_PBKD2`.
    Pbkdf2(Pbkdf2Params),
    /// `CKM_CONCATENATE_BASE_AND_KEY`: the other key's handle.
    ConcatBaseAndKey(u64),
    /// `CKM_CONCATENATE_BASE_AND_DATA`.
    ConcatBaseAndData(Vec<u8>),
    /// `CKM_CONCATENATE_DATA_AND_BASE`.
    ConcatDataAndBase(Vec<u8>),
    /// `CKM_XOR_BASE_AND_DATA`.
    XorBaseAndData(Vec<u8>),
    /// `CKM_EXTRACT_KEY_FROM_KEY`: the first bit to take.
    ExtractKeyFromKey(u64),
    /// `CKM_RSA_AES_KEY_WRAP`.
    RsaAesKeyWrap(RsaAesWrapParams),
}

/// A mechanism as a caller asked for it: its number and what it does.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Mechanism {
    /// The mechanism number the caller used.
    pub ty: CK_MECHANISM_TYPE,
    /// What it does.
    pub kind: Kind,
}

impl Mechanism {
    /// The mechanism's `CK_MECHANISM_TYPE`.
    pub fn ck_type(&self) -> CK_MECHANISM_TYPE {
        self.ty
    }

    /// A mechanism without parameters, by number (a convenience for tests and tools).
    pub fn simple(ty: CK_MECHANISM_TYPE) -> Result<Mechanism> {
        parse(ty, RawParam::None)
    }
}

/// The hash named by a `CKM_SHA*` value, as used in PSS/OAEP/HKDF parameters.
pub fn hash_of_mechanism(m: CK_MECHANISM_TYPE) -> Option<HashAlg> {
    Some(match m {
        CKM_SHA_1 => HashAlg::Sha1,
        CKM_SHA224 => HashAlg::Sha224,
        CKM_SHA256 => HashAlg::Sha256,
        CKM_SHA384 => HashAlg::Sha384,
        CKM_SHA512 => HashAlg::Sha512,
        CKM_SHA3_224 => HashAlg::Sha3_224,
        CKM_SHA3_256 => HashAlg::Sha3_256,
        CKM_SHA3_384 => HashAlg::Sha3_384,
        CKM_SHA3_512 => HashAlg::Sha3_512,
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
        CKG_MGF1_SHA3_224 => HashAlg::Sha3_224,
        CKG_MGF1_SHA3_256 => HashAlg::Sha3_256,
        CKG_MGF1_SHA3_384 => HashAlg::Sha3_384,
        CKG_MGF1_SHA3_512 => HashAlg::Sha3_512,
        _ => return None,
    })
}

fn hash_of_ec_kdf(k: CK_EC_KDF_TYPE) -> Option<EcKdf> {
    Some(match k {
        CKD_NULL => EcKdf::Null,
        CKD_SHA1_KDF => EcKdf::X963(HashAlg::Sha1),
        CKD_SHA224_KDF => EcKdf::X963(HashAlg::Sha224),
        CKD_SHA256_KDF => EcKdf::X963(HashAlg::Sha256),
        CKD_SHA384_KDF => EcKdf::X963(HashAlg::Sha384),
        CKD_SHA512_KDF => EcKdf::X963(HashAlg::Sha512),
        CKD_SHA3_224_KDF => EcKdf::X963(HashAlg::Sha3_224),
        CKD_SHA3_256_KDF => EcKdf::X963(HashAlg::Sha3_256),
        CKD_SHA3_384_KDF => EcKdf::X963(HashAlg::Sha3_384),
        CKD_SHA3_512_KDF => EcKdf::X963(HashAlg::Sha3_512),
        _ => return None,
    })
}

fn hash_of_pbkdf2_prf(p: u64) -> Option<HashAlg> {
    Some(match p {
        CKP_PKCS5_PBKD2_HMAC_SHA1 => HashAlg::Sha1,
        CKP_PKCS5_PBKD2_HMAC_SHA224 => HashAlg::Sha224,
        CKP_PKCS5_PBKD2_HMAC_SHA256 => HashAlg::Sha256,
        CKP_PKCS5_PBKD2_HMAC_SHA384 => HashAlg::Sha384,
        CKP_PKCS5_PBKD2_HMAC_SHA512 => HashAlg::Sha512,
        _ => return None,
    })
}

/// The parameter structure the C ABI layer must read for a mechanism.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ParamShape {
    /// No parameter (a non-NULL one is refused).
    None,
    /// A 16-byte IV.
    Iv16,
    /// An optional IV (the key wrap mechanisms accept only the default, i.e. none).
    OptionalIv,
    /// `CK_GCM_PARAMS`.
    Gcm,
    /// `CK_CCM_PARAMS`.
    Ccm,
    /// `CK_AES_CTR_PARAMS`.
    Ctr,
    /// `CK_RSA_PKCS_PSS_PARAMS`.
    Pss,
    /// `CK_RSA_PKCS_OAEP_PARAMS`.
    Oaep,
    /// `CK_ECDH1_DERIVE_PARAMS`.
    Ecdh,
    /// `CK_EDDSA_PARAMS`, optional.
    Eddsa,
    /// `CK_MAC_GENERAL_PARAMS` (a `CK_ULONG` length).
    MacLen,
    /// `CK_KEY_DERIVATION_STRING_DATA`.
    StringData,
    /// `CK_AES_CBC_ENCRYPT_DATA_PARAMS`.
    CbcEncryptData,
    /// `CK_HKDF_PARAMS`.
    Hkdf,
    /// `CK_SP800_108_KDF_PARAMS`.
    Sp800,
    /// `CK_PKCS5_PBKD2_PARAMS2`.
    Pbkdf2,
    /// A `CK_OBJECT_HANDLE`.
    KeyHandle,
    /// `CK_EXTRACT_PARAMS` (a `CK_ULONG` bit index).
    Extract,
    /// `CK_RSA_AES_KEY_WRAP_PARAMS`.
    RsaAesWrap,
}

/// The family a table row belongs to; [`parse`] combines it with the parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// A digest with this hash.
    Digest(HashAlg),
    /// AES key generation.
    AesKeyGen,
    /// Generic secret key generation.
    GenericSecretKeyGen,
    /// EC key pairs.
    EcKeyPairGen,
    /// Ed25519 key pairs.
    EdwardsKeyPairGen,
    /// X25519 key pairs.
    MontgomeryKeyPairGen,
    /// RSA key pairs.
    RsaKeyPairGen,
    /// `CKM_RSA_PKCS`.
    RsaPkcs,
    /// `CKM_RSA_X_509`.
    RsaX509,
    /// `CKM_RSA_PKCS_OAEP`.
    RsaOaep,
    /// `CKM_<hash>_RSA_PKCS`.
    RsaPkcsWith(HashAlg),
    /// `CKM_RSA_PKCS_PSS`.
    RsaPss,
    /// `CKM_<hash>_RSA_PKCS_PSS`.
    RsaPssWith(HashAlg),
    /// `CKM_ECDSA`.
    Ecdsa,
    /// `CKM_ECDSA_<hash>`.
    EcdsaWith(HashAlg),
    /// `CKM_EDDSA`.
    Eddsa,
    /// ECDH derivation.
    Ecdh,
    /// AES-ECB.
    AesEcb,
    /// AES-CBC.
    AesCbc,
    /// AES-CBC with PKCS#7 padding.
    AesCbcPad,
    /// AES-CTR.
    AesCtr,
    /// AES-GCM.
    AesGcm,
    /// AES-CCM.
    AesCcm,
    /// AES-CTS.
    AesCts,
    /// AES-CMAC, full length.
    AesCmac,
    /// AES-CMAC, caller length.
    AesCmacGeneral,
    /// AES key wrap.
    AesKeyWrap,
    /// AES key wrap with padding.
    AesKeyWrapPad,
    /// AES-ECB derivation.
    AesEcbEncryptData,
    /// AES-CBC derivation.
    AesCbcEncryptData,
    /// HMAC, full length.
    Hmac(HashAlg),
    /// HMAC, caller length.
    HmacGeneral(HashAlg),
    /// HKDF to a key.
    HkdfDerive,
    /// HKDF to a data object.
    HkdfData,
    /// SP 800-108 counter mode.
    Sp800Counter,
    /// PBKDF2.
    Pbkdf2,
    /// Concatenate base and key.
    ConcatBaseAndKey,
    /// Concatenate base and data.
    ConcatBaseAndData,
    /// Concatenate data and base.
    ConcatDataAndBase,
    /// XOR base and data.
    XorBaseAndData,
    /// Extract key from key.
    ExtractKeyFromKey,
    /// RSA-OAEP + AES-KWP.
    RsaAesKeyWrap,
}

/// A row of the mechanism table.
#[derive(Clone, Copy, Debug)]
pub struct MechInfo {
    /// The specification's name (`CKM_...`).
    pub name: &'static str,
    /// The mechanism type.
    pub ty: CK_MECHANISM_TYPE,
    /// Minimum key size, as `CK_MECHANISM_INFO` reports it (bits for RSA/EC, bytes otherwise).
    pub min_key: u64,
    /// Maximum key size.
    pub max_key: u64,
    /// `CKF_*` flags.
    pub flags: CK_FLAGS,
    /// The parameter the mechanism takes.
    pub param: ParamShape,
    /// The family.
    pub family: Family,
}

/// Most PBKDF2 iterations a `CKM_PKCS5_PBKD2` call may ask for.
pub const MAX_PBKDF2_ITERATIONS: u64 = 10_000_000;

/// The table row for a mechanism type (the legacy KWP number maps to KWP's row).
pub fn info(ty: CK_MECHANISM_TYPE) -> Option<&'static MechInfo> {
    let ty = if ty == CKM_AES_KEY_WRAP_KWP_LEGACY {
        CKM_AES_KEY_WRAP_KWP
    } else {
        ty
    };
    MECHANISMS.iter().find(|m| m.ty == ty)
}

/// Parameters as the C ABI layer read them, before checking.
#[derive(Clone, Debug)]
pub enum RawParam {
    /// No parameter given.
    None,
    /// A byte string (an IV, a `CK_KEY_DERIVATION_STRING_DATA`).
    Bytes(Vec<u8>),
    /// A single `CK_ULONG` (`CK_MAC_GENERAL_PARAMS`, `CK_EXTRACT_PARAMS`, a key handle).
    Ulong(u64),
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
    /// `CK_CCM_PARAMS` fields.
    Ccm {
        /// `ulDataLen`.
        data_len: u64,
        /// `pNonce`.
        nonce: Vec<u8>,
        /// `pAAD`.
        aad: Vec<u8>,
        /// `ulMACLen`.
        mac_len: u64,
    },
    /// `CK_AES_CTR_PARAMS` fields.
    Ctr {
        /// `ulCounterBits`.
        counter_bits: u64,
        /// `cb`.
        block: [u8; 16],
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
    /// `CK_RSA_PKCS_OAEP_PARAMS` fields.
    Oaep {
        /// `hashAlg`.
        hash: u64,
        /// `mgf`.
        mgf: u64,
        /// `source`.
        source: u64,
        /// `pSourceData`.
        label: Vec<u8>,
    },
    /// `CK_ECDH1_DERIVE_PARAMS` fields.
    Ecdh {
        /// `kdf`.
        kdf: u64,
        /// `pSharedData`.
        shared_data: Vec<u8>,
        /// `pPublicData`.
        public: Vec<u8>,
    },
    /// `CK_EDDSA_PARAMS` fields.
    Eddsa {
        /// `phFlag`.
        prehash: bool,
        /// `pContextData` (None when NULL).
        context: Option<Vec<u8>>,
    },
    /// `CK_AES_CBC_ENCRYPT_DATA_PARAMS` fields.
    CbcEncryptData {
        /// `iv`.
        iv: [u8; 16],
        /// `pData`.
        data: Vec<u8>,
    },
    /// `CK_HKDF_PARAMS` fields.
    Hkdf {
        /// `bExtract`.
        extract: bool,
        /// `bExpand`.
        expand: bool,
        /// `prfHashMechanism`.
        hash: u64,
        /// `ulSaltType`.
        salt_type: u64,
        /// `pSalt`.
        salt: Vec<u8>,
        /// `hSaltKey`.
        salt_key: u64,
        /// `pInfo`.
        info: Vec<u8>,
    },
    /// `CK_SP800_108_KDF_PARAMS` fields.
    Sp800 {
        /// `prfType`.
        prf: u64,
        /// The data parameters.
        data: Vec<RawPrfData>,
        /// `ulAdditionalDerivedKeys`.
        additional_keys: u64,
    },
    /// `CK_PKCS5_PBKD2_PARAMS2` fields.
    Pbkdf2 {
        /// `saltSource`.
        salt_source: u64,
        /// `pSaltSourceData`.
        salt: Vec<u8>,
        /// `iterations`.
        iterations: u64,
        /// `prf`.
        prf: u64,
        /// `pPrfData` length (must be 0).
        prf_data_len: u64,
        /// `pPassword`.
        password: Vec<u8>,
    },
    /// `CK_RSA_AES_KEY_WRAP_PARAMS` fields.
    RsaAesWrap {
        /// `ulAESKeyBits`.
        aes_bits: u64,
        /// The OAEP parameters (`Oaep`).
        oaep: Box<RawParam>,
    },
}

/// One `CK_PRF_DATA_PARAM`, read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RawPrfData {
    /// `CK_SP800_108_ITERATION_VARIABLE` with a `CK_SP800_108_COUNTER_FORMAT` (or none).
    Iteration(Option<(bool, u64)>),
    /// `CK_SP800_108_COUNTER` with its format.
    Counter(bool, u64),
    /// `CK_SP800_108_DKM_LENGTH` with method, endianness and width.
    DkmLength(u64, bool, u64),
    /// `CK_SP800_108_BYTE_ARRAY`.
    Bytes(Vec<u8>),
}

fn hash_param(m: u64) -> Result<HashAlg> {
    hash_of_mechanism(m).ok_or(Error::MechanismParamInvalid)
}

fn oaep(hash: u64, mgf: u64, source: u64, label: Vec<u8>) -> Result<OaepParams> {
    if source != CKZ_DATA_SPECIFIED && !(source == 0 && label.is_empty()) {
        return Err(Error::MechanismParamInvalid);
    }
    Ok(OaepParams {
        hash: hash_param(hash)?,
        mgf1: hash_of_mgf(mgf).ok_or(Error::MechanismParamInvalid)?,
        label,
    })
}

fn sp800_width(bits: u64, max: u64) -> Result<u32> {
    if bits == 0 || bits % 8 != 0 || bits > max {
        return Err(Error::MechanismParamInvalid);
    }
    u32::try_from(bits).map_err(|_| Error::MechanismParamInvalid)
}

/// Builds the typed mechanism from its type and parameters: the one place parameters are
/// checked.
pub fn parse(ty: CK_MECHANISM_TYPE, param: RawParam) -> Result<Mechanism> {
    let row = info(ty).ok_or(Error::MechanismInvalid)?;
    let bad = Error::MechanismParamInvalid;
    let kind = match (row.family, param) {
        (Family::Digest(h), RawParam::None) => Kind::Digest(h),
        (Family::AesKeyGen, RawParam::None) => Kind::AesKeyGen,
        (Family::GenericSecretKeyGen, RawParam::None) => Kind::GenericSecretKeyGen,
        (Family::EcKeyPairGen, RawParam::None) => Kind::EcKeyPairGen,
        (Family::EdwardsKeyPairGen, RawParam::None) => Kind::EdwardsKeyPairGen,
        (Family::MontgomeryKeyPairGen, RawParam::None) => Kind::MontgomeryKeyPairGen,
        (Family::RsaKeyPairGen, RawParam::None) => Kind::RsaKeyPairGen,
        (Family::RsaPkcs, RawParam::None) => Kind::RsaPkcs,
        (Family::RsaX509, RawParam::None) => Kind::RsaX509,
        (
            Family::RsaOaep,
            RawParam::Oaep {
                hash,
                mgf,
                source,
                label,
            },
        ) => Kind::RsaOaep(oaep(hash, mgf, source, label)?),
        (Family::RsaPkcsWith(h), RawParam::None) => Kind::RsaPkcsWith(h),
        (
            Family::RsaPss | Family::RsaPssWith(_),
            RawParam::Pss {
                hash,
                mgf,
                salt_len,
            },
        ) => {
            let p = PssParams {
                hash: hash_param(hash)?,
                mgf1: hash_of_mgf(mgf).ok_or(bad.clone())?,
                salt_len: usize::try_from(salt_len).map_err(|_| bad.clone())?,
            };
            match row.family {
                Family::RsaPssWith(h) if h == p.hash => Kind::RsaPssWith(p),
                Family::RsaPssWith(_) => return Err(bad),
                _ => Kind::RsaPss(p),
            }
        }
        (Family::Ecdsa, RawParam::None) => Kind::Ecdsa,
        (Family::EcdsaWith(h), RawParam::None) => Kind::EcdsaWith(h),
        (Family::Eddsa, RawParam::None) => Kind::Eddsa(EddsaParams::default()),
        (Family::Eddsa, RawParam::Eddsa { prehash, context }) => {
            if context.as_ref().is_some_and(|c| c.len() > 255) {
                return Err(bad);
            }
            Kind::Eddsa(EddsaParams { prehash, context })
        }
        (
            Family::Ecdh,
            RawParam::Ecdh {
                kdf,
                shared_data,
                public,
            },
        ) => {
            let kdf = hash_of_ec_kdf(kdf).ok_or(bad.clone())?;
            if (kdf == EcKdf::Null && !shared_data.is_empty()) || public.is_empty() {
                return Err(bad);
            }
            Kind::Ecdh(EcdhParams {
                kdf,
                shared_data,
                public,
            })
        }
        (Family::AesEcb, RawParam::None) => Kind::AesEcb,
        (Family::AesCbc | Family::AesCbcPad | Family::AesCts, RawParam::Bytes(iv)) => {
            let iv: [u8; 16] = iv.as_slice().try_into().map_err(|_| bad.clone())?;
            match row.family {
                Family::AesCbc => Kind::AesCbc(iv),
                Family::AesCbcPad => Kind::AesCbcPad(iv),
                _ => Kind::AesCts(iv),
            }
        }
        (
            Family::AesCtr,
            RawParam::Ctr {
                counter_bits,
                block,
            },
        ) => {
            if !(1..=128).contains(&counter_bits) {
                return Err(bad);
            }
            Kind::AesCtr {
                counter_bits: counter_bits as u32,
                block,
            }
        }
        (
            Family::AesGcm,
            RawParam::Gcm {
                iv,
                iv_bits,
                aad,
                tag_bits,
            },
        ) => {
            // ulIvBits is advisory in v3.0; when given it must agree with ulIvLen. Any IV
            // length is accepted, up to a bound that keeps memory use sane.
            let iv_len_ok = (1..=crate::crypto::aes::GCM_MAX_IV_LEN).contains(&iv.len());
            let bits_ok = iv_bits == 0 || iv_bits == (iv.len() as u64) * 8;
            let tag_ok = matches!(tag_bits, 32 | 64 | 96 | 104 | 112 | 120 | 128);
            if !(iv_len_ok && bits_ok && tag_ok) {
                return Err(bad);
            }
            Kind::AesGcm(GcmParams { iv, aad, tag_bits })
        }
        (
            Family::AesCcm,
            RawParam::Ccm {
                data_len,
                nonce,
                aad,
                mac_len,
            },
        ) => {
            if !(7..=13).contains(&nonce.len()) || !matches!(mac_len, 4 | 6 | 8 | 10 | 12 | 14 | 16)
            {
                return Err(bad);
            }
            // RFC 3610: the message length is coded in 15 - nonce length bytes.
            let length_bytes = 15 - nonce.len() as u32;
            if length_bytes < 8 && data_len >> (8 * length_bytes) != 0 {
                return Err(bad);
            }
            Kind::AesCcm(CcmParams {
                data_len,
                nonce,
                aad,
                mac_len: mac_len as usize,
            })
        }
        (Family::AesCmac, RawParam::None) => Kind::AesCmac(16),
        (Family::AesCmacGeneral, RawParam::Ulong(n)) => {
            if !(1..=16).contains(&n) {
                return Err(bad);
            }
            Kind::AesCmac(n as usize)
        }
        (Family::AesKeyWrap, RawParam::None) => Kind::AesKeyWrap,
        (Family::AesKeyWrapPad, RawParam::None) => Kind::AesKeyWrapPad,
        (Family::AesEcbEncryptData, RawParam::Bytes(d)) => {
            if d.is_empty() || d.len() % 16 != 0 {
                return Err(bad);
            }
            Kind::AesEcbEncryptData(d)
        }
        (Family::AesCbcEncryptData, RawParam::CbcEncryptData { iv, data }) => {
            if data.is_empty() || data.len() % 16 != 0 {
                return Err(bad);
            }
            Kind::AesCbcEncryptData { iv, data }
        }
        (Family::Hmac(h), RawParam::None) => Kind::Hmac(h, h.output_len()),
        (Family::HmacGeneral(h), RawParam::Ulong(n)) => {
            if n == 0 || n > h.output_len() as u64 {
                return Err(bad);
            }
            Kind::Hmac(h, n as usize)
        }
        (
            Family::HkdfDerive | Family::HkdfData,
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
            if !extract && !expand {
                return Err(bad);
            }
            let salt = if !extract {
                HkdfSalt::Null
            } else {
                match salt_type {
                    CKF_HKDF_SALT_NULL => HkdfSalt::Null,
                    CKF_HKDF_SALT_DATA if !salt.is_empty() => HkdfSalt::Data(salt),
                    CKF_HKDF_SALT_KEY => HkdfSalt::Key(salt_key),
                    _ => return Err(bad),
                }
            };
            let p = HkdfParams {
                extract,
                expand,
                hash: hash_param(hash)?,
                salt,
                info,
            };
            if row.family == Family::HkdfData {
                Kind::HkdfData(p)
            } else {
                Kind::HkdfDerive(p)
            }
        }
        (
            Family::Sp800Counter,
            RawParam::Sp800 {
                prf,
                data,
                additional_keys,
            },
        ) => {
            if additional_keys != 0 {
                // One derived key per call; additional keys are not offered.
                return Err(bad);
            }
            let prf = match prf {
                CKM_AES_CMAC => Sp800Prf::Cmac,
                CKM_SHA_1_HMAC => Sp800Prf::Hmac(HashAlg::Sha1),
                CKM_SHA224_HMAC => Sp800Prf::Hmac(HashAlg::Sha224),
                CKM_SHA256_HMAC => Sp800Prf::Hmac(HashAlg::Sha256),
                CKM_SHA384_HMAC => Sp800Prf::Hmac(HashAlg::Sha384),
                CKM_SHA512_HMAC => Sp800Prf::Hmac(HashAlg::Sha512),
                CKM_SHA3_224_HMAC => Sp800Prf::Hmac(HashAlg::Sha3_224),
                CKM_SHA3_256_HMAC => Sp800Prf::Hmac(HashAlg::Sha3_256),
                CKM_SHA3_384_HMAC => Sp800Prf::Hmac(HashAlg::Sha3_384),
                CKM_SHA3_512_HMAC => Sp800Prf::Hmac(HashAlg::Sha3_512),
                _ => return Err(bad),
            };
            let mut out = Vec::new();
            let mut counters = 0;
            for d in data {
                out.push(match d {
                    RawPrfData::Iteration(Some((le, bits))) => {
                        counters += 1;
                        Sp800Data::Counter {
                            little_endian: le,
                            bits: sp800_width(bits, 32)?,
                        }
                    }
                    RawPrfData::Iteration(None) | RawPrfData::Counter(..) => return Err(bad),
                    RawPrfData::DkmLength(method, le, bits) => Sp800Data::DkmLength {
                        sum_of_segments: match method {
                            CK_SP800_108_DKM_LENGTH_SUM_OF_KEYS => false,
                            CK_SP800_108_DKM_LENGTH_SUM_OF_SEGMENTS => true,
                            _ => return Err(bad),
                        },
                        little_endian: le,
                        bits: sp800_width(bits, 64)?,
                    },
                    RawPrfData::Bytes(b) => Sp800Data::Bytes(b),
                });
            }
            if counters != 1 {
                return Err(bad);
            }
            Kind::Sp800Counter(Sp800Params { prf, data: out })
        }
        (
            Family::Pbkdf2,
            RawParam::Pbkdf2 {
                salt_source,
                salt,
                iterations,
                prf,
                prf_data_len,
                password,
            },
        ) => {
            // At most ten million iterations (tens of seconds of one core): a caller cannot make
            // one call hold a core for hours.
            if salt_source != CKZ_SALT_SPECIFIED
                || prf_data_len != 0
                || iterations == 0
                || iterations > MAX_PBKDF2_ITERATIONS
            {
                return Err(bad);
            }
            Kind::Pbkdf2(Pbkdf2Params {
                salt,
                iterations: u32::try_from(iterations).map_err(|_| bad.clone())?,
                hash: hash_of_pbkdf2_prf(prf).ok_or(bad.clone())?,
                password,
            })
        }
        (Family::ConcatBaseAndKey, RawParam::Ulong(h)) => Kind::ConcatBaseAndKey(h),
        (Family::ConcatBaseAndData, RawParam::Bytes(d)) => Kind::ConcatBaseAndData(d),
        (Family::ConcatDataAndBase, RawParam::Bytes(d)) => Kind::ConcatDataAndBase(d),
        (Family::XorBaseAndData, RawParam::Bytes(d)) => Kind::XorBaseAndData(d),
        (Family::ExtractKeyFromKey, RawParam::Ulong(bit)) => Kind::ExtractKeyFromKey(bit),
        (Family::RsaAesKeyWrap, RawParam::RsaAesWrap { aes_bits, oaep: o }) => {
            let RawParam::Oaep {
                hash,
                mgf,
                source,
                label,
            } = *o
            else {
                return Err(bad);
            };
            if !matches!(aes_bits, 128 | 192 | 256) {
                return Err(bad);
            }
            Kind::RsaAesKeyWrap(RsaAesWrapParams {
                aes_bits: aes_bits as usize,
                oaep: oaep(hash, mgf, source, label)?,
            })
        }
        _ => return Err(bad),
    };
    Ok(Mechanism { ty, kind })
}

#[cfg(test)]
mod tests;

impl MechInfo {
    /// Whether key sizes are counted in bits (RSA and elliptic curves) rather than bytes.
    pub fn sizes_in_bits(&self) -> bool {
        matches!(
            self.family,
            Family::RsaKeyPairGen
                | Family::RsaPkcs
                | Family::RsaX509
                | Family::RsaOaep
                | Family::RsaPkcsWith(_)
                | Family::RsaPss
                | Family::RsaPssWith(_)
                | Family::RsaAesKeyWrap
                | Family::EcKeyPairGen
                | Family::Ecdsa
                | Family::EcdsaWith(_)
                | Family::Ecdh
                | Family::Eddsa
                | Family::EdwardsKeyPairGen
                | Family::MontgomeryKeyPairGen
        )
    }
}

/// The README's mechanism table, rendered from [`MECHANISMS`] (a test keeps the README in
/// step with it; `custos mechanisms` prints it).
pub fn markdown_table() -> String {
    let mut out =
        String::from("| Mechanism | Number | Functions | Key sizes |\n|---|---|---|---|\n");
    for m in MECHANISMS {
        let mut f = Vec::new();
        for (flag, word) in [
            (CKF_DIGEST, "digest"),
            (CKF_GENERATE, "generate"),
            (CKF_GENERATE_KEY_PAIR, "generate key pair"),
            (CKF_ENCRYPT, "encrypt"),
            (CKF_DECRYPT, "decrypt"),
            (CKF_SIGN, "sign"),
            (CKF_VERIFY, "verify"),
            (CKF_WRAP, "wrap"),
            (CKF_UNWRAP, "unwrap"),
            (CKF_DERIVE, "derive"),
        ] {
            if m.flags & flag != 0 {
                f.push(word);
            }
        }
        let sizes = if m.max_key == 0 {
            String::new()
        } else {
            let unit = if m.sizes_in_bits() { "bits" } else { "bytes" };
            format!("{}-{} {unit}", m.min_key, m.max_key)
        };
        out.push_str(&format!(
            "| `{}` | `{:#x}` | {} | {} |\n",
            m.name,
            m.ty,
            f.join(", "),
            sizes
        ));
    }
    out
}
