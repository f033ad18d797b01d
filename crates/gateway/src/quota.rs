//! Quota windows: where each window starts and resets, what a provider's
//! rate-limit headers say is left, whether an account has run out, and each
//! limited account's use of its current windows, kept in memory.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::http::HeaderMap;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use serde::Serialize;
use switchyard_store::{
    QuotaLimit, QuotaMetric, QuotaWindow, ReportedQuota, RequestRecord, StoreResult, WindowCount,
};

const FIVE_HOURS_MS: i64 = 5 * 3600 * 1000;

/// Where the window containing `now_ms` starts, Unix milliseconds (UTC
/// calendar for days, ISO weeks and months; rolling for five hours).
pub fn window_start(window: QuotaWindow, now_ms: i64) -> i64 {
    let Ok(now) = Timestamp::from_millisecond(now_ms) else {
        return now_ms;
    };
    let today = now.to_zoned(TimeZone::UTC).date();
    let start = match window {
        QuotaWindow::FiveHours => return now_ms - FIVE_HOURS_MS,
        QuotaWindow::Day => Some(today),
        QuotaWindow::Week => today
            .checked_sub(i64::from(today.weekday().to_monday_zero_offset()).days())
            .ok(),
        QuotaWindow::Month => Some(today.first_of_month()),
    };
    start
        .and_then(|date| date.to_zoned(TimeZone::UTC).ok())
        .map_or(now_ms, |zoned| zoned.timestamp().as_millisecond())
}

/// When the window resets: the next calendar boundary, or for the rolling
/// five hours when its oldest request drops out.
pub fn window_reset(window: QuotaWindow, now_ms: i64, oldest_in_window: Option<i64>) -> i64 {
    let start = window_start(window, now_ms);
    let next = |span: jiff::Span| {
        Timestamp::from_millisecond(start)
            .ok()
            .and_then(|start| start.to_zoned(TimeZone::UTC).checked_add(span).ok())
            .map_or(now_ms, |zoned| zoned.timestamp().as_millisecond())
    };
    match window {
        QuotaWindow::FiveHours => oldest_in_window.unwrap_or(now_ms) + FIVE_HOURS_MS,
        QuotaWindow::Day => next(1.day()),
        QuotaWindow::Week => next(1.week()),
        QuotaWindow::Month => next(1.month()),
    }
}

/// One account's standing in one window, for lists and routing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WindowStanding {
    /// The window.
    pub window: QuotaWindow,
    /// What is counted.
    pub metric: QuotaMetric,
    /// Counted so far in this window.
    pub used: u64,
    /// The limit.
    pub max: u64,
    /// When the window resets, Unix milliseconds.
    pub resets_at: i64,
}

impl WindowStanding {
    /// Works out a limit's standing from the window's count.
    pub fn of(limit: &QuotaLimit, count: &WindowCount, now_ms: i64) -> Self {
        Self {
            window: limit.window,
            metric: limit.metric,
            used: match limit.metric {
                QuotaMetric::Requests => count.requests,
                QuotaMetric::Tokens => count.tokens,
            },
            max: limit.max,
            resets_at: window_reset(limit.window, now_ms, count.oldest),
        }
    }

    /// Whether nothing is left until the reset.
    pub fn exhausted(&self) -> bool {
        self.used >= self.max
    }
}

/// What the response headers say about the account's limits: OpenAI's
/// `x-ratelimit-*` and Anthropic's `anthropic-ratelimit-*` families.
pub(crate) fn reported_in(headers: &HeaderMap, account_id: i64, now_ms: i64) -> Vec<ReportedQuota> {
    /// For each metric: OpenAI's remaining, limit and reset headers, then Anthropic's.
    const NAMES: [(QuotaMetric, [&str; 3], [&str; 3]); 2] = [
        (
            QuotaMetric::Requests,
            [
                "x-ratelimit-remaining-requests",
                "x-ratelimit-limit-requests",
                "x-ratelimit-reset-requests",
            ],
            [
                "anthropic-ratelimit-requests-remaining",
                "anthropic-ratelimit-requests-limit",
                "anthropic-ratelimit-requests-reset",
            ],
        ),
        (
            QuotaMetric::Tokens,
            [
                "x-ratelimit-remaining-tokens",
                "x-ratelimit-limit-tokens",
                "x-ratelimit-reset-tokens",
            ],
            [
                "anthropic-ratelimit-tokens-remaining",
                "anthropic-ratelimit-tokens-limit",
                "anthropic-ratelimit-tokens-reset",
            ],
        ),
    ];
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    let mut reports = Vec::new();
    for (metric, [remaining, limit, reset], anthropic) in NAMES {
        let (remaining, max, reset) = if let Some(remaining) = header(remaining) {
            (
                remaining,
                header(limit),
                header(reset).and_then(|reset| {
                    humantime::parse_duration(reset)
                        .ok()
                        .map(|wait| now_ms + wait.as_millis() as i64)
                }),
            )
        } else if let Some(remaining) = header(anthropic[0]) {
            (
                remaining,
                header(anthropic[1]),
                header(anthropic[2])
                    .and_then(|reset| reset.parse::<Timestamp>().ok())
                    .map(|reset| reset.as_millisecond()),
            )
        } else {
            continue;
        };
        let Ok(remaining) = remaining.parse::<u64>() else {
            continue;
        };
        reports.push(ReportedQuota {
            account_id,
            metric,
            remaining,
            max: max.and_then(|max| max.parse().ok()),
            reset_at: reset,
            updated_at: now_ms,
        });
    }
    reports
}

