use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// A reference to another record: `{"id": 1, "name": "…", "_info": {…}}`. Send `Reference::id(n)` to
/// set one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "_info", default, skip_serializing)]
    pub info: Option<Map<String, Value>>,
}

impl Reference {
    /// `{"id": n}`, the form to send.
    pub fn id(id: i64) -> Self {
        Reference {
            id: Some(id),
            ..Reference::default()
        }
    }

    /// `{"identifier": "X"}`, the form to send.
    pub fn identifier(identifier: impl Into<String>) -> Self {
        Reference {
            identifier: Some(identifier.into()),
            ..Reference::default()
        }
    }
}

/// `_info` on a record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordInfo {
    #[serde(default, deserialize_with = "lenient_ts")]
    pub last_updated: Option<jiff::Timestamp>,
    pub updated_by: Option<String>,
    #[serde(default, deserialize_with = "lenient_ts")]
    pub date_entered: Option<jiff::Timestamp>,
    pub entered_by: Option<String>,
}

/// One custom field value (replace the whole array when patching).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomField {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_decimals: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// `{"count": N}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Count {
    pub count: i64,
}

/// One JSON Patch operation. ConnectWise paths are case-sensitive and written without the leading
/// slash; replace references as whole objects (`{"id": n}`), never a sub-path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOp {
    pub op: PatchKind,
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchKind {
    Add,
    Replace,
    Remove,
}

impl PatchOp {
    pub fn replace(path: impl Into<String>, value: impl Serialize) -> Self {
        PatchOp {
            op: PatchKind::Replace,
            path: path.into(),
            value: Some(serde_json::to_value(value).unwrap_or(Value::Null)),
        }
    }
    pub fn add(path: impl Into<String>, value: impl Serialize) -> Self {
        PatchOp {
            op: PatchKind::Add,
            path: path.into(),
            value: Some(serde_json::to_value(value).unwrap_or(Value::Null)),
        }
    }
    pub fn remove(path: impl Into<String>) -> Self {
        PatchOp {
            op: PatchKind::Remove,
            path: path.into(),
            value: None,
        }
    }
}

/// A timestamp that is `None` (rather than a failed page) when the server sends something odd.
pub(crate) fn lenient_ts<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<jiff::Timestamp>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        Some(Value::String(s)) => s
            .parse::<jiff::Timestamp>()
            .ok()
            // Some fields come without an offset ("2024-03-01T00:00:00"): read them as UTC.
            .or_else(|| {
                s.parse::<jiff::civil::DateTime>()
                    .ok()
                    .and_then(|dt| jiff::tz::TimeZone::UTC.to_timestamp(dt).ok())
            }),
        _ => None,
    })
}

/// A bool sent as `true` or as the string `"True"`.
pub(crate) fn lenient_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    let v = Option::<Value>::deserialize(d)?;
    Ok(match v {
        Some(Value::Bool(b)) => Some(b),
        Some(Value::String(s)) => match s.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" => Some(true),
            "false" | "0" | "no" => Some(false),
            _ => None,
        },
        Some(Value::Number(n)) => n.as_i64().map(|i| i != 0),
        _ => None,
    })
}

/// Serialize a timestamp as `2024-03-01T00:00:00Z` (whole seconds, as ConnectWise writes them).
pub(crate) fn ser_ts<S: serde::Serializer>(
    t: &Option<jiff::Timestamp>,
    s: S,
) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => s.serialize_str(&t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()),
        None => s.serialize_none(),
    }
}
