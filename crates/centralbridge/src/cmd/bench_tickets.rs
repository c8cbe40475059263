//! `centralbridge bench tickets`: ticket sync on a sandbox of N tenants (all mapped, ticket sync on),
//! measured the way a user sees it: from the moment Sophos raises an alert (`raisedAt`) to the
//! moment its ticket (or the note on an existing ticket) is in ConnectWise (`_info.dateEntered`).
//!
//! Both emulators run in this process on real time: the Sophos clock runs at speed 1.0 from now,
//! and ConnectWise stamps writes with the system clock. Three phases:
//! - steady: after a warm-up cycle, cycles run start to start every `--interval-s` (like the
//!   service's scheduler: a cycle that overruns is followed at once by the next) while a background
//!   task raises `--steady-alerts` alerts per interval at an even rate on random tenants, for
//!   `--steady-intervals` intervals; then cycles go on until every alert is in ConnectWise (at most
//!   three more). This is the figure the target p99 <= interval + 2 s is about.
//! - burst: `--alerts` alerts raised over the interval just gone, then cycles at once until done.
//! - idle: one cycle with nothing new (the cost of polling alone).
//!
//! Prints p50/p99/max latency, cycle durations, API calls per cycle per vendor and duplicates.
//! Fails (exit 1) on a duplicate ticket or an alert that never reached ConnectWise; latency is
//! reported, never asserted.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use engine::job::{Job, RunReport as _};
use engine::mapping::{
    MappingInput, RefreshOptions, refresh_companies, refresh_tenants, set_mapping,
};
use engine::store::{MappingStore as _, Store};
use engine::tickets::{self, SettingsInput};
use jiff::Timestamp;
use rand::rngs::StdRng;
use rand::{Rng as _, SeedableRng as _};
use sandbox::connectwise::{CwConfig, CwEmulator, Table};
use sandbox::sophos::{AlertKind, AlertSpec, ClockMode, SophosConfig, SophosEmulator};
use sandbox::world::{World, WorldConfig};
use serde::Serialize;

use crate::context::Ctx;
use crate::error::CliError;
use crate::output::Render;

/// Arguments of `centralbridge bench tickets`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sophos tenants, each mapped to its ConnectWise company with ticket sync on
    #[arg(long, default_value_t = 1000)]
    tenants: usize,
    /// Alerts in the burst phase (spread across tenants, raised over the interval before one cycle)
    #[arg(long, default_value_t = 10_000)]
    alerts: usize,
    /// Alerts per interval in the steady phase (raised in real time at an even rate)
    #[arg(long, default_value_t = 100)]
    steady_alerts: usize,
    /// Intervals of the steady phase during which alerts are raised
    #[arg(long, default_value_t = 3)]
    steady_intervals: usize,
    /// Cycle interval (start to start), in seconds of real time
    #[arg(long, default_value_t = 60)]
    interval_s: u64,
    /// Added latency per API call, milliseconds (both emulators)
    #[arg(long, default_value_t = 20)]
    latency_ms: u64,
    /// Client rate limit towards Sophos (requests/s per host)
    #[arg(long, default_value_t = 20.0)]
    sophos_rps: f64,
    /// Client rate limit towards ConnectWise (requests/s)
    #[arg(long, default_value_t = 10)]
    cw_rps: u32,
    /// Tenants polled at once
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Seed of the generated MSP and of which tenants get alerts
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// One cycle's figures.
#[derive(Debug, Clone, Serialize)]
struct CycleFig {
    duration_s: f64,
    tickets_created: u64,
    notes: u64,
    sophos_calls: u64,
    connectwise_calls: u64,
    /// Tenants whose poll or apply failed this cycle.
    failed_tenants: usize,
}

