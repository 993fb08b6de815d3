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
    /// Let the push through when the hook cannot run (the server's trouble).
    pub fail_open: Option<bool>,
    /// Let a push through that could not be scanned in full (the time budget ran out, or
    /// content exhausted decoding), recorded as unscanned for a rescan. Off by default: the
    /// pusher decides what a push holds and how long it takes to scan.
    pub accept_incomplete: Option<bool>,
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
    /// A variable naming the pusher, consulted before the platforms' own.
    pub pusher_variable: Option<String>,
    /// `bypass`: an inline `leakgate:allow` comment is a bypass request; `off`: ignored.
    pub inline_allow: Option<InlineAllow>,
    /// `option`: allowed pushers bypass with a push option; `request`: others get a bypass
    /// request that a reviewer approves.
    pub bypass_mode: Option<BypassMode>,
    /// Days a bypass request (and its approval) holds.
    pub bypass_request_days: Option<u64>,
    /// Pushers whose pushes are never blocked (bots); each such push is recorded.
    pub exempt_users: Option<Vec<String>>,
    /// Whether the repository's `.leakgate.toml` is read, from the protected branch's tree
    /// as it is before the push.
    pub project_config: Option<bool>,
    /// The protected branch (default: the repository's `HEAD`).
    pub project_config_ref: Option<String>,
    /// Where the server keeps Git LFS objects (`<dir>/aa/bb/<oid>` or `<dir>/aa/bb/<oid
    /// after its first four characters>`: git-lfs, GitLab's `shared/lfs-objects`, Gitea's
    /// `data/lfs`); default: the repository's own `lfs/objects` when it exists.
    pub lfs_objects: Option<PathBuf>,
}

/// How pushers who are not allowed to bypass get past a rejection.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BypassMode {
    /// Only with `-o leakgate.bypass=<reason>`, for the pushers `bypassUsers` allows.
    Option,
    /// Others get a bypass request id; once a reviewer approves it, the same pusher may push
    /// the same secrets to the same repository with `-o leakgate.bypass=req:<id>`.
    Request,
}

impl std::str::FromStr for BypassMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "option" => Ok(BypassMode::Option),
            "request" => Ok(BypassMode::Request),
            other => Err(format!("unknown bypass mode {other:?} (option or request)")),
        }
    }
}

/// What an inline `leakgate:allow` / `gitleaks:allow` comment on a secret's line does in the
/// hook and the service (in `leakgate scan` it drops the finding, as it does in gitleaks).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InlineAllow {
    /// A bypass request with reason `inline-allow`: same permission, same audit record.
    Bypass,
    /// Ignored: the finding blocks like any other.
    Off,
}

