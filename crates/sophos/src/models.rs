//! The client's own wire types for the Sophos Central APIs (never shared with the emulator).
//!
//! Forward compatible on purpose: unknown fields are ignored, every documented field except `id` is
//! optional, and enumerations keep unknown values in an `Other` variant so a new category never fails a
//! whole page.

use jiff::Timestamp;
use jiff::civil::{Date, DateTime};
use jiff::tz::TimeZone;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

macro_rules! string_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $(
                #[doc = concat!("The value Sophos writes as `", $wire, "`.")]
                $variant,
            )+
            /// A value this client does not know yet, kept verbatim.
            Other(String),
        }

        impl $name {
            /// The value as Sophos spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(s) => s.as_str(),
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($wire => $name::$variant,)+
                    other => $name::Other(other.to_string()),
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                Ok($name::from(s.as_str()))
            }
        }
    };
}

string_enum!(
    /// whoami `idType`.
    IdType { Partner => "partner", Organization => "organization", Tenant => "tenant" }
);

string_enum!(
    /// Tenant `billingType`. `usage` is the monthly (MSP Flex) type, the only one with billing lines.
    BillingType { Term => "term", Trial => "trial", Usage => "usage" }
);

string_enum!(
    /// Alert `severity`.
    Severity { Low => "low", Medium => "medium", High => "high" }
);

string_enum!(
    /// Alert `product`.
    Product {
        OtherProduct => "other", Endpoint => "endpoint", Server => "server", Mobile => "mobile",
        Encryption => "encryption", EmailGateway => "emailGateway", WebGateway => "webGateway",
        PhishThreat => "phishThreat", Wireless => "wireless", Iaas => "iaas", Firewall => "firewall",
    }
);

string_enum!(
    /// Alert `category`.
    Category {
        Azure => "azure", AdSync => "adSync", ApplicationControl => "applicationControl",
        AppReputation => "appReputation", BlockListed => "blockListed", Connectivity => "connectivity",
        Cwg => "cwg", Denc => "denc", DownloadReputation => "downloadReputation",
        EndpointFirewall => "endpointFirewall", Fenc => "fenc", ForensicSnapshot => "forensicSnapshot",
        General => "general", Iaas => "iaas", IaasAzure => "iaasAzure", Isolation => "isolation",
        Malware => "malware", Mtr => "mtr", Mobiles => "mobiles", Policy => "policy",
        Protection => "protection", Pua => "pua", RuntimeDetections => "runtimeDetections",
        Security => "security", Smc => "smc", SystemHealth => "systemHealth", Uav => "uav",
        Uncategorized => "uncategorized", Updating => "updating", Utm => "utm", Virt => "virt",
        Wireless => "wireless", XgEmail => "xgEmail",
    }
);

string_enum!(
    /// Alert actions (§8.4); send only ones listed in the alert's `allowedActions`.
    AlertAction {
        Acknowledge => "acknowledge", CleanPua => "cleanPua", CleanVirus => "cleanVirus",
        AuthPua => "authPua", ClearThreat => "clearThreat", ClearHmpa => "clearHmpa",
        SendMsgPua => "sendMsgPua", SendMsgThreat => "sendMsgThreat",
    }
);

/// `GET /whoami/v1`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    /// The caller's id; for partner credentials the `X-Partner-ID` value.
    pub id: String,
    /// Which kind of credentials these are; the integration requires `partner`.
    #[serde(default)]
    pub id_type: Option<IdType>,
    /// Where this caller's API calls go.
    #[serde(default)]
    pub api_hosts: ApiHosts,
}

/// whoami `apiHosts`: the base URLs for the caller's API calls.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiHosts {
    /// The global API base (`apiHosts.global`), normalised before use; may be plain `http://`.
    #[serde(default)]
    pub global: Option<String>,
    /// Only for tenant-level credentials.
    #[serde(default)]
    pub data_region: Option<String>,
}

