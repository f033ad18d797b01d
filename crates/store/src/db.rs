//! One connection to either database engine — SQLite (embedded, the
//! default) or PostgreSQL (several replicas on one database) — behind the
//! small part of rusqlite's interface the store's modules use: `execute`,
//! `query_row`, prepared statements with `query_map`, transactions and
//! values converted to and from [`Value`].
//!
//! The modules write one SQL text for both engines (`?N` parameters,
//! `INSERT .. ON CONFLICT`, `RETURNING`); [`Conn::dialect`] lets the few
//! queries that cannot be shared (JSON functions) choose. On PostgreSQL the
//! text is translated (`?N` becomes `$N`) and prepared once per connection.
//! The `postgres` client drives its own small runtime, which cannot block
//! inside a caller's tokio runtime (the gateway and the desktop call the
//! store from async tasks), so there each call runs on a scoped thread.

use std::cell::RefCell;
use std::collections::HashMap;
use std::time::Duration;

/// A value in a row or a parameter, as both engines can hold it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// SQL NULL.
    Null,
    /// A 64-bit integer (booleans are stored as 0 and 1).
    Integer(i64),
    /// A double-precision float.
    Real(f64),
    /// UTF-8 text.
    Text(String),
    /// Bytes.
    Blob(Vec<u8>),
}

/// Which engine a connection talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// The embedded SQLite file.
    Sqlite,
    /// A PostgreSQL server.
    Postgres,
}

/// Errors of the connection layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// SQLite reported an error.
    #[error("{0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL reported an error (or the connection failed).
    #[error("{}", postgres_message(.0))]
    Postgres(#[from] postgres::Error),
    /// TLS to PostgreSQL could not be set up (unreadable CA file).
    #[error("{0}")]
    Tls(String),
    /// A query that must return a row returned none.
    #[error("query returned no rows")]
    NoRows,
    /// A column did not hold the type asked for.
    #[error("column {column}: {message}")]
    Type {
        /// Column index.
        column: usize,
        /// What was wrong.
        message: String,
    },
}

/// PostgreSQL's own message (with its detail) rather than "db error".
fn postgres_message(error: &postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => match db.detail() {
            Some(detail) => format!("{} ({detail})", db.message()),
            None => db.message().to_owned(),
        },
        None => error.to_string(),
    }
}

impl DbError {
    /// Whether the error is a UNIQUE (or primary key) violation.
    pub fn is_unique_violation(&self) -> bool {
        match self {
            Self::Sqlite(error) => {
                error.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
            }
            Self::Postgres(error) => {
                error.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION)
                    || error.code() == Some(&postgres::error::SqlState::FOREIGN_KEY_VIOLATION)
            }
            _ => false,
        }
    }

    /// Whether the database could not be reached (as opposed to refusing a statement).
    pub fn is_unreachable(&self) -> bool {
        match self {
            Self::Postgres(error) => {
                // Connection exceptions (08) and the server shutting down (57P).
                let class = error.code().map(|code| code.code()).unwrap_or_default();
                error.is_closed()
                    || error.as_db_error().is_none()
                    || class.starts_with("08")
                    || class.starts_with("57P")
            }
            _ => false,
        }
    }
}

/// Result of the connection layer.
pub type DbResult<T> = Result<T, DbError>;

/// Turns "no rows" into `None`, like rusqlite's extension of the same name.
pub trait OptionalExtension<T> {
    /// `Ok(None)` when the query returned no row.
    fn optional(self) -> DbResult<Option<T>>;
}

impl<T> OptionalExtension<T> for DbResult<T> {
    fn optional(self) -> DbResult<Option<T>> {
        match self {
            Ok(value) => Ok(Some(value)),
            Err(DbError::NoRows) => Ok(None),
            Err(error) => Err(error),
        }
    }
}

/// A Rust value that can be a statement parameter.
pub trait ToValue {
    /// The value as stored.
    fn to_value(&self) -> Value;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

macro_rules! integer_to_value {
    ($($ty:ty),*) => {$(
        impl ToValue for $ty {
            fn to_value(&self) -> Value {
                Value::Integer(*self as i64)
            }
        }
    )*};
}
integer_to_value!(i64, i32, i16, u8, u16, u32, u64, usize);

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Integer(i64::from(*self))
    }
}

impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

/// A Rust value a column can be read into.
pub trait FromValue: Sized {
    /// Converts the stored value (`column` names it in errors).
    fn from_value(value: &Value, column: usize) -> DbResult<Self>;
}

fn type_error<T>(column: usize, value: &Value, wanted: &str) -> DbResult<T> {
    let found = match value {
        Value::Null => "NULL",
        Value::Integer(_) => "an integer",
        Value::Real(_) => "a real",
        Value::Text(_) => "text",
        Value::Blob(_) => "bytes",
    };
    Err(DbError::Type {
        column,
        message: format!("expected {wanted}, found {found}"),
    })
}

impl FromValue for Value {
    fn from_value(value: &Value, _: usize) -> DbResult<Self> {
        Ok(value.clone())
    }
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value, column: usize) -> DbResult<Self> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other, column).map(Some),
        }
    }
}

macro_rules! integer_from_value {
    ($($ty:ty),*) => {$(
        impl FromValue for $ty {
            fn from_value(value: &Value, column: usize) -> DbResult<Self> {
                match value {
                    Value::Integer(number) => <$ty>::try_from(*number).map_err(|_| DbError::Type {
                        column,
                        message: format!("{number} out of range"),
                    }),
                    other => type_error(column, other, "an integer"),
                }
            }
        }
    )*};
}
integer_from_value!(i64, i32, u8, u16, u32, u64, usize);

impl FromValue for bool {
    fn from_value(value: &Value, column: usize) -> DbResult<Self> {
        match value {
            Value::Integer(number) => Ok(*number != 0),
            other => type_error(column, other, "a boolean"),
        }
    }
}

