//! The job queue: enqueue (idempotently), claim with a lease, heartbeat, complete, fail with
//! backoff, dead letter.

use std::time::Duration;

use crate::{ms, now_ms, on_pool, Error, Store};

/// A job to enqueue.
#[derive(Clone, Debug)]
pub struct NewJob {
    /// What the job does (`scan`, `revoke`, ...).
    pub kind: String,
    /// Its input, as JSON text.
    pub payload: String,
    /// A job enqueued twice with the same key exists once.
    pub idempotency_key: Option<String>,
    /// Attempts before the job is dead.
    pub max_attempts: i64,
    /// Not before this delay.
    pub delay: Duration,
}

impl NewJob {
    /// A job of `kind` with `payload`, 5 attempts, runnable now.
    pub fn new(kind: &str, payload: &str) -> Self {
        NewJob {
            kind: kind.to_owned(),
            payload: payload.to_owned(),
            idempotency_key: None,
            max_attempts: 5,
            delay: Duration::ZERO,
        }
    }

    /// Sets the idempotency key.
    pub fn key(mut self, key: &str) -> Self {
        self.idempotency_key = Some(key.to_owned());
        self
    }
}

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobState {
    /// Waiting to be claimed.
    Queued,
    /// Claimed under a lease.
    Running,
    /// Finished.
    Done,
    /// Gave up after its maximum attempts; kept and listable.
    Dead,
}

impl JobState {
    fn parse(s: &str) -> Self {
        match s {
            "running" => JobState::Running,
            "done" => JobState::Done,
            "dead" => JobState::Dead,
            _ => JobState::Queued,
        }
    }
}

/// A job as stored.
#[derive(Clone, Debug)]
pub struct Job {
    /// Its id.
    pub id: i64,
    /// Its kind.
    pub kind: String,
    /// Its payload (JSON text).
    pub payload: String,
    /// Attempts so far, this one included when claimed.
    pub attempts: i64,
    /// Attempts allowed.
    pub max_attempts: i64,
    /// Where it is.
    pub state: JobState,
    /// The last failure's message.
    pub last_error: Option<String>,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    payload: String,
    attempts: i64,
    max_attempts: i64,
    state: String,
    last_error: Option<String>,
}

impl From<JobRow> for Job {
    fn from(r: JobRow) -> Self {
        Job {
            id: r.id,
            kind: r.kind,
            payload: r.payload,
            attempts: r.attempts,
            max_attempts: r.max_attempts,
            state: JobState::parse(&r.state),
            last_error: r.last_error,
        }
    }
}

/// The statement that inserts a job unless its idempotency key exists (`RETURNING id`: no
/// row for a duplicate). Shared by [`Store::enqueue`] and the delivery recorder's transaction.
pub(crate) const INSERT_JOB: &str = "INSERT INTO jobs (kind, payload, idempotency_key, state, attempts, \
    max_attempts, run_after, created_at, updated_at) VALUES ($1, $2, $3, 'queued', 0, $4, $5, $6, $7) \
    ON CONFLICT (idempotency_key) DO NOTHING RETURNING id";

/// Runs [`INSERT_JOB`] for `$job` at time `$now` on `$executor`; evaluates to the new id, or
/// `None` for a duplicate. A macro because the statement runs on either backend's executor.
macro_rules! insert_job {
    ($executor:expr, $job:expr, $now:expr, $sql:ident) => {
        sqlx::query_scalar::<_, i64>(&$sql(crate::jobs::INSERT_JOB))
            .bind(&$job.kind)
            .bind(&$job.payload)
            .bind(&$job.idempotency_key)
            .bind($job.max_attempts)
            .bind($now + crate::ms($job.delay))
            .bind($now)
            .bind($now)
            .fetch_optional($executor)
            .await?
    };
}
pub(crate) use insert_job;

/// `Ok` when a lease-checked update touched the job (`rows` = 1), else [`Error::LeaseLost`]:
/// the job is no longer this worker's.
fn held(rows: u64, id: i64) -> Result<(), Error> {
    if rows == 0 {
        Err(Error::LeaseLost(id))
    } else {
        Ok(())
    }
}

const COLUMNS: &str = "id, kind, payload, attempts, max_attempts, state, last_error";

