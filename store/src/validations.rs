//! Live validation results: one row per secret (by keyed fingerprint), the state its
//! provider last reported, when it was checked and when it is checked again. The secret
//! itself is never here (its encrypted material is in `secret_material` while needed).

use crate::{now_ms, on_pool, Error, Store};

/// A validation to plan.
#[derive(Clone, Debug)]
pub struct NewValidation {
    /// The secret's keyed fingerprint.
    pub fingerprint: String,
    /// The validator's name.
    pub validator: String,
    /// The rule that found it.
    pub rule_id: String,
    /// The finding it was planned for.
    pub finding_id: Option<i64>,
    /// Where it was found (JSON, no secret).
    pub context: String,
}

/// A validation as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Validation {
    /// The secret's keyed fingerprint.
    pub fingerprint: String,
    /// The validator's name.
    pub validator: String,
    /// The rule that found it.
    pub rule_id: String,
    /// The finding it was planned for.
    pub finding_id: Option<i64>,
    /// Where it was found (JSON).
    pub context: String,
    /// `pending` until the first check, then the last validity.
    pub state: String,
    /// The last answer's HTTP status.
    pub status: Option<i64>,
    /// The last answer, summarised (no secret).
    pub summary: String,
    /// How many checks were made.
    pub checks: i64,
    /// When it was planned (ms since the epoch).
    pub created_at: i64,
    /// When it was last checked.
    pub checked_at: Option<i64>,
    /// When it is checked again; `None`: not again.
    pub next_check_at: Option<i64>,
}

const COLUMNS: &str = "fingerprint, validator, rule_id, finding_id, context, state, status, \
                       summary, checks, created_at, checked_at, next_check_at";

impl Store {
    /// Plans the validation of a secret unless it has one; `true` when this call created it.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn add_validation(&self, v: &NewValidation) -> Result<bool, Error> {
        let q = "INSERT INTO validations (fingerprint, validator, rule_id, finding_id, context, \
                 state, summary, created_at) VALUES ($1, $2, $3, $4, $5, 'pending', 'planned', $6) \
                 ON CONFLICT (fingerprint) DO NOTHING";
        let done = on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(&v.fingerprint)
                .bind(&v.validator)
                .bind(&v.rule_id)
                .bind(v.finding_id)
                .bind(&v.context)
                .bind(now_ms())
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(done == 1)
    }

    /// The validation of `fingerprint`.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn validation(&self, fingerprint: &str) -> Result<Option<Validation>, Error> {
        let q = format!("SELECT {COLUMNS} FROM validations WHERE fingerprint = $1");
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(&q))
            .bind(fingerprint)
            .fetch_optional(pool)
            .await?))
    }

    /// The most recent validations, newest check first.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn validations(&self, limit: i64) -> Result<Vec<Validation>, Error> {
        let q = format!(
            "SELECT {COLUMNS} FROM validations ORDER BY coalesce(checked_at, created_at) DESC \
             LIMIT $1"
        );
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(&q)).bind(limit).fetch_all(pool).await?))
    }

    /// Records a check's result (and when to check again), and audits it.
    ///
    /// # Errors
    ///
    /// A database error; [`Error::NotFound`] when the secret has no validation.
    pub async fn record_validation(
        &self,
        fingerprint: &str,
        state: &str,
        status: Option<i64>,
        summary: &str,
        next_check_at: Option<i64>,
        actor: &str,
    ) -> Result<(), Error> {
        let q =
            "UPDATE validations SET state = $1, status = $2, summary = $3, checks = checks + 1, \
                 checked_at = $4, next_check_at = $5 WHERE fingerprint = $6";
        let now = now_ms();
        let done = on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(state)
                .bind(status)
                .bind(summary)
                .bind(now)
                .bind(next_check_at)
                .bind(fingerprint)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if done == 0 {
            return Err(Error::NotFound);
        }
        let detail = serde_json::json!({
            "fingerprint": fingerprint, "state": state, "status": status, "summary": summary,
        });
        self.audit("validated", actor, &detail.to_string()).await
    }
}

/// A secret scanning alert leakgate responds to.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct AlertRecord {
    /// The repository (`owner/name`).
    pub repo: String,
    /// The alert's number.
    pub number: i64,
    /// The App installation that reported it.
    pub installation_id: Option<i64>,
    /// The secret's keyed fingerprint; `None` when it matched no rule.
    pub fingerprint: Option<String>,
    /// GitHub's `secret_type`.
    pub secret_type: String,
    /// `open`, `resolved` or `unsupported`.
    pub state: String,
    /// When leakgate first handled it (ms since the epoch).
    pub created_at: i64,
    /// When leakgate resolved it.
    pub resolved_at: Option<i64>,
}

