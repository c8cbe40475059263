//! Usage: saved plans (pending ones first) with Preview, Approve and Discard, and the
//! reconciliation of Sophos usage against what ConnectWise bills, with its CSV.

use axum::Extension;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse as _, Response};
use engine::job::{Door, StartOptions};
use engine::store::PlanState;
use engine::usage::reconcile::{self, ReconcileOptions, Reconciliation, Status};
use engine::usage::saved::{self, SavedPlan};
use engine::usage::{Month, OpKind};
use serde::Deserialize;

use super::error::DashboardError;
use super::{Chrome, render, show_time};
use crate::service::auth::Session;
use crate::service::http::Shared;

fn money(x: Option<f64>) -> String {
    x.map_or_else(|| "–".to_owned(), |x| format!("{x:.2}"))
}

fn qty(q: Option<f64>) -> String {
    match q {
        Some(q) if q.fract() == 0.0 => format!("{q:.0}"),
        Some(q) => q.to_string(),
        None => "–".to_owned(),
    }
}

pub(super) struct PlanLine {
    id: i64,
    month: String,
    state: &'static str,
    created: String,
    by: String,
    customers: usize,
    writes: usize,
    change: String,
}

impl PlanLine {
    fn of(p: &SavedPlan) -> Self {
        PlanLine {
            id: p.id,
            month: p.body.month.to_string(),
            state: p.state.as_str(),
            created: show_time(p.created_at),
            by: p.created_by.clone(),
            customers: p.body.customers.len(),
            writes: p.body.totals.writes,
            change: money(Some(p.body.totals.change)),
        }
    }
}

#[derive(askama::Template)]
#[template(path = "usage.html")]
struct UsagePage {
    chrome: Chrome,
    approval_required: bool,
    pending: Vec<PlanLine>,
    recent: Vec<PlanLine>,
}

#[tracing::instrument(skip_all)]
pub(super) async fn page(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
) -> Result<Response, DashboardError> {
    let plans = saved::list(&app.store, false, 30).await?;
    let (pending, recent): (Vec<&SavedPlan>, Vec<&SavedPlan>) =
        plans.iter().partition(|p| p.state == PlanState::Pending);
    Ok(render(&UsagePage {
        chrome: Chrome::new(&session, "usage"),
        approval_required: app.approval_required,
        pending: pending.into_iter().map(PlanLine::of).collect(),
        recent: recent.into_iter().map(PlanLine::of).collect(),
    }))
}

pub(super) struct RowView {
    customer: String,
    product: String,
    sophos: String,
    connectwise: String,
    new: String,
    unit_price: String,
    amount_after: String,
    operation: &'static str,
    write: bool,
    reason: String,
}

pub(super) struct CustomerView {
    name: String,
    error: Option<String>,
    advice: Option<String>,
    writes: usize,
    change: String,
}

#[derive(askama::Template)]
#[template(path = "plan.html")]
struct PlanPage {
    chrome: Chrome,
    id: i64,
    month: String,
    state: &'static str,
    pending: bool,
    created: String,
    by: String,
    outcome: Option<String>,
    catalog_to_create: Vec<String>,
    held_by_guard: Option<String>,
    rows: Vec<RowView>,
    customers: Vec<CustomerView>,
    writes: usize,
    customers_with_writes: usize,
    amount_now: String,
    amount_after: String,
    change: String,
    unpriced: usize,
    moved: Vec<String>,
    problem: Option<String>,
}

fn plan_page(
    session: &Session,
    p: &SavedPlan,
    flash: Option<String>,
    moved: Vec<String>,
    problem: Option<String>,
) -> Response {
    let mut chrome = Chrome::new(session, "usage");
    chrome.flash = flash;
    let mut rows = Vec::new();
    for c in &p.body.customers {
        for r in &c.rows {
            if r.operation == OpKind::Skip {
                continue;
            }
            rows.push(RowView {
                customer: c.tenant_name.clone(),
                product: r.product.clone(),
                sophos: qty(Some(r.sophos_quantity)),
                connectwise: qty(r.connectwise_quantity),
                new: qty(r.new_quantity),
                unit_price: money(r.unit_price),
                amount_after: money(r.amount_after),
                operation: r.operation.as_str(),
                write: r.is_write(),
                reason: r.reason.clone(),
            });
        }
    }
    let t = &p.body.totals;
    render(&PlanPage {
        chrome,
        id: p.id,
        month: p.body.month.to_string(),
        state: p.state.as_str(),
        pending: p.state == PlanState::Pending,
        created: show_time(p.created_at),
        by: p.created_by.clone(),
        outcome: p.outcome.clone(),
        catalog_to_create: p.body.catalog_to_create.clone(),
        held_by_guard: p.body.held_by_guard.clone(),
        rows,
        customers: p
            .body
            .customers
            .iter()
            .map(|c| CustomerView {
                name: c.tenant_name.clone(),
                error: c.error.clone(),
                advice: c.advice.clone(),
                writes: c.totals.writes,
                change: money(Some(c.totals.change)),
            })
            .collect(),
        writes: t.writes,
        customers_with_writes: p.customers_with_writes(),
        amount_now: money(Some(t.amount_now)),
        amount_after: money(Some(t.amount_after)),
        change: money(Some(t.change)),
        unpriced: t.unpriced_rows,
        moved,
        problem,
    })
}

