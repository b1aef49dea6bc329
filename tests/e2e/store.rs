//! Store and queue conformance: the semantics every `Store` implementation must keep.
//! Each test runs on SQLite, and on PostgreSQL (in a fresh schema) when
//! `ATENDE_TEST_POSTGRES_URL` is set.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use atende::config::tenant::TenantFile;
use atende::domain::{
    ContactNumber, ConversationId, CorrelationId, ErrorClass, InboundMessage, JobKind, JobState, MessageId, TenantId,
};
use atende::store::{
    DeadLetterFilter, Debounce, Finish, JobFailure, NewInbound, NewKnowledge, NewReply, RecordOutcome, Store,
};
use sqlx::Connection;
use time::OffsetDateTime;

use crate::helpers::{Backend, TestDb};

on_each_backend!(
    only_one_job_per_conversation_runs_and_the_next_waits_for_it,
    a_batch_claim_leases_one_job_per_owner_and_keeps_the_per_key_rules,
    a_batch_claim_takes_deliveries_first_one_job_per_key_and_expired_leases,
    a_burst_merges_into_one_reply_job_pushed_back_but_capped,
    a_duplicate_provider_id_stores_nothing,
    retries_wait_for_run_at_and_a_lost_lease_cannot_write,
    dead_letters_can_be_listed_replayed_with_attempts_reset_and_discarded,
    concurrent_workers_claim_each_job_exactly_once,
    a_replayed_dead_letter_does_not_block_the_takeover_of_a_newer_expired_job,
);

pub struct Fixture {
    pub store: Arc<dyn Store>,
    pub tenant: TenantId,
    /// Dropped last: removes the SQLite file or the PostgreSQL schema.
    _db: Arc<TestDb>,
}

impl Fixture {
    /// The database, for tests that check what plain SQL may do to it.
    pub fn db(&self) -> &TestDb {
        &self._db
    }
}

/// A migrated store on `backend` with one tenant, `acme`.
pub async fn fixture(backend: Backend) -> Fixture {
    let db = TestDb::create(&backend).await;
    let store = atende::store::connect(&db.url).await.unwrap();
    store.migrate().await.unwrap();
    let file: TenantFile = toml::from_str("slug = \"acme\"\nname = \"ACME\"").unwrap();
    let (tenant, _) = store.upsert_tenant(&file, OffsetDateTime::now_utc()).await.unwrap();
    Fixture { store, tenant, _db: db }
}

pub fn message(id: &str, contact: &str) -> InboundMessage {
    InboundMessage {
        provider_id: id.into(),
        contact: ContactNumber::parse(contact).unwrap(),
        contact_name: None,
        text: format!("texto {id}"),
        sent_at: OffsetDateTime::now_utc(),
        ticket_id: None,
        from_me: false,
    }
}

pub const NO_DEBOUNCE: Debounce = Debounce { window: Duration::ZERO, max: Duration::ZERO, max_attempts: 3 };

async fn inbound(f: &Fixture, id: &str, contact: &str, now: OffsetDateTime, debounce: Debounce) -> RecordOutcome {
    let m = message(id, contact);
    let correlation_id = CorrelationId::new();
    f.store
        .record_inbound(NewInbound {
            tenant: f.tenant,
            message: &m,
            correlation_id: &correlation_id,
            now,
            debounce,
            sentiment: None,
            notify: &[],
        })
        .await
        .unwrap()
}

pub const LEASE: Duration = Duration::from_secs(30);

async fn only_one_job_per_conversation_runs_and_the_next_waits_for_it(backend: Backend) {
    let f = fixture(backend).await;
    let now = OffsetDateTime::now_utc();
    inbound(&f, "a1", "5511900000001", now, NO_DEBOUNCE).await;
    inbound(&f, "b1", "5511900000002", now, NO_DEBOUNCE).await;
    let first = f.store.claim_job("w1", now, LEASE).await.unwrap().unwrap();
    let second = f.store.claim_job("w2", now, LEASE).await.unwrap().unwrap();
    assert_ne!(first.key, second.key);
    assert!(f.store.claim_job("w3", now, LEASE).await.unwrap().is_none());

    // A new message for a running conversation gets its own job, which waits.
    let a = [&first, &second].into_iter().find(|j| j.payload["conversation_id"] == 1).unwrap().clone();
    inbound(&f, "a2", "5511900000001", now, NO_DEBOUNCE).await;
    assert!(f.store.claim_job("w3", now, LEASE).await.unwrap().is_none());
    assert!(f.store.complete_job(a.id, &a.owner, now).await.unwrap());
    let next = f.store.claim_job("w3", now, LEASE).await.unwrap().unwrap();
    assert_eq!(next.key, a.key);
    assert_eq!(next.kind, JobKind::Reply);
    assert_ne!(next.id, a.id);
}

