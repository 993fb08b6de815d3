//! What the dashboard reads: secrets grouped by fingerprint (where they were seen, validity,
//! revocation), revocation timings, bypasses, and the overview's aggregates. Read-only, no
//! secret material: fingerprints and redacted forms only.

use std::collections::BTreeMap;

use crate::{on_pool, Error, Store};

/// One secret (a fingerprint) as the dashboard lists it.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct SecretRow {
    /// The keyed fingerprint.
    pub fingerprint: String,
    /// The rule that found it (the first by name when several did).
    pub rule_id: String,
    /// Its provider.
    pub provider: String,
    /// The highest severity it was found with: 4 critical, 3 high, 2 medium, 1 low.
    pub severity_rank: i64,
    /// A redacted form.
    pub redacted: String,
    /// A repository it was found in (the first by name).
    pub repo: String,
    /// In how many repositories.
    pub repos: i64,
    /// How many times it was found.
    pub occurrences: i64,
    /// When it was first found (ms since the epoch).
    pub first_seen: i64,
    /// When it was last found.
    pub last_seen: i64,
    /// The last validation's state, if it was validated.
    pub validity: Option<String>,
    /// Its revocation's state, if it has one.
    pub revocation: Option<String>,
}

impl SecretRow {
    /// The severity's name.
    pub fn severity(&self) -> &'static str {
        severity_name(self.severity_rank)
    }
}

/// The name of a severity rank (see [`SecretRow::severity_rank`]).
pub fn severity_name(rank: i64) -> &'static str {
    match rank {
        4 => "critical",
        3 => "high",
        2 => "medium",
        _ => "low",
    }
}

/// Which secrets [`Store::secrets`] lists.
#[derive(Clone, Debug, Default)]
pub struct SecretFilter {
    /// Only secrets still open: not revoked, not known dead.
    pub open_only: bool,
    /// Only those found in this repository.
    pub repo: Option<String>,
    /// Only those found by this rule.
    pub rule: Option<String>,
    /// At most this many rows.
    pub limit: i64,
    /// Skipping this many.
    pub offset: i64,
}

/// One place a secret was found.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Sighting {
    /// The finding's id.
    pub finding_id: i64,
    /// The repository.
    pub repo: String,
    /// The refs pushed.
    pub refs: String,
    /// `hook`, `webhook`, `alert`, ...
    pub source: String,
    /// The scan's outcome (`blocked` for a push the hook rejected).
    pub status: String,
    /// Who pushed.
    pub pusher: Option<String>,
    /// The commit.
    pub commit_id: Option<String>,
    /// The path.
    pub path: String,
    /// The line.
    pub line: i64,
    /// The rule.
    pub rule_id: String,
    /// The severity.
    pub severity: String,
    /// The redacted form.
    pub redacted: String,
    /// When (ms since the epoch).
    pub first_seen: i64,
}

/// A provider call made to revoke a secret.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Attempt {
    /// The provider.
    pub provider: String,
    /// `revoked`, `failed_retryable`, ...
    pub outcome: String,
    /// The HTTP status, if there was an answer.
    pub status_code: Option<i64>,
    /// What the answer said (no secret).
    pub summary: String,
    /// When (ms since the epoch).
    pub at: i64,
}

/// An issue written about a secret.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct IssueLink {
    /// The tracking repository key.
    pub repo: String,
    /// Its web address.
    pub url: String,
    /// `opening` or `open`.
    pub state: String,
}

/// A revocation with the time its secret was first found.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct RevocationRow {
    /// The fingerprint.
    pub fingerprint: String,
    /// The provider.
    pub provider: String,
    /// The rule.
    pub rule_id: String,
    /// The state.
    pub state: String,
    /// Why it is in that state.
    pub summary: String,
    /// Provider calls so far.
    pub attempts: i64,
    /// When it was planned (ms since the epoch).
    pub created_at: i64,
    /// When it last changed (for a final state: when it ended).
    pub updated_at: i64,
    /// When the secret was first found, if a finding records it.
    pub first_seen: Option<i64>,
}

impl RevocationRow {
    /// From the push (the first finding) to the key revoked, in ms; `None` unless revoked.
    pub fn time_to_revoke(&self) -> Option<i64> {
        (self.state == "revoked")
            .then(|| {
                self.updated_at - self.first_seen.unwrap_or(self.created_at).min(self.created_at)
            })
            .map(|ms| ms.max(0))
    }
}

