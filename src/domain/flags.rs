//! Per-tenant feature flags: switches an operator flips at run time (`atende flags set`),
//! read with the tenant on every job and webhook, so a change needs no restart and no new
//! tenant file. Every switch is on by default; a flag only narrows what the tenant file
//! turned on (`ai = off` silences the bot, `csat = on` does not survey a tenant without
//! `[csat]`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flag {
    /// The bot answers at all.
    Ai,
    /// Knowledge-base search for answers.
    Knowledge,
    /// Embeddings for knowledge search (reserved: Atende ranks with full-text search today).
    Embeddings,
    /// The persona's humour.
    Humour,
    /// CSAT surveys.
    Csat,
    /// Hand-offs to a person.
    Handoff,
    /// E-mail fallback.
    FallbackEmail,
    /// SMS fallback.
    FallbackSms,
    /// Outbound events to `[[events]]` receivers.
    Events,
    /// Which configured LLM answers: `primary` or `fallback` (unset: primary, then fallback).
    LlmProvider,
    /// The model every LLM call uses, over the tenant file's.
    LlmModel,
}

/// What a flag holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlagKind {
    /// on / off (default on).
    Switch,
    /// One of a few words.
    Choice(&'static [&'static str]),
    /// Free text (a model name).
    Text,
}

impl Flag {
    /// Every flag, in the order listings show them.
    pub const ALL: [Flag; 11] = [
        Flag::Ai,
        Flag::Knowledge,
        Flag::Embeddings,
        Flag::Humour,
        Flag::Csat,
        Flag::Handoff,
        Flag::FallbackEmail,
        Flag::FallbackSms,
        Flag::Events,
        Flag::LlmProvider,
        Flag::LlmModel,
    ];

    /// The flag's name in commands and storage.
    pub fn name(self) -> &'static str {
        match self {
            Self::Ai => "ai",
            Self::Knowledge => "knowledge",
            Self::Embeddings => "embeddings",
            Self::Humour => "humour",
            Self::Csat => "csat",
            Self::Handoff => "handoff",
            Self::FallbackEmail => "fallback_email",
            Self::FallbackSms => "fallback_sms",
            Self::Events => "events",
            Self::LlmProvider => "llm_provider",
            Self::LlmModel => "llm_model",
        }
    }

    /// Reads a name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|flag| flag.name() == name)
    }

    /// What values it takes.
    pub fn kind(self) -> FlagKind {
        match self {
            Self::LlmProvider => FlagKind::Choice(&["primary", "fallback"]),
            Self::LlmModel => FlagKind::Text,
            _ => FlagKind::Switch,
        }
    }

    /// Reads an operator's value for this flag into what is stored.
    pub fn value(self, raw: &str) -> Result<FlagValue, String> {
        let raw = raw.trim();
        match self.kind() {
            FlagKind::Switch => match raw.to_ascii_lowercase().as_str() {
                "on" | "true" | "yes" | "sim" | "1" => Ok(FlagValue::Switch(true)),
                "off" | "false" | "no" | "nao" | "não" | "0" => Ok(FlagValue::Switch(false)),
                _ => Err(format!("{}: {raw:?} is not on or off", self.name())),
            },
            FlagKind::Choice(choices) if choices.contains(&raw) => Ok(FlagValue::Text(raw.to_string())),
            FlagKind::Choice(choices) => Err(format!("{}: {raw:?} is not one of {}", self.name(), choices.join(", "))),
            FlagKind::Text => {
                let ok = !raw.is_empty()
                    && raw.len() <= 100
                    && raw.chars().all(|c| c.is_ascii_alphanumeric() || "-._:/@".contains(c));
                if ok {
                    Ok(FlagValue::Text(raw.to_string()))
                } else {
                    Err(format!("{}: {raw:?} is not a model name (letters, digits and -._:/@, up to 100)", self.name()))
                }
            }
        }
    }
}

/// A stored value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FlagValue {
    /// A switch.
    Switch(bool),
    /// A choice or a text.
    Text(String),
}

/// A tenant's flags as stored: only those an operator set.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Flags(BTreeMap<String, FlagValue>);

impl Flags {
    /// Whether a switch is on (unset: on). Not meant for text flags.
    pub fn on(&self, flag: Flag) -> bool {
        !matches!(self.0.get(flag.name()), Some(FlagValue::Switch(false)))
    }

    /// A text flag's value, when set.
    pub fn text(&self, flag: Flag) -> Option<&str> {
        match self.0.get(flag.name()) {
            Some(FlagValue::Text(text)) => Some(text),
            _ => None,
        }
    }

    /// The stored value of `flag`, when set.
    pub fn get(&self, flag: Flag) -> Option<&FlagValue> {
        self.0.get(flag.name())
    }
}

impl std::fmt::Display for FlagValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Switch(true) => f.write_str("on"),
            Self::Switch(false) => f.write_str("off"),
            Self::Text(text) => f.write_str(text),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switches_default_on_and_read_what_operators_type() {
        let flags: Flags = serde_json::from_str(r#"{"csat": false, "llm_model": "gemini-2.5-flash"}"#).unwrap();
        assert!(!flags.on(Flag::Csat));
        assert!(flags.on(Flag::Ai), "unset means on");
        assert_eq!(flags.text(Flag::LlmModel), Some("gemini-2.5-flash"));
        for raw in ["off", "OFF", "false", "não", "0"] {
            assert_eq!(Flag::Ai.value(raw), Ok(FlagValue::Switch(false)), "{raw}");
        }
        assert_eq!(Flag::Ai.value(" on "), Ok(FlagValue::Switch(true)));
        assert!(Flag::Ai.value("maybe").unwrap_err().contains("not on or off"));
        assert!(Flag::LlmProvider.value("secondary").unwrap_err().contains("primary, fallback"));
        assert!(Flag::LlmModel.value("gemini 2.5").is_err());
        assert_eq!(Flag::parse("fallback_sms"), Some(Flag::FallbackSms));
        assert_eq!(Flag::parse("humor"), None);
    }

    #[test]
    fn stored_flags_round_trip_as_a_json_object() {
        let text = r#"{"ai":false,"llm_provider":"fallback"}"#;
        let flags: Flags = serde_json::from_str(text).unwrap();
        assert_eq!(serde_json::to_string(&flags).unwrap(), text);
        assert_eq!(flags.get(Flag::Ai).map(ToString::to_string).as_deref(), Some("off"));
    }
}
