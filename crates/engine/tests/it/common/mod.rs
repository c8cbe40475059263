//! Shared harness for store tests: a fresh store per test on each backend.
//!
//! ```ignore
//! #[macro_use]
//! mod common;
//! use common::TestStore;
//!
//! async fn settings_round_trip(t: TestStore) { let store = &t.store; /* ... */ }
//! both_backends!(settings_round_trip);   // -> sqlite::settings_round_trip, postgres::settings_round_trip
//! ```
//!
//! SQLite runs in a temporary directory. PostgreSQL creates a fresh database per test from
//! `CENTRALBRIDGE_TEST_PG_URL` (a URL whose user may `CREATE DATABASE`; `.ci/run` starts one) and drops
//! it afterwards. Without that variable the PostgreSQL variants say plainly that they did not run and
//! pass -- unless `CI=true`, where they fail.
#![allow(dead_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Once;

use engine::secrets::MasterKey;
use engine::store::{BackendKind, Store, StoreError};
use sqlx::Connection as _;

pub const PG_URL_ENV: &str = "CENTRALBRIDGE_TEST_PG_URL";

/// Generates, for each named `async fn name(t: TestStore)` in the current module, the tests
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::common::TestStore::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(t) = $crate::common::TestStore::postgres().await {
                        super::$name(t).await;
                    }
                }
            )*
        }
    };
}

/// A fresh store plus what a test needs to reopen it or look at its raw storage.
pub struct TestStore {
    pub store: Store,
    pub key: MasterKey,
    /// What `Store::open` was given (a path or a URL with the password).
    pub target: String,
    pub kind: BackendKind,
    dir: Option<tempfile::TempDir>,
    pg: Option<PgDatabase>,
}

impl TestStore {
    /// A new SQLite store in a temporary directory.
    pub async fn sqlite() -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("data").join("centralbridge.db");
        let target = path.to_string_lossy().into_owned();
        let key = MasterKey::generate().expect("key");
        let store = Store::open(&target, key.clone())
            .await
            .expect("open sqlite store");
        TestStore {
            store,
            key,
            target,
            kind: BackendKind::Sqlite,
            dir: Some(dir),
            pg: None,
        }
    }

    /// A new PostgreSQL store in its own database, or `None` (after saying so) when no server is
    /// configured. Panics when `CI=true` and no server is configured.
    pub async fn postgres() -> Option<Self> {
        let admin_url = match pg_admin_url() {
            Some(url) => url,
            None => return None,
        };
        let name = format!("cb_test_{}", uuid::Uuid::new_v4().simple());
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {PG_URL_ENV}: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\"")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let _ = admin.close().await;
        let target = with_database(&admin_url, &name);
        let key = MasterKey::generate().expect("key");
        let store = Store::open(&target, key.clone())
            .await
            .expect("open postgres store");
        Some(TestStore {
            store,
            key,
            target,
            kind: BackendKind::Postgres,
            dir: None,
            pg: Some(PgDatabase { admin_url, name }),
        })
    }

    /// Opens the same database again with `key` (a second process, or a restart).
    pub async fn reopen(&self, key: MasterKey) -> Result<Store, StoreError> {
        Store::open(&self.target, key).await
    }

    /// The SQLite file (None on PostgreSQL).
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        self.store.sqlite_path().map(|p| p.to_path_buf())
    }

    /// A scratch directory for the test (SQLite only).
    pub fn dir(&self) -> Option<&std::path::Path> {
        self.dir.as_ref().map(|d| d.path())
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
                     may create databases (or run .ci/run). The postgres::* tests in this binary \
                     passed without testing anything."
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

struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for TestStore {
    fn drop(&mut self) {
        let Some(pg) = self.pg.take() else { return };
        // Drop the test database from a separate thread with its own runtime: Drop cannot await,
        // and blocking inside the test's runtime would deadlock a current-thread runtime.
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
