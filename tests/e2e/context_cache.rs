//! The short-term context cache: through a whole conversation (bursts, multi-part answers,
//! a human taking over and cancelling unsent answers, the bot resuming, a ticket closing,
//! turns leaving the TTL and the window) the cached context must equal a full read of the
//! store, on both backends, in memory, through Redis shared by two processes, and with Redis
//! down.

use std::sync::Arc;
use std::time::Duration;

use atende::brain::ContextCache;
use atende::config::RedisConfig;
use atende::domain::{ConversationId, ConversationState, CorrelationId, ErrorClass, JobKind, MessageId};
use atende::limits::{Limits, RedisHandle};
use atende::store::{
    AgentAction, ClaimedJob, ConversationUpdate, Finish, JobFailure, NewInbound, NewReply, RecordOutcome, ReplyContext,
};
use time::OffsetDateTime;

use crate::helpers::Backend;
use crate::store::{Fixture, LEASE, NO_DEBOUNCE, fixture, message};

on_each_backend!(
    the_cached_context_equals_a_full_read_through_a_whole_conversation,
    processes_sharing_redis_share_windows_which_expire_with_the_history_ttl,
    with_redis_down_the_cache_falls_back_to_process_memory,
);

/// Prompt turns in these tests: small, so the window fills and slides.
const TURNS: u32 = 3;
/// History TTL of these tests; one scripted round takes a virtual minute.
const TTL: Duration = Duration::from_secs(6 * 60);
const CONTACT: &str = "5511955550001";

async fn the_cached_context_equals_a_full_read_through_a_whole_conversation(backend: Backend) {
    let f = fixture(backend).await;
    let cache = ContextCache::new(None, TTL);
    script(&f, std::slice::from_ref(&cache)).await;
    let stats = cache.stats();
    assert!(stats.hits >= 25, "most loads reuse the window: {stats:?}");
    assert_eq!(stats.misses, 1, "only the first load reads everything: {stats:?}");
    assert_eq!(stats.stale, 2, "the handoff and the ticket close drop the window: {stats:?}");
}

async fn processes_sharing_redis_share_windows_which_expire_with_the_history_ttl(backend: Backend) {
    let Some(config) = redis_config() else { return };
    let f = fixture(backend).await;
    let process = || ContextCache::new(Some(handle(&config)), TTL);
    let (a, b) = (process(), process());
    let conversation = script(&f, &[a.clone(), b.clone()]).await;
    // Each process used the windows the other one wrote.
    let (sa, sb) = (a.stats(), b.stats());
    assert!(sa.hits >= 12 && sb.hits >= 12, "both processes hit windows: {sa:?} {sb:?}");
    assert_eq!(sa.misses + sb.misses, 1, "one window for both: {sa:?} {sb:?}");

    let mut conn =
        redis::Client::open(config.url.clone().unwrap()).unwrap().get_multiplexed_async_connection().await.unwrap();
    let key = format!("{}ctx:{}", config.prefix, conversation.0);
    let ttl: i64 = redis::cmd("PTTL").arg(&key).query_async(&mut conn).await.unwrap();
    assert!(ttl > 0 && ttl <= TTL.as_millis() as i64, "the window carries the history TTL, got {ttl} ms");
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("{}*", config.prefix)).query_async(&mut conn).await.unwrap();
    assert_eq!(keys, vec![key], "one key per conversation, under the prefix");
}

async fn with_redis_down_the_cache_falls_back_to_process_memory(backend: Backend) {
    let f = fixture(backend).await;
    let down = RedisConfig {
        url: Some("redis://127.0.0.1:1/0".into()),
        prefix: "atende-down:".into(),
        timeout: Duration::from_millis(100),
    };
    let cache = ContextCache::new(Some(handle(&down)), TTL);
    script(&f, std::slice::from_ref(&cache)).await;
    let stats = cache.stats();
    assert!(stats.hits >= 25, "windows kept in memory while Redis is down: {stats:?}");
}

fn redis_config() -> Option<RedisConfig> {
    let Ok(url) = std::env::var("ATENDE_TEST_REDIS_URL") else {
        eprintln!("skipping Redis test: ATENDE_TEST_REDIS_URL is not set");
        return None;
    };
    Some(RedisConfig {
        url: Some(url),
        prefix: format!("atende-test-{}:", uuid::Uuid::now_v7().simple()),
        timeout: Duration::from_millis(500),
    })
}

fn handle(config: &RedisConfig) -> Arc<RedisHandle> {
    Limits::redis_from(config).unwrap().unwrap()
}

