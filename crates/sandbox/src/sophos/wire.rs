//! The emulator's own JSON shapes, written from the reference (`sophos-central-api.md`), never shared with
//! the client crate. Field order follows the reference's examples so snapshots read like them.

use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------- token (§4)

/// Token success body (snake_case, unlike the rest of the API).
#[derive(Debug, Clone, Serialize)]
pub struct TokenOk {
    /// The bearer token for API calls; opaque, valid `expires_in` seconds.
    pub access_token: String,
    /// A token for the `refresh_token` grant (which also needs the client id and secret).
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: &'static str,
    /// Seconds until `access_token` expires (the configured token lifetime, 3600 by default).
    pub expires_in: u64,
    /// Only with the `token_success_extras` knob.
    #[serde(rename = "errorCode", skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    /// `OK`, only with the `token_success_extras` knob.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
    /// A fresh UUID, only with the `token_success_extras` knob.
    #[serde(rename = "trackingId", skip_serializing_if = "Option::is_none")]
    pub tracking_id: Option<String>,
}

/// Token failure body: no `error` field, unlike the API errors.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenError {
    /// Why, e.g. `oauth.invalid_client_secret` (401) or `oauth.unsupported_grant_type` (400).
    pub error_code: &'static str,
    /// `Unauthorized` for a 401, `Bad Request` for a 400.
    pub message: &'static str,
    /// A fresh UUID identifying the failed request.
    pub tracking_id: String,
}

/// Token request, form or JSON. Every field optional so a missing one gets our error body, not axum's.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct TokenRequest {
    /// `client_credentials` or `refresh_token`; anything else answers 400.
    pub grant_type: Option<String>,
    /// The API credential's client id; required for both grants.
    pub client_id: Option<String>,
    /// The API credential's secret; required for both grants.
    pub client_secret: Option<String>,
    /// A `refresh_token` issued earlier, for the `refresh_token` grant.
    pub refresh_token: Option<String>,
    /// `token` in Sophos's examples; accepted and ignored.
    #[allow(dead_code)]
    pub scope: Option<String>,
}

// ---------------------------------------------------------------- API errors (§11)

/// General API error body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    /// The machine code, e.g. `badRequest`, `notAuthorized`, `forbidden`, `resourceNotFound`.
    pub error: &'static str,
    /// Human text, e.g. `Forbidden.`.
    pub message: String,
    /// A fresh UUID per response, identifying the request on Sophos's side.
    pub correlation_id: String,
    /// A fresh UUID per response.
    pub request_id: String,
}

// ---------------------------------------------------------------- whoami (§5)

/// `GET /whoami/v1`: who the token belongs to and where the global API is.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    /// The partner id, to send as `X-Partner-ID`.
    pub id: String,
    /// Always `partner` (the emulator has no tenant or organization credentials).
    pub id_type: &'static str,
    /// The API hosts for this caller.
    pub api_hosts: ApiHosts,
}

/// whoami's `apiHosts`.
#[derive(Debug, Clone, Serialize)]
pub struct ApiHosts {
    /// The global API base (the emulator's own origin), for whoami, tenants and billing.
    pub global: String,
}

// ---------------------------------------------------------------- tenants (§6)

/// A reference to another object by id, e.g. `partner` or `organization`.
#[derive(Debug, Clone, Serialize)]
pub struct IdRef {
    /// The referenced object's UUID.
    pub id: String,
}

/// A tenant as the list returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantItem {
    /// The tenant id (UUID), sent as `X-Tenant-ID` and billing's `accountId`.
    pub id: String,
    /// The display name; the same as `name` here (third-party clients read it on list items).
    pub show_as: String,
    /// The customer's name in Sophos, often not the ConnectWise company name.
    pub name: String,
    /// Where the tenant's data lives, e.g. `US`, `EU`, `DE`.
    pub data_geography: &'static str,
    /// The data region code, e.g. `eu01`; never used to build URLs.
    pub data_region: &'static str,
    /// `usage` (monthly, MSP Flex), `term` or `trial`.
    pub billing_type: &'static str,
    /// The partner the tenant belongs to.
    pub partner: IdRef,
    /// The origin for this tenant's alerts and SIEM calls: its region's own listener (no path).
    pub api_host: String,
    /// The tenant's organization (a deterministic UUID per tenant).
    pub organization: IdRef,
    /// `active` for every seeded tenant (Sophos does not document the other values).
    pub status: &'static str,
    /// The customer's contact, as far as the emulator knows it (the email billing filters on).
    pub contact: TenantContact,
}

