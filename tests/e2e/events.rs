//! Outbound events end to end: a mock receiver (wiremock) checks what n8n would, the
//! signature over `"{timestamp}.{body}"` with the subscription's secret, the headers and
//! the envelope; a refusing receiver gets the event again, with the same delivery id,
//! until it takes it; permanent refusals become dead letters that replay.

use std::time::Duration;

use atende::channel::sign_generic;
use atende::domain::{JobKind, JobState};
use atende::store::DeadLetterFilter;
use serde_json::Value;
use time::OffsetDateTime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::handoff::{handoff_tenant, mount_whaticket_tickets};
use crate::helpers::*;

const CONTACT: &str = "5511999999999";
const EVENT_SECRET: &str = "n8n-event-secret-7";

/// One request the receiver got, checked: signed with [`EVENT_SECRET`], headers agreeing
/// with the envelope.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) event: String,
    pub(crate) delivery: String,
    pub(crate) body: Value,
    pub(crate) raw: String,
}

pub(crate) async fn received(receiver: &MockServer) -> Vec<Received> {
    let requests = receiver.received_requests().await.unwrap_or_default();
    requests
        .iter()
        .map(|r| {
            let header = |name: &str| {
                r.headers.get(name).unwrap_or_else(|| panic!("missing {name}")).to_str().unwrap().to_string()
            };
            let timestamp: i64 = header("x-atende-timestamp").parse().expect("unix seconds");
            assert!((OffsetDateTime::now_utc().unix_timestamp() - timestamp).abs() < 300, "a fresh timestamp");
            assert_eq!(header("x-atende-signature"), sign_generic(EVENT_SECRET, timestamp, &r.body), "signature");
            assert_eq!(header("content-type"), "application/json");
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            let (event, delivery) = (header("x-atende-event"), header("x-atende-delivery"));
            assert_eq!(body["event"], event.as_str());
            assert_eq!(body["id"], delivery.as_str());
            assert_eq!(body["tenant"], "acme");
            Received { event, delivery, body, raw: String::from_utf8(r.body.clone()).unwrap() }
        })
        .collect()
}

pub(crate) fn subscription(receiver: &MockServer, events: &str) -> String {
    format!("[[events]]\nurl = \"{}/hook\"\nevents = {events}\nsecret = \"{EVENT_SECRET}\"\n", receiver.uri())
}

async fn customer(app: &TestApp, id: &str, text: &str) {
    let response = app.post_generic(&generic(id, CONTACT, text)).await;
    assert_eq!(response.status(), 202, "{text}");
}

async fn notify_jobs(app: &TestApp) -> Vec<atende::store::JobRecord> {
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    app.store.list_jobs(tenant.id, JobKind::Notify, 100).await.unwrap()
}

