//! The service's configuration: defaults, then a TOML file, then `LEAKGATE_*` environment
//! variables (`LEAKGATE_DATABASE__URL` sets `[database] url`).
//!
//! Secrets (webhook secrets, forge tokens) can be given inline or as `*_file` paths, so that
//! they never sit in the environment; either way they are held in [`Sensitive`], whose
//! `Debug` shows only whether a value is set.

use std::fmt;
use std::path::{Path, PathBuf};

use figment::providers::{Env, Format, Serialized, Toml};
use figment::Figment;
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::event::Forge;

/// A configured secret: never printed.
#[derive(Clone, Default, Deserialize, Serialize)]
#[serde(transparent)]
pub struct Sensitive(String);

impl Sensitive {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Sensitive(value.into())
    }

    /// The value.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Whether a value is set.
    pub fn is_set(&self) -> bool {
        !self.0.is_empty()
    }
}

impl fmt::Debug for Sensitive {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_set() { "<set>" } else { "<unset>" })
    }
}

impl Drop for Sensitive {
    fn drop(&mut self) {
        use zeroize::Zeroize;
        self.0.zeroize();
    }
}

/// Everything `leakgate serve` reads.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// `[server]`.
    pub server: ServerConfig,
    /// `[database]`.
    pub database: DatabaseConfig,
    /// `[keys]`.
    pub keys: KeysConfig,
    /// `[scan]`.
    pub scan: ScanConfig,
    /// `[github]`.
    pub github: GithubConfig,
    /// `[gitlab]`.
    pub gitlab: ForgeConfig,
    /// `[gitea]` (also Forgejo).
    pub gitea: ForgeConfig,
    /// `[issues]`.
    pub issues: IssuesConfig,
    /// `[revoke]` and `[revoke.<provider>]`.
    pub revoke: crate::revoke::RevokeConfig,
    /// `[validate]` and `[validate.<provider>]`.
    pub validate: crate::validate::ValidateConfig,
    /// `[gitlab_revocation]`: GitLab's Token Revocation API, served.
    pub gitlab_revocation: crate::token_revocation::GitlabRevocationConfig,
    /// `[partner]`: the partner-alert receiver.
    pub partner: crate::partner::PartnerConfig,
    /// `[slack]`: the app whose buttons `POST /slack/interactions` answers.
    pub slack: crate::slack::SlackConfig,
    /// `[notify.<name>]`: where notifications go.
    pub notify: std::collections::BTreeMap<String, crate::notify::Target>,
    /// `[hook]`: the pre-receive hook's settings, when the file is shared with git servers
    /// (read by `leakgate pre-receive`, not by the service).
    pub hook: Option<serde_json::Value>,
}

/// `[server]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Address to listen on.
    pub bind: String,
    /// Job workers in this process.
    pub workers: usize,
    /// HTTP worker threads (0: one per CPU).
    pub http_threads: usize,
    /// How long a claimed job stays this replica's without a heartbeat, in seconds.
    pub lease_seconds: u64,
    /// On SIGTERM, how long running jobs get to finish before their leases are released.
    pub shutdown_grace_seconds: u64,
    /// Largest accepted webhook body, in bytes.
    pub max_body_bytes: usize,
    /// Where per-repository mirrors are kept (default: `mirrors/` in the data directory).
    pub mirror_dir: Option<PathBuf>,
    /// Where deliveries wait when the database cannot take them (default: `spool/` in the
    /// data directory). Keep it on a disk that survives restarts.
    pub spool_dir: Option<PathBuf>,
    /// How often an idle worker looks for jobs, in milliseconds.
    pub poll_interval_ms: u64,
    /// Deliveries are kept at least this many days (forges redeliver for days), then pruned.
    pub delivery_retention_days: u64,
    /// Bearer token of the operator API (`/api/...`: list revocations, approve one); the API
    /// is off without it.
    pub admin_token: Option<Sensitive>,
    /// `admin_token` read from a file.
    pub admin_token_file: Option<PathBuf>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8080".into(),
            workers: 2,
            http_threads: 0,
            lease_seconds: 60,
            shutdown_grace_seconds: 30,
            max_body_bytes: 25 << 20,
            mirror_dir: None,
            spool_dir: None,
            poll_interval_ms: 500,
            delivery_retention_days: 7,
            admin_token: None,
            admin_token_file: None,
        }
    }
}

