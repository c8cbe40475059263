//! `centralbridge bench usage`: the usage sync on a sandbox of N tenants that enforces the vendors'
//! rate limits (429 + `Retry-After` beyond them) with a per-call latency, the client pacing itself
//! as it does for users; prints, for a first run and for unchanged re-runs reading the additions
//! through the report and per agreement, the calls per vendor, the wall time against the floor
//! (calls ÷ allowed rate), the 429s received and peak memory. An unchanged re-run must write
//! nothing.
//!
//! The emulators run in this process (so the peak RSS printed includes them: it is an upper bound
//! for the sync's own).

use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Subcommand;
use engine::job::{Door, Job, Run, RunReport as _, StartOptions};
use engine::store::{Mapping, MappingSource, MappingStore as _, MappingWrite, NewAudit, Store};
use engine::usage::{self, Month, SyncOptions};
use sandbox::connectwise::{CwConfig, CwEmulator};
use sandbox::sophos::{SophosConfig, SophosEmulator};
use sandbox::world::{World, WorldConfig};
use serde::Serialize;

use crate::context::Ctx;
use crate::error::CliError;
use crate::output::Render;

/// Arguments of `centralbridge bench`: which benchmark to run.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Usage sync on a sandbox: calls vs the floor, wall time, peak memory, then an unchanged re-run
    Usage(UsageArgs),
    /// Ticket sync: alert -> ticket latency p50/p99, API calls per cycle, duplicates
    Tickets(super::bench_tickets::Args),
}

/// Arguments of `centralbridge bench usage`.
#[derive(Debug, clap::Args)]
pub struct UsageArgs {
    /// Sophos tenants (each a ConnectWise company; about 70% are monthly with ~6 products)
    #[arg(long, default_value_t = 5000)]
    tenants: usize,
    /// Added latency per API call, in milliseconds (both emulators)
    #[arg(long, default_value_t = 50)]
    latency_ms: u64,
    /// Customers synced at once
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seed of the generated MSP
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Run the emulators inside this process instead of a `centralbridge sandbox` child process
    /// (the peak RSS then includes them)
    #[arg(long)]
    in_process: bool,
    #[command(flatten)]
    limits: Limits,
}

/// The vendors' limits the emulators enforce and the clients' own pace, as both benchmarks take
/// them.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct Limits {
    /// The rate ConnectWise allows, requests per minute (its emulator answers 429 with
    /// `Retry-After` beyond it)
    #[arg(long, default_value_t = 1000)]
    pub cw_limit: u32,
    /// The rate each Sophos host allows, requests per minute
    #[arg(long, default_value_t = 600)]
    pub sophos_limit: u32,
    /// The client's own pace toward ConnectWise (as `--connectwise-rate`), requests per minute
    #[arg(long, default_value_t = connectwise::DEFAULT_REQUESTS_PER_MINUTE)]
    pub cw_pace: u32,
    /// The client's own pace toward each Sophos host (as `--sophos-rate`), requests per minute
    #[arg(long, default_value_t = sophos::DEFAULT_REQUESTS_PER_MINUTE)]
    pub sophos_pace: u32,
}

/// Runs the chosen benchmark and prints its report. Exit 1 when the usage sync had failed customers
/// or its unchanged re-run wrote, or when the ticket bench found a duplicate or a lost alert.
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    match args.action {
        Action::Usage(a) => usage_bench(ctx, a).await,
        Action::Tickets(a) => super::bench_tickets::run(ctx, a).await,
    }
}

/// One run's figures.
#[derive(Debug, Serialize)]
pub struct RunFigures {
    /// Which run this is: `first run`, or a `re-run` (nothing changed, so it must write nothing)
    /// reading the additions through the report or per agreement.
    pub label: String,
    /// Where the additions came from: `report` or `per_agreement` (with why, when it fell back).
    pub additions_read: String,
    /// Sophos HTTP answers received during the run.
    pub sophos_calls: u64,
    /// ConnectWise requests made during the run.
    pub connectwise_calls: u64,
    /// Of those, the POST, PATCH, PUT and DELETE calls; the re-run must have none.
    pub connectwise_writes: u64,
    /// ConnectWise calls that were not writes (reads, discovery, checks).
    pub connectwise_reads: u64,
    /// 429 answers received, both vendors (each honoured).
    pub rate_limited: u64,
    /// The least time these calls can take at the vendors' limits (calls ÷ allowed rate, the
    /// slower vendor), in seconds.
    pub floor_seconds: f64,
    /// Wall-clock time of the sync alone, in seconds.
    pub wall_seconds: f64,
    /// `wall_seconds ÷ floor_seconds`.
    pub wall_over_floor: f64,
    /// Peak resident memory of this process so far (VmHWM), in MB.
    pub peak_rss_mb: f64,
    /// Agreement additions the run created.
    pub created: usize,
    /// Agreement additions whose quantity the run changed.
    pub updated: usize,
    /// Agreement additions already at the right quantity.
    pub unchanged: usize,
    /// Customers whose sync failed; any makes the benchmark exit 1.
    pub failed_customers: usize,
}