/// A recorded bypass of the hook.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct BypassRow {
    /// The repository.
    pub repo: String,
    /// Who bypassed.
    pub user_name: String,
    /// The reason given.
    pub reason: String,
    /// The comment given.
    pub comment: Option<String>,
    /// The refs pushed.
    pub refs: String,
    /// The fingerprints let through (space-separated).
    pub fingerprints: String,
    /// When (ms since the epoch).
    pub at: i64,
}

/// The overview's figures, over the window since `since`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overview {
    /// Findings per day (days since the epoch, count), oldest first.
    pub findings_per_day: Vec<(i64, i64)>,
    /// Push-to-revoked times of keys revoked in the window, in ms, ascending.
    pub revoke_times_ms: Vec<i64>,
    /// Pushes the hook rejected, per repository.
    pub blocked_by_repo: Vec<(String, i64)>,
    /// Pushes the hook rejected, per rule (a push counts once per rule it broke).
    pub blocked_by_rule: Vec<(String, i64)>,
    /// Pushes let through by a bypass, per repository.
    pub bypassed_by_repo: Vec<(String, i64)>,
    /// Pushes let through by a bypass, per rule.
    pub bypassed_by_rule: Vec<(String, i64)>,
    /// Secrets still open (all time).
    pub open_secrets: i64,
    /// Open secrets the last validation found live.
    pub live_secrets: i64,
    /// Revocations waiting for a person (`awaiting_approval`, `review`).
    pub awaiting_approval: i64,
    /// Bypass requests waiting for a reviewer.
    pub open_requests: i64,
}

/// The grouping behind [`Store::secrets`], with its filters as fixed clauses (each value a
/// parameter): PostgreSQL plans each shape once, and no `$1 = '' OR ...` keeps it from
/// using what it knows.
fn secrets_sql<'f>(filter: &'f SecretFilter, tail: &str) -> (String, Vec<&'f str>) {
    let mut binds = Vec::new();
    let mut conditions = Vec::new();
    if let Some(repo) = filter.repo.as_deref() {
        binds.push(repo);
        conditions.push(format!("s.repo = ${}", binds.len()));
    }
    if let Some(rule) = filter.rule.as_deref() {
        binds.push(rule);
        conditions.push(format!("f.rule_id = ${}", binds.len()));
    }
    let filters = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let open = if filter.open_only {
        "HAVING (r.state IS NULL OR r.state NOT IN ('revoked', 'already_invalid')) \
         AND (v.state IS NULL OR v.state NOT IN ('invalid', 'revoked', 'expired'))"
    } else {
        ""
    };
    let sql = format!(
        "SELECT f.fingerprint, MIN(f.rule_id) AS rule_id, MIN(f.provider) AS provider, \
         CAST(MAX(CASE f.severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'medium' \
         THEN 2 ELSE 1 END) AS BIGINT) AS severity_rank, MIN(f.redacted) AS redacted, \
         MIN(s.repo) AS repo, COUNT(DISTINCT s.repo) AS repos, COUNT(*) AS occurrences, \
         MIN(f.first_seen) AS first_seen, MAX(f.first_seen) AS last_seen, \
         v.state AS validity, r.state AS revocation{tail} \
         FROM findings f JOIN scans s ON s.id = f.scan_id \
         LEFT JOIN validations v ON v.fingerprint = f.fingerprint \
         LEFT JOIN revocations r ON r.fingerprint = f.fingerprint \
         {filters} GROUP BY f.fingerprint, v.state, r.state {open}"
    );
    (sql, binds)
}

/// A [`SecretRow`] and the number of rows its query matched.
#[derive(sqlx::FromRow)]
struct Counted {
    #[sqlx(flatten)]
    row: SecretRow,
    matching: i64,
}

