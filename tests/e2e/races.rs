//! What happens when messages, agents and workers interleave with a running reply.

use std::time::Duration;

use atende::domain::MessageId;
use atende::store::{DeadLetterFilter, NewReply};
use serde_json::{Value, json};
use time::OffsetDateTime;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::helpers::*;

on_each_backend!(
    a_message_sent_while_the_bot_thinks_gets_a_prompt_with_the_first_answer_which_is_not_held_back,
    an_agent_who_takes_over_while_the_bot_thinks_is_not_talked_over,
    an_answer_waiting_for_delivery_is_cancelled_when_an_agent_takes_over,
    a_job_whose_workers_keep_dying_is_dead_lettered_without_running_again,
);

/// Claims the pending reply at `now` and loads its context, as `jobs::reply` does before
/// calling the LLM; returns the job and the last message it covers.
async fn start_reply(app: &TestApp, now: OffsetDateTime) -> (atende::store::ClaimedJob, atende::domain::MessageId) {
    let job = app.store.claim_job("w1", now, Duration::from_secs(60)).await.unwrap().unwrap();
    let conversation = atende::domain::ConversationId(job.payload["conversation_id"].as_i64().unwrap());
    let ctx = app
        .store
        .load_reply_context(conversation, 12, now - Duration::from_secs(3600), MessageId(0))
        .await
        .unwrap()
        .unwrap();
    (job, ctx.pending.last().unwrap().id)
}

async fn finish_reply(app: &TestApp, job: &atende::store::ClaimedJob, covered: atende::domain::MessageId, text: &str) {
    let conversation = atende::domain::ConversationId(job.payload["conversation_id"].as_i64().unwrap());
    app.store
        .record_reply(NewReply {
            job,
            conversation,
            covered_upto: covered,
            parts: vec![text.into()],
            meta: json!({}),
            deliver_max_attempts: 3,
            update: Default::default(),
            ticket: atende::domain::MessageId(0),
            notify: Vec::new(),
            idle_after: None,
        })
        .await
        .unwrap();
}

async fn a_message_sent_while_the_bot_thinks_gets_a_prompt_with_the_first_answer_which_is_not_held_back(
    backend: Backend,
) {
    let app = spawn_app_on(&backend).await; // debounce 3 s
    mount_gemini(&app.llm, "Resposta 2").await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("t1", "5511999999999", "Pergunta 1")).await;
    let (reply1, covered) = start_reply(&app, OffsetDateTime::now_utc() + Duration::from_secs(4)).await;

    // The customer writes again while reply 1 waits for the LLM.
    app.post_generic(&generic("t2", "5511999999999", "Pergunta 2")).await;
    finish_reply(&app, &reply1, covered, "Resposta 1").await;

    // Answer 1 goes out before reply 2 runs, although reply 2 is the older job.
    let ran = atende::queue::run_one(&app.store, &app.handler, "w2", reply1.claimed_at, app.policy, false).await;
    assert_eq!(ran.unwrap().unwrap().0, atende::domain::JobKind::Deliver);
    assert_eq!(app.sent().await[0]["body"], "Resposta 1");
    assert!(app.llm_requests().await.is_empty());

    app.drain().await;
    let prompt = &app.llm_requests().await[0];
    let turns: Vec<(&str, String)> = prompt["contents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["role"].as_str().unwrap(), unfence(c["parts"][0]["text"].as_str().unwrap())))
        .collect();
    assert_eq!(
        turns,
        vec![("user", "Pergunta 1".into()), ("model", "Resposta 1".into()), ("user", "Pergunta 2".into())]
    );
    let bodies: Vec<Value> = app.sent().await.iter().map(|b| b["body"].clone()).collect();
    assert_eq!(bodies, vec![json!("Resposta 1"), json!("Resposta 2")]);
}

async fn an_agent_who_takes_over_while_the_bot_thinks_is_not_talked_over(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("h1", "5511999999999", "Quero falar com alguém")).await;
    let (reply, covered) = start_reply(&app, OffsetDateTime::now_utc() + Duration::from_secs(4)).await;
    let mut agent = generic("h2", "5511999999999", "Oi, sou a Ana. Como posso ajudar?");
    agent["from_me"] = json!(true);
    app.post_generic(&agent).await;

    finish_reply(&app, &reply, covered, "Resposta do bot").await;
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    let conversation = app.store.find_conversation(tenant.id, "5511999999999").await.unwrap().unwrap();
    let messages = app.store.list_messages(conversation.id).await.unwrap();
    assert!(messages.iter().all(|m| m.body != "Resposta do bot"), "an answer was stored after the takeover");
    app.drain().await;
    assert!(app.sent().await.is_empty(), "the bot spoke after the agent took over");
}

