//! What happens in the simulated hall, as a pure function of the hall configuration, a seeded random generator and
//! the simulated time: [`Script::step`] returns the [`Action`]s due at `now`. It does no IO and never reads a clock,
//! so a test can play a whole day in microseconds and a seed reproduces a run exactly.
//!
//! What it plays:
//! - each working day follows a [`plan::DayPlan`](super::plan) drawn from the hall calendar: staff arrive, punch,
//!   sign in, step away, hand over, break for lunch and leave; one A-post is on leave with B covering; one
//!   single-person window is left empty for a few minutes; devices that are switched off at night power on before
//!   `pre_open` and off by the end of `closing`, except one window PC left on; a kiosk flaps; an intranet PC
//!   briefly reaches the internet; an unregistered USB stick is mounted on a window PC;
//! - every device that is on heartbeats at its configured interval with plausible metrics (a random walk);
//! - every few minutes a random device goes silent, either dropping its link uncleanly (its last will fires) or
//!   just stopping its heartbeats, and comes back minutes later with a new boot id (DEV-1);
//! - during the business day a self-service kiosk's printer now and then runs low on paper, runs out or jams, and
//!   is fixed minutes later (DEV-2);
//! - the queue and rating pads ([`super::queue`]) during service periods.
//!
//! A script started in the middle of a day fast-forwards the plan: it signs in whoever is at a window by then and
//! boots only the devices that are on.

#[cfg(test)]
use chrono::Timelike;
use chrono::{DateTime, FixedOffset, TimeDelta};
use hall_protocol::SCHEMA_VERSION;
use hall_protocol::config::{DeviceKind, HallConfig, NetworkPolicy, UnitKind};
use hall_protocol::payload::{
    Checks, DeviceEvent, DeviceEventKind, Heartbeat, Metrics, PeripheralCheck, Presence,
    PresenceAction, PresenceSource, Punch, RatingEvent, RemovableMedium, Severity, TicketEvent,
};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use super::calendar::HallCalendar;
use super::plan::{self, DayPlan, Leave, PlanDevice, PlanItem, PlanWindow};
use super::queue::QueueSim;

type Time = DateTime<FixedOffset>;

/// Printer faults a kiosk raises (DEV-2): code, severity, message, relative weight.
pub const PRINTER_FAULTS: [(&str, Severity, &str, f64); 3] = [
    (
        "printer_paper_low",
        Severity::Info,
        "凭条打印机纸将用尽",
        0.4,
    ),
    (
        "printer_paper_out",
        Severity::Warning,
        "凭条打印机缺纸",
        0.4,
    ),
    ("printer_jam", Severity::Warning, "凭条打印机卡纸", 0.2),
];
/// The unregistered USB stick of the day (DEV-5).
pub const SIM_USB_SERIAL: &str = "SIM-USB-0001";
/// At most this many devices are silent at once, so the hall never looks broken wholesale.
const MAX_SILENT: usize = 2;

/// Something the IO side must do now.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    /// Bring the device's link up as a new boot: register a last will with `boot_id`, then publish a retained
    /// `online` status with it. A link the device still holds is closed cleanly first.
    Connect { device: usize, boot_id: String },
    /// Publish a heartbeat.
    Heartbeat { device: usize, heartbeat: Heartbeat },
    /// The device goes silent. With `drop_link` its connection is cut without DISCONNECT, so the broker sends its
    /// last will; without, it keeps the connection but stops heartbeating.
    GoSilent { device: usize, drop_link: bool },
    /// The device is switched off cleanly: a retained `offline` status with `boot_id` (its last boot, or a fresh
    /// id for a device that was never on), then DISCONNECT.
    Offline { device: usize, boot_id: String },
    /// Publish a fault event.
    Event { device: usize, event: DeviceEvent },
    /// Publish a presence event at a window.
    Presence { window: usize, presence: Presence },
    /// Publish a ticket event on the dispenser's topic.
    Ticket { event: TicketEvent },
    /// Publish a rating from a window's rating pad.
    Rating { window: usize, event: RatingEvent },
    /// Publish an attendance punch from a terminal (a device index).
    Punch { terminal: usize, punch: Punch },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum LinkState {
    /// Not started yet.
    Down,
    Up,
    Silent {
        until: Time,
    },
    /// Switched off.
    Off,
}

#[derive(Debug, Clone)]
struct SimDevice {
    id: String,
    kind: DeviceKind,
    network: NetworkPolicy,
    interval: TimeDelta,
    critical: bool,
    link: LinkState,
    /// Whether the device is switched on (per the day plan).
    powered: bool,
    boot_id: String,
    booted_at: Option<Time>,
    seq: u64,
    next_heartbeat: Option<Time>,
    walk: Walk,
    /// The open fault and when it clears.
    fault: Option<(usize, Time)>,
    internet: bool,
    usb: bool,
}

#[derive(Debug, Clone)]
struct SimWindow {
    id: String,
    a: String,
    b: Option<String>,
    single: bool,
    /// Who is signed in, in sign-in order.
    present: Vec<String>,
    /// A reported step-away is running.
    away: bool,
    /// The window's rating pad (device index).
    pad: Option<usize>,
}

