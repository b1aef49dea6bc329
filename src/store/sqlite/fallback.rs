//! Answers the helpdesk would not take, on SQLite: the message is marked and its
//! `fallback` jobs queued in one transaction, once.

use async_trait::async_trait;
use rusqlite::params;

use super::sql::{execute, query_all};
use super::{SqliteStore, ms};
use crate::domain::MessageId;
use crate::store::{FallbackStore, NewFallback, Result};

#[async_trait]
impl FallbackStore for SqliteStore {
    async fn queue_fallback(&self, fallback: NewFallback<'_>) -> Result<bool> {
        let jobs: Vec<(String, String)> = fallback.jobs().map(|(key, payload)| (key, payload.to_string())).collect();
        let (message, now, max_attempts) =
            (fallback.message, ms(fallback.now), i64::from(fallback.max_attempts.max(1)));
        let (tenant, correlation_id) = (fallback.job.tenant_id, fallback.job.correlation_id.clone());
        self.writer
            .write(move |conn| {
                let marked = execute(
                    conn,
                    "UPDATE messages SET fallback_at = ?1 WHERE id = ?2 AND fallback_at IS NULL",
                    params![now, message.0],
                )?;
                if marked == 0 {
                    return Ok(false);
                }
                for (key, payload) in &jobs {
                    execute(
                        conn,
                        "INSERT INTO jobs (tenant_id, kind, key, payload, max_attempts, run_at, correlation_id, created_at, updated_at)
                         VALUES (?1, 'fallback', ?2, ?3, ?4, ?5, ?6, ?5, ?5)",
                        params![tenant.0, key, payload, max_attempts, now, correlation_id.as_str()],
                    )?;
                }
                Ok(true)
            })
            .await
    }

    async fn answered_messages(&self, message: MessageId) -> Result<Vec<String>> {
        self.readers
            .read(move |conn| {
                query_all(
                    conn,
                    "SELECT m.body FROM messages m JOIN messages answer ON answer.id = ?1
                     WHERE m.conversation_id = answer.conversation_id AND m.direction = 'inbound' AND m.id < answer.id
                       AND m.id > COALESCE((SELECT MAX(p.id) FROM messages p
                                            WHERE p.conversation_id = answer.conversation_id
                                              AND p.direction IN ('outbound', 'agent') AND p.created_at < answer.created_at), 0)
                     ORDER BY m.id",
                    params![message.0],
                    |row| Ok(row.get(0)?),
                )
            })
            .await
    }
}
