//! The Redis connection shared by rate limits (and, through [`RedisHandle`], readiness and
//! metrics). One multiplexed, auto-reconnecting connection per process; connecting is lazy
//! and retried at most every few seconds, so a Redis outage degrades to local limits
//! instead of stalling ingress.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::Mutex as AsyncMutex;
use tracing::warn;

use super::Rate;
use crate::config::RedisConfig;
use crate::telemetry::metrics as m;

/// GCRA in one atomic step, on Redis' own clock. Returns `{allowed, wait_ms}`. The key's
/// TTL is the time until its bucket is full again, so idle keys disappear by themselves.
const GCRA: &str = r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local emission = tonumber(ARGV[1])
local tolerance = emission * tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local new_tat = tat + emission
local allow_at = new_tat - tolerance
if allow_at > now then
  return {0, allow_at - now}
end
redis.call('SET', KEYS[1], new_tat, 'PX', new_tat - now + 1000)
return {1, 0}
";

/// How long after a failed connection attempt the next one may be made.
const RECONNECT_PAUSE: Duration = Duration::from_secs(5);

/// A lazily connected Redis with a key prefix.
pub struct RedisHandle {
    client: redis::Client,
    prefix: String,
    timeout: Duration,
    conn: AsyncMutex<Option<ConnectionManager>>,
    /// No connection attempt before this instant (after a failure).
    next_attempt: Mutex<Option<Instant>>,
    script: redis::Script,
}

impl std::fmt::Debug for RedisHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: show only the prefix.
        f.debug_struct("RedisHandle").field("prefix", &self.prefix).finish_non_exhaustive()
    }
}

/// What readiness reports about Redis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RedisStatus {
    /// Answering.
    Ok,
    /// Configured but not answering: limits are per process until it is back.
    Unavailable,
}

impl RedisHandle {
    /// A handle for `url` (`redis://host:port/db`); nothing is connected yet.
    pub fn new(url: &str, config: &RedisConfig) -> Result<Self, String> {
        let client = redis::Client::open(url).map_err(|e| format!("redis.url: {e}"))?;
        Ok(Self {
            client,
            prefix: config.prefix.clone(),
            timeout: config.timeout,
            conn: AsyncMutex::new(None),
            next_attempt: Mutex::new(None),
            script: redis::Script::new(GCRA),
        })
    }

    /// Runs the GCRA script for `key`: `Some(None)` allowed, `Some(Some(wait))` limited,
    /// `None` when Redis cannot answer (the caller falls back to local limits).
    pub async fn gcra(&self, key: &str, rate: Rate) -> Option<Option<Duration>> {
        let mut conn = self.connection().await?;
        let emission = rate.emission.as_millis().max(1) as u64;
        let result: redis::RedisResult<(i64, i64)> = self
            .script
            .key(format!("{}{key}", self.prefix))
            .arg(emission)
            .arg(rate.burst)
            .invoke_async(&mut conn)
            .await;
        match result {
            Ok((1, _)) => Some(None),
            Ok((_, wait)) => Some(Some(Duration::from_millis(wait.max(0) as u64))),
            Err(err) => {
                self.failed("gcra", &err);
                None
            }
        }
    }

