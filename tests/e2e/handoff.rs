//! Hand-off to a person, end to end: the customer hears the hand-off text with the wait,
//! the Whaticket ticket moves to the human queue through a logged-in user session, the bot
//! stays silent while a person holds the conversation, and it comes back on the resume
//! command, a closed ticket or an idle person; the SLA counts a breach once.

use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

const CONTACT: &str = "5511999999999";
const BOT_EMAIL: &str = "bot@acme.com";
const BOT_PASSWORD: &str = "bot-user-pass-9";
const JWT: &str = "jwt-session-1";

/// The test tenant with a Whaticket bot user (queue 7) and `handoff` TOML.
pub(crate) fn handoff_tenant(app: &TestApp, handoff: &str) -> String {
    tenant_toml(&app.llm.uri(), &app.whaticket.uri(), handoff).replace(
        &format!("token = \"{WHATICKET_TOKEN}\""),
        &format!(
            "token = \"{WHATICKET_TOKEN}\"\nuser_email = \"{BOT_EMAIL}\"\nuser_password = \"{BOT_PASSWORD}\"\nhandoff_queue_id = 7"
        ),
    )
}

/// Login, ticket update and a fork without notes (404), plus the send API.
pub(crate) async fn mount_whaticket_tickets(server: &MockServer) {
    mount_whaticket_ok(server).await;
    Mock::given(method("POST"))
        .and(path("/auth/login"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "token": JWT, "user": { "id": 9 } })))
        .mount(server)
        .await;
    Mock::given(method("PUT"))
        .and(path("/tickets/123"))
        .and(header("authorization", format!("Bearer {JWT}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "id": 123, "status": "pending", "queueId": 7 })))
        .mount(server)
        .await;
    Mock::given(method("POST"))
        .and(path("/ticket-notes"))
        .respond_with(ResponseTemplate::new(404).set_body_json(json!({ "error": "Not found" })))
        .mount(server)
        .await;
}

async fn requests(server: &MockServer, verb: &str, wanted: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.method.as_str() == verb && r.url.path() == wanted)
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

fn texts(sent: &[Value]) -> Vec<String> {
    sent.iter().map(|b| b["body"].as_str().unwrap_or_default().to_string()).collect()
}

async fn customer(app: &TestApp, id: &str, text: &str) {
    let response = app.post_generic(&generic(id, CONTACT, text)).await;
    assert_eq!(response.status(), 202, "{text}");
}

async fn agent(app: &TestApp, id: &str, text: &str) -> Value {
    let mut body = generic(id, CONTACT, text);
    body["from_me"] = json!(true);
    let response = app.post_generic(&body).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn handoffs(app: &TestApp) -> Vec<atende::store::HandoffRecord> {
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    app.store.list_handoffs(tenant.id, 10).await.unwrap()
}

async fn state(app: &TestApp) -> atende::domain::ConversationState {
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    app.store.find_conversation(tenant.id, CONTACT).await.unwrap().unwrap().state
}

async fn a_handoff_moves_the_ticket_to_the_human_queue_and_silences_the_bot(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    app.apply_tenant(&handoff_tenant(&app, "[handoff]\nsla_minutes = 15\n")).await;
    mount_gemini(&app.llm, "Maria quer falar com uma pessoa sobre um pedido atrasado.").await;
    mount_whaticket_tickets(&app.whaticket).await;

    customer(&app, "m1", "Quero falar com um atendente humano, por favor").await;
    // A minute of virtual time: the hand-off's jobs, not its SLA deadline.
    app.drain_from(OffsetDateTime::now_utc(), Duration::from_secs(60)).await;

    let sent = texts(&app.sent().await);
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].contains("atendente humano") && sent[0].contains("até 15 minutos"), "{sent:?}");
    let logins = requests(&app.whaticket, "POST", "/auth/login").await;
    assert_eq!(logins, vec![json!({ "email": BOT_EMAIL, "password": BOT_PASSWORD })]);
    let moves = requests(&app.whaticket, "PUT", "/tickets/123").await;
    assert_eq!(moves.len(), 1);
    assert_eq!(
        moves[0],
        json!({ "queueId": 7, "userId": null, "status": "pending",
                "useIntegration": false, "integrationId": null, "chatbot": false })
    );
    let records = handoffs(&app).await;
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!((record.reason.as_str(), record.transfer.as_deref()), ("customer_asked", Some("moved")));
    assert_eq!(record.ticket_id.as_deref(), Some("123"));
    assert_eq!(record.summary.as_deref(), Some("Maria quer falar com uma pessoa sobre um pedido atrasado."));
    let due = record.sla_due_at.expect("an SLA target");
    assert_eq!(due - record.created_at, time::Duration::minutes(15));
    // The summary prompt carried the customer's words, fenced.
    let summary_prompt = app.llm_requests().await.last().cloned().unwrap();
    assert!(summary_prompt.to_string().contains("Quero falar com um atendente humano"), "{summary_prompt}");
    assert_eq!(state(&app).await, atende::domain::ConversationState::Human);

    // While a person holds the conversation the bot neither calls the LLM nor answers.
    let llm_calls = app.llm_requests().await.len();
    customer(&app, "m2", "Alguém aí?").await;
    app.drain_from(OffsetDateTime::now_utc(), Duration::from_secs(60)).await;
    assert_eq!(app.sent().await.len(), 1);
    assert_eq!(app.llm_requests().await.len(), llm_calls);
}

async fn the_sla_breach_is_counted_once_and_the_waiting_customer_gets_one_update(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    app.apply_tenant(&handoff_tenant(&app, "[handoff]\nsla_minutes = 10\nsla_breach_text = \"Ainda estamos aqui!\"\n"))
        .await;
    mount_whaticket_tickets(&app.whaticket).await;

    customer(&app, "m1", "atendente").await;
    app.drain().await; // runs the SLA job too: the virtual clock passes the deadline
    let sent = texts(&app.sent().await);
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[1], "Ainda estamos aqui!");
    let record = handoffs(&app).await.remove(0);
    assert!(record.breached_at.is_some() && record.first_human_at.is_none());
    // No LLM: the summary is extractive, for the person who takes over.
    let summary = record.summary.unwrap();
    assert!(summary.contains(&format!("Cliente: Maria ({CONTACT})")), "{summary}");
    assert!(summary.contains("o cliente pediu um atendente"), "{summary}");

    app.drain().await;
    assert_eq!(app.sent().await.len(), 2, "a breach is reported once");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("atende_handoff_sla_breaches_total{tenant=\"acme\"}"), "{metrics}");
}

