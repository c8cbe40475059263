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
    /// ConnectWise's record id of the agreement; what mappings and additions refer to.
    pub id: Option<i64>,
    /// The agreement's name (at most 100 characters); not unique.
    pub name: Option<String>,
    /// The agreement type (`type`), from the agreement types setup table.
    #[serde(rename = "type")]
    pub type_: Option<Reference>,
    /// The company the agreement is with.
    pub company: Option<Reference>,
    /// The company contact the agreement is for.
    pub contact: Option<Reference>,
    /// When the agreement starts.
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub start_date: Option<jiff::Timestamp>,
    /// When the agreement ends; meaningless when `no_ending_date_flag` is true.
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub end_date: Option<jiff::Timestamp>,
    /// True when the agreement never ends.
    pub no_ending_date_flag: Option<bool>,
    /// True when the agreement is cancelled; its additions must then not change.
    pub cancelled_flag: Option<bool>,
    /// When the agreement was cancelled; `None` while it is not.
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub date_cancelled: Option<jiff::Timestamp>,
    /// Its status (`Active`, `Cancelled`, `Expired`, `Inactive`); see
    /// [`Agreement::inactive_reason`].
    pub agreement_status: Option<AgreementStatus>,
    /// How often the agreement is invoiced (e.g. Monthly); its `name` holds the label.
    pub billing_cycle: Option<Reference>,
    /// The agreement this one is a child of, if any.
    pub parent_agreement: Option<Reference>,
    /// True when the agreement is prorated; ConnectWise then accepts addition changes in a
    /// period already invoiced.
    pub prorate_flag: Option<bool>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `finance/agreements/{id}/additions`: one per product; quantity = usage.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Addition {
    /// ConnectWise's record id of the addition.
    pub id: Option<i64>,
    /// The catalog item the addition bills (`product`); required on create.
    pub product: Option<Reference>,
    /// Units billed each cycle; the usage sync sets it to the Sophos usage of the product.
    pub quantity: Option<f64>,
    /// Units taken off `quantity` before billing (already included in the agreement).
    pub less_included: Option<f64>,
    /// Price per unit charged to the customer.
    pub unit_price: Option<f64>,
    /// Cost per unit to the MSP.
    pub unit_cost: Option<f64>,
    /// Whether the addition is billed (`Billable`, `DoNotBill`, `NoCharge`); required on create.
    pub bill_customer: Option<BillCustomer>,
    /// The date the addition starts billing; the usage sync sends the first day of the month.
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub effective_date: Option<jiff::Timestamp>,
    /// The date the addition stops billing; `None` while it is live.
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub cancelled_date: Option<jiff::Timestamp>,
    /// True when the addition is taxed.
    pub taxable_flag: Option<bool>,
    /// Text printed on the invoice for the addition (at most 6000 characters).
    pub invoice_description: Option<String>,
    /// The addition's description; the usage sync sends the product's description.
    pub description: Option<String>,
    /// The status of the agreement the addition is on, as ConnectWise copies it; read only.
    pub agreement_status: Option<AgreementStatus>,
    /// Units actually billed: `quantity` less `less_included`, as ConnectWise computes it.
    pub billed_quantity: Option<f64>,
    /// Extended price: the billed quantity times `unit_price`, as ConnectWise computes it.
    pub ext_price: Option<f64>,
    /// ConnectWise's record id of the agreement the addition is on.
    pub agreement_id: Option<i64>,
    /// The unit of measure the addition is billed in.
    pub uom: Option<String>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}
