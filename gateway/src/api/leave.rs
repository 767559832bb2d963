//! The leave register (POST-5) over HTTP: list, enter, return (销假). Entering and returning are answered only
//! after the journal committed them; then the hall model takes the new register, so the post rules (POST-4) see
//! it at once. Every change goes to the audit trail.

use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hall_protocol::api::{LeaveEntry, NewLeave, ReturnLeave};

use super::AppState;
use super::rest::Error;
use crate::journal::JournalError;

type Result<T> = std::result::Result<T, Error>;

fn journal_error(e: JournalError) -> Error {
    match e {
        e @ JournalError::LeaveNotFound(_) => Error(StatusCode::NOT_FOUND, e.to_string()),
        e @ JournalError::InvalidLeave(_) => Error(StatusCode::BAD_REQUEST, e.to_string()),
        e @ JournalError::AlreadyReturned { .. } => Error(StatusCode::CONFLICT, e.to_string()),
        e => {
            tracing::error!(error = %e, "journal failed");
            Error(StatusCode::SERVICE_UNAVAILABLE, e.to_string())
        }
    }
}

async fn register(s: &AppState) -> Result<Vec<LeaveEntry>> {
    s.journal
        .read(|j| j.leave_list(None))
        .await
        .map_err(journal_error)
}

/// Hands the current register to the hall model.
async fn refresh_model(s: &AppState) -> Result<()> {
    let entries = register(s).await?;
    s.hub.set_leave(entries).await?;
    Ok(())
}

pub async fn list(State(s): State<AppState>) -> Result<Response> {
    Ok(Json(register(&s).await?).into_response())
}

pub async fn create(
    State(s): State<AppState>,
    body: std::result::Result<Json<NewLeave>, JsonRejection>,
) -> Result<Response> {
    let Json(new) = body.map_err(|e| Error(StatusCode::BAD_REQUEST, e.body_text()))?;
    let now = s.clock.now().wall;
    // The journal writes the audit line (POST-6) in the same transaction as the entry.
    let entry = s
        .journal
        .create_leave(new, now, &s.calendar)
        .await
        .map_err(journal_error)?;
    refresh_model(&s).await?;
    Ok((StatusCode::CREATED, Json(entry)).into_response())
}

pub async fn return_from(
    State(s): State<AppState>,
    Path(id): Path<u64>,
    body: std::result::Result<Json<ReturnLeave>, JsonRejection>,
) -> Result<Response> {
    let Json(ret) = body.map_err(|e| Error(StatusCode::BAD_REQUEST, e.body_text()))?;
    let now = s.clock.now().wall;
    let at = ret.at.map(|t| t.to_utc()).unwrap_or(now);
    let entry = s
        .journal
        .return_leave(id, &ret.by, at)
        .await
        .map_err(journal_error)?;
    refresh_model(&s).await?;
    Ok(Json(entry).into_response())
}

pub async fn audit(State(s): State<AppState>) -> Result<Response> {
    let entries = s
        .journal
        .read(|j| j.audit_list(500))
        .await
        .map_err(journal_error)?;
    Ok(Json(entries).into_response())
}
