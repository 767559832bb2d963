//! The journal: the hall's records in SQLite, kept forever and never lost to a restart.
//!
//! It holds the alerts (every lifecycle step overwrites the alert's row), the windows' staffing transitions
//! (POST-1), the leave register (POST-5), the audit trail (POST-6), the morning inspection records (INS-1..3,
//! overwritten as they change), the maintenance marks (DEV-6, one row per mark) and every webhook send, in
//! `hallwatch.db` under the data directory. After a restart the gateway restores open alerts, window states,
//! inspection records and the maintenance marks in force from it.
//!
//! ## Writes never block the hub
//!
//! A dedicated thread owns the write connection and takes operations from a bounded queue, committing whatever
//! is queued in one transaction. The hub's records ([`JournalHandle::record_alert`],
//! [`JournalHandle::record_window`], [`JournalHandle::append_audit`]) are fire-and-forget: they never wait, and if
//! the queue is full the record is dropped, counted and logged at ERROR, because data loss must be visible. The
//! queue is sized so that this only happens when the disk has stopped answering. Writes a user waits for (leave
//! create and return) are awaited and answered only after their COMMIT; [`JournalHandle::sync`] waits until
//! everything queued before it is committed.
//!
//! ## Reads
//!
//! Reads go through a second, read-only connection, shared by the handles behind a mutex. In WAL mode a reader
//! sees the last committed state and never waits for the writer (nor the writer for it), so an API listing never
//! queues behind a burst of alert writes, and the writer's queue holds only writes. Reads see what is committed:
//! call [`JournalHandle::sync`] first to read a fire-and-forget record back. The read methods are blocking but
//! short (indexed queries); from async code run them through [`JournalHandle::read`].

mod codec;
pub mod leave;
mod reader;
pub mod schema;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use hall_protocol::api::{
    AlertView, AuditEntry, InspectionView, LeaveEntry, MaintenanceView, NewLeave, WindowTransition,
};
use rusqlite::{Connection, OpenFlags};
use tokio::sync::{mpsc, oneshot};

pub use leave::{HallDays, LeaveError, is_late_notice, late_notice_in_hall};

use writer::Op;

pub use crate::model::MaintenanceEvent;

/// What became of one webhook message (or of an alert meant for one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyOutcome {
    /// Delivered.
    Sent,
    /// Given up after every attempt.
    Failed,
    /// Held back by the channel's rate limit; counted in a summary message instead.
    Summarised,
    /// Refused because a notify queue was full.
    Dropped,
}

impl NotifyOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyOutcome::Sent => "sent",
            NotifyOutcome::Failed => "failed",
            NotifyOutcome::Summarised => "summarised",
            NotifyOutcome::Dropped => "dropped",
        }
    }

    pub fn from_text(s: &str) -> Option<Self> {
        Some(match s {
            "sent" => NotifyOutcome::Sent,
            "failed" => NotifyOutcome::Failed,
            "summarised" => NotifyOutcome::Summarised,
            "dropped" => NotifyOutcome::Dropped,
            _ => return None,
        })
    }
}

/// One webhook send as journalled.
#[derive(Debug, Clone, PartialEq)]
pub struct NotificationRecord {
    pub at: DateTime<Utc>,
    /// The webhook's URL; stored without its query string, fragment or user info (see [`redact_url`]). `None`
    /// for an alert dropped before it was handed to any channel.
    pub channel: Option<String>,
    /// `json`, `wecom`, `dingtalk`.
    pub format: Option<String>,
    /// `None` for a summary message.
    pub alert_id: Option<u64>,
    /// The alert's rule id, or `summary`.
    pub rule: String,
    pub outcome: NotifyOutcome,
    pub attempts: u32,
    pub error: Option<String>,
}

/// The serde name of a config enum (a notify format: `json`, `wecom`, `dingtalk`).
pub fn format_text<T: serde::Serialize>(value: &T) -> String {
    codec::enum_text(value)
}

