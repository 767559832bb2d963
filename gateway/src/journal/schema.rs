//! The journal's schema and its migrations.
//!
//! The schema version lives in `PRAGMA user_version`: it is the number of steps of [`MIGRATIONS`] applied. Opening
//! applies the missing steps in order inside one transaction, so a crash mid-migration leaves the old version
//! intact. A database written by a newer gateway (a version above ours) is refused rather than guessed at.
//!
//! Never edit a step once released: add a new one at the end.

use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use super::JournalError;

/// Migration steps, applied in order; step `i` brings the schema from version `i` to `i + 1`.
///
/// Times are TEXT in RFC 3339. Instants the gateway records (`*_at`, `*_utc`) are always UTC with microseconds
/// (`2026-12-03T01:00:00.000000Z`): fixed width, so text order is time order and the indexes serve range queries.
/// Leave start and end are also kept as entered, with their offset (`start_at`, `end_at`).
pub const MIGRATIONS: &[&str] = &[
    // 1: alerts, window transitions, leave register, audit trail.
    r#"
    CREATE TABLE alerts (
        id              INTEGER PRIMARY KEY,
        rule            TEXT NOT NULL,
        kind            TEXT NOT NULL,
        subject         TEXT NOT NULL,
        severity        TEXT NOT NULL,
        state           TEXT NOT NULL,
        message         TEXT NOT NULL,
        raised_at       TEXT NOT NULL,
        acknowledged_at TEXT,
        acknowledged_by TEXT,
        ack_note        TEXT,
        resolved_at     TEXT
    ) STRICT;
    -- Restore after a restart reads the alerts that are not resolved: a partial index keeps that cheap however
    -- long the history grows.
    CREATE INDEX alerts_active ON alerts (id) WHERE state <> 'resolved';
    CREATE INDEX alerts_raised_at ON alerts (raised_at);

    CREATE TABLE window_transitions (
        seq        INTEGER PRIMARY KEY,
        window_id  TEXT NOT NULL,
        state      TEXT NOT NULL,
        staff_id   TEXT,
        staff_name TEXT,
        reason     TEXT,
        at         TEXT NOT NULL
    ) STRICT;
    -- (window_id, seq): the latest transition per window; (window_id, at): one window's history.
    CREATE INDEX window_transitions_latest ON window_transitions (window_id, seq);
    CREATE INDEX window_transitions_at ON window_transitions (window_id, at);

    CREATE TABLE leave (
        id          INTEGER PRIMARY KEY AUTOINCREMENT,
        staff_id    TEXT NOT NULL,
        kind        TEXT NOT NULL,
        start_at    TEXT NOT NULL,
        end_at      TEXT NOT NULL,
        start_utc   TEXT NOT NULL,
        end_utc     TEXT NOT NULL,
        approver    TEXT,
        substitute  TEXT,
        note        TEXT NOT NULL,
        created_at  TEXT NOT NULL,
        created_by  TEXT NOT NULL,
        returned_at TEXT,
        returned_by TEXT,
        late_notice INTEGER NOT NULL CHECK (late_notice IN (0, 1)),
        CHECK (end_utc > start_utc)
    ) STRICT;
    CREATE INDEX leave_span ON leave (start_utc, end_utc);
    CREATE INDEX leave_staff ON leave (staff_id, start_utc);

    CREATE TABLE audit (
        id      INTEGER PRIMARY KEY AUTOINCREMENT,
        at      TEXT NOT NULL,
        who     TEXT NOT NULL,
        action  TEXT NOT NULL,
        subject TEXT NOT NULL,
        old     TEXT,
        new     TEXT
    ) STRICT;
    CREATE INDEX audit_subject ON audit (subject, id);
    "#,
    // 2: morning inspection records (INS-1..3), maintenance marks (DEV-6), notification sends.
    r#"
    -- One row per working day's record, overwritten whenever it changes (taken, an item fixed, signed). The
    -- record itself is the JSON of the API's InspectionView, so a restart gives back exactly what was shown.
    CREATE TABLE inspections (
        id         INTEGER PRIMARY KEY,
        date       TEXT NOT NULL,
        record     TEXT NOT NULL,
        updated_at TEXT NOT NULL
    ) STRICT;
    CREATE INDEX inspections_date ON inspections (date);

    -- One row per mark; lifting (by hand or at its expected end) fills lifted_at.
    CREATE TABLE maintenance (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        device_id  TEXT NOT NULL,
        reason     TEXT NOT NULL,
        "by"       TEXT NOT NULL,
        since      TEXT NOT NULL,
        until      TEXT,
        lifted_at  TEXT,
        lifted_by  TEXT
    ) STRICT;
    CREATE INDEX maintenance_active ON maintenance (device_id, id) WHERE lifted_at IS NULL;

    -- Every webhook send. `channel` is the webhook URL without its query string (where the robots' keys are).
    CREATE TABLE notifications (
        id       INTEGER PRIMARY KEY AUTOINCREMENT,
        at       TEXT NOT NULL,
        channel  TEXT,
        format   TEXT,
        alert_id INTEGER,
        rule     TEXT NOT NULL,
        outcome  TEXT NOT NULL CHECK (outcome IN ('sent', 'failed', 'summarised', 'dropped')),
        attempts INTEGER NOT NULL,
        error    TEXT
    ) STRICT;
    CREATE INDEX notifications_at ON notifications (at);
    "#,
];

/// The schema version this code writes.
pub fn current_version() -> i64 {
    MIGRATIONS.len() as i64
}

/// Brings the database to [`current_version`], or refuses a newer one.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), JournalError> {
    let sqlite = |source| JournalError::Sqlite {
        context: "migrating the schema",
        source,
    };
    // IMMEDIATE takes the write lock before reading the version, so two processes cannot both migrate.
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sqlite)?;
    let found: i64 = tx
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(sqlite)?;
    let supported = current_version();
    if found > supported {
        return Err(JournalError::TooNew {
            path: path.to_owned(),
            found,
            supported,
        });
    }
    if found == supported {
        return Ok(());
    }
    for (i, step) in MIGRATIONS.iter().enumerate().skip(found as usize) {
        tx.execute_batch(step)
            .map_err(|source| JournalError::Sqlite {
                context: if i == 0 {
                    "creating the schema"
                } else {
                    "applying a schema migration"
                },
                source,
            })?;
    }
    tx.pragma_update(None, "user_version", supported)
        .map_err(sqlite)?;
    tx.commit().map_err(sqlite)?;
    tracing::info!(path = %path.display(), from = found, to = supported, "journal schema migrated");
    Ok(())
}
