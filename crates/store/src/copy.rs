//! `switchyard db copy`: a whole installation from one database into an
//! empty other one (SQLite to PostgreSQL or back), every table, row and
//! field, in one transaction, then read back from both and compared field
//! by field. Sealed secrets are opened with the source's key and sealed
//! again with the target's, so each side keeps its own key.

use serde::Serialize;
use serde_json::Value as Json;

use crate::db::{Dialect, Row, Value, params};
use crate::{Store, StoreError, StoreResult};

/// Every table with its columns (parents before children), the first
/// column its key for ordering; checked against both schemas by a test.
const TABLES: &[(&str, &[&str])] = &[
    (
        "providers",
        &[
            "id",
            "name",
            "kind",
            "prefix",
            "base_url",
            "models",
            "enabled",
            "created_at",
            "account_strategy",
            "subscription",
        ],
    ),
    (
        "accounts",
        &[
            "id",
            "provider_id",
            "label",
            "api_key",
            "priority",
            "enabled",
            "created_at",
            "auth",
            "refresh_token",
            "expires_at",
            "needs_login",
            "email",
            "meta",
        ],
    ),
    (
        "api_keys",
        &[
            "id",
            "name",
            "key_hash",
            "key_hint",
            "created_at",
            "revoked_at",
            "sealed_key",
            "paused_at",
            "expires_at",
            "owner",
            "allowed_models",
            "budget_day_usd",
            "budget_week_usd",
            "budget_month_usd",
            "budget_warn_percent",
            "requests_per_minute",
            "tokens_per_minute",
        ],
    ),
    ("settings", &["key", "value"]),
    (
        "combos",
        &["id", "name", "targets", "created_at", "strategy"],
    ),
    ("aliases", &["name", "target", "created_at"]),
    (
        "cooldowns",
        &[
            "account_id",
            "model",
            "until",
            "failures",
            "status",
            "reason",
        ],
    ),
    (
        "prices",
        &[
            "model",
            "input_per_mtok",
            "output_per_mtok",
            "cache_read_per_mtok",
            "cache_write_per_mtok",
            "per_image",
            "per_audio_second",
        ],
    ),
    (
        "quota_limits",
        &["account_id", "\"window\"", "metric", "max"],
    ),
    (
        "reported_quotas",
        &[
            "account_id",
            "metric",
            "remaining",
            "max",
            "reset_at",
            "updated_at",
        ],
    ),
    (
        "service_quotas",
        &[
            "account_id",
            "\"window\"",
            "used_percent",
            "resets_at",
            "updated_at",
        ],
    ),
    (
        "requests",
        &[
            "id",
            "started_at",
            "api_key_id",
            "endpoint",
            "model",
            "provider",
            "status",
            "stream",
            "latency_ms",
            "prompt_tokens",
            "completion_tokens",
            "attempts",
            "dialect",
            "combo",
            "target",
            "account_id",
            "account",
            "cached_tokens",
            "reasoning_tokens",
            "cost_usd",
            "ttfb_ms",
        ],
    ),
    ("request_bodies", &["request_id", "request", "response"]),
    ("dashboard_password", &["id", "argon2_hash", "set_at"]),
    (
        "dashboard_sessions",
        &[
            "id_hash",
            "csrf_token",
            "actor",
            "created_at",
            "expires_at",
            "member",
        ],
    ),
    (
        "dashboard_users",
        &["name", "argon2_hash", "role", "created_at"],
    ),
    ("signin_links", &["token_hash", "expires_at"]),
    (
        "management_tokens",
        &[
            "id",
            "name",
            "token_hash",
            "created_at",
            "last_used_at",
            "revoked_at",
        ],
    ),
    (
        "management_log",
        &["id", "at", "actor", "operation", "detail", "outcome"],
    ),
    (
        "webhooks",
        &[
            "id",
            "url",
            "format",
            "events",
            "sealed_secret",
            "enabled",
            "consecutive_failures",
            "created_at",
        ],
    ),
    (
        "webhook_deliveries",
        &[
            "id",
            "webhook_id",
            "event",
            "at",
            "attempts",
            "status",
            "outcome",
            "error",
        ],
    ),
    ("refresh_leases", &["account_id", "holder", "until"]),
    (
        "sync_link",
        &[
            "id",
            "hub_url",
            "space_id",
            "device_id",
            "device_name",
            "token",
            "e2e_key",
            "cursor",
            "linked_at",
            "last_sync_at",
            "state",
            "last_error",
            "conflicts_seen",
            "open_conflicts",
        ],
    ),
    ("sync_seen", &["kind", "name", "version", "hash"]),
    (
        "sync_devices",
        &[
            "id",
            "name",
            "token_hash",
            "created_at",
            "last_seen_at",
            "revoked_at",
        ],
    ),
    (
        "sync_pairing_codes",
        &["code_hash", "created_at", "expires_at", "used_by"],
    ),
    (
        "sync_space",
        &["id", "space_id", "version", "e2e_salt", "e2e_check"],
    ),
    (
        "sync_items",
        &["kind", "name", "version", "body", "device_id", "updated_at"],
    ),
    (
        "sync_conflicts",
        &[
            "id",
            "kind",
            "name",
            "winner_version",
            "winner_device",
            "loser_device",
            "loser_body",
            "at",
            "resolved_at",
        ],
    ),
    ("sync_leases", &["subject", "device_id", "until"]),
    ("sync_requests", &["request_id", "at"]),
    (
        "sync_usage",
        &[
            "device_id",
            "day",
            "model",
            "requests",
            "prompt_tokens",
            "completion_tokens",
            "cost_usd",
        ],
    ),
];