async fn a_batch_claim_leases_one_job_per_owner_and_keeps_the_per_key_rules(backend: Backend) {
    let f = fixture(backend).await;
    let now = OffsetDateTime::now_utc();
    inbound(&f, "a1", "5511900000001", now, NO_DEBOUNCE).await;
    inbound(&f, "b1", "5511900000002", now, NO_DEBOUNCE).await;
    inbound(&f, "c1", "5511900000003", now, NO_DEBOUNCE).await;
    let owners: Vec<String> = (0..6).map(|i| format!("w/{i}")).collect();
    let batch = f.store.claim_jobs(&owners, now, LEASE).await.unwrap();
    assert_eq!(batch.len(), 3, "one job per conversation, then the batch stops: {batch:?}");
    for (job, owner) in batch.iter().zip(&owners) {
        assert_eq!(&job.owner, owner, "job i is leased to owner i");
    }
    let keys: BTreeSet<&str> = batch.iter().map(|j| j.key.as_str()).collect();
    assert_eq!(keys.len(), 3, "three different keys: {keys:?}");
    // Each lease is real: the owner can complete it, nobody else can.
    assert!(!f.store.complete_job(batch[0].id, "w/5", now).await.unwrap());
    // A new message of a running conversation gets its own job, which no batch may take yet.
    inbound(&f, "a2", "5511900000001", now, NO_DEBOUNCE).await;
    assert!(f.store.claim_jobs(&owners, now, LEASE).await.unwrap().is_empty());
    for job in &batch {
        assert!(f.store.complete_job(job.id, &job.owner, now).await.unwrap());
    }
    let last = f.store.claim_jobs(&owners, now, LEASE).await.unwrap();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].key, batch.iter().find(|j| j.payload["conversation_id"] == 1).unwrap().key);
    assert!(f.store.claim_jobs(&[], now, LEASE).await.unwrap().is_empty());
}

async fn a_batch_claim_takes_deliveries_first_one_job_per_key_and_expired_leases(backend: Backend) {
    let f = fixture(backend).await;
    let now = OffsetDateTime::now_utc();
    let RecordOutcome::Queued { message_id: a1, .. } = inbound(&f, "a1", "5511900000001", now, NO_DEBOUNCE).await
    else {
        panic!("a1 not queued")
    };
    inbound(&f, "b1", "5511900000002", now, NO_DEBOUNCE).await;
    let first = f.store.claim_jobs(&["x/0".to_string(), "x/1".to_string()], now, LEASE).await.unwrap();
    assert_eq!(first.len(), 2, "{first:?}");
    let conversation =
        |job: &atende::store::ClaimedJob| ConversationId(job.payload["conversation_id"].as_i64().unwrap());
    let (one, two) = if conversation(&first[0]).0 == 1 { (&first[0], &first[1]) } else { (&first[1], &first[0]) };
    // Conversation 1: a new message waits while its reply is recorded, so the key holds a
    // queued reply and, newer, the delivery that may pass it. Conversation 2's worker dies.
    inbound(&f, "a2", "5511900000001", now, NO_DEBOUNCE).await;
    let finish = f
        .store
        .record_reply(NewReply {
            job: one,
            conversation: conversation(one),
            covered_upto: a1,
            parts: vec!["oi".to_string()],
            meta: serde_json::json!({}),
            deliver_max_attempts: 3,
            update: Default::default(),
            ticket: MessageId(0),
            notify: Vec::new(),
            idle_after: None,
        })
        .await
        .unwrap();
    assert!(matches!(finish, Finish::Recorded { .. }), "{finish:?}");
    let later = now + LEASE + Duration::from_secs(1);
    let owners: Vec<String> = (0..3).map(|i| format!("y/{i}")).collect();
    let batch = f.store.claim_jobs(&owners, later, LEASE).await.unwrap();
    let got: Vec<(JobKind, &str)> = batch.iter().map(|j| (j.kind, j.key.as_str())).collect();
    assert_eq!(got, [(JobKind::Deliver, one.key.as_str()), (JobKind::Reply, two.key.as_str())], "{batch:?}");
    assert_eq!((batch[1].id, batch[1].attempts), (two.id, 2), "the expired job is taken over");
    assert_eq!((batch[0].owner.as_str(), batch[1].owner.as_str()), ("y/0", "y/1"));
    // The waiting reply runs only after the delivery; the old owner lost its lease.
    assert!(f.store.claim_jobs(&owners, later, LEASE).await.unwrap().is_empty());
    assert!(!f.store.complete_job(two.id, &two.owner, later).await.unwrap());
    assert!(f.store.complete_job(batch[0].id, "y/0", later).await.unwrap());
    let last = f.store.claim_jobs(&owners, later, LEASE).await.unwrap();
    assert_eq!(last.iter().map(|j| (j.kind, j.key.as_str())).collect::<Vec<_>>(), [(JobKind::Reply, one.key.as_str())]);
}

