//! Codex's subscription (ChatGPT logins): the Responses API at ChatGPT's
//! backend, which only streams and stores nothing, wants the Codex CLI's
//! identification and the ChatGPT account id, and reports a primary and a
//! secondary usage window.

use std::path::Path;
use std::time::Duration;

use serde_json::{Map, Value};
use switchyard_store::{Account, ProviderKind, ServiceQuota};

use super::{
    ImportedFacts, ProviderApi, RequestHeaders, Shaping, UpstreamCall, text_at, text_of,
    time_millis, window,
};
use crate::oauth::flows::jwt_claims;
use crate::oauth::service::{
    AuthorizeStyle, BodyStyle, DeviceProtocol, Endpoints, LoginKind, Redirect, url,
};
use crate::oauth::{Grant, Service};

/// Instructions Codex requires when the client sent none.
const CODEX_DEFAULT_INSTRUCTIONS: &str = "You are a helpful coding assistant.";

/// Codex's subscription.
#[derive(Debug)]
pub(super) struct Codex;

impl ProviderApi for Codex {
    fn service(&self) -> Option<Service> {
        Some(Service {
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
        })
    }

    fn authorize(&self, call: &UpstreamCall<'_>, headers: &mut RequestHeaders) {
        headers.bearer(call.token);
        headers.add("originator", "codex_cli_rs");
        headers.add("openai-beta", "responses=experimental");
        headers.add("accept", "text/event-stream");
        if let Some(account_id) = call.meta.get("account_id").and_then(Value::as_str) {
            headers.add("chatgpt-account-id", account_id);
        }
    }

    fn forces_stream(&self) -> bool {
        true
    }

    fn shapes_body(&self) -> bool {
        true
    }

    fn shape_body(&self, body: &mut Value, _shaping: &Shaping<'_>) {
        let Some(object) = body.as_object_mut() else {
            return;
        };
        object.insert("stream".into(), Value::Bool(true));
        object.insert("store".into(), Value::Bool(false));
        let has_instructions = object
            .get("instructions")
            .and_then(Value::as_str)
            .is_some_and(|text| !text.is_empty());
        if !has_instructions {
            object.insert("instructions".into(), CODEX_DEFAULT_INSTRUCTIONS.into());
        }
        for unsupported in [
            "max_output_tokens",
            "temperature",
            "top_p",
            "user",
            "metadata",
            "service_tier",
            "stream_options",
        ] {
            object.remove(unsupported);
        }
    }

    fn import_credentials(&self, file: &Value, _path: &Path) -> Result<Grant, String> {
        let tokens = file.get("tokens").ok_or("it holds no tokens")?;
        let access = text_at(tokens, "access_token");
        let expires_at = access
            .as_deref()
            .and_then(jwt_claims)
            .and_then(|claims| claims.get("exp").and_then(Value::as_i64))
            .map(|seconds| seconds * 1000);
        let mut grant = Grant::imported(access, text_at(tokens, "refresh_token"), expires_at)?;
        grant.id_token = text_at(tokens, "id_token");
        if let Some(account_id) = text_at(tokens, "account_id") {
            grant.extra.insert("account_id".into(), account_id.into());
        }
        Ok(grant)
    }

    fn account_facts(&self, grant: &Grant) -> (Option<String>, Map<String, Value>) {
        let mut meta = Map::new();
        let mut email = None;
        if let Some(claims) = grant.id_token.as_deref().and_then(jwt_claims) {
            email = claims
                .get("email")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let auth = claims.get("https://api.openai.com/auth");
            for (from, to) in [
                ("chatgpt_account_id", "account_id"),
                ("chatgpt_plan_type", "plan"),
            ] {
                if let Some(value) = auth.and_then(|auth| auth.get(from)).and_then(Value::as_str) {
                    meta.insert(to.into(), value.into());
                }
            }
        }
        if let Some(account_id) = grant.extra.get("account_id").and_then(Value::as_str) {
            meta.entry("account_id").or_insert(account_id.into());
        }
        (email, meta)
    }

    fn facts_from_9router(&self, _connection: &Value, specific: &Value) -> ImportedFacts {
        let mut facts = ImportedFacts::default();
        facts.copy(text_of(specific, "chatgptAccountId"), "account_id");
        facts.copy(text_of(specific, "chatgptPlanType"), "plan");
        facts
    }

    fn quota_request(
        &self,
        http: &reqwest::Client,
        service: &Service,
        account: &Account,
        token: &str,
    ) -> Result<Option<reqwest::RequestBuilder>, String> {
        Ok(service.endpoints.usage_url.as_deref().map(|url| {
            let request = http.get(url).bearer_auth(token);
            match account.meta.get("account_id").and_then(Value::as_str) {
                Some(id) => request.header("chatgpt-account-id", id),
                None => request,
            }
        }))
    }

    fn read_quota(&self, account_id: i64, body: &Value) -> Vec<ServiceQuota> {
        let now = switchyard_store::now_millis();
        [
            ("primary", "primary_window"),
            ("secondary", "secondary_window"),
        ]
        .into_iter()
        .filter_map(|(name, key)| {
            let entry = &body["rate_limit"][key];
            let reset = time_millis(&entry["reset_at"]).or_else(|| {
                entry["reset_after_seconds"]
                    .as_i64()
                    .map(|s| now + s * 1000)
            });
            Some(window(
                account_id,
                name,
                entry["used_percent"].as_f64()?,
                reset,
            ))
        })
        .collect()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn usage_windows_are_read() {
        let codex = Codex.read_quota(
            1,
            &json!({"rate_limit": {"primary_window": {"used_percent": 100, "reset_at": 1_800_000_000},
                                   "secondary_window": {"used_percent": 3, "reset_after_seconds": 60}}}),
        );
        assert_eq!(codex[0].used_percent, 100.0);
        assert_eq!(codex[0].resets_at, Some(1_800_000_000_000));
        assert_eq!(codex[1].window, "secondary");
    }
}
