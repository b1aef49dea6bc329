//! Answers the helpdesk would not take, on PostgreSQL: the message is marked and its
//! `fallback` jobs queued in one transaction, once.

use async_trait::async_trait;
use sqlx::Row;

use super::{PgStore, ms};
use crate::domain::MessageId;
use crate::store::{FallbackStore, NewFallback, Result};

#[async_trait]
impl FallbackStore for PgStore {
    async fn queue_fallback(&self, fallback: NewFallback<'_>) -> Result<bool> {
        let now = ms(fallback.now);
        let mut tx = self.pool.begin().await?;
        let marked = sqlx::query("UPDATE messages SET fallback_at = $1 WHERE id = $2 AND fallback_at IS NULL")
            .bind(now)
            .bind(fallback.message.0)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if marked == 0 {
            tx.rollback().await?;
            return Ok(false);
        }
        for (key, payload) in fallback.jobs() {
            sqlx::query(
                "INSERT INTO jobs (tenant_id, kind, key, payload, max_attempts, run_at, correlation_id, created_at, updated_at)
                 VALUES ($1, 'fallback', $2, $3, $4, $5, $6, $5, $5)",
            )
            .bind(fallback.job.tenant_id.0)
            .bind(key)
            .bind(payload.to_string())
            .bind(i64::from(fallback.max_attempts.max(1)))
            .bind(now)
            .bind(fallback.job.correlation_id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn answered_messages(&self, message: MessageId) -> Result<Vec<String>> {
        let rows = sqlx::query(
            "SELECT m.body FROM messages m JOIN messages answer ON answer.id = $1
             WHERE m.conversation_id = answer.conversation_id AND m.direction = 'inbound' AND m.id < answer.id
               AND m.id > COALESCE((SELECT MAX(p.id) FROM messages p
                                    WHERE p.conversation_id = answer.conversation_id
                                      AND p.direction IN ('outbound', 'agent') AND p.created_at < answer.created_at), 0)
             ORDER BY m.id",
        )
        .bind(message.0)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.iter().map(|row| row.get("body")).collect())
    }
}
