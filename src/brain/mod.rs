//! Decides what to answer: state gates, the prompt, the LLM chain, the output check.
//!
//! Layer 4: may import layers 0–3 except `channel`, `notify` and `queue`. It decides; it
//! never sends and never enqueues.

mod prompt;

use serde_json::json;
use tracing::{info, warn};

use crate::config::BrainConfig;
use crate::config::tenant::{ProviderChoice, ResolvedLlm, ResolvedTenant};
use crate::domain::{ConversationState, ErrorClass};
use crate::llm::{BreakerState, ChainError, LlmChain, ProviderConfig, ProviderKind};
use crate::store::ReplyContext;

pub use prompt::build_prompt;

/// WhatsApp's limit for one text message.
pub const MAX_REPLY_CHARS: usize = 4096;

/// What to do with a burst of customer messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Send this text.
    Answer {
        /// The reply.
        text: String,
        /// Provider, model, or why a fallback text was used; stored with the message.
        meta: serde_json::Value,
    },
    /// Send nothing.
    Silent {
        /// Why (`human`, `ai_off`).
        reason: &'static str,
    },
}

/// The decision maker; one per process.
#[derive(Clone)]
pub struct Brain {
    chain: LlmChain,
    config: BrainConfig,
}

impl Brain {
    /// A brain asking `chain` for answers.
    pub fn new(chain: LlmChain, config: BrainConfig) -> Self {
        Self { chain, config }
    }

    /// Settings used to load context.
    pub fn config(&self) -> &BrainConfig {
        &self.config
    }

    /// Decides the answer to `ctx.pending`. `Err` means every provider is unavailable for
    /// now (retryable failures or open breakers): the caller may try again later, or use
    /// [`Brain::fallback`] when it will not.
    pub async fn decide(&self, ctx: &ReplyContext, tenant: &ResolvedTenant) -> Result<Decision, LlmUnavailable> {
        if ctx.conversation.state != ConversationState::Bot {
            return Ok(Decision::Silent { reason: "human" });
        }
        if tenant.llm.is_empty() {
            return Ok(Decision::Silent { reason: "ai_off" });
        }
        let prompt = build_prompt(ctx);
        let providers: Vec<ProviderConfig> = tenant.llm.iter().map(provider_config).collect();
        let decision = match self.chain.complete(&ctx.tenant.slug, &providers, &prompt).await {
            Ok(completion) => match clean_output(&completion.text) {
                Some(text) => {
                    info!(provider = completion.provider, model = %completion.model, "answer generated");
                    Decision::Answer {
                        text,
                        meta: json!({ "provider": completion.provider, "model": completion.model }),
                    }
                }
                None => self.fallback(ctx, "empty", "the model returned only whitespace".into()),
            },
            Err(ChainError::NoAnswer { provider, reason }) => {
                warn!(provider, %reason, "the model gave no usable answer; sending the fallback text");
                self.fallback(ctx, "no_answer", reason)
            }
            Err(err) if err.class() == ErrorClass::Retryable => {
                // Retrying before a tripped breaker cools down would only spend an attempt.
                let cooling =
                    providers.iter().any(|p| self.chain.breaker_state(&ctx.tenant.slug, p) != BreakerState::Closed);
                let asked = match &err {
                    ChainError::Failed { last } => last.retry_after(),
                    _ => None,
                };
                let retry_after = if cooling { Some(self.chain.breaker_cooldown()).max(asked) } else { asked };
                return Err(LlmUnavailable { reason: err.to_string(), retry_after });
            }
            Err(err) => {
                warn!(error = %err, "the LLM refused the request; sending the fallback text");
                self.fallback(ctx, "llm_failed", err.to_string())
            }
        };
        Ok(decision)
    }

    /// The tenant's fallback text, recorded with why it was used.
    pub fn fallback(&self, ctx: &ReplyContext, kind: &str, reason: String) -> Decision {
        let text = ctx.tenant.settings.persona.fallback_text();
        Decision::Answer { text: text.to_string(), meta: json!({ "fallback": kind, "reason": reason }) }
    }
}

/// Every LLM provider failed in a way that may pass later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmUnavailable {
    /// The last failure (never a secret).
    pub reason: String,
    /// A delay the provider asked for, if any.
    pub retry_after: Option<std::time::Duration>,
}

/// Trims the model's text and cuts it to one WhatsApp message; `None` when nothing is left.
fn clean_output(text: &str) -> Option<String> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(match text.char_indices().nth(MAX_REPLY_CHARS) {
        Some((cut, _)) => text[..cut].to_string(),
        None => text.to_string(),
    })
}

fn provider_config(llm: &ResolvedLlm) -> ProviderConfig {
    ProviderConfig {
        kind: match llm.provider {
            ProviderChoice::Openai => ProviderKind::OpenAi,
            _ => ProviderKind::Gemini,
        },
        base_url: llm.base_url.clone(),
        api_key: llm.api_key.as_ref().map(|k| k.to_secret_string()),
        model: llm.model.clone(),
        temperature: llm.temperature,
        max_output_tokens: llm.max_output_tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_trimmed_and_capped_at_one_whatsapp_message() {
        assert_eq!(clean_output("  oi  ").as_deref(), Some("oi"));
        assert_eq!(clean_output(" \n "), None);
        let long = "é".repeat(MAX_REPLY_CHARS + 10);
        assert_eq!(clean_output(&long).unwrap().chars().count(), MAX_REPLY_CHARS);
    }
}
