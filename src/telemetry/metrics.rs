//! Every metric name Atende exports, in one place (Prometheus conventions:
//! `atende_` prefix, counters end in `_total`, durations in `_seconds`).

/// Counter: webhooks received, labels `channel`, `outcome`.
pub const WEBHOOKS_TOTAL: &str = "atende_webhooks_total";
/// Histogram: time to answer a webhook, label `channel`.
pub const INGRESS_DURATION_SECONDS: &str = "atende_ingress_duration_seconds";
/// Gauge: jobs by `kind` and `state` (queued, running, dead), sampled at scrape time.
pub const QUEUE_JOBS: &str = "atende_queue_jobs";
/// Gauge: how long the oldest due job of a `kind` has waited to be claimed, in seconds
/// (0 when none is due): a backlog's age, where `atende_queue_jobs` gives its size.
pub const QUEUE_OLDEST_JOB_AGE_SECONDS: &str = "atende_queue_oldest_job_age_seconds";
/// Counter: jobs finished, labels `kind`, `outcome` (done, retry, dead, lease_lost).
pub const JOBS_TOTAL: &str = "atende_jobs_total";
/// Counter: jobs moved to the dead-letter queue, label `kind`.
pub const DEAD_LETTERS_TOTAL: &str = "atende_dead_letters_total";
/// Histogram: time a job ran, labels `kind`, `outcome`.
pub const JOB_DURATION_SECONDS: &str = "atende_job_duration_seconds";
/// Histogram: time from a job becoming due to a worker claiming it, label `kind`.
pub const QUEUE_WAIT_SECONDS: &str = "atende_queue_wait_seconds";
/// Histogram: attempt number at which a job finished, label `kind`.
pub const JOB_ATTEMPTS: &str = "atende_job_attempts";
/// Counter: LLM requests, labels `provider`, `outcome` (ok, error, blocked).
pub const LLM_REQUESTS_TOTAL: &str = "atende_llm_requests_total";
/// Counter: LLM errors, labels `provider`, `class` (retryable, permanent, no_answer).
pub const LLM_ERRORS_TOTAL: &str = "atende_llm_errors_total";
/// Histogram: LLM request latency, label `provider`.
pub const LLM_REQUEST_DURATION_SECONDS: &str = "atende_llm_request_duration_seconds";
/// Gauge: circuit breaker state per `tenant` and `provider` (0 closed, 1 half-open, 2 open).
pub const LLM_BREAKER_STATE: &str = "atende_llm_breaker_state";
/// Histogram: helpdesk send latency, label `channel`.
pub const DELIVERY_DURATION_SECONDS: &str = "atende_delivery_duration_seconds";
/// Counter: helpdesk send errors, labels `channel`, `class`.
pub const DELIVERY_ERRORS_TOTAL: &str = "atende_delivery_errors_total";
/// Counter: messages delivered, label `channel`.
pub const DELIVERIES_TOTAL: &str = "atende_deliveries_total";
/// Counter: recorded brain decisions, labels `decision` (answer, handoff, silent) and
/// `detail` (answer source: llm, knowledge, fallback, guard; handoff reason; silence reason).
pub const REPLIES_TOTAL: &str = "atende_replies_total";
/// Counter: handoffs decided, label `reason`.
pub const HANDOFFS_TOTAL: &str = "atende_handoffs_total";
/// Histogram: time from a hand-off to a person's first message, label `tenant`.
pub const HANDOFF_SLA_SECONDS: &str = "atende_handoff_sla_seconds";
/// Counter: hand-offs nobody answered within the tenant's `sla_minutes`, label `tenant`.
pub const HANDOFF_SLA_BREACHES_TOTAL: &str = "atende_handoff_sla_breaches_total";
/// Counter: `handoff` jobs finished, label `outcome` (moved, moved_with_note, no_ticket,
/// not_configured, closed).
pub const HANDOFF_TRANSFERS_TOTAL: &str = "atende_handoff_transfers_total";
/// Counter: outbound event deliveries (`notify` job attempts), labels `event` and `outcome`
/// (delivered, failed, dropped: the subscription was removed before it went out).
pub const EVENTS_TOTAL: &str = "atende_events_total";
/// Counter: guard interventions, labels `direction` (input, output) and `reason`.
pub const GUARD_BLOCKS_TOTAL: &str = "atende_guard_blocks_total";
/// Counter: intents detected in customer messages, label `intent` (human, injection, negative).
pub const INTENTS_TOTAL: &str = "atende_intents_total";
/// Gauge: mean polarity in [-1, 1] of a tenant's inbound messages over the last 24 h, label `tenant`.
pub const MOOD_MEAN: &str = "atende_mood_mean";
/// Gauge: mean CSAT rating (1–5) of the last 30 days, by `tenant` (sampled at scrape).
pub const CSAT_MEAN: &str = "atende_csat_mean";
/// Gauge: CSAT ratings of the last 30 days, by `tenant` (sampled at scrape).
pub const CSAT_RATINGS: &str = "atende_csat_ratings";
/// Counter: CSAT questions sent, by `tenant` and `reason` (`closed`, `idle`).
pub const CSAT_SURVEYS_TOTAL: &str = "atende_csat_surveys_total";
/// Counter: CSAT ratings received, by `tenant` and `rating` (1–5).
pub const CSAT_RESPONSES_TOTAL: &str = "atende_csat_responses_total";
/// Counter: LLM tokens the providers reported in their usage fields, by `tenant`,
/// `provider` and `direction` (`input`, `output`; thinking tokens count as output).
pub const LLM_TOKENS_TOTAL: &str = "atende_llm_tokens_total";
/// Counter: replies made without the LLM because the tenant's spend cap was reached, by
/// `tenant` and `period` (`daily`, `monthly`).
pub const LLM_SPEND_CAP_TOTAL: &str = "atende_llm_spend_cap_total";
/// Counter: LLM calls that took a tenant's spend past a share of its cap, by `tenant`,
/// `period` (`daily`, `monthly`) and `percent` (`80`, `100`); once per period and share.
pub const LLM_SPEND_THRESHOLD_TOTAL: &str = "atende_llm_spend_threshold_total";
/// Counter: LLM cost in millionths of the tenant's currency, by `tenant` and `currency`.
pub const LLM_COST_MICROS_TOTAL: &str = "atende_llm_cost_micros_total";
/// Counter: answers the helpdesk would not take, sent through a fallback channel, by
/// `channel` (`email`, `sms`) and `outcome` (`sent`, `failed`, `skipped`).
pub const FALLBACK_DELIVERIES_TOTAL: &str = "atende_fallback_deliveries_total";
/// Counter: Redis operations that failed and fell back to local state, label `op`.
pub const REDIS_ERRORS_TOTAL: &str = "atende_redis_errors_total";
/// Counter: short-term context cache lookups, labels `cache` (redis, memory) and `result`
/// (hit: only newer turns were read; miss: no window; stale: the window's ticket or epoch changed).
pub const CONTEXT_CACHE_LOOKUPS_TOTAL: &str = "atende_context_cache_lookups_total";
/// Gauge: memory Redis reports as used (`INFO memory` `used_memory`), in bytes.
pub const REDIS_MEMORY_BYTES: &str = "atende_redis_memory_bytes";
/// Gauge: Redis' `maxmemory` (`INFO memory`), in bytes; 0 when it has no limit.
pub const REDIS_MAXMEMORY_BYTES: &str = "atende_redis_maxmemory_bytes";

