//! Users, API tokens and the audit log on PostgreSQL.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::types::Json;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

use super::{PgStore, from_ms, ms};
use crate::domain::{Email, UserId, UserRole};
use crate::store::{
    AccessStore, ApiTokenRecord, AuditFilter, AuditRecord, LockPolicy, NewAudit, NewSession, NewUser, Result, Session,
    User, UserChange, UserCredentials, token_use_is_stale,
};

fn user_from_row(row: &PgRow) -> User {
    User {
        id: UserId(row.get("id")),
        email: Email::from_stored(row.get("email")),
        role: UserRole::from_stored(row.get("role")),
        disabled: row.get::<Option<i64>, _>("disabled_at").is_some(),
        failed_logins: u32::try_from(row.get::<i64, _>("failed_logins")).unwrap_or(u32::MAX),
        locked_until: row.get::<Option<i64>, _>("locked_until").map(from_ms),
        created_at: from_ms(row.get("created_at")),
    }
}

fn token_from_row(row: &PgRow) -> ApiTokenRecord {
    ApiTokenRecord {
        id: row.get("id"),
        user_id: UserId(row.get("user_id")),
        email: Email::from_stored(row.get("email")),
        name: row.get("name"),
        created_at: from_ms(row.get("created_at")),
        expires_at: row.get::<Option<i64>, _>("expires_at").map(from_ms),
        last_used_at: row.get::<Option<i64>, _>("last_used_at").map(from_ms),
        revoked_at: row.get::<Option<i64>, _>("revoked_at").map(from_ms),
    }
}

fn audit_from_row(row: &PgRow) -> AuditRecord {
    AuditRecord {
        id: row.get("id"),
        at: from_ms(row.get("at")),
        actor: row.get("actor"),
        user_id: row.get::<Option<i64>, _>("user_id").map(UserId),
        action: row.get("action"),
        target: row.get("target"),
        ip: row.get("ip"),
        success: row.get("success"),
        before: row.get::<Option<Json<serde_json::Value>>, _>("before").map(|j| j.0),
        after: row.get::<Option<Json<serde_json::Value>>, _>("after").map(|j| j.0),
    }
}

/// Ends every live panel session of `user` (after a password change or a disable).
async fn revoke_sessions(conn: &mut PgConnection, user: UserId, now: OffsetDateTime) -> Result<()> {
    sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE user_id = $1 AND revoked_at IS NULL")
        .bind(user.0)
        .bind(ms(now))
        .execute(conn)
        .await?;
    Ok(())
}

#[async_trait]
impl AccessStore for PgStore {
    async fn create_user(&self, user: &NewUser<'_>, now: OffsetDateTime) -> Result<Option<UserId>> {
        let id: Option<i64> = sqlx::query_scalar(
            "INSERT INTO users (email, password_hash, role, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (email) DO NOTHING RETURNING id",
        )
        .bind(user.email.as_str())
        .bind(user.password_hash)
        .bind(user.role.as_str())
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await?;
        Ok(id.map(UserId))
    }

