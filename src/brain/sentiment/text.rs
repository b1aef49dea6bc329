//! Tokenizer: folds words (lowercase, accents stripped, as LeIA stores them), splits emoji out of
//! words, tracks clauses and ALL-CAPS, and rewrites pt-BR chat spellings and elongations.

use unicode_normalization::char::{decompose_canonical, is_combining_mark};

use crate::domain::Language;

use super::chat;
use super::lexicon::Lexicon;

/// Appends `word` lowercased and accent-stripped (`Não` → `nao`, `’` → `'`).
pub(super) fn fold_into(word: &str, out: &mut String) {
    for c in word.chars().flat_map(char::to_lowercase) {
        match c {
            '’' | '‘' => out.push('\''),
            c if c.is_ascii() => out.push(c),
            c => decompose_canonical(c, |d| {
                if !is_combining_mark(d) {
                    out.push(d);
                }
            }),
        }
    }
}

/// What a token stands for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Text {
    /// A folded word stored in [`Tokens::buf`] at this byte range.
    Span(usize, usize),
    /// A chat spelling rewritten to its dictionary form (`vc` → `voce`).
    Mapped(&'static str),
    /// An emoji, emoticon or laughter with a fixed valence, exempt from negation and boosters.
    Symbol(f32),
}

/// One token of a message.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Token {
    /// The token itself.
    pub text: Text,
    /// Written in ALL CAPS (`PÉSSIMO`); only words with a cased letter count.
    pub caps: bool,
    /// Clause number: punctuation and line breaks end a clause, and negations and boosters
    /// never reach across one ("Não, obrigado" is not a negated thanks).
    pub clause: u32,
}

/// The tokens of a message, with one shared buffer for their folded text.
#[derive(Debug, Default)]
pub(super) struct Tokens {
    buf: String,
    tokens: Vec<Token>,
}

impl Tokens {
    /// Number of tokens.
    pub(super) fn len(&self) -> usize {
        self.tokens.len()
    }

    /// The token at `i`.
    pub(super) fn get(&self, i: usize) -> Option<&Token> {
        self.tokens.get(i)
    }

    /// The folded word at `i`, or `None` for a symbol or out of range.
    pub(super) fn word(&self, i: usize) -> Option<&str> {
        match self.tokens.get(i)?.text {
            Text::Span(start, end) => Some(&self.buf[start..end]),
            Text::Mapped(word) => Some(word),
            Text::Symbol(_) => None,
        }
    }

    /// Some but not all words are in ALL CAPS, so caps mark emphasis (VADER's cap differential).
    pub(super) fn caps_differ(&self) -> bool {
        let words = self.tokens.iter().filter(|t| !matches!(t.text, Text::Symbol(_)));
        let (total, caps) = words.fold((0, 0), |(n, c), t| (n + 1, c + usize::from(t.caps)));
        caps > 0 && caps < total
    }

    fn push(&mut self, text: Text, caps: bool, clause: u32) {
        self.tokens.push(Token { text, caps, clause });
    }

    /// Folds and classifies one word; single letters are dropped unless they are chat spellings.
    fn push_word(&mut self, raw: &str, clause: u32, lang: Language, lexicon: &Lexicon) {
        let caps = raw.chars().any(char::is_alphabetic) && !raw.chars().any(char::is_lowercase);
        let start = self.buf.len();
        fold_into(raw, &mut self.buf);
        if chat::is_laughter(&self.buf[start..]) {
            self.buf.truncate(start);
            return self.push(Text::Symbol(chat::LAUGHTER_VALENCE), false, clause);
        }
        if !lexicon.is_known(&self.buf[start..]) && has_elongation(&self.buf[start..]) {
            self.squeeze(start, lang, lexicon);
        }
        let word = &self.buf[start..];
        if let Some(mapped) = chat::spelling(word).filter(|_| lang == Language::PtBr) {
            self.buf.truncate(start);
            self.push(Text::Mapped(mapped), caps, clause);
        } else if word.chars().nth(1).is_some() {
            self.push(Text::Span(start, self.buf.len()), caps, clause);
        } else {
            // Single letters carry no sentiment; VADER drops them too.
            self.buf.truncate(start);
        }
    }

    /// Rewrites an elongated word (`muitooo`, `goood`) in place: runs of three or more equal
    /// letters shrink to two when that form is known (`goood`), else to one.
    fn squeeze(&mut self, start: usize, lang: Language, lexicon: &Lexicon) {
        let original = self.buf.split_off(start);
        let known = |w: &str| lexicon.is_known(w) || (lang == Language::PtBr && chat::spelling(w).is_some());
        for keep in [2, 1] {
            squeeze_runs(&original, keep, &mut self.buf);
            if known(&self.buf[start..]) {
                return;
            }
            self.buf.truncate(start);
        }
        squeeze_runs(&original, 1, &mut self.buf);
    }
}

