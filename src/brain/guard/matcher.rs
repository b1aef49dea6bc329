//! A small phrase matcher over folded tokens, so detectors read as families of phrasings.
//!
//! # Pattern syntax
//! Slots separated by spaces; a slot lists alternatives with `|`; an alternative of several
//! words joins them with `_` (`system_prompt`); a word ending in `*` matches as a prefix
//! (`instruc*`). Up to [`DEFAULT_GAP`] other tokens may sit between two slots; `~N` before a
//! slot sets that allowance and `+` makes the slot adjacent. Gaps never cross a sentence end.

use std::hash::BuildHasher;

use rustc_hash::{FxBuildHasher, FxHashSet};

/// Tokens allowed between two slots unless the pattern says otherwise.
const DEFAULT_GAP: usize = 2;

/// Tokens on each side of a match searched by `near` and `not_near`.
const WINDOW: usize = 3;

/// The token standing for a sentence end; patterns and windows never cross it.
const SENTENCE_END: &str = "|";

/// The tokens of one text, in order, plus a sorted copy without repeats and the hashes of
/// the distinct tokens: a phrase whose slots cannot all be present is ruled out with a few
/// lookups (see [`Alternatives::may_occur`]) instead of a walk over the text (the guards
/// try dozens of phrases on every message).
pub(crate) struct Tokens {
    list: Vec<String>,
    sorted: Vec<String>,
    hashes: FxHashSet<u64>,
}

impl Tokens {
    /// Whether some token starts with `stem`.
    fn has_prefix(&self, stem: &str) -> bool {
        let at = self.sorted.partition_point(|t| t.as_str() < stem);
        self.sorted.get(at).is_some_and(|t| t.starts_with(stem))
    }
}

impl std::ops::Deref for Tokens {
    type Target = [String];

    fn deref(&self) -> &[String] {
        &self.list
    }
}

/// Splits folded text into words, sentence ends (`|`) and colons (`:`). Apostrophes join
/// ("i'm" → "im"), and chat abbreviations are spelled out ("vc" → "voce").
pub(crate) fn tokenize(text: &str) -> Tokens {
    let list = token_list(text);
    let mut sorted = list.clone();
    sorted.sort_unstable();
    sorted.dedup();
    let hashes = sorted.iter().map(|t| word_hash(t)).collect();
    Tokens { list, sorted, hashes }
}

/// The hash `may_occur` compares words by. Two different words may share one: then a
/// phrase is not ruled out early and the walk over the tokens decides, as it always does.
fn word_hash(word: &str) -> u64 {
    FxBuildHasher.hash_one(word)
}

fn token_list(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens: Vec<String> = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            word.push(c);
            continue;
        }
        if matches!(c, '\'' | '’' | '`') && !word.is_empty() {
            continue;
        }
        flush(&mut tokens, &mut word);
        let ends_sentence = c == '\n'
            || (matches!(c, '.' | '!' | '?' | ';' | '…') && chars.get(i + 1).is_none_or(|n| n.is_whitespace()));
        if ends_sentence && tokens.last().is_some_and(|t| t != SENTENCE_END) {
            tokens.push(SENTENCE_END.to_string());
        } else if c == ':' {
            tokens.push(":".to_string());
        }
    }
    flush(&mut tokens, &mut word);
    tokens
}

fn flush(tokens: &mut Vec<String>, word: &mut String) {
    if word.is_empty() {
        return;
    }
    let spelled = match word.as_str() {
        "vc" | "ce" => "voce",
        "vcs" => "voces",
        "q" => "que",
        "u" => "you",
        "ur" => "your",
        "pfv" | "pf" | "pfvr" | "plz" | "pls" => "please",
        other => other,
    };
    tokens.push(spelled.to_string());
    word.clear();
}

/// One word of a pattern.
#[derive(Debug, Clone)]
enum Word {
    Exact(String),
    Prefix(String),
}

impl Word {
    fn parse(src: &str) -> Self {
        match src.strip_suffix('*') {
            Some(stem) => Self::Prefix(stem.to_string()),
            None => Self::Exact(src.to_string()),
        }
    }

