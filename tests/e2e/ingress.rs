//! Webhook ingress: statuses and bodies of protocols.md §7.3, and nothing stored on rejects.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::helpers::*;

on_each_backend!(
    a_signed_message_is_queued_and_answered_once_through_whaticket,
    a_duplicate_webhook_stores_nothing_and_sends_nothing_new,
    a_human_agent_message_pauses_the_bot_until_the_conversation_is_resumed,
);

async fn a_signed_message_is_queued_and_answered_once_through_whaticket(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    mount_gemini(&app.llm, "Abrimos das 8h às 18h.").await;
    mount_whaticket_ok(&app.whaticket).await;

    let response = app.post_generic(&generic("m1", "5511999999999", "Oi, qual o horário de vocês?")).await;
    assert_eq!(response.status(), 202);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["status"], "queued");
    assert!(body["message_id"].is_i64() && body["correlation_id"].is_string(), "{body}");

    app.drain().await;
    let sent = app.sent().await;
    assert_eq!(sent, vec![json!({ "number": "5511999999999", "body": "Abrimos das 8h às 18h." })]);
    let prompt = &app.llm_requests().await[0];
    assert_eq!(last_user_text(prompt), "Oi, qual o horário de vocês?");
    assert!(prompt["systemInstruction"]["parts"][0]["text"].as_str().unwrap().contains("ACME Ltda"));
    let request = &app.whaticket.received_requests().await.unwrap()[0];
    assert_eq!(request.headers.get("authorization").unwrap(), &format!("Bearer {WHATICKET_TOKEN}"));
}

async fn a_duplicate_webhook_stores_nothing_and_sends_nothing_new(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    mount_gemini(&app.llm, "Olá!").await;
    mount_whaticket_ok(&app.whaticket).await;
    let message = generic("dup-1", "5511999999999", "Oi");

    assert_eq!(app.post_generic(&message).await.status(), 202);
    let again = app.post_generic(&message).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), json!({ "status": "duplicate" }));

    app.drain().await;
    assert_eq!(app.sent().await.len(), 1);
    assert_eq!(app.llm_requests().await.len(), 1);
    // A duplicate arriving after the answer changes nothing either.
    assert_eq!(app.post_generic(&message).await.status(), 200);
    app.drain().await;
    assert_eq!(app.sent().await.len(), 1);
}

#[tokio::test]
async fn the_rotated_secret_is_accepted_as_well_as_the_current_one() {
    let app = spawn_app().await;
    let body = generic("rot-1", "5511999999999", "Oi").to_string();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    assert_eq!(app.post_signed("/webhook/acme/generic", "old-secret", now, body).await.status(), 202);
}

async fn assert_unauthorized_and_nothing_stored(app: &TestApp, response: reqwest::Response) -> Value {
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthorized", "{body}");
    assert!(!app.conversation_exists("5511999999999").await, "a rejected webhook stored data");
    body
}

#[tokio::test]
async fn bad_signatures_stale_timestamps_wrong_tokens_and_unknown_tenants_get_the_same_401() {
    let app = spawn_app().await;
    let body = generic("auth-1", "5511999999999", "Oi").to_string();
    let now = OffsetDateTime::now_utc().unix_timestamp();

    let bad = app.post_signed("/webhook/acme/generic", "wrong-secret", now, body.clone()).await;
    let bad = assert_unauthorized_and_nothing_stored(&app, bad).await;

    let stale = app.post_signed("/webhook/acme/generic", SECRET, now - 301, body.clone()).await;
    assert_unauthorized_and_nothing_stored(&app, stale).await;

    let unknown = app.post_signed("/webhook/nobody/generic", SECRET, now, body.clone()).await;
    let unknown = assert_unauthorized_and_nothing_stored(&app, unknown).await;
    assert_eq!(bad, unknown, "unknown tenants must be indistinguishable from bad signatures");

    let unsigned = app.client.post(app.url("/webhook/acme/generic")).body(body).send().await.unwrap();
    assert_unauthorized_and_nothing_stored(&app, unsigned).await;

    let raw: Value = serde_json::from_str(include_str!("../fixtures/whaticket/baileys_conversation.json")).unwrap();
    let wrong_token = app.post_whaticket("not-the-token", &raw).await;
    assert_unauthorized_and_nothing_stored(&app, wrong_token).await;
    let no_token = app.client.post(app.url("/webhook/acme/whaticket")).json(&raw).send().await.unwrap();
    assert_unauthorized_and_nothing_stored(&app, no_token).await;
}

