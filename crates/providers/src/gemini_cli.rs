//! The Gemini CLI's Google login: Code Assist's `v1internal` API, a Gemini
//! request wrapped as `{model, project, request}` and answers as
//! `{response}`, billed to the account's Code Assist project (found, or the
//! account onboarded, at login or at first use), with per-model usage
//! buckets. Antigravity shares the project and envelope helpers here.

use std::path::Path;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value, json};
use switchyard_store::{Account, ProviderKind, ServiceQuota};

use super::{
    Exchange, ExchangeError, Exchanged, ImportedFacts, ProviderApi, RequestHeaders, Shaping,
    UpstreamCall, node_arch, node_platform, text_at, text_of, time_millis, window,
};
use crate::oauth::service::{
    AuthorizeStyle, BodyStyle, DeviceProtocol, Endpoints, LoginKind, Redirect, url,
};
use crate::oauth::{Grant, LoginError, Service, code_assist, flows};
use switchyard_protocol::Dialect;

/// How the Gemini CLI names itself to Code Assist (`ClientMetadata.ideType`).
const IDE_TYPE: &str = "IDE_UNSPECIFIED";
/// Gemini CLI's version in the user agent Code Assist sees.
const GEMINI_CLI_VERSION: &str = "0.55.0";

/// The Gemini CLI's Google login.
#[derive(Debug)]
pub(super) struct GeminiCli;

impl ProviderApi for GeminiCli {
    fn service(&self) -> Option<Service> {
        Some(Service {
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
        })
    }

    fn authorize(&self, call: &UpstreamCall<'_>, headers: &mut RequestHeaders) {
        headers.bearer(call.token);
        headers.add(
            "user-agent",
            format!(
                "GeminiCLI/{GEMINI_CLI_VERSION}/{} ({}; {}; terminal)",
                call.model,
                node_platform(),
                node_arch()
            ),
        );
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
        let mut prompt_id = [0u8; 8];
        rand::RngCore::fill_bytes(&mut rand::rng(), &mut prompt_id);
        // Code Assist's `CAGenerateContentRequest`.
        *body = json!({
            "model": shaping.model,
            "project": shaping.meta.get("project_id"),
            "user_prompt_id": prompt_id.iter().map(|b| format!("{b:02x}")).collect::<String>(),
            "request": std::mem::take(body),
        });
    }

