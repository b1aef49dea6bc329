//! `deliver`: send one stored outbound message through the helpdesk.

use std::time::Duration;

use serde_json::json;
use tracing::{error, info, warn};

use super::{Dispatcher, payload_id, store_error};
use crate::channel::WhaticketCredentials;
use crate::domain::{EventKind, MessageId};
use crate::queue::{JobError, JobOutcome};
use crate::store::{ClaimedJob, Finish, NewNotify};

pub(super) async fn run(d: &Dispatcher, job: &ClaimedJob) -> Result<JobOutcome, JobError> {
    let message = MessageId(payload_id(job, "message_id")?);
    let delivery = d
        .store
        .find_delivery(message)
        .await
        .map_err(store_error)?
        .ok_or_else(|| JobError::permanent(format!("outbound message {message} not found")))?;
    // `cancelled` when a person took the conversation over first; `sent` on a replay.
    if delivery.status != "pending" {
        info!(message_id = %message, status = %delivery.status, "nothing to send");
        return Ok(JobOutcome::Completed);
    }
    let tenant = delivery
        .tenant
        .resolve()
        .map_err(|err| JobError::permanent(format!("tenant {}: {err}", delivery.tenant.slug)))?;
    let whaticket = tenant.whaticket.ok_or_else(|| {
        JobError::permanent(format!("tenant {} has no [whaticket] section to send through", delivery.tenant.slug))
    })?;
    let creds = WhaticketCredentials { url: whaticket.url, token: whaticket.token.to_secret_string() };
    if let Err(err) = d.whaticket.send_text(&creds, &delivery.contact, &delivery.text).await {
        let failure = JobError { class: err.class(), message: format!("whaticket: {err}"), retry_after: None };
        super::fallback::after_failure(d, job, &delivery, &failure).await;
        return Err(failure);
    }
    info!(message_id = %message, "message delivered");
    let data = || json!({ "message_id": message, "contact": delivery.contact.as_str(), "text": delivery.text });
    let notify = d.outbox(&delivery.tenant, EventKind::ReplySent, data, &job.correlation_id, job.claimed_at);
    record(d, job, message, &notify).await
}

/// Records the outcome. After a successful send a store failure must not become a job
/// retry (that would send the text again), so the write is retried here, with growing
/// pauses, for as long as the lease can be held; only if the store stays down that long is
/// the job abandoned to its lease (a takeover then sends again: at-least-once).
async fn record(
    d: &Dispatcher,
    job: &ClaimedJob,
    message: MessageId,
    notify: &[NewNotify],
) -> Result<JobOutcome, JobError> {
    let give_up = std::time::Instant::now() + d.queue.lease * 2 / 3;
    let mut pause = Duration::from_millis(100);
    loop {
        match d.store.record_delivered(job, message, notify, job.claimed_at).await {
            Ok(Finish::Recorded { .. }) => return Ok(JobOutcome::Recorded),
            Ok(Finish::LeaseLost) => return Ok(JobOutcome::LeaseLost),
            Err(err) if std::time::Instant::now() + pause > give_up => {
                error!(error = %err, "delivered, but the store keeps refusing the record; abandoning the job to its lease");
                return Ok(JobOutcome::Abandoned);
            }
            Err(err) => warn!(error = %err, "cannot record the delivery yet; retrying"),
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(5));
    }
}
