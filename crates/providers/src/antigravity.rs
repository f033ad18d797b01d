//! Antigravity, Google's agent IDE: a Google login with Antigravity's own
//! installed-app client, then Code Assist's `v1internal` API as for the
//! Gemini CLI (project found or onboarded the same way, answers wrapped as
//! `{response}`), with Antigravity's envelope around each Gemini request
//! (`userAgent`, `requestType`, `requestId`, a `sessionId` inside) and its
//! user agent. It serves Gemini and Claude models; `fetchAvailableModels`
//! lists them with each model's remaining quota, which becomes both the
//! provider's model list and per-model usage windows. Facts from public
//! clients of the service (CLIProxyAPI, antigravity-claude-proxy,
//! opencode-antigravity-auth, 9router); Google documents none of it.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};
use switchyard_store::{Account, ProviderKind, ServiceQuota};

use super::gemini_cli::{
    code_assist_exchange, code_assist_facts, code_assist_path, complete_code_assist_login,
};
use super::{
    Exchange, ExchangeError, Exchanged, ProviderApi, RequestHeaders, Shaping, UpstreamCall,
    node_arch, node_platform, time_millis, uuid_v4, window,
};
use crate::oauth::service::{
    AuthorizeStyle, BodyStyle, DeviceProtocol, Endpoints, LoginKind, Redirect, url,
};
use crate::oauth::{Grant, LoginError, Service};
use switchyard_protocol::Dialect;

/// How Antigravity names itself to Code Assist (`ClientMetadata.ideType`).
const IDE_TYPE: &str = "ANTIGRAVITY";
/// The Antigravity version in the user agent; Code Assist refuses newer
/// models to clients below 2.9.0.
const ANTIGRAVITY_VERSION: &str = "2.9.1";

/// Antigravity.
#[derive(Debug)]
pub(super) struct Antigravity;

impl ProviderApi for Antigravity {
    fn service(&self) -> Option<Service> {
        Some(Service {
            id: "antigravity",
            name: "Antigravity",
            prefix: "ag",
            kind: ProviderKind::Gemini,
            models: &[
                "gemini-3-pro-high",
                "gemini-3-pro-low",
                "gemini-3-flash",
                "claude-sonnet-4-5",
                "claude-sonnet-4-5-thinking",
                "claude-opus-4-5-thinking",
            ],
            login: LoginKind::AuthorizationCode,
            // Antigravity's client has this redirect registered.
            redirect: Redirect::Fixed {
                port: 51121,
                fallback_port: Some(51122),
                path: "/oauth-callback",
            },
            client_id: "1071006060591-tmhssin2h21lcre235vtolojh4g403ep.apps.googleusercontent.com",
            // Google's installed-app secret, public by design.
            client_secret: Some("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"),
            state_in_token_request: false,
            authorize_style: AuthorizeStyle::Pkce,
            basic_auth: false,
            device: DeviceProtocol::Rfc8628,
            scopes: "https://www.googleapis.com/auth/cloud-platform https://www.googleapis.com/auth/userinfo.email https://www.googleapis.com/auth/userinfo.profile https://www.googleapis.com/auth/cclog https://www.googleapis.com/auth/experimentsandconfigs",
            extra_authorize_params: &[("access_type", "offline"), ("prompt", "consent")],
            device_pkce: false,
            token_body: BodyStyle::Form,
            refresh_body: BodyStyle::Form,
            terms_note: Some(
                "Google's Antigravity terms bar using the service with products Google does not provide; accounts used through other tools have been disabled. You decide.",
            ),
            refresh_lead: Duration::from_secs(5 * 60),
            endpoints: Endpoints {
                authorize_url: url("https://accounts.google.com/o/oauth2/v2/auth"),
                token_url: url("https://oauth2.googleapis.com/token"),
                userinfo_url: url("https://www.googleapis.com/oauth2/v1/userinfo?alt=json"),
                api_base: url("https://daily-cloudcode-pa.googleapis.com/v1internal"),
                usage_url: url(
                    "https://daily-cloudcode-pa.googleapis.com/v1internal:fetchAvailableModels",
                ),
                ..Endpoints::default()
            },
            // The IDE keeps its tokens in its own state database, not a file.
            cli_credentials: None,
        })
    }

    fn authorize(&self, call: &UpstreamCall<'_>, headers: &mut RequestHeaders) {
        headers.bearer(call.token);
        headers.add("user-agent", user_agent());
    }

    fn upstream_path(&self, _upstream: Dialect, _model: &str, stream: bool) -> String {
        code_assist_path(stream)
    }

    fn wraps_response(&self) -> bool {
        true
    }

    fn shapes_body(&self) -> bool {
        true
    }

    fn shape_body(&self, body: &mut Value, shaping: &Shaping<'_>) {
        let mut request = std::mem::take(body);
        if let Some(object) = request.as_object_mut() {
            object.remove("safetySettings");
            // Claude behind Code Assist calls functions only in VALIDATED mode.
            if shaping.model.starts_with("claude") && object.contains_key("tools") {
                object.insert(
                    "toolConfig".into(),
                    json!({"functionCallingConfig": {"mode": "VALIDATED"}}),
                );
            }
            object.insert("sessionId".into(), format!("-{}", session_number()).into());
        }
        *body = json!({
            "project": shaping.meta.get("project_id"),
            "model": shaping.model,
            "userAgent": "antigravity",
            "requestType": "agent",
            "requestId": format!("agent-{}", uuid_v4()),
            "request": request,
        });
    }

