//! Text shown to MSP engineers by the binary, in one place (so it can be translated). Each error is one
//! paragraph: what is wrong, then "Fix:" and what to do.

use std::path::Path;

/// The exit-code table shown at the end of `--help`.
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  success
  1  failure while working (a vendor API or the database failed mid-way)
  2  usage or configuration error (bad flags, bad config, unusable database, wrong master key)";

/// The config file is not valid TOML; `detail` is the parser's message.
pub fn config_syntax(path: &Path, detail: &str) -> String {
    format!(
        "the config file {} is not valid TOML: {}. Fix: correct the line shown, or move the file \
         away to start from the defaults",
        path.display(),
        detail.trim_end()
    )
}

/// The config file named by `--config` or `CENTRALBRIDGE_CONFIG` does not exist.
pub fn config_missing(path: &Path) -> String {
    format!(
        "the config file {} does not exist (it was named by --config or CENTRALBRIDGE_CONFIG). \
         Fix: create it (see README.md, \"Configuration\"), or leave out --config to use the default \
         location",
        path.display()
    )
}

/// The config file is there but cannot be read.
pub fn config_unreadable(path: &Path, err: &std::io::Error) -> String {
    format!(
        "cannot read the config file {}: {err}. Fix: check that it is a file this user may read",
        path.display()
    )
}

/// A `[section]` the config does not have; lists the known ones.
pub fn config_unknown_section(origin: &str, section: &str, known: &[&str]) -> String {
    format!(
        "{origin}: unknown section [{section}]. Fix: remove it or correct its name; the sections \
         are {}",
        list(known, "[", "]")
    )
}

/// A known section written as a single value instead of a `[section]`.
pub fn config_section_not_table(origin: &str, section: &str) -> String {
    format!(
        "{origin}: `{section}` must be a section ([{section}] followed by its keys), not a single \
         value. Fix: write it as a [{section}] section"
    )
}

/// A key outside any section; lists the sections.
pub fn config_top_level_key(origin: &str, key: &str, known: &[&str]) -> String {
    format!(
        "{origin}: unknown key `{key}` outside any section. Fix: every setting belongs to a section \
         ({}); move it under the right one or remove it",
        list(known, "[", "]")
    )
}

/// A key its section does not have; lists the section's keys.
pub fn config_unknown_key(origin: &str, section: &str, key: &str, known: &[&str]) -> String {
    format!(
        "{origin}: unknown key `{section}.{key}`. Fix: remove it or correct its name; the keys of \
         [{section}] are {}",
        list(known, "`", "`")
    )
}

/// A value of the wrong type; `origin` is the file or the variable, `example` a right value.
pub fn config_wrong_type(origin: &str, name: &str, expected: &str, example: &str) -> String {
    format!("{origin}: `{name}` must be {expected}. Fix: write it like {name} = {example}")
}

/// A value of the right type that fails its check for `reason`, with an example of a good one.
pub fn config_bad_value(
    origin: &str,
    name: &str,
    value: &str,
    reason: &str,
    example: &str,
) -> String {
    format!(
        "{origin}: `{name}` = \"{value}\" is not usable: {reason}. Fix: write it like {example}"
    )
}

/// A secret put in the config file or a variable, pointing to the `connect` command that stores it.
pub fn config_secret_in_file(origin: &str, section: &str, key: &str, command: &str) -> String {
    format!(
        "{origin}: `{section}.{key}` must not be in the configuration: secrets are stored encrypted \
         in the database, never in plain text. Fix: remove it from there and store it with \
         `{command}`"
    )
}

/// Logged when a new master key file is written: it must be backed up.
pub fn key_file_created(path: &Path) -> String {
    format!(
        "created a new master key at {}; back it up: without it the stored credentials cannot be \
         decrypted",
        path.display()
    )
}

/// `store check` found no SQLite file at `location`.
pub fn store_missing(location: &str) -> String {
    format!(
        "there is no database at {location} yet. Fix: create it with `centralbridge store init`, or \
         point --database at the right one"
    )
}

fn list(items: &[&str], open: &str, close: &str) -> String {
    items
        .iter()
        .map(|i| format!("{open}{i}{close}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Printed on a CLI run's first Ctrl-C or SIGTERM: it stops after the operation in flight.
pub fn stopping(job: &str) -> String {
    format!(
        "Stopping: the {} finishes the operation in flight, then stops (press Ctrl-C again to stop at \
         once; the next run finishes the job either way).",
        job.to_lowercase()
    )
}

/// Printed on the second Ctrl-C, just before the process exits at once.
pub fn aborting(job: &str) -> String {
    format!(
        "Stopped at once. The {} is recorded as abandoned by its next run, which finishes what was \
         started from its journal.",
        job.to_lowercase()
    )
}

/// The error of a CLI run that stopped on request (exit 130): running it again finishes the job.
pub fn run_stopped(job: &str) -> String {
    format!(
        "The {} was stopped on request after the operation in flight; it is recorded as stopped. \
         Fix: run it again to finish the job (nothing is done twice).",
        job.to_lowercase()
    )
}

/// A `--min-score`, `--floor` or `--margin` value that is not a number from 0 to 1.
pub fn bad_score(text: &str) -> String {
    format!(
        "`{text}` is not a score: a score is a number from 0 to 1 (1.0 = exact matches only). \
         Fix: give e.g. --min-score 0.95"
    )
}

/// The CSV file given to `map import` cannot be read.
pub fn cannot_read_csv(path: &Path, e: &std::io::Error) -> String {
    format!(
        "cannot read {}: {e}. Fix: check the path (and that you may read the file)",
        path.display()
    )
}

/// The `map import` file lacks these columns, so each customer keeps its current values there.
pub fn kept_columns(columns: &[String]) -> String {
    format!(
        "The file has no {} column: each customer keeps its current value (--keep-missing).",
        columns
            .iter()
            .map(|c| format!("`{c}`"))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// `sync tickets --repair` was given without `--once`.
pub fn repair_needs_once() -> String {
    "--repair runs once, not on every cycle. Fix: add --once (or --dry-run to only list the \
     duplicates)"
        .to_owned()
}