/// `[database]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DatabaseConfig {
    /// `sqlite://PATH` or `postgres://...`; default: `leakgate.db` in the data directory.
    pub url: Option<Sensitive>,
    /// The URL read from a file instead.
    pub url_file: Option<PathBuf>,
}

/// `[keys]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeysConfig {
    /// File holding the fingerprint key (hex). Every replica must use the same key.
    pub fingerprint_key_file: Option<PathBuf>,
    /// File holding the 32-byte key (hex) that encrypts secret material pending revocation.
    pub encryption_key_file: Option<PathBuf>,
    /// Encrypted secret material still pending after this many hours is deleted.
    pub material_max_age_hours: u64,
}

impl Default for KeysConfig {
    fn default() -> Self {
        KeysConfig {
            fingerprint_key_file: None,
            encryption_key_file: None,
            material_max_age_hours: 168,
        }
    }
}

/// `[scan]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ScanConfig {
    /// Extra rule files (leakgate TOML).
    pub rules: Vec<PathBuf>,
    /// Scanner threads per job.
    pub threads: usize,
    /// Blobs above this size are streamed rather than read whole, in bytes.
    pub stream_above_bytes: u64,
    /// Time limit of one fetch + scan, in seconds. A scan cut short records and reports what
    /// it found, and its job runs again for the rest.
    pub timeout_seconds: u64,
    /// Findings recorded per push at most (the most severe first); the rest are counted.
    pub max_findings_per_push: usize,
    /// Whether a repository's `.leakgate.toml` applies: read from its default branch as it
    /// was before the push (a push to another branch: the default branch's tip), never from
    /// the pushed commits.
    pub project_config: bool,
}

impl ScanConfig {
    /// The time limit of one fetch and scan (at least 1 s, at most a day, whatever a
    /// configuration built in code says; a loaded one is checked for that range).
    pub fn timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.timeout_seconds.clamp(1, 86_400))
    }
}

impl Default for ScanConfig {
    fn default() -> Self {
        ScanConfig {
            rules: Vec::new(),
            threads: 2,
            stream_above_bytes: 64 << 20,
            timeout_seconds: 600,
            max_findings_per_push: 1000,
            project_config: false,
        }
    }
}

/// `[github]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GithubConfig {
    /// The webhook secret (`X-Hub-Signature-256`).
    pub webhook_secret: Option<Sensitive>,
    /// ... or a file holding it.
    pub webhook_secret_file: Option<PathBuf>,
    /// The GitHub App's id.
    pub app_id: Option<u64>,
    /// The GitHub App's private key (PEM).
    pub private_key_path: Option<PathBuf>,
    /// A token instead of an App (GitHub Enterprise Server without an App; tests).
    pub token: Option<Sensitive>,
    /// ... or a file holding it.
    pub token_file: Option<PathBuf>,
    /// REST API base (`https://HOST/api/v3` on GitHub Enterprise Server).
    pub api_url: String,
    /// Fetch from `{clone_url}/{owner}/{repo}.git` (default: the web address of `api_url`:
    /// `https://github.com`, or the GitHub Enterprise Server host of `https://HOST/api/v3`).
    /// Never from the payload.
    pub clone_url: Option<String>,
}

impl Default for GithubConfig {
    fn default() -> Self {
        GithubConfig {
            webhook_secret: None,
            webhook_secret_file: None,
            app_id: None,
            private_key_path: None,
            token: None,
            token_file: None,
            api_url: "https://api.github.com".into(),
            clone_url: None,
        }
    }
}

/// `[gitlab]` and `[gitea]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ForgeConfig {
    /// GitLab's `X-Gitlab-Token`.
    pub webhook_token: Option<Sensitive>,
    /// ... or a file holding it.
    pub webhook_token_file: Option<PathBuf>,
    /// Gitea's / Forgejo's webhook secret (`X-Gitea-Signature`).
    pub webhook_secret: Option<Sensitive>,
    /// ... or a file holding it.
    pub webhook_secret_file: Option<PathBuf>,
    /// API token for statuses, issues and cloning.
    pub token: Option<Sensitive>,
    /// ... or a file holding it.
    pub token_file: Option<PathBuf>,
    /// REST API base: `https://gitlab.example/api/v4`, `https://gitea.example/api/v1`.
    pub api_url: Option<String>,
    /// Fetch from `{clone_url}/{path}.git` (default: `api_url` without its `/api/v4` or
    /// `/api/v1`). Never from the payload.
    pub clone_url: Option<String>,
}

