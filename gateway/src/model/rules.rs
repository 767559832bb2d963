//! Device rules (DEV-1, DEV-2) as pure functions: given a device and the phase, which alert conditions hold.
//!
//! Each condition is returned as `(active, AlertSpec)`; the alert book raises or resolves accordingly.

use std::time::Duration;

use hall_protocol::api::{DeviceState, Phase};
use hall_protocol::config::{DeviceKind, ExpectedOn};
use hall_protocol::payload::Severity;

use super::alerts::AlertSpec;
use super::devices::Device;

/// Rule id of offline devices.
pub const DEV_OFFLINE: &str = "DEV-1";
/// Rule id of device faults.
pub const DEV_FAULT: &str = "DEV-2";

/// When a kind must be on, unless the config says otherwise (DEV-1, DEV-3).
pub fn default_expected_on(kind: DeviceKind) -> ExpectedOn {
    match kind {
        DeviceKind::WifiAp | DeviceKind::NetworkGear => ExpectedOn::Always,
        DeviceKind::AttendanceTerminal | DeviceKind::QueueDispenser | DeviceKind::QueueCaller => {
            ExpectedOn::BusinessDay
        }
        DeviceKind::SelfServiceKiosk
        | DeviceKind::SelfQueryKiosk
        | DeviceKind::WindowPc
        | DeviceKind::WindowScreen
        | DeviceKind::RatingPad
        | DeviceKind::Copier => ExpectedOn::Service,
    }
}

/// Whether a device with this setting must be on in `phase` (DEV-1).
pub fn expected_on(expected: ExpectedOn, phase: Phase) -> bool {
    match expected {
        ExpectedOn::Always => true,
        ExpectedOn::Service => phase == Phase::Service,
        ExpectedOn::BusinessDay => phase != Phase::Closed,
    }
}

/// `device:{id}`.
pub fn device_subject(id: &str) -> String {
    format!("device:{id}")
}

/// Prefix of the subjects of a device's fault alerts.
pub fn fault_subject_prefix(id: &str) -> String {
    format!("device:{id}/fault:")
}

/// The alert conditions of one device at `now`.
pub fn device_alerts(dev: &Device, now: Duration, expected: bool) -> Vec<(bool, AlertSpec)> {
    let state = dev.state(now);
    let id = &dev.spec.id;
    let mut out = Vec::with_capacity(1 + dev.faults().count());
    let (message, offline) = match state {
        DeviceState::Offline => (
            format!("{}（{}）离线", dev.spec.name, dev.spec.location),
            true,
        ),
        DeviceState::Unknown => (
            format!("{}（{}）从未上报", dev.spec.name, dev.spec.location),
            true,
        ),
        _ => (String::new(), false),
    };
    out.push((
        offline && expected,
        AlertSpec {
            rule: DEV_OFFLINE,
            kind: "device_offline",
            subject: device_subject(id),
            severity: if dev.spec.expected_on == ExpectedOn::Always {
                Severity::Critical
            } else {
                Severity::Warning
            },
            message,
        },
    ));
    // A fault alert stays while the device reports the fault, even if it then goes offline (DEV-2).
    for fault in dev.faults() {
        out.push((
            true,
            AlertSpec {
                rule: DEV_FAULT,
                kind: "device_fault",
                subject: format!("{}{}", fault_subject_prefix(id), fault.code),
                severity: fault.severity,
                message: format!(
                    "{}（{}）故障：{} {}",
                    dev.spec.name, dev.spec.location, fault.code, fault.message
                ),
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expected_on_by_phase() {
        use Phase::*;
        for (exp, phase, want) in [
            (ExpectedOn::Always, Closed, true),
            (ExpectedOn::Service, Service, true),
            (ExpectedOn::Service, Lunch, false),
            (ExpectedOn::Service, PreOpen, false),
            (ExpectedOn::BusinessDay, PreOpen, true),
            (ExpectedOn::BusinessDay, Closing, true),
            (ExpectedOn::BusinessDay, Closed, false),
        ] {
            assert_eq!(expected_on(exp, phase), want, "{exp:?} in {phase:?}");
        }
    }
}
