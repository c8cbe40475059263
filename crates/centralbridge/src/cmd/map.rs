//! `centralbridge map`: suggestions, confirmation, manual mapping, listing, CSV export/import.

use std::path::PathBuf;

use clap::Subcommand;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use engine::ids::AgreementId;
use engine::mapping::{
    self, AcceptOptions, AcceptOutcome, CustomerFilter, CustomerRow, ImportOutcome, MappingChange,
    MappingError, MappingInput, SuggestOptions, Suggestion,
};
use engine::store::Store;
use serde::Serialize;

use crate::context::Ctx;
use crate::error::CliError;
use crate::output::Render;

/// Arguments of `centralbridge map`: the audit actor and the action.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Who the audit log names [default: the OS user]
    #[arg(long, global = true, value_name = "NAME")]
    actor: Option<String>,
    #[command(subcommand)]
    action: Action,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Switch {
    On,
    Off,
}

impl Switch {
    fn on(self) -> bool {
        matches!(self, Switch::On)
    }
}

#[derive(Debug, Subcommand)]
enum Action {
    /// Show scored ConnectWise companies for each unmapped Sophos tenant (nothing is mapped)
    Suggest {
        /// Only this tenant (id or name)
        #[arg(long)]
        tenant: Option<String>,
        /// Candidates below this score are not shown
        #[arg(long, default_value_t = 0.6, value_parser = score)]
        floor: f64,
        /// Best two within this margin are flagged ambiguous
        #[arg(long, default_value_t = 0.05, value_parser = score)]
        margin: f64,
    },
    /// Confirm every unambiguous suggestion scoring at least --min-score
    Accept {
        /// 1.0 = only exact matches after normalisation
        #[arg(long, value_name = "S", value_parser = score)]
        min_score: f64,
        /// Turn usage sync on for accepted customers that got an agreement
        #[arg(long)]
        usage_sync: bool,
        /// Turn ticket sync on for accepted customers
        #[arg(long)]
        ticket_sync: bool,
        /// Show what would be accepted; change nothing
        #[arg(long)]
        dry_run: bool,
        #[arg(long, default_value_t = 0.05, value_parser = score)]
        margin: f64,
    },
    /// Map a tenant to a company (and agreement), or change its switches
    Set {
        /// Tenant id or exact name
        #[arg(long)]
        tenant: String,
        /// Company id or identifier (omit to change only the switches)
        #[arg(long)]
        company: Option<String>,
        /// Agreement id (needed for usage sync)
        #[arg(long)]
        agreement: Option<AgreementId>,
        /// Remove the agreement
        #[arg(long, conflicts_with = "agreement")]
        no_agreement: bool,
        #[arg(long, value_enum)]
        usage_sync: Option<Switch>,
        #[arg(long, value_enum)]
        ticket_sync: Option<Switch>,
        /// Replace a mapping to another company
        #[arg(long)]
        replace: bool,
    },
    /// Remove a tenant's mapping
    Clear {
        #[arg(long)]
        tenant: String,
    },
    /// List customers with their mapping and warnings
    List {
        #[arg(long, conflicts_with_all = ["mapped", "warnings"])]
        unmapped: bool,
        #[arg(long)]
        mapped: bool,
        /// Only mappings with a problem
        #[arg(long)]
        warnings: bool,
        /// Text in the tenant or company name or identifier, or an id
        #[arg(long)]
        search: Option<String>,
    },
    /// Write all customers and mappings as CSV
    Export {
        /// File to write [default: stdout]
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Apply a CSV file: every row is checked first; all rows are applied or none
    Import {
        file: PathBuf,
        #[arg(long)]
        dry_run: bool,
        /// A missing agreement_id, usage_sync or ticket_sync column keeps each customer's current
        /// value (without it, such a file is refused)
        #[arg(long)]
        keep_missing: bool,
    },
}

/// A score from 0 to 1: anything else (NaN, 2, "high") is refused before anything runs.
fn score(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(v) if (0.0..=1.0).contains(&v) => Ok(v),
        _ => Err(crate::messages::bad_score(text)),
    }
}

