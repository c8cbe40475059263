//! Activity: the audit log (filterable) and the recent sync runs.

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use engine::audit::{self, AuditKind, AuditQuery};
use engine::store::{CoreStore as _, RunOutcome};
use serde::Deserialize;

use super::error::DashboardError;
use super::{Chrome, render, show_time};
use crate::service::auth::Session;
use crate::service::http::Shared;

#[derive(Debug, Default, Deserialize)]
pub(super) struct ActivityQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    customer: String,
}

pub(super) struct FilterView {
    actor: String,
    action: String,
    customer: String,
    any: bool,
}

pub(super) struct EntryView {
    at: String,
    actor: String,
    what: String,
    about: String,
    reason: String,
    change: String,
}

pub(super) struct RunView {
    job: String,
    started: String,
    by: String,
    finished: String,
    outcome: &'static str,
    class: &'static str,
    detail: String,
}

#[derive(askama::Template)]
#[template(path = "activity.html")]
struct ActivityPage {
    chrome: Chrome,
    filter: FilterView,
    /// Every audit kind: its text and its meaning.
    actions: Vec<(&'static str, &'static str)>,
    /// Why the filter found nothing to show (an unknown customer).
    problem: Option<String>,
    entries: Vec<EntryView>,
    runs: Vec<RunView>,
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

#[tracing::instrument(skip_all)]
pub(super) async fn page(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Query(q): Query<ActivityQuery>,
) -> Result<Response, DashboardError> {
    let kinds = match non_empty(&q.action) {
        Some(a) => AuditKind::matching(&a),
        None => Vec::new(),
    };
    let query = AuditQuery {
        kinds,
        customer: non_empty(&q.customer),
        actor: non_empty(&q.actor),
        limit: Some(200),
        ..AuditQuery::default()
    };
    let (entries, problem) = match audit::query(&app.store, &query).await {
        Ok(rows) => (rows, None),
        Err(audit::AuditError::UnknownCustomer(c)) => (
            Vec::new(),
            Some(audit::AuditError::UnknownCustomer(c).to_string()),
        ),
        Err(audit::AuditError::Store(e)) => return Err(e.into()),
    };
    let runs = app.store.list_sync_runs(None, 30).await.unwrap_or_default();
    let page = ActivityPage {
        chrome: Chrome::new(&session, "activity"),
        filter: FilterView {
            any: query.actor.is_some() || !q.action.is_empty() || query.customer.is_some(),
            actor: q.actor,
            action: q.action,
            customer: q.customer,
        },
        // Every kind the writers can write, from the one list they write from.
        actions: AuditKind::ALL
            .iter()
            .map(|k| (k.as_str(), k.label()))
            .collect(),
        problem,
        entries: entries
            .into_iter()
            .map(|e| EntryView {
                at: show_time(e.at),
                actor: e.actor,
                what: e.what,
                about: e.about,
                reason: e.reason,
                change: e.change,
            })
            .collect(),
        runs: runs
            .into_iter()
            .map(|r| RunView {
                job: r.job,
                started: show_time(r.started_at),
                by: r
                    .started_by
                    .as_deref()
                    .map(engine::job::describe_holder)
                    .unwrap_or_default(),
                finished: r
                    .finished_at
                    .map(show_time)
                    .unwrap_or_else(|| "running".into()),
                outcome: r.outcome.as_str(),
                class: match r.outcome {
                    RunOutcome::Ok => "ok",
                    RunOutcome::Partial => "warn",
                    RunOutcome::Failed | RunOutcome::Abandoned => "bad",
                    RunOutcome::Stopped => "warn",
                    RunOutcome::Running => "muted",
                },
                detail: r.error.unwrap_or_default(),
            })
            .collect(),
    };
    Ok(render(&page))
}
