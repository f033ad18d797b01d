//! Tauri commands the dashboard calls: each takes the store from
//! [`DesktopState`] and delegates to [`crate::manage`]. The window's
//! capability grants exactly these (see `build.rs` and `tauri.conf.json`).

use switchyard_api_types::{
    AliasView, ApiKeyView, ComboView, CommandError, ConnectStart, CreatedApiKey, LinkView,
    NewProviderInput, Overview, PriceView, ProviderView, RequestView, ServiceView, SettingView,
    UpdateStatusView, UsageQueryInput, UsageRowView,
};
use tauri::{AppHandle, Runtime, State};

use crate::manage::{self, ManageResult};
use crate::state::DesktopState;
use crate::updates::Updates;

/// Everything the Overview page shows.
#[tauri::command]
pub(crate) fn get_overview(state: State<'_, DesktopState>) -> ManageResult<Overview> {
    state.overview().map_err(manage::store_error)
}

/// Providers with their accounts and live status.
#[tauri::command]
pub(crate) fn list_providers(state: State<'_, DesktopState>) -> ManageResult<Vec<ProviderView>> {
    state.with_store(manage::list_providers)
}

/// Adds an API-key provider, after checking the key against the
/// provider's models endpoint (unless `skip_check`); an empty model list is
/// filled from the provider's answer. Answers what was added.
#[tauri::command]
pub(crate) async fn add_provider(
    state: State<'_, DesktopState>,
    input: NewProviderInput,
) -> ManageResult<String> {
    let mut new = manage::provider_from_input(&input)?;
    let mut note = String::new();
    if !input.skip_check {
        let probe = switchyard_store::Provider {
            id: 0,
            name: new.name.clone(),
            kind: new.kind,
            prefix: new.prefix.clone(),
            base_url: new.base_url.clone(),
            models: Vec::new(),
            enabled: true,
            account_strategy: None,
            subscription: None,
            created_at: 0,
        };
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|error| CommandError {
                kind: "check".into(),
                message: error.to_string(),
            })?;
        match switchyard_config::presets::fetch_models(&http, &probe, &new.api_key).await {
            Ok(models) => {
                if new.models.is_empty() {
                    note = format!(" with its {} models", models.len());
                    new.models = models;
                } else {
                    note = " (key checked)".into();
                }
            }
            Err(switchyard_config::presets::ModelListError::Status { status, .. })
                if status == 401 || status == 403 =>
            {
                return Err(CommandError {
                    kind: "key_refused".into(),
                    message: format!("the provider refused this key ({status}); nothing was saved"),
                });
            }
            Err(error) => {
                return Err(CommandError {
                    kind: "unchecked".into(),
                    message: format!("the key could not be checked: {error}"),
                });
            }
        }
    }
    let name = new.name.clone();
    state.with_store_mut(|store| {
        store
            .add_provider(&new)
            .map(|_| ())
            .map_err(manage::store_error)
    })?;
    Ok(format!("added {name}{note}"))
}

/// Enables or disables a provider.
#[tauri::command]
pub(crate) fn set_provider_enabled(
    state: State<'_, DesktopState>,
    name: String,
    enabled: bool,
) -> ManageResult<()> {
    state.with_store(|store| manage::set_provider_enabled(store, &name, enabled))
}

/// Removes a provider.
#[tauri::command]
pub(crate) fn remove_provider(state: State<'_, DesktopState>, name: String) -> ManageResult<()> {
    state.with_store(|store| manage::remove_provider(store, &name))
}

/// Sets how a provider picks accounts (`None`: the global setting).
#[tauri::command]
pub(crate) fn set_account_strategy(
    state: State<'_, DesktopState>,
    name: String,
    strategy: Option<String>,
) -> ManageResult<()> {
    state.with_store(|store| manage::set_account_strategy(store, &name, strategy.as_deref()))
}

/// Adds an API-key account to a provider.
#[tauri::command]
pub(crate) fn add_account(
    state: State<'_, DesktopState>,
    provider: String,
    label: String,
    api_key: String,
    priority: i64,
) -> ManageResult<()> {
    state.with_store(|store| manage::add_account(store, &provider, &label, &api_key, priority))
}

