//! Revocations in the service: deciding (policy, gate), keeping the secret encrypted while it
//! is pending, and sending it through the queue: claimed in lanes, paced, batched for GitHub,
//! every attempt recorded and audited, the material wiped on a final outcome.

use std::time::Duration;

use leakgate_rules::{Finding, Severity};
use leakgate_store::{
    Error, NewJob, NewRevocation, Revocation, RevocationEnd, RevocationState as State, SecretKey,
    Store,
};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Outcome, Policy, RevokeConfig};
use crate::event::Forge;
use crate::job::{Trigger, Work};
use crate::metrics::Metrics;

/// Provider calls for one secret before its revocation gives up (`failed_retryable`):
/// with the queue's backoff (2 s doubling) or the provider's `Retry-After` between them.
pub const MAX_ATTEMPTS: i64 = 8;
/// The lane of GitHub tokens that the credential revocation API takes in batches.
pub const GITHUB_BATCH_LANE: &str = "github-batch";

/// Where a revoked secret was reported, for the issue update (no secret in it).
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Origin {
    /// The forge whose webhook delivered the push; none for the pre-receive hook.
    pub forge: Option<Forge>,
    /// The repository (the forge's name, or the hook's repository path).
    pub repo: String,
    /// The GitHub App installation that delivered the push.
    pub installation_id: Option<u64>,
    /// For a partner alert: the token type, which picks the configured internal endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partner_type: Option<String>,
}

/// The job that sends (or, once final, reports) the revocation of `fingerprint`; `manual`
/// jobs (an approval) get a key of their own so that an earlier job does not hide them.
pub fn job(fingerprint: &str, manual: bool) -> NewJob {
    let trigger = if manual { Trigger::Approved } else { Trigger::Found };
    Work::Revoke(crate::job::Revoke { fingerprint: fingerprint.to_owned(), trigger }).job()
}

/// Whether a finding may be revoked without a person deciding: its format's checksum
/// confirmed it, or its rule is of severity `high` or above. (A candidate whose format has a
/// checksum and fails it is not a finding at all: the engine drops it.)
pub fn passes_gate(finding: &Finding) -> bool {
    finding.checksum_valid || finding.severity >= Severity::High
}

/// The state a new revocation starts in, and why.
fn first_state(config: &RevokeConfig, provider: &str, finding: &Finding) -> (State, String) {
    match config.provider(provider).policy {
        Policy::Off => (State::Off, format!("[revoke.{provider}] policy is off")),
        Policy::Manual => (State::AwaitingApproval, "waiting for approval".into()),
        Policy::Auto if config.require_valid => {
            let why = match crate::validate::for_rule(&finding.rule_id) {
                Some(_) => crate::validate::run::AWAITING_VALIDATION,
                None => crate::validate::run::NO_VALIDATION,
            };
            (State::Review, why.into())
        }
        Policy::Auto if !passes_gate(finding) => {
            (State::Review, "no checksum confirmed it and the rule's severity is below high".into())
        }
        Policy::Auto => (State::Queued, "queued".into()),
    }
}

/// What the revocation of one secret needs: the secret; for AWS the key id with its secret
/// (`ID\nSECRET`) when the scan found both in the same file of the same commit, whichever
/// half the finding is (both halves' revocations deactivate the same key; the second call
/// finds it inactive and succeeds again). `None`: an AWS half found without the other, which
/// never deactivates a key.
pub(crate) fn material(finding: &Finding, all: &[(&Finding, Option<i64>)]) -> Option<Vec<u8>> {
    let secret = finding.secret.expose();
    let other_half = match finding.rule_id.as_str() {
        "aws-access-key-id" => "aws-secret-access-key",
        "aws-secret-access-key" => "aws-access-key-id",
        _ => return Some(secret.to_vec()),
    };
    // The nearest other half in the same file of the same commit: a file with two pairs (or
    // a decoy half first) must not pair a key id with another key's secret.
    let pair = all
        .iter()
        .filter(|(f, _)| {
            f.rule_id == other_half && f.path == finding.path && f.commit == finding.commit
        })
        .min_by_key(|(f, _)| f.line.abs_diff(finding.line));
    let (pair, _) = pair?;
    let (id, key) = if other_half == "aws-secret-access-key" {
        (secret, pair.secret.expose())
    } else {
        (pair.secret.expose(), secret)
    };
    let mut out = id.to_vec();
    out.push(b'\n');
    out.extend_from_slice(key);
    Some(out)
}

