//! `atende chat <tenant>`: a terminal conversation with the tenant's real brain, showing
//! per turn the mood, the knowledge used and the decision. Nothing is sent to a helpdesk
//! and the conversation is kept in memory only.

use anyhow::Context;
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, BufReader};

use super::Lang;
use super::commands::{not_found_tenant, open};
use crate::app::llm_settings;
use crate::brain::{Brain, Decision, Outcome, detached_conversation, detached_message};
use crate::config::Config;
use crate::domain::{ConversationState, Direction};
use crate::llm::LlmChain;
use crate::store::{Conversation, ReplyContext, StoredMessage, Tenant};

/// Runs the conversation until end of input or `/sair`.
pub async fn run(config: &Config, slug: &str, lang: Lang) -> anyhow::Result<()> {
    let store = open(config, lang).await?;
    let tenant = store.find_tenant(slug).await?.with_context(|| not_found_tenant(slug, lang))?;
    let resolved = tenant.resolve().map_err(|e| anyhow::anyhow!("tenant {slug}: {e}"))?;
    let brain = Brain::new(LlmChain::new(llm_settings(&config.llm)), config.brain.clone(), store.clone());
    let mode = if resolved.llm.is_empty() {
        lang.pick("só base de conhecimento (sem LLM)", "knowledge base only (no LLM)")
    } else {
        lang.pick("LLM configurado", "configured LLM")
    };
    println!(
        "{} — {mode}. {}",
        tenant.name,
        lang.pick("/reset recomeça, /sair encerra.", "/reset starts over, /quit exits.")
    );
    let mut chat = Chat::new(&tenant, config.brain.history_turns as usize);
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    while let Some(line) = lines.next_line().await? {
        let line = line.trim();
        match line {
            "" => continue,
            "/sair" | "/quit" | "/exit" => break,
            "/reset" => {
                chat = Chat::new(&tenant, config.brain.history_turns as usize);
                println!("({})", lang.pick("nova conversa", "new conversation"));
                continue;
            }
            _ => {}
        }
        let ctx = chat.context(line);
        let outcome = match brain.decide(&ctx, &resolved, OffsetDateTime::now_utc()).await? {
            Ok(outcome) => outcome,
            Err(unavailable) => {
                println!("({}: {})", lang.pick("LLM indisponível", "LLM unavailable"), unavailable.reason);
                unavailable.fallback
            }
        };
        for part in outcome.parts() {
            println!("bot> {part}");
        }
        println!("     [{}]", describe(&outcome, lang));
        chat.record(ctx, &outcome);
    }
    Ok(())
}

/// The in-memory conversation.
struct Chat<'a> {
    tenant: &'a Tenant,
    conversation: Conversation,
    transcript: Vec<StoredMessage>,
    window: usize,
    /// Bot replies so far (for the AI message limit).
    replies: u32,
}

impl<'a> Chat<'a> {
    fn new(tenant: &'a Tenant, window: usize) -> Self {
        let conversation = detached_conversation(tenant, "terminal");
        Self { tenant, conversation, transcript: Vec::new(), window, replies: 0 }
    }

    fn message(&self, direction: Direction, body: &str) -> StoredMessage {
        detached_message(self.transcript.len() as i64 + 1, direction, body)
    }

    fn context(&self, line: &str) -> ReplyContext {
        let split = self.transcript.len().saturating_sub(self.window);
        ReplyContext {
            tenant: self.tenant.clone(),
            conversation: self.conversation.clone(),
            pending: vec![self.message(Direction::Inbound, line)],
            history: self.transcript[split..].to_vec(),
            older: self.transcript[..split].to_vec(),
            earlier_messages: self.transcript.len() as u32,
            ai_replies: self.replies,
        }
    }

    fn record(&mut self, ctx: ReplyContext, outcome: &Outcome) {
        self.transcript.extend(ctx.pending);
        if !outcome.parts().is_empty() {
            self.replies += 1;
        }
        for part in outcome.parts() {
            let message = self.message(Direction::Outbound, part);
            self.transcript.push(message);
        }
        self.conversation.guard_strikes = outcome.update.guard_strikes;
        self.conversation.negative_streak = outcome.update.negative_streak;
        if let Some((summary, upto)) = &outcome.update.summary {
            self.conversation.summary = Some(summary.clone());
            self.conversation.summary_upto = *upto;
        }
        if outcome.update.handoff.is_some() {
            self.conversation.state = ConversationState::Human;
        }
    }
}

/// `humor +0.42 (positive) · conhecimento kb:3 · decisão: answer (llm)`.
fn describe(outcome: &Outcome, lang: Lang) -> String {
    let meta = outcome.meta();
    let knowledge: Vec<String> =
        meta["knowledge"].as_array().map(|ids| ids.iter().map(|id| format!("kb:{id}")).collect()).unwrap_or_default();
    let decision = match &outcome.decision {
        Decision::Answer { .. } => format!("answer ({})", meta["source"].as_str().unwrap_or("-")),
        Decision::Handoff { reason, .. } => format!("handoff ({})", reason.as_str()),
        Decision::Silent { reason } => format!("silent ({reason})"),
    };
    format!(
        "{} {:+.2} ({}) · {} {} · {}: {decision}",
        lang.pick("humor", "mood"),
        outcome.mood.compound,
        outcome.mood.mood().as_str(),
        lang.pick("conhecimento", "knowledge"),
        if knowledge.is_empty() { "-".to_string() } else { knowledge.join(", ") },
        lang.pick("decisão", "decision"),
    )
}