impl FromValue for f64 {
    fn from_value(value: &Value, column: usize) -> DbResult<Self> {
        match value {
            Value::Real(number) => Ok(*number),
            Value::Integer(number) => Ok(*number as f64),
            other => type_error(column, other, "a number"),
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value, column: usize) -> DbResult<Self> {
        match value {
            Value::Text(text) => Ok(text.clone()),
            other => type_error(column, other, "text"),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value, column: usize) -> DbResult<Self> {
        match value {
            Value::Blob(bytes) => Ok(bytes.clone()),
            Value::Text(text) => Ok(text.as_bytes().to_vec()),
            other => type_error(column, other, "bytes"),
        }
    }
}

/// Statement parameters: `params![..]`, an array of values or `[]`.
pub trait Params {
    /// The parameters in order.
    fn into_values(self) -> Vec<Value>;
}

impl<T: ToValue, const N: usize> Params for [T; N] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl<T: ToValue> Params for &[T] {
    fn into_values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}

impl Params for Vec<Value> {
    fn into_values(self) -> Vec<Value> {
        self
    }
}

/// Parameters of mixed types, like rusqlite's macro of the same name.
#[macro_export]
macro_rules! params {
    () => {
        [] as [&dyn $crate::db::ToValue; 0]
    };
    ($($param:expr),+ $(,)?) => {
        [$(&$param as &dyn $crate::db::ToValue),+]
    };
}
pub use crate::params;

/// A column's position (a `usize`; a trait so that `row.get(0)` infers it).
pub trait ColumnIndex {
    /// The position.
    fn position(self) -> usize;
}

impl ColumnIndex for usize {
    fn position(self) -> usize {
        self
    }
}

/// One row of a result, its values in column order.
#[derive(Debug, Clone)]
pub struct Row {
    values: Vec<Value>,
}

impl Row {
    /// The value of column `index` as `T`.
    pub fn get<I: ColumnIndex, T: FromValue>(&self, index: I) -> DbResult<T> {
        let index = index.position();
        match self.values.get(index) {
            Some(value) => T::from_value(value, index),
            None => Err(DbError::Type {
                column: index,
                message: "no such column".into(),
            }),
        }
    }

    /// Number of columns.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the row has no columns.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The values, in column order.
    pub fn into_values(self) -> Vec<Value> {
        self.values
    }
}

/// How to reach a PostgreSQL server, kept to reconnect.
struct Postgres {
    config: postgres::Config,
    client: Option<postgres::Client>,
    /// Statements prepared on `client`, by their SQL text.
    prepared: HashMap<String, postgres::Statement>,
}

enum Engine {
    Sqlite(rusqlite::Connection),
    Postgres(Box<RefCell<Postgres>>),
}

/// One open connection.
pub struct Conn {
    engine: Engine,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Conn")
            .field("dialect", &self.dialect())
            .finish_non_exhaustive()
    }
}

/// How long a PostgreSQL connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Runs `work` off any tokio runtime: the `postgres` client blocks on a
/// runtime of its own, which tokio forbids inside another one.
fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    if tokio::runtime::Handle::try_current().is_err() {
        return work();
    }
    std::thread::scope(|scope| match scope.spawn(work).join() {
        Ok(value) => value,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// Parses a `postgres://` URL (or key=value string) into a client configuration.
pub fn postgres_config(url: &str) -> DbResult<postgres::Config> {
    let mut config: postgres::Config = url.parse()?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    config.application_name("switchyard");
    Ok(config)
}

/// Environment variable naming a PEM file of certificate authorities that
/// the PostgreSQL server's certificate may chain to, besides the system's.
pub const DATABASE_CA_ENV: &str = "SWITCHYARD_DATABASE_CA_FILE";

/// The TLS connector for PostgreSQL: rustls, the server's certificate
/// verified against the system's roots and [`DATABASE_CA_ENV`]'s (made
/// once). Used as the URL's `sslmode` says: `disable` never, `prefer` (the
/// default) when the server offers TLS, `require` always. Unlike libpq, a
/// certificate that does not verify is refused in every mode.
pub fn postgres_tls() -> DbResult<tokio_postgres_rustls::MakeRustlsConnect> {
    static CONFIG: std::sync::OnceLock<Result<std::sync::Arc<rustls::ClientConfig>, String>> =
        std::sync::OnceLock::new();
    let config = CONFIG.get_or_init(|| {
        let mut roots = rustls::RootCertStore::empty();
        let native = rustls_native_certs::load_native_certs();
        roots.add_parsable_certificates(native.certs);
        if let Some(path) = std::env::var_os(DATABASE_CA_ENV) {
            use rustls::pki_types::CertificateDer;
            use rustls::pki_types::pem::PemObject;
            let certificates: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&path)
                .and_then(|certificates| certificates.collect())
                .map_err(|error| {
                    format!(
                        "{DATABASE_CA_ENV}: cannot read certificates from {}: {error}",
                        std::path::Path::new(&path).display()
                    )
                })?;
            for certificate in certificates {
                roots
                    .add(certificate)
                    .map_err(|error| format!("{DATABASE_CA_ENV}: {error}"))?;
            }
        }
        let provider = std::sync::Arc::new(rustls::crypto::ring::default_provider());
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|error| error.to_string())
            .map(|builder| {
                std::sync::Arc::new(builder.with_root_certificates(roots).with_no_client_auth())
            })
    });
    match config {
        Ok(config) => Ok(tokio_postgres_rustls::MakeRustlsConnect::new(
            (**config).clone(),
        )),
        Err(message) => Err(DbError::Tls(message.clone())),
    }
}

/// Opens a connection to PostgreSQL (not used on a tokio runtime's thread).
pub fn connect_postgres(config: &postgres::Config) -> DbResult<postgres::Client> {
    let config = config.clone();
    let tls = postgres_tls()?;
    off_runtime(move || config.connect(tls)).map_err(DbError::from)
}

impl Conn {
    /// Wraps an open SQLite connection.
    pub fn sqlite(connection: rusqlite::Connection) -> Self {
        Self {
            engine: Engine::Sqlite(connection),
        }
    }

    /// Connects to PostgreSQL.
    pub fn postgres(config: postgres::Config) -> DbResult<Self> {
        let client = connect_postgres(&config)?;
        Ok(Self {
            engine: Engine::Postgres(Box::new(RefCell::new(Postgres {
                config,
                client: Some(client),
                prepared: HashMap::new(),
            }))),
        })
    }

