//! `custos`: the administration tool of a Custos store.
//!
//! ```text
//! custos init --store DIR --shares N --threshold M --out SHARES_DIR [--slots K]
//! custos init --store DIR --dev [--slots K]
//! custos status --store DIR [--share FILE]...
//! custos token init --store DIR --slot N --label L [--so-pin S] [--pin P] [--share FILE]...
//! custos token list --store DIR [--share FILE]...
//! custos share verify --store DIR SHARE_FILE
//! custos bench --module PATH [--slot N | --token-label L] --pin PIN [--vs OTHER_MODULE ...]
//! ```
//!
//! Every failure is one line on stderr starting with `custos: error: ` and exit status 1.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use cryptoki_sys::{
    CKF_RW_SESSION, CKF_SERIAL_SESSION, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY,
    CKF_SO_PIN_LOCKED, CKF_TOKEN_INITIALIZED, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
    CKF_USER_PIN_INITIALIZED, CKF_USER_PIN_LOCKED, CKU_SO, CK_FLAGS,
};
use zeroize::Zeroizing;

use custos_pkcs11::config::Config;
use custos_pkcs11::engine::provision::{self, ProvisionError};
use custos_pkcs11::engine::{Engine, Error as EngineError, SlotId, MAX_PIN_LEN, MIN_PIN_LEN};
use custos_pkcs11::store::{Store, StoreHeader, DB_FILE};
use custos_pkcs11::vault::{Unsealer, VaultError};

/// Default number of slots in a new store.
const DEFAULT_SLOTS: u32 = 4;

/// Appends one line to an output buffer.
macro_rules! say {
    ($out:expr, $($arg:tt)*) => {
        let _ = writeln!($out, $($arg)*);
    };
}

#[derive(Parser, Debug)]
#[command(
    name = "custos",
    version,
    about = "Administer a Custos store: create it, unseal it with a quorum of shares, set up tokens"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a store and split its master key into shares for the custodians
    Init(InitArgs),
    /// Show the store header and, when unsealed, every slot's token
    Status(StatusArgs),
    /// Manage the tokens in the store's slots
    #[command(subcommand)]
    Token(TokenCommand),
    /// Print the mechanisms the module offers, as a Markdown table
    Mechanisms,
    /// Work with master-key shares
    #[command(subcommand)]
    Share(ShareCommand),
    /// Benchmark a PKCS#11 module through its C ABI, optionally against another module
    Bench(custos_pkcs11::bench::BenchArgs),
}

#[derive(Args, Debug)]
struct InitArgs {
    /// The store directory (created if missing)
    #[arg(long, value_name = "DIR")]
    store: PathBuf,
    /// Number of shares to issue (N, 1..=255)
    #[arg(long = "shares", value_name = "N", required_unless_present = "dev")]
    shares: Option<u32>,
    /// Shares needed to open the store (M, 1..=N)
    #[arg(long, value_name = "M", required_unless_present = "dev")]
    threshold: Option<u32>,
    /// Directory the share files are written to (created if missing, mode 0700)
    #[arg(long, value_name = "SHARES_DIR", required_unless_present = "dev")]
    out: Option<PathBuf>,
    /// Number of slots (1..=64)
    #[arg(long, value_name = "K", default_value_t = DEFAULT_SLOTS)]
    slots: u32,
    /// Development store: one share, kept beside the store so anyone who can read the
    /// directory can open it. For CI and development only.
    #[arg(long, conflicts_with_all = ["shares", "threshold", "out"])]
    dev: bool,
}

#[derive(Args, Debug)]
struct UnsealArgs {
    /// The store directory
    #[arg(long, value_name = "DIR")]
    store: PathBuf,
    /// A share file to unseal with (repeat for each share); without any, the shares come from
    /// the configuration named by CUSTOS_CONF or, for a --dev store, from the store itself
    #[arg(long = "share", value_name = "FILE")]
    share: Vec<PathBuf>,
}

