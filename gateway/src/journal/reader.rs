//! Queries of the journal. Each takes the connection it runs on: the handle's read connection, or the writer's
//! transaction when a write needs to read (returning from leave).

use chrono::{DateTime, Utc};
use hall_protocol::api::{
    AlertView, AuditEntry, InspectionView, LeaveEntry, MaintenanceView, StaffRef, WindowTransition,
};
use rusqlite::{Connection, OptionalExtension, Row, params};

use super::codec::{get_enum, get_id, get_json, get_offset, get_opt_utc, get_utc, utc_text};
use super::{NotificationRecord, NotifyOutcome};

const ALERT_COLUMNS: &str = "id, rule, kind, subject, severity, state, message, raised_at, acknowledged_at, \
     acknowledged_by, ack_note, resolved_at";

fn alert_from_row(row: &Row<'_>) -> rusqlite::Result<AlertView> {
    Ok(AlertView {
        id: get_id(row, 0)?,
        rule: row.get(1)?,
        kind: row.get(2)?,
        subject: row.get(3)?,
        severity: get_enum(row, 4)?,
        state: get_enum(row, 5)?,
        message: row.get(6)?,
        raised_at: get_utc(row, 7)?,
        acknowledged_at: get_opt_utc(row, 8)?,
        acknowledged_by: row.get(9)?,
        ack_note: row.get(10)?,
        resolved_at: get_opt_utc(row, 11)?,
    })
}

const WINDOW_COLUMNS: &str = "window_id, state, staff_id, staff_name, reason, at";

fn window_from_row(row: &Row<'_>) -> rusqlite::Result<WindowTransition> {
    let staff_id: Option<String> = row.get(2)?;
    let staff_name: Option<String> = row.get(3)?;
    Ok(WindowTransition {
        window_id: row.get(0)?,
        state: get_enum(row, 1)?,
        staff: staff_id.map(|id| StaffRef {
            id,
            name: staff_name.unwrap_or_default(),
        }),
        reason: row.get(4)?,
        at: get_utc(row, 5)?,
    })
}

pub(super) const LEAVE_COLUMNS: &str = "id, staff_id, kind, start_at, end_at, approver, substitute, note, \
     created_at, created_by, returned_at, returned_by, late_notice";

pub(super) fn leave_from_row(row: &Row<'_>) -> rusqlite::Result<LeaveEntry> {
    Ok(LeaveEntry {
        id: get_id(row, 0)?,
        staff_id: row.get(1)?,
        kind: get_enum(row, 2)?,
        start: get_offset(row, 3)?,
        end: get_offset(row, 4)?,
        approver: row.get(5)?,
        substitute: row.get(6)?,
        note: row.get(7)?,
        created_at: get_utc(row, 8)?,
        created_by: row.get(9)?,
        returned_at: get_opt_utc(row, 10)?,
        returned_by: row.get(11)?,
        late_notice: row.get(12)?,
    })
}

const AUDIT_COLUMNS: &str = "id, at, who, action, subject, old, new";

fn audit_from_row(row: &Row<'_>) -> rusqlite::Result<AuditEntry> {
    Ok(AuditEntry {
        id: get_id(row, 0)?,
        at: get_utc(row, 1)?,
        who: row.get(2)?,
        action: row.get(3)?,
        subject: row.get(4)?,
        old: get_json(row, 5)?,
        new: get_json(row, 6)?,
    })
}

/// Alerts not resolved, oldest first. The `state <> 'resolved'` condition matches the partial index.
pub fn open_alerts(conn: &Connection) -> rusqlite::Result<Vec<AlertView>> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE state <> 'resolved' ORDER BY id");
    let mut stmt = conn.prepare_cached(&sql)?;
    stmt.query_map([], alert_from_row)?.collect()
}

/// The highest alert id ever recorded, 0 for none.
pub fn max_alert_id(conn: &Connection) -> rusqlite::Result<u64> {
    let id: i64 = conn.query_row("SELECT COALESCE(MAX(id), 0) FROM alerts", [], |r| r.get(0))?;
    Ok(id.max(0) as u64)
}

