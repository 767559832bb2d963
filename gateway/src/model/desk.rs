//! How the hall applies ticket and rating events and evaluates the queue and rating rules (Q-1..3, RAT-1..3).
//!
//! The KPIs themselves live in [`super::queues`] and [`super::ratings`]; this module connects them to the rest of
//! the hall: windows (the ticket being served, services today), devices (a rating pad offline is a RAT-3 coverage
//! gap), the phase, and the alert book. Pure, like the rest of the model.
//!
//! depend on time passing (waits grow), so they are evaluated in [`Hall::tick`] — at most once per
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
    /// A ticket event.
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

    /// Queue KPIs of every service type, `GET /api/v1/queues`.
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
