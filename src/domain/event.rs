//! Events Atende publishes to a tenant's subscribers (workflows such as n8n).

use serde::{Deserialize, Serialize};

/// What happened. The stored and wire spelling is [`EventKind::as_str`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A customer's message was stored and queued.
    #[serde(rename = "message.received")]
    MessageReceived,
    /// The bot's answer reached the helpdesk.
    #[serde(rename = "reply.sent")]
    ReplySent,
    /// A conversation was handed to a person.
    #[serde(rename = "handoff.created")]
    HandoffCreated,
    /// Nobody answered a hand-off within its SLA.
    #[serde(rename = "sla.breached")]
    SlaBreached,
    /// A job exhausted its retries or failed permanently.
    #[serde(rename = "dead_letter.created")]
    DeadLetterCreated,
    /// A customer rated the service.
    #[serde(rename = "csat.received")]
    CsatReceived,
    /// A customer's message reads strongly negative.
    #[serde(rename = "mood.negative")]
    MoodNegative,
    /// The tenant's LLM spend passed 80% of its daily or monthly cap.
    #[serde(rename = "spend.cap_warning")]
    SpendCapWarning,
    /// The tenant's LLM spend reached its daily or monthly cap.
    #[serde(rename = "spend.cap_reached")]
    SpendCapReached,
}

impl EventKind {
    /// Every event, in documentation order.
    pub const ALL: [EventKind; 9] = [
        Self::MessageReceived,
        Self::ReplySent,
        Self::HandoffCreated,
        Self::SlaBreached,
        Self::DeadLetterCreated,
        Self::CsatReceived,
        Self::MoodNegative,
        Self::SpendCapWarning,
        Self::SpendCapReached,
    ];

    /// Wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::MessageReceived => "message.received",
            Self::ReplySent => "reply.sent",
            Self::HandoffCreated => "handoff.created",
            Self::SlaBreached => "sla.breached",
            Self::DeadLetterCreated => "dead_letter.created",
            Self::CsatReceived => "csat.received",
            Self::MoodNegative => "mood.negative",
            Self::SpendCapWarning => "spend.cap_warning",
            Self::SpendCapReached => "spend.cap_reached",
        }
    }

    /// Reads the wire spelling.
    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip_and_match_serde() {
        for kind in EventKind::ALL {
            assert_eq!(EventKind::parse(kind.as_str()), Some(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), serde_json::json!(kind.as_str()));
        }
        assert_eq!(EventKind::parse("message"), None);
        assert_eq!(EventKind::parse("Reply.Sent"), None);
    }
}
