//! What an API key's policy limits besides its models: budgets in USD per
//! UTC day, ISO week and calendar month, and requests and tokens per
//! minute. A key's spending in a window is read from the database once
//! (the first request of the window after a start) and then counted in
//! memory as requests finish, so budgets survive a restart and the request
//! path reads no table; the per-minute counts live in memory only. A
//! request is admitted while the key is under every limit: requests in
//! flight can overshoot a budget by their own cost, no more.
//!
//! Replicas on one PostgreSQL database each count in memory too, and read
//! the database again at most once per [`crate::quota::RESYNC_MS`] per key in use: the
//! spending of every replica (what they recorded) and the last minute's
//! requests and tokens, to which each adds its own since. So across `N`
//! replicas a limit is overshot by at most what the other `N - 1` admit
//! within one resync interval plus the usage writer's gathering delay
//! (about 1.1 s of their traffic), plus requests in flight. A replica that
//! cannot reach the database keeps its last counts.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::Mutex;

use switchyard_store::{KeyPolicy, QuotaWindow, RequestRecord, StoreResult, now_millis};

use crate::ApiError;
use crate::quota::{window_reset, window_start};
use crate::webhooks::WebhookEvent;

/// The span of a per-minute limit.
const MINUTE_MS: i64 = 60_000;

/// Windows kept per key past their end (a few, for requests finishing late).
const KEEP_WINDOWS_MS: i64 = 40 * 24 * 60 * 60 * 1000;

/// One key's use of the last minute.
#[derive(Debug, Default)]
struct MinuteUse {
    /// When each admitted request started.
    requests: VecDeque<i64>,
    /// When each finished request started, with its tokens.
    tokens: VecDeque<(i64, u64)>,
    /// On a shared database: the last minute's recorded requests and
    /// tokens (every replica's) as read at `.0`.
    synced: Option<(i64, u64, u64)>,
}

impl MinuteUse {
    fn forget_before(&mut self, since: i64) {
        while self.requests.front().is_some_and(|at| *at < since) {
            self.requests.pop_front();
        }
        while self.tokens.front().is_some_and(|(at, _)| *at < since) {
            self.tokens.pop_front();
        }
    }
}

/// A window's spending and when it was read from the database.
#[derive(Debug, Clone, Copy)]
struct Spent {
    usd: f64,
    read_at: i64,
}

/// Every key's spending per budget window and use of the last minute.
#[derive(Debug, Default)]
pub(crate) struct KeyLimits {
    /// Other processes (replicas) record use in the same database.
    shared: bool,
    /// USD spent per (key, window start).
    spent: Mutex<HashMap<(i64, i64), Spent>>,
    minute: Mutex<HashMap<i64, MinuteUse>>,
    /// Budget events already sent: (key, window start, event).
    announced: Mutex<HashSet<(i64, i64, &'static str)>>,
}

impl KeyLimits {
    /// Limits counted by a process that shares its database with others
    /// (`shared`: replicas on PostgreSQL) or has it to itself.
    pub(crate) fn new(shared: bool) -> Self {
        Self {
            shared,
            ..Self::default()
        }
    }

