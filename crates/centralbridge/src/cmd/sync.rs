//! `centralbridge sync`: the sync jobs run on demand. `sync usage` bills licence usage as agreement
//! additions; (`sync tickets` is added by the ticket sync).

use std::io::IsTerminal as _;
use std::sync::Arc;

use clap::Subcommand;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use engine::job::{Job, RunReport as _};
use engine::usage::{self, CustomerOutcome, Month, OpKind, SyncOptions, SyncReport};
use indicatif::{ProgressBar, ProgressStyle};

use crate::context::Ctx;
use crate::error::CliError;
use crate::output::{Render, qty};

/// Arguments of `centralbridge sync`: which job to run.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Bill each mapped customer's Sophos licence usage as ConnectWise agreement additions
    Usage(UsageArgs),
    /// Sophos alerts into ConnectWise tickets (one cycle with --once; --dry-run prints the plan)
    Tickets(super::tickets::SyncArgs),
}

/// Arguments of `centralbridge sync usage`.
#[derive(Debug, clap::Args)]
pub struct UsageArgs {
    /// Print the plan (every operation with its reason) and stop: nothing is written
    #[arg(long, conflicts_with = "plan")]
    dry_run: bool,
    /// Compute the plan and save it for approval (`centralbridge plans show|approve|discard`):
    /// nothing is written to ConnectWise
    #[arg(long)]
    plan: bool,
    /// Billing month to sync [default: the previous month]
    #[arg(long, value_name = "YYYY-MM")]
    month: Option<String>,
    /// Only this customer (tenant id or name, company id or name); repeatable
    #[arg(long = "customer", value_name = "CUSTOMER")]
    customers: Vec<String>,
    /// Recreate additions centralbridge created that were deleted in ConnectWise
    #[arg(long)]
    recreate: bool,
    /// Sync a month earlier than the last one synced (it sets quantities back to that month's)
    #[arg(long)]
    force: bool,
    /// Cancel extra live additions that bill one product twice, keeping ours (else the oldest);
    /// try it with --dry-run first
    #[arg(long)]
    repair: bool,
    /// Apply the plan even if it lowers billed quantities past `[sync] max_drop_percent` or takes
    /// more than `[sync] max_zeroed_customers` customers to nothing (look at --dry-run first)
    #[arg(long)]
    confirm: bool,
    /// Customers synced at once
    #[arg(long, default_value_t = usage::DEFAULT_CONCURRENCY)]
    concurrency: usize,
    /// If another usage sync is running (the service, the dashboard, another shell), wait for it to
    /// end instead of refusing to start
    #[arg(long)]
    wait: bool,
    /// Also list unchanged products in the plan table
    #[arg(long)]
    all: bool,
}

/// The usage sync's blast-radius limits from `[sync]`.
pub fn guard(c: &crate::config::SyncConfig) -> usage::Guard {
    usage::Guard {
        max_drop_share: f64::from(c.max_drop_percent) / 100.0,
        max_zeroed_customers: c.max_zeroed_customers as usize,
    }
}

/// Who the audit log names for the CLI: the OS user (`USER`, `LOGNAME`, `USERNAME`, else the
/// account of the process's user id, as services and cron jobs often have no `USER`).
pub fn actor() -> String {
    ["USER", "LOGNAME", "USERNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.trim().is_empty()))
        .or_else(user_of_uid)
        .unwrap_or_else(|| "unknown OS user".to_owned())
}

/// The name of the process's real user id from `/etc/passwd` (Linux), or `uid N`.
fn user_of_uid() -> Option<String> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let uid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))?
        .split_whitespace()
        .next()?
        .to_owned();
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    Some(
        passwd
            .lines()
            .find_map(|l| {
                let mut f = l.split(':');
                let name = f.next()?;
                (f.nth(1)? == uid).then(|| name.to_owned())
            })
            .unwrap_or_else(|| format!("uid {uid}")),
    )
}