async fn a_burst_merges_into_one_reply_job_pushed_back_but_capped(backend: Backend) {
    let f = fixture(backend).await;
    let t0 = OffsetDateTime::now_utc();
    let debounce = Debounce { window: Duration::from_secs(3), max: Duration::from_secs(5), max_attempts: 3 };
    inbound(&f, "m1", "5511900000001", t0, debounce).await;
    inbound(&f, "m2", "5511900000001", t0 + Duration::from_secs(2), debounce).await;
    let due = f.store.next_due().await.unwrap().unwrap();
    assert_eq!(due.unix_timestamp(), (t0 + Duration::from_secs(5)).unix_timestamp(), "pushed to t0+2+3");
    inbound(&f, "m3", "5511900000001", t0 + Duration::from_secs(4), debounce).await;
    let due = f.store.next_due().await.unwrap().unwrap();
    assert_eq!(due.unix_timestamp(), (t0 + Duration::from_secs(5)).unix_timestamp(), "capped at t0+5");
    let counts = f.store.count_jobs().await.unwrap();
    assert_eq!(counts.iter().map(|c| c.count).sum::<i64>(), 1, "one job for the burst");
    let oldest = |counts: &[atende::store::JobCount]| counts[0].oldest_run_at.map(|at| at.unix_timestamp());
    assert_eq!(oldest(&counts), Some((t0 + Duration::from_secs(5)).unix_timestamp()));
    // Another conversation's job, due earlier, is the backlog's oldest.
    inbound(&f, "m4", "5511900000002", t0 - Duration::from_secs(10), NO_DEBOUNCE).await;
    let counts = f.store.count_jobs().await.unwrap();
    assert_eq!((counts.len(), counts[0].count), (1, 2));
    assert_eq!(oldest(&counts), Some((t0 - Duration::from_secs(10)).unix_timestamp()), "{counts:?}");
}

async fn a_duplicate_provider_id_stores_nothing(backend: Backend) {
    let f = fixture(backend).await;
    let now = OffsetDateTime::now_utc();
    assert!(matches!(inbound(&f, "d1", "5511900000001", now, NO_DEBOUNCE).await, RecordOutcome::Queued { .. }));
    assert_eq!(inbound(&f, "d1", "5511900000001", now, NO_DEBOUNCE).await, RecordOutcome::Duplicate);
    assert_eq!(f.store.count_jobs().await.unwrap()[0].count, 1);
}

