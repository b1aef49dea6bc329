//! Language detection between pt-BR and English from stopwords and lexicon hits.

use crate::domain::Language;

use super::chat;
use super::lexicon;
use super::text::fold_into;

/// Frequent pt-BR words that are not English words (folded; shared ones like `a`, `no` left out).
const PT_STOPWORDS: &[&str] = &[
    "de", "que", "nao", "o", "e", "um", "uma", "para", "pra", "com", "por", "voce", "vc", "voces", "meu", "minha",
    "esta", "ta", "estou", "foi", "sou", "tem", "mas", "isso", "ainda", "ja", "qual", "quando", "onde", "como",
    "obrigado", "obrigada", "oi", "ola", "tudo", "bem", "bom", "boa", "dia", "tarde", "noite", "pedido", "muito", "da",
    "das", "dos", "os", "na", "nas", "nos", "ao", "seu", "sua", "eu", "ele", "ela", "vai", "vou", "porque", "pq",
    "aqui", "hoje", "amanha", "mais", "sem", "nem", "nunca", "gostaria", "preciso", "quero",
];

/// Frequent English words that are not pt-BR words.
const EN_STOPWORDS: &[&str] = &[
    "the", "and", "is", "are", "i", "you", "my", "to", "of", "it", "this", "that", "not", "with", "for", "have", "has",
    "was", "were", "please", "thanks", "thank", "hi", "hello", "what", "when", "where", "how", "can", "your", "order",
    "does", "don't", "i'm", "it's", "be", "at", "on", "yes", "would", "could", "will", "just", "still", "got", "get",
    "been", "there", "they", "we", "our", "any", "very", "really", "but", "never",
];

/// Words common in both languages, which prove nothing (`no` is "in the" in Portuguese).
const SHARED: &[&str] = &["a", "as", "do", "no", "me", "ate"];

/// Picks pt-BR or English for `text` by counting stopwords and words found in only one
/// language's lexicon; ties and texts with no evidence default to pt-BR.
pub fn detect_language(text: &str) -> Language {
    let (pt_lexicon, en_lexicon) = (lexicon::for_language(Language::PtBr), lexicon::for_language(Language::En));
    let mut word = String::new();
    let (mut pt, mut en) = (0u32, 0u32);
    for raw in text.split(|c: char| !c.is_alphanumeric() && c != '\'' && c != '’').filter(|w| !w.is_empty()) {
        word.clear();
        fold_into(raw, &mut word);
        // Accents and cedillas are strong pt-BR evidence on their own.
        if raw.chars().any(|c| matches!(c, 'ã' | 'õ' | 'ç' | 'á' | 'é' | 'í' | 'ó' | 'ú' | 'â' | 'ê' | 'ô'))
        {
            pt += 1;
        }
        if SHARED.contains(&word.as_str()) {
            continue;
        }
        let in_pt =
            PT_STOPWORDS.contains(&word.as_str()) || pt_lexicon.is_known(&word) || chat::spelling(&word).is_some();
        let in_en = EN_STOPWORDS.contains(&word.as_str()) || en_lexicon.is_known(&word);
        match (in_pt, in_en) {
            (true, false) => pt += 1,
            (false, true) => en += 1,
            _ => {}
        }
    }
    if en > pt { Language::En } else { Language::PtBr }
}
