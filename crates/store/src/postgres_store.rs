//! The store on PostgreSQL, for several replicas on one database: the
//! schema's migrations applied under an advisory lock (replicas starting
//! together apply each once), the sealing key the replicas share, and the
//! change feed: one listener per process on `switchyard_changes`, which the
//! schema's triggers notify when a table the routing snapshot reads changes,
//! so a replica learns of a change within one round trip and the request
//! path reads a counter, not the database.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, LazyLock, Mutex};
use std::time::Duration;

use include_dir::{Dir, include_dir};
use postgres::fallible_iterator::FallibleIterator;

use crate::db::{self, Conn, DbError, params};
use crate::{KEY_LOCATION_SETTING, Store, StoreError, StoreResult, secrets};

/// Environment variable naming the PostgreSQL database to use instead of
/// the data directory's SQLite file (`postgres://user:password@host/db`).
pub const DATABASE_URL_ENV: &str = "SWITCHYARD_DATABASE_URL";

/// Advisory lock held while migrations run (any number, the same everywhere).
const MIGRATION_LOCK: i64 = 0x5377_6974_6368_0001;

/// The channel the schema's triggers notify.
const CHANGES_CHANNEL: &str = "switchyard_changes";

/// Setting holding a value sealed with the database's key, to tell a
/// replica started with another key before it seals anything.
const KEY_CHECK_SETTING: &str = "internal.secret_key_check";

static MIGRATIONS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../../migrations/postgres");

/// A PostgreSQL URL as it may be shown: user, host, port and database, never the password.
pub fn describe_url(url: &str) -> String {
    match db::postgres_config(url) {
        Ok(config) => {
            let host = config
                .get_hosts()
                .first()
                .map(|host| match host {
                    postgres::config::Host::Tcp(name) => name.clone(),
                    postgres::config::Host::Unix(path) => path.display().to_string(),
                })
                .unwrap_or_else(|| "localhost".into());
            let port = config.get_ports().first().copied().unwrap_or(5432);
            format!(
                "postgresql://{}@{host}:{port}/{}",
                config.get_user().unwrap_or("?"),
                config.get_dbname().unwrap_or("?")
            )
        }
        Err(_) => "postgresql://(unreadable address)".into(),
    }
}

/// Opens the store on the PostgreSQL database at `url`, applying pending
/// migrations; `data_dir` is where a key file would be (when
/// [`secrets::SECRET_KEY_ENV`] is not set).
pub(crate) fn open(url: &str, data_dir: &Path) -> StoreResult<Store> {
    let config = db::postgres_config(url).map_err(|error| {
        StoreError::Invalid(format!(
            "{DATABASE_URL_ENV}: not a PostgreSQL address: {error}"
        ))
    })?;
    let conn = Conn::postgres(config.clone()).map_err(|error| {
        StoreError::Invalid(format!(
            "cannot reach the database at {}: {error}",
            describe_url(url)
        ))
    })?;
    migrate(&conn)?;
    let secrets = match secrets::from_environment()? {
        Some(secrets) => secrets,
        None => {
            let recorded: Option<String> = db::OptionalExtension::optional(conn.query_row(
                "SELECT value FROM settings WHERE key = ?1",
                [KEY_LOCATION_SETTING],
                |row| row.get(0),
            ))?;
            crate::create_private_dir(data_dir)?;
            let (secrets, new_location) = secrets::load_or_create(data_dir, recorded.as_deref())?;
            if let Some(location) = new_location {
                conn.execute(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                    [KEY_LOCATION_SETTING, location.as_str()],
                )?;
            }
            secrets
        }
    };
    check_key(&conn, &secrets)?;
    let store = Store {
        conn,
        path: data_dir.join("postgresql"),
        secrets,
        shared: Some(Shared {
            described: describe_url(url),
            feed: ChangeFeed::for_database(url, config),
        }),
    };
    store.seal_plaintext_secrets()?;
    Ok(store)
}

/// What a store on PostgreSQL has beyond its connection.
pub(crate) struct Shared {
    /// The database's address without the password.
    pub(crate) described: String,
    /// The process's listener on the database.
    pub(crate) feed: Arc<ChangeFeed>,
}

/// Refuses a key that cannot open the database's check value (and writes
/// one when there is none yet).
fn check_key(conn: &Conn, secrets: &secrets::SecretBox) -> StoreResult<()> {
    let check: Option<String> = db::OptionalExtension::optional(conn.query_row(
        "SELECT value FROM settings WHERE key = ?1",
        [KEY_CHECK_SETTING],
        |row| row.get(0),
    ))?;
    match check {
        Some(sealed) => secrets.open(&sealed).map(drop).map_err(|_| {
            StoreError::SecretKey(format!(
                "this database's secrets were sealed with another key: give every replica the same {} (or the same key file)",
                secrets::SECRET_KEY_ENV
            ))
        }),
        None => {
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                params![KEY_CHECK_SETTING, secrets.seal("switchyard")],
            )?;
            Ok(())
        }
    }
}

/// The migration files in order, numbered from 1.
fn migration_files() -> Vec<&'static str> {
    let mut files: Vec<_> = MIGRATIONS
        .files()
        .filter(|file| file.path().extension().is_some_and(|ext| ext == "sql"))
        .collect();
    files.sort_by_key(|file| file.path());
    files
        .into_iter()
        .map(|file| file.contents_utf8().expect("migration files are UTF-8"))
        .collect()
}

