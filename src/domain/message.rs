//! Messages.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::ContactNumber;

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    /// From the customer.
    Inbound,
    /// From Atende.
    Outbound,
    /// From a human agent of the business, seen through the helpdesk.
    Agent,
}

impl Direction {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inbound => "inbound",
            Self::Outbound => "outbound",
            Self::Agent => "agent",
        }
    }

    /// Reads the stored spelling.
    pub fn from_stored(value: &str) -> Self {
        match value {
            "outbound" => Self::Outbound,
            "agent" => Self::Agent,
            _ => Self::Inbound,
        }
    }
}

/// One text message as a channel adapter parsed it from a webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundMessage {
    /// The provider's message id, unique per tenant (deduplication key).
    pub provider_id: String,
    /// The customer.
    pub contact: ContactNumber,
    /// The customer's display name, when the provider sends one.
    pub contact_name: Option<String>,
    /// The text.
    pub text: String,
    /// When the provider says the message was sent.
    pub sent_at: OffsetDateTime,
    /// The helpdesk ticket, when known (used for handoff).
    pub ticket_id: Option<String>,
    /// True when the business's side wrote it (our own echo or a human agent).
    pub from_me: bool,
}
