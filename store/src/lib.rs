//! leakgate's storage: one [`Store`] API over SQLite (the embedded default) and PostgreSQL
//! (several replicas), on sqlx.
//!
//! It keeps webhook deliveries, a job queue with leases, scans, findings (fingerprints and
//! redacted forms, never plaintext), bypasses, revocation attempts, issues opened and audit
//! events. The one exception to "no plaintext" is material for a pending revocation, kept
//! encrypted with XChaCha20-Poly1305 under a key that comes from configuration, never from
//! the database, and wiped when the revocation ends.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use leakgate_store::{NewJob, Store};
//! let dir = tempfile::tempdir().unwrap();
//! let url = format!("sqlite://{}", dir.path().join("leakgate.db").display());
//! let store = Store::connect(&url).await.unwrap();
//! store.enqueue(&NewJob::new("scan", "{}")).await.unwrap();
//! let jobs = store.claim("worker-1", 10, std::time::Duration::from_secs(30)).await.unwrap();
//! assert_eq!(jobs.len(), 1);
//! store.complete(jobs[0].id, "worker-1").await.unwrap();
//! # });
//! ```
#![deny(missing_docs)]
#![forbid(unsafe_code)]

mod crypto;
mod dashboard;
mod error;
mod exceptions;
mod jobs;
mod records;
mod revocations;
mod validations;

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};

/// How long connecting to PostgreSQL may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

pub use crypto::SecretKey;
pub use dashboard::{
    severity_name, Attempt, BypassRow, IssueLink, Overview, RevocationRow, SecretFilter, SecretRow,
    Sighting,
};
pub use error::Error;
pub use exceptions::{BypassRequest, Decision, NewBypassRequest, NewWaiver, Waiver};
pub use jobs::{Job, JobState, NewJob};
pub use records::{
    AuditEvent, Bypass, Delivery, FindingRecord, IssueClaim, IssueLock, IssueRecord, NewScan,
};
pub use revocations::{NewRevocation, Revocation, RevocationEnd, RevocationState};
pub use validations::{AlertRecord, Gauges, NewValidation, Validation};

static SQLITE_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/sqlite");
static POSTGRES_MIGRATIONS: Migrator = sqlx::migrate!("../migrations/postgres");

/// The connection pool of one backend.
#[derive(Clone, Debug)]
pub(crate) enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The store: cheap to clone, shared by every task.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) pool: Pool,
}

/// Runs `$body` with `$pool` bound to the backend's pool; the body is compiled once per
/// backend, so the same query text and bindings serve both.
macro_rules! on_pool {
    ($store:expr, |$pool:ident, $sql:ident| $body:expr) => {
        match &$store.pool {
            crate::Pool::Sqlite($pool) => {
                let $sql = crate::sqlite_sql;
                $body
            }
            crate::Pool::Postgres($pool) => {
                let $sql = crate::postgres_sql;
                $body
            }
        }
    };
}
pub(crate) use on_pool;

/// Queries are written with PostgreSQL's `$1` placeholders; SQLite's numbered form is `?1`.
pub(crate) fn sqlite_sql(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '$' && chars.peek().is_some_and(char::is_ascii_digit) {
            out.push('?');
        } else {
            out.push(c);
        }
    }
    out.replace(" FOR UPDATE SKIP LOCKED", "")
}

pub(crate) fn postgres_sql(sql: &str) -> String {
    sql.to_owned()
}

/// Milliseconds since the Unix epoch: the store's unit of time.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// `d` in milliseconds, at most a century: `now + ms(d)` cannot overflow, whatever delay a
/// caller (or a provider's `Retry-After`) asks for.
pub(crate) fn ms(d: Duration) -> i64 {
    const CENTURY_MS: i64 = 100 * 365 * 24 * 3600 * 1000;
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX).min(CENTURY_MS)
}

/// The `synchronous` setting a SQLite URL asks for (`?synchronous=full`; default normal), and
/// the URL without it (sqlx does not know the parameter).
fn sqlite_synchronous(url: &str) -> (String, SqliteSynchronous) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), SqliteSynchronous::Normal);
    };
    let mut synchronous = SqliteSynchronous::Normal;
    let rest: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.split_once('=') {
            Some(("synchronous", value)) => {
                if value.eq_ignore_ascii_case("full") {
                    synchronous = SqliteSynchronous::Full;
                }
                false
            }
            _ => true,
        })
        .collect();
    let url = if rest.is_empty() { base.to_owned() } else { format!("{base}?{}", rest.join("&")) };
    (url, synchronous)
}

