//! The SIEM event feed (`/siem/v1/events`): derived from the alert history, paged by cursor,
//! filtered by `exclude_types`, guarded like every tenant endpoint.

use crate::sophos_common::{Env, small_world, spawn, spawn_with};
use sandbox::sophos::{AlertKind, AlertSpec, IdHeaderRejection, SophosConfig};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

const HOUR: Duration = Duration::from_secs(3600);

/// Every event after `first` (a query without cursor), walking `next_cursor` until `has_more` is
/// false; the last cursor too.
async fn walk(env: &Env, tenant: &str, first: &str) -> (Vec<Value>, String) {
    let (status, mut page) = env.tenant_get(tenant, first).await;
    assert_eq!(status, 200, "{page}");
    let mut items = Vec::new();
    loop {
        items.extend(page["items"].as_array().unwrap().iter().cloned());
        let cursor = page["next_cursor"].as_str().unwrap().to_owned();
        if !page["has_more"].as_bool().unwrap() {
            return (items, cursor);
        }
        let (status, next) = env
            .tenant_get(tenant, &format!("/siem/v1/events?limit=3&cursor={cursor}"))
            .await;
        assert_eq!(status, 200, "{next}");
        page = next;
    }
}

fn types(items: &[Value]) -> Vec<&str> {
    items.iter().map(|e| e["type"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn raises_and_ends_of_alerts_are_events_paged_by_cursor() {
    let env = spawn().await;
    let tenant = env.readable_tenant_with_alerts();
    let threat = env
        .emu
        .inject_alert(&tenant, AlertSpec::new(AlertKind::ThreatDetected))
        .unwrap();
    env.emu.advance(Duration::from_secs(5));

    let (items, cursor) = walk(&env, &tenant, "/siem/v1/events?limit=3").await;
    assert!(items.len() > 3, "more than one page: {}", items.len());
    let ids: BTreeSet<&str> = items.iter().map(|e| e["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), items.len(), "every event once");
    let created: Vec<&str> = items
        .iter()
        .map(|e| e["created_at"].as_str().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    for e in &items {
        for key in [
            "id",
            "customer_id",
            "severity",
            "created_at",
            "when",
            "type",
            "name",
            "description",
            "source",
            "group",
        ] {
            assert!(e[key].is_string(), "{key} in {e}");
        }
        assert_eq!(e["customer_id"], tenant.as_str());
        assert!(e["type"].as_str().unwrap().starts_with("Event::"), "{e}");
        assert!(e["when"].as_str().unwrap() <= e["created_at"].as_str().unwrap());
    }
    // The injected threat: the event the SIEM script splits into a threat name and a file path.
    let raised = items
        .iter()
        .rev()
        .find(|e| e["type"] == "Event::Endpoint::Threat::Detected" && e["severity"] == "high")
        .expect("the threat's event");
    let desc = raised["description"].as_str().unwrap();
    assert!(desc.starts_with("Malware detected: '"), "{desc}");
    assert!(raised["endpoint_id"].is_string() && raised["location"].is_string());
    assert!(
        raised["source_info"]["ip"]
            .as_str()
            .unwrap()
            .starts_with("10.")
    );
    assert_eq!(raised["endpoint_type"], "computer");
    assert!(raised["threat"].is_string() && raised["user_id"].is_string());

    // Clearing it is a further event, after the cursor; nothing else came since.
    assert!(env.emu.clear_alert(&tenant, &threat));
    env.emu.advance(Duration::from_secs(1));
    let (status, next) = env
        .tenant_get(&tenant, &format!("/siem/v1/events?cursor={cursor}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(next["has_more"], false);
    let cleaned = next["items"].as_array().unwrap();
    assert_eq!(types(cleaned), ["Event::Endpoint::Threat::CleanedUp"]);
    assert_eq!(cleaned[0]["endpoint_id"], raised["endpoint_id"]);
    assert_eq!(cleaned[0]["severity"], "low");
    let text = cleaned[0]["description"].as_str().unwrap();
    assert!(text.starts_with("Malware cleaned up: '"), "{text}");
    // And an acknowledged alert's end too.
    let alert = env.emu.alerts(&tenant)[0].clone();
    let cursor = next["next_cursor"].as_str().unwrap();
    let (status, _) = env
        .tenant_post(
            &tenant,
            &format!("/common/v1/alerts/{}/actions", alert.id),
            &json!({"action": "acknowledge"}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, after) = env
        .tenant_get(&tenant, &format!("/siem/v1/events?cursor={cursor}"))
        .await;
    let ended = after["items"].as_array().unwrap();
    if AlertKind::LicenceLimit.type_name() != alert.kind {
        assert_eq!(ended.len(), 1, "{after}");
        assert!(
            ended[0]["name"]
                .as_str()
                .unwrap()
                .contains("marked as resolved")
        );
    }
}

#[tokio::test]
async fn the_feed_moves_with_emulated_time() {
    let mut cfg = SophosConfig::new(small_world());
    cfg.alert_rate = 3.0;
    let env = spawn_with(cfg).await;
    let tenant = env.readable_tenant_with_alerts();
    let (_, cursor) = walk(&env, &tenant, "/siem/v1/events?limit=1000").await;
    let (_, page) = env
        .tenant_get(&tenant, &format!("/siem/v1/events?cursor={cursor}"))
        .await;
    assert_eq!(
        page["items"],
        json!([]),
        "nothing new while time stands still"
    );
    assert_eq!(page["next_cursor"], cursor.as_str());
    env.emu.advance(HOUR * 3);
    let (newer, _) = walk(
        &env,
        &tenant,
        &format!("/siem/v1/events?limit=3&cursor={cursor}"),
    )
    .await;
    assert!(
        !newer.is_empty(),
        "three emulated hours at 3 alerts an hour bring events"
    );
    // The same seed and steps give the same feed, byte for byte.
    let again = spawn_with({
        let mut c = SophosConfig::new(small_world());
        c.alert_rate = 3.0;
        c
    })
    .await;
    again.emu.advance(HOUR * 3);
    let (a, _) = walk(&env, &tenant, "/siem/v1/events?limit=1000").await;
    let (b, _) = walk(&again, &tenant, "/siem/v1/events?limit=1000").await;
    assert_eq!(a, b);
}

#[tokio::test]
async fn exclude_types_leaves_those_types_out() {
    let mut cfg = SophosConfig::new(small_world());
    cfg.alert_rate = 2.0;
    let env = spawn_with(cfg).await;
    let tenant = env.readable_tenant_with_alerts();
    let (all, _) = walk(&env, &tenant, "/siem/v1/events?limit=1000").await;
    let kinds: BTreeSet<&str> = types(&all).into_iter().collect();
    assert!(kinds.len() >= 3, "{kinds:?}");
    // The newest event's type among them, so the end of the feed is a left-out event.
    let newest = all.last().unwrap()["type"].as_str().unwrap();
    let other = kinds.iter().copied().find(|k| *k != newest).unwrap();
    let dropped = [newest, other];
    let expect: Vec<&Value> = all
        .iter()
        .filter(|e| !dropped.contains(&e["type"].as_str().unwrap()))
        .collect();
    // A comma list, and the same as repeated keys.
    for q in [
        format!("exclude_types={}", dropped.join(",")),
        format!("exclude_types={}&exclude_types={}", dropped[0], dropped[1]),
    ] {
        let (got, cursor) = walk(&env, &tenant, &format!("/siem/v1/events?limit=1000&{q}")).await;
        assert_eq!(got.iter().collect::<Vec<_>>(), expect, "{q}");
        // The cursor has passed the left-out events too: they do not come back as new.
        let (_, rest) = env
            .tenant_get(&tenant, &format!("/siem/v1/events?cursor={cursor}"))
            .await;
        assert_eq!(rest["items"], json!([]), "{q}");
    }
}

#[tokio::test]
async fn limits_dates_and_headers_are_checked() {
    let env = spawn().await;
    let tenant = env.readable_tenant_with_alerts();
    for bad in ["limit=0", "limit=1001", "limit=ten", "cursor=%%%"] {
        let (status, body) = env
            .tenant_get(&tenant, &format!("/siem/v1/events?{bad}"))
            .await;
        assert_eq!(
            (status, &body["error"]),
            (400, &json!("badRequest")),
            "{bad}"
        );
    }
    let (status, page) = env.tenant_get(&tenant, "/siem/v1/events?limit=1000").await;
    assert_eq!(status, 200);
    assert!(page["items"].as_array().unwrap().len() <= 1000);
    // from_date must be within the last 24 hours of emulated time.
    let now = env.emu.now().as_second();
    for (from, status) in [
        (now - 25 * 3600, 400),
        (now + 60, 400),
        (now - 23 * 3600, 200),
    ] {
        let (got, _) = env
            .tenant_get(&tenant, &format!("/siem/v1/events?from_date={from}"))
            .await;
        assert_eq!(got, status, "from_date {from}");
    }
    // A missing X-Tenant-ID answers as configured for every tenant endpoint (401 by default).
    let host = env.emu.tenant_api_host(&tenant).unwrap();
    let no_tenant = env
        .http
        .get(format!("{host}/siem/v1/events"))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert_eq!(no_tenant.status(), 401);
    let mut cfg = SophosConfig::new(small_world());
    cfg.id_header_rejection = IdHeaderRejection::BadRequest;
    let strict = spawn_with(cfg).await;
    let host = strict.emu.tenant_api_host(&tenant).unwrap();
    let no_tenant = strict
        .http
        .get(format!("{host}/siem/v1/events"))
        .bearer_auth(&strict.token)
        .send()
        .await
        .unwrap();
    assert_eq!(no_tenant.status(), 400);
    // A tenant whose alerts the partner may not read has no event feed either.
    let blocked = env
        .emu
        .world()
        .tenants()
        .find(|t| !t.billing.alerts_readable())
        .unwrap()
        .id
        .clone();
    assert_eq!(env.tenant_get(&blocked, "/siem/v1/events").await.0, 403);
}
