//! Tests of `signature.rs`: generic HMAC scheme, rotation, freshness and the Whaticket token.

use axum::http::{HeaderMap, HeaderValue};
use hmac::Mac;
use secrecy::SecretString;
use time::OffsetDateTime;

use super::*;

const BODY: &[u8] = br#"{"id":"m1","from":"5511999999999","text":"Oi","timestamp":1764000000}"#;
const NOW: i64 = 1_764_000_000;

fn secrets(values: &[&str]) -> Vec<SecretString> {
    values.iter().map(|value| SecretString::from(*value)).collect()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(NOW).unwrap()
}

fn signed_headers(secret: &str, timestamp: i64, body: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(TIMESTAMP_HEADER, HeaderValue::from(timestamp));
    let signature = sign_generic(secret, timestamp, body);
    headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(&signature).unwrap());
    headers
}

fn verify_generic(secrets: &[SecretString], headers: &HeaderMap, body: &[u8]) -> Result<(), VerifyError> {
    let creds = InboundCredentials { webhook_secrets: secrets, inbound_tokens: &[] };
    verify(ChannelKind::Generic, &creds, headers, None, body, now())
}

fn verify_whaticket(headers: &HeaderMap, token: Option<&str>) -> Result<(), VerifyError> {
    let secrets = secrets(&["flavio-secret"]);
    let expected = SecretString::from("tok-123");
    let creds = InboundCredentials { webhook_secrets: &secrets, inbound_tokens: std::slice::from_ref(&expected) };
    verify(ChannelKind::Whaticket, &creds, headers, token, BODY, now())
}

fn flavio_signature(secret: &str, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

#[test]
fn sign_generic_produces_the_documented_format() {
    let signature = sign_generic("s3cret", 1_764_000_000, b"{}");
    let hex = signature.strip_prefix("sha256=").unwrap();
    assert_eq!(hex.len(), 64);
    assert!(hex.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)));
}

#[test]
fn a_valid_generic_signature_verifies() {
    let headers = signed_headers("s3cret", NOW, BODY);
    assert_eq!(verify_generic(&secrets(&["s3cret"]), &headers, BODY), Ok(()));
}

#[test]
fn the_second_of_two_secrets_verifies_during_rotation() {
    let headers = signed_headers("new-secret", NOW, BODY);
    assert_eq!(verify_generic(&secrets(&["old-secret", "new-secret"]), &headers, BODY), Ok(()));
}

#[test]
fn a_wrong_secret_is_a_bad_signature() {
    let headers = signed_headers("attacker", NOW, BODY);
    let result = verify_generic(&secrets(&["s3cret"]), &headers, BODY);
    assert_eq!(result, Err(VerifyError::BadSignature));
}

#[test]
fn no_active_secret_verifies_nothing() {
    let headers = signed_headers("s3cret", NOW, BODY);
    assert_eq!(verify_generic(&[], &headers, BODY), Err(VerifyError::BadSignature));
}

#[test]
fn a_tampered_body_is_a_bad_signature() {
    let headers = signed_headers("s3cret", NOW, BODY);
    let tampered = String::from_utf8_lossy(BODY).replace("Oi", "Ei");
    let result = verify_generic(&secrets(&["s3cret"]), &headers, tampered.as_bytes());
    assert_eq!(result, Err(VerifyError::BadSignature));
}

#[test]
fn timestamps_more_than_300_seconds_away_are_stale_both_ways() {
    for timestamp in [NOW - 301, NOW + 301] {
        let headers = signed_headers("s3cret", timestamp, BODY);
        let result = verify_generic(&secrets(&["s3cret"]), &headers, BODY);
        assert_eq!(result, Err(VerifyError::StaleTimestamp), "timestamp {timestamp}");
    }
    for timestamp in [NOW - 300, NOW + 300] {
        let headers = signed_headers("s3cret", timestamp, BODY);
        assert_eq!(verify_generic(&secrets(&["s3cret"]), &headers, BODY), Ok(()));
    }
}

#[test]
fn a_changed_timestamp_header_breaks_the_signature() {
    let mut headers = signed_headers("s3cret", NOW, BODY);
    headers.insert(TIMESTAMP_HEADER, HeaderValue::from(NOW + 1));
    let result = verify_generic(&secrets(&["s3cret"]), &headers, BODY);
    assert_eq!(result, Err(VerifyError::BadSignature));
}

