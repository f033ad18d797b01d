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
    /// What runs the gateway: the desktop app or a server.
    #[serde(default)]
    pub host: HostKind,
    /// The version of Switchyard answering.
    #[serde(default)]
    pub version: String,
}

/// What runs the gateway and the dashboard: features such as the tray,
/// launching at login and self-updates exist only on the desktop.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostKind {
    /// The desktop app.
    #[default]
    Desktop,
    /// `switchyard serve`, its dashboard in a browser.
    Server,
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
    /// Models to list; empty: the provider's own list, read while checking.
    pub models: Vec<String>,
    /// Save without first checking the key against the provider.
    #[serde(default)]
    pub skip_check: bool,
}

/// A local API key, without the key itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Whether a sealed copy is kept, so it can be copied again.
    pub copyable: bool,
    /// Whether it is paused.
    #[serde(default)]
    pub paused: bool,
    /// When it stops working (Unix ms), if ever.
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Who it was given to.
    #[serde(default)]
    pub owner: Option<String>,
    /// Model patterns it may use; empty: every model.
    #[serde(default)]
    pub allowed_models: Vec<String>,
    /// Its budgets and rate limits.
    #[serde(default)]
    pub limits: KeyLimitsView,
    /// Each budget with what was spent in its current window.
    #[serde(default)]
    pub budgets: Vec<KeyBudgetView>,
}

/// An API key's budgets (USD) and rate limits; `None`: no limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KeyLimitsView {
    /// USD per UTC day.
    pub budget_day_usd: Option<f64>,
    /// USD per ISO week (from Monday, UTC).
    pub budget_week_usd: Option<f64>,
    /// USD per calendar month (UTC).
    pub budget_month_usd: Option<f64>,
    /// Percent of a budget at which a warning goes out.
    pub budget_warn_percent: Option<u32>,
    /// Requests per minute.
    pub requests_per_minute: Option<u32>,
    /// Tokens (prompt and completion) per minute.
    pub tokens_per_minute: Option<u64>,
}

/// One budget of a key in its current window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeyBudgetView {
    /// `day`, `week` or `month`.
    pub window: String,
    /// The budget, USD.
    pub limit_usd: f64,
    /// Spent in the current window, USD.
    pub spent_usd: f64,
    /// When the window resets (Unix ms).
    pub resets_at: i64,
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
    /// USD per image made, if priced so.
    #[serde(default)]
    pub per_image: Option<f64>,
    /// USD per second of audio heard, if priced so.
    #[serde(default)]
    pub per_audio_second: Option<f64>,
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
        /// A link with the code filled in, when the service gives one.
        verification_uri_complete: Option<String>,
        /// Seconds until the code expires.
        expires_in_secs: u64,
    },
}

/// A subscription service the app can log in to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceView {
    /// Id used by `connect`, such as `claude-code`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Default model prefix, such as `cc`.
    pub prefix: String,
    /// `browser` or `device`.
    pub login: String,
    /// Whether a browser-login service also offers a device code.
    pub device_option: bool,
    /// Where its official CLI keeps credentials on this machine, when that
    /// file exists (so it can be imported).
    pub import_from: Option<String>,
    /// A caution about the provider's terms, if any.
    pub terms_note: Option<String>,
}

/// Where the app's self-update stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum UpdateState {
    /// No check yet.
    Idle,
    /// Asking the release feed.
    Checking,
    /// The feed has nothing newer.
    UpToDate,
    /// A signed update is available; installing waits for the user.
    Available {
        /// Its version.
        version: String,
        /// Release notes, if the feed has them.
        notes: Option<String>,
    },
    /// Downloading (then verifying) the update.
    Downloading {
        /// Its version.
        version: String,
        /// Percent done, when the size is known.
        percent: Option<u8>,
    },
    /// Installed; the app restarts into it.
    Installed {
        /// Its version.
        version: String,
    },
    /// The check or the install failed (a refused signature included).
    Failed {
        /// What went wrong, in plain words.
        message: String,
    },
}

