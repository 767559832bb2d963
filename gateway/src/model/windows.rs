//! Window staffing and the post rules (POST-1..4).
//!
//! Pure. Presence events (sign-in, sign-out, step-away, return) say who is at each window; the phase says whether
//! the window must be staffed. A window is `staffed_a`, `covered_b`, `covered_other`, `away_reported` or `empty`
//! in the `pre_open` and `service` phases, and `closed` otherwise.
//!
//! Alert conditions, each evaluated only during `service`:
//! - POST-2 (single-person unit): nobody signed in — reported step-away or not — for at least the debounce
//!   (default 30 s) raises `empty_window`.
//! - POST-3 (multi-person unit): a reported step-away may last up to 30 minutes; strictly longer raises
//!   `step_away_overdue`. Nobody signed in and no step-away reported, for at least the debounce, raises
//!   `empty_window`.
//! - POST-4: while the A post is on leave of half a day or more and the window is not staffed for at least the
//!   debounce, raise `uncovered_leave` (in addition to the rules above).
//!
//! Durations run on the monotonic part of [`Now`]; times shown are the wall part.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hall_protocol::api::{Phase, StaffRef, WindowState, WindowView};
use hall_protocol::config::{HallConfig, UnitKind};
use hall_protocol::payload::{Presence, PresenceAction, Severity};

use super::alerts::AlertSpec;
use crate::clock::Now;

/// Rule ids of the post rules.
pub const POST_SINGLE_EMPTY: &str = "POST-2";
pub const POST_MULTI: &str = "POST-3";
pub const POST_UNCOVERED_LEAVE: &str = "POST-4";

/// Timings of the post rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostTimings {
    /// How long a window must be empty before it counts (sensor blips are shorter).
    pub empty_debounce: Duration,
    /// How long a reported step-away may last in a multi-person unit.
    pub step_away_allowed: Duration,
}

impl Default for PostTimings {
    fn default() -> Self {
        PostTimings {
            empty_debounce: Duration::from_secs(30),
            step_away_allowed: Duration::from_secs(30 * 60),
        }
    }
}

/// A leave that takes a person away from their post (POST-4, POST-5), as the model needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absence {
    pub staff_id: String,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    /// Whether the leave covers half a day or more (a whole service period), which requires B cover (POST-4).
    pub half_day_or_more: bool,
    pub substitute: Option<String>,
}

impl Absence {
    pub fn covers(&self, at: DateTime<Utc>) -> bool {
        self.start <= at && at < self.end
    }
}

#[derive(Debug, Clone)]
struct Window {
    view: WindowView,
    /// Staff id signed in at the window.
    present: Option<String>,
    /// Staff id and reason of a reported step-away.
    away: Option<(String, Option<String>)>,
    /// Monotonic time since which the window has been in its current state.
    since_mono: Duration,
}

/// All windows of the hall.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    windows: Vec<Window>,
    idx: HashMap<String, usize>,
    staff_names: HashMap<String, String>,
    phase: Option<Phase>,
    timings: PostTimings,
}

impl Windows {
    pub fn from_config(cfg: &HallConfig, timings: PostTimings) -> Self {
        let staff_names: HashMap<String, String> = cfg
            .staff
            .iter()
            .map(|s| (s.id.clone(), s.name.clone()))
            .collect();
        let staff_ref = |id: &str| StaffRef {
            id: id.to_owned(),
            name: staff_names
                .get(id)
                .cloned()
                .unwrap_or_else(|| id.to_owned()),
        };
        let windows: Vec<Window> = cfg
            .windows
            .iter()
            .map(|w| {
                let unit = cfg.units.iter().find(|u| u.id == w.unit);
                Window {
                    view: WindowView {
                        id: w.id.clone(),
                        number: w.number,
                        unit: w.unit.clone(),
                        unit_name: unit
                            .map(|u| u.name.clone())
                            .unwrap_or_else(|| w.unit.clone()),
                        unit_kind: unit.map(|u| u.kind).unwrap_or(UnitKind::Multi),
                        services: w.services.clone(),
                        state: WindowState::Closed,
                        staff: None,
                        a_post: staff_ref(&w.a_post),
                        b_post: w.b_post.as_deref().map(staff_ref),
                        since: None,
                        away_reason: None,
                        current_ticket: None,
                        served_today: 0,
                    },
                    present: None,
                    away: None,
                    since_mono: Duration::ZERO,
                }
            })
            .collect();
        let idx = windows
            .iter()
            .enumerate()
            .map(|(i, w)| (w.view.id.clone(), i))
            .collect();
        Windows {
            windows,
            idx,
            staff_names,
            phase: None,
            timings,
        }
    }

