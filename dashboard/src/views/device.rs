//! `/it/device/{id}`: one device for the IT centre: its fields and faults, its maintenance mark (DEV-6), a chart
//! of the last 24 h of heartbeat metrics (inline SVG, no chart library) and its alert history.

use chrono::{DateTime, Duration, Utc};
use hall_protocol::api::{
    AlertState, AlertView, DeviceHistory, DeviceSample, DeviceState, DeviceView,
};
use hall_protocol::config::ExpectedOn;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Serialize;

use crate::api;
use crate::format;
use crate::i18n::{self, tr};
use crate::views::common::{
    NavBar, StateBadge, remember_name, remembered_name, severity_key, use_store,
};
use crate::views::duty::parse_local;

const CHART_W: f64 = 960.0;
const CHART_H: f64 = 240.0;
const PAD_L: f64 = 40.0;
const PAD_B: f64 = 26.0;
const STRIP_H: f64 = 8.0;

#[derive(Debug, Clone, PartialEq)]
enum Load<T> {
    Loading,
    Ready(T),
    Failed(String),
}

fn explain(e: &api::ApiError) -> String {
    if e.is_missing() {
        format!(
            "{} (HTTP {})",
            tr("网关暂未提供此接口", "this gateway does not offer this yet"),
            e.status
        )
    } else {
        e.to_string()
    }
}

/// Whether an alert is about device `id` (`device:{id}` or a part of it, `device:{id}/...`).
pub fn is_about_device(subject: &str, id: &str) -> bool {
    subject
        .strip_prefix("device:")
        .and_then(|rest| rest.strip_prefix(id))
        .is_some_and(|tail| tail.is_empty() || tail.starts_with('/'))
}

#[component]
pub fn DevicePage(id: String) -> impl IntoView {
    let store = use_store();
    let device = {
        let id = id.clone();
        Memo::new(move |_| store.devices.with(|m| m.get(&id).map(|d| d.get())))
    };
    let history = RwSignal::new(Load::<DeviceHistory>::Loading);
    let alerts = RwSignal::new(Load::<Vec<AlertView>>::Loading);
    let load = {
        let id = id.clone();
        move || {
            let id = id.clone();
            spawn_local(async move {
                let h =
                    api::get::<DeviceHistory>(&format!("/devices/{}/history", api::seg(&id))).await;
                history.set(match h {
                    Ok(h) => Load::Ready(h),
                    Err(e) => Load::Failed(explain(&e)),
                });
                let a = api::get::<Vec<AlertView>>("/alerts").await;
                alerts.set(match a {
                    Ok(v) => {
                        let mut v: Vec<AlertView> = v
                            .into_iter()
                            .filter(|a| is_about_device(&a.subject, &id))
                            .collect();
                        v.sort_by_key(|a| std::cmp::Reverse(a.raised_at));
                        Load::Ready(v)
                    }
                    Err(e) => Load::Failed(explain(&e)),
                });
            })
        }
    };
    load();
    let reload = load.clone();

    let title = {
        let id = id.clone();
        move || {
            device.with(|d| match d {
                Some(d) if !d.name.is_empty() => d.name.clone(),
                _ => id.clone(),
            })
        }
    };
    view! {
        <NavBar active="/it" />
        <main class="page device-page">
            <p class="crumbs">
                <a href="/it">{tr("← 设备列表", "← Devices")}</a>
            </p>
            <h1 class="device-title" data-testid="device-title">
                {title}
                " "
                {move || {
                    device
                        .get()
                        .map(|d| {
                            view! { <StateBadge state=Signal::derive(move || d.state) /> }
                        })
                }}
            </h1>
            <Show
                when=move || device.with(|d| d.is_some())
                fallback=move || {
                    view! {
                        <p class="empty-note">
                            {move || {
                                if store.connected() {
                                    tr("没有这台设备", "No such device")
                                } else {
                                    i18n::t().waiting_for_data
                                }
                            }}
                        </p>
                    }
                }
            >
                <div class="device-grid">
                    <section class="card">
                        <h2>{tr("基本信息", "Details")}</h2>
                        {move || device.get().map(|d| view! { <Fields d=d /> })}
                    </section>
                    <section class="card">
                        <h2>{tr("当前故障", "Current faults")}</h2>
                        {move || device.get().map(|d| faults(&d))}
                        <h2>{tr("维护标记", "Maintenance")}</h2>
                        <MaintenanceBox id=id.clone() device=device />
                    </section>
                </div>
            </Show>
            <section class="card">
                <h2>
                    {tr("近24小时指标", "Last 24 hours")}
                    <button class="btn btn-small" on:click=move |_| reload()>{tr("刷新", "Refresh")}</button>
                </h2>
                {move || match history.get() {
                    Load::Loading => view! { <p class="empty-note">{tr("加载中…", "Loading…")}</p> }.into_any(),
                    Load::Failed(e) => view! { <p class="empty-note" data-testid="history-missing">{e}</p> }.into_any(),
                    Load::Ready(h) => chart(&h.samples, store.hall_offset()).into_any(),
                }}
            </section>
            <section class="card">
                <h2>{tr("告警记录", "Alert history")}</h2>
                {move || match alerts.get() {
                    Load::Loading => view! { <p class="empty-note">{tr("加载中…", "Loading…")}</p> }.into_any(),
                    Load::Failed(e) => view! { <p class="empty-note">{e}</p> }.into_any(),
                    Load::Ready(v) if v.is_empty() => {
                        view! { <p class="empty-note">{tr("没有告警记录", "No alerts")}</p> }.into_any()
                    }
                    Load::Ready(v) => alert_table(v).into_any(),
                }}
            </section>
        </main>
    }
}

