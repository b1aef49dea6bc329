//! Outbound events for workflows (n8n, scripts): what a delivery looks like, how it is
//! signed, and the HTTP client that posts it. `jobs::notify` runs the deliveries, which are
//! queued as `notify` jobs in the same transaction as what they report.
//!
//! A delivery is a `POST` of a JSON envelope
//! `{"id","event","tenant","occurred_at","correlation_id","data"}` with the headers
//! `X-Atende-Event`, `X-Atende-Delivery` (the same id on every attempt, for receivers to
//! drop repeats), `X-Atende-Timestamp` (unix seconds of this attempt) and
//! `X-Atende-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}">`, the signature
//! of our inbound generic webhook (protocols.md §7.1), so one verifier serves both ways.
//!
//! `email` and `sms` are the fallback channels: an answer the helpdesk would not take goes
//! to the tenant's team by e-mail and to the customer by SMS.
//!
//! Layer 3: may import `domain`, `config`, `telemetry`, `store`.

mod email;
mod sms;

pub use email::{EmailError, Mailer};

use std::time::Duration;

use hmac::{Hmac, Mac};
use reqwest::header::{CONTENT_TYPE, HeaderValue};
use serde_json::{Value, json};
use sha2::Sha256;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::config::tenant::Secret;
use crate::domain::{CorrelationId, ErrorClass, EventKind, Flag};
use crate::store::{NewNotify, Tenant};

/// The deliveries of `event` to each of the tenant's subscribers that asked for it, each
/// with its own delivery id and the same envelope otherwise. `data` is built only when
/// someone subscribed: most tenants have no receivers, and this runs on the hot paths.
pub fn outbox(
    tenant: &Tenant,
    event: EventKind,
    data: impl FnOnce() -> Value,
    correlation_id: &CorrelationId,
    now: OffsetDateTime,
    max_attempts: u32,
) -> Vec<NewNotify> {
    let mut subscribers = tenant.settings.subscribers(event).peekable();
    if subscribers.peek().is_none() || !tenant.flags.on(Flag::Events) {
        return Vec::new();
    }
    let data = data();
    subscribers
        .map(|sub| {
            let delivery_id = uuid::Uuid::now_v7().to_string();
            let body = json!({
                "id": delivery_id,
                "event": event.as_str(),
                "tenant": tenant.slug,
                "occurred_at": rfc3339(now),
                "correlation_id": correlation_id.as_str(),
                "data": &data,
            });
            NewNotify {
                url: sub.url.clone(),
                event: event.as_str().to_string(),
                delivery_id,
                body: body.to_string(),
                max_attempts,
            }
        })
        .collect()
}

/// A time as RFC 3339 (UTC), the format of every time in event bodies.
pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_else(|_| at.unix_timestamp().to_string())
}

/// `sha256=<lowercase hex HMAC-SHA256 of "{timestamp}.{body}">`.
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Why a delivery failed. Messages never hold the secret or the body.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The subscription's URL cannot be used.
    #[error("invalid receiver URL: {0}")]
    InvalidUrl(String),
    /// No answer within the timeout.
    #[error("the receiver did not answer in time")]
    Timeout,
    /// Connection refused, DNS, TLS.
    #[error("cannot reach the receiver: {0}")]
    Connect(String),
    /// The receiver answered with a non-2xx status.
    #[error("the receiver answered HTTP {status}: {message}")]
    Http {
        /// HTTP status.
        status: u16,
        /// Start of the answer body.
        message: String,
        /// `Retry-After` in seconds, when given.
        retry_after: Option<Duration>,
    },
}

impl NotifyError {
    /// Timeouts, connection errors, 408, 425, 429 and 5xx may pass later; other answers
    /// (4xx, redirects, a bad URL) would repeat.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Timeout | Self::Connect(_) => ErrorClass::Retryable,
            Self::Http { status, .. } if matches!(status, 408 | 425 | 429) || *status >= 500 => ErrorClass::Retryable,
            Self::Http { .. } | Self::InvalidUrl(_) => ErrorClass::Permanent,
        }
    }

    /// The delay the receiver asked for.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

