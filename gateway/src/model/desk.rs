//! How the hall applies ticket and rating events and evaluates the queue and rating rules (Q-1..3, RAT-1..3).
//!
//! The KPIs themselves live in [`super::queues`] and [`super::ratings`]; this module connects them to the rest of
//! the hall: windows (the ticket being served, services today), devices (a rating pad offline is a RAT-3 coverage
//! gap), the phase, and the alert book. Pure, like the rest of the model.
//!
//! Q-2 and Q-3 depend on time passing (waits grow), so they are evaluated in [`Hall::tick`] — at most once per
//! second of hall time, and only during `service` (plus once when the phase changes, which resolves them when
//! `service` ends).

use std::collections::HashSet;

use chrono::{DateTime, TimeDelta, Utc};
use hall_protocol::api::{AlertView, Change, DeviceState, Phase, QueueView, SatisfactionView};
use hall_protocol::config::{DeviceKind, HallConfig};
use hall_protocol::payload::{RatingEvent, TicketEvent};

use super::alerts::AckError;
use super::queues::{self, Queues};
use super::ratings::{RAT_BAD, Ratings};
use super::windows::{POST_MULTI, POST_SINGLE_EMPTY};
use super::{Hall, Refusal};
use crate::clock::Now;

/// Queue and rating state of the hall, and what of it was last published.
#[derive(Debug, Clone)]
pub struct Desk {
    pub queues: Queues,
    pub ratings: Ratings,
    last_eval: Option<DateTime<Utc>>,
    published_queues: Vec<QueueView>,
    published_satisfaction: Option<SatisfactionView>,
}

impl Desk {
    pub fn from_config(cfg: &HallConfig) -> Self {
        Desk {
            queues: Queues::from_config(cfg),
            ratings: Ratings::from_config(cfg),
            last_eval: None,
            published_queues: Vec::new(),
            published_satisfaction: None,
        }
    }
}

impl Hall {
    /// A ticket event (Q-1).
    pub(super) fn on_ticket(
        &mut self,
        ev: TicketEvent,
        now: Now,
        out: &mut Vec<Change>,
    ) -> Result<(), Refusal> {
        if let Some(w) = &ev.window_id {
            if !self.windows.contains(w) {
                return Err(Refusal::UnknownWindow(w.clone()));
            }
        }
        self.roll_day(now, out);
        let outcome = self
            .desk
            .queues
            .apply(&ev, now.wall)
            .map_err(|e| Refusal::UnknownService(e.0))?;
        for u in outcome.windows {
            if let Some(view) = self.windows.set_ticket(&u.window_id, u.ticket, u.served) {
                out.push(Change::Window(view));
            }
        }
        if outcome.changed {
            self.publish_desk(now, out);
        }
        Ok(())
    }

    /// A rating from a window's rating pad (RAT-1, RAT-2).
    pub(super) fn on_rating(
        &mut self,
        window_id: String,
        ev: RatingEvent,
        now: Now,
        out: &mut Vec<Change>,
    ) -> Result<(), Refusal> {
        let Some(window) = self.windows.view(&window_id).cloned() else {
            return Err(Refusal::UnknownWindow(window_id));
        };
        self.roll_day(now, out);
        let local = now.wall.with_timezone(&self.calendar.tz());
        match self.desk.ratings.apply(&window, &ev, local) {
            None => return Ok(()),
            // A bad rating is an event, not a condition that a restart could re-discover: no startup grace.
            Some(Some(spec)) => {
                if let Some(a) = self.alerts.raise(spec, now) {
                    out.push(Change::Alert(a));
                }
            }
            Some(None) => {}
        }
        self.publish_desk(now, out);
        Ok(())
    }

    /// Time passing: day rollover, growing waits, Q-2, Q-3 and rating-pad gaps; at most once per hall second.
    pub(super) fn desk_tick(&mut self, phase_changed: bool, now: Now, out: &mut Vec<Change>) {
        let due = phase_changed
            || self
                .desk
                .last_eval
                .is_none_or(|t| now.wall < t || now.wall - t >= TimeDelta::seconds(1));
        if !due {
            return;
        }
        self.desk.last_eval = Some(now.wall);
        self.roll_day(now, out);
        self.desk.queues.prune(now.wall);
        let views = self.publish_desk(now, out);
        let in_service = self.phase == Phase::Service;
        if !in_service && !phase_changed {
            return;
        }
        let mut conditions = queues::service_level_conditions(&views);
        conditions.extend(queues::empty_window_conditions(
            &self.windows.views(),
            &views,
            |id| {
                // POST-3 covers both an unreported empty window and an overdue step-away: either way nobody serves.
                let subject = format!("window:{id}");
                self.alerts.is_open(POST_SINGLE_EMPTY, &subject)
                    || self.alerts.is_open(POST_MULTI, &subject)
            },
            in_service,
        ));
        let grace = self.in_grace(now);
        for (active, spec) in conditions {
            if active && grace {
                continue;
            }
            if let Some(a) = self.alerts.set(active, spec, now) {
                out.push(Change::Alert(a));
            }
        }
    }

