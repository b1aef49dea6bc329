//! Closing conversations and their CSAT surveys on PostgreSQL: asked in the transaction
//! that closes the ticket, answered in the one that records the reply to the rating.

use async_trait::async_trait;
use sqlx::{PgConnection, Row};
use time::OffsetDateTime;

use super::messages::{close_ticket, finish_job, queue_outbound};
use super::{PgStore, from_ms, ms};
use crate::domain::{ConversationId, ConversationState, JobSpec, MessageId, TenantId};
use crate::store::{
    ClaimedJob, CloseConversation, CloseOutcome, CloseReason, ConversationRef, IDLE_MAX_ATTEMPTS, Origin, Result,
    SurveyAnswer, SurveyDecision, SurveyRecord, SurveyStore, idle_key, survey_skip,
};

#[async_trait]
impl SurveyStore for PgStore {
    async fn close_conversation(&self, close: CloseConversation<'_>) -> Result<CloseOutcome> {
        let now = close.now;
        let mut tx = self.pool.begin().await?;
        if let Some(job) = close.job
            && !finish_job(&mut tx, job.id.0, &job.owner, now).await?
        {
            tx.rollback().await?;
            return Ok(CloseOutcome::LeaseLost);
        }
        // The row lock orders this against a message or a reply of the same conversation.
        let row = match close.conversation {
            ConversationRef::Contact(contact) => sqlx::query(
                "SELECT id, state, context_from FROM conversations WHERE tenant_id = $1 AND contact = $2 FOR UPDATE",
            )
            .bind(close.tenant.0)
            .bind(contact),
            ConversationRef::Id(id) => sqlx::query(
                "SELECT id, state, context_from FROM conversations WHERE tenant_id = $1 AND id = $2 FOR UPDATE",
            )
            .bind(close.tenant.0)
            .bind(id.0),
        }
        .fetch_optional(&mut *tx)
        .await?;
        // Committed, not rolled back: an `idle` job that finds nothing to do is done.
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(CloseOutcome::NotFound);
        };
        let (id, ticket_from): (i64, i64) = (row.get("id"), row.get("context_from"));
        let conversation = ConversationId(id);
        let state = ConversationState::from_stored(row.get("state"));
        let unchanged = if state == ConversationState::Closed {
            Some(CloseOutcome::AlreadyClosed)
        } else if let CloseReason::Idle { quiet_since } = close.reason {
            let last: Option<i64> =
                sqlx::query_scalar("SELECT MAX(created_at) FROM messages WHERE conversation_id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?;
            (state != ConversationState::Bot || last.is_some_and(|at| at > ms(quiet_since)))
                .then_some(CloseOutcome::StillActive)
        } else {
            None
        };
        if let Some(outcome) = unchanged {
            tx.commit().await?;
            return Ok(outcome);
        }
        // Whether the ticket qualifies is read before the close changes it.
        let skipped = match &close.survey {
            None => Some("off"),
            Some(ask) => {
                let (wrote, asked, abandoned): (bool, bool, bool) = sqlx::query_as(
                    "SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = $1 AND id > $2 AND direction = 'inbound'),
                            EXISTS (SELECT 1 FROM surveys WHERE conversation_id = $1 AND ticket_from = $2),
                            EXISTS (SELECT 1 FROM handoffs WHERE conversation_id = $1 AND closed_at IS NULL AND first_human_at IS NULL)",
                )
                .bind(id)
                .bind(ticket_from)
                .fetch_one(&mut *tx)
                .await?;
                survey_skip(wrote, asked, abandoned && !ask.after_abandoned_handoff)
            }
        };
        close_ticket(&mut tx, conversation, now).await?;
        super::handoffs::close_open(&mut tx, conversation, now).await?;
        let survey = match (close.survey, skipped) {
            (Some(ask), None) => {
                let survey: i64 = sqlx::query_scalar(
                    "INSERT INTO surveys (tenant_id, conversation_id, ticket_from, reason, correlation_id, created_at)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
                )
                .bind(close.tenant.0)
                .bind(id)
                .bind(ticket_from)
                .bind(close.reason.as_str())
                .bind(close.correlation_id.as_str())
                .bind(ms(now))
                .fetch_one(&mut *tx)
                .await?;
                let origin = Origin { tenant: close.tenant, correlation_id: close.correlation_id, at: now };
                let key = JobSpec::conversation_key(conversation);
                let meta = serde_json::json!({ "decision": "csat", "survey": survey });
                let message =
                    queue_outbound(&mut tx, origin, &key, conversation, ask.text, &meta, ask.deliver_max_attempts)
                        .await?;
                sqlx::query("UPDATE surveys SET message_id = $1 WHERE id = $2")
                    .bind(message)
                    .bind(survey)
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("UPDATE conversations SET survey_id = $1, survey_at = $2 WHERE id = $3")
                    .bind(survey)
                    .bind(ms(now))
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                SurveyDecision::Asked { survey, message: MessageId(message) }
            }
            (_, skipped) => SurveyDecision::Skipped(skipped.unwrap_or("off")),
        };
        tx.commit().await?;
        Ok(CloseOutcome::Closed { survey })
    }

