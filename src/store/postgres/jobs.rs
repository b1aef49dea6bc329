//! The job queue on PostgreSQL.
//!
//! Claiming is one `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED LIMIT 1)`:
//! concurrent claimers skip each other's candidates instead of queueing on them. Two
//! claimers can still pick two different jobs of one key from their snapshots (a `deliver`
//! passing a queued `reply`); the partial unique index `jobs_one_running_per_key` then
//! refuses the second, which counts as "nothing claimed".
//!
//! A dispatcher with several free slots claims for all of them in one statement
//! ([`CLAIM_BATCH`]); if that races with another claimer on a key, it claims one by one.

use std::sync::LazyLock;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

use super::{PgStore, corrupt, from_ms, is_unique_violation, ms};
use crate::domain::{CorrelationId, JobId, JobKind, JobState, TenantId};
use crate::store::{
    ClaimedJob, DeadLetterFilter, JobCount, JobFailure, JobRecord, JobStore, NewNotify, Result, claim_one_by_one,
    known_kinds_sql,
};

/// Which live jobs may run next, given `$3` = now. Per key:
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
/// 0007) and locked with `SKIP LOCKED`, and the better of the two: the order of a single walk
/// over all live jobs, without stepping over the running ones. (A lock clause may not stand
/// in a `UNION` arm itself, hence the sub-selects.)
const CLAIM: &str = "
UPDATE jobs SET state = 'running', lease_owner = $1, lease_until = $2, attempts = attempts + 1, updated_at = $3
WHERE id = (
    SELECT id FROM (
        SELECT * FROM (
            SELECT j.id, CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END AS rank, j.run_at FROM jobs j
            WHERE j.state = 'queued' AND j.run_at <= $3 AND {RUNNABLE}
            ORDER BY CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END, j.run_at, j.id
            LIMIT 1
            FOR UPDATE OF j SKIP LOCKED) queued
        UNION ALL
        SELECT * FROM (
            SELECT j.id, CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END AS rank, j.run_at FROM jobs j
            WHERE j.state = 'running' AND j.lease_until < $3 AND j.run_at <= $3 AND {RUNNABLE}
            ORDER BY CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END, j.run_at, j.id
            LIMIT 1
            FOR UPDATE OF j SKIP LOCKED) expired) candidates
    ORDER BY rank, run_at, id
    LIMIT 1)
RETURNING id, tenant_id, kind, key, payload, attempts, max_attempts, correlation_id, run_at";

/// The earliest due time of a runnable queued job (the first in index order of each rank)
/// or lease expiry of a running one (always runnable: one running job per key), each through
/// its partial index rather than a pass over every live job.
const NEXT_DUE: &str = "
SELECT MIN(due) FROM (
    SELECT * FROM (
        SELECT j.run_at AS due FROM jobs j
        WHERE j.state = 'queued' AND CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END = 0 AND {RUNNABLE}
        ORDER BY CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END, j.run_at, j.id LIMIT 1) deliveries
    UNION ALL
    SELECT * FROM (
        SELECT j.run_at AS due FROM jobs j
        WHERE j.state = 'queued' AND CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END = 1 AND {RUNNABLE}
        ORDER BY CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END, j.run_at, j.id LIMIT 1) replies
    UNION ALL
    SELECT MIN(j.lease_until) FROM jobs j WHERE j.state = 'running' AND j.kind IN ({KINDS})) due";

/// A batch claim in one statement: the best runnable jobs as [`CLAIM`] finds them (queued
/// and lease-expired, each arm through its partial index and locked with `SKIP LOCKED`), at
/// most one per key (the best of the key, as claiming one after the other would leave it),
/// the first `cardinality($1)` of them in claim order, job `n` leased to `$1[n]`. `$4` bounds
/// the rows locked per arm: twice the owners, since a key has at most two runnable jobs (a
/// queued `reply` and a `deliver` passing it).
const CLAIM_BATCH: &str = "
WITH queued AS (
    SELECT j.id, j.key, CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END AS rank, j.run_at FROM jobs j
    WHERE j.state = 'queued' AND j.run_at <= $3 AND {RUNNABLE}
    ORDER BY CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END, j.run_at, j.id
    LIMIT $4
    FOR UPDATE OF j SKIP LOCKED
), expired AS (
    SELECT j.id, j.key, CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END AS rank, j.run_at FROM jobs j
    WHERE j.state = 'running' AND j.lease_until < $3 AND j.run_at <= $3 AND {RUNNABLE}
    ORDER BY CASE j.kind WHEN 'deliver' THEN 0 ELSE 1 END, j.run_at, j.id
    LIMIT $4
    FOR UPDATE OF j SKIP LOCKED
), best_per_key AS (
    SELECT DISTINCT ON (key) id, rank, run_at FROM (SELECT * FROM queued UNION ALL SELECT * FROM expired) candidates
    ORDER BY key, rank, run_at, id
), picked AS (
    SELECT id, row_number() OVER (ORDER BY rank, run_at, id) AS n FROM best_per_key
    ORDER BY rank, run_at, id
    LIMIT cardinality($1::text[])
)
UPDATE jobs SET state = 'running', lease_owner = ($1::text[])[picked.n::int], lease_until = $2, attempts = attempts + 1,
    updated_at = $3
