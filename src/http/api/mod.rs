//! The JSON admin API under `/api/v1`: per-user Bearer tokens, the panel's roles, and an
//! OpenAPI document at `/api/v1/openapi.json`.
//!
//! Every operation is one row of [`OPERATIONS`]: the row mounts the handler behind the
//! role check *and* writes the operation into the OpenAPI document, so a route cannot be
//! served without its role or documented with a different one. The document is built
//! from that table by hand rather than with utoipa's derive macros: there the role would
//! live in a second attribute per handler, free to drift from the layer that enforces it,
//! and `x-atende-role` would need a post-processing pass anyway.

mod access;
mod conversations;
mod dead_letters;
mod tenants;

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{MethodRouter, get};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::actions::{ActionError, Actor};
use super::{ApiError, AppState};
use crate::domain::UserRole;
use crate::secrets::token_digest;
use crate::store::{Tenant, User};

/// Where the API lives.
pub const PREFIX: &str = "/api/v1";

/// HTTP verbs the API uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verb {
    /// Reads.
    Get,
    /// Actions.
    Post,
    /// Idempotent settings.
    Put,
}

impl Verb {
    fn as_str(self) -> &'static str {
        match self {
            Self::Get => "get",
            Self::Post => "post",
            Self::Put => "put",
        }
    }
}

