//! The real tray icon, built from [`crate::tray_model`] and rebuilt only
//! when the model's entries change (checked every two seconds), so a busy
//! gateway causes no rebuild storm.

use std::sync::Mutex;
use std::time::Duration;

use switchyard_api_types::UpdateState;
use tauri::image::Image;
use tauri::menu::{CheckMenuItem, IsMenuItem, Menu, MenuItem, PredefinedMenuItem, Submenu};
use tauri::tray::{TrayIcon, TrayIconBuilder};
use tauri::{AppHandle, Emitter, Listener, Manager, Runtime};
use tauri_plugin_autostart::ManagerExt as _;
use tauri_plugin_clipboard_manager::ClipboardExt;

use crate::notices;
use crate::state::DesktopState;
use crate::tray_model::{
    TrayAction, TrayEntry, TrayLook, TraySnapshot, tooltip, tray_entries, tray_look, with_badge,
};
use crate::updates::{self, Updates};

/// How often the tray compares its model with the app's state.
const REFRESH_EVERY: Duration = Duration::from_secs(2);

/// The tray icon and the entries and look it currently shows.
pub(crate) struct TrayState<R: Runtime> {
    icon: TrayIcon<R>,
    shown: Mutex<(Vec<TrayEntry>, TrayLook)>,
}

/// The tray snapshot of the app right now.
pub(crate) fn snapshot<R: Runtime>(app: &AppHandle<R>) -> TraySnapshot {
    let launch_at_login = app.autolaunch().is_enabled().ok();
    let mut snapshot = app.state::<DesktopState>().tray_snapshot(launch_at_login);
    if let Some(updates) = app.try_state::<Updates>() {
        match updates.status().state {
            UpdateState::Available { version, .. } => snapshot.update_available = Some(version),
            UpdateState::Checking => snapshot.update_note = Some("Checking for updates…".into()),
            UpdateState::Downloading { version, percent } => {
                snapshot.update_note = Some(match percent {
                    Some(percent) => format!("Downloading update {version}: {percent}%"),
                    None => format!("Downloading update {version}…"),
                });
            }
            UpdateState::Installed { version } => {
                snapshot.update_note = Some(format!("Restarting into {version}…"));
            }
            UpdateState::Idle | UpdateState::UpToDate | UpdateState::Failed { .. } => {}
        }
    }
    snapshot
}

/// The app icon as the tray shows it in this `look`.
fn icon_for<R: Runtime>(app: &AppHandle<R>, look: TrayLook) -> Option<Image<'static>> {
    let base = app.default_window_icon()?;
    let rgba = match look.badge() {
        Some(color) => with_badge(base.rgba(), base.width(), color),
        None => base.rgba().to_vec(),
    };
    Some(Image::new_owned(rgba, base.width(), base.height()))
}

/// Creates the tray icon (kept up to date by [`watch`]).
pub(crate) fn create<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<()> {
    let current = snapshot(app);
    let entries = tray_entries(&current);
    let look = tray_look(&current);
    let menu = build_menu(app, &entries)?;
    let mut builder = TrayIconBuilder::with_id("main")
        .tooltip(tooltip(&current))
        .menu(&menu)
        .on_menu_event(|app, event| {
            if let Some(action) = TrayAction::from_id(event.id().as_ref()) {
                perform(app, action);
            }
        });
    if let Some(icon) = icon_for(app, look) {
        builder = builder.icon(icon);
    }
    let icon = builder.build(app)?;
    app.manage(TrayState {
        icon,
        shown: Mutex::new((entries, look)),
    });
    Ok(())
}

/// What the app showed last, to notice changes (kept with or without a tray).
#[derive(Default)]
pub(crate) struct LastSnapshot(Mutex<Option<TraySnapshot>>);

/// Compares the app's state with what it showed every two seconds: on a
/// change, notifies, tells the dashboard (`state-changed`) and rebuilds
/// the tray menu if there is a tray.
pub(crate) fn watch<R: Runtime>(app: &AppHandle<R>) {
    app.manage(LastSnapshot::default());
    // An update's progress shows at once, not at the next check.
    let listener = app.clone();
    app.listen_any("update-status", move |_| refresh(&listener));
    let handle = app.clone();
    tauri::async_runtime::spawn(async move {
        loop {
            tokio::time::sleep(REFRESH_EVERY).await;
            refresh(&handle);
        }
    });
}

/// Rebuilds the menu if the state changed what it shows, and raises the
/// notifications the change calls for.
pub(crate) fn refresh<R: Runtime>(app: &AppHandle<R>) {
    let current = snapshot(app);
    if let Some(last) = app.try_state::<LastSnapshot>() {
        let previous = lock(&last.0).replace(current.clone());
        if previous.as_ref() != Some(&current) {
            let _ = app.emit("state-changed", ());
            if let Some(previous) = previous {
                notices::on_change(app, &previous, &current);
            }
        }
    }
    let Some(tray) = app.try_state::<TrayState<R>>() else {
        return;
    };
    let entries = tray_entries(&current);
    let look = tray_look(&current);
    let mut shown = lock(&tray.shown);
    if shown.1 != look {
        let _ = tray.icon.set_icon(icon_for(app, look));
        shown.1 = look;
    }
    if shown.0 == entries {
        return;
    }
    match build_menu(app, &entries) {
        Ok(menu) => {
            let _ = tray.icon.set_menu(Some(menu));
            let _ = tray.icon.set_tooltip(Some(tooltip(&current)));
            shown.0 = entries;
        }
        Err(error) => tracing::warn!(%error, "cannot rebuild the tray menu"),
    }
}