/// `url` with any password replaced, for messages: the userinfo's, and the values of query
/// parameters that carry one (`?password=`, `sslpassword`, tokens, keys).
pub fn redact_url(url: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let mut out = match (base.find("://"), base.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &base[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &base[..scheme + 3], &base[at..]),
                None => base.to_owned(),
            }
        }
        _ => base.to_owned(),
    };
    if let Some(query) = query {
        let redacted: Vec<String> = query
            .split('&')
            .map(|pair| {
                let (key, _) = pair.split_once('=').unwrap_or((pair, ""));
                let lower = key.to_ascii_lowercase();
                let sensitive = ["pass", "secret", "token", "key", "pwd"]
                    .iter()
                    .any(|word| lower.contains(word));
                if sensitive && pair.contains('=') {
                    format!("{key}=***")
                } else {
                    pair.to_owned()
                }
            })
            .collect();
        out.push('?');
        out.push_str(&redacted.join("&"));
    }
    out
}

impl Store {
    /// Connects to `sqlite://PATH` (created on first use, WAL) or `postgres://...`, and
    /// applies pending migrations.
    ///
    /// # Errors
    ///
    /// [`Error::Connect`] when the database cannot be reached or is not a database of the
    /// expected kind, [`Error::TooNew`] when it was migrated by a newer leakgate.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        let store = Self::connect_without_migrating(url).await?;
        store.migrate().await?;
        Ok(store)
    }

    /// Connects without applying migrations (for `leakgate migrate` and checks).
    ///
    /// # Errors
    ///
    /// [`Error::Connect`].
    pub async fn connect_without_migrating(url: &str) -> Result<Self, Error> {
        let connect = |source: sqlx::Error| Error::Connect { url: redact_url(url), source };
        let pool = if url.starts_with("sqlite:") {
            // `?synchronous=full` keeps the last commits through a power failure, at a cost
            // in throughput (see below); the default is `normal`.
            let (url, synchronous) = sqlite_synchronous(url);
            let options = SqliteConnectOptions::from_str(&url)
                .map_err(connect)?
                .create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                // NORMAL (default): a process crash loses nothing, but a power failure (or
                // a kernel crash) can lose the commits since the last WAL sync; the service
                // checkpoints every second, so about the last second: deliveries already
                // acknowledged with 202 (GitHub does not send them again), job and
                // revocation state changes. `?synchronous=full` syncs every commit: nothing
                // acknowledged is lost, for about 15% of intake and 35% of revocation
                // queue throughput on the development machine (`bench/webhooks.sh`,
                // `bench/revocations.sh`). PostgreSQL is durable either way.
                .synchronous(synchronous)
                .busy_timeout(Duration::from_secs(10))
                // Commits do not checkpoint the WAL before 40 MB of it; a long-running
                // process calls `checkpoint` in the background instead, so that the fsyncs
                // of a checkpoint do not land on a request's commit.
                .pragma("wal_autocheckpoint", "10000")
                .foreign_keys(true);
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .connect_with(options)
                .await
                .map_err(connect)?;
            // A file that is not SQLite fails here, with a clear cause.
            sqlx::query("SELECT count(*) FROM sqlite_master")
                .execute(&pool)
                .await
                .map_err(connect)?;
            Pool::Sqlite(pool)
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let options = PgConnectOptions::from_str(url).map_err(connect)?;
            // One direct connection first: a refused connection or a bad password is
            // reported as such, not as a pool timeout.
            // Bounded: a server that accepts connections and never answers held the hook's
            // rejected pushes forever (review of session 25).
            {
                use sqlx::Connection;
                let timed_out = || {
                    connect(sqlx::Error::Io(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "no answer within 10 s",
                    )))
                };
                let conn = tokio::time::timeout(
                    CONNECT_TIMEOUT,
                    sqlx::PgConnection::connect_with(&options),
                )
                .await
                .map_err(|_| timed_out())?
                .map_err(connect)?;
                tokio::time::timeout(CONNECT_TIMEOUT, conn.close())
                    .await
                    .map_err(|_| timed_out())?
                    .map_err(connect)?;
            }
            let pool = PgPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect_with(options)
                .await
                .map_err(connect)?;
            Pool::Postgres(pool)
        } else {
            return Err(Error::UnknownScheme(redact_url(url)));
        };
        Ok(Store { pool })
    }

    /// Applies pending migrations; refuses a database migrated by a newer leakgate.
    ///
    /// # Errors
    ///
    /// [`Error::TooNew`], or the migration's own error.
    pub async fn migrate(&self) -> Result<(), Error> {
        let migrator = match &self.pool {
            Pool::Sqlite(_) => &SQLITE_MIGRATIONS,
            Pool::Postgres(_) => &POSTGRES_MIGRATIONS,
        };
        let known = migrator.iter().map(|m| m.version).max().unwrap_or(0);
        if let Some(applied) = self.applied_version().await? {
            if applied > known {
                return Err(Error::TooNew { database: applied, binary: known });
            }
        }
        match &self.pool {
            Pool::Sqlite(pool) => migrator.run(pool).await?,
            Pool::Postgres(pool) => migrator.run(pool).await?,
        }
        Ok(())
    }

    async fn applied_version(&self) -> Result<Option<i64>, Error> {
        let exists = "SELECT 1 FROM _sqlx_migrations LIMIT 1";
        let max = "SELECT MAX(version) FROM _sqlx_migrations";
        let result: Result<Option<i64>, sqlx::Error> = on_pool!(self, |pool, _sql| {
            match sqlx::query(exists).fetch_optional(pool).await {
                Ok(_) => sqlx::query_scalar(max).fetch_one(pool).await,
                Err(_) => Ok(None),
            }
        });
        Ok(result?)
    }

    /// Copies committed WAL pages into the SQLite database file without blocking writers
    /// (`PRAGMA wal_checkpoint(PASSIVE)`); nothing on PostgreSQL. The service runs it every
    /// second, off the path of any request.
    ///
    /// # Errors
    ///
    /// A database error.
    pub async fn checkpoint(&self) -> Result<(), Error> {
        if let Pool::Sqlite(pool) = &self.pool {
            sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(pool).await?;
        }
        Ok(())
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> bool {
        on_pool!(self, |pool, _sql| sqlx::query("SELECT 1").execute(pool).await.is_ok())
    }

    /// Which backend this is: `sqlite` or `postgres`.
    pub fn backend(&self) -> &'static str {
        match self.pool {
            Pool::Sqlite(_) => "sqlite",
            Pool::Postgres(_) => "postgres",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn sqlite_synchronous_comes_from_the_url() {
        use sqlx::sqlite::SqliteSynchronous;
        let (url, sync) = super::sqlite_synchronous("sqlite:///a.db?synchronous=full&mode=rwc");
        assert_eq!((url.as_str(), sync), ("sqlite:///a.db?mode=rwc", SqliteSynchronous::Full));
        let (url, sync) = super::sqlite_synchronous("sqlite:///a.db");
        assert_eq!((url.as_str(), sync), ("sqlite:///a.db", SqliteSynchronous::Normal));
    }

    #[test]
    fn passwords_leave_urls_wherever_they_sit() {
        assert_eq!(redact_url("postgres://u:hunter2@db/x"), "postgres://u:***@db/x");
        assert_eq!(
            redact_url("postgres://u@db/x?sslmode=require&password=hunter2"),
            "postgres://u@db/x?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://db/x?sslpassword=a&PASSWORD=b&auth_token=c&application_name=l"),
            "postgres://db/x?sslpassword=***&PASSWORD=***&auth_token=***&application_name=l"
        );
        assert_eq!(redact_url("sqlite:///var/lib/leakgate.db"), "sqlite:///var/lib/leakgate.db");
        for url in ["postgres://u:s3cr3t@h/d?password=s3cr3t", "postgres://h/d?sslpassword=s3cr3t"]
        {
            assert!(!redact_url(url).contains("s3cr3t"), "{url}");
        }
    }
}
