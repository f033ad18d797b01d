//! Sync through a hub, the device's side: the configuration as records
//! (providers, accounts with their secrets, combos, aliases, prices,
//! settings, API keys as hashes) read and applied one at a time, and the
//! bookkeeping of what this device last agreed with its hub.
//!
//! A record is named by its kind and a name stable across devices (a
//! provider's prefix, `prefix/label` for an account, an API key's hash), so
//! no local row id ever leaves the device.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::db::{OptionalExtension, params};
use crate::transfer::{AccountEntry, ProviderEntry, TransferError};
use crate::{KeyLimits, Price, Store, StoreError, StoreResult, now_millis};
use switchyard_api_types::TransferReport;

/// What a synced record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// A provider connection (without its accounts), named by its prefix.
    Provider,
    /// An account with its secrets, named `prefix/label`.
    Account,
    /// A combo, by name.
    Combo,
    /// An alias, by name.
    Alias,
    /// A price, by model.
    Price,
    /// A setting, by key (only the shared ones are synced).
    Setting,
    /// A client API key's hash and policy, by the hash.
    ApiKey,
}

impl RecordKind {
    /// Every kind, in the order records are applied (parents first).
    pub const ALL: [Self; 7] = [
        Self::Provider,
        Self::Account,
        Self::Combo,
        Self::Alias,
        Self::Price,
        Self::Setting,
        Self::ApiKey,
    ];

    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Account => "account",
            Self::Combo => "combo",
            Self::Alias => "alias",
            Self::Price => "price",
            Self::Setting => "setting",
            Self::ApiKey => "api_key",
        }
    }

    /// The kind called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }
}

/// A record's identity: its kind and its name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct RecordKey {
    /// What it is.
    pub kind: RecordKind,
    /// Its name, the same on every device.
    pub name: String,
}

impl RecordKey {
    /// The key of `kind` called `name`.
    pub fn new(kind: RecordKind, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }
}

impl std::fmt::Display for RecordKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.kind.as_str(), self.name)
    }
}

/// The hash a record's content is compared by (`-` for an absent record).
pub fn record_hash(body: Option<&Value>) -> String {
    match body {
        None => "-".into(),
        Some(body) => hex::encode(Sha256::digest(body.to_string().as_bytes())),
    }
}

/// An account as a record: its provider's prefix and the account.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct AccountRecord {
    provider: String,
    #[serde(flatten)]
    account: AccountEntry,
}

/// A client API key as a record: never the key, only its hash (the name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ApiKeyRecord {
    name: String,
    hint: String,
    created_at: i64,
    revoked_at: Option<i64>,
    paused_at: Option<i64>,
    expires_at: Option<i64>,
    owner: Option<String>,
    allowed_models: Vec<String>,
    limits: KeyLimits,
}

/// This device's link to a hub.
#[derive(Clone, PartialEq, Eq)]
pub struct SyncLink {
    /// The hub's address (`https://hub.example:20128`).
    pub hub_url: String,
    /// The hub's space: another one means the hub was reset.
    pub space_id: String,
    /// This device's id at the hub.
    pub device_id: String,
    /// This device's name at the hub.
    pub device_name: String,
    /// The device credential.
    pub token: String,
    /// End-to-end mode: the key derived from the passphrase (base64).
    pub e2e_key: Option<String>,
    /// The hub version pulled up to.
    pub cursor: i64,
    /// When it was linked (Unix ms).
    pub linked_at: i64,
    /// When a sync last completed (Unix ms).
    pub last_sync_at: Option<i64>,
    /// `synced`, `syncing`, `offline`, `conflict` or `revoked`.
    pub state: String,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    /// The newest hub conflict already announced here.
    pub conflicts_seen: i64,
    /// Conflicts the hub holds open.
    pub open_conflicts: i64,
}

impl std::fmt::Debug for SyncLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncLink")
            .field("hub_url", &self.hub_url)
            .field("device_id", &self.device_id)
            .field("state", &self.state)
            .field("cursor", &self.cursor)
            .field("e2e", &self.e2e_key.is_some())
            .finish_non_exhaustive()
    }
}

fn transfer_error(error: TransferError) -> StoreError {
    match error {
        TransferError::Store(error) => error,
        other => StoreError::Invalid(other.to_string()),
    }
}

