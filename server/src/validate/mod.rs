//! Live validation: is a leaked key active right now?
//!
//! Each validator makes one side-effect-free call to the provider that issued the key (a `GET`
//! or a documented read-only call) and reports a [`Validity`]: `valid` only on the documented
//! success status and body, `invalid` / `revoked` / `expired` on the documented answers for a
//! dead key, `unknown` on anything a retry could change (429, 5xx, an HTML page, a timeout)
//! and `not_checkable` when no call can tell (no validator, a test-mode key, a key id without
//! its secret). Facts known offline come first: an AWS key of a known canary account is
//! `canary` and is never called (calling it is what sets the canary off).
//!
//! Validation never runs in the pre-receive hook (which stays offline); the service runs it as
//! a job per new secret and again on a schedule, and `leakgate validate` runs it by hand. The
//! secret goes only to a checked destination ([`crate::revoke::guard`]) and never into a
//! [`Check`]'s summary; nothing from the answer is kept but the status and an error code.

mod providers;
pub mod run;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::revoke::{Attempt, Instances, Outcome, ProviderConfig};

pub use providers::{aws_account, for_rule, validator, Validator, VALIDATORS};

/// Whether a key works, as its provider answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    /// The provider accepted the key (its documented success answer).
    Valid,
    /// The provider refused the key (never valid, or deleted).
    Invalid,
    /// The provider says the key was revoked.
    Revoked,
    /// The provider says the key expired.
    Expired,
    /// No answer that tells (429, 5xx, an HTML page, a timeout, an undocumented answer).
    Unknown,
    /// No call can tell: no validator for the rule, a test-mode key, a key id alone.
    NotCheckable,
    /// A canary (honeytoken): reported, never called.
    Canary,
}

impl Validity {
    /// Every validity.
    pub const ALL: [Validity; 7] = [
        Validity::Valid,
        Validity::Invalid,
        Validity::Revoked,
        Validity::Expired,
        Validity::Unknown,
        Validity::NotCheckable,
        Validity::Canary,
    ];

    /// The name stored and printed.
    pub fn as_str(self) -> &'static str {
        match self {
            Validity::Valid => "valid",
            Validity::Invalid => "invalid",
            Validity::Revoked => "revoked",
            Validity::Expired => "expired",
            Validity::Unknown => "unknown",
            Validity::NotCheckable => "not_checkable",
            Validity::Canary => "canary",
        }
    }

    /// The validity called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_str() == name)
    }

    /// Whether the key is known not to work (nothing left to revoke).
    pub fn is_dead(self) -> bool {
        matches!(self, Validity::Invalid | Validity::Revoked | Validity::Expired)
    }
}

/// One validation's result: no secret in it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Check {
    /// What the provider's answer means.
    pub validity: Validity,
    /// The HTTP status, when there was an answer.
    pub status: Option<u16>,
    /// A short description (the provider's error code, never the secret).
    pub summary: String,
    /// The provider's `Retry-After`, for `unknown` after a 429.
    pub retry_after: Option<Duration>,
}

impl Check {
    /// A result reached without a call.
    pub fn offline(validity: Validity, summary: impl Into<String>) -> Self {
        Check { validity, status: None, summary: summary.into(), retry_after: None }
    }

    /// A request that got no usable answer: a refused destination is `not_checkable` (nothing
    /// was sent), a timeout or a broken answer `unknown`.
    fn from_attempt(attempt: Attempt) -> Self {
        let validity = match attempt.outcome {
            Outcome::FailedPermanent | Outcome::Unsupported => Validity::NotCheckable,
            _ => Validity::Unknown,
        };
        Check {
            validity,
            status: attempt.status,
            summary: attempt.summary,
            retry_after: attempt.retry_after,
        }
    }
}

/// `[validate.<provider>]`.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ValidatorConfig {
    /// `false` turns this provider's validation off (`not_checkable`).
    pub enabled: Option<bool>,
    /// The API base (GitHub Enterprise Server, self-managed GitLab, Datadog's site, Mailgun's
    /// EU region, tests).
    pub api_url: Option<String>,
    /// Permit sending secrets to a non-public address for this provider.
    pub allow_internal: bool,
    /// Permit plain `http://` for this provider (tests, a lab instance).
    pub allow_http: bool,
    /// Calls per hour leakgate makes to this provider, across replicas (default 600).
    pub requests_per_hour: Option<u32>,
}

/// `[validate]`.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(default)]
pub struct ValidateConfig {
    /// Validate new secrets in the service (a job per secret). Off by default: validation
    /// sends each leaked key to its issuer.
    pub enabled: bool,
    /// Validate again a key last seen `valid` or `unknown` after this many hours (0: never).
    pub recheck_hours: u64,
    /// How long one validation call may take, in seconds (default 10).
    pub timeout_seconds: Option<u64>,
    /// Per provider, by validator name (`github`, `slack`, ...).
    #[serde(flatten)]
    pub providers: BTreeMap<String, ValidatorConfig>,
    /// The forge instances the service receives pushes from.
    #[serde(skip)]
    pub instances: Instances,
}

impl Default for ValidateConfig {
    fn default() -> Self {
        ValidateConfig {
            enabled: false,
            recheck_hours: 24,
            timeout_seconds: None,
            providers: BTreeMap::new(),
            instances: Instances::default(),
        }
    }
}

/// Calls per hour to one provider when `requests_per_hour` is not set.
pub const DEFAULT_REQUESTS_PER_HOUR: u32 = 600;

