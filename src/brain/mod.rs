//! Decides what to answer: state gates, mood, guards, handoff rules, knowledge, the
//! persona's prompt, the LLM chain and the output check.
//!
//! Layer 4: may import layers 0–3 except `channel`, `notify` and `queue`. It decides (and
//! reads the knowledge base); it never sends and never enqueues.

mod context;
mod context_cache;
pub mod csat;
mod detached;
pub mod guard;
mod handoff;
mod kb_import;
mod prompt;
pub mod sentiment;

use std::sync::Arc;

use serde_json::{Value, json};
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::config::BrainConfig;
use crate::config::persona::PersonaTable;
use crate::config::spend::OnCap;
use crate::config::tenant::{ProviderChoice, ResolvedLlm, ResolvedTenant};
use crate::domain::{ConversationId, ConversationState, ErrorClass, Flag, Language};
use crate::llm::{BreakerState, ChainError, LlmChain, ProviderConfig, ProviderKind, Usage};
use crate::store::{
    Conversation, ConversationUpdate, NewHandoff, ReplyContext, Store, StoreError, StoredMessage, SurveyAnswer, Tenant,
};
use crate::telemetry::metrics as m;

/// Labels of a decision, for the replies and handoffs counters (counted once recorded).
pub fn decision_labels(outcome: &Outcome) -> (&'static str, String) {
    match &outcome.decision {
        Decision::Answer { meta, .. } => ("answer", meta["source"].as_str().unwrap_or("llm").to_string()),
        Decision::Handoff { reason, .. } => ("handoff", reason.as_str().to_string()),
        Decision::Silent { reason } => ("silent", reason.to_string()),
    }
}

pub use context::KnowledgeCache;
pub use context_cache::{ContextCache, ContextCacheStats};
pub use detached::{detached_conversation, detached_message, first_message_context};
pub use handoff::{HandoffReason, STRONGLY_NEGATIVE, handoff_text, out_of_hours, sla_breach_text};
pub use kb_import::{ImportCounts, import_knowledge, new_knowledge};
pub use prompt::{PromptInputs, build_prompt, burst_text, render_system, validate_template};

/// WhatsApp's limit for one text message.
pub const MAX_REPLY_CHARS: usize = 4096;
/// Knowledge snippets given to the LLM.
const KNOWLEDGE_IN_PROMPT: usize = 3;
/// Share of the question's terms an entry must cover to be sent as-is (knowledge-only mode).
const KNOWLEDGE_ONLY_COVERAGE: f32 = 0.6;

/// What to do with a burst of customer messages.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Send these messages.
    Answer {
        /// One or more WhatsApp messages, in order.
        parts: Vec<String>,
        /// Provider, model, knowledge used, prompt version; stored with the messages.
        meta: Value,
    },
    /// Send these messages, then hand the conversation to a person.
    Handoff {
        /// Why.
        reason: HandoffReason,
        /// The handoff (or out-of-hours) text.
        parts: Vec<String>,
        /// Stored with the messages.
        meta: Value,
    },
    /// Send nothing.
    Silent {
        /// Why (`human`, `ai_off`).
        reason: &'static str,
    },
}

/// A decision with the bookkeeping it implies for the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// What to send.
    pub decision: Decision,
    /// New counters and state.
    pub update: ConversationUpdate,
    /// Mood of the burst.
    pub mood: sentiment::Sentiment,
    /// The LLM calls this decision made (the answer, a summary refresh), for spend.
    pub llm_calls: Vec<LlmCall>,
}

/// One LLM call of a decision: the model asked and the tokens it used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LlmCall {
    /// Model id.
    pub model: String,
    /// Tokens.
    pub usage: Usage,
}

impl Outcome {
    /// The messages to send (empty when silent).
    pub fn parts(&self) -> &[String] {
        match &self.decision {
            Decision::Answer { parts, .. } | Decision::Handoff { parts, .. } => parts,
            Decision::Silent { .. } => &[],
        }
    }

    /// Stored with the messages.
    pub fn meta(&self) -> Value {
        match &self.decision {
            Decision::Answer { meta, .. } | Decision::Handoff { meta, .. } => meta.clone(),
            Decision::Silent { reason } => json!({ "silent": reason }),
        }
    }
}

