//! `centralbridge demo`: the whole job end to end on a fresh machine, with no configuration. Starts
//! both emulators over a seeded MSP, a SQLite store in a temporary (or given) directory, connects,
//! checks, refreshes, accepts confident mapping suggestions, selects products, runs usage sync and
//! ticket sync, prints a summary, then serves the dashboard while the emulated Sophos keeps raising
//! and clearing alerts, until Ctrl-C. `--once` stops after the first cycle (non-zero if it failed).

use std::io::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use engine::connections::{self, ConnectWiseSettings, SophosSettings};
use engine::doctor::{CheckStatus, DoctorOptions};
use engine::job::{Door, Job, Run, RunEnd, RunReport as _, StartOptions};
use engine::mapping::{self, AcceptOptions, RefreshOptions};
use engine::secrets::MasterKey;
use engine::store::{RunOutcome, Store, TicketState, TicketStore as _, UsageStore as _};
use engine::tickets::{self, SettingsInput};
use engine::usage;
use sandbox::{Sandbox, SandboxOptions};
use secrecy::SecretString;
use serde::Serialize;

use crate::context::Ctx;
use crate::error::CliError;
use crate::service::jobs::EngineRunner;
use crate::service::{self, SchedulerOptions, ServiceOptions};

/// Who the audit log names for what the demo does.
const ACTOR: &str = "demo";
/// The dashboard account the demo creates (an admin), with the printed password.
const DASHBOARD_USER: &str = "demo";

/// Arguments of `centralbridge demo`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Exit after the first cycle: 0 if everything worked, 1 if anything failed (for CI)
    #[arg(long)]
    pub once: bool,
    /// Keep the store and master key in this directory [default: a new temporary directory]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Customers of the seeded MSP (each a ConnectWise company and a Sophos tenant; 4 more tenants
    /// and 6 more companies have no counterpart)
    #[arg(long, default_value_t = 36)]
    pub customers: usize,
    /// Seed of the generated MSP
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Dashboard address (port 0 picks a free one)
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,
    /// Ticket sync interval while the dashboard runs
    #[arg(long, value_name = "DURATION", value_parser = super::serve::duration, default_value = "10s")]
    pub tickets_every: Duration,
    /// Dashboard password [default: a random one, printed]
    #[arg(long, env = "CENTRALBRIDGE_DEMO_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
}

#[derive(Debug, Default, Serialize)]
struct Summary {
    tenants: usize,
    companies: usize,
    customers_mapped: usize,
    products_selected: usize,
    catalog_items: usize,
    additions_created: usize,
    additions_updated: usize,
    usage_customers_failed: usize,
    tickets_opened: u64,
    ticket_customers_failed: usize,
    technician: Technician,
    problems: Vec<String>,
}

/// What the technician did in ConnectWise, and what the next cycle made of it.
#[derive(Debug, Default, Serialize)]
struct Technician {
    /// The ticket the technician closed.
    closed_ticket: Option<i64>,
    /// The addition the technician deleted.
    deleted_addition: Option<i64>,
    /// Alerts the next ticket cycle acknowledged in Sophos because their ticket was closed.
    alerts_acknowledged: u64,
    /// Additions the next usage run reported as removed in ConnectWise.
    additions_removed_in_connectwise: usize,
}

/// How many steps the demo's first pass has.
const STEPS: usize = 10;

/// Prints a line for the person watching; a closed stdout (`demo | head`) does not stop the demo.
fn say(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{text}");
    let _ = out.flush();
}

fn step(n: usize, text: &str) {
    say(&format!("[{n}/{STEPS}] {text}"));
}

fn done(text: &str) {
    say(&format!("      {text}"));
}

fn fail(what: &str, e: impl std::fmt::Display) -> CliError {
    CliError::failure(format!("demo: {what}: {e}"))
}

/// One step of the demo as a run of the harness, like any other door.
async fn begin(store: &Store, job: Job) -> Result<Run, CliError> {
    engine::job::start(store, job, StartOptions::new(Door::Cli, ACTOR))
        .await
        .map_err(|e| fail(job.title(), e))
}

