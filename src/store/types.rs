//! Rows and arguments of the [`Store`](super::Store) trait.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::config::managed::ManagedSecrets;
use crate::config::tenant::{ResolvedFallback, ResolvedTenant, TenantFile};
use crate::domain::{
    ContactNumber, ConversationId, ConversationState, CorrelationId, Direction, ErrorClass, Flags, InboundMessage,
    JobId, JobKind, JobState, MessageId, TenantId,
};

/// A stored tenant.
#[derive(Debug, Clone)]
pub struct Tenant {
    /// Row id.
    pub id: TenantId,
    /// URL id.
    pub slug: String,
    /// Display name.
    pub name: String,
    /// The tenant file as applied.
    pub settings: TenantFile,
    /// Current persona version (recorded on every answer as the prompt version).
    pub persona_version: i64,
    /// Feature flags set at run time.
    pub flags: Flags,
    /// Secrets rotated or set from the command line, beside the file.
    pub secrets: ManagedSecrets,
}

impl Tenant {
    /// The tenant's secrets, read and ready: the file's with the command line's changes.
    pub fn resolve(&self) -> std::result::Result<ResolvedTenant, String> {
        self.settings.resolve_with(&self.secrets, OffsetDateTime::now_utc())
    }

    /// The fallback channels' secrets, with the command line's changes.
    pub fn resolve_fallback(&self) -> std::result::Result<ResolvedFallback, String> {
        self.settings.resolve_fallback_with(&self.secrets)
    }
}

/// One stored persona.
#[derive(Debug, Clone, PartialEq)]
pub struct PersonaVersion {
    /// 1, 2, 3… per tenant.
    pub version: i64,
    /// The persona as applied.
    pub persona: crate::config::persona::PersonaTable,
    /// When it became current.
    pub created_at: OffsetDateTime,
}

/// What `upsert_tenant` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpsertOutcome {
    /// A new tenant.
    Created,
    /// An existing tenant changed.
    Updated,
    /// The file matched what was stored.
    Unchanged,
}

/// Debounce settings for the `reply` job of an inbound message.
#[derive(Debug, Clone, Copy)]
pub struct Debounce {
    /// Quiet time after the latest message.
    pub window: Duration,
    /// Longest delay from the burst's first message.
    pub max: Duration,
    /// Attempts of the `reply` job.
    pub max_attempts: u32,
}

/// Arguments of `record_inbound`.
#[derive(Debug, Clone, Copy)]
pub struct NewInbound<'a> {
    /// Owner.
    pub tenant: TenantId,
    /// The parsed message.
    pub message: &'a InboundMessage,
    /// Id for every log line this message causes.
    pub correlation_id: &'a CorrelationId,
    /// Reception time.
    pub now: OffsetDateTime,
    /// Reply scheduling.
    pub debounce: Debounce,
    /// Polarity in [-1, 1], stored with the message.
    pub sentiment: Option<f32>,
    /// Events queued with the message (dropped with it when it is a duplicate).
    pub notify: &'a [NewNotify],
}

/// One event delivery to queue as a `notify` job, in the transaction of what it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewNotify {
    /// Receiver.
    pub url: String,
    /// Event name (the `X-Atende-Event` header).
    pub event: String,
    /// Id of this delivery, the same on every attempt (`X-Atende-Delivery`).
    pub delivery_id: String,
    /// The exact JSON body to sign and send.
    pub body: String,
    /// Attempts before the delivery becomes a dead letter.
    pub max_attempts: u32,
}

impl NewNotify {
    /// Ordering key: each delivery on its own, so one slow receiver holds nothing else back.
    pub fn key(&self) -> String {
        format!("notify:{}", self.delivery_id)
    }

    /// The job's payload (the secret is not in it: it is read from the tenant when sending).
    pub fn payload(&self) -> serde_json::Value {
        serde_json::json!({
            "url": self.url,
            "event": self.event,
            "delivery_id": self.delivery_id,
            "body": self.body,
        })
    }
}

