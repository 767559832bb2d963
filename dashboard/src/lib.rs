//! HallWatch dashboard: a Leptos client-side app served by the gateway.
//!
//! Three views share one live store fed by the gateway's WebSocket: `/wall` (the hall's TV), `/duty` (the duty
//! leader) and `/it` (the IT centre). The path picks the view; every view is a full page load, so a TV that is
//! simply pointed at `/wall` needs nothing else.

pub mod api;
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Home,
    Wall,
    Duty,
    It,
    /// `/it/device/{id}`, the id percent-decoded.
    Device(String),
    NotFound,
}

impl Route {
    pub fn from_path(path: &str) -> Route {
        match path.trim_end_matches('/') {
            "" | "/index.html" => Route::Home,
            "/wall" => Route::Wall,
            "/duty" => Route::Duty,
            "/it" => Route::It,
            p => match p.strip_prefix("/it/device/") {
                Some(id) if !id.is_empty() && !id.contains('/') => {
                    Route::Device(percent_decode(id))
                }
                _ => Route::NotFound,
            },
        }
    }
}

/// Decodes `%XX` escapes (UTF-8); a malformed escape is kept as it is.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
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
        Route::Device(id) => {
            views::device::DevicePage(views::device::DevicePageProps { id }).into_any()
        }
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
        assert_eq!(
            Route::from_path("/it/device/pc%2Fw01%2B%23"),
            Route::Device("pc/w01+#".into())
        );
        assert_eq!(
            Route::from_path("/it/device/%E8%87%AA%E5%8A%A9%E6%9C%BA%20A"),
            Route::Device("自助机 A".into())
        );
        assert_eq!(Route::from_path("/it/device/"), Route::NotFound);
        assert_eq!(percent_decode("50%"), "50%");
    }
}
