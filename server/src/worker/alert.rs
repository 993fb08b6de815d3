//! An `alert` job: GitHub found a secret (on github.com no pre-receive hook runs) and sent a
//! `secret_scanning_alert` webhook. The job fetches the alert's secret, finds it with the
//! rules GitHub's `secret_type` maps to, records it as a finding and sends it through the
//! same validation and revocation queue as a pushed secret; once the key is revoked the
//! alert is resolved as `revoked` ([`resolve_settled`]) and the issue says so. Each step is
//! idempotent: a redelivery (or another action on the same alert) revokes nothing twice.

use std::sync::Arc;
use std::time::Duration;

use leakgate_rules::Finding;
use leakgate_store::{AlertRecord, NewScan, RevocationState};

use super::{issues, record_scan, repo_key, Context, JobError};
use crate::event::{Alert, Forge, Push};
use crate::forge::ForgeClient;
use crate::revoke;

/// GitHub's secret types and the leakgate rules that find the same keys. A type not listed
/// is matched against every rule.
const SECRET_TYPES: &[(&str, &[&str])] = &[
    ("github_personal_access_token", &["github-pat-classic", "github-fine-grained-pat"]),
    ("github_oauth_access_token", &["github-oauth-token"]),
    (
        "github_app_installation_access_token",
        &["github-installation-token", "github-installation-token-jwt"],
    ),
    ("github_refresh_token", &["github-refresh-token"]),
    ("gitlab_access_token", &["gitlab-pat-routable", "gitlab-pat-legacy"]),
    ("slack_api_token", &["slack-bot-token", "slack-user-token", "slack-rotating-token"]),
    ("slack_incoming_webhook_url", &["slack-webhook-url"]),
    ("npm_access_token", &["npm-access-token"]),
    ("stripe_api_key", &["stripe-secret-key-live", "stripe-restricted-key-live"]),
    ("openai_api_key", &["openai-project-key", "openai-legacy-key", "openai-service-account-key"]),
    ("anthropic_api_key", &["anthropic-api-key"]),
    ("digitalocean_personal_access_token", &["digitalocean-personal-access-token"]),
    ("doppler_personal_token", &["doppler-personal-token"]),
    ("doppler_service_token", &["doppler-service-token"]),
    ("pypi_api_token", &["pypi-upload-token"]),
    ("hf_user_access_token", &["huggingface-access-token"]),
];

/// The finding for an alert's secret: the first match of a rule its type maps to (of any
/// rule, for a type not mapped).
fn find(ctx: &Context, alert: &Alert, secret_type: &str, secret: &str) -> Option<Finding> {
    let mapped = SECRET_TYPES.iter().find(|(t, _)| *t == secret_type).map(|(_, rules)| *rules);
    let path = format!("secret scanning alert #{}", alert.number);
    let wanted = |id: &str| mapped.is_none_or(|rules| rules.contains(&id));
    // The most severe match; the first of equals.
    super::token_findings(&ctx.rules, &ctx.key, secret, &path, wanted)
        .into_iter()
        .reduce(|best, f| if f.severity > best.severity { f } else { best })
}

