//! Deliveries, scans, findings, bypasses, revocation attempts, issues and audit events.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use crate::jobs::{insert_job, NewJob};
use crate::{ms, now_ms, on_pool, Error, Store};

/// A webhook delivery.
#[derive(Clone, Debug)]
pub struct Delivery {
    /// `github`, `gitlab`, `gitea`.
    pub source: String,
    /// The forge's delivery id.
    pub delivery_id: String,
    /// The event name.
    pub event: String,
    /// What was done with it (`queued`, `ignored`, `malformed`).
    pub outcome: String,
}

/// A scan to record.
#[derive(Clone, Debug)]
pub struct NewScan {
    /// Repository.
    pub repo: String,
    /// Refs (space-separated).
    pub refs: String,
    /// Before id.
    pub before: Option<String>,
    /// After id.
    pub after: Option<String>,
    /// Pusher.
    pub pusher: Option<String>,
    /// `hook`, `webhook` or `cli`.
    pub source: String,
    /// The job (and part of it) this scan belongs to: every attempt of the job records
    /// into the same row. `None`: a scan of its own (the hook, the CLI).
    pub job_key: Option<String>,
}

/// A finding as stored: no plaintext.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct FindingRecord {
    /// Rule id.
    pub rule_id: String,
    /// Provider.
    pub provider: String,
    /// Severity.
    pub severity: String,
    /// Path.
    pub path: String,
    /// Line.
    pub line: i64,
    /// Commit.
    pub commit_id: Option<String>,
    /// Redacted form.
    pub redacted: String,
    /// Keyed fingerprint.
    pub fingerprint: String,
}

/// A bypass to record.
#[derive(Clone, Debug)]
pub struct Bypass {
    /// Repository.
    pub repo: String,
    /// Who.
    pub user: String,
    /// Reason.
    pub reason: String,
    /// Comment.
    pub comment: Option<String>,
    /// Refs (space-separated).
    pub refs: String,
    /// Commits (space-separated).
    pub commits: String,
    /// Fingerprints (space-separated).
    pub fingerprints: String,
}

/// An issue opened for a leaked secret.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IssueRecord {
    /// Its number on the forge.
    pub number: i64,
    /// Its web address.
    pub url: String,
    /// Hash of the body last written.
    pub body_hash: Option<String>,
    /// The body last written (redacted, like the issue).
    pub body: Option<String>,
    /// The GitHub App installation whose token writes it.
    pub installation_id: Option<i64>,
}

/// What [`Store::lock_issue`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssueLock {
    /// The caller holds the issue until [`Store::issue_opened`] or [`Store::unlock_issue`].
    Locked(IssueRecord),
    /// Another worker is writing it; try again shortly.
    Busy,
    /// No open issue (not opened yet, or being opened).
    NotOpen,
}

/// `issues_opened` as read: number, url, state, body hash, body, installation.
type IssueRow = (Option<i64>, String, String, Option<String>, Option<String>, Option<i64>);

const ISSUE_COLUMNS: &str = "number, url, state, body_hash, body, installation_id";

fn issue_record(row: IssueRow) -> Option<IssueRecord> {
    let (number, url, state, body_hash, body, installation_id) = row;
    (state == "open").then_some(IssueRecord {
        number: number?,
        url,
        body_hash,
        body,
        installation_id,
    })
}

/// What [`Store::claim_issue`] found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IssueClaim {
    /// The issue is open: edit it, do not open another.
    Open(IssueRecord),
    /// The caller may open it. With `retry`, an earlier claim expired: its holder may have
    /// opened the issue without recording it, so look for it on the forge first.
    Claimed {
        /// An earlier claim expired.
        retry: bool,
    },
    /// Another worker holds the claim; try again later.
    Busy,
}

/// An audit event.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AuditEvent {
    /// What happened.
    pub kind: String,
    /// Who did it.
    pub actor: String,
    /// Details (JSON text, no secrets).
    pub detail: String,
    /// When (ms since the epoch).
    pub at: i64,
}

/// Deliveries per multi-row statement (5 parameters each, 7 per job: far below SQLite's
/// and PostgreSQL's parameter limits).
const DELIVERY_CHUNK: usize = 256;

pub(crate) fn placeholders(
    rows: usize,
    per_row: usize,
    template: impl Fn(&[String]) -> String,
) -> String {
    let mut out = String::new();
    for row in 0..rows {
        if row > 0 {
            out.push_str(", ");
        }
        let params: Vec<String> =
            (1..=per_row).map(|i| format!("${}", row * per_row + i)).collect();
        out.push_str(&template(&params));
    }
    out
}

