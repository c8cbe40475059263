//! Store errors. The messages are shown to MSP engineers as they are: one paragraph naming the problem
//! and the fix. They never contain a password or a secret (URLs are redacted first).

use std::path::PathBuf;

use crate::secrets::SecretError;

/// Why a store operation failed; the `Display` text is the message shown to the engineer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the database location `{target}` is not understood: {reason}. Fix: give a file path, a \
         `sqlite://` URL or a `postgres://user:password@host:5432/dbname` URL with --database or \
         `[database] url`"
    )]
    /// The `--database` / `[database] url` value is empty, in-memory, or of an unsupported scheme.
    InvalidTarget {
        /// The location as given, with any password redacted.
        target: String,
        /// What is wrong with it.
        reason: String,
    },

    #[error(
        "cannot create or open the database file {path}: {reason}. Fix: choose a writable location \
         with --database or `[database] url`, or fix the permissions of that directory"
    )]
    /// The SQLite file or its directory cannot be created, opened or written.
    Unwritable {
        /// The SQLite file.
        path: PathBuf,
        /// The operating system's or driver's explanation.
        reason: String,
    },

    #[error(
        "PostgreSQL at {url} did not answer: {reason}. Fix: check that the server is running and \
         reachable, and that the host, port, user, password and database name in the URL are right \
         (set it with --database or `[database] url`)"
    )]
    /// The PostgreSQL server refused the connection or did not answer within 10 seconds.
    Unreachable {
        /// The database URL with the password redacted.
        url: String,
        /// The driver's explanation, with the password scrubbed.
        reason: String,
    },

    #[error(
        "the database schema could not be brought up to date: {reason}. Fix: make sure the database \
         user may create tables, and that this database was not written by a newer centralbridge; \
         restore a backup or point --database at a new database"
    )]
    /// Running the embedded migrations failed (no permission, or a schema from a newer version).
    Migration {
        /// The migrator's explanation, with any password scrubbed.
        reason: String,
    },

    #[error(
        "the master key does not match the one the secrets in this database were stored with. Fix: \
         restore the original key (CENTRALBRIDGE_MASTER_KEY or the key file from your backup), or \
         point --database at a new database and run `centralbridge connect` again"
    )]
    /// The key-check value or a stored secret does not decrypt under the given master key.
    WrongMasterKey,

    #[error(transparent)]
    /// Encrypting or decrypting a stored secret failed for a reason other than a wrong key.
    Secret(#[from] SecretError),

    #[error("the database holds a value that cannot be read ({what}): {reason}")]
    /// A stored value (timestamp, JSON, enum text) cannot be parsed back, or a value cannot be
    /// serialized for storage.
    Corrupt {
        /// Which value or column it is.
        what: String,
        /// The parser's explanation.
        reason: String,
    },

    #[error("database error: {0}")]
    /// Any other error from the database driver.
    Database(#[from] sqlx::Error),
}

impl StoreError {
    /// True when the error is about how centralbridge was set up (location, server, key), as opposed to
    /// a failure while working. The CLI maps these to exit code 2.
    pub fn is_setup_error(&self) -> bool {
        matches!(
            self,
            StoreError::InvalidTarget { .. }
                | StoreError::Unwritable { .. }
                | StoreError::Unreachable { .. }
                | StoreError::Migration { .. }
                | StoreError::WrongMasterKey
                | StoreError::Secret(SecretError::WrongKey)
        )
    }
}

/// The store's result type; the error defaults to [`StoreError`].
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
