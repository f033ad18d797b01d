//! Calls into the desktop app through `window.__TAURI__.core.invoke`. When the
//! page runs outside Tauri (a plain browser), calls fail with a clear error
//! instead of panicking.

use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_api_types::{
    ApiKeyView, ComboView, CommandError, ConnectStart, CreatedApiKey, LinkView, NewProviderInput,
    Overview, ProviderView, RequestView, ServiceView, SettingView, UpdateStatusView,
    UsageQueryInput, UsageRowView,
};
use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(catch, js_namespace = ["window", "__TAURI__", "core"], js_name = invoke)]
    async fn tauri_invoke(command: &str, args: JsValue) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_namespace = ["window", "__TAURI__", "event"], js_name = listen)]
    async fn tauri_listen(event: &str, handler: &js_sys::Function) -> Result<JsValue, JsValue>;
}

/// A listener registered with the app, removed when its component goes.
struct Listener {
    handler: Option<Closure<dyn FnMut(JsValue)>>,
    unlisten: Option<js_sys::Function>,
    removed: bool,
}

/// Calls `handler` with the payload of every `event` the app emits while
/// the calling component lives (payloads that do not decode are skipped).
pub fn on_event<T: DeserializeOwned + 'static>(event: &'static str, handler: impl Fn(T) + 'static) {
    use std::cell::RefCell;
    use std::rc::Rc;

    let closure = Closure::<dyn FnMut(JsValue)>::new(move |message: JsValue| {
        let payload =
            js_sys::Reflect::get(&message, &JsValue::from_str("payload")).unwrap_or(JsValue::NULL);
        if let Ok(value) = serde_wasm_bindgen::from_value(payload) {
            handler(value);
        }
    });
    let function: js_sys::Function = closure.as_ref().unchecked_ref::<js_sys::Function>().clone();
    let listener = Rc::new(RefCell::new(Listener {
        handler: Some(closure),
        unlisten: None,
        removed: false,
    }));
    let registering = listener.clone();
    leptos::task::spawn_local(async move {
        let Ok(unlisten) = tauri_listen(event, &function).await else {
            return;
        };
        let unlisten: js_sys::Function = unlisten.unchecked_into();
        let mut state = registering.borrow_mut();
        if state.removed {
            let _ = unlisten.call0(&JsValue::NULL);
            state.handler = None;
        } else {
            state.unlisten = Some(unlisten);
        }
    });
    let owned = send_wrapper::SendWrapper::new(listener);
    leptos::prelude::on_cleanup(move || {
        let mut state = owned.borrow_mut();
        state.removed = true;
        if let Some(unlisten) = state.unlisten.take() {
            let _ = unlisten.call0(&JsValue::NULL);
            state.handler = None;
        }
    });
}

/// Calls `command` with no arguments and decodes its answer.
async fn invoke<T: DeserializeOwned>(command: &str) -> Result<T, CommandError> {
    invoke_with(command, &serde_json::Map::new()).await
}

/// Calls `command` with `args` (an object whose keys are the command's
/// parameters in camelCase) and decodes its answer.
async fn invoke_with<T: DeserializeOwned, A: Serialize>(
    command: &str,
    args: &A,
) -> Result<T, CommandError> {
    let serializer = serde_wasm_bindgen::Serializer::json_compatible();
    let args = args.serialize(&serializer).map_err(|error| CommandError {
        kind: "encode".into(),
        message: error.to_string(),
    })?;
    let answer = tauri_invoke(command, args).await.map_err(command_error)?;
    serde_wasm_bindgen::from_value(answer).map_err(|error| CommandError {
        kind: "decode".into(),
        message: format!("unexpected answer from {command}: {error}"),
    })
}

/// Turns a rejected invoke into a [`CommandError`]: either the command's own
/// error or a description of what went wrong on the way.
fn command_error(value: JsValue) -> CommandError {
    if let Ok(error) = serde_wasm_bindgen::from_value::<CommandError>(value.clone()) {
        return error;
    }
    let message = value
        .as_string()
        .or_else(|| {
            value
                .dyn_ref::<js_sys::Error>()
                .map(|error| String::from(error.message()))
        })
        .unwrap_or_else(|| {
            "the desktop app did not answer (is this page running inside Switchyard?)".into()
        });
    CommandError {
        kind: "ipc".into(),
        message,
    }
}

/// What the Overview page shows.
pub async fn get_overview() -> Result<Overview, CommandError> {
    invoke("get_overview").await
}

/// Providers with their accounts and live status.
pub async fn list_providers() -> Result<Vec<ProviderView>, CommandError> {
    invoke("list_providers").await
}

/// Adds an API-key provider (its key checked first unless told not to);
/// answers what was added.
pub async fn add_provider(input: NewProviderInput) -> Result<String, CommandError> {
    invoke_with("add_provider", &serde_json::json!({ "input": input })).await
}

