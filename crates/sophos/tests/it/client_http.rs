//! The client end to end against canned reference bodies: sign-in shapes, error mapping, retries,
//! Retry-After, re-auth after 401, paging, "no data" months, alert get/act.

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use common::{FixtureServer, Reply, fixture, sign_in};
use futures::TryStreamExt;
use sophos::{AlertQuery, Client, SophosError, TenantRef};

const TENANT: &str = "00000000-0000-4000-8000-000000000101";

#[tokio::test]
async fn connect_sends_form_grant_and_uses_whoami_host() {
    let srv = FixtureServer::start(|r, b| sign_in(r, b).unwrap_or(Reply::json(404, "{}"))).await;
    let c = Client::connect(srv.config()).await.unwrap();
    assert_eq!(c.partner_id(), "00000000-0000-4000-8000-0000000000aa");
    assert_eq!(c.global_url(), srv.base);
    let seen = srv.seen();
    let tok = &seen[0];
    assert_eq!(tok.method, "POST");
    assert!(tok.headers["content-type"].starts_with("application/x-www-form-urlencoded"));
    let form: std::collections::HashMap<String, String> =
        url::form_urlencoded::parse(tok.body.as_bytes())
            .into_owned()
            .collect();
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["client_id"], "client-id-1");
    assert_eq!(form["client_secret"], "s3cret-value-xyz");
    assert_eq!(form["scope"], "token");
    let who = &seen[1];
    assert_eq!(
        who.headers["authorization"],
        "Bearer eyJraWQiOiJ0ZXN0In0.fixture-access-token.sig"
    );
    assert!(!who.headers.contains_key("x-partner-id"));
    assert!(!format!("{c:?}").contains("s3cret"));
}

#[tokio::test]
async fn token_with_error_code_success_fields_is_accepted() {
    let srv = FixtureServer::start(|r, b| {
        if r.path == "/api/v2/oauth2/token" {
            return Reply::json(200, fixture("token_ok_extra.json"));
        }
        sign_in(r, b).unwrap_or(Reply::json(404, "{}"))
    })
    .await;
    let c = Client::connect(srv.config()).await.unwrap();
    assert_eq!(c.stats().token_fetches, 1);
}

#[tokio::test]
async fn wrong_secret_is_a_plain_auth_error() {
    let srv = FixtureServer::start(|_, _| Reply::json(401, fixture("token_401.json"))).await;
    let err = Client::connect(srv.config()).await.unwrap_err();
    let SophosError::Auth {
        code, tracking_id, ..
    } = &err
    else {
        panic!("{err:?}");
    };
    assert_eq!(code.as_deref(), Some("oauth.invalid_client_secret"));
    assert_eq!(
        tracking_id.as_deref(),
        Some("00000000-0000-4000-8000-0000000000f2")
    );
    let text = err.to_string();
    assert!(text.contains("check the client ID and secret"), "{text}");
    assert!(!text.contains("s3cret") && !format!("{err:?}").contains("s3cret"));
    // 401 on the token call is not retried.
    assert_eq!(srv.count("/api/v2/oauth2/token"), 1);
}

