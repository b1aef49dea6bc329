//! Users, API tokens and the audit log on SQLite.

use async_trait::async_trait;
use rusqlite::{Row, params};
use time::OffsetDateTime;

use super::sql::{execute, query_all, query_opt};
use super::{SqliteStore, corrupt, from_ms, ms};
use crate::domain::{Email, UserId, UserRole};
use crate::store::{
    AccessStore, ApiTokenRecord, AuditFilter, AuditRecord, LockPolicy, NewAudit, NewSession, NewUser, Result, Session,
    User, UserChange, UserCredentials, token_use_is_stale,
};

const USER_COLUMNS: &str = "id, email, role, disabled_at, failed_logins, locked_until, created_at";

fn user_from_row(row: &Row<'_>) -> Result<User> {
    user_at(row, 0)
}

/// The user whose `USER_COLUMNS` start at column `at`.
fn user_at(row: &Row<'_>, at: usize) -> Result<User> {
    Ok(User {
        id: UserId(row.get(at)?),
        email: Email::from_stored(row.get(at + 1)?),
        role: UserRole::from_stored(&row.get::<_, String>(at + 2)?),
        disabled: row.get::<_, Option<i64>>(at + 3)?.is_some(),
        failed_logins: u32::try_from(row.get::<_, i64>(at + 4)?).unwrap_or(u32::MAX),
        locked_until: row.get::<_, Option<i64>>(at + 5)?.map(from_ms),
        created_at: from_ms(row.get(at + 6)?),
    })
}

fn token_from_row(row: &Row<'_>) -> Result<ApiTokenRecord> {
    Ok(ApiTokenRecord {
        id: row.get(0)?,
        user_id: UserId(row.get(1)?),
        email: Email::from_stored(row.get(2)?),
        name: row.get(3)?,
        created_at: from_ms(row.get(4)?),
        expires_at: row.get::<_, Option<i64>>(5)?.map(from_ms),
        last_used_at: row.get::<_, Option<i64>>(6)?.map(from_ms),
        revoked_at: row.get::<_, Option<i64>>(7)?.map(from_ms),
    })
}

fn json_column(row: &Row<'_>, index: usize) -> Result<Option<serde_json::Value>> {
    row.get::<_, Option<String>>(index)?
        .map(|text| serde_json::from_str(&text).map_err(|e| corrupt(format!("audit_log: {e}"))))
        .transpose()
}

fn audit_from_row(row: &Row<'_>) -> Result<AuditRecord> {
    Ok(AuditRecord {
        id: row.get(0)?,
        at: from_ms(row.get(1)?),
        actor: row.get(2)?,
        user_id: row.get::<_, Option<i64>>(3)?.map(UserId),
        action: row.get(4)?,
        target: row.get(5)?,
        ip: row.get(6)?,
        success: row.get(7)?,
        before: json_column(row, 8)?,
        after: json_column(row, 9)?,
    })
}

#[async_trait]
impl AccessStore for SqliteStore {
    async fn create_user(&self, user: &NewUser<'_>, now: OffsetDateTime) -> Result<Option<UserId>> {
        let (email, hash, role) = (user.email.as_str().to_string(), user.password_hash.to_string(), user.role.as_str());
        self.writer
            .write(move |conn| {
                query_opt(
                    conn,
                    "INSERT INTO users (email, password_hash, role, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4)
                     ON CONFLICT (email) DO NOTHING RETURNING id",
                    params![email, hash, role, ms(now)],
                    |row| Ok(UserId(row.get(0)?)),
                )
            })
            .await
    }

    async fn find_user(&self, email: &Email) -> Result<Option<UserCredentials>> {
        let email = email.as_str().to_string();
        self.readers
            .read(move |conn| {
                query_opt(
                    conn,
                    &format!("SELECT {USER_COLUMNS}, password_hash FROM users WHERE email = ?1"),
                    params![email],
                    |row| Ok(UserCredentials { user: user_from_row(row)?, password_hash: row.get(7)? }),
                )
            })
            .await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.readers
            .read(|conn| {
                query_all(conn, &format!("SELECT {USER_COLUMNS} FROM users ORDER BY email"), [], user_from_row)
            })
            .await
    }

