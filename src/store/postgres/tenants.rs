//! Tenants and their persona history on PostgreSQL.
//!
//! Every write locks the tenant row first, so concurrent applies of one tenant (or a
//! rollback racing an apply) number persona versions one after the other.

use async_trait::async_trait;
use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, PgConnection, Row};
use time::OffsetDateTime;

use super::{PgStore, corrupt, decode_flags, decode_managed, from_ms, ms};
use crate::config::managed::ManagedSecrets;
use crate::config::persona::PersonaTable;
use crate::config::tenant::TenantFile;
use crate::domain::{Flag, FlagValue, TenantId};
use crate::store::{PersonaVersion, Result, Tenant, TenantStore, UpsertOutcome};

// Dynamic SQL here is built only from this constant column list (AssertSqlSafe).
/// Columns `tenant_from_row` reads, from `tenants` (unaliased).
pub(super) const TENANT_COLUMNS: &str = "id, slug, name, settings, flags, secrets,
    (SELECT COALESCE(MAX(p.version), 0) FROM persona_versions p WHERE p.tenant_id = tenants.id) AS persona_version";

#[async_trait]
impl TenantStore for PgStore {
    async fn upsert_tenant(&self, file: &TenantFile, now: OffsetDateTime) -> Result<(TenantId, UpsertOutcome)> {
        let settings = serde_json::to_string(file).map_err(|e| corrupt(e.to_string()))?;
        let mut tx = self.pool.begin().await?;
        // Insert-or-nothing first: two processes creating one tenant meet on the unique slug.
        let created: Option<i64> = sqlx::query_scalar(
            "INSERT INTO tenants (slug, name, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $4)
             ON CONFLICT (slug) DO NOTHING RETURNING id",
        )
        .bind(&file.slug)
        .bind(&file.name)
        .bind(&settings)
        .bind(ms(now))
        .fetch_optional(&mut *tx)
        .await?;
        let (id, outcome) = match created {
            Some(id) => (id, UpsertOutcome::Created),
            None => {
                let (id, old): (i64, String) =
                    sqlx::query_as("SELECT id, settings FROM tenants WHERE slug = $1 FOR UPDATE")
                        .bind(&file.slug)
                        .fetch_one(&mut *tx)
                        .await?;
                if serde_json::from_str::<TenantFile>(&old).is_ok_and(|old| &old == file) {
                    (id, UpsertOutcome::Unchanged)
                } else {
                    sqlx::query("UPDATE tenants SET name = $1, settings = $2, updated_at = $3 WHERE id = $4")
                        .bind(&file.name)
                        .bind(&settings)
                        .bind(ms(now))
                        .bind(id)
                        .execute(&mut *tx)
                        .await?;
                    (id, UpsertOutcome::Updated)
                }
            }
        };
        record_persona_version(&mut tx, id, &file.persona, now).await?;
        tx.commit().await?;
        Ok((TenantId(id), outcome))
    }

    async fn find_tenant(&self, slug: &str) -> Result<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(slug).fetch_optional(&self.pool).await?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    async fn find_tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = $1");
        let row = sqlx::query(AssertSqlSafe(sql)).bind(id.0).fetch_optional(&self.pool).await?;
        row.as_ref().map(tenant_from_row).transpose()
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        let sql = format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY slug");
        let rows = sqlx::query(AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
        rows.iter().map(tenant_from_row).collect()
    }

