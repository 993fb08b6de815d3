//! Job workers: claim jobs with a lease, keep the lease alive while they run, and finish,
//! retry, postpone (rate limits) or release them (shutdown).
//!
//! Every job has a time limit: its fetch and scan end by the scan deadline, every forge call
//! by its client's timeouts, and a job still running past [`job_limit`] is cancelled and
//! retried, so that no remote holds a worker (and its repository's lock) for ever.
//!
//! The jobs: `push` ([`push`]), `revoke` and `validate` (here), `rescan` ([`rescan`]),
//! `alert` ([`alert`]); issues are written by
//! [`issues`]. Every step is idempotent, so a job that runs twice (its worker died after the
//! forge answered, or its scan was cut short) changes nothing twice.

mod alert;
mod issues;
mod push;
mod rescan;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use leakgate_rules::{FingerprintKey, RuleSet};
use leakgate_store::{FindingRecord, Job, NewScan, SecretKey, Store};
use tokio::sync::{watch, Mutex, Notify};

use crate::config::Config;
use crate::event::Forge;
use crate::forge::{ForgeClient, ForgeError};
use crate::metrics::Metrics;
use crate::mirror::{self, MirrorError, Source};
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
        JobError::Retry(e.chain())
    }
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
    let cancel = Arc::new(AtomicBool::new(false));
    let work = execute(ctx, worker, &job, lease, &cancel);
    tokio::pin!(work);
    let limit = job_limit(&ctx.config);
    let over = tokio::time::sleep(limit);
    tokio::pin!(over);
    // Runs the job; after a stop, it gets `grace` to finish before its lease is handed back.
    let result = loop {
        tokio::select! {
            r = &mut work => break Some(r),
            changed = stop.changed(), if !*stop.borrow() => {
                if changed.is_err() { continue; }
            }
            () = tokio::time::sleep(grace), if *stop.borrow() => break None,
            () = &mut over => {
                break Some(Err(JobError::Retry(format!(
                    "cancelled: the job ran longer than its limit of {} s",
                    limit.as_secs()
                ))));
            }
        }
    };
    // A blocking fetch or scan still running sees this and ends.
    cancel.store(true, Ordering::Relaxed);
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

/// How long a job may run before it is cancelled: its fetch and scan limit, plus time for
/// the forge and database calls around them.
pub fn job_limit(config: &Config) -> Duration {
    config.scan.timeout() + Duration::from_secs(300)
}

/// A repository's name in the store: `forge:repo` (scans, issues, scanned tips).
fn repo_key(forge: &str, repo: &str) -> String {
    format!("{forge}:{repo}")
}

async fn execute(
    ctx: &Arc<Context>,
    worker: &str,
    job: &Job,
    lease: Duration,
    cancel: &Arc<AtomicBool>,
) -> Result<(), JobError> {
    match crate::job::Work::of(job, &ctx.secret_key).map_err(JobError::Retry)? {
        crate::job::Work::Push(push) => push::run(ctx, worker, job.id, &push, lease, cancel).await,
        crate::job::Work::Revoke(revoke) => {
            run_revoke(ctx, worker, &revoke.fingerprint, lease).await
        }
        crate::job::Work::Rescan(rescan) => rescan::run(ctx, job.id, &rescan, cancel).await,
        crate::job::Work::Validate(v) => run_validate(ctx, worker, &v, lease).await,
        crate::job::Work::Alert(a) => alert::run(ctx, worker, &a, lease).await,
        crate::job::Work::Notify(event) => fan_out(ctx, &event).await,
        crate::job::Work::Deliver(d) => deliver(ctx, &d).await,
    }
}

/// The mirror of `forge`/`repo` and the lock that keeps its fetches, scans and ref updates
/// one at a time in this process.
async fn mirror_lock(ctx: &Context, forge: &str, repo: &str) -> (PathBuf, Arc<Mutex<()>>) {
    let path = mirror::mirror_path(&ctx.mirror_root, forge, repo);
    let lock = ctx.repo_locks.lock().await.entry(path.clone()).or_default().clone();
    (path, lock)
}

