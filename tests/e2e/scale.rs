//! Scale-out proof on real PostgreSQL: one `api` and two `worker` processes of the built
//! binary share one database; a mock LLM echoes each burst, so every Whaticket delivery says
//! exactly which customer messages it answered.

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::helpers::*;

const CONTACTS: usize = 100;
const PER_CONTACT: usize = 10;

/// Answers with the customer's (unfenced) burst, so deliveries can be traced to messages.
struct Echo;

impl Respond for Echo {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let text = last_user_text(&body);
        // The summary request (long conversations) gets a fixed text.
        let system = body["systemInstruction"]["parts"][0]["text"].as_str().unwrap_or_default();
        if system.starts_with("Resuma") {
            return gemini_text("resumo");
        }
        // Slow enough that a worker always holds jobs mid-call when it is killed.
        gemini_text(&text).set_delay(Duration::from_millis(150))
    }
}

enum Disruption {
    None,
    KillWorker,
    TerminateConnections,
}

struct Process {
    child: Child,
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One number from PostgreSQL.
async fn count(url: &str, sql: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(&mut conn).await.unwrap()
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn atende(db_url: &str, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_atende"))
        .args(args)
        .env("ATENDE_DATABASE_URL", db_url)
        .current_dir(std::env::temp_dir())
        .output()
        .unwrap()
}

fn serve(db_url: &str, role: &str, port: u16) -> Process {
    let child = Command::new(env!("CARGO_BIN_EXE_atende"))
        .args(["serve", "--role", role])
        .env("ATENDE_DATABASE_URL", db_url)
        .env("ATENDE_BIND", format!("127.0.0.1:{port}"))
        .env("ATENDE_QUEUE__DEBOUNCE", "100ms")
        .env("ATENDE_QUEUE__POLL_INTERVAL", "50ms")
        .env("ATENDE_QUEUE__LEASE", "3s")
        .env("ATENDE_QUEUE__WORKERS", "4")
        .env("ATENDE_LIMITS__PER_IP_PER_SECOND", "100000")
        .env("ATENDE_LIMITS__PER_IP_BURST", "100000")
        .env("ATENDE_LIMITS__PER_TENANT_PER_SECOND", "100000")
        .env("ATENDE_LIMITS__PER_TENANT_BURST", "100000")
        .env("ATENDE_LIMITS__PER_CONTACT_BURST", "1000")
        .env("RUST_LOG", "warn")
        .current_dir(std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Process { child }
}

async fn wait_healthy(client: &reqwest::Client, port: u16) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("http://127.0.0.1:{port}/health")).send().await.is_err() {
        assert!(Instant::now() < deadline, "atende on port {port} did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Posts until the webhook is accepted (202) or known (200); 503s are retried, as senders do.
async fn deliver(client: &reqwest::Client, port: u16, body: String) -> u16 {
    for _ in 0..200 {
        let ts = time::OffsetDateTime::now_utc().unix_timestamp();
        let signature = atende::channel::sign_generic(SECRET, ts, body.as_bytes());
        let sent = client
            .post(format!("http://127.0.0.1:{port}/webhook/acme/generic"))
            .header("x-atende-timestamp", ts.to_string())
            .header("x-atende-signature", signature)
            .body(body.clone())
            .send()
            .await;
        match sent.map(|r| r.status().as_u16()) {
            Ok(status @ (200 | 202)) => return status,
            _ => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    panic!("a webhook was never accepted");
}

/// Message texts each contact's deliveries covered, in delivery order.
async fn covered(whaticket: &MockServer) -> HashMap<String, Vec<String>> {
    let mut by_contact: HashMap<String, Vec<String>> = HashMap::new();
    for request in whaticket.received_requests().await.unwrap_or_default() {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        let number = body["number"].as_str().unwrap_or_default().to_string();
        let lines = body["body"].as_str().unwrap_or_default().lines().map(str::to_string);
        by_contact.entry(number).or_default().extend(lines);
    }
    by_contact
}

async fn run(disruption: Disruption) {
    let Some(backend) = Backend::postgres() else { return };
    let db = TestDb::create(&backend).await;
    let (llm, whaticket) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("POST")).and(path(GEMINI_PATH)).respond_with(Echo).mount(&llm).await;
    mount_whaticket_ok(&whaticket).await;
    assert!(atende(&db.url, &["migrate"]).status.success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tenant.toml");
    std::fs::write(&file, tenant_toml(&llm.uri(), &whaticket.uri(), "")).unwrap();
    let applied = atende(&db.url, &["tenant", "apply", &file.display().to_string()]);
    assert!(applied.status.success(), "{}", String::from_utf8_lossy(&applied.stderr));

    // Our processes carry their own application name, so only their connections get terminated.
    let app_name = format!("atende-scale-{}", uuid::Uuid::now_v7().simple());
    let url = format!("{}&application_name={app_name}", db.url);
    let (api_port, w1_port, w2_port) = (free_port(), free_port(), free_port());
    let _api = serve(&url, "api", api_port);
    let mut worker1 = Some(serve(&url, "worker", w1_port));
    let _worker2 = serve(&url, "worker", w2_port);
    let client = reqwest::Client::new();
    for port in [api_port, w1_port, w2_port] {
        wait_healthy(&client, port).await;
    }

    let client = Arc::new(client);
    let mut senders = tokio::task::JoinSet::new();
    for c in 0..CONTACTS {
        let client = client.clone();
        senders.spawn(async move {
            let contact = format!("55119{c:08}");
            for m in 0..PER_CONTACT {
                let ts = time::OffsetDateTime::now_utc().unix_timestamp();
                let body = serde_json::json!({ "id": format!("{contact}-{m}"), "from": contact, "text": format!("c{c}-m{m}"), "timestamp": ts });
                deliver(&client, api_port, body.to_string()).await;
            }
        });
        if c == CONTACTS / 3 {
            match disruption {
                Disruption::None => {}
                Disruption::KillWorker => {
                    // Kill only once both worker processes hold jobs (a lease owner is
                    // `<process id>/<slot>`), so the victim surely leaves leases behind; a
                    // fixed sleep was too short on a loaded machine. Bounded in time.
                    let busy =
                        "SELECT COUNT(DISTINCT split_part(lease_owner, '/', 1)) FROM jobs WHERE state = 'running'";
                    let deadline = Instant::now() + Duration::from_secs(30);
                    while count(&url, busy).await < 2 && Instant::now() < deadline {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    let held = count(&url, "SELECT COUNT(*) FROM jobs WHERE state = 'running'").await;
                    eprintln!("killing a worker while {held} jobs are running");
                    let mut victim = worker1.take().unwrap();
                    victim.child.kill().unwrap(); // SIGKILL: no graceful shutdown, leases left behind
                    victim.child.wait().unwrap();
                }
                Disruption::TerminateConnections => {
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    let open = count(
                        &db.url,
                        &format!("SELECT COUNT(*) FROM pg_stat_activity WHERE application_name = '{app_name}'"),
                    )
                    .await;
                    assert!(open > 0, "no connection of the processes to terminate");
                    eprintln!("terminating {open} database connections of the running processes");
                    db.execute(format!(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = '{app_name}'"
                    ))
                    .await;
                }
            }
        }
    }
    while let Some(done) = senders.join_next().await {
        done.unwrap();
    }

    let deadline = Instant::now() + Duration::from_secs(120);
    let expected = CONTACTS * PER_CONTACT;
    loop {
        let seen: usize =
            covered(&whaticket).await.values().map(|v| v.iter().collect::<std::collections::HashSet<_>>().len()).sum();
        if seen >= expected {
            break;
        }
        assert!(Instant::now() < deadline, "only {seen} of {expected} messages were answered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // let in-flight duplicates land
    let covered = covered(&whaticket).await;
    let mut duplicates = 0;
    for c in 0..CONTACTS {
        let contact = format!("55119{c:08}");
        let lines = &covered[&contact];
        let mut firsts: Vec<&String> = Vec::new();
        for line in lines {
            if firsts.contains(&line) {
                duplicates += 1;
            } else {
                firsts.push(line);
            }
        }
        let expected: Vec<String> = (0..PER_CONTACT).map(|m| format!("c{c}-m{m}")).collect();
        assert_eq!(
            firsts.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
            expected,
            "contact {c}: answers out of order or missing"
        );
    }
    eprintln!("{expected} messages answered; {duplicates} answered twice");
    if let Disruption::KillWorker = disruption {
        let retaken = count(&db.url, "SELECT COUNT(*) FROM jobs WHERE attempts > 1").await;
        assert!(retaken > 0, "the killed worker held no job: the test proved nothing");
        eprintln!("{retaken} jobs were taken over after the kill");
    }
    match disruption {
        Disruption::None => assert_eq!(duplicates, 0, "no disruption, no duplicate"),
        // At most what the killed worker held: 4 slots, each a burst of up to 10 messages.
        Disruption::KillWorker => assert!(duplicates <= 4 * PER_CONTACT, "{duplicates} duplicates"),
        Disruption::TerminateConnections => {}
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_api_and_two_workers_on_postgresql_answer_every_message_once_in_order() {
    run(Disruption::None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_killed_mid_run_loses_nothing() {
    run(Disruption::KillWorker).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn terminated_database_connections_are_survived_without_loss() {
    run(Disruption::TerminateConnections).await;
}
