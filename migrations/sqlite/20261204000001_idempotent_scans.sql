-- A job that runs again (a retry, a worker that lost its lease, a scan cut short by its time
-- limit) records into the same scan row and the same finding rows: one set per job, whatever
-- the number of attempts.
ALTER TABLE scans ADD COLUMN job_key TEXT;
-- Findings a push carried beyond the configured cap, counted rather than stored.
ALTER TABLE scans ADD COLUMN omitted BIGINT NOT NULL DEFAULT 0;
CREATE UNIQUE INDEX scans_job_key ON scans (job_key) WHERE job_key IS NOT NULL;

-- Before the unique index: rows that earlier retries wrote twice into one scan.
DELETE FROM findings WHERE id NOT IN (
    SELECT MIN(id) FROM findings
    GROUP BY scan_id, rule_id, fingerprint, path, line, COALESCE(commit_id, '')
);
CREATE UNIQUE INDEX findings_location
    ON findings (scan_id, rule_id, fingerprint, path, line, COALESCE(commit_id, ''));
