//! Tests of `whaticket.rs`: shape detection, WT-flavio envelopes and the Facebook variant.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::macros::datetime;

use crate::channel::{ChannelKind, IgnoreReason, Inbound, parse_inbound_at};
use crate::domain::InboundMessage;

const CONVERSATION: &str = include_str!("../../tests/fixtures/whaticket/baileys_conversation.json");
const FLAVIO_MESSAGE: &str = include_str!("../../tests/fixtures/whaticket/flavio_message_received.json");
const FLAVIO_TICKET: &str = include_str!("../../tests/fixtures/whaticket/flavio_ticket_created.json");
const FACEBOOK: &str = include_str!("../../tests/fixtures/whaticket/facebook_message.json");

fn received_at() -> OffsetDateTime {
    datetime!(2026-07-24 15:00 UTC)
}

fn parse(value: &Value) -> Result<Vec<Inbound>, String> {
    let body = value.to_string();
    parse_inbound_at(ChannelKind::Whaticket, body.as_bytes(), received_at()).map_err(|e| e.to_string())
}

fn fixture(body: &str) -> Value {
    serde_json::from_str(body).unwrap()
}

fn message(value: &Value) -> InboundMessage {
    match parse(value).unwrap().as_slice() {
        [Inbound::Message(message)] => message.clone(),
        other => panic!("expected one message, got {other:?}"),
    }
}

fn ignored(value: &Value) -> IgnoreReason {
    match parse(value).unwrap().as_slice() {
        [Inbound::Ignored(reason)] => *reason,
        other => panic!("expected one ignored item, got {other:?}"),
    }
}

#[test]
fn a_flavio_message_event_with_a_message_row_becomes_a_message() {
    let message = message(&fixture(FLAVIO_MESSAGE));
    assert_eq!(message.provider_id, "3EB0F2A7C19D4E6B8A10");
    assert_eq!(message.contact.as_str(), "5511966665555");
    assert_eq!(message.contact_name.as_deref(), Some("Fernanda Lima"));
    assert_eq!(message.text, "Vocês atendem aos sábados?");
    assert_eq!(message.sent_at, datetime!(2026-07-24 14:03:11.412 UTC));
    assert_eq!(message.ticket_id.as_deref(), Some("857"));
    assert!(!message.from_me);
}

#[test]
fn a_flavio_row_finds_contact_and_ticket_inside_the_ticket() {
    let mut value = fixture(FLAVIO_MESSAGE);
    let payload = value["payload"].as_object_mut().unwrap();
    let contact = payload.remove("contact").unwrap();
    payload.remove("ticketId");
    payload.remove("createdAt");
    payload["ticket"]["contact"] = contact;
    let message = message(&value);
    assert_eq!(message.contact.as_str(), "5511966665555");
    assert_eq!(message.ticket_id.as_deref(), Some("857"));
    assert_eq!(message.sent_at, datetime!(2026-07-24 14:03:11.530 UTC), "falls back to the envelope time");
}

#[test]
fn a_flavio_message_event_may_carry_a_raw_baileys_message() {
    let value =
        json!({"event": "message.create", "payload": fixture(CONVERSATION), "timestamp": "2026-07-24T14:03:11Z"});
    assert_eq!(message(&value).text, "Oi, qual o horário de vocês?");
}

#[test]
fn a_flavio_time_that_is_neither_rfc_3339_nor_unix_seconds_is_named() {
    let mut value = fixture(FLAVIO_MESSAGE);
    value["payload"]["createdAt"] = json!("24/07/2026 14:03");
    let error = parse(&value).unwrap_err();
    assert_eq!(error, "field `payload.createdAt`: expected an RFC 3339 time or unix seconds");
}

#[test]
fn other_flavio_events_are_ignored() {
    assert_eq!(ignored(&fixture(FLAVIO_TICKET)), IgnoreReason::Event);
}

#[test]
fn flavio_rows_of_groups_deleted_messages_and_media_are_ignored() {
    let cases = [
        ("/payload/contact/isGroup", json!(true), IgnoreReason::Group),
        ("/payload/remoteJid", json!("120363025246125888@g.us"), IgnoreReason::Group),
        ("/payload/isDeleted", json!(true), IgnoreReason::Receipt),
        ("/payload/body", json!(""), IgnoreReason::NoText),
        ("/payload/fromMe", json!(true), IgnoreReason::OwnMarker),
    ];
    for (pointer, replacement, reason) in cases {
        let mut value = fixture(FLAVIO_MESSAGE);
        *value.pointer_mut(pointer).unwrap() = replacement;
        if pointer == "/payload/fromMe" {
            value["payload"]["body"] = json!("\u{200C}Promoção de Natal!");
        }
        assert_eq!(ignored(&value), reason, "{pointer}");
    }
}

#[test]
fn a_flavio_row_without_a_contact_names_the_missing_field() {
    let mut value = fixture(FLAVIO_MESSAGE);
    value["payload"].as_object_mut().unwrap().remove("contact");
    value["payload"]["ticket"].as_object_mut().unwrap().remove("contact");
    let error = parse(&value).unwrap_err();
    assert!(error.starts_with("field `payload.contact`: is required"), "{error}");
}

#[test]
fn a_flavio_message_event_without_a_payload_is_invalid() {
    let error = parse(&json!({"event": "message.received", "timestamp": "2026-07-24T14:03:11Z"})).unwrap_err();
    assert_eq!(error, "field `payload`: is required");
}

#[test]
fn the_facebook_variant_becomes_a_message_with_its_ticket() {
    let message = message(&fixture(FACEBOOK));
    assert!(message.provider_id.starts_with("m_Xy7AbC2d"));
    assert_eq!(message.contact.as_str(), "6024771839241156");
    assert_eq!(message.contact_name.as_deref(), Some("Ricardo Alves"));
    assert_eq!(message.text, "Olá, gostaria de um orçamento para 200 camisetas");
    assert_eq!(message.sent_at, received_at());
    assert_eq!(message.ticket_id.as_deref(), Some("902"));
}

#[test]
fn a_facebook_attachment_without_text_has_no_text() {
    let mut value = fixture(FACEBOOK);
    value["message"]["text"] = Value::Null;
    assert_eq!(ignored(&value), IgnoreReason::NoText);
}

#[test]
fn a_baileys_message_with_a_normalized_copy_is_read_as_baileys() {
    let mut value = fixture(CONVERSATION);
    value["normalized"] = json!({"number": "5511999999999", "body": "Oi"});
    assert_eq!(message(&value).provider_id, "3EB0C431D2B8A1F5E7A9");
}

#[test]
fn an_array_may_mix_shapes() {
    let items = parse(&json!([fixture(CONVERSATION), fixture(FLAVIO_TICKET), fixture(FACEBOOK)])).unwrap();
    assert!(matches!(&items[..], [Inbound::Message(_), Inbound::Ignored(IgnoreReason::Event), Inbound::Message(_)]));
}

#[test]
fn unknown_shapes_are_explained() {
    for value in [json!({"hello": "world"}), json!({"message": "text only"}), json!({"messages": "x"})] {
        let error = parse(&value).unwrap_err();
        assert!(error.starts_with("unrecognised Whaticket payload: expected a Baileys message"), "{error}");
    }
    assert_eq!(parse(&json!(42)).unwrap_err(), "expected a Whaticket payload object, got a number");
}