#[derive(Args, Debug)]
struct StatusArgs {
    #[command(flatten)]
    unseal: UnsealArgs,
}

#[derive(Subcommand, Debug)]
enum TokenCommand {
    /// Initialise (or re-initialise, with its SO PIN) the token in a slot and set its user PIN
    Init(TokenInitArgs),
    /// List every slot's token
    List(TokenListArgs),
}

#[derive(Args, Debug)]
struct TokenInitArgs {
    #[command(flatten)]
    unseal: UnsealArgs,
    /// The slot number
    #[arg(long, value_name = "N")]
    slot: SlotId,
    /// The token label (at most 32 bytes)
    #[arg(long, value_name = "L")]
    label: String,
    /// The security officer PIN (default: $CUSTOS_SO_PIN, which other users cannot see in the
    /// process list)
    #[arg(long, value_name = "S")]
    so_pin: Option<String>,
    /// The user PIN (default: $CUSTOS_PIN)
    #[arg(long, value_name = "P")]
    pin: Option<String>,
}

#[derive(Args, Debug)]
struct TokenListArgs {
    #[command(flatten)]
    unseal: UnsealArgs,
}

#[derive(Subcommand, Debug)]
enum ShareCommand {
    /// Check, without unsealing, that a share file is a genuine share of the store
    Verify(ShareVerifyArgs),
}

#[derive(Args, Debug)]
struct ShareVerifyArgs {
    /// The store directory
    #[arg(long, value_name = "DIR")]
    store: PathBuf,
    /// The share file to check
    #[arg(value_name = "SHARE_FILE")]
    file: PathBuf,
}

/// A failure, worded for the operator.
#[derive(Debug)]
struct CliError(String);

type CliResult<T> = Result<T, CliError>;

impl From<String> for CliError {
    fn from(s: String) -> Self {
        CliError(s)
    }
}
impl From<&str> for CliError {
    fn from(s: &str) -> Self {
        CliError(s.to_string())
    }
}
impl From<ProvisionError> for CliError {
    fn from(e: ProvisionError) -> Self {
        CliError(e.to_string())
    }
}

/// What a successful command prints.
#[derive(Default)]
struct Output {
    stdout: String,
    stderr: String,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Init(a) => cmd_init(&a),
        Command::Status(a) => cmd_status(&a),
        Command::Token(TokenCommand::Init(a)) => cmd_token_init(&a),
        Command::Token(TokenCommand::List(a)) => cmd_token_list(&a),
        Command::Share(ShareCommand::Verify(a)) => cmd_share_verify(&a),
        Command::Bench(a) => custos_pkcs11::bench::run(&a)
            .map(|stdout| Output {
                stdout,
                stderr: String::new(),
            })
            .map_err(CliError),
        Command::Mechanisms => Ok(Output {
            stdout: custos_pkcs11::mechanism::markdown_table(),
            stderr: String::new(),
        }),
    };
    match result {
        Ok(out) => {
            emit(&mut std::io::stderr().lock(), &out.stderr);
            emit(&mut std::io::stdout().lock(), &out.stdout);
            ExitCode::SUCCESS
        }
        Err(CliError(msg)) => {
            let line = format!("custos: error: {}\n", msg.trim_end().replace('\n', "; "));
            emit(&mut std::io::stderr().lock(), &line);
            ExitCode::FAILURE
        }
    }
}

