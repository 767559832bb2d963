//! REST and WebSocket message types of the gateway's API (`/api/v1`).
//!
//! The live stream `/api/v1/live` sends [`LiveMessage`]s as JSON text frames: first a `snapshot`, then `delta`s
//! whose `seq` increases by one. A client that sees a gap, or that the gateway found too slow, gets a fresh
//! `snapshot`; it never has to guess.

use chrono::{DateTime, FixedOffset, Utc};
use serde::{Deserialize, Serialize};

use crate::config::{DeviceKind, ExpectedOn, UnitKind};
use crate::payload::{Metrics, Severity};

/// Liveness of a device (DEV-1, DEV-2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceState {
    /// Heartbeats arrive on time.
    Online,
    /// At least one heartbeat is late, but not yet enough to call it offline.
    Stale,
    /// Missed its configured number of heartbeats, or said goodbye / its last will fired.
    Offline,
    /// Online, but reporting at least one fault.
    Fault,
    /// Never heard from since the gateway started.
    Unknown,
}

impl DeviceState {
    pub fn label_zh(self) -> &'static str {
        match self {
            DeviceState::Online => "在线",
            DeviceState::Stale => "延迟",
            DeviceState::Offline => "离线",
            DeviceState::Fault => "故障",
            DeviceState::Unknown => "未知",
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceState::Online => "online",
            DeviceState::Stale => "stale",
            DeviceState::Offline => "offline",
            DeviceState::Fault => "fault",
            DeviceState::Unknown => "unknown",
        }
    }
}

/// A fault a device currently reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultView {
    pub code: String,
    pub severity: Severity,
    pub message: String,
    pub since: DateTime<Utc>,
}

/// A maintenance mark on a device (DEV-6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceView {
    pub reason: String,
    pub by: String,
    pub until: Option<DateTime<Utc>>,
}

/// One device as the API shows it (`GET /api/v1/devices`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceView {
    pub id: String,
    pub name: String,
    pub kind: DeviceKind,
    pub location: String,
    #[serde(default)]
    pub window: Option<String>,
    pub state: DeviceState,
    /// Gateway time when the device was last heard from.
    pub last_seen: Option<DateTime<Utc>>,
    pub heartbeat_interval_secs: u64,
    #[serde(default)]
    pub boot_id: Option<String>,
    #[serde(default)]
    pub uptime_secs: Option<u64>,
    #[serde(default)]
    pub metrics: Option<Metrics>,
    #[serde(default)]
    pub faults: Vec<FaultView>,
    #[serde(default)]
    pub maintenance: Option<MaintenanceView>,
    /// Whether the device must be on in the current phase (DEV-1).
    #[serde(default)]
    pub expected_on: Option<ExpectedOn>,
    /// Device clock minus gateway clock in seconds, when it differs noticeably.
    #[serde(default)]
    pub clock_skew_secs: Option<i64>,
}

/// Phase of the hall's day (CAL-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    Closed,
    PreOpen,
    Service,
    Lunch,
    Closing,
}

impl Phase {
    pub fn label_zh(self) -> &'static str {
        match self {
            Phase::Closed => "闭厅",
            Phase::PreOpen => "班前准备",
            Phase::Service => "办公中",
            Phase::Lunch => "午休",
            Phase::Closing => "下班整理",
        }
    }
}

/// The hall's clock as the gateway sees it: the dashboard shows this, never the browser's clock.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HallClock {
    /// Hall-local time.
    pub time: DateTime<FixedOffset>,
    pub phase: Phase,
    /// Speed of a virtual (demo) clock; 1 for the real clock.
    #[serde(default = "one")]
    pub speed: f64,
}

fn one() -> f64 {
    1.0
}

/// Staffing state of a window (POST-1..3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WindowState {
    StaffedA,
    CoveredB,
    CoveredOther,
    AwayReported,
    Empty,
    Closed,
}

impl WindowState {
    pub fn label_zh(self) -> &'static str {
        match self {
            WindowState::StaffedA => "A岗在岗",
            WindowState::CoveredB => "B岗顶岗",
            WindowState::CoveredOther => "他人顶岗",
            WindowState::AwayReported => "报备离岗",
            WindowState::Empty => "空岗",
            WindowState::Closed => "未开放",
        }
    }
}

/// A person as shown on a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffRef {
    pub id: String,
    pub name: String,
}

/// One window as the API shows it (`GET /api/v1/windows`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowView {
    pub id: String,
    pub number: u32,
    pub unit: String,
    pub unit_name: String,
    pub unit_kind: UnitKind,
    pub services: Vec<String>,
    pub state: WindowState,
    /// Who is there (or who stepped away).
    pub staff: Option<StaffRef>,
    pub a_post: StaffRef,
    pub b_post: Option<StaffRef>,
    /// Since when the window is in this state.
    pub since: Option<DateTime<Utc>>,
    /// Reason of a reported step-away.
    #[serde(default)]
    pub away_reason: Option<String>,
    /// The ticket being served, if any.
    #[serde(default)]
    pub current_ticket: Option<String>,
    #[serde(default)]
    pub served_today: u32,
}

/// Lifecycle state of an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertState {
    Open,
    Acknowledged,
    Resolved,
}

/// One alert (`GET /api/v1/alerts`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertView {
    pub id: u64,
    /// Rule id from RULES.md, e.g. `DEV-1`, `POST-2`.
    pub rule: String,
    /// Alert kind, e.g. `device_offline`, `empty_window`.
    pub kind: String,
    /// What it is about: `device:{id}`, `window:{id}`, ...
    pub subject: String,
    pub severity: Severity,
    pub state: AlertState,
    pub message: String,
    pub raised_at: DateTime<Utc>,
    #[serde(default)]
    pub acknowledged_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub acknowledged_by: Option<String>,
    #[serde(default)]
    pub ack_note: Option<String>,
    #[serde(default)]
    pub resolved_at: Option<DateTime<Utc>>,
}

/// `POST /api/v1/alerts/{id}/ack` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AckRequest {
    pub by: String,
    #[serde(default)]
    pub note: String,
}

/// Device counts by state, for summaries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceSummary {
    pub total: u32,
    pub online: u32,
    pub stale: u32,
    pub offline: u32,
    pub fault: u32,
    pub unknown: u32,
}

/// The whole live state (`GET /api/v1/snapshot` and the first message of `/api/v1/live`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Sequence number of the last delta included; the next delta is `seq + 1`.
    pub seq: u64,
    pub hall_id: String,
    pub hall_name: String,
    pub clock: HallClock,
    pub devices: Vec<DeviceView>,
    #[serde(default)]
    pub windows: Vec<WindowView>,
    #[serde(default)]
    pub alerts: Vec<AlertView>,
}

/// One change in a delta.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    Device(DeviceView),
    Window(WindowView),
    Alert(AlertView),
    Clock(HallClock),
}

/// A message on the live WebSocket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LiveMessage {
    Snapshot(Snapshot),
    Delta { seq: u64, changes: Vec<Change> },
}

/// `GET /healthz`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Health {
    pub status: String,
    pub broker_connected: bool,
    pub uptime_secs: u64,
}

/// A JSON error body for every 4xx/5xx of the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiError {
    pub error: String,
}
