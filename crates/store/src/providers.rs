//! Provider connections: an upstream account the gateway forwards requests to.

use crate::db::{OptionalExtension, Row, params};
use serde::{Deserialize, Serialize};

pub use switchyard_protocol::ProviderKind;

use crate::{Store, StoreError, StoreResult, conflict_on_unique, now_millis};

/// A stored provider: an upstream API with one or more accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Provider {
    /// Database id.
    pub id: i64,
    /// Unique display name.
    pub name: String,
    /// Wire format and auth style.
    pub kind: ProviderKind,
    /// Unique model prefix: clients ask for `<prefix>/<model>`.
    pub prefix: String,
    /// Base URL of the API, such as `https://api.openai.com/v1` (no trailing slash).
    pub base_url: String,
    /// Upstream model ids advertised in `/v1/models`.
    pub models: Vec<String>,
    /// Disabled providers are neither listed nor routed to.
    pub enabled: bool,
    /// How requests pick among the accounts; `None` follows the global setting.
    pub account_strategy: Option<AccountStrategy>,
    /// The subscription service (`claude-code`, `codex`, ...) whose
    /// conventions requests follow; `None` for plain API-key providers.
    pub subscription: Option<String>,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
}

/// How a request picks among a provider's accounts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccountStrategy {
    /// Always the enabled, available account with the lowest priority number.
    Priority,
    /// A different account for each request, in turn.
    RoundRobin,
    /// The same account for a few requests (setting `sticky_limit`), then the next.
    Sticky,
}

impl AccountStrategy {
    /// Name stored in the database and typed by users.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Priority => "priority",
            Self::RoundRobin => "round-robin",
            Self::Sticky => "sticky",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "priority" => Ok(Self::Priority),
            "round-robin" => Ok(Self::RoundRobin),
            "sticky" => Ok(Self::Sticky),
            other => Err(format!(
                "unknown account strategy {other:?}; use priority, round-robin or sticky"
            )),
        }
    }
}

/// What is needed to add a provider connection.
#[derive(Clone)]
pub struct NewProvider {
    /// Unique display name.
    pub name: String,
    /// Wire format and auth style.
    pub kind: ProviderKind,
    /// Unique model prefix.
    pub prefix: String,
    /// Base URL of the API.
    pub base_url: String,
    /// API key of the provider's first account (labelled `default`).
    pub api_key: String,
    /// Upstream model ids to advertise.
    pub models: Vec<String>,
    /// Whether the connection starts enabled.
    pub enabled: bool,
}

const PROVIDER_COLUMNS: &str =
    "id, name, kind, prefix, base_url, account_strategy, models, enabled, created_at, subscription";

type ProviderRow = (Provider, String, String, Option<String>);

fn provider_from_row(row: &Row) -> crate::db::DbResult<ProviderRow> {
    let kind: String = row.get(2)?;
    let models: String = row.get(6)?;
    Ok((
        Provider {
            id: row.get(0)?,
            name: row.get(1)?,
            kind: ProviderKind::OpenaiCompatible,
            prefix: row.get(3)?,
            base_url: row.get(4)?,
            models: Vec::new(),
            enabled: row.get(7)?,
            account_strategy: None,
            created_at: row.get(8)?,
            subscription: row.get(9)?,
        },
        kind,
        models,
        row.get(5)?,
    ))
}

/// Finishes decoding the columns that need more than SQLite's types.
fn decode_provider((mut provider, kind, models, strategy): ProviderRow) -> StoreResult<Provider> {
    provider.kind = ProviderKind::parse(&kind)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown provider kind {kind:?}")))?;
    provider.account_strategy = strategy
        .map(|strategy| AccountStrategy::parse(&strategy))
        .transpose()
        .map_err(StoreError::Corrupt)?;
    provider.models = serde_json::from_str(&models)
        .map_err(|error| StoreError::Corrupt(format!("models of {}: {error}", provider.name)))?;
    Ok(provider)
}

