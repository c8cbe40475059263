//! Every door goes through one run harness: two runs of the same job at once, from any pair of doors
//! (two shells, the service and a shell, the dashboard and a shell), end with one run writing and the
//! other refused with the holder named (or waiting with `--wait`), and ConnectWise holding exactly
//! one live addition per billed line and one ticket per alert. Runs end honestly: Ctrl-C records a
//! stopped run, a killed process's run is marked abandoned when its lease is taken over.
//!
//! Each test runs on SQLite and on PostgreSQL (`CENTRALBRIDGE_TEST_PG_URL`, set by `.ci/run`).

use crate::support;

use std::time::{Duration, Instant};

use engine::store::RunOutcome;
use support::{App, SchedJob, Service, Target, World, text};

use support::on_both_backends;

on_both_backends!(
    two_cli_usage_syncs,
    two_cli_ticket_syncs,
    service_and_cli,
    dashboard_and_cli,
    ctrl_c_stops_a_cli_sync,
    a_killed_run_is_taken_over_and_marked_abandoned,
    a_second_store_adopts_the_tickets_connectwise_already_has,
    two_tickets_of_one_alert_are_reported_then_merged,
    a_lost_database_and_a_fresh_connect_do_not_ticket_twice,
);

const LONG: Duration = Duration::from_secs(180);

fn refused_by(out: &str, who: &str) {
    assert!(
        out.contains("is already running") && out.contains(who) && out.contains("Fix:"),
        "expected a refusal naming {who}:\n{out}"
    );
}

async fn two_cli_usage_syncs(t: Target) {
    let w = World::new(t, 12).await;
    w.set_latency(Duration::from_millis(120));
    let first = w.spawn(&["sync", "usage"]);
    w.wait_for_lease("usage", "cli").await;
    let second = w.run(&["sync", "usage"]).await;
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    refused_by(&text(&second), "a centralbridge command run by");
    assert!(text(&second).contains(&format!("(pid {})", first.pid())));
    // With --wait, a third waits for the first, then runs (and finds nothing left to write).
    let third = w.spawn(&["sync", "usage", "--wait"]);
    let (code, out) = first.wait(LONG).await;
    assert_eq!(code, Some(0), "{out}");
    let (code, out3) = third.wait(LONG).await;
    assert_eq!(code, Some(0), "{out3}");
    assert!(
        out3.contains("Waiting for the usage sync started by"),
        "{out3}"
    );
    assert!(out3.contains("0 created, 0 updated"), "{out3}");
    let lines = w.assert_one_addition_per_line();
    assert!(lines >= 5, "{lines} billed lines");
    let runs = w.runs("usage").await;
    assert_eq!(runs.len(), 2, "the refused run is not a run: {runs:?}");
    assert!(runs.iter().all(|r| r.outcome == RunOutcome::Ok), "{runs:?}");
    assert!(runs.iter().all(|r| {
        r.started_by
            .as_deref()
            .is_some_and(|b| b.starts_with("cli|"))
    }));
    w.finish().await;
}

async fn two_cli_ticket_syncs(t: Target) {
    let w = World::new(t, 12).await;
    let raised = w.raise_alerts(2).await;
    assert!(raised >= 10, "{raised} alerts raised");
    // Slow enough that the first run still holds the lease while the second and third processes
    // start, on a machine running the other tests beside this one (the tenants' polls run side by
    // side, so the cycle is a few calls long).
    w.set_latency(Duration::from_millis(1200));
    let first = w.spawn(&["sync", "tickets", "--once"]);
    w.wait_for_lease("tickets", "cli").await;
    // The third starts beside the second, while the first still runs: it waits.
    let third = w.spawn(&["sync", "tickets", "--once", "--wait"]);
    let second = w.run(&["sync", "tickets", "--once"]).await;
    assert_eq!(second.status.code(), Some(2), "{}", text(&second));
    refused_by(&text(&second), "a centralbridge command run by");
    let (code, out) = first.wait(LONG).await;
    assert_eq!(code, Some(0), "{out}");
    let (code, out3) = third.wait(LONG).await;
    assert_eq!(code, Some(0), "{out3}");
    assert!(out3.contains("Waiting for the ticket sync"), "{out3}");
    assert!(
        out3.contains("0 created, 0 adopted (already in ConnectWise), 0 noted"),
        "{out3}"
    );
    let (tickets, notes) = w.assert_no_duplicate_tickets_or_notes();
    assert!(tickets > 0 && notes > 0, "{tickets} tickets, {notes} notes");
    w.finish().await;
}