/// The self-update status shown in Settings and the tray.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpdateStatusView {
    /// The running version.
    pub current_version: String,
    /// Where the update stands.
    pub state: UpdateState,
    /// When the feed was last asked, Unix ms.
    pub checked_at: Option<i64>,
}

/// A coding tool that `switchyard setup` (and the dashboard) can point at the gateway.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ToolId {
    /// Anthropic's Claude Code CLI.
    ClaudeCode,
    /// OpenAI's Codex CLI.
    Codex,
    /// Google's Gemini CLI.
    GeminiCli,
    /// OpenCode (sst/opencode).
    Opencode,
    /// The Continue extension for VS Code and JetBrains.
    Continue,
    /// The Cline VS Code extension.
    Cline,
    /// The Roo Code VS Code extension.
    RooCode,
    /// The Cursor editor.
    Cursor,
    /// OpenClaw.
    Openclaw,
    /// Factory's Droid CLI.
    Droid,
}

impl ToolId {
    /// Every tool, in the order they are listed.
    pub const ALL: [Self; 10] = [
        Self::ClaudeCode,
        Self::Codex,
        Self::GeminiCli,
        Self::Opencode,
        Self::Continue,
        Self::Cline,
        Self::RooCode,
        Self::Cursor,
        Self::Openclaw,
        Self::Droid,
    ];

    /// The id as written on the command line and in JSON, such as `claude-code`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ClaudeCode => "claude-code",
            Self::Codex => "codex",
            Self::GeminiCli => "gemini-cli",
            Self::Opencode => "opencode",
            Self::Continue => "continue",
            Self::Cline => "cline",
            Self::RooCode => "roo-code",
            Self::Cursor => "cursor",
            Self::Openclaw => "openclaw",
            Self::Droid => "droid",
        }
    }

    /// Parses an id, accepting a few obvious aliases (`claude`, `gemini`, `roo`, `factory`).
    pub fn parse(text: &str) -> Option<Self> {
        let text = text.trim().to_ascii_lowercase();
        let id = match text.as_str() {
            "claude" | "claude-code" => Self::ClaudeCode,
            "codex" | "codex-cli" => Self::Codex,
            "gemini" | "gemini-cli" => Self::GeminiCli,
            "opencode" => Self::Opencode,
            "continue" => Self::Continue,
            "cline" => Self::Cline,
            "roo" | "roo-code" | "roocode" => Self::RooCode,
            "cursor" => Self::Cursor,
            "openclaw" => Self::Openclaw,
            "droid" | "factory" => Self::Droid,
            _ => return None,
        };
        Some(id)
    }
}

/// How Switchyard sets a tool up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ToolSetupKind {
    /// Switchyard edits the tool's own configuration file.
    File,
    /// The tool keeps its settings where Switchyard cannot write them (an
    /// editor's internal state); Switchyard shows the values to paste.
    Manual,
}

/// A tool Switchyard knows how to set up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolInfo {
    /// Stable id.
    pub id: ToolId,
    /// Display name.
    pub name: String,
    /// Whether Switchyard writes the configuration or shows values to paste.
    pub setup: ToolSetupKind,
    /// The files Switchyard edits, written with `~` for the home directory.
    pub config_files: Vec<String>,
    /// The API dialect the tool speaks to the gateway.
    pub speaks: String,
    /// Whether a model (or combo) name must be chosen to set the tool up.
    pub model_required: bool,
}

/// What Switchyard should point a tool at.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolSetupOptions {
    /// The gateway's root URL, such as `http://127.0.0.1:20128` (a trailing
    /// `/v1` is accepted and ignored; each tool gets the form it needs).
    pub base_url: String,
    /// A Switchyard API key for the tool to send; `None` keeps the key the
    /// tool's Switchyard entry already has, if any.
    pub api_key: Option<String>,
    /// A model, combo or alias name; `None` keeps the tool's current one.
    pub model: Option<String>,
}

