//! The database of one scenario: a SQLite file in the scenario's temp dir, or a fresh
//! PostgreSQL schema (`bench_<random>`) dropped at the end, like `tests/e2e/helpers.rs` does.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

/// The default local server tried when no URL is given.
pub const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which store a scenario runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file.
    Sqlite,
    /// A schema in the database of this server URL.
    Postgres(String),
}

impl Backend {
    /// Short name for tables.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Sqlite => "SQLite",
            Self::Postgres(_) => "PostgreSQL",
        }
    }
}

/// The PostgreSQL server to use: `explicit`, else `ATENDE_BENCH_POSTGRES_URL`, else
/// `ATENDE_TEST_POSTGRES_URL`, else [`DEFAULT_POSTGRES_URL`] if it accepts a connection.
/// `Err` says why PostgreSQL is skipped.
pub async fn find_postgres(explicit: Option<&str>) -> Result<String, String> {
    let from_env = ["ATENDE_BENCH_POSTGRES_URL", "ATENDE_TEST_POSTGRES_URL"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.trim().is_empty()));
    let (url, source) = match (explicit, from_env) {
        (Some(url), _) => (url.to_string(), "--postgres-url"),
        (None, Some(url)) => (url, "environment"),
        (None, None) => (DEFAULT_POSTGRES_URL.to_string(), "default"),
    };
    let connect = tokio::time::timeout(Duration::from_secs(3), PgConnection::connect(&url)).await;
    match connect {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(url)
        }
        Ok(Err(err)) => Err(format!("{} ({source}) does not accept connections: {err}", redact(&url))),
        Err(_) => Err(format!("{} ({source}) did not answer within 3 s", redact(&url))),
    }
}

/// The server settings that shape the figures, e.g. "PostgreSQL 15.2, synchronous_commit=on, …".
pub async fn server_settings(url: &str) -> anyhow::Result<String> {
    let mut conn = PgConnection::connect(url).await.context("connect to PostgreSQL")?;
    let mut parts = Vec::new();
    for name in ["server_version", "synchronous_commit", "fsync", "max_connections", "shared_buffers"] {
        let value: String = sqlx::query_scalar("SELECT current_setting($1)")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .with_context(|| format!("current_setting({name})"))?;
        parts.push(format!("{name}={value}"));
    }
    let _ = conn.close().await;
    Ok(parts.join(", "))
}

/// One scenario's database.
pub struct Db {
    /// The `database.url` Atende is given.
    pub url: String,
    /// (server URL, schema) still to drop.
    schema: Option<(String, String)>,
}

impl Db {
    /// A SQLite file in `dir`, or a new schema on the PostgreSQL server.
    pub async fn create(backend: &Backend, dir: &Path) -> anyhow::Result<Self> {
        match backend {
            Backend::Sqlite => Ok(Self { url: format!("sqlite://{}", dir.join("atende.db").display()), schema: None }),
            Backend::Postgres(server) => {
                let schema = format!("bench_{}", uuid::Uuid::new_v4().simple());
                let mut conn = PgConnection::connect(server).await.context("connect to PostgreSQL")?;
                sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
                    .execute(&mut conn)
                    .await
                    .with_context(|| format!("CREATE SCHEMA {schema}"))?;
                let _ = conn.close().await;
                let separator = if server.contains('?') { '&' } else { '?' };
                Ok(Self {
                    url: format!("{server}{separator}options[search_path]={schema}"),
                    schema: Some((server.clone(), schema)),
                })
            }
        }
    }

    /// Drops the PostgreSQL schema (no-op for SQLite; the temp dir holds the file).
    pub async fn drop_schema(&mut self) -> anyhow::Result<()> {
        let Some((server, schema)) = self.schema.take() else { return Ok(()) };
        drop_schema(&server, &schema).await
    }
}

async fn drop_schema(server: &str, schema: &str) -> anyhow::Result<()> {
    let mut conn = PgConnection::connect(server).await.context("connect to PostgreSQL")?;
    sqlx::query("SET lock_timeout = '5s'").execute(&mut conn).await.context("SET lock_timeout")?;
    sqlx::query(AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {schema} CASCADE")))
        .execute(&mut conn)
        .await
        .with_context(|| format!("DROP SCHEMA {schema}"))?;
    let _ = conn.close().await;
    Ok(())
}

impl Drop for Db {
    /// A scenario that failed or panicked before [`Db::drop_schema`] still drops its schema,
    /// from a thread with its own runtime (the bench's runtime cannot be blocked on).
    fn drop(&mut self) {
        let Some((server, schema)) = self.schema.take() else { return };
        let name = schema.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            runtime.block_on(drop_schema(&server, &schema))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop the bench schema {name}: {dropped:?}");
        }
    }
}

/// Hides a password in a database URL.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme && url[scheme + 3..at].contains(':') => {
            let user = url[scheme + 3..at].split(':').next().unwrap_or_default();
            format!("{}{user}:***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_string(),
    }
}
