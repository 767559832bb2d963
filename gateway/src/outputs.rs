//! What the hub hands on after each change: the in-memory history for the charts, and points for InfluxDB when
//! a sink is configured. Called on the hub task; nothing here waits: the sink takes points without awaiting the
//! network (it spools when it must).

use chrono::{DateTime, Utc};
use hall_protocol::api::{Change, DeviceHistory, WindowHistory, WindowTransition};
use hall_protocol::config::HallConfig;
use hall_protocol::payload::Heartbeat;

use crate::history::History;
use crate::journal::JournalHandle;
use crate::model::Kept;
use crate::sinks::influxdb::{Point, SinkHandle};
use crate::sinks::points::PointMaker;

/// The hub's outputs.
pub struct Outputs {
    history: History,
    journal: Option<JournalHandle>,
    sink: Option<(SinkHandle, PointMaker)>,
    points: Vec<Point>,
}

impl Outputs {
    pub fn new(cfg: &HallConfig, sink: Option<SinkHandle>, journal: Option<JournalHandle>) -> Self {
        Outputs {
            history: History::default(),
            journal,
            sink: sink.map(|s| (s, PointMaker::new(cfg))),
            points: Vec::new(),
        }
    }

    /// Whether [`Outputs::on_heartbeat`] does anything (a metrics sink is configured).
    pub fn takes_heartbeats(&self) -> bool {
        self.sink.is_some()
    }

    /// A heartbeat was applied to the model.
    pub fn on_heartbeat(&mut self, device_id: &str, hb: &Heartbeat, at: DateTime<Utc>) {
        if let Some((sink, maker)) = &self.sink {
            // A refused point is counted by the sink (invalid or full queue); ingest goes on regardless.
            let _ = sink.send(maker.heartbeat(device_id, hb, at));
        }
    }

    /// A delta was published.
    pub fn on_changes(&mut self, changes: &[Change], at: DateTime<Utc>) {
        for change in changes {
            match change {
                Change::Device(d) => {
                    self.history
                        .record_device(&d.id, at, d.state, d.metrics.as_ref())
                }
                Change::Window(w) => {
                    let changed = self.history.record_window(
                        &w.id,
                        at,
                        w.state,
                        w.staff.as_ref().map(|s| s.id.clone()),
                    );
                    // Every staffing transition is kept: hand-overs (POST-1) are read from them.
                    if let (true, Some(j)) = (changed, &self.journal) {
                        j.record_window(WindowTransition {
                            window_id: w.id.clone(),
                            state: w.state,
                            staff: w.staff.clone(),
                            reason: w.away_reason.clone(),
                            at: w.since.unwrap_or(at),
                        });
                    }
                }
                Change::Alert(a) => {
                    if let Some(j) = &self.journal {
                        j.record_alert(a.clone());
                    }
                }
                _ => {}
            }
        }
        if let Some((sink, maker)) = &mut self.sink {
            maker.changes(changes, at, &mut self.points);
            for p in self.points.drain(..) {
                let _ = sink.send(p);
            }
        }
    }

    /// Records the model kept for the journal (inspection records, maintenance marks), in order.
    pub fn on_kept(&mut self, kept: Vec<Kept>) {
        let Some(j) = &self.journal else {
            return;
        };
        for k in kept {
            match k {
                Kept::Inspection(rec) => j.record_inspection(rec),
                Kept::Maintenance(event) => j.record_maintenance(event),
            }
        }
    }

    pub fn device_history(&self, id: &str) -> DeviceHistory {
        self.history.device(id)
    }

    pub fn window_history(&self, id: &str) -> WindowHistory {
        self.history.window(id)
    }

    /// Prometheus text of the sink, if any.
    pub fn sink(&self) -> Option<SinkHandle> {
        self.sink.as_ref().map(|(s, _)| s.clone())
    }
}