/// The lane of a revocation: its provider, or for GitHub tokens the credential revocation
/// API's batches, one lane per instance (a batch goes to one destination).
fn lane(provider: &str, finding: &Finding, destination: &str) -> String {
    if provider == "partner" {
        return format!("partner:{destination}");
    }
    let batched = provider == "github" && !finding.secret.expose().starts_with(b"ghs_");
    match batched {
        true if destination == super::GITHUB_PUBLIC_API => GITHUB_BATCH_LANE.to_owned(),
        true => format!("{GITHUB_BATCH_LANE}:{destination}"),
        false => provider.to_owned(),
    }
}

/// Records a revocation for each secret among `findings` (with their stored ids) that a
/// provider can revoke, unless it has one already: the encrypted material for those that may
/// be sent (now or on approval) and a `revoke` job for those the policy sends at once.
/// Returns how many jobs were queued.
///
/// # Errors
///
/// A database error.
pub async fn plan(
    store: &Store,
    key: &SecretKey,
    config: &RevokeConfig,
    origin: &Origin,
    findings: &[(&Finding, Option<i64>)],
) -> Result<usize, Error> {
    let context = serde_json::to_string(origin).unwrap_or_default();
    let mut queued = 0;
    let mut seen = std::collections::HashSet::new();
    for (finding, id) in findings {
        let Some(provider) = finding.revoke.as_deref() else { continue };
        let fingerprint = finding.fingerprint.as_str();
        if !seen.insert(fingerprint) || store.revocation(fingerprint).await?.is_some() {
            continue;
        }
        let Some(known) = super::provider(provider) else {
            tracing::warn!(rule = finding.rule_id, provider, "the rule names an unknown provider");
            continue;
        };
        let material = material(finding, findings).map(zeroize::Zeroizing::new);
        let destination = config.destination_for(known, origin);
        let (state, summary) = match (&material, &destination) {
            (None, _) => (State::Unsupported, super::aws::ID_ALONE.to_owned()),
            (_, Err(why)) => (State::Unsupported, why.clone()),
            _ => first_state(config, provider, finding),
        };
        let destination = destination.unwrap_or_default();
        // The row first: only the planner that created it stores the material, so a
        // concurrent plan cannot bring material back after a final outcome wiped it.
        let (row, fresh) = store
            .add_revocation(&NewRevocation {
                fingerprint: fingerprint.to_owned(),
                provider: provider.to_owned(),
                lane: lane(provider, finding, &destination),
                rule_id: finding.rule_id.clone(),
                finding_id: *id,
                context: context.clone(),
                state,
                summary,
            })
            .await?;
        if !fresh {
            continue;
        }
        match &material {
            Some(material) if state != State::Off && state != State::Unsupported => {
                store.put_secret(key, fingerprint, material).await?;
            }
            _ => {}
        }
        if row.state == State::Queued {
            store.enqueue(&job(fingerprint, false)).await?;
            queued += 1;
        }
    }
    Ok(queued)
}

/// Plans what the service does with newly recorded findings: their validation (first: a
/// revocation that ends at once wipes the material both share) and their revocation.
/// Returns how many jobs were queued.
///
/// # Errors
///
/// A database error.
pub async fn respond(
    store: &Store,
    key: &SecretKey,
    config: &crate::Config,
    origin: &Origin,
    findings: &[(&Finding, Option<i64>)],
) -> Result<usize, Error> {
    let validations =
        crate::validate::run::plan(store, key, &config.validate, origin, findings).await?;
    Ok(validations + plan(store, key, &config.revoke, origin, findings).await?)
}

