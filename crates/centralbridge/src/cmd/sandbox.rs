//! `centralbridge sandbox`: both vendor emulators, standalone, over a seeded MSP, until Ctrl-C.
//! Users point their own tools (or `centralbridge connect`) at the printed URLs and credentials.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use sandbox::sophos::IdHeaderRejection;
use sandbox::world::WorldConfig;
use sandbox::{Sandbox, SandboxInfo, SandboxOptions, VendorKnobs};

use crate::config::{RateSetting, SandboxConfig};
use crate::context::Ctx;
use crate::error::CliError;
use crate::output::Render;

/// Arguments of `centralbridge sandbox`. Every flag left out takes the `[sandbox]` key of the same
/// name (with `_` for `-`) from the config file or its `CENTRALBRIDGE_SANDBOX_*` variable, then
/// the default shown.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seed of the generated MSP: the same seed gives the same customers, usage and alerts
    /// [default: 1]
    #[arg(long)]
    seed: Option<u64>,
    /// Customers that are both a ConnectWise company and a Sophos tenant [default: 36]
    #[arg(long)]
    customers: Option<usize>,
    /// ConnectWise companies without a Sophos tenant [default: 6]
    #[arg(long)]
    extra_companies: Option<usize>,
    /// Sophos tenants without a ConnectWise company [default: 4]
    #[arg(long)]
    extra_tenants: Option<usize>,
    /// Address to listen on [default: 127.0.0.1]
    #[arg(long)]
    host: Option<IpAddr>,
    /// Port of the ConnectWise emulator (0 picks a free one) [default: 0]
    #[arg(long)]
    connectwise_port: Option<u16>,
    /// Port of the Sophos emulator (0 picks a free one; a fixed port P puts the nine regional
    /// API hosts on P+1 to P+9) [default: 0]
    #[arg(long)]
    sophos_port: Option<u16>,
    /// Serve HTTPS with self-signed certificates written into this directory
    #[arg(long, value_name = "DIR")]
    https: Option<PathBuf>,
    /// Added latency per API call, in milliseconds (both emulators) [default: 0]
    #[arg(long, value_name = "MS")]
    latency_ms: Option<u64>,
    /// Generated alerts per tenant per hour of emulated time (0: none) [default: 0.5]
    #[arg(long)]
    alert_rate: Option<f64>,
    /// Emulated Sophos time runs this many times faster than real time (0: frozen clock)
    /// [default: 60]
    #[arg(long)]
    speed: Option<f64>,
    /// ConnectWise rate limit, requests per rolling minute, answered 429 with Retry-After above
    /// it; `real` is ConnectWise's documented ~1,000 a minute per member [default: none]
    #[arg(long, value_name = "N|real", value_parser = per_minute)]
    cw_rate_limit: Option<u32>,
    /// Sophos rate limit, requests per rolling minute [default: none]
    #[arg(long, value_name = "N", value_parser = per_minute)]
    sophos_rate_limit: Option<u32>,
    /// Fixed Retry-After seconds on the 429s [default: the seconds until the window frees a slot]
    #[arg(long, value_name = "SECONDS")]
    retry_after: Option<u64>,
    /// Fraction of requests (0 to 1) answered 500 without being handled, on both emulators
    /// [default: 0]
    #[arg(long, value_name = "F")]
    fault_rate: Option<f64>,
    /// Successful POSTs commit, then wait this long before answering (a client with a shorter
    /// timeout sees a timeout although the record exists), on both emulators
    #[arg(long, value_name = "MS")]
    slow_commit_ms: Option<u64>,
    /// Port of the admin API (loopback only; 0 picks a free one) [default: 0]
    #[arg(long)]
    admin_port: Option<u16>,
    /// ConnectWise's companyinfo sends `IsCloud` as the string "True", as the Developer Guide
    /// shows it [default: the boolean true]
    #[arg(long)]
    is_cloud_as_string: bool,
    /// The ConnectWise codebase the site answers under, e.g. `v2026_1` (as after an upgrade; the
    /// admin API moves it while running) [default: v2025_1]
    #[arg(long)]
    codebase: Option<String>,
    /// ConnectWise setup-table reads (boards, priorities, ...) need System > Table Setup: Inquire,
    /// as on a site whose role restricts Table Setup [default: any member may read them, as the
    /// Developer Guide says]
    #[arg(long)]
    setup_reads_need_inquire: bool,
    /// ConnectWise answers requests without a `clientId` header instead of refusing them with
    /// 400 [default: refused, as the Developer Guide requires the header]
    #[arg(long)]
    no_client_id_check: bool,
    /// Sophos access tokens expire after this many seconds [default: 3600, as Sophos documents]
    #[arg(long, value_name = "SECONDS")]
    token_lifetime: Option<u64>,
    /// Sophos token answers also carry errorCode, message and trackingId (seen, not documented)
    /// [default: the OAuth2 fields only]
    #[arg(long)]
    token_extras: bool,
    /// Sophos's status for a missing X-Partner-ID or X-Tenant-ID: 401, 400 or 403
    /// [default: 401, as Sophos's article says]
    #[arg(long, value_name = "STATUS", value_parser = id_header_status)]
    missing_id_header: Option<u16>,
    /// Emulated seconds between an accepted acknowledge and the alert leaving Sophos's list
    /// [default: 0]
    #[arg(long, value_name = "SECONDS")]
    ack_delay: Option<u64>,
}

