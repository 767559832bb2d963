//! The journal against real SQLite files in temp directories.

use std::path::Path;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use chrono_tz::Tz;
use hall_protocol::api::{
    AlertState, AlertView, AuditEntry, LeaveKind, NewLeave, StaffRef, WindowState, WindowTransition,
};
use hall_protocol::payload::Severity;

use super::*;

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn alert(id: u64, subject: &str) -> AlertView {
    AlertView {
        id,
        rule: "POST-2".into(),
        kind: "empty_window".into(),
        subject: subject.into(),
        severity: Severity::Critical,
        state: AlertState::Open,
        message: "窗口空岗".into(),
        raised_at: t("2026-03-02T01:00:00Z"),
        acknowledged_at: None,
        acknowledged_by: None,
        ack_note: None,
        resolved_at: None,
    }
}

fn transition(
    window: &str,
    state: WindowState,
    staff: Option<(&str, &str)>,
    at: &str,
) -> WindowTransition {
    WindowTransition {
        window_id: window.into(),
        state,
        staff: staff.map(|(id, name)| StaffRef {
            id: id.into(),
            name: name.into(),
        }),
        reason: None,
        at: t(at),
    }
}

/// Mon–Fri in Shanghai.
struct Weekdays;
impl HallDays for Weekdays {
    fn tz(&self) -> Tz {
        chrono_tz::Asia::Shanghai
    }
    fn is_working_day(&self, d: NaiveDate) -> bool {
        use chrono::{Datelike, Weekday};
        !matches!(d.weekday(), Weekday::Sat | Weekday::Sun)
    }
}

fn annual(start: &str, end: &str) -> NewLeave {
    NewLeave {
        staff_id: "s-001".into(),
        kind: LeaveKind::Annual,
        start: start.parse().unwrap(),
        end: end.parse().unwrap(),
        approver: Some("王主任".into()),
        substitute: Some("s-002".into()),
        note: String::new(),
        by: "李科长".into(),
    }
}

fn raw(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join(DB_FILE)).unwrap()
}

#[test]
fn migrates_an_empty_directory_and_reopens_without_migrating() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("nested/data");
    let journal = Journal::open(&data).unwrap();
    assert_eq!(journal.path(), data.join(DB_FILE));
    journal.close();

    let conn = raw(&data);
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, schema::current_version());
    let mut tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    tables.sort();
    assert_eq!(
        tables,
        [
            "alerts",
            "audit",
            "inspections",
            "leave",
            "maintenance",
            "notifications",
            "window_transitions"
        ]
    );
    drop(conn);
    // Reopening an up-to-date journal changes nothing.
    Journal::open(&data).unwrap().close();
}

#[test]
fn refuses_a_journal_from_a_newer_gateway() {
    let dir = tempfile::tempdir().unwrap();
    Journal::open(dir.path()).unwrap().close();
    raw(dir.path())
        .pragma_update(None, "user_version", schema::current_version() + 1)
        .unwrap();
    let err = Journal::open(dir.path()).err().unwrap();
    assert!(
        matches!(err, JournalError::TooNew { found, supported, .. }
            if found == schema::current_version() + 1 && supported == schema::current_version()),
        "{err}"
    );
    assert!(err.to_string().contains("newer than this gateway"), "{err}");
}

