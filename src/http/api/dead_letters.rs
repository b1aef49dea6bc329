//! Dead letters: list, inspect, replay, discard (the same operations as `atende dlq`).

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, limit};
use crate::domain::{JobId, JobKind};
use crate::http::{ApiError, AppState, actions};
use crate::queue::{self, DeadLetterError};
use crate::store::DeadLetterFilter;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    tenant: Option<String>,
    kind: Option<String>,
    limit: Option<u32>,
}

/// The `{id}` segment as a job id.
fn job_id(raw: &str) -> Result<JobId, ApiError> {
    raw.parse().map(JobId).map_err(|_| ApiError::InvalidPayload(format!("job id {raw:?} is not a number")))
}

fn failed(err: DeadLetterError) -> ApiError {
    super::failed(err.into())
}

pub(super) async fn list(
    State(state): State<AppState>,
    params: Result<Query<ListQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let query = super::query(params)?;
    let kind = match query.kind.as_deref().filter(|k| !k.is_empty()) {
        None => None,
        Some(kind) => Some(JobKind::parse(kind).ok_or_else(|| {
            let known: Vec<&str> = JobKind::ALL.iter().map(|k| k.as_str()).collect();
            ApiError::InvalidPayload(format!("kind {kind:?} is not a job kind; use one of {}", known.join(", ")))
        })?),
    };
    let filter =
        DeadLetterFilter { tenant: query.tenant.filter(|t| !t.is_empty()), kind, limit: Some(limit(query.limit)?) };
    let jobs = queue::list(&*state.store, &filter).await.map_err(failed)?;
    Ok(Json(json!({ "dead_letters": jobs })))
}

pub(super) async fn show(State(state): State<AppState>, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let job = queue::show(&*state.store, job_id(&id)?).await.map_err(failed)?;
    Ok(Json(json!(job)))
}

pub(super) async fn replay(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = job_id(&id)?;
    actions::replay(&state, id, caller.actor()).await.map_err(super::failed)?;
    Ok(Json(json!({ "id": id, "state": "queued" })))
}

pub(super) async fn discard(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let id = job_id(&id)?;
    actions::discard(&state, id, caller.actor()).await.map_err(super::failed)?;
    Ok(Json(json!({ "id": id, "state": "discarded" })))
}
