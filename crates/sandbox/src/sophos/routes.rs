//! HTTP handlers. The global listener serves the identity endpoint and the global API; each region's
//! own listener (its own origin, the tenants' `apiHost`) serves the tenant endpoints at its root. The
//! global origin routes the tenant paths too, only to answer 403 (no tenant's data lives there).

use super::alerts::{Closed, Stored};
use super::state::{ActionLog, Shared};
use super::util::{format_local_ms, format_zulu_ms, parse_time_ms, random_uuid};
use super::wire::{
    ActionRecord, ActionRequest, AlertPage, ApiError, ApiHosts, IdRef, KeyPages, NumberPages,
    SearchRequest, SiemData, SiemEventPage, SiemItem, SiemPage, TenantContact, TenantItem,
    TenantOne, TenantPage, TokenError, TokenOk, TokenRequest, UsagePage, WhoAmI,
};
use super::{IdHeaderRejection, messages};
use super::{billing, events};
use axum::body::Bytes;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, StatusCode, header};
use std::cmp::Ordering;
use std::sync::Arc;

type St = State<Arc<Shared>>;

/// Largest `pageSize` of the tenant list; larger asks answer 400.
pub const TENANTS_MAX_PAGE: usize = 100;
/// Largest `pageSize` of billing usage.
pub const BILLING_MAX_PAGE: usize = 1000;
/// Largest `pageSize` of the alert list and search.
pub const ALERTS_MAX_PAGE: usize = 1000;
/// Default `pageSize` everywhere (the reference's examples all use 50).
pub const DEFAULT_PAGE: usize = 50;
/// SIEM `limit` default and maximum.
const SIEM_DEFAULT_LIMIT: usize = 200;
const SIEM_MAX_LIMIT: usize = 1000;
const DAY_MS: i64 = 86_400_000;

const PRODUCTS: &[&str] = &[
    "other",
    "endpoint",
    "server",
    "mobile",
    "encryption",
    "emailGateway",
    "webGateway",
    "phishThreat",
    "wireless",
    "iaas",
    "firewall",
];
const CATEGORIES: &[&str] = &[
    "azure",
    "adSync",
    "applicationControl",
    "appReputation",
    "blockListed",
    "connectivity",
    "cwg",
    "denc",
    "downloadReputation",
    "endpointFirewall",
    "fenc",
    "forensicSnapshot",
    "general",
    "iaas",
    "iaasAzure",
    "isolation",
    "malware",
    "mtr",
    "mobiles",
    "policy",
    "protection",
    "pua",
    "runtimeDetections",
    "security",
    "smc",
    "systemHealth",
    "uav",
    "uncategorized",
    "updating",
    "utm",
    "virt",
    "wireless",
    "xgEmail",
];
const SEVERITIES: &[&str] = &["low", "medium", "high"];
const ACTIONS: &[&str] = &[
    "acknowledge",
    "cleanPua",
    "cleanVirus",
    "authPua",
    "clearThreat",
    "clearHmpa",
    "sendMsgPua",
    "sendMsgThreat",
];
/// Actions after which the alert is gone; the `sendMsg*` ones leave it.
const RESOLVING: &[&str] = &[
    "acknowledge",
    "cleanPua",
    "cleanVirus",
    "authPua",
    "clearThreat",
    "clearHmpa",
];

/// Alert `pageFromKey` values are numbers, like the real ones: this base plus the alert's sequence.
const KEY_BASE: u64 = 2_000_000_000_000;

/// Which origin a request came in on: a region code, or `None` for the global origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Origin(pub Option<&'static str>);

/// The tenant endpoints, as every origin routes them (`tenant_guard` checks the origin).
fn tenant_routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/common/v1/alerts", get(alert_list))
        .route("/common/v1/alerts/search", post(alert_search))
        .route("/common/v1/alerts/{id}", get(alert_get))
        .route("/common/v1/alerts/{id}/actions", post(alert_action))
        .route("/siem/v1/alerts", get(siem_alerts))
        .route("/siem/v1/events", get(siem_events))
}

/// The global origin: identity, whoami, tenants, billing; tenant paths answer 403 here.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/v2/oauth2/token", post(token))
        .route("/whoami/v1", get(whoami))
        .route("/partner/v1/tenants", get(tenant_list))
        .route("/partner/v1/tenants/{id}", get(tenant_one))
        .route("/partner/v1/billing/usage/{year}/{month}", get(usage))
        .merge(tenant_routes())
        .layer(Extension(Origin(None)))
        .fallback(fallback)
        .with_state(shared)
}