/// A bare `{id}` reference (a tenant's `partner` or `organization`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdRef {
    /// Id of the referenced partner or organization.
    pub id: String,
}

/// An `{id, name}` reference (an alert's `tenant` or `person`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NamedRef {
    /// Id of the referenced tenant or person.
    pub id: String,
    /// Its name; `None` when Sophos left it out.
    #[serde(default)]
    pub name: Option<String>,
}

/// A partner's customer (tenant), from the list or from get-one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Tenant {
    /// Sophos's tenant id: the `X-Tenant-ID` value and the key the store maps to a company.
    pub id: String,
    /// The tenant's name as listed; `None` when absent.
    #[serde(default)]
    pub name: Option<String>,
    /// Display name (get-one only).
    #[serde(default)]
    pub show_as: Option<String>,
    /// `dataGeography`, e.g. `US`.
    #[serde(default)]
    pub data_geography: Option<String>,
    /// `dataRegion` code, e.g. `eu01`; never used to build a URL (see `api_host`).
    #[serde(default)]
    pub data_region: Option<String>,
    /// How the customer is billed; only `usage` (MSP Flex) tenants have billing usage lines.
    #[serde(default)]
    pub billing_type: Option<BillingType>,
    /// The partner the tenant belongs to.
    #[serde(default)]
    pub partner: Option<IdRef>,
    /// The organization the tenant belongs to, when it has one.
    #[serde(default)]
    pub organization: Option<IdRef>,
    /// Where this tenant's data calls go, used exactly as returned.
    #[serde(default)]
    pub api_host: Option<String>,
    /// `status` as Sophos sends it; its values are not documented.
    #[serde(default)]
    pub status: Option<String>,
}

impl Tenant {
    /// `showAs`, else `name`, else the id.
    pub fn display_name(&self) -> &str {
        self.show_as
            .as_deref()
            .or(self.name.as_deref())
            .unwrap_or(&self.id)
    }

    /// Id + apiHost for tenant calls; `None` when the tenant carries no `apiHost`.
    pub fn tenant_ref(&self) -> Option<TenantRef> {
        self.api_host.as_ref().map(|h| TenantRef {
            id: self.id.clone(),
            api_host: h.clone(),
        })
    }
}

/// What a tenant-scoped call needs: the tenant id (`X-Tenant-ID`) and its `apiHost`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TenantRef {
    /// The tenant id, sent as `X-Tenant-ID`.
    pub id: String,
    /// The tenant's `apiHost`, base URL of its alert calls.
    pub api_host: String,
}

impl TenantRef {
    /// Builds a reference from a tenant id and its `apiHost` as Sophos returned it.
    pub fn new(id: impl Into<String>, api_host: impl Into<String>) -> Self {
        TenantRef {
            id: id.into(),
            api_host: api_host.into(),
        }
    }
}

/// One billing usage line (§7).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageItem {
    /// The partner's account id (`partnerAccountId`).
    #[serde(default)]
    pub partner_account_id: Option<String>,
    /// The partner's EDI account number.
    #[serde(default)]
    pub partner_edi_account_number: Option<String>,
    /// The partner's account name.
    #[serde(default)]
    pub partner_account_name: Option<String>,
    /// `YYYY-MM-DD` as sent; see [`UsageItem::billing_start`].
    #[serde(default)]
    pub billing_start_date: Option<String>,
    /// `YYYY-MM-DD` as sent (the published example holds `2021-04-31`); see [`UsageItem::billing_end`].
    #[serde(default)]
    pub billing_end_date: Option<String>,
    /// The Sophos order the line bills under.
    #[serde(default)]
    pub order_number: Option<String>,
    /// The line of that order.
    #[serde(default)]
    pub order_line_item_number: Option<String>,
    /// The licence or serial reference of the subscription.
    #[serde(default)]
    pub account_number_or_serial_number: Option<String>,
    /// Product text, e.g. `Intercept X Advanced - MSP Monthly`.
    #[serde(default)]
    pub product_description: Option<String>,
    /// Product group, e.g. `User`.
    #[serde(default)]
    pub product_group: Option<String>,
    /// Sophos's SKU of the product.
    #[serde(default)]
    pub sku: Option<String>,
    /// Sophos's product code, e.g. `CIXA-MSP`; the product table maps it to a product.
    #[serde(default)]
    pub product_code: Option<String>,
    /// What the partner is billed for; `None` when absent or unreadable (not the same as 0).
    #[serde(default, deserialize_with = "lenient_i64")]
    pub billable_quantity: Option<i64>,
    /// What is in use; `None` when absent or unreadable.
    #[serde(default, deserialize_with = "lenient_i64")]
    pub actual_quantity: Option<i64>,
    /// Sophos's `externalId` of the line (a UUID).
    #[serde(default)]
    pub external_id: Option<String>,
    /// The tenant id; absent for lines not tied to a tenant.
    #[serde(default)]
    pub account_id: Option<String>,
    /// Status of the tenant's account, e.g. `active`.
    #[serde(default)]
    pub account_status: Option<String>,
}

