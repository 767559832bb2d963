//! Fixed-time tests of DEV-1 damping, DEV-3..6 and INS-1..3 through the whole [`Hall`], around each boundary.
//!
//! The calendar is the default one (Asia/Shanghai, winter timetable in December): on Thursday 2026-12-03 the
//! inspection is at 08:15, service starts at 08:30, the afternoon ends at 17:30 and `closing` ends at 18:00.

use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use hall_protocol::api::{AlertState, AlertView, InspectionStatus, Inspector};
use hall_protocol::config::HallConfig;
use hall_protocol::payload::{
    Checks, DeviceEvent, DeviceEventKind, Heartbeat, LinkState, Metrics, Presence, PresenceAction,
    PresenceSource, RemovableMedium, StatusPayload,
};

use super::{DEV_AFTER_HOURS, DEV_INTERNET, DEV_MEDIA};
use crate::clock::Now;
use crate::model::inspection::{INS_UNSIGNED, SignError};
use crate::model::rules::DEV_OFFLINE;
use crate::model::{Hall, Input, MaintenanceError, ModelOptions};

const CONFIG: &str = r#"
[hall]
id = "h"
name = "测试大厅"

[supervision]
flap_hold_secs = 120

[[units]]
id = "u"
name = "社保科"
kind = "multi"

[[staff]]
id = "a"
name = "张三"
unit = "u"

[[staff]]
id = "b"
name = "李四"
unit = "u"

[[windows]]
id = "w1"
number = 1
unit = "u"
a_post = "a"
b_post = "b"

[[devices]]
id = "pc1"
kind = "window_pc"
location = "1号窗口"
window = "w1"
network = "intranet"
heartbeat_interval_secs = 10

[[devices]]
id = "kiosk1"
kind = "self_service_kiosk"
location = "东区"
network = "internet"
heartbeat_interval_secs = 10

[[devices]]
id = "copier1"
kind = "copier"
location = "咨询台"
heartbeat_interval_secs = 10

[[devices]]
id = "wifi1"
kind = "wifi_ap"
location = "大厅"
heartbeat_interval_secs = 10

[[media]]
serial = "U-A"
label = "U盘001"
owner = "a"

[[media]]
serial = "U-SECRET"
label = "涉密U盘002"
owner = "a"
classified = true
"#;

/// Midnight of 2026-12-03 in the hall (UTC+8); monotonic time counts from here.
fn origin() -> DateTime<Utc> {
    "2026-12-02T16:00:00Z".parse().unwrap()
}

/// Hall-local `day` of December 2026 at `hms`.
fn at(day: u32, hms: &str) -> Now {
    let local = NaiveDate::from_ymd_opt(2026, 12, day)
        .unwrap()
        .and_time(NaiveTime::parse_from_str(hms, "%H:%M:%S").unwrap());
    let wall = local.and_utc() - chrono::TimeDelta::hours(8);
    Now {
        mono: (wall - origin()).to_std().unwrap(),
        wall,
    }
}

fn hall() -> Hall {
    let raw: HallConfig = toml::from_str(CONFIG).unwrap();
    let cfg = crate::config::check(raw).unwrap();
    let options = ModelOptions {
        startup_grace: Duration::ZERO,
        max_resolved_alerts: 1000,
    };
    Hall::new(&cfg, options, 1.0)
}

fn heartbeat(hall: &mut Hall, id: &str, checks: Checks, now: Now) {
    let payload = Heartbeat {
        v: 1,
        seq: now.mono.as_secs(),
        boot_id: "boot".into(),
        sent_at: now.wall.fixed_offset(),
        uptime_secs: 0,
        metrics: Metrics::default(),
        checks,
    };
    let input = Input::Heartbeat {
        device_id: id.into(),
        payload,
    };
    hall.apply(input, now, &mut Vec::new()).unwrap();
    hall.tick(now, &mut Vec::new());
}

fn status(hall: &mut Hall, id: &str, state: LinkState, now: Now) {
    let payload = StatusPayload {
        v: 1,
        state,
        boot_id: "boot".into(),
        at: None,
        reason: None,
    };
    let input = Input::Status {
        device_id: id.into(),
        payload,
    };
    hall.apply(input, now, &mut Vec::new()).unwrap();
    hall.tick(now, &mut Vec::new());
}

