//! Short excerpts of answers for prompts and the CLI.

/// `text` on one line (whitespace runs become one space) and at most `max_chars` characters:
/// when longer it is cut on a word boundary, trailing punctuation dropped, and "…" appended
/// (a single word longer than the limit is cut inside it).
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() <= max_chars {
        return flat;
    }
    let Some(budget) = max_chars.checked_sub(1) else {
        return String::new();
    };
    let cut = flat.char_indices().nth(budget).map_or(flat.len(), |(at, _)| at);
    let hard = &flat[..cut];
    let soft = if flat[cut..].starts_with(' ') { hard } else { hard.rfind(' ').map_or("", |at| &hard[..at]) };
    let trimmed = soft.trim_end_matches([' ', ',', ';', ':', '-', '–', '—', '(']);
    let head = if trimmed.is_empty() { hard } else { trimmed };
    format!("{head}…")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_text_is_returned_on_one_line() {
        assert_eq!(excerpt("  Sim,\n  aceitamos   Pix. ", 40), "Sim, aceitamos Pix.");
    }

    #[test]
    fn long_text_is_cut_on_a_word_boundary_with_an_ellipsis() {
        let text = "O frete é grátis para todo o Brasil em compras acima de R$ 199,00.";
        assert_eq!(excerpt(text, 20), "O frete é grátis…");
        assert_eq!(excerpt(text, 26), "O frete é grátis para…");
        assert_eq!(excerpt(text, 27), "O frete é grátis para todo…");
        assert_eq!(excerpt(text, 27).chars().count(), 27);
    }

    #[test]
    fn a_cut_right_after_a_word_keeps_that_word_and_drops_punctuation() {
        assert_eq!(excerpt("Pix, boleto e cartão", 6), "Pix…");
        assert_eq!(excerpt("Pix boleto", 5), "Pix…");
    }

    #[test]
    fn one_long_word_is_cut_inside_it() {
        assert_eq!(excerpt("lojaexemplo.com.br/rastreio", 10), "lojaexemp…");
    }

    #[test]
    fn tiny_limits_stay_within_bounds() {
        assert_eq!(excerpt("devolução", 0), "");
        assert_eq!(excerpt("devolução", 1), "…");
        assert_eq!(excerpt("", 5), "");
        for max in 0..30 {
            assert!(excerpt("Não abrimos aos domingos e feriados 🙂.", max).chars().count() <= max);
        }
    }
}
