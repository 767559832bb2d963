//! `/it`: the IT centre's device table, with counts per state, filters and a free-text search.
//!
//! Devices needing attention sort first. With thousands of devices only the first rows are drawn (more on
//! request), and each row follows its own device, so a heartbeat re-renders one row.

use std::collections::BTreeSet;

use hall_protocol::api::{DeviceState, DeviceView};
use hall_protocol::config::DeviceKind;
use hall_protocol::payload::Severity;
use leptos::prelude::*;

use crate::format;
use crate::i18n;
use crate::store::{DEVICE_STATES, state_rank};
use crate::views::common::{NavBar, StateBadge, use_store};

/// Rows drawn at first, and added per "show more".
const PAGE_ROWS: usize = 300;

/// The table's filters; empty strings mean "all".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeviceFilter {
    pub state: String,
    pub kind: String,
    pub location: String,
    pub text: String,
}

impl DeviceFilter {
    pub fn matches(&self, d: &DeviceView) -> bool {
        if !self.state.is_empty() && d.state.as_str() != self.state {
            return false;
        }
        if !self.kind.is_empty() && d.kind.as_str() != self.kind {
            return false;
        }
        if !self.location.is_empty() && d.location != self.location {
            return false;
        }
        let needle = self.text.trim().to_lowercase();
        if needle.is_empty() {
            return true;
        }
        let hay = |s: &str| s.to_lowercase().contains(&needle);
        hay(&d.id)
            || hay(&d.name)
            || hay(&d.location)
            || d.window.as_deref().is_some_and(hay)
            || hay(d.kind.label_zh())
            || d.faults.iter().any(|f| hay(&f.code) || hay(&f.message))
    }
}

