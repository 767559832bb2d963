//! User-facing words. Chinese (zh-CN) is the default; `?lang=en` on any page switches to English.
//!
//! The Chinese labels of the hall's own vocabulary (device kinds, states, phases) come from `hall-protocol`, so
//! the dashboard and the gateway's messages always use the same words.

use std::sync::OnceLock;

use hall_protocol::api::{DeviceState, Phase, WindowState};
use hall_protocol::config::DeviceKind;
use leptos::prelude::window;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    Zh,
    En,
}

static LANG: OnceLock<Lang> = OnceLock::new();

/// The page's language, read once from the `lang` query parameter.
pub fn lang() -> Lang {
    *LANG.get_or_init(|| {
        let search = window().location().search().unwrap_or_default();
        let en = web_sys::UrlSearchParams::new_with_str(&search)
            .ok()
            .and_then(|p| p.get("lang"))
            .is_some_and(|l| l.starts_with("en"));
        if en { Lang::En } else { Lang::Zh }
    })
}

/// Fixed texts of the user interface.
pub struct Texts {
    pub product: &'static str,
    pub nav_wall: &'static str,
    pub nav_duty: &'static str,
    pub nav_it: &'static str,
    pub connecting: &'static str,
    pub reconnecting: &'static str,
    pub live: &'static str,
    pub home_intro: &'static str,
    pub home_wall: &'static str,
    pub home_duty: &'static str,
    pub home_it: &'static str,
    pub not_found: &'static str,
    pub windows: &'static str,
    pub devices: &'static str,
    pub device_health: &'static str,
    pub problem_devices: &'static str,
    pub no_problem_devices: &'static str,
    pub more_devices: &'static str,
    pub staffing: &'static str,
    pub served_today: &'static str,
    pub ticket: &'static str,
    pub no_ticket: &'static str,
    pub away_for: &'static str,
    pub empty_for: &'static str,
    pub a_post: &'static str,
    pub b_post: &'static str,
    pub unstaffed: &'static str,
    pub col_device: &'static str,
    pub col_kind: &'static str,
    pub col_location: &'static str,
    pub col_state: &'static str,
    pub col_last_seen: &'static str,
    pub col_cpu: &'static str,
    pub col_mem: &'static str,
    pub col_disk: &'static str,
    pub col_faults: &'static str,
    pub filter_all_states: &'static str,
    pub filter_all_kinds: &'static str,
    pub filter_all_locations: &'static str,
    pub search_placeholder: &'static str,
    pub never_seen: &'static str,
    pub secs_ago: &'static str,
    pub mins_ago: &'static str,
    pub hours_ago: &'static str,
    pub days_ago: &'static str,
    pub shown_of: &'static str,
    pub show_more: &'static str,
    pub no_match: &'static str,
    pub maintenance: &'static str,
    pub total: &'static str,
    pub open_alerts: &'static str,
    pub no_open_alerts: &'static str,
    pub col_window: &'static str,
    pub col_unit: &'static str,
    pub col_staff: &'static str,
    pub col_since: &'static str,
    pub col_ticket: &'static str,
    pub col_served: &'static str,
    pub col_rule: &'static str,
    pub col_message: &'static str,
    pub col_raised: &'static str,
    pub col_alert_state: &'static str,
    pub acknowledged: &'static str,
    pub open: &'static str,
    pub waiting_for_data: &'static str,
    pub wall_subtitle: &'static str,
}

const ZH: Texts = Texts {
    product: "HallWatch 大厅监控",
    nav_wall: "大屏",
    nav_duty: "值班",
    nav_it: "设备运维",
    connecting: "正在连接…",
    reconnecting: "连接中断，正在重连…",
    live: "实时",
    home_intro: "请选择视图",
    home_wall: "大厅大屏：窗口在岗、当前叫号、设备状况",
    home_duty: "带班值班：窗口计时与未处理告警",
    home_it: "信息中心：设备健康、故障与离线",
    not_found: "页面不存在",
    windows: "窗口",
    devices: "设备",
    device_health: "设备运行",
    problem_devices: "离线 / 故障设备",
    no_problem_devices: "全部设备运行正常",
    more_devices: "另有 {n} 台",
    staffing: "窗口在岗",
    served_today: "今日办件",
    ticket: "当前",
    no_ticket: "—",
    away_for: "离岗",
    empty_for: "空岗",
    a_post: "A岗",
    b_post: "B岗",
    unstaffed: "无人",
    col_device: "设备/名称",
    col_kind: "类型",
    col_location: "位置",
    col_state: "状态",
    col_last_seen: "最后在线",
    col_cpu: "CPU",
    col_mem: "内存",
    col_disk: "磁盘",
    col_faults: "故障",
    filter_all_states: "全部状态",
    filter_all_kinds: "全部类型",
    filter_all_locations: "全部位置",
    search_placeholder: "搜索设备编号、名称、位置、故障…",
    never_seen: "从未上线",
    secs_ago: "{n}秒前",
    mins_ago: "{n}分钟前",
    hours_ago: "{n}小时前",
    days_ago: "{n}天前",
    shown_of: "显示 {shown} / 共 {total} 台",
    show_more: "显示更多",
    no_match: "没有符合条件的设备",
    maintenance: "维护中",
    total: "合计",
    open_alerts: "未处理告警",
    no_open_alerts: "当前没有未处理告警",
    col_window: "窗口",
    col_unit: "单位",
    col_staff: "人员",
    col_since: "持续",
    col_ticket: "当前号",
    col_served: "今日办件",
    col_rule: "规则",
    col_message: "内容",
    col_raised: "发生时间",
    col_alert_state: "处理",
    acknowledged: "已确认",
    open: "待处理",
    waiting_for_data: "等待大厅数据…",
    wall_subtitle: "窗口服务实时公示",
};

