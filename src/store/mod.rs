//! The only place that speaks SQL: tenants, conversations, messages and the job queue
//! behind one [`Store`] trait, so SQLite (embedded default) and PostgreSQL (scale-out)
//! slot in side by side.
//!
//! Layer 2: may import `domain`, `config`, `telemetry`. Each method is one unit of work
//! (one transaction); transactions never cross the trait.

mod access;
mod encode;
mod postgres;
mod sqlite;
mod tenant_cache;
mod types;

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::config::managed::ManagedSecrets;
use crate::config::tenant::TenantFile;
use crate::domain::{
    ConversationId, ConversationState, CorrelationId, Flag, FlagValue, InboundMessage, JobId, JobKind, MessageId,
    TenantId,
};

pub use access::*;
pub use postgres::PgStore;
pub use sqlite::SqliteStore;
pub use tenant_cache::TenantCache;
pub use types::*;

/// Turns older than the prompt window that `load_reply_context` also reads, for the
/// running summary (`ReplyContext::older`).
pub const OLDER_TURNS: u32 = 20;

/// Result alias of this module.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Store failures.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be reached or answered with an error.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// Migrations failed, or the schema is newer than this binary.
    #[error("migration error: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    /// The URL names no supported backend.
    #[error("unsupported database URL scheme {0:?}: use sqlite://path/to/atende.db or postgres://host/database")]
    UnsupportedUrl(String),
    /// The database was migrated by a newer Atende.
    #[error(
        "the database schema is newer than this binary (unknown migrations {0:?}): upgrade atende, or point ATENDE_DATABASE_URL at another database"
    )]
    SchemaTooNew(Vec<i64>),
    /// The database file does not exist (and was not to be created).
    #[error("the database does not exist: run `atende migrate` (or `atende serve`) to create it")]
    Missing,
    /// A stored row could not be decoded.
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

/// Opens an existing store without creating or migrating anything (for `atende check`).
pub async fn open_existing(url: &str) -> Result<Arc<dyn Store>> {
    match backend(url)? {
        Backend::Sqlite(url) => Ok(Arc::new(SqliteStore::open(&url, false).await?)),
        Backend::Postgres(url) => Ok(Arc::new(PgStore::open(url).await?)),
    }
}

/// Opens the store named by `url`: `postgres://…` (or `postgresql://…`), `sqlite://path`,
/// or a bare file path, creating the SQLite file when needed. Migrates nothing.
pub async fn connect(url: &str) -> Result<Arc<dyn Store>> {
    connect_with(url, &StoreOptions::default()).await
}

/// [`connect`] with `options` (`database.*` of the configuration).
pub async fn connect_with(url: &str, options: &StoreOptions) -> Result<Arc<dyn Store>> {
    match backend(url)? {
        Backend::Sqlite(url) => Ok(Arc::new(SqliteStore::open(&url, true).await?)),
        Backend::Postgres(url) => Ok(Arc::new(PgStore::open_with(url, options.max_connections).await?)),
    }
}

/// How a store is opened, beyond its URL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// PostgreSQL pool size (at least 1); SQLite ignores it.
    pub max_connections: u32,
}

impl Default for StoreOptions {
    /// The configuration's defaults (`database.*`), the one place they are written.
    fn default() -> Self {
        Self::from(&crate::config::DatabaseConfig::default())
    }
}

impl From<&crate::config::DatabaseConfig> for StoreOptions {
    fn from(config: &crate::config::DatabaseConfig) -> Self {
        Self { max_connections: config.max_connections }
    }
}

/// The backend a database URL names.
enum Backend<'a> {
    /// A normalised `sqlite://` URL.
    Sqlite(String),
    /// The URL as given.
    Postgres(&'a str),
}

fn backend(url: &str) -> Result<Backend<'_>> {
    if url.starts_with("sqlite:") {
        return Ok(Backend::Sqlite(url.to_string()));
    }
    match url.split_once("://") {
        Some(("postgres" | "postgresql", _)) => Ok(Backend::Postgres(url)),
        // Only the scheme is echoed: the rest of a URL may hold a password.
        Some((scheme, _)) => Err(StoreError::UnsupportedUrl(scheme.to_string())),
        None => Ok(Backend::Sqlite(format!("sqlite://{url}"))),
    }
}

