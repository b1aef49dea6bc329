//! The input guard: reads a customer message for injection and social-engineering attempts.
//!
//! 1. The literal text (lowercase, accents folded) is scanned; a hit names its own family.
//! 2. The normalised text, its leetspeak reading and, when letters were spaced out, its
//!    letters-only form are scanned; a hit there is `Obfuscation` (the disguise is the signal).
//! 3. Many invisible characters inside words, or text in Unicode tag characters, is `Obfuscation`.
//! 4. Chunks that decode (base64, hex, URL, rot13) are checked again; a hit is `EncodedPayload`.

use std::sync::LazyLock;

use super::decode;
use super::matcher::{Phrase, tokenize};
use super::normalize::{compact, fold, plain, suspicious_invisibles, unleet};
use super::rules::{self, Rule};
use super::social;
use super::{AttackKind, InputVerdict};

/// Invisible characters inside words from which a message counts as disguised on its own.
const HEAVY_INVISIBLES: usize = 3;

/// How deep encoded payloads are unwrapped (base64 inside base64).
const MAX_DEPTH: usize = 2;

/// Longest evidence kept for logs, in characters.
const MAX_EVIDENCE: usize = 80;

/// Chat-template and fence markers that forge a system or staff turn.
const FORGED_TURNS: &[&str] = &[
    "<|im_start|>",
    "<|im_end|>",
    "<|system|>",
    "<|assistant|>",
    "<|endoftext|>",
    "[inst]",
    "[/inst]",
    "<<sys>>",
    "[system]",
    "<system>",
    "</system>",
    "[sistema]",
    "<sistema>",
    "[admin]",
    "[developer]",
    "</customer_message>",
    "<customer_message>",
    "### system",
    "###system",
    "### instruction",
    "### instrucao",
    "{{system}}",
];

/// Line openings that forge a turn: "system: …", "assistant: …".
const FORGED_LINE_STARTS: &[&str] = &["system:", "assistant:", "system prompt:", "developer:", "admin:"];

static RULES: LazyLock<Vec<Rule>> = LazyLock::new(rules::all);
static CLAIMS: LazyLock<Vec<Phrase>> = LazyLock::new(social::claims);

/// Checks a customer message (pt-BR or en) for prompt injection and social engineering.
/// Ordinary customer talk ("ignora a mensagem anterior, digitei errado", "você é um robô?",
/// "o sistema de vocês caiu?") is `Clean`.
pub fn check_input(text: &str) -> InputVerdict {
    inspect(text, 0)
}

fn inspect(text: &str, depth: usize) -> InputVerdict {
    let literal = plain(text);
    if let Some((kind, evidence)) = scan(&literal) {
        return attack(kind, evidence);
    }
    let folded = fold(text);
    let leet = unleet(&folded.text);
    // A reading identical to one already scanned cannot match anything new.
    let fresh = |reading: &str, seen: &str| if reading == seen { None } else { scan(reading) };
    let disguised = fresh(&folded.text, &literal).or_else(|| fresh(&leet, &folded.text)).or_else(|| {
        folded.joined.then(|| scan_compact(&compact(&folded.text)).or_else(|| scan_compact(&compact(&leet)))).flatten()
    });
    if let Some((kind, evidence)) = disguised {
        return attack(AttackKind::Obfuscation, format!("{}: {evidence}", kind.as_str()));
    }
    if let Some(hidden) = decode::tag_characters(text) {
        return attack(AttackKind::Obfuscation, format!("text in invisible tag characters: {hidden}"));
    }
    let invisibles = suspicious_invisibles(text);
    if invisibles >= HEAVY_INVISIBLES {
        return attack(AttackKind::Obfuscation, format!("{invisibles} invisible characters inside words"));
    }
    if depth < MAX_DEPTH {
        for (encoding, decoded) in decode::payloads(text) {
            if let InputVerdict::Attack { evidence, .. } = inspect(&decoded, depth + 1) {
                return attack(AttackKind::EncodedPayload, format!("{encoding}: {evidence}"));
            }
        }
    }
    InputVerdict::Clean
}

fn attack(kind: AttackKind, evidence: String) -> InputVerdict {
    let evidence = match evidence.char_indices().nth(MAX_EVIDENCE) {
        Some((cut, _)) => format!("{}…", &evidence[..cut]),
        None => evidence,
    };
    InputVerdict::Attack { kind, evidence }
}

/// The first family found in one reading of the message, with the words that matched.
fn scan(text: &str) -> Option<(AttackKind, String)> {
    if let Some(marker) = forged_turn(text) {
        return Some((AttackKind::RolePlay, format!("forged turn marker {marker}")));
    }
    let tokens = tokenize(text);
    let mut authority: Option<bool> = None;
    RULES.iter().find_map(|rule| {
        if rule.needs_authority && !*authority.get_or_insert_with(|| CLAIMS.iter().any(|c| c.is_in(&tokens))) {
            return None;
        }
        rule.phrase.find(&tokens).map(|words| (rule.kind, words))
    })
}

/// Like [`scan`], on letters-only text (a sentence spaced out letter by letter).
fn scan_compact(compact: &str) -> Option<(AttackKind, String)> {
    RULES.iter().filter(|r| !r.needs_authority).find_map(|r| r.phrase.find_compact(compact).map(|w| (r.kind, w)))
}

fn forged_turn(text: &str) -> Option<&'static str> {
    let squeezed: String = text.chars().filter(|c| *c != ' ').collect();
    FORGED_TURNS.iter().find(|m| squeezed.contains(&m.replace(' ', ""))).copied().or_else(|| {
        text.lines().find_map(|line| {
            let line = line.trim_start_matches(|c: char| !c.is_alphanumeric());
            FORGED_LINE_STARTS.iter().find(|m| line.starts_with(*m)).copied()
        })
    })
}
