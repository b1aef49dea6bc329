//! Retry delays: exponential backoff with jitter.

use std::time::Duration;

use rand::Rng;

/// Delay before attempt `attempt + 1`: `base · 2^(attempt-1)`, capped at `max`, with
/// "equal jitter" (half fixed, half random) so retries of many jobs spread out while
/// each still waits at least half the nominal delay.
pub fn backoff(attempt: u32, base: Duration, max: Duration) -> Duration {
    let exp = attempt.saturating_sub(1).min(30);
    let nominal = base.saturating_mul(1u32 << exp).min(max);
    let half = nominal / 2;
    let jitter = rand::rng().random_range(0..=half.as_millis() as u64);
    half + Duration::from_millis(jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_within_jitter_bounds() {
        let base = Duration::from_secs(2);
        let max = Duration::from_secs(600);
        for (attempt, nominal) in [(1, 2), (2, 4), (3, 8), (6, 64)] {
            let d = backoff(attempt, base, max);
            assert!(d >= Duration::from_secs(nominal) / 2 && d <= Duration::from_secs(nominal), "{attempt}: {d:?}");
        }
    }

    #[test]
    fn backoff_never_exceeds_the_cap() {
        for attempt in 1..100 {
            assert!(backoff(attempt, Duration::from_secs(2), Duration::from_secs(60)) <= Duration::from_secs(60));
        }
    }
}
