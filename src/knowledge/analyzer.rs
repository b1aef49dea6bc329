//! Text analysis shared by indexing and search: accent folding, tokens, stopwords, stems.
//!
//! Customers on WhatsApp often type without accents ("devolucao", "nao"), while the
//! knowledge base is written with them. So every step after folding sees only the folded
//! text, and `analyze("devolução")` equals `analyze("devolucao")` by construction.
//!
//! The Snowball Portuguese stemmer expects accents on a few endings (`-ção`, `-ável`,
//! `-ência`) and has no rule for the `-ões` plural, so before stemming a folded pt-BR word
//! gets its plural reduced (`-oes`/`-aos` → `-ao`, `-veis` → `-vel`) and those accents
//! restored where pt-BR spelling leaves no doubt; the stem is folded again afterwards.

use rust_stemmers::{Algorithm, Stemmer};
use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::domain::{Language, is_stopword};

/// Tokens for indexing and search: folded (see [`fold`]), split on non-alphanumerics, without
/// stopwords of `lang`, stemmed with Snowball (Portuguese for pt-BR, English for en); tokens of
/// one character are dropped unless they are digits, and tokens with digits are not stemmed.
pub fn analyze(text: &str, lang: Language) -> Vec<String> {
    Analyzer::new(lang).analyze(text)
}

/// Lowercase text without accents: NFKD (NFD plus compatibility forms such as `ﬁ`, `²`, `º`),
/// combining marks removed, so "Ação" → "acao".
pub fn fold(text: &str) -> String {
    text.to_lowercase().nfkd().filter(|c| !is_combining_mark(*c)).collect()
}

/// The key under which two questions count as the same entry: folded words joined by one
/// space, punctuation dropped ("Qual o prazo?" and "qual o  PRAZO" share a key).
pub fn question_key(question: &str) -> String {
    words(&fold(question)).collect::<Vec<_>>().join(" ")
}

fn words(folded: &str) -> impl Iterator<Item = &str> {
    folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty())
}

/// A reusable analyzer for one language.
pub(crate) struct Analyzer {
    lang: Language,
    stemmer: Stemmer,
}

impl Analyzer {
    /// An analyzer for `lang`.
    pub(crate) fn new(lang: Language) -> Self {
        let algorithm = match lang {
            Language::PtBr => Algorithm::Portuguese,
            Language::En => Algorithm::English,
        };
        Self { lang, stemmer: Stemmer::create(algorithm) }
    }

    /// See [`analyze`].
    pub(crate) fn analyze(&self, text: &str) -> Vec<String> {
        let folded = fold(text);
        words(&folded).filter(|w| keeps_length(w) && !is_stopword(self.lang, w)).map(|w| self.term(w)).collect()
    }

    fn term(&self, word: &str) -> String {
        if word.chars().any(|c| c.is_numeric()) {
            return word.to_string();
        }
        let stem = match self.lang {
            Language::PtBr => join_families(fold(&self.stemmer.stem(&restore_accents(&singular(word))))),
            Language::En => self.stemmer.stem(word).into_owned(),
        };
        if stem.is_empty() { word.to_string() } else { stem }
    }
}

fn keeps_length(word: &str) -> bool {
    let mut chars = word.chars();
    match (chars.next(), chars.next()) {
        (Some(only), None) => only.is_numeric(),
        _ => true,
    }
}

/// Folded pt-BR plurals the stemmer would otherwise keep apart from their singular.
fn singular(word: &str) -> String {
    const RULES: [(&str, &str); 3] = [("oes", "ao"), ("aos", "ao"), ("veis", "vel")];
    replace_ending(word, &RULES).unwrap_or_else(|| word.to_string())
}

/// Accents the Snowball suffix rules look for, on endings that pt-BR always accents.
fn restore_accents(word: &str) -> String {
    const RULES: [(&str, &str); 9] = [
        ("cao", "ção"),
        ("ao", "ão"),
        ("avel", "ável"),
        ("ivel", "ível"),
        ("encia", "ência"),
        ("encias", "ências"),
        ("ancia", "ância"),
        ("ancias", "âncias"),
        ("aveis", "áveis"),
    ];
    replace_ending(word, &RULES).unwrap_or_else(|| word.to_string())
}