#[component]
fn Fields(d: DeviceView) -> impl IntoView {
    let store = use_store();
    let now = store.hall_now();
    let row = |k: &'static str, v: String| view! { <tr><th>{k}</th><td>{v}</td></tr> };
    let m = d.metrics.clone().unwrap_or_default();
    let pct = |v: Option<f64>| v.map(format::pct).unwrap_or_else(|| "—".into());
    let expected = d.expected_on.map(|e| match e {
        ExpectedOn::Always => tr("全天", "always"),
        ExpectedOn::Service => tr("办公时段", "service hours"),
        ExpectedOn::BusinessDay => tr("工作日", "business day"),
    });
    view! {
        <table class="fields" data-testid="device-fields">
            <tbody>
                {row(tr("编号", "Id"), d.id.clone())}
                {row(tr("类型", "Kind"), i18n::device_kind(d.kind).to_string())}
                {row(tr("位置", "Location"), d.location.clone())}
                {row(tr("窗口", "Window"), d.window.clone().unwrap_or_else(|| "—".into()))}
                {row(
                    tr("最后心跳", "Last seen"),
                    d.last_seen
                        .map(|s| {
                            format!(
                                "{} ({})",
                                format::hall_local(s, now.as_ref()),
                                store.secs_since(s).map(format::ago).unwrap_or_default(),
                            )
                        })
                        .unwrap_or_else(|| i18n::t().never_seen.into()),
                )}
                {row(tr("心跳间隔", "Heartbeat"), format!("{} s", d.heartbeat_interval_secs))}
                {row(tr("应开机", "Expected on"), expected.unwrap_or("—").to_string())}
                {row(tr("运行时长", "Uptime"), d.uptime_secs.map(|u| format::duration(u as i64)).unwrap_or_else(|| "—".into()))}
                {row(tr("启动标识", "Boot id"), d.boot_id.clone().unwrap_or_else(|| "—".into()))}
                {row("CPU / 内存 / 磁盘", format!("{} / {} / {}", pct(m.cpu_pct), pct(m.mem_pct), pct(m.disk_pct)))}
                {row(tr("温度", "Temperature"), m.temp_c.map(|t| format!("{t:.0} °C")).unwrap_or_else(|| "—".into()))}
                {row(
                    tr("时钟偏差", "Clock skew"),
                    d.clock_skew_secs.map(|s| format!("{s} s")).unwrap_or_else(|| "—".into()),
                )}
            </tbody>
        </table>
    }
}

