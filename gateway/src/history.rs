//! Recent history kept in memory, so the dashboard's charts work with no InfluxDB at all: the last 24 h of each
//! device's metrics, downsampled to one sample a minute, and each window's state changes.
//!
//! Pure and bounded: at most 1,440 samples per device and [`MAX_WINDOW_SAMPLES`] changes per window; older ones
//! fall off the front.

use std::collections::{HashMap, VecDeque};

use chrono::{DateTime, TimeDelta, Timelike, Utc};
use hall_protocol::api::{
    DeviceHistory, DeviceSample, DeviceState, WindowHistory, WindowSample, WindowState,
};
use hall_protocol::payload::Metrics;

/// How far back history goes.
pub const KEEP: TimeDelta = TimeDelta::hours(24);
/// Most state changes kept per window (far more than a day has).
pub const MAX_WINDOW_SAMPLES: usize = 2_000;
const MAX_DEVICE_SAMPLES: usize = 24 * 60;

/// Recent history of every device and window.
#[derive(Debug, Default)]
pub struct History {
    devices: HashMap<String, VecDeque<DeviceSample>>,
    windows: HashMap<String, VecDeque<WindowSample>>,
}

fn minute(at: DateTime<Utc>) -> DateTime<Utc> {
    at.with_second(0)
        .and_then(|t| t.with_nanosecond(0))
        .unwrap_or(at)
}

impl History {
    /// Records a device's metrics and state at `at`; samples in the same minute replace each other (last wins).
    pub fn record_device(
        &mut self,
        id: &str,
        at: DateTime<Utc>,
        state: DeviceState,
        metrics: Option<&Metrics>,
    ) {
        let at = minute(at);
        let samples = self.devices.entry(id.to_owned()).or_default();
        let sample = DeviceSample {
            at,
            state,
            cpu_pct: metrics.and_then(|m| m.cpu_pct),
            mem_pct: metrics.and_then(|m| m.mem_pct),
            disk_pct: metrics.and_then(|m| m.disk_pct),
            temp_c: metrics.and_then(|m| m.temp_c),
        };
        match samples.back_mut() {
            Some(last) if last.at == at => {
                // A state change without metrics keeps the minute's metrics.
                if metrics.is_none() {
                    last.state = state;
                } else {
                    *last = sample;
                }
            }
            Some(last) if last.at > at => {}
            _ => samples.push_back(sample),
        }
        while samples.len() > MAX_DEVICE_SAMPLES
            || samples.front().is_some_and(|s| s.at < at - KEEP)
        {
            samples.pop_front();
        }
    }

    /// Records a window's state change; false when neither state nor person changed (nothing recorded).
    pub fn record_window(
        &mut self,
        id: &str,
        at: DateTime<Utc>,
        state: WindowState,
        staff_id: Option<String>,
    ) -> bool {
        let samples = self.windows.entry(id.to_owned()).or_default();
        if samples
            .back()
            .is_some_and(|s| s.state == state && s.staff_id == staff_id)
        {
            return false;
        }
        samples.push_back(WindowSample {
            at,
            state,
            staff_id,
        });
        while samples.len() > MAX_WINDOW_SAMPLES
            || samples.front().is_some_and(|s| s.at < at - KEEP)
        {
            samples.pop_front();
        }
        true
    }

    pub fn device(&self, id: &str) -> DeviceHistory {
        DeviceHistory {
            device_id: id.to_owned(),
            samples: self
                .devices
                .get(id)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default(),
        }
    }

    pub fn window(&self, id: &str) -> WindowHistory {
        WindowHistory {
            window_id: id.to_owned(),
            samples: self
                .windows
                .get(id)
                .map(|s| s.iter().cloned().collect())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(mins: i64, secs: i64) -> DateTime<Utc> {
        "2026-12-03T00:00:00Z".parse::<DateTime<Utc>>().unwrap()
            + TimeDelta::minutes(mins)
            + TimeDelta::seconds(secs)
    }

    fn m(cpu: f64) -> Metrics {
        Metrics {
            cpu_pct: Some(cpu),
            ..Default::default()
        }
    }

    #[test]
    fn one_sample_per_minute_and_24_hours_at_most() {
        let mut h = History::default();
        h.record_device("k", t(0, 5), DeviceState::Online, Some(&m(1.0)));
        h.record_device("k", t(0, 50), DeviceState::Online, Some(&m(2.0)));
        h.record_device("k", t(0, 55), DeviceState::Offline, None);
        h.record_device("k", t(1, 0), DeviceState::Online, Some(&m(3.0)));
        let s = h.device("k").samples;
        assert_eq!(s.len(), 2);
        assert_eq!(
            (s[0].cpu_pct, s[0].state),
            (Some(2.0), DeviceState::Offline)
        );
        assert_eq!(s[1].cpu_pct, Some(3.0));
        for i in 0..(25 * 60) {
            h.record_device("k", t(i, 0), DeviceState::Online, Some(&m(i as f64)));
        }
        let s = h.device("k").samples;
        assert!(s.len() <= 24 * 60 + 1, "{}", s.len());
        assert_eq!(s.last().unwrap().at, t(25 * 60 - 1, 0));
        assert!(h.device("unknown").samples.is_empty());
    }

    #[test]
    fn window_changes_are_kept_without_repeats() {
        let mut h = History::default();
        h.record_window("w1", t(0, 0), WindowState::StaffedA, Some("a".into()));
        h.record_window("w1", t(1, 0), WindowState::StaffedA, Some("a".into()));
        h.record_window("w1", t(2, 0), WindowState::CoveredB, Some("b".into()));
        assert_eq!(h.window("w1").samples.len(), 2);
    }
}
