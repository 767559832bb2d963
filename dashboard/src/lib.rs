//! HallWatch dashboard: a Leptos client-side app served by the gateway.
//!
//! Three views share one live store fed by the gateway's WebSocket: `/wall` (the hall's TV), `/duty` (the duty
//! leader) and `/it` (the IT centre). The path picks the view; every view is a full page load, so a TV that is
//! simply pointed at `/wall` needs nothing else.

pub mod format;
pub mod i18n;
pub mod live;
pub mod store;
pub mod views;

use leptos::prelude::*;

use crate::store::Store;

/// Mounts the app on `<body>` and starts the live link.
pub fn mount() {
    console_error_panic_hook::set_once();
    mount_to_body(App);
}

/// Which view a path shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    Home,
    Wall,
    Duty,
    It,
    NotFound,
}

impl Route {
    pub fn from_path(path: &str) -> Route {
        match path.trim_end_matches('/') {
            "" | "/index.html" => Route::Home,
            "/wall" => Route::Wall,
            "/duty" => Route::Duty,
            "/it" => Route::It,
            _ => Route::NotFound,
        }
    }
}

#[component]
fn App() -> impl IntoView {
    let route = Route::from_path(&window().location().pathname().unwrap_or_default());
    let store = Store::new();
    provide_context(store);
    live::start(store);

    if let Some(body) = document().body() {
        let theme = if route == Route::Wall {
            "theme-wall"
        } else {
            "theme-office"
        };
        let _ = body.class_list().add_1(theme);
    }
    if i18n::lang() == i18n::Lang::En {
        if let Some(root) = document().document_element() {
            let _ = root.set_attribute("lang", "en");
        }
    }

    match route {
        Route::Wall => views::wall::WallView().into_any(),
        Route::It => views::it::ItView().into_any(),
        Route::Duty => views::duty::DutyView().into_any(),
        Route::Home => views::home::HomeView().into_any(),
        Route::NotFound => views::home::NotFoundView().into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(Route::from_path("/"), Route::Home);
        assert_eq!(Route::from_path("/wall"), Route::Wall);
        assert_eq!(Route::from_path("/wall/"), Route::Wall);
        assert_eq!(Route::from_path("/it"), Route::It);
        assert_eq!(Route::from_path("/duty"), Route::Duty);
        assert_eq!(Route::from_path("/nope"), Route::NotFound);
    }
}