/// Folded stems of one family that Snowball leaves apart: `-olução` nouns and their `-olver`
/// verbs (devolução/devolver), and `-gue(s)` forms (entregues/entrega).
fn join_families(stem: String) -> String {
    const RULES: [(&str, &str); 2] = [("olu", "olv"), ("gu", "g")];
    replace_ending(&stem, &RULES).unwrap_or(stem)
}

/// `word` with the first matching ending replaced, if any leaves at least two characters before it.
fn replace_ending(word: &str, rules: &[(&str, &str)]) -> Option<String> {
    rules.iter().find_map(|(from, to)| {
        let base = word.strip_suffix(from)?;
        (base.chars().count() >= 2).then(|| format!("{base}{to}"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pt(text: &str) -> Vec<String> {
        analyze(text, Language::PtBr)
    }

    fn same_stem(words: &[&str]) {
        let stems: Vec<_> = words.iter().map(|w| pt(w)).collect();
        assert!(stems.iter().all(|s| s.len() == 1 && s == &stems[0]), "{words:?} → {stems:?}");
    }

    #[test]
    fn fold_strips_accents_cedilla_and_case() {
        assert_eq!(fold("Ação, Devolução e CARTÃO — já!"), "acao, devolucao e cartao — ja!");
        assert_eq!(fold("ﬁm nº 2ª"), "fim no 2a");
    }

    #[test]
    fn accents_and_case_do_not_change_the_terms() {
        assert_eq!(pt("Devolução do CARTÃO"), pt("devolucao do cartao"));
        assert_eq!(pt("Não recebi a informação"), pt("nao recebi a informacao"));
    }

    #[test]
    fn plural_and_verb_forms_share_a_stem() {
        same_stem(&["entrega", "entregas", "entregar", "entregamos", "entregue", "entregues"]);
        same_stem(&["devolução", "devoluções", "devolucao", "devolver", "devolvido"]);
        same_stem(&["cartão", "cartões", "cartao", "cartoes"]);
        same_stem(&["informação", "informações"]);
        same_stem(&["disponível", "disponíveis"]);
        same_stem(&["pagamento", "pagamentos"]);
        same_stem(&["parcelas", "parcelar", "parcelamento"]);
        same_stem(&["horário", "horarios"]);
        same_stem(&["região", "regiões"]);
    }

    #[test]
    fn different_words_keep_different_stems() {
        assert_ne!(pt("entrega"), pt("troca"));
        assert_ne!(pt("boleto"), pt("cartão"));
    }

    #[test]
    fn stopwords_and_single_letters_are_dropped_but_digits_stay() {
        assert_eq!(pt("qual o prazo de entrega para o nordeste?"), ["praz", "entreg", "nord"]);
        assert_eq!(pt("Vc não é de lá, é?"), Vec::<String>::new());
        assert_eq!(pt("em 3 x sem juros"), ["3", "jur"]);
    }

    #[test]
    fn tokens_with_digits_are_kept_whole() {
        assert_eq!(pt("Pedido #12345, 12x no cartão"), ["ped", "12345", "12x", "carta"]);
    }

    #[test]
    fn english_text_uses_the_english_stemmer_and_stopwords() {
        assert_eq!(analyze("How do I return my orders?", Language::En), ["return", "order"]);
        assert_eq!(analyze("Returned ORDER", Language::En), ["return", "order"]);
        assert_eq!(analyze("Café delivery", Language::En), ["cafe", "deliveri"]);
    }

    #[test]
    fn question_keys_ignore_case_accents_and_punctuation() {
        assert_eq!(question_key("  Qual o prazo de ENTREGA?? "), "qual o prazo de entrega");
        assert_eq!(question_key("Qual o prazo de entrega"), question_key("qual   o prazo de entrega?"));
        assert_ne!(question_key("Qual o prazo?"), question_key("Qual o preço?"));
    }

    #[test]
    fn odd_input_does_not_panic() {
        for text in ["", " ", "🙂🙂", "\u{0}\u{301}", "ã\u{301}\u{301}", "ßİ", "日本語のテキスト", &"a".repeat(10_000)]
        {
            let _ = pt(text);
            let _ = analyze(text, Language::En);
        }
    }
}
