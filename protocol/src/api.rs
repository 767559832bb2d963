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
    /// Queue KPIs per service type.
    #[serde(default)]
    pub queues: Vec<QueueView>,
    /// Today's satisfaction (RAT-1).
    #[serde(default)]
    pub satisfaction: Option<SatisfactionView>,
}

/// Queue KPIs of one service type, `GET /api/v1/queues`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueView {
    /// Service type id.
    pub service: String,
    pub name: String,
    /// Tickets issued and not yet called.
    pub waiting: u32,
    /// Wait of the longest-waiting ticket, in seconds.
    pub longest_wait_secs: u64,
    /// Average wait (issued → called) of tickets called in the last hour.
    pub avg_wait_secs_1h: Option<u64>,
    /// Average service time (called → served) of tickets served in the last hour.
    pub avg_service_secs_1h: Option<u64>,
    pub served_today: u32,
    pub no_shows_today: u32,
    /// Windows open for this service now (staffed during service).
    pub open_windows: u32,
    /// longest wait over the service level, or too many waiting per open window.
    pub over_service_level: bool,
    pub service_level_mins: u32,
}

/// Satisfaction (RAT-1): share of the top two of five levels.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SatisfactionView {
    /// Ratings today.
    pub ratings_today: u32,
    /// Ratings in the top two levels today.
    pub satisfied_today: u32,
    /// Ratings 不满意 or 非常不满意 today.
    pub bad_today: u32,
    /// Services completed today (for coverage, RAT-3).
    pub services_today: u32,
    /// Per window: (window id, ratings, satisfied, services).
    #[serde(default)]
    pub windows: Vec<WindowSatisfaction>,
}

/// Satisfaction and rating coverage of one window today (RAT-1, RAT-3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowSatisfaction {
    pub window_id: String,
    pub ratings: u32,
    pub satisfied: u32,
    pub services: u32,
    /// Whether the window's rating pad is offline during service now (a coverage gap, RAT-3).
    pub pad_offline: bool,
}

/// One sample of a device's history, downsampled to one minute (`GET /api/v1/devices/{id}/history`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceSample {
    pub at: DateTime<Utc>,
    pub state: DeviceState,
    #[serde(default)]
    pub cpu_pct: Option<f64>,
    #[serde(default)]
    pub mem_pct: Option<f64>,
    #[serde(default)]
    pub disk_pct: Option<f64>,
    #[serde(default)]
    pub temp_c: Option<f64>,
}

/// The last 24 h of a device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceHistory {
    pub device_id: String,
    pub samples: Vec<DeviceSample>,
}

/// One state change of a window (`GET /api/v1/windows/{id}/history`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowSample {
    pub at: DateTime<Utc>,
    pub state: WindowState,
    #[serde(default)]
    pub staff_id: Option<String>,
}

/// The last 24 h of a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowHistory {
    pub window_id: String,
    pub samples: Vec<WindowSample>,
}

/// One change in a delta.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Change {
    Device(DeviceView),
    Window(WindowView),
    Alert(AlertView),
    Clock(HallClock),
    Queue(QueueView),
    Satisfaction(SatisfactionView),
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

// ---------------------------------------------------------------------------------------------------------------
// Journal records: leave register (POST-5), window transitions (POST-1), audit trail (POST-6).
// ---------------------------------------------------------------------------------------------------------------

/// Kind of leave in the leave register (POST-5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LeaveKind {
    /// 事假
    Personal,
    /// 病假
    Sick,
    /// 年休假
    Annual,
    /// 探亲假
    FamilyVisit,
    /// 婚假
    Marriage,
    /// 产假
    Maternity,
    /// 丧假
    Bereavement,
    /// 调休
    Compensatory,
}

impl LeaveKind {
    /// Every kind, in the order of the regulation.
    pub const ALL: [LeaveKind; 8] = [
        LeaveKind::Personal,
        LeaveKind::Sick,
        LeaveKind::Annual,
        LeaveKind::FamilyVisit,
        LeaveKind::Marriage,
        LeaveKind::Maternity,
        LeaveKind::Bereavement,
        LeaveKind::Compensatory,
    ];

    pub fn label_zh(self) -> &'static str {
        match self {
            LeaveKind::Personal => "事假",
            LeaveKind::Sick => "病假",
            LeaveKind::Annual => "年休假",
            LeaveKind::FamilyVisit => "探亲假",
            LeaveKind::Marriage => "婚假",
            LeaveKind::Maternity => "产假",
            LeaveKind::Bereavement => "丧假",
            LeaveKind::Compensatory => "调休",
        }
    }

    /// The serde name, e.g. `family_visit`.
    pub fn as_str(self) -> &'static str {
        match self {
            LeaveKind::Personal => "personal",
            LeaveKind::Sick => "sick",
            LeaveKind::Annual => "annual",
            LeaveKind::FamilyVisit => "family_visit",
            LeaveKind::Marriage => "marriage",
            LeaveKind::Maternity => "maternity",
            LeaveKind::Bereavement => "bereavement",
            LeaveKind::Compensatory => "compensatory",
        }
    }
}

