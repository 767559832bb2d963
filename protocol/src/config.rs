//! The hall configuration file (`config/hall.example.toml`), read by the gateway and by `hall-sim`.
//!
//! This module holds the serde shape only; the gateway validates it into a checked form
//! (`hall-gateway check-config FILE`). Every field has a doc comment, which is the reference documentation.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The whole hall configuration file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HallConfig {
    /// Identity of the hall.
    pub hall: HallInfoConfig,
    /// The MQTT broker the gateway reads from.
    #[serde(default)]
    pub broker: BrokerConfig,
    /// The gateway's HTTP API and dashboard.
    #[serde(default)]
    pub http: HttpConfig,
    /// Where the gateway keeps its SQLite journal and spool files.
    #[serde(default)]
    pub data: DataConfig,
    /// Limits of the MQTT ingest path.
    #[serde(default)]
    pub ingest: IngestConfig,
    /// Working days, periods and phases (CAL-1..3).
    #[serde(default)]
    pub calendar: CalendarConfig,
    /// Defaults per device kind; a device's own settings win.
    #[serde(default)]
    pub device_kinds: BTreeMap<DeviceKind, DeviceKindConfig>,
    /// Every device the hall supervises.
    #[serde(default)]
    pub devices: Vec<DeviceConfig>,
    /// Service types citizens take tickets for.
    #[serde(default)]
    pub services: Vec<ServiceConfig>,
    /// Organisational units (科室) that staff windows.
    #[serde(default)]
    pub units: Vec<UnitConfig>,
    /// Staff members.
    #[serde(default)]
    pub staff: Vec<StaffConfig>,
    /// Service windows with their A and B posts.
    #[serde(default)]
    pub windows: Vec<WindowConfig>,
    /// Where metrics go; without this section history is kept in memory only.
    #[serde(default)]
    pub influxdb: Option<InfluxConfig>,
    /// The removable-media register (DEV-5): every USB stick or disk allowed in the hall.
    #[serde(default)]
    pub media: Vec<MediaConfig>,
    /// Tuning of the device supervision rules (DEV-1 flap damping).
    #[serde(default)]
    pub supervision: SupervisionConfig,
    /// Webhooks that alerts are sent to (generic JSON, WeCom or DingTalk group robots).
    #[serde(default)]
    pub notify: Vec<NotifyConfig>,
}

/// Identity of the hall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HallInfoConfig {
    /// Short id, used in MQTT topics and metric tags.
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// MQTT topic prefix; default `hall/{id}`.
    #[serde(default)]
    pub topic_prefix: Option<String>,
}

impl HallConfig {
    /// The MQTT topic prefix of this hall.
    pub fn topic_prefix(&self) -> String {
        self.hall
            .topic_prefix
            .clone()
            .unwrap_or_else(|| crate::topic::default_prefix(&self.hall.id))
    }

    /// Heartbeat interval of a device: its own setting, else its kind's, else 10 s.
    pub fn heartbeat_interval_secs(&self, device: &DeviceConfig) -> u64 {
        device
            .heartbeat_interval_secs
            .or_else(|| {
                self.device_kinds
                    .get(&device.kind)
                    .and_then(|k| k.heartbeat_interval_secs)
            })
            .unwrap_or_else(default_heartbeat_interval_secs)
    }

    /// Missed heartbeats before a device is offline (DEV-1): its own setting, else its kind's, else 3.
    pub fn missed_heartbeats(&self, device: &DeviceConfig) -> u32 {
        device
            .missed_heartbeats
            .or_else(|| {
                self.device_kinds
                    .get(&device.kind)
                    .and_then(|k| k.missed_heartbeats)
            })
            .unwrap_or_else(default_missed_heartbeats)
    }
}

