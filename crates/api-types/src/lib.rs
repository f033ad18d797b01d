//! Data shapes shared by the desktop shell, the CLI and the Leptos UI.
//!
//! Serde only, so the same definitions compile natively and to wasm32: the UI
//! deserialises exactly what the shell serialises, with no copied structs.

use serde::{Deserialize, Serialize};

/// Default address the gateway listens on.
pub const DEFAULT_HOST: &str = "127.0.0.1";
/// Default port the gateway listens on.
pub const DEFAULT_PORT: u16 = 20128;

/// Lifecycle state of the embedded gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GatewayState {
    /// Binding the listener.
    Starting,
    /// Accepting requests.
    Running,
    /// Could not start or stopped on an error; `message` says why in plain words.
    Failed {
        /// Human-readable reason, such as a port already in use.
        message: String,
    },
    /// Shut down on request.
    Stopped,
}

/// What the Overview page shows; returned by the `get_overview` command.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Overview {
    /// Address the gateway listens (or tried to listen) on, as `host:port`.
    pub listen_address: String,
    /// Base URL clients use, such as `http://127.0.0.1:20128/v1`.
    pub endpoint_url: String,
    /// Gateway lifecycle state.
    pub gateway: GatewayState,
    /// Provider connections configured, enabled or not.
    pub providers_total: u64,
    /// Provider connections currently enabled.
    pub providers_enabled: u64,
    /// Requests served since the data directory was created.
    pub requests_served: u64,
    /// Directory holding the database.
    pub data_dir: String,
}

/// Request totals, as shown by `switchyard usage` and the UI.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageTotals {
    /// Requests recorded.
    pub requests: u64,
    /// Requests that ended with a 2xx status.
    pub succeeded: u64,
    /// Requests that ended with any other status.
    pub failed: u64,
    /// Prompt (input) tokens reported by upstreams.
    pub prompt_tokens: u64,
    /// Completion (output) tokens reported by upstreams.
    pub completion_tokens: u64,
}

/// Error returned by every Tauri command: a machine-readable kind and a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandError {
    /// Stable category, such as `storage` or `not_found`.
    pub kind: String,
    /// Human-readable description, free of secrets.
    pub message: String,
}

/// A provider with its accounts, as the dashboard lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProviderView {
    /// Database id.
    pub id: i64,
    /// Display name.
    pub name: String,
    /// Wire format: `openai_compatible`, `anthropic_compatible`, `gemini`, `openai_responses`.
    pub kind: String,
    /// Model prefix.
    pub prefix: String,
    /// API base URL.
    pub base_url: String,
    /// Models listed in `/v1/models`.
    pub models: Vec<String>,
    /// Whether routing uses it.
    pub enabled: bool,
    /// `priority`, `round-robin`, `sticky`, or `None` for the global setting.
    pub account_strategy: Option<String>,
    /// The subscription service, e.g. `claude-code`, for OAuth providers.
    pub subscription: Option<String>,
    /// Its accounts.
    pub accounts: Vec<AccountView>,
}

/// One account, with what routing thinks of it now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountView {
    /// Database id.
    pub id: i64,
    /// Label, unique within the provider.
    pub label: String,
    /// `api_key` or `oauth`.
    pub auth: String,
    /// Whose account, when known.
    pub email: Option<String>,
    /// Lower goes first.
    pub priority: i64,
    /// Whether routing may use it.
    pub enabled: bool,
    /// What routing thinks of it now.
    pub status: AccountStatus,
    /// Its quota windows.
    pub quotas: Vec<QuotaWindowView>,
}

/// An account's state as routing sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum AccountStatus {
    /// Used normally.
    Ok,
    /// Switched off by the user.
    Off,
    /// Skipped until `until` (Unix ms) after a failure.
    CoolingDown {
        /// End of the cooldown, Unix milliseconds.
        until: i64,
        /// The failure, in a few words.
        reason: String,
        /// The model locked out, or `None` for the whole account.
        model: Option<String>,
    },
    /// A refresh failed for good: the user must log in again.
    NeedsLogin,
}

/// One quota window of an account.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuotaWindowView {
    /// The window's name: `five_hour`, `day requests`, ...
    pub window: String,
    /// Percent used, when the service reports a percentage.
    pub used_percent: Option<f64>,
    /// Used so far, for local limits.
    pub used: Option<u64>,
    /// The limit, for local limits.
    pub max: Option<u64>,
    /// When it resets, Unix milliseconds.
    pub resets_at: Option<i64>,
}

/// What is needed to add an API-key provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewProviderInput {
    /// Display name.
    pub name: String,
    /// Model prefix.
    pub prefix: String,
    /// `openai`, `anthropic`, `gemini` or `responses`.
    pub kind: String,
    /// API base URL.
    pub base_url: String,
    /// The API key (sent once, never returned).
    pub api_key: String,
    /// Models to list.
    pub models: Vec<String>,
}