async fn events_are_signed_retried_then_delivered(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let receiver = MockServer::start().await;
    let events = r#"["message.received", "reply.sent"]"#;
    let extra = subscription(&receiver, events);
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &extra)).await;
    mount_gemini(&app.llm, "Abrimos às 8h.").await;
    mount_whaticket_ok(&app.whaticket).await;
    // The receiver is down for the first delivery, then takes everything.
    Mock::given(method("POST"))
        .and(path("/hook"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&receiver)
        .await;
    Mock::given(method("POST")).and(path("/hook")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;

    let response = app.post_generic(&generic("m1", CONTACT, "Qual o horário de vocês?")).await;
    assert_eq!(response.status(), 202);
    let answer: Value = response.json().await.unwrap();
    app.drain().await;

    let got = received(&receiver).await;
    let of = |event: &str| got.iter().filter(|r| r.event == event).cloned().collect::<Vec<_>>();
    let (inbound, replies) = (of("message.received"), of("reply.sent"));
    assert_eq!(got.len(), 3, "{got:?}");
    assert_eq!(inbound.len(), 2, "refused once, then delivered: {got:?}");
    assert_eq!(inbound[0].delivery, inbound[1].delivery, "one delivery id across attempts");
    assert_eq!(inbound[0].raw, inbound[1].raw, "the same body on every attempt");
    let data = &inbound[0].body["data"];
    assert_eq!((data["contact"].as_str(), data["text"].as_str()), (Some(CONTACT), Some("Qual o horário de vocês?")));
    assert_eq!(replies.len(), 1);
    assert_eq!(replies[0].body["data"]["text"], "Abrimos às 8h.");
    // Both events follow the message that caused them.
    assert_eq!(inbound[0].body["correlation_id"], answer["correlation_id"]);
    assert_eq!(replies[0].body["correlation_id"], answer["correlation_id"]);
    assert_ne!(inbound[0].delivery, replies[0].delivery);

    // The delivery log: both done, the first after a retry whose error is kept.
    let jobs = notify_jobs(&app).await;
    assert_eq!(jobs.len(), 2);
    assert!(jobs.iter().all(|j| j.state == JobState::Done), "{jobs:?}");
    let retried = jobs.iter().find(|j| j.payload["event"] == "message.received").unwrap();
    assert_eq!(retried.attempts, 2);
    assert!(retried.last_error.as_deref().unwrap_or_default().contains("503"), "{:?}", retried.last_error);
    assert!(!retried.payload.to_string().contains(EVENT_SECRET), "the secret is not stored in the job");
    // The recorder is shared by every test in this process: the series, not their counts.
    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains(r#"atende_events_total{event="message.received",outcome="failed"}"#), "{metrics}");
    assert!(metrics.contains(r#"atende_events_total{event="reply.sent",outcome="delivered"}"#), "{metrics}");
}

async fn a_refused_event_becomes_a_dead_letter_and_replays(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let receiver = MockServer::start().await;
    let extra = subscription(&receiver, r#"["message.received"]"#);
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &extra)).await;
    mount_gemini(&app.llm, "Olá!").await;
    mount_whaticket_ok(&app.whaticket).await;
    Mock::given(method("POST")).and(path("/hook")).respond_with(ResponseTemplate::new(410)).mount(&receiver).await;

    customer(&app, "m1", "Oi").await;
    app.drain().await;
    assert_eq!(received(&receiver).await.len(), 1, "a permanent refusal is not retried");
    let filter = DeadLetterFilter { tenant: Some("acme".into()), kind: Some(JobKind::Notify), limit: None };
    let dead = app.store.list_dead_letters(&filter).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].last_error.as_deref().unwrap_or_default().contains("410"), "{:?}", dead[0].last_error);
    // The customer was answered all the same.
    assert_eq!(app.sent().await.len(), 1);

    receiver.reset().await;
    Mock::given(method("POST")).and(path("/hook")).respond_with(ResponseTemplate::new(204)).mount(&receiver).await;
    assert!(app.store.replay_dead_letter(dead[0].id, OffsetDateTime::now_utc()).await.unwrap());
    app.drain().await;
    let got = received(&receiver).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].delivery, dead[0].payload["delivery_id"].as_str().unwrap());
    assert_eq!(app.store.find_job(dead[0].id).await.unwrap().unwrap().state, JobState::Done);
}