fn fault(hall: &mut Hall, id: &str, kind: DeviceEventKind, now: Now) {
    let payload = DeviceEvent {
        v: 1,
        kind,
        code: "printer_paper_out".into(),
        severity: Default::default(),
        message: "缺纸".into(),
        at: now.wall.fixed_offset(),
    };
    let input = Input::DeviceEvent {
        device_id: id.into(),
        payload,
    };
    hall.apply(input, now, &mut Vec::new()).unwrap();
}

fn sign_in(hall: &mut Hall, staff: &str, now: Now) {
    let payload = Presence {
        v: 1,
        action: PresenceAction::SignIn,
        staff_id: staff.into(),
        reason: None,
        source: PresenceSource::Badge,
        at: now.wall.fixed_offset(),
    };
    let input = Input::Presence {
        window_id: "w1".into(),
        payload,
    };
    hall.apply(input, now, &mut Vec::new()).unwrap();
}

fn tick(hall: &mut Hall, now: Now) {
    hall.tick(now, &mut Vec::new());
}

/// Every alert of `rule` on `subject`, open or resolved.
fn alerts(hall: &Hall, rule: &str, subject: &str) -> Vec<AlertView> {
    hall.alerts
        .all()
        .filter(|a| a.rule == rule && a.subject == subject)
        .cloned()
        .collect()
}

fn open(hall: &Hall, rule: &str, subject: &str) -> bool {
    hall.alerts.is_open(rule, subject)
}

fn checks_internet(reachable: Option<bool>) -> Checks {
    Checks {
        internet_reachable: reachable,
        ..Checks::default()
    }
}

fn checks_media(serials: &[&str]) -> Checks {
    Checks {
        removable_media: Some(
            serials
                .iter()
                .map(|s| RemovableMedium {
                    serial: (*s).into(),
                    label: None,
                    mount: None,
                })
                .collect(),
        ),
        ..Checks::default()
    }
}

// ---- DEV-1 flap damping -------------------------------------------------------------------------------------

#[test]
fn dev1_a_device_bouncing_twenty_times_a_minute_gives_one_alert() {
    let mut h = hall();
    heartbeat(&mut h, "kiosk1", Checks::default(), at(3, "09:00:00"));
    // 20 bounces in one minute: offline (last will) then online again, every 3 s.
    for i in 0..20u64 {
        let t = at(3, "09:01:00").after(Duration::from_secs(3 * i));
        status(&mut h, "kiosk1", LinkState::Offline, t);
        status(
            &mut h,
            "kiosk1",
            LinkState::Online,
            t.after(Duration::from_millis(1500)),
        );
    }
    let raised = alerts(&h, DEV_OFFLINE, "device:kiosk1");
    assert_eq!(raised.len(), 1, "{raised:#?}");
    assert_eq!(raised[0].state, AlertState::Open);
}

#[test]
fn dev1_offline_alert_resolves_only_after_the_hold_and_a_relapse_reuses_it() {
    // The device is back at 09:01:00 and keeps sending heartbeats; hold 120 s ("届满": 120 s exactly resolves).
    for (back_for_secs, relapse_at, want_open, want_alerts) in [
        (119, None, true, 1),
        (120, None, false, 1),
        (121, None, false, 1),
        // Offline again within the hold: the same alert stays open, and the hold restarts when it comes back.
        (150, Some(60), true, 1),
    ] {
        let mut h = hall();
        heartbeat(&mut h, "kiosk1", Checks::default(), at(3, "09:00:00"));
        status(&mut h, "kiosk1", LinkState::Offline, at(3, "09:00:30"));
        assert!(open(&h, DEV_OFFLINE, "device:kiosk1"));
        let back = at(3, "09:01:00");
        status(&mut h, "kiosk1", LinkState::Online, back);
        let mut s = 0;
        while s <= back_for_secs {
            let t = back.after(Duration::from_secs(s));
            if relapse_at == Some(s) {
                status(&mut h, "kiosk1", LinkState::Offline, t);
                status(
                    &mut h,
                    "kiosk1",
                    LinkState::Online,
                    t.after(Duration::from_secs(1)),
                );
            } else if s % 10 == 0 {
                heartbeat(&mut h, "kiosk1", Checks::default(), t);
            }
            tick(&mut h, t);
            s += 1;
        }
        assert_eq!(
            open(&h, DEV_OFFLINE, "device:kiosk1"),
            want_open,
            "back for {back_for_secs} s, relapse {relapse_at:?}"
        );
        assert_eq!(alerts(&h, DEV_OFFLINE, "device:kiosk1").len(), want_alerts);
    }
}

