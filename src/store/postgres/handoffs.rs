//! Hand-offs to a person on PostgreSQL (same rules as `store::sqlite::handoffs`).
//!
//! Lock order as in `messages`: the job row (fencing) before the conversation row, the
//! conversation row before its hand-offs, messages and queued jobs.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row};
use time::OffsetDateTime;

use super::jobs::queue_notify;
use super::messages::{CONVERSATION_COLUMNS, conversation_from_row, finish_job, lock_conversation, queue_outbound};
use super::tenants::{TENANT_COLUMNS, tenant_from_row};
use super::{PgStore, from_ms, ms};
use crate::domain::{ConversationId, ConversationState, CorrelationId, JobSpec, MessageId, TenantId};
use crate::store::{
    ClaimedJob, Finish, HandoffRecord, HandoffStore, HandoffTransfer, NewHandoff, NewNotify, Origin, RequestedHandoff,
    RequestedHandoffOutcome, Result, SlaCheck, SlaVerdict, escalation_job, sla_verdict,
};

// Dynamic SQL in this file is built only from constant column lists (AssertSqlSafe).
const HANDOFF_COLUMNS: &str = "id, conversation_id, reason, summary, ticket_id, transfer, sla_due_at, first_human_at,
    breached_at, closed_at, correlation_id, created_at";

/// Opens a hand-off in the reply's transaction (see the SQLite twin for the job keys).
pub(super) async fn open(
    conn: &mut PgConnection,
    origin: Origin<'_>,
    key: &str,
    conversation: ConversationId,
    new: &NewHandoff,
    max_attempts: u32,
) -> Result<i64> {
    let now = origin.at;
    close_open(conn, conversation, now).await?;
    let due = new.sla.map(|sla| ms(now + sla));
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO handoffs (tenant_id, conversation_id, reason, sla_due_at, correlation_id, created_at)
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
    )
    .bind(origin.tenant.0)
    .bind(conversation.0)
    .bind(&new.reason)
    .bind(due)
    .bind(origin.correlation_id.as_str())
    .bind(ms(now))
    .fetch_one(&mut *conn)
    .await?;
    let payload = serde_json::json!({ "handoff_id": id }).to_string();
    let insert =
        "INSERT INTO jobs (tenant_id, kind, key, payload, max_attempts, run_at, correlation_id, created_at, updated_at)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)";
    let mut jobs = vec![("handoff", key.to_string(), ms(now))];
    if let Some(due) = due {
        jobs.push(("sla", format!("sla:{id}"), due));
    }
    for (kind, key, run_at) in jobs {
        sqlx::query(insert)
            .bind(origin.tenant.0)
            .bind(kind)
            .bind(key)
            .bind(&payload)
            .bind(i64::from(max_attempts))
            .bind(run_at)
            .bind(origin.correlation_id.as_str())
            .bind(ms(now))
            .execute(&mut *conn)
            .await?;
    }
    Ok(id)
}