/// One event delivery, as a `notify` job carries it.
#[derive(Debug, Clone, Copy)]
pub struct Delivery<'a> {
    /// Receiver.
    pub url: &'a str,
    /// Event name.
    pub event: &'a str,
    /// Stable id of the delivery.
    pub delivery_id: &'a str,
    /// The exact body to sign and send.
    pub body: &'a str,
}

/// Posts signed deliveries; one connection pool for the process.
#[derive(Debug, Clone)]
pub struct Notifier {
    http: reqwest::Client,
}

impl Notifier {
    /// A client with `timeout` per request. Redirects are not followed: a subscription
    /// names its receiver exactly.
    ///
    /// # Panics
    /// Only if the TLS backend cannot initialise, like `reqwest::Client::new`.
    pub fn new(timeout: Duration) -> Self {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("the HTTP client's TLS backend initialises");
        Self { http }
    }

    /// Sends one delivery, signed with `secret` at the current time.
    pub async fn send(&self, delivery: Delivery<'_>, secret: &Secret) -> Result<u16, NotifyError> {
        let url = reqwest::Url::parse(delivery.url).map_err(|err| NotifyError::InvalidUrl(err.to_string()))?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(NotifyError::InvalidUrl("use an http(s) URL with a host".into()));
        }
        let timestamp = OffsetDateTime::now_utc().unix_timestamp();
        let signature = sign(secret.expose(), timestamp, delivery.body.as_bytes());
        let header = |value: &str| {
            HeaderValue::from_str(value).map_err(|_| NotifyError::InvalidUrl("a header value is not valid".into()))
        };
        let response = self
            .http
            .post(url)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .header("x-atende-event", header(delivery.event)?)
            .header("x-atende-delivery", header(delivery.delivery_id)?)
            .header("x-atende-timestamp", HeaderValue::from(timestamp))
            .header("x-atende-signature", header(&signature)?)
            .body(delivery.body.to_string())
            .send()
            .await
            .map_err(transport_error)?;
        answer(response).await
    }
}

/// The status of a 2xx answer, else the error it stands for.
async fn answer(response: reqwest::Response) -> Result<u16, NotifyError> {
    let status = response.status();
    if status.is_success() {
        return Ok(status.as_u16());
    }
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let text = response.text().await.unwrap_or_default();
    let message: String = text.chars().take(200).collect();
    Err(NotifyError::Http { status: status.as_u16(), message, retry_after })
}

fn transport_error(error: reqwest::Error) -> NotifyError {
    if error.is_timeout() {
        return NotifyError::Timeout;
    }
    let error = error.without_url();
    NotifyError::Connect(crate::telemetry::error_chain(&error).chars().take(300).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_is_the_generic_webhook_hmac() {
        // Known answer: printf '1764000000.{"a":1}' | openssl dgst -sha256 -hmac segredo
        let signature = sign("segredo", 1_764_000_000, br#"{"a":1}"#);
        assert_eq!(signature, "sha256=d8ccfc94da1a7342da8bbab105e008319239a668fa5599f7ba0b61b9b49fb085");
        assert_ne!(signature, sign("segredo", 1_764_000_001, br#"{"a":1}"#));
        assert_ne!(signature, sign("outro", 1_764_000_000, br#"{"a":1}"#));
    }

    #[test]
    fn error_classes_follow_http_semantics() {
        let http = |status| NotifyError::Http { status, message: String::new(), retry_after: None };
        for status in [408, 425, 429, 500, 502, 503] {
            assert_eq!(http(status).class(), ErrorClass::Retryable, "{status}");
        }
        for status in [301, 400, 401, 403, 404, 410, 422] {
            assert_eq!(http(status).class(), ErrorClass::Permanent, "{status}");
        }
        assert_eq!(NotifyError::Timeout.class(), ErrorClass::Retryable);
        assert_eq!(NotifyError::InvalidUrl("x".into()).class(), ErrorClass::Permanent);
    }
}
