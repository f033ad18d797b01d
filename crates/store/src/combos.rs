//! Combos: a model name that stands for an ordered list of targets, tried in
//! turn until one answers.

use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::{Store, StoreError, StoreResult, conflict_on_unique, now_millis};

/// A stored combo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Combo {
    /// Database id.
    pub id: i64,
    /// Name clients use as the model.
    pub name: String,
    /// `prefix/model` targets in fallback order.
    pub targets: Vec<String>,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
}

fn decode(id: i64, name: String, targets: String, created_at: i64) -> StoreResult<Combo> {
    let targets = serde_json::from_str(&targets)
        .map_err(|error| StoreError::Corrupt(format!("targets of combo {name}: {error}")))?;
    Ok(Combo {
        id,
        name,
        targets,
        created_at,
    })
}

impl Store {
    /// Adds a combo; names must be unique.
    pub fn add_combo(&self, name: &str, targets: &[String]) -> StoreResult<Combo> {
        let encoded = serde_json::to_string(targets)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let created_at = now_millis();
        self.conn
            .execute(
                "INSERT INTO combos (name, targets, created_at) VALUES (?1, ?2, ?3)",
                params![name, encoded, created_at],
            )
            .map_err(|error| {
                conflict_on_unique(error, || format!("a combo named {name:?} already exists"))
            })?;
        Ok(Combo {
            id: self.conn.last_insert_rowid(),
            name: name.to_owned(),
            targets: targets.to_vec(),
            created_at,
        })
    }

    /// All combos, ordered by name.
    pub fn list_combos(&self) -> StoreResult<Vec<Combo>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT id, name, targets, created_at FROM combos ORDER BY name")?;
        let rows = statement.query_map([], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
        })?;
        rows.map(|row| {
            let (id, name, targets, created_at) = row?;
            decode(id, name, targets, created_at)
        })
        .collect()
    }

    /// The combo called `name`, if any.
    pub fn combo_by_name(&self, name: &str) -> StoreResult<Option<Combo>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT id, name, targets, created_at FROM combos WHERE name = ?1")?;
        statement
            .query_row([name], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .optional()?
            .map(|(id, name, targets, created_at)| decode(id, name, targets, created_at))
            .transpose()
    }

    /// Removes the combo called `name`.
    pub fn remove_combo(&self, name: &str) -> StoreResult<Combo> {
        let combo = self
            .combo_by_name(name)?
            .ok_or_else(|| StoreError::NotFound(format!("combo {name:?}")))?;
        self.conn
            .execute("DELETE FROM combos WHERE id = ?1", [combo.id])?;
        Ok(combo)
    }
}

#[cfg(test)]
mod tests {
    use crate::{Store, StoreError};

    #[test]
    fn add_find_list_remove() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        let targets = vec!["a/x".to_owned(), "b/y".to_owned()];
        let combo = store.add_combo("fast", &targets).unwrap();
        assert_eq!(store.combo_by_name("fast").unwrap(), Some(combo.clone()));
        assert!(matches!(
            store.add_combo("fast", &targets),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.list_combos().unwrap(), vec![combo]);
        store.remove_combo("fast").unwrap();
        assert_eq!(store.combo_by_name("fast").unwrap(), None);
    }
}