    /// Which engine this is.
    pub fn dialect(&self) -> Dialect {
        match self.engine {
            Engine::Sqlite(_) => Dialect::Sqlite,
            Engine::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The SQLite connection, for SQLite-only statements (pragmas, migrations).
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.engine {
            Engine::Sqlite(connection) => Some(connection),
            Engine::Postgres(_) => None,
        }
    }

    /// Runs statements without parameters or results (`;`-separated).
    pub fn execute_batch(&self, sql: &str) -> DbResult<()> {
        match &self.engine {
            Engine::Sqlite(connection) => Ok(connection.execute_batch(sql)?),
            Engine::Postgres(cell) => {
                let mut postgres = cell.borrow_mut();
                let client = postgres.client()?;
                let result = off_runtime(|| client.batch_execute(sql));
                result.map_err(|error| {
                    postgres.forget_if_closed(&error);
                    error.into()
                })
            }
        }
    }

    /// Runs one statement and returns the number of rows it changed.
    pub fn execute(&self, sql: &str, params: impl Params) -> DbResult<usize> {
        let values = params.into_values();
        match &self.engine {
            Engine::Sqlite(connection) => {
                let mut statement = connection.prepare_cached(sql)?;
                Ok(statement
                    .execute(rusqlite::params_from_iter(values.iter().map(sqlite_value)))?)
            }
            Engine::Postgres(cell) => {
                cell.borrow_mut()
                    .run(sql, values, |client, statement, params| {
                        client
                            .execute(statement, params)
                            .map(|count| count as usize)
                    })
            }
        }
    }

    /// Runs a query and returns every row.
    pub fn query_rows(&self, sql: &str, params: impl Params) -> DbResult<Vec<Row>> {
        let values = params.into_values();
        match &self.engine {
            Engine::Sqlite(connection) => {
                let mut statement = connection.prepare_cached(sql)?;
                let columns = statement.column_count();
                let mut rows =
                    statement.query(rusqlite::params_from_iter(values.iter().map(sqlite_value)))?;
                let mut out = Vec::new();
                while let Some(row) = rows.next()? {
                    let mut values = Vec::with_capacity(columns);
                    for index in 0..columns {
                        values.push(from_sqlite(row.get_ref(index)?));
                    }
                    out.push(Row { values });
                }
                Ok(out)
            }
            Engine::Postgres(cell) => {
                let rows = cell
                    .borrow_mut()
                    .run(sql, values, |client, statement, params| {
                        client.query(statement, params)
                    })?;
                rows.iter().map(from_postgres_row).collect()
            }
        }
    }

    /// Runs a query and maps its first row; [`DbError::NoRows`] when there is none.
    pub fn query_row<T>(
        &self,
        sql: &str,
        params: impl Params,
        map: impl FnOnce(&Row) -> DbResult<T>,
    ) -> DbResult<T> {
        let rows = self.query_rows(sql, params)?;
        match rows.first() {
            Some(row) => map(row),
            None => Err(DbError::NoRows),
        }
    }

    /// A statement to run (possibly several times); SQLite caches it.
    pub fn prepare_cached(&self, sql: &str) -> DbResult<Statement<'_>> {
        Ok(Statement {
            conn: self,
            sql: sql.to_owned(),
        })
    }

    /// Same as [`Conn::prepare_cached`].
    pub fn prepare(&self, sql: &str) -> DbResult<Statement<'_>> {
        self.prepare_cached(sql)
    }

    /// The id of the row this connection inserted last (SQLite's rowid;
    /// PostgreSQL's `lastval()`, the identity the last insert drew).
    pub fn last_insert_rowid(&self) -> DbResult<i64> {
        match &self.engine {
            Engine::Sqlite(connection) => Ok(connection.last_insert_rowid()),
            Engine::Postgres(_) => self.query_row("SELECT lastval()", params![], |row| row.get(0)),
        }
    }

    /// Begins a transaction, rolled back unless committed.
    pub fn transaction(&self) -> DbResult<Transaction<'_>> {
        let begin = match self.dialect() {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        };
        self.execute_batch(begin)?;
        Ok(Transaction {
            conn: self,
            open: true,
        })
    }

    /// Same as [`Conn::transaction`] (kept for rusqlite's name).
    pub fn unchecked_transaction(&self) -> DbResult<Transaction<'_>> {
        self.transaction()
    }
}

