//! `system/reports`: a few reports in the `column_definitions` / `row_values` form. Conditions and
//! `orderBy` on reports use the report's column names (an emulator choice; uncertain in the reference).

use std::collections::{BTreeMap, BTreeSet};

use super::data::{Record, Store, Table};
use serde_json::{Value, json};

/// Report names, as `GET system/reports` lists them (less any hidden by [`ReportKnobs`]).
pub(super) const NAMES: &[&str] = &["Agreement", "AgreementAdditions", "Company", "Service"];

/// How the reports differ from a plain site, for rehearsing a client's fallbacks: a report the
/// server does not offer, a column it dropped (as newer servers may), or a report served from a
/// copy that lags behind the records (as a reporting replica can).
#[derive(Debug, Clone, Default)]
pub(crate) struct ReportKnobs {
    /// Reports not offered (lower case).
    pub hidden: BTreeSet<String>,
    /// Columns not offered, per report (lower case).
    pub dropped: BTreeMap<String, BTreeSet<String>>,
    /// `AgreementAdditions` rows come from this copy of the additions instead of the records.
    pub frozen_additions: Option<BTreeMap<i64, Record>>,
}

impl ReportKnobs {
    fn dropped(&self, name: &str, column: &str) -> bool {
        self.dropped
            .get(&name.to_ascii_lowercase())
            .is_some_and(|d| d.contains(&column.to_ascii_lowercase()))
    }
}

/// (column, type, nullable, identity)
type Col = (&'static str, &'static str, bool, bool);

const COMPANY: &[Col] = &[
    ("company_recid", "Numeric", false, true),
    ("company_id", "Text", false, false),
    ("company_name", "Text", false, false),
    ("status_description", "Text", true, false),
    ("city", "Text", true, false),
    ("deleted_flag", "Numeric", false, false),
    ("date_entered", "DateTime", true, false),
];
const SERVICE: &[Col] = &[
    ("sr_service_recid", "Numeric", false, true),
    ("summary", "Text", true, false),
    ("company_recid", "Numeric", true, false),
    ("company_name", "Text", true, false),
    ("board_name", "Text", true, false),
    ("status_description", "Text", true, false),
    ("closed_flag", "Numeric", false, false),
    ("date_entered", "DateTime", true, false),
];
const AGREEMENT: &[Col] = &[
    ("agr_header_recid", "Numeric", false, true),
    ("agr_name", "Text", false, false),
    ("company_recid", "Numeric", true, false),
    ("agr_type_desc", "Text", true, false),
    ("agreement_status", "Text", true, false),
    ("cancelled_flag", "Numeric", false, false),
    ("start_date", "DateTime", true, false),
];

/// The columns of the published listing's `AgreementAdditions` report.
const AGREEMENT_ADDITIONS: &[Col] = &[
    ("AGR_Name", "Text", true, false),
    ("AGR_RecID", "Numeric", false, false),
    ("Addition_RecId", "Numeric", false, true),
    ("Bill_Customer", "Boolean", true, false),
    ("Cancelled_Date", "DateTime", true, false),
    ("Effective_Date", "DateTime", true, false),
    ("Ext_Cost", "Numeric", true, false),
    ("Ext_Price", "Numeric", true, false),
    ("Last_Update", "DateTime", true, false),
    ("Less_Included", "Numeric", true, false),
    ("Margin", "Numeric", true, false),
    ("Product_Description", "Text", true, false),
    ("Product_RecId", "Numeric", true, false),
    ("QuantityToBill", "Numeric", true, false),
    ("Serial_Number", "Text", true, false),
    ("Taxable", "Boolean", true, false),
    ("Time_Zone", "Text", true, false),
    ("Total_Quantity", "Numeric", true, false),
    ("Unit_Cost", "Numeric", true, false),
    ("Unit_Price", "Numeric", true, false),
    ("Updated_By", "Text", true, false),
];

fn all_cols(name: &str) -> &'static [Col] {
    match name.to_ascii_lowercase().as_str() {
        "company" => COMPANY,
        "service" => SERVICE,
        "agreement" => AGREEMENT,
        "agreementadditions" => AGREEMENT_ADDITIONS,
        _ => &[],
    }
}

/// The columns offered now (the dropped ones left out).
fn cols(store: &Store, name: &str) -> Vec<&'static Col> {
    all_cols(name)
        .iter()
        .filter(|(c, ..)| !store.reports.dropped(name, c))
        .collect()
}

/// The report names offered now.
pub(super) fn names(store: &Store) -> Vec<&'static str> {
    NAMES
        .iter()
        .copied()
        .filter(|n| !store.reports.hidden.contains(&n.to_ascii_lowercase()))
        .collect()
}

