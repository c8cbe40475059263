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
    /// ConnectWise's record id of the catalog item; what an addition's `product` refers to.
    pub id: Option<i64>,
    /// The item's unique code (at most 75 characters, 60 on older versions); the integration
    /// finds its items by it.
    pub identifier: Option<String>,
    /// Short description shown in pick-lists (at most 60 characters); required on create.
    pub description: Option<String>,
    /// Description shown to the customer (at most 6000 characters); required on create.
    pub customer_description: Option<String>,
    /// The procurement category the item is filed under.
    pub category: Option<Reference>,
    /// The procurement subcategory the item is filed under; required on create.
    pub subcategory: Option<Reference>,
    /// The product type (`type`); required on create.
    #[serde(rename = "type")]
    pub type_: Option<Reference>,
    /// The item's manufacturer (for the integration's items, Sophos).
    pub manufacturer: Option<Reference>,
    /// What kind of product it is; the integration's items are `Agreement` products.
    pub product_class: Option<ProductClass>,
    /// Default sale price per unit.
    pub price: Option<f64>,
    /// Default cost per unit to the MSP.
    pub cost: Option<f64>,
    /// True when the item is marked inactive.
    pub inactive_flag: Option<bool>,
    /// True when sales of the item are taxed.
    pub taxable_flag: Option<bool>,
    /// ConnectWise's pricing attribute (`FixedFee`, `NotToExceed`, `OverrideRate`,
    /// `TimeAndMaterials`).
    pub price_attribute: Option<PriceAttribute>,
    /// Whether the item is billed by default (`Billable`, `DoNotBill`, `NoCharge`, `NoDefault`).
    pub billable_option: Option<BillableOption>,
    /// A free reference for integrations (`integrationXRef`, at most 50 characters); this
    /// client does not set it.
    #[serde(rename = "integrationXRef")]
    pub integration_x_ref: Option<String>,
    /// The unit the item is sold in.
    pub unit_of_measure: Option<Reference>,
    /// True when the item bills every cycle; the integration creates recurring items.
    pub recurring_flag: Option<bool>,
    /// The manufacturer's part number (at most 50 characters).
    pub manufacturer_part_number: Option<String>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `procurement/categories`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProcurementCategory {
    /// ConnectWise's record id of the category.
    pub id: Option<i64>,
    /// The category's name (at most 50 characters); the integration's is "Sophos".
    pub name: Option<String>,
    /// True when the category is marked inactive.
    pub inactive_flag: Option<bool>,
    /// A free reference for integrations (`integrationXref`, at most 50 characters).
    pub integration_xref: Option<String>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `procurement/subcategories` (and `categories/{id}/subcategories`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProcurementSubcategory {
    /// ConnectWise's record id of the subcategory.
    pub id: Option<i64>,
    /// The subcategory's name (at most 50 characters); the integration's is "Sophos".
    pub name: Option<String>,
    /// The category the subcategory belongs to; required on create.
    pub category: Option<Reference>,
    /// True when the subcategory is marked inactive.
    pub inactive_flag: Option<bool>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `procurement/types`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct ProductType {
    /// ConnectWise's record id of the product type.
    pub id: Option<i64>,
    /// The type's name (at most 50 characters); the integration's is "Sophos".
    pub name: Option<String>,
    /// True when the type is marked inactive.
    pub inactive_flag: Option<bool>,
    /// True for the type ConnectWise proposes by default.
    pub default_flag: Option<bool>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `procurement/manufacturers`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Manufacturer {
    /// ConnectWise's record id of the manufacturer.
    pub id: Option<i64>,
    /// The manufacturer's name (at most 50 characters); the integration's is "Sophos".
    pub name: Option<String>,
    /// True when the manufacturer is marked inactive.
    pub inactive_flag: Option<bool>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}
