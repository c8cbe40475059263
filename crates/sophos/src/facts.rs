//! Domain-shaped values for callers that plan with Sophos data: plain strings and flags instead of
//! the wire models, so field names and wire enums stay in this crate.

use jiff::Timestamp;

use crate::models::{Alert, AlertAction, Tenant, TenantRef, UsageItem};

/// The device an alert is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAlertDevice {
    /// Sophos's `managedAgent` id of the device.
    pub id: String,
    /// The device's name; `None` when Sophos did not send one.
    pub name: Option<String>,
    /// The agent type, e.g. `computer` or `server`.
    pub kind: Option<String>,
}

/// An alert open in Sophos Central.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenAlert {
    /// Sophos's alert id, the stable key that makes alert-to-ticket sync idempotent.
    pub id: String,
    /// When Sophos raised the alert; `None` when missing or unreadable.
    pub raised_at: Option<Timestamp>,
    /// As Sophos writes it: `low`, `medium`, `high` (or a newer value).
    pub severity: Option<String>,
    /// As Sophos writes it, e.g. `endpoint`, `server`.
    pub product: Option<String>,
    /// As Sophos writes it, e.g. `malware`, `updating`.
    pub category: Option<String>,
    /// e.g. `Event::Endpoint::OutOfDate`.
    pub alert_type: Option<String>,
    /// Sophos's human text about the alert (may contain backslashes from file paths).
    pub description: Option<String>,
    /// The device the alert is about; `None` for alerts not about a device.
    pub device: Option<OpenAlertDevice>,
    /// `acknowledge` is among the alert's allowed actions.
    pub can_acknowledge: bool,
}

impl From<Alert> for OpenAlert {
    fn from(a: Alert) -> Self {
        OpenAlert {
            can_acknowledge: a.allows(&AlertAction::Acknowledge),
            id: a.id,
            raised_at: a.raised_at,
            severity: a.severity.map(|s| s.as_str().to_owned()),
            product: a.product.map(|p| p.as_str().to_owned()),
            category: a.category.map(|c| c.as_str().to_owned()),
            alert_type: a.alert_type,
            description: a.description,
            device: a.managed_agent.map(|m| OpenAlertDevice {
                id: m.id,
                name: m.name,
                kind: m.agent_type,
            }),
        }
    }
}

/// A tenant as a caller records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantSummary {
    /// Sophos's tenant id (a UUID string, kept exactly as sent).
    pub id: String,
    /// `showAs`, else `name`, else the id.
    pub name: String,
    /// As Sophos writes it: `usage` (monthly, MSP Flex), `term`, `trial`.
    pub billing_type: Option<String>,
    /// The tenant's `dataRegion` code, e.g. `eu01`; informational, never used to build a URL.
    pub data_region: Option<String>,
    /// Where this tenant's data calls go.
    pub api_host: Option<String>,
    /// The tenant's `status` as Sophos writes it (values not documented); `None` when not sent.
    pub status: Option<String>,
}

impl TenantSummary {
    /// Id + apiHost for tenant calls; `None` when the tenant carries no `apiHost`.
    pub fn tenant_ref(&self) -> Option<TenantRef> {
        self.api_host
            .as_ref()
            .map(|h| TenantRef::new(self.id.clone(), h.clone()))
    }
}

impl From<Tenant> for TenantSummary {
    fn from(t: Tenant) -> Self {
        TenantSummary {
            name: t.display_name().to_owned(),
            billing_type: t.billing_type.map(|b| b.as_str().to_owned()),
            data_region: t.data_region,
            api_host: t.api_host,
            status: t.status,
            id: t.id,
        }
    }
}

/// One line of a month's billing usage, as a caller bills it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageLine {
    /// The tenant billed; `None` for lines not tied to a tenant (device subscriptions).
    pub tenant_id: Option<String>,
    /// Sophos's `productCode`, e.g. `CIXA-MSP`, which the product table maps to a product.
    pub product_code: Option<String>,
    /// Sophos's `productDescription`, e.g. `Intercept X Advanced - MSP Monthly`.
    pub description: Option<String>,
    /// What the partner is billed for (`None` when Sophos left it out: not the same as 0).
    pub billable_quantity: Option<i64>,
}

impl From<UsageItem> for UsageLine {
    fn from(i: UsageItem) -> Self {
        UsageLine {
            tenant_id: i.account_id,
            product_code: i.product_code,
            description: i.product_description,
            billable_quantity: i.billable_quantity,
        }
    }
}

/// What a month's usage listing yields: its lines, or (once, alone) that Sophos has published no
/// data for the month (404 "No data for requested year or month"). No data is not zero usage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UsageEvent {
    /// Sophos answered 404 for the month: it has published no data. Sent once, with no lines.
    NoData,
    /// One usage line of the month.
    Line(UsageLine),
}
