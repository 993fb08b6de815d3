//! Deliveries, scans, findings, bypasses, revocation attempts, issues and audit events.

use std::time::Duration;

use crate::jobs::NewJob;
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

impl Store {
    /// Records a delivery and, in the same transaction, its job: a delivery is never
    /// acknowledged without its job. Returns `None` when the delivery was seen before.
    ///
    /// # Errors
    ///
    /// A database error (nothing is stored then).
    pub async fn record_delivery(
        &self,
        delivery: &Delivery,
        job: Option<&NewJob>,
    ) -> Result<Option<Option<i64>>, Error> {
        let now = now_ms();
        let insert = "INSERT INTO deliveries (source, delivery_id, event, outcome, received_at) \
                      VALUES ($1, $2, $3, $4, $5) ON CONFLICT (source, delivery_id) DO NOTHING";
        let job_sql = "INSERT INTO jobs (kind, payload, idempotency_key, state, attempts, max_attempts, \
                       run_after, created_at, updated_at) VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $7) \
                       ON CONFLICT (idempotency_key) DO NOTHING RETURNING id";
        let result: Option<Option<i64>> = on_pool!(self, |pool, sql| {
            let mut tx = pool.begin().await?;
            let fresh = sqlx::query(&sql(insert))
                .bind(&delivery.source)
                .bind(&delivery.delivery_id)
                .bind(&delivery.event)
                .bind(&delivery.outcome)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected()
                == 1;
            if !fresh {
                tx.rollback().await?;
                None
            } else {
                let mut id = None;
                if let Some(job) = job {
                    id = sqlx::query_scalar(&sql(job_sql))
                        .bind(&job.kind)
                        .bind(&job.payload)
                        .bind(&job.idempotency_key)
                        .bind(job.max_attempts)
                        .bind(now + ms(job.delay))
                        .bind(now)
                        .bind(now)
                        .fetch_optional(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Some(id)
            }
        });
        Ok(result)
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
        let q = "INSERT INTO scans (repo, refs, before_id, after_id, pusher, source, status, started_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'running', $7) RETURNING id";
        Ok(on_pool!(self, |pool, sql| {
            sqlx::query_scalar(&sql(q))
                .bind(&scan.repo)
                .bind(&scan.refs)
                .bind(&scan.before)
                .bind(&scan.after)
                .bind(&scan.pusher)
                .bind(&scan.source)
                .bind(now_ms())
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
        let q = "UPDATE scans SET status = $1, finished_at = $2 WHERE id = $3";
        on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q)).bind(status).bind(now_ms()).bind(id).execute(pool).await?;
        });
        Ok(())
    }

    /// Records a finding of a scan.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn add_finding(&self, scan: i64, f: &FindingRecord) -> Result<(), Error> {
        let q = "INSERT INTO findings (scan_id, rule_id, provider, severity, path, line, commit_id, redacted, \
                 fingerprint, first_seen) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
        on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
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
                .execute(pool)
                .await?;
        });
        Ok(())
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

    /// Records an attempt to revoke the secret with `fingerprint`.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn record_revocation(
        &self,
        fingerprint: &str,
        provider: &str,
        outcome: &str,
        status: Option<i64>,
        summary: &str,
    ) -> Result<(), Error> {
        let q = "INSERT INTO revocation_attempts (fingerprint, provider, outcome, status_code, summary, at) \
                 VALUES ($1, $2, $3, $4, $5, $6)";
        on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(fingerprint)
                .bind(provider)
                .bind(outcome)
                .bind(status)
                .bind(summary)
                .bind(now_ms())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// Records the issue opened for a leaked secret in a repository; returns the URL of the
    /// issue already recorded for it, if any (issues are opened once).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn record_issue(
        &self,
        repo: &str,
        fingerprint: &str,
        url: &str,
    ) -> Result<String, Error> {
        let insert = "INSERT INTO issues_opened (repo, fingerprint, url, opened_at) VALUES ($1, $2, $3, $4) \
                      ON CONFLICT (repo, fingerprint) DO NOTHING";
        let select = "SELECT url FROM issues_opened WHERE repo = $1 AND fingerprint = $2";
        Ok(on_pool!(self, |pool, sql| {
            sqlx::query(&sql(insert))
                .bind(repo)
                .bind(fingerprint)
                .bind(url)
                .bind(now_ms())
                .execute(pool)
                .await?;
            sqlx::query_scalar(&sql(select)).bind(repo).bind(fingerprint).fetch_one(pool).await?
        }))
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