    async fn list_surveys(&self, tenant: TenantId, limit: u32) -> Result<Vec<SurveyRecord>> {
        let rows = sqlx::query(
            "SELECT s.id, c.contact, s.reason, s.rating, s.answer, s.created_at, s.answered_at, s.dismissed_at
             FROM surveys s JOIN conversations c ON c.id = s.conversation_id
             WHERE s.tenant_id = $1 ORDER BY s.id DESC LIMIT $2",
        )
        .bind(tenant.0)
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .iter()
            .map(|row| SurveyRecord {
                id: row.get("id"),
                contact: row.get("contact"),
                reason: row.get("reason"),
                rating: row.get::<Option<i64>, _>("rating").map(|r| r.clamp(1, 5) as u8),
                answer: row.get("answer"),
                asked_at: from_ms(row.get("created_at")),
                answered_at: row.get::<Option<i64>, _>("answered_at").map(from_ms),
                dismissed_at: row.get::<Option<i64>, _>("dismissed_at").map(from_ms),
            })
            .collect())
    }

    async fn mean_csat(&self, since: OffsetDateTime) -> Result<Vec<(String, f64, u64)>> {
        let rows: Vec<(String, f64, i64)> = sqlx::query_as(
            "SELECT t.slug, AVG(s.rating)::float8, COUNT(*) FROM surveys s JOIN tenants t ON t.id = s.tenant_id
             WHERE s.rating IS NOT NULL AND s.answered_at >= $1 GROUP BY t.slug",
        )
        .bind(ms(since))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows.into_iter().map(|(slug, mean, count)| (slug, mean, count as u64)).collect())
    }
}

/// Records what the customer's message made of the pending survey; true when it was a
/// rating (the survey was still open).
pub(super) async fn answer(
    conn: &mut PgConnection,
    conversation: ConversationId,
    answer: &SurveyAnswer,
    now: OffsetDateTime,
) -> Result<bool> {
    let rating = answer.rating.map(i64::from);
    let text = answer.rating.map(|_| answer.text.as_str());
    let changed = sqlx::query(
        "UPDATE surveys SET rating = $1, answer = $2,
                answered_at = CASE WHEN $1::BIGINT IS NULL THEN NULL ELSE $3 END,
                dismissed_at = CASE WHEN $1::BIGINT IS NULL THEN $3 ELSE NULL END
         WHERE id = $4 AND answered_at IS NULL AND dismissed_at IS NULL",
    )
    .bind(rating)
    .bind(text)
    .bind(ms(now))
    .bind(answer.survey)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE conversations SET survey_id = NULL, survey_at = NULL WHERE id = $1 AND survey_id = $2")
        .bind(conversation.0)
        .bind(answer.survey)
        .execute(&mut *conn)
        .await?;
    Ok(changed.rows_affected() == 1 && rating.is_some())
}

/// Sets the conversation's `idle` job to run at `at`: the queued one moves, or one is added
/// (on a key of its own, so its far `run_at` holds no reply back).
pub(super) async fn schedule_idle(
    conn: &mut PgConnection,
    job: &ClaimedJob,
    conversation: ConversationId,
    at: OffsetDateTime,
) -> Result<()> {
    let key = idle_key(conversation);
    let moved = sqlx::query("UPDATE jobs SET run_at = $1, updated_at = $2 WHERE key = $3 AND state = 'queued'")
        .bind(ms(at))
        .bind(ms(job.claimed_at))
        .bind(&key)
        .execute(&mut *conn)
        .await?;
    if moved.rows_affected() == 0 {
        sqlx::query(
            "INSERT INTO jobs (tenant_id, kind, key, payload, max_attempts, run_at, correlation_id, created_at, updated_at)
             VALUES ($1, 'idle', $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(job.tenant_id.0)
        .bind(&key)
        .bind(serde_json::json!({ "conversation_id": conversation.0 }).to_string())
        .bind(i64::from(IDLE_MAX_ATTEMPTS))
        .bind(ms(at))
        .bind(job.correlation_id.as_str())
        .bind(ms(job.claimed_at))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