/// Fetches `before` and `after` from `source` into the mirror of `forge`/`repo` and scans
/// `before..after` there, one job per mirror at a time in this process. Fetch and scan end
/// by one deadline (`[scan] timeout_seconds`) or when `cancel` is set; a scan cut short
/// returns what it found, with `stats.complete` false.
async fn fetch_and_scan(
    ctx: &Arc<Context>,
    (forge, repo): (&str, &str),
    source: Source,
    (git_ref, before, after): (&str, &str, &str),
    (default_branch, received_at): (Option<&str>, Option<i64>),
    cancel: &Arc<AtomicBool>,
) -> Result<mirror::Scanned, JobError> {
    // What any replica scanned of this repository (only a new ref needs it), before this
    // push was received, on other refs: a later push to the same branch, scanned first
    // (forges do not keep webhooks in order, and a job is retried), scanned only its own
    // range, and its tip reaches this push's commits (review of session 28: a key in a new
    // branch was never scanned, and got a success status). Without a time (older jobs),
    // every recorded tip of other refs and the mirror's own.
    //
    // An update of a ref the service had scanned before this push was received checks that
    // its `before` was scanned (a recorded tip reaches it): a push whose webhook was lost (or
    // arrived after the forge gave up retrying) moved the ref there unscanned, and
    // `before..after` alone would leave its commits unscanned under a success status. Then
    // the push is scanned from the recorded tips, every ref's, its own too. So is a ref
    // scanned for the first time in a repository the service had scanned before (its
    // creation's webhook may be the one lost); in a repository with nothing scanned, `before`
    // is trusted: history from before the service is the baseline, as on installation. The
    // hook's rescans trust `before`: the hook saw every push.
    let repo_id = repo_key(forge, repo);
    let (scanned, check_before) = if crate::event::is_zero(before) {
        (ctx.store.scanned_tips(&repo_id, received_at, git_ref).await?, false)
    } else {
        match received_at.filter(|_| forge != "hook") {
            Some(received) => match ctx.store.scanned_tip(&repo_id, git_ref).await? {
                Some((_, at)) if at < received => {
                    (ctx.store.scanned_tips(&repo_id, Some(received), "").await?, true)
                }
                Some(_) => (Vec::new(), false),
                // A ref the service never scanned, in a repository it had scanned before
                // this push was received: its `before` came from a push it did not see (a
                // branch created while its webhook was lost), checked as an update's is.
                // A repository with nothing scanned yet trusts `before` (installation).
                None => {
                    let tips = ctx.store.scanned_tips(&repo_id, Some(received), "").await?;
                    let check = !tips.is_empty();
                    (tips, check)
                }
            },
            None => (Vec::new(), false),
        }
    };
    let own_tips = received_at.is_none();
    // Waivers for some paths only are path conditions of the walk, as in the hook: else the
    // same blob at a path a waiver names and at one it does not was reported at the first
    // only, and waived there.
    let waivers = crate::hook::waiver_views(ctx.store.waivers_for(&repo_id).await?);
    let path_globs = leakgate_hooks::scoped_waiver_globs(&waivers);
    let (path, lock) = mirror_lock(ctx, forge, repo).await;
    let _guard = lock.lock().await;
    let (rules, key, config) = (ctx.rules.clone(), ctx.key.clone(), ctx.config.clone());
    let (git_ref, before, after) = (git_ref.to_owned(), before.to_owned(), after.to_owned());
    // The protected branch's commit whose `.leakgate.toml` applies: for a push to that
    // branch its `before`; for another branch, the commit the service itself recorded as
    // scanned on it before this push was received. Never the branch's tip as fetched now: the
    // same push may have moved it (`git push origin M:main S:topic`). Nothing known: none
    // (every rule applies).
    let protected = match default_branch.filter(|_| config.scan.project_config) {
        None => None,
        Some(branch) => {
            let name = format!("refs/heads/{branch}");
            if name == git_ref {
                (!crate::event::is_zero(&before)).then(|| (name, before.clone()))
            } else {
                let recorded = ctx.store.scanned_tip(&repo_id, &name).await?;
                recorded
                    .filter(|(_, at)| received_at.is_some_and(|received| *at < received))
                    .map(|(commit, _)| (name, commit))
            }
        }
    };
    // A push to the default branch itself: the `.leakgate.toml` it brings is checked (see
    // `pushed_project_problem`).
    let to_default = config.scan.project_config
        && default_branch.is_some_and(|branch| format!("refs/heads/{branch}") == git_ref);
    let cancel = cancel.clone();
    let started = Instant::now();
    let deadline = started + config.scan.timeout();
    let scanned = tokio::task::spawn_blocking(move || {
        let mut wants = vec![after.as_str()];
        if !crate::event::is_zero(&before) {
            wants.push(before.as_str());
        }
        // Other replicas' scanned tips come along (a tip force-pushed away makes this fetch
        // fail; the next one goes without them).
        wants.extend(scanned.iter().map(String::as_str));
        // The protected commit comes along (it is in the mirror already when this replica
        // scanned it).
        wants.extend(protected.as_ref().map(|(_, commit)| commit.as_str()));
        let fetched = mirror::fetch(&path, &source, &wants, &[&git_ref], deadline, &cancel);
        if let Err(e) = fetched {
            if cancel.load(Ordering::Relaxed) || Instant::now() >= deadline {
                return Err(e);
            }
            // The ref may be gone (deleted since) and `before` too (a force push): fetch
            // `after` alone.
            tracing::debug!(
                "fetch with the ref's tip failed ({e}); fetching the pushed commit alone"
            );
            mirror::fetch(&path, &source, &wants[..1], &[], deadline, &cancel)?;
        }
        let project_problem = to_default
            .then(|| pushed_project_problem(&path, &config, &rules, (&git_ref, &before, &after)))
            .flatten();
        let project = protected
            .as_ref()
            .and_then(|(name, commit)| project_rules(&path, &config, &rules, name, commit));
        let (project_set, allowed) = match project {
            Some((set, allowed)) => (Some(set), allowed),
            None => (None, Vec::new()),
        };
        let mut result = mirror::scan_push(
            &path,
            (&git_ref, &before, &after, &scanned, own_tips, check_before),
            project_set.as_ref().unwrap_or(&rules),
            &key,
            config.scan.threads,
            config.scan.stream_above_bytes,
            Some(deadline),
            &path_globs,
        );
        // Values the project's `[allow]` names are no findings, as in the hook.
        if let Ok(done) = &mut result {
            done.findings.retain(|f| !allowed.iter().any(|a| a == f.fingerprint.as_str()));
            done.project_problem = project_problem;
        }
        result
    })
    .await
    .map_err(|e| JobError::Retry(format!("scan task failed: {e}")))??;
    ctx.metrics.scan_seconds.observe(started.elapsed().as_secs_f64());
    Ok(scanned)
}