/// What `bench usage` prints: the sandbox's size and each run's figures.
#[derive(Debug, Serialize)]
pub struct BenchReport {
    /// Sophos tenants in the generated MSP (`--tenants`).
    pub tenants: usize,
    /// Latency added to every emulator call, in milliseconds.
    pub latency_ms: u64,
    /// What ConnectWise allows (the emulator enforces it), requests per minute.
    pub connectwise_limit: u32,
    /// What each Sophos host allows, requests per minute.
    pub sophos_limit: u32,
    /// The client's own pace toward ConnectWise, requests per minute.
    pub connectwise_pace: u32,
    /// The client's own pace toward each Sophos host, requests per minute.
    pub sophos_pace: u32,
    /// Customers billed monthly (MSP Flex) that have an active agreement.
    pub monthly_customers: usize,
    /// Lines in the month's usage listing: tenant lines plus the emulator's lines with no tenant.
    pub usage_lines: u64,
    /// Customers mapped to their true company and an active agreement before the runs.
    pub mapped_agreements: usize,
    /// Peak RSS after the setup (refresh, mapping), before the first sync.
    pub setup_peak_rss_mb: f64,
    /// The first run, then the unchanged re-run.
    pub runs: Vec<RunFigures>,
    /// Where the emulators ran, and so what the peak memory figures include.
    pub note: &'static str,
}

/// Where the emulators run, and how to reach them.
struct Endpoints {
    cw_site: String,
    cw_company: String,
    cw_public: String,
    cw_private: String,
    cw_client_id: String,
    token_url: String,
    global_url: String,
    sophos_id: String,
    sophos_secret: String,
}

/// What the bench needs of the generated MSP: the true pairs (tenant id, company identifier) and
/// the counts it prints. In child mode it comes from the sandbox's admin API (`GET /v1/world`),
/// so the generated world is not held in the measured process.
struct Truth {
    pairs: Vec<(String, String)>,
    /// Monthly (MSP Flex) tenants whose company has an active agreement.
    monthly: usize,
    /// Lines in the month's usage listing (the emulator adds two without a tenant).
    usage_lines: u64,
}

impl Truth {
    fn of(world: &World) -> Truth {
        let mut t = Truth {
            pairs: Vec::new(),
            monthly: 0,
            usage_lines: 2,
        };
        for c in &world.customers {
            if let Some(tenant) = &c.tenant {
                t.usage_lines += tenant.usage.len() as u64;
            }
            let (Some(tenant), Some(company)) = (&c.tenant, &c.company) else {
                continue;
            };
            if tenant.billing == sandbox::world::BillingType::Usage
                && company.agreements.iter().any(|a| a.status == "Active")
            {
                t.monthly += 1;
            }
            t.pairs
                .push((tenant.id.clone(), company.identifier.clone()));
        }
        t
    }

    /// The answer key of a running `centralbridge sandbox`.
    async fn from_admin(admin_url: &str, token: &str) -> Result<Truth, CliError> {
        let http = clientkit::http_client()
            .build()
            .map_err(|e| fail("sandbox admin API")(e.to_string()))?;
        let body: serde_json::Value = http
            .get(format!("{}/v1/world", admin_url.trim_end_matches('/')))
            .bearer_auth(token)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(|e| fail("sandbox admin API")(e.to_string()))?
            .json()
            .await
            .map_err(|e| fail("sandbox admin API")(e.to_string()))?;
        let mut t = Truth {
            pairs: Vec::new(),
            monthly: 0,
            usage_lines: 2,
        };
        for c in body["customers"].as_array().into_iter().flatten() {
            t.usage_lines += c["usage_lines"].as_u64().unwrap_or(0);
            let (Some(tenant), Some(company)) =
                (c["tenant_id"].as_str(), c["company_identifier"].as_str())
            else {
                continue;
            };
            if c["billing"] == "usage" && c["active_agreements"].as_u64().unwrap_or(0) > 0 {
                t.monthly += 1;
            }
            t.pairs.push((tenant.to_owned(), company.to_owned()));
        }
        Ok(t)
    }
}