async fn retries_wait_for_run_at_and_a_lost_lease_cannot_write(backend: Backend) {
    let f = fixture(backend).await;
    let now = OffsetDateTime::now_utc();
    inbound(&f, "r1", "5511900000001", now, NO_DEBOUNCE).await;
    let job = f.store.claim_job("w1", now, LEASE).await.unwrap().unwrap();
    let failure = JobFailure { message: "HTTP 503".into(), class: ErrorClass::Retryable };
    assert!(!f.store.retry_job(job.id, "intruder", now, &failure).await.unwrap(), "fencing by owner");
    assert!(f.store.retry_job(job.id, "w1", now + Duration::from_secs(10), &failure).await.unwrap());
    assert!(f.store.claim_job("w1", now + Duration::from_secs(9), LEASE).await.unwrap().is_none());
    let again = f.store.claim_job("w2", now + Duration::from_secs(10), LEASE).await.unwrap().unwrap();
    assert_eq!(again.attempts, 2);
    assert!(!f.store.complete_job(job.id, "w1", now).await.unwrap(), "w1 no longer holds it");
    let record = f.store.find_job(job.id).await.unwrap().unwrap();
    assert_eq!(record.history[0]["error"], "HTTP 503");
    assert_eq!(record.history[0]["attempt"], 1);
}

async fn dead_letters_can_be_listed_replayed_with_attempts_reset_and_discarded(backend: Backend) {
    let f = fixture(backend).await;
    let now = OffsetDateTime::now_utc();
    inbound(&f, "x1", "5511900000001", now, NO_DEBOUNCE).await;
    inbound(&f, "y1", "5511900000002", now, NO_DEBOUNCE).await;
    let failure = JobFailure { message: "HTTP 400".into(), class: ErrorClass::Permanent };
    for _ in 0..2 {
        let job = f.store.claim_job("w", now, LEASE).await.unwrap().unwrap();
        assert!(f.store.dead_letter(job.id, "w", &failure, now).await.unwrap());
    }
    let dead = f.store.list_dead_letters(&DeadLetterFilter::default()).await.unwrap();
    assert_eq!(dead.len(), 2);
    assert!(dead.iter().all(|j| j.state == JobState::Dead && j.tenant == "acme"));
    let other = DeadLetterFilter { tenant: Some("other".into()), ..Default::default() };
    assert!(f.store.list_dead_letters(&other).await.unwrap().is_empty());

    assert!(f.store.replay_dead_letter(dead[0].id, now).await.unwrap());
    assert!(!f.store.replay_dead_letter(dead[0].id, now).await.unwrap(), "only dead jobs replay");
    let replayed = f.store.claim_job("w", now, LEASE).await.unwrap().unwrap();
    assert_eq!((replayed.id, replayed.attempts), (dead[0].id, 1));
    assert!(f.store.discard_dead_letter(dead[1].id, now).await.unwrap());
    assert_eq!(f.store.find_job(dead[1].id).await.unwrap().unwrap().state, JobState::Discarded);
}

async fn concurrent_workers_claim_each_job_exactly_once(backend: Backend) {
    let f = fixture(backend).await;
    let now = OffsetDateTime::now_utc();
    for i in 0..24 {
        inbound(&f, &format!("c{i}"), &format!("55119000{i:05}"), now, NO_DEBOUNCE).await;
    }
    let mut tasks = tokio::task::JoinSet::new();
    for w in 0..6 {
        let store = f.store.clone();
        tasks.spawn(async move {
            let mut mine = Vec::new();
            while let Some(job) = store.claim_job(&format!("w{w}"), now, LEASE).await.unwrap() {
                mine.push(job.id);
            }
            mine
        });
    }
    let mut all = Vec::new();
    while let Some(ids) = tasks.join_next().await {
        all.extend(ids.unwrap());
    }
    let unique: BTreeSet<_> = all.iter().collect();
    assert_eq!((all.len(), unique.len()), (24, 24));
}

