-- Core tables of the scale-out store: tenants, conversations, messages, jobs.
-- Same tables, columns and indexes as migrations/sqlite/0001. Times are Unix milliseconds
-- (BIGINT) and JSON is kept as TEXT, so rows decode exactly as they do on SQLite.

-- A business served by Atende; `settings` is the tenant file as applied (JSON).
CREATE TABLE tenants (
    id          BIGSERIAL PRIMARY KEY,
    slug        TEXT      NOT NULL UNIQUE,
    name        TEXT      NOT NULL,
    settings    TEXT      NOT NULL,
    created_at  BIGINT    NOT NULL,
    updated_at  BIGINT    NOT NULL
);

-- One thread per tenant + contact. `replied_upto` is the last inbound message id a reply
-- job has covered, so each burst is answered once. Writers that must not interleave on a
-- conversation (ingress, agent takeover, the end of a reply) lock this row first.
CREATE TABLE conversations (
    id            BIGSERIAL PRIMARY KEY,
    tenant_id     BIGINT    NOT NULL REFERENCES tenants(id),
    contact       TEXT      NOT NULL,
    contact_name  TEXT,
    ticket_id     TEXT,
    state         TEXT      NOT NULL DEFAULT 'bot',
    replied_upto  BIGINT    NOT NULL DEFAULT 0,
    created_at    BIGINT    NOT NULL,
    updated_at    BIGINT    NOT NULL,
    UNIQUE (tenant_id, contact)
);

-- Every inbound, outbound and agent message. `provider_id` is unique per tenant
-- (deduplication); outbound rows have none until the provider returns one.
CREATE TABLE messages (
    id               BIGSERIAL PRIMARY KEY,
    tenant_id        BIGINT    NOT NULL REFERENCES tenants(id),
    conversation_id  BIGINT    NOT NULL REFERENCES conversations(id),
    provider_id      TEXT,
    direction        TEXT      NOT NULL,
    body             TEXT      NOT NULL,
    status           TEXT      NOT NULL,
    correlation_id   TEXT      NOT NULL,
    meta             TEXT,
    sent_at          BIGINT,
    created_at       BIGINT    NOT NULL
);
CREATE UNIQUE INDEX messages_provider_id ON messages (tenant_id, provider_id);
CREATE INDEX messages_conversation ON messages (conversation_id, id);

-- The queue. Jobs of one key run one at a time in id order; `state = 'dead'` is the
-- dead-letter queue. `history` is a JSON array of failed attempts.
CREATE TABLE jobs (
    id              BIGSERIAL PRIMARY KEY,
    tenant_id       BIGINT    NOT NULL REFERENCES tenants(id),
    kind            TEXT      NOT NULL,
    key             TEXT      NOT NULL,
    payload         TEXT      NOT NULL,
    state           TEXT      NOT NULL DEFAULT 'queued',
    attempts        BIGINT    NOT NULL DEFAULT 0,
    max_attempts    BIGINT    NOT NULL,
    run_at          BIGINT    NOT NULL,
    not_after       BIGINT,
    lease_owner     TEXT,
    lease_until     BIGINT,
    last_error      TEXT,
    history         TEXT      NOT NULL DEFAULT '[]',
    correlation_id  TEXT      NOT NULL,
    created_at      BIGINT    NOT NULL,
    updated_at      BIGINT    NOT NULL
);
-- The race guard: at most one running job per key (a second claimer gets 23505).
CREATE UNIQUE INDEX jobs_one_running_per_key ON jobs (key) WHERE state = 'running';
-- Heads of keys among live jobs.
CREATE INDEX jobs_live_by_key ON jobs (key, id) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_live_by_time ON jobs (run_at) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_state_kind ON jobs (state, kind);
