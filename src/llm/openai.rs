//! OpenAI-compatible `chat/completions` adapter: OpenAI, Ollama, vLLM, llama.cpp and Gemini's
//! OpenAI layer (protocols.md §4.3).

use reqwest::Client;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{Answered, LlmError, Prompt, ProviderConfig, RawReply, Result, Role, Usage, endpoint};

/// Sends one prompt and returns the answer text with the tokens it used.
pub(super) async fn complete(client: &Client, config: &ProviderConfig, prompt: &Prompt) -> Result<Answered> {
    let mut request = client.post(chat_url(&config.base_url)).json(&Request::new(config, prompt));
    if let Some(key) = &config.api_key {
        request = request.header("authorization", super::secret_header("Bearer ", key)?);
    }
    let reply = super::send(request).await?;
    if !reply.status.is_success() {
        return Err(http_error(&reply, config));
    }
    let response: Response = reply.json()?;
    let usage = response
        .usage
        .as_ref()
        .map_or_else(Usage::default, |u| Usage { input_tokens: u.prompt_tokens, output_tokens: u.completion_tokens });
    answer_text(response).map(|text| (text, usage))
}

/// `{base}/v1/chat/completions`; a base already ending in `/v1`, or Gemini's
/// `…/v1beta/openai`, gets only `chat/completions`.
fn chat_url(base_url: &str) -> String {
    let base = base_url.trim_end_matches('/');
    if base.ends_with("/openai") {
        format!("{base}/chat/completions")
    } else {
        endpoint(base, "v1", "chat/completions")
    }
}

#[derive(Debug, Serialize)]
struct Request<'a> {
    model: &'a str,
    messages: Vec<Message<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
}

#[derive(Debug, Serialize)]
struct Message<'a> {
    role: &'static str,
    content: &'a str,
}

impl<'a> Request<'a> {
    fn new(config: &'a ProviderConfig, prompt: &'a Prompt) -> Self {
        let system = (!prompt.system.is_empty()).then(|| Message { role: "system", content: &prompt.system });
        let turns = prompt.turns.iter().map(|turn| Message {
            role: match turn.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            },
            content: &turn.text,
        });
        Self {
            model: &config.model,
            messages: system.into_iter().chain(turns).collect(),
            temperature: config.temperature,
            max_tokens: config.max_output_tokens,
        }
    }
}

#[derive(Debug, Deserialize)]
struct Response {
    #[serde(default)]
    choices: Vec<Choice>,
    usage: Option<ResponseUsage>,
}

#[derive(Debug, Deserialize)]
struct ResponseUsage {
    #[serde(default)]
    prompt_tokens: u64,
    #[serde(default)]
    completion_tokens: u64,
}

#[derive(Debug, Deserialize)]
struct Choice {
    message: Option<ChoiceMessage>,
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ChoiceMessage {
    content: Option<String>,
}

/// The first choice's text, or why there is none.
fn answer_text(response: Response) -> Result<String> {
    let Some(choice) = response.choices.into_iter().next() else {
        return Err(LlmError::Empty);
    };
    if choice.finish_reason.as_deref() == Some("content_filter") {
        return Err(LlmError::Blocked { reason: "content_filter".into() });
    }
    let text = choice.message.and_then(|m| m.content).unwrap_or_default();
    match text.trim() {
        "" => Err(LlmError::Empty),
        trimmed => Ok(trimmed.to_owned()),
    }
}

/// Reads `{"error":{"message","type","code"}}`, plus the shapes compatible servers use instead:
/// `{"error":"text"}` (Ollama, llama.cpp) and a top-level `{"message","type"}` (vLLM).
fn http_error(reply: &RawReply, config: &ProviderConfig) -> LlmError {
    let key = config.api_key.as_ref();
    let Ok(body) = serde_json::from_slice::<Value>(&reply.body) else {
        return reply.http_error(None, None, None, key);
    };
    let detail = match body.get("error") {
        Some(Value::String(message)) => return reply.http_error(None, Some(message), None, key),
        Some(error @ Value::Object(_)) => error,
        _ => &body,
    };
    let word = |field: &str| match detail.get(field) {
        Some(Value::String(text)) if !text.is_empty() => Some(text.clone()),
        _ => None,
    };
    let status_text = word("code").or_else(|| word("type"));
    reply.http_error(status_text, word("message").as_deref(), None, key)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::llm::testing::{openai_at, raw_reply};

    /// Parses an error body as a provider at `http://h` with key `sk-openai`.
    fn error_of(status: u16, body: &str) -> String {
        http_error(&raw_reply(status, body), &openai_at("http://h")).to_string()
    }

    #[test]
    fn chat_url_appends_v1_only_when_missing() {
        assert_eq!(chat_url("https://api.openai.com"), "https://api.openai.com/v1/chat/completions");
        assert_eq!(chat_url("http://localhost:11434/v1/"), "http://localhost:11434/v1/chat/completions");
        let gemini_compat = "https://generativelanguage.googleapis.com/v1beta/openai/";
        assert_eq!(chat_url(gemini_compat), format!("{gemini_compat}chat/completions"));
    }

    #[test]
    fn openai_error_body_gives_code_and_message_with_the_key_masked() {
        let error = json!({ "error": {
            "message": "Incorrect API key provided: sk-openai",
            "type": "invalid_request_error",
            "code": "invalid_api_key"
        } });
        let expected = "LLM answered HTTP 401 invalid_api_key: Incorrect API key provided: [redacted]";
        assert_eq!(error_of(401, &error.to_string()), expected);
    }

    #[test]
    fn compatible_servers_error_shapes_are_understood() {
        let ollama = r#"{"error":"model \"x\" not found"}"#;
        assert_eq!(error_of(404, ollama), r#"LLM answered HTTP 404: model "x" not found"#);
        let vllm = r#"{"object":"error","message":"too long","type":"BadRequestError","code":400}"#;
        assert_eq!(error_of(400, vllm), "LLM answered HTTP 400 BadRequestError: too long");
    }

    #[test]
    fn no_choices_is_empty() {
        let response: Response = serde_json::from_value(json!({ "choices": [] })).unwrap();
        assert_eq!(answer_text(response), Err(LlmError::Empty));
    }
}
