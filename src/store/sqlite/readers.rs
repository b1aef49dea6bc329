//! Read-only connections, one thread each, sharing one queue: plain reads run here, beside
//! the writer, and see what it last committed (WAL).

use std::panic::{AssertUnwindSafe, catch_unwind};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::sql::SqliteError;
use super::writer::crashed;
use crate::store::{Result, StoreError};

type Read = Box<dyn FnOnce(&Connection) + Send>;

/// Handle on the reader threads; clones share them. They end when every handle is gone.
#[derive(Debug, Clone)]
pub(super) struct Readers {
    requests: flume::Sender<Read>,
}

impl Readers {
    /// Starts one thread per connection.
    pub(super) fn start(connections: Vec<Connection>) -> Result<Self> {
        // A multi-consumer queue: each read wakes one idle reader, not a chain of them.
        let (requests, queue) = flume::unbounded::<Read>();
        for (n, conn) in connections.into_iter().enumerate() {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("atende-sqlite-reader-{n}"))
                .spawn(move || {
                    while let Ok(read) = queue.recv() {
                        read(&conn);
                    }
                })
                .map_err(|e| StoreError::from(SqliteError::other(format!("cannot start an SQLite reader: {e}"))))?;
        }
        Ok(Self { requests })
    }

    /// Runs `work` on a read-only connection.
    pub(super) async fn read<T, F>(&self, work: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let read: Read = Box::new(move |conn| {
            let outcome = catch_unwind(AssertUnwindSafe(|| work(conn)))
                .unwrap_or_else(|_| Err(SqliteError::other("a store read panicked").into()));
            let _ = reply.send(outcome);
        });
        self.requests.send(read).map_err(|_| crashed())?;
        answer.await.map_err(|_| crashed())?
    }
}
