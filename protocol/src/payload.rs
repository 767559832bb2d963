//! JSON payloads of the MQTT topics in [`crate::topic`]. Every payload carries the schema version `"v"`.
//!
//! Times on the wire are RFC 3339 with an offset. The gateway never trusts a device's clock for liveness: the
//! `sent_at` / `at` fields are used for records and to flag clock skew only.

use chrono::{DateTime, FixedOffset};
use serde::{Deserialize, Serialize};

use crate::SCHEMA_VERSION;

fn schema_version() -> u32 {
    SCHEMA_VERSION
}

/// `…/device/{id}/status`, retained. The agent publishes `online` when it connects and registers an `offline`
/// one as its last will; both carry the agent's `boot_id` so a stale `offline` from an earlier boot can be told
/// apart from the current one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPayload {
    #[serde(default = "schema_version")]
    pub v: u32,
    pub state: LinkState,
    /// Random id chosen by the agent each time it starts.
    pub boot_id: String,
    /// The agent's clock when it published; absent in a last will registered long before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<DateTime<FixedOffset>>,
    /// Why the agent went offline (`shutdown`, `last_will`), for the log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What a status message says about the link.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkState {
    Online,
    Offline,
}

/// `…/device/{id}/heartbeat`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Heartbeat {
    #[serde(default = "schema_version")]
    pub v: u32,
    /// Increases by one per heartbeat within a boot.
    pub seq: u64,
    pub boot_id: String,
    pub sent_at: DateTime<FixedOffset>,
    #[serde(default)]
    pub uptime_secs: u64,
    #[serde(default)]
    pub metrics: Metrics,
    #[serde(default)]
    pub checks: Checks,
}

/// Host metrics; every field is optional because not every device can measure it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mem_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_pct: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temp_c: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
}

/// Results of the agent's configured checks.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Checks {
    /// Result of the internet-reachability probe (intranet machines only; DEV-4).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_reachable: Option<bool>,
    /// Peripheral checks by name, each with the fault code it maps to when failing.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peripherals: Vec<PeripheralCheck>,
    /// Mounted removable media (DEV-5).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub removable_media: Option<Vec<RemovableMedium>>,
}

/// One peripheral check result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeripheralCheck {
    pub name: String,
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_code: Option<String>,
}

/// A mounted removable storage medium.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovableMedium {
    pub serial: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount: Option<String>,
}

/// `…/device/{id}/event`: a fault raised or cleared (DEV-2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceEvent {
    #[serde(default = "schema_version")]
    pub v: u32,
    pub kind: DeviceEventKind,
    /// Fault code, e.g. `printer_paper_out`, `card_reader_error`.
    pub code: String,
    #[serde(default)]
    pub severity: Severity,
    #[serde(default)]
    pub message: String,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceEventKind {
    FaultRaised,
    FaultCleared,
}

/// Severity of a fault or an alert.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Info,
    #[default]
    Warning,
    Critical,
}

/// `…/window/{id}/presence` (POST-1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Presence {
    #[serde(default = "schema_version")]
    pub v: u32,
    pub action: PresenceAction,
    pub staff_id: String,
    /// Reason given with a step-away (POST-3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub source: PresenceSource,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceAction {
    SignIn,
    SignOut,
    StepAway,
    Return,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PresenceSource {
    Badge,
    Login,
    Sensor,
}

/// `…/queue/{dispenser_id}/ticket` (Q-1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TicketEvent {
    #[serde(default = "schema_version")]
    pub v: u32,
    pub action: TicketAction,
    /// Ticket number as printed, e.g. `A023`.
    pub ticket: String,
    /// Service type id from the hall config.
    pub service: String,
    /// The window a ticket is called to / served at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_id: Option<String>,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketAction {
    Issued,
    Called,
    Served,
    NoShow,
}

/// `…/rating/{window_id}` (RAT-1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RatingEvent {
    #[serde(default = "schema_version")]
    pub v: u32,
    pub level: RatingLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ticket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub staff_id: Option<String>,
    pub at: DateTime<FixedOffset>,
}

/// The five rating levels of RAT-1, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RatingLevel {
    /// 非常满意
    VerySatisfied,
    /// 满意
    Satisfied,
    /// 基本满意
    Basic,
    /// 不满意
    Dissatisfied,
    /// 非常不满意
    VeryDissatisfied,
}

impl RatingLevel {
    pub fn label_zh(self) -> &'static str {
        match self {
            RatingLevel::VerySatisfied => "非常满意",
            RatingLevel::Satisfied => "满意",
            RatingLevel::Basic => "基本满意",
            RatingLevel::Dissatisfied => "不满意",
            RatingLevel::VeryDissatisfied => "非常不满意",
        }
    }

    /// Satisfied means one of the top two levels (RAT-1).
    pub fn is_satisfied(self) -> bool {
        matches!(self, RatingLevel::VerySatisfied | RatingLevel::Satisfied)
    }

    /// A level that needs follow-up by the duty leader (RAT-2).
    pub fn is_bad(self) -> bool {
        matches!(
            self,
            RatingLevel::Dissatisfied | RatingLevel::VeryDissatisfied
        )
    }
}

/// `…/attendance/{terminal_id}` (ATT-1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Punch {
    #[serde(default = "schema_version")]
    pub v: u32,
    pub staff_id: String,
    pub method: PunchMethod,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PunchMethod {
    Face,
    Fingerprint,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heartbeat_parses_with_defaults() {
        let hb: Heartbeat = serde_json::from_str(
            r#"{"v":1,"seq":7,"boot_id":"b1","sent_at":"2026-12-03T08:00:00+08:00"}"#,
        )
        .unwrap();
        assert_eq!(hb.seq, 7);
        assert_eq!(hb.metrics, Metrics::default());
    }

    #[test]
    fn status_round_trips() {
        let s = StatusPayload {
            v: 1,
            state: LinkState::Offline,
            boot_id: "b".into(),
            at: None,
            reason: None,
        };
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(json, r#"{"v":1,"state":"offline","boot_id":"b"}"#);
        assert_eq!(serde_json::from_str::<StatusPayload>(&json).unwrap(), s);
    }
}