#[test]
fn stays_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    journal.handle().record_alert(alert(1, "window:w1"));
    journal.close();
    let mode: String = raw(dir.path())
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn alert_lifecycle_overwrites_by_id_and_survives_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    let mut a = alert(7, "window:w1");
    j.record_alert(a.clone());
    j.record_alert(alert(8, "window:w2"));
    a.state = AlertState::Acknowledged;
    a.acknowledged_at = Some(t("2026-03-02T01:01:00Z"));
    a.acknowledged_by = Some("王主任".into());
    a.ack_note = Some("已安排B岗".into());
    j.record_alert(a.clone());
    j.sync_blocking().unwrap();
    assert_eq!(
        j.open_alerts().unwrap(),
        vec![a.clone(), alert(8, "window:w2")]
    );

    a.state = AlertState::Resolved;
    a.resolved_at = Some(t("2026-03-02T01:05:00Z"));
    j.record_alert(a.clone());
    j.sync_blocking().unwrap();
    assert_eq!(j.open_alerts().unwrap(), vec![alert(8, "window:w2")]);
    assert_eq!(j.max_alert_id().unwrap(), 8);
    assert_eq!(j.stats().written, 4);
    drop(journal);

    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    assert_eq!(j.max_alert_id().unwrap(), 8);
    assert_eq!(j.open_alerts().unwrap(), vec![alert(8, "window:w2")]);
    let all = j
        .alerts_between(t("2026-03-02T00:00:00Z"), t("2026-03-03T00:00:00Z"))
        .unwrap();
    assert_eq!(all, vec![a, alert(8, "window:w2")]);
    // The range is half-open.
    assert!(
        j.alerts_between(t("2026-03-02T00:00:00Z"), t("2026-03-02T01:00:00Z"))
            .unwrap()
            .is_empty()
    );
}

#[test]
fn empty_journal_restores_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    assert_eq!(j.max_alert_id().unwrap(), 0);
    assert!(j.open_alerts().unwrap().is_empty());
    assert!(j.last_window_states().unwrap().is_empty());
    assert!(j.leave_list(None).unwrap().is_empty());
    assert!(j.audit_list(10).unwrap().is_empty());
}