/// Enables or disables an account.
pub async fn set_account_enabled(id: i64, enabled: bool) -> Result<(), CommandError> {
    invoke_with(
        "set_account_enabled",
        &serde_json::json!({ "id": id, "enabled": enabled }),
    )
    .await
}

/// The request log, newest first.
pub async fn recent_requests(limit: u32) -> Result<Vec<RequestView>, CommandError> {
    invoke_with("recent_requests", &serde_json::json!({ "limit": limit })).await
}

/// Combos.
pub async fn list_combos() -> Result<Vec<ComboView>, CommandError> {
    invoke("list_combos").await
}

/// Adds or replaces a combo.
pub async fn save_combo(combo: ComboView) -> Result<(), CommandError> {
    invoke_with("save_combo", &serde_json::json!({ "combo": combo })).await
}

/// Removes a combo.
pub async fn remove_combo(name: String) -> Result<(), CommandError> {
    invoke_with("remove_combo", &serde_json::json!({ "name": name })).await
}

/// Usage totals or a time series.
pub async fn usage_report(query: UsageQueryInput) -> Result<Vec<UsageRowView>, CommandError> {
    invoke_with("usage_report", &serde_json::json!({ "query": query })).await
}

/// Local API keys.
pub async fn list_api_keys() -> Result<Vec<ApiKeyView>, CommandError> {
    invoke("list_api_keys").await
}

/// Creates a key (shown once).
pub async fn create_api_key(name: String) -> Result<CreatedApiKey, CommandError> {
    invoke_with("create_api_key", &serde_json::json!({ "name": name })).await
}

/// Revokes a key.
pub async fn revoke_api_key(id: i64) -> Result<(), CommandError> {
    invoke_with("revoke_api_key", &serde_json::json!({ "id": id })).await
}

/// Settings with their stored values.
pub async fn list_settings() -> Result<Vec<SettingView>, CommandError> {
    invoke("list_settings").await
}

/// Changes a setting, or with `None` returns it to its default.
pub async fn set_setting(name: String, value: Option<String>) -> Result<(), CommandError> {
    invoke_with(
        "set_setting",
        &serde_json::json!({ "name": name, "value": value }),
    )
    .await
}

/// Puts API key `id` (or the newest copyable one) on the clipboard.
pub async fn copy_api_key(id: Option<i64>) -> Result<(), CommandError> {
    invoke_with("copy_api_key", &serde_json::json!({ "id": id })).await
}

/// Where the self-update stands.
pub async fn update_status() -> Result<UpdateStatusView, CommandError> {
    invoke("update_status").await
}

/// Asks the release feed for an update now.
pub async fn check_for_updates() -> Result<UpdateStatusView, CommandError> {
    invoke("check_for_updates").await
}

/// Installs the available update and restarts.
pub async fn install_update() -> Result<(), CommandError> {
    invoke("install_update").await
}

/// The subscription services the app can log in to.
pub async fn list_services() -> Result<Vec<ServiceView>, CommandError> {
    invoke("list_services").await
}

/// Starts a login; the outcome arrives as an event.
pub async fn start_connect(service: String, device: bool) -> Result<ConnectStart, CommandError> {
    invoke_with(
        "start_connect",
        &serde_json::json!({ "service": service, "device": device }),
    )
    .await
}

/// Imports a service's CLI credentials; the outcome arrives as an event.
pub async fn import_account(service: String) -> Result<(), CommandError> {
    invoke_with("import_account", &serde_json::json!({ "service": service })).await
}

/// Adds an account from a refresh token; the outcome arrives as an event.
pub async fn connect_with_refresh_token(
    service: String,
    token: String,
) -> Result<(), CommandError> {
    invoke_with(
        "connect_with_refresh_token",
        &serde_json::json!({ "service": service, "token": token }),
    )
    .await
}

/// Puts `text` on the clipboard.
pub async fn copy_text(text: String) -> Result<(), CommandError> {
    invoke_with("copy_text", &serde_json::json!({ "text": text })).await
}

/// The tray menu as text lines.
pub async fn tray_preview() -> Result<Vec<String>, CommandError> {
    invoke("tray_preview").await
}

/// The bodies kept for request `id` (with `log_bodies` on).
pub async fn request_bodies(
    id: i64,
) -> Result<Option<switchyard_api_types::RequestBodiesView>, CommandError> {
    invoke_with("request_bodies", &serde_json::json!({ "id": id })).await
}

/// Aliases.
pub async fn list_aliases() -> Result<Vec<switchyard_api_types::AliasView>, CommandError> {
    invoke("list_aliases").await
}

/// Adds or replaces an alias.
pub async fn add_alias(name: String, target: String) -> Result<(), CommandError> {
    invoke_with(
        "add_alias",
        &serde_json::json!({ "name": name, "target": target }),
    )
    .await
}

/// Removes an alias.
pub async fn remove_alias(name: String) -> Result<(), CommandError> {
    invoke_with("remove_alias", &serde_json::json!({ "name": name })).await
}

