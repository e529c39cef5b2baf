//! `custos`: the administration tool of a Custos store.
//!
//! ```text
//! custos init --store DIR --shares N --threshold M --out SHARES_DIR [--slots K]
//!             [--protect | --passphrase-file FILE | --passphrase-stdin] [--argon2 m=KIB,t=N,p=N]
//! custos init --store DIR --dev [--slots K]
//! custos status --store DIR [--share FILE]...
//! custos token init --store DIR --slot N --label L [--so-pin S] [--pin P] [--share FILE]...
//! custos token list --store DIR [--share FILE]...
//! custos share verify --store DIR [--passphrase-file FILE | --passphrase-stdin] SHARE_FILE
//! custos unseal --store DIR [--passphrase-file FILE | --passphrase-stdin] [SHARE_FILE]...
//! custos verify --store DIR [--share FILE]...
//! custos audit show|verify --store DIR [--share FILE]... [--json] [--op T] [--last N] ...
//! custos rekey --store DIR --share FILE... --shares N --threshold M --out DIR [--protect]
//! custos backup --store DIR --out FILE
//! custos restore --from FILE --store NEW_DIR [--share FILE]...
//! custos serve --store DIR
//! custos seal --store DIR SHARE_FILE
//! custos bench --module PATH [--slot N | --token-label L] --pin PIN [--vs OTHER_MODULE ...]
//! ```
//!
//! Every failure is one line on stderr starting with `custos: error: ` and exit status 1.

use std::fmt::Write as _;
use std::io::{IsTerminal, Read};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use cryptoki_sys::{
    CKF_RW_SESSION, CKF_SERIAL_SESSION, CKF_SO_PIN_COUNT_LOW, CKF_SO_PIN_FINAL_TRY,
    CKF_SO_PIN_LOCKED, CKF_TOKEN_INITIALIZED, CKF_USER_PIN_COUNT_LOW, CKF_USER_PIN_FINAL_TRY,
    CKF_USER_PIN_INITIALIZED, CKF_USER_PIN_LOCKED, CKU_SO, CK_FLAGS,
};
use zeroize::Zeroizing;

use custos_pkcs11::admin;
use custos_pkcs11::config::Config;
use custos_pkcs11::engine::provision::{self, ProvisionError};
use custos_pkcs11::engine::{
    Engine, Error as EngineError, SlotId, DEV_SHARE_FILE, MAX_PIN_LEN, MIN_PIN_LEN,
};
use custos_pkcs11::served::client::Connection;
use custos_pkcs11::store::audit::{Actor as AuditActor, AuditEvent, NO_SLOT};
use custos_pkcs11::store::{Store, StoreHeader, DB_FILE};
use custos_pkcs11::vault::{
    check_new_passphrase, Accepted, Ceremony, KdfParams, ProtectedShare, Refusal, Share, ShareFile,
    MAX_PASSPHRASE_LEN,
};

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
    /// Unseal ceremony: take the custodians' shares one at a time, check each, and once the
    /// quorum is reached prove that the rebuilt master key opens every record (writes nothing)
    Unseal(CeremonyArgs),
    /// Verify the whole store: every record, the sealed integrity state, the header and the
    /// audit log
    Verify(StatusArgs),
    /// Read and verify the audit log
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Replace the master key: the current quorum opens the store, a new key is split into new
    /// shares, and every record is sealed again in one transaction
    Rekey(RekeyArgs),
    /// Write a backup of the store to one file (still sealed: useless without a quorum)
    Backup(BackupArgs),
    /// Recreate a store from a backup in a new directory, verified with a quorum of its shares
    Restore(RestoreArgs),
    /// Benchmark a PKCS#11 module through its C ABI, optionally against another module
    Bench(custos_pkcs11::bench::BenchArgs),
    /// Serve the store over the Unix socket DIR/custos.sock until SIGTERM or SIGINT; starts
    /// sealed (a --dev store unseals itself) and logs one line per event to stderr
    Serve(ServeArgs),
    /// Seal the store's running server: wipe its master key from memory and close every
    /// client's sessions. Proof of custody: one share of the store
    Seal(SealArgs),
}

#[derive(Args, Debug)]
struct ServeArgs {
    /// The store directory
    #[arg(long, value_name = "DIR")]
    store: PathBuf,
}

#[derive(Args, Debug)]
struct SealArgs {
    /// The store directory of the running server
    #[arg(long, value_name = "DIR")]
    store: PathBuf,
    /// A share file of the store (unprotected), as proof of custody
    #[arg(value_name = "SHARE_FILE")]
    share: PathBuf,
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
    #[arg(long, conflicts_with_all = ["shares", "threshold", "out", "protect", "passphrase_file",
        "passphrase_stdin", "argon2"])]
    dev: bool,
    /// Protect each share file with its custodian's passphrase, asked on the terminal (twice,
    /// custodian by custodian). --passphrase-file and --passphrase-stdin also protect the shares
    #[arg(long, conflicts_with_all = ["passphrase_file", "passphrase_stdin"])]
    protect: bool,
    #[command(flatten)]
    passphrases: PassphraseArgs,
    /// Argon2id parameters for protected shares: memory in KiB, passes, lanes
    /// [default: m=65536,t=3,p=1; at least m=19456,t=2]
    #[arg(long, value_name = "m=KIB,t=N,p=N")]
    argon2: Option<String>,
    /// Accept --argon2 parameters below the minimums. For tests only: shares protected so
    /// weakly give way to passphrase guessing
    #[arg(long, requires = "argon2")]
    insecure_weak_argon2: bool,
}

