//! The ticket client against a local wiremock Whaticket: login, session reuse, re-login on
//! an expired session, ticket search and notes, and that credentials never leak.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::*;
use crate::domain::ErrorClass;

const PASSWORD: &str = "s3nha-do-bot";

fn user(server: &MockServer) -> WhaticketUser {
    WhaticketUser { url: server.uri(), email: "bot@acme.com".into(), password: SecretString::from(PASSWORD) }
}

fn client() -> WhaticketClient {
    WhaticketClient::new(Duration::from_secs(5))
}

async fn mount_login(server: &MockServer, token: &str) {
    Mock::given(method("POST"))
        .and(path("/auth/login"))
        .and(body_json(json!({ "email": "bot@acme.com", "password": PASSWORD })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "token": token, "user": { "id": 3 } })))
        .mount(server)
        .await;
}

async fn count(server: &MockServer, verb: &str, wanted: &str) -> usize {
    let requests = server.received_requests().await.unwrap_or_default();
    requests.iter().filter(|r| r.method.as_str() == verb && r.url.path() == wanted).count()
}

fn transfer_body() -> Value {
    json!({ "queueId": 4, "userId": null, "status": "pending",
            "useIntegration": false, "integrationId": null, "chatbot": false })
}

#[tokio::test]
async fn a_transfer_logs_in_once_and_reuses_the_session() {
    let server = MockServer::start().await;
    mount_login(&server, "jwt-a").await;
    Mock::given(method("PUT"))
        .and(path("/tickets/55"))
        .and(header("authorization", "Bearer jwt-a"))
        .and(body_json(transfer_body()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": 55 })))
        .expect(2)
        .mount(&server)
        .await;
    let (client, user) = (client(), user(&server));
    client.transfer_ticket(&user, "55", 4).await.unwrap();
    // A clone shares the session cache.
    client.clone().transfer_ticket(&user, "55", 4).await.unwrap();
    assert_eq!(count(&server, "POST", "/auth/login").await, 1);
}

#[tokio::test]
async fn an_expired_session_is_renewed_once_and_the_call_retried() {
    let server = MockServer::start().await;
    let (client, user) = (client(), user(&server));
    mount_login(&server, "jwt-old").await;
    Mock::given(method("PUT"))
        .and(path("/tickets/9"))
        .and(header("authorization", "Bearer jwt-old"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": 9 })))
        .up_to_n_times(1)
        .mount(&server)
        .await;
    client.transfer_ticket(&user, "9", 4).await.unwrap();

    // The old token now expires: 403 with it, success with the new one.
    server.reset().await;
    mount_login(&server, "jwt-new").await;
    Mock::given(method("PUT"))
        .and(path("/tickets/9"))
        .and(header("authorization", "Bearer jwt-old"))
        .respond_with(ResponseTemplate::new(403).set_body_json(json!({ "error": "ERR_SESSION_EXPIRED" })))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/tickets/9"))
        .and(header("authorization", "Bearer jwt-new"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": 9 })))
        .mount(&server)
        .await;
    client.transfer_ticket(&user, "9", 4).await.unwrap();
    assert_eq!(count(&server, "POST", "/auth/login").await, 1);
    assert_eq!(count(&server, "PUT", "/tickets/9").await, 2);
}

#[tokio::test]
async fn a_refused_login_is_a_permanent_error_naming_the_keys_without_the_password() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/auth/login"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({ "error": format!("bad password {PASSWORD}") })))
        .mount(&server)
        .await;
    let err = client().transfer_ticket(&user(&server), "1", 4).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Permanent);
    let text = err.to_string();
    assert!(text.contains("user_email") && text.contains("user_password"), "{text}");
    assert!(!text.contains(PASSWORD) && !format!("{err:?}").contains(PASSWORD), "{text}");
    assert!(!format!("{:?}", user(&server)).contains(PASSWORD));
    assert_eq!(count(&server, "PUT", "/tickets/1").await, 0);
}

#[tokio::test]
async fn a_server_error_on_the_ticket_is_retryable_and_a_bad_ticket_id_sends_nothing() {
    let server = MockServer::start().await;
    mount_login(&server, "jwt-a").await;
    Mock::given(method("PUT"))
        .and(path("/tickets/7"))
        .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway"))
        .mount(&server)
        .await;
    let (client, user) = (client(), user(&server));
    let err = client.transfer_ticket(&user, "7", 4).await.unwrap_err();
    assert_eq!(err.class(), ErrorClass::Retryable, "{err}");
    let err = client.transfer_ticket(&user, "7/../../users", 4).await.unwrap_err();
    assert!(matches!(err, ChannelError::InvalidConfig(_)), "{err}");
    assert_eq!(count(&server, "PUT", "/tickets/7").await, 1);
}

#[tokio::test]
async fn the_open_ticket_of_the_contact_is_found_and_closed_or_foreign_ones_are_skipped() {
    let server = MockServer::start().await;
    mount_login(&server, "jwt-a").await;
    Mock::given(method("GET"))
        .and(path("/tickets"))
        .and(query_param("searchParam", "5511999999999"))
        .and(query_param("showAll", "true"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "tickets": [
            { "id": 1, "status": "closed", "contact": { "number": "5511999999999" } },
            { "id": 2, "status": "open", "contact": { "number": "5511888888888" } },
            { "id": 3, "status": "pending", "contact": { "number": "+55 11 99999-9999" } },
        ], "count": 3, "hasMore": false })))
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path("/tickets"))
        .and(query_param("searchParam", "5511777777777"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "tickets": [], "count": 0, "hasMore": false })))
        .mount(&server)
        .await;
    let (client, user) = (client(), user(&server));
    let contact = ContactNumber::parse("5511999999999").unwrap();
    assert_eq!(client.find_open_ticket(&user, &contact).await.unwrap().as_deref(), Some("3"));
    let nobody = ContactNumber::parse("5511777777777").unwrap();
    assert_eq!(client.find_open_ticket(&user, &nobody).await.unwrap(), None);
}

#[tokio::test]
async fn a_note_is_posted_where_the_fork_has_notes_and_a_404_means_it_has_none() {
    let server = MockServer::start().await;
    mount_login(&server, "jwt-a").await;
    Mock::given(method("POST"))
        .and(path("/ticket-notes"))
        .and(body_json(json!({ "note": "Cliente: Maria", "ticketId": 12, "contactId": 40 })))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": 1 })))
        .mount(&server)
        .await;
    let client = client();
    assert!(client.add_ticket_note(&user(&server), "12", Some("40"), "Cliente: Maria").await.unwrap());

    let bare = MockServer::start().await;
    mount_login(&bare, "jwt-b").await;
    Mock::given(method("POST"))
        .and(path("/ticket-notes"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({ "error": "Not found" })))
        .mount(&bare)
        .await;
    assert!(!client.add_ticket_note(&user(&bare), "12", None, "x").await.unwrap());
}
