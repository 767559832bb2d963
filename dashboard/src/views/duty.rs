//! `/duty`: the duty leader's view. Every window with who is there and for how long (on the hall clock), the open
//! alerts (critical first) with acknowledgement, bad ratings to follow up (RAT-2), the queues and their alerts
//! (Q-1..3), and the leave register (POST-5) with its form and the return (销假).

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use hall_protocol::api::{
    AckRequest, AlertState, AlertView, LeaveEntry, LeaveKind, NewLeave, ReturnLeave, StaffRef,
    WindowState, WindowView,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::format;
use crate::i18n::{self, tr};
use crate::live::now_ms;
use crate::views::common::{
    NavBar, remember_name, remembered_name, severity_key, severity_rank, use_store,
};

/// The rule of a bad rating to follow up.
const RULE_BAD_RATING: &str = "RAT-2";

fn is_queue_rule(rule: &str) -> bool {
    rule == "Q-2" || rule == "Q-3"
}

#[component]
pub fn DutyView() -> impl IntoView {
    let store = use_store();
    let t = i18n::t();
    let operator = RwSignal::new(remembered_name());
    provide_context(Operator(operator));
    // Device alerts are the IT centre's; the duty leader sees them on request.
    let show_devices = RwSignal::new(false);
    let windows = move || {
        store.windows.with(|m| {
            let mut v: Vec<_> = m.iter().map(|(id, s)| (id.clone(), s.clone())).collect();
            v.sort_by_key(|(id, s)| (s.with_untracked(|w| w.number), id.clone()));
            v
        })
    };
    let n_open = move || {
        store.alerts.with(|m| {
            m.values()
                .filter(|a| {
                    a.rule != RULE_BAD_RATING
                        && a.state == AlertState::Open
                        && (show_devices.get() || !a.rule.starts_with("DEV-"))
                })
                .count()
        })
    };
    view! {
        <NavBar active="/duty" />
        <main class="page duty">
            <div class="operator-bar">
                <label>
                    {tr("值班人", "On duty")}
                    <input
                        type="text"
                        data-testid="operator"
                        placeholder=tr("姓名", "name")
                        prop:value=move || operator.get()
                        on:change=move |ev| {
                            let v = event_target_value(&ev);
                            remember_name(&v);
                            operator.set(v);
                        }
                    />
                </label>
                <span class="muted">
                    {tr("确认告警、回访和销假时记录此姓名", "recorded with acknowledgements, follow-ups and returns")}
                </span>
            </div>
            <div class="duty-grid">
                <section class="card">
                    <h2>
                        {t.open_alerts} <span class="card-count">{n_open}</span>
                        <label class="toggle">
                            <input
                                type="checkbox"
                                data-testid="show-device-alerts"
                                prop:checked=move || show_devices.get()
                                on:change=move |ev| show_devices.set(event_target_checked(&ev))
                            />
                            {move || {
                                let n = store
                                    .alerts
                                    .with(|m| m.values().filter(|a| a.rule.starts_with("DEV-")).count());
                                format!("{}（{n}）", tr("含设备告警", "include device alerts"))
                            }}
                        </label>
                    </h2>
                    <div class="scroll-box">
                        <AlertTable
                            filter=|a: &AlertView| a.rule != RULE_BAD_RATING
                            testid="alert-row"
                            devices=show_devices
                        />
                    </div>
                </section>
                <section class="card">
                    <h2>
                        {tr("差评待回访", "Bad ratings to follow up")}
                        <span class="card-count">
                            {move || {
                                store.alerts.with(|m| {
                                    m.values()
                                        .filter(|a| a.rule == RULE_BAD_RATING && a.state == AlertState::Open)
                                        .count()
                                })
                            }}
                        </span>
                    </h2>
                    <AlertTable
                        filter=|a: &AlertView| a.rule == RULE_BAD_RATING
                        testid="bad-rating-row"
                        follow_up=true
                    />
                </section>
            </div>
            <QueueCard />
            <section class="card">
                <h2>{t.windows}</h2>
                <table class="windows">
                    <thead>
                        <tr>
                            <th>{t.col_window}</th>
                            <th>{t.col_unit}</th>
                            <th>{t.col_state}</th>
                            <th>{t.col_staff}</th>
                            <th>{t.col_since}</th>
                            <th>{t.col_ticket}</th>
                            <th class="num">{t.col_served}</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For
                            each=windows
                            key=|(id, _)| id.clone()
                            children=move |(_, w)| view! { <WindowRow w=w /> }
                        />
                    </tbody>
                </table>
            </section>
            <LeaveCard />
        </main>
    }
}

/// The operator's name, shared by the forms of the page.
#[derive(Clone, Copy)]
struct Operator(RwSignal<String>);

fn operator() -> RwSignal<String> {
    expect_context::<Operator>().0
}

/// Alerts matching `filter`: critical first, then open before acknowledged, newest first.
#[component]
fn AlertTable(
    filter: fn(&AlertView) -> bool,
    testid: &'static str,
    #[prop(optional)] follow_up: bool,
    /// When given and false, device alerts (DEV-*, the IT centre's) are left out.
    #[prop(optional)]
    devices: Option<RwSignal<bool>>,
) -> impl IntoView {
    let store = use_store();
    let t = i18n::t();
    let alerts = Memo::new(move |_| {
        let with_devices = devices.is_none_or(|d| d.get());
        store.alerts.with(|m| {
            let mut v: Vec<AlertView> = m
                .values()
                .filter(|a| filter(a) && (with_devices || !a.rule.starts_with("DEV-")))
                .cloned()
                .collect();
            v.sort_by_key(|a| {
                (
                    severity_rank(a.severity),
                    a.state != AlertState::Open,
                    std::cmp::Reverse(a.raised_at),
                )
            });
            v
        })
    });
    let empty_text = if follow_up {
        tr("没有待回访的差评", "No bad ratings to follow up")
    } else {
        t.no_open_alerts
    };
    view! {
        <Show
            when=move || alerts.with(|v| !v.is_empty())
            fallback=move || view! { <p class="empty-note">{empty_text}</p> }
        >
            <table class="alerts">
                <thead>
                    <tr>
                        <th>{t.col_rule}</th>
                        <th>{t.col_message}</th>
                        <th>{t.col_raised}</th>
                        <th>
                            {if follow_up { tr("回访", "Follow-up") } else { t.col_alert_state }}
                        </th>
                    </tr>
                </thead>
                <tbody>
                    <For
                        each=move || alerts.get()
                        key=|a| (a.id, a.state, a.acknowledged_at)
                        children=move |a| view! { <AlertRow a=a testid=testid follow_up=follow_up /> }
                    />
                </tbody>
            </table>
        </Show>
    }
}

#[component]
fn AlertRow(a: AlertView, testid: &'static str, follow_up: bool) -> impl IntoView {
    let store = use_store();
    let sev = severity_key(a.severity);
    let raised = a.raised_at;
    let state_cell = match a.state {
        AlertState::Open => view! { <AckForm id=a.id follow_up=follow_up /> }.into_any(),
        _ => {
            let by = a.acknowledged_by.clone().unwrap_or_default();
            let at = a.acknowledged_at;
            let note = a.ack_note.clone().filter(|n| !n.is_empty());
            view! {
                <div class="acked" data-testid="acked">
                    <span class="tag tag-acked">
                        {if follow_up { tr("已回访", "followed up") } else { tr("已确认", "acknowledged") }}
                    </span>
                    " "
                    <b>{by}</b>
                    " "
                    <span class="muted">
                        {move || at.map(|at| format::hall_local(at, store.hall_now().as_ref()))}
                    </span>
                    {note.map(|n| view! { <div class="ack-note">{n}</div> })}
                </div>
            }
            .into_any()
        }
    };
    view! {
        <tr data-testid=testid data-alert-id=a.id.to_string() data-rule=a.rule.clone() class=format!("sev-{sev}")>
            <td>
                <span class=format!("rule rule-{sev}")>{a.rule.clone()}</span>
            </td>
            <td>{a.message.clone()}</td>
            <td class="seen">
                <span class="seen-at">{move || format::hall_local(raised, store.hall_now().as_ref())}</span>
                <span class="seen-ago">{move || store.secs_since(raised).map(format::ago)}</span>
            </td>
            <td class="ack-cell">{state_cell}</td>
        </tr>
    }
}

/// The acknowledge form of one alert: a button that opens name + note. A follow-up (RAT-2) needs a note.
#[component]
fn AckForm(id: u64, follow_up: bool) -> impl IntoView {
    let store = use_store();
    let op = operator();
    let open = RwSignal::new(false);
    let name = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let by = name.get_untracked().trim().to_string();
        let text = note.get_untracked().trim().to_string();
        if by.is_empty() {
            error.set(Some(tr("请填写姓名", "Enter your name").into()));
            return;
        }
        if follow_up && text.is_empty() {
            error.set(Some(
                tr("请填写回访记录", "Enter the follow-up note").into(),
            ));
            return;
        }
        remember_name(&by);
        op.set(by.clone());
        busy.set(true);
        error.set(None);
        spawn_local(async move {
            let body = AckRequest { by, note: text };
            match api::post::<_, AlertView>(&format!("/alerts/{id}/ack"), &body).await {
                Ok(alert) => {
                    store.put_alert(alert, now_ms());
                    open.set(false);
                }
                Err(e) => error.set(Some(explain(&e))),
            }
            busy.set(false);
        });
    };
    view! {
        <Show
            when=move || open.get()
            fallback=move || {
                view! {
                    <button
                        class="btn btn-small"
                        data-testid="ack-open"
                        on:click=move |_| {
                            name.set(op.get_untracked());
                            open.set(true);
                        }
                    >
                        {if follow_up { tr("回访", "Follow up") } else { tr("确认", "Acknowledge") }}
                    </button>
                }
            }
        >
            <form class="ack-form" data-testid="ack-form" on:submit=submit>
                <input
                    type="text"
                    class="ack-name"
                    data-testid="ack-by"
                    placeholder=tr("姓名", "name")
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))
                />
                <input
                    type="text"
                    class="ack-note-input"
                    data-testid="ack-note"
                    placeholder=if follow_up {
                        tr("回访记录（必填）", "follow-up note (required)")
                    } else {
                        tr("备注", "note")
                    }
                    prop:value=move || note.get()
                    on:input=move |ev| note.set(event_target_value(&ev))
                />
                <button class="btn btn-small btn-primary" type="submit" disabled=move || busy.get()>
                    {tr("提交", "Submit")}
                </button>
                <button class="btn btn-small" type="button" on:click=move |_| open.set(false)>
                    {tr("取消", "Cancel")}
                </button>
                {move || error.get().map(|e| view! { <div class="form-error">{e}</div> })}
            </form>
        </Show>
    }
}

