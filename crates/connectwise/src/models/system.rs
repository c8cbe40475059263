use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::common::{RecordInfo, Reference, lenient_bool};
use super::cw_enum;

/// `GET /login/companyinfo/{companyId}` (PascalCase keys; `IsCloud` string or bool).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompanyInfo {
    #[serde(rename = "CompanyName")]
    pub company_name: Option<String>,
    #[serde(rename = "Codebase")]
    pub codebase: Option<String>,
    #[serde(rename = "VersionCode")]
    pub version_code: Option<String>,
    #[serde(rename = "VersionNumber")]
    pub version_number: Option<String>,
    #[serde(rename = "CompanyID")]
    pub company_id: Option<String>,
    #[serde(rename = "IsCloud", deserialize_with = "lenient_bool")]
    pub is_cloud: Option<bool>,
}

cw_enum!(
    /// Member `licenseClass`.
    LicenseClass { Full = "F", Api = "A", StreamlineIt = "C", Subcontractor = "X" }
);

/// `system/members`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Member {
    pub id: Option<i64>,
    pub identifier: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub inactive_flag: Option<bool>,
    pub license_class: Option<LicenseClass>,
    pub office_email: Option<String>,
    pub security_role: Option<Reference>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `system/info`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SystemInfo {
    pub version: Option<String>,
    #[serde(deserialize_with = "lenient_bool")]
    pub is_cloud: Option<bool>,
    pub server_time_zone: Option<String>,
    pub license_bits: Option<Vec<LicenseBit>>,
    pub cloud_region: Option<String>,
    pub max_work_flow_records_allowed: Option<i64>,
}

impl SystemInfo {
    /// `(major, minor)` from `version` such as `v2025.1.12345`.
    pub fn version_parts(&self) -> Option<(u32, u32)> {
        let v = self.version.as_deref()?.trim_start_matches(['v', 'V']);
        let mut it = v.split('.');
        let major = it.next()?.parse().ok()?;
        let minor = it.next()?.parse().ok()?;
        Some((major, minor))
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LicenseBit {
    pub name: Option<String>,
    pub active_flag: Option<bool>,
}

/// An entry of `system/reports`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportName {
    pub name: Option<String>,
}

cw_enum!(
    /// Report column type.
    ColumnType { Numeric = "Numeric", Text = "Text", DateTime = "DateTime" }
);

/// One report column definition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportColumn {
    pub name: String,
    pub type_: Option<ColumnType>,
    pub is_nullable: Option<bool>,
    pub identity_column: Option<bool>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
struct ColumnInfo {
    #[serde(rename = "type")]
    type_: Option<ColumnType>,
    is_nullable: Option<bool>,
    identity_column: Option<bool>,
}

/// Definitions arrive as a list of single-key maps: `[{"id": {"type": "Numeric", …}}, …]`.
fn de_columns<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<ReportColumn>, D::Error> {
    let raw = Option::<Vec<BTreeMap<String, ColumnInfo>>>::deserialize(d)?.unwrap_or_default();
    Ok(raw
        .into_iter()
        .flat_map(|m| m.into_iter())
        .map(|(name, info)| ReportColumn {
            name,
            type_: info.type_,
            is_nullable: info.is_nullable,
            identity_column: info.identity_column,
        })
        .collect())
}

/// `system/reports/{name}` data: rows aligned with the column definitions.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportData {
    #[serde(
        rename = "column_definitions",
        deserialize_with = "de_columns",
        skip_serializing
    )]
    pub columns: Vec<ReportColumn>,
    #[serde(rename = "row_values")]
    pub rows: Vec<Vec<Value>>,
}

impl ReportData {
    /// Each row as a column-name → value map.
    pub fn records(&self) -> Vec<Map<String, Value>> {
        self.rows
            .iter()
            .map(|row| {
                self.columns
                    .iter()
                    .zip(row.iter())
                    .map(|(c, v)| (c.name.clone(), v.clone()))
                    .collect()
            })
            .collect()
    }

    /// Index of a column by name (case-insensitive).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.name.eq_ignore_ascii_case(name))
    }
}

/// `system/reports/{name}/columns`: the definitions alone.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReportColumns(pub Vec<ReportColumn>);

impl<'de> Deserialize<'de> for ReportColumns {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Either the bare list, or an object holding `column_definitions`.
        let v = Value::deserialize(d)?;
        let list = match v {
            Value::Object(mut m) => match m.remove("column_definitions") {
                Some(defs) => defs,
                // A plain name → info map.
                None => Value::Array(
                    m.into_iter()
                        .map(|(k, v)| Value::Object(Map::from_iter([(k, v)])))
                        .collect(),
                ),
            },
            other => other,
        };
        de_columns(list)
            .map(ReportColumns)
            .map_err(serde::de::Error::custom)
    }
}
