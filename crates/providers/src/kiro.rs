//! Kiro (AWS CodeWhisperer behind Kiro's IDE): AWS Builder ID or social
//! logins, requests in CodeWhisperer's `conversationState` answered as AWS
//! event streams only, a fresh conversation id per request, the account's
//! CodeWhisperer profile, 403 for a refused token, `INVALID_MODEL_ID` for an
//! unknown model, and the monthly credits of `GetUsageLimits`.

use std::path::Path;
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::{Map, Value};
use switchyard_store::{Account, ProviderKind, ServiceQuota};

use super::{
    ImportedFacts, ProviderApi, RequestHeaders, Shaping, UpstreamCall, text_at, text_of,
    time_millis, uuid_v4, window,
};
use crate::oauth::service::{
    AuthorizeStyle, BodyStyle, DeviceProtocol, Endpoints, LoginKind, Redirect, url,
};
use crate::oauth::{Grant, Service};

/// How Kiro's IDE introduces itself to CodeWhisperer.
const KIRO_USER_AGENT: &str = "aws-sdk-js/1.0.18 ua/2.1 os/linux lang/js md/nodejs api/codewhispererstreaming#1.0.18 m/E KiroIDE";
/// CodeWhisperer profile of AWS Builder ID accounts without one of their own.
const KIRO_BUILDER_ID_PROFILE_ARN: &str =
    "arn:aws:codewhisperer:us-east-1:638616132270:profile/AAAACCCCXXXX";
/// CodeWhisperer profile of Kiro's Google/GitHub sign-ins.
const KIRO_SOCIAL_PROFILE_ARN: &str =
    "arn:aws:codewhisperer:us-east-1:699475941385:profile/EHGA3GRVQMUK";

/// Kiro.
#[derive(Debug)]
pub(super) struct Kiro;

impl ProviderApi for Kiro {
    fn service(&self) -> Option<Service> {
        Some(Service {
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
        })
    }

    fn authorize(&self, call: &UpstreamCall<'_>, headers: &mut RequestHeaders) {
        headers.bearer(call.token);
        for (name, value) in [
            ("accept", "application/vnd.amazon.eventstream"),
            (
                "x-amz-target",
                "AmazonCodeWhispererStreamingService.GenerateAssistantResponse",
            ),
            ("user-agent", KIRO_USER_AGENT),
            ("x-amz-user-agent", KIRO_USER_AGENT),
            ("x-amzn-kiro-agent-mode", "vibe"),
            ("amz-sdk-request", "attempt=1; max=1"),
        ] {
            headers.add(name, value);
        }
        headers.add("amz-sdk-invocation-id", uuid_v4());
    }

    fn forces_stream(&self) -> bool {
        true
    }

    fn shapes_body(&self) -> bool {
        true
    }

    fn shape_body(&self, body: &mut Value, shaping: &Shaping<'_>) {
        let Some(object) = body.as_object_mut() else {
            return;
        };
        // A new conversation each time: the whole history is sent.
        if let Some(Value::Object(state)) = object.get_mut("conversationState") {
            state.insert("conversationId".into(), uuid_v4().into());
        }
        if let Some(arn) = shaping.meta.get("profile_arn") {
            object.insert("profileArn".into(), arn.clone());
        }
    }

    fn token_refused(&self, status: StatusCode) -> bool {
        // CodeWhisperer says 403 for an expired bearer token.
        status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN
    }

    fn unknown_model(&self, status: StatusCode, body: Option<&Value>) -> bool {
        status == StatusCode::BAD_REQUEST
            && body.is_some_and(|body| body["reason"] == "INVALID_MODEL_ID")
    }

    fn import_credentials(&self, file: &Value, path: &Path) -> Result<Grant, String> {
        // The Kiro IDE's token; an IAM Identity Center login keeps its
        // registered client in `<clientIdHash>.json` beside it.
        let expires_at = file
            .get("expiresAt")
            .and_then(Value::as_str)
            .and_then(|at| at.parse::<jiff::Timestamp>().ok())
            .map(|at| at.as_millisecond());
        let mut grant = Grant::imported(
            text_at(file, "accessToken"),
            text_at(file, "refreshToken"),
            expires_at,
        )?;
        let extra = &mut grant.extra;
        for (from, to) in [
            ("authMethod", "auth_method"),
            ("provider", "provider"),
            ("region", "region"),
            ("profileArn", "profile_arn"),
        ] {
            if let Some(value) = text_at(file, from) {
                extra.insert(to.into(), value.into());
            }
        }
        if let Some(auth) = extra.get_mut("auth_method")
            && auth
                .as_str()
                .is_some_and(|method| method.eq_ignore_ascii_case("social"))
        {
            *auth = "social".into();
        }
        let hash = text_at(file, "clientIdHash")
            .filter(|hash| !hash.is_empty() && hash.chars().all(|c| c.is_ascii_alphanumeric()));
        let client = hash
            .and_then(|hash| {
                std::fs::read_to_string(path.with_file_name(format!("{hash}.json"))).ok()
            })
            .and_then(|text| serde_json::from_str::<Value>(&text).ok());
        for (source, from, to) in [
            (Some(file), "clientId", "client_id"),
            (Some(file), "clientSecret", "client_secret"),
            (client.as_ref(), "clientId", "client_id"),
            (client.as_ref(), "clientSecret", "client_secret"),
        ] {
            if let Some(value) = source.and_then(|source| text_at(source, from)) {
                extra.entry(to).or_insert(value.into());
            }
        }
        Ok(grant)
    }

