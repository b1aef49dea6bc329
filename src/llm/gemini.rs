//! Gemini `generateContent` adapter (protocols.md §4.1).

use reqwest::Client;
use serde::{Deserialize, Serialize};

use super::{Answered, LlmError, Prompt, ProviderConfig, RawReply, Result, Role, Usage, endpoint, retry};

/// `finishReason` values meaning the provider refused to answer.
const BLOCKING_FINISH_REASONS: [&str; 5] = ["SAFETY", "PROHIBITED_CONTENT", "BLOCKLIST", "SPII", "RECITATION"];

/// `@type` of the error detail carrying the server-asked delay.
const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

/// Sends one prompt and returns the answer text with the tokens it used.
pub(super) async fn complete(client: &Client, config: &ProviderConfig, prompt: &Prompt) -> Result<Answered> {
    let model = config.model.trim_start_matches("models/");
    let path = format!("models/{model}:generateContent");
    let url = endpoint(&config.base_url, "v1beta", &path);
    let mut request = client.post(url).json(&Request::new(config, prompt));
    if let Some(key) = &config.api_key {
        request = request.header("x-goog-api-key", super::secret_header("", key)?);
    }
    let reply = super::send(request).await?;
    if !reply.status.is_success() {
        return Err(http_error(&reply, config));
    }
    let response: Response = reply.json()?;
    let usage = response.usage_metadata.as_ref().map_or_else(Usage::default, |u| Usage {
        input_tokens: u.prompt_token_count,
        output_tokens: u.candidates_token_count + u.thoughts_token_count,
    });
    answer_text(response).map(|text| (text, usage))
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Request<'a> {
    contents: Vec<Content<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    system_instruction: Option<Content<'a>>,
    generation_config: GenerationConfig,
}

#[derive(Debug, Serialize, PartialEq)]
struct Content<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    role: Option<&'static str>,
    parts: [TextPart<'a>; 1],
}

/// `Cow`: merged turns own their text, the others borrow it from the prompt.
#[derive(Debug, Serialize, PartialEq)]
struct TextPart<'a> {
    text: std::borrow::Cow<'a, str>,
}

