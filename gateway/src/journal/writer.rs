//! The writer thread: owns the write connection, takes operations from a bounded queue and commits them in
//! batches.
//!
//! Batching is what keeps SQLite fast here: one transaction per burst of alerts and window changes, not one per
//! record. Replies to the operations a user waits for (leave) and to `sync` are sent only after the COMMIT that
//! holds them, so nothing acknowledged can be lost to a crash of the gateway.
//!
//! If a batch fails as a whole (a constraint, a full disk), its operations are retried one per transaction, so one
//! bad record cannot take its neighbours with it; whatever still fails is counted and logged at ERROR.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};
use hall_protocol::api::{
    AlertView, AuditEntry, InspectionView, LeaveEntry, NewLeave, WindowTransition,
};
use rusqlite::{Connection, Transaction, params};
use tokio::sync::{mpsc, oneshot};

use super::codec::{enum_text, json_text, offset_text, utc_text};
use super::reader::leave_get;
use super::{Counters, JournalError, NotificationRecord, redact_url};
use crate::model::MaintenanceEvent;

/// Reply channel of an operation a caller waits for.
pub(super) type Reply<T> = oneshot::Sender<Result<T, JournalError>>;

/// One queued operation.
pub(super) enum Op {
    Alert(AlertView),
    Window(WindowTransition),
    Audit(AuditEntry),
    Inspection {
        record: InspectionView,
        at: DateTime<Utc>,
    },
    Maintenance(MaintenanceEvent),
    Notification(NotificationRecord),
    CreateLeave {
        /// Already validated.
        leave: NewLeave,
        created_at: DateTime<Utc>,
        late_notice: bool,
        reply: Reply<LeaveEntry>,
    },
    ReturnLeave {
        id: u64,
        by: String,
        at: DateTime<Utc>,
        reply: Reply<LeaveEntry>,
    },
    /// Answered once everything queued before it is committed.
    Sync(oneshot::Sender<()>),
    /// Commit what is queued, refuse what comes after, stop.
    Shutdown,
}

impl Op {
    /// A record written fire-and-forget: losing it is only visible through the counters and the log.
    fn record_name(&self) -> Option<&'static str> {
        match self {
            Op::Alert(_) => Some("alert"),
            Op::Window(_) => Some("window transition"),
            Op::Audit(_) => Some("audit entry"),
            Op::Inspection { .. } => Some("inspection record"),
            Op::Maintenance(_) => Some("maintenance mark"),
            Op::Notification(_) => Some("notification"),
            _ => None,
        }
    }

    /// Someone waits for this write's acknowledgement.
    fn is_acknowledged(&self) -> bool {
        matches!(self, Op::CreateLeave { .. } | Op::ReturnLeave { .. })
    }
}

/// What applying an operation produced, to be sent once the transaction committed. Boxed: the queue's records
/// produce `Nothing`, and a batch holds one of these per record.
enum Applied {
    Nothing,
    Leave(Box<Result<LeaveEntry, JournalError>>),
}

/// Runs until a `Shutdown` operation or until every handle is gone.
pub(super) fn run(
    mut conn: Connection,
    mut rx: mpsc::Receiver<Op>,
    counters: Arc<Counters>,
    max_batch: usize,
) {
    let mut batch: Vec<Op> = Vec::with_capacity(max_batch);
    let mut stopping = false;
    while !stopping {
        let Some(first) = rx.blocking_recv() else {
            break;
        };
        batch.push(first);
        loop {
            if let Some(Op::Shutdown) = batch.last() {
                batch.pop();
                stopping = true;
                // Refuse new operations, but take everything already accepted into this last batch.
                rx.close();
            }
            if !stopping && batch.len() >= max_batch {
                break;
            }
            match rx.try_recv() {
                Ok(op) => batch.push(op),
                Err(_) => break,
            }
        }
        write_batch(&mut conn, std::mem::take(&mut batch), &counters);
    }
    tracing::debug!("journal writer stopped");
}

fn write_batch(conn: &mut Connection, ops: Vec<Op>, counters: &Counters) {
    if ops.is_empty() {
        return;
    }
    // Acknowledged writes are made durable against a power cut too (see `Journal::open` on `synchronous`): the
    // WAL is synced at the COMMIT of any batch that carries one. There are a handful of these a day.
    let durable = ops.iter().any(Op::is_acknowledged);
    if durable {
        set_synchronous(conn, "FULL");
    }
    match apply_in_transaction(conn, ops.iter()) {
        Ok(applied) => {
            counters.batches.fetch_add(1, Ordering::Relaxed);
            for (op, applied) in ops.into_iter().zip(applied) {
                finish(op, Ok(applied), counters);
            }
        }
        Err(error) => {
            tracing::warn!(%error, n_ops = ops.len(), "journal batch failed; retrying its operations one by one");
            for op in ops {
                let result = apply_in_transaction(conn, std::iter::once(&op))
                    .map(|mut applied| applied.pop().unwrap_or(Applied::Nothing));
                if result.is_ok() {
                    counters.batches.fetch_add(1, Ordering::Relaxed);
                }
                finish(op, result, counters);
            }
        }
    }
    if durable {
        set_synchronous(conn, "NORMAL");
    }
}

