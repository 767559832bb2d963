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
    assert_eq!(tables, ["alerts", "audit", "leave", "window_transitions"]);
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
