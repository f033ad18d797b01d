//! Quota limits per account and window, what providers report about their
//! own limits, and local counting over a window.

use crate::db::params;
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError, StoreResult};

/// A quota window over which requests or tokens are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum QuotaWindow {
    /// The last five hours, rolling.
    #[serde(rename = "5h")]
    FiveHours,
    /// The current UTC day.
    #[serde(rename = "day")]
    Day,
    /// The current ISO week (from Monday 00:00 UTC).
    #[serde(rename = "week")]
    Week,
    /// The current calendar month (UTC).
    #[serde(rename = "month")]
    Month,
}

impl QuotaWindow {
    /// Every window, shortest first.
    pub const ALL: [Self; 4] = [Self::FiveHours, Self::Day, Self::Week, Self::Month];

    /// Name stored in the database and typed by users.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FiveHours => "5h",
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(value: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|window| window.as_str() == value)
            .ok_or_else(|| format!("unknown quota window {value:?}; use 5h, day, week or month"))
    }
}

/// What a quota counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuotaMetric {
    /// Requests answered (any status).
    Requests,
    /// Input plus output tokens.
    Tokens,
}

impl QuotaMetric {
    /// Name stored in the database and typed by users.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Requests => "requests",
            Self::Tokens => "tokens",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "requests" => Ok(Self::Requests),
            "tokens" => Ok(Self::Tokens),
            other => Err(format!(
                "unknown quota metric {other:?}; use requests or tokens"
            )),
        }
    }
}

/// A local limit: at most `max` of `metric` per `window` on one account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuotaLimit {
    /// The account limited.
    pub account_id: i64,
    /// The window counted over.
    pub window: QuotaWindow,
    /// What is counted.
    pub metric: QuotaMetric,
    /// The most allowed in one window.
    pub max: u64,
}

/// What a provider last said about an account's limit (rate-limit headers).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReportedQuota {
    /// The account it is about.
    pub account_id: i64,
    /// Requests or tokens.
    pub metric: QuotaMetric,
    /// What is left in the provider's current window.
    pub remaining: u64,
    /// The provider's limit for the window, when it said.
    pub max: Option<u64>,
    /// When the window resets, Unix milliseconds, when it said.
    pub reset_at: Option<i64>,
    /// When this was reported, Unix milliseconds.
    pub updated_at: i64,
}

/// Requests and tokens counted over a span.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct WindowCount {
    /// Requests in the span.
    pub requests: u64,
    /// Input plus output tokens in the span.
    pub tokens: u64,
    /// Start of the oldest request in the span, Unix milliseconds.
    pub oldest: Option<i64>,
}

/// Stores a report on `conn` (a connection or an open transaction).
pub(crate) fn upsert_reported(conn: &crate::db::Conn, quota: &ReportedQuota) -> StoreResult<()> {
    conn.prepare_cached(
        // An account removed meanwhile has nothing to report (and must not
        // fail the batch of usage records this is written with).
        "INSERT INTO reported_quotas (account_id, metric, remaining, max, reset_at, updated_at)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6 WHERE EXISTS (SELECT 1 FROM accounts WHERE id = ?1)
         ON CONFLICT (account_id, metric) DO UPDATE SET remaining = excluded.remaining,
           max = excluded.max, reset_at = excluded.reset_at, updated_at = excluded.updated_at",
    )?
    .execute(params![
        quota.account_id,
        quota.metric.as_str(),
        quota.remaining as i64,
        quota.max.map(|max| max as i64),
        quota.reset_at,
        quota.updated_at
    ])?;
    Ok(())
}

fn parse_column<T>(value: String, parse: impl Fn(&str) -> Result<T, String>) -> StoreResult<T> {
    parse(&value).map_err(StoreError::Corrupt)
}

impl Store {
    /// Sets (replacing) a limit.
    pub fn set_quota_limit(&self, limit: &QuotaLimit) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO quota_limits (account_id, \"window\", metric, max)
             VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (account_id, \"window\", metric) DO UPDATE SET max = excluded.max",
            params![
                limit.account_id,
                limit.window.as_str(),
                limit.metric.as_str(),
                limit.max as i64
            ],
        )?;
        Ok(())
    }

    /// Removes a limit; returns whether there was one.
    pub fn remove_quota_limit(
        &self,
        account_id: i64,
        window: QuotaWindow,
        metric: QuotaMetric,
    ) -> StoreResult<bool> {
        Ok(self.conn.execute(
            "DELETE FROM quota_limits WHERE account_id = ?1 AND \"window\" = ?2 AND metric = ?3",
            params![account_id, window.as_str(), metric.as_str()],
        )? > 0)
    }