/// A query parameter or body field, for the document: name, JSON type, required, what.
type Field = (&'static str, &'static str, bool, &'static str);

/// One operation of the API.
pub struct Operation {
    /// Verb (must match what `route` mounts; the crawl test catches a mismatch as a 405).
    pub verb: Verb,
    /// Path below [`PREFIX`], axum syntax (`{id}`), which is also OpenAPI's.
    pub path: &'static str,
    /// The lowest role allowed.
    pub role: UserRole,
    /// `operationId`.
    pub id: &'static str,
    /// One line for the document.
    pub summary: &'static str,
    /// Query parameters.
    pub query: &'static [Field],
    /// JSON body fields (POST and PUT).
    pub body: &'static [Field],
    /// The status of a success: 200, or 202 when the work is queued.
    pub success: u16,
    /// The handler.
    pub route: fn() -> MethodRouter<AppState>,
}

const LIMIT: Field = ("limit", "integer", false, "at most this many (1-500, default 100)");

/// Every operation of the API.
pub static OPERATIONS: &[Operation] = &[
    Operation {
        verb: Verb::Get,
        path: "/me",
        role: UserRole::Viewer,
        id: "me",
        summary: "The token's owner and role",
        query: &[],
        body: &[],
        success: 200,
        route: || get(access::me),
    },
    Operation {
        verb: Verb::Get,
        path: "/tenants",
        role: UserRole::Viewer,
        id: "listTenants",
        summary: "Tenants (slug, name, persona version, flags)",
        query: &[],
        body: &[],
        success: 200,
        route: || get(tenants::list),
    },
    Operation {
        verb: Verb::Get,
        path: "/tenants/{tenant}",
        role: UserRole::Admin,
        id: "showTenant",
        summary: "A tenant's applied settings, secrets masked",
        query: &[],
        body: &[],
        success: 200,
        route: || get(tenants::show),
    },
    Operation {
        verb: Verb::Get,
        path: "/tenants/{tenant}/conversations",
        role: UserRole::Viewer,
        id: "listConversations",
        summary: "A tenant's conversations, most recently active first",
        query: &[("state", "string", false, "bot, human or closed"), LIMIT],
        body: &[],
        success: 200,
        route: || get(conversations::list),
    },
    Operation {
        verb: Verb::Get,
        path: "/tenants/{tenant}/conversations/{contact}",
        role: UserRole::Viewer,
        id: "showConversation",
        summary: "One conversation with its transcript (mood and knowledge used per message)",
        query: &[],
        body: &[],
        success: 200,
        route: || get(conversations::show),
    },
    Operation {
        verb: Verb::Put,
        path: "/tenants/{tenant}/conversations/{contact}/ai",
        role: UserRole::Operator,
        id: "setConversationAi",
        summary: "Turn the bot on (state bot) or off (state human) for one conversation",
        query: &[],
        body: &[("enabled", "boolean", true, "true: the bot answers; false: a person does")],
        success: 200,
        route: || axum::routing::put(conversations::set_ai),
    },
    Operation {
        verb: Verb::Post,
        path: "/tenants/{tenant}/conversations/{contact}/close",
        role: UserRole::Operator,
        id: "closeConversation",
        summary: "Close the conversation (ends its hand-off, asks for CSAT when the tenant does)",
        query: &[],
        body: &[],
        success: 200,
        route: || axum::routing::post(conversations::close),
    },
    Operation {
        verb: Verb::Post,
        path: "/tenants/{tenant}/conversations/{contact}/handoff",
        role: UserRole::Operator,
        id: "handOffConversation",
        summary: "Hand the conversation to a person: the bot goes silent, the customer hears the hand-off text, \
                  the ticket moves to the human queue",
        query: &[],
        body: &[("reason", "string", false, "why (lowercase letters, digits, _; default operator)")],
        success: 202,
        route: || axum::routing::post(conversations::handoff),
    },
    Operation {
        verb: Verb::Post,
        path: "/tenants/{tenant}/conversations/{contact}/messages",
        role: UserRole::Operator,
        id: "sendAsBot",
        summary: "Send a message to the customer as the bot (delivered in order after pending answers)",
        query: &[],
        body: &[("text", "string", true, "what to send (1-4096 characters)")],
        success: 202,
        route: || axum::routing::post(conversations::send),
    },
    Operation {
        verb: Verb::Get,
        path: "/tenants/{tenant}/handoffs",
        role: UserRole::Viewer,
        id: "listHandoffs",
        summary: "A tenant's hand-offs, newest first, with SLA times",
        query: &[LIMIT],
        body: &[],
        success: 200,
        route: || get(tenants::handoffs),
    },
    Operation {
        verb: Verb::Get,
        path: "/dead-letters",
        role: UserRole::Viewer,
        id: "listDeadLetters",
        summary: "Dead letters, newest first",
        query: &[
            ("tenant", "string", false, "only this tenant (slug)"),
            ("kind", "string", false, "only this job kind"),
            LIMIT,
        ],
        body: &[],
        success: 200,
        route: || get(dead_letters::list),
    },
    Operation {
        verb: Verb::Get,
        path: "/dead-letters/{id}",
        role: UserRole::Viewer,
        id: "showDeadLetter",
        summary: "One job with its failure history",
        query: &[],
        body: &[],
        success: 200,
        route: || get(dead_letters::show),
    },
    Operation {
        verb: Verb::Post,
        path: "/dead-letters/{id}/replay",
        role: UserRole::Operator,
        id: "replayDeadLetter",
        summary: "Queue a dead letter again with its attempts reset",
        query: &[],
        body: &[],
        success: 200,
        route: || axum::routing::post(dead_letters::replay),
    },
    Operation {
        verb: Verb::Post,
        path: "/dead-letters/{id}/discard",
        role: UserRole::Operator,
        id: "discardDeadLetter",
        summary: "Throw a dead letter away",
        query: &[],
        body: &[],
        success: 200,
        route: || axum::routing::post(dead_letters::discard),
    },
    Operation {
        verb: Verb::Get,
        path: "/users",
        role: UserRole::Admin,
        id: "listUsers",
        summary: "Users and their roles",
        query: &[],
        body: &[],
        success: 200,
        route: || get(access::users),
    },
    Operation {
        verb: Verb::Get,
        path: "/tokens",
        role: UserRole::Admin,
        id: "listTokens",
        summary: "API tokens (never the tokens themselves)",
        query: &[],
        body: &[],
        success: 200,
        route: || get(access::tokens),
    },
    Operation {
        verb: Verb::Get,
        path: "/audit",
        role: UserRole::Admin,
        id: "listAudit",
        summary: "The audit log, newest first",
        query: &[
            ("actor", "string", false, "only this actor"),
            ("action", "string", false, "only actions starting with this"),
            ("before_id", "integer", false, "entries older than this id (paging)"),
            LIMIT,
        ],
        body: &[],
        success: 200,
        route: || get(access::audit),
    },
];

/// The API's routes, each behind the token check and its role, plus the public document.
pub(super) fn router(state: &AppState) -> Router<AppState> {
    let mut router = Router::new().route(&format!("{PREFIX}/openapi.json"), get(openapi_json));
    for operation in OPERATIONS {
        let guard = Guard { state: state.clone(), role: operation.role };
        let route = (operation.route)().route_layer(middleware::from_fn_with_state(guard, authorize));
        router = router.route(&format!("{PREFIX}{}", operation.path), route);
    }
    router
}

/// The role an operation needs, with the state to check tokens.
#[derive(Clone)]
struct Guard {
    state: AppState,
    role: UserRole,
}

/// The authenticated caller of an operation.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The token's owner.
    pub user: User,
    /// The token's id.
    pub token: i64,
    /// Client address.
    pub ip: String,
}

