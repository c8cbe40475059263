//! Customers: every Sophos customer with its ConnectWise company, agreement, switches and last sync
//! status; filters and search; the error detail with advice; mapping edit with company autocomplete;
//! suggestions confirmed with one click; refresh and sync now.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::Response;
use engine::ids::{AgreementId, BillingType, CompanyId, TenantId};
use engine::mapping::{
    self, CustomerFilter, CustomerRow, MappingInput, SuggestOptions, Suggestion,
};
use engine::store::{CustomerStatus, MappingStore as _, Role};
use serde::Deserialize;

use super::error::DashboardError;
use super::{Chrome, audit, fail, note, render, show_time};

const UNKNOWN_CUSTOMER: &str = "This customer is not known (any more).";
use crate::service::Job;
use crate::service::auth::Session;
use crate::service::http::Shared;
use crate::service::messages;

/// Companies offered by the autocomplete.
const HITS: usize = 8;

#[derive(Debug, Clone, Deserialize)]
pub(super) struct Filter {
    #[serde(default = "all")]
    view: String,
    #[serde(default = "both")]
    status: String,
    #[serde(default)]
    q: String,
}

fn all() -> String {
    "all".into()
}
fn both() -> String {
    "both".into()
}

impl Default for Filter {
    fn default() -> Self {
        Self {
            view: all(),
            status: both(),
            q: String::new(),
        }
    }
}

pub(super) struct FilterView {
    view: String,
    status: String,
    q: String,
    /// The filter as a query string (for the table's reload).
    query: String,
}

pub(super) struct SuggestionView {
    company_id: CompanyId,
    name: String,
    score: String,
}

pub(super) struct RowView {
    tenant_id: String,
    tenant_name: String,
    billing: String,
    company: Option<String>,
    agreement: Option<String>,
    mapped: bool,
    usage_sync: bool,
    ticket_sync: bool,
    /// `ok`, `failed` or `never`.
    status: &'static str,
    when: Option<String>,
    warnings: usize,
    suggestion: Option<SuggestionView>,
}

#[derive(askama::Template)]
#[template(path = "customers.html")]
struct CustomersPage {
    chrome: Chrome,
    filter: FilterView,
    rows: Vec<RowView>,
    total: usize,
    jobs_line: String,
    /// Show the action buttons (operator or admin).
    can_operate: bool,
}

#[derive(askama::Template)]
#[template(path = "customers_table.html")]
struct CustomersTable {
    filter: FilterView,
    rows: Vec<RowView>,
    total: usize,
    can_operate: bool,
}

#[derive(askama::Template)]
#[template(path = "customer_row.html")]
struct CustomerRowTpl {
    row: RowView,
    /// Rendered after an action, so always true; the table shares the row template.
    can_operate: bool,
}

fn billing_label(b: Option<&BillingType>) -> String {
    match b {
        Some(BillingType::Usage) => "MSP Flex (monthly)".into(),
        Some(BillingType::Term) => "Term".into(),
        Some(BillingType::Trial) => "Trial".into(),
        Some(BillingType::Other(other)) => other.clone(),
        None => String::new(),
    }
}

/// The row's status from the last usage and ticket runs: failed if either failed.
fn status_of(statuses: &[CustomerStatus]) -> (&'static str, Option<String>) {
    let relevant: Vec<&CustomerStatus> = statuses
        .iter()
        .filter(|s| s.job == engine::usage::JOB || s.job == engine::tickets::JOB)
        .collect();
    let when = relevant
        .iter()
        .map(|s| s.last_run_at)
        .max()
        .map(|t| format!("{} UTC", show_time(t)));
    if relevant.iter().any(|s| !s.ok) {
        ("failed", when)
    } else if relevant.is_empty() {
        ("never", None)
    } else {
        ("ok", when)
    }
}