/// Runs the demo end to end, then serves the dashboard until Ctrl-C; with `--once` returns after
/// the first cycle instead, exit 1 if anything failed.
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    // The directory: given, or temporary (removed at the end).
    let (_tmp, dir) = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|e| {
                CliError::usage(format!(
                    "Cannot create {}: {e}. Pick a writable --dir.",
                    d.display()
                ))
            })?;
            (None, d.clone())
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("centralbridge-demo-")
                .tempdir()
                .map_err(|e| fail("cannot create a temporary directory", e))?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };

    step(
        1,
        "Starting the ConnectWise PSA and Sophos Central emulators (seeded MSP)…",
    );
    let mut sb_opts = SandboxOptions::demo(args.seed, args.customers);
    sb_opts.world.customers = args.customers;
    let sandbox = Sandbox::spawn(sb_opts)
        .await
        .map_err(|e| fail("the emulators could not start", e))?;
    let own_company = add_own_company(&sandbox);
    let info = sandbox.info();
    done(&format!(
        "{} ConnectWise companies, {} Sophos tenants; data in {}",
        info.companies,
        info.tenants,
        dir.display()
    ));

    let key_file = dir.join("master.key");
    let (key, source) = MasterKey::resolve(None, &key_file)?;
    let store = Store::open(&dir.join("centralbridge.db").to_string_lossy(), key.clone()).await?;
    if let engine::secrets::KeySource::New(path) = &source {
        key.persist(path)?;
    }

    let mut result = first_cycle(&store, &sandbox, &info, own_company).await;
    if let Ok(summary) = &mut result {
        result = match technician_and_next_cycle(&store, &sandbox, &info, summary).await {
            Ok(()) => Ok(std::mem::take(summary)),
            Err(e) => Err(e),
        };
    }
    let summary = match result {
        Ok(s) => s,
        Err(e) => {
            sandbox.shutdown().await;
            store.close().await;
            return Err(e);
        }
    };
    print_summary(ctx, &summary)?;

    if args.once {
        sandbox.shutdown().await;
        store.close().await;
        return if summary.problems.is_empty() {
            Ok(())
        } else {
            Err(CliError::failure(format!(
                "the demo cycle had problems:\n  {}",
                summary.problems.join("\n  ")
            )))
        };
    }

    // The dashboard, with the scheduler running ticket sync every few seconds.
    let mut sched = SchedulerOptions::new(service::holder_id());
    sched.intervals = [
        (Job::Refresh, Duration::from_secs(24 * 3600)),
        (Job::Usage, Duration::from_secs(24 * 3600)),
        (Job::Tickets, args.tickets_every),
    ]
    .into_iter()
    .collect();
    sched.poll = args.tickets_every.min(Duration::from_secs(5));
    let opts = ServiceOptions {
        listen: args.listen,
        metrics_listen: None,
        scheduler: sched,
        secure_cookies: false,
        tls: None,
        behind_proxy: false,
        auth: service::auth::Policy::default(),
        approval_required: false,
    };
    let runner = EngineRunner::shared(
        ctx.config.sync.concurrency as usize,
        crate::cmd::sync::guard(&ctx.config.sync),
    );
    let running =
        match service::start(store.clone(), key.clone(), opts.clone(), runner.clone()).await {
            Ok(r) => r,
            // The default port is taken: take any free one rather than fail the demo.
            Err(_) if args.listen.port() != 0 => {
                let mut o = opts;
                o.listen.set_port(0);
                service::start(store.clone(), key, o, runner)
                    .await
                    .map_err(CliError::usage_from)?
            }
            Err(e) => return Err(CliError::usage_from(e)),
        };
    let password = args
        .password
        .clone()
        .unwrap_or_else(service::auth::random_password);
    let secret = SecretString::from(password.clone());
    // The demo's own admin account; a kept --dir already has it, and gets the new password.
    let made = match running.auth.user(DASHBOARD_USER).await {
        Ok(_) => running.auth.set_password(DASHBOARD_USER, &secret).await,
        Err(_) => running
            .auth
            .add_user(DASHBOARD_USER, engine::store::Role::Admin, &secret)
            .await
            .map(|_| ()),
    };
    made.map_err(|e| fail("cannot set the dashboard account", e))?;
    // A closed stdout (`demo | head`) must not stop the demo: these lines are for a person.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "\nDashboard: {}\nUser:      {DASHBOARD_USER}\nPassword:  {password}\n\
         The emulated Sophos keeps raising and clearing alerts; ticket sync runs every {}s. Ctrl-C stops the demo.",
        running.url(),
        args.tickets_every.as_secs()
    );
    let _ = out.flush();
    drop(out);

    service::wait_for_signal().await;
    eprintln!("{}", service::messages::SHUTTING_DOWN);
    running.shutdown().await;
    sandbox.shutdown().await;
    store.close().await;
    Ok(())
}

