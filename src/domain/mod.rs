//! Plain types and rules of Atende, with no I/O.
//!
//! Layer 0: may import nothing from the crate (std, serde, time, uuid only).

mod contact;
mod conversation;
mod event;
mod flags;
mod ids;
mod job;
mod language;
mod message;
mod stopwords;
mod user;

pub use contact::{ContactNumber, ContactNumberError};
pub use conversation::ConversationState;
pub use event::EventKind;
pub use flags::{Flag, FlagKind, FlagValue, Flags};
pub use ids::{ConversationId, CorrelationId, JobId, MessageId, TenantId, UserId};
pub use job::{ErrorClass, JobKind, JobSpec, JobState};
pub use language::Language;
pub use message::{Direction, InboundMessage};
pub use stopwords::is_stopword;
pub use user::{Email, InvalidEmail, UnknownRole, UserRole};