#[test]
fn dev1_offline_alert_of_a_device_no_longer_expected_resolves_at_once() {
    let mut h = hall();
    heartbeat(&mut h, "kiosk1", Checks::default(), at(3, "11:50:00"));
    status(&mut h, "kiosk1", LinkState::Offline, at(3, "11:55:00"));
    assert!(open(&h, DEV_OFFLINE, "device:kiosk1"));
    // Lunch: a self-service kiosk is expected on in service only.
    tick(&mut h, at(3, "12:00:00"));
    assert!(!open(&h, DEV_OFFLINE, "device:kiosk1"));
}

// ---- DEV-3 after hours --------------------------------------------------------------------------------------

#[test]
fn dev3_left_powered_on_boundary_at_closing_end() {
    for (time, want) in [
        ("17:29:59", false),
        ("17:30:00", false), // closing phase: still allowed
        ("17:59:59", false),
        ("18:00:00", true), // closing has ended
        ("23:00:00", true),
    ] {
        let mut h = hall();
        heartbeat(&mut h, "pc1", Checks::default(), at(3, time));
        heartbeat(&mut h, "copier1", Checks::default(), at(3, time));
        heartbeat(&mut h, "wifi1", Checks::default(), at(3, time));
        assert_eq!(
            open(&h, DEV_AFTER_HOURS, "device:pc1"),
            want,
            "pc at {time}"
        );
        assert_eq!(
            open(&h, DEV_AFTER_HOURS, "device:copier1"),
            want,
            "copier at {time}"
        );
        assert!(
            !open(&h, DEV_AFTER_HOURS, "device:wifi1"),
            "always-on kinds are exempt"
        );
    }
}

#[test]
fn dev3_phase_change_at_closing_end_raises_without_a_new_heartbeat() {
    let mut h = hall();
    heartbeat(&mut h, "pc1", Checks::default(), at(3, "17:59:50"));
    tick(&mut h, at(3, "17:59:59"));
    assert!(!open(&h, DEV_AFTER_HOURS, "device:pc1"));
    tick(&mut h, at(3, "18:00:00"));
    assert!(open(&h, DEV_AFTER_HOURS, "device:pc1"));
}

#[test]
fn dev3_once_per_device_per_evening_resolved_when_it_goes_offline() {
    let mut h = hall();
    heartbeat(&mut h, "pc1", Checks::default(), at(3, "18:05:00"));
    assert!(open(&h, DEV_AFTER_HOURS, "device:pc1"));
    status(&mut h, "pc1", LinkState::Offline, at(3, "18:20:00"));
    assert!(!open(&h, DEV_AFTER_HOURS, "device:pc1"));
    // Switched on again the same night, and after midnight: no second alert for this evening.
    heartbeat(&mut h, "pc1", Checks::default(), at(3, "20:00:00"));
    heartbeat(&mut h, "pc1", Checks::default(), at(4, "01:00:00"));
    assert_eq!(alerts(&h, DEV_AFTER_HOURS, "device:pc1").len(), 1);
    // Next morning it is meant to be on: nothing open. The next evening is a new evening.
    heartbeat(&mut h, "pc1", Checks::default(), at(4, "08:15:00"));
    assert!(!open(&h, DEV_AFTER_HOURS, "device:pc1"));
    heartbeat(&mut h, "pc1", Checks::default(), at(4, "18:00:00"));
    assert!(open(&h, DEV_AFTER_HOURS, "device:pc1"));
    assert_eq!(alerts(&h, DEV_AFTER_HOURS, "device:pc1").len(), 2);
}