fn row_view(r: &CustomerRow, suggestion: Option<&Suggestion>) -> RowView {
    let (status, when) = status_of(&r.status);
    let mapping = r.mapping.as_ref();
    RowView {
        tenant_id: r.tenant.id.to_string(),
        tenant_name: r.tenant.name.clone(),
        billing: billing_label(r.tenant.billing_type.as_ref()),
        company: r
            .company
            .as_ref()
            .map(|c| format!("{} (#{})", c.name, c.id)),
        agreement: r.agreement.as_ref().map(|a| match &a.type_name {
            Some(t) => format!("{} · {t}", a.name),
            None => a.name.clone(),
        }),
        mapped: mapping.is_some(),
        usage_sync: mapping.is_some_and(|m| m.usage_sync),
        ticket_sync: mapping.is_some_and(|m| m.ticket_sync),
        status,
        when,
        warnings: r.warnings.len(),
        suggestion: if mapping.is_none() {
            suggestion.and_then(|s| {
                let best = s.best()?;
                Some(SuggestionView {
                    company_id: best.company_id,
                    name: best.name.clone(),
                    score: format!("{:.0}% match", best.score * 100.0),
                })
            })
        } else {
            None
        },
    }
}

fn keep(row: &RowView, billing: Option<&BillingType>, f: &Filter) -> bool {
    let view_ok = match f.view.as_str() {
        "usage" => billing.is_some_and(BillingType::is_monthly),
        "unmapped" => !row.mapped,
        _ => true,
    };
    let status_ok = match f.status.as_str() {
        "ok" => row.status == "ok",
        "failed" => row.status == "failed",
        _ => true,
    };
    view_ok && status_ok
}

async fn rows(app: &Shared, f: &Filter) -> Result<(Vec<RowView>, usize), String> {
    let search = Some(f.q.trim().to_owned()).filter(|q| !q.is_empty());
    let all = mapping::list_customers(&app.store, &CustomerFilter::default())
        .await
        .map_err(|e| e.to_string())?;
    let total = all.len();
    let listed = if search.is_some() {
        mapping::list_customers(
            &app.store,
            &CustomerFilter {
                search,
                ..Default::default()
            },
        )
        .await
        .map_err(|e| e.to_string())?
    } else {
        all
    };
    let suggestions: HashMap<TenantId, Suggestion> =
        mapping::suggest(&app.store, &SuggestOptions::default())
            .await
            .unwrap_or_default()
            .into_iter()
            .map(|s| (s.tenant_id.clone(), s))
            .collect();
    let out = listed
        .iter()
        .map(|r| {
            (
                row_view(r, suggestions.get(r.tenant.id.as_str())),
                r.tenant.billing_type.clone(),
            )
        })
        .filter(|(v, b)| keep(v, b.as_ref(), f))
        .map(|(v, _)| v)
        .collect();
    Ok((out, total))
}

async fn one_row(app: &Shared, tenant_id: &str) -> Option<RowView> {
    let listed = mapping::list_customers(
        &app.store,
        &CustomerFilter {
            search: Some(tenant_id.to_owned()),
            include_gone: true,
            ..Default::default()
        },
    )
    .await
    .ok()?;
    let r = listed.into_iter().find(|r| r.tenant.id == tenant_id)?;
    let suggestion = if r.mapping.is_none() {
        mapping::suggest(
            &app.store,
            &SuggestOptions {
                tenant_id: Some(tenant_id.into()),
                ..Default::default()
            },
        )
        .await
        .ok()
        .and_then(|s| s.into_iter().next())
    } else {
        None
    };
    Some(row_view(&r, suggestion.as_ref()))
}

fn filter_view(f: &Filter) -> FilterView {
    let query = serde_urlencoded::to_string([
        ("view", f.view.as_str()),
        ("status", f.status.as_str()),
        ("q", f.q.as_str()),
    ])
    .unwrap_or_default();
    FilterView {
        view: f.view.clone(),
        status: f.status.clone(),
        q: f.q.clone(),
        query,
    }
}

/// Each job's state: running anywhere (the lease in the store says since when and who started it,
/// whichever process or door), else what this service last saw.
async fn jobs_line(app: &Shared) -> String {
    use engine::store::CoreStore as _;
    let mut parts = Vec::new();
    for j in Job::ALL {
        let Some(s) = app.scheduler.state(j) else {
            continue;
        };
        let lease = app
            .store
            .lease_holder(j.name(), jiff::Timestamp::now())
            .await
            .ok()
            .flatten();
        parts.push(if let Some(l) = lease {
            crate::service::messages::job_running(
                j.title(),
                l.since,
                &engine::job::describe_holder(&l.holder),
            )
        } else if s.pending {
            format!("{}: waiting to start", j.title())
        } else if let Some(o) = s.last_outcome {
            format!("{}: {o}", j.title())
        } else {
            format!("{}: not run here yet", j.title())
        });
    }
    parts.join(" · ")
}

