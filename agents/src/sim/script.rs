//! What happens in the simulated hall, as a pure function of the hall configuration, a seeded random generator and
//! the simulated time: [`Script::step`] returns the [`Action`]s due at `now`. It does no IO and never reads a clock,
//! so a test can play a whole day in microseconds and a seed reproduces a run exactly.
//!
//! What it plays so far:
//! - every device comes up with a boot id and heartbeats at its configured interval with plausible metrics (a
//!   random walk);
//! - every few minutes a random non-critical device goes silent, either dropping its link uncleanly (its last will
//!   fires) or just stopping its heartbeats, and comes back minutes later with a new boot id (DEV-1);
//! - now and then a self-service kiosk's printer runs out of paper (`printer_paper_out`) and is refilled (DEV-2);
//! - at start every window's A-post signs in with a badge; from time to time someone in a multi-person unit steps
//!   away with a reason and returns (sometimes after more than 30 minutes, POST-3), or hands the window over to the
//!   B-post and takes it back later (single-person units always hand over, POST-2/POST-4).

use chrono::{DateTime, FixedOffset, TimeDelta};
use hall_protocol::SCHEMA_VERSION;
use hall_protocol::config::{DeviceKind, HallConfig, NetworkPolicy, UnitKind};
use hall_protocol::payload::{
    Checks, DeviceEvent, DeviceEventKind, Heartbeat, Metrics, PeripheralCheck, Presence,
    PresenceAction, PresenceSource, Severity,
};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

type Time = DateTime<FixedOffset>;

/// The printer fault a kiosk raises.
pub const PRINTER_PAPER_OUT: &str = "printer_paper_out";
/// At most this many devices are silent at once, so the hall never looks broken wholesale.
const MAX_SILENT: usize = 2;
const STEP_AWAY_REASONS: [&str; 5] = [
    "取复印件",
    "接听业务电话",
    "向科室负责人请示",
    "如厕",
    "取档案材料",
];

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
    /// Publish a fault event.
    Event { device: usize, event: DeviceEvent },
    /// Publish a presence event at a window.
    Presence { window: usize, presence: Presence },
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum LinkState {
    /// Not started yet.
    Down,
    Up,
    Silent {
        until: Time,
    },
}

#[derive(Debug, Clone)]
struct SimDevice {
    id: String,
    kind: DeviceKind,
    network: NetworkPolicy,
    interval: TimeDelta,
    critical: bool,
    link: LinkState,
    boot_id: String,
    booted_at: Option<Time>,
    seq: u64,
    next_heartbeat: Option<Time>,
    walk: Walk,
    /// The open fault and when it clears.
    fault: Option<(String, Time)>,
}

#[derive(Debug, Clone, PartialEq)]
enum Post {
    Empty,
    A,
    Away { until: Time },
    CoveredByB { until: Time },
}

#[derive(Debug, Clone)]
struct SimWindow {
    id: String,
    a: String,
    b: Option<String>,
    single: bool,
    post: Post,
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
    rng: StdRng,
    devices: Vec<SimDevice>,
    windows: Vec<SimWindow>,
    started: bool,
    next_outage: Option<Time>,
    next_fault: Option<Time>,
    next_presence: Option<Time>,
}

