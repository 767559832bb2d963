//! Queue KPIs per service type and per window (Q-1), and the queue alert conditions (Q-2, Q-3).
//!
//! Pure: no IO and no clock; every function takes the time it should reason about.
//!
//! Choices where the rules are silent:
//! - **Time base.** Durations run on the gateway's receive time (`now.wall`), not on the event's own `at`: a
//!   dispenser's clock may be wrong, and the hall's other durations (POST, DEV) are gateway-timed too. Replay sets
//!   the clock to the recorded receive times, so live and replayed KPIs agree.
//! - **Ticket lifecycle.** A ticket moves forward only: waiting → called → done (served or no-show). An event that
//!   would move it backwards, or repeats where it already is, changes nothing, so duplicates and most reorderings
//!   are harmless. A `called` or `served` for a ticket never seen issued still counts (served today, the window's
//!   ticket) but has no wait to measure.
//! - **Re-calls.** The wait ends at the first call. A second call to another window moves the ticket there; a
//!   second call to the same window changes nothing. Service time runs from the call at the window that served
//!   it, the same "since" the window shows.
//! - **No-shows.** A no-show ends the ticket; if it had been called its wait still counts in the average wait (the
//!   hall did call it), but it has no service time.
//! - **Lunch break.** Waits and service times are wall time: a ticket called at 11:50 and served at 14:35 has a
//!   service time of 2 h 45 min, and a ticket still waiting over lunch keeps its wait growing. That is what the
//!   citizen experienced; Q-2 is only evaluated during `service`, so the growing wait alerts only once the
//!   afternoon period starts.
//! - **Averages** cover the last hour: waits of tickets first called in the last hour, service times of tickets
//!   served in the last hour.
//! - **Day rollover.** At hall-local midnight every ticket and every "today" counter is dropped: ticket numbers
//!   restart each day, and the hall is closed at midnight.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use hall_protocol::api::{QueueView, WindowState, WindowView};
use hall_protocol::config::HallConfig;
use hall_protocol::payload::{Severity, TicketAction, TicketEvent};

use super::alerts::AlertSpec;

/// Rule id of the service-level alert.
pub const Q_SERVICE_LEVEL: &str = "Q-2";
/// Rule id of the empty-window-with-queue escalation.
pub const Q_EMPTY_WINDOW: &str = "Q-3";
/// Default of `max_waiting_per_window` (Q-2).
pub const DEFAULT_MAX_WAITING_PER_WINDOW: u32 = 15;

/// The span of the sliding averages.
fn kpi_span() -> TimeDelta {
    TimeDelta::hours(1)
}

/// A ticket event referred to a service type that is not in the hall config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownService(pub String);

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Stage {
    Waiting,
    Called,
    Done,
}

#[derive(Debug, Clone)]
struct Ticket {
    stage: Stage,
    issued_at: Option<DateTime<Utc>>,
    /// The latest call, at the window the ticket is at now.
    called_at: Option<DateTime<Utc>>,
    window: Option<String>,
}

#[derive(Debug, Clone)]
struct ServiceQueue {
    id: String,
    name: String,
    service_level: TimeDelta,
    service_level_mins: u32,
    max_waiting_per_window: u32,
    tickets: HashMap<String, Ticket>,
    /// Waiting tickets by issue time, oldest first.
    waiting: BTreeSet<(DateTime<Utc>, String)>,
    /// (first call, wait) of recently called tickets.
    waits: VecDeque<(DateTime<Utc>, TimeDelta)>,
    /// (served, service time) of recently served tickets.
    service_times: VecDeque<(DateTime<Utc>, TimeDelta)>,
    served_today: u32,
    no_shows_today: u32,
}

/// The ticket a window is serving, and since when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowTicket {
    pub ticket: String,
    pub service: String,
    pub since: DateTime<Utc>,
}

/// What a ticket event changed at a window: its current ticket, and whether it completed a service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowUpdate {
    pub window_id: String,
    pub ticket: Option<String>,
    pub served: bool,
}

/// What applying a ticket event changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TicketOutcome {
    /// Whether the service type's KPIs changed.
    pub changed: bool,
    pub windows: Vec<WindowUpdate>,
}

/// Queue KPIs of every service type and window of the hall.
#[derive(Debug, Clone, Default)]
pub struct Queues {
    services: Vec<ServiceQueue>,
    idx: HashMap<String, usize>,
    at_window: HashMap<String, WindowTicket>,
    window_served: BTreeMap<String, u32>,
    day: Option<NaiveDate>,
}