impl UsageItem {
    /// The first billed day, parsed leniently; `None` when absent or unreadable.
    pub fn billing_start(&self) -> Option<Date> {
        self.billing_start_date
            .as_deref()
            .and_then(parse_date_lenient)
    }
    /// The last billed day (an impossible day is clamped to the month's end); `None` if unreadable.
    pub fn billing_end(&self) -> Option<Date> {
        self.billing_end_date
            .as_deref()
            .and_then(parse_date_lenient)
    }
}

/// A Common alert (§8.2).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// Sophos's alert id, the stable key for alert-to-ticket idempotency.
    pub id: String,
    /// Actions Sophos accepts on this alert right now; a JSON `null` reads as empty.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub allowed_actions: Vec<AlertAction>,
    /// What kind of problem it is, e.g. `malware` or `updating`.
    #[serde(default)]
    pub category: Option<Category>,
    /// Human text about the alert; may contain backslashes (file paths).
    #[serde(default)]
    pub description: Option<String>,
    /// Opaque key shared by repeats of the same problem.
    #[serde(default)]
    pub group_key: Option<String>,
    /// The device the alert is about; `None` for alerts not about a device.
    #[serde(default)]
    pub managed_agent: Option<ManagedAgent>,
    /// The user the alert is about; `None` when it is about no user.
    #[serde(default)]
    pub person: Option<NamedRef>,
    /// The Sophos product that raised it, e.g. `endpoint`.
    #[serde(default)]
    pub product: Option<Product>,
    /// Parsed leniently (with or without zone and fraction; zone-less means UTC). An unreadable value
    /// becomes `None` rather than failing the page.
    #[serde(default, deserialize_with = "lenient_ts")]
    pub raised_at: Option<Timestamp>,
    /// `low`, `medium` or `high`.
    #[serde(default)]
    pub severity: Option<Severity>,
    /// The tenant the alert belongs to, with its name.
    #[serde(default)]
    pub tenant: Option<NamedRef>,
    /// The event type (`type`), e.g. `Event::Endpoint::OutOfDate`.
    #[serde(default, rename = "type")]
    pub alert_type: Option<String>,
}

impl Alert {
    /// Whether `action` is among the alert's `allowedActions`.
    pub fn allows(&self, action: &AlertAction) -> bool {
        self.allowed_actions.contains(action)
    }
}

/// The device of an alert.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagedAgent {
    /// Sophos's id of the device (managed agent).
    pub id: String,
    /// `computer`, `server`, …
    #[serde(default, rename = "type")]
    pub agent_type: Option<String>,
    /// The device's name; `None` when absent (it is not in the published shape).
    #[serde(default)]
    pub name: Option<String>,
}

