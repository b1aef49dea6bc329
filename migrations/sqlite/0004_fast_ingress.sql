-- Claims take deliveries first, then the oldest due job: this index is that order, so a
-- claim stops at the first runnable job instead of sorting every live one.
-- (PostgreSQL's 0004 also adds `atende_record_inbound`; SQLite needs no round-trip saving.)
CREATE INDEX jobs_claim_order ON jobs ((CASE kind WHEN 'deliver' THEN 0 ELSE 1 END), run_at, id)
    WHERE state IN ('queued', 'running');