/// Writes text, ignoring a closed pipe.
fn emit(w: &mut dyn std::io::Write, text: &str) {
    let _ = w.write_all(text.as_bytes()).and_then(|()| w.flush());
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

// ----- init ---------------------------------------------------------------------------------

fn cmd_init(a: &InitArgs) -> CliResult<Output> {
    if a.slots == 0 || a.slots > 64 {
        return Err(format!("--slots must be between 1 and 64, not {}", a.slots).into());
    }
    if a.dev {
        return init_dev(a);
    }
    let (Some(total), Some(threshold), Some(out_dir)) = (a.shares, a.threshold, a.out.as_deref())
    else {
        return Err("--shares, --threshold and --out are required (or use --dev)".into());
    };
    let (threshold, total) = check_quorum(threshold, total)?;
    refuse_existing_store(&a.store)?;

    // Everything that can be checked is checked before the store exists.
    let paths: Vec<PathBuf> = (1..=total)
        .map(|i| out_dir.join(format!("share-{i}-of-{total}.txt")))
        .collect();
    if let Some(p) = paths.iter().find(|p| std::fs::symlink_metadata(p).is_ok()) {
        return Err(format!(
            "{} already exists; refusing to overwrite a share file (choose another --out)",
            p.display()
        )
        .into());
    }
    let mut out = Output::default();
    create_private_dir(out_dir, &mut out)?;

    let shares = provision::create_store(&a.store, threshold, total, a.slots)?;
    let store_id = *shares
        .first()
        .map(|s| s.store_id())
        .ok_or("no shares made")?;
    let mut written: Vec<&PathBuf> = Vec::new();
    for (share, path) in shares.iter().zip(&paths) {
        if let Err(e) = provision::write_share_file(path, share) {
            for p in &written {
                let _ = std::fs::remove_file(p);
            }
            let removed = remove_store_files(&a.store, false);
            return Err(format!(
                "{e}; {removed} so that no store exists whose shares are lost. Nothing was created."
            )
            .into());
        }
        written.push(path);
    }
    drop(shares);

    say!(out.stdout, "created store {}", a.store.display());
    say!(out.stdout, "store id: {}", hex(&store_id));
    say!(
        out.stdout,
        "quorum:   {threshold} of {total} shares open the store"
    );
    say!(out.stdout, "slots:    {}", a.slots);
    say!(
        out.stdout,
        "shares (give each file to its custodian, then delete it here):"
    );
    for (i, p) in paths.iter().enumerate() {
        say!(out.stdout, "  custodian {}: {}", i + 1, p.display());
    }
    say!(
        out.stdout,
        "Keep the shares apart. Fewer than {threshold} shares can never open this store, \
         and a lost quorum cannot be recovered."
    );
    Ok(out)
}

fn init_dev(a: &InitArgs) -> CliResult<Output> {
    refuse_existing_store(&a.store)?;
    if let Err(e) = provision::create_dev_store(&a.store, a.slots) {
        if Store::open(&a.store).is_ok() {
            let removed = remove_store_files(&a.store, true);
            return Err(format!("{e}; {removed}").into());
        }
        return Err(e.into());
    }
    let header = Store::open(&a.store)
        .map_err(|e| CliError(e.to_string()))?
        .header()
        .clone();
    let dev_share = a.store.join(custos_pkcs11::engine::DEV_SHARE_FILE);
    let mut out = Output::default();
    say!(
        out.stdout,
        "created development store {}",
        a.store.display()
    );
    say!(out.stdout, "store id: {}", hex(&header.store_id));
    say!(
        out.stdout,
        "quorum:   1 of 1 share (kept in {})",
        dev_share.display()
    );
    say!(out.stdout, "slots:    {}", header.slot_count);
    say!(
        out.stderr,
        "custos: WARNING: this is a DEVELOPMENT store. Its only share is stored beside it in\n\
         custos: WARNING: {}: anyone who can read the directory can open the store\n\
         custos: WARNING: and use every key in it. Use it for CI and development only, never\n\
         custos: WARNING: for real keys.",
        dev_share.display()
    );
    Ok(out)
}

/// Validates M-of-N before anything is created.
fn check_quorum(threshold: u32, total: u32) -> CliResult<(u8, u8)> {
    let bad = |why: &str| {
        CliError(format!(
            "invalid quorum {threshold} of {total}: {why} (need 1 <= threshold <= shares <= 255)"
        ))
    };
    if total == 0 {
        return Err(bad("--shares must be at least 1"));
    }
    if threshold == 0 {
        return Err(bad("--threshold must be at least 1"));
    }
    if total > 255 {
        return Err(bad("at most 255 shares"));
    }
    if threshold > total {
        return Err(bad("the threshold cannot exceed the number of shares"));
    }
    let t = u8::try_from(threshold).map_err(|_| bad("threshold too large"))?;
    let n = u8::try_from(total).map_err(|_| bad("too many shares"))?;
    Ok((t, n))
}

fn refuse_existing_store(dir: &Path) -> CliResult<()> {
    let db = dir.join(DB_FILE);
    match std::fs::symlink_metadata(&db) {
        Ok(m) if m.is_file() && m.len() == 0 => Ok(()),
        Ok(_) => Err(format!(
            "a Custos store already exists in {}; refusing to overwrite it",
            dir.display()
        )
        .into()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(format!("cannot inspect {}: {e}", db.display()).into()),
    }
}

/// Creates the shares directory owner-only, or warns when an existing one is open to others.
fn create_private_dir(dir: &Path, out: &mut Output) -> CliResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        if dir.is_dir() {
            if let Ok(m) = std::fs::metadata(dir) {
                if m.permissions().mode() & 0o077 != 0 {
                    say!(
                        out.stderr,
                        "custos: warning: {} can be read by other users; move the shares \
                         somewhere private",
                        dir.display()
                    );
                }
            }
            return Ok(());
        }
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| CliError(format!("cannot create {}: {e}", dir.display())))
    }
    #[cfg(not(unix))]
    {
        let _ = out;
        std::fs::create_dir_all(dir)
            .map_err(|e| CliError(format!("cannot create {}: {e}", dir.display())))
    }
}