/// MQTT broker settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BrokerConfig {
    /// Start an MQTT broker inside the gateway (rumqttd), so nothing else needs installing.
    #[serde(default = "default_true")]
    pub embedded: bool,
    /// Broker host to connect to (or to bind, when embedded).
    #[serde(default = "default_broker_host")]
    pub host: String,
    /// Broker port.
    #[serde(default = "default_broker_port")]
    pub port: u16,
    /// MQTT client id of the gateway.
    #[serde(default = "default_client_id")]
    pub client_id: String,
    /// MQTT username, if the broker requires one.
    #[serde(default)]
    pub username: Option<String>,
    /// MQTT password; prefer the `HALLWATCH_MQTT_PASSWORD` environment variable.
    #[serde(default)]
    pub password: Option<String>,
    /// Longest wait between reconnection attempts.
    #[serde(default = "default_max_backoff_secs")]
    pub max_backoff_secs: u64,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            embedded: true,
            host: default_broker_host(),
            port: default_broker_port(),
            client_id: default_client_id(),
            username: None,
            password: None,
            max_backoff_secs: default_max_backoff_secs(),
        }
    }
}

/// HTTP API settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// Address the API and dashboard listen on.
    #[serde(default = "default_listen")]
    pub listen: String,
    /// Folder with the built dashboard (`index.html`, wasm, js); `cargo xtask demo` builds it here.
    #[serde(default = "default_dashboard_dir")]
    pub dashboard_dir: String,
    /// Deltas buffered per WebSocket client before it is resynchronised with a fresh snapshot.
    #[serde(default = "default_live_buffer")]
    pub live_buffer: usize,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            listen: default_listen(),
            dashboard_dir: default_dashboard_dir(),
            live_buffer: default_live_buffer(),
        }
    }
}

/// Data directory settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Folder for the journal and spool; created when missing.
    #[serde(default = "default_data_dir")]
    pub dir: String,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            dir: default_data_dir(),
        }
    }
}

/// Ingest limits.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IngestConfig {
    /// Payloads larger than this are rejected and counted.
    #[serde(default = "default_max_payload_bytes")]
    pub max_payload_bytes: usize,
    /// Messages queued between the MQTT source and the hall model.
    #[serde(default = "default_queue_len")]
    pub queue_len: usize,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            max_payload_bytes: default_max_payload_bytes(),
            queue_len: default_queue_len(),
        }
    }
}

/// The hall calendar (CAL-1..3). Times are `HH:MM` in the hall's time zone; dates `MM-DD` or `YYYY-MM-DD`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarConfig {
    /// IANA time zone of the hall.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// First day (`MM-DD`) of the summer timetable.
    #[serde(default = "default_summer_start")]
    pub summer_start: String,
    /// First day (`MM-DD`) of the winter timetable.
    #[serde(default = "default_winter_start")]
    pub winter_start: String,
    /// Summer timetable.
    #[serde(default = "default_summer")]
    pub summer: TimetableConfig,
    /// Winter timetable.
    #[serde(default = "default_winter")]
    pub winter: TimetableConfig,
    /// Start of the morning meeting and inspection (`pre_open`).
    #[serde(default = "default_pre_open")]
    pub pre_open: String,
    /// Minutes after the last period during which staff clock out (`closing`).
    #[serde(default = "default_closing_mins")]
    pub closing_mins: u32,
    /// Extra opening slots beyond Monday–Friday ("5+X"), e.g. `{ weekday = "sat", periods = ["morning"] }`.
    #[serde(default)]
    pub extra_slots: Vec<ExtraSlotConfig>,
    /// Public holidays (`YYYY-MM-DD`), closed even on a weekday.
    #[serde(default)]
    pub holidays: Vec<String>,
    /// Make-up working days (调休上班, `YYYY-MM-DD`), open even on a weekend.
    #[serde(default)]
    pub makeup_days: Vec<String>,
}

impl Default for CalendarConfig {
    fn default() -> Self {
        CalendarConfig {
            timezone: default_timezone(),
            summer_start: default_summer_start(),
            winter_start: default_winter_start(),
            summer: default_summer(),
            winter: default_winter(),
            pre_open: default_pre_open(),
            closing_mins: default_closing_mins(),
            extra_slots: Vec::new(),
            holidays: Vec::new(),
            makeup_days: Vec::new(),
        }
    }
}

/// One timetable: service periods of a working day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimetableConfig {
    /// Morning period `[start, end]`.
    pub morning: [String; 2],
    /// Afternoon period `[start, end]`.
    pub afternoon: [String; 2],
}

