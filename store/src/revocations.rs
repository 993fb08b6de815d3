//! Revocations: one row per leaked secret, moved through its states by the service's
//! workers (claimed with a lease, like jobs), and the pacing shared by every replica for
//! providers that limit how often they may be called.

use std::time::Duration;

use crate::{ms, now_ms, on_pool, Error, Store};

/// Where a revocation is. Stored as its snake_case name (the `state` column is text in both
/// dialects); Rust code uses the enum, never the text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RevocationState {
    /// Waiting for a person (`policy = manual`).
    AwaitingApproval,
    /// Waiting for a person: nothing confirmed the finding enough to send it unasked.
    Review,
    /// `policy = off`: never sent.
    Off,
    /// Waiting for its turn to be sent.
    Queued,
    /// Claimed by a worker that is sending it.
    Sending,
    /// `[revoke] dry_run`: decided, not sent.
    DryRun,
    /// The provider confirmed the revocation.
    Revoked,
    /// The provider says the key no longer works.
    AlreadyInvalid,
    /// Retried to the limit; a person may send it again.
    FailedRetryable,
    /// Refused in a way retrying will not change.
    FailedPermanent,
    /// Not possible here (no API, no known issuer, a key id alone): the summary says where.
    Unsupported,
}

/// Every state, for parsing and listing.
const ALL_STATES: [RevocationState; 11] = [
    RevocationState::AwaitingApproval,
    RevocationState::Review,
    RevocationState::Off,
    RevocationState::Queued,
    RevocationState::Sending,
    RevocationState::DryRun,
    RevocationState::Revoked,
    RevocationState::AlreadyInvalid,
    RevocationState::FailedRetryable,
    RevocationState::FailedPermanent,
    RevocationState::Unsupported,
];

impl RevocationState {
    /// The stored name.
    pub const fn as_str(self) -> &'static str {
        match self {
            RevocationState::AwaitingApproval => "awaiting_approval",
            RevocationState::Review => "review",
            RevocationState::Off => "off",
            RevocationState::Queued => "queued",
            RevocationState::Sending => "sending",
            RevocationState::DryRun => "dry_run",
            RevocationState::Revoked => "revoked",
            RevocationState::AlreadyInvalid => "already_invalid",
            RevocationState::FailedRetryable => "failed_retryable",
            RevocationState::FailedPermanent => "failed_permanent",
            RevocationState::Unsupported => "unsupported",
        }
    }

    /// The state called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        ALL_STATES.into_iter().find(|s| s.as_str() == name)
    }

    /// Whether the revocation is over: the key is dead, or it cannot be revoked here.
    pub const fn is_final(self) -> bool {
        matches!(
            self,
            RevocationState::Revoked
                | RevocationState::AlreadyInvalid
                | RevocationState::FailedPermanent
                | RevocationState::Unsupported
                | RevocationState::FailedRetryable
        )
    }

    /// Whether the key is known dead.
    pub const fn is_dead(self) -> bool {
        matches!(self, RevocationState::Revoked | RevocationState::AlreadyInvalid)
    }
}

impl std::fmt::Display for RevocationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for RevocationState {
    type Error = String;

    fn try_from(name: String) -> Result<Self, String> {
        RevocationState::parse(&name).ok_or_else(|| format!("unknown revocation state {name:?}"))
    }
}

/// A revocation to record.
#[derive(Clone, Debug)]
pub struct NewRevocation {
    /// The secret's keyed fingerprint.
    pub fingerprint: String,
    /// The provider (`github`, `aws`, ...).
    pub provider: String,
    /// What is sent together: the provider, or a batching lane such as `github-batch`.
    pub lane: String,
    /// The rule that found it.
    pub rule_id: String,
    /// The finding it came from, when recorded.
    pub finding_id: Option<i64>,
    /// Where it was reported (JSON text, no secret).
    pub context: String,
    /// The first state: queued, awaiting approval, review, off or unsupported.
    pub state: RevocationState,
    /// Why it is in that state.
    pub summary: String,
}

/// A revocation as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Revocation {
    /// The secret's keyed fingerprint.
    pub fingerprint: String,
    /// The provider.
    pub provider: String,
    /// Its lane.
    pub lane: String,
    /// The rule that found it.
    pub rule_id: String,
    /// The finding it came from.
    pub finding_id: Option<i64>,
    /// Where it was reported (JSON text).
    pub context: String,
    /// Where it is.
    #[sqlx(try_from = "String")]
    pub state: RevocationState,
    /// The last outcome's summary, or why it waits.
    pub summary: String,
    /// Provider calls made so far.
    pub attempts: i64,
    /// When it was recorded (ms since the epoch).
    pub created_at: i64,
    /// When it last changed.
    pub updated_at: i64,
}