#[test]
fn window_states_restore_the_latest_per_window() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    let a = ("s-001", "张三");
    let b = ("s-002", "李四");
    let w1 = [
        transition("w1", WindowState::StaffedA, Some(a), "2026-03-02T00:30:00Z"),
        transition("w1", WindowState::Empty, None, "2026-03-02T01:00:00Z"),
        transition("w1", WindowState::CoveredB, Some(b), "2026-03-02T01:00:20Z"),
    ];
    let mut away = transition(
        "w2",
        WindowState::AwayReported,
        Some(a),
        "2026-03-02T02:00:00Z",
    );
    away.reason = Some("取材料".into());
    for tr in w1.iter().chain([&away]) {
        j.record_window(tr.clone());
    }
    // Two transitions in the same second: the one written last is the latest.
    let same_second = transition("w3", WindowState::Closed, None, "2026-03-02T03:00:00Z");
    j.record_window(transition(
        "w3",
        WindowState::StaffedA,
        Some(a),
        "2026-03-02T03:00:00Z",
    ));
    j.record_window(same_second.clone());
    journal.close();

    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    assert_eq!(
        j.last_window_states().unwrap(),
        vec![w1[2].clone(), away, same_second]
    );
    assert_eq!(
        j.window_transitions("w1", t("2026-03-02T01:00:00Z"))
            .unwrap(),
        w1[1..].to_vec()
    );
    assert!(
        j.window_transitions("w9", t("2026-03-01T00:00:00Z"))
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn leave_create_return_and_register() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    // Created Monday 2026-03-02 10:00 hall time for Thursday: in time.
    let monday = t("2026-03-02T02:00:00Z");
    let thu = annual("2026-03-05T08:30:00+08:00", "2026-03-06T18:00:00+08:00");
    let e1 = j
        .create_leave(thu.clone(), monday, &Weekdays)
        .await
        .unwrap();
    assert!(!e1.late_notice);
    assert_eq!(e1.kind, LeaveKind::Annual);
    assert_eq!(e1.created_at, monday);
    assert_eq!(e1.created_by, "李科长");
    assert_eq!(e1.start, thu.start);
    // The offset it was entered in is kept.
    assert_eq!(e1.start.offset().local_minus_utc(), 8 * 3600);

    // Created Tuesday for the same Thursday: late notice.
    let tuesday = t("2026-03-03T02:00:00Z");
    let mut other = thu.clone();
    other.staff_id = "s-003".into();
    let e2 = j.create_leave(other, tuesday, &Weekdays).await.unwrap();
    assert!(e2.late_notice);
    assert!(e2.id > e1.id);

    // Sick leave is never late.
    let mut sick = thu.clone();
    sick.kind = LeaveKind::Sick;
    sick.staff_id = "s-004".into();
    let e3 = j
        .create_leave(sick, t("2026-03-05T01:00:00Z"), &Weekdays)
        .await
        .unwrap();
    assert!(!e3.late_notice);

    // Acknowledged means committed: a fresh connection sees it without any sync.
    let n: i64 = raw(dir.path())
        .query_row("SELECT COUNT(*) FROM leave", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);

    // In force on Thursday 09:00 hall time: all three. Return e1 at 12:00 Thursday.
    let thu_9 = t("2026-03-05T01:00:00Z");
    assert_eq!(j.leave_list(Some(thu_9)).unwrap().len(), 3);
    let returned = j
        .return_leave(e1.id, " 王主任 ", t("2026-03-05T04:00:00Z"))
        .await
        .unwrap();
    assert_eq!(returned.returned_at, Some(t("2026-03-05T04:00:00Z")));
    assert_eq!(returned.returned_by.as_deref(), Some("王主任"));
    let thu_15 = t("2026-03-05T07:00:00Z");
    let active: Vec<u64> = j
        .leave_list(Some(thu_15))
        .unwrap()
        .iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(active, vec![e2.id, e3.id]);
    // Before it started, and at its end (exclusive), nothing is in force.
    assert!(
        j.leave_list(Some(t("2026-03-05T00:29:59Z")))
            .unwrap()
            .is_empty()
    );
    assert!(
        j.leave_list(Some(t("2026-03-06T10:00:00Z")))
            .unwrap()
            .is_empty()
    );
    assert_eq!(j.leave_list(None).unwrap().len(), 3);
    assert_eq!(
        j.leave_overlapping(t("2026-03-06T09:59:00Z"), t("2026-03-07T00:00:00Z"))
            .unwrap()
            .len(),
        3
    );
    assert_eq!(j.leave_get(e1.id).unwrap(), Some(returned.clone()));

    // Returning twice, or an unknown id, is refused.
    let again = j.return_leave(e1.id, "王主任", thu_15).await.err().unwrap();
    assert!(
        matches!(again, JournalError::AlreadyReturned { id, .. } if id == e1.id),
        "{again}"
    );
    let unknown = j.return_leave(999, "王主任", thu_15).await.err().unwrap();
    assert!(
        matches!(unknown, JournalError::LeaveNotFound(999)),
        "{unknown}"
    );
    let nameless = j.return_leave(e2.id, " ", thu_15).await.err().unwrap();
    assert!(matches!(
        nameless,
        JournalError::InvalidLeave(LeaveError::MissingReturner)
    ));

    // Validation errors come back before anything is written.
    let mut bad = thu.clone();
    bad.substitute = Some("s-001".into());
    let err = j.create_leave(bad, monday, &Weekdays).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "the substitute \"s-001\" is the person on leave"
    );
    let mut bad = thu.clone();
    bad.end = bad.start;
    let err = j.create_leave(bad, monday, &Weekdays).await.err().unwrap();
    assert!(matches!(
        err,
        JournalError::InvalidLeave(LeaveError::EndNotAfterStart { .. })
    ));
    assert_eq!(j.leave_list(None).unwrap().len(), 3);

    // Each create and return left an audit line, newest first.
    let audit = j.audit_list(10).unwrap();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|a| (a.action.as_str(), a.subject.as_str()))
        .collect();
    let s = |id: u64| format!("leave:{id}");
    assert_eq!(
        actions,
        vec![
            ("leave.return", s(e1.id).as_str()),
            ("leave.create", s(e3.id).as_str()),
            ("leave.create", s(e2.id).as_str()),
            ("leave.create", s(e1.id).as_str()),
        ]
    );
    assert_eq!(audit[0].old, Some(serde_json::to_value(&e1).unwrap()));
    assert_eq!(audit[0].new, Some(serde_json::to_value(&returned).unwrap()));
    assert_eq!(j.audit_list(1).unwrap().len(), 1);
    let about_e1 = j.audit_for_subject(&s(e1.id), 10).unwrap();
    assert_eq!(about_e1.len(), 2);
    assert_eq!(about_e1[0].action, "leave.return");
    assert!(j.audit_for_subject("leave:999", 10).unwrap().is_empty());
}

