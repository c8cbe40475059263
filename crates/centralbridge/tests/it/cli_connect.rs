//! `centralbridge connect` and `doctor` as a user runs them, against both emulators started in this
//! test process on 127.0.0.1:0.

use sandbox::connectwise::{Access, Level, RoleFunction};
use sandbox::{Sandbox, SandboxOptions};
use secrecy::ExposeSecret as _;
use testkit::{Cli, Ran};

async fn sandbox() -> Sandbox {
    let mut o = SandboxOptions::demo(5, 5);
    o.realtime_speed = None;
    o.alert_rate = 0.0;
    Sandbox::spawn(o).await.unwrap()
}

struct Creds {
    site: String,
    company: String,
    public: String,
    private: String,
    client_id: String,
    so_id: String,
    so_secret: String,
    token_url: String,
    api_url: String,
}

fn creds(sb: &Sandbox) -> Creds {
    let i = sb.info();
    Creds {
        site: i.connectwise.site,
        company: i.connectwise.company_id,
        public: i.connectwise.public_key,
        private: i.connectwise.private_key,
        client_id: i.connectwise.client_id,
        so_id: i.sophos.client_id,
        so_secret: i.sophos.client_secret,
        token_url: i.sophos.token_url,
        api_url: i.sophos.global_url,
    }
}

async fn connect_cw(env: &Cli, c: &Creds, private: &str) -> Ran {
    env.run_env(
        &[
            "--json",
            "connect",
            "connectwise",
            "--site",
            &c.site,
            "--allow-http",
            "--company-id",
            &c.company,
            "--public-key",
            &c.public,
            "--client-id",
            &c.client_id,
        ],
        &[("CENTRALBRIDGE_CW_PRIVATE_KEY", private)],
    )
    .await
}

