//! How the dashboard reaches whatever runs it. Pages call the typed
//! functions here and never learn the transport: inside the desktop app
//! every management operation goes through one Tauri command (`manage`) and
//! events are Tauri events; in a browser (the dashboard `switchyard serve`
//! offers) operations are `POST api/call` with the session's CSRF token and
//! events arrive over one `EventSource`. What only the desktop has (the
//! tray, launching at login, updates) answers `unavailable` in a browser;
//! copying and saving files use the browser's own clipboard and downloads.

use std::cell::{Cell, RefCell};

use leptos::prelude::*;
use serde::Serialize;
use serde::de::DeserializeOwned;
use switchyard_api_types::{
    ApiKeyView, ComboView, CommandError, ConnectStart, CreatedApiKey, LinkView, NewProviderInput,
    Operation, Overview, ProviderView, RequestView, ServiceView, SettingView, UpdateStatusView,
    UsageQueryInput, UsageRowView,
};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
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

/// [`on_event`] in the desktop app: a Tauri event listener.
fn on_app_event<T: DeserializeOwned + 'static>(event: &'static str, handler: impl Fn(T) + 'static) {
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

/// Where the dashboard stands with whatever serves it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Not known yet.
    Checking,
    /// Operations may be called (always so in the desktop app).
    SignedIn,
    /// A browser without a session; `password_set` says whether the
    /// password form can work (else the sign-in link is the way in).
    SignedOut {
        /// Whether a dashboard password exists.
        password_set: bool,
    },
}

thread_local! {
    static ACCESS: Cell<Option<RwSignal<Access>>> = const { Cell::new(None) };
    static MEMBER: Cell<Option<RwSignal<Option<String>>>> = const { Cell::new(None) };
    static CSRF: RefCell<Option<String>> = const { RefCell::new(None) };
    static EVENTS: RefCell<Option<web_sys::EventSource>> = const { RefCell::new(None) };
}

/// Whether the page runs inside the desktop app.
fn in_app() -> bool {
    js_sys::Reflect::get(&window(), &JsValue::from_str("__TAURI__"))
        .is_ok_and(|tauri| !tauri.is_undefined())
}

/// The signal pages follow for [`Access`]; made on first use.
pub fn access() -> RwSignal<Access> {
    ACCESS.with(|cell| match cell.get() {
        Some(signal) => signal,
        None => {
            let signal = RwSignal::new(Access::Checking);
            cell.set(Some(signal));
            signal
        }
    })
}

/// The team member signed in (`None` for an administrator and in the
/// desktop app): a member sees only their keys, usage and requests.
pub fn member() -> RwSignal<Option<String>> {
    MEMBER.with(|cell| match cell.get() {
        Some(signal) => signal,
        None => {
            let signal = RwSignal::new(None);
            cell.set(Some(signal));
            signal
        }
    })
}

fn unavailable(what: &str) -> CommandError {
    CommandError {
        kind: "unavailable".into(),
        message: format!("{what} is only in the desktop app"),
    }
}

fn js_error(value: JsValue) -> CommandError {
    let message = value
        .as_string()
        .or_else(|| {
            value
                .dyn_ref::<js_sys::Error>()
                .map(|error| String::from(error.message()))
        })
        .unwrap_or_else(|| "the browser refused the request".into());
    CommandError {
        kind: "network".into(),
        message,
    }
}

/// Sends a request to the dashboard's API (`path` relative to the page)
/// with the session's CSRF token; answers the status and the body.
async fn fetch(path: &str, body: Option<String>) -> Result<(u16, String), CommandError> {
    let init = web_sys::RequestInit::new();
    let headers = web_sys::Headers::new().map_err(js_error)?;
    if let Some(csrf) = CSRF.with(|csrf| csrf.borrow().clone()) {
        headers.set("x-csrf-token", &csrf).map_err(js_error)?;
    }
    match body {
        Some(body) => {
            init.set_method("POST");
            headers
                .set("content-type", "application/json")
                .map_err(js_error)?;
            init.set_body(&JsValue::from_str(&body));
        }
        None => init.set_method("GET"),
    }
    init.set_headers(&headers);
    init.set_credentials(web_sys::RequestCredentials::SameOrigin);
    let request = web_sys::Request::new_with_str_and_init(path, &init).map_err(js_error)?;
    let response: web_sys::Response = JsFuture::from(window().fetch_with_request(&request))
        .await
        .map_err(js_error)?
        .unchecked_into();
    let text = JsFuture::from(response.text().map_err(js_error)?)
        .await
        .map_err(js_error)?
        .as_string()
        .unwrap_or_default();
    Ok((response.status(), text))
}

