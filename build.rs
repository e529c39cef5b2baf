//! Link options for the PKCS#11 module.

fn main() {
    // AWS-LC registers thread-local destructors; if the module were unmapped at dlclose() after
    // C_Finalize, every thread that had used it would crash when it exits. Keep the module mapped.
    let target_os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if target_os == "linux" || target_os == "freebsd" {
        println!("cargo:rustc-cdylib-link-arg=-Wl,-z,nodelete");
    }
    println!("cargo:rerun-if-changed=build.rs");
}
