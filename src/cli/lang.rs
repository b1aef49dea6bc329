//! Operator language: pt-BR by default, English with `ATENDE_LANG=en`.

use clap::Command;

/// Language of operator-facing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Português do Brasil (default).
    PtBr,
    /// English.
    En,
}

impl Lang {
    /// `ATENDE_LANG=en` (or `en-US`, `en_US`…) selects English; anything else pt-BR.
    pub fn from_env() -> Self {
        match std::env::var("ATENDE_LANG") {
            Ok(v) if v.to_ascii_lowercase().starts_with("en") => Self::En,
            _ => Self::PtBr,
        }
    }

    /// The text for this language.
    pub fn pick<'a>(self, pt_br: &'a str, en: &'a str) -> &'a str {
        match self {
            Self::PtBr => pt_br,
            Self::En => en,
        }
    }
}

/// English help, keyed by subcommand path ("" is the root) and argument id ("" is the
/// command's own `about`). The pt-BR text lives in the clap derive of `cli.rs`.
const EN: &[(&str, &str, &str)] = &[
    ("", "", "Atende: AI attendant for WhatsApp helpdesks."),
    ("", "config", "Configuration file (default: ./atende.toml when present)."),
    ("serve", "", "Run Atende: webhooks, operations endpoints and queue workers."),
    ("serve", "role", "Parts to run: all, api (HTTP only) or worker (queue only)."),
    ("migrate", "", "Apply pending database migrations."),
    ("migrate status", "", "Show applied, pending and unknown migrations (changes nothing)."),
    ("tenant", "", "Manage tenants."),
    ("tenant apply", "", "Create or update a tenant from a TOML file (idempotent)."),
    ("tenant apply", "file", "Tenant file, e.g. tenant.toml."),
    ("tenant show", "", "Show a tenant with secrets masked."),
    ("tenant show", "slug", "Tenant id (slug)."),
    ("tenant list", "", "List tenants."),
    ("dlq", "", "Dead-letter queue: inspect and reprocess."),
    ("dlq list", "", "List dead letters, newest first."),
    ("dlq show", "", "Show a job with its attempt history (JSON)."),
    ("dlq show", "id", "Job id."),
    ("dlq replay", "", "Queue dead jobs again with attempts reset."),
    ("dlq replay", "ids", "Job ids."),
    ("dlq replay", "all", "Every dead letter matching the filter."),
    ("dlq discard", "", "Discard dead jobs."),
    ("dlq discard", "ids", "Job ids."),
    ("conversation", "", "Control the bot in one conversation."),
    ("conversation resume", "", "Hand the conversation back to the bot (after a human agent took over)."),
    ("conversation pause", "", "Pause the bot in this conversation (a human answers)."),
    ("handoff", "", "Hand-offs to human agents: summary, ticket and SLA."),
    ("handoff list", "", "List a tenant's hand-offs, newest first."),
    ("events", "", "Events sent to the tenant's outbound webhooks (n8n): delivery log."),
    ("events log", "", "A tenant's event deliveries, newest first."),
    ("csat", "", "Satisfaction surveys (CSAT): customers' ratings and their mean."),
    ("csat list", "", "A tenant's surveys, newest first, with the mean of the last 30 days."),
    ("flags", "", "A tenant's feature flags, effective at once, without a restart."),
    ("flags list", "", "Show every flag with its effective value and whether it is the default."),
    (
        "flags set",
        "",
        "Set a flag: on/off (ai, knowledge, embeddings, humour, csat, handoff, fallback_email, fallback_sms, events), primary/fallback (llm_provider) or a model (llm_model).",
    ),
    ("flags set", "name", "Flag name."),
    ("flags set", "value", "Value."),
    ("flags unset", "", "Put a flag back to its default."),
    ("flags unset", "name", "Flag name."),
    ("kb", "", "A tenant's knowledge base: import and search."),
    ("kb import", "", "Import a CSV (header with question,answer), JSONL or Markdown (one entry per ## section) file."),
    ("kb import", "file", "A .csv, .jsonl or .md file."),
    ("kb import", "format", "Format, when the extension does not tell: csv, jsonl or markdown."),
    ("kb search", "", "Search the knowledge base as the bot does and show entries with their score."),
    ("kb search", "text", "Question text."),
    ("kb search", "json", "JSON output: [{\"id\",\"question\",\"answer\",\"score\",\"coverage\"}], best first."),
    (
        "kb search",
        "engine",
        "Search engine: memory (BM25 in Atende) or database (the database's full-text search); default: [brain] knowledge_search.",
    ),
    ("persona", "", "A tenant's persona: version history and rollback."),
    ("persona history", "", "List persona versions, newest first."),
    ("persona rollback", "", "Go back to an earlier persona version (default: the previous one)."),
    ("persona rollback", "to", "Version to restore."),
    ("chat", "", "Talk to the tenant's real brain in the terminal (configured LLM, or knowledge base only)."),
    ("eval", "", "Measure the detectors on a labelled JSONL file ({\"text\": \"...\", \"label\": \"...\"} per line)."),
    ("eval", "detector", "injection (attack/benign), sentiment (positive/negative/neutral) or handoff (human/other)."),
    ("eval", "file", "JSONL file."),
    ("conversation close", "", "Close the ticket: the next message starts a new context (with greeting)."),
    (
        "loadtest",
        "",
        "Load test: send signed webhooks to an Atende on this machine and summarise latency and statuses.",
    ),
    ("loadtest", "url", "Atende's address (this machine only), e.g. http://127.0.0.1:8080."),
    ("loadtest", "tenant", "Tenant (slug) whose generic webhook receives the load."),
    ("loadtest", "secret", "The tenant's HMAC secret ([webhook] secrets)."),
    ("loadtest", "requests", "Number of webhooks."),
    ("loadtest", "concurrency", "Webhooks in flight."),
    ("loadtest", "rate", "Maximum pace, in webhooks per second (default: as fast as possible)."),
    ("loadtest", "contacts", "Distinct contacts the messages are spread over."),
    ("loadtest", "max_duration", "Longest the test may run; whatever is left is not sent."),
    ("loadtest", "prom", "Also print the summary in Prometheus text format."),
    ("check", "", "Validate configuration, database and every tenant, and print the effective configuration."),
    ("check", "files", "Tenant files to validate too (without applying)."),
];

