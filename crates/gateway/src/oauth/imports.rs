//! Importing the credentials an installed official CLI already holds
//! (Claude Code, Codex, Gemini CLI, Kiro, Qwen Code). The files are only read, never changed.

use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use switchyard_store::OAuthTokens;

use super::flows::{Grant, jwt_claims};
use super::providers::Service;

/// Where `service`'s CLI keeps its credentials under `home`, if it has a file.
pub fn credentials_path(service: &Service, home: &Path) -> Option<PathBuf> {
    service.cli_credentials.map(|relative| home.join(relative))
}

/// The user's home directory.
pub fn home_dir() -> Option<PathBuf> {
    directories::BaseDirs::new().map(|dirs| dirs.home_dir().to_owned())
}

/// Reads the CLI's credentials file into a grant.
pub fn import(service: &Service, home: &Path) -> Result<Grant, String> {
    let path = credentials_path(service, home)
        .ok_or_else(|| format!("{} has no credentials file to import", service.name))?;
    let text = std::fs::read_to_string(&path).map_err(|error| {
        format!(
            "cannot read {} ({error}); log in with the {} CLI first, or use `switchyard connect {}`",
            path.display(),
            service.name,
            service.id
        )
    })?;
    let json: Value = serde_json::from_str(&text)
        .map_err(|error| format!("{} is not JSON: {error}", path.display()))?;
    let text_at =
        |value: &Value, name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    let unreadable = || format!("{} does not hold {} tokens", path.display(), service.name);
    let mut extra = Map::new();
    let (access_token, refresh_token, expires_at, id_token) = match service.id {
        "claude-code" => {
            let oauth = json.get("claudeAiOauth").ok_or_else(unreadable)?;
            if let Some(plan) = text_at(oauth, "subscriptionType") {
                extra.insert("subscription_type".into(), plan.into());
            }
            (
                text_at(oauth, "accessToken"),
                text_at(oauth, "refreshToken"),
                oauth.get("expiresAt").and_then(Value::as_i64),
                None,
            )
        }
        "codex" => {
            let tokens = json.get("tokens").ok_or_else(unreadable)?;
            let access = text_at(tokens, "access_token");
            let expires_at = access
                .as_deref()
                .and_then(jwt_claims)
                .and_then(|claims| claims.get("exp").and_then(Value::as_i64))
                .map(|seconds| seconds * 1000);
            if let Some(account_id) = text_at(tokens, "account_id") {
                extra.insert("account_id".into(), account_id.into());
            }
            (
                access,
                text_at(tokens, "refresh_token"),
                expires_at,
                text_at(tokens, "id_token"),
            )
        }
        "kiro" => {
            // The Kiro IDE's token; an IAM Identity Center login keeps its
            // registered client in `<clientIdHash>.json` beside it.
            for (from, to) in [
                ("authMethod", "auth_method"),
                ("provider", "provider"),
                ("region", "region"),
                ("profileArn", "profile_arn"),
            ] {
                if let Some(value) = text_at(&json, from) {
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
            let hash = text_at(&json, "clientIdHash")
                .filter(|hash| !hash.is_empty() && hash.chars().all(|c| c.is_ascii_alphanumeric()));
            let client = hash
                .and_then(|hash| {
                    std::fs::read_to_string(path.with_file_name(format!("{hash}.json"))).ok()
                })
                .and_then(|text| serde_json::from_str::<Value>(&text).ok());
            for (source, from, to) in [
                (Some(&json), "clientId", "client_id"),
                (Some(&json), "clientSecret", "client_secret"),
                (client.as_ref(), "clientId", "client_id"),
                (client.as_ref(), "clientSecret", "client_secret"),
            ] {
                if let Some(value) = source.and_then(|source| text_at(source, from)) {
                    extra.entry(to).or_insert(value.into());
                }
            }
            let expires_at = json
                .get("expiresAt")
                .and_then(Value::as_str)
                .and_then(|at| at.parse::<jiff::Timestamp>().ok())
                .map(|at| at.as_millisecond());
            (
                text_at(&json, "accessToken"),
                text_at(&json, "refreshToken"),
                expires_at,
                None,
            )
        }
        "gemini-cli" => (
            // google-auth-library's Credentials, as the Gemini CLI writes them.
            text_at(&json, "access_token"),
            text_at(&json, "refresh_token"),
            json.get("expiry_date")
                .and_then(|at| at.as_i64().or_else(|| at.as_f64().map(|at| at as i64))),
            text_at(&json, "id_token"),
        ),
        "qwen" => {
            if let Some(resource) = text_at(&json, "resource_url") {
                extra.insert("resource_url".into(), resource.into());
            }
            (
                text_at(&json, "access_token"),
                text_at(&json, "refresh_token"),
                json.get("expiry_date").and_then(Value::as_i64),
                None,
            )
        }
        _ => {
            return Err(format!(
                "{} has no credentials file to import",
                service.name
            ));
        }
    };
    let access_token = access_token.ok_or_else(unreadable)?;
    Ok(Grant {
        tokens: OAuthTokens {
            access_token,
            refresh_token,
            expires_at,
        },
        id_token,
        extra,
    })
}
