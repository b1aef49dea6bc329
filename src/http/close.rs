//! Closing a conversation, shared by the helpdesk's "ticket closed" webhook and the admin API.

use super::AppState;
use crate::brain::csat;
use crate::domain::CorrelationId;
use crate::store::{CloseOutcome, StoreError, Tenant};

/// Closes `contact`'s conversation as a closed ticket (see [`csat::close_ticket`]) and wakes
/// this process's workers for the CSAT question it may have queued.
pub(super) async fn close_conversation(
    state: &AppState,
    tenant: &Tenant,
    contact: &str,
    correlation_id: &CorrelationId,
) -> Result<CloseOutcome, StoreError> {
    let max_attempts = state.config.queue.deliver_max_attempts;
    let outcome = csat::close_ticket(&*state.store, tenant, contact, max_attempts, correlation_id).await?;
    if matches!(outcome, CloseOutcome::Closed { .. }) {
        state.wake.notify_waiters();
    }
    Ok(outcome)
}
