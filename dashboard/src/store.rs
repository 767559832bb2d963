//! The live store: the one copy of the hall's state that every view reads.
//!
//! It is filled by [`crate::live`] from the gateway's WebSocket and holds devices, windows and open alerts keyed by
//! id, plus the hall's clock. Each device and window sits in its own signal, so a delta that touches one device
//! re-renders that device's row and not the whole table; the maps themselves only notify when an id appears or
//! disappears. Nothing here does IO.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, FixedOffset, Utc};
use hall_protocol::api::{
    AlertState, AlertView, Change, DeviceState, DeviceView, HallClock, QueueView, SatisfactionView,
    Snapshot, WindowView,
};
use leptos::prelude::*;

/// The longest the dashboard extrapolates the hall clock past the last clock message. Beyond this the display
/// holds still rather than drift away from what the gateway says.
const MAX_CLOCK_EXTRAPOLATION_SECS: f64 = 300.0;

/// The hall clock as last received, with the (monotonic, page-relative) time it arrived.
#[derive(Debug, Clone, PartialEq)]
pub struct ClockSample {
    pub clock: HallClock,
    /// `performance.now()` in milliseconds when the sample arrived.
    pub received_ms: f64,
}

/// State of the WebSocket link, for the connection banner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// First connection attempt of this page, nothing has failed yet.
    Connecting,
    /// A snapshot has been applied and deltas flow.
    Live,
    /// The link failed or was dropped for a resync; a new connection is under way.
    Reconnecting,
}

/// Device counts by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StateCounts {
    pub online: usize,
    pub stale: usize,
    pub offline: usize,
    pub fault: usize,
    pub unknown: usize,
}

impl StateCounts {
    pub fn get(&self, state: DeviceState) -> usize {
        match state {
            DeviceState::Online => self.online,
            DeviceState::Stale => self.stale,
            DeviceState::Offline => self.offline,
            DeviceState::Fault => self.fault,
            DeviceState::Unknown => self.unknown,
        }
    }

    fn add(&mut self, state: DeviceState) {
        match state {
            DeviceState::Online => self.online += 1,
            DeviceState::Stale => self.stale += 1,
            DeviceState::Offline => self.offline += 1,
            DeviceState::Fault => self.fault += 1,
            DeviceState::Unknown => self.unknown += 1,
        }
    }

    pub fn total(&self) -> usize {
        self.online + self.stale + self.offline + self.fault + self.unknown
    }
}

/// Device states in the order the dashboard lists them: the ones needing attention first.
pub const DEVICE_STATES: [DeviceState; 5] = [
    DeviceState::Fault,
    DeviceState::Offline,
    DeviceState::Stale,
    DeviceState::Unknown,
    DeviceState::Online,
];

/// Sort rank of a device state: lower needs attention sooner.
pub fn state_rank(state: DeviceState) -> u8 {
    DEVICE_STATES
        .iter()
        .position(|s| *s == state)
        .map_or(u8::MAX, |i| i as u8)
}

/// The shared, reactive store. `Copy`, so views take it by value from the context.
#[derive(Clone, Copy)]
pub struct Store {
    pub link: RwSignal<LinkState>,
    pub hall_name: RwSignal<String>,
    pub clock: RwSignal<Option<ClockSample>>,
    pub devices: RwSignal<BTreeMap<String, ArcRwSignal<DeviceView>>>,
    pub windows: RwSignal<BTreeMap<String, ArcRwSignal<WindowView>>>,
    /// Open and acknowledged alerts; resolved ones are dropped.
    pub alerts: RwSignal<BTreeMap<u64, AlertView>>,
    /// Queue KPIs per service type, keyed by service id.
    pub queues: RwSignal<BTreeMap<String, QueueView>>,
    /// Today's satisfaction (RAT-1), once the gateway has sent it.
    pub satisfaction: RwSignal<Option<SatisfactionView>>,
    /// `performance.now()` in milliseconds, advanced once a second to move timers and the clock along.
    pub tick_ms: RwSignal<f64>,
}

impl Default for Store {
    fn default() -> Self {
        Self::new()
    }
}

impl Store {
    pub fn new() -> Self {
        Store {
            link: RwSignal::new(LinkState::Connecting),
            hall_name: RwSignal::new(String::new()),
            clock: RwSignal::new(None),
            devices: RwSignal::new(BTreeMap::new()),
            windows: RwSignal::new(BTreeMap::new()),
            alerts: RwSignal::new(BTreeMap::new()),
            queues: RwSignal::new(BTreeMap::new()),
            satisfaction: RwSignal::new(None),
            tick_ms: RwSignal::new(0.0),
        }
    }

    /// Whether a snapshot has been applied and the link is up.
    pub fn connected(&self) -> bool {
        self.link.get() == LinkState::Live
    }

    /// Replaces the whole state with a snapshot. Signals of ids present before and after are updated in place (and
    /// only when the value changed), so a resync does not rebuild the page.
    pub fn apply_snapshot(&self, snapshot: Snapshot, now_ms: f64) {
        let Snapshot {
            hall_name,
            clock,
            devices,
            windows,
            alerts,
            queues,
            satisfaction,
            ..
        } = snapshot;
        if self.hall_name.with_untracked(|n| *n != hall_name) {
            self.hall_name.set(hall_name);
        }
        self.set_clock(clock, now_ms);
        replace_all(self.devices, devices, |d| d.id.clone());
        replace_all(self.windows, windows, |w| w.id.clone());
        let alerts: BTreeMap<u64, AlertView> = alerts
            .into_iter()
            .filter(|a| a.state != AlertState::Resolved)
            .map(|a| (a.id, a))
            .collect();
        if self.alerts.with_untracked(|old| *old != alerts) {
            self.alerts.set(alerts);
        }
        let queues: BTreeMap<String, QueueView> =
            queues.into_iter().map(|q| (q.service.clone(), q)).collect();
        if self.queues.with_untracked(|old| *old != queues) {
            self.queues.set(queues);
        }
        if self.satisfaction.with_untracked(|old| *old != satisfaction) {
            self.satisfaction.set(satisfaction);
        }
    }

