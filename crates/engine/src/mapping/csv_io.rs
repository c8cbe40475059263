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
    pub tenant: String,
    pub problems: Vec<String>,
}

impl RowProblem {
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
    pub dry_run: bool,
    pub rows: usize,
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

/// [`import_csv`] with every option.
pub async fn import_csv_with(
    store: &Store,
    actor: &str,
    input: impl Read,
    source_name: &str,
    opts: &ImportOptions,
) -> Result<ImportOutcome, MappingError> {
    let dry_run = opts.dry_run;
    let tenants: HashMap<TenantId, TenantRecord> = store
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
    let agreements: HashMap<AgreementId, AgreementRecord> = store
        .list_agreements()
        .await?
        .into_iter()
        .map(|a| (a.id, a))
        .collect();
    let current: HashMap<TenantId, Mapping> = store
        .list_mappings()
        .await?
        .into_iter()
        .map(|m| (m.tenant_id.clone(), m))
        .collect();

    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(input);
    let headers = reader
        .headers()
        .map_err(|e| MappingError::Csv(messages::csv_unreadable(&e.to_string())))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let tenant_col =
        col("tenant_id").ok_or_else(|| MappingError::Csv(messages::csv_bad_header("tenant_id")))?;
    let company_id_col = col("company_id");
    let identifier_col = col("company_identifier");
    if company_id_col.is_none() && identifier_col.is_none() {
        return Err(MappingError::Csv(messages::csv_bad_header("company_id")));
    }
    let agreement_col = col("agreement_id");
    let usage_col = col("usage_sync");
    let ticket_col = col("ticket_sync");
    let missing: Vec<String> = VALUE_COLUMNS
        .iter()
        .filter(|c| col(c).is_none())
        .map(|c| (*c).to_owned())
        .collect();
    if !missing.is_empty() && !opts.keep_missing {
        return Err(MappingError::Csv(messages::csv_missing_columns(&missing)));
    }

    let mut rows: Vec<Row> = Vec::new();
    let mut first_line: HashMap<String, u64> = HashMap::new();
    for record in reader.records() {
        let record =
            record.map_err(|e| MappingError::Csv(messages::csv_unreadable(&e.to_string())))?;
        let line = record.position().map(|p| p.line()).unwrap_or(0);
        let get = |c: Option<usize>| c.and_then(|c| record.get(c)).unwrap_or("").trim();
        let mut problems = Vec::new();
        let tenant_id = TenantId::new(get(Some(tenant_col)));
        if tenant_id.is_empty() {
            problems.push(messages::csv_no_tenant());
        } else if !tenants.contains_key(tenant_id.as_str()) {
            problems.push(messages::unknown_tenant(&tenant_id));
        } else if let Some(first) = first_line.get(tenant_id.as_str()) {
            problems.push(messages::csv_duplicate_tenant(*first));
        } else {
            first_line.insert(tenant_id.to_string(), line);
        }
        let raw_company = get(company_id_col);
        let raw_identifier = get(identifier_col);
        let company_id = if !raw_company.is_empty() {
            match raw_company.parse::<i64>().map(CompanyId::new) {
                Ok(id) if companies.contains_key(&id) => Some(id),
                Ok(_) => {
                    problems.push(messages::unknown_company(raw_company));
                    None
                }
                Err(_) => {
                    problems.push(messages::csv_bad_number("company_id", raw_company));
                    None
                }
            }
        } else if !raw_identifier.is_empty() {
            let ids = by_identifier
                .get(&raw_identifier.to_ascii_lowercase())
                .cloned()
                .unwrap_or_default();
            let live: Vec<CompanyId> = ids
                .iter()
                .copied()
                .filter(|id| companies.get(id).is_some_and(|c| !c.deleted && !c.gone))
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
        } else {
            None
        };
        let kept = current.get(tenant_id.as_str());
        let raw_agreement = get(agreement_col);
        let agreement_id = if agreement_col.is_none() {
            kept.and_then(|m| m.agreement_id)
        } else if raw_agreement.is_empty() {
            None
        } else {
            match raw_agreement.parse::<i64>().map(AgreementId::new) {
                Ok(id) if agreements.contains_key(&id) => Some(id),
                Ok(id) => {
                    problems.push(messages::unknown_agreement(id));
                    None
                }
                Err(_) => {
                    problems.push(messages::csv_bad_number("agreement_id", raw_agreement));
                    None
                }
            }
        };
        let switch = |name: &str, column: Option<usize>, now: Option<bool>| match column {
            None => Ok(now.unwrap_or(false)),
            Some(_) => parse_bool(name, get(column)),
        };
        let usage_sync = switch("usage_sync", usage_col, kept.map(|m| m.usage_sync))
            .unwrap_or_else(|e| {
                problems.push(e);
                false
            });
        let ticket_sync = switch("ticket_sync", ticket_col, kept.map(|m| m.ticket_sync))
            .unwrap_or_else(|e| {
                problems.push(e);
                false
            });
        if company_id.is_none()
            && raw_company.is_empty()
            && raw_identifier.is_empty()
            && agreement_id.is_some()
        {
            // An agreement without a company cannot be mapped.
            problems.push(messages::csv_agreement_without_company());
        }
        rows.push(Row {
            line,
            tenant_id,
            company_id,
            agreement_id,
            usage_sync,
            ticket_sync,
            problems,
        });
    }

    // The final state: current mappings, overridden by every row of the file.
    let mut final_state: HashMap<String, (Option<CompanyId>, Option<AgreementId>)> = current
        .iter()
        .map(|(t, m)| (t.to_string(), (Some(m.company_id), m.agreement_id)))
        .collect();
    for r in rows
        .iter()
        .filter(|r| tenants.contains_key(r.tenant_id.as_str()))
    {
        final_state.insert(r.tenant_id.to_string(), (r.company_id, r.agreement_id));
    }
    let label_of = |tenant_id: &str| match tenants.get(tenant_id) {
        Some(t) => tenant_label(t),
        None => tenant_id.to_owned(),
    };
    let mut company_holders: HashMap<i64, Vec<&str>> = HashMap::new();
    let mut agreement_holders: HashMap<i64, Vec<&str>> = HashMap::new();
    for (t, (c, a)) in &final_state {
        if let Some(c) = c {
            company_holders.entry(c.get()).or_default().push(t);
        }
        if let Some(a) = a {
            agreement_holders.entry(a.get()).or_default().push(t);
        }
    }
    let other_holder = |holders: &HashMap<i64, Vec<&str>>, key: i64, me: &str| {
        let mut others: Vec<&&str> = holders
            .get(&key)
            .into_iter()
            .flatten()
            .filter(|t| **t != me)
            .collect();
        others.sort();
        others.first().map(|t| Holder {
            tenant_id: TenantId::new(**t),
            label: label_of(t),
        })
    };

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
                company_holder: other_holder(&company_holders, company_id.get(), &tenant.id),
                agreement_holder: agreement
                    .and_then(|a| other_holder(&agreement_holders, a.id.get(), &tenant.id)),
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
            "mapping.import"
        } else {
            "mapping.clear"
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
