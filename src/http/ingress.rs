//! `POST /webhook/{tenant}/{channel}`: authenticate, parse, store and queue in one
//! transaction, answer at once (protocols.md §7).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use secrecy::SecretString;
use serde::Deserialize;
use serde_json::{Value, json};
use time::OffsetDateTime;
use tracing::{Instrument, info, info_span, warn};

use super::{ApiError, AppState};
use crate::brain::{self, sentiment};
use crate::channel::{self, ChannelKind, Inbound, InboundCredentials, TicketClosed};
use crate::domain::{CorrelationId, EventKind, InboundMessage};
use crate::limits::Limited;
use crate::notify;
use crate::store::{
    AgentAction, AgentOutcome, CloseOutcome, Debounce, NewInbound, NewNotify, RecordOutcome, SurveyDecision, Tenant,
};
use crate::telemetry::metrics as m;
use crate::telemetry::pii;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/webhook/{tenant}/{channel}", post(receive_webhook))
}

#[derive(Debug, Deserialize)]
struct WebhookQuery {
    token: Option<String>,
}

/// One item's answer.
struct Answer {
    status: StatusCode,
    body: Value,
}

async fn receive_webhook(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path((tenant, channel)): Path<(String, String)>,
    query: Result<Query<WebhookQuery>, QueryRejection>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let label = ChannelKind::parse(&channel).map_or("unknown", ChannelKind::as_str);
    // Shed load rather than queue it: every sender retries a 503, and a process whose store
    // falls behind keeps its memory bounded. The permit lives until the answer is ready.
    let permit = state.in_flight.as_ref().map(|slots| Arc::clone(slots).try_acquire_owned());
    let result = match permit {
        Some(Err(_)) => Err(ApiError::Overloaded),
        _ => receive(&state, peer, &tenant, &channel, query, &headers, body).await,
    };
    let (outcome, response) = match result {
        Ok(answer) => (
            answer.body.get("status").and_then(Value::as_str).unwrap_or("ok").to_string(),
            (answer.status, Json(answer.body)).into_response(),
        ),
        Err(err) => (err.code().to_string(), err.into_response()),
    };
    metrics::counter!(m::WEBHOOKS_TOTAL, "channel" => label, "outcome" => outcome).increment(1);
    metrics::histogram!(m::INGRESS_DURATION_SECONDS, "channel" => label).record(started.elapsed());
    response
}

