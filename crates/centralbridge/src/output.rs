//! Printing command results: human text by default, one JSON document with `--json`.

use serde::Serialize;

use crate::error::CliError;

/// Something a command prints: serialisable for `--json`, and with a human rendering.
pub trait Render: Serialize {
    /// The text printed without `--json` (a final newline is added when missing).
    fn human(&self) -> String;
}

/// How a command prints its result: human text, or one JSON document with `--json`.
#[derive(Debug, Clone, Copy)]
pub struct Output {
    /// Print one pretty-printed JSON document on stdout instead of the human text.
    pub json: bool,
}

impl Output {
    /// Prints `value` on stdout in the chosen format.
    pub fn emit<T: Render>(&self, value: &T) -> Result<(), CliError> {
        if self.json {
            let text = serde_json::to_string_pretty(value)
                .map_err(|e| CliError::failure(format!("cannot format the output as JSON: {e}")))?;
            println!("{text}");
        } else {
            let text = value.human();
            if text.ends_with('\n') {
                print!("{text}");
            } else {
                println!("{text}");
            }
        }
        Ok(())
    }
}
