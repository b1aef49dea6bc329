//! Stopwords per language, already accent-folded and sorted so lookups are a binary search.
//! Shared by the in-memory ranking (`knowledge`) and the SQLite full-text query (`store`),
//! so both drop the same words.
//!
//! pt-BR starts from the Snowball Portuguese list, plus chat fillers seen on WhatsApp
//! ("vc", "pra", "gostaria", "obrigado") and question words ("onde", "quanto"): every stored
//! question starts with one, so they would match everything and say nothing. Negations ("não",
//! "nem", "nunca", "not", "no") are stopwords too: a bag-of-words ranking cannot use them, and
//! they sit in most answers. Sentiment and handoff detection read the raw text instead.

use super::Language;

/// Whether the accent-folded, lowercase `word` carries no meaning for search in `lang`.
pub fn is_stopword(lang: Language, word: &str) -> bool {
    list(lang).binary_search(&word).is_ok()
}

fn list(lang: Language) -> &'static [&'static str] {
    match lang {
        Language::PtBr => PT_BR,
        Language::En => EN,
    }
}

#[rustfmt::skip]
const PT_BR: &[&str] = &[
    "a", "ai", "ao", "aos", "aquela", "aquelas", "aquele", "aqueles", "aqui", "aquilo", "as", "ate", "com", "como",
    "da", "das", "de", "dela", "delas", "dele", "deles", "depois", "do", "dos", "e", "ela", "elas", "ele", "eles", "em",
    "entao", "entre", "era", "eram", "eramos", "essa", "essas", "esse", "esses", "esta", "estamos", "estao", "estar",
    "estas", "estava", "estavam", "estavamos", "este", "esteja", "estejam", "estejamos", "estes", "esteve", "estive",
    "estivemos", "estiver", "estivera", "estiveram", "estiveramos", "estiverem", "estivermos", "estivesse",
    "estivessem", "estivessemos", "estou", "eu", "favor", "foi", "fomos", "for", "fora", "foram", "foramos", "forem",
    "formos", "fosse", "fossem", "fossemos", "fui", "gostaria", "ha", "haja", "hajam", "hajamos", "hao", "havemos",
    "haver", "hei", "houve", "houvemos", "houver", "houvera", "houveram", "houveramos", "houverao", "houverei",
    "houverem", "houveremos", "houveria", "houveriam", "houveriamos", "houvermos", "houvesse", "houvessem",
    "houvessemos", "isso", "isto", "ja", "la", "lhe", "lhes", "mais", "mas", "me", "mesmo", "meu", "meus", "minha",
    "minhas", "muito", "na", "nao", "nas", "ne", "nem", "no", "nos", "nossa", "nossas", "nosso", "nossos", "num",
    "numa", "nunca", "o", "obrigada", "obrigado", "oi", "ok", "ola", "onde", "os", "ou", "para", "pela", "pelas",
    "pelo", "pelos", "pode", "podem", "poderia", "por", "porque", "posso", "pq", "pra", "pras", "pro", "pros", "quais",
    "qual", "quando", "quanta", "quantas", "quanto", "quantos", "que", "quem", "queria", "quero", "sao", "se", "seja",
    "sejam", "sejamos", "sem", "ser", "sera", "serao", "serei", "seremos", "seria", "seriam", "seriamos", "seu", "seus",
    "sim", "so", "somos", "sou", "sua", "suas", "ta", "tambem", "tb", "tbm", "te", "tem", "temos", "tenha", "tenham",
    "tenhamos", "tenho", "ter", "tera", "terao", "terei", "teremos", "teria", "teriam", "teriamos", "teu", "teus",
    "teve", "tinha", "tinham", "tinhamos", "tive", "tivemos", "tiver", "tivera", "tiveram", "tiveramos", "tiverem",
    "tivermos", "tivesse", "tivessem", "tivessemos", "tu", "tua", "tuas", "um", "uma", "valeu", "vc", "vcs", "voce",
    "voces", "vos",
];

#[rustfmt::skip]
const EN: &[&str] = &[
    "a", "about", "above", "after", "again", "against", "all", "am", "an", "and", "any", "are", "aren", "as", "at",
    "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "cannot", "could",
    "did", "didn", "do", "does", "doesn", "doing", "don", "down", "during", "each", "few", "for", "from", "further",
    "had", "has", "have", "having", "he", "hello", "her", "here", "hers", "herself", "hi", "him", "himself", "his",
    "how", "i", "if", "in", "into", "is", "isn", "it", "its", "itself", "just", "ll", "me", "more", "most", "my",
    "myself", "no", "nor", "not", "of", "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out",
    "over", "own", "please", "re", "same", "she", "should", "so", "some", "such", "than", "thanks", "that", "the",
    "their", "theirs", "them", "themselves", "then", "there", "these", "they", "this", "those", "through", "to", "too",
    "under", "until", "up", "ve", "very", "was", "wasn", "we", "were", "what", "when", "where", "which", "while", "who",
    "whom", "why", "will", "with", "won", "would", "you", "your", "yours", "yourself", "yourselves",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_are_sorted_unique_folded_lowercase() {
        for lang in [Language::PtBr, Language::En] {
            let words = list(lang);
            assert!(words.windows(2).all(|w| w[0] < w[1]), "{lang:?} list must be sorted and unique");
            assert!(words.iter().all(|w| w.bytes().all(|b| b.is_ascii_lowercase())), "{lang:?} list must be folded");
        }
    }

    #[test]
    fn portuguese_function_words_and_negations_are_stopwords() {
        for word in ["o", "a", "de", "da", "do", "que", "e", "um", "uma", "para", "com", "nao", "voce", "qual"] {
            assert!(is_stopword(Language::PtBr, word), "{word}");
        }
        for word in ["entrega", "prazo", "pix", "dia", "troca"] {
            assert!(!is_stopword(Language::PtBr, word), "{word}");
        }
    }

    #[test]
    fn english_list_is_separate_from_portuguese() {
        assert!(is_stopword(Language::En, "the"));
        assert!(!is_stopword(Language::En, "para"));
        assert!(!is_stopword(Language::PtBr, "the"));
    }
}