async fn a_replayed_dead_letter_does_not_block_the_takeover_of_a_newer_expired_job(backend: Backend) {
    let f = fixture(backend).await;
    let now = OffsetDateTime::now_utc();
    let permanent = JobFailure { message: "HTTP 400".into(), class: ErrorClass::Permanent };
    inbound(&f, "z1", "5511900000001", now, NO_DEBOUNCE).await;
    let old = f.store.claim_job("w", now, LEASE).await.unwrap().unwrap();
    assert!(f.store.dead_letter(old.id, "w", &permanent, now).await.unwrap());
    inbound(&f, "z2", "5511900000001", now, NO_DEBOUNCE).await;
    let newer = f.store.claim_job("dies", now, LEASE).await.unwrap().unwrap();
    assert!(f.store.replay_dead_letter(old.id, now).await.unwrap());

    let later = now + LEASE + Duration::from_secs(1);
    let taken = f.store.claim_job("w2", later, LEASE).await.unwrap().unwrap();
    assert_eq!(taken.id, newer.id, "the expired job is taken over, not stuck behind the replay");
    assert!(f.store.complete_job(taken.id, "w2", later).await.unwrap());
    let replayed = f.store.claim_job("w2", later, LEASE).await.unwrap().unwrap();
    assert_eq!(replayed.id, old.id);
}

// Full-text knowledge search (`search_knowledge`): what both engines guarantee. FTS5 (folded
// words and prefixes) and PostgreSQL (Snowball stems) differ in what else they match; see
// the backend-specific tests below.

on_each_backend!(
    knowledge_search_ignores_accents_in_the_text_and_in_the_entries,
    knowledge_search_matches_any_word_of_a_long_message,
    knowledge_search_ranks_a_question_match_above_an_answer_only_match,
    knowledge_search_finds_only_enabled_entries_of_the_tenant,
    knowledge_search_reads_hostile_text_as_plain_words,
    knowledge_search_follows_updates_of_an_entry,
    knowledge_entries_stored_before_the_fulltext_migration_are_searchable,
);

async fn add_entry(f: &Fixture, tenant: TenantId, question: &str, answer: &str, enabled: bool) -> i64 {
    let entry = NewKnowledge {
        question_key: atende::knowledge::question_key(question),
        title: None,
        question: question.into(),
        answer: answer.into(),
        tags: vec![],
        enabled,
    };
    f.store.upsert_knowledge(tenant, &entry, OffsetDateTime::now_utc()).await.unwrap();
    f.store.list_knowledge(tenant).await.unwrap().iter().find(|r| r.question == question).unwrap().id
}

/// Ids found for `text` in the fixture's tenant, best first.
async fn found(f: &Fixture, text: &str) -> Vec<i64> {
    f.store.search_knowledge(f.tenant, text, 10).await.unwrap().iter().map(|m| m.row.id).collect()
}

async fn knowledge_search_ignores_accents_in_the_text_and_in_the_entries(backend: Backend) {
    let f = fixture(backend).await;
    let address = add_entry(&f, f.tenant, "Qual o endereço da loja?", "Rua das Flores, 100.", true).await;
    let hours = add_entry(&f, f.tenant, "Qual o horario de atendimento?", "Das 8h as 18h.", true).await;
    add_entry(&f, f.tenant, "Vocês aceitam Pix?", "Sim, e cartão também.", true).await;
    assert_eq!(found(&f, "endereco").await, [address]);
    assert_eq!(found(&f, "ENDEREÇO").await, [address]);
    assert_eq!(found(&f, "horário").await, [hours]);
    let best = &f.store.search_knowledge(f.tenant, "endereco loja", 10).await.unwrap()[0];
    assert_eq!((best.row.id, best.coverage), (address, 1.0));
    assert!(best.score > 0.0 && best.row.question == "Qual o endereço da loja?");
}

async fn knowledge_search_matches_any_word_of_a_long_message(backend: Backend) {
    let f = fixture(backend).await;
    let delivery = add_entry(&f, f.tenant, "Qual o prazo de entrega?", "De 2 a 4 dias úteis.", true).await;
    let pix = add_entry(&f, f.tenant, "Vocês aceitam Pix?", "Sim, aceitamos Pix e cartão.", true).await;
    add_entry(&f, f.tenant, "Como faço uma troca?", "Troque em até 7 dias na loja.", true).await;
    let text = "Olá! Eu queria saber qual é o prazo de entrega do meu pedido, e se vocês aceitam pix?";
    let matches = f.store.search_knowledge(f.tenant, text, 10).await.unwrap();
    let ids: BTreeSet<i64> = matches.iter().map(|m| m.row.id).collect();
    assert_eq!(ids, BTreeSet::from([delivery, pix]), "{matches:?}");
    assert!(matches.iter().all(|m| m.coverage > 0.0 && m.coverage < 1.0), "{matches:?}");
    assert_eq!(f.store.search_knowledge(f.tenant, text, 1).await.unwrap().len(), 1, "limit");
}

