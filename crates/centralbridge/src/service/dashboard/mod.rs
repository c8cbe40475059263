//! The dashboard: server-rendered HTML (askama templates in `templates/`), htmx for partial updates.
//! Pages: Customers, Products, Usage (plans, reconciliation), Tickets, Connection, Activity. Every action is a POST carrying the
//! session's CSRF token (checked in `service::http`); nothing here ever renders a secret.

mod activity;
mod connection;
mod customers;
mod error;
mod products;
mod tickets;
mod usage;

use axum::Router;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use engine::store::{CoreStore as _, NewAudit, Role};

use crate::service::AppState;
use crate::service::auth::Session;
use crate::service::http::Shared;

/// What every page's frame needs.
#[derive(Debug, Clone)]
pub struct Chrome {
    /// The session's CSRF token, put in every form and htmx request of the page.
    pub csrf: String,
    /// The highlighted tab: `customers`, `products`, `tickets`, `connection` or `activity`.
    pub active: &'static str,
    /// A notice shown at the top of the page; `None` shows none.
    pub flash: Option<String>,
    /// Who is logged in.
    pub user: String,
    /// The account's role, as the page names it.
    pub role: &'static str,
    /// The account may run syncs, map customers and run checks (operator or admin).
    pub can_operate: bool,
    /// The account may change settings: products and ticket settings (admin).
    pub can_admin: bool,
}

impl Chrome {
    /// The frame of a page for `session`, with the `active` tab highlighted and no notice.
    pub fn new(session: &Session, active: &'static str) -> Self {
        Self {
            csrf: session.csrf.clone(),
            active,
            flash: None,
            user: session.user.clone(),
            role: session.role.as_str(),
            can_operate: session.may(Role::Operator),
            can_admin: session.may(Role::Admin),
        }
    }
}

/// Every dashboard page and action; the guard in `service::http` checks session and CSRF first.
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/customers") }))
        .route("/activity", get(activity::page))
        .route("/connection", get(connection::page))
        .route("/connection/doctor", post(connection::rerun))
        .route("/jobs/{job}/run", post(customers::run_job))
        .route("/customers", get(customers::page))
        .route("/customers/{tenant}/error", get(customers::error_detail))
        .route(
            "/customers/{tenant}/usage-sync",
            post(customers::toggle_usage),
        )
        .route(
            "/customers/{tenant}/ticket-sync",
            post(customers::toggle_tickets),
        )
        .route("/customers/{tenant}/sync-now", post(customers::sync_now))
        .route("/customers/{tenant}/edit", get(customers::edit))
        .route(
            "/customers/{tenant}/companies",
            get(customers::company_hits),
        )
        .route("/customers/{tenant}/choose", get(customers::choose))
        .route("/customers/{tenant}/mapping", post(customers::save_mapping))
        .route("/customers/{tenant}/unmap", post(customers::unmap))
        .route("/customers/{tenant}/accept", post(customers::accept))
        .route(
            "/customers/{tenant}/removals/{product}/acknowledge",
            post(customers::acknowledge_removal),
        )
        .route("/products", get(products::page))
        .route("/products/{product}/select", post(products::toggle))
        .route("/products/{product}/catalog", get(products::catalog_hits))
        .route("/products/{product}/map", post(products::map))
        .route("/products/add-to-psa", post(products::add_to_psa))
        .route("/usage", get(usage::page))
        .route("/usage/plan", post(usage::preview_all))
        .route("/usage/plans/{id}", get(usage::show))
        .route("/usage/plans/{id}/approve", post(usage::approve))
        .route("/usage/plans/{id}/discard", post(usage::discard))
        .route("/reconcile", get(usage::reconciliation))
        .route("/reconcile.csv", get(usage::reconciliation_csv))
        .route("/tickets", get(tickets::page))
        .route("/tickets/settings", post(tickets::save))
}

/// Renders a template, or a plain error page if rendering fails.
pub fn render<T: askama::Template>(t: &T) -> Response {
    match t.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html(error_html("The page could not be drawn.")),
            )
                .into_response()
        }
    }
}

#[derive(askama::Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    message: &'a str,
}

/// The error page with `message`, or a plain sentence when even that cannot be rendered.
pub fn error_html(message: &str) -> String {
    askama::Template::render(&ErrorPage { message })
        .unwrap_or_else(|_| "The page could not be drawn.".to_owned())
}

/// An error shown in a page (full page) or in place (htmx fragment).
pub fn fail(message: impl std::fmt::Display) -> Response {
    let text = message.to_string();
    (
        StatusCode::OK,
        Html(format!(
            "<div class=\"error\" role=\"alert\">{}</div>",
            escape(&text)
        )),
    )
        .into_response()
}

/// A short confirmation shown in place.
pub fn note(message: impl std::fmt::Display) -> Response {
    Html(format!(
        "<div class=\"flash\" role=\"status\">{}</div>",
        escape(&message.to_string())
    ))
    .into_response()
}

/// HTML-escapes text for the few fragments built without a template.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Records a dashboard action in the audit log (mapping changes are audited by the engine).
pub async fn audit(
    app: &AppState,
    actor: &str,
    action: engine::audit::AuditKind,
    subject: &str,
    reason: &str,
) {
    let entry = NewAudit {
        at: jiff::Timestamp::now(),
        actor: actor.to_owned(),
        action,
        subject: subject.to_owned(),
        before: None,
        after: None,
        reason: reason.to_owned(),
    };
    if let Err(e) = app.store.append_audit(&entry).await {
        tracing::warn!(error = %e, "cannot write the audit log");
    }
}

/// A timestamp as people read it (UTC, to the second).
pub fn show_time(t: jiff::Timestamp) -> String {
    t.strftime("%Y-%m-%d %H:%M:%S").to_string()
}
