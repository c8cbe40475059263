//! `centralbridge tickets settings show|set`, `tickets list`, and `sync tickets` (called from
//! `cmd/sync.rs`): Sophos alerts into ConnectWise tickets.

use std::time::Duration;

use clap::Subcommand;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use engine::ids::TicketId;
use engine::tickets::{
    self, CycleReport, LinkRow, Op, Recurrence, SettingsInput, SkipReason, TicketError, TicketRef,
    TicketSettings,
};
use serde::Serialize;

use engine::job::{Job, RunReport as _};

use crate::context::Ctx;
use crate::error::CliError;
use crate::output::Render;

/// Arguments of `centralbridge tickets`: `settings show|set` or `list`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Show or change where tickets go and which alerts create them
    Settings(SettingsArgs),
    /// Recent alert -> ticket links
    List(ListArgs),
}

#[derive(Debug, clap::Args)]
struct SettingsArgs {
    #[command(subcommand)]
    action: SettingsAction,
}

#[derive(Debug, Subcommand)]
enum SettingsAction {
    /// Print the ticket settings (with --choices, also what ConnectWise offers)
    Show {
        /// Also list boards, statuses, types, priorities and sources from ConnectWise
        #[arg(long)]
        choices: bool,
    },
    /// Change settings; names or ids are checked against ConnectWise
    Set(Box<SetArgs>),
}

#[derive(Debug, clap::Args)]
struct SetArgs {
    /// Service board (name or id)
    #[arg(long)]
    board: Option<String>,
    /// Status of new tickets
    #[arg(long)]
    new_status: Option<String>,
    /// Status when the alert clears in Sophos (a closed one needs Close Service Tickets)
    #[arg(long)]
    clear_status: Option<String>,
    /// Open status used instead when the API member may not close tickets
    #[arg(long)]
    resolved_status: Option<String>,
    /// Priority per severity, e.g. --priority high="Priority 1 - Emergency Response" (repeatable)
    #[arg(long = "priority", value_name = "SEVERITY=PRIORITY")]
    priorities: Vec<String>,
    /// Ticket type ("" to clear)
    #[arg(long = "type")]
    type_: Option<String>,
    #[arg(long)]
    subtype: Option<String>,
    #[arg(long)]
    item: Option<String>,
    /// Ticket source, e.g. "Sophos Central"
    #[arg(long)]
    source: Option<String>,
    /// Severities that create tickets, comma-separated (default high,medium)
    #[arg(long, value_delimiter = ',')]
    severities: Option<Vec<String>>,
    /// Products that create tickets, comma-separated ("" for all)
    #[arg(long, value_delimiter = ',')]
    products: Option<Vec<String>>,
    /// Categories that create tickets, comma-separated ("" for all)
    #[arg(long, value_delimiter = ',')]
    categories: Option<Vec<String>>,
    /// Company (id or identifier) for customers without a mapping
    #[arg(long, conflicts_with = "skip_unmapped")]
    fallback_company: Option<String>,
    /// Skip (and count) alerts of unmapped customers instead
    #[arg(long)]
    skip_unmapped: bool,
    /// On a recurrence after the ticket was resolved: new-ticket (default) or reopen
    #[arg(long, value_parser = parse_recurrence)]
    recurrence: Option<Recurrence>,
    /// Acknowledge the Sophos alert when its ticket is closed in ConnectWise (on|off)
    #[arg(long, value_parser = parse_on_off)]
    acknowledge: Option<bool>,
    /// Device link pattern with {tenant_id}, {device_id}, {device_type}
    #[arg(long)]
    device_url: Option<String>,
    /// Seconds between ticket sync cycles when the service runs
    #[arg(long)]
    interval: Option<u64>,
    /// Fill unset statuses, priorities, type and source from the board
    #[arg(long)]
    auto: bool,
}

fn parse_recurrence(s: &str) -> Result<Recurrence, String> {
    match s {
        "new-ticket" | "new" => Ok(Recurrence::NewTicket),
        "reopen" => Ok(Recurrence::Reopen),
        _ => Err("use new-ticket or reopen".into()),
    }
}

fn parse_on_off(s: &str) -> Result<bool, String> {
    match s {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        _ => Err("use on or off".into()),
    }
}

#[derive(Debug, clap::Args)]
struct ListArgs {
    /// How many links
    #[arg(long, default_value_t = 50)]
    limit: u32,
    /// Only this tenant (id)
    #[arg(long)]
    tenant: Option<String>,
}

