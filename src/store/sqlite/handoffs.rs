//! Hand-offs to a person on SQLite: opened with the reply that decides them, finished by
//! the `handoff` and `sla` jobs, closed when the bot resumes or the ticket closes.

use std::sync::LazyLock;

use async_trait::async_trait;
use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;

use super::jobs::queue_notify;
use super::messages::{CONVERSATION_BY_ID_SQL, conversation_from_row, conversation_id, finish_job, queue_outbound};
use super::sql::{execute, query_all, query_one, query_opt};
use super::tenants::{TENANT_BY_ID_SQL, tenant_from_row};
use super::writer::Tx;
use super::{SqliteStore, from_ms, ms};
use crate::domain::{ConversationId, ConversationState, CorrelationId, JobSpec, MessageId, TenantId};
use crate::store::{ClaimedJob, Finish, HandoffRecord, HandoffStore, HandoffTransfer, NewHandoff, NewNotify, Result};
use crate::store::{
    Origin, RequestedHandoff, RequestedHandoffOutcome, SlaCheck, SlaVerdict, escalation_job, sla_verdict,
};

const HANDOFF_COLUMNS: &str = "id, conversation_id, reason, summary, ticket_id, transfer, sla_due_at, first_human_at,
    breached_at, closed_at, correlation_id, created_at";

static HANDOFF_BY_ID_SQL: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE id = ?1"));
static HANDOFFS_OF_TENANT_SQL: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE tenant_id = ?1 ORDER BY id DESC LIMIT ?2"));

/// Opens a hand-off for `conversation` in the reply's transaction, with its `handoff` job on
/// the conversation's key and, when there is a target, its `sla` job at the deadline on a
/// key of its own (a far `run_at` must not hold the conversation's later jobs back).
pub(super) fn open(
    conn: &Connection,
    origin: Origin<'_>,
    key: &str,
    conversation: ConversationId,
    new: &NewHandoff,
    max_attempts: u32,
) -> Result<i64> {
    let now = origin.at;
    close_open(conn, conversation, now)?;
    let due = new.sla.map(|sla| ms(now + sla));
    let id: i64 = query_one(
        conn,
        "INSERT INTO handoffs (tenant_id, conversation_id, reason, sla_due_at, correlation_id, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING id",
        params![origin.tenant.0, conversation.0, new.reason, due, origin.correlation_id.as_str(), ms(now)],
        |row| Ok(row.get(0)?),
    )?;
    let payload = serde_json::json!({ "handoff_id": id }).to_string();
    let insert =
        "INSERT INTO jobs (tenant_id, kind, key, payload, max_attempts, run_at, correlation_id, created_at, updated_at)
                  VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)";
    let (tenant, correlation, max) = (origin.tenant.0, origin.correlation_id.as_str(), i64::from(max_attempts));
    execute(conn, insert, params![tenant, "handoff", key, payload, max, ms(now), correlation, ms(now)])?;
    if let Some(due) = due {
        execute(conn, insert, params![tenant, "sla", format!("sla:{id}"), payload, max, due, correlation, ms(now)])?;
    }
    Ok(id)
}

/// Ends the conversation's open hand-off, if any (the bot resumed, the ticket closed).
pub(super) fn close_open(conn: &Connection, conversation: ConversationId, now: OffsetDateTime) -> Result<()> {
    execute(
        conn,
        "UPDATE handoffs SET closed_at = ?1 WHERE conversation_id = ?2 AND closed_at IS NULL",
        params![ms(now), conversation.0],
    )?;
    Ok(())
}

/// Records a person's first message on the open hand-off; how long the customer waited.
pub(super) fn first_human_answer(
    conn: &Connection,
    conversation: ConversationId,
    now: OffsetDateTime,
) -> Result<Option<time::Duration>> {
    let opened: Option<i64> = query_opt(
        conn,
        "UPDATE handoffs SET first_human_at = ?1
         WHERE conversation_id = ?2 AND closed_at IS NULL AND first_human_at IS NULL RETURNING created_at",
        params![ms(now), conversation.0],
        |row| Ok(row.get(0)?),
    )?;
    Ok(opened.map(|at| now - from_ms(at)))
}

