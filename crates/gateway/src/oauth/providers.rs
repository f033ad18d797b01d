//! The subscription services Switchyard can log in to, as data: how the
//! login works, where tokens are refreshed, where the API is, and what the
//! official CLI stores on disk. Endpoints can be overridden per service in
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
    fn or(self, fallback: &Endpoints) -> Endpoints {
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

fn url(text: &str) -> Option<String> {
    Some(text.to_owned())
}

/// Every known subscription service.
pub fn services() -> Vec<Service> {
    vec![
        Service {
            id: "claude-code",
            name: "Claude Code",
            prefix: "cc",
            kind: ProviderKind::AnthropicCompatible,
            models: &[
                "claude-opus-4-5",
                "claude-sonnet-4-5",
                "claude-haiku-4-5",
                "claude-opus-4-1",
                "claude-sonnet-4",
            ],
            login: LoginKind::AuthorizationCode,
            redirect: Redirect::Ephemeral,
            client_id: "9d1c250a-e61b-44d9-88ed-5944d1962f5e",
            client_secret: None,
            state_in_token_request: true,
            authorize_style: AuthorizeStyle::Pkce,
            basic_auth: false,
            device: DeviceProtocol::Rfc8628,
            scopes: "user:profile user:inference user:sessions:claude_code user:mcp_servers user:file_upload",
            extra_authorize_params: &[("code", "true")],
            device_pkce: false,
            token_body: BodyStyle::Json,
            refresh_body: BodyStyle::Json,
            terms_note: Some(
                "Anthropic's terms say Claude Free/Pro/Max logins are meant for Claude Code and Claude.ai only; using one through another tool may breach them and Anthropic may refuse such requests. You decide.",
            ),
            refresh_lead: Duration::from_secs(60 * 60),
            endpoints: Endpoints {
                authorize_url: url("https://claude.ai/oauth/authorize"),
                token_url: url("https://platform.claude.com/v1/oauth/token"),
                api_base: url("https://api.anthropic.com/v1"),
                usage_url: url("https://api.anthropic.com/api/oauth/usage"),
                ..Endpoints::default()
            },
            cli_credentials: Some(".claude/.credentials.json"),
        },
        Service {
            id: "codex",
            name: "Codex",
            prefix: "cx",
            kind: ProviderKind::OpenaiResponses,
            models: &["gpt-5-codex", "gpt-5", "gpt-5-codex-mini"],
            login: LoginKind::AuthorizationCode,
            // The Codex CLI's registered redirect, and the fallback port it
            // uses when 1455 is taken (openai/codex, codex-rs/login/src/server.rs).
            redirect: Redirect::Fixed {
                port: 1455,
                fallback_port: Some(1457),
                path: "/auth/callback",
            },
            client_id: "app_EMoamEEZ73f0CkXaXp7hrann",
            client_secret: None,
            state_in_token_request: true,
            authorize_style: AuthorizeStyle::Pkce,
            basic_auth: false,
            // `codex login --device-auth` (codex-rs/login/src/device_code_auth.rs).
            device: DeviceProtocol::OpenAiDeviceAuth {
                verification_uri: "https://auth.openai.com/codex/device",
                redirect_uri: "https://auth.openai.com/deviceauth/callback",
            },
            scopes: "openid profile email offline_access api.connectors.read api.connectors.invoke",
            extra_authorize_params: &[
                ("id_token_add_organizations", "true"),
                ("codex_cli_simplified_flow", "true"),
                ("originator", "codex_cli_rs"),
            ],
            device_pkce: false,
            token_body: BodyStyle::Form,
            refresh_body: BodyStyle::Json,
            terms_note: None,
            // Refresh tokens are single-use and may be shared with an
            // imported Codex CLI: refresh only when the token runs out.
            refresh_lead: Duration::from_secs(5 * 60),
            endpoints: Endpoints {
                authorize_url: url("https://auth.openai.com/oauth/authorize"),
                device_url: url("https://auth.openai.com/api/accounts/deviceauth/usercode"),
                device_token_url: url("https://auth.openai.com/api/accounts/deviceauth/token"),
                token_url: url("https://auth.openai.com/oauth/token"),
                api_base: url("https://chatgpt.com/backend-api/codex"),
                usage_url: url("https://chatgpt.com/backend-api/wham/usage"),
                ..Endpoints::default()
            },
            cli_credentials: Some(".codex/auth.json"),
        },
        Service {
            id: "github-copilot",
            name: "GitHub Copilot",
            prefix: "gh",
            kind: ProviderKind::OpenaiCompatible,
            models: &[
                "gpt-4.1",
                "gpt-5-mini",
                "claude-sonnet-4.5",
                "gemini-2.5-pro",
            ],
            login: LoginKind::DeviceCode,
            redirect: Redirect::Ephemeral,
            client_id: "Iv1.b507a08c87ecfe98",
            client_secret: None,
            state_in_token_request: true,
            authorize_style: AuthorizeStyle::Pkce,
            basic_auth: false,
            device: DeviceProtocol::Rfc8628,
            scopes: "read:user",
            extra_authorize_params: &[],
            device_pkce: false,
            token_body: BodyStyle::Form,
            refresh_body: BodyStyle::Form,
            terms_note: None,
            refresh_lead: Duration::from_secs(5 * 60),
            endpoints: Endpoints {
                device_url: url("https://github.com/login/device/code"),
                token_url: url("https://github.com/login/oauth/access_token"),
                exchange_url: url("https://api.github.com/copilot_internal/v2/token"),
                api_base: url("https://api.githubcopilot.com"),
                usage_url: url("https://api.github.com/copilot_internal/user"),
                ..Endpoints::default()
            },
            cli_credentials: None,
        },
        Service {
            id: "qwen",
            name: "Qwen Code",
            prefix: "qw",
            kind: ProviderKind::OpenaiCompatible,
            models: &["qwen3-coder-plus", "qwen3-coder-flash"],
            login: LoginKind::DeviceCode,
            redirect: Redirect::Ephemeral,
            client_id: "f0304373b74a44d2b584a3fb70ca9e56",
            client_secret: None,
            state_in_token_request: true,
            authorize_style: AuthorizeStyle::Pkce,
            basic_auth: false,
            device: DeviceProtocol::Rfc8628,
            scopes: "openid profile email model.completion",
            extra_authorize_params: &[],
            device_pkce: true,
            token_body: BodyStyle::Form,
            refresh_body: BodyStyle::Form,
            terms_note: Some(
                "Qwen ended its free OAuth tier on 2026-04-15; logins may work but requests can be refused.",
            ),
            refresh_lead: Duration::from_secs(20 * 60),
            endpoints: Endpoints {
                device_url: url("https://chat.qwen.ai/api/v1/oauth2/device/code"),
                token_url: url("https://chat.qwen.ai/api/v1/oauth2/token"),
                api_base: url("https://portal.qwen.ai/v1"),
                ..Endpoints::default()
            },
            cli_credentials: Some(".qwen/oauth_creds.json"),
        },
        Service {
            id: "gemini-cli",
            name: "Gemini CLI",
            prefix: "gc",
            kind: ProviderKind::Gemini,
            models: &[
                "gemini-3-flash-preview",
                "gemini-3-pro-preview",
                "gemini-2.5-pro",
                "gemini-2.5-flash",
            ],
            login: LoginKind::AuthorizationCode,
            redirect: Redirect::Loopback {
                path: "/oauth2callback",
            },
            // The Gemini CLI's installed-app client (google-gemini/gemini-cli,
            // packages/core/src/code_assist/oauth2.ts).
            client_id: "681255809395-oo8ft2oprdrnp9e3aqf6av3hmdib135j.apps.googleusercontent.com",
            client_secret: Some("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"),
            state_in_token_request: false,
            authorize_style: AuthorizeStyle::Pkce,
            basic_auth: false,
            device: DeviceProtocol::Rfc8628,
            scopes: "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile",
            // Offline access with consent, so Google returns a refresh token
            // even to a second login.
            extra_authorize_params: &[("access_type", "offline"), ("prompt", "consent")],
            device_pkce: false,
            token_body: BodyStyle::Form,
            refresh_body: BodyStyle::Form,
            terms_note: Some(
                "Google has suspended accounts used through third-party tools; a Gemini CLI login is meant for the Gemini CLI. You decide.",
            ),
            refresh_lead: Duration::from_secs(5 * 60),
            endpoints: Endpoints {
                authorize_url: url("https://accounts.google.com/o/oauth2/v2/auth"),
                token_url: url("https://oauth2.googleapis.com/token"),
                userinfo_url: url("https://www.googleapis.com/oauth2/v2/userinfo"),
                api_base: url("https://cloudcode-pa.googleapis.com/v1internal"),
                usage_url: url("https://cloudcode-pa.googleapis.com/v1internal:retrieveUserQuota"),
                ..Endpoints::default()
            },
            cli_credentials: Some(".gemini/oauth_creds.json"),
        },
        Service {
            id: "kiro",
            name: "Kiro",
            prefix: "kr",
            kind: ProviderKind::Kiro,
            models: &["claude-sonnet-4.5", "claude-haiku-4.5", "claude-sonnet-4"],
            login: LoginKind::DeviceCode,
            redirect: Redirect::Ephemeral,
            // AWS SSO OIDC clients register themselves at each login.
            client_id: "",
            client_secret: None,
            state_in_token_request: false,
            authorize_style: AuthorizeStyle::Pkce,
            basic_auth: false,
            device: DeviceProtocol::AwsSsoOidc {
                start_url: "https://view.awsapps.com/start",
            },
            scopes: "codewhisperer:completions codewhisperer:analysis codewhisperer:conversations",
            extra_authorize_params: &[],
            device_pkce: false,
            token_body: BodyStyle::Json,
            refresh_body: BodyStyle::Json,
            terms_note: Some(
                "Kiro's plans are meant for the Kiro IDE and CLI; AWS may refuse or limit use through other tools. You decide.",
            ),
            refresh_lead: Duration::from_secs(5 * 60),
            endpoints: Endpoints {
                register_url: url("https://oidc.us-east-1.amazonaws.com/client/register"),
                device_url: url("https://oidc.us-east-1.amazonaws.com/device_authorization"),
                token_url: url("https://oidc.us-east-1.amazonaws.com/token"),
                refresh_url: url("https://prod.us-east-1.auth.desktop.kiro.dev/refreshToken"),
                api_base: url("https://codewhisperer.us-east-1.amazonaws.com"),
                usage_url: url("https://codewhisperer.us-east-1.amazonaws.com/getUsageLimits"),
                ..Endpoints::default()
            },
            cli_credentials: Some(".aws/sso/cache/kiro-auth-token.json"),
        },
        Service {
            id: "iflow",
            name: "iFlow",
            prefix: "if",
            kind: ProviderKind::OpenaiCompatible,
            models: &[
                "qwen3-coder-plus",
                "qwen3-max",
                "kimi-k2",
                "glm-4.6",
                "deepseek-v3",
            ],
            login: LoginKind::AuthorizationCode,
            redirect: Redirect::Ephemeral,
            // The iFlow CLI's client, as 9router and CLIProxyAPI used it.
            client_id: "10009311001",
            client_secret: Some("4Z3YjXycVsQvyGF1etiNlIBB4RsqSDtW"),
            state_in_token_request: false,
            authorize_style: AuthorizeStyle::IFlow,
            basic_auth: true,
            device: DeviceProtocol::Rfc8628,
            scopes: "",
            // Sign-in by phone number, as the iFlow CLI asks for.
            extra_authorize_params: &[("loginMethod", "phone"), ("type", "phone")],
            device_pkce: false,
            token_body: BodyStyle::Form,
            refresh_body: BodyStyle::Form,
            terms_note: Some(
                "iFlow closed the iFlow CLI service on 2026-04-17 (UTC+8); logins and requests are likely refused.",
            ),
            refresh_lead: Duration::from_secs(5 * 60),
            endpoints: Endpoints {
                authorize_url: url("https://iflow.cn/oauth"),
                token_url: url("https://iflow.cn/oauth/token"),
                // Answers the account's API key, which requests use.
                userinfo_url: url("https://iflow.cn/api/oauth/getUserInfo"),
                api_base: url("https://apis.iflow.cn/v1"),
                ..Endpoints::default()
            },
            cli_credentials: None,
        },
    ]
}

/// The service called `id`, with the endpoint overrides of `data_dir`.
pub fn service(id: &str, data_dir: &Path) -> Result<Service, String> {
    let mut service = services()
        .into_iter()
        .find(|service| service.id == id)
        .ok_or_else(|| {
            let known: Vec<_> = services().iter().map(|s| s.id).collect();
            format!("unknown service {id:?}; known: {}", known.join(", "))
        })?;
    if let Some(overrides) = endpoint_overrides(data_dir)?.remove(id) {
        service.endpoints = overrides.or(&service.endpoints);
    }
    Ok(service)
}

/// Every service with the endpoint overrides of `data_dir`, by id.
pub fn resolved_services(data_dir: &Path) -> Result<HashMap<&'static str, Service>, String> {
    let mut overrides = endpoint_overrides(data_dir)?;
    Ok(services()
        .into_iter()
        .map(|mut service| {
            if let Some(endpoints) = overrides.remove(service.id) {
                service.endpoints = endpoints.or(&service.endpoints);
            }
            (service.id, service)
        })
        .collect())
}

