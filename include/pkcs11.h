/*
 * pkcs11.h - PKCS#11 (Cryptoki) interface for C and C++ applications using Custos.
 *
 * This header is self-contained: it describes the data types, constants and functions of
 * PKCS#11 version 3.0 (including every function of version 2.40) as laid out on Linux x86_64
 * and other LP64 Unix systems, where CK_ULONG is `unsigned long` (64 bits) and structures use
 * the compiler's natural alignment. No packing pragmas are used.
 *
 * Applications normally load the module at run time, for example:
 *
 *     void *lib = dlopen(CUSTOS_MODULE_NAME, RTLD_NOW);          (see custos.h)
 *     CK_C_GetInterface get = (CK_C_GetInterface)dlsym(lib, "C_GetInterface");
 *     CK_INTERFACE_PTR iface;
 *     get(NULL_PTR, NULL_PTR, &iface, 0);                         the 3.0 table
 *     CK_FUNCTION_LIST_3_0_PTR f = (CK_FUNCTION_LIST_3_0_PTR)iface->pFunctionList;
 *     f->C_Initialize(NULL_PTR);
 *
 * or link against libcustos_pkcs11.so and call the C_* functions declared at the end directly.
 */
#ifndef CUSTOS_PKCS11_H
#define CUSTOS_PKCS11_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------- */
/* Scalar types                                                                              */
/* ---------------------------------------------------------------------------------------- */

typedef unsigned char CK_BYTE;     /* an unsigned 8-bit value */
typedef CK_BYTE CK_CHAR;           /* a character of the printable subset */
typedef CK_BYTE CK_UTF8CHAR;       /* one byte of a UTF-8 string */
typedef CK_BYTE CK_BBOOL;          /* a Boolean: CK_FALSE or CK_TRUE */
typedef unsigned long CK_ULONG;    /* 64 bits on LP64 systems */
typedef long CK_LONG;              /* signed, the width of CK_ULONG */
typedef CK_ULONG CK_FLAGS;         /* a set of CKF_* bits */

#define CK_FALSE 0
#define CK_TRUE 1

#ifndef NULL_PTR
#define NULL_PTR NULL
#endif

#define CK_PTR *

typedef CK_BYTE *CK_BYTE_PTR;
typedef CK_CHAR *CK_CHAR_PTR;
typedef CK_UTF8CHAR *CK_UTF8CHAR_PTR;
typedef CK_BBOOL *CK_BBOOL_PTR;
typedef CK_ULONG *CK_ULONG_PTR;
typedef CK_FLAGS *CK_FLAGS_PTR;
typedef void *CK_VOID_PTR;
typedef CK_VOID_PTR *CK_VOID_PTR_PTR;

/* Identifiers, handles and enumerations: all CK_ULONG wide. */
typedef CK_ULONG CK_SLOT_ID;
typedef CK_ULONG CK_SESSION_HANDLE;
typedef CK_ULONG CK_OBJECT_HANDLE;
typedef CK_ULONG CK_RV;
typedef CK_ULONG CK_NOTIFICATION;
typedef CK_ULONG CK_USER_TYPE;
typedef CK_ULONG CK_STATE;
typedef CK_ULONG CK_OBJECT_CLASS;
typedef CK_ULONG CK_KEY_TYPE;
typedef CK_ULONG CK_CERTIFICATE_TYPE;
typedef CK_ULONG CK_CERTIFICATE_CATEGORY;
typedef CK_ULONG CK_HW_FEATURE_TYPE;
typedef CK_ULONG CK_PROFILE_ID;
typedef CK_ULONG CK_ATTRIBUTE_TYPE;
typedef CK_ULONG CK_MECHANISM_TYPE;
typedef CK_ULONG CK_RSA_PKCS_MGF_TYPE;
typedef CK_ULONG CK_RSA_PKCS_OAEP_SOURCE_TYPE;
typedef CK_ULONG CK_EC_KDF_TYPE;
typedef CK_ULONG CK_GENERATOR_FUNCTION;
typedef CK_ULONG CK_MAC_GENERAL_PARAMS;
typedef CK_ULONG CK_EXTRACT_PARAMS;

typedef CK_SLOT_ID *CK_SLOT_ID_PTR;
typedef CK_SESSION_HANDLE *CK_SESSION_HANDLE_PTR;
typedef CK_OBJECT_HANDLE *CK_OBJECT_HANDLE_PTR;
typedef CK_RV *CK_RV_PTR;
typedef CK_USER_TYPE *CK_USER_TYPE_PTR;
typedef CK_STATE *CK_STATE_PTR;
typedef CK_OBJECT_CLASS *CK_OBJECT_CLASS_PTR;
typedef CK_KEY_TYPE *CK_KEY_TYPE_PTR;
typedef CK_CERTIFICATE_TYPE *CK_CERTIFICATE_TYPE_PTR;
typedef CK_ATTRIBUTE_TYPE *CK_ATTRIBUTE_TYPE_PTR;
typedef CK_MECHANISM_TYPE *CK_MECHANISM_TYPE_PTR;
typedef CK_RSA_PKCS_MGF_TYPE *CK_RSA_PKCS_MGF_TYPE_PTR;
typedef CK_EC_KDF_TYPE *CK_EC_KDF_TYPE_PTR;
typedef CK_GENERATOR_FUNCTION *CK_GENERATOR_FUNCTION_PTR;
typedef CK_MAC_GENERAL_PARAMS *CK_MAC_GENERAL_PARAMS_PTR;
typedef CK_EXTRACT_PARAMS *CK_EXTRACT_PARAMS_PTR;

/* Special CK_ULONG values. */
#define CK_UNAVAILABLE_INFORMATION (~0UL) /* a token cannot report this number */
#define CK_EFFECTIVELY_INFINITE 0UL       /* no practical limit (session counts) */
#define CK_INVALID_HANDLE 0UL             /* never a valid session or object handle */

/* ---------------------------------------------------------------------------------------- */
/* General information structures                                                            */
/* ---------------------------------------------------------------------------------------- */

/* A version: major.minor, minor in hundredths (2.40 is {2, 40}). */
typedef struct CK_VERSION {
    CK_BYTE major;
    CK_BYTE minor;
} CK_VERSION;
typedef CK_VERSION *CK_VERSION_PTR;

/* C_GetInfo. Text fields are blank padded, not NUL terminated. */
typedef struct CK_INFO {
    CK_VERSION cryptokiVersion;
    CK_UTF8CHAR manufacturerID[32];
    CK_FLAGS flags; /* reserved, zero */
    CK_UTF8CHAR libraryDescription[32];
    CK_VERSION libraryVersion;
} CK_INFO;
typedef CK_INFO *CK_INFO_PTR;

/* C_GetSlotInfo. */
typedef struct CK_SLOT_INFO {
    CK_UTF8CHAR slotDescription[64];
    CK_UTF8CHAR manufacturerID[32];
    CK_FLAGS flags; /* CKF_TOKEN_PRESENT, CKF_REMOVABLE_DEVICE, CKF_HW_SLOT */
    CK_VERSION hardwareVersion;
    CK_VERSION firmwareVersion;
} CK_SLOT_INFO;
typedef CK_SLOT_INFO *CK_SLOT_INFO_PTR;

/* C_GetTokenInfo. Counts the token cannot report are CK_UNAVAILABLE_INFORMATION. */
typedef struct CK_TOKEN_INFO {
    CK_UTF8CHAR label[32];
    CK_UTF8CHAR manufacturerID[32];
    CK_UTF8CHAR model[16];
    CK_CHAR serialNumber[16];
    CK_FLAGS flags; /* token flags, CKF_RNG ... CKF_ERROR_STATE */
    CK_ULONG ulMaxSessionCount;
    CK_ULONG ulSessionCount;
    CK_ULONG ulMaxRwSessionCount;
    CK_ULONG ulRwSessionCount;
    CK_ULONG ulMaxPinLen;
    CK_ULONG ulMinPinLen;
    CK_ULONG ulTotalPublicMemory;
    CK_ULONG ulFreePublicMemory;
    CK_ULONG ulTotalPrivateMemory;
    CK_ULONG ulFreePrivateMemory;
    CK_VERSION hardwareVersion;
    CK_VERSION firmwareVersion;
    CK_CHAR utcTime[16]; /* YYYYMMDDhhmmss00 when CKF_CLOCK_ON_TOKEN is set */
} CK_TOKEN_INFO;
typedef CK_TOKEN_INFO *CK_TOKEN_INFO_PTR;

/* C_GetSessionInfo. */
typedef struct CK_SESSION_INFO {
    CK_SLOT_ID slotID;
    CK_STATE state; /* CKS_* */
    CK_FLAGS flags; /* CKF_RW_SESSION, CKF_SERIAL_SESSION */
    CK_ULONG ulDeviceError;
} CK_SESSION_INFO;
typedef CK_SESSION_INFO *CK_SESSION_INFO_PTR;

/* One attribute of a template. ulValueLen is in bytes. */
typedef struct CK_ATTRIBUTE {
    CK_ATTRIBUTE_TYPE type;
    CK_VOID_PTR pValue;
    CK_ULONG ulValueLen;
} CK_ATTRIBUTE;
typedef CK_ATTRIBUTE *CK_ATTRIBUTE_PTR;

/* A date attribute value, as ASCII digits. */
typedef struct CK_DATE {
    CK_CHAR year[4];  /* "1900" ... "9999" */
    CK_CHAR month[2]; /* "01" ... "12" */
    CK_CHAR day[2];   /* "01" ... "31" */
} CK_DATE;

/* A mechanism and its parameter block. */
typedef struct CK_MECHANISM {
    CK_MECHANISM_TYPE mechanism;
    CK_VOID_PTR pParameter;
    CK_ULONG ulParameterLen; /* in bytes */
} CK_MECHANISM;
typedef CK_MECHANISM *CK_MECHANISM_PTR;

/* C_GetMechanismInfo. Key sizes are in bits or bytes depending on the mechanism. */
typedef struct CK_MECHANISM_INFO {
    CK_ULONG ulMinKeySize;
    CK_ULONG ulMaxKeySize;
    CK_FLAGS flags; /* mechanism flags, CKF_HW ... CKF_EXTENSION */
} CK_MECHANISM_INFO;
typedef CK_MECHANISM_INFO *CK_MECHANISM_INFO_PTR;

/* ---------------------------------------------------------------------------------------- */
/* Callbacks and C_Initialize arguments                                                      */
/* ---------------------------------------------------------------------------------------- */

/* Session notification callback given to C_OpenSession. */
typedef CK_RV (*CK_NOTIFY)(CK_SESSION_HANDLE hSession, CK_NOTIFICATION event,
                           CK_VOID_PTR pApplication);

/* Application-supplied mutex operations. */
typedef CK_RV (*CK_CREATEMUTEX)(CK_VOID_PTR_PTR ppMutex);
typedef CK_RV (*CK_DESTROYMUTEX)(CK_VOID_PTR pMutex);
typedef CK_RV (*CK_LOCKMUTEX)(CK_VOID_PTR pMutex);
typedef CK_RV (*CK_UNLOCKMUTEX)(CK_VOID_PTR pMutex);

/* The optional argument of C_Initialize. The four callbacks are given all together or not
 * at all; flags holds CKF_LIBRARY_CANT_CREATE_OS_THREADS and CKF_OS_LOCKING_OK. */
