//! Moving a configuration between installations: a versioned JSON document
//! of providers, accounts, combos, aliases, prices, quota limits and
//! settings ([`ConfigDocument`]), written by [`Store::export_config`] and
//! merged in by [`Store::import_config`] in one transaction; and
//! [`read_9router`], which reads a 9router installation's database into the
//! JSON shape of its `db.json` for the gateway to map.
//!
//! Secrets (API keys, OAuth tokens, secret account facts) are in a document
//! only when the caller asks for them; client API keys are never exported
//! (only their hashes are stored).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use crate::db::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchyard_api_types::{TransferReport, TransferSkip};

use crate::{
    AccountStrategy, ComboStrategy, ComboTarget, Price, ProviderKind, QuotaLimit, QuotaMetric,
    QuotaWindow, Store, StoreError, hash_api_key, now_millis,
};

/// The `format` of every configuration document.
pub const CONFIG_FORMAT: &str = "switchyard-config";
/// The document version this build writes and reads.
pub const CONFIG_VERSION: u32 = 1;

/// Errors from exporting or importing a configuration. Messages never
/// contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    /// The document (or the other router's database) cannot be imported;
    /// nothing was written.
    #[error("{0}")]
    Invalid(String),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn invalid(message: impl Into<String>) -> TransferError {
    TransferError::Invalid(message.into())
}

/// A whole configuration, as exported.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigDocument {
    /// Always [`CONFIG_FORMAT`].
    pub format: String,
    /// Always [`CONFIG_VERSION`] for documents this build writes.
    pub version: u32,
    /// Whether account secrets were asked for (informational: an import uses
    /// whatever secrets the accounts carry).
    #[serde(default)]
    pub secrets_included: bool,
    /// Providers with their accounts.
    #[serde(default)]
    pub providers: Vec<ProviderEntry>,
    /// Combos.
    #[serde(default)]
    pub combos: Vec<ComboEntry>,
    /// Aliases.
    #[serde(default)]
    pub aliases: Vec<AliasEntry>,
    /// User-set prices.
    #[serde(default)]
    pub prices: Vec<Price>,
    /// Settings by key (never the `internal.*` ones).
    #[serde(default)]
    pub settings: BTreeMap<String, String>,
    /// Keys clients present to the gateway. Never exported (only hashes are
    /// stored); filled when importing from a router that keeps them in plain
    /// text, so the tools set up with them keep working.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub client_api_keys: Vec<ClientKeyEntry>,
}

impl Default for ConfigDocument {
    fn default() -> Self {
        Self {
            format: CONFIG_FORMAT.into(),
            version: CONFIG_VERSION,
            secrets_included: false,
            providers: Vec::new(),
            combos: Vec::new(),
            aliases: Vec::new(),
            prices: Vec::new(),
            settings: BTreeMap::new(),
            client_api_keys: Vec::new(),
        }
    }
}

/// A provider in a document; matched to an installed one by prefix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderEntry {
    /// Display name (unique).
    pub name: String,
    /// Wire format.
    pub kind: ProviderKind,
    /// Model prefix (unique); what an import matches on.
    pub prefix: String,
    /// Base URL of the API.
    pub base_url: String,
    /// Models advertised.
    #[serde(default)]
    pub models: Vec<String>,
    /// Whether it is routed to.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How it picks among its accounts; absent follows the global setting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strategy: Option<AccountStrategy>,
    /// Subscription service (`claude-code`, `codex`, ...); absent for API-key providers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
    /// Its accounts.
    #[serde(default)]
    pub accounts: Vec<AccountEntry>,
}

/// How an account in a document authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthKind {
    /// A static API key.
    ApiKey,
    /// OAuth tokens the gateway refreshes.
    Oauth,
}

impl AuthKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::ApiKey => "api_key",
            Self::Oauth => "oauth",
        }
    }
}

/// An account in a document; matched by label within its provider (or, for
/// an OAuth account, by e-mail).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountEntry {
    /// Unique within the provider.
    pub label: String,
    /// Lower goes first.
    #[serde(default)]
    pub priority: i64,
    /// Whether it is routed to.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// How it authenticates.
    pub auth: AuthKind,
    /// Whose account it is, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Provider-specific facts that are not secret (account ids, regions, ...).
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub meta: Map<String, Value>,
    /// Local quota limits on the account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub quota_limits: Vec<QuotaLimitEntry>,
    /// The key or tokens; only in exports that asked for secrets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secrets: Option<AccountSecrets>,
}

/// An account's secrets. `Debug` shows none of them.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct AccountSecrets {
    /// The API key (API-key accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub api_key: Option<String>,
    /// The current access token (OAuth accounts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_token: Option<String>,
    /// The refresh token (OAuth accounts), when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// When the access token expires, Unix milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// The tokens were refused for good: the user must log in again.
    #[serde(default, skip_serializing_if = "is_false")]
    pub needs_login: bool,
    /// Secret facts, such as a registered OAuth client's `client_secret`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub meta: Map<String, Value>,
}

impl std::fmt::Debug for AccountSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountSecrets")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field(
                "access_token",
                &self.access_token.as_ref().map(|_| "<redacted>"),
            )
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .field("needs_login", &self.needs_login)
            .finish_non_exhaustive()
    }
}

/// A local quota limit of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuotaLimitEntry {
    /// The window counted over.
    pub window: QuotaWindow,
    /// What is counted.
    pub metric: QuotaMetric,
    /// The most allowed in one window.
    pub max: u64,
}

/// A combo in a document; matched by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComboEntry {
    /// The model name clients use.
    pub name: String,
    /// How targets are ordered.
    #[serde(default)]
    pub strategy: ComboStrategy,
    /// The targets, in order.
    pub targets: Vec<ComboTarget>,
}

/// An alias in a document; matched by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AliasEntry {
    /// The short name.
    pub name: String,
    /// What it stands for.
    pub target: String,
}

/// A key clients present, in plain text (only ever read, never exported).
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientKeyEntry {
    /// Label.
    pub name: String,
    /// The key itself.
    pub key: String,
}

impl std::fmt::Debug for ClientKeyEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientKeyEntry")
            .field("name", &self.name)
            .field("key", &"<redacted>")
            .finish()
    }
}

fn yes() -> bool {
    true
}

fn is_false(value: &bool) -> bool {
    !value
}

/// Whether an account fact is a secret (the store seals those at rest).
fn is_secret_fact(key: &str) -> bool {
    key.ends_with("_secret")
}

