//! The job queue on SQLite.
//!
//! Claiming is one `UPDATE … RETURNING` run by the writer thread (the only connection that
//! writes), so it is atomic; the partial unique index `jobs_one_running_per_key` backs up
//! "one running job per key". Every state change is a request to the writer (group commit);
//! the listings and counts read on the read-only connections.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{Row, params};
use time::OffsetDateTime;

use super::sql::{execute, query_all, query_one, query_opt};
use super::{SqliteStore, corrupt, from_ms, ms};
use crate::domain::{CorrelationId, JobId, JobKind, JobState, TenantId};
use crate::store::{
    ClaimedJob, DeadLetterFilter, JobCount, JobFailure, JobRecord, JobStore, NewNotify, Result, known_kinds_sql,
};

/// Which live jobs may run next, given `?3` = now. Per key:
/// - jobs run one at a time (no other running job of the key);
/// - a queued job runs only when due and when no older job of its key is live, except that a
///   `deliver` may pass a `reply` still queued (debouncing or backing off), so an answer already
///   written is not held back by the next burst;
/// - a running job whose lease expired is taken over whatever its position.
///
/// Only kinds this binary knows are considered (a newer binary's jobs wait for it).
/// Among runnable jobs, deliveries go first: finishing an answer already paid for beats
/// starting a new LLM call.
const RUNNABLE: &str = "
    j.kind IN ({KINDS})
    AND NOT EXISTS (SELECT 1 FROM jobs r WHERE r.key = j.key AND r.id <> j.id AND r.state = 'running')
    AND (j.state = 'running' OR NOT EXISTS (
        SELECT 1 FROM jobs h WHERE h.key = j.key AND h.id < j.id AND h.state IN ('queued', 'running')
          AND NOT (j.kind = 'deliver' AND h.kind = 'reply' AND h.state = 'queued')))";

/// The first runnable queued job and the first running job whose lease expired, each
/// found through its own partial index (`jobs_claim_queued`, `jobs_lease_expiry`, migration
/// 0007; named, because without statistics the planner prefers `jobs_state_kind` and sorts),
/// and the better of the two: the order of a single walk over all live jobs, without
/// stepping over the running ones.
const CLAIM: &str = "
UPDATE jobs SET state = 'running', lease_owner = ?1, lease_until = ?2, attempts = attempts + 1, updated_at = ?3
WHERE id = (
    SELECT id FROM (
        SELECT * FROM (
            SELECT j.id, CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END AS rank, j.run_at FROM jobs j INDEXED BY jobs_claim_queued
            WHERE j.state = 'queued' AND j.run_at <= ?3 AND {RUNNABLE}
            ORDER BY CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END, j.run_at, j.id
            LIMIT 1)
        UNION ALL
        SELECT * FROM (
            SELECT j.id, CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END AS rank, j.run_at FROM jobs j INDEXED BY jobs_lease_expiry
            WHERE j.state = 'running' AND j.lease_until < ?3 AND j.run_at <= ?3 AND {RUNNABLE}
            ORDER BY CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END, j.run_at, j.id
            LIMIT 1))
    ORDER BY rank, run_at, id
    LIMIT 1)
RETURNING id, tenant_id, kind, key, payload, attempts, max_attempts, correlation_id, run_at";

/// The earliest due time of a runnable queued job (the first in index order of each rank)
/// or lease expiry of a running one (always runnable: one running job per key), each through
/// its partial index rather than a pass over every live job.
const NEXT_DUE: &str = "
SELECT MIN(due) FROM (
    SELECT * FROM (
        SELECT j.run_at AS due FROM jobs j INDEXED BY jobs_claim_queued
        WHERE j.state = 'queued' AND CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END = 0 AND {RUNNABLE}
        ORDER BY j.run_at, j.id LIMIT 1)
    UNION ALL
    SELECT * FROM (
        SELECT j.run_at AS due FROM jobs j INDEXED BY jobs_claim_queued
        WHERE j.state = 'queued' AND CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END = 1 AND {RUNNABLE}
        ORDER BY j.run_at, j.id LIMIT 1)
    UNION ALL
    SELECT MIN(j.lease_until) FROM jobs j INDEXED BY jobs_lease_expiry
    WHERE j.state = 'running' AND j.kind IN ({KINDS}))";