/// The browser's session, as `GET api/session` reports it.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionState {
    signed_in: bool,
    password_set: bool,
    csrf_token: Option<String>,
    #[serde(default)]
    member: Option<String>,
}

/// Finds out whether operations can be called, and updates [`access`].
pub async fn check_access() {
    if in_app() {
        access().set(Access::SignedIn);
        return;
    }
    let state = match fetch("api/session", None).await {
        Ok((200, body)) => serde_json::from_str::<SessionState>(&body).ok(),
        _ => None,
    };
    let Some(state) = state else {
        access().set(Access::SignedOut { password_set: true });
        return;
    };
    CSRF.with(|csrf| *csrf.borrow_mut() = state.csrf_token);
    member().set(state.member);
    access().set(if state.signed_in {
        Access::SignedIn
    } else {
        Access::SignedOut {
            password_set: state.password_set,
        }
    });
}

/// Signs in with the dashboard password, or as team user `user`.
pub async fn sign_in(user: Option<String>, password: String) -> Result<(), CommandError> {
    let body = serde_json::json!({ "password": password, "user": user }).to_string();
    let (status, answer) = fetch("api/login", Some(body)).await?;
    if status != 200 {
        return Err(decode_error(status, &answer));
    }
    check_access().await;
    Ok(())
}

/// Signs out (browser sessions only).
pub async fn sign_out() -> Result<(), CommandError> {
    let (status, answer) = fetch("api/logout", Some("{}".into())).await?;
    stop_events();
    CSRF.with(|csrf| *csrf.borrow_mut() = None);
    check_access().await;
    if status == 200 || status == 401 {
        Ok(())
    } else {
        Err(decode_error(status, &answer))
    }
}

/// Whether a sign-out makes sense (a browser session).
pub fn can_sign_out() -> bool {
    !in_app()
}

fn decode_error(status: u16, body: &str) -> CommandError {
    serde_json::from_str::<CommandError>(body).unwrap_or_else(|_| CommandError {
        kind: "http".into(),
        message: format!("the server answered {status}"),
    })
}

/// Runs a management operation and decodes its answer.
async fn call<T: DeserializeOwned>(operation: Operation) -> Result<T, CommandError> {
    let name = operation.name();
    let answer: serde_json::Value = if in_app() {
        invoke_with("manage", &serde_json::json!({ "call": operation })).await?
    } else {
        let body = serde_json::to_string(&operation).map_err(|error| CommandError {
            kind: "encode".into(),
            message: error.to_string(),
        })?;
        let (status, text) = fetch("api/call", Some(body)).await?;
        if status == 401 {
            check_access().await;
        }
        if status != 200 {
            return Err(decode_error(status, &text));
        }
        serde_json::from_str(&text).map_err(|error| CommandError {
            kind: "decode".into(),
            message: format!("unexpected answer from {name}: {error}"),
        })?
    };
    serde_json::from_value(answer).map_err(|error| CommandError {
        kind: "decode".into(),
        message: format!("unexpected answer from {name}: {error}"),
    })
}

/// Calls the desktop-only `command` with no arguments.
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
        .unwrap_or_else(|| "the desktop app did not answer".into());
    CommandError {
        kind: "ipc".into(),
        message,
    }
}