/// A webhook URL without what may carry a secret: the query string (the robots' `key=` and `access_token=`), the
/// fragment and any `user:password@`.
pub fn redact_url(url: &str) -> String {
    let base = url.split(['?', '#']).next().unwrap_or("");
    match base.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = match rest.find('/') {
                Some(i) => rest.split_at(i),
                None => (rest, ""),
            };
            let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
            format!("{scheme}://{host}{path}")
        }
        None => base.to_owned(),
    }
}

/// File name of the journal in the data directory.
pub const DB_FILE: &str = "hallwatch.db";

/// Why the journal could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("creating the data directory {path}: {source}")]
    CreateDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("opening the journal {path}: {source}")]
    Open {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("the journal {path} could not be switched to WAL mode (it is in {mode:?} mode)")]
    NotWal { path: PathBuf, mode: String },
    #[error(
        "the journal {path} has schema version {found}, newer than this gateway understands ({supported}); \
         run a newer gateway or restore a backup"
    )]
    TooNew {
        path: PathBuf,
        found: i64,
        supported: i64,
    },
    #[error("starting the journal writer thread: {0}")]
    Thread(std::io::Error),
    #[error("journal {context}: {source}")]
    Sqlite {
        context: &'static str,
        source: rusqlite::Error,
    },
    #[error(transparent)]
    InvalidLeave(#[from] LeaveError),
    #[error("no leave entry with id {0}")]
    LeaveNotFound(u64),
    #[error("leave {id} was already returned at {returned_at}")]
    AlreadyReturned { id: u64, returned_at: DateTime<Utc> },
    #[error("the journal is closed")]
    Closed,
}

/// Tuning of the journal; [`Default`] suits a hall.
#[derive(Debug, Clone)]
pub struct JournalOptions {
    /// Operations the writer's queue holds before fire-and-forget records are dropped. Memory is only used by
    /// what is actually queued.
    pub queue_len: usize,
    /// Most operations committed in one transaction.
    pub max_batch: usize,
    /// How long a statement waits for a lock held by another connection (a backup tool, an operator's sqlite3).
    pub busy_timeout: Duration,
}

impl Default for JournalOptions {
    fn default() -> Self {
        JournalOptions {
            // A whole hall's worst burst (every window and device changing at once) is a few thousand records;
            // this leaves room for minutes of a stalled disk.
            queue_len: 65_536,
            max_batch: 1024,
            busy_timeout: Duration::from_secs(5),
        }
    }
}

/// Counters shared by the handles and the writer.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    written: AtomicU64,
    dropped: AtomicU64,
    failed: AtomicU64,
    batches: AtomicU64,
    /// Unix second of the last "dropped" log line, to keep a full queue from flooding the log.
    last_drop_log: AtomicU64,
}

/// What the journal did so far, for `/metrics`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JournalStats {
    /// Fire-and-forget records committed.
    pub written: u64,
    /// Records dropped because the queue was full or the journal closed.
    pub dropped: u64,
    /// Records whose write failed (logged at ERROR each time).
    pub failed: u64,
    /// Transactions committed.
    pub batches: u64,
    /// Operations waiting in the queue.
    pub queued: usize,
}

/// The open journal: owns the writer thread. Dropping it (or [`Journal::close`]) commits everything queued and
/// stops the writer; handles used afterwards drop their records (counted) and answer [`JournalError::Closed`].
pub struct Journal {
    handle: JournalHandle,
    writer: Option<JoinHandle<()>>,
    path: PathBuf,
}

impl Journal {
    /// Opens (creating if needed) `hallwatch.db` in `data_dir` with the default options.
    pub fn open(data_dir: &Path) -> Result<Journal, JournalError> {
        Self::open_with(data_dir, JournalOptions::default())
    }

