//! In-process GCRA buckets (`governor`): the limits of a single process, and the fallback
//! when Redis is unreachable.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::Limited;
use crate::config::LimitsConfig;

/// The ingress and login buckets of one process.
pub struct LocalLimits {
    ip: DefaultKeyedRateLimiter<IpAddr>,
    tenant: DefaultKeyedRateLimiter<String>,
    contact: DefaultKeyedRateLimiter<String>,
    login: DefaultKeyedRateLimiter<IpAddr>,
    clock: DefaultClock,
}

impl LocalLimits {
    /// Buckets sized by `config` (zero values are treated as one).
    pub fn new(config: &LimitsConfig) -> Self {
        let nz = |n: u32| NonZeroU32::new(n.max(1)).expect("max(1) is non-zero");
        Self {
            ip: RateLimiter::keyed(
                Quota::per_second(nz(config.per_ip_per_second)).allow_burst(nz(config.per_ip_burst)),
            ),
            tenant: RateLimiter::keyed(
                Quota::per_second(nz(config.per_tenant_per_second)).allow_burst(nz(config.per_tenant_burst)),
            ),
            contact: RateLimiter::keyed(
                Quota::per_minute(nz(config.per_contact_per_minute)).allow_burst(nz(config.per_contact_burst)),
            ),
            login: RateLimiter::keyed(
                Quota::per_minute(nz(config.logins_per_ip_per_minute)).allow_burst(nz(config.logins_per_ip_burst)),
            ),
            clock: DefaultClock::default(),
        }
    }

    /// One request from `ip`.
    pub fn check_ip(&self, ip: IpAddr) -> Result<(), Limited> {
        self.ip.check_key(&ip).map_err(|n| self.limited("ip", n.wait_time_from(self.clock.now())))
    }

    /// One webhook for tenant `slug` (checked only for known tenants, so keys stay bounded).
    pub fn check_tenant(&self, slug: &str) -> Result<(), Limited> {
        self.tenant.check_key(&slug.to_string()).map_err(|n| self.limited("tenant", n.wait_time_from(self.clock.now())))
    }

    /// One message from `contact` of tenant `slug`.
    pub fn check_contact(&self, slug: &str, contact: &str) -> Result<(), Limited> {
        let key = format!("{slug}:{contact}");
        self.contact.check_key(&key).map_err(|n| self.limited("contact", n.wait_time_from(self.clock.now())))
    }

    /// One panel login attempt from `ip`.
    pub fn check_login(&self, ip: IpAddr) -> Result<(), Limited> {
        self.login.check_key(&ip).map_err(|n| self.limited("login", n.wait_time_from(self.clock.now())))
    }

    /// Forgets idle keys; call periodically so phone-number keys do not grow without bound.
    pub fn prune(&self) {
        self.ip.retain_recent();
        self.ip.shrink_to_fit();
        self.contact.retain_recent();
        self.contact.shrink_to_fit();
        self.tenant.retain_recent();
        self.login.retain_recent();
    }

    fn limited(&self, scope: &'static str, wait: Duration) -> Limited {
        Limited { scope, retry_after: wait.max(Duration::from_secs(1)) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_beyond_the_limit_is_refused_with_a_retry_delay() {
        let config = LimitsConfig { per_ip_per_second: 1, per_ip_burst: 2, ..LimitsConfig::default() };
        let limits = LocalLimits::new(&config);
        let ip: IpAddr = "127.0.0.9".parse().unwrap();
        assert!(limits.check_ip(ip).is_ok());
        assert!(limits.check_ip(ip).is_ok());
        let refused = limits.check_ip(ip).unwrap_err();
        assert_eq!(refused.scope, "ip");
        assert!(refused.retry_after >= Duration::from_secs(1));
        assert!(limits.check_ip("127.0.0.10".parse().unwrap()).is_ok(), "other IPs have their own bucket");
    }
}
