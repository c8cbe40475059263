//! Connection: the stored connections (never their secrets) and the doctor's checks, re-run on demand.

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use engine::doctor::{CheckStatus, DoctorOptions, DoctorReport};
use engine::store::{ConnectionKind, CoreStore as _};
use jiff::Timestamp;

use super::{Chrome, render, show_time};
use crate::service::auth::Session;
use crate::service::http::Shared;

pub(super) struct ConnView {
    vendor: &'static str,
    place: String,
    account: String,
    saved: String,
}

pub(super) struct CheckView {
    symbol: &'static str,
    class: &'static str,
    title: String,
    required: bool,
    detail: String,
    fix: String,
}

pub(super) struct DoctorView {
    at: String,
    ok: bool,
    checks: Vec<CheckView>,
}

#[derive(askama::Template)]
#[template(path = "connection.html")]
struct ConnectionPage {
    chrome: Chrome,
    connections: Vec<ConnView>,
    doctor: Option<DoctorView>,
}

#[derive(askama::Template)]
#[template(path = "doctor_table.html")]
struct DoctorTable {
    doctor: Option<DoctorView>,
}

fn text(v: &serde_json::Value, key: &str) -> String {
    v.get(key)
        .and_then(|x| x.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The doctor report as shown.
pub(super) fn doctor_view(at: Timestamp, r: &DoctorReport) -> DoctorView {
    DoctorView {
        at: show_time(at),
        ok: r.ok,
        checks: r
            .checks
            .iter()
            .map(|c| CheckView {
                symbol: c.status.symbol(),
                class: match c.status {
                    CheckStatus::Pass => "ok",
                    CheckStatus::Fail if c.required => "bad",
                    CheckStatus::Fail => "warn",
                    _ => "muted",
                },
                title: c.title.clone(),
                required: c.required,
                detail: c.detail.clone(),
                fix: c.fix.clone().unwrap_or_default(),
            })
            .collect(),
    }
}

async fn run_doctor(app: &Shared) -> DoctorView {
    let report = engine::doctor::run_doctor(&app.store, &DoctorOptions::default()).await;
    let at = Timestamp::now();
    let view = doctor_view(at, &report);
    *app.doctor.lock().await = Some((at, report));
    view
}

#[tracing::instrument(skip_all)]
pub(super) async fn page(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
) -> Response {
    let connections = app
        .store
        .list_connections()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|c| match c.kind {
            ConnectionKind::Connectwise => ConnView {
                vendor: "ConnectWise PSA",
                place: text(&c.settings, "site"),
                account: format!(
                    "company {} · public key {}",
                    text(&c.settings, "company_id"),
                    text(&c.settings, "public_key")
                ),
                saved: show_time(c.updated_at),
            },
            ConnectionKind::Sophos => ConnView {
                vendor: "Sophos Central Partner",
                place: text(&c.settings, "global_url"),
                account: format!("client id {}", text(&c.settings, "client_id")),
                saved: show_time(c.updated_at),
            },
        })
        .collect();
    let last = app.doctor.lock().await.clone();
    let doctor = match last {
        Some((at, r)) => Some(doctor_view(at, &r)),
        None => Some(run_doctor(&app).await),
    };
    render(&ConnectionPage {
        chrome: Chrome::new(&session, "connection"),
        connections,
        doctor,
    })
}

#[tracing::instrument(skip_all)]
pub(super) async fn rerun(State(app): State<Shared>) -> Response {
    let doctor = Some(run_doctor(&app).await);
    render(&DoctorTable { doctor })
}
