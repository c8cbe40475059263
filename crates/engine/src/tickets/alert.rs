//! The Sophos alert as ticket sync plans with it: exactly what planning and the ticket's text need,
//! built from the client's value in the read step, so planning and content never see vendor models.

use jiff::Timestamp;
use serde::Serialize;

/// The device an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Device {
    /// Sophos's id of the device (managed agent).
    pub id: String,
    /// The device's name in Sophos, if it has one.
    pub name: Option<String>,
    /// `computer`, `server`, … as Sophos names the agent type.
    pub kind: Option<String>,
}

/// One open Sophos alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertFacts {
    /// Sophos's id of the alert; sent to ConnectWise as the ticket's external reference.
    pub id: String,
    /// When Sophos raised the alert; `None` when Sophos did not say.
    pub raised_at: Option<Timestamp>,
    /// `low`, `medium`, `high` (or another value Sophos sends), lower case as Sophos writes it.
    pub severity: Option<String>,
    /// `endpoint`, `server`, … as Sophos names the product.
    pub product: Option<String>,
    /// The alert's category as Sophos names it, e.g. `malware`; used by the category filter.
    pub category: Option<String>,
    /// e.g. `Event::Endpoint::OutOfDate`.
    pub alert_type: Option<String>,
    /// Sophos's description of the alert, copied into the ticket.
    pub description: Option<String>,
    /// The device the alert is about; `None` for alerts not about a device.
    pub device: Option<Device>,
    /// Sophos lists `acknowledge` among the alert's allowed actions.
    pub can_acknowledge: bool,
}

impl AlertFacts {
    /// From the alert the Sophos client returned.
    pub fn from_sophos(a: sophos::OpenAlert) -> Self {
        AlertFacts {
            id: a.id,
            raised_at: a.raised_at,
            severity: a.severity,
            product: a.product,
            category: a.category,
            alert_type: a.alert_type,
            description: a.description,
            device: a.device.map(|d| Device {
                id: d.id,
                name: d.name,
                kind: d.kind,
            }),
            can_acknowledge: a.can_acknowledge,
        }
    }
}

/// The ConnectWise severity a ticket gets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TicketSeverity {
    /// For alerts of severity `low`.
    Low,
    /// For alerts of severity `medium`, another value, or none.
    Medium,
    /// For alerts of severity `high`.
    High,
}

impl AlertFacts {
    /// High and low as in Sophos; anything else (or none) is medium.
    pub fn ticket_severity(&self) -> TicketSeverity {
        match self.severity.as_deref() {
            Some("high") => TicketSeverity::High,
            Some("low") => TicketSeverity::Low,
            _ => TicketSeverity::Medium,
        }
    }
}
