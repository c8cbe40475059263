//! What the process-level tests share: a store target on each backend, a sandbox with a prepared
//! store (connected, refreshed, mapped, products selected, ticket settings), the CLI and `serve` as
//! child processes, a dashboard login, and checks on what the emulated ConnectWise holds.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use centralbridge::service::{self, Running, SchedulerOptions, ServiceOptions, jobs::EngineRunner};
use engine::connections;
use engine::job::{self, Door, RunReport as _, StartOptions};
use engine::mapping::{self, AcceptOptions, RefreshOptions};
use engine::secrets::{MASTER_KEY_ENV, MasterKey};
use engine::store::{CoreStore as _, Lease, MappingStore as _, Store};
use engine::tickets::{self, SettingsInput};
use sandbox::connectwise::Table;
use sandbox::{Sandbox, SandboxOptions};
use secrecy::ExposeSecret as _;
use testkit::Cli;

pub(crate) use centralbridge::service::Job as SchedJob;

/// Where a test's store lives: a SQLite file, or a fresh PostgreSQL database (dropped on drop).
pub(crate) use testkit::Database as Target;

/// A sandbox and a store prepared as after a first day: both connections, a refresh, the confident
/// suggestions accepted with usage and ticket sync on, every product selected, ticket settings.
pub(crate) struct World {
    pub sb: Sandbox,
    pub store: Store,
    pub key: MasterKey,
    pub target: Target,
    pub config: PathBuf,
    /// The binary with this world's config and key (no `--database`: see [`World::cli_on`]).
    pub bin: Cli,
}

impl World {
    pub(crate) async fn new(target: Target, customers: usize) -> Self {
        let mut opts = SandboxOptions::demo(7, customers);
        // Alerts only when a test raises them.
        opts.alert_rate = 0.0;
        let sb = Sandbox::spawn(opts).await.unwrap();
        // Every customer's alerts readable: a refused tenant is the subject of other tests.
        for t in sb.world.tenants() {
            let _ = sb.sophos.set_forbidden(&t.id, false);
        }
        let key = MasterKey::generate().unwrap();
        let store = Store::open(&target.url, key.clone()).await.unwrap();
        prepare(&store, &sb).await;
        let config = target.dir.path().join("config.toml");
        std::fs::write(&config, "").unwrap();
        let bin = Cli::new(env!("CARGO_BIN_EXE_centralbridge"))
            .env("CENTRALBRIDGE_CONFIG", &config)
            .env(MASTER_KEY_ENV, key.to_base64().expose_secret())
            .env("NO_COLOR", "1");
        Self {
            sb,
            store,
            key,
            target,
            config,
            bin,
        }
    }

    /// A CLI command as a child process on this world's store.
    pub(crate) fn cli(&self, args: &[&str]) -> Command {
        self.cli_on(&self.target.url, args)
    }

    /// A CLI command on another store (same master key), e.g. a second install.
    pub(crate) fn cli_on(&self, database: &str, args: &[&str]) -> Command {
        let mut cmd = self
            .bin
            .command(&[&["--database", database], args].concat());
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }

    /// Runs a CLI command to its end.
    pub(crate) async fn run(&self, args: &[&str]) -> Output {
        let mut cmd = self.cli(args);
        tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap()
    }

    /// Starts a CLI command; the child is killed when dropped.
    pub(crate) fn spawn(&self, args: &[&str]) -> Proc {
        Proc::new(self.cli(args).spawn().unwrap())
    }

    /// Who holds `job`'s lease now.
    pub(crate) async fn lease(&self, job: &str) -> Option<Lease> {
        self.store
            .lease_holder(job, jiff::Timestamp::now())
            .await
            .unwrap()
    }