/// A user-facing sentence for a failed call.
pub(crate) fn explain(e: &api::ApiError) -> String {
    if e.is_missing() {
        format!(
            "{} ({})",
            tr("网关暂不支持此功能", "this gateway does not offer this yet"),
            e.status
        )
    } else if e.status == 0 {
        format!(
            "{}: {}",
            tr("无法连接网关", "cannot reach the gateway"),
            e.message
        )
    } else {
        format!("{} ({}): {}", tr("操作失败", "failed"), e.status, e.message)
    }
}

/// Queue KPIs per service type, and the queue alerts.
#[component]
fn QueueCard() -> impl IntoView {
    let store = use_store();
    let queues = move || {
        store
            .queues
            .with(|m| m.values().cloned().collect::<Vec<_>>())
    };
    let mins = |s: Option<u64>| {
        s.map(|s| format::duration(s as i64))
            .unwrap_or_else(|| "—".into())
    };
    view! {
        <section class="card">
            <h2>{tr("排队情况", "Queues")}</h2>
            <Show
                when=move || store.queues.with(|m| !m.is_empty())
                fallback=move || {
                    view! { <p class="empty-note">{tr("暂无排队数据", "No queue data yet")}</p> }
                }
            >
                <table class="queues">
                    <thead>
                        <tr>
                            <th>{tr("业务", "Service")}</th>
                            <th class="num">{tr("等候", "Waiting")}</th>
                            <th class="num">{tr("最长等候", "Longest wait")}</th>
                            <th class="num">{tr("平均等候(1h)", "Avg wait (1 h)")}</th>
                            <th class="num">{tr("平均办理(1h)", "Avg service (1 h)")}</th>
                            <th class="num">{tr("开放窗口", "Open windows")}</th>
                            <th class="num">{tr("今日办结", "Served today")}</th>
                            <th class="num">{tr("过号", "No-shows")}</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For
                            each=queues
                            key=|q| serde_json::to_string(q).unwrap_or_default()
                            children=move |q| {
                                view! {
                                    <tr class:over=q.over_service_level data-testid="queue-row">
                                        <td>
                                            {q.name.clone()}
                                            {q
                                                .over_service_level
                                                .then(|| {
                                                    view! {
                                                        <span class="tag tag-over">
                                                            {tr("超服务时限", "over service level")}
                                                        </span>
                                                    }
                                                })}
                                        </td>
                                        <td class="num big">{q.waiting}</td>
                                        <td class="num mono">{format::duration(q.longest_wait_secs as i64)}</td>
                                        <td class="num mono">{mins(q.avg_wait_secs_1h)}</td>
                                        <td class="num mono">{mins(q.avg_service_secs_1h)}</td>
                                        <td class="num">{q.open_windows}</td>
                                        <td class="num">{q.served_today}</td>
                                        <td class="num">{q.no_shows_today}</td>
                                    </tr>
                                }
                            }
                        />
                    </tbody>
                </table>
            </Show>
            <h3 class="card-sub">{tr("排队告警（Q-2 / Q-3）", "Queue alerts (Q-2 / Q-3)")}</h3>
            <AlertTable filter=|a: &AlertView| is_queue_rule(&a.rule) testid="queue-alert-row" />
        </section>
    }
}

