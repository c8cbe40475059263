//! The dashboard in a real browser (headless Chromium through chromedriver, driven by fantoccini),
//! against `centralbridge demo` on a small seeded MSP: log in, filter customers, open an error's
//! advice, toggle ticket sync, map a customer through the company autocomplete, run "sync now" and
//! see the result; and a request without the CSRF token is refused. Then: log out and the back
//! button shows the login page; a viewer sees no action button and a forged action is refused.
//!
//! Needs `/usr/bin/chromedriver` and Chromium (`apt-get install chromium chromium-driver`). Without
//! them the test says plainly that it did not run, and passes -- unless `CI=true`.

use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::support::Proc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use engine::mapping::{self, SuggestOptions};
use engine::secrets::MasterKey;
use engine::store::Store;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;

const PASSWORD: &str = "browser-test-password";
const WAIT: Duration = Duration::from_secs(30);

fn find_chromedriver() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("CHROMEDRIVER") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromedriver", "/usr/lib/chromium/chromedriver"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

/// Starts chromedriver on a port it picks itself (`--port=0`, so no other test can take it
/// between a probe and the start) and returns it with that port.
fn start_chromedriver(driver: &Path) -> (Proc, u16) {
    let mut child = Command::new(driver)
        .arg("--port=0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port = loop {
        let line = lines
            .next()
            .expect("chromedriver said which port it listens on")
            .expect("chromedriver output");
        if let Some(rest) = line.split("started successfully on port ").nth(1) {
            break rest
                .trim()
                .trim_end_matches('.')
                .parse()
                .expect("a port number");
        }
    };
    // Keep its output drained so it never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (Proc::new(child), port)
}

/// Starts the demo and returns it with the dashboard URL.
fn start_demo(dir: &Path) -> (Proc, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_centralbridge"))
        .args(["demo", "--customers", "12", "--listen", "127.0.0.1:0"])
        .args(["--tickets-every", "2s", "--dir"])
        .arg(dir)
        .env("CENTRALBRIDGE_DEMO_PASSWORD", PASSWORD)
        .env_remove("CENTRALBRIDGE_MASTER_KEY")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the demo");
    let stdout = child.stdout.take().unwrap();
    let child = Proc::new(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        // Keep reading after the URL is found: a closed pipe would fail the demo's next print.
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = rx
            .recv_timeout(left)
            .expect("the demo printed its dashboard URL");
        if let Some(url) = line.strip_prefix("Dashboard: ") {
            return (child, url.trim().to_owned());
        }
    }
}