/// An extra opening slot of the "5+X" pattern.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraSlotConfig {
    /// `mon` … `sun`.
    pub weekday: String,
    /// Which periods open: `morning`, `afternoon`.
    pub periods: Vec<String>,
}

/// Kinds of device in a hall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceKind {
    /// 排队叫号机 (ticket dispenser)
    QueueDispenser,
    /// 叫号器 / 呼叫屏 (caller)
    QueueCaller,
    /// 自助服务终端
    SelfServiceKiosk,
    /// 自助查询机
    SelfQueryKiosk,
    /// 公共WiFi接入点
    WifiAp,
    /// 窗口电脑
    WindowPc,
    /// 窗口显示屏
    WindowScreen,
    /// 评价器
    RatingPad,
    /// 复印机
    Copier,
    /// 考勤机
    AttendanceTerminal,
    /// 网络设备
    NetworkGear,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 11] = [
        DeviceKind::QueueDispenser,
        DeviceKind::QueueCaller,
        DeviceKind::SelfServiceKiosk,
        DeviceKind::SelfQueryKiosk,
        DeviceKind::WifiAp,
        DeviceKind::WindowPc,
        DeviceKind::WindowScreen,
        DeviceKind::RatingPad,
        DeviceKind::Copier,
        DeviceKind::AttendanceTerminal,
        DeviceKind::NetworkGear,
    ];

    /// The snake_case name used in config and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::QueueDispenser => "queue_dispenser",
            DeviceKind::QueueCaller => "queue_caller",
            DeviceKind::SelfServiceKiosk => "self_service_kiosk",
            DeviceKind::SelfQueryKiosk => "self_query_kiosk",
            DeviceKind::WifiAp => "wifi_ap",
            DeviceKind::WindowPc => "window_pc",
            DeviceKind::WindowScreen => "window_screen",
            DeviceKind::RatingPad => "rating_pad",
            DeviceKind::Copier => "copier",
            DeviceKind::AttendanceTerminal => "attendance_terminal",
            DeviceKind::NetworkGear => "network_gear",
        }
    }

    /// Chinese label for the dashboard.
    pub fn label_zh(self) -> &'static str {
        match self {
            DeviceKind::QueueDispenser => "排队叫号机",
            DeviceKind::QueueCaller => "叫号器",
            DeviceKind::SelfServiceKiosk => "自助服务终端",
            DeviceKind::SelfQueryKiosk => "自助查询机",
            DeviceKind::WifiAp => "公共WiFi",
            DeviceKind::WindowPc => "窗口电脑",
            DeviceKind::WindowScreen => "窗口显示屏",
            DeviceKind::RatingPad => "评价器",
            DeviceKind::Copier => "复印机",
            DeviceKind::AttendanceTerminal => "考勤机",
            DeviceKind::NetworkGear => "网络设备",
        }
    }
}

/// When a device must be on (DEV-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExpectedOn {
    /// Around the clock (WiFi, network gear).
    Always,
    /// During `service` phases only.
    Service,
    /// From `pre_open` to the end of `closing` on working days.
    BusinessDay,
}

/// Network policy of a device (DEV-4).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NetworkPolicy {
    /// Government intranet: must never reach the internet.
    Intranet,
    /// Internet-capable (public WiFi, some kiosks).
    Internet,
    /// Not a computer, or not checked.
    #[default]
    None,
}

/// Defaults for one device kind.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceKindConfig {
    /// Seconds between heartbeats.
    #[serde(default)]
    pub heartbeat_interval_secs: Option<u64>,
    /// Missed heartbeats before the device is offline (DEV-1).
    #[serde(default)]
    pub missed_heartbeats: Option<u32>,
    /// When devices of this kind must be on.
    #[serde(default)]
    pub expected_on: Option<ExpectedOn>,
}

