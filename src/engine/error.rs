//! The engine's one error type. Variants are named after the PKCS#11 return values they become;
//! the only mapping to `CK_RV` is `ffi::guard::rv_of`.

use std::fmt;

use crate::crypto::CryptoError;
use crate::store::StoreError;

/// Everything an engine call can fail with.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Error {
    /// `CKR_ARGUMENTS_BAD`.
    ArgumentsBad,
    /// `CKR_ATTRIBUTE_READ_ONLY`.
    AttributeReadOnly,
    /// `CKR_ATTRIBUTE_SENSITIVE`.
    AttributeSensitive,
    /// `CKR_ATTRIBUTE_TYPE_INVALID`.
    AttributeTypeInvalid,
    /// `CKR_ATTRIBUTE_VALUE_INVALID`.
    AttributeValueInvalid,
    /// `CKR_ACTION_PROHIBITED`.
    ActionProhibited,
    /// `CKR_CURVE_NOT_SUPPORTED`.
    CurveNotSupported,
    /// `CKR_DATA_INVALID`.
    DataInvalid,
    /// `CKR_DATA_LEN_RANGE`.
    DataLenRange,
    /// `CKR_DEVICE_ERROR`, with a reason for the operator.
    DeviceError(String),
    /// `CKR_ENCRYPTED_DATA_INVALID`.
    EncryptedDataInvalid,
    /// `CKR_ENCRYPTED_DATA_LEN_RANGE`.
    EncryptedDataLenRange,
    /// `CKR_FUNCTION_NOT_SUPPORTED`.
    FunctionNotSupported,
    /// `CKR_GENERAL_ERROR`, with a reason for the operator.
    General(String),
    /// `CKR_KEY_INDIGESTIBLE`.
    KeyIndigestible,
    /// `CKR_KEY_NOT_WRAPPABLE`.
    KeyNotWrappable,
    /// `CKR_KEY_UNEXTRACTABLE`.
    KeyUnextractable,
    /// `CKR_WRAPPED_KEY_INVALID`.
    WrappedKeyInvalid,
    /// `CKR_WRAPPED_KEY_LEN_RANGE`.
    WrappedKeyLenRange,
    /// `CKR_WRAPPING_KEY_HANDLE_INVALID`.
    WrappingKeyHandleInvalid,
    /// `CKR_WRAPPING_KEY_TYPE_INCONSISTENT`.
    WrappingKeyTypeInconsistent,
    /// `CKR_UNWRAPPING_KEY_HANDLE_INVALID`.
    UnwrappingKeyHandleInvalid,
    /// `CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT`.
    UnwrappingKeyTypeInconsistent,
    /// `CKR_KEY_FUNCTION_NOT_PERMITTED`.
    KeyFunctionNotPermitted,
    /// `CKR_KEY_HANDLE_INVALID`.
    KeyHandleInvalid,
    /// `CKR_KEY_SIZE_RANGE`.
    KeySizeRange,
    /// `CKR_KEY_TYPE_INCONSISTENT`.
    KeyTypeInconsistent,
    /// `CKR_MECHANISM_INVALID`.
    MechanismInvalid,
    /// `CKR_MECHANISM_PARAM_INVALID`.
    MechanismParamInvalid,
    /// `CKR_OBJECT_HANDLE_INVALID`.
    ObjectHandleInvalid,
    /// `CKR_OPERATION_ACTIVE`.
    OperationActive,
    /// `CKR_OPERATION_NOT_INITIALIZED`.
    OperationNotInitialized,
    /// `CKR_PIN_INCORRECT`.
    PinIncorrect,
    /// `CKR_PIN_INVALID`.
    PinInvalid,
    /// `CKR_PIN_LEN_RANGE`.
    PinLenRange,
    /// `CKR_PIN_LOCKED`.
    PinLocked,
    /// `CKR_SESSION_EXISTS`.
    SessionExists,
    /// `CKR_SESSION_HANDLE_INVALID`.
    SessionHandleInvalid,
    /// `CKR_SESSION_PARALLEL_NOT_SUPPORTED`.
    SessionParallelNotSupported,
    /// `CKR_SESSION_READ_ONLY`.
    SessionReadOnly,
    /// `CKR_SESSION_READ_ONLY_EXISTS`.
    SessionReadOnlyExists,
    /// `CKR_SESSION_READ_WRITE_SO_EXISTS`.
    SessionReadWriteSoExists,
    /// `CKR_SIGNATURE_INVALID`.
    SignatureInvalid,
    /// `CKR_SIGNATURE_LEN_RANGE`.
    SignatureLenRange,
    /// `CKR_SLOT_ID_INVALID`.
    SlotIdInvalid,
    /// `CKR_TEMPLATE_INCOMPLETE`.
    TemplateIncomplete,
    /// `CKR_TEMPLATE_INCONSISTENT`.
    TemplateInconsistent,
    /// `CKR_TOKEN_NOT_PRESENT` (the store is sealed).
    TokenNotPresent,
    /// `CKR_TOKEN_NOT_RECOGNIZED`.
    TokenNotRecognized,
    /// `CKR_USER_ALREADY_LOGGED_IN`.
    UserAlreadyLoggedIn,
    /// `CKR_USER_ANOTHER_ALREADY_LOGGED_IN`.
    UserAnotherAlreadyLoggedIn,
    /// `CKR_USER_NOT_LOGGED_IN`.
    UserNotLoggedIn,
    /// `CKR_USER_PIN_NOT_INITIALIZED`.
    UserPinNotInitialized,
    /// `CKR_USER_TYPE_INVALID`.
    UserTypeInvalid,
}

/// Engine results.
pub type Result<T> = std::result::Result<T, Error>;

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::DeviceError(s) => write!(f, "device error: {s}"),
            Error::General(s) => write!(f, "general error: {s}"),
            Error::TokenNotPresent => write!(f, "the store is sealed: no token is present"),
            other => write!(f, "{other:?}"),
        }
    }
}

impl std::error::Error for Error {}

impl From<CryptoError> for Error {
    fn from(e: CryptoError) -> Self {
        match e {
            CryptoError::KeyInvalid => Error::KeyTypeInconsistent,
            CryptoError::DataInvalid => Error::DataInvalid,
            CryptoError::DataLenRange => Error::DataLenRange,
            CryptoError::EncryptedDataInvalid => Error::EncryptedDataInvalid,
            CryptoError::EncryptedDataLenRange => Error::EncryptedDataLenRange,
            CryptoError::SignatureInvalid => Error::SignatureInvalid,
            CryptoError::SignatureLenRange => Error::SignatureLenRange,
            CryptoError::MechanismParamInvalid => Error::MechanismParamInvalid,
            CryptoError::KeySizeRange => Error::KeySizeRange,
            CryptoError::General(s) => Error::General(s.to_string()),
        }
    }
}

impl From<StoreError> for Error {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Sealed => Error::TokenNotPresent,
            other => Error::DeviceError(other.to_string()),
        }
    }
}
