//! A PKCS#11 module loaded by path through its C ABI: `dlopen`, `C_GetFunctionList`, and a
//! thin safe layer over the function list for the calls the benchmark makes.
//!
//! Every pointer handed to the module points into a buffer that lives for the whole call and
//! is at least as long as the length passed beside it.

use std::ffi::c_void;
use std::mem::ManuallyDrop;
use std::path::{Path, PathBuf};
use std::ptr;

use cryptoki_sys::*;

/// A failed PKCS#11 call: which function, and what it returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct P11Error {
    /// The function that failed.
    pub func: &'static str,
    /// Its return value.
    pub rv: CK_RV,
}

impl std::fmt::Display for P11Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} returned {}", self.func, rv_name(self.rv))
    }
}

impl std::error::Error for P11Error {}

/// The result of a PKCS#11 call.
pub type P11Result<T> = Result<T, P11Error>;

fn check(func: &'static str, rv: CK_RV) -> P11Result<()> {
    if rv == CKR_OK {
        Ok(())
    } else {
        Err(P11Error { func, rv })
    }
}

macro_rules! rv_table {
    ($($name:ident),* $(,)?) => {
        &[$(($name, stringify!($name))),*]
    };
}

/// Every return value `cryptoki-sys` names.
const RV_NAMES: &[(CK_RV, &str)] = rv_table!(
    CKR_OK,
    CKR_CANCEL,
    CKR_HOST_MEMORY,
    CKR_SLOT_ID_INVALID,
    CKR_GENERAL_ERROR,
    CKR_FUNCTION_FAILED,
    CKR_ARGUMENTS_BAD,
    CKR_NO_EVENT,
    CKR_NEED_TO_CREATE_THREADS,
    CKR_CANT_LOCK,
    CKR_ATTRIBUTE_READ_ONLY,
    CKR_ATTRIBUTE_SENSITIVE,
    CKR_ATTRIBUTE_TYPE_INVALID,
    CKR_ATTRIBUTE_VALUE_INVALID,
    CKR_ACTION_PROHIBITED,
    CKR_DATA_INVALID,
    CKR_DATA_LEN_RANGE,
    CKR_DEVICE_ERROR,
    CKR_DEVICE_MEMORY,
    CKR_DEVICE_REMOVED,
    CKR_ENCRYPTED_DATA_INVALID,
    CKR_ENCRYPTED_DATA_LEN_RANGE,
    CKR_AEAD_DECRYPT_FAILED,
    CKR_FUNCTION_CANCELED,
    CKR_FUNCTION_NOT_PARALLEL,
    CKR_FUNCTION_NOT_SUPPORTED,
    CKR_KEY_HANDLE_INVALID,
    CKR_KEY_SIZE_RANGE,
    CKR_KEY_TYPE_INCONSISTENT,
    CKR_KEY_NOT_NEEDED,
    CKR_KEY_CHANGED,
    CKR_KEY_NEEDED,
    CKR_KEY_INDIGESTIBLE,
    CKR_KEY_FUNCTION_NOT_PERMITTED,
    CKR_KEY_NOT_WRAPPABLE,
    CKR_KEY_UNEXTRACTABLE,
    CKR_MECHANISM_INVALID,
    CKR_MECHANISM_PARAM_INVALID,
    CKR_OBJECT_HANDLE_INVALID,
    CKR_OPERATION_ACTIVE,
    CKR_OPERATION_NOT_INITIALIZED,
    CKR_PIN_INCORRECT,
    CKR_PIN_INVALID,
    CKR_PIN_LEN_RANGE,
    CKR_PIN_EXPIRED,
    CKR_PIN_LOCKED,
    CKR_SESSION_CLOSED,
    CKR_SESSION_COUNT,
    CKR_SESSION_HANDLE_INVALID,
    CKR_SESSION_PARALLEL_NOT_SUPPORTED,
    CKR_SESSION_READ_ONLY,
    CKR_SESSION_EXISTS,
    CKR_SESSION_READ_ONLY_EXISTS,
    CKR_SESSION_READ_WRITE_SO_EXISTS,
    CKR_SIGNATURE_INVALID,
    CKR_SIGNATURE_LEN_RANGE,
    CKR_TEMPLATE_INCOMPLETE,
    CKR_TEMPLATE_INCONSISTENT,
    CKR_TOKEN_NOT_PRESENT,
    CKR_TOKEN_NOT_RECOGNIZED,
    CKR_TOKEN_WRITE_PROTECTED,
    CKR_UNWRAPPING_KEY_HANDLE_INVALID,
    CKR_UNWRAPPING_KEY_SIZE_RANGE,
    CKR_UNWRAPPING_KEY_TYPE_INCONSISTENT,
    CKR_USER_ALREADY_LOGGED_IN,
    CKR_USER_NOT_LOGGED_IN,
    CKR_USER_PIN_NOT_INITIALIZED,
    CKR_USER_TYPE_INVALID,
    CKR_USER_ANOTHER_ALREADY_LOGGED_IN,
    CKR_USER_TOO_MANY_TYPES,
    CKR_WRAPPED_KEY_INVALID,
    CKR_WRAPPED_KEY_LEN_RANGE,
    CKR_WRAPPING_KEY_HANDLE_INVALID,
    CKR_WRAPPING_KEY_SIZE_RANGE,
    CKR_WRAPPING_KEY_TYPE_INCONSISTENT,
    CKR_RANDOM_SEED_NOT_SUPPORTED,
    CKR_RANDOM_NO_RNG,
    CKR_DOMAIN_PARAMS_INVALID,
    CKR_CURVE_NOT_SUPPORTED,
    CKR_BUFFER_TOO_SMALL,
    CKR_SAVED_STATE_INVALID,
    CKR_INFORMATION_SENSITIVE,
    CKR_STATE_UNSAVEABLE,
    CKR_CRYPTOKI_NOT_INITIALIZED,
    CKR_CRYPTOKI_ALREADY_INITIALIZED,
    CKR_MUTEX_BAD,
    CKR_MUTEX_NOT_LOCKED,
    CKR_NEW_PIN_MODE,
    CKR_NEXT_OTP,
    CKR_EXCEEDED_MAX_ITERATIONS,
    CKR_FIPS_SELF_TEST_FAILED,
    CKR_LIBRARY_LOAD_FAILED,
    CKR_PIN_TOO_WEAK,
    CKR_PUBLIC_KEY_INVALID,
    CKR_FUNCTION_REJECTED,
    CKR_TOKEN_RESOURCE_EXCEEDED,
    CKR_OPERATION_CANCEL_FAILED,
    CKR_KEY_EXHAUSTED,
    CKR_PENDING,
    CKR_SESSION_ASYNC_NOT_SUPPORTED,
    CKR_SEED_RANDOM_REQUIRED,
    CKR_OPERATION_NOT_VALIDATED,
    CKR_TOKEN_NOT_INITIALIZED,
    CKR_PARAMETER_SET_NOT_SUPPORTED,
    CKR_VENDOR_DEFINED,
);

