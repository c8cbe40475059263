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
    let state = state(&http, &admin).await;
    assert_eq!(state["sophos"]["faults"]["retry_after_s"], 2);
    assert_eq!(state["sophos"]["faults"]["latency_ms"], 5);
    // Unknown fields and vendors are refused.
    let (s, _) = call(&http, &admin, "/v1/sophos/faults", json!({"latency": 5})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _) = call(&http, &admin, "/v1/acme/faults", json!({})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
}

async fn delete(http: &reqwest::Client, admin: &Admin, path: &str) -> StatusCode {
    http.delete(format!("{}{path}", admin.url()))
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap()
        .status()
}

async fn state(http: &reqwest::Client, admin: &Admin) -> Value {
    get_json(http, admin, "/v1/state").await
}

/// An authorised GET of the admin API, its JSON answer.
async fn get_json(http: &reqwest::Client, admin: &Admin, path: &str) -> Value {
    http.get(format!("{}{path}", admin.url()))
        .bearer_auth(admin.token())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A partner GET and a tenant GET on the ordinary Sophos API, with a fresh token.
struct SophosApi {
    sb: Sandbox,
    http: reqwest::Client,
    token: String,
}

impl SophosApi {
    async fn new(sb: &Sandbox, http: &reqwest::Client) -> Self {
        let token = crate::sophos_common::token(&sb.sophos, http).await;
        Self {
            sb: sb.clone(),
            http: http.clone(),
            token,
        }
    }

    async fn tenant_billing_type(&self, tenant: &str) -> Value {
        let url = format!(
            "{}/partner/v1/tenants?pageSize=100",
            self.sb.sophos.global_url()
        );
        let page: Value = self
            .http
            .get(url)
            .bearer_auth(&self.token)
            .header("X-Partner-ID", self.sb.sophos.partner_id())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let item = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == tenant)
            .expect("listed")
            .clone();
        item["billingType"].clone()
    }

    async fn alerts(&self, tenant: &str) -> (StatusCode, Value) {
        let host = self.sb.sophos.tenant_api_host(tenant).unwrap();
        let r = self
            .http
            .get(format!("{host}/common/v1/alerts?pageSize=1000"))
            .bearer_auth(&self.token)
            .header("X-Tenant-ID", tenant)
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap_or(Value::Null))
    }
}