const EN_FILTER: &[(&str, &str)] = &[
    ("tenant", "Only this tenant (slug)."),
    ("kind", "Only this job kind (reply, deliver, handoff, sla, notify, idle, fallback)."),
    ("limit", "At most this many."),
    ("json", "JSON output."),
    ("contact", "Contact number, digits with country code (e.g. 5511999999999)."),
    ("limit", "At most this many."),
];

/// Rewrites help texts for `lang` (pt-BR needs nothing).
pub fn localize(command: Command, lang: Lang) -> Command {
    if lang == Lang::PtBr {
        return command;
    }
    localize_at(command, "")
}

fn localize_at(mut command: Command, path: &str) -> Command {
    for (p, arg, text) in EN.iter().filter(|(p, _, _)| *p == path) {
        let _ = p;
        command = if arg.is_empty() { command.about(*text) } else { command.mut_arg(*arg, |a| a.help(*text)) };
    }
    for (arg, text) in EN_FILTER {
        if command.get_arguments().any(|a| a.get_id() == *arg) {
            command = command.mut_arg(*arg, |a| a.help(*text));
        }
    }
    let names: Vec<String> = command.get_subcommands().map(|s| s.get_name().to_string()).collect();
    for name in names {
        let child = if path.is_empty() { name.clone() } else { format!("{path} {name}") };
        command = command.mut_subcommand(&name, |sub| localize_at(sub, &child));
    }
    command
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;
    use crate::cli::Cli;

    #[test]
    fn english_help_replaces_the_portuguese_texts() {
        let mut command = localize(Cli::command(), Lang::En);
        let help = command.render_long_help().to_string();
        assert!(help.contains("AI attendant"), "{help}");
        let mut dlq = command.find_subcommand_mut("dlq").unwrap().clone();
        assert!(dlq.render_help().to_string().contains("Dead-letter queue"));
    }

    #[test]
    fn every_english_entry_names_an_existing_command_and_argument() {
        let root = Cli::command();
        for (path, arg, _) in EN {
            let mut command = &root;
            for name in path.split_whitespace() {
                command = command.find_subcommand(name).unwrap_or_else(|| panic!("no subcommand {path}"));
            }
            assert!(arg.is_empty() || command.get_arguments().any(|a| a.get_id() == *arg), "{path} {arg}");
        }
    }
}
