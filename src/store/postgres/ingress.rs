//! Ingress in batches: `record_inbound` calls that arrive together share one statement.
//!
//! On PostgreSQL every write transaction costs the server a commit and a round of executor
//! start-up; on a small machine that caps one-transaction-per-webhook ingress near 4,000/s,
//! whatever the client (bench/RESULTS.md has the `pgbench` figures). So callers queue their
//! message here and a few runner tasks each take whatever is queued (no timed wait, at most
//! [`MAX_BATCH`]) and store it with one `atende_record_inbound_many` call (migration 0015),
//! which applies `atende_record_inbound` to each element: the outcome of every element is
//! the one a call of its own would have had. When idle a message is its own batch and waits
//! for nobody.
//!
//! If the batch fails as a whole (a twin committed by another process during the call, a
//! foreign key, a lost connection), every element is recorded again on its own, so one bad
//! message never fails the others and each caller gets its own answer.
//!
//! Why hand-rolled: this is the PostgreSQL half of the group commit the SQLite writer thread
//! does (`store::sqlite::writer`); no crate batches calls behind an async API like this.

use std::sync::Arc;

use sqlx::PgPool;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::{is_unique_violation, ms};
use crate::domain::{ConversationId, MessageId};
use crate::store::{NewInbound, RecordOutcome, Result};

/// Most messages one call stores; more wait for the next one.
const MAX_BATCH: usize = 128;
/// Calls in flight at once (each holds one pool connection while it runs).
const RUNNERS: usize = 4;

/// One message to store, owned so it can cross to a runner task.
#[derive(Debug)]
struct Inbound {
    tenant: i64,
    contact: String,
    contact_name: Option<String>,
    ticket_id: Option<String>,
    provider_id: String,
    body: String,
    correlation_id: String,
    sent_at: i64,
    now: i64,
    sentiment: Option<f64>,
    quiet_until: i64,
    not_after: i64,
    max_attempts: i64,
}

impl Inbound {
    fn new(inbound: &NewInbound<'_>) -> Self {
        let NewInbound { tenant, message, correlation_id, now, debounce, sentiment, .. } = *inbound;
        Self {
            tenant: tenant.0,
            contact: message.contact.as_str().to_string(),
            contact_name: message.contact_name.clone(),
            ticket_id: message.ticket_id.clone(),
            provider_id: message.provider_id.clone(),
            body: message.text.clone(),
            correlation_id: correlation_id.as_str().to_string(),
            sent_at: ms(message.sent_at),
            now: ms(now),
            sentiment: sentiment.map(f64::from),
            quiet_until: ms(now + debounce.window),
            not_after: ms(now + debounce.max),
            max_attempts: i64::from(debounce.max_attempts),
        }
    }
}

/// A queued message and where its outcome goes.
type Pending = (Inbound, oneshot::Sender<Result<RecordOutcome>>);

/// Handle on the runner tasks; clones share them. They end when every handle is gone.
#[derive(Debug, Clone)]
pub(super) struct IngressBatcher {
    queue: mpsc::UnboundedSender<Pending>,
}

impl IngressBatcher {
    /// Starts the runners on `pool` (inside the Tokio runtime that will use the store).
    pub(super) fn start(pool: &PgPool) -> Self {
        let (queue, receiver) = mpsc::unbounded_channel();
        let receiver = Arc::new(Mutex::new(receiver));
        for _ in 0..RUNNERS {
            tokio::spawn(run(pool.clone(), Arc::clone(&receiver)));
        }
        Self { queue }
    }

    /// Stores `inbound` (whose `notify` must be empty) in the next batch.
    pub(super) async fn record(&self, inbound: &NewInbound<'_>) -> Result<RecordOutcome> {
        debug_assert!(inbound.notify.is_empty(), "events need the caller's own transaction");
        let (reply, answer) = oneshot::channel();
        if self.queue.send((Inbound::new(inbound), reply)).is_err() {
            return Err(stopped());
        }
        answer.await.map_err(|_| stopped())?
    }
}

/// The error of a call whose runners are gone (the runtime is shutting down).
fn stopped() -> crate::store::StoreError {
    crate::store::StoreError::Database(sqlx::Error::WorkerCrashed)
}