impl Caller {
    /// The caller as the audit log names them.
    pub fn actor(&self) -> Actor<'_> {
        Actor { email: self.user.email.as_str(), user: self.user.id, ip: &self.ip }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        // Only reachable behind `authorize`, which always inserts one.
        parts.extensions.get::<Caller>().cloned().ok_or(ApiError::Unauthenticated)
    }
}

/// Checks the Bearer token and the role; the caller rides in the request's extensions.
async fn authorize(State(guard): State<Guard>, mut request: Request, next: Next) -> Result<Response, ApiError> {
    let token = bearer(request.headers()).ok_or(ApiError::Unauthenticated)?;
    let found = guard.state.store.token_user(&token_digest(token), OffsetDateTime::now_utc()).await.map_err(|err| {
        tracing::warn!(error = %err, "cannot check an api token");
        ApiError::Unavailable
    })?;
    let (token, user) = found.ok_or(ApiError::Unauthenticated)?;
    if !user.role.allows(guard.role) {
        return Err(ApiError::Forbidden { needed: guard.role, role: user.role });
    }
    let ip = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip().to_string())
        .unwrap_or_default();
    request.extensions_mut().insert(Caller { user, token, ip });
    Ok(next.run(request).await)
}

/// The token of `Authorization: Bearer <token>` (scheme case-insensitive).
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

async fn openapi_json() -> Json<Value> {
    Json(openapi())
}

/// The OpenAPI 3.1 document of [`OPERATIONS`]; each operation carries `x-atende-role`.
pub fn openapi() -> Value {
    let mut paths = Map::new();
    for operation in OPERATIONS {
        let mut parameters: Vec<Value> = path_parameters(operation.path)
            .map(|name| json!({ "name": name, "in": "path", "required": true, "schema": { "type": "string" } }))
            .collect();
        parameters.extend(operation.query.iter().map(|(name, kind, required, what)| {
            json!({ "name": name, "in": "query", "required": required, "description": what, "schema": { "type": kind } })
        }));
        let mut doc = json!({
            "operationId": operation.id,
            "summary": operation.summary,
            "x-atende-role": operation.role.as_str(),
            "security": [{ "bearer": [] }],
            "parameters": parameters,
            "responses": {
                operation.success.to_string(): { "description": "OK", "content": { "application/json": {} } },
                "400": { "$ref": "#/components/responses/Error" },
                "401": { "$ref": "#/components/responses/Error" },
                "403": { "$ref": "#/components/responses/Error" },
                "404": { "$ref": "#/components/responses/Error" },
                "409": { "$ref": "#/components/responses/Error" },
                "503": { "$ref": "#/components/responses/Error" },
            },
        });
        if !operation.body.is_empty() {
            let properties: Map<String, Value> = operation
                .body
                .iter()
                .map(|(name, kind, _, what)| (name.to_string(), json!({ "type": kind, "description": what })))
                .collect();
            let required: Vec<&str> =
                operation.body.iter().filter(|(_, _, required, _)| *required).map(|(name, ..)| *name).collect();
            doc["requestBody"] = json!({
                "required": !required.is_empty(),
                "content": { "application/json": { "schema": {
                    "type": "object", "properties": properties, "required": required,
                } } },
            });
        }
        let path = paths.entry(format!("{PREFIX}{}", operation.path)).or_insert_with(|| json!({}));
        path[operation.verb.as_str()] = doc;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Atende admin API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Create a token with `atende token create EMAIL --name NAME` and send it as \
                            `Authorization: Bearer <token>`. Errors are `{\"error\":{\"code\",\"message\"}}`.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": { "bearer": { "type": "http", "scheme": "bearer" } },
            "responses": { "Error": {
                "description": "Error",
                "content": { "application/json": { "schema": {
                    "type": "object",
                    "properties": { "error": { "type": "object", "properties": {
                        "code": { "type": "string" }, "message": { "type": "string" },
                    } } },
                } } },
            } },
        },
    })
}

