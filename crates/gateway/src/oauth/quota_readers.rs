//! Reading a subscription service's own usage windows for an account:
//! Claude's five-hour and weekly windows, Codex's primary and secondary
//! windows, GitHub Copilot's monthly premium requests, Code Assist's
//! per-model buckets (windows named `model:<id>`, which routing applies to
//! that model only), Kiro's monthly credits (CodeWhisperer's
//! `GetUsageLimits`, free-trial and bonus credits counted in).

use serde_json::Value;
use switchyard_store::{ServiceQuota, now_millis};

use super::executors::KIRO_USER_AGENT;
use super::providers::Service;

/// Fetches and reads the usage windows of the account whose token is `token`
/// (for Codex, `account_id` goes along).
pub async fn read(
    http: &reqwest::Client,
    service: &Service,
    account_id: i64,
    token: &str,
    meta: &serde_json::Map<String, Value>,
) -> Result<Vec<ServiceQuota>, String> {
    let Some(url) = service.endpoints.usage_url.as_deref() else {
        return Ok(Vec::new());
    };
    let mut request = match service.id {
        // `retrieveUserQuota` is a POST naming the Code Assist project.
        "gemini-cli" => http
            .post(url)
            .json(&serde_json::json!({"project": meta.get("project_id")})),
        // The Kiro IDE's `GET /getUsageLimits`; the profile goes along unless
        // it is the one shared by Builder ID accounts, for which the service
        // documents it as optional.
        "kiro" => {
            let mut query = vec![("origin", "AI_EDITOR"), ("resourceType", "AGENTIC_REQUEST")];
            if let Some(arn) = meta
                .get("profile_arn")
                .and_then(Value::as_str)
                .filter(|arn| *arn != super::KIRO_BUILDER_ID_PROFILE_ARN)
            {
                query.push(("profileArn", arn));
            }
            let url = url::Url::parse_with_params(url, &query)
                .map_err(|error| format!("{url}: {error}"))?;
            http.get(url)
                .header("user-agent", KIRO_USER_AGENT)
                .header("x-amz-user-agent", KIRO_USER_AGENT)
        }
        _ => http.get(url),
    }
    .header("accept", "application/json");
    request = match service.id {
        "github-copilot" => request.header("authorization", format!("token {token}")),
        "claude-code" => request
            .bearer_auth(token)
            .header("anthropic-beta", "oauth-2025-04-20"),
        _ => request.bearer_auth(token),
    };
    if let Some(account) = meta
        .get("account_id")
        .and_then(Value::as_str)
        .filter(|_| service.id == "codex")
    {
        request = request.header("chatgpt-account-id", account);
    }
    let response = request
        .send()
        .await
        .map_err(|_| format!("cannot reach {}'s usage endpoint", service.name))?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!(
            "{}'s usage endpoint answered {status}",
            service.name
        ));
    }
    let body: Value = crate::transport::side_json(response)
        .await
        .ok_or_else(|| format!("{}'s usage endpoint sent no JSON", service.name))?;
    Ok(parse(service.id, account_id, &body))
}