/// 201 answer of `POST …/alerts/{id}/actions`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionResult {
    /// Id of the action record.
    #[serde(default)]
    pub id: Option<String>,
    /// The alert acted on.
    #[serde(default)]
    pub alert_id: Option<String>,
    /// The action requested.
    #[serde(default)]
    pub action: Option<AlertAction>,
    /// e.g. `started`; actions run asynchronously.
    #[serde(default)]
    pub status: Option<String>,
    /// When the action was requested.
    #[serde(default, deserialize_with = "lenient_ts")]
    pub requested_at: Option<Timestamp>,
    /// When it started running.
    #[serde(default, deserialize_with = "lenient_ts")]
    pub started_at: Option<Timestamp>,
    /// When it finished; `None` while it is still running.
    #[serde(default, deserialize_with = "lenient_ts")]
    pub completed_at: Option<Timestamp>,
    /// Free-form (an empty string in the published example).
    #[serde(default)]
    pub result: Option<serde_json::Value>,
}

/// A billing month read in full.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageMonth {
    /// The billing year read.
    pub year: i16,
    /// The billing month read, 1–12.
    pub month: i8,
    /// Sophos answered 404 "no data for requested year or month".
    pub no_data: bool,
    /// Every usage line of the month, all pages together; empty when `no_data`.
    pub items: Vec<UsageItem>,
}

/// Paging block shared by page-number and key-paged lists.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pages {
    /// This page's number (page-number paging).
    #[serde(default)]
    pub current: Option<u64>,
    /// The page size the server used.
    #[serde(default)]
    pub size: Option<u64>,
    /// Number of pages; sent only when asked with `pageTotal=true`.
    #[serde(default)]
    pub total: Option<u64>,
    /// Number of items in all pages.
    #[serde(default)]
    pub items: Option<u64>,
    /// The largest page size the server allows.
    #[serde(default)]
    pub max_size: Option<u64>,
    /// Key this page started from (key paging).
    #[serde(default)]
    pub from_key: Option<String>,
    /// Key of the next page, to send as `pageFromKey`; `None` on the last page.
    #[serde(default)]
    pub next_key: Option<String>,
}

/// One page of a list endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(bound(deserialize = "T: Deserialize<'de>"))]
pub struct Page<T> {
    /// The page's items; a JSON `null` reads as empty.
    #[serde(default = "Vec::new", deserialize_with = "null_as_empty")]
    pub items: Vec<T>,
    /// The paging block; all `None` when the server sent none.
    #[serde(default)]
    pub pages: Pages,
}

/// Token endpoint answer; success shape or the §4 error shape (`errorCode`, `message`, `trackingId`).
#[derive(Deserialize)]
pub(crate) struct TokenResponse {
    #[serde(default)]
    pub access_token: Option<secrecy::SecretString>,
    #[serde(default)]
    pub expires_in: Option<serde_json::Value>,
    #[serde(default, rename = "errorCode")]
    pub error_code: Option<String>,
    #[serde(default)]
    pub message: Option<String>,
    #[serde(default, rename = "trackingId")]
    pub tracking_id: Option<String>,
}

/// General API error body (§11), read leniently.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Machine code, e.g. `forbidden` or `resourceNotFound`.
    #[serde(default)]
    pub error: Option<String>,
    /// Human text, e.g. `Forbidden.`.
    #[serde(default)]
    pub message: Option<String>,
    /// Identifies the request on Sophos's side; kept in errors and logs.
    #[serde(default)]
    pub correlation_id: Option<String>,
    /// Sophos's request id, kept like the correlation id.
    #[serde(default)]
    pub request_id: Option<String>,
    /// Optional extra code, kept as raw JSON (its type is not documented).
    #[serde(default)]
    pub code: Option<serde_json::Value>,
    /// When the error was created, as sent.
    #[serde(default)]
    pub created_at: Option<String>,
    /// Link to Sophos's documentation of the error.
    #[serde(default)]
    pub doc_url: Option<String>,
    /// Token endpoint style.
    #[serde(default)]
    pub error_code: Option<String>,
    /// The token endpoint's `trackingId`.
    #[serde(default)]
    pub tracking_id: Option<String>,
}

