//! What a webhook body becomes: messages to answer or events ignored with a reason,
//! plus the limits and text rules every parser shares.

use serde_json::Value;
use time::OffsetDateTime;

use super::{ChannelKind, ParseError, generic, whaticket};
use crate::domain::InboundMessage;

/// Longest accepted provider message id, in characters.
pub const MAX_ID_CHARS: usize = 256;
/// Longest message text, in characters. Generic senders get a 400 above it (they can split);
/// Whaticket texts are cut to it, since WhatsApp allows longer texts and the sender cannot retry.
pub const MAX_TEXT_CHARS: usize = 4096;
/// Contact display names are cut to this many characters.
pub const MAX_NAME_CHARS: usize = 128;
/// Most items one body may carry (a JSON array or a Baileys `messages.upsert` batch).
pub const MAX_BATCH_ITEMS: usize = 100;

/// One item of a webhook body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inbound {
    /// A text message to record (possibly `from_me`: our echo or a human agent).
    Message(InboundMessage),
    /// The helpdesk closed the contact's ticket: the conversation closes and the bot takes
    /// the next message (WT-flavio `ticket.closed`, generic `{"event": "ticket.closed"}`).
    TicketClosed(TicketClosed),
    /// Something that is not a customer text; upstream answers 200 "ignored" with the reason.
    Ignored(IgnoreReason),
}

/// A closed helpdesk ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketClosed {
    /// The customer.
    pub contact: crate::domain::ContactNumber,
    /// The ticket, when the sender says.
    pub ticket_id: Option<String>,
}

/// The event name that closes a ticket, on every channel that reports it.
pub const TICKET_CLOSED_EVENT: &str = "ticket.closed";

/// Why an item is not a message to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IgnoreReason {
    /// A group, a broadcast list or a channel: not a one-to-one chat.
    Group,
    /// A WhatsApp status update (`status@broadcast`).
    StatusBroadcast,
    /// Receipts and protocol traffic: acks, edits, reactions, revokes, deleted messages.
    Receipt,
    /// No text: media or stickers without a caption, locations, contacts, polls.
    NoText,
    /// A `fromMe` text carrying U+200E or U+200C, the Whaticket bot/campaign markers (§1.6).
    OwnMarker,
    /// A non-message event such as `ticket.created`.
    Event,
}

impl IgnoreReason {
    /// The reason as reported in the 200 answer and in metric labels.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Group => "group",
            Self::StatusBroadcast => "status_broadcast",
            Self::Receipt => "receipt",
            Self::NoText => "no_text",
            Self::OwnMarker => "own_marker",
            Self::Event => "event",
        }
    }
}

/// Parses one webhook body into its items, timestamping messages that carry no time with now.
pub fn parse_inbound(kind: ChannelKind, body: &[u8]) -> Result<Vec<Inbound>, ParseError> {
    parse_inbound_at(kind, body, OffsetDateTime::now_utc())
}

/// Parses one webhook body into its items; `received_at` stands in for a missing send time.
///
/// A batch is all or nothing: one invalid item rejects the body, naming the item.
/// Never panics, whatever the input.
pub fn parse_inbound_at(
    kind: ChannelKind,
    body: &[u8],
    received_at: OffsetDateTime,
) -> Result<Vec<Inbound>, ParseError> {
    // serde_json caps nesting depth, so hostile input cannot overflow the stack.
    let value: Value = serde_json::from_slice(body).map_err(|e| ParseError::Json(e.to_string()))?;
    match kind {
        ChannelKind::Generic => generic::parse(&value),
        ChannelKind::Whaticket => whaticket::parse(&value, received_at),
    }
}

/// Parses each element of a batch with `parse_item`, prefixing errors with the item's index.
pub(super) fn parse_batch<T>(
    items: &[Value],
    mut parse_item: impl FnMut(&Value) -> Result<T, ParseError>,
) -> Result<Vec<T>, ParseError> {
    if items.len() > MAX_BATCH_ITEMS {
        let reason = format!("a batch holds at most {MAX_BATCH_ITEMS} items, got {}", items.len());
        return Err(ParseError::Invalid(reason));
    }
    let at_item = |index: usize, error: ParseError| match error {
        ParseError::Invalid(reason) => ParseError::Invalid(format!("item {index}: {reason}")),
        other => other,
    };
    items.iter().enumerate().map(|(index, item)| parse_item(item).map_err(|e| at_item(index, e))).collect()
}

/// The trimmed text, or `None` when nothing but whitespace is left.
pub(super) fn clean_text(raw: &str) -> Option<&str> {
    Some(raw.trim()).filter(|text| !text.is_empty())
}

/// `text` cut to at most `max` characters.
pub(super) fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// A Whaticket text cut to [`MAX_TEXT_CHARS`] (see there for why it is cut, not rejected).
pub(super) fn capped_text(text: &str) -> String {
    truncate(text, MAX_TEXT_CHARS).trim_end().to_owned()
}

/// The trimmed display name, cut to [`MAX_NAME_CHARS`]; blank names are absent.
pub(super) fn contact_name(raw: Option<&str>) -> Option<String> {
    raw.and_then(clean_text).map(|name| truncate(name, MAX_NAME_CHARS).trim_end().to_owned())
}

/// Whether a text carries the marker Whaticket puts on its own bot or campaign sends (§1.6).
pub(super) fn has_own_marker(text: &str) -> bool {
    text.contains(['\u{200E}', '\u{200C}'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_counts_characters_not_bytes() {
        assert_eq!(truncate("ação", 2), "aç");
        assert_eq!(truncate("oi", 10), "oi");
    }

    #[test]
    fn blank_texts_and_names_are_absent() {
        assert_eq!(clean_text(" \n\t "), None);
        assert_eq!(clean_text("  Oi \n"), Some("Oi"));
        assert_eq!(contact_name(Some("   ")), None);
        assert_eq!(contact_name(Some(&"M".repeat(500))).map(|n| n.len()), Some(MAX_NAME_CHARS));
    }

    #[test]
    fn both_whaticket_markers_are_recognised() {
        assert!(has_own_marker("\u{200E}Bem-vindo!"));
        assert!(has_own_marker("Promoção\u{200C}"));
        assert!(!has_own_marker("Olá"));
    }

    #[test]
    fn batches_over_the_limit_are_rejected() {
        let items = vec![Value::Null; MAX_BATCH_ITEMS + 1];
        let error = parse_batch(&items, |_| Ok(())).unwrap_err();
        assert!(error.to_string().contains("at most"), "{error}");
    }

    #[test]
    fn batch_errors_name_the_item() {
        let items = vec![Value::Null, Value::Bool(true)];
        let error = parse_batch(&items, |item| match item {
            Value::Null => Ok(()),
            _ => Err(ParseError::Invalid("field `id`: is required".into())),
        });
        assert_eq!(error.unwrap_err().to_string(), "item 1: field `id`: is required");
    }

    #[test]
    fn ignore_reasons_have_stable_labels() {
        let labels = [
            IgnoreReason::Group,
            IgnoreReason::StatusBroadcast,
            IgnoreReason::Receipt,
            IgnoreReason::NoText,
            IgnoreReason::OwnMarker,
            IgnoreReason::Event,
        ]
        .map(|reason| reason.as_str());
        assert_eq!(labels, ["group", "status_broadcast", "receipt", "no_text", "own_marker", "event"]);
    }
}