/// One runner: takes what is queued, stores it, answers; until every handle is dropped.
async fn run(pool: PgPool, receiver: Arc<Mutex<mpsc::UnboundedReceiver<Pending>>>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    loop {
        {
            let mut receiver = receiver.lock().await;
            if receiver.recv_many(&mut batch, MAX_BATCH).await == 0 {
                return;
            }
        }
        store_batch(&pool, &mut batch).await;
    }
}

/// Stores `batch` in one call, or element by element when the call fails; drains it.
async fn store_batch(pool: &PgPool, batch: &mut Vec<Pending>) {
    if batch.len() > 1 {
        match record_many(pool, batch).await {
            Ok(rows) => {
                let mut outcomes = vec![RecordOutcome::Duplicate; batch.len()];
                for (slot, message, conversation) in rows {
                    // Slots are the 1-based positions of the arrays sent.
                    let Some(outcome) = usize::try_from(slot).ok().and_then(|s| outcomes.get_mut(s.wrapping_sub(1)))
                    else {
                        continue;
                    };
                    *outcome = RecordOutcome::Queued {
                        message_id: MessageId(message),
                        conversation_id: ConversationId(conversation),
                    };
                }
                for ((_, reply), outcome) in batch.drain(..).zip(outcomes) {
                    // The caller may have gone away (its future dropped): nobody to tell.
                    let _ = reply.send(Ok(outcome));
                }
                return;
            }
            Err(error) => {
                tracing::debug!(error = %error, size = batch.len(), "ingress batch failed; storing its messages one by one")
            }
        }
    }
    for (inbound, reply) in batch.drain(..) {
        let _ = reply.send(record_one(pool, &inbound).await);
    }
}

/// `atende_record_inbound_many` over the whole batch: (slot, message id, conversation id)
/// for each stored element.
async fn record_many(pool: &PgPool, batch: &[Pending]) -> std::result::Result<Vec<(i32, i64, i64)>, sqlx::Error> {
    let column = |f: fn(&Inbound) -> i64| batch.iter().map(|(m, _)| f(m)).collect::<Vec<_>>();
    let text = |f: fn(&Inbound) -> &str| batch.iter().map(|(m, _)| f(m)).collect::<Vec<_>>();
    let optional = |f: fn(&Inbound) -> Option<&str>| batch.iter().map(|(m, _)| f(m)).collect::<Vec<_>>();
    sqlx::query_as(
        "SELECT slot, message_id, conversation_id FROM atende_record_inbound_many(
            $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(column(|m| m.tenant))
    .bind(text(|m| &m.contact))
    .bind(optional(|m| m.contact_name.as_deref()))
    .bind(optional(|m| m.ticket_id.as_deref()))
    .bind(text(|m| &m.provider_id))
    .bind(text(|m| &m.body))
    .bind(text(|m| &m.correlation_id))
    .bind(column(|m| m.sent_at))
    .bind(column(|m| m.now))
    .bind(batch.iter().map(|(m, _)| m.sentiment).collect::<Vec<_>>())
    .bind(column(|m| m.quiet_until))
    .bind(column(|m| m.not_after))
    .bind(column(|m| m.max_attempts))
    .fetch_all(pool)
    .await
}

/// `atende_record_inbound` for one message, in its own transaction.
async fn record_one(pool: &PgPool, m: &Inbound) -> Result<RecordOutcome> {
    let row: std::result::Result<Option<(i64, i64)>, sqlx::Error> = sqlx::query_as(
        "SELECT message_id, conversation_id FROM atende_record_inbound($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
    )
    .bind(m.tenant)
    .bind(&m.contact)
    .bind(m.contact_name.as_deref())
    .bind(m.ticket_id.as_deref())
    .bind(&m.provider_id)
    .bind(&m.body)
    .bind(&m.correlation_id)
    .bind(m.sent_at)
    .bind(m.now)
    .bind(m.sentiment)
    .bind(m.quiet_until)
    .bind(m.not_after)
    .bind(m.max_attempts)
    .fetch_optional(pool)
    .await;
    match row {
        // A twin committed during the call (migration 0004 explains).
        Err(error) if is_unique_violation(&error) => Ok(RecordOutcome::Duplicate),
        Err(error) => Err(error.into()),
        Ok(None) => Ok(RecordOutcome::Duplicate),
        Ok(Some((message, conversation))) => {
            Ok(RecordOutcome::Queued { message_id: MessageId(message), conversation_id: ConversationId(conversation) })
        }
    }
}