/// A hand-off row, before its tenant and conversation are read.
struct HandoffRow {
    id: i64,
    conversation: i64,
    reason: String,
    summary: Option<String>,
    ticket_id: Option<String>,
    transfer: Option<String>,
    sla_due_at: Option<i64>,
    first_human_at: Option<i64>,
    breached_at: Option<i64>,
    closed_at: Option<i64>,
    correlation_id: String,
    created_at: i64,
}

fn handoff_from_row(row: &Row<'_>) -> Result<HandoffRow> {
    Ok(HandoffRow {
        id: row.get("id")?,
        conversation: row.get("conversation_id")?,
        reason: row.get("reason")?,
        summary: row.get("summary")?,
        ticket_id: row.get("ticket_id")?,
        transfer: row.get("transfer")?,
        sla_due_at: row.get("sla_due_at")?,
        first_human_at: row.get("first_human_at")?,
        breached_at: row.get("breached_at")?,
        closed_at: row.get("closed_at")?,
        correlation_id: row.get("correlation_id")?,
        created_at: row.get("created_at")?,
    })
}

/// Completes a row with its conversation and tenant.
fn complete(conn: &Connection, row: HandoffRow) -> Result<HandoffRecord> {
    let conversation = query_one(conn, &CONVERSATION_BY_ID_SQL, params![row.conversation], conversation_from_row)?;
    let tenant = query_one(conn, &TENANT_BY_ID_SQL, params![conversation.tenant_id.0], tenant_from_row)?;
    Ok(HandoffRecord {
        id: row.id,
        tenant,
        conversation,
        reason: row.reason,
        summary: row.summary,
        ticket_id: row.ticket_id,
        transfer: row.transfer,
        sla_due_at: row.sla_due_at.map(from_ms),
        first_human_at: row.first_human_at.map(from_ms),
        breached_at: row.breached_at.map(from_ms),
        closed_at: row.closed_at.map(from_ms),
        correlation_id: CorrelationId::from_stored(row.correlation_id),
        created_at: from_ms(row.created_at),
    })
}

#[async_trait]
impl HandoffStore for SqliteStore {
    async fn request_handoff(&self, request: RequestedHandoff<'_>) -> Result<RequestedHandoffOutcome> {
        let (tenant, contact, new) = (request.tenant, request.contact.to_string(), request.handoff.clone());
        let (text, max_attempts) = (request.text.map(str::to_string), request.deliver_max_attempts);
        let (correlation_id, now) = (request.correlation_id.clone(), request.now);
        self.writer
            .transact(move |conn| {
                let Some(conversation) = conversation_id(conn, tenant, &contact)? else {
                    return Ok(Tx::Commit(RequestedHandoffOutcome::NotFound));
                };
                let open_already: Option<i64> = query_opt(
                    conn,
                    "SELECT id FROM handoffs WHERE conversation_id = ?1 AND closed_at IS NULL ORDER BY id DESC LIMIT 1",
                    params![conversation.0],
                    |row| Ok(row.get(0)?),
                )?;
                if let Some(handoff) = open_already {
                    return Ok(Tx::Commit(RequestedHandoffOutcome::AlreadyOpen { handoff }));
                }
                execute(
                    conn,
                    "UPDATE conversations SET state = 'human', human_at = ?1, updated_at = ?1 WHERE id = ?2",
                    params![ms(now), conversation.0],
                )?;
                let origin = Origin { tenant, correlation_id: &correlation_id, at: now };
                let key = JobSpec::conversation_key(conversation);
                let meta = serde_json::json!({ "decision": "handoff", "reason": new.reason });
                let message = match &text {
                    Some(text) => {
                        Some(MessageId(queue_outbound(conn, origin, &key, conversation, text, &meta, max_attempts)?))
                    }
                    None => None,
                };
                // After the text's delivery on the same key, so the customer hears it first.
                let handoff = open(conn, origin, &key, conversation, &new, max_attempts)?;
                Ok(Tx::Commit(RequestedHandoffOutcome::Opened { handoff, message }))
            })
            .await
    }

    async fn find_handoff(&self, id: i64) -> Result<Option<HandoffRecord>> {
        self.writer
            .write(move |conn| match query_opt(conn, &HANDOFF_BY_ID_SQL, params![id], handoff_from_row)? {
                Some(row) => complete(conn, row).map(Some),
                None => Ok(None),
            })
            .await
    }