impl<'a> Content<'a> {
    fn new(role: Option<&'static str>, text: &'a str) -> Self {
        Self { role, parts: [TextPart { text: text.into() }] }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct GenerationConfig {
    #[serde(skip_serializing_if = "Option::is_none")]
    temperature: Option<f32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_output_tokens: Option<u32>,
    candidate_count: u32,
}

impl<'a> Request<'a> {
    fn new(config: &ProviderConfig, prompt: &'a Prompt) -> Self {
        let system = (!prompt.system.is_empty()).then(|| Content::new(None, &prompt.system));
        Self {
            contents: alternating_contents(prompt),
            system_instruction: system,
            generation_config: GenerationConfig {
                temperature: config.temperature,
                max_output_tokens: config.max_output_tokens,
                candidate_count: 1,
            },
        }
    }
}

/// Gemini wants `user` and `model` turns to alternate: consecutive turns of one role are
/// merged with a newline.
fn alternating_contents(prompt: &Prompt) -> Vec<Content<'_>> {
    let mut contents: Vec<Content<'_>> = Vec::with_capacity(prompt.turns.len());
    for turn in &prompt.turns {
        let role = match turn.role {
            Role::User => "user",
            Role::Assistant => "model",
        };
        match contents.last_mut() {
            Some(last) if last.role == Some(role) => {
                let text = last.parts[0].text.to_mut();
                text.push('\n');
                text.push_str(&turn.text);
            }
            _ => contents.push(Content::new(Some(role), &turn.text)),
        }
    }
    contents
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Response {
    #[serde(default)]
    candidates: Vec<Candidate>,
    prompt_feedback: Option<PromptFeedback>,
    usage_metadata: Option<UsageMetadata>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct UsageMetadata {
    #[serde(default)]
    prompt_token_count: u64,
    #[serde(default)]
    candidates_token_count: u64,
    #[serde(default)]
    thoughts_token_count: u64,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Candidate {
    content: Option<ResponseContent>,
    finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
struct ResponseContent {
    #[serde(default)]
    parts: Vec<ResponsePart>,
}

#[derive(Debug, Deserialize)]
struct ResponsePart {
    text: Option<String>,
    /// Thought summaries of thinking models are not part of the answer.
    #[serde(default)]
    thought: bool,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PromptFeedback {
    block_reason: Option<String>,
}

/// Joins the text parts of the first candidate, or says why there is no answer.
fn answer_text(response: Response) -> Result<String> {
    let Some(candidate) = response.candidates.into_iter().next() else {
        return Err(match response.prompt_feedback.and_then(|f| f.block_reason) {
            Some(reason) => LlmError::Blocked { reason },
            None => LlmError::Empty,
        });
    };
    if let Some(reason) = candidate.finish_reason
        && BLOCKING_FINISH_REASONS.contains(&reason.as_str())
    {
        return Err(LlmError::Blocked { reason });
    }
    let parts = candidate.content.map(|c| c.parts).unwrap_or_default();
    let text: String = parts.into_iter().filter(|p| !p.thought).filter_map(|p| p.text).collect();
    match text.trim() {
        "" => Err(LlmError::Empty),
        trimmed => Ok(trimmed.to_owned()),
    }
}

#[derive(Debug, Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ErrorDetail {
    message: Option<String>,
    status: Option<String>,
    #[serde(default)]
    details: Vec<ErrorExtra>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ErrorExtra {
    #[serde(rename = "@type")]
    kind: Option<String>,
    retry_delay: Option<String>,
}

/// Reads `{"error":{"code","message","status","details":[RetryInfo…]}}`; any other body is kept raw.
fn http_error(reply: &RawReply, config: &ProviderConfig) -> LlmError {
    let key = config.api_key.as_ref();
    let Ok(ErrorBody { error }) = serde_json::from_slice::<ErrorBody>(&reply.body) else {
        return reply.http_error(None, None, None, key);
    };
    let retry_delay = error
        .details
        .iter()
        .filter(|extra| extra.kind.as_deref() == Some(RETRY_INFO_TYPE))
        .find_map(|extra| retry::parse_proto_duration(extra.retry_delay.as_deref()?));
    reply.http_error(error.status, error.message.as_deref(), retry_delay, key)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use serde_json::json;

    use super::*;
    use crate::llm::testing::{gemini_at, raw_reply};

    fn answer(body: serde_json::Value) -> Result<String> {
        answer_text(serde_json::from_value(body).unwrap())
    }

    #[test]
    fn a_safety_finish_reason_is_blocked_even_with_partial_text() {
        let parts = json!([{ "text": "Claro, para" }]);
        let body = json!({ "candidates": [{ "content": { "parts": parts }, "finishReason": "SAFETY" }] });
        let reason = "SAFETY".to_owned();
        assert_eq!(answer(body), Err(LlmError::Blocked { reason }));
    }

    #[test]
    fn several_parts_are_joined_and_thoughts_are_left_out() {
        let parts = json!([{ "text": "hmm", "thought": true }, { "text": "Abrimos " }, { "text": "às 9h." }]);
        let body = json!({ "candidates": [{ "content": { "parts": parts }, "finishReason": "STOP" }] });
        assert_eq!(answer(body), Ok("Abrimos às 9h.".into()));
    }

    #[test]
    fn no_candidates_and_no_block_reason_is_empty() {
        assert_eq!(answer(json!({})), Err(LlmError::Empty));
        let parts = json!([{ "text": " " }]);
        let blank = json!({ "candidates": [{ "content": { "parts": parts }, "finishReason": "MAX_TOKENS" }] });
        assert_eq!(answer(blank), Err(LlmError::Empty));
    }

    #[test]
    fn error_body_gives_status_word_and_retry_delay() {
        let retry_info = json!({ "@type": RETRY_INFO_TYPE, "retryDelay": "22s" });
        let error = json!({ "error": {
            "code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED", "details": [retry_info]
        } });

        let error = http_error(&raw_reply(429, &error.to_string()), &gemini_at("http://h"));

        let expected = LlmError::Http {
            status: 429,
            status_text: Some("RESOURCE_EXHAUSTED".into()),
            message: "quota".into(),
            retry_after: Some(Duration::from_secs(22)),
        };
        assert_eq!(error, expected);
    }

    #[test]
    fn a_non_json_error_body_is_kept_as_the_message() {
        let reply = raw_reply(502, "<h1>bad gateway</h1>");
        let error = http_error(&reply, &gemini_at("http://h")).to_string();
        assert_eq!(error, "LLM answered HTTP 502: <h1>bad gateway</h1>");
    }
}