/// One region's origin: the tenant endpoints at its root, nothing else.
pub(crate) fn region_router(shared: Arc<Shared>, region: &'static str) -> Router {
    tenant_routes()
        .layer(Extension(Origin(Some(region))))
        .fallback(fallback)
        .with_state(shared)
}

// ---------------------------------------------------------------- error bodies

/// An error answer, rendered as the general error body with fresh correlation and request ids.
#[derive(Debug)]
pub(crate) struct Reject {
    status: StatusCode,
    error: &'static str,
    message: String,
}

impl IntoResponse for Reject {
    fn into_response(self) -> Response {
        api_error(self.status, self.error, self.message)
    }
}

type Answer = Result<Response, Reject>;

/// The general error body with fresh correlation and request ids.
pub(crate) fn api_error(
    status: StatusCode,
    error: &'static str,
    message: impl Into<String>,
) -> Response {
    let body = ApiError {
        error,
        message: message.into(),
        correlation_id: random_uuid(),
        request_id: random_uuid(),
    };
    (status, Json(body)).into_response()
}

fn reject(status: StatusCode, error: &'static str, message: impl Into<String>) -> Reject {
    Reject {
        status,
        error,
        message: message.into(),
    }
}

fn bad_request(message: impl Into<String>) -> Reject {
    reject(StatusCode::BAD_REQUEST, "badRequest", message)
}

fn not_authorized() -> Reject {
    reject(
        StatusCode::UNAUTHORIZED,
        "notAuthorized",
        messages::NOT_AUTHORIZED,
    )
}

fn forbidden(message: &str) -> Reject {
    reject(StatusCode::FORBIDDEN, "forbidden", message)
}

fn not_found(message: &str) -> Reject {
    reject(StatusCode::NOT_FOUND, "notFound", message)
}

fn resource_not_found() -> Reject {
    reject(
        StatusCode::NOT_FOUND,
        "resourceNotFound",
        messages::NOT_FOUND,
    )
}

/// The 429 body for the fault middleware (it adds `Retry-After`).
pub(crate) fn rate_limited(_retry_after: u64) -> Response {
    api_error(
        StatusCode::TOO_MANY_REQUESTS,
        "tooManyRequests",
        messages::TOO_MANY_REQUESTS,
    )
}

/// The 500 body for the fault middleware.
pub(crate) fn server_error() -> Response {
    api_error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "internalServerError",
        messages::INTERNAL,
    )
}

/// Groups paths for the request counters: `token`, `whoami`, `tenants`, `billing`, `alerts`,
/// `alerts/actions`, `alerts/search`, `siem`, `other`.
pub(crate) fn family(_method: &http::Method, path: &str) -> String {
    let path = path.trim_start_matches('/');
    let f = if path.starts_with("api/v2/oauth2/token") {
        "token"
    } else if path.starts_with("whoami") {
        "whoami"
    } else if path.starts_with("partner/v1/tenants") {
        "tenants"
    } else if path.starts_with("partner/v1/billing") {
        "billing"
    } else if path.starts_with("common/v1/alerts") {
        if path.ends_with("/actions") {
            "alerts/actions"
        } else if path.ends_with("/search") {
            "alerts/search"
        } else {
            "alerts"
        }
    } else if path.starts_with("siem/") {
        "siem"
    } else {
        "other"
    };
    f.to_owned()
}

async fn fallback() -> Reject {
    not_found(messages::NOT_FOUND)
}

// ---------------------------------------------------------------- guards

fn header_str<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|v| !v.is_empty())
}

fn check_token(sh: &Shared, headers: &HeaderMap) -> Result<(), Reject> {
    let token = header_str(headers, header::AUTHORIZATION.as_str()).and_then(|v| {
        let (scheme, rest) = v.split_once(' ')?;
        scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
    });
    match token {
        Some(t) if sh.token_valid(&sh.lock(), t) => Ok(()),
        _ => Err(not_authorized()),
    }
}

fn id_rejection(sh: &Shared, which: &str) -> Reject {
    match sh.id_header_rejection {
        IdHeaderRejection::Unauthorized => not_authorized(),
        IdHeaderRejection::BadRequest => bad_request(format!("Missing or invalid {which} header.")),
        IdHeaderRejection::Forbidden => forbidden(messages::ACCESS_DENIED),
    }
}

fn partner_guard(sh: &Shared, headers: &HeaderMap) -> Result<(), Reject> {
    check_token(sh, headers)?;
    match header_str(headers, "x-partner-id") {
        Some(id) if id.eq_ignore_ascii_case(&sh.world.partner_id) => Ok(()),
        _ => Err(id_rejection(sh, "X-Partner-ID")),
    }
}