    /// Every limit.
    pub fn list_quota_limits(&self) -> StoreResult<Vec<QuotaLimit>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT account_id, \"window\", metric, max FROM quota_limits ORDER BY account_id, \"window\", metric",
        )?;
        let rows = statement.query_map(params![], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, String>(2)?,
                row.get::<_, i64>(3)?,
            ))
        })?;
        rows.map(|row| {
            let (account_id, window, metric, max) = row?;
            Ok(QuotaLimit {
                account_id,
                window: parse_column(window, QuotaWindow::parse)?,
                metric: parse_column(metric, QuotaMetric::parse)?,
                max: max.max(0) as u64,
            })
        })
        .collect()
    }

    /// Stores what a provider reported (replacing the previous report).
    pub fn set_reported_quota(&self, quota: &ReportedQuota) -> StoreResult<()> {
        upsert_reported(&self.conn, quota)
    }

    /// Every report providers made.
    pub fn list_reported_quotas(&self) -> StoreResult<Vec<ReportedQuota>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT account_id, metric, remaining, max, reset_at, updated_at FROM reported_quotas
             ORDER BY account_id, metric",
        )?;
        let rows = statement.query_map(params![], |row| {
            Ok((
                row.get::<_, i64>(0)?,
                row.get::<_, String>(1)?,
                row.get::<_, i64>(2)?,
                row.get::<_, Option<i64>>(3)?,
                row.get::<_, Option<i64>>(4)?,
                row.get::<_, i64>(5)?,
            ))
        })?;
        rows.map(|row| {
            let (account_id, metric, remaining, max, reset_at, updated_at) = row?;
            Ok(ReportedQuota {
                account_id,
                metric: parse_column(metric, QuotaMetric::parse)?,
                remaining: remaining.max(0) as u64,
                max: max.map(|max| max.max(0) as u64),
                reset_at,
                updated_at,
            })
        })
        .collect()
    }

    /// Requests and tokens an account served since `since` (Unix ms).
    pub fn account_usage_since(&self, account_id: i64, since: i64) -> StoreResult<WindowCount> {
        let mut statement = self.conn.prepare_cached(
            "SELECT COUNT(*), COALESCE(SUM(COALESCE(prompt_tokens, 0) + COALESCE(completion_tokens, 0)), 0),
                    MIN(started_at)
             FROM requests WHERE account_id = ?1 AND started_at >= ?2",
        )?;
        Ok(statement.query_row(params![account_id, since], |row| {
            Ok(WindowCount {
                requests: row.get::<_, i64>(0)?.max(0) as u64,
                tokens: row.get::<_, i64>(1)?.max(0) as u64,
                oldest: row.get(2)?,
            })
        })?)
    }
}

/// A window a subscription service reports for an account (Claude's five
/// hours and week, Codex's primary and secondary windows, Copilot's month).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ServiceQuota {
    /// The account it is about.
    pub account_id: i64,
    /// The service's name for the window, e.g. `five_hour`.
    pub window: String,
    /// How much of the window is used, 0-100.
    pub used_percent: f64,
    /// When the window resets, Unix milliseconds.
    pub resets_at: Option<i64>,
    /// When this was read, Unix milliseconds.
    pub updated_at: i64,
}

impl Store {
    /// Replaces what a service reported for an account.
    pub fn set_service_quotas(&self, account_id: i64, quotas: &[ServiceQuota]) -> StoreResult<()> {
        self.conn.execute(
            "DELETE FROM service_quotas WHERE account_id = ?1",
            [account_id],
        )?;
        for quota in quotas {
            self.conn.execute(
                "INSERT INTO service_quotas (account_id, \"window\", used_percent, resets_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
                params![
                    account_id,
                    quota.window,
                    quota.used_percent,
                    quota.resets_at,
                    quota.updated_at
                ],
            )?;
        }
        Ok(())
    }

    /// Every service report.
    pub fn list_service_quotas(&self) -> StoreResult<Vec<ServiceQuota>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT account_id, \"window\", used_percent, resets_at, updated_at FROM service_quotas
             ORDER BY account_id, \"window\"",
        )?;
        let rows = statement.query_map(params![], |row| {
            Ok(ServiceQuota {
                account_id: row.get(0)?,
                window: row.get(1)?,
                used_percent: row.get(2)?,
                resets_at: row.get(3)?,
                updated_at: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}
