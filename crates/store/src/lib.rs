//! Switchyard's SQLite storage: the only crate that writes SQL.
//!
//! A [`Store`] owns one connection to `switchyard.db` in the data directory,
//! in WAL mode so the gateway's readers and the usage writer (and a CLI in
//! another process) do not block each other. Migrations are the numbered files
//! in `/migrations`, embedded at compile time and applied on open.

mod accounts;
mod api_keys;
mod combos;
mod copy;
pub mod db;
mod management;
mod postgres_store;
mod prices;
mod providers;
mod quotas;
mod requests;
mod secrets;
mod settings;
mod sync;
mod sync_hub;
pub mod transfer;
mod webhooks;

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use db::{Conn, DbError, OptionalExtension};
use include_dir::{Dir, include_dir};
use rusqlite::Connection;
use rusqlite_migration::{M, Migrations};

pub use accounts::{Account, AccountAuth, Cooldown, OAuthTokens};
pub use api_keys::{
    ApiKeyInfo, KEY_PREFIX, KeyLimits, KeyPolicy, NewApiKey, check_model_pattern, hash_api_key,
};
pub use combos::{Alias, Combo, ComboStrategy, ComboTarget};
pub use copy::CopyReport;
pub use management::{
    DashboardSession, DashboardUser, MANAGEMENT_TOKEN_PREFIX, ManagementEntry, ManagementToken,
};
pub use postgres_store::{ChangeFeed, DATABASE_URL_ENV, describe_url};
pub use prices::Price;
pub use providers::{AccountStrategy, NewProvider, Provider, ProviderKind};
pub use quotas::{QuotaLimit, QuotaMetric, QuotaWindow, ReportedQuota, ServiceQuota, WindowCount};
pub use requests::{
    AccountFailures, Attempt, KEPT_BODIES, RequestBodies, RequestRecord, TargetOutcomes,
    UsageDimension, UsageQuery, UsageRow,
};
pub use secrets::{KEY_FILE, KeyLocation, SECRET_KEY_ENV, SECRET_STORE_ENV, SecretBox};
pub use sync::{DailyUsage, RecordKey, RecordKind, SyncLink, record_hash};
pub use sync_hub::{
    DEVICE_TOKEN_PREFIX, HubItem, PushOutcome, PushedItem, SyncConflict, SyncDevice, SyncSpace,
};
pub use transfer::{ConfigDocument, ImportOptions, TransferError, read_9router};
pub use webhooks::{WEBHOOK_FAILURES_TO_DISABLE, Webhook, WebhookDelivery};

/// File name of the database inside the data directory.
pub const DATABASE_FILE: &str = "switchyard.db";

static MIGRATIONS_DIR: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../migrations");

/// Errors from the storage layer. Messages never contain secrets.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database reported an error.
    #[error("database error: {0}")]
    Database(#[from] DbError),
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

impl From<rusqlite::Error> for StoreError {
    fn from(error: rusqlite::Error) -> Self {
        StoreError::Database(DbError::Sqlite(error))
    }
}

impl StoreError {
    /// Whether the database could not be reached (PostgreSQL down or the
    /// connection lost), as opposed to refusing what was asked.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, StoreError::Database(error) if error.is_unreachable())
    }
}

/// Result alias for storage operations.
pub type StoreResult<T> = Result<T, StoreError>;

/// One open connection to the Switchyard database.
pub struct Store {
    conn: Conn,
    path: PathBuf,
    secrets: SecretBox,
    /// Set on PostgreSQL: the address shown and the change feed.
    shared: Option<postgres_store::Shared>,
}

/// The database chosen for this process by [`select_database`].
static SELECTED_DATABASE: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();

/// Chooses the database every [`Store::open_in_dir`] of this process opens:
/// a PostgreSQL URL, or `None` for the data directory's SQLite file.
/// Without a choice, [`DATABASE_URL_ENV`] decides. The first choice stays.
pub fn select_database(url: Option<String>) {
    let _ = SELECTED_DATABASE.set(url.filter(|url| !url.trim().is_empty()));
}

/// The PostgreSQL URL this process uses, if any.
pub fn selected_database() -> Option<String> {
    match SELECTED_DATABASE.get() {
        Some(choice) => choice.clone(),
        None => std::env::var(DATABASE_URL_ENV)
            .ok()
            .filter(|url| !url.trim().is_empty()),
    }
}

/// Which database a store is on, as `/health` and `db status` show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct DatabaseInfo {
    /// `sqlite` or `postgresql`.
    pub engine: &'static str,
    /// The file, or the server's address without the password.
    pub location: String,
}

