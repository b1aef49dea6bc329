//! The errors of the channel adapters: webhook authenticity, payload parsing and sending.

use crate::domain::ErrorClass;

/// Why a webhook was not accepted as authentic.
///
/// Every variant becomes the same 401 upstream, so tenants and secrets cannot be probed;
/// the variants exist for logs. `Display` never includes a secret, token or signature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A signature or timestamp header the scheme requires is absent.
    #[error("signature or timestamp header missing")]
    MissingSignature,
    /// A signature header is malformed or matches none of the active secrets.
    #[error("signature does not verify with any active secret")]
    BadSignature,
    /// The signed timestamp is more than the allowed skew away from now.
    #[error("signed timestamp outside the allowed window")]
    StaleTimestamp,
    /// The `token` query parameter is absent.
    #[error("inbound token missing")]
    MissingToken,
    /// The `token` query parameter does not match the tenant's inbound token (or none is set).
    #[error("inbound token does not match")]
    BadToken,
}

/// Why a webhook body could not be read; upstream answers 400 with this message.
///
/// Messages name the offending field and quote at most a short excerpt of the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The body is not JSON.
    #[error("malformed JSON: {0}")]
    Json(String),
    /// The body is JSON but a field is missing, has the wrong type or an invalid value.
    #[error("{0}")]
    Invalid(String),
}

/// Why sending a message through a channel failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChannelError {
    /// No answer within the client's timeout (retryable).
    #[error("the channel did not answer in time")]
    Timeout,
    /// The request never got an HTTP answer: DNS, TCP, TLS or a dropped connection (retryable).
    #[error("could not reach the channel: {0}")]
    Connect(String),
    /// The channel answered with a non-2xx status; `message` is its error text, truncated.
    #[error("the channel answered HTTP {status}: {message}")]
    Http {
        /// The HTTP status code.
        status: u16,
        /// The `error` or `message` field of the answer (or its start), never a credential.
        message: String,
    },
    /// The tenant's channel settings cannot work (bad URL, unusable token): fix the config.
    #[error("invalid channel configuration: {0}")]
    InvalidConfig(String),
}

impl ChannelError {
    /// Whether a later attempt can succeed: timeouts, connection errors, 408, 425, 429 and
    /// 5xx are retryable; other statuses and configuration errors are permanent.
    pub fn class(&self) -> ErrorClass {
        match self {
            Self::Timeout | Self::Connect(_) => ErrorClass::Retryable,
            Self::Http { status: 408 | 425 | 429 | 500..=599, .. } => ErrorClass::Retryable,
            Self::Http { .. } | Self::InvalidConfig(_) => ErrorClass::Permanent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(status: u16) -> ChannelError {
        ChannelError::Http { status, message: String::new() }
    }

    #[test]
    fn timeouts_connection_errors_throttling_and_5xx_are_retryable() {
        let errors = [ChannelError::Timeout, ChannelError::Connect("reset".into())];
        for error in errors.into_iter().chain([408, 425, 429, 500, 502, 503, 599].map(http)) {
            assert_eq!(error.class(), ErrorClass::Retryable, "{error}");
        }
    }

    #[test]
    fn client_errors_and_bad_config_are_permanent() {
        let config = ChannelError::InvalidConfig("url".into());
        for error in [400, 401, 403, 404, 409, 422, 302].map(http).into_iter().chain([config]) {
            assert_eq!(error.class(), ErrorClass::Permanent, "{error}");
        }
    }
}