    async fn list_persona_versions(&self, tenant: TenantId) -> Result<Vec<PersonaVersion>> {
        let rows: Vec<(i64, String, i64)> = sqlx::query_as(
            "SELECT version, persona, created_at FROM persona_versions WHERE tenant_id = $1 ORDER BY version DESC",
        )
        .bind(tenant.0)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(version, persona, at)| {
                let persona =
                    serde_json::from_str(&persona).map_err(|e| corrupt(format!("persona v{version}: {e}")))?;
                Ok(PersonaVersion { version, persona, created_at: from_ms(at) })
            })
            .collect()
    }

    async fn set_flag(
        &self,
        tenant: TenantId,
        flag: Flag,
        value: Option<FlagValue>,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let query = match value {
            Some(value) => sqlx::query(
                "UPDATE tenants SET flags = (flags::jsonb || jsonb_build_object($1::text, $2::jsonb))::text,
                                    updated_at = $3 WHERE id = $4",
            )
            .bind(flag.name())
            .bind(serde_json::to_string(&value).map_err(|e| corrupt(e.to_string()))?),
            None => {
                sqlx::query("UPDATE tenants SET flags = (flags::jsonb - $1::text)::text, updated_at = $2 WHERE id = $3")
                    .bind(flag.name())
            }
        };
        let done = query.bind(ms(now)).bind(tenant.0).execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }

    async fn reseal_tenant(&self, id: TenantId, file: &TenantFile, secrets: &ManagedSecrets) -> Result<bool> {
        let settings = serde_json::to_string(file).map_err(|e| corrupt(e.to_string()))?;
        let secrets = serde_json::to_string(secrets).map_err(|e| corrupt(e.to_string()))?;
        let done = sqlx::query("UPDATE tenants SET settings = $1, secrets = $2 WHERE id = $3")
            .bind(settings)
            .bind(secrets)
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn set_tenant_secrets(&self, id: TenantId, secrets: &ManagedSecrets, now: OffsetDateTime) -> Result<bool> {
        let secrets = serde_json::to_string(secrets).map_err(|e| corrupt(e.to_string()))?;
        let done = sqlx::query("UPDATE tenants SET secrets = $1, updated_at = $2 WHERE id = $3")
            .bind(secrets)
            .bind(ms(now))
            .bind(id.0)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    async fn rollback_persona(&self, tenant: TenantId, version: i64, now: OffsetDateTime) -> Result<Option<i64>> {
        let mut tx = self.pool.begin().await?;
        let settings: Option<String> = sqlx::query_scalar("SELECT settings FROM tenants WHERE id = $1 FOR UPDATE")
            .bind(tenant.0)
            .fetch_optional(&mut *tx)
            .await?;
        let Some(settings) = settings else {
            tx.rollback().await?;
            return Ok(None);
        };
        let old: Option<String> =
            sqlx::query_scalar("SELECT persona FROM persona_versions WHERE tenant_id = $1 AND version = $2")
                .bind(tenant.0)
                .bind(version)
                .fetch_optional(&mut *tx)
                .await?;
        let Some(old) = old else {
            tx.rollback().await?;
            return Ok(None);
        };
        let persona: PersonaTable = serde_json::from_str(&old).map_err(|e| corrupt(e.to_string()))?;
        let mut file: TenantFile = serde_json::from_str(&settings).map_err(|e| corrupt(e.to_string()))?;
        file.persona = persona;
        sqlx::query("UPDATE tenants SET settings = $1, updated_at = $2 WHERE id = $3")
            .bind(serde_json::to_string(&file).map_err(|e| corrupt(e.to_string()))?)
            .bind(ms(now))
            .bind(tenant.0)
            .execute(&mut *tx)
            .await?;
        let new = record_persona_version(&mut tx, tenant.0, &file.persona, now).await?;
        tx.commit().await?;
        Ok(Some(new))
    }
}

/// Appends `persona` as a new version unless it equals the latest; returns the current version.
/// The caller holds the tenant row lock.
async fn record_persona_version(
    conn: &mut PgConnection,
    tenant: i64,
    persona: &PersonaTable,
    now: OffsetDateTime,
) -> Result<i64> {
    let latest: Option<(i64, String)> = sqlx::query_as(
        "SELECT version, persona FROM persona_versions WHERE tenant_id = $1 ORDER BY version DESC LIMIT 1",
    )
    .bind(tenant)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((version, old)) = &latest
        && serde_json::from_str::<PersonaTable>(old).is_ok_and(|old| &old == persona)
    {
        return Ok(*version);
    }
    let version = latest.map_or(1, |(v, _)| v + 1);
    sqlx::query("INSERT INTO persona_versions (tenant_id, version, persona, created_at) VALUES ($1, $2, $3, $4)")
        .bind(tenant)
        .bind(version)
        .bind(serde_json::to_string(persona).map_err(|e| corrupt(e.to_string()))?)
        .bind(ms(now))
        .execute(&mut *conn)
        .await?;
    Ok(version)
}

/// Decodes [`TENANT_COLUMNS`].
pub(super) fn tenant_from_row(row: &PgRow) -> Result<Tenant> {
    let settings: String = row.get("settings");
    let slug: String = row.get("slug");
    let settings = serde_json::from_str(&settings).map_err(|e| corrupt(format!("tenant {slug}: {e}")))?;
    let flags = decode_flags(&slug, row.get("flags"))?;
    let secrets = decode_managed(&slug, row.get("secrets"))?;
    Ok(Tenant {
        id: TenantId(row.get("id")),
        slug,
        name: row.get("name"),
        settings,
        persona_version: row.get("persona_version"),
        flags,
        secrets,
    })
}
