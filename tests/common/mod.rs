//! Shared helpers for the integration tests that drive the built PKCS#11 module
//! (`libcustos_pkcs11.so`) the way an application does: through `cryptoki`, or through
//! `cryptoki_sys`'s raw loader for the few calls `cryptoki` does not offer.
//!
//! PKCS#11 state lives in the process, and the module finds its store through environment
//! variables, so every test runs under one process-wide lock ([`Fixture`]) and initialises and
//! finalises the module itself ([`Module`]).

#![allow(dead_code)]

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Pkcs11};
use cryptoki::error::{Error, RvError};
use cryptoki::object::{Attribute, ObjectClass};
use cryptoki::session::{Session, UserType};
use cryptoki::slot::Slot;
use cryptoki::types::AuthPin;

/// The SO PIN every test token is initialised with.
pub const SO_PIN: &str = "so-pin-1234";
/// The user PIN every test token gets from `C_InitPIN`.
pub const USER_PIN: &str = "user-pin-5678";

/// The environment variables the module reads; cleared at the start of every test.
const MODULE_ENV: &[&str] = &[
    "CUSTOS_STORE",
    "CUSTOS_CONF",
    "CUSTOS_DEBUG",
    "CUSTOS_QUIET",
];

static LOCK: Mutex<()> = Mutex::new(());

/// The built module: `target/<profile>/libcustos_pkcs11.so`, beside the `deps` directory that
/// holds the test binary.
pub fn module_path() -> PathBuf {
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

/// Loads the module once more and never unloads it, so it stays mapped for the life of the
/// test process whatever the contexts above it do.
///
/// The module cannot be unloaded safely once it has been used: a thread that ran cryptography
/// in it keeps thread-exit destructors pointing into it, and after `dlclose` that thread
/// crashes when it ends (`module_can_be_unloaded_after_use` shows it). Each test drops its
/// `cryptoki` context, which would `dlclose` the module, so the helpers keep it loaded here.
pub fn keep_module_loaded() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: the path names the PKCS#11 module this crate builds.
        let lib = unsafe { cryptoki_sys::Pkcs11::new(module_path()) }.expect("dlopen the module");
        std::mem::forget(lib);
    });
}

/// A PIN for `cryptoki`.
pub fn pin(s: &str) -> AuthPin {
    AuthPin::new(s.into())
}

/// The PKCS#11 return code of a failed call. Panics when the call succeeded or failed
/// without a return code.
#[track_caller]
pub fn rv<T: std::fmt::Debug>(r: cryptoki::error::Result<T>) -> RvError {
    match r {
        Err(Error::Pkcs11(rv, _)) => rv,
        other => panic!("expected a PKCS#11 error return code, got {other:?}"),
    }
}

/// One test's hold on the process: the global lock, a clean module environment and a
/// temporary directory. Declare it before the [`Module`] so the module is finalised first.
pub struct Fixture {
    /// Scratch space; the store, when there is one, is `tmp/store`.
    pub tmp: tempfile::TempDir,
    _guard: MutexGuard<'static, ()>,
}

impl Fixture {
    /// Takes the lock (recovering it from a test that panicked) and clears the environment.
    pub fn new() -> Fixture {
        let guard = LOCK.lock().unwrap_or_else(|p| p.into_inner());
        for v in MODULE_ENV {
            std::env::remove_var(v);
        }
        std::env::set_var("CUSTOS_QUIET", "1");
        let tmp = tempfile::tempdir().expect("a temporary directory");
        // Rollback witnesses go to the test's own directory, not the user's state directory.
        std::env::set_var("XDG_STATE_HOME", tmp.path().join("state"));
        Fixture { tmp, _guard: guard }
    }

    /// A fixture with a fresh `--dev` store of `slots` slots, named by `CUSTOS_STORE`.
    pub fn dev_store(slots: u32) -> Fixture {
        let fx = Fixture::new();
        custos_pkcs11::engine::provision::create_dev_store(&fx.store_dir(), slots)
            .expect("create a dev store");
        fx.use_store(&fx.store_dir());
        fx
    }

    /// Where this fixture's store lives.
    pub fn store_dir(&self) -> PathBuf {
        self.tmp.path().join("store")
    }

    /// Points the module at a store directory through `CUSTOS_STORE`.
    pub fn use_store(&self, dir: &Path) {
        std::env::remove_var("CUSTOS_CONF");
        std::env::set_var("CUSTOS_STORE", dir);
    }

