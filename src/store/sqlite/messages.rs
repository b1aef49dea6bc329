//! Conversations and messages on SQLite, including the transactions that end jobs.

use std::sync::LazyLock;

use async_trait::async_trait;
use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;

use super::jobs::queue_notify;
use super::sql::{execute, query_all, query_one, query_opt};
use super::tenants::{TENANT_BY_ID_SQL, tenant_from_row};
use super::writer::Tx;
use super::{SqliteStore, corrupt, from_ms, ms};
use super::{handoffs, surveys};
use crate::domain::{
    ContactNumber, ConversationId, ConversationState, CorrelationId, Direction, InboundMessage, JobSpec, MessageId,
    TenantId,
};
use crate::store::{
    AgentAction, AgentOutcome, BotMessage, ClaimedJob, Conversation, ConversationFilter, ConversationListing,
    ConversationUpdate, Delivery, Finish, MessageStore, NewInbound, NewNotify, NewReply, OLDER_TURNS, Origin,
    PendingSurvey, RecordOutcome, ReplyContext, Result, StoredMessage,
};

// Dynamic SQL in this file is built only from these constant column lists.
const MESSAGE_COLUMNS: &str = "id, direction, body, status, correlation_id, sentiment, meta, created_at";
const CONVERSATION_COLUMNS: &str = "id, tenant_id, contact, contact_name, ticket_id, state, replied_upto, context_from,
    guard_strikes, negative_streak, ai_count_from, summary, summary_upto, context_epoch, human_at, survey_id, survey_at";

static CONVERSATION_BY_CONTACT_SQL: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE tenant_id = ?1 AND contact = ?2"));
pub(super) static CONVERSATION_BY_ID_SQL: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = ?1"));
static CONVERSATIONS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {CONVERSATION_COLUMNS}, updated_at FROM conversations
         WHERE tenant_id = ?1 AND (?2 IS NULL OR state = ?2) ORDER BY updated_at DESC, id DESC LIMIT ?3"
    )
});
static MESSAGES_SQL: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 ORDER BY id"));
static PENDING_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ?1 AND direction = 'inbound' AND id > ?2 ORDER BY id"
    )
});
// Everything recent except the burst itself: an answer written while this job
// waited has a higher id than the burst but belongs before it.
static HISTORY_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {MESSAGE_COLUMNS} FROM messages
         WHERE conversation_id = ?1 AND NOT (direction = 'inbound' AND id > ?2) AND created_at >= ?3
           AND status <> 'cancelled' AND id > ?5
         ORDER BY id DESC LIMIT ?4"
    )
});

