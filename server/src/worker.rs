//! Job workers: claim jobs with a lease, keep the lease alive while they run, and finish,
//! retry, postpone (rate limits) or release them (shutdown).
//!
//! A `push` job fetches `before..after` into the repository's mirror, scans the new commits,
//! records the scan, opens or updates one issue per leaked secret and sets the commit
//! status. Every step is idempotent, so a job that runs twice (its worker died after the
//! forge answered) changes nothing twice.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use leakgate_rules::{FingerprintKey, RuleSet};
use leakgate_store::{
    FindingRecord, IssueClaim, IssueLock, IssueRecord, Job, NewScan, Revocation, SecretKey, Store,
};
use serde::{Deserialize, Serialize};
use tokio::sync::{watch, Mutex, Notify};

use crate::config::Config;
use crate::event::{Forge, Push};
use crate::forge::{ForgeClient, ForgeError, StatusState};
use crate::metrics::Metrics;
use crate::mirror::{self, Credentials, MirrorError};
use crate::report;
use crate::revoke;

/// What every worker shares.
pub struct Context {
    /// The store.
    pub store: Store,
    /// The configuration.
    pub config: Arc<Config>,
    /// The rules.
    pub rules: Arc<RuleSet>,
    /// The fingerprint key.
    pub key: Arc<FingerprintKey>,
    /// Encrypts secret material while its revocation is pending.
    pub secret_key: Arc<SecretKey>,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Reporting clients per forge (absent: not configured).
    pub forges: HashMap<Forge, ForgeClient>,
    /// Where mirrors live.
    pub mirror_root: PathBuf,
    /// One fetch/scan per mirror at a time in this process.
    pub repo_locks: Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>,
    /// Woken when this process enqueues a job.
    pub wake: Arc<Notify>,
    /// This process's name in leases (host and pid).
    pub replica: String,
}

/// How a job attempt failed.
#[derive(Debug)]
pub enum JobError {
    /// Retry after the queue's backoff (counts an attempt).
    Retry(String),
    /// Wait this long first, without counting the attempt (rate limits, busy claims).
    Later(Duration, String),
}

impl From<ForgeError> for JobError {
    fn from(e: ForgeError) -> Self {
        match e {
            ForgeError::RateLimited { after, .. } => JobError::Later(after, e.to_string()),
            other => JobError::Retry(other.to_string()),
        }
    }
}

impl From<leakgate_store::Error> for JobError {
    fn from(e: leakgate_store::Error) -> Self {
        JobError::Retry(format!("store: {e}"))
    }
}

impl From<MirrorError> for JobError {
    fn from(e: MirrorError) -> Self {
        JobError::Retry(e.to_string())
    }
}

/// A scan the pre-receive hook could not finish within its budget (fail-open): the service
/// fetches the pushed commits from the git server and scans them.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Rescan {
    /// Repository name for records.
    pub repo: String,
    /// Where to fetch from (a path or URL the service can reach).
    pub url: String,
    /// The ref updates: `(ref, before, after)`.
    pub updates: Vec<(String, String, String)>,
    /// Who pushed.
    pub pusher: String,
}

/// Runs worker `index` until `stop` turns true; a job still running `grace` after that is
/// released for another replica.
pub async fn run(
    ctx: Arc<Context>,
    index: usize,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let worker = format!("{}/w{index}", ctx.replica);
    let lease = Duration::from_secs(ctx.config.server.lease_seconds.max(5));
    let poll = Duration::from_millis(ctx.config.server.poll_interval_ms.max(10));
    loop {
        if *stop.borrow() {
            return;
        }
        let jobs = match ctx.store.claim(&worker, 1, lease).await {
            Ok(jobs) => jobs,
            Err(e) => {
                tracing::warn!(worker, error = %e, "claiming jobs failed");
                tokio::select! { () = tokio::time::sleep(poll * 4) => {}, _ = stop.changed() => {} }
                continue;
            }
        };
        if jobs.is_empty() {
            tokio::select! {
                () = ctx.wake.notified() => {}
                () = tokio::time::sleep(poll) => {}
                _ = stop.changed() => {}
            }
            continue;
        }
        for job in jobs {
            run_one(&ctx, &worker, job, lease, stop.clone(), grace).await;
        }
    }
}