/// Tables whose `id` is given, not generated (no sequence to continue).
const GIVEN_IDS: &[&str] = &[
    "dashboard_password",
    "sync_link",
    "sync_devices",
    "sync_space",
];

/// Settings each database keeps for itself (where its key is, its check value).
const OWN_SETTINGS: &str = "internal.secret_key_%";

/// What a copy moved, per table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// Rows copied and verified, per table, in copy order.
    pub tables: Vec<(String, u64)>,
}

impl Store {
    /// Copies everything in `self` into `target`, which must hold no data,
    /// then compares both field by field (secrets compared opened).
    pub fn copy_into(&self, target: &Store) -> StoreResult<CopyReport> {
        for (table, _) in TABLES {
            let filter = if *table == "settings" {
                format!(" WHERE key NOT LIKE '{OWN_SETTINGS}'")
            } else {
                String::new()
            };
            let count: i64 = target.conn.query_row(
                &format!("SELECT COUNT(*) FROM {table}{filter}"),
                params![],
                |row| row.get(0),
            )?;
            if count > 0 {
                return Err(StoreError::Conflict(format!(
                    "the target database already holds data ({count} rows in {table}): copy into an empty database"
                )));
            }
        }
        let transaction = target.conn.transaction()?;
        let mut report = CopyReport { tables: Vec::new() };
        for (table, columns) in TABLES {
            let rows = self.rows_of(table, columns)?;
            let list = columns.join(", ");
            let marks: Vec<String> = (1..=columns.len()).map(|n| format!("?{n}")).collect();
            let insert = format!("INSERT INTO {table} ({list}) VALUES ({})", marks.join(", "));
            for row in &rows {
                let values: Vec<Value> = row
                    .iter()
                    .map(|value| self.reseal(value, target))
                    .collect::<StoreResult<_>>()?;
                transaction.execute(&insert, values)?;
            }
            report.tables.push(((*table).to_owned(), rows.len() as u64));
        }
        if target.conn.dialect() == Dialect::Postgres {
            // New ids continue after the copied ones.
            for (table, columns) in TABLES {
                if columns.first() == Some(&"id") && !GIVEN_IDS.contains(table) {
                    transaction.query_row(
                        &format!(
                            "SELECT setval(pg_get_serial_sequence('{table}', 'id'), COALESCE((SELECT MAX(id) FROM {table}), 0) + 1, false)"
                        ),
                        params![],
                        |_| Ok(()),
                    )?;
                }
            }
        }
        transaction.commit()?;
        self.compare_with(target)?;
        Ok(report)
    }

