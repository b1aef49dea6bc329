//! Tenants on SQLite.

use async_trait::async_trait;
use sqlx::Row;
use sqlx::sqlite::SqliteRow;
use time::OffsetDateTime;

use super::{SqliteStore, corrupt, ms};
use crate::config::tenant::TenantFile;
use crate::domain::TenantId;
use crate::store::{Result, Tenant, TenantStore, UpsertOutcome};

#[async_trait]
impl TenantStore for SqliteStore {
    async fn upsert_tenant(&self, file: &TenantFile, now: OffsetDateTime) -> Result<(TenantId, UpsertOutcome)> {
        let settings = serde_json::to_string(file).map_err(|e| corrupt(e.to_string()))?;
        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let existing = sqlx::query("SELECT id, name, settings FROM tenants WHERE slug = $1")
            .bind(&file.slug)
            .fetch_optional(&mut *tx)
            .await?;
        let outcome = match existing {
            Some(row) => {
                let id: i64 = row.get("id");
                let old: String = row.get("settings");
                let same = serde_json::from_str::<TenantFile>(&old).is_ok_and(|old| &old == file);
                if same {
                    (TenantId(id), UpsertOutcome::Unchanged)
                } else {
                    sqlx::query("UPDATE tenants SET name = $1, settings = $2, updated_at = $3 WHERE id = $4")
                        .bind(&file.name)
                        .bind(&settings)
                        .bind(ms(now))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    (TenantId(id), UpsertOutcome::Updated)
                }
            }
            None => {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO tenants (slug, name, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) RETURNING id",
                )
                .bind(&file.slug)
                .bind(&file.name)
                .bind(&settings)
                .bind(ms(now))
                .fetch_one(&mut *tx)
                .await?;
                (TenantId(id), UpsertOutcome::Created)
            }
        };
        tx.commit().await?;
        Ok(outcome)
    }

    async fn find_tenant(&self, slug: &str) -> Result<Option<Tenant>> {
        let row = sqlx::query("SELECT id, slug, name, settings FROM tenants WHERE slug = $1")
            .bind(slug)
            .fetch_optional(&self.reader)
            .await?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let rows =
            sqlx::query("SELECT id, slug, name, settings FROM tenants ORDER BY slug").fetch_all(&self.reader).await?;
        rows.iter().map(tenant_from_row).collect()
    }
}

/// Decodes `id, slug, name, settings` (also used by message queries that join tenants).
pub(super) fn tenant_from_row(row: &SqliteRow) -> Result<Tenant> {
    let settings: String = row.get("settings");
    let slug: String = row.get("slug");
    let settings = serde_json::from_str(&settings).map_err(|e| corrupt(format!("tenant {slug}: {e}")))?;
    Ok(Tenant { id: TenantId(row.get("id")), slug, name: row.get("name"), settings })
}
