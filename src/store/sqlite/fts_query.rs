//! The FTS5 query for a customer's text. Customer text is never handed to `MATCH` as is:
//! it is cut into words the way the `unicode61` tokenizer cuts it (letters and digits, case
//! and accents folded), and each word becomes one quoted FTS5 string, so `AND`, `NEAR(`,
//! `*`, `"` and `:` in a message are just text. The words are OR-ed: a long message matches
//! entries holding any of its words, and the ranking favours those holding more.
//!
//! FTS5 has no stemmer and no stopwords, so two small steps stand in for PostgreSQL's
//! `portuguese` configuration: pt-BR stopwords (the list the in-memory ranking uses) are
//! dropped, and longer words match as a prefix after a plural `s` is cut ("entregas" →
//! `"entrega"*`, which finds "entrega", "entregas" and "entregar").

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::domain::{Language, is_stopword};

/// Most distinct terms one search uses; the rest of a longer message is ignored.
pub(super) const MAX_TERMS: usize = 32;
/// Words of at least this many letters match as a prefix; shorter ones ("pix", "cor") exactly.
const PREFIX_FROM: usize = 4;

/// The distinct search terms of `text` as FTS5 strings (`"word"` or `"word"*`), in order of
/// first appearance, at most [`MAX_TERMS`]. Empty when `text` holds no search word.
pub(super) fn terms(text: &str) -> Vec<String> {
    let folded: String = text.to_lowercase().nfkd().filter(|c| !is_combining_mark(*c)).collect();
    let mut terms: Vec<String> = Vec::new();
    for word in folded.split(|c: char| !c.is_alphanumeric()).filter(|w| is_search_word(w)) {
        let term = fts_string(word);
        if !terms.contains(&term) {
            terms.push(term);
        }
        if terms.len() == MAX_TERMS {
            break;
        }
    }
    terms
}

/// The `MATCH` expression holding any of `terms`.
pub(super) fn any_of(terms: &[String]) -> String {
    terms.join(" OR ")
}

/// Not empty, not a lone letter (digits count), not a pt-BR stopword.
fn is_search_word(word: &str) -> bool {
    let mut chars = word.chars();
    match (chars.next(), chars.next()) {
        (None, _) => false,
        (Some(only), None) => only.is_numeric(),
        _ => !is_stopword(Language::PtBr, word),
    }
}

/// `word` quoted as an FTS5 string (a `"` inside is doubled), with `*` when it is long enough
/// to match as a prefix.
fn fts_string(word: &str) -> String {
    let letters = word.chars().count();
    let prefix = letters >= PREFIX_FROM && word.chars().all(char::is_alphabetic);
    let base = match word.strip_suffix('s') {
        Some(singular) if prefix && letters > PREFIX_FROM => singular,
        _ => word,
    };
    let quoted = format!("\"{}\"", base.replace('"', "\"\""));
    if prefix { format!("{quoted}*") } else { quoted }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_are_folded_quoted_and_or_ed() {
        assert_eq!(any_of(&terms("Qual o ENDEREÇO da loja?")), r#""endereco"* OR "loja"*"#);
    }

    #[test]
    fn plurals_match_their_singular_as_a_prefix_and_short_words_exactly() {
        assert_eq!(terms("entregas pix 12x"), [r#""entrega"*"#, r#""pix""#, r#""12x""#]);
        assert_eq!(terms("mais"), Vec::<String>::new(), "a stopword");
        assert_eq!(terms("lojas"), [r#""loja"*"#]);
    }

    #[test]
    fn repeated_words_count_once_and_long_texts_are_capped() {
        assert_eq!(terms("Entrega entregas ENTREGA"), [r#""entrega"*"#]);
        let long: String = (0..100).map(|i| format!("palavra{i} ")).collect();
        assert_eq!(terms(&long).len(), MAX_TERMS);
    }

    #[test]
    fn query_syntax_in_the_text_is_only_text() {
        for text in [r#"'); DROP TABLE x; --"#, "a & b | !c", r#""unterminated"#, "NEAR(", "*", "col:val", "🙂"] {
            for term in terms(text) {
                let inner = &term[1..term.rfind('"').unwrap()];
                assert!(inner.chars().all(char::is_alphanumeric), "{text:?} gave {term}");
            }
        }
        assert_eq!(terms(r#"NEAR( "drop" * : ^"#), [r#""near"*"#, r#""drop"*"#]);
        assert!(terms("o que é isso?!").is_empty(), "stopwords and punctuation only");
    }
}
