//! Closing a conversation, shared by the helpdesk's "ticket closed" webhook and the admin API.

use time::OffsetDateTime;

use super::AppState;
use crate::brain::csat;
use crate::domain::{CorrelationId, Flag};
use crate::store::{CloseConversation, CloseOutcome, CloseReason, ConversationRef, StoreError, SurveyAsk, Tenant};

/// Closes `contact`'s conversation as a closed ticket: any hand-off ends, the next message
/// starts afresh, and the CSAT question is queued when the tenant asks for ratings.
pub(super) async fn close_conversation(
    state: &AppState,
    tenant: &Tenant,
    contact: &str,
    correlation_id: &CorrelationId,
) -> Result<CloseOutcome, StoreError> {
    let settings = &tenant.settings.csat;
    let surveys = settings.enabled && tenant.flags.on(Flag::Csat);
    let text = surveys.then(|| csat::survey_text(settings, &tenant.settings.persona));
    let survey = text.as_deref().map(|text| SurveyAsk {
        text,
        after_abandoned_handoff: settings.after_abandoned_handoff,
        deliver_max_attempts: state.config.queue.deliver_max_attempts,
    });
    let outcome = state
        .store
        .close_conversation(CloseConversation {
            tenant: tenant.id,
            conversation: ConversationRef::Contact(contact),
            reason: CloseReason::Ticket,
            survey,
            job: None,
            correlation_id,
            now: OffsetDateTime::now_utc(),
        })
        .await?;
    csat::report_close(&tenant.slug, CloseReason::Ticket, &outcome);
    if matches!(outcome, CloseOutcome::Closed { .. }) {
        state.wake.notify_waiters();
    }
    Ok(outcome)
}