static CLAIM_SQL: LazyLock<String> =
    LazyLock::new(|| CLAIM.replace("{RUNNABLE}", RUNNABLE).replace("{KINDS}", &known_kinds_sql()));
static NEXT_DUE_SQL: LazyLock<String> =
    LazyLock::new(|| NEXT_DUE.replace("{RUNNABLE}", RUNNABLE).replace("{KINDS}", &known_kinds_sql()));

const RECORD_COLUMNS: &str = "j.id, t.slug, j.kind, j.key, j.payload, j.state, j.attempts, j.max_attempts, j.run_at,
    j.last_error, j.history, j.correlation_id, j.created_at, j.updated_at";

#[async_trait]
impl JobStore for SqliteStore {
    async fn claim_job(&self, owner: &str, now: OffsetDateTime, lease: Duration) -> Result<Option<ClaimedJob>> {
        Ok(self.claim_jobs(&[owner.to_string()], now, lease).await?.pop())
    }

    /// The whole batch is one request to the writer: one round trip and one commit, however
    /// many jobs it leases (the dispatcher asks for one per free slot).
    async fn claim_jobs(&self, owners: &[String], now: OffsetDateTime, lease: Duration) -> Result<Vec<ClaimedJob>> {
        let owners = owners.to_vec();
        self.writer
            .write(move |conn| {
                let (until, now_ms) = (ms(now + lease), ms(now));
                let mut jobs = Vec::with_capacity(owners.len());
                for owner in owners {
                    let args = params![owner, until, now_ms];
                    match query_opt(conn, &CLAIM_SQL, args, |row| claimed_from_row(row, owner.clone(), now))? {
                        Some(job) => jobs.push(job),
                        None => break,
                    }
                }
                Ok(jobs)
            })
            .await
    }

    async fn extend_lease(&self, job: JobId, owner: &str, until: OffsetDateTime) -> Result<bool> {
        let owner = owner.to_string();
        self.writer
            .write(move |conn| {
                let done = execute(
                    conn,
                    "UPDATE jobs SET lease_until = ?1 WHERE id = ?2 AND lease_owner = ?3 AND state = 'running'",
                    params![ms(until), job.0, owner],
                )?;
                Ok(done == 1)
            })
            .await
    }

    async fn complete_job(&self, job: JobId, owner: &str, now: OffsetDateTime) -> Result<bool> {
        let owner = owner.to_string();
        self.writer
            .write(move |conn| {
                let done = execute(
                    conn,
                    "UPDATE jobs SET state = 'done', lease_until = NULL, updated_at = ?1
                     WHERE id = ?2 AND lease_owner = ?3 AND state = 'running'",
                    params![ms(now), job.0, owner],
                )?;
                Ok(done == 1)
            })
            .await
    }

    async fn retry_job(&self, job: JobId, owner: &str, run_at: OffsetDateTime, failure: &JobFailure) -> Result<bool> {
        self.fail(job, owner, "queued", run_at, failure, OffsetDateTime::now_utc()).await
    }

    async fn dead_letter(&self, job: JobId, owner: &str, failure: &JobFailure, now: OffsetDateTime) -> Result<bool> {
        self.fail(job, owner, "dead", now, failure, now).await
    }

    async fn release_jobs(&self, owner_prefix: &str, now: OffsetDateTime) -> Result<u64> {
        let owner_prefix = owner_prefix.to_string();
        self.writer
            .write(move |conn| {
                execute(
                    conn,
                    "UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), lease_owner = NULL, lease_until = NULL,
                            run_at = ?2, updated_at = ?2
                     WHERE state = 'running' AND substr(lease_owner, 1, length(?1)) = ?1",
                    params![owner_prefix, ms(now)],
                )
            })
            .await
    }

    async fn next_due(&self) -> Result<Option<OffsetDateTime>> {
        let at: Option<i64> =
            self.writer.write(|conn| query_one(conn, &NEXT_DUE_SQL, [], |row| Ok(row.get(0)?))).await?;
        Ok(at.map(from_ms))
    }