const NOTE_IN_PROCESS: &str =
    "emulators in this process: the peak RSS includes both emulators and their data";
const NOTE_CHILD: &str = "emulators in a `centralbridge sandbox` child process: the peak RSS is the sync's own \
     (with the refresh and mapping that precede it)";

impl Render for BenchReport {
    fn human(&self) -> String {
        let mut out = format!(
            "usage sync benchmark: {} tenants ({} monthly, {} usage lines, {} mapped agreements), {} ms per call\n\
             limits enforced: ConnectWise {}/min, Sophos {}/min per host; the client paces itself to {}/min and {}/min\n",
            self.tenants,
            self.monthly_customers,
            self.usage_lines,
            self.mapped_agreements,
            self.latency_ms,
            self.connectwise_limit,
            self.sophos_limit,
            self.connectwise_pace,
            self.sophos_pace
        );
        out.push_str(&format!(
            "peak RSS after setup (refresh + mapping, before the sync): {:.0} MB\n",
            self.setup_peak_rss_mb
        ));
        let mut t = comfy_table::Table::new();
        t.load_style(comfy_table::presets::ASCII_MARKDOWN)
            .set_header(vec![
                "run",
                "additions read",
                "CW calls",
                "CW writes",
                "CW reads",
                "Sophos calls",
                "429s",
                "floor",
                "wall",
                "wall/floor",
                "peak RSS",
                "created/updated/unchanged",
                "failed",
            ]);
        for r in &self.runs {
            t.add_row(vec![
                r.label.clone(),
                r.additions_read.clone(),
                r.connectwise_calls.to_string(),
                r.connectwise_writes.to_string(),
                r.connectwise_reads.to_string(),
                r.sophos_calls.to_string(),
                r.rate_limited.to_string(),
                format!("{:.1} s", r.floor_seconds),
                format!("{:.1} s", r.wall_seconds),
                format!("{:.2}", r.wall_over_floor),
                format!("{:.0} MB", r.peak_rss_mb),
                format!("{}/{}/{}", r.created, r.updated, r.unchanged),
                r.failed_customers.to_string(),
            ]);
        }
        out.push_str(&format!("{t}\n"));
        out.push_str(&format!("({})\n", self.note));
        out
    }
}

/// Peak resident set size of this process (VmHWM), in MB.
fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(0.0)
}

fn fail(what: &str) -> impl Fn(String) -> CliError + '_ {
    move |e| CliError::failure(format!("{what}: {e}"))
}