async fn first_cycle(
    store: &Store,
    sandbox: &Sandbox,
    info: &sandbox::SandboxInfo,
    own_company: Option<i64>,
) -> Result<Summary, CliError> {
    let mut summary = Summary::default();

    step(2, "Connecting to both (credentials stored encrypted)…");
    let cw = &info.connectwise;
    connections::save_connectwise(
        store,
        &ConnectWiseSettings {
            site: sandbox.connectwise.site_url(),
            company_id: cw.company_id.clone(),
            public_key: cw.public_key.clone(),
            client_id: cw.client_id.clone(),
            codebase: None,
            allow_http: true,
        },
        &SecretString::from(cw.private_key.clone()),
    )
    .await
    .map_err(|e| fail("cannot store the ConnectWise connection", e))?;
    let so = &info.sophos;
    connections::save_sophos(
        store,
        &SophosSettings {
            client_id: so.client_id.clone(),
            token_url: sandbox.sophos.token_url(),
            global_url: sandbox.sophos.global_url(),
        },
        &SecretString::from(so.client_secret.clone()),
    )
    .await
    .map_err(|e| fail("cannot store the Sophos connection", e))?;
    let cw_client = connections::connectwise_client(store)
        .await
        .map_err(|e| fail("ConnectWise", e))?;
    let so_client = connections::sophos_client(store)
        .await
        .map_err(|e| fail("Sophos Central", e))?;
    done(&format!(
        "ConnectWise at {}, Sophos Central partner {}",
        sandbox.connectwise.site_url(),
        so_client.partner_id()
    ));

    step(
        3,
        "Checking both connections and the API member's security role (doctor)…",
    );
    let report = engine::doctor::run_doctor(store, &DoctorOptions::default()).await;
    let mut t = Table::new();
    t.load_style(UTF8_FULL_CONDENSED)
        .set_content_arrangement(ContentArrangement::Dynamic)
        .set_header(vec!["", "Check", "Result"]);
    if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        t.set_width(140);
    }
    for c in &report.checks {
        let mark = match (c.status, c.required) {
            (CheckStatus::Fail, false) => format!("{} optional", c.status.symbol()),
            (s, _) => s.symbol().to_owned(),
        };
        t.add_row(vec![mark, c.title.clone(), c.detail.clone()]);
    }
    say(&t.to_string());
    if !report.ok {
        summary
            .problems
            .push("doctor: a required check failed (see the table)".into());
    }

    step(
        4,
        "Reading tenants, companies and agreements (company refresh)…",
    );
    let run = begin(store, Job::Refresh).await?;
    let refreshed = mapping::refresh(
        store,
        Some(&so_client),
        Some(&cw_client),
        "",
        &RefreshOptions::default(),
        &run,
    )
    .await;
    run.finish(&refreshed.run_end())
        .await
        .map_err(|e| fail("company refresh", e))?;
    let refreshed = refreshed.map_err(|e| fail("company refresh", e))?;
    summary.tenants = refreshed.tenants.seen as usize;
    summary.companies = refreshed.companies.seen as usize;
    if refreshed.outcome() != RunOutcome::Ok {
        summary
            .problems
            .push("company refresh did not complete".into());
    }
    done(&format!(
        "{} tenants, {} companies, {} agreements",
        refreshed.tenants.seen, refreshed.companies.seen, refreshed.agreements.seen
    ));

    step(5, "Mapping customers: accepting the confident suggestions…");
    let accepted = mapping::accept(
        store,
        ACTOR,
        &AcceptOptions {
            usage_sync: true,
            ticket_sync: true,
            ..Default::default()
        },
    )
    .await
    .map_err(|e| fail("mapping", e))?;
    summary.customers_mapped = accepted.accepted.len();
    done(&format!(
        "{} customers mapped, {} left for a person to decide (see the Customers page)",
        accepted.accepted.len(),
        accepted.skipped.len()
    ));

    step(
        6,
        "Selecting every product and creating its ConnectWise catalog item…",
    );
    usage::select_all(store, ACTOR)
        .await
        .map_err(|e| fail("product selection", e))?;
    let selected: Vec<String> = usage::product_views(store)
        .await
        .map_err(|e| fail("products", e))?
        .into_iter()
        .filter(|v| v.selected)
        .map(|v| v.identifier)
        .collect();
    summary.products_selected = selected.len();
    let catalog = usage::ensure_catalog_items(store, &cw_client, &selected, ACTOR, false)
        .await
        .map_err(|e| fail("catalog items", e))?;
    summary.catalog_items = catalog.len();
    done(&format!(
        "{} products selected, {} catalog items ready",
        selected.len(),
        catalog.len()
    ));

    step(7, "Usage sync: Sophos usage into agreement additions…");
    let (usage_report, r) = usage_run(store, &cw_client, &so_client).await?;
    summary.additions_created = usage_report.counts.created;
    summary.additions_updated = usage_report.counts.updated;
    summary.usage_customers_failed = usage_report.failed_customers;
    if r.outcome != RunOutcome::Ok {
        summary.problems.push(format!(
            "usage sync: {}",
            r.error.unwrap_or(r.summary.clone())
        ));
    }
    done(&r.summary);

    step(8, "Ticket sync: Sophos alerts into ConnectWise tickets…");
    let choices = tickets::choices(&cw_client, None)
        .await
        .map_err(|e| fail("ticket settings", e))?;
    let board = choices
        .boards
        .iter()
        .find(|b| b.name.to_lowercase().contains("alert"))
        .or_else(|| choices.boards.first())
        .ok_or_else(|| fail("ticket settings", "ConnectWise has no service board"))?;
    tickets::update_settings(
        store,
        &cw_client,
        &SettingsInput {
            board: Some(board.id.to_string()),
            // Alerts of customers nobody has mapped yet go to the MSP's own company, so none is dropped.
            fallback_company: own_company.map(|id| id.to_string()),
            auto: true,
            ..Default::default()
        },
        ACTOR,
    )
    .await
    .map_err(|e| fail("ticket settings", e))?;
    let (cycle, r) = ticket_run(store, &cw_client, &so_client).await?;
    summary.tickets_opened = cycle.totals.created;
    summary.ticket_customers_failed = cycle.failed();
    if r.outcome == RunOutcome::Failed {
        summary.problems.push(format!(
            "ticket sync: {}",
            r.error.unwrap_or(r.summary.clone())
        ));
    }
    done(&format!("board “{}”: {}", board.name, r.summary));
    Ok(summary)
}