#[component]
fn WindowRow(w: ArcRwSignal<WindowView>) -> impl IntoView {
    let store = use_store();
    let t = i18n::t();
    let id = w.with_untracked(|w| w.id.clone());
    let state = {
        let w = w.clone();
        Memo::new(move |_| w.with(|w| w.state))
    };
    let get = |f: fn(&WindowView) -> String| {
        let w = w.clone();
        move || w.with(f)
    };
    let since = {
        let w = w.clone();
        move || {
            w.with(|w| w.since)
                .and_then(|s| store.secs_since(s))
                .map(format::duration)
                .unwrap_or_default()
        }
    };
    let staff = {
        let w = w.clone();
        move || {
            w.with(|w| {
                let who = match (&w.staff, w.state) {
                    (Some(s), WindowState::CoveredB) => format!("{}（{}）", s.name, t.b_post),
                    (Some(s), _) => s.name.clone(),
                    (None, _) => format!("{} {}", t.a_post, w.a_post.name),
                };
                match (&w.away_reason, w.state) {
                    (Some(r), WindowState::AwayReported) if !r.is_empty() => format!("{who} · {r}"),
                    _ => who,
                }
            })
        }
    };
    view! {
        <tr
            data-testid="duty-window-row"
            data-window-id=id
            data-state=move || format::window_state_key(state.get())
        >
            <td class="win-num">{get(|w| w.number.to_string())}</td>
            <td>{get(|w| w.unit_name.clone())}</td>
            <td>
                <span class=move || {
                    format!("badge badge-w-{}", format::window_state_key(state.get()))
                }>{move || i18n::window_state(state.get())}</span>
            </td>
            <td>{staff}</td>
            <td class="mono" data-testid="since">{since}</td>
            <td class="mono">{get(|w| w.current_ticket.clone().unwrap_or_default())}</td>
            <td class="num">{get(|w| w.served_today.to_string())}</td>
        </tr>
    }
}