/// How long a window's count is kept after the window began (longer than
/// the longest window, a calendar month).
const KEEP_COUNTS_MS: i64 = 40 * 24 * 60 * 60 * 1000;

/// How often replicas on a shared database read recorded use again (an
/// account's quota windows, a key's budgets and last minute).
pub(crate) const RESYNC_MS: i64 = 1_000;

/// Each quota-limited account's use of its windows, by window start: read
/// from the database once per window, then counted in memory as requests
/// finish, so routing reads no table per limit and request. Replicas on a
/// shared database read it again at most once per
/// [`RESYNC_MS`], so a window other replicas spent is
/// respected within about a second.
#[derive(Debug, Default)]
pub(crate) struct WindowCounts {
    /// Other processes (replicas) record use in the same database.
    shared: bool,
    /// Counts by (account, window start), with when they were read.
    counts: Mutex<HashMap<(i64, i64), (WindowCount, i64)>>,
}

impl WindowCounts {
    /// Counts kept by a process that shares its database (`shared`) or not.
    pub(crate) fn new(shared: bool) -> Self {
        Self {
            shared,
            counts: Mutex::default(),
        }
    }

    /// The account's use since `since`, loaded with `load` the first time
    /// (and, on a shared database, again once a second).
    pub(crate) fn get_or_load(
        &self,
        account_id: i64,
        since: i64,
        load: impl FnOnce() -> StoreResult<WindowCount>,
    ) -> StoreResult<WindowCount> {
        let now = switchyard_store::now_millis();
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let known = counts.get(&(account_id, since)).copied();
        if let Some((count, read_at)) = known
            && (!self.shared || now - read_at < RESYNC_MS)
        {
            return Ok(count);
        }
        let count = match (load(), known) {
            (Ok(count), _) => count,
            // Without the database, this replica's own count.
            (Err(error), Some((count, _))) if error.is_unreachable() => count,
            (Err(error), _) => return Err(error),
        };
        counts.retain(|(account, start), _| {
            *account != account_id || *start >= since - KEEP_COUNTS_MS
        });
        counts.insert((account_id, since), (count, now));
        Ok(count)
    }

    /// Counts a finished request in every kept window of its account that
    /// it falls in.
    pub(crate) fn count(&self, record: &RequestRecord) {
        let Some(account_id) = record.account_id else {
            return;
        };
        let tokens = record.prompt_tokens.unwrap_or(0) + record.completion_tokens.unwrap_or(0);
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        for ((account, since), (count, _)) in counts.iter_mut() {
            if *account == account_id && record.started_at >= *since {
                count.requests += 1;
                count.tokens += tokens;
                count.oldest = Some(
                    count
                        .oldest
                        .map_or(record.started_at, |oldest| oldest.min(record.started_at)),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(text: &str) -> i64 {
        text.parse::<Timestamp>().unwrap().as_millisecond()
    }

    #[test]
    fn windows_follow_the_utc_calendar() {
        // A Wednesday afternoon.
        let now = ms("2026-11-25T15:30:00Z");
        assert_eq!(
            window_start(QuotaWindow::Day, now),
            ms("2026-11-25T00:00:00Z")
        );
        assert_eq!(
            window_start(QuotaWindow::Week, now),
            ms("2026-11-23T00:00:00Z")
        );
        assert_eq!(
            window_start(QuotaWindow::Month, now),
            ms("2026-11-01T00:00:00Z")
        );
        assert_eq!(
            window_reset(QuotaWindow::Day, now, None),
            ms("2026-11-26T00:00:00Z")
        );
        assert_eq!(
            window_reset(QuotaWindow::Week, now, None),
            ms("2026-11-30T00:00:00Z")
        );
        assert_eq!(
            window_reset(QuotaWindow::Month, now, None),
            ms("2026-12-01T00:00:00Z")
        );
        assert_eq!(
            window_reset(
                QuotaWindow::FiveHours,
                now,
                Some(ms("2026-11-25T12:00:00Z"))
            ),
            ms("2026-11-25T17:00:00Z")
        );
    }

    #[test]
    fn rate_limit_headers_of_both_families_are_read() {
        let mut headers = HeaderMap::new();
        headers.insert("x-ratelimit-remaining-requests", "0".parse().unwrap());
        headers.insert("x-ratelimit-limit-requests", "60".parse().unwrap());
        headers.insert("x-ratelimit-reset-requests", "6m0s".parse().unwrap());
        headers.insert(
            "anthropic-ratelimit-tokens-remaining",
            "1000".parse().unwrap(),
        );
        headers.insert(
            "anthropic-ratelimit-tokens-reset",
            "2026-11-25T16:00:00Z".parse().unwrap(),
        );
        let now = ms("2026-11-25T15:30:00Z");
        let reports = reported_in(&headers, 7, now);
        assert_eq!(reports.len(), 2);
        assert_eq!(reports[0].remaining, 0);
        assert_eq!(reports[0].max, Some(60));
        assert_eq!(reports[0].reset_at, Some(now + 360_000));
        assert_eq!(reports[1].metric, QuotaMetric::Tokens);
        assert_eq!(reports[1].reset_at, Some(ms("2026-11-25T16:00:00Z")));
    }
}
