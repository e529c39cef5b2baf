/*
 * abi_check.c - checks the C ABI of a PKCS#11 module built from include/pkcs11.h's point of
 * view: the function tables, the interface list, initialisation and finalisation rules, and
 * the behaviour of every entry point before C_Initialize and of the functions Custos does not
 * offer.
 *
 *     gcc -Wall -Wextra -Werror -I include -o abi_check tests/c/abi_check.c -ldl -pthread
 *     CUSTOS_STORE=/path/to/store ./abi_check target/debug/libcustos_pkcs11.so [slot-count]
 *
 * Prints one line per failed check and, last, "c-abi: N passed, M failed". Exits 0 only when
 * nothing failed. With a slot count, C_GetSlotList must report exactly that many slots.
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custos.h"
#include "pkcs11.h"

/* ---------------------------------------------------------------------------------------- */
/* Reporting                                                                                 */
/* ---------------------------------------------------------------------------------------- */

static unsigned long passed;
static unsigned long failed;

static void check(int ok, const char *fmt, ...)
{
    va_list ap;

    if (ok) {
        passed++;
        return;
    }
    failed++;
    printf("FAIL: ");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
}

static const char *rv_name(CK_RV rv)
{
    switch (rv) {
    case CKR_OK: return "CKR_OK";
    case CKR_GENERAL_ERROR: return "CKR_GENERAL_ERROR";
    case CKR_FUNCTION_FAILED: return "CKR_FUNCTION_FAILED";
    case CKR_ARGUMENTS_BAD: return "CKR_ARGUMENTS_BAD";
    case CKR_NO_EVENT: return "CKR_NO_EVENT";
    case CKR_CANT_LOCK: return "CKR_CANT_LOCK";
    case CKR_DEVICE_ERROR: return "CKR_DEVICE_ERROR";
    case CKR_FUNCTION_NOT_PARALLEL: return "CKR_FUNCTION_NOT_PARALLEL";
    case CKR_FUNCTION_NOT_SUPPORTED: return "CKR_FUNCTION_NOT_SUPPORTED";
    case CKR_KEY_HANDLE_INVALID: return "CKR_KEY_HANDLE_INVALID";
    case CKR_MECHANISM_INVALID: return "CKR_MECHANISM_INVALID";
    case CKR_MECHANISM_PARAM_INVALID: return "CKR_MECHANISM_PARAM_INVALID";
    case CKR_OBJECT_HANDLE_INVALID: return "CKR_OBJECT_HANDLE_INVALID";
    case CKR_OPERATION_NOT_INITIALIZED: return "CKR_OPERATION_NOT_INITIALIZED";
    case CKR_RANDOM_SEED_NOT_SUPPORTED: return "CKR_RANDOM_SEED_NOT_SUPPORTED";
    case CKR_SESSION_HANDLE_INVALID: return "CKR_SESSION_HANDLE_INVALID";
    case CKR_SLOT_ID_INVALID: return "CKR_SLOT_ID_INVALID";
    case CKR_TOKEN_NOT_PRESENT: return "CKR_TOKEN_NOT_PRESENT";
    case CKR_USER_NOT_LOGGED_IN: return "CKR_USER_NOT_LOGGED_IN";
    case CKR_BUFFER_TOO_SMALL: return "CKR_BUFFER_TOO_SMALL";
    case CKR_CRYPTOKI_NOT_INITIALIZED: return "CKR_CRYPTOKI_NOT_INITIALIZED";
    case CKR_CRYPTOKI_ALREADY_INITIALIZED: return "CKR_CRYPTOKI_ALREADY_INITIALIZED";
    default: return "another value";
    }
}

/* The call returned `want`. */
static void expect_rv(const char *what, CK_RV got, CK_RV want)
{
    check(got == want, "%s: expected %s (0x%lx), got %s (0x%lx)", what, rv_name(want), want,
          rv_name(got), got);
}

/* The call returned one of two acceptable values. */
static void expect_rv2(const char *what, CK_RV got, CK_RV a, CK_RV b)
{
    check(got == a || got == b, "%s: expected %s or %s, got %s (0x%lx)", what, rv_name(a),
          rv_name(b), rv_name(got), got);
}

/* ---------------------------------------------------------------------------------------- */
/* The members of the function tables, in table order                                        */
/* ---------------------------------------------------------------------------------------- */

