//! `/health`, `/ready`, `/metrics`.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use super::AppState;
use crate::domain::{JobKind, JobState};
use crate::limits::RedisStatus;
use crate::telemetry::metrics as m;

pub(super) fn router() -> Router<AppState> {
    Router::new().route("/health", get(health)).route("/ready", get(ready)).route("/metrics", get(render_metrics))
}

/// Liveness: the process answers.
async fn health() -> Json<serde_json::Value> {
    Json(json!({ "status": "ok" }))
}

/// Readiness: the store answers (else 503); Redis, when configured, is reported too. A
/// Redis outage does not make the process unready: limits fall back to per-process buckets.
async fn ready(State(state): State<AppState>) -> axum::response::Response {
    let store = match state.store.ping().await {
        Ok(()) => "ok",
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            "unavailable"
        }
    };
    let mut checks = json!({ "store": store });
    if let Some(redis) = state.limits.redis() {
        checks["redis"] = json!(match redis.status().await {
            RedisStatus::Ok => "ok",
            RedisStatus::Unavailable => "unavailable",
        });
    }
    let (status, word) =
        if store == "ok" { (StatusCode::OK, "ready") } else { (StatusCode::SERVICE_UNAVAILABLE, "unavailable") };
    (status, Json(json!({ "status": word, "checks": checks }))).into_response()
}

/// Ratings that count in the CSAT gauges.
const CSAT_WINDOW: time::Duration = time::Duration::days(30);

/// Prometheus text exposition; queue gauges are sampled from the store at scrape time.
async fn render_metrics(State(state): State<AppState>) -> impl IntoResponse {
    if let Ok(counts) = state.store.count_jobs().await {
        let now = time::OffsetDateTime::now_utc();
        for kind in JobKind::ALL {
            for job_state in [JobState::Queued, JobState::Running, JobState::Dead] {
                let n = counts.iter().find(|c| c.kind == kind && c.state == job_state).map_or(0, |c| c.count);
                metrics::gauge!(m::QUEUE_JOBS, "kind" => kind.as_str(), "state" => job_state.as_str()).set(n as f64);
            }
            // The earliest queued job's wait so far; one not yet due (debounce, backoff) waits 0.
            let oldest =
                counts.iter().find(|c| c.kind == kind && c.state == JobState::Queued).and_then(|c| c.oldest_run_at);
            let age = oldest.map_or(0.0, |at| (now - at).as_seconds_f64().max(0.0));
            metrics::gauge!(m::QUEUE_OLDEST_JOB_AGE_SECONDS, "kind" => kind.as_str()).set(age);
        }
    }
    if let Some((used, max)) = match state.limits.redis() {
        Some(redis) => redis.memory().await,
        None => None,
    } {
        metrics::gauge!(m::REDIS_MEMORY_BYTES).set(used as f64);
        metrics::gauge!(m::REDIS_MAXMEMORY_BYTES).set(max as f64);
    }
    if let Ok(moods) = state.store.mean_mood(time::OffsetDateTime::now_utc() - time::Duration::DAY).await {
        for (tenant, mood) in moods {
            metrics::gauge!(m::MOOD_MEAN, "tenant" => tenant).set(mood);
        }
    }
    if let Ok(ratings) = state.store.mean_csat(time::OffsetDateTime::now_utc() - CSAT_WINDOW).await {
        for (tenant, mean, count) in ratings {
            metrics::gauge!(m::CSAT_MEAN, "tenant" => tenant.clone()).set(mean);
            metrics::gauge!(m::CSAT_RATINGS, "tenant" => tenant).set(count as f64);
        }
    }
    state.metrics.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}