    /// Queue KPIs of every service type (Q-1), `GET /api/v1/queues`.
    pub fn queue_views(&self, now: Now) -> Vec<QueueView> {
        let in_service = self.phase == Phase::Service;
        let open = queues::open_windows(&self.windows.views(), in_service);
        self.desk.queues.views(now.wall, &open, in_service)
    }

    /// Today's satisfaction and rating coverage (RAT-1, RAT-3).
    pub fn satisfaction_view(&self, now: Now) -> SatisfactionView {
        let gaps = self.rating_pad_gaps(now);
        let q = &self.desk.queues;
        self.desk.ratings.view(
            &self.windows.views(),
            q.served_today(),
            |id| q.served_at(id),
            |id| gaps.contains(id),
        )
    }

    /// Windows whose rating pad is offline during `service` (RAT-3).
    fn rating_pad_gaps(&self, now: Now) -> HashSet<String> {
        if self.phase != Phase::Service {
            return HashSet::new();
        }
        self.devices
            .iter()
            .filter(|d| d.spec.kind == DeviceKind::RatingPad)
            .filter(|d| d.state(now.mono) == DeviceState::Offline)
            .filter_map(|d| d.spec.window.clone())
            .collect()
    }

    /// Publishes the queue and satisfaction views that changed since last published; returns the queue views.
    fn publish_desk(&mut self, now: Now, out: &mut Vec<Change>) -> Vec<QueueView> {
        let views = self.queue_views(now);
        for (i, v) in views.iter().enumerate() {
            if self.desk.published_queues.get(i) != Some(v) {
                out.push(Change::Queue(v.clone()));
            }
        }
        self.desk.published_queues.clone_from(&views);
        let sat = self.satisfaction_view(now);
        if self.desk.published_satisfaction.as_ref() != Some(&sat) {
            out.push(Change::Satisfaction(sat.clone()));
            self.desk.published_satisfaction = Some(sat);
        }
        views
    }

    /// At hall-local midnight the "today" counters restart, and with them the windows' tickets.
    fn roll_day(&mut self, now: Now, out: &mut Vec<Change>) {
        let date = self.calendar.local_date(now.wall);
        self.desk.ratings.roll_to(date);
        if self.desk.queues.roll_to(date) {
            for view in self.windows.new_day() {
                out.push(Change::Window(view));
            }
        }
    }

    /// A RAT-2 follow-up needs a note saying what was done.
    pub(super) fn check_follow_up(&self, id: u64, note: &str) -> Result<(), AckError> {
        match self.alerts.get(id) {
            Some(a) if a.rule == RAT_BAD && note.trim().is_empty() => Err(AckError::MissingNote),
            _ => Ok(()),
        }
    }

    /// Acknowledging a bad-rating alert is its follow-up (RAT-2): it resolves the alert, since no condition will.
    pub(super) fn after_ack(&mut self, acked: AlertView, now: Now) -> AlertView {
        if acked.rule != RAT_BAD {
            return acked;
        }
        self.alerts
            .resolve(&acked.rule, &acked.subject, now)
            .unwrap_or(acked)
    }
}

#[cfg(test)]
mod tests {
    //! Q-2, Q-3, RAT-2 and RAT-3 through the whole [`Hall`], at fixed times. The calendar is the default one: on
    //! Thursday 2026-12-03 (winter timetable) service runs 08:30–12:00 and 14:00–17:30, Asia/Shanghai.

    use std::time::Duration;

    use chrono::{NaiveDate, NaiveTime};
    use hall_protocol::api::{AlertState, WindowSatisfaction};
    use hall_protocol::payload::{
        Heartbeat, LinkState, Presence, PresenceAction, PresenceSource, RatingLevel, StatusPayload,
        TicketAction,
    };

    use super::*;
    use crate::model::{Input, ModelOptions};

