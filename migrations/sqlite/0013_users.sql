-- People who run Atende: panel logins and admin API tokens, with roles, and the audit log
-- of every login and change. Times are unix milliseconds, like everywhere else.
CREATE TABLE users (
    id               INTEGER PRIMARY KEY,
    -- Lowercased; the login name.
    email            TEXT     NOT NULL UNIQUE,
    -- argon2id, PHC string.
    password_hash    TEXT     NOT NULL,
    -- admin | operator | viewer
    role             TEXT     NOT NULL,
    disabled_at      INTEGER,
    -- Failed logins since the last success (the lockout counter) and the lock's end.
    failed_logins    INTEGER  NOT NULL DEFAULT 0,
    locked_until     INTEGER,
    created_at       INTEGER  NOT NULL,
    updated_at       INTEGER  NOT NULL
);

-- Admin API tokens: only the SHA-256 of the token is kept (shown once, at creation).
CREATE TABLE api_tokens (
    id               INTEGER PRIMARY KEY,
    user_id          INTEGER  NOT NULL REFERENCES users(id),
    name             TEXT     NOT NULL,
    token_hash       TEXT     NOT NULL UNIQUE,
    created_at       INTEGER  NOT NULL,
    expires_at       INTEGER,
    last_used_at     INTEGER,
    revoked_at       INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens (user_id);

-- Panel sessions: the cookie holds the token, the row its SHA-256; revocable.
CREATE TABLE sessions (
    token_hash       TEXT     PRIMARY KEY,
    user_id          INTEGER  NOT NULL REFERENCES users(id),
    csrf_token       TEXT     NOT NULL,
    ip               TEXT,
    created_at       INTEGER  NOT NULL,
    expires_at       INTEGER  NOT NULL,
    revoked_at       INTEGER
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Who did what, when, from where; `before` / `after` are JSON with secrets redacted.
-- Append-only: the triggers refuse any change.
CREATE TABLE audit_log (
    id               INTEGER PRIMARY KEY,
    at               INTEGER  NOT NULL,
    actor            TEXT     NOT NULL,
    user_id          INTEGER,
    action           TEXT     NOT NULL,
    target           TEXT,
    ip               TEXT,
    success          INTEGER  NOT NULL,
    before           TEXT,
    after            TEXT
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
