//! Revocation: making a leaked key worthless through its provider's API.
//!
//! Each provider is written to its published contract and reports one [`Outcome`]:
//! `revoked` only on the documented success answer, `already_invalid` on the documented
//! answer for a dead token, `failed_retryable` on timeouts, 429 (with `Retry-After`), 5xx or
//! an HTML page where JSON was expected, `failed_permanent` otherwise, and `unsupported` for
//! a provider leakgate cannot revoke. A secret is only ever sent to a checked destination
//! ([`guard`]) and never appears in an [`Attempt`]'s summary.

pub(crate) mod aws;
mod bearer;
mod github;
pub mod guard;
pub(crate) mod http;
mod listing;
pub(crate) mod providers;
pub mod run;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Sensitive;

pub use github::{github_batch, GITHUB_BATCH};
pub use providers::{provider, Provider, PROVIDERS};

/// How an attempt ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The provider confirmed the revocation.
    Revoked,
    /// The provider says the token is not valid (revoked before, expired, never valid).
    AlreadyInvalid,
    /// Try again later (timeout, 429, 5xx, an HTML error page).
    FailedRetryable,
    /// The provider refused in a way that retrying will not change.
    FailedPermanent,
    /// No revocation API for this provider, or not for this kind of key.
    Unsupported,
}

impl Outcome {
    /// The name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Revoked => "revoked",
            Outcome::AlreadyInvalid => "already_invalid",
            Outcome::FailedRetryable => "failed_retryable",
            Outcome::FailedPermanent => "failed_permanent",
            Outcome::Unsupported => "unsupported",
        }
    }

    /// The revocation's state after an attempt with this outcome (when it is not retried).
    pub fn state(self) -> leakgate_store::RevocationState {
        use leakgate_store::RevocationState as State;
        match self {
            Outcome::Revoked => State::Revoked,
            Outcome::AlreadyInvalid => State::AlreadyInvalid,
            Outcome::FailedRetryable => State::FailedRetryable,
            Outcome::FailedPermanent => State::FailedPermanent,
            Outcome::Unsupported => State::Unsupported,
        }
    }

    /// Whether the exposure is over (the key no longer works).
    pub fn is_final_success(self) -> bool {
        matches!(self, Outcome::Revoked | Outcome::AlreadyInvalid)
    }
}

/// One attempt's result: no secret in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attempt {
    /// The outcome.
    pub outcome: Outcome,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// A short description for the audit trail (the provider's error code, never the secret).
    pub summary: String,
    /// For `failed_retryable`: the provider's `Retry-After`.
    pub retry_after: Option<Duration>,
}

impl Attempt {
    /// An attempt that ended without an HTTP answer.
    pub fn without_answer(outcome: Outcome, summary: impl Into<String>) -> Self {
        Attempt { outcome, status: None, summary: summary.into(), retry_after: None }
    }
}

/// When a provider revokes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// As soon as a finding is confirmed.
    Auto,
    /// Queued until `leakgate revoke --finding ID`.
    #[default]
    Manual,
    /// Never.
    Off,
}

/// `[revoke.<provider>]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    /// `auto`, `manual` or `off`.
    pub policy: Policy,
    /// The API base (GitHub Enterprise Server, self-managed GitLab, tests).
    pub api_url: Option<String>,
    /// Permit sending secrets to a non-public address for this provider.
    pub allow_internal: bool,
    /// Permit plain `http://` for this provider (tests, a lab instance): separate from
    /// `allow_internal`, since an internal instance still speaks https.
    pub allow_http: bool,
    /// A credential of leakgate's own for providers whose revocation is authenticated:
    /// GitHub Enterprise Server's credential revocation API, GitLab's admin token API.
    pub token: Option<Sensitive>,
    /// `token` read from a file.
    pub token_file: Option<PathBuf>,
    /// AWS: an access key id allowed `iam:GetAccessKeyLastUsed` and `iam:UpdateAccessKey`,
    /// used when a leaked key id was found without its secret.
    pub access_key_id: Option<String>,
    /// AWS: the secret of `access_key_id`.
    pub secret_access_key: Option<Sensitive>,
    /// `secret_access_key` read from a file.
    pub secret_access_key_file: Option<PathBuf>,
    /// AWS: the signing region (default `us-east-1`, where IAM lives).
    pub region: Option<String>,
    /// Calls per hour the provider accepts; leakgate paces itself below it across replicas
    /// (GitHub's credential revocation API: 60, each call carrying up to 1000 tokens).
    pub requests_per_hour: Option<u32>,
}