    async fn find_user(&self, email: &Email) -> Result<Option<UserCredentials>> {
        let row = sqlx::query(
            "SELECT id, email, role, disabled_at, failed_logins, locked_until, created_at, password_hash
             FROM users WHERE email = $1",
        )
        .bind(email.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| UserCredentials { user: user_from_row(&row), password_hash: row.get("password_hash") }))
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        let rows = sqlx::query(
            "SELECT id, email, role, disabled_at, failed_logins, locked_until, created_at FROM users ORDER BY email",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(user_from_row).collect())
    }

    async fn update_user(&self, user: UserId, change: &UserChange, now: OffsetDateTime) -> Result<bool> {
        let disabled = change.disabled.map(|off| off.then_some(ms(now)));
        let mut tx = self.pool.begin().await?;
        let changed = sqlx::query(
            "UPDATE users SET role = COALESCE($2, role), password_hash = COALESCE($3, password_hash),
                    disabled_at = CASE WHEN $4 THEN $5 ELSE disabled_at END,
                    failed_logins = CASE WHEN $3 IS NOT NULL THEN 0 ELSE failed_logins END,
                    locked_until = CASE WHEN $3 IS NOT NULL THEN NULL ELSE locked_until END,
                    updated_at = $6
             WHERE id = $1",
        )
        .bind(user.0)
        .bind(change.role.map(UserRole::as_str))
        .bind(change.password_hash.as_deref())
        .bind(disabled.is_some())
        .bind(disabled.flatten())
        .bind(ms(now))
        .execute(&mut *tx)
        .await?
        .rows_affected()
            == 1;
        if changed && (change.password_hash.is_some() || change.disabled == Some(true)) {
            revoke_sessions(&mut tx, user, now).await?;
        }
        tx.commit().await?;
        Ok(changed)
    }

    async fn record_login(
        &self,
        user: UserId,
        success: bool,
        policy: LockPolicy,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>> {
        if success {
            sqlx::query("UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = $1")
                .bind(user.0)
                .execute(&self.pool)
                .await?;
            return Ok(None);
        }
        // One statement, so concurrent failures each count.
        let locked: Option<Option<i64>> = sqlx::query_scalar(
            "UPDATE users SET failed_logins = failed_logins + 1,
                    locked_until = CASE WHEN failed_logins + 1 >= $2 THEN $3 ELSE locked_until END
             WHERE id = $1 RETURNING locked_until",
        )
        .bind(user.0)
        .bind(i64::from(policy.after_failures))
        .bind(ms(now + policy.lock_for))
        .fetch_optional(&self.pool)
        .await?;
        Ok(locked.flatten().map(from_ms))
    }

    async fn create_api_token(
        &self,
        user: UserId,
        name: &str,
        digest: &str,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(user.0)
        .bind(name)
        .bind(digest)
        .bind(ms(now))
        .bind(expires_at.map(ms))
        .fetch_one(&self.pool)
        .await?)
    }

    async fn token_user(&self, digest: &str, now: OffsetDateTime) -> Result<Option<(i64, User)>> {
        let row = sqlx::query(
            "SELECT t.id AS token_id, t.last_used_at, u.id, u.email, u.role, u.disabled_at, u.failed_logins,
                    u.locked_until, u.created_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > $2)
               AND u.disabled_at IS NULL",
        )
        .bind(digest)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let id: i64 = row.get("token_id");
        if token_use_is_stale(row.get::<Option<i64>, _>("last_used_at").map(from_ms), now) {
            sqlx::query("UPDATE api_tokens SET last_used_at = $2 WHERE id = $1")
                .bind(id)
                .bind(ms(now))
                .execute(&self.pool)
                .await?;
        }
        Ok(Some((id, user_from_row(&row))))
    }

    async fn create_session(&self, session: &NewSession<'_>, now: OffsetDateTime) -> Result<()> {
        sqlx::query(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, ip, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(session.digest)
        .bind(session.user.0)
        .bind(session.csrf)
        .bind(session.ip)
        .bind(ms(now))
        .bind(ms(session.expires_at))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn find_session(&self, digest: &str, now: OffsetDateTime) -> Result<Option<Session>> {
        let row = sqlx::query(
            "SELECT s.csrf_token, s.expires_at AS session_expires_at, u.id, u.email, u.role, u.disabled_at,
                    u.failed_logins, u.locked_until, u.created_at
             FROM sessions s JOIN users u ON u.id = s.user_id
             WHERE s.token_hash = $1 AND s.revoked_at IS NULL AND s.expires_at > $2 AND u.disabled_at IS NULL",
        )
        .bind(digest)
        .bind(ms(now))
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|row| Session {
            csrf: row.get("csrf_token"),
            expires_at: from_ms(row.get("session_expires_at")),
            user: user_from_row(&row),
        }))
    }

    async fn revoke_session(&self, digest: &str, now: OffsetDateTime) -> Result<bool> {
        let done = sqlx::query("UPDATE sessions SET revoked_at = $2 WHERE token_hash = $1 AND revoked_at IS NULL")
            .bind(digest)
            .bind(ms(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn list_api_tokens(&self, user: Option<UserId>) -> Result<Vec<ApiTokenRecord>> {
        let rows = sqlx::query(
            "SELECT t.id, t.user_id, u.email, t.name, t.created_at, t.expires_at, t.last_used_at, t.revoked_at
             FROM api_tokens t JOIN users u ON u.id = t.user_id
             WHERE $1::BIGINT IS NULL OR t.user_id = $1 ORDER BY t.id DESC",
        )
        .bind(user.map(|u| u.0))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(token_from_row).collect())
    }

    async fn revoke_api_token(&self, id: i64, now: OffsetDateTime) -> Result<bool> {
        let done = sqlx::query("UPDATE api_tokens SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(ms(now))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn append_audit(&self, entry: &NewAudit<'_>) -> Result<i64> {
        Ok(sqlx::query_scalar(
            "INSERT INTO audit_log (at, actor, user_id, action, target, ip, success, before, after)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(ms(entry.at))
        .bind(entry.actor)
        .bind(entry.user_id.map(|u| u.0))
        .bind(entry.action)
        .bind(entry.target)
        .bind(entry.ip)
        .bind(entry.success)
        .bind(entry.before.as_ref().map(Json))
        .bind(entry.after.as_ref().map(Json))
        .fetch_one(&self.pool)
        .await?)
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let prefix = filter
            .action
            .as_ref()
            .map(|a| format!("{}%", a.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
        let rows = sqlx::query(
            "SELECT id, at, actor, user_id, action, target, ip, success, before, after FROM audit_log
             WHERE ($1::TEXT IS NULL OR actor = $1) AND ($2::TEXT IS NULL OR action LIKE $2 ESCAPE '\\')
               AND ($3::BIGINT IS NULL OR id < $3)
             ORDER BY id DESC LIMIT $4",
        )
        .bind(filter.actor.as_deref())
        .bind(prefix)
        .bind(filter.before_id)
        .bind(i64::from(filter.limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(audit_from_row).collect())
    }
}