/// `sync tickets` arguments.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// Print the plan and stop: nothing is written
    #[arg(long)]
    dry_run: bool,
    /// Run one cycle and exit (default: repeat every interval until Ctrl-C)
    #[arg(long)]
    once: bool,
    /// If another ticket sync is running (the service, another shell), wait for it to end instead
    /// of refusing to start
    #[arg(long)]
    wait: bool,
    /// First find alerts on more than one open ticket and close the extra tickets with a note
    /// (with --dry-run: only list them); needs --once
    #[arg(long)]
    repair: bool,
}

fn ticket_err(e: TicketError) -> CliError {
    match e {
        TicketError::NotConfigured | TicketError::Settings(_) | TicketError::Connection(_) => {
            CliError::usage_from(e)
        }
        other => CliError::failure_from(other),
    }
}

/// Shows or changes the ticket settings, or lists recent alert-to-ticket links. Missing connections
/// or settings ConnectWise refuses exit 2.
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    match args.action {
        Action::Settings(s) => match s.action {
            SettingsAction::Show { choices } => show(ctx, choices).await,
            SettingsAction::Set(a) => set(ctx, *a).await,
        },
        Action::List(a) => list(ctx, a).await,
    }
}

#[derive(Serialize)]
struct SettingsView {
    settings: TicketSettings,
    #[serde(skip_serializing_if = "Option::is_none")]
    choices: Option<tickets::Choices>,
}

fn pick(p: &Option<tickets::Pick>) -> String {
    p.as_ref()
        .map_or("-".to_owned(), |p| format!("{} ({})", p.name, p.id))
}

impl Render for SettingsView {
    fn human(&self) -> String {
        let s = &self.settings;
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec!["Setting", "Value"]);
        let list = |v: &[String]| {
            if v.is_empty() {
                "all".to_owned()
            } else {
                v.join(", ")
            }
        };
        for (k, v) in [
            ("Board", pick(&s.board)),
            ("New status", pick(&s.new_status)),
            ("Clear status", pick(&s.clear_status)),
            ("Resolved status (fallback)", pick(&s.resolved_status)),
            ("Priority high", pick(&s.priorities.high)),
            ("Priority medium", pick(&s.priorities.medium)),
            ("Priority low", pick(&s.priorities.low)),
            (
                "Type / subtype / item",
                format!(
                    "{} / {} / {}",
                    pick(&s.type_),
                    pick(&s.subtype),
                    pick(&s.item)
                ),
            ),
            ("Source", pick(&s.source)),
            ("Severities", list(&s.severities)),
            ("Products", list(&s.products)),
            ("Categories", list(&s.categories)),
            (
                "Unmapped customers",
                match (&s.fallback_company, s.skip_unmapped) {
                    (Some(c), false) => format!("fallback company {} ({})", c.name, c.id),
                    _ => "skipped and counted".to_owned(),
                },
            ),
            ("Recurrence", format!("{:?}", s.recurrence)),
            (
                "Acknowledge on close",
                if s.acknowledge_on_close {
                    "on".into()
                } else {
                    "off".into()
                },
            ),
            ("Device link", s.device_url_pattern.clone()),
            ("Interval", format!("{} s", s.interval_s)),
        ] {
            t.add_row(vec![k.to_owned(), v]);
        }
        let mut out = format!("{t}\n");
        if let Some(c) = &self.choices {
            let names = |v: &[tickets::Pick]| {
                v.iter()
                    .map(|p| format!("{} ({})", p.name, p.id))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push_str(&format!("Boards: {}\n", names(&c.boards)));
            let st: Vec<String> = c
                .statuses
                .iter()
                .map(|(p, closed)| {
                    format!(
                        "{} ({}){}",
                        p.name,
                        p.id,
                        if *closed { " [closed]" } else { "" }
                    )
                })
                .collect();
            out.push_str(&format!("Statuses: {}\n", st.join(", ")));
            out.push_str(&format!(
                "Types: {}\nSubtypes: {}\nItems: {}\n",
                names(&c.types),
                names(&c.subtypes),
                names(&c.items)
            ));
            out.push_str(&format!(
                "Priorities: {}\nSources: {}\n",
                names(&c.priorities),
                names(&c.sources)
            ));
        }
        if !s.is_configured() {
            out.push_str(&engine::tickets::messages::not_configured());
            out.push('\n');
        }
        out
    }
}

