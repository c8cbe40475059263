//! `products`, `sync usage`, `status` and `bench usage` as a user runs them, against emulators
//! started by the test.

use std::process::Output;
use std::sync::Arc;

use engine::secrets::{MASTER_KEY_ENV, MasterKey};
use engine::store::{Mapping, MappingSource, MappingStore as _, MappingWrite, NewAudit, Store};
use sandbox::connectwise::CwEmulator;
use sandbox::sophos::SophosEmulator;
use sandbox::world::{World, WorldConfig};
use secrecy::ExposeSecret as _;
use serde_json::Value;
use testkit::{Cli, Ran};

struct Env {
    /// The binary on this test's store.
    cli: Cli,
    cw: CwEmulator,
    _sophos: SophosEmulator,
}

impl Env {
    async fn new() -> Self {
        let world = Arc::new(World::generate(WorldConfig {
            seed: 41,
            customers: 10,
            extra_companies: 0,
            extra_tenants: 0,
            usage_anchor: (2026, 11),
        }));
        let cw = CwEmulator::spawn(sandbox::connectwise::CwConfig::new(world.clone()))
            .await
            .unwrap();
        let mut sc = sandbox::sophos::SophosConfig::new(world.clone());
        sc.alert_rate = 0.0;
        let sophos = SophosEmulator::spawn(sc).await.unwrap();
        let cli = Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
        let db = cli.file("cb.db");
        let key = MasterKey::generate().unwrap();
        let store = Store::open(&db.to_string_lossy(), key.clone())
            .await
            .unwrap();
        testkit::connect::save_connections(&store, &cw, &sophos).await;
        // Refresh, then map every customer to its true company and first active agreement.
        let cwc = engine::connections::connectwise_client(&store)
            .await
            .unwrap();
        let soc = engine::connections::sophos_client(&store).await.unwrap();
        let run = engine::job::start(
            &store,
            engine::job::Job::Refresh,
            engine::job::StartOptions::new(engine::job::Door::Cli, "test"),
        )
        .await
        .unwrap();
        let summary = engine::mapping::refresh(
            &store,
            Some(&soc),
            Some(&cwc),
            "",
            &Default::default(),
            &run,
        )
        .await;
        engine::job::Run::finish(&run, &engine::job::RunReport::run_end(&summary))
            .await
            .unwrap();
        summary.unwrap();
        let now = jiff::Timestamp::now();
        let mut writes = Vec::new();
        for cust in &world.customers {
            let (Some(co), Some(t)) = (&cust.company, &cust.tenant) else {
                continue;
            };
            let Some(company) = store
                .find_companies_by_identifier(&co.identifier)
                .await
                .unwrap()
                .into_iter()
                .next()
            else {
                continue;
            };
            let Some(agr) = store
                .list_agreements_of(company.id)
                .await
                .unwrap()
                .into_iter()
                .find(|a| a.status.as_deref() == Some("Active"))
            else {
                continue;
            };
            writes.push(MappingWrite {
                tenant_id: t.id.as_str().into(),
                after: Some(Mapping {
                    tenant_id: t.id.as_str().into(),
                    company_id: company.id,
                    agreement_id: Some(agr.id),
                    usage_sync: true,
                    ticket_sync: false,
                    source: MappingSource::Manual,
                    confirmed_by: "test".into(),
                    confirmed_at: now,
                }),
                audit: NewAudit {
                    at: now,
                    actor: "test".into(),
                    action: engine::audit::AuditKind::MappingSet,
                    subject: t.id.clone(),
                    before: None,
                    after: None,
                    reason: "test".into(),
                },
            });
        }
        assert!(writes.len() >= 3);
        store.write_mappings(&writes).await.unwrap();
        store.close().await;
        Env {
            cli: cli
                .env(MASTER_KEY_ENV, key.to_base64().expose_secret())
                .database(&db),
            cw,
            _sophos: sophos,
        }
    }

