//! The command line. To add a command `foo`: create `src/cmd/foo.rs` with `pub struct Args` (clap
//! `Args`) and `pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError>`, add `pub mod foo;` to
//! `cmd/mod.rs`, then add ONE variant to [`Command`] and ONE line to [`dispatch`].

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use engine::secrets::{KeySource, MASTER_KEY_ENV, MasterKey};
use engine::store::Store;

use crate::cmd;
use crate::config::{self, Config, ConfigSource, Dirs};
use crate::error::CliError;
use crate::logging::LogFormat;
use crate::messages;
use crate::output::Output;

#[derive(Debug, Parser)]
#[command(
    name = "centralbridge",
    version,
    about = "Connects Sophos Central Partner to ConnectWise PSA: usage billing, alert tickets, status.",
    after_help = messages::EXIT_CODES_HELP,
    arg_required_else_help = true,
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Clone, clap::Args)]
pub struct GlobalArgs {
    /// Config file [default: <user config dir>/centralbridge/config.toml]
    #[arg(long, global = true, value_name = "PATH", env = config::CONFIG_ENV)]
    pub config: Option<PathBuf>,
    /// Database: a SQLite file path or a postgres:// URL (overrides `[database] url`)
    #[arg(long, global = true, value_name = "URL_OR_PATH")]
    pub database: Option<String>,
    /// Log line format (logs go to stderr)
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
    /// Print results as JSON on stdout
    #[arg(long, global = true)]
    pub json: bool,
    /// More log detail (-v debug, -vv trace); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show the effective configuration (secrets redacted) or where it is read from
    Config(cmd::config::Args),
    /// Create the database, or check that it opens and its secrets decrypt
    Store(cmd::store::Args),
    /// Run the ConnectWise and Sophos emulators standalone over a seeded MSP (URLs and credentials printed)
    Sandbox(cmd::sandbox::Args),
    /// Run a sync job now: usage (licence usage into agreement additions) or tickets (alerts into tickets)
    Sync(cmd::sync::Args),
    /// The Sophos product table: selection, billing codes, ConnectWise catalog items
    Products(cmd::products::Args),
    /// Per customer: last run of each sync job, ok or failed, with the error and advice
    Status(cmd::status::Args),
    /// Benchmarks on the sandbox: usage sync (calls vs floor, time, memory) and ticket sync (latency)
    Bench(cmd::bench::Args),
    /// Ticket sync settings and recent alert -> ticket links
    Tickets(cmd::tickets::Args),
    /// Connect to ConnectWise or Sophos Central: values are checked, the connection tested, then saved
    Connect(cmd::connect::Args),
    /// Check both connections and every ConnectWise permission the integration needs (changes nothing)
    Doctor(cmd::doctor::Args),
    /// Read all Sophos tenants and ConnectWise companies and agreements now (the service does it every 24 h)
    Refresh(cmd::refresh::Args),
    /// Map Sophos customers to ConnectWise companies and agreements: suggest, accept, set, clear, list, export, import
    Map(cmd::map::Args),
    /// Run the service: schedules, dashboard, /healthz and metrics, until Ctrl-C or SIGTERM
    Serve(cmd::serve::Args),
    /// The whole job end to end against the built-in emulators, then the dashboard (no setup needed)
    Demo(cmd::demo::Args),
}

/// Runs one command.
pub async fn dispatch(ctx: &Ctx, command: Command) -> Result<(), CliError> {
    match command {
        Command::Config(args) => cmd::config::run(ctx, args).await,
        Command::Store(args) => cmd::store::run(ctx, args).await,
        Command::Sandbox(args) => cmd::sandbox::run(ctx, args).await,
        Command::Sync(args) => cmd::sync::run(ctx, args).await,
        Command::Products(args) => cmd::products::run(ctx, args).await,
        Command::Status(args) => cmd::status::run(ctx, args).await,
        Command::Bench(args) => cmd::bench::run(ctx, args).await,
        Command::Tickets(args) => cmd::tickets::run(ctx, args).await,
        Command::Connect(args) => cmd::connect::run(ctx, args).await,
        Command::Doctor(args) => cmd::doctor::run(ctx, args).await,
        Command::Refresh(args) => cmd::refresh::run(ctx, args).await,
        Command::Map(args) => cmd::map::run(ctx, args).await,
        Command::Serve(args) => cmd::serve::run(ctx, args).await,
        Command::Demo(args) => cmd::demo::run(ctx, args).await,
    }
}

/// What every command gets: the loaded config and the way to print and to open the store.
#[derive(Debug)]
pub struct Ctx {
    pub config: Config,
    pub source: ConfigSource,
    pub dirs: Dirs,
    pub out: Output,
}

impl Ctx {
    /// Loads the config (file, then env, then flags).
    pub fn load(global: GlobalArgs) -> Result<Self, CliError> {
        let dirs = Dirs::detect();
        let env: Vec<(String, String)> = std::env::vars().collect();
        let (mut config, source) = config::load(global.config.as_deref(), &dirs, &env)?;
        if let Some(db) = &global.database {
            config.database.url = Some(db.clone());
        }
        let out = Output { json: global.json };
        Ok(Ctx {
            config,
            source,
            dirs,
            out,
        })
    }

    /// The database location (with any password: never print it; use [`Store::location`]).
    pub fn database_target(&self) -> String {
        self.config.database_target(&self.dirs)
    }

    /// Opens (creating on first use) the store, with the master key from `CENTRALBRIDGE_MASTER_KEY` or
    /// the key file. A new key file is written only after the store has opened and accepted the key,
    /// so a failure leaves nothing behind.
    pub async fn open_store(&self) -> Result<(Store, KeySource), CliError> {
        let key_file = self.config.key_file(&self.dirs);
        let env_key = std::env::var(MASTER_KEY_ENV).ok();
        let (key, source) = MasterKey::resolve(env_key.as_deref(), &key_file)?;
        let store = Store::open(&self.database_target(), key.clone()).await?;
        if let KeySource::New(path) = &source {
            if let Err(e) = key.persist(path) {
                store.close().await;
                return Err(e.into());
            }
            tracing::info!("{}", messages::key_file_created(path));
        }
        Ok((store, source))
    }
}
