//! The store: everything centralbridge remembers, on SQLite (the default, a file created on first use)
//! or PostgreSQL (chosen by a `postgres://` URL).
//!
//! [`Store`] is the cheap-to-clone handle the rest of the code uses. It wraps one of two backends,
//! [`SqliteStore`] and [`PostgresStore`]. Each *area* of the store (core, mapping, usage, tickets, ...)
//! is one trait, implemented for both backends and for `Store` by the [`store_area!`] macro from a
//! single body per method: the SQL is written once and compiled for both databases.
//!
//! # How to add an area
//!
//! 1. Create `store/<area>.rs` and declare it here: `mod <area>; pub use <area>::*;`.
//! 2. In it, write the trait once with bodies, wrapped in `store_area!`:
//!    ```ignore
//!    use sqlx::Row as _;
//!    use super::{Result, StoreError, to_ms, from_ms, json_text, parse_json};
//!    store_area! {
//!        /// Mappings between Sophos tenants and ConnectWise companies.
//!        pub trait MappingStore {
//!            /// Inserts or replaces one mapping.
//!            async fn put_mapping(&self, tenant_id: &str, company_id: i64) -> Result<()> {
//!                sqlx::query("INSERT INTO mappings (tenant_id, company_id) VALUES ($1, $2) \
//!                             ON CONFLICT (tenant_id) DO UPDATE SET company_id = excluded.company_id")
//!                    .bind(tenant_id).bind(company_id)
//!                    .execute(&self.pool).await?;
//!                Ok(())
//!            }
//!        }
//!    }
//!    ```
//!    Inside a body, `self.pool` is a `SqlitePool` or a `PgPool`, `self.key` the [`MasterKey`], and
//!    `Self::KIND` says which backend you are on, for the rare query that must differ
//!    (`if Self::KIND == BackendKind::Postgres { "... FOR UPDATE SKIP LOCKED" } else { "..." }`).
//!    Arguments must be `name: Type` (no patterns); the receiver must be `&self`.
//! 3. Portable SQL only: `$1` placeholders, `ON CONFLICT ... DO UPDATE`, `RETURNING`. Timestamps are
//!    INTEGER/BIGINT unix milliseconds ([`to_ms`]/[`from_ms`]); JSON is TEXT on both
//!    ([`json_text`]/[`parse_json`]); booleans are INTEGER (SQLite) / BOOLEAN (PostgreSQL) and bind
//!    as `bool`; ids are `INTEGER PRIMARY KEY AUTOINCREMENT` / `BIGINT GENERATED ALWAYS AS IDENTITY`
//!    read as `i64`; bytes are BLOB / BYTEA.
//! 4. Add the migration `NNNN_<area>.sql` to both `migrations/sqlite` and `migrations/postgres`
//!    (0001 core, 0002 mapping, 0003 usage, 0004 tickets, 0005 service, 0006 accounts, 0007 removal acks, 0008 plans; never edit a released one).
//! 5. Test it on both backends with the harness in `tests/it/common/mod.rs` (see `tests/it/store_core.rs`):
//!    `both_backends!(my_test, ...)` turns `async fn my_test(t: TestStore)` into `sqlite::my_test` and
//!    `postgres::my_test`.
//!
//! Callers `use engine::store::{Store, CoreStore, MappingStore}` and call methods on `Store`.

mod accounts;
mod core_area;
mod error;
mod mapping;
mod plans;
mod tickets;
mod usage;

pub use accounts::*;
pub use core_area::*;
pub use error::{Result, StoreError};
pub use mapping::*;
pub use plans::*;
pub use tickets::*;
pub use usage::*;

use std::path::{Path, PathBuf};
use std::str::FromStr as _;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use serde::de::DeserializeOwned;
use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::secrets::{self, MasterKey};