#[component]
pub fn ItView() -> impl IntoView {
    let store = use_store();
    let t = i18n::t();
    let filter = RwSignal::new(DeviceFilter::default());
    let limit = RwSignal::new(PAGE_ROWS);

    let counts = Memo::new(move |_| store.device_counts());
    let locations = Memo::new(move |_| {
        store.devices.with(|m| {
            m.values()
                .map(|d| d.with(|d| d.location.clone()))
                .filter(|l| !l.is_empty())
                .collect::<BTreeSet<_>>()
        })
    });
    let kinds = Memo::new(move |_| {
        store.devices.with(|m| {
            m.values()
                .map(|d| d.with(|d| d.kind))
                .collect::<BTreeSet<DeviceKind>>()
        })
    });
    // Ids of the matching devices, problems first; recomputed on any change, cheap next to drawing.
    let matching = Memo::new(move |_| {
        let f = filter.get();
        store.devices.with(|m| {
            let mut v: Vec<(u8, String)> = m
                .iter()
                .filter_map(|(id, d)| {
                    d.with(|d| f.matches(d).then(|| (state_rank(d.state), id.clone())))
                })
                .collect();
            v.sort();
            v.into_iter().map(|(_, id)| id).collect::<Vec<_>>()
        })
    });
    let rows = move || {
        let n = limit.get();
        matching.with(|ids| {
            store.devices.with(|m| {
                ids.iter()
                    .take(n)
                    .filter_map(|id| m.get(id).map(|s| (id.clone(), s.clone())))
                    .collect::<Vec<_>>()
            })
        })
    };

    let set_state = move |s: String| filter.update(|f| f.state = s);
    let chip = move |state: DeviceState| {
        let key = state.as_str();
        view! {
            <button
                class=format!("count-chip chip-{key}")
                class:selected=move || filter.with(|f| f.state == key)
                data-testid="state-count"
                data-state=key
                on:click=move |_| {
                    let next = if filter.with_untracked(|f| f.state == key) { String::new() } else { key.to_string() };
                    set_state(next)
                }
            >
                <span class="chip-value">{move || counts.get().get(state)}</span>
                <span class="chip-label">{i18n::device_state(state)}</span>
            </button>
        }
    };

    view! {
        <NavBar active="/it" />
        <main class="page it">
            <ComplianceAlerts />
            <crate::views::inspection::InspectionPanel />
            <div class="count-bar">
                <div class="count-chip chip-total">
                    <span class="chip-value">{move || counts.get().total()}</span>
                    <span class="chip-label">{t.total}</span>
                </div>
                {DEVICE_STATES.map(chip)}
            </div>
            <div class="filters">
                <select
                    data-testid="filter-state"
                    prop:value=move || filter.with(|f| f.state.clone())
                    on:change=move |ev| set_state(event_target_value(&ev))
                >
                    <option value="">{t.filter_all_states}</option>
                    {DEVICE_STATES
                        .map(|s| view! { <option value=s.as_str()>{i18n::device_state(s)}</option> })}
                </select>
                <select
                    data-testid="filter-kind"
                    prop:value=move || filter.with(|f| f.kind.clone())
                    on:change=move |ev| filter.update(|f| f.kind = event_target_value(&ev))
                >
                    <option value="">{t.filter_all_kinds}</option>
                    <For
                        each=move || { kinds.get().into_iter().collect::<Vec<_>>() }
                        key=|k| *k
                        children=move |k| view! { <option value=k.as_str()>{i18n::device_kind(k)}</option> }
                    />
                </select>
                <select
                    data-testid="filter-location"
                    prop:value=move || filter.with(|f| f.location.clone())
                    on:change=move |ev| filter.update(|f| f.location = event_target_value(&ev))
                >
                    <option value="">{t.filter_all_locations}</option>
                    <For
                        each=move || { locations.get().into_iter().collect::<Vec<_>>() }
                        key=|l| l.clone()
                        children=move |l| view! { <option value=l.clone()>{l.clone()}</option> }
                    />
                </select>
                <input
                    class="search"
                    type="search"
                    data-testid="filter-text"
                    placeholder=t.search_placeholder
                    prop:value=move || filter.with(|f| f.text.clone())
                    on:input=move |ev| filter.update(|f| f.text = event_target_value(&ev))
                />
                <span class="filter-result">
                    {move || {
                        let total = matching.with(|m| m.len());
                        i18n::fill(
                            t.shown_of,
                            &[("shown", total.min(limit.get()).to_string()), ("total", total.to_string())],
                        )
                    }}
                </span>
            </div>
            <div class="table-wrap">
                <table class="devices">
                    <thead>
                        <tr>
                            <th>{t.col_device}</th>
                            <th>{t.col_kind}</th>
                            <th>{t.col_location}</th>
                            <th>{t.col_state}</th>
                            <th>{t.col_last_seen}</th>
                            <th class="num">{t.col_cpu}</th>
                            <th class="num">{t.col_mem}</th>
                            <th class="num">{t.col_disk}</th>
                            <th>{t.col_faults}</th>
                        </tr>
                    </thead>
                    <tbody>
                        <For
                            each=rows
                            key=|(id, _)| id.clone()
                            children=move |(_, d)| view! { <DeviceRow d=d /> }
                        />
                    </tbody>
                </table>
                <Show when=move || matching.with(|m| m.is_empty()) && store.devices.with(|m| !m.is_empty())>
                    <p class="empty-note">{t.no_match}</p>
                </Show>
                <Show when=move || store.devices.with(|m| m.is_empty())>
                    <p class="empty-note">{t.waiting_for_data}</p>
                </Show>
                <Show when=move || { matching.with(|m| m.len()) > limit.get() }>
                    <button class="more" on:click=move |_| limit.update(|l| *l += PAGE_ROWS)>
                        {t.show_more}
                    </button>
                </Show>
            </div>
        </main>
    }
}