async fn wait_text(c: &Client, css: &str, want: &str) -> String {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(e) = c.find(Locator::Css(css)).await
            && let Ok(t) = e.text().await
            && t.contains(want)
        {
            return t;
        }
        if Instant::now() >= deadline {
            let url = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let page = c.source().await.unwrap_or_default();
            panic!("`{css}` never showed “{want}” on {url}:\n{page}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until htmx has no request in flight, twice in a row: a response can trigger another
/// swap (`customers-changed` reloads the table), and an element found before it would go stale.
async fn settle(c: &Client) {
    let deadline = Instant::now() + WAIT;
    let mut quiet = 0;
    while quiet < 2 && Instant::now() < deadline {
        let busy = c
            .execute(
                "return document.querySelectorAll('.htmx-request, .htmx-settling, .htmx-swapping').length",
                vec![],
            )
            .await
            .ok()
            .and_then(|v| v.as_u64())
            .unwrap_or(1);
        quiet = if busy == 0 { quiet + 1 } else { 0 };
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

/// Runs one step again when the page replaced an element it held (htmx swaps rows and tables
/// under the test); any other error is returned. The step must end in its one action, so a
/// retry never repeats an action that took effect.
async fn fresh<T>(
    c: &Client,
    mut step: impl AsyncFnMut() -> Result<T, fantoccini::error::CmdError>,
) -> Result<T, fantoccini::error::CmdError> {
    let mut tries = 0;
    loop {
        match step().await {
            Err(e) if e.is_stale_element_reference() && tries < 20 => {
                tries += 1;
                settle(c).await;
            }
            other => return other,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_in_a_browser() {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let (Some(driver), Some(browser)) = (find_chromedriver(), chromium()) else {
        assert!(
            !ci,
            "CI=true but chromedriver/chromium are missing: apt-get install chromium chromium-driver"
        );
        eprintln!(
            "browser test did not run: chromedriver or chromium not found (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let (mut demo, url) = start_demo(dir.path());

    let (_driver, port) = start_chromedriver(&driver);
    let profile = tempfile::tempdir().unwrap();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": browser,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--no-first-run", "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--window-size=1400,1000",
                     format!("--user-data-dir={}", profile.path().display())],
        }),
    );
    let webdriver = format!("http://127.0.0.1:{port}");
    let mut client = None;
    for _ in 0..50 {
        match ClientBuilder::new(HttpConnector::new())
            .capabilities(caps.clone())
            .connect(&webdriver)
            .await
        {
            Ok(c) => {
                client = Some(c);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    let c = client.expect("chromedriver answered");
    let result = scenario(&c, &url, dir.path()).await;
    let _ = c.close().await;
    if let Err(e) = result {
        let state = if demo.is_running() {
            "still running"
        } else {
            "no longer running"
        };
        panic!(
            "the browser scenario failed: {e}\nthe demo at {url} is {state}; it wrote on stderr:\n{}",
            demo.printed()
        );
    }
}

async fn scenario(c: &Client, url: &str, dir: &Path) -> Result<(), fantoccini::error::CmdError> {
    // Log in (a wrong password first).
    c.goto(&format!("{url}/customers")).await?;
    assert!(c.current_url().await?.path().starts_with("/login"));
    log_in(c, "demo", "wrong password").await?;
    wait_text(c, "#login-error", "do not match").await;
    log_in(c, "demo", PASSWORD).await?;
    let all = wait_text(c, "#customer-count", "customers").await;
    assert_eq!(c.current_url().await?.path(), "/customers");

    // Filter: failed only, then back to both.
    c.find(Locator::Id("filter-status"))
        .await?
        .select_by_value("failed")
        .await?;
    let deadline = Instant::now() + WAIT;
    loop {
        let now = fresh(c, async || {
            c.find(Locator::Id("customer-count")).await?.text().await
        })
        .await?;
        if now != all {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the filter never changed the table"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    settle(c).await;
    let texts = fresh(c, async || {
        let mut texts = Vec::new();
        for r in c.find_all(Locator::Css("#customers tbody tr[id]")).await? {
            texts.push(r.text().await?);
        }
        Ok(texts)
    })
    .await?;
    assert!(
        !texts.is_empty(),
        "the demo has customers whose sync failed"
    );
    for t in &texts {
        assert!(t.contains("Failed"), "{t}");
    }

    // The error icon opens the error and the advice.
    fresh(c, async || {
        c.find(Locator::Css("#customers .error-icon"))
            .await?
            .click()
            .await
    })
    .await?;
    let detail = wait_text(c, "#detail", "How to fix it").await;
    assert!(detail.contains("What happened"), "{detail}");

    c.find(Locator::Id("filter-status"))
        .await?
        .select_by_value("both")
        .await?;
    wait_text(c, "#customer-count", &all).await;
    settle(c).await;

    // Toggle ticket sync on a mapped customer.
    let (row_id, before) = fresh(c, async || {
        let row_id = c
            .find(Locator::XPath(
                "(//*[@id='customers']//button[contains(@class,'ticket-toggle')])[1]/ancestor::tr",
            ))
            .await?
            .attr("id")
            .await?
            .unwrap();
        let toggle = c
            .find(Locator::Css(&format!("#{row_id} .ticket-toggle")))
            .await?;
        let before = toggle.text().await?;
        toggle.click().await?;
        Ok((row_id, before))
    })
    .await?;
    let flipped = if before == "On" { "Off" } else { "On" };
    wait_text(c, &format!("#{row_id} .ticket-toggle"), flipped).await;
    settle(c).await;

    // Map an unmapped customer through the autocomplete: its best suggestion, typed in.
    let key =
        MasterKey::from_base64(&std::fs::read_to_string(dir.join("master.key")).unwrap()).unwrap();
    let store = Store::open(&dir.join("centralbridge.db").to_string_lossy(), key)
        .await
        .unwrap();
    let suggestions = mapping::suggest(&store, &SuggestOptions::default())
        .await
        .unwrap();
    let (tenant_id, company) = suggestions
        .iter()
        .find_map(|s| s.best().map(|b| (s.tenant_id.clone(), b.name.clone())))
        .expect("an unmapped customer with a candidate company");
    store.close().await;
    fresh(c, async || {
        c.find(Locator::Css(&format!("#row-{tenant_id} .edit-mapping")))
            .await?
            .click()
            .await
    })
    .await?;
    let search = c
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("company-search"))
        .await?;
    search
        .send_keys(&company.chars().take(1).collect::<String>())
        .await?;
    wait_text(c, "#company-hits", "at least 2").await;
    search
        .send_keys(&company.chars().skip(1).take(4).collect::<String>())
        .await?;
    let hit = wait_text(c, "#company-hits", &company).await;
    assert!(!hit.is_empty());
    settle(c).await;
    let clicked = fresh(c, async || {
        for h in c
            .find_all(Locator::Css("#company-hits .company-hit"))
            .await?
        {
            if h.text().await?.starts_with(&company) && h.is_enabled().await? {
                h.click().await?;
                return Ok(true);
            }
        }
        Ok(false)
    })
    .await?;
    assert!(clicked, "the suggested company {company} was offered");
    wait_text(c, "#chosen-company", &company).await;
    fresh(c, async || {
        c.find(Locator::Id("save-mapping")).await?.click().await
    })
    .await?;
    wait_text(c, "#detail", "Saved").await;
    wait_text(c, &format!("#row-{tenant_id}"), &company).await;
    settle(c).await;

    // Sync now on a customer with usage sync on, and see the result.
    fresh(c, async || {
        c.find(Locator::Css("#customers .sync-now"))
            .await?
            .click()
            .await
    })
    .await?;
    // It previews: the saved plan's page, with Approve.
    wait_text(c, "#plan-state", "pending").await;
    let rows = wait_text(c, "#plan-customers", "").await;
    assert!(!rows.is_empty());
    fresh(c, async || {
        c.find(Locator::Id("approve")).await?.click().await
    })
    .await?;
    let flash = wait_text(c, "#flash", "applied").await;
    assert!(flash.contains("customer(s) failed"), "{flash}");
    wait_text(c, "#plan-state", "approved").await;

    // The Connection and Activity pages render; the mapping is in the audit log.
    c.goto(&format!("{url}/activity?action=mapping.set"))
        .await?;
    wait_text(c, "#activity", "dashboard").await;
    c.goto(&format!("{url}/connection")).await?;
    wait_text(c, "#doctor", "Sophos Central").await;

    // A request without the CSRF token is refused, the same request with it goes through.
    let cookie = c.get_named_cookie("cb_session").await?;
    let http = clientkit::http_client().build().unwrap();
    let refused = http
        .post(format!("{url}/jobs/tickets/run"))
        .header("cookie", format!("cb_session={}", cookie.value()))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("CSRF"));
    let ok = run_tickets_with_token(&http, url, cookie.value()).await;
    assert_eq!(ok.status(), 200);

    viewer_scenario(c, url, dir).await
}

/// "Sync tickets now" as the session, with the CSRF token its pages carry.
async fn run_tickets_with_token(
    http: &reqwest::Client,
    url: &str,
    session: &str,
) -> reqwest::Response {
    let token = page_token(http, url, session).await;
    http.post(format!("{url}/jobs/tickets/run"))
        .header("cookie", format!("cb_session={session}"))
        .header("x-csrf-token", token)
        .send()
        .await
        .unwrap()
}

/// The CSRF token the session's pages carry (in htmx's request headers).
async fn page_token(http: &reqwest::Client, url: &str, session: &str) -> String {
    let page = http
        .get(format!("{url}/customers"))
        .header("cookie", format!("cb_session={session}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    page.split("X-CSRF-Token\": \"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap()
        .to_owned()
}

/// Fills the login form (the name field keeps what the last attempt typed) and submits it.
async fn log_in(c: &Client, name: &str, password: &str) -> Result<(), fantoccini::error::CmdError> {
    let field = c.find(Locator::Id("name")).await?;
    field.clear().await?;
    field.send_keys(name).await?;
    c.find(Locator::Id("password"))
        .await?
        .send_keys(password)
        .await?;
    c.find(Locator::Id("login")).await?.click().await
}

/// Log out, and the back button shows the login page; a viewer sees no action and a forged one
/// is refused.
async fn viewer_scenario(
    c: &Client,
    url: &str,
    dir: &Path,
) -> Result<(), fantoccini::error::CmdError> {
    let key =
        MasterKey::from_base64(&std::fs::read_to_string(dir.join("master.key")).unwrap()).unwrap();
    let store = Store::open(&dir.join("centralbridge.db").to_string_lossy(), key)
        .await
        .unwrap();
    centralbridge::service::auth::Auth::new(store.clone())
        .add_user(
            "vera",
            engine::store::Role::Viewer,
            &secrecy::SecretString::from("viewer password 1"),
        )
        .await
        .unwrap();
    store.close().await;

    c.goto(&format!("{url}/customers")).await?;
    c.find(Locator::Id("logout")).await?.click().await?;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Id("login"))
        .await?;
    c.back().await?;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Id("login"))
        .await?;
    assert!(c.current_url().await?.path().starts_with("/login"));

    log_in(c, "vera", "viewer password 1").await?;
    wait_text(c, "#customer-count", "customers").await;
    wait_text(c, "#who", "vera (viewer)").await;
    for css in [
        "#sync-usage-all",
        "#refresh-customers",
        ".ticket-toggle",
        ".usage-toggle",
        ".edit-mapping",
        ".sync-now",
        ".confirm",
    ] {
        assert!(
            c.find_all(Locator::Css(css)).await?.is_empty(),
            "a viewer sees {css}"
        );
    }
    assert!(!c.find_all(Locator::Css(".ticket-state")).await?.is_empty());
    c.goto(&format!("{url}/products")).await?;
    assert!(c.find_all(Locator::Id("add-to-psa")).await?.is_empty());
    c.goto(&format!("{url}/usage")).await?;
    wait_text(c, "#recent-plans", "approved").await;
    assert!(c.find_all(Locator::Id("preview-all")).await?.is_empty());
    // A forged action with the viewer's own session and token is refused for its role.
    let cookie = c.get_named_cookie("cb_session").await?;
    let http = clientkit::http_client().build().unwrap();
    let refused = run_tickets_with_token(&http, url, cookie.value()).await;
    assert_eq!(refused.status(), 403);
    assert!(refused.text().await.unwrap().contains("operator role"));
    c.find(Locator::Id("logout")).await?.click().await?;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Id("login"))
        .await?;
    c.back().await?;
    c.wait()
        .at_most(WAIT)
        .for_element(Locator::Id("login"))
        .await?;
    // The old cookie is worth nothing now.
    let r = http
        .get(format!("{url}/customers"))
        .header("cookie", format!("cb_session={}", cookie.value()))
        .send()
        .await
        .unwrap();
    assert!(r.url().path().starts_with("/login"), "{}", r.url());
    Ok(())
}