    async fn run(&self, args: &[&str]) -> Ran {
        self.cli.run(args).await
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn select_dry_run_sync_status() {
    let e = Env::new().await;

    let o = e.run(&["products", "select", "--all"]).await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("Sophos_Intercept_X_Advanced"));
    assert!(text(&o).contains("Do not change it in ConnectWise"));

    let o = e.run(&["products", "select", "Sophos_Nope"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("centralbridge products list"));

    let writes = e.cw.request_counts().writes;
    let o = e
        .run(&["sync", "usage", "--dry-run", "--month", "2026-11", "--json"])
        .await;
    assert!(o.status.success(), "{}", text(&o));
    let plan: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(plan["dry_run"], Value::Bool(true));
    assert!(plan["counts"]["created"].as_u64().unwrap() > 0);
    assert!(plan["customers"][0]["ops"].is_array());
    assert_eq!(e.cw.request_counts().writes, writes, "the dry run wrote");

    let o = e
        .run(&["sync", "usage", "--dry-run", "--month", "2026-11"])
        .await;
    assert!(
        text(&o).contains("dry run: nothing was written"),
        "{}",
        text(&o)
    );
    assert!(text(&o).contains("no addition for this product yet"));

    let o = e
        .run(&[
            "--log-format",
            "json",
            "sync",
            "usage",
            "--month",
            "2026-11",
        ])
        .await;
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("created"), "{}", text(&o));
    assert!(e.cw.request_counts().writes > writes);
    // Every customer's log line names its run and customer (the spans of the harness and sync).
    let applied: Vec<Value> = o
        .stderr()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["message"] == "usage applied")
        .collect();
    assert!(!applied.is_empty(), "{}", o.stderr());
    for line in &applied {
        let spans = line["spans"].as_array().expect("the span list");
        assert!(
            spans
                .iter()
                .any(|s| s["run_id"].is_string() || s["run_id"].is_number()),
            "{line}"
        );
        assert!(line["span"]["tenant_id"].is_string(), "{line}");
    }

    let o = e
        .run(&["sync", "usage", "--month", "2026-11", "--json"])
        .await;
    let again: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(again["counts"]["created"], 0);
    assert_eq!(again["counts"]["updated"], 0);

    let o = e.run(&["status", "--json"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let status: Value = serde_json::from_slice(&o.stdout).unwrap();
    let rows = status.as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(
        rows.iter()
            .all(|r| r["jobs"][0]["job"] == "usage" && r["jobs"][0]["ok"] == true)
    );
    let o = e.run(&["status", "--failed"]).await;
    assert!(text(&o).contains("No sync has run yet (or nothing matches)"));

    let o = e.run(&["sync", "usage", "--month", "2026-13"]).await;
    assert_eq!(o.status.code(), Some(2));
    let o = e
        .run(&[
            "sync",
            "usage",
            "--month",
            "2026-11",
            "--customer",
            "nobody at all",
        ])
        .await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_customer_fails_with_advice_and_exit_1() {
    let e = Env::new().await;
    assert!(
        e.run(&["products", "select", "--all"])
            .await
            .status
            .success()
    );
    // Every agreement invoiced through the month: every create is refused.
    for a in e.cw.records(sandbox::connectwise::Table::Agreements) {
        e.cw.set_invoiced_through(
            a["id"].as_i64().unwrap(),
            Some("2026-11-30T00:00:00Z".parse().unwrap()),
        );
    }
    let o = e.run(&["sync", "usage", "--month", "2026-11"]).await;
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(text(&o).contains("proration"), "{}", text(&o));
    let o = e.run(&["status", "--failed"]).await;
    assert!(text(&o).contains("FAILED"));
    assert!(text(&o).contains("advice:"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bench_smoke() {
    let e = Env::new().await;
    let o = e
        .run(&[
            "bench",
            "usage",
            "--tenants",
            "30",
            "--latency-ms",
            "0",
            "--json",
        ])
        .await;
    assert!(o.status.success(), "{}", text(&o));
    let r: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["runs"][1]["connectwise_writes"], 0);
    assert_eq!(r["runs"][2]["connectwise_writes"], 0);
    // Under the enforced limits: no 429 storm, and the report re-run reads less than per agreement.
    for run in r["runs"].as_array().unwrap() {
        assert!(run["rate_limited"].as_u64().unwrap() <= 2, "{run}");
    }
    assert!(
        r["runs"][1]["connectwise_calls"].as_u64() < r["runs"][2]["connectwise_calls"].as_u64(),
        "{r}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_month_before_the_last_synced_needs_force() {
    let e = Env::new().await;
    let o = e.run(&["products", "select", "--all"]).await;
    assert!(o.status.success(), "{}", text(&o));
    let o = e.run(&["sync", "usage", "--month", "2026-11"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let writes = e.cw.request_counts().writes;
    let o = e.run(&["sync", "usage", "--month", "2026-10"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    let t = text(&o);
    assert!(
        t.contains("2026-10 is earlier than 2026-11")
            && t.contains("Fix:")
            && t.contains("--force"),
        "{t}"
    );
    assert_eq!(
        e.cw.request_counts().writes,
        writes,
        "refused before writing"
    );
    let o = e
        .run(&["sync", "usage", "--month", "2026-10", "--force"])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(e.cw.request_counts().writes > writes);
}