    async fn update_user(&self, user: UserId, change: &UserChange, now: OffsetDateTime) -> Result<bool> {
        let change = change.clone();
        self.writer
            .write(move |conn| {
                let disabled = change.disabled.map(|off| off.then_some(ms(now)));
                let changed = execute(
                    conn,
                    "UPDATE users SET role = COALESCE(?2, role), password_hash = COALESCE(?3, password_hash),
                            disabled_at = CASE WHEN ?4 THEN ?5 ELSE disabled_at END,
                            failed_logins = CASE WHEN ?3 IS NOT NULL THEN 0 ELSE failed_logins END,
                            locked_until = CASE WHEN ?3 IS NOT NULL THEN NULL ELSE locked_until END,
                            updated_at = ?6
                     WHERE id = ?1",
                    params![
                        user.0,
                        change.role.map(UserRole::as_str),
                        change.password_hash,
                        disabled.is_some(),
                        disabled.flatten(),
                        ms(now)
                    ],
                )?;
                if changed == 1 && (change.password_hash.is_some() || change.disabled == Some(true)) {
                    execute(
                        conn,
                        "UPDATE sessions SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
                        params![user.0, ms(now)],
                    )?;
                }
                Ok(changed == 1)
            })
            .await
    }

    async fn record_login(
        &self,
        user: UserId,
        success: bool,
        policy: LockPolicy,
        now: OffsetDateTime,
    ) -> Result<Option<OffsetDateTime>> {
        self.writer
            .write(move |conn| {
                let locked = if success {
                    execute(
                        conn,
                        "UPDATE users SET failed_logins = 0, locked_until = NULL WHERE id = ?1",
                        params![user.0],
                    )?;
                    None
                } else {
                    query_opt(
                        conn,
                        "UPDATE users SET failed_logins = failed_logins + 1,
                                locked_until = CASE WHEN failed_logins + 1 >= ?2 THEN ?3 ELSE locked_until END
                         WHERE id = ?1 RETURNING locked_until",
                        params![user.0, i64::from(policy.after_failures), ms(now + policy.lock_for)],
                        |row| Ok(row.get::<_, Option<i64>>(0)?),
                    )?
                    .flatten()
                    .map(from_ms)
                };
                Ok(locked)
            })
            .await
    }

    async fn create_api_token(
        &self,
        user: UserId,
        name: &str,
        digest: &str,
        expires_at: Option<OffsetDateTime>,
        now: OffsetDateTime,
    ) -> Result<i64> {
        let (name, digest) = (name.to_string(), digest.to_string());
        self.writer
            .write(move |conn| {
                super::sql::query_one(
                    conn,
                    "INSERT INTO api_tokens (user_id, name, token_hash, created_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) RETURNING id",
                    params![user.0, name, digest, ms(now), expires_at.map(ms)],
                    |row| Ok(row.get(0)?),
                )
            })
            .await
    }

    async fn token_user(&self, digest: &str, now: OffsetDateTime) -> Result<Option<(i64, User)>> {
        let digest = digest.to_string();
        let found = self
            .readers
            .read(move |conn| {
                query_opt(
                    conn,
                    "SELECT t.id, t.last_used_at, u.id, u.email, u.role, u.disabled_at, u.failed_logins,
                            u.locked_until, u.created_at
                     FROM api_tokens t JOIN users u ON u.id = t.user_id
                     WHERE t.token_hash = ?1 AND t.revoked_at IS NULL AND (t.expires_at IS NULL OR t.expires_at > ?2)
                       AND u.disabled_at IS NULL",
                    params![digest, ms(now)],
                    |row| Ok((row.get::<_, i64>(0)?, row.get::<_, Option<i64>>(1)?.map(from_ms), user_at(row, 2)?)),
                )
            })
            .await?;
        let Some((id, last_used, user)) = found else { return Ok(None) };
        if token_use_is_stale(last_used, now) {
            self.writer
                .write(move |conn| {
                    execute(conn, "UPDATE api_tokens SET last_used_at = ?2 WHERE id = ?1", params![id, ms(now)])
                })
                .await?;
        }
        Ok(Some((id, user)))
    }