/// Every LLM provider failed in a way that may pass later, and the knowledge base had no
/// confident answer.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmUnavailable {
    /// The last failure (never a secret).
    pub reason: String,
    /// When a retry can help (a provider's delay or a breaker's cooldown).
    pub retry_after: Option<std::time::Duration>,
    /// What to send if no retry is left: the polite fallback.
    pub fallback: Outcome,
}

/// The decision maker; one per process.
#[derive(Clone)]
pub struct Brain {
    chain: LlmChain,
    config: BrainConfig,
    store: Arc<dyn Store>,
    knowledge: KnowledgeCache,
    context: ContextCache,
}

/// What `decide` works from, besides the conversation.
struct Facts<'a> {
    ctx: &'a ReplyContext,
    persona: &'a PersonaTable,
    language: Language,
    burst: String,
    mood: sentiment::Sentiment,
    update: ConversationUpdate,
    now: OffsetDateTime,
    calls: Vec<LlmCall>,
}

impl Brain {
    /// A brain asking `chain` for answers and reading knowledge from `store`.
    pub fn new(chain: LlmChain, config: BrainConfig, store: Arc<dyn Store>) -> Self {
        let context = ContextCache::new(None, config.history_ttl);
        let knowledge = KnowledgeCache::new(config.knowledge_search);
        Self { chain, config, store, knowledge, context }
    }

    /// Keeps short-term context in `cache` (shared through Redis) instead of this process.
    pub fn with_context_cache(mut self, cache: ContextCache) -> Self {
        self.context = cache;
        self
    }

    /// What answering `conversation` at `now` needs: the burst, the history within the TTL
    /// (through the short-term context cache) and the counters.
    pub async fn load_context(
        &self,
        conversation: ConversationId,
        now: OffsetDateTime,
    ) -> Result<Option<ReplyContext>, StoreError> {
        let ttl = time::Duration::try_from(self.config.history_ttl).unwrap_or(time::Duration::DAY);
        self.context.load(&*self.store, conversation, self.config.history_turns, now - ttl).await
    }

    /// Settings used to load context.
    pub fn config(&self) -> &BrainConfig {
        &self.config
    }

