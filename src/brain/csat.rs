//! CSAT: the survey's texts, and reading a 1–5 rating from the customer's free reply
//! ("5", "nota 4", "4/5", "⭐⭐⭐", "ótimo", "não gostei", "very good").
//!
//! The reader is a small rule set rather than the LLM: it must be cheap, predictable and
//! work with no LLM configured. It answers `None` whenever the reply does not read as a
//! rating (a new question, a long message, two different scores), so the message is then
//! answered as usual instead of being swallowed by the survey.

use time::OffsetDateTime;
use tracing::info;

use crate::config::persona::PersonaTable;
use crate::config::tenant::CsatTable;
use crate::domain::{CorrelationId, Flag, Language};
use crate::knowledge::fold;
use crate::store::{
    CloseConversation, CloseOutcome, CloseReason, ConversationRef, Store, StoreError, SurveyAsk, SurveyDecision, Tenant,
};
use crate::telemetry::metrics as m;

/// Longest rating comment kept.
pub const MAX_ANSWER_CHARS: usize = 500;
/// Longer replies are new messages, not ratings (unless they open with the score).
const MAX_RATING_WORDS: usize = 12;
/// A bare number inside a reply counts only in one this short, among words that say nothing
/// else (or right after "nota", "dou", …): "quero 2 camisetas" is an order, not a score.
const MAX_NUMBER_WORDS: usize = 4;

/// The question sent when a ticket closes.
pub fn survey_text(settings: &CsatTable, persona: &PersonaTable) -> String {
    if let Some(text) = &settings.text {
        return text.trim().to_string();
    }
    match persona.language() {
        Language::PtBr => "Como você avalia o nosso atendimento? Responda com uma nota de 1 (ruim) a 5 (ótimo).".into(),
        Language::En => "How would you rate our service? Reply with a score from 1 (poor) to 5 (excellent).".into(),
    }
}

/// Said after a rating: the tenant's text, or a thanks (with an apology for 1–2).
pub fn thanks_text(settings: &CsatTable, persona: &PersonaTable, rating: u8) -> String {
    if let Some(text) = &settings.thanks_text {
        return text.trim().to_string();
    }
    match (persona.language(), rating <= 2) {
        (Language::PtBr, false) => "Obrigado pela sua avaliação!".into(),
        (Language::PtBr, true) => {
            "Obrigado pela sua avaliação. Sentimos muito que o atendimento não foi bom; vamos usar a sua opinião para melhorar."
                .into()
        }
        (Language::En, false) => "Thank you for your rating!".into(),
        (Language::En, true) => {
            "Thank you for your rating. We are sorry the service fell short; your feedback helps us improve.".into()
        }
    }
}

/// Closes `contact`'s conversation as a closed ticket: any hand-off ends, the next message
/// starts afresh, and the CSAT question is queued when the tenant asks for ratings (the
/// helpdesk's "ticket closed" webhook, the admin API, the panel and `atende conversation
/// close` all close this way).
pub async fn close_ticket(
    store: &dyn Store,
    tenant: &Tenant,
    contact: &str,
    deliver_max_attempts: u32,
    correlation_id: &CorrelationId,
) -> Result<CloseOutcome, StoreError> {
    let settings = &tenant.settings.csat;
    let surveys = settings.enabled && tenant.flags.on(Flag::Csat);
    let text = surveys.then(|| survey_text(settings, &tenant.settings.persona));
    let survey = text.as_deref().map(|text| SurveyAsk {
        text,
        after_abandoned_handoff: settings.after_abandoned_handoff,
        deliver_max_attempts,
    });
    let outcome = store
        .close_conversation(CloseConversation {
            tenant: tenant.id,
            conversation: ConversationRef::Contact(contact),
            reason: CloseReason::Ticket,
            survey,
            job: None,
            correlation_id,
            now: OffsetDateTime::now_utc(),
        })
        .await?;
    report_close(&tenant.slug, CloseReason::Ticket, &outcome);
    Ok(outcome)
}

/// Logs what closing a conversation did and counts the survey asked, if any.
pub fn report_close(tenant: &str, reason: CloseReason, outcome: &CloseOutcome) {
    let why = reason.as_str();
    match outcome {
        CloseOutcome::Closed { survey: SurveyDecision::Asked { survey, message } } => {
            metrics::counter!(m::CSAT_SURVEYS_TOTAL, "tenant" => tenant.to_string(), "reason" => why).increment(1);
            info!(reason = why, survey_id = survey, message_id = %message, "conversation closed; CSAT question queued");
        }
        CloseOutcome::Closed { survey: SurveyDecision::Skipped(skipped) } => {
            info!(reason = why, survey = skipped, "conversation closed without a CSAT question");
        }
        other => info!(reason = why, outcome = ?other, "nothing to close"),
    }
}

