//! What the gateway learns from failures: which ones allow a fallback, how
//! long an account cools down (Retry-After, reset headers, capped exponential
//! back-off), and each provider's circuit breaker. Breakers and rotation
//! counters live in memory; cooldowns are stored so they survive a restart.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::http::{HeaderMap, StatusCode};
use switchyard_store::Cooldown;

use switchyard_config::settings::Settings;

/// Why an attempt failed, as far as routing cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// 429 without a quota message: slow down, come back soon.
    RateLimited,
    /// The account's quota or credit is used up.
    QuotaExhausted,
    /// The provider refused the account's credentials.
    Unauthorized,
    /// The provider has no such model (at least not for this account).
    ModelUnavailable,
    /// A 5xx from the provider.
    ServerError,
    /// No answer in time (connect, first byte).
    Timeout,
    /// No connection at all.
    Unreachable,
}

/// Phrases providers use for exhausted quota or credit, in any status.
const QUOTA_PHRASES: &[&str] = &[
    "insufficient_quota",
    "quota",
    "usage limit",
    "usage_limit",
    "credit balance",
    "billing",
    "resource_exhausted",
    "limit reached",
    "exceeded your",
    // Claude subscriptions once a tool's requests are billed as extra usage:
    // "Third-party apps now draw from your extra usage, not your plan limits."
    "extra usage",
];

impl Failure {
    /// Classifies an upstream error answer; `None` means the request itself
    /// is at fault (a 400) and no other target would do better.
    pub(crate) fn of_status(status: StatusCode, body: &str) -> Option<Self> {
        let lower = body.to_ascii_lowercase();
        let mentions_quota = QUOTA_PHRASES.iter().any(|phrase| lower.contains(phrase));
        match status.as_u16() {
            429 if mentions_quota && !lower.contains("rate limit") => Some(Self::QuotaExhausted),
            429 => Some(Self::RateLimited),
            402 => Some(Self::QuotaExhausted),
            401 | 403 if mentions_quota => Some(Self::QuotaExhausted),
            401 | 403 => Some(Self::Unauthorized),
            404 => Some(Self::ModelUnavailable),
            408 => Some(Self::Timeout),
            400 | 422 if mentions_quota => Some(Self::QuotaExhausted),
            // Some providers answer a malformed request with a 5xx: the
            // client's fault, which must not open the breaker for everyone.
            code if code >= 500 && blames_the_request(&lower) => None,
            code if code >= 500 => Some(Self::ServerError),
            _ => None,
        }
    }

    /// Whether the failure is the account's (cooldown) rather than the
    /// provider's (circuit breaker) or the model's.
    fn cools_account(self) -> bool {
        matches!(
            self,
            Self::RateLimited | Self::QuotaExhausted | Self::Unauthorized
        )
    }

    /// Whether the failure counts against the provider's circuit breaker.
    pub(crate) fn trips_breaker(self) -> bool {
        matches!(self, Self::ServerError | Self::Timeout | Self::Unreachable)
    }

    /// First cooldown when the provider gives no time; doubled per repeat.
    fn base_cooldown(self) -> Duration {
        match self {
            Self::RateLimited => Duration::from_secs(5),
            Self::QuotaExhausted => Duration::from_secs(60),
            Self::Unauthorized => Duration::from_secs(300),
            _ => Duration::ZERO,
        }
    }

    /// A few words for logs and the request path.
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Self::RateLimited => "rate limited",
            Self::QuotaExhausted => "quota exhausted",
            Self::Unauthorized => "credentials refused",
            Self::ModelUnavailable => "model not available",
            Self::ServerError => "server error",
            Self::Timeout => "timed out",
            Self::Unreachable => "unreachable",
        }
    }
}

/// Whether an error body (lower case) says the request itself was invalid.
fn blames_the_request(lower: &str) -> bool {
    [
        "invalid_request",
        "invalid request",
        "invalid_argument",
        "invalid argument",
        "validation error",
        "malformed",
        "bad request",
        "failed to parse",
    ]
    .iter()
    .any(|phrase| lower.contains(phrase))
}

