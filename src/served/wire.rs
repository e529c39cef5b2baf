//! Wire forms of the few engine values whose types cannot derive their own serde encoding: a
//! hash algorithm travels as a one-byte code, a mechanism table row as its mechanism number.

use cryptoki_sys::CK_MECHANISM_TYPE;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::mechanism::{self, MechInfo};

/// Serde encoding of [`crate::crypto::HashAlg`] as a one-byte code, for `#[serde(with)]`.
pub mod hash_alg {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::crypto::HashAlg;

    /// The code of each hash algorithm; a new algorithm must be given a new code here.
    fn code(h: HashAlg) -> u8 {
        match h {
            HashAlg::Sha1 => 1,
            HashAlg::Sha224 => 2,
            HashAlg::Sha256 => 3,
            HashAlg::Sha384 => 4,
            HashAlg::Sha512 => 5,
            HashAlg::Sha3_224 => 6,
            HashAlg::Sha3_256 => 7,
            HashAlg::Sha3_384 => 8,
            HashAlg::Sha3_512 => 9,
        }
    }

    /// The hash algorithm of a code, if the code names one.
    fn from_code(c: u8) -> Option<HashAlg> {
        Some(match c {
            1 => HashAlg::Sha1,
            2 => HashAlg::Sha224,
            3 => HashAlg::Sha256,
            4 => HashAlg::Sha384,
            5 => HashAlg::Sha512,
            6 => HashAlg::Sha3_224,
            7 => HashAlg::Sha3_256,
            8 => HashAlg::Sha3_384,
            9 => HashAlg::Sha3_512,
            _ => return None,
        })
    }

    /// Writes the algorithm's code.
    pub fn serialize<S: Serializer>(h: &HashAlg, s: S) -> Result<S::Ok, S::Error> {
        code(*h).serialize(s)
    }

    /// Reads a code; an unknown code is an error.
    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<HashAlg, D::Error> {
        let c = u8::deserialize(d)?;
        from_code(c).ok_or_else(|| serde::de::Error::custom(format!("unknown hash code {c}")))
    }
}

/// A mechanism table row crosses the wire as its mechanism number; the receiver looks the row
/// up in its own copy of [`mechanism::MECHANISMS`], and an unknown number is an error.
impl Serialize for MechInfo {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.ty.serialize(s)
    }
}

impl<'de> Deserialize<'de> for MechInfo {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<MechInfo, D::Error> {
        let ty = CK_MECHANISM_TYPE::deserialize(d)?;
        mechanism::info(ty)
            .copied()
            .ok_or_else(|| serde::de::Error::custom(format!("unknown mechanism {ty:#x}")))
    }
}
