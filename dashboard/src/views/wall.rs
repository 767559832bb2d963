//! `/wall`: the hall's TV. Full screen, dark, readable from five metres, never needs a click.
//!
//! The tile grid sizes itself to the number of windows so that 20 or 500 windows fit without scrolling; the text
//! inside a tile scales with the tile (CSS container units).

use hall_protocol::api::{DeviceState, DeviceView, WindowState, WindowView};
use leptos::prelude::*;

use crate::format;
use crate::i18n;
use crate::store::{StateCounts, state_rank};
use crate::views::common::{ConnBanner, HallClockView, use_store};

/// At most this many problem devices are listed by name; the rest are counted.
const MAX_LISTED_PROBLEMS: usize = 9;
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
                    <StaffingPanel />
                    <DevicePanel />
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
    let unit = {
        let w = w.clone();
        move || w.with(|w| w.unit_name.clone())
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
                        <span class="tile-ticket-value" class:none=ticket.is_none()>
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
                <div class="tile-unit">{unit}</div>
                <div class="tile-person">
                    <span class="tile-person-name">{person}</span>
                </div>
                <div class="tile-foot">{footer}</div>
            </div>
        </div>
    }
}

/// Window staffing at a glance, and today's work.
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
        <section class="panel">
            <h2 class="panel-title">
                {t.staffing} <span class="panel-count">{move || n_staffed(&counts.get().0)}" / "
                    {move || counts.get().0.iter().sum::<usize>()}
                </span>
            </h2>
            <div class="stats stats-3">
                {cell(WindowState::StaffedA)} {cell(WindowState::CoveredB)}
                {cell(WindowState::CoveredOther)} {cell(WindowState::AwayReported)}
                {cell(WindowState::Empty)} {cell(WindowState::Closed)}
            </div>
            <div class="served">
                <span class="served-label">{t.served_today}</span>
                <span class="served-value">{move || counts.get().1}</span>
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

/// Device health: counts by state and the devices that are offline or faulty.
#[component]
fn DevicePanel() -> impl IntoView {
    let store = use_store();
    let t = i18n::t();
    let counts = Memo::new(move |_| store.device_counts());
    let problems = Memo::new(move |_| {
        store.devices.with(|m| {
            let mut v: Vec<ProblemDevice> = m
                .values()
                .filter_map(|d| d.with(ProblemDevice::of))
                .collect();
            v.sort_by(|a, b| {
                (state_rank(a.state), &a.location, &a.name).cmp(&(
                    state_rank(b.state),
                    &b.location,
                    &b.name,
                ))
            });
            v
        })
    });
    let cell = move |state: DeviceState| {
        view! {
            <div
                class=format!("stat stat-d-{}", state.as_str())
                class:zero=move || counts.get().get(state) == 0
                data-testid="device-count"
                data-state=state.as_str()
            >
                <span class="stat-value">{move || counts.get().get(state)}</span>
                <span class="stat-label">{i18n::device_state(state)}</span>
            </div>
        }
    };
    view! {
        <section class="panel panel-devices">
            <h2 class="panel-title">
                {t.device_health} <span class="panel-count">
                    {move || counts.get().online}" / "{move || StateCounts::total(&counts.get())}
                </span>
            </h2>
            <div class="stats stats-5">
                {cell(DeviceState::Online)} {cell(DeviceState::Stale)}
                {cell(DeviceState::Offline)} {cell(DeviceState::Fault)}
                {cell(DeviceState::Unknown)}
            </div>
            <h3 class="panel-subtitle">{t.problem_devices}</h3>
            <ul class="problem-list">
                <Show when=move || {
                    problems.with(|p| p.is_empty()) && store.devices.with(|m| !m.is_empty())
                }>
                    <li class="problem-none">{t.no_problem_devices}</li>
                </Show>
                <For
                    each=move || {
                        problems.with(|p| p.iter().take(MAX_LISTED_PROBLEMS).cloned().collect::<Vec<_>>())
                    }
                    key=|p| p.id.clone()
                    children=move |p| {
                        view! {
                            <li class=format!("problem problem-{}", p.state.as_str())>
                                <span class="problem-dot"></span>
                                <span class="problem-name">{p.name}</span>
                                <span class="problem-where">{p.location}</span>
                                <span class="problem-state">{i18n::device_state(p.state)}</span>
                            </li>
                        }
                    }
                />
                {move || {
                    let n = problems.with(|p| p.len().saturating_sub(MAX_LISTED_PROBLEMS));
                    (n > 0)
                        .then(|| {
                            view! {
                                <li class="problem-more">
                                    {i18n::fill(t.more_devices, &[("n", n.to_string())])}
                                </li>
                            }
                        })
                }}
            </ul>
        </section>
    }
}

/// A device that the wall lists by name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ProblemDevice {
    id: String,
    name: String,
    location: String,
    state: DeviceState,
}

impl ProblemDevice {
    fn of(d: &DeviceView) -> Option<ProblemDevice> {
        let listed =
            matches!(d.state, DeviceState::Offline | DeviceState::Fault) && d.maintenance.is_none();
        listed.then(|| ProblemDevice {
            id: d.id.clone(),
            name: if d.name.is_empty() {
                d.id.clone()
            } else {
                d.name.clone()
            },
            location: d.location.clone(),
            state: d.state,
        })
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
