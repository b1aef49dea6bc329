//! PostgreSQL implementation, for several Atende processes sharing one database.
//!
//! Same tables and semantics as the SQLite store. Where SQLite serialises writers with
//! `BEGIN IMMEDIATE`, writes here lock the rows they depend on (the conversation row for
//! anything that touches a conversation, `FOR UPDATE SKIP LOCKED` for claims), so two
//! processes can neither double-insert a reply job nor race a burst merge.

mod access;
mod fallback;
mod handoffs;
mod jobs;
mod knowledge;
mod messages;
mod spend;
mod surveys;
mod tenants;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};

pub(super) use super::encode::{corrupt, decode_flags, decode_managed, from_ms, ms};
use super::{MigrationStatus, Result, Store, StoreError};

/// How long a caller waits for a connection before the store reports an error (ingress then
/// answers 503 while the database is down, and recovers by itself when it is back).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(5);
/// Server-side cap on any one statement, so a stuck query cannot hold a lease or a row lock forever.
const STATEMENT_TIMEOUT: &str = "30s";

/// PostgreSQL-backed [`Store`].
#[derive(Debug, Clone)]
pub struct PgStore {
    /// Shared pool; connections are checked before use, so a restarted server is reconnected to.
    pool: PgPool,
}

impl PgStore {
    /// Connects to `url` (`postgres://…`) with the default pool size; creates and migrates nothing.
    pub async fn open(url: &str) -> Result<Self> {
        Self::open_with(url, super::StoreOptions::default().max_connections).await
    }

    /// Connects to `url` with a pool of at most `max_connections` (at least 1): workers and
    /// ingress share it, and N processes open up to N times this.
    pub async fn open_with(url: &str, max_connections: u32) -> Result<Self> {
        let mut options = PgConnectOptions::from_str(url)?.options([("statement_timeout", STATEMENT_TIMEOUT)]);
        // Name our connections in pg_stat_activity, unless the URL names them itself.
        if !url.contains("application_name=") {
            options = options.application_name("atende");
        }
        // One direct connection first: a pool reports only "timed out" when the server refuses,
        // while this names the cause (refused, unknown database, authentication).
        PgConnection::connect_with(&options).await?.close().await?;
        let pool = PgPoolOptions::new()
            .max_connections(max_connections.max(1))
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .test_before_acquire(true)
            .connect_with(options)
            .await?;
        Ok(Self { pool })
    }
}

#[async_trait]
impl Store for PgStore {
    async fn migrate(&self) -> Result<()> {
        let status = self.migration_status().await?;
        if !status.unknown.is_empty() {
            return Err(StoreError::SchemaTooNew(status.unknown));
        }
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    async fn migration_status(&self) -> Result<MigrationStatus> {
        // `to_regclass` resolves through `search_path`, where the migrator creates its table.
        let exists: bool =
            sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL").fetch_one(&self.pool).await?;
        let applied: Vec<i64> = if exists {
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                .fetch_all(&self.pool)
                .await?
        } else {
            Vec::new()
        };
        Ok(super::migration_status(&MIGRATOR, &applied))
    }

    async fn claim_profile(&self, profile: &str) -> Result<String> {
        sqlx::query("INSERT INTO instance (key, value) VALUES ('profile', $1) ON CONFLICT (key) DO NOTHING")
            .bind(profile)
            .execute(&self.pool)
            .await?;
        Ok(sqlx::query_scalar("SELECT value FROM instance WHERE key = 'profile'").fetch_one(&self.pool).await?)
    }

    async fn ping(&self) -> Result<()> {
        // Touch a real table, so a database that was never migrated is noticed.
        sqlx::query("SELECT 1 FROM tenants LIMIT 1").execute(&self.pool).await?;
        Ok(())
    }
}

static MIGRATOR: Migrator = sqlx::migrate!("migrations/postgres");

/// Whether `error` is a unique violation (SQLSTATE 23505), e.g. on `jobs_one_running_per_key`.
fn is_unique_violation(error: &sqlx::Error) -> bool {
    error.as_database_error().and_then(|e| e.code()).is_some_and(|code| code == "23505")
}
