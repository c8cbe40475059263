//! `centralbridge tickets settings`, `tickets list` and `sync tickets` as a user runs them, against
//! both emulators started in this test process on 127.0.0.1:0.

use std::path::Path;
use std::process::{Command, Output};

use sandbox::{Sandbox, SandboxOptions};

struct Env {
    dir: tempfile::TempDir,
}

struct Run(Output);

impl Run {
    fn code(&self) -> i32 {
        self.0.status.code().unwrap_or(-1)
    }
    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.0.stdout).into_owned()
    }
    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.0.stderr).into_owned()
    }
    #[track_caller]
    fn expect_code(&self, code: i32) -> &Self {
        assert_eq!(
            self.code(),
            code,
            "stdout:\n{}\nstderr:\n{}",
            self.stdout(),
            self.stderr()
        );
        self
    }
}

impl Env {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    async fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_centralbridge"));
        for (name, _) in std::env::vars() {
            if name.starts_with("CENTRALBRIDGE_") || name == "RUST_LOG" {
                cmd.env_remove(name);
            }
        }
        cmd.env("HOME", self.path())
            .env("XDG_CONFIG_HOME", self.path().join("config"))
            .env("XDG_DATA_HOME", self.path().join("data"))
            .env("COLUMNS", "200")
            .stdin(std::process::Stdio::null())
            .args(args);
        for (k, v) in envs {
            cmd.env(k, v);
        }
        Run(tokio::task::spawn_blocking(move || cmd.output().unwrap())
            .await
            .unwrap())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_sync_and_list_from_the_command_line() {
    let mut o = SandboxOptions::demo(5, 5);
    o.realtime_speed = None;
    o.alert_rate = 0.0;
    let sb = Sandbox::spawn(o).await.unwrap();
    let i = sb.info();
    let env = Env {
        dir: tempfile::tempdir().unwrap(),
    };

    // Before connecting: a usage error that names the command to run.
    let r = env.run(&["sync", "tickets", "--once"], &[]).await;
    r.expect_code(2);
    assert!(
        r.stderr().contains("centralbridge connect"),
        "{}",
        r.stderr()
    );

    env.run(
        &[
            "connect",
            "connectwise",
            "--site",
            &i.connectwise.site,
            "--allow-http",
            "--company-id",
            &i.connectwise.company_id,
            "--public-key",
            &i.connectwise.public_key,
            "--client-id",
            &i.connectwise.client_id,
        ],
        &[("CENTRALBRIDGE_CW_PRIVATE_KEY", &i.connectwise.private_key)],
    )
    .await
    .expect_code(0);
    env.run(
        &[
            "connect",
            "sophos",
            "--client-id",
            &i.sophos.client_id,
            "--token-url",
            &i.sophos.token_url,
            "--api-url",
            &i.sophos.global_url,
        ],
        &[(
            "CENTRALBRIDGE_CENTRAL_CLIENT_SECRET",
            &i.sophos.client_secret,
        )],
    )
    .await
    .expect_code(0);

    // Not set up yet: the sync says what to do.
    let r = env.run(&["sync", "tickets", "--once"], &[]).await;
    r.expect_code(2);
    assert!(
        r.stderr().contains("tickets settings set"),
        "{}",
        r.stderr()
    );

    // A typo lists what exists.
    let r = env
        .run(
            &["tickets", "settings", "set", "--board", "Securty Alerts"],
            &[],
        )
        .await;
    r.expect_code(2);
    assert!(r.stderr().contains("\"Security Alerts\""), "{}", r.stderr());

    let r = env
        .run(
            &[
                "--json",
                "tickets",
                "settings",
                "set",
                "--board",
                "Security Alerts",
                "--auto",
                "--priority",
                "low=Priority 4 - Low",
            ],
            &[],
        )
        .await;
    r.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["settings"]["board"]["name"], "Security Alerts");
    assert_eq!(v["settings"]["new_status"]["name"], "New");
    assert_eq!(
        v["settings"]["priorities"]["low"]["name"],
        "Priority 4 - Low"
    );

    let r = env
        .run(&["tickets", "settings", "show", "--choices"], &[])
        .await;
    r.expect_code(0);
    assert!(
        r.stdout().contains("Completed") && r.stdout().contains("[closed]"),
        "{}",
        r.stdout()
    );

    let r = env
        .run(&["--json", "sync", "tickets", "--once", "--dry-run"], &[])
        .await;
    r.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["dry_run"], true);

    let r = env.run(&["sync", "tickets", "--once"], &[]).await;
    r.expect_code(0);
    assert!(
        r.stdout().contains("Ticket sync: 0 created"),
        "{}",
        r.stdout()
    );

    let r = env.run(&["tickets", "list"], &[]).await;
    r.expect_code(0);
    assert!(
        r.stdout().contains("No alert has made a ticket yet"),
        "{}",
        r.stdout()
    );
    sb.shutdown().await;
}
