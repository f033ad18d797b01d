//! Providers as types, and how their accounts log in. Each API-key family (by wire format) and each
//! subscription service is one type implementing [`ProviderApi`]: where
//! its requests go, how they are authenticated (with the body in view, for
//! services that sign), how bodies and answers are wrapped, what its
//! refusals mean, and for subscription services the login data, the
//! credentials file of the official CLI, what a login still needs, the
//! per-request token exchange and the usage windows. [`ProviderTable`] holds
//! the services by id; adding one is one module and one row in [`BUILTIN`].

mod antigravity;
mod api_key;
mod claude_code;
mod codex;
mod gemini_cli;
mod github_copilot;
mod iflow;
mod kiro;
mod login;
pub mod oauth;
mod qwen;
pub mod side_call;
pub mod tls;

use std::collections::HashMap;
use std::path::Path;

use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use switchyard_store::{Account, Provider, ServiceQuota};

use crate::oauth::{Grant, LoginError, Service};
use switchyard_protocol::Dialect;

pub use api_key::ApiKeyFamily;
pub use login::{complete_login, import, save_login};

/// Every subscription service this build knows: one row each.
pub const BUILTIN: &[&dyn ProviderApi] = &[
    &claude_code::ClaudeCode,
    &codex::Codex,
    &gemini_cli::GeminiCli,
    &antigravity::Antigravity,
    &github_copilot::GithubCopilot,
    &qwen::Qwen,
    &kiro::Kiro,
    &iflow::Iflow,
];

/// How requests to one kind of provider are made. Only what differs from
/// the public API of its wire format needs a method body; the rest have
/// defaults.
pub trait ProviderApi: Send + Sync + std::fmt::Debug {
    /// The subscription service as data (login, endpoints, starter models,
    /// terms); `None` for an API-key family.
    fn service(&self) -> Option<Service>;

    /// Adds authentication and identification to one request.
    fn authorize(&self, call: &UpstreamCall<'_>, headers: &mut RequestHeaders);

    /// Path of the chat endpoint under the base URL.
    fn upstream_path(&self, upstream: Dialect, model: &str, stream: bool) -> String {
        upstream.upstream_path(model, stream)
    }

    /// Whether it only answers streams (a JSON client gets the stream collected).
    fn forces_stream(&self) -> bool {
        false
    }

    /// Whether answers come as `{"response": <answer>}`, in JSON and in each event.
    fn wraps_response(&self) -> bool {
        false
    }

    /// Whether [`ProviderApi::shape_body`] changes bodies (a passed-through
    /// body is then copied first).
    fn shapes_body(&self) -> bool {
        false
    }

    /// Adjusts a body in the upstream's format before it is sent.
    fn shape_body(&self, _body: &mut Value, _shaping: &Shaping<'_>) {}

    /// Whether an answer with `status` means the token was refused, so one
    /// refresh and retry is worth it.
    fn token_refused(&self, status: StatusCode) -> bool {
        status == StatusCode::UNAUTHORIZED
    }

    /// Whether an error answer means "no such model" under another status.
    fn unknown_model(&self, _status: StatusCode, _body: Option<&Value>) -> bool {
        false
    }

    /// The official CLI's credentials file (at the service's
    /// `cli_credentials`), read into a grant.
    fn import_credentials(&self, _file: &Value, _path: &Path) -> Result<Grant, String> {
        Err("it has no credentials file to import".into())
    }

    /// Whose account a grant is (an e-mail) and the facts later requests need.
    fn account_facts(&self, grant: &Grant) -> (Option<String>, Map<String, Value>) {
        (grant_email(grant), Map::new())
    }

    /// What a login still needs once the tokens are there (a project, an API key).
    fn complete_login<'a>(
        &'a self,
        _http: &'a reqwest::Client,
        _service: &'a Service,
        grant: Grant,
    ) -> BoxFuture<'a, Result<Grant, LoginError>> {
        Box::pin(async move { Ok(grant) })
    }