// ---------------------------------------------------------------------------------------------------------------
// Leave register (POST-5)
// ---------------------------------------------------------------------------------------------------------------

/// A list loaded from the gateway.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Load<T> {
    Loading,
    Ready(T),
    Missing(u16),
    Failed(String),
}

/// Staff known from the windows' A and B posts, by id, with the B post of their window (the usual substitute).
fn staff_from_windows(store: crate::store::Store) -> BTreeMap<String, (StaffRef, Option<String>)> {
    store.windows.with(|m| {
        let mut out: BTreeMap<String, (StaffRef, Option<String>)> = BTreeMap::new();
        for w in m.values() {
            w.with(|w| {
                let b = w.b_post.as_ref().map(|b| b.id.clone());
                out.entry(w.a_post.id.clone())
                    .or_insert_with(|| (w.a_post.clone(), b.clone()));
                if let Some(bp) = &w.b_post {
                    out.entry(bp.id.clone())
                        .or_insert_with(|| (bp.clone(), Some(w.a_post.id.clone())));
                }
            })
        }
        out
    })
}

/// `2026-12-03T08:30` (a `datetime-local` value, hall time) with the hall's offset.
pub fn parse_local(value: &str, offset: FixedOffset) -> Option<DateTime<FixedOffset>> {
    let naive = NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M")
        .or_else(|_| NaiveDateTime::parse_from_str(value, "%Y-%m-%dT%H:%M:%S"))
        .ok()?;
    offset.from_local_datetime(&naive).single()
}