async fn show(ctx: &Ctx, with_choices: bool) -> Result<(), CliError> {
    let (store, _) = ctx.open_store().await?;
    let settings = tickets::load_settings(&store).await.map_err(ticket_err)?;
    let choices = if with_choices {
        let cw = engine::connections::connectwise_client(&store)
            .await
            .map_err(CliError::usage_from)?;
        Some(
            tickets::choices(&cw, settings.board.as_ref().map(|b| b.id))
                .await
                .map_err(ticket_err)?,
        )
    } else {
        None
    };
    store.close().await;
    ctx.out.emit(&SettingsView { settings, choices })
}

async fn set(ctx: &Ctx, a: SetArgs) -> Result<(), CliError> {
    let mut priorities = Vec::new();
    for p in &a.priorities {
        let (sev, name) = p.split_once('=').ok_or_else(|| {
            CliError::usage(format!(
                "--priority needs SEVERITY=PRIORITY, e.g. high=\"Priority 1\" (got \"{p}\")"
            ))
        })?;
        priorities.push((sev.to_owned(), name.to_owned()));
    }
    let input = SettingsInput {
        board: a.board,
        new_status: a.new_status,
        clear_status: a.clear_status,
        resolved_status: a.resolved_status,
        priorities,
        type_: a.type_,
        subtype: a.subtype,
        item: a.item,
        source: a.source,
        products: a.products,
        categories: a.categories,
        severities: a.severities,
        fallback_company: a.fallback_company,
        skip_unmapped: a.skip_unmapped.then_some(true),
        recurrence: a.recurrence,
        acknowledge_on_close: a.acknowledge,
        device_url_pattern: a.device_url,
        interval_s: a.interval,
        auto: a.auto,
        ..SettingsInput::default()
    };
    let (store, _) = ctx.open_store().await?;
    let cw = engine::connections::connectwise_client(&store)
        .await
        .map_err(CliError::usage_from)?;
    let settings = tickets::update_settings(&store, &cw, &input, &super::sync::actor())
        .await
        .map_err(ticket_err)?;
    store.close().await;
    ctx.out.emit(&SettingsView {
        settings,
        choices: None,
    })
}

#[derive(Serialize)]
struct LinksView {
    links: Vec<LinkRow>,
}

impl Render for LinksView {
    fn human(&self) -> String {
        if self.links.is_empty() {
            return "No alert has made a ticket yet.".to_owned();
        }
        let mut t = Table::new();
        t.load_style(UTF8_FULL_CONDENSED);
        t.set_header(vec![
            "Raised",
            "Alert",
            "Ticket",
            "Role",
            "Alert state",
            "Ticket state",
            "Summary",
        ]);
        for r in &self.links {
            t.add_row(vec![
                r.link
                    .raised_at
                    .map(|t| t.strftime("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_default(),
                r.link.alert_id.clone(),
                r.link
                    .ticket_id
                    .map(|t| format!("#{t}"))
                    .unwrap_or_else(|| "-".into()),
                r.link.role.to_string(),
                r.link.alert_state.to_string(),
                r.ticket
                    .as_ref()
                    .map(|t| t.state.to_string())
                    .unwrap_or_default(),
                r.link.summary.clone(),
            ]);
        }
        format!("{t}\n")
    }
}

async fn list(ctx: &Ctx, a: ListArgs) -> Result<(), CliError> {
    let (store, _) = ctx.open_store().await?;
    let links = tickets::recent_links(&store, a.tenant.as_deref(), a.limit)
        .await
        .map_err(ticket_err)?;
    store.close().await;
    ctx.out.emit(&LinksView { links })
}

struct ReportView<'a>(&'a CycleReport);

impl Serialize for ReportView<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl Render for ReportView<'_> {
    fn human(&self) -> String {
        let r = self.0;
        let c = &r.totals;
        let mut out = format!(
            "Ticket sync{}: {} created, {} adopted (already in ConnectWise), {} noted, {} reopened, {} resolved, {} acknowledged, {} closed in ConnectWise, {} skipped (unmapped)\n",
            if r.dry_run {
                " (dry run: nothing was written)"
            } else {
                ""
            },
            c.created,
            c.adopted,
            c.noted,
            c.reopened,
            c.resolved,
            c.acknowledged,
            c.closed_in_connectwise,
            c.skipped_unmapped
        );
        if r.dry_run {
            let mut t = Table::new();
            t.load_style(UTF8_FULL_CONDENSED);
            t.set_header(vec![
                "Customer",
                "Operation",
                "Ticket / alert",
                "What is sent",
            ]);
            for tr in &r.tenants {
                for op in &tr.plan {
                    let (subject, text) = plan_row(op);
                    t.add_row(vec![tr.name.clone(), op.kind().to_owned(), subject, text]);
                }
            }
            out.push_str(&format!("{t}\n"));
        }
        for tr in r.tenants.iter().filter(|t| !t.ok) {
            out.push_str(&format!(
                "✗ {}: {}\n  {}\n",
                tr.name,
                tr.error.as_deref().unwrap_or("failed"),
                tr.advice.as_deref().unwrap_or("")
            ));
        }
        for w in &r.warnings {
            out.push_str(&format!("! {w}\n"));
        }
        out.push_str(&format!(
            "API calls: Sophos {}, ConnectWise {}\n",
            r.api_calls.sophos, r.api_calls.connectwise
        ));
        out
    }
}