    /// What a request authenticates with, from the account's fresh token.
    fn exchange<'a>(
        &'a self,
        exchange: Exchange<'a>,
    ) -> BoxFuture<'a, Result<Exchanged, ExchangeError>> {
        Box::pin(async move { Ok(Exchanged::token(exchange.account.api_key.clone())) })
    }

    /// The request for the account's usage windows, where the service has them.
    fn quota_request(
        &self,
        _http: &reqwest::Client,
        _service: &Service,
        _account: &Account,
        _token: &str,
    ) -> Result<Option<reqwest::RequestBuilder>, String> {
        Ok(None)
    }

    /// Reads a usage answer into windows.
    fn read_quota(&self, _account_id: i64, _body: &Value) -> Vec<ServiceQuota> {
        Vec::new()
    }

    /// The facts a 9router connection of this service holds (its own fields
    /// and `providerSpecificData`), as the account's facts here.
    fn facts_from_9router(&self, _connection: &Value, _specific: &Value) -> ImportedFacts {
        ImportedFacts::default()
    }

    /// The models a usage answer lists, where the usage endpoint is also the
    /// service's model list (the provider's models are then replaced by them).
    fn models_in_quota(&self, _body: &Value) -> Vec<String> {
        Vec::new()
    }
}

/// One request about to be sent, as [`ProviderApi::authorize`] sees it.
#[derive(Debug)]
pub struct UpstreamCall<'a> {
    /// The upstream's wire format.
    pub upstream: Dialect,
    /// The client's wire format.
    pub client: Dialect,
    /// The client's headers (some are relayed: Anthropic versions and betas).
    pub client_headers: &'a HeaderMap,
    /// The model as the upstream names it.
    pub model: &'a str,
    /// The token or key to send.
    pub token: &'a str,
    /// The account's facts.
    pub meta: &'a Map<String, Value>,
    /// The body exactly as it will be sent.
    pub body: &'a [u8],
}

impl UpstreamCall<'_> {
    /// A client header, when the client speaks Anthropic Messages (whose
    /// version and beta headers go along to Anthropic-format upstreams).
    pub fn anthropic_header(&self, name: &str) -> Option<HeaderValue> {
        (self.client == Dialect::AnthropicMessages)
            .then(|| self.client_headers.get(name).cloned())
            .flatten()
    }
}

/// An account's facts read from another router's data.
#[derive(Debug, Default)]
pub struct ImportedFacts {
    /// Plain facts (a project, an account id).
    pub meta: Map<String, Value>,
    /// Facts that are secrets (a client secret): sealed at rest.
    pub secret_meta: Map<String, Value>,
}

impl ImportedFacts {
    /// Keeps `value` as the fact `name`, when there is one.
    pub fn copy(&mut self, value: Option<&str>, name: &str) {
        if let Some(value) = value {
            self.meta.insert(name.to_owned(), value.into());
        }
    }
}

/// A text field of a JSON object, borrowed.
pub fn text_of<'a>(value: &'a Value, name: &str) -> Option<&'a str> {
    value.get(name).and_then(Value::as_str)
}

/// What [`ProviderApi::shape_body`] knows of the request.
#[derive(Debug)]
pub struct Shaping<'a> {
    /// The model as the upstream names it.
    pub model: &'a str,
    /// The account's facts (Code Assist project, Kiro profile).
    pub meta: &'a Map<String, Value>,
}

/// What [`ProviderApi::exchange`] starts from.
#[derive(Debug)]
pub struct Exchange<'a> {
    /// For the service's own endpoints.
    pub http: &'a reqwest::Client,
    /// The service with its endpoint overrides.
    pub service: &'a Service,
    /// The account, its token fresh.
    pub account: &'a Account,
    /// The provider just refused the previous credentials.
    pub force: bool,
}

/// What a request authenticates with.
#[derive(Debug, Clone)]
pub struct Exchanged {
    /// Sent as the bearer token or API key.
    pub token: String,
    /// A base URL replacing the provider's (Copilot's, Qwen's).
    pub base_url: Option<String>,
    /// Until when (ms) the token may be reused without asking again.
    pub reuse_until: Option<i64>,
    /// Facts to store on the account (a found project, a fetched key).
    pub learned: Option<Map<String, Value>>,
}

impl Exchanged {
    /// The account's own token, nothing more.
    pub fn token(token: String) -> Self {
        Self {
            token,
            base_url: None,
            reuse_until: None,
            learned: None,
        }
    }
}

/// Why [`ProviderApi::exchange`] gave no credentials.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    /// The service refused the account's grant: it must log in again.
    #[error("{0}")]
    NeedsLogin(String),
    /// Anything else (unreachable, a passing refusal).
    #[error(transparent)]
    Failed(#[from] LoginError),
}

