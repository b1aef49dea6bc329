//! Channel adapters: the helpdesks and relays Atende talks to. Inbound, they check a webhook's
//! authenticity ([`verify`]) and turn its body into messages or ignored events
//! ([`parse_inbound`]); outbound, they send text ([`WhaticketClient`]) and classify failures
//! ([`ChannelError::class`]).
//!
//! Layer 3: may import `domain`, `telemetry` (and `secrets`); credentials arrive as arguments,
//! never from `store`.
//!
//! # Layout
//! - `signature.rs`: HMAC and token checks of protocols.md §7.1.
//! - `inbound.rs`: [`Inbound`], [`IgnoreReason`], limits, and the parse entry points.
//! - `fields.rs`: typed JSON field reads with path-naming errors.
//! - `generic.rs`: Atende's own body (§7.2).
//! - `whaticket.rs`, `baileys.rs`: Whaticket payload shapes (§1.4, §1.6).
//! - `whaticket_send.rs`: Whaticket's send API (§1.2, §1.3).
//! - `whaticket_ticket.rs`: ticket hand-off with a user session (§1.5).
//! - `error.rs`: [`VerifyError`], [`ParseError`], [`ChannelError`].

mod baileys;
mod error;
mod fields;
mod generic;
mod inbound;
mod signature;
mod whaticket;
mod whaticket_send;
mod whaticket_ticket;

#[cfg(test)]
mod fuzz_tests;

use std::fmt;

pub use error::{ChannelError, ParseError, VerifyError};
pub use inbound::{
    IgnoreReason, Inbound, MAX_BATCH_ITEMS, MAX_ID_CHARS, MAX_NAME_CHARS, MAX_TEXT_CHARS, TICKET_CLOSED_EVENT,
    TicketClosed, parse_inbound, parse_inbound_at,
};
pub use signature::{
    InboundCredentials, MAX_SKEW_SECONDS, SIGNATURE_HEADER, TIMESTAMP_HEADER, WEBHOOK_SIGNATURE_HEADER, sign_generic,
    verify,
};
pub use whaticket_send::{WhaticketClient, WhaticketCredentials};
pub use whaticket_ticket::WhaticketUser;

/// Result of sending through a channel.
pub type Result<T, E = ChannelError> = std::result::Result<T, E>;

/// The kind of an inbound route, from the `{channel}` segment of `/webhook/{tenant}/{channel}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// Atende's own signed contract (protocols.md §7.2).
    Generic,
    /// Whaticket's queue-integration webhook or WT-flavio's webhooks (protocols.md §1.4).
    Whaticket,
}

impl ChannelKind {
    /// Reads the path segment (`"generic"`, `"whaticket"`); anything else is `None`.
    pub fn parse(segment: &str) -> Option<Self> {
        match segment {
            "generic" => Some(Self::Generic),
            "whaticket" => Some(Self::Whaticket),
            _ => None,
        }
    }

    /// The path segment, also used as the `channel` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Generic => "generic",
            Self::Whaticket => "whaticket",
        }
    }
}

impl fmt::Display for ChannelKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_kinds_round_trip_through_their_path_segment() {
        for kind in [ChannelKind::Generic, ChannelKind::Whaticket] {
            assert_eq!(ChannelKind::parse(kind.as_str()), Some(kind));
        }
    }

    #[test]
    fn unknown_or_differently_cased_segments_are_not_channels() {
        for segment in ["", "Generic", "WHATICKET", "whatsapp", "evolution", "generic/"] {
            assert_eq!(ChannelKind::parse(segment), None, "{segment:?}");
        }
    }
}