    const CONFIG: &str = r#"
[hall]
id = "h"
name = "测试大厅"

[[services]]
id = "sb"
name = "社保业务"
max_waiting_per_window = 2

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
services = ["sb"]

[[windows]]
id = "w2"
number = 2
unit = "u"
a_post = "b"
b_post = "a"
services = ["sb"]

[[devices]]
id = "pad1"
kind = "rating_pad"
location = "1号窗口"
window = "w1"
heartbeat_interval_secs = 10
"#;

    fn origin() -> DateTime<Utc> {
        "2026-12-02T16:00:00Z".parse().unwrap()
    }

    /// Hall-local 2026-12-03 at `hms`.
    fn at(hms: &str) -> Now {
        let local = NaiveDate::from_ymd_opt(2026, 12, 3)
            .unwrap()
            .and_time(NaiveTime::parse_from_str(hms, "%H:%M:%S").unwrap());
        let wall = local.and_utc() - TimeDelta::hours(8);
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
        let mut hall = Hall::new(&cfg, options, 1.0);
        hall.tick(at("08:30:00"), &mut Vec::new());
        hall
    }

    fn sign_in(hall: &mut Hall, window: &str, staff: &str, now: Now) {
        let payload = Presence {
            v: 1,
            action: PresenceAction::SignIn,
            staff_id: staff.into(),
            reason: None,
            source: PresenceSource::Badge,
            at: now.wall.fixed_offset(),
        };
        let input = Input::Presence {
            window_id: window.into(),
            payload,
        };
        hall.apply(input, now, &mut Vec::new()).unwrap();
    }

    fn ticket(
        hall: &mut Hall,
        action: TicketAction,
        ticket: &str,
        window: Option<&str>,
        now: Now,
    ) -> Result<Vec<Change>, Refusal> {
        ticket_of(hall, action, ticket, "sb", window, now)
    }

    fn ticket_of(
        hall: &mut Hall,
        action: TicketAction,
        ticket: &str,
        service: &str,
        window: Option<&str>,
        now: Now,
    ) -> Result<Vec<Change>, Refusal> {
        let payload = TicketEvent {
            v: 1,
            action,
            ticket: ticket.into(),
            service: service.into(),
            window_id: window.map(Into::into),
            at: now.wall.fixed_offset(),
        };
        let mut out = Vec::new();
        hall.apply(
            Input::Ticket {
                dispenser_id: "d1".into(),
                payload,
            },
            now,
            &mut out,
        )?;
        Ok(out)
    }

    fn rate(hall: &mut Hall, level: RatingLevel, ticket: &str, now: Now) -> Vec<Change> {
        let payload = RatingEvent {
            v: 1,
            level,
            ticket: Some(ticket.into()),
            staff_id: None,
            at: now.wall.fixed_offset(),
        };
        let mut out = Vec::new();
        hall.apply(
            Input::Rating {
                window_id: "w1".into(),
                payload,
            },
            now,
            &mut out,
        )
        .unwrap();
        out
    }

    fn tick(hall: &mut Hall, hms: &str) -> Vec<Change> {
        let mut out = Vec::new();
        hall.tick(at(hms), &mut out);
        out
    }

    fn open(hall: &Hall, rule: &str, subject: &str) -> bool {
        hall.alerts.is_open(rule, subject)
    }

    #[test]
    fn q2_and_q3_raise_and_resolve_at_their_boundaries() {
        use TicketAction::*;
        let mut h = hall();
        sign_in(&mut h, "w1", "a", at("08:30:00"));
        ticket(&mut h, Issued, "A001", None, at("09:00:00")).unwrap();
        // (hall-local time, action before the tick, Q-2 on service:sb, Q-3 on window:w2)
        // w2 has been empty since 08:30, so its POST-3 alert is open all along.
        type Step = (
            &'static str,
            Option<(TicketAction, &'static str, Option<&'static str>)>,
            bool,
            bool,
        );
        let steps: &[Step] = &[
            ("09:00:01", None, false, true),
            ("09:30:00", None, false, true), // exactly 30 min waiting: not over
            ("09:30:01", None, true, true),  // 30 min + 1 s
            ("09:31:00", Some((Called, "A001", Some("w1"))), false, false),
            ("09:40:00", Some((Issued, "A002", None)), false, true),
            ("09:40:01", Some((Issued, "A003", None)), false, true), // 2 waiting = 2 × 1 open window
            ("09:40:02", Some((Issued, "A004", None)), true, true),  // 3 > 2
            ("09:41:00", Some((Called, "A002", Some("w1"))), false, true),
            ("09:50:00", Some((Issued, "A005", None)), true, true),
            ("12:00:00", None, false, false), // lunch: Q-2 and Q-3 do not apply
        ];
        for &(hms, action, q2, q3) in steps {
            if let Some((action, t, w)) = action {
                ticket(&mut h, action, t, w, at(hms)).unwrap();
            }
            tick(&mut h, hms);
            assert_eq!(open(&h, "Q-2", "service:sb"), q2, "Q-2 at {hms}");
            assert_eq!(open(&h, "Q-3", "window:w2"), q3, "Q-3 w2 at {hms}");
            assert!(!open(&h, "Q-3", "window:w1"), "w1 is staffed at {hms}");
        }
        let q3: Vec<&AlertView> = h.alerts.all().filter(|a| a.rule == "Q-3").collect();
        assert_eq!(q3[0].kind, "empty_window_with_queue");
        assert_eq!(q3[0].severity, hall_protocol::payload::Severity::Critical);
        assert_eq!(q3[0].message, "2号窗口（社保科）空岗，社保业务有1人等候");
    }

