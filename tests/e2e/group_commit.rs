//! Many writers at once: on SQLite they share transactions (the writer thread's group
//! commit), which must never let one request's outcome leak into another's. Run on every
//! backend, since the guarantees are the `Store`'s.

use std::collections::BTreeMap;
use std::sync::Arc;

use atende::domain::{CorrelationId, JobKind, JobState, TenantId};
use atende::store::{NewInbound, RecordOutcome};
use time::OffsetDateTime;

use crate::helpers::Backend;
use crate::store::{Fixture, NO_DEBOUNCE, fixture, message};

on_each_backend!(
    concurrent_inbound_messages_land_exactly_once,
    a_duplicate_among_concurrent_writes_is_reported_and_rolls_back_only_itself,
    a_failing_write_among_concurrent_writes_does_not_affect_the_others,
);

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
