//! The simulated queue and rating pads (RAT-1): tickets arrive by the hour of day per service type (a
//! morning peak around 09:00–10:30, a smaller one around 15:00–16:30), staffed windows call the oldest waiting
//! ticket of their services, serve it for 3–15 minutes and the citizen rates the service. Pure: time and the
//! windows' staffing come in, [`Action`]s go out.
//!
//! - Tickets are numbered `{ticket_prefix}{NNN}` per service, from 001 each day.
//! - Dispensers stop issuing 20 minutes before each period ends; tickets still waiting at lunch are called in
//!   the afternoon; tickets still waiting when the day ends become no-shows without a window.
//! - About 5% of calls are no-shows (`called`, then `no_show` two minutes later) and about 3% are called twice
//!   (a re-call one minute later) before being served.
//! - After `served`, the window's rating pad sends a rating about 90% of the time (never while the pad is off),
//!   with shares of about 70/20/6/3/1% from 非常满意 down to 非常不满意.

use std::collections::VecDeque;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Timelike};
use hall_protocol::SCHEMA_VERSION;
use hall_protocol::config::HallConfig;
use hall_protocol::payload::{RatingEvent, RatingLevel, TicketAction, TicketEvent};
use rand::Rng;
use rand::rngs::StdRng;

use super::calendar::WorkingDay;
use super::script::Action;

type Time = DateTime<FixedOffset>;

/// Tickets per hour one window is sized for, before the hour-of-day profile.
const TICKETS_PER_WINDOW_HOUR: f64 = 5.0;
/// Dispensers stop issuing this long before a period ends.
const ISSUE_CUTOFF: TimeDelta = TimeDelta::minutes(20);
const NO_SHOW_SHARE: f64 = 0.05;
const RECALL_SHARE: f64 = 0.03;
const MISSED_RATING_SHARE: f64 = 0.10;
/// Shares of the five levels, best first.
pub const RATING_SHARES: [(RatingLevel, f64); 5] = [
    (RatingLevel::VerySatisfied, 0.70),
    (RatingLevel::Satisfied, 0.20),
    (RatingLevel::Basic, 0.06),
    (RatingLevel::Dissatisfied, 0.03),
    (RatingLevel::VeryDissatisfied, 0.01),
];

/// The share of tickets relative to the day's average, by hall-local time of day.
pub fn hour_profile(t: Time) -> f64 {
    let minute = t.hour() * 60 + t.minute();
    match minute {
        m if m < 9 * 60 => 0.7,
        m if m < 10 * 60 + 30 => 1.3,
        m if m < 12 * 60 => 0.8,
        m if m < 15 * 60 => 0.55,
        m if m < 16 * 60 + 30 => 0.85,
        _ => 0.45,
    }
}

#[derive(Debug, Clone)]
struct Service {
    id: String,
    prefix: String,
    /// Average tickets per hour, before the profile.
    rate_per_hour: f64,
    waiting: VecDeque<(String, Time)>,
    issued_today: u32,
    next_arrival: Option<Time>,
}

#[derive(Debug, Clone, PartialEq)]
enum Desk {
    Idle,
    /// Called; the citizen does not come and the ticket is dropped at `at`.
    NoShow {
        ticket: String,
        service: usize,
        at: Time,
    },
    /// Called; called again at `at`, then served.
    Recall {
        ticket: String,
        service: usize,
        staff: String,
        at: Time,
    },
    Serving {
        ticket: String,
        service: usize,
        staff: String,
        until: Time,
    },
}

/// The queue of the whole hall.
pub struct QueueSim {
    services: Vec<Service>,
    /// Per window: the services it handles (indexes into `services`).
    window_services: Vec<Vec<usize>>,
    desks: Vec<Desk>,
    window_ids: Vec<String>,
    date: Option<NaiveDate>,
}

