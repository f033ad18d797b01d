//! Local API keys that clients present to the gateway's `/v1` endpoints.
//!
//! Gateways check keys against a SHA-256 hash. Keys are 192 random bits, so
//! an unsalted fast hash is enough. A key created as *copyable* (by the
//! desktop app) also keeps a sealed copy, so it can be copied again later;
//! other keys are shown once, at creation.

use crate::db::{OptionalExtension, params};
use rand::Rng;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Store, StoreError, StoreResult, now_millis};

/// Prefix of every key Switchyard issues, so users and secret scanners recognise them.
pub const KEY_PREFIX: &str = "sy-";

/// A stored key as listed: never the key itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ApiKeyInfo {
    /// Database id, used to revoke.
    pub id: i64,
    /// Label given at creation.
    pub name: String,
    /// The first characters of the key, such as `sy-3f9a…`.
    pub hint: String,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
    /// Revocation time, if revoked.
    pub revoked_at: Option<i64>,
    /// Whether a sealed copy of the key is kept (it can be copied again).
    pub copyable: bool,
    /// When it was paused, while it is.
    pub paused_at: Option<i64>,
    /// When it stops working, if ever.
    pub expires_at: Option<i64>,
    /// Who it was given to.
    pub owner: Option<String>,
    /// Model patterns it may use (`prefix/*`, a combo, an alias); empty: all.
    pub allowed_models: Vec<String>,
    /// Its budgets and rate limits.
    pub limits: KeyLimits,
}

/// A key's budgets (USD per UTC day, ISO week, calendar month) and rate
/// limits; `None`: no limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct KeyLimits {
    /// USD per UTC day.
    pub budget_day_usd: Option<f64>,
    /// USD per ISO week.
    pub budget_week_usd: Option<f64>,
    /// USD per calendar month.
    pub budget_month_usd: Option<f64>,
    /// Percent of a budget at which a warning goes out.
    pub budget_warn_percent: Option<u32>,
    /// Requests per minute.
    pub requests_per_minute: Option<u32>,
    /// Tokens (prompt and completion) per minute.
    pub tokens_per_minute: Option<u64>,
}

impl KeyLimits {
    /// Each budget with its window.
    pub fn budgets(&self) -> Vec<(crate::QuotaWindow, f64)> {
        [
            (crate::QuotaWindow::Day, self.budget_day_usd),
            (crate::QuotaWindow::Week, self.budget_week_usd),
            (crate::QuotaWindow::Month, self.budget_month_usd),
        ]
        .into_iter()
        .filter_map(|(window, budget)| budget.map(|budget| (window, budget)))
        .collect()
    }

    /// Checks the values: budgets not negative and finite, a warning
    /// between 1 and 100 percent, rates above zero.
    pub fn check(&self) -> Result<(), String> {
        for budget in [
            self.budget_day_usd,
            self.budget_week_usd,
            self.budget_month_usd,
        ]
        .into_iter()
        .flatten()
        {
            if !budget.is_finite() || budget < 0.0 {
                return Err(format!(
                    "a budget is a positive number of USD, not {budget}"
                ));
            }
        }
        if self.budget_warn_percent.is_some_and(|p| p == 0 || p > 100) {
            return Err("the warning threshold is a percent from 1 to 100".into());
        }
        if self.requests_per_minute == Some(0) || self.tokens_per_minute == Some(0) {
            return Err("a rate limit is above zero (leave it out for none)".into());
        }
        Ok(())
    }
}

/// What the gateway enforces for one active key.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyPolicy {
    /// The key's id.
    pub id: i64,
    /// Paused keys are refused (not "unknown").
    pub paused: bool,
    /// When it stops working, if ever (Unix ms).
    pub expires_at: Option<i64>,
    /// Model patterns it may use; empty: all.
    pub allowed_models: Vec<String>,
    /// Its budgets and rate limits.
    pub limits: KeyLimits,
}

impl KeyPolicy {
    /// Whether the key may ask for `model` (as the client names it): a
    /// pattern is the name itself, `*`, or a prefix ending in `*`.
    pub fn allows(&self, model: &str) -> bool {
        self.allowed_models.is_empty()
            || self
                .allowed_models
                .iter()
                .any(|pattern| match pattern.strip_suffix('*') {
                    Some(prefix) => model.starts_with(prefix),
                    None => pattern == model,
                })
    }

    /// Whether the key has expired at `now` (Unix ms).
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}

