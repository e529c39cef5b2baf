//! `custos bench`: a PKCS#11 benchmark over any module loaded through the C ABI.
//!
//! The module is loaded with `dlopen` and driven through the function list that
//! `C_GetFunctionList` returns, exactly as an application drives it, so the figures are what
//! applications see; point it at a hardware HSM's module and it measures that. With `--vs` a
//! second module is measured the same way, rounds alternating between the two, and every
//! cryptographic row also gets a reference figure: the same operation on the same key in this
//! process through AWS-LC.
//!
//! The token must be initialised with a user PIN. The benchmark imports its keys as session
//! objects and creates token objects only where a row needs them; everything it creates is
//! labelled `custos-bench-<run id>-…` and destroyed at the end, also after an error.
mod material;
mod ops;
pub(crate) mod report;

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use cryptoki_sys::*;
use zeroize::Zeroizing;

use crate::crypto::Curve;
use crate::ffi::client as p11;
use material::{KeyId, Material};
use ops::{Ctx, Kind, OpError, Prep, Unit, Worker};
use p11::{Attr, Module, P11Error};
use report::{Legend, Other, RowResult};

/// The line the init probe prints its measurement on.
const PROBE_PREFIX: &str = "init-probe-us ";
const RSS_PREFIX: &str = "init-probe-peak-rss-kib ";

/// Arguments of `custos bench`.
#[derive(clap::Args, Debug, Clone)]
pub struct BenchArgs {
    /// The PKCS#11 module to measure (A)
    #[arg(long, value_name = "PATH")]
    pub module: PathBuf,
    /// The slot of the token to use (default: the module's only initialised token)
    #[arg(long, value_name = "N", conflicts_with = "token_label")]
    pub slot: Option<u64>,
    /// The label of the token to use
    #[arg(long, value_name = "L")]
    pub token_label: Option<String>,
    /// The user PIN (default: $CUSTOS_PIN)
    #[arg(long, value_name = "PIN")]
    pub pin: Option<String>,
    /// A second module to compare with (B)
    #[arg(long, value_name = "OTHER_MODULE")]
    pub vs: Option<PathBuf>,
    /// The slot of B's token
    #[arg(
        long,
        value_name = "N",
        requires = "vs",
        conflicts_with = "vs_token_label"
    )]
    pub vs_slot: Option<u64>,
    /// The label of B's token
    #[arg(long, value_name = "L", requires = "vs")]
    pub vs_token_label: Option<String>,
    /// B's user PIN (default: the PIN of A)
    #[arg(long, value_name = "PIN", requires = "vs")]
    pub vs_pin: Option<String>,
    /// Threads for the multi-thread rows (default: the number of cores)
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Seconds per row per round (default 1.0)
    #[arg(long, value_name = "S")]
    pub seconds: Option<f64>,
    /// Rounds; the median is reported (default 3)
    #[arg(long, value_name = "R")]
    pub rounds: Option<u32>,
    /// Run only the rows whose name contains one of these (case-insensitive)
    #[arg(long, value_name = "SUBSTRING", num_args = 1..)]
    pub only: Vec<String>,
    /// Population sizes for the C_FindObjects rows, comma-separated; the init probe uses the
    /// largest (default 10,1000,10000; with --quick 10,100)
    #[arg(long, value_name = "N,N,...", value_delimiter = ',')]
    pub populations: Vec<usize>,
    /// Also write every row to FILE as JSON
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
    /// One round of 0.05 s per row and populations of 10 and 100 objects (for tests)
    #[arg(long)]
    pub quick: bool,
    /// Print the final table as Markdown
    #[arg(long)]
    pub markdown: bool,
    /// Internal: measure C_Initialize and a first search in this process
    #[arg(long, hide = true)]
    pub internal_init_probe: bool,
    /// Internal: the label the init probe searches for
    #[arg(long, hide = true, value_name = "LABEL")]
    pub probe_label: Option<String>,
}

/// The settled parameters of a run.
struct Settings {
    threads: usize,
    seconds: f64,
    rounds: u32,
    populations: Vec<usize>,
}