/// What happened to an inbound message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Stored and a reply is queued.
    Queued {
        /// The stored message.
        message_id: MessageId,
        /// Its conversation.
        conversation_id: ConversationId,
    },
    /// Stored without a job (an agent's message).
    Recorded {
        /// The stored message.
        message_id: MessageId,
        /// Its conversation.
        conversation_id: ConversationId,
    },
    /// The provider id was seen before: nothing stored.
    Duplicate,
}

/// A conversation row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    /// Row id.
    pub id: ConversationId,
    /// Owner.
    pub tenant_id: TenantId,
    /// Customer number.
    pub contact: String,
    /// Customer name, when known.
    pub contact_name: Option<String>,
    /// Helpdesk ticket, when known.
    pub ticket_id: Option<String>,
    /// Who answers.
    pub state: ConversationState,
    /// Last inbound message id already answered.
    pub replied_upto: MessageId,
    /// Messages up to this id belong to an earlier, closed ticket.
    pub context_from: MessageId,
    /// Injection attempts seen in this ticket.
    pub guard_strikes: u32,
    /// Consecutive strongly negative bursts.
    pub negative_streak: u32,
    /// AI replies are counted after this message id.
    pub ai_count_from: MessageId,
    /// Running summary of turns that left the prompt window.
    pub summary: Option<String>,
    /// Last message id the summary covers.
    pub summary_upto: MessageId,
    /// Changes when answered messages change in place (a handoff cancels unsent answers):
    /// cached context windows of an older epoch are dropped.
    pub context_epoch: i64,
    /// When a person last took the conversation over or wrote in it.
    pub human_at: Option<OffsetDateTime>,
    /// The CSAT survey waiting for the customer's answer.
    pub survey: Option<PendingSurvey>,
}

/// Which conversations [`MessageStore::list_conversations`](crate::store::MessageStore::list_conversations)
/// lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConversationFilter {
    /// Only conversations in this state.
    pub state: Option<ConversationState>,
    /// At most this many.
    pub limit: u32,
}

/// A conversation in a list, with its last activity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationListing {
    /// The conversation.
    pub conversation: Conversation,
    /// Last message or change of state.
    pub updated_at: OffsetDateTime,
}

/// A CSAT question the customer has not answered yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PendingSurvey {
    /// Survey id.
    pub id: i64,
    /// When it was asked.
    pub asked_at: OffsetDateTime,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredMessage {
    /// Row id.
    pub id: MessageId,
    /// Who wrote it.
    pub direction: Direction,
    /// Text.
    pub body: String,
    /// `received`, `pending`, `sent`, `cancelled`.
    pub status: String,
    /// The correlation id of the webhook that brought it (or of the job that wrote it).
    pub correlation_id: String,
    /// Polarity in [-1, 1] of an inbound message.
    pub sentiment: Option<f32>,
    /// For answers: provider, model, knowledge used, prompt version, decision.
    pub meta: Option<serde_json::Value>,
    /// Storage time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A job leased by a worker.
#[derive(Debug, Clone)]
pub struct ClaimedJob {
    /// Row id.
    pub id: JobId,
    /// Owner tenant.
    pub tenant_id: TenantId,
    /// What to do.
    pub kind: JobKind,
    /// Ordering key.
    pub key: String,
    /// Arguments.
    pub payload: serde_json::Value,
    /// This attempt's number (1 for the first).
    pub attempts: u32,
    /// Attempts before dead-lettering.
    pub max_attempts: u32,
    /// Follows the originating message.
    pub correlation_id: CorrelationId,
    /// The worker holding the lease.
    pub owner: String,
    /// The clock reading at claim time; handlers use it as "now".
    pub claimed_at: OffsetDateTime,
    /// When the job became due (`run_at`): `claimed_at - due_at` is its wait in the queue.
    pub due_at: OffsetDateTime,
}

/// Why an attempt failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFailure {
    /// Human-readable cause (never a secret).
    pub message: String,
    /// Whether another attempt may help.
    pub class: ErrorClass,
}