/// Generates an area trait, its impls for [`SqliteStore`] and [`PostgresStore`] (same body, compiled
/// for each) and its impl for [`Store`] (dispatch). See the module docs.
macro_rules! store_area {
    (
        $(#[$tmeta:meta])*
        $vis:vis trait $trait:ident {
            $(
                $(#[$fmeta:meta])*
                async fn $name:ident(&$slf:ident $(, $arg:ident : $argty:ty)* $(,)?) -> $ret:ty
                $body:block
            )*
        }
    ) => {
        $(#[$tmeta])*
        $vis trait $trait {
            $(
                $(#[$fmeta])*
                fn $name(&$slf $(, $arg: $argty)*)
                    -> impl ::std::future::Future<Output = $ret> + ::std::marker::Send;
            )*
        }
        impl $trait for $crate::store::SqliteStore {
            $( async fn $name(&$slf $(, $arg: $argty)*) -> $ret $body )*
        }
        impl $trait for $crate::store::PostgresStore {
            $( async fn $name(&$slf $(, $arg: $argty)*) -> $ret $body )*
        }
        impl $trait for $crate::store::Store {
            $(
                async fn $name(&$slf $(, $arg: $argty)*) -> $ret {
                    match $slf.backend() {
                        $crate::store::Backend::Sqlite(s) => s.$name($($arg),*).await,
                        $crate::store::Backend::Postgres(s) => s.$name($($arg),*).await,
                    }
                }
            )*
        }
    };
}
pub(crate) use store_area;

/// The migrations, embedded by the build script from `migrations/<backend>/`.
mod embedded {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

/// A migrator over embedded `(version, description, sql)` migrations, as sqlx's `migrate!`
/// would build it (same descriptions and checksums, so stores made by either agree).
fn migrator(list: &'static [(i64, &'static str, &'static str)]) -> sqlx::migrate::Migrator {
    use sqlx::SqlSafeStr as _;
    use sqlx::migrate::{Migration, MigrationType, Migrator};
    Migrator {
        migrations: list
            .iter()
            .map(|(version, description, sql)| {
                Migration::new(
                    *version,
                    std::borrow::Cow::Borrowed(*description),
                    MigrationType::Simple,
                    sql.into_sql_str(),
                    sql.starts_with("-- no-transaction"),
                )
            })
            .collect(),
        ignore_missing: false,
        locking: true,
        no_tx: false,
        table_name: std::borrow::Cow::Borrowed("_sqlx_migrations"),
        create_schemas: std::borrow::Cow::Borrowed(&[]),
    }
}

static SQLITE_MIGRATIONS: std::sync::LazyLock<sqlx::migrate::Migrator> =
    std::sync::LazyLock::new(|| migrator(embedded::SQLITE));
static POSTGRES_MIGRATIONS: std::sync::LazyLock<sqlx::migrate::Migrator> =
    std::sync::LazyLock::new(|| migrator(embedded::POSTGRES));

/// Which database a store runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// A SQLite file (the default).
    Sqlite,
    /// A PostgreSQL server, chosen by a `postgres://` URL.
    Postgres,
}

/// The SQLite backend.
#[derive(Clone, Debug)]
pub struct SqliteStore {
    pub(crate) pool: SqlitePool,
    pub(crate) key: MasterKey,
    path: PathBuf,
}

impl SqliteStore {
    /// Which backend this is, for the rare query in an area body that must differ.
    pub const KIND: BackendKind = BackendKind::Sqlite;
}

/// The PostgreSQL backend.
#[derive(Clone, Debug)]
pub struct PostgresStore {
    pub(crate) pool: PgPool,
    pub(crate) key: MasterKey,
    redacted_url: String,
}

impl PostgresStore {
    /// Which backend this is, for the rare query in an area body that must differ.
    pub const KIND: BackendKind = BackendKind::Postgres;
}

/// One of the two backends.
#[derive(Debug)]
pub enum Backend {
    /// The store is a SQLite file.
    Sqlite(SqliteStore),
    /// The store is a PostgreSQL database.
    Postgres(PostgresStore),
}

/// The store handle. Cheap to clone; all clones share one connection pool.
#[derive(Clone, Debug)]
pub struct Store {
    backend: Arc<Backend>,
}

/// Where a store lives, parsed from a path or URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A SQLite file at this path (from a bare path or a `sqlite://` URL).
    Sqlite(PathBuf),
    /// A PostgreSQL URL as given, password included.
    Postgres(String),
}

impl Target {
    /// Parses a file path, a `sqlite://` URL, or a `postgres://`/`postgresql://` URL.
    pub fn parse(target: &str) -> Result<Self> {
        let trimmed = target.trim();
        if trimmed.is_empty() {
            return Err(StoreError::InvalidTarget {
                target: String::new(),
                reason: "it is empty".into(),
            });
        }
        if trimmed.starts_with("postgres://") || trimmed.starts_with("postgresql://") {
            return Ok(Target::Postgres(trimmed.to_owned()));
        }
        if let Some(rest) = trimmed.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            // Drop sqlx-style query options; we always set our own.
            let path = path.split('?').next().unwrap_or(path);
            if path.is_empty() || path == ":memory:" {
                return Err(StoreError::InvalidTarget {
                    target: redact_url(trimmed),
                    reason: "an in-memory or empty SQLite location keeps nothing".into(),
                });
            }
            return Ok(Target::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = trimmed.split_once("://") {
            return Err(StoreError::InvalidTarget {
                target: redact_url(trimmed),
                reason: format!(
                    "`{scheme}` databases are not supported (only SQLite and PostgreSQL)"
                ),
            });
        }
        Ok(Target::Sqlite(PathBuf::from(trimmed)))
    }

    /// The location with any password removed, for messages.
    pub fn display(&self) -> String {
        match self {
            Target::Sqlite(path) => path.display().to_string(),
            Target::Postgres(url) => redact_url(url),
        }
    }
}

impl Store {
    /// Opens (and on first use creates) the store at `target`, brings its schema up to date, and checks
    /// that `key` is the master key its secrets were stored with.
    pub async fn open(target: &str, key: MasterKey) -> Result<Self> {
        let backend = match Target::parse(target)? {
            Target::Sqlite(path) => Backend::Sqlite(open_sqlite(&path, key).await?),
            Target::Postgres(url) => Backend::Postgres(open_postgres(&url, key).await?),
        };
        let store = Store {
            backend: Arc::new(backend),
        };
        store.verify_master_key().await?;
        Ok(store)
    }

    /// The backend, for area impls and for the few callers that must know.
    pub fn backend(&self) -> &Backend {
        &self.backend
    }

    /// Which database this store runs on.
    pub fn kind(&self) -> BackendKind {
        match self.backend() {
            Backend::Sqlite(_) => BackendKind::Sqlite,
            Backend::Postgres(_) => BackendKind::Postgres,
        }
    }

    /// Where the store lives, without passwords.
    pub fn location(&self) -> String {
        match self.backend() {
            Backend::Sqlite(s) => s.path.display().to_string(),
            Backend::Postgres(p) => p.redacted_url.clone(),
        }
    }

    /// The SQLite file, if this is a SQLite store.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self.backend() {
            Backend::Sqlite(s) => Some(&s.path),
            Backend::Postgres(_) => None,
        }
    }

    /// Closes the pool, waiting for connections to finish (SQLite then checkpoints its WAL).
    pub async fn close(&self) {
        match self.backend() {
            Backend::Sqlite(s) => s.pool.close().await,
            Backend::Postgres(p) => p.pool.close().await,
        }
    }
}

async fn open_sqlite(path: &Path, key: MasterKey) -> Result<SqliteStore> {
    let unwritable = |reason: String| StoreError::Unwritable {
        path: path.to_path_buf(),
        reason,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| unwritable(format!("its directory cannot be created ({e})")))?;
    }
    if path.is_dir() {
        return Err(unwritable("it is a directory".into()));
    }
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Normal)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true);
    let pool = SqlitePoolOptions::new()
        .max_connections(8)
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(options)
        .await
        .map_err(|e| unwritable(e.to_string()))?;
    SQLITE_MIGRATIONS.run(&pool).await.map_err(|e| {
        let reason = e.to_string();
        if reason.contains("readonly") || reason.contains("read-only") {
            unwritable(reason)
        } else {
            StoreError::Migration { reason }
        }
    })?;
    Ok(SqliteStore {
        pool,
        key,
        path: path.to_path_buf(),
    })
}

