//! The generic inbound body, Atende's own contract (protocols.md §7.2):
//! `{id, from, name?, text, timestamp, ticket_id?, from_me?}`, alone or in a JSON array;
//! and one event, `{"event": "ticket.closed", from, ticket_id?}` (docs/handoff.md).
//! Unknown fields are allowed for forward compatibility; known fields must have their type.

use serde_json::Value;

use super::ParseError;
use super::fields::Fields;
use super::inbound::{self, IgnoreReason, Inbound, MAX_TEXT_CHARS};
use crate::domain::{ContactNumber, InboundMessage};

/// Parses a generic body: one message object or an array of them.
pub(super) fn parse(value: &Value) -> Result<Vec<Inbound>, ParseError> {
    match value {
        Value::Array(items) => inbound::parse_batch(items, parse_one),
        single => parse_one(single).map(|item| vec![item]),
    }
}

fn parse_one(value: &Value) -> Result<Inbound, ParseError> {
    let fields = Fields::root(value, "a message object")?;
    if let Some(event) = fields.str("event")? {
        return parse_event(&fields, event);
    }
    let provider_id = fields.provider_id("id")?;
    let contact = ContactNumber::parse(fields.req_str("from")?).map_err(|e| fields.invalid("from", &e.to_string()))?;
    let text =
        inbound::clean_text(fields.req_str("text")?).ok_or_else(|| fields.invalid("text", "must not be blank"))?;
    if text.chars().count() > MAX_TEXT_CHARS {
        let reason = format!("longer than {MAX_TEXT_CHARS} characters; split the message");
        return Err(fields.invalid("text", &reason));
    }
    let sent_at = match fields.get("timestamp") {
        Some(Value::Number(number)) => number.as_i64(),
        None => return Err(fields.invalid("timestamp", "is required")),
        Some(_) => None,
    };
    let sent_at = sent_at.ok_or_else(|| fields.invalid("timestamp", "expected integer unix seconds"))?;
    let sent_at = fields.seconds_to_time("timestamp", sent_at)?;
    let from_me = fields.bool("from_me")?.unwrap_or(false);
    if from_me && inbound::has_own_marker(text) {
        return Ok(Inbound::Ignored(IgnoreReason::OwnMarker));
    }
    Ok(Inbound::Message(InboundMessage {
        provider_id,
        contact,
        contact_name: inbound::contact_name(fields.str("name")?),
        text: text.to_owned(),
        sent_at,
        ticket_id: fields.id("ticket_id")?,
        from_me,
    }))
}

