//! Test fixtures shared by the adapter and chain tests.

use std::time::Duration;

use serde_json::{Value, json};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::{LlmChain, LlmSettings, Prompt, ProviderConfig, ProviderKind, RawReply, Role, Turn};

/// Generous timeout, 1 ms backoffs, breaker far from opening.
pub(super) fn settings() -> LlmSettings {
    LlmSettings {
        timeout: Duration::from_secs(5),
        max_attempts: 3,
        backoff_base: Duration::from_millis(1),
        backoff_max: Duration::from_millis(2),
        max_retry_delay: Duration::from_secs(1),
        breaker_failure_threshold: 50,
        breaker_open_for: Duration::from_secs(60),
    }
}

pub(super) fn chain() -> LlmChain {
    LlmChain::new(settings())
}

/// A prompt whose last two turns are both from the contact (a burst).
pub(super) fn prompt() -> Prompt {
    let turn = |role, text: &str| Turn { role, text: text.to_owned() };
    Prompt {
        system: "Você é o atendente da Loja Azul.".into(),
        turns: vec![
            turn(Role::User, "Oi"),
            turn(Role::Assistant, "Olá! Como posso ajudar?"),
            turn(Role::User, "Qual o horário"),
            turn(Role::User, "de sábado?"),
        ],
    }
}

pub(super) fn gemini(server: &MockServer) -> ProviderConfig {
    gemini_at(&server.uri())
}

pub(super) fn gemini_at(base_url: &str) -> ProviderConfig {
    ProviderConfig {
        kind: ProviderKind::Gemini,
        base_url: base_url.to_owned(),
        api_key: Some("gemini-key".into()),
        model: "gemini-2.5-flash".into(),
        temperature: Some(0.25),
        max_output_tokens: Some(256),
    }
}

/// Points at `{server}/v1/`, as an Ollama base URL would.
pub(super) fn openai(server: &MockServer) -> ProviderConfig {
    openai_at(&format!("{}/v1/", server.uri()))
}

pub(super) fn openai_at(base_url: &str) -> ProviderConfig {
    ProviderConfig {
        kind: ProviderKind::OpenAi,
        base_url: base_url.to_owned(),
        api_key: Some("sk-openai".into()),
        model: "llama3.1".into(),
        temperature: None,
        max_output_tokens: Some(128),
    }
}

pub(super) fn gemini_answer(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "candidates": [{
            "content": { "role": "model", "parts": [{ "text": text }] },
            "finishReason": "STOP",
            "index": 0
        }],
        "usageMetadata": { "promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15 }
    }))
}

pub(super) fn openai_answer(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{ "index": 0, "message": { "role": "assistant", "content": text }, "finish_reason": "stop" }],
        "usage": { "prompt_tokens": 21, "completion_tokens": 8, "total_tokens": 29 }
    }))
}

/// A Gemini error body, with a `RetryInfo` detail if `retry_delay` is given.
pub(super) fn gemini_error(code: u16, status: &str, retry_delay: Option<&str>) -> ResponseTemplate {
    let details: Vec<Value> = retry_delay
        .map(|delay| json!({ "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": delay }))
        .into_iter()
        .collect();
    ResponseTemplate::new(code).set_body_json(json!({
        "error": { "code": code, "message": "server says no", "status": status, "details": details }
    }))
}

/// Answers every POST with `response`, expecting exactly `times` requests.
pub(super) async fn mount(server: &MockServer, response: ResponseTemplate, times: u64) {
    Mock::given(method("POST")).respond_with(response).expect(times).mount(server).await;
}

/// The JSON body of the only request the server received.
pub(super) async fn only_request_body(server: &MockServer) -> (wiremock::Request, Value) {
    let mut requests = server.received_requests().await.expect("recording is on");
    assert_eq!(requests.len(), 1, "expected exactly one request");
    let request = requests.remove(0);
    let body = serde_json::from_slice(&request.body).expect("request body is JSON");
    (request, body)
}

/// A reply as `send` would return it, for error-body parsing tests.
pub(super) fn raw_reply(status: u16, body: &str) -> RawReply {
    let status = reqwest::StatusCode::from_u16(status).expect("valid status");
    RawReply { status, retry_after: None, body: body.as_bytes().to_vec() }
}
