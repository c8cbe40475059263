//! `centralbridge refresh` and `centralbridge map ...` as a user runs them, against both emulators.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use engine::secrets::{ExposeSecret as _, MASTER_KEY_ENV, MasterKey};
use engine::store::{AuditFilter, CoreStore as _, MappingStore as _, Store};
use sandbox::connectwise::{CwConfig as EmuCwConfig, CwEmulator};
use sandbox::sophos::{SophosConfig as EmuSophosConfig, SophosEmulator};
use sandbox::world::{World, WorldConfig};
use serde_json::Value;
use testkit::{Cli, Ran};

/// The binary on this test's store (its `--database` and key set), and where that store is.
struct Env {
    cli: Cli,
    db: PathBuf,
    key: String,
}

impl Env {
    fn new(key: &MasterKey) -> Self {
        let cli = Cli::new(env!("CARGO_BIN_EXE_centralbridge"));
        let db = cli.file("cb.db");
        let key = key.to_base64().expose_secret().to_owned();
        let cli = cli.env(MASTER_KEY_ENV, &key).database(&db);
        Env { cli, db, key }
    }

    async fn run(&self, args: &[&str]) -> Ran {
        self.cli.run(args).await
    }

    fn path(&self, name: &str) -> PathBuf {
        self.cli.file(name)
    }
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

#[track_caller]
fn code(o: &Output, want: i32) {
    assert_eq!(o.status.code(), Some(want), "{}", text(o));
}

fn json(o: &Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

async fn setup(world: Arc<World>) -> (Env, CwEmulator, SophosEmulator) {
    let cwe = CwEmulator::spawn(EmuCwConfig::new(world.clone()))
        .await
        .unwrap();
    let mut scfg = EmuSophosConfig::new(world);
    scfg.alert_rate = 0.0;
    let se = SophosEmulator::spawn(scfg).await.unwrap();
    let key = MasterKey::generate().unwrap();
    let env = Env::new(&key);
    let store = Store::open(env.db.to_str().unwrap(), key.clone())
        .await
        .unwrap();
    testkit::connect::save_connections(&store, &cwe, &se).await;
    store.close().await;
    (env, cwe, se)
}

async fn open(env: &Env) -> Store {
    Store::open(
        env.db.to_str().unwrap(),
        MasterKey::from_base64(&env.key).unwrap(),
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_suggest_accept_set_list_export_import() {
    let world = Arc::new(World::generate(WorldConfig::demo(7, (2026, 11))));
    let n_tenants = world.tenants().count();
    let (env, _cwe, _se) = setup(world.clone()).await;

    // Refresh.
    let o = env.run(&["refresh"]).await;
    code(&o, 0);
    assert!(text(&o).contains("Sophos tenants"), "{}", text(&o));
    let o = env.run(&["--json", "refresh"]).await;
    code(&o, 0);
    let j = json(&o);
    assert_eq!(j["tenants"]["seen"], n_tenants);
    assert_eq!(j["tenants"]["new"], 0, "second refresh finds nothing new");

    // Suggestions: one per tenant, nothing mapped by looking.
    let o = env.run(&["--json", "map", "suggest"]).await;
    code(&o, 0);
    assert_eq!(json(&o).as_array().unwrap().len(), n_tenants);
    let o = env.run(&["map", "suggest"]).await;
    code(&o, 0);
    assert!(text(&o).contains("not used until confirmed"));

    // Accept, dry run first.
    let o = env
        .run(&[
            "map",
            "accept",
            "--min-score",
            "1.0",
            "--ticket-sync",
            "--dry-run",
        ])
        .await;
    code(&o, 0);
    assert!(text(&o).contains("would map"), "{}", text(&o));
    let o = env.run(&["--json", "map", "list", "--mapped"]).await;
    assert!(
        json(&o).as_array().unwrap().is_empty(),
        "dry run wrote nothing"
    );
    let o = env
        .run(&[
            "map",
            "--actor",
            "cli-tester",
            "accept",
            "--min-score",
            "1.0",
            "--ticket-sync",
        ])
        .await;
    code(&o, 0);
    let o = env.run(&["--json", "map", "list", "--mapped"]).await;
    code(&o, 0);
    let mapped = json(&o);
    let mapped = mapped.as_array().unwrap();
    assert!(!mapped.is_empty());
    assert!(
        mapped
            .iter()
            .all(|r| r["mapping"]["ticket_sync"] == true && r["mapping"]["usage_sync"] == false)
    );

    // A company already mapped cannot take a second tenant: refused, naming the holder (exit 2).
    let holder = &mapped[0];
    let o = env.run(&["--json", "map", "list", "--unmapped"]).await;
    let unmapped = json(&o);
    let other = unmapped
        .as_array()
        .unwrap()
        .first()
        .expect("an unmapped tenant");
    let company = holder["company"]["id"].as_i64().unwrap().to_string();
    let o = env
        .run(&[
            "map",
            "set",
            "--tenant",
            other["tenant"]["id"].as_str().unwrap(),
            "--company",
            &company,
        ])
        .await;
    code(&o, 2);
    assert!(
        text(&o).contains(holder["tenant"]["name"].as_str().unwrap()),
        "{}",
        text(&o)
    );

    // Switches on a mapped tenant; usage sync without an agreement is refused.
    let holder_id = holder["tenant"]["id"].as_str().unwrap();
    if holder["mapping"]["agreement_id"].is_null() {
        let o = env
            .run(&["map", "set", "--tenant", holder_id, "--usage-sync", "on"])
            .await;
        code(&o, 2);
        assert!(text(&o).contains("needs an agreement"), "{}", text(&o));
    }
    let o = env
        .run(&["map", "set", "--tenant", holder_id, "--ticket-sync", "off"])
        .await;
    code(&o, 0);

    // Export, import unchanged, import a bad file (nothing applied, every bad row listed).
    let csv = env.path("mappings.csv");
    let o = env
        .run(&["map", "export", "--output", csv.to_str().unwrap()])
        .await;
    code(&o, 0);
    let o = env
        .run(&["--json", "map", "import", csv.to_str().unwrap()])
        .await;
    code(&o, 0);
    assert_eq!(json(&o)["changes"].as_array().unwrap().len(), 0);
    let bad = bad_file(
        &env.path("bad.csv"),
        &[holder_id, other["tenant"]["id"].as_str().unwrap()],
    );
    let before = env.run(&["--json", "map", "list", "--mapped"]).await;
    let o = env.run(&["map", "import", bad.to_str().unwrap()]).await;
    code(&o, 2);
    let t = text(&o);
    assert!(
        t.contains("line 2") && t.contains("line 3") && t.contains("Nothing was changed"),
        "{t}"
    );
    let after = env.run(&["--json", "map", "list", "--mapped"]).await;
    assert_eq!(json(&before), json(&after));

    // A file without a switch column would switch billing or tickets off for every row: refused,
    // the mappings byte-identical; with --keep-missing the current values stay.
    for column in ["usage_sync", "ticket_sync", "agreement_id"] {
        let partial = without_column(&csv, column, &env.path(&format!("no-{column}.csv")));
        let o = env.run(&["map", "import", partial.to_str().unwrap()]).await;
        code(&o, 2);
        let t = text(&o);
        assert!(
            t.contains(&format!("no `{column}` column"))
                && t.contains("Fix:")
                && t.contains("--keep-missing"),
            "{t}"
        );
        let now = env.run(&["--json", "map", "list", "--mapped"]).await;
        assert_eq!(before.stdout, now.stdout, "{column}: the mappings changed");
        let o = env
            .run(&[
                "--json",
                "map",
                "import",
                "--keep-missing",
                partial.to_str().unwrap(),
            ])
            .await;
        code(&o, 0);
        let j = json(&o);
        assert_eq!(j["changes"].as_array().unwrap().len(), 0, "{j}");
        assert_eq!(j["kept_columns"], serde_json::json!([column]));
        let now = env.run(&["--json", "map", "list", "--mapped"]).await;
        assert_eq!(
            before.stdout, now.stdout,
            "{column}: --keep-missing changed a mapping"
        );
    }
    // Scores are numbers from 0 to 1: NaN and 2 are refused before anything runs.
    for bad in ["NaN", "2", "high", "-0.1"] {
        let o = env
            .run(&["map", "accept", &format!("--min-score={bad}")])
            .await;
        code(&o, 2);
        assert!(
            text(&o).contains("is not a score") && text(&o).contains("Fix:"),
            "{}",
            text(&o)
        );
    }
    let now = env.run(&["--json", "map", "list", "--mapped"]).await;
    assert_eq!(before.stdout, now.stdout);

    // Clear, then the audit log has who did what.
    let o = env
        .run(&[
            "map",
            "--actor",
            "cli-tester",
            "clear",
            "--tenant",
            holder_id,
        ])
        .await;
    code(&o, 0);
    let store = open(&env).await;
    assert!(store.get_mapping(holder_id).await.unwrap().is_none());
    let audit = store
        .list_audit(&AuditFilter {
            subject: Some(format!("tenant:{holder_id}")),
            ..Default::default()
        })
        .await
        .unwrap();
    let actions: Vec<(&str, &str)> = audit
        .iter()
        .map(|a| (a.actor.as_str(), a.action.as_str()))
        .collect();
    assert_eq!(actions[0], ("cli-tester", "mapping.clear"));
    assert_eq!(actions.last().unwrap(), &("cli-tester", "mapping.accept"));
    store.close().await;

    // Listing with warnings filter works and exits 0.
    let o = env.run(&["map", "list", "--warnings"]).await;
    code(&o, 0);
}

/// `src` without one column.
fn without_column(src: &Path, column: &str, dst: &Path) -> PathBuf {
    let mut r = csv::Reader::from_path(src).unwrap();
    let headers = r.headers().unwrap().clone();
    let skip = headers
        .iter()
        .position(|h| h == column)
        .expect("the column");
    let mut w = csv::Writer::from_path(dst).unwrap();
    let keep = |rec: &csv::StringRecord| -> Vec<String> {
        rec.iter()
            .enumerate()
            .filter(|(i, _)| *i != skip)
            .map(|(_, v)| v.to_owned())
            .collect()
    };
    w.write_record(keep(&headers)).unwrap();
    for rec in r.records() {
        w.write_record(keep(&rec.unwrap())).unwrap();
    }
    w.flush().unwrap();
    dst.to_path_buf()
}

/// A file whose two rows are broken: an unknown company and a bad switch value.
fn bad_file(dst: &Path, tenants: &[&str]) -> PathBuf {
    let text = format!(
        "tenant_id,company_id,agreement_id,usage_sync,ticket_sync\n{},999999,,off,off\n{},,,off,maybe\n",
        tenants[0], tenants[1]
    );
    std::fs::write(dst, text).unwrap();
    dst.to_path_buf()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_without_connections_is_a_usage_error() {
    let env = Env::new(&MasterKey::generate().unwrap());
    let o = env.run(&["refresh"]).await;
    code(&o, 2);
    assert!(text(&o).contains("centralbridge connect"), "{}", text(&o));
}