impl std::str::FromStr for InlineAllow {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "bypass" | "true" | "on" => Ok(InlineAllow::Bypass),
            "off" | "false" | "ignore" => Ok(InlineAllow::Off),
            other => Err(format!("unknown inline allow policy {other:?} (bypass or off)")),
        }
    }
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
            accept_incomplete: self.accept_incomplete.or(lower.accept_incomplete),
            timeout_ms: self.timeout_ms.or(lower.timeout_ms),
            allow_bypass: self.allow_bypass.or(lower.allow_bypass),
            bypass_users: self.bypass_users.or(lower.bypass_users),
            min_severity: self.min_severity.or(lower.min_severity),
            rules: self.rules.or(lower.rules),
            database: self.database.or(lower.database),
            audit_log: self.audit_log.or(lower.audit_log),
            stream_above_bytes: self.stream_above_bytes.or(lower.stream_above_bytes),
            threads: self.threads.or(lower.threads),
            pusher_variable: self.pusher_variable.or(lower.pusher_variable),
            inline_allow: self.inline_allow.or(lower.inline_allow),
            bypass_mode: self.bypass_mode.or(lower.bypass_mode),
            bypass_request_days: self.bypass_request_days.or(lower.bypass_request_days),
            exempt_users: self.exempt_users.or(lower.exempt_users),
            project_config: self.project_config.or(lower.project_config),
            project_config_ref: self.project_config_ref.or(lower.project_config_ref),
            lfs_objects: self.lfs_objects.or(lower.lfs_objects),
        }
    }

    /// Settings from `leakgate.*` keys of the repository's git config. A value that does not
    /// parse is left unset and reported, so that the others (`failOpen` among them) still
    /// apply to the failure.
    pub fn from_git_config(repo: &gix::Repository) -> (HookSettings, Vec<SettingError>) {
        let errors = Errors::default();
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
        let settings = HookSettings {
            mode: errors.value(string("leakgate.mode"), "leakgate.mode"),
            fail_open: errors.flag(string("leakgate.failOpen"), "leakgate.failOpen"),
            accept_incomplete: errors
                .flag(string("leakgate.acceptIncomplete"), "leakgate.acceptIncomplete"),
            timeout_ms: errors.value(string("leakgate.timeoutMs"), "leakgate.timeoutMs"),
            allow_bypass: errors.flag(string("leakgate.allowBypass"), "leakgate.allowBypass"),
            bypass_users: strings("leakgate.bypassUsers"),
            min_severity: errors.value(string("leakgate.minSeverity"), "leakgate.minSeverity"),
            rules: strings("leakgate.rules").map(|v| v.into_iter().map(PathBuf::from).collect()),
            database: string("leakgate.database"),
            audit_log: string("leakgate.auditLog").map(PathBuf::from),
            stream_above_bytes: errors
                .value(string("leakgate.streamAboveBytes"), "leakgate.streamAboveBytes"),
            threads: errors.value(string("leakgate.threads"), "leakgate.threads"),
            pusher_variable: string("leakgate.pusherVariable").filter(|v| !v.trim().is_empty()),
            inline_allow: errors.value(string("leakgate.inlineAllow"), "leakgate.inlineAllow"),
            bypass_mode: errors.value(string("leakgate.bypassMode"), "leakgate.bypassMode"),
            bypass_request_days: errors
                .value(string("leakgate.bypassRequestDays"), "leakgate.bypassRequestDays"),
            exempt_users: strings("leakgate.exemptUsers"),
            project_config: errors.flag(string("leakgate.projectConfig"), "leakgate.projectConfig"),
            project_config_ref: string("leakgate.projectConfigRef")
                .filter(|v| !v.trim().is_empty()),
            lfs_objects: string("leakgate.lfsObjects")
                .filter(|v| !v.trim().is_empty())
                .map(PathBuf::from),
        };
        (settings, errors.0.into_inner())
    }

    /// Settings from `LEAKGATE_*` variables, read through `env`; like
    /// [`HookSettings::from_git_config`], a value that does not parse is reported and unset.
    pub fn from_env(env: &dyn Fn(&str) -> Option<String>) -> (HookSettings, Vec<SettingError>) {
        let errors = Errors::default();
        let list = |key: &str| {
            env(key).map(|v| {
                v.split(',')
                    .map(|s| s.trim().to_owned())
                    .filter(|s| !s.is_empty())
                    .collect::<Vec<_>>()
            })
        };
        let settings = HookSettings {
            mode: errors.value(env("LEAKGATE_MODE"), "LEAKGATE_MODE"),
            fail_open: errors.flag(env("LEAKGATE_FAIL_OPEN"), "LEAKGATE_FAIL_OPEN"),
            accept_incomplete: errors
                .flag(env("LEAKGATE_ACCEPT_INCOMPLETE"), "LEAKGATE_ACCEPT_INCOMPLETE"),
            timeout_ms: errors.value(env("LEAKGATE_TIMEOUT_MS"), "LEAKGATE_TIMEOUT_MS"),
            allow_bypass: errors.flag(env("LEAKGATE_ALLOW_BYPASS"), "LEAKGATE_ALLOW_BYPASS"),
            bypass_users: list("LEAKGATE_BYPASS_USERS"),
            min_severity: errors.value(env("LEAKGATE_MIN_SEVERITY"), "LEAKGATE_MIN_SEVERITY"),
            rules: list("LEAKGATE_RULES").map(|v| v.into_iter().map(PathBuf::from).collect()),
            database: env("LEAKGATE_DATABASE__URL").or_else(|| env("LEAKGATE_DATABASE")),
            audit_log: env("LEAKGATE_AUDIT_LOG").map(PathBuf::from),
            stream_above_bytes: errors
                .value(env("LEAKGATE_STREAM_ABOVE_BYTES"), "LEAKGATE_STREAM_ABOVE_BYTES"),
            threads: errors.value(env("LEAKGATE_THREADS"), "LEAKGATE_THREADS"),
            pusher_variable: env("LEAKGATE_PUSHER_VARIABLE").filter(|v| !v.trim().is_empty()),
            inline_allow: errors.value(env("LEAKGATE_INLINE_ALLOW"), "LEAKGATE_INLINE_ALLOW"),
            bypass_mode: errors.value(env("LEAKGATE_BYPASS_MODE"), "LEAKGATE_BYPASS_MODE"),
            bypass_request_days: errors
                .value(env("LEAKGATE_BYPASS_REQUEST_DAYS"), "LEAKGATE_BYPASS_REQUEST_DAYS"),
            exempt_users: list("LEAKGATE_EXEMPT_USERS"),
            project_config: errors.flag(env("LEAKGATE_PROJECT_CONFIG"), "LEAKGATE_PROJECT_CONFIG"),
            project_config_ref: env("LEAKGATE_PROJECT_CONFIG_REF").filter(|v| !v.trim().is_empty()),
            lfs_objects: env("LEAKGATE_LFS_OBJECTS")
                .filter(|v| !v.trim().is_empty())
                .map(PathBuf::from),
        };
        (settings, errors.0.into_inner())
    }

    /// The effective configuration, with defaults for anything unset.
    pub fn resolve(self) -> HookConfig {
        HookConfig {
            mode: self.mode.unwrap_or(Mode::Block),
            fail_open: self.fail_open.unwrap_or(true),
            accept_incomplete: self.accept_incomplete.unwrap_or(false),
            timeout: Duration::from_millis(self.timeout_ms.unwrap_or(4000)),
            allow_bypass: self.allow_bypass.unwrap_or(false),
            bypass_users: self.bypass_users.unwrap_or_default(),
            min_severity: self.min_severity.unwrap_or(Severity::High),
            rules: self.rules.unwrap_or_default(),
            database: self.database,
            audit_log: self.audit_log,
            stream_above: self.stream_above_bytes.unwrap_or(64 << 20),
            threads: self.threads.unwrap_or(0),
            pusher_variable: self.pusher_variable,
            inline_allow: self.inline_allow.unwrap_or(InlineAllow::Bypass),
            bypass_mode: self.bypass_mode.unwrap_or(BypassMode::Option),
            bypass_request_ttl: Duration::from_secs(
                self.bypass_request_days.unwrap_or(7).min(365) * 24 * 3600,
            ),
            exempt_users: self.exempt_users.unwrap_or_default(),
            project_config: self.project_config.unwrap_or(false),
            project_config_ref: self.project_config_ref,
            lfs_objects: self.lfs_objects,
        }
    }
}