impl Store {
    /// Every record that syncs, as it is here, with secrets in plain text
    /// (every setting but the internal ones: the caller keeps the shared).
    pub fn sync_records(&self) -> StoreResult<BTreeMap<RecordKey, Value>> {
        let document = self.export_config(true).map_err(transfer_error)?;
        let mut records = BTreeMap::new();
        for mut provider in document.providers {
            for account in std::mem::take(&mut provider.accounts) {
                let key = RecordKey::new(
                    RecordKind::Account,
                    format!("{}/{}", provider.prefix, account.label),
                );
                let record = AccountRecord {
                    provider: provider.prefix.clone(),
                    account,
                };
                records.insert(key, json(&record)?);
            }
            records.insert(
                RecordKey::new(RecordKind::Provider, provider.prefix.clone()),
                json(&provider)?,
            );
        }
        for combo in document.combos {
            records.insert(
                RecordKey::new(RecordKind::Combo, combo.name.clone()),
                json(&combo)?,
            );
        }
        for alias in document.aliases {
            records.insert(
                RecordKey::new(RecordKind::Alias, alias.name.clone()),
                json(&alias)?,
            );
        }
        for price in document.prices {
            records.insert(
                RecordKey::new(RecordKind::Price, price.model.clone()),
                json(&price)?,
            );
        }
        for (key, value) in document.settings {
            if !key.starts_with("internal.") {
                records.insert(
                    RecordKey::new(RecordKind::Setting, key),
                    serde_json::json!({ "value": value }),
                );
            }
        }
        let hashes: Vec<(i64, String)> = self
            .conn
            .prepare_cached("SELECT id, key_hash FROM api_keys")?
            .query_map(params![], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        let hashes: std::collections::HashMap<i64, String> = hashes.into_iter().collect();
        for key in self.list_api_keys()? {
            let Some(hash) = hashes.get(&key.id) else {
                continue;
            };
            let record = ApiKeyRecord {
                name: key.name,
                hint: key.hint,
                created_at: key.created_at,
                revoked_at: key.revoked_at,
                paused_at: key.paused_at,
                expires_at: key.expires_at,
                owner: key.owner,
                allowed_models: key.allowed_models,
                limits: key.limits,
            };
            records.insert(
                RecordKey::new(RecordKind::ApiKey, hash.clone()),
                json(&record)?,
            );
        }
        Ok(records)
    }

    /// Makes record `key` here what `body` says (`None`: removes it), in
    /// one transaction; a body that does not fit is refused unapplied.
    pub fn apply_sync_record(&self, key: &RecordKey, body: Option<&Value>) -> StoreResult<()> {
        let transaction = self.conn.unchecked_transaction()?;
        self.apply_record(key, body)?;
        transaction.commit()?;
        Ok(())
    }

    fn apply_record(&self, key: &RecordKey, body: Option<&Value>) -> StoreResult<()> {
        fn parse<T: serde::de::DeserializeOwned>(key: &RecordKey, body: &Value) -> StoreResult<T> {
            serde_json::from_value(body.clone()).map_err(|error| {
                // Never quote the record's values (they may be secrets).
                let error = error.to_string();
                let error = error.split('"').next().unwrap_or_default().trim_end();
                StoreError::Invalid(format!("{key}: the record does not fit ({error})"))
            })
        }
        let mut report = TransferReport::default();
        match (key.kind, body) {
            (RecordKind::Provider, Some(body)) => {
                let mut entry: ProviderEntry = parse(key, body)?;
                entry.accounts.clear();
                if entry.prefix != key.name {
                    return Err(StoreError::Invalid(format!("{key}: its prefix differs")));
                }
                if self
                    .upsert_provider(&entry, &mut report)
                    .map_err(transfer_error)?
                    .is_none()
                {
                    return Err(StoreError::Conflict(format!(
                        "{key}: another provider here is named {:?}",
                        entry.name
                    )));
                }
            }
            (RecordKind::Provider, None) => {
                if self.provider_by_prefix(&key.name)?.is_some() {
                    self.remove_provider(&key.name)?;
                }
            }
            (RecordKind::Account, Some(body)) => {
                let record: AccountRecord = parse(key, body)?;
                if format!("{}/{}", record.provider, record.account.label) != key.name
                    || record.account.secrets.is_none()
                {
                    return Err(StoreError::Invalid(format!(
                        "{key}: its name or secrets do not fit"
                    )));
                }
                let Some(provider) = self.provider_by_prefix(&record.provider)? else {
                    return Err(StoreError::NotFound(format!(
                        "provider {} of {key}",
                        record.provider
                    )));
                };
                let entry = ProviderEntry {
                    name: provider.name.clone(),
                    kind: provider.kind,
                    prefix: provider.prefix.clone(),
                    base_url: provider.base_url.clone(),
                    models: Vec::new(),
                    enabled: provider.enabled,
                    strategy: provider.account_strategy,
                    subscription: provider.subscription.clone(),
                    accounts: Vec::new(),
                };
                // By label only: a renamed login is a removal and an
                // addition, never the update of another row.
                let mut installed: Vec<_> = self
                    .accounts_of(provider.id)?
                    .into_iter()
                    .filter(|account| account.label == record.account.label)
                    .collect();
                let limits = self.list_quota_limits()?;
                self.import_account(
                    &entry,
                    provider.id,
                    &record.account,
                    &mut installed,
                    &limits,
                    &mut report,
                )
                .map_err(transfer_error)?;
                // The record's quota limits are all of them.
                if let Some(account) = self
                    .accounts_of(provider.id)?
                    .into_iter()
                    .find(|account| account.label == record.account.label)
                {
                    for limit in limits.iter().filter(|limit| limit.account_id == account.id) {
                        let kept = record.account.quota_limits.iter().any(|wanted| {
                            wanted.window == limit.window && wanted.metric == limit.metric
                        });
                        if !kept {
                            self.remove_quota_limit(account.id, limit.window, limit.metric)?;
                        }
                    }
                }
            }
            (RecordKind::Account, None) => {
                let (prefix, label) = key.name.split_once('/').unwrap_or((&key.name, ""));
                if let Some(provider) = self.provider_by_prefix(prefix)?
                    && let Some(account) = self
                        .accounts_of(provider.id)?
                        .into_iter()
                        .find(|account| account.label == label)
                {
                    // Synced as it was removed elsewhere, even if it is the
                    // provider's last one here (its provider's record follows).
                    self.conn
                        .execute("DELETE FROM accounts WHERE id = ?1", params![account.id])?;
                }
            }
            (RecordKind::Combo, Some(body)) => {
                let combo: crate::transfer::ComboEntry = parse(key, body)?;
                if combo.name != key.name {
                    return Err(StoreError::Invalid(format!("{key}: its name differs")));
                }
                if self.alias_by_name(&combo.name)?.is_some() {
                    self.remove_alias(&combo.name)?;
                }
                if self.combo_by_name(&combo.name)?.is_some() {
                    self.update_combo(&combo.name, combo.strategy, &combo.targets)?;
                } else {
                    self.add_combo(&combo.name, combo.strategy, &combo.targets)?;
                }
            }
            (RecordKind::Combo, None) => {
                if self.combo_by_name(&key.name)?.is_some() {
                    self.remove_combo(&key.name)?;
                }
            }
            (RecordKind::Alias, Some(body)) => {
                let alias: crate::transfer::AliasEntry = parse(key, body)?;
                if alias.name != key.name {
                    return Err(StoreError::Invalid(format!("{key}: its name differs")));
                }
                if self.combo_by_name(&alias.name)?.is_some() {
                    self.remove_combo(&alias.name)?;
                }
                if self.alias_by_name(&alias.name)?.is_some() {
                    self.conn.execute(
                        "UPDATE aliases SET target = ?1 WHERE name = ?2",
                        params![alias.target, alias.name],
                    )?;
                } else {
                    self.add_alias(&alias.name, &alias.target)?;
                }
            }
            (RecordKind::Alias, None) => {
                if self.alias_by_name(&key.name)?.is_some() {
                    self.remove_alias(&key.name)?;
                }
            }
            (RecordKind::Price, Some(body)) => {
                let price: Price = parse(key, body)?;
                if price.model != key.name {
                    return Err(StoreError::Invalid(format!("{key}: its model differs")));
                }
                self.set_price(&price)?;
            }
            (RecordKind::Price, None) => self.remove_price(&key.name)?,
            (RecordKind::Setting, Some(body)) => {
                let Some(value) = body.get("value").and_then(Value::as_str) else {
                    return Err(StoreError::Invalid(format!("{key}: no value")));
                };
                if key.name.starts_with("internal.") {
                    return Err(StoreError::Invalid(format!("{key}: internal")));
                }
                self.set_setting(&key.name, value)?;
            }
            (RecordKind::Setting, None) => {
                self.unset_setting(&key.name)?;
            }
            (RecordKind::ApiKey, Some(body)) => {
                let record: ApiKeyRecord = parse(key, body)?;
                self.apply_api_key(&key.name, &record)?;
            }
            (RecordKind::ApiKey, None) => {
                self.conn.execute(
                    "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?1) WHERE key_hash = ?2",
                    params![now_millis(), key.name],
                )?;
            }
        }
        Ok(())
    }

    /// Adds or updates the key whose hash is `hash` (never its copy: a
    /// copyable key's sealed copy stays on the device that made it).
    fn apply_api_key(&self, hash: &str, record: &ApiKeyRecord) -> StoreResult<()> {
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Invalid(
                "an API key record's name is not a hash".into(),
            ));
        }
        record.limits.check().map_err(StoreError::Invalid)?;
        for pattern in &record.allowed_models {
            crate::check_model_pattern(pattern).map_err(StoreError::Invalid)?;
        }
        let allowed = (!record.allowed_models.is_empty())
            .then(|| serde_json::to_string(&record.allowed_models))
            .transpose()
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let limits = &record.limits;
        self.conn.execute(
            "INSERT INTO api_keys (name, key_hash, key_hint, created_at, revoked_at, paused_at,
                                   expires_at, owner, allowed_models, budget_day_usd,
                                   budget_week_usd, budget_month_usd, budget_warn_percent,
                                   requests_per_minute, tokens_per_minute)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)
             ON CONFLICT (key_hash) DO UPDATE SET
                name = excluded.name, key_hint = excluded.key_hint,
                revoked_at = excluded.revoked_at, paused_at = excluded.paused_at,
                expires_at = excluded.expires_at, owner = excluded.owner,
                allowed_models = excluded.allowed_models,
                budget_day_usd = excluded.budget_day_usd,
                budget_week_usd = excluded.budget_week_usd,
                budget_month_usd = excluded.budget_month_usd,
                budget_warn_percent = excluded.budget_warn_percent,
                requests_per_minute = excluded.requests_per_minute,
                tokens_per_minute = excluded.tokens_per_minute",
            params![
                record.name,
                hash,
                record.hint,
                record.created_at,
                record.revoked_at,
                record.paused_at,
                record.expires_at,
                record.owner,
                allowed,
                limits.budget_day_usd,
                limits.budget_week_usd,
                limits.budget_month_usd,
                limits.budget_warn_percent,
                limits.requests_per_minute,
                limits.tokens_per_minute.map(|tokens| tokens as i64),
            ],
        )?;
        Ok(())
    }

    /// This device's link to a hub, if it has one.
    pub fn sync_link(&self) -> StoreResult<Option<SyncLink>> {
        let row = self
            .conn
            .query_row(
                "SELECT hub_url, space_id, device_id, device_name, token, e2e_key, cursor,
                        linked_at, last_sync_at, state, last_error, conflicts_seen, open_conflicts
                 FROM sync_link WHERE id = 1",
                params![],
                |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, String>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, String>(4)?,
                        row.get::<_, Option<String>>(5)?,
                        row.get::<_, i64>(6)?,
                        row.get::<_, i64>(7)?,
                        row.get::<_, Option<i64>>(8)?,
                        row.get::<_, String>(9)?,
                        row.get::<_, Option<String>>(10)?,
                        row.get::<_, i64>(11)?,
                        row.get::<_, i64>(12)?,
                    ))
                },
            )
            .optional()?;
        row.map(|row| {
            Ok(SyncLink {
                hub_url: row.0,
                space_id: row.1,
                device_id: row.2,
                device_name: row.3,
                token: self.secrets.open(&row.4)?,
                e2e_key: row.5.map(|key| self.secrets.open(&key)).transpose()?,
                cursor: row.6,
                linked_at: row.7,
                last_sync_at: row.8,
                state: row.9,
                last_error: row.10,
                conflicts_seen: row.11,
                open_conflicts: row.12,
            })
        })
        .transpose()
    }

    /// Links this device to a hub (replacing any link, forgetting what
    /// the previous hub had agreed).
    pub fn set_sync_link(&self, link: &SyncLink) -> StoreResult<()> {
        let transaction = self.conn.unchecked_transaction()?;
        self.conn.execute("DELETE FROM sync_link", params![])?;
        self.conn.execute("DELETE FROM sync_seen", params![])?;
        self.conn.execute(
            "INSERT INTO sync_link (id, hub_url, space_id, device_id, device_name, token, e2e_key,
                                    cursor, linked_at, state)
             VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, 0, ?7, 'syncing')",
            params![
                link.hub_url,
                link.space_id,
                link.device_id,
                link.device_name,
                self.secrets.seal(&link.token),
                link.e2e_key.as_deref().map(|key| self.secrets.seal(key)),
                link.linked_at
            ],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// Ends this device's link; whether there was one.
    pub fn remove_sync_link(&self) -> StoreResult<bool> {
        let transaction = self.conn.unchecked_transaction()?;
        let removed = self.conn.execute("DELETE FROM sync_link", params![])?;
        self.conn.execute("DELETE FROM sync_seen", params![])?;
        transaction.commit()?;
        Ok(removed > 0)
    }

    /// Records the link's state (`last_sync_at` kept unless given).
    pub fn set_sync_state(
        &self,
        state: &str,
        error: Option<&str>,
        synced_at: Option<i64>,
    ) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE sync_link SET state = ?1, last_error = ?2,
                    last_sync_at = COALESCE(?3, last_sync_at) WHERE id = 1",
            params![state, error, synced_at],
        )?;
        Ok(())
    }

    /// Records the hub version pulled up to.
    pub fn set_sync_cursor(&self, cursor: i64) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE sync_link SET cursor = ?1 WHERE id = 1",
            params![cursor],
        )?;
        Ok(())
    }

    /// Records the hub's conflicts: the newest announced and how many are open.
    pub fn set_sync_conflicts(&self, seen: i64, open: i64) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE sync_link SET conflicts_seen = ?1, open_conflicts = ?2 WHERE id = 1",
            params![seen, open],
        )?;
        Ok(())
    }

    /// What this device last agreed with the hub: version and content hash per record.
    pub fn sync_seen(&self) -> StoreResult<BTreeMap<RecordKey, (i64, String)>> {
        let rows: Vec<(String, String, i64, String)> = self
            .conn
            .prepare_cached("SELECT kind, name, version, hash FROM sync_seen")?
            .query_map(params![], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })?
            .collect::<Result<_, _>>()?;
        Ok(rows
            .into_iter()
            .filter_map(|(kind, name, version, hash)| {
                Some((
                    RecordKey::new(RecordKind::parse(&kind)?, name),
                    (version, hash),
                ))
            })
            .collect())
    }

    /// Records that this device and the hub agree on `key` at `version`.
    pub fn set_sync_seen(&self, key: &RecordKey, version: i64, hash: &str) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO sync_seen (kind, name, version, hash) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (kind, name) DO UPDATE SET version = excluded.version, hash = excluded.hash",
            params![key.kind.as_str(), key.name, version, hash],
        )?;
        Ok(())
    }

    /// Each UTC day's usage per model since `since` (Unix ms): day
    /// (`YYYY-MM-DD`), model, requests, prompt and completion tokens, cost.
    pub fn daily_usage_since(&self, since: i64) -> StoreResult<Vec<DailyUsage>> {
        let rows = self.conn.query_rows(
            "SELECT started_at / 86400000, model, COUNT(*), COALESCE(SUM(prompt_tokens), 0),
                    COALESCE(SUM(completion_tokens), 0), COALESCE(SUM(cost_usd), 0)
             FROM requests WHERE started_at >= ?1 GROUP BY 1, 2 ORDER BY 1, 2",
            params![since],
        )?;
        rows.into_iter()
            .map(|row| {
                Ok(DailyUsage {
                    day: row.get::<_, i64>(0)?,
                    model: row.get(1)?,
                    requests: row.get(2)?,
                    prompt_tokens: row.get(3)?,
                    completion_tokens: row.get(4)?,
                    cost_usd: row.get(5)?,
                })
            })
            .collect()
    }
}

/// One day's use of one model on one device.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DailyUsage {
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    /// The model as clients named it.
    pub model: String,
    /// Requests.
    pub requests: i64,
    /// Prompt tokens.
    pub prompt_tokens: i64,
    /// Completion tokens.
    pub completion_tokens: i64,
    /// Cost, USD.
    pub cost_usd: f64,
}

/// `value` as a JSON value, with the store's error.
fn json<T: Serialize>(value: &T) -> StoreResult<Value> {
    serde_json::to_value(value).map_err(|error| StoreError::Corrupt(error.to_string()))
}
