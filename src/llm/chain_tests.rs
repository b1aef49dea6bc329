//! Behaviour of `LlmChain::complete` against wiremock servers: retries, server-asked delays,
//! fallback, breaker and timeout. Adapter wire formats are tested in `gemini.rs` and `openai.rs`.

use std::time::{Duration, Instant};

use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

use super::testing::{
    chain, gemini, gemini_answer, gemini_at, gemini_error, mount, openai, openai_answer, prompt, settings,
};
use super::{BreakerState, ChainError, LlmChain, LlmError, LlmSettings};
use crate::domain::ErrorClass;

#[tokio::test]
async fn two_503s_then_an_answer_succeed_after_exactly_three_requests() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(gemini_error(503, "UNAVAILABLE", None))
        .up_to_n_times(2)
        .expect(2)
        .mount(&server)
        .await;
    mount(&server, gemini_answer("Olá"), 1).await;

    let completion = chain().complete("t1", &[gemini(&server)], &prompt()).await.unwrap();

    assert_eq!(completion.text, "Olá");
    assert_eq!(server.received_requests().await.unwrap().len(), 3);
}

#[tokio::test]
async fn a_400_is_not_retried_and_fails_as_permanent() {
    let server = MockServer::start().await;
    mount(&server, gemini_error(400, "INVALID_ARGUMENT", None), 1).await;

    let error = chain().complete("t1", &[gemini(&server)], &prompt()).await.unwrap_err();

    assert!(matches!(&error, ChainError::Failed { last: LlmError::Http { status: 400, .. } }), "{error:?}");
    assert_eq!(error.class(), ErrorClass::Permanent);
}

#[tokio::test]
async fn a_429_retry_delay_is_waited_before_the_next_attempt() {
    let server = MockServer::start().await;
    let throttled = gemini_error(429, "RESOURCE_EXHAUSTED", Some("0.05s"));
    Mock::given(method("POST")).respond_with(throttled).up_to_n_times(1).mount(&server).await;
    mount(&server, gemini_answer("Pronto"), 1).await;

    let started = Instant::now();
    let completion = chain().complete("t1", &[gemini(&server)], &prompt()).await.unwrap();

    assert_eq!(completion.text, "Pronto");
    assert!(started.elapsed() >= Duration::from_millis(50), "waited only {:?}", started.elapsed());
}

