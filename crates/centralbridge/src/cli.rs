//! The command line. To add a command `foo`: create `src/cmd/foo.rs` with `pub struct Args` (clap
//! `Args`) and `pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError>`, add `pub mod foo;` to
//! `cmd/mod.rs`, then add ONE variant to [`Command`] and ONE line to [`dispatch`].

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::cmd;
use crate::config;
use crate::context::Ctx;
use crate::error::CliError;
use crate::logging::LogFormat;
use crate::messages;

#[derive(Debug, Parser)]
#[command(
    name = "centralbridge",
    version,
    about = "Connects Sophos Central Partner to ConnectWise PSA: usage billing, alert tickets, status.",
    after_help = messages::EXIT_CODES_HELP,
    arg_required_else_help = true,
    propagate_version = true
)]
/// The parsed command line: the global flags and the one command to run.
pub struct Cli {
    /// Flags every command accepts.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The command to run.
    #[command(subcommand)]
    pub command: Command,
}

/// Flags every command accepts, before or after the command name.
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
    /// Our own pace toward ConnectWise: requests per minute, or `off` (overrides `[connectwise]
    /// requests_per_minute`; default 900)
    #[arg(long, global = true, value_name = "N|off", value_parser = parse_limit)]
    pub connectwise_rate: Option<config::Limit>,
    /// Our own pace toward each Sophos host: requests per minute, or `off` (overrides `[sophos]
    /// requests_per_minute`; default 300)
    #[arg(long, global = true, value_name = "N|off", value_parser = parse_limit)]
    pub sophos_rate: Option<config::Limit>,
    /// More log detail (-v debug, -vv trace); RUST_LOG overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

fn parse_limit(text: &str) -> Result<config::Limit, String> {
    config::Limit::parse(text).ok_or_else(|| {
        format!("`{text}` is neither a number of requests per minute (1 or more) nor `off`")
    })
}

/// Every command; [`dispatch`] runs each one.
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
    /// Saved usage plans: list, show, approve (applied exactly, or refused naming what moved), discard
    Plans(cmd::plans::Args),
    /// Sophos usage against what ConnectWise bills, per customer and product, with drift and status
    Reconcile(cmd::reconcile::Args),
    /// Additions removed in ConnectWise on purpose: acknowledge (not billed by choice), withdraw, list
    Removals(cmd::removals::Args),
    /// The audit log: who changed what, when and why, with names; filter by time, kind, customer
    Audit(cmd::audit::Args),
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
    /// The dashboard's named accounts: add, list, passwd, role, disable, enable, sessions
    Users(cmd::users::Args),
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
        Command::Removals(args) => cmd::removals::run(ctx, args).await,
        Command::Plans(args) => cmd::plans::run(ctx, args).await,
        Command::Reconcile(args) => cmd::reconcile::run(ctx, args).await,
        Command::Audit(args) => cmd::audit::run(ctx, args).await,
        Command::Bench(args) => cmd::bench::run(ctx, args).await,
        Command::Tickets(args) => cmd::tickets::run(ctx, args).await,
        Command::Connect(args) => cmd::connect::run(ctx, args).await,
        Command::Doctor(args) => cmd::doctor::run(ctx, args).await,
        Command::Refresh(args) => cmd::refresh::run(ctx, args).await,
        Command::Map(args) => cmd::map::run(ctx, args).await,
        Command::Serve(args) => cmd::serve::run(ctx, args).await,
        Command::Users(args) => cmd::users::run(ctx, args).await,
        Command::Demo(args) => cmd::demo::run(ctx, args).await,
    }
}