/// Token, `X-Tenant-ID`, origin and access checks for the tenant APIs; the tenant's position. A
/// tenant asked for on another region's origin, or on the global one, answers 403.
fn tenant_guard(sh: &Shared, headers: &HeaderMap, origin: Origin) -> Result<usize, Reject> {
    check_token(sh, headers)?;
    let Some(id) = header_str(headers, "x-tenant-id") else {
        return Err(id_rejection(sh, "X-Tenant-ID"));
    };
    let t = sh
        .tenant_index
        .get(id)
        .or_else(|| sh.tenant_index.get(&id.to_ascii_lowercase()))
        .copied()
        .ok_or_else(|| forbidden(messages::ACCESS_DENIED))?;
    let seed = sh
        .tenant_seed(t)
        .ok_or_else(|| forbidden(messages::ACCESS_DENIED))?;
    if origin.0 != Some(seed.region) {
        return Err(forbidden(messages::WRONG_REGION));
    }
    if !sh.alerts_readable(&sh.lock(), t) {
        return Err(forbidden(messages::ACCESS_DENIED));
    }
    Ok(t)
}

// ---------------------------------------------------------------- query helpers

fn parse_query(raw: Option<String>) -> Result<Vec<(String, String)>, Reject> {
    match raw {
        None => Ok(Vec::new()),
        Some(q) => serde_urlencoded::from_str(&q).map_err(|_| bad_request(messages::BAD_REQUEST)),
    }
}

fn q<'a>(query: &'a [(String, String)], name: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn q_bool(query: &[(String, String)], name: &str) -> Result<bool, Reject> {
    match q(query, name) {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(bad_request(format!("Invalid value for {name}."))),
    }
}

fn page_size(v: Option<i64>, max: usize) -> Result<usize, Reject> {
    match v {
        None => Ok(DEFAULT_PAGE.min(max)),
        Some(n) if n >= 1 && usize::try_from(n).is_ok_and(|n| n <= max) => {
            Ok(usize::try_from(n).unwrap_or(max))
        }
        Some(_) => Err(bad_request(format!(
            "pageSize must be between 1 and {max}."
        ))),
    }
}

fn q_int(query: &[(String, String)], name: &str) -> Result<Option<i64>, Reject> {
    q(query, name)
        .map(|v| {
            v.trim()
                .parse::<i64>()
                .map_err(|_| bad_request(format!("Invalid value for {name}.")))
        })
        .transpose()
}

/// A multi-valued filter, given as a comma list (`product=endpoint,server`), as repeated keys
/// (`product=endpoint&product=server`), or both: every value counts, never only the first.
fn all_values(query: &[(String, String)], name: &str) -> Option<Vec<String>> {
    let mut found = false;
    let mut values = Vec::new();
    for (_, v) in query.iter().filter(|(k, _)| k == name) {
        found = true;
        values.extend(
            v.split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_owned),
        );
    }
    found.then_some(values)
}

// ---------------------------------------------------------------- token and whoami

async fn token(State(sh): St, headers: HeaderMap, body: Bytes) -> Response {
    let is_json =
        header_str(&headers, header::CONTENT_TYPE.as_str()).is_some_and(|c| c.contains("json"));
    let parsed: Result<TokenRequest, ()> = if is_json {
        serde_json::from_slice(&body).map_err(|_| ())
    } else {
        serde_urlencoded::from_bytes(&body).map_err(|_| ())
    };
    let token_error = |status: StatusCode, code: &'static str, message: &'static str| {
        (
            status,
            Json(TokenError {
                error_code: code,
                message,
                tracking_id: random_uuid(),
            }),
        )
            .into_response()
    };
    let Ok(req) = parsed else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "oauth.invalid_request",
            "Bad Request",
        );
    };
    let grant = req.grant_type.as_deref().unwrap_or("");
    if grant != "client_credentials" && grant != "refresh_token" {
        return token_error(
            StatusCode::BAD_REQUEST,
            "oauth.unsupported_grant_type",
            "Bad Request",
        );
    }
    let mut inner = sh.lock();
    let id_ok = req.client_id.as_deref() == Some(sh.client_id.as_str());
    let secret_ok =
        matches!((&inner.client_secret, &req.client_secret), (Some(s), Some(g)) if s == g);
    if !id_ok || !secret_ok {
        return token_error(
            StatusCode::UNAUTHORIZED,
            "oauth.invalid_client_secret",
            "Unauthorized",
        );
    }
    if grant == "refresh_token" {
        let known = req
            .refresh_token
            .as_deref()
            .is_some_and(|r| inner.refresh_tokens.contains_key(r));
        if !known {
            return token_error(
                StatusCode::BAD_REQUEST,
                "oauth.invalid_grant",
                "Bad Request",
            );
        }
    }
    let (access, refresh) = sh.issue_token(&mut inner);
    drop(inner);
    let extras = sh.token_success_extras;
    Json(TokenOk {
        access_token: access,
        refresh_token: refresh,
        token_type: "bearer",
        expires_in: sh.token_lifetime.as_secs(),
        error_code: extras.then_some("success"),
        message: extras.then_some("OK"),
        tracking_id: extras.then(random_uuid),
    })
    .into_response()
}

