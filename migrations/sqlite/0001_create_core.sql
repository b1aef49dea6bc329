-- Core tables of the embedded store: tenants, conversations, messages, jobs.
-- Times are Unix milliseconds (INTEGER) so ordering and arithmetic are plain integer maths.

-- A business served by Atende; `settings` is the tenant file as applied (JSON).
CREATE TABLE tenants (
    id          INTEGER PRIMARY KEY,
    slug        TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    settings    TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

-- One thread per tenant + contact. `replied_upto` is the last inbound message id a reply
-- job has covered, so each burst is answered once.
CREATE TABLE conversations (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    contact       TEXT    NOT NULL,
    contact_name  TEXT,
    ticket_id     TEXT,
    state         TEXT    NOT NULL DEFAULT 'bot',
    replied_upto  INTEGER NOT NULL DEFAULT 0,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (tenant_id, contact)
);

-- Every inbound, outbound and agent message. `provider_id` is unique per tenant
-- (deduplication); outbound rows have none until the provider returns one.
CREATE TABLE messages (
    id               INTEGER PRIMARY KEY,
    tenant_id        INTEGER NOT NULL REFERENCES tenants(id),
    conversation_id  INTEGER NOT NULL REFERENCES conversations(id),
    provider_id      TEXT,
    direction        TEXT    NOT NULL,
    body             TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    correlation_id   TEXT    NOT NULL,
    meta             TEXT,
    sent_at          INTEGER,
    created_at       INTEGER NOT NULL
);
CREATE UNIQUE INDEX messages_provider_id ON messages (tenant_id, provider_id);
CREATE INDEX messages_conversation ON messages (conversation_id, id);

-- The queue. Jobs of one key run one at a time in id order; `state = 'dead'` is the
-- dead-letter queue. `history` is a JSON array of failed attempts.
CREATE TABLE jobs (
    id              INTEGER PRIMARY KEY,
    tenant_id       INTEGER NOT NULL REFERENCES tenants(id),
    kind            TEXT    NOT NULL,
    key             TEXT    NOT NULL,
    payload         TEXT    NOT NULL,
    state           TEXT    NOT NULL DEFAULT 'queued',
    attempts        INTEGER NOT NULL DEFAULT 0,
    max_attempts    INTEGER NOT NULL,
    run_at          INTEGER NOT NULL,
    not_after       INTEGER,
    lease_owner     TEXT,
    lease_until     INTEGER,
    last_error      TEXT,
    history         TEXT    NOT NULL DEFAULT '[]',
    correlation_id  TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
-- The race guard: at most one running job per key.
CREATE UNIQUE INDEX jobs_one_running_per_key ON jobs (key) WHERE state = 'running';
-- Heads of keys among live jobs.
CREATE INDEX jobs_live_by_key ON jobs (key, id) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_live_by_time ON jobs (run_at) WHERE state IN ('queued', 'running');
CREATE INDEX jobs_state_kind ON jobs (state, kind);
