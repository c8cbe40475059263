//! The run harness on both store backends: a panic in one customer is that customer's failure (the
//! others go on, the run is "partial"), a run whose holder died is taken over once its lease expires
//! and marked abandoned, and a dry run takes no lease.

use std::time::Duration;

use engine::connections::{self, ConnectWiseSettings, SophosSettings};
use engine::job::{self, Door, Hooks, Job, RunReport as _, StartError, StartOptions};
use engine::mapping::{self, AcceptOptions, RefreshOptions};
use engine::store::{CoreStore as _, MappingStore as _, RunOutcome, Store};
use engine::tickets::{self, SettingsInput};
use engine::usage::{self, CustomerOutcome, SyncOptions};
use sandbox::sophos::{AlertKind, AlertSpec};
use sandbox::{Sandbox, SandboxOptions};
use secrecy::SecretString;
use testkit::{TestStore, both_backends};

both_backends!(
    a_panic_in_one_customer_fails_only_that_customer,
    a_dead_holders_run_is_taken_over_after_expiry_and_marked_abandoned,
    a_second_run_is_refused_naming_the_first_and_a_dry_run_takes_no_lease,
);

fn opts() -> StartOptions {
    StartOptions::new(Door::Cli, "test")
}

async fn prepared(store: &Store) -> (Sandbox, connectwise::Client, sophos::Client) {
    let mut o = SandboxOptions::demo(11, 12);
    o.alert_rate = 0.0;
    let sb = Sandbox::spawn(o).await.unwrap();
    let info = sb.info();
    connections::save_connectwise(
        store,
        &ConnectWiseSettings {
            site: sb.connectwise.site_url(),
            company_id: info.connectwise.company_id.clone(),
            public_key: info.connectwise.public_key.clone(),
            client_id: info.connectwise.client_id.clone(),
            codebase: None,
            allow_http: true,
        },
        &SecretString::from(info.connectwise.private_key.clone()),
    )
    .await
    .unwrap();
    connections::save_sophos(
        store,
        &SophosSettings {
            client_id: info.sophos.client_id.clone(),
            token_url: sb.sophos.token_url(),
            global_url: sb.sophos.global_url(),
        },
        &SecretString::from(info.sophos.client_secret.clone()),
    )
    .await
    .unwrap();
    let cw = connections::connectwise_client(store).await.unwrap();
    let so = connections::sophos_client(store).await.unwrap();
    let run = job::start(store, Job::Refresh, opts()).await.unwrap();
    let r = mapping::refresh(
        store,
        Some(&so),
        Some(&cw),
        "",
        &RefreshOptions::default(),
        &run,
    )
    .await;
    run.finish(&r.run_end()).await.unwrap();
    r.unwrap();
    let accept = AcceptOptions {
        min_score: 0.9,
        usage_sync: true,
        ticket_sync: true,
        ..Default::default()
    };
    mapping::accept(store, "test", &accept).await.unwrap();
    usage::select_all(store, "test").await.unwrap();
    (sb, cw, so)
}

/// A billed customer (monthly, with an agreement): usage sync works on it.
async fn billed_tenants(store: &Store) -> Vec<String> {
    store
        .list_customers()
        .await
        .unwrap()
        .into_iter()
        .filter(|c| {
            c.mapping
                .as_ref()
                .is_some_and(|m| m.usage_sync && m.agreement_id.is_some())
                && c.tenant
                    .billing_type
                    .as_ref()
                    .is_some_and(|b| b.is_monthly())
        })
        .map(|c| c.tenant.id.to_string())
        .collect()
}

async fn a_panic_in_one_customer_fails_only_that_customer(t: TestStore) {
    let store = &t.store;
    let (sb, cw, so) = prepared(store).await;
    let billed = billed_tenants(store).await;
    assert!(billed.len() >= 3, "{billed:?}");
    let victim = billed[1].clone();
    let hooks = Hooks {
        panic_in: Some(victim.clone()),
        ..Hooks::default()
    };
    let run = job::start(store, Job::Usage, opts().hooks(hooks.clone()))
        .await
        .unwrap();
    let report = usage::run(store, &cw, &so, &SyncOptions::default(), &run)
        .await
        .unwrap();
    let outcome = run.finish(&report.run_end()).await.unwrap();
    assert_eq!(outcome, RunOutcome::Partial);
    let failed = report
        .customers
        .iter()
        .find(|c| c.tenant_id == victim)
        .expect("the panicking customer is in the report");
    assert_eq!(failed.outcome, CustomerOutcome::Failed);
    assert!(
        failed
            .error
            .as_deref()
            .is_some_and(|e| e.contains("injected panic")),
        "{failed:?}"
    );
    assert!(failed.advice.as_deref().is_some_and(|a| a.contains("bug")));
    let ok = report
        .customers
        .iter()
        .filter(|c| c.outcome == CustomerOutcome::Ok)
        .count();
    assert!(ok >= 2, "the others went on: {report:#?}");
    assert!(report.counts.created > 0);
    // Its status says so; the run row says partial.
    let status = store.list_customer_status(Some(usage::JOB)).await.unwrap();
    let s = status.iter().find(|s| s.tenant_id == victim).unwrap();
    assert!(
        !s.ok
            && s.error
                .as_deref()
                .is_some_and(|e| e.contains("injected panic"))
    );
    let runs = store.list_sync_runs(Some("usage"), 5).await.unwrap();
    assert_eq!(runs[0].outcome, RunOutcome::Partial);

    // The same rule for ticket sync.
    let board = tickets::choices(&cw, None).await.unwrap().boards[0].id;
    let input = SettingsInput {
        board: Some(board.to_string()),
        auto: true,
        skip_unmapped: Some(true),
        ..Default::default()
    };
    tickets::update_settings(store, &cw, &input, "test")
        .await
        .unwrap();
    for tenant in &billed {
        sb.sophos
            .inject_alert(tenant, AlertSpec::new(AlertKind::ThreatDetected))
            .unwrap();
    }
    let run = job::start(store, Job::Tickets, opts().hooks(hooks))
        .await
        .unwrap();
    let cycle = tickets::run_cycle(store, &cw, &so, &run).await;
    let outcome = run.finish(&cycle.run_end()).await.unwrap();
    let cycle = cycle.unwrap();
    assert_eq!(outcome, RunOutcome::Partial);
    let bad = cycle
        .tenants
        .iter()
        .find(|r| r.tenant_id == victim)
        .unwrap();
    assert!(
        !bad.ok
            && bad
                .error
                .as_deref()
                .is_some_and(|e| e.contains("injected panic"))
    );
    assert!(cycle.totals.created >= 2, "{:?}", cycle.totals);
    sb.shutdown().await;
}

