//! Tests of `baileys.rs`, mostly through the real payload fixtures.

use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::channel::{ChannelKind, IgnoreReason, Inbound, MAX_TEXT_CHARS, parse_inbound_at};
use crate::domain::InboundMessage;

const CONVERSATION: &str = include_str!("../../tests/fixtures/whaticket/baileys_conversation.json");
const EXTENDED_TEXT: &str = include_str!("../../tests/fixtures/whaticket/baileys_extended_text.json");
const GROUP: &str = include_str!("../../tests/fixtures/whaticket/baileys_group.json");
const STATUS: &str = include_str!("../../tests/fixtures/whaticket/baileys_status_broadcast.json");
const PROTOCOL: &str = include_str!("../../tests/fixtures/whaticket/baileys_protocol_message.json");
const IMAGE_CAPTION: &str = include_str!("../../tests/fixtures/whaticket/baileys_image_caption.json");
const IMAGE_BARE: &str = include_str!("../../tests/fixtures/whaticket/baileys_image_no_caption.json");
const LONG_TIMESTAMP: &str = include_str!("../../tests/fixtures/whaticket/baileys_long_timestamp.json");
const LID: &str = include_str!("../../tests/fixtures/whaticket/baileys_lid_sender_pn.json");
const OWN_MARKER: &str = include_str!("../../tests/fixtures/whaticket/baileys_from_me_marker.json");
const UPSERT: &str = include_str!("../../tests/fixtures/whaticket/baileys_upsert_batch.json");

/// The time the webhook arrived, used when a payload has no timestamp.
fn received_at() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_764_999_999).unwrap()
}

fn parse(body: &str) -> Result<Vec<Inbound>, String> {
    parse_inbound_at(ChannelKind::Whaticket, body.as_bytes(), received_at()).map_err(|e| e.to_string())
}

fn parse_value(value: &Value) -> Result<Vec<Inbound>, String> {
    parse(&value.to_string())
}

fn message(body: &str) -> InboundMessage {
    match parse(body).unwrap().as_slice() {
        [Inbound::Message(message)] => message.clone(),
        other => panic!("expected one message, got {other:?}"),
    }
}

fn ignored(body: &str) -> IgnoreReason {
    match parse(body).unwrap().as_slice() {
        [Inbound::Ignored(reason)] => *reason,
        other => panic!("expected one ignored item, got {other:?}"),
    }
}

fn fixture(body: &str) -> Value {
    serde_json::from_str(body).unwrap()
}

#[test]
fn a_conversation_text_becomes_a_message() {
    let message = message(CONVERSATION);
    assert_eq!(message.provider_id, "3EB0C431D2B8A1F5E7A9");
    assert_eq!(message.contact.as_str(), "5511999999999");
    assert_eq!(message.contact_name.as_deref(), Some("Maria Souza"));
    assert_eq!(message.text, "Oi, qual o horário de vocês?");
    assert_eq!(message.sent_at.unix_timestamp(), 1_764_000_000);
    assert_eq!((message.ticket_id, message.from_me), (None, false));
}

#[test]
fn an_extended_text_is_read_and_trimmed_ignoring_the_quoted_message() {
    let message = message(EXTENDED_TEXT);
    assert_eq!(message.text, "Quero remarcar para amanhã às 15h");
    assert_eq!(message.contact_name.as_deref(), Some("João Pereira"));
}

#[test]
fn groups_broadcast_lists_and_channels_are_ignored_as_groups() {
    assert_eq!(ignored(GROUP), IgnoreReason::Group);
    for jid in ["1764000000@broadcast", "120363199999999999@newsletter"] {
        let mut value = fixture(CONVERSATION);
        value["key"]["remoteJid"] = json!(jid);
        assert_eq!(ignored(&value.to_string()), IgnoreReason::Group, "{jid}");
    }
}

#[test]
fn status_updates_are_ignored() {
    assert_eq!(ignored(STATUS), IgnoreReason::StatusBroadcast);
}

#[test]
fn protocol_messages_reactions_and_stubs_are_receipts() {
    assert_eq!(ignored(PROTOCOL), IgnoreReason::Receipt);
    let mut stub = fixture(CONVERSATION);
    stub["message"] = Value::Null;
    stub["messageStubType"] = json!(1);
    assert_eq!(ignored(&stub.to_string()), IgnoreReason::Receipt);
}