/// The 1–5 rating a reply gives, if it reads as one.
pub fn parse_rating(text: &str) -> Option<u8> {
    let text = text.trim();
    if text.is_empty() || text.contains('?') {
        return None;
    }
    let folded = drop_slash_scale(&fold(text));
    let words: Vec<&str> = folded.split(|c: char| !c.is_alphanumeric()).filter(|w| !w.is_empty()).collect();
    let words = strip_greetings(&words);
    let stars = text.chars().filter(|c| matches!(c, '⭐' | '★' | '🌟')).count();
    if words.is_empty() {
        return (stars > 0).then(|| stars.min(5) as u8);
    }
    if let Some(score) = number_rating(&words) {
        return score;
    }
    if words.len() > MAX_RATING_WORDS {
        return None;
    }
    if stars > 0 && words.iter().all(|w| FILLER.contains(w)) {
        return Some(stars.min(5) as u8);
    }
    word_rating(&words)
}

/// Words that say nothing about the score ("nota ⭐⭐⭐⭐", "5 estrelas").
const FILLER: &[&str] = &[
    "nota",
    "dou",
    "daria",
    "minha",
    "meu",
    "e",
    "de",
    "estrela",
    "estrelas",
    "pontos",
    "ponto",
    "star",
    "stars",
    "my",
    "rating",
    "score",
    "is",
    "i",
    "give",
    "atendimento",
    "service",
    "o",
    "a",
    "the",
];

/// Words that put the number after them in a score ("nota 4", "dou 5", "rating 3").
const SCORE_CUES: &[&str] = &["nota", "dou", "daria", "avalio", "rating", "score", "give", "rate"];

fn strip_greetings<'a>(words: &[&'a str]) -> Vec<&'a str> {
    const GREETINGS: &[[&str; 2]] = &[
        ["bom", "dia"],
        ["boa", "tarde"],
        ["boa", "noite"],
        ["good", "morning"],
        ["good", "afternoon"],
        ["good", "evening"],
    ];
    let mut out = Vec::with_capacity(words.len());
    let mut i = 0;
    while i < words.len() {
        if i + 1 < words.len() && GREETINGS.iter().any(|g| g[0] == words[i] && g[1] == words[i + 1]) {
            i += 2;
            continue;
        }
        out.push(words[i]);
        i += 1;
    }
    out
}

/// A numeric score: `Some(Some(n))` for one, `Some(None)` when the numbers rule a rating out
/// (two different scores, out of range, a number inside a longer message), `None` when
/// there is no number to read.
fn number_rating(words: &[&str]) -> Option<Option<u8>> {
    let mut found = None;
    let mut i = 0;
    while i < words.len() {
        // "dou um dez", "I'd give it a 4": an article between the cue and the number.
        let article = |j: usize| matches!(words.get(j), Some(&("um" | "uma" | "a" | "it")));
        let cue = |j: usize| SCORE_CUES.contains(&words[j]);
        let cued = i > 0 && (cue(i - 1) || (i > 1 && article(i - 1) && cue(i - 2)));
        let next_is_number = words.get(i + 1).is_some_and(|w| digits(w).is_some() || number_word(w).is_some());
        if cued && article(i) && next_is_number {
            i += 1;
            continue;
        }
        // Number words only as the score itself ("cinco", "nota dez", "três estrelas"):
        // "uma pergunta" is not a 1.
        let alone = words.iter().enumerate().all(|(j, w)| j == i || FILLER.contains(w));
        let value = digits(words[i]).or_else(|| if cued || alone { number_word(words[i]) } else { None });
        let Some(value) = value else {
            i += 1;
            continue;
        };
        let neutral = words.len() <= MAX_NUMBER_WORDS
            && words.iter().enumerate().all(|(j, w)| j == i || digits(w).is_some() || is_neutral(w));
        // A message may open with its score ("5, muito obrigado…"), but not with a quantity
        // ("2 camisetas", "3 dias esperando", "5 minutos").
        let leads =
            i == 0 && words.get(1).is_none_or(|w| is_neutral(w) || digits(w).is_some() || matches!(*w, "out" | "of"));
        if !(leads || cued || neutral) {
            // A quantity, a time, an order number.
            return Some(None);
        }
        let score = match value {
            1..=5 => value as u8,
            // "nota 10", "nota dez": top marks on the school scale everyone knows.
            10 => 5,
            _ => return Some(None),
        };
        if found.is_some_and(|f| f != score) {
            return Some(None);
        }
        found = Some(score);
        // "4 de 5", "4 of 5", "4 out of 5": the scale is not a second score.
        i += 1 + match (words.get(i + 1), words.get(i + 2), words.get(i + 3)) {
            (Some(&("de" | "of")), Some(&"5"), _) => 2,
            (Some(&"out"), Some(&"of"), Some(&"5")) => 3,
            _ => 0,
        };
    }
    found.map(Some)
}

