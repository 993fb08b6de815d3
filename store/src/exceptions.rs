//! Exceptions granted on purpose: waivers (a known secret stops blocking until it expires)
//! and delegated bypass requests (a reviewer approves a rejected push). Both are keyed on
//! keyed fingerprints, never on plaintext, and every change leaves an audit event.

use std::time::Duration;

use crate::{ms, now_ms, on_pool, Error, Store};

/// A waiver to add.
#[derive(Clone, Debug)]
pub struct NewWaiver {
    /// The secret's keyed fingerprint.
    pub fingerprint: String,
    /// The repository it applies to; `None`: every repository.
    pub repo: Option<String>,
    /// Paths it applies to (a glob, `**` crossing directories); `None`: every path.
    pub path_glob: Option<String>,
    /// Why.
    pub reason: String,
    /// Who approved it.
    pub approved_by: String,
    /// How long it holds.
    pub lasts: Duration,
}

/// A stored waiver.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct Waiver {
    /// Its id.
    pub id: i64,
    /// The secret's keyed fingerprint.
    pub fingerprint: String,
    /// The repository; `None`: every one.
    pub repo: Option<String>,
    /// The paths (glob); `None`: every path.
    pub path_glob: Option<String>,
    /// Why.
    pub reason: String,
    /// Who approved it.
    pub approved_by: String,
    /// When (ms since the epoch).
    pub created_at: i64,
    /// Until when (ms since the epoch).
    pub expires_at: i64,
    /// How many findings it let through.
    pub uses: i64,
    /// When it last let one through.
    pub last_used_at: Option<i64>,
}

impl Waiver {
    /// Whether it has expired at `now_ms`.
    pub fn expired(&self, now_ms: i64) -> bool {
        self.expires_at <= now_ms
    }
}

/// A bypass request to open.
#[derive(Clone, Debug)]
pub struct NewBypassRequest {
    /// The repository.
    pub repo: String,
    /// The pusher who asks.
    pub pusher: String,
    /// The fingerprints of the blocking secrets.
    pub fingerprints: Vec<String>,
    /// What the reviewer sees: rules, paths, lines, commits, redacted forms (JSON).
    pub summary: String,
    /// The pushed refs.
    pub refs: String,
    /// How long the request (and its approval) holds.
    pub lasts: Duration,
}

/// A stored bypass request.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct BypassRequest {
    /// Its id (what the pusher names in `-o leakgate.bypass=req:<id>`).
    pub id: i64,
    /// The repository.
    pub repo: String,
    /// The pusher.
    pub pusher: String,
    /// The secrets' fingerprints, sorted, space-separated.
    pub fingerprints: String,
    /// What the reviewer sees (JSON).
    pub summary: String,
    /// The pushed refs.
    pub refs: String,
    /// `open`, `approved` or `rejected` ([`BypassRequest::state_at`] adds `expired`).
    pub state: String,
    /// When (ms since the epoch).
    pub created_at: i64,
    /// Until when it holds (ms since the epoch).
    pub expires_at: i64,
    /// Who decided.
    pub reviewer: Option<String>,
    /// The reviewer's message.
    pub message: Option<String>,
    /// When it was decided.
    pub decided_at: Option<i64>,
    /// How many pushes the approval let through.
    pub uses: i64,
}

impl BypassRequest {
    /// The state at `now_ms`: an open or approved request past its expiry is `expired`.
    pub fn state_at(&self, now_ms: i64) -> &str {
        if self.state != "rejected" && self.expires_at <= now_ms {
            "expired"
        } else {
            &self.state
        }
    }

    /// The fingerprints as a list.
    pub fn fingerprint_list(&self) -> Vec<&str> {
        self.fingerprints.split_whitespace().collect()
    }
}

/// What a reviewer's decision came to.
#[derive(Debug, PartialEq, Eq)]
pub enum Decision {
    /// Recorded; the request as it is now.
    Done(Box<BypassRequest>),
    /// No such request.
    NotFound,
    /// Decided already, or expired: its state.
    NotOpen(String),
    /// The reviewer is the pusher: a bypass request needs someone else.
    OwnRequest,
}

