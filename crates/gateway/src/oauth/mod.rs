//! Subscription accounts: logging in (authorization code with PKCE, device
//! code, importing what an installed CLI holds, pasting a refresh token),
//! keeping tokens fresh, shaping requests the way each service expects, and
//! reading each service's usage windows.

pub mod code_assist;
pub(crate) mod credentials;
pub(crate) mod executors;
pub mod flows;
pub(crate) mod iflow;
pub mod imports;
pub mod providers;
pub mod quota_readers;

use serde_json::{Map, Value};
use switchyard_store::{Account, Provider, Store};

pub use flows::{AuthCodeLogin, DeviceLogin, Grant, LoginError, Pkce};
pub use providers::{LoginKind, Service, service, services};

/// CodeWhisperer profile of AWS Builder ID accounts without one of their own.
pub(crate) const KIRO_BUILDER_ID_PROFILE_ARN: &str =
    "arn:aws:codewhisperer:us-east-1:638616132270:profile/AAAACCCCXXXX";
/// CodeWhisperer profile of Kiro's Google/GitHub sign-ins.
const KIRO_SOCIAL_PROFILE_ARN: &str =
    "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK";

/// What a grant says about whose account it is: an e-mail and the facts
/// requests need later (ChatGPT account id, Qwen resource URL, ...).
pub fn account_facts(service: &Service, grant: &Grant) -> (Option<String>, Map<String, Value>) {
    let mut meta = Map::new();
    let mut email = None;
    match service.id {
        "claude-code" => {
            let account = grant.extra.get("account");
            email = account
                .and_then(|account| account.get("email_address"))
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Some(uuid) = account.and_then(|a| a.get("uuid")).and_then(Value::as_str) {
                meta.insert("account_uuid".into(), uuid.into());
            }
            if let Some(kind) = grant.extra.get("subscription_type").and_then(Value::as_str) {
                meta.insert("plan".into(), kind.into());
            }
        }
        "codex" => {
            let claims = grant.id_token.as_deref().and_then(flows::jwt_claims);
            if let Some(claims) = &claims {
                email = claims
                    .get("email")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                let auth = claims.get("https://api.openai.com/auth");
                for (from, to) in [
                    ("chatgpt_account_id", "account_id"),
                    ("chatgpt_plan_type", "plan"),
                ] {
                    if let Some(value) =
                        auth.and_then(|auth| auth.get(from)).and_then(Value::as_str)
                    {
                        meta.insert(to.into(), value.into());
                    }
                }
            }
            if let Some(account_id) = grant.extra.get("account_id").and_then(Value::as_str) {
                meta.entry("account_id").or_insert(account_id.into());
            }
        }
        "gemini-cli" => {
            email = grant
                .extra
                .get("email")
                .and_then(Value::as_str)
                .map(str::to_owned)
                .or_else(|| {
                    grant
                        .id_token
                        .as_deref()
                        .and_then(flows::jwt_claims)
                        .and_then(|claims| {
                            claims
                                .get("email")
                                .and_then(Value::as_str)
                                .map(str::to_owned)
                        })
                });
            for key in ["project_id", "tier"] {
                if let Some(value) = grant.extra.get(key).and_then(Value::as_str) {
                    meta.insert(key.into(), value.into());
                }
            }
        }
        "kiro" => {
            for key in [
                "client_id",
                "client_secret",
                "region",
                "auth_method",
                "provider",
                "profile_arn",
            ] {
                if let Some(value) = grant.extra.get(key).and_then(Value::as_str) {
                    meta.insert(key.into(), value.into());
                }
            }
            if let Some(arn) = grant.extra.get("profileArn").and_then(Value::as_str) {
                meta.insert("profile_arn".into(), arn.into());
            }
            if !meta.contains_key("profile_arn") {
                // The shared profiles Kiro's free plans use, as Kiro's IDE
                // and community clients send them when an account has none.
                let social = meta.get("auth_method").and_then(Value::as_str) == Some("social");
                let arn = if social {
                    KIRO_SOCIAL_PROFILE_ARN
                } else {
                    KIRO_BUILDER_ID_PROFILE_ARN
                };
                meta.insert("profile_arn".into(), arn.into());
            }
        }
        "qwen" => {
            if let Some(resource) = grant.extra.get("resource_url").and_then(Value::as_str) {
                meta.insert("resource_url".into(), resource.into());
            }
        }
        "iflow" => {
            email = grant
                .extra
                .get("email")
                .and_then(Value::as_str)
                .map(str::to_owned);
            if let Some(key) = grant.extra.get(iflow::API_KEY_FACT) {
                meta.insert(iflow::API_KEY_FACT.into(), key.clone());
            }
        }
        _ => {}
    }
    (email, meta)
}

/// What a login needs beyond the tokens, fetched once they are there: for
/// the Gemini CLI, the account's e-mail and its Code Assist project
/// (onboarding the account on first use); for iFlow, the API key requests
/// use and the account's e-mail or phone. Runs after every login, import and
/// pasted refresh token; an imported access token that has run out is
/// refreshed first (Google does not rotate refresh tokens, so the CLI's own
/// copy stays valid).
pub async fn complete_login(
    http: &reqwest::Client,
    service: &Service,
    mut grant: Grant,
) -> Result<Grant, LoginError> {
    if service.id == "iflow" {
        let facts = iflow::user_info(http, service, &grant.tokens.access_token).await?;
        grant.extra.extend(facts);
    }
    if service.id == "gemini-cli" {
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
        let setup = code_assist::setup(http, service, &token).await?;
        grant
            .extra
            .insert("project_id".into(), setup.project.into());
        if let Some(tier) = setup.tier {
            grant.extra.insert("tier".into(), tier.into());
        }
    }
    Ok(grant)
}

/// Stores a completed login as an account of the service's provider,
/// creating the provider (with the service's prefix, or `prefix`) on first
/// use. With `prefix`, the account joins the service's provider of that
/// prefix, created when there is none: one service can have several
/// providers (say work and personal accounts under two prefixes). A second
/// login to the same e-mail updates that account.
pub fn save_login(
    store: &Store,
    service: &Service,
    grant: &Grant,
    label: Option<&str>,
    prefix: Option<&str>,
) -> Result<(Provider, Account), String> {
    let existing = store
        .list_providers()
        .map_err(|error| error.to_string())?
        .into_iter()
        .filter(|provider| provider.subscription.as_deref() == Some(service.id))
        .find(|provider| prefix.is_none_or(|prefix| provider.prefix == prefix));
    let provider = match existing {
        Some(provider) => provider,
        None => store
            .add_subscription_provider(
                &match prefix {
                    Some(prefix) if prefix != service.prefix => {
                        format!("{} ({prefix})", service.name)
                    }
                    _ => service.name.to_owned(),
                },
                service.kind,
                prefix.unwrap_or(service.prefix),
                service.endpoints.api_base.as_deref().unwrap_or_default(),
                &service
                    .models
                    .iter()
                    .map(|m| (*m).to_owned())
                    .collect::<Vec<_>>(),
                service.id,
            )
            .map_err(|error| format!("{error} (pass --prefix to choose another prefix)"))?,
    };
    let (email, meta) = account_facts(service, grant);
    let label = label
        .map(str::to_owned)
        .or_else(|| email.clone())
        .unwrap_or_else(|| "default".into());
    let account = store
        .save_oauth_account(provider.id, &label, &grant.tokens, email.as_deref(), &meta)
        .map_err(|error| error.to_string())?;
    Ok((provider, account))
}
