//! Dashboard accounts over real HTTP against the service started in this process: logout ends a
//! session for good, a password change or a disable ends an account's sessions, ten wrong
//! passwords lock the name (with a clock the test moves) without telling whether it exists, each
//! role reaches exactly its routes, and `serve` beyond loopback needs TLS or a proxy.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use centralbridge::service::{self, Running, SchedulerOptions, ServiceOptions, jobs::EngineRunner};
use engine::store::{Role, Store};
use jiff::Timestamp;
use reqwest::StatusCode;
use secrecy::SecretString;

use crate::support::{Target, World, cookie_from, field};

/// The service on `store` with no scheduled job, its clock in the test's hand.
struct Site {
    running: Option<Running>,
    base: String,
    http: reqwest::Client,
    now: Arc<Mutex<Timestamp>>,
}

impl Site {
    async fn start(store: &Store, key: &engine::secrets::MasterKey) -> Self {
        let opts = ServiceOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            metrics_listen: None,
            scheduler: SchedulerOptions::new(service::holder_id()),
            secure_cookies: false,
            tls: None,
            behind_proxy: false,
            auth: service::auth::Policy::default(),
            approval_required: false,
        };
        let config = centralbridge::config::SyncConfig::default();
        let runner = EngineRunner::shared(1, centralbridge::cmd::sync::guard(&config));
        let running = service::start(store.clone(), key.clone(), opts, runner)
            .await
            .expect("the service starts");
        let now = Arc::new(Mutex::new(Timestamp::from_second(2_000_000_000).unwrap()));
        let clock = now.clone();
        running
            .auth
            .set_clock(Arc::new(move || *clock.lock().unwrap()));
        let http = clientkit::http_client()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Self {
            base: running.url(),
            running: Some(running),
            http,
            now,
        }
    }

    async fn sqlite() -> (Self, testkit::TestStore) {
        let t = testkit::TestStore::sqlite().await;
        let key = engine::secrets::MasterKey::generate().unwrap();
        let site = Self::start(&t.store, &key).await;
        (site, t)
    }

    fn auth(&self) -> &service::Auth {
        &self.running.as_ref().unwrap().auth
    }

    fn advance(&self, d: Duration) {
        let mut t = self.now.lock().unwrap();
        *t = t
            .checked_add(jiff::SignedDuration::try_from(d).unwrap())
            .unwrap();
    }

    async fn add(&self, name: &str, role: Role, password: &str) {
        self.auth()
            .add_user(name, role, &SecretString::from(password.to_owned()))
            .await
            .expect("account created");
    }

    /// A login through the form; the status, the session cookie (`cb_session=…`) and the body.
    async fn login(&self, name: &str, password: &str) -> (StatusCode, Option<String>, String) {
        let page = self
            .http
            .get(format!("{}/login", self.base))
            .send()
            .await
            .unwrap();
        let (pre, _) = cookie_from(&page, "cb_prelogin").expect("pre-login cookie");
        let r = self
            .http
            .post(format!("{}/login", self.base))
            .header("cookie", format!("cb_prelogin={pre}"))
            .form(&[
                ("_prelogin", pre.as_str()),
                ("name", name),
                ("password", password),
            ])
            .send()
            .await
            .unwrap();
        let status = r.status();
        let cookie = cookie_from(&r, "cb_session")
            .filter(|(v, _)| !v.is_empty())
            .map(|(v, _)| format!("cb_session={v}"));
        (status, cookie, r.text().await.unwrap())
    }

    async fn logged_in(&self, name: &str, password: &str) -> String {
        let (status, cookie, body) = self.login(name, password).await;
        assert_eq!(status, StatusCode::SEE_OTHER, "{body}");
        cookie.expect("a session cookie")
    }

    async fn get(&self, cookie: &str, path: &str) -> reqwest::Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
    }

    /// The page's CSRF token for `cookie`'s session.
    async fn csrf(&self, cookie: &str) -> String {
        field(
            &self.get(cookie, "/customers").await.text().await.unwrap(),
            "_csrf",
        )
    }

    async fn post(&self, cookie: &str, csrf: &str, path: &str) -> reqwest::Response {
        self.http
            .post(format!("{}{path}", self.base))
            .header("cookie", cookie)
            .header("x-csrf-token", csrf)
            .send()
            .await
            .unwrap()
    }

    async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_for_good() {
    let (site, _t) = Site::sqlite().await;
    site.add("ana", Role::Admin, "correct horse battery").await;
    let cookie = site.logged_in("ana", "correct horse battery").await;
    assert_eq!(site.get(&cookie, "/customers").await.status(), 200);
    let csrf = site.csrf(&cookie).await;
    let r = site
        .http
        .post(format!("{}/logout", site.base))
        .header("cookie", &cookie)
        .form(&[("_csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    // Replaying the saved cookie: redirected to login on GET, refused on POST.
    let r = site.get(&cookie, "/customers").await;
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(r.headers()["location"], "/login");
    let r = site.post(&cookie, &csrf, "/jobs/tickets/run").await;
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_change_ends_the_other_sessions_and_a_disabled_user_cannot_log_in() {
    let world = World::new(Target::sqlite(), 3).await;
    let site = Site::start(&world.store, &world.key).await;
    site.add("ana", Role::Admin, "correct horse battery").await;
    site.add("bo", Role::Operator, "operator password").await;
    let laptop = site.logged_in("ana", "correct horse battery").await;
    let phone = site.logged_in("ana", "correct horse battery").await;
    let bo = site.logged_in("bo", "operator password").await;
    // The password changes from the CLI, as an admin would do it.
    let mut cmd = world.cli(&["users", "passwd", "ana", "--password-stdin"]);
    cmd.stdin(std::process::Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write as _;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"a brand new password\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", crate::support::text(&out));
    for old in [&laptop, &phone] {
        assert_eq!(
            site.get(old, "/customers").await.status(),
            StatusCode::SEE_OTHER
        );
    }
    assert_eq!(
        site.get(&bo, "/customers").await.status(),
        200,
        "bo's stays"
    );
    let (status, ..) = site.login("ana", "correct horse battery").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    site.logged_in("ana", "a brand new password").await;

    // Disabled: the session ends, and the right password no longer logs in; the answer is the
    // one a wrong password gets.
    let out = world.run(&["users", "disable", "bo"]).await;
    assert!(out.status.success(), "{}", crate::support::text(&out));
    assert_eq!(
        site.get(&bo, "/customers").await.status(),
        StatusCode::SEE_OTHER
    );
    let (status, cookie, body) = site.login("bo", "operator password").await;
    assert_eq!((status, cookie), (StatusCode::UNAUTHORIZED, None));
    let (_, _, wrong) = site.login("bo", "not the password").await;
    let message = |html: &str| {
        html.split("id=\"login-error\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(message(&body), message(&wrong));
    // Audited under the OS user who ran the CLI.
    let out = world.run(&["users", "list"]).await;
    let listing = crate::support::text(&out);
    assert!(listing.contains("disabled"), "{listing}");
    site.stop().await;
}

/// Ten wrong passwords for `name` on a fresh site: each answer's status and message, then the
/// right password during the lock and after it.
async fn lockout(name: &str, exists: bool) -> Vec<(u16, String)> {
    let (site, _t) = Site::sqlite().await;
    site.add("ana", Role::Admin, "correct horse battery").await;
    if exists {
        assert_eq!(name, "ana");
    }
    let error = |html: &str| {
        html.split("id=\"login-error\">")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .unwrap_or_default()
            .to_owned()
    };
    let mut seen = Vec::new();
    for _ in 0..10 {
        let (status, _, body) = site.login(name, "wrong password").await;
        seen.push((status.as_u16(), error(&body)));
        // Past any growing delay, but well inside the 15 minutes failures are remembered.
        site.advance(Duration::from_secs(65));
    }
    // Locked: even the right password is refused, with the message.
    let (status, cookie, body) = site.login(name, "correct horse battery").await;
    seen.push((status.as_u16(), error(&body)));
    assert!(cookie.is_none());
    // The lock ends.
    site.advance(Duration::from_secs(15 * 60));
    let (status, _, body) = site.login(name, "correct horse battery").await;
    seen.push((status.as_u16(), error(&body)));
    site.stop().await;
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_wrong_passwords_lock_the_name_and_say_so_whether_or_not_it_exists() {
    let (known, unknown) = tokio::join!(lockout("ana", true), lockout("nobody", false));
    let statuses: Vec<u16> = known.iter().map(|(s, _)| *s).collect();
    // Two free failures, then growing delays (each attempt still counted once its wait is over),
    // the tenth locks for 15 minutes.
    assert_eq!(&statuses[..2], &[401, 401], "{known:?}");
    assert!(statuses[2..9].iter().all(|s| *s == 429), "{known:?}");
    assert_eq!(statuses[9], 429);
    assert!(known[9].1.contains("Try again in 15 min"), "{known:?}");
    assert_eq!(known[10].0, 429, "the right password during the lock");
    assert!(known[10].1.contains("Too many failed logins"), "{known:?}");
    assert_eq!(known[11].0, 303, "the right password after the lock");
    // An unknown name is answered exactly alike (its last login fails: it has no password).
    assert_eq!(&known[..11], &unknown[..11]);
    assert_eq!(unknown[11].0, 401);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_attempts_inside_the_delay_are_refused_unchecked() {
    let (site, _t) = Site::sqlite().await;
    site.add("ana", Role::Admin, "correct horse battery").await;
    for _ in 0..3 {
        site.login("ana", "wrong password").await;
    }
    // The third failure asks for a second's wait: the right password inside it is not looked at.
    let (status, cookie, body) = site.login("ana", "correct horse battery").await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert!(cookie.is_none());
    site.advance(Duration::from_secs(2));
    let (status, ..) = site.login("ana", "correct horse battery").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_role_reaches_exactly_its_routes() {
    let world = World::new(Target::sqlite(), 3).await;
    let site = Site::start(&world.store, &world.key).await;
    let tenant = world.sb.world.tenants().next().unwrap().id.clone();
    let product = engine::usage::product_views(&world.store).await.unwrap()[0]
        .identifier
        .clone();
    // (method, path, least role)
    let routes: Vec<(&str, String, Role)> = vec![
        ("GET", "/customers".into(), Role::Viewer),
        ("GET", "/products".into(), Role::Viewer),
        ("GET", "/tickets".into(), Role::Viewer),
        ("GET", "/connection".into(), Role::Viewer),
        ("GET", "/activity".into(), Role::Viewer),
        ("GET", format!("/customers/{tenant}/edit"), Role::Viewer),
        ("POST", "/jobs/refresh/run".into(), Role::Operator),
        (
            "POST",
            format!("/customers/{tenant}/ticket-sync"),
            Role::Operator,
        ),
        ("POST", format!("/customers/{tenant}/unmap"), Role::Operator),
        ("POST", "/connection/doctor".into(), Role::Operator),
        ("POST", format!("/products/{product}/select"), Role::Admin),
        ("POST", "/products/add-to-psa".into(), Role::Admin),
        ("POST", "/tickets/settings".into(), Role::Admin),
    ];
    for role in Role::ALL {
        let name = format!("user-{role}");
        site.add(&name, role, "a long enough password").await;
        let cookie = site.logged_in(&name, "a long enough password").await;
        let csrf = site.csrf(&cookie).await;
        for (method, path, least) in &routes {
            let r = if *method == "GET" {
                site.get(&cookie, path).await
            } else {
                site.post(&cookie, &csrf, path).await
            };
            let status = r.status();
            let body = r.text().await.unwrap();
            if role.allows(*least) {
                assert_ne!(
                    status,
                    StatusCode::FORBIDDEN,
                    "{role} {method} {path}: {body}"
                );
            } else {
                assert_eq!(status, StatusCode::FORBIDDEN, "{role} {method} {path}");
                assert!(body.contains(&format!("needs the {least} role")), "{body}");
            }
        }
    }
    // The audit log names the account that acted.
    let audit = engine::store::CoreStore::list_audit(&world.store, &Default::default())
        .await
        .unwrap();
    assert!(
        audit.iter().any(|a| a.actor == "user-admin (dashboard)"),
        "{:?}",
        audit.iter().map(|a| &a.actor).collect::<Vec<_>>()
    );
    assert!(!audit.iter().any(|a| a.actor == "user-viewer (dashboard)"));
    site.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_beyond_loopback_needs_tls_or_a_proxy_and_serves_https_itself() {
    let world = World::new(Target::sqlite(), 2).await;
    let out = world.run(&["serve", "--listen", "0.0.0.0:0"]).await;
    assert_eq!(out.status.code(), Some(2), "{}", crate::support::text(&out));
    let text = crate::support::text(&out);
    assert!(
        text.contains("Fix:") && text.contains("--tls-cert"),
        "{text}"
    );

    // With a self-signed certificate it serves HTTPS, and every cookie is Secure.
    let dir = tempfile::tempdir().unwrap();
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let (cert, key) = (dir.path().join("d.crt"), dir.path().join("d.key"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let mut proc = world.spawn(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--jobs",
        "tickets",
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let base = loop {
        let printed = proc.printed();
        if let Some(url) = printed
            .split("dashboard on ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
        {
            break url.to_owned();
        }
        assert!(proc.is_running(), "serve stopped: {printed}");
        assert!(std::time::Instant::now() < deadline, "no URL: {printed}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(base.starts_with("https://"), "{base}");
    let http = clientkit::http_client()
        .add_root_certificate(reqwest::Certificate::from_pem(ck.cert.pem().as_bytes()).unwrap())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let r = http.get(format!("{base}/login")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let (_, flags) = cookie_from(&r, "cb_prelogin").expect("pre-login cookie");
    assert!(flags.contains("; Secure"), "{flags}");
    // Behind a proxy, a non-loopback listen is accepted.
    let mut proxied = world.spawn(&[
        "serve",
        "--listen",
        "0.0.0.0:0",
        "--jobs",
        "tickets",
        "--behind-proxy",
    ]);
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while !proxied.printed().contains("dashboard on ") {
        assert!(
            proxied.is_running(),
            "serve --behind-proxy stopped: {}",
            proxied.printed()
        );
        assert!(std::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_one_time_setup_link_creates_the_first_admin_once() {
    let (site, t) = Site::sqlite().await;
    let setup = site
        .running
        .as_ref()
        .unwrap()
        .setup_url()
        .await
        .expect("a first start offers the link");
    let page = site.http.get(&setup).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let (pre, _) = cookie_from(&page, "cb_prelogin").expect("pre-login cookie");
    let token = field(&page.text().await.unwrap(), "token");
    let post = |fields: Vec<(&'static str, String)>, with_cookie: bool| {
        let mut rb = site.http.post(format!("{}/setup", site.base)).form(&fields);
        if with_cookie {
            rb = rb.header("cookie", format!("cb_prelogin={pre}"));
        }
        rb.send()
    };
    let form = |name: &str, pw: &str, confirm: &str| {
        vec![
            ("_prelogin", pre.clone()),
            ("token", token.clone()),
            ("name", name.to_owned()),
            ("password", pw.to_owned()),
            ("confirm", confirm.to_owned()),
        ]
    };
    // A forged cross-site form (no pre-login cookie) is refused.
    let r = post(
        form("ana", "a long enough password", "a long enough password"),
        false,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
    // Bad input is refused with its fix, and creates nothing.
    let r = post(
        form("ana b", "a long enough password", "a long enough password"),
        true,
    )
    .await
    .unwrap();
    assert!(r.text().await.unwrap().contains("Fix:"));
    let r = post(form("ana", "a long enough password", "another one"), true)
        .await
        .unwrap();
    assert!(r.text().await.unwrap().contains("not the same"));
    assert!(!site.auth().has_users().await.unwrap());
    let r = post(
        form("Ana", "a long enough password", "a long enough password"),
        true,
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(cookie_from(&r, "cb_session").is_some());
    assert_eq!(site.auth().user("ana").await.unwrap().role, Role::Admin);
    // Used up.
    assert_eq!(site.http.get(&setup).send().await.unwrap().status(), 403);
    assert!(site.running.as_ref().unwrap().setup_url().await.is_none());
    let audit = engine::store::CoreStore::list_audit(&t.store, &Default::default())
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.action == "user.add" && a.actor == "ana (dashboard)")
    );
    site.stop().await;
}
