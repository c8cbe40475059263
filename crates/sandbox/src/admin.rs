//! The sandbox's admin API: change the emulators' fault knobs and play scenarios while they run,
//! from outside Rust (curl, a script, a test of the user's own tool). It listens on its own
//! loopback port, apart from both vendor APIs, and wants `Authorization: Bearer <token>` (the
//! token is printed with the URLs). Bodies and answers are JSON; a bad request is refused with 400
//! and a message that ends with `Fix:`, before anything changes.
//!
//! | method and path | body | does |
//! |---|---|---|
//! | `GET /v1/state` | | every knob of both emulators (slow routes included), the codebase, and the changed billing types |
//! | `GET /v1/world` | | the generated MSP's answer key: each customer's tenant and company as the generator paired them, billing type, active agreements and usage lines (to check a mapping against, or to set one up for a benchmark) |
//! | `POST /v1/{vendor}/faults` | `latency_ms`, `rate_limit_per_minute`, `retry_after_s`, `fault_rate`, `slow_commit_ms` (each optional; `null` turns it off) | sets the knobs given |
//! | `POST /v1/{vendor}/inject` | `path_contains`, `status`, optional `method`, `body`, `times` | answers matching requests with `status` (nothing is committed) |
//! | `DELETE /v1/{vendor}/inject` | | removes every injection |
//! | `POST /v1/{vendor}/slow` | `path_contains`, `delay_ms`, optional `times` | successful POSTs whose path contains the text commit, then answer after the delay |
//! | `DELETE /v1/{vendor}/slow` | | removes every slow route (the global `slow_commit_ms` stays) |
//! | `POST /v1/connectwise/codebase` | `codebase` | moves the site (the old path answers 404) |
//! | `POST /v1/connectwise/invoiced` | `agreement_id`, `through` (RFC 3339 or `null`) | marks the agreement's period invoiced |
//! | `POST /v1/connectwise/reports` | `report`, optional `offered`, `drop_column`, `restore_columns`, `frozen` | a report missing, a column dropped, or a lagging copy |
//! | `POST /v1/sophos/expire-tokens` | | every issued token answers 401 from now on |
//! | `POST /v1/sophos/alerts` | `count`, optional `tenant_id` | raises `count` alerts now (spread over the customers' tenants) |
//! | `POST /v1/sophos/alerts/clear` | `tenant_id`, `alert_id` | clears one alert, as Sophos does when the problem goes |
//! | `POST /v1/sophos/alerts/acknowledge` | `tenant_id`, `alert_id` | acknowledges one alert as a person in Sophos Central would (it leaves the list, after the emulator's acknowledgement delay) |
//! | `POST /v1/sophos/tenant-billing` | `tenant_id`, `billing`: `usage`, `term`, `term_no_assistance` or `trial` | changes the tenant's billing type: the tenant list shows it (`term` for both term kinds), its alerts answer 403 for `trial` and `term_no_assistance` |
//!
//! `{vendor}` is `connectwise` or `sophos`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use rand::Rng as _;
use secrecy::{ExposeSecret as _, SecretString};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};

use crate::Sandbox;
use crate::faults::{FaultSettings, Faults, Injection, SlowRoute};
use crate::sophos::{AlertKind, AlertSpec};
use crate::tls::{ServeError, ServerHandle};
use crate::world::BillingType;

/// The running admin API.
pub struct Admin {
    handle: ServerHandle,
    token: SecretString,
}

