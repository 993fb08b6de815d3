-- Issues are opened under a claim: a worker takes the (repo, fingerprint) row before it calls
-- the forge, so that two workers or replicas never open the same issue twice, and a worker
-- that died between the forge call and recording the number leaves a claim that expires.
ALTER TABLE issues_opened ADD COLUMN number BIGINT;
ALTER TABLE issues_opened ADD COLUMN state TEXT NOT NULL DEFAULT 'open';   -- opening | open
ALTER TABLE issues_opened ADD COLUMN claimed_by TEXT;
ALTER TABLE issues_opened ADD COLUMN claim_until BIGINT;
-- Hash of the body last written, so that a re-run that would write the same body does nothing.
ALTER TABLE issues_opened ADD COLUMN body_hash TEXT;