/// One supervised device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceConfig {
    /// Unique id; appears in MQTT topics (any Unicode allowed).
    pub id: String,
    /// What kind of device this is.
    pub kind: DeviceKind,
    /// Where it stands, e.g. `一楼东区`.
    pub location: String,
    /// Display name; defaults to the id.
    #[serde(default)]
    pub name: Option<String>,
    /// The window this device belongs to, if any.
    #[serde(default)]
    pub window: Option<String>,
    /// Seconds between heartbeats; overrides the kind's.
    #[serde(default)]
    pub heartbeat_interval_secs: Option<u64>,
    /// Missed heartbeats before offline; overrides the kind's.
    #[serde(default)]
    pub missed_heartbeats: Option<u32>,
    /// When it must be on; overrides the kind's.
    #[serde(default)]
    pub expected_on: Option<ExpectedOn>,
    /// Network policy (DEV-4).
    #[serde(default)]
    pub network: NetworkPolicy,
}

/// Message format of a webhook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotifyFormat {
    /// The alert as JSON (`{"alerts": [AlertView, ...], "summary": ...}`).
    #[default]
    Json,
    /// WeCom (企业微信) group robot, `markdown` message.
    Wecom,
    /// DingTalk (钉钉) group robot, `markdown` message.
    Dingtalk,
}

/// One notification channel: a webhook and the alerts it wants.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifyConfig {
    /// The webhook URL (for robots, including its key or access token; never logged).
    pub url: String,
    /// Message format.
    #[serde(default)]
    pub format: NotifyFormat,
    /// Rule ids to send, e.g. `["DEV-4", "DEV-5"]`; empty sends every rule.
    #[serde(default)]
    pub rules: Vec<String>,
    /// Lowest severity sent.
    #[serde(default)]
    pub min_severity: crate::payload::Severity,
    /// At most this many messages per minute; the rest are summarised in one message at the end of the minute
    /// (group robots allow 20 a minute).
    #[serde(default = "default_notify_max_per_minute")]
    pub max_per_minute: u32,
    /// Attempts per message before it is counted as failed (with exponential backoff between them).
    #[serde(default = "default_notify_max_attempts")]
    pub max_attempts: u32,
}

pub fn default_notify_max_per_minute() -> u32 {
    20
}

pub fn default_notify_max_attempts() -> u32 {
    4
}

/// Tuning of the device supervision rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SupervisionConfig {
    /// A raised offline alert (DEV-1) is resolved only once the device has stayed back online this long, so a
    /// device that bounces gives one alert, not one per bounce.
    #[serde(default = "default_flap_hold_secs")]
    pub flap_hold_secs: u64,
}

impl Default for SupervisionConfig {
    fn default() -> Self {
        SupervisionConfig {
            flap_hold_secs: default_flap_hold_secs(),
        }
    }
}

pub fn default_flap_hold_secs() -> u64 {
    120
}

/// One registered removable storage medium (DEV-5, 附件9 (三)2: registered, numbered, assigned to a person).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaConfig {
    /// Serial number as the device agent reports it (USB serial or filesystem id).
    pub serial: String,
    /// The register's number or label written on the medium, e.g. `U-007`.
    pub label: String,
    /// Staff id of the person it is assigned to.
    pub owner: String,
    /// Whether it may hold classified material; such a medium must never be seen on an internet-capable device.
    #[serde(default)]
    pub classified: bool,
}

/// A service type citizens queue for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceConfig {
    /// Id used in ticket events.
    pub id: String,
    /// Display name, e.g. `社保业务`.
    pub name: String,
    /// Ticket number prefix, e.g. `A`.
    #[serde(default)]
    pub ticket_prefix: String,
    /// Longest acceptable wait in minutes (Q-2).
    #[serde(default = "default_service_level_mins")]
    pub service_level_mins: u32,
    /// Most people who may wait per open window before Q-2 raises `queue_over_service_level` (strictly more
    /// raises it); default 15.
    #[serde(default)]
    pub max_waiting_per_window: Option<u32>,
}

/// Whether a unit staffs its windows with one person or more (POST-2 / POST-3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitKind {
    Single,
    Multi,
}

/// An organisational unit.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnitConfig {
    pub id: String,
    pub name: String,
    /// Single-person or multi-person unit.
    pub kind: UnitKind,
}

/// A staff member.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StaffConfig {
    pub id: String,
    pub name: String,
    /// The unit the person belongs to.
    pub unit: String,
}