typedef struct CK_C_INITIALIZE_ARGS {
    CK_CREATEMUTEX CreateMutex;
    CK_DESTROYMUTEX DestroyMutex;
    CK_LOCKMUTEX LockMutex;
    CK_UNLOCKMUTEX UnlockMutex;
    CK_FLAGS flags;
    CK_VOID_PTR pReserved; /* NULL_PTR */
} CK_C_INITIALIZE_ARGS;
typedef CK_C_INITIALIZE_ARGS *CK_C_INITIALIZE_ARGS_PTR;

/* An interface returned by C_GetInterfaceList / C_GetInterface (version 3.0). pFunctionList
 * points to a function table that starts with its CK_VERSION: a CK_FUNCTION_LIST for 2.x,
 * a CK_FUNCTION_LIST_3_0 for 3.0. */
typedef struct CK_INTERFACE {
    CK_UTF8CHAR_PTR pInterfaceName; /* NUL terminated; "PKCS 11" for the standard tables */
    CK_VOID_PTR pFunctionList;
    CK_FLAGS flags; /* CKF_INTERFACE_FORK_SAFE */
} CK_INTERFACE;
typedef CK_INTERFACE *CK_INTERFACE_PTR;
typedef CK_INTERFACE_PTR *CK_INTERFACE_PTR_PTR;

/* ---------------------------------------------------------------------------------------- */
/* Mechanism parameters                                                                      */
/* ---------------------------------------------------------------------------------------- */

/* CKM_AES_GCM. The 3.0 layout: ulIvBits follows ulIvLen. */
typedef struct CK_GCM_PARAMS {
    CK_BYTE_PTR pIv;
    CK_ULONG ulIvLen;  /* in bytes */
    CK_ULONG ulIvBits; /* in bits; informational, ulIvLen is what counts */
    CK_BYTE_PTR pAAD;
    CK_ULONG ulAADLen;
    CK_ULONG ulTagBits; /* 32 ... 128 */
} CK_GCM_PARAMS;
typedef CK_GCM_PARAMS *CK_GCM_PARAMS_PTR;

/* CKM_AES_CCM. */
typedef struct CK_CCM_PARAMS {
    CK_ULONG ulDataLen; /* plaintext length, needed up front */
    CK_BYTE_PTR pNonce;
    CK_ULONG ulNonceLen; /* 7 ... 13 */
    CK_BYTE_PTR pAAD;
    CK_ULONG ulAADLen;
    CK_ULONG ulMACLen; /* 4, 6, 8, 10, 12, 14 or 16 */
} CK_CCM_PARAMS;
typedef CK_CCM_PARAMS *CK_CCM_PARAMS_PTR;

/* CKM_AES_CTR. */
typedef struct CK_AES_CTR_PARAMS {
    CK_ULONG ulCounterBits; /* how many low bits of cb are the counter */
    CK_BYTE cb[16];         /* initial counter block */
} CK_AES_CTR_PARAMS;
typedef CK_AES_CTR_PARAMS *CK_AES_CTR_PARAMS_PTR;

/* CKM_RSA_PKCS_PSS and the hash-and-sign PSS mechanisms. */
typedef struct CK_RSA_PKCS_PSS_PARAMS {
    CK_MECHANISM_TYPE hashAlg; /* CKM_SHA256 ... */
    CK_RSA_PKCS_MGF_TYPE mgf;  /* CKG_MGF1_* */
    CK_ULONG sLen;             /* salt length in bytes */
} CK_RSA_PKCS_PSS_PARAMS;
typedef CK_RSA_PKCS_PSS_PARAMS *CK_RSA_PKCS_PSS_PARAMS_PTR;

/* CKM_RSA_PKCS_OAEP. */
typedef struct CK_RSA_PKCS_OAEP_PARAMS {
    CK_MECHANISM_TYPE hashAlg;
    CK_RSA_PKCS_MGF_TYPE mgf;
    CK_RSA_PKCS_OAEP_SOURCE_TYPE source; /* CKZ_DATA_SPECIFIED */
    CK_VOID_PTR pSourceData;             /* the label, or NULL_PTR */
    CK_ULONG ulSourceDataLen;
} CK_RSA_PKCS_OAEP_PARAMS;
typedef CK_RSA_PKCS_OAEP_PARAMS *CK_RSA_PKCS_OAEP_PARAMS_PTR;

/* CKM_ECDH1_DERIVE and CKM_ECDH1_COFACTOR_DERIVE. */
typedef struct CK_ECDH1_DERIVE_PARAMS {
    CK_EC_KDF_TYPE kdf; /* CKD_* */
    CK_ULONG ulSharedDataLen;
    CK_BYTE_PTR pSharedData;
    CK_ULONG ulPublicDataLen;
    CK_BYTE_PTR pPublicData; /* the other party's public point */
} CK_ECDH1_DERIVE_PARAMS;
typedef CK_ECDH1_DERIVE_PARAMS *CK_ECDH1_DERIVE_PARAMS_PTR;

/* CKM_EDDSA (optional: without a parameter the pure variants, with no context, are used). */
typedef struct CK_EDDSA_PARAMS {
    CK_BBOOL phFlag; /* CK_TRUE: the pre-hashed variant (Ed25519ph / Ed448ph) */
    CK_ULONG ulContextDataLen;
    CK_BYTE_PTR pContextData;
} CK_EDDSA_PARAMS;
typedef CK_EDDSA_PARAMS *CK_EDDSA_PARAMS_PTR;

/* CKM_HKDF_DERIVE and CKM_HKDF_DATA. */
typedef struct CK_HKDF_PARAMS {
    CK_BBOOL bExtract;
    CK_BBOOL bExpand;
    CK_MECHANISM_TYPE prfHashMechanism; /* CKM_SHA256 ... */
    CK_ULONG ulSaltType;                /* CKF_HKDF_SALT_* */
    CK_BYTE_PTR pSalt;
    CK_ULONG ulSaltLen;
    CK_OBJECT_HANDLE hSaltKey;
    CK_BYTE_PTR pInfo;
    CK_ULONG ulInfoLen;
} CK_HKDF_PARAMS;
typedef CK_HKDF_PARAMS *CK_HKDF_PARAMS_PTR;

/* CKM_CONCATENATE_BASE_AND_DATA, CKM_CONCATENATE_DATA_AND_BASE, CKM_XOR_BASE_AND_DATA. */
typedef struct CK_KEY_DERIVATION_STRING_DATA {
    CK_BYTE_PTR pData;
    CK_ULONG ulLen;
} CK_KEY_DERIVATION_STRING_DATA;
typedef CK_KEY_DERIVATION_STRING_DATA *CK_KEY_DERIVATION_STRING_DATA_PTR;

/* CKM_AES_CBC_ENCRYPT_DATA: derive by encrypting pData under the base key. */
typedef struct CK_AES_CBC_ENCRYPT_DATA_PARAMS {
    CK_BYTE iv[16];
    CK_BYTE_PTR pData;
    CK_ULONG length; /* a multiple of 16 */
} CK_AES_CBC_ENCRYPT_DATA_PARAMS;
typedef CK_AES_CBC_ENCRYPT_DATA_PARAMS *CK_AES_CBC_ENCRYPT_DATA_PARAMS_PTR;

/* ---------------------------------------------------------------------------------------- */
/* Return values (CKR_*)                                                                     */
/* ---------------------------------------------------------------------------------------- */

#define CKR_OK                                0x00000000UL
#define CKR_CANCEL                            0x00000001UL
#define CKR_HOST_MEMORY                       0x00000002UL
#define CKR_SLOT_ID_INVALID                   0x00000003UL
#define CKR_GENERAL_ERROR                     0x00000005UL
#define CKR_FUNCTION_FAILED                   0x00000006UL
#define CKR_ARGUMENTS_BAD                     0x00000007UL
#define CKR_NO_EVENT                          0x00000008UL
#define CKR_NEED_TO_CREATE_THREADS            0x00000009UL
#define CKR_CANT_LOCK                         0x0000000AUL

#define CKR_ATTRIBUTE_READ_ONLY               0x00000010UL
#define CKR_ATTRIBUTE_SENSITIVE               0x00000011UL
#define CKR_ATTRIBUTE_TYPE_INVALID            0x00000012UL
#define CKR_ATTRIBUTE_VALUE_INVALID           0x00000013UL
#define CKR_ACTION_PROHIBITED                 0x0000001BUL

#define CKR_DATA_INVALID                      0x00000020UL
#define CKR_DATA_LEN_RANGE                    0x00000021UL
#define CKR_DEVICE_ERROR                      0x00000030UL
#define CKR_DEVICE_MEMORY                     0x00000031UL
#define CKR_DEVICE_REMOVED                    0x00000032UL
#define CKR_ENCRYPTED_DATA_INVALID            0x00000040UL
#define CKR_ENCRYPTED_DATA_LEN_RANGE          0x00000041UL
#define CKR_AEAD_DECRYPT_FAILED               0x00000042UL
#define CKR_FUNCTION_CANCELED                 0x00000050UL
#define CKR_FUNCTION_NOT_PARALLEL             0x00000051UL
#define CKR_FUNCTION_NOT_SUPPORTED            0x00000054UL

#define CKR_KEY_HANDLE_INVALID                0x00000060UL
#define CKR_KEY_SIZE_RANGE                    0x00000062UL
#define CKR_KEY_TYPE_INCONSISTENT             0x00000063UL
#define CKR_KEY_NOT_NEEDED                    0x00000064UL
#define CKR_KEY_CHANGED                       0x00000065UL
#define CKR_KEY_NEEDED                        0x00000066UL
#define CKR_KEY_INDIGESTIBLE                  0x00000067UL
#define CKR_KEY_FUNCTION_NOT_PERMITTED        0x00000068UL
#define CKR_KEY_NOT_WRAPPABLE                 0x00000069UL
#define CKR_KEY_UNEXTRACTABLE                 0x0000006AUL

#define CKR_MECHANISM_INVALID                 0x00000070UL
#define CKR_MECHANISM_PARAM_INVALID           0x00000071UL
#define CKR_OBJECT_HANDLE_INVALID             0x00000082UL
#define CKR_OPERATION_ACTIVE                  0x00000090UL
#define CKR_OPERATION_NOT_INITIALIZED         0x00000091UL

#define CKR_PIN_INCORRECT                     0x000000A0UL
#define CKR_PIN_INVALID                       0x000000A1UL
#define CKR_PIN_LEN_RANGE                     0x000000A2UL
#define CKR_PIN_EXPIRED                       0x000000A3UL
#define CKR_PIN_LOCKED                        0x000000A4UL

#define CKR_SESSION_CLOSED                    0x000000B0UL
#define CKR_SESSION_COUNT                     0x000000B1UL
#define CKR_SESSION_HANDLE_INVALID            0x000000B3UL
#define CKR_SESSION_PARALLEL_NOT_SUPPORTED    0x000000B4UL
#define CKR_SESSION_READ_ONLY                 0x000000B5UL
#define CKR_SESSION_EXISTS                    0x000000B6UL
#define CKR_SESSION_READ_ONLY_EXISTS          0x000000B7UL
#define CKR_SESSION_READ_WRITE_SO_EXISTS      0x000000B8UL

#define CKR_SIGNATURE_INVALID                 0x000000C0UL
#define CKR_SIGNATURE_LEN_RANGE               0x000000C1UL
#define CKR_TEMPLATE_INCOMPLETE               0x000000D0UL
#define CKR_TEMPLATE_INCONSISTENT             0x000000D1UL
#define CKR_TOKEN_NOT_PRESENT                 0x000000E0UL
#define CKR_TOKEN_NOT_RECOGNIZED              0x000000E1UL
#define CKR_TOKEN_WRITE_PROTECTED             0x000000E2UL

