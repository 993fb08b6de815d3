//! The store's errors.

/// What went wrong with the store.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The row asked for does not exist.
    #[error("not found")]
    NotFound,
    /// The caller's lease on a job expired and another worker may hold it now.
    #[error("job {0} is no longer leased to this worker")]
    LeaseLost(i64),
    /// The database cannot be opened (the URL is shown with its password redacted).
    #[error("cannot open database {url}")]
    Connect {
        /// The URL, password redacted.
        url: String,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// The URL is neither `sqlite://` nor `postgres://`.
    #[error("unsupported database URL {0} (use sqlite://PATH or postgres://...)")]
    UnknownScheme(String),
    /// The database was migrated by a newer leakgate.
    #[error("the database schema is version {database}, newer than this leakgate ({binary}); upgrade leakgate")]
    TooNew {
        /// The newest migration applied to the database.
        database: i64,
        /// The newest migration this binary knows.
        binary: i64,
    },
    /// Secret material does not decrypt under the configured key.
    #[error(
        "cannot decrypt secret material for {fingerprint}: wrong encryption key or corrupted data"
    )]
    Decrypt {
        /// The finding's fingerprint.
        fingerprint: String,
    },
    /// A migration failed.
    #[error("migration failed")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// Any other database error.
    #[error("database error")]
    Other(#[source] sqlx::Error),
}

impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::RowNotFound => Error::NotFound,
            other => Error::Other(other),
        }
    }
}