async fn a_person_answering_in_time_meets_the_sla(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    app.apply_tenant(&handoff_tenant(&app, "[handoff]\nsla_minutes = 10\n")).await;
    mount_whaticket_tickets(&app.whaticket).await;

    customer(&app, "m1", "atendente").await;
    app.drain_from(OffsetDateTime::now_utc(), Duration::from_secs(60)).await;
    assert_eq!(agent(&app, "a1", "Oi Maria, aqui é a Ana. Como posso ajudar?").await["reason"], "human_agent");
    app.drain().await;

    let record = handoffs(&app).await.remove(0);
    assert!(record.first_human_at.is_some() && record.breached_at.is_none(), "{record:?}");
    assert_eq!(app.sent().await.len(), 1, "no SLA update when a person answered");
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("atende_handoff_sla_seconds_count{tenant=\"acme\"}"), "{metrics}");
}

async fn a_persons_message_pauses_the_bot_and_the_resume_command_gives_it_back(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    mount_gemini(&app.llm, "Abrimos às 8h.").await;
    mount_whaticket_ok(&app.whaticket).await;

    customer(&app, "m1", "Qual o horário?").await;
    app.drain().await;
    assert_eq!(app.sent().await.len(), 1);

    assert_eq!(agent(&app, "a1", "Deixa comigo, Maria.").await["reason"], "human_agent");
    customer(&app, "m2", "Obrigada! E aos sábados?").await;
    app.drain().await;
    assert_eq!(app.sent().await.len(), 1, "the bot is silent while a person answers");

    assert_eq!(agent(&app, "a2", "#bot").await["reason"], "resume_command");
    assert_eq!(state(&app).await, atende::domain::ConversationState::Bot);
    customer(&app, "m3", "E no domingo?").await;
    app.drain().await;
    let sent = app.sent().await;
    assert_eq!(sent.len(), 2, "the bot answers again: {sent:?}");
    // The message the person was handling is not answered by the bot after the fact.
    assert_eq!(last_user_text(app.llm_requests().await.last().unwrap()), "E no domingo?");
}

async fn a_closed_ticket_gives_the_next_message_to_the_bot_without_a_new_handoff(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    app.apply_tenant(&handoff_tenant(&app, "")).await;
    mount_gemini(&app.llm, "Funcionamos das 8h às 18h.").await;
    mount_whaticket_tickets(&app.whaticket).await;

    customer(&app, "m1", "Quero falar com um atendente").await;
    app.drain().await;
    assert_eq!(handoffs(&app).await.len(), 1);

    let closed = json!({ "event": "ticket.closed", "from": CONTACT, "ticket_id": "123" });
    let response = app.post_generic(&closed).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "closed");
    assert!(handoffs(&app).await[0].closed_at.is_some());

    customer(&app, "m2", "Qual o horário de vocês?").await;
    app.drain().await;
    let sent = texts(&app.sent().await);
    assert_eq!(sent.last().map(String::as_str), Some("Funcionamos das 8h às 18h."), "{sent:?}");
    assert_eq!(handoffs(&app).await.len(), 1, "no new hand-off");
    assert_eq!(requests(&app.whaticket, "PUT", "/tickets/123").await.len(), 1);
}

