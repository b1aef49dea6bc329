//! SQLite implementation: WAL, one writer connection (writes never contend for the
//! lock), a small pool of readers.

mod jobs;
mod knowledge;
mod messages;
mod tenants;

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous};

use sqlx::migrate::Migrator;

use super::{MigrationStatus, Result, Store, StoreError};

/// SQLite-backed [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// Single connection: SQLite allows one writer at a time, so queueing writes here
    /// avoids `SQLITE_BUSY` on upgrade from read to write.
    writer: SqlitePool,
    /// Readers see committed data through WAL while the writer works.
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens the database at `url` (`sqlite://path`), creating the file if `create`.
    pub async fn open(url: &str, create: bool) -> Result<Self> {
        let options = SqliteConnectOptions::from_str(url)?;
        if !create && !options.get_filename().exists() {
            return Err(StoreError::Missing);
        }
        let options = options
            .create_if_missing(create)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(true);
        let writer = SqlitePoolOptions::new().max_connections(1).connect_with(options.clone()).await?;
        let reader = SqlitePoolOptions::new().max_connections(4).connect_with(options.read_only(true)).await?;
        Ok(Self { writer, reader })
    }
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        let status = self.migration_status().await?;
        if !status.unknown.is_empty() {
            return Err(StoreError::SchemaTooNew(status.unknown));
        }
        MIGRATOR.run(&self.writer).await?;
        Ok(())
    }

    async fn migration_status(&self) -> Result<MigrationStatus> {
        let exists: Option<String> =
            sqlx::query_scalar("SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'")
                .fetch_optional(&self.writer)
                .await?;
        let applied: Vec<i64> = match exists {
            Some(_) => {
                sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
                    .fetch_all(&self.writer)
                    .await?
            }
            None => Vec::new(),
        };
        Ok(super::migration_status(&MIGRATOR, &applied))
    }

    async fn ping(&self) -> Result<()> {
        // Touch a real table, so a missing or unreadable database file is noticed.
        sqlx::query("SELECT 1 FROM tenants LIMIT 1").execute(&self.reader).await?;
        Ok(())
    }
}

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

pub(super) use super::encode::{corrupt, from_ms, ms};