fn build_menu<R: Runtime>(app: &AppHandle<R>, entries: &[TrayEntry]) -> tauri::Result<Menu<R>> {
    let menu = Menu::new(app)?;
    for item in build_items(app, entries)? {
        menu.append(item.as_ref())?;
    }
    Ok(menu)
}

fn build_items<R: Runtime>(
    app: &AppHandle<R>,
    entries: &[TrayEntry],
) -> tauri::Result<Vec<Box<dyn IsMenuItem<R>>>> {
    let mut items: Vec<Box<dyn IsMenuItem<R>>> = Vec::new();
    for entry in entries {
        match entry {
            TrayEntry::Label(text) => {
                items.push(Box::new(MenuItem::new(app, text, false, None::<&str>)?));
            }
            TrayEntry::Item { action, label } => {
                items.push(Box::new(MenuItem::with_id(
                    app,
                    action.id(),
                    label,
                    true,
                    None::<&str>,
                )?));
            }
            TrayEntry::Check {
                action,
                label,
                checked,
            } => {
                items.push(Box::new(CheckMenuItem::with_id(
                    app,
                    action.id(),
                    label,
                    true,
                    *checked,
                    None::<&str>,
                )?));
            }
            TrayEntry::Submenu { label, entries } => {
                let children = build_items(app, entries)?;
                let refs: Vec<&dyn IsMenuItem<R>> = children.iter().map(AsRef::as_ref).collect();
                items.push(Box::new(Submenu::with_items(app, label, true, &refs)?));
            }
            TrayEntry::Separator => items.push(Box::new(PredefinedMenuItem::separator(app)?)),
        }
    }
    Ok(items)
}

/// Carries out a tray action.
pub(crate) fn perform<R: Runtime>(app: &AppHandle<R>, action: TrayAction) {
    let state = app.state::<DesktopState>();
    match action {
        TrayAction::OpenDashboard => show_dashboard(app),
        TrayAction::CopyEndpointUrl => {
            if let Err(error) = app.clipboard().write_text(state.endpoint_url()) {
                tracing::warn!(%error, "cannot copy the endpoint URL");
            }
        }
        TrayAction::CopyApiKey => {
            let copied = state
                .with_store(|store| switchyard_manage::views::copyable_api_key(store, None))
                .map_err(|error| error.message)
                .and_then(|key| {
                    app.clipboard()
                        .write_text(key)
                        .map_err(|error| error.to_string())
                });
            if let Err(error) = copied {
                tracing::warn!(%error, "cannot copy an API key");
            }
        }
        TrayAction::CheckForUpdates => {
            let handle = app.clone();
            tauri::async_runtime::spawn(async move {
                updates::check(&handle).await;
            });
        }
        TrayAction::InstallUpdate => {
            let handle = app.clone();
            tauri::async_runtime::spawn(async move {
                let _ = updates::install(&handle).await;
            });
        }
        TrayAction::DefaultCombo(index) => {
            let current = snapshot(app);
            if let Some(combo) = current.combos.get(index)
                && let Err(error) = state.toggle_default_combo(combo)
            {
                tracing::warn!(%error, "cannot change the default combo");
            }
            refresh(app);
        }
        TrayAction::ToggleAccount(id) => {
            if let Err(error) = state.toggle_account(id) {
                tracing::warn!(%error, "cannot switch the account");
            }
            refresh(app);
        }
        TrayAction::PauseResume => {
            let handle = app.clone();
            tauri::async_runtime::spawn(async move {
                handle.state::<DesktopState>().pause_or_resume().await;
                refresh(&handle);
            });
        }
        TrayAction::ToggleLaunchAtLogin => {
            let autolaunch = app.autolaunch();
            let result = match autolaunch.is_enabled() {
                Ok(true) => autolaunch.disable(),
                Ok(false) => autolaunch.enable(),
                Err(error) => Err(error),
            };
            if let Err(error) = result {
                tracing::warn!(%error, "cannot change launch at login");
            }
            refresh(app);
        }
        TrayAction::Quit => app.exit(0),
    }
}

/// Shows, un-minimises and focuses the dashboard window, creating it again
/// (from `tauri.conf.json`) if it was dropped when hidden.
pub(crate) fn show_dashboard<R: Runtime>(app: &AppHandle<R>) {
    let window = match app.get_webview_window("main") {
        Some(window) => window,
        None => {
            let Some(config) = app.config().app.windows.first() else {
                return;
            };
            match tauri::WebviewWindowBuilder::from_config(app, config).and_then(|b| b.build()) {
                Ok(window) => window,
                Err(error) => {
                    tracing::warn!(%error, "cannot open the dashboard window");
                    return;
                }
            }
        }
    };
    let _ = window.show();
    let _ = window.unminimize();
    let _ = window.set_focus();
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