async fn open_postgres(url: &str, key: MasterKey) -> Result<PostgresStore> {
    let redacted = redact_url(url);
    let password = url_password(url);
    let scrub = |text: String| match &password {
        Some(pw) if !pw.is_empty() => text.replace(pw.as_str(), "[REDACTED]"),
        _ => text,
    };
    let options = PgConnectOptions::from_str(url).map_err(|e| StoreError::InvalidTarget {
        target: redacted.clone(),
        reason: scrub(e.to_string()),
    })?;
    // One direct attempt first: the pool would retry a refused connection until its timeout, but a
    // server that is not there should be reported at once.
    let probe = tokio::time::timeout(
        Duration::from_secs(10),
        sqlx::PgConnection::connect_with(&options),
    )
    .await;
    match probe {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
        }
        Ok(Err(e)) => {
            return Err(StoreError::Unreachable {
                url: redacted.clone(),
                reason: scrub(e.to_string()),
            });
        }
        Err(_) => {
            return Err(StoreError::Unreachable {
                url: redacted.clone(),
                reason: "no answer within 10 seconds".into(),
            });
        }
    }
    let pool = PgPoolOptions::new()
        .max_connections(10)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await
        .map_err(|e| StoreError::Unreachable {
            url: redacted.clone(),
            reason: scrub(e.to_string()),
        })?;
    POSTGRES_MIGRATIONS
        .run(&pool)
        .await
        .map_err(|e| StoreError::Migration {
            reason: scrub(e.to_string()),
        })?;
    Ok(PostgresStore {
        pool,
        key,
        redacted_url: redacted,
    })
}

/// Removes the password from a database URL (userinfo and `password=` query parameter).
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{user}:***@{host}"),
            None => format!("{userinfo}@{host}"),
        },
        None => authority.to_owned(),
    };
    let tail = match tail.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((k, _)) if k.eq_ignore_ascii_case("password") => format!("{k}=***"),
                    _ => pair.to_owned(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => tail.to_owned(),
    };
    format!("{scheme}://{authority}{tail}")
}