/// Reads a usage answer of service `id`.
pub fn parse(id: &str, account_id: i64, body: &Value) -> Vec<ServiceQuota> {
    let now = now_millis();
    let time = |value: &Value| -> Option<i64> {
        value
            .as_str()
            .and_then(|text| text.parse::<jiff::Timestamp>().ok())
            .map(|time| time.as_millisecond())
            .or_else(|| value.as_i64().map(|seconds| seconds * 1000))
            .or_else(|| value.as_f64().map(|seconds| (seconds * 1000.0) as i64))
    };
    let mut quotas = Vec::new();
    let mut push = |window: &str, used: Option<f64>, resets_at: Option<i64>| {
        if let Some(used) = used {
            quotas.push(ServiceQuota {
                account_id,
                window: window.to_owned(),
                used_percent: used.clamp(0.0, 100.0),
                resets_at,
                updated_at: now,
            });
        }
    };
    match id {
        "claude-code" => {
            for window in [
                "five_hour",
                "seven_day",
                "seven_day_opus",
                "seven_day_sonnet",
            ] {
                let entry = &body[window];
                push(
                    window,
                    entry["utilization"].as_f64(),
                    time(&entry["resets_at"]),
                );
            }
        }
        "codex" => {
            for (name, window) in [
                ("primary", "primary_window"),
                ("secondary", "secondary_window"),
            ] {
                let entry = &body["rate_limit"][window];
                let reset = time(&entry["reset_at"]).or_else(|| {
                    entry["reset_after_seconds"]
                        .as_i64()
                        .map(|s| now + s * 1000)
                });
                push(name, entry["used_percent"].as_f64(), reset);
            }
        }
        "github-copilot" => {
            let reset = body["quota_reset_date"]
                .as_str()
                .and_then(|date| date.parse::<jiff::civil::Date>().ok())
                .and_then(|date| date.to_zoned(jiff::tz::TimeZone::UTC).ok())
                .map(|zoned| zoned.timestamp().as_millisecond());
            for (name, entry) in body["quota_snapshots"].as_object().into_iter().flatten() {
                if entry["unlimited"].as_bool() == Some(true) {
                    continue;
                }
                let used = entry["percent_remaining"].as_f64().map(|left| 100.0 - left);
                push(name, used, reset);
            }
        }
        "gemini-cli" => {
            for bucket in body["buckets"].as_array().into_iter().flatten() {
                let Some(model) = bucket["modelId"].as_str() else {
                    continue;
                };
                let mut window = format!("model:{model}");
                if let Some(kind) = bucket["tokenType"]
                    .as_str()
                    .filter(|kind| *kind != "REQUESTS")
                {
                    window.push(' ');
                    window.push_str(&kind.to_ascii_lowercase());
                }
                let used = bucket["remainingFraction"]
                    .as_f64()
                    .map(|left| (1.0 - left) * 100.0);
                push(&window, used, time(&bucket["resetTime"]));
            }
        }
        "kiro" => {
            // One window per resource type (Kiro's is `CREDIT`). Free-trial
            // and bonus credits are spent alongside the plan's, so they count
            // in: the window is used up only when every pool is.
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
                let window = entry["resourceType"]
                    .as_str()
                    .unwrap_or("usage")
                    .to_ascii_lowercase();
                let reset = time(&entry["nextDateReset"]).or_else(|| time(&body["nextDateReset"]));
                push(&window, Some(percent), reset);
            }
        }
        _ => {}
    }
    quotas
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_service_answer_becomes_windows() {
        let claude = parse(
            "claude-code",
            1,
            &json!({"five_hour": {"utilization": 42.0, "resets_at": "2026-11-23T17:00:00Z"},
                    "seven_day": {"utilization": 10.5, "resets_at": "2026-11-27T00:00:00Z"},
                    "seven_day_opus": null}),
        );
        assert_eq!(claude.len(), 2);
        assert_eq!(claude[0].window, "five_hour");
        assert_eq!(claude[0].used_percent, 42.0);
        assert_eq!(
            claude[0].resets_at,
            Some(
                "2026-11-23T17:00:00Z"
                    .parse::<jiff::Timestamp>()
                    .unwrap()
                    .as_millisecond()
            )
        );
        let codex = parse(
            "codex",
            1,
            &json!({"rate_limit": {"primary_window": {"used_percent": 100, "reset_at": 1_800_000_000},
                                   "secondary_window": {"used_percent": 3, "reset_after_seconds": 60}}}),
        );
        assert_eq!(codex[0].used_percent, 100.0);
        assert_eq!(codex[0].resets_at, Some(1_800_000_000_000));
        let copilot = parse(
            "github-copilot",
            1,
            &json!({"quota_reset_date": "2026-12-01",
                    "quota_snapshots": {"chat": {"unlimited": true},
                                        "premium_interactions": {"percent_remaining": 25.0, "unlimited": false}}}),
        );
        assert_eq!(copilot.len(), 1);
        assert_eq!(copilot[0].window, "premium_interactions");
        assert_eq!(copilot[0].used_percent, 75.0);
        let gemini = parse(
            "gemini-cli",
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
        let kiro = parse("kiro", 1, &body);
        assert_eq!(kiro.len(), 1);
        assert_eq!(kiro[0].window, "credit");
        assert!((kiro[0].used_percent - 150.0 / 550.0 * 100.0).abs() < 1e-9);
        assert_eq!(kiro[0].resets_at, Some(1_893_456_000_000));
        let mut expired = body.clone();
        expired["usageBreakdownList"][0]["freeTrialInfo"]["freeTrialStatus"] = "EXPIRED".into();
        assert_eq!(parse("kiro", 1, &expired)[0].used_percent, 100.0);
    }
}