#[tracing::instrument(skip_all, fields(plan = id))]
pub(super) async fn show(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
) -> Result<Response, DashboardError> {
    let plan = saved::load(&app.store, id).await?;
    Ok(plan_page(&session, &plan, None, Vec::new(), None))
}

fn record_stats(c: Option<&connectwise::Stats>, s: Option<&sophos::Stats>) {
    if let Some(c) = c {
        crate::service::metrics::connectwise_stats(c);
    }
    if let Some(s) = s {
        crate::service::metrics::sophos_stats(s);
    }
}

/// Computes and saves a plan of every customer (Preview), then shows it.
#[tracing::instrument(skip_all)]
pub(super) async fn preview_all(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    headers: axum::http::HeaderMap,
) -> Result<Response, DashboardError> {
    preview(&app, &session, &headers, Vec::new()).await
}

/// Computes and saves the plan of `customers`; answers with a redirect to it (for htmx, an
/// `HX-Redirect`: an XHR follows a 303 itself and would swap the whole page in).
pub(super) async fn preview(
    app: &Shared,
    session: &Session,
    headers: &axum::http::HeaderMap,
    customers: Vec<String>,
) -> Result<Response, DashboardError> {
    let done = saved::plan_now(
        &app.store,
        customers,
        StartOptions::new(Door::Dashboard, session.actor()),
    )
    .await?;
    record_stats(done.connectwise_stats.as_ref(), done.sophos_stats.as_ref());
    let planned = done.result.map_err(DashboardError::Refused)?;
    if let Ok(n) = saved::pending_count(&app.store).await {
        crate::service::metrics::plans_pending(n);
    }
    let to = format!("/usage/plans/{}", planned.plan.id);
    let mut resp = super::note(format!("Plan #{} saved.", planned.plan.id));
    if let Ok(v) = HeaderValue::from_str(&to) {
        if headers.contains_key("hx-request") {
            resp.headers_mut().insert("hx-redirect", v);
        } else {
            *resp.status_mut() = axum::http::StatusCode::SEE_OTHER;
            resp.headers_mut().insert(header::LOCATION, v);
        }
    }
    Ok(resp)
}

/// Applies a pending plan exactly, or shows what moved.
#[tracing::instrument(skip_all, fields(plan = id))]
pub(super) async fn approve(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
) -> Result<Response, DashboardError> {
    let done = saved::approve_now(
        &app.store,
        id,
        StartOptions::new(Door::Dashboard, session.actor()),
    )
    .await?;
    record_stats(done.connectwise_stats.as_ref(), done.sophos_stats.as_ref());
    if let Ok(n) = saved::pending_count(&app.store).await {
        crate::service::metrics::plans_pending(n);
    }
    match done.result {
        Ok(a) if a.applied => {
            let k = &a.report.counts;
            let flash = format!(
                "Plan #{id} applied: {} created, {} updated, {} cancelled, {} adopted; {} customer(s) failed.",
                k.created, k.updated, k.cancelled, k.adopted, a.report.failed_customers
            );
            Ok(plan_page(&session, &a.plan, Some(flash), Vec::new(), None))
        }
        Ok(a) => {
            let (error, advice) = engine::usage::messages::plan_moved(a.report.moved.len());
            Ok(plan_page(
                &session,
                &a.plan,
                None,
                a.report.moved.clone(),
                Some(format!("{error} Fix: {advice}")),
            ))
        }
        Err(e) => {
            let plan = saved::load(&app.store, id).await?;
            Ok(plan_page(&session, &plan, None, Vec::new(), Some(e)))
        }
    }
}

/// Sets a pending plan aside.
#[tracing::instrument(skip_all, fields(plan = id))]
pub(super) async fn discard(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Path(id): Path<i64>,
) -> Result<Response, DashboardError> {
    let plan = match saved::discard(&app.store, id, &session.actor()).await {
        Ok(p) => p,
        Err(e) => {
            let plan = saved::load(&app.store, id).await?;
            return Ok(plan_page(
                &session,
                &plan,
                None,
                Vec::new(),
                Some(e.to_string()),
            ));
        }
    };
    if let Ok(n) = saved::pending_count(&app.store).await {
        crate::service::metrics::plans_pending(n);
    }
    Ok(plan_page(
        &session,
        &plan,
        Some(format!(
            "Plan #{id} discarded; nothing was written to ConnectWise."
        )),
        Vec::new(),
        None,
    ))
}

