//! The Sophos emulator's clock and alert generator: determinism, recurrence, clearing, knobs.

use crate::sophos_common;

use sandbox::sophos::{AlertKind, AlertSpec, ClockMode, Closed, SophosConfig, SophosEmulator};
use serde_json::json;
use sophos_common::{small_world, spawn_with, world_of};
use std::collections::BTreeMap;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

async fn run(seed: u64, steps: &[Duration]) -> String {
    let mut cfg = SophosConfig::new(world_of(40, 5));
    cfg.seed = seed;
    cfg.alert_rate = 1.0;
    let emu = SophosEmulator::spawn(cfg).await.unwrap();
    for s in steps {
        emu.advance(*s);
    }
    let out = serde_json::to_string(&emu.all_alerts()).unwrap();
    emu.shutdown().await;
    out
}

#[tokio::test]
async fn same_seed_same_bytes_whatever_the_steps() {
    let a = run(77, &[HOUR * 6]).await;
    let b = run(
        77,
        &[
            HOUR,
            HOUR * 2,
            Duration::from_secs(1),
            HOUR * 3 - Duration::from_secs(1),
        ],
    )
    .await;
    assert_eq!(a, b);
    let c = run(78, &[HOUR * 6]).await;
    assert_ne!(a, c);
    // A realistic volume: 40 tenants, 30 hours (backlog included) at one an hour.
    let n = serde_json::from_str::<Vec<serde_json::Value>>(&a)
        .unwrap()
        .len();
    assert!((900..1500).contains(&n), "{n}");
}

#[tokio::test]
async fn time_raises_repeats_and_clears() {
    let mut cfg = SophosConfig::new(small_world());
    cfg.alert_rate = 2.0;
    let env = spawn_with(cfg).await;
    let world = env.emu.world().clone();
    let before: usize = world
        .tenants()
        .map(|t| env.emu.alert_log(&t.id).len())
        .sum();
    let t0 = env.emu.now();
    env.emu.advance(HOUR * 12);
    assert_eq!(env.emu.now().duration_since(t0).as_secs(), 12 * 3600);
    let log: Vec<_> = world
        .tenants()
        .flat_map(|t| env.emu.alert_log(&t.id))
        .collect();
    assert!(log.len() > before + 100, "{} -> {}", before, log.len());

    // Some problems repeat on the same device: the same groupKey, and the device is the same.
    let mut groups: BTreeMap<&str, Vec<&sandbox::sophos::AlertRecord>> = BTreeMap::new();
    for r in &log {
        groups
            .entry(r.alert.group_key.as_str())
            .or_default()
            .push(r);
    }
    let repeated: Vec<_> = groups.values().filter(|g| g.len() > 1).collect();
    assert!(repeated.len() > 10);
    for g in repeated {
        assert!(
            g.iter()
                .all(|r| r.alert.managed_agent == g[0].alert.managed_agent
                    && r.alert.kind == g[0].alert.kind)
        );
    }

    // Some clear by themselves; the API no longer shows them.
    let cleared: Vec<_> = log
        .iter()
        .filter(|r| r.closed == Some(Closed::Cleared))
        .collect();
    assert!(cleared.len() > 20);
    let readable = cleared.iter().find(|r| {
        world
            .tenants()
            .any(|t| t.id == r.alert.tenant.id && t.billing.alerts_readable())
    });
    let r = readable.expect("a cleared alert of a readable tenant");
    let (status, body) = env
        .tenant_get(
            &r.alert.tenant.id,
            &format!("/common/v1/alerts/{}", r.alert.id),
        )
        .await;
    assert_eq!(status, 404);
    assert_eq!(body["error"], "resourceNotFound");

    // Realistic mix: several types, categories and all severities; servers and computers.
    let types: std::collections::BTreeSet<_> = log.iter().map(|r| r.alert.kind.as_str()).collect();
    assert!(types.len() >= 10, "{types:?}");
    for sev in ["low", "medium", "high"] {
        assert!(log.iter().any(|r| r.alert.severity == sev));
    }
    assert!(log.iter().any(|r| {
        r.alert
            .managed_agent
            .as_ref()
            .is_some_and(|m| m.kind == "server")
    }));
    assert!(log.iter().any(|r| r.alert.managed_agent.is_none()));
}