fn faults(d: &DeviceView) -> AnyView {
    if d.faults.is_empty() {
        return view! { <p class="empty-note">{tr("无故障", "No faults")}</p> }.into_any();
    }
    let items = d
        .faults
        .iter()
        .map(|f| {
            let sev = severity_key(f.severity);
            view! {
                <li class=format!("fault fault-{sev}")>
                    <b>{f.code.clone()}</b>
                    " "
                    {f.message.clone()}
                    " "
                    <span class="muted">{f.since.format("%m-%d %H:%M UTC").to_string()}</span>
                </li>
            }
        })
        .collect::<Vec<_>>();
    view! { <ul class="fault-list" data-testid="device-faults">{items}</ul> }.into_any()
}

#[derive(Serialize)]
struct MaintenanceRequest {
    reason: String,
    by: String,
    until: Option<DateTime<Utc>>,
}

#[derive(Serialize)]
struct LiftRequest {
    by: String,
}

/// The maintenance mark (DEV-6): shown, set and lifted. The gateway may not offer it yet: then it says so.
#[component]
fn MaintenanceBox(id: String, device: Memo<Option<DeviceView>>) -> impl IntoView {
    let store = use_store();
    let reason = RwSignal::new(String::new());
    let until = RwSignal::new(String::new());
    let by = RwSignal::new(remembered_name());
    let message = RwSignal::new(None::<(bool, String)>);
    let busy = RwSignal::new(false);
    let path = format!("/devices/{}/maintenance", api::seg(&id));
    let path2 = path.clone();
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let who = by.get_untracked().trim().to_string();
        let why = reason.get_untracked().trim().to_string();
        if who.is_empty() || why.is_empty() {
            message.set(Some((
                false,
                tr("请填写原因和姓名", "Enter a reason and your name").into(),
            )));
            return;
        }
        let until_v = until.get_untracked();
        let until = if until_v.is_empty() {
            None
        } else {
            match parse_local(&until_v, store.hall_offset()) {
                Some(t) => Some(t.with_timezone(&Utc)),
                None => {
                    message.set(Some((
                        false,
                        tr("预计结束时间无效", "Invalid end time").into(),
                    )));
                    return;
                }
            }
        };
        remember_name(&who);
        let body = MaintenanceRequest {
            reason: why,
            by: who,
            until,
        };
        let path = path.clone();
        busy.set(true);
        spawn_local(async move {
            match api::send("POST", &path, Some(&body)).await {
                Ok(()) => message.set(Some((true, tr("已标记维护", "Marked").into()))),
                Err(e) => message.set(Some((false, explain(&e)))),
            }
            busy.set(false);
        });
    };
    let lift = move |_| {
        let path = path2.clone();
        let body = LiftRequest {
            by: by.get_untracked(),
        };
        spawn_local(async move {
            match api::send("DELETE", &path, Some(&body)).await {
                Ok(()) => message.set(Some((true, tr("已解除维护", "Lifted").into()))),
                Err(e) => message.set(Some((false, explain(&e)))),
            }
        });
    };
    view! {
        <div class="maint-box">
            {move || {
                device
                    .get()
                    .and_then(|d| d.maintenance)
                    .map(|m| {
                        let until = m
                            .until
                            .map(|u| format::hall_local(u, store.hall_now().as_ref()))
                            .unwrap_or_else(|| tr("待定", "open-ended").into());
                        view! {
                            <p class="maint-current" data-testid="maintenance">
                                <span class="tag tag-maint">{i18n::t().maintenance}</span>
                                " "
                                {m.reason}
                                " · "
                                {m.by}
                                " · "
                                {tr("至 ", "until ")}
                                {until}
                                " "
                                <button class="btn btn-small" on:click=lift.clone()>
                                    {tr("解除", "Lift")}
                                </button>
                            </p>
                        }
                    })
            }}
            <form class="maint-form" on:submit=submit>
                <input
                    type="text"
                    placeholder=tr("维护原因", "reason")
                    prop:value=move || reason.get()
                    on:input=move |ev| reason.set(event_target_value(&ev))
                />
                <input
                    type="datetime-local"
                    title=tr("预计结束（大厅时间）", "expected end (hall time)")
                    prop:value=move || until.get()
                    on:change=move |ev| until.set(event_target_value(&ev))
                />
                <input
                    type="text"
                    class="ack-name"
                    placeholder=tr("姓名", "name")
                    prop:value=move || by.get()
                    on:input=move |ev| by.set(event_target_value(&ev))
                />
                <button class="btn btn-small btn-primary" type="submit" disabled=move || busy.get()>
                    {tr("标记维护", "Mark")}
                </button>
            </form>
            {move || {
                message
                    .get()
                    .map(|(ok, m)| view! { <p class=if ok { "form-ok" } else { "form-error" }>{m}</p> })
            }}
        </div>
    }
}