fn id_header_status(text: &str) -> Result<u16, String> {
    match text.trim() {
        "401" => Ok(401),
        "400" => Ok(400),
        "403" => Ok(403),
        _ => Err(format!(
            "`{text}` is not one of the statuses Sophos is reported to send. Fix: give 401, 400 or 403."
        )),
    }
}

fn rejection(status: u16) -> IdHeaderRejection {
    match status {
        400 => IdHeaderRejection::BadRequest,
        403 => IdHeaderRejection::Forbidden,
        _ => IdHeaderRejection::Unauthorized,
    }
}

/// The flags and the `[sandbox]` config merged: a flag wins, then the config, then the default.
#[derive(Debug)]
struct Settings {
    world: WorldConfig,
    host: IpAddr,
    connectwise_port: u16,
    sophos_port: u16,
    admin_port: u16,
    https: Option<PathBuf>,
    latency_ms: u64,
    alert_rate: f64,
    speed: f64,
    cw_rate_limit: Option<u32>,
    sophos_rate_limit: Option<u32>,
    retry_after: Option<u64>,
    fault_rate: f64,
    slow_commit_ms: Option<u64>,
    is_cloud_as_string: bool,
    codebase: Option<String>,
    setup_reads_need_inquire: bool,
    knobs: VendorKnobs,
}

/// A config rate (`300` or `"real"`); the config check already refused anything else.
fn rate(r: Option<&RateSetting>) -> Result<Option<u32>, CliError> {
    match r {
        None => Ok(None),
        Some(RateSetting::PerMinute(n)) => per_minute(&n.to_string()).map(Some),
        Some(RateSetting::Preset(p)) => per_minute(p).map(Some),
    }
    .map_err(CliError::usage)
}