#[test]
fn every_leave_kind_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for kind in LeaveKind::ALL {
        // The stored text is the serde name.
        assert_eq!(
            serde_json::to_value(kind).unwrap(),
            serde_json::Value::String(kind.as_str().into())
        );
        let mut l = annual("2026-03-05T08:30:00+08:00", "2026-03-05T12:00:00+08:00");
        l.kind = kind;
        rt.block_on(j.create_leave(l, t("2026-02-01T00:00:00Z"), &Weekdays))
            .unwrap();
    }
    let kinds: Vec<LeaveKind> = j.leave_list(None).unwrap().iter().map(|e| e.kind).collect();
    assert_eq!(kinds, LeaveKind::ALL);
}

/// Text that would break SQL built by string concatenation, and text from anywhere in Unicode.
const AWKWARD: &[&str] = &[
    "'; DROP TABLE alerts; --",
    "Robert'); DELETE FROM leave WHERE ('1'='1",
    "\"double\" 'single' `back` \\ /* comment */ -- dash",
    "窗口 #3, 张 \"小\" 三 = 🙂 emoji, ; semicolon",
    "tab\there\nnewline\r\nand NUL-free control \u{7}",
    "العربية עברית 𝄞 e\u{301}",
    "",
];

#[tokio::test]
async fn awkward_strings_round_trip_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    for (i, s) in AWKWARD.iter().enumerate() {
        let s = s.to_string();
        let mut a = alert(i as u64 + 1, &format!("window:{s}"));
        a.message = s.clone();
        a.acknowledged_by = Some(s.clone());
        a.ack_note = Some(s.clone());
        a.state = AlertState::Acknowledged;
        j.record_alert(a);
        let mut tr = transition(
            &s,
            WindowState::AwayReported,
            Some((&s, &s)),
            "2026-03-02T01:00:00Z",
        );
        tr.reason = Some(s.clone());
        j.record_window(tr);
        j.append_audit(AuditEntry {
            id: 0,
            at: t("2026-03-02T01:00:00Z"),
            who: s.clone(),
            action: "window.assign".into(),
            subject: format!("window:{s}"),
            old: Some(serde_json::json!({ "a_post": s })),
            new: Some(serde_json::Value::String(s.clone())),
        });
        if !s.trim().is_empty() {
            let mut l = annual("2026-03-05T08:30:00+08:00", "2026-03-05T12:00:00+08:00");
            l.staff_id = s.clone();
            l.note = s.clone();
            l.approver = Some(s.clone());
            l.substitute = Some(format!("{s}-b"));
            l.by = s.clone();
            let e = j
                .create_leave(l, t("2026-02-01T00:00:00Z"), &Weekdays)
                .await
                .unwrap();
            assert_eq!(
                (e.staff_id.as_str(), e.note.as_str(), e.created_by.as_str()),
                (s.as_str(), s.as_str(), s.as_str())
            );
        }
    }
    j.sync().await.unwrap();
    drop(journal);

    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    let alerts = j.open_alerts().unwrap();
    let states = j.last_window_states().unwrap();
    let audit = j.audit_list(100).unwrap();
    let leave = j.leave_list(None).unwrap();
    for (i, s) in AWKWARD.iter().enumerate() {
        let a = &alerts[i];
        assert_eq!(a.subject, format!("window:{s}"));
        assert_eq!(a.message, *s);
        assert_eq!(a.ack_note.as_deref(), Some(*s));
        let w = states.iter().find(|w| w.window_id == *s).unwrap();
        assert_eq!(w.reason.as_deref(), Some(*s));
        assert_eq!(
            w.staff,
            Some(StaffRef {
                id: s.to_string(),
                name: s.to_string()
            })
        );
        let line = audit
            .iter()
            .find(|e| e.action == "window.assign" && e.who == *s)
            .unwrap();
        assert_eq!(line.subject, format!("window:{s}"));
        assert_eq!(line.old, Some(serde_json::json!({ "a_post": s })));
        assert_eq!(line.new, Some(serde_json::Value::String(s.to_string())));
        if !s.trim().is_empty() {
            let e = leave.iter().find(|e| e.staff_id == *s).unwrap();
            assert_eq!(e.note, *s);
            assert_eq!(e.approver.as_deref(), Some(s.trim()));
        }
    }
    // Nothing was executed as SQL: every table is still there and whole.
    assert_eq!(alerts.len(), AWKWARD.len());
    assert_eq!(states.len(), AWKWARD.len());
}

