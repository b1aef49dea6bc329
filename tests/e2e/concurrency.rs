//! Several processes on one database: what concurrent writers and claimers must never do.
//! Runs on both backends; on PostgreSQL the calls really overlap across connections.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use atende::domain::{ConversationId, CorrelationId, JobKind, MessageId, TenantId};
use atende::store::{ClaimedJob, NewInbound, NewReply, RecordOutcome, Store};
use sqlx::{Connection, PgConnection};
use time::OffsetDateTime;

use crate::helpers::Backend;
use crate::store::{Fixture, LEASE, NO_DEBOUNCE, fixture, message};

on_each_backend!(
    the_same_message_recorded_concurrently_is_stored_once_with_one_job,
    concurrent_claimers_never_run_two_jobs_of_one_key_and_keep_its_order,
    concurrent_batch_claimers_never_run_two_jobs_of_one_key_and_keep_its_order,
);

async fn record(store: Arc<dyn Store>, tenant: TenantId, id: String, contact: String) -> RecordOutcome {
    let message = message(&id, &contact);
    let correlation_id = CorrelationId::new();
    let now = OffsetDateTime::now_utc();
    let inbound = NewInbound {
        tenant,
        message: &message,
        correlation_id: &correlation_id,
        now,
        debounce: NO_DEBOUNCE,
        sentiment: None,
        notify: &[],
    };
    store.record_inbound(inbound).await.unwrap()
}

async fn the_same_message_recorded_concurrently_is_stored_once_with_one_job(backend: Backend) {
    let f = fixture(backend).await;
    let contacts: Vec<String> = (0..20).map(|i| format!("55119100{i:05}")).collect();
    let mut tasks = tokio::task::JoinSet::new();
    for contact in &contacts {
        // Four deliveries of one webhook, plus a second message of the same burst: all race
        // to create the conversation and its reply job.
        for _ in 0..4 {
            tasks.spawn(record(f.store.clone(), f.tenant, format!("dup-{contact}"), contact.clone()));
        }
        tasks.spawn(record(f.store.clone(), f.tenant, format!("other-{contact}"), contact.clone()));
    }
    let outcomes = tasks.join_all().await;
    let queued = outcomes.iter().filter(|o| matches!(o, RecordOutcome::Queued { .. })).count();
    let duplicates = outcomes.iter().filter(|o| **o == RecordOutcome::Duplicate).count();
    assert_eq!((queued, duplicates), (40, 60), "each provider id is stored once");
    for contact in &contacts {
        let conversation = f.store.find_conversation(f.tenant, contact).await.unwrap().unwrap();
        assert_eq!(f.store.list_messages(conversation.id).await.unwrap().len(), 2, "{contact}");
    }
    let jobs: i64 = f.store.count_jobs().await.unwrap().iter().map(|c| c.count).sum();
    assert_eq!(jobs, 20, "one reply job per conversation: the burst merged");
}

/// Builds, for each contact, a queued `reply` followed by three `deliver`s that may pass it.
async fn queue_replies_and_deliveries(f: &Fixture, contacts: &[String], now: OffsetDateTime) {
    let mut covered = BTreeMap::new();
    for contact in contacts {
        let first = record(f.store.clone(), f.tenant, format!("q1-{contact}"), contact.clone()).await;
        let RecordOutcome::Queued { message_id, conversation_id } = first else { panic!("{first:?}") };
        covered.insert(conversation_id.0, message_id);
    }
    let mut replies = Vec::new();
    while let Some(job) = f.store.claim_job("setup", now, LEASE).await.unwrap() {
        replies.push(job);
    }
    assert_eq!(replies.len(), contacts.len());
    // A second message while the first reply runs gets its own reply job, older than the
    // deliveries the first reply then enqueues.
    for contact in contacts {
        record(f.store.clone(), f.tenant, format!("q2-{contact}"), contact.clone()).await;
    }
    for job in &replies {
        let conversation = job.payload["conversation_id"].as_i64().unwrap();
        finish_with_parts(f, job, ConversationId(conversation), covered[&conversation]).await;
    }
}

async fn finish_with_parts(f: &Fixture, job: &ClaimedJob, conversation: ConversationId, covered: MessageId) {
    let parts = vec!["um".to_string(), "dois".to_string(), "três".to_string()];
    let update = Default::default();
    let reply = NewReply {
        job,
        conversation,
        covered_upto: covered,
        parts,
        meta: serde_json::json!({}),
        deliver_max_attempts: 3,
        update,
        ticket: MessageId(0),
        notify: Vec::new(),
        idle_after: None,
    };
    f.store.record_reply(reply).await.unwrap();
}

