//! Queue semantics: leases that survive a dead worker, per-conversation order, shutdown.

use std::time::Duration;

use atende::app::Role;
use atende::queue::run_one;
use serde_json::json;
use time::OffsetDateTime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

on_each_backend!(
    a_job_held_by_a_dead_worker_is_taken_over_after_its_lease_expires,
    a_message_arriving_while_its_conversation_runs_a_job_waits_for_it,
    a_later_job_never_overtakes_a_delivery_waiting_to_retry_in_the_same_conversation,
    graceful_shutdown_loses_no_accepted_message,
);

async fn a_job_held_by_a_dead_worker_is_taken_over_after_its_lease_expires(backend: Backend) {
    let app = spawn_app_on(&backend).await; // lease 60 s
    mount_gemini(&app.llm, "Resposta").await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("lease-1", "5511999999999", "Oi")).await;

    // A worker claims the reply and dies without finishing.
    let due = app.store.next_due().await.unwrap().unwrap();
    let lost = app.store.claim_job("dead-worker", due, Duration::from_secs(60)).await.unwrap().unwrap();

    // While its lease is live nobody else may take it.
    let during = due + Duration::from_secs(30);
    let taken = run_one(&app.store, &app.handler, "other", during, app.policy, false).await.unwrap();
    assert!(taken.is_none(), "a leased job was taken before its lease expired");

    let drained = app.drain_from(during, Duration::from_secs(3600)).await;
    assert!(drained.jobs >= 2, "reply and deliver ran after the lease expired");
    assert_eq!(app.sent().await.len(), 1);
    let job = app.store.find_job(lost.id).await.unwrap().unwrap();
    assert_eq!(job.attempts, 2, "the takeover counts as a second attempt");
    // The dead worker's late completion is refused: the lease is no longer its own.
    assert!(!app.store.complete_job(lost.id, "dead-worker", OffsetDateTime::now_utc()).await.unwrap());
}

async fn a_message_arriving_while_its_conversation_runs_a_job_waits_for_it(backend: Backend) {
    let app = spawn_app_on_with(&backend, |c| c.queue.debounce = Duration::ZERO).await;
    mount_gemini(&app.llm, "Resposta").await;
    mount_whaticket_ok(&app.whaticket).await;

    app.post_generic(&generic("o1", "5511999999999", "Pergunta 1")).await;
    let now = OffsetDateTime::now_utc() + Duration::from_secs(1);
    let first = app.store.claim_job("w1", now, Duration::from_secs(60)).await.unwrap().unwrap();
    app.post_generic(&generic("o2", "5511999999999", "Pergunta 2")).await;
    let blocked = run_one(&app.store, &app.handler, "w2", now, app.policy, false).await.unwrap();
    assert!(blocked.is_none(), "two jobs of one conversation ran at once");

    // The running reply sees every unanswered message, so the customer gets one answer.
    app.handler.handle(&first).await.unwrap();
    app.drain().await;
    assert_eq!(app.sent().await.len(), 1);
    assert_eq!(last_user_text(&app.llm_requests().await[0]), "Pergunta 1\nPergunta 2");
}

async fn a_later_job_never_overtakes_a_delivery_waiting_to_retry_in_the_same_conversation(backend: Backend) {
    let app = spawn_app_on_with(&backend, |c| c.queue.debounce = Duration::ZERO).await;
    Mock::given(method("POST"))
        .and(path(GEMINI_PATH))
        .respond_with(gemini_text("Resposta 1"))
        .up_to_n_times(1)
        .mount(&app.llm)
        .await;
    mount_gemini(&app.llm, "Resposta 2").await;
    Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .respond_with(ResponseTemplate::new(500))
        .up_to_n_times(1)
        .mount(&app.whaticket)
        .await;
    mount_whaticket_ok(&app.whaticket).await;

    app.post_generic(&generic("o1", "5511999999999", "Pergunta 1")).await;
    // The clock starts once the job is queued (a slow request must not push it past the
    // horizon). Reply 1 runs; its delivery fails once and waits for its backoff (at least 0.5 s).
    let first = app.drain_from(OffsetDateTime::now_utc(), Duration::from_millis(100)).await;
    assert_eq!(first.jobs, 2);
    app.post_generic(&generic("o2", "5511999999999", "Pergunta 2")).await;
    let overtaken = run_one(&app.store, &app.handler, "w2", first.now, app.policy, false).await.unwrap();
    assert!(overtaken.is_none(), "reply 2 ran before delivery 1");
    assert_eq!(app.llm_requests().await.len(), 1);

    app.drain().await;
    let bodies: Vec<String> = app.sent().await.iter().map(|b| b["body"].as_str().unwrap().to_string()).collect();
    assert_eq!(bodies, vec!["Resposta 1", "Resposta 1", "Resposta 2"]);
    assert_eq!(last_user_text(&app.llm_requests().await[1]), "Pergunta 2");
}

async fn graceful_shutdown_loses_no_accepted_message(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let mut config = test_config(&db.url);
    config.queue.debounce = Duration::ZERO;
    config.queue.workers = 2;
    config.queue.shutdown_grace = Duration::from_secs(5);
    let (llm, whaticket) = (wiremock::MockServer::start().await, wiremock::MockServer::start().await);
    mount_gemini(&llm, "Oi!").await;
    Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_millis(200)))
        .mount(&whaticket)
        .await;
    let mut app = start(config.clone(), Role::All, llm, whaticket, db.clone()).await;
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), "")).await;

    let contacts: Vec<String> = (0..6).map(|i| format!("551190000000{i}")).collect();
    for (i, contact) in contacts.iter().enumerate() {
        let response = app.post_generic(&generic(&format!("g{i}"), contact, "Oi")).await;
        assert_eq!(response.status(), 202);
    }
    app.stop().await;
    // After the listener closed, nothing more is accepted.
    assert!(app.client.post(app.url("/health")).send().await.is_err());

    // A new process on the same database finishes whatever was left.
    let (llm, whaticket) = (app.llm, app.whaticket);
    let restarted = start(config, Role::Api, llm, whaticket, db).await;
    restarted.drain_from(OffsetDateTime::now_utc(), Duration::from_secs(3600)).await;
    let mut answered: Vec<String> =
        restarted.sent().await.iter().map(|b| b["number"].as_str().unwrap().to_string()).collect();
    answered.sort();
    answered.dedup();
    assert_eq!(answered, contacts, "every accepted message was answered");
    assert_eq!(restarted.sent().await[0]["body"], json!("Oi!"));
}
