//! Device liveness and faults (DEV-1, DEV-2): one state machine per device, driven by receive times.
//!
//! Liveness comes from the gateway's own monotonic receive time, never from the device's timestamp. A device is
//! `online` while heartbeats arrive, `stale` once a heartbeat is half an interval late, and `offline` strictly
//! after `missed_heartbeats × interval` without one, or at once on its `offline` status (clean stop or last will).
//! A heartbeat arriving exactly at the deadline still counts. A retained `offline` from another boot than the one
//! we hear heartbeats from is stale and ignored.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use hall_protocol::api::{DeviceState, DeviceView, FaultView, MaintenanceView};
use hall_protocol::config::{DeviceKind, ExpectedOn};
use hall_protocol::payload::{
    DeviceEvent, DeviceEventKind, Heartbeat, LinkState, Metrics, StatusPayload,
};

use crate::clock::Now;

/// A device clock further off than this is reported as skewed.
const CLOCK_SKEW_REPORT_SECS: i64 = 30;

/// What the config says about a device.
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceSpec {
    pub id: String,
    pub name: String,
    pub kind: DeviceKind,
    pub location: String,
    pub window: Option<String>,
    pub interval: Duration,
    pub missed_heartbeats: u32,
    pub expected_on: ExpectedOn,
}

impl DeviceSpec {
    /// Silence after which a device is `offline` (DEV-1).
    pub fn offline_after(&self) -> Duration {
        self.interval * self.missed_heartbeats.max(1)
    }

    /// Silence after which a device is `stale`: one heartbeat late by half an interval.
    pub fn stale_after(&self) -> Duration {
        (self.interval + self.interval / 2).min(self.offline_after())
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Link {
    /// Never heard from.
    Unknown,
    /// Heard from at `last_seen`.
    Alive,
    /// Said goodbye (or its last will did).
    Down,
}

/// Outcome of applying a status message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusOutcome {
    Applied,
    /// A retained `offline` from another boot than the live one: ignored.
    StaleOffline,
}

/// One device's live state.
#[derive(Debug, Clone)]
pub struct Device {
    pub spec: DeviceSpec,
    link: Link,
    last_seen_mono: Option<Duration>,
    last_seen_wall: Option<DateTime<Utc>>,
    boot_id: Option<String>,
    last_seq: Option<u64>,
    uptime_secs: Option<u64>,
    metrics: Option<Metrics>,
    faults: BTreeMap<String, FaultView>,
    clock_skew_secs: Option<i64>,
    /// Heartbeats that a sequence gap shows were lost in transit.
    pub missed_seq: u64,
    /// The IT centre's maintenance mark (DEV-6); set and expired by the hall.
    pub maintenance: Option<MaintenanceView>,
}

impl Device {
    pub fn new(spec: DeviceSpec) -> Self {
        Device {
            spec,
            link: Link::Unknown,
            last_seen_mono: None,
            last_seen_wall: None,
            boot_id: None,
            last_seq: None,
            uptime_secs: None,
            metrics: None,
            faults: BTreeMap::new(),
            clock_skew_secs: None,
            missed_seq: 0,
            maintenance: None,
        }
    }

    /// The state at `now` (DEV-1, DEV-2).
    pub fn state(&self, now: Duration) -> DeviceState {
        match self.link {
            Link::Unknown => DeviceState::Unknown,
            Link::Down => DeviceState::Offline,
            Link::Alive => {
                let age = now.saturating_sub(self.last_seen_mono.unwrap_or(now));
                if age > self.spec.offline_after() {
                    DeviceState::Offline
                } else if !self.faults.is_empty() {
                    DeviceState::Fault
                } else if age > self.spec.stale_after() {
                    DeviceState::Stale
                } else {
                    DeviceState::Online
                }
            }
        }
    }

    /// When the state will next change by the passage of time alone, if nothing arrives.
    pub fn next_deadline(&self) -> Option<Duration> {
        let seen = self.last_seen_mono?;
        if self.link != Link::Alive {
            return None;
        }
        Some(seen + self.spec.offline_after())
    }

    fn seen(&mut self, now: Now) {
        self.link = Link::Alive;
        self.last_seen_mono = Some(now.mono);
        self.last_seen_wall = Some(now.wall);
    }

