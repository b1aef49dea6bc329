//! Who is calling, users, tokens and the audit log.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Caller, limit, rfc3339, unavailable};
use crate::http::{ApiError, AppState};
use crate::store::{AuditFilter, User};

fn user_json(user: &User) -> Value {
    json!({
        "id": user.id,
        "email": user.email.as_str(),
        "role": user.role.as_str(),
        "disabled": user.disabled,
        "locked_until": user.locked_until.map(rfc3339),
        "created_at": rfc3339(user.created_at),
    })
}

pub(super) async fn me(caller: Caller) -> Json<Value> {
    let mut me = user_json(&caller.user);
    me["token_id"] = json!(caller.token);
    Json(me)
}

pub(super) async fn users(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let users = state.store.list_users().await.map_err(unavailable)?;
    Ok(Json(json!({ "users": users.iter().map(user_json).collect::<Vec<_>>() })))
}

pub(super) async fn tokens(State(state): State<AppState>) -> Result<Json<Value>, ApiError> {
    let tokens = state.store.list_api_tokens(None).await.map_err(unavailable)?;
    let tokens: Vec<Value> = tokens
        .iter()
        .map(|t| {
            json!({
                "id": t.id, "name": t.name, "email": t.email.as_str(),
                "created_at": rfc3339(t.created_at), "expires_at": t.expires_at.map(rfc3339),
                "last_used_at": t.last_used_at.map(rfc3339), "revoked_at": t.revoked_at.map(rfc3339),
            })
        })
        .collect();
    Ok(Json(json!({ "tokens": tokens })))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct AuditQuery {
    actor: Option<String>,
    action: Option<String>,
    before_id: Option<i64>,
    limit: Option<u32>,
}

pub(super) async fn audit(
    State(state): State<AppState>,
    params: Result<Query<AuditQuery>, QueryRejection>,
) -> Result<Json<Value>, ApiError> {
    let query = super::query(params)?;
    let filter = AuditFilter {
        actor: query.actor.filter(|a| !a.is_empty()),
        action: query.action.filter(|a| !a.is_empty()),
        before_id: query.before_id,
        limit: limit(query.limit)?,
    };
    let entries = state.store.list_audit(&filter).await.map_err(unavailable)?;
    let entries: Vec<Value> = entries
        .into_iter()
        .map(|e| {
            json!({
                "id": e.id, "at": rfc3339(e.at), "actor": e.actor, "user_id": e.user_id,
                "action": e.action, "target": e.target, "ip": e.ip, "success": e.success,
                "before": e.before, "after": e.after,
            })
        })
        .collect();
    Ok(Json(json!({ "entries": entries })))
}
