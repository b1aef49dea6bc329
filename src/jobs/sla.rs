//! `sla`: at a hand-off's deadline, count a breach when no person answered in time, send
//! the customer a courteous update while they still wait, raise `sla.breached`, and e-mail
//! the team when `[handoff] escalation_email` is on.

use serde_json::json;
use tracing::{info, warn};

use super::{Dispatcher, payload_handoff, store_error};
use crate::domain::{EventKind, Flag};
use crate::notify::rfc3339;
use crate::queue::{JobError, JobOutcome};
use crate::store::{ClaimedJob, SlaCheck};
use crate::telemetry::metrics as m;

pub(super) async fn run(d: &Dispatcher, job: &ClaimedJob) -> Result<JobOutcome, JobError> {
    let handoff = payload_handoff(d, job).await?;
    let id = handoff.id;
    let settings = &handoff.tenant.settings;
    let text = crate::brain::sla_breach_text(&settings.handoff, &settings.persona);
    let conversation = &handoff.conversation;
    let data = || {
        json!({
            "handoff_id": id,
            "contact": conversation.contact.as_str(),
            "name": conversation.contact_name,
            "reason": handoff.reason,
            "ticket_id": conversation.ticket_id,
            "handoff_at": rfc3339(handoff.created_at),
            "sla_due_at": handoff.sla_due_at.map(rfc3339),
        })
    };
    // Queued only if the check finds a breach (in its transaction).
    let notify = d.outbox(&handoff.tenant, EventKind::SlaBreached, data, &job.correlation_id, job.claimed_at);
    // The team's e-mail, when the tenant asks for one and can send it.
    let escalate = settings.handoff.escalation_email
        && settings.fallback.email.is_some()
        && handoff.tenant.flags.on(Flag::FallbackEmail);
    let escalation = escalate.then_some(d.fallback.max_attempts);
    let check = d
        .store
        .record_sla_check(job, id, &text, d.queue.deliver_max_attempts, &notify, escalation)
        .await
        .map_err(store_error)?;
    Ok(match check {
        SlaCheck::LeaseLost => JobOutcome::LeaseLost,
        SlaCheck::Breached { message_id } => {
            metrics::counter!(m::HANDOFF_SLA_BREACHES_TOTAL, "tenant" => handoff.tenant.slug.clone()).increment(1);
            warn!(
                handoff_id = id,
                customer_updated = message_id.is_some(),
                "hand-off SLA breached: no person answered in time"
            );
            JobOutcome::Recorded
        }
        SlaCheck::Met | SlaCheck::Closed | SlaCheck::AlreadyChecked => {
            info!(handoff_id = id, outcome = ?check, "hand-off SLA checked");
            JobOutcome::Recorded
        }
    })
}
