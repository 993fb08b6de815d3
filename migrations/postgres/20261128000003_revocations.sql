-- One revocation per leaked secret (by fingerprint), whatever repositories it was found in.
-- `lane` groups what is sent together: the provider's name, or `github-batch` for tokens that
-- GitHub's credential revocation API takes up to 1000 at a time. `context` is JSON naming
-- where the finding was reported (forge, repository, installation), never the secret.
CREATE TABLE revocations (
    fingerprint  TEXT   PRIMARY KEY,
    provider     TEXT   NOT NULL,
    lane         TEXT   NOT NULL,
    rule_id      TEXT   NOT NULL,
    finding_id   BIGINT,
    context      TEXT   NOT NULL,
    -- awaiting_approval | review | off | queued | sending | revoked | already_invalid |
    -- failed_permanent | failed_retryable (gave up) | unsupported | dry_run
    state        TEXT   NOT NULL,
    summary      TEXT   NOT NULL DEFAULT '',
    attempts     BIGINT NOT NULL DEFAULT 0,
    claimed_by   TEXT,
    claim_until  BIGINT,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX revocations_lane ON revocations (lane, state);

-- Provider pacing shared by every replica: the earliest time the lane may send again.
CREATE TABLE revoke_pacing (
    lane     TEXT   PRIMARY KEY,
    next_at  BIGINT NOT NULL
);

CREATE INDEX revocation_attempts_fingerprint ON revocation_attempts (fingerprint);

-- The body last written to an issue (redacted, like the issue itself), so that a revocation
-- outcome can be written into it without the push that opened it.
ALTER TABLE issues_opened ADD COLUMN body TEXT;
-- The GitHub App installation that reported the issue: later edits (a revocation's outcome)
-- need its token.
ALTER TABLE issues_opened ADD COLUMN installation_id BIGINT;
