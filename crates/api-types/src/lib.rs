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