const WAIVER_COLUMNS: &str = "id, fingerprint, repo, path_glob, reason, approved_by, created_at, \
                              expires_at, uses, last_used_at";
const REQUEST_COLUMNS: &str = "id, repo, pusher, fingerprints, summary, refs, state, created_at, \
                               expires_at, reviewer, message, decided_at, uses";

fn sorted(fingerprints: &[String]) -> String {
    let mut list: Vec<&str> = fingerprints.iter().map(String::as_str).collect();
    list.sort_unstable();
    list.dedup();
    list.join(" ")
}

impl Store {
    /// Adds a waiver and audits it; returns its id.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn add_waiver(&self, w: &NewWaiver) -> Result<i64, Error> {
        let now = now_ms();
        let q =
            "INSERT INTO waivers (fingerprint, repo, path_glob, reason, approved_by, created_at, \
                 expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id";
        let id: i64 = on_pool!(self, |pool, sql| {
            sqlx::query_scalar(&sql(q))
                .bind(&w.fingerprint)
                .bind(&w.repo)
                .bind(&w.path_glob)
                .bind(&w.reason)
                .bind(&w.approved_by)
                .bind(now)
                .bind(now + ms(w.lasts))
                .fetch_one(pool)
                .await?
        });
        let detail = serde_json::json!({
            "waiver": id, "fingerprint": w.fingerprint, "repo": w.repo, "path": w.path_glob,
            "reason": w.reason, "expires_at": now + ms(w.lasts),
        });
        self.audit("waiver_added", &w.approved_by, &detail.to_string()).await?;
        Ok(id)
    }

    /// The waivers in force or expired (not removed) that may apply to `repo`, oldest first:
    /// the caller matches paths and reports expired ones.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn waivers_for(&self, repo: &str) -> Result<Vec<Waiver>, Error> {
        let q = format!(
            "SELECT {WAIVER_COLUMNS} FROM waivers WHERE removed_at IS NULL \
             AND (repo IS NULL OR repo = $1) ORDER BY id"
        );
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(&q)).bind(repo).fetch_all(pool).await?))
    }

    /// Every waiver not removed, oldest first.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn waivers(&self) -> Result<Vec<Waiver>, Error> {
        let q =
            format!("SELECT {WAIVER_COLUMNS} FROM waivers WHERE removed_at IS NULL ORDER BY id");
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(&q)).fetch_all(pool).await?))
    }

    /// Counts a use of each waiver in `ids` (findings it let through now).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn waivers_used(&self, ids: &[i64]) -> Result<(), Error> {
        let q = "UPDATE waivers SET uses = uses + 1, last_used_at = $1 WHERE id = $2";
        let now = now_ms();
        for &id in ids {
            on_pool!(self, |pool, sql| {
                sqlx::query(&sql(q)).bind(now).bind(id).execute(pool).await?;
            });
        }
        Ok(())
    }

    /// Removes a waiver (kept for the audit trail, no longer applied); `false` when there is
    /// no such waiver in force.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn remove_waiver(&self, id: i64, by: &str) -> Result<bool, Error> {
        let q = "UPDATE waivers SET removed_at = $1, removed_by = $2 WHERE id = $3 AND removed_at IS NULL";
        let done = on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(now_ms())
                .bind(by)
                .bind(id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        if done == 1 {
            let detail = serde_json::json!({ "waiver": id });
            self.audit("waiver_removed", by, &detail.to_string()).await?;
        }
        Ok(done == 1)
    }

    /// Opens a bypass request, or returns the id of the open one for the same repository,
    /// pusher and secrets (a pusher who pushes again before the review gets the same id).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn open_bypass_request(&self, r: &NewBypassRequest) -> Result<(i64, bool), Error> {
        let fingerprints = sorted(&r.fingerprints);
        let now = now_ms();
        let existing = "SELECT id FROM bypass_requests WHERE repo = $1 AND pusher = $2 \
                        AND fingerprints = $3 AND state = 'open' AND expires_at > $4 ORDER BY id DESC";
        let found: Option<i64> = on_pool!(self, |pool, sql| {
            sqlx::query_scalar(&sql(existing))
                .bind(&r.repo)
                .bind(&r.pusher)
                .bind(&fingerprints)
                .bind(now)
                .fetch_optional(pool)
                .await?
        });
        if let Some(id) = found {
            return Ok((id, false));
        }
        let q = "INSERT INTO bypass_requests (repo, pusher, fingerprints, summary, refs, state, \
                 created_at, expires_at) VALUES ($1, $2, $3, $4, $5, 'open', $6, $7) RETURNING id";
        let id: i64 = on_pool!(self, |pool, sql| {
            sqlx::query_scalar(&sql(q))
                .bind(&r.repo)
                .bind(&r.pusher)
                .bind(&fingerprints)
                .bind(&r.summary)
                .bind(&r.refs)
                .bind(now)
                .bind(now + ms(r.lasts))
                .fetch_one(pool)
                .await?
        });
        let detail = serde_json::json!({
            "request": id, "repo": r.repo, "fingerprints": fingerprints, "refs": r.refs,
        });
        self.audit("bypass_request_opened", &r.pusher, &detail.to_string()).await?;
        Ok((id, true))
    }

    /// One bypass request.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn bypass_request(&self, id: i64) -> Result<Option<BypassRequest>, Error> {
        let q = format!("SELECT {REQUEST_COLUMNS} FROM bypass_requests WHERE id = $1");
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(&q))
            .bind(id)
            .fetch_optional(pool)
            .await?))
    }

    /// Bypass requests, newest first; with `state`, only those in it at `now` (`expired`
    /// included).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn bypass_requests(&self, state: Option<&str>) -> Result<Vec<BypassRequest>, Error> {
        // Filtered in the query, so that many requests in one state (a pusher opening one
        // per fake key) cannot push the others out of the first 1,000.
        let filter = match state {
            None => "WHERE $1 = $1",
            Some("open") => "WHERE state = 'open' AND expires_at > $1",
            Some("approved") => "WHERE state = 'approved' AND expires_at > $1",
            Some("rejected") => "WHERE state = 'rejected' AND $1 = $1",
            Some("expired") => "WHERE state <> 'rejected' AND expires_at <= $1",
            Some(_) => return Ok(Vec::new()),
        };
        let q = format!(
            "SELECT {REQUEST_COLUMNS} FROM bypass_requests {filter} ORDER BY id DESC LIMIT 1000"
        );
        let now = now_ms();
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(&q)).bind(now).fetch_all(pool).await?))
    }

    /// A reviewer approves or rejects an open request, with a message; audited.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn decide_bypass_request(
        &self,
        id: i64,
        approve: bool,
        reviewer: &str,
        message: &str,
    ) -> Result<Decision, Error> {
        let Some(request) = self.bypass_request(id).await? else { return Ok(Decision::NotFound) };
        let now = now_ms();
        if request.state_at(now) != "open" {
            return Ok(Decision::NotOpen(request.state_at(now).to_owned()));
        }
        if request.pusher == reviewer {
            return Ok(Decision::OwnRequest);
        }
        let state = if approve { "approved" } else { "rejected" };
        let q =
            "UPDATE bypass_requests SET state = $1, reviewer = $2, message = $3, decided_at = $4 \
                 WHERE id = $5 AND state = 'open' AND expires_at > $6";
        let done = on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q))
                .bind(state)
                .bind(reviewer)
                .bind(message)
                .bind(now)
                .bind(id)
                .bind(now)
                .execute(pool)
                .await?
                .rows_affected()
        });
        let Some(after) = self.bypass_request(id).await? else { return Ok(Decision::NotFound) };
        if done == 0 {
            // Decided by someone else in between.
            return Ok(Decision::NotOpen(after.state_at(now).to_owned()));
        }
        let detail = serde_json::json!({
            "request": id, "repo": after.repo, "pusher": after.pusher, "message": message,
        });
        self.audit(&format!("bypass_request_{state}"), reviewer, &detail.to_string()).await?;
        Ok(Decision::Done(Box::new(after)))
    }

    /// Counts a push let through by an approved request.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn bypass_request_used(&self, id: i64) -> Result<(), Error> {
        let q = "UPDATE bypass_requests SET uses = uses + 1 WHERE id = $1";
        on_pool!(self, |pool, sql| {
            sqlx::query(&sql(q)).bind(id).execute(pool).await?;
        });
        Ok(())
    }
}
