-- CSAT surveys: asked once per ticket when it closes (the helpdesk closed it, or nobody
-- wrote for the tenant's idle period) and answered by the customer's next message.
-- `ticket_from` is the conversation's `context_from` while the surveyed ticket was open:
-- one survey per ticket.
CREATE TABLE surveys (
    id               BIGSERIAL PRIMARY KEY,
    tenant_id        BIGINT  NOT NULL REFERENCES tenants(id),
    conversation_id  BIGINT  NOT NULL REFERENCES conversations(id),
    ticket_from      BIGINT  NOT NULL,
    reason           TEXT    NOT NULL,
    message_id       BIGINT,
    rating           BIGINT,
    answer           TEXT,
    answered_at      BIGINT,
    dismissed_at     BIGINT,
    correlation_id   TEXT    NOT NULL,
    created_at       BIGINT  NOT NULL,
    UNIQUE (conversation_id, ticket_from)
);
CREATE INDEX surveys_tenant ON surveys (tenant_id, id);
CREATE INDEX surveys_rated ON surveys (answered_at) WHERE rating IS NOT NULL;
-- The survey waiting for this customer's answer, and when it was asked.
ALTER TABLE conversations ADD COLUMN survey_id BIGINT;
ALTER TABLE conversations ADD COLUMN survey_at BIGINT;