/// What an approval found.
#[derive(Debug)]
pub enum Approval {
    /// No finding has that id.
    NoFinding,
    /// No provider revokes the finding's secret (its rule names none).
    NoRevocation {
        /// The finding's rule.
        rule_id: String,
    },
    /// `[revoke.<provider>] policy` is `off`.
    Off {
        /// The provider.
        provider: String,
    },
    /// The key is dead already (`revoked`, `already_invalid`), or cannot be revoked here
    /// (`unsupported`): nothing to send.
    Settled(Revocation),
    /// The encrypted material is gone (wiped after a final outcome, expired, or never kept
    /// under policy `off`): the key has to be given again (`leakgate revoke --provider`).
    NoMaterial(Revocation),
    /// Queued for sending (a `revoke` job enqueued; the caller may also run it).
    Queued(Revocation),
}

/// States from which a person may send a revocation (again).
pub const APPROVABLE: &[State] = &[
    State::AwaitingApproval,
    State::Review,
    State::DryRun,
    State::FailedRetryable,
    State::FailedPermanent,
    State::Off,
];

/// Approves the revocation of finding `id`'s secret on behalf of `actor` (audited): moves it
/// to `queued` and enqueues a `revoke` job, unless the key is dead already.
///
/// # Errors
///
/// A database error.
pub async fn approve(
    store: &Store,
    config: &RevokeConfig,
    id: i64,
    actor: &str,
) -> Result<Approval, Error> {
    let Some(finding) = store.finding(id).await? else { return Ok(Approval::NoFinding) };
    let Some(row) = store.revocation(&finding.fingerprint).await? else {
        return Ok(Approval::NoRevocation { rule_id: finding.rule_id });
    };
    if config.provider(&row.provider).policy == Policy::Off {
        return Ok(Approval::Off { provider: row.provider });
    }
    if matches!(row.state, State::Revoked | State::AlreadyInvalid | State::Unsupported) {
        return Ok(Approval::Settled(row));
    }
    let fingerprint = finding.fingerprint;
    if !store.has_secret(&fingerprint).await? {
        return Ok(Approval::NoMaterial(row));
    }
    if !store.move_revocation(&fingerprint, APPROVABLE, State::Queued, "approved").await? {
        // Queued or being sent already: nothing to approve.
        return Ok(Approval::Queued(row));
    }
    let detail = json!({ "finding": id, "fingerprint": fingerprint, "provider": row.provider });
    store.audit("revocation_approved", actor, &detail.to_string()).await?;
    store.enqueue(&job(&fingerprint, true)).await?;
    let row = store.revocation(&fingerprint).await?.ok_or(Error::NotFound)?;
    Ok(Approval::Queued(row))
}

/// What a revocation job does next.
#[derive(Debug)]
pub enum Step {
    /// The revocation is where it stays for now (final, waiting for approval, off): report it.
    Settled(Revocation),
    /// There is none for this fingerprint.
    Missing,
    /// Run again after this delay without counting an attempt (pacing, `Retry-After`,
    /// another worker sending it).
    Later(Duration, String),
    /// The provider failed in a way worth a counted retry with backoff.
    Retry(String),
}

/// Sends revocations: shared by the service's workers and `leakgate revoke --finding`.
pub struct Revoker<'a> {
    /// The store.
    pub store: &'a Store,
    /// Decrypts pending material.
    pub key: &'a SecretKey,
    /// `[revoke]`.
    pub config: &'a RevokeConfig,
    /// Counts attempts, when running in the service.
    pub metrics: Option<&'a Metrics>,
    /// Who sends (lease owner and audit actor).
    pub worker: &'a str,
}