impl ConfigDocument {
    /// Parses a document, refusing other formats and versions with a clear
    /// message. Field errors never quote the document.
    pub fn from_json(text: &str) -> Result<Self, TransferError> {
        let value: Value = serde_json::from_str(text).map_err(|error| {
            invalid(format!(
                "the file is not JSON (line {}, column {})",
                error.line(),
                error.column()
            ))
        })?;
        let Some(object) = value.as_object() else {
            return Err(invalid(
                "the file is not a Switchyard configuration export (a JSON object was expected)",
            ));
        };
        match object.get("format").and_then(Value::as_str) {
            Some(CONFIG_FORMAT) => {}
            other => {
                let hint = if object.contains_key("providerConnections") {
                    "; it looks like a 9router database: use `switchyard import-9router FILE`"
                } else {
                    ""
                };
                return Err(invalid(format!(
                    "the file is not a Switchyard configuration export (format {}, expected {CONFIG_FORMAT:?}){hint}",
                    other.map_or_else(|| "missing".to_owned(), |format| format!("{format:?}"))
                )));
            }
        }
        match object.get("version").and_then(Value::as_u64) {
            Some(version) if version == u64::from(CONFIG_VERSION) => {}
            Some(version) if version > u64::from(CONFIG_VERSION) => {
                return Err(invalid(format!(
                    "the file is version {version} of the configuration format, written by a newer Switchyard; this one reads version {CONFIG_VERSION}"
                )));
            }
            _ => {
                return Err(invalid(format!(
                    "the file has no known configuration version (expected {CONFIG_VERSION})"
                )));
            }
        }
        // serde_json::from_value would quote offending values (possibly a
        // secret put in the wrong place); keep only the kind of mistake.
        serde_json::from_value(value).map_err(|error| {
            let message = error.to_string();
            let kind = if message.starts_with("missing field") {
                message.as_str()
            } else {
                message.split([':', '`']).next().unwrap_or_default().trim()
            };
            invalid(format!("the configuration is malformed: {kind}"))
        })
    }

    /// The document as pretty-printed JSON.
    pub fn to_json(&self) -> String {
        // Serializing plain data (strings, numbers, maps with string keys)
        // cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }

    /// Structural checks that need no knowledge of the gateway: names and
    /// prefixes present and unique, secrets of the right kind, prices valid.
    pub fn validate(&self) -> Result<(), TransferError> {
        let mut names = HashSet::new();
        let mut prefixes = HashSet::new();
        for provider in &self.providers {
            let what = format!("provider {:?}", provider.prefix);
            if provider.name.trim().is_empty() || provider.prefix.trim().is_empty() {
                return Err(invalid(format!("{what}: a name and a prefix are required")));
            }
            if !names.insert(provider.name.as_str()) {
                return Err(invalid(format!(
                    "two providers are named {:?}",
                    provider.name
                )));
            }
            if !prefixes.insert(provider.prefix.as_str()) {
                return Err(invalid(format!(
                    "two providers use the prefix {:?}",
                    provider.prefix
                )));
            }
            if provider.base_url.trim().is_empty() && provider.subscription.is_none() {
                return Err(invalid(format!("{what}: a base URL is required")));
            }
            let mut labels = HashSet::new();
            for account in &provider.accounts {
                let what = format!("account {}/{}", provider.prefix, account.label);
                if account.label.trim().is_empty() || account.label.contains('/') {
                    return Err(invalid(format!(
                        "{what}: a label is required and may not contain '/'"
                    )));
                }
                if !labels.insert(account.label.as_str()) {
                    return Err(invalid(format!("{what} appears twice")));
                }
                if let Some(secrets) = &account.secrets {
                    let filled =
                        |value: &Option<String>| value.as_deref().is_some_and(|v| !v.is_empty());
                    let ok = match account.auth {
                        AuthKind::ApiKey => {
                            filled(&secrets.api_key) && secrets.access_token.is_none()
                        }
                        AuthKind::Oauth => {
                            filled(&secrets.access_token) && secrets.api_key.is_none()
                        }
                    };
                    if !ok {
                        return Err(invalid(format!(
                            "{what}: an {} account's secrets must hold {}",
                            account.auth.as_str(),
                            match account.auth {
                                AuthKind::ApiKey => "an api_key",
                                AuthKind::Oauth => "an access_token",
                            }
                        )));
                    }
                }
                let mut limits = HashSet::new();
                for limit in &account.quota_limits {
                    if !limits.insert((limit.window, limit.metric)) {
                        return Err(invalid(format!(
                            "{what}: two {} {} quota limits",
                            limit.window.as_str(),
                            limit.metric.as_str()
                        )));
                    }
                }
            }
        }
        let mut model_names = HashSet::new();
        for combo in &self.combos {
            if combo.name.is_empty() || combo.name.contains('/') {
                return Err(invalid(format!(
                    "combo {:?}: a name is required and may not contain '/'",
                    combo.name
                )));
            }
            if !model_names.insert(combo.name.as_str()) {
                return Err(invalid(format!(
                    "the name {:?} is used twice by combos or aliases",
                    combo.name
                )));
            }
            if combo.targets.is_empty() || combo.targets.iter().any(|t| t.target.is_empty()) {
                return Err(invalid(format!(
                    "combo {:?}: it needs targets, none empty",
                    combo.name
                )));
            }
        }
        for alias in &self.aliases {
            if alias.name.is_empty() || alias.name.contains('/') || alias.target.is_empty() {
                return Err(invalid(format!(
                    "alias {:?}: a name without '/' and a target are required",
                    alias.name
                )));
            }
            if !model_names.insert(alias.name.as_str()) {
                return Err(invalid(format!(
                    "the name {:?} is used twice by combos or aliases",
                    alias.name
                )));
            }
        }
        let mut models = HashSet::new();
        for price in &self.prices {
            let valid = |value: f64| value.is_finite() && value >= 0.0;
            if price.model.is_empty()
                || !valid(price.input_per_mtok)
                || !valid(price.output_per_mtok)
                || !price.cache_read_per_mtok.is_none_or(valid)
                || !price.cache_write_per_mtok.is_none_or(valid)
            {
                return Err(invalid(format!(
                    "price {:?}: a model and non-negative prices are required",
                    price.model
                )));
            }
            if !models.insert(price.model.as_str()) {
                return Err(invalid(format!("two prices for {:?}", price.model)));
            }
        }
        if self.settings.keys().any(String::is_empty) {
            return Err(invalid("a setting has an empty name"));
        }
        if self
            .client_api_keys
            .iter()
            .any(|key| key.name.is_empty() || key.key.is_empty())
        {
            return Err(invalid("a client API key needs a name and a key"));
        }
        Ok(())
    }
}

/// How a setting in a document is taken: `Ok(Some(value))` to store (as
/// normalised), `Ok(None)` for a setting this build does not know (skipped),
/// `Err(why)` for a value that is wrong (the import fails).
pub type SettingCheck<'a> = &'a dyn Fn(&str, &str) -> Result<Option<String>, String>;

/// Options of [`Store::import_config`].
#[derive(Clone, Copy, Default)]
pub struct ImportOptions<'a> {
    /// Work everything out and report it, then roll back.
    pub dry_run: bool,
    /// Checks each setting; without it settings are taken as they are.
    pub check_setting: Option<SettingCheck<'a>>,
}

