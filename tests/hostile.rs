//! Hostile callers at the C ABI: `tests/c/hostile.c`, compiled against `include/pkcs11.h`,
//! loads the module this build produced and calls every `C_*` entry point of the 2.40 function
//! list and of the 3.0 interface with arguments the specification forbids (NULL pointers,
//! absurd lengths, dead and foreign handles, operations out of order, calls after
//! `C_Finalize`, `C_Finalize` racing other threads, malformed templates and mechanism
//! parameters), comparing each return value with the code PKCS#11 names.
//!
//! The program runs twice, each time against a fresh `custos init --dev` store: once plainly,
//! where its absurd-length cases run in a forked child under an address-space limit (so an
//! allocation sized by a caller's length aborts the child and fails the check), and once under
//! valgrind, which must report no error and no definite leak.
//!
//! Needs `gcc` and `valgrind` (Debian packages `gcc` and `valgrind`); the tests fail, naming
//! the package, when either is missing.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Fewer checks than this means a section of the program no longer runs. The program makes
/// about 2,050 checks plainly and about 2,020 under valgrind (fewer `C_Finalize` rounds, no
/// forked child).
const MIN_CHECKS: u64 = 1900;

/// The peak resident size the plain run may reach. It needs about 9 MiB; an allocation driven
/// by one of the absurd lengths would need gigabytes.
const MAX_VM_HWM_KB: u64 = 256 * 1024;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a program, failing with a clear message when it is not installed.
fn run(cmd: &mut Command, tool: &str, package: &str) -> Output {
    match cmd.output() {
        Ok(out) => out,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            panic!("`{tool}` was not found: install {tool} (Debian package `{package}`)")
        }
        Err(e) => panic!("cannot run `{tool}`: {e}"),
    }
}

/// Compiles `tests/c/hostile.c` into `dir` with warnings as errors.
fn compile(dir: &Path) -> PathBuf {
    let exe = dir.join("hostile");
    let out = run(
        Command::new("gcc")
            .args(["-Wall", "-Wextra", "-Werror", "-I"])
            .arg(crate_dir().join("include"))
            .arg("-o")
            .arg(&exe)
            .arg(crate_dir().join("tests/c/hostile.c"))
            .args(["-ldl", "-pthread"]),
        "gcc",
        "gcc",
    );
    assert!(
        out.status.success(),
        "tests/c/hostile.c failed to compile ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    exe
}

/// A fresh development store in `dir/store`, made by the `custos` binary of this build. Its
/// tokens are not initialised: the program does that itself.
fn dev_store(dir: &Path) -> PathBuf {
    let store = dir.join("store");
    let out = run(
        Command::new(env!("CARGO_BIN_EXE_custos"))
            .args(["init", "--dev", "--store"])
            .arg(&store)
            .env("CUSTOS_QUIET", "1"),
        "custos",
        "custos (built by cargo)",
    );
    assert!(
        out.status.success(),
        "custos init --dev failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    store
}

/// Points a command at `store` the way an application would, with nothing else configured.
/// Backtraces are off: should a check provoke a panic inside the module, symbolising its
/// backtrace would load the module's debug information and swell the peak resident size the
/// plain run reports.
fn module_env<'a>(cmd: &'a mut Command, store: &Path) -> &'a mut Command {
    cmd.env("CUSTOS_STORE", store)
        .env("CUSTOS_QUIET", "1")
        .env_remove("CUSTOS_CONF")
        .env_remove("CUSTOS_DEBUG")
        .env_remove("RUST_BACKTRACE")
        .env_remove("RUST_LIB_BACKTRACE")
}

/// What the program reported.
struct Report {
    stdout: String,
    passed: u64,
}

/// Checks the program's own verdict: exit status 0 and a last line `hostile: N passed,
/// 0 failed` with N at least [`MIN_CHECKS`].
fn report(out: &Output, what: &str) -> Report {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- {what}: stdout ---\n{stdout}");
    let summary = stdout.lines().last().unwrap_or("").to_owned();
    let counts: Vec<u64> = summary
        .strip_prefix("hostile: ")
        .map(|rest| {
            rest.split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .filter_map(|s| s.parse().ok())
                .collect()
        })
        .unwrap_or_default();
    let (passed, failed) = match counts[..] {
        [p, f] if summary.ends_with(" failed") => (p, f),
        _ => panic!("{what}: no summary line; last line {summary:?}\nstderr:\n{stderr}"),
    };
    let failures: Vec<&str> = stdout.lines().filter(|l| l.starts_with("FAIL: ")).collect();
    assert!(
        failed == 0 && failures.is_empty(),
        "{what}: {failed} checks failed:\n{}\nstderr:\n{stderr}",
        failures.join("\n")
    );
    assert!(
        passed >= MIN_CHECKS,
        "{what}: only {passed} checks ran, expected at least {MIN_CHECKS}"
    );
    // Every deviation from the specification the suite once knew of has been fixed; one that
    // comes back fails the test.
    let deviations: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("KNOWN-DEVIATION: "))
        .collect();
    assert!(
        deviations.is_empty() && stdout.contains("hostile: 0 known deviations"),
        "{what}: deviations from the specification:\n{}",
        deviations.join("\n")
    );
    assert!(
        out.status.success(),
        "{what}: exited with {}\nstderr:\n{stderr}",
        out.status
    );
    Report { stdout, passed }
}

/// The number in a `hostile: NAME N kB` line.
fn kb_line(stdout: &str, name: &str) -> Option<u64> {
    let prefix = format!("hostile: {name} ");
    stdout
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
}

#[test]
fn hostile_callers_get_the_specified_return_codes() {
    let module = common::module_path();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let exe = compile(dir.path());
    let store = dev_store(dir.path());

    let out = run(
        module_env(Command::new(&exe).arg(&module), &store),
        "hostile",
        "gcc",
    );
    let r = report(&out, "hostile");
    assert!(
        r.stdout
            .contains("hostile: absurd-length cases run with RLIMIT_AS"),
        "the absurd-length cases did not run under the address-space limit"
    );
    let hwm = kb_line(&r.stdout, "VmHWM").expect("the program reports its VmHWM");
    assert!(
        hwm < MAX_VM_HWM_KB,
        "peak resident size {hwm} kB, expected below {MAX_VM_HWM_KB} kB"
    );
    println!(
        "hostile: {} passed, 0 failed, peak resident size {hwm} kB",
        r.passed
    );
}

#[test]
fn hostile_callers_leave_valgrind_nothing_to_report() {
    let module = common::module_path();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let exe = compile(dir.path());
    let store = dev_store(dir.path());

    let out = run(
        module_env(
            Command::new("valgrind")
                .args([
                    "--error-exitcode=99",
                    "--leak-check=full",
                    "--errors-for-leak-kinds=definite",
                    "--show-leak-kinds=definite",
                    "--track-fds=no",
                ])
                .arg(&exe)
                .arg(&module)
                .arg("--valgrind"),
            &store,
        ),
        "valgrind",
        "valgrind",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!("--- valgrind: stderr ---\n{stderr}");
    assert_ne!(
        out.status.code(),
        Some(99),
        "valgrind reported errors:\n{stderr}"
    );
    let summary = stderr
        .lines()
        .find(|l| l.contains("ERROR SUMMARY:"))
        .unwrap_or_else(|| panic!("valgrind printed no ERROR SUMMARY:\n{stderr}"));
    assert!(
        summary.contains("ERROR SUMMARY: 0 errors"),
        "valgrind: {summary}"
    );
    let r = report(&out, "hostile under valgrind");
    println!("hostile under valgrind: {} passed, {summary}", r.passed);
}