#[tokio::test]
async fn a_whaticket_ticket_closed_event_closes_the_conversation() {
    let app = spawn_app().await;
    mount_whaticket_tickets(&app.whaticket).await;
    customer(&app, "m1", "atendente").await;
    app.drain().await;
    assert_eq!(state(&app).await, atende::domain::ConversationState::Human);

    let event = json!({ "event": "ticket.closed", "timestamp": OffsetDateTime::now_utc().unix_timestamp(),
                        "payload": { "id": 123, "status": "closed", "contact": { "number": CONTACT, "name": "Maria" } } });
    let response = app.post_whaticket(TOKEN, &event).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "closed");
    assert_eq!(state(&app).await, atende::domain::ConversationState::Closed);

    // Other ticket updates are ignored.
    let update = json!({ "event": "ticket.updated", "payload": { "id": 123, "status": "open", "contact": { "number": CONTACT } } });
    let response = app.post_whaticket(TOKEN, &update).await;
    assert_eq!(response.json::<Value>().await.unwrap()["status"], "ignored");
    assert_eq!(state(&app).await, atende::domain::ConversationState::Closed);
}

async fn an_idle_person_gives_the_conversation_back_to_the_bot(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    app.apply_tenant(&handoff_tenant(&app, "[handoff]\nresume_after_idle_minutes = 30\n")).await;
    mount_gemini(&app.llm, "Posso ajudar sim!").await;
    mount_whaticket_tickets(&app.whaticket).await;
    let start = OffsetDateTime::now_utc();

    customer(&app, "m1", "atendente").await;
    app.drain_from(start, Duration::from_secs(60)).await;
    let llm_calls = app.llm_requests().await.len();
    // Ten minutes later nobody answered yet: still the person's conversation.
    customer(&app, "m2", "Oi?").await;
    app.drain_from(start + time::Duration::minutes(10), Duration::from_secs(60)).await;
    assert_eq!(app.sent().await.len(), 1);
    assert_eq!(app.llm_requests().await.len(), llm_calls);
    // Past the idle period the bot takes it back and answers.
    customer(&app, "m3", "Vocês entregam em Campinas?").await;
    app.drain_from(start + time::Duration::minutes(31), Duration::from_secs(60)).await;
    let sent = texts(&app.sent().await);
    assert_eq!(sent.last().map(String::as_str), Some("Posso ajudar sim!"), "{sent:?}");
    assert_eq!(state(&app).await, atende::domain::ConversationState::Bot);
    assert!(handoffs(&app).await[0].closed_at.is_some());
}

#[tokio::test]
async fn a_person_who_wrote_recently_is_not_idle() {
    let app = spawn_app().await;
    app.apply_tenant(&handoff_tenant(&app, "[handoff]\nresume_after_idle_minutes = 30\n")).await;
    mount_gemini(&app.llm, "Posso ajudar sim!").await;
    mount_whaticket_tickets(&app.whaticket).await;
    let start = OffsetDateTime::now_utc();

    customer(&app, "m1", "atendente").await;
    app.drain_from(start, Duration::from_secs(60)).await;
    // The person wrote just now (real clock), long after the hand-off's virtual time.
    agent(&app, "a1", "Estou verificando, um momento.").await;
    customer(&app, "m2", "Ok, aguardo").await;
    app.drain_from(OffsetDateTime::now_utc() + time::Duration::minutes(5), Duration::from_secs(60)).await;
    assert_eq!(app.sent().await.len(), 1, "the bot stays silent");
    assert_eq!(state(&app).await, atende::domain::ConversationState::Human);
}

on_each_backend!(
    a_handoff_moves_the_ticket_to_the_human_queue_and_silences_the_bot,
    the_sla_breach_is_counted_once_and_the_waiting_customer_gets_one_update,
    a_person_answering_in_time_meets_the_sla,
    a_persons_message_pauses_the_bot_and_the_resume_command_gives_it_back,
    a_closed_ticket_gives_the_next_message_to_the_bot_without_a_new_handoff,
    an_idle_person_gives_the_conversation_back_to_the_bot,
);