fn deliveries_insert(rows: usize) -> String {
    format!(
        "INSERT INTO deliveries (source, delivery_id, event, outcome, received_at) VALUES {} \
         ON CONFLICT (source, delivery_id) DO NOTHING RETURNING source, delivery_id",
        placeholders(rows, 5, |p| format!("({})", p.join(", ")))
    )
}

fn jobs_insert(rows: usize) -> String {
    format!(
        "INSERT INTO jobs (kind, payload, idempotency_key, state, attempts, max_attempts, run_after, \
         created_at, updated_at) VALUES {} ON CONFLICT (idempotency_key) DO NOTHING RETURNING id, idempotency_key",
        placeholders(rows, 7, |p| format!("({}, {}, {}, 'queued', 0, {}, {}, {}, {})", p[0], p[1], p[2], p[3], p[4], p[5], p[6]))
    )
}

impl Store {
    /// Records a delivery and, in the same transaction, its job: a delivery is never
    /// acknowledged without its job. Returns `None` when the delivery was seen before, else
    /// the job's id (`None` inside when there was no job or its idempotency key existed).
    ///
    /// # Errors
    ///
    /// A database error (nothing is stored then).
    pub async fn record_delivery(
        &self,
        delivery: &Delivery,
        job: Option<&NewJob>,
    ) -> Result<Option<Option<i64>>, Error> {
        let mut results = self.record_deliveries(&[(delivery.clone(), job.cloned())]).await?;
        Ok(results.pop().flatten())
    }

    /// Records several deliveries and their jobs in one transaction (group commit: the
    /// service batches deliveries that arrive together, so one commit serves them all). One
    /// result per delivery, as [`Store::record_delivery`] returns; a delivery repeated within
    /// the batch counts as seen before.
    ///
    /// # Errors
    ///
    /// A database error: nothing of the batch is stored then.
    pub async fn record_deliveries(
        &self,
        batch: &[(Delivery, Option<NewJob>)],
    ) -> Result<Vec<Option<Option<i64>>>, Error> {
        let now = now_ms();
        let results = on_pool!(self, |pool, sql| {
            let mut results: Vec<Option<Option<i64>>> = Vec::with_capacity(batch.len());
            let mut tx = pool.begin().await?;
            // Multi-row statements: two per chunk instead of two per delivery.
            for chunk in batch.chunks(DELIVERY_CHUNK) {
                let text = sql(&deliveries_insert(chunk.len()));
                let mut query = sqlx::query_as::<_, (String, String)>(&text);
                for (d, _) in chunk {
                    query = query
                        .bind(&d.source)
                        .bind(&d.delivery_id)
                        .bind(&d.event)
                        .bind(&d.outcome)
                        .bind(now);
                }
                let inserted: HashSet<(String, String)> =
                    query.fetch_all(&mut *tx).await?.into_iter().collect();
                // A delivery repeated inside the chunk: its first occurrence is the fresh one.
                let mut taken = HashSet::new();
                let fresh: Vec<bool> = chunk
                    .iter()
                    .map(|(d, _)| {
                        let key = (d.source.clone(), d.delivery_id.clone());
                        inserted.contains(&key) && taken.insert(key)
                    })
                    .collect();
                let jobs: Vec<&NewJob> = chunk
                    .iter()
                    .zip(&fresh)
                    .filter(|(_, f)| **f)
                    .filter_map(|((_, j), _)| j.as_ref())
                    .collect();
                let keyed = jobs.iter().all(|j| j.idempotency_key.is_some());
                let mut ids: HashMap<String, i64> = HashMap::new();
                if keyed && !jobs.is_empty() {
                    let text = sql(&jobs_insert(jobs.len()));
                    let mut query = sqlx::query_as::<_, (i64, String)>(&text);
                    for job in &jobs {
                        query = query
                            .bind(&job.kind)
                            .bind(&job.payload)
                            .bind(&job.idempotency_key)
                            .bind(job.max_attempts)
                            .bind(now + ms(job.delay))
                            .bind(now)
                            .bind(now);
                    }
                    ids = query
                        .fetch_all(&mut *tx)
                        .await?
                        .into_iter()
                        .map(|(id, key)| (key, id))
                        .collect();
                }
                for ((_, job), fresh) in chunk.iter().zip(fresh) {
                    if !fresh {
                        results.push(None);
                        continue;
                    }
                    let id = match job {
                        None => None,
                        // `remove`: a key repeated in the chunk was inserted once, for its first job.
                        Some(job) if keyed => {
                            job.idempotency_key.as_ref().and_then(|k| ids.remove(k))
                        }
                        Some(job) => insert_job!(&mut *tx, job, now, sql),
                    };
                    results.push(Some(id));
                }
            }
            tx.commit().await?;
            results
        });
        Ok(results)
    }

