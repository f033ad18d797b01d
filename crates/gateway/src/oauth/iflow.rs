//! iFlow's two quirks: requests authenticate with an API key that its user
//! info endpoint hands out for an OAuth access token (fetched again after
//! each refresh), and each request is signed the way the iFlow CLI signs
//! it: HMAC-SHA256 keyed with the API key over `user-agent:session:time`.

use hmac::{Hmac, Mac};
use serde_json::{Map, Value};
use sha2::Sha256;

use super::flows::LoginError;
use super::providers::Service;

/// How the iFlow CLI introduces itself; part of what is signed.
pub(crate) const USER_AGENT: &str = "iFlow-Cli";

/// Account meta key of the API key (a `*_secret` fact: sealed at rest).
pub(crate) const API_KEY_FACT: &str = "api_key_secret";

/// The account behind `access_token`: its API key (under [`API_KEY_FACT`])
/// and its e-mail or, for phone sign-ins, its phone number (`email`).
pub(crate) async fn user_info(
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
pub(crate) fn signed_headers(api_key: &str, now_millis: i64) -> [(&'static str, String); 3] {
    let session = format!("session-{}", super::executors::uuid_v4());
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