    /// Admits a request with `policy`'s key at `now`, or says which limit
    /// refuses it and when it frees up. `load` reads what the key spent
    /// since a window's start (once per window; on a shared database at
    /// most once per [`crate::quota::RESYNC_MS`]), `load_minute` the requests and tokens
    /// recorded since a time (shared databases only).
    pub(crate) fn admit(
        &self,
        policy: &KeyPolicy,
        now: i64,
        load: impl Fn(i64) -> StoreResult<f64>,
        load_minute: impl Fn(i64) -> StoreResult<(u64, u64)>,
        emit: &dyn Fn(WebhookEvent),
    ) -> Result<(), ApiError> {
        for (window, budget) in policy.limits.budgets() {
            let since = window_start(window, now);
            let spent = self.spent_since(policy.id, since, now, &load)?;
            if spent >= budget {
                let resets = window_reset(window, now, None);
                if self.first_time(policy.id, since, "budget_exhausted") {
                    emit(budget_event(
                        "budget_exhausted",
                        policy.id,
                        window,
                        spent,
                        budget,
                        resets,
                    ));
                }
                return Err(ApiError::budget_exceeded(
                    format!(
                        "this API key's {} budget of ${budget:.2} is spent (${spent:.4}); it resets at {}",
                        window_name(window),
                        rfc3339(resets)
                    ),
                    seconds_until(resets, now),
                ));
            }
        }
        let (rpm, tpm) = (
            policy.limits.requests_per_minute,
            policy.limits.tokens_per_minute,
        );
        if rpm.is_none() && tpm.is_none() {
            return Ok(());
        }
        let mut minutes = self.minute.lock().unwrap_or_else(|p| p.into_inner());
        let used = minutes.entry(policy.id).or_default();
        used.forget_before(now - MINUTE_MS);
        if self.shared
            && used
                .synced
                .is_none_or(|(at, _, _)| now - at >= crate::quota::RESYNC_MS)
        {
            match load_minute(now - MINUTE_MS) {
                Ok((requests, tokens)) => used.synced = Some((now, requests, tokens)),
                Err(error) => {
                    tracing::warn!(%error, "cannot read a key's last minute: counting locally");
                    used.synced = used
                        .synced
                        .map(|(_, requests, tokens)| (now, requests, tokens));
                }
            }
        }
        // Every replica's recorded use plus this one's since it was read,
        // or this one's own minute if that is more.
        let (requests_used, tokens_used) = {
            let own_requests = used.requests.len() as u64;
            let own_tokens: u64 = used.tokens.iter().map(|(_, tokens)| tokens).sum();
            match used.synced {
                Some((at, requests, tokens)) => {
                    let since_requests =
                        used.requests.iter().filter(|start| **start >= at).count() as u64;
                    let since_tokens: u64 = used
                        .tokens
                        .iter()
                        .filter(|(start, _)| *start >= at)
                        .map(|(_, tokens)| tokens)
                        .sum();
                    (
                        own_requests.max(requests + since_requests),
                        own_tokens.max(tokens + since_tokens),
                    )
                }
                None => (own_requests, own_tokens),
            }
        };
        if let Some(rpm) = rpm
            && requests_used >= u64::from(rpm)
        {
            let frees = used.requests.front().copied().unwrap_or(now) + MINUTE_MS;
            return Err(ApiError::key_rate_limited(
                format!("this API key may make {rpm} requests per minute"),
                seconds_until(frees, now),
            ));
        }
        if let Some(tpm) = tpm {
            let tokens = tokens_used;
            if tokens >= tpm {
                let frees = used.tokens.front().map_or(now, |(at, _)| *at) + MINUTE_MS;
                return Err(ApiError::key_rate_limited(
                    format!("this API key may use {tpm} tokens per minute ({tokens} used)"),
                    seconds_until(frees, now),
                ));
            }
        }
        used.requests.push_back(now);
        Ok(())
    }

    fn spent_since(
        &self,
        key: i64,
        since: i64,
        now: i64,
        load: &impl Fn(i64) -> StoreResult<f64>,
    ) -> Result<f64, ApiError> {
        let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
        let known = spent.get(&(key, since)).copied();
        if let Some(known) = known
            && (!self.shared || now - known.read_at < crate::quota::RESYNC_MS)
        {
            return Ok(known.usd);
        }
        let usd = match (load(since), known) {
            (Ok(usd), _) => usd,
            // A replica that lost its database keeps its own count.
            (Err(error), Some(known)) if error.is_unreachable() => known.usd,
            (Err(error), None) if error.is_unreachable() => {
                tracing::warn!(%error, "cannot read a key's spending: counting from zero until the database is back");
                0.0
            }
            (Err(error), _) => return Err(crate::database_error(error)),
        };
        spent.retain(|(_, start), _| *start >= since - KEEP_WINDOWS_MS);
        spent.insert((key, since), Spent { usd, read_at: now });
        Ok(usd)
    }