    /// Waits until `job`'s lease is held by a holder whose key starts with `door` ("cli", "service",
    /// "dashboard").
    pub(crate) async fn wait_for_lease(&self, job: &str, door: &str) -> Lease {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(l) = self.lease(job).await
                && l.holder.starts_with(&format!("{door}|"))
            {
                return l;
            }
            assert!(
                Instant::now() < deadline,
                "no {door} took the {job} lease in time"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Slows every call to both emulators, so a run lasts long enough to be overlapped.
    pub(crate) fn set_latency(&self, d: Duration) {
        self.sb.connectwise.faults().set_latency(d);
        self.sb.sophos.faults().set_latency(d);
    }

    /// Live (not cancelled) additions per (agreement, catalog item): more than one is a double bill.
    pub(crate) fn live_additions(&self) -> BTreeMap<(i64, i64), usize> {
        let mut m = BTreeMap::new();
        for a in self.sb.connectwise.records(Table::Additions) {
            if !a["cancelledDate"].is_null() {
                continue;
            }
            let agreement = a["agreementId"]
                .as_i64()
                .or_else(|| a["agreement"]["id"].as_i64())
                .unwrap_or_default();
            let product = a["product"]["id"].as_i64().unwrap_or_default();
            *m.entry((agreement, product)).or_insert(0) += 1;
        }
        m
    }

    /// Asserts exactly one live addition per billed line, and that there are some.
    pub(crate) fn assert_one_addition_per_line(&self) -> usize {
        let live = self.live_additions();
        assert!(!live.is_empty(), "no additions were written");
        let doubled: Vec<_> = live.iter().filter(|(_, n)| **n > 1).collect();
        assert!(doubled.is_empty(), "lines billed twice: {doubled:?}");
        live.len()
    }

    /// Tickets per alert id (`externalXRef`).
    pub(crate) fn tickets_per_alert(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for t in self.sb.connectwise.records(Table::Tickets) {
            if let Some(x) = t["externalXRef"].as_str() {
                *m.entry(x.to_owned()).or_insert(0) += 1;
            }
        }
        m
    }

    /// Asserts no alert on two tickets and no note written twice; returns (tickets, notes).
    pub(crate) fn assert_no_duplicate_tickets_or_notes(&self) -> (usize, usize) {
        let per_alert = self.tickets_per_alert();
        let twice: Vec<_> = per_alert.iter().filter(|(_, n)| **n > 1).collect();
        assert!(twice.is_empty(), "alerts on two tickets: {twice:?}");
        let mut notes = 0;
        for t in self.sb.connectwise.records(Table::Tickets) {
            let Some(id) = t["id"].as_i64() else { continue };
            let mut seen = BTreeMap::new();
            for n in self.sb.connectwise.notes(id) {
                let text = n["text"].as_str().unwrap_or_default().to_owned();
                *seen.entry(text).or_insert(0) += 1;
                notes += 1;
            }
            let dup: Vec<_> = seen.iter().filter(|(_, n)| **n > 1).collect();
            assert!(
                dup.is_empty(),
                "ticket {id} has notes written twice: {dup:?}"
            );
        }
        (per_alert.len(), notes)
    }

    /// Raises `n` alerts on each mapped tenant: one per device, plus a repeat on the first device
    /// (which becomes a note).
    pub(crate) async fn raise_alerts(&self, n: usize) -> usize {
        self.raise_alerts_of(sandbox::sophos::AlertKind::ThreatDetected, n)
            .await
    }

    /// [`World::raise_alerts`] of another kind (a new kind on a device is a new ticket).
    pub(crate) async fn raise_alerts_of(
        &self,
        kind: sandbox::sophos::AlertKind,
        n: usize,
    ) -> usize {
        use sandbox::sophos::AlertSpec;
        let mut raised = 0;
        for c in self.store.list_customers().await.unwrap() {
            if c.mapping.as_ref().is_none_or(|m| !m.ticket_sync) {
                continue;
            }
            for d in 0..n {
                if self
                    .sb
                    .sophos
                    .inject_alert(&c.tenant.id, AlertSpec::new(kind).on_device(d))
                    .is_ok()
                {
                    raised += 1;
                }
            }
            if self
                .sb
                .sophos
                .inject_alert(&c.tenant.id, AlertSpec::new(kind).on_device(0))
                .is_ok()
            {
                raised += 1;
            }
        }
        raised
    }

    pub(crate) async fn runs(&self, job: &str) -> Vec<engine::store::SyncRun> {
        self.store.list_sync_runs(Some(job), 1000).await.unwrap()
    }

    pub(crate) async fn finish(self) {
        self.store.close().await;
        self.sb.shutdown().await;
    }
}

/// Connects both vendors, refreshes, accepts the confident suggestions (usage and ticket sync on),
/// selects every product and sets the ticket board: a first day, through the engine's own calls.
pub(crate) async fn prepare(store: &Store, sb: &Sandbox) {
    testkit::connect::save_connections(store, &sb.connectwise, &sb.sophos).await;
    let cwc = connections::connectwise_client(store).await.unwrap();
    let soc = connections::sophos_client(store).await.unwrap();
    let run = job::start(
        store,
        job::Job::Refresh,
        StartOptions::new(Door::Cli, "test"),
    )
    .await
    .unwrap();
    let refreshed = mapping::refresh(
        store,
        Some(&soc),
        Some(&cwc),
        "",
        &RefreshOptions::default(),
        &run,
    )
    .await;
    run.finish(&refreshed.run_end()).await.unwrap();
    refreshed.unwrap();
    let accept = AcceptOptions {
        min_score: 0.9,
        usage_sync: true,
        ticket_sync: true,
        ..Default::default()
    };
    mapping::accept(store, "test", &accept).await.unwrap();
    engine::usage::select_all(store, "test").await.unwrap();
    let board = tickets::choices(&cwc, None).await.unwrap().boards[0].id;
    let input = SettingsInput {
        board: Some(board.to_string()),
        auto: true,
        skip_unmapped: Some(true),
        ..Default::default()
    };
    tickets::update_settings(store, &cwc, &input, "test")
        .await
        .unwrap();
}

/// A child process, killed when dropped. Its stdout and stderr (when piped) are read as it runs, so a
/// chatty process never blocks on a full pipe.
pub(crate) struct Proc {
    child: Option<Child>,
    out: std::sync::Arc<std::sync::Mutex<Vec<u8>>>,
    readers: Vec<std::thread::JoinHandle<()>>,
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Some(c) = &mut self.child {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Proc {
    pub(crate) fn new(mut child: Child) -> Self {
        let out = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut readers = Vec::new();
        let pipes: [Option<Box<dyn std::io::Read + Send>>; 2] = [
            child
                .stdout
                .take()
                .map(|o| Box::new(o) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|e| Box::new(e) as Box<dyn std::io::Read + Send>),
        ];
        for mut pipe in pipes.into_iter().flatten() {
            let out = out.clone();
            readers.push(std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    out.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            }));
        }
        Proc {
            child: Some(child),
            out,
            readers,
        }
    }

    pub(crate) fn pid(&self) -> String {
        self.child
            .as_ref()
            .map(|c| c.id().to_string())
            .unwrap_or_default()
    }

    /// Whether the process is still running (for a failure message).
    pub(crate) fn is_running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(None)))
    }

    /// What it printed so far on its piped streams.
    pub(crate) fn printed(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().unwrap()).into_owned()
    }

    pub(crate) fn signal(&self, sig: &str) {
        let _ = Command::new("kill").args([sig, &self.pid()]).status();
    }

    /// Waits for the exit (at most `limit`); returns the code (`None`: killed by a signal) and all
    /// it printed.
    pub(crate) async fn wait(mut self, limit: Duration) -> (Option<i32>, String) {
        let mut child = self.child.take().expect("a running child");
        let readers = std::mem::take(&mut self.readers);
        let out = self.out.clone();
        tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + limit;
            let status = loop {
                if let Some(s) = child.try_wait().unwrap() {
                    break s;
                }
                if Instant::now() >= deadline {
                    let _ = child.kill();
                    panic!("the process did not end within {limit:?}");
                }
                std::thread::sleep(Duration::from_millis(20));
            };
            for r in readers {
                let _ = r.join();
            }
            let text = String::from_utf8_lossy(&out.lock().unwrap()).into_owned();
            (status.code(), text)
        })
        .await
        .unwrap()
    }
}

