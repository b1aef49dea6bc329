//! `notify`: post one signed event to a tenant's subscriber. The body was fixed when the
//! event was queued; the signature is made per attempt (its timestamp is the attempt's).

use tracing::{info, warn};

use super::{Dispatcher, store_error};
use crate::notify::Delivery;
use crate::queue::{JobError, JobOutcome};
use crate::store::ClaimedJob;
use crate::telemetry::metrics as m;

pub(super) async fn run(d: &Dispatcher, job: &ClaimedJob) -> Result<JobOutcome, JobError> {
    let field = |name: &str| {
        job.payload
            .get(name)
            .and_then(serde_json::Value::as_str)
            .ok_or_else(|| JobError::permanent(format!("notify payload has no text `{name}`")))
    };
    let delivery = Delivery {
        url: field("url")?,
        event: field("event")?,
        delivery_id: field("delivery_id")?,
        body: field("body")?,
    };
    let event = delivery.event.to_string();
    let tenant = d
        .store
        .find_tenant_by_id(job.tenant_id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| JobError::permanent(format!("tenant {} not found", job.tenant_id)))?;
    let resolved = tenant.resolve().map_err(|err| JobError::permanent(format!("tenant {}: {err}", tenant.slug)))?;
    // The tenant dropped this receiver since the event was queued: not sending is what
    // they asked for (and there is no secret left to sign with).
    let Some(secret) = resolved.event_secret(delivery.url) else {
        info!(event = %event, delivery_id = delivery.delivery_id, "subscription removed; event not sent");
        metrics::counter!(m::EVENTS_TOTAL, "event" => event, "outcome" => "dropped").increment(1);
        return Ok(JobOutcome::Completed);
    };
    match d.notifier.send(delivery, secret).await {
        Ok(status) => {
            info!(event = %event, delivery_id = delivery.delivery_id, status, "event delivered");
            metrics::counter!(m::EVENTS_TOTAL, "event" => event, "outcome" => "delivered").increment(1);
            Ok(JobOutcome::Completed)
        }
        Err(err) => {
            warn!(event = %event, delivery_id = delivery.delivery_id, error = %err, "event delivery failed");
            metrics::counter!(m::EVENTS_TOTAL, "event" => event, "outcome" => "failed").increment(1);
            Err(JobError {
                class: err.class(),
                message: format!("event receiver: {err}"),
                retry_after: err.retry_after(),
            })
        }
    }
}