async fn run_one(
    ctx: &Arc<Context>,
    worker: &str,
    job: Job,
    lease: Duration,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
) {
    let started = Instant::now();
    let heartbeat = {
        let (store, worker, id) = (ctx.store.clone(), worker.to_owned(), job.id);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                if let Err(e) = store.heartbeat(id, &worker, lease).await {
                    tracing::warn!(job = id, error = %e, "lease heartbeat failed");
                }
                // Revocations this worker is sending stay its own while the call runs.
                if let Err(e) = store.renew_revocations(&worker, lease).await {
                    tracing::warn!(job = id, error = %e, "revocation claim heartbeat failed");
                }
            }
        })
    };
    let work = execute(ctx, worker, &job, lease);
    tokio::pin!(work);
    // Runs the job; after a stop, it gets `grace` to finish before its lease is handed back.
    let result = loop {
        tokio::select! {
            r = &mut work => break Some(r),
            changed = stop.changed(), if !*stop.borrow() => {
                if changed.is_err() { continue; }
            }
            () = tokio::time::sleep(grace), if *stop.borrow() => break None,
        }
    };
    heartbeat.abort();
    let kind = job.kind.as_str();
    let store = &ctx.store;
    let outcome = match result {
        None => {
            tracing::info!(job = job.id, "shutting down: releasing the job");
            store.release(job.id, worker).await.map(|()| "released")
        }
        Some(Ok(())) => store.complete(job.id, worker).await.map(|()| "done"),
        Some(Err(JobError::Later(delay, why))) => {
            tracing::warn!(job = job.id, delay_s = delay.as_secs(), "{why}");
            store.postpone(job.id, worker, delay, &why).await.map(|()| "postponed")
        }
        Some(Err(JobError::Retry(why))) => {
            tracing::warn!(job = job.id, attempt = job.attempts, "job failed: {why}");
            store.fail(job.id, worker, &why).await.map(|state| {
                if state == leakgate_store::JobState::Dead {
                    "dead"
                } else {
                    "retry"
                }
            })
        }
    };
    match outcome {
        Ok(outcome) => {
            Metrics::count(&ctx.metrics.job_runs, kind, outcome);
            tracing::info!(
                job = job.id,
                kind,
                outcome,
                ms = started.elapsed().as_millis() as u64,
                "job finished"
            );
        }
        Err(e) => {
            // The lease was lost (this worker was too slow): another worker owns the job now.
            Metrics::count(&ctx.metrics.job_runs, kind, "lease_lost");
            tracing::warn!(job = job.id, error = %e, "could not record the job's end");
        }
    }
}

async fn execute(
    ctx: &Arc<Context>,
    worker: &str,
    job: &Job,
    lease: Duration,
) -> Result<(), JobError> {
    match job.kind.as_str() {
        "push" => {
            let push: Push = serde_json::from_str(&job.payload)
                .map_err(|e| JobError::Retry(format!("unreadable push payload: {e}")))?;
            run_push(ctx, worker, &push, lease).await
        }
        revoke::run::JOB_KIND => {
            let payload: revoke::run::RevokeJob = serde_json::from_str(&job.payload)
                .map_err(|e| JobError::Retry(format!("unreadable revoke payload: {e}")))?;
            run_revoke(ctx, worker, &payload.fingerprint, lease).await
        }
        "rescan" => {
            let rescan: Rescan = serde_json::from_str(&job.payload)
                .map_err(|e| JobError::Retry(format!("unreadable rescan payload: {e}")))?;
            run_rescan(ctx, &rescan).await
        }
        other => Err(JobError::Retry(format!("unknown job kind {other:?}"))),
    }
}

/// The mirror of `forge`/`repo` and the lock that keeps its fetches, scans and ref updates
/// one at a time in this process.
async fn mirror_lock(ctx: &Context, forge: &str, repo: &str) -> (PathBuf, Arc<Mutex<()>>) {
    let path = mirror::mirror_path(&ctx.mirror_root, forge, repo);
    let lock = ctx.repo_locks.lock().await.entry(path.clone()).or_default().clone();
    (path, lock)
}

