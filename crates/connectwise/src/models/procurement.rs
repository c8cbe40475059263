use serde::{Deserialize, Serialize};

use super::common::{RecordInfo, Reference};
use super::cw_enum;

cw_enum!(
    /// `productClass`.
    ProductClass { Agreement = "Agreement", Bundle = "Bundle", Inventory = "Inventory", NonInventory = "NonInventory", Service = "Service" }
);

cw_enum!(
    /// `priceAttribute`.
    PriceAttribute { FixedFee = "FixedFee", NotToExceed = "NotToExceed", OverrideRate = "OverrideRate", TimeAndMaterials = "TimeAndMaterials" }
);

cw_enum!(
    /// `billableOption`.
    BillableOption { Billable = "Billable", DoNotBill = "DoNotBill", NoCharge = "NoCharge", NoDefault = "NoDefault" }
);

/// `procurement/catalog`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct CatalogItem {
    pub id: Option<i64>,
    pub identifier: Option<String>,
    pub description: Option<String>,
    pub customer_description: Option<String>,
    pub category: Option<Reference>,
    pub subcategory: Option<Reference>,
    #[serde(rename = "type")]
    pub type_: Option<Reference>,
    pub manufacturer: Option<Reference>,
    pub product_class: Option<ProductClass>,
    pub price: Option<f64>,
    pub cost: Option<f64>,
    pub inactive_flag: Option<bool>,
    pub taxable_flag: Option<bool>,
    pub price_attribute: Option<PriceAttribute>,
    pub billable_option: Option<BillableOption>,
    #[serde(rename = "integrationXRef")]
    pub integration_x_ref: Option<String>,
    pub unit_of_measure: Option<Reference>,
    pub recurring_flag: Option<bool>,
    pub manufacturer_part_number: Option<String>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `procurement/categories`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProcurementCategory {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub inactive_flag: Option<bool>,
    pub integration_xref: Option<String>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `procurement/subcategories` (and `categories/{id}/subcategories`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProcurementSubcategory {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub category: Option<Reference>,
    pub inactive_flag: Option<bool>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `procurement/types`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProductType {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub inactive_flag: Option<bool>,
    pub default_flag: Option<bool>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `procurement/manufacturers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Manufacturer {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub inactive_flag: Option<bool>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}
