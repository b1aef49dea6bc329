//! The `reply` job: debounce and bursts, retries, fallbacks, context.

use std::time::Duration;

use serde_json::{Value, json};
use time::OffsetDateTime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::helpers::*;

on_each_backend!(
    a_burst_of_three_quick_messages_gets_one_reply_whose_prompt_holds_all_three,
    a_long_burst_is_answered_by_the_debounce_cap,
    the_next_prompt_carries_the_earlier_turns_of_the_conversation,
);

async fn a_burst_of_three_quick_messages_gets_one_reply_whose_prompt_holds_all_three(backend: Backend) {
    let app = spawn_app_on(&backend).await; // debounce 3 s (default)
    mount_gemini(&app.llm, "Claro! Segue o boleto.").await;
    mount_whaticket_ok(&app.whaticket).await;
    let start = OffsetDateTime::now_utc();
    for (i, text) in ["Oi", "preciso da segunda via", "do boleto de março"].iter().enumerate() {
        assert_eq!(app.post_generic(&generic(&format!("b{i}"), "5511999999999", text)).await.status(), 202);
    }

    // Inside the debounce window nothing runs.
    let early = app.drain_from(start, Duration::from_secs(1)).await;
    assert_eq!(early.jobs, 0);
    assert!(app.llm_requests().await.is_empty());

    app.drain().await;
    let requests = app.llm_requests().await;
    assert_eq!(requests.len(), 1, "one LLM call for the whole burst");
    assert_eq!(last_user_text(&requests[0]), "Oi\npreciso da segunda via\ndo boleto de março");
    assert_eq!(app.sent().await.len(), 1);
}

async fn a_long_burst_is_answered_by_the_debounce_cap(backend: Backend) {
    let app = spawn_app_on_with(&backend, |c| {
        c.queue.debounce = Duration::from_secs(10);
        c.queue.debounce_max = Duration::from_secs(12);
    })
    .await;
    app.post_generic(&generic("l1", "5511999999999", "primeira")).await;
    app.post_generic(&generic("l2", "5511999999999", "segunda")).await;
    let job = app.store.next_due().await.unwrap().unwrap();
    let first = OffsetDateTime::now_utc();
    assert!(job <= first + Duration::from_secs(12), "run_at {job} is past the 12 s cap");
    assert!(job >= first + Duration::from_secs(9), "run_at {job} ignores the 10 s window");
}

#[tokio::test]
async fn two_contacts_are_both_answered() {
    let app = spawn_app().await;
    mount_gemini(&app.llm, "Olá!").await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("a1", "5511911111111", "Oi")).await;
    app.post_generic(&generic("b1", "5521922222222", "Olá")).await;
    app.drain().await;
    let mut numbers: Vec<String> = app.sent().await.iter().map(|b| b["number"].as_str().unwrap().to_string()).collect();
    numbers.sort();
    assert_eq!(numbers, vec!["5511911111111", "5521922222222"]);
}

#[tokio::test]
async fn an_llm_503_twice_then_200_gives_one_reply() {
    let app = spawn_app().await;
    Mock::given(method("POST"))
        .and(path(GEMINI_PATH))
        .respond_with(gemini_error(503, "UNAVAILABLE"))
        .up_to_n_times(2)
        .mount(&app.llm)
        .await;
    mount_gemini(&app.llm, "Agora sim!").await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("r1", "5511999999999", "Oi")).await;
    app.drain().await;
    assert_eq!(app.llm_requests().await.len(), 3);
    assert_eq!(app.sent().await, vec![json!({ "number": "5511999999999", "body": "Agora sim!" })]);
}

#[tokio::test]
async fn an_llm_400_is_not_retried_and_the_customer_gets_the_fallback_text() {
    let app = spawn_app().await;
    Mock::given(method("POST"))
        .and(path(GEMINI_PATH))
        .respond_with(gemini_error(400, "INVALID_ARGUMENT"))
        .mount(&app.llm)
        .await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("f1", "5511999999999", "Oi")).await;
    app.drain().await;
    assert_eq!(app.llm_requests().await.len(), 1, "a 400 must not be retried");
    assert_eq!(app.sent().await, vec![json!({ "number": "5511999999999", "body": FALLBACK_TEXT })]);
}

