//! `centralbridge plans`: saved usage plans. `sync usage --plan` (or the service, with
//! `[usage] approval = "required"`, or the dashboard's Preview) saves one; a person looks at it and
//! approves it (applied exactly, or refused naming what moved since) or discards it.

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use engine::job::{Job, RunReport as _};
use engine::usage::saved::{self, PlanRow, SavedPlan};
use engine::usage::{OpKind, SyncOptions, SyncReport};
use serde::Serialize;

use crate::context::Ctx;
use crate::error::CliError;
use crate::output::{Render, money, qty};

/// Arguments of `centralbridge plans`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, clap::Subcommand)]
enum Action {
    /// The saved plans, newest first
    List {
        /// Only the plans waiting for approval
        #[arg(long)]
        pending: bool,
        /// At most this many
        #[arg(long, default_value_t = 20)]
        limit: u32,
    },
    /// One plan: per customer and product, both sides' quantities, the new quantity, prices and
    /// the operation with its reason
    Show {
        /// The plan's number (from `plans list`)
        id: i64,
        /// Also list the products left unchanged
        #[arg(long)]
        all: bool,
    },
    /// Apply a pending plan exactly; refused, naming what moved, when Sophos or ConnectWise
    /// changed since it was computed
    Approve {
        /// The plan's number
        id: i64,
        /// If another usage sync is running, wait for it to end instead of refusing to start
        #[arg(long)]
        wait: bool,
        /// Customers applied at once
        #[arg(long, default_value_t = engine::usage::DEFAULT_CONCURRENCY)]
        concurrency: usize,
    },
    /// Set a pending plan aside; nothing is written
    Discard {
        /// The plan's number
        id: i64,
    },
}

/// One plan, as `plans show` and `sync usage --plan` print it.
#[derive(Debug, Serialize)]
pub struct PlanView {
    /// The plan.
    #[serde(flatten)]
    pub plan: SavedPlan,
    /// List unchanged rows too.
    #[serde(skip)]
    pub all: bool,
}

fn row_cells(customer: &str, r: &PlanRow) -> Vec<String> {
    vec![
        customer.to_owned(),
        r.product.clone(),
        qty(Some(r.sophos_quantity)),
        qty(r.connectwise_quantity),
        qty(r.new_quantity),
        money(r.unit_price),
        money(r.amount_after),
        r.operation.as_str().to_owned(),
        r.reason.clone(),
    ]
}

impl Render for PlanView {
    fn human(&self) -> String {
        let p = &self.plan;
        let b = &p.body;
        let mut out = format!(
            "Plan #{} for {} ({}), computed {} by {}\n",
            p.id,
            b.month,
            p.state.as_str(),
            p.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            p.created_by
        );
        if let (Some(by), Some(at)) = (&p.decided_by, p.decided_at) {
            out.push_str(&format!(
                "Decided {} by {by}: {}\n",
                at.strftime("%Y-%m-%d %H:%M UTC"),
                p.outcome.as_deref().unwrap_or("")
            ));
        }
        for c in &b.catalog_to_create {
            out.push_str(&format!("catalog: {c} is created first\n"));
        }
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED).set_header(vec![
            "Customer",
            "Product",
            "Sophos",
            "ConnectWise",
            "New",
            "Unit price",
            "Amount after",
            "Operation",
            "Reason",
        ]);
        let mut rows = 0;
        for c in &b.customers {
            for r in &c.rows {
                if r.operation == OpKind::Skip && !self.all {
                    continue;
                }
                rows += 1;
                t.add_row(row_cells(&c.tenant_name, r));
            }
        }
        if rows > 0 {
            out.push_str(&format!("{t}\n"));
        } else {
            out.push_str("No changes planned.\n");
        }
        for c in &b.customers {
            if let Some(e) = &c.error {
                out.push_str(&format!(
                    "{} {}: {e}\n  Fix: {}\n",
                    match c.outcome {
                        engine::usage::CustomerOutcome::Held => "HELD",
                        _ => "FAILED",
                    },
                    c.tenant_name,
                    c.advice.as_deref().unwrap_or("")
                ));
            }
        }
        if let Some(g) = &b.held_by_guard {
            out.push_str(&format!(
                "Note: {g} Approving this plan is the confirmation a large drop needs.\n"
            ));
        }
        let t = &b.totals;
        out.push_str(&format!(
            "Totals: {} write(s) for {} of {} customer(s); billed {} now, {} after ({}{}){}\n",
            t.writes,
            p.customers_with_writes(),
            b.customers.len(),
            money(Some(t.amount_now)),
            money(Some(t.amount_after)),
            if t.change >= 0.0 { "+" } else { "" },
            money(Some(t.change)),
            if t.unpriced_rows > 0 {
                format!(
                    "; {} row(s) without a known price left out",
                    t.unpriced_rows
                )
            } else {
                String::new()
            }
        ));
        if p.state == engine::store::PlanState::Pending {
            out.push_str(&format!(
                "Approve with `centralbridge plans approve {0}`, or set it aside with `centralbridge plans discard {0}`.\n",
                p.id
            ));
        }
        out
    }
}