/// A crash of the gateway (kill -9) leaves the files as they are at that instant: no close, no checkpoint. We take
/// that state by copying the database and its WAL while the journal is still open, and open the copy.
#[tokio::test]
async fn everything_before_sync_survives_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    let n: u64 = 2_000;
    for i in 1..=n {
        j.record_alert(alert(i, &format!("device:d{i}")));
        if i % 10 == 0 {
            j.record_window(transition(
                &format!("w{i}"),
                WindowState::Empty,
                None,
                "2026-03-02T01:00:00Z",
            ));
        }
    }
    j.sync().await.unwrap();
    assert_eq!(j.stats().dropped, 0);

    let crashed = tempfile::tempdir().unwrap();
    for suffix in ["", "-wal"] {
        let name = format!("{DB_FILE}{suffix}");
        std::fs::copy(dir.path().join(&name), crashed.path().join(&name)).unwrap();
    }
    let reopened = Journal::open(crashed.path()).unwrap();
    let r = reopened.handle();
    assert_eq!(r.max_alert_id().unwrap(), n);
    assert_eq!(r.open_alerts().unwrap().len() as u64, n);
    assert_eq!(r.last_window_states().unwrap().len() as u64, n / 10);
    drop(journal);
}

#[test]
fn dropping_the_journal_commits_what_was_queued() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    for i in 1..=500 {
        j.record_alert(alert(i, &format!("device:d{i}")));
    }
    drop(journal);
    // The handle outlives the journal: its records are dropped and counted, and waiting answers Closed.
    j.record_alert(alert(501, "device:late"));
    assert_eq!(j.stats().dropped, 1);
    assert!(matches!(j.sync_blocking(), Err(JournalError::Closed)));

    let journal = Journal::open(dir.path()).unwrap();
    assert_eq!(journal.handle().max_alert_id().unwrap(), 500);
}

#[test]
fn a_full_queue_drops_and_counts_instead_of_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open_with(
        dir.path(),
        JournalOptions {
            queue_len: 4,
            max_batch: 1,
            ..JournalOptions::default()
        },
    )
    .unwrap();
    let j = journal.handle();
    // Hold the write lock from another connection so the writer stalls on its first batch.
    let mut blocker = raw(dir.path());
    blocker.busy_timeout(std::time::Duration::ZERO).unwrap();
    let lock = blocker
        .transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive)
        .unwrap();
    let n: u64 = 50;
    for i in 1..=n {
        j.record_alert(alert(i, "device:d"));
    }
    let stats = j.stats();
    assert!(stats.dropped > 0, "{stats:?}");
    assert!(stats.dropped < n, "{stats:?}");
    lock.rollback().unwrap();
    j.sync_blocking().unwrap();
    let stats = j.stats();
    assert_eq!(stats.written + stats.dropped + stats.failed, n, "{stats:?}");
    assert_eq!(stats.queued, 0);
}

#[test]
fn a_bad_record_does_not_sink_its_batch() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    j.record_alert(alert(1, "device:a"));
    // An id SQLite cannot hold fails alone; its neighbours in the same batch are written.
    j.record_alert(alert(u64::MAX, "device:b"));
    j.record_alert(alert(3, "device:c"));
    j.sync_blocking().unwrap();
    let stats = j.stats();
    assert_eq!((stats.written, stats.failed), (2, 1), "{stats:?}");
    let ids: Vec<u64> = j.open_alerts().unwrap().iter().map(|a| a.id).collect();
    assert_eq!(ids, vec![1, 3]);
}

