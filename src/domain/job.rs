//! Jobs: units of queued work.

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobKind {
    /// Build the answer to the latest burst of a conversation (calls the LLM).
    Reply,
    /// Send one stored outbound message through the channel.
    Deliver,
    /// Hand a conversation to a person: write the summary, move the helpdesk ticket.
    Handoff,
    /// At a handoff's SLA deadline: escalate when no person has answered yet.
    Sla,
    /// Deliver one signed event to a tenant's subscriber (workflows, n8n).
    Notify,
    /// Close a conversation nobody wrote in for the tenant's idle period, and survey it.
    Idle,
    /// Send an answer the helpdesk would not take by e-mail (to the tenant) or SMS (to the
    /// customer).
    Fallback,
}

impl JobKind {
    /// Every kind, for metrics and listings.
    pub const ALL: [JobKind; 7] = [
        JobKind::Reply,
        JobKind::Deliver,
        JobKind::Handoff,
        JobKind::Sla,
        JobKind::Notify,
        JobKind::Idle,
        JobKind::Fallback,
    ];

    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Reply => "reply",
            Self::Deliver => "deliver",
            Self::Handoff => "handoff",
            Self::Sla => "sla",
            Self::Notify => "notify",
            Self::Idle => "idle",
            Self::Fallback => "fallback",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "reply" => Some(Self::Reply),
            "deliver" => Some(Self::Deliver),
            "handoff" => Some(Self::Handoff),
            "sla" => Some(Self::Sla),
            "notify" => Some(Self::Notify),
            "idle" => Some(Self::Idle),
            "fallback" => Some(Self::Fallback),
            _ => None,
        }
    }
}

/// Where a job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JobState {
    /// Waiting for `run_at` and for its key to be free.
    Queued,
    /// Leased by a worker.
    Running,
    /// Finished.
    Done,
    /// Dead letter: retries exhausted or a permanent error.
    Dead,
    /// A dead letter an operator threw away.
    Discarded,
}

impl JobState {
    /// Stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Done => "done",
            Self::Dead => "dead",
            Self::Discarded => "discarded",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "queued" => Some(Self::Queued),
            "running" => Some(Self::Running),
            "done" => Some(Self::Done),
            "dead" => Some(Self::Dead),
            "discarded" => Some(Self::Discarded),
            _ => None,
        }
    }
}

/// Whether trying again can help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ErrorClass {
    /// Timeouts, 429, 5xx, connection errors: try again later.
    Retryable,
    /// Bad request, bad credentials, invalid number: retrying repeats the failure.
    Permanent,
}

impl ErrorClass {
    /// Label spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Retryable => "retryable",
            Self::Permanent => "permanent",
        }
    }
}

/// A job to enqueue.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// What to do.
    pub kind: JobKind,
    /// Ordering key: jobs with one key run one at a time, in insertion order.
    pub key: String,
    /// JSON arguments of the job.
    pub payload: serde_json::Value,
    /// Earliest start.
    pub run_at: OffsetDateTime,
    /// Attempts before the job becomes a dead letter.
    pub max_attempts: u32,
}

impl JobSpec {
    /// The ordering key of everything that happens in one conversation. PostgreSQL's
    /// `atende_record_inbound` (migrations/postgres/0004) builds the same text.
    pub fn conversation_key(conversation: super::ConversationId) -> String {
        format!("conversation:{conversation}")
    }
}