// ---- DEV-4 intranet compliance ------------------------------------------------------------------------------

#[test]
fn dev4_internet_exposure_raised_kept_and_resolved_by_heartbeats() {
    let mut h = hall();
    let table = [
        ("09:00:00", Some(false), false),
        ("09:00:10", Some(true), true),
        ("09:00:20", None, true), // no probe result this time: the last one stands
        ("09:00:30", Some(false), false),
    ];
    for (time, reachable, want) in table {
        heartbeat(&mut h, "pc1", checks_internet(reachable), at(3, time));
        assert_eq!(open(&h, DEV_INTERNET, "device:pc1"), want, "at {time}");
    }
    let a = &alerts(&h, DEV_INTERNET, "device:pc1")[0];
    assert_eq!(a.kind, "internet_exposure");
    assert_eq!(a.severity, hall_protocol::payload::Severity::Critical);
    // An internet-capable kiosk may reach the internet.
    heartbeat(
        &mut h,
        "kiosk1",
        checks_internet(Some(true)),
        at(3, "09:01:00"),
    );
    assert!(!open(&h, DEV_INTERNET, "device:kiosk1"));
}

// ---- DEV-5 removable media ----------------------------------------------------------------------------------

#[test]
fn dev5_media_against_the_register_and_who_is_signed_in() {
    use hall_protocol::payload::Severity::*;
    // (device, serial, signed in at w1, expected open alert: (kind, severity))
    let table: [(&str, &str, Option<&str>, Option<(&str, _)>); 6] = [
        (
            "pc1",
            "X-999",
            Some("a"),
            Some(("unregistered_media", Warning)),
        ),
        ("pc1", "U-A", Some("a"), None),
        (
            "pc1",
            "U-A",
            Some("b"),
            Some(("unregistered_media", Warning)),
        ),
        ("pc1", "U-A", None, Some(("unregistered_media", Warning))),
        ("pc1", "U-SECRET", Some("a"), None),
        (
            "kiosk1",
            "U-SECRET",
            None,
            Some(("classified_media_exposure", Critical)),
        ),
    ];
    for (device, serial, staff, want) in table {
        let mut h = hall();
        if let Some(staff) = staff {
            sign_in(&mut h, staff, at(3, "08:50:00"));
        }
        heartbeat(&mut h, device, checks_media(&[serial]), at(3, "09:00:00"));
        let subject = format!("device:{device}/media:{serial}");
        let got = h
            .alerts
            .active()
            .find(|a| a.rule == DEV_MEDIA && a.subject == subject)
            .map(|a| (a.kind.clone(), a.severity));
        assert_eq!(
            got,
            want.map(|(k, s)| (k.to_owned(), s)),
            "{serial} on {device}, {staff:?} signed in"
        );
        // Unplugged: resolved.
        heartbeat(&mut h, device, checks_media(&[]), at(3, "09:00:10"));
        assert!(!open(&h, DEV_MEDIA, &subject));
    }
}

// ---- DEV-6 maintenance ----------------------------------------------------------------------------------------

#[test]
fn dev6_marking_resolves_open_alerts_and_silences_until_expiry() {
    let mut h = hall();
    heartbeat(
        &mut h,
        "pc1",
        checks_internet(Some(true)),
        at(3, "09:00:00"),
    );
    assert!(open(&h, DEV_INTERNET, "device:pc1"));
    let until = at(3, "10:00:00").wall;
    let view = h
        .set_maintenance(
            "pc1",
            "重装系统",
            "信息中心小王",
            Some(until),
            at(3, "09:01:00"),
            &mut Vec::new(),
        )
        .unwrap();
    assert_eq!(view.maintenance.as_ref().unwrap().reason, "重装系统");
    assert!(!open(&h, DEV_INTERNET, "device:pc1"));
    // Still exposed, still silenced, right up to the expiry.
    heartbeat(
        &mut h,
        "pc1",
        checks_internet(Some(true)),
        at(3, "09:59:50"),
    );
    tick(&mut h, at(3, "09:59:59"));
    assert!(!open(&h, DEV_INTERNET, "device:pc1"));
    assert!(
        h.device_view("pc1", at(3, "09:59:59"))
            .unwrap()
            .maintenance
            .is_some()
    );
    // "届满": the mark expires at `until` exactly, and what is still wrong is raised anew.
    tick(&mut h, at(3, "10:00:00"));
    assert!(
        h.device_view("pc1", at(3, "10:00:00"))
            .unwrap()
            .maintenance
            .is_none()
    );
    assert!(open(&h, DEV_INTERNET, "device:pc1"));
    assert_eq!(alerts(&h, DEV_INTERNET, "device:pc1").len(), 2);
}