/// A job as listed by the dead-letter tools.
#[derive(Debug, Clone, Serialize)]
pub struct JobRecord {
    /// Row id.
    pub id: JobId,
    /// Owner tenant's slug.
    pub tenant: String,
    /// What it does.
    pub kind: JobKind,
    /// Ordering key.
    pub key: String,
    /// Arguments.
    pub payload: serde_json::Value,
    /// Lifecycle state.
    pub state: JobState,
    /// Attempts made.
    pub attempts: u32,
    /// Attempt budget.
    pub max_attempts: u32,
    /// Next or last due time.
    #[serde(with = "time::serde::rfc3339")]
    pub run_at: OffsetDateTime,
    /// Latest failure.
    pub last_error: Option<String>,
    /// Every failed attempt: `[{attempt, at, class, error}]`.
    pub history: serde_json::Value,
    /// Follows the originating message.
    pub correlation_id: String,
    /// Enqueue time.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// Which dead letters to list.
#[derive(Debug, Clone, Default)]
pub struct DeadLetterFilter {
    /// Only this tenant (slug).
    pub tenant: Option<String>,
    /// Only this kind.
    pub kind: Option<JobKind>,
    /// At most this many (default 100).
    pub limit: Option<u32>,
}

/// Count of jobs in one kind and state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JobCount {
    /// Kind.
    pub kind: JobKind,
    /// State.
    pub state: JobState,
    /// How many.
    pub count: i64,
    /// When the earliest of them is (or was) due to run.
    pub oldest_run_at: Option<OffsetDateTime>,
}

/// Inputs of a reply.
#[derive(Debug, Clone)]
pub struct ReplyContext {
    /// Owner.
    pub tenant: Tenant,
    /// The conversation.
    pub conversation: Conversation,
    /// Unanswered inbound messages (the burst), oldest first.
    pub pending: Vec<StoredMessage>,
    /// The last turns within the TTL and the current ticket, oldest first.
    pub history: Vec<StoredMessage>,
    /// Turns before `history` (same ticket, within the TTL), oldest first, for the summary.
    pub older: Vec<StoredMessage>,
    /// Messages of this ticket before the burst (any age): zero means first contact.
    pub earlier_messages: u32,
    /// Bot replies in this ticket since the bot last took over (one per reply, not per part).
    pub ai_replies: u32,
}

/// Arguments of `record_reply`.
#[derive(Debug, Clone)]
pub struct NewReply<'a> {
    /// The `reply` job being finished.
    pub job: &'a ClaimedJob,
    /// Its conversation.
    pub conversation: ConversationId,
    /// The last inbound message this reply answers.
    pub covered_upto: MessageId,
    /// The messages to send, in order (empty: stay silent).
    pub parts: Vec<String>,
    /// Why this text (provider, model, knowledge used, prompt version), stored with it.
    pub meta: serde_json::Value,
    /// Attempts of each `deliver` job.
    pub deliver_max_attempts: u32,
    /// The brain's bookkeeping for the conversation.
    pub update: ConversationUpdate,
    /// The ticket the context was read from (`context_from`); counters are only written back
    /// to the same ticket.
    pub ticket: MessageId,
    /// Events queued with the reply when it records a CSAT rating (`csat.received`).
    pub notify: Vec<NewNotify>,
    /// Close the conversation when nobody writes for this long after this answer (an
    /// `idle` job, pushed back by every later answer).
    pub idle_after: Option<time::Duration>,
}

/// Counters and state the brain changes with an answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConversationUpdate {
    /// New value of `guard_strikes`.
    pub guard_strikes: u32,
    /// New value of `negative_streak`.
    pub negative_streak: u32,
    /// Hand the conversation to a person after these messages.
    pub handoff: Option<NewHandoff>,
    /// Give a conversation whose person went idle back to the bot: the `human_at` the
    /// decision saw (a person who wrote since keeps it).
    pub resume_idle: Option<OffsetDateTime>,
    /// A new running summary and the last message it covers.
    pub summary: Option<(String, MessageId)>,
    /// What the burst made of the pending CSAT survey.
    pub survey: Option<SurveyAnswer>,
}

/// The customer's next message after a CSAT question: a rating, or something else (the
/// survey is then dismissed and the message answered as usual).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SurveyAnswer {
    /// Survey id.
    pub survey: i64,
    /// 1–5; `None` dismisses the survey.
    pub rating: Option<u8>,
    /// The customer's words (kept with a rating).
    pub text: String,
}