/// Headers for a request to a provider, built like reqwest's builder: the
/// first invalid name or value is remembered and reported when sending.
#[derive(Debug, Default)]
pub struct RequestHeaders {
    /// The headers so far.
    pub map: HeaderMap,
    /// What was wrong with the first invalid header.
    pub invalid: Option<&'static str>,
}

impl RequestHeaders {
    /// Appends a header.
    pub fn add<K, V>(&mut self, name: K, value: V)
    where
        HeaderName: TryFrom<K>,
        HeaderValue: TryFrom<V>,
    {
        match (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            (Ok(name), Ok(value)) => {
                self.map.append(name, value);
            }
            _ => {
                self.invalid
                    .get_or_insert("a header for the provider is not valid");
            }
        }
    }

    /// Appends a header holding a secret (kept out of debug output).
    pub fn add_secret(&mut self, name: HeaderName, value: String) {
        match HeaderValue::try_from(value) {
            Ok(mut value) => {
                value.set_sensitive(true);
                self.map.append(name, value);
            }
            Err(_) => {
                self.invalid
                    .get_or_insert("the credential is not valid in a header");
            }
        }
    }

    /// `Authorization: Bearer <token>`.
    pub fn bearer(&mut self, token: &str) {
        self.add_secret(axum::http::header::AUTHORIZATION, format!("Bearer {token}"));
    }
}

/// A subscription service of a [`ProviderTable`]: its behaviour and its
/// data with the endpoint overrides applied.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// How its requests, logins and quotas work.
    pub api: &'static dyn ProviderApi,
    /// Its data.
    pub service: Service,
}

/// The subscription services by id, endpoints overridden by the data
/// directory's `endpoints.json`.
#[derive(Debug, Clone)]
pub struct ProviderTable {
    subscriptions: HashMap<&'static str, Subscription>,
    order: Vec<&'static str>,
}

impl ProviderTable {
    /// The built-in services with the overrides of `data_dir`.
    pub fn load(data_dir: &Path) -> Result<Self, String> {
        let mut overrides = crate::oauth::service::endpoint_overrides(data_dir)?;
        let mut table = Self::builtin();
        for subscription in table.subscriptions.values_mut() {
            if let Some(endpoints) = overrides.remove(subscription.service.id) {
                subscription.service.endpoints = endpoints.or(&subscription.service.endpoints);
            }
        }
        Ok(table)
    }

    /// The built-in services with the endpoint overrides of `data_dir`, or
    /// their built-in endpoints when `endpoints.json` cannot be read (logged).
    pub fn for_data_dir(data_dir: &Path) -> Self {
        Self::load(data_dir).unwrap_or_else(|error| {
            tracing::error!(%error, "endpoint overrides ignored");
            Self::builtin()
        })
    }

    /// The built-in services with their built-in endpoints.
    pub fn builtin() -> Self {
        BUILTIN.iter().fold(
            Self {
                subscriptions: HashMap::new(),
                order: Vec::new(),
            },
            |table, api| table.with(*api),
        )
    }

    /// The table with one more service (or a service replaced).
    pub fn with(mut self, api: &'static dyn ProviderApi) -> Self {
        if let Some(service) = api.service() {
            if !self.order.contains(&service.id) {
                self.order.push(service.id);
            }
            self.subscriptions
                .insert(service.id, Subscription { api, service });
        }
        self
    }

    /// The service called `id`.
    pub fn subscription(&self, id: &str) -> Result<&Subscription, String> {
        self.subscriptions
            .get(id)
            .ok_or_else(|| format!("unknown service {id:?}; known: {}", self.order.join(", ")))
    }

    /// Every service, in table order.
    pub fn subscriptions(&self) -> impl Iterator<Item = &Subscription> {
        self.order
            .iter()
            .filter_map(|id| self.subscriptions.get(id))
    }

    /// How requests to `provider` are made: its service's type, or its
    /// wire format's API-key family; `None` for a service this build does
    /// not know.
    pub fn api_for(&self, provider: &Provider) -> Option<&'static dyn ProviderApi> {
        match provider.subscription.as_deref() {
            Some(id) => self
                .subscriptions
                .get(id)
                .map(|subscription| subscription.api),
            None => Some(ApiKeyFamily::of(Dialect::of_provider(provider.kind))),
        }
    }
}