    /// Whether this budget event is new for the key's window (and notes it).
    fn first_time(&self, key: i64, since: i64, event: &'static str) -> bool {
        let mut announced = self.announced.lock().unwrap_or_else(|p| p.into_inner());
        if announced.len() > 10_000 {
            announced.clear();
        }
        announced.insert((key, since, event))
    }

    /// Counts a finished request's cost in its key's windows and its
    /// tokens in the key's minute; a budget crossing its warning threshold
    /// (`policy`'s) emits `budget_warning` once per window.
    pub(crate) fn count(
        &self,
        record: &RequestRecord,
        policy: Option<&KeyPolicy>,
        emit: &dyn Fn(WebhookEvent),
    ) {
        let Some(key) = record.api_key_id else {
            return;
        };
        // Keys without limits (most) take no lock per finished request.
        if policy.is_some_and(|policy| policy.limits == switchyard_store::KeyLimits::default()) {
            return;
        }
        if let Some(cost) = record.cost_usd.filter(|cost| *cost > 0.0) {
            let mut warnings = Vec::new();
            {
                let mut spent = self.spent.lock().unwrap_or_else(|p| p.into_inner());
                for ((spender, since), value) in spent.iter_mut() {
                    if *spender == key && record.started_at >= *since {
                        value.usd += cost;
                        warnings.push((*since, value.usd));
                    }
                }
            }
            if let Some(policy) = policy
                && let Some(percent) = policy.limits.budget_warn_percent
            {
                let now = now_millis();
                for (window, budget) in policy.limits.budgets() {
                    let since = window_start(window, now);
                    let Some((_, spent)) = warnings.iter().find(|(start, _)| *start == since)
                    else {
                        continue;
                    };
                    if *spent >= budget * f64::from(percent) / 100.0
                        && self.first_time(key, since, "budget_warning")
                    {
                        emit(budget_event(
                            "budget_warning",
                            key,
                            window,
                            *spent,
                            budget,
                            window_reset(window, now, None),
                        ));
                    }
                }
            }
        }
        let tokens = record.prompt_tokens.unwrap_or(0) + record.completion_tokens.unwrap_or(0);
        if tokens > 0 {
            let mut minutes = self.minute.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(used) = minutes.get_mut(&key) {
                used.tokens.push_back((record.started_at, tokens));
            }
        }
    }
}

/// A budget event for key `key`.
fn budget_event(
    name: &'static str,
    key: i64,
    window: QuotaWindow,
    spent: f64,
    budget: f64,
    resets: i64,
) -> WebhookEvent {
    let text = if name == "budget_exhausted" {
        format!(
            "API key {key} spent its {} budget (${spent:.4} of ${budget:.2}); it resets at {}",
            window_name(window),
            rfc3339(resets)
        )
    } else {
        format!(
            "API key {key} has spent ${spent:.4} of its {} budget of ${budget:.2}",
            window_name(window)
        )
    };
    WebhookEvent::new(
        name,
        text,
        serde_json::json!({
            "key_id": key, "window": window.as_str(), "spent_usd": spent,
            "budget_usd": budget, "resets_at": rfc3339(resets),
        }),
    )
}

fn window_name(window: QuotaWindow) -> &'static str {
    match window {
        QuotaWindow::FiveHours => "five-hour",
        QuotaWindow::Day => "daily",
        QuotaWindow::Week => "weekly",
        QuotaWindow::Month => "monthly",
    }
}

fn seconds_until(at: i64, now: i64) -> u64 {
    u64::try_from((at - now + 999) / 1000).unwrap_or(0).max(1)
}

