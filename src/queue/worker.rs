//! The claim loop.
//!
//! Lifecycle of one worker slot:
//! 1. While slots are free, the dispatcher claims the next runnable jobs, one per free
//!    slot in one batch (a lease of `lease` each); with nothing runnable it waits for a
//!    wake-up, the next due time, the poll interval, or shutdown.
//! 2. Run the handler in its own task, renewing the lease every third of its length; if
//!    the lease is lost, the task is aborted (another worker owns the job now).
//! 3. Record the outcome: done, retry at `now + backoff` (retryable and attempts left), or
//!    dead letter (permanent, or attempts spent).
//! 4. On shutdown, stop claiming; in-flight jobs get `shutdown_grace` to finish. Jobs
//!    still running after that keep their lease until it expires and another worker
//!    takes them: an accepted message is never lost.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use time::OffsetDateTime;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tracing::{Instrument, error, info, info_span, warn};

use super::{JobError, JobHandler, JobOutcome, backoff};
use crate::config::QueueConfig;
use crate::domain::{ErrorClass, JobKind};
use crate::store::{ClaimedJob, JobFailure, Store, StoreError};
use crate::telemetry::metrics as m;

/// Most jobs one claim asks for: enough to fill slots as fast as replies free them, few
/// enough that one claim does not hold the store's writer for long.
const MAX_CLAIM_BATCH: usize = 32;

/// Retry timing.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// First retry delay.
    pub base: Duration,
    /// Longest retry delay.
    pub max: Duration,
    /// Lease length.
    pub lease: Duration,
}

impl RetryPolicy {
    /// Policy from the queue configuration.
    pub fn from_config(config: &QueueConfig) -> Self {
        Self { base: config.backoff_base, max: config.backoff_max, lease: config.lease }
    }
}

/// A pool of worker slots sharing one store and handler.
pub struct Worker {
    store: Arc<dyn Store>,
    handler: Arc<dyn JobHandler>,
    config: QueueConfig,
    /// Distinguishes this process's leases from other processes'.
    id: String,
    /// Poked when new work is enqueued in this process.
    wake: Arc<Notify>,
}

impl Worker {
    /// A worker pool; `wake` lets ingress skip the poll interval.
    pub fn new(store: Arc<dyn Store>, handler: Arc<dyn JobHandler>, config: QueueConfig, wake: Arc<Notify>) -> Self {
        let id = format!("{}-{}", hostname(), uuid::Uuid::now_v7().simple());
        Self { store, handler, config, id, wake }
    }

    /// Runs until `shutdown` fires, then drains in-flight jobs within the grace period.
    ///
    /// One dispatcher claims jobs while a slot is free (one batch for all free slots, at most
    /// [`MAX_CLAIM_BATCH`], in one store round trip) and runs each in its own task; when
    /// nothing is runnable it sleeps until a wake-up (work enqueued or finished in this
    /// process), the next due job, or the poll interval (work enqueued by other processes).
    /// Idle slots therefore cost nothing: only the dispatcher asks the store for work.
    pub async fn run(self, shutdown: CancellationToken) {
        let this = Arc::new(self);
        let slots = this.config.workers.max(1);
        let permits = Arc::new(Semaphore::new(slots));
        let free = Arc::new(Mutex::new((0..slots).rev().collect::<Vec<usize>>()));
        let policy = RetryPolicy::from_config(&this.config);
        let mut running = tokio::task::JoinSet::new();
        info!(worker = %this.id, slots, "queue worker started");
        loop {
            let permit = tokio::select! {
                _ = shutdown.cancelled() => break,
                permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
            };
            while running.try_join_next().is_some() {}
            // One claim per free slot, up to a batch: one round trip to the store for all.
            let mut batch = vec![permit];
            while batch.len() < MAX_CLAIM_BATCH
                && let Ok(permit) = permits.clone().try_acquire_owned()
            {
                batch.push(permit);
            }
            let slots: Vec<usize> = {
                let mut free = lock(&free);
                let at = free.len() - batch.len();
                free.split_off(at)
            };
            let owners: Vec<String> = slots.iter().map(|slot| format!("{}/{slot}", this.id)).collect();
            let claimed = this.store.claim_jobs(&owners, OffsetDateTime::now_utc(), policy.lease).await;
            let (jobs, failed) = match claimed {
                Ok(jobs) => (jobs, None),
                Err(err) => (Vec::new(), Some(err)),
            };
            let exhausted = jobs.len() < slots.len();
            // Slots beyond the jobs claimed go back; so do their permits (zip drops them).
            lock(&free).extend_from_slice(&slots[jobs.len()..]);
            for ((job, slot), permit) in jobs.into_iter().zip(slots).zip(batch) {
                let (this, free) = (this.clone(), free.clone());
                running.spawn(async move {
                    let span = job_span(&job);
                    if let Err(err) = process(&this.store, &this.handler, job, policy, true).instrument(span).await {
                        error!(error = %err, "cannot record a job's outcome; its lease will expire and it will run again");
                    }
                    lock(&free).push(slot);
                    drop(permit);
                    // The job may have enqueued more (a reply enqueues its delivery).
                    this.wake.notify_one();
                });
            }
            if let Some(err) = failed {
                error!(error = %err, "cannot claim jobs; backing off");
            }
            if exhausted {
                this.idle(&shutdown).await;
            }
        }
        let grace = this.config.shutdown_grace;
        if tokio::time::timeout(grace, async { while running.join_next().await.is_some() {} }).await.is_err() {
            running.abort_all();
            // Hand the interrupted jobs back at once, without charging the attempt a deploy cut off.
            match this.store.release_jobs(&format!("{}/", this.id), OffsetDateTime::now_utc()).await {
                Ok(n) => {
                    warn!(?grace, jobs = n, "jobs still running after the grace period were put back in the queue")
                }
                Err(err) => {
                    warn!(error = %err, "cannot release interrupted jobs; their leases will expire and be retaken")
                }
            }
        }
        info!(worker = %this.id, "queue worker stopped");
    }

