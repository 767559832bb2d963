//! The hall model: devices, windows, calendar and alerts, and the rules that connect them.
//!
//! Pure and synchronous: no IO, no clock, no tokio. The hub feeds it decoded [`Input`]s with the time they were
//! received and asks it to [`Hall::tick`] as time passes; it answers with the [`Change`]s the live view needs.

pub mod alerts;
pub mod calendar;
mod desk;
pub mod devices;
pub mod inspection;
pub mod leave;
pub mod queues;
pub mod ratings;
pub mod rules;
pub mod supervision;
pub mod windows;

use std::collections::HashMap;
use std::time::Duration;

use hall_protocol::api::{
    AlertView, Change, DeviceState, DeviceView, HallClock, Phase, Snapshot, WindowView,
};
use hall_protocol::config::{ExpectedOn, HallConfig};
use hall_protocol::payload::{
    DeviceEvent, Heartbeat, Presence, Punch, RatingEvent, StatusPayload, TicketEvent,
};

use crate::clock::Now;
use crate::config::CheckedConfig;
use alerts::{AckError, AlertBook};
use calendar::Calendar;
use devices::{Device, DeviceSpec, StatusOutcome};
use windows::{Absence, PostTimings, Windows};

/// A decoded message, ready for the model.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    Status {
        device_id: String,
        payload: StatusPayload,
    },
    Heartbeat {
        device_id: String,
        payload: Heartbeat,
    },
    DeviceEvent {
        device_id: String,
        payload: DeviceEvent,
    },
    Presence {
        window_id: String,
        payload: Presence,
    },
    Ticket {
        dispenser_id: String,
        payload: TicketEvent,
    },
    Rating {
        window_id: String,
        payload: RatingEvent,
    },
    Punch {
        terminal_id: String,
        payload: Punch,
    },
}

/// Why the model refused an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    UnknownDevice(String),
    UnknownWindow(String),
    /// A retained `offline` from an older boot arrived after fresh heartbeats (DEV-1); ignored.
    StaleStatus(String),
    /// A ticket event for a service type that is not in the hall config.
    UnknownService(String),
}

/// Settings of the model that are not in the hall config.
#[derive(Debug, Clone, Copy)]
pub struct ModelOptions {
    /// No alert is raised until this much time has passed since start, so a restart never causes an alert storm.
    pub startup_grace: Duration,
    /// Resolved alerts kept in memory.
    pub max_resolved_alerts: usize,
}

impl ModelOptions {
    /// Grace long enough for every device to have been offline-timed-out once.
    pub fn for_config(cfg: &HallConfig) -> Self {
        let longest = cfg
            .devices
            .iter()
            .map(|d| cfg.heartbeat_interval_secs(d) * cfg.missed_heartbeats(d) as u64)
            .max()
            .unwrap_or(30);
        ModelOptions {
            startup_grace: Duration::from_secs(longest + 5),
            max_resolved_alerts: 500,
        }
    }
}

/// The whole live hall.
pub struct Hall {
    pub hall_id: String,
    pub hall_name: String,
    calendar: Calendar,
    devices: Vec<Device>,
    device_idx: HashMap<String, usize>,
    reported: Vec<DeviceState>,
    pub windows: Windows,
    absences: Vec<Absence>,
    pub alerts: AlertBook,
    phase: Phase,
    started: Option<Duration>,
    grace_over: bool,
    options: ModelOptions,
    speed: f64,
    /// DEV-1 damping and DEV-3..5 state, indexed like `devices`.
    supervision: supervision::Supervision,
    /// Morning inspection records (INS-1..3).
    pub inspections: inspection::Inspections,
    /// Queue KPIs and ratings (Q-1..3, RAT-1..3).
    desk: desk::Desk,
    /// Records for the journal since the last [`Hall::take_kept`].
    kept: Vec<Kept>,
}

