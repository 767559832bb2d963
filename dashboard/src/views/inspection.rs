//! The morning inspection panel of `/it` (INS-1..3): today's record, taken at 08:15, with the devices found with
//! problems first, per inspector, and the sign-off (name + notes) or who signed it.

use std::time::Duration;

use chrono::{DateTime, FixedOffset, Utc};
use hall_protocol::api::{
    InspectionItem, InspectionStatus, InspectionView, Inspector, SignRequest,
};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::i18n::{self, tr};
use crate::views::common::{remember_name, remembered_name, use_store};
use crate::views::duty::{Load, explain};

/// How often the record is reloaded.
const REFRESH: Duration = Duration::from_secs(30);

/// The latest record: the newest working day, then the latest taken.
fn latest(v: Vec<InspectionView>) -> Option<InspectionView> {
    v.into_iter().max_by_key(|r| (r.date, r.taken_at, r.id))
}

/// 0: still a problem, 1: problem fixed before service, 2: fine.
fn item_rank(i: &InspectionItem) -> u8 {
    match (i.status, i.fixed_at) {
        (InspectionStatus::Ok, _) => 2,
        (_, Some(_)) => 1,
        (_, None) => 0,
    }
}

fn status_key(s: InspectionStatus) -> &'static str {
    match s {
        InspectionStatus::Ok => "ok",
        InspectionStatus::Fault => "fault",
        InspectionStatus::Offline => "offline",
        InspectionStatus::Unknown => "unknown",
    }
}

fn status_label(s: InspectionStatus) -> &'static str {
    match i18n::lang() {
        i18n::Lang::Zh => s.label_zh(),
        i18n::Lang::En => match s {
            InspectionStatus::Ok => "ok",
            InspectionStatus::Fault => "fault",
            InspectionStatus::Offline => "offline",
            InspectionStatus::Unknown => "not reported",
        },
    }
}

fn inspector_label(i: Inspector) -> &'static str {
    match i18n::lang() {
        i18n::Lang::Zh => i.label_zh(),
        i18n::Lang::En => match i {
            Inspector::ItCentre => "IT centre",
            Inspector::ConsultationDesk => "Consultation desk",
        },
    }
}

/// `HH:MM` in the hall's offset.
fn hm(t: DateTime<Utc>, offset: FixedOffset) -> String {
    t.with_timezone(&offset).format("%H:%M").to_string()
}

#[component]
pub fn InspectionPanel() -> impl IntoView {
    let record = RwSignal::new(Load::<Option<InspectionView>>::Loading);
    let reload = move || {
        spawn_local(async move {
            let next = match api::get::<Vec<InspectionView>>("/inspections").await {
                Ok(v) => Load::Ready(latest(v)),
                Err(e) if e.is_missing() => Load::Missing(e.status),
                Err(e) => Load::Failed(explain(&e)),
            };
            // Only a change redraws, so opened lists stay open across refreshes.
            if record.try_with_untracked(|r| *r != next) == Some(true) {
                record.set(next);
            }
        })
    };
    reload();
    if let Ok(handle) = set_interval_with_handle(reload, REFRESH) {
        on_cleanup(move || handle.clear());
    }

    let body = move || match record.get() {
        Load::Loading => view! { <p class="empty-note">{tr("加载中…", "Loading…")}</p> }.into_any(),
        Load::Missing(status) => view! {
            <p class="empty-note" data-testid="inspection-missing">
                {tr("网关暂未提供此接口", "This gateway does not offer this yet")}
                {format!(" (HTTP {status})")}
            </p>
        }
        .into_any(),
        Load::Failed(e) => view! { <p class="form-error">{e}</p> }.into_any(),
        Load::Ready(None) => view! {
            <p class="empty-note">{tr("今日尚无班前检查记录", "No inspection record yet today")}</p>
        }
        .into_any(),
        Load::Ready(Some(r)) => view! { <Record r=r on_signed=reload /> }.into_any(),
    };
    view! {
        <section class="card inspection" data-testid="inspection-panel">
            <h2>{tr("今日班前检查 (08:15)", "Today's morning inspection (08:15)")}</h2>
            {body}
        </section>
    }
}