pub(super) async fn run(
    ctx: &Arc<Context>,
    worker: &str,
    alert: &Alert,
    lease: Duration,
) -> Result<(), JobError> {
    let Some(client) = ctx.forges.get(&Forge::Github) else {
        return Err(JobError::Retry("[github] has no App credentials to read alerts".into()));
    };
    let reported =
        client.secret_scanning_alert(alert.installation_id, &alert.repo, alert.number).await?;
    let number = i64::try_from(alert.number).unwrap_or(i64::MAX);
    let mut record = AlertRecord {
        repo: alert.repo.clone(),
        number,
        installation_id: alert.installation_id.and_then(|i| i64::try_from(i).ok()),
        fingerprint: None,
        secret_type: reported.secret_type.chars().take(100).collect(),
        state: "unsupported".into(),
        created_at: 0,
        resolved_at: None,
    };
    // Resolved on GitHub meanwhile (a person said false positive, used in tests, ...): their
    // decision stands until the alert is reopened.
    // Only a reopening opens again an alert leakgate resolved: a `validated` or
    // `publicly_leaked` job may have read the alert from GitHub just before the revocation's
    // job resolved it, and would otherwise record it open and resolve it a second time.
    if alert.action != "reopened"
        && ctx.store.alert(&alert.repo, number).await?.is_some_and(|a| a.state == "resolved")
    {
        tracing::info!(repo = alert.repo, alert = alert.number, "the alert is resolved already");
        return Ok(());
    }
    if reported.state == "resolved" {
        record.state = "resolved".into();
        ctx.store.record_alert(&record).await?;
        tracing::info!(repo = alert.repo, alert = alert.number, "the alert is resolved already");
        return Ok(());
    }
    let Some(finding) = find(ctx, alert, &reported.secret_type, reported.secret.expose()) else {
        tracing::warn!(
            repo = alert.repo,
            alert = alert.number,
            secret_type = record.secret_type,
            "the alert's secret matches no rule its type maps to: nothing to revoke"
        );
        ctx.store.record_alert(&record).await?;
        return Ok(());
    };
    drop(reported);
    let fingerprint = finding.fingerprint.as_str().to_owned();
    record.fingerprint = Some(fingerprint.clone());
    record.state = "open".into();
    ctx.store.record_alert(&record).await?;
    let scan = NewScan {
        repo: repo_key("github", &alert.repo),
        refs: format!("secret scanning alert #{}", alert.number),
        before: None,
        after: None,
        pusher: None,
        source: "github-alert".into(),
        job_key: Some(format!("alert:{}:{}", alert.repo, alert.number)),
    };
    let recorded = record_scan(ctx, scan, vec![finding], true).await?;
    let origin = revoke::run::Origin {
        forge: Some(Forge::Github),
        repo: alert.repo.clone(),
        installation_id: alert.installation_id,
        partner_type: None,
    };
    let queued = super::respond(ctx, &origin, &recorded).await?;
    let detail = serde_json::json!({
        "repo": alert.repo, "alert": alert.number, "action": alert.action,
        "fingerprint": fingerprint, "finding": recorded.ids.first(), "queued": queued,
    });
    ctx.store.audit("alert_received", "github", &detail.to_string()).await?;
    if ctx.config.issues.enabled {
        let push = Push {
            forge: Forge::Github,
            repo: alert.repo.clone(),
            project_id: None,
            private: alert.private,
            git_ref: format!("secret scanning alert #{}", alert.number),
            before: "0".repeat(40),
            after: "0".repeat(40),
            pusher: String::new(),
            installation_id: alert.installation_id,
            default_branch: None,
            received_at: None,
        };
        let target = issues::target(&ctx.config.issues, &push);
        if !matches!(target, issues::Target::None(_)) {
            let findings: Vec<&Finding> = recorded.findings.iter().collect();
            issues::report(ctx, client, worker, &push, &target, &fingerprint, &findings, lease)
                .await?;
        }
    }
    // A key revoked before (found in a push, or a redelivered alert) resolves the alert now.
    resolve_settled(ctx, client, &fingerprint).await
}

/// Resolves the open alerts about `fingerprint` once its key no longer works (revoked, or
/// dead already).
pub(super) async fn resolve_settled(
    ctx: &Context,
    client: &ForgeClient,
    fingerprint: &str,
) -> Result<(), JobError> {
    let comment = match ctx.store.revocation(fingerprint).await?.map(|r| r.state) {
        Some(RevocationState::Revoked) => {
            "leakgate revoked this credential through its provider's API"
        }
        Some(RevocationState::AlreadyInvalid) => {
            "the provider refuses this credential: it no longer works (checked by leakgate)"
        }
        _ => return Ok(()),
    };
    // One alert that cannot be resolved (the App lost the permission, the repository is
    // gone) neither stops the others nor undoes the revocation's job: it stays open, and
    // says why in the log and the audit trail.
    for a in ctx.store.open_alerts(fingerprint).await? {
        let number = u64::try_from(a.number).unwrap_or_default();
        let installation = a.installation_id.and_then(|i| u64::try_from(i).ok());
        // Claimed first, so that two jobs settling the same key (a revocation and an alert's
        // own job) resolve it on GitHub once; given back if GitHub refuses.
        if !ctx.store.alert_resolved(&a.repo, a.number).await? {
            continue;
        }
        match client.resolve_secret_alert(installation, &a.repo, number, comment).await {
            Ok(()) => {
                tracing::info!(repo = a.repo, alert = a.number, "alert resolved as revoked");
            }
            Err(e) => {
                ctx.store.alert_reopened(&a.repo, a.number).await?;
                tracing::warn!(repo = a.repo, alert = a.number, "resolving the alert failed: {e}");
                let detail = serde_json::json!({
                    "repo": a.repo, "alert": a.number, "error": e.to_string(),
                });
                ctx.store.audit("alert_resolve_failed", "service", &detail.to_string()).await?;
            }
        }
    }
    Ok(())
}

/// After a revocation or validation settled a key: resolves its open alerts, when GitHub is
/// configured.
pub(super) async fn after_settled(ctx: &Context, fingerprint: &str) -> Result<(), JobError> {
    match ctx.forges.get(&Forge::Github) {
        Some(client) => resolve_settled(ctx, client, fingerprint).await,
        None => Ok(()),
    }
}
