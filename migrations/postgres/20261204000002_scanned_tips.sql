-- The commit each pushed ref was scanned up to, shared by every replica: a mirror's own
-- `refs/leakgate/scanned/*` are local to the replica that fetched them, so after a failover
-- another replica would not know what was scanned already (and scan a new branch's whole
-- history again).
CREATE TABLE scanned_tips (
    repo       TEXT   NOT NULL,
    git_ref    TEXT   NOT NULL,
    commit_id  TEXT   NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (repo, git_ref)
);
