//! A finding as reported and stored: the engine's [`Match`] plus where it was and who it is.

use serde::Serialize;

use crate::engine::Match;
use crate::rule::Severity;
use crate::secret::{Fingerprint, FingerprintKey, Secret};

/// One leaked secret in one place.
///
/// `Debug` redacts the secret; serialising never includes it (reports add it only on an
/// explicit `--reveal`, through [`Finding::secret`]).
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// The rule that found it.
    pub rule_id: String,
    /// The provider that issued the secret.
    pub provider: String,
    /// How bad the leak is.
    pub severity: Severity,
    /// What the secret is.
    pub description: String,
    /// File or blob path.
    pub path: String,
    /// 1-based line.
    pub line: u64,
    /// 1-based column, in characters.
    pub column: u64,
    /// The commit that introduced it, for git input.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// First characters and `…`.
    pub redacted: String,
    /// HMAC-SHA256 of the secret under the installation key.
    pub fingerprint: Fingerprint,
    /// Whether the format's checksum confirmed it.
    pub checksum_valid: bool,
    /// Whether its line carries an inline allow comment (the hook's bypass request).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub inline_allowed: bool,
    /// The revocation provider that can revoke it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub revoke: Option<String>,
    /// The secret itself; never serialised.
    #[serde(skip)]
    pub secret: Secret,
}

impl Finding {
    /// Builds a finding from an engine match found at `path` (and `commit`).
    pub fn new(m: Match<'_>, path: &str, commit: Option<String>, key: &FingerprintKey) -> Self {
        Finding {
            rule_id: m.rule.id().to_owned(),
            provider: m.rule.provider().to_owned(),
            severity: m.rule.severity(),
            description: m.rule.description().to_owned(),
            path: path.to_owned(),
            line: m.line,
            column: m.column,
            commit,
            redacted: m.secret.redacted(),
            fingerprint: key.fingerprint(&m.secret),
            checksum_valid: m.checksum_valid,
            inline_allowed: m.inline_allowed,
            revoke: m.rule.revoke().map(str::to_owned),
            secret: m.secret,
        }
    }
}
