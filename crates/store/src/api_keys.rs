//! Local API keys that clients present to the gateway's `/v1` endpoints.
//!
//! Only a SHA-256 hash of each key is stored: the key is shown once, at creation.
//! Keys are 192 random bits, so an unsalted fast hash is enough.

use rand::Rng;
use rusqlite::{OptionalExtension, params};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::{Store, StoreError, StoreResult, now_millis};

/// Prefix of every key Switchyard issues, so users and secret scanners recognise them.
pub const KEY_PREFIX: &str = "sy-";

/// A stored key as listed: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
    /// Creates a key labelled `name` and returns it with its secret.
    pub fn create_api_key(&self, name: &str) -> StoreResult<NewApiKey> {
        let random: [u8; 24] = rand::rng().random();
        let key = format!("{KEY_PREFIX}{}", hex::encode(random));
        let hint = format!("{}…", &key[..KEY_PREFIX.len() + 6]);
        let created_at = now_millis();
        self.conn.execute(
            "INSERT INTO api_keys (name, key_hash, key_hint, created_at) VALUES (?1, ?2, ?3, ?4)",
            params![name, hash_key(&key), hint, created_at],
        )?;
        Ok(NewApiKey {
            info: ApiKeyInfo {
                id: self.conn.last_insert_rowid(),
                name: name.to_owned(),
                hint,
                created_at,
                revoked_at: None,
            },
            key,
        })
    }

    /// All keys, revoked ones included, oldest first.
    pub fn list_api_keys(&self) -> StoreResult<Vec<ApiKeyInfo>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT id, name, key_hint, created_at, revoked_at FROM api_keys ORDER BY id",
        )?;
        let rows = statement.query_map([], |row| {
            Ok(ApiKeyInfo {
                id: row.get(0)?,
                name: row.get(1)?,
                hint: row.get(2)?,
                created_at: row.get(3)?,
                revoked_at: row.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
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

    /// Hashes of every active (not revoked) key, with their ids.
    pub fn active_key_hashes(&self) -> StoreResult<std::collections::HashMap<String, i64>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT key_hash, id FROM api_keys WHERE revoked_at IS NULL")?;
        let rows = statement.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
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
        let bytes = std::fs::read(dir.path().join(crate::DATABASE_FILE)).unwrap();
        let needle = created.key.as_bytes();
        assert!(!bytes.windows(needle.len()).any(|window| window == needle));
        assert!(!format!("{created:?}").contains(&created.key));
    }
}
