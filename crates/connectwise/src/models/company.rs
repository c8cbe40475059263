use serde::{Deserialize, Serialize};

use super::common::{CustomField, RecordInfo, Reference, lenient_ts, ser_ts};

/// `company/companies`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Company {
    pub id: Option<i64>,
    pub identifier: Option<String>,
    pub name: Option<String>,
    pub status: Option<Reference>,
    pub types: Option<Vec<Reference>>,
    pub deleted_flag: Option<bool>,
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub date_deleted: Option<jiff::Timestamp>,
    pub address_line1: Option<String>,
    pub address_line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub country: Option<Reference>,
    pub phone_number: Option<String>,
    pub website: Option<String>,
    pub territory: Option<Reference>,
    pub default_contact: Option<Reference>,
    pub custom_fields: Option<Vec<CustomField>>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `company/contacts` (only read by the permission check; the seed role cannot read them).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Contact {
    pub id: Option<i64>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<Reference>,
    pub inactive_flag: Option<bool>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}
