//! Refresh at scale: records are streamed and written in batches, so peak memory does not grow with the
//! MSP's size. Prints figures (no timed assertions).
//!
//! `cargo test -p engine --release --test mapping_scale -- --ignored --nocapture` runs the 5,000
//! companies + 10,000 agreements case; the small case runs in CI.
//!
//! Measured in-process: the emulators live in the same process, so the figures include their data
//! (built before the measurement starts) and their response buffers (one page at a time). The peak
//! (VmHWM) is reset through /proc/self/clear_refs just before the refresh, so it is the refresh's peak.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use engine::mapping::{self, RefreshOptions};
use engine::secrets::MasterKey;
use engine::store::{MappingStore as _, RecordKind, Store};
use sandbox::connectwise::{CwConfig as EmuCwConfig, CwEmulator, Table};
use sandbox::sophos::{SophosConfig as EmuSophosConfig, SophosEmulator};
use sandbox::world::{World, WorldConfig};
use serde_json::json;

fn status_kb(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

async fn run(companies: usize, agreements: usize) {
    let world = World::generate(WorldConfig {
        seed: 5150,
        customers: companies,
        extra_companies: 0,
        extra_tenants: 0,
        usage_anchor: (2026, 11),
    });
    let world = Arc::new(world);
    let cwe = CwEmulator::spawn(EmuCwConfig::new(world.clone()))
        .await
        .unwrap();
    // Top up to the wanted number of agreements (the generator makes about 1.3 per company).
    let existing = cwe.records(Table::Agreements);
    let template = existing[0].clone();
    let company_ids: Vec<i64> = cwe
        .records(Table::Companies)
        .iter()
        .filter_map(|c| c["id"].as_i64())
        .collect();
    for i in existing.len()..agreements {
        let mut a = template.clone();
        let cid = company_ids[i % company_ids.len()];
        a["company"] = json!({"id": cid, "identifier": "x", "name": "x"});
        a["name"] = json!(format!("Extra agreement {i}"));
        cwe.insert_record(Table::Agreements, a);
    }
    let mut scfg = EmuSophosConfig::new(world.clone());
    scfg.alert_rate = 0.0;
    let se = SophosEmulator::spawn(scfg).await.unwrap();

    let creds = cwe.credentials();
    let mut c = connectwise::CwConfig::new(
        cwe.site_url(),
        creds.company_id.clone(),
        creds.public_key.clone(),
        creds.private_key.clone(),
        creds.client_id.clone(),
    );
    c.allow_http = true;
    c.rate_limit = connectwise::RateLimit::Off;
    let cw = connectwise::Client::connect(c).await.unwrap();
    let sc = se.credentials();
    let mut s = sophos::SophosConfig::new(sc.client_id, sc.client_secret);
    s.token_url = se.token_url();
    s.global_url = se.global_url();
    s.rate_limit = sophos::RateLimit::Off;
    s.page_size.tenants = 100;
    s.retry.base_delay = Duration::from_millis(5);
    let sophos = sophos::Client::connect(s).await.unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cb.db");
    let store = Store::open(path.to_str().unwrap(), MasterKey::generate().unwrap())
        .await
        .unwrap();

    let batches = Arc::new(AtomicU64::new(0));
    let b = batches.clone();
    let opts = RefreshOptions {
        progress: Some(Arc::new(move |_, _| {
            b.fetch_add(1, Ordering::Relaxed);
        })),
        ..RefreshOptions::default()
    };
    let rss_before = status_kb("VmRSS:");
    // Reset the peak so VmHWM below is the refresh's own peak (Linux >= 4.0).
    let reset = std::fs::write("/proc/self/clear_refs", "5").is_ok();
    let started = Instant::now();
    let run = engine::job::start(
        &store,
        engine::job::Job::Refresh,
        engine::job::StartOptions::new(engine::job::Door::Cli, "test"),
    )
    .await
    .unwrap();
    let summary = mapping::refresh(&store, Some(&sophos), Some(&cw), "", &opts, &run).await;
    engine::job::Run::finish(&run, &engine::job::RunReport::run_end(&summary))
        .await
        .unwrap();
    let summary = summary.unwrap();
    let elapsed = started.elapsed();
    let peak = status_kb("VmHWM:");
    assert!(summary.ok(), "{summary:#?}");
    assert_eq!(summary.tenants.seen as usize, companies);
    assert_eq!(summary.companies.seen as usize, companies);
    assert_eq!(
        summary.agreements.seen as usize,
        agreements.max(existing.len())
    );
    assert_eq!(
        store.count_records(RecordKind::Agreements).await.unwrap().0 as usize,
        agreements.max(existing.len())
    );
    assert!(
        batches.load(Ordering::Relaxed) >= ((companies * 2 + agreements) / 500) as u64,
        "written in batches"
    );
    eprintln!(
        "refresh of {} tenants, {} companies, {} agreements: {:.2?}; RSS before {} KiB, peak during refresh {} KiB{} (+{} KiB); {} progress callbacks (batch 500)",
        summary.tenants.seen,
        summary.companies.seen,
        summary.agreements.seen,
        elapsed,
        rss_before.unwrap_or(0),
        peak.unwrap_or(0),
        if reset {
            ""
        } else {
            " (peak not reset: includes setup)"
        },
        peak.unwrap_or(0).saturating_sub(rss_before.unwrap_or(0)),
        batches.load(Ordering::Relaxed),
    );
    store.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_streams_in_batches_small() {
    run(600, 1_200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "scale benchmark: run with --ignored --nocapture (prefer --release)"]
async fn refresh_5000_companies_10000_agreements() {
    run(5_000, 10_000).await;
}