#[async_trait]
impl MessageStore for SqliteStore {
    async fn record_inbound(&self, inbound: NewInbound<'_>) -> Result<RecordOutcome> {
        let NewInbound { tenant, message, correlation_id, now, debounce, sentiment, notify } = inbound;
        let (message, correlation_id, notify) = (message.clone(), correlation_id.clone(), notify.to_vec());
        self.writer
            .transact(move |conn| {
                let row = MessageRow {
                    tenant,
                    message: &message,
                    direction: Direction::Inbound,
                    correlation_id: &correlation_id,
                    sentiment,
                };
                let Some((conversation, message_id)) = store_message(conn, row, now)? else {
                    return Ok(Tx::Rollback(RecordOutcome::Duplicate)); // undoes the conversation upsert
                };
                let key = JobSpec::conversation_key(conversation);
                // `+state` and the repeated IN term steer SQLite to the partial index
                // `jobs_live_by_key` (key, id): otherwise it walks every queued reply job
                // through `jobs_state_kind`, a cost that grows with the queue.
                let pending: Option<(i64, Option<i64>, i64)> = query_opt(
                    conn,
                    "SELECT id, not_after, run_at FROM jobs
                     WHERE key = ?1 AND kind = 'reply' AND +state = 'queued' AND state IN ('queued', 'running')
                     ORDER BY id DESC LIMIT 1",
                    params![key],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )?;
                let quiet_until = ms(now + debounce.window);
                match pending {
                    // The burst goes on: push the reply back, but never past the burst's cap, and
                    // never earlier than it was (a reply backing off after a failure keeps its delay).
                    Some((job, not_after, current)) => {
                        let run_at = not_after.map_or(quiet_until, |cap| quiet_until.min(cap)).max(current);
                        execute(conn, "UPDATE jobs SET run_at = ?1, updated_at = ?2 WHERE id = ?3", params![
                            run_at,
                            ms(now),
                            job
                        ])?;
                    }
                    None => {
                        let payload = serde_json::json!({ "conversation_id": conversation.0 });
                        execute(
                            conn,
                            "INSERT INTO jobs (tenant_id, kind, key, payload, max_attempts, run_at, not_after, correlation_id, created_at, updated_at)
                             VALUES (?1, 'reply', ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
                            params![
                                tenant.0,
                                key,
                                payload.to_string(),
                                i64::from(debounce.max_attempts),
                                quiet_until,
                                ms(now + debounce.max),
                                correlation_id.as_str(),
                                ms(now)
                            ],
                        )?;
                    }
                }
                queue_notify(conn, tenant, &notify, &correlation_id, now)?;
                Ok(Tx::Commit(RecordOutcome::Queued { message_id, conversation_id: conversation }))
            })
            .await
    }

    async fn record_agent_message(
        &self,
        tenant: TenantId,
        message: &InboundMessage,
        correlation_id: &CorrelationId,
        action: AgentAction,
        now: OffsetDateTime,
    ) -> Result<AgentOutcome> {
        let (message, correlation_id) = (message.clone(), correlation_id.clone());
        self.writer
            .transact(move |conn| {
                let row = MessageRow {
                    tenant,
                    message: &message,
                    direction: Direction::Agent,
                    correlation_id: &correlation_id,
                    sentiment: None,
                };
                let Some((conversation, message_id)) = store_message(conn, row, now)? else {
                    return Ok(Tx::Rollback(AgentOutcome::Duplicate));
                };
                let first_answer_after = handoffs::first_human_answer(conn, conversation, now)?;
                match action {
                    AgentAction::TakeOver => hand_to_human(conn, conversation, now)?,
                    AgentAction::Resume => hand_to_bot(conn, conversation, now)?,
                }
                Ok(Tx::Commit(AgentOutcome::Recorded { message_id, conversation_id: conversation, first_answer_after }))
            })
            .await
    }

    async fn list_recent_outbound(
        &self,
        tenant: TenantId,
        contact: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<String>> {
        let contact = contact.to_string();
        self.readers
            .read(move |conn| {
                query_all(
                    conn,
                    "SELECT m.body FROM messages m JOIN conversations c ON c.id = m.conversation_id
                     WHERE c.tenant_id = ?1 AND c.contact = ?2 AND m.direction = 'outbound' AND m.created_at >= ?3
                     ORDER BY m.id DESC LIMIT 50",
                    params![tenant.0, contact, ms(since)],
                    |row| Ok(row.get(0)?),
                )
            })
            .await
    }

    async fn mark_conversation_state(&self, tenant: TenantId, contact: &str, state: ConversationState) -> Result<bool> {
        let now = OffsetDateTime::now_utc();
        let contact = contact.to_string();
        self.writer
            .transact(move |conn| {
                let id: Option<i64> = query_opt(
                    conn,
                    "SELECT id FROM conversations WHERE tenant_id = ?1 AND contact = ?2",
                    params![tenant.0, contact],
                    |row| Ok(row.get(0)?),
                )?;
                let Some(id) = id else { return Ok(Tx::Rollback(false)) };
                match state {
                    ConversationState::Human => hand_to_human(conn, ConversationId(id), now)?,
                    // A closed ticket's messages stay out of the next ticket's prompts.
                    ConversationState::Closed => close_ticket(conn, ConversationId(id), now)?,
                    ConversationState::Bot => hand_to_bot(conn, ConversationId(id), now)?,
                }
                if state != ConversationState::Human {
                    handoffs::close_open(conn, ConversationId(id), now)?;
                }
                Ok(Tx::Commit(true))
            })
            .await
    }

    async fn find_conversation(&self, tenant: TenantId, contact: &str) -> Result<Option<Conversation>> {
        let contact = contact.to_string();
        self.readers
            .read(move |conn| {
                query_opt(conn, &CONVERSATION_BY_CONTACT_SQL, params![tenant.0, contact], conversation_from_row)
            })
            .await
    }

    async fn list_conversations(
        &self,
        tenant: TenantId,
        filter: ConversationFilter,
    ) -> Result<Vec<ConversationListing>> {
        let state = filter.state.map(ConversationState::as_str);
        self.readers
            .read(move |conn| {
                query_all(conn, &CONVERSATIONS_SQL, params![tenant.0, state, filter.limit], |row| {
                    Ok(ConversationListing {
                        conversation: conversation_from_row(row)?,
                        updated_at: from_ms(row.get("updated_at")?),
                    })
                })
            })
            .await
    }

    async fn message_counts(&self, since: OffsetDateTime) -> Result<Vec<(String, i64, i64)>> {
        self.readers
            .read(move |conn| {
                query_all(
                    conn,
                    "SELECT t.slug, SUM(m.direction = 'inbound'), SUM(m.direction = 'outbound' AND m.status = 'sent')
                     FROM messages m JOIN tenants t ON t.id = m.tenant_id
                     WHERE m.created_at >= ?1 GROUP BY t.slug",
                    params![ms(since)],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
            })
            .await
    }

    async fn mean_mood(&self, since: OffsetDateTime) -> Result<Vec<(String, f64)>> {
        self.readers
            .read(move |conn| {
                query_all(
                    conn,
                    "SELECT t.slug, AVG(m.sentiment) FROM messages m JOIN tenants t ON t.id = m.tenant_id
                     WHERE m.direction = 'inbound' AND m.sentiment IS NOT NULL AND m.created_at >= ?1 GROUP BY t.slug",
                    params![ms(since)],
                    |row| Ok((row.get(0)?, row.get(1)?)),
                )
            })
            .await
    }

    async fn list_messages(&self, conversation: ConversationId) -> Result<Vec<StoredMessage>> {
        self.readers.read(move |conn| query_all(conn, &MESSAGES_SQL, params![conversation.0], message_from_row)).await
    }

    async fn load_reply_context(
        &self,
        conversation: ConversationId,
        history_turns: u32,
        history_since: OffsetDateTime,
        history_after: MessageId,
    ) -> Result<Option<ReplyContext>> {
        // Read on the writer so the context is never staler than the job that asked for it.
        self.writer
            .write(move |conn| reply_context(conn, conversation, history_turns, history_since, history_after))
            .await
    }

    async fn record_reply(&self, reply: NewReply<'_>) -> Result<Finish> {
        let reply = OwnedReply {
            job: reply.job.clone(),
            conversation: reply.conversation,
            covered_upto: reply.covered_upto,
            parts: reply.parts,
            meta: reply.meta,
            deliver_max_attempts: reply.deliver_max_attempts,
            update: reply.update,
            ticket: reply.ticket,
            notify: reply.notify,
            idle_after: reply.idle_after,
        };
        self.writer.transact(move |conn| finish_reply(conn, &reply)).await
    }

    async fn find_delivery(&self, message: MessageId) -> Result<Option<Delivery>> {
        self.writer
            .write(move |conn| {
                type Row = (String, String, i64, Option<i64>, String, Option<String>, i64);
                let row: Option<Row> = query_opt(
                    conn,
                    "SELECT m.body, m.status, m.created_at, m.fallback_at, c.contact, c.contact_name, c.tenant_id
                     FROM messages m JOIN conversations c ON c.id = m.conversation_id
                     WHERE m.id = ?1 AND m.direction = 'outbound'",
                    params![message.0],
                    |row| {
                        Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?, row.get(4)?, row.get(5)?, row.get(6)?))
                    },
                )?;
                let Some((text, status, created_at, fallback_at, contact, contact_name, tenant)) = row else {
                    return Ok(None);
                };
                let tenant = query_one(conn, &TENANT_BY_ID_SQL, params![tenant], tenant_from_row)?;
                Ok(Some(Delivery {
                    message_id: message,
                    tenant,
                    contact: ContactNumber::parse(&contact).map_err(|e| corrupt(e.to_string()))?,
                    text,
                    status,
                    contact_name,
                    created_at: from_ms(created_at),
                    fallback_at: fallback_at.map(from_ms),
                }))
            })
            .await
    }

    async fn record_delivered(
        &self,
        job: &ClaimedJob,
        message: MessageId,
        notify: &[NewNotify],
        now: OffsetDateTime,
    ) -> Result<Finish> {
        let (job, notify) = (job.clone(), notify.to_vec());
        self.writer
            .transact(move |conn| {
                if !finish_job(conn, job.id.0, &job.owner, now)? {
                    return Ok(Tx::Rollback(Finish::LeaseLost));
                }
                execute(
                    conn,
                    "UPDATE messages SET status = 'sent', sent_at = ?1 WHERE id = ?2",
                    params![ms(now), message.0],
                )?;
                queue_notify(conn, job.tenant_id, &notify, &job.correlation_id, now)?;
                Ok(Tx::Commit(Finish::Recorded { message_id: Some(message) }))
            })
            .await
    }

    async fn send_as_bot(&self, message: BotMessage<'_>) -> Result<Option<MessageId>> {
        let (tenant, contact, text) = (message.tenant, message.contact.to_string(), message.text.to_string());
        let (meta, max_attempts, correlation_id, now) =
            (message.meta, message.deliver_max_attempts, message.correlation_id.clone(), message.now);
        self.writer
            .transact(move |conn| {
                let Some(conversation) = conversation_id(conn, tenant, &contact)? else {
                    return Ok(Tx::Commit(None));
                };
                execute(
                    conn,
                    "UPDATE conversations SET updated_at = ?1 WHERE id = ?2",
                    params![ms(now), conversation.0],
                )?;
                let origin = Origin { tenant, correlation_id: &correlation_id, at: now };
                let key = JobSpec::conversation_key(conversation);
                let id = queue_outbound(conn, origin, &key, conversation, &text, &meta, max_attempts)?;
                Ok(Tx::Commit(Some(MessageId(id))))
            })
            .await
    }
}

/// The id of a tenant's conversation with `contact`.
pub(super) fn conversation_id(conn: &Connection, tenant: TenantId, contact: &str) -> Result<Option<ConversationId>> {
    query_opt(
        conn,
        "SELECT id FROM conversations WHERE tenant_id = ?1 AND contact = ?2",
        params![tenant.0, contact],
        |row| Ok(ConversationId(row.get(0)?)),
    )
}

/// [`NewReply`] without borrows, to move to the writer thread.
struct OwnedReply {
    job: ClaimedJob,
    conversation: ConversationId,
    covered_upto: MessageId,
    parts: Vec<String>,
    meta: serde_json::Value,
    deliver_max_attempts: u32,
    update: ConversationUpdate,
    ticket: MessageId,
    notify: Vec<NewNotify>,
    idle_after: Option<time::Duration>,
}

/// The reads of `load_reply_context`, on the writer's connection.
fn reply_context(
    conn: &Connection,
    conversation: ConversationId,
    history_turns: u32,
    history_since: OffsetDateTime,
    history_after: MessageId,
) -> Result<Option<ReplyContext>> {
    let Some(conversation) = query_opt(conn, &CONVERSATION_BY_ID_SQL, params![conversation.0], conversation_from_row)?
    else {
        return Ok(None);
    };
    let tenant = query_one(conn, &TENANT_BY_ID_SQL, params![conversation.tenant_id.0], tenant_from_row)?;
    let pending =
        query_all(conn, &PENDING_SQL, params![conversation.id.0, conversation.replied_upto.0], message_from_row)?;
    // The recent turns, plus up to OLDER_TURNS older ones the brain folds into a summary.
    let mut history = query_all(
        conn,
        &HISTORY_SQL,
        params![
            conversation.id.0,
            conversation.replied_upto.0,
            ms(history_since),
            i64::from(history_turns) + i64::from(OLDER_TURNS),
            conversation.context_from.0.max(history_after.0)
        ],
        message_from_row,
    )?;
    history.reverse();
    let split = history.len().saturating_sub(history_turns as usize);
    let older = history.drain(..split).collect();
    let first_pending = pending.first().map_or(i64::MAX, |m| m.id.0);
    let (earlier, ai_replies): (i64, i64) = query_one(
        conn,
        "SELECT COUNT(*) FILTER (WHERE id < ?3),
                COUNT(DISTINCT correlation_id) FILTER (WHERE direction = 'outbound' AND id > ?4 AND status <> 'cancelled')
         FROM messages WHERE conversation_id = ?1 AND id > ?2",
        params![conversation.id.0, conversation.context_from.0, first_pending, conversation.ai_count_from.0],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    Ok(Some(ReplyContext {
        tenant,
        conversation,
        pending,
        history,
        older,
        earlier_messages: earlier as u32,
        ai_replies: ai_replies as u32,
    }))
}

/// The transaction of `record_reply`.
fn finish_reply(conn: &Connection, reply: &OwnedReply) -> Result<Tx<Finish>> {
    let job = &reply.job;
    let now = job.claimed_at;
    if !finish_job(conn, job.id.0, &job.owner, now)? {
        return Ok(Tx::Rollback(Finish::LeaseLost));
    }
    let state: String =
        query_one(conn, "SELECT state FROM conversations WHERE id = ?1", params![reply.conversation.0], |row| {
            Ok(row.get(0)?)
        })?;
    // A human agent may have taken over while the LLM was thinking: then stay silent. A
    // person gone idle gives the conversation back only if they did not write since.
    let update = &reply.update;
    let mut bot = ConversationState::from_stored(&state) == ConversationState::Bot;
    if !bot && let Some(seen) = update.resume_idle {
        let human_at: Option<i64> = query_one(
            conn,
            "SELECT human_at FROM conversations WHERE id = ?1",
            params![reply.conversation.0],
            |row| Ok(row.get(0)?),
        )?;
        if ConversationState::from_stored(&state) == ConversationState::Human && human_at == Some(ms(seen)) {
            // Not `hand_to_bot`: a message that came in since the burst still needs its answer.
            execute(
                conn,
                "UPDATE conversations SET state = 'bot',
                        ai_count_from = (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = ?1)
                 WHERE id = ?1",
                params![reply.conversation.0],
            )?;
            handoffs::close_open(conn, reply.conversation, now)?;
            bot = true;
        }
    }
    let handoff = bot && update.handoff.is_some();
    execute(
        conn,
        "UPDATE conversations SET replied_upto = MAX(replied_upto, ?1), updated_at = ?2,
                state = CASE WHEN ?3 THEN 'human' ELSE state END,
                human_at = CASE WHEN ?3 THEN ?2 ELSE human_at END
         WHERE id = ?4",
        params![reply.covered_upto.0, ms(now), handoff, reply.conversation.0],
    )?;
    // Counters belong to the ticket they were read from; a close in between reset them.
    let (summary, summary_upto) = match &update.summary {
        Some((text, upto)) => (Some(text.as_str()), Some(upto.0)),
        None => (None, None),
    };
    execute(
        conn,
        "UPDATE conversations SET guard_strikes = ?1, negative_streak = ?2,
                summary = COALESCE(?5, summary), summary_upto = COALESCE(?6, summary_upto)
         WHERE id = ?3 AND context_from = ?4",
        params![
            i64::from(update.guard_strikes),
            i64::from(update.negative_streak),
            reply.conversation.0,
            reply.ticket.0,
            summary,
            summary_upto
        ],
    )?;
    let rated = match &update.survey {
        Some(answer) => surveys::answer(conn, reply.conversation, answer, now)?,
        None => false,
    };
    let mut first = None;
    for text in reply.parts.iter().filter(|_| bot) {
        let id = insert_outbound(conn, reply, text)?;
        first.get_or_insert(MessageId(id));
    }
    // After the hand-off text's deliveries (same key, higher id), so the customer hears it first.
    if let Some(new) = update.handoff.as_ref().filter(|_| handoff) {
        handoffs::open(conn, job.into(), &job.key, reply.conversation, new, reply.deliver_max_attempts)?;
    }
    if rated {
        queue_notify(conn, job.tenant_id, &reply.notify, &job.correlation_id, now)?;
        // The rating and its thanks end the ticket that was surveyed (unless a person took
        // the conversation over meanwhile: theirs to close).
        if bot {
            close_ticket(conn, reply.conversation, now)?;
        }
    } else if let Some(idle) = reply.idle_after.filter(|_| bot && first.is_some() && !handoff) {
        surveys::schedule_idle(conn, job, reply.conversation, now + idle)?;
    }
    Ok(Tx::Commit(Finish::Recorded { message_id: first }))
}

/// Stores one outbound part of a reply and its `deliver` job (same key, so parts go in order).
fn insert_outbound(conn: &Connection, reply: &OwnedReply, text: &str) -> Result<i64> {
    let job = &reply.job;
    queue_outbound(conn, job.into(), &job.key, reply.conversation, text, &reply.meta, reply.deliver_max_attempts)
}

/// Stores an outbound message and its `deliver` job on `key` (the conversation's), with
/// `origin`'s tenant, clock and correlation id.
pub(super) fn queue_outbound(
    conn: &Connection,
    origin: Origin<'_>,
    key: &str,
    conversation: ConversationId,
    text: &str,
    meta: &serde_json::Value,
    deliver_max_attempts: u32,
) -> Result<i64> {
    let (now, correlation_id) = (ms(origin.at), origin.correlation_id.as_str());
    let id: i64 = query_one(
        conn,
        "INSERT INTO messages (tenant_id, conversation_id, direction, body, status, correlation_id, meta, created_at)
         VALUES (?1, ?2, 'outbound', ?3, 'pending', ?4, ?5, ?6) RETURNING id",
        params![origin.tenant.0, conversation.0, text, correlation_id, meta.to_string(), now],
        |row| Ok(row.get(0)?),
    )?;
    execute(
        conn,
        "INSERT INTO jobs (tenant_id, kind, key, payload, max_attempts, run_at, correlation_id, created_at, updated_at)
         VALUES (?1, 'deliver', ?2, ?3, ?4, ?5, ?6, ?5, ?5)",
        params![
            origin.tenant.0,
            key,
            serde_json::json!({ "message_id": id }).to_string(),
            i64::from(deliver_max_attempts),
            now,
            correlation_id
        ],
    )?;
    Ok(id)
}

/// Closes the conversation's ticket: a closed ticket's messages stay out of the next
/// ticket's prompts, and its counters start again.
pub(super) fn close_ticket(conn: &Connection, conversation: ConversationId, now: OffsetDateTime) -> Result<()> {
    execute(
        conn,
        "UPDATE conversations SET state = 'closed', updated_at = ?1, guard_strikes = 0, negative_streak = 0, ticket_id = NULL,
                summary = NULL, summary_upto = 0,
                context_from = (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = ?2),
                replied_upto = (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = ?2)
         WHERE id = ?2",
        params![ms(now), conversation.0],
    )?;
    Ok(())
}

/// Gives a conversation to a person: everything the customer wrote so far is theirs to
/// answer, and bot answers not yet sent are cancelled (their `deliver` jobs then skip them).
pub(super) fn hand_to_human(conn: &Connection, conversation: ConversationId, now: OffsetDateTime) -> Result<()> {
    execute(
        conn,
        "UPDATE conversations SET state = 'human', updated_at = ?1, context_epoch = context_epoch + 1, human_at = ?1,
                replied_upto = (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = ?2)
         WHERE id = ?2",
        params![ms(now), conversation.0],
    )?;
    execute(
        conn,
        "UPDATE messages SET status = 'cancelled' WHERE conversation_id = ?1 AND direction = 'outbound' AND status = 'pending'",
        params![conversation.0],
    )?;
    Ok(())
}

/// Gives a conversation back to the bot. The AI reply count restarts, and what the customer
/// wrote meanwhile was the person's to answer (a reply job still queued skips it).
pub(super) fn hand_to_bot(conn: &Connection, conversation: ConversationId, now: OffsetDateTime) -> Result<()> {
    execute(
        conn,
        "UPDATE conversations SET state = 'bot', updated_at = ?1,
                ai_count_from = (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = ?2),
                replied_upto = (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = ?2 AND direction = 'inbound')
         WHERE id = ?2",
        params![ms(now), conversation.0],
    )?;
    Ok(())
}

/// Marks a leased job done in the current transaction; false when `owner` no longer holds it.
pub(super) fn finish_job(conn: &Connection, job: i64, owner: &str, now: OffsetDateTime) -> Result<bool> {
    let done = execute(
        conn,
        "UPDATE jobs SET state = 'done', lease_until = NULL, updated_at = ?1
         WHERE id = ?2 AND lease_owner = ?3 AND state = 'running'",
        params![ms(now), job, owner],
    )?;
    Ok(done == 1)
}

fn upsert_conversation(
    conn: &Connection,
    tenant: TenantId,
    message: &InboundMessage,
    now: OffsetDateTime,
) -> Result<ConversationId> {
    let id: i64 = query_one(
        conn,
        "INSERT INTO conversations (tenant_id, contact, contact_name, ticket_id, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?5)
         ON CONFLICT (tenant_id, contact) DO UPDATE SET
             contact_name = COALESCE(excluded.contact_name, contact_name),
             ticket_id = COALESCE(excluded.ticket_id, ticket_id),
             state = CASE WHEN state = 'closed' THEN 'bot' ELSE state END,
             updated_at = excluded.updated_at
         RETURNING id",
        params![tenant.0, message.contact.as_str(), message.contact_name, message.ticket_id, ms(now)],
        |row| Ok(row.get(0)?),
    )?;
    Ok(ConversationId(id))
}

/// An inbound or agent message to insert.
struct MessageRow<'a> {
    tenant: TenantId,
    message: &'a InboundMessage,
    direction: Direction,
    correlation_id: &'a CorrelationId,
    sentiment: Option<f32>,
}

/// Upserts the message's conversation and inserts the message; `None` means duplicate (the
/// caller rolls back, undoing the upsert).
fn store_message(
    conn: &Connection,
    row: MessageRow<'_>,
    now: OffsetDateTime,
) -> Result<Option<(ConversationId, MessageId)>> {
    let conversation = upsert_conversation(conn, row.tenant, row.message, now)?;
    Ok(insert_message(conn, conversation, row, now)?.map(|message| (conversation, message)))
}

/// Inserts a message unless its provider id was seen; `None` means duplicate.
fn insert_message(
    conn: &Connection,
    conversation: ConversationId,
    row: MessageRow<'_>,
    now: OffsetDateTime,
) -> Result<Option<MessageId>> {
    let MessageRow { tenant, message, direction, correlation_id, sentiment } = row;
    let id: Option<i64> = query_opt(
        conn,
        "INSERT INTO messages (tenant_id, conversation_id, provider_id, direction, body, status, correlation_id, sent_at, created_at, sentiment)
         VALUES (?1, ?2, ?3, ?4, ?5, 'received', ?6, ?7, ?8, ?9)
         ON CONFLICT (tenant_id, provider_id) DO NOTHING RETURNING id",
        params![
            tenant.0,
            conversation.0,
            message.provider_id,
            direction.as_str(),
            message.text,
            correlation_id.as_str(),
            ms(message.sent_at),
            ms(now),
            sentiment.map(f64::from)
        ],
        |row| Ok(row.get(0)?),
    )?;
    Ok(id.map(MessageId))
}

pub(super) fn conversation_from_row(row: &Row<'_>) -> Result<Conversation> {
    let state: String = row.get("state")?;
    Ok(Conversation {
        id: ConversationId(row.get("id")?),
        tenant_id: TenantId(row.get("tenant_id")?),
        contact: row.get("contact")?,
        contact_name: row.get("contact_name")?,
        ticket_id: row.get("ticket_id")?,
        state: ConversationState::from_stored(&state),
        replied_upto: MessageId(row.get("replied_upto")?),
        context_from: MessageId(row.get("context_from")?),
        guard_strikes: row.get::<_, i64>("guard_strikes")? as u32,
        negative_streak: row.get::<_, i64>("negative_streak")? as u32,
        ai_count_from: MessageId(row.get("ai_count_from")?),
        summary: row.get("summary")?,
        summary_upto: MessageId(row.get("summary_upto")?),
        context_epoch: row.get("context_epoch")?,
        human_at: row.get::<_, Option<i64>>("human_at")?.map(from_ms),
        survey: match (row.get::<_, Option<i64>>("survey_id")?, row.get::<_, Option<i64>>("survey_at")?) {
            (Some(id), Some(at)) => Some(PendingSurvey { id, asked_at: from_ms(at) }),
            _ => None,
        },
    })
}

fn message_from_row(row: &Row<'_>) -> Result<StoredMessage> {
    let direction: String = row.get("direction")?;
    Ok(StoredMessage {
        id: MessageId(row.get("id")?),
        direction: Direction::from_stored(&direction),
        body: row.get("body")?,
        status: row.get("status")?,
        correlation_id: row.get("correlation_id")?,
        sentiment: row.get::<_, Option<f64>>("sentiment")?.map(|v| v as f32),
        meta: row.get::<_, Option<String>>("meta")?.and_then(|m| serde_json::from_str(&m).ok()),
        created_at: from_ms(row.get("created_at")?),
    })
}
