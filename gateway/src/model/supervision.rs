//! Device supervision beyond liveness and faults: flap damping of offline alerts (DEV-1), devices left on after
//! hours (DEV-3), intranet machines reaching the internet (DEV-4), removable media against the register (DEV-5),
//! and maintenance marks that silence a device (DEV-6).
//!
//! Pure, like the rest of the model. [`Supervision::device_conditions`] takes the conditions that
//! [`super::rules::device_alerts`] found for one device and adds, damps or drops them before the alert book sees
//! them. Decisions where RULES.md is silent:
//!
//! - DEV-1: once raised, an offline alert is resolved only after the device has stayed back (online, stale or
//!   fault) for the hold time (`supervision.flap_hold_secs`, default 120 s; "届满": exactly the hold resolves it).
//!   Going offline again within the hold keeps the same open alert. A device that stops being *expected* on while
//!   still offline has its alert resolved at once: there is nothing to damp.
//! - DEV-3: the "evening" is the working day whose closing ended most recently; the alert is raised at most once
//!   per (device, that date), even if the device goes off and on again that night. It is resolved when the device
//!   goes offline, or when the next working day's `pre_open` begins (the device is then meant to be on).
//! - DEV-4: the last reported `internet_reachable` counts; a heartbeat without the field changes nothing.
//! - DEV-5: the last reported list of media counts; one alert per (device, serial), resolved when the medium is
//!   unplugged or the condition stops holding. "Signed in at that device" means the person shown at the device's
//!   window; a device without a window has nobody signed in at it. Presence changes are taken into account at
//!   the device's next heartbeat. A classified medium on an internet-capable device is critical and wins over the
//!   other DEV-5 conditions.
//! - DEV-6: marking a device resolves its open alerts; while the mark holds no alert of the device is raised (
//!   conditions that stop holding still resolve). When the mark is lifted or expires ("届满": at `until` exactly)
//!   the device's rules run again and anything still wrong is raised anew.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use hall_protocol::api::{DeviceState, Phase};
use hall_protocol::config::{DeviceKind, ExpectedOn, HallConfig, MediaConfig, NetworkPolicy};
use hall_protocol::payload::{Checks, RemovableMedium, Severity};

use super::alerts::{AlertBook, AlertSpec};
use super::calendar::Calendar;
use super::devices::Device;
use super::rules::{DEV_OFFLINE, device_subject};
use crate::clock::Now;

/// Rule id of devices left on after hours.
pub const DEV_AFTER_HOURS: &str = "DEV-3";
/// Rule id of intranet machines reaching the internet.
pub const DEV_INTERNET: &str = "DEV-4";
/// Rule id of removable media.
pub const DEV_MEDIA: &str = "DEV-5";
/// Every rule whose alerts are about one device (silenced by DEV-6).
pub const DEVICE_RULES: [&str; 5] = [
    DEV_OFFLINE,
    super::rules::DEV_FAULT,
    DEV_AFTER_HOURS,
    DEV_INTERNET,
    DEV_MEDIA,
];

/// How far back the last closing is looked for (covers the longest holiday).
const EVENING_LOOKBACK_DAYS: i64 = 14;

/// Prefix of the subjects of a device's media alerts.
pub fn media_subject_prefix(id: &str) -> String {
    format!("device:{id}/media:")
}

/// Whether `subject` belongs to device `id` (`device:{id}` or `device:{id}/…`).
pub fn is_device_subject(subject: &str, id: &str) -> bool {
    let own = device_subject(id);
    subject == own
        || subject
            .strip_prefix(own.as_str())
            .is_some_and(|rest| rest.starts_with('/'))
}

/// Kinds that must be switched off after hours (DEV-3, 附件10 七).
pub fn must_switch_off(kind: DeviceKind) -> bool {
    matches!(
        kind,
        DeviceKind::WindowPc
            | DeviceKind::WindowScreen
            | DeviceKind::RatingPad
            | DeviceKind::Copier
    )
}

