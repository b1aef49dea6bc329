//! VADER's scoring rules (Hutto & Gilbert 2014; vaderSentiment 3.3.2 and LeIA) over [`Tokens`].
//!
//! Per token: lexicon valence → ALL-CAPS emphasis → up to three preceding boosters (damped by
//! distance) and negations in the same clause → pt-BR trailing booster (`gostei demais`). Then
//! the first contrast word (`mas`, `but`) halves what came before and weighs what follows by
//! 1.5, `!` and `?` amplify the sum, and the sum is normalised to [-1, 1].

use crate::domain::Language;

use super::Sentiment;
use super::lexicon::{self, Lexicon};
use super::text::{Text, Tokens, tokenize};

/// Valence added to a word written in ALL CAPS among lower-case words.
const C_INCR: f32 = 0.733;
/// Factor applied to a negated valence.
const N_SCALAR: f32 = -0.74;
/// Booster weight by distance (1, 2, 3 words before the sentiment word).
const DAMPING: [f32; 3] = [1.0, 0.95, 0.9];
/// Normalisation constant approximating the maximum expected sum.
const ALPHA: f32 = 15.0;

/// Pairs in which a lexicon word carries no sentiment: greetings and polite requests.
const NEUTRAL_PAIRS: &[(&str, &str)] = &[
    ("bom", "dia"),
    ("boa", "tarde"),
    ("boa", "noite"),
    ("tudo", "bem"),
    ("tudo", "bom"),
    ("good", "morning"),
    ("good", "afternoon"),
    ("good", "evening"),
    ("good", "night"),
    ("would", "like"),
    ("i'd", "like"),
    ("we'd", "like"),
];

/// Contrastive conjunctions: sentiment after them dominates.
fn contrasts(lang: Language) -> &'static [&'static str] {
    match lang {
        Language::PtBr => &["mas", "porem", "entretanto", "todavia", "contudo"],
        Language::En => &["but"],
    }
}

/// Scores `text` with the rules above.
pub(super) fn polarity(text: &str, lang: Language) -> Sentiment {
    let lexicon = lexicon::for_language(lang);
    let tokens = tokenize(text, lang, lexicon);
    let scorer = Scorer { lexicon, lang, caps_differ: tokens.caps_differ(), tokens: &tokens };
    let mut valences: Vec<f32> = (0..tokens.len()).map(|i| scorer.valence_at(i)).collect();
    if let Some(pivot) = (0..tokens.len()).find(|&i| tokens.word(i).is_some_and(|w| contrasts(lang).contains(&w))) {
        valences.iter_mut().enumerate().for_each(|(i, v)| *v *= if i < pivot { 0.5 } else { 1.5 });
    }
    aggregate(&valences, punctuation_emphasis(text))
}

struct Scorer<'a> {
    lexicon: &'a Lexicon,
    lang: Language,
    tokens: &'a Tokens,
    caps_differ: bool,
}