/// `[issues]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IssuesConfig {
    /// Open issues in this private tracking repository (`owner/name`, on the same forge as
    /// the push) instead of the pushed repository. Without it, a public repository gets no
    /// issue (GitLab: a confidential one): its issues are public and would point at the key.
    pub repository: Option<String>,
    /// Open issues at all.
    pub enabled: bool,
    /// Issues opened or updated per push at most (the most severe secrets first); the commit
    /// status counts the rest.
    pub max_per_push: usize,
}

impl Default for IssuesConfig {
    fn default() -> Self {
        IssuesConfig { repository: None, enabled: true, max_per_push: 20 }
    }
}

/// A configuration problem.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file or the environment does not fit the schema.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// A `*_file` cannot be read.
    #[error("cannot read {key} from {path}: {source}")]
    File {
        /// The key.
        key: String,
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl Config {
    /// Defaults, then `file` (when given; it must exist), then `LEAKGATE_*` variables with
    /// `__` between section and key. Variables without `__` (`LEAKGATE_DATA_DIR`, ...) are
    /// not configuration keys and are left alone.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the key and the file or variable at fault.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut config: Config =
            Self::figment(file).extract().map_err(|e| ConfigError::Invalid(describe(&e)))?;
        config.revoke.validate().map_err(ConfigError::Invalid)?;
        config.validate.validate().map_err(ConfigError::Invalid)?;
        config.partner.validate().map_err(ConfigError::Invalid)?;
        crate::notify::validate(&config.notify).map_err(ConfigError::Invalid)?;
        config.check_ranges().map_err(ConfigError::Invalid)?;
        config.revoke.instances = config.instances();
        config.validate.instances = config.instances();
        for forge in [Forge::Github, Forge::Gitlab, Forge::Gitea] {
            if config.receives(forge) {
                config.fetch_base(forge).map_err(ConfigError::Invalid)?;
            }
        }
        Ok(config)
    }

    /// Numbers out of any sensible range are refused with the key named, rather than
    /// overflowing a duration or spawning a million threads later.
    fn check_ranges(&self) -> Result<(), String> {
        let ranges: [(&str, u64, u64, u64); 12] = [
            ("server.workers", self.server.workers as u64, 0, 256),
            ("server.http_threads", self.server.http_threads as u64, 0, 256),
            ("server.lease_seconds", self.server.lease_seconds, 5, 86_400),
            ("server.shutdown_grace_seconds", self.server.shutdown_grace_seconds, 0, 3_600),
            ("server.max_body_bytes", self.server.max_body_bytes as u64, 1_024, 1 << 30),
            ("server.poll_interval_ms", self.server.poll_interval_ms, 10, 60_000),
            ("server.delivery_retention_days", self.server.delivery_retention_days, 0, 36_500),
            ("keys.material_max_age_hours", self.keys.material_max_age_hours, 1, 87_600),
            ("scan.threads", self.scan.threads as u64, 0, 256),
            ("scan.timeout_seconds", self.scan.timeout_seconds, 1, 86_400),
            ("scan.max_findings_per_push", self.scan.max_findings_per_push as u64, 1, 1_000_000),
            ("issues.max_per_push", self.issues.max_per_push as u64, 1, 10_000),
        ];
        for (key, value, low, high) in ranges {
            if !(low..=high).contains(&value) {
                return Err(format!("{key} = {value}: expected {low} to {high}"));
            }
        }
        if let Some(t) = self.revoke.timeout_seconds.filter(|t| !(1..=3_600).contains(t)) {
            return Err(format!("revoke.timeout_seconds = {t}: expected 1 to 3600"));
        }
        if let Some(t) = self.validate.timeout_seconds.filter(|t| !(1..=600).contains(t)) {
            return Err(format!("validate.timeout_seconds = {t}: expected 1 to 600"));
        }
        if self.revoke.require_valid && !self.validate.enabled {
            return Err(
                "revoke.require_valid = true needs validate.enabled = true (nothing would \
                        ever validate, so nothing would be revoked)"
                    .into(),
            );
        }
        if self.validate.recheck_hours > 87_600 {
            return Err(format!(
                "validate.recheck_hours = {}: expected 0 to 87600",
                self.validate.recheck_hours
            ));
        }
        Ok(())
    }

    /// The forge instances tokens are revoked at (see `RevokeConfig::destination`): the
    /// configured GitHub's API, and the configured GitLab's address.
    pub fn instances(&self) -> crate::revoke::Instances {
        let gitlab = self.gitlab.api_url.as_deref().map(|api| {
            let api = api.trim_end_matches('/');
            api.strip_suffix("/api/v4").unwrap_or(api).to_owned()
        });
        crate::revoke::Instances { github: Some(self.github.api_url.clone()), gitlab }
    }

    /// Whether deliveries from `forge` are accepted (its webhook secret or token is set).
    pub fn receives(&self, forge: Forge) -> bool {
        let set = |s: &Option<Sensitive>| s.as_ref().is_some_and(Sensitive::is_set);
        let set_or_file = |s: &Option<Sensitive>, f: &Option<PathBuf>| set(s) || f.is_some();
        match forge {
            Forge::Github => {
                set_or_file(&self.github.webhook_secret, &self.github.webhook_secret_file)
            }
            Forge::Gitlab | Forge::Gitea => {
                let c = if forge == Forge::Gitlab { &self.gitlab } else { &self.gitea };
                set_or_file(&c.webhook_token, &c.webhook_token_file)
                    || set_or_file(&c.webhook_secret, &c.webhook_secret_file)
            }
        }
    }

    /// Where the service fetches `forge`'s repositories from: `clone_url`, or the web address
    /// of the configured API. A push's repository path is appended to it; nothing in a
    /// payload chooses the host, and the forge's credentials go to this host only.
    ///
    /// # Errors
    ///
    /// Neither is configured, or the address is not `https://` / `http://` with a host and
    /// nothing else (no user, query or fragment).
    pub fn fetch_base(&self, forge: Forge) -> Result<reqwest::Url, String> {
        let (clone_url, api_url, suffix) = match forge {
            Forge::Github => {
                (self.github.clone_url.as_deref(), Some(self.github.api_url.as_str()), "/api/v3")
            }
            Forge::Gitlab => {
                (self.gitlab.clone_url.as_deref(), self.gitlab.api_url.as_deref(), "/api/v4")
            }
            Forge::Gitea => {
                (self.gitea.clone_url.as_deref(), self.gitea.api_url.as_deref(), "/api/v1")
            }
        };
        let name = forge.name();
        let derived = api_url.map(|a| a.trim_end_matches('/')).and_then(|api| {
            if forge == Forge::Github && api == "https://api.github.com" {
                Some("https://github.com")
            } else {
                api.strip_suffix(suffix)
            }
        });
        let Some(base) = clone_url.or(derived) else {
            return Err(format!(
                "[{name}] clone_url is not set and cannot be derived from api_url \
                 (set clone_url to the forge's web address, e.g. https://git.example.com)"
            ));
        };
        let url = reqwest::Url::parse(base.trim_end_matches('/'))
            .map_err(|e| format!("[{name}] clone_url {base:?}: {e}"))?;
        let plain = url.username().is_empty()
            && url.password().is_none()
            && url.query().is_none()
            && url.fragment().is_none();
        if !matches!(url.scheme(), "https" | "http") || url.host_str().is_none() || !plain {
            return Err(format!(
                "[{name}] clone_url {base:?}: only https:// (or http://) addresses with a host, \
                 without user, query or fragment"
            ));
        }
        Ok(url)
    }

    /// The layered sources, for callers that add their own.
    pub fn figment(file: Option<&Path>) -> Figment {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(file) = file {
            figment = figment.merge(Toml::file_exact(file));
        }
        figment
            .merge(Env::prefixed("LEAKGATE_").filter(|key| key.as_str().contains("__")).split("__"))
    }

    /// Fills every `*_file` secret from its file.
    ///
    /// # Errors
    ///
    /// [`ConfigError::File`].
    pub fn resolve_files(mut self) -> Result<Self, ConfigError> {
        fn read(
            target: &mut Option<Sensitive>,
            file: Option<&PathBuf>,
            key: &str,
        ) -> Result<(), ConfigError> {
            if let Some(path) = file {
                let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
                    ConfigError::File { key: key.to_owned(), path: path.clone(), source }
                })?);
                *target = Some(Sensitive::new(text.trim()));
            }
            Ok(())
        }
        read(&mut self.database.url, self.database.url_file.as_ref(), "database.url_file")?;
        let server = &mut self.server;
        read(&mut server.admin_token, server.admin_token_file.as_ref(), "server.admin_token_file")?;
        let g = &mut self.github;
        read(&mut g.webhook_secret, g.webhook_secret_file.as_ref(), "github.webhook_secret_file")?;
        read(&mut g.token, g.token_file.as_ref(), "github.token_file")?;
        for (forge, name) in [(&mut self.gitlab, "gitlab"), (&mut self.gitea, "gitea")] {
            let key = |k: &str| -> &'static str {
                match (name, k) {
                    ("gitlab", "t") => "gitlab.webhook_token_file",
                    ("gitlab", "s") => "gitlab.webhook_secret_file",
                    ("gitlab", _) => "gitlab.token_file",
                    (_, "t") => "gitea.webhook_token_file",
                    (_, "s") => "gitea.webhook_secret_file",
                    _ => "gitea.token_file",
                }
            };
            read(&mut forge.webhook_token, forge.webhook_token_file.as_ref(), key("t"))?;
            read(&mut forge.webhook_secret, forge.webhook_secret_file.as_ref(), key("s"))?;
            read(&mut forge.token, forge.token_file.as_ref(), key("a"))?;
        }
        let gr = &mut self.gitlab_revocation;
        read(&mut gr.token, gr.token_file.as_ref(), "gitlab_revocation.token_file")?;
        for (name, t) in &mut self.partner.types {
            read(&mut t.token, t.token_file.as_ref(), &format!("partner.types.{name}.token_file"))?;
        }
        self.revoke.partner_types = self.partner.types.clone();
        let sl = &mut self.slack;
        read(&mut sl.signing_secret, sl.signing_secret_file.as_ref(), "slack.signing_secret_file")?;
        for (name, t) in &mut self.notify {
            read(&mut t.url, t.url_file.as_ref(), &format!("notify.{name}.url_file"))?;
            read(&mut t.secret, t.secret_file.as_ref(), &format!("notify.{name}.secret_file"))?;
        }
        for (name, p) in &mut self.revoke.providers {
            read(&mut p.token, p.token_file.as_ref(), &format!("revoke.{name}.token_file"))?;
            read(
                &mut p.secret_access_key,
                p.secret_access_key_file.as_ref(),
                &format!("revoke.{name}.secret_access_key_file"),
            )?;
        }
        Ok(self)
    }
}

