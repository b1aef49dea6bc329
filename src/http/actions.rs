//! What an operator can do to a conversation, a dead letter or a tenant's flags, shared by
//! the admin API and the panel: each action checks its target, changes it, and writes the
//! audit entry.

use serde_json::{Value, json};
use time::OffsetDateTime;
use tracing::info;

use super::AppState;
use crate::brain::handoff_text;
use crate::domain::{ContactNumber, ConversationState, CorrelationId, Flag, FlagValue, JobId, MessageId, UserId};
use crate::queue::{self, DeadLetterError};
use crate::store::{
    BotMessage, CloseOutcome, NewAudit, NewHandoff, RequestedHandoff, RequestedHandoffOutcome, StoreError,
    SurveyDecision, Tenant,
};
use crate::telemetry::metrics as m;

/// Longest text sent as the bot (WhatsApp's limit for one text message).
pub const MAX_TEXT_CHARS: usize = 4096;
/// Reason of a hand-off asked for without one.
pub const DEFAULT_HANDOFF_REASON: &str = "operator";

/// Who acts, for the audit log.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// Login.
    pub email: &'a str,
    /// User.
    pub user: UserId,
    /// Client address.
    pub ip: &'a str,
}

/// Why an action did nothing.
#[derive(Debug, thiserror::Error)]
pub enum ActionError {
    /// No such conversation or job.
    #[error("not found")]
    NotFound,
    /// The target is not in a state the action applies to.
    #[error("{0}")]
    Conflict(String),
    /// The request is wrong (the message says how).
    #[error("{0}")]
    Invalid(String),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<DeadLetterError> for ActionError {
    fn from(err: DeadLetterError) -> Self {
        match err {
            DeadLetterError::NotFound(_) => Self::NotFound,
            DeadLetterError::NotDead(..) => Self::Conflict(err.to_string()),
            DeadLetterError::Store(err) => Self::Store(err),
        }
    }
}

/// Appends the audit entry of a change.
pub async fn audit(
    state: &AppState,
    actor: Actor<'_>,
    action: &str,
    target: &str,
    before: Option<Value>,
    after: Option<Value>,
) -> Result<(), StoreError> {
    let entry = NewAudit {
        actor: actor.email,
        user_id: Some(actor.user),
        action,
        target: Some(target),
        ip: Some(actor.ip),
        success: true,
        before,
        after,
        at: OffsetDateTime::now_utc(),
    };
    state.store.append_audit(&entry).await.map(drop)
}

fn target(tenant: &Tenant, contact: &ContactNumber) -> String {
    format!("{}/{}", tenant.slug, contact.as_str())
}

/// Turns the bot on (state `bot`) or off (state `human`); the state before.
pub async fn set_ai(
    state: &AppState,
    tenant: &Tenant,
    contact: &ContactNumber,
    enabled: bool,
    actor: Actor<'_>,
) -> Result<ConversationState, ActionError> {
    let before = state.store.find_conversation(tenant.id, contact.as_str()).await?.ok_or(ActionError::NotFound)?;
    let wanted = if enabled { ConversationState::Bot } else { ConversationState::Human };
    if !state.store.mark_conversation_state(tenant.id, contact.as_str(), wanted).await? {
        return Err(ActionError::NotFound);
    }
    let (before_json, after) = (json!({ "state": before.state.as_str() }), json!({ "state": wanted.as_str() }));
    audit(state, actor, "conversation.ai", &target(tenant, contact), Some(before_json), Some(after)).await?;
    Ok(before.state)
}

/// A hand-off reason: lowercase letters, digits and `_`, up to 64 (it becomes a metric label).
pub fn handoff_reason(reason: Option<&str>) -> Result<String, ActionError> {
    let reason = reason.map(str::trim).filter(|r| !r.is_empty()).unwrap_or(DEFAULT_HANDOFF_REASON);
    let valid = reason.len() <= 64 && reason.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(ActionError::Invalid(format!(
            "reason {reason:?}: use up to 64 lowercase letters, digits or _ (e.g. \"vip_customer\")"
        )));
    }
    Ok(reason.to_string())
}

/// Hands the conversation to a person: the bot goes silent, the customer hears the
/// hand-off text, the `handoff` job moves the ticket. The hand-off id and correlation id.
pub async fn hand_off(
    state: &AppState,
    tenant: &Tenant,
    contact: &ContactNumber,
    reason: &str,
    actor: Actor<'_>,
) -> Result<(i64, CorrelationId), ActionError> {
    let before = state.store.find_conversation(tenant.id, contact.as_str()).await?.ok_or(ActionError::NotFound)?;
    let settings = &tenant.settings.handoff;
    let text = handoff_text(settings, &tenant.settings.persona);
    let correlation_id = CorrelationId::new();
    let request = RequestedHandoff {
        tenant: tenant.id,
        contact: contact.as_str(),
        handoff: NewHandoff {
            reason: reason.to_string(),
            sla: settings.sla_minutes.map(|minutes| time::Duration::minutes(i64::from(minutes))),
        },
        text: Some(&text),
        deliver_max_attempts: state.config.queue.deliver_max_attempts,
        correlation_id: &correlation_id,
        now: OffsetDateTime::now_utc(),
    };
    let handoff = match state.store.request_handoff(request).await? {
        RequestedHandoffOutcome::NotFound => return Err(ActionError::NotFound),
        RequestedHandoffOutcome::AlreadyOpen { handoff } => {
            return Err(ActionError::Conflict(format!(
                "the conversation is with a person already (hand-off {handoff})"
            )));
        }
        RequestedHandoffOutcome::Opened { handoff, .. } => handoff,
    };
    state.wake.notify_waiters();
    metrics::counter!(m::HANDOFFS_TOTAL, "reason" => reason.to_string()).increment(1);
    info!(tenant = %tenant.slug, %correlation_id, handoff, reason, by = actor.email, "hand-off requested by an operator");
    let after = json!({ "state": "human", "handoff": handoff, "reason": reason });
    let before = json!({ "state": before.state.as_str() });
    audit(state, actor, "conversation.handoff", &target(tenant, contact), Some(before), Some(after)).await?;
    Ok((handoff, correlation_id))
}