impl std::fmt::Debug for ImportOptions<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImportOptions")
            .field("dry_run", &self.dry_run)
            .field("check_setting", &self.check_setting.is_some())
            .finish()
    }
}

impl Store {
    /// The whole configuration as a document; with `with_secrets`, the
    /// accounts' keys and tokens too (in plain text: handle with care).
    pub fn export_config(&self, with_secrets: bool) -> Result<ConfigDocument, TransferError> {
        let mut accounts_by_provider: HashMap<i64, Vec<AccountEntry>> = HashMap::new();
        let mut limits_by_account: HashMap<i64, Vec<QuotaLimitEntry>> = HashMap::new();
        for limit in self.list_quota_limits()? {
            limits_by_account
                .entry(limit.account_id)
                .or_default()
                .push(QuotaLimitEntry {
                    window: limit.window,
                    metric: limit.metric,
                    max: limit.max,
                });
        }
        for account in self.list_accounts()? {
            let (secret_meta, public_meta): (Map<_, _>, Map<_, _>) = account
                .meta
                .iter()
                .map(|(key, value)| (key.clone(), value.clone()))
                .partition(|(key, _)| is_secret_fact(key));
            let auth = match account.auth {
                crate::AccountAuth::ApiKey => AuthKind::ApiKey,
                crate::AccountAuth::Oauth => AuthKind::Oauth,
            };
            let secrets = with_secrets.then(|| AccountSecrets {
                api_key: (auth == AuthKind::ApiKey).then(|| account.api_key.clone()),
                access_token: (auth == AuthKind::Oauth).then(|| account.api_key.clone()),
                refresh_token: account.refresh_token.clone(),
                expires_at: account.expires_at,
                needs_login: account.needs_login,
                meta: secret_meta,
            });
            accounts_by_provider
                .entry(account.provider_id)
                .or_default()
                .push(AccountEntry {
                    label: account.label,
                    priority: account.priority,
                    enabled: account.enabled,
                    auth,
                    email: account.email,
                    meta: public_meta,
                    quota_limits: limits_by_account.remove(&account.id).unwrap_or_default(),
                    secrets,
                });
        }
        let providers = self
            .list_providers()?
            .into_iter()
            .map(|provider| ProviderEntry {
                accounts: accounts_by_provider
                    .remove(&provider.id)
                    .unwrap_or_default(),
                name: provider.name,
                kind: provider.kind,
                prefix: provider.prefix,
                base_url: provider.base_url,
                models: provider.models,
                enabled: provider.enabled,
                strategy: provider.account_strategy,
                subscription: provider.subscription,
            })
            .collect();
        Ok(ConfigDocument {
            secrets_included: with_secrets,
            providers,
            combos: self
                .list_combos()?
                .into_iter()
                .map(|combo| ComboEntry {
                    name: combo.name,
                    strategy: combo.strategy,
                    targets: combo.targets,
                })
                .collect(),
            aliases: self
                .list_aliases()?
                .into_iter()
                .map(|alias| AliasEntry {
                    name: alias.name,
                    target: alias.target,
                })
                .collect(),
            prices: self.list_prices()?,
            settings: self.list_settings()?.into_iter().collect(),
            ..ConfigDocument::default()
        })
    }

    /// Merges a document into this configuration, all or nothing.
    ///
    /// Providers are matched by prefix, accounts by label (an OAuth account
    /// also by e-mail), combos, aliases and prices by name, quota limits by
    /// window and metric: a match is updated with the document's values,
    /// anything else is added, and nothing absent from the document is
    /// removed. An account without secrets in the document keeps the key it
    /// has here, or, if it is new, is skipped (it could not work). The
    /// document is checked completely before anything is written; with
    /// `dry_run` the changes are made in a transaction that is rolled back.
    pub fn import_config(
        &self,
        document: &ConfigDocument,
        options: ImportOptions<'_>,
    ) -> Result<TransferReport, TransferError> {
        document.validate()?;
        let mut report = TransferReport {
            dry_run: options.dry_run,
            ..TransferReport::default()
        };
        let mut settings = Vec::new();
        for (key, value) in &document.settings {
            let item = format!("setting {key}");
            if key.starts_with("internal.") {
                report
                    .skipped
                    .push(skip(item, "internal settings are never imported"));
                continue;
            }
            match options.check_setting.map(|check| check(key, value)) {
                None => settings.push((key.clone(), value.clone())),
                Some(Ok(Some(normalized))) => settings.push((key.clone(), normalized)),
                Some(Ok(None)) => report
                    .skipped
                    .push(skip(item, "this version of Switchyard has no such setting")),
                Some(Err(why)) => return Err(invalid(format!("setting {key}: {why}"))),
            }
        }

        let transaction = self
            .conn
            .unchecked_transaction()
            .map_err(StoreError::from)?;
        for provider in &document.providers {
            self.import_provider(provider, &mut report)?;
        }
        for combo in &document.combos {
            let item = format!("combo {}", combo.name);
            if self.alias_by_name(&combo.name)?.is_some() {
                report
                    .skipped
                    .push(skip(item, "an alias here already has this name"));
            } else if self.combo_by_name(&combo.name)?.is_some() {
                self.update_combo(&combo.name, combo.strategy, &combo.targets)?;
                report.updated.push(item);
            } else {
                self.add_combo(&combo.name, combo.strategy, &combo.targets)?;
                report.added.push(item);
            }
        }
        for alias in &document.aliases {
            let item = format!("alias {}", alias.name);
            if self.combo_by_name(&alias.name)?.is_some() {
                report
                    .skipped
                    .push(skip(item, "a combo here already has this name"));
            } else if self.alias_by_name(&alias.name)?.is_some() {
                self.conn
                    .execute(
                        "UPDATE aliases SET target = ?1 WHERE name = ?2",
                        params![alias.target, alias.name],
                    )
                    .map_err(StoreError::from)?;
                report.updated.push(item);
            } else {
                self.add_alias(&alias.name, &alias.target)?;
                report.added.push(item);
            }
        }
        let prices: HashSet<String> = self.list_prices()?.into_iter().map(|p| p.model).collect();
        for price in &document.prices {
            let item = format!("price {}", price.model);
            self.set_price(price)?;
            if prices.contains(&price.model) {
                report.updated.push(item);
            } else {
                report.added.push(item);
            }
        }
        for (key, value) in settings {
            let item = format!("setting {key}");
            let existed = self.setting(&key)?.is_some();
            self.set_setting(&key, &value)?;
            if existed {
                report.updated.push(item);
            } else {
                report.added.push(item);
            }
        }
        for client_key in &document.client_api_keys {
            let item = format!("API key {}", client_key.name);
            let hash = hash_api_key(&client_key.key);
            let exists = self
                .conn
                .query_row(
                    "SELECT 1 FROM api_keys WHERE key_hash = ?1",
                    [&hash],
                    |_| Ok(()),
                )
                .optional()
                .map_err(StoreError::from)?
                .is_some();
            if exists {
                report
                    .skipped
                    .push(skip(item, "this key is already known here"));
                continue;
            }
            let shown: String = client_key.key.chars().take(7).collect();
            let hint = if client_key.key.chars().count() > 12 {
                format!("{shown}…")
            } else {
                "…".to_owned()
            };
            self.conn
                .execute(
                    "INSERT INTO api_keys (name, key_hash, key_hint, created_at) VALUES (?1, ?2, ?3, ?4)",
                    params![client_key.name, hash, hint, now_millis()],
                )
                .map_err(StoreError::from)?;
            report.added.push(item);
        }
        if options.dry_run {
            transaction.rollback().map_err(StoreError::from)?;
        } else {
            transaction.commit().map_err(StoreError::from)?;
        }
        Ok(report)
    }