impl ErrorBody {
    /// Reads an error body; anything that is not a JSON object gives an empty body.
    pub fn parse(bytes: &[u8]) -> ErrorBody {
        serde_json::from_slice(bytes).unwrap_or_default()
    }
}

/// Parses Sophos timestamps: `2021-02-12T15:04:53.780`, `…Z`, `…+01:00`, with or without fraction;
/// zone-less values are UTC.
pub fn parse_timestamp_lenient(s: &str) -> Option<Timestamp> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Some(ts);
    }
    let dt = s.parse::<DateTime>().ok()?;
    TimeZone::UTC.to_timestamp(dt).ok()
}

/// Parses `YYYY-MM-DD`; an impossible day (e.g. `2021-04-31`) is clamped to the month's last day.
pub fn parse_date_lenient(s: &str) -> Option<Date> {
    let s = s.trim();
    if let Ok(d) = s.parse::<Date>() {
        return Some(d);
    }
    let head = s.get(..10).unwrap_or(s);
    let mut parts = head.splitn(3, '-');
    let y: i16 = parts.next()?.parse().ok()?;
    let m: i8 = parts.next()?.parse().ok()?;
    let d: i8 = parts.next()?.parse().ok()?;
    if !(1..=31).contains(&d) {
        return None;
    }
    let first = Date::new(y, m, 1).ok()?;
    first.with().day(d.min(first.days_in_month())).build().ok()
}

/// Formats a timestamp the way the alerts filters show it, in UTC with milliseconds.
pub(crate) fn format_query_ts(ts: Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn lenient_ts<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::String(s)) => parse_timestamp_lenient(&s),
        _ => None,
    })
}

fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    Ok(match v {
        Some(serde_json::Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Some(serde_json::Value::String(s)) => s.trim().parse().ok(),
        _ => None,
    })
}

fn null_as_empty<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_lenient() {
        let want: Timestamp = "2021-02-12T15:04:53.780Z".parse().unwrap();
        assert_eq!(
            parse_timestamp_lenient("2021-02-12T15:04:53.780"),
            Some(want)
        );
        assert_eq!(
            parse_timestamp_lenient("2021-02-12T15:04:53.780Z"),
            Some(want)
        );
        assert_eq!(
            parse_timestamp_lenient("2021-02-12T16:04:53.780+01:00"),
            Some(want)
        );
        assert_eq!(
            parse_timestamp_lenient("2021-02-12T15:04:53"),
            Some("2021-02-12T15:04:53Z".parse().unwrap())
        );
        assert_eq!(parse_timestamp_lenient("yesterday"), None);
        assert_eq!(parse_timestamp_lenient(""), None);
        assert_eq!(format_query_ts(want), "2021-02-12T15:04:53.780Z");
    }

    #[test]
    fn dates_lenient() {
        assert_eq!(
            parse_date_lenient("2021-04-31"),
            Some(Date::new(2021, 4, 30).unwrap())
        );
        assert_eq!(
            parse_date_lenient("2024-02-30"),
            Some(Date::new(2024, 2, 29).unwrap())
        );
        assert_eq!(
            parse_date_lenient("2024-03-01"),
            Some(Date::new(2024, 3, 1).unwrap())
        );
        assert_eq!(parse_date_lenient("2024-13-01"), None);
        assert_eq!(parse_date_lenient("2024-03-00"), None);
        assert_eq!(parse_date_lenient("garbage"), None);
    }

    #[test]
    fn enums_keep_unknown_values() {
        assert_eq!(Category::from("updating"), Category::Updating);
        let c: Category = serde_json::from_str("\"quantumFlux\"").unwrap();
        assert_eq!(c, Category::Other("quantumFlux".into()));
        assert_eq!(serde_json::to_string(&c).unwrap(), "\"quantumFlux\"");
        assert_eq!(Product::from("other"), Product::OtherProduct);
    }
}
