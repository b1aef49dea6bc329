//! The knowledge base on PostgreSQL, and its full-text search: the `search_vector` column
//! (migration 0006: the `portuguese` configuration over `atende_unaccent`, weighted question A,
//! title and tags B, answer C) ranked by `ts_rank`.

use async_trait::async_trait;
use time::OffsetDateTime;

use super::{PgStore, corrupt, from_ms, is_unique_violation, ms};
use crate::domain::TenantId;
use crate::store::{
    KnowledgeEdit, KnowledgeMatch, KnowledgeRow, KnowledgeStore, KnowledgeUpsert, NewKnowledge, Result,
};

type Row = (i64, Option<String>, String, String, String, bool, i64);

/// The customer's text analyzed exactly as entries are, its distinct lexemes OR-ed into a
/// tsquery. Each lexeme is quoted by the tsquery input rules (`\` escaped, `'` doubled), so no
/// character of the text is ever read as a tsquery operator and the cast analyzes nothing
/// again. Text without a lexeme gives a NULL tsquery, which matches nothing. Coverage counts
/// the query's lexemes present in the entry's vector.
const SEARCH: &str = r#"
WITH query AS (
    SELECT terms,
           (SELECT string_agg('''' || replace(replace(t, E'\\', E'\\\\'), '''', '''''') || '''', ' | ')
              FROM unnest(terms) t)::tsquery AS tsq
      FROM (SELECT tsvector_to_array(to_tsvector('portuguese', atende_unaccent($2))) AS terms) analyzed
)
SELECT k.id, k.title, k.question, k.answer, k.tags, k.enabled, k.updated_at,
       ts_rank(k.search_vector, q.tsq) AS score,
       ((SELECT count(*) FROM unnest(q.terms) t WHERE t = ANY (tsvector_to_array(k.search_vector)))::real
           / cardinality(q.terms))::real AS coverage
  FROM knowledge_entries k, query q
 WHERE k.tenant_id = $1 AND k.enabled AND k.search_vector @@ q.tsq
 ORDER BY score DESC, k.id
 LIMIT $3"#;

type SearchRow = (i64, Option<String>, String, String, String, bool, i64, f32, f32);

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

    async fn update_knowledge(
        &self,
        tenant: TenantId,
        id: i64,
        entry: &NewKnowledge,
        now: OffsetDateTime,
    ) -> Result<KnowledgeEdit> {
        let tags = serde_json::to_string(&entry.tags).map_err(|e| corrupt(e.to_string()))?;
        let other: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM knowledge_entries WHERE tenant_id = $1 AND question_key = $2 AND id <> $3",
        )
        .bind(tenant.0)
        .bind(&entry.question_key)
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        if let Some(other) = other {
            return Ok(KnowledgeEdit::QuestionTaken { other });
        }
        let changed = sqlx::query(
            "UPDATE knowledge_entries SET question_key = $1, title = $2, question = $3, answer = $4, tags = $5,
                    enabled = $6, updated_at = $7
             WHERE id = $8 AND tenant_id = $9",
        )
        .bind(&entry.question_key)
        .bind(&entry.title)
        .bind(&entry.question)
        .bind(&entry.answer)
        .bind(&tags)
        .bind(entry.enabled)
        .bind(ms(now))
        .bind(id)
        .bind(tenant.0)
        .execute(&self.pool)
        .await;
        match changed {
            Ok(done) if done.rows_affected() == 1 => Ok(KnowledgeEdit::Updated),
            Ok(_) => Ok(KnowledgeEdit::NotFound),
            // Another edit took the question between the check and the update.
            Err(err) if is_unique_violation(&err) => Ok(KnowledgeEdit::QuestionTaken { other: 0 }),
            Err(err) => Err(err.into()),
        }
    }

    async fn list_knowledge(&self, tenant: TenantId) -> Result<Vec<KnowledgeRow>> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, title, question, answer, tags, enabled, updated_at FROM knowledge_entries
             WHERE tenant_id = $1 ORDER BY id",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(knowledge_row).collect()
    }

    async fn knowledge_stamp(&self, tenant: TenantId) -> Result<(i64, i64)> {
        let stamp: (i64, Option<i64>) =
            sqlx::query_as("SELECT COUNT(*), MAX(updated_at) FROM knowledge_entries WHERE tenant_id = $1")
                .bind(tenant.0)
                .fetch_one(&self.pool)
                .await?;
        Ok((stamp.0, stamp.1.unwrap_or(0)))
    }

    async fn search_knowledge(&self, tenant: TenantId, text: &str, limit: usize) -> Result<Vec<KnowledgeMatch>> {
        let rows: Vec<SearchRow> = sqlx::query_as(SEARCH)
            .bind(tenant.0)
            .bind(text)
            .bind(i64::try_from(limit).unwrap_or(i64::MAX))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(id, title, question, answer, tags, enabled, updated_at, score, coverage)| {
                let row = knowledge_row((id, title, question, answer, tags, enabled, updated_at))?;
                Ok(KnowledgeMatch { row, score, coverage })
            })
            .collect()
    }
}

fn knowledge_row((id, title, question, answer, tags, enabled, updated_at): Row) -> Result<KnowledgeRow> {
    Ok(KnowledgeRow {
        id,
        title,
        question,
        answer,
        tags: serde_json::from_str(&tags).map_err(|e| corrupt(format!("knowledge {id} tags: {e}")))?,
        enabled,
        updated_at: from_ms(updated_at),
    })
}
