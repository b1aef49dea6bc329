//! The one place errors become HTTP statuses (protocols.md §7.3).

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::domain::UserRole;

/// Errors the API answers with; the body is always `{"error":{"code","message"}}`.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the body is not valid JSON or a field is wrong.
    #[error("{0}")]
    InvalidPayload(String),
    /// 401: bad or missing signature or token, or unknown tenant (one answer for all,
    /// so tenants cannot be enumerated).
    #[error("invalid or missing webhook signature or token")]
    Unauthorized,
    /// 401 on the admin API: no Bearer token, or one that is unknown, expired or revoked,
    /// or whose owner is disabled.
    #[error(
        "missing, invalid, expired or revoked API token: send `Authorization: Bearer <token>` (atende token create)"
    )]
    Unauthenticated,
    /// 403: the caller's role is below the operation's.
    #[error("this needs the {} role; the token's owner is {}", needed.as_str(), role.as_str())]
    Forbidden {
        /// The operation's role.
        needed: UserRole,
        /// The caller's.
        role: UserRole,
    },
    /// 409: the target is not in a state the operation applies to.
    #[error("{0}")]
    Conflict(String),
    /// 404: no such route or channel.
    #[error("no such route")]
    NotFound,
    /// 413: the body is over the limit.
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// 429: a rate limit ran dry; retry after the delay.
    #[error("too many requests ({scope} limit); retry after {} s", retry_after.as_secs())]
    RateLimited {
        /// Which limit.
        scope: &'static str,
        /// When to retry.
        retry_after: Duration,
    },
    /// 503: the store is unavailable; the sender should retry.
    #[error("temporarily unavailable, retry later")]
    Unavailable,
    /// 503: `http.max_in_flight` webhooks are being handled; the sender should retry shortly.
    #[error("too many webhooks in flight; retry in a moment")]
    Overloaded,
    /// 500: a bug; the cause is logged, never sent.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::InvalidPayload(_) => "invalid_payload",
            Self::Unauthorized | Self::Unauthenticated => "unauthorized",
            Self::Forbidden { .. } => "forbidden",
            Self::Conflict(_) => "conflict",
            Self::NotFound => "not_found",
            Self::PayloadTooLarge(_) => "payload_too_large",
            Self::RateLimited { .. } => "rate_limited",
            Self::Unavailable => "unavailable",
            Self::Overloaded => "overloaded",
            Self::Internal(_) => "internal",
        }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::InvalidPayload(_) => StatusCode::BAD_REQUEST,
            Self::Unauthorized | Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::Forbidden { .. } => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Unavailable | Self::Overloaded => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Internal(cause) = &self {
            tracing::error!(%cause, "internal error");
        }
        let body = Json(json!({ "error": { "code": self.code(), "message": self.to_string() } }));
        let mut response = (self.status(), body).into_response();
        if let Self::Unauthenticated = self {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Self::Overloaded = self {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let Self::RateLimited { retry_after, .. } = self {
            let secs = retry_after.as_secs().max(1).to_string();
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_str(&secs).expect("digits"));
        }
        response
    }
}