    pub fn open_with(data_dir: &Path, options: JournalOptions) -> Result<Journal, JournalError> {
        std::fs::create_dir_all(data_dir).map_err(|source| JournalError::CreateDir {
            path: data_dir.to_owned(),
            source,
        })?;
        let path = data_dir.join(DB_FILE);
        let open_err = |source| JournalError::Open {
            path: path.clone(),
            source,
        };
        let mut conn = Connection::open(&path).map_err(open_err)?;
        conn.busy_timeout(options.busy_timeout).map_err(open_err)?;
        // WAL: readers never block the writer nor the writer them, and a commit appends to the log instead of
        // rewriting pages in place. The mode is stored in the file, so it persists.
        let mode: String = conn
            .pragma_update_and_check(None, "journal_mode", "WAL", |row| row.get(0))
            .map_err(open_err)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(JournalError::NotWal { path, mode });
        }
        // synchronous=NORMAL: in WAL mode a commit is written to the log without an fsync; the log is synced at
        // checkpoints. A crash or kill of the gateway loses nothing committed (the OS has the writes) and the
        // database is never corrupted; only a power cut or OS crash can roll back the last commits. That is the
        // right trade for the stream of alerts and window changes (an fsync per batch would dominate on a hall
        // PC's disk). Writes a user is told are saved (leave) raise it to FULL for their commit: see the writer.
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_err)?;
        schema::migrate(&mut conn, &path)?;

        let reader = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_err)?;
        reader
            .busy_timeout(options.busy_timeout)
            .map_err(open_err)?;

        let (tx, rx) = mpsc::channel(options.queue_len.max(1));
        let counters = Arc::new(Counters::default());
        let writer_counters = counters.clone();
        let max_batch = options.max_batch.max(1);
        let writer = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer::run(conn, rx, writer_counters, max_batch))
            .map_err(JournalError::Thread)?;
        tracing::info!(path = %path.display(), "journal open");
        Ok(Journal {
            handle: JournalHandle {
                tx,
                reader: Arc::new(Mutex::new(reader)),
                counters,
            },
            writer: Some(writer),
            path,
        })
    }

    /// A handle for writing and reading; clone it freely.
    pub fn handle(&self) -> JournalHandle {
        self.handle.clone()
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Commits everything queued and stops the writer. Blocking: from async code call it in `spawn_blocking`.
    pub fn close(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        let Some(writer) = self.writer.take() else {
            return;
        };
        // The writer drains the queue, so a full queue frees up quickly.
        loop {
            match self.handle.tx.try_send(Op::Shutdown) {
                Ok(()) => break,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    std::thread::sleep(Duration::from_millis(1))
                }
                Err(mpsc::error::TrySendError::Closed(_)) => break,
            }
        }
        if writer.join().is_err() {
            tracing::error!("the journal writer panicked; records queued at that time are lost");
        }
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The journal's address: Clone + Send, cheap to copy into the hub and the API.
#[derive(Clone)]
pub struct JournalHandle {
    tx: mpsc::Sender<Op>,
    reader: Arc<Mutex<Connection>>,
    counters: Arc<Counters>,
}

impl std::fmt::Debug for JournalHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JournalHandle")
            .field("stats", &self.stats())
            .finish()
    }
}

impl JournalHandle {
    /// Records an alert (raised, acknowledged or resolved); the row with its id is overwritten. Never waits.
    pub fn record_alert(&self, alert: AlertView) {
        self.fire(Op::Alert(alert), "alert");
    }

    /// Records a window's staffing transition (POST-1). Never waits.
    pub fn record_window(&self, transition: WindowTransition) {
        self.fire(Op::Window(transition), "window transition");
    }

    /// Appends a line to the audit trail (POST-6). Never waits.
    pub fn append_audit(&self, entry: AuditEntry) {
        self.fire(Op::Audit(entry), "audit entry");
    }

    /// Records an inspection record (INS-1..3) as it now is; the row with its id is overwritten. Never waits.
    pub fn record_inspection(&self, record: InspectionView) {
        // The record's own latest time: taken, an item fixed, signed.
        let at = record
            .items
            .iter()
            .filter_map(|i| i.fixed_at)
            .chain(record.signed_at)
            .fold(record.taken_at, |a, b| a.max(b));
        self.fire(Op::Inspection { record, at }, "inspection record");
    }

    /// Records a maintenance mark set or lifted (DEV-6). Never waits.
    pub fn record_maintenance(&self, event: MaintenanceEvent) {
        self.fire(Op::Maintenance(event), "maintenance mark");
    }

    /// Records a webhook send's outcome; the channel's query string is removed before it is stored. Never waits.
    pub fn record_notification(&self, record: NotificationRecord) {
        self.fire(Op::Notification(record), "notification");
    }