/// Where passphrases for protected shares come from, when not from the terminal.
#[derive(Args, Debug)]
struct PassphraseArgs {
    /// Read passphrases from FILE, one line per share in the order the shares are given:
    /// line k is the passphrase of the k-th share file (for `init`, of custodian k); a plain
    /// share's line is not used
    #[arg(long, value_name = "FILE", conflicts_with = "passphrase_stdin")]
    passphrase_file: Option<PathBuf>,
    /// Read passphrases from standard input, one per line, as with --passphrase-file
    #[arg(long)]
    passphrase_stdin: bool,
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
    #[command(flatten)]
    passphrases: PassphraseArgs,
}

#[derive(Subcommand, Debug)]
enum AuditCommand {
    /// List the audit log (oldest first); damage found is listed after the entries
    Show(AuditShowArgs),
    /// Check the audit log: every entry sealed, in its place, chained to the one before, and
    /// none missing at the end; names each entry that was modified, deleted, reordered or cut
    Verify(StatusArgs),
}

#[derive(Args, Debug)]
struct AuditShowArgs {
    #[command(flatten)]
    unseal: UnsealArgs,
    /// One JSON object per line instead of text
    #[arg(long)]
    json: bool,
    /// Only operations containing this text (e.g. C_Login, key, store.)
    #[arg(long, value_name = "TEXT")]
    op: Option<String>,
    /// Only this slot
    #[arg(long, value_name = "N")]
    slot: Option<u32>,
    /// Only this actor: public, user, so or custodian
    #[arg(long, value_name = "WHO")]
    actor: Option<String>,
    /// Only failed operations
    #[arg(long)]
    failures: bool,
    /// Only the last N entries
    #[arg(long, value_name = "N")]
    last: Option<usize>,
}

#[derive(Args, Debug)]
struct RekeyArgs {
    /// The store directory, and the current quorum (--share FILE, repeated)
    #[command(flatten)]
    unseal: UnsealArgs,
    /// Number of new shares (N)
    #[arg(long = "shares", value_name = "N")]
    shares: u32,
    /// New shares needed to open the store (M)
    #[arg(long, value_name = "M")]
    threshold: u32,
    /// Directory for the new share files (created, owner-only)
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Protect each new share file with its new custodian's passphrase, asked on the terminal
    #[arg(long, conflicts_with = "new_passphrase_file")]
    protect: bool,
    /// Protect the new share files with passphrases read from FILE, line k for new share k
    #[arg(long, value_name = "FILE")]
    new_passphrase_file: Option<PathBuf>,
    /// Argon2id parameters for the protected new shares (as for init)
    #[arg(long, value_name = "m=KIB,t=N,p=N")]
    argon2: Option<String>,
    /// Accept --argon2 parameters below the minimums (tests only)
    #[arg(long, requires = "argon2")]
    insecure_weak_argon2: bool,
}

