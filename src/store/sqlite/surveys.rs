//! Closing conversations and their CSAT surveys on SQLite: asked in the transaction that
//! closes the ticket, answered in the one that records the reply to the customer's rating.

use async_trait::async_trait;
use rusqlite::{Connection, params};
use time::OffsetDateTime;

use super::messages::{close_ticket, finish_job, queue_outbound};
use super::sql::{execute, query_all, query_one, query_opt};
use super::writer::Tx;
use super::{SqliteStore, from_ms, ms};
use crate::domain::{ConversationId, ConversationState, CorrelationId, JobSpec, MessageId, TenantId};
use crate::store::{
    ClaimedJob, CloseConversation, CloseOutcome, CloseReason, ConversationRef, IDLE_MAX_ATTEMPTS, Origin, Result,
    SurveyAnswer, SurveyDecision, SurveyRecord, SurveyStore, idle_key, survey_skip,
};

/// [`CloseConversation`] without borrows, to move to the writer thread.
struct OwnedClose {
    tenant: TenantId,
    contact: Option<String>,
    id: Option<ConversationId>,
    reason: CloseReason,
    survey: Option<(String, bool, u32)>,
    job: Option<ClaimedJob>,
    correlation_id: CorrelationId,
    now: OffsetDateTime,
}

#[async_trait]
impl SurveyStore for SqliteStore {
    async fn close_conversation(&self, close: CloseConversation<'_>) -> Result<CloseOutcome> {
        let (contact, id) = match close.conversation {
            ConversationRef::Contact(contact) => (Some(contact.to_string()), None),
            ConversationRef::Id(id) => (None, Some(id)),
        };
        let close = OwnedClose {
            tenant: close.tenant,
            contact,
            id,
            reason: close.reason,
            survey: close
                .survey
                .map(|ask| (ask.text.to_string(), ask.after_abandoned_handoff, ask.deliver_max_attempts)),
            job: close.job.cloned(),
            correlation_id: close.correlation_id.clone(),
            now: close.now,
        };
        self.writer.transact(move |conn| close_conversation(conn, &close)).await
    }

    async fn list_surveys(&self, tenant: TenantId, limit: u32) -> Result<Vec<SurveyRecord>> {
        self.readers
            .read(move |conn| {
                query_all(
                    conn,
                    "SELECT s.id, c.contact, s.reason, s.rating, s.answer, s.created_at, s.answered_at, s.dismissed_at
                     FROM surveys s JOIN conversations c ON c.id = s.conversation_id
                     WHERE s.tenant_id = ?1 ORDER BY s.id DESC LIMIT ?2",
                    params![tenant.0, i64::from(limit)],
                    |row| {
                        Ok(SurveyRecord {
                            id: row.get(0)?,
                            contact: row.get(1)?,
                            reason: row.get(2)?,
                            rating: row.get::<_, Option<i64>>(3)?.map(|r| r.clamp(1, 5) as u8),
                            answer: row.get(4)?,
                            asked_at: from_ms(row.get(5)?),
                            answered_at: row.get::<_, Option<i64>>(6)?.map(from_ms),
                            dismissed_at: row.get::<_, Option<i64>>(7)?.map(from_ms),
                        })
                    },
                )
            })
            .await
    }

    async fn mean_csat(&self, since: OffsetDateTime) -> Result<Vec<(String, f64, u64)>> {
        self.readers
            .read(move |conn| {
                query_all(
                    conn,
                    "SELECT t.slug, AVG(s.rating), COUNT(*) FROM surveys s JOIN tenants t ON t.id = s.tenant_id
                     WHERE s.rating IS NOT NULL AND s.answered_at >= ?1 GROUP BY t.slug",
                    params![ms(since)],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get::<_, i64>(2)? as u64)),
                )
            })
            .await
    }
}