/// Everything Atende persists.
#[async_trait]
pub trait Store:
    TenantStore
    + MessageStore
    + JobStore
    + KnowledgeStore
    + HandoffStore
    + SurveyStore
    + FallbackStore
    + SpendStore
    + AccessStore
    + Send
    + Sync
    + 'static
{
    /// Applies pending migrations; fails when the database has migrations this binary lacks.
    async fn migrate(&self) -> Result<()>;
    /// Applied, pending and unknown (newer than this binary) migrations.
    async fn migration_status(&self) -> Result<MigrationStatus>;
    /// Cheap round trip, for `/ready`.
    async fn ping(&self) -> Result<()>;
    /// Records `profile` as the database's profile unless one is recorded; returns the
    /// recorded one (equal to `profile` on the first claim).
    async fn claim_profile(&self, profile: &str) -> Result<String>;
}

/// Tenants.
#[async_trait]
pub trait TenantStore {
    /// Creates or updates a tenant from its file, by slug.
    async fn upsert_tenant(&self, file: &TenantFile, now: OffsetDateTime) -> Result<(TenantId, UpsertOutcome)>;
    /// The tenant with this slug.
    async fn find_tenant(&self, slug: &str) -> Result<Option<Tenant>>;
    /// The tenant with this id.
    async fn find_tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>>;
    /// Every tenant, by slug.
    async fn list_tenants(&self) -> Result<Vec<Tenant>>;
    /// A tenant's personas, newest first.
    async fn list_persona_versions(&self, tenant: TenantId) -> Result<Vec<PersonaVersion>>;
    /// Writes a tenant's stored settings and managed secrets again, unchanged in meaning: sealed
    /// under the current master key (after a rotation, or a first key). `false`: no such tenant.
    async fn reseal_tenant(&self, id: TenantId, file: &TenantFile, secrets: &ManagedSecrets) -> Result<bool>;
    /// Replaces what `atende secrets rotate|set` keeps for a tenant; `false`: no such tenant.
    async fn set_tenant_secrets(&self, id: TenantId, secrets: &ManagedSecrets, now: OffsetDateTime) -> Result<bool>;
    /// Makes persona `version` current again (as a new version); `None` when it does not exist.
    async fn rollback_persona(&self, tenant: TenantId, version: i64, now: OffsetDateTime) -> Result<Option<i64>>;
    /// Sets one feature flag (`None`: back to its default), atomically against other flag
    /// changes; false when the tenant does not exist.
    async fn set_flag(
        &self,
        tenant: TenantId,
        flag: Flag,
        value: Option<FlagValue>,
        now: OffsetDateTime,
    ) -> Result<bool>;
}

