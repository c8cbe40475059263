//! The binary's foundation as a user meets it: help, version, exit codes, config errors, store
//! errors, and secrets that never show up in any output.

use std::path::{Path, PathBuf};

use engine::secrets::{MasterKey, SecretString};
use engine::store::{ConnectionKind, CoreStore as _, Store};
use serde_json::json;
use testkit::{Cli, Ran};

const CW_PRIVATE_KEY: &str = "cw-PRIVATE-7d1e55a0c3";
const SOPHOS_SECRET: &str = "sophos-SECRET-b2c94f18e6";

/// Where the binary keeps its data by default, inside the private HOME.
fn data_dir(env: &Cli) -> PathBuf {
    env.path().join("data/centralbridge")
}

/// A SQLite database holding both connections, encrypted under `key`.
fn database_with_secrets(path: &Path, key: &MasterKey) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = Store::open(path.to_str().unwrap(), key.clone())
            .await
            .unwrap();
        store
            .save_connection(
                ConnectionKind::Connectwise,
                &json!({"site": "api-na.myconnectwise.net", "company_id": "acme"}),
                &SecretString::from(CW_PRIVATE_KEY),
            )
            .await
            .unwrap();
        store
            .save_connection(
                ConnectionKind::Sophos,
                &json!({"client_id": "sophos-client"}),
                &SecretString::from(SOPHOS_SECRET),
            )
            .await
            .unwrap();
        store.close().await;
    });
}

fn key_b64(key: &MasterKey) -> String {
    use engine::secrets::ExposeSecret as _;
    key.to_base64().expose_secret().to_owned()
}

#[test]
fn help_lists_the_commands_and_exit_codes() {
    let env = Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
    let run = env.run_blocking(&["--help"]);
    run.expect_code(0);
    let out = run.stdout();
    for needle in [
        "config",
        "store",
        "--json",
        "--log-format",
        "--database",
        "Exit codes",
    ] {
        assert!(out.contains(needle), "--help lacks {needle}:\n{out}");
    }
}

