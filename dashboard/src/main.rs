//! Entry point of the dashboard's wasm module: mounts the app on the page.

fn main() {
    hall_dashboard::mount();
}