#[tokio::test]
async fn malformed_json_and_invalid_fields_get_400_with_a_json_error() {
    let app = spawn_app().await;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    for body in ["{not json", r#"{"id":"x","from":"abc","text":"Oi","timestamp":1764000000}"#, r#"{"id":"x"}"#] {
        let response = app.post_signed("/webhook/acme/generic", SECRET, now, body.to_string()).await;
        assert_eq!(response.status(), 400, "{body}");
        let json: Value = response.json().await.unwrap();
        assert_eq!(json["error"]["code"], "invalid_payload");
        assert!(!json["error"]["message"].as_str().unwrap().is_empty());
    }
    assert!(!app.conversation_exists("5511999999999").await);
}

#[tokio::test]
async fn a_body_over_64_kib_gets_413_and_is_not_stored() {
    let app = spawn_app().await;
    let big = generic("big-1", "5511999999999", &"a".repeat(70 * 1024)).to_string();
    let now = OffsetDateTime::now_utc().unix_timestamp();
    let response = app.post_signed("/webhook/acme/generic", SECRET, now, big).await;
    assert_eq!(response.status(), 413);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "payload_too_large");
    assert!(!app.conversation_exists("5511999999999").await);
}

#[tokio::test]
async fn a_raw_baileys_message_with_the_inbound_token_is_answered_to_its_sender() {
    let app = spawn_app().await;
    mount_gemini(&app.llm, "Olá, Maria!").await;
    mount_whaticket_ok(&app.whaticket).await;
    let raw: Value = serde_json::from_str(include_str!("../fixtures/whaticket/baileys_conversation.json")).unwrap();

    let response = app.post_whaticket(TOKEN, &raw).await;
    assert_eq!(response.status(), 202);
    app.drain().await;
    assert_eq!(app.sent().await, vec![json!({ "number": "5511999999999", "body": "Olá, Maria!" })]);
}

#[tokio::test]
async fn groups_status_receipts_and_own_echoes_are_ignored_and_never_reach_the_llm() {
    let app = spawn_app().await;
    mount_gemini(&app.llm, "Resposta do bot").await;
    mount_whaticket_ok(&app.whaticket).await;
    for (fixture, reason) in [
        (include_str!("../fixtures/whaticket/baileys_group.json"), "group"),
        (include_str!("../fixtures/whaticket/baileys_status_broadcast.json"), "status_broadcast"),
        (include_str!("../fixtures/whaticket/baileys_protocol_message.json"), "receipt"),
        (include_str!("../fixtures/whaticket/baileys_from_me_marker.json"), "own_marker"),
    ] {
        let response = app.post_whaticket(TOKEN, &serde_json::from_str(fixture).unwrap()).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.json::<Value>().await.unwrap(), json!({ "status": "ignored", "reason": reason }));
    }
    // Our own answer coming back as `from_me` is an echo, not a human agent.
    app.post_generic(&generic("q-1", "5511988887777", "Oi")).await;
    app.drain().await;
    let mut echo = generic("echo-1", "5511988887777", "Resposta do bot");
    echo["from_me"] = json!(true);
    let response = app.post_generic(&echo).await;
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "status": "ignored", "reason": "own_echo" }));
    app.drain().await;
    assert_eq!(app.llm_requests().await.len(), 1, "only the customer's message reached the LLM");
}

async fn a_human_agent_message_pauses_the_bot_until_the_conversation_is_resumed(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    mount_gemini(&app.llm, "Resposta do bot").await;
    mount_whaticket_ok(&app.whaticket).await;
    let mut agent = generic("agent-1", "5511977776666", "Oi, aqui é a Ana, do suporte.");
    agent["from_me"] = json!(true);
    let response = app.post_generic(&agent).await;
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "status": "ignored", "reason": "human_agent" }));

    app.post_generic(&generic("c-1", "5511977776666", "Obrigada, Ana")).await;
    app.drain().await;
    assert!(app.sent().await.is_empty(), "the bot spoke over a human agent");
    assert!(app.llm_requests().await.is_empty());

    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    let resumed = app
        .store
        .mark_conversation_state(tenant.id, "5511977776666", atende::domain::ConversationState::Bot)
        .await
        .unwrap();
    assert!(resumed);
    app.post_generic(&generic("c-2", "5511977776666", "Vocês abrem sábado?")).await;
    app.drain().await;
    assert_eq!(app.sent().await.len(), 1);
    let prompt = &app.llm_requests().await[0];
    assert!(last_user_text(prompt).ends_with("Vocês abrem sábado?"), "{prompt}");
    assert_eq!(prompt["contents"][0]["role"], "model", "the agent's message is context on the business side");
}