/// Setting that records where the secrets key is kept.
pub(crate) const KEY_LOCATION_SETTING: &str = "internal.secret_key_location";

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens the process's database (see [`select_database`]): PostgreSQL,
    /// or else the SQLite file in `data_dir` (created if needed); applies
    /// pending migrations.
    pub fn open_in_dir(data_dir: &Path) -> StoreResult<Self> {
        #[cfg(test)]
        if let Some(url) = test_database::url_for(data_dir) {
            return Self::open_postgres(&url, data_dir);
        }
        match selected_database() {
            Some(url) => Self::open_postgres(&url, data_dir),
            None => Self::open_sqlite_in_dir(data_dir),
        }
    }

    /// Opens (creating if needed) the SQLite database in `data_dir`,
    /// whatever the process selected.
    pub fn open_sqlite_in_dir(data_dir: &Path) -> StoreResult<Self> {
        create_private_dir(data_dir)?;
        Self::open(&data_dir.join(DATABASE_FILE))
    }

    /// Opens the PostgreSQL database at `url` and applies pending
    /// migrations; `data_dir` holds the sealing key when
    /// [`SECRET_KEY_ENV`] does not.
    pub fn open_postgres(url: &str, data_dir: &Path) -> StoreResult<Self> {
        postgres_store::open(url, data_dir)
    }

    /// Which database this is.
    pub fn database(&self) -> DatabaseInfo {
        match &self.shared {
            Some(shared) => DatabaseInfo {
                engine: "postgresql",
                location: shared.described.clone(),
            },
            None => DatabaseInfo {
                engine: "sqlite",
                location: self.path.display().to_string(),
            },
        }
    }

    /// Whether the database answers (always for SQLite; for PostgreSQL as
    /// the process's listener last saw it, without a query).
    pub fn reachable(&self) -> bool {
        self.shared
            .as_ref()
            .is_none_or(|shared| shared.feed.reachable())
    }

    /// Which SQL dialect the database speaks.
    pub fn dialect(&self) -> db::Dialect {
        self.conn.dialect()
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
        let conn = Conn::sqlite(conn);
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
                "INSERT INTO settings (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                [KEY_LOCATION_SETTING, location.as_str()],
            )?;
        }
        let store = Self {
            conn,
            path: path.to_owned(),
            secrets,
            shared: None,
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

    /// The SQLite journal mode in effect (`wal` once opened; `postgresql`
    /// on PostgreSQL).
    pub fn journal_mode(&self) -> StoreResult<String> {
        match self.conn.as_sqlite() {
            Some(conn) => Ok(conn.pragma_query_value(None, "journal_mode", |row| row.get(0))?),
            None => Ok("postgresql".into()),
        }
    }

    /// A number that changes whenever another connection commits a change:
    /// cheap to poll, to know when to re-read. SQLite's `data_version`; on
    /// PostgreSQL the change feed's counter (a change to what routing reads,
    /// by any replica; no query).
    pub fn data_version(&self) -> StoreResult<i64> {
        match (&self.shared, self.conn.as_sqlite()) {
            (Some(shared), _) => Ok(shared.feed.version()),
            (None, Some(conn)) => {
                Ok(conn.pragma_query_value(None, "data_version", |row| row.get(0))?)
            }
            (None, None) => Ok(0),
        }
    }

    /// Schema version, i.e. the number of migrations applied.
    pub fn schema_version(&self) -> StoreResult<u32> {
        match self.conn.as_sqlite() {
            Some(conn) => Ok(conn.pragma_query_value(None, "user_version", |row| row.get(0))?),
            None => postgres_store::schema_version(&self.conn),
        }
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

pub(crate) fn create_private_dir(dir: &Path) -> StoreResult<()> {
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
fn conflict_on_unique(error: DbError, message: impl FnOnce() -> String) -> StoreError {
    if error.is_unique_violation() {
        StoreError::Conflict(message())
    } else {
        StoreError::Database(error)
    }
}

/// The store's own tests on PostgreSQL: with `SWITCHYARD_TEST_POSTGRES`
/// set to a server's URL (`cargo xtask test` starts one), every data
/// directory a test opens gets a database of its own on that server.
#[cfg(test)]
pub(crate) mod test_database {
    use std::path::Path;

    /// The variable naming the server.
    const SERVER_ENV: &str = "SWITCHYARD_TEST_POSTGRES";

    /// Whether the tests run on PostgreSQL.
    pub(crate) fn on_postgres() -> bool {
        std::env::var_os(SERVER_ENV).is_some()
    }

    /// Everything stored for `data_dir`, as bytes to search: the SQLite
    /// file, or on PostgreSQL every row of every table as text.
    pub(crate) fn stored_bytes(data_dir: &Path) -> Vec<u8> {
        if !on_postgres() {
            return std::fs::read(data_dir.join(crate::DATABASE_FILE)).unwrap();
        }
        let store = crate::Store::open_in_dir(data_dir).unwrap();
        let tables: Vec<String> = store
            .conn
            .query_rows(
                "SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'",
                crate::db::params![],
            )
            .unwrap()
            .iter()
            .map(|row| row.get(0).unwrap())
            .collect();
        let mut text = String::new();
        for table in tables {
            for row in store
                .conn
                .query_rows(
                    &format!("SELECT CAST(t AS TEXT) FROM {table} t"),
                    crate::db::params![],
                )
                .unwrap()
            {
                text.push_str(&row.get::<_, String>(0).unwrap());
                text.push('\n');
            }
        }
        text.into_bytes()
    }

    /// The database for `data_dir`, created on first use.
    pub(crate) fn url_for(data_dir: &Path) -> Option<String> {
        let server = std::env::var(SERVER_ENV).ok()?;
        let digest = crate::api_keys::hash_api_key(&data_dir.display().to_string());
        let name = format!("t_{}", &digest[..16]);
        let admin = format!("{}/postgres", server.trim_end_matches('/'));
        let mut client = crate::db::connect_postgres(&admin.parse().unwrap()).unwrap();
        let exists = std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    let found = client
                        .query("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
                        .unwrap();
                    if found.is_empty() {
                        // Two threads may race here; the loser sees it exists.
                        let _ = client.batch_execute(&format!("CREATE DATABASE {name}"));
                    }
                })
                .join()
        });
        exists.unwrap();
        Some(format!("{}/{name}", server.trim_end_matches('/')))
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
        if test_database::on_postgres() {
            return;
        }
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
        if test_database::on_postgres() {
            return;
        }
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