/// One value to paste into a tool that Switchyard cannot configure itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualValue {
    /// The field's name as the tool labels it.
    pub label: String,
    /// What to paste.
    pub value: String,
    /// Whether the value is an API key (shown once, never logged).
    pub secret: bool,
}

/// Exact steps and values for setting a tool up by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManualSetup {
    /// Where to go in the tool, in order.
    pub steps: Vec<String>,
    /// The values to paste.
    pub values: Vec<ManualValue>,
    /// A known limitation, in plain words.
    pub caveat: Option<String>,
}

/// A tool's state on this machine: installed, and pointed at Switchyard or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolStatus {
    /// Which tool.
    pub tool: ToolId,
    /// Display name.
    pub name: String,
    /// Whether Switchyard writes the configuration or shows values to paste.
    pub setup: ToolSetupKind,
    /// Whether the tool looks installed (its config folder or its program was found).
    pub installed: bool,
    /// What was found, such as `~/.codex` or `codex on PATH`.
    pub detected: Vec<String>,
    /// The configuration file Switchyard reads and writes (for manual tools,
    /// the extension or app folder found).
    pub config_path: Option<String>,
    /// Whether that file exists.
    pub config_exists: bool,
    /// Whether the tool's active setting points at this gateway; `None` for
    /// manual tools, whose settings Switchyard cannot read.
    pub configured_for_switchyard: Option<bool>,
    /// The base URL the tool's active setting uses.
    pub current_base_url: Option<String>,
    /// The model the tool's active setting uses.
    pub current_model: Option<String>,
    /// Whether an API key is set in the active setting (the key itself is never shown).
    pub has_api_key: bool,
    /// Whether Switchyard holds a backup of the file as it was before its first change.
    pub has_backup: bool,
    /// Where that backup is.
    pub backup_path: Option<String>,
    /// Why the file could not be read (malformed, unreadable), in plain words.
    pub problem: Option<String>,
    /// For manual tools: what to paste, for the gateway this status was asked for.
    pub manual: Option<ManualSetup>,
}

/// What setting a tool up did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolApplied {
    /// Which tool.
    pub tool: ToolId,
    /// True when nothing was written and `manual` says what to paste.
    pub is_manual: bool,
    /// Files written.
    pub files_written: Vec<String>,
    /// Whether this change made the backup (false when one already existed).
    pub backup_created: bool,
    /// Where the backup of the original files is.
    pub backup_path: Option<String>,
    /// For manual tools: the steps and values.
    pub manual: Option<ManualSetup>,
    /// Things the user should know, such as an environment variable to export.
    pub notes: Vec<String>,
}

/// What restoring a tool's original configuration did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolRestored {
    /// Which tool.
    pub tool: ToolId,
    /// Files put back as they were before Switchyard's first change.
    pub restored: Vec<String>,
    /// Files removed because they did not exist before Switchyard created them.
    pub removed: Vec<String>,
    /// Copies of files that had changed since Switchyard wrote them, saved
    /// before restoring so those changes are not lost.
    pub saved_copies: Vec<String>,
}

/// The bodies kept for one request (only while `log_bodies` is on; keys
/// redacted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestBodiesView {
    /// What the client sent.
    pub request: Option<String>,
    /// What the client received.
    pub response: Option<String>,
}

/// What an import of a configuration (a Switchyard export or another
/// router's database) did, or, for a dry run, would do.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferReport {
    /// True when nothing was written: the report says what an import would do.
    pub dry_run: bool,
    /// Items created, such as `provider cc` or `account cc/me@example.com`.
    pub added: Vec<String>,
    /// Items that existed (same prefix, label or name) and were changed.
    pub updated: Vec<String>,
    /// Items left out, each with the reason.
    pub skipped: Vec<TransferSkip>,
    /// Other things the user should know, such as a prefix chosen because the
    /// original one was taken.
    pub notes: Vec<String>,
}