/// Runs every due job with `workers` concurrent claimers until the queue stays empty, failing
/// if two jobs of one key ever overlap; returns (key, kind, id) in the order jobs started.
/// With `batch` > 1 each claimer leases up to `batch` jobs per call (`claim_jobs`), as the
/// dispatcher does.
async fn run_claimers(
    store: &Arc<dyn Store>,
    now: OffsetDateTime,
    workers: usize,
    batch: usize,
) -> Vec<(String, JobKind, i64)> {
    let running = Arc::new(Mutex::new(HashSet::<String>::new()));
    let ran = Arc::new(Mutex::new(Vec::new()));
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (store, running, ran) = (store.clone(), running.clone(), ran.clone());
        tasks.spawn(async move {
            let owners: Vec<String> = (0..batch).map(|slot| format!("w{w}/{slot}")).collect();
            let mut idle = 0;
            while idle < 20 {
                let jobs = if batch == 1 {
                    store.claim_job(&owners[0], now, LEASE).await.unwrap().into_iter().collect()
                } else {
                    store.claim_jobs(&owners, now, LEASE).await.unwrap()
                };
                if jobs.is_empty() {
                    idle += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                    continue;
                }
                idle = 0;
                for job in &jobs {
                    assert!(running.lock().unwrap().insert(job.key.clone()), "two jobs of {} ran at once", job.key);
                    ran.lock().unwrap().push((job.key.clone(), job.kind, job.id.0));
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
                for (job, owner) in jobs.iter().zip(&owners) {
                    assert_eq!(&job.owner, owner, "job i is leased to owner i");
                    running.lock().unwrap().remove(&job.key);
                    assert!(store.complete_job(job.id, owner, now).await.unwrap());
                }
            }
        });
    }
    tasks.join_all().await;
    Arc::try_unwrap(ran).unwrap().into_inner().unwrap()
}

async fn concurrent_claimers_never_run_two_jobs_of_one_key_and_keep_its_order(backend: Backend) {
    claimers_keep_the_per_key_rules(backend, 16, 1).await;
}

/// The same with claimers leasing three jobs per call: on PostgreSQL one statement picks
/// the best job of each key among the locked candidates, and races with the other claimers.
async fn concurrent_batch_claimers_never_run_two_jobs_of_one_key_and_keep_its_order(backend: Backend) {
    claimers_keep_the_per_key_rules(backend, 8, 3).await;
}

async fn claimers_keep_the_per_key_rules(backend: Backend, workers: usize, batch: usize) {
    let f = fixture(backend).await;
    // Claims happen "later" than the messages, so every job is due.
    let now = OffsetDateTime::now_utc() + Duration::from_secs(3600);
    // Rounds of few keys and many claimers: claimers often pick a queued reply and a delivery
    // passing it in the same key at once, which the store must resolve to one.
    let mut ran = Vec::new();
    for round in 0..8 {
        let contacts: Vec<String> = (0..4).map(|i| format!("55119{round:03}{i:05}")).collect();
        queue_replies_and_deliveries(&f, &contacts, now).await;
        ran.extend(run_claimers(&f.store, now, workers, batch).await);
    }
    let ids: BTreeSet<i64> = ran.iter().map(|(_, _, id)| *id).collect();
    assert_eq!((ran.len(), ids.len()), (128, 128), "every job ran exactly once");
    let mut deliveries: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (key, kind, id) in &ran {
        if *kind == JobKind::Deliver {
            deliveries.entry(key).or_default().push(*id);
        }
    }
    for (key, ids) in deliveries {
        assert!(ids.is_sorted(), "the parts of {key} went out of order: {ids:?}");
    }
}

#[tokio::test]
async fn a_postgres_store_opens_at_most_database_max_connections() {
    let Some(Backend::Postgres(server)) = Backend::postgres() else { return };
    let f = fixture(Backend::Postgres(server.clone())).await;
    // Our own application name, so other tests' connections are not counted.
    let name = format!("atende_pool_{}", uuid::Uuid::new_v4().simple());
    let url = format!("{}&application_name={name}", f.db().url);
    let store = atende::store::connect_with(&url, &atende::store::StoreOptions { max_connections: 2 }).await.unwrap();

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..40 {
        let store = store.clone();
        let tenant = f.tenant;
        tasks.spawn(async move { record(store, tenant, format!("pool-{i}"), format!("55119300{i:05}")).await });
    }
    let mut counter = PgConnection::connect(&server).await.unwrap();
    let mut most = 0_i64;
    while !tasks.is_empty() {
        let open: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
            .bind(&name)
            .fetch_one(&mut counter)
            .await
            .unwrap();
        most = most.max(open);
        if let Ok(Some(done)) = tokio::time::timeout(Duration::from_millis(5), tasks.join_next()).await {
            assert!(matches!(done.unwrap(), RecordOutcome::Queued { .. }));
        }
    }
    assert!((1..=2).contains(&most), "{most} connections open with database.max_connections = 2");
    assert_eq!(store.count_jobs().await.unwrap().iter().map(|c| c.count).sum::<i64>(), 40, "every message was stored");
}