fn alert_table(v: Vec<AlertView>) -> impl IntoView {
    let store = use_store();
    let now = store.hall_now();
    let rows = v
        .into_iter()
        .map(|a| {
            let sev = severity_key(a.severity);
            let state = match a.state {
                AlertState::Open => tr("未处理", "open").to_string(),
                AlertState::Acknowledged => format!(
                    "{} {}",
                    tr("已确认", "acknowledged"),
                    a.acknowledged_by.clone().unwrap_or_default()
                ),
                AlertState::Resolved => format!(
                    "{} {}",
                    tr("已恢复", "resolved"),
                    a.resolved_at
                        .map(|r| format::hall_local(r, now.as_ref()))
                        .unwrap_or_default()
                ),
            };
            view! {
                <tr data-testid="device-alert" class=format!("sev-{sev}")>
                    <td><span class=format!("rule rule-{sev}")>{a.rule.clone()}</span></td>
                    <td>{a.message.clone()}</td>
                    <td class="mono">{format::hall_local(a.raised_at, now.as_ref())}</td>
                    <td>{state}</td>
                </tr>
            }
        })
        .collect::<Vec<_>>();
    view! {
        <table class="alerts">
            <thead>
                <tr>
                    <th>{i18n::t().col_rule}</th>
                    <th>{i18n::t().col_message}</th>
                    <th>{i18n::t().col_raised}</th>
                    <th>{i18n::t().col_alert_state}</th>
                </tr>
            </thead>
            <tbody>{rows}</tbody>
        </table>
    }
}