impl Revoker<'_> {
    /// Moves the revocation of `fingerprint` on: sends it (with its lane's other queued
    /// revocations when the provider takes batches) unless it is settled or someone else is
    /// sending it. A secret's [`MAX_ATTEMPTS`]th retryable failure is final.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn run(&self, fingerprint: &str, lease: Duration) -> Result<Step, Error> {
        let store = self.store;
        let Some(row) = store.revocation(fingerprint).await? else { return Ok(Step::Missing) };
        if !matches!(row.state, State::Queued | State::Sending) {
            return Ok(Step::Settled(row));
        }
        let Some(provider) = super::provider(&row.provider) else {
            let why = format!("unknown provider {}", row.provider);
            store
                .move_revocation(
                    fingerprint,
                    &[State::Queued, State::Sending],
                    State::FailedPermanent,
                    &why,
                )
                .await?;
            return self.settled(fingerprint).await;
        };
        // The destination as the configuration says now, for the push's origin (never
        // anything from a payload): an issuer that became unknown is not guessed.
        let origin: Origin = serde_json::from_str(&row.context).unwrap_or_default();
        let settings = self.config.settings_for(provider.name, &origin);
        let destination = match self.config.destination_for(provider, &origin) {
            Ok(destination) => destination,
            Err(why) => {
                if store
                    .move_revocation(fingerprint, &[State::Queued], State::Unsupported, &why)
                    .await?
                {
                    store.wipe_secret(fingerprint).await?;
                }
                return self.settled(fingerprint).await;
            }
        };
        if settings.policy == Policy::Off {
            let why = format!("[revoke.{}] policy is off", provider.name);
            if store.move_revocation(fingerprint, &[State::Queued], State::Off, &why).await? {
                store.wipe_secret(fingerprint).await?;
            }
            return self.settled(fingerprint).await;
        }
        let batch = row.lane.starts_with(GITHUB_BATCH_LANE);
        let limit = if batch { super::GITHUB_BATCH as i64 } else { 1 };
        let claimed =
            store.claim_revocations(&row.lane, fingerprint, limit, self.worker, lease).await?;
        if !claimed.iter().any(|(f, _)| f == fingerprint) {
            for (other, _) in &claimed {
                store.move_revocation(other, &[State::Sending], State::Queued, "queued").await?;
            }
            let now = store.revocation(fingerprint).await?;
            return Ok(match now {
                Some(r) if r.state != State::Sending && r.state != State::Queued => {
                    Step::Settled(r)
                }
                _ => Step::Later(
                    Duration::from_secs(2),
                    "another worker is sending this revocation".into(),
                ),
            });
        }
        let per_hour = settings.requests_per_hour.or(batch.then_some(60)).unwrap_or(0);
        if per_hour > 0 {
            let interval = Duration::from_secs_f64(3600.0 / f64::from(per_hour));
            if let Some(wait) = store.pace(&row.lane, interval).await? {
                for (f, _) in &claimed {
                    store.move_revocation(f, &[State::Sending], State::Queued, "queued").await?;
                }
                return Ok(Step::Later(
                    wait.max(Duration::from_millis(200)),
                    format!("{} accepts {per_hour} requests per hour", provider.name),
                ));
            }
        }
        let calls: std::collections::HashMap<String, i64> = claimed.iter().cloned().collect();
        let mut ready: Vec<(String, zeroize::Zeroizing<Vec<u8>>)> = Vec::new();
        let mut ended: Vec<(String, super::Attempt)> = Vec::new();
        for (f, _) in claimed {
            match store.get_secret(self.key, &f).await {
                // The batch request carries text: material that is not text fails alone.
                Ok(secret) if batch && std::str::from_utf8(&secret).is_err() => {
                    let why = "the secret is not text";
                    ended.push((f, super::Attempt::without_answer(Outcome::FailedPermanent, why)));
                }
                Ok(secret) => ready.push((f, secret)),
                Err(e @ (Error::NotFound | Error::Decrypt { .. })) => {
                    let why = match e {
                        Error::NotFound => "the secret material is gone (expired)",
                        _ => "the secret material does not decrypt (the encryption key changed)",
                    };
                    ended.push((f, super::Attempt::without_answer(Outcome::FailedPermanent, why)));
                }
                Err(e) => return Err(e),
            }
        }
        let timeout = self.config.timeout();
        let dry_run = self.config.dry_run;
        if ready.is_empty() || dry_run {
            // Nothing to send.
        } else if batch {
            let texts: Vec<&str> = ready
                .iter()
                .filter_map(|(_, s)| std::str::from_utf8(s).ok().map(str::trim))
                .collect();
            let attempt =
                super::github_batch(&texts, destination.clone(), settings.clone(), timeout).await;
            ended.extend(ready.iter().map(|(f, _)| (f.clone(), attempt.clone())));
        } else {
            for (f, secret) in &ready {
                let attempt =
                    super::revoke(provider, secret, &settings, destination.clone(), timeout).await;
                ended.push((f.clone(), attempt));
            }
        }
        // Each secret's own count decides whether this was its last try.
        let last_try = |f: &str| calls.get(f).copied().unwrap_or(0) + 1 >= MAX_ATTEMPTS;
        let mut ends: Vec<RevocationEnd> =
            ended.iter().map(|(f, a)| end_of(f, a, last_try(f))).collect();
        if dry_run {
            ends.extend(ready.iter().map(|(f, _)| RevocationEnd {
                fingerprint: f.clone(),
                outcome: "dry_run".into(),
                state: State::DryRun,
                status: None,
                summary: "dry run: nothing sent".into(),
                wipe: false,
            }));
        }
        if let Some(after) = ended.iter().filter_map(|(_, a)| a.retry_after).max() {
            store.hold_lane(&row.lane, after).await?;
        }
        let lost = store.end_revocations(self.worker, provider.name, ends.len(), &ends).await?;
        for e in &ends {
            if let Some(metrics) = self.metrics {
                Metrics::count(&metrics.revocations, provider.name, &e.outcome);
                if e.state == State::Revoked {
                    if let Some(r) = store.revocation(&e.fingerprint).await? {
                        let ms = leakgate_store::now_ms() - r.created_at;
                        metrics.time_to_revoke.observe(ms.max(0) as f64 / 1000.0);
                    }
                }
            }
        }
        if let Some(first) = ends.first() {
            tracing::info!(
                provider = provider.name,
                lane = row.lane,
                outcome = first.outcome,
                status = first.status,
                secrets = ends.len(),
                lost_claims = lost.len(),
                "revocation attempt"
            );
        }
        match ended.into_iter().find(|(f, _)| f == fingerprint) {
            Some((_, a)) if a.outcome == Outcome::FailedRetryable && !last_try(fingerprint) => {
                Ok(match a.retry_after {
                    Some(after) => Step::Later(after, a.summary),
                    None => Step::Retry(a.summary),
                })
            }
            _ => self.settled(fingerprint).await,
        }
    }

    async fn settled(&self, fingerprint: &str) -> Result<Step, Error> {
        Ok(self.store.revocation(fingerprint).await?.map_or(Step::Missing, Step::Settled))
    }
}