impl Queues {
    pub fn from_config(cfg: &HallConfig) -> Self {
        let services: Vec<ServiceQueue> = cfg
            .services
            .iter()
            .map(|s| ServiceQueue {
                id: s.id.clone(),
                name: s.name.clone(),
                service_level: TimeDelta::minutes(i64::from(s.service_level_mins)),
                service_level_mins: s.service_level_mins,
                max_waiting_per_window: s
                    .max_waiting_per_window
                    .unwrap_or(DEFAULT_MAX_WAITING_PER_WINDOW),
                tickets: HashMap::new(),
                waiting: BTreeSet::new(),
                waits: VecDeque::new(),
                service_times: VecDeque::new(),
                served_today: 0,
                no_shows_today: 0,
            })
            .collect();
        let idx = services
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.clone(), i))
            .collect();
        Queues {
            services,
            idx,
            ..Default::default()
        }
    }

    /// Moves to the hall-local `date`; on a new day drops every ticket and "today" counter. True when it did.
    /// The first call only records the date.
    pub fn roll_to(&mut self, date: NaiveDate) -> bool {
        let rolled = self.day.is_some_and(|d| d != date);
        self.day = Some(date);
        if rolled {
            for s in &mut self.services {
                s.tickets.clear();
                s.waiting.clear();
                s.served_today = 0;
                s.no_shows_today = 0;
            }
            self.at_window.clear();
            self.window_served.clear();
        }
        rolled
    }

    /// Applies a ticket event received at `now` (Q-1). The caller has checked that its window exists.
    pub fn apply(
        &mut self,
        ev: &TicketEvent,
        now: DateTime<Utc>,
    ) -> Result<TicketOutcome, UnknownService> {
        let &i = self
            .idx
            .get(&ev.service)
            .ok_or_else(|| UnknownService(ev.service.clone()))?;
        let mut out = TicketOutcome::default();
        let s = &mut self.services[i];
        let known = s.tickets.get(&ev.ticket).cloned();
        let stage = known.as_ref().map(|t| t.stage);
        match ev.action {
            TicketAction::Issued => {
                if stage.is_some() {
                    return Ok(out);
                }
                s.tickets.insert(
                    ev.ticket.clone(),
                    Ticket {
                        stage: Stage::Waiting,
                        issued_at: Some(now),
                        called_at: None,
                        window: None,
                    },
                );
                s.waiting.insert((now, ev.ticket.clone()));
                out.changed = true;
            }
            TicketAction::Called => {
                let mut t = match known {
                    Some(t) if t.stage == Stage::Done => return Ok(out),
                    Some(t) if t.stage == Stage::Called && t.window == ev.window_id => {
                        return Ok(out);
                    }
                    Some(t) => t,
                    None => Ticket {
                        stage: Stage::Waiting,
                        issued_at: None,
                        called_at: None,
                        window: None,
                    },
                };
                if t.stage == Stage::Waiting {
                    // The first call ends the wait.
                    if let Some(issued) = t.issued_at {
                        s.waiting.remove(&(issued, ev.ticket.clone()));
                        s.waits.push_back((now, now - issued));
                    }
                    t.stage = Stage::Called;
                }
                if let Some(old) = t.window.take() {
                    if self
                        .at_window
                        .get(&old)
                        .is_some_and(|w| w.ticket == ev.ticket && w.service == ev.service)
                    {
                        self.at_window.remove(&old);
                        out.windows.push(WindowUpdate {
                            window_id: old,
                            ticket: None,
                            served: false,
                        });
                    }
                }
                t.called_at = Some(now);
                t.window = ev.window_id.clone();
                if let Some(w) = &ev.window_id {
                    self.at_window.insert(
                        w.clone(),
                        WindowTicket {
                            ticket: ev.ticket.clone(),
                            service: ev.service.clone(),
                            since: now,
                        },
                    );
                    out.windows.push(WindowUpdate {
                        window_id: w.clone(),
                        ticket: Some(ev.ticket.clone()),
                        served: false,
                    });
                }
                s.tickets.insert(ev.ticket.clone(), t);
                out.changed = true;
            }
            TicketAction::Served | TicketAction::NoShow => {
                if stage == Some(Stage::Done) {
                    return Ok(out);
                }
                let served = ev.action == TicketAction::Served;
                let t = known.unwrap_or(Ticket {
                    stage: Stage::Waiting,
                    issued_at: None,
                    called_at: None,
                    window: None,
                });
                if t.stage == Stage::Waiting {
                    if let Some(issued) = t.issued_at {
                        s.waiting.remove(&(issued, ev.ticket.clone()));
                    }
                }
                if served {
                    s.served_today += 1;
                    if let Some(called) = t.called_at {
                        s.service_times.push_back((now, now - called));
                    }
                } else {
                    s.no_shows_today += 1;
                }
                // The window where it ended: the event's, else the one it was called to.
                let window = ev.window_id.clone().or(t.window.clone());
                if let Some(w) = window {
                    let current = self
                        .at_window
                        .get(&w)
                        .is_some_and(|x| x.ticket == ev.ticket && x.service == ev.service);
                    if current {
                        self.at_window.remove(&w);
                    }
                    if served {
                        *self.window_served.entry(w.clone()).or_default() += 1;
                    }
                    if current || served {
                        // A window that has already called its next ticket keeps it.
                        let ticket = self.at_window.get(&w).map(|x| x.ticket.clone());
                        out.windows.push(WindowUpdate {
                            window_id: w,
                            ticket,
                            served,
                        });
                    }
                }
                s.tickets.insert(
                    ev.ticket.clone(),
                    Ticket {
                        stage: Stage::Done,
                        ..t
                    },
                );
                out.changed = true;
            }
        }
        Ok(out)
    }

    /// The ticket a window is serving, and since when.
    pub fn at_window(&self, window_id: &str) -> Option<&WindowTicket> {
        self.at_window.get(window_id)
    }

    /// Services completed at a window today.
    pub fn served_at(&self, window_id: &str) -> u32 {
        self.window_served.get(window_id).copied().unwrap_or(0)
    }

    /// Services completed in the hall today.
    pub fn served_today(&self) -> u32 {
        self.services.iter().map(|s| s.served_today).sum()
    }

    /// People waiting per service type.
    pub fn waiting(&self) -> HashMap<&str, u32> {
        self.services
            .iter()
            .map(|s| (s.id.as_str(), s.waiting.len() as u32))
            .collect()
    }

    /// Drops samples older than the averages' span.
    pub fn prune(&mut self, now: DateTime<Utc>) {
        let cutoff = now - kpi_span();
        for s in &mut self.services {
            while s.waits.front().is_some_and(|(at, _)| *at < cutoff) {
                s.waits.pop_front();
            }
            while s.service_times.front().is_some_and(|(at, _)| *at < cutoff) {
                s.service_times.pop_front();
            }
        }
    }

    /// The KPIs of every service type at `now`. `open_windows` counts the staffed windows per service type;
    /// `in_service` says whether Q-2 applies now (it sets `over_service_level`).
    pub fn views(
        &self,
        now: DateTime<Utc>,
        open_windows: &HashMap<String, u32>,
        in_service: bool,
    ) -> Vec<QueueView> {
        self.services
            .iter()
            .map(|s| {
                s.view(
                    now,
                    open_windows.get(&s.id).copied().unwrap_or(0),
                    in_service,
                )
            })
            .collect()
    }
}

