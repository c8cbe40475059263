use futures::TryStreamExt as _;
use http::Method;

use crate::client::{Client, CwStream, PageMode, Req};
use crate::conditions::{Conditions, Query, encode_query};
use crate::error::CwError;
use crate::models::{Level, PatchOp, Reference, Ticket, TicketNote};
use crate::roles::CLOSE_SERVICE_TICKETS;

/// Above this many characters of encoded conditions, search with `POST …/search` instead of GET.
const MAX_GET_CONDITIONS: usize = 1500;

/// `externalXRef`s per `externalXRef in (...)` query: keeps each search a modest size.
pub const EXTERNAL_REF_BATCH: usize = 100;

/// A ticket ConnectWise reports closed, with the external reference (our Sophos alert id) it carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClosedTicket {
    /// ConnectWise's record id of the ticket.
    pub id: i64,
    /// Its `externalXRef` (our Sophos alert id); `None` when it carries none.
    pub external_ref: Option<String>,
}

/// A ticket's `severity`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketSeverity {
    /// ConnectWise's `Low`; the ticket sync sends it for Sophos alerts of low severity.
    Low,
    /// ConnectWise's `Medium`; the ticket sync sends it for medium alerts and unknown severities.
    Medium,
    /// ConnectWise's `High`; the ticket sync sends it for Sophos alerts of high severity.
    High,
}

impl TicketSeverity {
    fn level(self) -> Level {
        match self {
            TicketSeverity::Low => Level::Low,
            TicketSeverity::Medium => Level::Medium,
            TicketSeverity::High => Level::High,
        }
    }
}

/// A service ticket to open, as the caller means it: texts and the ids of the records to use.
#[derive(Debug, Clone, PartialEq)]
pub struct NewTicket {
    /// The ticket's title; ConnectWise refuses more than 100 characters.
    pub summary: String,
    /// The initial description (Detail Description).
    pub description: String,
    /// Stored as `externalXRef`; after an ambiguous failure the ticket is looked up by it, so a
    /// retry never opens a second one.
    pub external_ref: String,
    /// ConnectWise's record id of the company the ticket is for.
    pub company_id: i64,
    /// Record id of the service board; `None` lets ConnectWise use its default board.
    pub board_id: Option<i64>,
    /// Record id of a status of that board; `None` gives the board's default status.
    pub status_id: Option<i64>,
    /// Record id of a ticket type of that board; `None` sends none.
    pub type_id: Option<i64>,
    /// Record id of a ticket subtype of that board; `None` sends none.
    pub subtype_id: Option<i64>,
    /// Record id of a ticket item of that board; `None` sends none.
    pub item_id: Option<i64>,
    /// Record id of the priority; `None` gives ConnectWise's default priority.
    pub priority_id: Option<i64>,
    /// Record id of the ticket source; `None` gives ConnectWise's default source.
    pub source_id: Option<i64>,
    /// How severe the issue is; always sent, as the ticket's `severity`.
    pub severity: TicketSeverity,
}

/// A ticket found or opened by [`Client::open_ticket`] / [`Client::find_ticket_by_external_ref`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedTicket {
    /// ConnectWise's record id of the ticket.
    pub id: i64,
    /// ConnectWise's record id of the company the ticket is on; `None` when the answer names
    /// none.
    pub company_id: Option<i64>,
}

/// Where a ticket stands: its status and whether that status closed it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketState {
    /// Record id of the ticket's current status; `None` when the record names none.
    pub status_id: Option<i64>,
    /// True when ConnectWise reports the ticket closed (`closedFlag`).
    pub closed: bool,
}

impl TicketState {
    fn of(t: &Ticket) -> Self {
        TicketState {
            status_id: t.status.as_ref().and_then(|r| r.id),
            closed: t.closed_flag == Some(true),
        }
    }
}

/// How a note shows on the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoteKind {
    /// Customer-visible (Detail Description).
    Detail,
    /// Detail Description and Resolution.
    Resolution,
}

fn opened(path: &str, t: Ticket) -> Result<OpenedTicket, CwError> {
    let id = t.id.ok_or_else(|| CwError::Decode {
        path: path.to_string(),
        message: "the ticket has no id".to_string(),
    })?;
    Ok(OpenedTicket {
        id,
        company_id: t.company.and_then(|c| c.id),
    })
}

impl ClosedTicket {
    fn from_ticket(t: Ticket) -> Option<Self> {
        let id = t.id.filter(|_| t.closed_flag == Some(true))?;
        Some(ClosedTicket {
            id,
            external_ref: t.external_x_ref,
        })
    }
}

impl Client {
    /// Every ticket matching `query`, streamed forward-only.
    pub fn tickets(&self, query: impl Into<Query>) -> CwStream<Ticket> {
        self.stream(
            "service/tickets".into(),
            query.into(),
            PageMode::ForwardOnly,
        )
    }

    /// The ticket with this record id; [`CwError::NotFound`] when there is none.
    pub async fn ticket(&self, id: i64) -> Result<Ticket, CwError> {
        self.get(&format!("service/tickets/{id}"), Vec::new()).await
    }

    /// How many tickets match `query` (`service/tickets/count`).
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

    /// Closed tickets with an `externalXRef` whose record changed after `since` (ConnectWise's clock,
    /// `_info/lastUpdated`), streamed; only the fields needed to tell which ones are read.
    pub fn closed_tickets_changed_since(&self, since: jiff::Timestamp) -> CwStream<ClosedTicket> {
        let cond = Conditions::new()
            .eq_bool("closedFlag", true)
            .not_null("externalXRef")
            .gt("_info/lastUpdated", since);
        let query = Query::new()
            .conditions(cond)
            .fields("id,closedFlag,externalXRef");
        Box::pin(
            self.tickets(query)
                .try_filter_map(|t| futures::future::ok(ClosedTicket::from_ticket(t))),
        )
    }

