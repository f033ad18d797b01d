//! Google's Code Assist backend behind the Gemini CLI login: who the account
//! is (userinfo), and which Cloud project its requests are billed to
//! (`loadCodeAssist`, and for a first use `onboardUser`, a long-running
//! operation polled until it is done). Requests then go to
//! `v1internal:generateContent` wrapped as `{model, project, request}`.

use std::time::Duration;

use serde_json::{Value, json};

use super::flows::LoginError;
use super::service::Service;

/// What a client sends to say who is asking (`ClientMetadata`): the Gemini
/// CLI's `IDE_UNSPECIFIED`, Antigravity's `ANTIGRAVITY`.
fn client_metadata(ide_type: &str) -> Value {
    json!({
        "ideType": ide_type,
        "platform": "PLATFORM_UNSPECIFIED",
        "pluginType": "GEMINI",
    })
}

/// How often an onboarding operation is polled, and how many times.
const POLL_EVERY: Duration = Duration::from_secs(2);
const POLLS: usize = 30;

/// The Code Assist project an account's requests go to, and its tier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeAssistSetup {
    /// `cloudaicompanionProject`: the (often Google-managed) project id.
    pub project: String,
    /// The tier id, such as `free-tier` or `standard-tier`.
    pub tier: Option<String>,
}

/// The e-mail address of the account whose token is `token`, if the
/// service says.
pub(crate) async fn user_email(
    http: &reqwest::Client,
    service: &Service,
    token: &str,
) -> Option<String> {
    let url = service.endpoints.userinfo_url.as_deref()?;
    let answer = http.get(url).bearer_auth(token).send().await.ok()?;
    if !answer.status().is_success() {
        return None;
    }
    let body: Value = crate::side_call::side_json(answer).await?;
    body["email"].as_str().map(str::to_owned)
}

/// Finds the account's Code Assist project, onboarding the account to its
/// default tier when it has none yet (as the Gemini CLI does on first use).
pub(crate) async fn setup(
    http: &reqwest::Client,
    service: &Service,
    token: &str,
    ide_type: &str,
) -> Result<CodeAssistSetup, LoginError> {
    let loaded = call(
        http,
        service,
        token,
        "loadCodeAssist",
        &json!({"metadata": client_metadata(ide_type)}),
    )
    .await?;
    if loaded.get("currentTier").is_some_and(Value::is_object) {
        let tier = loaded["paidTier"]["id"]
            .as_str()
            .or_else(|| loaded["currentTier"]["id"].as_str())
            .map(str::to_owned);
        return match project_of(&loaded["cloudaicompanionProject"]) {
            Some(project) => Ok(CodeAssistSetup { project, tier }),
            None => Err(refused(service, ineligible(&loaded))),
        };
    }
    let default_tier = loaded["allowedTiers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|tier| tier["isDefault"] == true);
    let tier = default_tier
        .and_then(|tier| tier["id"].as_str())
        .unwrap_or("legacy-tier")
        .to_owned();
    // The free tier uses a Google-managed project: naming one is refused.
    let mut operation = call(
        http,
        service,
        token,
        "onboardUser",
        &json!({"tierId": tier, "metadata": client_metadata(ide_type)}),
    )
    .await?;
    let mut polls = 0;
    while operation["done"] != true {
        let Some(name) = operation["name"].as_str().map(str::to_owned) else {
            break;
        };
        if polls == POLLS {
            return Err(LoginError::Unreachable {
                service: service.id,
                reason: "onboarding to Code Assist did not finish in time; try again".into(),
            });
        }
        polls += 1;
        tokio::time::sleep(POLL_EVERY).await;
        operation = get_operation(http, service, token, &name).await?;
    }
    match project_of(&operation["response"]["cloudaicompanionProject"]) {
        Some(project) => Ok(CodeAssistSetup {
            project,
            tier: Some(tier),
        }),
        None => Err(refused(service, ineligible(&loaded))),
    }
}

/// A project given as an id string or as `{id, name}`.
fn project_of(value: &Value) -> Option<String> {
    value
        .as_str()
        .or_else(|| value["id"].as_str())
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
}

/// Why Code Assist gave the account no project, in its own words.
fn ineligible(loaded: &Value) -> String {
    let reasons: Vec<&str> = loaded["ineligibleTiers"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|tier| tier["reasonMessage"].as_str())
        .collect();
    if reasons.is_empty() {
        "this account has no Code Assist project (a Workspace account needs one set up in Google Cloud)".into()
    } else {
        reasons.join("; ")
    }
}

fn refused(service: &Service, reason: String) -> LoginError {
    LoginError::Refused {
        service: service.id,
        reason,
    }
}

fn api_base(service: &Service) -> Result<&str, LoginError> {
    service
        .endpoints
        .api_base
        .as_deref()
        .map(|base| base.trim_end_matches('/'))
        .ok_or_else(|| LoginError::Misconfigured(format!("{} has no API base", service.id)))
}

/// Posts to `{api_base}:{method}`.
async fn call(
    http: &reqwest::Client,
    service: &Service,
    token: &str,
    method: &str,
    body: &Value,
) -> Result<Value, LoginError> {
    let url = format!("{}:{method}", api_base(service)?);
    read(
        service,
        method,
        http.post(url).bearer_auth(token).json(body).send().await,
    )
    .await
}

/// Reads a long-running operation, `GET {api_base}/{name}`.
async fn get_operation(
    http: &reqwest::Client,
    service: &Service,
    token: &str,
    name: &str,
) -> Result<Value, LoginError> {
    let url = format!("{}/{}", api_base(service)?, name.trim_start_matches('/'));
    read(
        service,
        "the onboarding operation",
        http.get(url).bearer_auth(token).send().await,
    )
    .await
}

async fn read(
    service: &Service,
    what: &str,
    sent: Result<reqwest::Response, reqwest::Error>,
) -> Result<Value, LoginError> {
    let answer = sent.map_err(|_| LoginError::Unreachable {
        service: service.id,
        reason: format!("{what} could not be reached"),
    })?;
    let status = answer.status();
    let body: Value = crate::side_call::side_json(answer)
        .await
        .unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let message = body["error"]["message"]
        .as_str()
        .map_or_else(|| format!("{what} answered {status}"), str::to_owned);
    if status.is_client_error() {
        Err(refused(service, message))
    } else {
        Err(LoginError::Unreachable {
            service: service.id,
            reason: message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn projects_are_read_in_either_shape() {
        assert_eq!(project_of(&json!("p-1")), Some("p-1".into()));
        assert_eq!(
            project_of(&json!({"id": "p-2", "name": "x"})),
            Some("p-2".into())
        );
        assert_eq!(project_of(&json!(null)), None);
        assert_eq!(project_of(&json!("")), None);
    }

    #[test]
    fn ineligibility_is_explained() {
        let loaded = json!({"ineligibleTiers": [{"reasonMessage": "not in your country"}]});
        assert_eq!(ineligible(&loaded), "not in your country");
        assert!(ineligible(&json!({})).contains("no Code Assist project"));
    }
}