impl QueueSim {
    pub fn new(hall: &HallConfig) -> QueueSim {
        let mut services: Vec<Service> = hall
            .services
            .iter()
            .map(|s| Service {
                id: s.id.clone(),
                prefix: s.ticket_prefix.clone(),
                rate_per_hour: 0.0,
                waiting: VecDeque::new(),
                issued_today: 0,
                next_arrival: None,
            })
            .collect();
        let window_services: Vec<Vec<usize>> = hall
            .windows
            .iter()
            .map(|w| {
                w.services
                    .iter()
                    .filter_map(|id| services.iter().position(|s| &s.id == id))
                    .collect()
            })
            .collect();
        for handled in &window_services {
            for &s in handled {
                services[s].rate_per_hour += TICKETS_PER_WINDOW_HOUR / handled.len() as f64;
            }
        }
        QueueSim {
            services,
            window_services,
            desks: vec![Desk::Idle; hall.windows.len()],
            window_ids: hall.windows.iter().map(|w| w.id.clone()).collect(),
            date: None,
        }
    }

    /// Tickets waiting now, per service id.
    pub fn waiting(&self) -> Vec<(&str, usize)> {
        self.services
            .iter()
            .map(|s| (s.id.as_str(), s.waiting.len()))
            .collect()
    }

    /// Plays the queue up to `now`. `day` is the working day `now` belongs to (or the next one); `staff_at[w]` is
    /// who can call at window `w` now (signed in and not stepped away); `pad_up[w]` whether its rating pad is on.
    pub fn step(
        &mut self,
        now: Time,
        day: Option<&WorkingDay>,
        staff_at: &[Option<String>],
        pad_up: &[bool],
        rng: &mut StdRng,
        actions: &mut Vec<Action>,
    ) {
        let date = day.map(|d| d.date);
        if self.date != date {
            self.new_day(now, actions);
            self.date = date;
        }
        let Some(day) = day else {
            return;
        };
        let in_service = day.in_service(now);
        let issuing = day
            .periods
            .iter()
            .any(|p| p.start <= now && now < p.end - ISSUE_CUTOFF);

        // Arrivals.
        for s in 0..self.services.len() {
            if !issuing || self.services[s].rate_per_hour <= 0.0 {
                self.services[s].next_arrival = None;
                continue;
            }
            if self.services[s].next_arrival.is_none() {
                let gap = self.inter_arrival(s, now, rng);
                self.services[s].next_arrival = Some(now + gap);
            }
            while let Some(at) = self.services[s].next_arrival
                && at <= now
            {
                let svc = &mut self.services[s];
                svc.issued_today += 1;
                let ticket = format!("{}{:03}", svc.prefix, svc.issued_today);
                svc.waiting.push_back((ticket.clone(), now));
                actions.push(Action::Ticket {
                    event: ticket_event(TicketAction::Issued, &ticket, &svc.id, None, now),
                });
                let gap = self.inter_arrival(s, now, rng);
                self.services[s].next_arrival = Some(at + gap);
            }
        }

        // Desks.
        for w in 0..self.desks.len() {
            match self.desks[w].clone() {
                Desk::Serving {
                    ticket,
                    service,
                    staff,
                    until,
                } if now >= until => {
                    actions.push(Action::Ticket {
                        event: ticket_event(
                            TicketAction::Served,
                            &ticket,
                            &self.services[service].id,
                            Some(self.window_ids[w].clone()),
                            now,
                        ),
                    });
                    self.desks[w] = Desk::Idle;
                    if pad_up.get(w).copied().unwrap_or(false)
                        && !rng.random_bool(MISSED_RATING_SHARE)
                    {
                        let level = rating_level(rng.random());
                        actions.push(Action::Rating {
                            window: w,
                            event: RatingEvent {
                                v: SCHEMA_VERSION,
                                level,
                                ticket: Some(ticket),
                                staff_id: Some(staff),
                                at: now,
                            },
                        });
                    }
                }
                Desk::NoShow {
                    ticket,
                    service,
                    at,
                } if now >= at => {
                    actions.push(Action::Ticket {
                        event: ticket_event(
                            TicketAction::NoShow,
                            &ticket,
                            &self.services[service].id,
                            Some(self.window_ids[w].clone()),
                            now,
                        ),
                    });
                    self.desks[w] = Desk::Idle;
                }
                Desk::Recall {
                    ticket,
                    service,
                    staff,
                    at,
                } if now >= at => {
                    actions.push(Action::Ticket {
                        event: ticket_event(
                            TicketAction::Called,
                            &ticket,
                            &self.services[service].id,
                            Some(self.window_ids[w].clone()),
                            now,
                        ),
                    });
                    let until = now + service_time(rng);
                    self.desks[w] = Desk::Serving {
                        ticket,
                        service,
                        staff,
                        until,
                    };
                }
                _ => {}
            }
            if self.desks[w] != Desk::Idle || !in_service {
                continue;
            }
            let Some(staff) = staff_at.get(w).cloned().flatten() else {
                continue;
            };
            // The oldest waiting ticket among the window's services.
            let Some(s) = self.window_services[w]
                .iter()
                .copied()
                .filter(|&s| !self.services[s].waiting.is_empty())
                .min_by_key(|&s| self.services[s].waiting.front().map(|(_, t)| *t))
            else {
                continue;
            };
            let Some((ticket, _)) = self.services[s].waiting.pop_front() else {
                continue;
            };
            actions.push(Action::Ticket {
                event: ticket_event(
                    TicketAction::Called,
                    &ticket,
                    &self.services[s].id,
                    Some(self.window_ids[w].clone()),
                    now,
                ),
            });
            let roll: f64 = rng.random();
            self.desks[w] = if roll < NO_SHOW_SHARE {
                Desk::NoShow {
                    ticket,
                    service: s,
                    at: now + TimeDelta::minutes(2),
                }
            } else if roll < NO_SHOW_SHARE + RECALL_SHARE {
                Desk::Recall {
                    ticket,
                    service: s,
                    staff,
                    at: now + TimeDelta::minutes(1),
                }
            } else {
                Desk::Serving {
                    ticket,
                    service: s,
                    staff,
                    until: now + service_time(rng),
                }
            };
        }
    }