/// Why the `.leakgate.toml` a push to the default branch brings (at `after`) cannot be
/// applied, when it changed and cannot: once it is the default branch's, later pushes run
/// without the rules it adds. The hook rejects such a push; the service reports it. The text
/// is withheld (an error may quote the file).
fn pushed_project_problem(
    mirror: &std::path::Path,
    config: &crate::Config,
    rules: &RuleSet,
    (branch, before, after): (&str, &str, &str),
) -> Option<String> {
    let name = leakgate_rules::PROJECT_FILE;
    let mut withhold = leakgate_rules::Withhold::new(rules, []);
    let text = match leakgate_hooks::file_at_commit(mirror, after, name) {
        Ok(None) => return None,
        Ok(Some(text)) => text,
        Err(e) => return Some(withhold.name(&e)),
    };
    let old = if crate::event::is_zero(before) {
        None
    } else {
        leakgate_hooks::file_at_commit(mirror, before, name).ok().flatten()
    };
    if old.as_deref() == Some(text.as_str()) {
        return None;
    }
    let origin = format!("{branch}@{after}:{name}");
    let why = leakgate_hooks::check_project_file(&config.scan.rules, &text, &origin).err()?;
    withhold.learn(text.as_bytes());
    Some(why.lines().map(|l| withhold.name(l.trim())).collect::<Vec<_>>().join(" "))
}

