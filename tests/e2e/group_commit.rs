//! Many writers at once: on SQLite they share transactions (the writer thread's group
//! commit), which must never let one request's outcome leak into another's. Run on every
//! backend, since the guarantees are the `Store`'s.

use std::collections::BTreeMap;
use std::sync::Arc;

use atende::domain::{CorrelationId, JobKind, JobState, TenantId};
use atende::store::{NewInbound, RecordOutcome};
use sqlx::{Connection, PgConnection};
use time::OffsetDateTime;

use crate::helpers::Backend;
use crate::store::{Fixture, NO_DEBOUNCE, fixture, message};

on_each_backend!(
    concurrent_inbound_messages_land_exactly_once,
    a_duplicate_among_concurrent_writes_is_reported_and_rolls_back_only_itself,
    a_failing_write_among_concurrent_writes_does_not_affect_the_others,
);

#[tokio::test]
async fn a_batched_ingress_call_stores_each_message_as_a_call_of_its_own_would_postgres() {
    if let Some(backend) = Backend::postgres() {
        a_batched_ingress_call_stores_each_message_as_a_call_of_its_own_would(backend).await;
    }
}

const TASKS: usize = 50;
const PER_TASK: usize = 10;
const CONTACTS: usize = 20;

fn contact(n: usize) -> String {
    format!("55119{n:08}")
}

async fn record(f: &Fixture, tenant: TenantId, id: &str, contact: &str, name: Option<&str>) -> Option<RecordOutcome> {
    let mut m = message(id, contact);
    m.contact_name = name.map(str::to_string);
    let correlation_id = CorrelationId::new();
    let inbound = NewInbound {
        tenant,
        message: &m,
        correlation_id: &correlation_id,
        now: OffsetDateTime::now_utc(),
        debounce: NO_DEBOUNCE,
        sentiment: Some(0.5),
        notify: &[],
    };
    f.store.record_inbound(inbound).await.ok()
}

/// Sends `TASKS × PER_TASK` distinct messages from `TASKS` tasks at once, spread over
/// `CONTACTS` contacts; `extra` runs in each task too, between the messages.
async fn burst<F, Fut>(f: &Arc<Fixture>, extra: F) -> Vec<(usize, Option<RecordOutcome>)>
where
    F: Fn(Arc<Fixture>, usize) -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Option<RecordOutcome>> + Send,
{
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..TASKS {
        let (f, extra) = (Arc::clone(f), extra.clone());
        tasks.spawn(async move {
            let mut extras = Vec::new();
            for i in 0..PER_TASK {
                let n = t * PER_TASK + i;
                let outcome = record(&f, f.tenant, &format!("gc-{n}"), &contact(n % CONTACTS), None).await;
                assert!(matches!(outcome, Some(RecordOutcome::Queued { .. })), "message {n}: {outcome:?}");
                if i == PER_TASK / 2 {
                    extras.push((t, extra(Arc::clone(&f), t).await));
                }
            }
            extras
        });
    }
    let mut extras = Vec::new();
    while let Some(done) = tasks.join_next().await {
        extras.extend(done.unwrap());
    }
    extras
}

/// Every message of the burst is stored once, in its conversation, and each conversation
/// has one queued reply job (as do `others` conversations outside the burst).
async fn assert_burst_stored(f: &Fixture, others: usize) {
    let mut per_contact: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for c in 0..CONTACTS {
        let conversation = f.store.find_conversation(f.tenant, &contact(c)).await.unwrap().unwrap();
        let bodies = f.store.list_messages(conversation.id).await.unwrap().into_iter().map(|m| m.body);
        per_contact.insert(contact(c), bodies.filter(|b| b.starts_with("texto gc-")).collect());
    }
    let mut total = 0;
    for (c, bodies) in &per_contact {
        let unique: std::collections::BTreeSet<_> = bodies.iter().collect();
        assert_eq!(unique.len(), bodies.len(), "a message stored twice for {c}");
        total += bodies.len();
    }
    assert_eq!(total, TASKS * PER_TASK);
    let counts = f.store.count_jobs().await.unwrap();
    let queued = counts.iter().find(|c| c.kind == JobKind::Reply && c.state == JobState::Queued).map_or(0, |c| c.count);
    assert_eq!(queued as usize, CONTACTS + others, "{counts:?}");
}

async fn concurrent_inbound_messages_land_exactly_once(backend: Backend) {
    let f = Arc::new(fixture(backend).await);
    burst(&f, |_, _| async { None }).await;
    assert_burst_stored(&f, 0).await;
}

async fn a_duplicate_among_concurrent_writes_is_reported_and_rolls_back_only_itself(backend: Backend) {
    let f = Arc::new(fixture(backend).await);
    let dup = contact(CONTACTS + 1);
    // Every task sends the same provider id, each with another contact name: one is stored,
    // the others are duplicates whose conversation upsert (the name) is undone.
    let extras = burst(&f, move |f, t| {
        let dup = dup.clone();
        async move { record(&f, f.tenant, "gc-dup", &dup, Some(&format!("name {t}"))).await }
    })
    .await;
    let winners: Vec<usize> =
        extras.iter().filter(|(_, o)| matches!(o, Some(RecordOutcome::Queued { .. }))).map(|(t, _)| *t).collect();
    let duplicates = extras.iter().filter(|(_, o)| *o == Some(RecordOutcome::Duplicate)).count();
    assert_eq!((winners.len(), duplicates), (1, TASKS - 1), "{extras:?}");
    assert_burst_stored(&f, 1).await;

    let conversation = f.store.find_conversation(f.tenant, &contact(CONTACTS + 1)).await.unwrap().unwrap();
    assert_eq!(f.store.list_messages(conversation.id).await.unwrap().len(), 1);
    // The name is the stored message's sender's: no duplicate's upsert survived.
    assert_eq!(conversation.contact_name, Some(format!("name {}", winners[0])));
}

