//! `centralbridge serve`: the long-running service (schedules, dashboard, `/healthz`, metrics) until
//! Ctrl-C or SIGTERM.

use std::net::SocketAddr;
use std::time::Duration;

use engine::secrets::{MASTER_KEY_ENV, MasterKey};

use crate::config::parse_duration;
use crate::context::Ctx;
use crate::error::CliError;
use crate::service::jobs::EngineRunner;
use crate::service::{self, Job, SchedulerOptions, ServiceOptions, messages};

/// Arguments of `centralbridge serve`; each unset one falls back to the config.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Dashboard address [default: `[service] listen`, 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Prometheus metrics address [default: `[service] metrics_listen`; off when unset]
    #[arg(long, value_name = "ADDR")]
    pub metrics_listen: Option<SocketAddr>,
    /// Company refresh interval [default: `[sync] refresh_interval`, 24h]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub refresh_every: Option<Duration>,
    /// Usage sync interval [default: `[sync] usage_interval`, 24h]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub usage_every: Option<Duration>,
    /// Ticket sync interval [default: `[sync] tickets_interval`, 60s]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub tickets_every: Option<Duration>,
    /// Jobs this process runs (others only serve the dashboard)
    #[arg(long, value_delimiter = ',', default_value = "refresh,usage,tickets", value_parser = job)]
    pub jobs: Vec<Job>,
    /// How long a running job may go on after Ctrl-C/SIGTERM before it is abandoned
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "20s")]
    pub grace: Duration,
    /// Lease length (renewed every third of it while a job runs)
    #[arg(long, value_name = "DURATION", value_parser = duration, default_value = "30s")]
    pub lease: Duration,
    /// Mark cookies `Secure` (set this when the dashboard is served through HTTPS)
    #[arg(long)]
    pub secure_cookies: bool,
}

/// Parses a `--…-every`, `--grace` or `--lease` value such as `90s`, `5m` or `24h` (see
/// [`crate::config::parse_duration`]); the error is the message clap shows.
pub fn duration(text: &str) -> Result<Duration, String> {
    parse_duration(text).ok_or_else(|| format!("`{text}` is not a duration such as 90s, 5m or 24h"))
}

fn job(text: &str) -> Result<Job, String> {
    Job::parse(text.trim())
        .ok_or_else(|| format!("`{text}` is not a job; use refresh, usage, tickets"))
}

fn config_duration(text: &str, key: &str) -> Result<Duration, CliError> {
    parse_duration(text)
        .ok_or_else(|| CliError::usage(format!("`[sync] {key}` = \"{text}\" is not a duration")))
}

/// Resolves the master key the same way [`Ctx::open_store`] did (it exists by then).
pub fn master_key(ctx: &Ctx) -> Result<MasterKey, CliError> {
    let env_key = std::env::var(MASTER_KEY_ENV).ok();
    let (key, _) = MasterKey::resolve(env_key.as_deref(), &ctx.config.key_file(&ctx.dirs))?;
    Ok(key)
}

/// The scheduler options from flags and config.
pub fn scheduler_options(ctx: &Ctx, args: &Args) -> Result<SchedulerOptions, CliError> {
    let sync = &ctx.config.sync;
    let mut opts = SchedulerOptions::new(service::holder_id());
    let every = |flag: Option<Duration>, text: &str, key: &str| match flag {
        Some(d) => Ok(d),
        None => config_duration(text, key),
    };
    let all = [
        (
            Job::Refresh,
            every(
                args.refresh_every,
                &sync.refresh_interval,
                "refresh_interval",
            )?,
        ),
        (
            Job::Usage,
            every(args.usage_every, &sync.usage_interval, "usage_interval")?,
        ),
        (
            Job::Tickets,
            every(
                args.tickets_every,
                &sync.tickets_interval,
                "tickets_interval",
            )?,
        ),
    ];
    opts.intervals = all
        .into_iter()
        .filter(|(j, _)| args.jobs.contains(j))
        .collect();
    opts.grace = args.grace;
    opts.lease_ttl = args.lease.max(Duration::from_secs(3));
    // Look at the store at least as often as the shortest interval.
    let shortest = opts.intervals.values().min().copied().unwrap_or(opts.poll);
    opts.poll = opts.poll.min(shortest).max(Duration::from_millis(200));
    Ok(opts)
}

/// Runs the service until Ctrl-C or SIGTERM, then stops it cleanly. Exit 2 when an address is bad
/// or cannot be bound.
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (store, _) = ctx.open_store().await?;
    let master = master_key(ctx)?;
    let listen = match args.listen {
        Some(a) => a,
        None => ctx.config.service.listen.parse().map_err(|_| {
            CliError::usage(format!(
                "`[service] listen` = \"{}\" is not an address and port",
                ctx.config.service.listen
            ))
        })?,
    };
    let metrics_listen = match args.metrics_listen {
        Some(a) => Some(a),
        None => match &ctx.config.service.metrics_listen {
            Some(text) => Some(text.parse().map_err(|_| {
                CliError::usage(format!(
                    "`[service] metrics_listen` = \"{text}\" is not an address and port"
                ))
            })?),
            None => None,
        },
    };
    let opts = ServiceOptions {
        listen,
        metrics_listen,
        scheduler: scheduler_options(ctx, &args)?,
        secure_cookies: args.secure_cookies,
    };
    let holder = opts.scheduler.holder.clone();
    let runner = EngineRunner::shared(
        ctx.config.sync.concurrency as usize,
        crate::cmd::sync::guard(&ctx.config.sync),
    );
    let running = service::start(store.clone(), master, opts, runner)
        .await
        .map_err(CliError::usage_from)?;
    println!("{}", messages::serve_started(&running.url()));
    if let Some(addr) = running.metrics_addr {
        println!("{}", service::messages::metrics_started(&addr.to_string()));
    }
    if let Some(url) = running.setup_url().await {
        println!("{}", messages::serve_setup(&url));
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    tracing::info!(holder = %holder, "service started");

    service::wait_for_signal().await;
    eprintln!("{}", messages::SHUTTING_DOWN);
    running.shutdown().await;
    store.close().await;
    Ok(())
}