    fn staff_ref(&self, id: &str) -> StaffRef {
        StaffRef {
            id: id.to_owned(),
            name: self
                .staff_names
                .get(id)
                .cloned()
                .unwrap_or_else(|| id.to_owned()),
        }
    }

    /// The display name of a staff member (the id when unknown).
    pub fn staff_name(&self, id: &str) -> String {
        self.staff_ref(id).name
    }

    pub fn contains(&self, window_id: &str) -> bool {
        self.idx.contains_key(window_id)
    }

    /// Restores who is at a window (after a restart, from the journal) without counting it as a change.
    pub fn restore(
        &mut self,
        window_id: &str,
        present: Option<String>,
        away: Option<(String, Option<String>)>,
    ) {
        if let Some(&i) = self.idx.get(window_id) {
            self.windows[i].present = present;
            self.windows[i].away = away;
        }
    }

    /// Applies a presence event; `None` when the window is unknown, else the window if its view changed.
    pub fn on_presence(
        &mut self,
        window_id: &str,
        p: &Presence,
        phase: Phase,
        now: Now,
    ) -> Option<Option<WindowView>> {
        let i = *self.idx.get(window_id)?;
        let w = &mut self.windows[i];
        match p.action {
            PresenceAction::SignIn | PresenceAction::Return => {
                w.present = Some(p.staff_id.clone());
                w.away = None;
            }
            PresenceAction::SignOut => {
                if w.present.as_deref() == Some(p.staff_id.as_str()) {
                    w.present = None;
                }
                if w.away.as_ref().is_some_and(|(s, _)| s == &p.staff_id) {
                    w.away = None;
                }
            }
            PresenceAction::StepAway => {
                // Only the person at the window (or, at an empty window, anyone) can report stepping away from it.
                if w.present.as_deref() == Some(p.staff_id.as_str()) || w.present.is_none() {
                    w.present = None;
                    w.away = Some((p.staff_id.clone(), p.reason.clone()));
                }
            }
        }
        Some(
            self.refresh(i, phase, now)
                .then(|| self.windows[i].view.clone()),
        )
    }

    /// Recomputes a window's state; true when its view changed.
    fn refresh(&mut self, i: usize, phase: Phase, now: Now) -> bool {
        let (state, staff, reason) = {
            let w = &self.windows[i];
            let open = matches!(phase, Phase::PreOpen | Phase::Service);
            match (&w.present, &w.away) {
                _ if !open => (WindowState::Closed, w.present.clone(), None),
                (Some(s), _) if *s == w.view.a_post.id => {
                    (WindowState::StaffedA, Some(s.clone()), None)
                }
                (Some(s), _) if w.view.b_post.as_ref().is_some_and(|b| b.id == *s) => {
                    (WindowState::CoveredB, Some(s.clone()), None)
                }
                (Some(s), _) => (WindowState::CoveredOther, Some(s.clone()), None),
                (None, Some((s, reason))) => {
                    (WindowState::AwayReported, Some(s.clone()), reason.clone())
                }
                (None, None) => (WindowState::Empty, None, None),
            }
        };
        let staff = staff.map(|s| self.staff_ref(&s));
        let w = &mut self.windows[i];
        let changed =
            w.view.state != state || w.view.staff != staff || w.view.away_reason != reason;
        if w.view.state != state || w.view.since.is_none() {
            w.view.since = Some(now.wall);
            w.since_mono = now.mono;
        }
        w.view.state = state;
        w.view.staff = staff;
        w.view.away_reason = reason;
        changed
    }