    fn matches(&self, token: &str) -> bool {
        match self {
            Self::Exact(w) => token == w,
            Self::Prefix(stem) => token.starts_with(stem.as_str()),
        }
    }

    fn stem(&self) -> &str {
        match self {
            Self::Exact(w) | Self::Prefix(w) => w,
        }
    }
}

/// Alternatives for one position; each alternative is a run of consecutive words.
#[derive(Debug, Clone)]
pub(crate) struct Alternatives {
    words: Vec<Vec<Word>>,
    /// The hashes of the exact first words of the alternatives, and the prefix ones: what
    /// `may_occur` looks up. The guards ask this of every slot of every phrase on every
    /// message, and a verb slot has dozens of alternatives, so it must cost a few integer
    /// lookups, not a walk or string comparisons.
    first_exact: FxHashSet<u64>,
    first_prefixes: Vec<String>,
}

impl Alternatives {
    /// Parses `a|b*|c_d`.
    pub(crate) fn parse(src: &str) -> Self {
        let words: Vec<Vec<Word>> =
            src.split('|').filter(|a| !a.is_empty()).map(|a| a.split('_').map(Word::parse).collect()).collect();
        let (mut first_exact, mut first_prefixes) = (FxHashSet::default(), Vec::new());
        for first in words.iter().filter_map(|alternative| alternative.first()) {
            match first {
                Word::Exact(w) => {
                    first_exact.insert(word_hash(w));
                }
                Word::Prefix(stem) => first_prefixes.push(stem.clone()),
            }
        }
        Self { words, first_exact, first_prefixes }
    }

    /// The end of the longest alternative matching at `at`.
    fn match_at(&self, tokens: &[String], at: usize) -> Option<usize> {
        self.words
            .iter()
            .filter(|words| words.iter().enumerate().all(|(k, w)| tokens.get(at + k).is_some_and(|t| w.matches(t))))
            .map(|words| at + words.len())
            .max()
    }

    /// Whether the first word of some alternative may occur in `tokens` (needed for a
    /// match): the hashes of the smaller side looked up in the larger, then the prefixes.
    /// False only when no alternative can match; true may still find no match.
    fn may_occur(&self, tokens: &Tokens) -> bool {
        let exact = if tokens.hashes.len() <= self.first_exact.len() {
            tokens.hashes.iter().any(|h| self.first_exact.contains(h))
        } else {
            self.first_exact.iter().any(|h| tokens.hashes.contains(h))
        };
        exact || self.first_prefixes.iter().any(|stem| tokens.has_prefix(stem))
    }

    fn any_in(&self, tokens: &[String], from: usize, to: usize) -> bool {
        (from..to).any(|at| self.match_at(tokens, at).is_some())
    }
}

/// A pattern plus the context it needs: what must or must not stand nearby.
#[derive(Debug, Clone)]
pub(crate) struct Phrase {
    slots: Vec<(usize, Alternatives)>,
    near: Option<Alternatives>,
    not_near: Option<Alternatives>,
    not_after: Option<Alternatives>,
}

impl Phrase {
    /// Parses a pattern (see the module docs).
    pub(crate) fn new(pattern: &str) -> Self {
        let mut slots = Vec::new();
        let mut gap = DEFAULT_GAP;
        for part in pattern.split_whitespace() {
            if part == "+" {
                gap = 0;
            } else if let Some(n) = part.strip_prefix('~').and_then(|n| n.parse().ok()) {
                gap = n;
            } else {
                slots.push((gap, Alternatives::parse(part)));
                gap = DEFAULT_GAP;
            }
        }
        Self { slots, near: None, not_near: None, not_after: None }
    }

    /// One of these must stand within the match's window (same sentence).
    pub(crate) fn near(mut self, alternatives: &str) -> Self {
        self.near = Some(Alternatives::parse(alternatives));
        self
    }