/// Metric random walk of one device.
#[derive(Debug, Clone)]
struct Walk {
    cpu: f64,
    mem: f64,
    disk: f64,
}

/// The simulated hall's script. See the module docs for what it plays.
pub struct Script {
    seed: u64,
    rng: StdRng,
    calendar: HallCalendar,
    devices: Vec<SimDevice>,
    windows: Vec<SimWindow>,
    plan: Option<DayPlan>,
    cursor: usize,
    /// Whether a day with the leave has been planned (only the first simulated day has one).
    leave_planned: bool,
    queue: QueueSim,
    terminal: Option<usize>,
    started: bool,
    next_outage: Option<Time>,
    next_fault: Option<Time>,
}

impl Script {
    /// A script for every device and window of `hall`, reproducible from `seed`.
    pub fn new(hall: &HallConfig, seed: u64) -> anyhow::Result<Script> {
        let calendar = HallCalendar::new(&hall.calendar)?;
        let mut rng = StdRng::seed_from_u64(seed);
        let devices = hall
            .devices
            .iter()
            .map(|d| SimDevice {
                id: d.id.clone(),
                kind: d.kind,
                network: d.network,
                interval: TimeDelta::seconds(hall.heartbeat_interval_secs(d).max(1) as i64),
                critical: d.kind == DeviceKind::NetworkGear,
                link: LinkState::Down,
                powered: !plan::powered_off_at_night(d.kind),
                boot_id: String::new(),
                booted_at: None,
                seq: 0,
                next_heartbeat: None,
                walk: Walk {
                    cpu: rng.random_range(5.0..30.0),
                    mem: rng.random_range(30.0..70.0),
                    disk: rng.random_range(25.0..70.0),
                },
                fault: None,
                internet: false,
                usb: false,
            })
            .collect();
        let windows = hall
            .windows
            .iter()
            .map(|w| SimWindow {
                id: w.id.clone(),
                a: w.a_post.clone(),
                b: w.b_post.clone(),
                single: hall
                    .units
                    .iter()
                    .any(|u| u.id == w.unit && u.kind == UnitKind::Single),
                present: Vec::new(),
                away: false,
                pad: hall.devices.iter().position(|d| {
                    d.kind == DeviceKind::RatingPad && d.window.as_deref() == Some(&w.id)
                }),
            })
            .collect();
        Ok(Script {
            seed,
            rng,
            calendar,
            devices,
            windows,
            plan: None,
            cursor: 0,
            leave_planned: false,
            queue: QueueSim::new(hall),
            terminal: hall
                .devices
                .iter()
                .position(|d| d.kind == DeviceKind::AttendanceTerminal),
            started: false,
            next_outage: None,
            next_fault: None,
        })
    }

    pub fn n_devices(&self) -> usize {
        self.devices.len()
    }

    pub fn device_id(&self, device: usize) -> &str {
        &self.devices[device].id
    }

    pub fn window_id(&self, window: usize) -> &str {
        &self.windows[window].id
    }

    /// Shortest heartbeat interval of any device, in simulated time (for the IO side's tick).
    pub fn min_interval(&self) -> Option<TimeDelta> {
        self.devices.iter().map(|d| d.interval).min()
    }

    /// The plan of the working day `now` belongs to (or the next one), drawn up if needed.
    pub fn plan(&mut self, now: Time) -> Option<&DayPlan> {
        if self.plan.is_none() {
            let day = self.calendar.current_or_next(now)?;
            self.set_plan(&day);
        }
        self.plan.as_ref()
    }

    /// The leave the first simulated day plays, for registering it with the gateway.
    pub fn leave(&mut self, now: Time) -> Option<Leave> {
        self.plan(now).and_then(|p| p.leave.clone())
    }

    fn set_plan(&mut self, day: &super::calendar::WorkingDay) {
        let windows: Vec<PlanWindow> = self
            .windows
            .iter()
            .map(|w| PlanWindow {
                a: w.a.clone(),
                b: w.b.clone(),
                single: w.single,
            })
            .collect();
        let devices: Vec<PlanDevice> = self
            .devices
            .iter()
            .map(|d| PlanDevice {
                kind: d.kind,
                network: d.network,
            })
            .collect();
        let with_leave = !std::mem::replace(&mut self.leave_planned, true);
        self.plan = Some(plan::plan_day(
            day, &windows, &devices, self.seed, with_leave,
        ));
        self.cursor = 0;
    }

    /// The actions due at `now`. Call it with non-decreasing times; a late call catches up without bursts (a
    /// device that missed several heartbeat slots sends one).
    pub fn step(&mut self, now: Time) -> Vec<Action> {
        let mut actions = Vec::new();
        if !self.started {
            self.start(now, &mut actions);
            return actions;
        }
        self.step_plan(now, true, &mut actions);
        self.step_devices(now, &mut actions);
        self.step_outages(now, &mut actions);
        self.step_faults(now, &mut actions);
        self.step_queue(now, &mut actions);
        actions
    }

