//! The Switchyard desktop app: a Tauri shell that runs the gateway as a tokio
//! task in-process, shows the Leptos dashboard in a window, and lives in the
//! system tray. Closing the window hides it (dropping the webview unless
//! `keep_window_loaded` is set); Quit in the tray drains open requests and
//! leaves; updates are signed and installed on the user's word. One instance only: a second launch focuses the first
//! and hands it its `switchyard://` links.

#[cfg(test)]
mod command_list;
mod commands;
pub mod deep_link;
mod notices;
mod state;
mod tray;
pub mod tray_model;
mod updates;

use tauri::{AppHandle, Emitter, Manager, RunEvent, Runtime, WindowEvent};
use tauri_plugin_autostart::MacosLauncher;
use tauri_plugin_deep_link::DeepLinkExt;

use crate::deep_link::DeepLink;
use crate::state::{DesktopState, Notice};
use switchyard_api_types::LinkView;

/// Argument the login item starts the app with: no window, only the tray.
const START_HIDDEN: &str = "--hidden";

/// Digest of the embedded dashboard (from `build.rs`): using it here makes a
/// new dashboard rebuild this crate, and the log says which one runs.
const UI_DIGEST: &str = env!("SWITCHYARD_UI_DIGEST");

/// Builds and runs the app until the user quits.
pub fn run() {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("SWITCHYARD_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    tracing::debug!(dashboard = UI_DIGEST, "starting");

    let app = tauri::Builder::default()
        // First, so a second launch is handed over before anything starts.
        .plugin(tauri_plugin_single_instance::init(|app, _argv, _cwd| {
            tray::show_dashboard(app);
        }))
        .plugin(tauri_plugin_deep_link::init())
        .plugin(tauri_plugin_autostart::init(
            MacosLauncher::LaunchAgent,
            Some(vec![START_HIDDEN]),
        ))
        .plugin(tauri_plugin_notification::init())
        .plugin(tauri_plugin_clipboard_manager::init())
        .plugin(tauri_plugin_opener::init())
        .plugin(tauri_plugin_updater::Builder::new().build())
        .invoke_handler(tauri::generate_handler![
            commands::manage,
            commands::save_file,
            commands::open_url,
            commands::copy_api_key,
            commands::copy_text,
            commands::update_status,
            commands::check_for_updates,
            commands::install_update,
            commands::tray_preview,
            commands::take_deep_links,
            commands::launch_at_login,
            commands::set_launch_at_login,
        ])
        .setup(|app| {
            app.manage(DesktopState::from_environment());
            // The window is made here, not from the configuration at start:
            // started at login (hidden), no webview is made at all unless the
            // user keeps it loaded, so the app sits in the tray without
            // WebKit's processes and libraries.
            let hidden = std::env::args().any(|arg| arg == START_HIDDEN);
            if !hidden {
                tray::show_dashboard(app.handle());
            } else if app.state::<DesktopState>().keep_window_loaded() {
                tray::show_dashboard(app.handle());
                if let Some(window) = app.get_webview_window("main") {
                    let _ = window.hide();
                }
            }
            // Without a StatusNotifier host (plain X sessions, CI) there is no
            // tray: the app still works through its window.
            if let Err(error) = tray::create(app.handle()) {
                tracing::warn!(%error, "no tray icon");
            }
            updates::watch(app.handle());
            tray::watch(app.handle());
            let handle = app.handle().clone();
            app.deep_link().on_open_url(move |event| {
                for url in event.urls() {
                    open_link(&handle, url.as_str());
                }
            });
            if let Ok(Some(urls)) = app.deep_link().get_current() {
                for url in urls {
                    open_link(app.handle(), url.as_str());
                }
            }
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move { forward_events(&handle).await });
            let handle = app.handle().clone();
            tauri::async_runtime::spawn(async move {
                handle.state::<DesktopState>().start_gateway().await;
                forward_recorded(&handle).await;
            });
            Ok(())
        })
        .on_window_event(|window, event| {
            // Closing hides to the tray. Unless the user keeps it loaded,
            // the webview is dropped to save memory; the tray, a second
            // launch or a link opens it again.
            if let WindowEvent::CloseRequested { api, .. } = event
                && window.state::<DesktopState>().keep_window_loaded()
            {
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

/// Emits the manager's events (logins finished, changes made, requests
/// recorded) as Tauri events of the same names.
async fn forward_events<R: Runtime>(app: &AppHandle<R>) {
    use tokio::sync::broadcast::error::RecvError;
    let mut events = app.state::<DesktopState>().manager().subscribe();
    loop {
        match events.recv().await {
            Ok(event) => {
                let _ = app.emit(&event.name, event.payload);
            }
            Err(RecvError::Lagged(_)) => {}
            Err(RecvError::Closed) => return,
        }
    }
}

/// Publishes `requests-recorded` (the running count) each time the gateway
/// stores finished requests, so the dashboard's log is live; follows the
/// gateway through pauses and restarts.
async fn forward_recorded<R: Runtime>(app: &AppHandle<R>) {
    loop {
        let state = app.state::<DesktopState>();
        if let Some(mut recorded) = state.recorded() {
            while recorded.changed().await.is_ok() {
                let count = *recorded.borrow_and_update();
                state.manager().publish("requests-recorded", count);
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

/// Validates a `switchyard://` link and hands it to the dashboard, or
/// refuses it with a visible message. Nothing is acted on without the UI.
fn open_link<R: Runtime>(app: &AppHandle<R>, link: &str) {
    let table = switchyard_providers::ProviderTable::builtin();
    let services: Vec<&str> = table
        .subscriptions()
        .map(|subscription| subscription.service.id)
        .collect();
    match DeepLink::parse(link, &services) {
        Ok(parsed) => {
            let payload = match parsed {
                DeepLink::OAuthCallback { code, state } => {
                    // The waiting login checks the state; nothing else sees the code.
                    let delivered = app
                        .state::<DesktopState>()
                        .deliver_login_callback(&code, &state);
                    if !delivered {
                        notices::notify(
                            app,
                            Notice::RefusedLink,
                            "Switchyard refused a link",
                            "a login callback arrived while no login was waiting",
                        );
                    }
                    LinkView::OauthCallback { delivered }
                }
                DeepLink::ForDashboard(link) => link,
            };
            // Queued until the dashboard takes it (it may be opening), so
            // each link is handled exactly once.
            app.state::<DesktopState>().queue_link(payload);
            tray::show_dashboard(app);
            let _ = app.emit("deep-link", ());
        }
        Err(refused) => {
            tracing::warn!(%refused, "deep link refused");
            notices::notify(
                app,
                Notice::RefusedLink,
                "Switchyard refused a link",
                &refused.0,
            );
            app.state::<DesktopState>()
                .queue_link(LinkView::Refused { message: refused.0 });
            tray::show_dashboard(app);
            let _ = app.emit("deep-link", ());
        }
    }
}

#[cfg(test)]
mod tests {
    /// The window's capability grants exactly the app's commands.
    #[test]
    fn the_capability_grants_every_command_and_nothing_else() {
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../tauri.conf.json")).unwrap();
        let granted: Vec<String> = config["app"]["security"]["capabilities"][0]["permissions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p.as_str().unwrap().to_owned())
            .filter(|p| !p.starts_with("core:"))
            .collect();
        let expected: Vec<String> = crate::command_list::COMMANDS
            .iter()
            .map(|command| format!("allow-{}", command.replace('_', "-")))
            .collect();
        assert_eq!(granted, expected);
    }
}
