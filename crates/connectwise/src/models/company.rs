use serde::{Deserialize, Serialize};

use super::common::{CustomField, RecordInfo, Reference, lenient_ts, ser_ts};

/// `company/companies`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Company {
    /// ConnectWise's record id of the company, stable across renames; what customers are mapped by.
    pub id: Option<i64>,
    /// The company's short code, the "Company ID" users see in ConnectWise (at most 30 characters).
    pub identifier: Option<String>,
    /// The company's display name (at most 50 characters).
    pub name: Option<String>,
    /// The company's status (e.g. `Active`); its `name` holds the label.
    pub status: Option<Reference>,
    /// The company's types (e.g. `Client`); ConnectWise takes them only on create.
    pub types: Option<Vec<Reference>>,
    /// True when the company is in ConnectWise's recycle bin; lookups by name or
    /// identifier skip it.
    pub deleted_flag: Option<bool>,
    /// When the company was moved to the recycle bin; `None` while it is not deleted.
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub date_deleted: Option<jiff::Timestamp>,
    /// First line of the company's street address.
    pub address_line1: Option<String>,
    /// Second line of the company's street address.
    pub address_line2: Option<String>,
    /// City of the company's address.
    pub city: Option<String>,
    /// State or province of the company's address.
    pub state: Option<String>,
    /// Postal code of the company's address (at most 12 characters).
    pub zip: Option<String>,
    /// Country of the company's address, from ConnectWise's country table.
    pub country: Option<Reference>,
    /// The company's main phone number.
    pub phone_number: Option<String>,
    /// The company's website address.
    pub website: Option<String>,
    /// The territory the company is assigned to in ConnectWise.
    pub territory: Option<Reference>,
    /// The company's default contact person.
    pub default_contact: Option<Reference>,
    /// The company's custom field values.
    pub custom_fields: Option<Vec<CustomField>>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `company/contacts` (only read by the permission check; the seed role cannot read them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Contact {
    /// ConnectWise's record id of the contact.
    pub id: Option<i64>,
    /// The contact's given name.
    pub first_name: Option<String>,
    /// The contact's family name.
    pub last_name: Option<String>,
    /// The company the contact belongs to.
    pub company: Option<Reference>,
    /// True when the contact is marked inactive.
    pub inactive_flag: Option<bool>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}
