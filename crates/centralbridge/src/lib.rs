//! `centralbridge`: the service, CLI and dashboard connecting Sophos Central Partner to ConnectWise
//! PSA. The binary (`main.rs`) is a thin edge over [`main`]; tests build the service in process
//! through [`service::start`] and drive the commands through [`cli`].

pub mod cli;
pub mod cmd;
pub mod config;
pub mod context;
pub mod error;
pub mod logging;
pub mod messages;
pub mod output;
pub mod service;

use std::process::ExitCode;

use clap::Parser as _;

use crate::error::{CliError, EXIT_FAILURE, EXIT_USAGE};

/// Parses the command line, runs the command and turns its outcome into the exit code.
pub fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with 0; every other clap error is a usage error (2).
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(EXIT_USAGE)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    logging::init(cli.global.log_format, cli.global.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The source's Display, as users see errors: a Debug form could carry more than that.
            let source = std::error::Error::source(&e).map(|s| s.to_string());
            tracing::debug!(code = e.code, source, "command failed");
            eprintln!("error: {}", e.message);
            ExitCode::from(e.code)
        }
    }
}

fn run(cli: cli::Cli) -> Result<(), CliError> {
    let g = &cli.global;
    let mut ctx = context::Ctx::load(g.config.as_deref(), g.database.clone(), g.json)?;
    ctx.apply_rate_flags(g.connectwise_rate, g.sophos_rate);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            CliError::new(EXIT_FAILURE, format!("cannot start the async runtime: {e}"))
                .with_source(e)
        })?;
    runtime.block_on(cli::dispatch(&ctx, cli.command))
}