    fn account_facts(&self, grant: &Grant) -> (Option<String>, Map<String, Value>) {
        let mut meta = Map::new();
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
            // The shared profiles Kiro's free plans use, as Kiro's IDE and
            // community clients send them when an account has none.
            let social = meta.get("auth_method").and_then(Value::as_str) == Some("social");
            let arn = if social {
                KIRO_SOCIAL_PROFILE_ARN
            } else {
                KIRO_BUILDER_ID_PROFILE_ARN
            };
            meta.insert("profile_arn".into(), arn.into());
        }
        (None, meta)
    }

    fn facts_from_9router(&self, _connection: &Value, specific: &Value) -> ImportedFacts {
        let mut facts = ImportedFacts::default();
        for (from, to) in [
            ("profileArn", "profile_arn"),
            ("clientId", "client_id"),
            ("region", "region"),
            ("startUrl", "start_url"),
        ] {
            facts.copy(text_of(specific, from), to);
        }
        let method = text_of(specific, "authMethod").map(str::to_ascii_lowercase);
        facts.copy(method.as_deref(), "auth_method");
        if let Some(secret) = text_of(specific, "clientSecret") {
            facts
                .secret_meta
                .insert("client_secret".into(), secret.into());
        }
        facts
    }

    fn quota_request(
        &self,
        http: &reqwest::Client,
        service: &Service,
        account: &Account,
        token: &str,
    ) -> Result<Option<reqwest::RequestBuilder>, String> {
        let Some(url) = service.endpoints.usage_url.as_deref() else {
            return Ok(None);
        };
        // The Kiro IDE's `GET /getUsageLimits`; the profile goes along unless
        // it is the one shared by Builder ID accounts, for which the service
        // documents it as optional.
        let mut query = vec![("origin", "AI_EDITOR"), ("resourceType", "AGENTIC_REQUEST")];
        if let Some(arn) = account
            .meta
            .get("profile_arn")
            .and_then(Value::as_str)
            .filter(|arn| *arn != KIRO_BUILDER_ID_PROFILE_ARN)
        {
            query.push(("profileArn", arn));
        }
        let url =
            url::Url::parse_with_params(url, &query).map_err(|error| format!("{url}: {error}"))?;
        Ok(Some(
            http.get(url)
                .bearer_auth(token)
                .header("user-agent", KIRO_USER_AGENT)
                .header("x-amz-user-agent", KIRO_USER_AGENT),
        ))
    }

    fn read_quota(&self, account_id: i64, body: &Value) -> Vec<ServiceQuota> {
        // One window per resource type (Kiro's is `CREDIT`). Free-trial and
        // bonus credits are spent alongside the plan's, so they count in:
        // the window is used up only when every pool is.
        let number = |entry: &Value, precise: &str, plain: &str| {
            entry[precise].as_f64().or_else(|| entry[plain].as_f64())
        };
        let pool = |entry: &Value| {
            Some((
                number(entry, "currentUsageWithPrecision", "currentUsage")?,
                number(entry, "usageLimitWithPrecision", "usageLimit")?,
            ))
        };
        let live = |entry: &Value, status: &str| {
            entry[status]
                .as_str()
                .is_none_or(|status| status.eq_ignore_ascii_case("ACTIVE"))
        };
        let mut windows = Vec::new();
        for entry in body["usageBreakdownList"].as_array().into_iter().flatten() {
            let Some((mut used, mut limit)) = pool(entry) else {
                continue;
            };
            let extras = std::iter::once(&entry["freeTrialInfo"])
                .filter(|trial| live(trial, "freeTrialStatus"))
                .chain(
                    entry["bonuses"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter(|bonus| live(bonus, "status")),
                );
            for (extra_used, extra_limit) in extras.filter_map(pool) {
                used += extra_used;
                limit += extra_limit;
            }
            let percent = if limit > 0.0 {
                used / limit * 100.0
            } else {
                // No allowance at all (a lapsed plan): nothing to spend.
                100.0
            };
            let name = entry["resourceType"]
                .as_str()
                .unwrap_or("usage")
                .to_ascii_lowercase();
            let reset = time_millis(&entry["nextDateReset"])
                .or_else(|| time_millis(&body["nextDateReset"]));
            windows.push(window(account_id, &name, percent, reset));
        }
        windows
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn kiro_credits_count_live_trial_and_bonus_pools() {
        // The shape CodeWhisperer's GetUsageLimits answers with.
        let body = json!({
            "daysUntilReset": 8,
            "nextDateReset": 1_893_456_000.0,
            "subscriptionInfo": {"subscriptionTitle": "KIRO FREE", "type": "Q_DEVELOPER_STANDALONE_FREE"},
            "usageBreakdownList": [{
                "resourceType": "CREDIT",
                "currentUsage": 50, "currentUsageWithPrecision": 50.0,
                "usageLimit": 50, "usageLimitWithPrecision": 50.0,
                "freeTrialInfo": {"freeTrialStatus": "ACTIVE", "currentUsageWithPrecision": 100.0,
                                  "usageLimitWithPrecision": 500.0, "freeTrialExpiry": 1_890_000_000.0},
                "bonuses": [{"currentUsage": 0, "usageLimit": 100, "status": "EXPIRED"}],
            }],
        });
        let kiro = Kiro.read_quota(1, &body);
        assert_eq!(kiro.len(), 1);
        assert_eq!(kiro[0].window, "credit");
        assert!((kiro[0].used_percent - 150.0 / 550.0 * 100.0).abs() < 1e-9);
        assert_eq!(kiro[0].resets_at, Some(1_893_456_000_000));
        let mut expired = body.clone();
        expired["usageBreakdownList"][0]["freeTrialInfo"]["freeTrialStatus"] = "EXPIRED".into();
        assert_eq!(Kiro.read_quota(1, &expired)[0].used_percent, 100.0);
    }
}