/// figment's error names the key and where its value came from; make it one line.
fn describe(error: &figment::Error) -> String {
    error.clone().into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
#[allow(clippy::result_large_err)] // figment::Jail's closures return figment::Error
mod tests {
    use super::*;

    #[test]
    fn the_example_file_parses_and_matches_the_defaults() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/leakgate.example.toml");
        let config = Config::figment(Some(&path)).extract::<Config>().expect("example parses");
        let defaults = Config::default();
        assert_eq!(config.server.bind, defaults.server.bind);
        assert_eq!(config.server.max_body_bytes, 25 << 20);
        assert_eq!(config.scan.stream_above_bytes, defaults.scan.stream_above_bytes);
        assert_eq!(config.github.api_url, "https://api.github.com");
        assert!(config.issues.enabled);
    }

    #[test]
    fn environment_overrides_file_and_secrets_stay_hidden() {
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "l.toml",
                "[server]\nworkers = 3\n[github]\nwebhook_secret = \"from-file\"\n",
            )?;
            jail.set_env("LEAKGATE_SERVER__BIND", "0.0.0.0:9000");
            jail.set_env("LEAKGATE_GITHUB__WEBHOOK_SECRET", "from-env");
            jail.set_env("LEAKGATE_DATA_DIR", "/not/a/key");
            let config = Config::load(Some(Path::new("l.toml"))).expect("loads");
            assert_eq!(config.server.bind, "0.0.0.0:9000");
            assert_eq!(config.server.workers, 3);
            assert_eq!(
                config.github.webhook_secret.as_ref().map(Sensitive::expose),
                Some("from-env")
            );
            assert!(!format!("{config:?}").contains("from-env"), "Debug never shows secrets");
            Ok(())
        });
    }

    #[test]
    fn unknown_keys_and_bad_values_are_clear_errors() {
        figment::Jail::expect_with(|jail| {
            jail.create_file("bad.toml", "[server]\nworkers = \"many\"\n")?;
            let e = Config::load(Some(Path::new("bad.toml"))).expect_err("bad value").to_string();
            assert!(e.contains("workers"), "{e}");
            jail.create_file("typo.toml", "[sever]\nbind = \"x\"\n")?;
            let e = Config::load(Some(Path::new("typo.toml")))
                .expect_err("unknown section")
                .to_string();
            assert!(e.contains("sever"), "{e}");
            let e = Config::load(Some(Path::new("missing.toml")))
                .expect_err("missing file")
                .to_string();
            assert!(e.contains("missing.toml"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn extreme_numbers_are_refused_with_the_key_named() {
        figment::Jail::expect_with(|jail| {
            for (section, key, value) in [
                ("server", "poll_interval_ms", "9223372036854775807"),
                ("server", "lease_seconds", "9223372036854775807"),
                ("server", "workers", "1000000"),
                ("scan", "timeout_seconds", "0"),
                ("keys", "material_max_age_hours", "9223372036854775807"),
                ("revoke", "timeout_seconds", "9223372036854775807"),
            ] {
                jail.create_file("x.toml", &format!("[{section}]\n{key} = {value}\n"))?;
                let e = Config::load(Some(Path::new("x.toml"))).expect_err("refused").to_string();
                assert!(e.contains(&format!("{section}.{key}")), "{e}");
            }
            jail.create_file("ok.toml", "[server]\nworkers = 0\n")?;
            Config::load(Some(Path::new("ok.toml"))).expect("0 workers: intake only");
            Ok(())
        });
    }

    #[test]
    fn the_fetch_base_is_configured_https_or_http_and_nothing_else() {
        let mut config = Config::default();
        assert_eq!(
            config.fetch_base(Forge::Github).expect("public").as_str(),
            "https://github.com/"
        );
        config.github.api_url = "https://ghes.example/api/v3".into();
        assert_eq!(
            config.fetch_base(Forge::Github).expect("ghes").as_str(),
            "https://ghes.example/"
        );
        config.gitlab.api_url = Some("https://gl.example/api/v4/".into());
        assert_eq!(config.fetch_base(Forge::Gitlab).expect("gl").as_str(), "https://gl.example/");
        assert!(config.fetch_base(Forge::Gitea).is_err(), "nothing to derive from");
        for bad in [
            "file:///srv/git",
            "ssh://git@gl.example",
            "https://user:pw@gl.example",
            "https://gl.example/?x=1",
            "/srv/git",
        ] {
            config.gitlab.clone_url = Some(bad.into());
            assert!(config.fetch_base(Forge::Gitlab).is_err(), "{bad}");
        }
        figment::Jail::expect_with(|jail| {
            jail.create_file(
                "f.toml",
                "[gitlab]\nwebhook_token = \"t\"\nclone_url = \"file:///srv/git\"\n",
            )?;
            let e = Config::load(Some(Path::new("f.toml"))).expect_err("refused").to_string();
            assert!(e.contains("clone_url"), "{e}");
            Ok(())
        });
    }

    #[test]
    fn secret_files_are_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("secret");
        std::fs::write(&path, "  file-secret\n").expect("write");
        let mut config = Config::default();
        config.gitea.webhook_secret_file = Some(path);
        let config = config.resolve_files().expect("resolves");
        assert_eq!(
            config.gitea.webhook_secret.as_ref().map(Sensitive::expose),
            Some("file-secret")
        );
        let mut config = Config::default();
        config.gitlab.token_file = Some(dir.path().join("absent"));
        let e = config.resolve_files().expect_err("absent file").to_string();
        assert!(e.contains("gitlab.token_file"), "{e}");
    }
}