/// How an attempt ends its revocation: a retryable failure goes back to the queue unless this
/// was the last try; the material is wiped on a final outcome, except after giving up on
/// retries (kept until it expires, so that `leakgate revoke --finding` can try again).
fn end_of(fingerprint: &str, attempt: &super::Attempt, last_try: bool) -> RevocationEnd {
    let state = match attempt.outcome {
        Outcome::FailedRetryable if !last_try => State::Queued,
        other => other.state(),
    };
    RevocationEnd {
        fingerprint: fingerprint.to_owned(),
        outcome: attempt.outcome.as_str().to_owned(),
        state,
        status: attempt.status.map(i64::from),
        summary: attempt.summary.clone(),
        wipe: state != State::Queued && state != State::FailedRetryable,
    }
}

#[cfg(test)]
mod tests {
    use leakgate_rules::{FingerprintKey, Secret};

    use super::*;
    use crate::revoke::ProviderConfig;

    fn finding(rule: &str, secret: &str, severity: Severity, checksum: bool) -> Finding {
        let secret = Secret::new(secret.as_bytes());
        Finding {
            rule_id: rule.into(),
            provider: "p".into(),
            severity,
            description: String::new(),
            path: "a/credentials".into(),
            line: 1,
            column: 1,
            commit: Some("c1".into()),
            redacted: secret.redacted(),
            fingerprint: FingerprintKey::new(b"k").fingerprint(&secret),
            checksum_valid: checksum,
            inline_allowed: false,
            revoke: Some("aws".into()),
            secret,
        }
    }