    /// Decides the answer to `ctx.pending`. Lifecycle:
    /// 1. gates: a person owns the conversation, or the AI is off → silent;
    /// 2. mood of the burst; input guard (an attack gets a safe answer, twice a handoff);
    /// 3. handoff rules: the customer asks, anger persists, the AI message limit;
    /// 4. knowledge search; no LLM configured → knowledge-only answer or handoff;
    /// 5. persona prompt → LLM chain → output guard (leaks, links, grounding, length);
    /// 6. LLM unavailable → a confident knowledge answer, else `Err` so the job retries.
    pub async fn decide(
        &self,
        ctx: &ReplyContext,
        tenant: &ResolvedTenant,
        now: OffsetDateTime,
    ) -> Result<Result<Outcome, LlmUnavailable>, StoreError> {
        let persona = &ctx.tenant.settings.persona;
        let language = persona.language();
        let burst = burst_text(ctx);
        let mood = sentiment::analyze(&burst, sentiment::detect_language(&burst));
        let negative = mood.compound <= handoff::STRONGLY_NEGATIVE;
        let update = ConversationUpdate {
            guard_strikes: ctx.conversation.guard_strikes,
            negative_streak: if negative { ctx.conversation.negative_streak + 1 } else { 0 },
            handoff: None,
            resume_idle: None,
            summary: None,
            survey: None,
        };
        let mut facts = Facts { ctx, persona, language, burst, mood, update, now, calls: Vec::new() };
        if ctx.conversation.state != ConversationState::Bot {
            match handoff::idle_since(ctx, now) {
                // The person went quiet: the bot takes the conversation back with this answer.
                Some(human_at) => {
                    info!("no person wrote for the idle period; the bot resumes");
                    facts.update.resume_idle = Some(human_at);
                }
                None => return Ok(Ok(facts.silent("human"))),
            }
        }
        // The first message after a CSAT question answers it, or dismisses it and is answered
        // as usual.
        if let Some(pending) = ctx.conversation.survey {
            let in_time = now - pending.asked_at <= ctx.tenant.settings.csat.answer_window();
            let rating = if in_time { csat::parse_rating(&facts.burst) } else { None };
            let text = crate::knowledge::excerpt(facts.burst.trim(), csat::MAX_ANSWER_CHARS);
            facts.update.survey = Some(SurveyAnswer { survey: pending.id, rating, text });
            if let Some(rating) = rating {
                info!(rating, "CSAT rating received");
                return Ok(Ok(facts.rated(rating)));
            }
        }
        if !persona.ai_enabled() || !ctx.tenant.flags.on(Flag::Ai) {
            return Ok(Ok(facts.silent("ai_off")));
        }
        if negative {
            metrics::counter!(m::INTENTS_TOTAL, "intent" => "negative").increment(1);
        }
        if let Some(outcome) = facts.gates() {
            return Ok(Ok(outcome));
        }
        let found = if ctx.tenant.flags.on(Flag::Knowledge) {
            self.knowledge.search(&*self.store, ctx.tenant.id, language, &facts.burst, KNOWLEDGE_IN_PROMPT).await?
        } else {
            Vec::new()
        };
        let confident = found.first().filter(|m| m.coverage >= KNOWLEDGE_ONLY_COVERAGE).map(|m| &m.row);
        // No LLM configured, or the `llm_provider` flag names one the tenant does not have.
        let providers = providers(&ctx.tenant, tenant);
        if providers.is_empty() {
            return Ok(Ok(match confident {
                Some(row) => facts.knowledge_answer(row, "no_llm"),
                // A first "oi" gets just the greeting; otherwise nothing matched: ask again politely
                // (the customer can still ask for a person).
                None if context::is_first_contact(ctx) && pick_greeting(&persona.greetings).is_some() => {
                    facts.answer(Vec::new(), json!({ "knowledge_only": "greeting" }), "greeting")
                }
                None => facts.fallback("no_match", "no knowledge entry matched".into()),
            }));
        }
        if let Some(period) = self.spend_cap_reached(&ctx.tenant, now).await? {
            info!(period, "the tenant's LLM spend cap is reached; no LLM call");
            metrics::counter!(m::LLM_SPEND_CAP_TOTAL, "tenant" => ctx.tenant.slug.clone(), "period" => period)
                .increment(1);
            return Ok(Ok(match confident {
                Some(row) => facts.knowledge_answer(row, "spend_cap"),
                None if ctx.tenant.settings.spend.on_cap == OnCap::Handoff && facts.handoffs_on() => {
                    facts.handoff(HandoffReason::SpendCap, json!({ "spend_cap": period }))
                }
                None => facts.fallback("spend_cap", format!("{period} LLM spend cap reached")),
            }));
        }
        let snippets: Vec<_> = found.iter().map(|m| &m.row).collect();
        let mut inputs = PromptInputs::from_persona(&ctx.tenant.name, persona);
        inputs.humor &= ctx.tenant.flags.on(Flag::Humour);
        inputs.mood = mood.mood().as_str();
        inputs.out_of_hours = out_of_hours(persona, now);

        let rules = rules_text(persona);
        inputs.knowledge = snippets.clone();
        inputs.summary = self.summary(&mut facts, &providers).await;
        let system = match render_system(persona, &inputs) {
            Ok(system) => system,
            Err(err) => {
                warn!(error = %err, "the persona's prompt template failed; using the fallback text");
                return Ok(Ok(facts.fallback("template", err)));
            }
        };
        let prompt = build_prompt(ctx, system.clone());
        let used: Vec<i64> = snippets.iter().map(|r| r.id).collect();
        let result = self.chain.complete(&ctx.tenant.slug, &providers, &prompt).await;
        Ok(match result {
            Ok(completion) => {
                facts.calls.push(LlmCall { model: completion.model.clone(), usage: completion.usage });
                let meta = json!({ "provider": completion.provider, "model": completion.model, "knowledge": used });
                Ok(facts.check_answer(&completion.text, &rules, tenant, meta, &used))
            }
            Err(ChainError::NoAnswer { provider, reason }) => {
                warn!(provider, %reason, "the model gave no usable answer");
                Ok(match confident {
                    Some(row) => facts.knowledge_answer(row, "llm_no_answer"),
                    None => facts.fallback("no_answer", reason),
                })
            }
            Err(err) => match confident {
                Some(row) => Ok(facts.knowledge_answer(row, "llm_unavailable")),
                None if err.class() == ErrorClass::Retryable => Err(self.unavailable(&facts, &providers, err)),
                None => {
                    warn!(error = %err, "the LLM refused the request; sending the fallback text");
                    Ok(facts.fallback("llm_failed", err.to_string()))
                }
            },
        })
    }