/// The password in a URL's userinfo or `password=` parameter, to scrub it from driver messages.
fn url_password(url: &str) -> Option<String> {
    let rest = url.split_once("://")?.1;
    let authority = rest.split(['/', '?']).next().unwrap_or("");
    if let Some((userinfo, _)) = authority.rsplit_once('@')
        && let Some((_, pw)) = userinfo.split_once(':')
    {
        return Some(pw.to_owned());
    }
    let query = rest.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        k.eq_ignore_ascii_case("password").then(|| v.to_owned())
    })
}

/// Timestamp -> unix milliseconds, the column format for every time in the store.
pub fn to_ms(ts: jiff::Timestamp) -> i64 {
    ts.as_millisecond()
}

/// Unix milliseconds -> timestamp.
pub fn from_ms(ms: i64) -> Result<jiff::Timestamp> {
    jiff::Timestamp::from_millisecond(ms).map_err(|e| StoreError::Corrupt {
        what: "timestamp".into(),
        reason: e.to_string(),
    })
}

/// A value as JSON text for a TEXT column.
pub fn json_text<T: Serialize + ?Sized>(value: &T) -> Result<String> {
    serde_json::to_string(value).map_err(|e| StoreError::Corrupt {
        what: "JSON to store".into(),
        reason: e.to_string(),
    })
}

/// JSON text from a TEXT column -> value. `what` names the column for the error.
pub fn parse_json<T: DeserializeOwned>(what: &str, text: &str) -> Result<T> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt {
        what: what.into(),
        reason: e.to_string(),
    })
}

/// `now + ttl` in unix milliseconds, saturating.
pub(crate) fn ms_after(now: jiff::Timestamp, ttl: Duration) -> i64 {
    to_ms(now).saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

const KEY_CHECK_NAME: &str = "key_check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"centralbridge master key check";

fn key_check_aad() -> String {
    secrets::aad("store_meta", KEY_CHECK_NAME, "value")
}

impl Store {
    /// Fails with [`StoreError::WrongMasterKey`] if secrets were stored here under another key.
    async fn verify_master_key(&self) -> Result<()> {
        let stored: Option<Vec<u8>> = match self.backend() {
            Backend::Sqlite(s) => {
                sqlx::query_scalar("SELECT value FROM store_meta WHERE name = $1")
                    .bind(KEY_CHECK_NAME)
                    .fetch_optional(&s.pool)
                    .await?
            }
            Backend::Postgres(p) => {
                sqlx::query_scalar("SELECT value FROM store_meta WHERE name = $1")
                    .bind(KEY_CHECK_NAME)
                    .fetch_optional(&p.pool)
                    .await?
            }
        };
        let key = match self.backend() {
            Backend::Sqlite(s) => &s.key,
            Backend::Postgres(p) => &p.key,
        };
        match stored {
            Some(blob) => match secrets::decrypt(key, &blob, &key_check_aad()) {
                Ok(plain) if plain.as_slice() == KEY_CHECK_PLAINTEXT => Ok(()),
                _ => Err(StoreError::WrongMasterKey),
            },
            None => Ok(()),
        }
    }
}

/// The key-check value written with the first secret, so a wrong key is caught at open time.
pub(crate) fn key_check_blob(key: &MasterKey) -> Result<Vec<u8>> {
    Ok(secrets::encrypt(
        key,
        KEY_CHECK_PLAINTEXT,
        &key_check_aad(),
    )?)
}

pub(crate) const KEY_CHECK: &str = KEY_CHECK_NAME;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact_url("postgres://cb:s3cret@db.example:5432/cb?sslmode=require"),
            "postgres://cb:***@db.example:5432/cb?sslmode=require"
        );
        assert_eq!(
            redact_url("postgresql://db/cb?user=x&password=s3cret"),
            "postgresql://db/cb?user=x&password=***"
        );
        assert_eq!(redact_url("postgres://db/cb"), "postgres://db/cb");
        assert_eq!(
            url_password("postgres://cb:s3cret@h/d").as_deref(),
            Some("s3cret")
        );
    }

    #[test]
    fn parses_targets() {
        assert_eq!(
            Target::parse("/tmp/x.db").unwrap(),
            Target::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            Target::parse("sqlite:///tmp/x.db?mode=rwc").unwrap(),
            Target::Sqlite("/tmp/x.db".into())
        );
        assert!(matches!(
            Target::parse("postgresql://h/d").unwrap(),
            Target::Postgres(_)
        ));
        let err = Target::parse("mysql://u:pw@h/d").unwrap_err().to_string();
        assert!(err.contains("mysql") && !err.contains("pw@"), "{err}");
    }
}