impl Postgres {
    /// The client, connecting again if the connection was lost.
    fn client(&mut self) -> DbResult<&mut postgres::Client> {
        if self.client.as_ref().is_none_or(postgres::Client::is_closed) {
            self.prepared.clear();
            close(self.client.take());
            self.client = Some(connect_postgres(&self.config)?);
        }
        Ok(self.client.as_mut().expect("connected above"))
    }

    /// Drops a client whose connection closed, so the next call reconnects.
    fn forget_if_closed(&mut self, error: &postgres::Error) {
        let class = error.code().map(|code| code.code()).unwrap_or_default();
        if error.is_closed()
            || error.as_db_error().is_none()
            || class.starts_with("08")
            || class.starts_with("57P")
        {
            close(self.client.take());
            self.prepared.clear();
        }
    }

    /// Prepares `sql` (translated, once per connection) and runs `call`.
    fn run<T: Send>(
        &mut self,
        sql: &str,
        values: Vec<Value>,
        call: impl FnOnce(
            &mut postgres::Client,
            &postgres::Statement,
            &[&(dyn postgres::types::ToSql + Sync)],
        ) -> Result<T, postgres::Error>
        + Send,
    ) -> DbResult<T> {
        self.client()?;
        let statement = match self.prepared.get(sql) {
            Some(statement) => statement.clone(),
            None => {
                let translated = translate(sql);
                let client = self.client.as_mut().expect("connected above");
                let prepared = off_runtime(|| client.prepare(&translated));
                let statement = match prepared {
                    Ok(statement) => statement,
                    Err(error) => {
                        self.forget_if_closed(&error);
                        return Err(error.into());
                    }
                };
                self.prepared.insert(sql.to_owned(), statement.clone());
                statement
            }
        };
        let client = self.client.as_mut().expect("connected above");
        let result = off_runtime(|| {
            let params: Vec<&(dyn postgres::types::ToSql + Sync)> = values
                .iter()
                .map(|value| value as &(dyn postgres::types::ToSql + Sync))
                .collect();
            call(client, &statement, &params)
        });
        result.map_err(|error| {
            self.forget_if_closed(&error);
            error.into()
        })
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        close(self.client.take());
    }
}

/// Drops a client off any tokio runtime: closing blocks on its own runtime.
fn close(client: Option<postgres::Client>) {
    if let Some(client) = client {
        off_runtime(move || drop(client));
    }
}

/// A statement bound to its connection.
pub struct Statement<'conn> {
    conn: &'conn Conn,
    sql: String,
}

impl Statement<'_> {
    /// Runs it and returns the number of rows changed.
    pub fn execute(&mut self, params: impl Params) -> DbResult<usize> {
        self.conn.execute(&self.sql, params)
    }

    /// Runs it and maps every row.
    pub fn query_map<T>(
        &mut self,
        params: impl Params,
        mut map: impl FnMut(&Row) -> DbResult<T>,
    ) -> DbResult<std::vec::IntoIter<DbResult<T>>> {
        let rows = self.conn.query_rows(&self.sql, params)?;
        Ok(rows.iter().map(&mut map).collect::<Vec<_>>().into_iter())
    }

    /// Runs it and maps the first row.
    pub fn query_row<T>(
        &mut self,
        params: impl Params,
        map: impl FnOnce(&Row) -> DbResult<T>,
    ) -> DbResult<T> {
        self.conn.query_row(&self.sql, params, map)
    }

    /// Whether it returns at least one row.
    pub fn exists(&mut self, params: impl Params) -> DbResult<bool> {
        Ok(!self.conn.query_rows(&self.sql, params)?.is_empty())
    }
}

/// An open transaction; dereferences to its connection.
pub struct Transaction<'conn> {
    conn: &'conn Conn,
    open: bool,
}

impl Transaction<'_> {
    /// Commits.
    pub fn commit(mut self) -> DbResult<()> {
        self.open = false;
        self.conn.execute_batch("COMMIT")
    }

    /// Rolls back.
    pub fn rollback(mut self) -> DbResult<()> {
        self.open = false;
        self.conn.execute_batch("ROLLBACK")
    }
}

