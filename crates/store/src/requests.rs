//! The request log: one row per answered request with its routing path,
//! tokens, cost and timings, and the usage queries built on it.

use crate::db::{Dialect, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use switchyard_api_types::UsageTotals;

use crate::{ReportedQuota, Store, StoreError, StoreResult};

/// One try of a request on one target and account: the shared view type, so
/// the log's JSON, the CLI and the dashboard read the same shape.
pub type Attempt = switchyard_api_types::AttemptView;

/// Full request and response bodies of a request, secrets redacted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestBodies {
    /// The body the client sent.
    pub request: Option<String>,
    /// What the client received (a stream's frames, concatenated).
    pub response: Option<String>,
}

/// One answered request, as recorded.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RequestRecord {
    /// Database id (0 before it is stored).
    pub id: i64,
    /// When the request arrived, Unix milliseconds.
    pub started_at: i64,
    /// The local API key used, if any.
    pub api_key_id: Option<i64>,
    /// Endpoint path, such as `/v1/chat/completions`.
    pub endpoint: String,
    /// The client's dialect, such as `openai-chat`.
    pub dialect: Option<String>,
    /// Model as the client named it.
    pub model: String,
    /// The combo (or alias) the model named, if any.
    pub combo: Option<String>,
    /// The `prefix/model` that gave the final answer.
    pub target: Option<String>,
    /// Name of the provider that gave the final answer (or was last tried).
    pub provider: Option<String>,
    /// The account that gave the final answer.
    pub account_id: Option<i64>,
    /// That account's label.
    pub account: Option<String>,
    /// Final HTTP status sent to the client.
    pub status: u16,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// Time from arrival to the end of the response, milliseconds.
    pub latency_ms: u64,
    /// Time from arrival to the first byte of the answer, milliseconds.
    pub ttfb_ms: Option<u64>,
    /// Input tokens (cached ones included), when the upstream reported them.
    pub prompt_tokens: Option<u64>,
    /// Output tokens (reasoning included), when the upstream reported them.
    pub completion_tokens: Option<u64>,
    /// Input tokens read from the provider's cache.
    pub cached_tokens: Option<u64>,
    /// Output tokens spent on reasoning.
    pub reasoning_tokens: Option<u64>,
    /// What the request cost in USD, when the model has a price.
    pub cost_usd: Option<f64>,
    /// Every attempt in order, the final one last.
    pub attempts: Vec<Attempt>,
    /// Bodies, when body logging is on.
    #[serde(skip)]
    pub bodies: Option<RequestBodies>,
    /// What the provider's headers said about the account's limits; stored
    /// with the record.
    #[serde(skip)]
    pub reported_quotas: Vec<ReportedQuota>,
}

/// A dimension usage can be grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UsageDimension {
    /// The provider that answered.
    Provider,
    /// The model as the client named it.
    Model,
    /// The account that answered, as `provider/label`.
    Account,
    /// The local API key used, by name.
    ApiKey,
    /// The combo or alias named.
    Combo,
    /// The owner of the local API key used (a team member).
    Owner,
}

impl UsageDimension {
    /// Parses a typed name (`provider`, `model`, `account`, `api-key`, `combo`).
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "provider" => Ok(Self::Provider),
            "model" => Ok(Self::Model),
            "account" => Ok(Self::Account),
            "api-key" | "api_key" | "key" => Ok(Self::ApiKey),
            "combo" => Ok(Self::Combo),
            "owner" | "member" => Ok(Self::Owner),
            other => Err(format!(
                "unknown dimension {other:?}; use provider, model, account, api-key, combo or owner"
            )),
        }
    }

    fn key_sql(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Model => "model",
            Self::Account => "provider || '/' || account",
            Self::ApiKey => "(SELECT name FROM api_keys WHERE api_keys.id = requests.api_key_id)",
            Self::Combo => "combo",
            Self::Owner => "(SELECT owner FROM api_keys WHERE api_keys.id = requests.api_key_id)",
        }
    }
}

/// What to total: a time range, a grouping and an optional time bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageQuery {
    /// Only requests started at or after this, Unix milliseconds.
    pub from: Option<i64>,
    /// Only requests started before this, Unix milliseconds.
    pub to: Option<i64>,
    /// Group by this dimension; one group when `None`.
    pub by: Option<UsageDimension>,
    /// Split into buckets of this many milliseconds (a time series).
    pub bucket_ms: Option<i64>,
    /// Only requests made with keys this owner (a team member) owns.
    pub owner: Option<String>,
}