/// `{"event": "ticket.closed", "from": digits, "ticket_id"?}`; other events are ignored.
fn parse_event(fields: &Fields<'_>, event: &str) -> Result<Inbound, ParseError> {
    if event != inbound::TICKET_CLOSED_EVENT {
        return Ok(Inbound::Ignored(IgnoreReason::Event));
    }
    let contact = ContactNumber::parse(fields.req_str("from")?).map_err(|e| fields.invalid("from", &e.to_string()))?;
    Ok(Inbound::TicketClosed(inbound::TicketClosed { contact, ticket_id: fields.id("ticket_id")? }))
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::OffsetDateTime;

    use super::*;
    use crate::channel::{ChannelKind, parse_inbound};

    const VALID: &str = include_str!("../../tests/fixtures/generic/message.json");
    const FROM_ME: &str = include_str!("../../tests/fixtures/generic/from_me.json");
    const BATCH: &str = include_str!("../../tests/fixtures/generic/batch.json");

    fn parse_json(value: Value) -> Result<Vec<Inbound>, ParseError> {
        parse_inbound(ChannelKind::Generic, value.to_string().as_bytes())
    }

    fn only_message(items: Vec<Inbound>) -> InboundMessage {
        match <[Inbound; 1]>::try_from(items) {
            Ok([Inbound::Message(message)]) => message,
            other => panic!("expected one message, got {other:?}"),
        }
    }

    fn error_of(value: Value) -> String {
        parse_json(value).unwrap_err().to_string()
    }

    fn valid() -> Value {
        serde_json::from_str(VALID).unwrap()
    }

    #[test]
    fn a_valid_message_becomes_an_inbound_message() {
        let message = only_message(parse_inbound(ChannelKind::Generic, VALID.as_bytes()).unwrap());
        assert_eq!(message.provider_id, "wamid.HBgNNTUxMTk5OTk5OTk5ORUCABIYFjNFQjA");
        assert_eq!(message.contact.as_str(), "5511999999999");
        assert_eq!(message.contact_name.as_deref(), Some("Maria Souza"));
        assert_eq!(message.text, "Oi, qual o horário de vocês?");
        assert_eq!(message.sent_at, OffsetDateTime::from_unix_timestamp(1_764_000_000).unwrap());
        assert_eq!(message.ticket_id.as_deref(), Some("123"));
        assert!(!message.from_me);
    }

    #[test]
    fn a_from_me_message_is_kept_for_upstream_to_judge() {
        let message = only_message(parse_inbound(ChannelKind::Generic, FROM_ME.as_bytes()).unwrap());
        assert!(message.from_me);
        assert_eq!(message.ticket_id.as_deref(), Some("123"));
    }

    #[test]
    fn a_from_me_message_with_a_whaticket_marker_is_ignored() {
        let mut value = valid();
        value["from_me"] = json!(true);
        value["text"] = json!("\u{200E}Olá! Escolha uma opção:");
        assert_eq!(parse_json(value).unwrap(), vec![Inbound::Ignored(IgnoreReason::OwnMarker)]);
    }

    #[test]
    fn an_array_yields_one_item_per_element() {
        let items = parse_inbound(ChannelKind::Generic, BATCH.as_bytes()).unwrap();
        assert_eq!(items.len(), 2);
        assert!(items.iter().all(|item| matches!(item, Inbound::Message(_))));
        assert_eq!(parse_json(json!([])).unwrap(), vec![]);
    }

    #[test]
    fn optional_fields_may_be_absent_or_null_and_unknown_fields_are_allowed() {
        let body = json!({"id": "m1", "from": "+55 11 99999-9999", "text": " Oi ", "timestamp": 1_764_000_000,
            "name": null, "ticket_id": null, "from_me": null, "channel_hint": {"any": "thing"}});
        let message = only_message(parse_json(body).unwrap());
        assert_eq!((message.text.as_str(), message.contact_name, message.ticket_id), ("Oi", None, None));
    }

    #[test]
    fn a_numeric_ticket_id_becomes_text() {
        let mut value = valid();
        value["ticket_id"] = json!(4711);
        assert_eq!(only_message(parse_json(value).unwrap()).ticket_id.as_deref(), Some("4711"));
    }

    #[test]
    fn missing_or_wrongly_typed_fields_are_named() {
        let cases = [
            ("id", json!(null), "field `id`: is required"),
            ("id", json!(""), "field `id`: must not be empty"),
            ("from", json!(5511999999999_i64), "field `from`: expected a string, got a number"),
            ("text", json!("   "), "field `text`: must not be blank"),
            ("timestamp", json!("1764000000"), "field `timestamp`: expected integer unix seconds"),
            ("timestamp", json!(1_764_000_000_000_i64), "field `timestamp`: 1764000000000 is not a unix time"),
            ("from_me", json!("yes"), "field `from_me`: expected a boolean, got a string"),
            ("ticket_id", json!(["1"]), "field `ticket_id`: expected a string or an integer"),
        ];
        for (field, bad, expected) in cases {
            let mut value = valid();
            value[field] = bad;
            let error = error_of(value);
            assert!(error.starts_with(expected), "{field}: {error}");
        }
    }

    #[test]
    fn an_invalid_contact_number_is_named_without_echoing_long_input() {
        let mut value = valid();
        value["from"] = json!(format!("not-a-number-{}", "x".repeat(500)));
        let error = error_of(value);
        assert!(error.starts_with("field `from`: invalid contact number"), "{error}");
        assert!(error.len() < 160, "{error}");
    }

    #[test]
    fn over_long_ids_and_texts_are_rejected() {
        let mut value = valid();
        value["id"] = json!("i".repeat(257));
        assert!(error_of(value).starts_with("field `id`: longer than 256"));
        let mut value = valid();
        value["text"] = json!("t".repeat(MAX_TEXT_CHARS + 1));
        assert!(error_of(value).starts_with("field `text`: longer than 4096"));
    }

    #[test]
    fn non_objects_and_bad_array_items_are_rejected() {
        assert_eq!(error_of(json!("hello")), "expected a message object, got a string");
        let error = error_of(json!([valid(), 7]));
        assert_eq!(error, "item 1: expected a message object, got a number");
    }
}
