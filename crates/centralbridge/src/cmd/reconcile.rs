//! `centralbridge reconcile`: for one month, Sophos usage against what ConnectWise bills, per
//! customer and product, with the drift and why. Reads only: it writes nothing anywhere.

use std::io::Write as _;
use std::path::PathBuf;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use engine::usage::Month;
use engine::usage::reconcile::{self, ReconcileOptions, Reconciliation, Status};
use serde::Serialize;

use crate::context::Ctx;
use crate::error::CliError;
use crate::output::{Render, money, qty};

/// Arguments of `centralbridge reconcile`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Billing month [default: the previous month]
    #[arg(long, value_name = "YYYY-MM")]
    month: Option<String>,
    /// Only this customer (tenant id or name, company id or name); repeatable
    #[arg(long = "customer", value_name = "CUSTOMER")]
    customers: Vec<String>,
    /// Write the rows as CSV to FILE (`-`: stdout) instead of the table
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
    /// Also list the rows in step
    #[arg(long)]
    in_step: bool,
}

#[derive(Debug, Serialize)]
struct View {
    #[serde(flatten)]
    report: Reconciliation,
    #[serde(skip)]
    in_step: bool,
}

impl Render for View {
    fn human(&self) -> String {
        let r = &self.report;
        let mut out = format!(
            "Reconciliation for {}: Sophos usage against what ConnectWise bills\n",
            r.month
        );
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED).set_header(vec![
            "Customer",
            "Product",
            "Sophos",
            "ConnectWise",
            "Unit price",
            "Billed",
            "Drift",
            "Drift amount",
            "Status",
        ]);
        let mut shown = 0;
        for row in &r.rows {
            if row.status == Status::InStep && !self.in_step {
                continue;
            }
            shown += 1;
            t.add_row(vec![
                row.tenant_name.clone(),
                row.product.clone(),
                qty(Some(row.sophos_quantity)),
                qty(row.connectwise_quantity),
                money(row.unit_price),
                money(row.billed_amount),
                qty(row.drift_quantity),
                money(row.drift_amount),
                row.status.label().to_owned(),
            ]);
        }
        if shown > 0 {
            out.push_str(&format!("{t}\n"));
        }
        let k = &r.totals;
        let counts: Vec<String> = k
            .by_status
            .iter()
            .map(|(s, n)| format!("{n} {}", s.label()))
            .collect();
        out.push_str(&format!(
            "{} row(s) for {} tenant(s): {}\n",
            k.rows,
            k.tenants,
            counts.join(", ")
        ));
        out.push_str(&format!(
            "Billed {}; under-billed {} (revenue left on the table); over-billed {}{}\n",
            money(Some(k.billed_amount)),
            money(Some(k.under_billed_amount)),
            money(Some(k.over_billed_amount)),
            if k.unpriced_rows > 0 {
                format!(
                    "; {} row(s) without a known price left out",
                    k.unpriced_rows
                )
            } else {
                String::new()
            }
        ));
        if k.tenants_not_mapped > 0 {
            out.push_str(&format!(
                "{} tenant(s) with usage are not mapped: nobody bills them. Fix: `centralbridge map suggest`, then `map accept` or `map set`.\n",
                k.tenants_not_mapped
            ));
        }
        out
    }
}

/// Runs `reconcile`.
pub async fn run(ctx: &Ctx, a: Args) -> Result<(), CliError> {
    let month = a
        .month
        .as_deref()
        .map(Month::parse)
        .transpose()
        .map_err(CliError::usage_from)?;
    let (store, _) = ctx.open_store().await?;
    let (cw, sophos) = super::sync::usage_clients(&store).await?;
    let opts = ReconcileOptions {
        month,
        customers: a.customers,
        concurrency: ctx.config.sync.concurrency as usize,
    };
    let result = reconcile::reconcile(&store, &cw, &sophos, &opts).await;
    store.close().await;
    let report = result.map_err(super::sync::usage_error)?;
    match a.csv {
        Some(path) if path.as_os_str() == "-" => {
            let mut out = std::io::stdout().lock();
            reconcile::write_csv(&report, &mut out)
                .map_err(|e| CliError::failure(format!("cannot write the CSV: {e}")))?;
            out.flush().ok();
            Ok(())
        }
        Some(path) => {
            let file = std::fs::File::create(&path).map_err(|e| {
                CliError::usage(format!(
                    "Cannot create {}: {e}. Fix: name a file in a folder you can write to, or `-` for stdout.",
                    path.display()
                ))
            })?;
            reconcile::write_csv(&report, file)
                .map_err(|e| CliError::failure(format!("cannot write the CSV: {e}")))?;
            eprintln!("{} row(s) written to {}", report.rows.len(), path.display());
            Ok(())
        }
        None => ctx.out.emit(&View {
            report,
            in_step: a.in_step,
        }),
    }
}
