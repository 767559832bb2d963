//! The HTTP side of the gateway: REST under `/api/v1`, the live WebSocket, `/metrics`, `/healthz` and the
//! dashboard's static files.
//!
//! [`app`] builds the router from already-made state, so tests call it directly.

mod leave;
mod live;
mod rest;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use tower_http::compression::CompressionLayer;
use tower_http::services::{ServeDir, ServeFile};

use crate::hub::HubHandle;
use crate::telemetry::Telemetry;

/// Largest request body the API accepts.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub hub: HubHandle,
    pub telemetry: Arc<Telemetry>,
    pub started: Instant,
    /// Extra Prometheus text appended to `/metrics` by other components (e.g. the metrics sink).
    pub extra_metrics: Arc<dyn Fn(&mut String) + Send + Sync>,
    /// The SQLite journal: leave register, audit trail.
    pub journal: crate::journal::JournalHandle,
    /// The hall calendar (late notice of annual leave counts working days).
    pub calendar: crate::model::calendar::Calendar,
    pub clock: Arc<dyn crate::clock::Clock>,
}

/// The whole router: API, live stream, metrics, health, and the dashboard at `/` (with its client-side routes
/// `/wall`, `/duty`, `/it` falling back to `index.html`).
pub fn app(state: AppState, dashboard_dir: PathBuf) -> Router {
    let index = dashboard_dir.join("index.html");
    let api = Router::new()
        .route("/snapshot", get(rest::snapshot))
        .route("/devices", get(rest::devices))
        .route("/devices/{id}", get(rest::device))
        .route("/devices/{id}/history", get(rest::device_history))
        .route("/windows/{id}/history", get(rest::window_history))
        .route("/windows", get(rest::windows))
        .route("/alerts", get(rest::alerts))
        .route("/queues", get(rest::queues))
        .route("/alerts/{id}/ack", post(rest::ack))
        .route("/leave", get(leave::list).post(leave::create))
        .route("/leave/{id}/return", post(leave::return_from))
        .route("/audit", get(leave::audit))
        .route(
            "/devices/{id}/maintenance",
            post(rest::set_maintenance).delete(rest::lift_maintenance),
        )
        .route("/inspections", get(rest::inspections))
        .route("/inspections/{file}", get(rest::inspection))
        .route("/inspections/{id}/print", get(rest::inspection_print))
        .route("/inspections/{id}/sign", post(rest::sign_inspection))
        .route("/live", get(live::upgrade))
        .fallback(rest::not_found);
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(rest::healthz))
        .route("/metrics", get(rest::metrics))
        .fallback_service(ServeDir::new(&dashboard_dir).fallback(ServeFile::new(index)))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(CompressionLayer::new())
        .with_state(state)
}
