//! CSV export and import of mappings.
//!
//! The export lists every customer (unmapped ones with empty company cells), so it can be edited in a
//! spreadsheet and imported back. The import treats each row as the wanted state of that tenant
//! (empty company = no mapping), validates every row against the rules over the *final* state, and
//! applies all rows in one transaction -- or none, listing every bad row.

use std::collections::HashMap;
use std::io::{Read, Write};

use jiff::Timestamp;
use serde::Serialize;

use super::list::{CustomerFilter, list_customers};
use super::rules::{Holder, MappingChange, Proposal, audit_for, check, tenant_label, write};
use super::{MappingError, messages};
use crate::ids::{AgreementId, CompanyId, TenantId};
use crate::store::{
    AgreementRecord, CompanyRecord, Mapping, MappingSource, MappingStore as _, Store, TenantRecord,
};

/// The columns, in order. `tenant_name`, `company_name` and `agreement_name` are for people and are
/// ignored on import; the ids (or the company identifier) decide.
pub const CSV_COLUMNS: [&str; 9] = [
    "tenant_id",
    "tenant_name",
    "company_id",
    "company_identifier",
    "company_name",
    "agreement_id",
    "agreement_name",
    "usage_sync",
    "ticket_sync",
];

fn on_off(b: bool) -> &'static str {
    if b { "on" } else { "off" }
}

/// Writes every customer (mapped or not) as CSV; returns the number of rows.
pub async fn export_csv(store: &Store, out: impl Write) -> Result<usize, MappingError> {
    let rows = list_customers(store, &CustomerFilter::default()).await?;
    let mut w = csv::Writer::from_writer(out);
    let csv_err = |e: csv::Error| MappingError::Csv(messages::csv_unreadable(&e.to_string()));
    w.write_record(CSV_COLUMNS).map_err(csv_err)?;
    for r in &rows {
        let m = r.mapping.as_ref();
        let record = [
            r.tenant.id.to_string(),
            r.tenant.name.clone(),
            m.map(|m| m.company_id.to_string()).unwrap_or_default(),
            r.company
                .as_ref()
                .map(|c| c.identifier.clone())
                .unwrap_or_default(),
            r.company
                .as_ref()
                .map(|c| c.name.clone())
                .unwrap_or_default(),
            m.and_then(|m| m.agreement_id)
                .map(|a| a.to_string())
                .unwrap_or_default(),
            r.agreement
                .as_ref()
                .map(|a| a.name.clone())
                .unwrap_or_default(),
            on_off(m.is_some_and(|m| m.usage_sync)).to_owned(),
            on_off(m.is_some_and(|m| m.ticket_sync)).to_owned(),
        ];
        w.write_record(&record).map_err(csv_err)?;
    }
    w.flush()
        .map_err(|e| MappingError::Csv(messages::csv_unreadable(&e.to_string())))?;
    Ok(rows.len())
}

/// Everything wrong with one row of an import.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RowProblem {
    /// 1-based line in the file (the header is line 1).
    pub line: u64,
    /// The row's tenant as people know it (its label, else the id as given), or `?` without an id.
    pub tenant: String,
    /// Every problem found in the row, each a sentence for the engineer.
    pub problems: Vec<String>,
}

