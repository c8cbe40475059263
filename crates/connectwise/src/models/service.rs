use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::common::{CustomField, RecordInfo, Reference, lenient_ts, ser_ts};
use super::cw_enum;

cw_enum!(
    /// Ticket `recordType`.
    RecordType { ServiceTicket = "ServiceTicket", ProjectTicket = "ProjectTicket", ProjectIssue = "ProjectIssue" }
);

cw_enum!(
    /// Ticket `severity` and `impact`.
    Level { Low = "Low", Medium = "Medium", High = "High" }
);

cw_enum!(
    /// Board status `escalationStatus`.
    EscalationStatus { NotResponded = "NotResponded", Responded = "Responded", ResolutionPlan = "ResolutionPlan", Resolved = "Resolved", NoEscalation = "NoEscalation" }
);

cw_enum!(
    /// Board type `category`.
    TypeCategory { Reactive = "Reactive", Proactive = "Proactive" }
);

/// `service/boards`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Board {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub location: Option<Reference>,
    pub department: Option<Reference>,
    pub inactive_flag: Option<bool>,
    pub auto_close_status: Option<Reference>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/boards/{id}/statuses`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BoardStatus {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub board: Option<Reference>,
    pub sort_order: Option<i64>,
    pub display_on_board: Option<bool>,
    pub inactive: Option<bool>,
    pub closed_status: Option<bool>,
    pub default_flag: Option<bool>,
    pub escalation_status: Option<EscalationStatus>,
    pub time_entry_not_allowed: Option<bool>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/boards/{id}/types`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BoardType {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub category: Option<TypeCategory>,
    pub default_flag: Option<bool>,
    pub inactive_flag: Option<bool>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/boards/{id}/subtypes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BoardSubtype {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub inactive_flag: Option<bool>,
    pub type_association_ids: Option<Vec<i64>>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/boards/{id}/items`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BoardItem {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub inactive_flag: Option<bool>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/priorities`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Priority {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub color: Option<String>,
    pub sort_order: Option<i64>,
    pub default_flag: Option<bool>,
    /// Undocumented shape (string or number): kept as sent.
    pub level: Option<Value>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/sources`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Source {
    pub id: Option<i64>,
    pub name: Option<String>,
    pub default_flag: Option<bool>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/tickets`. `initial_*` are accepted on POST only and never returned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Ticket {
    pub id: Option<i64>,
    pub summary: Option<String>,
    pub record_type: Option<RecordType>,
    pub company: Option<Reference>,
    pub board: Option<Reference>,
    pub status: Option<Reference>,
    #[serde(rename = "type")]
    pub type_: Option<Reference>,
    pub sub_type: Option<Reference>,
    pub item: Option<Reference>,
    pub priority: Option<Reference>,
    pub source: Option<Reference>,
    pub severity: Option<Level>,
    pub impact: Option<Level>,
    pub contact: Option<Reference>,
    pub agreement: Option<Reference>,
    #[serde(rename = "externalXRef")]
    pub external_x_ref: Option<String>,
    pub closed_flag: Option<bool>,
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub closed_date: Option<jiff::Timestamp>,
    pub closed_by: Option<String>,
    pub custom_fields: Option<Vec<CustomField>>,
    pub integrator_tags: Option<Vec<String>>,
    pub initial_description: Option<String>,
    pub initial_internal_analysis: Option<String>,
    pub initial_resolution: Option<String>,
    pub process_notifications: Option<bool>,
    pub skip_callback: Option<bool>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/tickets/{id}/notes`. Needs `text` and at least one of the three display flags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TicketNote {
    pub id: Option<i64>,
    pub ticket_id: Option<i64>,
    pub text: Option<String>,
    pub detail_description_flag: Option<bool>,
    pub internal_analysis_flag: Option<bool>,
    pub resolution_flag: Option<bool>,
    pub issue_flag: Option<bool>,
    pub member: Option<Reference>,
    pub contact: Option<Reference>,
    pub customer_updated_flag: Option<bool>,
    pub process_notifications: Option<bool>,
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub date_created: Option<jiff::Timestamp>,
    pub created_by: Option<String>,
    pub internal_flag: Option<bool>,
    pub external_flag: Option<bool>,
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

impl TicketNote {
    /// A customer-visible note (Detail Description).
    pub fn detail(text: impl Into<String>) -> Self {
        TicketNote {
            text: Some(text.into()),
            detail_description_flag: Some(true),
            ..TicketNote::default()
        }
    }

    /// An internal note (Internal Analysis).
    pub fn internal(text: impl Into<String>) -> Self {
        TicketNote {
            text: Some(text.into()),
            internal_analysis_flag: Some(true),
            ..TicketNote::default()
        }
    }
}
