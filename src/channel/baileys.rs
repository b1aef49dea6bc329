//! The raw Baileys message (`proto.IWebMessageInfo`) that Whaticket SaaS forks POST from their
//! "webhook"/"n8n" queue integration (protocols.md §1.4), with the filters of §1.6.

use time::OffsetDateTime;

use super::ParseError;
use super::fields::Fields;
use super::inbound::{self, IgnoreReason, Inbound};
use crate::domain::{ContactNumber, InboundMessage};

/// Containers whose `message` field holds the real content (disappearing, view-once, captioned docs).
const WRAPPERS: [&str; 5] = [
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "viewOnceMessageV2Extension",
    "documentWithCaptionMessage",
];
/// Contents that change or acknowledge another message rather than say something new.
const RECEIPTS: [&str; 7] = [
    "protocolMessage",
    "reactionMessage",
    "encReactionMessage",
    "editedMessage",
    "pollUpdateMessage",
    "keepInChatMessage",
    "pinInChatMessage",
];
/// Where a text can be, in order: `(content key, text field)`; `None` means the value itself.
const TEXTS: [(&str, Option<&str>); 8] = [
    ("conversation", None),
    ("extendedTextMessage", Some("text")),
    ("imageMessage", Some("caption")),
    ("videoMessage", Some("caption")),
    ("documentMessage", Some("caption")),
    ("buttonsResponseMessage", Some("selectedDisplayText")),
    ("listResponseMessage", Some("title")),
    ("templateButtonReplyMessage", Some("selectedDisplayText")),
];
/// Fields of `key` that newer Baileys fill with the phone-number JID when `remoteJid` is a LID.
const PHONE_ALTERNATIVES: [&str; 4] = ["senderPn", "remoteJidAlt", "participantPn", "participantAlt"];

/// Parses one Baileys message; a missing `messageTimestamp` falls back to `received_at`.
///
/// Chats that are not one-to-one are ignored before the other fields are validated.
pub(super) fn parse(message: &Fields<'_>, received_at: OffsetDateTime) -> Result<Inbound, ParseError> {
    let key = message.obj("key")?.ok_or_else(|| message.invalid("key", "is required"))?;
    let remote_jid = key.req_str("remoteJid")?;
    if let Some(reason) = chat_ignore_reason(remote_jid) {
        return Ok(Inbound::Ignored(reason));
    }
    // Stubs (joins, E2E notices, revokes in older forks) have no `message` at all.
    let Some(content) = message.obj("message")? else {
        return Ok(Inbound::Ignored(IgnoreReason::Receipt));
    };
    let content = unwrap_wrappers(content)?;
    if RECEIPTS.iter().any(|receipt| content.has(receipt)) {
        return Ok(Inbound::Ignored(IgnoreReason::Receipt));
    }
    let Some(text) = text_of(&content)? else {
        return Ok(Inbound::Ignored(IgnoreReason::NoText));
    };
    let from_me = key.bool("fromMe")?.unwrap_or(false);
    if from_me && inbound::has_own_marker(text) {
        return Ok(Inbound::Ignored(IgnoreReason::OwnMarker));
    }
    // On our own messages `pushName` is the business's name, not the contact's.
    let push_name = if from_me { None } else { message.str("pushName")? };
    Ok(Inbound::Message(InboundMessage {
        provider_id: key.provider_id("id")?,
        contact: contact_of(&key, remote_jid)?,
        contact_name: inbound::contact_name(push_name),
        text: inbound::capped_text(text),
        sent_at: message.unix_time("messageTimestamp")?.unwrap_or(received_at),
        ticket_id: None,
        from_me,
    }))
}

/// Why a chat JID is not a one-to-one chat with a customer, if it is not.
pub(super) fn chat_ignore_reason(jid: &str) -> Option<IgnoreReason> {
    if jid == "status@broadcast" {
        Some(IgnoreReason::StatusBroadcast)
    } else if ["@g.us", "@broadcast", "@newsletter"].iter().any(|suffix| jid.ends_with(suffix)) {
        Some(IgnoreReason::Group)
    } else {
        None
    }
}

fn unwrap_wrappers<'a>(mut content: Fields<'a>) -> Result<Fields<'a>, ParseError> {
    // Wrappers nest at most a couple of levels in practice; the bound keeps hostile input cheap.
    for _ in 0..4 {
        let mut inner = None;
        for wrapper in WRAPPERS {
            if let Some(wrapped) = content.obj(wrapper)? {
                inner = wrapped.obj("message")?;
                break;
            }
        }
        match inner {
            Some(next) => content = next,
            None => break,
        }
    }
    Ok(content)
}

fn text_of<'a>(content: &Fields<'a>) -> Result<Option<&'a str>, ParseError> {
    for (key, field) in TEXTS {
        let raw = match field {
            None => content.str(key)?,
            Some(field) => match content.obj(key)? {
                Some(inner) => inner.str(field)?,
                None => None,
            },
        };
        if let Some(text) = raw.and_then(inbound::clean_text) {
            return Ok(Some(text));
        }
    }
    Ok(None)
}

/// The customer's number: the chat JID, or for a `@lid` chat the phone JID Baileys sent beside it.
fn contact_of(key: &Fields<'_>, remote_jid: &str) -> Result<ContactNumber, ParseError> {
    let (field, jid) = if remote_jid.ends_with("@lid") {
        phone_alternative(key)?.ok_or_else(|| {
            key.invalid(
                "remoteJid",
                "is a WhatsApp LID (@lid) without a phone number (no key.senderPn or \
                 key.remoteJidAlt); Atende answers by phone number, so this message cannot be used",
            )
        })?
    } else {
        ("remoteJid", remote_jid)
    };
    ContactNumber::parse(jid).map_err(|e| key.invalid(field, &e.to_string()))
}

fn phone_alternative<'a>(key: &Fields<'a>) -> Result<Option<(&'static str, &'a str)>, ParseError> {
    for field in PHONE_ALTERNATIVES {
        if let Some(jid) = key.str(field)?.filter(|jid| !jid.ends_with("@lid") && !jid.trim().is_empty()) {
            return Ok(Some((field, jid)));
        }
    }
    Ok(None)
}

#[cfg(test)]
#[path = "baileys_tests.rs"]
mod tests;