#[tokio::test]
async fn a_retry_delay_above_the_limit_gives_up_on_the_provider_at_once() {
    let server = MockServer::start().await;
    mount(&server, gemini_error(429, "RESOURCE_EXHAUSTED", Some("3600s")), 1).await;

    let error = chain().complete("t1", &[gemini(&server)], &prompt()).await.unwrap_err();

    let ChainError::Failed { last } = &error else { panic!("{error:?}") };
    assert_eq!(last.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(error.class(), ErrorClass::Retryable);
}

#[tokio::test]
async fn a_primary_that_keeps_failing_hands_over_to_the_fallback() {
    let (primary, fallback) = (MockServer::start().await, MockServer::start().await);
    mount(&primary, gemini_error(503, "UNAVAILABLE", None), 3).await;
    mount(&fallback, openai_answer("Resposta reserva"), 1).await;

    let providers = [gemini(&primary), openai(&fallback)];
    let completion = chain().complete("t1", &providers, &prompt()).await.unwrap();

    assert_eq!((completion.provider, completion.text.as_str()), ("openai", "Resposta reserva"));
}

#[tokio::test]
async fn a_permanent_primary_error_moves_on_to_the_fallback_without_retry() {
    let (primary, fallback) = (MockServer::start().await, MockServer::start().await);
    mount(&primary, gemini_error(403, "PERMISSION_DENIED", None), 1).await;
    mount(&fallback, openai_answer("ok"), 1).await;

    let completion = chain().complete("t1", &[gemini(&primary), openai(&fallback)], &prompt()).await;

    assert_eq!(completion.unwrap().provider, "openai");
}

#[tokio::test]
async fn a_no_answer_never_goes_to_the_fallback() {
    let (primary, fallback) = (MockServer::start().await, MockServer::start().await);
    mount(&primary, ResponseTemplate::new(200).set_body_json(serde_json::json!({})), 1).await;
    mount(&fallback, openai_answer("ok"), 0).await;

    let error = chain().complete("t1", &[gemini(&primary), openai(&fallback)], &prompt()).await;

    assert_eq!(error.unwrap_err(), ChainError::NoAnswer { provider: "gemini", reason: "empty".into() });
}

#[tokio::test]
async fn an_open_breaker_skips_the_primary_without_any_request() {
    let (primary, fallback) = (MockServer::start().await, MockServer::start().await);
    mount(&primary, gemini_error(503, "UNAVAILABLE", None), 3).await;
    mount(&fallback, openai_answer("reserva"), 2).await;
    let chain = LlmChain::new(LlmSettings { breaker_failure_threshold: 3, ..settings() });
    let providers = [gemini(&primary), openai(&fallback)];

    chain.complete("t1", &providers, &prompt()).await.unwrap();
    assert_eq!(chain.breaker_state("t1", &providers[0]), BreakerState::Open);
    chain.complete("t1", &providers, &prompt()).await.unwrap();

    assert_eq!(chain.breaker_state("t2", &providers[0]), BreakerState::Closed);
    primary.verify().await;
}

#[tokio::test]
async fn only_open_breakers_fail_retryably_without_requests() {
    let server = MockServer::start().await;
    mount(&server, gemini_error(500, "INTERNAL", None), 1).await;
    let chain = LlmChain::new(LlmSettings { breaker_failure_threshold: 1, ..settings() });

    let first = chain.complete("t1", &[gemini(&server)], &prompt()).await.unwrap_err();
    let second = chain.complete("t1", &[gemini(&server)], &prompt()).await.unwrap_err();

    assert!(matches!(first, ChainError::Failed { .. }), "{first:?}");
    assert_eq!(second, ChainError::AllBreakersOpen);
    assert_eq!(second.class(), ErrorClass::Retryable);
}

#[tokio::test]
async fn a_slow_provider_times_out_as_retryable() {
    let server = MockServer::start().await;
    mount(&server, gemini_answer("tarde demais").set_delay(Duration::from_millis(500)), 2).await;
    let settings = LlmSettings { timeout: Duration::from_millis(50), max_attempts: 2, ..settings() };

    let error = LlmChain::new(settings).complete("t1", &[gemini(&server)], &prompt()).await.unwrap_err();

    assert_eq!(error, ChainError::Failed { last: LlmError::Timeout });
    assert_eq!(error.class(), ErrorClass::Retryable);
}

#[tokio::test]
async fn an_empty_provider_list_is_no_provider() {
    let error = chain().complete("t1", &[], &prompt()).await.unwrap_err();
    assert_eq!(error, ChainError::NoProvider);
}

#[tokio::test]
async fn a_refused_connection_is_retryable() {
    // A port that was free a moment ago: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let provider = gemini_at(&format!("http://{}", listener.local_addr().unwrap()));
    drop(listener);

    let error = chain().complete("t1", &[provider], &prompt()).await.unwrap_err();

    let ChainError::Failed { last } = &error else { panic!("{error:?}") };
    assert!(matches!(last, LlmError::Connect(_)), "{last:?}");
    assert_eq!(error.class(), ErrorClass::Retryable);
}

#[tokio::test]
async fn a_retry_after_header_above_the_limit_gives_up_on_an_openai_provider() {
    let server = MockServer::start().await;
    let busy = ResponseTemplate::new(503).insert_header("retry-after", "3600");
    mount(&server, busy.set_body_string("slots busy"), 1).await;

    let error = chain().complete("t1", &[openai(&server)], &prompt()).await.unwrap_err();

    let ChainError::Failed { last } = &error else { panic!("{error:?}") };
    assert_eq!(last.retry_after(), Some(Duration::from_secs(3600)));
    assert_eq!(last.to_string(), "LLM answered HTTP 503: slots busy");
}

#[tokio::test]
async fn a_retryable_primary_error_decides_the_class_over_a_permanent_fallback_error() {
    let (primary, fallback) = (MockServer::start().await, MockServer::start().await);
    mount(&primary, gemini_error(503, "UNAVAILABLE", None), 3).await;
    mount(&fallback, ResponseTemplate::new(401).set_body_string("bad key"), 1).await;

    let error = chain().complete("t1", &[gemini(&primary), openai(&fallback)], &prompt()).await;

    let error = error.unwrap_err();
    assert_eq!(error.class(), ErrorClass::Retryable);
    assert!(matches!(error, ChainError::Failed { last: LlmError::Http { status: 503, .. } }));
}
