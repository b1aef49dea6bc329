//! What each job does: `reply` asks the brain and stores the answer with its `deliver`
//! job; `deliver` sends it through the helpdesk; `handoff` writes the summary and moves the
//! ticket to people; `sla` checks a person answered a hand-off in time; `notify` posts one
//! signed event to a tenant's subscriber; `idle` closes a conversation nobody wrote in for
//! a while and asks for a CSAT rating; `fallback` sends an answer the helpdesk would not
//! take by e-mail or SMS.
//!
//! Layer 5: may import anything below; never `http`.

mod deliver;
mod fallback;
mod handoff;
mod idle;
mod notify;
mod reply;
mod sla;
mod spend;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;
use time::OffsetDateTime;
use tracing::warn;

use crate::brain::Brain;
use crate::channel::WhaticketClient;
use crate::config::{EventsConfig, FallbackConfig, QueueConfig};
use crate::domain::{CorrelationId, EventKind, JobKind};
use crate::notify::{Mailer, Notifier};
use crate::queue::{JobError, JobHandler, JobOutcome};
use crate::store::{ClaimedJob, JobFailure, NewNotify, Store, StoreError, Tenant};

/// Routes each claimed job to its handler.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    brain: Brain,
    whaticket: WhaticketClient,
    notifier: Notifier,
    /// Fallback SMS (its own timeout).
    sms: Notifier,
    mailer: Mailer,
    queue: QueueConfig,
    events: EventsConfig,
    fallback: FallbackConfig,
}

impl Dispatcher {
    /// A dispatcher over the process's shared parts.
    pub fn new(
        store: Arc<dyn Store>,
        brain: Brain,
        whaticket: WhaticketClient,
        queue: QueueConfig,
        events: EventsConfig,
        fallback: FallbackConfig,
    ) -> Self {
        let notifier = Notifier::new(events.timeout);
        let sms = Notifier::new(fallback.timeout);
        let mailer = Mailer::new(fallback.timeout);
        Self { store, brain, whaticket, notifier, sms, mailer, queue, events, fallback }
    }

    /// The `notify` deliveries of `event` for the tenant's subscribers.
    fn outbox(
        &self,
        tenant: &Tenant,
        event: EventKind,
        data: impl FnOnce() -> serde_json::Value,
        correlation_id: &CorrelationId,
        now: OffsetDateTime,
    ) -> Vec<NewNotify> {
        crate::notify::outbox(tenant, event, data, correlation_id, now, self.events.max_attempts)
    }
}

#[async_trait]
impl JobHandler for Dispatcher {
    async fn handle(&self, job: &ClaimedJob) -> Result<JobOutcome, JobError> {
        match job.kind {
            JobKind::Reply => reply::run(self, job).await,
            JobKind::Deliver => deliver::run(self, job).await,
            JobKind::Handoff => handoff::run(self, job).await,
            JobKind::Sla => sla::run(self, job).await,
            JobKind::Notify => notify::run(self, job).await,
            JobKind::Idle => idle::run(self, job).await,
            JobKind::Fallback => fallback::run(self, job).await,
        }
    }

    /// Raises `dead_letter.created`, except for `notify` jobs themselves: a receiver that
    /// is down must not be fed reports about itself.
    async fn dead_lettered(&self, job: &ClaimedJob, failure: &JobFailure) {
        if job.kind == JobKind::Notify {
            return;
        }
        let tenant = match self.store.find_tenant_by_id(job.tenant_id).await {
            Ok(Some(tenant)) => tenant,
            Ok(None) => return,
            Err(err) => {
                warn!(error = %err, "cannot read the tenant to raise dead_letter.created");
                return;
            }
        };
        let data = || {
            json!({
                "job_id": job.id,
                "kind": job.kind.as_str(),
                "attempts": job.attempts,
                "error": failure.message,
                "error_class": failure.class.as_str(),
            })
        };
        let now = OffsetDateTime::now_utc();
        let notify = self.outbox(&tenant, EventKind::DeadLetterCreated, data, &job.correlation_id, now);
        if let Err(err) = self.store.enqueue_notify(tenant.id, &notify, &job.correlation_id, now).await {
            warn!(error = %err, "cannot queue dead_letter.created");
        }
    }
}

/// Reads an id field of a job's payload.
fn payload_id(job: &ClaimedJob, field: &str) -> Result<i64, JobError> {
    job.payload
        .get(field)
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| JobError::permanent(format!("job payload has no integer `{field}`")))
}

/// The hand-off a `handoff`, `sla` or escalation job is about (`handoff_id` in its payload).
async fn payload_handoff(d: &Dispatcher, job: &ClaimedJob) -> Result<crate::store::HandoffRecord, JobError> {
    let id = payload_id(job, "handoff_id")?;
    d.store
        .find_handoff(id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| JobError::permanent(format!("handoff {id} not found")))
}

/// Store failures are worth retrying: the database may be back by the next attempt.
fn store_error(err: StoreError) -> JobError {
    JobError::retryable(format!("store: {err}"))
}
