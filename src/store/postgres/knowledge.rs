//! The knowledge base on PostgreSQL (ranking is done in Rust by `knowledge`, the same on every backend).

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{PgStore, corrupt, from_ms, ms};
use crate::domain::TenantId;
use crate::store::{KnowledgeRow, KnowledgeStore, KnowledgeUpsert, NewKnowledge, Result};

type Row = (i64, Option<String>, String, String, String, bool, i64);

#[async_trait]
impl KnowledgeStore for PgStore {
    async fn upsert_knowledge(
        &self,
        tenant: TenantId,
        entry: &NewKnowledge,
        now: OffsetDateTime,
    ) -> Result<KnowledgeUpsert> {
        let tags = serde_json::to_string(&entry.tags).map_err(|e| corrupt(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        // Insert-or-nothing first: two imports adding one question meet on the unique key,
        // and the loser then locks and compares the winner's row.
        let added = sqlx::query(
            "INSERT INTO knowledge_entries (tenant_id, question_key, title, question, answer, tags, enabled, created_at, updated_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) ON CONFLICT (tenant_id, question_key) DO NOTHING",
        )
        .bind(tenant.0)
        .bind(&entry.question_key)
        .bind(&entry.title)
        .bind(&entry.question)
        .bind(&entry.answer)
        .bind(&tags)
        .bind(entry.enabled)
        .bind(ms(now))
        .execute(&mut *tx)
        .await?;
        if added.rows_affected() == 1 {
            tx.commit().await?;
            return Ok(KnowledgeUpsert::Added);
        }
        let (id, title, question, answer, old_tags, enabled): (i64, Option<String>, String, String, String, bool) =
            sqlx::query_as(
                "SELECT id, title, question, answer, tags, enabled FROM knowledge_entries
                 WHERE tenant_id = $1 AND question_key = $2 FOR UPDATE",
            )
            .bind(tenant.0)
            .bind(&entry.question_key)
            .fetch_one(&mut *tx)
            .await?;
        let unchanged = title == entry.title
            && question == entry.question
            && answer == entry.answer
            && old_tags == tags
            && enabled == entry.enabled;
        if unchanged {
            tx.rollback().await?;
            return Ok(KnowledgeUpsert::Unchanged);
        }
        sqlx::query(
            "UPDATE knowledge_entries SET title = $1, question = $2, answer = $3, tags = $4, enabled = $5, updated_at = $6
             WHERE id = $7",
        )
        .bind(&entry.title)
        .bind(&entry.question)
        .bind(&entry.answer)
        .bind(&tags)
        .bind(entry.enabled)
        .bind(ms(now))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(KnowledgeUpsert::Updated)
    }

    async fn list_knowledge(&self, tenant: TenantId) -> Result<Vec<KnowledgeRow>> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, title, question, answer, tags, enabled, updated_at FROM knowledge_entries
             WHERE tenant_id = $1 ORDER BY id",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(id, title, question, answer, tags, enabled, updated_at)| {
                Ok(KnowledgeRow {
                    id,
                    title,
                    question,
                    answer,
                    tags: serde_json::from_str(&tags).map_err(|e| corrupt(format!("knowledge {id} tags: {e}")))?,
                    enabled,
                    updated_at: from_ms(updated_at),
                })
            })
            .collect()
    }

    async fn knowledge_stamp(&self, tenant: TenantId) -> Result<(i64, i64)> {
        let stamp: (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), MAX(updated_at) FROM knowledge_entries WHERE tenant_id = $1")
                .bind(tenant.0)
                .fetch_one(&self.pool)
                .await?;
        Ok((stamp.0, stamp.1.unwrap_or(0)))
    }
}
