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
    /// ConnectWise's record id of the service board tickets go on.
    pub id: Option<i64>,
    /// The board's name (at most 50 characters).
    pub name: Option<String>,
    /// The location the board belongs to; required on create.
    pub location: Option<Reference>,
    /// The department that works the board; required on create.
    pub department: Option<Reference>,
    /// True when the board is inactive; pick-lists leave it out.
    pub inactive_flag: Option<bool>,
    /// The status ConnectWise's automatic closing moves the board's tickets to.
    pub auto_close_status: Option<Reference>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/boards/{id}/statuses`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BoardStatus {
    /// ConnectWise's record id of the status.
    pub id: Option<i64>,
    /// The status's name (at most 50 characters).
    pub name: Option<String>,
    /// The board the status belongs to.
    pub board: Option<Reference>,
    /// Position in the board's list of statuses (lower first).
    pub sort_order: Option<i64>,
    /// True when tickets in this status show on the board.
    pub display_on_board: Option<bool>,
    /// True when the status is inactive; pick-lists leave it out.
    pub inactive: Option<bool>,
    /// True when moving a ticket to this status closes it (which needs Close Service Tickets).
    pub closed_status: Option<bool>,
    /// True for the status a new ticket on the board gets when none is given.
    pub default_flag: Option<bool>,
    /// The escalation stage the status stands for (`NoEscalation` when none).
    pub escalation_status: Option<EscalationStatus>,
    /// True when time cannot be entered on tickets in this status.
    pub time_entry_not_allowed: Option<bool>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/boards/{id}/types`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BoardType {
    /// ConnectWise's record id of the ticket type.
    pub id: Option<i64>,
    /// The type's name (at most 50 characters).
    pub name: Option<String>,
    /// Whether the type is for reactive or proactive work.
    pub category: Option<TypeCategory>,
    /// True for the board's default type.
    pub default_flag: Option<bool>,
    /// True when the type is inactive; pick-lists leave it out.
    pub inactive_flag: Option<bool>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/boards/{id}/subtypes`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BoardSubtype {
    /// ConnectWise's record id of the ticket subtype.
    pub id: Option<i64>,
    /// The subtype's name (at most 50 characters).
    pub name: Option<String>,
    /// True when the subtype is inactive; pick-lists leave it out.
    pub inactive_flag: Option<bool>,
    /// Record ids of the board's types this subtype goes with.
    pub type_association_ids: Option<Vec<i64>>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/boards/{id}/items`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct BoardItem {
    /// ConnectWise's record id of the ticket item.
    pub id: Option<i64>,
    /// The item's name (at most 50 characters).
    pub name: Option<String>,
    /// True when the item is inactive; pick-lists leave it out.
    pub inactive_flag: Option<bool>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/priorities`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Priority {
    /// ConnectWise's record id of the priority.
    pub id: Option<i64>,
    /// The priority's name (at most 50 characters).
    pub name: Option<String>,
    /// The colour ConnectWise shows the priority in, by name (e.g. `Red`, or `Custom`).
    pub color: Option<String>,
    /// Position in the list of priorities; lower sorts first and is read as more urgent.
    pub sort_order: Option<i64>,
    /// True for the priority a new ticket gets when none is given.
    pub default_flag: Option<bool>,
    /// Undocumented shape (string or number): kept as sent.
    pub level: Option<Value>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/sources`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Source {
    /// ConnectWise's record id of the ticket source.
    pub id: Option<i64>,
    /// The source's name (at most 50 characters), e.g. "Sophos Central".
    pub name: Option<String>,
    /// True for the source a new ticket gets when none is given.
    pub default_flag: Option<bool>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/tickets`. `initial_*` are accepted on POST only and never returned.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Ticket {
    /// ConnectWise's record id of the ticket (its ticket number).
    pub id: Option<i64>,
    /// The ticket's title (at most 100 characters); required on create.
    pub summary: Option<String>,
    /// What kind of ticket it is (`ServiceTicket`, `ProjectTicket`, `ProjectIssue`).
    pub record_type: Option<RecordType>,
    /// The company the ticket is for; required on create.
    pub company: Option<Reference>,
    /// The service board the ticket is on.
    pub board: Option<Reference>,
    /// The ticket's status on its board; a status whose `closedStatus` is true closes it.
    pub status: Option<Reference>,
    /// The ticket's type (`type`), one of its board's types.
    #[serde(rename = "type")]
    pub type_: Option<Reference>,
    /// The ticket's subtype, one of its board's subtypes.
    pub sub_type: Option<Reference>,
    /// The ticket's item, one of its board's items.
    pub item: Option<Reference>,
    /// The ticket's priority.
    pub priority: Option<Reference>,
    /// Where the ticket came from (e.g. a "Sophos Central" source).
    pub source: Option<Reference>,
    /// How severe the issue is (`Low`, `Medium`, `High`).
    pub severity: Option<Level>,
    /// How widely the issue affects the customer (`Low`, `Medium`, `High`).
    pub impact: Option<Level>,
    /// The customer contact on the ticket; this client never sets it (that needs Contacts rights).
    pub contact: Option<Reference>,
    /// The agreement the ticket's work is billed against.
    pub agreement: Option<Reference>,
    /// A reference for integrations (`externalXRef`, at most 100 characters): the Sophos alert
    /// id, by which the ticket is found again.
    #[serde(rename = "externalXRef")]
    pub external_x_ref: Option<String>,
    /// True when the ticket is closed.
    pub closed_flag: Option<bool>,
    /// When the ticket was closed; `None` while it is open.
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub closed_date: Option<jiff::Timestamp>,
    /// Who closed the ticket, as ConnectWise names the member.
    pub closed_by: Option<String>,
    /// The ticket's custom field values.
    pub custom_fields: Option<Vec<CustomField>>,
    /// Tags integrations attach to the ticket.
    pub integrator_tags: Option<Vec<String>>,
    /// The first Detail Description text, taken on create only and never returned.
    pub initial_description: Option<String>,
    /// The first Internal Analysis text, taken on create only and never returned.
    pub initial_internal_analysis: Option<String>,
    /// The first Resolution text, taken on create only and never returned.
    pub initial_resolution: Option<String>,
    /// Whether ConnectWise runs its notifications for this write; `true` when not sent.
    pub process_notifications: Option<bool>,
    /// True to keep ConnectWise from sending its callbacks for this write.
    pub skip_callback: Option<bool>,
    /// Who created and last changed the record, and when (`_info`).
    #[serde(rename = "_info")]
    pub info: Option<RecordInfo>,
}

/// `service/tickets/{id}/notes`. Needs `text` and at least one of the three display flags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TicketNote {
    /// ConnectWise's record id of the note.
    pub id: Option<i64>,
    /// ConnectWise's record id of the ticket the note is on.
    pub ticket_id: Option<i64>,
    /// The note's text; required on create.
    pub text: Option<String>,
    /// True when the note shows as Detail Description (the customer can see it).
    pub detail_description_flag: Option<bool>,
    /// True when the note shows as Internal Analysis (staff only).
    pub internal_analysis_flag: Option<bool>,
    /// True when the note shows as Resolution.
    pub resolution_flag: Option<bool>,
    /// ConnectWise's Issue marker on the note; not one of the three display flags.
    pub issue_flag: Option<bool>,
    /// The member who wrote the note, when a member did.
    pub member: Option<Reference>,
    /// The contact who wrote the note, when a customer did.
    pub contact: Option<Reference>,
    /// True when the note marks the ticket as updated by the customer.
    pub customer_updated_flag: Option<bool>,
    /// Whether ConnectWise runs its notifications for this note; `true` when not sent.
    pub process_notifications: Option<bool>,
    /// When the note was written, by ConnectWise's clock.
    #[serde(deserialize_with = "lenient_ts", serialize_with = "ser_ts")]
    pub date_created: Option<jiff::Timestamp>,
    /// Who wrote the note, as ConnectWise names the member.
    pub created_by: Option<String>,
    /// Set by ConnectWise: true when the note is internal (Internal Analysis).
    pub internal_flag: Option<bool>,
    /// Set by ConnectWise: true when the customer can see the note (Detail Description or
    /// Resolution).
    pub external_flag: Option<bool>,
    /// Who created and last changed the record, and when (`_info`).
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