/// The symbolic name of a return value (hex for unknown ones).
pub fn rv_name(rv: CK_RV) -> String {
    RV_NAMES
        .iter()
        .find(|(v, _)| *v == rv)
        .map_or_else(|| format!("0x{rv:08x}"), |(_, n)| (*n).to_string())
}

/// One attribute of a template, owning its value.
#[derive(Debug, Clone)]
pub struct Attr {
    ty: CK_ATTRIBUTE_TYPE,
    val: AttrVal,
}

#[derive(Debug, Clone)]
enum AttrVal {
    Bool(CK_BBOOL),
    Ulong(CK_ULONG),
    Bytes(Vec<u8>),
}

impl Attr {
    /// A `CK_BBOOL` attribute.
    pub fn bool(ty: CK_ATTRIBUTE_TYPE, v: bool) -> Attr {
        Attr {
            ty,
            val: AttrVal::Bool(if v { CK_TRUE } else { CK_FALSE }),
        }
    }

    /// A `CK_ULONG` attribute (classes, key types).
    pub fn ulong(ty: CK_ATTRIBUTE_TYPE, v: CK_ULONG) -> Attr {
        Attr {
            ty,
            val: AttrVal::Ulong(v),
        }
    }

    /// A byte-string attribute.
    pub fn bytes(ty: CK_ATTRIBUTE_TYPE, v: &[u8]) -> Attr {
        Attr {
            ty,
            val: AttrVal::Bytes(v.to_vec()),
        }
    }

