//! Bulk reads through API Reports: every addition of many agreements in a few pages of the
//! `AgreementAdditions` report, instead of one REST read per agreement. The report and its
//! columns are discovered first; where either is missing or refused, callers read per agreement.

use std::collections::BTreeMap;

use serde_json::Value;

use super::finance::AdditionState;
use super::system::ReportQuery;
use crate::client::Client;
use crate::conditions::Conditions;
use crate::error::CwError;

/// The report listing every agreement addition (name as the published listing spells it).
pub const ADDITIONS_REPORT: &str = "AgreementAdditions";

/// Agreement, addition, catalog item, quantity and cancelled date: without these the report
/// cannot stand in for the REST reads.
const NEEDED: &[&str] = &[
    "AGR_RecID",
    "Addition_RecId",
    "Product_RecId",
    "Total_Quantity",
    "Cancelled_Date",
];

/// Read when offered: what reconciliation and plans show.
const PRICES: &[&str] = &["Unit_Price", "Ext_Price"];

/// Catalog item ids per `Product_RecId in (...)` condition.
const PRODUCTS_PER_QUERY: usize = 100;

/// Rows per report page (the API's largest).
const REPORT_PAGE: u32 = 1000;

/// Whether the additions report can serve bulk reads here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkSupport {
    /// The report and every needed column are offered (the price columns too, when `prices`).
    Usable {
        /// The report offers unit and extended prices.
        prices: bool,
    },
    /// It cannot; the sentence says why (for `doctor` and the run summary).
    Unusable(String),
}

fn find<'a>(columns: &'a [String], want: &str) -> Option<&'a str> {
    columns
        .iter()
        .find(|c| c.eq_ignore_ascii_case(want))
        .map(String::as_str)
}

impl Client {
    /// Discovers the additions report: listed by `system/reports`, and offering the columns a bulk
    /// read needs (`system/reports/AgreementAdditions/columns`). Two calls.
    pub async fn additions_report_support(&self) -> Result<BulkSupport, CwError> {
        let listed = match self.reports().await {
            Ok(r) => r,
            Err(e @ CwError::Permission { .. }) => {
                return Ok(BulkSupport::Unusable(crate::messages::report_refused(&e)));
            }
            Err(e) => return Err(e),
        };
        if !listed.iter().any(|r| {
            r.name
                .as_deref()
                .is_some_and(|n| n.eq_ignore_ascii_case(ADDITIONS_REPORT))
        }) {
            return Ok(BulkSupport::Unusable(crate::messages::report_missing(
                ADDITIONS_REPORT,
            )));
        }
        let columns: Vec<String> = match self.report_columns(ADDITIONS_REPORT).await {
            Ok(c) => c.0.into_iter().map(|c| c.name).collect(),
            Err(e @ CwError::Permission { .. }) => {
                return Ok(BulkSupport::Unusable(crate::messages::report_refused(&e)));
            }
            Err(CwError::NotFound { .. }) => {
                return Ok(BulkSupport::Unusable(crate::messages::report_missing(
                    ADDITIONS_REPORT,
                )));
            }
            Err(e) => return Err(e),
        };
        let missing: Vec<&str> = NEEDED
            .iter()
            .copied()
            .filter(|c| find(&columns, c).is_none())
            .collect();
        if !missing.is_empty() {
            return Ok(BulkSupport::Unusable(
                crate::messages::report_columns_missing(ADDITIONS_REPORT, &missing),
            ));
        }
        Ok(BulkSupport::Usable {
            prices: PRICES.iter().all(|c| find(&columns, c).is_some()),
        })
    }

    /// Every addition billing one of `catalog_item_ids`, on any agreement, from the additions
    /// report (1,000 rows a page), grouped by agreement id; `prices` also reads the price
    /// columns. The caller has checked [`Client::additions_report_support`].
    pub async fn additions_by_report(
        &self,
        catalog_item_ids: &[i64],
        prices: bool,
    ) -> Result<BTreeMap<i64, Vec<AdditionState>>, CwError> {
        let mut columns: Vec<&str> = NEEDED.to_vec();
        if prices {
            columns.extend(PRICES);
        }
        let mut out: BTreeMap<i64, Vec<AdditionState>> = BTreeMap::new();
        let path = format!("system/reports/{ADDITIONS_REPORT}");
        for chunk in catalog_item_ids.chunks(PRODUCTS_PER_QUERY) {
            let mut page = 1;
            loop {
                let q = ReportQuery {
                    conditions: Some(
                        Conditions::new().is_in("Product_RecId", chunk.iter().copied()),
                    ),
                    columns: Some(columns.join(",")),
                    order_by: Some("Addition_RecId".to_owned()),
                    page: Some(page),
                    page_size: Some(REPORT_PAGE),
                };
                let data = self.report_data(ADDITIONS_REPORT, &q).await?;
                let rows = data.records();
                let n = rows.len();
                for r in rows {
                    let (agreement, state) = addition_of(&r).ok_or_else(|| CwError::Decode {
                        path: path.clone(),
                        message: crate::messages::report_row_unreadable(&r),
                    })?;
                    out.entry(agreement).or_default().push(state);
                }
                if n < REPORT_PAGE as usize {
                    break;
                }
                page += 1;
            }
        }
        Ok(out)
    }
}

/// A report row as the agreement id and the addition (column names matched without case).
fn addition_of(row: &serde_json::Map<String, Value>) -> Option<(i64, AdditionState)> {
    let get = |name: &str| {
        row.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    };
    let num = |name: &str| get(name).and_then(Value::as_f64);
    let id = |name: &str| get(name).and_then(Value::as_i64);
    Some((
        id("AGR_RecID")?,
        AdditionState {
            id: id("Addition_RecId")?,
            catalog_item_id: id("Product_RecId")?,
            quantity: num("Total_Quantity").unwrap_or(0.0),
            cancelled: get("Cancelled_Date").is_some_and(|v| !v.is_null()),
            unit_price: num("Unit_Price"),
            ext_price: num("Ext_Price"),
        },
    ))
}