/// The rules with the `.leakgate.toml` of `commit` (of the protected branch `protected`)
/// applied, and the fingerprints it allows. `None` (the configured rules apply, stricter) without a file or with one that
/// does not load, which is logged.
fn project_rules(
    mirror: &std::path::Path,
    config: &crate::Config,
    rules: &RuleSet,
    protected: &str,
    commit: &str,
) -> Option<(leakgate_rules::RuleSet, Vec<String>)> {
    let origin = format!("{protected}@{commit}:{}", leakgate_rules::PROJECT_FILE);
    // The error may quote the file: its keys stay out of the log.
    let mut withhold = leakgate_rules::Withhold::new(rules, []);
    let built = leakgate_hooks::file_at_commit(mirror, commit, leakgate_rules::PROJECT_FILE)
        .and_then(|text| {
            if let Some(text) = &text {
                withhold.learn(text.as_bytes());
            }
            let Some(text) = text else { return Ok(None) };
            let (builder, project) =
                leakgate_hooks::project_rules(&config.scan.rules, &text, &origin)?;
            Ok(Some((builder.build(), project.allow.fingerprints)))
        });
    match built {
        Ok(rules) => rules,
        Err(e) => {
            let e: Vec<String> = e.lines().map(|l| withhold.name(l)).collect();
            tracing::warn!(origin, "the project configuration is not applied: {}", e.join("\n"));
            None
        }
    }
}

/// The findings in a token reported on its own (an alert's secret, a token GitLab sends) by
/// the rules `wanted` accepts, in scan order: the value itself is scanned, without decoding.
pub(crate) fn token_findings(
    rules: &RuleSet,
    key: &FingerprintKey,
    token: &str,
    path: &str,
    wanted: impl Fn(&str) -> bool,
) -> Vec<leakgate_rules::Finding> {
    let options = leakgate_rules::ScanOptions { decode: false, ..Default::default() };
    let mut found = Vec::new();
    rules.scanner(options).scan_bytes(
        token.trim().as_bytes(),
        leakgate_rules::Source { path: None },
        |m| {
            if wanted(m.rule.id()) {
                found.push(leakgate_rules::Finding::new(m, path, None, key));
            }
        },
    );
    found
}

/// Records the findings of a report received on its own (no push to scan): one scan row
/// described by `scan`, its findings, status `findings` or `clean`. Returns the scan's id and
/// the findings' ids, in order.
///
/// # Errors
///
/// A database error.
pub(crate) async fn record_received(
    store: &Store,
    scan: &NewScan,
    findings: &[leakgate_rules::Finding],
) -> Result<(i64, Vec<i64>), leakgate_store::Error> {
    let id = store.start_scan(scan).await?;
    let mut ids = Vec::with_capacity(findings.len());
    for f in findings {
        ids.push(store.add_finding(id, &finding_record(f)).await?);
    }
    let status = if findings.is_empty() { "clean" } else { "findings" };
    store.finish_scan_omitting(id, status, 0).await?;
    Ok((id, ids))
}

