//! `centralbridge tickets settings`, `tickets list` and `sync tickets` as a user runs them, against
//! both emulators started in this test process on 127.0.0.1:0.

use sandbox::{Sandbox, SandboxOptions};
use testkit::Cli;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_sync_and_list_from_the_command_line() {
    let mut o = SandboxOptions::demo(5, 5);
    o.realtime_speed = None;
    o.alert_rate = 0.0;
    let sb = Sandbox::spawn(o).await.unwrap();
    let i = sb.info();
    let env = Cli::new(env!("CARGO_BIN_EXE_centralbridge"));

    // Before connecting: a usage error that names the command to run.
    let r = env.run_env(&["sync", "tickets", "--once"], &[]).await;
    r.expect_code(2);
    assert!(
        r.stderr().contains("centralbridge connect"),
        "{}",
        r.stderr()
    );

    env.run_env(
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
    env.run_env(
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
    let r = env.run_env(&["sync", "tickets", "--once"], &[]).await;
    r.expect_code(2);
    assert!(
        r.stderr().contains("tickets settings set"),
        "{}",
        r.stderr()
    );

    // A typo lists what exists.
    let r = env
        .run_env(
            &["tickets", "settings", "set", "--board", "Securty Alerts"],
            &[],
        )
        .await;
    r.expect_code(2);
    assert!(r.stderr().contains("\"Security Alerts\""), "{}", r.stderr());

    let r = env
        .run_env(
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
        .run_env(&["tickets", "settings", "show", "--choices"], &[])
        .await;
    r.expect_code(0);
    assert!(
        r.stdout().contains("Completed") && r.stdout().contains("[closed]"),
        "{}",
        r.stdout()
    );

    let r = env
        .run_env(&["--json", "sync", "tickets", "--once", "--dry-run"], &[])
        .await;
    r.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&r.stdout()).unwrap();
    assert_eq!(v["dry_run"], true);

    let r = env.run_env(&["sync", "tickets", "--once"], &[]).await;
    r.expect_code(0);
    assert!(
        r.stdout().contains("Ticket sync: 0 created"),
        "{}",
        r.stdout()
    );

    let r = env.run_env(&["tickets", "list"], &[]).await;
    r.expect_code(0);
    assert!(
        r.stdout().contains("No alert has made a ticket yet"),
        "{}",
        r.stdout()
    );
    sb.shutdown().await;
}
