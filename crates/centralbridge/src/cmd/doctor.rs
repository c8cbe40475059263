//! `centralbridge doctor`: the live check of both connections and of every security-role level the
//! integration needs, without changing any data. Exit 0 only when every required check passes.

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use engine::doctor::{self, CheckStatus, DoctorOptions, DoctorReport};

use crate::context::Ctx;
use crate::error::CliError;
use crate::output::Render;

/// Arguments of `centralbridge doctor`: optional features to check for, and the clock tolerance.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Auto-resolve is on: Service Desk > Close Service Tickets becomes required
    #[arg(long)]
    auto_resolve: bool,
    /// Tickets carry a contact: Companies > Contacts becomes required
    #[arg(long)]
    ticket_contacts: bool,
    /// Clock difference (seconds) above which the clock check fails
    #[arg(long, default_value_t = 60)]
    clock_tolerance: u64,
}

struct View(DoctorReport);

impl serde::Serialize for View {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Render for View {
    fn human(&self) -> String {
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(vec!["", "Check", "Result"]);
        if t.width().is_none() {
            // Not a terminal (piped, CI): a fixed width keeps the rows readable.
            t.set_width(120);
        }
        for c in &self.0.checks {
            let mark = match (c.status, c.required) {
                (CheckStatus::Fail, false) => format!("{} optional", c.status.symbol()),
                (CheckStatus::Unverified, _) => "? unverified".to_owned(),
                (CheckStatus::Skipped, _) => "– skipped".to_owned(),
                (s, _) => s.symbol().to_owned(),
            };
            let mut result = c.detail.clone();
            if let Some(fix) = &c.fix {
                result.push_str(&format!("\nFix: {fix}"));
            }
            t.add_row(vec![mark, c.title.clone(), result]);
        }
        let failed = self
            .0
            .checks
            .iter()
            .filter(|c| c.required && c.status == CheckStatus::Fail)
            .count();
        let summary = if failed == 0 {
            "All required checks passed.".to_owned()
        } else {
            format!(
                "{failed} required check(s) failed: apply the fixes above, then run `centralbridge doctor` again."
            )
        };
        format!("{t}\n{summary}\n")
    }
}

/// Runs the live checks and prints the table; exit 1 unless every required check passes.
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let opts = DoctorOptions {
        auto_resolve: args.auto_resolve,
        ticket_contacts: args.ticket_contacts,
        clock_tolerance: std::time::Duration::from_secs(args.clock_tolerance),
    };
    let (store, _) = ctx.open_store().await?;
    let report = doctor::run_doctor(&store, &opts).await;
    store.close().await;
    let ok = report.ok;
    ctx.out.emit(&View(report))?;
    if ok {
        Ok(())
    } else {
        Err(CliError::failure(
            "the doctor found problems (see the table above)",
        ))
    }
}