pub(crate) fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// `centralbridge serve` on this world's store, logged in through its one-time setup link.
pub(crate) struct Service {
    pub proc: Proc,
    pub base: String,
    pub http: reqwest::Client,
    pub cookie: String,
    pub csrf: String,
}

impl Service {
    pub(crate) async fn start(world: &World, args: &[&str]) -> Self {
        // The first admin from the CLI: off a terminal, `serve` shows no setup link.
        let mut add = world.cli(&[
            "users",
            "add",
            "admin",
            "--role",
            "admin",
            "--password-stdin",
        ]);
        add.stdin(Stdio::piped());
        let mut child = add.spawn().unwrap();
        {
            use std::io::Write as _;
            let mut stdin = child.stdin.take().unwrap();
            stdin.write_all(b"a long enough password\n").unwrap();
        }
        let added = child.wait_with_output().unwrap();
        assert!(
            added.status.success() || text(&added).contains("exists already"),
            "{}",
            text(&added)
        );
        let mut cmd = world.cli(&["serve", "--listen", "127.0.0.1:0"]);
        cmd.args(args).stderr(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let proc = Proc::new(child);
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let base = tokio::task::spawn_blocking(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let line = rx
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .expect("serve printed its URL");
                if let Some(rest) = line.split("dashboard on ").nth(1) {
                    break rest.split_whitespace().next().unwrap().to_owned();
                }
            }
        })
        .await
        .unwrap();
        let (http, cookie, csrf) = log_in_as(&base, "admin", "a long enough password").await;
        Self {
            proc,
            base,
            http,
            cookie,
            csrf,
        }
    }

    /// A dashboard action (POST with the session and CSRF token); returns the HTML it answers.
    pub(crate) async fn post(&self, path: &str) -> String {
        let r = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(&[("_csrf", self.csrf.as_str())])
            .send()
            .await
            .unwrap();
        r.text().await.unwrap()
    }

    /// SIGTERM, then waits for a clean exit.
    pub(crate) async fn stop(self) -> (Option<i32>, String) {
        self.proc.signal("-TERM");
        self.proc.wait(Duration::from_secs(60)).await
    }
}

