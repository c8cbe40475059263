//! `system/reports`: a few reports in the `column_definitions` / `row_values` form. Conditions and
//! `orderBy` on reports use the report's column names (an emulator choice; uncertain in the reference).

use super::data::{Store, Table};
use serde_json::{Value, json};

/// Report names, as `GET system/reports` lists them.
pub(super) const NAMES: &[&str] = &["Agreement", "Company", "Service"];

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

fn cols(name: &str) -> &'static [Col] {
    match name.to_ascii_lowercase().as_str() {
        "company" => COMPANY,
        "service" => SERVICE,
        "agreement" => AGREEMENT,
        _ => &[],
    }
}

/// Whether a report of that name exists (case-insensitive).
pub(super) fn exists(name: &str) -> bool {
    NAMES.iter().any(|n| n.eq_ignore_ascii_case(name))
}

/// The column definitions: single-key maps, column name → type info.
pub(super) fn columns(_store: &Store, name: &str) -> Value {
    Value::Array(
        cols(name)
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

/// The response body for a page of rows; `columns` restricts and orders the columns.
pub(super) fn shape(
    store: &Store,
    name: &str,
    rows: &[Value],
    columns: Option<&[String]>,
) -> Value {
    let all = cols(name);
    let chosen: Vec<&Col> = match columns {
        Some(wanted) if !wanted.is_empty() => wanted
            .iter()
            .filter_map(|w| all.iter().find(|(c, ..)| c.eq_ignore_ascii_case(w)))
            .collect(),
        _ => all.iter().collect(),
    };
    let defs = columns_of(&chosen);
    let _ = store;
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