async fn whoami(State(sh): St, headers: HeaderMap) -> Answer {
    check_token(&sh, &headers)?;
    let global = sh.base().to_owned();
    Ok(Json(WhoAmI {
        id: sh.world.partner_id.clone(),
        id_type: "partner",
        api_hosts: ApiHosts { global },
    })
    .into_response())
}

// ---------------------------------------------------------------- tenants

fn tenant_item(sh: &Shared, t: usize) -> Option<TenantItem> {
    let s = sh.tenant_seed(t)?;
    let info = sh.tenants.get(t)?;
    Some(TenantItem {
        id: s.id.clone(),
        show_as: s.name.clone(),
        name: s.name.clone(),
        data_geography: s.geography,
        data_region: s.region,
        billing_type: sh.billing_of(&sh.lock(), t).unwrap_or(s.billing).wire(),
        partner: IdRef {
            id: sh.world.partner_id.clone(),
        },
        api_host: sh.region_url(s.region).unwrap_or_default(),
        organization: IdRef {
            id: info.organization_id.clone(),
        },
        status: "active",
        contact: TenantContact {
            email: info.contact_email.clone(),
        },
    })
}

async fn tenant_list(State(sh): St, headers: HeaderMap, RawQuery(raw): RawQuery) -> Answer {
    partner_guard(&sh, &headers)?;
    let query = parse_query(raw)?;
    let page = q_int(&query, "page")?.unwrap_or(1);
    let page = usize::try_from(page)
        .ok()
        .filter(|p| *p >= 1)
        .ok_or_else(|| bad_request("page must be 1 or more."))?;
    let size = page_size(q_int(&query, "pageSize")?, TENANTS_MAX_PAGE)?;
    let want_total = q_bool(&query, "pageTotal")?;
    let n = sh.tenants.len();
    let start = page.saturating_sub(1).saturating_mul(size);
    let items = (start..n.min(start.saturating_add(size)))
        .filter_map(|t| tenant_item(&sh, t))
        .collect();
    Ok(Json(TenantPage {
        items,
        pages: NumberPages {
            current: page,
            size,
            total: want_total.then(|| n.div_ceil(size)),
            items: n,
            max_size: TENANTS_MAX_PAGE,
        },
    })
    .into_response())
}

async fn tenant_one(State(sh): St, headers: HeaderMap, Path(id): Path<String>) -> Answer {
    partner_guard(&sh, &headers)?;
    if sh.foreign.iter().any(|f| f.eq_ignore_ascii_case(&id)) {
        return Err(forbidden(messages::ACCESS_DENIED));
    }
    let Some(&t) = sh
        .tenant_index
        .get(&id)
        .or_else(|| sh.tenant_index.get(&id.to_ascii_lowercase()))
    else {
        return Err(not_found(messages::NOT_FOUND));
    };
    let Some(item) = tenant_item(&sh, t) else {
        return Err(not_found(messages::NOT_FOUND));
    };
    Ok(Json(TenantOne {
        id: item.id,
        show_as: item.show_as,
        name: item.name,
        data_geography: item.data_geography,
        data_region: item.data_region,
        billing_type: item.billing_type,
        partner: item.partner,
        organization: item.organization,
        api_host: item.api_host,
        status: item.status,
        contact: item.contact,
    })
    .into_response())
}

// ---------------------------------------------------------------- billing

fn usage_key(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("usage:{offset}"))
}

fn parse_usage_key(key: &str) -> Option<usize> {
    let raw = URL_SAFE_NO_PAD.decode(key.trim_end_matches('=')).ok()?;
    std::str::from_utf8(&raw)
        .ok()?
        .strip_prefix("usage:")?
        .parse()
        .ok()
}

