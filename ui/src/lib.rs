//! Switchyard's dashboard: a Leptos client-side app, compiled to wasm32 and
//! shown in the desktop window. It talks to the app only through Tauri
//! commands (see [`api`]); it never calls the gateway's HTTP port.

#![expect(
    unreachable_pub,
    reason = "Leptos' #[component] macro gives its generated items wider visibility than the component"
)]

pub mod api;
mod app;
mod links;
mod pages;

use wasm_bindgen::prelude::wasm_bindgen;

/// Mounts the app; wasm-bindgen calls this when the module loads.
#[wasm_bindgen(start)]
pub fn start() {
    console_error_panic_hook::set_once();
    leptos::mount::mount_to_body(app::App);
    // How long after the page started loading the app was mounted and
    // interactive, for the e2e run to report (`data-ready-ms` on <html>).
    if let Some(root) = leptos::prelude::document().document_element() {
        let ready = leptos::prelude::window()
            .performance()
            .map(|performance| performance.now())
            .unwrap_or_default();
        let _ = root.set_attribute("data-ready-ms", &format!("{ready:.0}"));
    }
}
