//! Tenants and their persona history on SQLite.

use std::sync::LazyLock;

use async_trait::async_trait;
use rusqlite::{Connection, Row, params};
use time::OffsetDateTime;

use super::sql::{execute, query_all, query_one, query_opt};
use super::writer::Tx;
use super::{SqliteStore, corrupt, decode_flags, decode_managed, from_ms, ms};
use crate::config::managed::ManagedSecrets;
use crate::config::persona::PersonaTable;
use crate::config::tenant::TenantFile;
use crate::domain::{Flag, FlagValue, TenantId};
use crate::store::{PersonaVersion, Result, Tenant, TenantStore, UpsertOutcome};

// Dynamic SQL here is built only from this constant column list.
/// Columns `tenant_from_row` reads, from `tenants` (unaliased).
pub(super) const TENANT_COLUMNS: &str = "id, slug, name, settings, flags, secrets,
    (SELECT COALESCE(MAX(p.version), 0) FROM persona_versions p WHERE p.tenant_id = tenants.id) AS persona_version";

/// One tenant by id.
pub(super) static TENANT_BY_ID_SQL: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE id = ?1"));
static TENANT_BY_SLUG_SQL: LazyLock<String> =
    LazyLock::new(|| format!("SELECT {TENANT_COLUMNS} FROM tenants WHERE slug = ?1"));
static TENANTS_SQL: LazyLock<String> = LazyLock::new(|| format!("SELECT {TENANT_COLUMNS} FROM tenants ORDER BY slug"));

#[async_trait]
impl TenantStore for SqliteStore {
    async fn upsert_tenant(&self, file: &TenantFile, now: OffsetDateTime) -> Result<(TenantId, UpsertOutcome)> {
        let settings = serde_json::to_string(file).map_err(|e| corrupt(e.to_string()))?;
        let file = file.clone();
        self.writer
            .write(move |conn| {
                let existing: Option<(i64, String)> =
                    query_opt(conn, "SELECT id, settings FROM tenants WHERE slug = ?1", params![file.slug], |row| {
                        Ok((row.get(0)?, row.get(1)?))
                    })?;
                let (id, outcome) = match existing {
                    Some((id, old)) if serde_json::from_str::<TenantFile>(&old).is_ok_and(|old| old == file) => {
                        (id, UpsertOutcome::Unchanged)
                    }
                    Some((id, _)) => {
                        execute(
                            conn,
                            "UPDATE tenants SET name = ?1, settings = ?2, updated_at = ?3 WHERE id = ?4",
                            params![file.name, settings, ms(now), id],
                        )?;
                        (id, UpsertOutcome::Updated)
                    }
                    None => {
                        let id: i64 = query_one(
                            conn,
                            "INSERT INTO tenants (slug, name, settings, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) RETURNING id",
                            params![file.slug, file.name, settings, ms(now)],
                            |row| Ok(row.get(0)?),
                        )?;
                        (id, UpsertOutcome::Created)
                    }
                };
                record_persona_version(conn, id, &file.persona, now)?;
                Ok((TenantId(id), outcome))
            })
            .await
    }

    async fn find_tenant(&self, slug: &str) -> Result<Option<Tenant>> {
        let slug = slug.to_string();
        self.readers.read(move |conn| query_opt(conn, &TENANT_BY_SLUG_SQL, params![slug], tenant_from_row)).await
    }

    async fn find_tenant_by_id(&self, id: TenantId) -> Result<Option<Tenant>> {
        self.readers.read(move |conn| query_opt(conn, &TENANT_BY_ID_SQL, params![id.0], tenant_from_row)).await
    }

    async fn list_tenants(&self) -> Result<Vec<Tenant>> {
        self.readers.read(|conn| query_all(conn, &TENANTS_SQL, [], tenant_from_row)).await
    }

    async fn list_persona_versions(&self, tenant: TenantId) -> Result<Vec<PersonaVersion>> {
        let rows: Vec<(i64, String, i64)> = self
            .readers
            .read(move |conn| {
                query_all(
                    conn,
                    "SELECT version, persona, created_at FROM persona_versions WHERE tenant_id = ?1 ORDER BY version DESC",
                    params![tenant.0],
                    |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
                )
            })
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
        // Flag names are fixed identifiers ([a-z_]), safe inside a JSON path.
        let path = format!("$.{}", flag.name());
        let value = value.map(|v| serde_json::to_string(&v)).transpose().map_err(|e| corrupt(e.to_string()))?;
        self.writer
            .write(move |conn| {
                let changed = match &value {
                    Some(value) => execute(
                        conn,
                        "UPDATE tenants SET flags = json_set(flags, ?1, json(?2)), updated_at = ?3 WHERE id = ?4",
                        params![path, value, ms(now), tenant.0],
                    )?,
                    None => execute(
                        conn,
                        "UPDATE tenants SET flags = json_remove(flags, ?1), updated_at = ?2 WHERE id = ?3",
                        params![path, ms(now), tenant.0],
                    )?,
                };
                Ok(changed == 1)
            })
            .await
    }

