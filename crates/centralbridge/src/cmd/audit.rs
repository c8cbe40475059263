//! `centralbridge audit`: the audit log as people read it (names beside ids, what changed), filtered
//! by time, kind and customer; a table, `--json` or `--csv`.

use std::path::PathBuf;

use comfy_table::{ContentArrangement, Table, presets::UTF8_FULL_CONDENSED};
use engine::audit::{self, AuditKind, AuditQuery, AuditRow};
use serde::Serialize;

use crate::context::Ctx;
use crate::error::CliError;
use crate::output::Render;

/// Arguments of `centralbridge audit`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only entries since: a duration back (`24h`, `7d`) or a date or time (`2026-11-01`,
    /// `2026-11-01T08:00:00Z`)
    #[arg(long, value_name = "WHEN")]
    since: Option<String>,
    /// Only this kind (`mapping.set`) or family (`mapping`, `usage`, `ticket`, `products`, `user`);
    /// `--what list` shows them all
    #[arg(long, value_name = "KIND")]
    what: Option<String>,
    /// Only entries about this customer: its Sophos tenant id or name
    #[arg(long, value_name = "TENANT")]
    customer: Option<String>,
    /// At most this many entries, newest first
    #[arg(long, default_value_t = 200)]
    limit: u32,
    /// Write CSV to this file (`-`: stdout) instead of the table
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
struct Listing {
    entries: Vec<AuditRow>,
}

impl Render for Listing {
    fn human(&self) -> String {
        if self.entries.is_empty() {
            return "No audit entries match.\n".into();
        }
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Dynamic)
            .set_header(vec!["When (UTC)", "Who", "What", "About", "Change", "Why"]);
        if !std::io::IsTerminal::is_terminal(&std::io::stdout()) {
            t.set_width(180);
        }
        for r in &self.entries {
            t.add_row(vec![
                r.at.strftime("%Y-%m-%d %H:%M:%S").to_string(),
                r.actor.clone(),
                r.what.clone(),
                r.about.clone(),
                r.change.clone(),
                r.reason.clone(),
            ]);
        }
        format!("{t}\n")
    }
}

#[derive(Debug, Serialize)]
struct Kinds {
    kinds: Vec<KindRow>,
}

#[derive(Debug, Serialize)]
struct KindRow {
    kind: &'static str,
    what: &'static str,
}

impl Render for Kinds {
    fn human(&self) -> String {
        self.kinds
            .iter()
            .map(|k| format!("{:<26} {}\n", k.kind, k.what))
            .collect()
    }
}

/// `--since`: a duration back from now, or a date / time.
fn since(text: &str) -> Result<jiff::Timestamp, CliError> {
    let t = text.trim();
    let now = jiff::Timestamp::now();
    if let Some(days) = t.strip_suffix('d').and_then(|d| d.parse::<i64>().ok()) {
        return Ok(now - jiff::SignedDuration::from_hours(24 * days));
    }
    if let Some(d) = crate::config::parse_duration(t) {
        return Ok(now - jiff::SignedDuration::try_from(d).unwrap_or_default());
    }
    if let Ok(ts) = t.parse::<jiff::Timestamp>() {
        return Ok(ts);
    }
    if let Ok(date) = t.parse::<jiff::civil::Date>()
        && let Ok(ts) =
            jiff::tz::TimeZone::UTC.to_timestamp(date.to_datetime(jiff::civil::Time::midnight()))
    {
        return Ok(ts);
    }
    Err(CliError::usage(format!(
        "--since `{text}` is neither a duration nor a date. Fix: e.g. --since 7d, --since 24h or --since 2026-11-01."
    )))
}

/// Prints the matching audit entries.
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    if args.what.as_deref() == Some("list") {
        return ctx.out.emit(&Kinds {
            kinds: AuditKind::ALL
                .iter()
                .map(|k| KindRow {
                    kind: k.as_str(),
                    what: k.label(),
                })
                .collect(),
        });
    }
    let kinds = match &args.what {
        None => Vec::new(),
        Some(w) => {
            let k = AuditKind::matching(w);
            if k.is_empty() {
                return Err(CliError::usage(format!(
                    "--what `{w}` is no kind of audit entry. Fix: give a kind or a family; `centralbridge audit --what list` shows them."
                )));
            }
            k
        }
    };
    let query = AuditQuery {
        since: args.since.as_deref().map(since).transpose()?,
        kinds,
        customer: args.customer.clone(),
        actor: None,
        limit: Some(args.limit),
    };
    let (store, _) = ctx.open_store().await?;
    let rows = audit::query(&store, &query).await;
    store.close().await;
    let rows = rows.map_err(|e| match e {
        audit::AuditError::UnknownCustomer(_) => CliError::usage(e.to_string()),
        other => CliError::failure(other.to_string()),
    })?;
    match &args.csv {
        Some(path) if path.as_os_str() == "-" => audit::write_csv(&rows, std::io::stdout().lock())
            .map_err(|e| CliError::failure(format!("cannot write the CSV: {e}"))),
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|e| {
                CliError::usage(format!(
                    "cannot create {}: {e}. Fix: give a writable path.",
                    path.display()
                ))
            })?;
            audit::write_csv(&rows, file)
                .map_err(|e| CliError::failure(format!("cannot write the CSV: {e}")))
        }
        None => ctx.out.emit(&Listing { entries: rows }),
    }
}
