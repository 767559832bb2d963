//! The morning inspection record (INS-1..3): taken at the calendar's `pre_open` time on each working day, items
//! that recover before service starts marked fixed, signed off by a person, and an alert to the duty leader when
//! it is still unsigned as service starts.
//!
//! Pure. Records live here, in the model, one per working day, and are never dropped; the journal can persist them
//! from [`Inspections::all`] (and restore them with [`Inspections::restore`]). Decisions where RULES.md is silent:
//!
//! - The record is taken at the first tick at or after `pre_open` (08:15 by default). A gateway started later in
//!   the working day takes it at once, so the day still has a record; none is taken after the day's closing ends.
//! - Attendance terminals and network gear, which INS-1 does not list, are inspected by the IT centre.
//! - An item found bad is marked fixed the first time the device is seen healthy (online, no fault) before service
//!   starts; later relapses do not unmark it. `ready_to_open` counts fixed items as resolved.
//! - A signature is final: signing a signed record is refused.
//! - The INS-3 alert is raised at service start ("届满": at the first period's start exactly) and resolved by the
//!   signature.

use chrono::{DateTime, NaiveDate, Utc};
use hall_protocol::api::{
    DeviceState, InspectionItem, InspectionStatus, InspectionView, Inspector,
};
use hall_protocol::config::DeviceKind;
use hall_protocol::payload::Severity;

use super::alerts::AlertSpec;
use super::calendar::Calendar;
use super::devices::Device;
use crate::clock::Now;

/// Rule id of the unsigned inspection record.
pub const INS_UNSIGNED: &str = "INS-3";

/// Who inspects a kind of device (INS-1).
pub fn inspector_of(kind: DeviceKind) -> Inspector {
    match kind {
        DeviceKind::SelfQueryKiosk | DeviceKind::Copier => Inspector::ConsultationDesk,
        DeviceKind::QueueDispenser
        | DeviceKind::QueueCaller
        | DeviceKind::SelfServiceKiosk
        | DeviceKind::WifiAp
        | DeviceKind::WindowPc
        | DeviceKind::WindowScreen
        | DeviceKind::RatingPad
        | DeviceKind::AttendanceTerminal
        | DeviceKind::NetworkGear => Inspector::ItCentre,
    }
}

/// `inspection:{id}`.
pub fn inspection_subject(id: u64) -> String {
    format!("inspection:{id}")
}

/// Why signing was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    #[error("no inspection record with id {0}")]
    NotFound(u64),
    #[error("inspection record {id} is already signed by {by}")]
    AlreadySigned { id: u64, by: String },
    #[error("signing needs a name in \"by\"")]
    MissingName,
}

/// Every inspection record, oldest first.
#[derive(Debug, Clone, Default)]
pub struct Inspections {
    records: Vec<InspectionView>,
}

fn status_of(dev: &Device, now: Now) -> (InspectionStatus, Vec<String>) {
    match dev.state(now.mono) {
        DeviceState::Online | DeviceState::Stale => (InspectionStatus::Ok, Vec::new()),
        DeviceState::Fault => (
            InspectionStatus::Fault,
            dev.faults().map(|f| f.code.clone()).collect(),
        ),
        DeviceState::Offline => (InspectionStatus::Offline, Vec::new()),
        DeviceState::Unknown => (InspectionStatus::Unknown, Vec::new()),
    }
}

fn ready(items: &[InspectionItem]) -> bool {
    items
        .iter()
        .all(|i| i.status == InspectionStatus::Ok || i.fixed_at.is_some())
}

impl Inspections {
    /// Puts back records kept by the journal.
    pub fn restore(&mut self, records: impl IntoIterator<Item = InspectionView>) {
        self.records.extend(records);
        self.records.sort_by_key(|r| r.id);
    }

    pub fn all(&self) -> &[InspectionView] {
        &self.records
    }

    pub fn get(&self, id: u64) -> Option<&InspectionView> {
        self.records.iter().find(|r| r.id == id)
    }

    fn for_date(&self, date: NaiveDate) -> Option<usize> {
        self.records.iter().rposition(|r| r.date == date)
    }

    /// Takes today's record when due, marks fixed items, and returns the INS-3 condition of today's record.
    ///
    /// The second value is the id of a record that was created or changed (for the journal and the live view).
    pub fn tick(
        &mut self,
        calendar: &Calendar,
        devices: &[Device],
        now: Now,
    ) -> (Vec<(bool, AlertSpec)>, Option<u64>) {
        let date = calendar.local_date(now.wall);
        let Some(plan) = calendar.day_plan(date) else {
            return (Vec::new(), None);
        };
        let (Some(pre_open), Some(service_start), Some(closing_end)) = (
            calendar.to_utc(date, plan.pre_open),
            calendar.to_utc(date, plan.periods[0].start),
            calendar.to_utc(date, plan.closing_end),
        ) else {
            return (Vec::new(), None);
        };
        let mut changed = None;
        let idx = match self.for_date(date) {
            Some(i) => i,
            None if now.wall >= pre_open && now.wall < closing_end => {
                let id = self.records.last().map_or(1, |r| r.id + 1);
                let mut items: Vec<InspectionItem> = devices
                    .iter()
                    .map(|d| {
                        let (status, fault_codes) = status_of(d, now);
                        InspectionItem {
                            device_id: d.spec.id.clone(),
                            device_name: d.spec.name.clone(),
                            kind: d.spec.kind,
                            location: d.spec.location.clone(),
                            inspector: inspector_of(d.spec.kind),
                            status,
                            fault_codes,
                            fixed_at: None,
                            under_maintenance: d.maintenance.is_some(),
                        }
                    })
                    .collect();
                items.sort_by_key(|i| i.inspector);
                self.records.push(InspectionView {
                    id,
                    date,
                    taken_at: now.wall,
                    service_start,
                    ready_to_open: ready(&items),
                    items,
                    signed_by: None,
                    signed_at: None,
                    notes: None,
                });
                changed = Some(id);
                self.records.len() - 1
            }
            None => return (Vec::new(), None),
        };
        let rec = &mut self.records[idx];
        if now.wall < service_start {
            for item in rec.items.iter_mut() {
                if item.status == InspectionStatus::Ok || item.fixed_at.is_some() {
                    continue;
                }
                let healthy = devices
                    .iter()
                    .find(|d| d.spec.id == item.device_id)
                    .is_some_and(|d| status_of(d, now).0 == InspectionStatus::Ok);
                if healthy {
                    item.fixed_at = Some(now.wall);
                    changed = Some(rec.id);
                }
            }
            rec.ready_to_open = ready(&rec.items);
        }
        let unsigned = rec.signed_by.is_none() && now.wall >= service_start;
        let spec = AlertSpec {
            rule: INS_UNSIGNED,
            kind: "inspection_unsigned",
            subject: inspection_subject(rec.id),
            severity: Severity::Warning,
            message: format!(
                "{} 的班前设备检查记录在开始办公时仍未签字确认，请值班领导跟进",
                rec.date
            ),
        };
        (vec![(unsigned, spec)], changed)
    }

