//! `deliver`: send one stored outbound message through the helpdesk.

use tracing::info;

use super::{Dispatcher, payload_id, store_error};
use crate::channel::WhaticketCredentials;
use crate::domain::MessageId;
use crate::queue::{JobError, JobOutcome};
use crate::store::{ClaimedJob, Finish};

pub(super) async fn run(d: &Dispatcher, job: &ClaimedJob) -> Result<JobOutcome, JobError> {
    let message = MessageId(payload_id(job, "message_id")?);
    let delivery = d
        .store
        .find_delivery(message)
        .await
        .map_err(store_error)?
        .ok_or_else(|| JobError::permanent(format!("outbound message {message} not found")))?;
    if delivery.status == "sent" {
        return Ok(JobOutcome::Completed);
    }
    let tenant =
        delivery.tenant.settings.resolve().map_err(|err| {
            JobError::permanent(format!("tenant {}: {err}", delivery.tenant.slug))
        })?;
    let whaticket = tenant.whaticket.ok_or_else(|| {
        JobError::permanent(format!(
            "tenant {} has no [whaticket] section to send through",
            delivery.tenant.slug
        ))
    })?;
    let creds = WhaticketCredentials {
        url: whaticket.url,
        token: whaticket.token.to_secret_string(),
    };
    d.whaticket
        .send_text(&creds, &delivery.contact, &delivery.text)
        .await
        .map_err(|err| JobError {
            class: err.class(),
            message: format!("whaticket: {err}"),
            retry_after: None,
        })?;
    info!(message_id = %message, "message delivered");
    let finish = d
        .store
        .record_delivered(job.id, &job.owner, message, job.claimed_at)
        .await
        .map_err(store_error)?;
    Ok(match finish {
        Finish::Recorded { .. } => JobOutcome::Recorded,
        Finish::LeaseLost => JobOutcome::LeaseLost,
    })
}
