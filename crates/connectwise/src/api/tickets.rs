use http::Method;

use crate::client::{Client, CwStream, PageMode, Req};
use crate::conditions::{Conditions, Query, encode_query};
use crate::error::CwError;
use crate::models::{PatchOp, Reference, Ticket, TicketNote};
use crate::roles::CLOSE_SERVICE_TICKETS;

/// Above this many characters of encoded conditions, search with `POST …/search` instead of GET.
const MAX_GET_CONDITIONS: usize = 1500;

impl Client {
    /// Every ticket matching `query`, streamed forward-only.
    pub fn tickets(&self, query: impl Into<Query>) -> CwStream<Ticket> {
        self.stream(
            "service/tickets".into(),
            query.into(),
            PageMode::ForwardOnly,
        )
    }

    pub async fn ticket(&self, id: i64) -> Result<Ticket, CwError> {
        self.get(&format!("service/tickets/{id}"), Vec::new()).await
    }

    pub async fn count_tickets(&self, query: impl Into<Query>) -> Result<i64, CwError> {
        self.count("service/tickets/count", query.into()).await
    }

    /// Tickets matching `conditions`; long conditions go through `POST service/tickets/search`.
    pub async fn search_tickets(&self, conditions: &Conditions) -> Result<Vec<Ticket>, CwError> {
        let expr = conditions.build()?;
        let encoded = encode_query(&[("conditions".to_string(), expr.clone())]);
        if encoded.len() <= MAX_GET_CONDITIONS {
            return self.collect(self.tickets(conditions.clone())).await;
        }
        let size = self.page_size();
        let mut out = Vec::new();
        for page in 1u32.. {
            let req = Req::new(Method::POST, "service/tickets/search")
                .params(vec![
                    ("pageSize".into(), size.to_string()),
                    ("page".into(), page.to_string()),
                ])
                .body(serde_json::json!({ "conditions": expr }));
            let raw = self.execute(&req).await?;
            let items: Vec<Ticket> = Self::decode("service/tickets/search", &raw.body)?;
            let n = items.len();
            out.extend(items);
            if n < size as usize {
                break;
            }
        }
        Ok(out)
    }

    /// The ticket whose `externalXRef` is this Sophos alert id, if any.
    pub async fn find_ticket_by_external_xref(
        &self,
        external_x_ref: &str,
    ) -> Result<Option<Ticket>, CwError> {
        let found = self
            .search_tickets(&Conditions::new().eq("externalXRef", external_x_ref))
            .await?;
        Ok(found
            .into_iter()
            .find(|t| t.external_x_ref.as_deref() == Some(external_x_ref)))
    }

    /// Create a ticket. With `external_x_ref` set, an ambiguous failure (timeout, 5xx) is followed by
    /// a lookup on it, so a slow POST never yields a second ticket.
    pub async fn create_ticket(&self, ticket: &Ticket) -> Result<Ticket, CwError> {
        match ticket.external_x_ref.clone() {
            Some(xref) if !xref.is_empty() => {
                self.create_with_lookup("service/tickets", ticket, || {
                    let xref = xref.clone();
                    async move { self.find_ticket_by_external_xref(&xref).await }
                })
                .await
            }
            _ => self.post("service/tickets", ticket).await,
        }
    }

    /// PATCH a ticket, checking the change took.
    pub async fn patch_ticket(&self, id: i64, ops: &[PatchOp]) -> Result<Ticket, CwError> {
        self.patch(&format!("service/tickets/{id}"), ops).await
    }

    /// Move a ticket to a (closed) status. A 403 names Close Service Tickets, which this needs.
    pub async fn close_ticket(&self, id: i64, closed_status_id: i64) -> Result<Ticket, CwError> {
        let ops = [PatchOp::replace("status", Reference::id(closed_status_id))];
        match self.patch_ticket(id, &ops).await {
            Err(CwError::Permission {
                method,
                path,
                message,
                ..
            }) => Err(CwError::Permission {
                function: Some(CLOSE_SERVICE_TICKETS.to_string()),
                method,
                path,
                message,
            }),
            other => other,
        }
    }

    pub async fn ticket_notes(&self, ticket_id: i64) -> Result<Vec<TicketNote>, CwError> {
        self.collect(self.stream(
            format!("service/tickets/{ticket_id}/notes"),
            Query::new(),
            PageMode::Navigable,
        ))
        .await
    }

    /// Add a note (needs `text` and one display flag: see [`TicketNote::detail`]). After an
    /// ambiguous failure the ticket's notes are searched for the same text before retrying.
    pub async fn create_ticket_note(
        &self,
        ticket_id: i64,
        note: &TicketNote,
    ) -> Result<TicketNote, CwError> {
        let path = format!("service/tickets/{ticket_id}/notes");
        let text = note.text.clone().unwrap_or_default();
        self.create_with_lookup(&path, note, || {
            let text = text.clone();
            async move {
                let notes = self.ticket_notes(ticket_id).await?;
                Ok(notes
                    .into_iter()
                    .rev()
                    .find(|n| n.text.as_deref().map(str::trim) == Some(text.trim())))
            }
        })
        .await
    }
}