    fn fire(&self, op: Op, record: &'static str) {
        let reason = match self.tx.try_send(op) {
            Ok(()) => return,
            Err(mpsc::error::TrySendError::Full(_)) => "the journal queue is full",
            Err(mpsc::error::TrySendError::Closed(_)) => "the journal is closed",
        };
        self.record_dropped(record, reason);
    }

    /// The one place that counts a dropped record and logs it, so the counter and the log agree. Logs the first
    /// drop, then at most one line every 10 s with the running total.
    fn record_dropped(&self, record: &'static str, reason: &'static str) {
        let n_dropped = self.counters.dropped.fetch_add(1, Ordering::Relaxed) + 1;
        let now_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        let last = self.counters.last_drop_log.load(Ordering::Relaxed);
        if (n_dropped == 1 || now_secs >= last + 10)
            && self
                .counters
                .last_drop_log
                .compare_exchange(last, now_secs, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            tracing::error!(
                record,
                reason,
                n_dropped,
                "journal record dropped; it will not be on disk"
            );
        }
    }

    /// Enters a leave in the register (POST-5) and answers once it is committed. Validates it first (see
    /// [`leave::validate`]) and flags late notice with the hall's calendar; `now` is the creation time.
    ///
    /// The calendar is only read before this returns, so the future does not borrow it.
    pub fn create_leave(
        &self,
        new: NewLeave,
        now: DateTime<Utc>,
        days: &impl HallDays,
    ) -> impl Future<Output = Result<LeaveEntry, JournalError>> + Send + 'static {
        let prepared = leave::validate(new).map(|leave| {
            let late_notice = late_notice_in_hall(leave.kind, now, leave.start.to_utc(), days);
            (leave, late_notice)
        });
        let tx = self.tx.clone();
        async move {
            let (leave, late_notice) = prepared?;
            let (reply, rx) = oneshot::channel();
            tx.send(Op::CreateLeave {
                leave,
                created_at: now,
                late_notice,
                reply,
            })
            .await
            .map_err(|_| JournalError::Closed)?;
            rx.await.map_err(|_| JournalError::Closed)?
        }
    }

    /// Records the return from leave (销假) and answers once it is committed.
    pub async fn return_leave(
        &self,
        id: u64,
        by: &str,
        at: DateTime<Utc>,
    ) -> Result<LeaveEntry, JournalError> {
        let by = by.trim();
        if by.is_empty() {
            return Err(LeaveError::MissingReturner.into());
        }
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Op::ReturnLeave {
                id,
                by: by.to_owned(),
                at,
                reply,
            })
            .await
            .map_err(|_| JournalError::Closed)?;
        rx.await.map_err(|_| JournalError::Closed)?
    }

    /// Waits until everything queued before this call is committed (records that failed are counted in
    /// [`JournalStats::failed`] and were logged).
    pub async fn sync(&self) -> Result<(), JournalError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(Op::Sync(reply))
            .await
            .map_err(|_| JournalError::Closed)?;
        rx.await.map_err(|_| JournalError::Closed)
    }

    /// [`sync`](Self::sync) for code outside the async runtime. Panics if called from within it.
    pub fn sync_blocking(&self) -> Result<(), JournalError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .blocking_send(Op::Sync(reply))
            .map_err(|_| JournalError::Closed)?;
        rx.blocking_recv().map_err(|_| JournalError::Closed)
    }

    pub fn stats(&self) -> JournalStats {
        let c = &self.counters;
        JournalStats {
            written: c.written.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            failed: c.failed.load(Ordering::Relaxed),
            batches: c.batches.load(Ordering::Relaxed),
            queued: self.tx.max_capacity() - self.tx.capacity(),
        }
    }

    /// Runs blocking reads off the async runtime's threads:
    /// `journal.read(|j| j.leave_list(None)).await`.
    pub async fn read<T, F>(&self, f: F) -> Result<T, JournalError>
    where
        T: Send + 'static,
        F: FnOnce(&JournalHandle) -> Result<T, JournalError> + Send + 'static,
    {
        let this = self.clone();
        tokio::task::spawn_blocking(move || f(&this))
            .await
            .map_err(|_| JournalError::Closed)?
    }

    fn with_reader<T>(
        &self,
        context: &'static str,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, JournalError> {
        // A panic while holding the lock leaves the connection itself intact, so a poisoned lock is still usable.
        let conn = self.reader.lock().unwrap_or_else(|e| e.into_inner());
        f(&conn).map_err(|source| JournalError::Sqlite { context, source })
    }

    /// Alerts not resolved, oldest first: what the alert book restores after a restart.
    pub fn open_alerts(&self) -> Result<Vec<AlertView>, JournalError> {
        self.with_reader("reading open alerts", reader::open_alerts)
    }

    /// The highest alert id ever recorded (0 for none): new alerts must be numbered after it.
    pub fn max_alert_id(&self) -> Result<u64, JournalError> {
        self.with_reader("reading the last alert id", reader::max_alert_id)
    }

    /// Alerts raised in `[from, to)`, in the order they were raised.
    pub fn alerts_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<AlertView>, JournalError> {
        self.with_reader("reading alerts", |c| reader::alerts_between(c, from, to))
    }

    /// The latest transition of every window, by window id: the windows' states to restore after a restart.
    pub fn last_window_states(&self) -> Result<Vec<WindowTransition>, JournalError> {
        self.with_reader("reading window states", reader::last_window_states)
    }

    /// One window's transitions at or after `since`, oldest first.
    pub fn window_transitions(
        &self,
        window_id: &str,
        since: DateTime<Utc>,
    ) -> Result<Vec<WindowTransition>, JournalError> {
        self.with_reader("reading window transitions", |c| {
            reader::window_transitions(c, window_id, since)
        })
    }

    /// The leave register by start: every entry, or with `Some(t)` those in force at `t` (started, not ended, not
    /// returned by then).
    pub fn leave_list(
        &self,
        active_on: Option<DateTime<Utc>>,
    ) -> Result<Vec<LeaveEntry>, JournalError> {
        self.with_reader("reading the leave register", |c| {
            reader::leave_list(c, active_on)
        })
    }

    /// Leave entries overlapping `[from, to)` (a day's or a month's register), by start.
    pub fn leave_overlapping(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<LeaveEntry>, JournalError> {
        self.with_reader("reading the leave register", |c| {
            reader::leave_overlapping(c, from, to)
        })
    }

    /// One leave entry.
    pub fn leave_get(&self, id: u64) -> Result<Option<LeaveEntry>, JournalError> {
        let Ok(id) = i64::try_from(id) else {
            return Ok(None);
        };
        self.with_reader("reading the leave register", |c| reader::leave_get(c, id))
    }

    /// Every inspection record, oldest first: what [`crate::model::inspection::Inspections::restore`] takes.
    pub fn inspections(&self) -> Result<Vec<InspectionView>, JournalError> {
        self.with_reader("reading inspection records", reader::inspections)
    }

    /// The maintenance marks in force (not lifted), by device id.
    pub fn active_maintenance(&self) -> Result<Vec<(String, MaintenanceView)>, JournalError> {
        self.with_reader("reading maintenance marks", reader::active_maintenance)
    }

    /// The latest `limit` webhook sends, newest first.
    pub fn notifications(&self, limit: usize) -> Result<Vec<NotificationRecord>, JournalError> {
        self.with_reader("reading notifications", |c| reader::notifications(c, limit))
    }

    /// The latest `limit` lines of the audit trail, newest first.
    pub fn audit_list(&self, limit: usize) -> Result<Vec<AuditEntry>, JournalError> {
        self.with_reader("reading the audit trail", |c| reader::audit_list(c, limit))
    }

    /// The latest `limit` audit lines about one subject (`window:{id}`, `leave:{id}`), newest first.
    pub fn audit_for_subject(
        &self,
        subject: &str,
        limit: usize,
    ) -> Result<Vec<AuditEntry>, JournalError> {
        self.with_reader("reading the audit trail", |c| {
            reader::audit_for_subject(c, subject, limit)
        })
    }
}

#[cfg(test)]
mod tests;