fn set_synchronous(conn: &Connection, level: &str) {
    if let Err(error) = conn.pragma_update(None, "synchronous", level) {
        tracing::warn!(%error, level, "setting the journal's synchronous level failed");
    }
}

fn apply_in_transaction<'a>(
    conn: &mut Connection,
    ops: impl Iterator<Item = &'a Op>,
) -> rusqlite::Result<Vec<Applied>> {
    let tx = conn.transaction()?;
    let applied = ops
        .map(|op| apply(&tx, op))
        .collect::<rusqlite::Result<Vec<_>>>()?;
    tx.commit()?;
    Ok(applied)
}

/// Sends the reply of an operation whose transaction is over, or counts and logs a lost record.
fn finish(op: Op, result: rusqlite::Result<Applied>, counters: &Counters) {
    match (op, result) {
        (Op::CreateLeave { reply, .. } | Op::ReturnLeave { reply, .. }, result) => {
            let reply_value = match result {
                Ok(Applied::Leave(r)) => *r,
                Ok(Applied::Nothing) => Err(JournalError::Closed),
                Err(source) => {
                    tracing::error!(error = %source, "writing the leave register failed");
                    Err(JournalError::Sqlite {
                        context: "writing the leave register",
                        source,
                    })
                }
            };
            // The caller may have given up waiting; the write stands either way.
            let _ = reply.send(reply_value);
        }
        (Op::Sync(reply), _) => {
            let _ = reply.send(());
        }
        (Op::Shutdown, _) => {}
        (op, Ok(_)) => {
            if op.record_name().is_some() {
                counters.written.fetch_add(1, Ordering::Relaxed);
            }
        }
        (op, Err(error)) => {
            counters.failed.fetch_add(1, Ordering::Relaxed);
            tracing::error!(
                record = op.record_name().unwrap_or("operation"),
                %error,
                "journal write failed; the record is lost"
            );
        }
    }
}

fn sql_id(id: u64) -> rusqlite::Result<i64> {
    i64::try_from(id).map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))
}