/// Writes `text` to the clipboard through the browser.
async fn browser_copy(text: &str) -> Result<(), CommandError> {
    let clipboard = window().navigator().clipboard();
    JsFuture::from(clipboard.write_text(text))
        .await
        .map(|_| ())
        .map_err(|_| CommandError {
            kind: "clipboard".into(),
            message: "the browser refused the clipboard (it needs HTTPS or localhost)".into(),
        })
}

/// Saves `contents` as `<stem>-<time>.<extension>`: in the desktop app into
/// Downloads (answers the path), in a browser as a download (answers the
/// file name).
async fn save(
    stem: &str,
    extension: &str,
    contents: String,
    private: bool,
) -> Result<String, CommandError> {
    if in_app() {
        return invoke_with(
            "save_file",
            &serde_json::json!({
                "stem": stem, "extension": extension, "contents": contents, "private": private
            }),
        )
        .await;
    }
    let stamp = String::from(js_sys::Date::new_0().to_iso_string()).replace([':', '.'], "-");
    let name = format!("{stem}-{stamp}.{extension}");
    let parts = js_sys::Array::of1(&JsValue::from_str(&contents));
    let blob = web_sys::Blob::new_with_str_sequence(&parts).map_err(js_error)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob).map_err(js_error)?;
    let anchor: web_sys::HtmlAnchorElement = document()
        .create_element("a")
        .map_err(js_error)?
        .unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(&name);
    anchor.click();
    let _ = web_sys::Url::revoke_object_url(&url);
    Ok(name)
}

fn stop_events() {
    EVENTS.with(|events| {
        if let Some(source) = events.borrow_mut().take() {
            source.close();
        }
    });
}

/// The browser's one `EventSource` for the dashboard's events.
fn event_source() -> Option<web_sys::EventSource> {
    EVENTS.with(|events| {
        let mut events = events.borrow_mut();
        if events
            .as_ref()
            .is_none_or(|source| source.ready_state() == 2)
        {
            *events = web_sys::EventSource::new("api/events").ok();
        }
        events.clone()
    })
}

/// Calls `handler` with the payload of every `event` published while the
/// calling component lives (payloads that do not decode are skipped).
pub fn on_event<T: DeserializeOwned + 'static>(event: &'static str, handler: impl Fn(T) + 'static) {
    if in_app() {
        on_app_event(event, handler);
        return;
    }
    let Some(source) = event_source() else {
        return;
    };
    let closure =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |message: web_sys::MessageEvent| {
            let data = message.data().as_string().unwrap_or_default();
            if let Ok(value) = serde_json::from_str(&data) {
                handler(value);
            }
        });
    let _ = source.add_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    let owned = send_wrapper::SendWrapper::new((source, closure));
    on_cleanup(move || {
        let (source, closure) = &*owned;
        let _ = source.remove_event_listener_with_callback(event, closure.as_ref().unchecked_ref());
    });
}

/// What the Overview page shows.
pub async fn get_overview() -> Result<Overview, CommandError> {
    call(Operation::GetOverview {}).await
}

/// Providers with their accounts and live status.
pub async fn list_providers() -> Result<Vec<ProviderView>, CommandError> {
    call(Operation::ListProviders {}).await
}

/// Adds an API-key provider (its key checked first unless told not to);
/// answers what was added.
pub async fn add_provider(input: NewProviderInput) -> Result<String, CommandError> {
    call(Operation::AddProvider { input }).await
}

/// Enables or disables a provider.
pub async fn set_provider_enabled(name: String, enabled: bool) -> Result<(), CommandError> {
    call(Operation::SetProviderEnabled { name, enabled }).await
}

/// Removes a provider.
pub async fn remove_provider(name: String) -> Result<(), CommandError> {
    call(Operation::RemoveProvider { name }).await
}

/// Sets how a provider picks accounts (`None`: the global setting).
pub async fn set_account_strategy(
    name: String,
    strategy: Option<String>,
) -> Result<(), CommandError> {
    call(Operation::SetAccountStrategy { name, strategy }).await
}

/// Adds an API-key account to a provider.
pub async fn add_account(
    provider: String,
    label: String,
    api_key: String,
    priority: i64,
) -> Result<(), CommandError> {
    call(Operation::AddAccount {
        provider,
        label,
        api_key,
        priority,
    })
    .await
}

