//! Accounts of a provider (several keys or subscriptions behind one prefix)
//! and their cooldowns, which survive a restart.

use crate::db::{OptionalExtension, Row, params};
use serde::Serialize;

use crate::{Store, StoreError, StoreResult, conflict_on_unique, now_millis};

/// One account of a provider. `Debug` and `Serialize` leave out the key.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    /// Database id.
    pub id: i64,
    /// The provider this account belongs to.
    pub provider_id: i64,
    /// Unique within the provider, e.g. `default` or `work`.
    pub label: String,
    /// Upstream API key, or an OAuth account's access token. Secret: never
    /// log or return it.
    #[serde(skip)]
    pub api_key: String,
    /// How the account authenticates.
    pub auth: AccountAuth,
    /// An OAuth account's refresh token. Secret.
    #[serde(skip)]
    pub refresh_token: Option<String>,
    /// When the access token expires, Unix milliseconds.
    pub expires_at: Option<i64>,
    /// A refresh failed for good: the user must log in again.
    pub needs_login: bool,
    /// Whose account it is, when the provider said.
    pub email: Option<String>,
    /// Provider-specific facts learnt at login (account ids, resource URLs).
    /// Entries named `*_secret` (a registered client's secret) are sealed at
    /// rest like the tokens and left out of `Serialize`.
    #[serde(serialize_with = "public_facts")]
    pub meta: serde_json::Map<String, serde_json::Value>,
    /// Lower goes first under the priority strategy.
    pub priority: i64,
    /// Disabled accounts are never routed to.
    pub enabled: bool,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
}

impl std::fmt::Debug for Account {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("provider_id", &self.provider_id)
            .field("label", &self.label)
            .field("api_key", &"<redacted>")
            .field("priority", &self.priority)
            .field("enabled", &self.enabled)
            .finish()
    }
}

/// How an account authenticates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountAuth {
    /// A static API key.
    ApiKey,
    /// OAuth tokens that the gateway refreshes.
    Oauth,
}

/// Tokens from a login or a refresh.
#[derive(Clone, PartialEq, Eq)]
pub struct OAuthTokens {
    /// The access token sent upstream.
    pub access_token: String,
    /// The refresh token, when the provider gave one.
    pub refresh_token: Option<String>,
    /// When the access token expires, Unix milliseconds.
    pub expires_at: Option<i64>,
}

impl std::fmt::Debug for OAuthTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuthTokens")
            .field("access_token", &"<redacted>")
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "<redacted>"),
            )
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// An account (or one model of it) that routing skips until `until`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cooldown {
    /// The account cooling down.
    pub account_id: i64,
    /// The upstream model locked out, or empty for the whole account.
    pub model: String,
    /// End of the cooldown, Unix milliseconds.
    pub until: i64,
    /// Consecutive failures so far (drives the back-off).
    pub failures: u32,
    /// Status of the failure that started it.
    pub status: u16,
    /// Why, in a few words (never a secret).
    pub reason: String,
}

/// Whether an account fact is a secret (sealed at rest, never serialized).
fn is_secret_fact(key: &str) -> bool {
    key.ends_with("_secret")
}

/// Serializes `meta` without its secret entries.
fn public_facts<S: serde::Serializer>(
    meta: &serde_json::Map<String, serde_json::Value>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    use serde::ser::SerializeMap;
    let mut map = serializer.serialize_map(None)?;
    for (key, value) in meta.iter().filter(|(key, _)| !is_secret_fact(key)) {
        map.serialize_entry(key, value)?;
    }
    map.end()
}

const ACCOUNT_COLUMNS: &str = "id, provider_id, label, api_key, priority, enabled, created_at,
     auth, refresh_token, expires_at, needs_login, email, meta";

fn account_from_row(row: &Row) -> crate::db::DbResult<Account> {
    let auth: String = row.get(7)?;
    let meta: String = row.get(12)?;
    Ok(Account {
        id: row.get(0)?,
        provider_id: row.get(1)?,
        label: row.get(2)?,
        api_key: row.get(3)?,
        priority: row.get(4)?,
        enabled: row.get(5)?,
        created_at: row.get(6)?,
        auth: if auth == "oauth" {
            AccountAuth::Oauth
        } else {
            AccountAuth::ApiKey
        },
        refresh_token: row.get(8)?,
        expires_at: row.get(9)?,
        needs_login: row.get(10)?,
        email: row.get(11)?,
        meta: serde_json::from_str(&meta).unwrap_or_default(),
    })
}

