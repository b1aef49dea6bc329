//! Tests of `whaticket_send.rs` against a wiremock Whaticket.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::json;
use wiremock::matchers::{body_json, header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::domain::ErrorClass;

const TOKEN: &str = "f3b0c1d2-9a8b-4c7d-8e6f-5a4b3c2d1e0f";

fn number() -> ContactNumber {
    ContactNumber::parse("5511999999999").unwrap()
}

fn creds(url: &str) -> WhaticketCredentials {
    WhaticketCredentials { url: url.to_owned(), token: SecretString::from(TOKEN) }
}

fn client() -> WhaticketClient {
    WhaticketClient::new(Duration::from_secs(2))
}

async fn server_answering(response: ResponseTemplate) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST")).and(path("/api/messages/send")).respond_with(response).mount(&server).await;
    server
}

async fn send_to(server: &MockServer) -> Result<(), ChannelError> {
    client().send_text(&creds(&server.uri()), &number(), "Olá!").await
}

#[tokio::test]
async fn posts_the_number_and_body_with_the_bearer_token() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .and(header("content-type", "application/json"))
        .and(body_json(json!({"number": "5511999999999", "body": "Olá! Em que posso ajudar?"})))
        .respond_with(ResponseTemplate::new(200))
        .expect(1)
        .mount(&server)
        .await;
    // A trailing slash on the configured root must not double up in the path.
    let creds = creds(&format!("{}/", server.uri()));
    let result = client().send_text(&creds, &number(), "Olá! Em que posso ajudar?").await;
    assert_eq!(result, Ok(()));
}

#[tokio::test]
async fn an_empty_200_is_success() {
    let server = server_answering(ResponseTemplate::new(200)).await;
    assert_eq!(send_to(&server).await, Ok(()));
}

#[tokio::test]
async fn a_saas_200_with_mensagem_is_success() {
    let body = json!({"mensagem": "Mensagem enviada"});
    let server = server_answering(ResponseTemplate::new(200).set_body_json(body)).await;
    assert_eq!(send_to(&server).await, Ok(()));
}

#[tokio::test]
async fn a_500_is_retryable_and_keeps_the_error_text() {
    let body = json!({"error": "Internal server error"});
    let server = server_answering(ResponseTemplate::new(500).set_body_json(body)).await;
    let error = send_to(&server).await.unwrap_err();
    assert_eq!(error, ChannelError::Http { status: 500, message: "Internal server error".into() });
    assert_eq!(error.class(), ErrorClass::Retryable);
}

#[tokio::test]
async fn a_401_is_permanent_and_never_carries_the_token() {
    let body = json!({"error": "Acesso não permitido"});
    let server = server_answering(ResponseTemplate::new(401).set_body_json(body)).await;
    let error = send_to(&server).await.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Permanent);
    assert_eq!(error.to_string(), "the channel answered HTTP 401: Acesso não permitido");
    assert!(!format!("{error:?}").contains(TOKEN));
}

#[tokio::test]
async fn a_token_echoed_in_an_error_body_is_redacted() {
    let body = json!({"message": format!("Invalid token {TOKEN}")});
    let server = server_answering(ResponseTemplate::new(403).set_body_json(body)).await;
    let error = send_to(&server).await.unwrap_err();
    assert_eq!(error, ChannelError::Http { status: 403, message: "Invalid token [redacted]".into() });
}

#[tokio::test]
async fn a_plain_text_error_body_is_kept_but_cut_short() {
    let body = "x".repeat(5_000);
    let server = server_answering(ResponseTemplate::new(400).set_body_string(body)).await;
    let ChannelError::Http { status: 400, message } = send_to(&server).await.unwrap_err() else {
        panic!("expected an HTTP error");
    };
    assert_eq!(message.chars().count(), MAX_ERROR_CHARS + 1, "cut plus an ellipsis");
}

#[tokio::test]
async fn a_slow_answer_is_a_retryable_timeout() {
    let slow = ResponseTemplate::new(200).set_delay(Duration::from_millis(500));
    let server = server_answering(slow).await;
    let client = WhaticketClient::new(Duration::from_millis(50));
    let error = client.send_text(&creds(&server.uri()), &number(), "Olá!").await.unwrap_err();
    assert_eq!(error, ChannelError::Timeout);
    assert_eq!(error.class(), ErrorClass::Retryable);
}

#[tokio::test]
async fn an_unreachable_server_is_a_retryable_connect_error() {
    // A port that was free a moment ago; wiremock servers are pooled, so dropping one is not enough.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let uri = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let error = client().send_text(&creds(&uri), &number(), "Olá!").await.unwrap_err();
    assert!(matches!(error, ChannelError::Connect(_)), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Retryable);
}

#[tokio::test]
async fn bad_urls_and_tokens_are_permanent_config_errors() {
    let cases = [
        ("ftp://helpdesk.example", TOKEN),
        ("not a url", TOKEN),
        ("", TOKEN),
        ("https://helpdesk.example", "  "),
        ("https://helpdesk.example", "line\nbreak"),
    ];
    for (url, token) in cases {
        let creds = WhaticketCredentials { url: url.into(), token: SecretString::from(token) };
        let error = client().send_text(&creds, &number(), "Olá!").await.unwrap_err();
        assert!(matches!(error, ChannelError::InvalidConfig(_)), "{url:?}: {error:?}");
        assert_eq!(error.class(), ErrorClass::Permanent);
    }
}
