//! Conversations and messages on PostgreSQL, including the transactions that end jobs.
//!
//! Lock order, to stay clear of deadlocks: a job row (fencing) before its conversation
//! row, the conversation row before its messages and queued jobs.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row};
use time::OffsetDateTime;

use super::jobs::queue_notify;
use super::tenants::{TENANT_COLUMNS, tenant_from_row};
use super::{PgStore, corrupt, from_ms, is_unique_violation, ms};
use super::{handoffs, surveys};
use crate::domain::{
    ContactNumber, ConversationId, ConversationState, CorrelationId, Direction, InboundMessage, JobSpec, MessageId,
    TenantId,
};
use crate::store::{
    AgentAction, AgentOutcome, BotMessage, ClaimedJob, Conversation, ConversationFilter, ConversationListing, Delivery,
    Finish, MessageStore, NewInbound, NewNotify, NewReply, OLDER_TURNS, Origin, PendingSurvey, RecordOutcome,
    ReplyContext, Result, StoredMessage,
};

// Dynamic SQL in this file is built only from these constant column lists (AssertSqlSafe).
const MESSAGE_COLUMNS: &str = "id, direction, body, status, correlation_id, sentiment, meta, created_at";
pub(super) const CONVERSATION_COLUMNS: &str =
    "id, tenant_id, contact, contact_name, ticket_id, state, replied_upto, context_from,
    guard_strikes, negative_streak, ai_count_from, summary, summary_upto, context_epoch, human_at, survey_id, survey_at";

#[async_trait]
impl MessageStore for PgStore {
    async fn record_inbound(&self, inbound: NewInbound<'_>) -> Result<RecordOutcome> {
        // One round trip: `atende_record_inbound` (migration 0004) does in the database what
        // the SQLite store does in Rust, in the statement's own transaction.
        let NewInbound { tenant, message, correlation_id, now, debounce, sentiment, notify } = inbound;
        // Events ride in the same transaction; without any the call stays one round trip.
        let mut tx = if notify.is_empty() { None } else { Some(self.pool.begin().await?) };
        let query =
            sqlx::query_as("SELECT message_id, conversation_id FROM atende_record_inbound($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)")
                .bind(tenant.0)
                .bind(message.contact.as_str())
                .bind(message.contact_name.as_deref())
                .bind(message.ticket_id.as_deref())
                .bind(&message.provider_id)
                .bind(&message.text)
                .bind(correlation_id.as_str())
                .bind(ms(message.sent_at))
                .bind(ms(now))
                .bind(sentiment.map(f64::from))
                .bind(ms(now + debounce.window))
                .bind(ms(now + debounce.max))
                .bind(i64::from(debounce.max_attempts));
        let row: std::result::Result<Option<(i64, i64)>, sqlx::Error> = match tx.as_mut() {
            Some(tx) => query.fetch_optional(&mut **tx).await,
            None => query.fetch_optional(&self.pool).await,
        };
        let row = match row {
            Err(err) if is_unique_violation(&err) => return Ok(RecordOutcome::Duplicate),
            other => other?,
        };
        let Some((message, conversation)) = row else { return Ok(RecordOutcome::Duplicate) };
        if let Some(mut tx) = tx {
            queue_notify(&mut tx, tenant, notify, correlation_id, now).await?;
            tx.commit().await?;
        }
        Ok(RecordOutcome::Queued { message_id: MessageId(message), conversation_id: ConversationId(conversation) })
    }

