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
pub struct Error(pub StatusCode, pub String);

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

pub async fn device_history(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    match s.hub.device_history(id.clone()).await? {
        Some(h) => Ok(Json(h).into_response()),
        None => Err(Error(
            StatusCode::NOT_FOUND,
            format!("no device with id {id:?}"),
        )),
    }
}

pub async fn window_history(State(s): State<AppState>, Path(id): Path<String>) -> Result<Response> {
    match s.hub.window_history(id.clone()).await? {
        Some(h) => Ok(Json(h).into_response()),
        None => Err(Error(
            StatusCode::NOT_FOUND,
            format!("no window with id {id:?}"),
        )),
    }
}

pub async fn windows(State(s): State<AppState>) -> Result<Response> {
    Ok(Json(s.hub.windows().await?).into_response())
}

pub async fn alerts(State(s): State<AppState>) -> Result<Response> {
    Ok(Json(s.hub.alerts().await?).into_response())
}

pub async fn queues(State(s): State<AppState>) -> Result<Response> {
    Ok(Json(s.hub.queues().await?).into_response())
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
        Err(e @ (AckError::MissingName | AckError::MissingNote)) => {
            Err(Error(StatusCode::BAD_REQUEST, e.to_string()))
        }
    }
}

/// `POST /api/v1/devices/{id}/maintenance` (DEV-6).
pub async fn set_maintenance(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: std::result::Result<Json<hall_protocol::api::MaintenanceRequest>, JsonRejection>,
) -> Result<Response> {
    let Json(request) = body.map_err(|e| Error(StatusCode::BAD_REQUEST, e.body_text()))?;
    let result = s.hub.set_maintenance(id, request).await?;
    committed(&s, result.is_ok()).await;
    maintenance_result(result)
}

/// `DELETE /api/v1/devices/{id}/maintenance` (DEV-6).
pub async fn lift_maintenance(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response> {
    let result = s.hub.lift_maintenance(id).await?;
    committed(&s, result.is_ok()).await;
    maintenance_result(result)
}

/// Waits until what the hub journalled for a successful change is committed, so that what the caller is told
/// was done survives a crash. A journal that fails is counted and logged by the journal itself.
async fn committed(s: &AppState, changed: bool) {
    if changed {
        if let Err(error) = s.journal.sync().await {
            tracing::error!(%error, "waiting for the journal failed");
        }
    }
}

fn maintenance_result(
    r: std::result::Result<hall_protocol::api::DeviceView, crate::model::MaintenanceError>,
) -> Result<Response> {
    use crate::model::MaintenanceError as E;
    match r {
        Ok(view) => Ok(Json(view).into_response()),
        Err(e @ E::NotFound(_)) => Err(Error(StatusCode::NOT_FOUND, e.to_string())),
        Err(e @ E::NotMarked(_)) => Err(Error(StatusCode::CONFLICT, e.to_string())),
        Err(e @ (E::MissingName | E::UntilInPast)) => {
            Err(Error(StatusCode::BAD_REQUEST, e.to_string()))
        }
    }
}

/// `GET /api/v1/inspections` (INS-2).
pub async fn inspections(State(s): State<AppState>) -> Result<Response> {
    Ok(Json(s.hub.inspections().await?).into_response())
}

/// `GET /api/v1/inspections/{file}`: `{id}.csv` (UTF-8 with BOM) or `{id}` (JSON).
pub async fn inspection(State(s): State<AppState>, Path(file): Path<String>) -> Result<Response> {
    let (id, csv) = match file.strip_suffix(".csv") {
        Some(id) => (id, true),
        None => (file.as_str(), false),
    };
    let export = inspection_export(&s, id).await?;
    if !csv {
        return Ok(Json(export.record).into_response());
    }
    let body = crate::model::inspection::to_csv(&export.record, export.tz);
    let name = format!("inspection-{}.csv", export.record.date);
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}

/// `GET /api/v1/inspections/{id}/print`: a printable page.
pub async fn inspection_print(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response> {
    let export = inspection_export(&s, &id).await?;
    let html = crate::model::inspection::to_html(&export.record, &export.hall_name, export.tz);
    Ok(axum::response::Html(html).into_response())
}

async fn inspection_export(s: &AppState, id: &str) -> Result<crate::hub::InspectionExport> {
    let n: u64 = id.parse().map_err(|_| {
        Error(
            StatusCode::BAD_REQUEST,
            format!("not an inspection id: {id:?}"),
        )
    })?;
    s.hub.inspection_export(n).await?.ok_or_else(|| {
        Error(
            StatusCode::NOT_FOUND,
            format!("no inspection record with id {n}"),
        )
    })
}

/// `POST /api/v1/inspections/{id}/sign` (INS-3).
pub async fn sign_inspection(
    State(s): State<AppState>,
    Path(id): Path<u64>,
    body: std::result::Result<Json<hall_protocol::api::SignRequest>, JsonRejection>,
) -> Result<Response> {
    use crate::model::inspection::SignError as E;
    let Json(request) = body.map_err(|e| Error(StatusCode::BAD_REQUEST, e.body_text()))?;
    let result = s.hub.sign_inspection(id, request).await?;
    committed(&s, result.is_ok()).await;
    match result {
        Ok(rec) => Ok(Json(rec).into_response()),
        Err(e @ E::NotFound(_)) => Err(Error(StatusCode::NOT_FOUND, e.to_string())),
        Err(e @ E::AlreadySigned { .. }) => Err(Error(StatusCode::CONFLICT, e.to_string())),
        Err(e @ E::MissingName) => Err(Error(StatusCode::BAD_REQUEST, e.to_string())),
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