    /// Adds or updates one provider and its accounts (inside the import's transaction).
    fn import_provider(
        &self,
        entry: &ProviderEntry,
        report: &mut TransferReport,
    ) -> Result<(), TransferError> {
        let Some(provider_id) = self.upsert_provider(entry, report)? else {
            return Ok(());
        };
        let mut installed = self.accounts_of(provider_id)?;
        let limits = self.list_quota_limits()?;
        for account in &entry.accounts {
            self.import_account(entry, provider_id, account, &mut installed, &limits, report)?;
        }
        Ok(())
    }

    /// Adds or updates the provider of `entry`; its id, or `None` when another
    /// provider here has its name (reported).
    pub(crate) fn upsert_provider(
        &self,
        entry: &ProviderEntry,
        report: &mut TransferReport,
    ) -> Result<Option<i64>, TransferError> {
        let item = format!("provider {}", entry.prefix);
        let existing = self.provider_by_prefix(&entry.prefix)?;
        let name_owner: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM providers WHERE name = ?1",
                [&entry.name],
                |row| row.get(0),
            )
            .optional()
            .map_err(StoreError::from)?;
        if let Some(owner) = name_owner
            && existing
                .as_ref()
                .is_none_or(|existing| existing.id != owner)
        {
            report.skipped.push(skip(
                item,
                format!(
                    "another provider here is already named {:?}; its {} account(s) were not imported either",
                    entry.name,
                    entry.accounts.len()
                ),
            ));
            return Ok(None);
        }
        let models = serde_json::to_string(&entry.models)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let strategy = entry.strategy.map(AccountStrategy::as_str);
        let provider_id = match &existing {
            Some(existing) => {
                self.conn
                    .execute(
                        "UPDATE providers SET name = ?1, kind = ?2, base_url = ?3, models = ?4,
                                enabled = ?5, account_strategy = ?6, subscription = ?7
                         WHERE id = ?8",
                        params![
                            entry.name,
                            entry.kind.as_str(),
                            entry.base_url,
                            models,
                            entry.enabled,
                            strategy,
                            entry.subscription,
                            existing.id
                        ],
                    )
                    .map_err(StoreError::from)?;
                report.updated.push(item);
                existing.id
            }
            None => {
                self.conn
                    .execute(
                        "INSERT INTO providers (name, kind, prefix, base_url, models, enabled,
                                                created_at, account_strategy, subscription)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                        params![
                            entry.name,
                            entry.kind.as_str(),
                            entry.prefix,
                            entry.base_url,
                            models,
                            entry.enabled,
                            now_millis(),
                            strategy,
                            entry.subscription
                        ],
                    )
                    .map_err(StoreError::from)?;
                report.added.push(item);
                self.conn.last_insert_rowid().map_err(StoreError::from)?
            }
        };
        Ok(Some(provider_id))
    }

    /// Adds or updates one account of the provider `provider_id` (matched
    /// among `installed` by label, else by e-mail for a login), and its
    /// quota limits.
    pub(crate) fn import_account(
        &self,
        entry: &ProviderEntry,
        provider_id: i64,
        account: &AccountEntry,
        installed: &mut Vec<crate::Account>,
        limits: &[QuotaLimit],
        report: &mut TransferReport,
    ) -> Result<(), TransferError> {
        let matched = installed
            .iter()
            .position(|a| a.label == account.label)
            .or_else(|| {
                let email = account.email.as_deref()?;
                (account.auth == AuthKind::Oauth)
                    .then(|| {
                        installed
                            .iter()
                            .position(|a| a.email.as_deref() == Some(email))
                    })
                    .flatten()
            });
        let matched = matched.map(|index| installed.remove(index));
        let label = matched
            .as_ref()
            .map_or_else(|| account.label.clone(), |a| a.label.clone());
        let item = format!("account {}/{label}", entry.prefix);
        let account_id = match (&account.secrets, matched) {
            (Some(secrets), Some(matched)) => {
                let mut meta = account.meta.clone();
                meta.extend(secrets.meta.clone());
                self.conn
                    .execute(
                        "UPDATE accounts SET api_key = ?1, priority = ?2, enabled = ?3, auth = ?4,
                                refresh_token = ?5, expires_at = ?6, needs_login = ?7,
                                email = ?8, meta = ?9
                         WHERE id = ?10",
                        params![
                            self.secrets.seal(secret_of(account.auth, secrets)),
                            account.priority,
                            account.enabled,
                            account.auth.as_str(),
                            secrets
                                .refresh_token
                                .as_deref()
                                .map(|t| self.secrets.seal(t)),
                            secrets.expires_at,
                            secrets.needs_login,
                            account.email,
                            self.sealed_facts(&meta),
                            matched.id
                        ],
                    )
                    .map_err(StoreError::from)?;
                report.updated.push(item.clone());
                matched.id
            }
            (Some(secrets), None) => {
                let mut meta = account.meta.clone();
                meta.extend(secrets.meta.clone());
                self.conn
                    .execute(
                        "INSERT INTO accounts (provider_id, label, api_key, priority, enabled,
                                               created_at, auth, refresh_token, expires_at,
                                               needs_login, email, meta)
                         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                        params![
                            provider_id,
                            account.label,
                            self.secrets.seal(secret_of(account.auth, secrets)),
                            account.priority,
                            account.enabled,
                            now_millis(),
                            account.auth.as_str(),
                            secrets
                                .refresh_token
                                .as_deref()
                                .map(|t| self.secrets.seal(t)),
                            secrets.expires_at,
                            secrets.needs_login,
                            account.email,
                            self.sealed_facts(&meta)
                        ],
                    )
                    .map_err(StoreError::from)?;
                report.added.push(item.clone());
                self.conn.last_insert_rowid().map_err(StoreError::from)?
            }
            (None, Some(matched)) => {
                // Keep the key, tokens and secret facts it has here.
                let mut meta = account.meta.clone();
                meta.extend(
                    matched
                        .meta
                        .iter()
                        .filter(|(key, _)| is_secret_fact(key))
                        .map(|(key, value)| (key.clone(), value.clone())),
                );
                self.conn
                    .execute(
                        "UPDATE accounts SET priority = ?1, enabled = ?2,
                                email = COALESCE(?3, email), meta = ?4
                         WHERE id = ?5",
                        params![
                            account.priority,
                            account.enabled,
                            account.email,
                            self.sealed_facts(&meta),
                            matched.id
                        ],
                    )
                    .map_err(StoreError::from)?;
                report.updated.push(item.clone());
                matched.id
            }
            (None, None) => {
                let how = match account.auth {
                    AuthKind::ApiKey => format!(
                        "add it with `switchyard account add {} --label {} --api-key-stdin`",
                        entry.prefix, account.label
                    ),
                    AuthKind::Oauth => match &entry.subscription {
                        Some(service) => {
                            format!("log in again with `switchyard connect {service}`")
                        }
                        None => "log in again".to_owned(),
                    },
                };
                report.skipped.push(skip(
                    item,
                    format!("the document holds no key or token for it (exported without secrets); {how}"),
                ));
                for limit in &account.quota_limits {
                    report.skipped.push(skip(
                        quota_item(&entry.prefix, &account.label, limit),
                        "its account was not imported",
                    ));
                }
                return Ok(());
            }
        };
        for limit in &account.quota_limits {
            let existed = limits.iter().any(|l| {
                l.account_id == account_id && l.window == limit.window && l.metric == limit.metric
            });
            self.set_quota_limit(&QuotaLimit {
                account_id,
                window: limit.window,
                metric: limit.metric,
                max: limit.max,
            })?;
            let item = quota_item(&entry.prefix, &label, limit);
            if existed {
                report.updated.push(item);
            } else {
                report.added.push(item);
            }
        }
        Ok(())
    }

    /// Account facts as stored: JSON with the secret entries sealed.
    fn sealed_facts(&self, meta: &Map<String, Value>) -> String {
        let sealed: Map<_, _> = meta
            .iter()
            .map(|(key, value)| match value {
                Value::String(secret) if is_secret_fact(key) => {
                    (key.clone(), self.secrets.seal(secret).into())
                }
                _ => (key.clone(), value.clone()),
            })
            .collect();
        Value::Object(sealed).to_string()
    }
}