/// Ends the conversation's open hand-off, if any.
pub(super) async fn close_open(
    conn: &mut PgConnection,
    conversation: ConversationId,
    now: OffsetDateTime,
) -> Result<()> {
    sqlx::query("UPDATE handoffs SET closed_at = $1 WHERE conversation_id = $2 AND closed_at IS NULL")
        .bind(ms(now))
        .bind(conversation.0)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Records a person's first message on the open hand-off; how long the customer waited.
pub(super) async fn first_human_answer(
    conn: &mut PgConnection,
    conversation: ConversationId,
    now: OffsetDateTime,
) -> Result<Option<time::Duration>> {
    let opened: Option<i64> = sqlx::query_scalar(
        "UPDATE handoffs SET first_human_at = $1
         WHERE conversation_id = $2 AND closed_at IS NULL AND first_human_at IS NULL RETURNING created_at",
    )
    .bind(ms(now))
    .bind(conversation.0)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(opened.map(|at| now - from_ms(at)))
}

/// A hand-off row completed with its conversation and tenant.
async fn complete(conn: &mut PgConnection, row: &PgRow) -> Result<HandoffRecord> {
    let conversation =
        sqlx::query(AssertSqlSafe(format!("SELECT {CONVERSATION_COLUMNS} FROM conversations WHERE id = $1")))
            .bind(row.get::<i64, _>("conversation_id"))
            .fetch_one(&mut *conn)
            .await?;
    let conversation = conversation_from_row(&conversation);
    let tenant = sqlx::query(AssertSqlSafe(format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1")))
        .bind(conversation.tenant_id.0)
        .fetch_one(&mut *conn)
        .await?;
    let at = |column: &str| row.get::<Option<i64>, _>(column).map(from_ms);
    Ok(HandoffRecord {
        id: row.get("id"),
        tenant: tenant_from_row(&tenant)?,
        conversation,
        reason: row.get("reason"),
        summary: row.get("summary"),
        ticket_id: row.get("ticket_id"),
        transfer: row.get("transfer"),
        sla_due_at: at("sla_due_at"),
        first_human_at: at("first_human_at"),
        breached_at: at("breached_at"),
        closed_at: at("closed_at"),
        correlation_id: CorrelationId::from_stored(row.get("correlation_id")),
        created_at: from_ms(row.get("created_at")),
    })
}

#[async_trait]
impl HandoffStore for PgStore {
    async fn request_handoff(&self, request: RequestedHandoff<'_>) -> Result<RequestedHandoffOutcome> {
        let mut tx = self.pool.begin().await?;
        let Some(conversation) = lock_conversation(&mut tx, request.tenant, request.contact).await? else {
            tx.rollback().await?;
            return Ok(RequestedHandoffOutcome::NotFound);
        };
        let open_already: Option<i64> = sqlx::query_scalar(
            "SELECT id FROM handoffs WHERE conversation_id = $1 AND closed_at IS NULL ORDER BY id DESC LIMIT 1",
        )
        .bind(conversation.0)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some(handoff) = open_already {
            tx.rollback().await?;
            return Ok(RequestedHandoffOutcome::AlreadyOpen { handoff });
        }
        let now = request.now;
        sqlx::query("UPDATE conversations SET state = 'human', human_at = $1, updated_at = $1 WHERE id = $2")
            .bind(ms(now))
            .bind(conversation.0)
            .execute(&mut *tx)
            .await?;
        let origin = Origin { tenant: request.tenant, correlation_id: request.correlation_id, at: now };
        let key = JobSpec::conversation_key(conversation);
        let meta = serde_json::json!({ "decision": "handoff", "reason": request.handoff.reason });
        let max_attempts = request.deliver_max_attempts;
        let message = match request.text {
            Some(text) => {
                Some(MessageId(queue_outbound(&mut tx, origin, &key, conversation, text, &meta, max_attempts).await?))
            }
            None => None,
        };
        // After the text's delivery on the same key, so the customer hears it first.
        let handoff = open(&mut tx, origin, &key, conversation, &request.handoff, max_attempts).await?;
        tx.commit().await?;
        Ok(RequestedHandoffOutcome::Opened { handoff, message })
    }

    async fn find_handoff(&self, id: i64) -> Result<Option<HandoffRecord>> {
        let mut conn = self.pool.acquire().await?;
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE id = $1")))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
        match row {
            Some(row) => complete(&mut conn, &row).await.map(Some),
            None => Ok(None),
        }
    }

    async fn list_handoffs(&self, tenant: TenantId, limit: u32) -> Result<Vec<HandoffRecord>> {
        let mut conn = self.pool.acquire().await?;
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {HANDOFF_COLUMNS} FROM handoffs WHERE tenant_id = $1 ORDER BY id DESC LIMIT $2"
        )))
        .bind(tenant.0)
        .bind(i64::from(limit))
        .fetch_all(&mut *conn)
        .await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in &rows {
            records.push(complete(&mut conn, row).await?);
        }
        Ok(records)
    }

    async fn record_handoff_transfer(
        &self,
        job: &ClaimedJob,
        handoff: i64,
        transfer: &HandoffTransfer,
    ) -> Result<Finish> {
        let mut tx = self.pool.begin().await?;
        if !finish_job(&mut tx, job.id.0, &job.owner, job.claimed_at).await? {
            tx.rollback().await?;
            return Ok(Finish::LeaseLost);
        }
        sqlx::query(
            "UPDATE handoffs SET summary = $1, ticket_id = COALESCE($2, ticket_id), transfer = $3 WHERE id = $4",
        )
        .bind(&transfer.summary)
        .bind(transfer.ticket_id.as_deref())
        .bind(&transfer.transfer)
        .bind(handoff)
        .execute(&mut *tx)
        .await?;
        queue_notify(&mut tx, job.tenant_id, &transfer.notify, &job.correlation_id, job.claimed_at).await?;
        tx.commit().await?;
        Ok(Finish::Recorded { message_id: None })
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
        let mut tx = self.pool.begin().await?;
        if !finish_job(&mut tx, job.id.0, &job.owner, job.claimed_at).await? {
            tx.rollback().await?;
            return Ok(SlaCheck::LeaseLost);
        }
        let conversation: Option<i64> = sqlx::query_scalar("SELECT conversation_id FROM handoffs WHERE id = $1")
            .bind(handoff)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(conversation) = conversation else {
            tx.commit().await?;
            return Ok(SlaCheck::AlreadyChecked);
        };
        // The conversation row lock orders this against a person's first message.
        let state: String = sqlx::query_scalar("SELECT state FROM conversations WHERE id = $1 FOR UPDATE")
            .bind(conversation)
            .fetch_one(&mut *tx)
            .await?;
        let row = sqlx::query("SELECT sla_due_at, first_human_at, breached_at, closed_at FROM handoffs WHERE id = $1")
            .bind(handoff)
            .fetch_one(&mut *tx)
            .await?;
        let get = |column: &str| row.get::<Option<i64>, _>(column);
        let (first_human, closed) = (get("first_human_at"), get("closed_at"));
        let verdict = sla_verdict(get("sla_due_at"), first_human, get("breached_at"), closed);
        if verdict != SlaVerdict::Breached {
            tx.commit().await?;
            return Ok(match verdict {
                SlaVerdict::Met => SlaCheck::Met,
                SlaVerdict::Closed => SlaCheck::Closed,
                _ => SlaCheck::AlreadyChecked,
            });
        }
        let now = job.claimed_at;
        sqlx::query("UPDATE handoffs SET breached_at = $1 WHERE id = $2")
            .bind(ms(now))
            .bind(handoff)
            .execute(&mut *tx)
            .await?;
        queue_notify(&mut tx, job.tenant_id, notify, &job.correlation_id, now).await?;
        if let Some(max_attempts) = escalation {
            let (key, payload) = escalation_job(handoff);
            sqlx::query(
                "INSERT INTO jobs (tenant_id, kind, key, payload, max_attempts, run_at, correlation_id, created_at, updated_at)
                 VALUES ($1, 'fallback', $2, $3, $4, $5, $6, $5, $5)",
            )
            .bind(job.tenant_id.0)
            .bind(key)
            .bind(payload)
            .bind(i64::from(max_attempts))
            .bind(ms(now))
            .bind(job.correlation_id.as_str())
            .execute(&mut *tx)
            .await?;
        }
        let waiting = first_human.is_none()
            && closed.is_none()
            && ConversationState::from_stored(&state) == ConversationState::Human;
        let message_id = if waiting {
            let conversation = ConversationId(conversation);
            let key = JobSpec::conversation_key(conversation);
            let meta = serde_json::json!({ "decision": "sla_update", "handoff": handoff });
            Some(MessageId(
                queue_outbound(&mut tx, job.into(), &key, conversation, update_text, &meta, deliver_max_attempts)
                    .await?,
            ))
        } else {
            None
        };
        tx.commit().await?;
        Ok(SlaCheck::Breached { message_id })
    }
}
