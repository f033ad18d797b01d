//! Combos (a model name that stands for several targets, picked by a
//! strategy and tried in turn) and aliases (a short name for one target).

use crate::db::{OptionalExtension, params};
use serde::{Deserialize, Serialize};

use crate::{Store, StoreError, StoreResult, conflict_on_unique, now_millis};

/// How a combo orders its targets for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum ComboStrategy {
    /// Always in the listed order.
    #[default]
    Fallback,
    /// Each request starts at the next target, wrapping around.
    RoundRobin,
    /// The first target is drawn by weight; the rest follow by weight.
    Weighted,
}

impl ComboStrategy {
    /// Name stored in the database and typed by users.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fallback => "fallback",
            Self::RoundRobin => "round-robin",
            Self::Weighted => "weighted",
        }
    }

    /// Parses a stored or typed name.
    pub fn parse(value: &str) -> Result<Self, String> {
        match value {
            "fallback" => Ok(Self::Fallback),
            "round-robin" => Ok(Self::RoundRobin),
            "weighted" => Ok(Self::Weighted),
            other => Err(format!(
                "unknown combo strategy {other:?}; use fallback, round-robin or weighted"
            )),
        }
    }
}

/// One entry of a combo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComboTarget {
    /// `prefix/model`, an alias, or another combo's name.
    pub target: String,
    /// Share of first picks under the weighted strategy.
    pub weight: u32,
    /// Disabled targets are skipped.
    pub enabled: bool,
}

impl ComboTarget {
    /// An enabled target of weight 1.
    pub fn new(target: impl Into<String>) -> Self {
        Self {
            target: target.into(),
            weight: 1,
            enabled: true,
        }
    }
}

/// A stored combo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Combo {
    /// Database id.
    pub id: i64,
    /// Name clients use as the model; never contains '/'.
    pub name: String,
    /// How targets are ordered for each request.
    pub strategy: ComboStrategy,
    /// The targets, in listed order.
    pub targets: Vec<ComboTarget>,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
}

/// A short name for a `prefix/model` or a combo.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Alias {
    /// The short name clients use; never contains '/'.
    pub name: String,
    /// What it stands for.
    pub target: String,
    /// Creation time, Unix milliseconds.
    pub created_at: i64,
}

fn alias_from_row(row: &crate::db::Row) -> crate::db::DbResult<Alias> {
    Ok(Alias {
        name: row.get(0)?,
        target: row.get(1)?,
        created_at: row.get(2)?,
    })
}

type ComboRow = (i64, String, String, String, i64);

fn decode((id, name, strategy, targets, created_at): ComboRow) -> StoreResult<Combo> {
    let targets = serde_json::from_str(&targets)
        .map_err(|error| StoreError::Corrupt(format!("targets of combo {name}: {error}")))?;
    let strategy = ComboStrategy::parse(&strategy).map_err(StoreError::Corrupt)?;
    Ok(Combo {
        id,
        name,
        strategy,
        targets,
        created_at,
    })
}

const COMBO_COLUMNS: &str = "id, name, strategy, targets, created_at";

impl Store {
    /// Adds a combo; names must be unique among combos and aliases.
    pub fn add_combo(
        &self,
        name: &str,
        strategy: ComboStrategy,
        targets: &[ComboTarget],
    ) -> StoreResult<Combo> {
        if self.alias_by_name(name)?.is_some() {
            return Err(StoreError::Conflict(format!(
                "an alias named {name:?} already exists"
            )));
        }
        let encoded = serde_json::to_string(targets)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        let created_at = now_millis();
        self.conn
            .execute(
                "INSERT INTO combos (name, strategy, targets, created_at) VALUES (?1, ?2, ?3, ?4)",
                params![name, strategy.as_str(), encoded, created_at],
            )
            .map_err(|error| {
                conflict_on_unique(error, || format!("a combo named {name:?} already exists"))
            })?;
        Ok(Combo {
            id: self.conn.last_insert_rowid()?,
            name: name.to_owned(),
            strategy,
            targets: targets.to_vec(),
            created_at,
        })
    }

    /// Replaces a combo's strategy and targets.
    pub fn update_combo(
        &self,
        name: &str,
        strategy: ComboStrategy,
        targets: &[ComboTarget],
    ) -> StoreResult<Combo> {
        let combo = self
            .combo_by_name(name)?
            .ok_or_else(|| StoreError::NotFound(format!("combo {name:?}")))?;
        let encoded = serde_json::to_string(targets)
            .map_err(|error| StoreError::Corrupt(error.to_string()))?;
        self.conn.execute(
            "UPDATE combos SET strategy = ?1, targets = ?2 WHERE id = ?3",
            params![strategy.as_str(), encoded, combo.id],
        )?;
        Ok(Combo {
            strategy,
            targets: targets.to_vec(),
            ..combo
        })
    }

