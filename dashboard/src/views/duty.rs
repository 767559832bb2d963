//! `/duty`: the duty leader's view: every window with who is there and for how long, and the open alerts.

use hall_protocol::api::{AlertState, WindowState, WindowView};
use hall_protocol::payload::Severity;
use leptos::prelude::*;

use crate::format;
use crate::i18n;
use crate::views::common::{NavBar, use_store};

#[component]
pub fn DutyView() -> impl IntoView {
    let store = use_store();
    let t = i18n::t();
    let windows = move || {
        store.windows.with(|m| {
            let mut v: Vec<_> = m.iter().map(|(id, s)| (id.clone(), s.clone())).collect();
            v.sort_by_key(|(id, s)| (s.with_untracked(|w| w.number), id.clone()));
            v
        })
    };
    let alerts = move || {
        store.alerts.with(|m| {
            let mut v: Vec<_> = m.values().cloned().collect();
            // Open before acknowledged, newest first.
            v.sort_by_key(|a| (a.state != AlertState::Open, std::cmp::Reverse(a.raised_at)));
            v
        })
    };
    view! {
        <NavBar active="/duty" />
        <main class="page duty">
            <section class="card">
                <h2>
                    {t.open_alerts}
                    <span class="card-count">{move || store.alerts.with(|m| m.len())}</span>
                </h2>
                <Show
                    when=move || store.alerts.with(|m| !m.is_empty())
                    fallback=move || view! { <p class="empty-note">{t.no_open_alerts}</p> }
                >
                    <table class="alerts">
                        <thead>
                            <tr>
                                <th>{t.col_rule}</th>
                                <th>{t.col_message}</th>
                                <th>{t.col_raised}</th>
                                <th>{t.col_alert_state}</th>
                            </tr>
                        </thead>
                        <tbody>
                            <For
                                each=alerts
                                key=|a| (a.id, a.state)
                                children=move |a| {
                                    let sev = match a.severity {
                                        Severity::Info => "info",
                                        Severity::Warning => "warning",
                                        Severity::Critical => "critical",
                                    };
                                    let raised = a.raised_at;
                                    view! {
                                        <tr
                                            data-testid="alert-row"
                                            data-alert-id=a.id.to_string()
                                            class=format!("sev-{sev}")
                                        >
                                            <td>
                                                <span class=format!("rule rule-{sev}")>{a.rule.clone()}</span>
                                            </td>
                                            <td>{a.message.clone()}</td>
                                            <td class="seen">
                                                <span class="seen-at">
                                                    {move || format::hall_local(raised, store.hall_now().as_ref())}
                                                </span>
                                                <span class="seen-ago">
                                                    {move || store.secs_since(raised).map(format::ago)}
                                                </span>
                                            </td>
                                            <td>
                                                {match a.state {
                                                    AlertState::Open => t.open.to_string(),
                                                    _ => {
                                                        format!(
                                                            "{} {}",
                                                            t.acknowledged,
                                                            a.acknowledged_by.clone().unwrap_or_default(),
                                                        )
                                                    }
                                                }}
                                            </td>
                                        </tr>
                                    }
                                }
                            />
                        </tbody>
                    </table>
                </Show>
            </section>
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
        </main>
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
            w.with(|w| match (&w.staff, w.state) {
                (Some(s), WindowState::CoveredB) => format!("{}（{}）", s.name, t.b_post),
                (Some(s), _) => s.name.clone(),
                (None, _) => format!("{} {}", t.a_post, w.a_post.name),
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
            <td class="mono">{since}</td>
            <td class="mono">{get(|w| w.current_ticket.clone().unwrap_or_default())}</td>
            <td class="num">{get(|w| w.served_today.to_string())}</td>
        </tr>
    }
}
