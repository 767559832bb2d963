//! `/wall`: the hall's TV. Full screen, dark, readable from five metres, never needs a click.
//!
//! The tile grid sizes itself to the number of windows so that 20 or 500 windows fit without scrolling; the text
//! inside a tile scales with the tile (CSS container units).

use hall_protocol::api::{QueueView, SatisfactionView, WindowState, WindowView};
use leptos::prelude::*;

use crate::format;
use crate::i18n::{self, tr};
use crate::views::common::{ConnBanner, HallClockView, use_store};

/// Preferred width:height of a tile.
const TILE_ASPECT: f64 = 1.35;
const TILE_GAP_PX: f64 = 14.0;
/// Room the header, the side panel and the paddings take on the screen.
const RESERVED_WIDTH_PX: f64 = 480.0;
const RESERVED_HEIGHT_PX: f64 = 150.0;

/// Picks the number of columns that gives the largest tiles for `n` windows in a `width` x `height` area.
pub fn grid_columns(n: usize, width: f64, height: f64) -> usize {
    if n == 0 {
        return 1;
    }
    let mut best = (1, f64::MIN);
    for cols in 1..=n {
        let rows = n.div_ceil(cols);
        let w = (width - TILE_GAP_PX * (cols as f64 - 1.0)) / cols as f64;
        let h = (height - TILE_GAP_PX * (rows as f64 - 1.0)) / rows as f64;
        let score = w.min(h * TILE_ASPECT);
        if score > best.1 {
            best = (cols, score);
        }
    }
    best.0
}

#[component]
pub fn WallView() -> impl IntoView {
    let store = use_store();
    let t = i18n::t();

    let sorted_windows = move || {
        store.windows.with(|m| {
            let mut v: Vec<_> = m.iter().map(|(id, s)| (id.clone(), s.clone())).collect();
            v.sort_by_key(|(id, s)| (s.with_untracked(|w| w.number), id.clone()));
            v
        })
    };
    let n_windows = Memo::new(move |_| store.windows.with(|m| m.len()));
    // Follows the screen size, e.g. when a kiosk browser goes full screen after the page loaded.
    let screen = RwSignal::new(viewport());
    let resize = window_event_listener(leptos::ev::resize, move |_| screen.set(viewport()));
    on_cleanup(move || resize.remove());
    let grid_style = move || {
        let n = n_windows.get().max(1);
        let (vw, vh) = screen.get();
        let cols = grid_columns(n, vw - RESERVED_WIDTH_PX, vh - RESERVED_HEIGHT_PX);
        let rows = n.div_ceil(cols);
        format!("--cols:{cols};--rows:{rows}")
    };

    view! {
        <div class="wall" class:wall-offline=move || !store.connected()>
            <header class="wall-head">
                <div class="wall-title">
                    <span class="wall-hall">
                        {move || {
                            let name = store.hall_name.get();
                            if name.is_empty() { t.product.to_string() } else { name }
                        }}
                    </span>
                    <span class="wall-sub">{t.wall_subtitle}</span>
                </div>
                <HallClockView large=true />
            </header>
            <ConnBanner />
            <div class="wall-body">
                <section class="tiles" style=grid_style>
                    <Show when=move || { n_windows.get() == 0 }>
                        <div class="wall-waiting">{t.waiting_for_data}</div>
                    </Show>
                    <For
                        each=sorted_windows
                        key=|(id, _)| id.clone()
                        children=move |(_, w)| view! { <WindowTile w=w /> }
                    />
                </section>
                <aside class="wall-side">
                    <SatisfactionPanel />
                    <QueuePanel />
                    <StaffingPanel />
                </aside>
            </div>
        </div>
    }
}

fn viewport() -> (f64, f64) {
    let w = window();
    let width = w
        .inner_width()
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(1920.0);
    let height = w
        .inner_height()
        .ok()
        .and_then(|v| v.as_f64())
        .unwrap_or(1080.0);
    (width, height)
}

