//! Users, admin API tokens and the audit log, for the admin API and the panel.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::Result;
use crate::domain::{Email, UserId, UserRole};

/// A person who runs Atende.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Row id.
    pub id: UserId,
    /// Login.
    pub email: Email,
    /// What they may do.
    pub role: UserRole,
    /// Disabled users cannot log in, and their tokens and sessions stop working.
    pub disabled: bool,
    /// Failed logins since the last success.
    pub failed_logins: u32,
    /// Logins are refused until then.
    pub locked_until: Option<OffsetDateTime>,
    /// Creation time.
    pub created_at: OffsetDateTime,
}

/// A user with their password hash (for the login check only).
#[derive(Debug, Clone)]
pub struct UserCredentials {
    /// The user.
    pub user: User,
    /// argon2id PHC string.
    pub password_hash: String,
}

/// A user to create.
#[derive(Debug, Clone)]
pub struct NewUser<'a> {
    /// Login.
    pub email: &'a Email,
    /// argon2id PHC string.
    pub password_hash: &'a str,
    /// Role.
    pub role: UserRole,
}

/// Changes to a user; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    /// New role.
    pub role: Option<UserRole>,
    /// New password hash (ends the user's panel sessions).
    pub password_hash: Option<String>,
    /// Disable (true) or enable again (false); disabling ends the user's panel sessions.
    pub disabled: Option<bool>,
}

/// A stored admin API token (never the token itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub user_id: UserId,
    /// Owner's login.
    pub email: Email,
    /// What it is for (`n8n`, `backoffice`, ...).
    pub name: String,
    /// Creation time.
    pub created_at: OffsetDateTime,
    /// It stops working then.
    pub expires_at: Option<OffsetDateTime>,
    /// Last request it authenticated (to the minute).
    pub last_used_at: Option<OffsetDateTime>,
    /// Revoked then.
    pub revoked_at: Option<OffsetDateTime>,
}

/// A panel session to store (the cookie carries the secret, the row its digest).
#[derive(Debug, Clone)]
pub struct NewSession<'a> {
    /// Whose.
    pub user: UserId,
    /// SHA-256 of the cookie's secret.
    pub digest: &'a str,
    /// The session's CSRF token, carried by every form.
    pub csrf: &'a str,
    /// Where the login came from.
    pub ip: &'a str,
    /// It stops working then.
    pub expires_at: OffsetDateTime,
}

/// A live panel session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Its owner.
    pub user: User,
    /// The CSRF token every form of this session carries.
    pub csrf: String,
    /// It stops working then.
    pub expires_at: OffsetDateTime,
}

/// One audit entry to append.
#[derive(Debug, Clone)]
pub struct NewAudit<'a> {
    /// Who: a user's e-mail, `cli`, or the e-mail tried at a failed login.
    pub actor: &'a str,
    /// The user, when known.
    pub user_id: Option<UserId>,
    /// What: `login`, `conversation.handoff`, `token.create`, ...
    pub action: &'a str,
    /// On what: `tenant/contact`, `job:12`, a user's e-mail, ...
    pub target: Option<&'a str>,
    /// From where.
    pub ip: Option<&'a str>,
    /// Whether it worked (failed logins are kept too).
    pub success: bool,
    /// State before, secrets redacted.
    pub before: Option<serde_json::Value>,
    /// State after, secrets redacted.
    pub after: Option<serde_json::Value>,
    /// Clock.
    pub at: OffsetDateTime,
}

/// A stored audit entry.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditRecord {
    /// Row id (entries are never changed or removed).
    pub id: i64,
    /// When.
    pub at: OffsetDateTime,
    /// Who.
    pub actor: String,
    /// The user, when known.
    pub user_id: Option<UserId>,
    /// What.
    pub action: String,
    /// On what.
    pub target: Option<String>,
    /// From where.
    pub ip: Option<String>,
    /// Whether it worked.
    pub success: bool,
    /// State before.
    pub before: Option<serde_json::Value>,
    /// State after.
    pub after: Option<serde_json::Value>,
}

/// Which audit entries to list (newest first).
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this actor.
    pub actor: Option<String>,
    /// Only actions starting with this (`conversation.` matches every conversation action).
    pub action: Option<String>,
    /// Only entries with ids below this (paging).
    pub before_id: Option<i64>,
    /// At most this many.
    pub limit: u32,
}

/// Login throttling: this many failures in a row lock the account for `lock_for`.
#[derive(Debug, Clone, Copy)]
pub struct LockPolicy {
    /// Failures before the lock.
    pub after_failures: u32,
    /// How long the lock lasts.
    pub lock_for: time::Duration,
}

/// Users, their API tokens, and the audit log.
#[async_trait]
pub trait AccessStore {
    /// Creates a user; `None` when the e-mail is taken.
    async fn create_user(&self, user: &NewUser<'_>, now: OffsetDateTime) -> Result<Option<UserId>>;
    /// The user with this login, with their password hash.
    async fn find_user(&self, email: &Email) -> Result<Option<UserCredentials>>;
    /// Every user, by e-mail.
    async fn list_users(&self) -> Result<Vec<User>>;
    /// Applies `change`; false when there is no such user.
    async fn update_user(&self, user: UserId, change: &UserChange, now: OffsetDateTime) -> Result<bool>;
    /// Records a login attempt: a success clears the failure count, a failure adds to it and
    /// locks the account when the count reaches the policy's limit. The lock's end, if locked.
    async fn record_login(
        &self,
        user: UserId,
        success: bool,
        policy: LockPolicy,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>>;
    /// Stores a new API token's digest; its row id.
    async fn create_api_token(
        &self,
        user: UserId,
        name: &str,
        digest: &str,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<i64>;
    /// The enabled user a live (not revoked, not expired) token with this digest belongs
    /// to, with the token's id; notes the use (at most once a minute per token).
    async fn token_user(&self, digest: &str, now: OffsetDateTime) -> Result<Option<(i64, User)>>;
    /// API tokens, newest first (only `user`'s when given).
    async fn list_api_tokens(&self, user: Option<UserId>) -> Result<Vec<ApiTokenRecord>>;
    /// Revokes a token; false when it does not exist or was revoked already.
    async fn revoke_api_token(&self, id: i64, now: OffsetDateTime) -> Result<bool>;
    /// Stores a new panel session.
    async fn create_session(&self, session: &NewSession<'_>, now: OffsetDateTime) -> Result<()>;
    /// The live session (not revoked, not expired, owner enabled) with this digest.
    async fn find_session(&self, digest: &str, now: OffsetDateTime) -> Result<Option<Session>>;
    /// Ends a session (logout); false when it was not live.
    async fn revoke_session(&self, digest: &str, now: OffsetDateTime) -> Result<bool>;
    /// Appends one entry to the audit log.
    async fn append_audit(&self, entry: &NewAudit<'_>) -> Result<i64>;
    /// Audit entries, newest first.
    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>>;
}

/// Whether a token's last use is old enough to note a new one (at most once a minute, so
/// authenticating stays a read).
pub(crate) fn token_use_is_stale(last_used: Option<OffsetDateTime>, now: OffsetDateTime) -> bool {
    last_used.is_none_or(|at| now - at >= time::Duration::minutes(1))
}
