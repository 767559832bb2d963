//! `/`: links to the three views.

use leptos::prelude::*;

use crate::i18n;
use crate::views::common::NavBar;

#[component]
pub fn HomeView() -> impl IntoView {
    let t = i18n::t();
    let card = move |href: &'static str, title: &'static str, text: &'static str| {
        view! {
            <a class="home-card" href=href>
                <span class="home-card-title">{title}</span>
                <span class="home-card-text">{text}</span>
                <span class="home-card-path">{href}</span>
            </a>
        }
    };
    view! {
        <NavBar active="/" />
        <main class="page home">
            <h1>{t.home_intro}</h1>
            <div class="home-cards">
                {card("/wall", t.nav_wall, t.home_wall)} {card("/duty", t.nav_duty, t.home_duty)}
                {card("/it", t.nav_it, t.home_it)}
            </div>
        </main>
    }
}

#[component]
pub fn NotFoundView() -> impl IntoView {
    let t = i18n::t();
    view! {
        <NavBar active="" />
        <main class="page home">
            <h1>{t.not_found}</h1>
            <p>
                <a href="/">{t.home_intro}</a>
            </p>
        </main>
    }
}
