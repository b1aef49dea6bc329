//! Whaticket inbound bodies (protocols.md §1.4). Forks differ, so the shape is detected:
//! a raw Baileys message (or an array / `messages.upsert` batch of them), WT-flavio's
//! `{event, payload, timestamp}` envelope, or the Facebook-channel `{message, contact, ticket}`.

use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::fields::Fields;
use super::inbound::{self, IgnoreReason, Inbound};
use super::{ParseError, baileys};
use crate::domain::{ContactNumber, InboundMessage};

/// WT-flavio events that carry a message; every other event is ignored.
const MESSAGE_EVENTS: [&str; 2] = ["message.received", "message.create"];
/// WT-flavio events that carry a ticket row: `ticket.closed`, or an update to `closed`.
const TICKET_EVENTS: [&str; 3] = [inbound::TICKET_CLOSED_EVENT, "ticket.updated", "ticket.update"];

/// A ticket row `{id, status, contact: {number}}` in a ticket event: a close ends the
/// conversation; any other update is ignored.
fn parse_ticket_event(envelope: &Fields<'_>, event: &str) -> Result<Inbound, ParseError> {
    let ticket = envelope.obj("payload")?.ok_or_else(|| envelope.invalid("payload", "is required"))?;
    let closed = event == inbound::TICKET_CLOSED_EVENT || ticket.str("status")? == Some("closed");
    if !closed {
        return Ok(Inbound::Ignored(IgnoreReason::Event));
    }
    let contact = ticket.obj("contact")?.ok_or_else(|| ticket.invalid("contact", "is required (contact.number)"))?;
    if contact.bool("isGroup")?.unwrap_or(false) {
        return Ok(Inbound::Ignored(IgnoreReason::Group));
    }
    Ok(Inbound::TicketClosed(inbound::TicketClosed { contact: number_of(&contact)?, ticket_id: ticket.id("id")? }))
}

/// Parses a Whaticket body; `received_at` stands in when a payload carries no send time.
pub(super) fn parse(value: &Value, received_at: OffsetDateTime) -> Result<Vec<Inbound>, ParseError> {
    let parse_item = |item: &Value| parse_item(item, received_at);
    match value {
        Value::Array(items) => inbound::parse_batch(items, parse_item),
        // Baileys `messages.upsert`: `{messages: [...], type: "notify" | "append"}`.
        Value::Object(map) if !map.contains_key("key") && map.get("messages").is_some_and(Value::is_array) => {
            let items = map.get("messages").and_then(Value::as_array).map_or(&[][..], Vec::as_slice);
            inbound::parse_batch(items, parse_item)
        }
        single => parse_item(single).map(|item| vec![item]),
    }
}

fn parse_item(value: &Value, received_at: OffsetDateTime) -> Result<Inbound, ParseError> {
    let fields = Fields::root(value, "a Whaticket payload object")?;
    if fields.has("key") {
        baileys::parse(&fields, received_at)
    } else if fields.has("event") {
        parse_event(&fields, received_at)
    } else if fields.get("message").is_some_and(Value::is_object) && fields.has("contact") {
        parse_facebook(&fields, received_at)
    } else {
        Err(ParseError::Invalid(
            "unrecognised Whaticket payload: expected a Baileys message (key.remoteJid), \
             an {event, payload} envelope or a {message, contact, ticket} object"
                .into(),
        ))
    }
}

/// WT-flavio `{event, payload, timestamp}`: the payload is a Baileys message or a Message row.
fn parse_event(envelope: &Fields<'_>, received_at: OffsetDateTime) -> Result<Inbound, ParseError> {
    let event = envelope.req_str("event")?;
    if TICKET_EVENTS.contains(&event) {
        return parse_ticket_event(envelope, event);
    }
    if !MESSAGE_EVENTS.contains(&event) {
        return Ok(Inbound::Ignored(IgnoreReason::Event));
    }
    let payload = envelope.obj("payload")?.ok_or_else(|| envelope.invalid("payload", "is required"))?;
    let received_at = instant(envelope, "timestamp")?.unwrap_or(received_at);
    if payload.has("key") { baileys::parse(&payload, received_at) } else { parse_message_row(&payload, received_at) }
}