#[cfg(test)]
fn local_value(t: &DateTime<FixedOffset>) -> String {
    t.format("%Y-%m-%dT%H:%M").to_string()
}

/// `12-03 08:30`, in the hall's offset.
fn short(t: &DateTime<FixedOffset>, offset: FixedOffset) -> String {
    t.with_timezone(&offset).format("%m-%d %H:%M").to_string()
}

#[component]
fn LeaveCard() -> impl IntoView {
    let store = use_store();
    let entries = RwSignal::new(Load::<Vec<LeaveEntry>>::Loading);
    let reload = move || {
        spawn_local(async move {
            let next = match api::get::<Vec<LeaveEntry>>("/leave").await {
                Ok(mut v) => {
                    v.sort_by_key(|e| (e.returned_at.is_some(), std::cmp::Reverse(e.start)));
                    Load::Ready(v)
                }
                Err(e) if e.is_missing() => Load::Missing(e.status),
                Err(e) => Load::Failed(explain(&e)),
            };
            entries.set(next);
        })
    };
    reload();
    let staff = Memo::new(move |_| staff_from_windows(store));
    let name_of = move |id: &str| {
        staff.with(|s| {
            s.get(id)
                .map(|(r, _)| r.name.clone())
                .unwrap_or_else(|| id.to_string())
        })
    };
    let action_error = RwSignal::new(None::<String>);
    let do_return = move |id: u64| {
        let by = operator().get_untracked().trim().to_string();
        if by.is_empty() {
            action_error.set(Some(
                tr(
                    "请先在页首填写值班人姓名",
                    "Enter your name at the top first",
                )
                .into(),
            ));
            return;
        }
        action_error.set(None);
        spawn_local(async move {
            let body = ReturnLeave { by, at: None };
            match api::post::<_, LeaveEntry>(&format!("/leave/{id}/return"), &body).await {
                Ok(_) => reload(),
                Err(e) => action_error.set(Some(explain(&e))),
            }
        });
    };
    let list = move || {
        match entries.get() {
        Load::Loading => view! { <p class="empty-note">{tr("加载中…", "Loading…")}</p> }.into_any(),
        Load::Missing(status) => view! {
            <p class="empty-note" data-testid="leave-missing">
                {tr("网关暂未提供请销假台账接口", "This gateway does not offer the leave register yet")}
                {format!(" (HTTP {status})")}
            </p>
        }
        .into_any(),
        Load::Failed(e) => view! { <p class="form-error">{e}</p> }.into_any(),
        Load::Ready(v) if v.is_empty() => {
            view! { <p class="empty-note">{tr("台账中暂无请假记录", "No leave registered")}</p> }.into_any()
        }
        Load::Ready(v) => {
            let offset = store.hall_offset();
            view! {
                <table class="leave">
                    <thead>
                        <tr>
                            <th>{tr("类型", "Kind")}</th>
                            <th>{tr("人员", "Staff")}</th>
                            <th>{tr("起止", "From – to")}</th>
                            <th>{tr("代岗", "Substitute")}</th>
                            <th>{tr("审批人", "Approver")}</th>
                            <th>{tr("备注", "Note")}</th>
                            <th>{tr("销假", "Return")}</th>
                        </tr>
                    </thead>
                    <tbody>
                        {v
                            .into_iter()
                            .map(|e| {
                                let id = e.id;
                                let returned = e.returned_at.map(|at| {
                                    format!(
                                        "{} {}",
                                        short(&at.fixed_offset(), offset),
                                        e.returned_by.clone().unwrap_or_default(),
                                    )
                                });
                                let is_returned = returned.is_some();
                                view! {
                                    <tr data-testid="leave-row" data-leave-id=id.to_string() class:returned=is_returned>
                                        <td>{leave_kind(e.kind)}</td>
                                        <td>{name_of(&e.staff_id)}</td>
                                        <td class="mono">
                                            {format!("{} – {}", short(&e.start, offset), short(&e.end, offset))}
                                            {e
                                                .late_notice
                                                .then(|| {
                                                    view! {
                                                        <span class="tag tag-late" data-testid="late-notice">
                                                            {tr("提前不足3个工作日", "under 3 working days' notice")}
                                                        </span>
                                                    }
                                                })}
                                        </td>
                                        <td>{e.substitute.as_deref().map(name_of).unwrap_or_else(|| "—".into())}</td>
                                        <td>{e.approver.clone().unwrap_or_default()}</td>
                                        <td>{e.note.clone()}</td>
                                        <td>
                                            {match returned {
                                                Some(r) => view! {
                                                    <span class="tag tag-acked">{tr("已销假", "returned")}</span>
                                                    " "
                                                    <span class="muted">{r}</span>
                                                }
                                                .into_any(),
                                                None => view! {
                                                    <button
                                                        class="btn btn-small"
                                                        data-testid="leave-return"
                                                        on:click=move |_| do_return(id)
                                                    >
                                                        {tr("销假", "Return")}
                                                    </button>
                                                }
                                                .into_any(),
                                            }}
                                        </td>
                                    </tr>
                                }
                            })
                            .collect::<Vec<_>>()}
                    </tbody>
                </table>
            }
            .into_any()
        }
    }
    };
    view! {
        <section class="card" data-testid="leave-card">
            <h2>{tr("请销假台账", "Leave register")}</h2>
            {list}
            {move || action_error.get().map(|e| view! { <p class="form-error">{e}</p> })}
            <LeaveForm on_saved=move || reload() />
        </section>
    }
}