/// `POST /api/v1/leave` body: a leave to enter in the register (POST-5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewLeave {
    /// Who is on leave.
    pub staff_id: String,
    pub kind: LeaveKind,
    /// First instant of the leave, RFC 3339 with the offset it was entered in.
    pub start: DateTime<FixedOffset>,
    /// End of the leave (exclusive), RFC 3339 with offset; after `start`.
    pub end: DateTime<FixedOffset>,
    /// Who approved it.
    #[serde(default)]
    pub approver: Option<String>,
    /// Staff id of the person covering (usually the B post, POST-4); never the person on leave.
    #[serde(default)]
    pub substitute: Option<String>,
    #[serde(default)]
    pub note: String,
    /// Who enters it in the register.
    #[serde(alias = "created_by")]
    pub by: String,
}

/// `POST /api/v1/leave/{id}/return` body: the return from leave (销假).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReturnLeave {
    /// Who records the return.
    pub by: String,
    /// When the person came back; the gateway's time when absent.
    #[serde(default)]
    pub at: Option<DateTime<FixedOffset>>,
}

/// One entry of the leave register (`GET /api/v1/leave`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LeaveEntry {
    pub id: u64,
    pub staff_id: String,
    pub kind: LeaveKind,
    pub start: DateTime<FixedOffset>,
    pub end: DateTime<FixedOffset>,
    #[serde(default)]
    pub approver: Option<String>,
    #[serde(default)]
    pub substitute: Option<String>,
    #[serde(default)]
    pub note: String,
    pub created_at: DateTime<Utc>,
    pub created_by: String,
    /// The return (销假), once recorded.
    #[serde(default)]
    pub returned_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub returned_by: Option<String>,
    /// Annual leave entered less than 3 working days before it starts (POST-5).
    #[serde(default)]
    pub late_notice: bool,
}

/// One change of a window's staffing state, as the journal keeps it (POST-1: hand-overs are the transitions whose
/// staff changes).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowTransition {
    pub window_id: String,
    pub state: WindowState,
    /// Who is there (or who stepped away) after the transition.
    #[serde(default)]
    pub staff: Option<StaffRef>,
    /// Reason of a reported step-away, or of the change.
    #[serde(default)]
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
}

/// One line of the audit trail (POST-6): who changed what, when, from what to what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Assigned by the journal; ignored when appending.
    #[serde(default)]
    pub id: u64,
    pub at: DateTime<Utc>,
    pub who: String,
    /// What was done, e.g. `window.assign`, `leave.create`.
    pub action: String,
    /// What it was done to, e.g. `window:{id}`, `leave:{id}`.
    pub subject: String,
    #[serde(default)]
    pub old: Option<serde_json::Value>,
    #[serde(default)]
    pub new: Option<serde_json::Value>,
}

// ---------------------------------------------------------------------------------------------------------------
// Device supervision: maintenance marks (DEV-6) and the morning inspection record (INS-1..3).
// ---------------------------------------------------------------------------------------------------------------

/// Body of `POST /api/v1/devices/{id}/maintenance` (DEV-6).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceRequest {
    /// Why the device is under maintenance, e.g. `更换打印机`.
    pub reason: String,
    /// Who marked it (IT centre).
    pub by: String,
    /// Expected end; the mark expires by itself then. `None` = until lifted.
    #[serde(default)]
    pub until: Option<DateTime<Utc>>,
}

/// Who inspects a device at the morning inspection (INS-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Inspector {
    /// 信息中心: queue dispensers and callers, self-service kiosks, WiFi, window equipment, rating pads.
    ItCentre,
    /// 咨询台: self-query kiosks and copiers.
    ConsultationDesk,
}

impl Inspector {
    pub fn label_zh(self) -> &'static str {
        match self {
            Inspector::ItCentre => "信息中心",
            Inspector::ConsultationDesk => "咨询台",
        }
    }
}

/// State of one inspected device at inspection time (INS-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InspectionStatus {
    Ok,
    Fault,
    Offline,
    /// Never reported.
    Unknown,
}

impl InspectionStatus {
    pub fn label_zh(self) -> &'static str {
        match self {
            InspectionStatus::Ok => "正常",
            InspectionStatus::Fault => "故障",
            InspectionStatus::Offline => "离线",
            InspectionStatus::Unknown => "未上报",
        }
    }
}

/// One line of an inspection record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InspectionItem {
    pub device_id: String,
    pub device_name: String,
    pub kind: DeviceKind,
    pub location: String,
    pub inspector: Inspector,
    /// As found at inspection time.
    pub status: InspectionStatus,
    /// Fault codes when `status` is `fault`.
    #[serde(default)]
    pub fault_codes: Vec<String>,
    /// When a problem found at inspection recovered before service started (INS-2).
    #[serde(default)]
    pub fixed_at: Option<DateTime<Utc>>,
    /// The device was under maintenance (DEV-6) at inspection time.
    #[serde(default)]
    pub under_maintenance: bool,
}

/// The inspection record of one working day (`GET /api/v1/inspections`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InspectionView {
    pub id: u64,
    /// Hall-local working day.
    pub date: chrono::NaiveDate,
    pub taken_at: DateTime<Utc>,
    /// When service starts that day; problems fixed before it are marked fixed.
    pub service_start: DateTime<Utc>,
    pub items: Vec<InspectionItem>,
    /// No item is still `fault`, `offline` or `unknown` (fixed items count as resolved) (INS-2).
    pub ready_to_open: bool,
    #[serde(default)]
    pub signed_by: Option<String>,
    #[serde(default)]
    pub signed_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub notes: Option<String>,
}

/// Body of `POST /api/v1/inspections/{id}/sign` (INS-3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SignRequest {
    pub by: String,
    #[serde(default)]
    pub notes: String,
}