#[component]
fn WindowTile(w: ArcRwSignal<WindowView>) -> impl IntoView {
    let store = use_store();
    let t = i18n::t();
    let id = w.with_untracked(|w| w.id.clone());
    let state = {
        let w = w.clone();
        Memo::new(move |_| w.with(|w| w.state))
    };
    let number = {
        let w = w.clone();
        move || w.with(|w| w.number)
    };
    // The window's service types by name (from the queue KPIs), or its unit while those are unknown.
    let services = {
        let w = w.clone();
        move || {
            let (ids, unit) = w.with(|w| (w.services.clone(), w.unit_name.clone()));
            let names: Vec<String> = store.queues.with(|q| {
                ids.iter()
                    .map(|id| q.get(id).map_or_else(|| id.clone(), |q| q.name.clone()))
                    .collect()
            });
            if names.is_empty() || store.queues.with(|q| q.is_empty()) {
                unit
            } else {
                names.join(" · ")
            }
        }
    };
    let person = {
        let w = w.clone();
        move || {
            w.with(|w| match (&w.staff, w.state) {
                (_, WindowState::Closed) => String::new(),
                (Some(s), _) => s.name.clone(),
                (None, _) => t.unstaffed.to_string(),
            })
        }
    };
    let footer = {
        let w = w.clone();
        move || {
            let (state, since, ticket, reason) = w.with(|w| {
                (
                    w.state,
                    w.since,
                    w.current_ticket.clone(),
                    w.away_reason.clone(),
                )
            });
            match state {
                WindowState::AwayReported | WindowState::Empty => {
                    let label = if state == WindowState::Empty {
                        t.empty_for
                    } else {
                        t.away_for
                    };
                    let timer = since
                        .and_then(|s| store.secs_since(s))
                        .map(format::duration)
                        .unwrap_or_default();
                    let reason = reason.filter(|r| !r.is_empty());
                    view! {
                        <span class="tile-timer">
                            <span class="tile-timer-label">{label}</span>
                            <span class="tile-timer-value">{timer}</span>
                        </span>
                        <span class="tile-reason">{reason}</span>
                    }
                    .into_any()
                }
                WindowState::Closed => view! { <span></span> }.into_any(),
                _ => view! {
                    <span class="tile-ticket">
                        <span class="tile-ticket-label">{t.ticket}</span>
                        <span class="tile-ticket-value" class:none=ticket.is_none() data-testid="tile-ticket">
                            {ticket.clone().unwrap_or_else(|| t.no_ticket.to_string())}
                        </span>
                    </span>
                }
                .into_any(),
            }
        }
    };
    view! {
        <div
            class=move || format!("tile st-{}", format::window_state_key(state.get()))
            data-testid="window-tile"
            data-window-id=id
            data-state=move || format::window_state_key(state.get())
        >
            <div class="tile-inner">
                <div class="tile-top">
                    <span class="tile-num">{number}</span>
                    <span class="tile-state">{move || i18n::window_state(state.get())}</span>
                </div>
                <div class="tile-unit" data-testid="tile-services">{services}</div>
                <div class="tile-person">
                    <span class="tile-person-name">{person}</span>
                </div>
                <div class="tile-foot">{footer}</div>
            </div>
        </div>
    }
}

/// Window staffing at a glance, and today's work: one slim line.
#[component]
fn StaffingPanel() -> impl IntoView {
    let store = use_store();
    let t = i18n::t();
    let counts = Memo::new(move |_| {
        store.windows.with(|m| {
            let mut c = [0usize; 6];
            let mut served = 0u64;
            for w in m.values() {
                w.with(|w| {
                    c[window_state_idx(w.state)] += 1;
                    served += u64::from(w.served_today);
                });
            }
            (c, served)
        })
    });
    let cell = move |state: WindowState| {
        view! {
            <div class=format!("stat stat-w-{}", format::window_state_key(state))>
                <span class="stat-value">{move || counts.get().0[window_state_idx(state)]}</span>
                <span class="stat-label">{i18n::window_state(state)}</span>
            </div>
        }
    };
    view! {
        <section class="panel panel-staffing">
            <h2 class="panel-title">
                {t.staffing} <span class="panel-count">{move || n_staffed(&counts.get().0)}" / "
                    {move || counts.get().0.iter().sum::<usize>()}
                </span>
            </h2>
            <div class="stats stats-4">
                {cell(WindowState::StaffedA)} {cell(WindowState::CoveredB)}
                {cell(WindowState::AwayReported)} {cell(WindowState::Empty)}
            </div>
        </section>
    }
}

fn window_state_idx(state: WindowState) -> usize {
    match state {
        WindowState::StaffedA => 0,
        WindowState::CoveredB => 1,
        WindowState::CoveredOther => 2,
        WindowState::AwayReported => 3,
        WindowState::Empty => 4,
        WindowState::Closed => 5,
    }
}