    /// The C view of the attribute. The pointer stays valid while `self` is borrowed and not
    /// moved; the module only reads through it.
    fn raw(&self) -> CK_ATTRIBUTE {
        let (p, len): (*const c_void, usize) = match &self.val {
            AttrVal::Bool(b) => ((b as *const CK_BBOOL).cast(), 1),
            AttrVal::Ulong(u) => (
                (u as *const CK_ULONG).cast(),
                std::mem::size_of::<CK_ULONG>(),
            ),
            AttrVal::Bytes(v) => (v.as_ptr().cast(), v.len()),
        };
        CK_ATTRIBUTE {
            type_: self.ty,
            pValue: p.cast_mut(),
            ulValueLen: len as CK_ULONG,
        }
    }
}

fn raw_template(attrs: &[Attr]) -> Vec<CK_ATTRIBUTE> {
    attrs.iter().map(Attr::raw).collect()
}

/// A mechanism with its parameter.
#[derive(Debug, Clone, Copy)]
pub enum Mech {
    /// A mechanism without a parameter.
    Plain(CK_MECHANISM_TYPE),
    /// `CKM_RSA_PKCS_PSS` (or a hash-and-sign PSS mechanism).
    Pss {
        /// The mechanism.
        mech: CK_MECHANISM_TYPE,
        /// The hash.
        hash: CK_MECHANISM_TYPE,
        /// The MGF.
        mgf: CK_RSA_PKCS_MGF_TYPE,
        /// The salt length.
        salt: CK_ULONG,
    },
    /// `CKM_RSA_PKCS_OAEP` without a label.
    Oaep {
        /// The hash.
        hash: CK_MECHANISM_TYPE,
        /// The MGF.
        mgf: CK_RSA_PKCS_MGF_TYPE,
    },
    /// `CKM_AES_GCM` with a 96-bit IV, no AAD.
    Gcm {
        /// The IV.
        iv: [u8; 12],
        /// The tag length in bits.
        tag_bits: CK_ULONG,
    },
    /// A mechanism whose parameter is a 16-byte IV.
    Iv16(CK_MECHANISM_TYPE, [u8; 16]),
}

impl Mech {
    /// Calls `f` with the C view of the mechanism; the parameter lives for the call.
    fn with_raw<R>(&self, f: impl FnOnce(*mut CK_MECHANISM) -> R) -> R {
        fn mech<T>(t: CK_MECHANISM_TYPE, p: &mut T) -> CK_MECHANISM {
            CK_MECHANISM {
                mechanism: t,
                pParameter: (p as *mut T).cast(),
                ulParameterLen: std::mem::size_of::<T>() as CK_ULONG,
            }
        }
        match *self {
            Mech::Plain(t) => {
                let mut m = CK_MECHANISM {
                    mechanism: t,
                    pParameter: ptr::null_mut(),
                    ulParameterLen: 0,
                };
                f(&mut m)
            }
            Mech::Pss {
                mech: t,
                hash,
                mgf,
                salt,
            } => {
                let mut p = CK_RSA_PKCS_PSS_PARAMS {
                    hashAlg: hash,
                    mgf,
                    sLen: salt,
                };
                let mut m = mech(t, &mut p);
                f(&mut m)
            }
            Mech::Oaep { hash, mgf } => {
                let mut p = CK_RSA_PKCS_OAEP_PARAMS {
                    hashAlg: hash,
                    mgf,
                    source: CKZ_DATA_SPECIFIED,
                    pSourceData: ptr::null_mut(),
                    ulSourceDataLen: 0,
                };
                let mut m = mech(CKM_RSA_PKCS_OAEP, &mut p);
                f(&mut m)
            }
            Mech::Gcm { iv, tag_bits } => {
                let mut iv = iv;
                let mut p = CK_GCM_PARAMS {
                    pIv: iv.as_mut_ptr(),
                    ulIvLen: iv.len() as CK_ULONG,
                    ulIvBits: (iv.len() * 8) as CK_ULONG,
                    pAAD: ptr::null_mut(),
                    ulAADLen: 0,
                    ulTagBits: tag_bits,
                };
                let mut m = mech(CKM_AES_GCM, &mut p);
                f(&mut m)
            }
            Mech::Iv16(t, iv) => {
                let mut iv = iv;
                let mut m = mech(t, &mut iv);
                f(&mut m)
            }
        }
    }
}

