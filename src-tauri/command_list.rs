//! The names of every Tauri command, shared by `build.rs` (the app manifest
//! the window's capability grants from) and the app.

/// Names as passed to `invoke`.
pub(crate) const COMMANDS: &[&str] = &[
    "get_overview",
    "list_providers",
    "add_provider",
    "set_provider_enabled",
    "remove_provider",
    "set_account_strategy",
    "add_account",
    "set_account_enabled",
    "set_account_priority",
    "reset_cooldowns",
    "remove_account",
    "list_api_keys",
    "create_api_key",
    "revoke_api_key",
    "list_combos",
    "save_combo",
    "remove_combo",
    "list_aliases",
    "add_alias",
    "remove_alias",
    "list_prices",
    "set_price",
    "remove_price",
    "list_settings",
    "set_setting",
    "usage_report",
    "recent_requests",
    "start_connect",
];