async fn knowledge_search_ranks_a_question_match_above_an_answer_only_match(backend: Backend) {
    let f = fixture(backend).await;
    // Stored first, so a tie on score would put it first.
    let answer_only = add_entry(
        &f,
        f.tenant,
        "Como rastrear meu pedido?",
        "Use o código de rastreio; o prazo aparece no site.",
        true,
    )
    .await;
    let question = add_entry(&f, f.tenant, "Qual o prazo de entrega?", "De 2 a 4 dias úteis.", true).await;
    assert_eq!(found(&f, "prazo").await, [question, answer_only]);
}

async fn knowledge_search_finds_only_enabled_entries_of_the_tenant(backend: Backend) {
    let f = fixture(backend).await;
    let other: TenantFile = toml::from_str("slug = \"beta\"\nname = \"Beta\"").unwrap();
    let (beta, _) = f.store.upsert_tenant(&other, OffsetDateTime::now_utc()).await.unwrap();
    let shop = add_entry(&f, f.tenant, "Qual o endereço da loja?", "Rua das Flores, 100.", true).await;
    add_entry(&f, f.tenant, "Qual o endereço do depósito?", "Não divulgamos.", false).await;
    let theirs = add_entry(&f, beta, "Qual o endereço da loja?", "Avenida Central, 5.", true).await;
    assert_eq!(found(&f, "endereço").await, [shop]);
    let ids: Vec<i64> =
        f.store.search_knowledge(beta, "endereço", 10).await.unwrap().iter().map(|m| m.row.id).collect();
    assert_eq!(ids, [theirs]);
}

async fn knowledge_search_reads_hostile_text_as_plain_words(backend: Backend) {
    let f = fixture(backend).await;
    let pix = add_entry(&f, f.tenant, "Vocês aceitam Pix?", "Sim, aceitamos Pix e boleto.", true).await;
    let hostile = [
        "'); DROP TABLE knowledge_entries; --",
        "a & b | !c",
        "\"unterminated",
        "NEAR(",
        "*",
        "🙂🔥",
        "pix*) OR (\"",
        "question:pix",
        "'pix' & !'boleto'",
        "\\'\\\\ '' \"\" :* <-> ^",
        "",
        "   ",
    ];
    for text in hostile {
        let result = f.store.search_knowledge(f.tenant, text, 10).await;
        assert!(result.is_ok(), "{text:?}: {result:?}");
    }
    assert_eq!(found(&f, "'pix' & !'boleto'").await, [pix], "operators are just punctuation");
    assert_eq!(found(&f, "NEAR(pix, boleto) OR \"").await, [pix]);
    assert_eq!(found(&f, "o que é isso?").await, Vec::<i64>::new(), "stopwords only");
    assert_eq!(f.store.list_knowledge(f.tenant).await.unwrap().len(), 1, "the table is still there");
}

async fn knowledge_search_follows_updates_of_an_entry(backend: Backend) {
    let f = fixture(backend).await;
    let id = add_entry(&f, f.tenant, "Quais as formas de pagamento?", "Aceitamos boleto bancário.", true).await;
    assert_eq!(found(&f, "boleto").await, [id]);
    assert_eq!(add_entry(&f, f.tenant, "Quais as formas de pagamento?", "Aceitamos criptomoedas.", true).await, id);
    assert_eq!(found(&f, "boleto").await, Vec::<i64>::new(), "the old answer is forgotten");
    assert_eq!(found(&f, "criptomoedas").await, [id]);
    add_entry(&f, f.tenant, "Quais as formas de pagamento?", "Aceitamos criptomoedas.", false).await;
    assert_eq!(found(&f, "criptomoedas").await, Vec::<i64>::new(), "disabled");
}