/// Fetches `wants` into the mirror for `key` and scans `before..after` there, one job per
/// mirror at a time in this process.
async fn fetch_and_scan(
    ctx: &Arc<Context>,
    forge: &str,
    repo: &str,
    url: String,
    credentials: Option<Credentials>,
    (git_ref, before, after): (&str, &str, &str),
) -> Result<mirror::Scanned, JobError> {
    let (path, lock) = mirror_lock(ctx, forge, repo).await;
    let _guard = lock.lock().await;
    let (rules, key, config) = (ctx.rules.clone(), ctx.key.clone(), ctx.config.clone());
    let (git_ref, before, after) = (git_ref.to_owned(), before.to_owned(), after.to_owned());
    let started = Instant::now();
    let scanned = tokio::task::spawn_blocking(move || {
        let mut wants = vec![after.as_str()];
        if !crate::event::is_zero(&before) {
            wants.push(before.as_str());
        }
        if let Err(e) = mirror::fetch(&path, &url, credentials.as_ref(), &wants, Some(&git_ref)) {
            // The ref may be gone (deleted since) and `before` too (a force push): fetch
            // `after` alone.
            tracing::debug!(
                "fetch with the ref's tip failed ({e}); fetching the pushed commit alone"
            );
            mirror::fetch(&path, &url, credentials.as_ref(), &wants[..1], None)?;
        }
        let deadline = Instant::now() + Duration::from_secs(config.scan.timeout_seconds.max(1));
        mirror::scan_push(
            &path,
            &before,
            &after,
            &rules,
            &key,
            config.scan.threads,
            config.scan.stream_above_bytes,
            Some(deadline),
        )
    })
    .await
    .map_err(|e| JobError::Retry(format!("scan task failed: {e}")))??;
    ctx.metrics.scan_seconds.observe(started.elapsed().as_secs_f64());
    Ok(scanned)
}

/// A finding as the store keeps it: redacted and fingerprinted, no secret.
pub fn finding_record(f: &leakgate_rules::Finding) -> FindingRecord {
    FindingRecord {
        rule_id: f.rule_id.clone(),
        provider: f.provider.clone(),
        severity: f.severity.to_string(),
        path: f.path.clone(),
        line: i64::try_from(f.line).unwrap_or(i64::MAX),
        commit_id: f.commit.clone(),
        redacted: f.redacted.clone(),
        fingerprint: f.fingerprint.as_str().to_owned(),
    }
}

/// Records a scan and its findings; returns the scan's id and the findings' ids.
async fn record_scan(
    store: &Store,
    scan: NewScan,
    findings: &[leakgate_rules::Finding],
) -> Result<(i64, Vec<i64>), leakgate_store::Error> {
    let id = store.start_scan(&scan).await?;
    let mut ids = Vec::with_capacity(findings.len());
    for f in findings {
        let finding = store.add_finding(id, &finding_record(f)).await?;
        ids.push(finding);
    }
    store.finish_scan(id, if findings.is_empty() { "clean" } else { "findings" }).await?;
    Ok((id, ids))
}

fn clone_url(ctx: &Context, push: &Push) -> String {
    let base = match push.forge {
        Forge::Github => ctx.config.github.clone_url.as_ref(),
        Forge::Gitlab => ctx.config.gitlab.clone_url.as_ref(),
        Forge::Gitea => ctx.config.gitea.clone_url.as_ref(),
    };
    match base {
        Some(base) => format!("{}/{}.git", base.trim_end_matches('/'), push.repo),
        None => push.clone_url.clone(),
    }
}

async fn run_push(
    ctx: &Arc<Context>,
    worker: &str,
    push: &Push,
    lease: Duration,
) -> Result<(), JobError> {
    let client = ctx.forges.get(&push.forge);
    let credentials = match client {
        Some(client) => client.git_credentials(push).await?,
        None => None,
    };
    let scanned = fetch_and_scan(
        ctx,
        push.forge.name(),
        &push.repo,
        clone_url(ctx, push),
        credentials,
        (&push.git_ref, &push.before, &push.after),
    )
    .await?;
    let scan = NewScan {
        repo: format!("{}:{}", push.forge.name(), push.repo),
        refs: push.git_ref.clone(),
        before: Some(push.before.clone()),
        after: Some(push.after.clone()),
        pusher: Some(push.pusher.clone()),
        source: "webhook".into(),
    };
    let (_, ids) = record_scan(&ctx.store, scan, &scanned.findings).await?;
    // Revocation first: the sooner the key is dead, the shorter the exposure.
    let origin = revoke::run::Origin {
        forge: Some(push.forge),
        repo: push.repo.clone(),
        installation_id: push.installation_id,
    };
    let with_ids: Vec<(&leakgate_rules::Finding, Option<i64>)> =
        scanned.findings.iter().zip(ids.iter().map(|id| Some(*id))).collect();
    let queued =
        revoke::run::plan(&ctx.store, &ctx.secret_key, &ctx.config.revoke, &origin, &with_ids)
            .await?;
    if queued > 0 {
        ctx.wake.notify_waiters();
    }
    let mut by_secret: BTreeMap<&str, Vec<&leakgate_rules::Finding>> = BTreeMap::new();
    for f in &scanned.findings {
        by_secret.entry(f.fingerprint.as_str()).or_default().push(f);
        ctx.metrics
            .findings
            .get_or_create(&crate::metrics::Severity { severity: f.severity.to_string() })
            .inc();
    }
    tracing::info!(
        repo = push.repo,
        git_ref = push.git_ref,
        commits = scanned.stats.commits,
        blobs = scanned.stats.blobs,
        secrets = by_secret.len(),
        "push scanned"
    );
    let Some(client) = client else {
        return mark_scanned(ctx, push.forge.name(), &push.repo, &push.git_ref, &push.after).await;
    };
    let mut first_issue = None;
    if ctx.config.issues.enabled {
        for (fingerprint, findings) in &by_secret {
            let url = report_issue(ctx, client, worker, push, fingerprint, findings, lease).await?;
            first_issue.get_or_insert(url);
        }
    }
    let (state, description) = if by_secret.is_empty() {
        (StatusState::Success, report::status_description(0, scanned.stats.new_commits.len()))
    } else {
        (
            StatusState::Failure,
            report::status_description(by_secret.len(), scanned.stats.new_commits.len()),
        )
    };
    let result = client.set_status(push, state, &description, first_issue.as_deref()).await;
    Metrics::count(&ctx.metrics.reports, "status", if result.is_ok() { "ok" } else { "error" });
    result?;
    mark_scanned(ctx, push.forge.name(), &push.repo, &push.git_ref, &push.after).await
}