/// A local API key, without the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyView {
    /// Database id.
    pub id: i64,
    /// Label.
    pub name: String,
    /// The first characters of the key.
    pub hint: String,
    /// Creation time, Unix ms.
    pub created_at: i64,
    /// Whether it was revoked.
    pub revoked: bool,
}

/// A key just created: the only time the key itself is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedApiKey {
    /// Database id.
    pub id: i64,
    /// Label.
    pub name: String,
    /// The key.
    pub key: String,
}

/// A combo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComboView {
    /// Name clients use as the model.
    pub name: String,
    /// `fallback`, `round-robin` or `weighted`.
    pub strategy: String,
    /// Its targets, in order.
    pub targets: Vec<ComboTargetView>,
}

/// One target of a combo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComboTargetView {
    /// `prefix/model`, an alias or a combo.
    pub target: String,
    /// Share of first picks when weighted.
    pub weight: u32,
    /// Whether it is used.
    pub enabled: bool,
}

/// An alias.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasView {
    /// The short name.
    pub name: String,
    /// What it stands for.
    pub target: String,
}

/// A model's price in USD per million tokens.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PriceView {
    /// Model id or `prefix/model`.
    pub model: String,
    /// Uncached input.
    pub input_per_mtok: f64,
    /// Output.
    pub output_per_mtok: f64,
    /// Cache reads.
    pub cache_read_per_mtok: Option<f64>,
    /// Cache writes.
    pub cache_write_per_mtok: Option<f64>,
    /// `yours` or `built-in`.
    pub source: String,
}

/// A setting with its stored value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SettingView {
    /// Its name, e.g. `cooldown_cap_secs`.
    pub name: String,
    /// The stored value, or `None` for the default.
    pub value: Option<String>,
}

/// What usage to total.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct UsageQueryInput {
    /// From, Unix ms.
    pub from: Option<i64>,
    /// Until, Unix ms.
    pub to: Option<i64>,
    /// `provider`, `model`, `account`, `api-key` or `combo`.
    pub by: Option<String>,
    /// Bucket size for a time series, ms.
    pub bucket_ms: Option<i64>,
}

/// Totals for one group (and bucket).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct UsageRowView {
    /// The group, e.g. an account's `provider/label`.
    pub key: Option<String>,
    /// Bucket start, Unix ms, in a time series.
    pub bucket_start: Option<i64>,
    /// Requests.
    pub requests: u64,
    /// With a 2xx.
    pub succeeded: u64,
    /// Otherwise.
    pub failed: u64,
    /// Failed attempts before final answers.
    pub fallbacks: u64,
    /// Input tokens.
    pub prompt_tokens: u64,
    /// Output tokens.
    pub completion_tokens: u64,
    /// Cached input tokens.
    pub cached_tokens: u64,
    /// Reasoning tokens.
    pub reasoning_tokens: u64,
    /// Cost, USD.
    pub cost_usd: f64,
}

/// One try of a request on one target and account, as stored in the request
/// log (the store uses this type itself) and shown by the dashboard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AttemptView {
    /// The `prefix/model` target tried.
    pub target: String,
    /// Provider name, when the target named one.
    pub provider: Option<String>,
    /// Account label, when an account was tried.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Status of the attempt (502 for a connection error, 504 for a timeout).
    pub status: u16,
    /// Time the attempt took, milliseconds.
    pub latency_ms: u64,
    /// Why it failed or was skipped, in a few words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Left out without a request (cooling down, over quota, breaker open).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
}

/// One logged request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RequestView {
    /// Database id.
    pub id: i64,
    /// Arrival, Unix ms.
    pub started_at: i64,
    /// Client dialect.
    pub dialect: Option<String>,
    /// Model as the client named it.
    pub model: String,
    /// Final status.
    pub status: u16,
    /// Whether it streamed.
    pub stream: bool,
    /// Total time, ms.
    pub latency_ms: u64,
    /// Time to first byte, ms.
    pub ttfb_ms: Option<u64>,
    /// Input tokens.
    pub prompt_tokens: Option<u64>,
    /// Output tokens.
    pub completion_tokens: Option<u64>,
    /// Cost, USD.
    pub cost_usd: Option<f64>,
    /// Every attempt.
    pub attempts: Vec<AttemptView>,
}

/// How a started login continues.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ConnectStart {
    /// Open `url` in a browser; the app listens for the callback.
    Browser {
        /// The service's sign-in page.
        url: String,
    },
    /// Enter `user_code` at `verification_uri`; the app polls.
    Device {
        /// The code to type.
        user_code: String,
        /// Where to type it.
        verification_uri: String,
    },
}