/// The secret stored in `accounts.api_key`: the key, or the access token.
fn secret_of(auth: AuthKind, secrets: &AccountSecrets) -> &str {
    match auth {
        AuthKind::ApiKey => secrets.api_key.as_deref(),
        AuthKind::Oauth => secrets.access_token.as_deref(),
    }
    .unwrap_or_default()
}

fn quota_item(prefix: &str, label: &str, limit: &QuotaLimitEntry) -> String {
    format!(
        "quota limit {prefix}/{label} {} {}",
        limit.window.as_str(),
        limit.metric.as_str()
    )
}

fn skip(item: impl Into<String>, reason: impl Into<String>) -> TransferSkip {
    TransferSkip {
        item: item.into(),
        reason: reason.into(),
    }
}

/// Where in a 9router data directory its database is: the SQLite file of
/// later versions first, then the lowdb JSON file.
pub const NINE_ROUTER_FILES: [&str; 2] = ["db/data.sqlite", "db.json"];

/// Reads a 9router installation's configuration into the shape of its
/// `db.json` (`providerConnections`, `providerNodes`, `combos`,
/// `modelAliases`, `customModels`, `apiKeys`, `settings`, `pricing`, ...).
///
/// `path` may be the data directory (`~/.9router`), its lowdb `db.json`, a
/// backup exported from 9router's dashboard (the same JSON), or the SQLite
/// `db/data.sqlite` of later versions, which is opened read-only. Rows whose
/// data 9router stored encrypted carry `"__encrypted": true` instead of their
/// fields.
pub fn read_9router(path: &Path) -> Result<Value, TransferError> {
    let file = if path.is_dir() {
        NINE_ROUTER_FILES
            .iter()
            .map(|name| path.join(name))
            .find(|candidate| candidate.is_file())
            .ok_or_else(|| {
                invalid(format!(
                    "no 9router database in {} (looked for {})",
                    path.display(),
                    NINE_ROUTER_FILES.join(" and ")
                ))
            })?
    } else {
        path.to_owned()
    };
    let unreadable =
        |error: std::io::Error| invalid(format!("cannot read {}: {error}", file.display()));
    let bytes = std::fs::read(&file).map_err(unreadable)?;
    let data = if bytes.starts_with(b"SQLite format 3\0") {
        read_9router_sqlite(&file)?
    } else {
        serde_json::from_slice::<Value>(&bytes).map_err(|error| {
            invalid(format!(
                "{} is neither a 9router SQLite database nor JSON (line {}, column {})",
                file.display(),
                error.line(),
                error.column()
            ))
        })?
    };
    let looks_right = data.as_object().is_some_and(|object| {
        object.contains_key("providerConnections") || object.contains_key("settings")
    });
    if !looks_right {
        return Err(invalid(format!(
            "{} does not look like a 9router database (no providerConnections)",
            file.display()
        )));
    }
    Ok(data)
}

/// Reads 9router's SQLite schema (tables `providerConnections`,
/// `providerNodes`, `combos`, `apiKeys`, `settings` and the `kv` scopes
/// `modelAliases`, `customModels`, `mitmAlias`, `pricing`) back into the
/// `db.json` shape: each row's columns merged with its JSON `data` column,
/// as 9router itself reads them.
fn read_9router_sqlite(file: &Path) -> Result<Value, TransferError> {
    let conn = rusqlite::Connection::open_with_flags(
        file,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|error| invalid(format!("cannot open {}: {error}", file.display())))?;
    let failed =
        |error: rusqlite::Error| invalid(format!("cannot read {}: {error}", file.display()));
    let tables: HashSet<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut statement| {
            statement
                .query_map([], |row| row.get(0))?
                .collect::<Result<_, _>>()
        })
        .map_err(failed)?;
    let mut data = Map::new();
    for (table, key) in [
        ("providerConnections", "providerConnections"),
        ("providerNodes", "providerNodes"),
        ("proxyPools", "proxyPools"),
        ("combos", "combos"),
        ("apiKeys", "apiKeys"),
    ] {
        let rows = if tables.contains(table) {
            sqlite_rows(&conn, table).map_err(failed)?
        } else {
            Vec::new()
        };
        data.insert(key.into(), Value::Array(rows));
    }
    let mut settings = Map::new();
    if tables.contains("settings") {
        use rusqlite::OptionalExtension as _;
        let stored: Option<String> = conn
            .query_row("SELECT data FROM settings ORDER BY id LIMIT 1", [], |row| {
                row.get(0)
            })
            .optional()
            .map_err(failed)?;
        match stored.as_deref().map(serde_json::from_str::<Value>) {
            Some(Ok(Value::Object(object))) => settings = object,
            Some(_) => {
                settings.insert("__encrypted".into(), Value::Bool(true));
            }
            None => {}
        }
    }
    data.insert("settings".into(), Value::Object(settings));
    for scope in ["modelAliases", "mitmAlias", "pricing", "customModels"] {
        let mut entries = Map::new();
        if tables.contains("kv") {
            let mut statement = conn
                .prepare("SELECT key, value FROM kv WHERE scope = ?1 ORDER BY rowid")
                .map_err(failed)?;
            let rows = statement
                .query_map([scope], |row| {
                    Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
                })
                .map_err(failed)?;
            for row in rows {
                let (key, value) = row.map_err(failed)?;
                let value = serde_json::from_str(&value).unwrap_or(Value::String(value));
                entries.insert(key, value);
            }
        }
        let value = if scope == "customModels" {
            Value::Array(entries.into_iter().map(|(_, value)| value).collect())
        } else {
            Value::Object(entries)
        };
        data.insert(scope.into(), value);
    }
    Ok(Value::Object(data))
}

