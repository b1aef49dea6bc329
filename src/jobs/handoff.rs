//! `handoff`: write the summary for the person taking over and move the helpdesk ticket to
//! the tenant's human queue (protocols.md §1.5), after the customer got the hand-off text.

use secrecy::SecretString;
use serde_json::json;
use tracing::{info, warn};

use super::{Dispatcher, payload_handoff, store_error};
use crate::channel::{ChannelError, WhaticketClient, WhaticketUser};
use crate::config::tenant::{ResolvedTenant, ResolvedWhaticket};
use crate::domain::{ContactNumber, ConversationState, EventKind};
use crate::notify::rfc3339;
use crate::queue::{JobError, JobOutcome};
use crate::store::{ClaimedJob, Finish, HandoffRecord, HandoffTransfer};
use crate::telemetry::metrics as m;

pub(super) async fn run(d: &Dispatcher, job: &ClaimedJob) -> Result<JobOutcome, JobError> {
    let handoff = payload_handoff(d, job).await?;
    let id = handoff.id;
    let tenant = handoff
        .tenant
        .resolve()
        .map_err(|err| JobError::permanent(format!("tenant {}: {err}", handoff.tenant.slug)))?;
    let conversation = &handoff.conversation;
    let messages: Vec<_> = d
        .store
        .list_messages(conversation.id)
        .await
        .map_err(store_error)?
        .into_iter()
        .filter(|m| m.id > conversation.context_from)
        .collect();
    let (summary, source, call) =
        d.brain.handoff_summary(&handoff.tenant, &tenant, conversation, &messages, &handoff.reason).await;
    super::spend::record(d, &handoff.tenant, call.as_slice(), job).await;
    info!(handoff_id = id, reason = %handoff.reason, summary_source = source, "hand-off summary written");
    let (ticket_id, transfer) = transfer(&d.whaticket, &handoff, &tenant, &summary).await?;
    // A hand-off that ended before its ticket moved was never a person's to take.
    let notify = if transfer == "closed" {
        Vec::new()
    } else {
        let data = || {
            json!({
                "handoff_id": id,
                "contact": conversation.contact.as_str(),
                "name": conversation.contact_name,
                "reason": handoff.reason,
                "summary": summary,
                "ticket_id": ticket_id.as_ref().or(conversation.ticket_id.as_ref()),
                "transfer": transfer,
                "sla_due_at": handoff.sla_due_at.map(rfc3339),
            })
        };
        d.outbox(&handoff.tenant, EventKind::HandoffCreated, data, &job.correlation_id, job.claimed_at)
    };
    let record = HandoffTransfer { summary, ticket_id, transfer: transfer.to_string(), notify };
    let finish = d.store.record_handoff_transfer(job, id, &record).await.map_err(store_error)?;
    Ok(match finish {
        Finish::Recorded { .. } => {
            metrics::counter!(m::HANDOFF_TRANSFERS_TOTAL, "outcome" => transfer).increment(1);
            JobOutcome::Recorded
        }
        Finish::LeaseLost => JobOutcome::LeaseLost,
    })
}

/// Moves the ticket when the tenant has a bot user and the ticket is known (or found);
/// returns the ticket and what happened to it.
async fn transfer(
    client: &WhaticketClient,
    handoff: &HandoffRecord,
    tenant: &ResolvedTenant,
    summary: &str,
) -> Result<(Option<String>, &'static str), JobError> {
    let conversation = &handoff.conversation;
    // The bot resumed or the ticket closed before this job ran: nothing to move.
    if handoff.closed_at.is_some() || conversation.state != ConversationState::Human {
        info!(handoff_id = handoff.id, "the hand-off ended before the ticket moved; leaving the ticket alone");
        return Ok((None, "closed"));
    }
    let Some((whaticket, user)) = tenant.whaticket.as_ref().and_then(|w| Some((w, w.user.as_ref()?))) else {
        info!(
            handoff_id = handoff.id,
            "no [whaticket] user_email/handoff_queue_id: the ticket stays where it is (summary kept in Atende)"
        );
        return Ok((None, "not_configured"));
    };
    let session = session(whaticket);
    let known = conversation.ticket_id.clone().filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()));
    let ticket = match known {
        Some(ticket) => Some(ticket),
        None => {
            let contact = ContactNumber::parse(&conversation.contact)
                .map_err(|err| JobError::permanent(format!("conversation contact: {err}")))?;
            client.find_open_ticket(&session, &contact).await.map_err(channel_error)?
        }
    };
    let Some(ticket) = ticket else {
        warn!(handoff_id = handoff.id, "no open Whaticket ticket for this contact; nothing to move");
        return Ok((None, "no_ticket"));
    };
    client.transfer_ticket(&session, &ticket, user.queue_id).await.map_err(channel_error)?;
    info!(handoff_id = handoff.id, ticket_id = %ticket, queue_id = user.queue_id, "ticket moved to the human queue");
    // A note is a courtesy where the fork has them; the summary is kept in Atende either way.
    let noted = match client.add_ticket_note(&session, &ticket, None, summary).await {
        Ok(noted) => noted,
        Err(err) => {
            warn!(error = %err, "could not add the summary as a ticket note");
            false
        }
    };
    Ok((Some(ticket), if noted { "moved_with_note" } else { "moved" }))
}

fn session(whaticket: &ResolvedWhaticket) -> WhaticketUser {
    let user = whaticket.user.as_ref().expect("checked by the caller");
    WhaticketUser {
        url: whaticket.url.clone(),
        email: user.email.clone(),
        password: SecretString::from(user.password.expose().to_string()),
    }
}

fn channel_error(err: ChannelError) -> JobError {
    JobError { class: err.class(), message: format!("whaticket: {err}"), retry_after: None }
}
