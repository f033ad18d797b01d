//! The tray icon and its menu. The menu is first described as plain data
//! ([`tray_entries`]), so it can be tested without a desktop session.

use tauri::menu::{Menu, MenuItem, PredefinedMenuItem};
use tauri::tray::TrayIconBuilder;
use tauri::{AppHandle, Manager, Runtime};
use tauri_plugin_clipboard_manager::ClipboardExt;

use crate::state::DesktopState;

/// What a tray menu item does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrayAction {
    /// Show and focus the dashboard window.
    OpenDashboard,
    /// Put the `/v1` endpoint URL on the clipboard.
    CopyEndpointUrl,
    /// Stop the gateway and leave.
    Quit,
}

impl TrayAction {
    /// Menu item id of this action.
    pub fn id(self) -> &'static str {
        match self {
            Self::OpenDashboard => "open-dashboard",
            Self::CopyEndpointUrl => "copy-endpoint-url",
            Self::Quit => "quit",
        }
    }

    /// The action a menu item id stands for.
    pub fn from_id(id: &str) -> Option<Self> {
        [Self::OpenDashboard, Self::CopyEndpointUrl, Self::Quit]
            .into_iter()
            .find(|action| action.id() == id)
    }
}

/// One line of the tray menu.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrayEntry {
    /// A clickable item.
    Item {
        /// What clicking does.
        action: TrayAction,
        /// The text shown.
        label: String,
    },
    /// A separator line.
    Separator,
}

/// The tray menu for a gateway reachable at `endpoint_url`.
pub fn tray_entries(endpoint_url: &str) -> Vec<TrayEntry> {
    vec![
        TrayEntry::Item {
            action: TrayAction::OpenDashboard,
            label: "Open dashboard".into(),
        },
        TrayEntry::Item {
            action: TrayAction::CopyEndpointUrl,
            label: format!("Copy endpoint URL ({endpoint_url})"),
        },
        TrayEntry::Separator,
        TrayEntry::Item {
            action: TrayAction::Quit,
            label: "Quit Switchyard".into(),
        },
    ]
}

/// Creates the tray icon with its menu.
pub fn create<R: Runtime>(app: &AppHandle<R>, endpoint_url: &str) -> tauri::Result<()> {
    let menu = Menu::new(app)?;
    for entry in tray_entries(endpoint_url) {
        match entry {
            TrayEntry::Item { action, label } => {
                menu.append(&MenuItem::with_id(
                    app,
                    action.id(),
                    label,
                    true,
                    None::<&str>,
                )?)?;
            }
            TrayEntry::Separator => menu.append(&PredefinedMenuItem::separator(app)?)?,
        }
    }
    let mut tray = TrayIconBuilder::with_id("main")
        .tooltip("Switchyard")
        .menu(&menu)
        .on_menu_event(|app, event| {
            if let Some(action) = TrayAction::from_id(event.id().as_ref()) {
                perform(app, action);
            }
        });
    if let Some(icon) = app.default_window_icon() {
        tray = tray.icon(icon.clone());
    }
    tray.build(app)?;
    Ok(())
}

/// Carries out a tray action.
pub fn perform<R: Runtime>(app: &AppHandle<R>, action: TrayAction) {
    match action {
        TrayAction::OpenDashboard => show_dashboard(app),
        TrayAction::CopyEndpointUrl => {
            let url = app.state::<DesktopState>().endpoint_url();
            if let Err(error) = app.clipboard().write_text(url) {
                tracing::warn!(%error, "cannot copy the endpoint URL");
            }
        }
        TrayAction::Quit => app.exit(0),
    }
}

/// Shows, un-minimises and focuses the dashboard window.
pub fn show_dashboard<R: Runtime>(app: &AppHandle<R>) {
    if let Some(window) = app.get_webview_window("main") {
        let _ = window.show();
        let _ = window.unminimize();
        let _ = window.set_focus();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn menu_offers_open_copy_quit_in_order() {
        let entries = tray_entries("http://127.0.0.1:20128/v1");
        let actions: Vec<_> = entries
            .iter()
            .filter_map(|entry| match entry {
                TrayEntry::Item { action, .. } => Some(*action),
                TrayEntry::Separator => None,
            })
            .collect();
        assert_eq!(
            actions,
            [
                TrayAction::OpenDashboard,
                TrayAction::CopyEndpointUrl,
                TrayAction::Quit
            ]
        );
        assert!(entries.contains(&TrayEntry::Item {
            action: TrayAction::CopyEndpointUrl,
            label: "Copy endpoint URL (http://127.0.0.1:20128/v1)".into()
        }));
    }

    #[test]
    fn ids_map_back_to_actions() {
        for action in [
            TrayAction::OpenDashboard,
            TrayAction::CopyEndpointUrl,
            TrayAction::Quit,
        ] {
            assert_eq!(TrayAction::from_id(action.id()), Some(action));
        }
        assert_eq!(TrayAction::from_id("other"), None);
    }
}
