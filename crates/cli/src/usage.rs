//! `switchyard usage` (totals and time series by provider, model, account,
//! API key and combo) and `switchyard log` (recent requests with their path).

use anyhow::{Result, bail};
use clap::Args;
use serde_json::{Value, json};
use switchyard_store::{Store, UsageDimension, UsageQuery, UsageRow, now_millis};

use crate::{Output, when};

#[derive(Debug, Args)]
pub(crate) struct UsageArgs {
    /// Group by provider, model, account, api-key, combo or owner [default: totals
    /// plus every grouping]
    #[arg(long)]
    by: Option<String>,
    /// Only requests since this: a duration back (`24h`, `7d`) or a time
    /// (`2026-11-01`, `2026-11-01T09:00:00Z`)
    #[arg(long)]
    since: Option<String>,
    /// Only requests before this (same forms as --since)
    #[arg(long)]
    until: Option<String>,
    /// Split into a time series of hour or day buckets
    #[arg(long)]
    series: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct LogArgs {
    /// How many recent requests
    #[arg(long, default_value_t = 20)]
    limit: u32,
    /// Include logged bodies (when the log_bodies setting was on)
    #[arg(long)]
    bodies: bool,
}

/// A point in time from a duration ahead (30d) or a date/time, Unix ms.
pub(crate) fn parse_expiry(text: &str) -> Result<i64> {
    let now = switchyard_store::now_millis();
    if let Ok(ahead) = humantime::parse_duration(text) {
        return Ok(now + ahead.as_millis() as i64);
    }
    parse_time(text, now)
}

/// A point in time from a duration back or a date/time, Unix milliseconds.
fn parse_time(text: &str, now: i64) -> Result<i64> {
    if let Ok(back) = humantime::parse_duration(text) {
        return Ok(now - back.as_millis() as i64);
    }
    if let Ok(timestamp) = text.parse::<jiff::Timestamp>() {
        return Ok(timestamp.as_millisecond());
    }
    if let Ok(date) = text.parse::<jiff::civil::Date>()
        && let Ok(zoned) = date.to_zoned(jiff::tz::TimeZone::UTC)
    {
        return Ok(zoned.timestamp().as_millisecond());
    }
    bail!(
        "{text:?} is neither a duration like 24h or 7d nor a time like 2026-11-01 or 2026-11-01T09:00:00Z"
    )
}

const GROUPINGS: [(&str, UsageDimension); 6] = [
    ("provider", UsageDimension::Provider),
    ("account", UsageDimension::Account),
    ("combo", UsageDimension::Combo),
    ("model", UsageDimension::Model),
    ("api_key", UsageDimension::ApiKey),
    ("owner", UsageDimension::Owner),
];

pub(crate) fn usage(store: &Store, args: UsageArgs, output: Output) -> Result<()> {
    let now = now_millis();
    let from = args
        .since
        .as_deref()
        .map(|t| parse_time(t, now))
        .transpose()?;
    let to = args
        .until
        .as_deref()
        .map(|t| parse_time(t, now))
        .transpose()?;
    let bucket_ms = match args.series.as_deref() {
        None => None,
        Some("hour") => Some(3_600_000),
        Some("day") => Some(86_400_000),
        Some(other) => bail!("unknown series {other:?}; use hour or day"),
    };
    let query = |by| UsageQuery {
        from,
        to,
        by,
        bucket_ms,
        owner: None,
    };
    let mut report = json!({ "from": from, "to": to });
    let mut text = String::new();
    let dimensions: Vec<(&str, Option<UsageDimension>)> = match &args.by {
        Some(by) => {
            let dimension = UsageDimension::parse(by).map_err(anyhow::Error::msg)?;
            vec![(by.as_str(), Some(dimension))]
        }
        None => std::iter::once(("totals", None))
            .chain(GROUPINGS.iter().map(|(name, d)| (*name, Some(*d))))
            .collect(),
    };
    for (name, dimension) in dimensions {
        let rows = store.usage_report(&query(dimension))?;
        let mut json_rows = serde_json::to_value(&rows)?;
        if dimension == Some(UsageDimension::Account) {
            add_account_failures(store, from, to, &rows, &mut json_rows)?;
        }
        text.push_str(&table(name, &json_rows, bucket_ms.is_some()));
        let key = if name == "totals" || args.by.is_some() {
            name.replace('-', "_")
        } else {
            format!("by_{name}")
        };
        report[key] = if name == "totals" && bucket_ms.is_none() {
            json_rows
                .get(0)
                .cloned()
                .unwrap_or_else(|| serde_json::to_value(UsageRow::default()).unwrap_or(Value::Null))
        } else {
            json_rows
        };
    }
    output.print(&report, || text.trim_end().to_owned())
}

/// Adds each account's failed attempts (what fell back away from it), and
/// rows for accounts that only failed.
fn add_account_failures(
    store: &Store,
    from: Option<i64>,
    to: Option<i64>,
    rows: &[UsageRow],
    json_rows: &mut Value,
) -> Result<()> {
    let Some(array) = json_rows.as_array_mut() else {
        return Ok(());
    };
    for row in array.iter_mut() {
        row["failed_attempts"] = json!(0);
    }
    for failures in store.failures_by_account(from, to)? {
        match rows
            .iter()
            .position(|row| row.key.as_deref() == Some(failures.account.as_str()))
        {
            Some(index) => array[index]["failed_attempts"] = json!(failures.failures),
            None => {
                let mut row = serde_json::to_value(UsageRow {
                    key: Some(failures.account.clone()),
                    ..UsageRow::default()
                })?;
                row["failed_attempts"] = json!(failures.failures);
                array.push(row);
            }
        }
    }
    Ok(())
}

fn table(title: &str, rows: &Value, series: bool) -> String {
    let mut text = format!(
        "{}\n  {:<32} {:>8} {:>6} {:>6} {:>9} {:>10} {:>10} {:>10}{}\n",
        title.to_uppercase(),
        if series { "BUCKET / KEY" } else { "KEY" },
        "REQUESTS",
        "OK",
        "FAILED",
        "FALLBACKS",
        "TOKENS IN",
        "TOKENS OUT",
        "COST USD",
        if title == "account" {
            "  FAILED ATTEMPTS"
        } else {
            ""
        }
    );
    for row in rows.as_array().into_iter().flatten() {
        let number = |name: &str| row[name].as_u64().unwrap_or(0);
        let mut key = row["key"].as_str().unwrap_or("-").to_owned();
        if title == "totals" {
            key = "all".into();
        }
        if let Some(bucket) = row["bucket_start"].as_i64() {
            key = format!("{} {key}", when(bucket));
        }
        text.push_str(&format!(
            "  {:<32} {:>8} {:>6} {:>6} {:>9} {:>10} {:>10} {:>10.4}{}\n",
            key,
            number("requests"),
            number("succeeded"),
            number("failed"),
            number("fallbacks"),
            number("prompt_tokens"),
            number("completion_tokens"),
            row["cost_usd"].as_f64().unwrap_or(0.0),
            row.get("failed_attempts")
                .map_or(String::new(), |n| format!("  {n}"))
        ));
    }
    text.push('\n');
    text
}

pub(crate) fn log(store: &Store, args: LogArgs, output: Output) -> Result<()> {
    let records = store.recent_requests(args.limit)?;
    let mut rows = Vec::new();
    for record in &records {
        let mut row = serde_json::to_value(record)?;
        if args.bodies {
            row["bodies"] = serde_json::to_value(store.request_bodies(record.id)?)?;
        }
        rows.push(row);
    }
    output.print(&rows, || {
        let mut text = String::new();
        for record in &records {
            text.push_str(&format!(
                "{} {} {} {} -> {} {}ms (first byte {}ms) tokens {}/{}{}\n",
                when(record.started_at),
                record.dialect.as_deref().unwrap_or("?"),
                record.model,
                record.status,
                record.target.as_deref().unwrap_or("-"),
                record.latency_ms,
                record.ttfb_ms.unwrap_or(0),
                record.prompt_tokens.unwrap_or(0),
                record.completion_tokens.unwrap_or(0),
                record
                    .cost_usd
                    .map_or(String::new(), |cost| format!(" ${cost:.6}"))
            ));
            for attempt in &record.attempts {
                text.push_str(&format!(
                    "    {}{} {}/{} {} {}ms{}\n",
                    if attempt.skipped { "skipped " } else { "" },
                    attempt.target,
                    attempt.provider.as_deref().unwrap_or("?"),
                    attempt.account.as_deref().unwrap_or("-"),
                    attempt.status,
                    attempt.latency_ms,
                    attempt
                        .error
                        .as_deref()
                        .map_or(String::new(), |error| format!(" ({error})"))
                ));
            }
        }
        if text.is_empty() {
            text = "no requests yet".into();
        }
        text.trim_end().to_owned()
    })
}