    fn account_facts(&self, grant: &Grant) -> (Option<String>, Map<String, Value>) {
        code_assist_facts(grant)
    }

    fn complete_login<'a>(
        &'a self,
        http: &'a reqwest::Client,
        service: &'a Service,
        grant: Grant,
    ) -> BoxFuture<'a, Result<Grant, LoginError>> {
        Box::pin(complete_code_assist_login(http, service, grant, IDE_TYPE))
    }

    fn exchange<'a>(
        &'a self,
        exchange: Exchange<'a>,
    ) -> BoxFuture<'a, Result<Exchanged, ExchangeError>> {
        Box::pin(code_assist_exchange(exchange, IDE_TYPE))
    }

    fn quota_request(
        &self,
        http: &reqwest::Client,
        service: &Service,
        account: &Account,
        token: &str,
    ) -> Result<Option<reqwest::RequestBuilder>, String> {
        Ok(service.endpoints.usage_url.as_deref().map(|url| {
            http.post(url)
                .bearer_auth(token)
                .header("user-agent", user_agent())
                .json(&json!({"project": account.meta.get("project_id")}))
        }))
    }

    fn read_quota(&self, account_id: i64, body: &Value) -> Vec<ServiceQuota> {
        listed_models(body)
            .filter_map(|(id, model)| {
                let quota = &model["quotaInfo"];
                let reset = time_millis(&quota["resetTime"]);
                // No fraction left but a reset time: the quota is spent.
                let used = match quota["remainingFraction"].as_f64() {
                    Some(left) => (1.0 - left) * 100.0,
                    None if reset.is_some() => 100.0,
                    None => return None,
                };
                Some(window(account_id, &format!("model:{id}"), used, reset))
            })
            .collect()
    }

    fn models_in_quota(&self, body: &Value) -> Vec<String> {
        let mut models: Vec<String> = listed_models(body).map(|(id, _)| id.clone()).collect();
        models.sort();
        models
    }
}

/// The models `fetchAvailableModels` lists for use (internal ones left out).
fn listed_models(body: &Value) -> impl Iterator<Item = (&String, &Value)> {
    body["models"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, model)| model["isInternal"] != true)
}

/// `antigravity/hub/<version> <os>/<arch>`.
fn user_agent() -> String {
    format!(
        "antigravity/hub/{ANTIGRAVITY_VERSION} {}/{}",
        node_platform(),
        node_arch()
    )
}

/// A random positive number, as Antigravity's session ids carry.
fn session_number() -> u64 {
    rand::RngCore::next_u64(&mut rand::rng()) >> 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_wrapped_in_antigravitys_envelope() {
        let meta: Map<String, Value> =
            serde_json::from_value(json!({"project_id": "proj-1"})).unwrap();
        let mut body = json!({"contents": [], "tools": [{"functionDeclarations": []}],
                              "safetySettings": []});
        Antigravity.shape_body(
            &mut body,
            &Shaping {
                model: "claude-sonnet-4-5",
                meta: &meta,
            },
        );
        assert_eq!(body["project"], "proj-1");
        assert_eq!(body["model"], "claude-sonnet-4-5");
        assert_eq!(body["userAgent"], "antigravity");
        assert_eq!(body["requestType"], "agent");
        assert!(body["requestId"].as_str().unwrap().starts_with("agent-"));
        let request = &body["request"];
        assert!(request.get("safetySettings").is_none());
        assert_eq!(
            request["toolConfig"]["functionCallingConfig"]["mode"],
            "VALIDATED"
        );
        assert!(request["sessionId"].as_str().unwrap().starts_with('-'));
    }

    #[test]
    fn available_models_are_the_model_list_and_the_windows() {
        let body = json!({"models": {
            "gemini-3-flash": {"quotaInfo": {"remainingFraction": 0.75, "resetTime": "2030-01-01T00:00:00Z"}},
            "claude-sonnet-4-5": {"quotaInfo": {"resetTime": "2030-01-01T00:00:00Z"}},
            "chat_20706": {"isInternal": true, "quotaInfo": {"remainingFraction": 1.0}},
        }});
        assert_eq!(
            Antigravity.models_in_quota(&body),
            ["claude-sonnet-4-5", "gemini-3-flash"]
        );
        let mut windows = Antigravity.read_quota(3, &body);
        windows.sort_by(|a, b| a.window.cmp(&b.window));
        assert_eq!(windows.len(), 2);
        assert_eq!(windows[0].window, "model:claude-sonnet-4-5");
        assert_eq!(windows[0].used_percent, 100.0);
        assert_eq!(windows[1].used_percent, 25.0);
        assert_eq!(windows[1].resets_at, Some(1_893_456_000_000));
    }
}