    /// Which cap (`daily`, `monthly`) the tenant's LLM spend has reached, if any.
    async fn spend_cap_reached(
        &self,
        tenant: &Tenant,
        now: OffsetDateTime,
    ) -> Result<Option<&'static str>, StoreError> {
        let (daily, monthly) = tenant.settings.spend.caps_micros();
        if daily.is_none() && monthly.is_none() {
            return Ok(None);
        }
        let (today, month) = self.store.llm_spend(tenant.id, &spend_day(now)).await?;
        Ok(if daily.is_some_and(|cap| today >= cap) {
            Some("daily")
        } else if monthly.is_some_and(|cap| month >= cap) {
            Some("monthly")
        } else {
            None
        })
    }

    /// The running summary of turns that left the prompt window: the stored one when it is
    /// recent enough, refreshed by the LLM every few turns (recorded with the answer), and
    /// extractive when the LLM cannot help.
    async fn summary(&self, facts: &mut Facts<'_>, providers: &[ProviderConfig]) -> Option<String> {
        let ctx = facts.ctx;
        let last_older = ctx.older.last()?.id;
        let stored = ctx.conversation.summary.clone();
        let fresh: Vec<_> = ctx.older.iter().filter(|m| m.id > ctx.conversation.summary_upto).collect();
        if fresh.len() < context::SUMMARY_REFRESH_TURNS && stored.is_some() {
            return stored;
        }
        let prompt = context::summary_prompt(stored.as_deref(), &fresh, facts.language);
        match self.chain.complete(&ctx.tenant.slug, providers, &prompt).await {
            Ok(done) if !done.text.trim().is_empty() => {
                facts.calls.push(LlmCall { model: done.model.clone(), usage: done.usage });
                let text = crate::knowledge::excerpt(done.text.trim(), context::SUMMARY_MAX_CHARS);
                facts.update.summary = Some((text.clone(), last_older));
                Some(text)
            }
            _ => context::summary(ctx, facts.language),
        }
    }

    /// What the person taking over reads: written by the tenant's LLM when one answers,
    /// extractive otherwise (no LLM, breaker open, an error). `messages` are the ticket's.
    /// Returns the text, how it was made (`llm` or `extractive`) and the LLM call it took.
    pub async fn handoff_summary(
        &self,
        tenant: &Tenant,
        resolved: &ResolvedTenant,
        conversation: &Conversation,
        messages: &[StoredMessage],
        reason: &str,
    ) -> (String, &'static str, Option<LlmCall>) {
        let persona = &tenant.settings.persona;
        let language = persona.language();
        let providers = providers(tenant, resolved);
        // Past a spend cap the summary is extractive too (a store error counts as "not capped").
        let capped = self.spend_cap_reached(tenant, OffsetDateTime::now_utc()).await.ok().flatten().is_some();
        if !providers.is_empty() && !capped {
            let prompt = handoff::summary_prompt(conversation, messages, reason, language);
            match self.chain.complete(&tenant.slug, &providers, &prompt).await {
                Ok(done) if !done.text.trim().is_empty() => {
                    let call = LlmCall { model: done.model.clone(), usage: done.usage };
                    return (handoff::bounded_summary(&done.text), "llm", Some(call));
                }
                Ok(_) => warn!("the LLM wrote an empty hand-off summary; using the extractive one"),
                Err(err) => warn!(error = %err, "no LLM hand-off summary; using the extractive one"),
            }
        }
        (handoff::extractive_summary(conversation, messages, reason, language), "extractive", None)
    }

    fn unavailable(&self, facts: &Facts<'_>, providers: &[ProviderConfig], err: ChainError) -> LlmUnavailable {
        // Retrying before a tripped breaker cools down would only spend an attempt.
        let slug = &facts.ctx.tenant.slug;
        let cooling = providers.iter().any(|p| self.chain.breaker_state(slug, p) != BreakerState::Closed);
        let asked = match &err {
            ChainError::Failed { last } => last.retry_after(),
            _ => None,
        };
        let retry_after = if cooling { Some(self.chain.breaker_cooldown()).max(asked) } else { asked };
        LlmUnavailable {
            reason: err.to_string(),
            retry_after,
            fallback: facts.fallback("llm_unavailable", err.to_string()),
        }
    }
}

