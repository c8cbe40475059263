//! The binary's error: a message for the engineer and an exit code (0 ok, 1 failure, 2 usage/config).

use std::fmt;

use engine::secrets::SecretError;
use engine::store::StoreError;

use crate::config::ConfigError;

/// Exit code for a failure while working.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for a usage or configuration error.
pub const EXIT_USAGE: u8 = 2;

#[derive(Debug)]
pub struct CliError {
    pub code: u8,
    pub message: String,
}

impl CliError {
    /// Bad flags, bad config, unusable database or key: exit 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_USAGE,
            message: message.into(),
        }
    }

    /// Something failed while working: exit 1.
    pub fn failure(message: impl Into<String>) -> Self {
        Self {
            code: EXIT_FAILURE,
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<ConfigError> for CliError {
    fn from(e: ConfigError) -> Self {
        CliError::usage(e.0)
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> Self {
        if e.is_setup_error() {
            CliError::usage(e.to_string())
        } else {
            CliError::failure(e.to_string())
        }
    }
}

impl From<SecretError> for CliError {
    fn from(e: SecretError) -> Self {
        CliError::usage(e.to_string())
    }
}