/// Removes a just-created store's database files; says what happened.
fn remove_store_files(dir: &Path, dev: bool) -> String {
    let mut failed = Vec::new();
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let p = dir.join(format!("{DB_FILE}{suffix}"));
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => failed.push(format!("{}: {e}", p.display())),
        }
    }
    if dev {
        let _ = std::fs::remove_file(dir.join(custos_pkcs11::engine::DEV_SHARE_FILE));
    }
    // Only removes the directory if nothing else is in it.
    let _ = std::fs::remove_dir(dir);
    if failed.is_empty() {
        format!("the new store in {} was removed", dir.display())
    } else {
        format!(
            "the new store in {} could NOT be fully removed ({}); delete it by hand",
            dir.display(),
            failed.join(", ")
        )
    }
}

// ----- unsealing ----------------------------------------------------------------------------

/// The configuration for a store: defaults, plus the share settings and PIN policy of the file
/// named by `CUSTOS_CONF` when that file is about the same store.
fn config_for(dir: &Path, out: &mut Output) -> CliResult<Config> {
    let mut config = Config::for_store(dir);
    if let Some(conf) = std::env::var_os("CUSTOS_CONF").filter(|v| !v.is_empty()) {
        let file = Config::load(Path::new(&conf)).map_err(|e| CliError(e.to_string()))?;
        if same_dir(&file.store, dir) {
            config.shares = file.shares;
            config.shares_env = file.shares_env;
            config.max_pin_failures = file.max_pin_failures;
            config.pin_iterations = file.pin_iterations;
        } else {
            say!(
                out.stderr,
                "custos: note: CUSTOS_CONF is about store {}, not {}; its settings are not used",
                file.store.display(),
                dir.display()
            );
        }
    }
    Ok(config)
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => a == b,
    }
}

fn open_header(dir: &Path) -> CliResult<StoreHeader> {
    let store = Store::open(dir).map_err(|e| CliError(e.to_string()))?;
    Ok(store.header().clone())
}

fn sealed_message(h: &StoreHeader, detail: &str) -> String {
    format!(
        "store is sealed: need {} of {} shares; give them with --share FILE{detail}",
        h.threshold, h.total
    )
}