/// Logs in through the login form as a first visitor does; returns a client, its session cookie
/// and the CSRF token of its pages.
pub(crate) async fn log_in_as(
    base: &str,
    name: &str,
    password: &str,
) -> (reqwest::Client, String, String) {
    let http = clientkit::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(format!("{base}/login")).send().await.unwrap();
    let (pre, _) = cookie_from(&page, "cb_prelogin").expect("pre-login cookie");
    let r = http
        .post(format!("{base}/login"))
        .header("cookie", format!("cb_prelogin={pre}"))
        .form(&[
            ("_prelogin", pre.as_str()),
            ("name", name),
            ("password", password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "login failed");
    let cookie = format!(
        "cb_session={}",
        cookie_from(&r, "cb_session").expect("session cookie").0
    );
    let csrf = page_csrf(&http, base, &cookie).await;
    (http, cookie, csrf)
}

async fn page_csrf(http: &reqwest::Client, base: &str, cookie: &str) -> String {
    let html = http
        .get(format!("{base}/customers"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    field(&html, "_csrf")
}

/// Creates the first admin through the one-time setup link, as a first visitor does; returns
/// a client, its session cookie and the CSRF token of its pages.
async fn log_in(base: &str, setup: &str) -> (reqwest::Client, String, String) {
    let http = clientkit::http_client()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = http.get(setup).send().await.unwrap();
    let (pre, _) = cookie_from(&page, "cb_prelogin").expect("pre-login cookie");
    let html = page.text().await.unwrap();
    let token = field(&html, "token");
    let r = http
        .post(format!("{base}/setup"))
        .header("cookie", format!("cb_prelogin={pre}"))
        .form(&[
            ("_prelogin", pre.as_str()),
            ("token", token.as_str()),
            ("name", "admin"),
            ("password", "a long enough password"),
            ("confirm", "a long enough password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "setup failed");
    let cookie = format!(
        "cb_session={}",
        cookie_from(&r, "cb_session").expect("session cookie").0
    );
    let html = http
        .get(format!("{base}/customers"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = field(&html, "_csrf");
    (http, cookie, csrf)
}

/// The service built in this test process (in the manner of zero2prod's `spawn_app`) on a prepared
/// world: the dashboard bound by the service itself to 127.0.0.1:0 (no port picked beforehand), the
/// scheduler running only `jobs` every `every`, and a logged-in dashboard session.
pub(crate) struct App {
    running: Option<Running>,
    pub base: String,
    pub http: reqwest::Client,
    pub cookie: String,
    pub csrf: String,
}

impl App {
    pub(crate) async fn spawn(world: &World, jobs: &[(SchedJob, Duration)]) -> Self {
        Self::spawn_with(world, jobs, false).await
    }

    /// [`App::spawn`], with `[usage] approval = "required"` when `approval_required`.
    pub(crate) async fn spawn_with(
        world: &World,
        jobs: &[(SchedJob, Duration)],
        approval_required: bool,
    ) -> Self {
        let mut scheduler = SchedulerOptions::new(service::holder_id());
        scheduler.intervals = jobs.iter().copied().collect();
        let opts = ServiceOptions {
            listen: "127.0.0.1:0".parse().unwrap(),
            metrics_listen: None,
            scheduler,
            secure_cookies: false,
            tls: None,
            behind_proxy: false,
            auth: service::auth::Policy::default(),
            approval_required,
        };
        let config = centralbridge::config::SyncConfig::default();
        let runner = EngineRunner {
            concurrency: config.concurrency as usize,
            guard: centralbridge::cmd::sync::guard(&config),
            approval_required,
        }
        .into_shared();
        let running = service::start(world.store.clone(), world.key.clone(), opts, runner)
            .await
            .expect("the service starts");
        let base = running.url();
        let setup = running
            .setup_url()
            .await
            .expect("a first start offers setup");
        let (http, cookie, csrf) = log_in(&base, &setup).await;
        App {
            running: Some(running),
            base,
            http,
            cookie,
            csrf,
        }
    }

    /// A dashboard action (POST with the session and CSRF token); returns the HTML it answers.
    pub(crate) async fn post(&self, path: &str) -> String {
        self.http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .form(&[("_csrf", self.csrf.as_str())])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// A dashboard page with the session; returns its HTML.
    pub(crate) async fn get(&self, path: &str) -> String {
        self.http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    }

    /// Stops the scheduler (a running job finishes) and the web server.
    pub(crate) async fn stop(mut self) {
        if let Some(r) = self.running.take() {
            r.shutdown().await;
        }
    }
}

/// The cookie `name` a response sets: its value, and the whole `Set-Cookie` header (for its
/// flags).
pub(crate) fn cookie_from(resp: &reqwest::Response, name: &str) -> Option<(String, String)> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| {
            let value = v
                .split(';')
                .next()
                .unwrap_or_default()
                .trim_start_matches(&format!("{name}="))
                .to_owned();
            (value, v.to_owned())
        })
}

/// The `value` of the form field `name` in `html`.
pub(crate) fn field(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    html.split(&marker)
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_default()
        .to_owned()
}

/// Reads a file if it exists (for messages in assertions).
pub(crate) fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

impl From<Child> for Proc {
    fn from(c: Child) -> Self {
        Proc::new(c)
    }
}

/// Each named `async fn(Target)` as two tests, `<name>::sqlite` and `<name>::postgres` (the latter
/// says plainly that it did not run without `CENTRALBRIDGE_TEST_PG_URL`).
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Target::sqlite()).await;
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(t) = $crate::support::Target::postgres().await {
                    super::$name(t).await;
                }
            }
        }
    )*};
}
pub(crate) use on_both_backends;