/// A service window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowConfig {
    /// Unique id; appears in MQTT topics.
    pub id: String,
    /// Number shown above the window.
    pub number: u32,
    /// The unit that staffs it.
    pub unit: String,
    /// A-post staff id.
    pub a_post: String,
    /// B-post (backup) staff id.
    pub b_post: Option<String>,
    /// Service type ids handled here.
    #[serde(default)]
    pub services: Vec<String>,
}

/// Which InfluxDB write API the metrics sink speaks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InfluxApi {
    /// `/api/v2/write` with org, bucket and token (InfluxDB 2 and 3, and compatible servers).
    #[default]
    V2,
    /// `/write` with database, retention policy, username and password (InfluxDB 1.x).
    V1,
}

/// What the metrics sink does when its disk spool is full.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SpoolFullPolicy {
    /// Stop taking metrics: the in-memory queue fills and senders wait (or are refused and counted).
    Block,
    /// Delete the oldest spool segment and count its lines as dropped.
    #[default]
    DropOldest,
}

/// The `[influxdb]` section: where and how metrics are written.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InfluxConfig {
    /// Base URL of the server, e.g. `http://127.0.0.1:8086`.
    pub url: String,
    /// Write API: `v2` (default) or `v1`.
    #[serde(default)]
    pub api: InfluxApi,
    /// Organisation (v2 API).
    #[serde(default)]
    pub org: Option<String>,
    /// Bucket (v2 API).
    #[serde(default)]
    pub bucket: Option<String>,
    /// API token (v2 API); prefer the `HALLWATCH_INFLUX_TOKEN` environment variable, which wins over this.
    #[serde(default)]
    pub token: Option<String>,
    /// Database (v1 API).
    #[serde(default)]
    pub database: Option<String>,
    /// Retention policy (v1 API); the database's default when absent.
    #[serde(default)]
    pub retention_policy: Option<String>,
    /// Username (v1 API), if the server requires authentication.
    #[serde(default)]
    pub username: Option<String>,
    /// Password (v1 API); prefer the `HALLWATCH_INFLUX_PASSWORD` environment variable, which wins over this.
    #[serde(default)]
    pub password: Option<String>,
    /// Most lines in one write request.
    #[serde(default = "default_max_batch_lines")]
    pub max_batch_lines: usize,
    /// Longest time a line waits in memory before its batch is sent, in milliseconds.
    #[serde(default = "default_flush_interval_ms")]
    pub flush_interval_ms: u64,
    /// Compress write requests with gzip.
    #[serde(default = "default_true")]
    pub gzip: bool,
    /// Lines queued in memory between the gateway and the sink.
    #[serde(default = "default_queue_lines")]
    pub queue_lines: usize,
    /// Upper bound of the disk spool (under the data directory) used while the server is unreachable.
    #[serde(default = "default_spool_max_bytes")]
    pub spool_max_bytes: u64,
    /// Size at which a spool segment file is closed and a new one started.
    #[serde(default = "default_spool_segment_bytes")]
    pub spool_segment_bytes: u64,
    /// What to do when the spool is full: `block` or `drop_oldest` (default).
    #[serde(default)]
    pub spool_full_policy: SpoolFullPolicy,
    /// Upper bound of the quarantine file of lines the server rejected; further rejected lines are dropped and counted.
    #[serde(default = "default_quarantine_max_bytes")]
    pub quarantine_max_bytes: u64,
    /// Timeout of one write request, in seconds.
    #[serde(default = "default_request_timeout_secs")]
    pub request_timeout_secs: u64,
    /// Longest wait between two attempts of a failing write, in seconds (the exponential backoff's cap).
    #[serde(default = "default_max_retry_secs")]
    pub max_retry_secs: u64,
}

impl InfluxConfig {
    /// A config for `url` with every optional setting at its default.
    pub fn new(url: impl Into<String>, api: InfluxApi) -> Self {
        InfluxConfig {
            url: url.into(),
            api,
            org: None,
            bucket: None,
            token: None,
            database: None,
            retention_policy: None,
            username: None,
            password: None,
            max_batch_lines: default_max_batch_lines(),
            flush_interval_ms: default_flush_interval_ms(),
            gzip: true,
            queue_lines: default_queue_lines(),
            spool_max_bytes: default_spool_max_bytes(),
            spool_segment_bytes: default_spool_segment_bytes(),
            spool_full_policy: SpoolFullPolicy::default(),
            quarantine_max_bytes: default_quarantine_max_bytes(),
            request_timeout_secs: default_request_timeout_secs(),
            max_retry_secs: default_max_retry_secs(),
        }
    }
}

