//! The names of every Tauri command, shared by `build.rs` (the app manifest
//! the window's capability grants from) and the app.

/// Names as passed to `invoke`.
pub(crate) const COMMANDS: &[&str] = &[
    "manage",
    "save_file",
    "open_url",
    "copy_api_key",
    "copy_text",
    "update_status",
    "check_for_updates",
    "install_update",
    "tray_preview",
    "take_deep_links",
    "launch_at_login",
    "set_launch_at_login",
];
