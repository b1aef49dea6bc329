//! Word, emoji, negation and booster tables, parsed once per language from `assets/lexicons/`.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use crate::domain::Language;

use super::text::fold_into;

/// Mean sentiment intensity change for a booster word (VADER's `B_INCR`).
pub(super) const B_INCR: f32 = 0.293;

/// VADER valences lie in [-4, 4]; emoji valences summed from descriptions are clamped to it.
const MAX_VALENCE: f32 = 4.0;

/// The embedded data files of one language; see `assets/lexicons/README.md`.
struct Sources {
    /// `token<TAB>valence` lines, duplicates allowed.
    valences: &'static str,
    /// Atende's `token<TAB>valence` overlay; `0` removes an entry.
    overlay: &'static str,
    /// `emoji<TAB>description` lines.
    emoji: &'static str,
    /// One negation per line.
    negations: &'static [&'static str],
    /// `phrase INCR|DECR` lines.
    boosters: &'static [&'static str],
    /// Fold Portuguese inflections (`otimas` → `otimo`) when a word is missing.
    fold_inflections: bool,
}

static PT_BR: LazyLock<Lexicon> = LazyLock::new(|| {
    Lexicon::build(&Sources {
        valences: include_str!("../../../assets/lexicons/leia_ptbr.tsv"),
        overlay: include_str!("../../../assets/lexicons/atende_ptbr.tsv"),
        emoji: include_str!("../../../assets/lexicons/leia_emoji_ptbr.tsv"),
        negations: &[
            include_str!("../../../assets/lexicons/leia_negate_ptbr.txt"),
            include_str!("../../../assets/lexicons/atende_negate_ptbr.txt"),
        ],
        boosters: &[
            include_str!("../../../assets/lexicons/leia_booster_ptbr.txt"),
            include_str!("../../../assets/lexicons/atende_booster_ptbr.txt"),
        ],
        fold_inflections: true,
    })
});

static EN: LazyLock<Lexicon> = LazyLock::new(|| {
    Lexicon::build(&Sources {
        valences: include_str!("../../../assets/lexicons/vader_en.tsv"),
        overlay: include_str!("../../../assets/lexicons/atende_en.tsv"),
        emoji: include_str!("../../../assets/lexicons/vader_emoji_en.tsv"),
        negations: &[
            include_str!("../../../assets/lexicons/vader_negate_en.txt"),
            include_str!("../../../assets/lexicons/atende_negate_en.txt"),
        ],
        boosters: &[include_str!("../../../assets/lexicons/vader_booster_en.txt")],
        fold_inflections: false,
    })
});

/// Overrides shared by both languages for emoji common in support chats.
const EMOJI_OVERLAY: &str = include_str!("../../../assets/lexicons/atende_emoji.tsv");

/// Returns the (lazily parsed) tables for `lang`.
pub(super) fn for_language(lang: Language) -> &'static Lexicon {
    match lang {
        Language::PtBr => &PT_BR,
        Language::En => &EN,
    }
}

/// The sentiment tables of one language. Keys are folded (lowercase, accent-stripped).
#[derive(Debug, Default)]
pub(super) struct Lexicon {
    /// Word valences in [-4, 4]; never contains a negation.
    valences: HashMap<String, f32>,
    /// Emoticons (`:)`, `<3`), matched against a whole whitespace-separated chunk, as written.
    emoticons: HashMap<String, f32>,
    /// Emoji (non-ASCII sequences) with a non-zero valence, matched by longest prefix.
    emoji: HashMap<String, f32>,
    /// Longest emoji key in bytes, bounding the prefix search.
    emoji_max_len: usize,
    /// Single-word boosters (+`B_INCR`) and dampeners (-`B_INCR`).
    boosters: HashMap<String, f32>,
    /// Two-word boosters such as `um pouco`, `kind of`.
    booster_pairs: Vec<(String, String, f32)>,
    /// Single-word negations.
    negations: HashSet<String>,
    /// See [`Sources::fold_inflections`].
    fold_inflections: bool,
}

