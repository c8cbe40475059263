use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

use super::common::{RecordInfo, Reference, lenient_bool};
use super::cw_enum;

/// `GET /login/companyinfo/{companyId}` (PascalCase keys; `IsCloud` string or bool).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct CompanyInfo {
    /// The MSP's company name on the site.
    #[serde(rename = "CompanyName")]
    pub company_name: Option<String>,
    /// The path every API call goes through, ending in a slash (e.g. `v2025_1/`).
    #[serde(rename = "Codebase")]
    pub codebase: Option<String>,
    /// The release the site runs (e.g. `v2025.1`).
    #[serde(rename = "VersionCode")]
    pub version_code: Option<String>,
    /// The site's build number (e.g. `v4.6.12345`).
    #[serde(rename = "VersionNumber")]
    pub version_number: Option<String>,
    /// The login company id the answer is for.
    #[serde(rename = "CompanyID")]
    pub company_id: Option<String>,
    /// True when ConnectWise hosts the site (sent as a bool or as the string `"True"`).
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
    /// ConnectWise's record id of the member.
    pub id: Option<i64>,
    /// The member's login name (at most 15 characters).
    pub identifier: Option<String>,
    /// The member's given name.
    pub first_name: Option<String>,
    /// The member's family name.
    pub last_name: Option<String>,
    /// True when the member is inactive.
    pub inactive_flag: Option<bool>,
    /// The member's licence: full, API member, StreamlineIT or subcontractor.
    pub license_class: Option<LicenseClass>,
    /// The member's office e-mail address.
    pub office_email: Option<String>,
    /// The security role that decides which API calls the member may make.
    pub security_role: Option<Reference>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `system/info`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct SystemInfo {
    /// The server's version, e.g. `v2025.1.12345`; see [`SystemInfo::version_parts`].
    pub version: Option<String>,
    /// True when ConnectWise hosts the site.
    #[serde(deserialize_with = "lenient_bool")]
    pub is_cloud: Option<bool>,
    /// The server's time zone name (e.g. `Eastern Standard Time`).
    pub server_time_zone: Option<String>,
    /// The site's licensed features and whether each is on.
    pub license_bits: Option<Vec<LicenseBit>>,
    /// The cloud region the site runs in (e.g. `NA`).
    pub cloud_region: Option<String>,
    /// The most workflow records the site's licence allows.
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

/// One licensed feature of the site, as `system/info` lists it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct LicenseBit {
    /// The licensed feature's name.
    pub name: Option<String>,
    /// True when the feature is licensed and on.
    pub active_flag: Option<bool>,
}

/// An entry of `system/reports`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportName {
    /// The report's name, as used in `system/reports/{name}`.
    pub name: Option<String>,
}

cw_enum!(
    /// Report column type.
    ColumnType { Numeric = "Numeric", Text = "Text", DateTime = "DateTime", Boolean = "Boolean" }
);

/// One report column definition.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportColumn {
    /// The column's name as the report spells it (cases vary, e.g. `AGR_RecID`).
    pub name: String,
    /// The column's value type; `None` when the definition leaves it out.
    pub type_: Option<ColumnType>,
    /// True when the column's values may be null.
    pub is_nullable: Option<bool>,
    /// True when the column identifies the row.
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
    /// The column definitions (`column_definitions`), in the order of each row's values.
    #[serde(
        rename = "column_definitions",
        deserialize_with = "de_columns",
        skip_serializing
    )]
    pub columns: Vec<ReportColumn>,
    /// The rows (`row_values`), each a list of values aligned with `columns`.
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