#define CKR_UNWRAPPING_KEY_HANDLE_INVALID     0x000000F0UL
#define CKR_UNWRAPPING_KEY_SIZE_RANGE         0x000000F1UL
#define CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT  0x000000F2UL

#define CKR_USER_ALREADY_LOGGED_IN            0x00000100UL
#define CKR_USER_NOT_LOGGED_IN                0x00000101UL
#define CKR_USER_PIN_NOT_INITIALIZED          0x00000102UL
#define CKR_USER_TYPE_INVALID                 0x00000103UL
#define CKR_USER_ANOTHER_ALREADY_LOGGED_IN    0x00000104UL
#define CKR_USER_TOO_MANY_TYPES               0x00000105UL

#define CKR_WRAPPED_KEY_INVALID               0x00000110UL
#define CKR_WRAPPED_KEY_LEN_RANGE             0x00000112UL
#define CKR_WRAPPING_KEY_HANDLE_INVALID       0x00000113UL
#define CKR_WRAPPING_KEY_SIZE_RANGE           0x00000114UL
#define CKR_WRAPPING_KEY_TYPE_INCONSISTENT    0x00000115UL

#define CKR_RANDOM_SEED_NOT_SUPPORTED         0x00000120UL
#define CKR_RANDOM_NO_RNG                     0x00000121UL
#define CKR_DOMAIN_PARAMS_INVALID             0x00000130UL
#define CKR_CURVE_NOT_SUPPORTED               0x00000140UL
#define CKR_BUFFER_TOO_SMALL                  0x00000150UL
#define CKR_SAVED_STATE_INVALID               0x00000160UL
#define CKR_INFORMATION_SENSITIVE             0x00000170UL
#define CKR_STATE_UNSAVEABLE                  0x00000180UL

#define CKR_CRYPTOKI_NOT_INITIALIZED          0x00000190UL
#define CKR_CRYPTOKI_ALREADY_INITIALIZED      0x00000191UL
#define CKR_MUTEX_BAD                         0x000001A0UL
#define CKR_MUTEX_NOT_LOCKED                  0x000001A1UL

#define CKR_NEW_PIN_MODE                      0x000001B0UL
#define CKR_NEXT_OTP                          0x000001B1UL
#define CKR_EXCEEDED_MAX_ITERATIONS           0x000001B5UL
#define CKR_FIPS_SELF_TEST_FAILED             0x000001B6UL
#define CKR_LIBRARY_LOAD_FAILED               0x000001B7UL
#define CKR_PIN_TOO_WEAK                      0x000001B8UL
#define CKR_PUBLIC_KEY_INVALID                0x000001B9UL

#define CKR_FUNCTION_REJECTED                 0x00000200UL
#define CKR_TOKEN_RESOURCE_EXCEEDED           0x00000201UL
#define CKR_OPERATION_CANCEL_FAILED           0x00000202UL

/* Return values introduced after 3.0; listed so that codes from newer modules can be named. */
#define CKR_KEY_EXHAUSTED                     0x00000203UL
#define CKR_PENDING                           0x00000204UL
#define CKR_SESSION_ASYNC_NOT_SUPPORTED       0x00000205UL
#define CKR_SEED_RANDOM_REQUIRED              0x00000206UL
#define CKR_OPERATION_NOT_VALIDATED           0x00000207UL
#define CKR_TOKEN_NOT_INITIALIZED             0x00000208UL
#define CKR_PARAMETER_SET_NOT_SUPPORTED       0x00000209UL

#define CKR_VENDOR_DEFINED                    0x80000000UL

/* ---------------------------------------------------------------------------------------- */
/* Flags (CKF_*)                                                                             */
/* ---------------------------------------------------------------------------------------- */

/* CK_SLOT_INFO.flags */
#define CKF_TOKEN_PRESENT                     0x00000001UL
#define CKF_REMOVABLE_DEVICE                  0x00000002UL
#define CKF_HW_SLOT                           0x00000004UL

/* CK_TOKEN_INFO.flags */
#define CKF_RNG                               0x00000001UL
#define CKF_WRITE_PROTECTED                   0x00000002UL
#define CKF_LOGIN_REQUIRED                    0x00000004UL
#define CKF_USER_PIN_INITIALIZED              0x00000008UL
#define CKF_RESTORE_KEY_NOT_NEEDED            0x00000020UL
#define CKF_CLOCK_ON_TOKEN                    0x00000040UL
#define CKF_PROTECTED_AUTHENTICATION_PATH     0x00000100UL
#define CKF_DUAL_CRYPTO_OPERATIONS            0x00000200UL
#define CKF_TOKEN_INITIALIZED                 0x00000400UL
#define CKF_SECONDARY_AUTHENTICATION          0x00000800UL
#define CKF_USER_PIN_COUNT_LOW                0x00010000UL
#define CKF_USER_PIN_FINAL_TRY                0x00020000UL
#define CKF_USER_PIN_LOCKED                   0x00040000UL
#define CKF_USER_PIN_TO_BE_CHANGED            0x00080000UL
#define CKF_SO_PIN_COUNT_LOW                  0x00100000UL
#define CKF_SO_PIN_FINAL_TRY                  0x00200000UL
#define CKF_SO_PIN_LOCKED                     0x00400000UL
#define CKF_SO_PIN_TO_BE_CHANGED              0x00800000UL
#define CKF_ERROR_STATE                       0x01000000UL

/* CK_SESSION_INFO.flags and the flags argument of C_OpenSession */
#define CKF_RW_SESSION                        0x00000002UL
#define CKF_SERIAL_SESSION                    0x00000004UL

/* CK_MECHANISM_INFO.flags */
#define CKF_HW                                0x00000001UL
#define CKF_MESSAGE_ENCRYPT                   0x00000002UL
#define CKF_MESSAGE_DECRYPT                   0x00000004UL
#define CKF_MESSAGE_SIGN                      0x00000008UL
#define CKF_MESSAGE_VERIFY                    0x00000010UL
#define CKF_MULTI_MESSAGE                     0x00000020UL
#define CKF_FIND_OBJECTS                      0x00000040UL
#define CKF_ENCRYPT                           0x00000100UL
#define CKF_DECRYPT                           0x00000200UL
#define CKF_DIGEST                            0x00000400UL
#define CKF_SIGN                              0x00000800UL
#define CKF_SIGN_RECOVER                      0x00001000UL
#define CKF_VERIFY                            0x00002000UL
#define CKF_VERIFY_RECOVER                    0x00004000UL
#define CKF_GENERATE                          0x00008000UL
#define CKF_GENERATE_KEY_PAIR                 0x00010000UL
#define CKF_WRAP                              0x00020000UL
#define CKF_UNWRAP                            0x00040000UL
#define CKF_DERIVE                            0x00080000UL
#define CKF_EC_F_P                            0x00100000UL
#define CKF_EC_F_2M                           0x00200000UL
#define CKF_EC_ECPARAMETERS                   0x00400000UL
#define CKF_EC_OID                            0x00800000UL
#define CKF_EC_NAMEDCURVE                     CKF_EC_OID /* the name used before 3.0 */
#define CKF_EC_UNCOMPRESS                     0x01000000UL
#define CKF_EC_COMPRESS                       0x02000000UL
#define CKF_EC_CURVENAME                      0x04000000UL
#define CKF_EXTENSION                         0x80000000UL

/* CK_C_INITIALIZE_ARGS.flags */
#define CKF_LIBRARY_CANT_CREATE_OS_THREADS    0x00000001UL
#define CKF_OS_LOCKING_OK                     0x00000002UL

/* C_WaitForSlotEvent */
#define CKF_DONT_BLOCK                        0x00000001UL

/* CK_INTERFACE.flags and the flags argument of C_GetInterface */
#define CKF_INTERFACE_FORK_SAFE               0x00000001UL

/* The flags argument of C_EncryptMessageNext / C_DecryptMessageNext */
#define CKF_END_OF_MESSAGE                    0x00000001UL

/* CK_HKDF_PARAMS.ulSaltType */
#define CKF_HKDF_SALT_NULL                    0x00000001UL
#define CKF_HKDF_SALT_DATA                    0x00000002UL
#define CKF_HKDF_SALT_KEY                     0x00000004UL

/* Marks attributes whose value is an array of CK_ATTRIBUTE (templates) */
#define CKF_ARRAY_ATTRIBUTE                   0x40000000UL

/* ---------------------------------------------------------------------------------------- */
/* Users, session states, notifications                                                      */
/* ---------------------------------------------------------------------------------------- */

#define CKU_SO                                0UL
#define CKU_USER                              1UL
#define CKU_CONTEXT_SPECIFIC                  2UL

#define CKS_RO_PUBLIC_SESSION                 0UL
#define CKS_RO_USER_FUNCTIONS                 1UL
#define CKS_RW_PUBLIC_SESSION                 2UL
#define CKS_RW_USER_FUNCTIONS                 3UL
#define CKS_RW_SO_FUNCTIONS                   4UL

#define CKN_SURRENDER                         0UL
#define CKN_OTP_CHANGED                       1UL

/* ---------------------------------------------------------------------------------------- */
/* Object classes (CKO_*), key types (CKK_*), certificate types (CKC_*)                      */
/* ---------------------------------------------------------------------------------------- */

#define CKO_DATA                              0x00000000UL
#define CKO_CERTIFICATE                       0x00000001UL
#define CKO_PUBLIC_KEY                        0x00000002UL
#define CKO_PRIVATE_KEY                       0x00000003UL
#define CKO_SECRET_KEY                        0x00000004UL
#define CKO_HW_FEATURE                        0x00000005UL
#define CKO_DOMAIN_PARAMETERS                 0x00000006UL
#define CKO_MECHANISM                         0x00000007UL
#define CKO_OTP_KEY                           0x00000008UL
#define CKO_PROFILE                           0x00000009UL
#define CKO_VENDOR_DEFINED                    0x80000000UL

