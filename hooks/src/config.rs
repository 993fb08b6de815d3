//! The hook's settings: the receiving repository's git config (`leakgate.*`), then a system
//! file, then `LEAKGATE_*` environment variables — never anything the pusher controls.

use std::path::PathBuf;
use std::time::Duration;

use leakgate_rules::Severity;
use serde::Deserialize;

/// What the hook does with findings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Reject the push (exit 1).
    Block,
    /// Let the push through with the same message.
    Warn,
    /// Do nothing at all.
    Off,
}

impl std::str::FromStr for Mode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "block" => Ok(Mode::Block),
            "warn" => Ok(Mode::Warn),
            "off" => Ok(Mode::Off),
            other => Err(format!("unknown mode {other:?} (block, warn or off)")),
        }
    }
}

/// One layer of settings; unset fields fall through to the layer below.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub struct HookSettings {
    /// block | warn | off.
    pub mode: Option<Mode>,
    /// Let the push through when the budget runs out or the hook fails.
    pub fail_open: Option<bool>,
    /// The time budget in milliseconds.
    pub timeout_ms: Option<u64>,
    /// Whether `-o leakgate.bypass=<reason>` is honoured.
    pub allow_bypass: Option<bool>,
    /// Users allowed to bypass (empty: everyone, when bypass is allowed).
    pub bypass_users: Option<Vec<String>>,
    /// Findings below this severity never block.
    pub min_severity: Option<Severity>,
    /// Extra rule files.
    pub rules: Option<Vec<PathBuf>>,
    /// The database URL: bypasses and unscanned pushes are recorded there, and an
    /// unscanned push leaves a rescan job for the service.
    pub database: Option<String>,
    /// Where bypasses and unscanned pushes are recorded (JSON lines).
    pub audit_log: Option<PathBuf>,
    /// Blobs above this many bytes are streamed instead of read whole.
    pub stream_above_bytes: Option<u64>,
    /// Worker threads.
    pub threads: Option<usize>,
}

/// A setting that does not parse.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting {key}: {reason}")]
pub struct SettingError {
    /// The key as written (`leakgate.timeoutMs`, `LEAKGATE_TIMEOUT_MS`, ...).
    pub key: String,
    /// Why.
    pub reason: String,
}

impl HookSettings {
    /// `self` with every unset field taken from `lower`.
    pub fn or(self, lower: HookSettings) -> HookSettings {
        HookSettings {
            mode: self.mode.or(lower.mode),
            fail_open: self.fail_open.or(lower.fail_open),
            timeout_ms: self.timeout_ms.or(lower.timeout_ms),
            allow_bypass: self.allow_bypass.or(lower.allow_bypass),
            bypass_users: self.bypass_users.or(lower.bypass_users),
            min_severity: self.min_severity.or(lower.min_severity),
            rules: self.rules.or(lower.rules),
            database: self.database.or(lower.database),
            audit_log: self.audit_log.or(lower.audit_log),
            stream_above_bytes: self.stream_above_bytes.or(lower.stream_above_bytes),
            threads: self.threads.or(lower.threads),
        }
    }

    /// Settings from `leakgate.*` keys of the repository's git config.
    ///
    /// # Errors
    ///
    /// A value that does not parse, naming the key.
    pub fn from_git_config(repo: &gix::Repository) -> Result<HookSettings, SettingError> {
        let config = repo.config_snapshot();
        let string = |key: &str| config.string(key).map(|v| v.to_string());
        let strings = |key: &str| {
            config.strings(key).map(|values| {
                values
                    .iter()
                    .flat_map(|v| {
                        v.to_string().split(',').map(|s| s.trim().to_owned()).collect::<Vec<_>>()
                    })
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            })
        };
        Ok(HookSettings {
            mode: parse(string("leakgate.mode"), "leakgate.mode")?,
            fail_open: parse_bool(string("leakgate.failOpen"), "leakgate.failOpen")?,
            timeout_ms: parse(string("leakgate.timeoutMs"), "leakgate.timeoutMs")?,
            allow_bypass: parse_bool(string("leakgate.allowBypass"), "leakgate.allowBypass")?,
            bypass_users: strings("leakgate.bypassUsers"),
            min_severity: parse(string("leakgate.minSeverity"), "leakgate.minSeverity")?,
            rules: strings("leakgate.rules").map(|v| v.into_iter().map(PathBuf::from).collect()),
            database: string("leakgate.database"),
            audit_log: string("leakgate.auditLog").map(PathBuf::from),
            stream_above_bytes: parse(
                string("leakgate.streamAboveBytes"),
                "leakgate.streamAboveBytes",
            )?,
            threads: parse(string("leakgate.threads"), "leakgate.threads")?,
        })
    }