    /// Writes a configuration file and points the module at it through `CUSTOS_CONF`.
    pub fn use_conf(&self, name: &str, toml: &str) -> PathBuf {
        let p = self.tmp.path().join(name);
        std::fs::write(&p, toml).expect("write the configuration file");
        std::env::remove_var("CUSTOS_STORE");
        std::env::set_var("CUSTOS_CONF", &p);
        p
    }
}

/// A TOML string literal for a path (literal strings need no escaping).
pub fn toml_path(p: &Path) -> String {
    let s = p.to_str().expect("a UTF-8 temporary path");
    assert!(!s.contains('\''), "temporary path with a quote: {s}");
    format!("'{s}'")
}

/// The initialisation arguments every test uses: OS locking.
pub fn init_args() -> CInitializeArgs {
    CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK)
}

/// The loaded module, finalised when dropped (so a failing test leaves the process clean).
pub struct Module {
    ctx: Option<Pkcs11>,
}

impl Module {
    /// Loads the module without initialising it (it is still finalised when dropped).
    pub fn load() -> Module {
        keep_module_loaded();
        let ctx = Pkcs11::new(module_path()).expect("load libcustos_pkcs11.so");
        Module { ctx: Some(ctx) }
    }

    /// Loads and initialises the module.
    pub fn open() -> Module {
        let m = Self::load();
        m.initialize(init_args()).expect("C_Initialize");
        m
    }

    /// Finalises explicitly, returning `C_Finalize`'s result.
    pub fn finalize(mut self) -> cryptoki::error::Result<()> {
        match self.ctx.take() {
            Some(c) => c.finalize(),
            None => Ok(()),
        }
    }

    /// The context, for tests that need to clone it.
    pub fn ctx(&self) -> &Pkcs11 {
        self.ctx.as_ref().expect("module not finalised")
    }
}

impl Deref for Module {
    type Target = Pkcs11;
    fn deref(&self) -> &Pkcs11 {
        self.ctx()
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        if let Some(c) = self.ctx.take() {
            let _ = c.finalize();
        }
    }
}

/// The slot with the given id, as the module lists it.
pub fn slot(ctx: &Pkcs11, id: u64) -> Slot {
    ctx.get_all_slots()
        .expect("C_GetSlotList")
        .into_iter()
        .find(|s| s.id() == id)
        .unwrap_or_else(|| panic!("slot {id} is not listed"))
}

/// Initialises the token in `slot` with [`SO_PIN`] and gives it the user PIN [`USER_PIN`].
pub fn init_token_with_user(ctx: &Pkcs11, slot: Slot, label: &str) {
    ctx.init_token(slot, &pin(SO_PIN), label)
        .expect("C_InitToken");
    let s = ctx.open_rw_session(slot).expect("C_OpenSession");
    s.login(UserType::So, Some(&pin(SO_PIN)))
        .expect("SO C_Login");
    s.init_pin(&pin(USER_PIN)).expect("C_InitPIN");
    s.logout().expect("C_Logout");
}

/// A read/write session on `slot` with the user logged in.
pub fn user_session(ctx: &Pkcs11, slot: Slot) -> Session {
    let s = ctx.open_rw_session(slot).expect("C_OpenSession");
    s.login(UserType::User, Some(&pin(USER_PIN)))
        .expect("user C_Login");
    s
}