#define CKK_RSA                               0x00000000UL
#define CKK_DSA                               0x00000001UL
#define CKK_DH                                0x00000002UL
#define CKK_EC                                0x00000003UL
#define CKK_ECDSA                             CKK_EC /* older name */
#define CKK_X9_42_DH                          0x00000004UL
#define CKK_KEA                               0x00000005UL
#define CKK_GENERIC_SECRET                    0x00000010UL
#define CKK_RC2                               0x00000011UL
#define CKK_RC4                               0x00000012UL
#define CKK_DES                               0x00000013UL
#define CKK_DES2                              0x00000014UL
#define CKK_DES3                              0x00000015UL
#define CKK_CAST                              0x00000016UL
#define CKK_CAST3                             0x00000017UL
#define CKK_CAST128                           0x00000018UL
#define CKK_CAST5                             CKK_CAST128 /* older name */
#define CKK_RC5                               0x00000019UL
#define CKK_IDEA                              0x0000001AUL
#define CKK_SKIPJACK                          0x0000001BUL
#define CKK_BATON                             0x0000001CUL
#define CKK_JUNIPER                           0x0000001DUL
#define CKK_CDMF                              0x0000001EUL
#define CKK_AES                               0x0000001FUL
#define CKK_BLOWFISH                          0x00000020UL
#define CKK_TWOFISH                           0x00000021UL
#define CKK_SECURID                           0x00000022UL
#define CKK_HOTP                              0x00000023UL
#define CKK_ACTI                              0x00000024UL
#define CKK_CAMELLIA                          0x00000025UL
#define CKK_ARIA                              0x00000026UL
#define CKK_MD5_HMAC                          0x00000027UL
#define CKK_SHA_1_HMAC                        0x00000028UL
#define CKK_RIPEMD128_HMAC                    0x00000029UL
#define CKK_RIPEMD160_HMAC                    0x0000002AUL
#define CKK_SHA256_HMAC                       0x0000002BUL
#define CKK_SHA384_HMAC                       0x0000002CUL
#define CKK_SHA512_HMAC                       0x0000002DUL
#define CKK_SHA224_HMAC                       0x0000002EUL
#define CKK_SEED                              0x0000002FUL
#define CKK_GOSTR3410                         0x00000030UL
#define CKK_GOSTR3411                         0x00000031UL
#define CKK_GOST28147                         0x00000032UL
#define CKK_CHACHA20                          0x00000033UL
#define CKK_POLY1305                          0x00000034UL
#define CKK_AES_XTS                           0x00000035UL
#define CKK_SHA3_224_HMAC                     0x00000036UL
#define CKK_SHA3_256_HMAC                     0x00000037UL
#define CKK_SHA3_384_HMAC                     0x00000038UL
#define CKK_SHA3_512_HMAC                     0x00000039UL
#define CKK_BLAKE2B_160_HMAC                  0x0000003AUL
#define CKK_BLAKE2B_256_HMAC                  0x0000003BUL
#define CKK_BLAKE2B_384_HMAC                  0x0000003CUL
#define CKK_BLAKE2B_512_HMAC                  0x0000003DUL
#define CKK_SALSA20                           0x0000003EUL
#define CKK_X2RATCHET                         0x0000003FUL
#define CKK_EC_EDWARDS                        0x00000040UL
#define CKK_EC_MONTGOMERY                     0x00000041UL
#define CKK_HKDF                              0x00000042UL
#define CKK_SHA512_224_HMAC                   0x00000043UL
#define CKK_SHA512_256_HMAC                   0x00000044UL
#define CKK_SHA512_T_HMAC                     0x00000045UL
#define CKK_VENDOR_DEFINED                    0x80000000UL

#define CKC_X_509                             0x00000000UL
#define CKC_X_509_ATTR_CERT                   0x00000001UL
#define CKC_WTLS                              0x00000002UL
#define CKC_VENDOR_DEFINED                    0x80000000UL

/* ---------------------------------------------------------------------------------------- */
/* Attribute types (CKA_*)                                                                   */
/* ---------------------------------------------------------------------------------------- */

/* Common to all objects and storage objects */
#define CKA_CLASS                             0x00000000UL
#define CKA_TOKEN                             0x00000001UL
#define CKA_PRIVATE                           0x00000002UL
#define CKA_LABEL                             0x00000003UL
#define CKA_UNIQUE_ID                         0x00000004UL
#define CKA_APPLICATION                       0x00000010UL
#define CKA_VALUE                             0x00000011UL
#define CKA_OBJECT_ID                         0x00000012UL

/* Certificates */
#define CKA_CERTIFICATE_TYPE                  0x00000080UL
#define CKA_ISSUER                            0x00000081UL
#define CKA_SERIAL_NUMBER                     0x00000082UL
#define CKA_AC_ISSUER                         0x00000083UL
#define CKA_OWNER                             0x00000084UL
#define CKA_ATTR_TYPES                        0x00000085UL
#define CKA_TRUSTED                           0x00000086UL
#define CKA_CERTIFICATE_CATEGORY              0x00000087UL
#define CKA_JAVA_MIDP_SECURITY_DOMAIN         0x00000088UL
#define CKA_URL                               0x00000089UL
#define CKA_HASH_OF_SUBJECT_PUBLIC_KEY        0x0000008AUL
#define CKA_HASH_OF_ISSUER_PUBLIC_KEY         0x0000008BUL
#define CKA_NAME_HASH_ALGORITHM               0x0000008CUL
#define CKA_CHECK_VALUE                       0x00000090UL

/* Keys */
#define CKA_KEY_TYPE                          0x00000100UL
#define CKA_SUBJECT                           0x00000101UL
#define CKA_ID                                0x00000102UL
#define CKA_SENSITIVE                         0x00000103UL
#define CKA_ENCRYPT                           0x00000104UL
#define CKA_DECRYPT                           0x00000105UL
#define CKA_WRAP                              0x00000106UL
#define CKA_UNWRAP                            0x00000107UL
#define CKA_SIGN                              0x00000108UL
#define CKA_SIGN_RECOVER                      0x00000109UL
#define CKA_VERIFY                            0x0000010AUL
#define CKA_VERIFY_RECOVER                    0x0000010BUL
#define CKA_DERIVE                            0x0000010CUL
#define CKA_START_DATE                        0x00000110UL
#define CKA_END_DATE                          0x00000111UL

/* RSA */
#define CKA_MODULUS                           0x00000120UL
#define CKA_MODULUS_BITS                      0x00000121UL
#define CKA_PUBLIC_EXPONENT                   0x00000122UL
#define CKA_PRIVATE_EXPONENT                  0x00000123UL
#define CKA_PRIME_1                           0x00000124UL
#define CKA_PRIME_2                           0x00000125UL
#define CKA_EXPONENT_1                        0x00000126UL
#define CKA_EXPONENT_2                        0x00000127UL
#define CKA_COEFFICIENT                       0x00000128UL
#define CKA_PUBLIC_KEY_INFO                   0x00000129UL

/* Discrete-logarithm domain parameters */
#define CKA_PRIME                             0x00000130UL
#define CKA_SUBPRIME                          0x00000131UL
#define CKA_BASE                              0x00000132UL
#define CKA_PRIME_BITS                        0x00000133UL
#define CKA_SUBPRIME_BITS                     0x00000134UL
#define CKA_SUB_PRIME_BITS                    CKA_SUBPRIME_BITS

/* Secret keys and key policy */
#define CKA_VALUE_BITS                        0x00000160UL
#define CKA_VALUE_LEN                         0x00000161UL
#define CKA_EXTRACTABLE                       0x00000162UL
#define CKA_LOCAL                             0x00000163UL
#define CKA_NEVER_EXTRACTABLE                 0x00000164UL
#define CKA_ALWAYS_SENSITIVE                  0x00000165UL
#define CKA_KEY_GEN_MECHANISM                 0x00000166UL
#define CKA_MODIFIABLE                        0x00000170UL
#define CKA_COPYABLE                          0x00000171UL
#define CKA_DESTROYABLE                       0x00000172UL

/* Elliptic curves (including Edwards and Montgomery curves) */
#define CKA_EC_PARAMS                         0x00000180UL
#define CKA_ECDSA_PARAMS                      CKA_EC_PARAMS /* older name */
#define CKA_EC_POINT                          0x00000181UL

/* Authentication and wrapping policy */
#define CKA_SECONDARY_AUTH                    0x00000200UL /* deprecated */
#define CKA_AUTH_PIN_FLAGS                    0x00000201UL /* deprecated */
#define CKA_ALWAYS_AUTHENTICATE               0x00000202UL
#define CKA_WRAP_WITH_TRUSTED                 0x00000210UL
#define CKA_WRAP_TEMPLATE                     (CKF_ARRAY_ATTRIBUTE | 0x00000211UL)
#define CKA_UNWRAP_TEMPLATE                   (CKF_ARRAY_ATTRIBUTE | 0x00000212UL)
#define CKA_DERIVE_TEMPLATE                   (CKF_ARRAY_ATTRIBUTE | 0x00000213UL)

/* One-time-password keys */
#define CKA_OTP_FORMAT                        0x00000220UL
#define CKA_OTP_LENGTH                        0x00000221UL
#define CKA_OTP_TIME_INTERVAL                 0x00000222UL
#define CKA_OTP_USER_FRIENDLY_MODE            0x00000223UL
#define CKA_OTP_CHALLENGE_REQUIREMENT         0x00000224UL
#define CKA_OTP_TIME_REQUIREMENT              0x00000225UL
#define CKA_OTP_COUNTER_REQUIREMENT           0x00000226UL
#define CKA_OTP_PIN_REQUIREMENT               0x00000227UL
#define CKA_OTP_USER_IDENTIFIER               0x0000022AUL
#define CKA_OTP_SERVICE_IDENTIFIER            0x0000022BUL
#define CKA_OTP_SERVICE_LOGO                  0x0000022CUL
#define CKA_OTP_SERVICE_LOGO_TYPE             0x0000022DUL
#define CKA_OTP_COUNTER                       0x0000022EUL
#define CKA_OTP_TIME                          0x0000022FUL

/* GOST */
#define CKA_GOSTR3410_PARAMS                  0x00000250UL
#define CKA_GOSTR3411_PARAMS                  0x00000251UL
#define CKA_GOST28147_PARAMS                  0x00000252UL

/* Hardware features */
#define CKA_HW_FEATURE_TYPE                   0x00000300UL
#define CKA_RESET_ON_INIT                     0x00000301UL
#define CKA_HAS_RESET                         0x00000302UL
#define CKA_PIXEL_X                           0x00000400UL
#define CKA_PIXEL_Y                           0x00000401UL
#define CKA_RESOLUTION                        0x00000402UL
#define CKA_CHAR_ROWS                         0x00000403UL
#define CKA_CHAR_COLUMNS                      0x00000404UL
#define CKA_COLOR                             0x00000405UL
#define CKA_BITS_PER_PIXEL                    0x00000406UL
#define CKA_CHAR_SETS                         0x00000480UL
#define CKA_ENCODING_METHODS                  0x00000481UL
#define CKA_MIME_TYPES                        0x00000482UL

/* Mechanism objects and CMS */
#define CKA_MECHANISM_TYPE                    0x00000500UL
#define CKA_REQUIRED_CMS_ATTRIBUTES           0x00000501UL
#define CKA_DEFAULT_CMS_ATTRIBUTES            0x00000502UL
#define CKA_SUPPORTED_CMS_ATTRIBUTES          0x00000503UL
#define CKA_ALLOWED_MECHANISMS                (CKF_ARRAY_ATTRIBUTE | 0x00000600UL)

/* Profiles */
#define CKA_PROFILE_ID                        0x00000601UL

/* X2Ratchet keys */
#define CKA_X2RATCHET_BAG                     0x00000602UL
#define CKA_X2RATCHET_BAGSIZE                 0x00000603UL
#define CKA_X2RATCHET_BOBS1STMSG              0x00000604UL
#define CKA_X2RATCHET_CKR                     0x00000605UL
#define CKA_X2RATCHET_CKS                     0x00000606UL
#define CKA_X2RATCHET_DHP                     0x00000607UL
#define CKA_X2RATCHET_DHR                     0x00000608UL
#define CKA_X2RATCHET_DHS                     0x00000609UL
#define CKA_X2RATCHET_HKR                     0x0000060AUL
#define CKA_X2RATCHET_HKS                     0x0000060BUL
#define CKA_X2RATCHET_ISALICE                 0x0000060CUL
#define CKA_X2RATCHET_NHKR                    0x0000060DUL
#define CKA_X2RATCHET_NHKS                    0x0000060EUL
#define CKA_X2RATCHET_NR                      0x0000060FUL
#define CKA_X2RATCHET_NS                      0x00000610UL
#define CKA_X2RATCHET_PNS                     0x00000611UL
#define CKA_X2RATCHET_RK                      0x00000612UL

#define CKA_VENDOR_DEFINED                    0x80000000UL

/* ---------------------------------------------------------------------------------------- */
/* Mechanism parameter values                                                                */
/* ---------------------------------------------------------------------------------------- */

