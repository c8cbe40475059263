//! The admin API in process: each scenario call, seen through the ordinary vendor APIs.

use reqwest::StatusCode;
use sandbox::admin::Admin;
use sandbox::{Sandbox, SandboxOptions};
use serde_json::{Value, json};

use crate::connectwise_support::{Api, send};

async fn start() -> (Sandbox, Admin, Api, reqwest::Client) {
    let mut o = SandboxOptions::demo(5, 6);
    o.realtime_speed = None;
    o.alert_rate = 0.0;
    let sb = Sandbox::spawn(o).await.expect("sandbox");
    let admin = Admin::serve(sb.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .expect("admin API");
    let http = clientkit::http_client().build().unwrap();
    let api = Api {
        cw: sb.connectwise.clone(),
        http: http.clone(),
        creds: sb.connectwise.credentials(),
    };
    (sb, admin, api, http)
}

async fn call(
    http: &reqwest::Client,
    admin: &Admin,
    path: &str,
    body: Value,
) -> (StatusCode, Value) {
    let r = http
        .post(format!("{}{path}", admin.url()))
        .bearer_auth(admin.token())
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status();
    (status, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn codebase_move_and_invoiced_period() {
    let (sb, admin, api, http) = start().await;
    let (s, b) = call(
        &http,
        &admin,
        "/v1/connectwise/codebase",
        json!({"codebase": "v2026_1"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let info = send(http.get(format!(
        "{}/login/companyinfo/bridgewater",
        sb.connectwise.site_url()
    )))
    .await;
    assert_eq!(info.body["Codebase"], "v2026_1/");

    let agreement = api
        .get("finance/agreements?pageSize=1&orderBy=id")
        .await
        .body[0]["id"]
        .as_i64()
        .unwrap();
    let (s, b) = call(
        &http,
        &admin,
        "/v1/connectwise/invoiced",
        json!({"agreement_id": agreement, "through": "2099-12-31T23:59:59Z"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let r = api
        .post(
            &format!("finance/agreements/{agreement}/additions"),
            json!({"product": {"identifier": "M365-BP"}, "quantity": 1, "billCustomer": "Billable"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    // An unknown agreement is refused, with its fix.
    let (s, b) = call(
        &http,
        &admin,
        "/v1/connectwise/invoiced",
        json!({"agreement_id": 999_999}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["error"].as_str().unwrap().contains("Fix:"));
}

#[tokio::test]
async fn alerts_burst_clear_and_token_expiry() {
    let (sb, admin, _api, http) = start().await;
    let before = sb.sophos.all_alerts().len();
    let (s, b) = call(&http, &admin, "/v1/sophos/alerts", json!({"count": 5})).await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let raised = b["raised"].as_array().unwrap().clone();
    assert_eq!(raised.len(), 5);
    assert_eq!(sb.sophos.all_alerts().len(), before + 5);
    let one = &raised[0];
    let (tenant, alert) = (
        one["tenant_id"].as_str().unwrap(),
        one["alert_id"].as_str().unwrap(),
    );
    assert!(sb.sophos.alerts(tenant).iter().any(|a| a.id == alert));
    let (s, _) = call(
        &http,
        &admin,
        "/v1/sophos/alerts/clear",
        json!({"tenant_id": tenant, "alert_id": alert}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert!(!sb.sophos.alerts(tenant).iter().any(|a| a.id == alert));

    // A token issued before the expiry answers 401 afterwards.
    let creds = sb.sophos.credentials();
    let token: Value = http
        .post(sb.sophos.token_url())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", creds.client_id.as_str()),
            (
                "client_secret",
                secrecy::ExposeSecret::expose_secret(&creds.client_secret),
            ),
            ("scope", "token"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let bearer = token["access_token"].as_str().expect("a token").to_owned();
    let whoami = |b: String| {
        let http = http.clone();
        let url = format!("{}/whoami/v1", sb.sophos.global_url());
        async move { http.get(url).bearer_auth(b).send().await.unwrap().status() }
    };
    assert_eq!(whoami(bearer.clone()).await, StatusCode::OK);
    let (s, _) = call(&http, &admin, "/v1/sophos/expire-tokens", json!({})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(whoami(bearer).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn sophos_faults_and_the_state() {
    let (sb, admin, _api, http) = start().await;
    let (s, b) = call(
        &http,
        &admin,
        "/v1/sophos/faults",
        json!({"rate_limit_per_minute": 30, "retry_after_s": 2, "latency_ms": 5}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    let st = sb.sophos.faults().settings();
    assert_eq!(st.rate_limit_per_minute, Some(30));
    assert_eq!(st.retry_after, Some(2));
    // null turns a knob off; an absent field keeps it.
    let (s, _) = call(
        &http,
        &admin,
        "/v1/sophos/faults",
        json!({"rate_limit_per_minute": null}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let st = sb.sophos.faults().settings();
    assert_eq!(st.rate_limit_per_minute, None);
    assert_eq!(st.retry_after, Some(2));
    let state: Value = http
        .get(format!("{}/v1/state", admin.url()))
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(state["sophos"]["faults"]["retry_after_s"], 2);
    assert_eq!(state["sophos"]["faults"]["latency_ms"], 5);
    // Unknown fields and vendors are refused.
    let (s, _) = call(&http, &admin, "/v1/sophos/faults", json!({"latency": 5})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(&http, &admin, "/v1/acme/faults", json!({})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}
