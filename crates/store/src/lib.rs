//! Switchyard's SQLite storage: the only crate that writes SQL.
//!
//! A [`Store`] owns one connection to `switchyard.db` in the data directory,
//! in WAL mode so the gateway's readers and the usage writer (and a CLI in
//! another process) do not block each other. Migrations are the numbered files
//! in `/migrations`, embedded at compile time and applied on open.

mod accounts;
mod api_keys;
mod combos;
mod management;
mod prices;
mod providers;
mod quotas;
mod requests;
mod secrets;
mod settings;
pub mod transfer;
mod webhooks;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use include_dir::{Dir, include_dir};
use rusqlite::{Connection, OptionalExtension};
use rusqlite_migration::{M, Migrations};

pub use accounts::{Account, AccountAuth, Cooldown, OAuthTokens};
pub use api_keys::{
    ApiKeyInfo, KEY_PREFIX, KeyLimits, KeyPolicy, NewApiKey, check_model_pattern, hash_api_key,
};
pub use combos::{Alias, Combo, ComboStrategy, ComboTarget};
pub use management::{DashboardSession, MANAGEMENT_TOKEN_PREFIX, ManagementEntry, ManagementToken};
pub use prices::Price;
pub use providers::{AccountStrategy, NewProvider, Provider, ProviderKind};
pub use quotas::{QuotaLimit, QuotaMetric, QuotaWindow, ReportedQuota, ServiceQuota, WindowCount};
pub use requests::{
    AccountFailures, Attempt, KEPT_BODIES, RequestBodies, RequestRecord, TargetOutcomes,
    UsageDimension, UsageQuery, UsageRow,
};
pub use secrets::{KEY_FILE, KeyLocation, SECRET_STORE_ENV, SecretBox};
pub use transfer::{ConfigDocument, ImportOptions, TransferError, read_9router};
pub use webhooks::{WEBHOOK_FAILURES_TO_DISABLE, Webhook, WebhookDelivery};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "switchyard.db";

static MIGRATIONS_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../migrations");

/// Errors from the storage layer. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A migration could not be applied (for example a database from a newer version).
    #[error("database migration failed: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    /// The data directory or database file could not be prepared.
    #[error("cannot prepare data directory {path}: {source}")]
    Io {
        /// Path that failed.
        path: PathBuf,
        /// Underlying error.
        source: std::io::Error,
    },
    /// The named record does not exist.
    #[error("{0} not found")]
    NotFound(String),
    /// The change would break a uniqueness rule, such as a duplicate prefix.
    #[error("{0}")]
    Conflict(String),
    /// Stored data could not be decoded.
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    /// The key that protects provider secrets is unavailable.
    #[error("{0}")]
    SecretKey(String),
    /// A value to store was refused (its message says why).
    #[error("{0}")]
    Invalid(String),
}

/// Result alias for storage operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// One open connection to the Switchyard database.
pub struct Store {
    conn: Connection,
    path: PathBuf,
    secrets: SecretBox,
}

/// Setting that records where the secrets key is kept.
const KEY_LOCATION_SETTING: &str = "internal.secret_key_location";

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating if needed) the database in `data_dir` and applies pending migrations.
    pub fn open_in_dir(data_dir: &Path) -> StoreResult<Self> {
        create_private_dir(data_dir)?;
        Self::open(&data_dir.join(DATABASE_FILE))
    }

    /// Opens (creating if needed) the database file at `path` and applies pending migrations.
    pub fn open(path: &Path) -> StoreResult<Self> {
        let mut conn = Connection::open(path)?;
        restrict_to_owner(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        migrations().to_latest(&mut conn)?;
        let recorded: Option<String> = conn
            .query_row(
                "SELECT value FROM settings WHERE key = ?1",
                [KEY_LOCATION_SETTING],
                |row| row.get(0),
            )
            .optional()?;
        let data_dir = path.parent().unwrap_or(Path::new("."));
        let (secrets, new_location) = secrets::load_or_create(data_dir, recorded.as_deref())?;
        if let Some(location) = new_location {
            conn.execute(
                "INSERT OR REPLACE INTO settings (key, value) VALUES (?1, ?2)",
                [KEY_LOCATION_SETTING, location.as_str()],
            )?;
        }
        let store = Self {
            conn,
            path: path.to_owned(),
            secrets,
        };
        store.seal_plaintext_secrets()?;
        Ok(store)
    }

    /// Where the key to the stored secrets is kept.
    pub fn secret_key_location(&self) -> KeyLocation {
        self.secrets.location()
    }

    /// Path of the database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The SQLite journal mode in effect (`wal` once opened).
    pub fn journal_mode(&self) -> StoreResult<String> {
        Ok(self
            .conn
            .pragma_query_value(None, "journal_mode", |row| row.get(0))?)
    }

    /// A number that changes whenever another connection commits a change
    /// (SQLite's `data_version`): cheap to poll, to know when to re-read.
    pub fn data_version(&self) -> StoreResult<i64> {
        Ok(self
            .conn
            .pragma_query_value(None, "data_version", |row| row.get(0))?)
    }

    /// Schema version, i.e. the number of migrations applied.
    pub fn schema_version(&self) -> StoreResult<u32> {
        Ok(self
            .conn
            .pragma_query_value(None, "user_version", |row| row.get(0))?)
    }
}

/// The embedded migrations, in file-name order (`0001_...sql`, `0002_...sql`, ...).
fn migrations() -> Migrations<'static> {
    let mut files: Vec<_> = MIGRATIONS_DIR
        .files()
        .filter(|file| file.path().extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort_by_key(|file| file.path());
    Migrations::new(
        files
            .into_iter()
            .map(|file| M::up(file.contents_utf8().expect("migration files are UTF-8")))
            .collect(),
    )
}

/// Current time as Unix milliseconds.
pub fn now_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64)
}

fn create_private_dir(dir: &Path) -> StoreResult<()> {
    let io_error = |source| StoreError::Io {
        path: dir.to_owned(),
        source,
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(io_error)
    }
    #[cfg(not(unix))]
    {
        std::fs::create_dir_all(dir).map_err(io_error)
    }
}

/// The database holds provider secrets: only the owner may read it.
fn restrict_to_owner(path: &Path) -> StoreResult<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(
            |source| StoreError::Io {
                path: path.to_owned(),
                source,
            },
        )?;
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Maps a UNIQUE constraint failure to [`StoreError::Conflict`] with `message`.
fn conflict_on_unique(error: rusqlite::Error, message: impl FnOnce() -> String) -> StoreError {
    match error.sqlite_error_code() {
        Some(rusqlite::ErrorCode::ConstraintViolation) => StoreError::Conflict(message()),
        _ => StoreError::Sqlite(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        assert!(migrations().validate().is_ok());
    }

    #[test]
    fn open_applies_migrations_in_wal_mode() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(&dir.path().join("nested")).unwrap();
        assert_eq!(store.journal_mode().unwrap(), "wal");
        let expected = MIGRATIONS_DIR.files().count() as u32;
        assert!(expected >= 1);
        assert_eq!(store.schema_version().unwrap(), expected);
    }

    #[cfg(unix)]
    #[test]
    fn database_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_in_dir(dir.path()).unwrap();
        let mode = std::fs::metadata(store.path())
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