#[derive(Debug, Serialize)]
struct Phase {
    label: String,
    alerts: usize,
    /// Alerts with a ticket or a note in ConnectWise.
    in_connectwise: usize,
    tickets_created: u64,
    notes: u64,
    p50_s: f64,
    p99_s: f64,
    max_s: f64,
    cycle_min_s: f64,
    cycle_avg_s: f64,
    cycle_max_s: f64,
    sophos_calls_per_cycle: f64,
    connectwise_calls_per_cycle: f64,
    connectwise_calls_max: u64,
    failed_tenant_polls: usize,
    cycles: Vec<CycleFig>,
}

#[derive(Debug, Serialize)]
struct Report {
    tenants: usize,
    /// Tenants mapped with ticket sync on (a few generated companies are deleted).
    mapped_tenants: usize,
    interval_s: u64,
    latency_ms: u64,
    sophos_rps: f64,
    cw_rps: u32,
    concurrency: usize,
    /// The warm-up cycle before the steady phase (first poll of every tenant).
    warmup: CycleFig,
    steady: Phase,
    burst: Phase,
    idle: Phase,
    target_p99_s: f64,
    target_met: bool,
    duplicates: u64,
    unhandled_alerts: usize,
}

impl Render for Report {
    fn human(&self) -> String {
        let mut out = format!(
            "Ticket sync bench: {} tenants ({} mapped), interval {} s start to start (real time), {} ms per call, client limits Sophos {}/s, ConnectWise {}/s, {} tenants at once\n",
            self.tenants,
            self.mapped_tenants,
            self.interval_s,
            self.latency_ms,
            self.sophos_rps,
            self.cw_rps,
            self.concurrency
        );
        out.push_str(&format!(
            "warm-up cycle {:.1} s, calls Sophos {} ConnectWise {}\n",
            self.warmup.duration_s, self.warmup.sophos_calls, self.warmup.connectwise_calls
        ));
        for p in [&self.steady, &self.burst, &self.idle] {
            let latency = if p.alerts == 0 {
                "latency -".to_owned()
            } else {
                format!(
                    "latency p50 {:>6.1} s  p99 {:>6.1} s  max {:>6.1} s",
                    p.p50_s, p.p99_s, p.max_s
                )
            };
            out.push_str(&format!(
                "{:<6} alerts {:>6}  tickets {:>6}  notes {:>5}  {latency}  cycles {:>2} ({:.1}/{:.1}/{:.1} s min/avg/max)  calls/cycle Sophos {:.0} ConnectWise {:.0} (max {})\n",
                p.label,
                p.alerts,
                p.tickets_created,
                p.notes,
                p.cycles.len(),
                p.cycle_min_s,
                p.cycle_avg_s,
                p.cycle_max_s,
                p.sophos_calls_per_cycle,
                p.connectwise_calls_per_cycle,
                p.connectwise_calls_max
            ));
        }
        out.push_str(&format!(
            "target steady p99 <= interval + 2 s ({:.0} s): {} (p99 {:.1} s; ConnectWise dates are whole seconds)\n",
            self.target_p99_s,
            if self.target_met { "met" } else { "NOT met" },
            self.steady.p99_s
        ));
        out.push_str(&format!(
            "duplicates: {}  alerts never in ConnectWise: {}  failed tenant polls: {}\n",
            self.duplicates,
            self.unhandled_alerts,
            self.steady.failed_tenant_polls
                + self.burst.failed_tenant_polls
                + self.idle.failed_tenant_polls
        ));
        out
    }
}

fn fail(what: &'static str) -> impl Fn(String) -> CliError {
    move |e| CliError::failure(format!("bench tickets: {what}: {e}"))
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let idx = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[idx.min(sorted.len() - 1)]
}

const KINDS: [AlertKind; 6] = [
    AlertKind::RealTimeProtectionDisabled,
    AlertKind::ThreatDetected,
    AlertKind::EndpointOutOfDate,
    AlertKind::PuaDetected,
    AlertKind::HealthStatus,
    AlertKind::Isolation,
];

/// An alert the bench raised.
#[derive(Debug, Clone)]
struct Injected {
    id: String,
    raised: Timestamp,
}