/// The scan key of a received report (`kind:` and the SHA-256 of its raw body): a retried or
/// replayed request records into the same scan, not a second sighting of each key.
pub(crate) fn report_key(kind: &str, body: &[u8]) -> String {
    use sha2::Digest as _;
    format!("{kind}:{}", hex::encode(sha2::Sha256::digest(body)))
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

/// What [`record_scan`] kept.
struct Recorded {
    /// The findings kept (at most the per-push cap), most severe first.
    findings: Vec<leakgate_rules::Finding>,
    /// Their ids, in the same order.
    ids: Vec<i64>,
    /// The scan's id.
    scan: i64,
    /// Findings beyond the cap: counted, not stored.
    omitted: usize,
}

/// Records a scan and its findings under the job's key (a later attempt of the same job
/// writes into the same rows), keeping at most `[scan] max_findings_per_push` findings, the
/// most severe first.
async fn record_scan(
    ctx: &Context,
    scan: NewScan,
    mut findings: Vec<leakgate_rules::Finding>,
    complete: bool,
) -> Result<Recorded, leakgate_store::Error> {
    let cap = ctx.config.scan.max_findings_per_push.max(1);
    // Stable: within one severity, the scan's order (commit, path, line).
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let omitted = findings.len().saturating_sub(cap);
    findings.truncate(cap);
    let store = &ctx.store;
    let id = store.start_scan(&scan).await?;
    let mut ids = Vec::with_capacity(findings.len());
    for f in &findings {
        ids.push(store.add_finding(id, &finding_record(f)).await?);
    }
    let status = match (complete, findings.is_empty()) {
        (false, _) => "incomplete",
        (true, true) => "clean",
        (true, false) => "findings",
    };
    store.finish_scan_omitting(id, status, omitted as u64).await?;
    if omitted > 0 {
        tracing::warn!(
            repo = scan.repo,
            kept = findings.len(),
            omitted,
            "the push carried more findings than [scan] max_findings_per_push: the rest are counted only"
        );
    }
    Ok(Recorded { findings, ids, scan: id, omitted })
}

/// Where a secret was found, as notifications name it: `forge:owner/name`, or the hook's
/// repository path or the report's source.
fn place(origin: &revoke::run::Origin) -> String {
    match origin.forge {
        Some(forge) => repo_key(forge.name(), &origin.repo),
        None => origin.repo.clone(),
    }
}

/// Queues `event` for the notification targets (nothing without targets).
async fn notify(ctx: &Context, event: &crate::notify::Event) -> Result<(), leakgate_store::Error> {
    if ctx.config.notify.is_empty() {
        return Ok(());
    }
    ctx.store.enqueue(&crate::job::Work::Notify(event.clone()).job()).await?;
    ctx.wake.notify_waiters();
    Ok(())
}

/// A leak event for the finding `f` found at `repo`.
fn leak_event(repo: &str, f: &leakgate_rules::Finding, id: Option<i64>) -> crate::notify::Event {
    crate::notify::Event::Leak {
        repo: repo.to_owned(),
        rule_id: f.rule_id.clone(),
        severity: f.severity.to_string(),
        redacted: f.redacted.clone(),
        fingerprint: f.fingerprint.as_str().chars().take(16).collect(),
        path: f.path.clone(),
        commit: f.commit.clone(),
        finding_id: id,
    }
}

/// A `notify` job: one `deliver` job per target that takes the event.
async fn fan_out(ctx: &Context, event: &crate::notify::Event) -> Result<(), JobError> {
    for target in crate::notify::subscribers(&ctx.config.notify, event) {
        let work = crate::job::Work::Deliver(crate::job::Deliver {
            target: target.to_owned(),
            event: event.clone(),
        });
        ctx.store.enqueue(&work.job()).await?;
    }
    ctx.wake.notify_waiters();
    Ok(())
}

/// A `deliver` job: one notification to one target.
async fn deliver(ctx: &Context, d: &crate::job::Deliver) -> Result<(), JobError> {
    use crate::notify::Sent;
    match crate::notify::deliver(&ctx.config.notify, &d.target, &d.event).await {
        Sent::Done => {
            Metrics::count(&ctx.metrics.reports, "notification", "sent");
            Ok(())
        }
        Sent::Retry(why) => Err(JobError::Retry(why)),
        Sent::Later(after, why) => Err(JobError::Later(after, why)),
        Sent::Refused(why) => {
            Metrics::count(&ctx.metrics.reports, "notification", "refused");
            tracing::warn!(target = d.target, "notification refused: {why}");
            let detail =
                serde_json::json!({ "target": d.target, "event": d.event.name(), "error": why });
            ctx.store.audit("notification_refused", "service", &detail.to_string()).await?;
            Ok(())
        }
    }
}

/// Plans what the service does with the findings `recorded` (validation, revocation) for
/// secrets found at `origin`, and wakes the workers for what it queued.
async fn respond(
    ctx: &Context,
    origin: &revoke::run::Origin,
    recorded: &Recorded,
) -> Result<usize, leakgate_store::Error> {
    let with_ids: Vec<(&leakgate_rules::Finding, Option<i64>)> =
        recorded.findings.iter().zip(recorded.ids.iter().map(|id| Some(*id))).collect();
    let queued =
        revoke::run::respond(&ctx.store, &ctx.secret_key, &ctx.config, origin, &with_ids).await?;
    if queued > 0 {
        ctx.wake.notify_waiters();
    }
    // One leak notification per secret and place.
    let place = place(origin);
    let mut told = std::collections::HashSet::new();
    for (f, id) in &with_ids {
        if told.insert(f.fingerprint.as_str()) {
            notify(ctx, &leak_event(&place, f, *id)).await?;
        }
    }
    Ok(queued)
}

/// Takes the findings that a waiver in force covers out of `recorded` (they stay in the
/// store), counts the waivers' use and audits it; returns how many were taken out.
async fn drop_waived(
    ctx: &Context,
    repo: &str,
    recorded: &mut Recorded,
) -> Result<usize, leakgate_store::Error> {
    if recorded.findings.is_empty() {
        return Ok(0);
    }
    let waivers = crate::hook::waiver_views(ctx.store.waivers_for(repo).await?);
    let mut used = Vec::new();
    let mut waived = Vec::new();
    let mut kept = (Vec::new(), Vec::new());
    for (f, id) in
        std::mem::take(&mut recorded.findings).into_iter().zip(std::mem::take(&mut recorded.ids))
    {
        let fingerprint = f.fingerprint.as_str();
        match waivers.iter().find(|w| !w.expired && w.applies(fingerprint, &f.path)) {
            Some(w) => {
                used.push(w.id);
                waived.push(serde_json::json!({
                    "finding": id, "waiver": w.id, "fingerprint": fingerprint, "path": f.path,
                }));
            }
            None => {
                kept.0.push(f);
                kept.1.push(id);
            }
        }
    }
    (recorded.findings, recorded.ids) = kept;
    if !waived.is_empty() {
        used.sort_unstable();
        used.dedup();
        ctx.store.waivers_used(&used).await?;
        let detail = serde_json::json!({ "repo": repo, "scan": recorded.scan, "waived": waived });
        ctx.store.audit("waived", "service", &detail.to_string()).await?;
    }
    Ok(waived.len())
}

/// Marks `after` scanned (in the database, for every replica, and in this mirror), once
/// everything about it is recorded and reported.
async fn mark_scanned(
    ctx: &Arc<Context>,
    forge: &str,
    repo: &str,
    git_ref: &str,
    after: &str,
) -> Result<(), JobError> {
    ctx.store.set_scanned_tip(&repo_key(forge, repo), git_ref, after).await?;
    let (path, lock) = mirror_lock(ctx, forge, repo).await;
    let _guard = lock.lock().await;
    let (git_ref, after) = (git_ref.to_owned(), after.to_owned());
    tokio::task::spawn_blocking(move || mirror::mark_scanned(&path, &git_ref, &after))
        .await
        .map_err(|e| JobError::Retry(format!("mirror task failed: {e}")))??;
    Ok(())
}

/// A `validate` job: asks the secret's provider whether it is live, records the answer and
/// writes it into the secret's issues.
async fn run_validate(
    ctx: &Arc<Context>,
    worker: &str,
    job: &crate::job::Validate,
    lease: Duration,
) -> Result<(), JobError> {
    let validator = crate::validate::run::Validator {
        store: &ctx.store,
        key: &ctx.secret_key,
        config: &ctx.config.validate,
        revoke: &ctx.config.revoke,
        worker,
    };
    let (step, check) = validator.run(&job.fingerprint, job.round).await?;
    if let Some((check, provider)) = &check {
        Metrics::count(&ctx.metrics.validations, provider, check.validity.as_str());
        tracing::info!(
            validity = check.validity.as_str(),
            status = check.status,
            provider,
            "validation"
        );
        // A revocation the gate released.
        ctx.wake.notify_waiters();
    }
    match step {
        crate::validate::run::Step::Done(true) => {
            issues::update(ctx, worker, &job.fingerprint, lease).await?;
            alert::after_settled(ctx, &job.fingerprint).await
        }
        crate::validate::run::Step::Done(false) => Ok(()),
        crate::validate::run::Step::Later(delay, why) => Err(JobError::Later(delay, why)),
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
        revoke::run::Step::Settled(row) => {
            if row.is_final() || row.state == leakgate_store::RevocationState::AwaitingApproval {
                let origin: revoke::run::Origin =
                    serde_json::from_str(&row.context).unwrap_or_default();
                let event = crate::notify::Event::Revocation {
                    repo: place(&origin),
                    provider: row.provider.clone(),
                    state: row.state.as_str().to_owned(),
                    summary: row.summary.clone(),
                    fingerprint: row.fingerprint.chars().take(16).collect(),
                    finding_id: row.finding_id,
                };
                notify(ctx, &event).await?;
            }
            issues::update(ctx, worker, &row.fingerprint, lease).await?;
            alert::after_settled(ctx, &row.fingerprint).await
        }
        revoke::run::Step::Missing => Ok(()),
        revoke::run::Step::Later(delay, why) => Err(JobError::Later(delay, why)),
        revoke::run::Step::Retry(why) => Err(JobError::Retry(why)),
    }
}
