//! Webhook authenticity (protocols.md §7.1): HMAC signatures with several active secrets
//! (rotation) and the inbound query token, all compared in constant time.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use time::OffsetDateTime;

use super::{ChannelKind, VerifyError};

type HmacSha256 = Hmac<Sha256>;

/// Unix-seconds timestamp covered by the generic signature.
pub const TIMESTAMP_HEADER: &str = "x-atende-timestamp";
/// Atende's own signature: `sha256=<hex>` of `"{timestamp}.{raw body}"`.
pub const SIGNATURE_HEADER: &str = "x-atende-signature";
/// WT-flavio's signature (§1.4): hex HMAC-SHA256 of the raw body, optionally `sha256=`-prefixed.
pub const WEBHOOK_SIGNATURE_HEADER: &str = "x-webhook-signature";
/// How far a signed timestamp may be from now, either way.
pub const MAX_SKEW_SECONDS: i64 = 300;

/// The tenant secrets a webhook is checked against; loaded by the caller, never by `channel`.
#[derive(Debug, Clone, Copy)]
pub struct InboundCredentials<'a> {
    /// Active HMAC secrets; during a rotation any one of them verifies.
    pub webhook_secrets: &'a [SecretString],
    /// The per-tenant tokens accepted in the `token` query parameter (Whaticket route);
    /// more than one while a rotation's grace period runs.
    pub inbound_tokens: &'a [SecretString],
}

/// Checks that a webhook comes from the tenant (protocols.md §7.1).
///
/// Generic: `X-Atende-Timestamp` and `X-Atende-Signature` must verify and the timestamp must be
/// within [`MAX_SKEW_SECONDS`] of `now`. Whaticket: the `token` query value must match; when an
/// `X-Webhook-Signature` or `X-Atende-Signature` header is present it must verify as well.
pub fn verify(
    kind: ChannelKind,
    creds: &InboundCredentials<'_>,
    headers: &HeaderMap,
    token: Option<&str>,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<(), VerifyError> {
    match kind {
        ChannelKind::Generic => verify_atende_signature(creds.webhook_secrets, headers, body, now),
        ChannelKind::Whaticket => {
            verify_token(creds.inbound_tokens, token)?;
            if headers.contains_key(WEBHOOK_SIGNATURE_HEADER) {
                verify_body_signature(creds.webhook_secrets, headers, body)?;
            }
            if headers.contains_key(SIGNATURE_HEADER) {
                verify_atende_signature(creds.webhook_secrets, headers, body, now)?;
            }
            Ok(())
        }
    }
}

/// The generic signature header value for `body` sent at `timestamp`: `sha256=<lowercase hex>`.
pub fn sign_generic(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac = new_mac(secret.as_bytes());
    mac.update(format!("{timestamp}.").as_bytes());
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

fn verify_atende_signature(
    secrets: &[SecretString],
    headers: &HeaderMap,
    body: &[u8],
    now: OffsetDateTime,
) -> Result<(), VerifyError> {
    let timestamp = header(headers, TIMESTAMP_HEADER)?;
    let signature = header(headers, SIGNATURE_HEADER)?;
    let signature = signature.strip_prefix("sha256=").ok_or(VerifyError::BadSignature)?;
    let signature = hex::decode(signature).map_err(|_| VerifyError::BadSignature)?;
    let seconds: i64 = timestamp.trim().parse().map_err(|_| VerifyError::BadSignature)?;
    // The MAC covers the header text exactly as sent, so reformatting it cannot slip through.
    let signed = [timestamp.as_bytes(), b".", body];
    if !any_secret_verifies(secrets, &signed, &signature) {
        return Err(VerifyError::BadSignature);
    }
    if now.unix_timestamp().abs_diff(seconds) > MAX_SKEW_SECONDS.unsigned_abs() {
        return Err(VerifyError::StaleTimestamp);
    }
    Ok(())
}

fn verify_body_signature(secrets: &[SecretString], headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
    let signature = header(headers, WEBHOOK_SIGNATURE_HEADER)?;
    let signature = signature.trim();
    let signature = signature.strip_prefix("sha256=").unwrap_or(signature);
    let signature = hex::decode(signature).map_err(|_| VerifyError::BadSignature)?;
    if any_secret_verifies(secrets, &[body], &signature) { Ok(()) } else { Err(VerifyError::BadSignature) }
}

fn verify_token(expected: &[SecretString], given: Option<&str>) -> Result<(), VerifyError> {
    let given = given.ok_or(VerifyError::MissingToken)?;
    // Comparing fixed-size digests keeps the token's length from leaking through timing,
    // and every token is compared (no early exit) so timing does not tell which matched.
    // No configured token means the route is closed, not open.
    let given = Sha256::digest(given.as_bytes());
    let matched = expected.iter().fold(subtle::Choice::from(0), |matched, expected| {
        matched | given.ct_eq(&Sha256::digest(expected.expose_secret().as_bytes()))
    });
    if bool::from(matched) { Ok(()) } else { Err(VerifyError::BadToken) }
}

fn header<'h>(headers: &'h HeaderMap, name: &str) -> Result<&'h str, VerifyError> {
    let value = headers.get(name).ok_or(VerifyError::MissingSignature)?;
    value.to_str().map_err(|_| VerifyError::BadSignature)
}

fn any_secret_verifies(secrets: &[SecretString], parts: &[&[u8]], signature: &[u8]) -> bool {
    secrets.iter().any(|secret| {
        let mut mac = new_mac(secret.expose_secret().as_bytes());
        parts.iter().for_each(|part| mac.update(part));
        mac.verify_slice(signature).is_ok()
    })
}

fn new_mac(key: &[u8]) -> HmacSha256 {
    HmacSha256::new_from_slice(key).expect("HMAC accepts keys of any length")
}

#[cfg(test)]
#[path = "signature_tests.rs"]
mod tests;
