//! Tickets: ticket sync settings with pick-lists read from ConnectWise, and recent alert -> ticket
//! links.

use std::collections::HashMap;

use axum::Extension;
use axum::extract::State;
use axum::response::Response;
use engine::store::MappingStore as _;
use engine::tickets::{self, Pick, SettingsInput};

use super::error::DashboardError;
use super::{Chrome, note, render, show_time};
use crate::service::auth::Session;
use crate::service::http::Shared;

pub(super) struct Opt {
    id: i64,
    name: String,
    selected: bool,
}

pub(super) struct PriorityView {
    severity: &'static str,
    options: Vec<Opt>,
}

pub(super) struct LinkView {
    raised: String,
    tenant: String,
    severity: String,
    summary: String,
    ticket: String,
    state: String,
}

#[derive(askama::Template)]
#[template(path = "tickets.html")]
struct TicketsPage {
    chrome: Chrome,
    configured: bool,
    choices_error: Option<String>,
    boards: Vec<Opt>,
    new_statuses: Vec<Opt>,
    clear_statuses: Vec<Opt>,
    priorities: Vec<PriorityView>,
    severities: Vec<(&'static str, bool)>,
    fallback: String,
    skip_unmapped: bool,
    links: Vec<LinkView>,
}

fn opts(list: &[Pick], current: Option<&Pick>) -> Vec<Opt> {
    let mut out: Vec<Opt> = list
        .iter()
        .map(|p| Opt {
            id: p.id,
            name: p.name.clone(),
            selected: current.is_some_and(|c| c.id == p.id),
        })
        .collect();
    // Keep the stored choice visible even when ConnectWise could not be read.
    if let Some(c) = current
        && !list.iter().any(|p| p.id == c.id)
    {
        out.push(Opt {
            id: c.id,
            name: c.name.clone(),
            selected: true,
        });
    }
    out
}

#[tracing::instrument(skip_all)]
pub(super) async fn page(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
) -> Result<Response, DashboardError> {
    let settings = tickets::load_settings(&app.store).await?;
    let (choices, choices_error) = match engine::connections::connectwise_client(&app.store).await {
        Ok(cw) => match tickets::choices(&cw, settings.board.as_ref().map(|b| b.id)).await {
            Ok(c) => (c, None),
            Err(e) => (Default::default(), Some(e.to_string())),
        },
        Err(e) => (Default::default(), Some(e.to_string())),
    };
    let statuses: Vec<Pick> = choices.statuses.iter().map(|(p, _)| p.clone()).collect();
    let links = tickets::recent_links(&app.store, None, 50)
        .await
        .unwrap_or_default();
    let mut names: HashMap<String, String> = HashMap::new();
    for l in &links {
        if !names.contains_key(l.link.tenant_id.as_str()) {
            let name = app
                .store
                .get_tenant(&l.link.tenant_id)
                .await
                .ok()
                .flatten()
                .map(|t| t.name)
                .unwrap_or_else(|| l.link.tenant_id.to_string());
            names.insert(l.link.tenant_id.to_string(), name);
        }
    }
    let p = &settings.priorities;
    Ok(render(&TicketsPage {
        chrome: Chrome::new(&session, "tickets"),
        configured: settings.is_configured(),
        choices_error,
        boards: opts(&choices.boards, settings.board.as_ref()),
        new_statuses: opts(&statuses, settings.new_status.as_ref()),
        clear_statuses: opts(&statuses, settings.clear_status.as_ref()),
        priorities: vec![
            PriorityView {
                severity: "high",
                options: opts(&choices.priorities, p.high.as_ref()),
            },
            PriorityView {
                severity: "medium",
                options: opts(&choices.priorities, p.medium.as_ref()),
            },
            PriorityView {
                severity: "low",
                options: opts(&choices.priorities, p.low.as_ref()),
            },
        ],
        severities: ["high", "medium", "low"]
            .into_iter()
            .map(|s| (s, settings.severities.iter().any(|x| x == s)))
            .collect(),
        fallback: settings
            .fallback_company
            .as_ref()
            .map(|c| c.id.to_string())
            .unwrap_or_default(),
        skip_unmapped: settings.skip_unmapped,
        links: links
            .iter()
            .map(|l| LinkView {
                raised: l.link.raised_at.map(show_time).unwrap_or_default(),
                tenant: names
                    .get(l.link.tenant_id.as_str())
                    .cloned()
                    .unwrap_or_default(),
                severity: l.link.severity.clone(),
                summary: l.link.summary.clone(),
                ticket: l
                    .link
                    .ticket_id
                    .map(|t| format!("#{t}"))
                    .unwrap_or_else(|| "–".into()),
                state: match &l.ticket {
                    Some(t) => t.state.as_str().to_owned(),
                    None => l.link.state.as_str().to_owned(),
                },
            })
            .collect(),
    }))
}

#[tracing::instrument(skip_all)]
pub(super) async fn save(
    State(app): State<Shared>,
    Extension(session): Extension<Session>,
    body: axum::body::Bytes,
) -> Result<Response, DashboardError> {
    // Repeated fields (severity) need the pair list, not a struct.
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.trim().to_owned())
    };
    let current = tickets::load_settings(&app.store).await?;
    let board = get("board").unwrap_or_default();
    let board_changed = current.board.as_ref().map(|b| b.id.to_string()) != Some(board.clone());
    // Statuses belong to a board: when the board changes, let the engine choose them again.
    let keep_or = |k: &str| if board_changed { None } else { get(k) };
    let mut input = SettingsInput {
        board: Some(board),
        new_status: keep_or("new_status"),
        clear_status: keep_or("clear_status"),
        severities: Some(
            pairs
                .iter()
                .filter(|(n, _)| n == "severity")
                .map(|(_, v)| v.clone())
                .collect(),
        ),
        fallback_company: get("fallback_company"),
        skip_unmapped: Some(get("skip_unmapped").as_deref() == Some("true")),
        auto: get("auto").as_deref() == Some("true") || board_changed,
        ..Default::default()
    };
    for sev in ["high", "medium", "low"] {
        if let Some(v) = get(&format!("priority_{sev}")).filter(|v| !v.is_empty()) {
            input.priorities.push((sev.to_owned(), v));
        }
    }
    let cw = engine::connections::connectwise_client(&app.store).await?;
    let s = tickets::update_settings(&app.store, &cw, &input, &session.actor()).await?;
    let mut resp = note(format!(
        "Saved. Tickets go to the board {}.{}",
        s.board
            .as_ref()
            .map(|b| b.name.as_str())
            .unwrap_or("(none)"),
        if board_changed {
            " Statuses were chosen from the new board; reload to adjust them."
        } else {
            ""
        }
    ));
    resp.headers_mut()
        .insert("hx-refresh", axum::http::HeaderValue::from_static("true"));
    Ok(resp)
}