/// Enables or disables an account.
pub async fn set_account_enabled(id: i64, enabled: bool) -> Result<(), CommandError> {
    call(Operation::SetAccountEnabled { id, enabled }).await
}

/// The request log, newest first.
pub async fn recent_requests(limit: u32) -> Result<Vec<RequestView>, CommandError> {
    call(Operation::RecentRequests { limit }).await
}

/// Combos.
pub async fn list_combos() -> Result<Vec<ComboView>, CommandError> {
    call(Operation::ListCombos {}).await
}

/// Adds or replaces a combo.
pub async fn save_combo(combo: ComboView) -> Result<(), CommandError> {
    call(Operation::SaveCombo { combo }).await
}

/// Removes a combo.
pub async fn remove_combo(name: String) -> Result<(), CommandError> {
    call(Operation::RemoveCombo { name }).await
}

/// Usage totals or a time series.
pub async fn usage_report(query: UsageQueryInput) -> Result<Vec<UsageRowView>, CommandError> {
    call(Operation::UsageReport { query }).await
}

/// Local API keys.
pub async fn list_api_keys() -> Result<Vec<ApiKeyView>, CommandError> {
    call(Operation::ListApiKeys {}).await
}

/// Creates a key (shown once).
pub async fn create_api_key(name: String) -> Result<CreatedApiKey, CommandError> {
    call(Operation::CreateApiKey { name }).await
}

/// Revokes a key.
pub async fn revoke_api_key(id: i64) -> Result<(), CommandError> {
    call(Operation::RevokeApiKey { id }).await
}

/// Pauses or resumes a key.
pub async fn set_api_key_paused(id: i64, paused: bool) -> Result<(), CommandError> {
    call(Operation::SetApiKeyPaused { id, paused }).await
}

/// Sets a key's budgets and rate limits.
pub async fn set_api_key_limits(
    id: i64,
    limits: switchyard_api_types::KeyLimitsView,
) -> Result<(), CommandError> {
    call(Operation::SetApiKeyLimits { id, limits }).await
}

/// Sets a key's owner, expiry and allowed models; answers a sentence.
pub async fn set_api_key_policy(
    id: i64,
    owner: Option<String>,
    expires_at: Option<i64>,
    allowed_models: Vec<String>,
) -> Result<String, CommandError> {
    call(Operation::SetApiKeyPolicy {
        id,
        owner,
        expires_at,
        allowed_models,
    })
    .await
}

/// Settings with their stored values.
pub async fn list_settings() -> Result<Vec<SettingView>, CommandError> {
    call(Operation::ListSettings {}).await
}

/// Changes a setting, or with `None` returns it to its default.
pub async fn set_setting(name: String, value: Option<String>) -> Result<(), CommandError> {
    call(Operation::SetSetting { name, value }).await
}

/// Puts API key `id` (or the newest copyable one) on the clipboard. In the
/// desktop app the key never reaches the page.
pub async fn copy_api_key(id: Option<i64>) -> Result<(), CommandError> {
    if in_app() {
        return invoke_with("copy_api_key", &serde_json::json!({ "id": id })).await;
    }
    let key: String = call(Operation::RevealApiKey { id }).await?;
    browser_copy(&key).await
}

/// Where the self-update stands.
pub async fn update_status() -> Result<UpdateStatusView, CommandError> {
    if !in_app() {
        return Err(unavailable("updating itself"));
    }
    invoke("update_status").await
}

/// Asks the release feed for an update now.
pub async fn check_for_updates() -> Result<UpdateStatusView, CommandError> {
    if !in_app() {
        return Err(unavailable("updating itself"));
    }
    invoke("check_for_updates").await
}

/// Installs the available update and restarts.
pub async fn install_update() -> Result<(), CommandError> {
    if !in_app() {
        return Err(unavailable("updating itself"));
    }
    invoke("install_update").await
}