/// A loaded PKCS#11 module. It is never unloaded: a module that ran code on other threads
/// may leave thread-exit destructors pointing into itself, so `dlclose` is not safe.
pub struct Module {
    path: PathBuf,
    list: *const CK_FUNCTION_LIST,
    initialized_here: bool,
    _lib: ManuallyDrop<libloading::Library>,
}

// SAFETY: the function list is immutable static data of the module, and the module is
// initialised with CKF_OS_LOCKING_OK, which obliges it to accept calls from several threads
// at once (each thread here uses its own session).
unsafe impl Send for Module {}
// SAFETY: as above; `Module` has no interior mutability of its own.
unsafe impl Sync for Module {}

/// The shape of `C_SignInit`, `C_EncryptInit` and `C_DecryptInit`.
type InitFn = unsafe extern "C" fn(CK_SESSION_HANDLE, *mut CK_MECHANISM, CK_OBJECT_HANDLE) -> CK_RV;
/// The shape of `C_Sign`, `C_Encrypt` and `C_Decrypt`.
type SinglePartFn =
    unsafe extern "C" fn(CK_SESSION_HANDLE, *mut u8, CK_ULONG, *mut u8, *mut CK_ULONG) -> CK_RV;

fn func<F>(f: Option<F>, name: &'static str) -> P11Result<F> {
    f.ok_or(P11Error {
        func: name,
        rv: CKR_FUNCTION_NOT_SUPPORTED,
    })
}

fn len(n: usize) -> CK_ULONG {
    n as CK_ULONG
}

impl Module {
    /// Loads the module at `path` and fetches its function list.
    pub fn load(path: &Path) -> Result<Module, String> {
        // SAFETY: loading a shared library runs its initialisers; the user names the module
        // to benchmark, exactly as an application configured with it would load it.
        let lib = unsafe { libloading::Library::new(path) }
            .map_err(|e| format!("cannot load PKCS#11 module {}: {e}", path.display()))?;
        let mut list: *mut CK_FUNCTION_LIST = ptr::null_mut();
        let rv = {
            // SAFETY: C_GetFunctionList has this signature in every PKCS#11 module.
            let get: libloading::Symbol<
                '_,
                unsafe extern "C" fn(*mut *mut CK_FUNCTION_LIST) -> CK_RV,
            > = unsafe { lib.get(b"C_GetFunctionList\0") }.map_err(|e| {
                format!(
                    "{} is not a PKCS#11 module (no C_GetFunctionList): {e}",
                    path.display()
                )
            })?;
            // SAFETY: `list` is a valid out-pointer for the duration of the call.
            unsafe { get(&mut list) }
        };
        if rv != CKR_OK || list.is_null() {
            return Err(format!(
                "C_GetFunctionList of {} failed: {}",
                path.display(),
                rv_name(rv)
            ));
        }
        Ok(Module {
            path: path.to_path_buf(),
            list,
            initialized_here: false,
            _lib: ManuallyDrop::new(lib),
        })
    }