    fn import_credentials(&self, file: &Value, _path: &Path) -> Result<Grant, String> {
        // google-auth-library's Credentials, as the Gemini CLI writes them.
        let mut grant = Grant::imported(
            text_at(file, "access_token"),
            text_at(file, "refresh_token"),
            file.get("expiry_date")
                .and_then(|at| at.as_i64().or_else(|| at.as_f64().map(|at| at as i64))),
        )?;
        grant.id_token = text_at(file, "id_token");
        Ok(grant)
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

    fn facts_from_9router(&self, connection: &Value, specific: &Value) -> ImportedFacts {
        let mut facts = ImportedFacts::default();
        let project = text_of(connection, "projectId").or_else(|| text_of(specific, "projectId"));
        facts.copy(project, "project_id");
        facts
    }

    fn quota_request(
        &self,
        http: &reqwest::Client,
        service: &Service,
        account: &Account,
        token: &str,
    ) -> Result<Option<reqwest::RequestBuilder>, String> {
        // `retrieveUserQuota` is a POST naming the Code Assist project.
        Ok(service.endpoints.usage_url.as_deref().map(|url| {
            http.post(url)
                .bearer_auth(token)
                .json(&json!({"project": account.meta.get("project_id")}))
        }))
    }

    fn read_quota(&self, account_id: i64, body: &Value) -> Vec<ServiceQuota> {
        let mut windows = Vec::new();
        for bucket in body["buckets"].as_array().into_iter().flatten() {
            let Some(model) = bucket["modelId"].as_str() else {
                continue;
            };
            let mut name = format!("model:{model}");
            if let Some(kind) = bucket["tokenType"]
                .as_str()
                .filter(|kind| *kind != "REQUESTS")
            {
                name.push(' ');
                name.push_str(&kind.to_ascii_lowercase());
            }
            if let Some(left) = bucket["remainingFraction"].as_f64() {
                windows.push(window(
                    account_id,
                    &name,
                    (1.0 - left) * 100.0,
                    time_millis(&bucket["resetTime"]),
                ));
            }
        }
        windows
    }
}

/// `v1internal:` methods for one answer or a stream.
pub(super) fn code_assist_path(stream: bool) -> String {
    if stream {
        ":streamGenerateContent?alt=sse".into()
    } else {
        ":generateContent".into()
    }
}

/// The e-mail (from the login, else the OpenID token) and the Code Assist
/// project and tier of a Google login.
pub(super) fn code_assist_facts(grant: &Grant) -> (Option<String>, Map<String, Value>) {
    let email =
        text_at(&Value::Object(grant.extra.clone()), "email").or_else(|| super::grant_email(grant));
    let mut meta = Map::new();
    for key in ["project_id", "tier"] {
        if let Some(value) = grant.extra.get(key).and_then(Value::as_str) {
            meta.insert(key.into(), value.into());
        }
    }
    (email, meta)
}

/// After a Google login: the e-mail and the Code Assist project (the account
/// onboarded on first use). An imported access token that has run out is
/// refreshed first (Google does not rotate refresh tokens, so the CLI's own
/// copy stays valid).
pub(super) async fn complete_code_assist_login(
    http: &reqwest::Client,
    service: &Service,
    mut grant: Grant,
    ide_type: &str,
) -> Result<Grant, LoginError> {
    let expired = grant.tokens.expires_at.is_some_and(|at| {
        at - (service.refresh_lead.as_millis() as i64) <= switchyard_store::now_millis()
    });
    if expired && let Some(refresh_token) = grant.tokens.refresh_token.clone() {
        let fresh = flows::refresh(http, service, &refresh_token).await?;
        grant.tokens.access_token = fresh.tokens.access_token;
        grant.tokens.expires_at = fresh.tokens.expires_at;
        if fresh.tokens.refresh_token.is_some() {
            grant.tokens.refresh_token = fresh.tokens.refresh_token;
        }
    }
    let token = grant.tokens.access_token.clone();
    if !grant.extra.contains_key("email")
        && let Some(email) = code_assist::user_email(http, service, &token).await
    {
        grant.extra.insert("email".into(), email.into());
    }
    let setup = code_assist::setup(http, service, &token, ide_type).await?;
    grant
        .extra
        .insert("project_id".into(), setup.project.into());
    if let Some(tier) = setup.tier {
        grant.extra.insert("tier".into(), tier.into());
    }
    Ok(grant)
}

/// The account's token, and its Code Assist project found now (once) when
/// it logged in elsewhere or onboarding was pending.
pub(super) async fn code_assist_exchange(
    exchange: Exchange<'_>,
    ide_type: &str,
) -> Result<Exchanged, ExchangeError> {
    let account = exchange.account;
    let mut exchanged = Exchanged::token(account.api_key.clone());
    if !account.meta.contains_key("project_id") {
        let setup =
            code_assist::setup(exchange.http, exchange.service, &account.api_key, ide_type).await?;
        let mut meta = account.meta.clone();
        meta.insert("project_id".into(), setup.project.into());
        if let Some(tier) = setup.tier {
            meta.insert("tier".into(), tier.into());
        }
        exchanged.learned = Some(meta);
    }
    Ok(exchanged)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn usage_buckets_become_model_windows() {
        let gemini = GeminiCli.read_quota(
            1,
            &json!({"buckets": [{"modelId": "gemini-2.5-pro", "tokenType": "REQUESTS", "remainingFraction": 0.25,
                                 "resetTime": "2030-01-02T00:00:00Z"},
                                {"modelId": "gemini-2.5-flash", "remainingFraction": 1.0}]}),
        );
        assert_eq!(gemini.len(), 2);
        assert_eq!(gemini[0].window, "model:gemini-2.5-pro");
        assert_eq!(gemini[0].used_percent, 75.0);
        assert_eq!(gemini[1].used_percent, 0.0);
    }
}