#[test]
fn times_are_stored_in_fixed_width_utc() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    let mut a = alert(1, "device:a");
    a.raised_at = t("2026-03-02T01:00:00Z") + TimeDelta::microseconds(5);
    j.record_alert(a.clone());
    j.sync_blocking().unwrap();
    let text: String = raw(dir.path())
        .query_row("SELECT raised_at FROM alerts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(text, "2026-03-02T01:00:00.000005Z");
    assert_eq!(j.open_alerts().unwrap(), vec![a]);
}

// Schema version 2: inspection records, maintenance marks, notifications.

fn inspection(id: u64, date: &str) -> hall_protocol::api::InspectionView {
    use hall_protocol::api::{InspectionItem, InspectionStatus, InspectionView, Inspector};
    InspectionView {
        id,
        date: date.parse().unwrap(),
        taken_at: t("2026-03-02T00:15:00Z"),
        service_start: t("2026-03-02T00:30:00Z"),
        items: vec![InspectionItem {
            device_id: "kiosk-1".into(),
            device_name: "自助一体机 1".into(),
            kind: hall_protocol::config::DeviceKind::SelfServiceKiosk,
            location: "大厅东侧".into(),
            inspector: Inspector::ItCentre,
            status: InspectionStatus::Fault,
            fault_codes: vec!["printer_paper_out".into()],
            fixed_at: None,
            under_maintenance: false,
        }],
        ready_to_open: false,
        signed_by: None,
        signed_at: None,
        notes: None,
    }
}

fn mark(device: &str, reason: &str, by: &str, since: &str) -> MaintenanceEvent {
    MaintenanceEvent::Marked {
        device_id: device.into(),
        mark: hall_protocol::api::MaintenanceView {
            reason: reason.into(),
            by: by.into(),
            until: None,
        },
        since: t(since),
    }
}

fn notification(url: &str, outcome: NotifyOutcome) -> NotificationRecord {
    NotificationRecord {
        at: t("2026-03-02T01:00:00Z"),
        channel: Some(url.into()),
        format: Some("wecom".into()),
        alert_id: Some(7),
        rule: "DEV-2".into(),
        outcome,
        attempts: 3,
        error: None,
    }
}

#[test]
fn migrates_a_version_1_journal_to_version_2_keeping_its_data() {
    let dir = tempfile::tempdir().unwrap();
    // A journal as version 1 left it: only the first step applied, with an open alert and a leave entry.
    {
        let conn = raw(dir.path());
        conn.execute_batch(schema::MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute(
            "INSERT INTO alerts (id, rule, kind, subject, severity, state, message, raised_at) \
             VALUES (41, 'DEV-2', 'device_fault', 'device:kiosk-1', 'warning', 'open', '打印机缺纸', \
                     '2026-03-02T01:00:00.000000Z')",
            [],
        )
        .unwrap();
        conn.execute(
            "INSERT INTO leave (staff_id, kind, start_at, end_at, start_utc, end_utc, note, created_at, \
                 created_by, late_notice) \
             VALUES ('s-001', 'annual', '2026-03-03T08:30:00+08:00', '2026-03-03T17:30:00+08:00', \
                     '2026-03-03T00:30:00.000000Z', '2026-03-03T09:30:00.000000Z', '', \
                     '2026-03-01T01:00:00.000000Z', '李科长', 0)",
            [],
        )
        .unwrap();
    }
    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    let open = j.open_alerts().unwrap();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].id, 41);
    assert_eq!(open[0].message, "打印机缺纸");
    assert_eq!(j.max_alert_id().unwrap(), 41);
    let leave = j.leave_list(None).unwrap();
    assert_eq!(leave.len(), 1);
    assert_eq!(leave[0].created_by, "李科长");
    // The new tables work on the migrated file.
    assert!(j.inspections().unwrap().is_empty());
    assert!(j.active_maintenance().unwrap().is_empty());
    j.record_inspection(inspection(1, "2026-03-02"));
    j.record_maintenance(mark(
        "kiosk-1",
        "更换打印机",
        "信息中心",
        "2026-03-02T02:00:00Z",
    ));
    j.record_notification(notification(
        "https://example.org/hook",
        NotifyOutcome::Sent,
    ));
    j.sync_blocking().unwrap();
    assert_eq!(j.stats().failed, 0);
    assert_eq!(j.inspections().unwrap().len(), 1);
    assert_eq!(j.active_maintenance().unwrap().len(), 1);
    assert_eq!(j.notifications(10).unwrap().len(), 1);
    journal.close();
    let version: i64 = raw(dir.path())
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
}