#[component]
fn Record(r: InspectionView, on_signed: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let store = use_store();
    let offset = store.hall_offset();
    let id = r.id;
    let problems = r.items.iter().filter(|i| item_rank(i) == 0).count();
    let groups = [Inspector::ItCentre, Inspector::ConsultationDesk]
        .into_iter()
        .filter_map(|who| {
            let mut items: Vec<InspectionItem> = r
                .items
                .iter()
                .filter(|i| i.inspector == who)
                .cloned()
                .collect();
            if items.is_empty() {
                return None;
            }
            items.sort_by(|a, b| {
                (item_rank(a), &a.location, &a.device_name).cmp(&(
                    item_rank(b),
                    &b.location,
                    &b.device_name,
                ))
            });
            Some((who, items))
        })
        .collect::<Vec<_>>();
    let signed = r.signed_by.clone().map(|by| {
        let at = r.signed_at.map(|t| hm(t, offset)).unwrap_or_default();
        let notes = r.notes.clone().filter(|n| !n.is_empty());
        view! {
            <div class="inspection-signed" data-testid="inspection-signed">
                <span class="tag tag-acked">{tr("已签字", "signed")}</span>
                " "
                <b>{by}</b>
                " "
                <span class="muted">{at}</span>
                {notes.map(|n| view! { <div class="ack-note">{n}</div> })}
            </div>
        }
    });
    let is_signed = signed.is_some();
    view! {
        <div class="inspection-head" data-inspection-id=id.to_string()>
            <span class="mono">
                {format!("{} {} {}", r.date.format("%Y-%m-%d"), tr("检查于", "taken at"), hm(r.taken_at, offset))}
            </span>
            {if r.ready_to_open {
                view! {
                    <span class="tag tag-acked" data-testid="inspection-status" data-ready="true">
                        {tr("可以开门", "ready to open")}
                    </span>
                }
                .into_any()
            } else {
                view! {
                    <span class="tag tag-over" data-testid="inspection-status" data-ready="false">
                        {format!("{}（{problems}）", tr("存在问题", "problems found"))}
                    </span>
                }
                .into_any()
            }}
            <a href=api::url(&format!("/inspections/{id}.csv")) download="" data-testid="inspection-csv">
                {tr("导出CSV", "Export CSV")}
            </a>
            <a href=api::url(&format!("/inspections/{id}/print")) target="_blank" data-testid="inspection-print">
                {tr("打印", "Print")}
            </a>
        </div>
        {groups
            .into_iter()
            .map(|(who, items)| {
                let open_problems = items.iter().filter(|i| item_rank(i) == 0).count();
                let summary = format!(
                    "{} · {} {} · {} {}",
                    inspector_label(who),
                    items.len(),
                    tr("项", "items"),
                    open_problems,
                    tr("项问题", "problems"),
                );
                view! {
                    <details class="inspection-group" data-testid="inspection-group" open=open_problems > 0>
                        <summary>{summary}</summary>
                        <table class="inspection-items">
                            <tbody>
                                {items.into_iter().map(|i| view! { <ItemRow i=i offset=offset /> }).collect::<Vec<_>>()}
                            </tbody>
                        </table>
                    </details>
                }
            })
            .collect::<Vec<_>>()}
        {if is_signed { signed.into_any() } else { view! { <SignForm id=id on_signed=on_signed /> }.into_any() }}
    }
}

#[component]
fn ItemRow(i: InspectionItem, offset: FixedOffset) -> impl IntoView {
    let key = status_key(i.status);
    let status = match i.status {
        InspectionStatus::Fault if !i.fault_codes.is_empty() => i.fault_codes.join(", "),
        s => status_label(s).to_string(),
    };
    let fixed = i.fixed_at.map(|t| {
        view! {
            <span class="tag tag-acked" data-testid="inspection-fixed">
                {format!("{} {}", tr("已修复", "fixed"), hm(t, offset))}
            </span>
        }
    });
    view! {
        <tr data-testid="inspection-item" data-device-id=i.device_id.clone() data-status=key class=format!("ins-{key}")>
            <td>
                {if i.device_name.is_empty() { i.device_id.clone() } else { i.device_name.clone() }}
                {i.under_maintenance.then(|| view! { <span class="tag tag-maint">{tr("维护中", "maintenance")}</span> })}
            </td>
            <td class="muted">{i.location.clone()}</td>
            <td>
                <span class=format!("ins-status ins-status-{key}")>{status}</span>
                " "
                {fixed}
            </td>
        </tr>
    }
}

#[component]
fn SignForm(id: u64, on_signed: impl Fn() + Copy + Send + Sync + 'static) -> impl IntoView {
    let name = RwSignal::new(remembered_name());
    let notes = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let submit = move |ev: leptos::ev::SubmitEvent| {
        ev.prevent_default();
        let by = name.get_untracked().trim().to_string();
        if by.is_empty() {
            error.set(Some(tr("请填写姓名", "Enter your name").into()));
            return;
        }
        remember_name(&by);
        busy.set(true);
        error.set(None);
        let body = SignRequest {
            by,
            notes: notes.get_untracked().trim().to_string(),
        };
        spawn_local(async move {
            match api::post::<_, InspectionView>(&format!("/inspections/{id}/sign"), &body).await {
                Ok(_) => on_signed(),
                Err(e) if e.status == 409 => {
                    error.set(Some(tr("此记录已有人签字", "Already signed").into()));
                    on_signed();
                }
                Err(e) => error.set(Some(explain(&e))),
            }
            busy.set(false);
        });
    };
    view! {
        <form class="ack-form inspection-sign" data-testid="inspection-sign" on:submit=submit>
            <input
                type="text"
                data-testid="inspection-sign-by"
                placeholder=tr("签字人", "signed by")
                prop:value=move || name.get()
                on:input=move |ev| name.set(event_target_value(&ev))
            />
            <input
                type="text"
                data-testid="inspection-sign-notes"
                placeholder=tr("备注", "notes")
                prop:value=move || notes.get()
                on:input=move |ev| notes.set(event_target_value(&ev))
            />
            <button class="btn btn-small btn-primary" type="submit" disabled=move || busy.get()>
                {tr("签字确认", "Sign off")}
            </button>
            {move || error.get().map(|e| view! { <div class="form-error">{e}</div> })}
        </form>
    }
}