/// One usage sync run through the harness, with a progress bar on a terminal.
async fn usage_run(
    store: &Store,
    cw: &connectwise::Client,
    so: &sophos::Client,
) -> Result<(usage::SyncReport, RunEnd), CliError> {
    let bar = progress();
    let progress_fn: Option<usage::ProgressFn> = bar.clone().map(|b| {
        let f: usage::ProgressFn = Arc::new(move |done, total| {
            b.set_length(total as u64);
            b.set_position(done as u64);
        });
        f
    });
    let run = begin(store, Job::Usage).await?;
    let report = usage::run(
        store,
        cw,
        so,
        &usage::SyncOptions {
            progress: progress_fn,
            ..Default::default()
        },
        &run,
    )
    .await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let r = report.run_end();
    run.finish(&r).await.map_err(|e| fail("usage sync", e))?;
    Ok((report.map_err(|e| fail("usage sync", e))?, r))
}

/// One ticket sync cycle through the harness.
async fn ticket_run(
    store: &Store,
    cw: &connectwise::Client,
    so: &sophos::Client,
) -> Result<(tickets::CycleReport, RunEnd), CliError> {
    let run = begin(store, Job::Tickets).await?;
    let cycle = tickets::run_cycle(store, cw, so, &run).await;
    let r = cycle.run_end();
    run.finish(&r).await.map_err(|e| fail("ticket sync", e))?;
    Ok((cycle.map_err(|e| fail("ticket sync", e))?, r))
}