impl Hall {
    pub fn new(cfg: &CheckedConfig, options: ModelOptions, speed: f64) -> Self {
        let raw = &cfg.raw;
        let devices: Vec<Device> = raw
            .devices
            .iter()
            .map(|d| {
                Device::new(DeviceSpec {
                    id: d.id.clone(),
                    name: d.name.clone().unwrap_or_else(|| d.id.clone()),
                    kind: d.kind,
                    location: d.location.clone(),
                    window: d.window.clone(),
                    interval: Duration::from_secs(raw.heartbeat_interval_secs(d)),
                    missed_heartbeats: raw.missed_heartbeats(d),
                    expected_on: d
                        .expected_on
                        .or_else(|| raw.device_kinds.get(&d.kind).and_then(|k| k.expected_on))
                        .unwrap_or_else(|| rules::default_expected_on(d.kind)),
                })
            })
            .collect();
        let device_idx = devices
            .iter()
            .enumerate()
            .map(|(i, d)| (d.spec.id.clone(), i))
            .collect();
        Hall {
            hall_id: raw.hall.id.clone(),
            hall_name: raw.hall.name.clone(),
            calendar: cfg.calendar.clone(),
            reported: vec![DeviceState::Unknown; devices.len()],
            devices,
            device_idx,
            windows: Windows::from_config(raw, PostTimings::default()),
            absences: Vec::new(),
            alerts: AlertBook::new(options.max_resolved_alerts),
            phase: Phase::Closed,
            started: None,
            grace_over: false,
            options,
            speed,
            supervision: supervision::Supervision::new(raw),
            inspections: inspection::Inspections::default(),
            desk: desk::Desk::from_config(raw),
            kept: Vec::new(),
        }
    }

    pub fn calendar(&self) -> &Calendar {
        &self.calendar
    }

    fn in_grace(&self, now: Now) -> bool {
        self.started
            .is_none_or(|s| now.mono < s + self.options.startup_grace)
    }

    fn start(&mut self, now: Now) {
        if self.started.is_none() {
            self.started = Some(now.mono);
            self.phase = self.calendar.phase_at(now.wall);
        }
    }

    /// Applies one input received at `now`.
    pub fn apply(&mut self, input: Input, now: Now, out: &mut Vec<Change>) -> Result<(), Refusal> {
        self.start(now);
        match input {
            Input::Status { device_id, payload } => {
                let idx = self.device(&device_id)?;
                if self.devices[idx].on_status(&payload, now) == StatusOutcome::StaleOffline {
                    return Err(Refusal::StaleStatus(device_id));
                }
                self.device_changed(idx, now, out);
            }
            Input::Heartbeat { device_id, payload } => {
                let idx = self.device(&device_id)?;
                self.devices[idx].on_heartbeat(&payload, now);
                self.supervision.on_checks(idx, &payload.checks);
                self.device_changed(idx, now, out);
            }
            Input::DeviceEvent { device_id, payload } => {
                let idx = self.device(&device_id)?;
                self.devices[idx].on_event(&payload, now);
                self.device_changed(idx, now, out);
            }
            Input::Presence { window_id, payload } => {
                let changed = self
                    .windows
                    .on_presence(&window_id, &payload, self.phase, now)
                    .ok_or(Refusal::UnknownWindow(window_id))?;
                if let Some(view) = changed {
                    out.push(Change::Window(view));
                    self.window_rules(now, out);
                }
            }
            Input::Ticket { payload, .. } => self.on_ticket(payload, now, out)?,
            Input::Rating { window_id, payload } => self.on_rating(window_id, payload, now, out)?,
            Input::Punch { .. } => {}
        }
        Ok(())
    }

    fn device(&self, id: &str) -> Result<usize, Refusal> {
        self.device_idx
            .get(id)
            .copied()
            .ok_or_else(|| Refusal::UnknownDevice(id.to_owned()))
    }

    fn device_changed(&mut self, idx: usize, now: Now, out: &mut Vec<Change>) {
        out.push(Change::Device(self.devices[idx].view(now.mono)));
        self.reported[idx] = self.devices[idx].state(now.mono);
        self.device_rules(idx, now, out);
    }