impl Facts<'_> {
    /// Whether the `handoff` flag lets the bot hand over (off: it keeps the conversation).
    fn handoffs_on(&self) -> bool {
        self.ctx.tenant.flags.on(Flag::Handoff)
    }

    /// Input guard and handoff rules that need no knowledge and no LLM.
    fn gates(&self) -> Option<Outcome> {
        if let guard::InputVerdict::Attack { kind, evidence } = guard::check_input(&self.burst) {
            metrics::counter!(m::INTENTS_TOTAL, "intent" => "injection").increment(1);
            metrics::counter!(m::GUARD_BLOCKS_TOTAL, "direction" => "input", "reason" => kind.as_str()).increment(1);
            warn!(reason = kind.as_str(), evidence = %crate::telemetry::pii::text(&evidence), "prompt-injection attempt blocked");
            let strikes = self.update.guard_strikes + 1;
            let meta = json!({ "guard": kind.as_str() });
            let mut outcome = if strikes >= 2 && self.handoffs_on() {
                self.handoff(HandoffReason::GuardRepeated, meta)
            } else {
                self.answer(vec![self.safe_refusal().to_string()], meta, "guard")
            };
            outcome.update.guard_strikes = strikes;
            return Some(outcome);
        }
        if guard::wants_human(&self.burst) {
            metrics::counter!(m::INTENTS_TOTAL, "intent" => "human").increment(1);
            if !self.handoffs_on() {
                return Some(self.fallback("handoff_off", "the customer asked for a person; hand-offs are off".into()));
            }
            return Some(self.handoff(HandoffReason::CustomerAsked, json!({})));
        }
        if !self.handoffs_on() {
            return None;
        }
        if self.update.negative_streak >= handoff::NEGATIVE_STREAK_LIMIT {
            return Some(self.handoff(HandoffReason::NegativeMood, json!({ "mood": self.mood.compound })));
        }
        // A bot taking back an idle conversation starts its count again.
        let replies = if self.update.resume_idle.is_some() { 0 } else { context::ai_replies(self.ctx) };
        if let Some(limit) = self.persona.max_ai_messages
            && replies >= limit
        {
            return Some(self.handoff(HandoffReason::AiLimit, json!({ "limit": limit })));
        }
        None
    }

    /// Output guard, grounding, "cannot help", greeting and splitting of an LLM answer.
    fn check_answer(
        &self,
        text: &str,
        rules: &str,
        tenant: &ResolvedTenant,
        mut meta: Value,
        supplied: &[i64],
    ) -> Outcome {
        let (clean, mut cited) = strip_citations(text);
        // Only entries actually given to the model count as support.
        cited.retain(|id| supplied.contains(id));
        meta["cited"] = json!(cited);
        let policy = guard::OutputPolicy {
            max_chars: MAX_REPLY_CHARS,
            url_allowlist: self.persona.url_allowlist.clone(),
            forbidden: forbidden_texts(rules, tenant),
        };
        let parts = match guard::check_output(&clean, &policy) {
            Ok(parts) => parts,
            Err(block) => {
                metrics::counter!(m::GUARD_BLOCKS_TOTAL, "direction" => "output", "reason" => block.as_str())
                    .increment(1);
                warn!(reason = block.as_str(), "the model's answer was blocked");
                return self.fallback("output_guard", block.as_str().to_string());
            }
        };
        if self.persona.grounded_only.unwrap_or(false) && cited.is_empty() && states_facts(&clean) {
            metrics::counter!(m::GUARD_BLOCKS_TOTAL, "direction" => "output", "reason" => "ungrounded").increment(1);
            return self.fallback("ungrounded", "facts without a knowledge citation".into());
        }
        if guard::says_cannot_help(&clean) {
            if !self.handoffs_on() {
                return self.fallback("handoff_off", "the model cannot help; hand-offs are off".into());
            }
            return self.handoff(HandoffReason::CannotHelp, meta);
        }
        info!(parts = parts.len(), "answer generated");
        self.answer(parts, meta, "llm")
    }

    fn answer(&self, mut parts: Vec<String>, mut meta: Value, source: &'static str) -> Outcome {
        if context::is_first_contact(self.ctx)
            && let Some(greeting) = pick_greeting(&self.persona.greetings)
        {
            parts.insert(0, greeting.trim().to_string());
            meta["greeting"] = json!(true);
        }
        Outcome {
            decision: Decision::Answer { parts, meta: self.stamp(meta, source) },
            update: self.update.clone(),
            mood: self.mood,
            llm_calls: self.calls.clone(),
        }
    }

    fn knowledge_answer(&self, row: &crate::store::KnowledgeRow, why: &str) -> Outcome {
        let parts = guard::split_message(&row.answer, MAX_REPLY_CHARS);
        self.answer(parts, json!({ "knowledge": [row.id], "knowledge_only": why }), "knowledge")
    }

    fn handoff(&self, reason: HandoffReason, meta: Value) -> Outcome {
        info!(reason = reason.as_str(), "handing the conversation to a person");
        let settings = &self.ctx.tenant.settings.handoff;
        let text = match (&self.persona.out_of_hours_text, out_of_hours(self.persona, self.now)) {
            (Some(text), true) => text.clone(),
            _ => handoff::handoff_text(settings, self.persona),
        };
        let mut meta = self.stamp(meta, "handoff");
        meta["handoff"] = json!(reason.as_str());
        let sla = settings.sla_minutes.map(|minutes| time::Duration::minutes(i64::from(minutes)));
        let new = NewHandoff { reason: reason.as_str().to_string(), sla };
        let update = ConversationUpdate { handoff: Some(new), ..self.update.clone() };
        Outcome {
            decision: Decision::Handoff { reason, parts: vec![text], meta },
            update,
            mood: self.mood,
            llm_calls: self.calls.clone(),
        }
    }

    fn fallback(&self, kind: &str, reason: String) -> Outcome {
        let parts = vec![self.persona.fallback_text().to_string()];
        self.answer(parts, json!({ "fallback": kind, "reason": reason }), "fallback")
    }

    /// The thanks for a CSAT rating.
    fn rated(&self, rating: u8) -> Outcome {
        let parts = vec![csat::thanks_text(&self.ctx.tenant.settings.csat, self.persona, rating)];
        let meta = self.stamp(json!({ "csat": rating }), "csat");
        Outcome {
            decision: Decision::Answer { parts, meta },
            update: self.update.clone(),
            mood: self.mood,
            llm_calls: self.calls.clone(),
        }
    }

    fn silent(&self, reason: &'static str) -> Outcome {
        Outcome {
            decision: Decision::Silent { reason },
            update: self.update.clone(),
            mood: self.mood,
            llm_calls: self.calls.clone(),
        }
    }

    fn safe_refusal(&self) -> &'static str {
        match self.language {
            Language::PtBr => {
                "Desculpe, não posso ajudar com esse pedido. Posso ajudar com alguma dúvida sobre nossos produtos ou serviços?"
            }
            Language::En => {
                "Sorry, I can't help with that request. Can I help you with something about our products or services?"
            }
        }
    }

    /// Prompt version, mood and source, recorded with every answer.
    fn stamp(&self, mut meta: Value, source: &str) -> Value {
        meta["prompt_version"] = json!(self.ctx.tenant.persona_version);
        meta["mood"] = json!(self.mood.compound);
        meta["source"] = json!(source);
        meta
    }
}

