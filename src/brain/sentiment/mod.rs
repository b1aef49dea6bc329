//! Sentiment of customer messages in pt-BR and English, for adaptive tone and handoff rules.
//!
//! Part of `brain` (layer 4); pure, no I/O. Imports only `crate::domain`.
//!
//! [`analyze`] is a rule-based VADER scorer (Hutto & Gilbert 2014) over the LeIA lexicon for
//! pt-BR and the VADER lexicon for English, embedded from `assets/lexicons/` (MIT; see the
//! README there) and parsed once on first use. It handles:
//! - lexicon valence, with pt-BR plural/feminine/`-íssimo` folding (`ótimas` → `otimo`);
//! - accents and case (`Péssimo` = `pessimo`) and elongation (`muitooo`, `goood`);
//! - negation within three words and the same clause (`não`, `nunca`, `jamais`, `nem`, `nada`,
//!   `sem`…; `not`, `n't`, `never`, `no`…), so "Não, obrigado" stays polite;
//! - boosters and dampeners before the word (`muito`, `super`, `extremamente`, `pouco`; `very`,
//!   `kind of`) and, in pt-BR, after it (`gostei demais`, `ruim pra caramba`);
//! - contrast: the first `mas`/`porém`/`but` halves what precedes and weighs what follows by 1.5;
//! - ALL-CAPS emphasis, only when the message is not all caps; up to four `!`, two or more `?`;
//! - emoji (valence from the emoji lexicons' descriptions, with overrides for common support-chat
//!   emoji) and emoticons (`:)`, `:(`); neither is negated or boosted;
//! - pt-BR chat spellings (`vc`, `pq`, `mt`, `mto`, `n`, `ñ`, `tbm`, `blz`, `obg`, `vlw`…) and
//!   laughter (`kkk`, `rsrs`, `haha`) as mildly positive;
//! - greetings and polite requests as neutral (`bom dia`, `tudo bem?`, `would like`).
//!
//! `eval` holds the label metrics shared by `atende eval`.

mod chat;
mod detect;
mod eval;
mod lexicon;
mod text;
mod vader;

#[cfg(test)]
mod tests;

use crate::domain::Language;

pub use detect::detect_language;
pub use eval::{EvalReport, LabelMetrics, LabelledLine, evaluate, read_labelled};

/// Polarity of one message, as VADER reports it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sentiment {
    /// Normalised overall polarity in [-1, 1].
    pub compound: f32,
    /// Share of the message that is positive, in [0, 1].
    pub positive: f32,
    /// Share of the message that is negative, in [0, 1].
    pub negative: f32,
    /// Share of the message that is neutral, in [0, 1]; the three shares sum to 1.
    pub neutral: f32,
}

impl Sentiment {
    /// A message with no sentiment at all (also the result for empty input).
    pub const NEUTRAL: Sentiment = Sentiment { compound: 0.0, positive: 0.0, negative: 0.0, neutral: 1.0 };

    /// The mood by VADER's thresholds: compound ≥ 0.05 positive, ≤ -0.05 negative.
    pub fn mood(&self) -> Mood {
        if self.compound >= 0.05 {
            Mood::Positive
        } else if self.compound <= -0.05 {
            Mood::Negative
        } else {
            Mood::Neutral
        }
    }
}

/// Coarse mood of a message, used to pick the reply tone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mood {
    /// Complaint, frustration, anger.
    Negative,
    /// Questions, information, no clear feeling.
    Neutral,
    /// Praise, thanks, satisfaction.
    Positive,
}

impl Mood {
    /// The label used in metrics and evaluation files: `negative`, `neutral`, `positive`.
    pub fn as_str(self) -> &'static str {
        match self {
            Mood::Negative => "negative",
            Mood::Neutral => "neutral",
            Mood::Positive => "positive",
        }
    }
}

/// Scores `text` in `lang` with VADER-style rules (see the module documentation for what is
/// handled). Never panics; empty or punctuation-only input is [`Sentiment::NEUTRAL`].
pub fn analyze(text: &str, lang: Language) -> Sentiment {
    vader::polarity(text, lang)
}