/// Marks `after` scanned in the mirror, once everything about it is recorded and reported.
async fn mark_scanned(
    ctx: &Arc<Context>,
    forge: &str,
    repo: &str,
    git_ref: &str,
    after: &str,
) -> Result<(), JobError> {
    let (path, lock) = mirror_lock(ctx, forge, repo).await;
    let _guard = lock.lock().await;
    let (git_ref, after) = (git_ref.to_owned(), after.to_owned());
    tokio::task::spawn_blocking(move || mirror::mark_scanned(&path, &git_ref, &after))
        .await
        .map_err(|e| JobError::Retry(format!("mirror task failed: {e}")))??;
    Ok(())
}

/// Opens the issue for one leaked secret, or brings the open one up to date; returns its URL.
/// Writers of one issue take turns ([`Store::lock_issue`]), and each writes the revocation
/// state as it is at that moment.
async fn report_issue(
    ctx: &Arc<Context>,
    client: &ForgeClient,
    worker: &str,
    push: &Push,
    fingerprint: &str,
    findings: &[&leakgate_rules::Finding],
    lease: Duration,
) -> Result<String, JobError> {
    let key = format!("{}:{}", push.forge.name(), push.repo);
    let tracker = ctx.config.issues.repository.clone().unwrap_or_else(|| push.repo.clone());
    let marker = report::marker(fingerprint);
    let installation = push.installation_id;
    let count = |outcome: &str| Metrics::count(&ctx.metrics.reports, "issue", outcome);
    let body_now = || async {
        let revocation = ctx.store.revocation(fingerprint).await?;
        let body =
            report::issue_body(push, findings, &report::revocation_text(revocation.as_ref()));
        Ok::<_, leakgate_store::Error>(body)
    };
    let busy = || {
        JobError::Later(
            Duration::from_secs(2),
            "another worker is writing this secret's issue".into(),
        )
    };
    match ctx.store.claim_issue(&key, fingerprint, worker, lease).await? {
        IssueClaim::Open(_) => {
            let record = match ctx.store.lock_issue(&key, fingerprint, worker, lease).await? {
                IssueLock::Locked(record) => record,
                IssueLock::Busy | IssueLock::NotOpen => return Err(busy()),
            };
            let body = body_now().await?;
            let hash = report::body_hash(&body);
            if record.body_hash.as_deref() == Some(hash.as_str()) {
                ctx.store.unlock_issue(&key, fingerprint, worker).await?;
                return Ok(record.url);
            }
            if let Err(e) = client.edit_issue(installation, &tracker, record.number, &body).await {
                ctx.store.unlock_issue(&key, fingerprint, worker).await?;
                return Err(e.into());
            }
            let updated = IssueRecord {
                body_hash: Some(hash),
                body: Some(body),
                installation_id: installation.and_then(|i| i64::try_from(i).ok()),
                ..record.clone()
            };
            ctx.store.issue_opened(&key, fingerprint, &updated).await?;
            count("updated");
            Ok(record.url)
        }
        IssueClaim::Claimed { retry } => {
            let body = body_now().await?;
            // After an expired claim the issue may exist already: its opener died before
            // recording it. Find it by the marker in its title rather than open a second one.
            let existing = if retry {
                client.find_issue(installation, &tracker, &marker).await?
            } else {
                None
            };
            let issue = match existing {
                Some(issue) => {
                    client.edit_issue(installation, &tracker, issue.number, &body).await?;
                    count("recovered");
                    issue
                }
                None => {
                    let title = report::issue_title(findings[0]);
                    let issue = client.create_issue(installation, &tracker, &title, &body).await?;
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
            if let Some(now) = ctx.store.revocation(fingerprint).await? {
                update_issue(ctx, worker, &now, lease).await?;
            }
            Ok(issue.url)
        }
        IssueClaim::Busy => Err(JobError::Later(
            Duration::from_secs(5),
            "another worker is opening this secret's issue".into(),
        )),
    }
}

/// A `revoke` job: sends the revocation (or finds it settled) and writes the outcome into
/// the secret's issues.
async fn run_revoke(
    ctx: &Arc<Context>,
    worker: &str,
    fingerprint: &str,
    lease: Duration,
) -> Result<(), JobError> {
    let revoker = revoke::run::Revoker {
        store: &ctx.store,
        key: &ctx.secret_key,
        config: &ctx.config.revoke,
        metrics: Some(&ctx.metrics),
        worker,
    };
    match revoker.run(fingerprint, lease).await? {
        revoke::run::Step::Settled(row) => update_issue(ctx, worker, &row, lease).await,
        revoke::run::Step::Missing => Ok(()),
        revoke::run::Step::Later(delay, why) => Err(JobError::Later(delay, why)),
        revoke::run::Step::Retry(why) => Err(JobError::Retry(why)),
    }
}

/// Writes a revocation's state into every open issue of its secret (one per repository it
/// was pushed to); an issue not open yet gets the state from its opener.
async fn update_issue(
    ctx: &Arc<Context>,
    worker: &str,
    row: &Revocation,
    lease: Duration,
) -> Result<(), JobError> {
    if !ctx.config.issues.enabled {
        return Ok(());
    }
    let fingerprint = &row.fingerprint;
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
            IssueLock::Busy => {
                return Err(JobError::Later(
                    Duration::from_secs(2),
                    "another worker is writing this secret's issue".into(),
                ))
            }
        };
        // The state as it is now, under the lock: a later writer cannot be overtaken.
        let current = ctx.store.revocation(fingerprint).await?;
        let body = record
            .body
            .as_deref()
            .map(|old| report::with_revocation(old, &report::revocation_text(current.as_ref())));
        let Some(body) = body.filter(|b| Some(report::body_hash(b)) != record.body_hash) else {
            ctx.store.unlock_issue(&key, fingerprint, worker).await?;
            continue;
        };
        let tracker = ctx.config.issues.repository.clone().unwrap_or_else(|| repo.to_owned());
        let installation = record.installation_id.and_then(|i| u64::try_from(i).ok());
        if let Err(e) = client.edit_issue(installation, &tracker, record.number, &body).await {
            ctx.store.unlock_issue(&key, fingerprint, worker).await?;
            return Err(e.into());
        }
        Metrics::count(&ctx.metrics.reports, "issue", "revocation");
        let hash = report::body_hash(&body);
        let updated = IssueRecord { body_hash: Some(hash), body: Some(body), ..record };
        ctx.store.issue_opened(&key, fingerprint, &updated).await?;
    }
    Ok(())
}