/// Raises one alert on a random mapped tenant, `raisedAt` = `at` (millisecond precision, as Sophos).
fn inject_random(
    so_emu: &SophosEmulator,
    pairs: &[(String, usize)],
    rng: &mut StdRng,
    at: Timestamp,
) -> Result<Injected, String> {
    let (tenant, devices) = &pairs[rng.random_range(0..pairs.len())];
    let kind = KINDS[rng.random_range(0..KINDS.len())];
    let raised = Timestamp::from_millisecond(at.as_millisecond()).unwrap_or(at);
    let mut spec = AlertSpec::new(kind).raised_at(raised);
    if *devices > 0 {
        spec = spec.on_device(rng.random_range(0..*devices));
    }
    let id = so_emu
        .inject_alert(tenant, spec)
        .map_err(|e| e.to_string())?;
    Ok(Injected { id, raised })
}

/// Runs the steady, burst and idle phases on in-process emulators and prints the report.
/// Exit 1 on a duplicate ticket or an alert that never reached ConnectWise.
pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let world = Arc::new(World::generate(WorldConfig {
        seed: a.seed,
        customers: a.tenants,
        extra_companies: 0,
        extra_tenants: 0,
        usage_anchor: (2026, 11),
    }));
    // Real time on both sides: Sophos `raisedAt` and ConnectWise `dateEntered` are on one clock.
    let mut scfg = SophosConfig::new(world.clone());
    scfg.alert_rate = 0.0;
    scfg.alert_backlog = Duration::ZERO;
    scfg.start = Some(Timestamp::now());
    scfg.clock = ClockMode::Realtime { speed: 1.0 };
    let so_emu = SophosEmulator::spawn(scfg)
        .await
        .map_err(|e| fail("Sophos emulator")(e.to_string()))?;
    let cw_emu = CwEmulator::spawn(CwConfig::new(world.clone()))
        .await
        .map_err(|e| fail("ConnectWise emulator")(e.to_string()))?;
    let dir = tempfile_dir()?;
    let result = bench(ctx, &a, &world, &cw_emu, &so_emu, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    so_emu.shutdown().await;
    let report = result?;
    ctx.out.emit(&report)?;
    if report.duplicates > 0 || report.unhandled_alerts > 0 {
        return Err(CliError::failure(format!(
            "bench tickets: {} duplicate ticket(s), {} alert(s) never in ConnectWise",
            report.duplicates, report.unhandled_alerts
        )));
    }
    Ok(())
}

fn tempfile_dir() -> Result<std::path::PathBuf, CliError> {
    let dir = std::env::temp_dir().join(format!(
        "centralbridge-bench-tickets-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).map_err(|e| fail("temp dir")(e.to_string()))?;
    Ok(dir)
}

/// What one cycle needs.
struct Runner<'a> {
    store: &'a Store,
    cw: &'a connectwise::Client,
    sophos: &'a sophos::Client,
}

impl Runner<'_> {
    async fn cycle(&self, label: &str, n: usize) -> Result<CycleFig, CliError> {
        let wall = Instant::now();
        let run = super::bench::begin(self.store, Job::Tickets).await?;
        let r = tickets::run_cycle(self.store, self.cw, self.sophos, &run).await;
        run.finish(&r.run_end())
            .await
            .map_err(|e| fail("cycle")(e.to_string()))?;
        let r = r.map_err(|e| fail("cycle")(e.to_string()))?;
        let fig = CycleFig {
            duration_s: wall.elapsed().as_secs_f64(),
            tickets_created: r.totals.created,
            notes: r.totals.noted,
            sophos_calls: r.api_calls.sophos,
            connectwise_calls: r.api_calls.connectwise,
            failed_tenants: r.failed(),
        };
        eprintln!(
            "bench tickets: {label} cycle {n}: {:.1} s, {} tickets, {} notes, calls Sophos {} ConnectWise {}, {} tenants failed",
            fig.duration_s,
            fig.tickets_created,
            fig.notes,
            fig.sophos_calls,
            fig.connectwise_calls,
            fig.failed_tenants
        );
        Ok(fig)
    }
}