#[tokio::test]
async fn tenant_billing_makes_a_tenant_trial_or_term_and_back() {
    let (sb, admin, _api, http) = start().await;
    let so = SophosApi::new(&sb, &http).await;
    let tenant = sb
        .world
        .tenants()
        .find(|t| t.billing == sandbox::world::BillingType::Usage)
        .unwrap()
        .id
        .clone();
    assert_eq!(so.alerts(&tenant).await.0, StatusCode::OK);
    for (billing, shown, alerts) in [
        ("trial", "trial", StatusCode::FORBIDDEN),
        ("term_no_assistance", "term", StatusCode::FORBIDDEN),
        ("term", "term", StatusCode::OK),
        ("usage", "usage", StatusCode::OK),
    ] {
        let (s, b) = call(
            &http,
            &admin,
            "/v1/sophos/tenant-billing",
            json!({"tenant_id": tenant, "billing": billing}),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert_eq!(so.tenant_billing_type(&tenant).await, shown, "{billing}");
        let (status, body) = so.alerts(&tenant).await;
        assert_eq!(status, alerts, "{billing}: {body}");
        if status == StatusCode::FORBIDDEN {
            assert_eq!(body["error"], "forbidden");
        }
        assert_eq!(
            state(&http, &admin).await["sophos"]["tenant_billing"][&tenant],
            billing
        );
    }
    // set_forbidden still overrides whatever the billing type says.
    sb.sophos.set_forbidden(&tenant, true).unwrap();
    assert_eq!(so.alerts(&tenant).await.0, StatusCode::FORBIDDEN);
    sb.sophos.set_forbidden(&tenant, false).unwrap();
    // Refusals name the problem and the fix.
    for body in [
        json!({"tenant_id": "00000000-0000-4000-8000-000000000000", "billing": "trial"}),
        json!({"tenant_id": tenant, "billing": "monthly"}),
    ] {
        let (s, b) = call(&http, &admin, "/v1/sophos/tenant-billing", body).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(b["error"].as_str().unwrap().contains("Fix:"), "{b}");
    }
    assert_eq!(
        so.alerts(&tenant).await.0,
        StatusCode::OK,
        "a refusal changes nothing"
    );
}

#[tokio::test]
async fn slow_routes_commit_then_answer_late_on_matching_posts_only() {
    let (sb, admin, api, http) = start().await;
    let (s, b) = call(
        &http,
        &admin,
        "/v1/connectwise/slow",
        json!({"path_contains": "service/tickets", "delay_ms": 1500, "times": 1}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{b}");
    let shown = &state(&http, &admin).await["connectwise"]["slow_routes"];
    assert_eq!(
        shown,
        &json!([{"path_contains": "service/tickets", "delay_ms": 1500, "times": 1}])
    );
    let creds = sb.connectwise.credentials();
    let impatient = clientkit::http_client()
        .timeout(std::time::Duration::from_millis(400))
        .build()
        .unwrap();
    let post = |path: &str, body: Value| {
        impatient
            .post(api.url(path))
            .header("authorization", creds.authorization())
            .header("clientId", &creds.client_id)
            .json(&body)
            .send()
    };
    let xref = "00000000-0000-4000-8000-00000000510e";
    let ticket = json!({"summary": "Slow commit", "company": {"id": 250}, "externalXRef": xref});
    let err = post("service/tickets", ticket.clone()).await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    // The record exists although the client saw a timeout.
    let found = api
        .get(&format!(
            "service/tickets?conditions=externalXRef%3D%22{xref}%22"
        ))
        .await;
    assert_eq!(found.body.as_array().unwrap().len(), 1, "{:?}", found.body);
    // Another route is not slowed, and `times` ran out for the tickets.
    let other = post("procurement/manufacturers", json!({"name": "Sophos"})).await;
    assert_eq!(other.unwrap().status(), StatusCode::CREATED);
    let again = post(
        "service/tickets",
        json!({"summary": "Quick", "company": {"id": 250}}),
    )
    .await;
    assert_eq!(again.unwrap().status(), StatusCode::CREATED);

    // Until removed, without times; DELETE removes them.
    let (s, _) = call(
        &http,
        &admin,
        "/v1/connectwise/slow",
        json!({"path_contains": "procurement/manufacturers", "delay_ms": 1500}),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    assert!(
        post("procurement/manufacturers", json!({"name": "Slow"}))
            .await
            .is_err()
    );
    assert_eq!(
        delete(&http, &admin, "/v1/connectwise/slow").await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        state(&http, &admin).await["connectwise"]["slow_routes"],
        json!([])
    );
    let quick = post("procurement/manufacturers", json!({"name": "Quick"})).await;
    assert_eq!(quick.unwrap().status(), StatusCode::CREATED);
    for bad in [
        json!({"path_contains": "", "delay_ms": 100}),
        json!({"path_contains": "x", "delay_ms": 0}),
        json!({"path_contains": "x", "delay_ms": 100, "times": 0}),
    ] {
        let (s, b) = call(&http, &admin, "/v1/sophos/slow", bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(b["error"].as_str().unwrap().contains("Fix:"), "{b}");
    }
}

#[tokio::test]
async fn a_person_acknowledges_an_alert_in_central() {
    let (sb, admin, _api, http) = start().await;
    let so = SophosApi::new(&sb, &http).await;
    let tenant = sb
        .world
        .tenants()
        .find(|t| t.billing.alerts_readable())
        .unwrap()
        .id
        .clone();
    let alert = sb
        .sophos
        .inject_alert(
            &tenant,
            sandbox::sophos::AlertSpec::new(sandbox::sophos::AlertKind::UpdateFailure),
        )
        .unwrap();
    let listed = |body: &Value| {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == alert.as_str())
    };
    assert!(listed(&so.alerts(&tenant).await.1));
    let ack = json!({"tenant_id": tenant, "alert_id": alert});
    let (s, b) = call(&http, &admin, "/v1/sophos/alerts/acknowledge", ack.clone()).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert!(!listed(&so.alerts(&tenant).await.1));
    // Gone, so a second acknowledgement is refused with its fix.
    let (s, b) = call(&http, &admin, "/v1/sophos/alerts/acknowledge", ack).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(b["error"].as_str().unwrap().contains("Fix:"));

    // With an acknowledgement delay the alert stays listed until emulated time passes it.
    let mut cfg = sandbox::sophos::SophosConfig::new(sb.world.clone());
    cfg.alert_rate = 0.0;
    cfg.ack_delay = std::time::Duration::from_secs(600);
    let delayed = Sandbox {
        sophos: sandbox::sophos::SophosEmulator::spawn(cfg).await.unwrap(),
        ..sb.clone()
    };
    let admin2 = Admin::serve(delayed.clone(), "127.0.0.1:0".parse().unwrap())
        .await
        .unwrap();
    let so = SophosApi::new(&delayed, &http).await;
    let alert = delayed
        .sophos
        .inject_alert(
            &tenant,
            sandbox::sophos::AlertSpec::new(sandbox::sophos::AlertKind::UpdateFailure),
        )
        .unwrap();
    let ack = json!({"tenant_id": tenant, "alert_id": alert});
    let (s, _) = call(&http, &admin2, "/v1/sophos/alerts/acknowledge", ack).await;
    assert_eq!(s, StatusCode::OK);
    let still = |body: &Value| {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["id"] == alert.as_str())
    };
    assert!(
        still(&so.alerts(&tenant).await.1),
        "listed during the delay"
    );
    delayed.sophos.advance(std::time::Duration::from_secs(601));
    assert!(!still(&so.alerts(&tenant).await.1), "gone after it");
    assert!(delayed.sophos.actions().is_empty(), "not an API action");
}

/// Taking a level away from a member's role, as an admin does in System > Security Roles: the
/// member's calls that need it answer 403; giving it back restores them. With setup reads checked,
/// that includes a board's pick-lists.
#[tokio::test]
async fn a_role_level_is_taken_away_and_given_back() {
    let (sb, admin, api, http) = start().await;
    sb.connectwise.set_setup_reads_need_inquire(true);
    assert_eq!(api.get("service/priorities").await.status, 200);
    let (s, b) = call(
        &http,
        &admin,
        "/v1/connectwise/role",
        json!({"member": "apisophos", "function": "System > Table Setup", "level": "inquire", "access": "none"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{b}");
    assert_eq!(b["function"], "System > Table Setup");
    assert_eq!(api.get("service/priorities").await.status, 403);
    // Other functions are untouched.
    assert_eq!(api.get("company/companies?pageSize=1").await.status, 200);
    let (s, _) = call(
        &http,
        &admin,
        "/v1/connectwise/role",
        json!({"member": "apisophos", "function": "TableSetup", "level": "Inquire", "access": "All"}),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(api.get("service/priorities").await.status, 200);
    // Unknown names are refused with the list to choose from.
    for bad in [
        json!({"member": "nobody", "function": "TableSetup", "level": "Inquire", "access": "All"}),
        json!({"member": "apisophos", "function": "Payroll", "level": "Inquire", "access": "All"}),
        json!({"member": "apisophos", "function": "TableSetup", "level": "Approve", "access": "All"}),
    ] {
        let (s, b) = call(&http, &admin, "/v1/connectwise/role", bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST);
        assert!(b.to_string().contains("Fix:"), "{b}");
    }
}

#[tokio::test]
async fn the_world_answer_key_pairs_every_customer_as_generated() {
    let (sb, admin, _api, http) = start().await;
    let no_token = http
        .get(format!("{}/v1/world", admin.url()))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(no_token, StatusCode::UNAUTHORIZED);
    let key = get_json(&http, &admin, "/v1/world").await;
    let rows = key["customers"].as_array().unwrap();
    assert_eq!(rows.len(), sb.world.customers.len());
    for (row, c) in rows.iter().zip(&sb.world.customers) {
        assert_eq!(
            row["tenant_id"].as_str(),
            c.tenant.as_ref().map(|t| t.id.as_str())
        );
        assert_eq!(
            row["company_identifier"].as_str(),
            c.company.as_ref().map(|co| co.identifier.as_str())
        );
        assert_eq!(
            row["usage_lines"].as_u64(),
            Some(c.tenant.as_ref().map_or(0, |t| t.usage.len() as u64))
        );
    }
}