    fn start(&mut self, now: Time, actions: &mut Vec<Action>) {
        self.started = true;
        // Fast-forward the day up to now without publishing, then publish the state it left.
        self.step_plan(now, false, actions);
        for i in 0..self.devices.len() {
            if self.devices[i].powered {
                self.boot(i, now, actions);
                // Spread the first heartbeats over one interval, as real devices switched on at different moments.
                let interval_ms = self.devices[i].interval.num_milliseconds().max(1);
                let offset = TimeDelta::milliseconds(self.rng.random_range(0..interval_ms));
                self.devices[i].next_heartbeat = Some(now + offset);
            } else {
                self.switch_off(i, actions);
            }
        }
        for w in 0..self.windows.len() {
            let win = self.windows[w].clone();
            for staff in &win.present {
                actions.push(presence(
                    w,
                    PresenceAction::SignIn,
                    staff,
                    None,
                    PresenceSource::Badge,
                    now,
                ));
            }
            if win.away
                && let Some(staff) = win.present.last()
            {
                actions.push(presence(
                    w,
                    PresenceAction::StepAway,
                    staff,
                    Some("离岗"),
                    PresenceSource::Login,
                    now,
                ));
            }
        }
        self.next_outage = Some(now + self.minutes(4, 10));
        self.next_fault = Some(now + self.minutes(6, 15));
    }

    /// Plays the day plans up to `now`; without `emit`, only updates the state (fast-forward at start).
    fn step_plan(&mut self, now: Time, emit: bool, actions: &mut Vec<Action>) {
        loop {
            let Some(want) = self.calendar.current_or_next(now) else {
                return;
            };
            if self.plan.is_none() {
                self.set_plan(&want);
            }
            while let Some(item) = self
                .plan
                .as_ref()
                .and_then(|p| p.items.get(self.cursor))
                .filter(|i| i.at <= now)
                .cloned()
            {
                self.cursor += 1;
                self.apply(item.item, item.at, now, emit, actions);
            }
            let done = self
                .plan
                .as_ref()
                .is_none_or(|p| p.day.date != want.date && self.cursor >= p.items.len());
            if !done {
                return;
            }
            self.set_plan(&want);
        }
    }

    fn apply(
        &mut self,
        item: PlanItem,
        at: Time,
        now: Time,
        emit: bool,
        actions: &mut Vec<Action>,
    ) {
        match item {
            PlanItem::Presence {
                window,
                action,
                staff,
                reason,
                source,
            } => {
                let win = &mut self.windows[window];
                match action {
                    PresenceAction::SignIn => {
                        if !win.present.contains(&staff) {
                            win.present.push(staff.clone());
                        }
                    }
                    PresenceAction::SignOut => {
                        win.present.retain(|s| s != &staff);
                        if win.present.is_empty() {
                            win.away = false;
                        }
                    }
                    PresenceAction::StepAway => win.away = true,
                    PresenceAction::Return => win.away = false,
                }
                if emit {
                    actions.push(presence(
                        window,
                        action,
                        &staff,
                        reason.as_deref(),
                        source,
                        at,
                    ));
                }
            }
            PlanItem::Punch { staff, method } => {
                if emit && let Some(terminal) = self.terminal {
                    actions.push(Action::Punch {
                        terminal,
                        punch: Punch {
                            v: SCHEMA_VERSION,
                            staff_id: staff,
                            method,
                            at,
                        },
                    });
                }
            }
            PlanItem::PowerOn { device } => {
                self.devices[device].powered = true;
                if emit && matches!(self.devices[device].link, LinkState::Off | LinkState::Down) {
                    self.boot(device, now, actions);
                }
            }
            PlanItem::PowerOff { device } => {
                self.devices[device].powered = false;
                if emit && self.devices[device].link != LinkState::Off {
                    self.switch_off(device, actions);
                }
            }
            PlanItem::Internet { device, reachable } => self.devices[device].internet = reachable,
            PlanItem::Media { device, mounted } => self.devices[device].usb = mounted,
        }
    }

    fn switch_off(&mut self, i: usize, actions: &mut Vec<Action>) {
        let d = &mut self.devices[i];
        if d.boot_id.is_empty() {
            d.boot_id = uuid::Builder::from_random_bytes(self.rng.random())
                .into_uuid()
                .to_string();
        }
        d.link = LinkState::Off;
        d.next_heartbeat = None;
        actions.push(Action::Offline {
            device: i,
            boot_id: d.boot_id.clone(),
        });
    }

    fn boot(&mut self, i: usize, now: Time, actions: &mut Vec<Action>) {
        let boot_id = uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string();
        let d = &mut self.devices[i];
        d.boot_id = boot_id.clone();
        d.booted_at = Some(now);
        d.seq = 0;
        d.link = LinkState::Up;
        d.next_heartbeat = Some(now);
        actions.push(Action::Connect { device: i, boot_id });
    }

    fn step_devices(&mut self, now: Time, actions: &mut Vec<Action>) {
        for i in 0..self.devices.len() {
            match self.devices[i].link {
                LinkState::Silent { until } if now >= until => {
                    if self.devices[i].powered {
                        self.boot(i, now, actions);
                    } else {
                        self.switch_off(i, actions);
                    }
                }
                _ => {}
            }
            let d = &self.devices[i];
            let due = d.link == LinkState::Up && d.next_heartbeat.is_some_and(|t| now >= t);
            if due {
                let heartbeat = self.heartbeat(i, now);
                actions.push(Action::Heartbeat {
                    device: i,
                    heartbeat,
                });
            }
        }
    }