/// The subscription services the app can log in to.
pub async fn list_services() -> Result<Vec<ServiceView>, CommandError> {
    call(Operation::ListServices {}).await
}

/// Starts a login; the outcome arrives as an event. In the desktop app a
/// browser login's page opens by itself; in a browser the page shows it.
pub async fn start_connect(service: String, device: bool) -> Result<ConnectStart, CommandError> {
    let started: ConnectStart = call(Operation::StartConnect {
        service,
        device: Some(device),
    })
    .await?;
    if let ConnectStart::Browser { url } = &started
        && in_app()
    {
        // The page shows the address too, should the browser not open.
        let _: Result<(), CommandError> =
            invoke_with("open_url", &serde_json::json!({ "url": url })).await;
    }
    Ok(started)
}

/// Finishes the waiting browser login with the address the browser ended on.
pub async fn finish_login(address: String) -> Result<(), CommandError> {
    call(Operation::FinishLogin { address }).await
}

/// Imports a service's CLI credentials; the outcome arrives as an event.
pub async fn import_account(service: String) -> Result<(), CommandError> {
    call(Operation::ImportAccount { service }).await
}

/// Adds an account from a refresh token; the outcome arrives as an event.
pub async fn connect_with_refresh_token(
    service: String,
    token: String,
) -> Result<(), CommandError> {
    call(Operation::ConnectWithRefreshToken { service, token }).await
}

/// Puts `text` on the clipboard.
pub async fn copy_text(text: String) -> Result<(), CommandError> {
    if in_app() {
        return invoke_with("copy_text", &serde_json::json!({ "text": text })).await;
    }
    browser_copy(&text).await
}

/// The tray menu as text lines.
pub async fn tray_preview() -> Result<Vec<String>, CommandError> {
    if !in_app() {
        return Err(unavailable("the tray"));
    }
    invoke("tray_preview").await
}

/// The bodies kept for request `id` (with `log_bodies` on).
pub async fn request_bodies(
    id: i64,
) -> Result<Option<switchyard_api_types::RequestBodiesView>, CommandError> {
    call(Operation::RequestBodies { id }).await
}

/// Aliases.
pub async fn list_aliases() -> Result<Vec<switchyard_api_types::AliasView>, CommandError> {
    call(Operation::ListAliases {}).await
}

/// Adds or replaces an alias.
pub async fn add_alias(name: String, target: String) -> Result<(), CommandError> {
    call(Operation::AddAlias { name, target }).await
}

/// Removes an alias.
pub async fn remove_alias(name: String) -> Result<(), CommandError> {
    call(Operation::RemoveAlias { name }).await
}

/// Saves usage rows as CSV (into Downloads, or as a browser download);
/// answers where.
pub async fn export_usage_csv(
    query: UsageQueryInput,
    name: String,
) -> Result<String, CommandError> {
    let csv: String = call(Operation::UsageCsv { query }).await?;
    save(&format!("switchyard-usage-{name}"), "csv", csv, false).await
}

/// Every coding tool and whether it points at Switchyard.
pub async fn list_tools() -> Result<Vec<switchyard_api_types::ToolStatus>, CommandError> {
    call(Operation::ListTools {}).await
}

/// Points a tool at Switchyard (backing up its file first).
pub async fn apply_tool(
    tool: switchyard_api_types::ToolId,
    model: Option<String>,
) -> Result<switchyard_api_types::ToolApplied, CommandError> {
    call(Operation::ApplyTool { tool, model }).await
}

/// Restores a tool's files from the backup.
pub async fn restore_tool(
    tool: switchyard_api_types::ToolId,
) -> Result<switchyard_api_types::ToolRestored, CommandError> {
    call(Operation::RestoreTool { tool }).await
}

/// The `switchyard://` links received and not yet handled.
pub async fn take_deep_links() -> Result<Vec<LinkView>, CommandError> {
    if !in_app() {
        return Ok(Vec::new());
    }
    invoke("take_deep_links").await
}