/// Enables or disables an account.
#[tauri::command]
pub(crate) fn set_account_enabled(
    state: State<'_, DesktopState>,
    id: i64,
    enabled: bool,
) -> ManageResult<()> {
    state.with_store(|store| manage::set_account_enabled(store, id, enabled))
}

/// Changes an account's priority.
#[tauri::command]
pub(crate) fn set_account_priority(
    state: State<'_, DesktopState>,
    id: i64,
    priority: i64,
) -> ManageResult<()> {
    state.with_store(|store| manage::set_account_priority(store, id, priority))
}

/// Ends an account's cooldowns.
#[tauri::command]
pub(crate) fn reset_cooldowns(state: State<'_, DesktopState>, id: i64) -> ManageResult<usize> {
    state.with_store(|store| manage::reset_cooldowns(store, id))
}

/// Removes an account.
#[tauri::command]
pub(crate) fn remove_account(state: State<'_, DesktopState>, id: i64) -> ManageResult<()> {
    state.with_store(|store| manage::remove_account(store, id))
}

/// Local API keys (never the keys).
#[tauri::command]
pub(crate) fn list_api_keys(state: State<'_, DesktopState>) -> ManageResult<Vec<ApiKeyView>> {
    state.with_store(manage::list_api_keys)
}

/// Creates a key and returns it, the only time it is shown.
#[tauri::command]
pub(crate) fn create_api_key(
    state: State<'_, DesktopState>,
    name: String,
) -> ManageResult<CreatedApiKey> {
    state.with_store(|store| manage::create_api_key(store, &name))
}

/// Revokes a key.
#[tauri::command]
pub(crate) fn revoke_api_key(state: State<'_, DesktopState>, id: i64) -> ManageResult<()> {
    state.with_store(|store| manage::revoke_api_key(store, id))
}

/// Combos.
#[tauri::command]
pub(crate) fn list_combos(state: State<'_, DesktopState>) -> ManageResult<Vec<ComboView>> {
    state.with_store(manage::list_combos)
}

/// Adds or replaces a combo.
#[tauri::command]
pub(crate) fn save_combo(state: State<'_, DesktopState>, combo: ComboView) -> ManageResult<()> {
    state.with_store(|store| manage::save_combo(store, combo))
}

/// Removes a combo.
#[tauri::command]
pub(crate) fn remove_combo(state: State<'_, DesktopState>, name: String) -> ManageResult<()> {
    state.with_store(|store| manage::remove_combo(store, &name))
}

/// Aliases.
#[tauri::command]
pub(crate) fn list_aliases(state: State<'_, DesktopState>) -> ManageResult<Vec<AliasView>> {
    state.with_store(manage::list_aliases)
}

/// Adds an alias.
#[tauri::command]
pub(crate) fn add_alias(
    state: State<'_, DesktopState>,
    name: String,
    target: String,
) -> ManageResult<()> {
    state.with_store(|store| manage::add_alias(store, &name, &target))
}

/// Removes an alias.
#[tauri::command]
pub(crate) fn remove_alias(state: State<'_, DesktopState>, name: String) -> ManageResult<()> {
    state.with_store(|store| manage::remove_alias(store, &name))
}

/// Prices, yours first.
#[tauri::command]
pub(crate) fn list_prices(state: State<'_, DesktopState>) -> ManageResult<Vec<PriceView>> {
    state.with_store(manage::list_prices)
}

/// Sets a price.
#[tauri::command]
pub(crate) fn set_price(state: State<'_, DesktopState>, price: PriceView) -> ManageResult<()> {
    state.with_store(|store| manage::set_price(store, price))
}

/// Removes a price of yours.
#[tauri::command]
pub(crate) fn remove_price(state: State<'_, DesktopState>, model: String) -> ManageResult<()> {
    state.with_store(|store| manage::remove_price(store, &model))
}

/// Settings with their stored values.
#[tauri::command]
pub(crate) fn list_settings(state: State<'_, DesktopState>) -> ManageResult<Vec<SettingView>> {
    state.with_store(manage::list_settings)
}

/// Changes (or with `None` unsets) a setting.
#[tauri::command]
pub(crate) fn set_setting(
    state: State<'_, DesktopState>,
    name: String,
    value: Option<String>,
) -> ManageResult<()> {
    state.with_store(|store| manage::set_setting(store, &name, value.as_deref()))
}