/// Plays one conversation through the store, loading each reply's context through the
/// caches in turn and comparing it with a full read. Returns the conversation.
async fn script(f: &Fixture, caches: &[ContextCache]) -> ConversationId {
    let start = OffsetDateTime::now_utc() - time::Duration::hours(2);
    let mut conversation = None;
    for round in 0..36_usize {
        let now = start + time::Duration::minutes(round as i64);
        // Every third round the customer sends a burst of two.
        for part in 0..1 + usize::from(round % 3 == 0) {
            let id = inbound(f, &format!("r{round}p{part}"), now).await;
            conversation.get_or_insert(id);
        }
        let conversation = conversation.unwrap();
        // Round 6's answer cannot be delivered (dead-lettered): it stays pending, below
        // later windows' `upto`, until the handoff of round 10 cancels it.
        let job = claim_reply(f, now, round == 7).await;
        let cache = &caches[round % caches.len()];
        let since = now - time::Duration::try_from(TTL).unwrap();
        let ctx = same_context(f, cache, conversation, since).await;
        let parts = (0..1 + round % 2).map(|p| format!("resposta {round}.{p}")).collect();
        let finish = f
            .store
            .record_reply(NewReply {
                job: &job,
                conversation,
                covered_upto: ctx.pending.last().unwrap().id,
                parts,
                meta: serde_json::json!({}),
                deliver_max_attempts: 3,
                update: ConversationUpdate::default(),
                ticket: ctx.conversation.context_from,
                notify: Vec::new(),
                idle_after: None,
            })
            .await
            .unwrap();
        assert!(matches!(finish, Finish::Recorded { .. }));
        match round {
            // A human agent answers while the bot's answer is still unsent: it is cancelled.
            10 => {
                let mut agent = message(&format!("agent{round}"), CONTACT);
                agent.from_me = true;
                agent.text = "Oi, aqui é a Ana, da equipe.".into();
                f.store
                    .record_agent_message(f.tenant, &agent, &CorrelationId::new(), AgentAction::TakeOver, now)
                    .await
                    .unwrap();
                assert!(f.store.mark_conversation_state(f.tenant, CONTACT, ConversationState::Bot).await.unwrap());
            }
            // The ticket closes; the next message opens a new one with a fresh context.
            22 => {
                assert!(f.store.mark_conversation_state(f.tenant, CONTACT, ConversationState::Closed).await.unwrap());
            }
            _ => {}
        }
    }
    conversation.unwrap()
}

async fn inbound(f: &Fixture, id: &str, now: OffsetDateTime) -> ConversationId {
    let mut m = message(id, CONTACT);
    m.sent_at = now;
    let outcome = f
        .store
        .record_inbound(NewInbound {
            tenant: f.tenant,
            message: &m,
            correlation_id: &CorrelationId::new(),
            now,
            debounce: NO_DEBOUNCE,
            sentiment: None,
            notify: &[],
        })
        .await
        .unwrap();
    match outcome {
        RecordOutcome::Queued { conversation_id, .. } => conversation_id,
        other => panic!("inbound {id} not queued: {other:?}"),
    }
}

/// Runs the conversation's queued `deliver` jobs the way the worker does (or dead-letters
/// them), then leases its `reply` job.
async fn claim_reply(f: &Fixture, now: OffsetDateTime, fail_deliveries: bool) -> ClaimedJob {
    for _ in 0..20 {
        let job = f.store.claim_job("w1", now, LEASE).await.unwrap().expect("a job is due");
        if job.kind == JobKind::Reply {
            return job;
        }
        let message = MessageId(job.payload["message_id"].as_i64().unwrap());
        let delivery = f.store.find_delivery(message).await.unwrap().unwrap();
        if fail_deliveries {
            let failure = JobFailure { class: ErrorClass::Permanent, message: "whaticket: 400".into() };
            assert!(f.store.dead_letter(job.id, &job.owner, &failure, now).await.unwrap());
        } else if delivery.status == "cancelled" {
            assert!(f.store.complete_job(job.id, &job.owner, now).await.unwrap());
        } else {
            f.store.record_delivered(&job, message, &[], now).await.unwrap();
        }
    }
    panic!("no reply job after 20 claims");
}

/// The context through `cache` equals a full read, field by field.
async fn same_context(
    f: &Fixture,
    cache: &ContextCache,
    conversation: ConversationId,
    since: OffsetDateTime,
) -> ReplyContext {
    let cached = cache.load(&*f.store, conversation, TURNS, since).await.unwrap().unwrap();
    let full = f.store.load_reply_context(conversation, TURNS, since, MessageId(0)).await.unwrap().unwrap();
    let bodies = |ms: &[atende::store::StoredMessage]| ms.iter().map(|m| m.body.clone()).collect::<Vec<_>>();
    assert_eq!(bodies(&cached.history), bodies(&full.history), "history");
    assert_eq!(bodies(&cached.older), bodies(&full.older), "older turns");
    assert_eq!(cached.history, full.history);
    assert_eq!(cached.older, full.older);
    assert_eq!(cached.pending, full.pending);
    assert_eq!(cached.conversation, full.conversation);
    assert_eq!((cached.earlier_messages, cached.ai_replies), (full.earlier_messages, full.ai_replies));
    cached
}