/// File of endpoint overrides in the data directory.
pub const ENDPOINTS_FILE: &str = "endpoints.json";

fn endpoint_overrides(data_dir: &Path) -> Result<HashMap<String, Endpoints>, String> {
    let path = data_dir.join(ENDPOINTS_FILE);
    match std::fs::read_to_string(&path) {
        Ok(text) => serde_json::from_str(&text)
            .map_err(|error| format!("{} is not valid: {error}", path.display())),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
        Err(error) => Err(format!("cannot read {}: {error}", path.display())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_are_unique_and_complete() {
        let all = services();
        for service in &all {
            assert_eq!(all.iter().filter(|s| s.id == service.id).count(), 1);
            assert_eq!(all.iter().filter(|s| s.prefix == service.prefix).count(), 1);
            assert!(service.endpoints.token_url.is_some(), "{}", service.id);
            assert!(service.endpoints.api_base.is_some(), "{}", service.id);
            match service.login {
                LoginKind::AuthorizationCode => {
                    assert!(service.endpoints.authorize_url.is_some())
                }
                LoginKind::DeviceCode => assert!(service.endpoints.device_url.is_some()),
            }
        }
    }

    #[test]
    fn endpoints_json_overrides_single_fields() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(ENDPOINTS_FILE),
            r#"{"codex": {"token_url": "http://127.0.0.1:9/token"}}"#,
        )
        .unwrap();
        let codex = service("codex", dir.path()).unwrap();
        assert_eq!(
            codex.endpoints.token_url.as_deref(),
            Some("http://127.0.0.1:9/token")
        );
        assert_eq!(
            codex.endpoints.authorize_url.as_deref(),
            Some("https://auth.openai.com/oauth/authorize")
        );
        assert!(service("nope", dir.path()).is_err());
    }
}