/// `[revoke]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default)]
pub struct RevokeConfig {
    /// Decide and record, but send nothing.
    pub dry_run: bool,
    /// Also revoke keys from pushes the hook blocked (they never reached the server, but they
    /// left the developer's machine).
    pub blocked_pushes: bool,
    /// How long one provider call may take, in seconds (default 15).
    pub timeout_seconds: Option<u64>,
    /// Send an automatic revocation only once the key validated live (`[validate]` must be
    /// enabled): a key that is dead already spends no call, and a key no validator checks
    /// waits for a person.
    pub require_valid: bool,
    /// Per provider, by name (`github`, `gitlab`, ...).
    #[serde(flatten)]
    pub providers: BTreeMap<String, ProviderConfig>,
    /// The forge instances the service receives pushes from (from `[github]` and
    /// `[gitlab]`), to revoke a forge's tokens at the instance that issued them.
    #[serde(skip)]
    pub instances: Instances,
    /// `[partner.types]`: the internal endpoint that revokes each partner token type.
    #[serde(skip)]
    pub partner_types: BTreeMap<String, crate::partner::PartnerType>,
}

/// The API addresses of the configured forge instances.
#[derive(Clone, Debug, Default)]
pub struct Instances {
    /// `[github] api_url`: `https://api.github.com` or a GitHub Enterprise Server's
    /// `https://HOST/api/v3`.
    pub github: Option<String>,
    /// `[gitlab] api_url` without `/api/v4`: the instance's address.
    pub gitlab: Option<String>,
}

/// GitHub's public API, where github.com tokens are revoked.
pub const GITHUB_PUBLIC_API: &str = "https://api.github.com";