impl Script {
    /// A script for every device and window of `hall`, reproducible from `seed`.
    pub fn new(hall: &HallConfig, seed: u64) -> Script {
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
                post: Post::Empty,
            })
            .collect();
        Script {
            rng,
            devices,
            windows,
            started: false,
            next_outage: None,
            next_fault: None,
            next_presence: None,
        }
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

    /// The actions due at `now`. Call it with non-decreasing times; a late call catches up without bursts (a
    /// device that missed several heartbeat slots sends one).
    pub fn step(&mut self, now: Time) -> Vec<Action> {
        let mut actions = Vec::new();
        if !self.started {
            self.start(now, &mut actions);
            return actions;
        }
        self.step_devices(now, &mut actions);
        self.step_outages(now, &mut actions);
        self.step_faults(now, &mut actions);
        self.step_presence(now, &mut actions);
        actions
    }

    fn start(&mut self, now: Time, actions: &mut Vec<Action>) {
        self.started = true;
        for i in 0..self.devices.len() {
            self.boot(i, now, actions);
            // Spread the first heartbeats over one interval, as real devices switched on at different moments.
            let interval_ms = self.devices[i].interval.num_milliseconds().max(1);
            let offset = TimeDelta::milliseconds(self.rng.random_range(0..interval_ms));
            self.devices[i].next_heartbeat = Some(now + offset);
        }
        for w in 0..self.windows.len() {
            let a = self.windows[w].a.clone();
            actions.push(presence(
                w,
                PresenceAction::SignIn,
                &a,
                None,
                PresenceSource::Badge,
                now,
            ));
            self.windows[w].post = Post::A;
        }
        self.next_outage = Some(now + self.minutes(4, 10));
        self.next_fault = Some(now + self.minutes(6, 15));
        self.next_presence = Some(now + self.minutes(2, 6));
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
                LinkState::Silent { until } if now >= until => self.boot(i, now, actions),
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
            let open = d.fault.as_ref().map(|(code, _)| code.clone());
            vec![PeripheralCheck {
                name: "receipt_printer".into(),
                ok: open.is_none(),
                fault_code: open,
            }]
        } else {
            Vec::new()
        };
        let checks = Checks {
            internet_reachable: (d.network == NetworkPolicy::Intranet).then_some(false),
            peripherals,
            removable_media: None,
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
        let candidates: Vec<usize> = (0..self.devices.len())
            .filter(|&i| {
                let d = &self.devices[i];
                !d.critical && d.link == LinkState::Up && d.fault.is_none()
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
            if let Some((code, clear_at)) = &d.fault
                && now >= *clear_at
                && d.link == LinkState::Up
            {
                let event = device_event(DeviceEventKind::FaultCleared, code, "打印纸已补充", now);
                self.devices[i].fault = None;
                actions.push(Action::Event { device: i, event });
            }
        }
        if self.next_fault.is_none_or(|t| now < t) {
            return;
        }
        self.next_fault = Some(now + self.minutes(8, 20));
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
        let clear_at = now + self.minutes(3, 10);
        self.devices[i].fault = Some((PRINTER_PAPER_OUT.to_owned(), clear_at));
        let event = device_event(
            DeviceEventKind::FaultRaised,
            PRINTER_PAPER_OUT,
            "凭条打印机缺纸",
            now,
        );
        actions.push(Action::Event { device: i, event });
    }

    fn step_presence(&mut self, now: Time, actions: &mut Vec<Action>) {
        for w in 0..self.windows.len() {
            let win = &self.windows[w];
            match win.post {
                Post::Away { until } if now >= until => {
                    let a = win.a.clone();
                    actions.push(presence(
                        w,
                        PresenceAction::Return,
                        &a,
                        None,
                        PresenceSource::Badge,
                        now,
                    ));
                    self.windows[w].post = Post::A;
                }
                Post::CoveredByB { until } if now >= until => {
                    let a = win.a.clone();
                    let b = win.b.clone().unwrap_or_default();
                    // A takes the window back before B leaves, so it is never empty.
                    actions.push(presence(
                        w,
                        PresenceAction::SignIn,
                        &a,
                        None,
                        PresenceSource::Badge,
                        now,
                    ));
                    actions.push(presence(
                        w,
                        PresenceAction::SignOut,
                        &b,
                        None,
                        PresenceSource::Badge,
                        now,
                    ));
                    self.windows[w].post = Post::A;
                }
                _ => {}
            }
        }
        if self.next_presence.is_none_or(|t| now < t) {
            return;
        }
        self.next_presence = Some(now + self.minutes(2, 6));
        let staffed: Vec<usize> = (0..self.windows.len())
            .filter(|&w| self.windows[w].post == Post::A)
            .collect();
        let Some(&w) = staffed.choose(&mut self.rng) else {
            return;
        };
        let win = self.windows[w].clone();
        let hand_over = win.b.is_some() && (win.single || self.rng.random_bool(0.3));
        if hand_over {
            let b = win.b.unwrap_or_default();
            let until = now + self.minutes(15, 45);
            // B arrives before A leaves (附件1 四: 替岗人员到岗后工作人员才能离开).
            actions.push(presence(
                w,
                PresenceAction::SignIn,
                &b,
                None,
                PresenceSource::Badge,
                now,
            ));
            actions.push(presence(
                w,
                PresenceAction::SignOut,
                &win.a,
                None,
                PresenceSource::Badge,
                now,
            ));
            self.windows[w].post = Post::CoveredByB { until };
        } else if !win.single {
            // Mostly short; one in six overruns the 30 minutes of POST-3.
            let until = if self.rng.random_bool(1.0 / 6.0) {
                now + self.minutes(31, 40)
            } else {
                now + self.minutes(3, 20)
            };
            let reason = STEP_AWAY_REASONS
                .choose(&mut self.rng)
                .copied()
                .unwrap_or("离岗");
            actions.push(presence(
                w,
                PresenceAction::StepAway,
                &win.a,
                Some(reason),
                PresenceSource::Login,
                now,
            ));
            self.windows[w].post = Post::Away { until };
        }
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

fn device_event(kind: DeviceEventKind, code: &str, message: &str, at: Time) -> DeviceEvent {
    DeviceEvent {
        v: SCHEMA_VERSION,
        kind,
        code: code.to_owned(),
        severity: Severity::Warning,
        message: message.to_owned(),
        at,
    }
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, HashMap};

    use super::*;

    fn hall() -> HallConfig {
        let text = include_str!("../../../config/hall.example.toml");
        toml::from_str(text).unwrap()
    }

    fn t0() -> Time {
        "2026-12-03T08:25:00+08:00".parse().unwrap()
    }

    /// Plays `hours` of simulated time in one-second steps.
    fn play(seed: u64, hours: i64) -> (Script, Vec<(Time, Action)>) {
        let hall = hall();
        let mut script = Script::new(&hall, seed);
        let mut log = Vec::new();
        for s in 0..hours * 3600 {
            let now = t0() + TimeDelta::seconds(s);
            for a in script.step(now) {
                log.push((now, a));
            }
        }
        (script, log)
    }

    #[test]
    fn start_connects_every_device_and_signs_in_every_a_post() {
        let hall = hall();
        let mut script = Script::new(&hall, 1);
        let actions = script.step(t0());
        let connects = actions
            .iter()
            .filter(|a| matches!(a, Action::Connect { .. }))
            .count();
        assert_eq!(connects, hall.devices.len());
        let sign_ins: Vec<(&str, &str)> = actions
            .iter()
            .filter_map(|a| match a {
                Action::Presence { window, presence }
                    if presence.action == PresenceAction::SignIn =>
                {
                    Some((script.window_id(*window), presence.staff_id.as_str()))
                }
                _ => None,
            })
            .collect();
        let expected: Vec<(&str, &str)> = hall
            .windows
            .iter()
            .map(|w| (w.id.as_str(), w.a_post.as_str()))
            .collect();
        assert_eq!(sign_ins, expected);
    }

    #[test]
    fn same_seed_same_day() {
        let (_, a) = play(7, 1);
        let (_, b) = play(7, 1);
        assert_eq!(a, b);
    }

    #[test]
    fn heartbeats_follow_each_devices_interval_with_increasing_seq() {
        let hall = hall();
        let (script, log) = play(3, 1);
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
                    for v in [heartbeat.metrics.cpu_pct, heartbeat.metrics.mem_pct]
                        .into_iter()
                        .flatten()
                    {
                        assert!((0.0..=100.0).contains(&v));
                    }
                    *seq = heartbeat.seq;
                    *at = *now;
                }
                _ => {}
            }
        }
    }

    #[test]
    fn silent_devices_come_back_with_a_new_boot_id_and_faults_clear() {
        let (script, log) = play(11, 3);
        let mut silences = 0;
        let mut drops = 0;
        let mut boots: BTreeMap<usize, Vec<String>> = BTreeMap::new();
        let mut silent_since: HashMap<usize, Time> = HashMap::new();
        for (now, action) in &log {
            match action {
                Action::Connect { device, boot_id } => {
                    boots.entry(*device).or_default().push(boot_id.clone());
                    silent_since.remove(device);
                }
                Action::GoSilent { device, drop_link } => {
                    silences += 1;
                    drops += usize::from(*drop_link);
                    assert_ne!(
                        script.devices[*device].kind,
                        DeviceKind::NetworkGear,
                        "critical gear stays up"
                    );
                    silent_since.insert(*device, *now);
                }
                Action::Heartbeat { device, .. } => {
                    assert!(
                        !silent_since.contains_key(device),
                        "a silent device sends no heartbeat"
                    );
                }
                _ => {}
            }
        }
        assert!(silences >= 10, "an outage every few minutes: {silences}");
        assert!(
            drops > 0 && drops < silences,
            "both kinds of silence: {drops}/{silences}"
        );
        let rebooted = boots.values().filter(|b| b.len() > 1).count();
        assert!(rebooted > 0);
        for b in boots.values() {
            let unique: std::collections::BTreeSet<&String> = b.iter().collect();
            assert_eq!(unique.len(), b.len(), "every boot has a new boot id");
        }

        let faults: Vec<&DeviceEvent> = log
            .iter()
            .filter_map(|(_, a)| match a {
                Action::Event { event, .. } => Some(event),
                _ => None,
            })
            .collect();
        let raised = faults
            .iter()
            .filter(|e| e.kind == DeviceEventKind::FaultRaised)
            .count();
        let cleared = faults
            .iter()
            .filter(|e| e.kind == DeviceEventKind::FaultCleared)
            .count();
        assert!(raised >= 3 && faults.iter().all(|e| e.code == PRINTER_PAPER_OUT));
        assert!(
            cleared + 1 >= raised,
            "faults clear again: {raised} raised, {cleared} cleared"
        );
    }

    #[test]
    fn windows_are_never_left_empty_by_hand_overs_and_single_units_never_step_away() {
        let hall = hall();
        let (script, log) = play(5, 4);
        // Who is signed in per window, from the events alone.
        let mut present: HashMap<usize, Vec<String>> = HashMap::new();
        let (mut step_aways, mut hand_overs, mut long_aways) = (0, 0, 0);
        let mut away_since: HashMap<usize, Time> = HashMap::new();
        for (now, action) in &log {
            let Action::Presence { window, presence } = action else {
                continue;
            };
            let here = present.entry(*window).or_default();
            let single = script.windows[*window].single;
            match presence.action {
                PresenceAction::SignIn => {
                    if !here.is_empty() {
                        hand_overs +=
                            usize::from(presence.staff_id != hall.windows[*window].a_post);
                    }
                    here.push(presence.staff_id.clone());
                }
                PresenceAction::SignOut => {
                    here.retain(|s| s != &presence.staff_id);
                    assert!(
                        !here.is_empty(),
                        "sign-out leaves someone at {}",
                        script.window_id(*window)
                    );
                }
                PresenceAction::StepAway => {
                    assert!(
                        !single,
                        "single-person units hand over instead of stepping away"
                    );
                    assert!(
                        presence.reason.is_some(),
                        "a step-away is reported with a reason (POST-3)"
                    );
                    step_aways += 1;
                    away_since.insert(*window, *now);
                }
                PresenceAction::Return => {
                    let since = away_since.remove(window).expect("return after step-away");
                    long_aways += usize::from(*now - since > TimeDelta::minutes(30));
                }
            }
        }
        assert!(
            step_aways >= 10 && hand_overs >= 3,
            "{step_aways} step-aways, {hand_overs} hand-overs"
        );
        assert!(long_aways >= 1, "some step-aways overrun 30 minutes");
    }
}
