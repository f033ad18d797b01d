//! The Switchyard desktop app: a Tauri shell that runs the gateway as a tokio
//! task in-process, shows the Leptos dashboard in a window, and lives in the
//! system tray. Closing the window hides it; Quit in the tray leaves.

mod commands;
mod state;
pub mod tray;

use tauri::{Manager, RunEvent, WindowEvent};

use crate::state::DesktopState;

/// Builds and runs the app until the user quits.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHYARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();

    let app = tauri::Builder::default()
        .plugin(tauri_plugin_clipboard_manager::init())
        .invoke_handler(tauri::generate_handler![commands::get_overview])
        .setup(|app| {
            let state = DesktopState::from_environment();
            let endpoint_url = state.endpoint_url();
            app.manage(state);
            // Without a StatusNotifier host (plain X sessions, CI) there is no
            // tray: the app still works through its window.
            if let Err(error) = tray::create(app.handle(), &endpoint_url) {
                tracing::warn!(%error, "no tray icon");
            }
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                handle.state::<DesktopState>().start_gateway().await;
            });
            Ok(())
        })
        .on_window_event(|window, event| {
            if let WindowEvent::CloseRequested { api, .. } = event {
                api.prevent_close();
                let _ = window.hide();
            }
        })
        .build(tauri::generate_context!());
    let app = match app {
        Ok(app) => app,
        Err(error) => {
            eprintln!("Switchyard could not start its window: {error}");
            std::process::exit(1);
        }
    };
    app.run(|app, event| match event {
        // Keep running in the tray when no window is open; Quit passes a code.
        RunEvent::ExitRequested {
            api, code: None, ..
        } => api.prevent_exit(),
        RunEvent::Exit => {
            let state = app.state::<DesktopState>();
            tauri::async_runtime::block_on(state.stop_gateway());
        }
        _ => {}
    });
}