impl Admin {
    /// Serves the admin API for `sandbox` on `bind` (keep it on loopback), with a new random token.
    pub async fn serve(sandbox: Sandbox, bind: SocketAddr) -> Result<Admin, ServeError> {
        let token: String = {
            let mut rng = rand::rng();
            (0..32)
                .map(|_| char::from_digit(rng.random_range(0..16), 16).unwrap_or('0'))
                .collect()
        };
        let state = Arc::new(AdminState {
            sandbox,
            token: SecretString::from(token.clone()),
        });
        let router = Router::new()
            .route("/v1/state", get(state_of))
            .route("/v1/world", get(world_of))
            .route("/v1/{vendor}/faults", post(set_faults))
            .route("/v1/{vendor}/inject", post(inject).delete(clear_injections))
            .route("/v1/{vendor}/slow", post(slow).delete(clear_slow))
            .route("/v1/connectwise/codebase", post(move_codebase))
            .route("/v1/connectwise/invoiced", post(invoiced))
            .route("/v1/connectwise/reports", post(reports))
            .route("/v1/connectwise/role", post(set_role))
            .route("/v1/sophos/expire-tokens", post(expire_tokens))
            .route("/v1/sophos/alerts", post(raise_alerts))
            .route("/v1/sophos/alerts/clear", post(clear_alert))
            .route("/v1/sophos/alerts/acknowledge", post(acknowledge_alert))
            .route("/v1/sophos/tenant-billing", post(tenant_billing))
            .fallback(|| async { refuse(StatusCode::NOT_FOUND, NOT_FOUND) })
            .with_state(state);
        let handle = crate::tls::serve(router, bind, None).await?;
        Ok(Admin {
            handle,
            token: SecretString::from(token),
        })
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn url(&self) -> String {
        self.handle.base_url()
    }

    /// The bearer token the API wants (printed on purpose: it guards only the emulators).
    pub fn token(&self) -> &str {
        self.token.expose_secret()
    }

    /// Stops serving.
    pub async fn shutdown(self) {
        self.handle.shutdown().await;
    }
}

struct AdminState {
    sandbox: Sandbox,
    token: SecretString,
}

type Shared = State<Arc<AdminState>>;

const NOT_FOUND: &str = "There is no such admin call. Fix: see the table in `sandbox::admin`'s documentation or the README (GET /v1/state, POST /v1/{connectwise|sophos}/faults, ...).";

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// Why an admin call was refused (nothing changed).
#[derive(Debug)]
enum AdminError {
    /// No token, or the wrong one.
    Unauthorized,
    /// The request names something that does not exist or a value out of range; the text ends
    /// with `Fix:`.
    Bad(String),
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        match self {
            AdminError::Unauthorized => refuse(
                StatusCode::UNAUTHORIZED,
                "Missing or wrong admin token. Fix: send `Authorization: Bearer <token>` with the token `centralbridge sandbox` printed.",
            ),
            AdminError::Bad(message) => refuse(StatusCode::BAD_REQUEST, &message),
        }
    }
}

fn bad(message: String) -> AdminError {
    AdminError::Bad(message)
}

type Answer = Result<Response, AdminError>;

fn authorised(st: &AdminState, headers: &HeaderMap) -> Result<(), AdminError> {
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if given == Some(st.token.expose_secret()) {
        Ok(())
    } else {
        Err(AdminError::Unauthorized)
    }
}

fn faults_of<'a>(st: &'a AdminState, vendor: &str) -> Result<&'a Faults, AdminError> {
    match vendor {
        "connectwise" => Ok(st.sandbox.connectwise.faults()),
        "sophos" => Ok(st.sandbox.sophos.faults()),
        other => Err(bad(format!(
            "Unknown vendor `{other}`. Fix: use `connectwise` or `sophos`."
        ))),
    }
}

/// One emulator's knobs as the API shows them.
#[derive(Serialize)]
struct FaultsView {
    latency_ms: u128,
    rate_limit_per_minute: Option<u32>,
    retry_after_s: Option<u64>,
    fault_rate: f64,
    slow_commit_ms: Option<u128>,
}

impl From<FaultSettings> for FaultsView {
    fn from(s: FaultSettings) -> Self {
        Self {
            latency_ms: s.latency.as_millis(),
            rate_limit_per_minute: s.rate_limit_per_minute,
            retry_after_s: s.retry_after,
            fault_rate: s.fault_rate,
            slow_commit_ms: s.slow_commit.map(|d| d.as_millis()),
        }
    }
}

/// A slow route as the API shows it.
#[derive(Serialize)]
struct SlowView {
    path_contains: String,
    delay_ms: u128,
    times: Option<u32>,
}

fn slow_view(faults: &Faults) -> Vec<SlowView> {
    faults
        .slow_routes()
        .into_iter()
        .map(|r| SlowView {
            path_contains: r.path_contains,
            delay_ms: r.delay.as_millis(),
            times: r.remaining,
        })
        .collect()
}

/// The admin API's names of the billing types.
const BILLINGS: [(&str, BillingType); 4] = [
    ("usage", BillingType::Usage),
    ("term", BillingType::Term),
    ("term_no_assistance", BillingType::TermNoAssistance),
    ("trial", BillingType::Trial),
];

fn billing_name(b: BillingType) -> &'static str {
    BILLINGS
        .iter()
        .find(|(_, x)| *x == b)
        .map_or("usage", |(name, _)| name)
}

