//! CSAT end to end: a closed ticket (or an idle conversation) gets the 1–5 question once,
//! the customer's next message is read as the rating (stored, thanked, `csat.received`,
//! the mean in `/metrics`) or, when it is not one, answered as usual; no survey after a
//! hand-off the customer was left waiting on, unless the tenant asks for it.

use atende::domain::ConversationState;
use atende::store::SurveyRecord;
use serde_json::{Value, json};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::events::{received, subscription};
use crate::handoff::{handoff_tenant, mount_whaticket_tickets};
use crate::helpers::*;

const CONTACT: &str = "5511999999999";
const QUESTION: &str = "De 1 a 5, que nota você dá ao nosso atendimento?";
const ANSWER: &str = "Abrimos às 8h.";

fn csat(extra: &str) -> String {
    format!("[csat]\nenabled = true\ntext = \"{QUESTION}\"\n{extra}\n")
}

async fn customer(app: &TestApp, id: &str, text: &str) {
    let response = app.post_generic(&generic(id, CONTACT, text)).await;
    assert_eq!(response.status(), 202, "{text}");
}

async fn close_ticket(app: &TestApp) -> Value {
    let closed = json!({ "event": "ticket.closed", "from": CONTACT, "ticket_id": "123" });
    let response = app.post_generic(&closed).await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

async fn texts(app: &TestApp) -> Vec<String> {
    app.sent().await.iter().map(|b| b["body"].as_str().unwrap_or_default().to_string()).collect()
}

async fn surveys(app: &TestApp) -> Vec<SurveyRecord> {
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    app.store.list_surveys(tenant.id, 10).await.unwrap()
}

async fn state(app: &TestApp) -> ConversationState {
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    app.store.find_conversation(tenant.id, CONTACT).await.unwrap().unwrap().state
}

async fn a_closed_ticket_is_surveyed_once_and_the_rating_is_recorded(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let receiver = MockServer::start().await;
    Mock::given(method("POST")).and(path("/hook")).respond_with(ResponseTemplate::new(200)).mount(&receiver).await;
    let extra = csat("") + &subscription(&receiver, r#"["csat.received"]"#);
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &extra)).await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket_ok(&app.whaticket).await;

    customer(&app, "m1", "Que horas vocês abrem?").await;
    app.drain().await;
    assert_eq!(texts(&app).await, [ANSWER]);

    let closed = close_ticket(&app).await;
    assert_eq!(closed["status"], "closed");
    assert_eq!(closed["csat"], "asked", "{closed}");
    // A repeated close event asks nothing more.
    assert_eq!(close_ticket(&app).await["csat"], "not_asked");
    app.drain().await;
    assert_eq!(texts(&app).await, [ANSWER, QUESTION]);
    let asked = surveys(&app).await;
    assert_eq!(asked.len(), 1);
    assert_eq!((asked[0].reason.as_str(), asked[0].rating), ("closed", None));

    let llm_calls = app.llm_requests().await.len();
    customer(&app, "m2", "nota 4").await;
    app.drain().await;
    assert_eq!(texts(&app).await.last().map(String::as_str), Some("Obrigado pela sua avaliação!"));
    assert_eq!(app.llm_requests().await.len(), llm_calls, "a rating needs no LLM");
    let rated = &surveys(&app).await[0];
    assert_eq!(rated.rating, Some(4));
    assert_eq!(rated.answer.as_deref(), Some("nota 4"));
    assert!(rated.answered_at.is_some());

    let events = received(&receiver).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0].event, "csat.received");
    assert_eq!(events[0].body["data"]["rating"], 4);
    assert_eq!(events[0].body["data"]["contact"], CONTACT);

    // The rating ends the surveyed ticket: its close event asks nothing, and the next
    // question is answered as usual in a fresh ticket.
    assert_eq!(state(&app).await, ConversationState::Closed);
    assert_eq!(close_ticket(&app).await["csat"], "not_asked");
    customer(&app, "m3", "E aos sábados?").await;
    app.drain().await;
    assert_eq!(texts(&app).await.last().map(String::as_str), Some(ANSWER));
    assert_eq!(app.llm_requests().await.len(), llm_calls + 1);
    assert_eq!(surveys(&app).await.len(), 1, "never asked twice for one ticket");

    let metrics = app.client.get(app.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("atende_csat_mean{tenant=\"acme\"} 4"), "{metrics}");
    assert!(metrics.contains("atende_csat_ratings{tenant=\"acme\"} 1"), "{metrics}");
    assert!(metrics.contains("atende_csat_responses_total{"), "{metrics}");
    assert!(metrics.contains("atende_csat_surveys_total{"), "{metrics}");
}