impl Scorer<'_> {
    fn valence_at(&self, i: usize) -> f32 {
        let Some(token) = self.tokens.get(i) else { return 0.0 };
        let word = match token.text {
            Text::Symbol(valence) => return valence,
            _ => self.tokens.word(i).unwrap_or_default(),
        };
        if self.lexicon.is_negation(word) || self.in_neutral_pair(i, word) {
            return 0.0;
        }
        let Some(mut valence) = self.lexicon.valence(word) else { return 0.0 };
        // `super`, `bem`: a booster before a sentiment word, a sentiment word otherwise.
        if self.lexicon.booster(word).is_some() && self.sentiment_word(i + 1, token.clause) {
            return 0.0;
        }
        if token.caps && self.caps_differ {
            valence += C_INCR.copysign(valence);
        }
        for (distance, damping) in (1..=3).zip(DAMPING) {
            let Some(k) = i.checked_sub(distance).filter(|&k| self.same_clause(k, token.clause)) else { break };
            let Some(previous) = self.tokens.word(k) else { continue };
            if self.lexicon.valence(previous).is_some() && self.lexicon.booster(previous).is_none() {
                continue;
            }
            valence += self.scalar(k, valence) * damping;
            if self.negates(previous) {
                valence *= if self.never_so(k, i) { 1.25 } else { N_SCALAR };
            }
        }
        if self.lang == Language::PtBr {
            valence += self.trailing_scalar(i, valence);
        }
        valence
    }

    /// Booster effect of the word at `k` (alone or ending a two-word booster) on `valence`.
    fn scalar(&self, k: usize, valence: f32) -> f32 {
        let Some(word) = self.tokens.word(k) else { return 0.0 };
        let pair = || {
            let first = self.tokens.word(k.checked_sub(1)?)?;
            self.lexicon.booster_pair(first, word)
        };
        let Some(mut scalar) = self.lexicon.booster(word).or_else(pair) else { return 0.0 };
        if valence < 0.0 {
            scalar = -scalar;
        }
        if self.tokens.get(k).is_some_and(|t| t.caps) && self.caps_differ {
            scalar += C_INCR.copysign(valence);
        }
        scalar
    }

    /// pt-BR puts intensifiers after the word too: "gostei muito", "ruim demais", "bom pra caramba".
    fn trailing_scalar(&self, i: usize, valence: f32) -> f32 {
        let clause = self.tokens.get(i).map_or(0, |t| t.clause);
        let Some(next) = self.tokens.word(i + 1).filter(|_| self.same_clause(i + 1, clause)) else { return 0.0 };
        let after = self.tokens.word(i + 2).filter(|_| self.same_clause(i + 2, clause));
        let scalar = match (self.lexicon.booster(next), after) {
            (Some(scalar), _) if !self.sentiment_word(i + 2, clause) => scalar,
            (_, Some(after)) => self.lexicon.booster_pair(next, after).unwrap_or(0.0),
            _ => 0.0,
        };
        if valence < 0.0 { -scalar } else { scalar }
    }

    /// "Nunca fui tão mal atendida", "never so happy": emphasis, not negation (VADER's rule).
    fn never_so(&self, k: usize, i: usize) -> bool {
        let never = self.tokens.word(k).is_some_and(|w| matches!(w, "nunca" | "jamais" | "never"));
        never && (k + 1..i).any(|j| self.tokens.word(j).is_some_and(|w| matches!(w, "tao" | "tanto" | "so" | "this")))
    }

    fn negates(&self, word: &str) -> bool {
        self.lexicon.is_negation(word) || (self.lang == Language::En && word.contains("n't"))
    }

    fn in_neutral_pair(&self, i: usize, word: &str) -> bool {
        let clause = self.tokens.get(i).map_or(0, |t| t.clause);
        let neighbour = |k: Option<usize>| k.filter(|&k| self.same_clause(k, clause)).and_then(|k| self.tokens.word(k));
        let previous = neighbour(i.checked_sub(1));
        let next = neighbour(Some(i + 1));
        NEUTRAL_PAIRS.iter().any(|&(a, b)| (a == word && next == Some(b)) || (b == word && previous == Some(a)))
    }

    /// Whether the token at `k` is a word with a valence of its own, in `clause`.
    fn sentiment_word(&self, k: usize, clause: u32) -> bool {
        self.same_clause(k, clause)
            && self
                .tokens
                .word(k)
                .is_some_and(|w| self.lexicon.valence(w).is_some() && self.lexicon.booster(w).is_none())
    }

    fn same_clause(&self, k: usize, clause: u32) -> bool {
        self.tokens.get(k).is_some_and(|t| t.clause == clause)
    }
}

/// Emphasis from `!` (up to four) and from two or more `?`.
fn punctuation_emphasis(text: &str) -> f32 {
    let exclamations = text.matches('!').count().min(4) as f32 * 0.292;
    let questions = match text.matches('?').count() {
        0 | 1 => 0.0,
        n @ 2..=3 => n as f32 * 0.18,
        _ => 0.96,
    };
    exclamations + questions
}

/// VADER's `score_valence`: compound from the sum, proportions from the signed parts.
fn aggregate(valences: &[f32], emphasis: f32) -> Sentiment {
    if valences.is_empty() {
        return Sentiment::NEUTRAL;
    }
    let mut sum: f32 = valences.iter().sum();
    if sum > 0.0 {
        sum += emphasis;
    } else if sum < 0.0 {
        sum -= emphasis;
    }
    let compound = (sum / (sum * sum + ALPHA).sqrt()).clamp(-1.0, 1.0);
    // Each sentiment word also counts once as a neutral word would; VADER compensates with ±1.
    let mut positive: f32 = valences.iter().filter(|v| **v > 0.0).map(|v| v + 1.0).sum();
    let mut negative: f32 = valences.iter().filter(|v| **v < 0.0).map(|v| v.abs() + 1.0).sum();
    let neutral = valences.iter().filter(|v| **v == 0.0).count() as f32;
    if positive > negative {
        positive += emphasis;
    } else if negative > positive {
        negative += emphasis;
    }
    let total = positive + negative + neutral;
    Sentiment { compound, positive: positive / total, negative: negative / total, neutral: neutral / total }
}
