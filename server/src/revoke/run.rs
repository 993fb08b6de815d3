//! Revocations in the service: deciding (policy, gate), keeping the secret encrypted while it
//! is pending, and sending it through the queue: claimed in lanes, paced, batched for GitHub,
//! every attempt recorded and audited, the material wiped on a final outcome.

use std::time::Duration;

use leakgate_rules::{Finding, Severity};
use leakgate_store::{Error, NewJob, NewRevocation, Revocation, SecretKey, Store};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{providers, Outcome, Policy, RevokeConfig};
use crate::event::Forge;
use crate::metrics::Metrics;

/// Job kind of a revocation.
pub const JOB_KIND: &str = "revoke";
/// Attempts of a revocation job before it gives up (backoff 2 s doubling: about 8 minutes).
pub const MAX_ATTEMPTS: i64 = 9;
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
}

/// A `revoke` job's payload.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RevokeJob {
    /// The secret's fingerprint.
    pub fingerprint: String,
}

/// The job that sends (or, once final, reports) the revocation of `fingerprint`; `manual`
/// jobs (an approval) get a key of their own so that an earlier job does not hide them.
pub fn job(fingerprint: &str, manual: bool) -> NewJob {
    let payload = serde_json::to_string(&RevokeJob { fingerprint: fingerprint.to_owned() })
        .unwrap_or_default();
    let mut job = NewJob::new(JOB_KIND, &payload);
    job.max_attempts = MAX_ATTEMPTS;
    if manual {
        let mut nonce = [0u8; 8];
        let _ = getrandom::fill(&mut nonce);
        job.key(&format!("revoke:{fingerprint}:manual:{}", hex::encode(nonce)))
    } else {
        job.key(&format!("revoke:{fingerprint}"))
    }
}

/// Whether a finding may be revoked without a person deciding: its format's checksum
/// confirmed it, or its rule is of severity `high` or above.
pub fn passes_gate(finding: &Finding) -> bool {
    finding.checksum_valid || finding.severity >= Severity::High
}

/// The state a new revocation starts in, and why.
fn first_state(config: &RevokeConfig, provider: &str, finding: &Finding) -> (&'static str, String) {
    match config.provider(provider).policy {
        Policy::Off => ("off", format!("[revoke.{provider}] policy is off")),
        Policy::Manual => ("awaiting_approval", "waiting for approval".into()),
        Policy::Auto if !passes_gate(finding) => {
            ("review", "no checksum confirmed it and the rule's severity is below high".into())
        }
        Policy::Auto => ("queued", "queued".into()),
    }
}