#[test]
fn inspection_records_upsert_by_id_and_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    let mut rec = inspection(1, "2026-03-02");
    j.record_inspection(rec.clone());
    rec.items[0].fixed_at = Some(t("2026-03-02T00:20:00Z"));
    rec.ready_to_open = true;
    j.record_inspection(rec.clone());
    rec.signed_by = Some("王主任".into());
    rec.signed_at = Some(t("2026-03-02T00:25:00Z"));
    rec.notes = Some("打印机已加纸".into());
    j.record_inspection(rec.clone());
    let next_day = inspection(2, "2026-03-03");
    j.record_inspection(next_day.clone());
    j.sync_blocking().unwrap();
    assert_eq!(
        j.inspections().unwrap(),
        vec![rec.clone(), next_day.clone()]
    );
    let updated_at: String = raw(dir.path())
        .query_row("SELECT updated_at FROM inspections WHERE id = 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(updated_at, "2026-03-02T00:25:00.000000Z");
    journal.close();

    let reopened = Journal::open(dir.path()).unwrap();
    assert_eq!(
        reopened.handle().inspections().unwrap(),
        vec![rec, next_day]
    );
}

#[test]
fn maintenance_marks_one_row_each_and_the_active_ones_restore() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    j.record_maintenance(mark(
        "kiosk-1",
        "更换打印机",
        "信息中心",
        "2026-03-02T01:00:00Z",
    ));
    j.record_maintenance(mark("pc-3", "重装系统", "张工", "2026-03-02T01:05:00Z"));
    j.record_maintenance(MaintenanceEvent::Lifted {
        device_id: "kiosk-1".into(),
        at: t("2026-03-02T03:00:00Z"),
        by: None,
    });
    // A second mark on a marked device replaces the first one.
    let mut until = mark("pc-3", "更换硬盘", "李工", "2026-03-02T02:00:00Z");
    if let MaintenanceEvent::Marked { mark, .. } = &mut until {
        mark.until = Some(t("2026-03-03T09:00:00Z"));
    }
    j.record_maintenance(until);
    j.sync_blocking().unwrap();
    assert_eq!(
        j.active_maintenance().unwrap(),
        vec![(
            "pc-3".to_owned(),
            hall_protocol::api::MaintenanceView {
                reason: "更换硬盘".into(),
                by: "李工".into(),
                until: Some(t("2026-03-03T09:00:00Z")),
            }
        )]
    );
    let rows: Vec<(String, String, Option<String>, Option<String>)> = raw(dir.path())
        .prepare("SELECT device_id, reason, lifted_at, lifted_by FROM maintenance ORDER BY id")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        rows,
        vec![
            (
                "kiosk-1".into(),
                "更换打印机".into(),
                Some("2026-03-02T03:00:00.000000Z".into()),
                None
            ),
            (
                "pc-3".into(),
                "重装系统".into(),
                Some("2026-03-02T02:00:00.000000Z".into()),
                Some("李工".into())
            ),
            ("pc-3".into(), "更换硬盘".into(), None, None),
        ]
    );
    journal.close();
    let reopened = Journal::open(dir.path()).unwrap();
    assert_eq!(reopened.handle().active_maintenance().unwrap().len(), 1);
}

#[test]
fn webhook_urls_lose_their_secrets() {
    for (url, want) in [
        (
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx",
            "https://qyapi.weixin.qq.com/cgi-bin/webhook/send",
        ),
        (
            "https://oapi.dingtalk.com/robot/send?access_token=abc123&timestamp=1&sign=xyz",
            "https://oapi.dingtalk.com/robot/send",
        ),
        (
            "http://user:secret@10.0.0.5:8080/hook#token=1",
            "http://10.0.0.5:8080/hook",
        ),
        ("http://127.0.0.1:9000", "http://127.0.0.1:9000"),
        ("https://example.org/hook", "https://example.org/hook"),
    ] {
        assert_eq!(redact_url(url), want, "{url}");
    }
}