/// The working day whose `closing` ended most recently, if `wall` is after hours (DEV-3).
pub fn evening_of(calendar: &Calendar, wall: DateTime<Utc>) -> Option<NaiveDate> {
    if calendar.phase_at(wall) != Phase::Closed {
        return None;
    }
    let today = calendar.local_date(wall);
    (0..=EVENING_LOOKBACK_DAYS).find_map(|back| {
        let date = today - TimeDelta::days(back);
        let plan = calendar.day_plan(date)?;
        let end = calendar.to_utc(date, plan.closing_end)?;
        (end <= wall).then_some(date)
    })
}

#[derive(Debug, Clone, Default)]
struct Watch {
    network: NetworkPolicy,
    /// Since when the device has been back while its offline alert is held open (DEV-1).
    back_since: Option<Duration>,
    /// The evening a `left_powered_on` alert was raised for (DEV-3).
    left_on_raised_for: Option<NaiveDate>,
    internet_reachable: bool,
    media: Vec<RemovableMedium>,
}

/// Supervision state of every device, indexed like the hall's devices.
#[derive(Debug, Clone)]
pub struct Supervision {
    flap_hold: Duration,
    register: HashMap<String, MediaConfig>,
    staff_names: HashMap<String, String>,
    watch: Vec<Watch>,
}

impl Supervision {
    /// One watch per configured device, in config order.
    pub fn new(cfg: &HallConfig) -> Self {
        Supervision {
            flap_hold: Duration::from_secs(cfg.supervision.flap_hold_secs),
            register: cfg
                .media
                .iter()
                .map(|m| (m.serial.clone(), m.clone()))
                .collect(),
            staff_names: cfg
                .staff
                .iter()
                .map(|s| (s.id.clone(), s.name.clone()))
                .collect(),
            watch: cfg
                .devices
                .iter()
                .map(|d| Watch {
                    network: d.network,
                    ..Watch::default()
                })
                .collect(),
        }
    }

    pub fn flap_hold(&self) -> Duration {
        self.flap_hold
    }

    /// Takes in the check results of a heartbeat (DEV-4, DEV-5). Absent fields leave the last report standing.
    pub fn on_checks(&mut self, idx: usize, checks: &Checks) {
        let w = &mut self.watch[idx];
        if let Some(r) = checks.internet_reachable {
            w.internet_reachable = r;
        }
        if let Some(media) = &checks.removable_media {
            w.media = media.clone();
        }
    }

    /// Whether device `idx` must be evaluated again at `now` although nothing arrived: its flap hold is over.
    pub fn due(&self, idx: usize, now: Now) -> bool {
        self.watch[idx]
            .back_since
            .is_some_and(|since| now.mono.saturating_sub(since) >= self.flap_hold)
    }

