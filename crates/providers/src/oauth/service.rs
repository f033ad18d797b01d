//! A subscription service as data: how the login works, where tokens are
//! refreshed, where the API is, and what the official CLI stores on disk
//! (each service's values are in its module under `providers`). Endpoints can be overridden per service in
//! `endpoints.json` in the data directory (a corporate mirror, or the local
//! mock servers of the tests), e.g. `{"claude-code": {"token_url": "..."}}`.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use switchyard_store::ProviderKind;

/// How a service's token endpoint wants its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyStyle {
    /// `application/x-www-form-urlencoded` (RFC 6749).
    Form,
    /// A JSON object with the same fields.
    Json,
}

/// How the user logs in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoginKind {
    /// Authorization code with PKCE (RFC 7636), the browser redirecting to a
    /// listener on this machine.
    AuthorizationCode,
    /// Device authorization grant (RFC 8628): a code the user types in a browser.
    DeviceCode,
}

/// What the authorization page's query holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthorizeStyle {
    /// RFC 6749 with PKCE (RFC 7636): `response_type`, `client_id`,
    /// `redirect_uri`, `scope`, an S256 challenge and `state`.
    Pkce,
    /// iFlow's: `client_id`, the callback as `redirect`, and `state`; no
    /// PKCE (its client has a secret).
    IFlow,
}

/// Where the authorization-code redirect lands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redirect {
    /// `http://localhost:{port}{path}`: the service only accepts this one
    /// (or its registered fallback port, when the first is taken).
    Fixed {
        /// Registered port.
        port: u16,
        /// A second registered port, tried when `port` is in use.
        fallback_port: Option<u16>,
        /// Registered path.
        path: &'static str,
    },
    /// `http://localhost:{any free port}/callback`.
    Ephemeral,
    /// `http://127.0.0.1:{any free port}{path}`: Google wants a loopback IP
    /// literal for installed apps.
    Loopback {
        /// Path of the callback.
        path: &'static str,
    },
}

/// How a device-code login talks to the service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceProtocol {
    /// RFC 8628: form posts with snake_case fields, a fixed public client id.
    Rfc8628,
    /// AWS SSO OIDC (AWS Builder ID): the client registers itself first
    /// (`RegisterClient`), then `StartDeviceAuthorization` and `CreateToken`,
    /// all JSON with camelCase fields.
    AwsSsoOidc {
        /// The access portal the user signs in to.
        start_url: &'static str,
    },
    /// OpenAI's device authorization (the Codex CLI's `--device-auth`): a
    /// JSON request for a user code, polls answered 403/404 while pending,
    /// then an authorization code and the PKCE verifier the server chose,
    /// exchanged at the token endpoint like a browser login's.
    OpenAiDeviceAuth {
        /// Where the user enters the code.
        verification_uri: &'static str,
        /// The redirect URI the exchange names (registered for device logins).
        redirect_uri: &'static str,
    },
}

/// Endpoints of a service; each can be overridden in `endpoints.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Endpoints {
    /// Browser authorization page (authorization-code logins).
    pub authorize_url: Option<String>,
    /// Device authorization endpoint (device-code logins).
    pub device_url: Option<String>,
    /// Where a device login polls, when not at `token_url` (OpenAI's).
    pub device_token_url: Option<String>,
    /// Token endpoint (code exchange, device polling, refresh).
    pub token_url: Option<String>,
    /// Base URL of the API requests go to.
    pub api_base: Option<String>,
    /// Usage or quota endpoint, where the service has one.
    pub usage_url: Option<String>,
    /// Extra exchange step (GitHub Copilot's token endpoint).
    pub exchange_url: Option<String>,
    /// Who the token belongs to (Google's userinfo).
    pub userinfo_url: Option<String>,
    /// Dynamic client registration (AWS SSO OIDC `RegisterClient`).
    pub register_url: Option<String>,
    /// Refresh endpoint for tokens not issued by `token_url` (Kiro's social
    /// logins, imported from the Kiro IDE).
    pub refresh_url: Option<String>,
}

impl Endpoints {
    /// These endpoints, each missing one taken from `fallback`.
    pub(crate) fn or(self, fallback: &Endpoints) -> Endpoints {
        Endpoints {
            authorize_url: self
                .authorize_url
                .or_else(|| fallback.authorize_url.clone()),
            device_url: self.device_url.or_else(|| fallback.device_url.clone()),
            device_token_url: self
                .device_token_url
                .or_else(|| fallback.device_token_url.clone()),
            token_url: self.token_url.or_else(|| fallback.token_url.clone()),
            api_base: self.api_base.or_else(|| fallback.api_base.clone()),
            usage_url: self.usage_url.or_else(|| fallback.usage_url.clone()),
            exchange_url: self.exchange_url.or_else(|| fallback.exchange_url.clone()),
            userinfo_url: self.userinfo_url.or_else(|| fallback.userinfo_url.clone()),
            register_url: self.register_url.or_else(|| fallback.register_url.clone()),
            refresh_url: self.refresh_url.or_else(|| fallback.refresh_url.clone()),
        }
    }
}

/// A subscription service.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Service {
    /// Identifier used by `switchyard connect <id>`.
    pub id: &'static str,
    /// Display name, also the provider's default name.
    pub name: &'static str,
    /// Default model prefix.
    pub prefix: &'static str,
    /// Wire format of its API.
    pub kind: ProviderKind,
    /// Starter model list.
    pub models: &'static [&'static str],
    /// How the user logs in.
    pub login: LoginKind,
    /// Where an authorization-code redirect lands.
    pub redirect: Redirect,
    /// Public OAuth client id of the official CLI.
    pub client_id: &'static str,
    /// The installed-app "secret" some official CLIs embed (Google's); it is
    /// public by design and sent where the service asks for it.
    pub client_secret: Option<&'static str>,
    /// Whether the code exchange repeats `state` (Claude's token endpoint
    /// wants it; Google's refuses parameters it does not know).
    pub state_in_token_request: bool,
    /// How the authorization page's query is built.
    pub authorize_style: AuthorizeStyle,
    /// Whether token requests also carry the client id and secret as HTTP
    /// Basic authentication (iFlow's), besides the form fields.
    pub basic_auth: bool,
    /// How a device-code login works.
    pub device: DeviceProtocol,
    /// Scopes asked for.
    pub scopes: &'static str,
    /// Extra authorization parameters.
    pub extra_authorize_params: &'static [(&'static str, &'static str)],
    /// Whether the device-code request carries a PKCE challenge.
    pub device_pkce: bool,
    /// Body style of the token endpoint for code and device grants.
    pub token_body: BodyStyle,
    /// Body style of the token endpoint for refreshes.
    pub refresh_body: BodyStyle,
    /// What the user should know about the service's terms before logging in.
    pub terms_note: Option<&'static str>,
    /// Refresh this long before the access token expires.
    pub refresh_lead: Duration,
    /// Built-in endpoints.
    pub endpoints: Endpoints,
    /// Where the official CLI keeps its credentials, under the home directory.
    pub cli_credentials: Option<&'static str>,
}

/// An endpoint given as text.
pub(crate) fn url(text: &str) -> Option<String> {
    Some(text.to_owned())
}

/// File of endpoint overrides in the data directory.
pub const ENDPOINTS_FILE: &str = "endpoints.json";

/// The endpoint overrides of `data_dir`, by service id.
pub(crate) fn endpoint_overrides(data_dir: &Path) -> Result<HashMap<String, Endpoints>, String> {
    let path = data_dir.join(ENDPOINTS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|error| format!("{} is not valid: {error}", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    }
}
