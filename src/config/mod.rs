//! The process configuration tree and the tenant file format.
//!
//! Layer 1: may import `domain`.
//!
//! Loading order: built-in defaults → `atende.toml` (or `--config`) → `ATENDE_*`
//! environment variables (`__` nests: `ATENDE_QUEUE__DEBOUNCE=5s`), plus the
//! documented aliases `ATENDE_DATABASE_URL` and `ATENDE_BIND`. Layering is done on
//! `toml::Value` by hand (about forty lines) because the `config` crate lowercases
//! keys and cannot tell an alias such as `ATENDE_DATABASE_URL` from a nested key.

pub mod fallback;
mod load;
pub mod managed;
pub mod persona;
pub mod sealing;
pub mod spend;
pub mod tenant;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use load::{ConfigError, load, load_profile};

/// A TOML error as "line L, column C: message", without the source excerpt the `toml`
/// crate's `Display` adds: that excerpt could print a secret from a mistyped line.
pub fn describe_toml_error(text: &str, err: &toml::de::Error) -> String {
    match err.span() {
        Some(span) => {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().unwrap_or_default().chars().count() + 1;
            format!("line {line}, column {column}: {}", scrub_values(err.message()))
        }
        None => scrub_values(err.message()),
    }
}

/// Drops the values serde quotes in "invalid type/value" messages (`string "…"`,
/// `integer `…``): a mistyped secret must not reach the terminal. Key names stay.
fn scrub_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(start) = rest.find(['"', '`']) {
        let quote = rest[start..].chars().next().unwrap_or('"');
        let Some(len) = rest[start + 1..].find(quote) else { break };
        let before = &rest[..start];
        let is_value = ["string ", "integer ", "float ", "char ", "value "].iter().any(|p| before.ends_with(p));
        out.push_str(before);
        if is_value {
            out.push_str("(value hidden)");
        } else {
            out.push_str(&rest[start..start + len + 2]);
        }
        rest = &rest[start + len + 2..];
    }
    out.push_str(rest);
    out
}

/// Everything a process needs; per-tenant settings live in the store, not here.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// HTTP listener and ingress limits.
    pub http: HttpConfig,
    /// Where data and the queue live.
    pub database: DatabaseConfig,
    /// Workers, leases, debounce and retries.
    pub queue: QueueConfig,
    /// LLM timeouts, retries and circuit breaker.
    pub llm: LlmConfig,
    /// Conversation context given to the LLM.
    pub brain: BrainConfig,
    /// Rate limits.
    pub limits: LimitsConfig,
    /// Redis, shared by several processes (optional).
    pub redis: RedisConfig,
    /// Helpdesk client settings.
    pub whaticket: WhaticketConfig,
    /// Outbound event deliveries (`notify` jobs).
    pub events: EventsConfig,
    /// E-mail and SMS fallback deliveries (`fallback` jobs).
    pub fallback: FallbackConfig,
    /// Logging.
    pub log: LogConfig,
    /// The web panel's sessions and login locks.
    pub panel: PanelConfig,
    /// The master key that encrypts tenant secrets at rest.
    pub secrets: SecretsConfig,
    /// Where `atende notify-deploy` posts its deploy notices.
    pub monitoring: MonitoringConfig,
    /// The profile this process runs as (`--profile` / `ATENDE_PROFILE`), never read from a file.
    #[serde(skip)]
    pub profile: Option<String>,
}

/// `[monitoring]`: the operators' monitoring webhook. Its HMAC secret comes from
/// `webhook_secret_file` or `ATENDE_MONITORING_WEBHOOK_SECRET`, never from this file, so
/// `atende check` can print the configuration whole.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MonitoringConfig {
    /// Receiver of deploy notices (`ATENDE_MONITORING__WEBHOOK_URL`).
    pub webhook_url: Option<String>,
    /// File holding the secret that signs them.
    pub webhook_secret_file: Option<PathBuf>,
}

/// `[secrets]`. The key itself may also come from `ATENDE_MASTER_KEY`, which wins.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// The master key file (`ATENDE_MASTER_KEY_FILE`); generated with permissions 0600 on
    /// the first start when missing and the database holds no encrypted value.
    pub master_key_file: PathBuf,
}

impl Default for SecretsConfig {
    fn default() -> Self {
        Self { master_key_file: PathBuf::from("atende.key") }
    }
}

/// HTTP listener.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpConfig {
    /// Address to listen on.
    pub bind: SocketAddr,
    /// Largest accepted webhook body.
    pub body_limit_bytes: usize,
    /// Take the client IP from `X-Forwarded-For` (only behind a trusted proxy).
    pub trust_forwarded_for: bool,
    /// How long a tenant read by ingress is reused: `tenant apply` reaches running
    /// processes within this time (zero: read the store on every webhook).
    #[serde(with = "humantime_serde")]
    pub tenant_cache_ttl: Duration,
    /// Webhooks handled at once; more are refused with `503` and `Retry-After` (every sender
    /// retries), which bounds the memory of a process whose store falls behind. 0: no limit.
    pub max_in_flight: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            body_limit_bytes: 64 * 1024,
            trust_forwarded_for: false,
            tenant_cache_ttl: Duration::from_secs(1),
            max_in_flight: 1024,
        }
    }
}