/// The fixed rules of the built-in prompt, without anything an answer may legitimately
/// repeat (company name, closing phrase, hours, business facts, knowledge): what an answer
/// must never echo.
fn rules_text(persona: &PersonaTable) -> String {
    let bare = PersonaTable { closing: None, instructions: None, ..persona.clone() };
    let inputs = PromptInputs::from_persona("", &bare);
    let text = render_system(&bare, &inputs).unwrap_or_default();
    // The first line names the company ("…virtual da X no WhatsApp"); answers may say that.
    text.lines().skip(1).collect::<Vec<_>>().join("\n")
}

/// Texts an answer must never contain: the prompt's rules and the tenant's secrets.
fn forbidden_texts(system: &str, tenant: &ResolvedTenant) -> Vec<String> {
    let mut texts = vec![system.to_string()];
    texts.extend(tenant.llm.iter().filter_map(|l| l.api_key.as_ref()).map(|k| k.expose().to_string()));
    texts.extend(tenant.whaticket.iter().map(|w| w.token.expose().to_string()));
    texts.extend(tenant.webhook_secrets.iter().map(|s| s.expose().to_string()));
    texts.extend(tenant.inbound_tokens.iter().map(|s| s.expose().to_string()));
    texts
}

/// One of the persona's greetings, at random, so returning customers do not always read the same line.
fn pick_greeting(greetings: &[String]) -> Option<&String> {
    use rand::seq::IndexedRandom;
    let usable: Vec<&String> = greetings.iter().filter(|g| !g.trim().is_empty()).collect();
    usable.choose(&mut rand::rng()).copied()
}

