-- A claim walked `jobs_claim_order`, which also holds every running job: with hundreds of
-- replies waiting on the LLM each claim stepped over all of them. Queued jobs and running
-- jobs whose lease may have expired now have an index each, and a claim takes the best of
-- the first runnable job of each (same order as before).
CREATE INDEX jobs_claim_queued ON jobs ((CASE kind WHEN 'deliver' THEN 0 ELSE 1 END), run_at, id)
    WHERE state = 'queued';
CREATE INDEX jobs_lease_expiry ON jobs (lease_until) WHERE state = 'running';
DROP INDEX jobs_claim_order;