impl Settings {
    fn merge(args: Args, cfg: &SandboxConfig) -> Result<Settings, CliError> {
        let host = match (args.host, &cfg.host) {
            (Some(h), _) => h,
            (None, Some(text)) => text.parse().map_err(|_| {
                CliError::usage(format!(
                    "[sandbox] host `{text}` is not an IP address. Fix: e.g. host = \"127.0.0.1\"."
                ))
            })?,
            (None, None) => IpAddr::from([127, 0, 0, 1]),
        };
        let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC);
        let codebase = args
            .codebase
            .or_else(|| cfg.codebase.clone())
            .map(|c| c.trim().trim_matches('/').to_owned());
        if let Some(c) = &codebase
            && (c.is_empty() || !c.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '_'))
        {
            return Err(CliError::usage(format!(
                "--codebase `{c}` is not a codebase. Fix: give one like v2025_1 (letters, digits, _)."
            )));
        }
        Ok(Settings {
            world: WorldConfig {
                seed: args.seed.or(cfg.seed).unwrap_or(1),
                customers: args.customers.or(cfg.customers).unwrap_or(36),
                extra_companies: args.extra_companies.or(cfg.extra_companies).unwrap_or(6),
                extra_tenants: args.extra_tenants.or(cfg.extra_tenants).unwrap_or(4),
                usage_anchor: (now.year(), now.month()),
            },
            host,
            connectwise_port: args.connectwise_port.or(cfg.connectwise_port).unwrap_or(0),
            sophos_port: args.sophos_port.or(cfg.sophos_port).unwrap_or(0),
            admin_port: args.admin_port.or(cfg.admin_port).unwrap_or(0),
            https: args.https.or_else(|| cfg.https.clone()),
            latency_ms: args.latency_ms.or(cfg.latency_ms).unwrap_or(0),
            alert_rate: args.alert_rate.or(cfg.alert_rate).unwrap_or(0.5),
            speed: args.speed.or(cfg.speed).unwrap_or(60.0),
            cw_rate_limit: match args.cw_rate_limit {
                Some(n) => Some(n),
                None => rate(cfg.cw_rate_limit.as_ref())?,
            },
            sophos_rate_limit: match args.sophos_rate_limit {
                Some(n) => Some(n),
                None => rate(cfg.sophos_rate_limit.as_ref())?,
            },
            retry_after: args.retry_after.or(cfg.retry_after),
            fault_rate: args.fault_rate.or(cfg.fault_rate).unwrap_or(0.0),
            slow_commit_ms: args.slow_commit_ms.or(cfg.slow_commit_ms),
            is_cloud_as_string: args.is_cloud_as_string || cfg.is_cloud_as_string == Some(true),
            codebase,
            setup_reads_need_inquire: args.setup_reads_need_inquire
                || cfg.setup_reads_need_inquire == Some(true),
            knobs: VendorKnobs {
                require_client_id: !(args.no_client_id_check
                    || cfg.no_client_id_check == Some(true)),
                token_lifetime: Duration::from_secs(
                    args.token_lifetime
                        .or(cfg.token_lifetime)
                        .unwrap_or(3600)
                        .max(1),
                ),
                token_success_extras: args.token_extras || cfg.token_extras == Some(true),
                id_header_rejection: match args.missing_id_header.or(cfg.missing_id_header) {
                    Some(s @ (400 | 401 | 403)) => rejection(s),
                    Some(other) => {
                        return Err(CliError::usage(format!(
                            "[sandbox] missing_id_header = {other} is not one of 401, 400, 403. \
                             Fix: write one of them."
                        )));
                    }
                    None => IdHeaderRejection::Unauthorized,
                },
                ack_delay: Duration::from_secs(args.ack_delay.or(cfg.ack_delay).unwrap_or(0)),
            },
        })
    }
}

/// ConnectWise's documented limit: about 1,000 requests a minute per API member.
const CW_REAL_PER_MINUTE: u32 = 1000;

fn per_minute(text: &str) -> Result<u32, String> {
    if text.eq_ignore_ascii_case("real") {
        return Ok(CW_REAL_PER_MINUTE);
    }
    match text.trim().parse::<u32>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(format!(
            "`{text}` is not a rate. Fix: give requests per minute (1 or more), or `real` for ConnectWise's 1,000."
        )),
    }
}

/// What `centralbridge sandbox` prints: the emulators' URLs and keys, and the admin API.
#[derive(serde::Serialize)]
struct Printed {
    #[serde(flatten)]
    info: SandboxInfo,
    admin: AdminInfo,
}

/// The admin API's address and token, in clear (it guards only the emulators).
#[derive(serde::Serialize)]
struct AdminInfo {
    url: String,
    token: String,
}

impl Render for Printed {
    fn human(&self) -> String {
        format!(
            "{}\nAdmin API (change faults and play scenarios while it runs; see the README)\n  URL:          {}\n  \
             token:        {}\n  e.g. curl -H \"Authorization: Bearer {}\" {}/v1/state\n",
            self.info.human(),
            self.admin.url,
            self.admin.token,
            self.admin.token,
            self.admin.url
        )
    }
}

impl Render for SandboxInfo {
    fn human(&self) -> String {
        let cw = &self.connectwise;
        let so = &self.sophos;
        let cert = |p: &Option<PathBuf>| {
            p.as_ref()
                .map(|p| format!("\n  certificate:  {}", p.display()))
                .unwrap_or_default()
        };
        format!(
            "Sandbox running: {} ConnectWise companies, {} Sophos tenants. Ctrl-C stops it.\n\n\
             ConnectWise PSA emulator\n  site:         {}\n  API base:     {}\n  company id:   {}\n  public key:   {}\n  \
             private key:  {}\n  clientId:     {}{}\n  \
             technician:   member {}, public key {}, private key {} (for playing the person in\n                \
             ConnectWise: deletes, closes, renames, cancels; not for centralbridge)\n\n\
             Sophos Central emulator\n  token URL:    {}\n  API URL:      {}\n  client id:    {}\n  client secret: {}\n  \
             partner id:   {}{}\n  regions:      {}\n\n\
             Connect centralbridge to it:\n  centralbridge connect connectwise --allow-http --site {} --company-id {} \\\n    \
             --public-key {} --private-key {} --client-id {}\n  centralbridge connect sophos --token-url {} --api-url {} \\\n    \
             --client-id {} --client-secret {}\n",
            self.companies,
            self.tenants,
            cw.site,
            cw.api_base,
            cw.company_id,
            cw.public_key,
            cw.private_key,
            cw.client_id,
            cert(&cw.cert_path),
            cw.technician.member,
            cw.technician.public_key,
            cw.technician.private_key,
            so.token_url,
            so.global_url,
            so.client_id,
            so.client_secret,
            so.partner_id,
            cert(&so.cert_path),
            so.regions
                .iter()
                .map(|(code, url)| format!("{code} {url}"))
                .collect::<Vec<_>>()
                .join("\n                "),
            cw.site,
            cw.company_id,
            cw.public_key,
            cw.private_key,
            cw.client_id,
            so.token_url,
            so.global_url,
            so.client_id,
            so.client_secret,
        )
    }
}