#[tracing::instrument(skip_all)]
pub(super) async fn page(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    headers: HeaderMap,
    Query(f): Query<Filter>,
) -> Result<Response, DashboardError> {
    let (rows, total) = rows(&app, &f).await.map_err(DashboardError::Refused)?;
    let filter = filter_view(&f);
    // htmx asks for the table only (filters, search, reload after a change).
    if headers.contains_key("hx-request") && !headers.contains_key("hx-boosted") {
        return Ok(render(&CustomersTable {
            filter,
            rows,
            total,
            can_operate: session.may(Role::Operator),
        }));
    }
    Ok(render(&CustomersPage {
        chrome: Chrome::new(&session, "customers"),
        filter,
        rows,
        total,
        jobs_line: jobs_line(&app).await,
        can_operate: session.may(Role::Operator),
    }))
}

#[tracing::instrument(skip_all, fields(job = %job))]
pub(super) async fn run_job(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Path(job): Path<String>,
) -> Result<Response, DashboardError> {
    let Some(job) = Job::parse(&job) else {
        return Err(DashboardError::NotFound(format!(
            "There is no job called “{job}”."
        )));
    };
    if !app.scheduler.trigger(job) {
        return Err(DashboardError::Refused(messages::job_not_here(job.title())));
    }
    audit(
        &app,
        &session.actor(),
        engine::audit::AuditKind::DashboardJob,
        &format!("job:{}", job.name()),
        "run requested from the dashboard",
    )
    .await;
    Ok(note(messages::job_requested(job.title())))
}

// --- error detail --------------------------------------------------------------------------------

pub(super) struct StatusView {
    job: String,
    ok: bool,
    when: String,
    error: Option<String>,
    advice: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "customer_detail.html")]
struct DetailTpl {
    tenant_id: String,
    tenant_name: String,
    statuses: Vec<StatusView>,
    warnings: Vec<(String, String)>,
    /// Products whose managed addition is gone from ConnectWise and not acknowledged.
    removed: Vec<String>,
    /// Why the removed additions could not be listed (ConnectWise did not answer).
    removed_unknown: Option<String>,
    /// Show the acknowledge buttons (operator or admin).
    can_operate: bool,
}

/// The customer's products whose addition centralbridge manages but ConnectWise no longer bills
/// (deleted or cancelled there), less those already acknowledged. Reads the agreement's additions.
async fn removed_products(
    app: &Shared,
    mapping: &engine::store::Mapping,
) -> Result<Vec<String>, String> {
    use engine::store::UsageStore as _;
    let Some(agreement) = mapping.agreement_id else {
        return Ok(Vec::new());
    };
    let tenant = mapping.tenant_id.as_str();
    let links: Vec<_> = app
        .store
        .list_addition_links(Some(tenant))
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|l| l.agreement_id == agreement && l.created_by_us && !l.cancelled_by_us)
        .collect();
    if links.is_empty() {
        return Ok(Vec::new());
    }
    let acked: Vec<String> = app
        .store
        .removal_acks(Some(tenant))
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(|a| a.product)
        .collect();
    let cw = engine::connections::connectwise_client(&app.store)
        .await
        .map_err(|e| e.to_string())?;
    let live: Vec<i64> = cw
        .addition_states(agreement.get())
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|a| !a.cancelled)
        .map(|a| a.id)
        .collect();
    Ok(links
        .into_iter()
        .filter(|l| !live.contains(&l.addition_id.get()) && !acked.contains(&l.product))
        .map(|l| l.product)
        .collect())
}

fn job_title(job: &str) -> String {
    Job::parse(job)
        .map(|j| j.title().to_owned())
        .unwrap_or_else(|| job.to_owned())
}