    /// Every row of `table` (its own settings left out), ordered by its first column.
    fn rows_of(&self, table: &str, columns: &[&str]) -> StoreResult<Vec<Vec<Value>>> {
        let filter = if table == "settings" {
            format!(" WHERE key NOT LIKE '{OWN_SETTINGS}'")
        } else {
            String::new()
        };
        let order = match table {
            "cooldowns" => "account_id, model",
            "quota_limits" => "account_id, \"window\", metric",
            "reported_quotas" => "account_id, metric",
            "service_quotas" => "account_id, \"window\"",
            "sync_seen" | "sync_items" => "kind, name",
            "sync_usage" => "device_id, day, model",
            _ => columns[0],
        };
        let rows = self.conn.query_rows(
            &format!(
                "SELECT {} FROM {table}{filter} ORDER BY {order}",
                columns.join(", ")
            ),
            params![],
        )?;
        Ok(rows.into_iter().map(Row::into_values).collect())
    }

    /// A value as `target` stores it: sealed secrets (alone, or as the
    /// string fields of a JSON object) opened and sealed with its key.
    fn reseal(&self, value: &Value, target: &Store) -> StoreResult<Value> {
        self.map_sealed(value, |sealed| {
            Ok(target.secrets.seal(&self.secrets.open(sealed)?))
        })
    }

    /// A value with its sealed secrets opened (to compare across keys).
    fn opened(&self, value: &Value) -> StoreResult<Value> {
        self.map_sealed(value, |sealed| self.secrets.open(sealed))
    }

    fn map_sealed(
        &self,
        value: &Value,
        change: impl Fn(&str) -> StoreResult<String>,
    ) -> StoreResult<Value> {
        let Value::Text(text) = value else {
            return Ok(value.clone());
        };
        if crate::SecretBox::is_sealed(text) {
            return Ok(Value::Text(change(text)?));
        }
        if text.starts_with('{')
            && text.contains("enc:v1:")
            && let Ok(Json::Object(mut object)) = serde_json::from_str::<Json>(text)
        {
            for field in object.values_mut() {
                if let Json::String(inner) = field
                    && crate::SecretBox::is_sealed(inner)
                {
                    *inner = change(inner)?;
                }
            }
            return Ok(Value::Text(Json::Object(object).to_string()));
        }
        Ok(value.clone())
    }

    /// Compares every table of `self` and `other`, field by field.
    pub fn compare_with(&self, other: &Store) -> StoreResult<()> {
        for (table, columns) in TABLES {
            let mine = self.rows_of(table, columns)?;
            let theirs = other.rows_of(table, columns)?;
            if mine.len() != theirs.len() {
                return Err(StoreError::Invalid(format!(
                    "{table}: {} rows here, {} there",
                    mine.len(),
                    theirs.len()
                )));
            }
            for (index, (a, b)) in mine.iter().zip(&theirs).enumerate() {
                for (column, (x, y)) in columns.iter().zip(a.iter().zip(b)) {
                    if self.opened(x)? != other.opened(y)? {
                        return Err(StoreError::Invalid(format!(
                            "{table}, row {}: column {column} differs after the copy",
                            index + 1
                        )));
                    }
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The list above names every table and column of the schema.
    #[test]
    fn every_table_and_column_is_copied() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        let sql = match store.dialect() {
            Dialect::Sqlite => {
                "SELECT m.name, p.name FROM sqlite_master m, pragma_table_info(m.name) p
                 WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' ORDER BY 1, 2"
            }
            Dialect::Postgres => {
                "SELECT table_name::text, column_name::text FROM information_schema.columns
                 WHERE table_schema = 'public' AND table_name <> 'schema_migrations' ORDER BY 1, 2"
            }
        };
        let mut schema: Vec<(String, String)> = store
            .conn
            .query_rows(sql, params![])
            .unwrap()
            .iter()
            .map(|row| (row.get(0).unwrap(), row.get(1).unwrap()))
            .collect();
        schema.sort();
        let mut listed: Vec<(String, String)> = TABLES
            .iter()
            .flat_map(|(table, columns)| {
                columns
                    .iter()
                    .map(|column| ((*table).to_owned(), column.trim_matches('"').to_owned()))
            })
            .collect();
        listed.sort();
        assert_eq!(listed, schema);
    }
}
