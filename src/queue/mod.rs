//! Queue mechanics: the claim loop with lease heartbeats, retry scheduling and the
//! dead-letter operations shared by the CLI (and later the API and panel).
//!
//! Layer 3: may import `domain`, `config`, `telemetry`, `store`. What each job does is
//! in `jobs`; this module only runs a [`JobHandler`].

mod dead_letter;
mod retry;
mod worker;

use std::time::Duration;

use async_trait::async_trait;

use crate::domain::ErrorClass;
use crate::store::{ClaimedJob, JobFailure};

pub use dead_letter::{DeadLetterError, discard, list, replay, show};
pub use retry::backoff;
pub use worker::{Drained, RetryPolicy, Worker, drain, hostname, run_one};

/// What a handler did with a job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobOutcome {
    /// Success; the worker marks the job done.
    Completed,
    /// Success, and the handler's own store write already marked the job done.
    Recorded,
    /// Another worker took the job over (our lease expired); nothing was written.
    LeaseLost,
    /// The handler gave up on recording its result (store down); the job keeps its lease
    /// until it expires and another worker takes it over.
    Abandoned,
}

/// Why a job attempt failed.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct JobError {
    /// Retryable errors are tried again with backoff; permanent ones go to the dead-letter queue.
    pub class: ErrorClass,
    /// Cause, safe to store and show (never a secret).
    pub message: String,
    /// A delay the remote side asked for, used instead of the backoff when longer.
    pub retry_after: Option<Duration>,
}

impl JobError {
    /// A failure that may pass on another attempt.
    pub fn retryable(message: impl Into<String>) -> Self {
        Self { class: ErrorClass::Retryable, message: message.into(), retry_after: None }
    }

    /// A failure that another attempt would repeat.
    pub fn permanent(message: impl Into<String>) -> Self {
        Self { class: ErrorClass::Permanent, message: message.into(), retry_after: None }
    }
}

/// Runs one kind of work; `jobs::Dispatcher` is the product's implementation.
#[async_trait]
pub trait JobHandler: Send + Sync + 'static {
    /// Performs `job`. Called at least once per job; must tolerate being repeated.
    async fn handle(&self, job: &ClaimedJob) -> Result<JobOutcome, JobError>;

    /// Told after `job` became a dead letter (to raise an event); failures are the
    /// handler's to log. The default does nothing.
    async fn dead_lettered(&self, job: &ClaimedJob, failure: &JobFailure) {
        let _ = (job, failure);
    }
}