fn leave_kind(k: LeaveKind) -> &'static str {
    match i18n::lang() {
        i18n::Lang::Zh => k.label_zh(),
        i18n::Lang::En => match k {
            LeaveKind::Personal => "personal",
            LeaveKind::Sick => "sick",
            LeaveKind::Annual => "annual",
            LeaveKind::FamilyVisit => "family visit",
            LeaveKind::Marriage => "marriage",
            LeaveKind::Maternity => "maternity",
            LeaveKind::Bereavement => "bereavement",
            LeaveKind::Compensatory => "time off in lieu",
        },
    }
}

#[component]
fn LeaveForm(on_saved: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let store = use_store();
    let op = operator();
    let staff = Memo::new(move |_| staff_from_windows(store));
    let staff_list = move || {
        staff.with(|s| {
            let mut v: Vec<StaffRef> = s.values().map(|(r, _)| r.clone()).collect();
            v.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
            v
        })
    };
    let who = RwSignal::new(String::new());
    let kind = RwSignal::new(LeaveKind::Personal.as_str().to_string());
    let start = RwSignal::new(String::new());
    let end = RwSignal::new(String::new());
    // Today's afternoon by default, in hall time, as soon as the hall clock is known.
    Effect::new(move |_| {
        let today = store.clock.with(|c| {
            c.as_ref()
                .map(|c| c.clock.time.format("%Y-%m-%d").to_string())
        });
        if let Some(day) = today {
            if start.get_untracked().is_empty() && end.get_untracked().is_empty() {
                start.set(format!("{day}T14:00"));
                end.set(format!("{day}T18:00"));
            }
        }
    });
    let approver = RwSignal::new(String::new());
    let substitute = RwSignal::new(String::new());
    let note = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let message = RwSignal::new(None::<(bool, String)>);

    let pick_staff = move |id: String| {
        // The B post of the person's window covers by default (POST-4).
        let sub = staff.with_untracked(|s| s.get(&id).and_then(|(_, b)| b.clone()));
        substitute.set(sub.unwrap_or_default());
        who.set(id);
    };
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let offset = store.hall_offset();
        let fail = |m: &str| message.set(Some((false, m.to_string())));
        let staff_id = who.get_untracked();
        if staff_id.is_empty() {
            return fail(tr("请选择请假人员", "Choose who is on leave"));
        }
        let Some(kind) = LeaveKind::ALL
            .into_iter()
            .find(|k| k.as_str() == kind.get_untracked())
        else {
            return fail(tr("请选择假别", "Choose the kind of leave"));
        };
        let (Some(s), Some(e)) = (
            parse_local(&start.get_untracked(), offset),
            parse_local(&end.get_untracked(), offset),
        ) else {
            return fail(tr("请填写开始和结束时间", "Enter start and end"));
        };
        if e <= s {
            return fail(tr(
                "结束时间须晚于开始时间",
                "The end must be after the start",
            ));
        }
        let sub = substitute.get_untracked();
        if sub == staff_id {
            return fail(tr(
                "代岗人不能是请假人本人",
                "The substitute cannot be the person on leave",
            ));
        }
        let by = op.get_untracked().trim().to_string();
        if by.is_empty() {
            return fail(tr(
                "请先在页首填写值班人姓名",
                "Enter your name at the top first",
            ));
        }
        let body = NewLeave {
            staff_id,
            kind,
            start: s,
            end: e,
            approver: Some(approver.get_untracked().trim().to_string()).filter(|a| !a.is_empty()),
            substitute: Some(sub).filter(|s| !s.is_empty()),
            note: note.get_untracked().trim().to_string(),
            by,
        };
        busy.set(true);
        message.set(None);
        spawn_local(async move {
            match api::post::<_, LeaveEntry>("/leave", &body).await {
                Ok(entry) => {
                    let late = if entry.late_notice {
                        tr(
                            "（年休假提前不足3个工作日）",
                            " (annual leave under 3 working days' notice)",
                        )
                    } else {
                        ""
                    };
                    message.set(Some((
                        true,
                        format!("{}{late}", tr("已登记", "Registered")),
                    )));
                    note.set(String::new());
                    on_saved();
                }
                Err(e) => message.set(Some((false, explain(&e)))),
            }
            busy.set(false);
        });
    };
    let staff_options = move |selected: RwSignal<String>, none_label: &'static str| {
        view! {
            <option value="" selected=move || selected.get().is_empty()>{none_label}</option>
            <For
                each=staff_list
                key=|s| s.id.clone()
                children=move |s| {
                    let id = s.id.clone();
                    let id2 = id.clone();
                    view! {
                        <option value=id selected=move || selected.get() == id2>
                            {format!("{}（{}）", s.name, s.id)}
                        </option>
                    }
                }
            />
        }
    };
    view! {
        <form class="leave-form" data-testid="leave-form" on:submit=submit>
            <h3 class="card-sub">{tr("登记请假", "Register leave")}</h3>
            <label>
                {tr("人员", "Staff")}
                <select data-testid="leave-staff" on:change=move |ev| pick_staff(event_target_value(&ev))>
                    {staff_options(who, tr("— 选择 —", "— choose —"))}
                </select>
            </label>
            <label>
                {tr("假别", "Kind")}
                <select data-testid="leave-kind" on:change=move |ev| kind.set(event_target_value(&ev))>
                    {LeaveKind::ALL
                        .map(|k| {
                            view! {
                                <option value=k.as_str() selected=move || kind.get() == k.as_str()>
                                    {leave_kind(k)}
                                </option>
                            }
                        })}
                </select>
            </label>
            <label>
                {tr("开始（大厅时间）", "Start (hall time)")}
                <input
                    type="datetime-local"
                    data-testid="leave-start"
                    prop:value=move || start.get()
                    on:change=move |ev| start.set(event_target_value(&ev))
                />
            </label>
            <label>
                {tr("结束（大厅时间）", "End (hall time)")}
                <input
                    type="datetime-local"
                    data-testid="leave-end"
                    prop:value=move || end.get()
                    on:change=move |ev| end.set(event_target_value(&ev))
                />
            </label>
            <label>
                {tr("审批人", "Approver")}
                <input
                    type="text"
                    data-testid="leave-approver"
                    prop:value=move || approver.get()
                    on:input=move |ev| approver.set(event_target_value(&ev))
                />
            </label>
            <label>
                {tr("代岗人", "Substitute")}
                <select data-testid="leave-substitute" on:change=move |ev| substitute.set(event_target_value(&ev))>
                    {staff_options(substitute, tr("— 无 —", "— none —"))}
                </select>
            </label>
            <label class="wide">
                {tr("备注", "Note")}
                <input
                    type="text"
                    data-testid="leave-note"
                    prop:value=move || note.get()
                    on:input=move |ev| note.set(event_target_value(&ev))
                />
            </label>
            <div class="form-actions">
                <button class="btn btn-primary" type="submit" data-testid="leave-submit" disabled=move || busy.get()>
                    {tr("登记", "Register")}
                </button>
                {move || {
                    message
                        .get()
                        .map(|(ok, m)| {
                            view! {
                                <span class=if ok { "form-ok" } else { "form-error" } data-testid="leave-message">
                                    {m}
                                </span>
                            }
                        })
                }}
            </div>
        </form>
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetime_local_values_take_the_hall_offset() {
        let cst = FixedOffset::east_opt(8 * 3_600).unwrap();
        let t = parse_local("2026-12-03T08:30", cst).unwrap();
        assert_eq!(t.to_rfc3339(), "2026-12-03T08:30:00+08:00");
        assert_eq!(local_value(&t), "2026-12-03T08:30");
        assert_eq!(
            short(&t.with_timezone(&chrono::Utc).fixed_offset(), cst),
            "12-03 08:30"
        );
        assert!(parse_local("", cst).is_none());
    }
}