impl Settings {
    fn from_args(a: &BenchArgs) -> Result<Settings, String> {
        let threads = match a.threads {
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        };
        if !(1..=256).contains(&threads) {
            return Err(format!(
                "--threads must be between 1 and 256, not {threads}"
            ));
        }
        let seconds = a.seconds.unwrap_or(if a.quick { 0.05 } else { 1.0 });
        if !(seconds.is_finite() && seconds > 0.0 && seconds <= 3600.0) {
            return Err(format!(
                "--seconds must be more than 0 and at most 3600, not {seconds}"
            ));
        }
        let rounds = a.rounds.unwrap_or(if a.quick { 1 } else { 3 });
        if !(1..=100).contains(&rounds) {
            return Err(format!("--rounds must be between 1 and 100, not {rounds}"));
        }
        let mut populations = if !a.populations.is_empty() {
            a.populations.clone()
        } else if a.quick {
            vec![10, 100]
        } else {
            vec![10, 1_000, 10_000]
        };
        if let Some(bad) = populations.iter().find(|&&n| !(1..=1_000_000).contains(&n)) {
            return Err(format!(
                "--populations must be between 1 and 1000000 objects, not {bad}"
            ));
        }
        populations.sort_unstable();
        populations.dedup();
        Ok(Settings {
            threads,
            seconds,
            rounds,
            populations,
        })
    }
}

/// Every row in the order they run. The rows that change the token's contents come late and
/// the login row last, because logging out destroys the private session objects (the keys).
fn all_rows(pops: &[usize]) -> Vec<Kind> {
    let mut v = Vec::new();
    for pss in [false, true] {
        for bits in [2048, 3072, 4096] {
            v.push(Kind::RsaSign { bits, pss });
        }
    }
    v.extend([
        Kind::RsaVerify,
        Kind::RsaOaepDecrypt,
        Kind::EcdsaSign(Curve::P256),
        Kind::EcdsaSign(Curve::P384),
        Kind::EcdsaVerify(Curve::P256),
        Kind::EcdsaVerify(Curve::P384),
        Kind::Ed25519Sign,
        Kind::GcmEncrypt(64),
        Kind::GcmEncrypt(1024),
        Kind::GcmEncrypt(16 * 1024),
        Kind::CbcPadEncrypt(1024),
        Kind::Hmac(64),
        Kind::Digest(1024),
        Kind::KeyWrap,
        Kind::EcKeygen,
        Kind::DataCreateDestroy,
        Kind::OpenClose,
        Kind::Random,
    ]);
    for &pop in pops {
        v.push(Kind::Find {
            by_label: false,
            pop,
        });
        v.push(Kind::Find {
            by_label: true,
            pop,
        });
    }
    if let Some(&max) = pops.last() {
        v.push(Kind::InitProbe { pop: max });
        v.push(Kind::PeakRss { pop: max });
    }
    v.push(Kind::Login);
    v
}

/// The name of the row derived from the login row.
const LOGIN_LATENCY: &str = "C_Login + C_Logout latency";

fn thread_counts(k: Kind, threads: usize) -> Vec<usize> {
    if k.multi_thread() && threads > 1 {
        vec![1, threads]
    } else {
        vec![1]
    }
}