    pub fn on_heartbeat(&mut self, hb: &Heartbeat, now: Now) {
        if self.boot_id.as_deref() == Some(hb.boot_id.as_str()) {
            if let Some(last) = self.last_seq {
                if hb.seq > last + 1 {
                    self.missed_seq += hb.seq - last - 1;
                }
            }
        } else {
            self.boot_id = Some(hb.boot_id.clone());
        }
        self.last_seq = Some(hb.seq);
        self.uptime_secs = Some(hb.uptime_secs);
        self.metrics = Some(hb.metrics.clone());
        let skew = (hb.sent_at.with_timezone(&Utc) - now.wall).num_seconds();
        self.clock_skew_secs = (skew.abs() > CLOCK_SKEW_REPORT_SECS).then_some(skew);
        self.seen(now);
    }

    pub fn on_status(&mut self, status: &StatusPayload, now: Now) -> StatusOutcome {
        match status.state {
            LinkState::Online => {
                if self.boot_id.as_deref() != Some(status.boot_id.as_str()) {
                    self.boot_id = Some(status.boot_id.clone());
                    self.last_seq = None;
                }
                self.seen(now);
                StatusOutcome::Applied
            }
            LinkState::Offline => {
                let live_boot =
                    self.link == Link::Alive && self.state(now.mono) != DeviceState::Offline;
                if live_boot && self.boot_id.as_deref() != Some(status.boot_id.as_str()) {
                    return StatusOutcome::StaleOffline;
                }
                if self.link == Link::Unknown {
                    self.boot_id = Some(status.boot_id.clone());
                }
                self.link = Link::Down;
                StatusOutcome::Applied
            }
        }
    }

    pub fn on_event(&mut self, ev: &DeviceEvent, now: Now) {
        match ev.kind {
            DeviceEventKind::FaultRaised => {
                self.faults
                    .entry(ev.code.clone())
                    .or_insert_with(|| FaultView {
                        code: ev.code.clone(),
                        severity: ev.severity,
                        message: ev.message.clone(),
                        since: now.wall,
                    });
            }
            DeviceEventKind::FaultCleared => {
                self.faults.remove(&ev.code);
            }
        }
        // An event is a sign of life too.
        self.seen(now);
    }

    pub fn faults(&self) -> impl Iterator<Item = &FaultView> {
        self.faults.values()
    }

    pub fn last_seen_wall(&self) -> Option<DateTime<Utc>> {
        self.last_seen_wall
    }

