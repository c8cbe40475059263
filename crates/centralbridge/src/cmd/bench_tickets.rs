//! `centralbridge bench tickets`: ticket sync on a sandbox of N tenants (all mapped, ticket sync on).
//!
//! Emulated clock: alerts are raised (Sophos emulator timestamps) spread over one interval, the
//! emulated clock moves to the end of the interval, and one cycle runs in real time. An alert's
//! latency = (interval end + real time until its ticket was created) - raisedAt, i.e. what a user
//! sees with a cycle every `--interval-s`. Two phases: steady (a few alerts per interval) and a
//! burst (`--alerts` at once). Prints p50/p99, API calls per cycle per vendor and duplicates (must
//! be 0). The emulators run in this process.

use std::time::{Duration, Instant};

use engine::mapping::{MappingInput, set_mapping};
use engine::store::{CompanyRecord, MappingStore as _, Store, TenantRecord};
use engine::tickets::{self, SettingsInput, SyncOptions};
use futures::TryStreamExt as _;
use sandbox::connectwise::{CwConfig, CwEmulator, Table};
use sandbox::sophos::{AlertKind, AlertSpec, SophosConfig, SophosEmulator};
use sandbox::world::{World, WorldConfig};
use serde::Serialize;

use crate::cli::Ctx;
use crate::error::CliError;
use crate::output::Render;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Sophos tenants, each mapped to its ConnectWise company with ticket sync on
    #[arg(long, default_value_t = 1000)]
    tenants: usize,
    /// Alerts in the burst phase (spread across tenants, raised within one interval)
    #[arg(long, default_value_t = 10_000)]
    alerts: usize,
    /// Alerts per interval in the steady phase
    #[arg(long, default_value_t = 100)]
    steady_alerts: usize,
    /// Cycle interval being simulated, in seconds
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
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

#[derive(Debug, Serialize)]
struct Phase {
    label: String,
    alerts: usize,
    tickets_created: u64,
    notes: u64,
    p50_s: f64,
    p99_s: f64,
    max_s: f64,
    cycle_wall_s: f64,
    sophos_calls: u64,
    connectwise_calls: u64,
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
    phases: Vec<Phase>,
    idle_cycle: Phase,
    duplicates: u64,
    unhandled_alerts: u64,
}