#define FUNCTIONS_2_40(X) \
    X(C_Initialize) X(C_Finalize) X(C_GetInfo) X(C_GetFunctionList) X(C_GetSlotList) \
    X(C_GetSlotInfo) X(C_GetTokenInfo) X(C_GetMechanismList) X(C_GetMechanismInfo) \
    X(C_InitToken) X(C_InitPIN) X(C_SetPIN) X(C_OpenSession) X(C_CloseSession) \
    X(C_CloseAllSessions) X(C_GetSessionInfo) X(C_GetOperationState) X(C_SetOperationState) \
    X(C_Login) X(C_Logout) X(C_CreateObject) X(C_CopyObject) X(C_DestroyObject) \
    X(C_GetObjectSize) X(C_GetAttributeValue) X(C_SetAttributeValue) X(C_FindObjectsInit) \
    X(C_FindObjects) X(C_FindObjectsFinal) X(C_EncryptInit) X(C_Encrypt) X(C_EncryptUpdate) \
    X(C_EncryptFinal) X(C_DecryptInit) X(C_Decrypt) X(C_DecryptUpdate) X(C_DecryptFinal) \
    X(C_DigestInit) X(C_Digest) X(C_DigestUpdate) X(C_DigestKey) X(C_DigestFinal) \
    X(C_SignInit) X(C_Sign) X(C_SignUpdate) X(C_SignFinal) X(C_SignRecoverInit) \
    X(C_SignRecover) X(C_VerifyInit) X(C_Verify) X(C_VerifyUpdate) X(C_VerifyFinal) \
    X(C_VerifyRecoverInit) X(C_VerifyRecover) X(C_DigestEncryptUpdate) \
    X(C_DecryptDigestUpdate) X(C_SignEncryptUpdate) X(C_DecryptVerifyUpdate) \
    X(C_GenerateKey) X(C_GenerateKeyPair) X(C_WrapKey) X(C_UnwrapKey) X(C_DeriveKey) \
    X(C_SeedRandom) X(C_GenerateRandom) X(C_GetFunctionStatus) X(C_CancelFunction) \
    X(C_WaitForSlotEvent)

#define FUNCTIONS_3_0_ADDED(X) \
    X(C_GetInterfaceList) X(C_GetInterface) X(C_LoginUser) X(C_SessionCancel) \
    X(C_MessageEncryptInit) X(C_EncryptMessage) X(C_EncryptMessageBegin) \
    X(C_EncryptMessageNext) X(C_MessageEncryptFinal) X(C_MessageDecryptInit) \
    X(C_DecryptMessage) X(C_DecryptMessageBegin) X(C_DecryptMessageNext) \
    X(C_MessageDecryptFinal) X(C_MessageSignInit) X(C_SignMessage) X(C_SignMessageBegin) \
    X(C_SignMessageNext) X(C_MessageSignFinal) X(C_MessageVerifyInit) X(C_VerifyMessage) \
    X(C_VerifyMessageBegin) X(C_VerifyMessageNext) X(C_MessageVerifyFinal)

static void *module;

/* The address a function pointer holds, for comparison with dlsym() results. */
static void *address_of(const void *member, size_t size)
{
    void *p = NULL;

    memcpy(&p, member, size < sizeof p ? size : sizeof p);
    return p;
}

/* A table member is non-NULL and, unless `own` is set (an entry the table deliberately does
 * not share with the exported symbol), is the module's exported function of that name. A
 * mismatch there means the table's member order differs from pkcs11.h's. */
static void check_member(const char *table, const char *name, const void *member, size_t size,
                         int own)
{
    void *p = address_of(member, size);
    void *sym;

    check(p != NULL, "%s table: %s is NULL", table, name);
    if (p == NULL || own)
        return;
    sym = dlsym(module, name);
    check(sym != NULL, "module does not export %s", name);
    if (sym != NULL)
        check(p == sym, "%s table: the %s slot does not hold the exported %s (member order?)",
              table, name, name);
}

static unsigned long count_members;

