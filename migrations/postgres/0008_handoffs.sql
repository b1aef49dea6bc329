-- Hand-offs to a person: the summary written for them, where the helpdesk ticket went, and
-- the SLA (time from hand-off to a person's first message). One open hand-off per
-- conversation at a time; `closed_at` is set when the bot resumes or the ticket closes.
CREATE TABLE handoffs (
    id               BIGSERIAL PRIMARY KEY,
    tenant_id        BIGINT  NOT NULL REFERENCES tenants(id),
    conversation_id  BIGINT  NOT NULL REFERENCES conversations(id),
    reason           TEXT    NOT NULL,
    summary          TEXT,
    ticket_id        TEXT,
    transfer         TEXT,
    sla_due_at       BIGINT,
    first_human_at   BIGINT,
    breached_at      BIGINT,
    closed_at        BIGINT,
    correlation_id   TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL
);
CREATE INDEX handoffs_open ON handoffs (conversation_id) WHERE closed_at IS NULL;
CREATE INDEX handoffs_tenant ON handoffs (tenant_id, id);
-- When a person last took over or wrote (the idle clock of `resume_after_idle_minutes`).
ALTER TABLE conversations ADD COLUMN human_at BIGINT;
