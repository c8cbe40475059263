//! `centralbridge serve` over HTTP, without a browser: first start without an account, login, session cookie
//! flags, CSRF and same-origin refusals, `/healthz`, metrics on their own listener, and no secret in
//! any page.

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};

use crate::support::{Proc, cookie_from, field};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use engine::connections::{self, ConnectWiseSettings};
use engine::secrets::MasterKey;
use engine::store::Store;
use reqwest::redirect::Policy;
use secrecy::{ExposeSecret as _, SecretString};

const SECRET: &str = "TOPSECRET-private-key-0123456789";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn setup_login_csrf_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("cb.db").to_string_lossy().into_owned();
    let key = MasterKey::generate().unwrap();
    {
        // A stored connection whose secret must never show (its site does not answer: jobs fail).
        let store = Store::open(&db, key.clone()).await.unwrap();
        connections::save_connectwise(
            &store,
            &ConnectWiseSettings {
                site: "http://127.0.0.1:9".into(),
                company_id: "acme".into(),
                public_key: "pub".into(),
                client_id: "client".into(),
                codebase: None,
                allow_http: true,
            },
            &SecretString::from(SECRET),
        )
        .await
        .unwrap();
        store.close().await;
    }
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_centralbridge"))
        .args(["serve", "--listen", "127.0.0.1:0", "--database", &db])
        .args(["--metrics-listen", "127.0.0.1:0"])
        .args(["--tickets-every", "1s", "--jobs", "tickets"])
        .env("CENTRALBRIDGE_CONFIG", &config)
        .env("CENTRALBRIDGE_MASTER_KEY", key.to_base64().expose_secret())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _child = Proc::new(child);
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut base = None;
    let mut metrics_url = None;
    let hint = loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("serve printed its URLs");
        if let Some(rest) = line.split("dashboard on ").nth(1) {
            base = Some(rest.split_whitespace().next().unwrap().to_owned());
        }
        if let Some(rest) = line.split("Prometheus metrics on ").nth(1) {
            metrics_url = Some(rest.trim().to_owned());
        }
        if line.contains("No dashboard account exists yet") {
            break line;
        }
    };
    // Off a terminal the one-time link is not printed (it would land in a journal).
    assert!(!hint.contains("token="), "{hint}");
    assert!(hint.contains("users add"), "{hint}");
    let base = base.expect("the dashboard URL");
    let http = clientkit::http_client()
        .redirect(Policy::none())
        .build()
        .unwrap();

    // Health, without a session.
    let health = http.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    // Pages need a session.
    let r = http.get(format!("{base}/customers")).send().await.unwrap();
    assert_eq!(r.status(), 303);
    assert_eq!(r.headers()["location"], "/login");
    // A setup token nobody was shown is refused.
    let r = http
        .get(format!("{base}/setup?token=nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // The first admin from the CLI, then the login form.
    let mut add = Command::new(env!("CARGO_BIN_EXE_centralbridge"))
        .args([
            "users",
            "add",
            "admin",
            "--password-stdin",
            "--database",
            &db,
        ])
        .env("CENTRALBRIDGE_CONFIG", &config)
        .env("CENTRALBRIDGE_MASTER_KEY", key.to_base64().expose_secret())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        let mut stdin = add.stdin.take().unwrap();
        stdin.write_all(b"a long enough password\n").unwrap();
    }
    let added = add.wait_with_output().unwrap();
    assert!(added.status.success(), "{}", crate::support::text(&added));
    assert!(String::from_utf8_lossy(&added.stdout).contains("Created admin (admin)"));
    let page = http.get(format!("{base}/login")).send().await.unwrap();
    let (pre, _) = cookie_from(&page, "cb_prelogin").expect("pre-login cookie");
    let form = [
        ("_prelogin", pre.as_str()),
        ("name", "admin"),
        ("password", "a long enough password"),
    ];
    // Without the pre-login cookie (a forged cross-site form) it is refused.
    let r = http
        .post(format!("{base}/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(format!("{base}/login"))
        .header("cookie", format!("cb_prelogin={pre}"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{:?}", r.text().await);
    let (session, flags) = cookie_from(&r, "cb_session").expect("session cookie");
    assert!(
        flags.contains("HttpOnly") && flags.contains("SameSite=Strict"),
        "{flags}"
    );
    assert!(!flags.contains("Secure"), "plain HTTP on loopback: {flags}");
    let cookie = format!("cb_session={session}");

    // Every page renders, and none shows the stored secret.
    let mut csrf = String::new();
    for page in ["customers", "products", "tickets", "connection", "activity"] {
        let r = http
            .get(format!("{base}/{page}"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{page}");
        let html = r.text().await.unwrap();
        assert!(!html.contains(SECRET), "{page} shows the secret");
        csrf = field(&html, "_csrf");
    }
    assert!(csrf.len() >= 40, "{csrf}");

    // Actions need the CSRF token; a cross-site Origin is refused even with it.
    let run = format!("{base}/jobs/tickets/run");
    let r = http
        .post(&run)
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(&run)
        .header("cookie", &cookie)
        .header("x-csrf-token", "0".repeat(64))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(&run)
        .header("cookie", &cookie)
        .header("x-csrf-token", &csrf)
        .header("origin", "http://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(&run)
        .header("cookie", &cookie)
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("Ticket sync requested"));
    // A tampered session is no session.
    let r = http
        .get(format!("{base}/customers"))
        .header("cookie", format!("cb_session=x{session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);

    // Metrics on their own listener: the failing ticket runs are counted.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = match http
            .get(
                metrics_url
                    .as_deref()
                    .expect("serve printed the metrics URL"),
            )
            .send()
            .await
        {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        if text.contains("centralbridge_sync_runs_total{job=\"tickets\",outcome=\"failed\"}") {
            assert!(!text.contains(SECRET));
            break;
        }
        assert!(Instant::now() < deadline, "no sync run metric:\n{text}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // The dashboard does not serve metrics.
    let r = http.get(format!("{base}/metrics")).send().await.unwrap();
    assert_ne!(r.status(), 200);
}