/// Whether a report of that name is offered (case-insensitive).
pub(super) fn exists(store: &Store, name: &str) -> bool {
    names(store).iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// The column definitions: single-key maps, column name → type info.
pub(super) fn columns(store: &Store, name: &str) -> Value {
    columns_of(&cols(store, name))
}

fn flag(v: Option<&Value>) -> i64 {
    i64::from(v == Some(&Value::Bool(true)))
}

/// Every row as an object keyed by column name (for conditions and ordering).
pub(super) fn rows(store: &Store, name: &str) -> Vec<Value> {
    let g = |r: &serde_json::Map<String, Value>, a: &str, b: &str| {
        r.get(a)
            .and_then(|x| x.get(b))
            .cloned()
            .unwrap_or(Value::Null)
    };
    match name.to_ascii_lowercase().as_str() {
        "company" => store
            .table(Table::Companies)
            .values()
            .map(|r| {
                json!({"company_recid": r["id"], "company_id": r["identifier"], "company_name": r["name"],
                    "status_description": g(r, "status", "name"), "city": r.get("city"), "deleted_flag": flag(r.get("deletedFlag")),
                    "date_entered": g(r, "_info", "dateEntered")})
            })
            .collect(),
        "service" => store
            .table(Table::Tickets)
            .values()
            .map(|r| {
                json!({"sr_service_recid": r["id"], "summary": r.get("summary"), "company_recid": g(r, "company", "id"),
                    "company_name": g(r, "company", "name"), "board_name": g(r, "board", "name"),
                    "status_description": g(r, "status", "name"), "closed_flag": flag(r.get("closedFlag")),
                    "date_entered": g(r, "_info", "dateEntered")})
            })
            .collect(),
        "agreementadditions" => {
            let additions = store
                .reports
                .frozen_additions
                .as_ref()
                .unwrap_or_else(|| store.table(Table::Additions));
            additions
                .values()
                .map(|r| addition_row(store, r))
                .collect()
        }
        "agreement" => store
            .table(Table::Agreements)
            .values()
            .map(|r| {
                json!({"agr_header_recid": r["id"], "agr_name": r.get("name"), "company_recid": g(r, "company", "id"),
                    "agr_type_desc": g(r, "type", "name"), "agreement_status": r.get("agreementStatus"),
                    "cancelled_flag": flag(r.get("cancelledFlag")), "start_date": r.get("startDate")})
            })
            .collect(),
        _ => Vec::new(),
    }
}

/// One `AgreementAdditions` row: the addition with its agreement's name and its product's ids.
fn addition_row(store: &Store, r: &Record) -> Value {
    let g = |a: &str, b: &str| {
        r.get(a)
            .and_then(|x| x.get(b))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let agreement = r.get("agreementId").and_then(Value::as_i64);
    let agreement_name = agreement
        .and_then(|a| store.get(Table::Agreements, a))
        .and_then(|a| a.get("name").cloned())
        .unwrap_or(Value::Null);
    let num = |k: &str| r.get(k).and_then(Value::as_f64);
    let margin = match (num("extPrice"), num("extCost")) {
        (Some(p), Some(c)) => json!(p - c),
        _ => Value::Null,
    };
    json!({
        "AGR_Name": agreement_name,
        "AGR_RecID": agreement,
        "Addition_RecId": r.get("id"),
        "Bill_Customer": r.get("billCustomer").and_then(Value::as_str).map(|b| b == "Billable"),
        "Cancelled_Date": r.get("cancelledDate"),
        "Effective_Date": r.get("effectiveDate"),
        "Ext_Cost": r.get("extCost"),
        "Ext_Price": r.get("extPrice"),
        "Last_Update": g("_info", "lastUpdated"),
        "Less_Included": r.get("lessIncluded"),
        "Margin": margin,
        "Product_Description": r.get("description"),
        "Product_RecId": g("product", "id"),
        "QuantityToBill": r.get("billedQuantity"),
        "Serial_Number": r.get("serialNumber"),
        "Taxable": r.get("taxableFlag"),
        "Time_Zone": "UTC",
        "Total_Quantity": r.get("quantity"),
        "Unit_Cost": r.get("unitCost"),
        "Unit_Price": r.get("unitPrice"),
        "Updated_By": g("_info", "updatedBy"),
    })
}

/// The response body for a page of rows; `columns` restricts and orders the columns.
pub(super) fn shape(
    store: &Store,
    name: &str,
    rows: &[Value],
    columns: Option<&[String]>,
) -> Value {
    let all = cols(store, name);
    let chosen: Vec<&Col> = match columns {
        Some(wanted) if !wanted.is_empty() => wanted
            .iter()
            .filter_map(|w| {
                all.iter()
                    .copied()
                    .find(|(c, ..)| c.eq_ignore_ascii_case(w))
            })
            .collect(),
        _ => all,
    };
    let defs = columns_of(&chosen);
    let values: Vec<Value> = rows
        .iter()
        .map(|r| {
            Value::Array(
                chosen
                    .iter()
                    .map(|(c, ..)| r.get(*c).cloned().unwrap_or(Value::Null))
                    .collect(),
            )
        })
        .collect();
    json!({"column_definitions": defs, "row_values": values})
}

fn columns_of(chosen: &[&Col]) -> Value {
    Value::Array(
        chosen
            .iter()
            .map(|(c, t, nullable, identity)| {
                let mut info = json!({"type": t, "isNullable": nullable});
                if *identity {
                    info["identityColumn"] = json!(true);
                }
                json!({ *c: info })
            })
            .collect(),
    )
}
