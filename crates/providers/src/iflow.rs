//! iFlow: requests authenticate with an API key that its user info
//! endpoint hands out for an OAuth access token (fetched again after each
//! refresh), and each request is signed the way the iFlow CLI signs it:
//! HMAC-SHA256 keyed with the API key over `user-agent:session:time`.

use std::time::Duration;

use futures_util::future::BoxFuture;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;
use switchyard_store::ProviderKind;

use super::{
    Exchange, ExchangeError, Exchanged, ProviderApi, RequestHeaders, Shaping, UpstreamCall, uuid_v4,
};
use crate::oauth::service::{
    AuthorizeStyle, BodyStyle, DeviceProtocol, Endpoints, LoginKind, Redirect, url,
};
use crate::oauth::{Grant, LoginError, Service};

/// How the iFlow CLI introduces itself; part of what is signed.
const USER_AGENT: &str = "iFlow-Cli";

/// Account meta key of the API key (a `*_secret` fact: sealed at rest).
const API_KEY_FACT: &str = "api_key_secret";

/// iFlow.
#[derive(Debug)]
pub(super) struct Iflow;

impl ProviderApi for Iflow {
    fn service(&self) -> Option<Service> {
        Some(Service {
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
        })
    }

    fn authorize(&self, call: &UpstreamCall<'_>, headers: &mut RequestHeaders) {
        headers.bearer(call.token);
        headers.add("user-agent", USER_AGENT);
        for (name, value) in signed_headers(call.token, switchyard_store::now_millis()) {
            headers.add(name, value);
        }
    }

    fn shapes_body(&self) -> bool {
        true
    }

    fn shape_body(&self, body: &mut Value, _shaping: &Shaping<'_>) {
        // iFlow's streams carry usage only when asked, as its CLI does.
        if let Some(object) = body.as_object_mut()
            && object.get("stream") == Some(&Value::Bool(true))
        {
            let options = object.entry("stream_options").or_insert_with(|| json!({}));
            if let Some(options) = options.as_object_mut() {
                options.insert("include_usage".into(), Value::Bool(true));
            }
        }
    }

    fn account_facts(&self, grant: &Grant) -> (Option<String>, Map<String, Value>) {
        let email = grant
            .extra
            .get("email")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let mut meta = Map::new();
        if let Some(key) = grant.extra.get(API_KEY_FACT) {
            meta.insert(API_KEY_FACT.into(), key.clone());
        }
        (email, meta)
    }

    fn complete_login<'a>(
        &'a self,
        http: &'a reqwest::Client,
        service: &'a Service,
        mut grant: Grant,
    ) -> BoxFuture<'a, Result<Grant, LoginError>> {
        Box::pin(async move {
            let facts = user_info(http, service, &grant.tokens.access_token).await?;
            grant.extra.extend(facts);
            Ok(grant)
        })
    }

    fn exchange<'a>(
        &'a self,
        exchange: Exchange<'a>,
    ) -> BoxFuture<'a, Result<Exchanged, ExchangeError>> {
        Box::pin(async move {
            let account = exchange.account;
            let mut meta = account.meta.clone();
            let mut learned = None;
            // After a refresh forced by a refusal the key may have changed:
            // ask for it again.
            if exchange.force || !meta.contains_key(API_KEY_FACT) {
                meta.extend(user_info(exchange.http, exchange.service, &account.api_key).await?);
                learned = Some(meta.clone());
            }
            let key = meta
                .get(API_KEY_FACT)
                .and_then(Value::as_str)
                .unwrap_or(&account.api_key);
            Ok(Exchanged {
                learned,
                ..Exchanged::token(key.to_owned())
            })
        })
    }
}

/// The account behind `access_token`: its API key (under [`API_KEY_FACT`])
/// and its e-mail or, for phone sign-ins, its phone number (`email`).
async fn user_info(
    http: &reqwest::Client,
    service: &Service,
    access_token: &str,
) -> Result<Map<String, Value>, LoginError> {
    let base = service.endpoints.userinfo_url.as_deref().ok_or_else(|| {
        LoginError::Misconfigured(format!("{} has no user info URL configured", service.id))
    })?;
    let url = url::Url::parse_with_params(base, [("accessToken", access_token)])
        .map_err(|error| LoginError::Misconfigured(format!("{base}: {error}")))?;
    let unreachable = |reason: String| LoginError::Unreachable {
        service: service.id,
        reason,
    };
    let response = http
        .get(url)
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|_| unreachable("cannot reach its user info endpoint".into()))?;
    let status = response.status();
    let body: Value = response
        .json()
        .await
        .map_err(|_| unreachable(format!("its user info endpoint answered {status}")))?;
    let data = &body["data"];
    let api_key = data["apiKey"].as_str().filter(|key| !key.is_empty());
    let (true, Some(api_key)) = (body["success"].as_bool() == Some(true), api_key) else {
        return Err(LoginError::Refused {
            service: service.id,
            reason: format!("its user info endpoint answered {status} without an API key"),
        });
    };
    let mut facts = Map::new();
    facts.insert(API_KEY_FACT.into(), api_key.into());
    let who = ["email", "phone"]
        .iter()
        .find_map(|field| data[field].as_str().filter(|text| !text.is_empty()));
    if let Some(who) = who {
        facts.insert("email".into(), who.into());
    }
    Ok(facts)
}

/// The headers that sign one request: a fresh session id, the time in
/// milliseconds, and the signature over both.
fn signed_headers(api_key: &str, now_millis: i64) -> [(&'static str, String); 3] {
    let session = format!("session-{}", uuid_v4());
    let signature = signature(api_key, &session, now_millis);
    [
        ("session-id", session),
        ("x-iflow-timestamp", now_millis.to_string()),
        ("x-iflow-signature", signature),
    ]
}

/// HMAC-SHA256, keyed with the API key, over `iFlow-Cli:<session>:<millis>`, in hex.
fn signature(api_key: &str, session: &str, now_millis: i64) -> String {
    // HMAC takes keys of any length.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(api_key.as_bytes()) else {
        return String::new();
    };
    mac.update(format!("{USER_AGENT}:{session}:{now_millis}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_the_hmac_of_agent_session_and_time() {
        // Computed independently: Python's
        // hmac.new(b"sk-test", b"iFlow-Cli:session-1:1700000000000", sha256).
        assert_eq!(
            signature("sk-test", "session-1", 1_700_000_000_000),
            "d4e16370b6f481bc535c28656da91abd1778f84390ba36d366eb821632465a1f"
        );
        let headers = signed_headers("sk-test", 42);
        assert!(headers[0].1.starts_with("session-"));
        assert_eq!(headers[1].1, "42");
        assert_eq!(headers[2].1, signature("sk-test", &headers[0].1, 42));
    }
}
