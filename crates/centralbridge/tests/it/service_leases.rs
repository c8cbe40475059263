//! Two `centralbridge serve` processes on one store share the scheduled jobs without ever running one
//! job twice at once: proven from the `sync_runs` table (no two runs of a job overlap in time), with
//! both processes doing some of the work, and both stopping cleanly on SIGTERM (no run left
//! "running", no lease left behind).
//!
//! PostgreSQL (the supported multi-process setup) runs when `CENTRALBRIDGE_TEST_PG_URL` is set
//! (`.ci/run` sets it); otherwise it says it did not run (and fails with `CI=true`). The same test
//! runs on one SQLite file everywhere.

use crate::support::{self, Proc};

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use engine::secrets::MasterKey;
use engine::store::{CoreStore as _, RunOutcome, Store};
use sandbox::{Sandbox, SandboxOptions};
use secrecy::ExposeSecret as _;
use testkit::Database;

fn serve(target: &str, key: &MasterKey, config: &Path) -> Proc {
    Proc::new(
        Command::new(env!("CARGO_BIN_EXE_centralbridge"))
            .args(["serve", "--listen", "127.0.0.1:0", "--database", target])
            .args([
                "--refresh-every",
                "1s",
                "--usage-every",
                "1s",
                "--tickets-every",
                "1s",
            ])
            .args(["--lease", "3s", "--grace", "10s", "-v"])
            .env("CENTRALBRIDGE_CONFIG", config)
            .env("CENTRALBRIDGE_MASTER_KEY", key.to_base64().expose_secret())
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start centralbridge serve"),
    )
}

/// SIGTERM, then a clean exit within a minute; whether it succeeded, and what it logged.
async fn stop(p: Proc) -> (bool, String) {
    p.signal("-TERM");
    let (code, log) = p.wait(Duration::from_secs(60)).await;
    (code == Some(0), log)
}

async fn two_processes(target: String) {
    let sb = Sandbox::spawn(SandboxOptions::demo(3, 10)).await.unwrap();
    let key = MasterKey::generate().unwrap();
    let store = Store::open(&target, key.clone()).await.unwrap();
    support::prepare(&store, &sb).await;
    let before = store.list_sync_runs(None, 10_000).await.unwrap().len();

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "").unwrap();
    let a = serve(&target, &key, &config);
    let b = serve(&target, &key, &config);
    tokio::time::sleep(Duration::from_secs(15)).await;
    let (a_ok, a_log) = stop(a).await;
    let (b_ok, b_log) = stop(b).await;
    assert!(a_ok, "first serve failed:\n{a_log}");
    assert!(b_ok, "second serve failed:\n{b_log}");

    let runs = store.list_sync_runs(None, 10_000).await.unwrap();
    assert!(
        runs.len() >= before + 6,
        "the two processes ran too little: {} runs\n{a_log}\n{b_log}",
        runs.len() - before
    );
    for job in ["refresh", "usage", "tickets"] {
        let mut of_job: Vec<_> = runs.iter().filter(|r| r.job == job).collect();
        assert!(of_job.len() >= 2, "{job} ran {} times", of_job.len());
        of_job.sort_by_key(|r| (r.started_at, r.id));
        for r in &of_job {
            assert_ne!(
                r.outcome,
                RunOutcome::Running,
                "a {job} run was left running: {r:?}"
            );
        }
        for pair in of_job.windows(2) {
            let (prev, next) = (pair[0], pair[1]);
            let prev_end = prev.finished_at.expect("finished");
            assert!(
                prev_end <= next.started_at,
                "two {job} runs overlap: {prev:?} and {next:?}"
            );
        }
        assert!(
            store
                .lease_holder(job, jiff::Timestamp::now())
                .await
                .unwrap()
                .is_none(),
            "the {job} lease was not released"
        );
    }
    // Both processes took part (the lease hands each job to whoever is free).
    let started = |log: &str| log.matches("run started").count();
    assert!(
        started(&a_log) > 0 && started(&b_log) > 0,
        "one process did nothing:\n{a_log}\n{b_log}"
    );
    store.close().await;
    sb.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_on_postgres_never_run_a_job_twice_at_once() {
    if let Some(db) = Database::postgres().await {
        two_processes(db.url.clone()).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_processes_on_one_sqlite_file_never_run_a_job_twice_at_once() {
    let db = Database::sqlite();
    two_processes(db.url.clone()).await;
}
