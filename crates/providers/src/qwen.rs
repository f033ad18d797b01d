//! Qwen Code's login: a device-code login whose token response names the
//! API host (`resource_url`) requests go to, and DashScope's OAuth marker.

use std::path::Path;
use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::{Map, Value};
use switchyard_store::ProviderKind;

use super::{
    Exchange, ExchangeError, Exchanged, ImportedFacts, ProviderApi, RequestHeaders, UpstreamCall,
    text_at, text_of,
};
use crate::oauth::service::{
    AuthorizeStyle, BodyStyle, DeviceProtocol, Endpoints, LoginKind, Redirect, url,
};
use crate::oauth::{Grant, Service};

/// Qwen Code's login.
#[derive(Debug)]
pub(super) struct Qwen;

impl ProviderApi for Qwen {
    fn service(&self) -> Option<Service> {
        Some(Service {
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
        })
    }

    fn authorize(&self, call: &UpstreamCall<'_>, headers: &mut RequestHeaders) {
        headers.bearer(call.token);
        headers.add("x-dashscope-authtype", "qwen-oauth");
    }

    fn exchange<'a>(
        &'a self,
        exchange: Exchange<'a>,
    ) -> BoxFuture<'a, Result<Exchanged, ExchangeError>> {
        let account = exchange.account;
        let mut exchanged = Exchanged::token(account.api_key.clone());
        exchanged.base_url = account
            .meta
            .get("resource_url")
            .and_then(Value::as_str)
            .map(qwen_base);
        Box::pin(async move { Ok(exchanged) })
    }

    fn facts_from_9router(&self, _connection: &Value, specific: &Value) -> ImportedFacts {
        let mut facts = ImportedFacts::default();
        facts.copy(text_of(specific, "resourceUrl"), "resource_url");
        facts
    }

    fn import_credentials(&self, file: &Value, _path: &Path) -> Result<Grant, String> {
        let mut grant = Grant::imported(
            text_at(file, "access_token"),
            text_at(file, "refresh_token"),
            file.get("expiry_date").and_then(Value::as_i64),
        )?;
        if let Some(resource) = text_at(file, "resource_url") {
            grant.extra.insert("resource_url".into(), resource.into());
        }
        Ok(grant)
    }

    fn account_facts(&self, grant: &Grant) -> (Option<String>, Map<String, Value>) {
        let mut meta = Map::new();
        if let Some(resource) = grant.extra.get("resource_url").and_then(Value::as_str) {
            meta.insert("resource_url".into(), resource.into());
        }
        (None, meta)
    }
}

/// Qwen's API base from the `resource_url` its token endpoint returns.
fn qwen_base(resource: &str) -> String {
    let host = resource.trim_end_matches('/');
    let with_scheme = if host.starts_with("http://") || host.starts_with("https://") {
        host.to_owned()
    } else {
        format!("https://{host}")
    };
    if with_scheme.ends_with("/v1") {
        with_scheme
    } else {
        format!("{with_scheme}/v1")
    }
}