/// How long the provider asked us to wait: `retry-after-ms`, `Retry-After`
/// (seconds or an HTTP date), or Gemini's `retryDelay` in the error body.
pub(crate) fn retry_after(headers: &HeaderMap, body: &str, now_ms: i64) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    if let Some(ms) = header("retry-after-ms").and_then(|value| value.trim().parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_millis(ms as u64));
    }
    if let Some(value) = header("retry-after") {
        let value = value.trim();
        if let Ok(seconds) = value.parse::<f64>() {
            if seconds.is_finite() && seconds >= 0.0 {
                return Some(Duration::from_secs_f64(seconds));
            }
        } else if let Ok(date) = jiff::fmt::rfc2822::parse(value) {
            let wait = date.timestamp().as_millisecond() - now_ms;
            return Some(Duration::from_millis(wait.max(0) as u64));
        }
    }
    // Codex: {"error": {"type": "usage_limit_reached", "resets_in_seconds": N, "resets_at": epoch s}}
    if let Ok(json) = serde_json::from_str::<serde_json::Value>(body) {
        let error = &json["error"];
        if let Some(seconds) = error["resets_in_seconds"].as_u64() {
            return Some(Duration::from_secs(seconds));
        }
        if let Some(at) = error["resets_at"].as_i64() {
            return Some(Duration::from_millis((at * 1000 - now_ms).max(0) as u64));
        }
    }
    // Gemini: {"error": {"details": [{"@type": "...RetryInfo", "retryDelay": "30s"}]}}
    let delay = body.split("\"retryDelay\"").nth(1)?;
    let delay = delay.split('"').nth(1)?;
    humantime::parse_duration(delay).ok()
}

/// Whether an error body names `model` as a whole word (so `gpt-4o` is not
/// found in `gpt-4o-mini`): the error is about that model only.
pub(crate) fn mentions_model(body: &str, model: &str) -> bool {
    if model.is_empty() {
        return false;
    }
    let part_of_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':');
    body.match_indices(model).any(|(at, _)| {
        let before = body[..at].chars().next_back();
        let after = body[at + model.len()..].chars().next();
        !before.is_some_and(part_of_name) && !after.is_some_and(part_of_name)
    })
}

/// The next cooldown of an account after `failure`, or `None` when the
/// failure is not the account's.
pub(crate) fn next_cooldown(
    failure: Failure,
    previous: Option<&Cooldown>,
    provider_says: Option<Duration>,
    settings: &Settings,
) -> Option<(Duration, u32)> {
    if !failure.cools_account() {
        return None;
    }
    let failures = previous.map_or(0, |cooldown| cooldown.failures) + 1;
    let backoff = failure
        .base_cooldown()
        .saturating_mul(1u32 << (failures - 1).min(20));
    let wait = provider_says.map_or(backoff, |said| {
        said.max(if failures > 1 { backoff } else { said })
    });
    Some((wait.min(settings.cooldown_cap), failures))
}

#[derive(Debug, Default)]
struct Breaker {
    consecutive: u64,
    open_until: Option<Instant>,
    /// When the half-open probe went out, while it is out.
    probe_since: Option<Instant>,
}

/// In-memory routing state: circuit breakers and rotation counters.
#[derive(Debug, Default)]
pub(crate) struct Health {
    breakers: Mutex<HashMap<i64, Breaker>>,
    rotations: Mutex<HashMap<String, u64>>,
}

/// What a provider's breaker allows now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BreakerState {
    /// Requests go through.
    Closed,
    /// This request is the one probe after the breaker was open.
    Probe,
    /// Requests are refused until the given time.
    Open,
}

impl Health {
    /// Whether requests may go to `provider_id` now; the first request after
    /// the open period becomes the probe.
    pub(crate) fn breaker(&self, provider_id: i64, settings: &Settings) -> BreakerState {
        let mut breakers = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
        let Some(breaker) = breakers.get_mut(&provider_id) else {
            return BreakerState::Closed;
        };
        let now = Instant::now();
        match breaker.open_until {
            None => BreakerState::Closed,
            Some(until) if until > now => BreakerState::Open,
            Some(_) => match breaker.probe_since {
                // A probe that never reported back (client gone) frees its slot.
                Some(since) if now.duration_since(since) < settings.breaker_open => {
                    BreakerState::Open
                }
                _ => {
                    breaker.probe_since = Some(now);
                    BreakerState::Probe
                }
            },
        }
    }

    /// Whether `provider_id`'s breaker is open now (a look, no probe taken).
    pub(crate) fn breaker_open(&self, provider_id: i64) -> bool {
        let breakers = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
        breakers
            .get(&provider_id)
            .and_then(|breaker| breaker.open_until)
            .is_some_and(|until| until > Instant::now())
    }

    /// Records that `provider_id` answered (any status below 500); true
    /// when this closed its open breaker.
    pub(crate) fn provider_answered(&self, provider_id: i64) -> bool {
        let mut breakers = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
        breakers
            .remove(&provider_id)
            .is_some_and(|breaker| breaker.open_until.is_some())
    }

    /// Records a provider failure; returns true when it opened the breaker.
    pub(crate) fn provider_failed(&self, provider_id: i64, settings: &Settings) -> bool {
        let mut breakers = self.breakers.lock().unwrap_or_else(|p| p.into_inner());
        let breaker = breakers.entry(provider_id).or_default();
        breaker.consecutive += 1;
        let probe_failed = breaker.probe_since.take().is_some();
        if probe_failed || breaker.consecutive >= settings.breaker_threshold {
            breaker.open_until = Some(Instant::now() + settings.breaker_open);
            return true;
        }
        false
    }