/// Runs the chosen sync job from the CLI, through the run harness.
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    match args.action {
        Action::Usage(a) => run_usage(ctx, a).await,
        Action::Tickets(a) => super::tickets::run_sync(ctx, a).await,
    }
}

/// A progress bar on stderr, hidden when stdout is not a terminal or with `--json`.
pub fn progress_bar(ctx: &Ctx, what: &str) -> Option<ProgressBar> {
    if ctx.out.json || !std::io::stdout().is_terminal() {
        return None;
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template("{msg} [{bar:30}] {pos}/{len} ({eta})") {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(what.to_owned());
    Some(bar)
}

/// The clients a usage run needs, from the stored connections.
pub async fn usage_clients(
    store: &engine::store::Store,
) -> Result<(connectwise::Client, sophos::Client), CliError> {
    let cw = engine::connections::connectwise_client(store)
        .await
        .map_err(CliError::usage_from)?;
    let mut scfg = engine::connections::sophos_config(store)
        .await
        .map_err(CliError::usage_from)?;
    // One usage listing at the largest page the API allows.
    scfg.page_size.usage = 1000;
    scfg.page_size.tenants = 100;
    let sophos = sophos::Client::connect(scfg)
        .await
        .map_err(CliError::failure_from)?;
    Ok((cw, sophos))
}

/// A progress callback drawing on `bar`.
pub fn progress_fn(bar: Option<&ProgressBar>) -> Option<usage::ProgressFn> {
    bar.cloned().map(|b| {
        Arc::new(move |done: usize, total: usize| {
            b.set_length(total as u64);
            b.set_position(done as u64);
        }) as usage::ProgressFn
    })
}

/// The CLI's usage errors: a bad month or customer is the user's (exit 2), the rest a failure.
pub fn usage_error(e: usage::UsageError) -> CliError {
    match e {
        usage::UsageError::NoSuchCustomer(_)
        | usage::UsageError::BadMonth(_)
        | usage::UsageError::Plan(_)
        | usage::UsageError::MonthBackwards { .. } => CliError::usage_from(e),
        other => CliError::failure(other.to_string()),
    }
}

async fn run_usage(ctx: &Ctx, a: UsageArgs) -> Result<(), CliError> {
    let month = a
        .month
        .as_deref()
        .map(Month::parse)
        .transpose()
        .map_err(CliError::usage_from)?;
    if !a.dry_run && !a.plan && ctx.config.usage.approval == crate::config::Approval::Required {
        return Err(CliError::usage(usage::messages::approval_required()));
    }
    let (store, _) = ctx.open_store().await?;
    let (cw, sophos) = usage_clients(&store).await?;
    let bar = progress_bar(ctx, "usage sync");
    let progress = progress_fn(bar.as_ref());
    let opts = SyncOptions {
        month,
        customers: a.customers,
        recreate: a.recreate,
        force: a.force,
        repair: a.repair,
        confirm: a.confirm,
        guard: guard(&ctx.config.sync),
        concurrency: a.concurrency,
        progress,
        ..SyncOptions::default()
    };
    let cli_run = super::run::start(
        ctx,
        &store,
        Job::Usage,
        super::run::CliStart {
            dry_run: a.dry_run || a.plan,
            wait: a.wait,
            signals: true,
        },
    )
    .await?;
    if a.plan {
        let result = usage::saved::plan(&store, &cw, &sophos, &opts, cli_run.run()).await;
        if let Some(b) = bar {
            b.finish_and_clear();
        }
        let end = match &result {
            Ok(p) => p.report.run_end(),
            Err(e) => engine::job::RunEnd::failed(e.to_string()),
        };
        let finished = cli_run.finish(&end).await;
        let planned = result.map_err(usage_error)?;
        store.close().await;
        ctx.out.emit(&super::plans::PlanView {
            plan: planned.plan,
            all: a.all,
        })?;
        return finished.map(|_| ());
    }
    let result = usage::run(&store, &cw, &sophos, &opts, cli_run.run()).await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let finished = cli_run.finish(&result.run_end()).await;
    let report = result.map_err(usage_error)?;
    store.close().await;
    let view = ReportView { report, all: a.all };
    ctx.out.emit(&view)?;
    finished?;
    if view.report.failed_customers > 0 {
        return Err(CliError::failure(format!(
            "{} customer(s) failed; see the error and advice above (or `centralbridge status --failed`).",
            view.report.failed_customers
        )));
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct ReportView {
    #[serde(flatten)]
    report: SyncReport,
    #[serde(skip)]
    all: bool,
}

impl Render for ReportView {
    fn human(&self) -> String {
        let r = &self.report;
        let mut out = String::new();
        out.push_str(&format!(
            "Usage sync for {}{}\n",
            r.month,
            if r.dry_run {
                " (dry run: nothing was written)"
            } else {
                ""
            }
        ));
        for c in &r.catalog {
            if c.action != "already linked" {
                out.push_str(&format!(
                    "catalog: {} -> item {} ({})\n",
                    c.product, c.catalog_item_id, c.action
                ));
            }
        }
        for p in &r.catalog_to_create {
            out.push_str(&format!("catalog: {p} would be created\n"));
        }
        let mut table = Table::new();
        table.load_style(UTF8_FULL_CONDENSED);
        table.set_header(vec![
            "Customer",
            "Agreement",
            "Product",
            "Operation",
            "Before",
            "After",
            "Reason",
        ]);
        let mut rows = 0;
        for c in &r.customers {
            for op in &c.ops {
                if op.kind() == OpKind::Skip && !self.all {
                    continue;
                }
                rows += 1;
                table.add_row(vec![
                    c.tenant_name.clone(),
                    op.agreement_id.to_string(),
                    op.product.clone(),
                    op.kind().as_str().to_owned(),
                    qty(op.before()),
                    qty(Some(op.after())),
                    op.reason.clone(),
                ]);
            }
        }
        if rows > 0 {
            out.push_str(&format!("{table}\n"));
        } else {
            out.push_str("No changes planned.\n");
        }
        if let Some(refused) = &r.refused {
            out.push_str(&format!(
                "NOT APPLIED: {refused}\n  Fix: look at the plan with --dry-run; if the drop is real, run again with --confirm.\n"
            ));
        }
        for c in &r.customers {
            for u in &c.unmapped {
                out.push_str(&format!("{}: {}\n", c.tenant_name, u.message));
            }
            if let Some(n) = &c.note {
                out.push_str(&format!("{}: {n}\n", c.tenant_name));
            }
            if c.outcome == CustomerOutcome::Held && c.error != r.refused {
                out.push_str(&format!(
                    "HELD {}: {}\n  Fix: {}\n",
                    c.tenant_name,
                    c.error.as_deref().unwrap_or(""),
                    c.advice.as_deref().unwrap_or("")
                ));
            }
            if c.outcome == CustomerOutcome::Failed {
                out.push_str(&format!(
                    "FAILED {}: {}\n  advice: {}\n",
                    c.tenant_name,
                    c.error.as_deref().unwrap_or(""),
                    c.advice.as_deref().unwrap_or("")
                ));
            }
        }
        let k = &r.counts;
        out.push_str(&format!(
            "{} customers ({} failed): {} created, {} updated, {} cancelled, {} adopted, {} unchanged, \
             {} conflicts, {} removed in ConnectWise, {} unmapped codes",
            r.customers.len(),
            r.failed_customers,
            k.created,
            k.updated,
            k.cancelled,
            k.adopted,
            k.unchanged,
            k.conflicts,
            k.removed_in_cw,
            k.unmapped_codes
        ));
        if r.lines_without_tenant > 0 {
            out.push_str(&format!(
                "; {} usage lines belong to no tenant (device subscriptions) and are not billed",
                r.lines_without_tenant
            ));
        }
        out.push('\n');
        if let Some(how) = usage::messages::additions_line(&r.additions) {
            out.push_str(&format!("{how}\n"));
        }
        out
    }
}