/// Which conversation [`SurveyStore::close_conversation`](crate::store::SurveyStore::close_conversation) closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConversationRef<'a> {
    /// By the customer's number (a helpdesk's ticket event).
    Contact(&'a str),
    /// By id (an `idle` job).
    Id(ConversationId),
}

/// Why a conversation closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseReason {
    /// The helpdesk closed the ticket.
    Ticket,
    /// The bot answered and nobody wrote since `quiet_since`; a conversation a person holds,
    /// or with a newer message, stays open.
    Idle {
        /// The last message must be older than this.
        quiet_since: OffsetDateTime,
    },
}

impl CloseReason {
    /// Stored spelling (`closed`, `idle`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ticket => "closed",
            Self::Idle { .. } => "idle",
        }
    }
}

/// The CSAT question to ask when the ticket qualifies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SurveyAsk<'a> {
    /// The question.
    pub text: &'a str,
    /// Ask even when a hand-off was still waiting for a person (the customer left it).
    pub after_abandoned_handoff: bool,
    /// Attempts of the question's `deliver` job.
    pub deliver_max_attempts: u32,
}

/// A conversation to close, with its survey, in one transaction.
#[derive(Debug, Clone, Copy)]
pub struct CloseConversation<'a> {
    /// Owner.
    pub tenant: TenantId,
    /// Which conversation.
    pub conversation: ConversationRef<'a>,
    /// Why.
    pub reason: CloseReason,
    /// The survey, when the tenant has them on.
    pub survey: Option<SurveyAsk<'a>>,
    /// The `idle` job this close finishes.
    pub job: Option<&'a ClaimedJob>,
    /// Of the close (the webhook's or the job's).
    pub correlation_id: &'a CorrelationId,
    /// Clock.
    pub now: OffsetDateTime,
}

/// What closing found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseOutcome {
    /// No such conversation.
    NotFound,
    /// It was closed already: nothing changed.
    AlreadyClosed,
    /// An idle close found a person holding the conversation or a message newer than the
    /// idle period: nothing changed.
    StillActive,
    /// The `idle` job's lease was lost: nothing changed.
    LeaseLost,
    /// Closed; `survey` tells whether the question was queued.
    Closed {
        /// The survey asked, or why not.
        survey: SurveyDecision,
    },
}

/// Whether a closing ticket got its CSAT question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SurveyDecision {
    /// Stored and queued to the customer.
    Asked {
        /// Survey id.
        survey: i64,
        /// The question's outbound message.
        message: MessageId,
    },
    /// Not asked: `off` (surveys disabled), `no_customer_message`, `already_asked`,
    /// `abandoned_handoff`.
    Skipped(&'static str),
}

/// A stored CSAT survey.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SurveyRecord {
    /// Row id.
    pub id: i64,
    /// The customer's number.
    pub contact: String,
    /// `closed` or `idle`.
    pub reason: String,
    /// 1–5, once answered.
    pub rating: Option<u8>,
    /// The customer's words with the rating.
    pub answer: Option<String>,
    /// When it was asked.
    #[serde(with = "time::serde::rfc3339")]
    pub asked_at: OffsetDateTime,
    /// When the customer rated.
    #[serde(with = "time::serde::rfc3339::option")]
    pub answered_at: Option<OffsetDateTime>,
    /// When the customer's next message was not a rating (or came too late).
    #[serde(with = "time::serde::rfc3339::option")]
    pub dismissed_at: Option<OffsetDateTime>,
}

/// A hand-off decided with a reply, stored in the same transaction with its `handoff` job
/// (and its `sla` job when there is a target).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewHandoff {
    /// Why (`customer_asked`, `negative_mood`, ...).
    pub reason: String,
    /// Time a person has to answer.
    pub sla: Option<time::Duration>,
}

/// A hand-off asked for by a person or a workflow (admin API, panel), not decided by the bot.
#[derive(Debug, Clone)]
pub struct RequestedHandoff<'a> {
    /// Owner.
    pub tenant: TenantId,
    /// The customer's number.
    pub contact: &'a str,
    /// Why, and the SLA.
    pub handoff: NewHandoff,
    /// Told to the customer before the ticket moves (the tenant's hand-off text).
    pub text: Option<&'a str>,
    /// Attempts of each job it queues.
    pub deliver_max_attempts: u32,
    /// Follows the request through the jobs it causes.
    pub correlation_id: &'a CorrelationId,
    /// Clock.
    pub now: OffsetDateTime,
}

