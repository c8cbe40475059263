//! Logging: human-readable lines on stderr by default, JSON lines with `--log-format json`.
//! `RUST_LOG` (if set) replaces the level chosen with `-v`.

use std::io::IsTerminal as _;

use clap::ValueEnum;
use tracing_subscriber::EnvFilter;

/// How log lines on stderr look (`--log-format`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// Readable lines, coloured when stderr is a terminal.
    #[default]
    Human,
    /// One JSON object per line, carrying its run, customer and operation spans.
    Json,
}

/// Our crates log at info by default, debug with `-v`, trace with `-vv`; `-vvv` traces everything.
fn default_filter(verbose: u8) -> String {
    let ours = match verbose {
        0 => "info",
        1 => "debug",
        _ => "trace",
    };
    let others = if verbose >= 3 { "trace" } else { "warn" };
    [
        "centralbridge",
        "engine",
        "connectwise",
        "sophos",
        "sandbox",
    ]
    .iter()
    .fold(others.to_owned(), |acc, c| format!("{acc},{c}={ours}"))
}

/// Installs the log subscriber on stderr: `RUST_LOG` when set, else the level `verbose` (`-v`)
/// picks. A second call in one process does nothing.
pub fn init(format: LogFormat, verbose: u8) {
    let filter = match std::env::var("RUST_LOG") {
        Ok(v) if !v.trim().is_empty() => EnvFilter::new(v),
        _ => EnvFilter::new(default_filter(verbose)),
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second init (tests calling main twice) is harmless, so its error is ignored.
    let _ = match format {
        LogFormat::Human => builder
            .with_ansi(std::io::stderr().is_terminal())
            .with_target(false)
            .try_init(),
        // Each line carries its spans (run, customer, operation), so it can be traced to them.
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .flatten_event(true)
            .try_init(),
    };
}