async fn knowledge_entries_stored_before_the_fulltext_migration_are_searchable(backend: Backend) {
    let db = TestDb::create(&backend).await;
    let store = atende::store::connect(&db.url).await.unwrap();
    let dir = if matches!(backend, Backend::Sqlite) { "migrations/sqlite" } else { "migrations/postgres" };
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let before = sqlx::migrate::Migrator::new(dir).await.unwrap();
    if matches!(backend, Backend::Sqlite) {
        let mut conn = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        before.run_to(5, &mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        before.run_to(5, &mut conn).await.unwrap();
    }
    let file: TenantFile = toml::from_str("slug = \"acme\"\nname = \"ACME\"").unwrap();
    let (tenant, _) = store.upsert_tenant(&file, OffsetDateTime::now_utc()).await.unwrap();
    let f = Fixture { store, tenant, _db: db };
    let id = add_entry(&f, tenant, "Qual o endereço da loja?", "Rua das Flores, 100.", true).await;
    f.store.migrate().await.unwrap();
    assert_eq!(found(&f, "endereco").await, [id]);
}

/// SQLite (FTS5, no stemmer): longer words match as prefixes, after a plural `s` is cut.
#[tokio::test]
async fn sqlite_knowledge_search_matches_word_prefixes_and_plurals() {
    let f = fixture(Backend::Sqlite).await;
    let track = add_entry(&f, f.tenant, "Como rastrear meu pedido?", "Pelo código de rastreamento.", true).await;
    let delivery = add_entry(&f, f.tenant, "Qual o prazo de entrega?", "De 2 a 4 dias úteis.", true).await;
    assert_eq!(found(&f, "rastre").await, [track]);
    assert_eq!(found(&f, "entregas").await, [delivery]);
    assert_eq!(found(&f, "pedidos").await, [track]);
}

/// PostgreSQL (`portuguese` configuration): Snowball stems join the forms of a word.
#[tokio::test]
async fn postgres_knowledge_search_matches_portuguese_stems() {
    let Some(backend) = Backend::postgres() else { return };
    let f = fixture(backend).await;
    let delivery = add_entry(&f, f.tenant, "Qual o prazo de entrega?", "De 2 a 4 dias úteis.", true).await;
    let track = add_entry(&f, f.tenant, "Como rastrear meus pedidos?", "Pelo código enviado por e-mail.", true).await;
    assert_eq!(found(&f, "entregamos").await, [delivery]);
    assert_eq!(found(&f, "entregar").await, [delivery]);
    assert_eq!(found(&f, "pedido").await, [track]);
}

/// PostgreSQL: `atende_unaccent` folds accents when the `unaccent` extension is installed and
/// is the identity otherwise; search works with either body (the fallback is put in place
/// here by hand, as migration 0006 creates it where the extension is missing).
#[tokio::test]
async fn postgres_knowledge_search_works_with_and_without_unaccent() {
    let Some(backend) = Backend::postgres() else { return };
    let f = fixture(backend).await;
    let id = add_entry(&f, f.tenant, "Qual o endereço da loja?", "Rua das Flores, 100.", true).await;
    let mut conn = sqlx::PgConnection::connect(&f._db.url).await.unwrap();
    let installed: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'unaccent')")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    let folded: String = sqlx::query_scalar("SELECT atende_unaccent('Ação')").fetch_one(&mut conn).await.unwrap();
    assert_eq!(folded, if installed { "Acao" } else { "Ação" });

    // The fallback body of migration 0006.
    let identity = "CREATE OR REPLACE FUNCTION atende_unaccent(input text) RETURNS text
                    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS 'SELECT input'";
    sqlx::query(identity).execute(&mut conn).await.unwrap();
    // Stored vectors are computed on write: rewrite them with the new body.
    sqlx::query("UPDATE knowledge_entries SET question = question").execute(&mut conn).await.unwrap();
    let folded: String = sqlx::query_scalar("SELECT atende_unaccent('Ação')").fetch_one(&mut conn).await.unwrap();
    assert_eq!(folded, "Ação");
    assert_eq!(found(&f, "endereço loja").await, [id]);
    assert_eq!(found(&f, "'); DROP TABLE x; --").await, Vec::<i64>::new());
}