/// Whether the app starts at login (read from the OS).
pub async fn launch_at_login() -> Result<bool, CommandError> {
    if !in_app() {
        return Err(unavailable("launching at login"));
    }
    invoke("launch_at_login").await
}

/// Turns starting at login on or off; answers the state read back.
pub async fn set_launch_at_login(enabled: bool) -> Result<bool, CommandError> {
    if !in_app() {
        return Err(unavailable("launching at login"));
    }
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
    call(Operation::TargetOutcomes { from }).await
}

/// Renames an account.
pub async fn rename_account(id: i64, label: String) -> Result<(), CommandError> {
    call(Operation::RenameAccount { id, label }).await
}

/// Checks an account works; answers a sentence.
pub async fn test_account(id: i64) -> Result<String, CommandError> {
    call(Operation::TestAccount { id }).await
}

/// Changes an account's priority (lower goes first).
pub async fn set_account_priority(id: i64, priority: i64) -> Result<(), CommandError> {
    call(Operation::SetAccountPriority { id, priority }).await
}

/// Removes an account.
pub async fn remove_account(id: i64) -> Result<(), CommandError> {
    call(Operation::RemoveAccount { id }).await
}

/// Ends an account's cooldowns.
pub async fn reset_cooldowns(id: i64) -> Result<usize, CommandError> {
    call(Operation::ResetCooldowns { id }).await
}

/// Saves the configuration (secrets only if asked, then readable by the
/// user only); answers where.
pub async fn export_config(with_secrets: bool) -> Result<String, CommandError> {
    let json: String = call(Operation::ExportConfig { with_secrets }).await?;
    let stem = if with_secrets {
        "switchyard-config-with-secrets"
    } else {
        "switchyard-config"
    };
    save(stem, "json", json, true).await
}

/// Imports an exported configuration's text.
pub async fn import_config(
    json: String,
    dry_run: bool,
) -> Result<switchyard_api_types::TransferReport, CommandError> {
    call(Operation::ImportConfig { json, dry_run }).await
}

/// Where an installed 9router keeps its database.
pub async fn find_9router() -> Result<Option<String>, CommandError> {
    call(Operation::Find9router {}).await
}

/// Imports a 9router database.
pub async fn import_9router(
    path: Option<String>,
    dry_run: bool,
) -> Result<switchyard_api_types::TransferReport, CommandError> {
    call(Operation::Import9router { path, dry_run }).await
}

/// Prices: the built-in table and yours.
pub async fn list_prices() -> Result<Vec<switchyard_api_types::PriceView>, CommandError> {
    call(Operation::ListPrices {}).await
}

/// Sets a price of yours (overrides the built-in one).
pub async fn set_price(price: switchyard_api_types::PriceView) -> Result<(), CommandError> {
    call(Operation::SetPrice { price }).await
}

/// Removes a price of yours.
pub async fn remove_price(model: String) -> Result<(), CommandError> {
    call(Operation::RemovePrice { model }).await
}

/// The built-in providers the add form can start from.
pub async fn list_presets() -> Result<Vec<switchyard_api_types::PresetView>, CommandError> {
    call(Operation::ListPresets {}).await
}

/// Management calls recorded, newest first.
pub async fn management_log(
    limit: u32,
) -> Result<Vec<switchyard_api_types::ManagementEntryView>, CommandError> {
    call(Operation::ManagementLog { limit }).await
}

/// Management tokens (never the tokens).
pub async fn list_management_tokens()
-> Result<Vec<switchyard_api_types::ManagementTokenView>, CommandError> {
    call(Operation::ListManagementTokens {}).await
}

/// Makes a management token (shown once).
pub async fn create_management_token(
    name: String,
) -> Result<switchyard_api_types::CreatedManagementToken, CommandError> {
    call(Operation::CreateManagementToken { name }).await
}

/// Revokes a management token.
pub async fn revoke_management_token(id: i64) -> Result<(), CommandError> {
    call(Operation::RevokeManagementToken { id }).await
}

/// Turns `/metrics` on (answers its new token, shown once) or off.
pub async fn set_metrics_token(enabled: bool) -> Result<Option<String>, CommandError> {
    call(Operation::SetMetricsToken { enabled }).await
}

