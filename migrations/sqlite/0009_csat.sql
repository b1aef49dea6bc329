-- CSAT surveys: asked once per ticket when it closes (the helpdesk closed it, or nobody
-- wrote for the tenant's idle period) and answered by the customer's next message.
-- `ticket_from` is the conversation's `context_from` while the surveyed ticket was open:
-- one survey per ticket.
CREATE TABLE surveys (
    id               INTEGER PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants(id),
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id),
    ticket_from      INTEGER NOT NULL,
    reason           TEXT    NOT NULL,
    message_id       INTEGER,
    rating           INTEGER,
    answer           TEXT,
    answered_at      INTEGER,
    dismissed_at     INTEGER,
    correlation_id   TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    UNIQUE (conversation_id, ticket_from)
);
CREATE INDEX surveys_tenant ON surveys (tenant_id, id);
CREATE INDEX surveys_rated ON surveys (answered_at) WHERE rating IS NOT NULL;
-- The survey waiting for this customer's answer, and when it was asked.
ALTER TABLE conversations ADD COLUMN survey_id INTEGER;
ALTER TABLE conversations ADD COLUMN survey_at INTEGER;
