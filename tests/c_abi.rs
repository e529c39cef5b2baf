//! The C ABI as a C or C++ application sees it: `include/pkcs11.h` and `include/custos.h`
//! compile as C and C++ and have the LP64 layout, and `tests/c/abi_check.c`, built against
//! them, passes against the module this build produced.
//!
//! Needs `gcc` and `g++` (Debian packages `gcc` and `g++`); the tests fail, naming the package,
//! when either is missing.

use std::path::PathBuf;
use std::process::{Command, Output};

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn include_dir() -> PathBuf {
    crate_dir().join("include")
}

/// The module built alongside this test. The test binary is `target/<profile>/deps/c_abi-*`.
/// Building the tests writes the module to `deps/` beside it; only `cargo build` copies it two
/// levels up to `target/<profile>/libcustos_pkcs11.so`, so that copy can be older than this
/// build. The `deps/` one is preferred for that reason.
fn module_path() -> PathBuf {
    let exe = std::env::current_exe().expect("the test binary's path");
    let deps = exe
        .parent()
        .expect("the test binary lives in target/<profile>/deps");
    let candidates = [
        deps.join("libcustos_pkcs11.so"),
        deps.parent()
            .map(|p| p.join("libcustos_pkcs11.so"))
            .unwrap_or_default(),
    ];
    candidates
        .iter()
        .find(|p| p.is_file())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "the module is not at {} or {}; build it with `cargo build`",
                candidates[0].display(),
                candidates[1].display()
            )
        })
}

/// Runs a compiler or program, failing with a clear message when the tool is not installed.
fn run(cmd: &mut Command, tool: &str, package: &str) -> Output {
    match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`{tool}` was not found: install {tool} (Debian package `{package}`)")
        }
        Err(e) => panic!("cannot run `{tool}`: {e}"),
    }
}