/// What the revocation of one secret needs: the secret, or for AWS the key id with its secret
/// when the scan found both in the same file of the same commit (`ID\nSECRET`).
fn material(finding: &Finding, all: &[(&Finding, Option<i64>)]) -> Vec<u8> {
    let secret = finding.secret.expose();
    if finding.rule_id == "aws-access-key-id" {
        let pair = all.iter().find(|(f, _)| {
            f.rule_id == "aws-secret-access-key"
                && f.path == finding.path
                && f.commit == finding.commit
        });
        if let Some((pair, _)) = pair {
            let mut out = secret.to_vec();
            out.push(b'\n');
            out.extend_from_slice(pair.secret.expose());
            return out;
        }
    }
    secret.to_vec()
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
        if super::provider(provider).is_none() {
            tracing::warn!(rule = finding.rule_id, provider, "the rule names an unknown provider");
            continue;
        }
        let (state, summary) = first_state(config, provider, finding);
        if state != "off" {
            let material = zeroize::Zeroizing::new(material(finding, findings));
            store.put_secret(key, fingerprint, &material).await?;
        }
        let batched = provider == "github" && !finding.secret.expose().starts_with(b"ghs_");
        let (row, fresh) = store
            .add_revocation(&NewRevocation {
                fingerprint: fingerprint.to_owned(),
                provider: provider.to_owned(),
                lane: if batched { GITHUB_BATCH_LANE.to_owned() } else { provider.to_owned() },
                rule_id: finding.rule_id.clone(),
                finding_id: *id,
                context: context.clone(),
                state: state.to_owned(),
                summary,
            })
            .await?;
        if fresh && row.state == "queued" {
            store.enqueue(&job(fingerprint, false)).await?;
            queued += 1;
        }
    }
    Ok(queued)
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
    /// sending it. `last_try`: a retryable failure is final this time.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn run(
        &self,
        fingerprint: &str,
        lease: Duration,
        last_try: bool,
    ) -> Result<Step, Error> {
        let store = self.store;
        let Some(row) = store.revocation(fingerprint).await? else { return Ok(Step::Missing) };
        if !matches!(row.state.as_str(), "queued" | "sending") {
            return Ok(Step::Settled(row));
        }
        let Some(provider) = super::provider(&row.provider) else {
            let why = format!("unknown provider {}", row.provider);
            store
                .move_revocation(fingerprint, &["queued", "sending"], "failed_permanent", &why)
                .await?;
            return self.settled(fingerprint).await;
        };
        let settings = self.config.provider(provider.name);
        if settings.policy == Policy::Off {
            let why = format!("[revoke.{}] policy is off", provider.name);
            store.move_revocation(fingerprint, &["queued"], "off", &why).await?;
            return self.settled(fingerprint).await;
        }
        let batch = row.lane == GITHUB_BATCH_LANE;
        let limit = if batch { providers::GITHUB_BATCH as i64 } else { 1 };
        let claimed =
            store.claim_revocations(&row.lane, fingerprint, limit, self.worker, lease).await?;
        if !claimed.iter().any(|f| f == fingerprint) {
            for other in &claimed {
                store.move_revocation(other, &["sending"], "queued", "queued").await?;
            }
            let now = store.revocation(fingerprint).await?;
            return Ok(match now {
                Some(r) if r.state != "sending" && r.state != "queued" => Step::Settled(r),
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
                for f in &claimed {
                    store.move_revocation(f, &["sending"], "queued", "queued").await?;
                }
                return Ok(Step::Later(
                    wait.max(Duration::from_millis(200)),
                    format!("{} accepts {per_hour} requests per hour", provider.name),
                ));
            }
        }
        let mut ready: Vec<(String, zeroize::Zeroizing<Vec<u8>>)> = Vec::new();
        for f in claimed {
            match store.get_secret(self.key, &f).await {
                Ok(secret) => ready.push((f, secret)),
                Err(e @ (Error::NotFound | Error::Decrypt { .. })) => {
                    let why = match e {
                        Error::NotFound => "the secret material is gone (expired)",
                        _ => "the secret material does not decrypt (the encryption key changed)",
                    };
                    let attempt = super::Attempt::without_answer(Outcome::FailedPermanent, why);
                    self.finish(&f, provider.name, &row.lane, &attempt, 1, last_try).await?;
                }
                Err(e) => return Err(e),
            }
        }
        if ready.is_empty() {
            return self.settled(fingerprint).await;
        }
        if self.config.dry_run {
            for (f, _) in &ready {
                self.record(f, provider.name, "dry_run", None, "dry run: nothing sent", 1).await?;
                store.end_revocation(f, self.worker, "dry_run", "dry run: nothing sent").await?;
            }
            return self.settled(fingerprint).await;
        }
        let timeout = self.config.timeout();
        let results: Vec<(String, super::Attempt)> = if batch {
            let texts: Vec<&str> = ready
                .iter()
                .filter_map(|(_, s)| std::str::from_utf8(s).ok().map(str::trim))
                .collect();
            let base = super::base_url(provider, &settings);
            let attempt = providers::github_batch(&texts, base, settings.clone(), timeout).await;
            ready.iter().map(|(f, _)| (f.clone(), attempt.clone())).collect()
        } else {
            let mut out = Vec::new();
            for (f, secret) in &ready {
                out.push((f.clone(), super::revoke(provider, secret, &settings, timeout).await));
            }
            out
        };
        let n = results.len();
        if let Some((_, first)) = results.first() {
            tracing::info!(
                provider = provider.name,
                lane = row.lane,
                outcome = first.outcome.as_str(),
                status = first.status,
                secrets = n,
                "revocation sent"
            );
        }
        let mut own = None;
        for (f, attempt) in &results {
            self.finish(f, provider.name, &row.lane, attempt, n, last_try).await?;
            if f == fingerprint {
                own = Some(attempt.clone());
            }
        }
        match own {
            Some(a) if a.outcome == Outcome::FailedRetryable && !last_try => {
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

    /// Records and audits one attempt, ends the claim, wipes the material when final.
    async fn finish(
        &self,
        fingerprint: &str,
        provider: &str,
        lane: &str,
        attempt: &super::Attempt,
        batch: usize,
        last_try: bool,
    ) -> Result<(), Error> {
        let outcome = attempt.outcome.as_str();
        self.record(fingerprint, provider, outcome, attempt.status, &attempt.summary, batch)
            .await?;
        let state = match attempt.outcome {
            Outcome::FailedRetryable if !last_try => "queued",
            other => other.as_str(),
        };
        if let (Outcome::FailedRetryable, Some(after)) = (attempt.outcome, attempt.retry_after) {
            self.store.hold_lane(lane, after).await?;
        }
        self.store.end_revocation(fingerprint, self.worker, state, &attempt.summary).await?;
        // Gave up after retries: the material stays (until it expires) for a manual retry.
        if state != "queued" && state != "failed_retryable" {
            self.store.wipe_secret(fingerprint).await?;
        }
        Ok(())
    }

    async fn record(
        &self,
        fingerprint: &str,
        provider: &str,
        outcome: &str,
        status: Option<u16>,
        summary: &str,
        batch: usize,
    ) -> Result<(), Error> {
        let status = status.map(i64::from);
        self.store.record_revocation(fingerprint, provider, outcome, status, summary).await?;
        let detail = json!({
            "fingerprint": fingerprint, "provider": provider, "outcome": outcome,
            "status": status, "summary": summary, "batch": batch,
        });
        self.store.audit("revocation_attempt", self.worker, &detail.to_string()).await?;
        if let Some(metrics) = self.metrics {
            Metrics::count(&metrics.revocations, provider, outcome);
        }
        tracing::debug!(
            fingerprint = &fingerprint[..fingerprint.len().min(16)],
            provider,
            outcome,
            status,
            batch,
            "revocation attempt"
        );
        Ok(())
    }
}