    async fn list_handoffs(&self, tenant: TenantId, limit: u32) -> Result<Vec<HandoffRecord>> {
        self.readers
            .read(move |conn| {
                let rows = query_all(conn, &HANDOFFS_OF_TENANT_SQL, params![tenant.0, limit], handoff_from_row)?;
                rows.into_iter().map(|row| complete(conn, row)).collect()
            })
            .await
    }

    async fn record_handoff_transfer(
        &self,
        job: &ClaimedJob,
        handoff: i64,
        transfer: &HandoffTransfer,
    ) -> Result<Finish> {
        let (job, transfer) = (job.clone(), transfer.clone());
        self.writer
            .transact(move |conn| {
                if !finish_job(conn, job.id.0, &job.owner, job.claimed_at)? {
                    return Ok(Tx::Rollback(Finish::LeaseLost));
                }
                execute(
                    conn,
                    "UPDATE handoffs SET summary = ?1, ticket_id = COALESCE(?2, ticket_id), transfer = ?3 WHERE id = ?4",
                    params![transfer.summary, transfer.ticket_id, transfer.transfer, handoff],
                )?;
                queue_notify(conn, job.tenant_id, &transfer.notify, &job.correlation_id, job.claimed_at)?;
                Ok(Tx::Commit(Finish::Recorded { message_id: None }))
            })
            .await
    }

    async fn record_sla_check(
        &self,
        job: &ClaimedJob,
        handoff: i64,
        update_text: &str,
        deliver_max_attempts: u32,
        notify: &[NewNotify],
        escalation: Option<u32>,
    ) -> Result<SlaCheck> {
        let (job, update_text, notify) = (job.clone(), update_text.to_string(), notify.to_vec());
        self.writer
            .transact(move |conn| {
                if !finish_job(conn, job.id.0, &job.owner, job.claimed_at)? {
                    return Ok(Tx::Rollback(SlaCheck::LeaseLost));
                }
                let row: Option<(i64, Option<i64>, Option<i64>, Option<i64>, Option<i64>, String)> = query_opt(
                    conn,
                    "SELECT h.conversation_id, h.sla_due_at, h.first_human_at, h.breached_at, h.closed_at, c.state
                     FROM handoffs h JOIN conversations c ON c.id = h.conversation_id WHERE h.id = ?1",
                    params![handoff],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?)),
                )?;
                let Some((conversation, due, first_human, breached, closed, state)) = row else {
                    return Ok(Tx::Commit(SlaCheck::AlreadyChecked));
                };
                let check = sla_verdict(due, first_human, breached, closed);
                if check != SlaVerdict::Breached {
                    return Ok(Tx::Commit(match check {
                        SlaVerdict::Met => SlaCheck::Met,
                        SlaVerdict::Closed => SlaCheck::Closed,
                        _ => SlaCheck::AlreadyChecked,
                    }));
                }
                let now = job.claimed_at;
                execute(conn, "UPDATE handoffs SET breached_at = ?1 WHERE id = ?2", params![ms(now), handoff])?;
                queue_notify(conn, job.tenant_id, &notify, &job.correlation_id, now)?;
                if let Some(max_attempts) = escalation {
                    let (key, payload) = escalation_job(handoff);
                    execute(
                        conn,
                        "INSERT INTO jobs (tenant_id, kind, key, payload, max_attempts, run_at, correlation_id, created_at, updated_at)
                         VALUES (?1, 'fallback', ?2, ?3, ?4, ?5, ?6, ?5, ?5)",
                        params![job.tenant_id.0, key, payload, i64::from(max_attempts), ms(now), job.correlation_id.as_str()],
                    )?;
                }
                // Still waiting for a person: tell the customer they are not forgotten.
                let waiting = first_human.is_none()
                    && closed.is_none()
                    && ConversationState::from_stored(&state) == ConversationState::Human;
                let message_id = if waiting {
                    let conversation = ConversationId(conversation);
                    let key = JobSpec::conversation_key(conversation);
                    let meta = serde_json::json!({ "decision": "sla_update", "handoff": handoff });
                    let id = queue_outbound(
                        conn,
                        (&job).into(),
                        &key,
                        conversation,
                        &update_text,
                        &meta,
                        deliver_max_attempts,
                    )?;
                    Some(MessageId(id))
                } else {
                    None
                };
                Ok(Tx::Commit(SlaCheck::Breached { message_id }))
            })
            .await
    }
}
