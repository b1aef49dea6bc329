//! The writer thread: the store's only read-write connection, with group commit.
//!
//! Every unit of work that writes (and the reads that must see the newest data) is a
//! closure sent to one OS thread, `atende-sqlite-writer`, which owns one `rusqlite`
//! connection. The thread blocks for the first request, takes whatever else is already
//! queued (no timed wait; at most [`MAX_BATCH`]), and runs them all in one transaction:
//!
//! ```text
//! BEGIN IMMEDIATE
//!   SAVEPOINT request; <closure 1>; RELEASE request            -- Ok(Tx::Commit(_))
//!   SAVEPOINT request; <closure 2>; ROLLBACK TO request; RELEASE request  -- Err or Tx::Rollback
//!   …
//! COMMIT
//! ```
//!
//! Each request is isolated by its savepoint: one that fails, panics or asks for a rollback
//! (`record_inbound` of a duplicate undoes its conversation upsert) leaves the others
//! untouched. Answers go back only after `COMMIT` succeeds, so nothing is acknowledged that
//! is not durable; when the transaction cannot commit (or SQLite aborts it), every request
//! that ran in it gets the error. Under load a single commit covers hundreds of requests;
//! when idle a request is its own batch and waits for nobody.
//!
//! Why hand-rolled: sqlx-sqlite runs each statement on a worker thread behind a channel,
//! so a unit of work of N statements costs N round trips between threads (and commits one
//! by one); no crate offers a group-committing SQLite writer that fits the `Store` trait.
//! `rusqlite` runs statements synchronously, so here a unit of work costs one handoff to
//! this thread and one back, however many statements it runs.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::sql::{SqliteError, control};
use crate::store::{Result, StoreError};

/// Most requests one transaction takes; more wait for the next one.
pub(super) const MAX_BATCH: usize = 512;

/// What a write closure wants done with its changes.
#[derive(Debug)]
pub(super) enum Tx<T> {
    /// Keep them (release the request's savepoint) and answer `T`.
    Commit(T),
    /// Undo them (roll back to the request's savepoint) and still answer `T`.
    Rollback(T),
}

/// Handle on the writer thread; clones share it. The thread ends when every handle is gone.
#[derive(Debug, Clone)]
pub(super) struct Writer {
    requests: mpsc::Sender<Box<dyn Request>>,
}

impl Writer {
    /// Starts the writer thread on `conn`.
    pub(super) fn start(conn: Connection) -> Result<Self> {
        let (requests, queue) = mpsc::channel();
        std::thread::Builder::new()
            .name("atende-sqlite-writer".into())
            .spawn(move || run(&conn, &queue))
            .map_err(|e| StoreError::from(SqliteError::other(format!("cannot start the SQLite writer: {e}"))))?;
        Ok(Self { requests })
    }

    /// Runs `work` in the next transaction; its changes are kept when it returns `Ok`.
    pub(super) async fn write<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        self.transact(move |conn| work(conn).map(Tx::Commit)).await
    }

    /// Runs `work` in the next transaction; it chooses whether its changes are kept.
    pub(super) async fn transact<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<Tx<T>> + Send + 'static,
    {
        self.submit(work)?.await.map_err(|_| crashed())?
    }

    /// Queues `work` now; the answer comes on the returned channel after its batch.
    fn submit<T, F>(&self, work: F) -> Result<oneshot::Receiver<Result<T>>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<Tx<T>> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let request = Pending { work: Some(work), outcome: None, reply };
        self.requests.send(Box::new(request)).map_err(|_| crashed())?;
        Ok(answer)
    }
}

/// The error of a request whose thread is gone.
pub(super) fn crashed() -> StoreError {
    StoreError::Database(sqlx::Error::WorkerCrashed)
}

/// A queued request, type-erased.
trait Request: Send {
    /// Runs the work inside its savepoint; true keeps its changes.
    fn run(&mut self, conn: &Connection) -> bool;
    /// Answers the caller: its own outcome once the batch committed, or `failed` (unless its
    /// own outcome is already an error).
    fn finish(self: Box<Self>, failed: Option<&SqliteError>);
}

struct Pending<T, F> {
    work: Option<F>,
    outcome: Option<Result<T>>,
    reply: oneshot::Sender<Result<T>>,
}