/// Webhooks.
pub async fn list_webhooks() -> Result<Vec<switchyard_api_types::WebhookView>, CommandError> {
    call(Operation::ListWebhooks {}).await
}

/// Adds a webhook; answers its signing secret (shown once).
pub async fn add_webhook(
    url: String,
    format: String,
    events: Vec<String>,
) -> Result<switchyard_api_types::CreatedWebhook, CommandError> {
    call(Operation::AddWebhook {
        url,
        format,
        events,
    })
    .await
}

/// Removes a webhook.
pub async fn remove_webhook(id: i64) -> Result<(), CommandError> {
    call(Operation::RemoveWebhook { id }).await
}

/// Turns a webhook on or off.
pub async fn set_webhook_enabled(id: i64, enabled: bool) -> Result<(), CommandError> {
    call(Operation::SetWebhookEnabled { id, enabled }).await
}

/// Sends a test event; answers how the delivery went.
pub async fn test_webhook(
    id: i64,
) -> Result<Option<switchyard_api_types::WebhookDeliveryView>, CommandError> {
    call(Operation::TestWebhook { id }).await
}

/// Webhook deliveries, newest first.
pub async fn webhook_deliveries(
    limit: u32,
) -> Result<Vec<switchyard_api_types::WebhookDeliveryView>, CommandError> {
    call(Operation::WebhookDeliveries { limit }).await
}

/// This installation's sync: its link to a hub, and as a hub its devices.
pub async fn sync_status() -> Result<switchyard_api_types::SyncView, CommandError> {
    call(Operation::SyncStatus {}).await
}

/// Links this installation to a hub with a pairing code.
pub async fn sync_link(
    hub_url: String,
    code: String,
    device_name: Option<String>,
    passphrase: Option<String>,
) -> Result<switchyard_api_types::SyncDeviceStatus, CommandError> {
    call(Operation::SyncLink {
        hub_url,
        code,
        device_name,
        passphrase,
        allow_http: false,
    })
    .await
}

/// Ends this installation's link to its hub.
pub async fn sync_unlink() -> Result<bool, CommandError> {
    call(Operation::SyncUnlink {}).await
}

/// Pushes and pulls once now.
pub async fn sync_now() -> Result<serde_json::Value, CommandError> {
    call(Operation::SyncNow {}).await
}

/// As a hub: a one-time pairing code.
pub async fn sync_pairing_code() -> Result<switchyard_api_types::PairingCodeView, CommandError> {
    call(Operation::SyncPairingCode {}).await
}

/// As a hub: revokes a linked device.
pub async fn sync_revoke_device(device: String) -> Result<String, CommandError> {
    call(Operation::SyncRevokeDevice { device }).await
}

/// Concurrent edits the hub recorded.
pub async fn sync_conflicts() -> Result<Vec<switchyard_api_types::SyncConflictView>, CommandError> {
    call(Operation::SyncConflicts {}).await
}

/// Puts back the value that lost a conflict.
pub async fn sync_restore(id: i64) -> Result<String, CommandError> {
    call(Operation::SyncRestore { id }).await
}

/// People who sign in to a served dashboard by name.
pub async fn list_dashboard_users()
-> Result<Vec<switchyard_api_types::DashboardUserView>, CommandError> {
    call(Operation::ListDashboardUsers {}).await
}

/// Adds or changes a dashboard user (`admin` or `member`).
pub async fn set_dashboard_user(
    name: String,
    password: String,
    role: String,
) -> Result<(), CommandError> {
    call(Operation::SetDashboardUser {
        name,
        password,
        role,
    })
    .await
}

/// Removes a dashboard user.
pub async fn remove_dashboard_user(name: String) -> Result<(), CommandError> {
    call(Operation::RemoveDashboardUser { name }).await
}

/// Sets the dashboard password (signs every browser out).
pub async fn set_dashboard_password(password: String) -> Result<(), CommandError> {
    call(Operation::SetDashboardPassword { password }).await
}