/// Removes `[kb:12]` citations; returns the clean text and the cited ids.
fn strip_citations(text: &str) -> (String, Vec<i64>) {
    let mut clean = String::with_capacity(text.len());
    let mut cited = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("[kb:") {
        let after = &rest[start + 4..];
        let digits: String = after.chars().take_while(|c| c.is_ascii_digit() || *c == ',' || *c == ' ').collect();
        if after[digits.len()..].starts_with(']') && !digits.trim().is_empty() {
            clean.push_str(rest[..start].trim_end_matches(' '));
            cited.extend(digits.split(',').filter_map(|d| d.trim().parse::<i64>().ok()));
            rest = &after[digits.len() + 1..];
        } else {
            clean.push_str(&rest[..start + 4]);
            rest = after;
        }
    }
    clean.push_str(rest);
    cited.sort_unstable();
    cited.dedup();
    (clean.trim().to_string(), cited)
}

/// Prices, percentages, dates and other figures count as facts for `grounded_only`.
fn states_facts(text: &str) -> bool {
    text.contains("R$") || text.contains('%') || text.chars().any(|c| c.is_ascii_digit())
}

/// The UTC day spend is counted in, `YYYY-MM-DD`.
pub fn spend_day(now: OffsetDateTime) -> String {
    let date = now.to_offset(time::UtcOffset::UTC).date();
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// The LLM chain of a tenant: its providers in order, narrowed by the `llm_provider` flag
/// (`primary` or `fallback` alone) and with the `llm_model` flag over every model.
fn providers(tenant: &Tenant, resolved: &ResolvedTenant) -> Vec<ProviderConfig> {
    let persona = &tenant.settings.persona;
    let only = match tenant.flags.text(Flag::LlmProvider) {
        Some("primary") => Some(0),
        Some("fallback") => Some(1),
        _ => None,
    };
    let model = tenant.flags.text(Flag::LlmModel);
    resolved
        .llm
        .iter()
        .enumerate()
        .filter(|(i, _)| only.is_none_or(|only| only == *i))
        .map(|(_, llm)| {
            let mut config = provider_config(llm, persona);
            if let Some(model) = model {
                config.model = model.to_string();
            }
            config
        })
        .collect()
}

fn provider_config(llm: &ResolvedLlm, persona: &PersonaTable) -> ProviderConfig {
    ProviderConfig {
        kind: match llm.provider {
            ProviderChoice::Openai => ProviderKind::OpenAi,
            _ => ProviderKind::Gemini,
        },
        base_url: llm.base_url.clone(),
        api_key: llm.api_key.as_ref().map(|k| k.to_secret_string()),
        model: persona.model.clone().unwrap_or_else(|| llm.model.clone()),
        temperature: persona.temperature.or(llm.temperature),
        max_output_tokens: llm.max_output_tokens,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn citations_are_removed_from_the_text_and_collected() {
        let (clean, cited) = strip_citations("Entregamos em 3 dias úteis [kb:12]. O frete é grátis [kb: 4, 12].");
        assert_eq!(clean, "Entregamos em 3 dias úteis. O frete é grátis.");
        assert_eq!(cited, vec![4, 12]);
        assert_eq!(strip_citations("[kb:x] nada").0, "[kb:x] nada");
    }

    #[test]
    fn figures_and_prices_count_as_facts() {
        assert!(states_facts("Custa R$ 30"));
        assert!(states_facts("Chega em 5 dias"));
        assert!(!states_facts("Posso ajudar com mais alguma coisa?"));
    }
}
