//! Tenants and their hand-offs.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{limit, rfc3339, tenant, unavailable};
use crate::http::{ApiError, AppState};

pub(super) async fn list(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let tenants = state.store.list_tenants().await.map_err(unavailable)?;
    let tenants: Vec<Value> = tenants
        .iter()
        .map(|t| json!({ "slug": t.slug, "name": t.name, "persona_version": t.persona_version, "flags": t.flags }))
        .collect();
    Ok(Json(json!({ "tenants": tenants })))
}

pub(super) async fn show(State(state): State<AppState>, Path(slug): Path<String>) -> Result<Json<Value>, ApiError> {
    let tenant = tenant(&state, &slug).await?;
    let settings = serde_json::to_value(tenant.settings.masked()).map_err(|err| ApiError::Internal(err.to_string()))?;
    Ok(Json(json!({
        "slug": tenant.slug, "name": tenant.name, "persona_version": tenant.persona_version,
        "flags": tenant.flags, "settings": settings,
    })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct LimitQuery {
    limit: Option<u32>,
}

pub(super) async fn handoffs(
    State(state): State<AppState>,
    Path(slug): Path<String>,
    params: Result<Query<LimitQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let query = super::query(params)?;
    let limit = limit(query.limit)?;
    let tenant = tenant(&state, &slug).await?;
    let records = state.store.list_handoffs(tenant.id, limit).await.map_err(unavailable)?;
    let handoffs: Vec<Value> = records
        .iter()
        .map(|h| {
            json!({
                "id": h.id, "contact": h.conversation.contact, "state": h.conversation.state.as_str(),
                "reason": h.reason, "summary": h.summary, "ticket_id": h.ticket_id, "transfer": h.transfer,
                "created_at": rfc3339(h.created_at), "sla_due_at": h.sla_due_at.map(rfc3339),
                "first_human_at": h.first_human_at.map(rfc3339), "breached_at": h.breached_at.map(rfc3339),
                "closed_at": h.closed_at.map(rfc3339), "correlation_id": h.correlation_id.as_str(),
            })
        })
        .collect();
    Ok(Json(json!({ "handoffs": handoffs })))
}
