//! Two tickets of one alert, found and merged: the oldest (or the one ours) is kept; each other one
//! gets a note naming it and is closed, when the API member may close tickets (else it is reported).

use std::collections::BTreeMap;

use connectwise::{CwError, NoteKind};
use futures::TryStreamExt as _;
use jiff::Timestamp;
use serde::Serialize;

use super::TicketError;
use super::messages;
use super::settings::load_settings;
use crate::ids::TicketId;
use crate::job::Run;
use crate::store::{CoreStore as _, NewAudit, Store, TicketState, TicketStore as _};

/// One alert on several open tickets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Duplicate {
    /// Sophos's id of the alert the tickets are for.
    pub alert_id: String,
    /// The ticket kept: the one our link names, else the oldest.
    pub kept: TicketId,
    /// Closed as duplicates of `kept` (nothing in a dry run).
    pub closed: Vec<TicketId>,
    /// Left open: closing was refused, or this is a dry run.
    pub left_open: Vec<TicketId>,
    /// Why tickets were left open outside a dry run (no clear status, close refused); else `None`.
    pub problem: Option<String>,
}

/// Finds every alert on more than one open ticket (one paged listing) and, unless the run is a dry
/// run, merges each into the ticket kept.
pub async fn repair_duplicates(
    store: &Store,
    cw: &connectwise::Client,
    run: &Run,
) -> Result<Vec<Duplicate>, TicketError> {
    let settings = load_settings(store).await?;
    let mut by_alert: BTreeMap<String, Vec<TicketId>> = BTreeMap::new();
    let mut listing = cw.open_tickets_with_external_refs();
    while let Some((alert, ticket)) = listing.try_next().await? {
        by_alert
            .entry(alert)
            .or_default()
            .push(TicketId::new(ticket.id));
    }
    let mut out = Vec::new();
    for (alert_id, mut ids) in by_alert.into_iter().filter(|(_, ids)| ids.len() > 1) {
        ids.sort_unstable();
        // Ours is kept where we have one; else the oldest.
        let ours = store.alert_link(&alert_id).await?.and_then(|l| l.ticket_id);
        let kept = ours.filter(|t| ids.contains(t)).unwrap_or(ids[0]);
        let others: Vec<TicketId> = ids.into_iter().filter(|t| *t != kept).collect();
        let mut dup = Duplicate {
            alert_id: alert_id.clone(),
            kept,
            closed: Vec::new(),
            left_open: Vec::new(),
            problem: None,
        };
        let close_to = settings.clear_status.as_ref().map(|s| s.id);
        for t in others {
            if run.is_dry_run() {
                dup.left_open.push(t);
                continue;
            }
            let Some(status) = close_to else {
                dup.left_open.push(t);
                dup.problem = Some(messages::duplicate_no_close_status());
                continue;
            };
            cw.add_ticket_note(
                t.get(),
                &messages::duplicate_note(&alert_id, kept),
                NoteKind::Detail,
            )
            .await?;
            match cw.close_ticket_with_status(t.get(), status).await {
                Ok(_) => {
                    dup.closed.push(t);
                    if let Some(mut owned) = store.owned_ticket(t).await? {
                        owned.state = TicketState::Closed;
                        owned.closed_at = Some(Timestamp::now());
                        owned.updated_at = Timestamp::now();
                        store.put_owned_ticket(&owned).await?;
                    }
                    store
                        .append_audit(&NewAudit {
                            at: Timestamp::now(),
                            actor: run.actor().to_owned(),
                            action: crate::audit::AuditKind::TicketMergeDuplicate,
                            subject: format!("ticket:{t}"),
                            before: None,
                            after: Some(serde_json::json!({"closed": t, "kept": kept, "alert_id": alert_id})),
                            reason: messages::duplicate_note(&alert_id, kept),
                        })
                        .await?;
                }
                Err(CwError::Permission { .. }) => {
                    dup.left_open.push(t);
                    dup.problem = Some(messages::duplicate_cannot_close());
                }
                Err(e) => return Err(e.into()),
            }
        }
        out.push(dup);
    }
    Ok(out)
}