impl std::ops::Deref for Transaction<'_> {
    type Target = Conn;

    fn deref(&self) -> &Conn {
        self.conn
    }
}

impl Drop for Transaction<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.conn.execute_batch("ROLLBACK");
        }
    }
}

/// `?N` (and bare `?`) parameters as PostgreSQL's `$N`, outside quoted text.
pub fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut next = 1;
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match c {
            '\'' => {
                quoted = !quoted;
                out.push(c);
            }
            '?' if !quoted => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                if digits.is_empty() {
                    digits = next.to_string();
                }
                next = digits.parse::<usize>().unwrap_or(next) + 1;
                out.push('$');
                out.push_str(&digits);
            }
            _ => out.push(c),
        }
    }
    out
}

fn sqlite_value(value: &Value) -> rusqlite::types::Value {
    match value {
        Value::Null => rusqlite::types::Value::Null,
        Value::Integer(number) => rusqlite::types::Value::Integer(*number),
        Value::Real(number) => rusqlite::types::Value::Real(*number),
        Value::Text(text) => rusqlite::types::Value::Text(text.clone()),
        Value::Blob(bytes) => rusqlite::types::Value::Blob(bytes.clone()),
    }
}

fn from_sqlite(value: rusqlite::types::ValueRef<'_>) -> Value {
    use rusqlite::types::ValueRef;
    match value {
        ValueRef::Null => Value::Null,
        ValueRef::Integer(number) => Value::Integer(number),
        ValueRef::Real(number) => Value::Real(number),
        ValueRef::Text(text) => Value::Text(String::from_utf8_lossy(text).into_owned()),
        ValueRef::Blob(bytes) => Value::Blob(bytes.to_vec()),
    }
}

fn from_postgres_row(row: &postgres::Row) -> DbResult<Row> {
    let mut values = Vec::with_capacity(row.len());
    for index in 0..row.len() {
        let value: Value = row.try_get(index)?;
        values.push(value);
    }
    Ok(Row { values })
}

mod postgres_values {
    //! [`Value`] as a PostgreSQL parameter and result: converted to and from
    //! whatever type the server says the column or parameter has.

    use std::error::Error;