impl<T, F> Request for Pending<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> Result<Tx<T>> + Send + 'static,
{
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else { return false };
        let (keep, outcome) = match catch_unwind(AssertUnwindSafe(|| work(conn))) {
            Ok(Ok(Tx::Commit(value))) => (true, Ok(value)),
            Ok(Ok(Tx::Rollback(value))) => (false, Ok(value)),
            Ok(Err(error)) => (false, Err(error)),
            // The panic message was printed by the panic hook; keep values out of the error.
            Err(_) => (false, Err(SqliteError::other("a store request panicked; it was rolled back").into())),
        };
        self.outcome = Some(outcome);
        keep
    }

    fn finish(self: Box<Self>, failed: Option<&SqliteError>) {
        let outcome = match (self.outcome, failed) {
            (Some(Err(own)), _) => Err(own),
            (_, Some(error)) => Err(error.clone().into()),
            (Some(Ok(value)), None) => Ok(value),
            (None, None) => Err(SqliteError::other("the store request did not run").into()),
        };
        // The caller may have gone away (its future dropped): nobody to tell.
        let _ = self.reply.send(outcome);
    }
}

/// The writer thread's loop: until every [`Writer`] is dropped.
fn run(conn: &Connection, queue: &mpsc::Receiver<Box<dyn Request>>) {
    let mut batch: VecDeque<Box<dyn Request>> = VecDeque::new();
    loop {
        if batch.is_empty() {
            match queue.recv() {
                Ok(request) => batch.push_back(request),
                Err(mpsc::RecvError) => return,
            }
        }
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(request) => batch.push_back(request),
                Err(_) => break,
            }
        }
        run_batch(conn, &mut batch);
    }
}

/// Runs up to [`MAX_BATCH`] requests from the front of `batch` in one transaction and
/// answers them; requests left (after an aborted transaction) wait for the next one.
fn run_batch(conn: &Connection, batch: &mut VecDeque<Box<dyn Request>>) {
    if let Err(error) = control(conn, "BEGIN IMMEDIATE") {
        // Nothing ran (the lock could not be had): everyone queued gets the error.
        for request in batch.drain(..) {
            request.finish(Some(&error));
        }
        return;
    }
    let mut ran: Vec<Box<dyn Request>> = Vec::with_capacity(batch.len().min(MAX_BATCH));
    let mut aborted = None;
    while ran.len() < MAX_BATCH
        && let Some(mut request) = batch.pop_front()
    {
        let step = run_one(conn, &mut *request);
        ran.push(request);
        if let Err(error) = step {
            aborted = Some(error);
            break;
        }
    }
    let failed = match aborted {
        Some(error) => Some(error),
        None => control(conn, "COMMIT").err(),
    };
    if failed.is_some() && !conn.is_autocommit() {
        // Best effort: if even ROLLBACK fails, the next BEGIN reports the broken connection.
        let _ = control(conn, "ROLLBACK");
    }
    for request in ran {
        request.finish(failed.as_ref());
    }
}