/// Store location.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// `sqlite://path` (created when missing) or `postgres://user:password@host/database`.
    pub url: String,
    /// Apply pending migrations at start-up.
    pub migrate_on_start: bool,
    /// PostgreSQL connections this process opens at most (ingress and workers share them);
    /// N processes open up to N times this. SQLite ignores it.
    pub max_connections: u32,
}

impl Default for DatabaseConfig {
    fn default() -> Self {
        Self { url: "sqlite://atende.db".into(), migrate_on_start: true, max_connections: 10 }
    }
}

/// Queue and worker behaviour.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct QueueConfig {
    /// Concurrent jobs per process.
    pub workers: usize,
    /// How often an idle worker looks for work.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How long a claimed job stays leased without a heartbeat.
    #[serde(with = "humantime_serde")]
    pub lease: Duration,
    /// Quiet time after the latest message of a burst before replying.
    #[serde(with = "humantime_serde")]
    pub debounce: Duration,
    /// Longest a burst may delay its reply, counted from its first message.
    #[serde(with = "humantime_serde")]
    pub debounce_max: Duration,
    /// Attempts of a `reply` job before it is dead-lettered.
    pub reply_max_attempts: u32,
    /// Attempts of a `deliver` job before it is dead-lettered.
    pub deliver_max_attempts: u32,
    /// First retry delay; doubles per attempt, with jitter.
    #[serde(with = "humantime_serde")]
    pub backoff_base: Duration,
    /// Longest retry delay.
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    /// Time in-flight jobs get to finish on shutdown.
    #[serde(with = "humantime_serde")]
    pub shutdown_grace: Duration,
}

impl Default for QueueConfig {
    fn default() -> Self {
        Self {
            workers: 4,
            poll_interval: Duration::from_millis(500),
            lease: Duration::from_secs(60),
            debounce: Duration::from_secs(3),
            debounce_max: Duration::from_secs(15),
            reply_max_attempts: 5,
            deliver_max_attempts: 8,
            backoff_base: Duration::from_secs(2),
            backoff_max: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(20),
        }
    }
}

/// LLM client behaviour (providers and keys are per tenant).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LlmConfig {
    /// Per HTTP request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts per provider, including the first.
    pub max_attempts: u32,
    /// First in-call retry delay.
    #[serde(with = "humantime_serde")]
    pub backoff_base: Duration,
    /// Longest in-call retry delay.
    #[serde(with = "humantime_serde")]
    pub backoff_max: Duration,
    /// A server-asked delay longer than this moves on to the fallback provider.
    #[serde(with = "humantime_serde")]
    pub max_retry_delay: Duration,
    /// Consecutive failures that open a provider's circuit breaker.
    pub breaker_failure_threshold: u32,
    /// How long an open breaker rejects calls before a trial.
    #[serde(with = "humantime_serde")]
    pub breaker_open_for: Duration,
}

impl Default for LlmConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(20),
            max_attempts: 3,
            backoff_base: Duration::from_millis(500),
            backoff_max: Duration::from_secs(8),
            max_retry_delay: Duration::from_secs(30),
            breaker_failure_threshold: 5,
            breaker_open_for: Duration::from_secs(30),
        }
    }
}

/// Conversation context.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BrainConfig {
    /// Earlier messages given to the LLM.
    pub history_turns: u32,
    /// Older messages are left out of the prompt.
    #[serde(with = "humantime_serde")]
    pub history_ttl: Duration,
    /// What ranks knowledge entries for a message: `memory` (BM25 in Atende, the same on every
    /// database) or `database` (SQLite FTS5 / PostgreSQL full-text search).
    pub knowledge_search: KnowledgeSearch,
}

impl Default for BrainConfig {
    fn default() -> Self {
        Self {
            history_turns: 12,
            history_ttl: Duration::from_secs(24 * 3600),
            knowledge_search: KnowledgeSearch::default(),
        }
    }
}

/// The engine that ranks a tenant's knowledge entries for a customer's message.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KnowledgeSearch {
    /// BM25 over an index Atende keeps in memory per tenant (Portuguese or English stems, as the
    /// persona's language); ranks alike on SQLite and PostgreSQL.
    #[default]
    Memory,
    /// The database's own full-text search, with Portuguese analysis: FTS5 on SQLite (folded
    /// words, prefixes), `tsvector` on PostgreSQL (Snowball stems, `unaccent` when installed).
    Database,
}