    /// Completes the alert conditions of one device: damps DEV-1, adds DEV-3..5, silences DEV-6.
    ///
    /// `evening` is [`evening_of`] now, with whether it is still that evening's date: a device is "left on" only if
    /// it is on before midnight (one switched on early next morning, before `pre_open`, is not); an alert raised in
    /// the evening stays open through the night until the device goes off. `window_staff` the staff id shown at the device's window; `grace` whether
    /// the startup grace holds (nothing is raised, so nothing is remembered as raised either).
    #[allow(clippy::too_many_arguments)]
    pub fn device_conditions(
        &mut self,
        idx: usize,
        dev: &Device,
        evening: Option<(NaiveDate, bool)>,
        window_staff: Option<&str>,
        grace: bool,
        alerts: &AlertBook,
        now: Now,
        conditions: &mut Vec<(bool, AlertSpec)>,
    ) {
        let hold = self.flap_hold;
        let w = &mut self.watch[idx];
        let id = &dev.spec.id;
        let state = dev.state(now.mono);
        let on = matches!(
            state,
            DeviceState::Online | DeviceState::Stale | DeviceState::Fault
        );
        let silenced = dev.maintenance.is_some();
        let subject = device_subject(id);

        // DEV-1 flap damping.
        let offline_open = alerts.is_open(DEV_OFFLINE, &subject);
        let mut hold_offline = false;
        if let Some((active, _)) = conditions.iter().find(|(_, s)| s.rule == DEV_OFFLINE) {
            if *active || !on || !offline_open {
                w.back_since = None;
            } else {
                let since = *w.back_since.get_or_insert(now.mono);
                if now.mono.saturating_sub(since) < hold {
                    hold_offline = true;
                } else {
                    w.back_since = None;
                }
            }
        }
        if hold_offline {
            conditions.retain(|(_, s)| s.rule != DEV_OFFLINE);
        }

        // DEV-3 after hours.
        if must_switch_off(dev.spec.kind) && dev.spec.expected_on != ExpectedOn::Always {
            let spec = AlertSpec {
                rule: DEV_AFTER_HOURS,
                kind: "left_powered_on",
                subject: subject.clone(),
                severity: Severity::Warning,
                message: format!("{}（{}）下班后仍未关机", dev.spec.name, dev.spec.location),
            };
            match evening {
                Some((date, same_day)) if on => {
                    if same_day && w.left_on_raised_for != Some(date) && !grace && !silenced {
                        w.left_on_raised_for = Some(date);
                        conditions.push((true, spec));
                    }
                    // Otherwise: raised already this evening; an open alert stays open until the device is off.
                }
                _ => conditions.push((false, spec)),
            }
        }

        // DEV-4 intranet compliance.
        if w.network == NetworkPolicy::Intranet {
            conditions.push((
                w.internet_reachable,
                AlertSpec {
                    rule: DEV_INTERNET,
                    kind: "internet_exposure",
                    subject: subject.clone(),
                    severity: Severity::Critical,
                    message: format!(
                        "内网计算机 {}（{}）可以访问互联网",
                        dev.spec.name, dev.spec.location
                    ),
                },
            ));
        }

        // DEV-5 removable media.
        let prefix = media_subject_prefix(id);
        for m in &w.media {
            let subject = format!("{prefix}{}", m.serial);
            let shown = m.label.as_deref().unwrap_or(m.serial.as_str());
            let (active, kind, severity, message) = match self.register.get(&m.serial) {
                None => (
                    true,
                    "unregistered_media",
                    Severity::Warning,
                    format!(
                        "{}（{}）插入未登记的移动存储介质 {shown}（序列号 {}）",
                        dev.spec.name, dev.spec.location, m.serial
                    ),
                ),
                Some(r) if r.classified && w.network == NetworkPolicy::Internet => (
                    true,
                    "classified_media_exposure",
                    Severity::Critical,
                    format!(
                        "涉密移动存储介质 {}（序列号 {}）接入可上网设备 {}（{}）",
                        r.label, m.serial, dev.spec.name, dev.spec.location
                    ),
                ),
                Some(r) => {
                    let owner = self.staff_names.get(&r.owner).unwrap_or(&r.owner);
                    (
                        window_staff != Some(r.owner.as_str()),
                        "unregistered_media",
                        Severity::Warning,
                        format!(
                            "移动存储介质 {}（登记人 {owner}）在 {}（{}）使用，但登记人未在该处签到",
                            r.label, dev.spec.name, dev.spec.location
                        ),
                    )
                }
            };
            conditions.push((
                active,
                AlertSpec {
                    rule: DEV_MEDIA,
                    kind,
                    subject,
                    severity,
                    message,
                },
            ));
        }
        // Media unplugged since: resolve their alerts.
        for open in alerts.open_subjects(DEV_MEDIA, &prefix) {
            if !conditions.iter().any(|(_, s)| s.subject == open) {
                conditions.push((
                    false,
                    AlertSpec {
                        rule: DEV_MEDIA,
                        kind: "unregistered_media",
                        subject: open,
                        severity: Severity::Warning,
                        message: String::new(),
                    },
                ));
            }
        }

        // DEV-6: a device under maintenance raises nothing.
        if silenced {
            conditions.retain(|(active, _)| !active);
        }
    }
}

#[cfg(test)]
mod tests;
