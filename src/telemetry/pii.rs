//! Personal data in logs: phone numbers and message text are masked unless the operator
//! sets `log.include_pii = true` (to debug one case, then turn it off again).
//!
//! A process-wide switch, like the log subscriber it serves: `init_logs` sets it once.

use std::sync::atomic::{AtomicBool, Ordering};

static INCLUDE_PII: AtomicBool = AtomicBool::new(false);

/// Chooses whether [`contact`] and [`text`] show values as they are.
pub fn set_include_pii(include: bool) {
    INCLUDE_PII.store(include, Ordering::Relaxed);
}

fn include_pii() -> bool {
    INCLUDE_PII.load(Ordering::Relaxed)
}

/// A contact (phone number or chat id) for a log line: the first four and last two
/// characters, the rest as `*` ("5511*******21"), so one conversation's lines can still be
/// followed without the number itself. Short values are fully masked.
pub fn contact(value: &str) -> String {
    if include_pii() { value.to_string() } else { mask_contact(value) }
}

/// Message text for a log line: its length only ("[42 characters]").
pub fn text(value: &str) -> String {
    if include_pii() { value.to_string() } else { mask_text(value) }
}

fn mask_contact(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() <= 8 {
        return "*".repeat(chars.len());
    }
    let (head, tail) = (4, 2);
    let mut masked: String = chars[..head].iter().collect();
    masked.extend(std::iter::repeat_n('*', chars.len() - head - tail));
    masked.extend(&chars[chars.len() - tail..]);
    masked
}

fn mask_text(value: &str) -> String {
    format!("[{} characters]", value.chars().count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_number_keeps_only_its_country_area_prefix_and_last_two_digits() {
        assert_eq!(mask_contact("5511987654321"), "5511*******21");
        assert_eq!(mask_contact("5511987654321@s.whatsapp.net").len(), "5511987654321@s.whatsapp.net".len());
        assert!(!mask_contact("5511987654321@s.whatsapp.net").contains("98765"));
    }

    #[test]
    fn short_contacts_are_fully_masked_and_unicode_is_counted_in_characters() {
        assert_eq!(mask_contact("12345678"), "********");
        assert_eq!(mask_contact(""), "");
        assert_eq!(mask_contact("ããããããããããã"), "ãããã*****ãã");
    }

    #[test]
    fn text_is_reduced_to_its_length_in_characters() {
        assert_eq!(mask_text("Olá, meu CPF é 123.456.789-00"), "[29 characters]");
        assert!(!mask_text("segredo").contains("segredo"));
    }
}