    #[test]
    fn q3_needs_the_post_alert_not_just_an_empty_window() {
        let mut h = hall();
        sign_in(&mut h, "w1", "a", at("08:30:00"));
        sign_in(&mut h, "w2", "b", at("08:30:00"));
        ticket(&mut h, TicketAction::Issued, "A001", None, at("09:00:00")).unwrap();
        tick(&mut h, "09:00:01");
        assert!(!open(&h, "Q-3", "window:w2"));
        let out = tick(&mut h, "09:00:02");
        // Nothing moved but the longest wait, so only that is republished.
        let queues: Vec<&QueueView> = out
            .iter()
            .filter_map(|c| match c {
                Change::Queue(q) => Some(q),
                _ => None,
            })
            .collect();
        assert_eq!(queues.len(), 1);
        assert_eq!(
            (
                queues[0].waiting,
                queues[0].longest_wait_secs,
                queues[0].open_windows
            ),
            (1, 2, 2)
        );
        // Within the same hall second nothing is evaluated again.
        assert!(
            !tick(&mut h, "09:00:02")
                .iter()
                .any(|c| matches!(c, Change::Queue(_)))
        );
    }

    #[test]
    fn tickets_update_windows_and_refusals_are_reasoned() {
        use TicketAction::*;
        let mut h = hall();
        sign_in(&mut h, "w1", "a", at("08:30:00"));
        ticket(&mut h, Issued, "A001", None, at("09:00:00")).unwrap();
        let out = ticket(&mut h, Called, "A001", Some("w1"), at("09:05:00")).unwrap();
        assert!(out.iter().any(|c| matches!(c, Change::Window(w) if w.id == "w1" && w.current_ticket.as_deref() == Some("A001"))));
        assert!(
            out.iter()
                .any(|c| matches!(c, Change::Queue(q) if q.waiting == 0))
        );
        ticket(&mut h, Served, "A001", Some("w1"), at("09:15:00")).unwrap();
        let w1 = h.windows.view("w1").unwrap();
        assert_eq!((w1.current_ticket.as_deref(), w1.served_today), (None, 1));
        let snap = h.snapshot(0, at("09:16:00"));
        assert_eq!(snap.queues[0].served_today, 1);
        assert_eq!(snap.queues[0].avg_wait_secs_1h, Some(300));
        assert_eq!(snap.queues[0].avg_service_secs_1h, Some(600));
        assert_eq!(
            ticket_of(&mut h, Issued, "X1", "nope", None, at("09:20:00")),
            Err(Refusal::UnknownService("nope".into()))
        );
        assert_eq!(
            ticket(&mut h, Called, "A002", Some("w9"), at("09:20:00")),
            Err(Refusal::UnknownWindow("w9".into()))
        );
        // The next day starts from zero, windows included.
        let next = at("09:00:00").after(Duration::from_secs(24 * 3600));
        let mut out = Vec::new();
        h.tick(next, &mut out);
        assert!(
            out.iter()
                .any(|c| matches!(c, Change::Window(w) if w.id == "w1" && w.served_today == 0))
        );
        assert_eq!(h.queue_views(next)[0].served_today, 0);
    }