#[test]
fn dev6_offline_under_maintenance_raises_nothing_and_lifting_reevaluates() {
    let mut h = hall();
    heartbeat(&mut h, "kiosk1", Checks::default(), at(3, "09:00:00"));
    h.set_maintenance(
        "kiosk1",
        "更换打印机",
        "小王",
        None,
        at(3, "09:00:05"),
        &mut Vec::new(),
    )
    .unwrap();
    status(&mut h, "kiosk1", LinkState::Offline, at(3, "09:00:10"));
    tick(&mut h, at(3, "11:00:00"));
    assert!(alerts(&h, DEV_OFFLINE, "device:kiosk1").is_empty());
    h.lift_maintenance("kiosk1", at(3, "11:00:01"), &mut Vec::new())
        .unwrap();
    assert!(open(&h, DEV_OFFLINE, "device:kiosk1"));
    assert_eq!(
        h.lift_maintenance("kiosk1", at(3, "11:00:02"), &mut Vec::new()),
        Err(MaintenanceError::NotMarked("kiosk1".into()))
    );
    assert_eq!(
        h.set_maintenance(
            "kiosk1",
            "x",
            "小王",
            Some(at(3, "11:00:00").wall),
            at(3, "11:00:03"),
            &mut Vec::new()
        )
        .unwrap_err(),
        MaintenanceError::UntilInPast
    );
    assert!(matches!(
        h.set_maintenance(
            "nope",
            "x",
            "小王",
            None,
            at(3, "11:00:03"),
            &mut Vec::new()
        ),
        Err(MaintenanceError::NotFound(_))
    ));
}

// ---- INS-1..3 the morning inspection --------------------------------------------------------------------------

#[test]
fn ins1_record_taken_at_pre_open_grouped_by_inspector() {
    let mut h = hall();
    heartbeat(&mut h, "pc1", Checks::default(), at(3, "08:14:50"));
    heartbeat(&mut h, "kiosk1", Checks::default(), at(3, "08:14:50"));
    fault(
        &mut h,
        "kiosk1",
        DeviceEventKind::FaultRaised,
        at(3, "08:14:55"),
    );
    tick(&mut h, at(3, "08:14:59"));
    assert!(h.inspections.all().is_empty(), "not before 08:15");
    tick(&mut h, at(3, "08:15:00"));
    let rec = &h.inspections.all()[0];
    assert_eq!(rec.taken_at, at(3, "08:15:00").wall);
    assert!(!rec.ready_to_open);
    let item = |id: &str| rec.items.iter().find(|i| i.device_id == id).unwrap();
    assert_eq!(item("pc1").status, InspectionStatus::Ok);
    assert_eq!(item("kiosk1").status, InspectionStatus::Fault);
    assert_eq!(item("kiosk1").fault_codes, vec!["printer_paper_out"]);
    assert_eq!(item("copier1").status, InspectionStatus::Unknown);
    assert_eq!(item("copier1").inspector, Inspector::ConsultationDesk);
    assert_eq!(item("wifi1").inspector, Inspector::ItCentre);
    // Grouped: IT centre items first, then the consultation desk's.
    let groups: Vec<Inspector> = rec.items.iter().map(|i| i.inspector).collect();
    assert!(groups.is_sorted());
    // One record per day.
    tick(&mut h, at(3, "08:16:00"));
    assert_eq!(h.inspections.all().len(), 1);
}

#[test]
fn ins1_no_record_on_a_day_off() {
    let mut h = hall();
    // Sunday 2026-12-06.
    tick(&mut h, at(6, "08:15:00"));
    tick(&mut h, at(6, "10:00:00"));
    assert!(h.inspections.all().is_empty());
}

