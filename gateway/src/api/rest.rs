//! REST handlers. Errors are JSON `{"error": "..."}` with a fitting status.

use std::sync::atomic::Ordering;

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use hall_protocol::api::{AckRequest, ApiError, Health};

use super::AppState;
use crate::hub::HubGone;
use crate::model::alerts::AckError;

/// An API error: a status and a message for the caller.
pub struct Error(StatusCode, String);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        (self.0, Json(ApiError { error: self.1 })).into_response()
    }
}

impl From<HubGone> for Error {
    fn from(e: HubGone) -> Self {
        Error(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
    }
}

type Result<T> = std::result::Result<T, Error>;

pub async fn snapshot(State(s): State<AppState>) -> Result<Response> {
    Ok(Json(s.hub.snapshot().await?).into_response())
}

pub async fn devices(State(s): State<AppState>) -> Result<Response> {
    Ok(Json(s.hub.devices().await?).into_response())
}

pub async fn device(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    match s.hub.device(id.clone()).await? {
        Some(d) => Ok(Json(d).into_response()),
        None => Err(Error(
            StatusCode::NOT_FOUND,
            format!("no device with id {id:?}"),
        )),
    }
}

pub async fn windows(State(s): State<AppState>) -> Result<Response> {
    Ok(Json(s.hub.windows().await?).into_response())
}

pub async fn alerts(State(s): State<AppState>) -> Result<Response> {
    Ok(Json(s.hub.alerts().await?).into_response())
}

pub async fn ack(
    State(s): State<AppState>,
    Path(id): Path<u64>,
    body: std::result::Result<Json<AckRequest>, JsonRejection>,
) -> Result<Response> {
    let Json(request) = body.map_err(|e| Error(StatusCode::BAD_REQUEST, e.body_text()))?;
    match s.hub.ack(id, request).await? {
        Ok(alert) => Ok(Json(alert).into_response()),
        Err(e @ AckError::NotFound(_)) => Err(Error(StatusCode::NOT_FOUND, e.to_string())),
        Err(e @ AckError::Resolved(_)) => Err(Error(StatusCode::CONFLICT, e.to_string())),
        Err(e @ AckError::MissingName) => Err(Error(StatusCode::BAD_REQUEST, e.to_string())),
    }
}

pub async fn healthz(State(s): State<AppState>) -> Json<Health> {
    let connected = s.telemetry.broker_connected.load(Ordering::Relaxed);
    Json(Health {
        status: if connected {
            "ok".into()
        } else {
            "degraded".into()
        },
        broker_connected: connected,
        uptime_secs: s.started.elapsed().as_secs(),
    })
}

pub async fn metrics(State(s): State<AppState>) -> Response {
    let mut out = String::with_capacity(4096);
    s.telemetry.render_prometheus(&mut out);
    (s.extra_metrics)(&mut out);
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response()
}

pub async fn not_found() -> Error {
    Error(StatusCode::NOT_FOUND, "no such API endpoint".into())
}
