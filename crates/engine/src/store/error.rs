//! Store errors. The messages are shown to MSP engineers as they are: one paragraph naming the problem
//! and the fix. They never contain a password or a secret (URLs are redacted first).

use std::path::PathBuf;

use crate::secrets::SecretError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(
        "the database location `{target}` is not understood: {reason}. Fix: give a file path, a \
         `sqlite://` URL or a `postgres://user:password@host:5432/dbname` URL with --database or \
         `[database] url`"
    )]
    InvalidTarget { target: String, reason: String },

    #[error(
        "cannot create or open the database file {path}: {reason}. Fix: choose a writable location \
         with --database or `[database] url`, or fix the permissions of that directory"
    )]
    Unwritable { path: PathBuf, reason: String },

    #[error(
        "PostgreSQL at {url} did not answer: {reason}. Fix: check that the server is running and \
         reachable, and that the host, port, user, password and database name in the URL are right \
         (set it with --database or `[database] url`)"
    )]
    Unreachable { url: String, reason: String },

    #[error(
        "the database schema could not be brought up to date: {reason}. Fix: make sure the database \
         user may create tables, and that this database was not written by a newer centralbridge; \
         restore a backup or point --database at a new database"
    )]
    Migration { reason: String },

    #[error(
        "the master key does not match the one the secrets in this database were stored with. Fix: \
         restore the original key (CENTRALBRIDGE_MASTER_KEY or the key file from your backup), or \
         point --database at a new database and run `centralbridge connect` again"
    )]
    WrongMasterKey,

    #[error(transparent)]
    Secret(#[from] SecretError),

    #[error("the database holds a value that cannot be read ({what}): {reason}")]
    Corrupt { what: String, reason: String },

    #[error("database error: {0}")]
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

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