fn rfc3339(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms).map_or_else(|_| ms.to_string(), |at| at.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchyard_store::KeyLimits as Limits;

    fn policy(limits: Limits) -> KeyPolicy {
        KeyPolicy {
            id: 7,
            paused: false,
            expires_at: None,
            allowed_models: Vec::new(),
            limits,
        }
    }

    fn finished(cost: f64, tokens: u64, at: i64) -> RequestRecord {
        RequestRecord {
            api_key_id: Some(7),
            started_at: at,
            cost_usd: Some(cost),
            prompt_tokens: Some(tokens),
            completion_tokens: Some(0),
            ..RequestRecord::default()
        }
    }

    #[test]
    fn a_budget_refuses_once_spent_and_counts_what_was_stored() {
        let limits = KeyLimits::default();
        let key = policy(Limits {
            budget_day_usd: Some(0.01),
            ..Limits::default()
        });
        let now = 1_800_000_000_000;
        // What the database says was spent before a restart counts.
        assert!(
            limits
                .admit(&key, now, |_| Ok(0.004), |_| Ok((0, 0)), &|_| {})
                .is_ok()
        );
        limits.count(&finished(0.004, 10, now), None, &|_| {});
        assert!(
            limits
                .admit(&key, now, |_| unreachable!(), |_| Ok((0, 0)), &|_| {})
                .is_ok()
        );
        limits.count(&finished(0.003, 10, now), None, &|_| {});
        let refused = limits
            .admit(&key, now, |_| unreachable!(), |_| Ok((0, 0)), &|_| {})
            .unwrap_err();
        assert_eq!(refused.status.as_u16(), 429);
        assert!(
            refused.message.contains("daily budget"),
            "{}",
            refused.message
        );
        assert!(refused.retry_after_secs.unwrap() > 0);
    }

    #[test]
    fn per_minute_limits_free_up_after_a_minute() {
        let limits = KeyLimits::default();
        let key = policy(Limits {
            requests_per_minute: Some(2),
            tokens_per_minute: Some(100),
            ..Limits::default()
        });
        let now = 1_800_000_000_000;
        assert!(
            limits
                .admit(&key, now, |_| Ok(0.0), |_| Ok((0, 0)), &|_| {})
                .is_ok()
        );
        assert!(
            limits
                .admit(&key, now + 1, |_| Ok(0.0), |_| Ok((0, 0)), &|_| {})
                .is_ok()
        );
        let refused = limits
            .admit(&key, now + 2, |_| Ok(0.0), |_| Ok((0, 0)), &|_| {})
            .unwrap_err();
        assert_eq!(refused.retry_after_secs, Some(60));
        assert!(
            limits
                .admit(
                    &key,
                    now + MINUTE_MS + 2,
                    |_| Ok(0.0),
                    |_| Ok((0, 0)),
                    &|_| {}
                )
                .is_ok()
        );
        limits.count(&finished(0.0, 150, now + MINUTE_MS + 2), None, &|_| {});
        let refused = limits
            .admit(
                &key,
                now + MINUTE_MS + 3,
                |_| Ok(0.0),
                |_| Ok((0, 0)),
                &|_| {},
            )
            .unwrap_err();
        assert!(
            refused.message.contains("tokens per minute"),
            "{}",
            refused.message
        );
    }

    #[test]
    fn replicas_read_every_replicas_use_again_each_second() {
        let limits = KeyLimits::new(true);
        let key = policy(Limits {
            requests_per_minute: Some(5),
            budget_day_usd: Some(1.0),
            ..Limits::default()
        });
        let now = 1_700_000_000_000;
        // Other replicas recorded 4 requests and $0.50 this minute.
        assert!(
            limits
                .admit(&key, now, |_| Ok(0.5), |_| Ok((4, 0)), &|_| {})
                .is_ok()
        );
        // The fifth (this replica's) is counted until the next read.
        assert!(
            limits
                .admit(
                    &key,
                    now + 10,
                    |_| unreachable!(),
                    |_| unreachable!(),
                    &|_| {}
                )
                .is_err()
        );
        // A second later the database says the others spent the budget.
        let refused = limits
            .admit(
                &key,
                now + crate::quota::RESYNC_MS + 10,
                |_| Ok(1.2),
                |_| Ok((0, 0)),
                &|_| {},
            )
            .unwrap_err();
        assert!(format!("{refused:?}").contains("budget"), "{refused:?}");
    }
}