impl Lexicon {
    fn build(sources: &Sources) -> Self {
        let mut lexicon = Lexicon { fold_inflections: sources.fold_inflections, ..Lexicon::default() };
        lexicon.load_valences(sources.valences);
        for (token, valence) in tsv(sources.overlay) {
            match valence.parse::<f32>() {
                Ok(v) if v != 0.0 => lexicon.valences.insert(folded(token), v),
                _ => lexicon.valences.remove(&folded(token)),
            };
        }
        for word in sources.negations.iter().flat_map(|file| lines(file)).filter(|w| !w.contains(' ')) {
            lexicon.valences.remove(&folded(word));
            lexicon.negations.insert(folded(word));
        }
        sources.boosters.iter().flat_map(|file| lines(file)).for_each(|line| lexicon.add_booster(line));
        lexicon.load_emoji(sources.emoji);
        lexicon
    }

    /// Averages duplicated tokens; punctuation-only entries become emoticons, phrases are skipped.
    fn load_valences(&mut self, file: &str) {
        let mut sums: HashMap<String, (f32, u32)> = HashMap::new();
        for (token, valence) in tsv(file) {
            let Ok(valence) = valence.parse::<f32>() else { continue };
            if token.contains(' ') {
                continue;
            } else if token.chars().all(|c| c.is_alphanumeric() || c == '\'' || c == '-') {
                let entry = sums.entry(folded(token)).or_default();
                *entry = (entry.0 + valence, entry.1 + 1);
            } else {
                let keys = [token.to_owned(), token.to_lowercase(), token.to_uppercase()];
                self.emoticons.extend(keys.map(|key| (key, valence)));
            }
        }
        self.valences = sums.into_iter().map(|(k, (sum, n))| (k, sum / n as f32)).collect();
    }

    fn add_booster(&mut self, line: &str) {
        let Some((phrase, kind)) = line.rsplit_once(' ') else { return };
        let scalar = if kind == "DECR" { -B_INCR } else { B_INCR };
        let words: Vec<String> = phrase.split_whitespace().map(folded).collect();
        match words.as_slice() {
            [word] => {
                self.boosters.insert(word.clone(), scalar);
            }
            [first, second] => self.booster_pairs.push((first.clone(), second.clone(), scalar)),
            _ => {}
        }
    }

    /// An emoji's valence is the sum of its description's word valences (VADER's method).
    fn load_emoji(&mut self, file: &str) {
        let mut word = String::new();
        for (emoji, description) in tsv(file) {
            let mut sum = 0.0;
            for raw in description.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()) {
                word.clear();
                fold_into(raw, &mut word);
                sum += self.valences.get(word.as_str()).copied().unwrap_or(0.0);
            }
            if sum != 0.0 {
                self.emoji.insert(emoji.to_owned(), sum.clamp(-MAX_VALENCE, MAX_VALENCE));
            }
        }
        for (emoji, valence) in tsv(EMOJI_OVERLAY) {
            let valence = valence.parse::<f32>().unwrap_or(0.0);
            for key in [emoji.to_owned(), format!("{emoji}\u{fe0f}")] {
                self.emoji.insert(key, valence);
            }
        }
        self.emoji.retain(|key, valence| *valence != 0.0 && !key.is_ascii());
        self.emoji_max_len = self.emoji.keys().map(String::len).max().unwrap_or(0);
    }

    /// Valence of a folded word, trying pt-BR inflections (plural, feminine, `-issimo`) when missing.
    pub(super) fn valence(&self, word: &str) -> Option<f32> {
        if let Some(v) = self.valences.get(word) {
            return Some(*v);
        }
        if !self.fold_inflections || !word.is_ascii() || word.len() < 4 {
            return None;
        }
        let singular = word.strip_suffix('s').unwrap_or(word);
        let mut stem = [0u8; 64];
        let mut candidate = |base: &str, ending: &str| -> Option<f32> {
            let len = base.len() + ending.len();
            let buf = stem.get_mut(..len)?;
            buf[..base.len()].copy_from_slice(base.as_bytes());
            buf[base.len()..].copy_from_slice(ending.as_bytes());
            self.valences.get(std::str::from_utf8(buf).ok()?).copied()
        };
        let superlative = singular.strip_suffix("issimo").or_else(|| singular.strip_suffix("issima"));
        match (singular.strip_suffix('a'), superlative) {
            (_, Some(base)) if base.len() > 1 => candidate(base, "o"),
            (Some(base), None) => candidate(singular, "").or_else(|| candidate(base, "o")),
            _ => candidate(singular, ""),
        }
    }

    /// Scalar of a single-word booster (positive) or dampener (negative).
    pub(super) fn booster(&self, word: &str) -> Option<f32> {
        self.boosters.get(word).copied()
    }

    /// Scalar of a two-word booster such as `um pouco`.
    pub(super) fn booster_pair(&self, first: &str, second: &str) -> Option<f32> {
        self.booster_pairs.iter().find(|(a, b, _)| a == first && b == second).map(|(_, _, s)| *s)
    }

    /// Whether `word` is a negation (`nao`, `nunca`, `not`…).
    pub(super) fn is_negation(&self, word: &str) -> bool {
        self.negations.contains(word)
    }

    /// Whether `word` plays any role in scoring.
    pub(super) fn is_known(&self, word: &str) -> bool {
        self.valence(word).is_some() || self.boosters.contains_key(word) || self.negations.contains(word)
    }

    /// Valence of a whole chunk that is an emoticon (`:)`, `:-(`, `<3`).
    pub(super) fn emoticon(&self, chunk: &str) -> Option<f32> {
        self.emoticons.get(chunk).copied()
    }

    /// The longest emoji at the start of `text`: its length in bytes and its valence.
    pub(super) fn emoji_prefix(&self, text: &str) -> Option<(usize, f32)> {
        text.char_indices()
            .skip(1)
            .map(|(i, _)| i)
            .chain(std::iter::once(text.len()))
            .take_while(|&end| end <= self.emoji_max_len)
            .filter_map(|end| self.emoji.get(&text[..end]).map(|v| (end, *v)))
            .last()
    }
}

