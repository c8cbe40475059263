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
    /// Lease length (renewed every third of it while a job runs) [default: `[sync] lease`, 30s]
    #[arg(long, value_name = "DURATION", value_parser = duration)]
    pub lease: Option<Duration>,
    /// Mark cookies `Secure` (set this when a proxy serves the dashboard through HTTPS; they are
    /// always `Secure` with --tls-cert)
    #[arg(long)]
    pub secure_cookies: bool,
    /// Serve HTTPS with this certificate chain (PEM) [default: `[service] tls_cert`]
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// The certificate's private key (PEM) [default: `[service] tls_key`]
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// A reverse proxy in front terminates HTTPS: allows a non-loopback --listen without
    /// --tls-cert, marks cookies `Secure`, and takes the client address from X-Forwarded-For
    /// [default: `[service] behind_proxy`]
    #[arg(long)]
    pub behind_proxy: bool,
}

/// The dashboard's TLS files, from the flags or `[service]`; both or neither.
fn tls_files(ctx: &Ctx, args: &Args) -> Result<Option<service::TlsFiles>, CliError> {
    let cert = args
        .tls_cert
        .clone()
        .or_else(|| ctx.config.service.tls_cert.clone());
    let key = args
        .tls_key
        .clone()
        .or_else(|| ctx.config.service.tls_key.clone());
    match (cert, key) {
        (Some(cert), Some(key)) => Ok(Some(service::TlsFiles { cert, key })),
        (None, None) => Ok(None),
        _ => Err(CliError::usage(
            "Only one of the dashboard's certificate and key is set. Fix: set both --tls-cert and \
             --tls-key (or `[service] tls_cert` and `tls_key`), or neither.",
        )),
    }
}

/// Session lifetimes from `[service]`, and the default throttling.
fn auth_policy(ctx: &Ctx) -> Result<service::auth::Policy, CliError> {
    let s = &ctx.config.service;
    let get = |text: &str, key: &str| {
        parse_duration(text).ok_or_else(|| {
            CliError::usage(format!("`[service] {key}` = \"{text}\" is not a duration"))
        })
    };
    Ok(service::auth::Policy {
        idle: get(&s.session_idle, "session_idle")?,
        absolute: get(&s.session_max, "session_max")?,
        ..service::auth::Policy::default()
    })
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
    let lease = match args.lease {
        Some(l) => l,
        None => config_duration(&sync.lease, "lease")?,
    };
    opts.lease_ttl = lease.max(Duration::from_secs(3));
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
    let tls = tls_files(ctx, &args)?;
    let behind_proxy = args.behind_proxy || ctx.config.service.behind_proxy;
    // Beyond loopback, passwords and cookies must not cross the network in clear.
    if !listen.ip().is_loopback() && tls.is_none() && !behind_proxy {
        return Err(CliError::usage(messages::exposed_without_tls(
            &listen.to_string(),
        )));
    }
    let opts = ServiceOptions {
        listen,
        metrics_listen,
        scheduler: scheduler_options(ctx, &args)?,
        secure_cookies: args.secure_cookies || behind_proxy,
        tls,
        behind_proxy,
        auth: auth_policy(ctx)?,
        approval_required: ctx.config.usage.approval == crate::config::Approval::Required,
    };
    let holder = opts.scheduler.holder.clone();
    let runner = EngineRunner {
        concurrency: ctx.config.sync.concurrency as usize,
        guard: crate::cmd::sync::guard(&ctx.config.sync),
        approval_required: opts.approval_required,
    }
    .into_shared();
    let running = service::start(store.clone(), master, opts, runner)
        .await
        .map_err(CliError::usage_from)?;
    println!("{}", messages::serve_started(&running.url()));
    if let Some(addr) = running.metrics_addr {
        println!("{}", service::messages::metrics_started(&addr.to_string()));
    }
    if let Some(url) = running.setup_url().await {
        // The link logs whoever opens it in as admin: shown on a terminal, never into a log or
        // a journal that keeps stdout.
        if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            println!("{}", messages::serve_setup_admin(&url));
        } else {
            println!("{}", messages::SERVE_NO_ACCOUNT);
        }
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
