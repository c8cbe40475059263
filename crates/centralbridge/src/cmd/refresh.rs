//! `centralbridge refresh`: read all Sophos tenants and ConnectWise companies and agreements into the
//! store now, ahead of the service's 24-hour refresh.

use std::io::IsTerminal as _;
use std::sync::Arc;

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use engine::mapping::{self, KindSummary, RefreshOptions, RefreshSummary};
use engine::store::RecordKind;
use indicatif::ProgressBar;

use crate::context::Ctx;
use crate::error::CliError;
use crate::output::Render;

/// Arguments of `centralbridge refresh`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Records written per database transaction
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..=10_000))]
    batch_size: u32,
    /// If another refresh is running (the service, another shell), wait for it to end instead of
    /// refusing to start
    #[arg(long)]
    wait: bool,
}

impl Render for RefreshSummary {
    fn human(&self) -> String {
        let mut table = Table::new();
        table.load_style(UTF8_FULL_CONDENSED);
        table.set_header(vec![
            "", "read", "new", "renamed", "changed", "back", "gone", "result",
        ]);
        for (name, k) in [
            ("Sophos tenants", &self.tenants),
            ("ConnectWise companies", &self.companies),
            ("ConnectWise agreements", &self.agreements),
        ] {
            table.add_row(vec![
                name.to_owned(),
                k.seen.to_string(),
                k.new.to_string(),
                k.renamed.to_string(),
                k.changed.to_string(),
                k.returned.to_string(),
                k.gone.to_string(),
                result(k),
            ]);
        }
        let mut out = format!("{table}\n");
        for (name, k) in [
            ("tenant", &self.tenants),
            ("company", &self.companies),
            ("agreement", &self.agreements),
        ] {
            for r in &k.renames {
                out.push_str(&format!(
                    "renamed {name} {}: \"{}\" -> \"{}\"\n",
                    r.id, r.old, r.new
                ));
            }
            if k.renamed as usize > k.renames.len() {
                out.push_str(&format!(
                    "... and {} more {name} renames\n",
                    k.renamed as usize - k.renames.len()
                ));
            }
        }
        if self.tenants.gone + self.companies.gone + self.agreements.gone > 0 {
            out.push_str("Objects missing from ConnectWise or Sophos are kept, flagged gone; `centralbridge map list --warnings` shows mappings that point at them.\n");
        }
        out
    }
}

fn result(k: &KindSummary) -> String {
    match (&k.error, k.complete) {
        (_, true) => "ok".to_owned(),
        (Some(e), false) => format!("incomplete: {e}"),
        (None, false) => "incomplete".to_owned(),
    }
}

/// Reads tenants, companies and agreements into the store as one run of the harness and prints a
/// summary; exit 1 when something could not be read (what was read is kept).
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let (store, _) = ctx.open_store().await?;
    let result = refresh(ctx, &store, &args).await;
    store.close().await;
    let summary = result?;
    ctx.out.emit(&summary)?;
    if summary.ok() {
        Ok(())
    } else {
        Err(CliError::failure(
            "the refresh did not read everything (see the table); what was read is saved, nothing was marked gone",
        ))
    }
}

async fn refresh(
    ctx: &Ctx,
    store: &engine::store::Store,
    args: &Args,
) -> Result<RefreshSummary, CliError> {
    let mut missing = Vec::new();
    let sophos = match engine::connections::sophos_client(store).await {
        Ok(c) => Some(c),
        Err(e) => {
            missing.push(e.to_string());
            None
        }
    };
    let cw = match engine::connections::connectwise_client(store).await {
        Ok(c) => Some(c),
        Err(e) => {
            missing.push(e.to_string());
            None
        }
    };
    if sophos.is_none() && cw.is_none() {
        return Err(CliError::usage(missing.join("\n")));
    }
    let bar = (!ctx.out.json && std::io::stdout().is_terminal()).then(|| {
        let b = ProgressBar::new_spinner();
        b.enable_steady_tick(std::time::Duration::from_millis(120));
        b.set_message("refreshing customers");
        b
    });
    let progress_bar = bar.clone();
    let counts = Arc::new(std::sync::Mutex::new([0u64; 3]));
    let opts = RefreshOptions {
        batch_size: args.batch_size as usize,
        progress: progress_bar.map(|b| {
            let counts = counts.clone();
            Arc::new(move |kind: RecordKind, n: u64| {
                let mut c = counts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let i = match kind {
                    RecordKind::Tenants => 0,
                    RecordKind::Companies => 1,
                    RecordKind::Agreements => 2,
                };
                c[i] = n;
                b.set_message(format!(
                    "refreshing: {} tenants, {} companies, {} agreements",
                    c[0], c[1], c[2]
                ));
            }) as mapping::Progress
        }),
        ..RefreshOptions::default()
    };
    let reason = missing.join(" ");
    let cli_run = super::run::start(
        ctx,
        store,
        engine::job::Job::Refresh,
        super::run::CliStart {
            wait: args.wait,
            signals: false,
            ..Default::default()
        },
    )
    .await;
    let cli_run = match cli_run {
        Ok(r) => r,
        Err(e) => {
            if let Some(b) = &bar {
                b.finish_and_clear();
            }
            return Err(e);
        }
    };
    let result = mapping::refresh(
        store,
        sophos.as_ref(),
        cw.as_ref(),
        &reason,
        &opts,
        cli_run.run(),
    )
    .await;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    cli_run
        .finish(&engine::job::RunReport::run_end(&result))
        .await?;
    result.map_err(crate::cmd::map::mapping_error)
}