    pub fn view(&self, now: Duration) -> DeviceView {
        DeviceView {
            id: self.spec.id.clone(),
            name: self.spec.name.clone(),
            kind: self.spec.kind,
            location: self.spec.location.clone(),
            window: self.spec.window.clone(),
            state: self.state(now),
            last_seen: self.last_seen_wall,
            heartbeat_interval_secs: self.spec.interval.as_secs(),
            boot_id: self.boot_id.clone(),
            uptime_secs: self.uptime_secs,
            metrics: self.metrics.clone(),
            faults: self.faults.values().cloned().collect(),
            maintenance: self.maintenance.clone(),
            expected_on: Some(self.spec.expected_on),
            clock_skew_secs: self.clock_skew_secs,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hall_protocol::payload::Severity;

    fn spec() -> DeviceSpec {
        DeviceSpec {
            id: "kiosk-1".into(),
            name: "自助机1".into(),
            kind: DeviceKind::SelfServiceKiosk,
            location: "东区".into(),
            window: None,
            interval: Duration::from_secs(10),
            missed_heartbeats: 3,
            expected_on: ExpectedOn::Service,
        }
    }

    fn t(secs: u64) -> Now {
        let wall: DateTime<Utc> = "2026-12-03T01:00:00Z".parse().unwrap();
        Now {
            mono: Duration::ZERO,
            wall,
        }
        .after(Duration::from_secs(secs))
    }

    fn hb(boot: &str, seq: u64, now: Now) -> Heartbeat {
        Heartbeat {
            v: 1,
            seq,
            boot_id: boot.into(),
            sent_at: now.wall.fixed_offset(),
            uptime_secs: seq * 10,
            metrics: Metrics::default(),
            checks: Default::default(),
        }
    }

    fn status(state: LinkState, boot: &str) -> StatusPayload {
        StatusPayload {
            v: 1,
            state,
            boot_id: boot.into(),
            at: None,
            reason: None,
        }
    }

    #[test]
    fn never_heard_from_is_unknown() {
        let d = Device::new(spec());
        assert_eq!(d.state(Duration::from_secs(1000)), DeviceState::Unknown);
    }

    #[test]
    fn states_around_the_offline_deadline() {
        let mut d = Device::new(spec());
        d.on_heartbeat(&hb("b1", 1, t(0)), t(0));
        let table = [
            (0, DeviceState::Online),
            (15, DeviceState::Online),
            (16, DeviceState::Stale),
            (30, DeviceState::Stale),
            (31, DeviceState::Offline),
        ];
        for (secs, want) in table {
            assert_eq!(d.state(t(secs).mono), want, "at {secs}s");
        }
    }

    #[test]
    fn heartbeat_exactly_at_the_deadline_keeps_it_online() {
        let mut d = Device::new(spec());
        d.on_heartbeat(&hb("b1", 1, t(0)), t(0));
        // The deadline is 30 s; at exactly 30 s the device is not yet offline, and the heartbeat renews it.
        assert_eq!(d.state(t(30).mono), DeviceState::Stale);
        d.on_heartbeat(&hb("b1", 2, t(30)), t(30));
        assert_eq!(d.state(t(30).mono), DeviceState::Online);
        assert_eq!(d.state(t(60).mono), DeviceState::Stale);
        assert_eq!(d.state(t(61).mono), DeviceState::Offline);
    }

    #[test]
    fn a_device_that_sends_once_and_dies_goes_offline() {
        let mut d = Device::new(spec());
        d.on_status(&status(LinkState::Online, "b1"), t(0));
        assert_eq!(d.state(t(1).mono), DeviceState::Online);
        assert_eq!(d.next_deadline(), Some(Duration::from_secs(30)));
        assert_eq!(d.state(t(31).mono), DeviceState::Offline);
    }

    #[test]
    fn last_will_of_the_live_boot_turns_it_offline_at_once() {
        let mut d = Device::new(spec());
        d.on_heartbeat(&hb("b1", 1, t(0)), t(0));
        assert_eq!(
            d.on_status(&status(LinkState::Offline, "b1"), t(1)),
            StatusOutcome::Applied
        );
        assert_eq!(d.state(t(1).mono), DeviceState::Offline);
        // It comes back with a new boot.
        d.on_status(&status(LinkState::Online, "b2"), t(5));
        assert_eq!(d.state(t(5).mono), DeviceState::Online);
    }

    #[test]
    fn stale_retained_offline_from_an_older_boot_never_overrides_fresh_heartbeats() {
        let mut d = Device::new(spec());
        d.on_heartbeat(&hb("b2", 1, t(0)), t(0));
        d.on_heartbeat(&hb("b2", 2, t(10)), t(10));
        assert_eq!(
            d.on_status(&status(LinkState::Offline, "b1"), t(11)),
            StatusOutcome::StaleOffline
        );
        assert_eq!(d.state(t(11).mono), DeviceState::Online);
    }

    #[test]
    fn retained_offline_seen_first_counts_then_heartbeats_bring_it_back() {
        let mut d = Device::new(spec());
        assert_eq!(
            d.on_status(&status(LinkState::Offline, "b1"), t(0)),
            StatusOutcome::Applied
        );
        assert_eq!(d.state(t(0).mono), DeviceState::Offline);
        d.on_heartbeat(&hb("b2", 1, t(3)), t(3));
        assert_eq!(d.state(t(3).mono), DeviceState::Online);
    }

    #[test]
    fn faults_raise_and_clear_but_offline_wins() {
        let mut d = Device::new(spec());
        d.on_heartbeat(&hb("b1", 1, t(0)), t(0));
        let ev = |kind| DeviceEvent {
            v: 1,
            kind,
            code: "printer_paper_out".into(),
            severity: Severity::Warning,
            message: "缺纸".into(),
            at: t(1).wall.fixed_offset(),
        };
        d.on_event(&ev(DeviceEventKind::FaultRaised), t(1));
        assert_eq!(d.state(t(1).mono), DeviceState::Fault);
        assert_eq!(d.state(t(40).mono), DeviceState::Offline);
        d.on_event(&ev(DeviceEventKind::FaultCleared), t(41));
        assert_eq!(d.state(t(41).mono), DeviceState::Online);
    }

    #[test]
    fn sequence_gaps_are_counted() {
        let mut d = Device::new(spec());
        d.on_heartbeat(&hb("b1", 1, t(0)), t(0));
        d.on_heartbeat(&hb("b1", 4, t(10)), t(10));
        assert_eq!(d.missed_seq, 2);
        // A new boot restarts the sequence without counting a gap.
        d.on_heartbeat(&hb("b2", 1, t(20)), t(20));
        assert_eq!(d.missed_seq, 2);
    }
}