    #[test]
    fn only_confirmed_or_severe_findings_pass_the_gate() {
        assert!(!passes_gate(&finding("r", "s", Severity::Medium, false)));
        assert!(passes_gate(&finding("r", "s", Severity::High, false)));
        assert!(passes_gate(&finding("r", "s", Severity::Critical, false)));
        assert!(passes_gate(&finding("r", "s", Severity::Low, true)));
    }

    #[test]
    fn the_policy_and_the_gate_pick_the_first_state() {
        let mut config = RevokeConfig::default();
        let weak = finding("r", "s", Severity::Medium, false);
        let strong = finding("r", "s", Severity::High, false);
        assert_eq!(first_state(&config, "github", &strong).0, State::AwaitingApproval, "default");
        config
            .providers
            .insert("github".into(), ProviderConfig { policy: Policy::Auto, ..Default::default() });
        assert_eq!(first_state(&config, "github", &strong).0, State::Queued);
        assert_eq!(first_state(&config, "github", &weak).0, State::Review);
        config
            .providers
            .insert("github".into(), ProviderConfig { policy: Policy::Off, ..Default::default() });
        assert_eq!(first_state(&config, "github", &strong).0, State::Off);
    }

    #[test]
    fn aws_halves_found_together_revoke_as_a_pair_either_way() {
        let id = finding("aws-access-key-id", "AKIAIOSFODNN7EXAMPLE", Severity::Critical, false);
        let key = finding(
            "aws-secret-access-key",
            "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
            Severity::Critical,
            false,
        );
        let pair = b"AKIAIOSFODNN7EXAMPLE\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_vec();
        let both = [(&id, None), (&key, None)];
        assert_eq!(material(&id, &both), Some(pair.clone()));
        assert_eq!(material(&key, &both), Some(pair));
        let mut elsewhere = key.clone();
        elsewhere.path = "other/file".into();
        let apart = [(&id, None), (&elsewhere, None)];
        assert_eq!(material(&id, &apart), None, "an id alone is never material");
        assert_eq!(material(&elsewhere, &apart), None, "nor a secret alone");
        // Two pairs in one file: each key id goes with the secret nearest to it.
        let mut id2 = id.clone();
        id2.line = 10;
        id2.secret = Secret::new(b"AKIAI44QH8DHBEXAMPLE");
        let mut key2 = key.clone();
        key2.line = 11;
        key2.secret = Secret::new(b"je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY");
        let two = [(&key, None), (&id, None), (&key2, None), (&id2, None)];
        assert_eq!(
            material(&id2, &two),
            Some(b"AKIAI44QH8DHBEXAMPLE\nje7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY".to_vec())
        );
        assert_eq!(
            material(&id, &two),
            Some(b"AKIAIOSFODNN7EXAMPLE\nwJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_vec())
        );
        let gh = finding("github-pat-classic", "ghp_x", Severity::Critical, true);
        assert_eq!(material(&gh, &[(&gh, None)]), Some(b"ghp_x".to_vec()));
    }

    #[test]
    fn retryable_failures_requeue_until_the_last_try_and_final_ones_wipe() {
        let attempt = |outcome| super::super::Attempt::without_answer(outcome, "x");
        let requeued = end_of("f", &attempt(Outcome::FailedRetryable), false);
        assert_eq!((requeued.state.as_str(), requeued.wipe), ("queued", false));
        let gave_up = end_of("f", &attempt(Outcome::FailedRetryable), true);
        assert_eq!((gave_up.state.as_str(), gave_up.wipe), ("failed_retryable", false));
        for outcome in [
            Outcome::Revoked,
            Outcome::AlreadyInvalid,
            Outcome::FailedPermanent,
            Outcome::Unsupported,
        ] {
            let end = end_of("f", &attempt(outcome), false);
            assert_eq!((end.state.as_str(), end.wipe), (outcome.as_str(), true));
        }
    }
}