#[test]
fn an_image_caption_is_the_text_and_an_image_without_one_has_no_text() {
    assert_eq!(message(IMAGE_CAPTION).text, "Segue o comprovante do pagamento");
    assert_eq!(ignored(IMAGE_BARE), IgnoreReason::NoText);
}

#[test]
fn a_protobuf_long_timestamp_is_read() {
    assert_eq!(message(LONG_TIMESTAMP).sent_at.unix_timestamp(), 1_764_000_700);
}

#[test]
fn a_missing_timestamp_falls_back_to_the_arrival_time() {
    let mut value = fixture(CONVERSATION);
    value.as_object_mut().unwrap().remove("messageTimestamp");
    assert_eq!(message(&value.to_string()).sent_at, received_at());
}

#[test]
fn a_lid_chat_uses_the_phone_number_sent_beside_it() {
    assert_eq!(message(LID).contact.as_str(), "5511955554444");
}

#[test]
fn a_lid_chat_without_a_phone_number_is_rejected_with_an_explanation() {
    let mut value = fixture(LID);
    value["key"].as_object_mut().unwrap().remove("senderPn");
    let error = parse_value(&value).unwrap_err();
    assert!(error.starts_with("field `key.remoteJid`: is a WhatsApp LID (@lid)"), "{error}");
}

#[test]
fn our_own_marked_messages_are_ignored_but_other_from_me_texts_are_kept() {
    assert_eq!(ignored(OWN_MARKER), IgnoreReason::OwnMarker);
    let mut value = fixture(OWN_MARKER);
    value["message"]["extendedTextMessage"]["text"] = json!("Oi Maria, aqui é a Paula do financeiro.");
    let message = message(&value.to_string());
    assert!(message.from_me);
    assert_eq!(message.contact.as_str(), "5511999999999");
    assert_eq!(message.contact_name, None, "pushName of a fromMe message is the business");
}

#[test]
fn an_upsert_batch_yields_one_item_per_message() {
    let items = parse(UPSERT).unwrap();
    assert!(
        matches!(&items[..], [Inbound::Message(m), Inbound::Ignored(IgnoreReason::Receipt)] if m.text == "Obrigada!")
    );
}

#[test]
fn wrapped_and_interactive_contents_are_unwrapped() {
    let contents = [
        (json!({"ephemeralMessage": {"message": {"extendedTextMessage": {"text": "sumindo"}}}}), "sumindo"),
        (json!({"viewOnceMessageV2": {"message": {"imageMessage": {"caption": "uma vez"}}}}), "uma vez"),
        (json!({"buttonsResponseMessage": {"selectedButtonId": "2", "selectedDisplayText": "Suporte"}}), "Suporte"),
        (json!({"listResponseMessage": {"title": "Financeiro", "listType": 1}}), "Financeiro"),
    ];
    for (content, text) in contents {
        let mut value = fixture(CONVERSATION);
        value["message"] = content;
        assert_eq!(message(&value.to_string()).text, text);
    }
}

#[test]
fn edits_inside_a_disappearing_chat_are_receipts() {
    let mut value = fixture(CONVERSATION);
    value["message"] = json!({"ephemeralMessage": {"message": {"editedMessage": {"message": {"conversation": "x"}}}}});
    assert_eq!(ignored(&value.to_string()), IgnoreReason::Receipt);
}

#[test]
fn over_long_texts_are_cut_not_rejected() {
    let mut value = fixture(CONVERSATION);
    value["message"]["conversation"] = json!("é".repeat(MAX_TEXT_CHARS + 10));
    assert_eq!(message(&value.to_string()).text.chars().count(), MAX_TEXT_CHARS);
}

#[test]
fn missing_or_mistyped_key_fields_are_named() {
    let cases = [
        ("id", Value::Null, "field `key.id`: is required"),
        ("remoteJid", json!(5511), "field `key.remoteJid`: expected a string, got a number"),
        ("fromMe", json!("false"), "field `key.fromMe`: expected a boolean, got a string"),
        (
            "remoteJid",
            json!("abc@s.whatsapp.net"),
            "field `key.remoteJid`: invalid contact number \"abc@s.whatsapp.net\"",
        ),
    ];
    for (field, bad, expected) in cases {
        let mut value = fixture(CONVERSATION);
        value["key"][field] = bad;
        let error = parse_value(&value).unwrap_err();
        assert!(error.starts_with(expected), "{field}: {error}");
    }
}