impl ValidateConfig {
    /// Checks that every `[validate.<name>]` names a known validator.
    ///
    /// # Errors
    ///
    /// The unknown name.
    pub fn validate(&self) -> Result<(), String> {
        for name in self.providers.keys() {
            if validator(name).is_none() {
                let known: Vec<&str> = VALIDATORS.iter().map(|v| v.name).collect();
                return Err(format!(
                    "[validate.{name}]: unknown provider (known: {})",
                    known.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// How long one call may take.
    pub fn timeout(&self) -> Duration {
        Duration::from_secs(self.timeout_seconds.unwrap_or(10).clamp(1, 600))
    }

    /// The settings of `name` (defaults when absent).
    pub fn provider(&self, name: &str) -> ValidatorConfig {
        self.providers.get(name).cloned().unwrap_or_default()
    }

    /// The pause between two calls to `name`, across replicas.
    pub fn interval(&self, name: &str) -> Duration {
        let per_hour =
            self.provider(name).requests_per_hour.unwrap_or(DEFAULT_REQUESTS_PER_HOUR).max(1);
        Duration::from_secs_f64(3600.0 / f64::from(per_hour))
    }

    /// Where a key of `validator` is checked: the configured `api_url`; for GitHub and GitLab
    /// tokens the instance the push came from (`origin_forge`), since only the issuing
    /// instance knows its tokens (another one would answer `invalid` for a live key); else
    /// the provider's public API. `cli` (a person asking by hand) falls back to the configured
    /// instance, then the public service.
    ///
    /// # Errors
    ///
    /// Why the key cannot be checked (a `not_checkable` summary).
    pub fn destination(
        &self,
        validator: &Validator,
        origin_forge: Option<crate::event::Forge>,
        cli: bool,
    ) -> Result<String, String> {
        use crate::event::Forge;
        let trim = |s: &str| s.trim_end_matches('/').to_owned();
        if let Some(api) = self.providers.get(validator.name).and_then(|p| p.api_url.as_deref()) {
            return Ok(trim(api));
        }
        let (forge, instance) = match validator.name {
            "github" => (Forge::Github, &self.instances.github),
            "gitlab" => (Forge::Gitlab, &self.instances.gitlab),
            _ => return Ok(trim(validator.default_base)),
        };
        match (origin_forge, instance) {
            (Some(f), Some(base)) if f == forge => Ok(trim(base)),
            (_, Some(base)) if cli => Ok(trim(base)),
            (_, None) if cli => Ok(trim(validator.default_base)),
            _ => Err(format!(
                "the issuing {} instance is unknown (the push did not come from it): set \
                 [validate.{}] api_url",
                validator.name, validator.name
            )),
        }
    }
}

/// Checks `secret` with `validator` at `base`; a call that takes longer than `timeout` is
/// `unknown`. `enabled = false` is `not_checkable` without a call.
pub async fn validate(
    validator: &Validator,
    secret: &[u8],
    config: &ValidatorConfig,
    base: String,
    timeout: Duration,
) -> Check {
    if config.enabled == Some(false) {
        return Check::offline(
            Validity::NotCheckable,
            format!("[validate.{}] enabled is false", validator.name),
        );
    }
    let Ok(secret) = std::str::from_utf8(secret) else {
        return Check::offline(Validity::NotCheckable, "the secret is not text");
    };
    let secret = zeroize::Zeroizing::new(secret.trim().to_owned());
    let settings = ProviderConfig {
        api_url: config.api_url.clone(),
        allow_internal: config.allow_internal,
        allow_http: config.allow_http,
        ..ProviderConfig::default()
    };
    let call = (validator.check)(crate::revoke::providers::Call {
        secret: secret.clone(),
        base,
        allow_internal: config.allow_internal,
        timeout,
        settings,
    });
    let mut check = match tokio::time::timeout(timeout * 2, call).await {
        Ok(check) => check,
        Err(_) => Check::offline(
            Validity::Unknown,
            format!("timed out: no answer within {} s", (timeout * 2).as_secs()),
        ),
    };
    // Defence in depth: a summary never carries the secret, whatever a provider answered.
    if secret.len() >= 6 && check.summary.contains(secret.as_str()) {
        check.summary = "(summary withheld: it contained the secret)".into();
    }
    check
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_dead_states_are_the_dead_ones() {
        for v in Validity::ALL {
            assert_eq!(Validity::parse(v.as_str()), Some(v));
            assert_eq!(
                v.is_dead(),
                matches!(v, Validity::Invalid | Validity::Revoked | Validity::Expired)
            );
        }
        assert_eq!(Validity::parse("live"), None);
    }

    #[test]
    fn forge_tokens_are_checked_only_at_their_instance() {
        use crate::event::Forge;
        let mut config = ValidateConfig::default();
        let github = validator("github").expect("github");
        let slack = validator("slack").expect("slack");
        assert!(config.destination(github, Some(Forge::Github), false).is_err(), "no instance");
        assert_eq!(
            config.destination(github, None, true).as_deref(),
            Ok("https://api.github.com"),
            "by hand, the public service"
        );
        config.instances.github = Some("https://ghe.example/api/v3/".into());
        assert_eq!(
            config.destination(github, Some(Forge::Github), false).as_deref(),
            Ok("https://ghe.example/api/v3")
        );
        assert!(config.destination(github, Some(Forge::Gitea), false).is_err());
        assert!(config.destination(github, None, false).is_err(), "the hook's findings");
        assert_eq!(
            config.destination(slack, None, false).as_deref(),
            Ok("https://slack.com"),
            "one public service"
        );
        config.providers.insert(
            "slack".into(),
            ValidatorConfig { api_url: Some("http://127.0.0.1:9/".into()), ..Default::default() },
        );
        assert_eq!(config.destination(slack, None, false).as_deref(), Ok("http://127.0.0.1:9"));
    }
}