    /// Re-evaluates every window when the phase changes; returns the windows whose view changed.
    pub fn on_phase(&mut self, phase: Phase, now: Now) -> Vec<WindowView> {
        if self.phase == Some(phase) {
            return Vec::new();
        }
        self.phase = Some(phase);
        let mut changed = Vec::new();
        for i in 0..self.windows.len() {
            if self.refresh(i, phase, now) {
                changed.push(self.windows[i].view.clone());
            }
        }
        changed
    }

    /// The post-rule conditions of every window at `now` (POST-2..4), as `(active, spec)` pairs.
    pub fn conditions(
        &self,
        phase: Phase,
        absences: &[Absence],
        now: Now,
    ) -> Vec<(bool, AlertSpec)> {
        let mut out = Vec::with_capacity(self.windows.len() * 2);
        for w in &self.windows {
            out.extend(window_conditions(w, phase, absences, &self.timings, now));
        }
        out
    }

    pub fn views(&self) -> Vec<WindowView> {
        self.windows.iter().map(|w| w.view.clone()).collect()
    }

    pub fn view(&self, id: &str) -> Option<&WindowView> {
        self.idx.get(id).map(|&i| &self.windows[i].view)
    }

    /// Sets the ticket being served at a window (Q-1); true when it changed.
    pub fn set_ticket(
        &mut self,
        id: &str,
        ticket: Option<String>,
        served: bool,
    ) -> Option<WindowView> {
        let &i = self.idx.get(id)?;
        let v = &mut self.windows[i].view;
        if served {
            v.served_today += 1;
        }
        v.current_ticket = ticket;
        Some(v.clone())
    }

    /// A new hall-local day (Q-1): no ticket being served, nothing served today. Returns the windows that changed.
    pub fn new_day(&mut self) -> Vec<WindowView> {
        let mut changed = Vec::new();
        for w in &mut self.windows {
            if w.view.current_ticket.is_some() || w.view.served_today > 0 {
                w.view.current_ticket = None;
                w.view.served_today = 0;
                changed.push(w.view.clone());
            }
        }
        changed
    }
}