    async fn count_jobs(&self) -> Result<Vec<JobCount>> {
        let rows: Vec<(String, String, i64, Option<i64>)> = self
            .readers
            .read(|conn| {
                query_all(
                    conn,
                    "SELECT kind, state, COUNT(*) AS n, MIN(run_at) AS oldest FROM jobs
                     WHERE state IN ('queued', 'running', 'dead') GROUP BY kind, state",
                    [],
                    |row| Ok((row.get("kind")?, row.get("state")?, row.get("n")?, row.get("oldest")?)),
                )
            })
            .await?;
        let mut counts = Vec::with_capacity(rows.len());
        for (kind, state, count, oldest) in rows {
            if let (Some(kind), Some(state)) = (JobKind::parse(&kind), JobState::parse(&state)) {
                counts.push(JobCount { kind, state, count, oldest_run_at: oldest.map(from_ms) });
            }
        }
        Ok(counts)
    }

    async fn prune_jobs(&self, before: OffsetDateTime) -> Result<u64> {
        self.writer
            .write(move |conn| {
                execute(
                    conn,
                    "DELETE FROM jobs WHERE state IN ('done', 'discarded') AND updated_at < ?1",
                    params![ms(before)],
                )
            })
            .await
    }

    async fn list_dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<JobRecord>> {
        let tenant = filter.tenant.clone();
        let kind = filter.kind.map(JobKind::as_str);
        let limit = i64::from(filter.limit.unwrap_or(100));
        self.readers
            .read(move |conn| query_all(conn, &LIST_DEAD_SQL, params![tenant, kind, limit], record_from_row))
            .await
    }

    async fn find_job(&self, job: JobId) -> Result<Option<JobRecord>> {
        self.readers.read(move |conn| query_opt(conn, &FIND_JOB_SQL, params![job.0], record_from_row)).await
    }

    async fn enqueue_notify(
        &self,
        tenant: TenantId,
        notify: &[NewNotify],
        correlation_id: &CorrelationId,
        now: OffsetDateTime,
    ) -> Result<()> {
        if notify.is_empty() {
            return Ok(());
        }
        let (notify, correlation_id) = (notify.to_vec(), correlation_id.clone());
        self.writer.write(move |conn| queue_notify(conn, tenant, &notify, &correlation_id, now)).await
    }

    async fn list_jobs(&self, tenant: TenantId, kind: JobKind, limit: u32) -> Result<Vec<JobRecord>> {
        let kind = kind.as_str();
        self.readers
            .read(move |conn| {
                query_all(conn, &LIST_JOBS_SQL, params![tenant.0, kind, i64::from(limit)], record_from_row)
            })
            .await
    }

    async fn replay_dead_letter(&self, job: JobId, now: OffsetDateTime) -> Result<bool> {
        self.writer
            .write(move |conn| {
                let done = execute(
                    conn,
                    "UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?1, lease_owner = NULL, lease_until = NULL, updated_at = ?1
                     WHERE id = ?2 AND state = 'dead'",
                    params![ms(now), job.0],
                )?;
                Ok(done == 1)
            })
            .await
    }

    async fn discard_dead_letter(&self, job: JobId, now: OffsetDateTime) -> Result<bool> {
        self.writer
            .write(move |conn| {
                let done = execute(
                    conn,
                    "UPDATE jobs SET state = 'discarded', updated_at = ?1 WHERE id = ?2 AND state = 'dead'",
                    params![ms(now), job.0],
                )?;
                Ok(done == 1)
            })
            .await
    }
}

static LIST_DEAD_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {RECORD_COLUMNS} FROM jobs j JOIN tenants t ON t.id = j.tenant_id
         WHERE j.state = 'dead' AND (?1 IS NULL OR t.slug = ?1) AND (?2 IS NULL OR j.kind = ?2)
         ORDER BY j.updated_at DESC, j.id DESC LIMIT ?3"
    )
});
static LIST_JOBS_SQL: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SELECT {RECORD_COLUMNS} FROM jobs j JOIN tenants t ON t.id = j.tenant_id
         WHERE j.tenant_id = ?1 AND j.kind = ?2 ORDER BY j.id DESC LIMIT ?3"
    )
});
static FIND_JOB_SQL: LazyLock<String> = LazyLock::new(|| {
    format!("SELECT {RECORD_COLUMNS} FROM jobs j JOIN tenants t ON t.id = j.tenant_id WHERE j.id = ?1")
});