async fn usage_bench(ctx: &Ctx, a: UsageArgs) -> Result<(), CliError> {
    let now = jiff::tz::Offset::UTC.to_datetime(jiff::Timestamp::now());
    // The month the sandbox has usage for: `centralbridge sandbox` anchors usage at the current month.
    let month = Month {
        year: now.year(),
        month: now.month(),
    };
    let dir = std::env::temp_dir().join(format!(
        "centralbridge-bench-{}",
        uuid::Uuid::new_v4().simple()
    ));
    let result = if a.in_process {
        let world = Arc::new(World::generate(WorldConfig {
            seed: a.seed,
            customers: a.tenants,
            extra_companies: 0,
            extra_tenants: 0,
            usage_anchor: (month.year, month.month),
        }));
        let cw_emu = CwEmulator::spawn(CwConfig::new(world.clone()))
            .await
            .map_err(|e| fail("ConnectWise emulator")(e.to_string()))?;
        let mut scfg = SophosConfig::new(world.clone());
        scfg.alert_rate = 0.0;
        let sophos_emu = SophosEmulator::spawn(scfg)
            .await
            .map_err(|e| fail("Sophos emulator")(e.to_string()))?;
        let c = cw_emu.credentials();
        let s = sophos_emu.credentials();
        let ends = Endpoints {
            cw_site: cw_emu.site_url(),
            cw_company: c.company_id.clone(),
            cw_public: c.public_key.clone(),
            cw_private: secrecy::ExposeSecret::expose_secret(&c.private_key).to_owned(),
            cw_client_id: c.client_id.clone(),
            token_url: sophos_emu.token_url(),
            global_url: sophos_emu.global_url(),
            sophos_id: s.client_id.clone(),
            sophos_secret: secrecy::ExposeSecret::expose_secret(&s.client_secret).to_owned(),
        };
        let latency = Duration::from_millis(a.latency_ms);
        cw_emu.faults().set_latency(latency);
        sophos_emu.faults().set_latency(latency);
        cw_emu
            .faults()
            .set_rate_limit(Some(a.limits.cw_limit.max(1)));
        sophos_emu
            .faults()
            .set_rate_limit(Some(a.limits.sophos_limit.max(1)));
        let r = bench_in(&a, &Truth::of(&world), month, &ends, &dir, NOTE_IN_PROCESS).await;
        cw_emu.shutdown().await;
        sophos_emu.shutdown().await;
        r
    } else {
        let mut child = spawn_sandbox(&a)?;
        let r = match read_endpoints(&mut child).await {
            Ok((ends, admin_url, token)) => match Truth::from_admin(&admin_url, &token).await {
                Ok(truth) => bench_in(&a, &truth, month, &ends, &dir, NOTE_CHILD).await,
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        // Our own child, by its handle.
        let _ = child.kill();
        let _ = child.wait();
        r
    };
    let _ = std::fs::remove_dir_all(&dir);
    let report = result?;
    let bad = report.runs.iter().any(|r| r.failed_customers > 0)
        || report.runs.get(1).is_some_and(|r| r.connectwise_writes > 0);
    ctx.out.emit(&report)?;
    if bad {
        return Err(CliError::failure(
            "the benchmark's sync had failed customers, or the unchanged re-run wrote to ConnectWise",
        ));
    }
    Ok(())
}

fn spawn_sandbox(a: &UsageArgs) -> Result<std::process::Child, CliError> {
    let exe = std::env::current_exe().map_err(|e| fail("locating centralbridge")(e.to_string()))?;
    std::process::Command::new(exe)
        .args([
            "sandbox",
            "--json",
            "--extra-companies",
            "0",
            "--extra-tenants",
            "0",
        ])
        .args(["--alert-rate", "0", "--speed", "0"])
        .args(["--customers", &a.tenants.to_string()])
        .args(["--seed", &a.seed.to_string()])
        .args(["--latency-ms", &a.latency_ms.to_string()])
        .args(["--cw-rate-limit", &a.limits.cw_limit.max(1).to_string()])
        .args([
            "--sophos-rate-limit",
            &a.limits.sophos_limit.max(1).to_string(),
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| fail("starting `centralbridge sandbox`")(e.to_string()))
}

/// The sandbox prints its URLs and credentials as one JSON line.
async fn read_endpoints(
    child: &mut std::process::Child,
) -> Result<(Endpoints, String, String), CliError> {
    use std::io::BufRead as _;
    let out = child
        .stdout
        .take()
        .ok_or_else(|| fail("sandbox")("no stdout".to_owned()))?;
    let line = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        std::io::BufReader::new(out)
            .read_line(&mut line)
            .map(|_| line)
    })
    .await
    .map_err(|e| fail("sandbox")(e.to_string()))?
    .map_err(|e| fail("sandbox")(e.to_string()))?;
    if line.trim().is_empty() {
        return Err(fail("sandbox")(
            "it exited before printing its URLs".to_owned(),
        ));
    }
    let v: serde_json::Value =
        serde_json::from_str(&line).map_err(|e| fail("sandbox output")(e.to_string()))?;
    let s = |path: &[&str]| -> Result<String, CliError> {
        let mut cur = &v;
        for p in path {
            cur = &cur[*p];
        }
        cur.as_str()
            .map(str::to_owned)
            .ok_or_else(|| fail("sandbox output")(format!("missing {}", path.join("."))))
    };
    let ends = Endpoints {
        cw_site: s(&["connectwise", "site"])?,
        cw_company: s(&["connectwise", "company_id"])?,
        cw_public: s(&["connectwise", "public_key"])?,
        cw_private: s(&["connectwise", "private_key"])?,
        cw_client_id: s(&["connectwise", "client_id"])?,
        token_url: s(&["sophos", "token_url"])?,
        global_url: s(&["sophos", "global_url"])?,
        sophos_id: s(&["sophos", "client_id"])?,
        sophos_secret: s(&["sophos", "client_secret"])?,
    };
    Ok((ends, s(&["admin", "url"])?, s(&["admin", "token"])?))
}

fn cw_writes(stats: &connectwise::Stats) -> u64 {
    stats
        .by_status
        .iter()
        .filter(|(k, _)| {
            ["POST", "PATCH", "PUT", "DELETE"]
                .iter()
                .any(|m| k.starts_with(m))
        })
        .map(|(_, n)| *n)
        .sum()
}

async fn bench_in(
    a: &UsageArgs,
    truth: &Truth,
    month: Month,
    ends: &Endpoints,
    dir: &std::path::Path,
    note: &'static str,
) -> Result<BenchReport, CliError> {
    let key = engine::secrets::MasterKey::generate().map_err(|e| fail("key")(e.to_string()))?;
    let store = Store::open(&dir.join("bench.db").to_string_lossy(), key).await?;
    let mut cfg = connectwise::CwConfig::new(
        ends.cw_site.clone(),
        ends.cw_company.clone(),
        ends.cw_public.clone(),
        secrecy::SecretString::from(ends.cw_private.clone()),
        ends.cw_client_id.clone(),
    );
    cfg.allow_http = true;
    cfg.max_concurrency = a.concurrency.max(1);
    cfg.rate_limit = connectwise::RateLimit::per_minute(a.limits.cw_pace);
    let cw = connectwise::Client::connect(cfg)
        .await
        .map_err(|e| fail("ConnectWise client")(e.to_string()))?;
    let mut scfg = sophos::SophosConfig::new(
        ends.sophos_id.clone(),
        secrecy::SecretString::from(ends.sophos_secret.clone()),
    );
    scfg.token_url = ends.token_url.clone();
    scfg.global_url = ends.global_url.clone();
    scfg.rate_limit = sophos::RateLimit::per_minute(a.limits.sophos_pace);
    scfg.max_concurrency = 16;
    scfg.page_size.usage = 1000;
    scfg.page_size.tenants = 100;
    let sophos = sophos::Client::connect(scfg)
        .await
        .map_err(|e| fail("Sophos client")(e.to_string()))?;

    // Setup (not measured): refresh, map every customer to its true company and first active
    // agreement with usage sync on, select every product.
    let run = begin(&store, Job::Refresh).await?;
    let refreshed = engine::mapping::refresh(
        &store,
        Some(&sophos),
        Some(&cw),
        "",
        &Default::default(),
        &run,
    )
    .await;
    run.finish(&refreshed.run_end())
        .await
        .map_err(|e| fail("refresh")(e.to_string()))?;
    refreshed.map_err(|e| fail("refresh")(e.to_string()))?;
    let mapped = map_true_pairs(&store, &truth.pairs).await?;
    usage::select_all(&store, "bench")
        .await
        .map_err(|e| fail("select")(e.to_string()))?;

    let (monthly, usage_lines) = (truth.monthly, truth.usage_lines);
    let setup_peak_rss_mb = peak_rss_mb();
    let mut runs = Vec::new();
    for (label, additions) in [
        ("first run", usage::bulk::AdditionsRead::Auto),
        ("re-run", usage::bulk::AdditionsRead::Report),
        ("re-run", usage::bulk::AdditionsRead::PerAgreement),
    ] {
        let cw_before = cw.stats();
        let so_before = sophos.stats();
        let started = Instant::now();
        let run = begin(&store, Job::Usage).await?;
        let report = usage::run(
            &store,
            &cw,
            &sophos,
            &SyncOptions {
                month: Some(month),
                concurrency: a.concurrency,
                additions,
                ..SyncOptions::default()
            },
            &run,
        )
        .await;
        run.finish(&report.run_end())
            .await
            .map_err(|e| fail("usage sync")(e.to_string()))?;
        let report = report.map_err(|e| fail("usage sync")(e.to_string()))?;
        let wall = started.elapsed().as_secs_f64();
        let cw_after = cw.stats();
        let so_after = sophos.stats();
        let cw_calls = cw_after.requests - cw_before.requests;
        let so_calls = so_after.total_requests() - so_before.total_requests();
        let writes = cw_writes(&cw_after) - cw_writes(&cw_before);
        let rate_limited = cw_429s(&cw_after) - cw_429s(&cw_before) + so_after.count_status(429)
            - so_before.count_status(429);
        // At the vendors' limits: the ConnectWise calls at its rate, the Sophos ones (the usage
        // listing, on one host) at a host's; the slower bounds the run.
        let floor_seconds = (cw_calls as f64 * 60.0 / f64::from(a.limits.cw_limit.max(1)))
            .max(so_calls as f64 * 60.0 / f64::from(a.limits.sophos_limit.max(1)));
        let how = &report.additions;
        runs.push(RunFigures {
            label: label.to_owned(),
            additions_read: match &how.reason {
                Some(why) if how.read != "report" => format!("{} ({why})", how.read),
                _ => how.read.to_owned(),
            },
            sophos_calls: so_calls,
            connectwise_calls: cw_calls,
            connectwise_writes: writes,
            connectwise_reads: cw_calls - writes,
            rate_limited,
            floor_seconds,
            wall_over_floor: wall / floor_seconds.max(1e-9),
            wall_seconds: wall,
            peak_rss_mb: peak_rss_mb(),
            created: report.counts.created,
            updated: report.counts.updated,
            unchanged: report.counts.unchanged,
            failed_customers: report.failed_customers,
        });
    }
    store.close().await;
    Ok(BenchReport {
        tenants: a.tenants,
        latency_ms: a.latency_ms,
        connectwise_limit: a.limits.cw_limit,
        sophos_limit: a.limits.sophos_limit,
        connectwise_pace: a.limits.cw_pace,
        sophos_pace: a.limits.sophos_pace,
        monthly_customers: monthly,
        usage_lines,
        mapped_agreements: mapped,
        setup_peak_rss_mb,
        runs,
        note,
    })
}

/// 429 answers the ConnectWise client received.
fn cw_429s(stats: &connectwise::Stats) -> u64 {
    stats
        .by_status
        .iter()
        .filter(|(k, _)| k.ends_with(" 429"))
        .map(|(_, n)| *n)
        .sum()
}

async fn map_true_pairs(store: &Store, pairs: &[(String, String)]) -> Result<usize, CliError> {
    let now = jiff::Timestamp::now();
    let customers = store.list_customers().await?;
    let known: std::collections::HashSet<&str> =
        customers.iter().map(|c| c.tenant.id.as_str()).collect();
    let mut writes = Vec::new();
    for (tenant_id, identifier) in pairs {
        if !known.contains(tenant_id.as_str()) {
            continue;
        }
        let Some(co) = store
            .find_companies_by_identifier(identifier)
            .await?
            .into_iter()
            .next()
        else {
            continue;
        };
        let Some(agreement) = store
            .list_agreements_of(co.id)
            .await?
            .into_iter()
            .find(|a| a.status.as_deref() == Some("Active") && !a.cancelled)
        else {
            continue;
        };
        writes.push(MappingWrite {
            tenant_id: tenant_id.as_str().into(),
            after: Some(Mapping {
                tenant_id: tenant_id.as_str().into(),
                company_id: co.id,
                agreement_id: Some(agreement.id),
                usage_sync: true,
                ticket_sync: false,
                source: MappingSource::Manual,
                confirmed_by: "bench".into(),
                confirmed_at: now,
            }),
            audit: NewAudit {
                at: now,
                actor: "bench".into(),
                action: engine::audit::AuditKind::MappingSet,
                subject: format!("tenant:{tenant_id}"),
                before: None,
                after: None,
                reason: "benchmark: the world's true pairing".into(),
            },
        });
    }
    let n = writes.len();
    for chunk in writes.chunks(500) {
        store.write_mappings(chunk).await?;
    }
    Ok(n)
}

/// A benchmark run goes through the harness like every other door (its store is its own).
pub(crate) async fn begin(store: &Store, job: Job) -> Result<Run, CliError> {
    engine::job::start(store, job, StartOptions::new(Door::Cli, "bench"))
        .await
        .map_err(|e| CliError::failure(format!("bench: {}: {e}", job.title())))
}