impl ServiceQueue {
    fn longest_wait(&self, now: DateTime<Utc>) -> TimeDelta {
        self.waiting
            .first()
            .map(|(issued, _)| (now - *issued).max(TimeDelta::zero()))
            .unwrap_or_default()
    }

    fn view(&self, now: DateTime<Utc>, open_windows: u32, in_service: bool) -> QueueView {
        let waiting = self.waiting.len() as u32;
        let longest = self.longest_wait(now);
        // Q-2: "超过" — strictly over the service level, strictly over the allowed count.
        let over = longest > self.service_level
            || u64::from(waiting)
                > u64::from(self.max_waiting_per_window) * u64::from(open_windows);
        QueueView {
            service: self.id.clone(),
            name: self.name.clone(),
            waiting,
            longest_wait_secs: longest.num_seconds().max(0) as u64,
            avg_wait_secs_1h: average_secs(&self.waits, now),
            avg_service_secs_1h: average_secs(&self.service_times, now),
            served_today: self.served_today,
            no_shows_today: self.no_shows_today,
            open_windows,
            over_service_level: in_service && over,
            service_level_mins: self.service_level_mins,
        }
    }
}

/// Mean of the samples of the last hour, rounded to the nearest second.
fn average_secs(samples: &VecDeque<(DateTime<Utc>, TimeDelta)>, now: DateTime<Utc>) -> Option<u64> {
    let cutoff = now - kpi_span();
    let (n, total) = samples
        .iter()
        .filter(|(at, _)| *at >= cutoff)
        .fold((0i64, 0i64), |(n, total), (_, d)| {
            (n + 1, total + d.num_seconds().max(0))
        });
    (n > 0).then(|| ((total + n / 2) / n) as u64)
}

