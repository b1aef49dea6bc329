//! The knowledge base on SQLite, and its full-text search: the `knowledge_fts` FTS5 index
//! (migration 0006, kept in step by triggers) ranked by FTS5's `bm25`.

use async_trait::async_trait;
use rusqlite::params;
use time::OffsetDateTime;

use super::fts_query;
use super::sql::{execute, query_all, query_one, query_opt};
use super::{SqliteStore, corrupt, from_ms, ms};
use crate::domain::TenantId;
use crate::store::{
    KnowledgeEdit, KnowledgeMatch, KnowledgeRow, KnowledgeStore, KnowledgeUpsert, NewKnowledge, Result,
};

type Row = (i64, Option<String>, String, String, String, bool, i64);

/// `?1` any of the terms, `?4` the terms as a JSON array. `bm25` weighs columns like the
/// PostgreSQL vector (question 5, title and tags 2, answer 1) and is negative, better lower.
/// `found` counts the terms that match the entry on their own, for the coverage.
const SEARCH: &str = "
SELECT k.id, k.title, k.question, k.answer, k.tags, k.enabled, k.updated_at,
       -bm25(knowledge_fts, 5.0, 2.0, 2.0, 1.0) AS score,
       (SELECT count(*) FROM json_each(?4) term
         WHERE EXISTS (SELECT 1 FROM knowledge_fts f WHERE f.knowledge_fts MATCH term.value AND f.rowid = k.id)) AS found
  FROM knowledge_fts JOIN knowledge_entries k ON k.id = knowledge_fts.rowid
 WHERE knowledge_fts MATCH ?1 AND k.tenant_id = ?2 AND k.enabled
 ORDER BY score DESC, k.id
 LIMIT ?3";

#[async_trait]
impl KnowledgeStore for SqliteStore {
    async fn upsert_knowledge(
        &self,
        tenant: TenantId,
        entry: &NewKnowledge,
        now: OffsetDateTime,
    ) -> Result<KnowledgeUpsert> {
        let tags = serde_json::to_string(&entry.tags).map_err(|e| corrupt(e.to_string()))?;
        let entry = entry.clone();
        self.writer
            .write(move |conn| {
                let existing: Option<(i64, Option<String>, String, String, String, bool)> = query_opt(
                    conn,
                    "SELECT id, title, question, answer, tags, enabled FROM knowledge_entries WHERE tenant_id = ?1 AND question_key = ?2",
                    params![tenant.0, entry.question_key],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?)),
                )?;
                let outcome = match existing {
                    Some((_, title, question, answer, old_tags, enabled))
                        if title == entry.title
                            && question == entry.question
                            && answer == entry.answer
                            && old_tags == tags
                            && enabled == entry.enabled =>
                    {
                        KnowledgeUpsert::Unchanged
                    }
                    Some((id, ..)) => {
                        execute(
                            conn,
                            "UPDATE knowledge_entries SET title = ?1, question = ?2, answer = ?3, tags = ?4, enabled = ?5, updated_at = ?6
                             WHERE id = ?7",
                            params![entry.title, entry.question, entry.answer, tags, entry.enabled, ms(now), id],
                        )?;
                        KnowledgeUpsert::Updated
                    }
                    None => {
                        execute(
                            conn,
                            "INSERT INTO knowledge_entries (tenant_id, question_key, title, question, answer, tags, enabled, created_at, updated_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                            params![
                                tenant.0,
                                entry.question_key,
                                entry.title,
                                entry.question,
                                entry.answer,
                                tags,
                                entry.enabled,
                                ms(now)
                            ],
                        )?;
                        KnowledgeUpsert::Added
                    }
                };
                Ok(outcome)
            })
            .await
    }

    async fn update_knowledge(
        &self,
        tenant: TenantId,
        id: i64,
        entry: &NewKnowledge,
        now: OffsetDateTime,
    ) -> Result<KnowledgeEdit> {
        let tags = serde_json::to_string(&entry.tags).map_err(|e| corrupt(e.to_string()))?;
        let entry = entry.clone();
        self.writer
            .write(move |conn| {
                let other: Option<i64> = query_opt(
                    conn,
                    "SELECT id FROM knowledge_entries WHERE tenant_id = ?1 AND question_key = ?2 AND id <> ?3",
                    params![tenant.0, entry.question_key, id],
                    |row| Ok(row.get(0)?),
                )?;
                if let Some(other) = other {
                    return Ok(KnowledgeEdit::QuestionTaken { other });
                }
                let changed = execute(
                    conn,
                    "UPDATE knowledge_entries SET question_key = ?1, title = ?2, question = ?3, answer = ?4, tags = ?5,
                            enabled = ?6, updated_at = ?7
                     WHERE id = ?8 AND tenant_id = ?9",
                    params![
                        entry.question_key,
                        entry.title,
                        entry.question,
                        entry.answer,
                        tags,
                        entry.enabled,
                        ms(now),
                        id,
                        tenant.0
                    ],
                )?;
                Ok(if changed == 1 { KnowledgeEdit::Updated } else { KnowledgeEdit::NotFound })
            })
            .await
    }

    async fn list_knowledge(&self, tenant: TenantId) -> Result<Vec<KnowledgeRow>> {
        let rows: Vec<Row> = self
            .readers
            .read(move |conn| {
                query_all(
                    conn,
                    "SELECT id, title, question, answer, tags, enabled, updated_at FROM knowledge_entries
                     WHERE tenant_id = ?1 ORDER BY id",
                    params![tenant.0],
                    |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?))
                    },
                )
            })
            .await?;
        rows.into_iter().map(knowledge_row).collect()
    }

    async fn knowledge_stamp(&self, tenant: TenantId) -> Result<(i64, i64)> {
        let stamp: (i64, Option<i64>) = self
            .readers
            .read(move |conn| {
                query_one(
                    conn,
                    "SELECT COUNT(*), MAX(updated_at) FROM knowledge_entries WHERE tenant_id = ?1",
                    params![tenant.0],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
            })
            .await?;
        Ok((stamp.0, stamp.1.unwrap_or(0)))
    }

    async fn search_knowledge(&self, tenant: TenantId, text: &str, limit: usize) -> Result<Vec<KnowledgeMatch>> {
        let terms = fts_query::terms(text);
        if terms.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let (any, list) = (fts_query::any_of(&terms), serde_json::Value::from(terms.clone()).to_string());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows: Vec<(Row, f64, i64)> = self
            .readers
            .read(move |conn| {
                query_all(conn, SEARCH, params![any, tenant.0, limit, list], |row| {
                    let entry =
                        (row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?);
                    Ok((entry, row.get(7)?, row.get(8)?))
                })
            })
            .await?;
        rows.into_iter()
            .map(|(entry, score, found)| {
                let coverage = found as f32 / terms.len() as f32;
                Ok(KnowledgeMatch { row: knowledge_row(entry)?, score: score as f32, coverage })
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