/// Runs one request inside its savepoint. An error means the whole transaction is lost.
fn run_one(conn: &Connection, request: &mut dyn Request) -> std::result::Result<(), SqliteError> {
    control(conn, "SAVEPOINT request")?;
    let keep = request.run(conn);
    if conn.is_autocommit() {
        // SQLite rolled the whole transaction back (disk full, I/O error…).
        return Err(SqliteError::other("SQLite rolled the transaction back; nothing of it was stored"));
    }
    if !keep {
        control(conn, "ROLLBACK TO request")?;
    }
    control(conn, "RELEASE request")
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc as std_mpsc;
    use std::time::Duration;

    use rusqlite::params;

    use super::*;
    use crate::store::sqlite::sql::{execute, query_all};

    /// A writer on a fresh database with a table `t (v)` and a deferred foreign key.
    fn writer() -> (Writer, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let conn = Connection::open(dir.path().join("w.db")).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;
             CREATE TABLE t (v TEXT NOT NULL UNIQUE);
             CREATE TABLE child (parent TEXT REFERENCES t (v) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        (Writer::start(conn).unwrap(), dir)
    }

    fn insert(conn: &Connection, v: &str) -> Result<u64> {
        execute(conn, "INSERT INTO t (v) VALUES (?1)", params![v])
    }

    async fn values(writer: &Writer) -> Vec<String> {
        writer.write(|conn| query_all(conn, "SELECT v FROM t ORDER BY v", [], |row| Ok(row.get(0)?))).await.unwrap()
    }

    /// Blocks the writer until the returned sender is used, so that what is submitted
    /// meanwhile is queued (and then runs as one batch).
    fn hold(writer: &Writer) -> (std_mpsc::Sender<()>, oneshot::Receiver<Result<()>>) {
        let (release, wait) = std_mpsc::channel::<()>();
        let held = writer
            .submit(move |_| {
                wait.recv().unwrap();
                Ok(Tx::Commit(()))
            })
            .unwrap();
        (release, held)
    }

    /// Queues `work` in order, behind the held request.
    fn submit<T: Send + 'static>(
        writer: &Writer,
        work: impl FnOnce(&Connection) -> Result<Tx<T>> + Send + 'static,
    ) -> oneshot::Receiver<Result<T>> {
        writer.submit(work).unwrap()
    }

    #[tokio::test]
    async fn one_batch_isolates_failures_rollbacks_and_panics() {
        let (writer, _dir) = writer();
        let (release, held) = hold(&writer);
        let kept = submit(&writer, |conn| insert(conn, "a").map(Tx::Commit));
        let failed = submit(&writer, |conn| {
            insert(conn, "b")?;
            insert(conn, "a").map(Tx::Commit) // unique violation after a change of its own
        });
        let rolled_back = submit(&writer, |conn| insert(conn, "c").map(Tx::Rollback));
        let panicked = submit(&writer, |conn| -> Result<Tx<u64>> {
            insert(conn, "d")?;
            panic!("boom")
        });
        let sees_a = submit(&writer, |conn| {
            let seen: Vec<String> = query_all(conn, "SELECT v FROM t", [], |row| Ok(row.get(0)?))?;
            insert(conn, "e")?;
            Ok(Tx::Commit(seen))
        });
        release.send(()).unwrap();
        held.await.unwrap().unwrap();

        assert_eq!(kept.await.unwrap().unwrap(), 1);
        let error = failed.await.unwrap().unwrap_err();
        assert!(error.to_string().contains("UNIQUE constraint failed"), "{error}");
        assert_eq!(rolled_back.await.unwrap().unwrap(), 1, "a rollback still answers its value");
        let error = panicked.await.unwrap().unwrap_err();
        assert!(error.to_string().contains("panicked"), "{error}");
        assert_eq!(sees_a.await.unwrap().unwrap(), vec!["a".to_string()], "earlier requests of the batch are visible");
        assert_eq!(values(&writer).await, ["a", "e"], "only the kept requests' changes remain");
    }

    #[tokio::test]
    async fn when_the_commit_fails_every_request_of_the_batch_gets_the_error() {
        let (writer, _dir) = writer();
        writer.write(|conn| insert(conn, "before")).await.unwrap();
        let (release, held) = hold(&writer);
        let innocent = submit(&writer, |conn| insert(conn, "x").map(Tx::Commit));
        // A deferred foreign key is only checked at COMMIT.
        let culprit =
            submit(&writer, |conn| execute(conn, "INSERT INTO child (parent) VALUES ('nobody')", []).map(Tx::Commit));
        release.send(()).unwrap();
        // The held request may share the failed batch (if the writer saw the others queued).
        let _ = held.await.unwrap();

        for answer in [innocent.await.unwrap(), culprit.await.unwrap()] {
            let error = answer.unwrap_err();
            assert!(error.to_string().contains("FOREIGN KEY constraint failed"), "{error}");
        }
        assert_eq!(values(&writer).await, ["before"], "nothing of the failed batch is stored");
        // The writer goes on.
        writer.write(|conn| insert(conn, "y")).await.unwrap();
        assert_eq!(values(&writer).await, ["before", "y"]);
    }

    #[tokio::test]
    async fn the_thread_ends_and_closes_its_connection_when_every_handle_is_dropped() {
        let (writer, dir) = writer();
        writer.write(|conn| insert(conn, "z")).await.unwrap();
        let wal = dir.path().join("w.db-wal");
        assert!(wal.exists());
        drop(writer);
        // The last connection to close checkpoints and removes the WAL file.
        for _ in 0..100 {
            if !wal.exists() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("the writer thread kept its connection open");
    }
}
