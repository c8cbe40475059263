//! Stores for tests on both backends.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Once;

use engine::secrets::MasterKey;
use engine::store::{BackendKind, Store, StoreError};
use sqlx::Connection as _;

/// The PostgreSQL server the tests may use: a `postgres://` URL whose user may create databases.
pub const PG_URL_ENV: &str = "CENTRALBRIDGE_TEST_PG_URL";

/// Where a test's store lives: a SQLite file in a temp dir, or a fresh PostgreSQL database
/// (dropped when this is dropped). Either way [`Database::dir`] is a scratch directory.
pub struct Database {
    /// What `Store::open` (or `--database`) takes: a file path or a URL with the password.
    pub url: String,
    /// A scratch directory for the test (the SQLite file lives in it).
    pub dir: tempfile::TempDir,
    /// Which backend the store is on: SQLite or PostgreSQL.
    pub kind: BackendKind,
    pg: Option<PgDatabase>,
}

struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Database {
    /// A SQLite file (not created yet) in a new temp dir.
    pub fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let url = dir
            .path()
            .join("data")
            .join("centralbridge.db")
            .to_string_lossy()
            .into_owned();
        Database {
            url,
            dir,
            kind: BackendKind::Sqlite,
            pg: None,
        }
    }

    /// A new, empty PostgreSQL database, or `None` (after saying so once) when
    /// [`PG_URL_ENV`] is not set. Panics when `CI=true` and it is not set.
    pub async fn postgres() -> Option<Self> {
        let admin_url = pg_admin_url()?;
        let name = format!("cb_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {PG_URL_ENV}: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let _ = admin.close().await;
        Some(Database {
            url: with_database(&admin_url, &name),
            dir: tempfile::tempdir().expect("tempdir"),
            kind: BackendKind::Postgres,
            pg: Some(PgDatabase { admin_url, name }),
        })
    }

    /// Whether this is a PostgreSQL database (on the server named by [`PG_URL_ENV`]).
    pub fn is_postgres(&self) -> bool {
        self.kind == BackendKind::Postgres
    }

    /// The scratch directory.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        let Some(pg) = self.pg.take() else { return };
        // From a thread with its own runtime: Drop cannot await, and blocking inside the test's
        // runtime would deadlock a current-thread runtime.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut admin) = sqlx::PgConnection::connect(&pg.admin_url).await {
                    let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", pg.name);
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut admin)
                        .await;
                    let _ = admin.close().await;
                }
            });
        })
        .join();
    }
}

/// A fresh store opened on a [`Database`], with its key.
pub struct TestStore {
    /// The open store, migrated, ready for the test.
    pub store: Store,
    /// The master key the store encrypts secrets with; [`TestStore::reopen`] with it acts as the
    /// same installation.
    pub key: MasterKey,
    /// Which backend the store is on: SQLite or PostgreSQL.
    pub kind: BackendKind,
    db: Database,
}

impl TestStore {
    /// A new SQLite store in a temporary directory.
    pub async fn sqlite() -> Self {
        Self::open(Database::sqlite()).await
    }

    /// A new PostgreSQL store in its own database, or `None` (after saying so) when no server is
    /// configured. Panics when `CI=true` and no server is configured.
    pub async fn postgres() -> Option<Self> {
        Some(Self::open(Database::postgres().await?).await)
    }

    /// A store with a new key on `db`.
    pub async fn open(db: Database) -> Self {
        let key = MasterKey::generate().expect("key");
        let store = Store::open(&db.url, key.clone())
            .await
            .expect("open the test store");
        TestStore {
            store,
            key,
            kind: db.kind,
            db,
        }
    }

    /// Opens the same database again with `key` (a second process, or a restart).
    pub async fn reopen(&self, key: MasterKey) -> Result<Store, StoreError> {
        Store::open(self.url(), key).await
    }

    /// What `Store::open` was given (a path or a URL with the password).
    pub fn url(&self) -> &str {
        &self.db.url
    }

    /// The SQLite file (None on PostgreSQL).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.store.sqlite_path().map(|p| p.to_path_buf())
    }

    /// A scratch directory for the test (SQLite only, where the file lives).
    pub fn dir(&self) -> Option<&Path> {
        (self.kind == BackendKind::Sqlite).then(|| self.db.dir())
    }
}

/// The admin URL, or None after printing why the PostgreSQL variant did not run.
fn pg_admin_url() -> Option<String> {
    match std::env::var(PG_URL_ENV) {
        Ok(url) if !url.trim().is_empty() => {
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                let _ = writeln!(
                    std::io::stderr(),
                    "PostgreSQL tests run against {} (a fresh database per test)",
                    engine::store::redact_url(&url)
                );
            });
            Some(url)
        }
        _ => {
            if std::env::var("CI").is_ok_and(|v| v == "true" || v == "1") {
                panic!(
                    "CI=true but {PG_URL_ENV} is not set: in CI the PostgreSQL store tests must run. \
                     Run the tests through .ci/run, which starts a throwaway PostgreSQL."
                );
            }
            static SAID: Once = Once::new();
            SAID.call_once(|| {
                // Straight to stderr (not eprintln!) so the test harness does not swallow it.
                let _ = writeln!(
                    std::io::stderr(),
                    "PostgreSQL tests did not run: set {PG_URL_ENV} to a postgres:// URL whose user \
                     may create databases (or run .ci/run). The postgres::* tests passed without \
                     testing anything."
                );
            });
            None
        }
    }
}

/// `url` with its database name replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("URL with ://");
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let query = tail
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{scheme}://{authority}/{name}{query}")
}