/// Runs `custos bench`; returns what goes to stdout. Progress goes to stderr as it happens.
pub fn run(args: &BenchArgs) -> Result<String, String> {
    if args.internal_init_probe {
        return init_probe_child(args);
    }
    let settings = Settings::from_args(args)?;
    let pin = match &args.pin {
        Some(p) => Zeroizing::new(p.as_bytes().to_vec()),
        None => match std::env::var("CUSTOS_PIN") {
            Ok(p) => Zeroizing::new(p.into_bytes()),
            Err(_) => return Err("no user PIN: give --pin or set CUSTOS_PIN".into()),
        },
    };
    let vs_pin = match &args.vs_pin {
        Some(p) => Zeroizing::new(p.as_bytes().to_vec()),
        None => pin.clone(),
    };
    let only: Vec<String> = args.only.iter().map(|s| s.to_lowercase()).collect();
    let rows: Vec<Kind> = all_rows(&settings.populations)
        .into_iter()
        .filter(|k| {
            let n = k.name().to_lowercase();
            only.is_empty()
                || only.iter().any(|o| {
                    n.contains(o.as_str())
                        || (*k == Kind::Login && LOGIN_LATENCY.to_lowercase().contains(o.as_str()))
                })
        })
        .collect();
    if rows.is_empty() {
        return Err(format!(
            "no row matches --only {}; rows are named like \"RSA-2048 sign SHA256_RSA_PKCS\"",
            args.only.join(" ")
        ));
    }

    let mut mat = Material::new(&material::run_id()?)?;
    let sessions = settings.threads;
    let mut targets = vec![Target::open(
        "A",
        &args.module,
        args.slot,
        args.token_label.as_deref(),
        pin,
        sessions,
    )?];
    if let Some(vs) = &args.vs {
        targets.push(Target::open(
            "B",
            vs,
            args.vs_slot,
            args.vs_token_label.as_deref(),
            vs_pin,
            sessions,
        )?);
    }
    let legend = Legend {
        a: targets[0].describe(),
        b: targets.get(1).map(Target::describe),
        threads: settings.threads,
        seconds: settings.seconds,
        rounds: settings.rounds,
    };
    for l in [Some(&legend.a), legend.b.as_ref()].into_iter().flatten() {
        progress(&format!("module {l}"));
    }

    let result = run_rows(&rows, &settings, &mut mat, &mut targets);
    let mut cleanup_errors = Vec::new();
    for t in &mut targets {
        match t.cleanup(&mat) {
            Ok(0) => {}
            Ok(n) => progress(&format!("{}: removed {n} benchmark objects", t.tag)),
            Err(e) => cleanup_errors.push(e),
        }
    }
    let results = match result {
        Ok(r) => r,
        Err(e) => {
            let mut msg = e;
            for c in cleanup_errors {
                msg.push_str("; also: ");
                msg.push_str(&c);
            }
            return Err(msg);
        }
    };
    if let Some(c) = cleanup_errors.into_iter().next() {
        return Err(c);
    }
    drop(targets);

    if let Some(path) = &args.json {
        std::fs::write(path, report::json(&legend, &results))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    Ok(if args.markdown {
        report::markdown(&legend, &results)
    } else {
        report::plain(&legend, &results)
    })
}

fn progress(line: &str) {
    let mut e = std::io::stderr().lock();
    let _ = writeln!(e, "{line}");
}

fn progress_part(text: &str) {
    let mut e = std::io::stderr().lock();
    let _ = write!(e, "{text}");
    let _ = e.flush();
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => f64::NAN,
        _ if n % 2 == 1 => v[n / 2],
        _ => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

/// One module under test.
struct Target {
    tag: &'static str,
    module: Module,
    slot: CK_SLOT_ID,
    label: String,
    pin: Zeroizing<Vec<u8>>,
    sessions: Vec<CK_SESSION_HANDLE>,
    keys: HashMap<KeyId, CK_OBJECT_HANDLE>,
    population: Vec<CK_OBJECT_HANDLE>,
}

fn label_text(label: &[u8]) -> String {
    String::from_utf8_lossy(label).trim_end().to_string()
}

impl Target {
    fn open(
        tag: &'static str,
        path: &Path,
        slot: Option<u64>,
        label: Option<&str>,
        pin: Zeroizing<Vec<u8>>,
        sessions: usize,
    ) -> Result<Target, String> {
        let mut module = Module::load(path)?;
        module
            .initialize()
            .map_err(|e| format!("C_Initialize of {} failed: {e}", path.display()))?;
        let (slot, label) = choose_token(&module, slot, label)?;
        let mut t = Target {
            tag,
            module,
            slot,
            label,
            pin,
            sessions: Vec::new(),
            keys: HashMap::new(),
            population: Vec::new(),
        };
        for _ in 0..sessions.max(1) {
            let s = t.module.open_session(slot).map_err(|e| {
                format!(
                    "cannot open a read/write session with the token \"{}\" in slot {slot} of {}: {e}",
                    t.label,
                    path.display()
                )
            })?;
            t.sessions.push(s);
        }
        t.login()?;
        Ok(t)
    }

    fn describe(&self) -> String {
        format!(
            "{} (token \"{}\" in slot {})",
            self.module.path().display(),
            self.label,
            self.slot
        )
    }

    fn login(&self) -> Result<(), String> {
        match self.module.login(self.sessions[0], &self.pin) {
            Ok(()) => Ok(()),
            Err(P11Error {
                rv: CKR_USER_ALREADY_LOGGED_IN,
                ..
            }) => Ok(()),
            Err(P11Error {
                rv: CKR_PIN_INCORRECT,
                ..
            }) => Err(format!(
                "wrong PIN for the token \"{}\" in slot {} of {} (CKR_PIN_INCORRECT)",
                self.label,
                self.slot,
                self.module.path().display()
            )),
            Err(P11Error {
                rv: CKR_PIN_LOCKED, ..
            }) => Err(format!(
                "the user PIN of the token \"{}\" in slot {} of {} is locked (CKR_PIN_LOCKED)",
                self.label,
                self.slot,
                self.module.path().display()
            )),
            Err(e) => Err(format!(
                "cannot log in to the token \"{}\" in slot {} of {}: {e}",
                self.label,
                self.slot,
                self.module.path().display()
            )),
        }
    }

    /// Why the module cannot run a row, if it cannot.
    fn missing(&self, kind: Kind) -> Option<String> {
        for need in kind.needs() {
            let name = ops::mech_name(need.mech);
            let info = match self.module.mechanism_info(self.slot, need.mech) {
                Ok(i) => i,
                Err(e) => return Some(format!("no {name} ({e})")),
            };
            if info.flags & need.flag == 0 {
                return Some(format!(
                    "{name} is not offered for {}",
                    ops::flag_name(need.flag)
                ));
            }
            if let Some(bits) = need.bits {
                let bits = bits as CK_ULONG;
                if bits < info.ulMinKeySize || (info.ulMaxKeySize != 0 && bits > info.ulMaxKeySize)
                {
                    return Some(format!(
                        "{name} takes {}..{} bit keys only",
                        info.ulMinKeySize, info.ulMaxKeySize
                    ));
                }
            }
        }
        None
    }

    /// The module's handle for `key`, imported on first use.
    fn key(&mut self, mat: &Material, key: KeyId) -> Result<CK_OBJECT_HANDLE, String> {
        if let Some(h) = self.keys.get(&key) {
            return Ok(*h);
        }
        let t = mat.template(key)?;
        let h = self
            .module
            .create_object(self.sessions[0], &t)
            .map_err(|e| format!("importing {} failed: {e}", mat.key_label(key)))?;
        self.keys.insert(key, h);
        Ok(h)
    }

    fn prepare(&mut self, kind: Kind, mat: &Material) -> Result<Prep, String> {
        if let Some(why) = self.missing(kind) {
            return Err(why);
        }
        let mut keys = Vec::new();
        for k in kind.keys() {
            keys.push(self.key(mat, k)?);
        }
        if let Some(pop) = kind.population() {
            self.ensure_population(mat, pop)?;
        }
        Ok(Prep {
            keys,
            templates: ops::templates(kind, mat),
        })
    }

    /// Fills the token with population objects `0..n` (not timed).
    fn ensure_population(&mut self, mat: &Material, n: usize) -> Result<(), String> {
        let have = self.population.len();
        if have >= n {
            return Ok(());
        }
        progress_part(&format!(
            "{}: populating the token with {} public-key objects ...",
            self.tag,
            ops::thousands(n)
        ));
        let start = Instant::now();
        let idx: Vec<usize> = (have..n).collect();
        let mut templates = Vec::with_capacity(idx.len());
        for &i in &idx {
            templates.push(ops::population_object(mat, i)?);
        }
        let created = self.parallel(&templates, |m, s, t| m.create_object(s, t));
        let ok = created.iter().filter_map(|r| r.as_ref().ok().copied());
        self.population.extend(ok);
        progress(&format!(" {:.1} s", start.elapsed().as_secs_f64()));
        if let Some(Err(e)) = created.into_iter().find(Result::is_err) {
            return Err(format!("creating population objects failed: {e}"));
        }
        Ok(())
    }

    /// Runs `f` on every item, spread over the target's sessions, one thread each.
    fn parallel<T: Sync, R: Send>(
        &self,
        items: &[T],
        f: impl Fn(&Module, CK_SESSION_HANDLE, &T) -> Result<R, P11Error> + Sync,
    ) -> Vec<Result<R, P11Error>> {
        if items.is_empty() {
            return Vec::new();
        }
        let n = self.sessions.len().max(1);
        let chunk = items.len().div_ceil(n);
        let f = &f;
        std::thread::scope(|sc| {
            let handles: Vec<_> = items
                .chunks(chunk)
                .zip(&self.sessions)
                .map(|(part, &s)| {
                    let m = &self.module;
                    sc.spawn(move || {
                        let mut out = Vec::with_capacity(part.len());
                        for it in part {
                            let r = f(m, s, it);
                            let stop = r.is_err();
                            out.push(r);
                            if stop {
                                break;
                            }
                        }
                        out
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| {
                    h.join().unwrap_or_else(|_| {
                        vec![Err(P11Error {
                            func: "a worker thread",
                            rv: CKR_GENERAL_ERROR,
                        })]
                    })
                })
                .collect()
        })
    }

    /// Destroys every object labelled with this run's prefix; returns how many.
    fn cleanup(&mut self, mat: &Material) -> Result<usize, String> {
        let what = || {
            format!(
                "{} (token \"{}\" in slot {})",
                self.module.path().display(),
                self.label,
                self.slot
            )
        };
        let Some(&s) = self.sessions.first() else {
            return Ok(0);
        };
        self.login()
            .map_err(|e| format!("cleaning up benchmark objects: {e}"))?;
        let all = self
            .module
            .find_all(s, &[])
            .map_err(|e| format!("cleaning up benchmark objects in {}: {e}", what()))?;
        let prefix = mat.prefix.as_bytes();
        let mine: Vec<CK_OBJECT_HANDLE> = all
            .into_iter()
            .filter(|&h| {
                matches!(self.module.attribute(s, h, CKA_LABEL),
                    Ok(Some(l)) if l.starts_with(prefix))
            })
            .collect();
        let results = self.parallel(&mine, |m, s, &h| m.destroy_object(s, h));
        self.keys.clear();
        self.population.clear();
        let failed: Vec<&P11Error> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        if let Some(e) = failed.first() {
            return Err(format!(
                "{} benchmark object(s) labelled {}* could not be removed from {}: {e}",
                failed.len(),
                mat.prefix,
                what()
            ));
        }
        Ok(results.len())
    }

    fn ctx<'a>(&'a self, mat: &'a Material) -> Ctx<'a> {
        Ctx {
            m: &self.module,
            slot: self.slot,
            pin: &self.pin,
            mat,
        }
    }
}

impl Drop for Target {
    fn drop(&mut self) {
        for &s in &self.sessions {
            let _ = self.module.close_session(s);
        }
    }
}

/// Picks the token: by slot, by label, or the only initialised one.
fn choose_token(
    m: &Module,
    slot: Option<u64>,
    label: Option<&str>,
) -> Result<(CK_SLOT_ID, String), String> {
    let path = m.path().display();
    let usable = |slot: CK_SLOT_ID, info: &CK_TOKEN_INFO| -> Result<(), String> {
        let l = label_text(&info.label);
        if info.flags & CKF_TOKEN_INITIALIZED == 0 {
            return Err(format!(
                "the token in slot {slot} of {path} is not initialised"
            ));
        }
        if info.flags & CKF_USER_PIN_INITIALIZED == 0 {
            return Err(format!(
                "the token \"{l}\" in slot {slot} of {path} has no user PIN"
            ));
        }
        Ok(())
    };
    if let Some(slot) = slot {
        let info = match m.token_info(slot) {
            Ok(i) => i,
            Err(P11Error {
                rv: CKR_SLOT_ID_INVALID,
                ..
            }) => return Err(format!("{path} has no slot {slot}")),
            Err(P11Error {
                rv: CKR_TOKEN_NOT_PRESENT,
                ..
            }) => return Err(format!("no token in slot {slot} of {path}")),
            Err(e) => {
                return Err(format!(
                    "cannot read the token in slot {slot} of {path}: {e}"
                ))
            }
        };
        usable(slot, &info)?;
        return Ok((slot, label_text(&info.label)));
    }
    let slots = m
        .slots(true)
        .map_err(|e| format!("cannot list the slots of {path}: {e}"))?;
    let mut tokens = Vec::new();
    for s in slots {
        if let Ok(info) = m.token_info(s) {
            tokens.push((s, info));
        }
    }
    let list = |v: &[(CK_SLOT_ID, CK_TOKEN_INFO)]| {
        v.iter()
            .map(|(s, i)| format!("\"{}\" in slot {s}", label_text(&i.label)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(label) = label {
        let found: Vec<_> = tokens
            .iter()
            .filter(|(_, i)| label_text(&i.label) == label)
            .collect();
        return match found.as_slice() {
            [(s, i)] => {
                usable(*s, i)?;
                Ok((*s, label.to_string()))
            }
            [] => Err(format!(
                "no token labelled \"{label}\" in {path} (tokens: {})",
                if tokens.is_empty() {
                    "none".to_string()
                } else {
                    list(&tokens)
                }
            )),
            _ => Err(format!(
                "several tokens are labelled \"{label}\" in {path}: choose one with --slot"
            )),
        };
    }
    let init: Vec<_> = tokens
        .into_iter()
        .filter(|(_, i)| i.flags & CKF_TOKEN_INITIALIZED != 0)
        .collect();
    match init.as_slice() {
        [(s, i)] => {
            usable(*s, i)?;
            Ok((*s, label_text(&i.label)))
        }
        [] => Err(format!("no initialised token in {path}")),
        _ => Err(format!(
            "{path} has {} initialised tokens ({}): choose one with --slot or --token-label",
            init.len(),
            list(&init)
        )),
    }
}

/// Runs every row; returns the final table's rows.
fn run_rows(
    rows: &[Kind],
    st: &Settings,
    mat: &mut Material,
    targets: &mut [Target],
) -> Result<Vec<RowResult>, String> {
    let total: usize = rows
        .iter()
        .map(|&k| thread_counts(k, st.threads).len())
        .sum();
    let mut step = 0;
    let mut results = Vec::new();
    for &kind in rows {
        for k in kind.keys() {
            mat.ensure(k)?;
        }
        if let Some(pop) = kind.population() {
            mat.ensure(KeyId::EcPublic(Curve::P256))?;
            mat.ensure_population(pop);
        }
        // Per target: the prepared row, or why B cannot run it.
        let mut preps: Vec<Result<Prep, String>> = Vec::new();
        for (i, t) in targets.iter_mut().enumerate() {
            match t.prepare(kind, mat) {
                Ok(p) => preps.push(Ok(p)),
                Err(e) if i == 0 => {
                    return Err(format!(
                        "module A ({}) cannot run \"{}\": {e}",
                        t.module.path().display(),
                        kind.name()
                    ))
                }
                Err(e) => {
                    progress(&format!("B cannot run \"{}\": {e}", kind.name()));
                    preps.push(Err(e));
                }
            }
        }
        // Check each module's result once before timing anything.
        for (i, t) in targets.iter().enumerate() {
            let Some(Ok(prep)) = preps.get(i) else {
                continue;
            };
            if let Err(e) = check_once(kind, t, mat, prep) {
                if i == 0 {
                    return Err(format!(
                        "module A ({}) failed \"{}\": {e}",
                        t.module.path().display(),
                        kind.name()
                    ));
                }
                progress(&format!("B failed \"{}\": {e}", kind.name()));
                preps[i] = Err(e);
            }
        }
        let counts = thread_counts(kind, st.threads);
        step += counts.len();
        let rows = run_row(kind, &counts, st, mat, targets, &mut preps, step, total)?;
        for r in rows {
            let line = report::plain(
                &Legend {
                    a: String::new(),
                    b: None,
                    threads: st.threads,
                    seconds: st.seconds,
                    rounds: st.rounds,
                },
                std::slice::from_ref(&r),
            );
            if let Some(row_line) = line.lines().rev().find(|l| !l.trim().is_empty()) {
                progress(&format!("  = {}", row_line.trim()));
            }
            results.push(r);
        }
        if kind == Kind::Login {
            if let Some(r) = results.last() {
                let lat = |v: f64| if v > 0.0 { 1000.0 / v } else { f64::NAN };
                results.push(RowResult {
                    name: LOGIN_LATENCY.to_string(),
                    threads: 1,
                    unit: Unit::MsPerOp,
                    a: lat(r.a),
                    b: match &r.b {
                        Other::Value(v) => Other::Value(lat(*v)),
                        other => other.clone(),
                    },
                    reference: None,
                });
            }
            // Logging out destroyed the private session objects.
            for t in targets.iter_mut() {
                t.keys.clear();
            }
        }
    }
    Ok(results)
}

/// Runs the row's operation once on the module and checks its output.
fn check_once(kind: Kind, t: &Target, mat: &Material, prep: &Prep) -> Result<(), String> {
    if matches!(
        kind,
        Kind::InitProbe { .. } | Kind::PeakRss { .. } | Kind::Login
    ) {
        return Ok(());
    }
    let c = t.ctx(mat);
    let mut w = Worker::new(0);
    let n = ops::run_op(kind, &c, t.sessions[0], prep, &mut w).map_err(|e| e.to_string());
    for h in w.created.drain(..) {
        let _ = t.module.destroy_object(t.sessions[0], h);
    }
    ops::check_output(kind, mat, &w, n?)
}

/// Measures one row with each thread count in `counts` over every round. Within a round the
/// thread counts are measured back to back, each against every module and the reference, so
/// that a signing row's scaling (N threads over 1, [`Unit::Scaling`]) is taken from pairs of
/// measurements seconds apart: on a shared machine whose speed drifts, that ratio is far
/// steadier than the ratio of two medians taken minutes apart.
#[allow(clippy::too_many_arguments)]
fn run_row(
    kind: Kind,
    counts: &[usize],
    st: &Settings,
    mat: &Material,
    targets: &[Target],
    preps: &mut [Result<Prep, String>],
    step: usize,
    total: usize,
) -> Result<Vec<RowResult>, String> {
    // samples[c][i]: thread count c, target i, one figure per round (NaN where one failed).
    let mut samples: Vec<Vec<Vec<f64>>> = vec![vec![Vec::new(); targets.len()]; counts.len()];
    let mut reference: Vec<Vec<f64>> = vec![Vec::new(); counts.len()];
    let with_ref = kind.has_reference();
    for round in 1..=st.rounds {
        progress_part(&format!(
            "[{step}/{total}] {}, round {round}/{}:",
            kind.name(),
            st.rounds
        ));
        for (c, &threads) in counts.iter().enumerate() {
            progress_part(&format!(
                " {threads} thread{}",
                if threads == 1 { "" } else { "s" }
            ));
            for (i, t) in targets.iter().enumerate() {
                let Some(Ok(prep)) = preps.get(i) else {
                    continue;
                };
                if kind == Kind::Login {
                    // The timed loop logs in and out itself; it starts logged out.
                    t.module
                        .logout(t.sessions[0])
                        .map_err(|e| format!("{}: before the login row: {e}", t.tag))?;
                }
                let r = match kind {
                    Kind::InitProbe { pop } => init_probe(t, mat, pop).map(|(ms, _)| ms),
                    Kind::PeakRss { pop } => init_probe(t, mat, pop).map(|(_, mib)| mib),
                    _ => {
                        measure(t, mat, kind, prep, threads, st.seconds).map_err(|e| e.to_string())
                    }
                };
                if kind == Kind::Login {
                    t.login()?;
                }
                match r {
                    Ok(v) => {
                        progress_part(&format!(" {} {}", t.tag, report::fmt_value(v)));
                        samples[c][i].push(v);
                    }
                    Err(e) if i == 0 => {
                        progress("");
                        return Err(format!(
                            "module A ({}) failed \"{}\": {e}",
                            t.module.path().display(),
                            kind.name()
                        ));
                    }
                    Err(e) => {
                        progress_part(&format!(" B failed ({e})"));
                        preps[i] = Err(e);
                    }
                }
            }
            if with_ref {
                match measure_reference(kind, mat, st.seconds, threads) {
                    Some(Ok(v)) => {
                        progress_part(&format!(" ref {}", report::fmt_value(v)));
                        reference[c].push(v);
                    }
                    Some(Err(e)) => {
                        progress("");
                        return Err(format!("the reference for \"{}\" failed: {e}", kind.name()));
                    }
                    None => {}
                }
            }
        }
        progress(&format!(" {}", kind.unit().name()));
    }
    let b_of = |preps: &[Result<Prep, String>], v: &mut Vec<f64>| match preps.get(1) {
        None => Other::Absent,
        Some(Err(why)) => Other::NotAvailable(why.clone()),
        Some(Ok(_)) => Other::Value(median(v)),
    };
    let mut rows = Vec::new();
    for (c, &threads) in counts.iter().enumerate() {
        let mut none = Vec::new();
        rows.push(RowResult {
            name: kind.name(),
            threads,
            unit: kind.unit(),
            a: median(&mut samples[c][0]),
            b: b_of(preps, samples[c].get_mut(1).unwrap_or(&mut none)),
            reference: (!reference[c].is_empty()).then(|| median(&mut reference[c])),
        });
    }
    if kind.is_sign() && counts.len() > 1 {
        // Per-round ratios of the last thread count over the first.
        let last = counts.len() - 1;
        let ratios = |first: &[f64], other: &[f64]| -> Vec<f64> {
            first
                .iter()
                .zip(other)
                .filter(|(one, _)| **one > 0.0)
                .map(|(one, n)| n / one)
                .collect()
        };
        let mut a = ratios(&samples[0][0], &samples[last][0]);
        let mut b = match (samples[0].get(1), samples[last].get(1)) {
            (Some(one), Some(n)) => ratios(one, n),
            _ => Vec::new(),
        };
        let mut r = ratios(&reference[0], &reference[last]);
        rows.push(RowResult {
            name: format!("{}: scaling", kind.name()),
            threads: counts[last],
            unit: Unit::Scaling,
            a: median(&mut a),
            b: b_of(preps, &mut b),
            reference: (!r.is_empty()).then(|| median(&mut r)),
        });
    }
    Ok(rows)
}

/// Runs the operation on `threads` threads (each on its own session) until `seconds` pass;
/// returns operations per second.
fn measure(
    t: &Target,
    mat: &Material,
    kind: Kind,
    prep: &Prep,
    threads: usize,
    seconds: f64,
) -> Result<f64, OpError> {
    let dur = Duration::from_secs_f64(seconds);
    let barrier = Barrier::new(threads);
    let c = t.ctx(mat);
    let results: Vec<Result<(u64, Duration), OpError>> = std::thread::scope(|sc| {
        let handles: Vec<_> = t
            .sessions
            .iter()
            .take(threads)
            .enumerate()
            .map(|(i, &s)| {
                let (c, barrier) = (&c, &barrier);
                sc.spawn(move || {
                    let mut w = Worker::new(i);
                    barrier.wait();
                    let start = Instant::now();
                    let deadline = start + dur;
                    let mut n = 0u64;
                    let r = loop {
                        if let Err(e) = ops::run_op(kind, c, s, prep, &mut w) {
                            break Err(e);
                        }
                        n += 1;
                        if Instant::now() >= deadline {
                            break Ok(());
                        }
                    };
                    let elapsed = start.elapsed();
                    for h in w.created.drain(..) {
                        let _ = c.m.destroy_object(s, h);
                    }
                    r.map(|()| (n, elapsed))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(OpError::Wrong("a benchmark thread panicked".into())))
            })
            .collect()
    });
    let mut ops = 0u64;
    let mut longest = Duration::ZERO;
    for r in results {
        let (n, el) = r?;
        ops += n;
        longest = longest.max(el);
    }
    Ok(ops as f64 / longest.as_secs_f64().max(1e-9))
}

/// The in-process reference, single thread.
fn measure_reference(
    kind: Kind,
    mat: &Material,
    seconds: f64,
    threads: usize,
) -> Option<Result<f64, String>> {
    let mut w = Worker::new(0);
    if let Err(e) = ops::reference_op(kind, mat, &mut w)? {
        return Some(Err(e));
    }
    // Each thread runs the same in-process loop; the figure is their total rate, so the
    // multi-thread rows show how the primitive itself scales on this machine.
    let barrier = Barrier::new(threads);
    let results: Vec<Result<(u64, f64), String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let mut w = Worker::new(t);
                    barrier.wait();
                    let start = Instant::now();
                    let deadline = start + Duration::from_secs_f64(seconds);
                    let mut n = 0u64;
                    loop {
                        if let Some(Err(e)) = ops::reference_op(kind, mat, &mut w) {
                            return Err(e);
                        }
                        n += 1;
                        if Instant::now() >= deadline {
                            break;
                        }
                    }
                    Ok((n, start.elapsed().as_secs_f64()))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("a reference thread panicked".into()))
            })
            .collect()
    });
    let mut total = 0.0;
    for r in results {
        match r {
            Ok((n, secs)) => total += n as f64 / secs.max(1e-9),
            Err(e) => return Some(Err(e)),
        }
    }
    Some(Ok(total))
}

/// Runs the init probe in a fresh process; returns milliseconds and the child's peak
/// resident memory in MiB.
fn init_probe(t: &Target, mat: &Material, pop: usize) -> Result<(f64, f64), String> {
    let label = mat
        .pop_labels
        .get(pop.saturating_sub(1))
        .ok_or("internal error: no population")?;
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find this program to run the init probe: {e}"))?;
    let out = std::process::Command::new(&exe)
        .arg("bench")
        .arg("--internal-init-probe")
        .arg("--module")
        .arg(t.module.path())
        .arg("--slot")
        .arg(t.slot.to_string())
        .arg("--probe-label")
        .arg(String::from_utf8_lossy(label).as_ref())
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    let value = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|v| v.trim().parse::<f64>().ok())
    };
    match (value(PROBE_PREFIX), value(RSS_PREFIX)) {
        (Some(us), Some(kib)) if out.status.success() => Ok((us / 1000.0, kib / 1024.0)),
        _ => Err(format!(
            "the init probe failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("")
                .trim()
        )),
    }
}

/// The child side of the init probe: `C_Initialize`, `C_OpenSession` and one search, timed.
fn init_probe_child(a: &BenchArgs) -> Result<String, String> {
    let slot = a.slot.ok_or("--internal-init-probe needs --slot")?;
    let label = a
        .probe_label
        .as_deref()
        .ok_or("--internal-init-probe needs --probe-label")?;
    let mut m = Module::load(&a.module)?;
    let start = Instant::now();
    m.initialize()
        .map_err(|e| format!("C_Initialize of {} failed: {e}", a.module.display()))?;
    let s = m
        .open_session(slot)
        .map_err(|e| format!("C_OpenSession failed: {e}"))?;
    let found = m
        .find(s, &[Attr::bytes(CKA_LABEL, label.as_bytes())], 16)
        .map_err(|e| e.to_string())?;
    let us = start.elapsed().as_secs_f64() * 1e6;
    let _ = m.close_session(s);
    if found.len() != 1 {
        return Err(format!(
            "the search for \"{label}\" found {} objects, not 1",
            found.len()
        ));
    }
    let kib = peak_rss_kib().ok_or("cannot read VmHWM from /proc/self/status")?;
    Ok(format!("{PROBE_PREFIX}{us:.0}\n{RSS_PREFIX}{kib}\n"))
}

/// This process's peak resident set size (`VmHWM`), in KiB.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}