impl Store {
    /// Adds a provider with one account labelled `default`; names and
    /// prefixes must be unique.
    pub fn add_provider(&mut self, new: &NewProvider) -> StoreResult<Provider> {
        let models = serde_json::to_string(&new.models)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let transaction = self.conn.transaction()?;
        let now = now_millis();
        transaction
            .execute(
                "INSERT INTO providers (name, kind, prefix, base_url, models, enabled, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                params![
                    new.name,
                    new.kind.as_str(),
                    new.prefix,
                    new.base_url,
                    models,
                    new.enabled,
                    now
                ],
            )
            .map_err(|error| {
                conflict_on_unique(error, || {
                    format!(
                        "a provider named {:?} or with prefix {:?} already exists",
                        new.name, new.prefix
                    )
                })
            })?;
        let id = transaction.last_insert_rowid()?;
        transaction.execute(
            "INSERT INTO accounts (provider_id, label, api_key, priority, enabled, created_at)
             VALUES (?1, 'default', ?2, 0, 1, ?3)",
            params![id, self.secrets.seal(&new.api_key), now],
        )?;
        transaction.commit()?;
        self.provider_where("id = ?1", id)?
            .ok_or_else(|| StoreError::NotFound(format!("provider {id}")))
    }

    /// All provider connections, ordered by name.
    pub fn list_providers(&self) -> StoreResult<Vec<Provider>> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM providers ORDER BY name"
        ))?;
        let rows = statement.query_map(params![], provider_from_row)?;
        rows.map(|row| decode_provider(row?)).collect()
    }

    /// The provider with this prefix, enabled or not.
    pub fn provider_by_prefix(&self, prefix: &str) -> StoreResult<Option<Provider>> {
        self.provider_where("prefix = ?1", prefix)
    }

    /// The provider whose name (or, failing that, prefix) is `name_or_prefix`.
    pub fn find_provider(&self, name_or_prefix: &str) -> StoreResult<Provider> {
        match self.provider_where("name = ?1", name_or_prefix)? {
            Some(provider) => Ok(provider),
            None => self
                .provider_where("prefix = ?1", name_or_prefix)?
                .ok_or_else(|| StoreError::NotFound(format!("provider {name_or_prefix:?}"))),
        }
    }

    /// Enables or disables a provider; returns it as updated.
    pub fn set_provider_enabled(
        &self,
        name_or_prefix: &str,
        enabled: bool,
    ) -> StoreResult<Provider> {
        let provider = self.find_provider(name_or_prefix)?;
        self.conn.execute(
            "UPDATE providers SET enabled = ?1 WHERE id = ?2",
            params![enabled, provider.id],
        )?;
        Ok(Provider {
            enabled,
            ..provider
        })
    }

    /// Replaces a provider's model list; returns it as updated.
    pub fn set_provider_models(
        &self,
        name_or_prefix: &str,
        models: &[String],
    ) -> StoreResult<Provider> {
        let provider = self.find_provider(name_or_prefix)?;
        let encoded = serde_json::to_string(models)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        self.conn.execute(
            "UPDATE providers SET models = ?1 WHERE id = ?2",
            params![encoded, provider.id],
        )?;
        Ok(Provider {
            models: models.to_vec(),
            ..provider
        })
    }

    /// Sets (or with `None` clears) how the provider picks among its accounts.
    pub fn set_account_strategy(
        &self,
        name_or_prefix: &str,
        strategy: Option<AccountStrategy>,
    ) -> StoreResult<Provider> {
        let provider = self.find_provider(name_or_prefix)?;
        self.conn.execute(
            "UPDATE providers SET account_strategy = ?1 WHERE id = ?2",
            params![strategy.map(AccountStrategy::as_str), provider.id],
        )?;
        Ok(Provider {
            account_strategy: strategy,
            ..provider
        })
    }

    /// Adds a subscription service's provider, without accounts yet (its
    /// accounts come from logins).
    pub fn add_subscription_provider(
        &self,
        name: &str,
        kind: ProviderKind,
        prefix: &str,
        base_url: &str,
        models: &[String],
        subscription: &str,
    ) -> StoreResult<Provider> {
        let models = serde_json::to_string(models)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        self.conn
            .execute(
                "INSERT INTO providers (name, kind, prefix, base_url, models, enabled, created_at, subscription)
                 VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6, ?7)",
                params![name, kind.as_str(), prefix, base_url, models, now_millis(), subscription],
            )
            .map_err(|error| {
                conflict_on_unique(error, || {
                    format!("a provider named {name:?} or with prefix {prefix:?} already exists")
                })
            })?;
        let id = self.conn.last_insert_rowid()?;
        self.provider_where("id = ?1", id)?
            .ok_or_else(|| StoreError::NotFound(format!("provider {id}")))
    }

    /// Marks a provider as a subscription service's (or, with `None`, a plain one).
    pub fn set_subscription(
        &self,
        provider_id: i64,
        subscription: Option<&str>,
    ) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE providers SET subscription = ?1 WHERE id = ?2",
            params![subscription, provider_id],
        )?;
        Ok(())
    }

    /// Removes a provider and its accounts; its request history stays.
    pub fn remove_provider(&self, name_or_prefix: &str) -> StoreResult<Provider> {
        let provider = self.find_provider(name_or_prefix)?;
        self.conn
            .execute("DELETE FROM providers WHERE id = ?1", params![provider.id])?;
        Ok(provider)
    }

    fn provider_where(
        &self,
        condition: &str,
        value: impl crate::db::ToValue,
    ) -> StoreResult<Option<Provider>> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {PROVIDER_COLUMNS} FROM providers WHERE {condition}"
        ))?;
        statement
            .query_row([value], provider_from_row)
            .optional()?
            .map(decode_provider)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str, prefix: &str) -> NewProvider {
        NewProvider {
            name: name.into(),
            kind: ProviderKind::OpenaiCompatible,
            prefix: prefix.into(),
            base_url: "http://127.0.0.1:9/v1".into(),
            api_key: "sk-secret-value".into(),
            models: vec!["m1".into(), "m2".into()],
            enabled: true,
        }
    }

    #[test]
    fn add_list_toggle_remove() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_in_dir(dir.path()).unwrap();
        let added = store.add_provider(&sample("Mock", "mock")).unwrap();
        assert_eq!(added.models, vec!["m1", "m2"]);
        assert_eq!(store.list_providers().unwrap(), vec![added.clone()]);

        let disabled = store.set_provider_enabled("mock", false).unwrap();
        assert!(!disabled.enabled);
        assert!(!store.provider_by_prefix("mock").unwrap().unwrap().enabled);

        store.remove_provider("Mock").unwrap();
        assert!(store.list_providers().unwrap().is_empty());
        assert!(matches!(
            store.remove_provider("Mock"),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn duplicate_prefix_is_a_conflict_and_keeps_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_in_dir(dir.path()).unwrap();
        store.add_provider(&sample("A", "same")).unwrap();
        let error = store.add_provider(&sample("B", "same")).unwrap_err();
        assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
        assert_eq!(store.list_providers().unwrap().len(), 1);
    }

    #[test]
    fn data_survives_reopening() {
        let dir = tempfile::tempdir().unwrap();
        Store::open_in_dir(dir.path())
            .unwrap()
            .add_provider(&sample("A", "a"))
            .unwrap();
        let reopened = Store::open_in_dir(dir.path()).unwrap();
        let provider = reopened.find_provider("a").unwrap();
        assert_eq!(
            reopened.accounts_of(provider.id).unwrap()[0].api_key,
            "sk-secret-value"
        );
    }
}