/// A tenant's `contact` (its shape is not documented by Sophos; these are the fields clients read).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantContact {
    /// The contact's email, the one `contactEmail` filters on.
    pub email: String,
}

/// A tenant as `GET /partner/v1/tenants/{id}` returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantOne {
    /// The tenant id (UUID).
    pub id: String,
    /// The display name; the same as `name` here.
    pub show_as: String,
    /// The customer's name in Sophos.
    pub name: String,
    /// Where the tenant's data lives, e.g. `US`.
    pub data_geography: &'static str,
    /// The data region code, e.g. `eu01`.
    pub data_region: &'static str,
    /// `usage`, `term` or `trial`.
    pub billing_type: &'static str,
    /// The partner the tenant belongs to.
    pub partner: IdRef,
    /// The tenant's organization (a deterministic UUID per tenant).
    pub organization: IdRef,
    /// The base URL for this tenant's alerts and SIEM calls.
    pub api_host: String,
    /// `active` for every seeded tenant.
    pub status: &'static str,
    /// The customer's contact.
    pub contact: TenantContact,
}

/// Page-number paging block.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberPages {
    /// This page's number, from 1.
    pub current: usize,
    /// The page size used.
    pub size: usize,
    /// The number of pages; only when `pageTotal=true` was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
    /// The number of items on all pages.
    pub items: usize,
    /// The largest `pageSize` accepted.
    pub max_size: usize,
}

/// `GET /partner/v1/tenants`: one page of tenants.
#[derive(Debug, Clone, Serialize)]
pub struct TenantPage {
    /// The tenants of this page, in world order; empty past the last page.
    pub items: Vec<TenantItem>,
    /// Where this page sits.
    pub pages: NumberPages,
}

// ---------------------------------------------------------------- billing (§7)

/// One usage line, fields in the order of the reference's example.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageLine {
    /// The partner id (UUID).
    pub partner_account_id: String,
    /// The partner's EDI account number.
    pub partner_edi_account_number: String,
    /// The partner's name.
    pub partner_account_name: String,
    /// First day of the billed month, `YYYY-MM-DD`.
    pub billing_start_date: String,
    /// Last day of the billed month, `YYYY-MM-DD`.
    pub billing_end_date: String,
    /// The order the line is billed on.
    pub order_number: String,
    /// The order line, `{orderNumber}-NNN`.
    pub order_line_item_number: String,
    /// Licence or serial reference of the line.
    pub account_number_or_serial_number: String,
    /// The product's name, ending in ` - MSP Monthly`.
    pub product_description: &'static str,
    /// The product group, e.g. `User`, `Server`, `Firewall`.
    pub product_group: &'static str,
    /// The product SKU, e.g. `CEAZ1CSMG`.
    pub sku: &'static str,
    /// What the partner is billed for this month: the quantity that goes to ConnectWise.
    pub billable_quantity: u32,
    /// A UUID identifying the line.
    pub external_id: String,
    /// Absent for lines not tied to a tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    /// Always `active` here.
    pub account_status: &'static str,
    /// What is in use; sometimes one below `billableQuantity` (a minimum commitment).
    pub actual_quantity: u32,
    /// The billing product code, e.g. `CIXA-MSP`, that the product table maps.
    pub product_code: &'static str,
}

/// Key paging block (billing and alerts).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPages {
    /// The `pageFromKey` this page started from; absent on a first page and on alert pages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_key: Option<String>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_key: Option<String>,
    /// The number of pages; only when `pageTotal=true` was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
    /// The number of matching items; always for billing, only with `pageTotal=true` for alerts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<usize>,
    /// The page size used.
    pub size: usize,
    /// The largest `pageSize` accepted.
    pub max_size: usize,
}

/// `GET /partner/v1/billing/usage/{year}/{month}`: one page of usage lines.
#[derive(Debug, Clone, Serialize)]
pub struct UsagePage {
    /// The lines of this page: tenants' lines in world order, then the orphan lines.
    pub items: Vec<UsageLine>,
    /// Where this page sits and the key of the next one.
    pub pages: KeyPages,
}

// ---------------------------------------------------------------- alerts (§8)

/// The device an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManagedAgent {
    /// The device's UUID in Sophos.
    pub id: String,
    /// `computer` or `server`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The device's name, e.g. `LT-042` or `SRV-05`.
    pub name: String,
}