/// Usage totals and time series.
#[tauri::command]
pub(crate) fn usage_report(
    state: State<'_, DesktopState>,
    query: UsageQueryInput,
) -> ManageResult<Vec<UsageRowView>> {
    state.with_store(|store| manage::usage_report(store, query))
}

/// The request log, newest first.
#[tauri::command]
pub(crate) fn recent_requests(
    state: State<'_, DesktopState>,
    limit: u32,
) -> ManageResult<Vec<RequestView>> {
    state.with_store(|store| manage::recent_requests(store, limit))
}

/// Starts logging in to a subscription service; the outcome arrives as an
/// `account-connected` or `connect-failed` event.
#[tauri::command]
pub(crate) async fn start_connect<R: Runtime>(
    app: AppHandle<R>,
    service: String,
    device: Option<bool>,
) -> Result<ConnectStart, CommandError> {
    crate::connect::start(app, &service, device.unwrap_or(false)).await
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
    let key = state.with_store(|store| manage::copyable_api_key(store, id))?;
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

/// The subscription services, with what can be imported on this machine.
#[tauri::command]
pub(crate) fn list_services(state: State<'_, DesktopState>) -> Vec<ServiceView> {
    crate::connect::services(state.data_dir())
}

/// Imports the credentials a service's official CLI holds; the outcome
/// arrives as an `account-connected` or `connect-failed` event.
#[tauri::command]
pub(crate) async fn import_account<R: Runtime>(
    app: AppHandle<R>,
    service: String,
) -> Result<(), CommandError> {
    crate::connect::import(app, &service).await
}

/// Adds an account from a pasted refresh token (proved by one refresh);
/// the outcome arrives as an `account-connected` or `connect-failed` event.
#[tauri::command]
pub(crate) async fn connect_with_refresh_token<R: Runtime>(
    app: AppHandle<R>,
    service: String,
    token: String,
) -> Result<(), CommandError> {
    crate::connect::with_refresh_token(app, &service, &token).await
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

/// The bodies kept for request `id`, if `log_bodies` was on when it ran.
#[tauri::command]
pub(crate) fn request_bodies(
    state: State<'_, DesktopState>,
    id: i64,
) -> ManageResult<Option<switchyard_api_types::RequestBodiesView>> {
    state.with_store(|store| {
        Ok(store
            .request_bodies(id)
            .map_err(manage::store_error)?
            .map(|bodies| switchyard_api_types::RequestBodiesView {
                request: bodies.request,
                response: bodies.response,
            }))
    })
}

/// Writes usage rows as CSV to the Downloads folder (else the data
/// folder) and returns the file's path.
#[tauri::command]
pub(crate) fn export_usage_csv(
    state: State<'_, DesktopState>,
    query: UsageQueryInput,
    name: String,
) -> ManageResult<String> {
    let csv = state.with_store(|store| manage::usage_csv(store, query))?;
    let folder = directories::UserDirs::new()
        .and_then(|dirs| dirs.download_dir().map(std::path::Path::to_path_buf))
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(|| state.data_dir().to_path_buf());
    let safe: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S");
    let path = folder.join(format!("switchyard-usage-{safe}-{stamp}.csv"));
    std::fs::write(&path, csv).map_err(|error| CommandError {
        kind: "export".into(),
        message: format!("cannot write {}: {error}", path.display()),
    })?;
    Ok(path.display().to_string())
}

fn tool_error(error: switchyard_tools::ToolError) -> CommandError {
    CommandError {
        kind: "tool".into(),
        message: error.to_string(),
    }
}

/// Where the gateway is, as tools are given it (root URL, no `/v1`).
fn tool_options(state: &DesktopState) -> switchyard_tools::SetupOptions {
    switchyard_tools::SetupOptions {
        base_url: state.endpoint_url().trim_end_matches("/v1").to_owned(),
        api_key: None,
        model: None,
    }
}

fn tool_home() -> Result<std::path::PathBuf, CommandError> {
    switchyard_tools::home_dir().ok_or_else(|| CommandError {
        kind: "tool".into(),
        message: "cannot find the home folder".into(),
    })
}

/// Every coding tool: installed or not, pointed at Switchyard or not.
#[tauri::command]
pub(crate) fn list_tools(
    state: State<'_, DesktopState>,
) -> Result<Vec<switchyard_tools::ToolStatus>, CommandError> {
    let home = tool_home()?;
    let backups = state.data_dir().join("tool-backups");
    let options = tool_options(&state);
    Ok(switchyard_tools::catalogue()
        .into_iter()
        .map(|tool| switchyard_tools::status(&home, &backups, tool.id, &options))
        .collect())
}

/// Points `tool` at Switchyard with `model` (a copyable API key is used,
/// created if there is none), backing up the user's file first.
#[tauri::command]
pub(crate) fn apply_tool(
    state: State<'_, DesktopState>,
    tool: switchyard_tools::ToolId,
    model: Option<String>,
) -> Result<switchyard_tools::ToolApplied, CommandError> {
    let home = tool_home()?;
    let key = state.with_store(|store| manage::copyable_api_key(store, None))?;
    let options = switchyard_tools::SetupOptions {
        api_key: Some(key),
        model: model.filter(|model| !model.trim().is_empty()),
        ..tool_options(&state)
    };
    switchyard_tools::apply(
        &home,
        &state.data_dir().join("tool-backups"),
        tool,
        &options,
    )
    .map_err(tool_error)
}

/// Puts `tool`'s files back as they were before Switchyard changed them.
#[tauri::command]
pub(crate) fn restore_tool(
    state: State<'_, DesktopState>,
    tool: switchyard_tools::ToolId,
) -> Result<switchyard_tools::ToolRestored, CommandError> {
    let home = tool_home()?;
    switchyard_tools::restore(&home, &state.data_dir().join("tool-backups"), tool)
        .map_err(tool_error)
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

/// Attempts and successes per target since `from` (Unix ms).
#[tauri::command]
pub(crate) fn target_outcomes(
    state: State<'_, DesktopState>,
    from: i64,
) -> ManageResult<Vec<switchyard_api_types::TargetOutcomeView>> {
    state.with_store(|store| {
        Ok(store
            .target_outcomes(Some(from), None)
            .map_err(manage::store_error)?
            .into_iter()
            .map(|o| switchyard_api_types::TargetOutcomeView {
                target: o.target,
                attempts: o.attempts,
                succeeded: o.succeeded,
            })
            .collect())
    })
}

/// Renames an account.
#[tauri::command]
pub(crate) fn rename_account(
    state: State<'_, DesktopState>,
    id: i64,
    label: String,
) -> ManageResult<()> {
    state.with_store(|store| manage::rename_account(store, id, &label))
}

/// Checks that an account works: an API key by asking the provider's models
/// endpoint with it; a subscription by refreshing its token if due and
/// reading its usage. Answers a sentence for the user.
#[tauri::command]
pub(crate) async fn test_account(
    state: State<'_, DesktopState>,
    id: i64,
) -> Result<String, CommandError> {
    let (account, provider) = state.with_store(|store| {
        let account = store.account(id).map_err(manage::store_error)?;
        let provider = store
            .list_providers()
            .map_err(manage::store_error)?
            .into_iter()
            .find(|p| p.id == account.provider_id)
            .ok_or_else(|| CommandError {
                kind: "not_found".into(),
                message: "the account's provider is gone".into(),
            })?;
        Ok((account, provider))
    })?;
    let failed = |message: String| CommandError {
        kind: "test".into(),
        message,
    };
    if provider.subscription.is_none() {
        let http = reqwest::Client::builder()
            .connect_timeout(std::time::Duration::from_secs(10))
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|error| failed(error.to_string()))?;
        let models = switchyard_config::presets::fetch_models(&http, &provider, &account.api_key)
            .await
            .map_err(|error| failed(error.to_string()))?;
        return Ok(format!(
            "{}/{} works: the provider lists {} models",
            provider.name,
            account.label,
            models.len()
        ));
    }
    let name = format!("{}/{}", provider.name, account.label);
    let checks = switchyard_gateway::maintain_accounts(state.data_dir())
        .await
        .map_err(|error| failed(error.to_string()))?;
    let needs_login = state
        .with_store(|store| store.account(id).map_err(manage::store_error))?
        .needs_login;
    if needs_login {
        return Err(failed(format!("{name} needs a new login")));
    }
    match checks.into_iter().find(|check| check.account == name) {
        Some(check) => match check.windows {
            Ok(windows) => Ok(format!(
                "{name} works: token valid, {} usage windows read",
                windows.len()
            )),
            Err(reason) => Ok(format!(
                "{name}: token valid; usage not readable ({reason})"
            )),
        },
        None => Ok(format!("{name}: token valid")),
    }
}

fn transfer_error(error: switchyard_store::TransferError) -> CommandError {
    CommandError {
        kind: "transfer".into(),
        message: error.to_string(),
    }
}

/// Where exports go: the Downloads folder, else the data folder.
fn export_folder(state: &DesktopState) -> std::path::PathBuf {
    directories::UserDirs::new()
        .and_then(|dirs| dirs.download_dir().map(std::path::Path::to_path_buf))
        .filter(|dir| dir.is_dir())
        .unwrap_or_else(|| state.data_dir().to_path_buf())
}

/// Writes the configuration (secrets only if asked) to a file readable by
/// the user only; answers its path.
#[tauri::command]
pub(crate) fn export_config(
    state: State<'_, DesktopState>,
    with_secrets: bool,
) -> ManageResult<String> {
    let json = state.with_store(|store| {
        switchyard_config::transfer::export_config(store, with_secrets).map_err(transfer_error)
    })?;
    let stamp = jiff::Zoned::now().strftime("%Y%m%d-%H%M%S");
    let suffix = if with_secrets { "-with-secrets" } else { "" };
    let path = export_folder(&state).join(format!("switchyard-config{suffix}-{stamp}.json"));
    let written = {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
            .open(&path)
            .and_then(|mut file| std::io::Write::write_all(&mut file, json.as_bytes()))
    };
    written.map_err(|error| CommandError {
        kind: "export".into(),
        message: format!("cannot write {}: {error}", path.display()),
    })?;
    Ok(path.display().to_string())
}

/// Imports an exported configuration (the file's text); `dry_run` only
/// reports what would change.
#[tauri::command]
pub(crate) fn import_config(
    state: State<'_, DesktopState>,
    json: String,
    dry_run: bool,
) -> ManageResult<switchyard_api_types::TransferReport> {
    state.with_store(|store| {
        switchyard_config::transfer::import_config(store, &json, dry_run).map_err(transfer_error)
    })
}

/// Where an installed 9router keeps its database, if there is one.
#[tauri::command]
pub(crate) fn find_9router() -> Option<String> {
    switchyard_config::transfer::default_9router_path().map(|path| path.display().to_string())
}

/// Imports a 9router installation's database (`path`, else the one found).
#[tauri::command]
pub(crate) fn import_9router(
    state: State<'_, DesktopState>,
    path: Option<String>,
    dry_run: bool,
) -> ManageResult<switchyard_api_types::TransferReport> {
    let path = path
        .filter(|path| !path.trim().is_empty())
        .map(std::path::PathBuf::from)
        .or_else(switchyard_config::transfer::default_9router_path)
        .ok_or_else(|| CommandError {
            kind: "transfer".into(),
            message: "no 9router installation found; give the path of its db.json or data.sqlite"
                .into(),
        })?;
    state.with_store(|store| {
        switchyard_config::transfer::import_9router(store, &path, dry_run).map_err(transfer_error)
    })
}

/// The built-in providers the add form can start from.
#[tauri::command]
pub(crate) fn list_presets() -> Vec<switchyard_api_types::PresetView> {
    use switchyard_store::ProviderKind;
    switchyard_config::presets::PRESETS
        .iter()
        .filter_map(|preset| {
            let kind = match preset.kind {
                ProviderKind::OpenaiCompatible => "openai",
                ProviderKind::AnthropicCompatible => "anthropic",
                ProviderKind::Gemini => "gemini",
                ProviderKind::OpenaiResponses => "responses",
                _ => return None,
            };
            Some(switchyard_api_types::PresetView {
                id: preset.id.into(),
                name: preset.name.into(),
                kind: kind.into(),
                prefix: preset.prefix.into(),
                base_url: preset.base_url.into(),
                models: preset.models.iter().map(|m| (*m).to_owned()).collect(),
            })
        })
        .collect()
}