#[test]
fn notifications_are_stored_without_tokens() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    j.record_notification(notification(
        "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=SECRET-KEY",
        NotifyOutcome::Sent,
    ));
    let mut failed = notification(
        "https://oapi.dingtalk.com/robot/send?access_token=SECRET-TOKEN",
        NotifyOutcome::Failed,
    );
    failed.error = Some("robot errcode 310000: keywords not in content".into());
    j.record_notification(failed);
    let mut summary = notification("https://example.org/hook?token=SECRET", NotifyOutcome::Sent);
    summary.alert_id = None;
    summary.rule = "summary".into();
    j.record_notification(summary);
    let mut dropped = notification("", NotifyOutcome::Dropped);
    dropped.channel = None;
    dropped.format = None;
    dropped.attempts = 0;
    j.record_notification(dropped);
    j.sync_blocking().unwrap();
    assert_eq!(j.stats().failed, 0);
    let got = j.notifications(10).unwrap();
    assert_eq!(got.len(), 4);
    assert_eq!(
        got[3].channel.as_deref(),
        Some("https://qyapi.weixin.qq.com/cgi-bin/webhook/send")
    );
    assert_eq!(got[3].outcome, NotifyOutcome::Sent);
    assert_eq!(got[3].alert_id, Some(7));
    assert_eq!(got[2].outcome, NotifyOutcome::Failed);
    assert_eq!(got[2].attempts, 3);
    assert_eq!(got[1].rule, "summary");
    assert_eq!(got[1].alert_id, None);
    assert_eq!(got[0].channel, None);
    assert_eq!(got[0].outcome, NotifyOutcome::Dropped);
    journal.close();
    // Nowhere in the file (database or log) is a secret.
    for suffix in ["", "-wal"] {
        let path = dir.path().join(format!("{DB_FILE}{suffix}"));
        if let Ok(bytes) = std::fs::read(&path) {
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains("SECRET"),
                "{} holds a secret",
                path.display()
            );
        }
    }
}

#[test]
fn awkward_strings_round_trip_in_records() {
    let dir = tempfile::tempdir().unwrap();
    let journal = Journal::open(dir.path()).unwrap();
    let j = journal.handle();
    let mut records = Vec::new();
    for (i, s) in AWKWARD.iter().enumerate() {
        let s = s.to_string();
        let mut rec = inspection(i as u64 + 1, "2026-03-02");
        rec.items[0].device_id = s.clone();
        rec.items[0].device_name = s.clone();
        rec.items[0].location = s.clone();
        rec.items[0].fault_codes = vec![s.clone(), s.clone()];
        rec.signed_by = Some(s.clone());
        rec.notes = Some(s.clone());
        j.record_inspection(rec.clone());
        records.push(rec);
        j.record_maintenance(mark(&format!("{i}{s}"), &s, &s, "2026-03-02T01:00:00Z"));
        let mut n = notification(&format!("https://example.org/{i}"), NotifyOutcome::Failed);
        n.rule = s.clone();
        n.error = Some(s.clone());
        j.record_notification(n);
    }
    j.sync_blocking().unwrap();
    assert_eq!(j.stats().failed, 0);
    assert_eq!(j.inspections().unwrap(), records);
    let active = j.active_maintenance().unwrap();
    assert_eq!(active.len(), AWKWARD.len());
    for (i, s) in AWKWARD.iter().enumerate() {
        let (_, m) = active
            .iter()
            .find(|(id, _)| *id == format!("{i}{s}"))
            .unwrap();
        assert_eq!(m.reason, *s);
        assert_eq!(m.by, *s);
    }
    let mut rules: Vec<String> = j
        .notifications(100)
        .unwrap()
        .into_iter()
        .map(|n| n.rule)
        .collect();
    rules.reverse();
    assert_eq!(rules, AWKWARD);
    // The tables are all still there.
    assert_eq!(
        raw(dir.path())
            .query_row("SELECT COUNT(*) FROM alerts", [], |r| r.get::<_, i64>(0))
            .unwrap(),
        0
    );
}
