//! Conversation state.

use serde::{Deserialize, Serialize};

/// Who answers a conversation right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConversationState {
    /// The bot answers.
    Bot,
    /// A human agent took over (handoff or an agent wrote); the bot stays silent.
    Human,
    /// The ticket was closed; the next message starts afresh.
    Closed,
}

impl ConversationState {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Bot => "bot",
            Self::Human => "human",
            Self::Closed => "closed",
        }
    }

    /// Reads the stored spelling; unknown text is treated as `Bot`'s opposite, `Human`,
    /// so a corrupt row never makes the bot talk.
    pub fn from_stored(value: &str) -> Self {
        match value {
            "bot" => Self::Bot,
            "closed" => Self::Closed,
            _ => Self::Human,
        }
    }
}
