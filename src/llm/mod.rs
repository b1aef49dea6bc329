//! LLM providers behind one call: timeout → retry → circuit breaker → fallback.
//!
//! Layer 3: may import domain, telemetry (and secrets). Credentials arrive resolved, as
//! arguments ([`ProviderConfig::api_key`]); this module never reads the store.
//!
//! Callers use [`LlmChain::complete`]. The adapters (`gemini`, `openai`) only translate one
//! [`Prompt`] into one HTTP request and one response (or error body) into a [`LlmError`].

mod breaker;
mod chain;
#[cfg(test)]
mod chain_tests;
mod error;
mod gemini;
mod openai;
mod retry;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod wire_tests;

use std::time::Duration;

use reqwest::header::HeaderValue;
use reqwest::{RequestBuilder, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};

pub use breaker::BreakerState;
pub use chain::{LlmChain, SharedBreakers};
pub use error::{ChainError, LlmError};

/// Result alias of this module.
pub type Result<T, E = LlmError> = std::result::Result<T, E>;

/// Which wire protocol a provider speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProviderKind {
    /// Google Gemini `generateContent` (protocols.md §4.1).
    Gemini,
    /// OpenAI-compatible `chat/completions`: OpenAI, Ollama, vLLM, llama.cpp (protocols.md §4.3).
    #[serde(rename = "openai")]
    OpenAi,
}

impl ProviderKind {
    /// Label spelling, also the serde spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Gemini => "gemini",
            Self::OpenAi => "openai",
        }
    }
}

/// One provider of a tenant's chain, with its credentials already resolved.
#[derive(Debug, Clone)]
pub struct ProviderConfig {
    /// Wire protocol.
    pub kind: ProviderKind,
    /// API root, e.g. `https://generativelanguage.googleapis.com` or `http://localhost:11434/v1`;
    /// the adapter appends the versioned path unless the root already ends with it.
    pub base_url: String,
    /// Sent as `x-goog-api-key` (Gemini) or `Authorization: Bearer` (OpenAI); no header if `None`.
    pub api_key: Option<SecretString>,
    /// Model id, e.g. `gemini-2.5-flash`.
    pub model: String,
    /// Sampling temperature; the provider default if `None`.
    pub temperature: Option<f32>,
    /// Answer length cap in tokens; the provider default if `None`.
    pub max_output_tokens: Option<u32>,
}

impl ProviderConfig {
    /// Provider name for metric labels and logs: `"gemini"` or `"openai"`.
    pub fn name(&self) -> &'static str {
        self.kind.as_str()
    }
}

/// Who spoke a turn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The contact.
    User,
    /// The attendant (earlier answers of the bot or of a human agent).
    Assistant,
}

/// One turn of the conversation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// Who spoke.
    pub role: Role,
    /// What was said.
    pub text: String,
}

/// Everything sent to the model for one answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prompt {
    /// System instruction (persona, rules, knowledge snippets); omitted from the request if empty.
    pub system: String,
    /// Turns oldest first; the last one is the new user turn.
    pub turns: Vec<Turn>,
}

/// A usable answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Completion {
    /// Answer text, trimmed, never empty.
    pub text: String,
    /// Name of the provider that answered (see [`ProviderConfig::name`]).
    pub provider: &'static str,
    /// Model that was asked.
    pub model: String,
    /// Tokens the provider says the call used (zero when it does not say).
    pub usage: Usage,
}

/// Tokens of one call, from the provider's usage fields (Gemini `usageMetadata`, OpenAI
/// `usage`). Thinking tokens count as output: providers bill them so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Answer tokens.
    pub output_tokens: u64,
}

/// An answer text with its usage, as the adapters return it.
pub(crate) type Answered = (String, Usage);

/// Timeouts, retries and breaker tuning shared by every provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmSettings {
    /// Limit of one HTTP request, body included.
    pub timeout: Duration,
    /// Attempts per provider, the first included (0 is treated as 1).
    pub max_attempts: u32,
    /// First backoff step; doubles each attempt, with equal jitter.
    pub backoff_base: Duration,
    /// Cap of one backoff step.
    pub backoff_max: Duration,
    /// A server-asked delay (Gemini `retryDelay`, `Retry-After`) above this gives up on the provider.
    pub max_retry_delay: Duration,
    /// Consecutive retryable failures that open a breaker.
    pub breaker_failure_threshold: u32,
    /// How long an open breaker rejects calls before one half-open trial.
    pub breaker_open_for: Duration,
}