    async fn create_session(&self, session: &NewSession<'_>, now: OffsetDateTime) -> Result<()> {
        let (user, digest, csrf, ip) =
            (session.user, session.digest.to_string(), session.csrf.to_string(), session.ip.to_string());
        let expires = session.expires_at;
        self.writer
            .write(move |conn| {
                execute(
                    conn,
                    "INSERT INTO sessions (token_hash, user_id, csrf_token, ip, created_at, expires_at)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![digest, user.0, csrf, ip, ms(now), ms(expires)],
                )
            })
            .await
            .map(drop)
    }

    async fn find_session(&self, digest: &str, now: OffsetDateTime) -> Result<Option<Session>> {
        let digest = digest.to_string();
        self.readers
            .read(move |conn| {
                query_opt(
                    conn,
                    "SELECT s.csrf_token, s.expires_at, u.id, u.email, u.role, u.disabled_at, u.failed_logins,
                            u.locked_until, u.created_at
                     FROM sessions s JOIN users u ON u.id = s.user_id
                     WHERE s.token_hash = ?1 AND s.revoked_at IS NULL AND s.expires_at > ?2 AND u.disabled_at IS NULL",
                    params![digest, ms(now)],
                    |row| Ok(Session { csrf: row.get(0)?, expires_at: from_ms(row.get(1)?), user: user_at(row, 2)? }),
                )
            })
            .await
    }

    async fn revoke_session(&self, digest: &str, now: OffsetDateTime) -> Result<bool> {
        let digest = digest.to_string();
        self.writer
            .write(move |conn| {
                execute(
                    conn,
                    "UPDATE sessions SET revoked_at = ?2 WHERE token_hash = ?1 AND revoked_at IS NULL",
                    params![digest, ms(now)],
                )
            })
            .await
            .map(|changed| changed == 1)
    }

    async fn list_api_tokens(&self, user: Option<UserId>) -> Result<Vec<ApiTokenRecord>> {
        self.readers
            .read(move |conn| {
                query_all(
                    conn,
                    "SELECT t.id, t.user_id, u.email, t.name, t.created_at, t.expires_at, t.last_used_at, t.revoked_at
                     FROM api_tokens t JOIN users u ON u.id = t.user_id
                     WHERE ?1 IS NULL OR t.user_id = ?1 ORDER BY t.id DESC",
                    params![user.map(|u| u.0)],
                    token_from_row,
                )
            })
            .await
    }

    async fn revoke_api_token(&self, id: i64, now: OffsetDateTime) -> Result<bool> {
        self.writer
            .write(move |conn| {
                Ok(execute(
                    conn,
                    "UPDATE api_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL",
                    params![id, ms(now)],
                )? == 1)
            })
            .await
    }

    async fn append_audit(&self, entry: &NewAudit<'_>) -> Result<i64> {
        let values = (
            ms(entry.at),
            entry.actor.to_string(),
            entry.user_id.map(|u| u.0),
            entry.action.to_string(),
            entry.target.map(str::to_string),
            entry.ip.map(str::to_string),
            entry.success,
            entry.before.as_ref().map(ToString::to_string),
            entry.after.as_ref().map(ToString::to_string),
        );
        self.writer
            .write(move |conn| {
                let (at, actor, user, action, target, ip, success, before, after) = values;
                super::sql::query_one(
                    conn,
                    "INSERT INTO audit_log (at, actor, user_id, action, target, ip, success, before, after)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) RETURNING id",
                    params![at, actor, user, action, target, ip, success, before, after],
                    |row| Ok(row.get(0)?),
                )
            })
            .await
    }

    async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let filter = filter.clone();
        self.readers
            .read(move |conn| {
                let prefix = filter
                    .action
                    .as_ref()
                    .map(|a| format!("{}%", a.replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_")));
                query_all(
                    conn,
                    "SELECT id, at, actor, user_id, action, target, ip, success, before, after FROM audit_log
                     WHERE (?1 IS NULL OR actor = ?1) AND (?2 IS NULL OR action LIKE ?2 ESCAPE '\\')
                       AND (?3 IS NULL OR id < ?3)
                     ORDER BY id DESC LIMIT ?4",
                    params![filter.actor, prefix, filter.before_id, i64::from(filter.limit)],
                    audit_from_row,
                )
            })
            .await
    }
}