    /// Puts an alert the API returned (e.g. after an acknowledgement) into the store, as a delta would.
    pub fn put_alert(&self, alert: AlertView, now_ms: f64) {
        self.apply_change(Change::Alert(alert), now_ms);
    }

    /// Applies one change of a delta.
    pub fn apply_change(&self, change: Change, now_ms: f64) {
        match change {
            Change::Device(device) => upsert(self.devices, device.id.clone(), device),
            Change::Window(window) => upsert(self.windows, window.id.clone(), window),
            Change::Alert(alert) => {
                if alert.state == AlertState::Resolved {
                    if self.alerts.with_untracked(|m| m.contains_key(&alert.id)) {
                        self.alerts.update(|m| {
                            m.remove(&alert.id);
                        });
                    }
                } else if self
                    .alerts
                    .with_untracked(|m| m.get(&alert.id) != Some(&alert))
                {
                    self.alerts.update(|m| {
                        m.insert(alert.id, alert);
                    });
                }
            }
            Change::Clock(clock) => self.set_clock(clock, now_ms),
            Change::Queue(queue) => {
                if self
                    .queues
                    .with_untracked(|m| m.get(&queue.service) != Some(&queue))
                {
                    self.queues.update(|m| {
                        m.insert(queue.service.clone(), queue);
                    });
                }
            }
            Change::Satisfaction(sat) => {
                if self
                    .satisfaction
                    .with_untracked(|old| old.as_ref() != Some(&sat))
                {
                    self.satisfaction.set(Some(sat));
                }
            }
        }
    }

    fn set_clock(&self, clock: HallClock, now_ms: f64) {
        self.clock.set(Some(ClockSample {
            clock,
            received_ms: now_ms,
        }));
    }

    /// The hall's current time: the last clock the gateway sent, moved on by the time elapsed since (at the clock's
    /// speed). Reactive: re-evaluates every tick.
    pub fn hall_now(&self) -> Option<DateTime<FixedOffset>> {
        let tick = self.tick_ms.get();
        self.clock.with(|c| {
            c.as_ref().map(|sample| {
                let elapsed_secs = ((tick - sample.received_ms) / 1000.0 * sample.clock.speed)
                    .clamp(
                        0.0,
                        MAX_CLOCK_EXTRAPOLATION_SECS * sample.clock.speed.max(1.0),
                    );
                sample.clock.time + Duration::milliseconds((elapsed_secs * 1000.0) as i64)
            })
        })
    }

    /// The hall's UTC offset, from the last clock message (UTC+8 until one arrived). Not reactive.
    pub fn hall_offset(&self) -> FixedOffset {
        self.clock
            .with_untracked(|c| c.as_ref().map(|s| *s.clock.time.offset()))
            .unwrap_or_else(|| FixedOffset::east_opt(8 * 3_600).expect("valid offset"))
    }

    /// Seconds from `then` to the hall's current time, never negative.
    pub fn secs_since(&self, then: DateTime<Utc>) -> Option<i64> {
        self.hall_now()
            .map(|now| (now.with_timezone(&Utc) - then).num_seconds().max(0))
    }

    /// Device counts by state. Reactive on every device.
    pub fn device_counts(&self) -> StateCounts {
        self.devices.with(|m| {
            let mut counts = StateCounts::default();
            for d in m.values() {
                counts.add(d.with(|d| d.state));
            }
            counts
        })
    }
}

/// Inserts or updates one keyed entry, notifying the map only when the id is new.
fn upsert<T>(map: RwSignal<BTreeMap<String, ArcRwSignal<T>>>, id: String, value: T)
where
    T: PartialEq + Send + Sync + 'static,
{
    let existing = map.with_untracked(|m| m.get(&id).cloned());
    match existing {
        Some(sig) => {
            if sig.with_untracked(|old| *old != value) {
                sig.set(value);
            }
        }
        None => map.update(|m| {
            m.insert(id, ArcRwSignal::new(value));
        }),
    }
}

/// Makes the map hold exactly `values`, reusing the signals of ids that stay.
fn replace_all<T>(
    map: RwSignal<BTreeMap<String, ArcRwSignal<T>>>,
    values: Vec<T>,
    id_of: impl Fn(&T) -> String,
) where
    T: PartialEq + Send + Sync + 'static,
{
    let mut keys_changed = false;
    let mut next = BTreeMap::new();
    let old = map.with_untracked(|m| m.clone());
    for value in values {
        let id = id_of(&value);
        match old.get(&id) {
            Some(sig) => {
                if sig.with_untracked(|v| *v != value) {
                    sig.set(value);
                }
                next.insert(id, sig.clone());
            }
            None => {
                keys_changed = true;
                next.insert(id, ArcRwSignal::new(value));
            }
        }
    }
    if keys_changed || next.len() != old.len() {
        map.set(next);
    }
}