/// Opens the engine: with the `--share` files when given (each checked and named in any
/// error), otherwise with the configuration's shares. The engine may come back sealed only in
/// the second case.
fn open_engine(u: &UnsealArgs, out: &mut Output) -> CliResult<Engine> {
    let header = open_header(&u.store)?;
    let config = config_for(&u.store, out)?;
    if u.share.is_empty() {
        return Engine::open(config).map_err(|e| CliError(engine_message(&e, &header)));
    }
    check_shares(&header, &u.share)?;
    let mut shares = Vec::with_capacity(u.share.len());
    for p in &u.share {
        shares.push(provision::read_share_file(p)?);
    }
    Engine::open_with_shares(config, shares).map_err(|e| CliError(engine_message(&e, &header)))
}

/// Checks each given share against the store header, naming the file of a refused one.
fn check_shares(h: &StoreHeader, files: &[PathBuf]) -> CliResult<()> {
    let mut u = Unsealer::new(
        h.store_id,
        h.threshold,
        h.total,
        h.commitments.clone(),
        h.kcv,
    )
    .map_err(|e| CliError(format!("store header: {e}")))?;
    for p in files {
        let share = provision::read_share_file(p)?;
        match u.add(share) {
            Ok(_) | Err(VaultError::AlreadyComplete) => {}
            Err(e) => return Err(format!("{}: {}", p.display(), share_problem(&e)).into()),
        }
    }
    if !u.is_complete() {
        let p = u.progress();
        return Err(sealed_message(h, &format!(" (have {})", p.have)).into());
    }
    Ok(())
}

fn share_problem(e: &VaultError) -> String {
    match e {
        VaultError::ForeignShare => {
            "this share belongs to a different store (foreign share)".to_string()
        }
        VaultError::DuplicateShare { index } => {
            format!("share {index} was given twice (duplicate share)")
        }
        VaultError::WrongShare { index } => format!(
            "share {index} does not match this store's record of it (wrong, forged or corrupted share)"
        ),
        other => other.to_string(),
    }
}

/// Requires an unsealed engine.
fn need_unsealed(engine: &Engine) -> CliResult<()> {
    if engine.is_unsealed() {
        return Ok(());
    }
    let detail = engine
        .seal_problem()
        .map(|p| format!(" ({p})"))
        .unwrap_or_default();
    Err(sealed_message(engine.header(), &detail).into())
}

/// An engine error with a hint where one is obvious.
fn engine_message(e: &EngineError, h: &StoreHeader) -> String {
    match e {
        EngineError::SlotIdInvalid => format!(
            "no such slot: this store has {} slots (0..{})",
            h.slot_count,
            h.slot_count.saturating_sub(1)
        ),
        EngineError::TokenNotPresent => sealed_message(h, ""),
        EngineError::PinIncorrect => "wrong PIN (PinIncorrect)".into(),
        EngineError::PinLocked => "the PIN is locked after too many wrong tries (PinLocked)".into(),
        EngineError::PinLenRange => {
            format!("PINs must be {MIN_PIN_LEN} to {MAX_PIN_LEN} bytes long (PinLenRange)")
        }
        EngineError::General(s) => s.clone(),
        EngineError::DeviceError(s) => s.clone(),
        other => other.to_string(),
    }
}

// ----- status and token list ----------------------------------------------------------------

fn pin_state(
    flags: CK_FLAGS,
    low: CK_FLAGS,
    final_try: CK_FLAGS,
    locked: CK_FLAGS,
) -> &'static str {
    if flags & locked != 0 {
        "LOCKED"
    } else if flags & final_try != 0 {
        "final try"
    } else if flags & low != 0 {
        "count low"
    } else {
        "ok"
    }
}

fn label_text(label: &[u8; 32]) -> String {
    String::from_utf8_lossy(label).trim_end().to_string()
}

