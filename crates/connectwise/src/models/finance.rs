use serde::{Deserialize, Serialize};

use super::common::{RecordInfo, Reference, lenient_ts, ser_ts};
use super::cw_enum;

cw_enum!(
    /// `agreementStatus`.
    AgreementStatus { Active = "Active", Cancelled = "Cancelled", Expired = "Expired", Inactive = "Inactive" }
);

cw_enum!(
    /// `billCustomer` on additions.
    BillCustomer { Billable = "Billable", DoNotBill = "DoNotBill", NoCharge = "NoCharge" }
);

/// `finance/agreements`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Agreement {
    pub id: Option<i64>,
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub type_: Option<Reference>,
    pub company: Option<Reference>,
    pub contact: Option<Reference>,
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub start_date: Option<jiff::Timestamp>,
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub end_date: Option<jiff::Timestamp>,
    pub no_ending_date_flag: Option<bool>,
    pub cancelled_flag: Option<bool>,
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub date_cancelled: Option<jiff::Timestamp>,
    pub agreement_status: Option<AgreementStatus>,
    pub billing_cycle: Option<Reference>,
    pub parent_agreement: Option<Reference>,
    pub prorate_flag: Option<bool>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `finance/agreements/{id}/additions`: one per product; quantity = usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Addition {
    pub id: Option<i64>,
    pub product: Option<Reference>,
    pub quantity: Option<f64>,
    pub less_included: Option<f64>,
    pub unit_price: Option<f64>,
    pub unit_cost: Option<f64>,
    pub bill_customer: Option<BillCustomer>,
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub effective_date: Option<jiff::Timestamp>,
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub cancelled_date: Option<jiff::Timestamp>,
    pub taxable_flag: Option<bool>,
    pub invoice_description: Option<String>,
    pub description: Option<String>,
    pub agreement_status: Option<AgreementStatus>,
    pub billed_quantity: Option<f64>,
    pub ext_price: Option<f64>,
    pub agreement_id: Option<i64>,
    pub uom: Option<String>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}