impl Default for LlmSettings {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            max_attempts: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            max_retry_delay: Duration::from_secs(30),
            breaker_failure_threshold: 5,
            breaker_open_for: Duration::from_secs(30),
        }
    }
}

/// Joins an API root and a versioned path, without doubling the version segment
/// (`http://host/v1` + `v1`, `chat/completions` → `http://host/v1/chat/completions`).
fn endpoint(base_url: &str, version: &str, rest: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if base.ends_with(&format!("/{version}")) { format!("{base}/{rest}") } else { format!("{base}/{version}/{rest}") }
}

/// A header value carrying a secret, marked sensitive so it never shows in `Debug` or logs.
fn secret_header(prefix: &str, key: &SecretString) -> Result<HeaderValue> {
    let mut value = HeaderValue::from_str(&format!("{prefix}{}", key.expose_secret()))
        .map_err(|_| LlmError::Config("api key is not a valid header value".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

/// A provider reply read in full, before any JSON decoding.
struct RawReply {
    status: StatusCode,
    /// `Retry-After` header, in seconds form.
    retry_after: Option<Duration>,
    body: Vec<u8>,
}

/// Sends one request and reads the whole body (the caller bounds it with the timeout).
async fn send(request: RequestBuilder) -> Result<RawReply> {
    let response = request.send().await.map_err(|e| LlmError::from_reqwest(&e))?;
    let status = response.status();
    let retry_after = retry::retry_after_header(response.headers());
    let body = response.bytes().await.map_err(|e| LlmError::from_reqwest(&e))?;
    Ok(RawReply { status, retry_after, body: body.to_vec() })
}

impl RawReply {
    /// Decodes a 2xx body.
    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T> {
        serde_json::from_slice(&self.body).map_err(|e| LlmError::Decode(e.to_string()))
    }

    /// Builds `LlmError::Http` from what the adapter could read of an error body; without a
    /// message, the raw body (or the status reason) is used.
    fn http_error(
        &self,
        status_text: Option<String>,
        message: Option<&str>,
        retry_after: Option<Duration>,
        api_key: Option<&SecretString>,
    ) -> LlmError {
        let raw = String::from_utf8_lossy(&self.body);
        let message = match message.unwrap_or(&raw).trim() {
            "" => self.status.canonical_reason().unwrap_or("no message"),
            text => text,
        };
        LlmError::Http {
            status: self.status.as_u16(),
            status_text,
            message: error::sanitize(message, api_key.map(ExposeSecret::expose_secret)),
            retry_after: retry_after.or(self.retry_after),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_kind_uses_lowercase_names_in_serde() {
        let kinds: Vec<ProviderKind> = serde_json::from_str(r#"["gemini","openai"]"#).unwrap();
        assert_eq!(kinds, [ProviderKind::Gemini, ProviderKind::OpenAi]);
        assert_eq!(serde_json::to_string(&ProviderKind::OpenAi).unwrap(), r#""openai""#);
    }

    #[test]
    fn endpoint_appends_the_version_once() {
        assert_eq!(endpoint("http://h/", "v1", "x"), "http://h/v1/x");
        assert_eq!(endpoint("http://h/v1/", "v1", "x"), "http://h/v1/x");
        assert_eq!(endpoint("http://h/v10", "v1", "x"), "http://h/v10/v1/x");
    }

    #[test]
    fn provider_debug_output_hides_the_api_key() {
        let provider = ProviderConfig {
            kind: ProviderKind::Gemini,
            base_url: "http://h".into(),
            api_key: Some("very-secret".into()),
            model: "m".into(),
            temperature: None,
            max_output_tokens: None,
        };
        assert!(!format!("{provider:?}").contains("very-secret"));
    }

    #[test]
    fn settings_default_to_the_documented_values() {
        let settings = LlmSettings::default();
        assert_eq!(settings.timeout, Duration::from_secs(20));
        assert_eq!(settings.max_attempts, 3);
        assert_eq!(settings.breaker_failure_threshold, 5);
    }
}
