//! Conversations: list, transcript, the per-conversation AI switch, close.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, audit, json_body, limit, query, rfc3339, tenant, unavailable};
use axum::http::StatusCode;
use time::OffsetDateTime;
use tracing::info;

use crate::brain::handoff_text;
use crate::domain::{ContactNumber, ConversationState, CorrelationId};
use crate::http::{ApiError, AppState};
use crate::store::{
    BotMessage, CloseOutcome, Conversation, ConversationFilter, NewHandoff, RequestedHandoff, RequestedHandoffOutcome,
    SurveyDecision,
};
use crate::telemetry::metrics as m;

/// Longest text sent as the bot (WhatsApp's limit for one text message).
const MAX_TEXT_CHARS: usize = 4096;
/// Reason of a hand-off asked for without one.
const DEFAULT_HANDOFF_REASON: &str = "operator";

fn conversation_json(conversation: &Conversation) -> Value {
    json!({
        "id": conversation.id,
        "contact": conversation.contact,
        "contact_name": conversation.contact_name,
        "ticket_id": conversation.ticket_id,
        "state": conversation.state.as_str(),
        "ai": conversation.state == ConversationState::Bot,
        "summary": conversation.summary,
        "guard_strikes": conversation.guard_strikes,
        "human_at": conversation.human_at.map(rfc3339),
        "survey_pending": conversation.survey.is_some(),
    })
}

/// The `{contact}` segment as a customer number.
fn contact(raw: &str) -> Result<ContactNumber, ApiError> {
    ContactNumber::parse(raw).map_err(|err| ApiError::InvalidPayload(format!("contact {raw:?}: {err}")))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    state: Option<String>,
    limit: Option<u32>,
}

pub(super) async fn list(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    params: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let params = query(params)?;
    let wanted = match params.state.as_deref().filter(|s| !s.is_empty()) {
        None => None,
        Some("bot") => Some(ConversationState::Bot),
        Some("human") => Some(ConversationState::Human),
        Some("closed") => Some(ConversationState::Closed),
        Some(other) => {
            return Err(ApiError::InvalidPayload(format!("state {other:?}: use bot, human or closed")));
        }
    };
    let filter = ConversationFilter { state: wanted, limit: limit(params.limit)? };
    let tenant = tenant(&state, &slug).await?;
    let listed = state.store.list_conversations(tenant.id, filter).await.map_err(unavailable)?;
    let conversations: Vec<Value> = listed
        .iter()
        .map(|l| {
            let mut row = conversation_json(&l.conversation);
            row["updated_at"] = json!(rfc3339(l.updated_at));
            row
        })
        .collect();
    Ok(Json(json!({ "tenant": tenant.slug, "conversations": conversations })))
}

