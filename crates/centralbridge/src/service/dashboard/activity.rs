//! Activity: the audit log (filterable) and the recent sync runs.

use axum::Extension;
use axum::extract::{Query, State};
use axum::response::Response;
use engine::store::{AuditFilter, CoreStore as _, RunOutcome};
use serde::Deserialize;

use super::error::DashboardError;
use super::{Chrome, render, show_time};
use crate::service::auth::Session;
use crate::service::http::Shared;

/// The actions offered in the filter (the common ones; any other can be typed in the URL).
const ACTIONS: &[&str] = &[
    "mapping.set",
    "mapping.clear",
    "mapping.switches",
    "mapping.accept",
    "products.select",
    "products.map",
    "catalog.create",
    "addition.create",
    "addition.update",
    "addition.cancel",
    "ticket.create",
    "tickets.settings",
    "dashboard.password_set",
    "dashboard.job",
];

#[derive(Debug, Default, Deserialize)]
pub(super) struct ActivityQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    action: String,
    #[serde(default)]
    subject: String,
}

pub(super) struct FilterView {
    actor: String,
    action: String,
    subject: String,
    any: bool,
}

pub(super) struct EntryView {
    at: String,
    actor: String,
    action: String,
    subject: String,
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
    actions: Vec<String>,
    entries: Vec<EntryView>,
    runs: Vec<RunView>,
}

fn non_empty(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_owned())
}

fn short_json(v: &Option<serde_json::Value>) -> String {
    match v {
        None => String::new(),
        Some(v) => {
            let text = v.to_string();
            if text.chars().count() > 160 {
                let cut: String = text.chars().take(160).collect();
                format!("{cut}…")
            } else {
                text
            }
        }
    }
}

#[tracing::instrument(skip_all)]
pub(super) async fn page(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    Query(q): Query<ActivityQuery>,
) -> Result<Response, DashboardError> {
    let filter = AuditFilter {
        actor: non_empty(&q.actor),
        action: non_empty(&q.action),
        subject: non_empty(&q.subject),
        limit: Some(200),
        ..Default::default()
    };
    let entries = app.store.list_audit(&filter).await?;
    let runs = app.store.list_sync_runs(None, 30).await.unwrap_or_default();
    let mut actions: Vec<String> = ACTIONS.iter().map(|s| (*s).to_owned()).collect();
    if let Some(a) = &filter.action
        && !actions.contains(a)
    {
        actions.push(a.clone());
    }
    let page = ActivityPage {
        chrome: Chrome::new(&session, "activity"),
        filter: FilterView {
            any: filter.actor.is_some() || filter.action.is_some() || filter.subject.is_some(),
            actor: q.actor,
            action: q.action,
            subject: q.subject,
        },
        actions,
        entries: entries
            .into_iter()
            .map(|e| {
                let change = match (&e.before, &e.after) {
                    (None, None) => String::new(),
                    (b, a) => format!("{} → {}", short_json(b), short_json(a)),
                };
                EntryView {
                    at: show_time(e.at),
                    actor: e.actor,
                    action: e.action,
                    subject: e.subject,
                    reason: e.reason,
                    change,
                }
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
