//! Shared rate limits through Redis (when `ATENDE_TEST_REDIS_URL` is set), and the fallback
//! to per-process limits when Redis is down.

use std::net::IpAddr;
use std::time::Duration;

use atende::config::{LimitsConfig, RedisConfig};
use atende::limits::{Limits, RedisStatus};
use serde_json::Value;

use crate::helpers::*;

/// The Redis URL for tests, or `None` (and a note on stderr) to skip.
fn redis_url() -> Option<String> {
    match std::env::var("ATENDE_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!("skipping Redis test: ATENDE_TEST_REDIS_URL is not set");
            None
        }
    }
}

fn redis_config(url: &str) -> RedisConfig {
    RedisConfig {
        url: Some(url.to_string()),
        prefix: format!("atende-test-{}:", uuid::Uuid::now_v7().simple()),
        timeout: Duration::from_millis(500),
    }
}

fn tight() -> LimitsConfig {
    LimitsConfig { per_ip_per_second: 1, per_ip_burst: 3, ..LimitsConfig::default() }
}

fn limits(config: &RedisConfig) -> Limits {
    Limits::new(&tight(), Limits::redis_from(config).unwrap())
}

#[tokio::test]
async fn two_processes_draw_from_one_redis_bucket_and_every_key_expires() {
    let Some(url) = redis_url() else { return };
    let config = redis_config(&url);
    let (a, b) = (limits(&config), limits(&config));
    let ip: IpAddr = "10.1.2.3".parse().unwrap();
    assert!(a.check_ip(ip).await.is_ok());
    assert!(b.check_ip(ip).await.is_ok());
    assert!(a.check_ip(ip).await.is_ok());
    let refused = b.check_ip(ip).await.unwrap_err();
    assert_eq!(refused.scope, "ip");
    assert!(refused.retry_after >= Duration::from_secs(1));

    let client = redis::Client::open(url.as_str()).unwrap();
    let mut conn = client.get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{}*", config.prefix)).query_async(&mut conn).await.unwrap();
    assert_eq!(keys, vec![format!("{}limit:ip:10.1.2.3", config.prefix)], "every key carries the prefix");
    for key in keys {
        let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
        assert!(ttl > 0 && ttl <= 4_000, "{key} has TTL {ttl} ms");
    }
}

#[tokio::test]
async fn with_redis_down_limits_fall_back_to_the_process_and_keep_answering() {
    let config = redis_config("redis://127.0.0.1:1/0");
    let limits = limits(&config);
    let ip: IpAddr = "10.9.9.9".parse().unwrap();
    for _ in 0..3 {
        assert!(limits.check_ip(ip).await.is_ok());
    }
    assert!(limits.check_ip(ip).await.is_err(), "local buckets still limit");
    assert_eq!(limits.redis().unwrap().status().await, RedisStatus::Unavailable);
}

#[tokio::test]
async fn two_api_processes_share_the_rate_limit_and_ready_reports_redis() {
    let Some(url) = redis_url() else { return };
    let redis = redis_config(&url);
    let tweak = |c: &mut atende::config::Config| {
        c.limits = tight();
        c.redis = redis.clone();
    };
    let first = spawn_app_with(tweak).await;
    let second = spawn_app_with(tweak).await;
    let mut statuses = Vec::new();
    for i in 0..4 {
        let app = if i % 2 == 0 { &first } else { &second };
        statuses.push(app.post_generic(&generic(&format!("r{i}"), "5511999999999", "Oi")).await.status().as_u16());
    }
    assert_eq!(statuses[..3], [202, 202, 202], "{statuses:?}");
    assert_eq!(statuses[3], 429, "the fourth request exceeds the shared burst of 3: {statuses:?}");

    let ready: Value = first.client.get(first.url("/ready")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["checks"]["redis"], "ok", "{ready}");
    let metrics = first.client.get(first.url("/metrics")).send().await.unwrap().text().await.unwrap();
    assert!(metrics.contains("atende_redis_memory_bytes"), "{metrics}");
    assert!(metrics.contains("atende_redis_maxmemory_bytes"), "{metrics}");
}

#[tokio::test]
async fn ready_stays_ready_but_reports_a_configured_redis_that_is_down() {
    let app = spawn_app_with(|c| c.redis = redis_config("redis://127.0.0.1:1/0")).await;
    let response = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!((body["checks"]["store"].as_str(), body["checks"]["redis"].as_str()), (Some("ok"), Some("unavailable")));
    // Webhooks are still accepted.
    assert_eq!(app.post_generic(&generic("down-1", "5511999999999", "Oi")).await.status(), 202);
}

#[tokio::test]
async fn a_breaker_opened_by_one_process_makes_the_others_skip_the_provider() {
    let Some(url) = redis_url() else { return };
    let redis = redis_config(&url);
    let tweak = |c: &mut atende::config::Config| {
        c.redis = redis.clone();
        c.llm.breaker_failure_threshold = 1;
        c.llm.max_attempts = 1;
        c.queue.reply_max_attempts = 1;
    };
    let first = spawn_app_with(tweak).await;
    let second = spawn_app_with(tweak).await;
    for app in [&first, &second] {
        wiremock::Mock::given(wiremock::matchers::method("POST"))
            .and(wiremock::matchers::path(GEMINI_PATH))
            .respond_with(gemini_error(503, "UNAVAILABLE"))
            .mount(&app.llm)
            .await;
        mount_whaticket_ok(&app.whaticket).await;
    }
    // Both tenants point at the first app's LLM, so they share one provider (and one breaker key).
    let toml = tenant_toml(&first.llm.uri(), &second.whaticket.uri(), "");
    second.apply_tenant(&toml).await;

    first.post_generic(&generic("b1", "5511999999999", "Oi")).await;
    first.drain().await;
    assert_eq!(first.llm_requests().await.len(), 1, "the first process tried and tripped its breaker");

    second.post_generic(&generic("b2", "5511988888888", "Oi")).await;
    second.drain().await;
    assert_eq!(first.llm_requests().await.len(), 1, "the second process must skip the open provider");
    assert_eq!(second.sent().await[0]["body"], FALLBACK_TEXT);
}