    fn device_rules(&mut self, idx: usize, now: Now, out: &mut Vec<Change>) {
        let grace = self.in_grace(now);
        let dev = &self.devices[idx];
        let expected = rules::expected_on(dev.spec.expected_on, self.phase);
        let mut conditions = rules::device_alerts(dev, now.mono, expected);
        // Faults that cleared leave an open DEV-2 alert behind with no condition to resolve it: resolve it here.
        let fault_prefix = rules::fault_subject_prefix(&dev.spec.id);
        for subject in self.alerts.open_subjects(rules::DEV_FAULT, &fault_prefix) {
            if !conditions.iter().any(|(_, s)| s.subject == subject) {
                if let Some(a) = self.alerts.resolve(rules::DEV_FAULT, &subject, now) {
                    out.push(Change::Alert(a));
                }
            }
        }
        // DEV-1 flap damping, DEV-3..5, DEV-6 silencing.
        let window_staff = dev
            .spec
            .window
            .as_deref()
            .and_then(|w| self.windows.view(w))
            .and_then(|v| v.staff.as_ref())
            .map(|s| s.id.as_str());
        let evening = supervision::evening_of(&self.calendar, now.wall)
            .map(|date| (date, date == self.calendar.local_date(now.wall)));
        self.supervision.device_conditions(
            idx,
            dev,
            evening,
            window_staff,
            grace,
            &self.alerts,
            now,
            &mut conditions,
        );
        for (active, spec) in conditions.drain(..) {
            if active && grace {
                continue;
            }
            if let Some(a) = self.alerts.set(active, spec, now) {
                out.push(Change::Alert(a));
            }
        }
    }

    /// Raises and resolves the post alerts (POST-2..4) of every window.
    fn window_rules(&mut self, now: Now, out: &mut Vec<Change>) {
        let grace = self.in_grace(now);
        for (active, spec) in self.windows.conditions(self.phase, &self.absences, now) {
            if active && grace {
                continue;
            }
            if let Some(a) = self.alerts.set(active, spec, now) {
                out.push(Change::Alert(a));
            }
        }
    }

    /// Restores the state journalled before a restart: open alerts (ids continue after `max_alert_id`) and who
    /// was at each window. The startup grace period keeps the restored state from raising a storm.
    pub fn restore(
        &mut self,
        open_alerts: Vec<AlertView>,
        max_alert_id: u64,
        windows: &[hall_protocol::api::WindowTransition],
    ) {
        self.alerts.restore(open_alerts);
        self.alerts.set_next_id(max_alert_id + 1);
        for t in windows {
            let (present, away) = leave::presence_of(t);
            self.windows.restore(&t.window_id, present, away);
        }
    }

    /// Restores the inspection records and the maintenance marks still in force that the journal kept. A mark
    /// whose expected end passed while the gateway was down expires at the first tick (and is journalled lifted).
    pub fn restore_records(
        &mut self,
        inspections: Vec<hall_protocol::api::InspectionView>,
        maintenance: Vec<(String, hall_protocol::api::MaintenanceView)>,
    ) {
        self.inspections.restore(inspections);
        for (device_id, mark) in maintenance {
            if let Some(&idx) = self.device_idx.get(&device_id) {
                self.devices[idx].maintenance = Some(mark);
            }
        }
    }

    /// The records for the journal since the last call: inspection records as they changed and maintenance
    /// marks set and lifted, in order.
    pub fn take_kept(&mut self) -> Vec<Kept> {
        std::mem::take(&mut self.kept)
    }

    /// Takes the leave register's entries as the current absences (POST-4, POST-5).
    pub fn set_leave(&mut self, entries: &[hall_protocol::api::LeaveEntry]) {
        let windows = &self.windows;
        let absences = leave::absences(&self.calendar, entries, |id| windows.staff_name(id));
        self.absences = absences;
    }

    /// Replaces the absences from the leave register (POST-4, POST-5).
    pub fn set_absences(&mut self, absences: Vec<Absence>) {
        self.absences = absences;
    }

