//! The plan of one simulated working day, drawn up front from the calendar and a per-day seed: when each window's
//! staff arrive, punch, step away, hand over and leave; who is on leave; which window is left empty; and the
//! day's device scenarios (power on before `pre_open` and off at closing, a PC left on, a flapping kiosk, an
//! intranet PC that briefly reaches the internet, an unregistered USB stick). Pure, so a test can read the whole
//! day before anything is played.
//!
//! What a day looks like (sim times; winter timetable):
//! - 08:03–08:14 window PCs, screens, rating pads and copiers power on;
//! - 08:20–08:35 staff punch in and sign in at their windows (about one in seven late, up to 08:40);
//! - service periods: in multi-person units, reported step-aways (one in six overruns 30 minutes, POST-3),
//!   unreported absences (sign-out, sign-in later), hand-overs to B and back; in single-person units hand-overs
//!   only, except one window left empty for 3–8 minutes between 09:40 and 10:30 (POST-2);
//! - one window's A-post is on sick leave all day on the first simulated day; the B-post works it (POST-4);
//! - 09:00–11:00 an unregistered USB stick is mounted on a window PC for 20–50 minutes (DEV-5);
//! - 09:45–10:45 a self-service kiosk flaps: 20 offline/online cycles within a minute (DEV-1);
//! - 12:00–12:04 everyone signs out for lunch and punches out; back 13:50–14:02 (summer 14:20–14:32);
//! - 14:40–16:00 an intranet PC reports internet reachability for 3–6 minutes (DEV-4);
//! - after the last period everyone signs out and punches out; by the end of `closing` (18:00 winter) every window
//!   PC, screen, rating pad and copier is off except one window PC left on (DEV-3).

use chrono::{DateTime, FixedOffset, TimeDelta};
use hall_protocol::config::{DeviceKind, NetworkPolicy};
use hall_protocol::payload::{PresenceAction, PresenceSource, PunchMethod};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};

use super::calendar::{Period, WorkingDay};

type Time = DateTime<FixedOffset>;

const STEP_AWAY_REASONS: [&str; 5] = [
    "取复印件",
    "接听业务电话",
    "向科室负责人请示",
    "如厕",
    "取档案材料",
];

/// One thing that happens at a planned time.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanItem {
    Presence {
        window: usize,
        action: PresenceAction,
        staff: String,
        reason: Option<String>,
        source: PresenceSource,
    },
    Punch {
        staff: String,
        method: PunchMethod,
    },
    PowerOn {
        device: usize,
    },
    PowerOff {
        device: usize,
    },
    /// The device's internet probe result changes (DEV-4).
    Internet {
        device: usize,
        reachable: bool,
    },
    /// The unregistered USB stick is plugged in or pulled out (DEV-5).
    Media {
        device: usize,
        mounted: bool,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub at: Time,
    pub item: PlanItem,
}

/// The leave the simulated day plays, as it is registered with the gateway (POST-5).
#[derive(Debug, Clone, PartialEq)]
pub struct Leave {
    pub window: usize,
    pub staff_id: String,
    pub substitute: String,
    pub start: Time,
    pub end: Time,
}

/// What the planner needs to know about a window.
#[derive(Debug, Clone)]
pub struct PlanWindow {
    pub a: String,
    pub b: Option<String>,
    pub single: bool,
}

/// What the planner needs to know about a device.
#[derive(Debug, Clone)]
pub struct PlanDevice {
    pub kind: DeviceKind,
    pub network: NetworkPolicy,
}

/// The kinds switched off after hours (DEV-3).
pub fn powered_off_at_night(kind: DeviceKind) -> bool {
    matches!(
        kind,
        DeviceKind::WindowPc
            | DeviceKind::WindowScreen
            | DeviceKind::RatingPad
            | DeviceKind::Copier
    )
}

/// One day's plan.
#[derive(Debug, Clone)]
pub struct DayPlan {
    pub day: WorkingDay,
    /// Sorted by time; items at the same time keep their planned order.
    pub items: Vec<Planned>,
    pub leave: Option<Leave>,
    /// The single-person window left empty, and when (POST-2).
    pub empty_window: Option<(usize, Time, Time)>,
    pub left_on: Option<usize>,
    pub flapping: Option<usize>,
    pub exposed: Option<usize>,
    pub usb: Option<usize>,
}

struct Planner {
    rng: StdRng,
    items: Vec<Planned>,
}

impl Planner {
    fn push(&mut self, at: Time, item: PlanItem) {
        self.items.push(Planned { at, item });
    }

