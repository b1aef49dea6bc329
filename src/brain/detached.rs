//! Conversations that live in memory only: `atende chat` and the panel's persona preview
//! ask the real brain without storing or sending anything.

use time::OffsetDateTime;

use crate::domain::{ConversationId, ConversationState, Direction, MessageId};
use crate::store::{Conversation, ReplyContext, StoredMessage, Tenant};

/// A fresh conversation of `tenant` with a customer called `contact`, held by the bot.
pub fn detached_conversation(tenant: &Tenant, contact: &str) -> Conversation {
    Conversation {
        id: ConversationId(0),
        tenant_id: tenant.id,
        contact: contact.into(),
        contact_name: None,
        ticket_id: None,
        state: ConversationState::Bot,
        replied_upto: MessageId(0),
        context_from: MessageId(0),
        guard_strikes: 0,
        negative_streak: 0,
        ai_count_from: MessageId(0),
        summary: None,
        summary_upto: MessageId(0),
        context_epoch: 0,
        human_at: None,
        survey: None,
    }
}

/// Message number `id` of a detached conversation.
pub fn detached_message(id: i64, direction: Direction, body: &str) -> StoredMessage {
    StoredMessage {
        id: MessageId(id),
        direction,
        body: body.to_string(),
        status: "sent".into(),
        correlation_id: "detached".into(),
        sentiment: None,
        meta: None,
        created_at: OffsetDateTime::now_utc(),
    }
}

/// The context of a customer's first message `text` to `tenant`, as the brain reads it.
pub fn first_message_context(tenant: &Tenant, text: &str) -> ReplyContext {
    ReplyContext {
        tenant: tenant.clone(),
        conversation: detached_conversation(tenant, "preview"),
        pending: vec![detached_message(1, Direction::Inbound, text)],
        history: Vec::new(),
        older: Vec::new(),
        earlier_messages: 0,
        ai_replies: 0,
    }
}
