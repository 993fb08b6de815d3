//! One issue per leaked secret and repository: where it may be opened, opening it once
//! (claims), and bringing it up to date (the revocation row) under a lock.

use std::sync::Arc;
use std::time::Duration;

use leakgate_rules::Finding;
use leakgate_store::{IssueClaim, IssueLock, IssueRecord};

use super::{repo_key, Context, JobError};
use crate::config::IssuesConfig;
use crate::event::{Forge, Push};
use crate::forge::{ForgeApi, ForgeClient};
use crate::metrics::Metrics;
use crate::report;

/// Where a push's issues go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// An issue in this repository (the pushed one when it is private, or the configured
    /// tracking repository).
    Repository(String),
    /// A confidential issue in this GitLab project (only project members with Reporter
    /// access and above see it).
    Confidential(String),
    /// No issue: why.
    None(&'static str),
}

impl Target {
    fn repository(&self) -> Option<&str> {
        match self {
            Target::Repository(r) | Target::Confidential(r) => Some(r),
            Target::None(_) => None,
        }
    }
}

/// Where `push`'s issues go. An issue names the file and commit of a live secret, so in a
/// public repository (or one whose visibility the payload does not say) it is opened only in
/// the configured tracking repository, or as a confidential issue on GitLab; otherwise there
/// is none and the commit status reports the push.
pub fn target(config: &IssuesConfig, push: &Push) -> Target {
    if let Some(tracker) = &config.repository {
        return Target::Repository(tracker.clone());
    }
    match (push.private, push.forge) {
        (Some(true), _) => Target::Repository(push.repo.clone()),
        (_, Forge::Gitlab) => Target::Confidential(push.repo.clone()),
        (Some(false), _) => Target::None(
            "the repository is public and [issues] repository (a private tracking repository) \
             is not set",
        ),
        (None, _) => Target::None(
            "the payload does not say whether the repository is private, and [issues] \
             repository (a private tracking repository) is not set",
        ),
    }
}

/// The repository an open issue of `key` (`forge:repo`) lives in.
fn tracker(config: &IssuesConfig, repo: &str) -> String {
    config.repository.clone().unwrap_or_else(|| repo.to_owned())
}

/// Replaces the body of the open issue `record` of `key`/`fingerprint` (locked by `worker`)
/// with `body`, records it, and unlocks it; a failed edit unlocks and fails. Returns whether
/// the body changed (an unchanged body is not sent).
async fn write_locked(
    ctx: &Context,
    client: &ForgeClient,
    (key, fingerprint, worker): (&str, &str, &str),
    (tracker, record): (&str, &IssueRecord),
    body: String,
    installation: Option<u64>,
) -> Result<bool, JobError> {
    let hash = report::body_hash(&body);
    if record.body_hash.as_deref() == Some(hash.as_str()) {
        ctx.store.unlock_issue(key, fingerprint, worker).await?;
        return Ok(false);
    }
    if let Err(e) = client.edit_issue(installation, tracker, record.number, &body).await {
        ctx.store.unlock_issue(key, fingerprint, worker).await?;
        return Err(e.into());
    }
    let updated = IssueRecord {
        body_hash: Some(hash),
        body: Some(body),
        installation_id: installation.and_then(|i| i64::try_from(i).ok()),
        ..record.clone()
    };
    // Recording the issue releases the lock.
    ctx.store.issue_opened(key, fingerprint, &updated).await?;
    Ok(true)
}

fn busy(what: &str, secs: u64) -> JobError {
    JobError::Later(
        Duration::from_secs(secs),
        format!("another worker is {what} this secret's issue"),
    )
}

