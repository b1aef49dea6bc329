//! The chain: each provider in order, each call bounded by a timeout, retried with backoff,
//! guarded by a per-tenant breaker, falling back to the next provider.

use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use reqwest::Client;

use super::breaker::{Admission, BreakerKey, Breakers, Health};
use super::retry::{self, RetryDecision};
use super::{Answered, ProviderKind, Result, gemini, openai};
use super::{BreakerState, ChainError, Completion, LlmError, LlmSettings, Prompt, ProviderConfig};
use crate::domain::ErrorClass;
use crate::telemetry::metrics;

/// The LLM entry point: one per process, cheap to clone (shares its HTTP client and breakers).
#[derive(Debug, Clone)]
pub struct LlmChain {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: Client,
    settings: LlmSettings,
    breakers: Breakers,
    /// Breaker openings shared with other processes (Redis), when configured.
    shared: Option<Arc<dyn SharedBreakers>>,
}

/// Breaker state shared between processes: when one process opens a provider's breaker,
/// the others skip that provider too until it cools down. Failure counting stays local.
#[async_trait::async_trait]
pub trait SharedBreakers: Send + Sync + std::fmt::Debug {
    /// True when some process opened the breaker `key` and it is still cooling down.
    /// Errors count as "not open" (the local breaker still protects the provider).
    async fn is_open(&self, key: &str) -> bool;
    /// Publishes that this process opened the breaker `key` for `open_for`.
    async fn opened(&self, key: &str, open_for: Duration);
}

/// How one provider ended, as seen by the chain.
enum ProviderOutcome {
    Answered(Completion),
    /// Blocked or empty: the chain stops here.
    NoAnswer(LlmError),
    /// Permanent error, or retryable ones until giving up: try the next provider.
    Failed(LlmError),
    /// Breaker open before any attempt.
    Skipped,
}