#[tokio::test]
async fn token_200_without_access_token_is_auth_error() {
    let srv =
        FixtureServer::start(|_, _| Reply::json(200, r#"{"errorCode":"success","message":"OK"}"#))
            .await;
    let err = Client::connect(srv.config()).await.unwrap_err();
    assert!(matches!(err, SophosError::Auth { .. }), "{err:?}");
}

#[tokio::test]
async fn tenant_credentials_are_refused() {
    let srv = FixtureServer::start(|r, b| {
        if r.path == "/whoami/v1" {
            return Reply::json(200, fixture("whoami_tenant_http.json"));
        }
        sign_in(r, b).unwrap_or(Reply::json(404, "{}"))
    })
    .await;
    let err = Client::connect(srv.config()).await.unwrap_err();
    assert!(matches!(&err, SophosError::NotPartner { id_type } if id_type == "tenant"));
    assert!(
        err.to_string()
            .contains("these credentials are not partner credentials")
    );
}

/// Every reference error body, through the client, mapped to its typed error.
#[tokio::test]
async fn error_statuses_are_typed() {
    let srv = FixtureServer::start(|r, b| {
        if let Some(x) = sign_in(r, b) {
            return x;
        }
        let id = r.path.rsplit('/').next().unwrap_or_default();
        match id {
            "t400" => Reply::json(400, fixture("error_400.json")),
            "t403" => Reply::json(403, fixture("error_403_real.json")),
            "t404" => Reply::json(404, fixture("error_404.json")),
            "t409" => Reply::json(409, fixture("error_409.json")),
            "t500" => Reply::json(500, fixture("error_500.json")),
            "t502" => Reply {
                status: 502,
                headers: vec![("Content-Type".into(), "text/html".into())],
                body: fixture("error_502.html"),
            },
            _ => Reply::json(200, fixture("tenant_get.json")),
        }
    })
    .await;
    let c = Client::connect(srv.config()).await.unwrap();
    let mut lines = Vec::new();
    for id in ["t400", "t403", "t404", "t409", "t500", "t502"] {
        let err = c.tenant(id).await.unwrap_err();
        lines.push(format!("{id}: {err}"));
        match id {
            "t400" | "t409" => assert!(matches!(err, SophosError::BadRequest { .. })),
            "t403" => {
                assert!(
                    matches!(&err, SophosError::ForbiddenTenant { tenant_id, .. } if tenant_id == "t403")
                );
                assert_eq!(
                    err.correlation_id(),
                    Some("00000000-0000-4000-8000-0000000c0413")
                );
            }
            "t404" => assert!(matches!(err, SophosError::NotFound { .. })),
            "t500" => {
                assert!(matches!(err, SophosError::Server { status: 500, .. }));
                assert_eq!(
                    err.request_id(),
                    Some("00000000-0000-4000-8000-0000000r0500")
                );
            }
            "t502" => assert!(matches!(
                err,
                SophosError::Server {
                    status: 502,
                    error: None,
                    ..
                }
            )),
            _ => unreachable!(),
        }
    }
    // 5xx were retried (3 attempts), 4xx were not.
    assert_eq!(srv.count("/partner/v1/tenants/t500"), 3);
    assert_eq!(srv.count("/partner/v1/tenants/t502"), 3);
    assert_eq!(srv.count("/partner/v1/tenants/t400"), 1);
    assert_eq!(srv.count("/partner/v1/tenants/t403"), 1);
    assert_eq!(srv.count("/partner/v1/tenants/t404"), 1);
    // X-Partner-ID carried on partner calls.
    let seen = srv.seen();
    let t = seen.iter().find(|s| s.path.ends_with("/t404")).unwrap();
    assert_eq!(
        t.headers["x-partner-id"],
        "00000000-0000-4000-8000-0000000000aa"
    );
    insta::assert_snapshot!(lines.join("\n"));
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let srv = FixtureServer::start(move |r, b| {
        if let Some(x) = sign_in(r, b) {
            return x;
        }
        if h.fetch_add(1, Ordering::SeqCst) == 0 {
            return Reply::json(429, fixture("error_429.json")).header("Retry-After", "1");
        }
        Reply::json(200, fixture("tenant_get.json"))
    })
    .await;
    let c = Client::connect(srv.config()).await.unwrap();
    let start = Instant::now();
    let t = c.tenant(TENANT).await.unwrap();
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(t.id, TENANT);
    let st = c.stats();
    assert_eq!(st.retry_after_honoured, 1);
    assert_eq!(st.count_status(429), 1);
}

#[tokio::test]
async fn retry_after_beyond_limit_gives_rate_limited() {
    let srv = FixtureServer::start(|r, b| {
        sign_in(r, b).unwrap_or_else(|| {
            Reply::json(429, fixture("error_429.json")).header("Retry-After", "3600")
        })
    })
    .await;
    let c = Client::connect(srv.config()).await.unwrap();
    let err = c.tenant(TENANT).await.unwrap_err();
    assert!(matches!(
        err,
        SophosError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(3600)
    ));
    assert!(err.is_transient());
}

#[tokio::test]
async fn api_401_reauthenticates_once() {
    let tokens = Arc::new(AtomicUsize::new(0));
    let t2 = tokens.clone();
    let srv = FixtureServer::start(move |r, b| {
        if r.path == "/api/v2/oauth2/token" {
            let n = t2.fetch_add(1, Ordering::SeqCst);
            return Reply::json(
                200,
                format!(r#"{{"access_token":"tok-{n}","expires_in":3600}}"#),
            );
        }
        if r.path == "/whoami/v1" {
            return sign_in(r, b).unwrap();
        }
        // Only the second token is accepted on tenant gets; "always401" never works.
        if r.path.ends_with("always401") || r.headers["authorization"] != "Bearer tok-1" {
            return Reply::json(401, fixture("error_401_real.json"));
        }
        Reply::json(200, fixture("tenant_get.json"))
    })
    .await;
    let c = Client::connect(srv.config()).await.unwrap();
    c.tenant(TENANT).await.unwrap();
    assert_eq!(tokens.load(Ordering::SeqCst), 2);
    assert_eq!(c.stats().reauthentications, 1);
    let err = c.tenant("always401").await.unwrap_err();
    assert!(
        matches!(&err, SophosError::Auth { code: Some(c), .. } if c == "Unauthorized"),
        "{err:?}"
    );
    // One new sign-in, then give up.
    assert_eq!(srv.count("/partner/v1/tenants/always401"), 2);
}

#[tokio::test]
async fn token_renewed_before_expiry() {
    let tokens = Arc::new(AtomicUsize::new(0));
    let t2 = tokens.clone();
    let srv = FixtureServer::start(move |r, b| {
        if r.path == "/api/v2/oauth2/token" {
            let n = t2.fetch_add(1, Ordering::SeqCst);
            return Reply::json(
                200,
                format!(r#"{{"access_token":"tok-{n}","expires_in":1}}"#),
            );
        }
        sign_in(r, b).unwrap_or_else(|| Reply::json(200, fixture("tenant_get.json")))
    })
    .await;
    let c = Client::connect(srv.config()).await.unwrap();
    c.tenant(TENANT).await.unwrap();
    assert_eq!(tokens.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(600)).await;
    c.tenant(TENANT).await.unwrap();
    assert_eq!(tokens.load(Ordering::SeqCst), 2, "renewed at half-life");
    assert_eq!(c.stats().count_status(401), 0, "no call was refused");
}

#[tokio::test]
async fn tenant_paging_uses_page_total() {
    let srv = FixtureServer::start(|r, b| {
        if let Some(x) = sign_in(r, b) {
            return x;
        }
        let page: u64 = r.query["page"].parse().unwrap();
        assert_eq!(r.query["pageTotal"], "true");
        let items: Vec<_> = (0..2)
            .map(|i| {
                serde_json::json!({"id": format!("t{page}-{i}"), "name": "x", "apiHost": b, "billingType": "term"})
            })
            .collect();
        let total = if page == 1 { serde_json::json!(3) } else { serde_json::Value::Null };
        Reply::json(
            200,
            serde_json::json!({"items": items, "pages": {"current": page, "size": 2, "total": total}})
                .to_string(),
        )
    })
    .await;
    let c = Client::connect(srv.config()).await.unwrap();
    let all: Vec<_> = c.tenants().try_collect().await.unwrap();
    let ids: Vec<_> = all.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, ["t1-0", "t1-1", "t2-0", "t2-1", "t3-0", "t3-1"]);
    assert_eq!(srv.count("/partner/v1/tenants"), 3);
}

#[tokio::test]
async fn usage_key_paging_and_no_data_month() {
    let srv = FixtureServer::start(|r, b| {
        if let Some(x) = sign_in(r, b) {
            return x;
        }
        match r.path.as_str() {
            "/partner/v1/billing/usage/2024/3" => {
                let page = fixture("billing_page.json");
                match r.query.get("pageFromKey").map(String::as_str) {
                    None => Reply::json(200, page.replace(r#""fromKey": "k1", "#, "")),
                    Some("k2") => Reply::json(200, page.replace(r#""nextKey": "k2", "#, "")),
                    Some(k) => panic!("unexpected key {k}"),
                }
            }
            _ => Reply::json(404, fixture("error_404.json")),
        }
    })
    .await;
    let c = Client::connect(srv.config()).await.unwrap();
    let items: Vec<_> = c.usage(2024, 3).try_collect().await.unwrap();
    assert_eq!(items.len(), 4);
    let empty: Vec<_> = c.usage(2024, 2).try_collect().await.unwrap();
    assert!(empty.is_empty());
    let m = c.usage_month(2024, 2).await.unwrap();
    assert!(m.no_data && m.items.is_empty());
    let m = c.usage_month(2024, 3).await.unwrap();
    assert!(!m.no_data && m.items.len() == 4);
    let err = c.usage(2024, 13).try_collect::<Vec<_>>().await.unwrap_err();
    assert!(matches!(err, SophosError::InvalidConfig { .. }));
}

#[tokio::test]
async fn repeated_page_key_stops_with_error() {
    let srv = FixtureServer::start(|r, b| {
        sign_in(r, b).unwrap_or_else(|| Reply::json(200, fixture("alerts_page.json")))
    })
    .await;
    let c = Client::connect(srv.config()).await.unwrap();
    let t = TenantRef::new(TENANT, &srv.base);
    let err = c
        .alerts(&t, AlertQuery::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert!(matches!(err, SophosError::Decode { .. }), "{err:?}");
    assert_eq!(srv.count("/common/v1/alerts"), 2);
}

#[tokio::test]
async fn alert_get_gone_and_action_body() {
    let srv = FixtureServer::start(|r, b| {
        if let Some(x) = sign_in(r, b) {
            return x;
        }
        match (r.method.as_str(), r.path.as_str()) {
            ("GET", "/common/v1/alerts/gone") => Reply::json(404, fixture("error_404_alert.json")),
            ("GET", "/common/v1/alerts/forbidden") => Reply::json(403, fixture("error_403.json")),
            ("POST", "/common/v1/alerts/a1/actions") => {
                Reply::json(201, fixture("action_201.json"))
            }
            _ => Reply::json(200, fixture("alert_get.json")),
        }
    })
    .await;
    let c = Client::connect(srv.config()).await.unwrap();
    // A bare origin, as real apiHosts are, here with the trailing slash the client must normalise.
    let t = TenantRef::new(TENANT, format!("{}/", srv.base));
    assert!(c.alert(&t, "gone").await.unwrap().is_none());
    assert!(c.alert(&t, "present").await.unwrap().is_some());
    let err = c.alert(&t, "forbidden").await.unwrap_err();
    assert!(matches!(&err, SophosError::ForbiddenTenant { tenant_id, .. } if tenant_id == TENANT));
    let r = c
        .alert_action(
            &t,
            "a1",
            "acknowledge",
            Some("Ticket 12345 closed in ConnectWise"),
        )
        .await
        .unwrap();
    assert_eq!(r.status.as_deref(), Some("started"));
    let seen = srv.seen();
    let post = seen
        .iter()
        .find(|s| s.method == "POST" && s.path.ends_with("/actions"))
        .unwrap();
    assert_eq!(post.headers["x-tenant-id"], TENANT);
    assert!(!post.headers.contains_key("x-partner-id"));
    let body: serde_json::Value = serde_json::from_str(&post.body).unwrap();
    assert_eq!(
        body,
        serde_json::json!({"action": "acknowledge", "message": "Ticket 12345 closed in ConnectWise"})
    );
}

#[tokio::test]
async fn alert_query_parameters() {
    let srv = FixtureServer::start(|r, b| {
        sign_in(r, b).unwrap_or_else(|| Reply::json(200, r#"{"items":[],"pages":{"size":50}}"#))
    })
    .await;
    let c = Client::connect(srv.config()).await.unwrap();
    let t = TenantRef::new(TENANT, &srv.base);
    let q = AlertQuery {
        from: Some("2024-03-12T10:00:00Z".parse().unwrap()),
        product: vec![sophos::Product::Endpoint, sophos::Product::Server],
        severity: vec![sophos::Severity::High, sophos::Severity::Medium],
        sort: Some("raisedAt:desc".into()),
        page_size: Some(100),
        ..AlertQuery::default()
    };
    let all: Vec<_> = c.alerts(&t, q).try_collect().await.unwrap();
    assert!(all.is_empty());
    let seen = srv.seen();
    let s = seen.iter().find(|s| s.path == "/common/v1/alerts").unwrap();
    assert_eq!(s.query["from"], "2024-03-12T10:00:00.000Z");
    assert_eq!(s.query["product"], "endpoint,server");
    assert_eq!(s.query["severity"], "high,medium");
    assert_eq!(s.query["sort"], "raisedAt:desc");
    assert_eq!(s.query["pageSize"], "100");
    assert!(!s.query.contains_key("to") && !s.query.contains_key("pageFromKey"));
}

#[tokio::test]
async fn unreachable_host_is_transport_error() {
    // Bind then drop a listener to get a port nobody answers on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut cfg = sophos::SophosConfig::new("id", "secret".to_string().into());
    cfg.token_url = format!("http://127.0.0.1:{port}/token");
    cfg.global_url = format!("http://127.0.0.1:{port}");
    cfg.retry.base_delay = Duration::from_millis(5);
    cfg.retry.max_attempts = 2;
    let err = Client::connect(cfg).await.unwrap_err();
    assert!(
        matches!(err, SophosError::Transport { timeout: false, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn token_call_is_retried_on_503() {
    let hits = Arc::new(AtomicUsize::new(0));
    let h = hits.clone();
    let srv = FixtureServer::start(move |r, b| {
        if r.path == "/api/v2/oauth2/token" && h.fetch_add(1, Ordering::SeqCst) == 0 {
            return Reply {
                status: 503,
                headers: vec![],
                body: "Service Unavailable".into(),
            };
        }
        sign_in(r, b).unwrap_or(Reply::json(404, "{}"))
    })
    .await;
    let c = Client::connect(srv.config()).await.unwrap();
    assert_eq!(srv.count("/api/v2/oauth2/token"), 2);
    assert_eq!(c.stats().retries, 1);
}

#[tokio::test]
async fn post_is_not_retried_after_a_server_error() {
    let srv = FixtureServer::start(|r, b| {
        sign_in(r, b).unwrap_or_else(|| Reply::json(500, fixture("error_500.json")))
    })
    .await;
    let c = Client::connect(srv.config()).await.unwrap();
    let t = TenantRef::new(TENANT, &srv.base);
    let err = c.acknowledge(&t, "a1", None).await.unwrap_err();
    assert!(matches!(err, SophosError::Server { status: 500, .. }));
    // The action may have been applied: one attempt only.
    assert_eq!(srv.count("/common/v1/alerts/a1/actions"), 1);
    let post = srv
        .seen()
        .into_iter()
        .find(|s| s.method == "POST" && s.path.ends_with("/actions"))
        .unwrap();
    assert_eq!(post.body, r#"{"action":"acknowledge"}"#);
}