/// Totals for one group (and bucket) of requests: the shared view type, so
/// the CLI, the desktop and the UI read the same shape.
pub type UsageRow = switchyard_api_types::UsageRowView;

/// Failed attempts recorded against one account, from the attempts paths.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AccountFailures {
    /// `provider/label`.
    pub account: String,
    /// Attempts on it that failed.
    pub failures: u64,
}

/// How the attempts on one target went (skipped ones not counted).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetOutcomes {
    /// `prefix/model` as tried.
    pub target: String,
    /// Attempts sent to it.
    pub attempts: u64,
    /// Those answered 2xx.
    pub succeeded: u64,
}

/// Bodies kept when body logging is on; older ones are deleted.
pub const KEPT_BODIES: u32 = 200;

const RECORD_COLUMNS: &str = "id, started_at, api_key_id, endpoint, dialect, model, combo, target,
     provider, account_id, account, status, stream, latency_ms, ttfb_ms, prompt_tokens,
     completion_tokens, cached_tokens, reasoning_tokens, cost_usd, attempts";

fn to_i64(value: Option<u64>) -> Option<i64> {
    value.map(|value| value.min(i64::MAX as u64) as i64)
}

/// SQL fragments reading a request's `attempts` (a JSON array) in each
/// engine's JSON functions: the rows of the array (each called `value`) and
/// the fields of one.
struct JsonAttempts {
    each: &'static str,
    status: &'static str,
    not_skipped: &'static str,
    provider: &'static str,
    account: &'static str,
    target: &'static str,
}

impl JsonAttempts {
    fn of(dialect: Dialect) -> Self {
        match dialect {
            Dialect::Sqlite => Self {
                each: "json_each(requests.attempts)",
                status: "json_extract(value, '$.status')",
                not_skipped: "json_extract(value, '$.skipped') IS NOT 1",
                provider: "json_extract(value, '$.provider')",
                account: "json_extract(value, '$.account')",
                target: "json_extract(value, '$.target')",
            },
            Dialect::Postgres => Self {
                each: "jsonb_array_elements(requests.attempts::jsonb) AS attempt(value)",
                status: "(value ->> 'status')::bigint",
                not_skipped: "(value ->> 'skipped') IS DISTINCT FROM 'true'",
                provider: "(value ->> 'provider')",
                account: "(value ->> 'account')",
                target: "(value ->> 'target')",
            },
        }
    }
}

fn to_u64(value: Option<i64>) -> Option<u64> {
    value.map(|value| value.max(0) as u64)
}