/// Settings problems collected while reading a layer.
#[derive(Default)]
struct Errors(std::cell::RefCell<Vec<SettingError>>);

impl Errors {
    fn keep<T>(&self, value: Result<Option<T>, SettingError>) -> Option<T> {
        value.unwrap_or_else(|e| {
            self.0.borrow_mut().push(e);
            None
        })
    }

    fn value<T: std::str::FromStr>(&self, value: Option<String>, key: &str) -> Option<T>
    where
        T::Err: std::fmt::Display,
    {
        self.keep(parse_value(value, key))
    }

    fn flag(&self, value: Option<String>, key: &str) -> Option<bool> {
        self.keep(parse_bool(value, key))
    }
}

fn parse_value<T: std::str::FromStr>(
    value: Option<String>,
    key: &str,
) -> Result<Option<T>, SettingError>
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
    /// Let the push through when the hook cannot run.
    pub fail_open: bool,
    /// Let a push through that could not be scanned in full (recorded, rescanned).
    pub accept_incomplete: bool,
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
    /// A variable naming the pusher, consulted first.
    pub pusher_variable: Option<String>,
    /// What an inline allow comment does.
    pub inline_allow: InlineAllow,
    /// How pushers not allowed to bypass get past a rejection.
    pub bypass_mode: BypassMode,
    /// How long a bypass request and its approval hold.
    pub bypass_request_ttl: Duration,
    /// Pushers never blocked (each push recorded).
    pub exempt_users: Vec<String>,
    /// Whether the protected branch's `.leakgate.toml` applies.
    pub project_config: bool,
    /// The protected branch (`None`: `HEAD`).
    pub project_config_ref: Option<String>,
    /// Where Git LFS objects are kept (`None`: the repository's `lfs/objects`, if any).
    pub lfs_objects: Option<PathBuf>,
}

impl HookConfig {
    /// Whether `user` may bypass with a push option (or inline allow comments) directly.
    pub fn may_bypass(&self, user: &str) -> bool {
        let listed = self.bypass_users.iter().any(|u| u == user);
        self.allow_bypass
            && match self.bypass_mode {
                BypassMode::Option => self.bypass_users.is_empty() || listed,
                // With requests, an empty list means nobody bypasses without a review.
                BypassMode::Request => listed,
            }
    }
}

impl SettingError {
    /// Whether the broken setting is the fail-open switch itself: then the hook fails closed.
    pub fn is_fail_open(&self) -> bool {
        let key = self.key.to_ascii_lowercase();
        key == "leakgate.failopen" || key == "leakgate_fail_open" || key == "fail_open"
    }
}
