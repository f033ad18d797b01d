//! Tauri commands the dashboard calls: `manage` carries every management
//! operation to the [`switchyard_manage::Manager`] (the same operations a
//! server answers over HTTP); the rest are what only the desktop has:
//! the clipboard, files in Downloads, the browser, updates, launching at
//! login, the tray and `switchyard://` links. The window's capability
//! grants exactly these (see `build.rs` and `tauri.conf.json`).

use serde_json::Value;
use switchyard_api_types::{CommandError, LinkView, Operation, UpdateStatusView};
use switchyard_manage::{Actor, ManageResult};
use tauri::{AppHandle, Runtime, State};

use crate::state::DesktopState;
use crate::updates::Updates;

/// Runs one management operation.
#[tauri::command]
pub(crate) async fn manage(
    state: State<'_, DesktopState>,
    call: Operation,
) -> Result<Value, CommandError> {
    state.manager().call(call, &Actor::admin("desktop")).await
}

/// Writes `contents` to `<stem>-<time>.<extension>` in the Downloads folder
/// (else the data folder), readable by the user only when `private`;
/// answers the path.
#[tauri::command]
pub(crate) fn save_file(
    state: State<'_, DesktopState>,
    stem: String,
    extension: String,
    contents: String,
    private: bool,
) -> ManageResult<String> {
    let safe = |text: &str| -> String {
        text.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .take(80)
            .collect()
    };
    let folder = directories::UserDirs::new()
        .and_then(|dirs| dirs.download_dir().map(std::path::Path::to_path_buf))
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(|| state.data_dir().to_path_buf());
    let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S");
    let path = folder.join(format!("{}-{stamp}.{}", safe(&stem), safe(&extension)));
    let written = {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        if private {
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        }
        #[cfg(not(unix))]
        let _ = private;
        options
            .open(&path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, contents.as_bytes()))
    };
    written.map_err(|error| CommandError {
        kind: "export".into(),
        message: format!("cannot write {}: {error}", path.display()),
    })?;
    Ok(path.display().to_string())
}

/// Opens an `http(s)` address in the default browser (a login page).
#[tauri::command]
pub(crate) fn open_url<R: Runtime>(app: AppHandle<R>, url: String) -> Result<(), CommandError> {
    use tauri_plugin_opener::OpenerExt;
    if !(url.starts_with("https://") || url.starts_with("http://")) {
        return Err(CommandError {
            kind: "invalid".into(),
            message: "only web addresses are opened".into(),
        });
    }
    app.opener()
        .open_url(&url, None::<&str>)
        .map_err(|error| CommandError {
            kind: "browser".into(),
            message: format!("cannot open the browser ({error}); open the address yourself"),
        })
}

/// Puts an API key on the clipboard: key `id`, or the newest copyable one
/// (creating one if there is none). The key never goes to the webview.
#[tauri::command]
pub(crate) fn copy_api_key<R: Runtime>(
    app: AppHandle<R>,
    state: State<'_, DesktopState>,
    id: Option<i64>,
) -> ManageResult<()> {
    use tauri_plugin_clipboard_manager::ClipboardExt;
    let key = state.with_store(|store| switchyard_manage::views::copyable_api_key(store, id))?;
    app.clipboard()
        .write_text(key)
        .map_err(|error| CommandError {
            kind: "clipboard".into(),
            message: format!("cannot use the clipboard: {error}"),
        })
}

/// Where the self-update stands.
#[tauri::command]
pub(crate) fn update_status(updates: State<'_, Updates>) -> UpdateStatusView {
    updates.status()
}

/// Asks the release feed for an update now.
#[tauri::command]
pub(crate) async fn check_for_updates<R: Runtime>(app: AppHandle<R>) -> UpdateStatusView {
    crate::updates::check(&app).await
}

/// Downloads, verifies and installs the available update, then restarts;
/// progress arrives as `update-status` events.
#[tauri::command]
pub(crate) async fn install_update<R: Runtime>(app: AppHandle<R>) -> Result<(), CommandError> {
    crate::updates::install(&app)
        .await
        .map_err(|message| CommandError {
            kind: "update".into(),
            message,
        })
}

/// Puts `text` (a device code, an address) on the clipboard.
#[tauri::command]
pub(crate) fn copy_text<R: Runtime>(app: AppHandle<R>, text: String) -> Result<(), CommandError> {
    use tauri_plugin_clipboard_manager::ClipboardExt;
    app.clipboard()
        .write_text(text)
        .map_err(|error| CommandError {
            kind: "clipboard".into(),
            message: format!("cannot use the clipboard: {error}"),
        })
}

/// The tray menu as text lines, for the dashboard's preview (desktops
/// without a tray show it there).
#[tauri::command]
pub(crate) fn tray_preview<R: Runtime>(app: AppHandle<R>) -> Vec<String> {
    let snapshot = crate::tray::snapshot(&app);
    crate::tray_model::menu_lines(&crate::tray_model::tray_entries(&snapshot))
}

/// The `switchyard://` links received and not yet handled (each once).
#[tauri::command]
pub(crate) fn take_deep_links(state: State<'_, DesktopState>) -> Vec<LinkView> {
    state.take_links()
}

/// Whether the app starts at login, as the OS says.
#[tauri::command]
pub(crate) fn launch_at_login<R: Runtime>(app: AppHandle<R>) -> Result<bool, CommandError> {
    use tauri_plugin_autostart::ManagerExt;
    app.autolaunch().is_enabled().map_err(|error| CommandError {
        kind: "autostart".into(),
        message: format!("cannot tell whether Switchyard starts at login: {error}"),
    })
}

/// Turns starting at login on or off; answers the state read back from the OS.
#[tauri::command]
pub(crate) fn set_launch_at_login<R: Runtime>(
    app: AppHandle<R>,
    enabled: bool,
) -> Result<bool, CommandError> {
    use tauri_plugin_autostart::ManagerExt;
    let autolaunch = app.autolaunch();
    let changed = if enabled {
        autolaunch.enable()
    } else {
        autolaunch.disable()
    };
    changed.map_err(|error| CommandError {
        kind: "autostart".into(),
        message: format!("cannot change launching at login: {error}"),
    })?;
    crate::tray::refresh(&app);
    launch_at_login(app)
}
