//! The binary's error: a message for the engineer and an exit code (0 ok, 1 failure, 2 usage/config).

use std::fmt;

use engine::secrets::SecretError;
use engine::store::StoreError;

use crate::config::ConfigError;

/// Exit code for a failure while working.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for a usage or configuration error.
pub const EXIT_USAGE: u8 = 2;

/// What ends a command: the message printed after `error:` and the process's exit code.
#[derive(Debug)]
pub struct CliError {
    /// The exit code: [`EXIT_FAILURE`], [`EXIT_USAGE`], or 130 for a CLI run stopped by a signal.
    pub code: u8,
    /// What the engineer reads (ends with the fix where there is one).
    pub message: String,
    /// The error it came from, for `source()` chains and `-v` logs.
    pub source: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

impl CliError {
    /// Exits with `code`, saying `message`.
    pub fn new(code: u8, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            source: None,
        }
    }

    /// Bad flags, bad config, unusable database or key: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self::new(EXIT_USAGE, message)
    }

    /// Something failed while working: exit 1.
    pub fn failure(message: impl Into<String>) -> Self {
        Self::new(EXIT_FAILURE, message)
    }

    /// A usage error saying what `e` says, keeping `e` as its source.
    pub fn usage_from(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::usage(e.to_string()).with_source(e)
    }

    /// A failure saying what `e` says, keeping `e` as its source.
    pub fn failure_from(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::failure(e.to_string()).with_source(e)
    }

    /// Keeps `e` as the source.
    pub fn with_source(mut self, e: impl std::error::Error + Send + Sync + 'static) -> Self {
        self.source = Some(Box::new(e));
        self
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::usage(e.0)
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        if e.is_setup_error() {
            CliError::usage_from(e)
        } else {
            CliError::failure_from(e)
        }
    }
}

impl From<SecretError> for CliError {
    fn from(e: SecretError) -> Self {
        CliError::usage_from(e)
    }
}