    async fn record_agent_message(
        &self,
        tenant: TenantId,
        message: &InboundMessage,
        correlation_id: &CorrelationId,
        action: AgentAction,
        now: OffsetDateTime,
    ) -> Result<AgentOutcome> {
        let mut tx = self.pool.begin().await?;
        let conversation = upsert_conversation(&mut tx, tenant, message, now).await?;
        let Some(message_id) = insert_message(
            &mut tx,
            conversation,
            MessageRow { tenant, message, direction: Direction::Agent, correlation_id, sentiment: None },
            now,
        )
        .await?
        else {
            tx.rollback().await?;
            return Ok(AgentOutcome::Duplicate);
        };
        let first_answer_after = handoffs::first_human_answer(&mut tx, conversation, now).await?;
        match action {
            AgentAction::TakeOver => hand_to_human(&mut tx, conversation, now).await?,
            AgentAction::Resume => hand_to_bot(&mut tx, conversation, now).await?,
        }
        tx.commit().await?;
        Ok(AgentOutcome::Recorded { message_id, conversation_id: conversation, first_answer_after })
    }

    async fn list_recent_outbound(
        &self,
        tenant: TenantId,
        contact: &str,
        since: OffsetDateTime,
    ) -> Result<Vec<String>> {
        let rows = sqlx::query_scalar(
            "SELECT m.body FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE c.tenant_id = $1 AND c.contact = $2 AND m.direction = 'outbound' AND m.created_at >= $3
             ORDER BY m.id DESC LIMIT 50",
        )
        .bind(tenant.0)
        .bind(contact)
        .bind(ms(since))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn mark_conversation_state(&self, tenant: TenantId, contact: &str, state: ConversationState) -> Result<bool> {
        let now = OffsetDateTime::now_utc();
        let mut tx = self.pool.begin().await?;
        let id: Option<i64> =
            sqlx::query_scalar("SELECT id FROM conversations WHERE tenant_id = $1 AND contact = $2 FOR UPDATE")
                .bind(tenant.0)
                .bind(contact)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(id) = id else {
            tx.rollback().await?;
            return Ok(false);
        };
        match state {
            ConversationState::Human => hand_to_human(&mut tx, ConversationId(id), now).await?,
            // A closed ticket's messages stay out of the next ticket's prompts.
            ConversationState::Closed => close_ticket(&mut tx, ConversationId(id), now).await?,
            ConversationState::Bot => hand_to_bot(&mut tx, ConversationId(id), now).await?,
        }
        if state != ConversationState::Human {
            handoffs::close_open(&mut tx, ConversationId(id), now).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    async fn find_conversation(&self, tenant: TenantId, contact: &str) -> Result<Option<Conversation>> {
        let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE tenant_id = $1 AND contact = $2");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(tenant.0).bind(contact).fetch_optional(&self.pool).await?;
        Ok(row.as_ref().map(conversation_from_row))
    }

    async fn list_conversations(
        &self,
        tenant: TenantId,
        filter: ConversationFilter,
    ) -> Result<Vec<ConversationListing>> {
        let sql = format!(
            "SELECT {CONVERSATION_COLUMNS}, updated_at FROM conversations
             WHERE tenant_id = $1 AND ($2::TEXT IS NULL OR state = $2) ORDER BY updated_at DESC, id DESC LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.0)
            .bind(filter.state.map(ConversationState::as_str))
            .bind(i64::from(filter.limit))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .iter()
            .map(|row| ConversationListing {
                conversation: conversation_from_row(row),
                updated_at: from_ms(row.get("updated_at")),
            })
            .collect())
    }

    async fn message_counts(&self, since: OffsetDateTime) -> Result<Vec<(String, i64, i64)>> {
        let rows = sqlx::query_as(
            "SELECT t.slug, COUNT(*) FILTER (WHERE m.direction = 'inbound'),
                    COUNT(*) FILTER (WHERE m.direction = 'outbound' AND m.status = 'sent')
             FROM messages m JOIN tenants t ON t.id = m.tenant_id
             WHERE m.created_at >= $1 GROUP BY t.slug",
        )
        .bind(ms(since))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn mean_mood(&self, since: OffsetDateTime) -> Result<Vec<(String, f64)>> {
        let rows = sqlx::query_as(
            "SELECT t.slug, AVG(m.sentiment) FROM messages m JOIN tenants t ON t.id = m.tenant_id
             WHERE m.direction = 'inbound' AND m.sentiment IS NOT NULL AND m.created_at >= $1 GROUP BY t.slug",
        )
        .bind(ms(since))
        .fetch_all(&self.pool)
        .await?;
        Ok(rows)
    }

    async fn list_messages(&self, conversation: ConversationId) -> Result<Vec<StoredMessage>> {
        let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 ORDER BY id");
        let rows = sqlx::query(AssertSqlSafe(sql)).bind(conversation.0).fetch_all(&self.pool).await?;
        Ok(rows.iter().map(message_from_row).collect())
    }

    async fn load_reply_context(
        &self,
        conversation: ConversationId,
        history_turns: u32,
        history_since: OffsetDateTime,
        history_after: MessageId,
    ) -> Result<Option<ReplyContext>> {
        // One snapshot for every read, so the burst, history and counters agree.
        let mut tx = self.pool.begin_with("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY").await?;
        let sql = format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1");
        let Some(row) = sqlx::query(AssertSqlSafe(sql)).bind(conversation.0).fetch_optional(&mut *tx).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        let conversation = conversation_from_row(&row);
        let tenant = sqlx::query(AssertSqlSafe(format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1")))
            .bind(conversation.tenant_id.0)
            .fetch_one(&mut *tx)
            .await?;
        let tenant = tenant_from_row(&tenant)?;
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = $1 AND direction = 'inbound' AND id > $2 ORDER BY id"
        );
        let pending: Vec<StoredMessage> = sqlx::query(AssertSqlSafe(sql))
            .bind(conversation.id.0)
            .bind(conversation.replied_upto.0)
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(message_from_row)
            .collect();
        // Everything recent except the burst itself: an answer written while this job
        // waited has a higher id than the burst but belongs before it.
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages
             WHERE conversation_id = $1 AND NOT (direction = 'inbound' AND id > $2) AND created_at >= $3
               AND status <> 'cancelled' AND id > $5
             ORDER BY id DESC LIMIT $4"
        );
        // The recent turns, plus up to OLDER_TURNS older ones the brain folds into a summary.
        let mut history: Vec<StoredMessage> = sqlx::query(AssertSqlSafe(sql))
            .bind(conversation.id.0)
            .bind(conversation.replied_upto.0)
            .bind(ms(history_since))
            .bind(i64::from(history_turns) + i64::from(OLDER_TURNS))
            .bind(conversation.context_from.0.max(history_after.0))
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .map(message_from_row)
            .collect();
        history.reverse();
        let split = history.len().saturating_sub(history_turns as usize);
        let older = history.drain(..split).collect();
        let first_pending = pending.first().map_or(i64::MAX, |m| m.id.0);
        let (earlier, ai_replies): (i64, i64) = sqlx::query_as(
            "SELECT COUNT(*) FILTER (WHERE id < $3),
                    COUNT(DISTINCT correlation_id) FILTER (WHERE direction = 'outbound' AND id > $4 AND status <> 'cancelled')
             FROM messages WHERE conversation_id = $1 AND id > $2",
        )
        .bind(conversation.id.0)
        .bind(conversation.context_from.0)
        .bind(first_pending)
        .bind(conversation.ai_count_from.0)
        .fetch_one(&mut *tx)
        .await?;
        tx.commit().await?;
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

    async fn record_reply(&self, reply: NewReply<'_>) -> Result<Finish> {
        let job = reply.job;
        let now = job.claimed_at;
        let mut tx = self.pool.begin().await?;
        if !finish_job(&mut tx, job.id.0, &job.owner, now).await? {
            tx.rollback().await?;
            return Ok(Finish::LeaseLost);
        }
        // The row lock orders this against an agent taking the conversation over.
        let state: String = sqlx::query_scalar("SELECT state FROM conversations WHERE id = $1 FOR UPDATE")
            .bind(reply.conversation.0)
            .fetch_one(&mut *tx)
            .await?;
        // A human agent may have taken over while the LLM was thinking: then stay silent. A
        // person gone idle gives the conversation back only if they did not write since.
        let update = &reply.update;
        let mut bot = ConversationState::from_stored(&state) == ConversationState::Bot;
        if !bot && let Some(seen) = update.resume_idle {
            let human_at: Option<i64> = sqlx::query_scalar("SELECT human_at FROM conversations WHERE id = $1")
                .bind(reply.conversation.0)
                .fetch_one(&mut *tx)
                .await?;
            if ConversationState::from_stored(&state) == ConversationState::Human && human_at == Some(ms(seen)) {
                // Not `hand_to_bot`: a message that came in since the burst still needs its answer.
                sqlx::query(
                    "UPDATE conversations SET state = 'bot',
                            ai_count_from = (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = $1)
                     WHERE id = $1",
                )
                .bind(reply.conversation.0)
                .execute(&mut *tx)
                .await?;
                handoffs::close_open(&mut tx, reply.conversation, now).await?;
                bot = true;
            }
        }
        let handoff = bot && update.handoff.is_some();
        sqlx::query(
            "UPDATE conversations SET replied_upto = GREATEST(replied_upto, $1), updated_at = $2,
                    state = CASE WHEN $3 THEN 'human' ELSE state END,
                    human_at = CASE WHEN $3 THEN $2 ELSE human_at END
             WHERE id = $4",
        )
        .bind(reply.covered_upto.0)
        .bind(ms(now))
        .bind(handoff)
        .bind(reply.conversation.0)
        .execute(&mut *tx)
        .await?;
        // Counters belong to the ticket they were read from; a close in between reset them.
        let (summary, summary_upto) = match &update.summary {
            Some((text, upto)) => (Some(text.as_str()), Some(upto.0)),
            None => (None, None),
        };
        sqlx::query(
            "UPDATE conversations SET guard_strikes = $1, negative_streak = $2,
                    summary = COALESCE($5, summary), summary_upto = COALESCE($6, summary_upto)
             WHERE id = $3 AND context_from = $4",
        )
        .bind(i64::from(update.guard_strikes))
        .bind(i64::from(update.negative_streak))
        .bind(reply.conversation.0)
        .bind(reply.ticket.0)
        .bind(summary)
        .bind(summary_upto)
        .execute(&mut *tx)
        .await?;
        let rated = match &update.survey {
            Some(answer) => surveys::answer(&mut tx, reply.conversation, answer, now).await?,
            None => false,
        };
        let mut first = None;
        for text in reply.parts.iter().filter(|_| bot) {
            let id = insert_outbound(&mut tx, &reply, text).await?;
            first.get_or_insert(MessageId(id));
        }
        // After the hand-off text's deliveries (same key, higher id), so the customer hears it first.
        if let Some(new) = update.handoff.as_ref().filter(|_| handoff) {
            handoffs::open(&mut tx, job.into(), &job.key, reply.conversation, new, reply.deliver_max_attempts).await?;
        }
        if rated {
            queue_notify(&mut tx, job.tenant_id, &reply.notify, &job.correlation_id, now).await?;
            // The rating and its thanks end the ticket that was surveyed (unless a person
            // took the conversation over meanwhile: theirs to close).
            if bot {
                close_ticket(&mut tx, reply.conversation, now).await?;
            }
        } else if let Some(idle) = reply.idle_after.filter(|_| bot && first.is_some() && !handoff) {
            surveys::schedule_idle(&mut tx, job, reply.conversation, now + idle).await?;
        }
        tx.commit().await?;
        Ok(Finish::Recorded { message_id: first })
    }

    async fn find_delivery(&self, message: MessageId) -> Result<Option<Delivery>> {
        let row = sqlx::query(
            "SELECT m.body, m.status, m.created_at, m.fallback_at, c.contact, c.contact_name, c.tenant_id
             FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE m.id = $1 AND m.direction = 'outbound'",
        )
        .bind(message.0)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let tenant = sqlx::query(AssertSqlSafe(format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1")))
            .bind(row.get::<i64, _>("tenant_id"))
            .fetch_one(&self.pool)
            .await?;
        let contact: String = row.get("contact");
        Ok(Some(Delivery {
            message_id: message,
            tenant: tenant_from_row(&tenant)?,
            contact: ContactNumber::parse(&contact).map_err(|e| corrupt(e.to_string()))?,
            text: row.get("body"),
            status: row.get("status"),
            contact_name: row.get("contact_name"),
            created_at: from_ms(row.get("created_at")),
            fallback_at: row.get::<Option<i64>, _>("fallback_at").map(from_ms),
        }))
    }

    async fn record_delivered(
        &self,
        job: &ClaimedJob,
        message: MessageId,
        notify: &[NewNotify],
        now: OffsetDateTime,
    ) -> Result<Finish> {
        let mut tx = self.pool.begin().await?;
        if !finish_job(&mut tx, job.id.0, &job.owner, now).await? {
            tx.rollback().await?;
            return Ok(Finish::LeaseLost);
        }
        sqlx::query("UPDATE messages SET status = 'sent', sent_at = $1 WHERE id = $2")
            .bind(ms(now))
            .bind(message.0)
            .execute(&mut *tx)
            .await?;
        queue_notify(&mut tx, job.tenant_id, notify, &job.correlation_id, now).await?;
        tx.commit().await?;
        Ok(Finish::Recorded { message_id: Some(message) })
    }

    async fn send_as_bot(&self, message: BotMessage<'_>) -> Result<Option<MessageId>> {
        let mut tx = self.pool.begin().await?;
        let Some(conversation) = lock_conversation(&mut tx, message.tenant, message.contact).await? else {
            tx.rollback().await?;
            return Ok(None);
        };
        sqlx::query("UPDATE conversations SET updated_at = $1 WHERE id = $2")
            .bind(ms(message.now))
            .bind(conversation.0)
            .execute(&mut *tx)
            .await?;
        let origin = Origin { tenant: message.tenant, correlation_id: message.correlation_id, at: message.now };
        let key = JobSpec::conversation_key(conversation);
        let id = queue_outbound(
            &mut tx,
            origin,
            &key,
            conversation,
            message.text,
            &message.meta,
            message.deliver_max_attempts,
        )
        .await?;
        tx.commit().await?;
        Ok(Some(MessageId(id)))
    }
}

/// The id of a tenant's conversation with `contact`, its row locked for the transaction.
pub(super) async fn lock_conversation(
    conn: &mut PgConnection,
    tenant: TenantId,
    contact: &str,
) -> Result<Option<ConversationId>> {
    let id: Option<i64> =
        sqlx::query_scalar("SELECT id FROM conversations WHERE tenant_id = $1 AND contact = $2 FOR UPDATE")
            .bind(tenant.0)
            .bind(contact)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(id.map(ConversationId))
}

/// Stores one outbound part of a reply and its `deliver` job (same key, so parts go in order).
async fn insert_outbound(conn: &mut PgConnection, reply: &NewReply<'_>, text: &str) -> Result<i64> {
    let job = reply.job;
    queue_outbound(conn, job.into(), &job.key, reply.conversation, text, &reply.meta, reply.deliver_max_attempts).await
}

/// Stores an outbound message and its `deliver` job on `key` (the conversation's), with
/// `origin`'s tenant, clock and correlation id.
pub(super) async fn queue_outbound(
    conn: &mut PgConnection,
    origin: Origin<'_>,
    key: &str,
    conversation: ConversationId,
    text: &str,
    meta: &serde_json::Value,
    deliver_max_attempts: u32,
) -> Result<i64> {
    let now = ms(origin.at);
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO messages (tenant_id, conversation_id, direction, body, status, correlation_id, meta, created_at)
         VALUES ($1, $2, 'outbound', $3, 'pending', $4, $5, $6) RETURNING id",
    )
    .bind(origin.tenant.0)
    .bind(conversation.0)
    .bind(text)
    .bind(origin.correlation_id.as_str())
    .bind(meta.to_string())
    .bind(now)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO jobs (tenant_id, kind, key, payload, max_attempts, run_at, correlation_id, created_at, updated_at)
         VALUES ($1, 'deliver', $2, $3, $4, $5, $6, $5, $5)",
    )
    .bind(origin.tenant.0)
    .bind(key)
    .bind(serde_json::json!({ "message_id": id }).to_string())
    .bind(i64::from(deliver_max_attempts))
    .bind(now)
    .bind(origin.correlation_id.as_str())
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// Closes the conversation's ticket: a closed ticket's messages stay out of the next
/// ticket's prompts, and its counters start again.
pub(super) async fn close_ticket(
    conn: &mut PgConnection,
    conversation: ConversationId,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "UPDATE conversations SET state = 'closed', updated_at = $1, guard_strikes = 0, negative_streak = 0, ticket_id = NULL,
                summary = NULL, summary_upto = 0,
                context_from = (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = $2),
                replied_upto = (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = $2)
         WHERE id = $2",
    )
    .bind(ms(now))
    .bind(conversation.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Gives a conversation to a person: everything the customer wrote so far is theirs to
/// answer, and bot answers not yet sent are cancelled (their `deliver` jobs then skip them).
pub(super) async fn hand_to_human(
    conn: &mut PgConnection,
    conversation: ConversationId,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query(
        "UPDATE conversations SET state = 'human', updated_at = $1, context_epoch = context_epoch + 1, human_at = $1,
                replied_upto = (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = $2)
         WHERE id = $2",
    )
    .bind(ms(now))
    .bind(conversation.0)
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE messages SET status = 'cancelled' WHERE conversation_id = $1 AND direction = 'outbound' AND status = 'pending'",
    )
    .bind(conversation.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Gives a conversation back to the bot. The AI reply count restarts, and what the customer
/// wrote meanwhile was the person's to answer (a reply job still queued skips it).
async fn hand_to_bot(conn: &mut PgConnection, conversation: ConversationId, now: OffsetDateTime) -> Result<()> {
    sqlx::query(
        "UPDATE conversations SET state = 'bot', updated_at = $1,
                ai_count_from = (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = $2),
                replied_upto = (SELECT COALESCE(MAX(id), 0) FROM messages WHERE conversation_id = $2 AND direction = 'inbound')
         WHERE id = $2",
    )
    .bind(ms(now))
    .bind(conversation.0)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// Marks a leased job done inside `tx`; false when `owner` no longer holds it.
pub(super) async fn finish_job(conn: &mut PgConnection, job: i64, owner: &str, now: OffsetDateTime) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE jobs SET state = 'done', lease_until = NULL, updated_at = $1
         WHERE id = $2 AND lease_owner = $3 AND state = 'running'",
    )
    .bind(ms(now))
    .bind(job)
    .bind(owner)
    .execute(&mut *conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Creates or refreshes the conversation of `message` and locks its row for the rest of the
/// transaction, so writers of one conversation take turns.
async fn upsert_conversation(
    conn: &mut PgConnection,
    tenant: TenantId,
    message: &InboundMessage,
    now: OffsetDateTime,
) -> Result<ConversationId> {
    // Update first: an `INSERT … ON CONFLICT` would use up a sequence value on every message.
    let existing: Option<i64> = sqlx::query_scalar(
        "UPDATE conversations SET
             contact_name = COALESCE($3, contact_name),
             ticket_id = COALESCE($4, ticket_id),
             state = CASE WHEN state = 'closed' THEN 'bot' ELSE state END,
             updated_at = $5
         WHERE tenant_id = $1 AND contact = $2
         RETURNING id",
    )
    .bind(tenant.0)
    .bind(message.contact.as_str())
    .bind(message.contact_name.as_deref())
    .bind(message.ticket_id.as_deref())
    .bind(ms(now))
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(id) = existing {
        return Ok(ConversationId(id));
    }
    // A first message: a concurrent first message of the same contact meets this one on the
    // unique key and waits for it, then updates the row it created.
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO conversations (tenant_id, contact, contact_name, ticket_id, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $5)
         ON CONFLICT (tenant_id, contact) DO UPDATE SET
             contact_name = COALESCE(excluded.contact_name, conversations.contact_name),
             ticket_id = COALESCE(excluded.ticket_id, conversations.ticket_id),
             state = CASE WHEN conversations.state = 'closed' THEN 'bot' ELSE conversations.state END,
             updated_at = excluded.updated_at
         RETURNING id",
    )
    .bind(tenant.0)
    .bind(message.contact.as_str())
    .bind(message.contact_name.as_deref())
    .bind(message.ticket_id.as_deref())
    .bind(ms(now))
    .fetch_one(&mut *conn)
    .await?;
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

/// Inserts a message unless its provider id was seen; `None` means duplicate.
async fn insert_message(
    conn: &mut PgConnection,
    conversation: ConversationId,
    row: MessageRow<'_>,
    now: OffsetDateTime,
) -> Result<Option<MessageId>> {
    let MessageRow { tenant, message, direction, correlation_id, sentiment } = row;
    let id: Option<i64> = sqlx::query_scalar(
        "INSERT INTO messages (tenant_id, conversation_id, provider_id, direction, body, status, correlation_id, sent_at, created_at, sentiment)
         VALUES ($1, $2, $3, $4, $5, 'received', $6, $7, $8, $9)
         ON CONFLICT (tenant_id, provider_id) DO NOTHING RETURNING id",
    )
    .bind(tenant.0)
    .bind(conversation.0)
    .bind(&message.provider_id)
    .bind(direction.as_str())
    .bind(&message.text)
    .bind(correlation_id.as_str())
    .bind(ms(message.sent_at))
    .bind(ms(now))
    .bind(sentiment.map(f64::from))
    .fetch_optional(&mut *conn)
    .await?;
    Ok(id.map(MessageId))
}

pub(super) fn conversation_from_row(row: &PgRow) -> Conversation {
    Conversation {
        id: ConversationId(row.get("id")),
        tenant_id: TenantId(row.get("tenant_id")),
        contact: row.get("contact"),
        contact_name: row.get("contact_name"),
        ticket_id: row.get("ticket_id"),
        state: ConversationState::from_stored(row.get("state")),
        replied_upto: MessageId(row.get("replied_upto")),
        context_from: MessageId(row.get("context_from")),
        guard_strikes: row.get::<i64, _>("guard_strikes") as u32,
        negative_streak: row.get::<i64, _>("negative_streak") as u32,
        ai_count_from: MessageId(row.get("ai_count_from")),
        summary: row.get("summary"),
        summary_upto: MessageId(row.get("summary_upto")),
        context_epoch: row.get("context_epoch"),
        human_at: row.get::<Option<i64>, _>("human_at").map(from_ms),
        survey: match (row.get::<Option<i64>, _>("survey_id"), row.get::<Option<i64>, _>("survey_at")) {
            (Some(id), Some(at)) => Some(PendingSurvey { id, asked_at: from_ms(at) }),
            _ => None,
        },
    }
}

fn message_from_row(row: &PgRow) -> StoredMessage {
    StoredMessage {
        id: MessageId(row.get("id")),
        direction: Direction::from_stored(row.get("direction")),
        body: row.get("body"),
        status: row.get("status"),
        correlation_id: row.get("correlation_id"),
        sentiment: row.get::<Option<f64>, _>("sentiment").map(|v| v as f32),
        meta: row.get::<Option<String>, _>("meta").and_then(|m| serde_json::from_str(&m).ok()),
        created_at: from_ms(row.get("created_at")),
    }
}