#[test]
fn missing_signature_or_timestamp_headers_are_reported_as_missing() {
    for absent in [TIMESTAMP_HEADER, SIGNATURE_HEADER] {
        let mut headers = signed_headers("s3cret", NOW, BODY);
        headers.remove(absent);
        let result = verify_generic(&secrets(&["s3cret"]), &headers, BODY);
        assert_eq!(result, Err(VerifyError::MissingSignature), "without {absent}");
    }
}

#[test]
fn malformed_signature_headers_are_bad_signatures() {
    let valid = sign_generic("s3cret", NOW, BODY);
    let bare_hex = valid.trim_start_matches("sha256=").to_owned();
    for value in [bare_hex.as_str(), "sha256=not-hex-at-all", "sha256=abc", "sha1=00ff", ""] {
        let mut headers = signed_headers("s3cret", NOW, BODY);
        headers.insert(SIGNATURE_HEADER, HeaderValue::from_str(value).unwrap());
        let result = verify_generic(&secrets(&["s3cret"]), &headers, BODY);
        assert_eq!(result, Err(VerifyError::BadSignature), "header {value:?}");
    }
}

#[test]
fn a_non_numeric_timestamp_is_a_bad_signature() {
    let mut headers = signed_headers("s3cret", NOW, BODY);
    headers.insert(TIMESTAMP_HEADER, HeaderValue::from_static("yesterday"));
    let result = verify_generic(&secrets(&["s3cret"]), &headers, BODY);
    assert_eq!(result, Err(VerifyError::BadSignature));
}

#[test]
fn the_right_whaticket_token_verifies() {
    assert_eq!(verify_whaticket(&HeaderMap::new(), Some("tok-123")), Ok(()));
}

#[test]
fn a_wrong_or_prefixed_whaticket_token_is_rejected() {
    for token in ["tok-124", "tok-12", "tok-1234", ""] {
        let result = verify_whaticket(&HeaderMap::new(), Some(token));
        assert_eq!(result, Err(VerifyError::BadToken), "token {token:?}");
    }
}

#[test]
fn a_missing_whaticket_token_is_rejected() {
    assert_eq!(verify_whaticket(&HeaderMap::new(), None), Err(VerifyError::MissingToken));
}

#[test]
fn a_tenant_without_an_inbound_token_accepts_no_whaticket_webhook() {
    let creds = InboundCredentials { webhook_secrets: &[], inbound_tokens: &[] };
    let result = verify(ChannelKind::Whaticket, &creds, &HeaderMap::new(), Some(""), BODY, now());
    assert_eq!(result, Err(VerifyError::BadToken));
}

#[test]
fn a_valid_x_webhook_signature_verifies_with_or_without_prefix() {
    let hex = flavio_signature("flavio-secret", BODY);
    for value in [hex.clone(), format!("sha256={hex}")] {
        let mut headers = HeaderMap::new();
        headers.insert(WEBHOOK_SIGNATURE_HEADER, HeaderValue::from_str(&value).unwrap());
        assert_eq!(verify_whaticket(&headers, Some("tok-123")), Ok(()), "header {value}");
    }
}

#[test]
fn a_wrong_x_webhook_signature_fails_even_with_the_right_token() {
    let mut headers = HeaderMap::new();
    let forged = flavio_signature("other-secret", BODY);
    headers.insert(WEBHOOK_SIGNATURE_HEADER, HeaderValue::from_str(&forged).unwrap());
    assert_eq!(verify_whaticket(&headers, Some("tok-123")), Err(VerifyError::BadSignature));
}

#[test]
fn an_x_atende_signature_on_the_whaticket_route_uses_the_generic_scheme() {
    let headers = signed_headers("flavio-secret", NOW, BODY);
    assert_eq!(verify_whaticket(&headers, Some("tok-123")), Ok(()));

    let mut unsigned_time = signed_headers("flavio-secret", NOW, BODY);
    unsigned_time.remove(TIMESTAMP_HEADER);
    let result = verify_whaticket(&unsigned_time, Some("tok-123"));
    assert_eq!(result, Err(VerifyError::MissingSignature));
}

#[test]
fn during_a_token_rotation_either_token_opens_the_whaticket_route_and_no_other_does() {
    let tokens = [SecretString::from("old-token"), SecretString::from("new-token")];
    let creds = InboundCredentials { webhook_secrets: &[], inbound_tokens: &tokens };
    let check = |token: &str| verify(ChannelKind::Whaticket, &creds, &HeaderMap::new(), Some(token), BODY, now());
    assert_eq!(check("old-token"), Ok(()));
    assert_eq!(check("new-token"), Ok(()));
    assert_eq!(check("new-tokenX"), Err(VerifyError::BadToken));
    assert_eq!(check(""), Err(VerifyError::BadToken));
}
