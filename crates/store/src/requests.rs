//! The request log: one row per request the gateway answered, and totals over it.

use rusqlite::params;
use serde::{Deserialize, Serialize};
use switchyard_api_types::UsageTotals;

use crate::{Store, StoreError, StoreResult};

/// A try that failed before the request's final answer (a combo fell back).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedAttempt {
    /// The `prefix/model` target tried.
    pub target: String,
    /// Provider name, when the target named one.
    pub provider: Option<String>,
    /// Status of the failure (502 for a connection error).
    pub status: u16,
    /// Time the attempt took, milliseconds.
    pub latency_ms: u64,
}

/// One answered request, as recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestRecord {
    /// When the request arrived, Unix milliseconds.
    pub started_at: i64,
    /// The local API key used, if any.
    pub api_key_id: Option<i64>,
    /// Endpoint path, such as `/v1/chat/completions`.
    pub endpoint: String,
    /// Model as the client named it.
    pub model: String,
    /// Name of the provider that was tried, if routing got that far.
    pub provider: Option<String>,
    /// Final HTTP status sent to the client.
    pub status: u16,
    /// Whether the client asked for a stream.
    pub stream: bool,
    /// Time from arrival to the end of the response, milliseconds.
    pub latency_ms: u64,
    /// Prompt tokens, when the upstream reported them.
    pub prompt_tokens: Option<u64>,
    /// Completion tokens, when the upstream reported them.
    pub completion_tokens: Option<u64>,
    /// Attempts that failed before the final one, in order.
    pub failed_attempts: Vec<FailedAttempt>,
}

impl Store {
    /// Appends records in one transaction.
    pub fn record_requests(&mut self, records: &[RequestRecord]) -> StoreResult<()> {
        let transaction = self.conn.transaction()?;
        {
            let mut insert = transaction.prepare_cached(
                "INSERT INTO requests (started_at, api_key_id, endpoint, model, provider, status,
                                       stream, latency_ms, prompt_tokens, completion_tokens,
                                       failed_attempts)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            )?;
            for record in records {
                let failed_attempts = if record.failed_attempts.is_empty() {
                    None
                } else {
                    Some(
                        serde_json::to_string(&record.failed_attempts)
                            .map_err(|error| StoreError::Corrupt(error.to_string()))?,
                    )
                };
                insert.execute(params![
                    record.started_at,
                    record.api_key_id,
                    record.endpoint,
                    record.model,
                    record.provider,
                    record.status,
                    record.stream,
                    record.latency_ms as i64,
                    record.prompt_tokens.map(|tokens| tokens as i64),
                    record.completion_tokens.map(|tokens| tokens as i64),
                    failed_attempts,
                ])?;
            }
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
        Ok(statement.query_row([], |row| {
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

    /// The most recent `limit` records, newest first.
    pub fn recent_requests(&self, limit: u32) -> StoreResult<Vec<RequestRecord>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT started_at, api_key_id, endpoint, model, provider, status, stream,
                    latency_ms, prompt_tokens, completion_tokens, failed_attempts
             FROM requests ORDER BY id DESC LIMIT ?1",
        )?;
        let rows = statement.query_map([limit], |row| {
            Ok(RequestRecord {
                started_at: row.get(0)?,
                api_key_id: row.get(1)?,
                endpoint: row.get(2)?,
                model: row.get(3)?,
                provider: row.get(4)?,
                status: row.get(5)?,
                stream: row.get(6)?,
                latency_ms: row.get::<_, i64>(7)? as u64,
                prompt_tokens: row.get::<_, Option<i64>>(8)?.map(|tokens| tokens as u64),
                completion_tokens: row.get::<_, Option<i64>>(9)?.map(|tokens| tokens as u64),
                failed_attempts: row
                    .get::<_, Option<String>>(10)?
                    .and_then(|json| serde_json::from_str(&json).ok())
                    .unwrap_or_default(),
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(status: u16, tokens: Option<(u64, u64)>) -> RequestRecord {
        RequestRecord {
            started_at: 1,
            api_key_id: None,
            endpoint: "/v1/chat/completions".into(),
            model: "mock/m".into(),
            provider: Some("Mock".into()),
            status,
            stream: false,
            latency_ms: 5,
            prompt_tokens: tokens.map(|t| t.0),
            completion_tokens: tokens.map(|t| t.1),
            failed_attempts: Vec::new(),
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
}