#[derive(Args, Debug)]
struct BackupArgs {
    /// The store directory
    #[arg(long, value_name = "DIR")]
    store: PathBuf,
    /// The backup file to write (must not exist)
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

#[derive(Args, Debug)]
struct RestoreArgs {
    /// The backup file
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// The new store directory (must not hold a store), and the quorum (--share FILE)
    #[command(flatten)]
    unseal: UnsealArgs,
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
    #[command(flatten)]
    passphrases: PassphraseArgs,
}

#[derive(Args, Debug)]
struct CeremonyArgs {
    /// The store directory
    #[arg(long, value_name = "DIR")]
    store: PathBuf,
    /// Share files, offered in this order; without any, each path is asked on the terminal
    #[arg(value_name = "SHARE_FILE")]
    files: Vec<PathBuf>,
    #[command(flatten)]
    passphrases: PassphraseArgs,
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
        Command::Unseal(a) => cmd_unseal(&a),
        Command::Verify(a) => cmd_verify(&a),
        Command::Audit(AuditCommand::Show(a)) => cmd_audit_show(&a),
        Command::Audit(AuditCommand::Verify(a)) => cmd_audit_verify(&a),
        Command::Rekey(a) => cmd_rekey(&a),
        Command::Backup(a) => cmd_backup(&a),
        Command::Restore(a) => cmd_restore(&a),
        Command::Bench(a) => custos_pkcs11::bench::run(&a)
            .map(|stdout| Output {
                stdout,
                stderr: String::new(),
            })
            .map_err(CliError),
        Command::Serve(a) => custos_pkcs11::served::server::serve(&a.store)
            .map(|()| Output::default())
            .map_err(|e| CliError(e.to_string())),
        Command::Seal(a) => cmd_seal(&a),
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

// ----- seal (served mode) --------------------------------------------------------------------

/// Asks the store's running server to seal itself, with a share of the store as proof.
fn cmd_seal(a: &SealArgs) -> CliResult<Output> {
    let share = provision::read_share_file(&a.share)?;
    let conn = custos_pkcs11::served::client::Connection::connect_store(&a.store)
        .map_err(|e| CliError(e.to_string()))?;
    conn.seal(&share.to_text())
        .map_err(|e| CliError(e.to_string()))?;
    Ok(Output {
        stdout: format!(
            "sealed: the server of {} wiped its master key\n",
            a.store.display()
        ),
        stderr: String::new(),
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
    // Passphrases are asked (or read) before anything is created.
    let protection = init_protection(a, total)?;
    create_private_dir(out_dir, &mut out)?;

    let shares = provision::create_store(&a.store, threshold, total, a.slots)?;
    let store_id = *shares
        .first()
        .map(|s| s.store_id())
        .ok_or("no shares made")?;
    let issued: Vec<ShareFile> = match &protection {
        None => shares.into_iter().map(ShareFile::Plain).collect(),
        Some((params, passphrases)) => {
            let mut issued = Vec::with_capacity(shares.len());
            for (share, passphrase) in shares.iter().zip(passphrases) {
                match ProtectedShare::protect(share, passphrase, *params) {
                    Ok(p) => issued.push(ShareFile::Protected(p)),
                    Err(e) => {
                        let removed = remove_store_files(&a.store, false);
                        return Err(format!(
                            "cannot protect share {}: {e}; {removed}. Nothing was created.",
                            share.index()
                        )
                        .into());
                    }
                }
            }
            issued
        }
    };
    drop(protection);
    let mut written: Vec<&PathBuf> = Vec::new();
    for (share, path) in issued.iter().zip(&paths) {
        if let Err(e) = provision::write_any_share_file(path, share) {
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
    let protected_with = issued.iter().find_map(|f| match f {
        ShareFile::Protected(p) => Some(p.params()),
        ShareFile::Plain(_) => None,
    });
    drop(issued);

    say!(out.stdout, "created store {}", a.store.display());
    say!(out.stdout, "store id: {}", hex(&store_id));
    say!(
        out.stdout,
        "quorum:   {threshold} of {total} shares open the store"
    );
    say!(out.stdout, "slots:    {}", a.slots);
    match protected_with {
        Some(params) => {
            say!(
                out.stdout,
                "protection: each share encrypted under its custodian's passphrase \
                 (Argon2id {params}, AES-256-GCM)"
            );
        }
        None => {
            say!(
                out.stdout,
                "protection: none (anyone who reads a share file holds that share; \
                 --protect encrypts each under its custodian's passphrase)"
            );
        }
    }
    say!(
        out.stdout,
        "shares (give each file to its custodian, then delete it here):"
    );
    let kind = if protected_with.is_some() {
        " (passphrase-protected)"
    } else {
        ""
    };
    for (i, p) in paths.iter().enumerate() {
        say!(out.stdout, "  custodian {}: {}{kind}", i + 1, p.display());
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

/// A passphrase, wiped when dropped.
type Passphrase = Zeroizing<Vec<u8>>;

/// For `init`: the Argon2id parameters and one passphrase per custodian when the shares are
/// to be protected, `None` for plain shares.
fn init_protection(a: &InitArgs, total: u8) -> CliResult<Option<(KdfParams, Vec<Passphrase>)>> {
    new_share_protection(
        a.protect,
        &a.passphrases,
        a.argon2.as_deref(),
        a.insecure_weak_argon2,
        total,
    )
}

/// How new share files are to be protected: `None` for plain files, else the Argon2id
/// parameters and one passphrase per new share (asked on the terminal or read from the given
/// source).
fn new_share_protection(
    protect: bool,
    source: &PassphraseArgs,
    argon2: Option<&str>,
    insecure_weak_argon2: bool,
    total: u8,
) -> CliResult<Option<(KdfParams, Vec<Passphrase>)>> {
    let wanted = protect || source.passphrase_file.is_some() || source.passphrase_stdin;
    if !wanted {
        if argon2.is_some() {
            return Err("--argon2 applies to protected shares: add --protect, \
                        --passphrase-file FILE or --passphrase-stdin"
                .into());
        }
        return Ok(None);
    }
    let params = kdf_params(argon2, insecure_weak_argon2)?;
    if params.is_weak() {
        prompt_now(&format!(
            "custos: WARNING: Argon2id {params} is below the minimums: these share files give \
             way to passphrase guessing. For tests only.\n"
        ));
    }
    let passphrases = match Passphrases::from_args(source)? {
        Passphrases::Lines { origin, lines } => {
            if lines.len() != usize::from(total) {
                return Err(format!(
                    "{origin} has {} line{}, but {total} custodians need one passphrase each \
                     (line i for custodian i). Nothing was created.",
                    lines.len(),
                    if lines.len() == 1 { "" } else { "s" }
                )
                .into());
            }
            for (i, p) in lines.iter().enumerate() {
                check_new_passphrase(p).map_err(|e| {
                    CliError(format!(
                        "{origin}, line {n} (custodian {n}): {e}. Nothing was created.",
                        n = i + 1
                    ))
                })?;
            }
            lines.into_iter().collect()
        }
        Passphrases::Terminal => ask_new_passphrases(total)?,
        Passphrases::Unavailable => {
            return Err(
                "protecting the shares needs each custodian's passphrase, and standard \
                        input is not a terminal to ask on: give --passphrase-file FILE or \
                        --passphrase-stdin"
                    .into(),
            )
        }
    };
    for (i, p) in passphrases.iter().enumerate() {
        if let Some(j) = passphrases[..i].iter().position(|q| **q == **p) {
            prompt_now(&format!(
                "custos: warning: custodians {} and {} have the same passphrase; \
                 each custodian should have their own\n",
                j + 1,
                i + 1
            ));
        }
    }
    Ok(Some((params, passphrases)))
}

/// The Argon2id parameters `--argon2` names (the default without it). Below the minimums
/// only with `--insecure-weak-argon2`.
fn kdf_params(spec: Option<&str>, weak_ok: bool) -> CliResult<KdfParams> {
    let Some(spec) = spec else {
        return Ok(KdfParams::DEFAULT);
    };
    let p = KdfParams::parse_spec(spec).map_err(|e| CliError(format!("--argon2: {e}")))?;
    if weak_ok {
        return Ok(p);
    }
    KdfParams::new(p.memory_kib(), p.passes(), p.lanes()).map_err(|e| {
        CliError(format!(
            "--argon2: {e} (--insecure-weak-argon2 allows it, for tests only)"
        ))
    })
}

/// Asks each custodian in turn for a new passphrase on the terminal, twice; three tries each.
fn ask_new_passphrases(total: u8) -> CliResult<Vec<Passphrase>> {
    let mut out = Vec::with_capacity(usize::from(total));
    for i in 1..=total {
        let mut tries = 0;
        loop {
            tries += 1;
            let first = read_hidden(&format!("Passphrase for custodian {i} of {total}: "))?;
            let problem = match check_new_passphrase(&first) {
                Err(e) => Some(e.to_string()),
                Ok(()) => {
                    let again = read_hidden(&format!(
                        "Repeat the passphrase for custodian {i} of {total}: "
                    ))?;
                    (*again != *first).then(|| "the two entries differ".to_string())
                }
            };
            match problem {
                None => {
                    out.push(first);
                    break;
                }
                Some(why) if tries >= 3 => {
                    return Err(format!(
                        "custodian {i}: {why}; giving up after 3 tries. Nothing was created."
                    )
                    .into())
                }
                Some(why) => prompt_now(&format!("{why}; try again\n")),
            }
        }
    }
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
            config.rollback_witness = file.rollback_witness;
            config.witness_dir = file.witness_dir;
            config.audit_key_use = file.audit_key_use;
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
/// error, protected ones unlocked with their passphrase), otherwise with the configuration's
/// shares. The engine may come back sealed only in the second case.
fn open_engine(u: &UnsealArgs, out: &mut Output) -> CliResult<Engine> {
    let header = open_header(&u.store)?;
    let config = config_for(&u.store, out)?;
    if u.share.is_empty() {
        return Engine::open(config).map_err(|e| CliError(engine_message(&e, &header)));
    }
    let shares = checked_shares(&header, &u.share, &u.passphrases)?;
    Engine::open_with_shares(config, shares).map_err(|e| CliError(engine_message(&e, &header)))
}

/// Reads each given share (unlocking protected ones) and checks it against the store header,
/// naming the file of a refused one. Returns the accepted shares once there are enough.
fn checked_shares(
    h: &StoreHeader,
    files: &[PathBuf],
    passphrase_args: &PassphraseArgs,
) -> CliResult<Vec<Share>> {
    let mut ceremony =
        provision::ceremony_for(h).map_err(|e| CliError(format!("store header: {e}")))?;
    // Made when the first protected share needs it, so stdin is read only then.
    let mut passphrases: Option<Passphrases> = None;
    let mut shares = Vec::with_capacity(usize::from(h.threshold));
    for (position, p) in files.iter().enumerate() {
        let named = |r: Refusal| CliError(format!("{}: {r}", p.display()));
        let share = match provision::read_any_share_file(p)? {
            ShareFile::Plain(s) => s,
            ShareFile::Protected(locked) => {
                ceremony
                    .check_claim(
                        locked.store_id(),
                        locked.index(),
                        locked.threshold(),
                        locked.total(),
                    )
                    .or_else(|r| match r {
                        Refusal::AlreadyComplete => Ok(()),
                        other => Err(named(other)),
                    })?;
                if ceremony.is_complete() {
                    continue;
                }
                let source = match passphrases.as_mut() {
                    Some(s) => s,
                    None => passphrases.insert(Passphrases::from_args(passphrase_args)?),
                };
                let passphrase = source.unlock(position, &share_label(&locked, p))?;
                locked
                    .unlock(&passphrase)
                    .map_err(|e| CliError(format!("{}: {e}", p.display())))?
            }
        };
        // The engine takes its own copy; the ceremony keeps the one it checked.
        let copy = Share::parse(&share.to_text()).map_err(|e| CliError(e.to_string()))?;
        match ceremony.add(share) {
            Ok(_) => shares.push(copy),
            Err(Refusal::AlreadyComplete) => {}
            Err(r) => return Err(named(r)),
        }
    }
    if !ceremony.is_complete() {
        return Err(sealed_message(h, &format!(" (have {})", ceremony.have())).into());
    }
    Ok(shares)
}

/// How a protected share is named when its passphrase is asked for.
fn share_label(share: &ProtectedShare, path: &Path) -> String {
    format!(
        "share {} of {} ({})",
        share.index(),
        share.total(),
        path.display()
    )
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
    if let Ok(server) = Connection::connect_store(&a.unseal.store) {
        let s = server.status().map_err(|e| CliError(e.to_string()))?;
        say!(
            out.stdout,
            "server:   running on {}",
            a.unseal.store.display()
        );
        say!(
            out.stdout,
            "state:    {}",
            if s.unsealed {
                "unsealed".to_string()
            } else {
                format!(
                    "sealed; unseal ceremony: have {} of {} needed ({} shares issued)",
                    s.shares_have, s.shares_need, s.shares_total
                )
            }
        );
        say!(out.stdout, "clients:  {}", s.clients.saturating_sub(1));
        say!(out.stdout, "uptime:   {} s", s.uptime_secs);
        return Ok(out);
    }
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

// ----- verify, audit, rekey, backup, restore -------------------------------------------------

fn unsealed_engine(u: &UnsealArgs, out: &mut Output) -> CliResult<Engine> {
    let engine = open_engine(u, out)?;
    need_unsealed(&engine)?;
    Ok(engine)
}

fn cmd_verify(a: &StatusArgs) -> CliResult<Output> {
    let mut out = Output::default();
    // Opening the engine reads every record and checks the store as a whole.
    let engine = unsealed_engine(&a.unseal, &mut out)?;
    let (text, defects) = admin::audit_verify(&engine).map_err(|e| CliError(e.0))?;
    if !defects.is_empty() {
        return Err(text.into());
    }
    say!(
        out.stdout,
        "store verified: every record authenticates in its place and matches the sealed \
         integrity state, the header matches its sealed digest, and the write generation is \
         not older than any seen"
    );
    out.stdout.push_str(&text);
    Ok(out)
}

fn cmd_audit_show(a: &AuditShowArgs) -> CliResult<Output> {
    let mut out = Output::default();
    let engine = unsealed_engine(&a.unseal, &mut out)?;
    let filter = admin::AuditFilter {
        op: a.op.clone(),
        slot: a.slot,
        actor: a.actor.clone(),
        failures: a.failures,
        last: a.last,
    };
    out.stdout = admin::audit_show(&engine, &filter, a.json).map_err(|e| CliError(e.0))?;
    Ok(out)
}

fn cmd_audit_verify(a: &StatusArgs) -> CliResult<Output> {
    let mut out = Output::default();
    let engine = unsealed_engine(&a.unseal, &mut out)?;
    let (text, defects) = admin::audit_verify(&engine).map_err(|e| CliError(e.0))?;
    if defects.is_empty() {
        out.stdout = text;
        Ok(out)
    } else {
        // The report goes to stdout; the failure line to stderr.
        emit(&mut std::io::stdout().lock(), &text);
        Err(format!("the audit log of {} is damaged", a.unseal.store.display()).into())
    }
}

fn cmd_rekey(a: &RekeyArgs) -> CliResult<Output> {
    let (threshold, total) = check_quorum(a.threshold, a.shares)?;
    let dir = &a.unseal.store;
    if dir.join(DEV_SHARE_FILE).exists() {
        return Err(
            "this is a --dev store, whose only share is kept beside it; rekey is for stores \
             with custodians"
                .into(),
        );
    }
    let header = open_header(dir)?;
    if a.unseal.share.is_empty() {
        return Err(sealed_message(&header, " (the current quorum)").into());
    }
    let paths: Vec<PathBuf> = (1..=total)
        .map(|i| a.out.join(format!("share-{i}-of-{total}.txt")))
        .collect();
    if let Some(p) = paths.iter().find(|p| std::fs::symlink_metadata(p).is_ok()) {
        return Err(format!(
            "{} already exists; refusing to overwrite a share file (choose another --out)",
            p.display()
        )
        .into());
    }
    let mut out = Output::default();
    let shares = checked_shares(&header, &a.unseal.share, &a.unseal.passphrases)?;
    let new_source = PassphraseArgs {
        passphrase_file: a.new_passphrase_file.clone(),
        passphrase_stdin: false,
    };
    let protection = new_share_protection(
        a.protect,
        &new_source,
        a.argon2.as_deref(),
        a.insecure_weak_argon2,
        total,
    )?;
    let config = config_for(dir, &mut out)?;
    create_private_dir(&a.out, &mut out)?;
    let written = std::cell::RefCell::new(Vec::new());
    let result = provision::rekey_store(
        dir,
        shares,
        threshold,
        total,
        config.witness_location().as_deref(),
        |new| {
            for (i, (share, path)) in new.iter().zip(&paths).enumerate() {
                let file = match &protection {
                    None => ShareFile::Plain(Share::parse(&share.to_text()).map_err(|e| {
                        ProvisionError::Invalid(format!("new share {}: {e}", i + 1))
                    })?),
                    Some((params, passphrases)) => ShareFile::Protected(
                        ProtectedShare::protect(share, &passphrases[i], *params).map_err(|e| {
                            ProvisionError::Invalid(format!(
                                "cannot protect new share {}: {e}",
                                i + 1
                            ))
                        })?,
                    ),
                };
                provision::write_any_share_file(path, &file)?;
                written.borrow_mut().push(path.clone());
            }
            Ok(())
        },
    );
    if let Err(e) = result {
        for p in written.borrow().iter() {
            let _ = std::fs::remove_file(p);
        }
        return Err(format!(
            "rekey failed, nothing changed and the current shares still open the store: {e}"
        )
        .into());
    }
    say!(
        out.stdout,
        "store {} rekeyed: a new master key, {threshold} of {total} shares{}; every record and \
         audit entry sealed again in one transaction; the old shares no longer open it",
        dir.display(),
        if protection.is_some() {
            ", each protected by its custodian's passphrase"
        } else {
            ""
        }
    );
    say!(
        out.stdout,
        "new shares (give each file to its custodian, then delete it here):"
    );
    for p in &paths {
        say!(out.stdout, "  {}", p.display());
    }
    Ok(out)
}

fn cmd_backup(a: &BackupArgs) -> CliResult<Output> {
    let info = admin::backup(&a.store, &a.out).map_err(|e| CliError(e.0))?;
    let mut out = Output::default();
    say!(
        out.stdout,
        "backup of store {} written to {} ({} bytes of sealed database{})",
        hex(&info.store_id),
        a.out.display(),
        info.database_len,
        if info.dev {
            "; a --dev store: its share is in the backup, so the file opens the store"
        } else {
            "; useless without a quorum of the store's shares"
        }
    );
    Ok(out)
}

fn cmd_restore(a: &RestoreArgs) -> CliResult<Output> {
    let mut out = Output::default();
    let shares = if a.unseal.share.is_empty() {
        Vec::new()
    } else {
        // The shares are checked against the header inside the backup.
        let bytes = std::fs::read(&a.from)
            .map_err(|e| CliError(format!("cannot read {}: {e}", a.from.display())))?;
        let header = admin::backup_header(&bytes).map_err(|e| CliError(e.0))?;
        checked_shares(&header, &a.unseal.share, &a.unseal.passphrases)?
    };
    let config = config_for(&a.unseal.store, &mut out)?;
    let r = admin::restore(&a.from, &a.unseal.store, shares, &config).map_err(|e| CliError(e.0))?;
    say!(
        out.stdout,
        "store {} restored into {}: {} slots, {} tokens, {} objects, {} audit entries; \
         every record and the audit log verified",
        hex(&r.info.store_id),
        a.unseal.store.display(),
        r.slots,
        r.tokens,
        r.objects,
        r.audit_entries
    );
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
    let file = provision::read_any_share_file(&a.file)?;
    let h = open_header(&a.store)?;
    let mut ceremony =
        provision::ceremony_for(&h).map_err(|e| CliError(format!("store header: {e}")))?;
    let not_genuine = |r: Refusal| {
        CliError(format!(
            "{} is not a genuine share of store {}: {r}",
            a.file.display(),
            hex(&h.store_id)
        ))
    };
    // What the file states is checked first, so no passphrase is asked for a share of
    // another store.
    ceremony
        .check_claim(
            file.store_id(),
            file.index(),
            file.threshold(),
            file.total(),
        )
        .map_err(not_genuine)?;
    let (share, protection) = match file {
        ShareFile::Plain(s) => (s, None),
        ShareFile::Protected(locked) => {
            let source = Passphrases::from_args(&a.passphrases)?;
            let passphrase = source.unlock(0, &share_label(&locked, &a.file))?;
            let share = locked
                .unlock(&passphrase)
                .map_err(|e| CliError(format!("{}: {e}", a.file.display())))?;
            (share, Some(locked.params()))
        }
    };
    let (index, total) = (share.index(), share.total());
    ceremony.add(share).map_err(not_genuine)?;
    let mut out = Output::default();
    say!(
        out.stdout,
        "genuine share {index} of {total} for store {} (threshold {})",
        hex(&h.store_id),
        h.threshold
    );
    if let Some(params) = protection {
        say!(
            out.stdout,
            "passphrase-protected: Argon2id {params}, AES-256-GCM; the passphrase is correct"
        );
        if params.is_weak() {
            say!(
                out.stderr,
                "custos: warning: Argon2id {params} is below the minimums (a test setting): \
                 protect this share again with the default parameters"
            );
        }
    }
    Ok(out)
}

// ----- unseal ceremony ----------------------------------------------------------------------

/// The unseal ceremony in embedded mode: shares are taken one at a time (from the files
/// given, or asked on the terminal), each checked on entry; at the quorum the master key is
/// rebuilt, checked against the key check value, and every sealed record is decrypted to prove
/// that the store opens. Nothing is written anywhere.
fn cmd_unseal(a: &CeremonyArgs) -> CliResult<Output> {
    if let Ok(server) = Connection::connect_store(&a.store) {
        return unseal_server(a, &server);
    }
    let interactive = a.files.is_empty();
    if interactive {
        if a.passphrases.passphrase_stdin || a.passphrases.passphrase_file.is_some() {
            return Err(
                "--passphrase-file and --passphrase-stdin go with share files given as \
                        arguments (line k for the k-th file); when the paths are asked on the \
                        terminal, so are the passphrases"
                    .into(),
            );
        }
        if !std::io::stdin().is_terminal() {
            return Err(
                "no share files given, and standard input is not a terminal to ask \
                        for them on: custos unseal --store DIR SHARE_FILE..."
                    .into(),
            );
        }
    }
    let mut store = Store::open(&a.store).map_err(|e| CliError(e.to_string()))?;
    let h = store.header().clone();
    let mut ceremony =
        provision::ceremony_for(&h).map_err(|e| CliError(format!("store header: {e}")))?;
    let passphrases = Passphrases::from_args(&a.passphrases)?;
    say_now(&format!(
        "unseal ceremony for store {} ({}): {} of {} shares needed",
        a.store.display(),
        hex(&h.store_id),
        h.threshold,
        h.total
    ));
    if interactive {
        say_now("enter one share file path per line; end of input (Ctrl-D) abandons the ceremony");
        while !ceremony.is_complete() {
            prompt_now(&format!(
                "Share file for a custodian (have {} of {} needed): ",
                ceremony.have(),
                ceremony.need()
            ));
            let Some(line) = read_terminal_line(4096)? else {
                prompt_now("\n");
                break;
            };
            let text = String::from_utf8_lossy(&line);
            let path = text.trim();
            if path.is_empty() {
                continue;
            }
            offer_share(&mut ceremony, Path::new(path), 0, &passphrases)?;
        }
    } else {
        for (i, path) in a.files.iter().enumerate() {
            if ceremony.is_complete() {
                let rest: Vec<String> = a.files[i..]
                    .iter()
                    .map(|p| p.display().to_string())
                    .collect();
                say_now(&format!("quorum reached; not read: {}", rest.join(", ")));
                break;
            }
            offer_share(&mut ceremony, path, i, &passphrases)?;
        }
    }
    if !ceremony.is_complete() {
        return Err(format!(
            "quorum not reached: have {} of {} needed shares ({} refused); the store was not opened",
            ceremony.have(),
            ceremony.need(),
            ceremony.refused()
        )
        .into());
    }
    let used: Vec<String> = ceremony.accepted().iter().map(u8::to_string).collect();
    let mk = ceremony.finish().map_err(|e| {
        CliError(format!(
            "{e}: the shares were accepted but the store header does not match them"
        ))
    })?;
    say_now(&format!(
        "master key rebuilt from shares {}; it matches the store's key check value",
        used.join(", ")
    ));
    provision::unseal_with_key(&mut store, &mk)?;
    drop(mk);
    let count = provision::prove_records(&store).map_err(|e| {
        CliError(format!(
            "the master key checks, but a sealed record does not open: {e}"
        ))
    })?;
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    say_now(&format!(
        "store opened: {}, {} and {}; every sealed record decrypted and authenticated, \
         the store verified as a whole, and its audit log ({}) intact",
        plural(count.tokens, "token", "tokens"),
        plural(count.objects, "object", "objects"),
        plural(count.meta, "metadata record", "metadata records"),
        plural(count.audit, "entry", "entries")
    ));
    let ev = AuditEvent::now(NO_SLOT, AuditActor::Custodian, "store.unseal")
        .detail(format!("unseal ceremony with shares {}", used.join(", ")));
    store
        .write(|tx| tx.append_audit(&ev).map(drop))
        .map_err(|e| CliError(format!("cannot record the ceremony in the audit log: {e}")))?;
    say_now(
        "the ceremony was recorded in the audit log and nothing else was written: in embedded \
         mode each application unseals the store itself, from the shares its configuration names",
    );
    Ok(Output::default())
}

/// The ceremony against a running server: each share file given is unlocked here (a protected
/// one with its passphrase) and submitted; the server checks it and keeps the progress, so each
/// custodian can run this with their own share.
fn unseal_server(a: &CeremonyArgs, server: &Connection) -> CliResult<Output> {
    let status = server.status().map_err(|e| CliError(e.to_string()))?;
    say_now(&format!(
        "unseal ceremony at the server of {}: {}",
        a.store.display(),
        if status.unsealed {
            "already unsealed".to_string()
        } else {
            format!(
                "have {} of {} needed",
                status.shares_have, status.shares_need
            )
        }
    ));
    if a.files.is_empty() {
        return Err("give your share file: custos unseal --store DIR SHARE_FILE".into());
    }
    let passphrases = Passphrases::from_args(&a.passphrases)?;
    let mut refused = 0;
    for (position, path) in a.files.iter().enumerate() {
        let share = match provision::read_any_share_file(path)? {
            ShareFile::Plain(s) => s,
            ShareFile::Protected(locked) => {
                let passphrase = passphrases.unlock(position, &share_label(&locked, path))?;
                locked
                    .unlock(&passphrase)
                    .map_err(|e| CliError(format!("{}: {e}", path.display())))?
            }
        };
        match server.unseal(&share.to_text()) {
            Ok(p) if p.unsealed => say_now(&format!(
                "share {} accepted (have {} of {} needed: quorum reached); the server is unsealed",
                share.index(),
                p.have,
                p.need
            )),
            Ok(p) => say_now(&format!(
                "share {} accepted (have {} of {} needed)",
                share.index(),
                p.have,
                p.need
            )),
            Err(e) => {
                refused += 1;
                say_now(&format!("{} refused: {e}", path.display()));
            }
        }
    }
    if refused > 0 {
        return Err(format!("{refused} share(s) refused by the server").into());
    }
    Ok(Output::default())
}

/// Offers one share file to the ceremony and prints whether it was accepted or refused (and
/// why). `position` is the share's place in the list given (for its passphrase line). Fails
/// only when the ceremony cannot go on (no way to get a passphrase).
fn offer_share(
    ceremony: &mut Ceremony,
    path: &Path,
    position: usize,
    passphrases: &Passphrases,
) -> CliResult<()> {
    match take_share(ceremony, path, position, passphrases)? {
        Ok(a) => say_now(&accepted_line(&a)),
        Err(r) => say_now(&format!("{} refused: {r}", path.display())),
    }
    Ok(())
}

/// Reads a share file, checks what it states, unlocks it if it is protected, and adds it.
fn take_share(
    ceremony: &mut Ceremony,
    path: &Path,
    position: usize,
    passphrases: &Passphrases,
) -> CliResult<Result<Accepted, Refusal>> {
    let file = match provision::read_any_share_file(path) {
        Ok(f) => f,
        Err(e) => return Ok(Err(ceremony.refuse(Refusal::Unreadable(e.to_string())))),
    };
    if let Err(r) = ceremony.check_claim(
        file.store_id(),
        file.index(),
        file.threshold(),
        file.total(),
    ) {
        return Ok(Err(ceremony.refuse(r)));
    }
    let share = match file {
        ShareFile::Plain(s) => s,
        ShareFile::Protected(locked) => {
            let passphrase = passphrases.unlock(position, &share_label(&locked, path))?;
            match locked.unlock(&passphrase) {
                Ok(s) => s,
                Err(e) => return Ok(Err(ceremony.refuse(Refusal::from(e)))),
            }
        }
    };
    Ok(ceremony.add(share))
}

/// `share 2 accepted (have 1 of 2 needed)`, with the quorum noted when it is reached.
fn accepted_line(a: &Accepted) -> String {
    format!(
        "share {} accepted (have {} of {} needed{})",
        a.index,
        a.have,
        a.need,
        if a.is_complete() {
            ": quorum reached"
        } else {
            ""
        }
    )
}

// ----- passphrases and the terminal ---------------------------------------------------------

/// The most a passphrase file or standard input may hold for `--passphrase-*`.
const MAX_PASSPHRASE_INPUT: usize = 1 << 20;

/// Where passphrases come from.
enum Passphrases {
    /// Lines read up front from a file or standard input: line k for the k-th share.
    Lines {
        /// Names the source in messages.
        origin: String,
        /// Line k for the k-th share.
        lines: Vec<Passphrase>,
    },
    /// Asked on the terminal (standard input is one), with echo off.
    Terminal,
    /// No terminal and no source given: a protected share is an error.
    Unavailable,
}

impl Passphrases {
    /// The source the options name; the terminal when there is one; else none.
    fn from_args(a: &PassphraseArgs) -> CliResult<Passphrases> {
        if let Some(path) = &a.passphrase_file {
            warn_if_shared(path);
            let f = std::fs::File::open(path)
                .map_err(|e| CliError(format!("cannot read {}: {e}", path.display())))?;
            let origin = format!("passphrase file {}", path.display());
            return Ok(Passphrases::Lines {
                lines: read_lines(f, &origin)?,
                origin,
            });
        }
        if a.passphrase_stdin {
            let stdin = std::io::stdin()
                .as_fd()
                .try_clone_to_owned()
                .map(std::fs::File::from)
                .map_err(|e| CliError(format!("cannot read standard input: {e}")))?;
            let origin = "standard input".to_string();
            return Ok(Passphrases::Lines {
                lines: read_lines(stdin, &origin)?,
                origin,
            });
        }
        if std::io::stdin().is_terminal() {
            Ok(Passphrases::Terminal)
        } else {
            Ok(Passphrases::Unavailable)
        }
    }

    /// The passphrase for the share given in `position` (from 0), named `what` in messages:
    /// that line, or asked on the terminal.
    fn unlock(&self, position: usize, what: &str) -> CliResult<Passphrase> {
        match self {
            Passphrases::Lines { origin, lines } => lines
                .get(position)
                .map(|p| Zeroizing::new(p.to_vec()))
                .ok_or_else(|| {
                    CliError(format!(
                        "{origin} has no line {} for {what} (line k is the passphrase of the \
                         k-th share given)",
                        position + 1
                    ))
                }),
            Passphrases::Terminal => read_hidden(&format!("Passphrase for {what}: ")),
            Passphrases::Unavailable => Err(format!(
                "{what} is passphrase-protected, and standard input is not a terminal to ask \
                 for its passphrase on: give --passphrase-file FILE or --passphrase-stdin"
            )
            .into()),
        }
    }
}

/// Reads all of `source` (at most 1 MiB) and splits it into lines: `\n` ends a line, a `\r`
/// before it is dropped, and a final newline does not start another line.
fn read_lines(source: std::fs::File, origin: &str) -> CliResult<Vec<Passphrase>> {
    // Room for the whole input up front, so that no copy is left behind by a reallocation.
    let mut data: Passphrase = Zeroizing::new(Vec::with_capacity(MAX_PASSPHRASE_INPUT + 1));
    source
        .take(u64::try_from(MAX_PASSPHRASE_INPUT + 1).unwrap_or(u64::MAX))
        .read_to_end(&mut data)
        .map_err(|e| CliError(format!("cannot read {origin}: {e}")))?;
    if data.len() > MAX_PASSPHRASE_INPUT {
        return Err(format!("{origin} is larger than 1 MiB").into());
    }
    let body = data.strip_suffix(b"\n").unwrap_or(&data);
    if body.is_empty() && data.is_empty() {
        return Ok(Vec::new());
    }
    Ok(body
        .split(|&b| b == b'\n')
        .map(|line| Zeroizing::new(line.strip_suffix(b"\r").unwrap_or(line).to_vec()))
        .collect())
}

/// Warns when a passphrase file can be read by other users.
fn warn_if_shared(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(m) = std::fs::metadata(path) {
        if m.permissions().mode() & 0o077 != 0 {
            prompt_now(&format!(
                "custos: warning: {} can be read by other users; keep passphrase files private\n",
                path.display()
            ));
        }
    }
}

/// Writes a progress line to stdout at once (the ceremony's transcript), ignoring a closed
/// pipe.
fn say_now(line: &str) {
    emit(&mut std::io::stdout().lock(), &format!("{line}\n"));
}

/// Writes a prompt or a note to stderr at once, ignoring a closed pipe.
fn prompt_now(text: &str) {
    emit(&mut std::io::stderr().lock(), text);
}

/// Reads one line from standard input without buffering beyond it, so that later reads see
/// the next line. `None` at end of input. A line longer than `limit` bytes is an error.
fn read_terminal_line(limit: usize) -> CliResult<Option<Passphrase>> {
    let mut input = std::io::stdin()
        .as_fd()
        .try_clone_to_owned()
        .map(std::fs::File::from)
        .map_err(|e| CliError(format!("cannot read standard input: {e}")))?;
    // Room for the longest line accepted, so that no copy is left behind by a reallocation.
    let mut line: Passphrase = Zeroizing::new(Vec::with_capacity(limit));
    let mut too_long = false;
    let mut byte = [0u8; 1];
    loop {
        match input.read(&mut byte) {
            Ok(0) if line.is_empty() && !too_long => return Ok(None),
            Ok(0) => break,
            Ok(_) if byte[0] == b'\n' => break,
            Ok(_) if line.len() >= limit => too_long = true,
            Ok(_) => line.push(byte[0]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(format!("cannot read standard input: {e}").into()),
        }
    }
    if too_long {
        return Err(format!("the line entered is longer than {limit} bytes").into());
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(line))
}

/// Puts the terminal's echo back as it was when dropped.
struct EchoOff {
    saved: rustix::termios::Termios,
}

impl Drop for EchoOff {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin().as_fd(),
            rustix::termios::OptionalActions::Now,
            &self.saved,
        );
    }
}

/// Asks for a secret on the terminal (standard input) with echo off.
fn read_hidden(prompt: &str) -> CliResult<Passphrase> {
    use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
    let stdin = std::io::stdin();
    let saved = tcgetattr(stdin.as_fd()).map_err(|e| {
        CliError(format!(
            "cannot use the terminal to ask for a passphrase: {e}"
        ))
    })?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    tcsetattr(stdin.as_fd(), OptionalActions::Now, &quiet)
        .map_err(|e| CliError(format!("cannot turn the terminal's echo off: {e}")))?;
    let guard = EchoOff { saved };
    // The prompt comes once echo is off, so nothing typed after it is shown.
    prompt_now(prompt);
    let line = read_terminal_line(MAX_PASSPHRASE_LEN);
    drop(guard);
    prompt_now("\n");
    line?.ok_or_else(|| CliError("end of input: no passphrase was entered".into()))
}