    /// None of these may stand within the match's window (same sentence).
    pub(crate) fn not_near(mut self, alternatives: &str) -> Self {
        self.not_near = Some(Alternatives::parse(alternatives));
        self
    }

    /// None of these may come right after the match ("instruções *de entrega*").
    pub(crate) fn not_after(mut self, alternatives: &str) -> Self {
        self.not_after = Some(Alternatives::parse(alternatives));
        self
    }

    /// The first match in `tokens` that satisfies the context, as the matched words.
    pub(crate) fn find(&self, tokens: &Tokens) -> Option<String> {
        if !self.slots.iter().all(|(_, alternatives)| alternatives.may_occur(tokens)) {
            return None;
        }
        (0..tokens.len()).find_map(|start| {
            let end = self.match_from(tokens, start)?;
            self.context_ok(tokens, start, end).then(|| tokens[start..end].join(" "))
        })
    }

    /// Whether the pattern occurs anywhere in `tokens` with its context.
    pub(crate) fn is_in(&self, tokens: &Tokens) -> bool {
        self.find(tokens).is_some()
    }

    fn match_from(&self, tokens: &[String], start: usize) -> Option<usize> {
        let (_, first) = self.slots.first()?;
        let end = first.match_at(tokens, start)?;
        self.match_rest(tokens, 1, end)
    }

    fn match_rest(&self, tokens: &[String], slot: usize, pos: usize) -> Option<usize> {
        let Some((gap, alternatives)) = self.slots.get(slot) else { return Some(pos) };
        for at in pos..=(pos + gap).min(tokens.len()) {
            if at > pos && tokens[at - 1] == SENTENCE_END {
                break;
            }
            if let Some(end) = alternatives.match_at(tokens, at).and_then(|e| self.match_rest(tokens, slot + 1, e)) {
                return Some(end);
            }
        }
        None
    }

    fn context_ok(&self, tokens: &[String], start: usize, end: usize) -> bool {
        let mut from = start;
        while from > 0 && start - from < WINDOW && tokens[from - 1] != SENTENCE_END {
            from -= 1;
        }
        let mut to = end;
        while to < tokens.len() && to - end < WINDOW && tokens[to] != SENTENCE_END {
            to += 1;
        }
        self.near.as_ref().is_none_or(|a| a.any_in(tokens, from, to))
            && self.not_near.as_ref().is_none_or(|a| !a.any_in(tokens, from, to))
            && self.not_after.as_ref().is_none_or(|a| a.match_at(tokens, end).is_none())
    }

    /// Matches against letters-only text, for sentences spaced out letter by letter. Each slot
    /// must start within a few letters of the previous one; words shorter than three letters
    /// are ignored, and so is the context (the disguise itself is the signal).
    pub(crate) fn find_compact(&self, compact: &str) -> Option<String> {
        let needles: Vec<(usize, Vec<String>)> = self
            .slots
            .iter()
            .map(|(gap, alts)| {
                let words: Vec<String> = alts.words.iter().map(|ws| ws.iter().map(Word::stem).collect()).collect();
                (*gap, words.into_iter().filter(|w: &String| w.len() >= 3).collect())
            })
            .collect();
        if needles.iter().any(|(_, words)| words.is_empty()) {
            return None;
        }
        let (_, first) = &needles[0];
        first.iter().flat_map(|w| compact.match_indices(w.as_str())).find_map(|(start, w)| {
            let end = compact_rest(compact, &needles[1..], start + w.len())?;
            Some(compact[start..end].to_string())
        })
    }
}

fn compact_rest(compact: &str, needles: &[(usize, Vec<String>)], pos: usize) -> Option<usize> {
    let Some(((gap, words), rest)) = needles.split_first() else { return Some(pos) };
    let reach = pos + 6 + 8 * gap;
    words
        .iter()
        .flat_map(|w| compact[pos..].match_indices(w.as_str()).map(move |(i, m)| (pos + i, m.len())))
        .filter(|(at, _)| *at <= reach)
        .find_map(|(at, len)| compact_rest(compact, rest, at + len))
}
