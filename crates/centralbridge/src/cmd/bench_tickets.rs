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
//! The emulators enforce the vendors' limits (`--cw-limit`, `--sophos-limit` per host: 429 and
//! `Retry-After` beyond them) and the clients keep their own pace, as a user runs them. Prints
//! p50/p99/max latency overall and per severity, cycle durations, API calls and writes per cycle,
//! the tickets touched, the floor (calls ÷ limit), 429s received and duplicates; and, from the idle
//! cycle, whether polling fits the interval and what per-host rate would.
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
    #[command(flatten)]
    limits: super::bench::Limits,
    /// Tenants polled at once per Sophos host
    #[arg(long, default_value_t = 8)]
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
    /// Calls to the Sophos host that got the most this cycle (polls run per host in parallel).
    sophos_busiest_host_calls: u64,
    connectwise_calls: u64,
    /// Writes (POST, PATCH, …) ConnectWise received.
    connectwise_writes: u64,
    /// 429s the emulators answered, both vendors.
    rate_limited: u64,
    /// Tenants whose poll or apply failed this cycle.
    failed_tenants: usize,
}

/// Latency of one severity's alerts.
#[derive(Debug, Serialize)]
struct SeverityFig {
    severity: &'static str,
    alerts: usize,
    /// Distinct tickets those alerts landed on (the writes the severity needs at least).
    tickets: usize,
    p50_s: f64,
    p99_s: f64,
    max_s: f64,
}

#[derive(Debug, Serialize)]
struct Phase {
    label: String,
    alerts: usize,
    /// Alerts with a ticket or a note in ConnectWise.
    in_connectwise: usize,
    tickets_created: u64,
    notes: u64,
    /// Distinct tickets the phase's alerts landed on (new or noted).
    tickets_touched: usize,
    connectwise_writes: u64,
    p50_s: f64,
    p99_s: f64,
    max_s: f64,
    by_severity: Vec<SeverityFig>,
    cycle_min_s: f64,
    cycle_avg_s: f64,
    cycle_max_s: f64,
    sophos_calls_per_cycle: f64,
    connectwise_calls_per_cycle: f64,
    connectwise_calls_max: u64,
    /// The vendors' budget for the phase's calls: the larger of ConnectWise calls ÷ its limit
    /// and, per cycle, the busiest Sophos host's calls ÷ its limit.
    floor_s: f64,
    /// The phase's cycles end to end.
    wall_s: f64,
    rate_limited: u64,
    failed_tenant_polls: usize,
    cycles: Vec<CycleFig>,
}

#[derive(Debug, Serialize)]
struct Report {
    tenants: usize,
    /// Tenants mapped with ticket sync on (a few generated companies are deleted).
    mapped_tenants: usize,
    /// Sophos regional hosts the mapped tenants are on.
    sophos_hosts: usize,
    interval_s: u64,
    latency_ms: u64,
    connectwise_limit: u32,
    sophos_limit: u32,
    connectwise_pace: u32,
    sophos_pace: u32,
    concurrency: usize,
    /// The warm-up cycle before the steady phase (first poll of every tenant).
    warmup: CycleFig,
    steady: Phase,
    burst: Phase,
    idle: Phase,
    target_p99_s: f64,
    target_met: bool,
    /// Burst target: high-severity p99 <= interval + 15 s.
    target_high_p99_s: f64,
    target_high_met: bool,
    /// Burst target: ConnectWise writes <= distinct tickets touched.
    target_writes_met: bool,
    /// The idle cycle (polling alone) took no longer than the interval.
    polling_fits: bool,
    /// Requests per minute per Sophos host at which the idle cycle's busiest host would be
    /// polled within the interval.
    sophos_rate_to_fit: f64,
    duplicates: u64,
    unhandled_alerts: usize,
}