/// A mapping error as the CLI reports it (refusals and bad input exit 2).
pub fn mapping_error(e: MappingError) -> CliError {
    if e.is_usage_error() {
        CliError::usage_from(e)
    } else {
        CliError::failure_from(e)
    }
}

/// Runs one mapping action as `--actor` (else the OS user); refusals and bad input exit 2.
pub async fn run(ctx: &Ctx, args: Args) -> Result<(), CliError> {
    let actor = args.actor.clone().unwrap_or_else(crate::cmd::sync::actor);
    let (store, _) = ctx.open_store().await?;
    let result = act(ctx, &store, &actor, args.action).await;
    store.close().await;
    result
}

async fn act(ctx: &Ctx, store: &Store, actor: &str, action: Action) -> Result<(), CliError> {
    match action {
        Action::Suggest {
            tenant,
            floor,
            margin,
        } => {
            let tenant_id = match tenant {
                Some(t) => Some(
                    mapping::resolve_tenant(store, &t)
                        .await
                        .map_err(mapping_error)?
                        .id,
                ),
                None => None,
            };
            let opts = SuggestOptions {
                floor,
                ambiguity_margin: margin,
                tenant_id,
                ..SuggestOptions::default()
            };
            let list = mapping::suggest(store, &opts)
                .await
                .map_err(mapping_error)?;
            ctx.out.emit(&Suggestions(list))
        }
        Action::Accept {
            min_score,
            usage_sync,
            ticket_sync,
            dry_run,
            margin,
        } => {
            let opts = AcceptOptions {
                min_score,
                usage_sync,
                ticket_sync,
                dry_run,
                suggest: SuggestOptions {
                    ambiguity_margin: margin,
                    ..SuggestOptions::default()
                },
            };
            let out = mapping::accept(store, actor, &opts)
                .await
                .map_err(mapping_error)?;
            ctx.out.emit(&Accepted(out))
        }
        Action::Set {
            tenant,
            company,
            agreement,
            no_agreement,
            usage_sync,
            ticket_sync,
            replace,
        } => {
            let t = mapping::resolve_tenant(store, &tenant)
                .await
                .map_err(mapping_error)?;
            let change = match company {
                Some(c) => {
                    let c = mapping::resolve_company(store, &c)
                        .await
                        .map_err(mapping_error)?;
                    let input = MappingInput {
                        tenant_id: t.id.clone(),
                        company_id: c.id,
                        agreement_id: agreement,
                        clear_agreement: no_agreement,
                        usage_sync: usage_sync.map(Switch::on),
                        ticket_sync: ticket_sync.map(Switch::on),
                        replace,
                    };
                    mapping::set_mapping(store, actor, &input).await
                }
                None if agreement.is_some() || no_agreement => {
                    return Err(CliError::usage(
                        "--agreement and --no-agreement need --company",
                    ));
                }
                None => {
                    mapping::set_switches(
                        store,
                        actor,
                        &t.id,
                        usage_sync.map(Switch::on),
                        ticket_sync.map(Switch::on),
                    )
                    .await
                }
            }
            .map_err(mapping_error)?;
            ctx.out.emit(&Changed {
                what: "mapping",
                change,
            })
        }
        Action::Clear { tenant } => {
            let t = mapping::resolve_tenant(store, &tenant)
                .await
                .map_err(mapping_error)?;
            let change = mapping::clear_mapping(store, actor, &t.id)
                .await
                .map_err(mapping_error)?;
            ctx.out.emit(&Changed {
                what: "mapping",
                change,
            })
        }
        Action::List {
            unmapped,
            mapped,
            warnings,
            search,
        } => {
            let filter = CustomerFilter {
                mapped: if unmapped {
                    Some(false)
                } else if mapped {
                    Some(true)
                } else {
                    None
                },
                warnings_only: warnings,
                search,
                include_gone: false,
            };
            let rows = mapping::list_customers(store, &filter)
                .await
                .map_err(mapping_error)?;
            ctx.out.emit(&Customers(rows))
        }
        Action::Export { output } => {
            let n = match &output {
                Some(path) => {
                    let file = std::fs::File::create(path).map_err(|e| {
                        CliError::usage(format!("cannot write {}: {e}", path.display()))
                    })?;
                    mapping::export_csv(store, file).await
                }
                None => mapping::export_csv(store, std::io::stdout().lock()).await,
            }
            .map_err(mapping_error)?;
            if let Some(path) = output {
                eprintln!("wrote {n} customers to {}", path.display());
            }
            Ok(())
        }
        Action::Import {
            file,
            dry_run,
            keep_missing,
        } => {
            let reader = std::fs::File::open(&file)
                .map_err(|e| CliError::usage(crate::messages::cannot_read_csv(&file, &e)))?;
            let name = file.display().to_string();
            let opts = mapping::ImportOptions {
                dry_run,
                keep_missing,
            };
            let out = mapping::import_csv_with(store, actor, reader, &name, &opts)
                .await
                .map_err(mapping_error)?;
            ctx.out.emit(&Imported(out))
        }
    }
}