/// The answer inside a `{"response": ...}` envelope, or `None` when `text`
/// is no envelope (an error, a keep-alive).
pub fn unwrap_response(text: &str) -> Option<String> {
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(mut envelope)) => {
            envelope.remove("response").map(|inner| inner.to_string())
        }
        _ => None,
    }
}

/// The e-mail in a grant's OpenID token, if it has one.
fn grant_email(grant: &Grant) -> Option<String> {
    grant
        .id_token
        .as_deref()
        .and_then(crate::oauth::flows::jwt_claims)
        .and_then(|claims| {
            claims
                .get("email")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
}

/// A random UUID (version 4) in its usual text form.
pub(crate) fn uuid_v4() -> String {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rng(), &mut bytes);
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

/// The platform as Node.js names it (user agents of Node CLIs use it).
pub(crate) fn node_platform() -> &'static str {
    match std::env::consts::OS {
        "macos" => "darwin",
        "windows" => "win32",
        other => other,
    }
}

/// The architecture as Node.js names it.
pub(crate) fn node_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "x64",
        "aarch64" => "arm64",
        other => other,
    }
}

/// A text member of a JSON object.
pub(crate) fn text_at(value: &Value, name: &str) -> Option<String> {
    value.get(name).and_then(Value::as_str).map(str::to_owned)
}

/// A time in milliseconds from an RFC 3339 text or epoch seconds.
pub(crate) fn time_millis(value: &Value) -> Option<i64> {
    value
        .as_str()
        .and_then(|text| text.parse::<jiff::Timestamp>().ok())
        .map(|time| time.as_millisecond())
        .or_else(|| value.as_i64().map(|seconds| seconds * 1000))
        .or_else(|| value.as_f64().map(|seconds| (seconds * 1000.0) as i64))
}

/// A usage window at `used` percent (clamped), read now.
pub(crate) fn window(
    account_id: i64,
    name: &str,
    used: f64,
    resets_at: Option<i64>,
) -> ServiceQuota {
    ServiceQuota {
        account_id,
        window: name.to_owned(),
        used_percent: used.clamp(0.0, 100.0),
        resets_at,
        updated_at: switchyard_store::now_millis(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_unique_and_complete() {
        let table = ProviderTable::builtin();
        let all: Vec<&Service> = table.subscriptions().map(|s| &s.service).collect();
        assert_eq!(all.len(), BUILTIN.len());
        for service in &all {
            assert_eq!(all.iter().filter(|s| s.prefix == service.prefix).count(), 1);
            assert!(service.endpoints.token_url.is_some(), "{}", service.id);
            assert!(service.endpoints.api_base.is_some(), "{}", service.id);
            match service.login {
                crate::oauth::LoginKind::AuthorizationCode => {
                    assert!(service.endpoints.authorize_url.is_some())
                }
                crate::oauth::LoginKind::DeviceCode => {
                    assert!(service.endpoints.device_url.is_some())
                }
            }
        }
    }

    #[test]
    fn endpoints_json_overrides_single_fields() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(crate::oauth::service::ENDPOINTS_FILE),
            r#"{"codex": {"token_url": "http://127.0.0.1:9/token"}}"#,
        )
        .unwrap();
        let table = ProviderTable::load(dir.path()).unwrap();
        let codex = &table.subscription("codex").unwrap().service;
        assert_eq!(
            codex.endpoints.token_url.as_deref(),
            Some("http://127.0.0.1:9/token")
        );
        assert_eq!(
            codex.endpoints.authorize_url.as_deref(),
            Some("https://auth.openai.com/oauth/authorize")
        );
        assert!(table.subscription("nope").is_err());
    }

    #[test]
    fn code_assist_envelopes_are_opened() {
        assert_eq!(
            unwrap_response(r#"{"response":{"candidates":[]},"traceId":"t"}"#).as_deref(),
            Some(r#"{"candidates":[]}"#)
        );
        assert_eq!(unwrap_response(r#"{"candidates":[]}"#), None);
        assert_eq!(unwrap_response("[DONE]"), None);
    }

    #[test]
    fn uuids_have_the_version_4_shape() {
        let id = uuid_v4();
        assert_eq!(id.len(), 36);
        assert_eq!(&id[14..15], "4");
        assert_ne!(id, uuid_v4());
    }
}