    /// Signs a record off (INS-3).
    pub fn sign(
        &mut self,
        id: u64,
        by: &str,
        notes: &str,
        at: DateTime<Utc>,
    ) -> Result<InspectionView, SignError> {
        if by.trim().is_empty() {
            return Err(SignError::MissingName);
        }
        let rec = self
            .records
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or(SignError::NotFound(id))?;
        if let Some(by) = &rec.signed_by {
            return Err(SignError::AlreadySigned { id, by: by.clone() });
        }
        rec.signed_by = Some(by.trim().to_owned());
        rec.signed_at = Some(at);
        rec.notes = Some(notes.to_owned());
        Ok(rec.clone())
    }
}

/// The record as CSV, UTF-8 with a byte-order mark so that spreadsheet programs show the Chinese text (INS-2).
pub fn to_csv(rec: &InspectionView, tz: chrono_tz::Tz) -> String {
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M:%S").to_string();
    let mut out = String::from("\u{feff}");
    let mut row = |cells: &[&str]| {
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    };
    row(&["检查日期", &rec.date.to_string()]);
    row(&["检查时间", &local(rec.taken_at)]);
    row(&["可以开门", if rec.ready_to_open { "是" } else { "否" }]);
    row(&["签字人", rec.signed_by.as_deref().unwrap_or("")]);
    row(&["签字时间", &rec.signed_at.map(local).unwrap_or_default()]);
    row(&["备注", rec.notes.as_deref().unwrap_or("")]);
    row(&[]);
    row(&[
        "检查单位",
        "设备编号",
        "设备名称",
        "类型",
        "位置",
        "状态",
        "故障代码",
        "修复时间",
        "维护中",
    ]);
    for i in &rec.items {
        row(&[
            i.inspector.label_zh(),
            &i.device_id,
            &i.device_name,
            i.kind.label_zh(),
            &i.location,
            i.status.label_zh(),
            &i.fault_codes.join(" "),
            &i.fixed_at.map(local).unwrap_or_default(),
            if i.under_maintenance { "是" } else { "" },
        ]);
    }
    out
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

/// The record as a printable HTML page (INS-2), for signing on paper too.
pub fn to_html(rec: &InspectionView, hall_name: &str, tz: chrono_tz::Tz) -> String {
    let local = |t: DateTime<Utc>| t.with_timezone(&tz).format("%Y-%m-%d %H:%M").to_string();
    let mut rows = String::new();
    for i in &rec.items {
        rows.push_str(&format!(
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
            if i.status == InspectionStatus::Ok || i.fixed_at.is_some() { "ok" } else { "bad" },
            esc(i.inspector.label_zh()),
            esc(&i.device_id),
            esc(&i.device_name),
            esc(i.kind.label_zh()),
            esc(&i.location),
            esc(i.status.label_zh()),
            esc(&i.fault_codes.join(" ")),
            i.fixed_at.map(local).unwrap_or_default(),
        ));
    }
    format!(
        "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\"><title>{hall} 班前设备检查记录 {date}</title>\n\
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;width:100%}}td,th{{border:1px solid #444;padding:4px 6px}}tr.bad td{{background:#fdd}}@media print{{button{{display:none}}}}</style>\n\
</head><body>\n<h1>{hall} 班前设备检查记录</h1>\n<p>日期：{date}　检查时间：{taken}　结论：<strong>{verdict}</strong></p>\n\
<table><thead><tr><th>检查单位</th><th>设备编号</th><th>设备名称</th><th>类型</th><th>位置</th><th>状态</th><th>故障代码</th><th>修复时间</th></tr></thead>\n<tbody>\n{rows}</tbody></table>\n\
<p>签字人：{by}　签字时间：{at}</p>\n<p>备注：{notes}</p>\n<button onclick=\"window.print()\">打印</button>\n</body></html>\n",
        hall = esc(hall_name),
        date = rec.date,
        taken = local(rec.taken_at),
        verdict = if rec.ready_to_open {
            "可以开门"
        } else {
            "存在问题"
        },
        by = esc(rec.signed_by.as_deref().unwrap_or("＿＿＿＿＿＿")),
        at = rec.signed_at.map(local).unwrap_or_default(),
        notes = esc(rec.notes.as_deref().unwrap_or("")),
    )
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
