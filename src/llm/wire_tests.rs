//! Each adapter against a wiremock server, through `LlmChain`: the exact request sent (path,
//! auth header, JSON body) and how the answer maps to a `Completion` or a no-answer.

use serde_json::json;
use wiremock::{MockServer, ResponseTemplate};

use super::testing::{chain, gemini, gemini_answer, mount, only_request_body, openai};
use super::testing::{openai_answer, openai_at, prompt};
use super::{ChainError, Completion, ProviderConfig, Usage};

#[tokio::test]
async fn gemini_happy_path_sends_key_system_instruction_and_alternating_contents() {
    let server = MockServer::start().await;
    mount(&server, gemini_answer(" Das 9h às 13h. "), 1).await;

    let answer = chain().complete("t1", &[gemini(&server)], &prompt()).await.unwrap();

    let Completion { text, provider, model, usage } = answer;
    assert_eq!((text.as_str(), provider, model.as_str()), ("Das 9h às 13h.", "gemini", "gemini-2.5-flash"));
    assert_eq!(usage, Usage { input_tokens: 10, output_tokens: 5 }, "from usageMetadata");
    let (request, body) = only_request_body(&server).await;
    let path = "/v1beta/models/gemini-2.5-flash:generateContent";
    assert_eq!(request.url.path(), path);
    assert_eq!(request.headers.get("x-goog-api-key").unwrap(), "gemini-key");
    assert_eq!(
        body,
        json!({
            "contents": [
                { "role": "user", "parts": [{ "text": "Oi" }] },
                { "role": "model", "parts": [{ "text": "Olá! Como posso ajudar?" }] },
                { "role": "user", "parts": [{ "text": "Qual o horário\nde sábado?" }] }
            ],
            "systemInstruction": { "parts": [{ "text": "Você é o atendente da Loja Azul." }] },
            "generationConfig": { "temperature": 0.25, "maxOutputTokens": 256, "candidateCount": 1 }
        })
    );
}

#[tokio::test]
async fn a_blocked_prompt_is_a_no_answer_after_one_request() {
    let server = MockServer::start().await;
    let blocked = json!({ "promptFeedback": { "blockReason": "PROHIBITED_CONTENT" } });
    let blocked = ResponseTemplate::new(200).set_body_json(blocked);
    mount(&server, blocked, 1).await;

    let error = chain().complete("t1", &[gemini(&server)], &prompt()).await.unwrap_err();

    assert!(matches!(error, ChainError::NoAnswer { provider: "gemini", .. }));
    assert_eq!(error.to_string(), "gemini gave no answer: PROHIBITED_CONTENT");
}

#[tokio::test]
async fn openai_happy_path_sends_bearer_key_and_chat_messages() {
    let server = MockServer::start().await;
    mount(&server, openai_answer("Sábado das 9h às 13h."), 1).await;

    let completion = chain().complete("t1", &[openai(&server)], &prompt()).await.unwrap();

    let usage = Usage { input_tokens: 21, output_tokens: 8 };
    let expected =
        Completion { text: "Sábado das 9h às 13h.".into(), provider: "openai", model: "llama3.1".into(), usage };
    assert_eq!(completion, expected);
    let (request, body) = only_request_body(&server).await;
    assert_eq!(request.url.path(), "/v1/chat/completions");
    assert_eq!(request.headers.get("authorization").unwrap(), "Bearer sk-openai");
    assert_eq!(
        body,
        json!({
            "model": "llama3.1",
            "messages": [
                { "role": "system", "content": "Você é o atendente da Loja Azul." },
                { "role": "user", "content": "Oi" },
                { "role": "assistant", "content": "Olá! Como posso ajudar?" },
                { "role": "user", "content": "Qual o horário" },
                { "role": "user", "content": "de sábado?" }
            ],
            "max_tokens": 128
        })
    );
}

#[tokio::test]
async fn without_an_api_key_no_authorization_header_is_sent() {
    let server = MockServer::start().await;
    mount(&server, openai_answer("ok"), 1).await;
    let provider = ProviderConfig { api_key: None, ..openai_at(&server.uri()) };

    chain().complete("t1", &[provider], &prompt()).await.unwrap();

    let (request, _) = only_request_body(&server).await;
    assert_eq!(request.url.path(), "/v1/chat/completions");
    assert!(request.headers.get("authorization").is_none());
}

#[tokio::test]
async fn a_content_filter_finish_is_a_no_answer() {
    let server = MockServer::start().await;
    let filtered = json!({ "choices": [{ "message": { "content": null }, "finish_reason": "content_filter" }] });
    mount(&server, ResponseTemplate::new(200).set_body_json(filtered), 1).await;

    let error = chain().complete("t1", &[openai(&server)], &prompt()).await.unwrap_err();

    assert_eq!(error, ChainError::NoAnswer { provider: "openai", reason: "content_filter".into() });
}