async fn a_failing_write_among_concurrent_writes_does_not_affect_the_others(backend: Backend) {
    let f = Arc::new(fixture(backend).await);
    // Each task also writes for a tenant that does not exist: a foreign key violation.
    let extras =
        burst(&f, |f, t| async move { record(&f, TenantId(987_654), &format!("gc-bad-{t}"), &contact(0), None).await })
            .await;
    assert!(extras.iter().all(|(_, o)| o.is_none()), "writes for a missing tenant must fail: {extras:?}");
    assert_burst_stored(&f, 0).await;
}

/// PostgreSQL stores the webhooks that arrive together with one `atende_record_inbound_many`
/// call; called directly here, since through the store which messages share a call is timing.
async fn a_batched_ingress_call_stores_each_message_as_a_call_of_its_own_would(backend: Backend) {
    let f = fixture(backend).await;
    let tenant = f.tenant;
    let (a, b, c) = (contact(1), contact(2), contact(3));
    let Some(RecordOutcome::Queued { conversation_id: conversation_a, .. }) =
        record(&f, tenant, "old-1", &a, None).await
    else {
        panic!("the first message is stored");
    };

    // (contact, provider id, name); slots are 1-based. B comes first: the call must not
    // depend on the batch being sorted.
    let batch = [
        (&b, "m1", Some("Bia")),
        (&a, "old-1", Some("Ana")), // stored before the call: a duplicate
        (&a, "m2", None),
        (&b, "m1", Some("Outra")), // a twin of slot 1 in the same call: a duplicate
        (&c, "m3", None),
    ];
    let n = batch.len();
    let mut conn = PgConnection::connect(&f.db().url).await.unwrap();
    let call = |tenants: Vec<i64>| {
        sqlx::query_as::<_, (i32, i64, i64)>(
            "SELECT slot, message_id, conversation_id FROM atende_record_inbound_many(
                $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        )
        .bind(tenants)
        .bind(batch.iter().map(|(c, _, _)| c.to_string()).collect::<Vec<_>>())
        .bind(batch.iter().map(|(_, _, name)| name.map(str::to_string)).collect::<Vec<_>>())
        .bind(vec![None::<String>; n])
        .bind(batch.iter().map(|(_, id, _)| id.to_string()).collect::<Vec<_>>())
        .bind(batch.iter().map(|(_, id, _)| format!("texto {id}")).collect::<Vec<_>>())
        .bind(vec!["corr".to_string(); n])
        .bind(vec![1_i64; n])
        .bind(vec![1_i64; n])
        .bind(vec![Some(0.5_f64); n])
        .bind(vec![1_i64; n])
        .bind(vec![1_i64; n])
        .bind(vec![3_i64; n])
    };

    // One element for a tenant that does not exist fails the whole call: nothing is stored.
    let mut tenants = vec![tenant.0; n];
    tenants[4] = 987_654;
    assert!(call(tenants).fetch_all(&mut conn).await.is_err(), "a foreign key violation fails the call");
    assert!(f.store.find_conversation(tenant, &b).await.unwrap().is_none(), "nothing of a failed call is stored");

    let rows = call(vec![tenant.0; n]).fetch_all(&mut conn).await.unwrap();
    let slots: Vec<i32> = rows.iter().map(|(slot, _, _)| *slot).collect();
    assert_eq!(slots, [3, 1, 5], "stored elements in (tenant, contact) order; duplicates have no row");
    let conversation = |slot: i32| rows.iter().find(|row| row.0 == slot).unwrap().2;
    assert_eq!(conversation(3), conversation_a.0, "a known contact keeps its conversation");

    let b_conversation = f.store.find_conversation(tenant, &b).await.unwrap().unwrap();
    assert_eq!(b_conversation.id.0, conversation(1));
    assert_eq!(b_conversation.contact_name.as_deref(), Some("Bia"), "the twin changed nothing");
    let a_conversation = f.store.find_conversation(tenant, &a).await.unwrap().unwrap();
    assert_eq!(a_conversation.contact_name, None, "the duplicate of a stored message changed nothing");
    for (who, bodies) in [(&a, vec!["texto old-1", "texto m2"]), (&b, vec!["texto m1"]), (&c, vec!["texto m3"])] {
        let conversation = f.store.find_conversation(tenant, who).await.unwrap().unwrap();
        let stored: Vec<String> =
            f.store.list_messages(conversation.id).await.unwrap().into_iter().map(|m| m.body).collect();
        assert_eq!(stored, bodies, "{who}");
    }
    let counts = f.store.count_jobs().await.unwrap();
    let queued = counts.iter().find(|c| c.kind == JobKind::Reply && c.state == JobState::Queued).map_or(0, |c| c.count);
    assert_eq!(queued, 3, "one reply job per conversation: {counts:?}");
}