    /// All combos, ordered by name.
    pub fn list_combos(&self) -> StoreResult<Vec<Combo>> {
        let mut statement = self
            .conn
            .prepare_cached(&format!("SELECT {COMBO_COLUMNS} FROM combos ORDER BY name"))?;
        let rows = statement.query_map(params![], |row| {
            Ok((
                row.get(0)?,
                row.get(1)?,
                row.get(2)?,
                row.get(3)?,
                row.get(4)?,
            ))
        })?;
        rows.map(|row| decode(row?)).collect()
    }

    /// The combo called `name`, if any.
    pub fn combo_by_name(&self, name: &str) -> StoreResult<Option<Combo>> {
        let mut statement = self.conn.prepare_cached(&format!(
            "SELECT {COMBO_COLUMNS} FROM combos WHERE name = ?1"
        ))?;
        statement
            .query_row([name], |row| {
                Ok((
                    row.get(0)?,
                    row.get(1)?,
                    row.get(2)?,
                    row.get(3)?,
                    row.get(4)?,
                ))
            })
            .optional()?
            .map(decode)
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

    /// Adds an alias; names must be unique among aliases and combos.
    pub fn add_alias(&self, name: &str, target: &str) -> StoreResult<Alias> {
        if self.combo_by_name(name)?.is_some() {
            return Err(StoreError::Conflict(format!(
                "a combo named {name:?} already exists"
            )));
        }
        let created_at = now_millis();
        self.conn
            .execute(
                "INSERT INTO aliases (name, target, created_at) VALUES (?1, ?2, ?3)",
                params![name, target, created_at],
            )
            .map_err(|error| {
                conflict_on_unique(error, || format!("an alias named {name:?} already exists"))
            })?;
        Ok(Alias {
            name: name.to_owned(),
            target: target.to_owned(),
            created_at,
        })
    }

    /// All aliases, ordered by name.
    pub fn list_aliases(&self) -> StoreResult<Vec<Alias>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT name, target, created_at FROM aliases ORDER BY name")?;
        let rows = statement.query_map(params![], alias_from_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// The alias called `name`, if any.
    pub fn alias_by_name(&self, name: &str) -> StoreResult<Option<Alias>> {
        let mut statement = self
            .conn
            .prepare_cached("SELECT name, target, created_at FROM aliases WHERE name = ?1")?;
        Ok(statement.query_row([name], alias_from_row).optional()?)
    }

    /// Removes the alias called `name`.
    pub fn remove_alias(&self, name: &str) -> StoreResult<Alias> {
        let alias = self
            .alias_by_name(name)?
            .ok_or_else(|| StoreError::NotFound(format!("alias {name:?}")))?;
        self.conn
            .execute("DELETE FROM aliases WHERE name = ?1", [name])?;
        Ok(alias)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn combos_and_aliases_share_one_namespace() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        let targets = vec![ComboTarget::new("a/x"), ComboTarget::new("b/y")];
        let combo = store
            .add_combo("fast", ComboStrategy::RoundRobin, &targets)
            .unwrap();
        assert_eq!(store.combo_by_name("fast").unwrap(), Some(combo.clone()));
        assert!(matches!(
            store.add_combo("fast", ComboStrategy::Fallback, &targets),
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            store.add_alias("fast", "a/x"),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.list_combos().unwrap(), vec![combo]);
        store.add_alias("x", "a/x").unwrap();
        assert!(matches!(
            store.add_combo("x", ComboStrategy::Fallback, &targets),
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(store.list_aliases().unwrap()[0].target, "a/x");
        store.remove_combo("fast").unwrap();
        store.remove_alias("x").unwrap();
        assert_eq!(store.combo_by_name("fast").unwrap(), None);
        assert!(store.list_aliases().unwrap().is_empty());
    }

    #[test]
    fn combos_stored_before_strategies_still_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::DATABASE_FILE);
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            crate::migrations().to_version(&mut conn, 3).unwrap();
            conn.execute(
                "INSERT INTO combos (name, targets, created_at) VALUES ('old', '[\"a/x\",\"b/y\"]', 1)",
                [],
            )
            .unwrap();
        }
        let store = Store::open(&path).unwrap();
        let combo = store.combo_by_name("old").unwrap().unwrap();
        assert_eq!(combo.strategy, ComboStrategy::Fallback);
        assert_eq!(
            combo.targets,
            [ComboTarget::new("a/x"), ComboTarget::new("b/y")]
        );
    }
}