/// Words a short score may come with ("acho que 4", "foi 5, obrigado"): anything else
/// around an uncued number ("quero 2 camisetas") makes it a quantity.
fn is_neutral(word: &str) -> bool {
    const AROUND: &[&str] =
        &["foi", "ficou", "acho", "que", "obrigado", "obrigada", "valeu", "vlw", "was", "it", "think", "thanks", "ok"];
    FILLER.contains(&word)
        || AROUND.contains(&word)
        || NEGATIONS.contains(&word)
        || INTENSIFIERS.contains(&word)
        || RATING_WORDS.iter().any(|(w, _)| *w == word)
}

/// Removes the scale of "4/5" (a digit, then "/5" not followed by a digit).
fn drop_slash_scale(folded: &str) -> String {
    let bytes = folded.as_bytes();
    let mut out = String::with_capacity(folded.len());
    let mut i = 0;
    while i < folded.len() {
        let scale = bytes[i] == b'/'
            && i > 0
            && bytes[i - 1].is_ascii_digit()
            && bytes.get(i + 1) == Some(&b'5')
            && !bytes.get(i + 2).is_some_and(u8::is_ascii_digit);
        if scale {
            out.push(' ');
            i += 2;
            continue;
        }
        let c = folded[i..].chars().next().unwrap_or(' ');
        out.push(c);
        i += c.len_utf8();
    }
    out
}

fn digits(word: &str) -> Option<u32> {
    if word.is_empty() || word.len() > 3 || !word.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    word.parse().ok()
}

fn number_word(word: &str) -> Option<u32> {
    Some(match word {
        "um" | "uma" | "one" => 1,
        "dois" | "duas" | "two" => 2,
        "tres" | "three" => 3,
        "quatro" | "four" => 4,
        "cinco" | "five" => 5,
        "dez" | "ten" => 10,
        _ => return None,
    })
}

/// Words that rate, folded (no accents), with their score.
const RATING_WORDS: &[(&str, u8)] = &[
    ("otimo", 5),
    ("otima", 5),
    ("excelente", 5),
    ("perfeito", 5),
    ("perfeita", 5),
    ("maravilhoso", 5),
    ("maravilhosa", 5),
    ("incrivel", 5),
    ("sensacional", 5),
    ("nota10", 5),
    ("amei", 5),
    ("adorei", 5),
    ("excellent", 5),
    ("great", 5),
    ("awesome", 5),
    ("perfect", 5),
    ("amazing", 5),
    ("fantastic", 5),
    ("outstanding", 5),
    ("loved", 5),
    ("bom", 4),
    ("boa", 4),
    ("gostei", 4),
    ("satisfeito", 4),
    ("satisfeita", 4),
    ("good", 4),
    ("nice", 4),
    ("satisfied", 4),
    ("regular", 3),
    ("razoavel", 3),
    ("mediano", 3),
    ("mediana", 3),
    ("average", 3),
    ("ruim", 2),
    ("fraco", 2),
    ("fraca", 2),
    ("insatisfeito", 2),
    ("insatisfeita", 2),
    ("bad", 2),
    ("poor", 2),
    ("unsatisfied", 2),
    ("dissatisfied", 2),
    ("pessimo", 1),
    ("pessima", 1),
    ("horrivel", 1),
    ("terrivel", 1),
    ("terrible", 1),
    ("awful", 1),
    ("horrible", 1),
    ("worst", 1),
];

// "no" is also Portuguese "in the" ("no geral"), but only negates right before the word.
// Not "nada" either: "nada a reclamar, ótimo" is praise.
const NEGATIONS: &[&str] = &["nao", "nem", "nunca", "jamais", "not", "never", "no"];
const INTENSIFIERS: &[&str] = &["muito", "super", "bem", "very", "really", "so", "extremely"];

