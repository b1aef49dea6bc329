//! Circuit breakers, one per tenant + provider + base URL, with the clock passed in.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::telemetry::metrics;

/// What a breaker currently lets through.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls pass; failures are being counted.
    Closed,
    /// The cool-down is over; one trial call may pass.
    HalfOpen,
    /// Calls are skipped without any request.
    Open,
}

impl BreakerState {
    /// Value of the `LLM_BREAKER_STATE` gauge: 0 closed, 1 half-open, 2 open.
    pub fn gauge_value(self) -> f64 {
        match self {
            Self::Closed => 0.0,
            Self::HalfOpen => 1.0,
            Self::Open => 2.0,
        }
    }
}

/// Whether a call may go to the provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admission {
    /// Send the request.
    Pass,
    /// Skip the provider: its breaker is open or a half-open trial is in flight.
    Reject,
}

/// How a call that passed ended, from the provider's health point of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Health {
    /// The provider answered deliberately (success, no-answer, or a permanent 4xx).
    Up,
    /// A retryable failure: timeout, connection error, 408, 429, 5xx.
    Down,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Closed {
        failures: u32,
    },
    Open {
        until: Instant,
    },
    /// `trial_since` is when the one allowed trial started.
    HalfOpen {
        trial_since: Instant,
    },
}

/// One breaker. Lifecycle:
/// 1. `Closed`: every call passes. A `Down` adds one to `failures`; an `Up` resets it to zero.
/// 2. When `failures` reaches the threshold it turns `Open` until `now + open_for`; calls are rejected.
/// 3. The first call at or after `until` turns it `HalfOpen` and is the one trial; others are rejected.
/// 4. Trial `Up` → `Closed` with zero failures; trial `Down` → `Open` again for `open_for`.
/// 5. A trial that never reports (its caller was dropped) is presumed lost after `open_for`, and
///    the next call becomes a new trial, so a breaker can never stay half-open forever.
#[derive(Debug, Clone)]
pub(super) struct Breaker {
    phase: Phase,
    threshold: u32,
    open_for: Duration,
}

impl Breaker {
    pub(super) fn new(threshold: u32, open_for: Duration) -> Self {
        Self { phase: Phase::Closed { failures: 0 }, threshold: threshold.max(1), open_for }
    }

    /// The state as seen at `now` (an expired `Open` reads as `HalfOpen`).
    pub(super) fn state(&self, now: Instant) -> BreakerState {
        match self.phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { until } if now < until => BreakerState::Open,
            Phase::Open { .. } | Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Steps 2, 3 and 5: asks to send one call at `now`.
    pub(super) fn admit(&mut self, now: Instant) -> Admission {
        match self.phase {
            Phase::Closed { .. } => Admission::Pass,
            Phase::Open { until } if now < until => Admission::Reject,
            Phase::HalfOpen { trial_since } if now < trial_since + self.open_for => Admission::Reject,
            Phase::Open { .. } | Phase::HalfOpen { .. } => {
                self.phase = Phase::HalfOpen { trial_since: now };
                Admission::Pass
            }
        }
    }

    /// Steps 1, 2 and 4: records how an admitted call ended.
    pub(super) fn record(&mut self, health: Health, now: Instant) {
        self.phase = match (health, self.phase) {
            (Health::Up, _) => Phase::Closed { failures: 0 },
            (Health::Down, Phase::Closed { failures }) if failures + 1 < self.threshold => {
                Phase::Closed { failures: failures + 1 }
            }
            // A straggler admitted before the breaker opened does not extend the cool-down.
            (Health::Down, Phase::Open { until }) => Phase::Open { until },
            (Health::Down, _) => Phase::Open { until: now + self.open_for },
        };
    }

    /// The stored phase, ignoring expiry: what the gauge shows.
    fn stored_state(&self) -> BreakerState {
        match self.phase {
            Phase::Closed { .. } => BreakerState::Closed,
            Phase::Open { .. } => BreakerState::Open,
            Phase::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }
}

/// Which breaker: a tenant's use of one provider endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct BreakerKey {
    pub(super) tenant: String,
    pub(super) provider: &'static str,
    pub(super) base_url: String,
}

/// Every breaker of the process; updates `LLM_BREAKER_STATE` on each transition.
#[derive(Debug)]
pub(super) struct Breakers {
    threshold: u32,
    open_for: Duration,
    // std Mutex: held only for a few instructions, never across an await.
    map: Mutex<HashMap<BreakerKey, Breaker>>,
}

impl Breakers {
    pub(super) fn new(threshold: u32, open_for: Duration) -> Self {
        Self { threshold, open_for, map: Mutex::new(HashMap::new()) }
    }

    pub(super) fn admit(&self, key: &BreakerKey, now: Instant) -> Admission {
        self.with(key, |breaker| breaker.admit(now))
    }

