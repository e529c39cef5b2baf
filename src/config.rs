//! Configuration: where the store is and how the module unseals it.
//!
//! Resolution order: the `CUSTOS_STORE` environment variable names the store directory directly;
//! otherwise the TOML file named by `CUSTOS_CONF`, or else the first of
//! `$XDG_CONFIG_HOME/custos/custos.toml`, `~/.config/custos/custos.toml` and
//! `/etc/custos/custos.toml` that exists.
//! A path passed through `C_Initialize`'s `pReserved` takes precedence over both.
//!
//! ```toml
//! store = "/var/lib/custos"          # the store directory
//! shares = ["/etc/custos/share-1.txt", "/etc/custos/share-3.txt"]  # share files to unseal from
//! shares_env = "CUSTOS_SHARES"       # or: a variable holding share texts
//! max_pin_failures = 10              # consecutive wrong PINs before a PIN locks
//! pin_iterations = 20000             # PBKDF2 iterations for new PIN verifiers
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Default consecutive PIN failures before a PIN locks.
pub const DEFAULT_MAX_PIN_FAILURES: u32 = 10;

/// The module's configuration.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The store directory.
    pub store: PathBuf,
    /// Share files to unseal the store with (embedded mode).
    #[serde(default)]
    pub shares: Vec<PathBuf>,
    /// The name of an environment variable holding one or more share texts.
    #[serde(default)]
    pub shares_env: Option<String>,
    /// Consecutive wrong PINs before a PIN locks.
    #[serde(default = "default_max_pin_failures")]
    pub max_pin_failures: u32,
    /// PBKDF2 iterations for new PIN verifiers.
    #[serde(default = "default_pin_iterations")]
    pub pin_iterations: u32,
    /// Whether to keep the rollback witness (see [`crate::store::witness`]).
    #[serde(default = "default_true")]
    pub rollback_witness: bool,
    /// Where the rollback witness files are kept; by default `$XDG_STATE_HOME/custos` or
    /// `~/.local/state/custos`.
    #[serde(default)]
    pub witness_dir: Option<PathBuf>,
    /// Whether every use of a private or secret key is written to the audit log (one durable
    /// write per operation, so off by default).
    #[serde(default)]
    pub audit_key_use: bool,
}

fn default_true() -> bool {
    true
}

fn default_max_pin_failures() -> u32 {
    DEFAULT_MAX_PIN_FAILURES
}

fn default_pin_iterations() -> u32 {
    crate::vault::DEFAULT_PIN_ITERATIONS
}

/// A configuration problem, worded for the operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for ConfigError {}

impl Config {
    /// A configuration for a store directory with every other setting at its default.
    pub fn for_store(store: impl Into<PathBuf>) -> Config {
        Config {
            store: store.into(),
            shares: Vec::new(),
            shares_env: None,
            max_pin_failures: DEFAULT_MAX_PIN_FAILURES,
            pin_iterations: default_pin_iterations(),
            rollback_witness: true,
            witness_dir: None,
            audit_key_use: false,
        }
    }

    /// The directory of the rollback witness files, or `None` when the witness is switched off
    /// or no location can be found (no `witness_dir`, `XDG_STATE_HOME` or `HOME`).
    pub fn witness_location(&self) -> Option<PathBuf> {
        if !self.rollback_witness {
            return None;
        }
        if let Some(d) = &self.witness_dir {
            return Some(d.clone());
        }
        let var = |k| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        var("XDG_STATE_HOME")
            .map(|x| x.join("custos"))
            .or_else(|| var("HOME").map(|h| h.join(".local/state/custos")))
    }

    /// Parses TOML text. Relative paths are taken relative to `base` (the file's directory).
    pub fn parse(text: &str, base: Option<&Path>) -> Result<Config, ConfigError> {
        let mut c: Config =
            toml::from_str(text).map_err(|e| ConfigError(format!("invalid configuration: {e}")))?;
        if c.max_pin_failures == 0 || c.max_pin_failures > 255 {
            return Err(ConfigError(
                "invalid configuration: max_pin_failures must be between 1 and 255".into(),
            ));
        }
        if c.pin_iterations == 0 {
            return Err(ConfigError(
                "invalid configuration: pin_iterations must be at least 1".into(),
            ));
        }
        if let Some(base) = base {
            if c.store.is_relative() {
                c.store = base.join(&c.store);
            }
            for s in &mut c.shares {
                if s.is_relative() {
                    *s = base.join(&*s);
                }
            }
            if let Some(w) = &mut c.witness_dir {
                if w.is_relative() {
                    *w = base.join(&*w);
                }
            }
        }
        Ok(c)
    }

    /// Reads and parses a configuration file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigError(format!("cannot read configuration {}: {e}", path.display()))
        })?;
        Config::parse(&text, path.parent())
            .map_err(|e| ConfigError(format!("{}: {}", path.display(), e.0)))
    }

    /// Finds the configuration from the environment, as the module does at `C_Initialize`.
    pub fn from_env() -> Result<Config, ConfigError> {
        if let Some(dir) = std::env::var_os("CUSTOS_STORE").filter(|v| !v.is_empty()) {
            let mut c = match std::env::var_os("CUSTOS_CONF").filter(|v| !v.is_empty()) {
                Some(conf) => Config::load(Path::new(&conf))?,
                None => Config::for_store(PathBuf::new()),
            };
            c.store = PathBuf::from(dir);
            return Ok(c);
        }
        if let Some(conf) = std::env::var_os("CUSTOS_CONF").filter(|v| !v.is_empty()) {
            return Config::load(Path::new(&conf));
        }
        for p in default_paths() {
            if p.is_file() {
                return Config::load(&p);
            }
        }
        Err(ConfigError(
            "no store configured: set CUSTOS_STORE to a store directory (made by `custos init`), \
             or CUSTOS_CONF to a configuration file, or create $XDG_CONFIG_HOME/custos/custos.toml, \
             ~/.config/custos/custos.toml or /etc/custos/custos.toml"
                .into(),
        ))
    }
}

/// Where a configuration is looked for when the environment names none, in order.
fn default_paths() -> Vec<PathBuf> {
    let var = |k| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let mut out = Vec::new();
    if let Some(x) = var("XDG_CONFIG_HOME") {
        out.push(x.join("custos/custos.toml"));
    }
    if let Some(h) = var("HOME") {
        out.push(h.join(".config/custos/custos.toml"));
    }
    out.push(PathBuf::from("/etc/custos/custos.toml"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_file_relative_to_its_directory() {
        let c = Config::parse(
            "store = \"s\"\nshares = [\"a.txt\", \"/abs/b.txt\"]\nmax_pin_failures = 3\n",
            Some(Path::new("/etc/custos")),
        )
        .unwrap();
        assert_eq!(c.store, PathBuf::from("/etc/custos/s"));
        assert_eq!(
            c.shares,
            vec![
                PathBuf::from("/etc/custos/a.txt"),
                PathBuf::from("/abs/b.txt")
            ]
        );
        assert_eq!(c.max_pin_failures, 3);
        assert_eq!(c.pin_iterations, crate::vault::DEFAULT_PIN_ITERATIONS);
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        assert!(Config::parse("store = \"x\"\nstroe = 1\n", None).is_err());
        assert!(Config::parse("shares = []\n", None).is_err());
        assert!(Config::parse("store = \"x\"\nmax_pin_failures = 0\n", None).is_err());
        assert!(Config::parse("store = 5\n", None).is_err());
    }
}
