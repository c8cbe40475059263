//! Paging and filters of the Sophos emulator at MSP scale, over raw HTTP.

use crate::sophos_common;

use sandbox::sophos::{AlertKind, AlertSpec, SophosConfig};
use serde_json::{Value, json};
use sophos_common::{spawn, spawn_with, world_of};
use std::collections::BTreeSet;
use std::time::Duration;

#[tokio::test]
async fn three_thousand_tenants_by_page_number() {
    let mut cfg = SophosConfig::new(world_of(3000, 11));
    cfg.alert_rate = 0.0;
    let env = spawn_with(cfg).await;
    let (status, first) = env
        .partner_get("/partner/v1/tenants?page=1&pageSize=100&pageTotal=true")
        .await;
    assert_eq!(status, 200);
    assert_eq!(first["pages"]["total"], 30);
    assert_eq!(first["pages"]["items"], 3000);
    let mut ids: Vec<String> = Vec::new();
    let total = first["pages"]["total"].as_u64().unwrap();
    for page in 1..=total {
        let (_, p) = env
            .partner_get(&format!("/partner/v1/tenants?page={page}&pageSize=100"))
            .await;
        ids.extend(
            p["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|t| t["id"].as_str().unwrap().to_owned()),
        );
    }
    let unique: BTreeSet<_> = ids.iter().collect();
    assert_eq!(ids.len(), 3000);
    assert_eq!(unique.len(), 3000);
    let expected: Vec<String> = env.emu.world().tenants().map(|t| t.id.clone()).collect();
    assert_eq!(ids, expected);
    // Past the end: an empty page, not an error.
    let (status, past) = env
        .partner_get("/partner/v1/tenants?page=31&pageSize=100")
        .await;
    assert_eq!(status, 200);
    assert!(past["items"].as_array().unwrap().is_empty());
    assert_eq!(env.partner_get("/partner/v1/tenants?page=0").await.0, 400);
}

#[tokio::test]
async fn twenty_thousand_usage_lines_by_key() {
    let mut cfg = SophosConfig::new(world_of(4600, 12));
    cfg.alert_rate = 0.0;
    cfg.orphan_usage_lines = 3;
    let env = spawn_with(cfg).await;
    let world = env.emu.world().clone();
    let expected_lines: usize = world.tenants().map(|t| t.usage.len()).sum::<usize>() + 3;
    assert!(expected_lines >= 20_000, "{expected_lines}");

    let mut lines: Vec<Value> = Vec::new();
    let mut key: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &key {
            None => "/partner/v1/billing/usage/2026/10?pageSize=1000".to_owned(),
            Some(k) => format!("/partner/v1/billing/usage/2026/10?pageSize=1000&pageFromKey={k}"),
        };
        let (status, page) = env.partner_get(&path).await;
        assert_eq!(status, 200);
        assert_eq!(page["pages"]["fromKey"].as_str(), key.as_deref());
        lines.extend(page["items"].as_array().unwrap().iter().cloned());
        pages += 1;
        match page["pages"].get("nextKey").and_then(Value::as_str) {
            Some(k) => key = Some(k.to_owned()),
            None => break,
        }
    }
    assert_eq!(lines.len(), expected_lines);
    assert_eq!(pages, expected_lines.div_ceil(1000));
    let external: BTreeSet<_> = lines
        .iter()
        .map(|l| l["externalId"].as_str().unwrap())
        .collect();
    assert_eq!(external.len(), lines.len());

    // Quantities are the world's; lines without accountId are the orphans.
    let orphans: Vec<_> = lines
        .iter()
        .filter(|l| l.get("accountId").is_none())
        .collect();
    assert_eq!(orphans.len(), 3);
    let t = world.tenants().find(|t| t.usage.len() >= 2).unwrap();
    let mine: Vec<_> = lines
        .iter()
        .filter(|l| l["accountId"] == t.id.as_str())
        .collect();
    assert_eq!(mine.len(), t.usage.len());
    for (row, line) in mine.iter().enumerate() {
        assert_eq!(
            line["billableQuantity"],
            world.monthly_quantity(t, row, 2026, 10)
        );
    }

    // Filters.
    let (_, by_account) = env
        .partner_get(&format!(
            "/partner/v1/billing/usage/2026/10?accountId={}",
            t.id
        ))
        .await;
    assert_eq!(by_account["items"].as_array().unwrap().len(), t.usage.len());
    assert!(by_account["pages"].get("nextKey").is_none());
    let email = env.emu.contact_email(&t.id).unwrap();
    let (_, by_email) = env
        .partner_get(&format!(
            "/partner/v1/billing/usage/2026/10?contactEmail={}",
            email.replace('@', "%40")
        ))
        .await;
    assert_eq!(by_email["items"], by_account["items"]);

    // A key that is not one of ours.
    assert_eq!(
        env.partner_get("/partner/v1/billing/usage/2026/10?pageFromKey=xyz")
            .await
            .0,
        400
    );
    assert_eq!(
        env.partner_get("/partner/v1/billing/usage/2026/10?pageSize=1001")
            .await
            .0,
        400
    );
}