/// The transaction of `close_conversation`.
fn close_conversation(conn: &Connection, close: &OwnedClose) -> Result<Tx<CloseOutcome>> {
    let now = close.now;
    if let Some(job) = &close.job
        && !finish_job(conn, job.id.0, &job.owner, now)?
    {
        return Ok(Tx::Rollback(CloseOutcome::LeaseLost));
    }
    let row: Option<(i64, String, i64)> = match (&close.contact, close.id) {
        (Some(contact), _) => query_opt(
            conn,
            "SELECT id, state, context_from FROM conversations WHERE tenant_id = ?1 AND contact = ?2",
            params![close.tenant.0, contact],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?,
        (None, id) => query_opt(
            conn,
            "SELECT id, state, context_from FROM conversations WHERE tenant_id = ?1 AND id = ?2",
            params![close.tenant.0, id.map_or(0, |id| id.0)],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )?,
    };
    // Committed, not rolled back: an `idle` job that finds nothing to do is done.
    let Some((id, state, ticket_from)) = row else { return Ok(Tx::Commit(CloseOutcome::NotFound)) };
    let conversation = ConversationId(id);
    let state = ConversationState::from_stored(&state);
    if state == ConversationState::Closed {
        return Ok(Tx::Commit(CloseOutcome::AlreadyClosed));
    }
    if let CloseReason::Idle { quiet_since } = close.reason {
        let last: Option<i64> =
            query_one(conn, "SELECT MAX(created_at) FROM messages WHERE conversation_id = ?1", params![id], |row| {
                Ok(row.get(0)?)
            })?;
        if state != ConversationState::Bot || last.is_some_and(|at| at > ms(quiet_since)) {
            return Ok(Tx::Commit(CloseOutcome::StillActive));
        }
    }
    // Whether the ticket qualifies is read before the close changes it.
    let skipped = match &close.survey {
        None => Some("off"),
        Some((_, after_abandoned_handoff, _)) => {
            let (wrote, asked, abandoned): (bool, bool, bool) = query_one(
                conn,
                "SELECT EXISTS (SELECT 1 FROM messages WHERE conversation_id = ?1 AND id > ?2 AND direction = 'inbound'),
                        EXISTS (SELECT 1 FROM surveys WHERE conversation_id = ?1 AND ticket_from = ?2),
                        EXISTS (SELECT 1 FROM handoffs WHERE conversation_id = ?1 AND closed_at IS NULL AND first_human_at IS NULL)",
                params![id, ticket_from],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
            )?;
            survey_skip(wrote, asked, abandoned && !after_abandoned_handoff)
        }
    };
    close_ticket(conn, conversation, now)?;
    super::handoffs::close_open(conn, conversation, now)?;
    let survey = match (&close.survey, skipped) {
        (Some((text, _, max_attempts)), None) => {
            let survey: i64 = query_one(
                conn,
                "INSERT INTO surveys (tenant_id, conversation_id, ticket_from, reason, correlation_id, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
                params![close.tenant.0, id, ticket_from, close.reason.as_str(), close.correlation_id.as_str(), ms(now)],
                |row| Ok(row.get(0)?),
            )?;
            let origin = Origin { tenant: close.tenant, correlation_id: &close.correlation_id, at: now };
            let key = JobSpec::conversation_key(conversation);
            let meta = serde_json::json!({ "decision": "csat", "survey": survey });
            let message = queue_outbound(conn, origin, &key, conversation, text, &meta, *max_attempts)?;
            execute(conn, "UPDATE surveys SET message_id = ?1 WHERE id = ?2", params![message, survey])?;
            execute(
                conn,
                "UPDATE conversations SET survey_id = ?1, survey_at = ?2 WHERE id = ?3",
                params![survey, ms(now), id],
            )?;
            SurveyDecision::Asked { survey, message: MessageId(message) }
        }
        (_, skipped) => SurveyDecision::Skipped(skipped.unwrap_or("off")),
    };
    Ok(Tx::Commit(CloseOutcome::Closed { survey }))
}

/// Records what the customer's message made of the pending survey; true when it was a
/// rating (the survey was still open).
pub(super) fn answer(
    conn: &Connection,
    conversation: ConversationId,
    answer: &SurveyAnswer,
    now: OffsetDateTime,
) -> Result<bool> {
    let rating = answer.rating.map(i64::from);
    let text = answer.rating.map(|_| answer.text.as_str());
    let changed = execute(
        conn,
        "UPDATE surveys SET rating = ?1, answer = ?2,
                answered_at = CASE WHEN ?1 IS NULL THEN NULL ELSE ?3 END,
                dismissed_at = CASE WHEN ?1 IS NULL THEN ?3 ELSE NULL END
         WHERE id = ?4 AND answered_at IS NULL AND dismissed_at IS NULL",
        params![rating, text, ms(now), answer.survey],
    )?;
    execute(
        conn,
        "UPDATE conversations SET survey_id = NULL, survey_at = NULL WHERE id = ?1 AND survey_id = ?2",
        params![conversation.0, answer.survey],
    )?;
    Ok(changed == 1 && rating.is_some())
}

/// Sets the conversation's `idle` job to run at `at`: the queued one moves, or one is added
/// (on a key of its own, so its far `run_at` holds no reply back).
pub(super) fn schedule_idle(
    conn: &Connection,
    job: &ClaimedJob,
    conversation: ConversationId,
    at: OffsetDateTime,
) -> Result<()> {
    let key = idle_key(conversation);
    let moved = execute(
        conn,
        "UPDATE jobs SET run_at = ?1, updated_at = ?2 WHERE key = ?3 AND state = 'queued'",
        params![ms(at), ms(job.claimed_at), key],
    )?;
    if moved == 0 {
        execute(
            conn,
            "INSERT INTO jobs (tenant_id, kind, key, payload, max_attempts, run_at, correlation_id, created_at, updated_at)
             VALUES (?1, 'idle', ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            params![
                job.tenant_id.0,
                key,
                serde_json::json!({ "conversation_id": conversation.0 }).to_string(),
                i64::from(IDLE_MAX_ATTEMPTS),
                ms(at),
                job.correlation_id.as_str(),
                ms(job.claimed_at)
            ],
        )?;
    }
    Ok(())
}
