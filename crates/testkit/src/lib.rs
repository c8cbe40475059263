//! What the integration tests of every crate share, so no test file carries its own copy:
//!
//! - [`db`]: a place for a store on each backend (a SQLite file in a temp dir, or a fresh
//!   PostgreSQL database dropped afterwards) and [`db::TestStore`], a store opened on one;
//!   [`both_backends!`] runs a test on both;
//! - [`cli`]: the `centralbridge` binary as a child process with a private HOME, and its output;
//! - [`connect`]: the two connections saved in a store, pointed at the emulators.
//!
//! Dev-only: no crate depends on it outside `[dev-dependencies]`.

pub mod cli;
pub mod connect;
pub mod db;

pub use cli::{Cli, Ran};
pub use db::{Database, PG_URL_ENV, TestStore, with_database};

/// Generates, for each named `async fn name(t: TestStore)` in the current module, the tests
/// `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::TestStore::sqlite().await).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    if let Some(t) = $crate::TestStore::postgres().await {
                        super::$name(t).await;
                    }
                }
            )*
        }
    };
}