/// Starts both emulators, prints their URLs and credentials (one JSON line with `--json`), and
/// serves until Ctrl-C. Exit 2 on bad flags or when the emulators cannot start.
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let args = Settings::merge(args, &ctx.config.sandbox)?;
    let non_negative = |x: f64| x.is_finite() && x >= 0.0;
    if !non_negative(args.alert_rate) || !non_negative(args.speed) {
        return Err(CliError::usage(
            "--alert-rate and --speed take a number of 0 or more.",
        ));
    }
    if !(0.0..=1.0).contains(&args.fault_rate) {
        return Err(CliError::usage(format!(
            "--fault-rate {} is not a fraction. Fix: give a number from 0 to 1 (0.05 is 5 %).",
            args.fault_rate
        )));
    }
    if let Some(dir) = &args.https {
        std::fs::create_dir_all(dir).map_err(|e| {
            CliError::usage(format!(
                "Cannot create the certificate directory {}: {e}. Pick a writable --https DIR.",
                dir.display()
            ))
        })?;
    }
    let opts = SandboxOptions {
        world: args.world.clone(),
        connectwise_bind: SocketAddr::new(args.host, args.connectwise_port),
        sophos_bind: SocketAddr::new(args.host, args.sophos_port),
        https_dir: args.https.clone(),
        latency: Duration::from_millis(args.latency_ms),
        alert_rate: args.alert_rate,
        realtime_speed: (args.speed > 0.0).then_some(args.speed),
        start_now: true,
        is_cloud_as_string: args.is_cloud_as_string,
        knobs: args.knobs.clone(),
    };
    let sandbox = Sandbox::spawn(opts).await.map_err(|e| {
        CliError::usage(format!(
            "The sandbox could not start: {e}. Choose other ports, or 0 for free ones."
        ))
    })?;
    if let Some(codebase) = &args.codebase {
        sandbox.connectwise.move_codebase(codebase);
    }
    sandbox
        .connectwise
        .set_setup_reads_need_inquire(args.setup_reads_need_inquire);
    for (faults, limit) in [
        (sandbox.connectwise.faults(), args.cw_rate_limit),
        (sandbox.sophos.faults(), args.sophos_rate_limit),
    ] {
        faults.update(|s| {
            s.rate_limit_per_minute = limit;
            s.retry_after = args.retry_after;
            s.fault_rate = args.fault_rate;
            s.slow_commit = args.slow_commit_ms.map(Duration::from_millis);
        });
    }
    let admin = sandbox::admin::Admin::serve(
        sandbox.clone(),
        SocketAddr::from(([127, 0, 0, 1], args.admin_port)),
    )
    .await
    .map_err(|e| {
        CliError::usage(format!(
            "The admin API could not start: {e}. Fix: choose another --admin-port, or 0 for a free one."
        ))
    })?;
    let printed = Printed {
        info: sandbox.info(),
        admin: AdminInfo {
            url: admin.url(),
            token: admin.token().to_owned(),
        },
    };
    if ctx.out.json {
        // One line, so a parent process (benchmarks) can read it before the sandbox exits.
        let line = serde_json::to_string(&printed)
            .map_err(|e| CliError::failure(format!("cannot format the output as JSON: {e}")))?;
        println!("{line}");
    } else {
        ctx.out.emit(&printed)?;
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| CliError::failure(format!("cannot wait for Ctrl-C: {e}")))?;
    admin.shutdown().await;
    sandbox.shutdown().await;
    Ok(())
}