/// Alerts raised in `[from, to)`, in the order they were raised.
pub fn alerts_between(
    conn: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> rusqlite::Result<Vec<AlertView>> {
    let sql = format!(
        "SELECT {ALERT_COLUMNS} FROM alerts WHERE raised_at >= ?1 AND raised_at < ?2 ORDER BY raised_at, id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    stmt.query_map(params![utc_text(from), utc_text(to)], alert_from_row)?
        .collect()
}

/// The latest transition of every window, by window id.
pub fn last_window_states(conn: &Connection) -> rusqlite::Result<Vec<WindowTransition>> {
    let sql = format!(
        "SELECT {WINDOW_COLUMNS} FROM window_transitions \
         WHERE seq IN (SELECT MAX(seq) FROM window_transitions GROUP BY window_id) ORDER BY window_id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    stmt.query_map([], window_from_row)?.collect()
}

/// One window's transitions at or after `since`, oldest first.
pub fn window_transitions(
    conn: &Connection,
    window_id: &str,
    since: DateTime<Utc>,
) -> rusqlite::Result<Vec<WindowTransition>> {
    let sql = format!(
        "SELECT {WINDOW_COLUMNS} FROM window_transitions WHERE window_id = ?1 AND at >= ?2 ORDER BY at, seq"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    stmt.query_map(params![window_id, utc_text(since)], window_from_row)?
        .collect()
}

/// Leave entries by start: all of them, or those in force at `active_at` (started, not ended, not returned).
pub fn leave_list(
    conn: &Connection,
    active_at: Option<DateTime<Utc>>,
) -> rusqlite::Result<Vec<LeaveEntry>> {
    match active_at {
        None => {
            let sql = format!("SELECT {LEAVE_COLUMNS} FROM leave ORDER BY start_utc, id");
            let mut stmt = conn.prepare_cached(&sql)?;
            stmt.query_map([], leave_from_row)?.collect()
        }
        Some(t) => {
            let sql = format!(
                "SELECT {LEAVE_COLUMNS} FROM leave \
                 WHERE start_utc <= ?1 AND end_utc > ?1 AND (returned_at IS NULL OR returned_at > ?1) \
                 ORDER BY start_utc, id"
            );
            let mut stmt = conn.prepare_cached(&sql)?;
            stmt.query_map(params![utc_text(t)], leave_from_row)?
                .collect()
        }
    }
}

/// Leave entries that overlap `[from, to)` (for a day's or a month's register), by start.
pub fn leave_overlapping(
    conn: &Connection,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> rusqlite::Result<Vec<LeaveEntry>> {
    let sql = format!(
        "SELECT {LEAVE_COLUMNS} FROM leave WHERE start_utc < ?2 AND end_utc > ?1 ORDER BY start_utc, id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    stmt.query_map(params![utc_text(from), utc_text(to)], leave_from_row)?
        .collect()
}

pub fn leave_get(conn: &Connection, id: i64) -> rusqlite::Result<Option<LeaveEntry>> {
    let sql = format!("SELECT {LEAVE_COLUMNS} FROM leave WHERE id = ?1");
    conn.prepare_cached(&sql)?
        .query_row([id], leave_from_row)
        .optional()
}

/// The latest `limit` audit lines, newest first.
pub fn audit_list(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<AuditEntry>> {
    let sql = format!("SELECT {AUDIT_COLUMNS} FROM audit ORDER BY id DESC LIMIT ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    stmt.query_map([limit], audit_from_row)?.collect()
}

/// The latest `limit` audit lines about `subject` (e.g. `window:{id}`), newest first.
pub fn audit_for_subject(
    conn: &Connection,
    subject: &str,
    limit: usize,
) -> rusqlite::Result<Vec<AuditEntry>> {
    let sql =
        format!("SELECT {AUDIT_COLUMNS} FROM audit WHERE subject = ?1 ORDER BY id DESC LIMIT ?2");
    let mut stmt = conn.prepare_cached(&sql)?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    stmt.query_map(params![subject, limit], audit_from_row)?
        .collect()
}

/// Every inspection record, by id (oldest first).
pub fn inspections(conn: &Connection) -> rusqlite::Result<Vec<InspectionView>> {
    let mut stmt = conn.prepare_cached("SELECT record FROM inspections ORDER BY id")?;
    stmt.query_map([], |row| {
        let text: String = row.get(0)?;
        serde_json::from_str(&text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })
    })?
    .collect()
}

/// The maintenance marks not lifted, the latest per device, by device id.
pub fn active_maintenance(conn: &Connection) -> rusqlite::Result<Vec<(String, MaintenanceView)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT device_id, reason, \"by\", until FROM maintenance \
         WHERE id IN (SELECT MAX(id) FROM maintenance WHERE lifted_at IS NULL GROUP BY device_id) \
         ORDER BY device_id",
    )?;
    stmt.query_map([], |row| {
        Ok((
            row.get(0)?,
            MaintenanceView {
                reason: row.get(1)?,
                by: row.get(2)?,
                until: get_opt_utc(row, 3)?,
            },
        ))
    })?
    .collect()
}

/// The latest `limit` notification sends, newest first.
pub fn notifications(conn: &Connection, limit: usize) -> rusqlite::Result<Vec<NotificationRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT at, channel, format, alert_id, rule, outcome, attempts, error FROM notifications \
         ORDER BY id DESC LIMIT ?1",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    stmt.query_map([limit], |row| {
        let alert_id: Option<i64> = row.get(3)?;
        let outcome: String = row.get(5)?;
        Ok(NotificationRecord {
            at: get_utc(row, 0)?,
            channel: row.get(1)?,
            format: row.get(2)?,
            alert_id: alert_id.and_then(|id| u64::try_from(id).ok()),
            rule: row.get(4)?,
            outcome: NotifyOutcome::from_text(&outcome).ok_or_else(|| {
                rusqlite::Error::FromSqlConversionFailure(
                    5,
                    rusqlite::types::Type::Text,
                    format!("unknown notification outcome {outcome:?}").into(),
                )
            })?,
            attempts: row.get(6)?,
            error: row.get(7)?,
        })
    })?
    .collect()
}
