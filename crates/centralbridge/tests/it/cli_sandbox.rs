//! `centralbridge sandbox` from outside: fault flags take effect on the emulated vendor APIs, and
//! the printed admin API changes them while the sandbox runs.

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;

use serde_json::{Value, json};

use crate::support::Proc;

/// Starts `centralbridge sandbox --json` with `extra` flags; returns it with its printed JSON.
fn start(cli: &testkit::Cli, extra: &[&str]) -> (Proc, Value) {
    start_with(cli, &[], extra)
}

/// [`start`] with global flags (`--config FILE`) before the command.
fn start_with(cli: &testkit::Cli, global: &[&str], extra: &[&str]) -> (Proc, Value) {
    let mut args = global.to_vec();
    args.extend_from_slice(&[
        "--json",
        "sandbox",
        "--customers",
        "3",
        "--extra-companies",
        "0",
        "--extra-tenants",
        "0",
        "--speed",
        "0",
        "--alert-rate",
        "0",
    ]);
    args.extend_from_slice(extra);
    let mut child = cli
        .command(&args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the sandbox");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines
        .next()
        .expect("the sandbox printed its URLs")
        .expect("stdout");
    std::thread::spawn(move || lines.for_each(drop));
    let info: Value = serde_json::from_str(&first).expect("one JSON line");
    (Proc::new(child), info)
}

async fn companies_status(http: &reqwest::Client, info: &Value) -> u16 {
    status_of(http, info, "company/companies").await
}

/// The status of a GET on `path` under the ConnectWise API base, as the integration's member.
async fn status_of(http: &reqwest::Client, info: &Value, path: &str) -> u16 {
    let cw = &info["connectwise"];
    http.get(format!("{}/{path}", cw["api_base"].as_str().unwrap()))
        .basic_auth(
            format!(
                "{}+{}",
                cw["company_id"].as_str().unwrap(),
                cw["public_key"].as_str().unwrap()
            ),
            cw["private_key"].as_str(),
        )
        .header("clientId", cw["client_id"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// An admin POST with `token` (`None`: without one); returns the response.
async fn admin_post(
    http: &reqwest::Client,
    url: String,
    token: Option<&str>,
    body: Value,
) -> reqwest::Response {
    let mut rb = http.post(url).json(&body);
    if let Some(t) = token {
        rb = rb.bearer_auth(t);
    }
    rb.send().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_flags_act_and_the_admin_api_changes_them_while_it_runs() {
    let cli = testkit::Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
    let (_sandbox, info) = start(&cli, &["--fault-rate", "1", "--cw-rate-limit", "real"]);
    let http = clientkit::http_client().build().unwrap();
    // Every call is answered 500 by the flag.
    assert_eq!(companies_status(&http, &info).await, 500);

    let admin = info["admin"]["url"].as_str().expect("admin URL").to_owned();
    let token = info["admin"]["token"]
        .as_str()
        .expect("admin token")
        .to_owned();
    let state: Value = http
        .get(format!("{admin}/v1/state"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        state["connectwise"]["faults"]["rate_limit_per_minute"],
        1000
    );
    assert_eq!(state["connectwise"]["faults"]["fault_rate"], 1.0);
    // Without the token nothing changes.
    let faults = format!("{admin}/v1/connectwise/faults");
    let r = admin_post(&http, faults.clone(), None, json!({"fault_rate": 0})).await;
    assert_eq!(r.status(), 401);
    assert_eq!(companies_status(&http, &info).await, 500);
    // A bad value is refused with its fix, and changes nothing.
    let r = admin_post(
        &http,
        faults.clone(),
        Some(&token),
        json!({"fault_rate": 7}),
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("Fix:"));
    // The outage ends.
    let r = admin_post(&http, faults, Some(&token), json!({"fault_rate": 0})).await;
    assert_eq!(r.status(), 200);
    assert_eq!(companies_status(&http, &info).await, 200);
    // Two 503s injected on the route, then it answers again.
    let r = admin_post(
        &http,
        format!("{admin}/v1/connectwise/inject"),
        Some(&token),
        json!({"path_contains": "company/companies", "status": 503, "times": 2}),
    )
    .await;
    assert_eq!(r.status(), 201);
    assert_eq!(companies_status(&http, &info).await, 503);
    assert_eq!(companies_status(&http, &info).await, 503);
    assert_eq!(companies_status(&http, &info).await, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn is_cloud_is_a_boolean_or_on_request_the_guides_string() {
    let cli = testkit::Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
    let http = clientkit::http_client().build().unwrap();
    for (flags, want) in [
        (&[][..], json!(true)),
        (&["--is-cloud-as-string"][..], json!("True")),
    ] {
        let (_sandbox, info) = start(&cli, flags);
        let cw = &info["connectwise"];
        let body: Value = http
            .get(format!(
                "{}/login/companyinfo/{}",
                cw["site"].as_str().unwrap(),
                cw["company_id"].as_str().unwrap()
            ))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(body["IsCloud"], want, "{flags:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_fault_flag_is_refused_before_anything_starts() {
    let cli = testkit::Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
    let o = cli.run(&["sandbox", "--cw-rate-limit", "lots"]).await;
    o.expect_code(2);
    assert!(o.all().contains("Fix:"), "{}", o.all());
    let o = cli.run(&["sandbox", "--fault-rate", "2"]).await;
    o.expect_code(2);
    assert!(o.all().contains("Fix:"), "{}", o.all());
}

/// The `[sandbox]` config section sets the same knobs as the flags; a variable beats the file, and
/// a flag beats both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_section_sets_the_knobs_and_flags_win() {
    let cli = testkit::Cli::new(env!("CARGO_BIN_EXE_centralbridge"))
        .env("CENTRALBRIDGE_SANDBOX_RETRY_AFTER", "7");
    let config = cli.write(
        "sandbox.toml",
        "[sandbox]\nfault_rate = 1\ncw_rate_limit = \"real\"\nretry_after = 3\ncodebase = \"v2026_1\"\n",
    );
    let config = config.to_str().unwrap();
    let http = clientkit::http_client().build().unwrap();
    let (_sandbox, info) = start_with(&cli, &["--config", config], &[]);
    assert!(
        info["connectwise"]["api_base"]
            .as_str()
            .unwrap()
            .contains("/v2026_1/"),
        "{info}"
    );
    assert_eq!(companies_status(&http, &info).await, 500, "fault_rate = 1");
    let admin = info["admin"]["url"].as_str().unwrap();
    let state: Value = http
        .get(format!("{admin}/v1/state"))
        .bearer_auth(info["admin"]["token"].as_str().unwrap())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let faults = &state["connectwise"]["faults"];
    assert_eq!(faults["rate_limit_per_minute"], 1000, "{state}");
    assert_eq!(faults["retry_after_s"], 7, "the variable beats the file");

    let (_sandbox, info) = start_with(&cli, &["--config", config], &["--fault-rate", "0"]);
    assert_eq!(companies_status(&http, &info).await, 200, "the flag wins");

    let bad = cli.write("bad.toml", "[sandbox]\nfault_rate = 1.5\n");
    let o = cli
        .run(&["--config", bad.to_str().unwrap(), "sandbox"])
        .await;
    o.expect_code(2);
    assert!(o.all().contains("sandbox.fault_rate"), "{}", o.all());
    assert!(o.all().contains("Fix:"), "{}", o.all());
}

/// A POST to the printed admin API's `path`, with its printed token.
async fn sandbox_admin(
    http: &reqwest::Client,
    info: &Value,
    path: &str,
    body: Value,
) -> reqwest::Response {
    let url = format!("{}{path}", info["admin"]["url"].as_str().unwrap());
    admin_post(http, url, info["admin"]["token"].as_str(), body).await
}

/// A Sophos token from the printed credentials: the whole token answer.
async fn sophos_token(http: &reqwest::Client, info: &Value) -> Value {
    let so = &info["sophos"];
    http.post(so["token_url"].as_str().unwrap())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", so["client_id"].as_str().unwrap()),
            ("client_secret", so["client_secret"].as_str().unwrap()),
            ("scope", "token"),
        ])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// The vendor behaviours their documentation leaves open are flags (and config keys), each seen
/// through the ordinary vendor APIs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undocumented_vendor_behaviours_are_knobs() {
    let cli = testkit::Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
    let http = clientkit::http_client().build().unwrap();
    // The defaults: clientId required, 3600 s tokens with the OAuth2 fields only, 401 for a
    // missing X-Partner-ID, and an acknowledged alert leaves the list at once.
    let (_a, plain) = start(&cli, &[]);
    let (_b, knobbed) = start(
        &cli,
        &[
            "--no-client-id-check",
            "--token-lifetime",
            "120",
            "--token-extras",
            "--missing-id-header",
            "400",
            "--ack-delay",
            "600",
        ],
    );
    for (info, client_id_status, lifetime, extras, missing, stays) in [
        (&plain, 400, 3600, false, 401, false),
        (&knobbed, 200, 120, true, 400, true),
    ] {
        let cw = &info["connectwise"];
        let r = http
            .get(format!(
                "{}/company/companies",
                cw["api_base"].as_str().unwrap()
            ))
            .basic_auth(
                format!(
                    "{}+{}",
                    cw["company_id"].as_str().unwrap(),
                    cw["public_key"].as_str().unwrap()
                ),
                cw["private_key"].as_str(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), client_id_status, "no clientId");
        let token = sophos_token(&http, info).await;
        assert_eq!(token["expires_in"], lifetime, "{token}");
        assert_eq!(token.get("trackingId").is_some(), extras, "{token}");
        let access = token["access_token"].as_str().unwrap().to_owned();
        let global = info["sophos"]["global_url"].as_str().unwrap();
        let r = http
            .get(format!("{global}/partner/v1/tenants"))
            .bearer_auth(&access)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), missing, "no X-Partner-ID");

        // Acknowledge an alert of a readable tenant; with the delay it is still listed.
        let tenants: Value = http
            .get(format!("{global}/partner/v1/tenants?pageTotal=true"))
            .bearer_auth(&access)
            .header(
                "X-Partner-ID",
                info["sophos"]["partner_id"].as_str().unwrap(),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let tenant = tenants["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["billingType"] == "usage")
            .expect("a monthly tenant")
            .clone();
        let (id, host) = (
            tenant["id"].as_str().unwrap(),
            tenant["apiHost"].as_str().unwrap(),
        );
        let raised = sandbox_admin(
            &http,
            info,
            "/v1/sophos/alerts",
            json!({"count": 1, "tenant_id": id}),
        )
        .await;
        assert_eq!(raised.status(), 201);
        let alert = raised.json::<Value>().await.unwrap()["raised"][0]["alert_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let listed = async || {
            let page: Value = http
                .get(format!("{host}/common/v1/alerts"))
                .bearer_auth(&access)
                .header("X-Tenant-ID", id)
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|a| a["id"] == alert.as_str())
        };
        assert!(listed().await);
        let r = http
            .post(format!("{host}/common/v1/alerts/{alert}/actions"))
            .bearer_auth(&access)
            .header("X-Tenant-ID", id)
            .json(&json!({"action": "acknowledge"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        assert_eq!(listed().await, stays, "ack delay {stays}");
    }
    let o = cli.run(&["sandbox", "--missing-id-header", "402"]).await;
    o.expect_code(2);
    assert!(o.all().contains("Fix:"), "{}", o.all());
}

/// `--setup-reads-need-inquire` and the admin API's role change together rehearse a site whose
/// role restricts Table Setup: the pick-lists answer 403 until the level is given back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restricted_setup_reads_from_the_command_line() {
    let cli = testkit::Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
    let http = clientkit::http_client().build().unwrap();
    let (_sandbox, info) = start(&cli, &["--setup-reads-need-inquire"]);
    assert_eq!(status_of(&http, &info, "service/priorities").await, 200);
    let no_table_setup = json!({"member": "apisophos", "function": "Table Setup", "level": "Inquire", "access": "None"});
    let r = sandbox_admin(&http, &info, "/v1/connectwise/role", no_table_setup.clone()).await;
    assert_eq!(r.status(), 200);
    assert_eq!(status_of(&http, &info, "service/priorities").await, 403);
    // Without the flag, setup tables answer any member, as the Developer Guide says.
    let (_plain, plain) = start(&cli, &[]);
    sandbox_admin(&http, &plain, "/v1/connectwise/role", no_table_setup).await;
    assert_eq!(status_of(&http, &plain, "service/priorities").await, 200);
}

/// The fault flags reach the vendor APIs: the rate limits answer 429 with the fixed
/// `Retry-After`, the latency delays every answer, the codebase moves the API, and slow commits
/// make a successful POST answer late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_flags_reach_the_vendor_apis() {
    let cli = testkit::Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
    let http = clientkit::http_client().build().unwrap();
    let (_a, info) = start(
        &cli,
        &[
            "--cw-rate-limit",
            "2",
            "--sophos-rate-limit",
            "1",
            "--retry-after",
            "9",
            "--latency-ms",
            "150",
            "--codebase",
            "v2026_1",
        ],
    );
    let started = std::time::Instant::now();
    assert_eq!(companies_status(&http, &info).await, 200, "under v2026_1");
    assert!(started.elapsed() >= std::time::Duration::from_millis(150));
    let site = info["connectwise"]["site"].as_str().unwrap();
    let old = http
        .get(format!("{site}/v2025_1/apis/3.0/company/companies"))
        .send()
        .await
        .unwrap();
    assert_eq!(old.status(), 404, "the old codebase is gone");
    let third = http
        .get(format!(
            "{}/company/companies",
            info["connectwise"]["api_base"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(third.status(), 429);
    assert_eq!(third.headers()["retry-after"], "9");
    let token = sophos_token(&http, &info).await;
    assert!(token["access_token"].is_string(), "{token}");
    let r = http
        .get(format!(
            "{}/whoami/v1",
            info["sophos"]["global_url"].as_str().unwrap()
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "9");

    // A successful POST (the token) commits, then answers 1.5 s later: a 0.5 s client times out.
    let (_b, slow) = start(&cli, &["--slow-commit-ms", "1500"]);
    let impatient = clientkit::http_client()
        .timeout(std::time::Duration::from_millis(500))
        .build()
        .unwrap();
    let so = &slow["sophos"];
    let err = impatient
        .post(so["token_url"].as_str().unwrap())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", so["client_id"].as_str().unwrap()),
            ("client_secret", so["client_secret"].as_str().unwrap()),
            ("scope", "token"),
        ])
        .send()
        .await
        .unwrap_err();
    assert!(err.is_timeout(), "{err}");
    let started = std::time::Instant::now();
    assert!(sophos_token(&http, &slow).await["access_token"].is_string());
    assert!(started.elapsed() >= std::time::Duration::from_millis(1500));
}
