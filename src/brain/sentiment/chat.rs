//! WhatsApp chat conventions: pt-BR abbreviations and written laughter.

/// Valence of written laughter (`kkkk`, `rsrs`, `hahaha`), a little below VADER's `haha` (2.0)
/// because in support chats it is often nervous or ironic.
pub(super) const LAUGHTER_VALENCE: f32 = 1.5;

/// The dictionary form of a common pt-BR chat spelling, given a folded word (`ñ` arrives as `n`).
pub(super) fn spelling(word: &str) -> Option<&'static str> {
    Some(match word {
        "n" | "nn" | "naum" => "nao",
        "vc" | "ce" => "voce",
        "vcs" => "voces",
        "pq" | "pk" => "porque",
        "mt" | "mto" | "mtu" | "mtoo" => "muito",
        "mta" => "muita",
        "mts" | "mtos" => "muitos",
        "mtas" => "muitas",
        "tbm" | "tb" | "tmb" | "tbem" => "tambem",
        "blz" => "beleza",
        "obg" | "obgd" | "obgdo" | "brigado" => "obrigado",
        "obgda" | "brigada" => "obrigada",
        "vlw" => "valeu",
        "q" | "qe" => "que",
        "td" => "tudo",
        "tds" => "todos",
        "hj" => "hoje",
        "msm" => "mesmo",
        "nd" => "nada",
        "ngm" => "ninguem",
        "nunk" => "nunca",
        "cmg" => "comigo",
        "agr" => "agora",
        "dps" => "depois",
        "qnd" | "qdo" => "quando",
        "pfv" | "pf" | "pfvr" => "favor",
        "sdds" => "saudades",
        "bjs" | "bjos" | "bj" => "beijos",
        "abs" => "abracos",
        _ => return None,
    })
}

/// Whether a folded word is written laughter: `kkk…` (with stray `j`s), `rsrs…`, or
/// at least two `h`s and two vowels such as `hahaha`, `hehe`, `huahuahua`, `hsuahsua`.
pub(super) fn is_laughter(word: &str) -> bool {
    let bytes = word.as_bytes();
    let k_run = bytes.len() >= 3 && bytes[0] == b'k' && bytes.iter().all(|b| matches!(b, b'k' | b'j'));
    let rs = bytes.len() >= 4 && bytes.chunks(2).all(|pair| pair == b"rs" || pair == b"r");
    let h_count = bytes.iter().filter(|&&b| b == b'h').count();
    let ha = bytes.len() >= 4
        && h_count >= 2
        && bytes.iter().filter(|b| matches!(b, b'a' | b'e' | b'i' | b'u')).count() >= 2
        && matches!(bytes[0], b'h' | b'a')
        && bytes.iter().all(|b| matches!(b, b'h' | b'a' | b'e' | b'i' | b'u' | b's'))
        && !bytes.windows(2).any(|w| w == b"hh");
    k_run || rs || ha
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn common_abbreviations_map_to_dictionary_words() {
        assert_eq!(spelling("vc"), Some("voce"));
        assert_eq!(spelling("n"), Some("nao"));
        assert_eq!(spelling("mto"), Some("muito"));
        assert_eq!(spelling("blz"), Some("beleza"));
        assert_eq!(spelling("pedido"), None);
    }

    #[test]
    fn laughter_is_recognised_in_its_usual_spellings() {
        for word in ["kkk", "kkkkkkk", "kkkjkjk", "rsrs", "rsrsrs", "haha", "hahaha", "hehehe", "huahuahua", "hsuahsua"]
        {
            assert!(is_laughter(word), "{word}");
        }
    }

    #[test]
    fn ordinary_words_are_not_laughter() {
        for word in ["kk", "rs", "ha", "hoje", "hash", "casa", "kiwi", "ahh", "shh"] {
            assert!(!is_laughter(word), "{word}");
        }
    }
}