impl Store {
    /// Secrets, one row per fingerprint, most severe and newest first; and how many match.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn secrets(&self, filter: &SecretFilter) -> Result<(Vec<SecretRow>, i64), Error> {
        // One grouping gives the page and (a window over the groups) how many there are.
        let (sql, binds) = secrets_sql(filter, ", COUNT(*) OVER () AS matching");
        let n = binds.len();
        let q = format!(
            "{sql} ORDER BY severity_rank DESC, first_seen DESC, f.fingerprint \
             LIMIT ${} OFFSET ${}",
            n + 1,
            n + 2
        );
        let rows: Vec<Counted> = on_pool!(self, |pool, sql| {
            let text = sql(&q);
            let mut query = sqlx::query_as(&text);
            for value in &binds {
                query = query.bind(*value);
            }
            query.bind(filter.limit.max(0)).bind(filter.offset.max(0)).fetch_all(pool).await?
        });
        let total = match rows.first() {
            Some(first) => first.matching,
            // A page past the end: count on its own.
            None if filter.offset > 0 => {
                let q = format!("SELECT COUNT(*) FROM ({sql}) AS matching");
                let (total,): (i64,) = on_pool!(self, |pool, sql| {
                    let text = sql(&q);
                    let mut query = sqlx::query_as(&text);
                    for value in &binds {
                        query = query.bind(*value);
                    }
                    query.fetch_one(pool).await?
                });
                total
            }
            None => 0,
        };
        Ok((rows.into_iter().map(|c| c.row).collect(), total))
    }

    /// Where the secret `fingerprint` was found, newest first, at most `limit` places.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn sightings(&self, fingerprint: &str, limit: i64) -> Result<Vec<Sighting>, Error> {
        let q = "SELECT f.id AS finding_id, s.repo, s.refs, s.source, s.status, s.pusher, \
                 f.commit_id, f.path, f.line, f.rule_id, f.severity, f.redacted, f.first_seen \
                 FROM findings f JOIN scans s ON s.id = f.scan_id WHERE f.fingerprint = $1 \
                 ORDER BY f.first_seen DESC, f.id DESC LIMIT $2";
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(q))
            .bind(fingerprint)
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }

    /// The provider calls made to revoke `fingerprint`, oldest first.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn revocation_attempts(&self, fingerprint: &str) -> Result<Vec<Attempt>, Error> {
        let q = "SELECT provider, outcome, status_code, summary, at FROM revocation_attempts \
                 WHERE fingerprint = $1 ORDER BY id";
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(q))
            .bind(fingerprint)
            .fetch_all(pool)
            .await?))
    }

    /// The issues written about `fingerprint`.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn issue_links(&self, fingerprint: &str) -> Result<Vec<IssueLink>, Error> {
        let q = "SELECT repo, url, state FROM issues_opened WHERE fingerprint = $1 ORDER BY repo";
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(q))
            .bind(fingerprint)
            .fetch_all(pool)
            .await?))
    }

    /// Revocations, newest first, optionally in one state, with when each secret was first
    /// found.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn revocation_rows(
        &self,
        state: Option<&str>,
        limit: i64,
    ) -> Result<Vec<RevocationRow>, Error> {
        let q = "SELECT r.fingerprint, r.provider, r.rule_id, r.state, r.summary, r.attempts, \
                 r.created_at, r.updated_at, \
                 (SELECT MIN(f.first_seen) FROM findings f WHERE f.fingerprint = r.fingerprint) \
                 AS first_seen \
                 FROM revocations r WHERE ($1 = '' OR r.state = $1) \
                 ORDER BY r.created_at DESC LIMIT $2";
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(q))
            .bind(state.unwrap_or(""))
            .bind(limit)
            .fetch_all(pool)
            .await?))
    }

    /// Recorded bypasses, newest first.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn bypasses(&self, limit: i64) -> Result<Vec<BypassRow>, Error> {
        let q = "SELECT repo, user_name, reason, comment, refs, fingerprints, at FROM bypasses \
                 ORDER BY id DESC LIMIT $1";
        Ok(on_pool!(self, |pool, sql| sqlx::query_as(&sql(q)).bind(limit).fetch_all(pool).await?))
    }

    /// The overview's figures since `since` (ms since the epoch).
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn overview(&self, since: i64) -> Result<Overview, Error> {
        const DAY_MS: i64 = 86_400_000;
        let q = "SELECT first_seen / $2 AS day, COUNT(*) FROM findings WHERE first_seen >= $1 \
                 GROUP BY day ORDER BY day";
        let findings_per_day = on_pool!(self, |pool, sql| sqlx::query_as(&sql(q))
            .bind(since)
            .bind(DAY_MS)
            .fetch_all(pool)
            .await?);
        let q = "SELECT r.updated_at - COALESCE((SELECT MIN(f.first_seen) FROM findings f \
                 WHERE f.fingerprint = r.fingerprint), r.created_at) FROM revocations r \
                 WHERE r.state = 'revoked' AND r.updated_at >= $1";
        let times: Vec<(i64,)> =
            on_pool!(self, |pool, sql| sqlx::query_as(&sql(q)).bind(since).fetch_all(pool).await?);
        let mut revoke_times_ms: Vec<i64> = times.into_iter().map(|(t,)| t.max(0)).collect();
        revoke_times_ms.sort_unstable();
        let q =
            "SELECT repo, COUNT(*) AS n FROM scans WHERE source = 'hook' AND status = 'blocked' \
                 AND started_at >= $1 GROUP BY repo ORDER BY n DESC, repo";
        let blocked_by_repo =
            on_pool!(self, |pool, sql| sqlx::query_as(&sql(q)).bind(since).fetch_all(pool).await?);
        let q = "SELECT f.rule_id, COUNT(DISTINCT s.id) AS n FROM scans s \
                 JOIN findings f ON f.scan_id = s.id WHERE s.source = 'hook' \
                 AND s.status = 'blocked' AND s.started_at >= $1 \
                 GROUP BY f.rule_id ORDER BY n DESC, f.rule_id";
        let blocked_by_rule =
            on_pool!(self, |pool, sql| sqlx::query_as(&sql(q)).bind(since).fetch_all(pool).await?);
        let q = "SELECT repo, COUNT(*) AS n FROM bypasses WHERE at >= $1 GROUP BY repo \
                 ORDER BY n DESC, repo";
        let bypassed_by_repo =
            on_pool!(self, |pool, sql| sqlx::query_as(&sql(q)).bind(since).fetch_all(pool).await?);
        // The hook's bypass records name the rules of what they let through.
        let q = "SELECT detail FROM audit_events WHERE kind = 'hook_bypass' AND at >= $1";
        let details: Vec<(String,)> =
            on_pool!(self, |pool, sql| sqlx::query_as(&sql(q)).bind(since).fetch_all(pool).await?);
        let mut per_rule: BTreeMap<String, i64> = BTreeMap::new();
        for (detail,) in details {
            let Ok(record) = serde_json::from_str::<serde_json::Value>(&detail) else { continue };
            let mut rules: Vec<&str> = record["findings"]
                .as_array()
                .map(|f| f.iter().filter_map(|f| f["rule_id"].as_str()).collect())
                .unwrap_or_default();
            rules.sort_unstable();
            rules.dedup();
            for rule in rules {
                *per_rule.entry(rule.to_owned()).or_default() += 1;
            }
        }
        let mut bypassed_by_rule: Vec<(String, i64)> = per_rule.into_iter().collect();
        bypassed_by_rule.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));

        let (open, _) =
            secrets_sql(&SecretFilter { open_only: true, ..SecretFilter::default() }, "");
        let q = format!(
            "SELECT COUNT(*), COALESCE(SUM(CASE WHEN validity = 'valid' THEN 1 ELSE 0 END), 0) \
             FROM ({open}) AS open_secrets"
        );
        let (open_secrets, live_secrets): (i64, i64) =
            on_pool!(self, |pool, sql| sqlx::query_as(&sql(&q)).fetch_one(pool).await?);
        let q = "SELECT COUNT(*) FROM revocations WHERE state IN ('awaiting_approval', 'review')";
        let (awaiting_approval,): (i64,) =
            on_pool!(self, |pool, sql| sqlx::query_as(&sql(q)).fetch_one(pool).await?);
        let q = "SELECT COUNT(*) FROM bypass_requests WHERE state = 'open' AND expires_at > $1";
        let (open_requests,): (i64,) = on_pool!(self, |pool, sql| sqlx::query_as(&sql(q))
            .bind(crate::now_ms())
            .fetch_one(pool)
            .await?);
        Ok(Overview {
            findings_per_day,
            revoke_times_ms,
            blocked_by_repo,
            blocked_by_rule,
            bypassed_by_repo,
            bypassed_by_rule,
            open_secrets,
            live_secrets,
            awaiting_approval,
            open_requests,
        })
    }
}