/// Splits `text` into tokens for `lang`.
pub(super) fn tokenize(text: &str, lang: Language, lexicon: &Lexicon) -> Tokens {
    let mut tokens = Tokens { buf: String::with_capacity(text.len()), tokens: Vec::new() };
    let mut clause = 0;
    for line in text.lines() {
        for chunk in line.split_whitespace() {
            if let Some(valence) = lexicon.emoticon(chunk) {
                tokens.push(Text::Symbol(valence), false, clause);
                continue;
            }
            let mut rest = chunk;
            while let Some(c) = rest.chars().next() {
                let len = if c.is_alphanumeric() {
                    let end = word_end(rest);
                    tokens.push_word(&rest[..end], clause, lang, lexicon);
                    end
                } else if let Some((len, valence)) = lexicon.emoji_prefix(rest).filter(|_| !c.is_ascii()) {
                    tokens.push(Text::Symbol(valence), false, clause);
                    len
                } else {
                    clause += u32::from(ends_clause(c));
                    c.len_utf8()
                };
                rest = &rest[len..];
            }
        }
        clause += 1;
    }
    tokens
}

/// Byte length of the word at the start of `text`: letters and digits, plus apostrophes
/// between them (`don't`).
fn word_end(text: &str) -> usize {
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let inner_apostrophe = matches!(c, '\'' | '’') && chars.peek().is_some_and(|(_, n)| n.is_alphanumeric());
        if !c.is_alphanumeric() && !inner_apostrophe {
            return i;
        }
    }
    text.len()
}

fn ends_clause(c: char) -> bool {
    matches!(c, ',' | ';' | '.' | '!' | '?' | ':' | '…' | '(' | ')' | '—' | '–')
}

fn has_elongation(word: &str) -> bool {
    word.as_bytes().windows(3).any(|w| w[0] == w[1] && w[1] == w[2])
}

/// Appends `word` with every run of three or more equal characters cut to `keep`.
fn squeeze_runs(word: &str, keep: usize, out: &mut String) {
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        let mut run = 1;
        while chars.next_if_eq(&c).is_some() {
            run += 1;
        }
        let kept = if run >= 3 { keep } else { run };
        out.extend(std::iter::repeat_n(c, kept));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Language::{En, PtBr};

    use super::super::lexicon::for_language;

    fn words(text: &str, lang: Language) -> Vec<String> {
        let tokens = tokenize(text, lang, for_language(lang));
        (0..tokens.len()).map(|i| tokens.word(i).map_or_else(|| "<sym>".to_owned(), str::to_owned)).collect()
    }

    #[test]
    fn folding_lowercases_and_strips_accents() {
        let mut out = String::new();
        fold_into("Não ÓTIMO ação Ñ don’t", &mut out);
        assert_eq!(out, "nao otimo acao n don't");
    }

    #[test]
    fn emoji_are_split_from_words_and_punctuation_is_dropped() {
        assert_eq!(words("Obrigada!😍😍 (de verdade)", PtBr), ["obrigada", "<sym>", "<sym>", "de", "verdade"]);
    }

    #[test]
    fn clauses_end_at_punctuation_and_line_breaks() {
        let tokens = tokenize("Não, obrigado\nvaleu. ok", PtBr, for_language(PtBr));
        let clauses: Vec<u32> = (0..tokens.len()).map(|i| tokens.get(i).unwrap().clause).collect();
        assert_eq!(clauses, [0, 1, 2, 3]);
    }

    #[test]
    fn chat_spellings_and_single_letters() {
        assert_eq!(words("vc n recebeu? ñ", PtBr), ["voce", "nao", "recebeu", "nao"]);
        assert_eq!(words("I got a refund", En), ["got", "refund"]);
        assert_eq!(words("vc", En), ["vc"]);
    }

    #[test]
    fn elongated_words_are_squeezed_to_a_known_form() {
        assert_eq!(words("muitoooo péssimooo", PtBr), ["muito", "pessimo"]);
        assert_eq!(words("sooo goood", En), ["so", "good"]);
        assert!(words("zzzzz", PtBr).is_empty());
    }

    #[test]
    fn contractions_keep_their_apostrophe() {
        assert_eq!(words("I don't like it", En), ["don't", "like", "it"]);
    }

    #[test]
    fn caps_differ_only_in_mixed_messages() {
        let lex = for_language(PtBr);
        assert!(tokenize("foi PÉSSIMO", PtBr, lex).caps_differ());
        assert!(!tokenize("FOI PÉSSIMO", PtBr, lex).caps_differ());
        assert!(!tokenize("foi péssimo 😡", PtBr, lex).caps_differ());
    }
}
