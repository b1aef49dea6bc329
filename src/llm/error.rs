//! What can go wrong with one provider (`LlmError`) and with the whole chain (`ChainError`).

use std::error::Error as _;
use std::time::Duration;

use crate::domain::ErrorClass;

/// Longest provider message kept in an error; proxies sometimes answer with whole HTML pages.
const MAX_MESSAGE_CHARS: usize = 300;

/// One failed call to one provider. `Display` never includes the api key.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LlmError {
    /// No complete answer within `LlmSettings::timeout`. Retryable.
    #[error("LLM request timed out")]
    Timeout,
    /// Connection refused, reset or dropped mid-response. Retryable.
    #[error("LLM connection failed: {0}")]
    Connect(String),
    /// A non-2xx answer. Retryable on 408, 429 and 5xx; permanent otherwise.
    #[error("LLM answered HTTP {status}{}: {message}", prefixed(.status_text))]
    Http {
        /// HTTP status code.
        status: u16,
        /// Provider status word, e.g. Gemini `RESOURCE_EXHAUSTED` or OpenAI `rate_limit_exceeded`.
        status_text: Option<String>,
        /// Provider message, shortened and with the api key masked.
        message: String,
        /// Delay the server asked for (Gemini `RetryInfo.retryDelay`, `Retry-After` header).
        retry_after: Option<Duration>,
    },
    /// The provider refused to answer (safety filters). Permanent and a no-answer.
    #[error("LLM blocked the answer: {reason}")]
    Blocked {
        /// Provider reason, e.g. `SAFETY` or `content_filter`.
        reason: String,
    },
    /// HTTP 200 without any text. Permanent and a no-answer.
    #[error("LLM returned an empty answer")]
    Empty,
    /// The body was not the expected JSON. Permanent.
    #[error("LLM response could not be decoded: {0}")]
    Decode(String),
    /// The request could not be built (bad base URL, api key with invalid characters). Permanent.
    #[error("LLM request could not be built: {0}")]
    Config(String),
}

impl LlmError {
    /// Whether retrying the same provider may help.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Timeout | Self::Connect(_) => ErrorClass::Retryable,
            Self::Http { status, .. } if *status == 408 || *status == 429 || *status >= 500 => ErrorClass::Retryable,
            Self::Http { .. } | Self::Blocked { .. } | Self::Empty => ErrorClass::Permanent,
            Self::Decode(_) | Self::Config(_) => ErrorClass::Permanent,
        }
    }

    /// The provider answered but gave nothing usable: never retried, never sent to a fallback.
    pub fn is_no_answer(&self) -> bool {
        matches!(self, Self::Blocked { .. } | Self::Empty)
    }

    /// HTTP status, if the provider answered with one.
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::Http { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// Delay the server asked for before the next attempt.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Http { retry_after, .. } => *retry_after,
            _ => None,
        }
    }

    /// Label for `LLM_ERRORS_TOTAL`: `retryable`, `permanent` or `no_answer`.
    pub fn class_label(&self) -> &'static str {
        if self.is_no_answer() { "no_answer" } else { self.class().as_str() }
    }

    /// Maps a transport error; the URL stays (it holds no key), the source chain is kept.
    pub(super) fn from_reqwest(error: &reqwest::Error) -> Self {
        if error.is_timeout() {
            return Self::Timeout;
        }
        let mut text = error.to_string();
        let mut source = error.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        if error.is_builder() {
            Self::Config(text)
        } else if error.is_decode() {
            Self::Decode(text)
        } else {
            Self::Connect(text)
        }
    }
}

/// `" WORD"` for `Some(WORD)`, nothing for `None` (used by `Display`).
fn prefixed(word: &Option<String>) -> String {
    word.as_deref().map(|w| format!(" {w}")).unwrap_or_default()
}

/// Makes a provider message safe to keep: masks the api key and shortens it.
pub(super) fn sanitize(message: &str, api_key: Option<&str>) -> String {
    let masked = match api_key {
        Some(key) if !key.is_empty() => message.replace(key, "[redacted]"),
        _ => message.to_owned(),
    };
    let trimmed = masked.trim();
    match trimmed.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((cut, _)) => format!("{}…", &trimmed[..cut]),
        None => trimmed.to_owned(),
    }
}

/// Why [`LlmChain::complete`](super::LlmChain::complete) produced no answer.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChainError {
    /// The tenant has no provider configured. Permanent.
    #[error("no LLM provider configured")]
    NoProvider,
    /// A provider answered but blocked or left the answer empty: hand off to a human. Permanent.
    #[error("{provider} gave no answer: {reason}")]
    NoAnswer {
        /// Provider name.
        provider: &'static str,
        /// Block reason, or `empty`.
        reason: String,
    },
    /// Every provider failed or was skipped. `last` decides the class: it is the last retryable
    /// error if any provider failed retryably, else the last error seen.
    #[error("every LLM provider failed, last: {last}")]
    Failed {
        /// The deciding error (see above).
        last: LlmError,
    },
    /// Every provider was skipped because its breaker is open. Retryable.
    #[error("every LLM provider is cooling down (circuit breaker open)")]
    AllBreakersOpen,
}

impl ChainError {
    /// Whether running the job again later may help.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::NoProvider | Self::NoAnswer { .. } => ErrorClass::Permanent,
            Self::Failed { last } => last.class(),
            Self::AllBreakersOpen => ErrorClass::Retryable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> LlmError {
        LlmError::Http { status, status_text: None, message: "m".into(), retry_after: None }
    }

    #[test]
    fn timeouts_throttling_and_server_errors_are_retryable() {
        for error in [LlmError::Timeout, LlmError::Connect("reset".into()), http(408), http(429), http(503)] {
            assert_eq!(error.class(), ErrorClass::Retryable, "{error}");
        }
    }

    #[test]
    fn client_errors_decode_errors_and_no_answers_are_permanent() {
        let errors = [http(400), http(401), http(404), LlmError::Decode("x".into()), LlmError::Empty];
        for error in errors {
            assert_eq!(error.class(), ErrorClass::Permanent, "{error}");
        }
    }

    #[test]
    fn only_blocked_and_empty_are_no_answers() {
        assert!(LlmError::Blocked { reason: "SAFETY".into() }.is_no_answer());
        assert!(LlmError::Empty.is_no_answer());
        assert!(!http(400).is_no_answer());
        assert_eq!(LlmError::Empty.class_label(), "no_answer");
    }

    #[test]
    fn http_display_shows_status_word_and_message() {
        let error = LlmError::Http {
            status: 429,
            status_text: Some("RESOURCE_EXHAUSTED".into()),
            message: "quota".into(),
            retry_after: None,
        };
        assert_eq!(error.to_string(), "LLM answered HTTP 429 RESOURCE_EXHAUSTED: quota");
    }

    #[test]
    fn sanitize_masks_the_api_key_and_shortens_long_messages() {
        assert_eq!(sanitize(" bad key sk-123 ", Some("sk-123")), "bad key [redacted]");
        let long = "é".repeat(MAX_MESSAGE_CHARS + 10);
        assert_eq!(sanitize(&long, None).chars().count(), MAX_MESSAGE_CHARS + 1);
    }

    #[test]
    fn chain_error_class_follows_its_cause() {
        assert_eq!(ChainError::AllBreakersOpen.class(), ErrorClass::Retryable);
        assert_eq!(ChainError::NoProvider.class(), ErrorClass::Permanent);
        assert_eq!(ChainError::Failed { last: http(502) }.class(), ErrorClass::Retryable);
        assert_eq!(ChainError::Failed { last: http(401) }.class(), ErrorClass::Permanent);
    }
}