pub(super) async fn show(
    State(state): State<AppState>,
    Path((slug, raw)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let contact = contact(&raw)?;
    let tenant = tenant(&state, &slug).await?;
    let conversation = state
        .store
        .find_conversation(tenant.id, contact.as_str())
        .await
        .map_err(unavailable)?
        .ok_or(ApiError::NotFound)?;
    let messages = state.store.list_messages(conversation.id).await.map_err(unavailable)?;
    let mut body = conversation_json(&conversation);
    body["messages"] = json!(messages);
    Ok(Json(body))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AiSwitch {
    enabled: bool,
}

pub(super) async fn set_ai(
    State(state): State<AppState>,
    caller: Caller,
    Path((slug, raw)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, ApiError> {
    let AiSwitch { enabled } = json_body(body)?;
    let contact = contact(&raw)?;
    let tenant = tenant(&state, &slug).await?;
    let before = state
        .store
        .find_conversation(tenant.id, contact.as_str())
        .await
        .map_err(unavailable)?
        .ok_or(ApiError::NotFound)?;
    let wanted = if enabled { ConversationState::Bot } else { ConversationState::Human };
    if !state.store.mark_conversation_state(tenant.id, contact.as_str(), wanted).await.map_err(unavailable)? {
        return Err(ApiError::NotFound);
    }
    let target = format!("{}/{}", tenant.slug, contact.as_str());
    audit(
        &state,
        &caller,
        "conversation.ai",
        &target,
        Some(json!({ "state": before.state.as_str() })),
        Some(json!({ "state": wanted.as_str() })),
    )
    .await?;
    Ok(Json(json!({ "contact": contact.as_str(), "state": wanted.as_str(), "ai": enabled })))
}

pub(super) async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path((slug, raw)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let contact = contact(&raw)?;
    let tenant = tenant(&state, &slug).await?;
    let before = state
        .store
        .find_conversation(tenant.id, contact.as_str())
        .await
        .map_err(unavailable)?
        .ok_or(ApiError::NotFound)?;
    let correlation_id = CorrelationId::new();
    let outcome = crate::http::close::close_conversation(&state, &tenant, contact.as_str(), &correlation_id)
        .await
        .map_err(unavailable)?;
    let csat = match outcome {
        CloseOutcome::NotFound => return Err(ApiError::NotFound),
        CloseOutcome::Closed { survey: SurveyDecision::Asked { .. } } => "asked",
        CloseOutcome::Closed { .. } => "not_asked",
        CloseOutcome::AlreadyClosed | CloseOutcome::StillActive | CloseOutcome::LeaseLost => {
            return Ok(Json(json!({ "contact": contact.as_str(), "state": "closed", "changed": false })));
        }
    };
    let target = format!("{}/{}", tenant.slug, contact.as_str());
    audit(
        &state,
        &caller,
        "conversation.close",
        &target,
        Some(json!({ "state": before.state.as_str() })),
        Some(json!({ "state": "closed", "csat": csat })),
    )
    .await?;
    Ok(Json(json!({
        "contact": contact.as_str(), "state": "closed", "changed": true, "csat": csat,
        "correlation_id": correlation_id.as_str(),
    })))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HandoffRequest {
    reason: Option<String>,
}

/// A hand-off reason: lowercase letters, digits and `_`, up to 64 (it becomes a metric label).
fn handoff_reason(reason: Option<String>) -> Result<String, ApiError> {
    let reason = reason.unwrap_or_else(|| DEFAULT_HANDOFF_REASON.to_string());
    let valid = (1..=64).contains(&reason.len())
        && reason.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !valid {
        return Err(ApiError::InvalidPayload(format!(
            "reason {reason:?}: use 1 to 64 lowercase letters, digits or _ (e.g. \"vip_customer\")"
        )));
    }
    Ok(reason)
}

pub(super) async fn handoff(
    State(state): State<AppState>,
    caller: Caller,
    Path((slug, raw)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    // The body is optional: no body asks with the default reason.
    let request: HandoffRequest = match &body {
        Ok(bytes) if bytes.iter().all(u8::is_ascii_whitespace) => HandoffRequest::default(),
        _ => json_body(body)?,
    };
    let reason = handoff_reason(request.reason)?;
    let contact = contact(&raw)?;
    let tenant = tenant(&state, &slug).await?;
    let before = state
        .store
        .find_conversation(tenant.id, contact.as_str())
        .await
        .map_err(unavailable)?
        .ok_or(ApiError::NotFound)?;
    let settings = &tenant.settings.handoff;
    let text = handoff_text(settings, &tenant.settings.persona);
    let correlation_id = CorrelationId::new();
    let request = RequestedHandoff {
        tenant: tenant.id,
        contact: contact.as_str(),
        handoff: NewHandoff {
            reason: reason.clone(),
            sla: settings.sla_minutes.map(|minutes| time::Duration::minutes(i64::from(minutes))),
        },
        text: Some(&text),
        deliver_max_attempts: state.config.queue.deliver_max_attempts,
        correlation_id: &correlation_id,
        now: OffsetDateTime::now_utc(),
    };
    let handoff = match state.store.request_handoff(request).await.map_err(unavailable)? {
        RequestedHandoffOutcome::NotFound => return Err(ApiError::NotFound),
        RequestedHandoffOutcome::AlreadyOpen { handoff } => {
            return Err(ApiError::Conflict(format!("the conversation is with a person already (hand-off {handoff})")));
        }
        RequestedHandoffOutcome::Opened { handoff, .. } => handoff,
    };
    state.wake.notify_waiters();
    metrics::counter!(m::HANDOFFS_TOTAL, "reason" => reason.clone()).increment(1);
    info!(tenant = %tenant.slug, %correlation_id, handoff, reason, by = caller.user.email.as_str(), "hand-off requested through the admin api");
    let target = format!("{}/{}", tenant.slug, contact.as_str());
    let after = json!({ "state": "human", "handoff": handoff, "reason": reason });
    audit(
        &state,
        &caller,
        "conversation.handoff",
        &target,
        Some(json!({ "state": before.state.as_str() })),
        Some(after),
    )
    .await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "contact": contact.as_str(), "state": "human", "handoff_id": handoff, "reason": reason,
            "correlation_id": correlation_id.as_str(),
        })),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SendRequest {
    text: String,
}

pub(super) async fn send(
    State(state): State<AppState>,
    caller: Caller,
    Path((slug, raw)): Path<(String, String)>,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let SendRequest { text } = json_body(body)?;
    let text = text.trim();
    let chars = text.chars().count();
    if chars == 0 || chars > MAX_TEXT_CHARS {
        return Err(ApiError::InvalidPayload(format!("text: 1 to {MAX_TEXT_CHARS} characters, got {chars}")));
    }
    let contact = contact(&raw)?;
    let tenant = tenant(&state, &slug).await?;
    let correlation_id = CorrelationId::new();
    let message = BotMessage {
        tenant: tenant.id,
        contact: contact.as_str(),
        text,
        meta: json!({ "decision": "operator", "by": caller.user.email.as_str() }),
        deliver_max_attempts: state.config.queue.deliver_max_attempts,
        correlation_id: &correlation_id,
        now: OffsetDateTime::now_utc(),
    };
    let id = state.store.send_as_bot(message).await.map_err(unavailable)?.ok_or(ApiError::NotFound)?;
    state.wake.notify_waiters();
    info!(tenant = %tenant.slug, %correlation_id, message_id = %id, by = caller.user.email.as_str(), "message queued as the bot through the admin api");
    let target = format!("{}/{}", tenant.slug, contact.as_str());
    audit(&state, &caller, "conversation.send", &target, None, Some(json!({ "message_id": id, "text": text }))).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(
            json!({ "contact": contact.as_str(), "message_id": id, "status": "pending", "correlation_id": correlation_id.as_str() }),
        ),
    ))
}