    /// Sets `key` (prefixed) for `ttl`; false when Redis cannot answer.
    pub async fn set_flag(&self, key: &str, ttl: Duration) -> bool {
        let Some(mut conn) = self.connection().await else { return false };
        let ms = ttl.as_millis().max(1) as u64;
        let result: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("{}{key}", self.prefix))
            .arg(1)
            .arg("PX")
            .arg(ms)
            .query_async(&mut conn)
            .await;
        result.map_err(|err| self.failed("set_flag", &err)).is_ok()
    }

    /// Whether `key` (prefixed) is set; `None` when Redis cannot answer.
    pub async fn has_flag(&self, key: &str) -> Option<bool> {
        let mut conn = self.connection().await?;
        let result: redis::RedisResult<bool> =
            redis::cmd("EXISTS").arg(format!("{}{key}", self.prefix)).query_async(&mut conn).await;
        result.map_err(|err| self.failed("has_flag", &err)).ok()
    }

    /// The value of `key` (prefixed): `Some(None)` when absent, `None` when Redis cannot answer.
    pub async fn get_value(&self, key: &str) -> Option<Option<Vec<u8>>> {
        let mut conn = self.connection().await?;
        let result: redis::RedisResult<Option<Vec<u8>>> =
            redis::cmd("GET").arg(format!("{}{key}", self.prefix)).query_async(&mut conn).await;
        result.map_err(|err| self.failed("get", &err)).ok()
    }

    /// Stores `value` under `key` (prefixed) for `ttl`; false when Redis cannot answer.
    pub async fn set_value(&self, key: &str, value: &[u8], ttl: Duration) -> bool {
        let Some(mut conn) = self.connection().await else { return false };
        let ms = ttl.as_millis().max(1) as u64;
        let result: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("{}{key}", self.prefix))
            .arg(value)
            .arg("PX")
            .arg(ms)
            .query_async(&mut conn)
            .await;
        result.map_err(|err| self.failed("set", &err)).is_ok()
    }

    /// Round trip, for `/ready`.
    pub async fn status(&self) -> RedisStatus {
        let Some(mut conn) = self.connection().await else { return RedisStatus::Unavailable };
        match redis::cmd("PING").query_async::<String>(&mut conn).await {
            Ok(_) => RedisStatus::Ok,
            Err(err) => {
                self.failed("ping", &err);
                RedisStatus::Unavailable
            }
        }
    }

    /// `used_memory` and `maxmemory` (0: no limit) from `INFO memory`, in bytes.
    pub async fn memory(&self) -> Option<(u64, u64)> {
        let mut conn = self.connection().await?;
        let info: String = redis::cmd("INFO").arg("memory").query_async(&mut conn).await.ok()?;
        let field = |name: &str| {
            info.lines().find_map(|l| l.strip_prefix(name)?.strip_prefix(':')).and_then(|v| v.trim().parse().ok())
        };
        Some((field("used_memory")?, field("maxmemory").unwrap_or(0)))
    }

    /// The key prefix (every key Atende writes starts with it).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    async fn connection(&self) -> Option<ConnectionManager> {
        let mut slot = self.conn.lock().await;
        if let Some(conn) = slot.as_ref() {
            return Some(conn.clone());
        }
        let waiting = self.next_attempt.lock().unwrap_or_else(|p| p.into_inner()).is_some_and(|at| Instant::now() < at);
        if waiting {
            metrics::counter!(m::REDIS_ERRORS_TOTAL, "op" => "connect_skipped").increment(1);
            return None;
        }
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.timeout.max(Duration::from_millis(500))))
            .set_response_timeout(Some(self.timeout))
            .set_number_of_retries(1);
        match tokio::time::timeout(self.timeout * 4, self.client.get_connection_manager_with_config(config)).await {
            Ok(Ok(conn)) => {
                *slot = Some(conn.clone());
                Some(conn)
            }
            Ok(Err(err)) => {
                self.failed("connect", &err);
                None
            }
            Err(_) => {
                warn!("Redis did not answer in time; using per-process limits for now");
                metrics::counter!(m::REDIS_ERRORS_TOTAL, "op" => "connect").increment(1);
                *self.next_attempt.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + RECONNECT_PAUSE);
                None
            }
        }
    }

    fn failed(&self, op: &'static str, err: &redis::RedisError) {
        warn!(op, error = %err, "Redis unavailable; using per-process limits and caches for now");
        metrics::counter!(m::REDIS_ERRORS_TOTAL, "op" => op).increment(1);
        if op == "connect" {
            *self.next_attempt.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now() + RECONNECT_PAUSE);
        }
    }
}