/// One item an import left out, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferSkip {
    /// What was left out, such as `account cc/work` or `combo fast`.
    pub item: String,
    /// Why, in plain words (never a secret).
    pub reason: String,
}

/// How attempts on one target went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetOutcomeView {
    /// `prefix/model`.
    pub target: String,
    /// Attempts sent to it.
    pub attempts: u64,
    /// Those answered 2xx.
    pub succeeded: u64,
}

/// A built-in provider the add form can start from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PresetView {
    /// Preset id, such as `openrouter`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// `openai`, `anthropic`, `gemini` or `responses`.
    pub kind: String,
    /// Default prefix.
    pub prefix: String,
    /// Base URL.
    pub base_url: String,
    /// Starter models.
    pub models: Vec<String>,
}

/// A `switchyard://` link the shell validated, as the dashboard receives it
/// (`take_deep_links`); a login callback's code never leaves the shell.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum LinkView {
    /// Start logging in to a service.
    Connect {
        /// The service id, e.g. `claude-code`.
        service: String,
    },
    /// Add a combo someone shared.
    ImportCombo {
        /// The combo's name.
        name: String,
        /// Its `prefix/model` targets, in order.
        targets: Vec<String>,
    },
    /// Add a provider node someone shared; the user adds the key.
    ImportProvider {
        /// Display name.
        name: String,
        /// Wire format: `openai`, `anthropic`, `responses` or `gemini`.
        format: String,
        /// Base URL (http or https, no credentials in it).
        base_url: String,
        /// Model prefix.
        prefix: String,
        /// Models to list.
        models: Vec<String>,
    },
    /// A login callback arrived; whether a waiting login took it.
    OauthCallback {
        /// A login was waiting for it.
        delivered: bool,
    },
    /// The link was refused.
    Refused {
        /// Why, for the user.
        message: String,
    },
}

/// One management operation: everything the dashboard, and the CLI with
/// `--remote`, can ask of the app or a server. The desktop carries it in
/// one Tauri command, a server in `POST /dashboard/api/call`; on the wire
/// it is `{"op": "<name>", "args": {...}}`, argument names in camelCase.
#[derive(Debug, Clone, Serialize, Deserialize, strum::IntoStaticStr, strum::VariantNames)]
#[serde(
    tag = "op",
    content = "args",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
