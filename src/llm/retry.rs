//! When to try a provider again: exponential backoff with equal jitter, bounded by what the
//! server asked for (Gemini `RetryInfo.retryDelay`, `Retry-After`; protocols.md §4.1, §4.3).

use std::time::Duration;

use rand::Rng;
use reqwest::header::{HeaderMap, RETRY_AFTER};

use super::LlmSettings;

/// What to do after a retryable failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum RetryDecision {
    /// Sleep this long, then try the same provider again.
    After(Duration),
    /// Stop trying this provider: attempts exhausted or the server asked for too long a pause.
    GiveUp,
}

/// Decides the next step after failed attempt number `attempt` (1-based).
///
/// The wait is the larger of our backoff and the server-asked delay, so a server hint is a floor.
pub(super) fn next_step(
    settings: &LlmSettings,
    attempt: u32,
    server_delay: Option<Duration>,
    rng: &mut impl Rng,
) -> RetryDecision {
    if attempt >= settings.max_attempts.max(1) {
        return RetryDecision::GiveUp;
    }
    if server_delay.is_some_and(|asked| asked > settings.max_retry_delay) {
        return RetryDecision::GiveUp;
    }
    let backoff = backoff(settings.backoff_base, settings.backoff_max, attempt, rng);
    RetryDecision::After(backoff.max(server_delay.unwrap_or_default()))
}

/// Equal jitter: half of `min(max, base·2^(attempt-1))` fixed, the other half random, so a
/// retry never fires at once yet concurrent callers spread out.
pub(super) fn backoff(base: Duration, max: Duration, attempt: u32, rng: &mut impl Rng) -> Duration {
    let factor = 1u32 << attempt.saturating_sub(1).min(20);
    let step = base.saturating_mul(factor).min(max);
    let half = step / 2;
    let jitter_nanos = rng.random_range(0..=u64::try_from(half.as_nanos()).unwrap_or(u64::MAX));
    half + Duration::from_nanos(jitter_nanos)
}

/// Parses a protobuf `Duration` in JSON form (`"22s"`, `"1.5s"`).
pub(super) fn parse_proto_duration(text: &str) -> Option<Duration> {
    parse_seconds(text.trim().strip_suffix('s')?)
}

/// Reads `Retry-After` in its delta-seconds form; the HTTP-date form is ignored
/// (no LLM server we target sends it).
pub(super) fn retry_after_header(headers: &HeaderMap) -> Option<Duration> {
    parse_seconds(headers.get(RETRY_AFTER)?.to_str().ok()?)
}

fn parse_seconds(text: &str) -> Option<Duration> {
    let seconds: f64 = text.trim().parse().ok()?;
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn settings() -> LlmSettings {
        LlmSettings {
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            ..LlmSettings::default()
        }
    }

    #[test]
    fn backoff_doubles_each_attempt_within_equal_jitter_bounds() {
        let mut rng = rand::rng();
        let (base, max) = (Duration::from_millis(100), Duration::from_millis(1000));
        for (attempt, step_ms) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (40, 1000)] {
            for _ in 0..50 {
                let wait = backoff(base, max, attempt, &mut rng);
                let step = Duration::from_millis(step_ms);
                assert!(wait >= step / 2 && wait <= step, "attempt {attempt}: {wait:?}");
            }
        }
    }

    #[test]
    fn last_attempt_gives_up() {
        let mut rng = rand::rng();
        assert_eq!(next_step(&settings(), 3, None, &mut rng), RetryDecision::GiveUp);
        assert!(matches!(next_step(&settings(), 2, None, &mut rng), RetryDecision::After(_)));
    }

    #[test]
    fn server_delay_is_a_floor_for_the_wait() {
        let asked = Duration::from_secs(7);
        let step = next_step(&settings(), 1, Some(asked), &mut rand::rng());
        assert_eq!(step, RetryDecision::After(asked));
    }

    #[test]
    fn server_delay_above_the_limit_gives_up_at_once() {
        let asked = Duration::from_secs(31);
        assert_eq!(next_step(&settings(), 1, Some(asked), &mut rand::rng()), RetryDecision::GiveUp);
    }

    #[test]
    fn proto_durations_parse_whole_and_fractional_seconds() {
        assert_eq!(parse_proto_duration("22s"), Some(Duration::from_secs(22)));
        assert_eq!(parse_proto_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_proto_duration("22"), None);
        assert_eq!(parse_proto_duration("-1s"), None);
    }

    #[test]
    fn retry_after_header_reads_seconds_and_ignores_dates() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, HeaderValue::from_static("3"));
        assert_eq!(retry_after_header(&headers), Some(Duration::from_secs(3)));
        headers.insert(RETRY_AFTER, HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"));
        assert_eq!(retry_after_header(&headers), None);
    }
}