impl Render for Report {
    fn human(&self) -> String {
        let mut out = format!(
            "Ticket sync bench: {} tenants ({} mapped), interval {} s (emulated), {} ms per call, client limits Sophos {}/s, ConnectWise {}/s\n",
            self.tenants,
            self.mapped_tenants,
            self.interval_s,
            self.latency_ms,
            self.sophos_rps,
            self.cw_rps
        );
        for p in self.phases.iter().chain(std::iter::once(&self.idle_cycle)) {
            out.push_str(&format!(
                "{:<8} alerts {:>6}  tickets {:>6}  notes {:>5}  latency p50 {:>7.1} s  p99 {:>7.1} s  max {:>7.1} s  cycle {:>7.1} s  calls/cycle Sophos {:>6} ConnectWise {:>6}\n",
                p.label, p.alerts, p.tickets_created, p.notes, p.p50_s, p.p99_s, p.max_s, p.cycle_wall_s, p.sophos_calls, p.connectwise_calls
            ));
        }
        out.push_str(&format!(
            "duplicates: {}  alerts without ticket or note: {}\n",
            self.duplicates, self.unhandled_alerts
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

pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let world = std::sync::Arc::new(World::generate(WorldConfig {
        seed: a.seed,
        customers: a.tenants,
        extra_companies: 0,
        extra_tenants: 0,
        usage_anchor: (2026, 11),
    }));
    let mut scfg = SophosConfig::new(world.clone());
    scfg.alert_rate = 0.0;
    scfg.alert_backlog = Duration::ZERO;
    let so_emu = SophosEmulator::spawn(scfg)
        .await
        .map_err(|e| fail("Sophos emulator")(e.to_string()))?;
    let cw_emu = CwEmulator::spawn(CwConfig::new(world.clone()))
        .await
        .map_err(|e| fail("ConnectWise emulator")(e.to_string()))?;
    let dir = tempfile_dir()?;
    let result = bench(ctx, &a, &world, &cw_emu, &so_emu, &dir).await;
    let _ = std::fs::remove_dir_all(&dir);
    let report = result?;
    ctx.out.emit(&report)?;
    if report.duplicates > 0 || report.unhandled_alerts > 0 {
        return Err(CliError::failure(
            "duplicate tickets or unhandled alerts (see above)",
        ));
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
    cfg.requests_per_second = a.cw_rps.max(1);
    let cw = connectwise::Client::connect(cfg)
        .await
        .map_err(|e| fail("ConnectWise client")(e.to_string()))?;
    let sc = so_emu.credentials();
    let mut scfg = sophos::SophosConfig::new(sc.client_id, sc.client_secret);
    scfg.token_url = so_emu.token_url();
    scfg.global_url = so_emu.global_url();
    scfg.requests_per_second = a.sophos_rps.max(0.1);
    scfg.max_concurrency = a.concurrency.max(1);
    scfg.page_size.tenants = 100;
    let sophos = sophos::Client::connect(scfg)
        .await
        .map_err(|e| fail("Sophos client")(e.to_string()))?;

    // Setup (not measured): tenants and companies into the store, true pairs mapped, settings.
    let now = jiff::Timestamp::now();
    let tenants: Vec<sophos::models::Tenant> = sophos
        .tenants()
        .try_collect()
        .await
        .map_err(|e| fail("tenants")(e.to_string()))?;
    let recs: Vec<TenantRecord> = tenants
        .into_iter()
        .map(|t| TenantRecord {
            name: t.display_name().to_owned(),
            billing_type: t.billing_type.as_ref().map(|b| b.as_str().to_owned()),
            data_region: t.data_region.clone(),
            api_host: t.api_host.clone(),
            status: t.status.clone(),
            id: t.id,
            first_seen: now,
            last_seen: now,
            gone: false,
        })
        .collect();
    store.upsert_tenants(&recs, now).await?;
    let companies: Vec<connectwise::models::Company> = cw
        .companies(())
        .try_collect()
        .await
        .map_err(|e| fail("companies")(e.to_string()))?;
    let crecs: Vec<CompanyRecord> = companies
        .iter()
        .filter_map(|c| {
            Some(CompanyRecord {
                id: c.id?,
                identifier: c.identifier.clone().unwrap_or_default(),
                name: c.name.clone().unwrap_or_default(),
                status: None,
                deleted: c.deleted_flag.unwrap_or(false),
                inactive: false,
                first_seen: now,
                last_seen: now,
                gone: false,
            })
        })
        .collect();
    store.upsert_companies(&crecs, now).await?;
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
                    tenant_id: t.id.clone(),
                    company_id: rec.id,
                    ticket_sync: Some(true),
                    ..MappingInput::default()
                },
            )
            .await
            .is_err()
        {
            continue;
        }
        pairs.push((t.id.clone(), t.devices.len()));
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
    let opts = SyncOptions {
        actor: "bench".into(),
        record_run: false,
        ..SyncOptions::default()
    };
    // Baseline cycle: cursors.
    tickets::run_cycle(&store, &cw, &sophos, &opts)
        .await
        .map_err(|e| fail("cycle")(e.to_string()))?;

    let latency = Duration::from_millis(a.latency_ms);
    cw_emu.faults().set_latency(latency);
    so_emu.faults().set_latency(latency);
    let interval = Duration::from_secs(a.interval_s.max(1));
    let mut all_alerts = Vec::new();
    let mut phases = Vec::new();
    let mut seq = 0usize;
    for (label, n) in [("steady", a.steady_alerts), ("burst", a.alerts)] {
        let start = so_emu.now();
        for i in 0..n {
            let (tenant, devices) = &pairs[(seq * 7919) % pairs.len().max(1)];
            let kind = KINDS[seq % KINDS.len()];
            seq += 1;
            let offset = interval.mul_f64(i as f64 / n.max(1) as f64);
            let mut spec = AlertSpec::new(kind).raised_at(start + offset);
            if *devices > 0 {
                spec = spec.on_device(seq % devices);
            }
            let id = so_emu
                .inject_alert(tenant, spec)
                .map_err(|e| fail("inject")(e.to_string()))?;
            all_alerts.push(id);
        }
        so_emu.advance(interval);
        let cycle_end = so_emu.now();
        phases.push(measure(label, n, &store, &cw, &sophos, &opts, cycle_end).await?);
    }
    let idle = measure("idle", 0, &store, &cw, &sophos, &opts, so_emu.now()).await?;
    let mut duplicates = 0;
    let mut per_xref = std::collections::HashMap::<String, u64>::new();
    for t in cw_emu.records(Table::Tickets) {
        if let Some(x) = t["externalXRef"].as_str() {
            *per_xref.entry(x.to_owned()).or_default() += 1;
        }
    }
    for n in per_xref.values() {
        duplicates += n.saturating_sub(1);
    }
    let mut unhandled = 0;
    for id in &all_alerts {
        if engine::store::TicketStore::alert_link(&store, id)
            .await?
            .and_then(|l| l.ticket_id)
            .is_none()
        {
            unhandled += 1;
        }
    }
    store.close().await;
    Ok(Report {
        tenants: a.tenants,
        mapped_tenants: pairs.len(),
        interval_s: a.interval_s,
        latency_ms: a.latency_ms,
        sophos_rps: a.sophos_rps,
        cw_rps: a.cw_rps,
        phases,
        idle_cycle: idle,
        duplicates,
        unhandled_alerts: unhandled,
    })
}

async fn measure(
    label: &str,
    n: usize,
    store: &Store,
    cw: &connectwise::Client,
    sophos: &sophos::Client,
    opts: &SyncOptions,
    cycle_end: jiff::Timestamp,
) -> Result<Phase, CliError> {
    let wall = Instant::now();
    let started = jiff::Timestamp::now();
    let r = tickets::run_cycle(store, cw, sophos, opts)
        .await
        .map_err(|e| fail("cycle")(e.to_string()))?;
    let cycle_wall_s = wall.elapsed().as_secs_f64();
    let mut lat: Vec<f64> = r
        .created()
        .filter_map(|c| {
            let raised = c.raised_at?;
            let visible = cycle_end + started.duration_until(c.created_at);
            Some(raised.duration_until(visible).as_secs_f64())
        })
        .collect();
    lat.sort_by(|x, y| x.total_cmp(y));
    Ok(Phase {
        label: label.to_owned(),
        alerts: n,
        tickets_created: r.totals.created,
        notes: r.totals.noted,
        p50_s: percentile(&lat, 0.5),
        p99_s: percentile(&lat, 0.99),
        max_s: lat.last().copied().unwrap_or(0.0),
        cycle_wall_s,
        sophos_calls: r.api_calls.sophos,
        connectwise_calls: r.api_calls.connectwise,
    })
}