impl Render for Report {
    fn human(&self) -> String {
        let mut out = format!(
            "Ticket sync bench: {} tenants ({} mapped, on {} Sophos hosts), interval {} s start to start (real time), {} ms per call\n\
             limits enforced by the emulators: ConnectWise {}/min, Sophos {}/min per host; client pace ConnectWise {}/min, Sophos {}/min per host; {} tenants at once per host\n",
            self.tenants,
            self.mapped_tenants,
            self.sophos_hosts,
            self.interval_s,
            self.latency_ms,
            self.connectwise_limit,
            self.sophos_limit,
            self.connectwise_pace,
            self.sophos_pace,
            self.concurrency
        );
        out.push_str(&format!(
            "warm-up cycle {:.1} s, calls Sophos {} (busiest host {}) ConnectWise {}\n\n",
            self.warmup.duration_s,
            self.warmup.sophos_calls,
            self.warmup.sophos_busiest_host_calls,
            self.warmup.connectwise_calls
        ));
        out.push_str("| phase | alerts | tickets / notes | tickets touched | CW writes | p50 | p99 | max | cycles (min/avg/max) | calls/cycle Sophos / CW | wall / floor | 429s |\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for p in [&self.steady, &self.burst, &self.idle] {
            let lat = |v: f64| {
                if p.alerts == 0 {
                    "–".to_owned()
                } else {
                    format!("{v:.1} s")
                }
            };
            out.push_str(&format!(
                "| {} | {} | {} / {} | {} | {} | {} | {} | {} | {} ({:.1} / {:.1} / {:.1} s) | {:.0} / {:.0} | {:.1} s / {:.1} s | {} |\n",
                p.label,
                p.alerts,
                p.tickets_created,
                p.notes,
                p.tickets_touched,
                p.connectwise_writes,
                lat(p.p50_s),
                lat(p.p99_s),
                lat(p.max_s),
                p.cycles.len(),
                p.cycle_min_s,
                p.cycle_avg_s,
                p.cycle_max_s,
                p.sophos_calls_per_cycle,
                p.connectwise_calls_per_cycle,
                p.wall_s,
                p.floor_s,
                p.rate_limited
            ));
        }
        out.push_str(
            "\n| phase | severity | alerts | p50 | p99 | max |\n|---|---|---|---|---|---|\n",
        );
        for p in [&self.steady, &self.burst] {
            for s in &p.by_severity {
                out.push_str(&format!(
                    "| {} | {} | {} | {} | {:.1} s | {:.1} s | {:.1} s |\n",
                    p.label, s.severity, s.alerts, s.tickets, s.p50_s, s.p99_s, s.max_s
                ));
            }
        }
        let met = |b: bool| if b { "met" } else { "NOT met" };
        let high = self
            .burst
            .by_severity
            .iter()
            .find(|s| s.severity == "high")
            .map_or(0.0, |s| s.p99_s);
        out.push_str(&format!(
            "\ntarget steady p99 <= interval + 2 s ({:.0} s): {} (p99 {:.1} s; ConnectWise dates are whole seconds)\n",
            self.target_p99_s,
            met(self.target_met),
            self.steady.p99_s
        ));
        out.push_str(&format!(
            "target burst high-severity p99 <= interval + 15 s ({:.0} s): {} (p99 {:.1} s)\n",
            self.target_high_p99_s,
            met(self.target_high_met),
            high
        ));
        out.push_str(&format!(
            "target burst ConnectWise writes <= tickets touched: {} ({} writes, {} tickets)\n",
            met(self.target_writes_met),
            self.burst.connectwise_writes,
            self.burst.tickets_touched
        ));
        out.push_str(&format!(
            "polling alone (idle cycle): {:.1} s, busiest Sophos host {} calls: {} the {} s interval; {:.0} requests/min per host would fit it\n",
            self.idle.cycle_max_s,
            self.idle.cycles.first().map_or(0, |c| c.sophos_busiest_host_calls),
            if self.polling_fits { "fits" } else { "does NOT fit" },
            self.interval_s,
            self.sophos_rate_to_fit
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
    severity: &'static str,
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
    Ok(Injected {
        id,
        raised,
        severity: kind.severity(),
    })
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

/// What one cycle needs, and where its counts come from.
struct Runner<'a> {
    store: &'a Store,
    cw: &'a connectwise::Client,
    sophos: &'a sophos::Client,
    cw_emu: &'a CwEmulator,
    so_emu: &'a SophosEmulator,
}

/// Sophos calls per host so far, from the client's counters.
fn sophos_per_host(sophos: &sophos::Client) -> HashMap<String, u64> {
    sophos
        .stats()
        .requests
        .into_iter()
        .map(|(host, by_status)| (host, by_status.values().sum()))
        .collect()
}

impl Runner<'_> {
    async fn cycle(&self, label: &str, n: usize) -> Result<CycleFig, CliError> {
        let wall = Instant::now();
        let (cw0, so0) = (self.cw_emu.faults().counts(), self.so_emu.faults().counts());
        let hosts0 = sophos_per_host(self.sophos);
        let run = super::bench::begin(self.store, Job::Tickets).await?;
        let r = tickets::run_cycle(self.store, self.cw, self.sophos, &run).await;
        run.finish(&r.run_end())
            .await
            .map_err(|e| fail("cycle")(e.to_string()))?;
        let r = r.map_err(|e| fail("cycle")(e.to_string()))?;
        let (cw1, so1) = (self.cw_emu.faults().counts(), self.so_emu.faults().counts());
        let busiest = sophos_per_host(self.sophos)
            .into_iter()
            .map(|(h, n)| n - hosts0.get(&h).copied().unwrap_or(0))
            .max()
            .unwrap_or(0);
        let fig = CycleFig {
            duration_s: wall.elapsed().as_secs_f64(),
            tickets_created: r.totals.created,
            notes: r.totals.noted,
            sophos_calls: r.api_calls.sophos,
            sophos_busiest_host_calls: busiest,
            connectwise_calls: r.api_calls.connectwise,
            connectwise_writes: cw1.writes - cw0.writes,
            rate_limited: (cw1.rate_limited - cw0.rate_limited)
                + (so1.rate_limited - so0.rate_limited),
            failed_tenants: r.failed(),
        };
        eprintln!(
            "bench tickets: {label} cycle {n}: {:.1} s, {} tickets, {} notes, calls Sophos {} (busiest host {}) ConnectWise {} ({} writes), {} 429s, {} tenants failed",
            fig.duration_s,
            fig.tickets_created,
            fig.notes,
            fig.sophos_calls,
            fig.sophos_busiest_host_calls,
            fig.connectwise_calls,
            fig.connectwise_writes,
            fig.rate_limited,
            fig.failed_tenants
        );
        Ok(fig)
    }
}

/// Where an alert became visible in ConnectWise: when, and on which ticket.
#[derive(Debug, Clone, Copy)]
struct Seen {
    at: Timestamp,
    ticket: i64,
}

/// When each alert id became visible in ConnectWise: its ticket's (`externalXRef`) or the first note
/// naming it (a ticket's description is its first note), by `_info.dateEntered`. Also counts
/// duplicate tickets (same `externalXRef`).
fn visible_in_connectwise(cw_emu: &CwEmulator) -> (HashMap<String, Seen>, u64) {
    fn entered(r: &serde_json::Value) -> Option<Timestamp> {
        r["_info"]["dateEntered"].as_str()?.parse().ok()
    }
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut note = |id: &str, s: Seen| {
        seen.entry(id.to_owned())
            .and_modify(|t| {
                if s.at < t.at {
                    *t = s;
                }
            })
            .or_insert(s);
    };
    let mut per_xref = HashMap::<String, u64>::new();
    for t in cw_emu.records(Table::Tickets) {
        if let Some(x) = t["externalXRef"].as_str() {
            *per_xref.entry(x.to_owned()).or_default() += 1;
            if let (Some(at), Some(ticket)) = (entered(&t), t["id"].as_i64()) {
                note(x, Seen { at, ticket });
            }
        }
    }
    for n in cw_emu.records(Table::Notes) {
        let (Some(text), Some(at), Some(ticket)) =
            (n["text"].as_str(), entered(&n), n["ticketId"].as_i64())
        else {
            continue;
        };
        // Alert ids are UUIDs: every hex-and-dash word is a candidate.
        for word in text.split(|c: char| !(c.is_ascii_hexdigit() || c == '-')) {
            if word.len() == 36 {
                note(word, Seen { at, ticket });
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

/// p50, p99 and max of `alerts`' latencies (sorted in place).
fn spread(lat: &mut [f64]) -> (f64, f64, f64) {
    lat.sort_by(|x, y| x.total_cmp(y));
    (
        percentile(lat, 0.5),
        percentile(lat, 0.99),
        lat.last().copied().unwrap_or(0.0),
    )
}

fn phase(
    label: &str,
    alerts: &[Injected],
    cycles: Vec<CycleFig>,
    seen: &HashMap<String, Seen>,
    limits: (u32, u32),
) -> Phase {
    let latency = |a: &Injected| {
        seen.get(&a.id)
            .map(|s| a.raised.duration_until(s.at).as_secs_f64())
    };
    let mut lat: Vec<f64> = alerts.iter().filter_map(latency).collect();
    let (p50_s, p99_s, max_s) = spread(&mut lat);
    let by_severity = ["high", "medium", "low"]
        .into_iter()
        .filter_map(|sev| {
            let mut l: Vec<f64> = alerts
                .iter()
                .filter(|a| a.severity == sev)
                .filter_map(latency)
                .collect();
            if l.is_empty() {
                return None;
            }
            let (p50_s, p99_s, max_s) = spread(&mut l);
            let tickets = alerts
                .iter()
                .filter(|a| a.severity == sev)
                .filter_map(|a| seen.get(&a.id).map(|s| s.ticket))
                .collect::<std::collections::HashSet<_>>()
                .len();
            Some(SeverityFig {
                severity: sev,
                alerts: l.len(),
                tickets,
                p50_s,
                p99_s,
                max_s,
            })
        })
        .collect();
    let tickets_touched = alerts
        .iter()
        .filter_map(|a| seen.get(&a.id).map(|s| s.ticket))
        .collect::<std::collections::HashSet<_>>()
        .len();
    let n = cycles.len().max(1) as f64;
    let durations = cycles.iter().map(|c| c.duration_s);
    let (cw_limit, so_limit) = (f64::from(limits.0.max(1)), f64::from(limits.1.max(1)));
    let floor_s = cycles
        .iter()
        .map(|c| {
            (c.connectwise_calls as f64 * 60.0 / cw_limit)
                .max(c.sophos_busiest_host_calls as f64 * 60.0 / so_limit)
        })
        .sum();
    Phase {
        label: label.to_owned(),
        alerts: alerts.len(),
        in_connectwise: lat.len(),
        tickets_created: cycles.iter().map(|c| c.tickets_created).sum(),
        notes: cycles.iter().map(|c| c.notes).sum(),
        tickets_touched,
        connectwise_writes: cycles.iter().map(|c| c.connectwise_writes).sum(),
        p50_s,
        p99_s,
        max_s,
        by_severity,
        cycle_min_s: if cycles.is_empty() {
            0.0
        } else {
            durations.clone().fold(f64::INFINITY, f64::min)
        },
        cycle_avg_s: durations.clone().sum::<f64>() / n,
        cycle_max_s: durations.clone().fold(0.0, f64::max),
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
        floor_s,
        wall_s: durations.sum(),
        rate_limited: cycles.iter().map(|c| c.rate_limited).sum(),
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
    cfg.rate_limit = connectwise::RateLimit::per_minute(a.limits.cw_pace.max(1));
    let cw = connectwise::Client::connect(cfg)
        .await
        .map_err(|e| fail("ConnectWise client")(e.to_string()))?;
    let sc = so_emu.credentials();
    let mut scfg = sophos::SophosConfig::new(sc.client_id, sc.client_secret);
    scfg.token_url = so_emu.token_url();
    scfg.global_url = so_emu.global_url();
    scfg.rate_limit = sophos::RateLimit::per_minute(a.limits.sophos_pace.max(1));
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
        cw_emu,
        so_emu,
    };
    let latency = Duration::from_millis(a.latency_ms);
    cw_emu.faults().set_latency(latency);
    so_emu.faults().set_latency(latency);
    // The vendors' limits, enforced from here on (setup above is not measured).
    cw_emu
        .faults()
        .set_rate_limit(Some(a.limits.cw_limit.max(1)));
    so_emu
        .faults()
        .set_rate_limit(Some(a.limits.sophos_limit.max(1)));
    let limits = (a.limits.cw_limit, a.limits.sophos_limit);
    let sophos_hosts = pairs
        .iter()
        .filter_map(|(t, _)| so_emu.tenant_api_host(t))
        .collect::<std::collections::HashSet<_>>()
        .len();
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
    let steady = phase("steady", &steady_alerts, cycles, &seen, limits);

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
    let burst = phase("burst", &burst_alerts, cycles, &seen, limits);

    // Idle: nothing new, one interval after the burst's last cycle started.
    tokio::time::sleep_until(next).await;
    let idle_cycle = runner.cycle("idle", 1).await?;
    let idle = phase("idle", &[], vec![idle_cycle], &seen, limits);

    let (seen, duplicates) = visible_in_connectwise(cw_emu);
    let unhandled_alerts = steady_alerts
        .iter()
        .chain(burst_alerts.iter())
        .filter(|x| !seen.contains_key(&x.id))
        .count();
    store.close().await;
    let target_p99_s = a.interval_s as f64 + 2.0;
    let target_high_p99_s = a.interval_s as f64 + 15.0;
    let high_p99 = burst
        .by_severity
        .iter()
        .find(|s| s.severity == "high")
        .map_or(0.0, |s| s.p99_s);
    let idle_busiest = idle
        .cycles
        .first()
        .map_or(0, |c| c.sophos_busiest_host_calls);
    Ok(Report {
        tenants: a.tenants,
        mapped_tenants: pairs.len(),
        sophos_hosts,
        interval_s: a.interval_s,
        latency_ms: a.latency_ms,
        connectwise_limit: a.limits.cw_limit,
        sophos_limit: a.limits.sophos_limit,
        connectwise_pace: a.limits.cw_pace,
        sophos_pace: a.limits.sophos_pace,
        concurrency: a.concurrency,
        warmup,
        target_met: steady.p99_s <= target_p99_s,
        target_high_p99_s,
        target_high_met: high_p99 <= target_high_p99_s,
        target_writes_met: burst.connectwise_writes <= burst.tickets_touched as u64,
        polling_fits: idle.cycle_max_s <= a.interval_s as f64,
        sophos_rate_to_fit: idle_busiest as f64 * 60.0 / a.interval_s.max(1) as f64,
        steady,
        burst,
        idle,
        target_p99_s,
        duplicates,
        unhandled_alerts,
    })
}