fn default_max_batch_lines() -> usize {
    5000
}
fn default_flush_interval_ms() -> u64 {
    1000
}
fn default_queue_lines() -> usize {
    50_000
}
fn default_spool_max_bytes() -> u64 {
    256 * 1024 * 1024
}
fn default_spool_segment_bytes() -> u64 {
    8 * 1024 * 1024
}
fn default_quarantine_max_bytes() -> u64 {
    64 * 1024 * 1024
}
fn default_request_timeout_secs() -> u64 {
    10
}
fn default_max_retry_secs() -> u64 {
    30
}

fn default_true() -> bool {
    true
}
fn default_broker_host() -> String {
    "127.0.0.1".into()
}
fn default_broker_port() -> u16 {
    1883
}
fn default_client_id() -> String {
    "hall-gateway".into()
}
fn default_max_backoff_secs() -> u64 {
    30
}
fn default_listen() -> String {
    "127.0.0.1:8080".into()
}
fn default_dashboard_dir() -> String {
    "target/dashboard".into()
}
fn default_live_buffer() -> usize {
    1024
}
fn default_data_dir() -> String {
    "data".into()
}
fn default_max_payload_bytes() -> usize {
    64 * 1024
}
fn default_queue_len() -> usize {
    4096
}
fn default_timezone() -> String {
    "Asia/Shanghai".into()
}
fn default_summer_start() -> String {
    "05-01".into()
}
fn default_winter_start() -> String {
    "10-01".into()
}
fn default_summer() -> TimetableConfig {
    TimetableConfig {
        morning: ["08:30".into(), "12:00".into()],
        afternoon: ["14:30".into(), "18:00".into()],
    }
}
fn default_winter() -> TimetableConfig {
    TimetableConfig {
        morning: ["08:30".into(), "12:00".into()],
        afternoon: ["14:00".into(), "17:30".into()],
    }
}
fn default_pre_open() -> String {
    "08:15".into()
}
fn default_closing_mins() -> u32 {
    30
}
/// Default seconds between heartbeats.
pub fn default_heartbeat_interval_secs() -> u64 {
    10
}
/// Default missed heartbeats before offline (DEV-1).
pub fn default_missed_heartbeats() -> u32 {
    3
}
fn default_service_level_mins() -> u32 {
    30
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minimal_config_parses_with_defaults() {
        let cfg: HallConfig = toml_like(
            r#"{"hall":{"id":"h1"},"devices":[{"id":"k1","kind":"self_service_kiosk","location":"东区"}]}"#,
        );
        assert!(cfg.broker.embedded);
        assert_eq!(cfg.topic_prefix(), "hall/h1");
        assert_eq!(cfg.heartbeat_interval_secs(&cfg.devices[0]), 10);
        assert_eq!(cfg.missed_heartbeats(&cfg.devices[0]), 3);
        assert_eq!(cfg.calendar.timezone, "Asia/Shanghai");
        assert!(cfg.influxdb.is_none());
    }

    #[test]
    fn influxdb_section_parses_with_defaults() {
        let cfg: HallConfig = toml_like(
            r#"{"hall":{"id":"h1"},"influxdb":{"url":"http://127.0.0.1:8086","api":"v1","database":"hall",
                "spool_full_policy":"block"}}"#,
        );
        let influx = cfg.influxdb.unwrap();
        assert_eq!(influx.api, InfluxApi::V1);
        assert_eq!(influx.max_batch_lines, 5000);
        assert_eq!(influx.flush_interval_ms, 1000);
        assert!(influx.gzip);
        assert_eq!(influx.spool_full_policy, SpoolFullPolicy::Block);
    }

    fn toml_like(json: &str) -> HallConfig {
        serde_json::from_str(json).unwrap()
    }
}