/// What [`HandoffStore::request_handoff`](crate::store::HandoffStore::request_handoff) did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestedHandoffOutcome {
    /// No such conversation.
    NotFound,
    /// A hand-off of this conversation is open already: nothing changed.
    AlreadyOpen {
        /// The open one.
        handoff: i64,
    },
    /// The bot is silent, the text (if any) and the `handoff` job are queued.
    Opened {
        /// The new hand-off.
        handoff: i64,
        /// The message telling the customer.
        message: Option<MessageId>,
    },
}

/// A message sent to a customer as the bot by a person or a workflow (admin API, panel).
#[derive(Debug, Clone)]
pub struct BotMessage<'a> {
    /// Owner.
    pub tenant: TenantId,
    /// The customer's number.
    pub contact: &'a str,
    /// What to send.
    pub text: &'a str,
    /// Stored with the message (who sent it).
    pub meta: serde_json::Value,
    /// Attempts of its `deliver` job.
    pub deliver_max_attempts: u32,
    /// Follows the request through its delivery.
    pub correlation_id: &'a CorrelationId,
    /// Clock.
    pub now: OffsetDateTime,
}

/// A stored hand-off.
#[derive(Debug, Clone)]
pub struct HandoffRecord {
    /// Row id.
    pub id: i64,
    /// Owner.
    pub tenant: Tenant,
    /// The conversation as it is now.
    pub conversation: Conversation,
    /// Why.
    pub reason: String,
    /// What the person taking over reads.
    pub summary: Option<String>,
    /// The helpdesk ticket moved.
    pub ticket_id: Option<String>,
    /// What happened to the ticket (`moved`, `moved_with_note`, `no_ticket`, `not_configured`).
    pub transfer: Option<String>,
    /// When a person should have answered by.
    pub sla_due_at: Option<OffsetDateTime>,
    /// A person's first message after the hand-off.
    pub first_human_at: Option<OffsetDateTime>,
    /// When the SLA was found breached.
    pub breached_at: Option<OffsetDateTime>,
    /// When the bot resumed or the ticket closed.
    pub closed_at: Option<OffsetDateTime>,
    /// The message that caused it.
    pub correlation_id: CorrelationId,
    /// Hand-off time.
    pub created_at: OffsetDateTime,
}

/// What a `handoff` job did, stored as it finishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandoffTransfer {
    /// The summary written for the person.
    pub summary: String,
    /// The ticket moved, when known.
    pub ticket_id: Option<String>,
    /// See [`HandoffRecord::transfer`].
    pub transfer: String,
    /// Events queued with the record (`handoff.created`).
    pub notify: Vec<NewNotify>,
}

/// The end of an `sla` job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlaCheck {
    /// A person answered in time.
    Met,
    /// The hand-off ended (bot resumed, ticket closed) before the deadline.
    Closed,
    /// Nobody answered in time; the update to the customer is queued when one was given
    /// and the conversation still waits for a person.
    Breached {
        /// The update message, if queued.
        message_id: Option<MessageId>,
    },
    /// Already checked (a replay): nothing written.
    AlreadyChecked,
    /// Another worker holds the job now; nothing was written.
    LeaseLost,
}

/// What a person's message did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentAction {
    /// Take the conversation over (the bot pauses).
    TakeOver,
    /// Give it back to the bot (the resume command).
    Resume,
}

/// The end of `record_agent_message`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentOutcome {
    /// Stored.
    Recorded {
        /// The stored message.
        message_id: MessageId,
        /// Its conversation.
        conversation_id: ConversationId,
        /// The first answer of a person to an open hand-off: how long the customer waited.
        first_answer_after: Option<time::Duration>,
    },
    /// The provider id was seen before: nothing stored.
    Duplicate,
}

/// Whether a handler's final write went through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Written; the job is done.
    Recorded {
        /// Outbound message stored, if any.
        message_id: Option<MessageId>,
    },
    /// Another worker holds the job now; nothing was written.
    LeaseLost,
}