#[derive(Debug, Serialize)]
struct Listing {
    plans: Vec<SavedPlan>,
}

impl Render for Listing {
    fn human(&self) -> String {
        if self.plans.is_empty() {
            return "No saved plan. `centralbridge sync usage --plan` computes one.\n".into();
        }
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED).set_header(vec![
            "Plan",
            "Month",
            "State",
            "Computed (UTC)",
            "By",
            "Customers",
            "Writes",
            "Change",
        ]);
        for p in &self.plans {
            t.add_row(vec![
                format!("#{}", p.id),
                p.body.month.to_string(),
                p.state.as_str().to_owned(),
                p.created_at.strftime("%Y-%m-%d %H:%M").to_string(),
                p.created_by.clone(),
                p.body.customers.len().to_string(),
                p.body.totals.writes.to_string(),
                money(Some(p.body.totals.change)),
            ]);
        }
        format!("{t}\n")
    }
}

#[derive(Debug, Serialize)]
struct Approved {
    plan: SavedPlan,
    applied: bool,
    report: SyncReport,
}

impl Render for Approved {
    fn human(&self) -> String {
        let r = &self.report;
        let k = &r.counts;
        let mut out = format!(
            "Plan #{} applied: {} created, {} updated, {} cancelled, {} adopted; {} customer(s) failed\n",
            self.plan.id, k.created, k.updated, k.cancelled, k.adopted, r.failed_customers
        );
        for c in &r.customers {
            if c.outcome == engine::usage::CustomerOutcome::Failed {
                out.push_str(&format!(
                    "FAILED {}: {}\n  Fix: {}\n",
                    c.tenant_name,
                    c.error.as_deref().unwrap_or(""),
                    c.advice.as_deref().unwrap_or("")
                ));
            }
        }
        out
    }
}

#[derive(Debug, Serialize)]
struct Discarded {
    plan: SavedPlan,
}

impl Render for Discarded {
    fn human(&self) -> String {
        format!(
            "Plan #{} discarded; nothing was written to ConnectWise.\n",
            self.plan.id
        )
    }
}

/// Runs one `plans` action.
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (store, _) = ctx.open_store().await?;
    let result = match args.action {
        Action::List { pending, limit } => match saved::list(&store, pending, limit).await {
            Ok(plans) => ctx.out.emit(&Listing { plans }),
            Err(e) => Err(super::sync::usage_error(e)),
        },
        Action::Show { id, all } => match saved::load(&store, id).await {
            Ok(plan) => ctx.out.emit(&PlanView { plan, all }),
            Err(e) => Err(super::sync::usage_error(e)),
        },
        Action::Discard { id } => match saved::discard(&store, id, &super::sync::actor()).await {
            Ok(plan) => ctx.out.emit(&Discarded { plan }),
            Err(e) => Err(super::sync::usage_error(e)),
        },
        Action::Approve {
            id,
            wait,
            concurrency,
        } => approve(ctx, &store, id, wait, concurrency).await,
    };
    store.close().await;
    result
}

async fn approve(
    ctx: &Ctx,
    store: &engine::store::Store,
    id: i64,
    wait: bool,
    concurrency: usize,
) -> Result<(), CliError> {
    // Refuse a plan that is not pending before connecting anywhere.
    let plan = saved::load(store, id)
        .await
        .map_err(super::sync::usage_error)?;
    if plan.state != engine::store::PlanState::Pending {
        return Err(super::sync::usage_error(engine::usage::UsageError::Plan(
            engine::usage::messages::plan_not_pending(
                id,
                plan.state.as_str(),
                plan.decided_by.as_deref(),
            ),
        )));
    }
    let (cw, sophos) = super::sync::usage_clients(store).await?;
    let bar = super::sync::progress_bar(ctx, "applying the plan");
    let base = SyncOptions {
        concurrency,
        guard: super::sync::guard(&ctx.config.sync),
        progress: super::sync::progress_fn(bar.as_ref()),
        ..SyncOptions::default()
    };
    let cli_run = super::run::start(
        ctx,
        store,
        Job::Usage,
        super::run::CliStart {
            dry_run: false,
            wait,
            signals: true,
        },
    )
    .await?;
    let result = saved::approve(store, &cw, &sophos, id, &base, cli_run.run()).await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    let end = match &result {
        Ok(a) => a.report.run_end(),
        Err(e) => engine::job::RunEnd::failed(e.to_string()),
    };
    let finished = cli_run.finish(&end).await;
    let approval = result.map_err(super::sync::usage_error)?;
    if !approval.applied {
        finished?;
        return Err(CliError::failure(engine::usage::messages::plan_refused(
            id,
            &approval.report.moved,
        )));
    }
    let failed = approval.report.failed_customers;
    ctx.out.emit(&Approved {
        plan: approval.plan,
        applied: approval.applied,
        report: approval.report,
    })?;
    finished?;
    if failed > 0 {
        return Err(CliError::failure(format!(
            "{failed} customer(s) failed; see the error and advice above (or `centralbridge status --failed`)."
        )));
    }
    Ok(())
}