async fn state_of(State(st): Shared, headers: HeaderMap) -> Answer {
    authorised(&st, &headers)?;
    let sb = &st.sandbox;
    let billing: serde_json::Map<String, Value> = sb
        .sophos
        .billing_overrides()
        .into_iter()
        .map(|(tenant, b)| (tenant, json!(billing_name(b))))
        .collect();
    Ok(Json(json!({
        "connectwise": {
            "faults": FaultsView::from(sb.connectwise.faults().settings()),
            "slow_routes": slow_view(sb.connectwise.faults()),
            "codebase": sb.connectwise.codebase(),
            "reports": sb.connectwise.report_knobs(),
        },
        "sophos": {
            "faults": FaultsView::from(sb.sophos.faults().settings()),
            "slow_routes": slow_view(sb.sophos.faults()),
            "tenant_billing": billing,
        },
    }))
    .into_response())
}

/// The generator's answer key, one row a customer.
async fn world_of(State(st): Shared, headers: HeaderMap) -> Answer {
    authorised(&st, &headers)?;
    let customers: Vec<Value> = st
        .sandbox
        .world
        .customers
        .iter()
        .map(|c| {
            json!({
                "tenant_id": c.tenant.as_ref().map(|t| &t.id),
                "tenant_name": c.tenant.as_ref().map(|t| &t.name),
                "billing": c.tenant.as_ref().map(|t| billing_name(t.billing)),
                "usage_lines": c.tenant.as_ref().map_or(0, |t| t.usage.len()),
                "company_identifier": c.company.as_ref().map(|co| &co.identifier),
                "company_name": c.company.as_ref().map(|co| &co.name),
                "company_deleted": c.company.as_ref().is_some_and(|co| co.deleted),
                "active_agreements": c.company.as_ref().map_or(0, |co| {
                    co.agreements.iter().filter(|a| a.status == "Active").count()
                }),
            })
        })
        .collect();
    Ok(Json(json!({ "customers": customers })).into_response())
}

/// `null` in a body is `Some(None)` (turn off); an absent field is `None` (keep).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FaultsBody {
    #[serde(default)]
    latency_ms: Option<u64>,
    #[serde(default, deserialize_with = "present")]
    rate_limit_per_minute: Option<Option<u32>>,
    #[serde(default, deserialize_with = "present")]
    retry_after_s: Option<Option<u64>>,
    #[serde(default)]
    fault_rate: Option<f64>,
    #[serde(default, deserialize_with = "present")]
    slow_commit_ms: Option<Option<u64>>,
}

fn body<T: serde::de::DeserializeOwned>(raw: &str) -> Result<T, AdminError> {
    let raw = if raw.trim().is_empty() { "{}" } else { raw };
    serde_json::from_str(raw).map_err(|e| {
        bad(format!(
            "The body is not what this call takes: {e}. Fix: send a JSON object with the fields listed for it."
        ))
    })
}

