//! What the hall writes to InfluxDB: hall events turned into points. The schema is documented in the README
//! ("Metrics in InfluxDB"); every point carries the tag `hall`, added by the sink.
//!
//! | measurement | tags | fields |
//! |---|---|---|
//! | `device_heartbeat` | device, kind, location | cpu_pct, mem_pct, disk_pct, temp_c, latency_ms, uptime_secs (float), seq (float) |
//! | `device_state` | device, kind, location | state (string), online (bool), faults (float) |
//! | `window_state` | window, unit | state (string), staff (string), prev_duration_secs (float) |
//! | `queue` | service | waiting, longest_wait_secs, avg_wait_secs_1h, avg_service_secs_1h, served_today, no_shows_today, open_windows (all float) |
//! | `satisfaction` | – | ratings_today, satisfied_today, bad_today, services_today (float) |
//! | `alert` | rule, kind, severity | subject, state, message (string), id (float) |
//!
//! Numbers are always written as floats, so a field that happens to be integral never changes type.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use hall_protocol::api::{Change, DeviceState, WindowState};
use hall_protocol::config::HallConfig;
use hall_protocol::payload::Heartbeat;

use super::influxdb::Point;

/// Turns hall events into points; remembers the last state of each subject to write changes only.
pub struct PointMaker {
    devices: HashMap<String, (String, String)>,
    device_states: HashMap<String, DeviceState>,
    windows: HashMap<String, (WindowState, DateTime<Utc>)>,
}

impl PointMaker {
    pub fn new(cfg: &HallConfig) -> Self {
        let devices = cfg
            .devices
            .iter()
            .map(|d| {
                (
                    d.id.clone(),
                    (d.kind.as_str().to_owned(), d.location.clone()),
                )
            })
            .collect();
        PointMaker {
            devices,
            device_states: HashMap::new(),
            windows: HashMap::new(),
        }
    }

    fn device_point(&self, measurement: &str, id: &str, at: DateTime<Utc>) -> Point {
        let (kind, location) = self.devices.get(id).cloned().unwrap_or_default();
        Point::new(measurement, at)
            .tag("device", id)
            .tag("kind", kind)
            .tag("location", location)
    }

    /// The point of one heartbeat.
    pub fn heartbeat(&self, device_id: &str, hb: &Heartbeat, at: DateTime<Utc>) -> Point {
        let m = &hb.metrics;
        let mut p = self.device_point("device_heartbeat", device_id, at);
        for (name, value) in [
            ("cpu_pct", m.cpu_pct),
            ("mem_pct", m.mem_pct),
            ("disk_pct", m.disk_pct),
            ("temp_c", m.temp_c),
            ("latency_ms", m.latency_ms),
        ] {
            if let Some(v) = value {
                p = p.field(name, v);
            }
        }
        p.field("uptime_secs", hb.uptime_secs as f64)
            .field("seq", hb.seq as f64)
    }

    /// Points for the changes of one delta (state changes only; unchanged states write nothing).
    pub fn changes(&mut self, changes: &[Change], at: DateTime<Utc>, out: &mut Vec<Point>) {
        for change in changes {
            match change {
                Change::Device(d) => {
                    if self.device_states.insert(d.id.clone(), d.state) == Some(d.state) {
                        continue;
                    }
                    out.push(
                        self.device_point("device_state", &d.id, at)
                            .field("state", d.state.as_str())
                            .field(
                                "online",
                                matches!(d.state, DeviceState::Online | DeviceState::Fault),
                            )
                            .field("faults", d.faults.len() as f64),
                    );
                }
                Change::Window(w) => {
                    let prev = self.windows.insert(w.id.clone(), (w.state, at));
                    if prev.is_some_and(|(s, _)| s == w.state) {
                        continue;
                    }
                    let prev_secs =
                        prev.map(|(_, since)| (at - since).num_milliseconds() as f64 / 1000.0);
                    let state = serde_json::to_value(w.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned));
                    let mut p = Point::new("window_state", at)
                        .tag("window", w.id.clone())
                        .tag("unit", w.unit.clone())
                        .field("state", state.unwrap_or_default())
                        .field(
                            "staff",
                            w.staff.as_ref().map(|s| s.id.clone()).unwrap_or_default(),
                        );
                    if let Some(secs) = prev_secs {
                        p = p.field("prev_duration_secs", secs);
                    }
                    out.push(p);
                }
                Change::Alert(a) => {
                    let state = serde_json::to_value(a.state)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned));
                    let severity = serde_json::to_value(a.severity)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned));
                    out.push(
                        Point::new("alert", at)
                            .tag("rule", a.rule.clone())
                            .tag("kind", a.kind.clone())
                            .tag("severity", severity.unwrap_or_default())
                            .field("subject", a.subject.clone())
                            .field("state", state.unwrap_or_default())
                            .field("message", a.message.clone())
                            .field("id", a.id as f64),
                    );
                }
                Change::Queue(q) => {
                    let opt = |v: Option<u64>| v.map(|v| v as f64);
                    let mut p = Point::new("queue", at)
                        .tag("service", q.service.clone())
                        .field("waiting", q.waiting as f64)
                        .field("longest_wait_secs", q.longest_wait_secs as f64)
                        .field("served_today", q.served_today as f64)
                        .field("no_shows_today", q.no_shows_today as f64)
                        .field("open_windows", q.open_windows as f64);
                    if let Some(v) = opt(q.avg_wait_secs_1h) {
                        p = p.field("avg_wait_secs_1h", v);
                    }
                    if let Some(v) = opt(q.avg_service_secs_1h) {
                        p = p.field("avg_service_secs_1h", v);
                    }
                    out.push(p);
                }
                Change::Satisfaction(s) => out.push(
                    Point::new("satisfaction", at)
                        .field("ratings_today", s.ratings_today as f64)
                        .field("satisfied_today", s.satisfied_today as f64)
                        .field("bad_today", s.bad_today as f64)
                        .field("services_today", s.services_today as f64),
                ),
                Change::Clock(_) => {}
            }
        }
    }
}
