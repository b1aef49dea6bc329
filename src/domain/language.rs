//! Languages Atende speaks with customers.

use serde::{Deserialize, Serialize};

/// A customer-facing language; pt-BR first.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Language {
    /// Português do Brasil (default).
    #[default]
    #[serde(rename = "pt-BR")]
    PtBr,
    /// English.
    #[serde(rename = "en")]
    En,
}

impl Language {
    /// BCP 47 tag.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PtBr => "pt-BR",
            Self::En => "en",
        }
    }

    /// The text for this language.
    pub fn pick<'a>(self, pt_br: &'a str, en: &'a str) -> &'a str {
        match self {
            Self::PtBr => pt_br,
            Self::En => en,
        }
    }

    /// Reads `pt-BR`, `pt`, `pt_BR`, `en`, `en-US`… (case-insensitive).
    pub fn parse(tag: &str) -> Option<Self> {
        let tag = tag.to_ascii_lowercase();
        if tag == "pt" || tag.starts_with("pt-") || tag.starts_with("pt_") {
            Some(Self::PtBr)
        } else if tag == "en" || tag.starts_with("en-") || tag.starts_with("en_") {
            Some(Self::En)
        } else {
            None
        }
    }
}