async fn an_answer_waiting_for_delivery_is_cancelled_when_an_agent_takes_over(backend: Backend) {
    let app = spawn_app_on(&backend).await;
    mount_gemini(&app.llm, "Resposta do bot").await;
    Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .mount(&app.whaticket)
        .await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("c1", "5511999999999", "Oi")).await;
    let start = OffsetDateTime::now_utc();
    // Reply runs; the first delivery attempt fails and waits for its retry.
    app.drain_from(start + Duration::from_secs(3), Duration::from_millis(100)).await;
    assert_eq!(app.sent().await.len(), 1);

    let mut agent = generic("c2", "5511999999999", "Deixa comigo, sou o Paulo.");
    agent["from_me"] = json!(true);
    app.post_generic(&agent).await;
    app.drain().await;
    assert_eq!(app.sent().await.len(), 1, "the retry must not send after the agent took over");
    let tenant = app.store.find_tenant("acme").await.unwrap().unwrap();
    let conversation = app.store.find_conversation(tenant.id, "5511999999999").await.unwrap().unwrap();
    let messages = app.store.list_messages(conversation.id).await.unwrap();
    assert!(messages.iter().any(|m| m.body == "Resposta do bot" && m.status == "cancelled"), "{messages:?}");
    assert!(app.store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap().is_empty());
}

#[tokio::test]
async fn an_llm_that_stays_down_is_retried_by_the_queue_then_answered_with_the_fallback_text() {
    let app = spawn_app_with(|c| {
        c.queue.reply_max_attempts = 2;
        c.llm.breaker_failure_threshold = 100; // keep the breaker out of this count
    })
    .await;
    Mock::given(method("POST"))
        .and(path(GEMINI_PATH))
        .respond_with(gemini_error(503, "UNAVAILABLE"))
        .mount(&app.llm)
        .await;
    mount_whaticket_ok(&app.whaticket).await;
    app.post_generic(&generic("down-1", "5511999999999", "Oi")).await;
    let start = OffsetDateTime::now_utc();

    // First attempt: three LLM calls, then the job waits for its retry; nothing is sent yet.
    app.drain_from(start + Duration::from_secs(3), Duration::from_millis(100)).await;
    assert_eq!(app.llm_requests().await.len(), 3);
    assert!(app.sent().await.is_empty(), "a retryable outage must not send the fallback at once");
    assert!(app.store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap().is_empty());

    app.drain().await;
    assert_eq!(app.llm_requests().await.len(), 6, "the last attempt tries the LLM again");
    assert_eq!(app.sent().await, vec![json!({ "number": "5511999999999", "body": FALLBACK_TEXT })]);
}

async fn a_job_whose_workers_keep_dying_is_dead_lettered_without_running_again(backend: Backend) {
    let app = spawn_app_on(&backend).await; // reply_max_attempts = 5, lease 60 s
    mount_gemini(&app.llm, "Resposta").await;
    app.post_generic(&generic("poison-1", "5511999999999", "Oi")).await;
    let mut now = OffsetDateTime::now_utc() + Duration::from_secs(4);
    for i in 0..5 {
        let job = app.store.claim_job(&format!("dies-{i}"), now, Duration::from_secs(60)).await.unwrap();
        assert_eq!(job.unwrap().attempts, i + 1);
        now += Duration::from_secs(61);
    }
    app.drain_from(now, Duration::from_secs(60)).await;
    assert!(app.llm_requests().await.is_empty(), "a poison job must not run a sixth time");
    let dead = app.store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert!(dead[0].last_error.as_deref().unwrap().contains("stopped mid-job"), "{:?}", dead[0].last_error);
}

#[tokio::test]
async fn rejected_webhooks_do_not_use_up_the_tenant_rate_limit() {
    let app = spawn_app_with(|c| {
        c.limits.per_tenant_per_second = 1;
        c.limits.per_tenant_burst = 2;
    })
    .await;
    let now = OffsetDateTime::now_utc().unix_timestamp();
    for i in 0..5 {
        let forged = generic(&format!("f{i}"), "5511999999999", "x").to_string();
        assert_eq!(app.post_signed("/webhook/acme/generic", "wrong", now, forged).await.status(), 401);
    }
    assert_eq!(app.post_generic(&generic("ok-1", "5511999999999", "Oi")).await.status(), 202);
}

#[tokio::test]
async fn when_every_breaker_is_open_the_reply_waits_for_the_cooldown_instead_of_burning_attempts() {
    let app = spawn_app_with(|c| {
        c.llm.breaker_failure_threshold = 1;
        c.llm.breaker_open_for = Duration::from_secs(120);
        c.llm.max_attempts = 1;
    })
    .await;
    Mock::given(method("POST"))
        .and(path(GEMINI_PATH))
        .respond_with(gemini_error(503, "UNAVAILABLE"))
        .mount(&app.llm)
        .await;
    app.post_generic(&generic("br-1", "5511999999999", "Oi")).await;
    let start = OffsetDateTime::now_utc();
    app.drain_from(start + Duration::from_secs(3), Duration::from_millis(500)).await;
    let due = app.store.next_due().await.unwrap().unwrap();
    assert!(due >= start + Duration::from_secs(120), "retry at {due} comes before the breaker cools down");
}