    /// Advances and returns the rotation counter called `key`.
    pub(crate) fn next_turn(&self, key: &str) -> u64 {
        let mut rotations = self.rotations.lock().unwrap_or_else(|p| p.into_inner());
        let counter = rotations.entry(key.to_owned()).or_insert(0);
        let turn = *counter;
        *counter = counter.wrapping_add(1);
        turn
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_classified_by_status_and_message() {
        let of = |status: u16, body: &str| {
            Failure::of_status(StatusCode::from_u16(status).unwrap(), body)
        };
        assert_eq!(of(429, "Rate limit reached"), Some(Failure::RateLimited));
        assert_eq!(
            of(429, r#"{"error":{"code":"insufficient_quota"}}"#),
            Some(Failure::QuotaExhausted)
        );
        assert_eq!(
            of(400, "Your credit balance is too low"),
            Some(Failure::QuotaExhausted)
        );
        assert_eq!(
            of(
                400,
                "Third-party apps now draw from your extra usage, not your plan limits."
            ),
            Some(Failure::QuotaExhausted)
        );
        assert_eq!(of(400, "messages: field required"), None);
        assert_eq!(of(401, "invalid key"), Some(Failure::Unauthorized));
        assert_eq!(of(503, ""), Some(Failure::ServerError));
        assert_eq!(of(404, "no such model"), Some(Failure::ModelUnavailable));
        // A 500 about the request itself is the client's, not the provider's.
        assert_eq!(
            of(
                500,
                r#"{"error":{"type":"invalid_request_error","message":"x"}}"#
            ),
            None
        );
        assert_eq!(of(500, "Internal error: failed to parse body"), None);
    }

    #[test]
    fn a_model_is_mentioned_only_as_a_whole_name() {
        assert!(mentions_model(
            "Rate limit reached for gpt-4o in org",
            "gpt-4o"
        ));
        assert!(mentions_model(r#"{"model":"gpt-4o"}"#, "gpt-4o"));
        assert!(!mentions_model(
            "Rate limit reached for gpt-4o-mini",
            "gpt-4o"
        ));
        assert!(!mentions_model("Rate limit reached", "m"));
        assert!(!mentions_model("anything", ""));
    }

    #[test]
    fn retry_after_is_read_from_headers_and_gemini_bodies() {
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&headers, "", 0), Some(Duration::from_secs(7)));
        headers.insert(
            "retry-after",
            "Thu, 01 Jan 1970 00:01:00 GMT".parse().unwrap(),
        );
        assert_eq!(
            retry_after(&headers, "", 30_000),
            Some(Duration::from_secs(30))
        );
        let body = r#"{"error":{"details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"12s"}]}}"#;
        assert_eq!(
            retry_after(&HeaderMap::new(), body, 0),
            Some(Duration::from_secs(12))
        );
        assert_eq!(retry_after(&HeaderMap::new(), "{}", 0), None);
        let codex = r#"{"error":{"type":"usage_limit_reached","resets_in_seconds":90}}"#;
        assert_eq!(
            retry_after(&HeaderMap::new(), codex, 0),
            Some(Duration::from_secs(90))
        );
    }

    #[test]
    fn cooldowns_back_off_exponentially_up_to_the_cap() {
        let settings = Settings {
            cooldown_cap: Duration::from_secs(60),
            ..Settings::default()
        };
        let mut previous: Option<Cooldown> = None;
        let mut waits = Vec::new();
        for _ in 0..6 {
            let (wait, failures) =
                next_cooldown(Failure::RateLimited, previous.as_ref(), None, &settings).unwrap();
            waits.push(wait.as_secs());
            previous = Some(Cooldown {
                account_id: 1,
                model: String::new(),
                until: 0,
                failures,
                status: 429,
                reason: String::new(),
            });
        }
        assert_eq!(waits, [5, 10, 20, 40, 60, 60]);
        // The provider's word counts, within the cap.
        let said = Some(Duration::from_secs(3600 * 24));
        assert_eq!(
            next_cooldown(Failure::RateLimited, None, said, &settings)
                .unwrap()
                .0,
            Duration::from_secs(60)
        );
        assert_eq!(
            next_cooldown(Failure::ServerError, None, None, &settings),
            None
        );
    }

    #[test]
    fn a_breaker_opens_after_repeated_failures_and_lets_one_probe_through() {
        let settings = Settings {
            breaker_threshold: 2,
            breaker_open: Duration::from_millis(30),
            ..Settings::default()
        };
        let health = Health::default();
        assert!(!health.provider_failed(1, &settings));
        assert!(health.provider_failed(1, &settings));
        assert_eq!(health.breaker(1, &settings), BreakerState::Open);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(health.breaker(1, &settings), BreakerState::Probe);
        assert_eq!(health.breaker(1, &settings), BreakerState::Open);
        health.provider_answered(1);
        assert_eq!(health.breaker(1, &settings), BreakerState::Closed);
    }
}
