//! Dead-letter operations, one API for the CLI, the admin API and the panel.

use time::OffsetDateTime;

use crate::domain::JobId;
use crate::store::{DeadLetterFilter, JobRecord, Store, StoreError};

/// Why a dead-letter operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    /// No job has this id.
    #[error("job {0} not found")]
    NotFound(JobId),
    /// The job exists but is not a dead letter.
    #[error("job {0} is not a dead letter (state: {1})")]
    NotDead(JobId, &'static str),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Dead letters matching `filter`, newest first.
pub async fn list(store: &dyn Store, filter: &DeadLetterFilter) -> Result<Vec<JobRecord>, DeadLetterError> {
    Ok(store.list_dead_letters(filter).await?)
}

/// One job with its history (dead or not, so an operator can follow a replay).
pub async fn show(store: &dyn Store, id: JobId) -> Result<JobRecord, DeadLetterError> {
    store.find_job(id).await?.ok_or(DeadLetterError::NotFound(id))
}

/// Queues a dead letter again with attempts reset; its history is kept.
pub async fn replay(store: &dyn Store, id: JobId, now: OffsetDateTime) -> Result<(), DeadLetterError> {
    if store.replay_dead_letter(id, now).await? {
        return Ok(());
    }
    Err(not_dead(store, id).await)
}

/// Throws a dead letter away.
pub async fn discard(store: &dyn Store, id: JobId, now: OffsetDateTime) -> Result<(), DeadLetterError> {
    if store.discard_dead_letter(id, now).await? {
        return Ok(());
    }
    Err(not_dead(store, id).await)
}

async fn not_dead(store: &dyn Store, id: JobId) -> DeadLetterError {
    match store.find_job(id).await {
        Ok(Some(job)) => DeadLetterError::NotDead(id, job.state.as_str()),
        Ok(None) => DeadLetterError::NotFound(id),
        Err(err) => err.into(),
    }
}