/// The user an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    /// The user's UUID in Sophos.
    pub id: String,
    /// The user's full name.
    pub name: String,
}

/// The tenant an alert belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertTenant {
    /// The tenant id (UUID).
    pub id: String,
    /// The tenant's name, as in the tenant list.
    pub name: String,
}

/// A Common alert (§8.2), exactly as the emulator serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    /// The alert id (UUID): the stable key for alert-to-ticket idempotency.
    pub id: String,
    /// The actions the actions endpoint accepts for this alert now, e.g. `acknowledge`.
    pub allowed_actions: Vec<String>,
    /// The alert category, e.g. `malware`, `updating`, `connectivity`.
    pub category: String,
    /// Human text; may contain backslashes (file paths) and quotes.
    pub description: String,
    /// Opaque base64 key, the same for repeats of one problem (tenant, device, type).
    pub group_key: String,
    /// The device the alert is about; absent for alerts not about a device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_agent: Option<ManagedAgent>,
    /// The user the alert is about; absent when there is no device or user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<Person>,
    /// The product that raised it, e.g. `endpoint`, `server`, `firewall`.
    pub product: String,
    /// `2024-03-12T15:04:53.780`: milliseconds, no zone, UTC.
    pub raised_at: String,
    /// `low`, `medium` or `high`.
    pub severity: String,
    /// The tenant the alert belongs to.
    pub tenant: AlertTenant,
    /// The alert's `type`, e.g. `Event::Endpoint::OutOfDate`.
    #[serde(rename = "type")]
    pub kind: String,
}

/// `GET /common/v1/alerts` (and the search): one page of listed alerts.
#[derive(Debug, Clone, Serialize)]
pub struct AlertPage {
    /// The alerts of this page, in the requested order (default `raisedAt` ascending).
    pub items: Vec<Alert>,
    /// Where this page sits and the key of the next one.
    pub pages: KeyPages,
}

/// `POST /common/v1/alerts/{id}/actions` body.
#[derive(Debug, Clone, Deserialize)]
pub struct ActionRequest {
    /// The action, spelled as in the enum (e.g. `acknowledge`); missing or unknown answers 400.
    pub action: Option<String>,
    /// Optional free text recorded with the action.
    pub message: Option<String>,
}

/// The 201 answer to an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRecord {
    /// A fresh UUID for the action.
    pub id: String,
    /// The alert acted on.
    pub alert_id: String,
    /// The action as requested.
    pub action: String,
    /// Always `started`: actions run asynchronously.
    pub status: &'static str,
    /// Emulated time of the request, `2024-03-12T14:35:20.248` (UTC, no zone).
    pub requested_at: String,
    /// The same as `requestedAt` here.
    pub started_at: String,
    /// Always `null`: the action has not finished when the answer is sent.
    pub completed_at: Option<String>,
    /// Always empty.
    pub result: &'static str,
}

/// `POST /common/v1/alerts/search` body: the list filters, as arrays.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    /// Only alerts of these categories; `None` for any.
    pub category: Option<Vec<String>>,
    /// Only alerts of these products; `None` for any.
    pub product: Option<Vec<String>>,
    /// Only alerts of these severities; `None` for any.
    pub severity: Option<Vec<String>>,
    /// Only alerts with these ids; `None` for any.
    pub ids: Option<Vec<String>>,
    /// Partial-response field list; accepted and ignored.
    #[allow(dead_code)]
    pub fields: Option<Vec<String>>,
    /// Sort keys as `field:asc|desc` (e.g. `raisedAt:desc`); `None` for `raisedAt` ascending.
    pub sort: Option<Vec<String>>,
    /// Only alerts raised at or after this time.
    pub from: Option<String>,
    /// Only alerts raised before this time.
    pub to: Option<String>,
    /// Only alerts with this `groupKey`.
    pub group_key: Option<String>,
    /// The previous page's `nextKey`; `None` for the first page.
    pub page_from_key: Option<String>,
    /// Alerts per page, 1 to 1000; `None` for the default 50.
    pub page_size: Option<i64>,
    /// Ask for `pages.total` and `pages.items`.
    pub page_total: Option<bool>,
}

// ---------------------------------------------------------------- SIEM (§9)

/// `GET /siem/v1/alerts`: one batch of the SIEM alert feed.
#[derive(Debug, Clone, Serialize)]
pub struct SiemPage {
    /// More items follow: call again with `next_cursor`.
    pub has_more: bool,
    /// At most `limit` alerts raised after the cursor, `from_date` or (without either) 12 hours ago,
    /// oldest first, closed ones included.
    pub items: Vec<SiemItem>,
    /// Opaque cursor to pass as `cursor` next time; the same position when no items came.
    pub next_cursor: String,
}