#define CHECK_2_40_MEMBER(fn) \
    check_member("2.40", #fn, &f2->fn, sizeof f2->fn, 0); \
    count_members++;
#define CHECK_3_0_MEMBER(fn) \
    check_member("3.0", #fn, &f3->fn, sizeof f3->fn, strcmp(#fn, "C_GetInfo") == 0); \
    count_members++;

/* ---------------------------------------------------------------------------------------- */
/* Application mutex callbacks                                                               */
/* ---------------------------------------------------------------------------------------- */

static unsigned long mutex_calls;

static CK_RV app_create_mutex(CK_VOID_PTR_PTR ppMutex)
{
    pthread_mutex_t *m;

    __sync_fetch_and_add(&mutex_calls, 1);
    if (ppMutex == NULL)
        return CKR_ARGUMENTS_BAD;
    m = malloc(sizeof *m);
    if (m == NULL)
        return CKR_HOST_MEMORY;
    if (pthread_mutex_init(m, NULL) != 0) {
        free(m);
        return CKR_GENERAL_ERROR;
    }
    *ppMutex = m;
    return CKR_OK;
}

static CK_RV app_destroy_mutex(CK_VOID_PTR pMutex)
{
    __sync_fetch_and_add(&mutex_calls, 1);
    if (pMutex == NULL)
        return CKR_MUTEX_BAD;
    if (pthread_mutex_destroy(pMutex) != 0)
        return CKR_MUTEX_BAD;
    free(pMutex);
    return CKR_OK;
}

static CK_RV app_lock_mutex(CK_VOID_PTR pMutex)
{
    __sync_fetch_and_add(&mutex_calls, 1);
    if (pMutex == NULL)
        return CKR_MUTEX_BAD;
    return pthread_mutex_lock(pMutex) == 0 ? CKR_OK : CKR_MUTEX_BAD;
}

static CK_RV app_unlock_mutex(CK_VOID_PTR pMutex)
{
    __sync_fetch_and_add(&mutex_calls, 1);
    if (pMutex == NULL)
        return CKR_MUTEX_BAD;
    return pthread_mutex_unlock(pMutex) == 0 ? CKR_OK : CKR_MUTEX_NOT_LOCKED;
}

/* ---------------------------------------------------------------------------------------- */
/* The checks                                                                                */
/* ---------------------------------------------------------------------------------------- */

static CK_FUNCTION_LIST_PTR f2;
static CK_FUNCTION_LIST_3_0_PTR f3;

static CK_VERSION version_of(CK_VOID_PTR table)
{
    CK_VERSION v;

    memcpy(&v, table, sizeof v);
    return v;
}

static int is_version(CK_VERSION v, int major, int minor)
{
    return v.major == major && v.minor == minor;
}

static void check_function_list(CK_C_GetFunctionList get_function_list)
{
    CK_RV rv;

    expect_rv("C_GetFunctionList(NULL)", get_function_list(NULL), CKR_ARGUMENTS_BAD);
    rv = get_function_list(&f2);
    expect_rv("C_GetFunctionList", rv, CKR_OK);
    if (rv != CKR_OK || f2 == NULL) {
        check(0, "C_GetFunctionList gave no table");
        return;
    }
    check(is_version(f2->version, 2, 40), "C_GetFunctionList: table version %d.%d, expected 2.40",
          f2->version.major, f2->version.minor);
    count_members = 0;
    FUNCTIONS_2_40(CHECK_2_40_MEMBER)
    check(count_members == 68, "2.40 table: checked %lu members, expected 68", count_members);
}

static void check_interfaces(CK_C_GetInterfaceList get_interface_list,
                             CK_C_GetInterface get_interface)
{
    CK_INTERFACE list[4];
    CK_ULONG count = 0;
    CK_INTERFACE_PTR iface = NULL;
    CK_UTF8CHAR name[] = "PKCS 11";
    CK_UTF8CHAR wrong_name[] = "PKCS 11 extra";
    CK_VERSION v240 = {2, 40};
    CK_VERSION v30 = {3, 0};
    CK_VERSION v99 = {9, 9};
    CK_RV rv;

    expect_rv("C_GetInterfaceList(NULL, NULL)", get_interface_list(NULL, NULL),
              CKR_ARGUMENTS_BAD);
    rv = get_interface_list(NULL, &count);
    expect_rv("C_GetInterfaceList count query", rv, CKR_OK);
    check(count == 2, "C_GetInterfaceList count query: %lu interfaces, expected 2", count);

    count = 1;
    rv = get_interface_list(list, &count);
    expect_rv("C_GetInterfaceList with room for 1", rv, CKR_BUFFER_TOO_SMALL);
    check(count == 2, "C_GetInterfaceList with room for 1: count %lu, expected 2", count);

    count = 4;
    memset(list, 0, sizeof list);
    rv = get_interface_list(list, &count);
    expect_rv("C_GetInterfaceList", rv, CKR_OK);
    check(count == 2, "C_GetInterfaceList: %lu interfaces, expected 2", count);
    if (rv == CKR_OK && count == 2) {
        int i;

        for (i = 0; i < 2; i++) {
            check(list[i].pInterfaceName != NULL &&
                      strcmp((const char *)list[i].pInterfaceName, "PKCS 11") == 0,
                  "C_GetInterfaceList: interface %d is not named \"PKCS 11\"", i);
            check(list[i].pFunctionList != NULL, "C_GetInterfaceList: interface %d has no table",
                  i);
        }
        if (list[0].pFunctionList != NULL && list[1].pFunctionList != NULL) {
            CK_VERSION a = version_of(list[0].pFunctionList);
            CK_VERSION b = version_of(list[1].pFunctionList);

            check(is_version(a, 3, 0), "C_GetInterfaceList: first interface is %d.%d, expected 3.0",
                  a.major, a.minor);
            check(is_version(b, 2, 40),
                  "C_GetInterfaceList: second interface is %d.%d, expected 2.40", b.major,
                  b.minor);
            check(list[1].pFunctionList == (CK_VOID_PTR)f2,
                  "C_GetInterfaceList: the 2.40 interface is not C_GetFunctionList's table");
        }
    }

    expect_rv("C_GetInterface(NULL, NULL, NULL, 0)", get_interface(NULL, NULL, NULL, 0),
              CKR_ARGUMENTS_BAD);
    rv = get_interface(NULL, NULL, &iface, 0);
    expect_rv("C_GetInterface(NULL, NULL) (the default)", rv, CKR_OK);
    if (rv == CKR_OK && iface != NULL && iface->pFunctionList != NULL) {
        CK_VERSION v = version_of(iface->pFunctionList);

        check(is_version(v, 3, 0), "C_GetInterface default: version %d.%d, expected 3.0", v.major,
              v.minor);
        f3 = (CK_FUNCTION_LIST_3_0_PTR)iface->pFunctionList;
    } else {
        check(0, "C_GetInterface default: no interface");
    }

    iface = NULL;
    rv = get_interface(name, &v240, &iface, 0);
    expect_rv("C_GetInterface(\"PKCS 11\", 2.40)", rv, CKR_OK);
    check(rv == CKR_OK && iface != NULL && iface->pFunctionList == (CK_VOID_PTR)f2,
          "C_GetInterface(\"PKCS 11\", 2.40) is not the table of C_GetFunctionList");

    iface = NULL;
    rv = get_interface(name, &v30, &iface, 0);
    expect_rv("C_GetInterface(\"PKCS 11\", 3.0)", rv, CKR_OK);
    check(rv == CKR_OK && iface != NULL && iface->pFunctionList == (CK_VOID_PTR)f3,
          "C_GetInterface(\"PKCS 11\", 3.0) is not the default table");

    iface = NULL;
    expect_rv("C_GetInterface(wrong name)", get_interface(wrong_name, NULL, &iface, 0),
              CKR_ARGUMENTS_BAD);
    expect_rv("C_GetInterface(version 9.9)", get_interface(NULL, &v99, &iface, 0),
              CKR_ARGUMENTS_BAD);
    expect_rv("C_GetInterface(\"PKCS 11\", version 9.9)", get_interface(name, &v99, &iface, 0),
              CKR_ARGUMENTS_BAD);

    if (f3 != NULL) {
        count_members = 0;
        FUNCTIONS_2_40(CHECK_3_0_MEMBER)
        FUNCTIONS_3_0_ADDED(CHECK_3_0_MEMBER)
        check(count_members == 92, "3.0 table: checked %lu members, expected 92", count_members);
    }
}

#define NOT_INIT(call) expect_rv(#call " before C_Initialize", call, CKR_CRYPTOKI_NOT_INITIALIZED)

/* Every entry point of the 3.0 table except the four that work without initialisation. */
static void check_before_initialize(void)
{
    NOT_INIT(f2->C_GetInfo(NULL));
    NOT_INIT(f3->C_Finalize(NULL));
    NOT_INIT(f3->C_GetInfo(NULL));
    NOT_INIT(f3->C_GetSlotList(CK_FALSE, NULL, NULL));
    NOT_INIT(f3->C_GetSlotInfo(0, NULL));
    NOT_INIT(f3->C_GetTokenInfo(0, NULL));
    NOT_INIT(f3->C_GetMechanismList(0, NULL, NULL));
    NOT_INIT(f3->C_GetMechanismInfo(0, 0, NULL));
    NOT_INIT(f3->C_InitToken(0, NULL, 0, NULL));
    NOT_INIT(f3->C_InitPIN(0, NULL, 0));
    NOT_INIT(f3->C_SetPIN(0, NULL, 0, NULL, 0));
    NOT_INIT(f3->C_OpenSession(0, 0, NULL, NULL, NULL));
    NOT_INIT(f3->C_CloseSession(0));
    NOT_INIT(f3->C_CloseAllSessions(0));
    NOT_INIT(f3->C_GetSessionInfo(0, NULL));
    NOT_INIT(f3->C_GetOperationState(0, NULL, NULL));
    NOT_INIT(f3->C_SetOperationState(0, NULL, 0, 0, 0));
    NOT_INIT(f3->C_Login(0, 0, NULL, 0));
    NOT_INIT(f3->C_Logout(0));
    NOT_INIT(f3->C_CreateObject(0, NULL, 0, NULL));
    NOT_INIT(f3->C_CopyObject(0, 0, NULL, 0, NULL));
    NOT_INIT(f3->C_DestroyObject(0, 0));
    NOT_INIT(f3->C_GetObjectSize(0, 0, NULL));
    NOT_INIT(f3->C_GetAttributeValue(0, 0, NULL, 0));
    NOT_INIT(f3->C_SetAttributeValue(0, 0, NULL, 0));
    NOT_INIT(f3->C_FindObjectsInit(0, NULL, 0));
    NOT_INIT(f3->C_FindObjects(0, NULL, 0, NULL));
    NOT_INIT(f3->C_FindObjectsFinal(0));
    NOT_INIT(f3->C_EncryptInit(0, NULL, 0));
    NOT_INIT(f3->C_Encrypt(0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_EncryptUpdate(0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_EncryptFinal(0, NULL, NULL));
    NOT_INIT(f3->C_DecryptInit(0, NULL, 0));
    NOT_INIT(f3->C_Decrypt(0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_DecryptUpdate(0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_DecryptFinal(0, NULL, NULL));
    NOT_INIT(f3->C_DigestInit(0, NULL));
    NOT_INIT(f3->C_Digest(0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_DigestUpdate(0, NULL, 0));
    NOT_INIT(f3->C_DigestKey(0, 0));
    NOT_INIT(f3->C_DigestFinal(0, NULL, NULL));
    NOT_INIT(f3->C_SignInit(0, NULL, 0));
    NOT_INIT(f3->C_Sign(0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_SignUpdate(0, NULL, 0));
    NOT_INIT(f3->C_SignFinal(0, NULL, NULL));
    NOT_INIT(f3->C_SignRecoverInit(0, NULL, 0));
    NOT_INIT(f3->C_SignRecover(0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_VerifyInit(0, NULL, 0));
    NOT_INIT(f3->C_Verify(0, NULL, 0, NULL, 0));
    NOT_INIT(f3->C_VerifyUpdate(0, NULL, 0));
    NOT_INIT(f3->C_VerifyFinal(0, NULL, 0));
    NOT_INIT(f3->C_VerifyRecoverInit(0, NULL, 0));
    NOT_INIT(f3->C_VerifyRecover(0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_DigestEncryptUpdate(0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_DecryptDigestUpdate(0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_SignEncryptUpdate(0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_DecryptVerifyUpdate(0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_GenerateKey(0, NULL, NULL, 0, NULL));
    NOT_INIT(f3->C_GenerateKeyPair(0, NULL, NULL, 0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_WrapKey(0, NULL, 0, 0, NULL, NULL));
    NOT_INIT(f3->C_UnwrapKey(0, NULL, 0, NULL, 0, NULL, 0, NULL));
    NOT_INIT(f3->C_DeriveKey(0, NULL, 0, NULL, 0, NULL));
    NOT_INIT(f3->C_SeedRandom(0, NULL, 0));
    NOT_INIT(f3->C_GenerateRandom(0, NULL, 0));
    NOT_INIT(f3->C_GetFunctionStatus(0));
    NOT_INIT(f3->C_CancelFunction(0));
    NOT_INIT(f3->C_WaitForSlotEvent(0, NULL, NULL));
    NOT_INIT(f3->C_LoginUser(0, 0, NULL, 0, NULL, 0));
    NOT_INIT(f3->C_SessionCancel(0, 0));
    NOT_INIT(f3->C_MessageEncryptInit(0, NULL, 0));
    NOT_INIT(f3->C_EncryptMessage(0, NULL, 0, NULL, 0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_EncryptMessageBegin(0, NULL, 0, NULL, 0));
    NOT_INIT(f3->C_EncryptMessageNext(0, NULL, 0, NULL, 0, NULL, NULL, 0));
    NOT_INIT(f3->C_MessageEncryptFinal(0));
    NOT_INIT(f3->C_MessageDecryptInit(0, NULL, 0));
    NOT_INIT(f3->C_DecryptMessage(0, NULL, 0, NULL, 0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_DecryptMessageBegin(0, NULL, 0, NULL, 0));
    NOT_INIT(f3->C_DecryptMessageNext(0, NULL, 0, NULL, 0, NULL, NULL, 0));
    NOT_INIT(f3->C_MessageDecryptFinal(0));
    NOT_INIT(f3->C_MessageSignInit(0, NULL, 0));
    NOT_INIT(f3->C_SignMessage(0, NULL, 0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_SignMessageBegin(0, NULL, 0));
    NOT_INIT(f3->C_SignMessageNext(0, NULL, 0, NULL, 0, NULL, NULL));
    NOT_INIT(f3->C_MessageSignFinal(0));
    NOT_INIT(f3->C_MessageVerifyInit(0, NULL, 0));
    NOT_INIT(f3->C_VerifyMessage(0, NULL, 0, NULL, 0, NULL, 0));
    NOT_INIT(f3->C_VerifyMessageBegin(0, NULL, 0));
    NOT_INIT(f3->C_VerifyMessageNext(0, NULL, 0, NULL, 0, NULL, 0));
    NOT_INIT(f3->C_MessageVerifyFinal(0));
}

static int padded_equals(const CK_UTF8CHAR *field, size_t size, const char *text)
{
    size_t n = strlen(text);
    size_t i;

    if (n > size || memcmp(field, text, n) != 0)
        return 0;
    for (i = n; i < size; i++)
        if (field[i] != ' ')
            return 0;
    return 1;
}

static void check_info(const char *what, CK_C_GetInfo get_info, int major, int minor)
{
    CK_INFO info;
    CK_RV rv;

    memset(&info, 0, sizeof info);
    rv = get_info(&info);
    expect_rv(what, rv, CKR_OK);
    if (rv != CKR_OK)
        return;
    check(is_version(info.cryptokiVersion, major, minor),
          "%s: cryptokiVersion %d.%d, expected %d.%d", what, info.cryptokiVersion.major,
          info.cryptokiVersion.minor, major, minor);
    check(padded_equals(info.manufacturerID, sizeof info.manufacturerID, CUSTOS_MANUFACTURER_ID),
          "%s: manufacturerID is not \"%s\" padded with blanks", what, CUSTOS_MANUFACTURER_ID);
    check(info.flags == 0, "%s: flags 0x%lx, expected 0", what, info.flags);
}

static void check_initialize_and_finalize(void)
{
    CK_C_INITIALIZE_ARGS create_destroy_only;
    CK_C_INITIALIZE_ARGS lock_unlock_only;
    CK_C_INITIALIZE_ARGS all_four;
    int reserved = 0;
    CK_RV rv;

    memset(&create_destroy_only, 0, sizeof create_destroy_only);
    create_destroy_only.CreateMutex = app_create_mutex;
    create_destroy_only.DestroyMutex = app_destroy_mutex;
    expect_rv("C_Initialize with only CreateMutex and DestroyMutex",
              f3->C_Initialize(&create_destroy_only), CKR_ARGUMENTS_BAD);

    memset(&lock_unlock_only, 0, sizeof lock_unlock_only);
    lock_unlock_only.LockMutex = app_lock_mutex;
    lock_unlock_only.UnlockMutex = app_unlock_mutex;
    lock_unlock_only.flags = CKF_OS_LOCKING_OK;
    expect_rv("C_Initialize with only LockMutex and UnlockMutex",
              f3->C_Initialize(&lock_unlock_only), CKR_ARGUMENTS_BAD);
    expect_rv("C_GetInfo after a refused C_Initialize", f3->C_GetInfo(NULL),
              CKR_CRYPTOKI_NOT_INITIALIZED);

    memset(&all_four, 0, sizeof all_four);
    all_four.CreateMutex = app_create_mutex;
    all_four.DestroyMutex = app_destroy_mutex;
    all_four.LockMutex = app_lock_mutex;
    all_four.UnlockMutex = app_unlock_mutex;
    all_four.flags = 0;
    rv = f3->C_Initialize(&all_four);
    expect_rv("C_Initialize with four application mutex callbacks, no CKF_OS_LOCKING_OK", rv,
              CKR_OK);
    if (rv != CKR_OK)
        return;
    expect_rv("C_Initialize while initialised", f3->C_Initialize(&all_four),
              CKR_CRYPTOKI_ALREADY_INITIALIZED);
    expect_rv("C_Initialize(NULL) while initialised", f2->C_Initialize(NULL),
              CKR_CRYPTOKI_ALREADY_INITIALIZED);

    check_info("C_GetInfo through the 2.40 table", f2->C_GetInfo, 2, 40);
    check_info("C_GetInfo through the 3.0 table", f3->C_GetInfo, 3, 0);

    expect_rv("C_Finalize(NULL)", f3->C_Finalize(NULL), CKR_OK);
    expect_rv("C_Finalize(NULL) again", f3->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
    expect_rv("C_GetInfo after C_Finalize", f2->C_GetInfo(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
    printf("note: the application mutex callbacks were called %lu times\n", mutex_calls);

    expect_rv("C_Initialize(NULL) after C_Finalize", f2->C_Initialize(NULL), CKR_OK);
    expect_rv("C_Finalize with non-NULL pReserved", f3->C_Finalize(&reserved),
              CKR_ARGUMENTS_BAD);
    check_info("C_GetInfo after the refused C_Finalize", f2->C_GetInfo, 2, 40);
}

#define UNOFFERED(call) \
    expect_rv2(#call, call, CKR_FUNCTION_NOT_SUPPORTED, CKR_SESSION_HANDLE_INVALID)
#define LEGACY(call) \
    expect_rv2(#call, call, CKR_FUNCTION_NOT_PARALLEL, CKR_SESSION_HANDLE_INVALID)

/* The functions Custos does not offer, called with a session handle that does not exist and
 * otherwise well-formed arguments. */
static void check_unoffered(CK_SESSION_HANDLE h)
{
    CK_BYTE buf[256];
    CK_BYTE data[32];
    CK_BYTE iv[12];
    CK_ULONG len = sizeof buf;
    CK_OBJECT_HANDLE key = 1;
    CK_OBJECT_HANDLE out_key = CK_INVALID_HANDLE;
    CK_OBJECT_CLASS cls = CKO_SECRET_KEY;
    CK_ATTRIBUTE tmpl[1];
    CK_MECHANISM wrap = {CKM_AES_KEY_WRAP_KWP, NULL, 0};
    CK_MECHANISM derive = {CKM_SHA256_KEY_DERIVATION, NULL, 0};
    CK_MECHANISM recover = {CKM_RSA_PKCS, NULL, 0};
    CK_MECHANISM gcm_mech = {CKM_AES_GCM, NULL, 0};
    CK_MECHANISM hmac = {CKM_SHA256_HMAC, NULL, 0};
    CK_GCM_PARAMS gcm;

    memset(buf, 0, sizeof buf);
    memset(data, 0x5a, sizeof data);
    memset(iv, 0, sizeof iv);
    tmpl[0].type = CKA_CLASS;
    tmpl[0].pValue = &cls;
    tmpl[0].ulValueLen = sizeof cls;
    memset(&gcm, 0, sizeof gcm);
    gcm.pIv = iv;
    gcm.ulIvLen = sizeof iv;
    gcm.ulIvBits = 8 * sizeof iv;
    gcm.ulTagBits = 128;

    UNOFFERED(f3->C_GetOperationState(h, buf, &len));
    len = sizeof buf;
    UNOFFERED(f3->C_SetOperationState(h, buf, 16, CK_INVALID_HANDLE, CK_INVALID_HANDLE));
    UNOFFERED(f3->C_SignRecoverInit(h, &recover, key));
    UNOFFERED(f3->C_SignRecover(h, data, sizeof data, buf, &len));
    len = sizeof buf;
    UNOFFERED(f3->C_VerifyRecoverInit(h, &recover, key));
    UNOFFERED(f3->C_VerifyRecover(h, data, sizeof data, buf, &len));
    len = sizeof buf;
    UNOFFERED(f3->C_DigestEncryptUpdate(h, data, sizeof data, buf, &len));
    len = sizeof buf;
    UNOFFERED(f3->C_DecryptDigestUpdate(h, data, sizeof data, buf, &len));
    len = sizeof buf;
    UNOFFERED(f3->C_SignEncryptUpdate(h, data, sizeof data, buf, &len));
    len = sizeof buf;
    UNOFFERED(f3->C_DecryptVerifyUpdate(h, data, sizeof data, buf, &len));
    len = sizeof buf;
    UNOFFERED(f3->C_WrapKey(h, &wrap, key, key + 1, buf, &len));
    len = sizeof buf;
    UNOFFERED(f3->C_UnwrapKey(h, &wrap, key, data, 24, tmpl, 1, &out_key));
    UNOFFERED(f3->C_DeriveKey(h, &derive, key, tmpl, 1, &out_key));
    UNOFFERED(f3->C_LoginUser(h, CKU_USER, data, 8, data, 8));
    UNOFFERED(f3->C_SessionCancel(h, CKF_ENCRYPT | CKF_SIGN));

    UNOFFERED(f3->C_MessageEncryptInit(h, &gcm_mech, key));
    UNOFFERED(f3->C_EncryptMessage(h, &gcm, sizeof gcm, data, 8, data, sizeof data, buf, &len));
    len = sizeof buf;
    UNOFFERED(f3->C_EncryptMessageBegin(h, &gcm, sizeof gcm, data, 8));
    UNOFFERED(f3->C_EncryptMessageNext(h, &gcm, sizeof gcm, data, sizeof data, buf, &len,
                                       CKF_END_OF_MESSAGE));
    len = sizeof buf;
    UNOFFERED(f3->C_MessageEncryptFinal(h));
    UNOFFERED(f3->C_MessageDecryptInit(h, &gcm_mech, key));
    UNOFFERED(f3->C_DecryptMessage(h, &gcm, sizeof gcm, data, 8, data, sizeof data, buf, &len));
    len = sizeof buf;
    UNOFFERED(f3->C_DecryptMessageBegin(h, &gcm, sizeof gcm, data, 8));
    UNOFFERED(f3->C_DecryptMessageNext(h, &gcm, sizeof gcm, data, sizeof data, buf, &len,
                                       CKF_END_OF_MESSAGE));
    len = sizeof buf;
    UNOFFERED(f3->C_MessageDecryptFinal(h));
    UNOFFERED(f3->C_MessageSignInit(h, &hmac, key));
    UNOFFERED(f3->C_SignMessage(h, NULL, 0, data, sizeof data, buf, &len));
    len = sizeof buf;
    UNOFFERED(f3->C_SignMessageBegin(h, NULL, 0));
    UNOFFERED(f3->C_SignMessageNext(h, NULL, 0, data, sizeof data, buf, &len));
    len = sizeof buf;
    UNOFFERED(f3->C_MessageSignFinal(h));
    UNOFFERED(f3->C_MessageVerifyInit(h, &hmac, key));
    UNOFFERED(f3->C_VerifyMessage(h, NULL, 0, data, sizeof data, buf, 32));
    UNOFFERED(f3->C_VerifyMessageBegin(h, NULL, 0));
    UNOFFERED(f3->C_VerifyMessageNext(h, NULL, 0, data, sizeof data, buf, 32));
    UNOFFERED(f3->C_MessageVerifyFinal(h));

    LEGACY(f3->C_GetFunctionStatus(h));
    LEGACY(f3->C_CancelFunction(h));
}

static void check_slot_list(long expected_slots)
{
    CK_SLOT_ID slots[65];
    CK_ULONG count = 0;
    CK_ULONG needed;
    CK_SLOT_ID event_slot = 0;
    CK_RV rv;
    CK_ULONG i, j;

    rv = f3->C_GetSlotList(CK_FALSE, NULL, &count);
    expect_rv("C_GetSlotList count query", rv, CKR_OK);
    if (rv != CKR_OK)
        return;
    check(count >= 1, "C_GetSlotList: no slots");
    if (expected_slots >= 0)
        check(count == (CK_ULONG)expected_slots, "C_GetSlotList: %lu slots, expected %ld", count,
              expected_slots);
    if (count < 1 || count > 64)
        return;
    needed = count;

    count = needed - 1;
    rv = f3->C_GetSlotList(CK_FALSE, slots, &count);
    expect_rv("C_GetSlotList with a buffer one too small", rv, CKR_BUFFER_TOO_SMALL);
    check(count == needed, "C_GetSlotList with a buffer one too small: count %lu, expected %lu",
          count, needed);

    count = 0;
    rv = f3->C_GetSlotList(CK_FALSE, slots, &count);
    expect_rv("C_GetSlotList with an empty buffer", rv, CKR_BUFFER_TOO_SMALL);
    check(count == needed, "C_GetSlotList with an empty buffer: count %lu, expected %lu", count,
          needed);

    count = needed + 1;
    rv = f3->C_GetSlotList(CK_FALSE, slots, &count);
    expect_rv("C_GetSlotList with room to spare", rv, CKR_OK);
    check(count == needed, "C_GetSlotList with room to spare: count %lu, expected %lu", count,
          needed);
    if (rv == CKR_OK && count == needed)
        for (i = 0; i < count; i++)
            for (j = i + 1; j < count; j++)
                check(slots[i] != slots[j], "C_GetSlotList: slot %lu listed twice", slots[i]);

    expect_rv2("C_WaitForSlotEvent(CKF_DONT_BLOCK)",
               f3->C_WaitForSlotEvent(CKF_DONT_BLOCK, &event_slot, NULL), CKR_NO_EVENT,
               CKR_FUNCTION_NOT_SUPPORTED);
}

int main(int argc, char **argv)
{
    CK_C_GetFunctionList get_function_list;
    CK_C_GetInterfaceList get_interface_list;
    CK_C_GetInterface get_interface;
    void *sym;
    long expected_slots = -1;

    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s MODULE.so [SLOT-COUNT]\n", argv[0]);
        return 2;
    }
    if (argc == 3)
        expected_slots = strtol(argv[2], NULL, 10);

    module = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
    if (module == NULL) {
        printf("FAIL: dlopen %s: %s\n", argv[1], dlerror());
        printf("c-abi: 0 passed, 1 failed\n");
        return 1;
    }

    sym = dlsym(module, "C_GetFunctionList");
    memcpy(&get_function_list, &sym, sizeof sym);
    sym = dlsym(module, "C_GetInterfaceList");
    memcpy(&get_interface_list, &sym, sizeof sym);
    sym = dlsym(module, "C_GetInterface");
    memcpy(&get_interface, &sym, sizeof sym);
    check(get_function_list != NULL, "module does not export C_GetFunctionList");
    check(get_interface_list != NULL, "module does not export C_GetInterfaceList");
    check(get_interface != NULL, "module does not export C_GetInterface");

    if (get_function_list != NULL)
        check_function_list(get_function_list);
    if (f2 != NULL && get_interface_list != NULL && get_interface != NULL)
        check_interfaces(get_interface_list, get_interface);

    if (f2 != NULL && f3 != NULL) {
        check_before_initialize();
        check_initialize_and_finalize();
        check_unoffered(CK_INVALID_HANDLE);
        check_unoffered(0x5eed1e55UL);
        check_slot_list(expected_slots);
        expect_rv("C_Finalize(NULL) at the end", f3->C_Finalize(NULL), CKR_OK);
    } else {
        check(0, "no function tables; the remaining checks were not run");
    }

    /* The module stays loaded: unloading a Rust cdylib that registered thread-local
     * destructors is not something this check needs to exercise. */
    printf("c-abi: %lu passed, %lu failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
