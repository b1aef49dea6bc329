//! SQLite implementation: WAL, one writer thread that owns the only read-write connection
//! and commits requests in groups (writes never contend for the lock, and one `COMMIT`
//! covers every request that queued while the previous one ran), and a small pool of
//! read-only connections for plain reads.
//!
//! Statements run synchronously on `rusqlite` connections owned by dedicated threads, so a
//! unit of work costs one handoff to its thread and one back, however many statements it
//! runs (see [`writer`] for why this is hand-rolled). `sqlx` is still used for the
//! migrations: `migrate` opens a short-lived `sqlx` pool on the same file to run the
//! embedded migrator.

mod access;
mod fallback;
mod fts_query;
mod handoffs;
mod jobs;
mod knowledge;
mod messages;
mod readers;
mod spend;
mod sql;
mod surveys;
mod tenants;
mod writer;

use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Connection, OpenFlags};
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use self::readers::Readers;
use self::writer::Writer;
use super::{MigrationStatus, Result, Store, StoreError};

/// How long a connection waits for a lock another process holds.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);
/// Read-only connections (one thread each).
const READERS: usize = 4;
/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;

/// SQLite-backed [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    /// The only read-write connection, on its own thread: SQLite allows one writer at a
    /// time, so queueing writes here avoids `SQLITE_BUSY` on upgrade from read to write,
    /// and lets one `COMMIT` cover many requests.
    writer: Writer,
    /// Readers see committed data through WAL while the writer works.
    readers: Readers,
    /// How `sqlx` opens the same database, for the migrations.
    options: SqliteConnectOptions,
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
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let file = options.get_filename().to_path_buf();
        let (writer, readers) = tokio::task::spawn_blocking(move || -> Result<(Writer, Readers)> {
            // The writer first: it creates the file and switches it to WAL.
            let writer = Writer::start(open_connection(&file, Access::Write { create })?)?;
            let readers = (0..READERS).map(|_| open_connection(&file, Access::Read)).collect::<Result<Vec<_>>>()?;
            Ok((writer, Readers::start(readers)?))
        })
        .await
        .map_err(|_| writer::crashed())??;
        Ok(Self { writer, readers, options })
    }
}

/// What a connection is for.
#[derive(Clone, Copy)]
enum Access {
    /// The writer's connection; creates the file if asked.
    Write { create: bool },
    /// A read-only connection.
    Read,
}

/// Opens one connection with the settings every connection of the store has.
fn open_connection(file: &Path, access: Access) -> Result<Connection> {
    let mut flags = OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI;
    flags |= match access {
        Access::Write { create: true } => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        Access::Write { create: false } => OpenFlags::SQLITE_OPEN_READ_WRITE,
        Access::Read => OpenFlags::SQLITE_OPEN_READ_ONLY,
    };
    // `sqlite::memory:` is parsed by sqlx into a named in-memory database; open the same
    // one (shared cache) so the writer, the readers and the migrations see one database.
    if file.to_str().is_some_and(|name| name.starts_with("file:sqlx-in-memory-")) {
        flags |= OpenFlags::SQLITE_OPEN_MEMORY | OpenFlags::SQLITE_OPEN_SHARED_CACHE;
    }
    let conn = Connection::open_with_flags(file, flags)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    if let Access::Write { .. } = access {
        // journal_mode answers with the mode now in force: read it, don't execute it.
        let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
        conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;")?;
    }
    Ok(conn)
}

#[async_trait]
impl Store for SqliteStore {
    async fn migrate(&self) -> Result<()> {
        let status = self.migration_status().await?;
        if !status.unknown.is_empty() {
            return Err(StoreError::SchemaTooNew(status.unknown));
        }
        // A short-lived sqlx pool runs the embedded migrator; the writer thread is idle
        // meanwhile (nothing else writes before the schema is there), and its cached
        // statements are prepared again by SQLite when they see the new schema.
        let pool = SqlitePoolOptions::new().max_connections(1).connect_with(self.options.clone()).await?;
        let migrated = MIGRATOR.run(&pool).await;
        pool.close().await;
        migrated?;
        Ok(())
    }

    async fn migration_status(&self) -> Result<MigrationStatus> {
        let applied = self
            .writer
            .write(|conn| {
                let exists = sql::query_opt(
                    conn,
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name = '_sqlx_migrations'",
                    [],
                    |row| Ok(row.get::<_, String>(0)?),
                )?;
                match exists {
                    Some(_) => sql::query_all(
                        conn,
                        "SELECT version FROM _sqlx_migrations WHERE success ORDER BY version",
                        [],
                        |row| Ok(row.get::<_, i64>(0)?),
                    ),
                    None => Ok(Vec::new()),
                }
            })
            .await?;
        Ok(super::migration_status(&MIGRATOR, &applied))
    }

    async fn claim_profile(&self, profile: &str) -> Result<String> {
        let profile = profile.to_string();
        self.writer
            .write(move |conn| {
                sql::execute(
                    conn,
                    "INSERT INTO instance (key, value) VALUES ('profile', ?1) ON CONFLICT (key) DO NOTHING",
                    [&profile],
                )?;
                sql::query_one(conn, "SELECT value FROM instance WHERE key = 'profile'", [], |row| Ok(row.get(0)?))
            })
            .await
    }

    async fn ping(&self) -> Result<()> {
        // Touch a real table, so a missing or unreadable database file is noticed.
        self.readers
            .read(|conn| {
                sql::query_opt(conn, "SELECT 1 FROM tenants LIMIT 1", [], |_| Ok(()))?;
                Ok(())
            })
            .await
    }
}

static MIGRATOR: Migrator = sqlx::migrate!("migrations/sqlite");

pub(super) use super::encode::{corrupt, decode_flags, decode_managed, from_ms, ms};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::TenantStore;

    #[tokio::test]
    async fn an_in_memory_database_is_one_database_for_the_writer_the_readers_and_the_migrations() {
        let store = SqliteStore::open("sqlite::memory:", true).await.unwrap();
        store.migrate().await.unwrap();
        assert!(store.migration_status().await.unwrap().pending.is_empty());
        let file: crate::config::tenant::TenantFile = toml::from_str("slug = \"acme\"\nname = \"ACME\"").unwrap();
        store.upsert_tenant(&file, time::OffsetDateTime::now_utc()).await.unwrap();
        assert_eq!(store.find_tenant("acme").await.unwrap().unwrap().name, "ACME");
        store.ping().await.unwrap();
    }

    #[tokio::test]
    async fn a_missing_file_is_not_created_when_not_asked_to() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("none.db").display());
        assert!(matches!(SqliteStore::open(&url, false).await, Err(StoreError::Missing)));
        assert!(!dir.path().join("none.db").exists());
    }
}