    /// Advances time: state changes by timeout, phase changes, and the clock itself.
    pub fn tick(&mut self, now: Now, out: &mut Vec<Change>) {
        self.start(now);
        let phase = self.calendar.phase_at(now.wall);
        let phase_changed = phase != self.phase;
        self.phase = phase;
        let grace_ended = !self.grace_over && !self.in_grace(now);
        self.grace_over |= grace_ended;
        for idx in 0..self.devices.len() {
            // DEV-6: a maintenance mark expires at its `until` (inclusive).
            let expired = self.devices[idx]
                .maintenance
                .as_ref()
                .and_then(|m| m.until)
                .is_some_and(|until| now.wall >= until);
            if expired {
                self.devices[idx].maintenance = None;
                self.kept.push(Kept::Maintenance(MaintenanceEvent::Lifted {
                    device_id: self.devices[idx].spec.id.clone(),
                    at: now.wall,
                    by: None,
                }));
                out.push(Change::Device(self.devices[idx].view(now.mono)));
            }
            let state = self.devices[idx].state(now.mono);
            if state != self.reported[idx] {
                self.reported[idx] = state;
                out.push(Change::Device(self.devices[idx].view(now.mono)));
                self.device_rules(idx, now, out);
            } else if phase_changed || grace_ended || expired || self.supervision.due(idx, now) {
                // Expected-on may have changed with the phase, and alerts held back by the grace period are due.
                self.device_rules(idx, now, out);
            }
        }
        // INS-1..3: take today's inspection record when due; alert when it is unsigned at service start.
        let (conditions, changed) = self.inspections.tick(&self.calendar, &self.devices, now);
        if let Some(rec) = changed.and_then(|id| self.inspections.get(id)) {
            self.kept.push(Kept::Inspection(rec.clone()));
        }
        for (active, spec) in conditions {
            if let Some(a) = self.alerts.set(active, spec, now) {
                out.push(Change::Alert(a));
            }
        }
        for view in self.windows.on_phase(phase, now) {
            out.push(Change::Window(view));
        }
        self.window_rules(now, out);
        self.desk_tick(phase_changed, now, out);
        out.push(Change::Clock(self.clock(now)));
    }

    pub fn clock(&self, now: Now) -> HallClock {
        HallClock {
            time: now.wall.with_timezone(&self.calendar.tz()).fixed_offset(),
            phase: self.calendar.phase_at(now.wall),
            speed: self.speed,
        }
    }

    pub fn devices(&self, now: Now) -> Vec<DeviceView> {
        self.devices.iter().map(|d| d.view(now.mono)).collect()
    }

    pub fn device_view(&self, id: &str, now: Now) -> Option<DeviceView> {
        self.device_idx
            .get(id)
            .map(|&i| self.devices[i].view(now.mono))
    }

    pub fn window_views(&self) -> Vec<WindowView> {
        self.windows.views()
    }

    pub fn ack(&mut self, id: u64, by: &str, note: &str, now: Now) -> Result<AlertView, AckError> {
        self.check_follow_up(id, note)?;
        let acked = self.alerts.ack(id, by, note, now)?;
        Ok(self.after_ack(acked, now))
    }

    /// Marks a device under maintenance (DEV-6): its open alerts are resolved and none is raised until the mark is
    /// lifted or `until` is reached.
    pub fn set_maintenance(
        &mut self,
        device_id: &str,
        reason: &str,
        by: &str,
        until: Option<chrono::DateTime<chrono::Utc>>,
        now: Now,
        out: &mut Vec<Change>,
    ) -> Result<DeviceView, MaintenanceError> {
        let idx = self
            .device(device_id)
            .map_err(|_| MaintenanceError::NotFound(device_id.to_owned()))?;
        if by.trim().is_empty() {
            return Err(MaintenanceError::MissingName);
        }
        if until.is_some_and(|u| u <= now.wall) {
            return Err(MaintenanceError::UntilInPast);
        }
        let mark = hall_protocol::api::MaintenanceView {
            reason: reason.to_owned(),
            by: by.trim().to_owned(),
            until,
        };
        self.kept.push(Kept::Maintenance(MaintenanceEvent::Marked {
            device_id: self.devices[idx].spec.id.clone(),
            mark: mark.clone(),
            since: now.wall,
        }));
        self.devices[idx].maintenance = Some(mark);
        let id = self.devices[idx].spec.id.clone();
        for rule in supervision::DEVICE_RULES {
            for subject in self.alerts.open_subjects(rule, &rules::device_subject(&id)) {
                if supervision::is_device_subject(&subject, &id) {
                    if let Some(a) = self.alerts.resolve(rule, &subject, now) {
                        out.push(Change::Alert(a));
                    }
                }
            }
        }
        let view = self.devices[idx].view(now.mono);
        out.push(Change::Device(view.clone()));
        Ok(view)
    }

