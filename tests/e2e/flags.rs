//! Feature flags end to end: each switch changes what the running app does on the next
//! message, with no restart and no new tenant file, and unsetting it brings the tenant
//! file's behaviour back.

use atende::domain::{Flag, FlagValue, JobKind};
use serde_json::json;
use time::OffsetDateTime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::events::subscription;
use crate::helpers::*;

const CONTACT: &str = "5511999999999";
const ANSWER: &str = "Abrimos às 8h.";

async fn set(app: &TestApp, flag: Flag, value: Option<&str>) {
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    let value = value.map(|raw| flag.value(raw).unwrap());
    assert!(app.store.set_flag(tenant.id, flag, value, OffsetDateTime::now_utc()).await.unwrap());
}

async fn customer(app: &TestApp, id: &str, text: &str) {
    let response = app.post_generic(&generic(id, CONTACT, text)).await;
    assert_eq!(response.status(), 202, "{text}");
}

fn texts(sent: &[serde_json::Value]) -> Vec<String> {
    sent.iter().map(|b| b["body"].as_str().unwrap_or_default().to_string()).collect()
}

on_each_backend!(
    ai_off_silences_the_bot_at_once_and_unset_brings_it_back,
    flags_are_stored_per_key_and_survive_a_tenant_apply,
);

async fn ai_off_silences_the_bot_at_once_and_unset_brings_it_back(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), "")).await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket_ok(&app.whaticket).await;

    set(&app, Flag::Ai, Some("off")).await;
    customer(&app, "m1", "Que horas vocês abrem?").await;
    app.drain().await;
    assert!(app.llm_requests().await.is_empty() && app.sent().await.is_empty(), "silent while ai = off");

    set(&app, Flag::Ai, None).await;
    customer(&app, "m2", "Alguém aí?").await;
    app.drain().await;
    assert_eq!(texts(&app.sent().await), [ANSWER]);
}

async fn flags_are_stored_per_key_and_survive_a_tenant_apply(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let toml = tenant_toml(&app.llm.uri(), &app.whaticket.uri(), "");
    app.apply_tenant(&toml).await;
    set(&app, Flag::Csat, Some("off")).await;
    set(&app, Flag::LlmModel, Some("gemini-2.5-pro")).await;
    set(&app, Flag::Humour, Some("off")).await;
    set(&app, Flag::Humour, None).await;
    app.apply_tenant(&toml.replace("ACME Ltda", "ACME S.A.")).await;
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    assert_eq!(tenant.name, "ACME S.A.");
    assert_eq!(tenant.flags.get(Flag::Csat), Some(&FlagValue::Switch(false)));
    assert_eq!(tenant.flags.text(Flag::LlmModel), Some("gemini-2.5-pro"));
    assert_eq!(tenant.flags.get(Flag::Humour), None, "unset removes the key");
    assert_eq!(serde_json::to_value(&tenant.flags).unwrap(), json!({ "csat": false, "llm_model": "gemini-2.5-pro" }));
}

#[tokio::test]
async fn handoff_off_keeps_the_conversation_with_the_bot() {
    let app = spawn_app().await;
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), "")).await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket_ok(&app.whaticket).await;
    set(&app, Flag::Handoff, Some("off")).await;

    customer(&app, "m1", "Quero falar com um atendente humano, por favor").await;
    app.drain().await;
    assert_eq!(texts(&app.sent().await), [FALLBACK_TEXT], "the tenant's fallback text, not a hand-off");
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    assert!(app.store.list_jobs(tenant.id, JobKind::Handoff, 10).await.unwrap().is_empty());
    let conversation = app.store.find_conversation(tenant.id, CONTACT).await.unwrap().unwrap();
    assert_eq!(conversation.state, atende::domain::ConversationState::Bot);
}

#[tokio::test]
async fn csat_and_events_flags_stop_surveys_and_deliveries() {
    let app = spawn_app().await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).and(path("/hook")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let extra = format!("[csat]\nenabled = true\n{}", subscription(&receiver, r#"["*"]"#));
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &extra)).await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket_ok(&app.whaticket).await;
    set(&app, Flag::Csat, Some("off")).await;
    set(&app, Flag::Events, Some("off")).await;

    customer(&app, "m1", "Que horas vocês abrem?").await;
    app.drain().await;
    let closed = app.post_generic(&json!({ "event": "ticket.closed", "from": CONTACT })).await;
    let body: serde_json::Value = closed.json().await.unwrap();
    assert_eq!(body["csat"], "not_asked", "{body}");
    app.drain().await;
    assert_eq!(texts(&app.sent().await), [ANSWER], "no survey question");
    assert!(receiver.received_requests().await.unwrap().is_empty(), "no events while events = off");

    set(&app, Flag::Events, None).await;
    customer(&app, "m2", "Obrigado!").await;
    app.drain().await;
    let events: Vec<String> = crate::events::received(&receiver).await.into_iter().map(|r| r.event).collect();
    assert!(events.contains(&"message.received".to_string()), "{events:?}");
}

#[tokio::test]
async fn llm_flags_pick_the_provider_and_the_model() {
    let app = spawn_app().await;
    let fallback = MockServer::start().await;
    let extra =
        format!("[llm.fallback]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"llama3.1\"\n", fallback.uri());
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &extra)).await;
    Mock::given(method("POST"))
        .and(path("/v1beta/models/gemini-2.5-pro:generateContent"))
        .respond_with(gemini_text("Resposta do modelo escolhido."))
        .mount(&app.llm)
        .await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "c1", "object": "chat.completion", "model": "llama3.1",
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": "Resposta do fallback." },
                          "finish_reason": "stop" }]
        })))
        .mount(&fallback)
        .await;
    mount_whaticket_ok(&app.whaticket).await;

    set(&app, Flag::LlmModel, Some("gemini-2.5-pro")).await;
    customer(&app, "m1", "Que horas vocês abrem?").await;
    app.drain().await;
    assert_eq!(texts(&app.sent().await), ["Resposta do modelo escolhido."]);

    set(&app, Flag::LlmModel, None).await;
    set(&app, Flag::LlmProvider, Some("fallback")).await;
    customer(&app, "m2", "E aos sábados?").await;
    app.drain().await;
    assert_eq!(texts(&app.sent().await)[1], "Resposta do fallback.");
    let requests = fallback.received_requests().await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&requests[0].body).unwrap();
    assert_eq!(body["model"], "llama3.1");
}
