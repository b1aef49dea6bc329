//! `spawn_app` and friends: a real Atende on port 0 with a temp SQLite file (or a fresh
//! PostgreSQL schema), wiremock standing in for Gemini and Whaticket, and deterministic
//! queue draining.

use std::sync::Arc;
use std::time::Duration;

use atende::app::{App, Role};
use atende::channel::sign_generic;
use atende::config::Config;
use atende::config::tenant::TenantFile;
use atende::queue::{Drained, JobHandler, RetryPolicy, drain};
use atende::store::Store;
use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection, PgConnection};
use tempfile::TempDir;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

pub const SECRET: &str = "s3cr3t";
pub const TOKEN: &str = "t0k3n";
pub const WHATICKET_TOKEN: &str = "whaticket-api-token";
pub const GEMINI_PATH: &str = "/v1beta/models/gemini-2.0-flash:generateContent";
pub const FALLBACK_TEXT: &str = "Desculpe, tive um problema. Um atendente já vai falar com você.";

/// A running Atende (HTTP only; tests drain the queue themselves).
pub struct TestApp {
    pub addr: std::net::SocketAddr,
    pub store: Arc<dyn Store>,
    pub handler: Arc<dyn JobHandler>,
    pub policy: RetryPolicy,
    pub llm: MockServer,
    pub whaticket: MockServer,
    pub client: reqwest::Client,
    pub db_url: String,
    pub shutdown: CancellationToken,
    pub server: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// Keeps the database alive (shared with a restarted app).
    pub _db: Arc<TestDb>,
}

/// Runs each listed `async fn name(backend: Backend)` as the tests `name::sqlite` and
/// `name::postgres`; the second says why it skips when `ATENDE_TEST_POSTGRES_URL` is unset.
macro_rules! on_each_backend {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::helpers::Backend::Sqlite).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(backend) = $crate::helpers::Backend::postgres() {
                    super::$name(backend).await;
                }
            }
        }
    )*};
}

/// The store a test runs on.
#[derive(Debug, Clone)]
pub enum Backend {
    /// A temp SQLite file.
    Sqlite,
    /// A fresh schema in the database of this URL (`ATENDE_TEST_POSTGRES_URL`).
    Postgres(String),
}

impl Backend {
    /// The backend of tests written for one: SQLite, unless `ATENDE_TEST_BACKEND=postgres`
    /// (with `ATENDE_TEST_POSTGRES_URL`) runs them all on PostgreSQL.
    pub fn from_env() -> Backend {
        match std::env::var("ATENDE_TEST_BACKEND").as_deref() {
            Ok("postgres") => Backend::postgres().expect("ATENDE_TEST_BACKEND=postgres needs ATENDE_TEST_POSTGRES_URL"),
            _ => Backend::Sqlite,
        }
    }

    /// PostgreSQL when `ATENDE_TEST_POSTGRES_URL` is set; otherwise says so and gives `None`.
    pub fn postgres() -> Option<Backend> {
        match std::env::var("ATENDE_TEST_POSTGRES_URL") {
            Ok(url) if !url.trim().is_empty() => Some(Backend::Postgres(url)),
            _ => {
                eprintln!("skipping PostgreSQL: ATENDE_TEST_POSTGRES_URL is not set");
                None
            }
        }
    }
}

/// One test's database: a temp SQLite file, or a PostgreSQL schema dropped on drop.
pub struct TestDb {
    /// What `ATENDE_DATABASE_URL` would be.
    pub url: String,
    /// (server URL, schema) to drop at the end.
    schema: Option<(String, String)>,
    /// Holds the SQLite file.
    _dir: TempDir,
}

impl TestDb {
    pub async fn create(backend: &Backend) -> Arc<TestDb> {
        let dir = tempfile::tempdir().unwrap();
        let db = match backend {
            Backend::Sqlite => {
                TestDb { url: format!("sqlite://{}", dir.path().join("atende.db").display()), schema: None, _dir: dir }
            }
            Backend::Postgres(server) => {
                let schema = format!("atende_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::connect(server).await.expect("ATENDE_TEST_POSTGRES_URL does not connect");
                sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}"))).execute(&mut conn).await.unwrap();
                conn.close().await.unwrap();
                let separator = if server.contains('?') { '&' } else { '?' };
                TestDb {
                    url: format!("{server}{separator}options[search_path]={schema}"),
                    schema: Some((server.clone(), schema)),
                    _dir: dir,
                }
            }
        };
        Arc::new(db)
    }
}

