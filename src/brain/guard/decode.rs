//! Hidden payloads: chunks of a message that decode (base64, hex, URL encoding, rot13, Unicode
//! tag characters) to readable text, which the input guard then checks like any message.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};

/// Shortest base64 chunk worth decoding (12 bytes of text).
const MIN_BASE64: usize = 16;

/// Shortest hex chunk worth decoding, in digits (8 bytes of text).
const MIN_HEX: usize = 16;

/// Percent escapes needed before a message is URL-decoded.
const MIN_PERCENT_ESCAPES: usize = 3;

const LENIENT: GeneralPurposeConfig = GeneralPurposeConfig::new()
    .with_decode_padding_mode(DecodePaddingMode::Indifferent)
    .with_decode_allow_trailing_bits(true);
const BASE64: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const BASE64_URL: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Readable texts hidden in `text`, each with the encoding that hid it.
pub(crate) fn payloads(text: &str) -> Vec<(&'static str, String)> {
    let mut found: Vec<(&'static str, String)> = Vec::new();
    found.extend(base64_chunks(text).into_iter().map(|t| ("base64", t)));
    found.extend(hex_chunks(text).into_iter().map(|t| ("hex", t)));
    found.extend(url_decoded(text).map(|t| ("url", t)));
    found.push(("rot13", rot13(text)));
    found
}

/// ASCII spelled with invisible Unicode tag characters (U+E0020–U+E007E), if any.
pub(crate) fn tag_characters(text: &str) -> Option<String> {
    let hidden: String = text
        .chars()
        .filter_map(|c| match c as u32 {
            code @ 0xE0020..=0xE007E => char::from_u32(code - 0xE0000),
            _ => None,
        })
        .collect();
    (!hidden.is_empty()).then_some(hidden)
}

fn base64_chunks(text: &str) -> Vec<String> {
    text.split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '/' | '=' | '-' | '_')))
        .filter(|chunk| chunk.len() >= MIN_BASE64)
        .filter_map(|chunk| {
            let chunk = chunk.trim_end_matches('=');
            [BASE64, BASE64_URL].iter().find_map(|engine| readable(engine.decode(chunk).ok()?))
        })
        .collect()
}

/// Hex runs, written solid ("69676e6f7265"), with `\x`/`0x` prefixes, or as spaced bytes.
fn hex_chunks(text: &str) -> Vec<String> {
    let mut chunks = Vec::new();
    let mut run = String::new();
    let cleaned = text.replace("\\x", " ").replace("0x", " ");
    for word in cleaned.split(|c: char| c.is_whitespace() || c == ',' || c == ':') {
        if !word.is_empty() && word.len() % 2 == 0 && word.chars().all(|c| c.is_ascii_hexdigit()) {
            run.push_str(word);
            continue;
        }
        chunks.extend(take_hex(&mut run));
    }
    chunks.extend(take_hex(&mut run));
    chunks
}

fn take_hex(run: &mut String) -> Option<String> {
    let digits = std::mem::take(run);
    if digits.len() < MIN_HEX {
        return None;
    }
    let bytes: Option<Vec<u8>> =
        (0..digits.len()).step_by(2).map(|i| u8::from_str_radix(&digits[i..i + 2], 16).ok()).collect();
    readable(bytes?)
}

fn url_decoded(text: &str) -> Option<String> {
    if text.matches('%').count() < MIN_PERCENT_ESCAPES {
        return None;
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| text.get(i + 1..i + 3))
            .flatten()
            .and_then(|hex| u8::from_str_radix(hex, 16).ok());
        match escaped {
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
            None => {
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
    }
    readable(out).filter(|decoded| decoded != text)
}

/// Shifts Latin letters by 13; everything else stays.
pub(crate) fn rot13(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            'a'..='z' => (((c as u8 - b'a') + 13) % 26 + b'a') as char,
            'A'..='Z' => (((c as u8 - b'A') + 13) % 26 + b'A') as char,
            _ => c,
        })
        .collect()
}

/// UTF-8 text that is mostly letters, digits, punctuation and spaces.
fn readable(bytes: Vec<u8>) -> Option<String> {
    let text = String::from_utf8(bytes).ok()?;
    let total = text.chars().count();
    let printable = text.chars().filter(|c| !c.is_control() || matches!(c, '\n' | '\t' | '\r')).count();
    let letters = text.chars().filter(|c| c.is_alphabetic()).count();
    (total > 0 && printable * 10 >= total * 9 && letters * 2 >= total).then_some(text)
}