#[test]
fn version_prints_the_crate_version() {
    let run = Cli::new(env!("CARGO_BIN_EXE_centralbridge")).run_blocking(&["--version"]);
    run.expect_code(0);
    assert_eq!(
        run.stdout().trim(),
        format!("centralbridge {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn usage_errors_exit_2() {
    let env = Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
    env.run_blocking(&[]).expect_code(2);
    env.run_blocking(&["no-such-command"]).expect_code(2);
    env.run_blocking(&["--log-format", "xml", "config"])
        .expect_code(2);
}

#[test]
fn bad_config_names_the_key_exits_2_and_writes_nothing() {
    let env = Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
    let db = env.path().join("db/centralbridge.db");
    let cases = [
        ("[sophos]\nclientid = \"abc\"\n", "sophos.clientid"),
        ("[sync]\nconcurrency = \"many\"\n", "sync.concurrency"),
        ("[service]\nlisten = \"everywhere\"\n", "service.listen"),
        ("[sophos\nclient_id = 1\n", "not valid TOML"),
        (
            "[connectwise]\nprivate_key = \"pk-in-file-123\"\n",
            "connectwise.private_key",
        ),
    ];
    for (text, needle) in cases {
        let config = env.write("config.toml", text);
        let run = env.run_blocking(&[
            "--config",
            config.to_str().unwrap(),
            "--database",
            db.to_str().unwrap(),
            "store",
            "init",
        ]);
        run.expect_code(2);
        let err = run.stderr();
        assert!(
            err.contains(needle) && err.contains("Fix:"),
            "{needle}: {err}"
        );
        assert!(!err.contains("pk-in-file-123"), "secret echoed: {err}");
        assert!(
            !db.exists() && !db.parent().unwrap().exists(),
            "wrote a database"
        );
        assert!(!data_dir(&env).exists(), "wrote a key file");
    }

    // A config named explicitly must exist.
    let missing = env.path().join("nope.toml");
    let run = env.run_blocking(&["--config", missing.to_str().unwrap(), "config"]);
    run.expect_code(2);
    assert!(run.stderr().contains("does not exist"), "{}", run.stderr());

    // Environment overrides are checked the same way, and named.
    let run = env
        .command(&[])
        .env("CENTRALBRIDGE_SYNC_ALERTS_INTERVAL", "often")
        .args(["config"])
        .output()
        .unwrap();
    let run = Ran(run);
    run.expect_code(2);
    assert!(
        run.stderr().contains("CENTRALBRIDGE_SYNC_ALERTS_INTERVAL"),
        "{}",
        run.stderr()
    );
}

#[test]
fn unusable_databases_exit_2_with_the_fix() {
    let env = Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
    // A file where a directory must be: unwritable even for root.
    let blocker = env.write("blocker", "x");
    let db = blocker.join("centralbridge.db");
    let run = env.run_blocking(&["--database", db.to_str().unwrap(), "store", "init"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains(db.to_str().unwrap()) && run.stderr().contains("Fix:"),
        "{}",
        run.stderr()
    );
    assert!(
        !data_dir(&env).exists(),
        "key file written although the store failed"
    );

    let run = env.run_blocking(&[
        "--database",
        "postgres://cb:pg-pass-55aa@127.0.0.1:1/cb",
        "store",
        "init",
    ]);
    run.expect_code(2);
    assert!(run.stderr().contains("did not answer"), "{}", run.stderr());
    assert!(
        !run.all().contains("pg-pass-55aa"),
        "password shown: {}",
        run.all()
    );
    assert!(
        !data_dir(&env).exists(),
        "key file written although the store failed"
    );

    let run = env.run_blocking(&[
        "--database",
        &env.path().join("absent.db").to_string_lossy(),
        "store",
        "check",
    ]);
    run.expect_code(2);
    assert!(run.stderr().contains("store init"), "{}", run.stderr());
}

#[test]
fn wrong_master_key_exits_2_and_changes_nothing() {
    let env = Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
    let db = env.path().join("cb.db");
    let right = MasterKey::generate().unwrap();
    database_with_secrets(&db, &right);
    let before = std::fs::read(&db).unwrap();
    let db_arg = db.to_str().unwrap();

    let wrong = MasterKey::generate().unwrap();
    let run = Ran(env
        .command(&[])
        .env("CENTRALBRIDGE_MASTER_KEY", key_b64(&wrong))
        .args(["--database", db_arg, "store", "check"])
        .output()
        .unwrap());
    run.expect_code(2);
    assert!(
        run.stderr().contains("master key does not match"),
        "{}",
        run.stderr()
    );
    assert!(run.stderr().contains("Fix:"));

    // No key at all: a new key would be generated, does not match, and must not be saved.
    let run = env.run_blocking(&["--database", db_arg, "store", "check"]);
    run.expect_code(2);
    assert!(
        run.stderr().contains("master key does not match"),
        "{}",
        run.stderr()
    );
    assert!(
        !data_dir(&env).join("master.key").exists(),
        "saved a useless key file"
    );
    assert_eq!(std::fs::read(&db).unwrap(), before, "database changed");

    // A malformed key is named.
    let run = Ran(env
        .command(&[])
        .env("CENTRALBRIDGE_MASTER_KEY", "short")
        .args(["--database", db_arg, "store", "check"])
        .output()
        .unwrap());
    run.expect_code(2);
    assert!(
        run.stderr().contains("CENTRALBRIDGE_MASTER_KEY"),
        "{}",
        run.stderr()
    );

    // The right key works.
    Ran(env
        .command(&[])
        .env("CENTRALBRIDGE_MASTER_KEY", key_b64(&right))
        .args(["--database", db_arg, "store", "check"])
        .output()
        .unwrap())
    .expect_code(0);
}

#[test]
fn secrets_never_appear_in_output_logs_or_json() {
    let env = Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
    let db = env.path().join("cb.db");
    let key = MasterKey::generate().unwrap();
    database_with_secrets(&db, &key);
    let master = key_b64(&key);
    let pg_password = "pg-pass-93ff";

    let mut runs = Vec::new();
    for args in [
        vec!["-vvv", "--log-format", "json", "--json", "store", "check"],
        vec!["-vvv", "store", "check"],
        vec!["--json", "config"],
        vec!["config"],
    ] {
        let mut cmd = env.command(&[]);
        cmd.env("CENTRALBRIDGE_MASTER_KEY", &master);
        if args.contains(&"config") {
            cmd.env(
                "CENTRALBRIDGE_DATABASE_URL",
                format!("postgres://cb:{pg_password}@db.internal/cb"),
            );
        } else {
            cmd.args(["--database", db.to_str().unwrap()]);
        }
        let run = Ran(cmd.args(&args).output().unwrap());
        run.expect_code(0);
        runs.push((args, run));
    }
    for (args, run) in &runs {
        let all = run.all();
        for secret in [CW_PRIVATE_KEY, SOPHOS_SECRET, master.as_str(), pg_password] {
            assert!(!all.contains(secret), "{args:?} printed a secret:\n{all}");
        }
    }
    // The checks above looked at real output: the JSON says the secrets decrypt, logs were on.
    let (_, check) = &runs[0];
    let json: serde_json::Value = serde_json::from_str(&check.stdout()).unwrap();
    assert_eq!(json["connections"][0]["kind"], "connectwise");
    assert_eq!(json["connections"][0]["secret"], "decrypts");
    assert_eq!(
        json["connections"][1]["settings"]["client_id"],
        "sophos-client"
    );
    assert!(
        check.stderr().contains("\"level\""),
        "no JSON log lines: {}",
        check.stderr()
    );
    let (_, config) = &runs[2];
    let json: serde_json::Value = serde_json::from_str(&config.stdout()).unwrap();
    assert_eq!(json["database"], "postgres://cb:***@db.internal/cb");
}

#[test]
fn first_use_creates_database_and_private_key_file() {
    let env = Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
    let run = env.run_blocking(&["--json", "store", "init"]);
    run.expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(json["backend"], "sqlite");
    let key_file = data_dir(&env).join("master.key");
    assert!(data_dir(&env).join("centralbridge.db").exists());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let key = std::fs::read(&key_file).unwrap();
    env.run_blocking(&["store", "check"]).expect_code(0);
    assert_eq!(std::fs::read(&key_file).unwrap(), key, "key file replaced");

    // Config from env shows up in the effective config.
    let run = Ran(env
        .command(&[])
        .env("CENTRALBRIDGE_SYNC_CONCURRENCY", "7")
        .args(["--json", "config"])
        .output()
        .unwrap());
    run.expect_code(0);
    let json: serde_json::Value = serde_json::from_str(&run.stdout()).unwrap();
    assert_eq!(json["config"]["sync"]["concurrency"], 7);
    assert_eq!(
        json["env_overrides"],
        json!(["CENTRALBRIDGE_SYNC_CONCURRENCY"])
    );
    let run = env.run_blocking(&["config", "path"]);
    run.expect_code(0);
    assert_eq!(
        run.stdout().trim(),
        env.path()
            .join("config/centralbridge/config.toml")
            .to_string_lossy()
    );
}