const ALERT_COLUMNS: &str =
    "repo, number, installation_id, fingerprint, secret_type, state, created_at, resolved_at";

impl Store {
    /// Records an alert (or, for one known already, its secret and state: a reopened alert is
    /// open again).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn record_alert(&self, a: &AlertRecord) -> Result<(), Error> {
        let q = "INSERT INTO alerts (repo, number, installation_id, fingerprint, secret_type, state, \
                 created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (repo, number) DO UPDATE \
                 SET installation_id = excluded.installation_id, fingerprint = excluded.fingerprint, \
                 secret_type = excluded.secret_type, state = excluded.state, resolved_at = NULL";
        on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(&a.repo)
                .bind(a.number)
                .bind(a.installation_id)
                .bind(&a.fingerprint)
                .bind(&a.secret_type)
                .bind(&a.state)
                .bind(now_ms())
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    /// The open alerts about the secret `fingerprint`.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn open_alerts(&self, fingerprint: &str) -> Result<Vec<AlertRecord>, Error> {
        let q = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts WHERE fingerprint = $1 AND state = 'open' \
             ORDER BY repo, number"
        );
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(&q))
            .bind(fingerprint)
            .fetch_all(pool)
            .await?))
    }

    /// The alert `number` of `repo`.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn alert(&self, repo: &str, number: i64) -> Result<Option<AlertRecord>, Error> {
        let q = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE repo = $1 AND number = $2");
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(&q))
            .bind(repo)
            .bind(number)
            .fetch_optional(pool)
            .await?))
    }

    /// Puts an alert leakgate could not resolve on GitHub back to open (after
    /// [`Store::alert_resolved`] claimed it).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn alert_reopened(&self, repo: &str, number: i64) -> Result<(), Error> {
        let q = "UPDATE alerts SET state = 'open', resolved_at = NULL WHERE repo = $1 AND \
                 number = $2 AND state = 'resolved'";
        on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q)).bind(repo).bind(number).execute(pool).await?;
        });
        Ok(())
    }

    /// Marks an alert resolved by leakgate (audited); `false` when it was not open.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn alert_resolved(&self, repo: &str, number: i64) -> Result<bool, Error> {
        let q = "UPDATE alerts SET state = 'resolved', resolved_at = $1 WHERE repo = $2 AND \
                 number = $3 AND state = 'open'";
        let done = on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(now_ms())
                .bind(repo)
                .bind(number)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if done == 1 {
            let detail = serde_json::json!({ "repo": repo, "alert": number });
            self.audit("alert_resolved", "service", &detail.to_string()).await?;
        }
        Ok(done == 1)
    }
}

/// What the service's `/metrics` reads from the database on each scrape.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Gauges {
    /// Queued jobs per kind: (kind, how many, the oldest one's creation time in ms).
    pub queue: Vec<(String, i64, i64)>,
    /// Open live secrets: the last validation said `valid` and no revocation ended them.
    pub live_secrets: i64,
    /// The pre-receive hook's records per kind (`hook_bypass`, `hook_waived`, ...).
    pub hook_events: Vec<(String, i64)>,
    /// Pushes the hook rejected (recorded when the hook has a database).
    pub blocked_pushes: i64,
}

impl Store {
    /// The gauges `/metrics` shows.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn gauges(&self) -> Result<Gauges, Error> {
        let q =
            "SELECT kind, COUNT(*), MIN(created_at) FROM jobs WHERE state = 'queued' GROUP BY kind";
        let queue = on_pool!(self, |pool, sql| sqlx::query_as(&sql(q)).fetch_all(pool).await?);
        let q = "SELECT COUNT(*) FROM validations v WHERE v.state = 'valid' AND NOT EXISTS \
                 (SELECT 1 FROM revocations r WHERE r.fingerprint = v.fingerprint \
                 AND r.state IN ('revoked', 'already_invalid'))";
        let (live_secrets,): (i64,) =
            on_pool!(self, |pool, sql| sqlx::query_as(&sql(q)).fetch_one(pool).await?);
        let q = "SELECT kind, COUNT(*) FROM audit_events WHERE kind LIKE 'hook_%' GROUP BY kind";
        let hook_events =
            on_pool!(self, |pool, sql| sqlx::query_as(&sql(q)).fetch_all(pool).await?);
        let q = "SELECT COUNT(*) FROM scans WHERE source = 'hook' AND status = 'blocked'";
        let (blocked_pushes,): (i64,) =
            on_pool!(self, |pool, sql| sqlx::query_as(&sql(q)).fetch_one(pool).await?);
        Ok(Gauges { queue, live_secrets, hook_events, blocked_pushes })
    }
}