/// A SIEM feed item (snake_case).
#[derive(Debug, Clone, Serialize)]
pub struct SiemItem {
    /// The alert id (UUID), as in the Common alerts API.
    pub id: String,
    /// The tenant id.
    pub customer_id: String,
    /// `low`, `medium` or `high`.
    pub severity: String,
    /// When the alert was raised, UTC with `Z` and milliseconds.
    pub created_at: String,
    /// The same as `created_at` here.
    pub when: String,
    /// The alert's `type`, e.g. `Event::Endpoint::OutOfDate`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The alert's description.
    pub description: String,
    /// The device's name; `None` when the alert is about no device.
    pub location: Option<String>,
    /// The user's name; `None` when the alert is about no user.
    pub source: Option<String>,
    /// The threat's name (quoted in the description) for `malware` and `pua` alerts; else `None`.
    pub threat: Option<String>,
    /// Whether `cleanVirus` or `cleanPua` is among the alert's allowed actions.
    pub threat_cleanable: bool,
    /// A UUID derived from the alert id.
    pub event_service_event_id: String,
    /// The alert's ids and classification.
    pub data: SiemData,
}

/// A SIEM item's `data` object.
#[derive(Debug, Clone, Serialize)]
pub struct SiemData {
    /// The device's UUID (`managedAgent.id`); `None` when there is no device.
    pub endpoint_id: Option<String>,
    /// `computer` or `server`; `None` when there is no device.
    pub endpoint_type: Option<String>,
    /// The user's UUID (`person.id`); `None` when there is no user.
    pub user_id: Option<String>,
    /// The alert's `groupKey`.
    pub group_key: String,
    /// The alert's `product`.
    pub product: String,
    /// The alert's `category`.
    pub category: String,
}

/// `GET /siem/v1/events`: one batch of the SIEM event feed.
#[derive(Debug, Clone, Serialize)]
pub struct SiemEventPage {
    /// More events follow: call again with `next_cursor`.
    pub has_more: bool,
    /// At most `limit` events after the cursor, `from_date` or (without either) 12 hours ago, oldest
    /// first, without the `exclude_types` ones.
    pub items: Vec<SiemEvent>,
    /// Opaque cursor to pass as `cursor` next time; the same position when no events came.
    pub next_cursor: String,
}

/// A SIEM event (snake_case), as Sophos's event model and its SIEM script show them.
#[derive(Debug, Clone, Serialize)]
pub struct SiemEvent {
    /// When it happened on the device, UTC with `Z` and milliseconds (a little before `created_at`).
    pub when: String,
    /// The event id (UUID); a raise event's id is its alert's `event_service_event_id`.
    pub id: String,
    /// The tenant id.
    pub customer_id: String,
    /// `low`, `medium` or `high`: the alert's for a raise, `low` for a resolution.
    pub severity: String,
    /// When Sophos Central recorded it, UTC with `Z` and milliseconds; the feed's order.
    pub created_at: String,
    /// The device's address; `None` for events not about a device.
    pub source_info: Option<SourceInfo>,
    /// `computer` or `server`; `None` without a device.
    pub endpoint_type: Option<String>,
    /// The device's UUID (the alert's `managedAgent.id`); `None` without a device.
    pub endpoint_id: Option<String>,
    /// Always `None` here (set by Sophos for some cloud events).
    pub origin: Option<String>,
    /// The event type, e.g. `Event::Endpoint::Threat::Detected` or `Event::Endpoint::UpdateSuccess`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// The device's name; `None` without a device.
    pub location: Option<String>,
    /// The user, `DOMAIN\user`, or `n/a` when there is none.
    pub source: String,
    /// The event group, e.g. `MALWARE`, `UPDATING`, `PROTECTION`.
    pub group: String,
    /// Human text (the SIEM script reads `name`, or `description` when present).
    pub name: String,
    /// The same text as `name`.
    pub description: String,
    /// The threat's name for malware and PUA events; else `None`.
    pub threat: Option<String>,
    /// The user's UUID (the alert's `person.id`); `None` without a user.
    pub user_id: Option<String>,
}

/// A SIEM event's `source_info`.
#[derive(Debug, Clone, Serialize)]
pub struct SourceInfo {
    /// The device's IPv4 address (deterministic per device).
    pub ip: String,
}