#[tokio::test]
async fn too_many_requests_from_one_ip_get_429_with_retry_after() {
    let app = spawn_app_with(|c| {
        c.limits.per_ip_per_second = 1;
        c.limits.per_ip_burst = 2;
    })
    .await;
    let mut statuses = Vec::new();
    for i in 0..10 {
        let response = app.post_generic(&generic(&format!("rl-{i}"), "5511999999999", "Oi")).await;
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(response.headers().get("retry-after").is_some());
            assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "rate_limited");
        }
    }
    assert_eq!(statuses[..2], [202, 202], "{statuses:?}");
    assert!(statuses.contains(&429), "the burst of 2 was exceeded without a 429: {statuses:?}");
}

#[tokio::test]
async fn unknown_channels_and_routes_get_a_json_404() {
    let app = spawn_app().await;
    let response = app.client.post(app.url("/webhook/acme/telegram")).body("{}").send().await.unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "not_found");
}

/// Status code of a raw HTTP/1.1 response read from `stream` (its head is enough).
async fn response_status(stream: &mut tokio::net::TcpStream) -> u16 {
    use tokio::io::AsyncReadExt;
    let mut head = Vec::new();
    let mut buf = [0_u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(5), stream.read(&mut buf)).await.unwrap().unwrap();
        assert!(n > 0, "the connection closed before the response head");
        head.extend_from_slice(&buf[..n]);
    }
    let line = String::from_utf8_lossy(&head);
    line.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("no status in {line}"))
}

#[tokio::test]
async fn webhooks_over_max_in_flight_get_503_overloaded_store_nothing_and_succeed_when_retried() {
    use tokio::io::AsyncWriteExt;
    let app = spawn_app_with(|c| c.http.max_in_flight = 1).await;

    // A sender that is slow to send its body holds the only slot while its request is handled.
    let slow = generic("slow-1", "5511988887777", "Oi, tudo bem?").to_string();
    let ts = OffsetDateTime::now_utc().unix_timestamp();
    let head = format!(
        "POST /webhook/acme/generic HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n\
         x-atende-timestamp: {ts}\r\nx-atende-signature: {}\r\ncontent-length: {}\r\n\r\n",
        app.addr,
        atende::channel::sign_generic(SECRET, ts, slow.as_bytes()),
        slow.len()
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    let (first, rest) = slow.as_bytes().split_at(slow.len() / 2);
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(first).await.unwrap();

    // Wait (bounded) until the slow request holds the slot: probes with a wrong signature get
    // 401 while a slot is free and store nothing either way.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let probe =
            app.post_signed("/webhook/acme/generic", "wrong", ts, generic("probe", "5511900000000", "x").to_string());
        if probe.await.status() == 503 {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the slow request never held the slot");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }

    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap().id;
    let refused = app.post_generic(&generic("m-over", "5511977776666", "Quero falar do meu pedido")).await;
    assert_eq!(refused.status(), 503);
    assert_eq!(refused.headers().get("retry-after").unwrap(), "1");
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["error"]["code"], "overloaded", "{body}");
    assert!(
        app.store.find_conversation(tenant, "5511977776666").await.unwrap().is_none(),
        "a refused webhook stores nothing"
    );

    // The slow request completes normally and frees the slot; the sender's retry is accepted.
    stream.write_all(rest).await.unwrap();
    assert_eq!(response_status(&mut stream).await, 202);
    let retried = app.post_generic(&generic("m-over", "5511977776666", "Quero falar do meu pedido")).await;
    assert_eq!(retried.status(), 202, "the slot is free again");
    let conversation = app.store.find_conversation(tenant, "5511977776666").await.unwrap().unwrap();
    assert_eq!(app.store.list_messages(conversation.id).await.unwrap().len(), 1, "stored once, on the retry");
}