fn ticket_ref(t: &TicketRef) -> String {
    match t {
        TicketRef::Existing(id) => format!("#{id}"),
        TicketRef::CreatedBy(alert) => format!("new ticket of alert {alert}"),
    }
}

/// One dry-run row: which ticket or alert, and the text and choices the vendor would receive.
fn plan_row(op: &Op) -> (String, String) {
    match op {
        Op::MarkClosed { ticket_id } => (
            format!("#{ticket_id}"),
            "closed in ConnectWise by a person: recorded".to_owned(),
        ),
        Op::Acknowledge {
            alert_id,
            ticket_id,
            message,
        } => (
            format!("alert {alert_id} (ticket #{ticket_id})"),
            format!("Sophos acknowledge: {message}"),
        ),
        Op::CannotAcknowledge {
            alert_id,
            ticket_id,
        } => (
            format!("alert {alert_id} (ticket #{ticket_id})"),
            "Sophos does not allow acknowledging this alert: reported".to_owned(),
        ),
        Op::MarkCleared { alert_id } => (
            format!("alert {alert_id}"),
            "gone from Sophos (its ticket has other open alerts): recorded".to_owned(),
        ),
        Op::Resolve {
            ticket_id,
            note,
            clear_status,
            resolved_status,
            ..
        } => (
            format!("#{ticket_id}"),
            format!(
                "resolution note:\n{note}\nstatus: {} (if closing is refused: {})",
                pick(clear_status),
                pick(resolved_status)
            ),
        ),
        Op::CreateTicket {
            alert_id, ticket, ..
        } => (
            format!("new (alert {alert_id})"),
            format!(
                "{}\ncompany {}, board {}, status {}, type {}, subtype {}, item {}, priority {}, source {}, severity {:?}\n{}",
                ticket.summary,
                ticket.company_id,
                pick(&ticket.board),
                pick(&ticket.status),
                pick(&ticket.type_),
                pick(&ticket.subtype),
                pick(&ticket.item),
                pick(&ticket.priority),
                pick(&ticket.source),
                ticket.severity,
                ticket.description
            ),
        ),
        Op::LookupTicket {
            alert_id, summary, ..
        } => (
            format!("alert {alert_id}"),
            format!(
                "look up the ticket an interrupted run may have created (nothing is sent): {summary}"
            ),
        ),
        Op::AddNote {
            ticket, repeats, ..
        } => {
            let parts: Vec<&str> = repeats.iter().filter_map(|r| r.note.as_deref()).collect();
            (
                ticket_ref(ticket),
                if parts.is_empty() {
                    "the alert is gone from Sophos: no note, recorded".to_owned()
                } else {
                    format!("note:\n{}", engine::tickets::content::repeats_note(&parts))
                },
            )
        }
        Op::Reopen {
            ticket_id,
            status,
            note,
            ..
        } => (
            format!("#{ticket_id}"),
            format!("status: {}\nnote:\n{note}", pick(status)),
        ),
        Op::Skip { alert_id, reason } => (
            format!("alert {alert_id}"),
            match reason {
                SkipReason::Unmapped => {
                    "skipped: the tenant is not mapped and there is no fallback company"
                }
                SkipReason::Filtered => {
                    "skipped: its product, category or severity is not selected"
                }
            }
            .to_owned(),
        ),
    }
}

#[derive(Serialize)]
struct Repaired(Vec<tickets::Duplicate>);

