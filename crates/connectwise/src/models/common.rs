use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Map, Value};

/// A reference to another record: `{"id": 1, "name": "…", "_info": {…}}`. Send `Reference::id(n)` to
/// set one.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reference {
    /// ConnectWise's record id of the referenced record; the form this client sends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The referenced record's identifier string (e.g. a company's or catalog item's code),
    /// for records that have one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    /// The referenced record's display name, as ConnectWise returns it; not needed to send.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// ConnectWise's `_info` links for the reference (e.g. `board_href`); read only, never sent.
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
    /// When the record last changed, by ConnectWise's clock; `None` when absent or unreadable.
    #[serde(default, deserialize_with = "lenient_ts")]
    pub last_updated: Option<jiff::Timestamp>,
    /// Who last changed the record, as ConnectWise names the member.
    pub updated_by: Option<String>,
    /// When the record was created, by ConnectWise's clock; `None` when absent or unreadable.
    #[serde(default, deserialize_with = "lenient_ts")]
    pub date_entered: Option<jiff::Timestamp>,
    /// Who created the record, as ConnectWise names the member.
    pub entered_by: Option<String>,
}

/// One custom field value (replace the whole array when patching).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CustomField {
    /// ConnectWise's record id of the custom field's definition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<i64>,
    /// The field's label, as ConnectWise shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caption: Option<String>,
    /// The value type ConnectWise declares for the field (`type`, such as `Text` or `Number`).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub type_: Option<String>,
    /// How a value is entered in ConnectWise (`entryMethod`, such as `EntryField` or `List`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry_method: Option<String>,
    /// Decimal places kept for a number field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number_of_decimals: Option<i64>,
    /// The field's value, kept as JSON because its type depends on `type_`; `None` when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// `{"count": N}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub struct Count {
    /// How many records match the query's conditions.
    pub count: i64,
}

/// One JSON Patch operation. ConnectWise paths are case-sensitive and written without the leading
/// slash; replace references as whole objects (`{"id": n}`), never a sub-path.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PatchOp {
    /// What the operation does to `path`.
    pub op: PatchKind,
    /// The field to change: case-sensitive, without a leading slash (e.g. `quantity`, `status`).
    pub path: String,
    /// The new value for `add` and `replace`; `None` (not sent) for `remove`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<Value>,
}

/// The JSON Patch operations ConnectWise accepts, sent in lower case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PatchKind {
    /// Set the field, creating it when the record lacks it.
    Add,
    /// Overwrite the field's value (what this client's updates send).
    Replace,
    /// Clear the field.
    Remove,
}

impl PatchOp {
    /// A `replace` of `path` with `value` as JSON (a value that cannot be serialised is sent as
    /// `null`).
    pub fn replace(path: impl Into<String>, value: impl Serialize) -> Self {
        PatchOp {
            op: PatchKind::Replace,
            path: path.into(),
            value: Some(serde_json::to_value(value).unwrap_or(Value::Null)),
        }
    }
    /// An `add` of `value` at `path` (a value that cannot be serialised is sent as `null`).
    pub fn add(path: impl Into<String>, value: impl Serialize) -> Self {
        PatchOp {
            op: PatchKind::Add,
            path: path.into(),
            value: Some(serde_json::to_value(value).unwrap_or(Value::Null)),
        }
    }
    /// A `remove` of `path`, which clears the field.
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
