//! `centralbridge sandbox`: both vendor emulators, standalone, over a seeded MSP, until Ctrl-C.
//! Users point their own tools (or `centralbridge connect`) at the printed URLs and credentials.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use sandbox::world::WorldConfig;
use sandbox::{Sandbox, SandboxInfo, SandboxOptions};

use crate::context::Ctx;
use crate::error::CliError;
use crate::output::Render;

/// Arguments of `centralbridge sandbox`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Seed of the generated MSP: the same seed gives the same customers, usage and alerts
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Customers that are both a ConnectWise company and a Sophos tenant
    #[arg(long, default_value_t = 36)]
    customers: usize,
    /// ConnectWise companies without a Sophos tenant
    #[arg(long, default_value_t = 6)]
    extra_companies: usize,
    /// Sophos tenants without a ConnectWise company
    #[arg(long, default_value_t = 4)]
    extra_tenants: usize,
    /// Address to listen on (loopback by default)
    #[arg(long, default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port of the ConnectWise emulator (0 picks a free one)
    #[arg(long, default_value_t = 0)]
    connectwise_port: u16,
    /// Port of the Sophos emulator (0 picks a free one)
    #[arg(long, default_value_t = 0)]
    sophos_port: u16,
    /// Serve HTTPS with self-signed certificates written into this directory
    #[arg(long, value_name = "DIR")]
    https: Option<PathBuf>,
    /// Added latency per API call, in milliseconds (both emulators)
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Generated alerts per tenant per hour of emulated time (0: none)
    #[arg(long, default_value_t = 0.5)]
    alert_rate: f64,
    /// Emulated Sophos time runs this many times faster than real time (0: frozen clock)
    #[arg(long, default_value_t = 60.0)]
    speed: f64,
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
             partner id:   {}{}\n\n\
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
    let non_negative = |x: f64| x.is_finite() && x >= 0.0;
    if !non_negative(args.alert_rate) || !non_negative(args.speed) {
        return Err(CliError::usage(
            "--alert-rate and --speed take a number of 0 or more.",
        ));
    }
    if let Some(dir) = &args.https {
        std::fs::create_dir_all(dir).map_err(|e| {
            CliError::usage(format!(
                "Cannot create the certificate directory {}: {e}. Pick a writable --https DIR.",
                dir.display()
            ))
        })?;
    }
    let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC);
    let opts = SandboxOptions {
        world: WorldConfig {
            seed: args.seed,
            customers: args.customers,
            extra_companies: args.extra_companies,
            extra_tenants: args.extra_tenants,
            usage_anchor: (now.year(), now.month()),
        },
        connectwise_bind: SocketAddr::new(args.host, args.connectwise_port),
        sophos_bind: SocketAddr::new(args.host, args.sophos_port),
        https_dir: args.https,
        latency: Duration::from_millis(args.latency_ms),
        alert_rate: args.alert_rate,
        realtime_speed: (args.speed > 0.0).then_some(args.speed),
        start_now: true,
    };
    let sandbox = Sandbox::spawn(opts).await.map_err(|e| {
        CliError::usage(format!(
            "The sandbox could not start: {e}. Choose other ports, or 0 for free ones."
        ))
    })?;
    if ctx.out.json {
        // One line, so a parent process (benchmarks) can read it before the sandbox exits.
        let line = serde_json::to_string(&sandbox.info())
            .map_err(|e| CliError::failure(format!("cannot format the output as JSON: {e}")))?;
        println!("{line}");
    } else {
        ctx.out.emit(&sandbox.info())?;
    }
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    tokio::signal::ctrl_c()
        .await
        .map_err(|e| CliError::failure(format!("cannot wait for Ctrl-C: {e}")))?;
    sandbox.shutdown().await;
    Ok(())
}
