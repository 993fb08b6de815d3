-- leakgate schema, first version. Times are Unix epoch milliseconds (BIGINT) in both
-- dialects, so that one set of queries serves SQLite and PostgreSQL.

-- Webhook deliveries, deduplicated per source; pruned after the retention period.
CREATE TABLE deliveries (
    source       TEXT   NOT NULL,
    delivery_id  TEXT   NOT NULL,
    event        TEXT   NOT NULL,
    outcome      TEXT   NOT NULL,
    received_at  BIGINT NOT NULL,
    PRIMARY KEY (source, delivery_id)
);
CREATE INDEX deliveries_received_at ON deliveries (received_at);

-- The job queue: claimed with a lease; a job whose lease expires is claimed again.
CREATE TABLE jobs (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    kind             TEXT   NOT NULL,
    payload          TEXT   NOT NULL,
    idempotency_key  TEXT   UNIQUE,
    state            TEXT   NOT NULL,          -- queued | running | done | dead
    attempts         BIGINT NOT NULL DEFAULT 0,
    max_attempts     BIGINT NOT NULL,
    run_after        BIGINT NOT NULL,
    lease_owner      TEXT,
    lease_until      BIGINT,
    last_error       TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX jobs_ready ON jobs (state, run_after);

CREATE TABLE scans (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    repo         TEXT   NOT NULL,
    refs         TEXT   NOT NULL,
    before_id    TEXT,
    after_id     TEXT,
    pusher       TEXT,
    source       TEXT   NOT NULL,              -- hook | webhook | cli
    status       TEXT   NOT NULL,
    started_at   BIGINT NOT NULL,
    finished_at  BIGINT
);

-- Findings: fingerprints and redacted forms, never a plaintext secret.
CREATE TABLE findings (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    scan_id      BIGINT NOT NULL REFERENCES scans (id),
    rule_id      TEXT   NOT NULL,
    provider     TEXT   NOT NULL,
    severity     TEXT   NOT NULL,
    path         TEXT   NOT NULL,
    line         BIGINT NOT NULL,
    commit_id    TEXT,
    redacted     TEXT   NOT NULL,
    fingerprint  TEXT   NOT NULL,
    first_seen   BIGINT NOT NULL
);
CREATE INDEX findings_fingerprint ON findings (fingerprint);

CREATE TABLE bypasses (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    repo         TEXT   NOT NULL,
    user_name    TEXT   NOT NULL,
    reason       TEXT   NOT NULL,
    comment      TEXT,
    refs         TEXT   NOT NULL,
    commits      TEXT   NOT NULL,
    fingerprints TEXT   NOT NULL,
    at           BIGINT NOT NULL
);

CREATE TABLE revocation_attempts (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    fingerprint  TEXT   NOT NULL,
    provider     TEXT   NOT NULL,
    outcome      TEXT   NOT NULL,
    status_code  BIGINT,
    summary      TEXT   NOT NULL,
    at           BIGINT NOT NULL
);

CREATE TABLE issues_opened (
    repo         TEXT   NOT NULL,
    fingerprint  TEXT   NOT NULL,
    url          TEXT   NOT NULL,
    opened_at    BIGINT NOT NULL,
    PRIMARY KEY (repo, fingerprint)
);

CREATE TABLE audit_events (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    kind         TEXT   NOT NULL,
    actor        TEXT   NOT NULL,
    detail       TEXT   NOT NULL,
    at           BIGINT NOT NULL
);

-- Secret material for a pending revocation: AEAD ciphertext only, key never stored here.
CREATE TABLE secret_material (
    fingerprint  TEXT   PRIMARY KEY,
    nonce        BLOB  NOT NULL,
    ciphertext   BLOB  NOT NULL,
    created_at   BIGINT NOT NULL
);