/// Applies pending migrations, each in its own transaction, holding the
/// migration lock so that replicas starting together apply each only once.
fn migrate(conn: &Conn) -> StoreResult<()> {
    conn.query_row("SELECT pg_advisory_lock(?1)", [MIGRATION_LOCK], |_| Ok(()))?;
    let result = apply_pending(conn);
    let unlocked = conn.query_row(
        "SELECT pg_advisory_unlock(?1)",
        [MIGRATION_LOCK],
        |_| Ok(()),
    );
    result?;
    unlocked?;
    Ok(())
}

fn apply_pending(conn: &Conn) -> StoreResult<()> {
    conn.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version    BIGINT PRIMARY KEY,
             applied_at BIGINT NOT NULL
         )",
    )?;
    let applied: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        params![],
        |row| row.get(0),
    )?;
    let files = migration_files();
    if applied > files.len() as i64 {
        return Err(StoreError::Invalid(format!(
            "the database has schema version {applied}, newer than this Switchyard knows ({}): upgrade Switchyard",
            files.len()
        )));
    }
    for (index, sql) in files.iter().enumerate().skip(applied as usize) {
        let version = index as i64 + 1;
        let transaction = conn.transaction()?;
        transaction.execute_batch(sql)?;
        transaction.execute(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?1, ?2)",
            params![version, crate::now_millis()],
        )?;
        transaction.commit()?;
    }
    Ok(())
}

/// The schema version of a store on PostgreSQL.
pub(crate) fn schema_version(conn: &Conn) -> StoreResult<u32> {
    let version: i64 = conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
        params![],
        |row| row.get(0),
    )?;
    Ok(version as u32)
}

/// A process's listener on one database: a counter that goes up on every
/// change notified (and on every reconnection, when changes may have been
/// missed), and whether the database answers.
pub struct ChangeFeed {
    version: AtomicI64,
    reachable: AtomicBool,
}

/// Listeners by database URL (one per process and database).
static FEEDS: LazyLock<Mutex<HashMap<String, Arc<ChangeFeed>>>> = LazyLock::new(Mutex::default);

/// How often the listener checks that the database still answers.
const PING_EVERY: Duration = Duration::from_secs(2);

impl ChangeFeed {
    /// The listener on `url`, started on first use.
    fn for_database(url: &str, config: postgres::Config) -> Arc<Self> {
        let mut feeds = FEEDS
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(feed) = feeds.get(url) {
            return Arc::clone(feed);
        }
        let feed = Arc::new(Self {
            version: AtomicI64::new(1),
            reachable: AtomicBool::new(true),
        });
        let listening = Arc::clone(&feed);
        let started = std::thread::Builder::new()
            .name("switchyard-changes".into())
            .spawn(move || listening.listen(&config));
        if started.is_err() {
            // Without a listener every look is a change: the snapshot is
            // read again each time rather than kept stale.
            feed.reachable.store(false, Ordering::Relaxed);
        }
        feeds.insert(url.to_owned(), Arc::clone(&feed));
        feed
    }

    /// A number that changes whenever a replica (or the CLI) changed what
    /// routing reads.
    pub fn version(&self) -> i64 {
        self.version.load(Ordering::Acquire)
    }

    /// Whether the database answered the listener's last look.
    pub fn reachable(&self) -> bool {
        self.reachable.load(Ordering::Relaxed)
    }

    fn changed(&self) {
        self.version.fetch_add(1, Ordering::AcqRel);
    }

    /// Listens for ever, reconnecting when the connection is lost.
    fn listen(&self, config: &postgres::Config) {
        loop {
            let connected =
                db::postgres_tls().and_then(|tls| config.connect(tls).map_err(DbError::from));
            match connected {
                Ok(mut client) => {
                    if client
                        .batch_execute(&format!("LISTEN {CHANGES_CHANNEL}"))
                        .is_ok()
                    {
                        self.reachable.store(true, Ordering::Relaxed);
                        // Changes made while nobody listened.
                        self.changed();
                        self.follow(&mut client);
                    }
                    self.reachable.store(false, Ordering::Relaxed);
                    self.changed();
                }
                Err(_) => self.reachable.store(false, Ordering::Relaxed),
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }

    /// Counts notifications until the connection fails.
    fn follow(&self, client: &mut postgres::Client) {
        loop {
            let mut failed = false;
            let mut notifications = client.notifications();
            let mut waiting = notifications.timeout_iter(PING_EVERY);
            #[allow(clippy::while_let_loop)]
            loop {
                match waiting.next() {
                    Ok(Some(_)) => self.changed(),
                    Ok(None) => break,
                    Err(_) => {
                        failed = true;
                        break;
                    }
                }
            }
            drop(waiting);
            drop(notifications);
            if failed || client.is_closed() || client.simple_query("SELECT 1").is_err() {
                return;
            }
        }
    }
}

impl From<postgres::Error> for StoreError {
    fn from(error: postgres::Error) -> Self {
        StoreError::Database(DbError::Postgres(error))
    }
}