#[component]
fn DeviceRow(d: ArcRwSignal<DeviceView>) -> impl IntoView {
    let store = use_store();
    let t = i18n::t();
    let id = d.with_untracked(|d| d.id.clone());
    let state = {
        let d = d.clone();
        Memo::new(move |_| d.with(|d| d.state))
    };
    let field = |f: fn(&DeviceView) -> String| {
        let d = d.clone();
        move || d.with(f)
    };
    let last_seen = {
        let d = d.clone();
        move || {
            let seen = d.with(|d| d.last_seen);
            match seen {
                None => view! { <span class="muted">{t.never_seen}</span> }.into_any(),
                Some(seen) => {
                    let now = store.hall_now();
                    let at = format::hall_local(seen, now.as_ref());
                    let ago = store.secs_since(seen).map(format::ago).unwrap_or_default();
                    view! {
                        <span class="seen-at">{at}</span>
                        <span class="seen-ago">{ago}</span>
                    }
                    .into_any()
                }
            }
        }
    };
    let metric = |pick: fn(&DeviceView) -> Option<f64>| {
        let d = d.clone();
        move || match d.with(pick) {
            Some(v) => {
                let level = if v >= 90.0 {
                    "hot"
                } else if v >= 75.0 {
                    "warm"
                } else {
                    "ok"
                };
                view! {
                    <span class=format!("meter meter-{level}")>
                        <span class="meter-bar" style=format!("width:{:.0}%", v.clamp(0.0, 100.0))></span>
                        <span class="meter-value">{format::pct(v)}</span>
                    </span>
                }
                .into_any()
            }
            None => view! { <span class="muted">"—"</span> }.into_any(),
        }
    };
    let faults = {
        let d = d.clone();
        move || {
            d.with(|d| {
                d.faults
                    .iter()
                    .map(|f| {
                        let sev = match f.severity {
                            Severity::Info => "info",
                            Severity::Warning => "warning",
                            Severity::Critical => "critical",
                        };
                        view! {
                            <span class=format!("fault fault-{sev}") title=f.message.clone()>
                                <b>{f.code.clone()}</b>
                                " "
                                {f.message.clone()}
                            </span>
                        }
                    })
                    .collect::<Vec<_>>()
            })
        }
    };
    let maintenance = {
        let d = d.clone();
        move || {
            d.with(|d| d.maintenance.as_ref().map(|m| m.reason.clone()))
                .map(|reason| view! { <span class="tag tag-maint" title=reason>{t.maintenance}</span> })
        }
    };
    view! {
        <tr
            data-testid="device-row"
            data-device-id=id.clone()
            data-state=move || state.get().as_str()
            class=move || format!("row-{}", state.get().as_str())
        >
            <td class="dev">
                <div class="dev-name">
                    <a class="dev-link" href=format!("/it/device/{}", crate::api::seg(&id))>
                        {field(|d| if d.name.is_empty() { d.id.clone() } else { d.name.clone() })}
                    </a>
                    {maintenance}
                </div>
                <div class="dev-id">{field(|d| d.id.clone())}</div>
            </td>
            <td>{field(|d| i18n::device_kind(d.kind).to_string())}</td>
            <td>
                {field(|d| d.location.clone())}
                <span class="dev-window">{field(|d| d.window.clone().unwrap_or_default())}</span>
            </td>
            <td>
                <StateBadge state=Signal::derive(move || state.get()) />
            </td>
            <td class="seen">{last_seen}</td>
            <td class="num">{metric(|d| d.metrics.as_ref().and_then(|m| m.cpu_pct))}</td>
            <td class="num">{metric(|d| d.metrics.as_ref().and_then(|m| m.mem_pct))}</td>
            <td class="num">{metric(|d| d.metrics.as_ref().and_then(|m| m.disk_pct))}</td>
            <td class="faults">{faults}</td>
        </tr>
    }
}

/// Intranet compliance alerts (DEV-4 internet exposure, DEV-5 removable media), shown above everything else.
#[component]
fn ComplianceAlerts() -> impl IntoView {
    let store = use_store();
    let alerts = Memo::new(move |_| {
        store.alerts.with(|m| {
            let mut v: Vec<_> = m
                .values()
                .filter(|a| a.rule == "DEV-4" || a.rule == "DEV-5")
                .cloned()
                .collect();
            v.sort_by_key(|a| {
                (
                    crate::views::common::severity_rank(a.severity),
                    std::cmp::Reverse(a.raised_at),
                )
            });
            v
        })
    });
    view! {
        <Show when=move || alerts.with(|v| !v.is_empty())>
            <section class="compliance" data-testid="compliance-alerts">
                <h2>{crate::i18n::tr("内网合规告警", "Intranet compliance alerts")}</h2>
                <ul>
                    <For
                        each=move || alerts.get()
                        key=|a| (a.id, a.state)
                        children=move |a| {
                            let sev = crate::views::common::severity_key(a.severity);
                            let raised = a.raised_at;
                            let device = a
                                .subject
                                .strip_prefix("device:")
                                .map(|rest| rest.split('/').next().unwrap_or(rest).to_string());
                            view! {
                                <li class=format!("compliance-item sev-{sev}") data-rule=a.rule.clone()>
                                    <span class=format!("rule rule-{sev}")>{a.rule.clone()}</span>
                                    <span class="compliance-msg">{a.message.clone()}</span>
                                    <span class="muted">
                                        {move || format::hall_local(raised, store.hall_now().as_ref())}
                                    </span>
                                    {(a.state != hall_protocol::api::AlertState::Open)
                                        .then(|| {
                                            view! {
                                                <span class="tag tag-acked">
                                                    {a.acknowledged_by.clone().unwrap_or_default()}
                                                </span>
                                            }
                                        })}
                                    {device
                                        .map(|d| {
                                            view! {
                                                <a href=format!("/it/device/{}", crate::api::seg(&d))>
                                                    {crate::i18n::tr("查看设备", "device")}
                                                </a>
                                            }
                                        })}
                                </li>
                            }
                        }
                    />
                </ul>
            </section>
        </Show>
    }
}