FROM picked WHERE jobs.id = picked.id
RETURNING jobs.id, jobs.tenant_id, jobs.kind, jobs.key, jobs.payload, jobs.attempts, jobs.max_attempts,
    jobs.correlation_id, jobs.run_at, jobs.lease_owner, picked.n";

static CLAIM_SQL: LazyLock<String> =
    LazyLock::new(|| CLAIM.replace("{RUNNABLE}", RUNNABLE).replace("{KINDS}", &known_kinds_sql()));
static CLAIM_BATCH_SQL: LazyLock<String> =
    LazyLock::new(|| CLAIM_BATCH.replace("{RUNNABLE}", RUNNABLE).replace("{KINDS}", &known_kinds_sql()));
static NEXT_DUE_SQL: LazyLock<String> =
    LazyLock::new(|| NEXT_DUE.replace("{RUNNABLE}", RUNNABLE).replace("{KINDS}", &known_kinds_sql()));

/// A job a claim statement returned, leased to `owner` at `now`.
fn claimed_from_row(row: &PgRow, owner: String, now: OffsetDateTime) -> Result<ClaimedJob> {
    let kind: String = row.get("kind");
    let payload: String = row.get("payload");
    Ok(ClaimedJob {
        id: JobId(row.get("id")),
        tenant_id: TenantId(row.get("tenant_id")),
        kind: JobKind::parse(&kind).ok_or_else(|| corrupt(format!("job kind {kind:?}")))?,
        key: row.get("key"),
        payload: serde_json::from_str(&payload).map_err(|e| corrupt(e.to_string()))?,
        attempts: row.get::<i64, _>("attempts") as u32,
        max_attempts: row.get::<i64, _>("max_attempts") as u32,
        correlation_id: CorrelationId::from_stored(row.get("correlation_id")),
        owner,
        claimed_at: now,
        due_at: from_ms(row.get("run_at")),
    })
}

const RECORD_COLUMNS: &str = "j.id, t.slug, j.kind, j.key, j.payload, j.state, j.attempts, j.max_attempts, j.run_at,
    j.last_error, j.history, j.correlation_id, j.created_at, j.updated_at";