/// One line about a slot; `None` when the slot has no initialised token.
fn slot_line(engine: &Engine, slot: SlotId) -> CliResult<(bool, String)> {
    let info = engine.token_info(slot).map_err(|e| {
        CliError(format!(
            "slot {slot}: {}",
            engine_message(&e, engine.header())
        ))
    })?;
    if info.flags & CKF_TOKEN_INITIALIZED == 0 {
        return Ok((false, format!("slot {slot}: (not initialised)")));
    }
    let user = if info.flags & CKF_USER_PIN_INITIALIZED != 0 {
        format!(
            "set, {}",
            pin_state(
                info.flags,
                CKF_USER_PIN_COUNT_LOW,
                CKF_USER_PIN_FINAL_TRY,
                CKF_USER_PIN_LOCKED
            )
        )
    } else {
        "not set".to_string()
    };
    let so = pin_state(
        info.flags,
        CKF_SO_PIN_COUNT_LOW,
        CKF_SO_PIN_FINAL_TRY,
        CKF_SO_PIN_LOCKED,
    );
    Ok((
        true,
        format!(
            "slot {slot}: initialised, label \"{}\", {} object{}; user PIN: {user}; SO PIN: {so}",
            label_text(&info.label),
            info.object_count,
            if info.object_count == 1 { "" } else { "s" }
        ),
    ))
}

fn cmd_status(a: &StatusArgs) -> CliResult<Output> {
    let mut out = Output::default();
    let engine = open_engine(&a.unseal, &mut out)?;
    let h = engine.header().clone();
    say!(out.stdout, "store:    {}", a.unseal.store.display());
    say!(out.stdout, "store id: {}", hex(&h.store_id));
    say!(
        out.stdout,
        "quorum:   {} of {} shares",
        h.threshold,
        h.total
    );
    say!(out.stdout, "slots:    {}", h.slot_count);
    if !engine.is_unsealed() {
        let why = engine.seal_problem().unwrap_or("no shares given");
        say!(
            out.stdout,
            "state:    sealed ({why}); give {} of {} shares with --share FILE to open it",
            h.threshold,
            h.total
        );
        return Ok(out);
    }
    say!(out.stdout, "state:    unsealed");
    let mut lines = Vec::new();
    let mut initialised = 0;
    for slot in engine.slot_list(false) {
        let (init, line) = slot_line(&engine, slot)?;
        initialised += usize::from(init);
        lines.push(line);
    }
    say!(
        out.stdout,
        "tokens:   {initialised} initialised of {} slots",
        h.slot_count
    );
    for l in lines {
        say!(out.stdout, "  {l}");
    }
    Ok(out)
}

fn cmd_token_list(a: &TokenListArgs) -> CliResult<Output> {
    let mut out = Output::default();
    let engine = open_engine(&a.unseal, &mut out)?;
    need_unsealed(&engine)?;
    for slot in engine.slot_list(false) {
        let (_, line) = slot_line(&engine, slot)?;
        say!(out.stdout, "{line}");
    }
    Ok(out)
}

// ----- token init ---------------------------------------------------------------------------

/// A PIN from its flag or else its environment variable.
fn pin_from(
    flag: Option<&str>,
    var: &str,
    what: &str,
    flag_name: &str,
) -> CliResult<Zeroizing<Vec<u8>>> {
    let pin = match flag {
        Some(p) => Zeroizing::new(p.as_bytes().to_vec()),
        None => match std::env::var_os(var) {
            Some(v) => {
                #[cfg(unix)]
                {
                    use std::os::unix::ffi::OsStrExt;
                    Zeroizing::new(v.as_bytes().to_vec())
                }
                #[cfg(not(unix))]
                {
                    Zeroizing::new(v.to_string_lossy().as_bytes().to_vec())
                }
            }
            None => {
                return Err(format!("no {what}: give {flag_name} or set {var}").into());
            }
        },
    };
    if !(MIN_PIN_LEN..=MAX_PIN_LEN).contains(&pin.len()) {
        return Err(format!(
            "the {what} must be {MIN_PIN_LEN} to {MAX_PIN_LEN} bytes long, not {}",
            pin.len()
        )
        .into());
    }
    Ok(pin)
}

