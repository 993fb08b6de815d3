//! A `push` job: fetch `before..after` from the configured forge into the repository's
//! mirror, scan the new commits, record the scan, plan revocations, open or update one issue
//! per leaked secret (where an issue is not public) and set the commit status.

use std::collections::BTreeMap;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use leakgate_rules::Finding;
use leakgate_store::NewScan;

use super::{fetch_and_scan, issues, mark_scanned, record_scan, repo_key, Context, JobError};
use crate::event::Push;
use crate::forge::{ForgeApi, StatusState};
use crate::metrics::Metrics;
use crate::mirror::{self, Source};
use crate::{report, revoke};

const PROJECT: &str = leakgate_rules::PROJECT_FILE;

pub(super) async fn run(
    ctx: &Arc<Context>,
    worker: &str,
    job: i64,
    push: &Push,
    lease: Duration,
    cancel: &Arc<AtomicBool>,
) -> Result<(), JobError> {
    let client = ctx.forges.get(&push.forge);
    let credentials = match client {
        Some(client) => client.git_credentials(push).await?,
        None => None,
    };
    // The host comes from the configuration, the path from the payload (checked to be a
    // repository path): a payload cannot send the fetch, or the token, anywhere else.
    let base = ctx.config.fetch_base(push.forge).map_err(JobError::Retry)?;
    let source = Source::Forge { url: mirror::repository_url(&base, &push.repo)?, credentials };
    let scanned = fetch_and_scan(
        ctx,
        (push.forge.name(), &push.repo),
        source,
        (&push.git_ref, &push.before, &push.after),
        (push.default_branch.as_deref(), push.received_at),
        cancel,
    )
    .await?;
    let complete = scanned.stats.complete;
    // Records, logs and issues show the ref without the key it may be named after; the forge's
    // own commit status API gets the push as it came.
    let shown = Push { git_ref: scanned.git_ref.clone(), ..push.clone() };
    let scan = NewScan {
        repo: repo_key(push.forge.name(), &push.repo),
        refs: shown.git_ref.clone(),
        before: Some(push.before.clone()),
        after: Some(push.after.clone()),
        pusher: Some(push.pusher.clone()),
        source: "webhook".into(),
        job_key: Some(format!("job:{job}")),
    };
    let mut recorded = record_scan(ctx, scan, scanned.findings, complete).await?;
    // Waived secrets stay recorded (the scan's history), and are neither revoked nor
    // reported: a reviewer let them stay until the waiver expires.
    let waived =
        super::drop_waived(ctx, &repo_key(push.forge.name(), &push.repo), &mut recorded).await?;
    if waived > 0 {
        tracing::info!(repo = push.repo, waived, "findings covered by waivers");
    }
    // Revocation first: the sooner the key is dead, the shorter the exposure.
    let origin = revoke::run::Origin {
        forge: Some(push.forge),
        repo: push.repo.clone(),
        installation_id: push.installation_id,
        partner_type: None,
    };
    super::respond(ctx, &origin, &recorded).await?;
    // Secrets in the order kept: most severe first.
    let mut order: Vec<&str> = Vec::new();
    let mut by_secret: BTreeMap<&str, Vec<&Finding>> = BTreeMap::new();
    for f in &recorded.findings {
        let fingerprint = f.fingerprint.as_str();
        if !by_secret.contains_key(fingerprint) {
            order.push(fingerprint);
        }
        by_secret.entry(fingerprint).or_default().push(f);
        ctx.metrics
            .findings
            .get_or_create(&crate::metrics::Severity { severity: f.severity.to_string() })
            .inc();
    }
    tracing::info!(
        repo = push.repo,
        git_ref = shown.git_ref,
        scan = recorded.scan,
        commits = scanned.stats.commits,
        blobs = scanned.stats.blobs,
        secrets = by_secret.len(),
        complete,
        "push scanned"
    );
    if scanned.stats.cut_short > 0 {
        // Scanning again would end the same way: reported, not retried.
        tracing::warn!(
            repo = push.repo,
            git_ref = shown.git_ref,
            blobs = scanned.stats.cut_short,
            "blobs not scanned in full: content that exhausted decoding, or archives past their budget or encrypted"
        );
    }
    let unfinished = || {
        JobError::Retry(format!(
            "the scan's time limit was reached with {} blobs unscanned; what it found is \
             recorded and reported, the next attempt scans the rest",
            scanned.stats.unscanned
        ))
    };
    let Some(client) = client else {
        if !complete {
            return Err(unfinished());
        }
        return mark_scanned(ctx, push.forge.name(), &push.repo, &shown.git_ref, &push.after).await;
    };
    let mut first_issue = None;
    let mut without_issue = 0;
    if ctx.config.issues.enabled {
        match issues::target(&ctx.config.issues, push) {
            issues::Target::None(why) => {
                if !order.is_empty() {
                    tracing::warn!(
                        repo = push.repo,
                        secrets = order.len(),
                        "no issue opened: {why}; the commit status reports the push"
                    );
                }
            }
            target => {
                let cap = ctx.config.issues.max_per_push.max(1);
                without_issue = order.len().saturating_sub(cap);
                for fingerprint in order.iter().take(cap) {
                    let findings = &by_secret[fingerprint];
                    let url = issues::report(
                        ctx,
                        client,
                        worker,
                        &shown,
                        &target,
                        fingerprint,
                        findings,
                        lease,
                    )
                    .await?;
                    first_issue.get_or_insert(url);
                }
                if without_issue > 0 {
                    tracing::warn!(
                        repo = push.repo,
                        without_issue,
                        "more secrets than [issues] max_per_push: the rest have no issue"
                    );
                }
            }
        }
    }
    let commits = scanned.stats.new_commits.len();
    let mut description = report::status_description(by_secret.len(), commits);
    let state = if !by_secret.is_empty() {
        StatusState::Failure
    } else if complete {
        StatusState::Success
    } else {
        description = "Scan incomplete (time limit): retrying".to_owned();
        StatusState::Pending
    };
    let mut state = state;
    if let Some(problem) = &scanned.project_problem {
        // Later pushes would run without the rules the file adds: the push fails its status,
        // and the audit trail names it.
        tracing::warn!(repo = push.repo, "the pushed {} cannot be applied: {problem}", PROJECT);
        let detail = serde_json::json!({
            "repo": repo_key(push.forge.name(), &push.repo), "ref": shown.git_ref,
            "commit": push.after, "problem": problem,
        });
        ctx.store.audit("project_config_unusable", &push.pusher, &detail.to_string()).await?;
        state = StatusState::Failure;
        description = format!("{PROJECT} cannot be applied: {problem}; {description}");
    }
    if recorded.omitted > 0 {
        description.push_str(&format!("; and {} more findings not recorded", recorded.omitted));
    }
    if without_issue > 0 {
        description.push_str(&format!("; {without_issue} secrets without an issue"));
    }
    let result =
        client.set_status(push, &scanned.commit, state, &description, first_issue.as_deref()).await;
    Metrics::count(&ctx.metrics.reports, "status", if result.is_ok() { "ok" } else { "error" });
    result?;
    if !complete {
        return Err(unfinished());
    }
    mark_scanned(ctx, push.forge.name(), &push.repo, &shown.git_ref, &push.after).await
}