    fn presence(
        &mut self,
        at: Time,
        window: usize,
        action: PresenceAction,
        staff: &str,
        reason: Option<&str>,
    ) {
        let source = if action == PresenceAction::StepAway || action == PresenceAction::Return {
            PresenceSource::Login
        } else {
            PresenceSource::Badge
        };
        self.push(
            at,
            PlanItem::Presence {
                window,
                action,
                staff: staff.to_owned(),
                reason: reason.map(str::to_owned),
                source,
            },
        );
    }

    fn secs(&mut self, lo: i64, hi: i64) -> TimeDelta {
        TimeDelta::seconds(self.rng.random_range(lo..=hi))
    }

    fn mins(&mut self, lo: i64, hi: i64) -> TimeDelta {
        self.secs(lo * 60, hi * 60)
    }

    fn punch(&mut self, at: Time, staff: &str) {
        let method = if self.rng.random_bool(0.7) {
            PunchMethod::Face
        } else {
            PunchMethod::Fingerprint
        };
        self.push(
            at,
            PlanItem::Punch {
                staff: staff.to_owned(),
                method,
            },
        );
    }
}

/// Draws up the plan of `day`. `seed` is mixed with the date, so every day differs and each is reproducible;
/// `with_leave` puts one A-post on leave (the first simulated day).
pub fn plan_day(
    day: &WorkingDay,
    windows: &[PlanWindow],
    devices: &[PlanDevice],
    seed: u64,
    with_leave: bool,
) -> DayPlan {
    let day_seed = seed
        ^ (day.date.to_string().bytes().fold(0u64, |h, b| {
            h.wrapping_mul(0x100_0000_01b3).wrapping_add(u64::from(b))
        }));
    let mut p = Planner {
        rng: StdRng::seed_from_u64(day_seed),
        items: Vec::new(),
    };
    let morning = day.morning();

    // The single-person window left empty in the morning, and the window whose A-post is on leave.
    let singles: Vec<usize> = (0..windows.len()).filter(|&w| windows[w].single).collect();
    let empty = morning.and_then(|_| singles.choose(&mut p.rng).copied());
    let with_b: Vec<usize> = (0..windows.len())
        .filter(|&w| windows[w].b.is_some() && Some(w) != empty)
        .collect();
    let leave_window = if with_leave {
        with_b.choose(&mut p.rng).copied()
    } else {
        None
    };
    let leave = leave_window.map(|w| Leave {
        window: w,
        staff_id: windows[w].a.clone(),
        substitute: windows[w].b.clone().unwrap_or_default(),
        start: day.pre_open - TimeDelta::minutes(15),
        end: day.closing_end,
    });

    let mut empty_window = None;
    for (w, win) in windows.iter().enumerate() {
        let on_leave = Some(w) == leave_window;
        let person = if on_leave {
            win.b.clone().unwrap_or_default()
        } else {
            win.a.clone()
        };
        let b = if on_leave { None } else { win.b.clone() };
        for (k, period) in day.periods.iter().enumerate() {
            let first = k == 0;
            let late = p.rng.random_bool(if first { 0.15 } else { 0.1 });
            let arrive = if late {
                period.start + p.mins(1, 10)
            } else if first && morning.is_some() {
                // From five minutes after pre_open to five minutes after opening.
                (day.pre_open + TimeDelta::minutes(5)).max(period.start - TimeDelta::minutes(10))
                    + p.secs(0, 15 * 60)
            } else {
                period.start - p.mins(0, 10)
            };
            let arrive = arrive.max(day.pre_open + TimeDelta::seconds(30));
            let punch_in = (arrive - p.mins(1, 4)).max(day.pre_open);
            p.punch(punch_in, &person);
            p.presence(arrive, w, PresenceAction::SignIn, &person, None);
            let leave_at = period.end + p.secs(0, 4 * 60);
            let gap = if Some(w) == empty && first {
                let start = morning.map_or(period.start, |m| m.start) + p.mins(70, 120);
                let back = start + p.mins(3, 8);
                p.presence(start, w, PresenceAction::SignOut, &person, None);
                p.presence(back, w, PresenceAction::SignIn, &person, None);
                empty_window = Some((w, start, back));
                None
            } else {
                Some(())
            };
            if gap.is_some() {
                incidents(&mut p, w, win.single, &person, b.as_deref(), arrive, period);
            }
            p.presence(leave_at, w, PresenceAction::SignOut, &person, None);
            let punch_out = leave_at + p.mins(1, 6);
            p.punch(punch_out, &person);
        }
    }

    // Devices: on before pre_open, off by the end of closing, except one window PC left on.
    let pcs: Vec<usize> = (0..devices.len())
        .filter(|&d| devices[d].kind == DeviceKind::WindowPc)
        .collect();
    let left_on = pcs.choose(&mut p.rng).copied();
    for (d, dev) in devices.iter().enumerate() {
        if !powered_off_at_night(dev.kind) {
            continue;
        }
        let on = day.pre_open - p.secs(60, 12 * 60);
        p.push(on, PlanItem::PowerOn { device: d });
        if Some(d) != left_on {
            let off = day.closing_end - p.secs(30, 10 * 60);
            p.push(off, PlanItem::PowerOff { device: d });
        }
    }
    let kiosks: Vec<usize> = (0..devices.len())
        .filter(|&d| devices[d].kind == DeviceKind::SelfServiceKiosk)
        .collect();
    let flapping = morning.and_then(|_| kiosks.choose(&mut p.rng).copied());
    if let (Some(d), Some(m)) = (flapping, morning) {
        let start = m.start + p.mins(75, 135);
        for i in 0..20 {
            let t = start + TimeDelta::milliseconds(i * 3000);
            p.push(t, PlanItem::PowerOff { device: d });
            p.push(
                t + TimeDelta::milliseconds(1500),
                PlanItem::PowerOn { device: d },
            );
        }
    }
    let intranet_pcs: Vec<usize> = pcs
        .iter()
        .copied()
        .filter(|&d| devices[d].network == NetworkPolicy::Intranet)
        .collect();
    let exposed = intranet_pcs.choose(&mut p.rng).copied();
    if let (Some(d), Some(last)) = (exposed, day.periods.last()) {
        let start = if day.periods.len() > 1 {
            last.start + p.mins(40, 100)
        } else {
            last.start + p.mins(60, 120)
        };
        let end = start + p.mins(3, 6);
        p.push(
            start,
            PlanItem::Internet {
                device: d,
                reachable: true,
            },
        );
        p.push(
            end,
            PlanItem::Internet {
                device: d,
                reachable: false,
            },
        );
    }
    let others: Vec<usize> = pcs
        .iter()
        .copied()
        .filter(|&d| Some(d) != exposed)
        .collect();
    let usb = morning.and_then(|_| others.choose(&mut p.rng).copied());
    if let (Some(d), Some(m)) = (usb, morning) {
        let start = m.start + p.mins(30, 150);
        let end = start + p.mins(20, 50);
        p.push(
            start,
            PlanItem::Media {
                device: d,
                mounted: true,
            },
        );
        p.push(
            end,
            PlanItem::Media {
                device: d,
                mounted: false,
            },
        );
    }

    let mut items = p.items;
    items.sort_by_key(|i| i.at);
    DayPlan {
        day: day.clone(),
        items,
        leave,
        empty_window,
        left_on,
        flapping,
        exposed,
        usb,
    }
}

