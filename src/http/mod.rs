//! HTTP surface: webhook ingress, the admin API, the panel and the operations endpoints.
//!
//! Layer 5: may import anything below; never `jobs`.

mod actions;
mod api;
mod close;
mod error;
mod ingress;
mod ops;
pub mod panel;

use std::sync::Arc;

use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::sync::Notify;

use crate::brain::Brain;
use crate::config::Config;
use crate::limits::Limits;
use crate::store::{Store, TenantCache};

pub use error::ApiError;

/// Shared state of every handler.
#[derive(Clone)]
pub struct AppState {
    /// Data and queue.
    pub store: Arc<dyn Store>,
    /// Process configuration.
    pub config: Arc<Config>,
    /// Ingress rate limits.
    pub limits: Arc<Limits>,
    /// Tenants by slug, reused for `http.tenant_cache_ttl`.
    pub tenants: Arc<TenantCache>,
    /// Wakes this process's workers when work is enqueued.
    pub wake: Arc<Notify>,
    /// Renders `/metrics`.
    pub metrics: PrometheusHandle,
    /// The brain, for the panel's persona preview (answers computed, never stored or sent).
    pub brain: Arc<Brain>,
    /// Webhooks being handled, at most `http.max_in_flight` (`None`: no limit).
    pub in_flight: Option<Arc<tokio::sync::Semaphore>>,
}

/// The operations routes, plus webhook ingress and the admin API when `front` (roles `all`
/// and `api`).
pub fn router(state: AppState, front: bool) -> Router {
    let routes = if front {
        Router::new().merge(ingress::router()).merge(api::router(&state)).merge(panel::router(&state))
    } else {
        Router::new()
    };
    routes
        .merge(ops::router())
        .fallback(|| async { ApiError::NotFound })
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_| {
            axum::response::IntoResponse::into_response(ApiError::Internal("handler panicked".into()))
        }))
        .with_state(state)
}
