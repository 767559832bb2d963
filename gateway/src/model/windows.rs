//! Window staffing (POST-1): who is signed in at each window, and the window's state.
//!
//! Pure. Presence events (sign-in, sign-out, step-away, return) move a window between `staffed_a`, `covered_b`,
//! `covered_other`, `away_reported` and `empty`; outside the `pre_open` and `service` phases a window is `closed`.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use hall_protocol::api::{Phase, StaffRef, WindowState, WindowView};
use hall_protocol::config::{HallConfig, UnitKind};
use hall_protocol::payload::{Presence, PresenceAction};

use crate::clock::Now;

#[derive(Debug, Clone)]
struct Window {
    view: WindowView,
    /// Staff id signed in at the window.
    present: Option<String>,
    /// Staff id and reason of a reported step-away.
    away: Option<(String, Option<String>)>,
}

/// All windows of the hall.
#[derive(Debug, Clone, Default)]
pub struct Windows {
    windows: Vec<Window>,
    idx: HashMap<String, usize>,
    staff_names: HashMap<String, String>,
    phase: Option<Phase>,
}

impl Windows {
    pub fn from_config(cfg: &HallConfig) -> Self {
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

    /// Applies a presence event; `None` when the window is unknown.
    pub fn on_presence(
        &mut self,
        window_id: &str,
        p: &Presence,
        phase: Phase,
        now: Now,
    ) -> Option<WindowView> {
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
                if w.present.as_deref() == Some(p.staff_id.as_str()) || w.present.is_none() {
                    w.present = None;
                    w.away = Some((p.staff_id.clone(), p.reason.clone()));
                }
            }
        }
        self.refresh(i, phase, now);
        Some(self.windows[i].view.clone())
    }

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
        let changed = w.view.state != state || w.view.staff != staff;
        if w.view.state != state || w.view.since.is_none() {
            w.view.since = Some(now.wall);
        }
        w.view.state = state;
        w.view.staff = staff;
        w.view.away_reason = reason;
        changed
    }

    /// Re-evaluates every window when the phase changes; returns the windows that changed.
    pub fn tick(&mut self, phase: Phase, now: Now) -> Vec<WindowView> {
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

    pub fn views(&self, _now: Now) -> Vec<WindowView> {
        self.windows.iter().map(|w| w.view.clone()).collect()
    }

    pub fn since(&self, id: &str) -> Option<DateTime<Utc>> {
        self.idx.get(id).and_then(|&i| self.windows[i].view.since)
    }
}