/// Step-aways, unreported absences and hand-overs inside one service period, never overlapping and never
/// running past the period's end.
fn incidents(
    p: &mut Planner,
    w: usize,
    single: bool,
    person: &str,
    b: Option<&str>,
    arrive: Time,
    period: &Period,
) {
    let mut cursor = arrive.max(period.start) + p.mins(10, 50);
    let latest_end = period.end - TimeDelta::minutes(5);
    loop {
        let roll: f64 = p.rng.random();
        let (kind, duration) = if single {
            if b.is_none() || roll < 0.5 {
                (None, p.mins(20, 60))
            } else {
                (Some("hand_over"), p.mins(15, 45))
            }
        } else if roll < 0.5 {
            // One in six reported step-aways overruns the 30 minutes of POST-3.
            let d = if p.rng.random_bool(1.0 / 6.0) {
                p.mins(31, 40)
            } else {
                p.mins(3, 20)
            };
            (Some("step_away"), d)
        } else if roll < 0.65 {
            (Some("unreported"), p.mins(4, 15))
        } else if roll < 0.85 && b.is_some() {
            (Some("hand_over"), p.mins(15, 45))
        } else {
            (None, p.mins(20, 60))
        };
        let end = cursor + duration;
        if end > latest_end {
            return;
        }
        match kind {
            Some("step_away") => {
                let reason = STEP_AWAY_REASONS
                    .choose(&mut p.rng)
                    .copied()
                    .unwrap_or("离岗");
                p.presence(cursor, w, PresenceAction::StepAway, person, Some(reason));
                p.presence(end, w, PresenceAction::Return, person, None);
            }
            Some("unreported") => {
                p.presence(cursor, w, PresenceAction::SignOut, person, None);
                p.presence(end, w, PresenceAction::SignIn, person, None);
            }
            Some(_) => {
                let b = b.unwrap_or_default();
                // B arrives before A leaves, and A is back before B goes (附件1 四).
                p.presence(cursor, w, PresenceAction::SignIn, b, None);
                p.presence(cursor, w, PresenceAction::SignOut, person, None);
                p.presence(end, w, PresenceAction::SignIn, person, None);
                p.presence(end, w, PresenceAction::SignOut, b, None);
            }
            None => {}
        }
        cursor = end + p.mins(15, 60);
    }
}