#[tokio::test]
async fn injected_alert_with_self_clearing_and_delayed_acknowledge() {
    let mut cfg = SophosConfig::new(small_world());
    cfg.alert_rate = 0.0;
    cfg.ack_delay = Duration::from_secs(30);
    let env = spawn_with(cfg).await;
    let tenant = env
        .emu
        .world()
        .tenants()
        .find(|t| t.billing.alerts_readable())
        .unwrap()
        .id
        .clone();

    let passing = env
        .emu
        .inject_alert(
            &tenant,
            AlertSpec::new(AlertKind::RealTimeProtectionDisabled).clears_after(HOUR),
        )
        .unwrap();
    let custom = env
        .emu
        .inject_alert(
            &tenant,
            AlertSpec::new(AlertKind::EndpointOutOfDate)
                .on_device(1)
                .description("Custom text")
                .severity("high"),
        )
        .unwrap();
    let (_, a) = env
        .tenant_get(&tenant, &format!("/common/v1/alerts/{custom}"))
        .await;
    assert_eq!(a["description"], "Custom text");
    assert_eq!(a["severity"], "high");
    let device = &env
        .emu
        .world()
        .tenants()
        .find(|t| t.id == tenant)
        .unwrap()
        .devices[1];
    assert_eq!(a["managedAgent"]["name"], device.0.as_str());
    assert_eq!(a["managedAgent"]["type"], device.1);

    // Acknowledged, but listed until the (emulated) delay has passed.
    let (status, _) = env
        .tenant_post(
            &tenant,
            &format!("/common/v1/alerts/{custom}/actions"),
            &json!({"action": "acknowledge"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(
        env.tenant_get(&tenant, &format!("/common/v1/alerts/{custom}"))
            .await
            .0,
        200
    );
    env.emu.advance(Duration::from_secs(31));
    assert_eq!(
        env.tenant_get(&tenant, &format!("/common/v1/alerts/{custom}"))
            .await
            .0,
        404
    );

    assert_eq!(
        env.tenant_get(&tenant, &format!("/common/v1/alerts/{passing}"))
            .await
            .0,
        200
    );
    env.emu.advance(HOUR);
    assert_eq!(
        env.tenant_get(&tenant, &format!("/common/v1/alerts/{passing}"))
            .await
            .0,
        404
    );
    assert!(
        env.emu
            .inject_alert("not-a-tenant", AlertSpec::new(AlertKind::Isolation))
            .is_err()
    );
}

#[tokio::test]
async fn realtime_clock_moves_by_itself() {
    let mut cfg = SophosConfig::new(small_world());
    cfg.clock = ClockMode::Realtime { speed: 3600.0 };
    cfg.alert_rate = 4.0;
    let emu = SophosEmulator::spawn(cfg).await.unwrap();
    let t0 = emu.now();
    let n0 = emu.all_alerts().len();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let moved = emu.now().duration_since(t0).as_secs();
    assert!(moved >= 1800, "{moved}");
    assert!(emu.all_alerts().len() > n0);
    emu.shutdown().await;
}

#[tokio::test]
async fn https_mode() {
    let dir = std::env::temp_dir().join(format!("sophos-emu-{}", std::process::id()));
    let cert = dir.join("cert.pem");
    let mut cfg = SophosConfig::new(small_world());
    cfg.https_cert_path = Some(cert.clone());
    let emu = SophosEmulator::spawn(cfg).await.unwrap();
    assert!(emu.global_url().starts_with("https://"));
    assert_eq!(emu.cert_path().as_deref(), Some(cert.as_path()));
    let pem = std::fs::read(&cert).unwrap();
    let http = clientkit::http_client()
        .add_root_certificate(reqwest::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let token = sophos_common::token(&emu, &http).await;
    let (status, page) = sophos_common::split(
        http.get(format!("{}/partner/v1/tenants", emu.global_url()))
            .bearer_auth(&token)
            .header("X-Partner-ID", emu.partner_id())
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        page["items"][0]["apiHost"]
            .as_str()
            .unwrap()
            .starts_with("https://127.0.0.1:")
    );
    emu.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}

/// Not a timed assertion: prints how long a 3,000-tenant emulator takes to start and how many alerts it
/// holds, for the record.
#[tokio::test]
async fn scale_figures() {
    let world = world_of(3000, 21);
    let started = std::time::Instant::now();
    let emu = SophosEmulator::spawn(SophosConfig::new(world))
        .await
        .unwrap();
    let spawn = started.elapsed();
    let started = std::time::Instant::now();
    emu.advance(HOUR * 24);
    let day = started.elapsed();
    let alerts = emu.all_alerts().len();
    println!("3000 tenants: spawn {spawn:?}, one emulated day {day:?}, {alerts} alerts in the log");
    assert!(alerts > 3000);
    emu.shutdown().await;
}
