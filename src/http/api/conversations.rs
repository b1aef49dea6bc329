//! Conversations: list, transcript, and the operator's actions (AI switch, hand-off, send
//! as the bot, close).

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, failed, json_body, limit, query, rfc3339, tenant, unavailable};
use crate::domain::{ContactNumber, ConversationState};
use crate::http::{ApiError, AppState, actions};
use crate::store::{Conversation, ConversationFilter};

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
    actions::set_ai(&state, &tenant, &contact, enabled, caller.actor()).await.map_err(failed)?;
    let now = if enabled { ConversationState::Bot } else { ConversationState::Human };
    Ok(Json(json!({ "contact": contact.as_str(), "state": now.as_str(), "ai": enabled })))
}

pub(super) async fn close(
    State(state): State<AppState>,
    caller: Caller,
    Path((slug, raw)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let contact = contact(&raw)?;
    let tenant = tenant(&state, &slug).await?;
    let closed = actions::close(&state, &tenant, &contact, caller.actor()).await.map_err(failed)?;
    let mut body = json!({ "contact": contact.as_str(), "state": "closed", "changed": closed.changed });
    if closed.changed {
        body["csat"] = json!(closed.csat);
        body["correlation_id"] = json!(closed.correlation_id.as_str());
    }
    Ok(Json(body))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct HandoffRequest {
    reason: Option<String>,
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
    if request.reason.as_deref().is_some_and(|r| r.trim().is_empty()) {
        return Err(ApiError::InvalidPayload("reason: leave it out or give one (e.g. \"vip_customer\")".into()));
    }
    let reason = actions::handoff_reason(request.reason.as_deref()).map_err(failed)?;
    let contact = contact(&raw)?;
    let tenant = tenant(&state, &slug).await?;
    let (handoff, correlation_id) =
        actions::hand_off(&state, &tenant, &contact, &reason, caller.actor()).await.map_err(failed)?;
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
    let contact = contact(&raw)?;
    let tenant = tenant(&state, &slug).await?;
    let (id, correlation_id) = actions::send(&state, &tenant, &contact, &text, caller.actor()).await.map_err(failed)?;
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "contact": contact.as_str(), "message_id": id, "status": "pending",
            "correlation_id": correlation_id.as_str(),
        })),
    ))
}