/// Staffed windows per service type; a window counts as open only while someone serves at it during `service`.
pub fn open_windows(windows: &[WindowView], in_service: bool) -> HashMap<String, u32> {
    let mut out = HashMap::new();
    if !in_service {
        return out;
    }
    for w in windows {
        if matches!(
            w.state,
            WindowState::StaffedA | WindowState::CoveredB | WindowState::CoveredOther
        ) {
            for s in &w.services {
                *out.entry(s.clone()).or_insert(0) += 1;
            }
        }
    }
    out
}

/// Q-2 conditions of every service type, from views made with `in_service` set as it is now.
pub fn service_level_conditions(views: &[QueueView]) -> Vec<(bool, AlertSpec)> {
    views
        .iter()
        .map(|v| {
            (
                v.over_service_level,
                AlertSpec {
                    rule: Q_SERVICE_LEVEL,
                    kind: "queue_over_service_level",
                    subject: format!("service:{}", v.service),
                    severity: Severity::Warning,
                    message: format!(
                        "{}排队超标：{}人等候，开放窗口{}个，最长已等{}分钟（服务标准{}分钟）",
                        v.name,
                        v.waiting,
                        v.open_windows,
                        v.longest_wait_secs / 60,
                        v.service_level_mins
                    ),
                },
            )
        })
        .collect()
}