/// Every row of `table` as a JSON object: its columns, plus the fields of
/// its `data` column (JSON) and a parsed `models` column (combos).
fn sqlite_rows(conn: &rusqlite::Connection, table: &str) -> rusqlite::Result<Vec<Value>> {
    // `table` comes from a fixed list, never from the file.
    let mut statement = conn.prepare(&format!("SELECT * FROM \"{table}\" ORDER BY rowid"))?;
    let columns: Vec<String> = statement
        .column_names()
        .into_iter()
        .map(str::to_owned)
        .collect();
    let rows = statement.query_map([], |row| {
        let mut object = Map::new();
        let mut extra = None;
        for (index, column) in columns.iter().enumerate() {
            let value = match row.get_ref(index)? {
                rusqlite::types::ValueRef::Null => Value::Null,
                rusqlite::types::ValueRef::Integer(number) => Value::from(number),
                rusqlite::types::ValueRef::Real(number) => Value::from(number),
                rusqlite::types::ValueRef::Text(text) | rusqlite::types::ValueRef::Blob(text) => {
                    Value::String(String::from_utf8_lossy(text).into_owned())
                }
            };
            match (column.as_str(), value) {
                ("data", Value::String(text)) => extra = Some(text),
                ("models", Value::String(text)) => {
                    let parsed = serde_json::from_str(&text).unwrap_or(Value::String(text));
                    object.insert(column.clone(), parsed);
                }
                ("isActive", Value::Number(number)) => {
                    object.insert(column.clone(), Value::Bool(number.as_i64() != Some(0)));
                }
                (_, value) => {
                    object.insert(column.clone(), value);
                }
            }
        }
        if let Some(text) = extra {
            match serde_json::from_str::<Value>(&text) {
                Ok(Value::Object(fields)) => {
                    // The columns win, as in 9router's own row mapping.
                    for (key, value) in fields {
                        object.entry(key).or_insert(value);
                    }
                }
                _ => {
                    object.insert("__encrypted".into(), Value::Bool(true));
                }
            }
        }
        Ok(Value::Object(object))
    })?;
    rows.collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{NewProvider, OAuthTokens};

    const SECRETS: [&str; 5] = [
        "sk-transfer-key-one",
        "sk-transfer-key-two",
        "oauth-access-token-xyz",
        "oauth-refresh-token-xyz",
        "registered-client-secret",
    ];

    /// A store with two API-key accounts, an OAuth account with a secret
    /// fact, a quota limit, a combo, an alias, a price and settings.
    fn populated() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_in_dir(dir.path()).unwrap();
        let openai = store
            .add_provider(&NewProvider {
                name: "OpenAI".into(),
                kind: ProviderKind::OpenaiCompatible,
                prefix: "oa".into(),
                base_url: "https://api.openai.example/v1".into(),
                api_key: SECRETS[0].into(),
                models: vec!["gpt-x".into()],
                enabled: true,
            })
            .unwrap();
        let work = store.add_account(openai.id, "work", SECRETS[1], 3).unwrap();
        store.set_account_enabled(work.id, false).unwrap();
        store
            .set_account_strategy("oa", Some(AccountStrategy::RoundRobin))
            .unwrap();
        store
            .set_quota_limit(&QuotaLimit {
                account_id: work.id,
                window: QuotaWindow::Day,
                metric: QuotaMetric::Requests,
                max: 100,
            })
            .unwrap();
        let kiro = store
            .add_subscription_provider(
                "Kiro",
                ProviderKind::Kiro,
                "kr",
                "https://kiro.example",
                &["claude-sonnet-4.5".into()],
                "kiro",
            )
            .unwrap();
        let mut meta = Map::new();
        meta.insert("client_id".into(), "client-1".into());
        meta.insert("client_secret".into(), SECRETS[4].into());
        store
            .save_oauth_account(
                kiro.id,
                "me@example.com",
                &OAuthTokens {
                    access_token: SECRETS[2].into(),
                    refresh_token: Some(SECRETS[3].into()),
                    expires_at: Some(1_800_000_000_000),
                },
                Some("me@example.com"),
                &meta,
            )
            .unwrap();
        store
            .add_combo(
                "fast",
                ComboStrategy::Weighted,
                &[
                    ComboTarget {
                        target: "oa/gpt-x".into(),
                        weight: 3,
                        enabled: true,
                    },
                    ComboTarget {
                        target: "kr/claude-sonnet-4.5".into(),
                        weight: 1,
                        enabled: false,
                    },
                ],
            )
            .unwrap();
        store.add_alias("x", "oa/gpt-x").unwrap();
        store
            .set_price(&Price {
                model: "oa/gpt-x".into(),
                input_per_mtok: 1.5,
                output_per_mtok: 6.0,
                cache_read_per_mtok: Some(0.5),
                cache_write_per_mtok: None,
                per_image: None,
                per_audio_second: None,
            })
            .unwrap();
        store.set_setting("sticky_limit", "7").unwrap();
        store.create_api_key("client").unwrap();
        (dir, store)
    }

    fn empty() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        (dir, store)
    }

    #[test]
    fn a_renamed_login_arrives_as_an_addition_and_a_removal() {
        let (_dir, store) = populated();
        let records = store.sync_records().unwrap();
        let (old, body) = records
            .iter()
            .find(|(record, _)| {
                record.kind == crate::RecordKind::Account && record.name.starts_with("kr/")
            })
            .unwrap();
        let mut renamed = body.clone();
        renamed["label"] = "renamed".into();
        let new = crate::RecordKey::new(crate::RecordKind::Account, "kr/renamed");
        // The same e-mail must not make the new label update the old row.
        store.apply_sync_record(&new, Some(&renamed)).unwrap();
        let now = store.sync_records().unwrap();
        assert!(
            now.contains_key(old) && now.contains_key(&new),
            "{:?}",
            now.keys()
        );
        store.apply_sync_record(old, None).unwrap();
        let now = store.sync_records().unwrap();
        assert!(!now.contains_key(old) && now.contains_key(&new));
        assert_eq!(now[&new]["secrets"], body["secrets"]);
    }

    #[test]
    fn sync_records_applied_one_by_one_rebuild_the_same_configuration() {
        let (_dir, source) = populated();
        let key = source.create_api_key("laptop").unwrap();
        let key_id = source.verify_api_key(&key.key).unwrap().unwrap();
        source
            .set_api_key_policy(key_id, Some("alice"), None, &["oa/*".into()])
            .unwrap();
        let records = source.sync_records().unwrap();
        let kinds: HashSet<_> = records.keys().map(|record| record.kind).collect();
        assert_eq!(kinds.len(), crate::RecordKind::ALL.len(), "{kinds:?}");
        let target_dir = tempfile::tempdir().unwrap();
        let target = Store::open_in_dir(target_dir.path()).unwrap();
        for (record, body) in &records {
            target.apply_sync_record(record, Some(body)).unwrap();
        }
        assert_eq!(target.sync_records().unwrap(), records);
        // The key works on the target (only its hash travelled).
        assert!(target.verify_api_key(&key.key).unwrap().is_some());
        // Applying again changes nothing; removing takes each away.
        for (record, body) in &records {
            target.apply_sync_record(record, Some(body)).unwrap();
        }
        assert_eq!(target.sync_records().unwrap(), records);
        let combo = crate::RecordKey::new(crate::RecordKind::Combo, "fast");
        target.apply_sync_record(&combo, None).unwrap();
        assert!(target.combo_by_name("fast").unwrap().is_none());
        let account = records
            .keys()
            .find(|record| {
                record.kind == crate::RecordKind::Account && record.name.starts_with("kr/")
            })
            .unwrap()
            .clone();
        target.apply_sync_record(&account, None).unwrap();
        assert!(!target.sync_records().unwrap().contains_key(&account));
        // A record of the wrong shape is refused and changes nothing.
        let before = target.sync_records().unwrap();
        let provider = crate::RecordKey::new(crate::RecordKind::Provider, "oa");
        assert!(
            target
                .apply_sync_record(&provider, Some(&serde_json::json!({"name": 3})))
                .is_err()
        );
        assert_eq!(target.sync_records().unwrap(), before);
    }

    #[test]
    fn export_import_export_round_trips_with_working_keys() {
        let (_dir, store) = populated();
        let document = store.export_config(true).unwrap();
        let json = document.to_json();
        for secret in SECRETS {
            assert!(json.contains(secret), "{secret} missing from the export");
        }
        assert!(!json.contains("key_hash") && !json.contains("client_api_keys"));

        let (target_dir, target) = empty();
        let report = target
            .import_config(
                &ConfigDocument::from_json(&json).unwrap(),
                ImportOptions::default(),
            )
            .unwrap();
        assert!(report.skipped.is_empty(), "{report:?}");
        assert!(report.updated.is_empty(), "{report:?}");
        assert!(
            report
                .added
                .contains(&"account kr/me@example.com".to_owned())
        );
        assert!(
            report
                .added
                .contains(&"quota limit oa/work day requests".to_owned())
        );
        assert_eq!(target.export_config(true).unwrap(), document);

        let account = target.find_account("kr/me@example.com").unwrap();
        assert_eq!(account.api_key, SECRETS[2]);
        assert_eq!(account.refresh_token.as_deref(), Some(SECRETS[3]));
        assert_eq!(account.meta["client_secret"], SECRETS[4]);
        assert_eq!(target.find_account("oa/work").unwrap().api_key, SECRETS[1]);
        assert!(target.list_api_keys().unwrap().is_empty());
        drop(target);
        let bytes = crate::test_database::stored_bytes(target_dir.path());
        let text = String::from_utf8_lossy(&bytes);
        for secret in SECRETS {
            assert!(!text.contains(secret), "{secret} stored unsealed");
        }
    }

    #[test]
    fn without_secrets_no_secret_appears_and_new_accounts_are_skipped_with_a_reason() {
        let (_dir, store) = populated();
        let json = store.export_config(false).unwrap().to_json();
        for secret in SECRETS {
            assert!(!json.contains(secret), "{secret} leaked into {json}");
        }
        assert!(!json.contains("\"secrets\""));
        assert!(json.contains("client-1"), "public facts are kept");

        let (_target_dir, target) = empty();
        let report = target
            .import_config(
                &ConfigDocument::from_json(&json).unwrap(),
                ImportOptions::default(),
            )
            .unwrap();
        let skipped: Vec<_> = report.skipped.iter().map(|s| s.item.as_str()).collect();
        assert_eq!(
            skipped,
            [
                "account kr/me@example.com",
                "account oa/default",
                "account oa/work",
                "quota limit oa/work day requests"
            ]
        );
        assert!(report.skipped[0].reason.contains("switchyard connect kiro"));
        assert!(
            report.skipped[1]
                .reason
                .contains("switchyard account add oa --label default")
        );
        assert!(target.list_accounts().unwrap().is_empty());
        assert_eq!(target.list_providers().unwrap().len(), 2);
        assert_eq!(target.list_combos().unwrap().len(), 1);
    }

    #[test]
    fn a_document_without_secrets_updates_accounts_and_keeps_their_keys() {
        let (_dir, store) = populated();
        let mut document = store.export_config(false).unwrap();
        document.providers[1].accounts[1].priority = 9;
        document.providers[1].models.push("gpt-y".into());
        document.settings.insert("sticky_limit".into(), "2".into());
        let report = store
            .import_config(&document, ImportOptions::default())
            .unwrap();
        assert!(report.added.is_empty(), "{report:?}");
        assert!(report.skipped.is_empty(), "{report:?}");
        let work = store.find_account("oa/work").unwrap();
        assert_eq!((work.priority, work.api_key.as_str()), (9, SECRETS[1]));
        let kiro = store.find_account("kr/me@example.com").unwrap();
        assert_eq!(kiro.meta["client_secret"], SECRETS[4]);
        assert_eq!(kiro.refresh_token.as_deref(), Some(SECRETS[3]));
        assert_eq!(
            store.find_provider("oa").unwrap().models,
            ["gpt-x", "gpt-y"]
        );
        assert_eq!(store.setting("sticky_limit").unwrap().as_deref(), Some("2"));
    }

    #[test]
    fn an_oauth_account_is_matched_by_email_under_another_label() {
        let (_dir, store) = populated();
        let mut document = store.export_config(true).unwrap();
        document.providers[0].accounts[0].label = "renamed".into();
        document.providers[0].accounts[0]
            .secrets
            .as_mut()
            .unwrap()
            .access_token = Some("newer-token".into());
        let report = store
            .import_config(&document, ImportOptions::default())
            .unwrap();
        assert!(
            report
                .updated
                .contains(&"account kr/me@example.com".to_owned())
        );
        let kiro = store.find_account("kr/me@example.com").unwrap();
        assert_eq!(kiro.api_key, "newer-token");
        assert_eq!(store.list_accounts().unwrap().len(), 3);
    }

    #[test]
    fn bad_documents_are_refused_whole_and_dry_runs_write_nothing() {
        let (_dir, store) = populated();
        let good = store.export_config(true).unwrap();
        let (_target_dir, target) = empty();

        for (text, expected) in [
            ("not json", "not JSON"),
            (r#"{"providerConnections": []}"#, "import-9router"),
            (
                r#"{"format": "switchyard-config", "version": 2}"#,
                "newer Switchyard",
            ),
            (
                r#"{"format": "switchyard-config"}"#,
                "no known configuration version",
            ),
            (
                r#"{"format": "switchyard-config", "version": 1, "providers": [{"name": "A", "kind": "carrier-pigeon", "prefix": "a", "base_url": "https://a", "accounts": []}]}"#,
                "malformed",
            ),
        ] {
            let error = ConfigDocument::from_json(text).unwrap_err();
            assert!(error.to_string().contains(expected), "{text}: {error}");
        }

        // The providers are fine, a late combo is not: nothing is written.
        let mut bad = good.clone();
        bad.combos.push(ComboEntry {
            name: "a/b".into(),
            strategy: ComboStrategy::Fallback,
            targets: vec![ComboTarget::new("oa/gpt-x")],
        });
        assert!(
            target
                .import_config(&bad, ImportOptions::default())
                .is_err()
        );
        // A setting the checker refuses fails the import too.
        let refuse = |_: &str, _: &str| Err("not a number".to_owned());
        let options = ImportOptions {
            dry_run: false,
            check_setting: Some(&refuse),
        };
        assert!(target.import_config(&good, options).is_err());
        assert!(target.list_providers().unwrap().is_empty());

        let dry = target
            .import_config(
                &good,
                ImportOptions {
                    dry_run: true,
                    check_setting: None,
                },
            )
            .unwrap();
        assert!(dry.dry_run && dry.added.len() > 5, "{dry:?}");
        assert!(target.list_providers().unwrap().is_empty());
        assert!(target.list_settings().unwrap().is_empty());
    }

    #[test]
    fn conflicting_names_are_skipped_with_reasons() {
        let (_dir, store) = populated();
        let document = store.export_config(true).unwrap();
        let (_target_dir, mut target) = empty();
        target
            .add_provider(&NewProvider {
                name: "OpenAI".into(),
                kind: ProviderKind::OpenaiCompatible,
                prefix: "other".into(),
                base_url: "https://elsewhere.example/v1".into(),
                api_key: "sk-mine".into(),
                models: vec![],
                enabled: true,
            })
            .unwrap();
        target
            .add_combo("x", ComboStrategy::Fallback, &[ComboTarget::new("other/m")])
            .unwrap();
        target
            .set_setting("internal.secret_key_location", "file")
            .unwrap();
        let mut document = document;
        document
            .settings
            .insert("internal.secret_key_location".into(), "keychain".into());
        let report = target
            .import_config(&document, ImportOptions::default())
            .unwrap();
        let skipped: Vec<_> = report.skipped.iter().map(|s| s.item.as_str()).collect();
        assert_eq!(
            skipped,
            [
                "setting internal.secret_key_location",
                "provider oa",
                "alias x"
            ]
        );
        assert!(
            report.skipped[1]
                .reason
                .contains("already named \"OpenAI\"")
        );
        assert_eq!(
            target
                .setting("internal.secret_key_location")
                .unwrap()
                .as_deref(),
            Some("file")
        );
    }

    #[test]
    fn client_keys_from_another_router_work_once_imported() {
        let (_dir, store) = empty();
        let document = ConfigDocument {
            client_api_keys: vec![ClientKeyEntry {
                name: "laptop".into(),
                key: "sk-0123456789abcdef-abc123-deadbeef".into(),
            }],
            ..ConfigDocument::default()
        };
        let report = store
            .import_config(&document, ImportOptions::default())
            .unwrap();
        assert_eq!(report.added, ["API key laptop"]);
        assert!(
            store
                .verify_api_key("sk-0123456789abcdef-abc123-deadbeef")
                .unwrap()
                .is_some()
        );
        assert_eq!(store.list_api_keys().unwrap()[0].hint, "sk-0123…");
        let again = store
            .import_config(&document, ImportOptions::default())
            .unwrap();
        assert_eq!(again.skipped[0].item, "API key laptop");
        assert!(!format!("{document:?}").contains("deadbeef"));
    }

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/9router")
            .join(name)
    }

    #[test]
    fn nine_router_json_and_sqlite_read_into_one_shape() {
        let json = read_9router(&fixture("db.json")).unwrap();
        assert_eq!(json["providerConnections"].as_array().unwrap().len(), 15);
        assert_eq!(json["modelAliases"]["opus"], "cc/claude-opus-4-5");

        let dir = tempfile::tempdir().unwrap();
        let data_dir = dir.path().join(".9router");
        std::fs::create_dir_all(data_dir.join("db")).unwrap();
        let conn = rusqlite::Connection::open(data_dir.join("db/data.sqlite")).unwrap();
        conn.execute_batch(&std::fs::read_to_string(fixture("data.sqlite.sql")).unwrap())
            .unwrap();
        drop(conn);
        // A directory is searched; the SQLite file wins over a stale db.json.
        std::fs::write(data_dir.join("db.json"), "{}").unwrap();
        let sqlite = read_9router(&data_dir).unwrap();
        let connections = sqlite["providerConnections"].as_array().unwrap();
        let claude = &connections[0];
        assert_eq!(claude["provider"], "claude");
        assert_eq!(claude["isActive"], true);
        assert_eq!(claude["refreshToken"], "sk-ant-ort01-FAKE-sqlite-refresh");
        assert_eq!(connections[1]["providerSpecificData"]["prefix"], "myllm");
        assert_eq!(connections[3]["__encrypted"], true);
        assert_eq!(
            sqlite["combos"][0]["models"][1],
            "openai-compatible-responses-2d8e4c6a-0b1f-4a3c-9e5d-7f1a3b5c9e10/qwen3-coder"
        );
        assert_eq!(sqlite["modelAliases"]["opus"], "cc/claude-opus-4-5");
        assert_eq!(sqlite["pricing"]["openai"]["gpt-4.1"]["input"], 2.5);
        assert_eq!(sqlite["settings"]["fallbackStrategy"], "round-robin");
        assert_eq!(sqlite["apiKeys"][0]["isActive"], true);

        assert!(read_9router(dir.path()).is_err());
        std::fs::write(dir.path().join("other.json"), r#"{"hello": 1}"#).unwrap();
        let error = read_9router(&dir.path().join("other.json")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("does not look like a 9router database")
        );
    }
}