    /// The path the module was loaded from.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn fl(&self) -> &CK_FUNCTION_LIST {
        // SAFETY: `list` was returned non-null by C_GetFunctionList and points to the
        // module's static function list, which stays mapped because the library is never
        // unloaded.
        unsafe { &*self.list }
    }

    /// `C_Initialize` with OS locking. A module already initialised in this process (the same
    /// library named twice) is accepted and left for its first user to finalise.
    pub fn initialize(&mut self) -> P11Result<()> {
        let f = func(self.fl().C_Initialize, "C_Initialize")?;
        let mut args = CK_C_INITIALIZE_ARGS {
            CreateMutex: None,
            DestroyMutex: None,
            LockMutex: None,
            UnlockMutex: None,
            flags: CKF_OS_LOCKING_OK,
            pReserved: ptr::null_mut(),
        };
        // SAFETY: `args` is a valid CK_C_INITIALIZE_ARGS for the duration of the call.
        let rv = unsafe { f((&mut args as *mut CK_C_INITIALIZE_ARGS).cast()) };
        if rv == CKR_CRYPTOKI_ALREADY_INITIALIZED {
            return Ok(());
        }
        check("C_Initialize", rv)?;
        self.initialized_here = true;
        Ok(())
    }

    /// `C_Finalize`, when this handle initialised the module.
    pub fn finalize(&mut self) {
        if !self.initialized_here {
            return;
        }
        self.initialized_here = false;
        if let Ok(f) = func(self.fl().C_Finalize, "C_Finalize") {
            // SAFETY: a null reserved pointer is what the standard requires.
            let _ = unsafe { f(ptr::null_mut()) };
        }
    }

    /// `C_GetSlotList`.
    pub fn slots(&self, token_present: bool) -> P11Result<Vec<CK_SLOT_ID>> {
        let f = func(self.fl().C_GetSlotList, "C_GetSlotList")?;
        let present = if token_present { CK_TRUE } else { CK_FALSE };
        loop {
            let mut n: CK_ULONG = 0;
            // SAFETY: a null list asks for the count only; `n` is a valid out-pointer.
            check("C_GetSlotList", unsafe {
                f(present, ptr::null_mut(), &mut n)
            })?;
            let mut v: Vec<CK_SLOT_ID> = vec![0; n as usize];
            // SAFETY: `v` holds `n` slot ids, the length passed in `n`.
            let rv = unsafe { f(present, v.as_mut_ptr(), &mut n) };
            if rv == CKR_BUFFER_TOO_SMALL {
                continue;
            }
            check("C_GetSlotList", rv)?;
            v.truncate(n as usize);
            return Ok(v);
        }
    }

    /// `C_GetTokenInfo`.
    pub fn token_info(&self, slot: CK_SLOT_ID) -> P11Result<CK_TOKEN_INFO> {
        let f = func(self.fl().C_GetTokenInfo, "C_GetTokenInfo")?;
        // SAFETY: CK_TOKEN_INFO is plain old data; all-zero bytes are a valid value.
        let mut info: CK_TOKEN_INFO = unsafe { std::mem::zeroed() };
        // SAFETY: `info` is a valid out-pointer for the duration of the call.
        check("C_GetTokenInfo", unsafe { f(slot, &mut info) })?;
        Ok(info)
    }

    /// `C_GetMechanismInfo`.
    pub fn mechanism_info(
        &self,
        slot: CK_SLOT_ID,
        mech: CK_MECHANISM_TYPE,
    ) -> P11Result<CK_MECHANISM_INFO> {
        let f = func(self.fl().C_GetMechanismInfo, "C_GetMechanismInfo")?;
        let mut info = CK_MECHANISM_INFO {
            ulMinKeySize: 0,
            ulMaxKeySize: 0,
            flags: 0,
        };
        // SAFETY: `info` is a valid out-pointer for the duration of the call.
        check("C_GetMechanismInfo", unsafe { f(slot, mech, &mut info) })?;
        Ok(info)
    }

    /// `C_OpenSession`, read/write.
    pub fn open_session(&self, slot: CK_SLOT_ID) -> P11Result<CK_SESSION_HANDLE> {
        let f = func(self.fl().C_OpenSession, "C_OpenSession")?;
        let mut h: CK_SESSION_HANDLE = 0;
        // SAFETY: no notification callback; `h` is a valid out-pointer.
        check("C_OpenSession", unsafe {
            f(
                slot,
                CKF_SERIAL_SESSION | CKF_RW_SESSION,
                ptr::null_mut(),
                None,
                &mut h,
            )
        })?;
        Ok(h)
    }

    /// `C_GenerateRandom` into `out`.
    pub fn generate_random(&self, s: CK_SESSION_HANDLE, out: &mut [u8]) -> P11Result<()> {
        let f = func(self.fl().C_GenerateRandom, "C_GenerateRandom")?;
        // SAFETY: `out` is valid for writes of its length for the duration of the call.
        check("C_GenerateRandom", unsafe {
            f(s, out.as_mut_ptr(), out.len() as CK_ULONG)
        })
    }

    /// `C_CloseSession`.
    pub fn close_session(&self, s: CK_SESSION_HANDLE) -> P11Result<()> {
        let f = func(self.fl().C_CloseSession, "C_CloseSession")?;
        // SAFETY: a plain call with a handle.
        check("C_CloseSession", unsafe { f(s) })
    }

    /// `C_Login` as the user.
    pub fn login(&self, s: CK_SESSION_HANDLE, pin: &[u8]) -> P11Result<()> {
        let f = func(self.fl().C_Login, "C_Login")?;
        // SAFETY: `pin` is readable for its length; the module does not write through it.
        check("C_Login", unsafe {
            f(s, CKU_USER, pin.as_ptr().cast_mut(), len(pin.len()))
        })
    }

    /// `C_Logout`.
    pub fn logout(&self, s: CK_SESSION_HANDLE) -> P11Result<()> {
        let f = func(self.fl().C_Logout, "C_Logout")?;
        // SAFETY: a plain call with a handle.
        check("C_Logout", unsafe { f(s) })
    }

    /// `C_CreateObject`.
    pub fn create_object(
        &self,
        s: CK_SESSION_HANDLE,
        attrs: &[Attr],
    ) -> P11Result<CK_OBJECT_HANDLE> {
        let f = func(self.fl().C_CreateObject, "C_CreateObject")?;
        let mut t = raw_template(attrs);
        let mut h: CK_OBJECT_HANDLE = 0;
        // SAFETY: `t` holds `t.len()` attributes pointing into `attrs`, which outlives the
        // call; `h` is a valid out-pointer.
        check("C_CreateObject", unsafe {
            f(s, t.as_mut_ptr(), len(t.len()), &mut h)
        })?;
        Ok(h)
    }

    /// `C_DestroyObject`.
    pub fn destroy_object(&self, s: CK_SESSION_HANDLE, h: CK_OBJECT_HANDLE) -> P11Result<()> {
        let f = func(self.fl().C_DestroyObject, "C_DestroyObject")?;
        // SAFETY: a plain call with handles.
        check("C_DestroyObject", unsafe { f(s, h) })
    }

    /// One attribute's value (`None` when the object does not have it or it is sensitive).
    pub fn attribute(
        &self,
        s: CK_SESSION_HANDLE,
        h: CK_OBJECT_HANDLE,
        ty: CK_ATTRIBUTE_TYPE,
    ) -> P11Result<Option<Vec<u8>>> {
        let f = func(self.fl().C_GetAttributeValue, "C_GetAttributeValue")?;
        let mut a = CK_ATTRIBUTE {
            type_: ty,
            pValue: ptr::null_mut(),
            ulValueLen: 0,
        };
        // SAFETY: a null pValue asks for the length only; `a` is valid for the call.
        let rv = unsafe { f(s, h, &mut a, 1) };
        if matches!(rv, CKR_ATTRIBUTE_SENSITIVE | CKR_ATTRIBUTE_TYPE_INVALID)
            || a.ulValueLen == CK_UNAVAILABLE_INFORMATION
        {
            return Ok(None);
        }
        check("C_GetAttributeValue", rv)?;
        let mut buf = vec![0u8; a.ulValueLen as usize];
        a.pValue = buf.as_mut_ptr().cast();
        // SAFETY: `buf` is writable for `a.ulValueLen` bytes, the length declared in `a`.
        check("C_GetAttributeValue", unsafe { f(s, h, &mut a, 1) })?;
        buf.truncate(a.ulValueLen as usize);
        Ok(Some(buf))
    }

    /// One search: `C_FindObjectsInit`, one `C_FindObjects` for at most `max` handles, and
    /// `C_FindObjectsFinal`.
    pub fn find(
        &self,
        s: CK_SESSION_HANDLE,
        attrs: &[Attr],
        max: usize,
    ) -> P11Result<Vec<CK_OBJECT_HANDLE>> {
        let mut out = vec![0; max];
        let n = self.find_into(s, attrs, &mut out)?;
        out.truncate(n);
        Ok(out)
    }

    /// As [`Module::find`], into a caller's buffer; returns how many handles were found.
    pub fn find_into(
        &self,
        s: CK_SESSION_HANDLE,
        attrs: &[Attr],
        out: &mut [CK_OBJECT_HANDLE],
    ) -> P11Result<usize> {
        let init = func(self.fl().C_FindObjectsInit, "C_FindObjectsInit")?;
        let find = func(self.fl().C_FindObjects, "C_FindObjects")?;
        let fin = func(self.fl().C_FindObjectsFinal, "C_FindObjectsFinal")?;
        let mut t = raw_template(attrs);
        // SAFETY: `t` holds `t.len()` attributes pointing into `attrs`, alive for the call.
        check("C_FindObjectsInit", unsafe {
            init(s, t.as_mut_ptr(), len(t.len()))
        })?;
        let mut n: CK_ULONG = 0;
        // SAFETY: `out` has room for `out.len()` handles, the maximum passed.
        let rv = unsafe { find(s, out.as_mut_ptr(), len(out.len()), &mut n) };
        // SAFETY: a plain call with a handle; the search is ended whatever happened.
        let rv_final = unsafe { fin(s) };
        check("C_FindObjects", rv)?;
        check("C_FindObjectsFinal", rv_final)?;
        Ok((n as usize).min(out.len()))
    }

    /// Every object matching `attrs`.
    pub fn find_all(
        &self,
        s: CK_SESSION_HANDLE,
        attrs: &[Attr],
    ) -> P11Result<Vec<CK_OBJECT_HANDLE>> {
        let init = func(self.fl().C_FindObjectsInit, "C_FindObjectsInit")?;
        let find = func(self.fl().C_FindObjects, "C_FindObjects")?;
        let fin = func(self.fl().C_FindObjectsFinal, "C_FindObjectsFinal")?;
        let mut t = raw_template(attrs);
        // SAFETY: `t` holds `t.len()` attributes pointing into `attrs`, alive for the call.
        check("C_FindObjectsInit", unsafe {
            init(s, t.as_mut_ptr(), len(t.len()))
        })?;
        let mut all = Vec::new();
        let mut chunk = [0 as CK_OBJECT_HANDLE; 256];
        let result = loop {
            let mut n: CK_ULONG = 0;
            // SAFETY: `chunk` has room for `chunk.len()` handles, the maximum passed.
            let rv = unsafe { find(s, chunk.as_mut_ptr(), len(chunk.len()), &mut n) };
            if rv != CKR_OK {
                break Err(P11Error {
                    func: "C_FindObjects",
                    rv,
                });
            }
            let n = (n as usize).min(chunk.len());
            all.extend_from_slice(&chunk[..n]);
            if n == 0 {
                break Ok(());
            }
        };
        // SAFETY: a plain call with a handle.
        let rv_final = unsafe { fin(s) };
        result?;
        check("C_FindObjectsFinal", rv_final)?;
        Ok(all)
    }

    /// Runs an `*Init` with a key and then the matching single-part call into `out`
    /// (`C_Sign`, `C_Encrypt`, `C_Decrypt`); returns the output length.
    #[allow(clippy::too_many_arguments)]
    fn init_and_run(
        &self,
        init: (Option<InitFn>, &'static str),
        run: (Option<SinglePartFn>, &'static str),
        s: CK_SESSION_HANDLE,
        mech: &Mech,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        out: &mut [u8],
    ) -> P11Result<usize> {
        let init_fn = func(init.0, init.1)?;
        let run_fn = func(run.0, run.1)?;
        // SAFETY: the mechanism and its parameter live for the call.
        check(init.1, mech.with_raw(|m| unsafe { init_fn(s, m, key) }))?;
        let mut n = len(out.len());
        // SAFETY: `data` is readable and `out` writable for the lengths passed; the module
        // does not write through the data pointer.
        check(run.1, unsafe {
            run_fn(
                s,
                data.as_ptr().cast_mut(),
                len(data.len()),
                out.as_mut_ptr(),
                &mut n,
            )
        })?;
        Ok((n as usize).min(out.len()))
    }

    /// `C_SignInit` + `C_Sign` into `out`; returns the signature length.
    pub fn sign(
        &self,
        s: CK_SESSION_HANDLE,
        mech: &Mech,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        out: &mut [u8],
    ) -> P11Result<usize> {
        let fl = self.fl();
        self.init_and_run(
            (fl.C_SignInit, "C_SignInit"),
            (fl.C_Sign, "C_Sign"),
            s,
            mech,
            key,
            data,
            out,
        )
    }

    /// `C_VerifyInit` + `C_Verify`.
    pub fn verify(
        &self,
        s: CK_SESSION_HANDLE,
        mech: &Mech,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        sig: &[u8],
    ) -> P11Result<()> {
        let init = func(self.fl().C_VerifyInit, "C_VerifyInit")?;
        let verify = func(self.fl().C_Verify, "C_Verify")?;
        // SAFETY: the mechanism and its parameter live for the call.
        check(
            "C_VerifyInit",
            mech.with_raw(|m| unsafe { init(s, m, key) }),
        )?;
        // SAFETY: `data` and `sig` are readable for the lengths passed; the module does not
        // write through them.
        check("C_Verify", unsafe {
            verify(
                s,
                data.as_ptr().cast_mut(),
                len(data.len()),
                sig.as_ptr().cast_mut(),
                len(sig.len()),
            )
        })
    }

    /// `C_EncryptInit` + `C_Encrypt` into `out`; returns the output length.
    pub fn encrypt(
        &self,
        s: CK_SESSION_HANDLE,
        mech: &Mech,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        out: &mut [u8],
    ) -> P11Result<usize> {
        let fl = self.fl();
        self.init_and_run(
            (fl.C_EncryptInit, "C_EncryptInit"),
            (fl.C_Encrypt, "C_Encrypt"),
            s,
            mech,
            key,
            data,
            out,
        )
    }

    /// `C_DecryptInit` + `C_Decrypt` into `out`; returns the output length.
    pub fn decrypt(
        &self,
        s: CK_SESSION_HANDLE,
        mech: &Mech,
        key: CK_OBJECT_HANDLE,
        data: &[u8],
        out: &mut [u8],
    ) -> P11Result<usize> {
        let fl = self.fl();
        self.init_and_run(
            (fl.C_DecryptInit, "C_DecryptInit"),
            (fl.C_Decrypt, "C_Decrypt"),
            s,
            mech,
            key,
            data,
            out,
        )
    }

    /// `C_DigestInit` + `C_Digest` into `out`; returns the digest length.
    pub fn digest(
        &self,
        s: CK_SESSION_HANDLE,
        mech: &Mech,
        data: &[u8],
        out: &mut [u8],
    ) -> P11Result<usize> {
        let init = func(self.fl().C_DigestInit, "C_DigestInit")?;
        let dig = func(self.fl().C_Digest, "C_Digest")?;
        // SAFETY: the mechanism and its parameter live for the call.
        check("C_DigestInit", mech.with_raw(|m| unsafe { init(s, m) }))?;
        let mut n = len(out.len());
        // SAFETY: `data` is readable and `out` writable for the lengths passed.
        check("C_Digest", unsafe {
            dig(
                s,
                data.as_ptr().cast_mut(),
                len(data.len()),
                out.as_mut_ptr(),
                &mut n,
            )
        })?;
        Ok((n as usize).min(out.len()))
    }

    /// `C_WrapKey` into `out`; returns the wrapped length.
    pub fn wrap_key(
        &self,
        s: CK_SESSION_HANDLE,
        mech: &Mech,
        wrapping: CK_OBJECT_HANDLE,
        key: CK_OBJECT_HANDLE,
        out: &mut [u8],
    ) -> P11Result<usize> {
        let wrap = func(self.fl().C_WrapKey, "C_WrapKey")?;
        let mut n = len(out.len());
        // SAFETY: the mechanism lives for the call; `out` is writable for the length passed.
        check(
            "C_WrapKey",
            mech.with_raw(|m| unsafe { wrap(s, m, wrapping, key, out.as_mut_ptr(), &mut n) }),
        )?;
        Ok((n as usize).min(out.len()))
    }

    /// `C_GenerateKeyPair`; returns (public, private).
    pub fn generate_key_pair(
        &self,
        s: CK_SESSION_HANDLE,
        mech: &Mech,
        public: &[Attr],
        private: &[Attr],
    ) -> P11Result<(CK_OBJECT_HANDLE, CK_OBJECT_HANDLE)> {
        let gen = func(self.fl().C_GenerateKeyPair, "C_GenerateKeyPair")?;
        let mut tp = raw_template(public);
        let mut tq = raw_template(private);
        let (mut hp, mut hq): (CK_OBJECT_HANDLE, CK_OBJECT_HANDLE) = (0, 0);
        // SAFETY: both templates point into attribute lists that outlive the call; the
        // mechanism lives for the call; `hp` and `hq` are valid out-pointers.
        check(
            "C_GenerateKeyPair",
            mech.with_raw(|m| unsafe {
                gen(
                    s,
                    m,
                    tp.as_mut_ptr(),
                    len(tp.len()),
                    tq.as_mut_ptr(),
                    len(tq.len()),
                    &mut hp,
                    &mut hq,
                )
            }),
        )?;
        Ok((hp, hq))
    }
}

impl Drop for Module {
    fn drop(&mut self) {
        self.finalize();
    }
}