/// When each alert id became visible in ConnectWise: its ticket's (`externalXRef`) or the first note
/// naming it, by `_info.dateEntered`. Also counts duplicate tickets (same `externalXRef`).
fn visible_in_connectwise(cw_emu: &CwEmulator) -> (HashMap<String, Timestamp>, u64) {
    fn entered(r: &serde_json::Value) -> Option<Timestamp> {
        r["_info"]["dateEntered"].as_str()?.parse().ok()
    }
    let mut seen: HashMap<String, Timestamp> = HashMap::new();
    let mut note = |id: &str, at: Timestamp| {
        seen.entry(id.to_owned())
            .and_modify(|t| *t = (*t).min(at))
            .or_insert(at);
    };
    let mut per_xref = HashMap::<String, u64>::new();
    for t in cw_emu.records(Table::Tickets) {
        if let Some(x) = t["externalXRef"].as_str() {
            *per_xref.entry(x.to_owned()).or_default() += 1;
            if let Some(at) = entered(&t) {
                note(x, at);
            }
        }
    }
    for n in cw_emu.records(Table::Notes) {
        let (Some(text), Some(at)) = (n["text"].as_str(), entered(&n)) else {
            continue;
        };
        // Alert ids are UUIDs: every hex-and-dash word is a candidate.
        for word in text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-')) {
            if word.len() == 36 {
                note(word, at);
            }
        }
    }
    let duplicates = per_xref.values().map(|n| n.saturating_sub(1)).sum();
    (seen, duplicates)
}

fn all_visible(cw_emu: &CwEmulator, alerts: &[Injected]) -> bool {
    let (seen, _) = visible_in_connectwise(cw_emu);
    alerts.iter().all(|a| seen.contains_key(&a.id))
}

fn phase(
    label: &str,
    alerts: &[Injected],
    cycles: Vec<CycleFig>,
    seen: &HashMap<String, Timestamp>,
) -> Phase {
    let mut lat: Vec<f64> = alerts
        .iter()
        .filter_map(|a| {
            let at = seen.get(&a.id)?;
            Some(a.raised.duration_until(*at).as_secs_f64())
        })
        .collect();
    lat.sort_by(|x, y| x.total_cmp(y));
    let n = cycles.len().max(1) as f64;
    let durations = cycles.iter().map(|c| c.duration_s);
    Phase {
        label: label.to_owned(),
        alerts: alerts.len(),
        in_connectwise: lat.len(),
        tickets_created: cycles.iter().map(|c| c.tickets_created).sum(),
        notes: cycles.iter().map(|c| c.notes).sum(),
        p50_s: percentile(&lat, 0.5),
        p99_s: percentile(&lat, 0.99),
        max_s: lat.last().copied().unwrap_or(0.0),
        cycle_min_s: if cycles.is_empty() {
            0.0
        } else {
            durations.clone().fold(f64::INFINITY, f64::min)
        },
        cycle_avg_s: durations.clone().sum::<f64>() / n,
        cycle_max_s: durations.fold(0.0, f64::max),
        sophos_calls_per_cycle: cycles.iter().map(|c| c.sophos_calls as f64).sum::<f64>() / n,
        connectwise_calls_per_cycle: cycles
            .iter()
            .map(|c| c.connectwise_calls as f64)
            .sum::<f64>()
            / n,
        connectwise_calls_max: cycles
            .iter()
            .map(|c| c.connectwise_calls)
            .max()
            .unwrap_or(0),
        failed_tenant_polls: cycles.iter().map(|c| c.failed_tenants).sum(),
        cycles,
    }
}

/// Cycles after the last alert was raised before giving up on the ones not in ConnectWise.
const MAX_DRAIN_CYCLES: usize = 3;

