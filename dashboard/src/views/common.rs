//! Pieces shared by the views: the store accessor, the connection banner, the hall clock and the nav bar.

use hall_protocol::api::DeviceState;
use leptos::prelude::*;

use crate::format;
use crate::i18n;
use crate::store::{LinkState, Store};

/// The live store provided by the app.
pub fn use_store() -> Store {
    expect_context::<Store>()
}

/// A banner shown whenever the live link is down. It never needs a click: it goes away when the link is back.
#[component]
pub fn ConnBanner() -> impl IntoView {
    let store = use_store();
    view! {
        <Show when=move || !store.connected()>
            <div class="conn-banner" data-testid="conn-banner" role="status">
                <span class="conn-spinner"></span>
                {move || match store.link.get() {
                    LinkState::Connecting => i18n::t().connecting,
                    _ => i18n::t().reconnecting,
                }}
            </div>
        </Show>
    }
}

/// The hall's date, time and phase, from the gateway's clock (never the browser's).
#[component]
pub fn HallClockView(#[prop(optional)] large: bool) -> impl IntoView {
    let store = use_store();
    let now = Memo::new(move |_| store.hall_now());
    let phase = Memo::new(move |_| store.clock.with(|c| c.as_ref().map(|c| c.clock.phase)));
    view! {
        <div class="hall-clock" class:hall-clock-large=large data-testid="hall-clock">
            <span class="clock-date">
                {move || now.get().map(|t| format::date_long(&t)).unwrap_or_default()}
            </span>
            <span class="clock-time">
                {move || now.get().map(|t| format::hms(&t)).unwrap_or_else(|| "--:--:--".into())}
            </span>
            {move || {
                phase
                    .get()
                    .map(|p| {
                        view! {
                            <span class=format!("phase phase-{}", format::phase_key(p))>
                                {i18n::phase(p)}
                            </span>
                        }
                    })
            }}
        </div>
    }
}

/// A coloured badge for a device state.
#[component]
pub fn StateBadge(#[prop(into)] state: Signal<DeviceState>) -> impl IntoView {
    view! {
        <span class=move || {
            format!("badge badge-{}", state.get().as_str())
        }>{move || i18n::device_state(state.get())}</span>
    }
}

/// The top bar of the office views (`/it`, `/duty`, `/`); the wall has none.
#[component]
pub fn NavBar(active: &'static str) -> impl IntoView {
    let store = use_store();
    let t = i18n::t();
    let link = move |href: &'static str, label: &'static str| {
        view! {
            <a href=href class="nav-link" class:active=move || active == href>
                {label}
            </a>
        }
    };
    view! {
        <nav class="navbar">
            <a class="brand" href="/">
                <span class="brand-mark">"HW"</span>
                <span class="brand-name">{t.product}</span>
            </a>
            <span class="nav-hall">{move || store.hall_name.get()}</span>
            <div class="nav-links">
                {link("/wall", t.nav_wall)} {link("/duty", t.nav_duty)} {link("/it", t.nav_it)}
            </div>
            <div class="nav-right">
                <span class="link-dot" class:up=move || store.connected()></span>
                <HallClockView />
            </div>
        </nav>
        <ConnBanner />
    }
}

/// The name the operator last typed into a form on this browser, so that acknowledgements and register entries
/// need it only once.
pub fn remembered_name() -> String {
    window()
        .local_storage()
        .ok()
        .flatten()
        .and_then(|s| s.get_item("hallwatch.operator").ok().flatten())
        .unwrap_or_default()
}

pub fn remember_name(name: &str) {
    if let Some(s) = window().local_storage().ok().flatten() {
        let _ = s.set_item("hallwatch.operator", name.trim());
    }
}

/// The CSS key of a severity.
pub fn severity_key(s: hall_protocol::payload::Severity) -> &'static str {
    use hall_protocol::payload::Severity;
    match s {
        Severity::Info => "info",
        Severity::Warning => "warning",
        Severity::Critical => "critical",
    }
}

/// Sort rank of a severity: critical first.
pub fn severity_rank(s: hall_protocol::payload::Severity) -> u8 {
    use hall_protocol::payload::Severity;
    match s {
        Severity::Critical => 0,
        Severity::Warning => 1,
        Severity::Info => 2,
    }
}
