-- What the brain needs: knowledge base, persona history, context resets, mood and guard state.
-- Same tables and columns as migrations/sqlite/0002. Ranking is done in Rust by `knowledge`,
-- so no tsvector column is needed here.

-- A tenant's knowledge base. `question_key` is the normalised question, the natural key an
-- import updates by.
CREATE TABLE knowledge_entries (
    id            BIGSERIAL PRIMARY KEY,
    tenant_id     BIGINT    NOT NULL REFERENCES tenants(id),
    question_key  TEXT      NOT NULL,
    title         TEXT,
    question      TEXT      NOT NULL,
    answer        TEXT      NOT NULL,
    tags          TEXT      NOT NULL DEFAULT '[]',
    enabled       BOOLEAN   NOT NULL DEFAULT TRUE,
    created_at    BIGINT    NOT NULL,
    updated_at    BIGINT    NOT NULL,
    UNIQUE (tenant_id, question_key)
);

-- Every persona a tenant has had, newest = current; rollback copies an old one forward.
CREATE TABLE persona_versions (
    id          BIGSERIAL PRIMARY KEY,
    tenant_id   BIGINT    NOT NULL REFERENCES tenants(id),
    version     BIGINT    NOT NULL,
    persona     TEXT      NOT NULL,
    created_at  BIGINT    NOT NULL,
    UNIQUE (tenant_id, version)
);

-- Messages before `context_from` belong to an earlier (closed) ticket and stay out of prompts.
ALTER TABLE conversations ADD COLUMN context_from BIGINT NOT NULL DEFAULT 0;
-- Injection attempts seen in this ticket (two lead to a handoff).
ALTER TABLE conversations ADD COLUMN guard_strikes BIGINT NOT NULL DEFAULT 0;
-- Consecutive strongly negative bursts (repeated anger leads to a handoff).
ALTER TABLE conversations ADD COLUMN negative_streak BIGINT NOT NULL DEFAULT 0;
-- Polarity in [-1, 1] of inbound messages (read as f64, like SQLite's REAL).
ALTER TABLE messages ADD COLUMN sentiment DOUBLE PRECISION;