    fn heartbeat(&mut self, i: usize, now: Time) -> Heartbeat {
        let jitter_cpu = self.rng.random_range(-6.0..6.0);
        let jitter_mem = self.rng.random_range(-1.5..1.5);
        let jitter_temp = self.rng.random_range(-1.0..1.0);
        let latency = self.rng.random_range(1.0..25.0);
        let d = &mut self.devices[i];
        d.walk.cpu = (d.walk.cpu + jitter_cpu).clamp(2.0, 95.0);
        d.walk.mem = (d.walk.mem + jitter_mem).clamp(15.0, 92.0);
        d.walk.disk = (d.walk.disk + 0.001).min(95.0);
        let computer = matches!(
            d.kind,
            DeviceKind::WindowPc
                | DeviceKind::SelfServiceKiosk
                | DeviceKind::SelfQueryKiosk
                | DeviceKind::QueueDispenser
                | DeviceKind::QueueCaller
                | DeviceKind::WindowScreen
        );
        let networked = matches!(d.kind, DeviceKind::WifiAp | DeviceKind::NetworkGear);
        let metrics = Metrics {
            cpu_pct: Some(round1(d.walk.cpu)),
            mem_pct: Some(round1(d.walk.mem)),
            disk_pct: computer.then(|| round1(d.walk.disk)),
            temp_c: computer.then(|| round1(38.0 + d.walk.cpu * 0.35 + jitter_temp)),
            latency_ms: networked.then(|| round1(latency)),
        };
        let peripherals = if d.kind == DeviceKind::SelfServiceKiosk {
            let open = d.fault.map(|(f, _)| PRINTER_FAULTS[f].0.to_owned());
            vec![PeripheralCheck {
                name: "receipt_printer".into(),
                ok: open.is_none(),
                fault_code: open,
            }]
        } else {
            Vec::new()
        };
        let removable_media = (d.kind == DeviceKind::WindowPc).then(|| {
            if d.usb {
                vec![RemovableMedium {
                    serial: SIM_USB_SERIAL.into(),
                    label: Some("KINGSTON".into()),
                    mount: Some("/media/usb0".into()),
                }]
            } else {
                Vec::new()
            }
        });
        let checks = Checks {
            internet_reachable: (d.network == NetworkPolicy::Intranet).then_some(d.internet),
            peripherals,
            removable_media,
        };
        d.seq += 1;
        let next = d.next_heartbeat.unwrap_or(now) + d.interval;
        d.next_heartbeat = Some(if next <= now { now + d.interval } else { next });
        Heartbeat {
            v: SCHEMA_VERSION,
            seq: d.seq,
            boot_id: d.boot_id.clone(),
            sent_at: now,
            uptime_secs: d
                .booted_at
                .map_or(0, |b| (now - b).num_seconds().max(0) as u64),
            metrics,
            checks,
        }
    }

    fn step_outages(&mut self, now: Time, actions: &mut Vec<Action>) {
        if self.next_outage.is_none_or(|t| now < t) {
            return;
        }
        self.next_outage = Some(now + self.minutes(4, 10));
        let n_silent = self
            .devices
            .iter()
            .filter(|d| matches!(d.link, LinkState::Silent { .. }))
            .count();
        if n_silent >= MAX_SILENT {
            return;
        }
        let flapping = self.plan.as_ref().and_then(|p| p.flapping);
        let candidates: Vec<usize> = (0..self.devices.len())
            .filter(|&i| {
                let d = &self.devices[i];
                !d.critical && d.link == LinkState::Up && d.fault.is_none() && Some(i) != flapping
            })
            .collect();
        let Some(&i) = candidates.choose(&mut self.rng) else {
            return;
        };
        let drop_link = self.rng.random_bool(0.5);
        let until = now + self.minutes(2, 10);
        self.devices[i].link = LinkState::Silent { until };
        actions.push(Action::GoSilent {
            device: i,
            drop_link,
        });
    }

    fn step_faults(&mut self, now: Time, actions: &mut Vec<Action>) {
        for i in 0..self.devices.len() {
            let d = &self.devices[i];
            if let Some((f, clear_at)) = d.fault
                && now >= clear_at
                && d.link == LinkState::Up
            {
                let (code, severity, _, _) = PRINTER_FAULTS[f];
                let message = if f == 2 {
                    "卡纸已排除"
                } else {
                    "打印纸已补充"
                };
                let event =
                    device_event(DeviceEventKind::FaultCleared, code, severity, message, now);
                self.devices[i].fault = None;
                actions.push(Action::Event { device: i, event });
            }
        }
        if self.next_fault.is_none_or(|t| now < t) {
            return;
        }
        self.next_fault = Some(now + self.minutes(8, 20));
        let business = self
            .plan
            .as_ref()
            .is_some_and(|p| p.day.pre_open <= now && now < p.day.closing_end);
        if !business {
            return;
        }
        let candidates: Vec<usize> = (0..self.devices.len())
            .filter(|&i| {
                let d = &self.devices[i];
                d.kind == DeviceKind::SelfServiceKiosk
                    && d.link == LinkState::Up
                    && d.fault.is_none()
            })
            .collect();
        let Some(&i) = candidates.choose(&mut self.rng) else {
            return;
        };
        let total: f64 = PRINTER_FAULTS.iter().map(|f| f.3).sum();
        let mut roll = self.rng.random_range(0.0..total);
        let mut f = 0;
        while f + 1 < PRINTER_FAULTS.len() && roll >= PRINTER_FAULTS[f].3 {
            roll -= PRINTER_FAULTS[f].3;
            f += 1;
        }
        let clear_at = now + self.minutes(3, 10);
        self.devices[i].fault = Some((f, clear_at));
        let (code, severity, message, _) = PRINTER_FAULTS[f];
        let event = device_event(DeviceEventKind::FaultRaised, code, severity, message, now);
        actions.push(Action::Event { device: i, event });
    }

