-- Live validation: whether a leaked key worked when its provider was last asked. Keyed on the
-- secret's keyed fingerprint; no secret and nothing from the provider's answer but its status
-- and an error code.
CREATE TABLE validations (
    fingerprint   TEXT PRIMARY KEY,
    validator     TEXT   NOT NULL,
    rule_id       TEXT   NOT NULL,
    finding_id    BIGINT,
    context       TEXT   NOT NULL,   -- JSON: where the secret was found (forge, repository)
    state         TEXT   NOT NULL,   -- pending, valid, invalid, revoked, expired, unknown, not_checkable, canary
    status        BIGINT,
    summary       TEXT   NOT NULL,
    checks        BIGINT NOT NULL DEFAULT 0,
    created_at    BIGINT NOT NULL,
    checked_at    BIGINT,
    next_check_at BIGINT
);