async fn usage(
    State(sh): St,
    headers: HeaderMap,
    Path((year, month)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Answer {
    partner_guard(&sh, &headers)?;
    let year = year
        .parse::<i16>()
        .ok()
        .filter(|y| year.len() == 4 && (1970..=2999).contains(y))
        .ok_or_else(|| bad_request("The year must have four digits."))?;
    let month = month
        .parse::<i8>()
        .ok()
        .filter(|m| month.len() <= 2 && (1..=12).contains(m))
        .ok_or_else(|| bad_request("The month must be a number from 1 to 12."))?;
    let query = parse_query(raw)?;
    let size = page_size(q_int(&query, "pageSize")?, BILLING_MAX_PAGE)?;
    let from = match q(&query, "pageFromKey") {
        None => None,
        Some(k) => Some((
            k.to_owned(),
            parse_usage_key(k).ok_or_else(|| bad_request(messages::BAD_KEY))?,
        )),
    };
    let want_total = q_bool(&query, "pageTotal")?;
    if !sh.world.has_usage_month(year, month) {
        return Err(not_found(messages::NO_USAGE));
    }
    let account = q(&query, "accountId").map(str::to_ascii_lowercase);
    let email = q(&query, "contactEmail").map(str::to_ascii_lowercase);
    let keep = |line: &billing::LineRef| match line {
        billing::LineRef::Tenant { tenant, .. } => {
            let Some(info) = sh.tenants.get(*tenant) else {
                return false;
            };
            account.as_deref().is_none_or(|a| info.ctx.id == a)
                && email
                    .as_deref()
                    .is_none_or(|e| info.contact_email.eq_ignore_ascii_case(e))
        }
        billing::LineRef::Orphan(_) => account.is_none() && email.is_none(),
    };
    // Keys are offsets into the filtered list: the data of a month does not change, so they stay valid.
    let start = from.as_ref().map_or(0, |f| f.1);
    let (n, page): (usize, Vec<billing::LineRef>) = if account.is_none() && email.is_none() {
        (
            sh.lines.len(),
            sh.lines.iter().skip(start).take(size).copied().collect(),
        )
    } else {
        let all: Vec<billing::LineRef> = sh.lines.iter().filter(|l| keep(l)).copied().collect();
        (all.len(), all.into_iter().skip(start).take(size).collect())
    };
    if start > n {
        return Err(bad_request(messages::BAD_KEY));
    }
    let items = page
        .iter()
        .filter_map(|l| billing::render(&sh.world, *l, year, month))
        .collect();
    let end = start + size;
    Ok(Json(UsagePage {
        items,
        pages: KeyPages {
            from_key: from.map(|f| f.0),
            next_key: (end < n).then(|| usage_key(end)),
            total: want_total.then(|| n.div_ceil(size)),
            items: Some(n),
            size,
            max_size: BILLING_MAX_PAGE,
        },
    })
    .into_response())
}

// ---------------------------------------------------------------- alerts

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SortField {
    RaisedAt,
    Severity,
    Category,
    Product,
    Type,
}

/// The filters shared by the list and the search.
#[derive(Debug, Default)]
struct AlertQuery {
    from: Option<i64>,
    to: Option<i64>,
    product: Option<Vec<String>>,
    category: Option<Vec<String>>,
    severity: Option<Vec<String>>,
    ids: Option<Vec<String>>,
    group_key: Option<String>,
    sort: Vec<(SortField, bool)>,
    page_from_key: Option<String>,
    page_size: Option<i64>,
    page_total: bool,
}

fn check_enum(values: &Option<Vec<String>>, allowed: &[&str], name: &str) -> Result<(), Reject> {
    match values
        .iter()
        .flatten()
        .find(|v| !allowed.contains(&v.as_str()))
    {
        Some(v) => Err(bad_request(format!("Unknown {name} value '{v}'."))),
        None => Ok(()),
    }
}

fn parse_sort(items: &[String]) -> Result<Vec<(SortField, bool)>, Reject> {
    items
        .iter()
        .map(|s| {
            let (field, dir) = s.split_once(':').unwrap_or((s.as_str(), "asc"));
            let field = match field.trim() {
                "raisedAt" => SortField::RaisedAt,
                "severity" => SortField::Severity,
                "category" => SortField::Category,
                "product" => SortField::Product,
                "type" => SortField::Type,
                other => return Err(bad_request(format!("Cannot sort by '{other}'."))),
            };
            let desc = match dir.trim() {
                "asc" => false,
                "desc" => true,
                other => return Err(bad_request(format!("Unknown sort direction '{other}'."))),
            };
            Ok((field, desc))
        })
        .collect()
}

fn parse_time(v: Option<&str>, name: &str) -> Result<Option<i64>, Reject> {
    v.map(|s| parse_time_ms(s).ok_or_else(|| bad_request(format!("Invalid {name} time."))))
        .transpose()
}

impl AlertQuery {
    fn from_query(query: &[(String, String)]) -> Result<Self, Reject> {
        let q = Self {
            from: parse_time(q(query, "from"), "from")?,
            to: parse_time(q(query, "to"), "to")?,
            product: all_values(query, "product"),
            category: all_values(query, "category"),
            severity: all_values(query, "severity"),
            ids: all_values(query, "ids"),
            group_key: q(query, "groupKey").map(str::to_owned),
            sort: parse_sort(&all_values(query, "sort").unwrap_or_default())?,
            page_from_key: q(query, "pageFromKey").map(str::to_owned),
            page_size: q_int(query, "pageSize")?,
            page_total: q_bool(query, "pageTotal")?,
        };
        q.validate()?;
        Ok(q)
    }

    fn from_search(body: SearchRequest) -> Result<Self, Reject> {
        let q = Self {
            from: parse_time(body.from.as_deref(), "from")?,
            to: parse_time(body.to.as_deref(), "to")?,
            product: body.product,
            category: body.category,
            severity: body.severity,
            ids: body.ids,
            group_key: body.group_key,
            sort: parse_sort(&body.sort.unwrap_or_default())?,
            page_from_key: body.page_from_key,
            page_size: body.page_size,
            page_total: body.page_total.unwrap_or(false),
        };
        q.validate()?;
        Ok(q)
    }

    fn validate(&self) -> Result<(), Reject> {
        check_enum(&self.product, PRODUCTS, "product")?;
        check_enum(&self.category, CATEGORIES, "category")?;
        check_enum(&self.severity, SEVERITIES, "severity")
    }

    fn matches(&self, s: &Stored) -> bool {
        let a = &s.alert;
        let in_list = |list: &Option<Vec<String>>, v: &str| {
            list.as_ref().is_none_or(|l| l.iter().any(|x| x == v))
        };
        s.closed.is_none()
            && self.from.is_none_or(|f| s.raised_ms >= f)
            && self.to.is_none_or(|t| s.raised_ms < t)
            && in_list(&self.product, &a.product)
            && in_list(&self.category, &a.category)
            && in_list(&self.severity, &a.severity)
            && in_list(&self.ids, &a.id)
            && self.group_key.as_deref().is_none_or(|g| g == a.group_key)
    }
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "low" => 0,
        "medium" => 1,
        "high" => 2,
        _ => 3,
    }
}

/// Orders by the requested fields (default `raisedAt` ascending), then by sequence.
fn compare(sort: &[(SortField, bool)], a: &Stored, b: &Stored) -> Ordering {
    let default = [(SortField::RaisedAt, false)];
    let fields: &[(SortField, bool)] = if sort.is_empty() { &default } else { sort };
    for &(field, desc) in fields {
        let o = match field {
            SortField::RaisedAt => a.raised_ms.cmp(&b.raised_ms),
            SortField::Severity => {
                severity_rank(&a.alert.severity).cmp(&severity_rank(&b.alert.severity))
            }
            SortField::Category => a.alert.category.cmp(&b.alert.category),
            SortField::Product => a.alert.product.cmp(&b.alert.product),
            SortField::Type => a.alert.kind.cmp(&b.alert.kind),
        };
        let o = if desc { o.reverse() } else { o };
        if o != Ordering::Equal {
            return o;
        }
    }
    a.seq.cmp(&b.seq)
}

fn alert_page(sh: &Shared, tenant: usize, aq: &AlertQuery) -> Answer {
    let size = page_size(aq.page_size, ALERTS_MAX_PAGE)?;
    let inner = sh.lock();
    let list = inner
        .store
        .by_tenant
        .get(tenant)
        .ok_or_else(resource_not_found)?;
    let mut matching: Vec<&Stored> = list.iter().filter(|s| aq.matches(s)).collect();
    matching.sort_by(|a, b| compare(&aq.sort, a, b));
    let start = match &aq.page_from_key {
        None => 0,
        Some(k) => {
            let seq = k
                .trim()
                .parse::<u64>()
                .ok()
                .and_then(|n| n.checked_sub(KEY_BASE));
            let key_alert = seq
                .and_then(|s| inner.store.by_seq(tenant, s))
                .ok_or_else(|| bad_request(messages::BAD_KEY))?;
            // Where the key alert sits (or would sit, if it has gone since): robust to removals.
            matching.partition_point(|s| compare(&aq.sort, s, key_alert) == Ordering::Less)
        }
    };
    let n = matching.len();
    let end = start.saturating_add(size).min(n);
    let items = matching[start.min(n)..end]
        .iter()
        .map(|s| s.alert.clone())
        .collect();
    let next_key = matching
        .get(end)
        .filter(|_| end < n)
        .map(|s| (KEY_BASE + s.seq).to_string());
    Ok(Json(AlertPage {
        items,
        pages: KeyPages {
            from_key: None,
            next_key,
            total: aq.page_total.then(|| n.div_ceil(size)),
            items: aq.page_total.then_some(n),
            size,
            max_size: ALERTS_MAX_PAGE,
        },
    })
    .into_response())
}

async fn alert_list(
    State(sh): St,
    headers: HeaderMap,
    Extension(origin): Extension<Origin>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let tenant = tenant_guard(&sh, &headers, origin)?;
    let aq = AlertQuery::from_query(&parse_query(raw)?)?;
    alert_page(&sh, tenant, &aq)
}

async fn alert_search(
    State(sh): St,
    headers: HeaderMap,
    Extension(origin): Extension<Origin>,
    body: Bytes,
) -> Answer {
    let tenant = tenant_guard(&sh, &headers, origin)?;
    let req: SearchRequest = if body.iter().all(u8::is_ascii_whitespace) {
        SearchRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|_| bad_request(messages::BAD_REQUEST))?
    };
    alert_page(&sh, tenant, &AlertQuery::from_search(req)?)
}