#[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
pub(super) async fn error_detail(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Path(tenant): Path<String>,
) -> Result<Response, DashboardError> {
    let listed = mapping::list_customers(
        &app.store,
        &CustomerFilter {
            search: Some(tenant.clone()),
            include_gone: true,
            ..Default::default()
        },
    )
    .await?;
    let Some(r) = listed.into_iter().find(|r| r.tenant.id == tenant) else {
        return Err(DashboardError::NotFound(UNKNOWN_CUSTOMER.into()));
    };
    // Only a failed usage sync can be about a removal: then ConnectWise is asked which.
    let usage_failed = r.status.iter().any(|s| s.job == "usage" && !s.ok);
    let (removed, removed_unknown) = match (&r.mapping, usage_failed) {
        (Some(m), true) => match removed_products(&app, m).await {
            Ok(p) => (p, None),
            Err(e) => (Vec::new(), Some(e)),
        },
        _ => (Vec::new(), None),
    };
    Ok(render(&DetailTpl {
        tenant_id: r.tenant.id.to_string(),
        removed,
        removed_unknown,
        can_operate: session.may(Role::Operator),
        tenant_name: r.tenant.name.clone(),
        statuses: r
            .status
            .iter()
            .map(|s| StatusView {
                job: job_title(&s.job),
                ok: s.ok,
                when: show_time(s.last_run_at),
                error: s.error.clone(),
                advice: s.advice.clone(),
            })
            .collect(),
        warnings: r
            .warnings
            .iter()
            .map(|w| (w.message.clone(), w.advice.clone()))
            .collect(),
    }))
}

// --- switches ------------------------------------------------------------------------------------

#[derive(Debug, Deserialize)]
pub(super) struct Toggle {
    #[serde(default)]
    on: String,
}

async fn toggle(
    app: &Shared,
    actor: &str,
    tenant: &str,
    usage: Option<bool>,
    tickets: Option<bool>,
) -> Response {
    match mapping::set_switches(&app.store, actor, tenant, usage, tickets).await {
        Ok(_) => match one_row(app, tenant).await {
            Some(row) => render(&CustomerRowTpl {
                row,
                can_operate: true,
            }),
            None => fail(UNKNOWN_CUSTOMER),
        },
        Err(e) => {
            // Keep the row as it was and show why in the detail panel.
            let mut resp = fail(&e);
            resp.headers_mut()
                .insert("hx-retarget", HeaderValue::from_static("#detail"));
            resp.headers_mut()
                .insert("hx-reswap", HeaderValue::from_static("innerHTML"));
            resp
        }
    }
}

#[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
pub(super) async fn toggle_usage(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Path(tenant): Path<String>,
    Form(t): Form<Toggle>,
) -> Response {
    toggle(&app, &session.actor(), &tenant, Some(t.on == "true"), None).await
}

#[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
pub(super) async fn toggle_tickets(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Path(tenant): Path<String>,
    Form(t): Form<Toggle>,
) -> Response {
    toggle(&app, &session.actor(), &tenant, None, Some(t.on == "true")).await
}

// --- sync now ------------------------------------------------------------------------------------

/// "Sync now" previews first: computes and saves the customer's plan and shows it, with Approve.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
pub(super) async fn sync_now(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Path(tenant): Path<String>,
    headers: axum::http::HeaderMap,
) -> Result<Response, DashboardError> {
    super::usage::preview(&app, &session, &headers, vec![tenant]).await
}

// --- mapping edit --------------------------------------------------------------------------------

pub(super) struct AgreementView {
    id: AgreementId,
    label: String,
    usable: bool,
    selected: bool,
}

#[derive(askama::Template)]
#[template(path = "mapping_form.html")]
struct MappingForm {
    tenant_id: String,
    tenant_name: String,
    current: Option<String>,
    error: Option<String>,
    query: String,
    /// (id, label) of the chosen company.
    company: Option<(CompanyId, String)>,
    agreements: Vec<AgreementView>,
    usage_sync: bool,
    ticket_sync: bool,
    mapped: bool,
}