/// The sandbox's technician: a second ConnectWise API member, with Delete and Close Service
/// Tickets, playing the person who works in ConnectWise beside centralbridge.
async fn technician_client(
    sandbox: &Sandbox,
    info: &sandbox::SandboxInfo,
) -> Result<connectwise::Client, CliError> {
    let cw = &info.connectwise;
    let mut cfg = connectwise::CwConfig::new(
        sandbox.connectwise.site_url(),
        cw.company_id.clone(),
        cw.technician.public_key.clone(),
        SecretString::from(cw.technician.private_key.clone()),
        cw.client_id.clone(),
    );
    cfg.allow_http = true;
    connectwise::Client::connect(cfg)
        .await
        .map_err(|e| fail("the technician's ConnectWise key", e))
}

/// Steps 9 and 10: a technician closes a ticket and deletes an addition in ConnectWise; the next
/// cycle acknowledges the ticket's alert in Sophos and reports the addition as removed.
async fn technician_and_next_cycle(
    store: &Store,
    sandbox: &Sandbox,
    info: &sandbox::SandboxInfo,
    summary: &mut Summary,
) -> Result<(), CliError> {
    step(
        9,
        "A technician works in ConnectWise (their own API key): closes one ticket, deletes one addition…",
    );
    let tech = technician_client(sandbox, info).await?;
    let open = store
        .owned_tickets_in_state(TicketState::Open)
        .await
        .map_err(|e| fail("tickets", e))?;
    match open.first() {
        Some(t) => {
            let id = t.ticket_id.get();
            let board = tech
                .ticket(id)
                .await
                .map_err(|e| fail("the technician's ticket", e))?
                .board
                .and_then(|b| b.id)
                .ok_or_else(|| fail("the technician's ticket", "it has no board"))?;
            let closed = tech
                .board_status_choices(board)
                .await
                .map_err(|e| fail("the board's statuses", e))?
                .into_iter()
                .find(|s| s.closed)
                .ok_or_else(|| fail("the board's statuses", "none closes a ticket"))?;
            tech.close_ticket(id, closed.id)
                .await
                .map_err(|e| fail("the technician's close", e))?;
            summary.technician.closed_ticket = Some(id);
            done(&format!(
                "closed ticket #{id} “{}” (status “{}”)",
                t.summary, closed.name
            ));
        }
        None => summary
            .problems
            .push("technician: ticket sync opened no ticket to close".into()),
    }
    let links = store
        .list_addition_links(None)
        .await
        .map_err(|e| fail("additions", e))?;
    match links.iter().find(|l| l.created_by_us && !l.cancelled_by_us) {
        Some(l) => {
            tech.delete_addition(l.agreement_id.get(), l.addition_id.get())
                .await
                .map_err(|e| fail("the technician's delete", e))?;
            summary.technician.deleted_addition = Some(l.addition_id.get());
            done(&format!(
                "deleted addition #{} ({}, agreement #{})",
                l.addition_id, l.product, l.agreement_id
            ));
        }
        None => summary
            .problems
            .push("technician: usage sync made no addition to delete".into()),
    }

    step(10, "The next cycle: what centralbridge does about each…");
    let cw_client = connections::connectwise_client(store)
        .await
        .map_err(|e| fail("ConnectWise", e))?;
    let so_client = connections::sophos_client(store)
        .await
        .map_err(|e| fail("Sophos Central", e))?;
    let (cycle, _) = ticket_run(store, &cw_client, &so_client).await?;
    summary.technician.alerts_acknowledged = cycle.totals.acknowledged;
    if let Some(id) = summary.technician.closed_ticket {
        if cycle.totals.acknowledged > 0 {
            done(&format!(
                "ticket sync: ticket #{id} was closed in ConnectWise, so Sophos was told: {} alert(s) \
                 acknowledged ({} ticket(s) closed in ConnectWise)",
                cycle.totals.acknowledged, cycle.totals.closed_in_connectwise
            ));
        } else {
            summary.problems.push(format!(
                "ticket sync did not acknowledge the alert of ticket #{id}, closed in ConnectWise"
            ));
        }
    }
    let (report, _) = usage_run(store, &cw_client, &so_client).await?;
    summary.technician.additions_removed_in_connectwise = report.counts.removed_in_cw;
    for c in report
        .customers
        .iter()
        .filter(|c| c.counts.removed_in_cw > 0)
    {
        done(&format!(
            "usage sync, {}: {}",
            c.tenant_name,
            c.error.as_deref().unwrap_or("removed in ConnectWise")
        ));
        if let Some(advice) = &c.advice {
            done(&format!("  what to do: {advice}"));
        }
    }
    let others = report
        .customers
        .iter()
        .filter(|c| c.error.is_some() && c.counts.removed_in_cw == 0)
        .count();
    if summary.technician.deleted_addition.is_some() && report.counts.removed_in_cw == 0 {
        summary
            .problems
            .push("usage sync did not report the addition deleted in ConnectWise".into());
    }
    if others > 0 {
        summary.problems.push(format!(
            "usage sync, second run: {others} customer(s) failed for other reasons"
        ));
    }
    Ok(())
}