impl KnowledgeSearch {
    /// The name used in `atende.toml` and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Memory => "memory",
            Self::Database => "database",
        }
    }
}

impl std::str::FromStr for KnowledgeSearch {
    type Err = String;

    fn from_str(name: &str) -> Result<Self, String> {
        match name {
            "memory" => Ok(Self::Memory),
            "database" => Ok(Self::Database),
            other => Err(format!(
                "unknown knowledge search {other:?}: use \"memory\" (BM25 in Atende, the default) \
                 or \"database\" (the database's full-text search)"
            )),
        }
    }
}

impl<'de> Deserialize<'de> for KnowledgeSearch {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        name.parse().map_err(|e| serde::de::Error::custom(format!("brain.knowledge_search: {e}")))
    }
}

/// Ingress rate limits (GCRA: a sustained rate and a burst).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Webhooks per second from one client IP.
    pub per_ip_per_second: u32,
    /// Burst allowed per client IP.
    pub per_ip_burst: u32,
    /// Webhooks per second for one tenant.
    pub per_tenant_per_second: u32,
    /// Burst allowed per tenant.
    pub per_tenant_burst: u32,
    /// Messages per minute from one contact.
    pub per_contact_per_minute: u32,
    /// Burst allowed per contact.
    pub per_contact_burst: u32,
    /// Panel login attempts per minute from one client IP.
    pub logins_per_ip_per_minute: u32,
    /// Login attempts allowed at once from one client IP.
    pub logins_per_ip_burst: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            per_ip_per_second: 100,
            per_ip_burst: 200,
            per_tenant_per_second: 100,
            per_tenant_burst: 200,
            per_contact_per_minute: 60,
            per_contact_burst: 20,
            logins_per_ip_per_minute: 10,
            logins_per_ip_burst: 10,
        }
    }
}

/// Redis: shared rate limits across processes. Unset `url` = per-process limits.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisConfig {
    /// `redis://host:6379/0` (`ATENDE_REDIS_URL`).
    pub url: Option<String>,
    /// Prepended to every key Atende writes.
    pub prefix: String,
    /// Per command; a slower Redis counts as down and local limits apply.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for RedisConfig {
    fn default() -> Self {
        Self { url: None, prefix: "atende:".into(), timeout: Duration::from_millis(250) }
    }
}

/// Helpdesk client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WhaticketConfig {
    /// Per send request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for WhaticketConfig {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(15) }
    }
}

/// Outbound event deliveries to tenants' subscribers.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EventsConfig {
    /// Per delivery request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts of a `notify` job before it is dead-lettered (backoff as `queue.backoff_*`).
    pub max_attempts: u32,
}

impl Default for EventsConfig {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(10), max_attempts: 8 }
    }
}

/// E-mail and SMS fallback deliveries (`fallback` jobs).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FallbackConfig {
    /// Per SMTP session or SMS request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// Attempts of a `fallback` job before it is dead-lettered (backoff as `queue.backoff_*`).
    pub max_attempts: u32,
}

impl Default for FallbackConfig {
    fn default() -> Self {
        Self { timeout: Duration::from_secs(30), max_attempts: 6 }
    }
}

/// The web panel's sessions and login locks.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PanelConfig {
    /// A session stops working this long after its login.
    #[serde(with = "humantime_serde")]
    pub session_ttl: Duration,
    /// Failed logins in a row that lock an account.
    pub lock_after_failures: u32,
    /// How long such a lock lasts.
    #[serde(with = "humantime_serde")]
    pub lock_for: Duration,
    /// Mark cookies `Secure` (Atende behind TLS); also done when a trusted proxy sends
    /// `X-Forwarded-Proto: https`.
    pub secure_cookies: bool,
}

impl Default for PanelConfig {
    fn default() -> Self {
        Self {
            session_ttl: Duration::from_secs(12 * 3600),
            lock_after_failures: 5,
            lock_for: Duration::from_secs(15 * 60),
            secure_cookies: false,
        }
    }
}

/// Logging.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// `RUST_LOG`-style filter.
    pub level: String,
    /// `json` (default) or `text`.
    pub format: LogFormat,
    /// Also write daily-rotated files here (`ATENDE_LOG_DIR`).
    pub dir: Option<PathBuf>,
    /// Days of files kept besides today's; older files are deleted. 0 keeps them all.
    pub retention_days: u32,
    /// Also cap the number of files, whatever their age.
    pub max_files: Option<usize>,
    /// Log phone numbers and message text as they are; masked by default.
    pub include_pii: bool,
}

impl Default for LogConfig {
    fn default() -> Self {
        Self {
            level: "info".into(),
            format: LogFormat::Json,
            dir: None,
            retention_days: 7,
            max_files: None,
            include_pii: false,
        }
    }
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line.
    Json,
    /// Human-readable lines, for a terminal.
    Text,
}