/// Checks an allowlist pattern: a model name, a combo or alias, or a prefix
/// ending in `*`; no spaces, at most one `*`, at the end.
pub fn check_model_pattern(pattern: &str) -> Result<(), String> {
    let valid = !pattern.is_empty()
        && pattern.len() <= 200
        && !pattern.chars().any(char::is_whitespace)
        && pattern.find('*').is_none_or(|at| at == pattern.len() - 1);
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{pattern:?} is not a model pattern: a name such as glm/glm-4.6, a combo, or a prefix ending in * such as glm/*"
        ))
    }
}

/// A key just created: the only time its secret is available.
#[derive(Clone, Serialize)]
pub struct NewApiKey {
    /// The stored record.
    #[serde(flatten)]
    pub info: ApiKeyInfo,
    /// The key to hand to clients.
    pub key: String,
}

impl std::fmt::Debug for NewApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NewApiKey")
            .field("info", &self.info)
            .field("key", &"<redacted>")
            .finish()
    }
}

/// The SHA-256 of a key, hex, as stored.
pub fn hash_api_key(key: &str) -> String {
    hash_key(key)
}

fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

impl Store {
    /// Creates a key labelled `name` and returns it with its secret, which
    /// is not kept.
    pub fn create_api_key(&self, name: &str) -> StoreResult<NewApiKey> {
        self.insert_api_key(name, false)
    }

    /// Creates a key labelled `name` and keeps a sealed copy of it, so
    /// [`Store::api_key_secret`] can give it back later.
    pub fn create_copyable_api_key(&self, name: &str) -> StoreResult<NewApiKey> {
        self.insert_api_key(name, true)
    }

    fn insert_api_key(&self, name: &str, copyable: bool) -> StoreResult<NewApiKey> {
        let random: [u8; 24] = rand::rng().random();
        let key = format!("{KEY_PREFIX}{}", hex::encode(random));
        let hint = format!("{}…", &key[..KEY_PREFIX.len() + 6]);
        let created_at = now_millis();
        let sealed = copyable.then(|| self.secrets.seal(&key));
        self.conn.execute(
            "INSERT INTO api_keys (name, key_hash, key_hint, created_at, sealed_key)
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![name, hash_key(&key), hint, created_at, sealed],
        )?;
        Ok(NewApiKey {
            info: ApiKeyInfo {
                id: self.conn.last_insert_rowid()?,
                name: name.to_owned(),
                hint,
                created_at,
                revoked_at: None,
                copyable,
                paused_at: None,
                expires_at: None,
                owner: None,
                allowed_models: Vec::new(),
                limits: KeyLimits::default(),
            },
            key,
        })
    }

    /// All keys, revoked ones included, oldest first.
    pub fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyInfo>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id, name, key_hint, created_at, revoked_at, sealed_key IS NOT NULL,
                    paused_at, expires_at, owner, allowed_models,
                    budget_day_usd, budget_week_usd, budget_month_usd, budget_warn_percent,
                    requests_per_minute, tokens_per_minute
             FROM api_keys ORDER BY id",
        )?;
        let rows = statement.query_map(params![], |row| {
            Ok(ApiKeyInfo {
                id: row.get(0)?,
                name: row.get(1)?,
                hint: row.get(2)?,
                created_at: row.get(3)?,
                revoked_at: row.get(4)?,
                copyable: row.get(5)?,
                paused_at: row.get(6)?,
                expires_at: row.get(7)?,
                owner: row.get(8)?,
                allowed_models: patterns(row.get(9)?),
                limits: limits_at(row, 10)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The key with this id, if it is active and a copy of it was kept.
    pub fn api_key_secret(&self, id: i64) -> StoreResult<Option<String>> {
        let sealed: Option<Option<String>> = self
            .conn
            .query_row(
                "SELECT sealed_key FROM api_keys WHERE id = ?1 AND revoked_at IS NULL",
                [id],
                |row| row.get(0),
            )
            .optional()?;
        sealed
            .flatten()
            .map(|sealed| self.secrets.open(&sealed))
            .transpose()
    }

    /// The newest active key whose copy was kept, with its id.
    pub fn newest_copyable_api_key(&self) -> StoreResult<Option<(i64, String)>> {
        let row: Option<(i64, String)> = self
            .conn
            .query_row(
                "SELECT id, sealed_key FROM api_keys
                 WHERE revoked_at IS NULL AND sealed_key IS NOT NULL
                 ORDER BY id DESC LIMIT 1",
                params![],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        row.map(|(id, sealed)| Ok((id, self.secrets.open(&sealed)?)))
            .transpose()
    }

    /// Revokes the key with this id; revoking twice keeps the first time.
    pub fn revoke_api_key(&self, id: i64) -> StoreResult<()> {
        let changed = self.conn.execute(
            "UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2",
            params![now_millis(), id],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("API key {id}")));
        }
        Ok(())
    }

    /// Every active (not revoked) key's policy, by the key's hash.
    pub fn active_key_policies(&self) -> StoreResult<std::collections::HashMap<String, KeyPolicy>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT key_hash, id, paused_at IS NOT NULL, expires_at, allowed_models,
                    budget_day_usd, budget_week_usd, budget_month_usd, budget_warn_percent,
                    requests_per_minute, tokens_per_minute
             FROM api_keys WHERE revoked_at IS NULL",
        )?;
        let rows = statement.query_map(params![], |row| {
            Ok((
                row.get::<_, String>(0)?,
                KeyPolicy {
                    id: row.get(1)?,
                    paused: row.get(2)?,
                    expires_at: row.get(3)?,
                    allowed_models: patterns(row.get(4)?),
                    limits: limits_at(row, 5)?,
                },
            ))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Sets key `id`'s budgets and rate limits (replacing them).
    pub fn set_api_key_limits(&self, id: i64, limits: &KeyLimits) -> StoreResult<()> {
        limits.check().map_err(StoreError::Invalid)?;
        let changed = self.conn.execute(
            "UPDATE api_keys SET budget_day_usd = ?2, budget_week_usd = ?3, budget_month_usd = ?4,
                    budget_warn_percent = ?5, requests_per_minute = ?6, tokens_per_minute = ?7
             WHERE id = ?1 AND revoked_at IS NULL",
            params![
                id,
                limits.budget_day_usd,
                limits.budget_week_usd,
                limits.budget_month_usd,
                limits.budget_warn_percent,
                limits.requests_per_minute,
                limits.tokens_per_minute.map(|tokens| tokens as i64),
            ],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("active API key {id}")));
        }
        Ok(())
    }

    /// What requests made with key `id` since `since` (Unix ms) cost, USD.
    pub fn key_cost_since(&self, id: i64, since: i64) -> StoreResult<f64> {
        Ok(self.conn.query_row(
            "SELECT COALESCE(SUM(cost_usd), 0) FROM requests
             WHERE api_key_id = ?1 AND started_at >= ?2",
            params![id, since],
            |row| row.get(0),
        )?)
    }

    /// Requests and tokens recorded for key `id` since `since` (Unix ms).
    pub fn key_use_since(&self, id: i64, since: i64) -> StoreResult<(u64, u64)> {
        let (requests, tokens): (i64, i64) = self.conn.query_row(
            "SELECT COUNT(*), COALESCE(SUM(COALESCE(prompt_tokens, 0) + COALESCE(completion_tokens, 0)), 0)
             FROM requests WHERE api_key_id = ?1 AND started_at >= ?2",
            params![id, since],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )?;
        Ok((requests.max(0) as u64, tokens.max(0) as u64))
    }

    /// Pauses (or resumes) key `id`.
    pub fn set_api_key_paused(&self, id: i64, paused: bool) -> StoreResult<()> {
        let changed = self.conn.execute(
            "UPDATE api_keys SET paused_at = CASE WHEN ?2 THEN COALESCE(paused_at, ?3) END
             WHERE id = ?1 AND revoked_at IS NULL",
            params![id, paused, now_millis()],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("active API key {id}")));
        }
        Ok(())
    }

    /// Sets key `id`'s owner, expiry and allowed model patterns (checked
    /// with [`check_model_pattern`]).
    pub fn set_api_key_policy(
        &self,
        id: i64,
        owner: Option<&str>,
        expires_at: Option<i64>,
        allowed_models: &[String],
    ) -> StoreResult<()> {
        for pattern in allowed_models {
            check_model_pattern(pattern).map_err(StoreError::Invalid)?;
        }
        let allowed = (!allowed_models.is_empty())
            .then(|| serde_json::to_string(allowed_models))
            .transpose()
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let changed = self.conn.execute(
            "UPDATE api_keys SET owner = ?2, expires_at = ?3, allowed_models = ?4
             WHERE id = ?1 AND revoked_at IS NULL",
            params![id, owner, expires_at, allowed],
        )?;
        if changed == 0 {
            return Err(StoreError::NotFound(format!("active API key {id}")));
        }
        Ok(())
    }

    /// The id of the active (not revoked) key equal to `key`, if any.
    pub fn verify_api_key(&self, key: &str) -> StoreResult<Option<i64>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT id FROM api_keys WHERE key_hash = ?1 AND revoked_at IS NULL")?;
        Ok(statement
            .query_row([hash_key(key)], |row| row.get(0))
            .optional()?)
    }
}

/// The six limit columns starting at `first`.
fn limits_at(row: &crate::db::Row, first: usize) -> crate::db::DbResult<KeyLimits> {
    Ok(KeyLimits {
        budget_day_usd: row.get(first)?,
        budget_week_usd: row.get(first + 1)?,
        budget_month_usd: row.get(first + 2)?,
        budget_warn_percent: row.get(first + 3)?,
        requests_per_minute: row.get(first + 4)?,
        tokens_per_minute: row
            .get::<_, Option<i64>>(first + 5)?
            .map(|tokens| tokens.max(0) as u64),
    })
}

/// Allowed model patterns as stored (a JSON array, or NULL for all).
fn patterns(stored: Option<String>) -> Vec<String> {
    stored
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_verify_revoke() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        let created = store.create_api_key("laptop").unwrap();
        assert!(created.key.starts_with(KEY_PREFIX));
        assert_eq!(created.key.len(), KEY_PREFIX.len() + 48);
        assert_eq!(
            store.verify_api_key(&created.key).unwrap(),
            Some(created.info.id)
        );
        assert_eq!(store.verify_api_key("sy-wrong").unwrap(), None);

        store.revoke_api_key(created.info.id).unwrap();
        assert_eq!(store.verify_api_key(&created.key).unwrap(), None);
        let listed = store.list_api_keys().unwrap();
        assert!(listed[0].revoked_at.is_some());
        assert!(matches!(
            store.revoke_api_key(999),
            Err(StoreError::NotFound(_))
        ));
    }

    #[test]
    fn the_key_itself_is_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        let created = store.create_api_key("k").unwrap();
        drop(store);
        let bytes = crate::test_database::stored_bytes(dir.path());
        let needle = created.key.as_bytes();
        assert!(!bytes.windows(needle.len()).any(|window| window == needle));
        assert!(!format!("{created:?}").contains(&created.key));
    }

    #[test]
    fn a_copyable_key_is_sealed_and_given_back_until_revoked() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        let plain = store.create_api_key("cli").unwrap();
        assert_eq!(store.api_key_secret(plain.info.id).unwrap(), None);
        assert_eq!(store.newest_copyable_api_key().unwrap(), None);
        let kept = store.create_copyable_api_key("desktop").unwrap();
        assert!(kept.info.copyable);
        assert_eq!(
            store.api_key_secret(kept.info.id).unwrap().as_deref(),
            Some(kept.key.as_str())
        );
        assert_eq!(
            store.newest_copyable_api_key().unwrap(),
            Some((kept.info.id, kept.key.clone()))
        );
        let listed = store.list_api_keys().unwrap();
        assert_eq!(
            listed.iter().map(|k| k.copyable).collect::<Vec<_>>(),
            [false, true]
        );
        drop(store);
        // Sealed: the key itself is nowhere in the file.
        let bytes = crate::test_database::stored_bytes(dir.path());
        let needle = kept.key.as_bytes();
        assert!(!bytes.windows(needle.len()).any(|window| window == needle));

        let store = Store::open_in_dir(dir.path()).unwrap();
        store.revoke_api_key(kept.info.id).unwrap();
        assert_eq!(store.api_key_secret(kept.info.id).unwrap(), None);
        assert_eq!(store.newest_copyable_api_key().unwrap(), None);
    }

    #[test]
    fn policies_pause_expire_and_allow_patterns() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        let key = store.create_api_key("script").unwrap();
        let id = key.info.id;
        store.set_api_key_paused(id, true).unwrap();
        store
            .set_api_key_policy(id, Some("ana"), Some(5), &["glm/*".into(), "coding".into()])
            .unwrap();
        let policy = &store.active_key_policies().unwrap()[&hash_api_key(&key.key)];
        assert!(policy.paused);
        assert!(policy.expired(5) && !policy.expired(4));
        assert!(policy.allows("glm/glm-4.6") && policy.allows("coding"));
        assert!(!policy.allows("openai/gpt-4o") && !policy.allows("codingx"));
        assert!(
            store
                .set_api_key_policy(id, None, None, &["a b".into()])
                .is_err()
        );
        assert!(
            store
                .set_api_key_policy(id, None, None, &["a*b".into()])
                .is_err()
        );
        store.set_api_key_paused(id, false).unwrap();
        let listed = &store.list_api_keys().unwrap()[0];
        assert_eq!(listed.paused_at, None);
        assert_eq!(listed.owner.as_deref(), Some("ana"));
        assert_eq!(listed.allowed_models, vec!["glm/*", "coding"]);
    }
}