impl RowProblem {
    /// All problems as indented lines, one per row: `line N (tenant): problem; problem`.
    pub fn render_all(all: &[RowProblem]) -> String {
        all.iter()
            .map(|p| {
                format!(
                    "  line {} ({}): {}",
                    p.line,
                    p.tenant,
                    p.problems.join("; ")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// What an import did (or, with `dry_run`, would do).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImportOutcome {
    /// Nothing was written: the changes are what the import would do.
    pub dry_run: bool,
    /// Data rows in the file.
    pub rows: usize,
    /// Rows that match the current mapping.
    pub unchanged: usize,
    /// Only the rows that change something.
    pub changes: Vec<MappingChange>,
    /// Columns missing from the file whose current values were kept (`--keep-missing`).
    pub kept_columns: Vec<String>,
}

/// How to import.
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions {
    /// Check and plan only: nothing is written.
    pub dry_run: bool,
    /// A missing `agreement_id`, `usage_sync` or `ticket_sync` column keeps each row's current value
    /// instead of refusing the file.
    pub keep_missing: bool,
}

/// Columns whose absence would silently change every row (an absent switch reads as "off", an
/// absent agreement as "none"): refused unless the import keeps current values.
const VALUE_COLUMNS: [&str; 3] = ["agreement_id", "usage_sync", "ticket_sync"];

fn parse_bool(column: &str, value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "off" | "false" | "no" | "0" | "n" => Ok(false),
        "on" | "true" | "yes" | "1" | "y" => Ok(true),
        _ => Err(messages::csv_bad_bool(column, value)),
    }
}

struct Row {
    line: u64,
    tenant_id: TenantId,
    company_id: Option<CompanyId>,
    agreement_id: Option<AgreementId>,
    usage_sync: bool,
    ticket_sync: bool,
    problems: Vec<String>,
}

/// Validates the whole file, then applies every row in one transaction (nothing when `dry_run`).
/// Any bad row refuses the whole import with [`MappingError::ImportRejected`] listing every bad row;
/// a file without one of the value columns is refused before any row is read.
pub async fn import_csv(
    store: &Store,
    actor: &str,
    input: impl Read,
    source_name: &str,
    dry_run: bool,
) -> Result<ImportOutcome, MappingError> {
    let opts = ImportOptions {
        dry_run,
        keep_missing: false,
    };
    import_csv_with(store, actor, input, source_name, &opts).await
}

/// What the store knows, indexed for checking a file's rows.
struct Known {
    tenants: HashMap<TenantId, TenantRecord>,
    companies: HashMap<CompanyId, CompanyRecord>,
    /// Lower-cased ConnectWise identifier -> the companies that carry it.
    by_identifier: HashMap<String, Vec<CompanyId>>,
    agreements: HashMap<AgreementId, AgreementRecord>,
    current: HashMap<TenantId, Mapping>,
}

impl Known {
    async fn load(store: &Store) -> Result<Self, MappingError> {
        let tenants = store
            .list_tenants()
            .await?
            .into_iter()
            .map(|t| (t.id.clone(), t))
            .collect();
        let companies: HashMap<CompanyId, CompanyRecord> = store
            .list_companies(true)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
        let mut by_identifier: HashMap<String, Vec<CompanyId>> = HashMap::new();
        for c in companies.values() {
            by_identifier
                .entry(c.identifier.to_ascii_lowercase())
                .or_default()
                .push(c.id);
        }
        let agreements = store
            .list_agreements()
            .await?
            .into_iter()
            .map(|a| (a.id, a))
            .collect();
        let current = store
            .list_mappings()
            .await?
            .into_iter()
            .map(|m| (m.tenant_id.clone(), m))
            .collect();
        Ok(Known {
            tenants,
            companies,
            by_identifier,
            agreements,
            current,
        })
    }

    /// The company a row names by id or by identifier (one live company of that identifier).
    fn company(
        &self,
        raw_id: &str,
        raw_identifier: &str,
        problems: &mut Vec<String>,
    ) -> Option<CompanyId> {
        if !raw_id.is_empty() {
            return match raw_id.parse::<i64>().map(CompanyId::new) {
                Ok(id) if self.companies.contains_key(&id) => Some(id),
                Ok(_) => {
                    problems.push(messages::unknown_company(raw_id));
                    None
                }
                Err(_) => {
                    problems.push(messages::csv_bad_number("company_id", raw_id));
                    None
                }
            };
        }
        if raw_identifier.is_empty() {
            return None;
        }
        let ids = self
            .by_identifier
            .get(&raw_identifier.to_ascii_lowercase())
            .cloned()
            .unwrap_or_default();
        let live: Vec<CompanyId> = ids
            .iter()
            .copied()
            .filter(|id| {
                self.companies
                    .get(id)
                    .is_some_and(|c| !c.deleted && !c.gone)
            })
            .collect();
        match (ids.as_slice(), live.as_slice()) {
            ([], _) => {
                problems.push(messages::unknown_company(raw_identifier));
                None
            }
            ([one], _) | (_, [one]) => Some(*one),
            _ => {
                problems.push(messages::ambiguous_company(
                    raw_identifier,
                    &ids.iter().map(|i| i.to_string()).collect::<Vec<_>>(),
                ));
                None
            }
        }
    }

    /// The agreement a row names (none for an empty cell).
    fn agreement(&self, raw: &str, problems: &mut Vec<String>) -> Option<AgreementId> {
        if raw.is_empty() {
            return None;
        }
        match raw.parse::<i64>().map(AgreementId::new) {
            Ok(id) if self.agreements.contains_key(&id) => Some(id),
            Ok(id) => {
                problems.push(messages::unknown_agreement(id));
                None
            }
            Err(_) => {
                problems.push(messages::csv_bad_number("agreement_id", raw));
                None
            }
        }
    }

    fn label_of(&self, tenant_id: &str) -> String {
        match self.tenants.get(tenant_id) {
            Some(t) => tenant_label(t),
            None => tenant_id.to_owned(),
        }
    }
}

/// Where the file's columns are.
struct Columns {
    tenant: usize,
    company_id: Option<usize>,
    identifier: Option<usize>,
    agreement: Option<usize>,
    usage: Option<usize>,
    ticket: Option<usize>,
    /// Value columns the file lacks (their current values are kept).
    missing: Vec<String>,
}

impl Columns {
    fn find(headers: &csv::StringRecord, opts: &ImportOptions) -> Result<Self, MappingError> {
        let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
        let tenant = col("tenant_id")
            .ok_or_else(|| MappingError::Csv(messages::csv_bad_header("tenant_id")))?;
        let company_id = col("company_id");
        let identifier = col("company_identifier");
        if company_id.is_none() && identifier.is_none() {
            return Err(MappingError::Csv(messages::csv_bad_header("company_id")));
        }
        let missing: Vec<String> = VALUE_COLUMNS
            .iter()
            .filter(|c| col(c).is_none())
            .map(|c| (*c).to_owned())
            .collect();
        if !missing.is_empty() && !opts.keep_missing {
            return Err(MappingError::Csv(messages::csv_missing_columns(&missing)));
        }
        Ok(Columns {
            tenant,
            company_id,
            identifier,
            agreement: col("agreement_id"),
            usage: col("usage_sync"),
            ticket: col("ticket_sync"),
            missing,
        })
    }
}

/// One line of the file read and checked on its own (the one-to-one checks come later).
fn read_row(
    known: &Known,
    cols: &Columns,
    record: &csv::StringRecord,
    first_line: &mut HashMap<String, u64>,
) -> Row {
    let line = record.position().map(|p| p.line()).unwrap_or(0);
    let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").trim();
    let mut problems = Vec::new();
    let tenant_id = TenantId::new(get(Some(cols.tenant)));
    if tenant_id.is_empty() {
        problems.push(messages::csv_no_tenant());
    } else if !known.tenants.contains_key(tenant_id.as_str()) {
        problems.push(messages::unknown_tenant(&tenant_id));
    } else if let Some(first) = first_line.get(tenant_id.as_str()) {
        problems.push(messages::csv_duplicate_tenant(*first));
    } else {
        first_line.insert(tenant_id.to_string(), line);
    }
    let raw_company = get(cols.company_id);
    let raw_identifier = get(cols.identifier);
    let company_id = known.company(raw_company, raw_identifier, &mut problems);
    let kept = known.current.get(tenant_id.as_str());
    let agreement_id = if cols.agreement.is_none() {
        kept.and_then(|m| m.agreement_id)
    } else {
        known.agreement(get(cols.agreement), &mut problems)
    };
    let mut switch = |name: &str, column: Option<usize>, now: Option<bool>| {
        let value = match column {
            None => Ok(now.unwrap_or(false)),
            Some(_) => parse_bool(name, get(column)),
        };
        value.unwrap_or_else(|e| {
            problems.push(e);
            false
        })
    };
    let usage_sync = switch("usage_sync", cols.usage, kept.map(|m| m.usage_sync));
    let ticket_sync = switch("ticket_sync", cols.ticket, kept.map(|m| m.ticket_sync));
    if company_id.is_none()
        && raw_company.is_empty()
        && raw_identifier.is_empty()
        && agreement_id.is_some()
    {
        // An agreement without a company cannot be mapped.
        problems.push(messages::csv_agreement_without_company());
    }
    Row {
        line,
        tenant_id,
        company_id,
        agreement_id,
        usage_sync,
        ticket_sync,
        problems,
    }
}

/// Who holds each company and agreement once the whole file is applied: current mappings,
/// overridden by every row of the file.
struct Holders {
    companies: HashMap<i64, Vec<String>>,
    agreements: HashMap<i64, Vec<String>>,
}

impl Holders {
    fn after(known: &Known, rows: &[Row]) -> Self {
        let mut final_state: HashMap<String, (Option<CompanyId>, Option<AgreementId>)> = known
            .current
            .iter()
            .map(|(t, m)| (t.to_string(), (Some(m.company_id), m.agreement_id)))
            .collect();
        for r in rows
            .iter()
            .filter(|r| known.tenants.contains_key(r.tenant_id.as_str()))
        {
            final_state.insert(r.tenant_id.to_string(), (r.company_id, r.agreement_id));
        }
        let mut h = Holders {
            companies: HashMap::new(),
            agreements: HashMap::new(),
        };
        for (t, (c, a)) in final_state {
            if let Some(c) = c {
                h.companies.entry(c.get()).or_default().push(t.clone());
            }
            if let Some(a) = a {
                h.agreements.entry(a.get()).or_default().push(t);
            }
        }
        h
    }

    /// Another tenant holding `key` (the first by id), if any.
    fn other(
        known: &Known,
        holders: &HashMap<i64, Vec<String>>,
        key: i64,
        me: &str,
    ) -> Option<Holder> {
        let mut others: Vec<&String> = holders
            .get(&key)
            .into_iter()
            .flatten()
            .filter(|t| t.as_str() != me)
            .collect();
        others.sort();
        others.first().map(|t| Holder {
            tenant_id: TenantId::new(t.as_str()),
            label: known.label_of(t),
        })
    }
}

/// [`import_csv`] with every option.
pub async fn import_csv_with(
    store: &Store,
    actor: &str,
    input: impl Read,
    source_name: &str,
    opts: &ImportOptions,
) -> Result<ImportOutcome, MappingError> {
    let dry_run = opts.dry_run;
    let known = Known::load(store).await?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| MappingError::Csv(messages::csv_unreadable(&e.to_string())))?
        .clone();
    let cols = Columns::find(&headers, opts)?;
    let mut rows: Vec<Row> = Vec::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record =
            record.map_err(|e| MappingError::Csv(messages::csv_unreadable(&e.to_string())))?;
        rows.push(read_row(&known, &cols, &record, &mut first_line));
    }
    let holders = Holders::after(&known, &rows);
    let Known {
        tenants,
        companies,
        agreements,
        current,
        ..
    } = &known;
    let label_of = |tenant_id: &str| known.label_of(tenant_id);
    let other_holder = |holders: &HashMap<i64, Vec<String>>, key: i64, me: &str| {
        Holders::other(&known, holders, key, me)
    };
    let company_holders = &holders.companies;
    let agreement_holders = &holders.agreements;
    let missing = cols.missing;

    let now = Timestamp::now();
    let mut problems_out = Vec::new();
    let mut changes = Vec::new();
    let mut unchanged = 0usize;
    for mut r in rows.into_iter() {
        let tenant = tenants.get(r.tenant_id.as_str());
        if let (Some(tenant), Some(company_id)) = (tenant, r.company_id)
            && let Some(company) = companies.get(&company_id)
        {
            let agreement = r.agreement_id.and_then(|a| agreements.get(&a));
            let before = current.get(&tenant.id);
            let current_label = before.map(|m| {
                companies
                    .get(&m.company_id)
                    .map(super::rules::company_label)
                    .unwrap_or_else(|| m.company_id.to_string())
            });
            let refusals = check(&Proposal {
                tenant,
                company,
                agreement,
                usage_sync: r.usage_sync,
                current: before.zip(current_label),
                company_holder: other_holder(company_holders, company_id.get(), &tenant.id),
                agreement_holder: agreement
                    .and_then(|a| other_holder(agreement_holders, a.id.get(), &tenant.id)),
                replace: true,
            });
            r.problems.extend(refusals.iter().map(|x| x.to_string()));
        }
        if !r.problems.is_empty() {
            problems_out.push(RowProblem {
                line: r.line,
                tenant: if r.tenant_id.is_empty() {
                    "?".into()
                } else {
                    label_of(&r.tenant_id)
                },
                problems: r.problems,
            });
            continue;
        }
        let before = current.get(r.tenant_id.as_str()).cloned();
        let same = match (&before, r.company_id) {
            (None, None) => true,
            (Some(m), Some(c)) => {
                m.company_id == c
                    && m.agreement_id == r.agreement_id
                    && m.usage_sync == r.usage_sync
                    && m.ticket_sync == r.ticket_sync
            }
            _ => false,
        };
        if same {
            unchanged += 1;
            continue;
        }
        let after = r.company_id.map(|company_id| Mapping {
            tenant_id: r.tenant_id.clone(),
            company_id,
            agreement_id: r.agreement_id,
            usage_sync: r.usage_sync,
            ticket_sync: r.ticket_sync,
            source: MappingSource::Import,
            confirmed_by: actor.to_owned(),
            confirmed_at: now,
        });
        let change = MappingChange {
            tenant_id: r.tenant_id.clone(),
            before,
            after,
        };
        let action = if change.after.is_some() {
            crate::audit::AuditKind::MappingImport
        } else {
            crate::audit::AuditKind::MappingClear
        };
        let reason = format!("import {source_name} line {}", r.line);
        changes.push((
            change.clone(),
            audit_for(&change, actor, action, &reason, now),
        ));
    }
    if !problems_out.is_empty() {
        problems_out.sort_by_key(|p| p.line);
        return Err(MappingError::ImportRejected(problems_out));
    }
    let rows_total = unchanged + changes.len();
    if !dry_run {
        write(store, &changes).await?;
    }
    Ok(ImportOutcome {
        dry_run,
        rows: rows_total,
        unchanged,
        changes: changes.into_iter().map(|(c, _)| c).collect(),
        kept_columns: missing,
    })
}