#[strum(serialize_all = "snake_case")]
pub enum Operation {
    /// What the Overview page shows.
    GetOverview {},
    /// Providers with their accounts and live status.
    ListProviders {},
    /// Adds an API-key provider, its key checked first unless `skip_check`.
    AddProvider { input: NewProviderInput },
    /// Enables or disables a provider (by name or prefix).
    SetProviderEnabled { name: String, enabled: bool },
    /// Removes a provider.
    RemoveProvider { name: String },
    /// How a provider picks accounts (`None`: the global setting).
    SetAccountStrategy {
        name: String,
        strategy: Option<String>,
    },
    /// Adds an API-key account to a provider.
    AddAccount {
        provider: String,
        label: String,
        api_key: String,
        priority: i64,
    },
    /// Enables or disables an account.
    SetAccountEnabled { id: i64, enabled: bool },
    /// Changes an account's priority (lower goes first).
    SetAccountPriority { id: i64, priority: i64 },
    /// Ends an account's cooldowns.
    ResetCooldowns { id: i64 },
    /// Removes an account.
    RemoveAccount { id: i64 },
    /// Renames an account.
    RenameAccount { id: i64, label: String },
    /// Checks an account works; answers a sentence.
    TestAccount { id: i64 },
    /// Local API keys (never the keys themselves).
    ListApiKeys {},
    /// Creates a key, shown once.
    CreateApiKey { name: String },
    /// Revokes a key.
    RevokeApiKey { id: i64 },
    /// A copyable key's value (key `id`, else the newest, else a new one).
    RevealApiKey { id: Option<i64> },
    /// Pauses or resumes a key (a paused key is refused, not unknown).
    SetApiKeyPaused { id: i64, paused: bool },
    /// Sets a key's budgets and rate limits (replacing them).
    SetApiKeyLimits { id: i64, limits: KeyLimitsView },
    /// Sets a key's owner, expiry (Unix ms) and allowed model patterns
    /// (`glm/*`, a combo, an alias; empty: every model).
    SetApiKeyPolicy {
        id: i64,
        owner: Option<String>,
        expires_at: Option<i64>,
        allowed_models: Vec<String>,
    },
    /// Combos.
    ListCombos {},
    /// Adds or replaces a combo.
    SaveCombo { combo: ComboView },
    /// Removes a combo.
    RemoveCombo { name: String },
    /// Aliases.
    ListAliases {},
    /// Adds or replaces an alias.
    AddAlias { name: String, target: String },
    /// Removes an alias.
    RemoveAlias { name: String },
    /// Prices: yours and the built-in table.
    ListPrices {},
    /// Sets a price of yours.
    SetPrice { price: PriceView },
    /// Removes a price of yours.
    RemovePrice { model: String },
    /// Settings with their stored values.
    ListSettings {},
    /// Changes a setting, or with `None` returns it to its default.
    SetSetting { name: String, value: Option<String> },
    /// Usage totals or a time series.
    UsageReport { query: UsageQueryInput },
    /// Usage rows as CSV text.
    UsageCsv { query: UsageQueryInput },
    /// The request log, newest first.
    RecentRequests { limit: u32 },
    /// The bodies kept for a request (with `log_bodies` on).
    RequestBodies { id: i64 },
    /// Attempts and successes per target since `from` (Unix ms).
    TargetOutcomes { from: i64 },
    /// The subscription services one can log in to.
    ListServices {},
    /// Starts a login; the outcome arrives as an event.
    StartConnect {
        service: String,
        device: Option<bool>,
    },
    /// Finishes a waiting browser login with the address the browser ended on.
    FinishLogin { address: String },
    /// Imports a service's CLI credentials; the outcome arrives as an event.
    ImportAccount { service: String },
    /// Adds an account from a refresh token; the outcome arrives as an event.
    ConnectWithRefreshToken { service: String, token: String },
    /// Every coding tool and whether it points at Switchyard.
    ListTools {},
    /// Points a tool at Switchyard, backing up its file first.
    ApplyTool { tool: ToolId, model: Option<String> },
    /// Restores a tool's files from the backup.
    RestoreTool { tool: ToolId },
    /// The configuration as JSON text (secrets only if asked).
    ExportConfig { with_secrets: bool },
    /// Imports an exported configuration's text.
    ImportConfig { json: String, dry_run: bool },
    /// Where an installed 9router keeps its database.
    #[serde(rename = "find_9router")]
    #[strum(serialize = "find_9router")]
    Find9router {},
    /// Imports a 9router database.
    #[serde(rename = "import_9router")]
    #[strum(serialize = "import_9router")]
    Import9router { path: Option<String>, dry_run: bool },
    /// The built-in providers the add form can start from.
    ListPresets {},
    /// Management calls recorded, newest first.
    ManagementLog { limit: u32 },
    /// Tokens for managing a server from elsewhere (never the tokens).
    ListManagementTokens {},
    /// Creates a management token, shown once.
    CreateManagementToken { name: String },
    /// Revokes a management token.
    RevokeManagementToken { id: i64 },
    /// Sets the dashboard password (at least 10 characters).
    SetDashboardPassword { password: String },
    /// People who sign in by name (team mode), with their roles.
    ListDashboardUsers {},
    /// Adds or changes a user: `role` is `admin` or `member` (members
    /// manage only their own API keys and see only their usage).
    SetDashboardUser {
        name: String,
        password: String,
        role: String,
    },
    /// Removes a user and ends their sessions.
    RemoveDashboardUser { name: String },
    /// Turns `/metrics` on with a new token (answered once) or off.
    SetMetricsToken { enabled: bool },
    /// Webhooks (never their secrets).
    ListWebhooks {},
    /// Adds a webhook for `events` (none: all) in `format` (`json`,
    /// `slack`, `discord`); answers its signing secret, shown once.
    AddWebhook {
        url: String,
        format: String,
        events: Vec<String>,
    },
    /// Removes a webhook.
    RemoveWebhook { id: i64 },
    /// Turns a webhook on (its failures start over) or off.
    SetWebhookEnabled { id: i64, enabled: bool },
    /// Sends a `test` event to a webhook; answers how the delivery went.
    TestWebhook { id: i64 },
    /// Webhook deliveries, newest first.
    WebhookDeliveries { limit: u32 },
    /// This installation's sync: its link to a hub, and as a hub its
    /// linked devices.
    SyncStatus {},
    /// Links this installation to a hub with the one-time code the hub
    /// showed; with a passphrase, records are sealed end to end.
    SyncLink {
        hub_url: String,
        code: String,
        device_name: Option<String>,
        passphrase: Option<String>,
        #[serde(default)]
        allow_http: bool,
    },
    /// Ends this installation's link to its hub (the configuration stays).
    SyncUnlink {},
    /// Pushes and pulls once now.
    SyncNow {},
    /// As a hub: a one-time code for linking a device (valid 10 minutes).
    SyncPairingCode {},
    /// As a hub: revokes a linked device (by id or name).
    SyncRevokeDevice { device: String },
    /// Concurrent edits the hub recorded, newest first, with the values
    /// that lost.
    SyncConflicts {},
    /// Puts back the value that lost a conflict (it syncs as a new edit).
    SyncRestore { id: i64 },
}