/// Non-empty, non-comment lines of a data file.
fn lines(file: &str) -> impl Iterator<Item = &str> {
    file.lines().map(str::trim).filter(|line| !line.is_empty() && !line.starts_with('#'))
}

/// The first two tab-separated columns of each line.
fn tsv(file: &str) -> impl Iterator<Item = (&str, &str)> {
    lines(file).filter_map(|line| {
        let mut columns = line.split('\t');
        Some((columns.next()?.trim(), columns.next()?.trim()))
    })
}

fn folded(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    fold_into(word, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicated_entries_are_averaged() {
        // LeIA lists `otimo` twice (3.1 and 1.5).
        assert_eq!(for_language(Language::PtBr).valence("otimo"), Some(2.3));
    }

    #[test]
    fn negations_have_no_valence_of_their_own() {
        let pt = for_language(Language::PtBr);
        assert!(pt.is_negation("nao") && pt.valence("nao").is_none());
        let en = for_language(Language::En);
        assert!(en.is_negation("no") && en.valence("no").is_none());
    }

    #[test]
    fn the_overlay_neutralises_and_adds_words() {
        let pt = for_language(Language::PtBr);
        assert_eq!(pt.valence("voce"), None);
        assert_eq!(pt.valence("pessimo"), Some(-3.0));
    }

    #[test]
    fn portuguese_inflections_fall_back_to_the_dictionary_form() {
        let pt = for_language(Language::PtBr);
        assert_eq!(pt.valence("pessimas"), pt.valence("pessimo"));
        assert_eq!(pt.valence("obrigada"), pt.valence("obrigado"));
        assert_eq!(pt.valence("lindissima"), pt.valence("lindo"));
        assert_eq!(for_language(Language::En).valence("goods"), None);
    }

    #[test]
    fn boosters_include_two_word_phrases() {
        let pt = for_language(Language::PtBr);
        assert_eq!(pt.booster("muito"), Some(B_INCR));
        assert_eq!(pt.booster_pair("um", "pouco"), Some(-B_INCR));
        assert_eq!(for_language(Language::En).booster_pair("kind", "of"), Some(-B_INCR));
    }

    #[test]
    fn emoji_match_by_longest_prefix() {
        let pt = for_language(Language::PtBr);
        let (len, valence) = pt.emoji_prefix("😍 adorei").unwrap();
        assert_eq!((len, valence), ("😍".len(), 3.0));
        assert!(pt.emoji_prefix("a😍").is_none());
        assert_eq!(pt.emoticon(":)"), Some(2.0));
    }
}