async fn connect_sophos(env: &Cli, c: &Creds, secret: &str) -> Ran {
    env.run_env(
        &[
            "connect",
            "sophos",
            "--client-id",
            &c.so_id,
            "--token-url",
            &c.token_url,
            "--api-url",
            &c.api_url,
        ],
        &[("CENTRALBRIDGE_CENTRAL_CLIENT_SECRET", secret)],
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_then_doctor_passes_and_a_missing_level_fails_with_its_fix() {
    let sb = sandbox().await;
    let c = creds(&sb);
    let env = Cli::new(env!("CARGO_BIN_EXE_centralbridge"));

    let run = connect_cw(&env, &c, &c.private).await;
    run.expect_code(0);
    let out = run.stdout();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["saved"], true);
    assert_eq!(v["codebase"], "v2025_1/");
    assert!(!out.contains(&c.private), "secret in output: {out}");

    let run = connect_sophos(&env, &c, &c.so_secret).await;
    run.expect_code(0);
    assert!(run.stdout().contains(&sb.sophos.partner_id()));
    assert!(!run.stdout().contains(&c.so_secret));

    let run = env.run_env(&["doctor"], &[]).await;
    run.expect_code(0);
    let out = run.stdout();
    assert!(out.contains("Finance > Agreements: Add Level"), "{out}");
    assert!(out.contains("All required checks passed."), "{out}");
    assert!(out.contains("✓"));

    let run = env.run_env(&["--json", "doctor"], &[]).await;
    run.expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(v["ok"], true);
    assert!(!run.stdout().contains(&c.private) && !run.stdout().contains(&c.so_secret));

    // Take one level away: exit 1, that row fails with ConnectWise's own words.
    let member = sb.connectwise.credentials().member_id;
    sb.connectwise
        .set_role_level(member, RoleFunction::Agreements, Level::Add, Access::None);
    let run = env.run_env(&["doctor"], &[]).await;
    run.expect_code(1);
    // The table wraps long cells: compare without the table's line breaks and borders.
    let flat: String = run
        .stdout()
        .lines()
        .map(|l| {
            l.split('┆')
                .nth(2)
                .unwrap_or("")
                .trim_end_matches('│')
                .trim()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        flat.contains(
            "Fix: System > Security Roles > (the API member's role) > Finance > Agreements: set Add Level = All"
        ),
        "{}",
        run.stdout()
    );
    assert!(run.stdout().contains("1 required check(s) failed"));
    let run = env.run_env(&["--json", "doctor"], &[]).await;
    run.expect_code(1);
    let v: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    let failed: Vec<&str> = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["status"] == "fail" && c["required"] == true)
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(failed, vec!["cw.role.agreements.add"]);
    let row = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == "cw.role.agreements.add")
        .unwrap();
    assert_eq!(
        row["fix"],
        "System > Security Roles > (the API member's role) > Finance > Agreements: set Add Level = All"
    );
    sb.connectwise
        .set_role_level(member, RoleFunction::Agreements, Level::Add, Access::All);
    env.run_env(&["doctor"], &[]).await.expect_code(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_values_are_named_and_nothing_is_half_saved() {
    let sb = sandbox().await;
    let c = creds(&sb);
    let env = Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
    connect_cw(&env, &c, &c.private).await.expect_code(0);
    connect_sophos(&env, &c, &c.so_secret).await.expect_code(0);

    // Wrong keys.
    let run = connect_cw(&env, &c, "WrongPrivate0001").await;
    run.expect_code(1);
    assert!(
        run.stderr().contains("public/private key pair was refused"),
        "{}",
        run.stderr()
    );
    assert!(!run.stderr().contains("WrongPrivate0001"));

    // Unknown company id.
    let run = env
        .run_env(
            &[
                "connect",
                "connectwise",
                "--site",
                &c.site,
                "--allow-http",
                "--company-id",
                "nosuchco",
                "--public-key",
                &c.public,
                "--client-id",
                &c.client_id,
            ],
            &[("CENTRALBRIDGE_CW_PRIVATE_KEY", &c.private)],
        )
        .await;
    run.expect_code(1);
    assert!(
        run.stderr()
            .contains("company id nosuchco is not known on this site"),
        "{}",
        run.stderr()
    );

    // A site that does not answer.
    let run = env
        .run_env(
            &[
                "connect",
                "connectwise",
                "--site",
                "http://127.0.0.1:9",
                "--allow-http",
                "--company-id",
                &c.company,
                "--public-key",
                &c.public,
                "--client-id",
                &c.client_id,
            ],
            &[("CENTRALBRIDGE_CW_PRIVATE_KEY", &c.private)],
        )
        .await;
    run.expect_code(1);
    assert!(
        run.stderr().contains("http://127.0.0.1:9 does not answer"),
        "{}",
        run.stderr()
    );

    // clientId missing (not a terminal: no prompt).
    let run = env
        .run_env(
            &[
                "connect",
                "connectwise",
                "--site",
                &c.site,
                "--allow-http",
                "--company-id",
                &c.company,
                "--public-key",
                &c.public,
            ],
            &[("CENTRALBRIDGE_CW_PRIVATE_KEY", &c.private)],
        )
        .await;
    run.expect_code(2);
    assert!(run.stderr().contains("--client-id"), "{}", run.stderr());
    assert!(
        run.stderr().contains("developer.connectwise.com"),
        "{}",
        run.stderr()
    );

    // A private key equal to the public key.
    let run = connect_cw(&env, &c, &c.public).await;
    run.expect_code(2);
    assert!(
        run.stderr().contains("same as the public key"),
        "{}",
        run.stderr()
    );

    // A revoked Sophos secret.
    let run = connect_sophos(&env, &c, "revoked-secret-0000").await;
    run.expect_code(1);
    assert!(
        run.stderr().contains("Sophos client secret was refused"),
        "{}",
        run.stderr()
    );

    // The first connections are still there and work.
    env.run_env(&["doctor"], &[]).await.expect_code(0);

    // Once the credential is revoked at Sophos, the doctor names it.
    sb.sophos.revoke_secret();
    let run = env.run_env(&["doctor"], &[]).await;
    run.expect_code(1);
    assert!(
        run.stdout()
            .contains("the Sophos client secret was refused"),
        "{}",
        run.stdout()
    );
    let _ = sb
        .connectwise
        .credentials()
        .private_key
        .expose_secret()
        .len();
}
