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
    /// Prints `value` on stdout in the chosen format. A reader that went away (`| head`) is not
    /// an error: the rest is simply not wanted.
    pub fn emit<T: Render>(&self, value: &T) -> Result<(), CliError> {
        let mut text = if self.json {
            serde_json::to_string_pretty(value)
                .map_err(|e| CliError::failure(format!("cannot format the output as JSON: {e}")))?
        } else {
            value.human()
        };
        if !text.ends_with('\n') {
            text.push('\n');
        }
        use std::io::Write as _;
        let mut out = std::io::stdout().lock();
        match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
            Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                Err(CliError::failure(format!("cannot write to stdout: {e}")))
            }
            _ => Ok(()),
        }
    }
}

/// A quantity as tables show it: whole numbers without decimals, `-` when unknown.
pub fn qty(q: Option<f64>) -> String {
    match q {
        Some(q) if q.fract() == 0.0 => format!("{q:.0}"),
        Some(q) => q.to_string(),
        None => "-".to_owned(),
    }
}

/// An amount as tables show it: two decimals, `-` when unknown (never shown as 0).
pub fn money(x: Option<f64>) -> String {
    x.map_or_else(|| "-".to_owned(), |x| format!("{x:.2}"))
}
