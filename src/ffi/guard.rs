//! The boundary: every entry point runs inside [`guard`], which turns engine errors into
//! `CK_RV` through the one mapping [`rv_of`] and stops panics from crossing into C.

use std::panic::{catch_unwind, AssertUnwindSafe};

use cryptoki_sys::*;

use crate::engine::Error;

/// The result type of an entry point's body: a `CK_RV` error is returned as is.
pub type FfiResult = Result<CK_RV, CK_RV>;

/// Maps an engine error to its return value. Exhaustive on purpose: a new variant must be
/// mapped here before the crate builds.
pub fn rv_of(e: &Error) -> CK_RV {
    match e {
        Error::ArgumentsBad => CKR_ARGUMENTS_BAD,
        Error::AttributeReadOnly => CKR_ATTRIBUTE_READ_ONLY,
        Error::AttributeSensitive => CKR_ATTRIBUTE_SENSITIVE,
        Error::AttributeTypeInvalid => CKR_ATTRIBUTE_TYPE_INVALID,
        Error::AttributeValueInvalid => CKR_ATTRIBUTE_VALUE_INVALID,
        Error::ActionProhibited => CKR_ACTION_PROHIBITED,
        Error::CurveNotSupported => CKR_CURVE_NOT_SUPPORTED,
        Error::DataInvalid => CKR_DATA_INVALID,
        Error::DataLenRange => CKR_DATA_LEN_RANGE,
        Error::DeviceError(_) => CKR_DEVICE_ERROR,
        Error::EncryptedDataInvalid => CKR_ENCRYPTED_DATA_INVALID,
        Error::EncryptedDataLenRange => CKR_ENCRYPTED_DATA_LEN_RANGE,
        Error::FunctionNotSupported => CKR_FUNCTION_NOT_SUPPORTED,
        Error::General(_) => CKR_GENERAL_ERROR,
        Error::KeyFunctionNotPermitted => CKR_KEY_FUNCTION_NOT_PERMITTED,
        Error::KeyIndigestible => CKR_KEY_INDIGESTIBLE,
        Error::KeyNotWrappable => CKR_KEY_NOT_WRAPPABLE,
        Error::KeyUnextractable => CKR_KEY_UNEXTRACTABLE,
        Error::WrappedKeyInvalid => CKR_WRAPPED_KEY_INVALID,
        Error::WrappedKeyLenRange => CKR_WRAPPED_KEY_LEN_RANGE,
        Error::WrappingKeyHandleInvalid => CKR_WRAPPING_KEY_HANDLE_INVALID,
        Error::WrappingKeyTypeInconsistent => CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
        Error::UnwrappingKeyHandleInvalid => CKR_UNWRAPPING_KEY_HANDLE_INVALID,
        Error::UnwrappingKeyTypeInconsistent => CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
        Error::KeyHandleInvalid => CKR_KEY_HANDLE_INVALID,
        Error::KeySizeRange => CKR_KEY_SIZE_RANGE,
        Error::KeyTypeInconsistent => CKR_KEY_TYPE_INCONSISTENT,
        Error::MechanismInvalid => CKR_MECHANISM_INVALID,
        Error::MechanismParamInvalid => CKR_MECHANISM_PARAM_INVALID,
        Error::ObjectHandleInvalid => CKR_OBJECT_HANDLE_INVALID,
        Error::OperationActive => CKR_OPERATION_ACTIVE,
        Error::OperationNotInitialized => CKR_OPERATION_NOT_INITIALIZED,
        Error::PinIncorrect => CKR_PIN_INCORRECT,
        Error::PinInvalid => CKR_PIN_INVALID,
        Error::PinLenRange => CKR_PIN_LEN_RANGE,
        Error::PinLocked => CKR_PIN_LOCKED,
        Error::SessionExists => CKR_SESSION_EXISTS,
        Error::SessionHandleInvalid => CKR_SESSION_HANDLE_INVALID,
        Error::SessionParallelNotSupported => CKR_SESSION_PARALLEL_NOT_SUPPORTED,
        Error::SessionReadOnly => CKR_SESSION_READ_ONLY,
        Error::SessionReadOnlyExists => CKR_SESSION_READ_ONLY_EXISTS,
        Error::SessionReadWriteSoExists => CKR_SESSION_READ_WRITE_SO_EXISTS,
        Error::SignatureInvalid => CKR_SIGNATURE_INVALID,
        Error::SignatureLenRange => CKR_SIGNATURE_LEN_RANGE,
        Error::SlotIdInvalid => CKR_SLOT_ID_INVALID,
        Error::TemplateIncomplete => CKR_TEMPLATE_INCOMPLETE,
        Error::TemplateInconsistent => CKR_TEMPLATE_INCONSISTENT,
        Error::TokenNotPresent => CKR_TOKEN_NOT_PRESENT,
        Error::TokenNotRecognized => CKR_TOKEN_NOT_RECOGNIZED,
        Error::UserAlreadyLoggedIn => CKR_USER_ALREADY_LOGGED_IN,
        Error::UserAnotherAlreadyLoggedIn => CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
        Error::UserNotLoggedIn => CKR_USER_NOT_LOGGED_IN,
        Error::UserPinNotInitialized => CKR_USER_PIN_NOT_INITIALIZED,
        Error::UserTypeInvalid => CKR_USER_TYPE_INVALID,
    }
}

impl From<Error> for CK_RV {
    fn from(e: Error) -> CK_RV {
        rv_of(&e)
    }
}

/// Runs an entry point's body: `Ok(rv)` and `Err(rv)` both become `rv`; a panic becomes
/// `CKR_GENERAL_ERROR` instead of unwinding into the caller.
pub fn guard(f: impl FnOnce() -> FfiResult) -> CK_RV {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(rv)) | Ok(Err(rv)) => rv,
        Err(_) => CKR_GENERAL_ERROR,
    }
}

/// Converts an engine result into an entry point result.
pub fn eng<T>(r: crate::engine::Result<T>) -> Result<T, CK_RV> {
    r.map_err(|e| {
        if matches!(e, Error::DeviceError(_) | Error::General(_)) && super::debug_enabled() {
            eprintln!("custos: {e}");
        }
        rv_of(&e)
    })
}