    /// Lifts a maintenance mark (DEV-6); the device's rules run again at once.
    pub fn lift_maintenance(
        &mut self,
        device_id: &str,
        now: Now,
        out: &mut Vec<Change>,
    ) -> Result<DeviceView, MaintenanceError> {
        let idx = self
            .device(device_id)
            .map_err(|_| MaintenanceError::NotFound(device_id.to_owned()))?;
        if self.devices[idx].maintenance.take().is_none() {
            return Err(MaintenanceError::NotMarked(device_id.to_owned()));
        }
        self.kept.push(Kept::Maintenance(MaintenanceEvent::Lifted {
            device_id: self.devices[idx].spec.id.clone(),
            at: now.wall,
            by: None,
        }));
        self.device_changed(idx, now, out);
        Ok(self.devices[idx].view(now.mono))
    }

    /// Signs an inspection record off (INS-3) and resolves its unsigned alert.
    pub fn sign_inspection(
        &mut self,
        id: u64,
        by: &str,
        notes: &str,
        now: Now,
        out: &mut Vec<Change>,
    ) -> Result<hall_protocol::api::InspectionView, inspection::SignError> {
        let rec = self.inspections.sign(id, by, notes, now.wall)?;
        self.kept.push(Kept::Inspection(rec.clone()));
        if let Some(a) = self.alerts.resolve(
            inspection::INS_UNSIGNED,
            &inspection::inspection_subject(id),
            now,
        ) {
            out.push(Change::Alert(a));
        }
        Ok(rec)
    }

    /// The whole state; `seq` is filled in by the hub.
    pub fn snapshot(&self, seq: u64, now: Now) -> Snapshot {
        Snapshot {
            seq,
            hall_id: self.hall_id.clone(),
            hall_name: self.hall_name.clone(),
            clock: self.clock(now),
            devices: self.devices(now),
            windows: self.window_views(),
            alerts: self.alerts.active().cloned().collect(),
            queues: self.queue_views(now),
            satisfaction: Some(self.satisfaction_view(now)),
        }
    }
}

/// A record the model hands to the journal through [`Hall::take_kept`].
#[derive(Debug, Clone, PartialEq)]
pub enum Kept {
    /// An inspection record was taken, an item of it fixed, or it was signed (INS-1..3): the whole record.
    Inspection(hall_protocol::api::InspectionView),
    /// A maintenance mark was set or lifted (DEV-6).
    Maintenance(MaintenanceEvent),
}

/// A maintenance mark set or lifted (DEV-6).
#[derive(Debug, Clone, PartialEq)]
pub enum MaintenanceEvent {
    Marked {
        device_id: String,
        mark: hall_protocol::api::MaintenanceView,
        since: chrono::DateTime<chrono::Utc>,
    },
    /// Lifted by hand, or by its expected end (`by` is `None` for both: the API does not name who lifts).
    Lifted {
        device_id: String,
        at: chrono::DateTime<chrono::Utc>,
        by: Option<String>,
    },
}

/// Why a maintenance mark was refused (DEV-6).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MaintenanceError {
    #[error("no device with id {0:?}")]
    NotFound(String),
    #[error("device {0:?} is not under maintenance")]
    NotMarked(String),
    #[error("a maintenance mark needs a name in \"by\"")]
    MissingName,
    #[error("\"until\" must be in the future")]
    UntilInPast,
}

/// Whether a device with this setting must be on in `phase` (DEV-1).
pub fn is_expected_on(expected: ExpectedOn, phase: Phase) -> bool {
    rules::expected_on(expected, phase)
}