async fn receive(
    state: &AppState,
    peer: SocketAddr,
    slug: &str,
    channel: &str,
    query: Result<Query<WebhookQuery>, QueryRejection>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Answer, ApiError> {
    let kind = ChannelKind::parse(channel).ok_or(ApiError::NotFound)?;
    state.limits.check_ip(client_ip(state, peer, headers)).await.map_err(limited)?;
    let limit = state.config.http.body_limit_bytes;
    let declared = headers.get(axum::http::header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(ApiError::PayloadTooLarge(limit));
    }
    let body = axum::body::to_bytes(body, limit).await.map_err(|_| ApiError::PayloadTooLarge(limit))?;
    let token = query.map_err(|e| ApiError::InvalidPayload(format!("query string: {e}")))?.0.token;

    let tenant = state.tenants.find(state.store.as_ref(), slug).await.map_err(|err| {
        warn!(error = %err, "cannot load tenant");
        ApiError::Unavailable
    })?;
    let Some(tenant) = tenant else {
        // Spend an HMAC's worth of time so unknown tenants look like bad signatures.
        let _ = channel::sign_generic("unknown-tenant", 0, &body);
        return Err(ApiError::Unauthorized);
    };
    // The tenant bucket is charged only by authenticated senders, so strangers cannot
    // drain it (nor tell a known tenant from an unknown one by a 429).
    authenticate(kind, &tenant, headers, token.as_deref(), &body)?;
    state.limits.check_tenant(&tenant.slug).await.map_err(limited)?;
    let items = channel::parse_inbound(kind, &body).map_err(|err| ApiError::InvalidPayload(err.to_string()))?;

    let mut answers = Vec::with_capacity(items.len());
    for item in items {
        answers.push(match item {
            Inbound::Ignored(reason) => ignored(reason.as_str()),
            Inbound::TicketClosed(closed) => {
                state.limits.check_contact(&tenant.slug, closed.contact.as_str()).await.map_err(limited)?;
                let correlation_id = CorrelationId::new();
                let span = info_span!("webhook", correlation_id = %correlation_id, tenant = %tenant.slug, tenant_id = %tenant.id, channel = kind.as_str());
                close_ticket(state, &tenant, &closed, &correlation_id).instrument(span).await?
            }
            Inbound::Message(message) => {
                state.limits.check_contact(&tenant.slug, message.contact.as_str()).await.map_err(limited)?;
                let correlation_id = CorrelationId::new();
                let span = info_span!("webhook", correlation_id = %correlation_id, tenant = %tenant.slug, tenant_id = %tenant.id, channel = kind.as_str());
                record(state, &tenant, &message, &correlation_id).instrument(span).await?
            }
        });
    }
    Ok(combine(answers))
}

fn authenticate(
    kind: ChannelKind,
    tenant: &Tenant,
    headers: &HeaderMap,
    token: Option<&str>,
    body: &[u8],
) -> Result<(), ApiError> {
    let resolved = tenant.resolve().map_err(|err| {
        warn!(tenant = %tenant.slug, error = %err, "tenant secrets cannot be read; rejecting webhooks");
        ApiError::Unauthorized
    })?;
    let secrets: Vec<SecretString> = resolved.webhook_secrets.iter().map(|s| s.to_secret_string()).collect();
    let tokens: Vec<SecretString> = resolved.inbound_tokens.iter().map(|s| s.to_secret_string()).collect();
    let creds = InboundCredentials { webhook_secrets: &secrets, inbound_tokens: &tokens };
    channel::verify(kind, &creds, headers, token, body, OffsetDateTime::now_utc()).map_err(|err| {
        warn!(tenant = %tenant.slug, channel = kind.as_str(), reason = %err, "webhook rejected");
        ApiError::Unauthorized
    })
}

async fn record(
    state: &AppState,
    tenant: &Tenant,
    message: &InboundMessage,
    correlation_id: &CorrelationId,
) -> Result<Answer, ApiError> {
    let now = OffsetDateTime::now_utc();
    let store = &state.store;
    let unavailable = |err: crate::store::StoreError| {
        warn!(error = %err, "cannot store webhook");
        ApiError::Unavailable
    };
    if message.from_me {
        let since = now - time::Duration::DAY;
        let recent =
            store.list_recent_outbound(tenant.id, message.contact.as_str(), since).await.map_err(unavailable)?;
        if is_own_echo(&message.text, &recent) {
            return Ok(ignored("own_echo"));
        }
        let settings = &tenant.settings.handoff;
        let action =
            if settings.is_resume_command(&message.text) { AgentAction::Resume } else { AgentAction::TakeOver };
        let outcome =
            store.record_agent_message(tenant.id, message, correlation_id, action, now).await.map_err(unavailable)?;
        let AgentOutcome::Recorded { first_answer_after, .. } = outcome else {
            return Ok(duplicate());
        };
        if let Some(waited) = first_answer_after {
            let seconds = waited.as_seconds_f64().max(0.0);
            metrics::histogram!(m::HANDOFF_SLA_SECONDS, "tenant" => tenant.slug.clone()).record(seconds);
            info!(contact = %pii::contact(message.contact.as_str()), waited_seconds = seconds, "a person answered the hand-off");
        }
        return Ok(match action {
            AgentAction::Resume => {
                info!(contact = %pii::contact(message.contact.as_str()), "a person gave the conversation back to the bot");
                ignored("resume_command")
            }
            AgentAction::TakeOver => {
                info!(contact = %pii::contact(message.contact.as_str()), "a human agent wrote; the bot is paused for this conversation");
                ignored("human_agent")
            }
        });
    }
    let language = sentiment::detect_language(&message.text);
    let mood = sentiment::analyze(&message.text, language).compound;
    let queue = &state.config.queue;
    let debounce = Debounce { window: queue.debounce, max: queue.debounce_max, max_attempts: queue.reply_max_attempts };
    let notify = events(state, tenant, message, mood, correlation_id, now);
    let inbound = NewInbound {
        tenant: tenant.id,
        message,
        correlation_id,
        now,
        debounce,
        sentiment: Some(mood),
        notify: &notify,
    };
    let outcome = store.record_inbound(inbound).await.map_err(unavailable)?;
    match outcome {
        RecordOutcome::Queued { message_id, conversation_id } => {
            info!(message_id = %message_id, conversation_id = %conversation_id, "message queued");
            // Wake this process's dispatcher when the reply is due before its next look.
            if queue.debounce < queue.poll_interval {
                state.wake.notify_one();
            }
            Ok(Answer {
                status: StatusCode::ACCEPTED,
                body: json!({ "status": "queued", "message_id": message_id, "correlation_id": correlation_id }),
            })
        }
        RecordOutcome::Recorded { .. } => Ok(ignored("human_agent")),
        RecordOutcome::Duplicate => {
            info!(provider_id = %message.provider_id, "duplicate webhook ignored");
            Ok(duplicate())
        }
    }
}

/// `message.received`, and `mood.negative` for a strongly negative message, for the
/// tenant's subscribers (none when the tenant has no receivers: the common, fast case).
fn events(
    state: &AppState,
    tenant: &Tenant,
    message: &InboundMessage,
    mood: f32,
    correlation_id: &CorrelationId,
    now: OffsetDateTime,
) -> Vec<NewNotify> {
    let max_attempts = state.config.events.max_attempts;
    let data = || {
        json!({
            "contact": message.contact.as_str(),
            "name": message.contact_name,
            "text": message.text,
            "provider_id": message.provider_id,
            "ticket_id": message.ticket_id,
            "sentiment": mood,
        })
    };
    let mut notify = notify::outbox(tenant, EventKind::MessageReceived, data, correlation_id, now, max_attempts);
    if mood <= brain::STRONGLY_NEGATIVE {
        notify.extend(notify::outbox(tenant, EventKind::MoodNegative, data, correlation_id, now, max_attempts));
    }
    notify
}

/// The helpdesk closed the ticket: the conversation closes (its hand-off ends), the CSAT
/// question goes out when the tenant asks for ratings, and the bot answers the customer's
/// next message in a fresh context.
async fn close_ticket(
    state: &AppState,
    tenant: &Tenant,
    closed: &TicketClosed,
    correlation_id: &CorrelationId,
) -> Result<Answer, ApiError> {
    let contact = closed.contact.as_str();
    let outcome = super::close::close_conversation(state, tenant, contact, correlation_id).await.map_err(|err| {
        warn!(error = %err, "cannot close the conversation");
        ApiError::Unavailable
    })?;
    let survey = match outcome {
        CloseOutcome::NotFound => {
            info!(contact = %pii::contact(contact), "ticket closed for a contact without a conversation; nothing to do");
            return Ok(ignored("unknown_conversation"));
        }
        CloseOutcome::Closed { survey: SurveyDecision::Asked { .. } } => "asked",
        _ => "not_asked",
    };
    info!(contact = %pii::contact(contact), ticket_id = ?closed.ticket_id, "ticket closed; the bot answers this contact's next message");
    Ok(Answer {
        status: StatusCode::OK,
        body: json!({ "status": "closed", "csat": survey, "correlation_id": correlation_id.as_str() }),
    })
}

/// A `from_me` message whose text we sent recently (some forks add U+200E/U+200C markers).
fn is_own_echo(text: &str, recent_outbound: &[String]) -> bool {
    let text = normalize(text);
    recent_outbound.iter().any(|sent| normalize(sent) == text)
}

fn normalize(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '\u{200e}' || c == '\u{200c}')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn ignored(reason: &str) -> Answer {
    Answer { status: StatusCode::OK, body: json!({ "status": "ignored", "reason": reason }) }
}

fn duplicate() -> Answer {
    Answer { status: StatusCode::OK, body: json!({ "status": "duplicate" }) }
}

/// One item answers as itself; a batch answers 202 when anything was queued, with every result.
fn combine(mut answers: Vec<Answer>) -> Answer {
    match answers.len() {
        0 => ignored("empty"),
        1 => answers.remove(0),
        _ => {
            let queued = answers.iter().any(|a| a.status == StatusCode::ACCEPTED);
            let results: Vec<Value> = answers.into_iter().map(|a| a.body).collect();
            let status = if queued { "queued" } else { "ignored" };
            Answer {
                status: if queued { StatusCode::ACCEPTED } else { StatusCode::OK },
                body: json!({ "status": status, "results": results }),
            }
        }
    }
}

fn limited(limit: Limited) -> ApiError {
    ApiError::RateLimited { scope: limit.scope, retry_after: limit.retry_after }
}

fn client_ip(state: &AppState, peer: SocketAddr, headers: &HeaderMap) -> IpAddr {
    if state.config.http.trust_forwarded_for
        && let Some(ip) = headers
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse().ok())
    {
        return ip;
    }
    peer.ip()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn echoes_match_our_recent_texts_despite_markers_and_spacing() {
        let sent = vec!["Olá! Como posso ajudar?".to_string()];
        assert!(is_own_echo("\u{200e}Olá!  Como posso\najudar?", &sent));
        assert!(!is_own_echo("Olá! Sou a Ana, do suporte.", &sent));
    }
}