// --- reconciliation ------------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub(super) struct ReconcileQuery {
    #[serde(default)]
    month: String,
    #[serde(default)]
    customer: String,
}

pub(super) struct RecRow {
    customer: String,
    product: String,
    sophos: String,
    connectwise: String,
    unit_price: String,
    billed: String,
    drift: String,
    drift_amount: String,
    status: &'static str,
    status_key: &'static str,
    detail: String,
}

#[derive(askama::Template)]
#[template(path = "reconcile.html")]
struct ReconcilePage {
    chrome: Chrome,
    month: String,
    customer: String,
    csv_link: String,
    problem: Option<String>,
    rows: Vec<RecRow>,
    statuses: Vec<(String, usize)>,
    billed: String,
    under: String,
    over: String,
    unpriced: usize,
    not_mapped: usize,
}

async fn read_reconciliation(
    app: &Shared,
    q: &ReconcileQuery,
) -> Result<Reconciliation, DashboardError> {
    let month = match q.month.trim() {
        "" => None,
        m => Some(Month::parse(m)?),
    };
    let cw = engine::connections::connectwise_client(&app.store).await?;
    let so = engine::connections::sophos_client(&app.store).await?;
    let opts = ReconcileOptions {
        month,
        customers: match q.customer.trim() {
            "" => Vec::new(),
            c => vec![c.to_owned()],
        },
        concurrency: engine::usage::DEFAULT_CONCURRENCY,
    };
    let r = reconcile::reconcile(&app.store, &cw, &so, &opts).await;
    record_stats(Some(&cw.stats()), Some(&so.stats()));
    Ok(r?)
}

#[tracing::instrument(skip_all)]
pub(super) async fn reconciliation(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Query(q): Query<ReconcileQuery>,
) -> Result<Response, DashboardError> {
    let chrome = Chrome::new(&session, "reconcile");
    let csv_link = format!(
        "/reconcile.csv?month={}&customer={}",
        urlencode(q.month.trim()),
        urlencode(q.customer.trim())
    );
    let mut page = ReconcilePage {
        chrome,
        month: q.month.trim().to_owned(),
        customer: q.customer.trim().to_owned(),
        csv_link,
        problem: None,
        rows: Vec::new(),
        statuses: Vec::new(),
        billed: String::new(),
        under: String::new(),
        over: String::new(),
        unpriced: 0,
        not_mapped: 0,
    };
    match read_reconciliation(&app, &q).await {
        Ok(r) => {
            page.month = r.month.to_string();
            page.rows = r
                .rows
                .iter()
                .map(|row| RecRow {
                    customer: row.tenant_name.clone(),
                    product: row.product.clone(),
                    sophos: qty(Some(row.sophos_quantity)),
                    connectwise: qty(row.connectwise_quantity),
                    unit_price: money(row.unit_price),
                    billed: money(row.billed_amount),
                    drift: qty(row.drift_quantity),
                    drift_amount: money(row.drift_amount),
                    status: row.status.label(),
                    status_key: row.status.as_str(),
                    detail: row.detail.clone(),
                })
                .collect();
            page.statuses = Status::ALL
                .iter()
                .filter_map(|s| {
                    r.totals
                        .by_status
                        .get(s)
                        .map(|n| (s.label().to_owned(), *n))
                })
                .collect();
            page.billed = money(Some(r.totals.billed_amount));
            page.under = money(Some(r.totals.under_billed_amount));
            page.over = money(Some(r.totals.over_billed_amount));
            page.unpriced = r.totals.unpriced_rows;
            page.not_mapped = r.totals.tenants_not_mapped;
        }
        Err(e) => page.problem = Some(e.to_string()),
    }
    Ok(render(&page))
}

/// The reconciliation as a CSV download (the same rows as the page).
#[tracing::instrument(skip_all)]
pub(super) async fn reconciliation_csv(
    State(app): State<Shared>,
    Query(q): Query<ReconcileQuery>,
) -> Result<Response, DashboardError> {
    let r = read_reconciliation(&app, &q).await?;
    let mut body = Vec::new();
    reconcile::write_csv(&r, &mut body)
        .map_err(|e| DashboardError::Refused(format!("The CSV could not be written: {e}")))?;
    let mut resp = body.into_response();
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!(
        "attachment; filename=\"reconciliation-{}.csv\"",
        r.month
    )) {
        resp.headers_mut().insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

fn urlencode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char);
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