impl SqliteStore {
    /// Records a failed attempt and moves the job to `state` (`queued` again, or `dead`).
    async fn fail(
        &self,
        job: JobId,
        owner: &str,
        state: &'static str,
        run_at: OffsetDateTime,
        failure: &JobFailure,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let entry = serde_json::json!({
            "at": now.unix_timestamp(),
            "class": failure.class.as_str(),
            "error": failure.message,
        });
        let (owner, message) = (owner.to_string(), failure.message.clone());
        self.writer
            .write(move |conn| {
                let done = execute(
                    conn,
                    "UPDATE jobs SET state = ?1, run_at = ?2, last_error = ?3, lease_until = NULL, updated_at = ?4,
                            history = json_insert(history, '$[#]', json_set(json(?5), '$.attempt', attempts))
                     WHERE id = ?6 AND lease_owner = ?7 AND state = 'running'",
                    params![state, ms(run_at), message, ms(now), entry.to_string(), job.0, owner],
                )?;
                Ok(done == 1)
            })
            .await
    }
}

fn claimed_from_row(row: &Row<'_>, owner: String, claimed_at: OffsetDateTime) -> Result<ClaimedJob> {
    let kind: String = row.get("kind")?;
    let payload: String = row.get("payload")?;
    Ok(ClaimedJob {
        id: JobId(row.get("id")?),
        tenant_id: TenantId(row.get("tenant_id")?),
        kind: JobKind::parse(&kind).ok_or_else(|| corrupt(format!("job kind {kind:?}")))?,
        key: row.get("key")?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt(e.to_string()))?,
        attempts: row.get::<_, i64>("attempts")? as u32,
        max_attempts: row.get::<_, i64>("max_attempts")? as u32,
        correlation_id: CorrelationId::from_stored(row.get("correlation_id")?),
        owner,
        claimed_at,
        due_at: from_ms(row.get("run_at")?),
    })
}

fn record_from_row(row: &Row<'_>) -> Result<JobRecord> {
    let kind: String = row.get("kind")?;
    let state: String = row.get("state")?;
    let payload: String = row.get("payload")?;
    let history: String = row.get("history")?;
    Ok(JobRecord {
        id: JobId(row.get("id")?),
        tenant: row.get("slug")?,
        kind: JobKind::parse(&kind).ok_or_else(|| corrupt(format!("job kind {kind:?}")))?,
        key: row.get("key")?,
        payload: serde_json::from_str(&payload).map_err(|e| corrupt(e.to_string()))?,
        state: JobState::parse(&state).ok_or_else(|| corrupt(format!("job state {state:?}")))?,
        attempts: row.get::<_, i64>("attempts")? as u32,
        max_attempts: row.get::<_, i64>("max_attempts")? as u32,
        run_at: from_ms(row.get("run_at")?),
        last_error: row.get("last_error")?,
        history: serde_json::from_str(&history).map_err(|e| corrupt(e.to_string()))?,
        correlation_id: row.get("correlation_id")?,
        created_at: from_ms(row.get("created_at")?),
        updated_at: from_ms(row.get("updated_at")?),
    })
}

/// Queues event deliveries inside the caller's transaction, due at once.
pub(super) fn queue_notify(
    conn: &rusqlite::Connection,
    tenant: TenantId,
    notify: &[NewNotify],
    correlation_id: &CorrelationId,
    now: OffsetDateTime,
) -> Result<()> {
    for event in notify {
        execute(
            conn,
            "INSERT INTO jobs (tenant_id, kind, key, payload, max_attempts, run_at, correlation_id, created_at, updated_at)
             VALUES (?1, 'notify', ?2, ?3, ?4, ?5, ?6, ?5, ?5)",
            params![
                tenant.0,
                event.key(),
                event.payload().to_string(),
                i64::from(event.max_attempts.max(1)),
                ms(now),
                correlation_id.as_str()
            ],
        )?;
    }
    Ok(())
}