impl Store {
    /// Adds an account to the provider `provider_id`; labels are unique per provider.
    pub fn add_account(
        &self,
        provider_id: i64,
        label: &str,
        api_key: &str,
        priority: i64,
    ) -> StoreResult<Account> {
        self.conn
            .execute(
                "INSERT INTO accounts (provider_id, label, api_key, priority, enabled, created_at)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5)",
                params![
                    provider_id,
                    label,
                    self.secrets.seal(api_key),
                    priority,
                    now_millis()
                ],
            )
            .map_err(|error| {
                conflict_on_unique(error, || {
                    format!("this provider already has an account labelled {label:?}")
                })
            })?;
        let id = self.conn.last_insert_rowid()?;
        self.account(id)
    }

    /// The account with this id.
    pub fn account(&self, id: i64) -> StoreResult<Account> {
        let account = self
            .conn
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE id = ?1"
            ))?
            .query_row([id], account_from_row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("account {id}")))?;
        self.unseal(account)
    }

    /// Decrypts an account's secrets as read from the database.
    fn unseal(&self, mut account: Account) -> StoreResult<Account> {
        account.api_key = self.secrets.open(&account.api_key)?;
        for (key, value) in account.meta.iter_mut() {
            if is_secret_fact(key)
                && let serde_json::Value::String(sealed) = value
            {
                *sealed = self.secrets.open(sealed)?;
            }
        }
        account.refresh_token = account
            .refresh_token
            .map(|token| self.secrets.open(&token))
            .transpose()?;
        Ok(account)
    }

    /// Adds an OAuth account to a provider, or, when the provider already has
    /// an account of the same `email`, updates that one (a second login).
    pub fn save_oauth_account(
        &self,
        provider_id: i64,
        label: &str,
        tokens: &OAuthTokens,
        email: Option<&str>,
        meta: &serde_json::Map<String, serde_json::Value>,
    ) -> StoreResult<Account> {
        let existing = match email {
            Some(email) => self
                .accounts_of(provider_id)?
                .into_iter()
                .find(|account| account.email.as_deref() == Some(email)),
            None => None,
        };
        let meta = self.sealed_meta(meta);
        let refresh = tokens
            .refresh_token
            .as_deref()
            .map(|t| self.secrets.seal(t));
        let id = match existing {
            Some(account) => {
                self.conn.execute(
                    "UPDATE accounts SET api_key = ?1, refresh_token = ?2, expires_at = ?3,
                            needs_login = 0, meta = ?4, auth = 'oauth' WHERE id = ?5",
                    params![
                        self.secrets.seal(&tokens.access_token),
                        refresh,
                        tokens.expires_at,
                        meta,
                        account.id
                    ],
                )?;
                account.id
            }
            None => {
                self.conn
                    .execute(
                        "INSERT INTO accounts (provider_id, label, api_key, priority, enabled, created_at,
                                               auth, refresh_token, expires_at, email, meta)
                         VALUES (?1, ?2, ?3, 0, 1, ?4, 'oauth', ?5, ?6, ?7, ?8)",
                        params![
                            provider_id,
                            label,
                            self.secrets.seal(&tokens.access_token),
                            now_millis(),
                            refresh,
                            tokens.expires_at,
                            email,
                            meta
                        ],
                    )
                    .map_err(|error| {
                        conflict_on_unique(error, || {
                            format!("this provider already has an account labelled {label:?}")
                        })
                    })?;
                self.conn.last_insert_rowid()?
            }
        };
        self.account(id)
    }

    /// Takes the lease to refresh `account_id`'s tokens for `holder` until
    /// `until` (Unix milliseconds); `false` while another holder's lease runs.
    /// One holder at a time across every process on the database.
    pub fn take_refresh_lease(
        &self,
        account_id: i64,
        holder: &str,
        until: i64,
    ) -> StoreResult<bool> {
        let taken = self.conn.execute(
            "INSERT INTO refresh_leases (account_id, holder, until) VALUES (?1, ?2, ?3)
             ON CONFLICT (account_id) DO UPDATE SET holder = excluded.holder, until = excluded.until
             WHERE refresh_leases.until < ?4 OR refresh_leases.holder = excluded.holder",
            params![account_id, holder, until, now_millis()],
        )?;
        Ok(taken == 1)
    }

    /// Ends `holder`'s lease on `account_id` (after storing new tokens or failing).
    pub fn end_refresh_lease(&self, account_id: i64, holder: &str) -> StoreResult<()> {
        self.conn.execute(
            "DELETE FROM refresh_leases WHERE account_id = ?1 AND holder = ?2",
            params![account_id, holder],
        )?;
        Ok(())
    }

    /// Stores refreshed tokens (a rotated refresh token replaces the old one;
    /// `None` keeps it) and clears the re-login mark.
    pub fn update_tokens(&self, account_id: i64, tokens: &OAuthTokens) -> StoreResult<()> {
        let refresh = tokens
            .refresh_token
            .as_deref()
            .map(|t| self.secrets.seal(t));
        self.conn.execute(
            "UPDATE accounts SET api_key = ?1, refresh_token = COALESCE(?2, refresh_token),
                    expires_at = ?3, needs_login = 0 WHERE id = ?4",
            params![
                self.secrets.seal(&tokens.access_token),
                refresh,
                tokens.expires_at,
                account_id
            ],
        )?;
        Ok(())
    }

    /// Renames an account (labels are unique per provider).
    pub fn rename_account(&self, account_id: i64, label: &str) -> StoreResult<()> {
        let changed = self
            .conn
            .execute(
                "UPDATE accounts SET label = ?1 WHERE id = ?2",
                params![label, account_id],
            )
            .map_err(|error| {
                conflict_on_unique(error, || {
                    format!("this provider already has an account labelled {label:?}")
                })
            })?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("account {account_id}")));
        }
        Ok(())
    }

    /// Marks (or clears) that an account needs the user to log in again.
    pub fn set_needs_login(&self, account_id: i64, needs_login: bool) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE accounts SET needs_login = ?1 WHERE id = ?2",
            params![needs_login, account_id],
        )?;
        Ok(())
    }

    /// Replaces an account's provider-specific facts.
    pub fn set_account_meta(
        &self,
        account_id: i64,
        meta: &serde_json::Map<String, serde_json::Value>,
    ) -> StoreResult<()> {
        self.conn.execute(
            "UPDATE accounts SET meta = ?1 WHERE id = ?2",
            params![self.sealed_meta(meta), account_id],
        )?;
        Ok(())
    }

    /// `meta` as stored: JSON with its secret entries sealed.
    fn sealed_meta(&self, meta: &serde_json::Map<String, serde_json::Value>) -> String {
        let sealed: serde_json::Map<_, _> = meta
            .iter()
            .map(|(key, value)| match value {
                serde_json::Value::String(secret) if is_secret_fact(key) => {
                    (key.clone(), self.secrets.seal(secret).into())
                }
                _ => (key.clone(), value.clone()),
            })
            .collect();
        serde_json::Value::Object(sealed).to_string()
    }

    /// Seals secrets stored before encryption at rest (runs on open).
    pub(crate) fn seal_plaintext_secrets(&self) -> StoreResult<()> {
        let plaintext: Vec<(i64, String)> = self
            .conn
            .prepare("SELECT id, api_key FROM accounts WHERE api_key NOT LIKE 'enc:v1:%'")?
            .query_map(params![], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (id, secret) in plaintext {
            self.conn.execute(
                "UPDATE accounts SET api_key = ?1 WHERE id = ?2",
                params![self.secrets.seal(&secret), id],
            )?;
        }
        Ok(())
    }

    /// Every account of every provider, by provider, priority and id.
    pub fn list_accounts(&self) -> StoreResult<Vec<Account>> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts ORDER BY provider_id, priority, id"
        ))?;
        let rows = statement.query_map(params![], account_from_row)?;
        rows.map(|row| self.unseal(row?)).collect()
    }

    /// The accounts of one provider, by priority and id.
    pub fn accounts_of(&self, provider_id: i64) -> StoreResult<Vec<Account>> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE provider_id = ?1 ORDER BY priority, id"
        ))?;
        let rows = statement.query_map([provider_id], account_from_row)?;
        rows.map(|row| self.unseal(row?)).collect()
    }

    /// The account named `provider/label` (provider by name or prefix).
    pub fn find_account(&self, path: &str) -> StoreResult<Account> {
        let (provider, label) = path.rsplit_once('/').ok_or_else(|| {
            StoreError::NotFound(format!(
                "account {path:?} (name accounts as <provider>/<label>)"
            ))
        })?;
        let provider = self.find_provider(provider)?;
        self.conn
            .prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM accounts WHERE provider_id = ?1 AND label = ?2"
            ))?
            .query_row(params![provider.id, label], account_from_row)
            .optional()?
            .ok_or_else(|| StoreError::NotFound(format!("account {path:?}")))
            .and_then(|account| self.unseal(account))
    }

    /// Enables or disables an account.
    pub fn set_account_enabled(&self, id: i64, enabled: bool) -> StoreResult<Account> {
        self.conn.execute(
            "UPDATE accounts SET enabled = ?1 WHERE id = ?2",
            params![enabled, id],
        )?;
        self.account(id)
    }

    /// Changes an account's priority (lower goes first).
    pub fn set_account_priority(&self, id: i64, priority: i64) -> StoreResult<Account> {
        self.conn.execute(
            "UPDATE accounts SET priority = ?1 WHERE id = ?2",
            params![priority, id],
        )?;
        self.account(id)
    }

    /// Removes an account, unless it is its provider's last one.
    pub fn remove_account(&self, id: i64) -> StoreResult<Account> {
        let account = self.account(id)?;
        if self.accounts_of(account.provider_id)?.len() == 1 {
            return Err(StoreError::Conflict(format!(
                "{:?} is the provider's only account; remove the provider instead",
                account.label
            )));
        }
        self.conn
            .execute("DELETE FROM accounts WHERE id = ?1", [id])?;
        Ok(account)
    }

    /// Every stored cooldown, ended ones included.
    pub fn list_cooldowns(&self) -> StoreResult<Vec<Cooldown>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT account_id, model, until, failures, status, reason FROM cooldowns
             ORDER BY account_id, model",
        )?;
        let rows = statement.query_map(params![], |row| {
            Ok(Cooldown {
                account_id: row.get(0)?,
                model: row.get(1)?,
                until: row.get(2)?,
                failures: row.get(3)?,
                status: row.get(4)?,
                reason: row.get(5)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Stores (replacing) a cooldown.
    pub fn set_cooldown(&self, cooldown: &Cooldown) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO cooldowns (account_id, model, until, failures, status, reason)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (account_id, model) DO UPDATE SET until = excluded.until,
               failures = excluded.failures, status = excluded.status, reason = excluded.reason",
            params![
                cooldown.account_id,
                cooldown.model,
                cooldown.until,
                cooldown.failures,
                cooldown.status,
                cooldown.reason
            ],
        )?;
        Ok(())
    }

    /// Forgets one cooldown (after a successful probe).
    pub fn clear_cooldown(&self, account_id: i64, model: &str) -> StoreResult<()> {
        self.conn.execute(
            "DELETE FROM cooldowns WHERE account_id = ?1 AND model = ?2",
            params![account_id, model],
        )?;
        Ok(())
    }

    /// Forgets every cooldown of an account (the "reset cooldown" action);
    /// returns how many there were.
    pub fn reset_cooldowns(&self, account_id: i64) -> StoreResult<usize> {
        Ok(self
            .conn
            .execute("DELETE FROM cooldowns WHERE account_id = ?1", [account_id])?)
    }
}

#[cfg(test)]
mod tests {
    use crate::{NewProvider, Provider, ProviderKind, Store, StoreError};

    /// A store in a temporary directory with provider `p` whose first key is `key`.
    fn store_with_provider(key: &str) -> (tempfile::TempDir, Store, Provider) {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open_in_dir(dir.path()).unwrap();
        let provider = store
            .add_provider(&NewProvider {
                name: "P".into(),
                kind: ProviderKind::OpenaiCompatible,
                prefix: "p".into(),
                base_url: "http://127.0.0.1:9".into(),
                api_key: key.into(),
                models: vec![],
                enabled: true,
            })
            .unwrap();
        (dir, store, provider)
    }

    #[test]
    fn accounts_and_cooldowns_belong_to_their_provider() {
        let (_dir, store, provider) = store_with_provider("sk-first");
        let second = store
            .add_account(provider.id, "work", "sk-second", 5)
            .unwrap();
        assert!(matches!(
            store.add_account(provider.id, "work", "x", 0),
            Err(StoreError::Conflict(_))
        ));
        let labels: Vec<_> = store
            .accounts_of(provider.id)
            .unwrap()
            .into_iter()
            .map(|account| account.label)
            .collect();
        assert_eq!(labels, ["default", "work"]);
        assert_eq!(store.find_account("p/work").unwrap(), second);
        assert!(!format!("{second:?}").contains("sk-second"));
        assert!(
            !serde_json::to_string(&second)
                .unwrap()
                .contains("sk-second")
        );

        let cooldown = crate::Cooldown {
            account_id: second.id,
            model: String::new(),
            until: 42,
            failures: 2,
            status: 429,
            reason: "rate limited".into(),
        };
        store.set_cooldown(&cooldown).unwrap();
        assert_eq!(store.list_cooldowns().unwrap(), [cooldown]);
        assert_eq!(store.reset_cooldowns(second.id).unwrap(), 1);

        store.remove_account(second.id).unwrap();
        let only = store.accounts_of(provider.id).unwrap().remove(0);
        assert!(matches!(
            store.remove_account(only.id),
            Err(StoreError::Conflict(_))
        ));
        store.remove_provider("p").unwrap();
        assert!(store.list_accounts().unwrap().is_empty());
    }

    #[test]
    fn account_keys_are_sealed_in_the_file_and_legacy_ones_get_sealed_on_open() {
        let (dir, store, provider) = store_with_provider("sk-plain-secret-1");
        // A key written in plain text (as before encryption at rest).
        store
            .conn
            .execute(
                "INSERT INTO accounts (provider_id, label, api_key, created_at) VALUES (?1, 'old', 'sk-legacy-secret-2', 0)",
                [provider.id],
            )
            .unwrap();
        drop(store);
        let store = Store::open_in_dir(dir.path()).unwrap();
        let keys: Vec<_> = store
            .accounts_of(provider.id)
            .unwrap()
            .into_iter()
            .map(|account| account.api_key)
            .collect();
        assert_eq!(keys, ["sk-plain-secret-1", "sk-legacy-secret-2"]);
        drop(store);
        let bytes = crate::test_database::stored_bytes(dir.path());
        let text = String::from_utf8_lossy(&bytes);
        assert!(!text.contains("sk-plain-secret-1") && !text.contains("sk-legacy-secret-2"));
    }

    #[test]
    fn secret_facts_are_sealed_at_rest_and_never_serialized() {
        let (dir, store, provider) = store_with_provider("sk-1");
        let mut meta = serde_json::Map::new();
        meta.insert("client_id".into(), "cid-1".into());
        meta.insert("client_secret".into(), "very-secret-client".into());
        let tokens = super::OAuthTokens {
            access_token: "at".into(),
            refresh_token: None,
            expires_at: None,
        };
        let account = store
            .save_oauth_account(provider.id, "kiro", &tokens, None, &meta)
            .unwrap();
        assert_eq!(account.meta["client_secret"], "very-secret-client");
        let shown = serde_json::to_string(&account).unwrap();
        assert!(shown.contains("cid-1") && !shown.contains("very-secret-client"));
        store.set_account_meta(account.id, &meta).unwrap();
        assert_eq!(store.account(account.id).unwrap().meta, meta);
        drop(store);
        let bytes = crate::test_database::stored_bytes(dir.path());
        assert!(!String::from_utf8_lossy(&bytes).contains("very-secret-client"));
    }
}