impl RevokeConfig {
    /// Checks that every `[revoke.<name>]` names a known provider.
    ///
    /// # Errors
    ///
    /// The unknown name.
    pub fn validate(&self) -> Result<(), String> {
        for name in self.providers.keys() {
            if provider(name).is_none() {
                let known: Vec<&str> = PROVIDERS.iter().map(|p| p.name).collect();
                return Err(format!(
                    "[revoke.{name}]: unknown provider (known: {})",
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// How long one provider call may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.unwrap_or(15).clamp(1, 3_600))
    }

    /// The settings of `name` (defaults when absent).
    pub fn provider(&self, name: &str) -> ProviderConfig {
        self.providers.get(name).cloned().unwrap_or_default()
    }

    /// Where a secret of `provider` found at `origin` is revoked: for a partner token, the
    /// internal endpoint configured for its type; otherwise see [`RevokeConfig::destination`].
    ///
    /// # Errors
    ///
    /// The text for an `unsupported` revocation.
    pub fn destination_for(
        &self,
        provider: &Provider,
        origin: &run::Origin,
    ) -> Result<String, String> {
        if provider.name != "partner" {
            return self.destination(provider, origin.forge);
        }
        let kind = origin.partner_type.as_deref().unwrap_or("");
        self.partner_types
            .get(kind)
            .map(|t| t.url.trim_end_matches('/').to_owned())
            .ok_or_else(|| format!("[partner.types.{kind}] is not configured (any more)"))
    }

    /// The settings a call of `provider` for a secret found at `origin` uses: a partner
    /// type's own credential and destination permissions, else `[revoke.<provider>]`.
    pub fn settings_for(&self, provider: &str, origin: &run::Origin) -> ProviderConfig {
        let kind = origin.partner_type.as_deref().unwrap_or("");
        match self.partner_types.get(kind).filter(|_| provider == "partner") {
            Some(t) => ProviderConfig {
                policy: self.provider(provider).policy,
                token: t.token.clone(),
                allow_internal: t.allow_internal,
                allow_http: t.allow_http,
                ..ProviderConfig::default()
            },
            None => self.provider(provider),
        }
    }

    /// Where a secret of `provider` found in a push from `origin` is revoked: the API base,
    /// or why it cannot be (and where to revoke it by hand).
    ///
    /// Forges run their own instances, and a token is only known to the one that issued it:
    /// another instance may answer "revoked" or "invalid" for a key that is still live. So a
    /// GitHub or GitLab token goes to `[revoke.<forge>] api_url` when the operator set it
    /// (every such token comes from there), else to the instance the push came from; a token
    /// from anywhere else (the pre-receive hook, another forge) has no known issuer and is
    /// not sent. Other providers have one public service (or their configured `api_url`).
    ///
    /// # Errors
    ///
    /// The text for an `unsupported` revocation.
    pub fn destination(
        &self,
        provider: &Provider,
        origin_forge: Option<crate::event::Forge>,
    ) -> Result<String, String> {
        use crate::event::Forge;
        let configured = self.providers.get(provider.name).and_then(|p| p.api_url.as_deref());
        if let Some(api) = configured {
            return Ok(api.trim_end_matches('/').to_owned());
        }
        let trim = |s: &str| s.trim_end_matches('/').to_owned();
        match provider.name {
            "github" => match (origin_forge, &self.instances.github) {
                (Some(Forge::Github), Some(api)) => Ok(trim(api)),
                _ => Err("the issuing GitHub instance is unknown (the push did not come from a \
                     configured GitHub): revoke it at https://github.com/settings/tokens or on \
                     your GitHub Enterprise Server, or set [revoke.github] api_url"
                    .into()),
            },
            "gitlab" => match (origin_forge, &self.instances.gitlab) {
                (Some(Forge::Gitlab), Some(base)) => Ok(trim(base)),
                _ => Err("the issuing GitLab instance is unknown (the push did not come from a \
                     configured GitLab): revoke it in the instance's Access Tokens settings, or \
                     set [revoke.gitlab] api_url"
                    .into()),
            },
            _ => Ok(trim(provider.default_base)),
        }
    }
}

/// Revokes `secret` with `provider` at `base` (see [`RevokeConfig::destination`]); a call that
/// takes longer than `timeout` is `failed_retryable`.
pub async fn revoke(
    provider: &Provider,
    secret: &[u8],
    config: &ProviderConfig,
    base: String,
    timeout: Duration,
) -> Attempt {
    let Ok(secret) = std::str::from_utf8(secret) else {
        return Attempt::without_answer(Outcome::FailedPermanent, "the secret is not text");
    };
    let secret = zeroize::Zeroizing::new(secret.trim().to_owned());
    let call = (provider.revoke)(providers::Call {
        secret: secret.clone(),
        base,
        allow_internal: config.allow_internal,
        timeout,
        settings: config.clone(),
    });
    // Listing providers make several requests: the whole attempt gets a bound too, so that
    // it ends well within the claim it runs under.
    let mut attempt = match tokio::time::timeout(timeout * 4, call).await {
        Ok(attempt) => attempt,
        Err(_) => Attempt::without_answer(
            Outcome::FailedRetryable,
            format!("timed out: no outcome within {} s", (timeout * 4).as_secs()),
        ),
    };
    // Defence in depth: a summary never carries the secret, whatever a provider answered.
    if secret.len() >= 6 && attempt.summary.contains(secret.as_str()) {
        attempt.summary = "(summary withheld: it contained the secret)".into();
    }
    attempt
}

/// The API base of `provider` under `config`, without a trailing slash.
pub fn base_url(provider: &Provider, config: &ProviderConfig) -> String {
    config.api_url.as_deref().unwrap_or(provider.default_base).trim_end_matches('/').to_owned()
}
