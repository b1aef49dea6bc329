//! LLM spend per tenant and day on SQLite.

use async_trait::async_trait;
use rusqlite::{Connection, params};

use super::SqliteStore;
use super::sql::{execute, query_one};
use crate::domain::TenantId;
use crate::store::{Result, SpendStore, SpendUsage, month_pattern};

#[async_trait]
impl SpendStore for SqliteStore {
    async fn add_llm_spend(&self, tenant: TenantId, day: &str, usage: SpendUsage) -> Result<(i64, i64)> {
        let day = day.to_string();
        self.writer
            .write(move |conn| {
                execute(
                    conn,
                    "INSERT INTO llm_spend (tenant_id, day, input_tokens, output_tokens, cost_micros) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (tenant_id, day) DO UPDATE SET input_tokens = input_tokens + excluded.input_tokens,
                        output_tokens = output_tokens + excluded.output_tokens, cost_micros = cost_micros + excluded.cost_micros",
                    params![
                        tenant.0,
                        day,
                        i64::try_from(usage.input_tokens).unwrap_or(i64::MAX),
                        i64::try_from(usage.output_tokens).unwrap_or(i64::MAX),
                        usage.cost_micros
                    ],
                )?;
                totals(conn, tenant, &day)
            })
            .await
    }

    async fn llm_spend(&self, tenant: TenantId, day: &str) -> Result<(i64, i64)> {
        let day = day.to_string();
        self.readers.read(move |conn| totals(conn, tenant, &day)).await
    }
}

fn totals(conn: &Connection, tenant: TenantId, day: &str) -> Result<(i64, i64)> {
    query_one(
        conn,
        "SELECT COALESCE(SUM(CASE WHEN day = ?2 THEN cost_micros END), 0), COALESCE(SUM(cost_micros), 0)
         FROM llm_spend WHERE tenant_id = ?1 AND day LIKE ?3",
        params![tenant.0, day, month_pattern(day)],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )
}