    /// Deletes deliveries older than `keep` (forges redeliver for days: keep at least 7).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn prune_deliveries(&self, keep: Duration) -> Result<u64, Error> {
        let keep = keep.max(Duration::from_secs(7 * 24 * 3600));
        let q = "DELETE FROM deliveries WHERE received_at < $1";
        let cutoff = now_ms() - ms(keep);
        Ok(on_pool!(self, |pool, sql| sqlx::query(&sql(q))
            .bind(cutoff)
            .execute(pool)
            .await?
            .rows_affected()))
    }

    /// Records a scan; returns its id.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn start_scan(&self, scan: &NewScan) -> Result<i64, Error> {
        // A job's later attempt takes over its row (`RETURNING` gives the existing id).
        let q = "INSERT INTO scans (repo, refs, before_id, after_id, pusher, source, status, started_at, job_key) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'running', $7, $8) \
                 ON CONFLICT (job_key) WHERE job_key IS NOT NULL \
                 DO UPDATE SET status = 'running', finished_at = NULL RETURNING id";
        Ok(on_pool!(self, |pool, sql| {
            sqlx::query_scalar(&sql(q))
                .bind(&scan.repo)
                .bind(&scan.refs)
                .bind(&scan.before)
                .bind(&scan.after)
                .bind(&scan.pusher)
                .bind(&scan.source)
                .bind(now_ms())
                .bind(&scan.job_key)
                .fetch_one(pool)
                .await?
        }))
    }

    /// Records a scan's end.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn finish_scan(&self, id: i64, status: &str) -> Result<(), Error> {
        self.finish_scan_omitting(id, status, 0).await
    }

    /// Records a scan's end, with how many findings were left out by the per-push cap.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn finish_scan_omitting(
        &self,
        id: i64,
        status: &str,
        omitted: u64,
    ) -> Result<(), Error> {
        let q = "UPDATE scans SET status = $1, finished_at = $2, omitted = $3 WHERE id = $4";
        let omitted = i64::try_from(omitted).unwrap_or(i64::MAX);
        on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(status)
                .bind(now_ms())
                .bind(omitted)
                .bind(id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// A scan's status and how many findings it left out: `(status, omitted)`.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn scan_status(&self, id: i64) -> Result<Option<(String, i64)>, Error> {
        let q = "SELECT status, omitted FROM scans WHERE id = $1";
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(q))
            .bind(id)
            .fetch_optional(pool)
            .await?))
    }

    /// Records a finding of a scan.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn add_finding(&self, scan: i64, f: &FindingRecord) -> Result<i64, Error> {
        // Idempotent: the same finding of the same scan (a job's later attempt) is one row.
        let q = "INSERT INTO findings (scan_id, rule_id, provider, severity, path, line, commit_id, redacted, \
                 fingerprint, first_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
                 ON CONFLICT DO NOTHING RETURNING id";
        let existing =
            "SELECT id FROM findings WHERE scan_id = $1 AND rule_id = $2 AND fingerprint = $3 \
                        AND path = $4 AND line = $5 AND COALESCE(commit_id, '') = COALESCE($6, '')";
        let id: Option<i64> = on_pool!(self, |pool, sql| {
            let inserted: Option<i64> = sqlx::query_scalar(&sql(q))
                .bind(scan)
                .bind(&f.rule_id)
                .bind(&f.provider)
                .bind(&f.severity)
                .bind(&f.path)
                .bind(f.line)
                .bind(&f.commit_id)
                .bind(&f.redacted)
                .bind(&f.fingerprint)
                .bind(now_ms())
                .fetch_optional(pool)
                .await?;
            match inserted {
                Some(id) => Some(id),
                None => {
                    sqlx::query_scalar(&sql(existing))
                        .bind(scan)
                        .bind(&f.rule_id)
                        .bind(&f.fingerprint)
                        .bind(&f.path)
                        .bind(f.line)
                        .bind(&f.commit_id)
                        .fetch_optional(pool)
                        .await?
                }
            }
        });
        id.ok_or(Error::NotFound)
    }

    /// Records that `git_ref` of `repo` was scanned up to `commit` (every replica sees it).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn set_scanned_tip(
        &self,
        repo: &str,
        git_ref: &str,
        commit: &str,
    ) -> Result<(), Error> {
        let q = "INSERT INTO scanned_tips (repo, git_ref, commit_id, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (repo, git_ref) DO UPDATE SET commit_id = excluded.commit_id, \
                 updated_at = excluded.updated_at";
        on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(repo)
                .bind(git_ref)
                .bind(commit)
                .bind(now_ms())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The commits `repo`'s refs were scanned up to, most recent first (at most 1,000); with
    /// `before` (ms since the epoch), only those recorded before then, and never the tip of
    /// `except`: what a new ref's push received then may count as scanned. A later push to
    /// the same ref, scanned first (forges do not keep webhooks in order; a job is retried),
    /// covered only its own range, and its tip reaches the new ref's commits.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn scanned_tips(
        &self,
        repo: &str,
        before: Option<i64>,
        except: &str,
    ) -> Result<Vec<String>, Error> {
        let q = "SELECT commit_id FROM scanned_tips WHERE repo = $1 AND updated_at < $2 \
                 AND git_ref <> $3 ORDER BY updated_at DESC LIMIT 1000";
        Ok(on_pool!(self, |pool, sql| sqlx::query_scalar(&sql(q))
            .bind(repo)
            .bind(before.unwrap_or(i64::MAX))
            .bind(except)
            .fetch_all(pool)
            .await?))
    }

    /// The commit `git_ref` of `repo` was last scanned up to, and when (ms since the epoch).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn scanned_tip(
        &self,
        repo: &str,
        git_ref: &str,
    ) -> Result<Option<(String, i64)>, Error> {
        let q = "SELECT commit_id, updated_at FROM scanned_tips WHERE repo = $1 AND git_ref = $2";
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(q))
            .bind(repo)
            .bind(git_ref)
            .fetch_optional(pool)
            .await?))
    }

    /// The finding with `id`.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn finding(&self, id: i64) -> Result<Option<FindingRecord>, Error> {
        let q = "SELECT rule_id, provider, severity, path, line, commit_id, redacted, fingerprint \
                 FROM findings WHERE id = $1";
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(q))
            .bind(id)
            .fetch_optional(pool)
            .await?))
    }

    /// The findings of a scan.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn findings(&self, scan: i64) -> Result<Vec<FindingRecord>, Error> {
        let q = "SELECT rule_id, provider, severity, path, line, commit_id, redacted, fingerprint \
                 FROM findings WHERE scan_id = $1 ORDER BY id";
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(q)).bind(scan).fetch_all(pool).await?))
    }

    /// Records a bypass.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn record_bypass(&self, b: &Bypass) -> Result<(), Error> {
        let q = "INSERT INTO bypasses (repo, user_name, reason, comment, refs, commits, fingerprints, at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
        on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(&b.repo)
                .bind(&b.user)
                .bind(&b.reason)
                .bind(&b.comment)
                .bind(&b.refs)
                .bind(&b.commits)
                .bind(&b.fingerprints)
                .bind(now_ms())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Takes the right to open the issue for the secret `fingerprint` in `repo` (a key such
    /// as `github:acme/app`), or says that it is open already. A claim lasts `lease`; the
    /// holder calls [`Store::issue_opened`] once the forge has answered.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn claim_issue(
        &self,
        repo: &str,
        fingerprint: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<IssueClaim, Error> {
        let now = now_ms();
        let until = now + ms(lease);
        let insert =
            "INSERT INTO issues_opened (repo, fingerprint, url, opened_at, state, claimed_by, \
                      claim_until) VALUES ($1, $2, '', $3, 'opening', $4, $5) \
                      ON CONFLICT (repo, fingerprint) DO NOTHING";
        let take = "UPDATE issues_opened SET claimed_by = $1, claim_until = $2 WHERE repo = $3 \
                    AND fingerprint = $4 AND state = 'opening' AND (claim_until < $5 OR claimed_by = $6)";
        let select = format!(
            "SELECT {ISSUE_COLUMNS} FROM issues_opened WHERE repo = $1 AND fingerprint = $2"
        );
        let claim = on_pool!(self, |pool, sql| {
            let fresh = sqlx::query(&sql(insert))
                .bind(repo)
                .bind(fingerprint)
                .bind(now)
                .bind(worker)
                .bind(until)
                .execute(pool)
                .await?
                .rows_affected()
                == 1;
            if fresh {
                IssueClaim::Claimed { retry: false }
            } else {
                let row: IssueRow = sqlx::query_as(&sql(&select))
                    .bind(repo)
                    .bind(fingerprint)
                    .fetch_one(pool)
                    .await?;
                match issue_record(row) {
                    Some(record) => IssueClaim::Open(record),
                    None => {
                        let taken = sqlx::query(&sql(take))
                            .bind(worker)
                            .bind(until)
                            .bind(repo)
                            .bind(fingerprint)
                            .bind(now)
                            .bind(worker)
                            .execute(pool)
                            .await?
                            .rows_affected()
                            == 1;
                        if taken {
                            IssueClaim::Claimed { retry: true }
                        } else {
                            IssueClaim::Busy
                        }
                    }
                }
            }
        });
        Ok(claim)
    }

    /// Records that the issue for `fingerprint` in `repo` is open as `number` at `url`, with
    /// a body whose hash is `body_hash`.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn issue_opened(
        &self,
        repo: &str,
        fingerprint: &str,
        issue: &IssueRecord,
    ) -> Result<(), Error> {
        let q = "UPDATE issues_opened SET state = 'open', number = $1, url = $2, body_hash = $3, \
                 body = $6, installation_id = $7, claimed_by = NULL, claim_until = NULL \
                 WHERE repo = $4 AND fingerprint = $5";
        on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(issue.number)
                .bind(&issue.url)
                .bind(&issue.body_hash)
                .bind(repo)
                .bind(fingerprint)
                .bind(&issue.body)
                .bind(issue.installation_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Takes the open issue for `fingerprint` in `repo` for an edit, so that writers on
    /// every replica take turns (each then writes from the latest body and state). The lock
    /// lasts `lease`; [`Store::issue_opened`] or [`Store::unlock_issue`] ends it.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn lock_issue(
        &self,
        repo: &str,
        fingerprint: &str,
        worker: &str,
        lease: Duration,
    ) -> Result<IssueLock, Error> {
        let now = now_ms();
        let take = format!(
            "UPDATE issues_opened SET claimed_by = $1, claim_until = $2 WHERE repo = $3 AND \
             fingerprint = $4 AND state = 'open' AND (claimed_by IS NULL OR claim_until < $5 \
             OR claimed_by = $1) RETURNING {ISSUE_COLUMNS}"
        );
        let row: Option<IssueRow> = on_pool!(self, |pool, sql| sqlx::query_as(&sql(&take))
            .bind(worker)
            .bind(now.saturating_add(ms(lease)))
            .bind(repo)
            .bind(fingerprint)
            .bind(now)
            .fetch_optional(pool)
            .await?);
        if let Some(record) = row.and_then(issue_record) {
            return Ok(IssueLock::Locked(record));
        }
        Ok(if self.issue(repo, fingerprint).await?.is_some() {
            IssueLock::Busy
        } else {
            IssueLock::NotOpen
        })
    }

    /// Ends `worker`'s edit lock without writing.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn unlock_issue(
        &self,
        repo: &str,
        fingerprint: &str,
        worker: &str,
    ) -> Result<(), Error> {
        let q = "UPDATE issues_opened SET claimed_by = NULL, claim_until = NULL WHERE repo = $1 \
                 AND fingerprint = $2 AND state = 'open' AND claimed_by = $3";
        on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q)).bind(repo).bind(fingerprint).bind(worker).execute(pool).await?;
        });
        Ok(())
    }

    /// The repositories (keys such as `github:acme/app`) with an open issue for `fingerprint`.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn issue_repos(&self, fingerprint: &str) -> Result<Vec<String>, Error> {
        let q = "SELECT repo FROM issues_opened WHERE fingerprint = $1 AND state = 'open' ORDER BY repo";
        let rows: Vec<(String,)> = on_pool!(self, |pool, sql| sqlx::query_as(&sql(q))
            .bind(fingerprint)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(|(r,)| r).collect())
    }

    /// The issue recorded for `fingerprint` in `repo`, once open.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn issue(&self, repo: &str, fingerprint: &str) -> Result<Option<IssueRecord>, Error> {
        let q = format!(
            "SELECT {ISSUE_COLUMNS} FROM issues_opened WHERE repo = $1 AND fingerprint = $2 \
             AND state = 'open'"
        );
        let row: Option<IssueRow> = on_pool!(self, |pool, sql| {
            sqlx::query_as(&sql(&q)).bind(repo).bind(fingerprint).fetch_optional(pool).await?
        });
        Ok(row.and_then(issue_record))
    }

    /// Appends an audit event.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn audit(&self, kind: &str, actor: &str, detail: &str) -> Result<(), Error> {
        let q = "INSERT INTO audit_events (kind, actor, detail, at) VALUES ($1, $2, $3, $4)";
        on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(kind)
                .bind(actor)
                .bind(detail)
                .bind(now_ms())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The latest audit events, newest first.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn audit_events(&self, limit: i64) -> Result<Vec<AuditEvent>, Error> {
        let q = "SELECT kind, actor, detail, at FROM audit_events ORDER BY id DESC LIMIT $1";
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(q)).bind(limit).fetch_all(pool).await?))
    }
}
