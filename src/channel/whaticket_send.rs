//! Sending a text through Whaticket's external API, `POST {url}/api/messages/send`
//! (protocols.md §1.2 community lineage and §1.3 SaaS lineage: same route, body and auth).

use std::time::{Duration, Instant};

use reqwest::header::{AUTHORIZATION, HeaderValue};
use reqwest::{Response, Url};
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};

use super::ChannelError;
use crate::domain::ContactNumber;
use crate::telemetry::metrics::{DELIVERIES_TOTAL, DELIVERY_DURATION_SECONDS, DELIVERY_ERRORS_TOTAL};

/// The `channel` label of this adapter's metrics.
const CHANNEL: &str = "whaticket";
/// Error texts from Whaticket are cut to this many characters.
const MAX_ERROR_CHARS: usize = 200;
/// At most this much of an error body is read; the rest is dropped with the connection.
const MAX_ERROR_BODY_BYTES: usize = 8 * 1024;

/// A tenant's Whaticket API settings, passed in per call.
#[derive(Debug, Clone)]
pub struct WhaticketCredentials {
    /// The backend root, e.g. `https://api.helpdesk.example`; a trailing `/` is ignored.
    pub url: String,
    /// The API token: the `userApiToken` setting (community) or the connection token (SaaS).
    pub token: SecretString,
}

/// Client for Whaticket's send API; cheap to clone (one shared connection pool).
#[derive(Debug, Clone)]
pub struct WhaticketClient {
    /// Carries the request timeout, so every send is bounded.
    pub(super) http: reqwest::Client,
    /// User sessions for ticket changes (`whaticket_ticket`).
    pub(super) sessions: super::whaticket_ticket::Sessions,
}

impl WhaticketClient {
    /// A client whose requests give up after `timeout`.
    ///
    /// Panics only if the TLS backend cannot initialise, like `reqwest::Client::new`.
    pub fn new(timeout: Duration) -> Self {
        let http =
            reqwest::Client::builder().timeout(timeout).build().expect("the HTTP client's TLS backend initialises");
        Self { http, sessions: Default::default() }
    }

    /// Sends `text` to `number` with `{"number": digits, "body": text}`; any 2xx is success.
    /// Whaticket returns no message id (the body is empty or `{"mensagem": ...}`).
    pub async fn send_text(
        &self,
        creds: &WhaticketCredentials,
        number: &ContactNumber,
        text: &str,
    ) -> Result<(), ChannelError> {
        let started = Instant::now();
        let result = self.post_send(creds, number, text).await;
        metrics::histogram!(DELIVERY_DURATION_SECONDS, "channel" => CHANNEL).record(started.elapsed().as_secs_f64());
        match &result {
            Ok(()) => metrics::counter!(DELIVERIES_TOTAL, "channel" => CHANNEL).increment(1),
            Err(error) => {
                let class = error.class().as_str();
                tracing::debug!(channel = CHANNEL, class, %error, "send failed");
                metrics::counter!(DELIVERY_ERRORS_TOTAL, "channel" => CHANNEL, "class" => class).increment(1);
            }
        }
        result
    }

    async fn post_send(
        &self,
        creds: &WhaticketCredentials,
        number: &ContactNumber,
        text: &str,
    ) -> Result<(), ChannelError> {
        let url = send_url(&creds.url)?;
        let authorization = bearer(&creds.token)?;
        let response = self
            .http
            .post(url)
            .header(AUTHORIZATION, authorization)
            .json(&json!({ "number": number.as_str(), "body": text }))
            .send()
            .await
            .map_err(transport_error)?;
        if response.status().is_success() {
            return Ok(());
        }
        Err(http_error(response, &creds.token).await)
    }
}

/// `{root}/api/messages/send`, after checking the root is an http(s) URL.
fn send_url(root: &str) -> Result<Url, ChannelError> {
    let root = root.trim().trim_end_matches('/');
    let invalid = || ChannelError::InvalidConfig("whaticket url must be an http(s) URL".into());
    let url = Url::parse(&format!("{root}/api/messages/send")).map_err(|_| invalid())?;
    match url.scheme() {
        "http" | "https" if url.host().is_some() => Ok(url),
        _ => Err(invalid()),
    }
}

pub(super) fn bearer(token: &SecretString) -> Result<HeaderValue, ChannelError> {
    let token = token.expose_secret().trim();
    if token.is_empty() {
        return Err(ChannelError::InvalidConfig("whaticket token is empty".into()));
    }
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| ChannelError::InvalidConfig("whaticket token has characters not allowed in a header".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

pub(super) fn transport_error(error: reqwest::Error) -> ChannelError {
    if error.is_timeout() {
        return ChannelError::Timeout;
    }
    // The caller knows the URL; the source chain says what went wrong (DNS, refused, TLS).
    let error = error.without_url();
    ChannelError::Connect(cut(&crate::telemetry::error_chain(&error)))
}

pub(super) async fn http_error(response: Response, token: &SecretString) -> ChannelError {
    let status = response.status().as_u16();
    let body = read_start(response).await;
    let message = error_message(&body);
    let token = token.expose_secret().trim();
    let message = if token.is_empty() { message } else { message.replace(token, "[redacted]") };
    ChannelError::Http { status, message: cut(&message) }
}

/// The start of an error body. A failed read still leaves the status, which is what classifies
/// the error, so read failures just end the text.
async fn read_start(mut response: Response) -> String {
    let mut bytes = Vec::new();
    while bytes.len() < MAX_ERROR_BODY_BYTES {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    bytes.truncate(MAX_ERROR_BODY_BYTES);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// The `error` or `message` field of a JSON error body, else the body text itself.
fn error_message(body: &str) -> String {
    let json = serde_json::from_str::<Value>(body).ok();
    let field = json.as_ref().and_then(|json| json.get("error").or_else(|| json.get("message")));
    match field {
        Some(Value::String(text)) => text.clone(),
        Some(other) => other.to_string(),
        None => body.trim().to_owned(),
    }
}

fn cut(text: &str) -> String {
    match text.char_indices().nth(MAX_ERROR_CHARS) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
#[path = "whaticket_send_tests.rs"]
mod tests;