impl LlmChain {
    /// Builds the chain and its HTTP client.
    ///
    /// # Panics
    /// If the TLS backend cannot initialise, as `reqwest::Client::new` does.
    pub fn new(settings: LlmSettings) -> Self {
        let client = Client::builder()
            .user_agent(concat!("atende/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.timeout)
            .build()
            .expect("the HTTP client's TLS backend must initialise");
        let breakers = Breakers::new(settings.breaker_failure_threshold, settings.breaker_open_for);
        Self { inner: Arc::new(Inner { client, settings, breakers, shared: None }) }
    }

    /// Shares breaker openings with other processes through `shared`.
    pub fn with_shared_breakers(settings: LlmSettings, shared: Arc<dyn SharedBreakers>) -> Self {
        let chain = Self::new(settings);
        let Inner { client, settings, breakers, .. } =
            Arc::try_unwrap(chain.inner).unwrap_or_else(|_| unreachable!("a new chain has one owner"));
        Self { inner: Arc::new(Inner { client, settings, breakers, shared: Some(shared) }) }
    }

    /// Tries `providers` in order (primary first) and returns the first usable answer.
    ///
    /// A provider whose breaker is open is skipped; retryable errors are retried with backoff up
    /// to `max_attempts`; a permanent error moves on to the next provider; a blocked or empty
    /// answer ends the chain at once with [`ChainError::NoAnswer`].
    pub async fn complete(
        &self,
        tenant: &str,
        providers: &[ProviderConfig],
        prompt: &Prompt,
    ) -> Result<Completion, ChainError> {
        if providers.is_empty() {
            return Err(ChainError::NoProvider);
        }
        let mut deciding: Option<LlmError> = None;
        for provider in providers {
            match self.try_provider(tenant, provider, prompt).await {
                ProviderOutcome::Answered(completion) => return Ok(completion),
                ProviderOutcome::NoAnswer(error) => return Err(no_answer(provider, &error)),
                ProviderOutcome::Skipped => {}
                ProviderOutcome::Failed(error) => {
                    if deciding.as_ref().is_none_or(|old| outranks(&error, old)) {
                        deciding = Some(error);
                    }
                }
            }
        }
        match deciding {
            Some(last) => Err(ChainError::Failed { last }),
            None => Err(ChainError::AllBreakersOpen),
        }
    }

    /// How long an open breaker rejects calls: the soonest a retry can reach a tripped provider.
    pub fn breaker_cooldown(&self) -> Duration {
        self.inner.settings.breaker_open_for
    }

    /// Current breaker state of a tenant's provider (closed if never used).
    pub fn breaker_state(&self, tenant: &str, provider: &ProviderConfig) -> BreakerState {
        self.inner.breakers.state(&breaker_key(tenant, provider), Instant::now())
    }

    /// One provider. Lifecycle:
    /// 1. Ask the breaker. Rejected: skip the provider (or, after a failed attempt, give up).
    /// 2. Send one attempt bounded by `timeout`.
    /// 3. Answer → breaker up, done. No-answer or permanent error → breaker up, stop, no retry.
    /// 4. Retryable error → breaker down; `retry::next_step` says sleep and go to 1, or give up.
    async fn try_provider(&self, tenant: &str, provider: &ProviderConfig, prompt: &Prompt) -> ProviderOutcome {
        let key = breaker_key(tenant, provider);
        let breakers = &self.inner.breakers;
        let mut last_error = None;
        let mut attempt = 0;
        let shared_key = format!("breaker:{tenant}:{}:{}", provider.name(), provider.base_url);
        if let Some(shared) = &self.inner.shared
            && shared.is_open(&shared_key).await
        {
            tracing::info!(
                tenant,
                provider = provider.name(),
                "LLM breaker opened by another process, provider skipped"
            );
            return ProviderOutcome::Skipped;
        }
        loop {
            attempt += 1;
            if breakers.admit(&key, Instant::now()) == Admission::Reject {
                tracing::info!(tenant, provider = provider.name(), attempt, "LLM breaker open, provider skipped");
                return last_error.map_or(ProviderOutcome::Skipped, ProviderOutcome::Failed);
            }
            let error = match self.attempt(tenant, provider, prompt, attempt).await {
                Ok((text, usage)) => {
                    breakers.record(&key, Health::Up, Instant::now());
                    record_usage(tenant, provider.name(), usage);
                    let (provider, model) = (provider.name(), provider.model.clone());
                    return ProviderOutcome::Answered(Completion { text, provider, model, usage });
                }
                Err(error) => error,
            };
            if error.is_no_answer() {
                breakers.record(&key, Health::Up, Instant::now());
                return ProviderOutcome::NoAnswer(error);
            }
            if error.class() == ErrorClass::Permanent {
                breakers.record(&key, Health::Up, Instant::now());
                return ProviderOutcome::Failed(error);
            }
            breakers.record(&key, Health::Down, Instant::now());
            if let Some(shared) = &self.inner.shared
                && breakers.state(&key, Instant::now()) == BreakerState::Open
            {
                shared.opened(&shared_key, self.inner.settings.breaker_open_for).await;
            }
            let step = retry::next_step(&self.inner.settings, attempt, error.retry_after(), &mut rand::rng());
            let RetryDecision::After(delay) = step else {
                return ProviderOutcome::Failed(error);
            };
            tokio::time::sleep(delay).await;
            last_error = Some(error);
        }
    }

    /// One HTTP attempt with its timeout, metrics and log line.
    async fn attempt(
        &self,
        tenant: &str,
        provider: &ProviderConfig,
        prompt: &Prompt,
        attempt: u32,
    ) -> Result<Answered> {
        let Inner { client, settings, .. } = &*self.inner;
        let call = async {
            match provider.kind {
                ProviderKind::Gemini => gemini::complete(client, provider, prompt).await,
                ProviderKind::OpenAi => openai::complete(client, provider, prompt).await,
            }
        };
        let started = Instant::now();
        let result = tokio::time::timeout(settings.timeout, call).await.unwrap_or(Err(LlmError::Timeout));
        record_metrics(provider.name(), started, &result);
        if let Err(error) = &result {
            let (name, status, class) = (provider.name(), error.status(), error.class_label());
            if error.is_no_answer() {
                tracing::info!(tenant, provider = name, attempt, %error, "LLM gave no answer");
            } else {
                tracing::warn!(tenant, provider = name, status, attempt, class, %error, "LLM attempt failed");
            }
        }
        result
    }
}

fn breaker_key(tenant: &str, provider: &ProviderConfig) -> BreakerKey {
    BreakerKey { tenant: tenant.to_owned(), provider: provider.name(), base_url: provider.base_url.clone() }
}

/// Whether `new` replaces `old` as the error deciding the chain's class: the last retryable
/// error wins, so the job is retried while some provider may still recover.
fn outranks(new: &LlmError, old: &LlmError) -> bool {
    new.class() == ErrorClass::Retryable || old.class() == ErrorClass::Permanent
}

fn no_answer(provider: &ProviderConfig, error: &LlmError) -> ChainError {
    let reason = match error {
        LlmError::Blocked { reason } => reason.clone(),
        _ => "empty".to_owned(),
    };
    ChainError::NoAnswer { provider: provider.name(), reason }
}

/// Counts one HTTP attempt: `LLM_REQUESTS_TOTAL`, `LLM_REQUEST_DURATION_SECONDS`, `LLM_ERRORS_TOTAL`.
/// Tokens the provider reported, for cost dashboards (`atende_llm_tokens_total`).
fn record_usage(tenant: &str, provider: &'static str, usage: super::Usage) {
    for (direction, tokens) in [("input", usage.input_tokens), ("output", usage.output_tokens)] {
        ::metrics::counter!(metrics::LLM_TOKENS_TOTAL, "tenant" => tenant.to_owned(), "provider" => provider, "direction" => direction)
            .increment(tokens);
    }
}

fn record_metrics(provider: &'static str, started: Instant, result: &Result<Answered>) {
    let elapsed = started.elapsed().as_secs_f64();
    ::metrics::histogram!(metrics::LLM_REQUEST_DURATION_SECONDS, "provider" => provider).record(elapsed);
    let outcome = match result {
        Ok(_) => "ok",
        Err(LlmError::Blocked { .. }) => "blocked",
        Err(_) => "error",
    };
    ::metrics::counter!(metrics::LLM_REQUESTS_TOTAL, "provider" => provider, "outcome" => outcome).increment(1);
    if let Err(error) = result {
        let class = error.class_label();
        ::metrics::counter!(metrics::LLM_ERRORS_TOTAL, "provider" => provider, "class" => class).increment(1);
    }
}