async fn set_faults(
    State(st): Shared,
    Path(vendor): Path<String>,
    headers: HeaderMap,
    raw: String,
) -> Answer {
    authorised(&st, &headers)?;
    let faults = faults_of(&st, &vendor)?;
    let b: FaultsBody = body(&raw)?;
    if let Some(rate) = b.fault_rate
        && !(0.0..=1.0).contains(&rate)
    {
        return Err(bad(format!(
            "fault_rate {rate} is not a fraction. Fix: give a number from 0 to 1 (0.05 is 5 %)."
        )));
    }
    if b.rate_limit_per_minute == Some(Some(0)) {
        return Err(bad(
            "rate_limit_per_minute 0 would refuse every call. Fix: give 1 or more, or null for no limit."
                .into(),
        ));
    }
    faults.update(|s| {
        if let Some(ms) = b.latency_ms {
            s.latency = Duration::from_millis(ms);
        }
        if let Some(limit) = b.rate_limit_per_minute {
            s.rate_limit_per_minute = limit;
        }
        if let Some(secs) = b.retry_after_s {
            s.retry_after = secs;
        }
        if let Some(rate) = b.fault_rate {
            s.fault_rate = rate;
        }
        if let Some(ms) = b.slow_commit_ms {
            s.slow_commit = ms.map(Duration::from_millis);
        }
    });
    Ok(Json(FaultsView::from(faults.settings())).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InjectBody {
    path_contains: String,
    status: u16,
    #[serde(default)]
    method: Option<String>,
    #[serde(default)]
    body: Option<String>,
    #[serde(default)]
    times: Option<u32>,
}

async fn inject(
    State(st): Shared,
    Path(vendor): Path<String>,
    headers: HeaderMap,
    raw: String,
) -> Answer {
    authorised(&st, &headers)?;
    let faults = faults_of(&st, &vendor)?;
    let b: InjectBody = body(&raw)?;
    if !(400..=599).contains(&b.status) {
        return Err(bad(format!(
            "status {} is not an error status. Fix: give a status from 400 to 599.",
            b.status
        )));
    }
    let mut injection = Injection::new(b.path_contains, b.status);
    if let Some(m) = b.method {
        match m.to_ascii_uppercase().parse::<http::Method>() {
            Ok(m) => injection = injection.method(m),
            Err(_) => {
                return Err(bad(format!(
                    "`{m}` is not an HTTP method. Fix: give GET, POST, PUT, PATCH or DELETE."
                )));
            }
        }
    }
    if let Some(text) = b.body {
        injection = injection.body(text);
    }
    if let Some(n) = b.times {
        injection = injection.times(n);
    }
    faults.inject(injection);
    Ok((StatusCode::CREATED, Json(json!({"injected": true}))).into_response())
}

async fn clear_injections(
    State(st): Shared,
    Path(vendor): Path<String>,
    headers: HeaderMap,
) -> Answer {
    authorised(&st, &headers)?;
    faults_of(&st, &vendor)?.clear_injections();
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CodebaseBody {
    codebase: String,
}

async fn move_codebase(State(st): Shared, headers: HeaderMap, raw: String) -> Answer {
    authorised(&st, &headers)?;
    let b: CodebaseBody = body(&raw)?;
    let cb = b.codebase.trim().trim_matches('/');
    if cb.is_empty() || !cb.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(bad(format!(
            "`{}` is not a codebase. Fix: give one like `v2026_1`.",
            b.codebase
        )));
    }
    st.sandbox.connectwise.move_codebase(cb);
    Ok(Json(json!({"codebase": st.sandbox.connectwise.codebase()})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InvoicedBody {
    agreement_id: i64,
    #[serde(default)]
    through: Option<String>,
}

async fn invoiced(State(st): Shared, headers: HeaderMap, raw: String) -> Answer {
    authorised(&st, &headers)?;
    let b: InvoicedBody = body(&raw)?;
    let through = match b.through.as_deref().map(str::parse::<jiff::Timestamp>) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            return Err(bad(format!(
                "through is not a time: {e}. Fix: give RFC 3339, e.g. 2026-11-30T23:59:59Z, or null."
            )));
        }
    };
    let known = st
        .sandbox
        .connectwise
        .records(crate::connectwise::Table::Agreements)
        .iter()
        .any(|a| a.get("id").and_then(Value::as_i64) == Some(b.agreement_id));
    if !known {
        return Err(bad(format!(
            "There is no agreement {}. Fix: give the id of an agreement the emulated ConnectWise has.",
            b.agreement_id
        )));
    }
    st.sandbox
        .connectwise
        .set_invoiced_through(b.agreement_id, through);
    Ok(
        Json(json!({"agreement_id": b.agreement_id, "through": through.map(|t| t.to_string())}))
            .into_response(),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportsBody {
    report: String,
    offered: Option<bool>,
    drop_column: Option<String>,
    #[serde(default)]
    restore_columns: bool,
    frozen: Option<bool>,
}

async fn reports(State(st): Shared, headers: HeaderMap, raw: String) -> Answer {
    authorised(&st, &headers)?;
    let b: ReportsBody = body(&raw)?;
    const NAMES: &[&str] = &["Agreement", "AgreementAdditions", "Company", "Service"];
    if !NAMES.iter().any(|n| n.eq_ignore_ascii_case(&b.report)) {
        return Err(bad(format!(
            "There is no report `{}`. Fix: use one of {}.",
            b.report,
            NAMES.join(", ")
        )));
    }
    if b.frozen.is_some() && !b.report.eq_ignore_ascii_case("AgreementAdditions") {
        return Err(bad(
            "Only AgreementAdditions can be frozen. Fix: give \"report\": \"AgreementAdditions\"."
                .to_owned(),
        ));
    }
    let cw = &st.sandbox.connectwise;
    if let Some(o) = b.offered {
        cw.set_report_offered(&b.report, o);
    }
    if b.restore_columns {
        cw.set_report_column_dropped(&b.report, None);
    }
    if let Some(c) = b.drop_column.as_deref() {
        cw.set_report_column_dropped(&b.report, Some(c));
    }
    if let Some(f) = b.frozen {
        cw.set_additions_report_frozen(f);
    }
    Ok(Json(cw.report_knobs()).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleBody {
    member: String,
    function: String,
    level: String,
    access: String,
}

/// Finds a name among `options` by their `Debug` spelling or `alias`, ignoring case and spaces.
fn pick<T: Copy + std::fmt::Debug>(
    what: &str,
    given: &str,
    options: &[T],
    alias: impl Fn(T) -> String,
) -> Result<T, AdminError> {
    let norm = |t: &str| t.to_ascii_lowercase().replace([' ', '_', '-'], "");
    options
        .iter()
        .copied()
        .find(|o| norm(&format!("{o:?}")) == norm(given) || norm(&alias(*o)) == norm(given))
        .ok_or_else(|| {
            let names: Vec<String> = options.iter().map(|o| format!("{o:?}")).collect();
            bad(format!(
                "`{given}` is not a {what}. Fix: use one of {}.",
                names.join(", ")
            ))
        })
}

/// Changes one level of an API member's security role, as an admin does in System > Security
/// Roles: e.g. take Table Setup: Inquire away and watch `doctor` name the fix.
async fn set_role(State(st): Shared, headers: HeaderMap, raw: String) -> Answer {
    use crate::connectwise::{Access, Level, RoleFunction};
    authorised(&st, &headers)?;
    let b: RoleBody = body(&raw)?;
    let integration = st.sandbox.connectwise.credentials();
    let member = [&integration, &st.sandbox.technician]
        .into_iter()
        .find(|c| c.member_identifier.eq_ignore_ascii_case(b.member.trim()))
        .ok_or_else(|| {
            bad(format!(
                "There is no API member `{}`. Fix: use {} (the integration's) or {} (the technician's).",
                b.member, integration.member_identifier, st.sandbox.technician.member_identifier
            ))
        })?;
    let function = pick("role function", &b.function, &RoleFunction::ALL, |f| {
        f.menu_path().to_owned()
    })?;
    let level = pick(
        "level",
        &b.level,
        &[Level::Add, Level::Edit, Level::Delete, Level::Inquire],
        |_| String::new(),
    )?;
    let access = pick(
        "access",
        &b.access,
        &[Access::All, Access::My, Access::Mine, Access::None],
        |_| String::new(),
    )?;
    st.sandbox
        .connectwise
        .set_role_level(member.member_id, function, level, access);
    Ok(Json(json!({
        "member": member.member_identifier,
        "function": function.menu_path(),
        "level": format!("{level:?}"),
        "access": format!("{access:?}"),
    }))
    .into_response())
}

async fn expire_tokens(State(st): Shared, headers: HeaderMap) -> Answer {
    authorised(&st, &headers)?;
    st.sandbox.sophos.expire_tokens();
    Ok(Json(json!({"expired": true})).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AlertsBody {
    count: u32,
    #[serde(default)]
    tenant_id: Option<String>,
}

/// The kinds a burst cycles through: the alerts MSPs see most.
const BURST_KINDS: [AlertKind; 3] = [
    AlertKind::ThreatDetected,
    AlertKind::EndpointOutOfDate,
    AlertKind::RealTimeProtectionDisabled,
];

async fn raise_alerts(State(st): Shared, headers: HeaderMap, raw: String) -> Answer {
    authorised(&st, &headers)?;
    let b: AlertsBody = body(&raw)?;
    if b.count == 0 || b.count > 10_000 {
        return Err(bad(format!(
            "count {} is out of range. Fix: give 1 to 10000.",
            b.count
        )));
    }
    let tenants: Vec<String> = match &b.tenant_id {
        Some(t) => vec![t.clone()],
        None => st
            .sandbox
            .world
            .customers
            .iter()
            .filter_map(|c| c.tenant.as_ref().map(|t| t.id.clone()))
            .collect(),
    };
    if tenants.is_empty() {
        return Err(bad(
            "The world has no tenants. Fix: start the sandbox with --customers 1 or more.".into(),
        ));
    }
    let mut raised = Vec::new();
    for i in 0..b.count as usize {
        let tenant = &tenants[i % tenants.len()];
        match st
            .sandbox
            .sophos
            .inject_alert(tenant, AlertSpec::new(BURST_KINDS[i % BURST_KINDS.len()]))
        {
            Ok(id) => raised.push(json!({"tenant_id": tenant, "alert_id": id})),
            Err(e) => {
                return Err(bad(format!(
                    "Cannot raise an alert for tenant {tenant}: {e}. Fix: give a tenant id the sandbox printed or listed."
                )));
            }
        }
    }
    Ok((StatusCode::CREATED, Json(json!({"raised": raised}))).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClearBody {
    tenant_id: String,
    alert_id: String,
}

async fn clear_alert(State(st): Shared, headers: HeaderMap, raw: String) -> Answer {
    authorised(&st, &headers)?;
    let b: ClearBody = body(&raw)?;
    let done = st.sandbox.sophos.clear_alert(&b.tenant_id, &b.alert_id);
    alert_answer(done, "cleared", &b)
}

/// `{"<what>": true}`, or the refusal for an alert the tenant does not have open.
fn alert_answer(done: bool, what: &str, b: &ClearBody) -> Answer {
    if done {
        return Ok(Json(json!({ what: true })).into_response());
    }
    Err(bad(format!(
        "Tenant {} has no open alert {}. Fix: give an alert id from POST /v1/sophos/alerts or the tenant's alert list.",
        b.tenant_id, b.alert_id
    )))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SlowBody {
    path_contains: String,
    delay_ms: u64,
    #[serde(default)]
    times: Option<u32>,
}

/// The longest commit delay the API sets: beyond any client's timeout, short of a hung test.
const MAX_SLOW_MS: u64 = 600_000;

async fn slow(
    State(st): Shared,
    Path(vendor): Path<String>,
    headers: HeaderMap,
    raw: String,
) -> Answer {
    authorised(&st, &headers)?;
    let faults = faults_of(&st, &vendor)?;
    let b: SlowBody = body(&raw)?;
    if b.path_contains.trim().is_empty() {
        return Err(bad(
            "path_contains is empty, which would slow every POST. Fix: name part of a route (e.g. `service/tickets`), or set slow_commit_ms with POST /v1/{vendor}/faults for all of them."
                .into(),
        ));
    }
    if b.delay_ms == 0 || b.delay_ms > MAX_SLOW_MS {
        return Err(bad(format!(
            "delay_ms {} is out of range. Fix: give 1 to {MAX_SLOW_MS} milliseconds.",
            b.delay_ms
        )));
    }
    if b.times == Some(0) {
        return Err(bad(
            "times 0 would slow nothing. Fix: give 1 or more, or leave it out for every matching POST."
                .into(),
        ));
    }
    let mut route = SlowRoute::new(b.path_contains.trim(), Duration::from_millis(b.delay_ms));
    if let Some(n) = b.times {
        route = route.times(n);
    }
    faults.slow_route(route);
    Ok((
        StatusCode::CREATED,
        Json(json!({"slow_routes": slow_view(faults)})),
    )
        .into_response())
}

async fn clear_slow(State(st): Shared, Path(vendor): Path<String>, headers: HeaderMap) -> Answer {
    authorised(&st, &headers)?;
    faults_of(&st, &vendor)?.clear_slow_routes();
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn acknowledge_alert(State(st): Shared, headers: HeaderMap, raw: String) -> Answer {
    authorised(&st, &headers)?;
    let b: ClearBody = body(&raw)?;
    let done = st
        .sandbox
        .sophos
        .acknowledge_alert(&b.tenant_id, &b.alert_id);
    alert_answer(done, "acknowledged", &b)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BillingBody {
    tenant_id: String,
    billing: String,
}

async fn tenant_billing(State(st): Shared, headers: HeaderMap, raw: String) -> Answer {
    authorised(&st, &headers)?;
    let b: BillingBody = body(&raw)?;
    let Some(&(name, billing)) = BILLINGS.iter().find(|(n, _)| *n == b.billing) else {
        return Err(bad(format!(
            "`{}` is not a billing type. Fix: give usage, term, term_no_assistance or trial.",
            b.billing
        )));
    };
    if st
        .sandbox
        .sophos
        .set_billing(&b.tenant_id, billing)
        .is_err()
    {
        return Err(bad(format!(
            "There is no tenant {}. Fix: give a tenant id from the tenant list (GET /partner/v1/tenants).",
            b.tenant_id
        )));
    }
    Ok(
        Json(json!({"tenant_id": b.tenant_id, "billing": name, "billingType": billing.wire()}))
            .into_response(),
    )
}