/* Mask generation functions (CK_RSA_PKCS_PSS_PARAMS.mgf, CK_RSA_PKCS_OAEP_PARAMS.mgf) */
#define CKG_MGF1_SHA1                         0x00000001UL
#define CKG_MGF1_SHA256                       0x00000002UL
#define CKG_MGF1_SHA384                       0x00000003UL
#define CKG_MGF1_SHA512                       0x00000004UL
#define CKG_MGF1_SHA224                       0x00000005UL
#define CKG_MGF1_SHA3_224                     0x00000006UL
#define CKG_MGF1_SHA3_256                     0x00000007UL
#define CKG_MGF1_SHA3_384                     0x00000008UL
#define CKG_MGF1_SHA3_512                     0x00000009UL

/* IV generation for the message-based AEAD functions (CK_GENERATOR_FUNCTION) */
#define CKG_NO_GENERATE                       0x00000000UL
#define CKG_GENERATE                          0x00000001UL
#define CKG_GENERATE_COUNTER                  0x00000002UL
#define CKG_GENERATE_RANDOM                   0x00000003UL

/* Sources of the OAEP encoding parameter / of a PBKDF2 salt */
#define CKZ_DATA_SPECIFIED                    0x00000001UL
#define CKZ_SALT_SPECIFIED                    0x00000001UL

/* Key derivation functions applied to an ECDH shared secret (CK_ECDH1_DERIVE_PARAMS.kdf) */
#define CKD_NULL                              0x00000001UL
#define CKD_SHA1_KDF                          0x00000002UL
#define CKD_SHA1_KDF_ASN1                     0x00000003UL
#define CKD_SHA1_KDF_CONCATENATE              0x00000004UL
#define CKD_SHA224_KDF                        0x00000005UL
#define CKD_SHA256_KDF                        0x00000006UL
#define CKD_SHA384_KDF                        0x00000007UL
#define CKD_SHA512_KDF                        0x00000008UL
#define CKD_CPDIVERSIFY_KDF                   0x00000009UL
#define CKD_SHA3_224_KDF                      0x0000000AUL
#define CKD_SHA3_256_KDF                      0x0000000BUL
#define CKD_SHA3_384_KDF                      0x0000000CUL
#define CKD_SHA3_512_KDF                      0x0000000DUL
#define CKD_SHA1_KDF_SP800                    0x0000000EUL
#define CKD_SHA224_KDF_SP800                  0x0000000FUL
#define CKD_SHA256_KDF_SP800                  0x00000010UL
#define CKD_SHA384_KDF_SP800                  0x00000011UL
#define CKD_SHA512_KDF_SP800                  0x00000012UL
#define CKD_SHA3_224_KDF_SP800                0x00000013UL
#define CKD_SHA3_256_KDF_SP800                0x00000014UL
#define CKD_SHA3_384_KDF_SP800                0x00000015UL
#define CKD_SHA3_512_KDF_SP800                0x00000016UL
#define CKD_BLAKE2B_160_KDF                   0x00000017UL
#define CKD_BLAKE2B_256_KDF                   0x00000018UL
#define CKD_BLAKE2B_384_KDF                   0x00000019UL
#define CKD_BLAKE2B_512_KDF                   0x0000001AUL

/* ---------------------------------------------------------------------------------------- */
/* Mechanisms (CKM_*)                                                                        */
/* ---------------------------------------------------------------------------------------- */

/* RSA */
#define CKM_RSA_PKCS_KEY_PAIR_GEN             0x00000000UL
#define CKM_RSA_PKCS                          0x00000001UL
#define CKM_RSA_9796                          0x00000002UL
#define CKM_RSA_X_509                         0x00000003UL
#define CKM_MD2_RSA_PKCS                      0x00000004UL
#define CKM_MD5_RSA_PKCS                      0x00000005UL
#define CKM_SHA1_RSA_PKCS                     0x00000006UL
#define CKM_RIPEMD128_RSA_PKCS                0x00000007UL
#define CKM_RIPEMD160_RSA_PKCS                0x00000008UL
#define CKM_RSA_PKCS_OAEP                     0x00000009UL
#define CKM_RSA_X9_31_KEY_PAIR_GEN            0x0000000AUL
#define CKM_RSA_X9_31                         0x0000000BUL
#define CKM_SHA1_RSA_X9_31                    0x0000000CUL
#define CKM_RSA_PKCS_PSS                      0x0000000DUL
#define CKM_SHA1_RSA_PKCS_PSS                 0x0000000EUL
#define CKM_SHA256_RSA_PKCS                   0x00000040UL
#define CKM_SHA384_RSA_PKCS                   0x00000041UL
#define CKM_SHA512_RSA_PKCS                   0x00000042UL
#define CKM_SHA256_RSA_PKCS_PSS               0x00000043UL
#define CKM_SHA384_RSA_PKCS_PSS               0x00000044UL
#define CKM_SHA512_RSA_PKCS_PSS               0x00000045UL
#define CKM_SHA224_RSA_PKCS                   0x00000046UL
#define CKM_SHA224_RSA_PKCS_PSS               0x00000047UL
#define CKM_SHA3_256_RSA_PKCS                 0x00000060UL
#define CKM_SHA3_384_RSA_PKCS                 0x00000061UL
#define CKM_SHA3_512_RSA_PKCS                 0x00000062UL
#define CKM_SHA3_256_RSA_PKCS_PSS             0x00000063UL
#define CKM_SHA3_384_RSA_PKCS_PSS             0x00000064UL
#define CKM_SHA3_512_RSA_PKCS_PSS             0x00000065UL
#define CKM_SHA3_224_RSA_PKCS                 0x00000066UL
#define CKM_SHA3_224_RSA_PKCS_PSS             0x00000067UL
#define CKM_RSA_AES_KEY_WRAP                  0x00001054UL
#define CKM_RSA_PKCS_TPM_1_1                  0x00004001UL
#define CKM_RSA_PKCS_OAEP_TPM_1_1             0x00004002UL

/* SHA-1 and SHA-2 digests, HMACs and key generation */
#define CKM_SHA_1                             0x00000220UL
#define CKM_SHA_1_HMAC                        0x00000221UL
#define CKM_SHA_1_HMAC_GENERAL                0x00000222UL
#define CKM_SHA256                            0x00000250UL
#define CKM_SHA256_HMAC                       0x00000251UL
#define CKM_SHA256_HMAC_GENERAL               0x00000252UL
#define CKM_SHA224                            0x00000255UL
#define CKM_SHA224_HMAC                       0x00000256UL
#define CKM_SHA224_HMAC_GENERAL               0x00000257UL
#define CKM_SHA384                            0x00000260UL
#define CKM_SHA384_HMAC                       0x00000261UL
#define CKM_SHA384_HMAC_GENERAL               0x00000262UL
#define CKM_SHA512                            0x00000270UL
#define CKM_SHA512_HMAC                       0x00000271UL
#define CKM_SHA512_HMAC_GENERAL               0x00000272UL
#define CKM_SHA512_224                        0x00000048UL
#define CKM_SHA512_224_HMAC                   0x00000049UL
#define CKM_SHA512_224_HMAC_GENERAL           0x0000004AUL
#define CKM_SHA512_224_KEY_DERIVATION         0x0000004BUL
#define CKM_SHA512_256                        0x0000004CUL
#define CKM_SHA512_256_HMAC                   0x0000004DUL
#define CKM_SHA512_256_HMAC_GENERAL           0x0000004EUL
#define CKM_SHA512_256_KEY_DERIVATION         0x0000004FUL
#define CKM_SHA512_T                          0x00000050UL
#define CKM_SHA512_T_HMAC                     0x00000051UL
#define CKM_SHA512_T_HMAC_GENERAL             0x00000052UL
#define CKM_SHA512_T_KEY_DERIVATION           0x00000053UL
#define CKM_SHA_1_KEY_GEN                     0x00004003UL
#define CKM_SHA224_KEY_GEN                    0x00004004UL
#define CKM_SHA256_KEY_GEN                    0x00004005UL
#define CKM_SHA384_KEY_GEN                    0x00004006UL
#define CKM_SHA512_KEY_GEN                    0x00004007UL
#define CKM_SHA512_224_KEY_GEN                0x00004008UL
#define CKM_SHA512_256_KEY_GEN                0x00004009UL
#define CKM_SHA512_T_KEY_GEN                  0x0000400AUL

/* SHA-3 digests, HMACs and key generation */
#define CKM_SHA3_256                          0x000002B0UL
#define CKM_SHA3_256_HMAC                     0x000002B1UL
#define CKM_SHA3_256_HMAC_GENERAL             0x000002B2UL
#define CKM_SHA3_256_KEY_GEN                  0x000002B3UL
#define CKM_SHA3_224                          0x000002B5UL
#define CKM_SHA3_224_HMAC                     0x000002B6UL
#define CKM_SHA3_224_HMAC_GENERAL             0x000002B7UL
#define CKM_SHA3_224_KEY_GEN                  0x000002B8UL
#define CKM_SHA3_384                          0x000002C0UL
#define CKM_SHA3_384_HMAC                     0x000002C1UL
#define CKM_SHA3_384_HMAC_GENERAL             0x000002C2UL
#define CKM_SHA3_384_KEY_GEN                  0x000002C3UL
#define CKM_SHA3_512                          0x000002D0UL
#define CKM_SHA3_512_HMAC                     0x000002D1UL
#define CKM_SHA3_512_HMAC_GENERAL             0x000002D2UL
#define CKM_SHA3_512_KEY_GEN                  0x000002D3UL

/* Generic secrets and simple key derivation */
#define CKM_GENERIC_SECRET_KEY_GEN            0x00000350UL
#define CKM_CONCATENATE_BASE_AND_KEY          0x00000360UL
#define CKM_CONCATENATE_BASE_AND_DATA         0x00000362UL
#define CKM_CONCATENATE_DATA_AND_BASE         0x00000363UL
#define CKM_XOR_BASE_AND_DATA                 0x00000364UL
#define CKM_EXTRACT_KEY_FROM_KEY              0x00000365UL
#define CKM_SHA1_KEY_DERIVATION               0x00000392UL
#define CKM_SHA256_KEY_DERIVATION             0x00000393UL
#define CKM_SHA384_KEY_DERIVATION             0x00000394UL
#define CKM_SHA512_KEY_DERIVATION             0x00000395UL
#define CKM_SHA224_KEY_DERIVATION             0x00000396UL
#define CKM_SHA3_256_KEY_DERIVATION           0x00000397UL
#define CKM_SHA3_224_KEY_DERIVATION           0x00000398UL
#define CKM_SHA3_384_KEY_DERIVATION           0x00000399UL
#define CKM_SHA3_512_KEY_DERIVATION           0x0000039AUL
#define CKM_SHAKE_128_KEY_DERIVATION          0x0000039BUL
#define CKM_SHAKE_256_KEY_DERIVATION          0x0000039CUL
#define CKM_SHA3_256_KEY_DERIVE               CKM_SHA3_256_KEY_DERIVATION
#define CKM_SHA3_224_KEY_DERIVE               CKM_SHA3_224_KEY_DERIVATION
#define CKM_SHA3_384_KEY_DERIVE               CKM_SHA3_384_KEY_DERIVATION
#define CKM_SHA3_512_KEY_DERIVE               CKM_SHA3_512_KEY_DERIVATION
#define CKM_SHAKE_128_KEY_DERIVE              CKM_SHAKE_128_KEY_DERIVATION
#define CKM_SHAKE_256_KEY_DERIVE              CKM_SHAKE_256_KEY_DERIVATION

