//! The error type shared by all cryptographic operations.

use std::fmt;

/// Why a cryptographic operation failed.
///
/// Each variant corresponds to one PKCS#11 return code, so the engine can map
/// them one to one. Errors about secret data (keys, plaintexts, padding) never
/// carry any detail about the data itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CryptoError {
    /// The key material is malformed or inconsistent (`CKR_KEY_INVALID`
    /// or, for unusable public exponents, `CKR_TEMPLATE_INCONSISTENT`).
    KeyInvalid,
    /// The input data is not acceptable for the operation (`CKR_DATA_INVALID`).
    DataInvalid,
    /// The input data has a length the operation cannot take (`CKR_DATA_LEN_RANGE`).
    DataLenRange,
    /// Decryption failed: bad padding or failed authentication
    /// (`CKR_ENCRYPTED_DATA_INVALID`).
    EncryptedDataInvalid,
    /// The ciphertext has a length the operation cannot take
    /// (`CKR_ENCRYPTED_DATA_LEN_RANGE`).
    EncryptedDataLenRange,
    /// The signature did not verify (`CKR_SIGNATURE_INVALID`).
    SignatureInvalid,
    /// The signature has the wrong length (`CKR_SIGNATURE_LEN_RANGE`).
    SignatureLenRange,
    /// A mechanism parameter (IV length, tag length, salt length, ...) is not
    /// acceptable (`CKR_MECHANISM_PARAM_INVALID`).
    MechanismParamInvalid,
    /// The key size is outside the supported range (`CKR_KEY_SIZE_RANGE`).
    KeySizeRange,
    /// An internal failure of the underlying library (`CKR_GENERAL_ERROR` or
    /// `CKR_DEVICE_MEMORY`). The text names the failing step, never data.
    General(&'static str),
}

impl fmt::Display for CryptoError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CryptoError::KeyInvalid => f.write_str("key material is invalid"),
            CryptoError::DataInvalid => f.write_str("input data is invalid"),
            CryptoError::DataLenRange => f.write_str("input data length is out of range"),
            CryptoError::EncryptedDataInvalid => f.write_str("encrypted data is invalid"),
            CryptoError::EncryptedDataLenRange => {
                f.write_str("encrypted data length is out of range")
            }
            CryptoError::SignatureInvalid => f.write_str("signature is invalid"),
            CryptoError::SignatureLenRange => f.write_str("signature length is out of range"),
            CryptoError::MechanismParamInvalid => f.write_str("mechanism parameter is invalid"),
            CryptoError::KeySizeRange => f.write_str("key size is out of range"),
            CryptoError::General(what) => write!(f, "cryptographic library failure: {what}"),
        }
    }
}

impl std::error::Error for CryptoError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_has_no_empty_messages() {
        let all = [
            CryptoError::KeyInvalid,
            CryptoError::DataInvalid,
            CryptoError::DataLenRange,
            CryptoError::EncryptedDataInvalid,
            CryptoError::EncryptedDataLenRange,
            CryptoError::SignatureInvalid,
            CryptoError::SignatureLenRange,
            CryptoError::MechanismParamInvalid,
            CryptoError::KeySizeRange,
            CryptoError::General("step"),
        ];
        for e in all {
            assert!(!e.to_string().is_empty());
        }
        assert_eq!(
            CryptoError::General("step").to_string(),
            "cryptographic library failure: step"
        );
    }
}