async fn a_reply_that_is_not_a_rating_dismisses_the_survey_and_is_answered(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &csat(""))).await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket_ok(&app.whaticket).await;

    customer(&app, "m1", "Oi, vocês entregam?").await;
    app.drain().await;
    assert_eq!(close_ticket(&app).await["csat"], "asked");
    app.drain().await;

    customer(&app, "m2", "Qual o prazo de entrega para Campinas?").await;
    app.drain().await;
    assert_eq!(texts(&app).await.last().map(String::as_str), Some(ANSWER));
    let survey = &surveys(&app).await[0];
    assert_eq!(survey.rating, None);
    assert!(survey.dismissed_at.is_some(), "{survey:?}");
    // Later numbers are just messages: the survey no longer waits for them.
    let llm_calls = app.llm_requests().await.len();
    customer(&app, "m3", "5").await;
    app.drain().await;
    assert_eq!(app.llm_requests().await.len(), llm_calls + 1);
    assert_eq!(surveys(&app).await[0].rating, None);
}

async fn an_idle_conversation_is_closed_and_surveyed_once(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &csat("idle_minutes = 30"))).await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket_ok(&app.whaticket).await;

    customer(&app, "m1", "Que horas vocês abrem?").await;
    // The answer, then 30 quiet (virtual) minutes: the conversation closes with the question.
    app.drain().await;
    assert_eq!(texts(&app).await, [ANSWER, QUESTION]);
    assert_eq!(state(&app).await, ConversationState::Closed);
    let asked = surveys(&app).await;
    assert_eq!((asked.len(), asked[0].reason.as_str()), (1, "idle"));
    // Neither more idle time nor the helpdesk's close event asks again.
    app.drain().await;
    assert_eq!(close_ticket(&app).await["csat"], "not_asked");
    app.drain().await;
    assert_eq!(texts(&app).await.len(), 2);

    customer(&app, "m2", "⭐⭐⭐⭐⭐").await;
    app.drain().await;
    assert_eq!(surveys(&app).await[0].rating, Some(5));
    assert_eq!(texts(&app).await.len(), 3, "the thanks, and no second survey after it");
}

async fn a_conversation_still_talking_is_not_closed_as_idle(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &csat("idle_minutes = 30"))).await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket_ok(&app.whaticket).await;

    customer(&app, "m1", "Que horas vocês abrem?").await;
    // Only ten minutes pass: the conversation stays open.
    let start = time::OffsetDateTime::now_utc();
    app.drain_from(start, std::time::Duration::from_secs(600)).await;
    assert_eq!(texts(&app).await, [ANSWER]);
    assert_eq!(state(&app).await, ConversationState::Bot);
    assert!(surveys(&app).await.is_empty());
}

async fn no_survey_after_a_handoff_nobody_answered_unless_configured(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    app.apply_tenant(&handoff_tenant(&app, &csat(""))).await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket_tickets(&app.whaticket).await;

    // The customer gave up waiting for a person: no survey.
    customer(&app, "m1", "Quero falar com um atendente").await;
    app.drain().await;
    assert_eq!(close_ticket(&app).await["csat"], "not_asked");
    app.drain().await;
    assert!(surveys(&app).await.is_empty());

    // A person answered this time: the customer is asked about the service.
    customer(&app, "m2", "Quero falar com um atendente de novo").await;
    app.drain().await;
    let mut agent = generic("a1", CONTACT, "Olá, sou a Ana. Como posso ajudar?");
    agent["from_me"] = json!(true);
    assert_eq!(app.post_generic(&agent).await.status(), 200);
    assert_eq!(close_ticket(&app).await["csat"], "asked");
    app.drain().await;
    assert_eq!(texts(&app).await.last().map(String::as_str), Some(QUESTION));

    // And with `after_abandoned_handoff`, even a hand-off left waiting is surveyed.
    app.apply_tenant(&handoff_tenant(&app, &csat("after_abandoned_handoff = true"))).await;
    customer(&app, "m3", "Quero falar com um atendente, por favor").await;
    app.drain().await;
    assert_eq!(close_ticket(&app).await["csat"], "asked");
    assert_eq!(surveys(&app).await.len(), 2);
}

on_each_backend!(
    a_closed_ticket_is_surveyed_once_and_the_rating_is_recorded,
    a_reply_that_is_not_a_rating_dismisses_the_survey_and_is_answered,
    an_idle_conversation_is_closed_and_surveyed_once,
    a_conversation_still_talking_is_not_closed_as_idle,
    no_survey_after_a_handoff_nobody_answered_unless_configured,
);

#[tokio::test]
async fn without_csat_a_closed_ticket_gets_no_question() {
    let app = spawn_app().await;
    mount_gemini(&app.llm, ANSWER).await;
    mount_whaticket_ok(&app.whaticket).await;
    customer(&app, "m1", "Que horas vocês abrem?").await;
    app.drain().await;
    assert_eq!(close_ticket(&app).await["csat"], "not_asked");
    app.drain().await;
    assert_eq!(texts(&app).await, [ANSWER]);
    assert!(surveys(&app).await.is_empty());
}