/* Key derivation functions */
#define CKM_SP800_108_COUNTER_KDF             0x000003ACUL
#define CKM_SP800_108_FEEDBACK_KDF            0x000003ADUL
#define CKM_SP800_108_DOUBLE_PIPELINE_KDF     0x000003AEUL
#define CKM_PKCS5_PBKD2                       0x000003B0UL
#define CKM_HKDF_DERIVE                       0x0000402AUL
#define CKM_HKDF_DATA                         0x0000402BUL
#define CKM_HKDF_KEY_GEN                      0x0000402CUL

/* Elliptic curves: ECDSA and ECDH */
#define CKM_EC_KEY_PAIR_GEN                   0x00001040UL
#define CKM_ECDSA_KEY_PAIR_GEN                CKM_EC_KEY_PAIR_GEN /* older name */
#define CKM_ECDSA                             0x00001041UL
#define CKM_ECDSA_SHA1                        0x00001042UL
#define CKM_ECDSA_SHA224                      0x00001043UL
#define CKM_ECDSA_SHA256                      0x00001044UL
#define CKM_ECDSA_SHA384                      0x00001045UL
#define CKM_ECDSA_SHA512                      0x00001046UL
#define CKM_ECDSA_SHA3_224                    0x00001047UL
#define CKM_ECDSA_SHA3_256                    0x00001048UL
#define CKM_ECDSA_SHA3_384                    0x00001049UL
#define CKM_ECDSA_SHA3_512                    0x0000104AUL
#define CKM_EC_KEY_PAIR_GEN_W_EXTRA_BITS      0x0000140BUL
#define CKM_ECDH1_DERIVE                      0x00001050UL
#define CKM_ECDH1_COFACTOR_DERIVE             0x00001051UL
#define CKM_ECMQV_DERIVE                      0x00001052UL
#define CKM_ECDH_AES_KEY_WRAP                 0x00001053UL

/* Edwards and Montgomery curves (Ed25519, Ed448, X25519, X448) */
#define CKM_EC_EDWARDS_KEY_PAIR_GEN           0x00001055UL
#define CKM_EC_MONTGOMERY_KEY_PAIR_GEN        0x00001056UL
#define CKM_EDDSA                             0x00001057UL
#define CKM_XEDDSA                            0x00004029UL

/* AES */
#define CKM_AES_XTS                           0x00001071UL
#define CKM_AES_XTS_KEY_GEN                   0x00001072UL
#define CKM_AES_KEY_GEN                       0x00001080UL
#define CKM_AES_ECB                           0x00001081UL
#define CKM_AES_CBC                           0x00001082UL
#define CKM_AES_MAC                           0x00001083UL
#define CKM_AES_MAC_GENERAL                   0x00001084UL
#define CKM_AES_CBC_PAD                       0x00001085UL
#define CKM_AES_CTR                           0x00001086UL
#define CKM_AES_GCM                           0x00001087UL
#define CKM_AES_CCM                           0x00001088UL
#define CKM_AES_CTS                           0x00001089UL
#define CKM_AES_CMAC                          0x0000108AUL
#define CKM_AES_CMAC_GENERAL                  0x0000108BUL
#define CKM_AES_XCBC_MAC                      0x0000108CUL
#define CKM_AES_XCBC_MAC_96                   0x0000108DUL
#define CKM_AES_GMAC                          0x0000108EUL
#define CKM_AES_ECB_ENCRYPT_DATA              0x00001104UL
#define CKM_AES_CBC_ENCRYPT_DATA              0x00001105UL
#define CKM_AES_OFB                           0x00002104UL
#define CKM_AES_CFB64                         0x00002105UL
#define CKM_AES_CFB8                          0x00002106UL
#define CKM_AES_CFB128                        0x00002107UL
#define CKM_AES_CFB1                          0x00002108UL
#define CKM_AES_KEY_WRAP                      0x00002109UL /* RFC 3394 */
#define CKM_AES_KEY_WRAP_PAD                  0x0000210AUL /* RFC 3394 over PKCS#7-padded data */
#define CKM_AES_KEY_WRAP_KWP                  0x0000210BUL /* RFC 5649 */

#define CKM_VENDOR_DEFINED                    0x80000000UL

/* ---------------------------------------------------------------------------------------- */
/* Function pointer types                                                                    */
/* ---------------------------------------------------------------------------------------- */

/* The function tables are declared here so that C_GetFunctionList can name them. */
typedef struct CK_FUNCTION_LIST CK_FUNCTION_LIST;
typedef struct CK_FUNCTION_LIST_3_0 CK_FUNCTION_LIST_3_0;
typedef CK_FUNCTION_LIST *CK_FUNCTION_LIST_PTR;
typedef CK_FUNCTION_LIST_PTR *CK_FUNCTION_LIST_PTR_PTR;
typedef CK_FUNCTION_LIST_3_0 *CK_FUNCTION_LIST_3_0_PTR;
typedef CK_FUNCTION_LIST_3_0_PTR *CK_FUNCTION_LIST_3_0_PTR_PTR;

/* One type per function, CK_<function name>, for tables and dlsym() results. */
typedef CK_RV (*CK_C_Initialize)(CK_VOID_PTR pInitArgs);
typedef CK_RV (*CK_C_Finalize)(CK_VOID_PTR pReserved);
typedef CK_RV (*CK_C_GetInfo)(CK_INFO_PTR pInfo);
typedef CK_RV (*CK_C_GetFunctionList)(CK_FUNCTION_LIST_PTR_PTR ppFunctionList);
typedef CK_RV (*CK_C_GetSlotList)(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList,
    CK_ULONG_PTR pulCount);
typedef CK_RV (*CK_C_GetSlotInfo)(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo);
typedef CK_RV (*CK_C_GetTokenInfo)(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo);
typedef CK_RV (*CK_C_GetMechanismList)(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
    CK_ULONG_PTR pulCount);
typedef CK_RV (*CK_C_GetMechanismInfo)(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
    CK_MECHANISM_INFO_PTR pInfo);
typedef CK_RV (*CK_C_InitToken)(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
    CK_UTF8CHAR_PTR pLabel);
typedef CK_RV (*CK_C_InitPIN)(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin,
    CK_ULONG ulPinLen);
typedef CK_RV (*CK_C_SetPIN)(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin,
    CK_ULONG ulOldLen, CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen);
typedef CK_RV (*CK_C_OpenSession)(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
    CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession);
typedef CK_RV (*CK_C_CloseSession)(CK_SESSION_HANDLE hSession);
typedef CK_RV (*CK_C_CloseAllSessions)(CK_SLOT_ID slotID);
typedef CK_RV (*CK_C_GetSessionInfo)(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo);
typedef CK_RV (*CK_C_GetOperationState)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
    CK_ULONG_PTR pulOperationStateLen);
typedef CK_RV (*CK_C_SetOperationState)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
    CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
    CK_OBJECT_HANDLE hAuthenticationKey);
typedef CK_RV (*CK_C_Login)(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
    CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen);
typedef CK_RV (*CK_C_Logout)(CK_SESSION_HANDLE hSession);
typedef CK_RV (*CK_C_CreateObject)(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
    CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phObject);
typedef CK_RV (*CK_C_CopyObject)(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject);
typedef CK_RV (*CK_C_DestroyObject)(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject);
typedef CK_RV (*CK_C_GetObjectSize)(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ULONG_PTR pulSize);
typedef CK_RV (*CK_C_GetAttributeValue)(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount);
typedef CK_RV (*CK_C_SetAttributeValue)(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount);
typedef CK_RV (*CK_C_FindObjectsInit)(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
    CK_ULONG ulCount);
typedef CK_RV (*CK_C_FindObjects)(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
    CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount);
typedef CK_RV (*CK_C_FindObjectsFinal)(CK_SESSION_HANDLE hSession);
typedef CK_RV (*CK_C_EncryptInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_RV (*CK_C_Encrypt)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen);
typedef CK_RV (*CK_C_EncryptUpdate)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
    CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen);
typedef CK_RV (*CK_C_EncryptFinal)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
    CK_ULONG_PTR pulLastEncryptedPartLen);
typedef CK_RV (*CK_C_DecryptInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_RV (*CK_C_Decrypt)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
    CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen);
typedef CK_RV (*CK_C_DecryptUpdate)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
    CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen);
typedef CK_RV (*CK_C_DecryptFinal)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
    CK_ULONG_PTR pulLastPartLen);
typedef CK_RV (*CK_C_DigestInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism);
typedef CK_RV (*CK_C_Digest)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen);
typedef CK_RV (*CK_C_DigestUpdate)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
    CK_ULONG ulPartLen);
typedef CK_RV (*CK_C_DigestKey)(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey);
typedef CK_RV (*CK_C_DigestFinal)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest,
    CK_ULONG_PTR pulDigestLen);
typedef CK_RV (*CK_C_SignInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_RV (*CK_C_Sign)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen);
typedef CK_RV (*CK_C_SignUpdate)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
    CK_ULONG ulPartLen);
typedef CK_RV (*CK_C_SignFinal)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
    CK_ULONG_PTR pulSignatureLen);
typedef CK_RV (*CK_C_SignRecoverInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_RV (*CK_C_SignRecover)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData,
    CK_ULONG ulDataLen, CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen);
typedef CK_RV (*CK_C_VerifyInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_RV (*CK_C_Verify)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen);
typedef CK_RV (*CK_C_VerifyUpdate)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
    CK_ULONG ulPartLen);
typedef CK_RV (*CK_C_VerifyFinal)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
    CK_ULONG ulSignatureLen);
typedef CK_RV (*CK_C_VerifyRecoverInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_RV (*CK_C_VerifyRecover)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
    CK_ULONG ulSignatureLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen);
typedef CK_RV (*CK_C_DigestEncryptUpdate)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
    CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen);
typedef CK_RV (*CK_C_DecryptDigestUpdate)(CK_SESSION_HANDLE hSession,
    CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
    CK_ULONG_PTR pulPartLen);
typedef CK_RV (*CK_C_SignEncryptUpdate)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart,
    CK_ULONG ulPartLen, CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen);
typedef CK_RV (*CK_C_DecryptVerifyUpdate)(CK_SESSION_HANDLE hSession,
    CK_BYTE_PTR pEncryptedPart, CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart,
    CK_ULONG_PTR pulPartLen);
typedef CK_RV (*CK_C_GenerateKey)(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phKey);
typedef CK_RV (*CK_C_GenerateKeyPair)(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
    CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
    CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey);
typedef CK_RV (*CK_C_WrapKey)(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pWrappedKey,
    CK_ULONG_PTR pulWrappedKeyLen);
typedef CK_RV (*CK_C_UnwrapKey)(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey, CK_ULONG ulWrappedKeyLen,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey);
typedef CK_RV (*CK_C_DeriveKey)(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount,
    CK_OBJECT_HANDLE_PTR phKey);
typedef CK_RV (*CK_C_SeedRandom)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed,
    CK_ULONG ulSeedLen);
typedef CK_RV (*CK_C_GenerateRandom)(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pRandomData,
    CK_ULONG ulRandomLen);
typedef CK_RV (*CK_C_GetFunctionStatus)(CK_SESSION_HANDLE hSession);
typedef CK_RV (*CK_C_CancelFunction)(CK_SESSION_HANDLE hSession);
typedef CK_RV (*CK_C_WaitForSlotEvent)(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot,
    CK_VOID_PTR pReserved);
typedef CK_RV (*CK_C_GetInterfaceList)(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount);
typedef CK_RV (*CK_C_GetInterface)(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
    CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags);