/// What a `deliver` job sends.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The outbound message.
    pub message_id: MessageId,
    /// Owner.
    pub tenant: Tenant,
    /// Recipient.
    pub contact: ContactNumber,
    /// Text.
    pub text: String,
    /// `pending`, `sent` or `cancelled`.
    pub status: String,
    /// The customer's name, when the helpdesk gave one.
    pub contact_name: Option<String>,
    /// When the answer was stored (the helpdesk has been refusing it since its first attempt).
    pub created_at: OffsetDateTime,
    /// When it was handed to the fallback channels, if it was.
    pub fallback_at: Option<OffsetDateTime>,
}

/// A fallback channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FallbackChannel {
    /// E-mail to the tenant's team.
    Email,
    /// SMS to the customer.
    Sms,
}

impl FallbackChannel {
    /// Stored spelling (job payloads, metric labels).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }

    /// Reads the stored spelling.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }
}

/// `fallback` jobs for an answer the helpdesk would not take, queued by its `deliver` job.
#[derive(Debug, Clone, Copy)]
pub struct NewFallback<'a> {
    /// The failing `deliver` job (tenant and correlation id).
    pub job: &'a ClaimedJob,
    /// The undelivered answer.
    pub message: MessageId,
    /// Where it goes instead.
    pub channels: &'a [FallbackChannel],
    /// Why (the helpdesk's error), told to the team.
    pub reason: &'a str,
    /// Attempts of each `fallback` job.
    pub max_attempts: u32,
    /// Now.
    pub now: OffsetDateTime,
}

impl NewFallback<'_> {
    /// Each job's ordering key (its own, so a slow mail server holds up nothing else) and
    /// payload.
    pub fn jobs(&self) -> impl Iterator<Item = (String, serde_json::Value)> + '_ {
        self.channels.iter().map(|channel| {
            let key = format!("fallback:{}:{}", self.message, channel.as_str());
            let payload =
                serde_json::json!({ "message_id": self.message, "channel": channel.as_str(), "reason": self.reason });
            (key, payload)
        })
    }
}

/// Where the schema stands against this binary's migrations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Applied migrations this binary knows: (version, description).
    pub applied: Vec<(i64, String)>,
    /// Migrations this binary would apply.
    pub pending: Vec<(i64, String)>,
    /// Applied migrations this binary does not know (a newer schema).
    pub unknown: Vec<i64>,
}

/// A knowledge entry to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewKnowledge {
    /// Normalised question: the natural key an import updates by.
    pub question_key: String,
    /// Optional title.
    pub title: Option<String>,
    /// The question as written.
    pub question: String,
    /// The answer.
    pub answer: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Used in answers.
    pub enabled: bool,
}

/// What `update_knowledge` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnowledgeEdit {
    /// The entry changed.
    Updated,
    /// The tenant has no entry with that id.
    NotFound,
    /// Another entry already has that question: nothing changed.
    QuestionTaken {
        /// That entry.
        other: i64,
    },
}

/// What `upsert_knowledge` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KnowledgeUpsert {
    /// A new entry.
    Added,
    /// An entry with the same question changed.
    Updated,
    /// Identical to what was stored.
    Unchanged,
}

/// A stored knowledge entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KnowledgeRow {
    /// Row id (cited in prompts as `kb:<id>`).
    pub id: i64,
    /// Optional title.
    pub title: Option<String>,
    /// Question.
    pub question: String,
    /// Answer.
    pub answer: String,
    /// Tags.
    pub tags: Vec<String>,
    /// Used in answers.
    pub enabled: bool,
    /// Last change.
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
}

/// An enabled entry found by the database's full-text search (SQLite FTS5, PostgreSQL
/// `tsvector`), for `[brain] knowledge_search = "database"`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KnowledgeMatch {
    /// The entry.
    pub row: KnowledgeRow,
    /// Relevance, > 0 and higher is better; its scale differs per backend (FTS5 `bm25`,
    /// PostgreSQL `ts_rank`), so compare scores only within one result.
    pub score: f32,
    /// Share (0..=1) of the query's distinct terms, as the database analyzes them, found in
    /// the entry: the same meaning as the in-memory BM25 hit's coverage.
    pub coverage: f32,
}