async fn run_rescan(ctx: &Arc<Context>, rescan: &Rescan) -> Result<(), JobError> {
    for (git_ref, before, after) in &rescan.updates {
        if crate::event::is_zero(after) {
            continue;
        }
        let scanned = fetch_and_scan(
            ctx,
            "hook",
            &rescan.repo,
            rescan.url.clone(),
            None,
            (git_ref, before, after),
        )
        .await?;
        let scan = NewScan {
            repo: rescan.repo.clone(),
            refs: git_ref.clone(),
            before: Some(before.clone()),
            after: Some(after.clone()),
            pusher: Some(rescan.pusher.clone()),
            source: "rescan".into(),
        };
        let (id, _) = record_scan(&ctx.store, scan, &scanned.findings).await?;
        if !scanned.findings.is_empty() {
            let detail = serde_json::json!({
                "scan": id, "repo": rescan.repo, "ref": git_ref, "findings": scanned.findings.len(),
                "fingerprints": scanned.findings.iter().map(|f| f.fingerprint.as_str()).collect::<Vec<_>>(),
            });
            ctx.store.audit("rescan_findings", &rescan.pusher, &detail.to_string()).await?;
            tracing::warn!(
                repo = rescan.repo,
                git_ref,
                findings = scanned.findings.len(),
                "a fail-open push carried secrets"
            );
        }
        mark_scanned(ctx, "hook", &rescan.repo, git_ref, after).await?;
    }
    Ok(())
}
