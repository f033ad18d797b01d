//! Claude Code's subscription (Claude Free/Pro/Max logins): the Messages
//! API with a bearer token, Claude Code's beta flags and identification
//! (relayed from Claude Code itself, filled in for other clients), its
//! system prompt leading every request, the credentials file of the CLI and
//! the five-hour and weekly usage windows.

use std::path::Path;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue};
use serde_json::{Map, Value, json};
use switchyard_store::{Account, ProviderKind, ServiceQuota};

use super::api_key::ANTHROPIC_VERSION;
use super::{
    ProviderApi, RequestHeaders, Shaping, UpstreamCall, node_arch, text_at, time_millis, window,
};
use crate::oauth::service::{
    AuthorizeStyle, BodyStyle, DeviceProtocol, Endpoints, LoginKind, Redirect, url,
};
use crate::oauth::{Grant, Service};
use switchyard_protocol::Dialect;

/// Beta flags Claude Code sends with a subscription token; the first lets
/// the token call the Messages API at all.
const CLAUDE_CODE_BETAS: &[&str] = &[
    "oauth-2025-04-20",
    "claude-code-20250219",
    "interleaved-thinking-2025-05-14",
];
/// The system prompt Claude subscription tokens must start with.
const CLAUDE_CODE_SYSTEM: &str = "You are Claude Code, Anthropic's official CLI for Claude.";
/// How Claude Code (2.1.220, on `@anthropic-ai/sdk` 0.94.0 and Node 22)
/// identifies itself; sent when the client is not Claude Code itself, whose
/// own values are relayed instead. `x-stainless-os` and `-arch` follow.
const CLAUDE_CODE_HEADERS: &[(&str, &str)] = &[
    ("user-agent", "claude-cli/2.1.220 (external, cli)"),
    ("x-app", "cli"),
    ("anthropic-dangerous-direct-browser-access", "true"),
    ("x-stainless-lang", "js"),
    ("x-stainless-package-version", "0.94.0"),
    ("x-stainless-runtime", "node"),
    ("x-stainless-runtime-version", "v22.19.0"),
    ("x-stainless-retry-count", "0"),
    ("x-stainless-timeout", "600"),
];

/// Claude Code's subscription.
#[derive(Debug)]
pub(super) struct ClaudeCode;

impl ProviderApi for ClaudeCode {
    fn service(&self) -> Option<Service> {
        Some(Service {
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
        })
    }

    fn authorize(&self, call: &UpstreamCall<'_>, headers: &mut RequestHeaders) {
        let mut betas: Vec<String> = CLAUDE_CODE_BETAS.iter().map(|b| (*b).to_owned()).collect();
        if let Some(client) = call
            .anthropic_header("anthropic-beta")
            .and_then(|v| v.to_str().ok().map(str::to_owned))
        {
            for beta in client.split(',').map(str::trim).filter(|b| !b.is_empty()) {
                if !betas.iter().any(|known| known == beta) {
                    betas.push(beta.to_owned());
                }
            }
        }
        headers.bearer(call.token);
        headers.add(
            "anthropic-version",
            call.anthropic_header("anthropic-version")
                .unwrap_or(HeaderValue::from_static(ANTHROPIC_VERSION)),
        );
        headers.add("anthropic-beta", betas.join(","));
        for (name, value) in claude_code_identity(call.client, call.client_headers) {
            headers.add(name, value);
        }
    }

    fn upstream_path(&self, _upstream: Dialect, _model: &str, _stream: bool) -> String {
        // Claude Code calls the SDK's beta Messages endpoint.
        "/messages?beta=true".into()
    }

    fn shapes_body(&self) -> bool {
        true
    }

    fn shape_body(&self, body: &mut Value, _shaping: &Shaping<'_>) {
        let Some(object) = body.as_object_mut() else {
            return;
        };
        let system = object.remove("system");
        let mut blocks = vec![json!({"type": "text", "text": CLAUDE_CODE_SYSTEM})];
        match system {
            Some(Value::String(text)) if text.starts_with(CLAUDE_CODE_SYSTEM) => {
                blocks = vec![json!({"type": "text", "text": text})];
            }
            Some(Value::String(text)) if !text.is_empty() => {
                blocks.push(json!({"type": "text", "text": text}));
            }
            Some(Value::Array(existing)) => {
                // Claude Code itself leads with other blocks (its billing
                // line) before the prompt: its system is left as sent.
                let already = existing.iter().take(3).any(|block| {
                    block["text"]
                        .as_str()
                        .is_some_and(|text| text.starts_with(CLAUDE_CODE_SYSTEM))
                });
                if already {
                    blocks = existing;
                } else {
                    blocks.extend(existing);
                }
            }
            _ => {}
        }
        object.insert("system".into(), Value::Array(blocks));
    }

    fn import_credentials(&self, file: &Value, _path: &Path) -> Result<Grant, String> {
        let oauth = file
            .get("claudeAiOauth")
            .ok_or("it holds no claudeAiOauth tokens")?;
        let mut grant = Grant::imported(
            text_at(oauth, "accessToken"),
            text_at(oauth, "refreshToken"),
            oauth.get("expiresAt").and_then(Value::as_i64),
        )?;
        if let Some(plan) = text_at(oauth, "subscriptionType") {
            grant.extra.insert("subscription_type".into(), plan.into());
        }
        Ok(grant)
    }