/// Runs `args` while the service holds `job`'s lease until one is refused (a run may fall in the gap
/// between two of the service's runs; then it simply ran, which is also correct).
async fn refused_while_service_runs(w: &World, job: &str, args: &[&str]) -> String {
    for _ in 0..10 {
        w.wait_for_lease(job, "service").await;
        let o = w.run(args).await;
        match o.status.code() {
            Some(2) => return text(&o),
            Some(0) => continue,
            other => panic!("{args:?} exited {other:?}:\n{}", text(&o)),
        }
    }
    panic!("{args:?} was never refused while the service ran {job}");
}

async fn service_and_cli(t: Target) {
    let w = World::new(t, 12).await;
    w.raise_alerts(2).await;
    w.set_latency(Duration::from_millis(40));
    let svc = Service::start(
        &w,
        &[
            "--usage-every",
            "2s",
            "--tickets-every",
            "2s",
            "--refresh-every",
            "24h",
        ],
    )
    .await;
    let out = refused_while_service_runs(&w, "usage", &["sync", "usage"]).await;
    refused_by(&out, "the service on");
    // A ticket cycle polls the tenants side by side, a few calls long: slow the vendors so the
    // service's cycle outlasts a CLI process starting up.
    w.set_latency(Duration::from_millis(400));
    let out = refused_while_service_runs(&w, "tickets", &["sync", "tickets", "--once"]).await;
    refused_by(&out, "the service on");
    w.set_latency(Duration::from_millis(40));
    // Waiting, both run after the service's run.
    w.raise_alerts(1).await;
    let usage = w.run(&["sync", "usage", "--wait"]).await;
    assert_eq!(usage.status.code(), Some(0), "{}", text(&usage));
    let tickets = w.run(&["sync", "tickets", "--once", "--wait"]).await;
    assert_eq!(tickets.status.code(), Some(0), "{}", text(&tickets));
    let (code, log) = svc.stop().await;
    assert_eq!(code, Some(0), "{log}");
    w.assert_one_addition_per_line();
    w.assert_no_duplicate_tickets_or_notes();
    for job in ["usage", "tickets"] {
        let runs = w.runs(job).await;
        assert!(
            runs.iter().all(|r| r.outcome != RunOutcome::Running),
            "{job}: {runs:?}"
        );
        let by = |door: &str| {
            runs.iter()
                .any(|r| r.started_by.as_deref().is_some_and(|b| b.starts_with(door)))
        };
        assert!(by("service|") && by("cli|"), "{job}: {runs:?}");
    }
    w.finish().await;
}

