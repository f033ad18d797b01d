//! Free-form settings as key/value strings; the gateway decides what they mean.

use crate::db::{OptionalExtension, params};

use crate::{Store, StoreResult};

impl Store {
    /// The stored value of `key`, if set.
    pub fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT value FROM settings WHERE key = ?1")?;
        Ok(statement.query_row([key], |row| row.get(0)).optional()?)
    }

    /// Stores `value` under `key`, replacing any earlier value.
    pub fn set_setting(&self, key: &str, value: &str) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO settings (key, value) VALUES (?1, ?2)
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Removes `key`, returning whether it was set.
    pub fn unset_setting(&self, key: &str) -> StoreResult<bool> {
        Ok(self
            .conn
            .execute("DELETE FROM settings WHERE key = ?1", [key])?
            > 0)
    }

    /// Every stored setting, ordered by key.
    pub fn list_settings(&self) -> StoreResult<Vec<(String, String)>> {
        let mut statement = self.conn.prepare_cached(
            "SELECT key, value FROM settings WHERE key NOT LIKE 'internal.%' ORDER BY key",
        )?;
        let rows = statement.query_map(params![], |row| Ok((row.get(0)?, row.get(1)?)))?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

#[cfg(test)]
mod tests {
    use crate::Store;

    #[test]
    fn set_replace_unset() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        assert_eq!(store.setting("port").unwrap(), None);
        store.set_setting("port", "1").unwrap();
        store.set_setting("port", "2").unwrap();
        assert_eq!(store.setting("port").unwrap().as_deref(), Some("2"));
        assert_eq!(
            store.list_settings().unwrap(),
            vec![("port".into(), "2".into())]
        );
        assert!(store.unset_setting("port").unwrap());
        assert!(!store.unset_setting("port").unwrap());
    }
}