    fn step_queue(&mut self, now: Time, actions: &mut Vec<Action>) {
        let day = self.calendar.current_or_next(now);
        let staff_at: Vec<Option<String>> = self
            .windows
            .iter()
            .map(|w| {
                if w.away {
                    None
                } else {
                    w.present.last().cloned()
                }
            })
            .collect();
        let pad_up: Vec<bool> = self
            .windows
            .iter()
            .map(|w| w.pad.is_some_and(|p| self.devices[p].link == LinkState::Up))
            .collect();
        self.queue.step(
            now,
            day.as_ref(),
            &staff_at,
            &pad_up,
            &mut self.rng,
            actions,
        );
    }

    /// A random span between `lo` and `hi` minutes, to the second.
    fn minutes(&mut self, lo: i64, hi: i64) -> TimeDelta {
        TimeDelta::seconds(self.rng.random_range(lo * 60..=hi * 60))
    }
}

fn presence(
    window: usize,
    action: PresenceAction,
    staff_id: &str,
    reason: Option<&str>,
    source: PresenceSource,
    at: Time,
) -> Action {
    Action::Presence {
        window,
        presence: Presence {
            v: SCHEMA_VERSION,
            action,
            staff_id: staff_id.to_owned(),
            reason: reason.map(str::to_owned),
            source,
            at,
        },
    }
}