    fn account_facts(&self, grant: &Grant) -> (Option<String>, Map<String, Value>) {
        let mut meta = Map::new();
        let account = grant.extra.get("account");
        let email = account
            .and_then(|account| account.get("email_address"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(uuid) = account.and_then(|a| a.get("uuid")).and_then(Value::as_str) {
            meta.insert("account_uuid".into(), uuid.into());
        }
        if let Some(kind) = grant.extra.get("subscription_type").and_then(Value::as_str) {
            meta.insert("plan".into(), kind.into());
        }
        (email, meta)
    }

    fn quota_request(
        &self,
        http: &reqwest::Client,
        service: &Service,
        _account: &Account,
        token: &str,
    ) -> Result<Option<reqwest::RequestBuilder>, String> {
        Ok(service.endpoints.usage_url.as_deref().map(|url| {
            http.get(url)
                .bearer_auth(token)
                .header("anthropic-beta", "oauth-2025-04-20")
        }))
    }

    fn read_quota(&self, account_id: i64, body: &Value) -> Vec<ServiceQuota> {
        [
            "five_hour",
            "seven_day",
            "seven_day_opus",
            "seven_day_sonnet",
        ]
        .into_iter()
        .filter_map(|name| {
            let entry = &body[name];
            let used = entry["utilization"].as_f64()?;
            Some(window(
                account_id,
                name,
                used,
                time_millis(&entry["resets_at"]),
            ))
        })
        .collect()
    }
}

/// The identification headers of a request to Claude's API: those of the
/// client when it is Claude Code (its user agent says `claude-cli/`), so its
/// own version, session and SDK details go along unchanged, else Claude
/// Code's as listed in [`CLAUDE_CODE_HEADERS`].
fn claude_code_identity(
    client_dialect: Dialect,
    client_headers: &HeaderMap,
) -> Vec<(String, HeaderValue)> {
    let is_claude_code = client_dialect == Dialect::AnthropicMessages
        && client_headers
            .get("user-agent")
            .and_then(|agent| agent.to_str().ok())
            .is_some_and(|agent| agent.starts_with("claude-cli/"));
    if is_claude_code {
        return client_headers
            .iter()
            .filter(|(name, _)| {
                let name = name.as_str();
                matches!(
                    name,
                    "user-agent" | "x-app" | "anthropic-dangerous-direct-browser-access"
                ) || name.starts_with("x-stainless-")
                    || name.starts_with("x-claude-code-")
            })
            .map(|(name, value)| (name.as_str().to_owned(), value.clone()))
            .collect();
    }
    let stainless_os = match std::env::consts::OS {
        "macos" => "MacOS",
        "windows" => "Windows",
        "linux" => "Linux",
        other => other,
    };
    CLAUDE_CODE_HEADERS
        .iter()
        .map(|(name, value)| ((*name).to_owned(), HeaderValue::from_static(value)))
        .chain([
            (
                "x-stainless-os".to_owned(),
                HeaderValue::from_static(stainless_os),
            ),
            (
                "x-stainless-arch".to_owned(),
                HeaderValue::from_static(node_arch()),
            ),
        ])
        .collect()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    #[test]
    fn claude_code_identity_is_relayed_from_claude_code_and_filled_in_for_others() {
        let mut from_claude_code = HeaderMap::new();
        for (name, value) in [
            ("user-agent", "claude-cli/2.0.1 (external, cli)"),
            ("x-claude-code-session-id", "session-1"),
            ("x-stainless-lang", "js"),
            ("authorization", "Bearer sy-local"),
        ] {
            from_claude_code.insert(name, HeaderValue::from_static(value));
        }
        let relayed = claude_code_identity(Dialect::AnthropicMessages, &from_claude_code);
        let names: Vec<&str> = relayed.iter().map(|(name, _)| name.as_str()).collect();
        assert_eq!(
            names,
            ["user-agent", "x-claude-code-session-id", "x-stainless-lang"]
        );
        assert_eq!(relayed[0].1, "claude-cli/2.0.1 (external, cli)");

        let mut from_sdk = HeaderMap::new();
        from_sdk.insert(
            "user-agent",
            HeaderValue::from_static("Anthropic/Python 0.60"),
        );
        from_sdk.insert("x-stainless-lang", HeaderValue::from_static("python"));
        let filled = claude_code_identity(Dialect::AnthropicMessages, &from_sdk);
        let value = |name: &str| {
            filled
                .iter()
                .find(|(header, _)| header == name)
                .map(|(_, value)| value.clone())
        };
        assert_eq!(
            value("user-agent").unwrap(),
            "claude-cli/2.1.220 (external, cli)"
        );
        assert_eq!(value("x-stainless-lang").unwrap(), "js");
        assert_eq!(value("x-app").unwrap(), "cli");
        assert!(value("x-stainless-os").is_some() && value("x-stainless-arch").is_some());
    }

    #[test]
    fn usage_windows_are_read() {
        let body = json!({"five_hour": {"utilization": 12.5, "resets_at": "2030-01-01T00:00:00Z"},
                          "seven_day": {"utilization": 120.0}, "seven_day_opus": null});
        let windows = ClaudeCode.read_quota(7, &body);
        assert_eq!(windows.len(), 2);
        assert_eq!(
            (windows[0].window.as_str(), windows[0].used_percent),
            ("five_hour", 12.5)
        );
        assert_eq!(windows[0].resets_at, Some(1_893_456_000_000));
        assert_eq!(windows[1].used_percent, 100.0);
    }
}
