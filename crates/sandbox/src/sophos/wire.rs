//! The emulator's own JSON shapes, written from the reference (`sophos-central-api.md`), never shared with
//! the client crate. Field order follows the reference's examples so snapshots read like them.

use serde::{Deserialize, Serialize};

// ---------------------------------------------------------------- token (§4)

/// Token success body (snake_case, unlike the rest of the API).
#[derive(Debug, Clone, Serialize)]
pub struct TokenOk {
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    /// Only with the `token_success_extras` knob.
    #[serde(rename = "errorCode", skip_serializing_if = "Option::is_none")]
    pub error_code: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<&'static str>,
    #[serde(rename = "trackingId", skip_serializing_if = "Option::is_none")]
    pub tracking_id: Option<String>,
}

/// Token failure body: no `error` field, unlike the API errors.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenError {
    pub error_code: &'static str,
    pub message: &'static str,
    pub tracking_id: String,
}

/// Token request, form or JSON. Every field optional so a missing one gets our error body, not axum's.
#[derive(Debug, Default, Clone, Deserialize)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub refresh_token: Option<String>,
    #[allow(dead_code)]
    pub scope: Option<String>,
}

// ---------------------------------------------------------------- API errors (§11)

/// General API error body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiError {
    pub error: &'static str,
    pub message: String,
    pub correlation_id: String,
    pub request_id: String,
}

// ---------------------------------------------------------------- whoami (§5)

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    pub id: String,
    pub id_type: &'static str,
    pub api_hosts: ApiHosts,
}

#[derive(Debug, Clone, Serialize)]
pub struct ApiHosts {
    pub global: String,
}

// ---------------------------------------------------------------- tenants (§6)

#[derive(Debug, Clone, Serialize)]
pub struct IdRef {
    pub id: String,
}

/// A tenant as the list returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantItem {
    pub id: String,
    pub name: String,
    pub data_geography: &'static str,
    pub data_region: &'static str,
    pub billing_type: &'static str,
    pub partner: IdRef,
    pub api_host: String,
}

/// A tenant as `GET /partner/v1/tenants/{id}` returns it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantOne {
    pub id: String,
    pub show_as: String,
    pub name: String,
    pub data_geography: &'static str,
    pub data_region: &'static str,
    pub billing_type: &'static str,
    pub partner: IdRef,
    pub organization: IdRef,
    pub api_host: String,
}

/// Page-number paging block.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NumberPages {
    pub current: usize,
    pub size: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
    pub items: usize,
    pub max_size: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct TenantPage {
    pub items: Vec<TenantItem>,
    pub pages: NumberPages,
}

// ---------------------------------------------------------------- billing (§7)

/// One usage line, fields in the order of the reference's example.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageLine {
    pub partner_account_id: String,
    pub partner_edi_account_number: String,
    pub partner_account_name: String,
    pub billing_start_date: String,
    pub billing_end_date: String,
    pub order_number: String,
    pub order_line_item_number: String,
    pub account_number_or_serial_number: String,
    pub product_description: &'static str,
    pub product_group: &'static str,
    pub sku: &'static str,
    pub billable_quantity: u32,
    pub external_id: String,
    /// Absent for lines not tied to a tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    pub account_status: &'static str,
    pub actual_quantity: u32,
    pub product_code: &'static str,
}

/// Key paging block (billing and alerts).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyPages {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from_key: Option<String>,
    /// Absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<usize>,
    pub size: usize,
    pub max_size: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct UsagePage {
    pub items: Vec<UsageLine>,
    pub pages: KeyPages,
}

// ---------------------------------------------------------------- alerts (§8)

/// The device an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManagedAgent {
    pub id: String,
    /// `computer` or `server`.
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
}

/// The user an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub id: String,
    pub name: String,
}

/// The tenant an alert belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AlertTenant {
    pub id: String,
    pub name: String,
}

/// A Common alert (§8.2), exactly as the emulator serves it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Alert {
    pub id: String,
    pub allowed_actions: Vec<String>,
    pub category: String,
    pub description: String,
    pub group_key: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub managed_agent: Option<ManagedAgent>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<Person>,
    pub product: String,
    /// `2024-03-12T15:04:53.780`: milliseconds, no zone, UTC.
    pub raised_at: String,
    pub severity: String,
    pub tenant: AlertTenant,
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct AlertPage {
    pub items: Vec<Alert>,
    pub pages: KeyPages,
}

/// `POST /common/v1/alerts/{id}/actions` body.
#[derive(Debug, Clone, Deserialize)]
pub struct ActionRequest {
    pub action: Option<String>,
    pub message: Option<String>,
}

/// The 201 answer to an action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionRecord {
    pub id: String,
    pub alert_id: String,
    pub action: String,
    pub status: &'static str,
    pub requested_at: String,
    pub started_at: String,
    pub completed_at: Option<String>,
    pub result: &'static str,
}

/// `POST /common/v1/alerts/search` body: the list filters, as arrays.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SearchRequest {
    pub category: Option<Vec<String>>,
    pub product: Option<Vec<String>>,
    pub severity: Option<Vec<String>>,
    pub ids: Option<Vec<String>>,
    #[allow(dead_code)]
    pub fields: Option<Vec<String>>,
    pub sort: Option<Vec<String>>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub group_key: Option<String>,
    pub page_from_key: Option<String>,
    pub page_size: Option<i64>,
    pub page_total: Option<bool>,
}

// ---------------------------------------------------------------- SIEM (§9)

#[derive(Debug, Clone, Serialize)]
pub struct SiemPage {
    pub has_more: bool,
    pub items: Vec<SiemItem>,
    pub next_cursor: String,
}

/// A SIEM feed item (snake_case).
#[derive(Debug, Clone, Serialize)]
pub struct SiemItem {
    pub id: String,
    pub customer_id: String,
    pub severity: String,
    pub created_at: String,
    pub when: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub description: String,
    pub location: Option<String>,
    pub source: Option<String>,
    pub threat: Option<String>,
    pub threat_cleanable: bool,
    pub event_service_event_id: String,
    pub data: SiemData,
}

#[derive(Debug, Clone, Serialize)]
pub struct SiemData {
    pub endpoint_id: Option<String>,
    pub endpoint_type: Option<String>,
    pub user_id: Option<String>,
    pub group_key: String,
    pub product: String,
    pub category: String,
}
