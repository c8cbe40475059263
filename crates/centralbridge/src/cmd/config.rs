//! `centralbridge config`: the effective configuration, secrets redacted.

use std::path::PathBuf;

use clap::Subcommand;
use serde::Serialize;

use crate::config::Config;
use crate::context::Ctx;
use crate::error::CliError;
use crate::output::Render;

/// Arguments of `centralbridge config`: `show` (the default) or `path`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Option<Action>,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Show the effective configuration: file, then CENTRALBRIDGE_* variables, then flags (default)
    Show,
    /// Print the path of the config file that is read
    Path,
}

#[derive(Debug, Serialize)]
struct ConfigView {
    file: PathBuf,
    file_loaded: bool,
    env_overrides: Vec<String>,
    /// Where the database is (password redacted), defaults applied.
    database: String,
    /// Where the master key comes from (never the key itself).
    master_key: String,
    config: Config,
}

impl Render for ConfigView {
    fn human(&self) -> String {
        let mut out = format!(
            "# config file: {} ({})\n",
            self.file.display(),
            if self.file_loaded {
                "read"
            } else {
                "not present: defaults"
            }
        );
        if !self.env_overrides.is_empty() {
            out.push_str(&format!(
                "# overridden by: {}\n",
                self.env_overrides.join(", ")
            ));
        }
        out.push_str(&format!("# database: {}\n", self.database));
        out.push_str(&format!("# master key: {}\n\n", self.master_key));
        out.push_str(&toml::to_string_pretty(&self.config).unwrap_or_default());
        out
    }
}

#[derive(Debug, Serialize)]
struct PathView {
    path: PathBuf,
    exists: bool,
}

impl Render for PathView {
    fn human(&self) -> String {
        self.path.display().to_string()
    }
}

/// Prints the effective configuration (database password redacted), or the config file's path.
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    match args.action.unwrap_or(Action::Show) {
        Action::Path => ctx.out.emit(&PathView {
            path: ctx.source.path.clone(),
            exists: ctx.source.loaded,
        }),
        Action::Show => {
            let master_key = if std::env::var_os(engine::secrets::MASTER_KEY_ENV).is_some() {
                format!("from {}", engine::secrets::MASTER_KEY_ENV)
            } else {
                format!("key file {}", ctx.config.key_file(&ctx.dirs).display())
            };
            ctx.out.emit(&ConfigView {
                file: ctx.source.path.clone(),
                file_loaded: ctx.source.loaded,
                env_overrides: ctx.source.env_overrides.clone(),
                database: engine::store::redact_url(&ctx.database_target()),
                master_key,
                config: ctx.config.redacted(),
            })
        }
    }
}