fn yes(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

#[derive(Serialize)]
#[serde(transparent)]
struct Suggestions(Vec<Suggestion>);

impl Render for Suggestions {
    fn human(&self) -> String {
        if self.0.is_empty() {
            return "Every Sophos tenant is mapped (or none is known yet: run `centralbridge refresh`).\n".into();
        }
        let mut table = Table::new();
        table.load_style(UTF8_FULL_CONDENSED);
        table.set_header(vec![
            "Sophos tenant",
            "Candidate companies (score)",
            "Agreements of the best",
            "Note",
        ]);
        for s in &self.0 {
            let cands: Vec<String> = s
                .candidates
                .iter()
                .map(|c| {
                    format!(
                        "{} [{} / id {}] {:.2}{}",
                        c.name,
                        c.identifier,
                        c.company_id,
                        c.score,
                        if c.inactive { " (inactive)" } else { "" }
                    )
                })
                .collect();
            let agreements: Vec<String> = s
                .best()
                .map(|b| {
                    b.agreements
                        .iter()
                        .map(|a| {
                            format!(
                                "{} {} ({})",
                                a.id,
                                a.name,
                                a.status.as_deref().unwrap_or("?")
                            )
                        })
                        .collect()
                })
                .unwrap_or_default();
            let note = if s.candidates.is_empty() {
                "no match".to_owned()
            } else if s.ambiguous {
                "AMBIGUOUS: choose with map set".to_owned()
            } else if !s.contested_by.is_empty() {
                format!("also best for {}", s.contested_by.join(", "))
            } else {
                String::new()
            };
            table.add_row(vec![
                format!("{}\n{}", s.tenant_name, s.tenant_id),
                cands.join("\n"),
                agreements.join("\n"),
                note,
            ]);
        }
        format!(
            "{table}\nSuggestions are not used until confirmed: `centralbridge map accept --min-score 1.0` or `map set`.\n"
        )
    }
}

#[derive(Serialize)]
#[serde(transparent)]
struct Accepted(AcceptOutcome);

impl Render for Accepted {
    fn human(&self) -> String {
        let o = &self.0;
        let mut out = String::new();
        let verb = if o.dry_run { "would map" } else { "mapped" };
        for a in &o.accepted {
            out.push_str(&format!(
                "{verb} \"{}\" -> \"{}\" (score {:.2}){}\n",
                a.tenant_name,
                a.company_name,
                a.score,
                a.note
                    .as_deref()
                    .map(|n| format!(": {n}"))
                    .unwrap_or_default()
            ));
        }
        for s in &o.skipped {
            out.push_str(&format!("left \"{}\": {}\n", s.tenant_name, s.reason));
        }
        out.push_str(&format!(
            "{} accepted, {} left for a person{}\n",
            o.accepted.len(),
            o.skipped.len(),
            if o.dry_run {
                " (dry run: nothing changed)"
            } else {
                ""
            }
        ));
        out
    }
}

#[derive(Serialize)]
struct Changed {
    #[serde(skip)]
    what: &'static str,
    #[serde(flatten)]
    change: MappingChange,
}

impl Render for Changed {
    fn human(&self) -> String {
        let c = &self.change;
        let show = |m: &Option<engine::store::Mapping>| match m {
            Some(m) => format!(
                "company {}, agreement {}, usage sync {}, ticket sync {}",
                m.company_id,
                m.agreement_id
                    .map(|a| a.to_string())
                    .unwrap_or_else(|| "none".into()),
                yes(m.usage_sync),
                yes(m.ticket_sync)
            ),
            None => "not mapped".into(),
        };
        if !c.changed() {
            format!(
                "{} of tenant {} unchanged: {}\n",
                self.what,
                c.tenant_id,
                show(&c.after)
            )
        } else {
            format!(
                "tenant {}: {} -> {}\n",
                c.tenant_id,
                show(&c.before),
                show(&c.after)
            )
        }
    }
}

#[derive(Serialize)]
#[serde(transparent)]
struct Customers(Vec<CustomerRow>);

impl Render for Customers {
    fn human(&self) -> String {
        if self.0.is_empty() {
            return "No customers match.\n".into();
        }
        let mut table = Table::new();
        table.load_style(UTF8_FULL_CONDENSED);
        table.set_header(vec![
            "Sophos customer",
            "ConnectWise company",
            "Agreement",
            "Usage",
            "Tickets",
            "Warnings",
        ]);
        let mut advice = Vec::new();
        for r in &self.0 {
            let company = r
                .company
                .as_ref()
                .map(|c| format!("{} [{}]", c.name, c.identifier))
                .unwrap_or_else(|| "-".into());
            let agreement = r
                .agreement
                .as_ref()
                .map(|a| format!("{} ({})", a.name, a.id))
                .unwrap_or_else(|| "-".into());
            let (u, t) = r
                .mapping
                .as_ref()
                .map(|m| (yes(m.usage_sync), yes(m.ticket_sync)))
                .unwrap_or(("-", "-"));
            let warnings: Vec<String> = r.warnings.iter().map(|w| w.message.clone()).collect();
            for w in &r.warnings {
                advice.push(format!("{}: {} -- {}", r.tenant.name, w.message, w.advice));
            }
            table.add_row(vec![
                r.tenant.name.clone(),
                company,
                agreement,
                u.into(),
                t.into(),
                warnings.join("\n"),
            ]);
        }
        let mapped = self.0.iter().filter(|r| r.is_mapped()).count();
        let mut out = format!("{table}\n{} customers, {mapped} mapped\n", self.0.len());
        for a in advice {
            out.push_str(&format!("warning: {a}\n"));
        }
        out
    }
}

#[derive(Serialize)]
#[serde(transparent)]
struct Imported(ImportOutcome);

impl Render for Imported {
    fn human(&self) -> String {
        let o = &self.0;
        let mut out = String::new();
        if !o.kept_columns.is_empty() {
            out.push_str(&crate::messages::kept_columns(&o.kept_columns));
            out.push('\n');
        }
        for c in &o.changes {
            let after = c
                .after
                .as_ref()
                .map(|m| {
                    format!(
                        "company {}, agreement {}",
                        m.company_id,
                        m.agreement_id
                            .map(|a| a.to_string())
                            .unwrap_or_else(|| "none".into())
                    )
                })
                .unwrap_or_else(|| "not mapped".into());
            out.push_str(&format!("tenant {}: {after}\n", c.tenant_id));
        }
        out.push_str(&format!(
            "{} rows: {} changed, {} unchanged{}\n",
            o.rows,
            o.changes.len(),
            o.unchanged,
            if o.dry_run {
                " (dry run: nothing changed)"
            } else {
                ""
            }
        ));
        out
    }
}