async fn mapping_form(
    app: &Shared,
    tenant: &str,
    company_id: Option<CompanyId>,
    error: Option<String>,
) -> Response {
    let Some(row) = one_row(app, tenant).await else {
        return fail(UNKNOWN_CUSTOMER);
    };
    let current = app.store.get_mapping(tenant).await.ok().flatten();
    let company_id = company_id.or(current.as_ref().map(|m| m.company_id));
    let mut company = None;
    let mut agreements = Vec::new();
    if let Some(cid) = company_id {
        let name = match app.store.get_company(cid).await {
            Ok(Some(c)) => format!("{} (#{})", c.name, c.id),
            _ => format!("#{cid}"),
        };
        company = Some((cid, name));
        let chosen = current
            .as_ref()
            .filter(|m| m.company_id == cid)
            .and_then(|m| m.agreement_id);
        let options = mapping::agreements_for_company(&app.store, cid, false)
            .await
            .unwrap_or_default();
        let first_usable = options.iter().find(|a| a.usable()).map(|a| a.id);
        let selected = chosen.or(first_usable);
        agreements = options
            .iter()
            .map(|a| {
                let mine = Some(a.id) == chosen;
                let mut label = a.name.clone();
                if let Some(t) = &a.type_name {
                    label.push_str(&format!(" · {t}"));
                }
                if a.expired {
                    label.push_str(" (expired)");
                }
                if let Some(u) = a.used_by.as_ref().filter(|_| !mine) {
                    label.push_str(&format!(" (used by another customer: {u})"));
                }
                AgreementView {
                    id: a.id,
                    label,
                    usable: a.usable() || mine,
                    selected: Some(a.id) == selected,
                }
            })
            .collect();
    }
    render(&MappingForm {
        tenant_id: tenant.to_owned(),
        tenant_name: row.tenant_name.clone(),
        current: row.company.clone().map(|c| match &row.agreement {
            Some(a) => format!("{c}, agreement {a}"),
            None => c,
        }),
        error,
        query: String::new(),
        company,
        agreements,
        usage_sync: current.as_ref().map(|m| m.usage_sync).unwrap_or(true),
        ticket_sync: current.as_ref().map(|m| m.ticket_sync).unwrap_or(true),
        mapped: current.is_some(),
    })
}

#[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
pub(super) async fn edit(State(app): State<Shared>, Path(tenant): Path<String>) -> Response {
    mapping_form(&app, &tenant, None, None).await
}

#[derive(Debug, Deserialize)]
pub(super) struct HitsQuery {
    #[serde(default)]
    q: String,
}

pub(super) struct HitView {
    id: CompanyId,
    name: String,
    identifier: String,
    inactive: bool,
    taken: bool,
}

#[derive(askama::Template)]
#[template(path = "company_hits.html")]
struct HitsTpl {
    tenant_id: String,
    too_short: bool,
    hits: Vec<HitView>,
}

#[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
pub(super) async fn company_hits(
    State(app): State<Shared>,
    Path(tenant): Path<String>,
    Query(q): Query<HitsQuery>,
) -> Result<Response, DashboardError> {
    // As in Sophos's own picker: nothing before 2 characters.
    if q.q.trim().chars().count() < 2 {
        return Ok(render(&HitsTpl {
            tenant_id: tenant,
            too_short: true,
            hits: Vec::new(),
        }));
    }
    let hits = mapping::search_companies(&app.store, &q.q, HITS).await?;
    Ok(render(&HitsTpl {
        hits: hits
            .into_iter()
            .map(|h| HitView {
                taken: h
                    .mapped_tenant_id
                    .as_ref()
                    .is_some_and(|t| t.as_str() != tenant),
                id: h.id,
                name: h.name,
                identifier: h.identifier,
                inactive: h.inactive,
            })
            .collect(),
        tenant_id: tenant,
        too_short: false,
    }))
}

#[derive(Debug, Deserialize)]
pub(super) struct ChooseQuery {
    company_id: CompanyId,
}

#[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
pub(super) async fn choose(
    State(app): State<Shared>,
    Path(tenant): Path<String>,
    Query(q): Query<ChooseQuery>,
) -> Response {
    mapping_form(&app, &tenant, Some(q.company_id), None).await
}

#[derive(Debug, Deserialize)]
pub(super) struct MappingFormData {
    company_id: CompanyId,
    #[serde(default)]
    agreement_id: String,
    #[serde(default)]
    usage_sync: Option<String>,
    #[serde(default)]
    ticket_sync: Option<String>,
}

