-- Exceptions a team grants on purpose, each keyed on the secret's keyed fingerprint (never
-- the plaintext) and audited.

-- Waivers: a known secret that stops blocking, for a reason, approved by someone, until it
-- expires. Scope: every repository (repo NULL) or one, every path (path_glob NULL) or some.
CREATE TABLE waivers (
    id           BIGSERIAL PRIMARY KEY,
    fingerprint  TEXT   NOT NULL,
    repo         TEXT,
    path_glob    TEXT,
    reason       TEXT   NOT NULL,
    approved_by  TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    uses         BIGINT NOT NULL DEFAULT 0,
    last_used_at BIGINT,
    removed_at   BIGINT,
    removed_by   TEXT
);
CREATE INDEX waivers_fingerprint ON waivers (fingerprint);

-- Delegated bypass: a rejected pusher's request, approved or rejected by a reviewer. An
-- approval holds for the same repository, pusher and secrets (sorted fingerprints) only.
CREATE TABLE bypass_requests (
    id           BIGSERIAL PRIMARY KEY,
    repo         TEXT   NOT NULL,
    pusher       TEXT   NOT NULL,
    fingerprints TEXT   NOT NULL,
    summary      TEXT   NOT NULL,   -- JSON: rule, path, line, commit, redacted form
    refs         TEXT   NOT NULL,
    state        TEXT   NOT NULL,   -- open | approved | rejected
    created_at   BIGINT NOT NULL,
    expires_at   BIGINT NOT NULL,
    reviewer     TEXT,
    message      TEXT,
    decided_at   BIGINT,
    uses         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX bypass_requests_lookup ON bypass_requests (repo, pusher, fingerprints, state);