/// Conversations and messages, including the transactions that end `reply` and `deliver` jobs.
#[async_trait]
pub trait MessageStore {
    /// Stores an inbound message, upserts its conversation and enqueues (or debounces)
    /// the conversation's `reply` job, in one transaction. Duplicates store nothing.
    async fn record_inbound(&self, inbound: NewInbound<'_>) -> Result<RecordOutcome>;
    /// Stores a message a human agent sent and pauses the bot for that conversation (or,
    /// for the resume command, gives it back to the bot); the first such message after a
    /// hand-off is its SLA answer.
    async fn record_agent_message(
        &self,
        tenant: TenantId,
        message: &InboundMessage,
        correlation_id: &CorrelationId,
        action: AgentAction,
        now: OffsetDateTime,
    ) -> Result<AgentOutcome>;
    /// Texts Atende sent to this contact since `since`, newest first (to spot our own echoes).
    async fn list_recent_outbound(&self, tenant: TenantId, contact: &str, since: OffsetDateTime)
    -> Result<Vec<String>>;
    /// Sets who answers a conversation (closing or resuming ends its open hand-off); false
    /// when it does not exist.
    async fn mark_conversation_state(&self, tenant: TenantId, contact: &str, state: ConversationState) -> Result<bool>;
    /// One conversation of a tenant.
    async fn find_conversation(&self, tenant: TenantId, contact: &str) -> Result<Option<Conversation>>;
    /// A tenant's conversations, most recently active first.
    async fn list_conversations(
        &self,
        tenant: TenantId,
        filter: ConversationFilter,
    ) -> Result<Vec<ConversationListing>>;
    /// Messages of each tenant since `since`: (slug, received, sent).
    async fn message_counts(&self, since: OffsetDateTime) -> Result<Vec<(String, i64, i64)>>;
    /// Mean polarity of each tenant's inbound messages since `since`: (slug, mean).
    async fn mean_mood(&self, since: OffsetDateTime) -> Result<Vec<(String, f64)>>;
    /// Messages of a conversation, oldest first.
    async fn list_messages(&self, conversation: ConversationId) -> Result<Vec<StoredMessage>>;
    /// What a `reply` job needs: tenant, conversation, the unanswered burst and recent history.
    /// History holds only turns with ids above `history_after` (`MessageId(0)`: all of them;
    /// a context cache passes the last id its window covers and reads just the rest).
    async fn load_reply_context(
        &self,
        conversation: ConversationId,
        history_turns: u32,
        history_since: OffsetDateTime,
        history_after: MessageId,
    ) -> Result<Option<ReplyContext>>;
    /// Finishes a `reply` job: marks the burst answered, stores the outbound message and
    /// enqueues its `deliver` job, in one transaction.
    async fn record_reply(&self, reply: NewReply<'_>) -> Result<Finish>;
    /// The outbound message a `deliver` job sends.
    async fn find_delivery(&self, message: MessageId) -> Result<Option<Delivery>>;
    /// Queues a message to the customer as the bot's, with its `deliver` job on the
    /// conversation's key (after any answer still pending); `None` when there is no such
    /// conversation.
    async fn send_as_bot(&self, message: BotMessage<'_>) -> Result<Option<MessageId>>;
    /// Finishes a `deliver` job: marks the message sent and the job done and queues the
    /// `notify` events (`reply.sent`), in one transaction.
    async fn record_delivered(
        &self,
        job: &ClaimedJob,
        message: MessageId,
        notify: &[NewNotify],
        now: OffsetDateTime,
    ) -> Result<Finish>;
}

/// Hand-offs to a person and their SLA.
#[async_trait]
pub trait HandoffStore {
    /// One hand-off with its tenant and conversation.
    async fn find_handoff(&self, id: i64) -> Result<Option<HandoffRecord>>;
    /// A tenant's hand-offs, newest first.
    async fn list_handoffs(&self, tenant: TenantId, limit: u32) -> Result<Vec<HandoffRecord>>;
    /// Hands a conversation to a person on request, in one transaction: the bot goes silent,
    /// `text` is queued to the customer, then the `handoff` job (and the `sla` job).
    async fn request_handoff(&self, request: RequestedHandoff<'_>) -> Result<RequestedHandoffOutcome>;
    /// Finishes a `handoff` job: stores the summary and the ticket's fate with the job's end.
    async fn record_handoff_transfer(
        &self,
        job: &ClaimedJob,
        handoff: i64,
        transfer: &HandoffTransfer,
    ) -> Result<Finish>;
    /// Finishes an `sla` job at the deadline: when no person answered in time the hand-off
    /// is marked breached (once), `notify` is queued and, if the conversation still waits for
    /// a person, `update_text` is queued to the customer. With `escalation` (its attempts), a
    /// breach also queues the team's e-mail as a `fallback` job.
    async fn record_sla_check(
        &self,
        job: &ClaimedJob,
        handoff: i64,
        update_text: &str,
        deliver_max_attempts: u32,
        notify: &[NewNotify],
        escalation: Option<u32>,
    ) -> Result<SlaCheck>;
}

/// Closing conversations and their CSAT surveys.
#[async_trait]
pub trait SurveyStore {
    /// Closes a conversation (its open hand-off ends, the next message starts a fresh
    /// ticket) and, when `close.survey` is given and the ticket qualifies, stores the survey
    /// and queues its question, in one transaction. A ticket qualifies once: the customer
    /// wrote in it, it was not surveyed yet and, unless allowed, it was not left waiting on a
    /// hand-off nobody answered.
    async fn close_conversation(&self, close: CloseConversation<'_>) -> Result<CloseOutcome>;
    /// A tenant's surveys, newest first.
    async fn list_surveys(&self, tenant: TenantId, limit: u32) -> Result<Vec<SurveyRecord>>;
    /// Mean rating and number of ratings of each tenant's surveys answered since `since`:
    /// (slug, mean, count).
    async fn mean_csat(&self, since: OffsetDateTime) -> Result<Vec<(String, f64, u64)>>;
}

/// Answers the helpdesk would not take, sent by e-mail or SMS instead.
#[async_trait]
pub trait FallbackStore {
    /// Marks the message as fallen back and queues one `fallback` job per channel, in one
    /// transaction; once per message: false (nothing queued) when it already fell back.
    async fn queue_fallback(&self, fallback: NewFallback<'_>) -> Result<bool>;
    /// The customer's messages an outbound message answers: those after the previous
    /// answer (the bot's or a person's; the parts of one reply count as one), oldest first.
    async fn answered_messages(&self, message: MessageId) -> Result<Vec<String>>;
}

/// LLM tokens and what they cost, per tenant and UTC day (`YYYY-MM-DD`).
#[async_trait]
pub trait SpendStore {
    /// Adds one call's tokens and cost to the tenant's day; the day's and the month's cost
    /// (micros) with it, read in the same transaction.
    async fn add_llm_spend(&self, tenant: TenantId, day: &str, usage: SpendUsage) -> Result<(i64, i64)>;
    /// The day's and the month's cost so far (micros).
    async fn llm_spend(&self, tenant: TenantId, day: &str) -> Result<(i64, i64)>;
}

/// One LLM call's tokens and cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SpendUsage {
    /// Prompt tokens.
    pub input_tokens: u64,
    /// Answer tokens.
    pub output_tokens: u64,
    /// Millionths of the tenant's currency.
    pub cost_micros: i64,
}

/// The `LIKE` pattern of a day's month: `2026-12-05` → `2026-12-%`.
pub(crate) fn month_pattern(day: &str) -> String {
    format!("{}-%", day.get(..7).unwrap_or(day))
}

/// Each tenant's knowledge base. Ranking is done in memory by `knowledge` (the default,
/// the same on every backend) or by the database's own full-text search.
#[async_trait]
pub trait KnowledgeStore {
    /// Adds or updates one entry by its `question_key`.
    async fn upsert_knowledge(
        &self,
        tenant: TenantId,
        entry: &NewKnowledge,
        now: OffsetDateTime,
    ) -> Result<KnowledgeUpsert>;
    /// Changes entry `id` of `tenant` (its question too, and with it the key).
    async fn update_knowledge(
        &self,
        tenant: TenantId,
        id: i64,
        entry: &NewKnowledge,
        now: OffsetDateTime,
    ) -> Result<KnowledgeEdit>;
    /// Every entry of a tenant (enabled or not), by id.
    async fn list_knowledge(&self, tenant: TenantId) -> Result<Vec<KnowledgeRow>>;
    /// (entry count, latest change in ms): changes whenever the knowledge base does.
    async fn knowledge_stamp(&self, tenant: TenantId) -> Result<(i64, i64)>;
    /// The tenant's enabled entries matching any term of `text`, best first (ties by id), at
    /// most `limit`, ranked by the database's full-text search with Portuguese analysis (accents
    /// folded, stopwords dropped). Any text is safe: it is reduced to the engine's own terms,
    /// never parsed as query syntax; text without a search term finds nothing.
    async fn search_knowledge(&self, tenant: TenantId, text: &str, limit: usize) -> Result<Vec<KnowledgeMatch>>;
}

/// [`JobStore::claim_jobs`] as one [`claim_job`](JobStore::claim_job) per owner, stopping at
/// the first owner left without work: the default, and a store's fallback.
pub(crate) async fn claim_one_by_one<S: JobStore + Sync + ?Sized>(
    store: &S,
    owners: &[String],
    now: OffsetDateTime,
    lease: Duration,
) -> Result<Vec<ClaimedJob>> {
    let mut jobs = Vec::with_capacity(owners.len());
    for owner in owners {
        match store.claim_job(owner, now, lease).await? {
            Some(job) => jobs.push(job),
            None => break,
        }
    }
    Ok(jobs)
}

/// The job queue and its dead-letter queue.
#[async_trait]
pub trait JobStore {
    /// Leases the next runnable job: its key has no other running job, it is the oldest
    /// live job of its key, and it is due (or its previous lease expired).
    async fn claim_job(&self, owner: &str, now: OffsetDateTime, lease: Duration) -> Result<Option<ClaimedJob>>;
    /// Leases up to one job per owner in `owners` (the same rules as [`claim_job`](Self::claim_job),
    /// one after the other), stopping at the first owner left without work; the jobs come
    /// back in claim order, job `i` leased to `owners[i]`. Stores override it to claim the
    /// whole batch in one round trip.
    async fn claim_jobs(&self, owners: &[String], now: OffsetDateTime, lease: Duration) -> Result<Vec<ClaimedJob>> {
        claim_one_by_one(self, owners, now, lease).await
    }
    /// Pushes a lease forward; false when the lease was lost.
    async fn extend_lease(&self, job: JobId, owner: &str, until: OffsetDateTime) -> Result<bool>;
    /// Marks a job done; false when the lease was lost.
    async fn complete_job(&self, job: JobId, owner: &str, now: OffsetDateTime) -> Result<bool>;
    /// Schedules another attempt; false when the lease was lost.
    async fn retry_job(&self, job: JobId, owner: &str, run_at: OffsetDateTime, failure: &JobFailure) -> Result<bool>;
    /// Moves a job to the dead-letter queue; false when the lease was lost.
    async fn dead_letter(&self, job: JobId, owner: &str, failure: &JobFailure, now: OffsetDateTime) -> Result<bool>;
    /// Puts jobs leased by owners starting with `owner_prefix` back in the queue without
    /// counting the interrupted attempt (used when a shutdown cuts jobs off); returns how many.
    async fn release_jobs(&self, owner_prefix: &str, now: OffsetDateTime) -> Result<u64>;
    /// Earliest moment the head job of some key becomes claimable (due time or lease expiry).
    async fn next_due(&self) -> Result<Option<OffsetDateTime>>;
    /// Live and dead job counts by kind and state.
    async fn count_jobs(&self) -> Result<Vec<JobCount>>;
    /// Deletes done and discarded jobs last touched before `before`; returns how many.
    async fn prune_jobs(&self, before: OffsetDateTime) -> Result<u64>;
    /// Dead letters, newest first.
    async fn list_dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<JobRecord>>;
    /// Any job by id.
    async fn find_job(&self, job: JobId) -> Result<Option<JobRecord>>;
    /// Queues event deliveries on their own (events not tied to another write, such as
    /// `dead_letter.created`).
    async fn enqueue_notify(
        &self,
        tenant: TenantId,
        notify: &[NewNotify],
        correlation_id: &CorrelationId,
        now: OffsetDateTime,
    ) -> Result<()>;
    /// A tenant's jobs of one kind in any state, newest first (the event delivery log).
    async fn list_jobs(&self, tenant: TenantId, kind: JobKind, limit: u32) -> Result<Vec<JobRecord>>;
    /// Puts a dead letter back in the queue with attempts reset; false when it is not dead.
    async fn replay_dead_letter(&self, job: JobId, now: OffsetDateTime) -> Result<bool>;
    /// Throws a dead letter away (kept as `discarded` until pruned); false when it is not dead.
    async fn discard_dead_letter(&self, job: JobId, now: OffsetDateTime) -> Result<bool>;
}

/// Who queues an outbound message: tenant, clock and correlation id (a job's, or a
/// webhook's when a ticket closes).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Origin<'a> {
    pub(crate) tenant: TenantId,
    pub(crate) correlation_id: &'a CorrelationId,
    pub(crate) at: OffsetDateTime,
}

impl<'a> From<&'a ClaimedJob> for Origin<'a> {
    fn from(job: &'a ClaimedJob) -> Self {
        Self { tenant: job.tenant_id, correlation_id: &job.correlation_id, at: job.claimed_at }
    }
}

/// The key and payload of the `fallback` job that e-mails the team about hand-off `handoff`'s
/// SLA breach (its own key: a slow mail server holds nothing else up).
pub(crate) fn escalation_job(handoff: i64) -> (String, String) {
    (format!("escalation:{handoff}"), serde_json::json!({ "handoff_id": handoff, "channel": "email" }).to_string())
}

/// Compares a migrator's migrations with the versions a database has applied.
fn migration_status(migrator: &sqlx::migrate::Migrator, applied: &[i64]) -> MigrationStatus {
    let known: Vec<(i64, String)> = migrator.iter().map(|m| (m.version, m.description.to_string())).collect();
    MigrationStatus {
        applied: known.iter().filter(|(v, _)| applied.contains(v)).cloned().collect(),
        pending: known.iter().filter(|(v, _)| !applied.contains(v)).cloned().collect(),
        unknown: applied.iter().copied().filter(|v| !known.iter().any(|(k, _)| k == v)).collect(),
    }
}

/// The job kinds this binary runs, as an SQL list (`'reply', 'deliver', …`): the claim
/// leaves a newer binary's kinds to it.
pub(crate) fn known_kinds_sql() -> String {
    JobKind::ALL.iter().map(|kind| format!("'{}'", kind.as_str())).collect::<Vec<_>>().join(", ")
}

/// Attempts of an `idle` job (it only reads and writes the store).
pub(crate) const IDLE_MAX_ATTEMPTS: u32 = 5;

/// Key of a conversation's `idle` job: its own, so a far `run_at` holds no reply back.
pub(crate) fn idle_key(conversation: ConversationId) -> String {
    format!("idle:{conversation}")
}

/// Why a closing ticket gets no survey, if it does not (the same on every backend).
pub(crate) fn survey_skip(customer_wrote: bool, already_asked: bool, abandoned: bool) -> Option<&'static str> {
    if !customer_wrote {
        Some("no_customer_message")
    } else if already_asked {
        Some("already_asked")
    } else if abandoned {
        Some("abandoned_handoff")
    } else {
        None
    }
}

/// What an `sla` job finds, from the hand-off's times (ms).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SlaVerdict {
    Met,
    Closed,
    Breached,
    AlreadyChecked,
}

/// The same on every backend: a person answering by the deadline meets it; a hand-off that
/// ended before the deadline with nobody answering is moot; anything else breaches, once.
pub(crate) fn sla_verdict(
    due: Option<i64>,
    first_human: Option<i64>,
    breached: Option<i64>,
    closed: Option<i64>,
) -> SlaVerdict {
    let Some(due) = due else { return SlaVerdict::AlreadyChecked };
    if breached.is_some() {
        return SlaVerdict::AlreadyChecked;
    }
    match (first_human, closed) {
        (Some(at), _) if at <= due => SlaVerdict::Met,
        (None, Some(at)) if at <= due => SlaVerdict::Closed,
        _ => SlaVerdict::Breached,
    }
}

#[cfg(test)]
mod tests {
    use super::survey_skip;

    #[test]
    fn a_ticket_qualifies_once_when_the_customer_wrote_and_was_not_left_waiting() {
        assert_eq!(survey_skip(true, false, false), None);
        assert_eq!(survey_skip(false, false, false), Some("no_customer_message"));
        assert_eq!(survey_skip(false, true, true), Some("no_customer_message"));
        assert_eq!(survey_skip(true, true, false), Some("already_asked"));
        assert_eq!(survey_skip(true, false, true), Some("abandoned_handoff"));
    }
}