impl Render for Repaired {
    fn human(&self) -> String {
        if self.0.is_empty() {
            return "No alert is on more than one open ticket.\n".to_owned();
        }
        let mut out = String::new();
        for d in &self.0 {
            let list = |v: &[TicketId]| {
                v.iter()
                    .map(|i| format!("#{i}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            out.push_str(&format!("alert {}: kept #{}", d.alert_id, d.kept));
            if !d.closed.is_empty() {
                out.push_str(&format!(", closed {}", list(&d.closed)));
            }
            if !d.left_open.is_empty() {
                out.push_str(&format!(", still open {}", list(&d.left_open)));
            }
            out.push('\n');
            if let Some(p) = &d.problem {
                out.push_str(&format!("  {p}\n"));
            }
        }
        out
    }
}

/// `centralbridge sync tickets [--dry-run] [--once] [--wait] [--repair]`: each cycle is one run of
/// the harness.
pub async fn run_sync(ctx: &Ctx, a: SyncArgs) -> Result<(), CliError> {
    if a.repair && !(a.once || a.dry_run) {
        return Err(CliError::usage(crate::messages::repair_needs_once()));
    }
    let (store, _) = ctx.open_store().await?;
    let cw = engine::connections::connectwise_client(&store)
        .await
        .map_err(CliError::usage_from)?;
    let sophos = engine::connections::sophos_client(&store)
        .await
        .map_err(CliError::usage_from)?;
    let once = a.once || a.dry_run;
    loop {
        let how = super::run::CliStart {
            dry_run: a.dry_run,
            // Repeating, a cycle that finds the service running one waits for it instead of ending
            // the loop: the next cycle is then due anyway.
            wait: a.wait || !once,
            signals: true,
        };
        let cli_run = super::run::start(ctx, &store, Job::Tickets, how).await?;
        let stop = cli_run.run().stop_handle();
        if a.repair {
            let repaired = tickets::repair_duplicates(&store, &cw, cli_run.run()).await;
            match repaired {
                Ok(d) => ctx.out.emit(&Repaired(d))?,
                Err(e) => {
                    let end = engine::job::RunEnd::failed(e.to_string());
                    cli_run.finish(&end).await?;
                    return Err(ticket_err(e));
                }
            }
        }
        let result = tickets::run_cycle(&store, &cw, &sophos, cli_run.run()).await;
        let finished = cli_run.finish(&result.run_end()).await;
        let report = result.map_err(ticket_err)?;
        ctx.out.emit(&ReportView(&report))?;
        finished?;
        let failed = report.failed();
        if once {
            store.close().await;
            if failed > 0 {
                return Err(CliError::failure(format!(
                    "{failed} customer(s) failed; see the error and advice above (or `centralbridge status --failed`)."
                )));
            }
            return Ok(());
        }
        let interval = tickets::load_settings(&store)
            .await
            .map_err(ticket_err)?
            .interval_s
            .max(1);
        drop(stop);
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(interval)) => {}
            _ = crate::service::wait_for_signal() => { store.close().await; return Ok(()); }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use engine::tickets::{Pick, Repeat, TicketDraft, TicketSeverity};

    #[test]
    fn dry_run_rows_show_what_connectwise_receives() {
        let board = Some(Pick {
            id: 1,
            name: "Help Desk".into(),
        });
        let create = Op::CreateTicket {
            alert_id: "a-1".into(),
            group_key: "t|d|k".into(),
            unmapped: false,
            previous_ticket_id: None,
            ticket: Box::new(TicketDraft {
                summary: "[High] Threat detected on PC-1 — Acme".into(),
                description: "Sophos Central alert for Acme".into(),
                company_id: engine::ids::CompanyId::new(250),
                board,
                status: None,
                type_: None,
                subtype: None,
                item: None,
                priority: None,
                source: None,
                severity: TicketSeverity::High,
            }),
            repeats: Vec::new(),
        };
        let (subject, text) = plan_row(&create);
        assert_eq!(subject, "new (alert a-1)");
        assert!(
            text.starts_with("[High] Threat detected on PC-1 — Acme\n"),
            "{text}"
        );
        assert!(
            text.contains("company 250, board Help Desk (1), status -"),
            "{text}"
        );
        assert!(text.ends_with("Sophos Central alert for Acme"), "{text}");
        // Never the raw JSON of the op.
        assert!(!text.contains("\"op\""), "{text}");

        let note = Op::AddNote {
            group_key: "t|d|k".into(),
            ticket: TicketRef::CreatedBy("a-1".into()),
            repeats: vec![Repeat {
                alert_id: "a-2".into(),
                summary: String::new(),
                note: Some("Repeated: a-2".into()),
            }],
        };
        assert_eq!(
            plan_row(&note),
            (
                "new ticket of alert a-1".to_owned(),
                "note:\nRepeated: a-2".to_owned()
            )
        );
    }
}