impl Revocation {
    /// Whether it is over.
    pub fn is_final(&self) -> bool {
        self.state.is_final()
    }
}

const COLUMNS: &str = "fingerprint, provider, lane, rule_id, finding_id, context, state, summary, \
                       attempts, created_at, updated_at";

impl Store {
    /// Records a revocation unless the secret has one already; returns the stored row and
    /// whether it is new.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn add_revocation(&self, r: &NewRevocation) -> Result<(Revocation, bool), Error> {
        let insert = "INSERT INTO revocations (fingerprint, provider, lane, rule_id, finding_id, \
                      context, state, summary, created_at, updated_at) \
                      VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9) \
                      ON CONFLICT (fingerprint) DO NOTHING";
        let fresh = on_pool!(self, |pool, sql| sqlx::query(&sql(insert))
            .bind(&r.fingerprint)
            .bind(&r.provider)
            .bind(&r.lane)
            .bind(&r.rule_id)
            .bind(r.finding_id)
            .bind(&r.context)
            .bind(r.state.as_str())
            .bind(&r.summary)
            .bind(now_ms())
            .execute(pool)
            .await?
            .rows_affected())
            == 1;
        let row = self.revocation(&r.fingerprint).await?.ok_or(Error::NotFound)?;
        Ok((row, fresh))
    }

    /// The revocation of the secret `fingerprint`.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn revocation(&self, fingerprint: &str) -> Result<Option<Revocation>, Error> {
        let q = format!("SELECT {COLUMNS} FROM revocations WHERE fingerprint = $1");
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(&q))
            .bind(fingerprint)
            .fetch_optional(pool)
            .await?))
    }

    /// Revocations, newest first, optionally in one state.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn revocations(
        &self,
        state: Option<RevocationState>,
        limit: i64,
    ) -> Result<Vec<Revocation>, Error> {
        let q = format!(
            "SELECT {COLUMNS} FROM revocations WHERE ($1 = '' OR state = $1) \
             ORDER BY created_at DESC LIMIT $2"
        );
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(&q))
            .bind(state.map_or("", RevocationState::as_str))
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }

    /// Moves the revocation of `fingerprint` to `state` if it is in one of `from`; returns
    /// whether it moved.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn move_revocation(
        &self,
        fingerprint: &str,
        from: &[RevocationState],
        state: RevocationState,
        summary: &str,
    ) -> Result<bool, Error> {
        let from_list: Vec<String> = (0..from.len()).map(|i| format!("${}", i + 5)).collect();
        let q = format!(
            "UPDATE revocations SET state = $1, summary = $2, updated_at = $3, claimed_by = NULL, \
             claim_until = NULL WHERE fingerprint = $4 AND state IN ({})",
            from_list.join(", ")
        );
        let n = on_pool!(self, |pool, sql| {
            let sql_text = sql(&q);
            let mut query = sqlx::query(&sql_text)
                .bind(state.as_str())
                .bind(summary)
                .bind(now_ms())
                .bind(fingerprint);
            for s in from {
                query = query.bind(s.as_str());
            }
            query.execute(pool).await?.rows_affected()
        });
        Ok(n == 1)
    }

    /// Claims up to `limit` queued revocations of `lane` for `worker` (those whose holder's
    /// claim expired too), `first` before the others; returns their fingerprints with the
    /// provider calls made for each so far. A claimed revocation is `sending` until
    /// [`Store::end_revocations`]; [`Store::renew_revocations`] keeps the claim alive.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn claim_revocations(
        &self,
        lane: &str,
        first: &str,
        limit: i64,
        worker: &str,
        lease: Duration,
    ) -> Result<Vec<(String, i64)>, Error> {
        let now = now_ms();
        let ready = "(state = 'queued' OR (state = 'sending' AND claim_until < $3))";
        // SKIP LOCKED (PostgreSQL): two claimers over the same rows take different ones
        // instead of waiting on each other (or deadlocking on their different orders).
        let q = format!(
            "UPDATE revocations SET state = 'sending', claimed_by = $1, claim_until = $2, \
             updated_at = $3 WHERE {ready} AND fingerprint IN (SELECT fingerprint FROM \
             revocations WHERE lane = $4 AND {ready} ORDER BY CASE WHEN fingerprint = $5 \
             THEN 0 ELSE 1 END, created_at LIMIT $6 FOR UPDATE SKIP LOCKED) \
             RETURNING fingerprint, attempts"
        );
        let rows: Vec<(String, i64)> = on_pool!(self, |pool, sql| sqlx::query_as(&sql(&q))
            .bind(worker)
            .bind(now.saturating_add(ms(lease)))
            .bind(now)
            .bind(lane)
            .bind(first)
            .bind(limit)
            .fetch_all(pool)
            .await?);
        Ok(rows)
    }

    /// Extends every claim `worker` holds by `lease` (its heartbeat, while a provider call
    /// runs).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn renew_revocations(&self, worker: &str, lease: Duration) -> Result<u64, Error> {
        let q =
            "UPDATE revocations SET claim_until = $1 WHERE claimed_by = $2 AND state = 'sending'";
        Ok(on_pool!(self, |pool, sql| sqlx::query(&sql(q))
            .bind(now_ms().saturating_add(ms(lease)))
            .bind(worker)
            .execute(pool)
            .await?
            .rows_affected()))
    }

    /// Revocations left waiting with no one sending them: `queued` and unchanged for
    /// `idle`, or `sending` under an expired claim (their job died). The service re-enqueues
    /// their jobs. Returns fingerprints with their last change.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn stale_revocations(
        &self,
        idle: Duration,
        limit: i64,
    ) -> Result<Vec<(String, i64)>, Error> {
        let now = now_ms();
        let q = "SELECT fingerprint, updated_at FROM revocations WHERE (state = 'queued' AND \
                 updated_at < $1) OR (state = 'sending' AND claim_until < $2) \
                 ORDER BY updated_at LIMIT $3";
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(q))
            .bind(now.saturating_sub(ms(idle)))
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }

    /// Takes `lane`'s next sending slot, `interval` after this one: `None` when taken, or how
    /// long until the slot opens. Shared by every replica on the database.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn pace(&self, lane: &str, interval: Duration) -> Result<Option<Duration>, Error> {
        let now = now_ms();
        let insert = "INSERT INTO revoke_pacing (lane, next_at) VALUES ($1, 0) \
                      ON CONFLICT (lane) DO NOTHING";
        let take = "UPDATE revoke_pacing SET next_at = $1 WHERE lane = $2 AND next_at <= $3";
        let read = "SELECT next_at FROM revoke_pacing WHERE lane = $1";
        let wait = on_pool!(self, |pool, sql| {
            sqlx::query(&sql(insert)).bind(lane).execute(pool).await?;
            let taken = sqlx::query(&sql(take))
                .bind(now.saturating_add(ms(interval)))
                .bind(lane)
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
                == 1;
            if taken {
                None
            } else {
                let (next_at,): (i64,) =
                    sqlx::query_as(&sql(read)).bind(lane).fetch_one(pool).await?;
                Some(Duration::from_millis(u64::try_from(next_at - now).unwrap_or(0)))
            }
        });
        Ok(wait)
    }

    /// Keeps `lane` closed for at least `delay` (a provider's `Retry-After`).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn hold_lane(&self, lane: &str, delay: Duration) -> Result<(), Error> {
        let until = now_ms().saturating_add(ms(delay));
        let q = "INSERT INTO revoke_pacing (lane, next_at) VALUES ($1, $2) ON CONFLICT (lane) \
                 DO UPDATE SET next_at = CASE WHEN revoke_pacing.next_at < $2 THEN $2 \
                 ELSE revoke_pacing.next_at END";
        on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q)).bind(lane).bind(until).execute(pool).await?;
        });
        Ok(())
    }
}