/// Opens the issue for one leaked secret, or brings the open one up to date; returns its URL.
/// Writers of one issue take turns ([`leakgate_store::Store::lock_issue`]), and each writes
/// the revocation state as it is at that moment.
#[allow(clippy::too_many_arguments)]
pub(super) async fn report(
    ctx: &Arc<Context>,
    client: &ForgeClient,
    worker: &str,
    push: &Push,
    target: &Target,
    fingerprint: &str,
    findings: &[&Finding],
    lease: Duration,
) -> Result<String, JobError> {
    let Some(tracker) = target.repository() else {
        return Err(JobError::Retry("no issue target".into()));
    };
    let key = repo_key(push.forge.name(), &push.repo);
    let marker = report::marker(fingerprint);
    let installation = push.installation_id;
    let count = |outcome: &str| Metrics::count(&ctx.metrics.reports, "issue", outcome);
    let body_now = || async {
        let status = status(ctx, fingerprint).await?;
        Ok::<_, leakgate_store::Error>(report::issue_body(push, findings, &status))
    };
    match ctx.store.claim_issue(&key, fingerprint, worker, lease).await? {
        IssueClaim::Open(_) => {
            let record = match ctx.store.lock_issue(&key, fingerprint, worker, lease).await? {
                IssueLock::Locked(record) => record,
                IssueLock::Busy | IssueLock::NotOpen => return Err(busy("writing", 2)),
            };
            let body = body_now().await?;
            let changed = write_locked(
                ctx,
                client,
                (&key, fingerprint, worker),
                (tracker, &record),
                body,
                installation,
            )
            .await?;
            if changed {
                count("updated");
            }
            Ok(record.url)
        }
        IssueClaim::Claimed { retry } => {
            let body = body_now().await?;
            // After an expired claim the issue may exist already: its opener died before
            // recording it. Find it by the marker in its title rather than open a second one.
            let existing =
                if retry { client.find_issue(installation, tracker, &marker).await? } else { None };
            let issue = match existing {
                Some(issue) => {
                    client.edit_issue(installation, tracker, issue.number, &body).await?;
                    count("recovered");
                    issue
                }
                None => {
                    let title = report::issue_title(findings[0]);
                    let confidential = matches!(target, Target::Confidential(_));
                    let issue = client
                        .create_issue(installation, tracker, &title, &body, confidential)
                        .await?;
                    count("opened");
                    issue
                }
            };
            let record = IssueRecord {
                number: issue.number,
                url: issue.url.clone(),
                body_hash: Some(report::body_hash(&body)),
                body: Some(body),
                installation_id: installation.and_then(|i| i64::try_from(i).ok()),
            };
            ctx.store.issue_opened(&key, fingerprint, &record).await?;
            // The revocation may have moved on while the issue was being opened (its job
            // found no open issue to write to): bring the row up to date.
            update(ctx, worker, fingerprint, lease).await?;
            Ok(issue.url)
        }
        IssueClaim::Busy => Err(busy("opening", 5)),
    }
}

/// The secret's validity and revocation as stored now.
async fn status(ctx: &Context, fingerprint: &str) -> Result<report::Status, leakgate_store::Error> {
    let validation = ctx.store.validation(fingerprint).await?;
    let revocation = ctx.store.revocation(fingerprint).await?;
    Ok(report::Status::of(validation.as_ref(), revocation.as_ref()))
}

/// Writes a secret's validity and revocation state into every open issue of it (one per
/// repository it was pushed to); an issue not open yet gets the state from its opener.
pub(super) async fn update(
    ctx: &Arc<Context>,
    worker: &str,
    fingerprint: &str,
    lease: Duration,
) -> Result<(), JobError> {
    if !ctx.config.issues.enabled {
        return Ok(());
    }
    for key in ctx.store.issue_repos(fingerprint).await? {
        let Some((forge, repo)) = key.split_once(':') else { continue };
        let Some(client) = [Forge::Github, Forge::Gitlab, Forge::Gitea]
            .into_iter()
            .find(|f| f.name() == forge)
            .and_then(|f| ctx.forges.get(&f))
        else {
            continue;
        };
        let record = match ctx.store.lock_issue(&key, fingerprint, worker, lease).await? {
            IssueLock::Locked(record) => record,
            IssueLock::NotOpen => continue,
            IssueLock::Busy => return Err(busy("writing", 2)),
        };
        // The state as it is now, under the lock: a later writer cannot be overtaken.
        let current = status(ctx, fingerprint).await?;
        let Some(body) = record.body.as_deref().map(|old| report::with_status(old, &current))
        else {
            ctx.store.unlock_issue(&key, fingerprint, worker).await?;
            continue;
        };
        let installation = record.installation_id.and_then(|i| u64::try_from(i).ok());
        let tracker = tracker(&ctx.config.issues, repo);
        let changed = write_locked(
            ctx,
            client,
            (&key, fingerprint, worker),
            (&tracker, &record),
            body,
            installation,
        )
        .await?;
        if changed {
            Metrics::count(&ctx.metrics.reports, "issue", "revocation");
        }
    }
    Ok(())
}