/// Runs a compiler and requires it to succeed, showing its diagnostics otherwise.
fn compile(cmd: &mut Command, tool: &str, package: &str, what: &str) {
    let out = run(cmd, tool, package);
    assert!(
        out.status.success(),
        "{what} failed to compile ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn gcc() -> Command {
    Command::new("gcc")
}

fn gxx() -> Command {
    Command::new("g++")
}

#[test]
fn c_program_checks_the_module_abi() {
    let module = module_path();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let exe = dir.path().join("abi_check");
    compile(
        gcc()
            .args(["-Wall", "-Wextra", "-Werror", "-I"])
            .arg(include_dir())
            .arg("-o")
            .arg(&exe)
            .arg(crate_dir().join("tests/c/abi_check.c"))
            .args(["-ldl", "-pthread"]),
        "gcc",
        "gcc",
        "tests/c/abi_check.c",
    );

    let store = dir.path().join("store");
    std::fs::create_dir(&store).expect("the store directory");
    custos_pkcs11::engine::provision::create_dev_store(&store, 4).expect("a --dev store");

    let out = run(
        Command::new(&exe)
            .arg(&module)
            .arg("4")
            .env("CUSTOS_STORE", &store)
            .env("CUSTOS_QUIET", "1")
            .env_remove("CUSTOS_CONF")
            .env_remove("CUSTOS_DEBUG"),
        "abi_check",
        "gcc",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("{stdout}");
    if !stderr.is_empty() {
        println!("stderr:\n{stderr}");
    }
    let summary = stdout
        .lines()
        .last()
        .expect("abi_check printed nothing")
        .to_owned();
    assert!(
        summary.starts_with("c-abi: ") && summary.ends_with(", 0 failed"),
        "abi_check reported failures: {summary}"
    );
    assert!(out.status.success(), "abi_check exited with {}", out.status);
    let passed: u32 = summary
        .trim_start_matches("c-abi: ")
        .split(' ')
        .next()
        .and_then(|n| n.parse().ok())
        .expect("a pass count");
    // 68 + 92 table members alone, each checked for NULL and against its exported symbol.
    assert!(passed > 300, "abi_check ran only {passed} checks");
}

/// The headers are valid C++ (and usable from it: `extern "C"`, no C-only constructs).
#[test]
fn headers_compile_as_cplusplus() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let src = dir.path().join("headers.cpp");
    std::fs::write(
        &src,
        r#"#include "custos.h"
#include "pkcs11.h"
#include <cstring>

static_assert(sizeof(CK_ULONG) == 8, "CK_ULONG is 64 bits");
static_assert(sizeof(CK_FUNCTION_LIST) == 552, "the 2.40 table");
static_assert(sizeof(CK_FUNCTION_LIST_3_0) == 744, "the 3.0 table");
static_assert(CKM_CUSTOS_AES_KEY_WRAP_KWP_LEGACY == CKM_AES_KEY_WRAP_PAD, "the 0x210A alias");
static_assert(CKM_AES_KEY_WRAP_KWP == 0x210BUL, "RFC 5649 key wrap");

extern "C" CK_RV ck_notify(CK_SESSION_HANDLE, CK_NOTIFICATION, CK_VOID_PTR) { return CKR_OK; }

int use_tables(CK_FUNCTION_LIST_3_0_PTR f, CK_C_GetInterface get)
{
    CK_INTERFACE_PTR iface = NULL_PTR;
    CK_UTF8CHAR name[] = "PKCS 11";
    CK_VERSION v = {3, 0};
    CK_SESSION_HANDLE h = CK_INVALID_HANDLE;
    CK_GCM_PARAMS gcm = {NULL_PTR, 12, 96, NULL_PTR, 0, 128};
    CK_MECHANISM m = {CKM_AES_GCM, &gcm, sizeof gcm};
    CK_ATTRIBUTE a = {CKA_LABEL, NULL_PTR, 0};
    if (get(name, &v, &iface, 0) != CKR_OK)
        return 1;
    if (f->C_OpenSession(0, CKF_SERIAL_SESSION, NULL_PTR, ck_notify, &h) != CKR_OK)
        return 2;
    (void)m;
    (void)a;
    return std::strcmp(CUSTOS_MODULE_NAME, "libcustos_pkcs11.so") == 0 &&
                   std::strcmp(CUSTOS_ENV_STORE, "CUSTOS_STORE") == 0
               ? 0
               : 3;
}

// The prototypes link against the module's symbols by name, with C linkage.
CK_C_Initialize direct = &C_Initialize;
CK_C_MessageVerifyFinal direct3 = &C_MessageVerifyFinal;
"#,
    )
    .expect("the C++ source");
    compile(
        gxx()
            .args([
                "-std=c++11",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-pedantic",
                "-c",
                "-I",
            ])
            .arg(include_dir())
            .arg("-o")
            .arg(dir.path().join("headers.o"))
            .arg(&src),
        "g++",
        "g++",
        "headers.cpp",
    );
    let nm = run(
        Command::new("nm")
            .arg("--undefined-only")
            .arg(dir.path().join("headers.o")),
        "nm",
        "binutils",
    );
    let symbols = String::from_utf8_lossy(&nm.stdout);
    assert!(
        symbols
            .lines()
            .any(|l| l.split_whitespace().last() == Some("C_Initialize")),
        "C_Initialize is not referenced with C linkage from C++:\n{symbols}"
    );
}

/// The layout on LP64: the sizes and offsets cryptoki-sys (and so the module) uses. Also
/// checks that the headers need nothing beyond C89.
#[test]
fn header_layout_is_lp64() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let src = dir.path().join("layout.c");
    std::fs::write(
        &src,
        r#"#include <stddef.h>
#include "pkcs11.h"
#include "custos.h"

_Static_assert(sizeof(CK_ULONG) == 8, "CK_ULONG");
_Static_assert(sizeof(CK_BBOOL) == 1, "CK_BBOOL");
_Static_assert(offsetof(CK_FUNCTION_LIST, C_Initialize) == 8, "C_Initialize");
_Static_assert(offsetof(CK_FUNCTION_LIST, C_WaitForSlotEvent) == 544, "C_WaitForSlotEvent");
_Static_assert(sizeof(CK_FUNCTION_LIST) == 552, "CK_FUNCTION_LIST");
_Static_assert(offsetof(CK_FUNCTION_LIST_3_0, C_WaitForSlotEvent) == 544, "3.0 C_WaitForSlotEvent");
_Static_assert(offsetof(CK_FUNCTION_LIST_3_0, C_GetInterfaceList) == 552, "C_GetInterfaceList");
_Static_assert(offsetof(CK_FUNCTION_LIST_3_0, C_MessageVerifyFinal) == 736, "C_MessageVerifyFinal");
_Static_assert(sizeof(CK_FUNCTION_LIST_3_0) == 744, "CK_FUNCTION_LIST_3_0");
_Static_assert(sizeof(CK_GCM_PARAMS) == 48, "CK_GCM_PARAMS");
_Static_assert(offsetof(CK_GCM_PARAMS, ulIvBits) == 16, "CK_GCM_PARAMS.ulIvBits");
_Static_assert(sizeof(CK_CCM_PARAMS) == 48, "CK_CCM_PARAMS");
_Static_assert(sizeof(CK_TOKEN_INFO) == 208, "CK_TOKEN_INFO");
_Static_assert(offsetof(CK_TOKEN_INFO, flags) == 96, "CK_TOKEN_INFO.flags");
_Static_assert(offsetof(CK_TOKEN_INFO, utcTime) == 188, "CK_TOKEN_INFO.utcTime");
_Static_assert(sizeof(CK_INFO) == 88, "CK_INFO");
_Static_assert(offsetof(CK_INFO, flags) == 40, "CK_INFO.flags");
_Static_assert(sizeof(CK_SLOT_INFO) == 112, "CK_SLOT_INFO");
_Static_assert(sizeof(CK_SESSION_INFO) == 32, "CK_SESSION_INFO");
_Static_assert(sizeof(CK_ATTRIBUTE) == 24, "CK_ATTRIBUTE");
_Static_assert(sizeof(CK_MECHANISM) == 24, "CK_MECHANISM");
_Static_assert(sizeof(CK_MECHANISM_INFO) == 24, "CK_MECHANISM_INFO");
_Static_assert(sizeof(CK_DATE) == 8, "CK_DATE");
_Static_assert(sizeof(CK_C_INITIALIZE_ARGS) == 48, "CK_C_INITIALIZE_ARGS");
_Static_assert(sizeof(CK_INTERFACE) == 24, "CK_INTERFACE");
_Static_assert(sizeof(CK_RSA_PKCS_PSS_PARAMS) == 24, "CK_RSA_PKCS_PSS_PARAMS");
_Static_assert(sizeof(CK_RSA_PKCS_OAEP_PARAMS) == 40, "CK_RSA_PKCS_OAEP_PARAMS");
_Static_assert(sizeof(CK_ECDH1_DERIVE_PARAMS) == 40, "CK_ECDH1_DERIVE_PARAMS");
_Static_assert(sizeof(CK_AES_CTR_PARAMS) == 24, "CK_AES_CTR_PARAMS");
_Static_assert(sizeof(CK_HKDF_PARAMS) == 64, "CK_HKDF_PARAMS");
_Static_assert(offsetof(CK_HKDF_PARAMS, prfHashMechanism) == 8, "CK_HKDF_PARAMS.prfHashMechanism");
_Static_assert(sizeof(CK_EDDSA_PARAMS) == 24, "CK_EDDSA_PARAMS");
_Static_assert(sizeof(CK_KEY_DERIVATION_STRING_DATA) == 16, "CK_KEY_DERIVATION_STRING_DATA");
_Static_assert(CK_UNAVAILABLE_INFORMATION == 0xFFFFFFFFFFFFFFFFUL, "CK_UNAVAILABLE_INFORMATION");
_Static_assert(CKA_WRAP_TEMPLATE == 0x40000211UL, "CKA_WRAP_TEMPLATE");
_Static_assert(CKM_AES_KEY_WRAP_KWP == 0x210BUL, "CKM_AES_KEY_WRAP_KWP");

int layout_checked(void) { return 0; }
"#,
    )
    .expect("the C source");
    compile(
        gcc()
            .args([
                "-std=c11",
                "-pedantic",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-c",
                "-I",
            ])
            .arg(include_dir())
            .arg("-o")
            .arg(dir.path().join("layout.o"))
            .arg(&src),
        "gcc",
        "gcc",
        "layout.c",
    );

    let c89 = dir.path().join("c89.c");
    std::fs::write(
        &c89,
        "#include \"custos.h\"\n#include \"pkcs11.h\"\nint c89_ok(void) { return (int)CKR_OK; }\n",
    )
    .expect("the C89 source");
    compile(
        gcc()
            .args([
                "-std=c89",
                "-pedantic-errors",
                "-Wall",
                "-Wextra",
                "-Werror",
                "-c",
                "-I",
            ])
            .arg(include_dir())
            .arg("-o")
            .arg(dir.path().join("c89.o"))
            .arg(&c89),
        "gcc",
        "gcc",
        "the headers as C89",
    );
}