fn label32(label: &str) -> CliResult<[u8; 32]> {
    let b = label.as_bytes();
    if b.len() > 32 {
        return Err(format!(
            "the label is {} bytes long; a token label is at most 32 bytes",
            b.len()
        )
        .into());
    }
    if label.chars().any(char::is_control) {
        return Err("the label must not contain control characters".into());
    }
    let mut out = [b' '; 32];
    out[..b.len()].copy_from_slice(b);
    Ok(out)
}

fn cmd_token_init(a: &TokenInitArgs) -> CliResult<Output> {
    let label = label32(&a.label)?;
    let so_pin = pin_from(a.so_pin.as_deref(), "CUSTOS_SO_PIN", "SO PIN", "--so-pin")?;
    let pin = pin_from(a.pin.as_deref(), "CUSTOS_PIN", "user PIN", "--pin")?;
    let mut out = Output::default();
    let engine = open_engine(&a.unseal, &mut out)?;
    need_unsealed(&engine)?;
    let h = engine.header().clone();
    let slot = a.slot;
    if slot >= SlotId::from(h.slot_count) {
        return Err(no_slot(slot, &h).into());
    }
    engine.init_token(slot, &so_pin, label).map_err(|e| {
        CliError(match e {
            EngineError::PinIncorrect => format!(
                "wrong SO PIN for the token in slot {slot}: re-initialising a token needs its current SO PIN"
            ),
            EngineError::PinLocked => format!(
                "the SO PIN of the token in slot {slot} is locked after too many wrong tries; \
                 the token cannot be re-initialised"
            ),
            EngineError::SlotIdInvalid => no_slot(slot, &h),
            other => format!("cannot initialise the token in slot {slot}: {}", engine_message(&other, &h)),
        })
    })?;
    let set_pin = || -> Result<(), EngineError> {
        let s = engine.open_session(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION)?;
        let r = engine
            .login(s, CKU_SO, &so_pin)
            .and_then(|()| engine.init_pin(s, &pin))
            .and_then(|()| engine.logout(s));
        let c = engine.close_session(s);
        r.and(c)
    };
    set_pin().map_err(|e| {
        CliError(format!(
            "the token in slot {slot} was initialised but its user PIN could not be set: {}; \
             run `custos token init` again with the same SO PIN",
            engine_message(&e, &h)
        ))
    })?;
    say!(
        out.stdout,
        "token in slot {slot} initialised, label {}",
        label_text(&label)
    );
    Ok(out)
}

fn no_slot(slot: SlotId, h: &StoreHeader) -> String {
    format!(
        "no slot {slot}: this store has {} slots (0..{})",
        h.slot_count,
        h.slot_count.saturating_sub(1)
    )
}

// ----- share verify -------------------------------------------------------------------------

fn cmd_share_verify(a: &ShareVerifyArgs) -> CliResult<Output> {
    let share = provision::read_share_file(&a.file)?;
    let h = open_header(&a.store)?;
    let mut u = Unsealer::new(
        h.store_id,
        h.threshold,
        h.total,
        h.commitments.clone(),
        h.kcv,
    )
    .map_err(|e| CliError(format!("store header: {e}")))?;
    let (index, total) = (share.index(), share.total());
    u.add(share).map_err(|e| {
        CliError(format!(
            "{} is not a genuine share of store {}: {}",
            a.file.display(),
            hex(&h.store_id),
            share_problem(&e)
        ))
    })?;
    let mut out = Output::default();
    say!(
        out.stdout,
        "genuine share {index} of {total} for store {} (threshold {})",
        hex(&h.store_id),
        h.threshold
    );
    Ok(out)
}