/// Every page of a list or search, following nextKey.
async fn walk(env: &sophos_common::Env, tenant: &str, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut key: Option<String> = None;
    loop {
        let path = match &key {
            None => format!("/common/v1/alerts?{query}"),
            Some(k) => format!("/common/v1/alerts?{query}&pageFromKey={k}"),
        };
        let (status, page) = env.tenant_get(tenant, &path).await;
        assert_eq!(status, 200, "{page}");
        out.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["pages"].get("nextKey").and_then(Value::as_str) {
            Some(k) => key = Some(k.to_owned()),
            None => return out,
        }
    }
}

fn ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn alerts_key_paging_filters_and_search() {
    let env = spawn().await;
    let tenant = env.readable_tenant_with_alerts();
    let start = env.emu.now();
    for i in 0..25u64 {
        let kind = [
            AlertKind::ThreatDetected,
            AlertKind::EndpointOutOfDate,
            AlertKind::UpdateFailure,
        ][(i % 3) as usize];
        let at = start
            .checked_add(jiff::SignedDuration::from_secs(60 * i as i64))
            .unwrap();
        env.emu
            .inject_alert(&tenant, AlertSpec::new(kind).raised_at(at))
            .unwrap();
    }
    let all = env.emu.alerts(&tenant);
    assert!(all.len() >= 25);

    let walked = walk(&env, &tenant, "pageSize=7").await;
    assert_eq!(
        ids(&walked),
        all.iter().map(|a| a.id.clone()).collect::<Vec<_>>()
    );

    let desc = walk(&env, &tenant, "pageSize=4&sort=raisedAt:desc").await;
    let mut rev = ids(&walked);
    rev.reverse();
    assert_eq!(ids(&desc), rev);

    // pageTotal: total pages and items.
    let (_, first) = env
        .tenant_get(&tenant, "/common/v1/alerts?pageSize=7&pageTotal=true")
        .await;
    assert_eq!(first["pages"]["items"], all.len());
    assert_eq!(first["pages"]["total"], all.len().div_ceil(7));

    // Filters.
    let high = walk(&env, &tenant, "severity=high&pageSize=5").await;
    assert!(high.len() >= 9);
    assert!(high.iter().all(|a| a["severity"] == "high"));
    let updating = walk(
        &env,
        &tenant,
        "category=updating,malware&product=endpoint,server",
    )
    .await;
    assert!(
        updating
            .iter()
            .all(|a| a["category"] == "updating" || a["category"] == "malware")
    );
    let from = start
        .checked_add(jiff::SignedDuration::from_secs(600))
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S%.3f");
    let to = start
        .checked_add(jiff::SignedDuration::from_secs(1200))
        .unwrap()
        .strftime("%Y-%m-%dT%H:%M:%S%.3f");
    let window = walk(&env, &tenant, &format!("from={from}&to={to}")).await;
    assert_eq!(window.len(), 10, "minutes 10..20 of the injected ones");
    let two = ids(&walked[..2]);
    let by_ids = walk(&env, &tenant, &format!("ids={}", two.join(","))).await;
    assert_eq!(ids(&by_ids), two);
    // Repeated keys mean the same as a comma list: every value counts, not only the first.
    let repeated = walk(
        &env,
        &tenant,
        "category=updating&category=malware&product=endpoint&product=server",
    )
    .await;
    assert_eq!(ids(&repeated), ids(&updating));
    assert!(repeated.iter().any(|a| a["category"] == "malware"));
    assert!(repeated.iter().any(|a| a["category"] == "updating"));
    let by_repeated_ids = walk(&env, &tenant, &format!("ids={}&ids={}", two[0], two[1])).await;
    assert_eq!(ids(&by_repeated_ids), two);
    // The injected out-of-date alerts are on the same device: one group.
    let gk = all
        .iter()
        .rev()
        .find(|a| a.kind == "Event::Endpoint::OutOfDate")
        .unwrap()
        .group_key
        .clone();
    let same_group = walk(
        &env,
        &tenant,
        &format!("groupKey={}", gk.replace('=', "%3D").replace('+', "%2B")),
    )
    .await;
    assert!(same_group.len() >= 2);
    assert!(same_group.iter().all(|a| a["groupKey"] == gk.as_str()));

    // The search variant answers the same.
    let (status, searched) = env
        .tenant_post(
            &tenant,
            "/common/v1/alerts/search",
            &json!({"severity": ["high"], "pageSize": 1000}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids(searched["items"].as_array().unwrap()), ids(&high));
    let (status, _) = env
        .tenant_post(
            &tenant,
            "/common/v1/alerts/search",
            &json!({"severity": "high"}),
        )
        .await;
    assert_eq!(status, 400);

    // Bad parameters.
    for q in [
        "severity=urgent",
        "sort=colour",
        "pageSize=1001",
        "pageFromKey=nope",
        "from=yesterday",
    ] {
        let (status, body) = env
            .tenant_get(&tenant, &format!("/common/v1/alerts?{q}"))
            .await;
        assert_eq!(status, 400, "{q}");
        assert_eq!(body["error"], "badRequest");
    }
}

#[tokio::test]
async fn key_paging_survives_removals() {
    let mut cfg = SophosConfig::new(sophos_common::small_world());
    cfg.alert_rate = 0.0;
    let env = spawn_with(cfg).await;
    let tenant = env
        .emu
        .world()
        .tenants()
        .find(|t| t.billing.alerts_readable())
        .unwrap()
        .id
        .clone();
    for i in 0..10i64 {
        let at = env
            .emu
            .now()
            .checked_add(jiff::SignedDuration::from_secs(i))
            .unwrap();
        env.emu
            .inject_alert(
                &tenant,
                AlertSpec::new(AlertKind::HealthStatus).raised_at(at),
            )
            .unwrap();
    }
    let all: Vec<String> = env.emu.alerts(&tenant).into_iter().map(|a| a.id).collect();
    assert_eq!(all.len(), 10);
    let (_, p1) = env
        .tenant_get(&tenant, "/common/v1/alerts?pageSize=4")
        .await;
    let key = p1["pages"]["nextKey"].as_str().unwrap().to_owned();
    // The first alert of the next page and one of the first page go away meanwhile.
    assert!(env.emu.clear_alert(&tenant, &all[4]));
    let (status, _) = env
        .tenant_post(
            &tenant,
            &format!("/common/v1/alerts/{}/actions", all[0]),
            &json!({"action": "acknowledge"}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, p2) = env
        .tenant_get(
            &tenant,
            &format!("/common/v1/alerts?pageSize=4&pageFromKey={key}"),
        )
        .await;
    assert_eq!(ids(p2["items"].as_array().unwrap()), all[5..9].to_vec());
    // Advancing time does not invent alerts when the generator is off.
    env.emu.advance(Duration::from_secs(86_400));
    assert_eq!(env.emu.alerts(&tenant).len(), 8);
}