fn device_event(
    kind: DeviceEventKind,
    code: &str,
    severity: Severity,
    message: &str,
    at: Time,
) -> DeviceEvent {
    DeviceEvent {
        v: SCHEMA_VERSION,
        kind,
        code: code.to_owned(),
        severity,
        message: message.to_owned(),
        at,
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet, HashMap};

    use hall_protocol::payload::{RatingLevel, TicketAction};

    use super::*;

    fn hall() -> HallConfig {
        let text = include_str!("../../../config/hall.example.toml");
        toml::from_str(text).unwrap()
    }

    fn t(s: &str) -> Time {
        s.parse().unwrap()
    }

    /// Plays from `from` to `to` in one-second steps; also returns the plan of the first day.
    fn play(seed: u64, from: &str, to: &str) -> (Script, DayPlan, Vec<(Time, Action)>) {
        let mut script = Script::new(&hall(), seed).unwrap();
        let (from, to) = (t(from), t(to));
        let plan = script.plan(from).unwrap().clone();
        let mut log = Vec::new();
        let mut now = from;
        while now < to {
            for a in script.step(now) {
                log.push((now, a));
            }
            now += TimeDelta::seconds(1);
        }
        (script, plan, log)
    }

    /// A whole winter Thursday, from before dawn to after closing.
    fn day(seed: u64) -> (Script, DayPlan, Vec<(Time, Action)>) {
        play(
            seed,
            "2026-12-03T07:30:00+08:00",
            "2026-12-03T19:00:00+08:00",
        )
    }

    fn presences(log: &[(Time, Action)]) -> impl Iterator<Item = (usize, &Presence)> {
        log.iter().filter_map(|(_, a)| match a {
            Action::Presence { window, presence } => Some((*window, presence)),
            _ => None,
        })
    }

    fn tickets(log: &[(Time, Action)]) -> impl Iterator<Item = &TicketEvent> {
        log.iter().filter_map(|(_, a)| match a {
            Action::Ticket { event } => Some(event),
            _ => None,
        })
    }

    #[test]
    fn same_seed_same_day() {
        let (_, _, a) = play(7, "2026-12-03T08:25:00+08:00", "2026-12-03T09:25:00+08:00");
        let (_, _, b) = play(7, "2026-12-03T08:25:00+08:00", "2026-12-03T09:25:00+08:00");
        assert_eq!(a, b);
    }

    #[test]
    fn staff_arrive_after_pre_open_leave_for_lunch_and_at_the_end() {
        let hall = hall();
        let (_, plan, log) = day(1);
        let leave = plan.leave.clone().expect("one A-post on leave");
        let mut first_sign_in: BTreeMap<usize, Time> = BTreeMap::new();
        let mut late = 0;
        for (w, p) in presences(&log) {
            assert!(
                p.at >= t("2026-12-03T08:15:00+08:00"),
                "nobody signs in before pre_open: {p:?}"
            );
            if p.action == PresenceAction::SignIn && !first_sign_in.contains_key(&w) {
                first_sign_in.insert(w, p.at);
                late += usize::from(p.at > t("2026-12-03T08:30:00+08:00"));
            }
            if w == leave.window {
                assert_ne!(
                    p.staff_id, leave.staff_id,
                    "the A-post on leave never signs in"
                );
            }
        }
        assert_eq!(
            first_sign_in.len(),
            hall.windows.len(),
            "every window opens"
        );
        for at in first_sign_in.values() {
            assert!(*at <= t("2026-12-03T08:40:00+08:00"), "{at}");
        }
        assert!(late >= 1, "some arrive after 08:30");
        assert_eq!(
            leave.substitute,
            hall.windows[leave.window].b_post.clone().unwrap()
        );
        assert!(
            presences(&log).any(|(w, p)| w == leave.window
                && p.staff_id == leave.substitute
                && p.action == PresenceAction::SignIn),
            "B signs in instead of A"
        );

        // Everyone is gone over lunch and after the last period.
        let mut here: HashMap<usize, BTreeSet<String>> = HashMap::new();
        let mut at_lunch = 0;
        let mut checked_lunch = false;
        for (now, a) in &log {
            if !checked_lunch && *now >= t("2026-12-03T12:30:00+08:00") {
                checked_lunch = true;
                at_lunch = here.values().map(BTreeSet::len).sum::<usize>();
            }
            if let Action::Presence { window, presence } = a {
                let set = here.entry(*window).or_default();
                match presence.action {
                    PresenceAction::SignIn => {
                        set.insert(presence.staff_id.clone());
                    }
                    PresenceAction::SignOut => {
                        set.remove(&presence.staff_id);
                    }
                    _ => {}
                }
            }
        }
        assert_eq!(at_lunch, 0, "nobody signed in at 12:30");
        assert_eq!(here.values().map(BTreeSet::len).sum::<usize>(), 0);
    }

    #[test]
    fn the_single_person_window_is_empty_for_the_planned_minutes_only() {
        let hall = hall();
        let (_, plan, log) = day(2);
        let (w, from, to) = plan.empty_window.expect("a single window left empty");
        assert!(
            hall.units
                .iter()
                .any(|u| u.id == hall.windows[w].unit && u.kind == UnitKind::Single)
        );
        let minutes = (to - from).num_minutes();
        assert!((3..=8).contains(&minutes), "{minutes} min");
        assert!(from > t("2026-12-03T09:30:00+08:00") && to < t("2026-12-03T12:00:00+08:00"));
        // Replay who is at the window: empty exactly during [from, to) within the morning period.
        let mut here: BTreeSet<String> = BTreeSet::new();
        let mut empty_spans = Vec::new();
        let mut empty_since = None;
        for (_, p) in presences(&log).filter(|(x, _)| *x == w) {
            match p.action {
                PresenceAction::SignIn => {
                    here.insert(p.staff_id.clone());
                    if let Some(since) = empty_since.take() {
                        empty_spans.push((since, p.at));
                    }
                }
                PresenceAction::SignOut => {
                    here.remove(&p.staff_id);
                    if here.is_empty() {
                        empty_since = Some(p.at);
                    }
                }
                _ => {}
            }
        }
        let in_service: Vec<_> = empty_spans
            .iter()
            .filter(|(a, _)| plan.day.in_service(*a))
            .collect();
        assert_eq!(in_service, vec![&(from, to)]);
    }

    #[test]
    fn step_aways_unreported_absences_hand_overs_and_overruns_happen_in_service_only() {
        let hall = hall();
        let mut overruns = 0;
        let (mut step_aways, mut unreported, mut hand_overs) = (0, 0, 0);
        for seed in [3, 4] {
            let (script, plan, log) = day(seed);
            let mut away_since: HashMap<usize, Time> = HashMap::new();
            let mut here: HashMap<usize, BTreeSet<String>> = HashMap::new();
            for (w, p) in presences(&log) {
                let set = here.entry(w).or_default();
                match p.action {
                    PresenceAction::StepAway => {
                        assert!(plan.day.in_service(p.at), "step-away in service: {p:?}");
                        assert!(p.reason.is_some());
                        assert!(!script.windows[w].single, "single units never step away");
                        step_aways += 1;
                        away_since.insert(w, p.at);
                    }
                    PresenceAction::Return => {
                        let since = away_since.remove(&w).expect("return after step-away");
                        overruns += usize::from(p.at - since > TimeDelta::minutes(30));
                    }
                    PresenceAction::SignIn => {
                        if !set.is_empty() && p.staff_id != hall.windows[w].a_post {
                            hand_overs += 1;
                        }
                        set.insert(p.staff_id.clone());
                    }
                    PresenceAction::SignOut => {
                        set.remove(&p.staff_id);
                        if set.is_empty() && plan.day.in_service(p.at) && !script.windows[w].single
                        {
                            unreported += 1;
                        }
                    }
                }
            }
        }
        assert!(step_aways >= 20, "{step_aways}");
        assert!(overruns >= 1, "one in six step-aways overruns 30 min");
        assert!(overruns * 3 < step_aways, "{overruns}/{step_aways}");
        assert!(unreported >= 3, "{unreported}");
        assert!(hand_overs >= 3, "{hand_overs}");
    }

    #[test]
    fn tickets_only_in_service_with_a_morning_peak_and_realistic_ratings() {
        let hall = hall();
        let mut by_hour: BTreeMap<u32, usize> = BTreeMap::new();
        let mut ratings: BTreeMap<RatingLevel, usize> = BTreeMap::new();
        let (mut served, mut no_shows, mut recalls, mut n_ratings) = (0, 0, 0, 0);
        for seed in [5, 6] {
            let (_, plan, log) = day(seed);
            let mut called: HashMap<String, usize> = HashMap::new();
            let mut numbers: BTreeSet<String> = BTreeSet::new();
            for e in tickets(&log) {
                match e.action {
                    TicketAction::Issued => {
                        assert!(plan.day.in_service(e.at), "issued in service: {e:?}");
                        assert!(numbers.insert(e.ticket.clone()), "unique numbers");
                        let prefix = &hall
                            .services
                            .iter()
                            .find(|s| s.id == e.service)
                            .unwrap()
                            .ticket_prefix;
                        assert!(
                            e.ticket.starts_with(prefix.as_str())
                                && e.ticket.len() == prefix.len() + 3
                        );
                        *by_hour.entry(e.at.hour()).or_default() += 1;
                    }
                    TicketAction::Called => {
                        assert!(plan.day.in_service(e.at), "called in service: {e:?}");
                        let w = e.window_id.as_deref().expect("called to a window");
                        let win = hall.windows.iter().find(|x| x.id == w).unwrap();
                        assert!(win.services.contains(&e.service), "the window handles it");
                        let n = called.entry(e.ticket.clone()).or_default();
                        *n += 1;
                        recalls += usize::from(*n == 2);
                    }
                    TicketAction::Served => served += 1,
                    TicketAction::NoShow => no_shows += usize::from(e.window_id.is_some()),
                }
            }
            for (_, a) in &log {
                if let Action::Rating { event, .. } = a {
                    n_ratings += 1;
                    assert!(event.ticket.is_some() && event.staff_id.is_some());
                    *ratings.entry(event.level).or_default() += 1;
                }
            }
        }
        let morning_peak = (9..=10)
            .map(|h| by_hour.get(&h).copied().unwrap_or(0))
            .max()
            .unwrap();
        let afternoon_peak = (14..=17)
            .map(|h| by_hour.get(&h).copied().unwrap_or(0))
            .max()
            .unwrap();
        assert!(morning_peak > afternoon_peak, "{by_hour:?}");
        assert_eq!(by_hour.keys().copied().max(), Some(17), "{by_hour:?}");
        assert!(!by_hour.contains_key(&12) && !by_hour.contains_key(&13));
        assert!(served > 600, "{served} served over two days");
        let share = |n: usize, of: usize| n as f64 / of as f64;
        assert!(
            (0.02..0.09).contains(&share(no_shows, served)),
            "{no_shows}/{served}"
        );
        assert!(recalls >= 1);
        assert!(
            (0.8..0.96).contains(&share(n_ratings, served)),
            "{n_ratings}/{served}"
        );
        let top = share(ratings[&RatingLevel::VerySatisfied], n_ratings);
        let bad = share(
            ratings
                .get(&RatingLevel::Dissatisfied)
                .copied()
                .unwrap_or(0)
                + ratings
                    .get(&RatingLevel::VeryDissatisfied)
                    .copied()
                    .unwrap_or(0),
            n_ratings,
        );
        assert!((0.64..0.76).contains(&top), "{ratings:?}");
        assert!((0.015..0.07).contains(&bad), "{ratings:?}");
    }

    #[test]
    fn device_scenarios_of_the_day() {
        let (script, plan, log) = day(8);
        let closing_end = plan.day.closing_end;

        // The flapping kiosk: about 20 offline/online cycles within a minute.
        let kiosk = plan.flapping.expect("a flapping kiosk");
        let offs: Vec<Time> = log
            .iter()
            .filter_map(|(now, a)| match a {
                Action::Offline { device, .. } if *device == kiosk => Some(*now),
                _ => None,
            })
            .collect();
        assert!(offs.len() >= 20, "{}", offs.len());
        assert!(offs[19] - offs[0] <= TimeDelta::minutes(1));

        // After closing: only the PC left on still heartbeats among the kinds switched off at night.
        let left_on = plan.left_on.expect("a PC left on");
        let mut after: BTreeSet<usize> = BTreeSet::new();
        let mut switched_off: BTreeSet<usize> = BTreeSet::new();
        for (now, a) in &log {
            match a {
                Action::Heartbeat { device, .. }
                    if *now > closing_end
                        && plan::powered_off_at_night(script.devices[*device].kind) =>
                {
                    after.insert(*device);
                }
                Action::Offline { device, .. } if *now > t("2026-12-03T17:00:00+08:00") => {
                    assert!(*now <= closing_end);
                    switched_off.insert(*device);
                }
                _ => {}
            }
        }
        assert_eq!(after, BTreeSet::from([left_on]));
        let night_kinds = (0..script.devices.len())
            .filter(|&d| plan::powered_off_at_night(script.devices[d].kind) && d != left_on)
            .count();
        assert_eq!(switched_off.len(), night_kinds);

        // Internet exposure and the USB stick show in the heartbeats of their PCs, for a while only.
        let exposed = plan.exposed.expect("an intranet PC");
        let usb = plan.usb.expect("a PC with the USB stick");
        let (mut reachable, mut mounted, mut seen_clean_exposed) = (0, 0, false);
        for (_, a) in &log {
            if let Action::Heartbeat { device, heartbeat } = a {
                if *device == exposed {
                    match heartbeat.checks.internet_reachable {
                        Some(true) => reachable += 1,
                        Some(false) => seen_clean_exposed = true,
                        None => panic!("intranet PCs report reachability"),
                    }
                }
                let media = heartbeat.checks.removable_media.clone().unwrap_or_default();
                if *device == usb && !media.is_empty() {
                    assert_eq!(media[0].serial, SIM_USB_SERIAL);
                    mounted += 1;
                } else {
                    assert!(media.is_empty());
                }
            }
        }
        assert!(reachable >= 3 && seen_clean_exposed, "{reachable}");
        assert!(mounted >= 20, "{mounted}");

        // Printer faults of all three kinds over a few days, and punches at arrival and departure.
        let mut codes = BTreeSet::new();
        for seed in [8, 9, 10] {
            let (_, _, log) = day(seed);
            for (_, a) in &log {
                if let Action::Event { event, .. } = a
                    && event.kind == DeviceEventKind::FaultRaised
                {
                    codes.insert(event.code.clone());
                }
            }
        }
        assert_eq!(codes.len(), 3, "{codes:?}");
        let punches = log
            .iter()
            .filter(|(_, a)| matches!(a, Action::Punch { .. }))
            .count();
        assert!(punches >= hall().windows.len() * 4, "{punches}");
    }

    #[test]
    fn started_mid_morning_signs_in_whoever_is_there_and_skips_switched_off_devices() {
        let mut script = Script::new(&hall(), 1).unwrap();
        let actions = script.step(t("2026-12-03T08:50:00+08:00"));
        let connects = actions
            .iter()
            .filter(|a| matches!(a, Action::Connect { .. }))
            .count();
        assert!(connects >= script.n_devices() - 1, "{connects}");
        let sign_ins = actions
            .iter()
            .filter(|a| matches!(a, Action::Presence { presence, .. } if presence.action == PresenceAction::SignIn))
            .count();
        assert!(sign_ins >= hall().windows.len() - 2, "{sign_ins}");

        let mut night = Script::new(&hall(), 1).unwrap();
        let actions = night.step(t("2026-12-03T21:00:00+08:00"));
        assert!(
            actions
                .iter()
                .all(|a| !matches!(a, Action::Presence { .. }))
        );
        let offline = actions
            .iter()
            .filter(|a| matches!(a, Action::Offline { .. }))
            .count();
        assert!(
            offline > 10,
            "window PCs, screens, pads and copiers are off at night"
        );
    }

    #[test]
    fn heartbeats_follow_each_devices_interval_with_increasing_seq() {
        let hall = hall();
        let (script, _, log) = play(3, "2026-12-03T08:25:00+08:00", "2026-12-03T09:25:00+08:00");
        let mut last: HashMap<usize, (String, u64, Time)> = HashMap::new();
        for (now, action) in &log {
            match action {
                Action::Connect { device, boot_id } => {
                    last.insert(*device, (boot_id.clone(), 0, *now));
                }
                Action::Heartbeat { device, heartbeat } => {
                    let (boot, seq, at) =
                        last.get_mut(device).expect("heartbeat only after connect");
                    assert_eq!(&heartbeat.boot_id, boot);
                    assert_eq!(
                        heartbeat.seq,
                        *seq + 1,
                        "seq increases by one within a boot"
                    );
                    if *seq > 0 {
                        let interval = hall.heartbeat_interval_secs(&hall.devices[*device]) as i64;
                        assert_eq!(
                            (*now - *at).num_seconds(),
                            interval,
                            "{}",
                            script.device_id(*device)
                        );
                    }
                    *seq = heartbeat.seq;
                    *at = *now;
                }
                _ => {}
            }
        }
    }

    #[test]
    fn silent_devices_come_back_with_a_new_boot_id() {
        let (script, _, log) = play(11, "2026-12-03T08:25:00+08:00", "2026-12-03T11:25:00+08:00");
        let mut silences = 0;
        let mut drops = 0;
        let mut boots: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        for (_, action) in &log {
            match action {
                Action::Connect { device, boot_id } => {
                    boots.entry(*device).or_default().push(boot_id.clone());
                }
                Action::GoSilent { device, drop_link } => {
                    silences += 1;
                    drops += usize::from(*drop_link);
                    assert_ne!(script.devices[*device].kind, DeviceKind::NetworkGear);
                }
                _ => {}
            }
        }
        assert!(silences >= 10, "an outage every few minutes: {silences}");
        assert!(
            drops > 0 && drops < silences,
            "both kinds: {drops}/{silences}"
        );
        for b in boots.values() {
            let unique: BTreeSet<&String> = b.iter().collect();
            assert_eq!(unique.len(), b.len(), "every boot has a new boot id");
        }
    }
}