fn window_conditions(
    w: &Window,
    phase: Phase,
    absences: &[Absence],
    timings: &PostTimings,
    now: Now,
) -> Vec<(bool, AlertSpec)> {
    let v = &w.view;
    let subject = format!("window:{}", v.id);
    let in_service = phase == Phase::Service;
    let lasted = now.mono.saturating_sub(w.since_mono);
    let label = format!("{}号窗口（{}）", v.number, v.unit_name);
    let a_absence = absences
        .iter()
        .find(|a| a.staff_id == v.a_post.id && a.half_day_or_more && a.covers(now.wall));
    let expected = match (a_absence.and_then(|a| a.substitute.clone()), &v.b_post) {
        (Some(sub), _) => format!("，应由 {sub} 顶岗"),
        (None, Some(b)) => format!("，应由B岗 {} 顶岗", b.name),
        (None, None) => String::new(),
    };
    let mut out = Vec::with_capacity(2);
    match v.unit_kind {
        UnitKind::Single => {
            let empty = matches!(v.state, WindowState::Empty | WindowState::AwayReported);
            out.push((
                in_service && empty && lasted >= timings.empty_debounce,
                AlertSpec {
                    rule: POST_SINGLE_EMPTY,
                    kind: "empty_window",
                    subject: subject.clone(),
                    severity: Severity::Critical,
                    message: format!("{label}单人窗口空岗{expected}"),
                },
            ));
        }
        UnitKind::Multi => {
            // One POST-3 alert per window: the kind says which of the two conditions holds.
            let overdue =
                v.state == WindowState::AwayReported && lasted > timings.step_away_allowed;
            let empty = v.state == WindowState::Empty && lasted >= timings.empty_debounce;
            let (kind, message) = if overdue {
                let who = v.staff.as_ref().map(|s| s.name.as_str()).unwrap_or("");
                (
                    "step_away_overdue",
                    format!(
                        "{label}{who}报备离岗超过{}分钟",
                        timings.step_away_allowed.as_secs() / 60
                    ),
                )
            } else {
                ("empty_window", format!("{label}空岗且未报备离岗{expected}"))
            };
            out.push((
                in_service && (overdue || empty),
                AlertSpec {
                    rule: POST_MULTI,
                    kind,
                    subject: subject.clone(),
                    severity: Severity::Warning,
                    message,
                },
            ));
        }
    }
    let unstaffed = matches!(v.state, WindowState::Empty | WindowState::AwayReported);
    out.push((
        in_service && a_absence.is_some() && unstaffed && lasted >= timings.empty_debounce,
        AlertSpec {
            rule: POST_UNCOVERED_LEAVE,
            kind: "uncovered_leave",
            subject,
            severity: Severity::Critical,
            message: format!(
                "{label}A岗 {} 请假半天以上，窗口无人顶岗{expected}",
                v.a_post.name
            ),
        },
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use hall_protocol::payload::PresenceSource;

    fn cfg(kind: &str) -> HallConfig {
        let text = format!(
            r#"{{"hall":{{"id":"h"}},
            "units":[{{"id":"u","name":"社保科","kind":"{kind}"}}],
            "staff":[{{"id":"a","name":"张三","unit":"u"}},{{"id":"b","name":"李四","unit":"u"}},{{"id":"c","name":"王五","unit":"u"}}],
            "windows":[{{"id":"w1","number":1,"unit":"u","a_post":"a","b_post":"b"}}]}}"#
        );
        serde_json::from_str(&text).unwrap()
    }

    fn t(secs: u64) -> Now {
        Now {
            mono: Duration::ZERO,
            wall: "2026-12-03T01:00:00Z".parse().unwrap(),
        }
        .after(Duration::from_secs(secs))
    }

    fn presence(action: PresenceAction, staff: &str) -> Presence {
        Presence {
            v: 1,
            action,
            staff_id: staff.into(),
            reason: Some("取材料".into()),
            source: PresenceSource::Badge,
            at: t(0).wall.fixed_offset(),
        }
    }

    /// Applies a presence event at window w1 during service, `secs` into the test.
    fn at(ws: &mut Windows, action: PresenceAction, staff: &str, secs: u64) {
        ws.on_presence("w1", &presence(action, staff), Phase::Service, t(secs));
    }

    fn active(ws: &Windows, absences: &[Absence], now: Now) -> Vec<(&'static str, &'static str)> {
        ws.conditions(Phase::Service, absences, now)
            .into_iter()
            .filter(|(a, _)| *a)
            .map(|(_, s)| (s.rule, s.kind))
            .collect()
    }

    fn windows(kind: &str) -> Windows {
        let mut ws = Windows::from_config(&cfg(kind), PostTimings::default());
        ws.on_phase(Phase::Service, t(0));
        ws
    }

    #[test]
    fn post1_states_follow_who_is_signed_in() {
        let mut ws = windows("multi");
        let state = |ws: &Windows| ws.view("w1").unwrap().state;
        assert_eq!(state(&ws), WindowState::Empty);
        at(&mut ws, PresenceAction::SignIn, "a", 1);
        assert_eq!(state(&ws), WindowState::StaffedA);
        at(&mut ws, PresenceAction::SignIn, "b", 2);
        assert_eq!(state(&ws), WindowState::CoveredB);
        assert_eq!(ws.view("w1").unwrap().staff.as_ref().unwrap().name, "李四");
        at(&mut ws, PresenceAction::SignIn, "c", 3);
        assert_eq!(state(&ws), WindowState::CoveredOther);
        at(&mut ws, PresenceAction::StepAway, "c", 4);
        assert_eq!(state(&ws), WindowState::AwayReported);
        assert_eq!(
            ws.view("w1").unwrap().away_reason.as_deref(),
            Some("取材料")
        );
        at(&mut ws, PresenceAction::Return, "c", 5);
        assert_eq!(state(&ws), WindowState::CoveredOther);
        at(&mut ws, PresenceAction::SignOut, "c", 6);
        assert_eq!(state(&ws), WindowState::Empty);
        ws.on_phase(Phase::Closed, t(7));
        assert_eq!(state(&ws), WindowState::Closed);
        assert!(
            ws.on_presence(
                "nope",
                &presence(PresenceAction::SignIn, "a"),
                Phase::Service,
                t(8)
            )
            .is_none()
        );
    }

    #[test]
    fn post2_single_person_window_empty_after_the_debounce_even_if_reported() {
        let mut ws = windows("single");
        at(&mut ws, PresenceAction::SignIn, "a", 0);
        at(&mut ws, PresenceAction::StepAway, "a", 100);
        assert_eq!(active(&ws, &[], t(129)), vec![]);
        assert_eq!(active(&ws, &[], t(130)), vec![("POST-2", "empty_window")]);
        // A blip shorter than the debounce raises nothing.
        at(&mut ws, PresenceAction::Return, "a", 131);
        at(&mut ws, PresenceAction::SignOut, "a", 200);
        at(&mut ws, PresenceAction::SignIn, "b", 229);
        assert_eq!(active(&ws, &[], t(240)), vec![]);
        // Not in lunch.
        at(&mut ws, PresenceAction::SignOut, "b", 300);
        let lunch: Vec<_> = ws
            .conditions(Phase::Lunch, &[], t(400))
            .into_iter()
            .filter(|(a, _)| *a)
            .collect();
        assert!(lunch.is_empty());
    }

    #[test]
    fn post3_reported_step_away_allowed_up_to_30_minutes_inclusive() {
        let mut ws = windows("multi");
        at(&mut ws, PresenceAction::SignIn, "a", 0);
        at(&mut ws, PresenceAction::StepAway, "a", 10);
        assert_eq!(active(&ws, &[], t(10 + 60)), vec![]);
        assert_eq!(
            active(&ws, &[], t(10 + 30 * 60)),
            vec![],
            "exactly 30 min is still allowed"
        );
        assert_eq!(
            active(&ws, &[], t(10 + 30 * 60 + 1)),
            vec![("POST-3", "step_away_overdue")]
        );
    }

    #[test]
    fn post3_unreported_empty_after_the_debounce() {
        let mut ws = windows("multi");
        at(&mut ws, PresenceAction::SignIn, "a", 0);
        at(&mut ws, PresenceAction::SignOut, "a", 10);
        assert_eq!(active(&ws, &[], t(39)), vec![]);
        assert_eq!(active(&ws, &[], t(40)), vec![("POST-3", "empty_window")]);
    }

    #[test]
    fn post4_a_post_on_half_day_leave_needs_cover() {
        let mut ws = windows("multi");
        let leave = |half_day| Absence {
            staff_id: "a".into(),
            start: t(0).wall,
            end: t(4 * 3600).wall,
            half_day_or_more: half_day,
            substitute: Some("李四".into()),
        };
        // Period starts with nobody there while A is on half-day leave.
        assert_eq!(
            active(&ws, &[leave(true)], t(30)),
            vec![("POST-3", "empty_window"), ("POST-4", "uncovered_leave")]
        );
        // Shorter leave: only the empty-window rule.
        assert_eq!(
            active(&ws, &[leave(false)], t(30)),
            vec![("POST-3", "empty_window")]
        );
        // B covers: nothing.
        at(&mut ws, PresenceAction::SignIn, "b", 31);
        assert_eq!(active(&ws, &[leave(true)], t(100)), vec![]);
        assert_eq!(ws.view("w1").unwrap().state, WindowState::CoveredB);
        // After the leave ends, an empty window is only POST-3 again.
        at(&mut ws, PresenceAction::SignOut, "b", 4 * 3600);
        assert_eq!(
            active(&ws, &[leave(true)], t(4 * 3600 + 30)),
            vec![("POST-3", "empty_window")]
        );
    }
}
