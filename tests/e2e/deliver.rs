//! The `deliver` job: retries without repeating the LLM call, dead letters and replay.

use atende::domain::{JobId, JobKind, JobState};
use atende::store::DeadLetterFilter;
use serde_json::json;
use time::OffsetDateTime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

on_each_backend!(
    whaticket_500_until_it_recovers_is_retried_then_delivered_with_one_llm_call,
    whaticket_down_past_the_retry_limit_dead_letters_and_replay_delivers_after_recovery,
    a_permanent_whaticket_error_dead_letters_at_once,
    replay_and_discard_refuse_jobs_that_are_not_dead_letters,
);

async fn whaticket_500_until_it_recovers_is_retried_then_delivered_with_one_llm_call(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    mount_gemini(&app.llm, "Pedido confirmado.").await;
    Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .respond_with(ResponseTemplate::new(500).set_body_json(json!({ "error": "Internal server error" })))
        .up_to_n_times(2)
        .mount(&app.whaticket)
        .await;
    mount_whaticket_ok(&app.whaticket).await;

    app.post_generic(&generic("d1", "5511999999999", "Meu pedido?")).await;
    app.drain().await;
    assert_eq!(app.sent().await.len(), 3, "two failures, then the delivery");
    assert_eq!(app.llm_requests().await.len(), 1, "a delivery retry must not repeat the LLM call");
    assert!(app.store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap().is_empty());
}

async fn whaticket_down_past_the_retry_limit_dead_letters_and_replay_delivers_after_recovery(backend: Backend) {
    let app = spawn_app_on(&backend).await; // deliver_max_attempts = 3
    mount_gemini(&app.llm, "Seu boleto vence dia 10.").await;
    let outage = Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .respond_with(ResponseTemplate::new(503))
        .mount_as_scoped(&app.whaticket)
        .await;
    app.post_generic(&generic("dl1", "5511999999999", "Boleto?")).await;
    app.drain().await;
    assert_eq!(app.sent().await.len(), 3);

    let dead = app.store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap();
    assert_eq!(dead.len(), 1);
    let letter = &dead[0];
    assert_eq!((letter.kind, letter.state, letter.attempts), (JobKind::Deliver, JobState::Dead, 3));
    assert_eq!(letter.history.as_array().unwrap().len(), 3, "every failed attempt is kept");
    assert!(letter.last_error.as_deref().unwrap().contains("503"), "{:?}", letter.last_error);

    drop(outage);
    mount_whaticket_ok(&app.whaticket).await;
    atende::queue::replay(&*app.store, letter.id, OffsetDateTime::now_utc()).await.unwrap();
    app.drain().await;
    let sent = app.sent().await;
    assert_eq!(sent.len(), 4);
    assert_eq!(sent[3], json!({ "number": "5511999999999", "body": "Seu boleto vence dia 10." }));
    assert_eq!(app.llm_requests().await.len(), 1);
    let replayed = app.store.find_job(letter.id).await.unwrap().unwrap();
    assert_eq!(replayed.state, JobState::Done);
    assert!(app.store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap().is_empty());
}

async fn a_permanent_whaticket_error_dead_letters_at_once(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    mount_gemini(&app.llm, "Oi!").await;
    Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .respond_with(ResponseTemplate::new(401).set_body_json(json!({ "error": "Acesso não permitido" })))
        .mount(&app.whaticket)
        .await;
    app.post_generic(&generic("p1", "5511999999999", "Oi")).await;
    app.drain().await;
    assert_eq!(app.sent().await.len(), 1, "a 401 must not be retried");
    let dead = app.store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0].history[0]["class"], "permanent");
    let text = serde_json::to_string(&dead[0]).unwrap();
    assert!(!text.contains(WHATICKET_TOKEN), "the token leaked into the dead letter");
}

async fn replay_and_discard_refuse_jobs_that_are_not_dead_letters(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    let now = OffsetDateTime::now_utc();
    let missing = atende::queue::replay(&*app.store, JobId(999), now).await.unwrap_err();
    assert!(missing.to_string().contains("not found"));
    app.post_generic(&generic("x1", "5511999999999", "Oi")).await;
    let queued = atende::queue::discard(&*app.store, JobId(1), now).await.unwrap_err();
    assert!(queued.to_string().contains("not a dead letter"), "{queued}");
}
