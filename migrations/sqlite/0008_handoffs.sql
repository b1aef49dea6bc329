-- Hand-offs to a person: the summary written for them, where the helpdesk ticket went, and
-- the SLA (time from hand-off to a person's first message). One open hand-off per
-- conversation at a time; `closed_at` is set when the bot resumes or the ticket closes.
CREATE TABLE handoffs (
    id               INTEGER PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants(id),
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id),
    reason           TEXT    NOT NULL,
    summary          TEXT,
    ticket_id        TEXT,
    transfer         TEXT,
    sla_due_at       INTEGER,
    first_human_at   INTEGER,
    breached_at      INTEGER,
    closed_at        INTEGER,
    correlation_id   TEXT    NOT NULL,
    created_at       INTEGER NOT NULL
);
CREATE INDEX handoffs_open ON handoffs (conversation_id) WHERE closed_at IS NULL;
CREATE INDEX handoffs_tenant ON handoffs (tenant_id, id);
-- When a person last took over or wrote (the idle clock of `resume_after_idle_minutes`).
ALTER TABLE conversations ADD COLUMN human_at INTEGER;
