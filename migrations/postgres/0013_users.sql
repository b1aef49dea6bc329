-- People who run Atende: panel logins and admin API tokens, with roles, and the audit log
-- of every login and change. Times are unix milliseconds, like everywhere else.
CREATE TABLE users (
    id               BIGSERIAL PRIMARY KEY,
    -- Lowercased; the login name.
    email            TEXT     NOT NULL UNIQUE,
    -- argon2id, PHC string.
    password_hash    TEXT     NOT NULL,
    -- admin | operator | viewer
    role             TEXT     NOT NULL,
    disabled_at      BIGINT,
    -- Failed logins since the last success (the lockout counter) and the lock's end.
    failed_logins    BIGINT   NOT NULL DEFAULT 0,
    locked_until     BIGINT,
    created_at       BIGINT   NOT NULL,
    updated_at       BIGINT   NOT NULL
);

-- Admin API tokens: only the SHA-256 of the token is kept (shown once, at creation).
CREATE TABLE api_tokens (
    id               BIGSERIAL PRIMARY KEY,
    user_id          BIGINT   NOT NULL REFERENCES users(id),
    name             TEXT     NOT NULL,
    token_hash       TEXT     NOT NULL UNIQUE,
    created_at       BIGINT   NOT NULL,
    expires_at       BIGINT,
    last_used_at     BIGINT,
    revoked_at       BIGINT
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Panel sessions: the cookie holds the token, the row its SHA-256; revocable.
CREATE TABLE sessions (
    token_hash       TEXT     PRIMARY KEY,
    user_id          BIGINT   NOT NULL REFERENCES users(id),
    csrf_token       TEXT     NOT NULL,
    ip               TEXT,
    created_at       BIGINT   NOT NULL,
    expires_at       BIGINT   NOT NULL,
    revoked_at       BIGINT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Who did what, when, from where; `before` / `after` are JSON with secrets redacted.
-- Append-only: the trigger refuses any change.
CREATE TABLE audit_log (
    id               BIGSERIAL PRIMARY KEY,
    at               BIGINT   NOT NULL,
    actor            TEXT     NOT NULL,
    user_id          BIGINT,
    action           TEXT     NOT NULL,
    target           TEXT,
    ip               TEXT,
    success          BOOLEAN  NOT NULL,
    before           JSONB,
    after            JSONB
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN RAISE EXCEPTION 'the audit log is append-only'; END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