    /// The closed tickets whose `externalXRef` is one of `refs`: one `externalXRef in (...)` search
    /// per [`EXTERNAL_REF_BATCH`] references.
    pub async fn closed_tickets_by_external_refs(
        &self,
        refs: &[String],
    ) -> Result<Vec<ClosedTicket>, CwError> {
        let mut out = Vec::new();
        for batch in refs.chunks(EXTERNAL_REF_BATCH) {
            let cond = Conditions::new()
                .is_in("externalXRef", batch.iter())
                .eq_bool("closedFlag", true);
            out.extend(
                self.search_tickets(&cond)
                    .await?
                    .into_iter()
                    .filter_map(ClosedTicket::from_ticket),
            );
        }
        Ok(out)
    }

    /// Every open ticket that carries an external reference, as `(external reference, ticket)`:
    /// one paged listing (for finding two tickets of one alert).
    pub fn open_tickets_with_external_refs(&self) -> CwStream<(String, OpenedTicket)> {
        let cond = Conditions::new()
            .eq_bool("closedFlag", false)
            .not_null("externalXRef");
        let query = Query::new()
            .conditions(cond)
            .fields("id,externalXRef,company");
        Box::pin(self.tickets(query).try_filter_map(|t| {
            futures::future::ready(match t.external_x_ref.clone() {
                Some(x) => opened("service/tickets", t).map(|o| Some((x, o))),
                None => Ok(None),
            })
        }))
    }

    /// Every ticket (open or closed) whose external reference is one of `refs`, as
    /// `(external reference, ticket)`: one query per [`EXTERNAL_REF_BATCH`] references.
    pub async fn tickets_by_external_refs(
        &self,
        refs: &[String],
    ) -> Result<Vec<(String, OpenedTicket)>, CwError> {
        let mut out = Vec::new();
        for batch in refs.chunks(EXTERNAL_REF_BATCH) {
            let cond = Conditions::new().is_in("externalXRef", batch.iter());
            for t in self.search_tickets(&cond).await? {
                let Some(x) = t.external_x_ref.clone() else {
                    continue;
                };
                out.push((x, opened("service/tickets", t)?));
            }
        }
        Ok(out)
    }

    /// The ticket whose external reference (`externalXRef`) is `external_ref`, if any.
    pub async fn find_ticket_by_external_ref(
        &self,
        external_ref: &str,
    ) -> Result<Option<OpenedTicket>, CwError> {
        match self.find_ticket_by_external_xref(external_ref).await? {
            Some(t) => opened("service/tickets", t).map(Some),
            None => Ok(None),
        }
    }

    /// Open a service ticket exactly as `ticket` says (without notifications), looked up by its
    /// external reference after an ambiguous failure.
    pub async fn open_ticket(&self, ticket: &NewTicket) -> Result<OpenedTicket, CwError> {
        let body = Ticket {
            summary: Some(ticket.summary.clone()),
            company: Some(Reference::id(ticket.company_id)),
            board: ticket.board_id.map(Reference::id),
            status: ticket.status_id.map(Reference::id),
            type_: ticket.type_id.map(Reference::id),
            sub_type: ticket.subtype_id.map(Reference::id),
            item: ticket.item_id.map(Reference::id),
            priority: ticket.priority_id.map(Reference::id),
            source: ticket.source_id.map(Reference::id),
            severity: Some(ticket.severity.level()),
            external_x_ref: Some(ticket.external_ref.clone()),
            initial_description: Some(ticket.description.clone()),
            ..Ticket::default()
        };
        let t = self.create_ticket(&body).await?;
        opened("service/tickets", t)
    }

    /// Where a ticket stands now; `None` when it no longer exists.
    pub async fn ticket_state(&self, id: i64) -> Result<Option<TicketState>, CwError> {
        match self.ticket(id).await {
            Ok(t) => Ok(Some(TicketState::of(&t))),
            Err(CwError::NotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Add a note with `text`; after an ambiguous failure the ticket's notes are searched for the
    /// same text before retrying.
    pub async fn add_ticket_note(
        &self,
        ticket_id: i64,
        text: &str,
        kind: NoteKind,
    ) -> Result<(), CwError> {
        let mut note = TicketNote::detail(text);
        if kind == NoteKind::Resolution {
            note.resolution_flag = Some(true);
        }
        self.create_ticket_note(ticket_id, &note).await.map(|_| ())
    }

    /// The texts of a ticket's notes, oldest first.
    pub async fn ticket_note_texts(&self, ticket_id: i64) -> Result<Vec<String>, CwError> {
        Ok(self
            .ticket_notes(ticket_id)
            .await?
            .into_iter()
            .filter_map(|n| n.text)
            .collect())
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

    /// Move a ticket to another (open) status of its board, checking the change took.
    pub async fn set_ticket_status(&self, id: i64, status_id: i64) -> Result<TicketState, CwError> {
        let ops = [PatchOp::replace("status", Reference::id(status_id))];
        Ok(TicketState::of(&self.patch_ticket(id, &ops).await?))
    }

    /// [`Client::close_ticket`], answering where the ticket stands after the move.
    pub async fn close_ticket_with_status(
        &self,
        id: i64,
        closed_status_id: i64,
    ) -> Result<TicketState, CwError> {
        Ok(TicketState::of(
            &self.close_ticket(id, closed_status_id).await?,
        ))
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

    /// Every note of a ticket, in the order ConnectWise lists them.
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