async fn dashboard_and_cli(t: Target) {
    let w = World::new(t, 12).await;
    // The dashboard in this process; its scheduler runs only tickets (hourly): usage runs only
    // from the dashboard and the CLI.
    let svc = App::spawn(&w, &[(SchedJob::Tickets, Duration::from_secs(3600))]).await;
    let customers = engine::store::MappingStore::list_customers(&w.store)
        .await
        .unwrap();
    let tenant = customers
        .iter()
        .find(|c| {
            c.mapping
                .as_ref()
                .is_some_and(|m| m.usage_sync && m.agreement_id.is_some())
                && c.tenant
                    .billing_type
                    .as_ref()
                    .is_some_and(|b| b.is_monthly())
        })
        .expect("a billed customer")
        .tenant
        .id
        .clone();
    let sync_now = format!("/customers/{tenant}/sync-now");
    // Sync now previews (a plan, no lease); Approve is the dashboard's run that writes.
    let preview = |html: String| -> String {
        let id: String = html
            .split("Plan #")
            .nth(1)
            .map(|t| t.chars().take_while(char::is_ascii_digit).collect())
            .unwrap_or_else(|| panic!("no plan in {html}"));
        format!("/usage/plans/{id}/approve")
    };
    let approve = preview(svc.post(&sync_now).await);

    // The CLI holds the lease: the dashboard's Approve says who runs it, since when.
    w.set_latency(Duration::from_millis(60));
    let cli = w.spawn(&["sync", "usage"]);
    w.wait_for_lease("usage", "cli").await;
    let html = svc.post(&approve).await;
    assert!(
        html.contains("is running right now") && html.contains("a centralbridge command run by"),
        "{html}"
    );
    let (code, out) = cli.wait(LONG).await;
    assert_eq!(code, Some(0), "{out}");

    // The dashboard holds it: the CLI is refused, naming the dashboard. (Slow calls keep the
    // dashboard's one-customer run going for seconds, longer than a CLI process takes to start on
    // a loaded machine.)
    w.set_latency(Duration::ZERO);
    let approve = preview(svc.post(&sync_now).await);
    w.set_latency(Duration::from_millis(1500));
    let post = {
        let http = svc.http.clone();
        let url = format!("{}{approve}", svc.base);
        let cookie = svc.cookie.clone();
        let csrf = svc.csrf.clone();
        tokio::spawn(async move {
            http.post(url)
                .header("cookie", cookie)
                .form(&[("_csrf", csrf.as_str())])
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        })
    };
    w.wait_for_lease("usage", "dashboard").await;
    let o = w.run(&["sync", "usage"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    refused_by(&text(&o), "the dashboard");
    let html = post.await.unwrap();
    assert!(html.contains("applied"), "{html}");
    w.set_latency(Duration::ZERO);
    svc.stop().await;
    w.assert_one_addition_per_line();
    let runs = w.runs("usage").await;
    assert!(runs.iter().all(|r| r.outcome == RunOutcome::Ok), "{runs:?}");
    assert!(runs.iter().any(|r| {
        r.started_by
            .as_deref()
            .is_some_and(|b| b.starts_with("dashboard|"))
    }));
    w.finish().await;
}

async fn ctrl_c_stops_a_cli_sync(t: Target) {
    let w = World::new(t, 12).await;
    // Slow enough that the run is still going when the signal lands, even on a loaded machine.
    w.set_latency(Duration::from_millis(300));
    let run = w.spawn(&["sync", "usage", "--concurrency", "1"]);
    let deadline = Instant::now() + LONG;
    while w.live_additions().is_empty() {
        assert!(Instant::now() < deadline, "the sync wrote nothing");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    run.signal("-INT");
    let (code, out) = run.wait(LONG).await;
    assert_eq!(code, Some(130), "{out}");
    assert!(
        out.contains("Stopping: the usage sync finishes the operation in flight"),
        "{out}"
    );
    assert!(
        out.contains("recorded as stopped") && out.contains("Fix:"),
        "{out}"
    );
    let runs = w.runs("usage").await;
    assert_eq!(runs[0].outcome, RunOutcome::Stopped, "{runs:?}");
    assert!(w.lease("usage").await.is_none(), "the lease was given back");
    // The next run finishes the job.
    w.set_latency(Duration::ZERO);
    let o = w.run(&["sync", "usage"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    w.assert_one_addition_per_line();
    w.finish().await;
}

async fn a_killed_run_is_taken_over_and_marked_abandoned(t: Target) {
    let w = World::new(t, 12).await;
    w.set_latency(Duration::from_millis(80));
    let mut cmd = w.cli(&["sync", "usage"]);
    // Long enough that the lease outlives the next CLI process starting up on a loaded machine
    // (PostgreSQL's pool and migrations included), short enough to expire within the test.
    cmd.env("CENTRALBRIDGE_SYNC_LEASE", "6s");
    let killed = support::Proc::from(cmd.spawn().unwrap());
    let pid = killed.pid();
    w.wait_for_lease("usage", "cli").await;
    // The lease is claimed a moment before the run is recorded: kill it once there is a run to
    // find abandoned (a process killed in between leaves only a lease, which simply expires).
    let deadline = Instant::now() + LONG;
    while w.runs("usage").await.is_empty() {
        assert!(Instant::now() < deadline, "the run was never recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    killed.signal("-KILL");
    let _ = killed.wait(LONG).await;
    // Its lease still stands until it expires: refused, naming the dead process.
    let o = w.run(&["sync", "usage"]).await;
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    refused_by(&text(&o), &format!("(pid {pid})"));
    assert!(text(&o).contains("its lease expires at"), "{}", text(&o));
    let deadline = Instant::now() + Duration::from_secs(30);
    while w.lease("usage").await.is_some() {
        assert!(Instant::now() < deadline, "the lease never expired");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    w.set_latency(Duration::ZERO);
    let o = w.run(&["sync", "usage"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let runs = w.runs("usage").await;
    assert_eq!(runs.len(), 2, "{runs:?}");
    assert_eq!(runs[0].outcome, RunOutcome::Ok);
    assert_eq!(runs[1].outcome, RunOutcome::Abandoned, "{runs:?}");
    assert!(
        runs[1]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("took the job over")),
        "{runs:?}"
    );
    w.assert_one_addition_per_line();
    w.finish().await;
}

/// A second install (or a restored backup, or a lost database) pointed at the same ConnectWise finds
/// the tickets of alerts it has no record of and adopts them: no alert gets a second ticket, no note
/// is written twice, and finding them costs one query per 100 new alerts.
async fn a_second_store_adopts_the_tickets_connectwise_already_has(t: Target) {
    let second = if t.is_postgres() {
        Target::postgres().await.expect("a second database")
    } else {
        Target::sqlite()
    };
    let w = World::new(t, 12).await;
    let raised = w.raise_alerts(2).await;
    let o = w.run(&["sync", "tickets", "--once"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (tickets, _) = w.assert_no_duplicate_tickets_or_notes();
    assert!(tickets >= 10, "{tickets} tickets for {raised} alerts");

    // The second store: connected, refreshed, mapped and set up the same way, but no links.
    let store2 = engine::store::Store::open(&second.url, w.key.clone())
        .await
        .unwrap();
    support::prepare(&store2, &w.sb).await;
    store2.close().await;
    let more = w
        .raise_alerts_of(sandbox::sophos::AlertKind::RealTimeProtectionDisabled, 1)
        .await;
    let mut cmd = w.cli_on(&second.url, &["--json", "sync", "tickets", "--once"]);
    let o = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let totals = &report["totals"];
    let adopted = totals["adopted"].as_u64().unwrap();
    let created = totals["created"].as_u64().unwrap();
    let noted = totals["noted"].as_u64().unwrap();
    assert_eq!(
        adopted as usize, tickets,
        "every existing ticket adopted: {totals}"
    );
    assert!(created > 0, "the new alerts got tickets: {totals}");
    let (after, _) = w.assert_no_duplicate_tickets_or_notes();
    assert_eq!(after as u64, tickets as u64 + created);
    // Calls: the writes, a notes read per adopted ticket that got a repeat, at most two for the
    // closed-ticket check, and one lookup per 100 new alerts (here: one for every tenant at once).
    let fresh = adopted + created;
    let calls = report["api_calls"]["connectwise"].as_u64().unwrap();
    let bound = created + noted + adopted + 2 + fresh.div_ceil(100);
    assert!(
        calls <= bound,
        "{calls} ConnectWise calls > {bound}: {report}"
    );
    assert!(more > 0);
    drop(second);
    w.finish().await;
}

/// Two open tickets for one alert (made before this guard existed, or by hand): `--repair --dry-run`
/// lists them, `--repair` closes the newer with a note when the member may close tickets, and
/// reports it when it may not.
async fn two_tickets_of_one_alert_are_reported_then_merged(t: Target) {
    use sandbox::connectwise::Table;
    let w = World::new(t, 8).await;
    w.raise_alerts(1).await;
    let o = w.run(&["sync", "tickets", "--once"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let first =
        w.sb.connectwise
            .records(Table::Tickets)
            .into_iter()
            .find(|t| t["externalXRef"].is_string())
            .unwrap();
    let alert = first["externalXRef"].as_str().unwrap().to_owned();
    let mut copy = first.clone();
    copy.as_object_mut().unwrap().remove("id");
    let dup = w.sb.connectwise.insert_record(Table::Tickets, copy);
    let open_for = |alert: &str| {
        w.sb.connectwise
            .tickets_by_xref(alert)
            .into_iter()
            .filter(|t| t["closedFlag"] != serde_json::json!(true))
            .count()
    };
    assert_eq!(open_for(&alert), 2);

    let o = w
        .run(&["sync", "tickets", "--once", "--repair", "--dry-run"])
        .await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(
        text(&o).contains(&format!(
            "alert {alert}: kept #{}, still open #{dup}",
            first["id"]
        )),
        "{}",
        text(&o)
    );
    assert_eq!(open_for(&alert), 2, "a dry run closes nothing");
    // Without Close Service Tickets: reported, left open.
    let o = w.run(&["sync", "tickets", "--once", "--repair"]).await;
    assert!(text(&o).contains("Close Service Tickets"), "{}", text(&o));
    assert_eq!(open_for(&alert), 2);
    // With it: the newer is closed, with a note naming the one kept.
    let member = w.sb.connectwise.credentials().member_id;
    w.sb.connectwise.set_role_level(
        member,
        sandbox::connectwise::RoleFunction::CloseServiceTickets,
        sandbox::connectwise::Level::Edit,
        sandbox::connectwise::Access::All,
    );
    let o = w.run(&["sync", "tickets", "--once", "--repair"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains(&format!("closed #{dup}")), "{}", text(&o));
    assert_eq!(open_for(&alert), 1);
    assert!(w.sb.connectwise.notes(dup).iter().any(|n| {
        n["text"]
            .as_str()
            .is_some_and(|t| t.contains("Duplicate of ticket"))
    }),);
    w.finish().await;
}

/// The database is lost (the SQLite file deleted; on PostgreSQL a new empty database): a fresh
/// `connect`, mapping and ticket settings, then `sync tickets --once`, adopts every ticket the old
/// store made instead of opening them again.
async fn a_lost_database_and_a_fresh_connect_do_not_ticket_twice(t: Target) {
    let w = World::new(t, 10).await;
    w.raise_alerts(2).await;
    let o = w.run(&["sync", "tickets", "--once"]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let (tickets, notes) = w.assert_no_duplicate_tickets_or_notes();
    assert!(tickets > 0);
    let board = engine::tickets::load_settings(&w.store)
        .await
        .unwrap()
        .board
        .unwrap()
        .id
        .to_string();

    let lost = if w.target.is_postgres() {
        Target::postgres().await.expect("a new database")
    } else {
        let path = std::path::PathBuf::from(&w.target.url);
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
        }
        assert!(!path.exists());
        Target::sqlite()
    };
    let db = if w.target.is_postgres() {
        lost.url.clone()
    } else {
        w.target.url.clone()
    };
    let info = w.sb.info();
    let run = |args: Vec<String>, env: Vec<(&'static str, String)>| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut cmd = w.cli_on(&db, &args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        async move {
            tokio::task::spawn_blocking(move || cmd.output().unwrap())
                .await
                .unwrap()
        }
    };
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<_>>();
    let cw = &info.connectwise;
    let steps = [
        (
            s(&[
                "connect",
                "connectwise",
                "--site",
                &w.sb.connectwise.site_url(),
                "--allow-http",
                "--company-id",
                &cw.company_id,
                "--public-key",
                &cw.public_key,
                "--client-id",
                &cw.client_id,
            ]),
            vec![("CENTRALBRIDGE_CW_PRIVATE_KEY", cw.private_key.clone())],
        ),
        (
            s(&[
                "connect",
                "sophos",
                "--client-id",
                &info.sophos.client_id,
                "--token-url",
                &w.sb.sophos.token_url(),
                "--api-url",
                &w.sb.sophos.global_url(),
            ]),
            vec![(
                "CENTRALBRIDGE_CENTRAL_CLIENT_SECRET",
                info.sophos.client_secret.clone(),
            )],
        ),
        (s(&["refresh"]), vec![]),
        (
            s(&["map", "accept", "--min-score", "0.9", "--ticket-sync"]),
            vec![],
        ),
        (
            s(&[
                "tickets",
                "settings",
                "set",
                "--board",
                &board,
                "--auto",
                "--skip-unmapped",
            ]),
            vec![],
        ),
    ];
    for (args, env) in steps {
        let o = run(args.clone(), env).await;
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
    }
    let o = run(s(&["--json", "sync", "tickets", "--once"]), vec![]).await;
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let report: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        report["totals"]["adopted"].as_u64(),
        Some(tickets as u64),
        "{}",
        report["totals"]
    );
    assert_eq!(report["totals"]["created"].as_u64(), Some(0));
    let (after, notes_after) = w.assert_no_duplicate_tickets_or_notes();
    assert_eq!(
        (after, notes_after),
        (tickets, notes),
        "nothing was opened or noted again"
    );
    // Every open alert of a mapped customer is linked in the new store.
    let store = engine::store::Store::open(&db, w.key.clone())
        .await
        .unwrap();
    let mut linked = 0;
    for c in engine::store::MappingStore::list_customers(&store)
        .await
        .unwrap()
    {
        if c.mapping.as_ref().is_none_or(|m| !m.ticket_sync) {
            continue;
        }
        for a in w.sb.sophos.alerts(&c.tenant.id) {
            assert!(
                engine::store::TicketStore::alert_link(&store, &a.id)
                    .await
                    .unwrap()
                    .is_some(),
                "alert {} of {} is not linked",
                a.id,
                c.tenant.name
            );
            linked += 1;
        }
    }
    assert!(linked > tickets, "{linked} alerts linked");
    store.close().await;
    drop(lost);
    w.finish().await;
}