impl Store {
    /// Appends records in one transaction, with their bodies when they have them.
    pub fn record_requests(&mut self, records: &[RequestRecord]) -> StoreResult<()> {
        let transaction = self.conn.transaction()?;
        let mut wrote_bodies = false;
        {
            let mut insert = transaction.prepare_cached(
                "INSERT INTO requests (started_at, api_key_id, endpoint, dialect, model, combo,
                                       target, provider, account_id, account, status, stream,
                                       latency_ms, ttfb_ms, prompt_tokens, completion_tokens,
                                       cached_tokens, reasoning_tokens, cost_usd, attempts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16,
                         ?17, ?18, ?19, ?20)",
            )?;
            let mut insert_bodies = transaction.prepare_cached(
                "INSERT INTO request_bodies (request_id, request, response) VALUES (?1, ?2, ?3)",
            )?;
            for record in records {
                let attempts = if record.attempts.is_empty() {
                    None
                } else {
                    Some(
                        serde_json::to_string(&record.attempts)
                            .map_err(|error| StoreError::Corrupt(error.to_string()))?,
                    )
                };
                insert.execute(params![
                    record.started_at,
                    record.api_key_id,
                    record.endpoint,
                    record.dialect,
                    record.model,
                    record.combo,
                    record.target,
                    record.provider,
                    record.account_id,
                    record.account,
                    record.status,
                    record.stream,
                    record.latency_ms as i64,
                    to_i64(record.ttfb_ms),
                    to_i64(record.prompt_tokens),
                    to_i64(record.completion_tokens),
                    to_i64(record.cached_tokens),
                    to_i64(record.reasoning_tokens),
                    record.cost_usd,
                    attempts,
                ])?;
                for quota in &record.reported_quotas {
                    crate::quotas::upsert_reported(&transaction, quota)?;
                }
                if let Some(bodies) = &record.bodies {
                    insert_bodies.execute(params![
                        transaction.last_insert_rowid()?,
                        bodies.request,
                        bodies.response
                    ])?;
                    wrote_bodies = true;
                }
            }
        }
        if wrote_bodies {
            transaction.execute(
                "DELETE FROM request_bodies WHERE request_id <
                   (SELECT MIN(request_id) FROM (SELECT request_id FROM request_bodies
                                                 ORDER BY request_id DESC LIMIT ?1))",
                [KEPT_BODIES],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    /// Totals over every recorded request.
    pub fn usage_totals(&self) -> StoreResult<UsageTotals> {
        let mut statement = self.conn.prepare_cached(
            "SELECT COUNT(*),
                    COUNT(*) FILTER (WHERE status BETWEEN 200 AND 299),
                    COALESCE(SUM(prompt_tokens), 0),
                    COALESCE(SUM(completion_tokens), 0)
             FROM requests",
        )?;
        Ok(statement.query_row(params![], |row| {
            let requests: i64 = row.get(0)?;
            let succeeded: i64 = row.get(1)?;
            Ok(UsageTotals {
                requests: requests as u64,
                succeeded: succeeded as u64,
                failed: (requests - succeeded) as u64,
                prompt_tokens: row.get::<_, i64>(2)? as u64,
                completion_tokens: row.get::<_, i64>(3)? as u64,
            })
        })?)
    }

    /// Totals grouped and bucketed as `query` says, largest groups first
    /// (oldest bucket first in a time series).
    pub fn usage_report(&self, query: &UsageQuery) -> StoreResult<Vec<UsageRow>> {
        let key = query.by.map_or("NULL", UsageDimension::key_sql);
        let bucket = match query.bucket_ms {
            Some(size) if size > 0 => format!("(started_at / {size}) * {size}"),
            _ => "NULL".to_owned(),
        };
        let JsonAttempts {
            each,
            status,
            not_skipped,
            ..
        } = JsonAttempts::of(self.conn.dialect());
        let owned = if query.owner.is_some() {
            "AND api_key_id IN (SELECT id FROM api_keys WHERE owner = ?3)"
        } else {
            ""
        };
        let sql = format!(
            "SELECT {key} AS key, {bucket} AS bucket, COUNT(*),
                    COUNT(*) FILTER (WHERE status BETWEEN 200 AND 299),
                    COALESCE(SUM((SELECT COUNT(*) FROM {each}
                                  WHERE {status} NOT BETWEEN 200 AND 299
                                    AND {not_skipped})), 0),
                    COALESCE(SUM(prompt_tokens), 0), COALESCE(SUM(completion_tokens), 0),
                    COALESCE(SUM(cached_tokens), 0), COALESCE(SUM(reasoning_tokens), 0),
                    COALESCE(SUM(cost_usd), 0.0)
             FROM requests
             WHERE started_at >= ?1 AND started_at < ?2 {owned}
             GROUP BY key, bucket
             ORDER BY bucket, COUNT(*) DESC, key"
        );
        let mut statement = self.conn.prepare(&sql)?;
        let mut values = vec![
            crate::db::Value::Integer(query.from.unwrap_or(i64::MIN)),
            crate::db::Value::Integer(query.to.unwrap_or(i64::MAX)),
        ];
        if let Some(owner) = &query.owner {
            values.push(crate::db::Value::Text(owner.clone()));
        }
        let rows = statement.query_map(values, |row| {
            let requests = row.get::<_, i64>(2)?.max(0) as u64;
            let succeeded = row.get::<_, i64>(3)?.max(0) as u64;
            Ok(UsageRow {
                key: row.get(0)?,
                bucket_start: row.get(1)?,
                requests,
                succeeded,
                failed: requests - succeeded,
                fallbacks: row.get::<_, i64>(4)?.max(0) as u64,
                prompt_tokens: row.get::<_, i64>(5)?.max(0) as u64,
                completion_tokens: row.get::<_, i64>(6)?.max(0) as u64,
                cached_tokens: row.get::<_, i64>(7)?.max(0) as u64,
                reasoning_tokens: row.get::<_, i64>(8)?.max(0) as u64,
                cost_usd: row.get(9)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Failed attempts per account over a time range (what fell back away
    /// from each account), most first.
    pub fn failures_by_account(
        &self,
        from: Option<i64>,
        to: Option<i64>,
    ) -> StoreResult<Vec<AccountFailures>> {
        let JsonAttempts {
            each,
            status,
            not_skipped,
            provider,
            account,
            ..
        } = JsonAttempts::of(self.conn.dialect());
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {provider} || '/' || {account} AS attempt_account, COUNT(*)
             FROM requests, {each}
             WHERE started_at >= ?1 AND started_at < ?2
               AND {status} NOT BETWEEN 200 AND 299
               AND {not_skipped}
               AND {account} IS NOT NULL
             GROUP BY attempt_account ORDER BY COUNT(*) DESC, attempt_account",
        ))?;
        let rows = statement.query_map(
            params![from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX)],
            |row| {
                Ok(AccountFailures {
                    account: row.get(0)?,
                    failures: row.get::<_, i64>(1)?.max(0) as u64,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Attempts and successes per target over a time range (what a combo's
    /// targets have been doing), from the attempts paths.
    pub fn target_outcomes(
        &self,
        from: Option<i64>,
        to: Option<i64>,
    ) -> StoreResult<Vec<TargetOutcomes>> {
        let JsonAttempts {
            each,
            status,
            not_skipped,
            target,
            ..
        } = JsonAttempts::of(self.conn.dialect());
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {target} AS attempt_target, COUNT(*),
                    SUM(CASE WHEN {status} BETWEEN 200 AND 299 THEN 1 ELSE 0 END)
             FROM requests, {each}
             WHERE started_at >= ?1 AND started_at < ?2
               AND {not_skipped}
               AND {target} IS NOT NULL
             GROUP BY attempt_target ORDER BY attempt_target",
        ))?;
        let rows = statement.query_map(
            params![from.unwrap_or(i64::MIN), to.unwrap_or(i64::MAX)],
            |row| {
                Ok(TargetOutcomes {
                    target: row.get(0)?,
                    attempts: row.get::<_, i64>(1)?.max(0) as u64,
                    succeeded: row.get::<_, Option<i64>>(2)?.unwrap_or(0).max(0) as u64,
                })
            },
        )?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The most recent `limit` records, newest first (without bodies).
    pub fn recent_requests(&self, limit: u32) -> StoreResult<Vec<RequestRecord>> {
        self.recent_requests_of(limit, None)
    }

    /// The most recent `limit` records made with keys `owner` owns (every
    /// record when `None`), newest first.
    pub fn recent_requests_of(
        &self,
        limit: u32,
        owner: Option<&str>,
    ) -> StoreResult<Vec<RequestRecord>> {
        let (filter, values) = match owner {
            Some(owner) => (
                "WHERE api_key_id IN (SELECT id FROM api_keys WHERE owner = ?2)",
                vec![
                    crate::db::Value::Integer(limit.into()),
                    crate::db::Value::Text(owner.into()),
                ],
            ),
            None => ("", vec![crate::db::Value::Integer(limit.into())]),
        };
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {RECORD_COLUMNS} FROM requests {filter} ORDER BY id DESC LIMIT ?1"
        ))?;
        let rows = statement.query_map(values, |row| {
            Ok(RequestRecord {
                id: row.get(0)?,
                started_at: row.get(1)?,
                api_key_id: row.get(2)?,
                endpoint: row.get(3)?,
                dialect: row.get(4)?,
                model: row.get(5)?,
                combo: row.get(6)?,
                target: row.get(7)?,
                provider: row.get(8)?,
                account_id: row.get(9)?,
                account: row.get(10)?,
                status: row.get(11)?,
                stream: row.get(12)?,
                latency_ms: row.get::<_, i64>(13)?.max(0) as u64,
                ttfb_ms: to_u64(row.get(14)?),
                prompt_tokens: to_u64(row.get(15)?),
                completion_tokens: to_u64(row.get(16)?),
                cached_tokens: to_u64(row.get(17)?),
                reasoning_tokens: to_u64(row.get(18)?),
                cost_usd: row.get(19)?,
                attempts: row
                    .get::<_, Option<String>>(20)?
                    .and_then(|json| serde_json::from_str(&json).ok())
                    .unwrap_or_default(),
                bodies: None,
                reported_quotas: Vec::new(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The logged bodies of request `id`, if body logging kept them.
    pub fn request_bodies(&self, id: i64) -> StoreResult<Option<RequestBodies>> {
        Ok(self
            .conn
            .prepare_cached("SELECT request, response FROM request_bodies WHERE request_id = ?1")?
            .query_row([id], |row| {
                Ok(RequestBodies {
                    request: row.get(0)?,
                    response: row.get(1)?,
                })
            })
            .optional()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: u16, tokens: Option<(u64, u64)>) -> RequestRecord {
        RequestRecord {
            started_at: 1,
            endpoint: "/v1/chat/completions".into(),
            model: "mock/m".into(),
            provider: Some("Mock".into()),
            account: Some("default".into()),
            status,
            latency_ms: 5,
            prompt_tokens: tokens.map(|t| t.0),
            completion_tokens: tokens.map(|t| t.1),
            ..RequestRecord::default()
        }
    }

    #[test]
    fn totals_count_statuses_and_tokens() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_in_dir(dir.path()).unwrap();
        assert_eq!(store.usage_totals().unwrap(), UsageTotals::default());
        store
            .record_requests(&[
                record(200, Some((3, 4))),
                record(502, None),
                record(200, Some((1, 1))),
            ])
            .unwrap();
        let totals = store.usage_totals().unwrap();
        assert_eq!(
            totals,
            UsageTotals {
                requests: 3,
                succeeded: 2,
                failed: 1,
                prompt_tokens: 4,
                completion_tokens: 5
            }
        );
        let recent = store.recent_requests(2).unwrap();
        assert_eq!(recent.len(), 2);
        assert_eq!(recent[0].prompt_tokens, Some(1));
    }

    #[test]
    fn reports_group_by_dimension_and_bucket() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_in_dir(dir.path()).unwrap();
        let failed = Attempt {
            target: "a/m".into(),
            provider: Some("A".into()),
            account: Some("one".into()),
            status: 429,
            latency_ms: 1,
            error: None,
            skipped: false,
        };
        let mut fell_back = record(200, Some((10, 5)));
        fell_back.combo = Some("c".into());
        fell_back.cost_usd = Some(0.5);
        fell_back.started_at = 1_000;
        fell_back.attempts = vec![
            failed.clone(),
            Attempt {
                status: 200,
                account: Some("default".into()),
                ..failed.clone()
            },
        ];
        let mut direct = record(200, Some((1, 1)));
        direct.cost_usd = Some(0.25);
        direct.started_at = 70_000;
        store.record_requests(&[fell_back, direct]).unwrap();

        let by_combo = store
            .usage_report(&UsageQuery {
                by: Some(UsageDimension::Combo),
                ..UsageQuery::default()
            })
            .unwrap();
        assert_eq!(by_combo.len(), 2);
        let combo = by_combo
            .iter()
            .find(|row| row.key.as_deref() == Some("c"))
            .unwrap();
        assert_eq!((combo.requests, combo.fallbacks), (1, 1));
        assert_eq!(combo.cost_usd, 0.5);

        let series = store
            .usage_report(&UsageQuery {
                bucket_ms: Some(60_000),
                ..UsageQuery::default()
            })
            .unwrap();
        let buckets: Vec<_> = series.iter().map(|row| row.bucket_start).collect();
        assert_eq!(buckets, [Some(0), Some(60_000)]);

        let since = store
            .usage_report(&UsageQuery {
                from: Some(60_000),
                ..UsageQuery::default()
            })
            .unwrap();
        assert_eq!(since[0].requests, 1);
        assert_eq!(
            store.failures_by_account(None, None).unwrap(),
            [AccountFailures {
                account: "A/one".into(),
                failures: 1
            }]
        );
        assert_eq!(
            store.target_outcomes(None, None).unwrap(),
            [TargetOutcomes {
                target: "a/m".into(),
                attempts: 2,
                succeeded: 1
            }]
        );
        assert!(store.target_outcomes(Some(2_000), None).unwrap().is_empty());
    }
}
