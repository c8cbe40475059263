//! `centralbridge status`: per customer, the last result of each sync job (usage, tickets, ...), with
//! the error and advice of a failure.
//!
//! Every job writes the core `customer_status` table (one row per tenant and job); this command
//! groups the rows by tenant, so a new job shows up as one more column without changes here.

use std::collections::BTreeMap;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use engine::ids::TenantId;
use engine::store::{CoreStore as _, MappingStore as _};
use serde::Serialize;
use serde_json::Value;

use crate::context::Ctx;
use crate::error::CliError;
use crate::output::Render;

/// Arguments of `centralbridge status`: filters on failures and on one job.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only customers whose last run of some job failed
    #[arg(long)]
    failed: bool,
    /// Only this job (usage, tickets, ...)
    #[arg(long)]
    job: Option<String>,
}

/// One job's last result for a customer.
#[derive(Debug, Serialize)]
pub struct JobStatus {
    /// The job's name, e.g. `usage` or `tickets`.
    pub job: String,
    /// When the job last ran for this customer.
    pub last_run_at: jiff::Timestamp,
    /// False when the customer failed or was held on that run.
    pub ok: bool,
    /// The job's counters for this customer, as the JSON object the job recorded.
    pub counts: Value,
    /// Why the customer failed or was held; `None` when it went through.
    pub error: Option<String>,
    /// What the engineer should do about `error`.
    pub advice: Option<String>,
}

/// A customer's row.
#[derive(Debug, Serialize)]
pub struct CustomerRow {
    /// The customer's Sophos tenant id.
    pub tenant_id: String,
    /// The tenant's name (from the store, else as the job recorded it, else the id).
    pub tenant: String,
    /// The mapped ConnectWise company's name; `None` when the tenant is not mapped (or unknown).
    pub company: Option<String>,
    /// One entry per job that has run for this customer.
    pub jobs: Vec<JobStatus>,
}

#[derive(Debug, Serialize)]
#[serde(transparent)]
struct StatusView {
    rows: Vec<CustomerRow>,
    /// Plans waiting for approval: (number, month, writes); shown above the table.
    #[serde(skip)]
    pending: Vec<(i64, String, usize)>,
}

/// A short summary of a job's counts: the non-zero numbers.
fn summarize(counts: &Value) -> String {
    let Value::Object(m) = counts else {
        return String::new();
    };
    m.iter()
        .filter_map(|(k, v)| match v.as_u64() {
            Some(n) if n > 0 && !k.ends_with("_id") => Some(format!("{n} {}", k.replace('_', " "))),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(", ")
}

impl Render for StatusView {
    fn human(&self) -> String {
        let mut head = String::new();
        for (id, month, writes) in &self.pending {
            head.push_str(&format!(
                "Usage plan #{id} for {month} waits for approval: {writes} write(s). Fix: look at it with `centralbridge plans show {id}`, then `plans approve {id}` or `plans discard {id}`.\n"
            ));
        }
        if self.rows.is_empty() {
            return format!("{head}No sync has run yet (or nothing matches).\n");
        }
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec![
            "Tenant", "Company", "Job", "Last run", "Result", "Counts",
        ]);
        let mut problems = String::new();
        for c in &self.rows {
            for j in &c.jobs {
                t.add_row(vec![
                    c.tenant.clone(),
                    c.company.clone().unwrap_or_else(|| "-".to_owned()),
                    j.job.clone(),
                    j.last_run_at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
                    if j.ok { "ok" } else { "FAILED" }.to_owned(),
                    summarize(&j.counts),
                ]);
                if let Some(e) = &j.error {
                    problems.push_str(&format!(
                        "{} ({}): {e}\n  advice: {}\n",
                        c.tenant,
                        j.job,
                        j.advice.as_deref().unwrap_or("-")
                    ));
                }
            }
        }
        format!("{head}{t}\n{problems}")
    }
}

/// Prints each customer's last result per job, sorted by tenant name; `--failed` keeps only
/// customers with a failed job, `--job` only that job.
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (store, _) = ctx.open_store().await?;
    let rows = store.list_customer_status(args.job.as_deref()).await?;
    let pending: Vec<(i64, String, usize)> = engine::usage::saved::list(&store, true, 20)
        .await
        .map_err(|e| CliError::failure(e.to_string()))?
        .into_iter()
        .map(|p| (p.id, p.body.month.to_string(), p.body.totals.writes))
        .collect();
    let names: BTreeMap<TenantId, (String, Option<String>)> = store
        .list_customers()
        .await?
        .into_iter()
        .map(|c| {
            (
                c.tenant.id.clone(),
                (c.tenant.name, c.company.map(|co| co.name)),
            )
        })
        .collect();
    store.close().await;
    let mut by_tenant: BTreeMap<String, CustomerRow> = BTreeMap::new();
    for s in rows {
        let text = |k: &str| s.counts.get(k).and_then(Value::as_str).map(str::to_owned);
        let (tenant, company) = names.get(s.tenant_id.as_str()).cloned().unwrap_or_else(|| {
            (
                text("tenant_name").unwrap_or_else(|| s.tenant_id.to_string()),
                text("company_name"),
            )
        });
        let row = by_tenant
            .entry(s.tenant_id.to_string())
            .or_insert_with(|| CustomerRow {
                tenant_id: s.tenant_id.to_string(),
                tenant,
                company,
                jobs: Vec::new(),
            });
        row.jobs.push(JobStatus {
            job: s.job,
            last_run_at: s.last_run_at,
            ok: s.ok,
            counts: s.counts,
            error: s.error,
            advice: s.advice,
        });
    }
    let mut out: Vec<CustomerRow> = by_tenant.into_values().collect();
    if args.failed {
        out.retain(|c| c.jobs.iter().any(|j| !j.ok));
    }
    out.sort_by_key(|c| c.tenant.to_lowercase());
    ctx.out.emit(&StatusView { rows: out, pending })
}