    /// Settings from `LEAKGATE_*` variables, read through `env`.
    ///
    /// # Errors
    ///
    /// A value that does not parse, naming the variable.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> Result<HookSettings, SettingError> {
        let list = |key: &str| {
            env(key).map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            })
        };
        Ok(HookSettings {
            mode: parse(env("LEAKGATE_MODE"), "LEAKGATE_MODE")?,
            fail_open: parse_bool(env("LEAKGATE_FAIL_OPEN"), "LEAKGATE_FAIL_OPEN")?,
            timeout_ms: parse(env("LEAKGATE_TIMEOUT_MS"), "LEAKGATE_TIMEOUT_MS")?,
            allow_bypass: parse_bool(env("LEAKGATE_ALLOW_BYPASS"), "LEAKGATE_ALLOW_BYPASS")?,
            bypass_users: list("LEAKGATE_BYPASS_USERS"),
            min_severity: parse(env("LEAKGATE_MIN_SEVERITY"), "LEAKGATE_MIN_SEVERITY")?,
            rules: list("LEAKGATE_RULES").map(|v| v.into_iter().map(PathBuf::from).collect()),
            database: env("LEAKGATE_DATABASE__URL").or_else(|| env("LEAKGATE_DATABASE")),
            audit_log: env("LEAKGATE_AUDIT_LOG").map(PathBuf::from),
            stream_above_bytes: parse(
                env("LEAKGATE_STREAM_ABOVE_BYTES"),
                "LEAKGATE_STREAM_ABOVE_BYTES",
            )?,
            threads: parse(env("LEAKGATE_THREADS"), "LEAKGATE_THREADS")?,
        })
    }

    /// The effective configuration, with defaults for anything unset.
    pub fn resolve(self) -> HookConfig {
        HookConfig {
            mode: self.mode.unwrap_or(Mode::Block),
            fail_open: self.fail_open.unwrap_or(true),
            timeout: Duration::from_millis(self.timeout_ms.unwrap_or(4000)),
            allow_bypass: self.allow_bypass.unwrap_or(false),
            bypass_users: self.bypass_users.unwrap_or_default(),
            min_severity: self.min_severity.unwrap_or(Severity::High),
            rules: self.rules.unwrap_or_default(),
            database: self.database,
            audit_log: self.audit_log,
            stream_above: self.stream_above_bytes.unwrap_or(64 << 20),
            threads: self.threads.unwrap_or(0),
        }
    }
}

fn parse<T: std::str::FromStr>(value: Option<String>, key: &str) -> Result<Option<T>, SettingError>
where
    T::Err: std::fmt::Display,
{
    value
        .map(|v| {
            v.trim()
                .parse::<T>()
                .map_err(|e| SettingError { key: key.to_owned(), reason: e.to_string() })
        })
        .transpose()
}

fn parse_bool(value: Option<String>, key: &str) -> Result<Option<bool>, SettingError> {
    value
        .map(|v| match v.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" | "1" => Ok(true),
            "false" | "no" | "off" | "0" => Ok(false),
            other => Err(SettingError {
                key: key.to_owned(),
                reason: format!("{other:?} is not a boolean"),
            }),
        })
        .transpose()
}

/// The hook's effective configuration.
#[derive(Clone, Debug)]
pub struct HookConfig {
    /// block | warn | off.
    pub mode: Mode,
    /// Let the push through when the budget runs out or the hook fails.
    pub fail_open: bool,
    /// The time budget.
    pub timeout: Duration,
    /// Whether bypass push options are honoured.
    pub allow_bypass: bool,
    /// Users allowed to bypass (empty: everyone).
    pub bypass_users: Vec<String>,
    /// Findings below this severity never block.
    pub min_severity: Severity,
    /// Extra rule files.
    pub rules: Vec<PathBuf>,
    /// The database URL.
    pub database: Option<String>,
    /// Where bypasses and unscanned pushes are recorded.
    pub audit_log: Option<PathBuf>,
    /// Blobs above this size are streamed.
    pub stream_above: u64,
    /// Worker threads (0: one per CPU, at most 4).
    pub threads: usize,
}
