//! Interoperability with real PKCS#11 clients: runs the scripts in `tests/interop/` against the
//! freshly built module (`libcustos_pkcs11.so`) and `custos` binary.
//!
//! The clients are system tools from Debian packages (`opensc`, `openssl`, `pkcs11-provider`,
//! `libengine-pkcs11-openssl`, `gnutls-bin`, `p11-kit`, `openjdk-17-jdk-headless`), installed by
//! `scripts/setup.sh`. Without them a test fails, naming the package to install.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

fn on_path(tool: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|dir| dir.join(tool).is_file()))
        .unwrap_or(false)
}

/// The cdylib built alongside this test: `target/<profile>/libcustos_pkcs11.so`, two levels up
/// from `target/<profile>/deps/interop-<hash>`.
fn module_path() -> PathBuf {
    let exe = std::env::current_exe().expect("the path of the test binary");
    let deps = exe
        .parent()
        .expect("the test binary lives in target/<profile>/deps");
    let profile_dir = deps
        .parent()
        .expect("the test binary lives in target/<profile>/deps");
    // `cargo test` rebuilds the module in deps/ but refreshes the copy in target/<profile>/
    // only on `cargo build`: take whichever is newer, so a test never runs a stale module.
    let newest = [
        deps.join("libcustos_pkcs11.so"),
        profile_dir.join("libcustos_pkcs11.so"),
    ]
    .into_iter()
    .filter(|p| p.is_file())
    .max_by_key(|p| std::fs::metadata(p).and_then(|m| m.modified()).ok());
    let p = newest.unwrap_or_else(|| profile_dir.join("libcustos_pkcs11.so"));
    assert!(
        p.is_file(),
        "the PKCS#11 module {} does not exist; build it with `cargo build` first",
        p.display()
    );
    p
}

/// Runs `bash tests/interop/<script>` with MODULE, CUSTOS and WORK set, echoing its output line
/// by line; panics unless it exits 0 with the summary line `interop <suite>: N passed, 0 failed`.
fn run_script(script: &str, suite: &str, tools: &[(&str, &str)]) {
    run_script_in(script, suite, tools, false);
}

/// [`run_script`], with the store served by `custos serve` when `served` is set (the module
/// then forwards every call to the server).
fn run_script_in(script: &str, suite: &str, tools: &[(&str, &str)], served: bool) {
    for (tool, package) in tools {
        assert!(
            on_path(tool),
            "`{tool}` is not on PATH: install Debian package {package} (apt-get install {package})"
        );
    }
    let module = module_path();
    assert!(
        module.is_file(),
        "the PKCS#11 module {} was not built (run `cargo build`)",
        module.display()
    );
    let custos = PathBuf::from(env!("CARGO_BIN_EXE_custos"));
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/interop")
        .join(script);
    let work = tempfile::Builder::new()
        .prefix("custos-interop-")
        .tempdir()
        .expect("scratch directory");

    // `exec 2>&1` so stdout and stderr arrive in one stream, in order.
    let mut child = Command::new("bash")
        .arg("-c")
        .arg("exec 2>&1; exec bash \"$0\"")
        .arg(&script)
        .env("MODULE", &module)
        .env("CUSTOS", &custos)
        .env("WORK", work.path())
        .env("CUSTOS_INTEROP_SERVED", if served { "1" } else { "0" })
        .env_remove("CUSTOS_CONF")
        .env_remove("CUSTOS_STORE")
        .env_remove("CUSTOS_SHARES")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("run bash");
    let stdout = child.stdout.take().expect("piped stdout");
    let mut last = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read script output");
        println!("{line}");
        if !line.trim().is_empty() {
            last = line;
        }
    }
    let status = child.wait().expect("wait for bash");
    if !status.success() {
        let kept = work.keep();
        panic!(
            "{} failed ({status}); last line: {last}\nscratch directory kept at {}",
            script.display(),
            kept.display()
        );
    }
    let prefix = format!("interop {suite}: ");
    let counts = last
        .strip_prefix(&prefix)
        .and_then(|rest| rest.strip_suffix(" failed"))
        .and_then(|rest| rest.split_once(" passed, "));
    match counts {
        Some((passed, "0")) if passed.parse::<u32>().is_ok_and(|n| n > 0) => {}
        _ => panic!(
            "{} exited 0 but its last line is not `{prefix}N passed, 0 failed`: {last}",
            script.display()
        ),
    }
}

#[test]
fn pkcs11_tool_against_the_module() {
    run_script(
        "pkcs11-tool.sh",
        "pkcs11-tool",
        &[("pkcs11-tool", "opensc"), ("openssl", "openssl")],
    );
}

#[test]
fn pkcs11_tool_against_a_served_store() {
    run_script_in(
        "pkcs11-tool.sh",
        "pkcs11-tool",
        &[("pkcs11-tool", "opensc"), ("openssl", "openssl")],
        true,
    );
}

#[test]
fn openssl_against_a_served_store() {
    run_script_in(
        "openssl.sh",
        "openssl",
        &[("openssl", "openssl"), ("pkcs11-tool", "opensc")],
        true,
    );
}

#[test]
fn openssl_against_the_module() {
    run_script(
        "openssl.sh",
        "openssl",
        &[("openssl", "openssl"), ("pkcs11-tool", "opensc")],
    );
}

#[test]
fn gnutls_against_the_module() {
    run_script(
        "gnutls.sh",
        "gnutls",
        &[
            ("p11tool", "gnutls-bin"),
            ("certtool", "gnutls-bin"),
            ("gnutls-cli", "gnutls-bin"),
            ("gnutls-serv", "gnutls-bin"),
            ("openssl", "openssl"),
        ],
    );
}

#[test]
fn p11_kit_against_the_module() {
    run_script(
        "p11-kit.sh",
        "p11-kit",
        &[
            ("p11-kit", "p11-kit"),
            ("pkcs11-tool", "opensc"),
            ("openssl", "openssl"),
        ],
    );
}

#[test]
fn java_against_the_module() {
    run_script(
        "java.sh",
        "java",
        &[
            ("java", "openjdk-17-jdk-headless"),
            ("javac", "openjdk-17-jdk-headless"),
            ("keytool", "openjdk-17-jdk-headless"),
        ],
    );
}