const EN: Texts = Texts {
    product: "HallWatch",
    nav_wall: "Wall",
    nav_duty: "Duty",
    nav_it: "IT",
    connecting: "Connecting…",
    reconnecting: "Connection lost, reconnecting…",
    live: "Live",
    home_intro: "Choose a view",
    home_wall: "Wall display: staffing, current tickets, device health",
    home_duty: "Duty leader: window timers and open alerts",
    home_it: "IT centre: device health, faults and offline devices",
    not_found: "Page not found",
    windows: "Windows",
    devices: "Devices",
    device_health: "Devices",
    problem_devices: "Offline / faulty devices",
    no_problem_devices: "All devices healthy",
    more_devices: "and {n} more",
    staffing: "Staffing",
    served_today: "Served today",
    ticket: "Now",
    no_ticket: "—",
    away_for: "Away",
    empty_for: "Empty",
    a_post: "A",
    b_post: "B",
    unstaffed: "nobody",
    col_device: "Device",
    col_kind: "Kind",
    col_location: "Location",
    col_state: "State",
    col_last_seen: "Last seen",
    col_cpu: "CPU",
    col_mem: "Memory",
    col_disk: "Disk",
    col_faults: "Faults",
    filter_all_states: "All states",
    filter_all_kinds: "All kinds",
    filter_all_locations: "All locations",
    search_placeholder: "Search id, name, location, fault…",
    never_seen: "never",
    secs_ago: "{n}s ago",
    mins_ago: "{n} min ago",
    hours_ago: "{n} h ago",
    days_ago: "{n} d ago",
    shown_of: "showing {shown} of {total}",
    show_more: "Show more",
    no_match: "No device matches",
    maintenance: "maintenance",
    total: "Total",
    open_alerts: "Open alerts",
    no_open_alerts: "No open alerts",
    col_window: "Window",
    col_unit: "Unit",
    col_staff: "Staff",
    col_since: "For",
    col_ticket: "Ticket",
    col_served: "Served",
    col_rule: "Rule",
    col_message: "Message",
    col_raised: "Raised",
    col_alert_state: "State",
    acknowledged: "acknowledged",
    open: "open",
    waiting_for_data: "Waiting for hall data…",
    wall_subtitle: "Live window status",
};

pub fn t() -> &'static Texts {
    match lang() {
        Lang::Zh => &ZH,
        Lang::En => &EN,
    }
}

pub fn device_state(state: DeviceState) -> &'static str {
    match lang() {
        Lang::Zh => state.label_zh(),
        Lang::En => match state {
            DeviceState::Online => "online",
            DeviceState::Stale => "late",
            DeviceState::Offline => "offline",
            DeviceState::Fault => "fault",
            DeviceState::Unknown => "unknown",
        },
    }
}

pub fn window_state(state: WindowState) -> &'static str {
    match lang() {
        Lang::Zh => state.label_zh(),
        Lang::En => match state {
            WindowState::StaffedA => "A post on duty",
            WindowState::CoveredB => "B post covering",
            WindowState::CoveredOther => "covered",
            WindowState::AwayReported => "away (reported)",
            WindowState::Empty => "empty",
            WindowState::Closed => "closed",
        },
    }
}

pub fn phase(phase: Phase) -> &'static str {
    match lang() {
        Lang::Zh => phase.label_zh(),
        Lang::En => match phase {
            Phase::Closed => "closed",
            Phase::PreOpen => "pre-open",
            Phase::Service => "open",
            Phase::Lunch => "lunch break",
            Phase::Closing => "closing",
        },
    }
}

pub fn device_kind(kind: DeviceKind) -> &'static str {
    match lang() {
        Lang::Zh => kind.label_zh(),
        Lang::En => kind.as_str(),
    }
}

/// Fills `{n}`-style placeholders.
pub fn fill(template: &str, pairs: &[(&str, String)]) -> String {
    let mut out = template.to_string();
    for (name, value) in pairs {
        out = out.replace(&format!("{{{name}}}"), value);
    }
    out
}

/// A text given in both languages at the place it is used (for the texts of one view only).
pub fn tr(zh: &'static str, en: &'static str) -> &'static str {
    match lang() {
        Lang::Zh => zh,
        Lang::En => en,
    }
}