async fn a_dead_holders_run_is_taken_over_after_expiry_and_marked_abandoned(t: TestStore) {
    let store = &t.store;
    let ttl = Duration::from_millis(600);
    // A run whose process "dies": dropped without finishing, so its lease stops being renewed.
    let dead = job::start(store, Job::Usage, opts().lease_ttl(ttl))
        .await
        .unwrap();
    let dead_id = dead.id().unwrap();
    drop(dead);
    match job::start(store, Job::Usage, opts().lease_ttl(ttl)).await {
        Err(StartError::Busy(b)) => {
            assert!(b.holder.starts_with("cli|test|"), "{b:?}");
            assert!(b.since.is_some() && b.expires_at.is_some());
        }
        other => panic!("taken over before expiry: {other:?}"),
    }
    tokio::time::sleep(ttl + Duration::from_millis(200)).await;
    let next = job::start(store, Job::Usage, opts().lease_ttl(ttl))
        .await
        .expect("taken over after expiry");
    let runs = store.list_sync_runs(Some("usage"), 5).await.unwrap();
    let old = runs.iter().find(|r| r.id == dead_id).unwrap();
    assert_eq!(old.outcome, RunOutcome::Abandoned);
    assert!(old.finished_at.is_some());
    // The abandoned verdict stands even if the dead run's process came back and tried to finish.
    assert!(
        !store
            .finish_sync_run(
                dead_id,
                jiff::Timestamp::now(),
                RunOutcome::Ok,
                &serde_json::json!({}),
                None
            )
            .await
            .unwrap()
    );
    // A live run keeps its lease by renewing it, well past one lease length.
    tokio::time::sleep(ttl * 3).await;
    assert!(!next.lease_lost());
    assert!(matches!(
        job::start(store, Job::Usage, opts()).await,
        Err(StartError::Busy(_))
    ));
    next.finish(&job::RunEnd::failed("test")).await.unwrap();
    assert!(
        store
            .lease_holder("usage", jiff::Timestamp::now())
            .await
            .unwrap()
            .is_none()
    );
    // A finished run stops renewing: it never reports its (given back) lease as lost.
    tokio::time::sleep(ttl).await;
    assert!(!next.lease_lost(), "the renewal outlived the run");
}

async fn a_second_run_is_refused_naming_the_first_and_a_dry_run_takes_no_lease(t: TestStore) {
    let store = &t.store;
    let first = job::start(store, Job::Tickets, opts()).await.unwrap();
    let Err(StartError::Busy(b)) = job::start(
        store,
        Job::Tickets,
        StartOptions::new(Door::Service, "service"),
    )
    .await
    else {
        panic!("a second run started");
    };
    let text = b.to_string();
    assert!(
        text.contains("ticket sync is already running")
            && text.contains("a centralbridge command run by test")
            && text.contains("Fix:")
            && text.contains("--wait"),
        "{text}"
    );
    // Other jobs are not held by it.
    let refresh = job::start(store, Job::Refresh, opts()).await.unwrap();
    refresh.finish(&job::RunEnd::failed("test")).await.unwrap();
    // A dry run reads only: no lease, no run row.
    let dry = job::start(store, Job::Tickets, opts().dry_run(true))
        .await
        .unwrap();
    assert_eq!(dry.id(), None);
    dry.finish(&job::RunEnd::failed("test")).await.unwrap();
    // A waiting run starts as soon as the first ends.
    let waiter = {
        let store = store.clone();
        tokio::spawn(async move { job::start(&store, Job::Tickets, opts().wait(true)).await })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiter.is_finished());
    first.finish(&job::RunEnd::failed("test")).await.unwrap();
    let second = tokio::time::timeout(Duration::from_secs(10), waiter)
        .await
        .expect("the waiting run started")
        .unwrap()
        .unwrap();
    second.finish(&job::RunEnd::failed("test")).await.unwrap();
    let runs = store.list_sync_runs(Some("tickets"), 5).await.unwrap();
    assert_eq!(runs.len(), 2, "{runs:?}");
}