    use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};

    use super::Value;

    type BoxError = Box<dyn Error + Sync + Send>;

    impl ToSql for Value {
        fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
            match (self, ty) {
                (Value::Null, _) => Ok(IsNull::Yes),
                (Value::Integer(n), &Type::INT8) => n.to_sql(ty, out),
                (Value::Integer(n), &Type::INT4) => i32::try_from(*n)?.to_sql(ty, out),
                (Value::Integer(n), &Type::INT2) => i16::try_from(*n)?.to_sql(ty, out),
                (Value::Integer(n), &Type::BOOL) => (*n != 0).to_sql(ty, out),
                (Value::Integer(n), &Type::FLOAT8) => (*n as f64).to_sql(ty, out),
                (Value::Integer(n), &Type::FLOAT4) => (*n as f32).to_sql(ty, out),
                (Value::Integer(n), &Type::TEXT | &Type::VARCHAR) => n.to_string().to_sql(ty, out),
                (Value::Real(n), &Type::FLOAT8) => n.to_sql(ty, out),
                (Value::Real(n), &Type::FLOAT4) => (*n as f32).to_sql(ty, out),
                (Value::Real(n), &Type::INT8) => (*n as i64).to_sql(ty, out),
                (Value::Text(text), &Type::BYTEA) => text.as_bytes().to_sql(ty, out),
                (Value::Text(text), _) if <&str as ToSql>::accepts(ty) => {
                    text.as_str().to_sql(ty, out)
                }
                (Value::Text(text), &Type::JSON) => {
                    out.extend_from_slice(text.as_bytes());
                    Ok(IsNull::No)
                }
                (Value::Text(text), &Type::JSONB) => {
                    out.extend_from_slice(&[1]);
                    out.extend_from_slice(text.as_bytes());
                    Ok(IsNull::No)
                }
                (Value::Blob(bytes), &Type::BYTEA) => bytes.as_slice().to_sql(ty, out),
                (value, ty) => Err(format!("cannot pass {value:?} as a {ty} parameter").into()),
            }
        }

        fn accepts(_: &Type) -> bool {
            true
        }

        to_sql_checked!();
    }

    impl<'a> FromSql<'a> for Value {
        fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
            Ok(match *ty {
                Type::INT8 => Value::Integer(i64::from_sql(ty, raw)?),
                Type::INT4 => Value::Integer(i32::from_sql(ty, raw)?.into()),
                Type::INT2 => Value::Integer(i16::from_sql(ty, raw)?.into()),
                Type::OID => Value::Integer(u32::from_sql(ty, raw)?.into()),
                Type::BOOL => Value::Integer(bool::from_sql(ty, raw)?.into()),
                Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
                Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
                Type::NUMERIC => numeric(raw)?,
                Type::BYTEA => Value::Blob(raw.to_vec()),
                Type::JSONB => {
                    Value::Text(String::from_utf8(raw.get(1..).unwrap_or(&[]).to_vec())?)
                }
                _ => Value::Text(String::from_utf8(raw.to_vec())?),
            })
        }

        fn from_sql_null(_: &Type) -> Result<Self, BoxError> {
            Ok(Value::Null)
        }

        fn accepts(_: &Type) -> bool {
            true
        }
    }

    /// A NUMERIC in PostgreSQL's binary form (what `SUM` of a BIGINT
    /// returns): an integer when it has no fraction and fits, else a real.
    fn numeric(raw: &[u8]) -> Result<Value, BoxError> {
        let word = |at: usize| -> Result<i16, BoxError> {
            raw.get(at..at + 2)
                .map(|b| i16::from_be_bytes([b[0], b[1]]))
                .ok_or_else(|| "short NUMERIC".into())
        };
        let digits = word(0)?.max(0) as usize;
        let weight = i32::from(word(2)?);
        let sign = word(4)? as u16;
        let scale = word(6)?;
        if sign == 0xC000 {
            return Ok(Value::Real(f64::NAN));
        }
        let mut whole: i128 = 0;
        let mut real = 0.0f64;
        let mut fraction = false;
        for index in 0..digits {
            let digit = i128::from(word(8 + index * 2)?);
            let power = weight - index as i32;
            real += digit as f64 * 10_000f64.powi(power);
            if power >= 0 {
                whole = whole
                    .saturating_add(digit.saturating_mul(10_000i128.saturating_pow(power as u32)));
            } else if digit != 0 {
                fraction = true;
            }
        }
        let negative = sign == 0x4000;
        if scale == 0 && !fraction {
            let whole = if negative { -whole } else { whole };
            if let Ok(number) = i64::try_from(whole) {
                return Ok(Value::Integer(number));
            }
        }
        Ok(Value::Real(if negative { -real } else { real }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_become_dollar_numbers_outside_quotes() {
        assert_eq!(
            translate("SELECT a FROM t WHERE b = ?1 AND c = '?' AND d = ?2"),
            "SELECT a FROM t WHERE b = $1 AND c = '?' AND d = $2"
        );
        assert_eq!(translate("VALUES (?, ?)"), "VALUES ($1, $2)");
    }

    #[test]
    fn sqlite_round_trips_values() {
        let conn = Conn::sqlite(rusqlite::Connection::open_in_memory().unwrap());
        conn.execute_batch("CREATE TABLE t (a INTEGER, b TEXT, c REAL, d BLOB)")
            .unwrap();
        conn.execute(
            "INSERT INTO t VALUES (?1, ?2, ?3, ?4)",
            params![7i64, "x", 1.5, vec![1u8, 2]],
        )
        .unwrap();
        let row = conn
            .query_row("SELECT a, b, c, d FROM t", [] as [i64; 0], |row| {
                Ok((
                    row.get::<_, i64>(0)?,
                    row.get::<_, String>(1)?,
                    row.get::<_, f64>(2)?,
                    row.get::<_, Vec<u8>>(3)?,
                ))
            })
            .unwrap();
        assert_eq!(row, (7, "x".into(), 1.5, vec![1, 2]));
        let missing = conn.query_row("SELECT a FROM t WHERE a = 8", [] as [i64; 0], |row| {
            row.get::<_, i64>(0)
        });
        assert!(matches!(missing.optional(), Ok(None)));
    }
}