async fn alert_get(
    State(sh): St,
    headers: HeaderMap,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
) -> Answer {
    let tenant = tenant_guard(&sh, &headers, origin)?;
    let inner = sh.lock();
    match inner.store.get(&id) {
        Some(s) if s.closed.is_none() && s.alert.tenant.id == sh.tenants[tenant].ctx.id => {
            Ok(Json(s.alert.clone()).into_response())
        }
        _ => Err(resource_not_found()),
    }
}

async fn alert_action(
    State(sh): St,
    headers: HeaderMap,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    body: Bytes,
) -> Answer {
    let tenant = tenant_guard(&sh, &headers, origin)?;
    let req = serde_json::from_slice::<ActionRequest>(&body)
        .map_err(|_| bad_request(messages::BAD_REQUEST))?;
    let action = req
        .action
        .filter(|a| ACTIONS.contains(&a.as_str()))
        .ok_or_else(|| bad_request(messages::BAD_ACTION))?;
    let mut inner = sh.lock();
    let tenant_id = &sh.tenants[tenant].ctx.id;
    let allowed = match inner.store.get(&id) {
        Some(s) if s.closed.is_none() && &s.alert.tenant.id == tenant_id => {
            s.alert.allowed_actions.contains(&action)
        }
        _ => return Err(resource_not_found()),
    };
    if !allowed {
        return Err(bad_request(messages::ACTION_NOT_ALLOWED));
    }
    let now = format_local_ms(inner.now_ms);
    inner.actions.push(ActionLog {
        tenant_id: tenant_id.clone(),
        alert_id: id.clone(),
        action: action.clone(),
        message: req.message,
        requested_at: now.clone(),
    });
    if RESOLVING.contains(&action.as_str()) {
        sh.close_alert(&mut inner, tenant, &id, Closed::Acknowledged);
    }
    drop(inner);
    let record = ActionRecord {
        id: random_uuid(),
        alert_id: id,
        action,
        status: "started",
        requested_at: now.clone(),
        started_at: now,
        completed_at: None,
        result: "",
    };
    Ok((StatusCode::CREATED, Json(record)).into_response())
}

