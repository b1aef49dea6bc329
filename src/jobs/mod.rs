//! What each job does: `reply` asks the brain and stores the answer with its `deliver`
//! job; `deliver` sends it through the helpdesk; `handoff` writes the summary and moves the
//! ticket to people; `sla` checks a person answered a hand-off in time.
//!
//! Layer 5: may import anything below; never `http`.

mod deliver;
mod handoff;
mod reply;
mod sla;

use std::sync::Arc;

use async_trait::async_trait;

use crate::brain::Brain;
use crate::channel::WhaticketClient;
use crate::config::QueueConfig;
use crate::domain::JobKind;
use crate::queue::{JobError, JobHandler, JobOutcome};
use crate::store::{ClaimedJob, Store, StoreError};

/// Routes each claimed job to its handler.
pub struct Dispatcher {
    store: Arc<dyn Store>,
    brain: Brain,
    whaticket: WhaticketClient,
    queue: QueueConfig,
}

impl Dispatcher {
    /// A dispatcher over the process's shared parts.
    pub fn new(store: Arc<dyn Store>, brain: Brain, whaticket: WhaticketClient, queue: QueueConfig) -> Self {
        Self { store, brain, whaticket, queue }
    }
}

#[async_trait]
impl JobHandler for Dispatcher {
    async fn handle(&self, job: &ClaimedJob) -> Result<JobOutcome, JobError> {
        match job.kind {
            JobKind::Reply => reply::run(self, job).await,
            JobKind::Deliver => deliver::run(self, job).await,
            JobKind::Handoff => handoff::run(self, job).await,
            JobKind::Sla => sla::run(self, job).await,
        }
    }
}

/// Reads an id field of a job's payload.
fn payload_id(job: &ClaimedJob, field: &str) -> Result<i64, JobError> {
    job.payload
        .get(field)
        .and_then(serde_json::Value::as_i64)
        .ok_or_else(|| JobError::permanent(format!("job payload has no integer `{field}`")))
}

/// Store failures are worth retrying: the database may be back by the next attempt.
fn store_error(err: StoreError) -> JobError {
    JobError::retryable(format!("store: {err}"))
}
