//! The Sophos emulator's JSON, pinned against the reference shapes, over raw HTTP.

use crate::sophos_common;

use insta::assert_json_snapshot;
use sandbox::sophos::{AlertKind, AlertSpec, IdHeaderRejection, SophosConfig};
use secrecy::ExposeSecret;
use serde_json::{Value, json};
use sophos_common::{Env, small_world, spawn, spawn_with, split};
use std::time::Duration;

#[tokio::test]
async fn token_success_and_failures() {
    let env = spawn().await;
    let creds = env.emu.credentials();
    let form = |secret: &str, grant: &str| {
        vec![
            ("grant_type".to_owned(), grant.to_owned()),
            ("client_id".to_owned(), creds.client_id.clone()),
            ("client_secret".to_owned(), secret.to_owned()),
            ("scope".to_owned(), "token".to_owned()),
        ]
    };
    let secret = creds.client_secret.expose_secret().to_owned();

    let (status, body) = split(
        env.http
            .post(env.emu.token_url())
            .form(&form(&secret, "client_credentials"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(body["access_token"].as_str().is_some_and(|t| t.len() >= 32));
    assert_json_snapshot!("token_ok", env.redact(body.clone()));

    // The JSON refresh variant.
    let refresh = body["refresh_token"].as_str().unwrap();
    let (status, refreshed) = split(
        env.http
            .post(env.emu.token_url())
            .json(
                &json!({"client_id": creds.client_id, "client_secret": secret,
                          "grant_type": "refresh_token", "refresh_token": refresh}),
            )
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_ne!(refreshed["access_token"], body["access_token"]);

    let (status, bad) = split(
        env.http
            .post(env.emu.token_url())
            .form(&form("wrong", "client_credentials"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_json_snapshot!("token_bad_secret", env.redact(bad));

    let (status, grant) = split(
        env.http
            .post(env.emu.token_url())
            .form(&form(&secret, "password"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_json_snapshot!("token_bad_grant", env.redact(grant));
}

#[tokio::test]
async fn token_success_extras_knob() {
    let mut cfg = SophosConfig::new(small_world());
    cfg.token_success_extras = true;
    cfg.token_lifetime = Duration::from_secs(2);
    let env = spawn_with(cfg).await;
    let creds = env.emu.credentials();
    let (status, body) = split(
        env.http
            .post(env.emu.token_url())
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", creds.client_id.as_str()),
                ("client_secret", creds.client_secret.expose_secret()),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_json_snapshot!("token_ok_with_extras", env.redact(body));
}

#[tokio::test]
async fn whoami_and_tenants() {
    let env = spawn().await;
    let resp = env
        .http
        .get(format!("{}/whoami/v1", env.emu.global_url()))
        .bearer_auth(&env.token)
        .send()
        .await;
    let (status, who) = split(resp.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(who["apiHosts"]["global"], env.emu.global_url());
    assert_json_snapshot!("whoami", env.redact(who));

    let (status, page) = env
        .partner_get("/partner/v1/tenants?page=1&pageSize=3&pageTotal=true")
        .await;
    assert_eq!(status, 200);
    assert_json_snapshot!("tenants_page", env.redact(page.clone()));
    // Each apiHost is the origin of the tenant's region, never the global one.
    for t in page["items"].as_array().unwrap() {
        let host = t["apiHost"].as_str().unwrap();
        let region = t["dataRegion"].as_str().unwrap();
        assert_eq!(Some(host.to_owned()), env.emu.region_url(region));
        assert_ne!(host, env.emu.global_url());
    }

    // Without pageTotal there is no total.
    let (_, page) = env
        .partner_get("/partner/v1/tenants?page=2&pageSize=3")
        .await;
    assert!(page["pages"].get("total").is_none());
    assert_eq!(page["pages"]["current"], 2);

    let id = page["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, one) = env.partner_get(&format!("/partner/v1/tenants/{id}")).await;
    assert_eq!(status, 200);
    assert_json_snapshot!("tenant_get", env.redact(one));
}

#[tokio::test]
async fn billing_page_and_missing_month() {
    let env = spawn().await;
    let (status, page) = env
        .partner_get("/partner/v1/billing/usage/2026/10?pageSize=3&pageTotal=true")
        .await;
    assert_eq!(status, 200);
    assert_json_snapshot!("billing_page", env.redact(page.clone()));
    let item = page["items"][0].as_object().unwrap();
    let keys: Vec<&str> = item.keys().map(String::as_str).collect();
    let mut expected = vec![
        "partnerAccountId",
        "partnerEdiAccountNumber",
        "partnerAccountName",
        "billingStartDate",
        "billingEndDate",
        "orderNumber",
        "orderLineItemNumber",
        "accountNumberOrSerialNumber",
        "productDescription",
        "productGroup",
        "sku",
        "productCode",
        "billableQuantity",
        "actualQuantity",
        "externalId",
        "accountId",
        "accountStatus",
    ];
    let mut got = keys.clone();
    got.sort_unstable();
    expected.sort_unstable();
    assert_eq!(got, expected);

    // Zero-padded month is the same month.
    let (status, padded) = env
        .partner_get("/partner/v1/billing/usage/2026/08?pageSize=3")
        .await;
    assert_eq!(status, 200);
    let (_, plain) = env
        .partner_get("/partner/v1/billing/usage/2026/8?pageSize=3")
        .await;
    assert_eq!(padded["items"], plain["items"]);

    let (status, missing) = env.partner_get("/partner/v1/billing/usage/2026/11").await;
    assert_eq!(status, 404);
    assert_json_snapshot!("billing_month_without_data", env.redact(missing));

    let (status, bad) = env.partner_get("/partner/v1/billing/usage/2026/13").await;
    assert_eq!(status, 400);
    assert_eq!(bad["error"], "badRequest");
}

#[tokio::test]
async fn alerts_list_get_action_and_acknowledge() {
    let env = spawn().await;
    let tenant = env.readable_tenant_with_alerts();
    let (status, list) = env
        .tenant_get(&tenant, "/common/v1/alerts?pageSize=2&pageTotal=true")
        .await;
    assert_eq!(status, 200);
    assert_json_snapshot!("alerts_page", env.redact(list.clone()));
    let raised = list["items"][0]["raisedAt"].as_str().unwrap();
    assert_eq!(raised.len(), "2024-03-12T15:04:53.780".len());
    assert!(!raised.ends_with('Z'));

    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let (status, one) = env
        .tenant_get(&tenant, &format!("/common/v1/alerts/{id}"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(one, list["items"][0]);
    assert_json_snapshot!("alert_get", env.redact(one));

    // An action the alert does not allow.
    let (status, refused) = env
        .tenant_post(
            &tenant,
            &format!("/common/v1/alerts/{id}/actions"),
            &json!({"action": "cleanPua"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_json_snapshot!("action_not_allowed", env.redact(refused));

    let (status, action) = env
        .tenant_post(
            &tenant,
            &format!("/common/v1/alerts/{id}/actions"),
            &json!({"action": "acknowledge", "message": "Ticket 12345 closed in ConnectWise"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(action["alertId"], id.as_str());
    let mut shown = action.clone();
    shown["id"] = json!("[action id]");
    assert_json_snapshot!("action_created", shown);
    assert_eq!(env.emu.acknowledged(), vec![id.clone()]);
    assert_eq!(
        env.emu.actions()[0].message.as_deref(),
        Some("Ticket 12345 closed in ConnectWise")
    );

    // Gone: not listed, GET answers resourceNotFound, a second acknowledge too.
    let (_, after) = env
        .tenant_get(&tenant, "/common/v1/alerts?pageSize=1000")
        .await;
    assert!(
        after["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["id"] != id.as_str())
    );
    let (status, gone) = env
        .tenant_get(&tenant, &format!("/common/v1/alerts/{id}"))
        .await;
    assert_eq!(status, 404);
    assert_json_snapshot!("alert_resource_not_found", env.redact(gone));
    let (status, _) = env
        .tenant_post(
            &tenant,
            &format!("/common/v1/alerts/{id}/actions"),
            &json!({"action": "acknowledge"}),
        )
        .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn threat_alert_actions_and_no_device_alerts() {
    let env = spawn().await;
    let tenant = env.readable_tenant_with_alerts();
    let id = env
        .emu
        .inject_alert(&tenant, AlertSpec::new(AlertKind::PuaDetected))
        .unwrap();
    let (_, a) = env
        .tenant_get(&tenant, &format!("/common/v1/alerts/{id}"))
        .await;
    assert_eq!(
        a["allowedActions"],
        json!(["acknowledge", "cleanPua", "authPua", "sendMsgPua"])
    );
    assert_eq!(a["managedAgent"]["type"], "computer");
    assert!(a["description"].as_str().unwrap().contains('\\'));
    // A message action leaves the alert; cleanPua resolves it.
    let path = format!("/common/v1/alerts/{id}/actions");
    assert_eq!(
        env.tenant_post(&tenant, &path, &json!({"action": "sendMsgPua"}))
            .await
            .0,
        201
    );
    assert_eq!(
        env.tenant_get(&tenant, &format!("/common/v1/alerts/{id}"))
            .await
            .0,
        200
    );
    assert_eq!(
        env.tenant_post(&tenant, &path, &json!({"action": "cleanPua"}))
            .await
            .0,
        201
    );
    assert_eq!(
        env.tenant_get(&tenant, &format!("/common/v1/alerts/{id}"))
            .await
            .0,
        404
    );

    let fw = env
        .emu
        .inject_alert(&tenant, AlertSpec::new(AlertKind::FirewallDisconnected))
        .unwrap();
    let (_, a) = env
        .tenant_get(&tenant, &format!("/common/v1/alerts/{fw}"))
        .await;
    assert!(a.get("managedAgent").is_none());
    assert!(a.get("person").is_none());
    assert_eq!(a["product"], "firewall");
}

#[tokio::test]
async fn access_errors() {
    let env = spawn().await;
    let base = env.emu.global_url();

    // 401: no token, unknown token, no X-Partner-ID, wrong X-Partner-ID.
    let (status, body) = split(
        env.http
            .get(format!("{base}/whoami/v1"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    assert_json_snapshot!("error_401", env.redact(body));
    let (status, _) = split(
        env.http
            .get(format!("{base}/whoami/v1"))
            .bearer_auth("nope")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = split(
        env.http
            .get(format!("{base}/partner/v1/tenants"))
            .bearer_auth(&env.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = split(
        env.http
            .get(format!("{base}/partner/v1/tenants"))
            .bearer_auth(&env.token)
            .header("X-Partner-ID", "00000000-0000-4000-8000-000000000000")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 401);

    // 400: page size above maxSize.
    let (status, body) = env.partner_get("/partner/v1/tenants?pageSize=101").await;
    assert_eq!(status, 400);
    assert_json_snapshot!("error_400", env.redact(body));

    // 404: unknown tenant, unknown route.
    let (status, body) = env
        .partner_get("/partner/v1/tenants/00000000-0000-4000-8000-000000000000")
        .await;
    assert_eq!(status, 404);
    assert_json_snapshot!("error_404_not_found", env.redact(body));
    assert_eq!(env.partner_get("/partner/v2/nothing").await.0, 404);

    // 403: a tenant of another partner.
    let foreign = env.emu.foreign_tenant_ids()[0].clone();
    let (status, body) = env
        .partner_get(&format!("/partner/v1/tenants/{foreign}"))
        .await;
    assert_eq!(status, 403);
    assert_json_snapshot!("error_403", env.redact(body));
    let eu = env.emu.region_url("eu01").unwrap();
    let resp = env
        .http
        .get(format!("{eu}/common/v1/alerts"))
        .bearer_auth(&env.token)
        .header("X-Tenant-ID", &foreign)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);

    // A missing X-Tenant-ID is 401.
    let tenant = env.readable_tenant_with_alerts();
    let host = env.emu.tenant_api_host(&tenant).unwrap();
    let resp = env
        .http
        .get(format!("{host}/common/v1/alerts"))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 401);
}

#[tokio::test]
async fn forbidden_tenants_and_wrong_region() {
    let env = spawn().await;
    let world = env.emu.world().clone();
    let blocked: Vec<_> = world
        .tenants()
        .filter(|t| !t.billing.alerts_readable())
        .collect();
    assert!(
        !blocked.is_empty(),
        "the small world has term-without-assistance or trial tenants"
    );
    for t in &blocked {
        // Listed and readable as a tenant…
        assert_eq!(
            env.partner_get(&format!("/partner/v1/tenants/{}", t.id))
                .await
                .0,
            200
        );
        // …but its alerts are forbidden.
        let (status, body) = env.tenant_get(&t.id, "/common/v1/alerts").await;
        assert_eq!(status, 403, "{}", t.name);
        assert_eq!(body["error"], "forbidden");
    }
    // The override knob works both ways.
    let open = env.readable_tenant_with_alerts();
    env.emu.set_forbidden(&open, true).unwrap();
    assert_eq!(env.tenant_get(&open, "/common/v1/alerts").await.0, 403);
    env.emu.set_forbidden(&open, false).unwrap();
    assert_eq!(env.tenant_get(&open, "/common/v1/alerts").await.0, 200);
    env.emu.set_forbidden(&blocked[0].id, false).unwrap();
    assert_eq!(
        env.tenant_get(&blocked[0].id, "/common/v1/alerts").await.0,
        200
    );

    // The right tenant on another region's host: 403 with a pointer to apiHost.
    let region = world.tenants().find(|t| t.id == open).unwrap().region;
    let other = ["us01", "eu01"].into_iter().find(|r| *r != region).unwrap();
    let resp = env
        .http
        .get(format!(
            "{}/common/v1/alerts",
            env.emu.region_url(other).unwrap()
        ))
        .bearer_auth(&env.token)
        .header("X-Tenant-ID", &open)
        .send()
        .await
        .unwrap();
    let (status, body) = split(resp).await;
    assert_eq!(status, 403);
    assert_json_snapshot!("error_403_wrong_region", env.redact(body));
    // No tenant's data lives on the global origin either: the same 403.
    let resp = env
        .http
        .get(format!("{}/common/v1/alerts", env.emu.global_url()))
        .bearer_auth(&env.token)
        .header("X-Tenant-ID", &open)
        .send()
        .await
        .unwrap();
    let (status, body) = split(resp).await;
    assert_eq!((status, &body["error"]), (403, &json!("forbidden")));
    // A region origin has no global API, and an unknown region code has no origin at all.
    let (status, _) = split(
        env.http
            .get(format!("{}/whoami/v1", env.emu.region_url(region).unwrap()))
            .bearer_auth(&env.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    assert_eq!(env.emu.region_url("xx99"), None);
}

#[tokio::test]
async fn api_hosts_are_bare_origins_that_serve_alerts_at_their_root() {
    let env = spawn().await;
    let (status, page) = env.partner_get("/partner/v1/tenants?pageSize=100").await;
    assert_eq!(status, 200);
    let tenants = page["items"].as_array().unwrap();
    assert!(tenants.len() > 5);
    let mut read = 0;
    for t in tenants {
        let id = t["id"].as_str().unwrap();
        let host = url::Url::parse(t["apiHost"].as_str().unwrap()).expect("apiHost is a URL");
        assert_eq!(host.path(), "/", "{host}: an origin, no path");
        assert_eq!(host.host_str(), Some("127.0.0.1"));
        assert_ne!(
            host.port(),
            url::Url::parse(&env.emu.global_url()).unwrap().port()
        );
        // What clients in the wild do: an absolute path joined onto the origin.
        let resp = env
            .http
            .get(host.join("/common/v1/alerts?pageSize=1000").unwrap())
            .bearer_auth(&env.token)
            .header("X-Tenant-ID", id)
            .send()
            .await
            .unwrap();
        let (status, body) = split(resp).await;
        let readable = env
            .emu
            .world()
            .tenants()
            .any(|w| w.id == id && w.billing.alerts_readable());
        if !readable {
            assert_eq!(status, 403, "{id}");
            continue;
        }
        assert_eq!(status, 200, "{id}: {body}");
        let got: Vec<&str> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap())
            .collect();
        let want: Vec<String> = env.emu.alerts(id).into_iter().map(|a| a.id).collect();
        assert_eq!(got, want, "{id}");
        read += 1;
    }
    assert!(read > 3);
    // Shutting down stops every listener, the regions' too.
    let hosts: Vec<String> = env.emu.region_urls().into_iter().map(|(_, u)| u).collect();
    assert_eq!(hosts.len(), 9);
    env.emu.clone().shutdown().await;
    for host in hosts {
        assert!(
            env.http
                .get(format!("{host}/common/v1/alerts"))
                .send()
                .await
                .is_err(),
            "{host}"
        );
    }
}

#[tokio::test]
async fn fault_knobs_cover_the_region_origins() {
    let env = spawn().await;
    let tenant = env.readable_tenant_with_alerts();
    env.emu
        .faults()
        .inject(sandbox::faults::Injection::new("/common/v1/alerts", 503).times(1));
    assert_eq!(env.tenant_get(&tenant, "/common/v1/alerts").await.0, 503);
    assert_eq!(env.tenant_get(&tenant, "/common/v1/alerts").await.0, 200);
    // The rate limit holds per host: the global origin and each region count apart.
    env.emu.faults().set_rate_limit(Some(1));
    assert_eq!(env.partner_get("/partner/v1/tenants").await.0, 200);
    assert_eq!(env.partner_get("/partner/v1/tenants").await.0, 429);
    assert_eq!(env.tenant_get(&tenant, "/common/v1/alerts").await.0, 200);
    assert_eq!(env.tenant_get(&tenant, "/common/v1/alerts").await.0, 429);
    env.emu.faults().reset();
    env.emu.faults().set_fault_rate(1.0);
    assert_eq!(env.tenant_get(&tenant, "/siem/v1/alerts").await.0, 500);
    env.emu.faults().reset();
    let counts = env.emu.request_counts();
    assert_eq!(counts.by_family.get("alerts"), Some(&4));
    assert_eq!(counts.by_family.get("siem"), Some(&1));
    assert_eq!((counts.injected_faults, counts.rate_limited), (2, 2));
}

#[tokio::test]
async fn id_header_rejection_knob() {
    let mut cfg = SophosConfig::new(small_world());
    cfg.id_header_rejection = IdHeaderRejection::BadRequest;
    let env = spawn_with(cfg).await;
    let resp = env
        .http
        .get(format!("{}/partner/v1/tenants", env.emu.global_url()))
        .bearer_auth(&env.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 400);
}

#[tokio::test]
async fn faults_429_and_500() {
    let env = spawn().await;
    env.emu.faults().set_rate_limit(Some(1));
    env.emu.faults().set_retry_after(Some(7));
    assert_eq!(env.partner_get("/partner/v1/tenants").await.0, 200);
    let resp = env
        .http
        .get(format!("{}/partner/v1/tenants", env.emu.global_url()))
        .bearer_auth(&env.token)
        .header("X-Partner-ID", env.emu.partner_id())
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    assert_eq!(resp.headers()["retry-after"], "7");
    let (_, body) = split(resp).await;
    assert_json_snapshot!("error_429", env.redact(body));
    env.emu.faults().reset();

    env.emu.faults().set_fault_rate(1.0);
    let (status, body) = env.partner_get("/partner/v1/tenants").await;
    assert_eq!(status, 500);
    assert_json_snapshot!("error_500", env.redact(body));
    env.emu.faults().reset();

    let counts = env.emu.request_counts();
    assert_eq!(counts.rate_limited, 1);
    assert_eq!(counts.injected_faults, 1);
    assert!(counts.by_family.get("tenants").copied().unwrap_or(0) >= 3);
    assert!(counts.by_family.contains_key("token"));
}

#[tokio::test]
async fn token_expiry_and_revocation() {
    let mut cfg = SophosConfig::new(small_world());
    cfg.token_lifetime = Duration::from_secs(60);
    let env = spawn_with(cfg).await;
    assert_eq!(env.partner_get("/partner/v1/tenants").await.0, 200);
    // Emulated time is about alerts: it does not age tokens.
    env.emu.advance(Duration::from_secs(86_400));
    assert_eq!(env.partner_get("/partner/v1/tenants").await.0, 200);
    env.emu.expire_tokens();
    assert_eq!(env.partner_get("/partner/v1/tenants").await.0, 401);

    let fresh = Env {
        token: sophos_common::token(&env.emu, &env.http).await,
        ..env
    };
    assert_eq!(fresh.partner_get("/partner/v1/tenants").await.0, 200);

    // Revoked: the old secret fails with the token error body.
    let old = fresh.emu.credentials();
    fresh.emu.revoke_secret();
    let resp = fresh
        .http
        .post(fresh.emu.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", old.client_id.as_str()),
            ("client_secret", old.client_secret.expose_secret()),
        ])
        .send()
        .await
        .unwrap();
    let (status, body): (u16, Value) = split(resp).await;
    assert_eq!(status, 401);
    assert_eq!(body["errorCode"], "oauth.invalid_client_secret");
    let _ = fresh.emu.rotate_secret();
    let again = sophos_common::token(&fresh.emu, &fresh.http).await;
    assert!(!again.is_empty());
}

#[tokio::test]
async fn real_time_token_expiry() {
    let mut cfg = SophosConfig::new(small_world());
    cfg.token_lifetime = Duration::from_secs(1);
    let env = spawn_with(cfg).await;
    assert_eq!(env.partner_get("/partner/v1/tenants").await.0, 200);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(env.partner_get("/partner/v1/tenants").await.0, 401);
}

#[tokio::test]
async fn siem_feed() {
    let env = spawn().await;
    let tenant = env.readable_tenant_with_alerts();
    let (status, page) = env.tenant_get(&tenant, "/siem/v1/alerts?limit=1").await;
    assert_eq!(status, 200);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let item = &page["items"][0];
    for key in [
        "id",
        "customer_id",
        "severity",
        "created_at",
        "when",
        "type",
        "description",
        "data",
    ] {
        assert!(item.get(key).is_some(), "{key}");
    }
    assert_eq!(item["customer_id"], tenant.as_str());
    // Walk the cursor to the end; every id once.
    let mut ids = vec![item["id"].as_str().unwrap().to_owned()];
    let mut cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let mut more = page["has_more"].as_bool().unwrap();
    while more {
        let (_, p) = env
            .tenant_get(&tenant, &format!("/siem/v1/alerts?limit=2&cursor={cursor}"))
            .await;
        ids.extend(
            p["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|i| i["id"].as_str().unwrap().to_owned()),
        );
        cursor = p["next_cursor"].as_str().unwrap().to_owned();
        more = p["has_more"].as_bool().unwrap();
    }
    let unique: std::collections::BTreeSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), ids.len());
    // New alerts show up after the cursor.
    let new = env
        .emu
        .inject_alert(&tenant, AlertSpec::new(AlertKind::UpdateFailure))
        .unwrap();
    env.emu.advance(Duration::from_secs(1));
    let (_, p) = env
        .tenant_get(&tenant, &format!("/siem/v1/alerts?cursor={cursor}"))
        .await;
    assert_eq!(p["items"][0]["id"], new.as_str());
    assert_eq!(
        env.tenant_get(&tenant, "/siem/v1/alerts?limit=1001")
            .await
            .0,
        400
    );
}