/// How one claimed revocation ended, for [`Store::end_revocations`].
#[derive(Clone, Debug)]
pub struct RevocationEnd {
    /// The secret's fingerprint.
    pub fingerprint: String,
    /// The attempt's outcome (`revoked`, `failed_retryable`, `dry_run`, ...).
    pub outcome: String,
    /// The revocation's new state (queued again to retry).
    pub state: RevocationState,
    /// The provider's HTTP status, when it answered.
    pub status: Option<i64>,
    /// The outcome's summary (never the secret).
    pub summary: String,
    /// Delete the encrypted material (a final outcome).
    pub wipe: bool,
}

/// Rows per multi-row statement in [`Store::end_revocations`] (6 parameters each).
const END_CHUNK: usize = 500;

impl Store {
    /// Records the attempts of one provider request in one transaction: an attempt row and
    /// an audit event (`revocation_attempt`, by `worker`) each, the new states of the
    /// revocations `worker` still holds, and the wiped material of final ones. Returns the
    /// fingerprints whose claim `worker` had lost (their attempts are recorded; their state
    /// and material are left to the worker that holds them now).
    ///
    /// # Errors
    ///
    /// A database error: nothing is recorded then.
    pub async fn end_revocations(
        &self,
        worker: &str,
        provider: &str,
        batch: usize,
        ends: &[RevocationEnd],
    ) -> Result<Vec<String>, Error> {
        let now = now_ms();
        let lost = on_pool!(self, |pool, sql| {
            let mut tx = pool.begin().await?;
            let mut lost = Vec::new();
            for chunk in ends.chunks(END_CHUNK) {
                let text = sql(&format!(
                    "INSERT INTO revocation_attempts (fingerprint, provider, outcome, status_code, \
                     summary, at) VALUES {}",
                    crate::records::placeholders(chunk.len(), 6, |p| format!("({})", p.join(", ")))
                ));
                let mut query = sqlx::query(&text);
                for e in chunk {
                    query = query
                        .bind(&e.fingerprint)
                        .bind(provider)
                        .bind(&e.outcome)
                        .bind(e.status)
                        .bind(&e.summary)
                        .bind(now);
                }
                query.execute(&mut *tx).await?;
                let text = sql(&format!(
                    "INSERT INTO audit_events (kind, actor, detail, at) VALUES {}",
                    crate::records::placeholders(chunk.len(), 3, |p| {
                        format!("('revocation_attempt', {})", p.join(", "))
                    })
                ));
                let mut query = sqlx::query(&text);
                for e in chunk {
                    let detail = serde_json::json!({
                        "fingerprint": e.fingerprint, "provider": provider, "outcome": e.outcome,
                        "status": e.status, "summary": e.summary, "batch": batch,
                    });
                    query = query.bind(worker).bind(detail.to_string()).bind(now);
                }
                query.execute(&mut *tx).await?;
                // One UPDATE per distinct (state, summary): a batch shares one.
                let mut groups: Vec<(RevocationState, &str, Vec<&str>)> = Vec::new();
                for e in chunk {
                    match groups.iter_mut().find(|(s, m, _)| *s == e.state && *m == e.summary) {
                        Some((_, _, fps)) => fps.push(&e.fingerprint),
                        None => groups.push((e.state, &e.summary, vec![&e.fingerprint])),
                    }
                }
                for (state, summary, fps) in groups {
                    let list: Vec<String> = (0..fps.len()).map(|i| format!("${}", i + 5)).collect();
                    let text = sql(&format!(
                        "UPDATE revocations SET state = $1, summary = $2, attempts = attempts + 1, \
                         updated_at = $3, claimed_by = NULL, claim_until = NULL WHERE \
                         state = 'sending' AND claimed_by = $4 AND fingerprint IN ({}) \
                         RETURNING fingerprint",
                        list.join(", ")
                    ));
                    let mut query = sqlx::query_as::<_, (String,)>(&text)
                        .bind(state.as_str())
                        .bind(summary)
                        .bind(now)
                        .bind(worker);
                    for fp in &fps {
                        query = query.bind(*fp);
                    }
                    let held: std::collections::HashSet<String> =
                        query.fetch_all(&mut *tx).await?.into_iter().map(|(f,)| f).collect();
                    lost.extend(
                        fps.iter().filter(|f| !held.contains(**f)).map(|f| (*f).to_owned()),
                    );
                }
                let wipe: Vec<&str> = chunk
                    .iter()
                    .filter(|e| e.wipe && !lost.contains(&e.fingerprint))
                    .map(|e| e.fingerprint.as_str())
                    .collect();
                if !wipe.is_empty() {
                    let list: Vec<String> = (1..=wipe.len()).map(|i| format!("${i}")).collect();
                    let text = sql(&format!(
                        "DELETE FROM secret_material WHERE fingerprint IN ({})",
                        list.join(", ")
                    ));
                    let mut query = sqlx::query(&text);
                    for fp in wipe {
                        query = query.bind(fp);
                    }
                    query.execute(&mut *tx).await?;
                }
            }
            tx.commit().await?;
            lost
        });
        Ok(lost)
    }
}