/// This installation's link to a sync hub, as the tray and the dashboard show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncDeviceStatus {
    /// Whether it is linked to a hub.
    pub linked: bool,
    /// The hub.
    pub hub_url: Option<String>,
    /// Its id at the hub.
    pub device_id: Option<String>,
    /// Its name at the hub.
    pub device_name: Option<String>,
    /// `synced`, `syncing`, `offline`, `conflict`, `revoked`, `error` or `unlinked`.
    pub state: String,
    /// When a round last completed (Unix ms).
    pub last_sync_at: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// Conflicts the hub holds open.
    pub open_conflicts: i64,
    /// Whether records are sealed end to end.
    pub e2e: bool,
}

/// A device linked to this hub.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LinkedDeviceView {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// When it linked (Unix ms).
    pub created_at: i64,
    /// Its last push or pull (Unix ms).
    pub last_seen_at: Option<i64>,
    /// When it was revoked.
    pub revoked_at: Option<i64>,
    /// Requests in its usage summaries (the last two days).
    pub requests: i64,
    /// Their cost, USD.
    pub cost_usd: f64,
}

/// This installation's sync, both sides.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncView {
    /// Its own link to a hub.
    pub device: SyncDeviceStatus,
    /// As a hub: the devices linked to it.
    pub devices: Vec<LinkedDeviceView>,
    /// As a hub: whether its records are sealed end to end.
    pub hub_e2e: bool,
}

/// A pairing code just made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairingCodeView {
    /// The code (`ABCDE-FGHJK`), for `switchyard sync link URL CODE`.
    pub code: String,
    /// When it stops working (Unix ms).
    pub expires_at: i64,
}

/// A concurrent edit recorded by the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncConflictView {
    /// Its id, for restore.
    pub id: i64,
    /// The record's kind (`combo`, `provider`, ...).
    pub kind: String,
    /// The record's name.
    pub name: String,
    /// The device whose edit stands.
    pub winner_device: String,
    /// The device whose edit lost.
    pub loser_device: String,
    /// The value that lost (JSON; secrets included, shown to administrators).
    pub kept: Option<String>,
    /// When (the hub's clock, Unix ms).
    pub at: i64,
    /// When it was restored or dismissed.
    pub resolved_at: Option<i64>,
}