    async fn reseal_tenant(&self, id: TenantId, file: &TenantFile, secrets: &ManagedSecrets) -> Result<bool> {
        let settings = serde_json::to_string(file).map_err(|e| corrupt(e.to_string()))?;
        let secrets = serde_json::to_string(secrets).map_err(|e| corrupt(e.to_string()))?;
        self.writer
            .write(move |conn| {
                let sql = "UPDATE tenants SET settings = ?1, secrets = ?2 WHERE id = ?3";
                Ok(execute(conn, sql, params![settings, secrets, id.0])? == 1)
            })
            .await
    }

    async fn set_tenant_secrets(&self, id: TenantId, secrets: &ManagedSecrets, now: OffsetDateTime) -> Result<bool> {
        let secrets = serde_json::to_string(secrets).map_err(|e| corrupt(e.to_string()))?;
        self.writer
            .write(move |conn| {
                let sql = "UPDATE tenants SET secrets = ?1, updated_at = ?2 WHERE id = ?3";
                Ok(execute(conn, sql, params![secrets, ms(now), id.0])? == 1)
            })
            .await
    }

    async fn rollback_persona(&self, tenant: TenantId, version: i64, now: OffsetDateTime) -> Result<Option<i64>> {
        self.writer
            .transact(move |conn| {
                let old: Option<String> = query_opt(
                    conn,
                    "SELECT persona FROM persona_versions WHERE tenant_id = ?1 AND version = ?2",
                    params![tenant.0, version],
                    |row| Ok(row.get(0)?),
                )?;
                let Some(old) = old else { return Ok(Tx::Rollback(None)) };
                let persona: PersonaTable = serde_json::from_str(&old).map_err(|e| corrupt(e.to_string()))?;
                let settings: String =
                    query_one(conn, "SELECT settings FROM tenants WHERE id = ?1", params![tenant.0], |row| {
                        Ok(row.get(0)?)
                    })?;
                let mut file: TenantFile = serde_json::from_str(&settings).map_err(|e| corrupt(e.to_string()))?;
                file.persona = persona;
                execute(
                    conn,
                    "UPDATE tenants SET settings = ?1, updated_at = ?2 WHERE id = ?3",
                    params![serde_json::to_string(&file).map_err(|e| corrupt(e.to_string()))?, ms(now), tenant.0],
                )?;
                let new = record_persona_version(conn, tenant.0, &file.persona, now)?;
                Ok(Tx::Commit(Some(new)))
            })
            .await
    }
}

/// Appends `persona` as a new version unless it equals the latest; returns the current version.
fn record_persona_version(conn: &Connection, tenant: i64, persona: &PersonaTable, now: OffsetDateTime) -> Result<i64> {
    let latest: Option<(i64, String)> = query_opt(
        conn,
        "SELECT version, persona FROM persona_versions WHERE tenant_id = ?1 ORDER BY version DESC LIMIT 1",
        params![tenant],
        |row| Ok((row.get(0)?, row.get(1)?)),
    )?;
    if let Some((version, old)) = &latest
        && serde_json::from_str::<PersonaTable>(old).is_ok_and(|old| &old == persona)
    {
        return Ok(*version);
    }
    let version = latest.map_or(1, |(v, _)| v + 1);
    execute(
        conn,
        "INSERT INTO persona_versions (tenant_id, version, persona, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![tenant, version, serde_json::to_string(persona).map_err(|e| corrupt(e.to_string()))?, ms(now)],
    )?;
    Ok(version)
}

/// Decodes [`TENANT_COLUMNS`].
pub(super) fn tenant_from_row(row: &Row<'_>) -> Result<Tenant> {
    let settings: String = row.get("settings")?;
    let slug: String = row.get("slug")?;
    let settings = serde_json::from_str(&settings).map_err(|e| corrupt(format!("tenant {slug}: {e}")))?;
    let flags = decode_flags(&slug, &row.get::<_, String>("flags")?)?;
    let secrets = decode_managed(&slug, &row.get::<_, String>("secrets")?)?;
    Ok(Tenant {
        id: TenantId(row.get("id")?),
        slug,
        name: row.get("name")?,
        settings,
        persona_version: row.get("persona_version")?,
        flags,
        secrets,
    })
}