/// Q-3 conditions of every window: `empty(window_id)` says whether its POST-2/POST-3 alert is open; the window
/// escalates to critical while any of its service types has people waiting, during `service`.
pub fn empty_window_conditions(
    windows: &[WindowView],
    views: &[QueueView],
    empty: impl Fn(&str) -> bool,
    in_service: bool,
) -> Vec<(bool, AlertSpec)> {
    windows
        .iter()
        .map(|w| {
            let waiting: Vec<&QueueView> = views
                .iter()
                .filter(|q| q.waiting > 0 && w.services.contains(&q.service))
                .collect();
            let n: u32 = waiting.iter().map(|q| q.waiting).sum();
            let names: Vec<&str> = waiting.iter().map(|q| q.name.as_str()).collect();
            (
                in_service && n > 0 && empty(&w.id),
                AlertSpec {
                    rule: Q_EMPTY_WINDOW,
                    kind: "empty_window_with_queue",
                    subject: format!("window:{}", w.id),
                    severity: Severity::Critical,
                    message: format!(
                        "{}号窗口（{}）空岗，{}有{}人等候",
                        w.number,
                        w.unit_name,
                        names.join("、"),
                        n
                    ),
                },
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{FixedOffset, NaiveTime};

    const CONFIG: &str = r#"
[hall]
id = "h"

[[services]]
id = "sb"
name = "社保业务"

[[services]]
id = "yb"
name = "医保业务"
service_level_mins = 20
max_waiting_per_window = 2
"#;

    fn queues() -> Queues {
        let cfg: HallConfig = toml::from_str(CONFIG).unwrap();
        let mut q = Queues::from_config(&cfg);
        q.roll_to(day(3));
        q
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).unwrap()
    }

    /// Hall-local (UTC+8) time on 2026-12-03.
    fn t(hms: &str) -> DateTime<Utc> {
        day(3)
            .and_time(NaiveTime::parse_from_str(hms, "%H:%M:%S").unwrap())
            .and_utc()
            - TimeDelta::hours(8)
    }

    fn ev(action: TicketAction, ticket: &str, service: &str, window: Option<&str>) -> TicketEvent {
        TicketEvent {
            v: 1,
            action,
            ticket: ticket.into(),
            service: service.into(),
            window_id: window.map(Into::into),
            // The dispenser's own time is deliberately wrong: KPIs run on the receive time.
            at: t("00:00:00").with_timezone(&FixedOffset::east_opt(0).unwrap()),
        }
    }

    use TicketAction::{Called, Issued, NoShow, Served};

    /// The fixed sequence of the KPI test: (hall-local time, action, ticket, window).
    const SEQUENCE: &[(&str, TicketAction, &str, Option<&str>)] = &[
        ("09:00:00", Issued, "A001", None),
        ("09:02:00", Issued, "A002", None),
        ("09:05:00", Issued, "A003", None),
        ("09:10:00", Called, "A001", Some("w1")), // wait 600 s
        ("09:12:00", Called, "A002", Some("w2")), // wait 600 s
        ("09:13:00", Called, "A002", Some("w2")), // re-call at the same window: nothing changes
        ("09:15:00", Served, "A001", Some("w1")), // service 300 s
        ("09:16:00", Called, "A002", Some("w1")), // moved to w1: the wait stays 600 s
        ("09:20:00", Called, "A003", Some("w2")), // wait 900 s
        ("09:23:00", NoShow, "A003", Some("w2")), // no service time
        ("09:26:00", Served, "A002", Some("w1")), // service 600 s, from the call at w1
        ("09:27:00", Served, "A002", Some("w1")), // duplicate
        ("09:30:00", Issued, "A004", None),
        ("09:30:00", Issued, "A004", None), // duplicate
        ("09:40:00", Issued, "A005", None),
        ("11:50:00", Called, "A004", Some("w1")), // wait 8400 s
        ("14:35:00", Served, "A004", Some("w1")), // across lunch: 2 h 45 min = 9900 s of wall time
    ];

    fn play(q: &mut Queues, until: &str) -> Vec<TicketOutcome> {
        SEQUENCE
            .iter()
            .filter(|(at, ..)| t(at) <= t(until))
            .map(|&(at, action, ticket, window)| {
                q.apply(&ev(action, ticket, "sb", window), t(at)).unwrap()
            })
            .collect()
    }

    fn sb(q: &Queues, now: &str) -> QueueView {
        q.views(t(now), &HashMap::new(), false).remove(0)
    }

    #[test]
    fn kpis_match_hand_computed_values() {
        // (time of the reading, waiting, longest wait, avg wait 1 h, avg service 1 h, served, no-shows)
        let table: &[(&str, u32, u64, Option<u64>, Option<u64>, u32, u32)] = &[
            ("09:05:00", 3, 300, None, None, 0, 0),
            ("09:12:00", 1, 420, Some(600), None, 0, 0),
            ("09:16:00", 1, 660, Some(600), Some(300), 1, 0),
            // A001 600, A002 600, A003 900; A001 300, A002 600.
            ("09:45:00", 2, 900, Some(700), Some(450), 2, 1),
            // An hour after A001's call at 09:10 it leaves the average: (600 + 900) / 2.
            ("10:11:00", 2, 2460, Some(750), Some(450), 2, 1),
            // Only A004 is recent; A005 has waited since 09:40 through lunch.
            ("12:00:00", 1, 8400, Some(8400), None, 2, 1),
            ("14:40:00", 1, 18000, None, Some(9900), 3, 1),
        ];
        for &(now, waiting, longest, avg_wait, avg_service, served, no_shows) in table {
            let mut q = queues();
            play(&mut q, now);
            let v = sb(&q, now);
            assert_eq!(
                (
                    v.waiting,
                    v.longest_wait_secs,
                    v.avg_wait_secs_1h,
                    v.avg_service_secs_1h,
                    v.served_today,
                    v.no_shows_today
                ),
                (waiting, longest, avg_wait, avg_service, served, no_shows),
                "at {now}"
            );
        }
    }

    #[test]
    fn windows_follow_calls_moves_and_completions() {
        // (time, ticket at w1, since, ticket at w2, served at w1, served at w2)
        let table: &[(&str, Option<&str>, Option<&str>, Option<&str>, u32, u32)] = &[
            (
                "09:12:00",
                Some("A001"),
                Some("09:10:00"),
                Some("A002"),
                0,
                0,
            ),
            (
                "09:13:00",
                Some("A001"),
                Some("09:10:00"),
                Some("A002"),
                0,
                0,
            ),
            ("09:15:00", None, None, Some("A002"), 1, 0),
            ("09:16:00", Some("A002"), Some("09:16:00"), None, 1, 0),
            (
                "09:20:00",
                Some("A002"),
                Some("09:16:00"),
                Some("A003"),
                1,
                0,
            ),
            ("09:23:00", Some("A002"), Some("09:16:00"), None, 1, 0),
            ("09:27:00", None, None, None, 2, 0),
            ("12:00:00", Some("A004"), Some("11:50:00"), None, 2, 0),
            ("14:35:00", None, None, None, 3, 0),
        ];
        for &(now, w1, since, w2, served1, served2) in table {
            let mut q = queues();
            play(&mut q, now);
            let w1_now = q.at_window("w1");
            assert_eq!(w1_now.map(|w| w.ticket.as_str()), w1, "w1 at {now}");
            assert_eq!(w1_now.map(|w| w.since), since.map(t), "w1 since at {now}");
            assert_eq!(
                q.at_window("w2").map(|w| w.ticket.as_str()),
                w2,
                "w2 at {now}"
            );
            assert_eq!(
                (q.served_at("w1"), q.served_at("w2")),
                (served1, served2),
                "at {now}"
            );
        }
    }

    #[test]
    fn window_updates_tell_the_windows_what_changed() {
        let mut q = queues();
        let outcomes = play(&mut q, "09:27:00");
        let updates: Vec<Vec<(&str, Option<&str>, bool)>> = outcomes
            .iter()
            .map(|o| {
                o.windows
                    .iter()
                    .map(|u| (u.window_id.as_str(), u.ticket.as_deref(), u.served))
                    .collect()
            })
            .collect();
        assert_eq!(
            updates,
            vec![
                vec![],
                vec![],
                vec![],
                vec![("w1", Some("A001"), false)],
                vec![("w2", Some("A002"), false)],
                vec![],
                vec![("w1", None, true)],
                vec![("w2", None, false), ("w1", Some("A002"), false)],
                vec![("w2", Some("A003"), false)],
                vec![("w2", None, false)],
                vec![("w1", None, true)],
                vec![],
            ]
        );
        let changed: Vec<bool> = outcomes.iter().map(|o| o.changed).collect();
        assert_eq!(
            changed,
            vec![
                true, true, true, true, true, false, true, true, true, true, true, false
            ]
        );
    }

    #[test]
    fn out_of_order_and_unknown_events() {
        let mut q = queues();
        // Served before anything else was heard of it: counted, with no wait or service time to measure.
        q.apply(&ev(Served, "B001", "sb", Some("w1")), t("09:00:00"))
            .unwrap();
        // Its late `issued` and `called` cannot move it back.
        q.apply(&ev(Issued, "B001", "sb", None), t("09:00:01"))
            .unwrap();
        let late_call = q
            .apply(&ev(Called, "B001", "sb", Some("w1")), t("09:00:02"))
            .unwrap();
        assert_eq!(late_call, TicketOutcome::default());
        let v = sb(&q, "09:01:00");
        assert_eq!(
            (v.waiting, v.served_today, v.avg_wait_secs_1h),
            (0, 1, None)
        );
        assert_eq!(q.served_at("w1"), 1);
        // Called without an `issued`: at the window, not waiting, no wait measured.
        q.apply(&ev(Called, "B002", "sb", Some("w2")), t("09:02:00"))
            .unwrap();
        assert_eq!(q.at_window("w2").unwrap().ticket, "B002");
        assert_eq!(sb(&q, "09:03:00").avg_wait_secs_1h, None);
        // A no-show of a ticket never called leaves the queue.
        q.apply(&ev(Issued, "B003", "sb", None), t("09:04:00"))
            .unwrap();
        q.apply(&ev(NoShow, "B003", "sb", None), t("09:05:00"))
            .unwrap();
        let v = sb(&q, "09:06:00");
        assert_eq!((v.waiting, v.no_shows_today), (0, 1));
        assert_eq!(
            q.apply(&ev(Issued, "X001", "nope", None), t("09:07:00")),
            Err(UnknownService("nope".into()))
        );
    }

    #[test]
    fn a_new_day_starts_from_zero() {
        let mut q = queues();
        play(&mut q, "12:00:00");
        assert!(!q.roll_to(day(3)));
        assert!(q.roll_to(day(4)));
        let v = sb(&q, "12:00:00");
        assert_eq!((v.waiting, v.served_today, v.no_shows_today), (0, 0, 0));
        assert_eq!(q.served_at("w1"), 0);
        assert!(q.at_window("w1").is_none());
        // Yesterday's ticket numbers are new tickets today.
        q.apply(&ev(Issued, "A001", "sb", None), t("12:00:00"))
            .unwrap();
        assert_eq!(sb(&q, "12:00:00").waiting, 1);
    }

    #[test]
    fn q2_service_level_is_strictly_over() {
        // sb: default 30 min, 15 per open window; yb: 20 min, 2 per open window.
        // (service, tickets issued at 09:00:00, reading at, open windows, in service, over)
        let table: &[(&str, usize, &str, u32, bool, bool)] = &[
            ("sb", 1, "09:29:59", 1, true, false),
            ("sb", 1, "09:30:00", 1, true, false), // exactly 30 min: not over ("超过")
            ("sb", 1, "09:30:01", 1, true, true),
            ("sb", 1, "09:30:01", 1, false, false), // outside `service` Q-2 does not apply
            ("yb", 1, "09:20:00", 1, true, false),
            ("yb", 1, "09:20:01", 1, true, true),
            ("sb", 15, "09:01:00", 1, true, false), // 15 = 15 × 1: not over
            ("sb", 16, "09:01:00", 1, true, true),
            ("sb", 30, "09:01:00", 2, true, false),
            ("sb", 31, "09:01:00", 2, true, true),
            ("yb", 2, "09:01:00", 1, true, false),
            ("yb", 3, "09:01:00", 1, true, true),
            ("yb", 1, "09:01:00", 0, true, true), // people waiting and no window open
            ("yb", 0, "09:01:00", 0, true, false),
        ];
        for &(service, n, now, open, in_service, over) in table {
            let mut q = queues();
            for i in 0..n {
                q.apply(
                    &ev(Issued, &format!("T{i:03}"), service, None),
                    t("09:00:00"),
                )
                .unwrap();
            }
            let open_windows = HashMap::from([(service.to_owned(), open)]);
            let views = q.views(t(now), &open_windows, in_service);
            let v = views.iter().find(|v| v.service == service).unwrap();
            assert_eq!(
                v.over_service_level, over,
                "{service} {n} waiting at {now}, {open} open"
            );
            let (active, spec) = service_level_conditions(&views)
                .into_iter()
                .find(|(_, s)| s.subject == format!("service:{service}"))
                .unwrap();
            assert_eq!(active, over);
            assert_eq!((spec.rule, spec.kind), ("Q-2", "queue_over_service_level"));
        }
    }

    #[test]
    fn open_windows_count_staffed_windows_per_service() {
        let window = |id: &str, state: WindowState, services: &[&str]| WindowView {
            id: id.into(),
            number: 1,
            unit: "u".into(),
            unit_name: "社保科".into(),
            unit_kind: hall_protocol::config::UnitKind::Multi,
            services: services.iter().map(|s| s.to_string()).collect(),
            state,
            staff: None,
            a_post: hall_protocol::api::StaffRef {
                id: "a".into(),
                name: "张三".into(),
            },
            b_post: None,
            since: None,
            away_reason: None,
            current_ticket: None,
            served_today: 0,
        };
        let ws = [
            window("w1", WindowState::StaffedA, &["sb", "yb"]),
            window("w2", WindowState::CoveredB, &["sb"]),
            window("w3", WindowState::Empty, &["sb"]),
            window("w4", WindowState::AwayReported, &["yb"]),
        ];
        let open = open_windows(&ws, true);
        assert_eq!((open["sb"], open["yb"]), (2, 1));
        assert!(open_windows(&ws, false).is_empty());
        // Q-3: an empty window escalates only while one of its services has people waiting.
        let mut q = queues();
        q.apply(&ev(Issued, "A001", "sb", None), t("09:00:00"))
            .unwrap();
        let views = q.views(t("09:01:00"), &open, true);
        let active: Vec<(String, bool)> = empty_window_conditions(&ws, &views, |_| true, true)
            .into_iter()
            .map(|(a, s)| (s.subject, a))
            .collect();
        assert_eq!(
            active,
            vec![
                ("window:w1".into(), true),
                ("window:w2".into(), true),
                ("window:w3".into(), true),
                ("window:w4".into(), false), // yb has nobody waiting
            ]
        );
        assert!(
            empty_window_conditions(&ws, &views, |id| id != "w3", true)
                .iter()
                .any(|(a, s)| s.subject == "window:w3" && !a)
        );
        assert!(
            empty_window_conditions(&ws, &views, |_| true, false)
                .iter()
                .all(|(a, _)| !a)
        );
    }
}