    pub(super) fn record(&self, key: &BreakerKey, health: Health, now: Instant) {
        self.with(key, |breaker| breaker.record(health, now));
    }

    pub(super) fn state(&self, key: &BreakerKey, now: Instant) -> BreakerState {
        let map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        map.get(key).map_or(BreakerState::Closed, |breaker| breaker.state(now))
    }

    fn with<T>(&self, key: &BreakerKey, step: impl FnOnce(&mut Breaker) -> T) -> T {
        let mut map = self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let breaker = map.entry(key.clone()).or_insert_with(|| {
            // Publish the initial state so dashboards see every breaker, not only tripped ones.
            set_gauge(key, BreakerState::Closed);
            Breaker::new(self.threshold, self.open_for)
        });
        let before = breaker.stored_state();
        let result = step(breaker);
        let after = breaker.stored_state();
        if before != after {
            tracing::info!(tenant = %key.tenant, provider = key.provider, state = ?after, "LLM breaker changed");
            set_gauge(key, after);
        }
        result
    }
}

/// Publishes a transition on the `LLM_BREAKER_STATE` gauge.
fn set_gauge(key: &BreakerKey, state: BreakerState) {
    let labels = [("tenant", key.tenant.clone()), ("provider", key.provider.to_owned())];
    ::metrics::gauge!(metrics::LLM_BREAKER_STATE, &labels).set(state.gauge_value());
}

#[cfg(test)]
mod tests {
    use super::*;

    const OPEN_FOR: Duration = Duration::from_secs(30);

    fn opened(now: Instant) -> Breaker {
        let mut breaker = Breaker::new(2, OPEN_FOR);
        breaker.record(Health::Down, now);
        breaker.record(Health::Down, now);
        breaker
    }

    #[test]
    fn breaker_opens_after_threshold_consecutive_failures() {
        let now = Instant::now();
        let mut breaker = Breaker::new(2, OPEN_FOR);
        breaker.record(Health::Down, now);
        assert_eq!(breaker.state(now), BreakerState::Closed);
        breaker.record(Health::Down, now);
        assert_eq!(breaker.state(now), BreakerState::Open);
        assert_eq!(breaker.admit(now + OPEN_FOR / 2), Admission::Reject);
    }

    #[test]
    fn a_healthy_answer_resets_the_failure_count() {
        let now = Instant::now();
        let mut breaker = Breaker::new(2, OPEN_FOR);
        breaker.record(Health::Down, now);
        breaker.record(Health::Up, now);
        breaker.record(Health::Down, now);
        assert_eq!(breaker.state(now), BreakerState::Closed);
    }

    #[test]
    fn after_the_cool_down_exactly_one_trial_passes() {
        let now = Instant::now();
        let mut breaker = opened(now);
        let later = now + OPEN_FOR;
        assert_eq!(breaker.state(later), BreakerState::HalfOpen);
        assert_eq!(breaker.admit(later), Admission::Pass);
        assert_eq!(breaker.admit(later), Admission::Reject);
        assert_eq!(breaker.state(later), BreakerState::HalfOpen);
    }

    #[test]
    fn a_successful_trial_closes_the_breaker() {
        let now = Instant::now();
        let mut breaker = opened(now);
        let later = now + OPEN_FOR;
        breaker.admit(later);
        breaker.record(Health::Up, later);
        assert_eq!(breaker.state(later), BreakerState::Closed);
        assert_eq!(breaker.admit(later), Admission::Pass);
    }

    #[test]
    fn a_failed_trial_opens_the_breaker_for_another_cool_down() {
        let now = Instant::now();
        let mut breaker = opened(now);
        let later = now + OPEN_FOR;
        breaker.admit(later);
        breaker.record(Health::Down, later);
        assert_eq!(breaker.state(later + OPEN_FOR / 2), BreakerState::Open);
        assert_eq!(breaker.state(later + OPEN_FOR), BreakerState::HalfOpen);
    }

    #[test]
    fn a_lost_trial_is_replaced_after_a_cool_down() {
        let now = Instant::now();
        let mut breaker = opened(now);
        breaker.admit(now + OPEN_FOR);
        assert_eq!(breaker.admit(now + OPEN_FOR * 2), Admission::Pass);
    }

    #[test]
    fn breakers_are_kept_apart_by_tenant() {
        let breakers = Breakers::new(1, OPEN_FOR);
        let key = |tenant: &str| BreakerKey { tenant: tenant.into(), provider: "gemini", base_url: "http://h".into() };
        let now = Instant::now();
        breakers.record(&key("a"), Health::Down, now);
        assert_eq!(breakers.state(&key("a"), now), BreakerState::Open);
        assert_eq!(breakers.state(&key("b"), now), BreakerState::Closed);
        assert_eq!(breakers.admit(&key("b"), now), Admission::Pass);
    }
}
