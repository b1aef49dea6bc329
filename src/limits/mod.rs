//! Ingress rate limits (GCRA buckets per client IP, tenant and contact), shared through
//! Redis when configured so every `atende` process draws from the same buckets.
//!
//! Layer 2: may import `domain`, `config`, `telemetry`. When Redis is configured but
//! unreachable, each process falls back to its own in-memory buckets: logged, counted in
//! `atende_redis_errors_total`, and the service keeps answering.

mod local;
mod redis;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{LimitsConfig, RedisConfig};

pub use local::LocalLimits;
pub use redis::{RedisHandle, RedisStatus};

/// A request over its limit, and how long to wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// Which bucket ran dry: `ip`, `tenant`, `contact` or `login`.
    pub scope: &'static str,
    /// When a retry may pass.
    pub retry_after: Duration,
}

/// A sustained rate and a burst, as GCRA parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Time between two requests at the sustained rate.
    pub emission: Duration,
    /// Requests allowed at once.
    pub burst: u32,
}

impl Rate {
    fn per(period: Duration, count: u32, burst: u32) -> Self {
        Self { emission: period / count.max(1), burst: burst.max(1) }
    }
}

/// The ingress buckets, and the panel's login bucket.
pub struct Limits {
    local: LocalLimits,
    redis: Option<Arc<RedisHandle>>,
    ip: Rate,
    tenant: Rate,
    contact: Rate,
    login: Rate,
}

impl Limits {
    /// Buckets sized by `config`; shared through Redis when `redis.url` is set.
    pub fn new(config: &LimitsConfig, redis: Option<Arc<RedisHandle>>) -> Self {
        let second = Duration::from_secs(1);
        Self {
            local: LocalLimits::new(config),
            redis,
            ip: Rate::per(second, config.per_ip_per_second, config.per_ip_burst),
            tenant: Rate::per(second, config.per_tenant_per_second, config.per_tenant_burst),
            contact: Rate::per(Duration::from_secs(60), config.per_contact_per_minute, config.per_contact_burst),
            login: Rate::per(Duration::from_secs(60), config.logins_per_ip_per_minute, config.logins_per_ip_burst),
        }
    }

    /// Connects the Redis handle named by `config` (lazily: a down Redis is not an error).
    pub fn redis_from(config: &RedisConfig) -> Result<Option<Arc<RedisHandle>>, String> {
        config.url.as_deref().map(|url| RedisHandle::new(url, config).map(Arc::new)).transpose()
    }

    /// One request from `ip`.
    pub async fn check_ip(&self, ip: IpAddr) -> Result<(), Limited> {
        match self.shared("ip", &ip.to_string(), self.ip).await {
            Some(verdict) => verdict,
            None => self.local.check_ip(ip),
        }
    }

    /// One webhook for tenant `slug` (checked only for authenticated senders).
    pub async fn check_tenant(&self, slug: &str) -> Result<(), Limited> {
        match self.shared("tenant", slug, self.tenant).await {
            Some(verdict) => verdict,
            None => self.local.check_tenant(slug),
        }
    }

    /// One message from `contact` of tenant `slug`.
    pub async fn check_contact(&self, slug: &str, contact: &str) -> Result<(), Limited> {
        match self.shared("contact", &format!("{slug}:{contact}"), self.contact).await {
            Some(verdict) => verdict,
            None => self.local.check_contact(slug, contact),
        }
    }

    /// One panel login attempt from `ip`.
    pub async fn check_login(&self, ip: IpAddr) -> Result<(), Limited> {
        match self.shared("login", &ip.to_string(), self.login).await {
            Some(verdict) => verdict,
            None => self.local.check_login(ip),
        }
    }

    /// The Redis handle, for readiness and metrics.
    pub fn redis(&self) -> Option<&RedisHandle> {
        self.redis.as_deref()
    }

    /// Forgets idle in-memory keys; call periodically.
    pub fn prune(&self) {
        self.local.prune();
    }

    /// The shared verdict, or `None` when Redis is not configured or not answering.
    async fn shared(&self, scope: &'static str, key: &str, rate: Rate) -> Option<Result<(), Limited>> {
        let redis = self.redis.as_ref()?;
        let wait = redis.gcra(&format!("limit:{scope}:{key}"), rate).await?;
        Some(match wait {
            None => Ok(()),
            Some(wait) => Err(Limited { scope, retry_after: wait.max(Duration::from_secs(1)) }),
        })
    }
}