impl TestDb {
    /// Runs raw SQL against this database, for tests that fake what no API can do.
    pub async fn execute(&self, sql: String) {
        if self.schema.is_some() {
            let mut conn = PgConnection::connect(&self.url).await.unwrap();
            sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
        } else {
            let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
            sqlx::query(AssertSqlSafe(sql)).execute(&mut conn).await.unwrap();
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, schema)) = self.schema.take() else { return };
        let name = schema.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on: use a thread.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
            runtime.block_on(async {
                let mut conn = PgConnection::connect(&server).await?;
                // The test's runtime waits for this thread, so a lock one of its connections
                // still held would never be released: give up on the schema rather than hang.
                sqlx::query("SET lock_timeout = '5s'").execute(&mut conn).await?;
                sqlx::query(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the test schema {name}: {dropped:?}");
        }
    }
}

/// The test configuration: short LLM backoffs (wall clock), queue backoffs on the virtual clock.
pub fn test_config(db_url: &str) -> Config {
    let mut config = Config::default();
    config.http.bind = "127.0.0.1:0".parse().unwrap();
    config.database.url = db_url.to_string();
    config.llm.backoff_base = Duration::from_millis(1);
    config.llm.backoff_max = Duration::from_millis(5);
    config.llm.timeout = Duration::from_secs(5);
    config.queue.deliver_max_attempts = 3;
    config.queue.backoff_base = Duration::from_secs(1);
    config.queue.poll_interval = Duration::from_millis(20);
    // Tests re-apply tenants between requests; the cache's own tests cover its time to live.
    config.http.tenant_cache_ttl = Duration::ZERO;
    config
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    spawn_app_on_with(&Backend::from_env(), tweak).await
}

pub async fn spawn_app_on(backend: &Backend) -> TestApp {
    spawn_app_on_with(backend, |_| {}).await
}

pub async fn spawn_app_on_with(backend: &Backend, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let db = TestDb::create(backend).await;
    let (llm, whaticket) = (MockServer::start().await, MockServer::start().await);
    let mut config = test_config(&db.url);
    tweak(&mut config);
    let app = start(config, Role::Api, llm, whaticket, db).await;
    app.apply_tenant(&tenant_toml(&app.llm.uri(), &app.whaticket.uri(), "")).await;
    app
}

/// Starts an app over an existing database and mocks (used to restart after a shutdown).
pub async fn start(config: Config, role: Role, llm: MockServer, whaticket: MockServer, db: Arc<TestDb>) -> TestApp {
    let db_url = config.database.url.clone();
    let store = atende::store::connect(&db_url).await.unwrap();
    store.migrate().await.unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let app = App::with_parts(config, role, store.clone(), listener).unwrap();
    let (addr, handler, policy) = (app.addr(), app.handler(), app.retry_policy());
    let shutdown = CancellationToken::new();
    let server = Some(tokio::spawn(app.run_until_stopped(shutdown.clone())));
    TestApp {
        addr,
        store,
        handler,
        policy,
        llm,
        whaticket,
        client: reqwest::Client::new(),
        db_url,
        shutdown,
        server,
        _db: db,
    }
}

/// The documented minimal tenant file, pointed at the mocks, plus `extra` TOML.
pub fn tenant_toml(llm: &str, whaticket: &str, extra: &str) -> String {
    format!(
        r#"
slug = "acme"
name = "ACME Ltda"
[webhook]
secrets = ["old-secret", "{SECRET}"]
inbound_token = "{TOKEN}"
[whaticket]
url = "{whaticket}"
token = "{WHATICKET_TOKEN}"
[persona]
fallback_text = "{FALLBACK_TEXT}"
[llm]
provider = "gemini"
base_url = "{llm}"
api_key = "k"
model = "gemini-2.0-flash"
{extra}
"#
    )
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn apply_tenant(&self, toml_text: &str) {
        let file: TenantFile = toml::from_str(toml_text).unwrap();
        file.validate().unwrap();
        self.store.upsert_tenant(&file, OffsetDateTime::now_utc()).await.unwrap();
    }

    /// POSTs a generic message signed with the tenant's current secret.
    pub async fn post_generic(&self, body: &Value) -> reqwest::Response {
        self.post_signed("/webhook/acme/generic", SECRET, OffsetDateTime::now_utc().unix_timestamp(), body.to_string())
            .await
    }

    pub async fn post_signed(&self, path: &str, secret: &str, timestamp: i64, body: String) -> reqwest::Response {
        let signature = sign_generic(secret, timestamp, body.as_bytes());
        self.client
            .post(self.url(path))
            .header("content-type", "application/json")
            .header("x-atende-timestamp", timestamp.to_string())
            .header("x-atende-signature", signature)
            .body(body)
            .send()
            .await
            .unwrap()
    }

    pub async fn post_whaticket(&self, token: &str, body: &Value) -> reqwest::Response {
        self.client.post(self.url(&format!("/webhook/acme/whaticket?token={token}"))).json(body).send().await.unwrap()
    }

    /// Runs every job due within a day, advancing a virtual clock instead of sleeping.
    pub async fn drain(&self) -> Drained {
        self.drain_from(OffsetDateTime::now_utc(), Duration::from_secs(86_400)).await
    }

    pub async fn drain_from(&self, start: OffsetDateTime, horizon: Duration) -> Drained {
        drain(&self.store, &self.handler, self.policy, start, horizon).await.unwrap()
    }

    /// Bodies Whaticket received on `/api/messages/send`, in order.
    pub async fn sent(&self) -> Vec<Value> {
        bodies(&self.whaticket, "/api/messages/send").await
    }

    /// Bodies the LLM received, in order.
    pub async fn llm_requests(&self) -> Vec<Value> {
        bodies(&self.llm, GEMINI_PATH).await
    }

    /// LLM requests for answers: without the hand-off summaries written for agents.
    pub async fn llm_answer_requests(&self) -> Vec<Value> {
        let handoff_summary = |r: &Value| r.to_string().contains("passagem de um atendimento para um atendente humano");
        self.llm_requests().await.into_iter().filter(|r| !handoff_summary(r)).collect()
    }

    /// Counts rows through the public store API: (conversations of the contact, dead letters).
    pub async fn conversation_exists(&self, contact: &str) -> bool {
        let tenant = self.store.find_tenant("acme").await.unwrap().unwrap();
        self.store.find_conversation(tenant.id, contact).await.unwrap().is_some()
    }

    pub async fn stop(&mut self) {
        self.shutdown.cancel();
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
    }
}

async fn bodies(server: &MockServer, wanted: &str) -> Vec<Value> {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|r| r.url.path() == wanted)
        .map(|r| serde_json::from_slice(&r.body).unwrap_or(Value::Null))
        .collect()
}