/// A Whaticket `Message` row: `{id, body, fromMe, contact:{number,name}, ticketId | ticket:{id}}`.
fn parse_message_row(row: &Fields<'_>, received_at: OffsetDateTime) -> Result<Inbound, ParseError> {
    if let Some(reason) = row.str("remoteJid")?.and_then(baileys::chat_ignore_reason) {
        return Ok(Inbound::Ignored(reason));
    }
    let ticket = row.obj("ticket")?;
    let contact = match row.obj("contact")? {
        Some(contact) => Some(contact),
        None => ticket.as_ref().map(|ticket| ticket.obj("contact")).transpose()?.flatten(),
    };
    let contact = contact.ok_or_else(|| row.invalid("contact", "is required (contact.number)"))?;
    if contact.bool("isGroup")?.unwrap_or(false) {
        return Ok(Inbound::Ignored(IgnoreReason::Group));
    }
    if row.bool("isDeleted")?.unwrap_or(false) {
        return Ok(Inbound::Ignored(IgnoreReason::Receipt));
    }
    let Some(text) = row.str("body")?.and_then(inbound::clean_text) else {
        return Ok(Inbound::Ignored(IgnoreReason::NoText));
    };
    let from_me = row.bool("fromMe")?.unwrap_or(false);
    if from_me && inbound::has_own_marker(text) {
        return Ok(Inbound::Ignored(IgnoreReason::OwnMarker));
    }
    let ticket_id = match row.id("ticketId")? {
        Some(id) => Some(id),
        None => ticket.map(|ticket| ticket.id("id")).transpose()?.flatten(),
    };
    Ok(Inbound::Message(InboundMessage {
        provider_id: row.provider_id("id")?,
        contact: number_of(&contact)?,
        contact_name: inbound::contact_name(contact.str("name")?),
        text: inbound::capped_text(text),
        sent_at: instant(row, "createdAt")?.unwrap_or(received_at),
        ticket_id,
        from_me,
    }))
}

/// The Facebook-channel variant: `{message:{text,mid}, contact:{id,name,number}, ticket:{id}}`.
fn parse_facebook(body: &Fields<'_>, received_at: OffsetDateTime) -> Result<Inbound, ParseError> {
    let message = body.obj("message")?.ok_or_else(|| body.invalid("message", "is required"))?;
    let contact = body.obj("contact")?.ok_or_else(|| body.invalid("contact", "is required"))?;
    let Some(text) = message.str("text")?.and_then(inbound::clean_text) else {
        return Ok(Inbound::Ignored(IgnoreReason::NoText));
    };
    Ok(Inbound::Message(InboundMessage {
        provider_id: message.provider_id("mid")?,
        contact: number_of(&contact)?,
        contact_name: inbound::contact_name(contact.str("name")?),
        text: inbound::capped_text(text),
        sent_at: instant(&message, "timestamp")?.unwrap_or(received_at),
        ticket_id: body.obj("ticket")?.map(|ticket| ticket.id("id")).transpose()?.flatten(),
        from_me: false,
    }))
}

/// A time sent as RFC 3339 text (JavaScript `Date` JSON) or as unix seconds.
fn instant(fields: &Fields<'_>, key: &str) -> Result<Option<OffsetDateTime>, ParseError> {
    match fields.get(key) {
        Some(Value::String(text)) if !text.trim().bytes().all(|b| b.is_ascii_digit()) => {
            let time = OffsetDateTime::parse(text.trim(), &Rfc3339);
            let reason = "expected an RFC 3339 time or unix seconds";
            time.map(Some).map_err(|_| fields.invalid(key, reason))
        }
        _ => fields.unix_time(key),
    }
}

fn number_of(contact: &Fields<'_>) -> Result<ContactNumber, ParseError> {
    let number = contact.id("number")?.ok_or_else(|| contact.invalid("number", "is required"))?;
    ContactNumber::parse(&number).map_err(|e| contact.invalid("number", &e.to_string()))
}

#[cfg(test)]
#[path = "whaticket_tests.rs"]
mod tests;