/// A score from words: the first rating word, shifted by a negation ("não foi bom" → 2,
/// "não foi ruim" → 3) or an intensifier ("muito bom" → 5, "muito ruim" → 1) just before it;
/// "mais ou menos" / "so so" → 3.
fn word_rating(words: &[&str]) -> Option<u8> {
    let joined = words.join(" ");
    if joined.contains("mais ou menos") || joined.contains("so so") {
        return Some(3);
    }
    for (i, word) in words.iter().enumerate() {
        let Some(&(_, score)) = RATING_WORDS.iter().find(|(w, _)| w == word) else { continue };
        // A negation counts right before the word, or with one linking word between ("não
        // foi bom", "not very good"); further back it is about something else ("não
        // resolveram nada, péssimo").
        let before = &words[i.saturating_sub(2)..i];
        let linked = |w: &&str| matches!(*w, "foi" | "e" | "esta" | "ta" | "ficou" | "was" | "is" | "very" | "muito");
        let negated = match before {
            [.., last] if NEGATIONS.contains(last) => true,
            [first, last] => NEGATIONS.contains(first) && *first != "no" && linked(last),
            _ => false,
        };
        if negated {
            return Some(if score >= 3 { 2 } else { 3 });
        }
        if before.last().is_some_and(|w| INTENSIFIERS.contains(w)) {
            return Some(match score {
                4 => 5,
                2 => 1,
                other => other,
            });
        }
        return Some(score);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::parse_rating;

    #[test]
    fn numbers_stars_and_words_read_as_ratings() {
        let cases: &[(&str, u8)] = &[
            ("5", 5),
            (" 1 ", 1),
            ("nota 4", 4),
            ("Nota: 3", 3),
            ("dou 2", 2),
            ("4/5", 4),
            ("4 de 5", 4),
            ("3 out of 5", 3),
            ("5 estrelas", 5),
            ("⭐⭐⭐", 3),
            ("⭐⭐⭐⭐⭐⭐⭐", 5),
            ("nota ⭐⭐", 2),
            ("★★★★", 4),
            ("ótimo", 5),
            ("Ótimo atendimento!", 5),
            ("excelente, obrigado", 5),
            ("bom", 4),
            ("muito bom", 5),
            ("foi bom", 4),
            ("não foi bom", 2),
            ("não gostei", 2),
            ("não foi ruim", 3),
            ("ruim", 2),
            ("muito ruim", 1),
            ("péssimo", 1),
            ("mais ou menos", 3),
            ("regular", 3),
            ("nota 10", 5),
            ("nota dez", 5),
            ("cinco", 5),
            ("great", 5),
            ("very good", 5),
            ("not good", 2),
            ("terrible service", 1),
            ("5, muito obrigado pelo atendimento, vocês foram ótimos em resolver tudo", 5),
            ("Bom dia! 5", 5),
            ("acho que 4", 4),
            ("Dou um dez", 5),
            ("dou um 5", 5),
            ("Nada a reclamar, ótimo atendimento", 5),
            ("não resolveram nada, péssimo", 1),
            ("nunca é bom", 2),
            ("not very good", 2),
            ("no good", 2),
            ("foi 5, obrigado", 5),
        ];
        for (text, want) in cases {
            assert_eq!(parse_rating(text), Some(*want), "{text:?}");
        }
    }

    #[test]
    fn questions_orders_and_chatter_are_not_ratings() {
        for text in [
            "",
            "oi",
            "obrigado",
            "Bom dia",
            "boa tarde, tudo bem",
            "é bom?",
            "qual o horário de vocês?",
            "quero 2 camisetas tamanho M",
            "quero 2 camisetas",
            "2 camisetas tamanho M por favor",
            "3 dias esperando e nada",
            "5 minutos",
            "1 dúvida: vocês entregam em Niterói",
            "preciso de 3 caixas",
            "meu pedido 12345 não chegou",
            "nota 7",
            "uma pergunta",
            "ok",
            "0",
            "4 5",
            "3 e 5",
            "vocês abrem às 8 amanhã",
            "gostaria de falar sobre a entrega que ainda não chegou aqui em casa depois de uma semana inteira",
        ] {
            assert_eq!(parse_rating(text), None, "{text:?}");
        }
    }
}
