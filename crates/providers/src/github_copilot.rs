//! GitHub Copilot: a GitHub device login whose token is exchanged for a
//! short-lived Copilot token and API base before requests (kept until five
//! minutes before it expires), VS Code's Copilot Chat identification, and
//! the monthly premium-request window.

use std::time::Duration;

use futures_util::future::BoxFuture;
use serde_json::Value;
use switchyard_store::{Account, ProviderKind, ServiceQuota, now_millis};

use super::{
    Exchange, ExchangeError, Exchanged, ProviderApi, RequestHeaders, UpstreamCall, window,
};
use crate::oauth::service::{
    AuthorizeStyle, BodyStyle, DeviceProtocol, Endpoints, LoginKind, Redirect, url,
};
use crate::oauth::{LoginError, Service};

/// GitHub Copilot.
#[derive(Debug)]
pub(super) struct GithubCopilot;

impl ProviderApi for GithubCopilot {
    fn service(&self) -> Option<Service> {
        Some(Service {
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
        })
    }

    fn authorize(&self, call: &UpstreamCall<'_>, headers: &mut RequestHeaders) {
        headers.bearer(call.token);
        for (name, value) in [
            ("copilot-integration-id", "vscode-chat"),
            ("editor-version", "vscode/1.104.0"),
            ("editor-plugin-version", "copilot-chat/0.31.0"),
            ("user-agent", "GitHubCopilotChat/0.31.0"),
            ("openai-intent", "conversation-panel"),
            ("x-github-api-version", "2025-04-01"),
        ] {
            headers.add(name, value);
        }
    }

    fn exchange<'a>(
        &'a self,
        exchange: Exchange<'a>,
    ) -> BoxFuture<'a, Result<Exchanged, ExchangeError>> {
        Box::pin(copilot_token(exchange))
    }

    fn quota_request(
        &self,
        http: &reqwest::Client,
        service: &Service,
        account: &Account,
        _token: &str,
    ) -> Result<Option<reqwest::RequestBuilder>, String> {
        // Read with the GitHub token itself, not the exchanged one.
        Ok(service.endpoints.usage_url.as_deref().map(|url| {
            http.get(url)
                .header("authorization", format!("token {}", account.api_key))
        }))
    }

    fn read_quota(&self, account_id: i64, body: &Value) -> Vec<ServiceQuota> {
        let reset = body["quota_reset_date"]
            .as_str()
            .and_then(|date| date.parse::<jiff::civil::Date>().ok())
            .and_then(|date| date.to_zoned(jiff::tz::TimeZone::UTC).ok())
            .map(|zoned| zoned.timestamp().as_millisecond());
        body["quota_snapshots"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, entry)| entry["unlimited"].as_bool() != Some(true))
            .filter_map(|(name, entry)| {
                let left = entry["percent_remaining"].as_f64()?;
                Some(window(account_id, name, 100.0 - left, reset))
            })
            .collect()
    }
}

/// The short-lived Copilot token and API base for the GitHub token.
async fn copilot_token(exchange: Exchange<'_>) -> Result<Exchanged, ExchangeError> {
    let service = exchange.service;
    let unreachable = |reason: String| LoginError::Unreachable {
        service: service.id,
        reason,
    };
    let url = service.endpoints.exchange_url.as_deref().ok_or_else(|| {
        LoginError::Misconfigured("GitHub Copilot has no token exchange URL configured".into())
    })?;
    let response = exchange
        .http
        .get(url)
        .header(
            "authorization",
            format!("token {}", exchange.account.api_key),
        )
        .header("accept", "application/json")
        .send()
        .await
        .map_err(|_| unreachable("cannot reach GitHub to get a Copilot token".into()))?;
    let status = response.status();
    if status == reqwest::StatusCode::UNAUTHORIZED || status == reqwest::StatusCode::FORBIDDEN {
        return Err(ExchangeError::NeedsLogin(format!(
            "GitHub answered {status} to the Copilot token request"
        )));
    }
    let body: Value = crate::side_call::side_json(response)
        .await
        .ok_or_else(|| unreachable(format!("GitHub answered {status} without a Copilot token")))?;
    let token = body["token"]
        .as_str()
        .ok_or_else(|| unreachable(format!("GitHub answered {status} without a Copilot token")))?;
    // Reused until five minutes before it expires. That time is on GitHub's
    // clock, so when `refresh_in` (seconds from now) is given it decides
    // instead: a skewed clock here then neither throws tokens away early
    // nor keeps them past their life.
    let now = now_millis();
    let expires_at = match body["refresh_in"].as_i64() {
        Some(seconds) => now + seconds * 1000 + 5 * 60 * 1000,
        None => body["expires_at"]
            .as_i64()
            .map_or(now + 20 * 60 * 1000, |s| s * 1000),
    };
    let api = body["endpoints"]["api"]
        .as_str()
        .map(str::to_owned)
        .or_else(|| service.endpoints.api_base.clone())
        .unwrap_or_default();
    Ok(Exchanged {
        token: token.to_owned(),
        base_url: Some(api),
        reuse_until: Some(expires_at - 5 * 60 * 1000),
        learned: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn premium_requests_are_a_window() {
        let copilot = GithubCopilot.read_quota(
            1,
            &json!({"quota_reset_date": "2026-12-01",
                    "quota_snapshots": {"chat": {"unlimited": true},
                                        "premium_interactions": {"percent_remaining": 25.0, "unlimited": false}}}),
        );
        assert_eq!(copilot.len(), 1);
        assert_eq!(copilot[0].window, "premium_interactions");
        assert_eq!(copilot[0].used_percent, 75.0);
    }
}