/// Every ConnectWise site holds the MSP's own company; the emulated one gets it here so the demo can use
/// it as the ticket fallback for customers not mapped yet. `None` if the emulator has no company status.
fn add_own_company(sandbox: &Sandbox) -> Option<i64> {
    use sandbox::connectwise::Table as CwTable;
    let status = sandbox
        .connectwise
        .records(CwTable::CompanyStatuses)
        .into_iter()
        .find(|s| s["name"] == "Active")?;
    let record = serde_json::json!({
        "identifier": "BridgewaterIT",
        "name": sandbox.world.partner_name,
        "status": {"id": status["id"], "name": status["name"]},
        "types": [],
        "addressLine1": "1 Harbour Street",
        "city": "Curitiba",
        "deletedFlag": false,
        "customFields": [],
    });
    Some(
        sandbox
            .connectwise
            .insert_record(CwTable::Companies, record),
    )
}

fn progress() -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal as _;
    if !std::io::stdout().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("      customers [{bar:30}] {pos}/{len}")
    {
        bar.set_style(style.progress_chars("=> "));
    }
    Some(bar)
}

impl crate::output::Render for Summary {
    fn human(&self) -> String {
        let mut out = format!(
            "\nSummary\n  customers mapped:   {} (of {} tenants, {} companies)\n  products selected:  {} ({} catalog items)\n  \
             additions created:  {} (updated: {})\n  tickets opened:     {}\n",
            self.customers_mapped,
            self.tenants,
            self.companies,
            self.products_selected,
            self.catalog_items,
            self.additions_created,
            self.additions_updated,
            self.tickets_opened
        );
        if self.usage_customers_failed + self.ticket_customers_failed > 0 {
            out.push_str(&format!(
                "  customers with an error: {} in usage sync, {} in ticket sync (the Customers page shows why and how to fix it)\n",
                self.usage_customers_failed, self.ticket_customers_failed
            ));
        }
        let t = &self.technician;
        if let (Some(ticket), Some(addition)) = (t.closed_ticket, t.deleted_addition) {
            out.push_str(&format!(
                "  technician:         closed ticket #{ticket} (alerts acknowledged: {}), deleted addition \
                 #{addition} (reported removed in ConnectWise: {})\n",
                t.alerts_acknowledged, t.additions_removed_in_connectwise
            ));
        }
        for p in &self.problems {
            out.push_str(&format!("  problem: {p}\n"));
        }
        out
    }
}

fn print_summary(ctx: &Ctx, s: &Summary) -> Result<(), CliError> {
    ctx.out.emit(s)
}