#[test]
fn ins2_items_recovering_before_service_start_are_fixed() {
    for (recovers_at, want_fixed) in [("08:29:59", true), ("08:30:00", false)] {
        let mut h = hall();
        for id in ["pc1", "kiosk1", "copier1", "wifi1"] {
            heartbeat(&mut h, id, Checks::default(), at(3, "08:14:50"));
        }
        fault(
            &mut h,
            "kiosk1",
            DeviceEventKind::FaultRaised,
            at(3, "08:14:55"),
        );
        tick(&mut h, at(3, "08:15:00"));
        assert!(!h.inspections.all()[0].ready_to_open);
        for id in ["pc1", "copier1", "wifi1"] {
            heartbeat(&mut h, id, Checks::default(), at(3, "08:25:00"));
        }
        fault(
            &mut h,
            "kiosk1",
            DeviceEventKind::FaultCleared,
            at(3, recovers_at),
        );
        tick(&mut h, at(3, recovers_at));
        let rec = &h.inspections.all()[0];
        let kiosk = rec.items.iter().find(|i| i.device_id == "kiosk1").unwrap();
        assert_eq!(kiosk.status, InspectionStatus::Fault, "as found stays");
        assert_eq!(
            kiosk.fixed_at.is_some(),
            want_fixed,
            "recovered at {recovers_at}"
        );
        if want_fixed {
            assert_eq!(kiosk.fixed_at, Some(at(3, recovers_at).wall));
        }
        assert_eq!(rec.ready_to_open, want_fixed);
    }
}

#[test]
fn ins3_unsigned_at_service_start_alerts_the_duty_leader_until_signed() {
    let mut h = hall();
    tick(&mut h, at(3, "08:15:00"));
    let id = h.inspections.all()[0].id;
    let subject = format!("inspection:{id}");
    tick(&mut h, at(3, "08:29:59"));
    assert!(!open(&h, INS_UNSIGNED, &subject));
    tick(&mut h, at(3, "08:30:00"));
    assert!(open(&h, INS_UNSIGNED, &subject));
    assert_eq!(
        h.sign_inspection(id, " ", "", at(3, "08:31:00"), &mut Vec::new()),
        Err(SignError::MissingName)
    );
    let rec = h
        .sign_inspection(
            id,
            "值班领导",
            "复印机已报修",
            at(3, "08:31:00"),
            &mut Vec::new(),
        )
        .unwrap();
    assert_eq!(rec.signed_by.as_deref(), Some("值班领导"));
    assert!(!open(&h, INS_UNSIGNED, &subject));
    tick(&mut h, at(3, "08:32:00"));
    assert!(!open(&h, INS_UNSIGNED, &subject));
    assert!(matches!(
        h.sign_inspection(id, "别人", "", at(3, "08:33:00"), &mut Vec::new()),
        Err(SignError::AlreadySigned { .. })
    ));
}

#[test]
fn ins3_signed_before_service_start_never_alerts() {
    let mut h = hall();
    tick(&mut h, at(3, "08:15:00"));
    let id = h.inspections.all()[0].id;
    h.sign_inspection(id, "信息中心", "", at(3, "08:29:59"), &mut Vec::new())
        .unwrap();
    tick(&mut h, at(3, "08:30:00"));
    assert!(alerts(&h, INS_UNSIGNED, &format!("inspection:{id}")).is_empty());
}

#[test]
fn ins2_csv_has_a_bom_and_chinese_text() {
    let mut h = hall();
    tick(&mut h, at(3, "08:15:00"));
    let rec = h.inspections.all()[0].clone();
    let csv = crate::model::inspection::to_csv(&rec, chrono_tz::Asia::Shanghai);
    assert!(csv.starts_with('\u{feff}'));
    assert!(csv.contains("检查时间,2026-12-03 08:15:00"));
    assert!(csv.contains("咨询台,copier1"));
    let html = crate::model::inspection::to_html(&rec, "测试大厅", chrono_tz::Asia::Shanghai);
    assert!(html.contains("测试大厅 班前设备检查记录"));
}