// ---------------------------------------------------------------- SIEM

fn siem_cursor(raised_ms: i64, seq: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{raised_ms}:{seq}"))
}

fn parse_siem_cursor(c: &str) -> Option<(i64, u64)> {
    let raw = URL_SAFE_NO_PAD.decode(c.trim_end_matches('=')).ok()?;
    let (ms, seq) = std::str::from_utf8(&raw).ok()?.split_once(':')?;
    Some((ms.parse().ok()?, seq.parse().ok()?))
}

/// The SIEM feeds' paging: `limit`, and the position after which items come (exclusive), from
/// `cursor`, else `from_date`, else 12 hours ago.
fn siem_window(query: &[(String, String)], now: i64) -> Result<(usize, (i64, u64)), Reject> {
    let limit = match q_int(query, "limit")? {
        None => SIEM_DEFAULT_LIMIT,
        Some(n) => usize::try_from(n)
            .ok()
            .filter(|n| (1..=SIEM_MAX_LIMIT).contains(n))
            .ok_or_else(|| bad_request(format!("limit must be between 1 and {SIEM_MAX_LIMIT}.")))?,
    };
    let from_date = q_int(query, "from_date")?;
    let after = match (q(query, "cursor"), from_date) {
        // An old cursor falls back to the last 24 hours.
        (Some(c), _) => parse_siem_cursor(c)
            .ok_or_else(|| bad_request(messages::BAD_KEY))?
            .max((now - DAY_MS, 0)),
        (None, Some(secs)) => {
            let ms = secs.saturating_mul(1000);
            if ms < now - DAY_MS || ms > now {
                return Err(bad_request("from_date must be within the last 24 hours."));
            }
            (ms, 0)
        }
        (None, None) => (now - DAY_MS / 2, 0),
    };
    Ok((limit, after))
}