/// Writes usage rows as CSV to the Downloads folder; answers the path.
pub async fn export_usage_csv(
    query: UsageQueryInput,
    name: String,
) -> Result<String, CommandError> {
    invoke_with(
        "export_usage_csv",
        &serde_json::json!({ "query": query, "name": name }),
    )
    .await
}

/// Every coding tool and whether it points at Switchyard.
pub async fn list_tools() -> Result<Vec<switchyard_api_types::ToolStatus>, CommandError> {
    invoke("list_tools").await
}

/// Points a tool at Switchyard (backing up its file first).
pub async fn apply_tool(
    tool: switchyard_api_types::ToolId,
    model: Option<String>,
) -> Result<switchyard_api_types::ToolApplied, CommandError> {
    invoke_with(
        "apply_tool",
        &serde_json::json!({ "tool": tool, "model": model }),
    )
    .await
}

/// Restores a tool's files from the backup.
pub async fn restore_tool(
    tool: switchyard_api_types::ToolId,
) -> Result<switchyard_api_types::ToolRestored, CommandError> {
    invoke_with("restore_tool", &serde_json::json!({ "tool": tool })).await
}

/// The `switchyard://` links received and not yet handled.
pub async fn take_deep_links() -> Result<Vec<LinkView>, CommandError> {
    invoke("take_deep_links").await
}

/// Whether the app starts at login (read from the OS).
pub async fn launch_at_login() -> Result<bool, CommandError> {
    invoke("launch_at_login").await
}

/// Turns starting at login on or off; answers the state read back.
pub async fn set_launch_at_login(enabled: bool) -> Result<bool, CommandError> {
    invoke_with(
        "set_launch_at_login",
        &serde_json::json!({ "enabled": enabled }),
    )
    .await
}

/// Attempts and successes per target since `from` (Unix ms).
pub async fn target_outcomes(
    from: i64,
) -> Result<Vec<switchyard_api_types::TargetOutcomeView>, CommandError> {
    invoke_with("target_outcomes", &serde_json::json!({ "from": from })).await
}

/// Renames an account.
pub async fn rename_account(id: i64, label: String) -> Result<(), CommandError> {
    invoke_with(
        "rename_account",
        &serde_json::json!({ "id": id, "label": label }),
    )
    .await
}

/// Checks an account works; answers a sentence.
pub async fn test_account(id: i64) -> Result<String, CommandError> {
    invoke_with("test_account", &serde_json::json!({ "id": id })).await
}

/// Changes an account's priority (lower goes first).
pub async fn set_account_priority(id: i64, priority: i64) -> Result<(), CommandError> {
    invoke_with(
        "set_account_priority",
        &serde_json::json!({ "id": id, "priority": priority }),
    )
    .await
}

/// Removes an account.
pub async fn remove_account(id: i64) -> Result<(), CommandError> {
    invoke_with("remove_account", &serde_json::json!({ "id": id })).await
}

/// Ends an account's cooldowns.
pub async fn reset_cooldowns(id: i64) -> Result<usize, CommandError> {
    invoke_with("reset_cooldowns", &serde_json::json!({ "id": id })).await
}

/// Writes the configuration to a file; answers its path.
pub async fn export_config(with_secrets: bool) -> Result<String, CommandError> {
    invoke_with(
        "export_config",
        &serde_json::json!({ "withSecrets": with_secrets }),
    )
    .await
}

/// Imports an exported configuration's text.
pub async fn import_config(
    json: String,
    dry_run: bool,
) -> Result<switchyard_api_types::TransferReport, CommandError> {
    invoke_with(
        "import_config",
        &serde_json::json!({ "json": json, "dryRun": dry_run }),
    )
    .await
}

/// Where an installed 9router keeps its database.
pub async fn find_9router() -> Result<Option<String>, CommandError> {
    invoke("find_9router").await
}

/// Imports a 9router database.
pub async fn import_9router(
    path: Option<String>,
    dry_run: bool,
) -> Result<switchyard_api_types::TransferReport, CommandError> {
    invoke_with(
        "import_9router",
        &serde_json::json!({ "path": path, "dryRun": dry_run }),
    )
    .await
}

/// Prices: the built-in table and yours.
pub async fn list_prices() -> Result<Vec<switchyard_api_types::PriceView>, CommandError> {
    invoke("list_prices").await
}

/// Sets a price of yours (overrides the built-in one).
pub async fn set_price(price: switchyard_api_types::PriceView) -> Result<(), CommandError> {
    invoke_with("set_price", &serde_json::json!({ "price": price })).await
}

/// Removes a price of yours.
pub async fn remove_price(model: String) -> Result<(), CommandError> {
    invoke_with("remove_price", &serde_json::json!({ "model": model })).await
}

/// The built-in providers the add form can start from.
pub async fn list_presets() -> Result<Vec<switchyard_api_types::PresetView>, CommandError> {
    invoke("list_presets").await
}