    #[test]
    fn rat2_every_bad_rating_alerts_and_the_follow_up_resolves_it() {
        use RatingLevel::*;
        let mut h = hall();
        sign_in(&mut h, "w1", "a", at("08:30:00"));
        // (time, level, ticket, alert raised)
        let table: &[(&str, RatingLevel, &str, bool)] = &[
            ("09:01:00", VerySatisfied, "A001", false),
            ("09:02:00", Satisfied, "A002", false),
            ("09:03:00", Basic, "A003", false),
            ("09:04:00", Dissatisfied, "A004", true),
            ("09:05:00", VeryDissatisfied, "A005", true),
            ("09:06:00", Dissatisfied, "A006", true),
        ];
        for &(hms, level, t, alerts) in table {
            let out = rate(&mut h, level, t, at(hms));
            let raised: Vec<&AlertView> = out
                .iter()
                .filter_map(|c| match c {
                    Change::Alert(a) => Some(a),
                    _ => None,
                })
                .collect();
            assert_eq!(raised.len(), usize::from(alerts), "{level:?}");
            assert!(out.iter().any(|c| matches!(c, Change::Satisfaction(_))));
        }
        let bad: Vec<AlertView> = h
            .alerts
            .active()
            .filter(|a| a.rule == "RAT-2")
            .cloned()
            .collect();
        assert_eq!(bad.len(), 3);
        assert_eq!(bad[0].subject, "rating:w1:2026-12-03:A004");
        assert_eq!(
            bad[0].message,
            "1号窗口 张三 收到“不满意”评价，票号 A004，时间 09:04，请值班领导回访"
        );
        // The follow-up needs a note, and acknowledging it closes the alert.
        assert_eq!(
            h.ack(bad[0].id, "王主任", " ", at("09:30:00")),
            Err(AckError::MissingNote)
        );
        let done = h
            .ack(
                bad[0].id,
                "王主任",
                "已电话回访，群众表示理解",
                at("09:30:00"),
            )
            .unwrap();
        assert_eq!(done.state, AlertState::Resolved);
        assert_eq!(done.ack_note.as_deref(), Some("已电话回访，群众表示理解"));
        assert_eq!(h.alerts.active().filter(|a| a.rule == "RAT-2").count(), 2);
        let sat = h.satisfaction_view(at("09:30:00"));
        assert_eq!(
            (sat.ratings_today, sat.satisfied_today, sat.bad_today),
            (6, 2, 3)
        );
    }

    #[test]
    fn rat3_coverage_and_the_offline_pad_gap() {
        use TicketAction::*;
        let mut h = hall();
        sign_in(&mut h, "w1", "a", at("08:30:00"));
        for (t, m) in [("A001", "09"), ("A002", "10")] {
            ticket(&mut h, Called, t, Some("w1"), at(&format!("09:{m}:00"))).unwrap();
            ticket(&mut h, Served, t, Some("w1"), at(&format!("09:{m}:30"))).unwrap();
        }
        rate(&mut h, RatingLevel::Satisfied, "A001", at("09:11:00"));
        let heartbeat = Heartbeat {
            v: 1,
            seq: 1,
            boot_id: "boot".into(),
            sent_at: at("09:12:00").wall.fixed_offset(),
            uptime_secs: 0,
            metrics: Default::default(),
            checks: Default::default(),
        };
        h.apply(
            Input::Heartbeat {
                device_id: "pad1".into(),
                payload: heartbeat,
            },
            at("09:12:00"),
            &mut Vec::new(),
        )
        .unwrap();
        let w1 = |h: &Hall, hms: &str| -> WindowSatisfaction {
            h.satisfaction_view(at(hms)).windows.remove(0)
        };
        let expect = |pad_offline| WindowSatisfaction {
            window_id: "w1".into(),
            ratings: 1,
            satisfied: 1,
            services: 2,
            pad_offline,
        };
        assert_eq!(w1(&h, "09:12:01"), expect(false));
        assert_eq!(h.satisfaction_view(at("09:12:01")).services_today, 2);
        let offline = StatusPayload {
            v: 1,
            state: LinkState::Offline,
            boot_id: "boot".into(),
            at: None,
            reason: Some("last_will".into()),
        };
        h.apply(
            Input::Status {
                device_id: "pad1".into(),
                payload: offline,
            },
            at("09:13:00"),
            &mut Vec::new(),
        )
        .unwrap();
        assert_eq!(w1(&h, "09:13:00"), expect(true));
        // The live view learns of the gap on the next tick.
        let out = tick(&mut h, "09:13:01");
        assert!(
            out.iter()
                .any(|c| matches!(c, Change::Satisfaction(s) if s.windows[0].pad_offline))
        );
        // At lunch an offline pad is no gap: nobody is being served.
        tick(&mut h, "12:00:00");
        assert_eq!(w1(&h, "12:00:00"), expect(false));
        // w2 has no pad and no services: nothing to cover.
        let w2 = h.satisfaction_view(at("12:00:00")).windows.remove(1);
        assert_eq!((w2.ratings, w2.services, w2.pad_offline), (0, 0, false));
    }
}