/// Backoff before retry `attempt` (1-based): 2^attempt seconds, capped at 1 hour, with
/// ±25% jitter so that failures do not retry in lockstep.
pub(crate) fn backoff(attempt: i64) -> Duration {
    let base = 2u64.saturating_pow(u32::try_from(attempt.clamp(0, 12)).unwrap_or(12)).min(3600);
    let mut jitter = [0u8; 2];
    let _ = getrandom::fill(&mut jitter);
    let factor = 0.75 + f64::from(u16::from_le_bytes(jitter)) / f64::from(u16::MAX) * 0.5;
    Duration::from_secs_f64(base as f64 * factor)
}

impl Store {
    /// Enqueues a job; with an idempotency key already used, returns the existing job's id.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn enqueue(&self, job: &NewJob) -> Result<i64, Error> {
        let existing = "SELECT id FROM jobs WHERE idempotency_key = $1";
        let now = now_ms();
        let id: Option<i64> = on_pool!(self, |pool, sql| insert_job!(pool, job, now, sql));
        if let Some(id) = id {
            return Ok(id);
        }
        let id: i64 = on_pool!(self, |pool, sql| {
            sqlx::query_scalar(&sql(existing)).bind(&job.idempotency_key).fetch_one(pool).await?
        });
        Ok(id)
    }

    /// Claims up to `n` runnable jobs for `worker`: queued jobs due now, and running jobs whose
    /// lease expired (their worker died). Each claim counts as an attempt; a job out of
    /// attempts goes to the dead letter instead.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn claim(&self, worker: &str, n: i64, lease: Duration) -> Result<Vec<Job>, Error> {
        let now = now_ms();
        let bury = "UPDATE jobs SET state = 'dead', lease_owner = NULL, updated_at = $1, \
                    last_error = COALESCE(last_error, 'lease expired on the last attempt') \
                    WHERE state = 'running' AND lease_until < $2 AND attempts >= max_attempts";
        on_pool!(self, |pool, sql| {
            sqlx::query(&sql(bury)).bind(now).bind(now).execute(pool).await?;
        });
        let claim = format!(
            "UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, \
             attempts = attempts + 1, updated_at = $3 \
             WHERE id IN (SELECT id FROM jobs WHERE (state = 'queued' AND run_after <= $4) \
             OR (state = 'running' AND lease_until < $5) ORDER BY run_after, id LIMIT $6 \
             FOR UPDATE SKIP LOCKED) RETURNING {COLUMNS}"
        );
        let rows: Vec<JobRow> = on_pool!(self, |pool, sql| {
            sqlx::query_as(&sql(&claim))
                .bind(worker)
                .bind(now + ms(lease))
                .bind(now)
                .bind(now)
                .bind(now)
                .bind(n)
                .fetch_all(pool)
                .await?
        });
        Ok(rows.into_iter().map(Job::from).collect())
    }

    /// Extends the lease of a job `worker` holds.
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`] when the job is no longer this worker's.
    pub async fn heartbeat(&self, id: i64, worker: &str, lease: Duration) -> Result<(), Error> {
        let now = now_ms();
        let q = "UPDATE jobs SET lease_until = $1, updated_at = $2 \
                 WHERE id = $3 AND lease_owner = $4 AND state = 'running'";
        let done = on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(now + ms(lease))
                .bind(now)
                .bind(id)
                .bind(worker)
                .execute(pool)
                .await?
                .rows_affected()
        });
        held(done, id)
    }

    /// Marks a job done.
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`] when the job is no longer this worker's (another worker will or
    /// did run it: the caller's work must be idempotent).
    pub async fn complete(&self, id: i64, worker: &str) -> Result<(), Error> {
        let q = "UPDATE jobs SET state = 'done', lease_owner = NULL, lease_until = NULL, updated_at = $1 \
                 WHERE id = $2 AND lease_owner = $3 AND state = 'running'";
        let done = on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(now_ms())
                .bind(id)
                .bind(worker)
                .execute(pool)
                .await?
                .rows_affected()
        });
        held(done, id)
    }

    /// Records a failed attempt: the job runs again after a backoff, or goes to the dead
    /// letter when it is out of attempts.
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`] when the job is no longer this worker's.
    pub async fn fail(&self, id: i64, worker: &str, error: &str) -> Result<JobState, Error> {
        let job = self.job(id).await?;
        let now = now_ms();
        let (state, run_after) = if job.attempts >= job.max_attempts {
            ("dead", now)
        } else {
            ("queued", now + ms(backoff(job.attempts)))
        };
        let q = "UPDATE jobs SET state = $1, run_after = $2, last_error = $3, lease_owner = NULL, \
                 lease_until = NULL, updated_at = $4 WHERE id = $5 AND lease_owner = $6 AND state = 'running'";
        let done = on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(state)
                .bind(run_after)
                .bind(error)
                .bind(now)
                .bind(id)
                .bind(worker)
                .execute(pool)
                .await?
                .rows_affected()
        });
        held(done, id)?;
        Ok(JobState::parse(state))
    }

    /// Puts a job back to wait `delay` without counting the attempt (a rate limit: the job
    /// did nothing wrong). `error` is kept as its last error.
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`] when the job is no longer this worker's.
    pub async fn postpone(
        &self,
        id: i64,
        worker: &str,
        delay: Duration,
        error: &str,
    ) -> Result<(), Error> {
        self.unlease(id, worker, delay, Some(error)).await
    }

    /// Gives a claimed job back untouched, runnable now, its attempt not counted (a worker
    /// shutting down).
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`] when the job is no longer this worker's.
    pub async fn release(&self, id: i64, worker: &str) -> Result<(), Error> {
        self.unlease(id, worker, Duration::ZERO, None).await
    }

    async fn unlease(
        &self,
        id: i64,
        worker: &str,
        delay: Duration,
        error: Option<&str>,
    ) -> Result<(), Error> {
        let now = now_ms();
        let q = "UPDATE jobs SET state = 'queued', run_after = $1, attempts = attempts - 1, \
                 last_error = COALESCE($2, last_error), lease_owner = NULL, lease_until = NULL, updated_at = $3 \
                 WHERE id = $4 AND lease_owner = $5 AND state = 'running'";
        let done = on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(now + ms(delay))
                .bind(error)
                .bind(now)
                .bind(id)
                .bind(worker)
                .execute(pool)
                .await?
                .rows_affected()
        });
        held(done, id)
    }

    /// Makes a job runnable now: a backing-off job skips its wait, a dead job gets its
    /// attempts back (an operator's retry from the dead letter).
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] for an unknown or running job.
    pub async fn requeue(&self, id: i64) -> Result<(), Error> {
        let q = "UPDATE jobs SET state = 'queued', run_after = $1, updated_at = $2, \
                 attempts = CASE WHEN state = 'dead' THEN 0 ELSE attempts END \
                 WHERE id = $3 AND state IN ('queued', 'dead')";
        let now = now_ms();
        let n = on_pool!(self, |pool, sql| sqlx::query(&sql(q))
            .bind(now)
            .bind(now)
            .bind(id)
            .execute(pool)
            .await?
            .rows_affected());
        if n == 0 {
            return Err(Error::NotFound);
        }
        Ok(())
    }

    /// A job by id.
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`].
    pub async fn job(&self, id: i64) -> Result<Job, Error> {
        let q = format!("SELECT {COLUMNS} FROM jobs WHERE id = $1");
        let row: JobRow =
            on_pool!(self, |pool, sql| sqlx::query_as(&sql(&q)).bind(id).fetch_one(pool).await?);
        Ok(row.into())
    }

    /// Jobs that gave up (the dead letter), oldest first.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn dead_jobs(&self, limit: i64) -> Result<Vec<Job>, Error> {
        let q = format!("SELECT {COLUMNS} FROM jobs WHERE state = 'dead' ORDER BY id LIMIT $1");
        let rows: Vec<JobRow> = on_pool!(self, |pool, sql| sqlx::query_as(&sql(&q))
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(rows.into_iter().map(Job::from).collect())
    }

    /// Counts of jobs by state, for metrics: (queued, running, done, dead).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn job_counts(&self) -> Result<(i64, i64, i64, i64), Error> {
        let q = "SELECT state, COUNT(*) FROM jobs GROUP BY state";
        let rows: Vec<(String, i64)> =
            on_pool!(self, |pool, sql| sqlx::query_as(&sql(q)).fetch_all(pool).await?);
        let get = |s: &str| rows.iter().find(|(k, _)| k == s).map_or(0, |(_, n)| *n);
        Ok((get("queued"), get("running"), get("done"), get("dead")))
    }
}
