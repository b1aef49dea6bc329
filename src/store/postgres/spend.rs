//! LLM spend per tenant and day on PostgreSQL.

use async_trait::async_trait;
use sqlx::Row;

use super::PgStore;
use crate::domain::TenantId;
use crate::store::{Result, SpendStore, SpendUsage, month_pattern};

const TOTALS_SQL: &str = "SELECT COALESCE(SUM(CASE WHEN day = $2 THEN cost_micros END), 0)::BIGINT AS today,
        COALESCE(SUM(cost_micros), 0)::BIGINT AS month
     FROM llm_spend WHERE tenant_id = $1 AND day LIKE $3";

#[async_trait]
impl SpendStore for PgStore {
    async fn add_llm_spend(&self, tenant: TenantId, day: &str, usage: SpendUsage) -> Result<(i64, i64)> {
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO llm_spend (tenant_id, day, input_tokens, output_tokens, cost_micros) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (tenant_id, day) DO UPDATE SET input_tokens = llm_spend.input_tokens + excluded.input_tokens,
                output_tokens = llm_spend.output_tokens + excluded.output_tokens,
                cost_micros = llm_spend.cost_micros + excluded.cost_micros",
        )
        .bind(tenant.0)
        .bind(day)
        .bind(i64::try_from(usage.input_tokens).unwrap_or(i64::MAX))
        .bind(i64::try_from(usage.output_tokens).unwrap_or(i64::MAX))
        .bind(usage.cost_micros)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(TOTALS_SQL).bind(tenant.0).bind(day).bind(month_pattern(day)).fetch_one(&mut *tx).await?;
        tx.commit().await?;
        Ok((row.get("today"), row.get("month")))
    }

    async fn llm_spend(&self, tenant: TenantId, day: &str) -> Result<(i64, i64)> {
        let row =
            sqlx::query(TOTALS_SQL).bind(tenant.0).bind(day).bind(month_pattern(day)).fetch_one(&self.pool).await?;
        Ok((row.get("today"), row.get("month")))
    }
}
