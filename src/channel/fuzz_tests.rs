//! Robustness of the parsers: garbage bytes, truncated fixtures and fixtures with every node
//! replaced by a hostile value must give `Ok` or `Err`, never a panic.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::{ChannelKind, ParseError, parse_inbound_at};

const FIXTURES: [(ChannelKind, &str); 17] = [
    (ChannelKind::Generic, include_str!("../../tests/fixtures/generic/message.json")),
    (ChannelKind::Generic, include_str!("../../tests/fixtures/generic/from_me.json")),
    (ChannelKind::Generic, include_str!("../../tests/fixtures/generic/batch.json")),
    (ChannelKind::Whaticket, include_str!("../../tests/fixtures/whaticket/baileys_conversation.json")),
    (ChannelKind::Whaticket, include_str!("../../tests/fixtures/whaticket/baileys_extended_text.json")),
    (ChannelKind::Whaticket, include_str!("../../tests/fixtures/whaticket/baileys_group.json")),
    (ChannelKind::Whaticket, include_str!("../../tests/fixtures/whaticket/baileys_status_broadcast.json")),
    (ChannelKind::Whaticket, include_str!("../../tests/fixtures/whaticket/baileys_protocol_message.json")),
    (ChannelKind::Whaticket, include_str!("../../tests/fixtures/whaticket/baileys_image_caption.json")),
    (ChannelKind::Whaticket, include_str!("../../tests/fixtures/whaticket/baileys_image_no_caption.json")),
    (ChannelKind::Whaticket, include_str!("../../tests/fixtures/whaticket/baileys_long_timestamp.json")),
    (ChannelKind::Whaticket, include_str!("../../tests/fixtures/whaticket/baileys_lid_sender_pn.json")),
    (ChannelKind::Whaticket, include_str!("../../tests/fixtures/whaticket/baileys_from_me_marker.json")),
    (ChannelKind::Whaticket, include_str!("../../tests/fixtures/whaticket/baileys_upsert_batch.json")),
    (ChannelKind::Whaticket, include_str!("../../tests/fixtures/whaticket/flavio_message_received.json")),
    (ChannelKind::Whaticket, include_str!("../../tests/fixtures/whaticket/flavio_ticket_created.json")),
    (ChannelKind::Whaticket, include_str!("../../tests/fixtures/whaticket/facebook_message.json")),
];

fn parse(kind: ChannelKind, body: &[u8]) -> Result<usize, ParseError> {
    let received_at = OffsetDateTime::UNIX_EPOCH;
    parse_inbound_at(kind, body, received_at).map(|items| items.len())
}

/// xorshift64: a deterministic stream, so a failure reproduces.
fn next(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

#[test]
fn every_fixture_parses() {
    for (kind, body) in FIXTURES {
        assert!(parse(kind, body.as_bytes()).is_ok(), "{body}");
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut state = 0x9E37_79B9_7F4A_7C15;
    for _ in 0..5_000 {
        let len = (next(&mut state) % 300) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next(&mut state) as u8).collect();
        for kind in [ChannelKind::Generic, ChannelKind::Whaticket] {
            let _ = parse(kind, &bytes);
        }
    }
}

#[test]
fn truncated_fixtures_are_json_errors_not_panics() {
    for (kind, body) in FIXTURES {
        let body = body.trim_end().as_bytes();
        for end in 0..body.len() {
            assert!(matches!(parse(kind, &body[..end]), Err(ParseError::Json(_))), "cut at {end}");
        }
    }
}

#[test]
fn hostile_values_in_every_position_never_panic() {
    let hostile = [
        Value::Null,
        json!(true),
        json!(-1),
        json!(u64::MAX),
        json!(1e308),
        json!(""),
        json!("123456789012345@lid"),
        json!("\u{200E}"),
        json!("9".repeat(5_000)),
        json!([]),
        json!({}),
        json!({"low": -1, "high": -1, "unsigned": true}),
    ];
    for (kind, body) in FIXTURES {
        let original: Value = serde_json::from_str(body).unwrap();
        for pointer in pointers(&original, String::new()) {
            for replacement in &hostile {
                let mut mutated = original.clone();
                *mutated.pointer_mut(&pointer).unwrap() = replacement.clone();
                let _ = parse(kind, mutated.to_string().as_bytes());
            }
        }
    }
}

#[test]
fn deep_nesting_is_rejected_without_overflowing_the_stack() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let nested_objects = format!("{}1{}", r#"{"key":"#.repeat(50_000), "}".repeat(50_000));
    for body in [deep, nested_objects] {
        for kind in [ChannelKind::Generic, ChannelKind::Whaticket] {
            assert!(matches!(parse(kind, body.as_bytes()), Err(ParseError::Json(_))));
        }
    }
}

/// JSON pointers to every node below the root.
fn pointers(value: &Value, prefix: String) -> Vec<String> {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map.iter().map(|(key, child)| (escape(key), child)).collect(),
        Value::Array(items) => items.iter().enumerate().map(|(i, child)| (i.to_string(), child)).collect(),
        _ => Vec::new(),
    };
    let mut all = Vec::new();
    for (segment, child) in children {
        let pointer = format!("{prefix}/{segment}");
        all.extend(pointers(child, pointer.clone()));
        all.push(pointer);
    }
    all
}

fn escape(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