/// A template for a public data object.
pub fn data_object(label: &str, token: bool) -> Vec<Attribute> {
    vec![
        Attribute::Class(ObjectClass::DATA),
        Attribute::Token(token),
        Attribute::Private(false),
        Attribute::Label(label.as_bytes().to_vec()),
        Attribute::Application(b"custos abi tests".to_vec()),
        Attribute::Value(b"data object value".to_vec()),
    ]
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read the store directory") {
            let p = e.expect("a directory entry").path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// Whether `needle` occurs in `hay`.
pub fn contains(hay: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && hay.windows(needle.len()).any(|w| w == needle)
}

/// The module loaded a second time through the raw loader, for the calls `cryptoki` does not
/// wrap (`C_CloseAllSessions`, `C_GetObjectSize`) and for whole-template
/// `C_GetAttributeValue`. It shares the module's state with the [`Module`] already loaded.
pub struct Raw(cryptoki_sys::Pkcs11);

impl Raw {
    /// Loads the module's symbols.
    pub fn load() -> Raw {
        keep_module_loaded();
        // SAFETY: the path names the PKCS#11 module this crate builds; loading it runs no
        // initialisers beyond Rust statics.
        let lib = unsafe { cryptoki_sys::Pkcs11::new(module_path()) }.expect("dlopen the module");
        Raw(lib)
    }

    /// `C_CloseAllSessions`.
    pub fn close_all_sessions(&self, slot: u64) -> cryptoki_sys::CK_RV {
        // SAFETY: a plain call with a slot id.
        unsafe { self.0.C_CloseAllSessions(slot) }
    }

    /// `C_GetObjectSize`.
    pub fn object_size(
        &self,
        session: cryptoki_sys::CK_SESSION_HANDLE,
        obj: cryptoki_sys::CK_OBJECT_HANDLE,
    ) -> (cryptoki_sys::CK_RV, cryptoki_sys::CK_ULONG) {
        let mut n: cryptoki_sys::CK_ULONG = 0;
        // SAFETY: `n` is a valid out-pointer for the duration of the call.
        let rv = unsafe { self.0.C_GetObjectSize(session, obj, &mut n) };
        (rv, n)
    }

    /// `C_DecryptInit` with a mechanism whose parameter is a byte string (an IV).
    pub fn decrypt_init(
        &self,
        session: cryptoki_sys::CK_SESSION_HANDLE,
        mechanism: cryptoki_sys::CK_MECHANISM_TYPE,
        param: &[u8],
        key: cryptoki_sys::CK_OBJECT_HANDLE,
    ) -> cryptoki_sys::CK_RV {
        let mut param = param.to_vec();
        let mut m = cryptoki_sys::CK_MECHANISM {
            mechanism,
            pParameter: param.as_mut_ptr().cast(),
            ulParameterLen: param.len() as cryptoki_sys::CK_ULONG,
        };
        // SAFETY: `m` and the parameter it points to live for the duration of the call.
        unsafe { self.0.C_DecryptInit(session, &mut m, key) }
    }

    /// `C_Decrypt` with an optional output buffer and the length declared for it (which
    /// may be less than the buffer's real size). Returns the code and the length reported.
    pub fn decrypt(
        &self,
        session: cryptoki_sys::CK_SESSION_HANDLE,
        data: &[u8],
        out: Option<&mut [u8]>,
        declared: cryptoki_sys::CK_ULONG,
    ) -> (cryptoki_sys::CK_RV, cryptoki_sys::CK_ULONG) {
        let mut len = declared;
        let ptr = match out {
            Some(b) => {
                assert!(
                    declared as usize <= b.len(),
                    "declared length exceeds the buffer"
                );
                b.as_mut_ptr()
            }
            None => std::ptr::null_mut(),
        };
        // SAFETY: `data` is readable for its length; `ptr` is NULL or a buffer at least
        // `declared` bytes long; `len` is a valid out-pointer.
        let rv = unsafe {
            self.0.C_Decrypt(
                session,
                data.as_ptr() as *mut u8,
                data.len() as cryptoki_sys::CK_ULONG,
                ptr,
                &mut len,
            )
        };
        (rv, len)
    }

    /// `C_GetAttributeValue` with one 256-byte buffer per type: the return code, and per
    /// type the reported length and the bytes written.
    pub fn get_attribute_values(
        &self,
        session: cryptoki_sys::CK_SESSION_HANDLE,
        obj: cryptoki_sys::CK_OBJECT_HANDLE,
        types: &[cryptoki_sys::CK_ATTRIBUTE_TYPE],
    ) -> (cryptoki_sys::CK_RV, Vec<(cryptoki_sys::CK_ULONG, Vec<u8>)>) {
        let mut bufs: Vec<Vec<u8>> = types.iter().map(|_| vec![0u8; 256]).collect();
        let mut template: Vec<cryptoki_sys::CK_ATTRIBUTE> = types
            .iter()
            .zip(bufs.iter_mut())
            .map(|(t, b)| cryptoki_sys::CK_ATTRIBUTE {
                type_: *t,
                pValue: b.as_mut_ptr().cast(),
                ulValueLen: b.len() as cryptoki_sys::CK_ULONG,
            })
            .collect();
        // SAFETY: every template entry points to a live buffer of the length it declares.
        let rv = unsafe {
            self.0.C_GetAttributeValue(
                session,
                obj,
                template.as_mut_ptr(),
                template.len() as cryptoki_sys::CK_ULONG,
            )
        };
        let out = template
            .iter()
            .zip(bufs)
            .map(|(a, b)| {
                let n = a.ulValueLen;
                let bytes = if n == cryptoki_sys::CK_UNAVAILABLE_INFORMATION {
                    Vec::new()
                } else {
                    b[..n as usize].to_vec()
                };
                (n, bytes)
            })
            .collect();
        (rv, out)
    }
}
