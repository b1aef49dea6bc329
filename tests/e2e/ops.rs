//! `/health`, `/ready`, `/metrics`.

use serde_json::Value;

use crate::helpers::*;

on_each_backend!(health_and_ready_answer_when_the_store_is_up);

async fn health_and_ready_answer_when_the_store_is_up(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let health = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.client.get(app.url("/ready")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(ready.json::<Value>().await.unwrap()["checks"]["store"], "ok");
}

#[tokio::test]
async fn metrics_use_the_prometheus_text_format_and_cover_the_pipeline() {
    let app = spawn_app().await;
    mount_gemini(&app.llm, "Olá!").await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("met-1", "5511999999999", "Oi")).await;
    app.drain().await;

    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.headers()["content-type"], "text/plain; version=0.0.4; charset=utf-8");
    let text = response.text().await.unwrap();
    for needle in [
        "# TYPE atende_webhooks_total counter",
        "atende_webhooks_total{channel=\"generic\",outcome=\"queued\"}",
        "atende_ingress_duration_seconds_bucket",
        "atende_queue_jobs{kind=\"reply\",state=\"queued\"}",
        "atende_queue_oldest_job_age_seconds{kind=\"reply\"} 0",
        "atende_jobs_total{kind=\"deliver\",outcome=\"done\"}",
        "atende_job_duration_seconds_bucket",
        "atende_llm_request_duration_seconds_bucket",
        "atende_llm_requests_total",
        "atende_delivery_duration_seconds_bucket",
        "atende_llm_breaker_state",
        "atende_llm_tokens_total{tenant=\"acme\",provider=\"gemini\",direction=\"output\"}",
    ] {
        assert!(text.contains(needle), "missing {needle} in\n{text}");
    }
    assert!(!text.contains("whaticket-api-token") && !text.contains("s3cr3t"));
}

#[tokio::test]
async fn a_worker_only_process_serves_operations_but_not_webhooks() {
    let db = TestDb::create(&Backend::Sqlite).await;
    let config = test_config(&db.url);
    let (llm, whaticket) = (wiremock::MockServer::start().await, wiremock::MockServer::start().await);
    let mut app = start(config, atende::app::Role::Worker, llm, whaticket, db).await;
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), "")).await;
    assert_eq!(app.client.get(app.url("/health")).send().await.unwrap().status(), 200);
    assert_eq!(app.post_generic(&generic("w1", "5511999999999", "Oi")).await.status(), 404);
    app.stop().await;
}

#[tokio::test]
async fn when_the_database_fails_ingress_answers_503_and_ready_fails_then_both_recover() {
    let Some(backend) = Backend::postgres() else { return };
    let app = spawn_app_on(&backend).await;
    assert_eq!(app.post_generic(&generic("db-1", "5511999999999", "Oi")).await.status(), 202);

    // Take the tables away under the running app, then bring them back.
    app._db.execute("ALTER TABLE messages RENAME TO messages_away".into()).await;
    app._db.execute("ALTER TABLE tenants RENAME TO tenants_away".into()).await;
    let response = app.post_generic(&generic("db-2", "5511999999999", "Oi")).await;
    assert_eq!(response.status(), 503, "the sender must retry");
    assert_eq!(response.json::<Value>().await.unwrap()["error"]["code"], "unavailable");
    assert_eq!(app.client.get(app.url("/ready")).send().await.unwrap().status(), 503);

    app._db.execute("ALTER TABLE messages_away RENAME TO messages".into()).await;
    app._db.execute("ALTER TABLE tenants_away RENAME TO tenants".into()).await;
    assert_eq!(app.client.get(app.url("/ready")).send().await.unwrap().status(), 200);
    assert_eq!(app.post_generic(&generic("db-2", "5511999999999", "Oi")).await.status(), 202, "the retry is stored");
}