fn apply(tx: &Transaction<'_>, op: &Op) -> rusqlite::Result<Applied> {
    match op {
        Op::Alert(a) => {
            // Upsert by id: each lifecycle step (acknowledged, resolved) overwrites the row of the raised alert.
            tx.prepare_cached(
                "INSERT INTO alerts (id, rule, kind, subject, severity, state, message, raised_at, \
                     acknowledged_at, acknowledged_by, ack_note, resolved_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
                 ON CONFLICT (id) DO UPDATE SET rule = excluded.rule, kind = excluded.kind, \
                     subject = excluded.subject, severity = excluded.severity, state = excluded.state, \
                     message = excluded.message, raised_at = excluded.raised_at, \
                     acknowledged_at = excluded.acknowledged_at, acknowledged_by = excluded.acknowledged_by, \
                     ack_note = excluded.ack_note, resolved_at = excluded.resolved_at",
            )?
            .execute(params![
                sql_id(a.id)?,
                a.rule,
                a.kind,
                a.subject,
                enum_text(&a.severity),
                enum_text(&a.state),
                a.message,
                utc_text(a.raised_at),
                a.acknowledged_at.map(utc_text),
                a.acknowledged_by,
                a.ack_note,
                a.resolved_at.map(utc_text),
            ])?;
            Ok(Applied::Nothing)
        }
        Op::Window(w) => {
            tx.prepare_cached(
                "INSERT INTO window_transitions (window_id, state, staff_id, staff_name, reason, at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![
                w.window_id,
                enum_text(&w.state),
                w.staff.as_ref().map(|s| &s.id),
                w.staff.as_ref().map(|s| &s.name),
                w.reason,
                utc_text(w.at),
            ])?;
            Ok(Applied::Nothing)
        }
        Op::Audit(e) => {
            insert_audit(tx, e)?;
            Ok(Applied::Nothing)
        }
        Op::Inspection { record, at } => {
            // Upsert by id: taken, items fixed, signed, each overwrites the day's row.
            let json = serde_json::to_string(record)
                .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
            tx.prepare_cached(
                "INSERT INTO inspections (id, date, record, updated_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (id) DO UPDATE SET date = excluded.date, record = excluded.record, \
                     updated_at = excluded.updated_at",
            )?
            .execute(params![
                sql_id(record.id)?,
                record.date.to_string(),
                json,
                utc_text(*at),
            ])?;
            Ok(Applied::Nothing)
        }
        Op::Maintenance(MaintenanceEvent::Marked {
            device_id,
            mark,
            since,
        }) => {
            // A new mark replaces one still in force: that one ends now, lifted by whoever set the new one.
            tx.prepare_cached(
                "UPDATE maintenance SET lifted_at = ?2, lifted_by = ?3 \
                 WHERE device_id = ?1 AND lifted_at IS NULL",
            )?
            .execute(params![device_id, utc_text(*since), mark.by])?;
            tx.prepare_cached(
                "INSERT INTO maintenance (device_id, reason, \"by\", since, until) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                device_id,
                mark.reason,
                mark.by,
                utc_text(*since),
                mark.until.map(utc_text),
            ])?;
            Ok(Applied::Nothing)
        }
        Op::Maintenance(MaintenanceEvent::Lifted { device_id, at, by }) => {
            tx.prepare_cached(
                "UPDATE maintenance SET lifted_at = ?2, lifted_by = ?3 \
                 WHERE device_id = ?1 AND lifted_at IS NULL",
            )?
            .execute(params![device_id, utc_text(*at), by])?;
            Ok(Applied::Nothing)
        }
        Op::Notification(n) => {
            tx.prepare_cached(
                "INSERT INTO notifications (at, channel, format, alert_id, rule, outcome, attempts, error) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                utc_text(n.at),
                n.channel.as_deref().map(redact_url),
                n.format,
                n.alert_id.map(sql_id).transpose()?,
                n.rule,
                n.outcome.as_str(),
                n.attempts,
                n.error,
            ])?;
            Ok(Applied::Nothing)
        }
        Op::CreateLeave {
            leave,
            created_at,
            late_notice,
            ..
        } => {
            tx.prepare_cached(
                "INSERT INTO leave (staff_id, kind, start_at, end_at, start_utc, end_utc, approver, substitute, \
                     note, created_at, created_by, late_notice) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?
            .execute(params![
                leave.staff_id,
                leave.kind.as_str(),
                offset_text(leave.start),
                offset_text(leave.end),
                utc_text(leave.start.to_utc()),
                utc_text(leave.end.to_utc()),
                leave.approver,
                leave.substitute,
                leave.note,
                utc_text(*created_at),
                leave.by,
                late_notice,
            ])?;
            let id = tx.last_insert_rowid();
            let entry = leave_get(tx, id)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
            insert_audit(
                tx,
                &AuditEntry {
                    id: 0,
                    at: *created_at,
                    who: leave.by.clone(),
                    action: "leave.create".into(),
                    subject: format!("leave:{}", entry.id),
                    old: None,
                    new: serde_json::to_value(&entry).ok(),
                },
            )?;
            Ok(Applied::Leave(Box::new(Ok(entry))))
        }
        Op::ReturnLeave { id, by, at, .. } => {
            let Some(before) = leave_get(tx, sql_id(*id)?)? else {
                return Ok(Applied::Leave(Box::new(Err(JournalError::LeaveNotFound(
                    *id,
                )))));
            };
            if let Some(returned_at) = before.returned_at {
                return Ok(Applied::Leave(Box::new(Err(
                    JournalError::AlreadyReturned {
                        id: *id,
                        returned_at,
                    },
                ))));
            }
            tx.prepare_cached("UPDATE leave SET returned_at = ?2, returned_by = ?3 WHERE id = ?1")?
                .execute(params![sql_id(*id)?, utc_text(*at), by])?;
            let after = leave_get(tx, sql_id(*id)?)?.ok_or(rusqlite::Error::QueryReturnedNoRows)?;
            insert_audit(
                tx,
                &AuditEntry {
                    id: 0,
                    at: *at,
                    who: by.clone(),
                    action: "leave.return".into(),
                    subject: format!("leave:{id}"),
                    old: serde_json::to_value(&before).ok(),
                    new: serde_json::to_value(&after).ok(),
                },
            )?;
            Ok(Applied::Leave(Box::new(Ok(after))))
        }
        Op::Sync(_) | Op::Shutdown => Ok(Applied::Nothing),
    }
}

fn insert_audit(tx: &Transaction<'_>, e: &AuditEntry) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO audit (at, who, action, subject, old, new) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        utc_text(e.at),
        e.who,
        e.action,
        e.subject,
        json_text(&e.old),
        json_text(&e.new),
    ])?;
    Ok(())
}