/// The metric lines and a state strip over 24 h ending at the last sample, as inline SVG.
fn chart(samples: &[DeviceSample], offset: chrono::FixedOffset) -> impl IntoView + use<> {
    let Some(last) = samples.iter().map(|s| s.at).max() else {
        return view! { <p class="empty-note">{tr("暂无历史数据", "No history yet")}</p> }
            .into_any();
    };
    let end = last;
    let start = end - Duration::hours(24);
    let plot_w = CHART_W - PAD_L - 10.0;
    let plot_h = CHART_H - PAD_B - STRIP_H - 14.0;
    let x = move |t: DateTime<Utc>| {
        PAD_L + ((t - start).num_seconds() as f64 / 86_400.0).clamp(0.0, 1.0) * plot_w
    };
    let y = move |v: f64| 6.0 + (1.0 - v.clamp(0.0, 100.0) / 100.0) * plot_h;
    let line = |pick: fn(&DeviceSample) -> Option<f64>| -> Vec<String> {
        // One polyline per run of samples without gaps over 5 minutes.
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut prev: Option<DateTime<Utc>> = None;
        for s in samples.iter().filter(|s| s.at >= start) {
            let Some(v) = pick(s) else {
                continue;
            };
            if prev.is_some_and(|p| (s.at - p).num_seconds() > 300) && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            cur.push_str(&format!("{:.1},{:.1} ", x(s.at), y(v)));
            prev = Some(s.at);
        }
        if !cur.is_empty() {
            out.push(cur);
        }
        out
    };
    let series = [
        ("cpu", "CPU", line(|s| s.cpu_pct)),
        ("mem", tr("内存", "Memory"), line(|s| s.mem_pct)),
        ("disk", tr("磁盘", "Disk"), line(|s| s.disk_pct)),
    ];
    // State strip: merge consecutive samples of the same state.
    let strip_y = 6.0 + plot_h + 4.0;
    let mut strip = Vec::new();
    let mut run: Option<(DeviceState, DateTime<Utc>, DateTime<Utc>)> = None;
    for s in samples.iter().filter(|s| s.at >= start) {
        run = match run {
            Some((st, a, _)) if st == s.state => Some((st, a, s.at)),
            Some(r) => {
                strip.push(r);
                Some((s.state, r.2, s.at))
            }
            None => Some((s.state, s.at, s.at)),
        };
    }
    strip.extend(run);
    let strip = strip
        .into_iter()
        .map(|(st, a, b)| {
            let x0 = x(a);
            let w = (x(b + Duration::minutes(1)) - x0).max(1.0);
            view! {
                <rect class=format!("strip strip-{}", st.as_str()) x=format!("{x0:.1}") y=format!("{strip_y:.1}")
                    width=format!("{w:.1}") height=STRIP_H.to_string()>
                    <title>{i18n::device_state(st)}</title>
                </rect>
            }
        })
        .collect::<Vec<_>>();
    let grid = [0.0, 25.0, 50.0, 75.0, 100.0]
        .map(|v| {
            view! {
                <line class="grid" x1=PAD_L.to_string() x2=(PAD_L + plot_w).to_string() y1=format!("{:.1}", y(v)) y2=format!("{:.1}", y(v)) />
                <text class="axis" x=(PAD_L - 6.0).to_string() y=format!("{:.1}", y(v) + 4.0) text-anchor="end">{format!("{v:.0}")}</text>
            }
        });
    // A tick every 3 hours of hall time.
    let ticks = (0..=8)
        .filter_map(|i| {
            let local = (start + Duration::hours(3 * i)).with_timezone(&offset);
            let t = local.date_naive().and_hms_opt(local.format("%H").to_string().parse::<u32>().ok()? / 3 * 3, 0, 0)?;
            let t = t.and_local_timezone(offset).single()?.with_timezone(&Utc);
            (t >= start && t <= end).then(|| {
                let xv = x(t);
                view! {
                    <line class="tick" x1=format!("{xv:.1}") x2=format!("{xv:.1}") y1="6" y2=format!("{:.1}", 6.0 + plot_h) />
                    <text class="axis" x=format!("{xv:.1}") y=(CHART_H - 6.0).to_string() text-anchor="middle">
                        {t.with_timezone(&offset).format("%H:%M").to_string()}
                    </text>
                }
            })
        })
        .collect::<Vec<_>>();
    let lines = series
        .iter()
        .flat_map(|(key, _, runs)| {
            runs.iter().map(move |pts| {
                view! { <polyline class=format!("series series-{key}") points=pts.clone() /> }
            })
        })
        .collect::<Vec<_>>();
    let legend = series
        .iter()
        .map(|(key, label, _)| view! { <span class=format!("legend legend-{key}")>{*label}</span> })
        .collect::<Vec<_>>();
    view! {
        <div class="chart" data-testid="device-chart">
            <div class="chart-legend">{legend}<span class="muted">{format!("{} {}", samples.len(), tr("个采样", "samples"))}</span></div>
            <svg viewBox=format!("0 0 {CHART_W} {CHART_H}") preserveAspectRatio="none" role="img">
                {grid}
                {ticks}
                {lines}
                {strip}
            </svg>
        </div>
    }
    .into_any()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_alert_subjects() {
        assert!(is_about_device("device:kiosk-1", "kiosk-1"));
        assert!(is_about_device("device:kiosk-1/printer", "kiosk-1"));
        assert!(!is_about_device("device:kiosk-10", "kiosk-1"));
        assert!(!is_about_device("window:kiosk-1", "kiosk-1"));
    }
}