    /// A new day: tickets nobody was called for become no-shows, numbering restarts.
    fn new_day(&mut self, now: Time, actions: &mut Vec<Action>) {
        for svc in &mut self.services {
            for (ticket, _) in svc.waiting.drain(..) {
                actions.push(Action::Ticket {
                    event: ticket_event(TicketAction::NoShow, &ticket, &svc.id, None, now),
                });
            }
            svc.issued_today = 0;
            svc.next_arrival = None;
        }
    }

    fn inter_arrival(&self, s: usize, now: Time, rng: &mut StdRng) -> TimeDelta {
        let per_hour = self.services[s].rate_per_hour * hour_profile(now);
        let u: f64 = rng.random_range(1e-9..1.0);
        let hours = -u.ln() / per_hour;
        TimeDelta::milliseconds((hours * 3_600_000.0).round() as i64).max(TimeDelta::seconds(1))
    }
}

/// 3 to 15 minutes, most of them short.
fn service_time(rng: &mut StdRng) -> TimeDelta {
    let u: f64 = rng.random();
    TimeDelta::seconds((180.0 + 720.0 * u.powf(1.6)).round() as i64)
}

/// The level for a uniform draw `u` in `[0, 1)`.
pub fn rating_level(u: f64) -> RatingLevel {
    let mut acc = 0.0;
    for (level, share) in RATING_SHARES {
        acc += share;
        if u < acc {
            return level;
        }
    }
    RatingLevel::VeryDissatisfied
}

fn ticket_event(
    action: TicketAction,
    ticket: &str,
    service: &str,
    window_id: Option<String>,
    at: Time,
) -> TicketEvent {
    TicketEvent {
        v: SCHEMA_VERSION,
        action,
        ticket: ticket.to_owned(),
        service: service.to_owned(),
        window_id,
        at,
    }
}
