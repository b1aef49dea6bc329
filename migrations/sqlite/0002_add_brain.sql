-- What the brain needs: knowledge base, persona history, context resets, mood and guard state.

-- A tenant's knowledge base. `question_key` is the normalised question, the natural key an
-- import updates by.
CREATE TABLE knowledge_entries (
    id            INTEGER PRIMARY KEY,
    tenant_id     INTEGER NOT NULL REFERENCES tenants(id),
    question_key  TEXT    NOT NULL,
    title         TEXT,
    question      TEXT    NOT NULL,
    answer        TEXT    NOT NULL,
    tags          TEXT    NOT NULL DEFAULT '[]',
    enabled       INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL,
    UNIQUE (tenant_id, question_key)
);

-- Every persona a tenant has had, newest = current; rollback copies an old one forward.
CREATE TABLE persona_versions (
    id          INTEGER PRIMARY KEY,
    tenant_id   INTEGER NOT NULL REFERENCES tenants(id),
    version     INTEGER NOT NULL,
    persona     TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    UNIQUE (tenant_id, version)
);

-- Messages before `context_from` belong to an earlier (closed) ticket and stay out of prompts.
ALTER TABLE conversations ADD COLUMN context_from INTEGER NOT NULL DEFAULT 0;
-- Injection attempts seen in this ticket (two lead to a handoff).
ALTER TABLE conversations ADD COLUMN guard_strikes INTEGER NOT NULL DEFAULT 0;
-- Consecutive strongly negative bursts (repeated anger leads to a handoff).
ALTER TABLE conversations ADD COLUMN negative_streak INTEGER NOT NULL DEFAULT 0;
-- Polarity in [-1, 1] of inbound messages.
ALTER TABLE messages ADD COLUMN sentiment REAL;