#[tokio::test]
async fn a_blocked_prompt_is_not_retried_and_gets_the_fallback_text() {
    let app = spawn_app().await;
    let blocked = json!({ "promptFeedback": { "blockReason": "SAFETY" }, "usageMetadata": { "promptTokenCount": 3 } });
    Mock::given(method("POST"))
        .and(path(GEMINI_PATH))
        .respond_with(ResponseTemplate::new(200).set_body_json(blocked))
        .mount(&app.llm)
        .await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("s1", "5511999999999", "algo proibido")).await;
    app.drain().await;
    assert_eq!(app.llm_requests().await.len(), 1);
    assert_eq!(app.sent().await[0]["body"], FALLBACK_TEXT);
}

#[tokio::test]
async fn when_gemini_is_down_the_fallback_openai_compatible_provider_answers() {
    let app = spawn_app().await;
    Mock::given(method("POST"))
        .and(path(GEMINI_PATH))
        .respond_with(gemini_error(503, "UNAVAILABLE"))
        .mount(&app.llm)
        .await;
    let ollama = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "id": "c1", "object": "chat.completion", "created": 1, "model": "llama3",
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": "Resposta local" }, "finish_reason": "stop" }]
        })))
        .mount(&ollama)
        .await;
    mount_whaticket_ok(&app.whaticket).await;
    let extra = format!("[llm.fallback]\nprovider = \"openai\"\nbase_url = \"{}\"\nmodel = \"llama3\"\n", ollama.uri());
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), &extra)).await;

    app.post_generic(&generic("fb1", "5511999999999", "Oi")).await;
    app.drain().await;
    assert_eq!(app.llm_requests().await.len(), 3, "the primary's retries are spent first");
    assert_eq!(app.sent().await[0]["body"], "Resposta local");
    let local: Vec<Value> =
        ollama.received_requests().await.unwrap().iter().map(|r| serde_json::from_slice(&r.body).unwrap()).collect();
    assert_eq!(unfence(local[0]["messages"].as_array().unwrap().last().unwrap()["content"].as_str().unwrap()), "Oi");
}

async fn the_next_prompt_carries_the_earlier_turns_of_the_conversation(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    mount_gemini(&app.llm, "Abrimos às 8h.").await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("h1", "5511999999999", "Que horas vocês abrem?")).await;
    app.drain().await;
    app.post_generic(&generic("h2", "5511999999999", "E no sábado?")).await;
    app.drain().await;
    let second = &app.llm_requests().await[1];
    let contents = second["contents"].as_array().unwrap();
    let texts: Vec<(&str, String)> = contents
        .iter()
        .map(|c| (c["role"].as_str().unwrap(), unfence(c["parts"][0]["text"].as_str().unwrap())))
        .collect();
    let expected = [("user", "Que horas vocês abrem?"), ("model", "Abrimos às 8h."), ("user", "E no sábado?")];
    assert_eq!(texts, expected.map(|(r, t)| (r, t.to_string())));
    assert!(
        second["contents"][0]["parts"][0]["text"].as_str().unwrap().starts_with("<customer_message>"),
        "customer text is fenced"
    );
}

#[tokio::test]
async fn a_tenant_with_the_ai_off_stores_messages_and_stays_silent() {
    let app = spawn_app().await;
    mount_whaticket_ok(&app.whaticket).await;
    let toml =
        tenant_toml(&app.llm.uri(), &app.whaticket.uri(), "").replace("[persona]", "[persona]\nai_enabled = false");
    app.apply_tenant(&toml).await;
    assert_eq!(app.post_generic(&generic("off-1", "5511999999999", "Oi")).await.status(), 202);
    app.drain().await;
    assert!(app.sent().await.is_empty() && app.llm_requests().await.is_empty());
    assert!(app.conversation_exists("5511999999999").await);
}