async fn handoff_and_sla_breach_raise_their_events(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let receiver = MockServer::start().await;
    let extra =
        format!("[handoff]\nsla_minutes = 10\n{}", subscription(&receiver, r#"["handoff.created", "sla.breached"]"#));
    app.apply_tenant(&handoff_tenant(&app, &extra)).await;
    mount_whaticket_tickets(&app.whaticket).await;
    Mock::given(method("POST")).and(path("/hook")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;

    customer(&app, "m1", "Quero falar com um atendente humano").await;
    app.drain().await; // a virtual day: past the SLA deadline
    app.drain().await; // and a replay of nothing: the breach is reported once

    let got = received(&receiver).await;
    let events: Vec<&str> = got.iter().map(|r| r.event.as_str()).collect();
    assert_eq!(events, ["handoff.created", "sla.breached"], "{got:?}");
    let handoff = &got[0].body["data"];
    assert_eq!(handoff["contact"], CONTACT);
    assert_eq!(handoff["reason"], "customer_asked");
    assert_eq!(handoff["transfer"], "moved");
    assert_eq!(handoff["ticket_id"], "123");
    assert!(handoff["summary"].as_str().unwrap().contains(CONTACT), "{handoff}");
    let breach = &got[1].body["data"];
    assert_eq!(breach["handoff_id"], handoff["handoff_id"]);
    assert_eq!(breach["sla_due_at"], handoff["sla_due_at"]);
    assert!(breach["sla_due_at"].as_str().is_some());
}

async fn a_dead_delivery_raises_dead_letter_created(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let receiver = MockServer::start().await;
    let extra = subscription(&receiver, r#"["*"]"#);
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &extra)).await;
    mount_gemini(&app.llm, "Olá!").await;
    // The helpdesk rejects the number for good.
    Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .respond_with(ResponseTemplate::new(400).set_body_json(serde_json::json!({ "error": "ERR_INVALID_NUMBER" })))
        .mount(&app.whaticket)
        .await;
    Mock::given(method("POST")).and(path("/hook")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;

    customer(&app, "m1", "Oi").await;
    app.drain().await;
    let got = received(&receiver).await;
    let events: Vec<&str> = got.iter().map(|r| r.event.as_str()).collect();
    assert_eq!(events, ["message.received", "dead_letter.created"], "{got:?}");
    let data = &got[1].body["data"];
    assert_eq!(data["kind"], "deliver");
    assert_eq!(data["error_class"], "permanent");
    assert!(data["error"].as_str().unwrap().contains("400"), "{data}");
}

on_each_backend!(
    events_are_signed_retried_then_delivered,
    a_refused_event_becomes_a_dead_letter_and_replays,
    handoff_and_sla_breach_raise_their_events,
    a_dead_delivery_raises_dead_letter_created,
);

#[tokio::test]
async fn strongly_negative_messages_raise_mood_negative_and_tenants_without_subscribers_queue_nothing() {
    let app = spawn_app().await;
    mount_gemini(&app.llm, "Sinto muito.").await;
    mount_whaticket_ok(&app.whaticket).await;
    customer(&app, "m0", "Isso é horrível, péssimo, estou furioso!").await;
    app.drain().await;
    assert!(notify_jobs(&app).await.is_empty(), "no [[events]]: no notify jobs");

    let receiver = MockServer::start().await;
    let extra = subscription(&receiver, r#"["mood.negative"]"#);
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &extra)).await;
    Mock::given(method("POST")).and(path("/hook")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    customer(&app, "m1", "Obrigada, vocês são ótimos!").await;
    customer(&app, "m2", "Que atendimento horrível, péssimo, estou furioso e decepcionado!").await;
    app.drain_from(OffsetDateTime::now_utc(), Duration::from_secs(3_600)).await;

    let got = received(&receiver).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].event, "mood.negative");
    assert!(got[0].body["data"]["text"].as_str().unwrap().contains("horrível"));
    assert!(got[0].body["data"]["sentiment"].as_f64().unwrap() <= -0.5);
}

#[tokio::test]
async fn a_removed_subscription_drops_its_queued_events() {
    let app = spawn_app().await;
    let receiver = MockServer::start().await;
    let extra = subscription(&receiver, r#"["message.received"]"#);
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &extra)).await;
    mount_gemini(&app.llm, "Olá!").await;
    mount_whaticket_ok(&app.whaticket).await;
    customer(&app, "m1", "Oi").await;
    // The tenant drops the receiver before the event goes out.
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), "")).await;
    app.drain().await;
    assert!(received(&receiver).await.is_empty());
    let jobs = notify_jobs(&app).await;
    assert_eq!(jobs.len(), 1);
    assert_eq!(jobs[0].state, JobState::Done);
}
