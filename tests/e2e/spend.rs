//! Spend caps end to end: the tokens Gemini reports are priced with `[spend] prices`, the
//! reply that takes the day over `daily_cap` raises `spend.cap_reached` once, and from then
//! on the bot answers without calling the LLM (the fallback text, or a hand-off).

use atende::domain::JobKind;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::events::{received, subscription};
use crate::helpers::*;

const CONTACT: &str = "5511999999999";
const ANSWER: &str = "Abrimos às 8h.";

/// The mock Gemini reports 10 input and 5 output tokens per call: at 0.1 per token each
/// call costs 1.5, so the second call takes the day over a cap of 2.
fn spend(on_cap: &str) -> String {
    format!(
        "[spend]\ncurrency = \"BRL\"\ndaily_cap = 2.0\non_cap = \"{on_cap}\"\n\
         [spend.prices.\"gemini-2.0-flash\"]\ninput = 100000\noutput = 100000\n"
    )
}

async fn customer(app: &TestApp, id: &str, text: &str) {
    let response = app.post_generic(&generic(id, CONTACT, text)).await;
    assert_eq!(response.status(), 202, "{text}");
    app.drain().await;
}

fn texts(sent: &[serde_json::Value]) -> Vec<String> {
    sent.iter().map(|b| b["body"].as_str().unwrap_or_default().to_string()).collect()
}

on_each_backend!(
    past_the_daily_cap_the_bot_stops_calling_the_llm_and_says_so_once,
    past_80_percent_of_the_cap_a_warning_comes_first_and_once,
);

async fn past_80_percent_of_the_cap_a_warning_comes_first_and_once(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).and(path("/hook")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    // 1.5 per call against a cap of 3.5: 43%, 86% (warning), 129% (reached).
    let extra = spend("knowledge").replace("daily_cap = 2.0", "daily_cap = 3.5")
        + &subscription(&receiver, r#"["spend.cap_warning", "spend.cap_reached"]"#);
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &extra)).await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket_ok(&app.whaticket).await;

    customer(&app, "w1", "Que horas vocês abrem?").await;
    assert!(received(&receiver).await.is_empty(), "43% of the cap: nothing yet");
    customer(&app, "w2", "E aos sábados?").await;
    let events = received(&receiver).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].body["event"], "spend.cap_warning");
    let data = &events[0].body["data"];
    assert_eq!(
        (data["percent"].as_i64(), data["spent"].as_f64(), data["cap"].as_f64()),
        (Some(80), Some(3.0), Some(3.5))
    );
    customer(&app, "w3", "E no domingo?").await;
    let events = received(&receiver).await;
    let kinds: Vec<&str> = events.iter().map(|e| e.body["event"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["spend.cap_warning", "spend.cap_reached"], "the warning is not raised again");
    assert_eq!(events[1].body["data"]["percent"], 100);
    customer(&app, "w4", "Alô?").await;
    assert_eq!(received(&receiver).await.len(), 2, "once per period each");
    assert_eq!(app.llm_answer_requests().await.len(), 3, "no LLM call past the cap");
}

async fn past_the_daily_cap_the_bot_stops_calling_the_llm_and_says_so_once(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).and(path("/hook")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let extra = spend("knowledge") + &subscription(&receiver, r#"["spend.cap_reached"]"#);
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &extra)).await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket_ok(&app.whaticket).await;

    customer(&app, "s1", "Que horas vocês abrem?").await;
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    let day = atende::brain::spend_day(time::OffsetDateTime::now_utc());
    assert_eq!(app.store.llm_spend(tenant.id, &day).await.unwrap(), (1_500_000, 1_500_000));
    assert!(received(&receiver).await.is_empty(), "under the cap");

    customer(&app, "s2", "E aos sábados?").await;
    assert_eq!(app.llm_answer_requests().await.len(), 2);
    let events = received(&receiver).await;
    assert_eq!(events.len(), 1, "the call that crossed the cap raises it");
    let data = &events[0].body["data"];
    assert_eq!((data["period"].as_str(), data["currency"].as_str()), (Some("daily"), Some("BRL")), "{data}");
    assert_eq!((data["cap"].as_f64(), data["spent"].as_f64()), (Some(2.0), Some(3.0)), "{data}");

    customer(&app, "s3", "E no domingo?").await;
    customer(&app, "s4", "Alô?").await;
    assert_eq!(app.llm_answer_requests().await.len(), 2, "no LLM call past the cap");
    assert_eq!(texts(&app.sent().await), [ANSWER, ANSWER, FALLBACK_TEXT, FALLBACK_TEXT]);
    assert_eq!(received(&receiver).await.len(), 1, "raised once per period");
}

#[tokio::test]
async fn with_on_cap_handoff_the_customer_is_handed_to_a_person() {
    let app = spawn_app().await;
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &spend("handoff"))).await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket_ok(&app.whaticket).await;
    customer(&app, "h1", "Que horas vocês abrem?").await;
    customer(&app, "h2", "E aos sábados?").await;
    customer(&app, "h3", "E no domingo?").await;
    assert_eq!(app.llm_requests().await.len(), 2, "past the cap even the agent's summary is extractive");
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    let handoffs = app.store.list_jobs(tenant.id, JobKind::Handoff, 10).await.unwrap();
    assert_eq!(handoffs.len(), 1, "{handoffs:?}");
    let handoff = app.store.list_handoffs(tenant.id, 10).await.unwrap();
    assert_eq!(handoff[0].reason, "spend_cap");
}

#[tokio::test]
async fn the_agents_handoff_summary_is_counted_too() {
    let app = spawn_app().await;
    let prices = "[spend.prices.\"gemini-2.0-flash\"]\ninput = 100000\noutput = 100000\n";
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), prices)).await;
    mount_gemini(&app.llm, "Cliente quer falar com uma pessoa.").await;
    mount_whaticket_ok(&app.whaticket).await;
    customer(&app, "p1", "Quero falar com um atendente humano, por favor").await;
    assert_eq!(app.llm_requests().await.len(), 1, "only the summary called the LLM");
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    let day = atende::brain::spend_day(time::OffsetDateTime::now_utc());
    assert_eq!(app.store.llm_spend(tenant.id, &day).await.unwrap(), (1_500_000, 1_500_000));
}