fn changed() -> HeaderValue {
    HeaderValue::from_static("customers-changed")
}

#[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
pub(super) async fn save_mapping(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Path(tenant): Path<String>,
    Form(f): Form<MappingFormData>,
) -> Response {
    let agreement_id = f.agreement_id.trim().parse::<AgreementId>().ok();
    let input = MappingInput {
        tenant_id: tenant.as_str().into(),
        company_id: f.company_id,
        agreement_id,
        clear_agreement: agreement_id.is_none(),
        usage_sync: Some(f.usage_sync.as_deref() == Some("true") && agreement_id.is_some()),
        ticket_sync: Some(f.ticket_sync.as_deref() == Some("true")),
        replace: true,
    };
    match mapping::set_mapping(&app.store, &session.actor(), &input).await {
        Ok(change) => {
            let company = app
                .store
                .get_company(f.company_id)
                .await
                .ok()
                .flatten()
                .map(|c| c.name)
                .unwrap_or_else(|| format!("#{}", f.company_id));
            let mut text = format!("Saved: this customer is now mapped to {company}.");
            if f.usage_sync.as_deref() == Some("true") && agreement_id.is_none() {
                text.push_str(" Usage sync stays off until an agreement is chosen.");
            }
            if !change.changed() {
                text = "Nothing changed.".to_owned();
            }
            let mut resp = note(text);
            resp.headers_mut().insert("hx-trigger", changed());
            resp
        }
        Err(e) => mapping_form(&app, &tenant, Some(f.company_id), Some(e.to_string())).await,
    }
}

#[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
pub(super) async fn unmap(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Path(tenant): Path<String>,
) -> Result<Response, DashboardError> {
    mapping::clear_mapping(&app.store, &session.actor(), &tenant).await?;
    let mut resp = note("The mapping was removed.");
    resp.headers_mut().insert("hx-trigger", changed());
    Ok(resp)
}

#[derive(Debug, Deserialize)]
pub(super) struct AcceptForm {
    company_id: CompanyId,
}

/// Confirms a suggestion with one click: the suggested company, its only usable agreement (if
/// exactly one), both switches on where possible.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant))]
pub(super) async fn accept(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Path(tenant): Path<String>,
    Form(f): Form<AcceptForm>,
) -> Result<Response, DashboardError> {
    // A failed read is not "no agreements": it would map with usage sync off and say nothing.
    let options = mapping::agreements_for_company(&app.store, f.company_id, false).await?;
    let usable: Vec<AgreementId> = options
        .iter()
        .filter(|a| a.usable())
        .map(|a| a.id)
        .collect();
    let agreement_id = (usable.len() == 1).then(|| usable[0]);
    let input = MappingInput {
        tenant_id: tenant.as_str().into(),
        company_id: f.company_id,
        agreement_id,
        clear_agreement: false,
        usage_sync: Some(agreement_id.is_some()),
        ticket_sync: Some(true),
        replace: false,
    };
    mapping::set_mapping(&app.store, &session.actor(), &input).await?;
    let mut text = "Suggestion confirmed.".to_owned();
    if agreement_id.is_none() {
        text.push_str(
            " The company has no single active agreement: choose one with “Edit mapping” to turn usage sync on.",
        );
    }
    let mut resp = note(text);
    resp.headers_mut().insert("hx-trigger", changed());
    Ok(resp)
}

// --- removals ------------------------------------------------------------------------------------

/// "Removed on purpose": the customer's product stays unbilled by choice, and stops failing it.
#[tracing::instrument(skip_all, fields(tenant_id = %tenant, product = %product))]
pub(super) async fn acknowledge_removal(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Path((tenant, product)): Path<(String, String)>,
) -> Result<Response, DashboardError> {
    engine::usage::removals::acknowledge(
        &app.store,
        &tenant,
        &product,
        &session.actor(),
        "removed in ConnectWise on purpose (dashboard)",
    )
    .await?;
    let mut resp = note(format!(
        "Acknowledged: {product} is not billed for this customer, by choice; the next usage sync no longer fails it. \
         `centralbridge removals withdraw` undoes it."
    ));
    resp.headers_mut().insert("hx-trigger", changed());
    Ok(resp)
}