/// A generic message body.
pub fn generic(id: &str, from: &str, text: &str) -> Value {
    json!({ "id": id, "from": from, "name": "Maria", "text": text,
            "timestamp": OffsetDateTime::now_utc().unix_timestamp(), "ticket_id": "123" })
}

/// Posts `body` to `{base}/webhook/acme/generic` of a spawned `atende serve`, signed with
/// [`SECRET`] now.
pub async fn post_generic_to(client: &reqwest::Client, base: &str, body: &Value) -> reqwest::Response {
    post_generic_signed_to(client, base, SECRET, body).await
}

/// [`post_generic_to`] signed with `secret`.
pub async fn post_generic_signed_to(
    client: &reqwest::Client,
    base: &str,
    secret: &str,
    body: &Value,
) -> reqwest::Response {
    let (body, timestamp) = (body.to_string(), OffsetDateTime::now_utc().unix_timestamp());
    client
        .post(format!("{base}/webhook/acme/generic"))
        .header("x-atende-timestamp", timestamp.to_string())
        .header("x-atende-signature", sign_generic(secret, timestamp, body.as_bytes()))
        .body(body)
        .send()
        .await
        .unwrap()
}

/// Waits (at most 20 s) until a spawned `atende serve` answers `/health`.
pub async fn wait_healthy(client: &reqwest::Client, base: &str) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while client.get(format!("{base}/health")).send().await.is_err() {
        assert!(std::time::Instant::now() < deadline, "atende serve did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A Gemini answer.
pub fn gemini_text(text: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({
        "candidates": [{ "content": { "role": "model", "parts": [{ "text": text }] }, "finishReason": "STOP", "index": 0 }],
        "usageMetadata": { "promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15 },
        "modelVersion": "gemini-2.0-flash"
    }))
}

pub fn gemini_error(status: u16, grpc: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .set_body_json(json!({ "error": { "code": status, "message": "failure", "status": grpc } }))
}

pub async fn mount_gemini(server: &MockServer, text: &str) {
    Mock::given(method("POST")).and(path(GEMINI_PATH)).respond_with(gemini_text(text)).mount(server).await;
}

pub async fn mount_whaticket_ok(server: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/api/messages/send"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "mensagem": "Mensagem enviada" })))
        .mount(server)
        .await;
}

/// The text of the last user turn Gemini received, without the `<customer_message>` fences.
pub fn last_user_text(request: &Value) -> String {
    let contents = request["contents"].as_array().cloned().unwrap_or_default();
    let text = contents
        .iter()
        .rev()
        .find(|c| c["role"] == "user")
        .and_then(|c| c["parts"][0]["text"].as_str())
        .unwrap_or_default();
    unfence(text)
}

/// Removes the fences Atende puts around customer text.
pub fn unfence(text: &str) -> String {
    text.replace("<customer_message>\n", "")
        .replace("\n</customer_message>", "")
        .replace("<customer_message>", "")
        .replace("</customer_message>", "")
}

/// Runs `command` with `input` on its stdin and collects its output.
pub fn output_with_stdin(mut command: std::process::Command, input: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = command.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}