/// A webhook as listed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookView {
    /// Row id.
    pub id: i64,
    /// Where events are posted.
    pub url: String,
    /// `json`, `slack` or `discord`.
    pub format: String,
    /// The events it wants; empty: all.
    pub events: Vec<String>,
    /// Whether it is on (off after repeated failures).
    pub enabled: bool,
    /// Failed deliveries in a row.
    pub consecutive_failures: i64,
}

/// A webhook just added, with its signing secret (shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedWebhook {
    /// The webhook.
    pub webhook: WebhookView,
    /// The HMAC-SHA256 key of `X-Switchyard-Signature`.
    pub secret: String,
}

/// One webhook delivery as recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookDeliveryView {
    /// The webhook.
    pub webhook_id: i64,
    /// The event.
    pub event: String,
    /// When it ended (Unix ms).
    pub at: i64,
    /// Attempts made.
    pub attempts: i64,
    /// The last HTTP status.
    pub status: Option<u16>,
    /// `delivered` or `failed`.
    pub outcome: String,
    /// Why the last attempt failed.
    pub error: Option<String>,
}

impl Operation {
    /// The operation's name, as on the wire.
    pub fn name(&self) -> &'static str {
        self.into()
    }

    /// Every operation's name.
    pub fn names() -> &'static [&'static str] {
        <Self as strum::VariantNames>::VARIANTS
    }

    /// Whether the operation changes anything (and is recorded).
    pub fn changes_state(&self) -> bool {
        !matches!(
            self,
            Self::GetOverview {}
                | Self::ListProviders {}
                | Self::ListApiKeys {}
                | Self::ListCombos {}
                | Self::ListAliases {}
                | Self::ListPrices {}
                | Self::ListSettings {}
                | Self::UsageReport { .. }
                | Self::UsageCsv { .. }
                | Self::RecentRequests { .. }
                | Self::RequestBodies { .. }
                | Self::TargetOutcomes { .. }
                | Self::ListServices {}
                | Self::ListTools {}
                | Self::Find9router {}
                | Self::ListPresets {}
                | Self::ManagementLog { .. }
                | Self::ListManagementTokens {}
                | Self::ListWebhooks {}
                | Self::ListDashboardUsers {}
                | Self::WebhookDeliveries { .. }
                | Self::SyncStatus {}
                | Self::SyncConflicts {}
                | Self::ImportConfig { dry_run: true, .. }
                | Self::Import9router { dry_run: true, .. }
        )
    }
}

/// A person who signs in to the dashboard by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DashboardUserView {
    /// Their name.
    pub name: String,
    /// `admin` or `member`.
    pub role: String,
    /// When they were added (Unix ms).
    pub created_at: i64,
}

/// A management call as recorded: who, what, when, and how it ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementEntryView {
    /// When (Unix ms).
    pub at: i64,
    /// Who: `desktop`, `cli`, `browser <address>` or `token <name>`.
    pub actor: String,
    /// The operation's name.
    pub operation: String,
    /// Its arguments with secrets taken out.
    pub detail: String,
    /// `ok`, or the error's kind.
    pub outcome: String,
}

/// A management token as listed (the token itself is shown once).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementTokenView {
    /// Row id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// When it was made (Unix ms).
    pub created_at: i64,
    /// When it was last used (Unix ms).
    pub last_used_at: Option<i64>,
}

/// A management token just made: the only time its value is shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedManagementToken {
    /// Row id.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// The token, for `switchyard --remote URL --token ...`.
    pub token: String,
}

/// An event the app or server publishes to dashboards: Tauri events on the
/// desktop, server-sent events in a browser, same names and payloads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ManageEvent {
    /// `state-changed`, `requests-recorded`, `account-connected`, `connect-failed`, ...
    pub name: String,
    /// The event's JSON payload.
    pub payload: serde_json::Value,
}