fn n_staffed(c: &[usize; 6]) -> usize {
    c[0] + c[1] + c[2]
}

/// Today's satisfaction (RAT-1): the share of the top two levels, with the counts.
#[component]
fn SatisfactionPanel() -> impl IntoView {
    let store = use_store();
    let sat = Memo::new(move |_| store.satisfaction.get());
    let served = Memo::new(move |_| {
        store.windows.with(|m| {
            m.values()
                .map(|w| w.with(|w| u64::from(w.served_today)))
                .sum::<u64>()
        })
    });
    let pct = move || {
        sat.with(|s| match s {
            Some(s) if s.ratings_today > 0 => {
                format::pct(f64::from(s.satisfied_today) * 100.0 / f64::from(s.ratings_today))
            }
            _ => "—".to_string(),
        })
    };
    let count =
        move |f: fn(&SatisfactionView) -> u32| move || sat.with(|s| s.as_ref().map(f).unwrap_or(0));
    view! {
        <section class="panel panel-sat" data-testid="satisfaction">
            <div class="sat-main">
                <span class="sat-label">{tr("今日满意率", "Satisfaction today")}</span>
                <span class="sat-pct" class:none=move || sat.with(|s| s.as_ref().is_none_or(|s| s.ratings_today == 0)) data-testid="satisfaction-pct">{pct}</span>
            </div>
            <div class="sat-counts">
                <span>{tr("评价", "Ratings")} <b>{count(|s| s.ratings_today)}</b></span>
                <span>{tr("满意", "Satisfied")} <b class="good">{count(|s| s.satisfied_today)}</b></span>
                <span>{tr("不满意", "Dissatisfied")} <b class="bad">{count(|s| s.bad_today)}</b></span>
                <span>{i18n::t().served_today} <b>{move || served.get()}</b></span>
            </div>
        </section>
    }
}

/// Per service type: the number waiting and the longest wait; over the service level in red.
#[component]
fn QueuePanel() -> impl IntoView {
    let store = use_store();
    let queues = move || {
        store
            .queues
            .with(|m| m.values().cloned().collect::<Vec<QueueView>>())
    };
    view! {
        <section class="panel panel-queues" data-testid="queues">
            <h2 class="panel-title">
                {tr("排队等候", "Waiting")}
                <span class="panel-count">
                    {move || store.queues.with(|m| m.values().map(|q| q.waiting).sum::<u32>())}
                    {tr(" 人", "")}
                </span>
            </h2>
            <div class="queue-head">
                <span>{tr("业务", "Service")}</span>
                <span>{tr("等候", "Waiting")}</span>
                <span>{tr("最长", "Longest")}</span>
            </div>
            <ul class="queue-list">
                <Show when=move || store.queues.with(|m| m.is_empty())>
                    <li class="problem-none">{tr("暂无排队数据", "No queue data yet")}</li>
                </Show>
                <For
                    each=queues
                    key=|q| serde_json::to_string(q).unwrap_or_default()
                    children=move |q| {
                        view! {
                            <li class="queue" class:over=q.over_service_level data-testid="queue" data-service=q.service.clone()>
                                <span class="queue-name">{q.name.clone()}</span>
                                <span class="queue-waiting">{q.waiting}</span>
                                <span class="queue-longest">{wait_mins(q.longest_wait_secs)}</span>
                            </li>
                        }
                    }
                />
            </ul>
        </section>
    }
}

/// A wait as whole minutes for the wall: `12分` / `12 min`, `<1分` under a minute.
pub fn wait_mins(secs: u64) -> String {
    let m = secs / 60;
    match (i18n::lang(), m) {
        (_, 0) if secs == 0 => "—".to_string(),
        (i18n::Lang::Zh, 0) => "<1分".to_string(),
        (i18n::Lang::En, 0) => "<1 min".to_string(),
        (i18n::Lang::Zh, m) => format!("{m}分"),
        (i18n::Lang::En, m) => format!("{m} min"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_columns_fill_the_area() {
        // 20 windows in a 16:10-ish area: 5 x 4.
        assert_eq!(grid_columns(20, 1440.0, 930.0), 5);
        // 60 windows: about 10 x 6.
        let c = grid_columns(60, 1440.0, 930.0);
        assert!((8..=11).contains(&c), "{c}");
        assert_eq!(grid_columns(1, 1440.0, 930.0), 1);
    }
}