typedef CK_RV (*CK_C_LoginUser)(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType,
    CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen);
typedef CK_RV (*CK_C_SessionCancel)(CK_SESSION_HANDLE hSession, CK_FLAGS flags);
typedef CK_RV (*CK_C_MessageEncryptInit)(CK_SESSION_HANDLE hSession,
    CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey);
typedef CK_RV (*CK_C_EncryptMessage)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
    CK_BYTE_PTR pPlaintext, CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext,
    CK_ULONG_PTR pulCiphertextLen);
typedef CK_RV (*CK_C_EncryptMessageBegin)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen);
typedef CK_RV (*CK_C_EncryptMessageNext)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pPlaintextPart, CK_ULONG ulPlaintextPartLen,
    CK_BYTE_PTR pCiphertextPart, CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags);
typedef CK_RV (*CK_C_MessageEncryptFinal)(CK_SESSION_HANDLE hSession);
typedef CK_RV (*CK_C_MessageDecryptInit)(CK_SESSION_HANDLE hSession,
    CK_MECHANISM_PTR pMechanism, CK_OBJECT_HANDLE hKey);
typedef CK_RV (*CK_C_DecryptMessage)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
    CK_BYTE_PTR pCiphertext, CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext,
    CK_ULONG_PTR pulPlaintextLen);
typedef CK_RV (*CK_C_DecryptMessageBegin)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen);
typedef CK_RV (*CK_C_DecryptMessageNext)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pCiphertextPart, CK_ULONG ulCiphertextPartLen,
    CK_BYTE_PTR pPlaintextPart, CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags);
typedef CK_RV (*CK_C_MessageDecryptFinal)(CK_SESSION_HANDLE hSession);
typedef CK_RV (*CK_C_MessageSignInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_RV (*CK_C_SignMessage)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
    CK_ULONG_PTR pulSignatureLen);
typedef CK_RV (*CK_C_SignMessageBegin)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen);
typedef CK_RV (*CK_C_SignMessageNext)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
    CK_ULONG_PTR pulSignatureLen);
typedef CK_RV (*CK_C_MessageSignFinal)(CK_SESSION_HANDLE hSession);
typedef CK_RV (*CK_C_MessageVerifyInit)(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
typedef CK_RV (*CK_C_VerifyMessage)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
    CK_ULONG ulSignatureLen);
typedef CK_RV (*CK_C_VerifyMessageBegin)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen);
typedef CK_RV (*CK_C_VerifyMessageNext)(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
    CK_ULONG ulSignatureLen);
typedef CK_RV (*CK_C_MessageVerifyFinal)(CK_SESSION_HANDLE hSession);

/* ---------------------------------------------------------------------------------------- */
/* Function tables                                                                           */
/* ---------------------------------------------------------------------------------------- */

/* The table returned by C_GetFunctionList (version 2.40): the version, then the 68 functions
 * in the order of the specification. The order is part of the ABI. */
struct CK_FUNCTION_LIST {
    CK_VERSION version;
    CK_C_Initialize C_Initialize;
    CK_C_Finalize C_Finalize;
    CK_C_GetInfo C_GetInfo;
    CK_C_GetFunctionList C_GetFunctionList;
    CK_C_GetSlotList C_GetSlotList;
    CK_C_GetSlotInfo C_GetSlotInfo;
    CK_C_GetTokenInfo C_GetTokenInfo;
    CK_C_GetMechanismList C_GetMechanismList;
    CK_C_GetMechanismInfo C_GetMechanismInfo;
    CK_C_InitToken C_InitToken;
    CK_C_InitPIN C_InitPIN;
    CK_C_SetPIN C_SetPIN;
    CK_C_OpenSession C_OpenSession;
    CK_C_CloseSession C_CloseSession;
    CK_C_CloseAllSessions C_CloseAllSessions;
    CK_C_GetSessionInfo C_GetSessionInfo;
    CK_C_GetOperationState C_GetOperationState;
    CK_C_SetOperationState C_SetOperationState;
    CK_C_Login C_Login;
    CK_C_Logout C_Logout;
    CK_C_CreateObject C_CreateObject;
    CK_C_CopyObject C_CopyObject;
    CK_C_DestroyObject C_DestroyObject;
    CK_C_GetObjectSize C_GetObjectSize;
    CK_C_GetAttributeValue C_GetAttributeValue;
    CK_C_SetAttributeValue C_SetAttributeValue;
    CK_C_FindObjectsInit C_FindObjectsInit;
    CK_C_FindObjects C_FindObjects;
    CK_C_FindObjectsFinal C_FindObjectsFinal;
    CK_C_EncryptInit C_EncryptInit;
    CK_C_Encrypt C_Encrypt;
    CK_C_EncryptUpdate C_EncryptUpdate;
    CK_C_EncryptFinal C_EncryptFinal;
    CK_C_DecryptInit C_DecryptInit;
    CK_C_Decrypt C_Decrypt;
    CK_C_DecryptUpdate C_DecryptUpdate;
    CK_C_DecryptFinal C_DecryptFinal;
    CK_C_DigestInit C_DigestInit;
    CK_C_Digest C_Digest;
    CK_C_DigestUpdate C_DigestUpdate;
    CK_C_DigestKey C_DigestKey;
    CK_C_DigestFinal C_DigestFinal;
    CK_C_SignInit C_SignInit;
    CK_C_Sign C_Sign;
    CK_C_SignUpdate C_SignUpdate;
    CK_C_SignFinal C_SignFinal;
    CK_C_SignRecoverInit C_SignRecoverInit;
    CK_C_SignRecover C_SignRecover;
    CK_C_VerifyInit C_VerifyInit;
    CK_C_Verify C_Verify;
    CK_C_VerifyUpdate C_VerifyUpdate;
    CK_C_VerifyFinal C_VerifyFinal;
    CK_C_VerifyRecoverInit C_VerifyRecoverInit;
    CK_C_VerifyRecover C_VerifyRecover;
    CK_C_DigestEncryptUpdate C_DigestEncryptUpdate;
    CK_C_DecryptDigestUpdate C_DecryptDigestUpdate;
    CK_C_SignEncryptUpdate C_SignEncryptUpdate;
    CK_C_DecryptVerifyUpdate C_DecryptVerifyUpdate;
    CK_C_GenerateKey C_GenerateKey;
    CK_C_GenerateKeyPair C_GenerateKeyPair;
    CK_C_WrapKey C_WrapKey;
    CK_C_UnwrapKey C_UnwrapKey;
    CK_C_DeriveKey C_DeriveKey;
    CK_C_SeedRandom C_SeedRandom;
    CK_C_GenerateRandom C_GenerateRandom;
    CK_C_GetFunctionStatus C_GetFunctionStatus;
    CK_C_CancelFunction C_CancelFunction;
    CK_C_WaitForSlotEvent C_WaitForSlotEvent;
};

/* The "PKCS 11" 3.0 table returned through C_GetInterface: the 2.40 table's members in the
 * same order, followed by the 24 functions added in 3.0. */
struct CK_FUNCTION_LIST_3_0 {
    CK_VERSION version;
    CK_C_Initialize C_Initialize;
    CK_C_Finalize C_Finalize;
    CK_C_GetInfo C_GetInfo;
    CK_C_GetFunctionList C_GetFunctionList;
    CK_C_GetSlotList C_GetSlotList;
    CK_C_GetSlotInfo C_GetSlotInfo;
    CK_C_GetTokenInfo C_GetTokenInfo;
    CK_C_GetMechanismList C_GetMechanismList;
    CK_C_GetMechanismInfo C_GetMechanismInfo;
    CK_C_InitToken C_InitToken;
    CK_C_InitPIN C_InitPIN;
    CK_C_SetPIN C_SetPIN;
    CK_C_OpenSession C_OpenSession;
    CK_C_CloseSession C_CloseSession;
    CK_C_CloseAllSessions C_CloseAllSessions;
    CK_C_GetSessionInfo C_GetSessionInfo;
    CK_C_GetOperationState C_GetOperationState;
    CK_C_SetOperationState C_SetOperationState;
    CK_C_Login C_Login;
    CK_C_Logout C_Logout;
    CK_C_CreateObject C_CreateObject;
    CK_C_CopyObject C_CopyObject;
    CK_C_DestroyObject C_DestroyObject;
    CK_C_GetObjectSize C_GetObjectSize;
    CK_C_GetAttributeValue C_GetAttributeValue;
    CK_C_SetAttributeValue C_SetAttributeValue;
    CK_C_FindObjectsInit C_FindObjectsInit;
    CK_C_FindObjects C_FindObjects;
    CK_C_FindObjectsFinal C_FindObjectsFinal;
    CK_C_EncryptInit C_EncryptInit;
    CK_C_Encrypt C_Encrypt;
    CK_C_EncryptUpdate C_EncryptUpdate;
    CK_C_EncryptFinal C_EncryptFinal;
    CK_C_DecryptInit C_DecryptInit;
    CK_C_Decrypt C_Decrypt;
    CK_C_DecryptUpdate C_DecryptUpdate;
    CK_C_DecryptFinal C_DecryptFinal;
    CK_C_DigestInit C_DigestInit;
    CK_C_Digest C_Digest;
    CK_C_DigestUpdate C_DigestUpdate;
    CK_C_DigestKey C_DigestKey;
    CK_C_DigestFinal C_DigestFinal;
    CK_C_SignInit C_SignInit;
    CK_C_Sign C_Sign;
    CK_C_SignUpdate C_SignUpdate;
    CK_C_SignFinal C_SignFinal;
    CK_C_SignRecoverInit C_SignRecoverInit;
    CK_C_SignRecover C_SignRecover;
    CK_C_VerifyInit C_VerifyInit;
    CK_C_Verify C_Verify;
    CK_C_VerifyUpdate C_VerifyUpdate;
    CK_C_VerifyFinal C_VerifyFinal;
    CK_C_VerifyRecoverInit C_VerifyRecoverInit;
    CK_C_VerifyRecover C_VerifyRecover;
    CK_C_DigestEncryptUpdate C_DigestEncryptUpdate;
    CK_C_DecryptDigestUpdate C_DecryptDigestUpdate;
    CK_C_SignEncryptUpdate C_SignEncryptUpdate;
    CK_C_DecryptVerifyUpdate C_DecryptVerifyUpdate;
    CK_C_GenerateKey C_GenerateKey;
    CK_C_GenerateKeyPair C_GenerateKeyPair;
    CK_C_WrapKey C_WrapKey;
    CK_C_UnwrapKey C_UnwrapKey;
    CK_C_DeriveKey C_DeriveKey;
    CK_C_SeedRandom C_SeedRandom;
    CK_C_GenerateRandom C_GenerateRandom;
    CK_C_GetFunctionStatus C_GetFunctionStatus;
    CK_C_CancelFunction C_CancelFunction;
    CK_C_WaitForSlotEvent C_WaitForSlotEvent;
    CK_C_GetInterfaceList C_GetInterfaceList;
    CK_C_GetInterface C_GetInterface;
    CK_C_LoginUser C_LoginUser;
    CK_C_SessionCancel C_SessionCancel;
    CK_C_MessageEncryptInit C_MessageEncryptInit;
    CK_C_EncryptMessage C_EncryptMessage;
    CK_C_EncryptMessageBegin C_EncryptMessageBegin;
    CK_C_EncryptMessageNext C_EncryptMessageNext;
    CK_C_MessageEncryptFinal C_MessageEncryptFinal;
    CK_C_MessageDecryptInit C_MessageDecryptInit;
    CK_C_DecryptMessage C_DecryptMessage;
    CK_C_DecryptMessageBegin C_DecryptMessageBegin;
    CK_C_DecryptMessageNext C_DecryptMessageNext;
    CK_C_MessageDecryptFinal C_MessageDecryptFinal;
    CK_C_MessageSignInit C_MessageSignInit;
    CK_C_SignMessage C_SignMessage;
    CK_C_SignMessageBegin C_SignMessageBegin;
    CK_C_SignMessageNext C_SignMessageNext;
    CK_C_MessageSignFinal C_MessageSignFinal;
    CK_C_MessageVerifyInit C_MessageVerifyInit;
    CK_C_VerifyMessage C_VerifyMessage;
    CK_C_VerifyMessageBegin C_VerifyMessageBegin;
    CK_C_VerifyMessageNext C_VerifyMessageNext;
    CK_C_MessageVerifyFinal C_MessageVerifyFinal;
};