    /// Waits for a reason to look for work again, at most the poll interval.
    async fn idle(&self, shutdown: &CancellationToken) {
        let mut wait = self.config.poll_interval;
        // A due time already past belongs to a job waiting for its key (or for another
        // process): the job that blocks it wakes us when it ends, or the poll does.
        if let Ok(Some(due)) = self.store.next_due().await
            && let Ok(until) = Duration::try_from(due - OffsetDateTime::now_utc())
            && !until.is_zero()
        {
            wait = wait.min(until);
        }
        tokio::select! {
            _ = shutdown.cancelled() => {}
            _ = self.wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The span every log line of a job carries; also records how long the job waited.
fn job_span(job: &ClaimedJob) -> tracing::Span {
    let waited = (job.claimed_at - job.due_at).max(time::Duration::ZERO);
    metrics::histogram!(m::QUEUE_WAIT_SECONDS, "kind" => job.kind.as_str()).record(waited.as_seconds_f64());
    info_span!("job", correlation_id = %job.correlation_id, tenant_id = %job.tenant_id, job_id = %job.id, kind = job.kind.as_str(), attempt = job.attempts)
}

/// Claims and runs one job at `now`; `None` when nothing is runnable.
pub async fn run_one(
    store: &Arc<dyn Store>,
    handler: &Arc<dyn JobHandler>,
    owner: &str,
    now: OffsetDateTime,
    policy: RetryPolicy,
    heartbeat: bool,
) -> Result<Option<(JobKind, &'static str)>, StoreError> {
    let Some(job) = store.claim_job(owner, now, policy.lease).await? else {
        return Ok(None);
    };
    let span = job_span(&job);
    let kind = job.kind;
    let outcome = process(store, handler, job, policy, heartbeat).instrument(span).await?;
    Ok(Some((kind, outcome)))
}

async fn process(
    store: &Arc<dyn Store>,
    handler: &Arc<dyn JobHandler>,
    job: ClaimedJob,
    policy: RetryPolicy,
    heartbeat: bool,
) -> Result<&'static str, StoreError> {
    let started = Instant::now();
    let result = if job.attempts > job.max_attempts {
        // Only a takeover gets here: whoever ran this job stopped mid-way every time.
        Err(JobError::permanent(format!(
            "{} attempts made; the worker running it stopped mid-job (crash or kill)",
            job.attempts - 1
        )))
    } else {
        run_handler(store, handler, &job, policy.lease, heartbeat).await
    };
    let now = job.claimed_at + started.elapsed();
    let outcome = match result {
        Ok(JobOutcome::Completed) => {
            if store.complete_job(job.id, &job.owner, now).await? {
                "done"
            } else {
                "lease_lost"
            }
        }
        Ok(JobOutcome::Recorded) => "done",
        Ok(JobOutcome::LeaseLost) => "lease_lost",
        Ok(JobOutcome::Abandoned) => "abandoned",
        Err(err) => record_failure(store, handler, &job, err, policy, now).await?,
    };
    let kind = job.kind.as_str();
    metrics::counter!(m::JOBS_TOTAL, "kind" => kind, "outcome" => outcome).increment(1);
    metrics::histogram!(m::JOB_DURATION_SECONDS, "kind" => kind, "outcome" => outcome).record(started.elapsed());
    if outcome == "done" {
        metrics::histogram!(m::JOB_ATTEMPTS, "kind" => kind).record(f64::from(job.attempts));
        info!(elapsed_ms = started.elapsed().as_millis() as u64, "job done");
    } else if outcome == "lease_lost" {
        warn!("lease lost: another worker took this job over; its result was discarded");
    }
    Ok(outcome)
}

async fn record_failure(
    store: &Arc<dyn Store>,
    handler: &Arc<dyn JobHandler>,
    job: &ClaimedJob,
    err: JobError,
    policy: RetryPolicy,
    now: OffsetDateTime,
) -> Result<&'static str, StoreError> {
    let failure = JobFailure { message: err.message.clone(), class: err.class };
    if err.class == ErrorClass::Retryable && job.attempts < job.max_attempts {
        let delay = backoff(job.attempts, policy.base, policy.max).max(err.retry_after.unwrap_or_default());
        warn!(error = %err.message, retry_in_ms = delay.as_millis() as u64, "job failed; will retry");
        let kept = store.retry_job(job.id, &job.owner, now + delay, &failure).await?;
        return Ok(if kept { "retry" } else { "lease_lost" });
    }
    error!(error = %err.message, class = err.class.as_str(), attempts = job.attempts, "job dead-lettered");
    if !store.dead_letter(job.id, &job.owner, &failure, now).await? {
        return Ok("lease_lost");
    }
    metrics::counter!(m::DEAD_LETTERS_TOTAL, "kind" => job.kind.as_str()).increment(1);
    handler.dead_lettered(job, &failure).await;
    Ok("dead")
}

/// Runs the handler in its own task (a panic fails the attempt, not the worker) while
/// renewing the lease; aborts it if the lease is lost.
async fn run_handler(
    store: &Arc<dyn Store>,
    handler: &Arc<dyn JobHandler>,
    job: &ClaimedJob,
    lease: Duration,
    heartbeat: bool,
) -> Result<JobOutcome, JobError> {
    let task = {
        let (handler, job) = (handler.clone(), job.clone());
        tokio::spawn(async move { handler.handle(&job).await }.in_current_span())
    };
    let abort = task.abort_handle();
    let beat = async {
        if !heartbeat {
            return std::future::pending().await;
        }
        loop {
            tokio::time::sleep(lease / 3).await;
            match store.extend_lease(job.id, &job.owner, OffsetDateTime::now_utc() + lease).await {
                Ok(true) => {}
                Ok(false) => return,
                Err(err) => warn!(error = %err, "cannot renew lease"),
            }
        }
    };
    tokio::select! {
        joined = task => match joined {
            Ok(result) => result,
            Err(err) if err.is_panic() => Err(JobError::retryable("job handler panicked")),
            Err(_) => Ok(JobOutcome::LeaseLost),
        },
        () = beat => {
            abort.abort();
            Ok(JobOutcome::LeaseLost)
        }
    }
}

/// Result of [`drain`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Jobs run.
    pub jobs: usize,
    /// The virtual clock when the queue was empty (or the horizon was reached).
    pub now: OffsetDateTime,
}

/// Runs every job that becomes runnable between `start` and `start + horizon`, moving a
/// virtual clock forward to each next due time instead of sleeping. Deterministic; used
/// by tests and by `atende` operators' one-shot commands.
pub async fn drain(
    store: &Arc<dyn Store>,
    handler: &Arc<dyn JobHandler>,
    policy: RetryPolicy,
    start: OffsetDateTime,
    horizon: Duration,
) -> Result<Drained, StoreError> {
    const MAX_JOBS: usize = 10_000;
    let end = start + horizon;
    let mut now = start;
    let mut jobs = 0;
    while jobs < MAX_JOBS {
        if run_one(store, handler, "drain", now, policy, false).await?.is_some() {
            jobs += 1;
            continue;
        }
        match store.next_due().await? {
            Some(due) if due > now && due <= end => now = due + Duration::from_millis(1),
            _ => break,
        }
    }
    Ok(Drained { jobs, now })
}

/// This machine's name (`HOSTNAME`, else `/etc/hostname`), for worker ids and notices.
pub fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "atende".into())
}