async fn bench(
    _ctx: &Ctx,
    a: &Args,
    world: &World,
    cw_emu: &CwEmulator,
    so_emu: &SophosEmulator,
    dir: &std::path::Path,
) -> Result<Report, CliError> {
    let key = engine::secrets::MasterKey::generate().map_err(|e| fail("key")(e.to_string()))?;
    let store = Store::open(&dir.join("bench.db").to_string_lossy(), key).await?;
    let creds = cw_emu.credentials();
    let mut cfg = connectwise::CwConfig::new(
        cw_emu.site_url(),
        creds.company_id.clone(),
        creds.public_key.clone(),
        creds.private_key.clone(),
        creds.client_id.clone(),
    );
    cfg.allow_http = true;
    cfg.rate_limit = connectwise::RateLimit::per_minute(a.cw_rps.max(1) * 60);
    let cw = connectwise::Client::connect(cfg)
        .await
        .map_err(|e| fail("ConnectWise client")(e.to_string()))?;
    let sc = so_emu.credentials();
    let mut scfg = sophos::SophosConfig::new(sc.client_id, sc.client_secret);
    scfg.token_url = so_emu.token_url();
    scfg.global_url = so_emu.global_url();
    scfg.rate_limit =
        sophos::RateLimit::per_minute(((a.sophos_rps.max(0.1) * 60.0).round() as u32).max(1));
    scfg.max_concurrency = a.concurrency.max(1);
    scfg.page_size.tenants = 100;
    let sophos = sophos::Client::connect(scfg)
        .await
        .map_err(|e| fail("Sophos client")(e.to_string()))?;

    // Setup (not measured): tenants and companies into the store, true pairs mapped, settings.
    // Through the refresh's own ingest, one kind after the other, as the service reads them.
    let now = jiff::Timestamp::now();
    let opts = RefreshOptions::default();
    refresh_tenants(&store, sophos.tenant_summaries(), now, &opts)
        .await
        .map_err(|e| fail("tenants")(e.to_string()))?;
    refresh_companies(&store, cw.company_summaries(), now, &opts)
        .await
        .map_err(|e| fail("companies")(e.to_string()))?;
    let crecs = store.list_companies(true).await?;
    let mut pairs = Vec::new();
    for c in &world.customers {
        let (Some(t), Some(co)) = (&c.tenant, &c.company) else {
            continue;
        };
        let Some(rec) = crecs.iter().find(|r| r.identifier == co.identifier) else {
            continue;
        };
        so_emu
            .set_forbidden(&t.id, false)
            .map_err(|e| fail("tenant")(e.to_string()))?;
        // Deleted companies (the world has a few) cannot be mapped: those tenants are left out.
        if rec.deleted
            || set_mapping(
                &store,
                "bench",
                &MappingInput {
                    ticket_sync: Some(true),
                    ..MappingInput::new(t.id.as_str().into(), rec.id)
                },
            )
            .await
            .is_err()
        {
            continue;
        }
        pairs.push((t.id.clone(), t.devices.len()));
    }
    if pairs.is_empty() {
        return Err(fail("setup")("no tenant could be mapped".into()));
    }
    let input = SettingsInput {
        board: Some("Security Alerts".into()),
        auto: true,
        concurrency: Some(a.concurrency),
        interval_s: Some(a.interval_s),
        ..SettingsInput::default()
    };
    tickets::update_settings(&store, &cw, &input, "bench")
        .await
        .map_err(|e| fail("settings")(e.to_string()))?;
    let runner = Runner {
        store: &store,
        cw: &cw,
        sophos: &sophos,
    };
    let latency = Duration::from_millis(a.latency_ms);
    cw_emu.faults().set_latency(latency);
    so_emu.faults().set_latency(latency);
    let interval = Duration::from_secs(a.interval_s.max(1));

    // Warm-up: every tenant's first poll (cursors), as after the service starts.
    let warmup = runner.cycle("warm-up", 1).await?;

    // Steady: cycles start to start while alerts arrive in real time.
    let pairs = Arc::new(pairs);
    let t0 = tokio::time::Instant::now();
    let total = a.steady_alerts * a.steady_intervals;
    let step = interval / u32::try_from(a.steady_alerts.max(1)).unwrap_or(u32::MAX);
    let injector = {
        let so_emu = so_emu.clone();
        let pairs = pairs.clone();
        let mut rng = StdRng::seed_from_u64(a.seed);
        tokio::spawn(async move {
            let mut out = Vec::with_capacity(total);
            for j in 0..total {
                tokio::time::sleep_until(t0 + step * u32::try_from(j).unwrap_or(u32::MAX)).await;
                out.push(inject_random(&so_emu, &pairs, &mut rng, Timestamp::now())?);
            }
            Ok::<_, String>(out)
        })
    };
    let inject_end = t0 + interval * u32::try_from(a.steady_intervals).unwrap_or(u32::MAX);
    let mut injector = Some(injector);
    let mut steady_alerts = Vec::new();
    let mut cycles = Vec::new();
    let mut next = t0;
    let mut drains = 0;
    loop {
        tokio::time::sleep_until(next).await;
        let started = tokio::time::Instant::now();
        cycles.push(runner.cycle("steady", cycles.len() + 1).await?);
        // Like the scheduler: due one interval after the last start; at once after an overrun.
        next = started + interval;
        if started < inject_end {
            continue;
        }
        if let Some(h) = injector.take() {
            steady_alerts = h
                .await
                .map_err(|e| fail("alert injector")(e.to_string()))?
                .map_err(fail("inject"))?;
        }
        drains += 1;
        if drains >= MAX_DRAIN_CYCLES || all_visible(cw_emu, &steady_alerts) {
            break;
        }
    }
    let (seen, _) = visible_in_connectwise(cw_emu);
    let steady = phase("steady", &steady_alerts, cycles, &seen);

    // Burst: alerts raised over the interval just gone, then cycles at once until all are in.
    let mut rng = StdRng::seed_from_u64(a.seed.wrapping_add(1));
    // Spread no wider than the engine's listing overlap (300 s by default) reaches back.
    let spread = interval.min(Duration::from_secs(240));
    let now = Timestamp::now();
    let mut burst_alerts = Vec::with_capacity(a.alerts);
    for i in 0..a.alerts {
        let at = now - spread + spread.mul_f64(i as f64 / a.alerts.max(1) as f64);
        burst_alerts.push(inject_random(so_emu, &pairs, &mut rng, at).map_err(fail("inject"))?);
    }
    let mut cycles = Vec::new();
    let mut next = tokio::time::Instant::now();
    loop {
        tokio::time::sleep_until(next).await;
        let started = tokio::time::Instant::now();
        cycles.push(runner.cycle("burst", cycles.len() + 1).await?);
        next = started + interval;
        if cycles.len() > MAX_DRAIN_CYCLES || all_visible(cw_emu, &burst_alerts) {
            break;
        }
    }
    let (seen, _) = visible_in_connectwise(cw_emu);
    let burst = phase("burst", &burst_alerts, cycles, &seen);

    // Idle: nothing new, one interval after the burst's last cycle started.
    tokio::time::sleep_until(next).await;
    let idle_cycle = runner.cycle("idle", 1).await?;
    let idle = phase("idle", &[], vec![idle_cycle], &seen);

    let (seen, duplicates) = visible_in_connectwise(cw_emu);
    let unhandled_alerts = steady_alerts
        .iter()
        .chain(burst_alerts.iter())
        .filter(|x| !seen.contains_key(&x.id))
        .count();
    store.close().await;
    let target_p99_s = a.interval_s as f64 + 2.0;
    Ok(Report {
        tenants: a.tenants,
        mapped_tenants: pairs.len(),
        interval_s: a.interval_s,
        latency_ms: a.latency_ms,
        sophos_rps: a.sophos_rps,
        cw_rps: a.cw_rps,
        concurrency: a.concurrency,
        warmup,
        target_met: steady.p99_s <= target_p99_s,
        steady,
        burst,
        idle,
        target_p99_s,
        duplicates,
        unhandled_alerts,
    })
}