/* ---------------------------------------------------------------------------------------- */
/* Function prototypes, for applications linking the module directly                         */
/* ---------------------------------------------------------------------------------------- */

CK_RV C_Initialize(CK_VOID_PTR pInitArgs);
CK_RV C_Finalize(CK_VOID_PTR pReserved);
CK_RV C_GetInfo(CK_INFO_PTR pInfo);
CK_RV C_GetFunctionList(CK_FUNCTION_LIST_PTR_PTR ppFunctionList);
CK_RV C_GetSlotList(CK_BBOOL tokenPresent, CK_SLOT_ID_PTR pSlotList, CK_ULONG_PTR pulCount);
CK_RV C_GetSlotInfo(CK_SLOT_ID slotID, CK_SLOT_INFO_PTR pInfo);
CK_RV C_GetTokenInfo(CK_SLOT_ID slotID, CK_TOKEN_INFO_PTR pInfo);
CK_RV C_GetMechanismList(CK_SLOT_ID slotID, CK_MECHANISM_TYPE_PTR pMechanismList,
    CK_ULONG_PTR pulCount);
CK_RV C_GetMechanismInfo(CK_SLOT_ID slotID, CK_MECHANISM_TYPE type,
    CK_MECHANISM_INFO_PTR pInfo);
CK_RV C_InitToken(CK_SLOT_ID slotID, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen,
    CK_UTF8CHAR_PTR pLabel);
CK_RV C_InitPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pPin, CK_ULONG ulPinLen);
CK_RV C_SetPIN(CK_SESSION_HANDLE hSession, CK_UTF8CHAR_PTR pOldPin, CK_ULONG ulOldLen,
    CK_UTF8CHAR_PTR pNewPin, CK_ULONG ulNewLen);
CK_RV C_OpenSession(CK_SLOT_ID slotID, CK_FLAGS flags, CK_VOID_PTR pApplication,
    CK_NOTIFY Notify, CK_SESSION_HANDLE_PTR phSession);
CK_RV C_CloseSession(CK_SESSION_HANDLE hSession);
CK_RV C_CloseAllSessions(CK_SLOT_ID slotID);
CK_RV C_GetSessionInfo(CK_SESSION_HANDLE hSession, CK_SESSION_INFO_PTR pInfo);
CK_RV C_GetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
    CK_ULONG_PTR pulOperationStateLen);
CK_RV C_SetOperationState(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pOperationState,
    CK_ULONG ulOperationStateLen, CK_OBJECT_HANDLE hEncryptionKey,
    CK_OBJECT_HANDLE hAuthenticationKey);
CK_RV C_Login(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
    CK_ULONG ulPinLen);
CK_RV C_Logout(CK_SESSION_HANDLE hSession);
CK_RV C_CreateObject(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount,
    CK_OBJECT_HANDLE_PTR phObject);
CK_RV C_CopyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phNewObject);
CK_RV C_DestroyObject(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject);
CK_RV C_GetObjectSize(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ULONG_PTR pulSize);
CK_RV C_GetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount);
CK_RV C_SetAttributeValue(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hObject,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount);
CK_RV C_FindObjectsInit(CK_SESSION_HANDLE hSession, CK_ATTRIBUTE_PTR pTemplate,
    CK_ULONG ulCount);
CK_RV C_FindObjects(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE_PTR phObject,
    CK_ULONG ulMaxObjectCount, CK_ULONG_PTR pulObjectCount);
CK_RV C_FindObjectsFinal(CK_SESSION_HANDLE hSession);
CK_RV C_EncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
CK_RV C_Encrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pEncryptedData, CK_ULONG_PTR pulEncryptedDataLen);
CK_RV C_EncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
    CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen);
CK_RV C_EncryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastEncryptedPart,
    CK_ULONG_PTR pulLastEncryptedPartLen);
CK_RV C_DecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
CK_RV C_Decrypt(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedData,
    CK_ULONG ulEncryptedDataLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen);
CK_RV C_DecryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
    CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen);
CK_RV C_DecryptFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pLastPart,
    CK_ULONG_PTR pulLastPartLen);
CK_RV C_DigestInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism);
CK_RV C_Digest(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen);
CK_RV C_DigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen);
CK_RV C_DigestKey(CK_SESSION_HANDLE hSession, CK_OBJECT_HANDLE hKey);
CK_RV C_DigestFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pDigest, CK_ULONG_PTR pulDigestLen);
CK_RV C_SignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
CK_RV C_Sign(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen);
CK_RV C_SignUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen);
CK_RV C_SignFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
    CK_ULONG_PTR pulSignatureLen);
CK_RV C_SignRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
CK_RV C_SignRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG_PTR pulSignatureLen);
CK_RV C_VerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
CK_RV C_Verify(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pData, CK_ULONG ulDataLen,
    CK_BYTE_PTR pSignature, CK_ULONG ulSignatureLen);
CK_RV C_VerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen);
CK_RV C_VerifyFinal(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
    CK_ULONG ulSignatureLen);
CK_RV C_VerifyRecoverInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
CK_RV C_VerifyRecover(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSignature,
    CK_ULONG ulSignatureLen, CK_BYTE_PTR pData, CK_ULONG_PTR pulDataLen);
CK_RV C_DigestEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
    CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen);
CK_RV C_DecryptDigestUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
    CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen);
CK_RV C_SignEncryptUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pPart, CK_ULONG ulPartLen,
    CK_BYTE_PTR pEncryptedPart, CK_ULONG_PTR pulEncryptedPartLen);
CK_RV C_DecryptVerifyUpdate(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pEncryptedPart,
    CK_ULONG ulEncryptedPartLen, CK_BYTE_PTR pPart, CK_ULONG_PTR pulPartLen);
CK_RV C_GenerateKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulCount, CK_OBJECT_HANDLE_PTR phKey);
CK_RV C_GenerateKeyPair(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_ATTRIBUTE_PTR pPublicKeyTemplate, CK_ULONG ulPublicKeyAttributeCount,
    CK_ATTRIBUTE_PTR pPrivateKeyTemplate, CK_ULONG ulPrivateKeyAttributeCount,
    CK_OBJECT_HANDLE_PTR phPublicKey, CK_OBJECT_HANDLE_PTR phPrivateKey);
CK_RV C_WrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hWrappingKey, CK_OBJECT_HANDLE hKey, CK_BYTE_PTR pWrappedKey,
    CK_ULONG_PTR pulWrappedKeyLen);
CK_RV C_UnwrapKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hUnwrappingKey, CK_BYTE_PTR pWrappedKey, CK_ULONG ulWrappedKeyLen,
    CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount, CK_OBJECT_HANDLE_PTR phKey);
CK_RV C_DeriveKey(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hBaseKey, CK_ATTRIBUTE_PTR pTemplate, CK_ULONG ulAttributeCount,
    CK_OBJECT_HANDLE_PTR phKey);
CK_RV C_SeedRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pSeed, CK_ULONG ulSeedLen);
CK_RV C_GenerateRandom(CK_SESSION_HANDLE hSession, CK_BYTE_PTR pRandomData,
    CK_ULONG ulRandomLen);
CK_RV C_GetFunctionStatus(CK_SESSION_HANDLE hSession);
CK_RV C_CancelFunction(CK_SESSION_HANDLE hSession);
CK_RV C_WaitForSlotEvent(CK_FLAGS flags, CK_SLOT_ID_PTR pSlot, CK_VOID_PTR pReserved);
CK_RV C_GetInterfaceList(CK_INTERFACE_PTR pInterfacesList, CK_ULONG_PTR pulCount);
CK_RV C_GetInterface(CK_UTF8CHAR_PTR pInterfaceName, CK_VERSION_PTR pVersion,
    CK_INTERFACE_PTR_PTR ppInterface, CK_FLAGS flags);
CK_RV C_LoginUser(CK_SESSION_HANDLE hSession, CK_USER_TYPE userType, CK_UTF8CHAR_PTR pPin,
    CK_ULONG ulPinLen, CK_UTF8CHAR_PTR pUsername, CK_ULONG ulUsernameLen);
CK_RV C_SessionCancel(CK_SESSION_HANDLE hSession, CK_FLAGS flags);
CK_RV C_MessageEncryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
CK_RV C_EncryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
    CK_BYTE_PTR pPlaintext, CK_ULONG ulPlaintextLen, CK_BYTE_PTR pCiphertext,
    CK_ULONG_PTR pulCiphertextLen);
CK_RV C_EncryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen);
CK_RV C_EncryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pPlaintextPart, CK_ULONG ulPlaintextPartLen,
    CK_BYTE_PTR pCiphertextPart, CK_ULONG_PTR pulCiphertextPartLen, CK_FLAGS flags);
CK_RV C_MessageEncryptFinal(CK_SESSION_HANDLE hSession);
CK_RV C_MessageDecryptInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
CK_RV C_DecryptMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen,
    CK_BYTE_PTR pCiphertext, CK_ULONG ulCiphertextLen, CK_BYTE_PTR pPlaintext,
    CK_ULONG_PTR pulPlaintextLen);
CK_RV C_DecryptMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pAssociatedData, CK_ULONG ulAssociatedDataLen);
CK_RV C_DecryptMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pCiphertextPart, CK_ULONG ulCiphertextPartLen,
    CK_BYTE_PTR pPlaintextPart, CK_ULONG_PTR pulPlaintextPartLen, CK_FLAGS flags);
CK_RV C_MessageDecryptFinal(CK_SESSION_HANDLE hSession);
CK_RV C_MessageSignInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
CK_RV C_SignMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter, CK_ULONG ulParameterLen,
    CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
    CK_ULONG_PTR pulSignatureLen);
CK_RV C_SignMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen);
CK_RV C_SignMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
    CK_ULONG_PTR pulSignatureLen);
CK_RV C_MessageSignFinal(CK_SESSION_HANDLE hSession);
CK_RV C_MessageVerifyInit(CK_SESSION_HANDLE hSession, CK_MECHANISM_PTR pMechanism,
    CK_OBJECT_HANDLE hKey);
CK_RV C_VerifyMessage(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
    CK_ULONG ulSignatureLen);
CK_RV C_VerifyMessageBegin(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen);
CK_RV C_VerifyMessageNext(CK_SESSION_HANDLE hSession, CK_VOID_PTR pParameter,
    CK_ULONG ulParameterLen, CK_BYTE_PTR pData, CK_ULONG ulDataLen, CK_BYTE_PTR pSignature,
    CK_ULONG ulSignatureLen);
CK_RV C_MessageVerifyFinal(CK_SESSION_HANDLE hSession);

#ifdef __cplusplus
}
#endif

#endif /* CUSTOS_PKCS11_H */