/// What closing did.
#[derive(Debug, Clone)]
pub struct Closed {
    /// False when it was closed already.
    pub changed: bool,
    /// `asked` or `not_asked`.
    pub csat: &'static str,
    /// Follows the CSAT question, if any.
    pub correlation_id: CorrelationId,
}

/// Closes the conversation like a closed ticket (CSAT when the tenant asks for it).
pub async fn close(
    state: &AppState,
    tenant: &Tenant,
    contact: &ContactNumber,
    actor: Actor<'_>,
) -> Result<Closed, ActionError> {
    let before = state.store.find_conversation(tenant.id, contact.as_str()).await?.ok_or(ActionError::NotFound)?;
    let correlation_id = CorrelationId::new();
    let outcome = super::close::close_conversation(state, tenant, contact.as_str(), &correlation_id).await?;
    let csat = match outcome {
        CloseOutcome::NotFound => return Err(ActionError::NotFound),
        CloseOutcome::Closed { survey: SurveyDecision::Asked { .. } } => "asked",
        CloseOutcome::Closed { .. } => "not_asked",
        CloseOutcome::AlreadyClosed | CloseOutcome::StillActive | CloseOutcome::LeaseLost => {
            return Ok(Closed { changed: false, csat: "not_asked", correlation_id });
        }
    };
    let (before, after) = (json!({ "state": before.state.as_str() }), json!({ "state": "closed", "csat": csat }));
    audit(state, actor, "conversation.close", &target(tenant, contact), Some(before), Some(after)).await?;
    Ok(Closed { changed: true, csat, correlation_id })
}

/// Queues `text` to the customer as the bot's message.
pub async fn send(
    state: &AppState,
    tenant: &Tenant,
    contact: &ContactNumber,
    text: &str,
    actor: Actor<'_>,
) -> Result<(MessageId, CorrelationId), ActionError> {
    let text = text.trim();
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_TEXT_CHARS {
        return Err(ActionError::Invalid(format!("text: 1 to {MAX_TEXT_CHARS} characters, got {chars}")));
    }
    let correlation_id = CorrelationId::new();
    let message = BotMessage {
        tenant: tenant.id,
        contact: contact.as_str(),
        text,
        meta: json!({ "decision": "operator", "by": actor.email }),
        deliver_max_attempts: state.config.queue.deliver_max_attempts,
        correlation_id: &correlation_id,
        now: OffsetDateTime::now_utc(),
    };
    let id = state.store.send_as_bot(message).await?.ok_or(ActionError::NotFound)?;
    state.wake.notify_waiters();
    info!(tenant = %tenant.slug, %correlation_id, message_id = %id, by = actor.email, "message queued as the bot by an operator");
    let after = json!({ "message_id": id, "text": text });
    audit(state, actor, "conversation.send", &target(tenant, contact), None, Some(after)).await?;
    Ok((id, correlation_id))
}

/// Queues a dead letter again with its attempts reset.
pub async fn replay(state: &AppState, id: JobId, actor: Actor<'_>) -> Result<(), ActionError> {
    queue::replay(&*state.store, id, OffsetDateTime::now_utc()).await?;
    state.wake.notify_waiters();
    let (before, after) = (json!({ "state": "dead" }), json!({ "state": "queued" }));
    audit(state, actor, "dead_letter.replay", &format!("job:{id}"), Some(before), Some(after)).await?;
    Ok(())
}

/// Throws a dead letter away.
pub async fn discard(state: &AppState, id: JobId, actor: Actor<'_>) -> Result<(), ActionError> {
    queue::discard(&*state.store, id, OffsetDateTime::now_utc()).await?;
    let (before, after) = (json!({ "state": "dead" }), json!({ "state": "discarded" }));
    audit(state, actor, "dead_letter.discard", &format!("job:{id}"), Some(before), Some(after)).await?;
    Ok(())
}

/// Sets a tenant's feature flag (`None`: back to its default); read at run time, no restart.
pub async fn set_flag(
    state: &AppState,
    tenant: &Tenant,
    flag: Flag,
    value: Option<FlagValue>,
    actor: Actor<'_>,
) -> Result<(), ActionError> {
    let before = tenant.flags.get(flag).map(ToString::to_string);
    if !state.store.set_flag(tenant.id, flag, value.clone(), OffsetDateTime::now_utc()).await? {
        return Err(ActionError::NotFound);
    }
    let after = value.as_ref().map(ToString::to_string);
    let target = format!("{}/{}", tenant.slug, flag.name());
    audit(state, actor, "flag.set", &target, Some(json!({ "value": before })), Some(json!({ "value": after }))).await?;
    info!(tenant = %tenant.slug, flag = flag.name(), value = ?after, by = actor.email, "feature flag set");
    Ok(())
}