/// The `{name}` segments of a path.
fn path_parameters(path: &str) -> impl Iterator<Item = &str> {
    path.split('/').filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
}

/// The tenant of a `{tenant}` path segment.
async fn tenant(state: &AppState, slug: &str) -> Result<Tenant, ApiError> {
    state.store.find_tenant(slug).await.map_err(unavailable)?.ok_or(ApiError::NotFound)
}

/// A store failure: logged, answered 503 so the client retries.
fn unavailable(err: impl std::fmt::Display) -> ApiError {
    tracing::warn!(error = %err, "admin api: store unavailable");
    ApiError::Unavailable
}

/// `?limit=`: 1 to 500, 100 when absent.
fn limit(value: Option<u32>) -> Result<u32, ApiError> {
    match value {
        None => Ok(100),
        Some(n @ 1..=500) => Ok(n),
        Some(n) => Err(ApiError::InvalidPayload(format!("limit must be between 1 and 500, got {n}"))),
    }
}

/// A query string, or a 400 naming what is wrong with it.
fn query<T>(params: Result<Query<T>, QueryRejection>) -> Result<T, ApiError> {
    params.map(|Query(params)| params).map_err(|err| ApiError::InvalidPayload(err.body_text()))
}

/// A JSON body, or a 400 (413 when too large) naming what is wrong with it.
fn json_body<T: DeserializeOwned>(body: Result<Bytes, BytesRejection>) -> Result<T, ApiError> {
    let body = body.map_err(|err| match err.status() {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(BODY_LIMIT),
        _ => ApiError::InvalidPayload(err.body_text()),
    })?;
    serde_json::from_slice(&body).map_err(|err| ApiError::InvalidPayload(format!("body: {err}")))
}

/// axum's default body limit, which the API keeps.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// RFC 3339, for JSON.
fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// An action's failure as the API answers it.
fn failed(err: ActionError) -> ApiError {
    match err {
        ActionError::NotFound => ApiError::NotFound,
        ActionError::Conflict(message) => ApiError::Conflict(message),
        ActionError::Invalid(message) => ApiError::InvalidPayload(message),
        ActionError::Store(err) => unavailable(err),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_operation_is_documented_once_with_its_role() {
        let doc = openapi();
        let mut seen = HashSet::new();
        for operation in OPERATIONS {
            assert!(seen.insert(operation.id), "operationId {} is used twice", operation.id);
            let documented = &doc["paths"][format!("{PREFIX}{}", operation.path)][operation.verb.as_str()];
            assert_eq!(documented["x-atende-role"], operation.role.as_str(), "{}", operation.id);
            let params: Vec<&str> = documented["parameters"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|p| p["in"] == "path")
                .map(|p| p["name"].as_str().unwrap())
                .collect();
            assert_eq!(params, path_parameters(operation.path).collect::<Vec<_>>(), "{}", operation.id);
        }
    }

    #[test]
    fn bearer_takes_the_token_of_a_bearer_header_only() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };
        assert_eq!(bearer(&headers("Bearer atd_abc")), Some("atd_abc"));
        assert_eq!(bearer(&headers("bearer  atd_abc ")), Some("atd_abc"));
        assert_eq!(bearer(&headers("Basic dXNlcjpwYXNz")), None);
        assert_eq!(bearer(&headers("Bearer ")), None);
        assert_eq!(bearer(&HeaderMap::new()), None);
    }

    #[test]
    fn limit_defaults_to_100_and_refuses_out_of_range() {
        assert_eq!(limit(None).unwrap(), 100);
        assert_eq!(limit(Some(500)).unwrap(), 500);
        assert!(limit(Some(0)).is_err());
        assert!(limit(Some(501)).is_err());
    }
}