async fn siem_alerts(
    State(sh): St,
    headers: HeaderMap,
    Extension(origin): Extension<Origin>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let tenant = tenant_guard(&sh, &headers, origin)?;
    let query = parse_query(raw)?;
    let inner = sh.lock();
    let now = inner.now_ms;
    // Position after which items are returned: (raised_ms, seq), exclusive.
    let (limit, after) = siem_window(&query, now)?;
    let list = inner
        .store
        .by_tenant
        .get(tenant)
        .ok_or_else(resource_not_found)?;
    let mut feed: Vec<&Stored> = list
        .iter()
        .filter(|s| s.raised_ms <= now && (s.raised_ms, s.seq) > after)
        .collect();
    feed.sort_by_key(|s| (s.raised_ms, s.seq));
    let has_more = feed.len() > limit;
    feed.truncate(limit);
    let next_cursor = feed.last().map_or_else(
        || siem_cursor(after.0, after.1),
        |s| siem_cursor(s.raised_ms, s.seq),
    );
    let items = feed
        .iter()
        .map(|s| {
            let a = &s.alert;
            let when = format_zulu_ms(s.raised_ms);
            SiemItem {
                id: a.id.clone(),
                customer_id: a.tenant.id.clone(),
                severity: a.severity.clone(),
                created_at: when.clone(),
                when,
                kind: a.kind.clone(),
                description: a.description.clone(),
                location: a.managed_agent.as_ref().map(|m| m.name.clone()),
                source: a.person.as_ref().map(|p| p.name.clone()),
                threat: (a.category == "malware" || a.category == "pua").then(|| {
                    a.description
                        .split('\'')
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned()
                }),
                threat_cleanable: a
                    .allowed_actions
                    .iter()
                    .any(|x| x == "cleanVirus" || x == "cleanPua"),
                event_service_event_id: super::util::uuid_from_hash(super::util::hash_str(&a.id)),
                data: SiemData {
                    endpoint_id: a.managed_agent.as_ref().map(|m| m.id.clone()),
                    endpoint_type: a.managed_agent.as_ref().map(|m| m.kind.clone()),
                    user_id: a.person.as_ref().map(|p| p.id.clone()),
                    group_key: a.group_key.clone(),
                    product: a.product.clone(),
                    category: a.category.clone(),
                },
            }
        })
        .collect();
    Ok(Json(SiemPage {
        has_more,
        items,
        next_cursor,
    })
    .into_response())
}

/// `GET /siem/v1/events`: the tenant's events (see `events.rs`), by cursor like the alerts feed,
/// without the types named in `exclude_types` (a comma list, repeated keys too).
async fn siem_events(
    State(sh): St,
    headers: HeaderMap,
    Extension(origin): Extension<Origin>,
    RawQuery(raw): RawQuery,
) -> Answer {
    let tenant = tenant_guard(&sh, &headers, origin)?;
    let query = parse_query(raw)?;
    let excluded = all_values(&query, "exclude_types").unwrap_or_default();
    let inner = sh.lock();
    let now = inner.now_ms;
    // Position after which events are returned: (created_at ms, history place), exclusive.
    let (limit, after) = siem_window(&query, now)?;
    let list = inner
        .store
        .by_tenant
        .get(tenant)
        .ok_or_else(resource_not_found)?;
    let mut scanned = events::feed(list, now);
    scanned.retain(|e| e.key > after);
    let last_scanned = scanned.last().map(|e| e.key);
    let mut feed: Vec<_> = scanned
        .into_iter()
        .filter(|e| !excluded.iter().any(|x| x == e.kind()))
        .collect();
    let has_more = feed.len() > limit;
    feed.truncate(limit);
    // At the end of the feed the cursor passes the excluded events too, so a later call without
    // the exclusion does not bring them back as new.
    let end = if has_more {
        feed.last().map(|e| e.key)
    } else {
        last_scanned
    };
    let (ms, place) = end.unwrap_or(after);
    let next_cursor = siem_cursor(ms, place);
    let items = feed.iter().map(events::render).collect();
    Ok(Json(SiemEventPage {
        has_more,
        items,
        next_cursor,
    })
    .into_response())
}
