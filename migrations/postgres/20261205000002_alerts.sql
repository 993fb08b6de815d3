-- GitHub secret scanning alerts leakgate responds to: which secret (keyed fingerprint) each
-- alert is about, and whether leakgate resolved it once the key was revoked.
CREATE TABLE alerts (
    repo            TEXT   NOT NULL,
    number          BIGINT NOT NULL,
    installation_id BIGINT,
    fingerprint     TEXT,              -- NULL: the alert's secret matched no rule
    secret_type     TEXT   NOT NULL,
    state           TEXT   NOT NULL,   -- open, resolved, unsupported
    created_at      BIGINT NOT NULL,
    resolved_at     BIGINT,
    PRIMARY KEY (repo, number)
);
CREATE INDEX alerts_fingerprint ON alerts (fingerprint);