#[async_trait]
impl JobStore for PgStore {
    async fn claim_job(&self, owner: &str, now: OffsetDateTime, lease: Duration) -> Result<Option<ClaimedJob>> {
        let row = sqlx::query(AssertSqlSafe(CLAIM_SQL.as_str()))
            .bind(owner)
            .bind(ms(now + lease))
            .bind(ms(now))
            .fetch_optional(&self.pool)
            .await;
        let row = match row {
            Ok(Some(row)) => row,
            Ok(None) => return Ok(None),
            // Another claimer started a job of this key first: nothing to claim here now.
            Err(e) if is_unique_violation(&e) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        claimed_from_row(&row, owner.to_string(), now).map(Some)
    }

    async fn claim_jobs(&self, owners: &[String], now: OffsetDateTime, lease: Duration) -> Result<Vec<ClaimedJob>> {
        if owners.len() < 2 {
            return claim_one_by_one(self, owners, now, lease).await;
        }
        let rows = sqlx::query(AssertSqlSafe(CLAIM_BATCH_SQL.as_str()))
            .bind(owners)
            .bind(ms(now + lease))
            .bind(ms(now))
            .bind(2 * owners.len() as i64)
            .fetch_all(&self.pool)
            .await;
        let mut rows = match rows {
            Ok(rows) => rows,
            // Another claimer started a job of one of these keys first: claim one by one, where
            // such a race only costs the one claim.
            Err(e) if is_unique_violation(&e) => return claim_one_by_one(self, owners, now, lease).await,
            Err(e) => return Err(e.into()),
        };
        rows.sort_by_key(|row| row.get::<i64, _>("n"));
        rows.iter().map(|row| claimed_from_row(row, row.get("lease_owner"), now)).collect()
    }

    async fn extend_lease(&self, job: JobId, owner: &str, until: OffsetDateTime) -> Result<bool> {
        let done =
            sqlx::query("UPDATE jobs SET lease_until = $1 WHERE id = $2 AND lease_owner = $3 AND state = 'running'")
                .bind(ms(until))
                .bind(job.0)
                .bind(owner)
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete_job(&self, job: JobId, owner: &str, now: OffsetDateTime) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'done', lease_until = NULL, updated_at = $1
             WHERE id = $2 AND lease_owner = $3 AND state = 'running'",
        )
        .bind(ms(now))
        .bind(job.0)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn retry_job(&self, job: JobId, owner: &str, run_at: OffsetDateTime, failure: &JobFailure) -> Result<bool> {
        self.fail(job, owner, "queued", run_at, failure, OffsetDateTime::now_utc()).await
    }

    async fn dead_letter(&self, job: JobId, owner: &str, failure: &JobFailure, now: OffsetDateTime) -> Result<bool> {
        self.fail(job, owner, "dead", now, failure, now).await
    }

    async fn release_jobs(&self, owner_prefix: &str, now: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = GREATEST(attempts - 1, 0), lease_owner = NULL, lease_until = NULL,
                    run_at = $2, updated_at = $2
             WHERE state = 'running' AND starts_with(lease_owner, $1)",
        )
        .bind(owner_prefix)
        .bind(ms(now))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    async fn next_due(&self) -> Result<Option<OffsetDateTime>> {
        let at: Option<i64> = sqlx::query_scalar(AssertSqlSafe(NEXT_DUE_SQL.as_str())).fetch_one(&self.pool).await?;
        Ok(at.map(from_ms))
    }

    async fn count_jobs(&self) -> Result<Vec<JobCount>> {
        let rows = sqlx::query(
            "SELECT kind, state, COUNT(*) AS n, MIN(run_at) AS oldest FROM jobs
             WHERE state IN ('queued', 'running', 'dead') GROUP BY kind, state",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut counts = Vec::with_capacity(rows.len());
        for row in rows {
            let (kind, state): (String, String) = (row.get("kind"), row.get("state"));
            if let (Some(kind), Some(state)) = (JobKind::parse(&kind), JobState::parse(&state)) {
                let oldest: Option<i64> = row.get("oldest");
                counts.push(JobCount { kind, state, count: row.get("n"), oldest_run_at: oldest.map(from_ms) });
            }
        }
        Ok(counts)
    }

    async fn prune_jobs(&self, before: OffsetDateTime) -> Result<u64> {
        let done = sqlx::query("DELETE FROM jobs WHERE state IN ('done', 'discarded') AND updated_at < $1")
            .bind(ms(before))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    async fn list_dead_letters(&self, filter: &DeadLetterFilter) -> Result<Vec<JobRecord>> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM jobs j JOIN tenants t ON t.id = j.tenant_id
             WHERE j.state = 'dead' AND ($1::text IS NULL OR t.slug = $1) AND ($2::text IS NULL OR j.kind = $2)
             ORDER BY j.updated_at DESC, j.id DESC LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(filter.tenant.as_deref())
            .bind(filter.kind.map(JobKind::as_str))
            .bind(i64::from(filter.limit.unwrap_or(100)))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn find_job(&self, job: JobId) -> Result<Option<JobRecord>> {
        let sql = format!("SELECT {RECORD_COLUMNS} FROM jobs j JOIN tenants t ON t.id = j.tenant_id WHERE j.id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(job.0).fetch_optional(&self.pool).await?;
        row.as_ref().map(record_from_row).transpose()
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
        let mut conn = self.pool.acquire().await?;
        queue_notify(&mut conn, tenant, notify, correlation_id, now).await
    }

    async fn list_jobs(&self, tenant: TenantId, kind: JobKind, limit: u32) -> Result<Vec<JobRecord>> {
        let sql = format!(
            "SELECT {RECORD_COLUMNS} FROM jobs j JOIN tenants t ON t.id = j.tenant_id
             WHERE j.tenant_id = $1 AND j.kind = $2 ORDER BY j.id DESC LIMIT $3"
        );
        let rows = sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.0)
            .bind(kind.as_str())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn replay_dead_letter(&self, job: JobId, now: OffsetDateTime) -> Result<bool> {
        let done = sqlx::query(
            "UPDATE jobs SET state = 'queued', attempts = 0, run_at = $1, lease_owner = NULL, lease_until = NULL, updated_at = $1
             WHERE id = $2 AND state = 'dead'",
        )
        .bind(ms(now))
        .bind(job.0)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn discard_dead_letter(&self, job: JobId, now: OffsetDateTime) -> Result<bool> {
        let done = sqlx::query("UPDATE jobs SET state = 'discarded', updated_at = $1 WHERE id = $2 AND state = 'dead'")
            .bind(ms(now))
            .bind(job.0)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

impl PgStore {
    /// Records a failed attempt and moves the job to `state` (`queued` again, or `dead`).
    async fn fail(
        &self,
        job: JobId,
        owner: &str,
        state: &str,
        run_at: OffsetDateTime,
        failure: &JobFailure,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let entry = serde_json::json!({
            "at": now.unix_timestamp(),
            "class": failure.class.as_str(),
            "error": failure.message,
        });
        let done = sqlx::query(
            "UPDATE jobs SET state = $1, run_at = $2, last_error = $3, lease_until = NULL, updated_at = $4,
                    history = (history::jsonb || jsonb_build_array($5::jsonb || jsonb_build_object('attempt', attempts)))::text
             WHERE id = $6 AND lease_owner = $7 AND state = 'running'",
        )
        .bind(state)
        .bind(ms(run_at))
        .bind(&failure.message)
        .bind(ms(now))
        .bind(entry.to_string())
        .bind(job.0)
        .bind(owner)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

fn record_from_row(row: &PgRow) -> Result<JobRecord> {
    let kind: String = row.get("kind");
    let state: String = row.get("state");
    let payload: String = row.get("payload");
    let history: String = row.get("history");
    Ok(JobRecord {
        id: JobId(row.get("id")),
        tenant: row.get("slug"),
        kind: JobKind::parse(&kind).ok_or_else(|| corrupt(format!("job kind {kind:?}")))?,
        key: row.get("key"),
        payload: serde_json::from_str(&payload).map_err(|e| corrupt(e.to_string()))?,
        state: JobState::parse(&state).ok_or_else(|| corrupt(format!("job state {state:?}")))?,
        attempts: row.get::<i64, _>("attempts") as u32,
        max_attempts: row.get::<i64, _>("max_attempts") as u32,
        run_at: from_ms(row.get("run_at")),
        last_error: row.get("last_error"),
        history: serde_json::from_str(&history).map_err(|e| corrupt(e.to_string()))?,
        correlation_id: row.get("correlation_id"),
        created_at: from_ms(row.get("created_at")),
        updated_at: from_ms(row.get("updated_at")),
    })
}

/// Queues event deliveries on `conn` (inside the caller's transaction, if any), due at once:
/// one statement for all of them.
pub(super) async fn queue_notify(
    conn: &mut sqlx::PgConnection,
    tenant: TenantId,
    notify: &[NewNotify],
    correlation_id: &CorrelationId,
    now: OffsetDateTime,
) -> Result<()> {
    if notify.is_empty() {
        return Ok(());
    }
    let keys: Vec<String> = notify.iter().map(NewNotify::key).collect();
    let payloads: Vec<String> = notify.iter().map(|n| n.payload().to_string()).collect();
    let attempts: Vec<i64> = notify.iter().map(|n| i64::from(n.max_attempts.max(1))).collect();
    sqlx::query(
        "INSERT INTO jobs (tenant_id, kind, key, payload, max_attempts, run_at, correlation_id, created_at, updated_at)
         SELECT $1, 'notify', k, p, a, $2, $3, $2, $2 FROM UNNEST($4::text[], $5::text[], $6::bigint[]) AS n(k, p, a)",
    )
    .bind(tenant.0)
    .bind(ms(now))
    .bind(correlation_id.as_str())
    .bind(&keys)
    .bind(&payloads)
    .bind(&attempts)
    .execute(&mut *conn)
    .await?;
    Ok(())
}