/// Gives every metric its `# HELP` line (Prometheus and `promtool check metrics` want one).
pub fn describe_all() {
    metrics::describe_counter!(WEBHOOKS_TOTAL, "webhooks received, labels channel, outcome.");
    metrics::describe_histogram!(INGRESS_DURATION_SECONDS, "time to answer a webhook, label channel.");
    metrics::describe_gauge!(QUEUE_JOBS, "jobs by kind and state (queued, running, dead), sampled at scrape time.");
    metrics::describe_gauge!(
        QUEUE_OLDEST_JOB_AGE_SECONDS,
        "how long the oldest due job of a kind has waited to be claimed, in seconds (0 when none is due): a backlog's age, where atende_queue_jobs gives its size."
    );
    metrics::describe_counter!(JOBS_TOTAL, "jobs finished, labels kind, outcome (done, retry, dead, lease_lost).");
    metrics::describe_counter!(DEAD_LETTERS_TOTAL, "jobs moved to the dead-letter queue, label kind.");
    metrics::describe_histogram!(JOB_DURATION_SECONDS, "time a job ran, labels kind, outcome.");
    metrics::describe_histogram!(
        QUEUE_WAIT_SECONDS,
        "time from a job becoming due to a worker claiming it, label kind."
    );
    metrics::describe_histogram!(JOB_ATTEMPTS, "attempt number at which a job finished, label kind.");
    metrics::describe_counter!(LLM_REQUESTS_TOTAL, "LLM requests, labels provider, outcome (ok, error, blocked).");
    metrics::describe_counter!(
        LLM_ERRORS_TOTAL,
        "LLM errors, labels provider, class (retryable, permanent, no_answer)."
    );
    metrics::describe_histogram!(LLM_REQUEST_DURATION_SECONDS, "LLM request latency, label provider.");
    metrics::describe_gauge!(
        LLM_BREAKER_STATE,
        "circuit breaker state per tenant and provider (0 closed, 1 half-open, 2 open)."
    );
    metrics::describe_histogram!(DELIVERY_DURATION_SECONDS, "helpdesk send latency, label channel.");
    metrics::describe_counter!(DELIVERY_ERRORS_TOTAL, "helpdesk send errors, labels channel, class.");
    metrics::describe_counter!(DELIVERIES_TOTAL, "messages delivered, label channel.");
    metrics::describe_counter!(
        REPLIES_TOTAL,
        "recorded brain decisions, labels decision (answer, handoff, silent) and detail (answer source: llm, knowledge, fallback, guard; handoff reason; silence reason)."
    );
    metrics::describe_counter!(HANDOFFS_TOTAL, "handoffs decided, label reason.");
    metrics::describe_histogram!(
        HANDOFF_SLA_SECONDS,
        "time from a hand-off to a person's first message, label tenant."
    );
    metrics::describe_counter!(
        HANDOFF_SLA_BREACHES_TOTAL,
        "hand-offs nobody answered within the tenant's sla_minutes, label tenant."
    );
    metrics::describe_counter!(
        HANDOFF_TRANSFERS_TOTAL,
        "handoff jobs finished, label outcome (moved, moved_with_note, no_ticket, not_configured, closed)."
    );
    metrics::describe_counter!(
        EVENTS_TOTAL,
        "outbound event deliveries (notify job attempts), labels event and outcome (delivered, failed, dropped: the subscription was removed before it went out)."
    );
    metrics::describe_counter!(GUARD_BLOCKS_TOTAL, "guard interventions, labels direction (input, output) and reason.");
    metrics::describe_counter!(
        INTENTS_TOTAL,
        "intents detected in customer messages, label intent (human, injection, negative)."
    );
    metrics::describe_gauge!(
        MOOD_MEAN,
        "mean polarity in [-1, 1] of a tenant's inbound messages over the last 24 h, label tenant."
    );
    metrics::describe_gauge!(CSAT_MEAN, "mean CSAT rating (1–5) of the last 30 days, by tenant (sampled at scrape).");
    metrics::describe_gauge!(CSAT_RATINGS, "CSAT ratings of the last 30 days, by tenant (sampled at scrape).");
    metrics::describe_counter!(CSAT_SURVEYS_TOTAL, "CSAT questions sent, by tenant and reason (closed, idle).");
    metrics::describe_counter!(CSAT_RESPONSES_TOTAL, "CSAT ratings received, by tenant and rating (1–5).");
    metrics::describe_counter!(
        LLM_TOKENS_TOTAL,
        "LLM tokens the providers reported in their usage fields, by tenant, provider and direction (input, output; thinking tokens count as output)."
    );
    metrics::describe_counter!(
        LLM_SPEND_CAP_TOTAL,
        "replies made without the LLM because the tenant's spend cap was reached, by tenant and period (daily, monthly)."
    );
    metrics::describe_counter!(
        LLM_SPEND_THRESHOLD_TOTAL,
        "LLM calls that took a tenant's spend past a share of its cap, by tenant, period (daily, monthly) and percent (80, 100); once per period and share."
    );
    metrics::describe_counter!(
        LLM_COST_MICROS_TOTAL,
        "LLM cost in millionths of the tenant's currency, by tenant and currency."
    );
    metrics::describe_counter!(
        FALLBACK_DELIVERIES_TOTAL,
        "answers the helpdesk would not take, sent through a fallback channel, by channel (email, sms) and outcome (sent, failed, skipped)."
    );
    metrics::describe_counter!(
        REDIS_ERRORS_TOTAL,
        "Redis operations that failed and fell back to local state, label op."
    );
    metrics::describe_counter!(
        CONTEXT_CACHE_LOOKUPS_TOTAL,
        "short-term context cache lookups, labels cache (redis, memory) and result (hit: only newer turns were read; miss: no window; stale: the window's ticket or epoch changed)."
    );
    metrics::describe_gauge!(REDIS_MEMORY_BYTES, "memory Redis reports as used (INFO memory used_memory), in bytes.");
    metrics::describe_gauge!(
        REDIS_MAXMEMORY_BYTES,
        "Redis' maxmemory (INFO memory), in bytes; 0 when it has no limit."
    );
}
