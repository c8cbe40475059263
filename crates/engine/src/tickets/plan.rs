//! Planning: from what was read (alerts listed in Sophos, our links and tickets, tickets closed in
//! ConnectWise) to the operations of one tenant's cycle. Pure: no I/O, so it is unit- and
//! property-tested, and `--dry-run` prints exactly what would be done.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::alert::{AlertFacts, TicketSeverity};
use super::content;
use super::messages;
use super::settings::{Pick, Recurrence, TicketSettings};
use crate::ids::{BillingType, CompanyId, TenantId, TicketId};

/// Where a tenant's tickets go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Destination {
    /// The mapped company.
    Mapped {
        /// ConnectWise's id of the company the tenant is mapped to.
        company_id: CompanyId,
    },
    /// The fallback company (tickets say "Unmapped").
    Fallback {
        /// ConnectWise's id of the fallback company from the ticket settings.
        company_id: CompanyId,
    },
    /// Unmapped and no fallback: alerts are skipped and counted.
    Skip,
}

/// One tenant, as ticket sync sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantTarget {
    /// Sophos's id of the tenant.
    pub tenant_id: TenantId,
    /// The tenant's name in Sophos, used in ticket summaries and descriptions.
    pub name: String,
    /// The tenant's regional Sophos API host, where its alerts are read.
    pub api_host: String,
    /// The tenant's billing type, for the advice when Sophos refuses its alerts; `None`: unknown.
    pub billing_type: Option<BillingType>,
    /// Where the tenant's tickets go.
    pub destination: Destination,
}

/// A ticket an operation works on: one that exists, or one created earlier in the same plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum TicketRef {
    /// A ticket ConnectWise has and we recorded.
    Existing(TicketId),
    /// The ticket created by this alert's [`Op::CreateTicket`] in the same plan.
    CreatedBy(String),
}

/// Why an alert made no ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// The tenant is not mapped and there is no fallback company.
    Unmapped,
    /// Its product, category or severity is not selected.
    Filtered,
}

/// A repeat of a problem written together with the others of its cycle: in the description of
/// the ticket its group gets this cycle, or in one note on the group's open ticket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Repeat {
    /// Sophos's id of the repeat alert.
    pub alert_id: String,
    /// The summary our record of the alert keeps.
    pub summary: String,
    /// The alert's part of the note (or description); `None`: the alert left Sophos before its
    /// note was written, so only the record is finished.
    pub note: Option<String>,
}

/// Repeats written in one note (or one description) at most: a burst stays readable.
pub const MAX_REPEATS_PER_WRITE: usize = 25;

/// The whole ticket a create sends: texts, company and every setup choice, as the plan made them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TicketDraft {
    /// The ticket's summary (at most 100 characters).
    pub summary: String,
    /// The ticket's initial description.
    pub description: String,
    /// ConnectWise's id of the company the ticket is opened for (mapped or fallback).
    pub company_id: CompanyId,
    /// The service board; `None` leaves it unset.
    pub board: Option<Pick>,
    /// The status of a new ticket; `None` leaves it unset.
    pub status: Option<Pick>,
    /// The ticket type on the board; `None` leaves it unset.
    #[serde(rename = "type")]
    pub type_: Option<Pick>,
    /// The ticket subtype on the board; `None` leaves it unset.
    pub subtype: Option<Pick>,
    /// The ticket item on the board; `None` leaves it unset.
    pub item: Option<Pick>,
    /// The priority chosen for the alert's severity; `None` leaves it unset.
    pub priority: Option<Pick>,
    /// The ticket source; `None` leaves it unset.
    pub source: Option<Pick>,
    /// ConnectWise's severity, from the alert's severity.
    pub severity: TicketSeverity,
}

/// One operation of a cycle. Every text and choice that goes to a vendor is in it: apply sends
/// exactly this, so `--dry-run` shows what ConnectWise and Sophos would receive.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// A person closed our ticket in ConnectWise.
    MarkClosed {
        /// Our ticket that was found closed.
        ticket_id: TicketId,
    },
    /// Acknowledge the alert in Sophos because its ticket was closed, with this message.
    Acknowledge {
        /// Sophos's id of the alert to acknowledge.
        alert_id: String,
        /// The closed ticket the alert is on.
        ticket_id: TicketId,
        /// The text sent with the acknowledgement, naming the ticket.
        message: String,
    },
    /// Sophos does not allow `acknowledge` on an alert whose ticket was closed: report it.
    CannotAcknowledge {
        /// Sophos's id of the alert that cannot be acknowledged.
        alert_id: String,
        /// The closed ticket the alert is on.
        ticket_id: TicketId,
    },
    /// The alert left Sophos, others of the ticket are still open: just record it.
    MarkCleared {
        /// Sophos's id of the alert no longer listed.
        alert_id: String,
    },
    /// Every alert of the ticket left Sophos: resolution note, then the clear status (or, when
    /// closing is not permitted, the resolved status).
    Resolve {
        /// Our ticket to resolve.
        ticket_id: TicketId,
        /// The ticket's alerts that left Sophos, recorded cleared.
        alert_ids: Vec<String>,
        /// The resolution note's text.
        note: String,
        /// The status to move the ticket to (closed or not); `None` leaves the status as it is.
        clear_status: Option<Pick>,
        /// The open status used when ConnectWise refuses the close; `None` leaves the status.
        resolved_status: Option<Pick>,
    },
    /// A new ticket (or resuming one whose create may have been sent: looked up first).
    CreateTicket {
        /// Sophos's id of the alert; sent as the ticket's external reference.
        alert_id: String,
        /// The group the alert belongs to (tenant, device, alert type).
        group_key: String,
        /// The tenant is unmapped and the ticket goes to the fallback company.
        unmapped: bool,
        /// The group's earlier resolved or closed ticket, named in the description; `None` if none.
        previous_ticket_id: Option<TicketId>,
        /// Boxed: it is much larger than the other operations.
        ticket: Box<TicketDraft>,
        /// Later alerts of the same problem in this cycle: their parts are in the description.
        repeats: Vec<Repeat>,
    },
    /// A create may have been sent but no ticket can be made now (the alert left Sophos, or its
    /// tenant has no company): only record the ticket a crashed run made, if ConnectWise has it.
    LookupTicket {
        /// Sophos's id of the alert whose create may have been sent.
        alert_id: String,
        /// The group the alert belongs to (tenant, device, alert type).
        group_key: String,
        /// The summary the interrupted create recorded.
        summary: String,
        /// Recorded when the found ticket names no company.
        company_id: Option<CompanyId>,
        /// The group's earlier resolved or closed ticket; `None` when there is none.
        previous_ticket_id: Option<TicketId>,
    },
    /// Repeats of the problem: one note on the group's open ticket for all of them.
    AddNote {
        /// The group the alerts belong to (tenant, device, alert type).
        group_key: String,
        /// The group's open ticket, existing or created earlier in this plan.
        ticket: TicketRef,
        /// The repeats, oldest first; the note is their parts joined.
        repeats: Vec<Repeat>,
    },
    /// A recurrence after the ticket was resolved/closed: back to `status`, plus a note.
    Reopen {
        /// Sophos's id of the alert that came back.
        alert_id: String,
        /// The group the alert belongs to (tenant, device, alert type).
        group_key: String,
        /// The group's resolved or closed ticket to reopen.
        ticket_id: TicketId,
        /// The summary our record of the alert keeps.
        summary: String,
        /// The status to move the ticket back to (the new-ticket status); `None` leaves it.
        status: Option<Pick>,
        /// The note saying the problem came back.
        note: String,
    },
    /// An alert that makes no ticket, counted; planned only for alerts raised since the last cycle.
    Skip {
        /// Sophos's id of the skipped alert.
        alert_id: String,
        /// Why it makes no ticket.
        reason: SkipReason,
    },
}

impl Op {
    /// The operation's name in snake case, as in the serialized `op` tag.
    pub fn kind(&self) -> &'static str {
        match self {
            Op::MarkClosed { .. } => "mark_closed",
            Op::Acknowledge { .. } => "acknowledge",
            Op::CannotAcknowledge { .. } => "cannot_acknowledge",
            Op::MarkCleared { .. } => "mark_cleared",
            Op::Resolve { .. } => "resolve",
            Op::CreateTicket { .. } => "create_ticket",
            Op::LookupTicket { .. } => "lookup_ticket",
            Op::AddNote { .. } => "add_note",
            Op::Reopen { .. } => "reopen",
            Op::Skip { .. } => "skip",
        }
    }

    /// The problem (group) a create, lookup, note or reopen is about; `None` for the others.
    pub fn group_key(&self) -> Option<&str> {
        match self {
            Op::CreateTicket { group_key, .. }
            | Op::LookupTicket { group_key, .. }
            | Op::AddNote { group_key, .. }
            | Op::Reopen { group_key, .. } => Some(group_key),
            _ => None,
        }
    }

    /// The alerts a create, lookup, note or reopen writes about (a create: its own, then its
    /// repeats); empty for the others.
    pub fn alert_ids(&self) -> Vec<&str> {
        match self {
            Op::CreateTicket {
                alert_id, repeats, ..
            } => std::iter::once(alert_id.as_str())
                .chain(repeats.iter().map(|r| r.alert_id.as_str()))
                .collect(),
            Op::AddNote { repeats, .. } => repeats.iter().map(|r| r.alert_id.as_str()).collect(),
            Op::LookupTicket { alert_id, .. } | Op::Reopen { alert_id, .. } => {
                vec![alert_id.as_str()]
            }
            _ => Vec::new(),
        }
    }
}

/// Where the ConnectWise side of an alert we acted on stands (the journal of ticket sync).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkStep {
    /// A ticket create was (maybe) sent.
    Creating,
    /// A note was (maybe) sent.
    Noting,
    /// A repeat whose part went (maybe) into the create of its group's ticket.
    Joining,
    /// The ticket or note exists.
    Linked,
}

/// Where the Sophos side of an alert we acted on stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertPhase {
    /// The alert is open in Sophos as far as we know.
    Open,
    /// The alert left Sophos and is recorded cleared.
    Cleared,
    /// `acknowledge` was (maybe) sent.
    Acknowledging,
    /// The alert was acknowledged in Sophos after its ticket was closed.
    Acknowledged,
}

/// Where a ticket we own stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TicketPhase {
    /// The ticket is open: repeats of its group become notes.
    Open,
    /// A resolution (note, then status) may have been sent; the next run finishes it.
    Resolving,
    /// Every alert of the ticket cleared and its resolution was written; the ticket is not closed.
    Resolved,
    /// A reopen (status, then note) may have been sent; the next run finishes it.
    Reopening,
    /// The ticket is closed in ConnectWise, by us or by a person.
    Closed,
}

/// An alert ticket sync acted on, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertRecord {
    /// Sophos's id of the alert.
    pub alert_id: String,
    /// The group the alert belongs to (tenant, device, alert type).
    pub group_key: String,
    /// The ticket the alert is on; `None` while its create is not recorded.
    pub ticket_id: Option<TicketId>,
    /// Where the ConnectWise side stands (create or note in flight, or linked).
    pub step: LinkStep,
    /// Where the Sophos side stands.
    pub phase: AlertPhase,
    /// The summary recorded for the alert; a resumed create sends it again.
    pub summary: String,
}

/// The newest ticket of a group, as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct TicketRecord {
    /// ConnectWise's id of the ticket.
    pub ticket_id: TicketId,
    /// The group the ticket is for (tenant, device, alert type).
    pub group_key: String,
    /// Where the ticket stands.
    pub phase: TicketPhase,
}

/// What the read phase found for one tenant.
#[derive(Debug, Clone, Default)]
pub struct TenantView {
    /// Alerts listed now (open in Sophos), any order.
    pub listed: Vec<AlertFacts>,
    /// Linked alerts not listed whose GET by id still found them (open, outside the listing filters).
    pub unlisted_open: Vec<AlertFacts>,
    /// Records needing attention (alert open, or a vendor call in flight).
    pub links: Vec<AlertRecord>,
    /// Listed alerts that already have a link in a settled state (not in `links`): nothing to do.
    pub done_alerts: HashSet<String>,
    /// The newest ticket of each group.
    pub tickets: Vec<TicketRecord>,
    /// Our open tickets found closed in ConnectWise this cycle.
    pub closed_in_cw: HashSet<TicketId>,
    /// Alerts raised after this were not seen by earlier cycles (skips are counted once).
    pub seen_before: Option<jiff::Timestamp>,
}

fn passes_filters(alert: &AlertFacts, s: &TicketSettings) -> bool {
    let selected = |chosen: &[String], v: &Option<String>| {
        chosen.is_empty() || v.as_ref().is_some_and(|v| chosen.iter().any(|x| x == v))
    };
    selected(&s.severities, &alert.severity)
        && selected(&s.products, &alert.product)
        && selected(&s.categories, &alert.category)
}

/// The whole ticket for `alert`.
fn draft(
    alert: &AlertFacts,
    target: &TenantTarget,
    s: &TicketSettings,
    company_id: CompanyId,
    summary: String,
    previous_ticket: Option<TicketId>,
) -> TicketDraft {
    TicketDraft {
        summary,
        description: content::description(
            alert,
            &target.tenant_id,
            &target.name,
            &s.device_url_pattern,
            previous_ticket,
        ),
        company_id,
        board: s.board.clone(),
        status: s.new_status.clone(),
        type_: s.type_.clone(),
        subtype: s.subtype.clone(),
        item: s.item.clone(),
        priority: alert
            .severity
            .as_deref()
            .and_then(|sev| s.priorities.for_severity(sev))
            .cloned(),
        source: s.source.clone(),
        severity: alert.ticket_severity(),
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupTicket {
    /// Open (or being reopened): repeats become notes.
    Open,
    /// Resolved or closed: a repeat is a recurrence.
    Done,
}

/// The company a tenant's tickets go to, if any.
fn company_of(d: &Destination) -> Option<CompanyId> {
    match d {
        Destination::Mapped { company_id } | Destination::Fallback { company_id } => {
            Some(*company_id)
        }
        Destination::Skip => None,
    }
}

fn resolve(ticket_id: TicketId, alert_ids: Vec<String>, s: &TicketSettings) -> Op {
    Op::Resolve {
        ticket_id,
        note: messages::resolution_note(&alert_ids),
        alert_ids,
        clear_status: s.clear_status.clone(),
        resolved_status: s.resolved_status.clone(),
    }
}

/// Plans one tenant's cycle. Order: closures seen in ConnectWise (and acknowledgements), clears,
/// resumptions of interrupted work, then new alerts: the most severe problem first (a problem's
/// severity is that of its most severe alert), then the oldest, and within a problem oldest first.
pub fn plan_tenant(target: &TenantTarget, view: &TenantView, settings: &TicketSettings) -> Vec<Op> {
    let mut p = Planner::new(target, view, settings);
    p.closed_in_connectwise();
    p.clears();
    p.interrupted_unlisted();
    let mut first: HashMap<String, Urgency> = HashMap::new();
    for a in &view.listed {
        let e = first
            .entry(content::group_key(&target.tenant_id, a))
            .or_insert((u8::MAX, a.raised_at));
        e.0 = e.0.min(rank(a.ticket_severity()));
        e.1 = e.1.min(a.raised_at).or(a.raised_at);
    }
    let mut new: Vec<(&Urgency, String, &AlertFacts)> = view
        .listed
        .iter()
        .map(|a| {
            let g = content::group_key(&target.tenant_id, a);
            (&first[&g], g, a)
        })
        .collect();
    new.sort_by(|(ga, ka, a), (gb, kb, b)| {
        ga.cmp(gb)
            .then_with(|| ka.cmp(kb))
            .then_with(|| a.raised_at.cmp(&b.raised_at))
            .then_with(|| a.id.cmp(&b.id))
    });
    for (_, _, a) in new {
        p.listed_alert(a);
    }
    p.ops
}

/// A problem's rank (its most severe alert) and its oldest alert: the order it is written in.
type Urgency = (u8, Option<jiff::Timestamp>);

/// 0 for high severity, 1 for medium, 2 for low: the order ConnectWise hears about problems in.
pub fn rank(s: TicketSeverity) -> u8 {
    match s {
        TicketSeverity::High => 0,
        TicketSeverity::Medium => 1,
        TicketSeverity::Low => 2,
    }
}

/// Splits a tenant's plan into three tiers by urgency, so a cycle writes every tenant's
/// high-severity problems before anyone's medium ones, and those before the low ones. A problem's
/// operations stay together, in plan order, in the tier of its most severe alert (`rank_of`
/// gives an alert's rank); the tenant's other operations (closures, clears, acknowledgements,
/// skips) go first in its most urgent tier, or in the last when it has no new problem, so
/// nothing moves ahead of what it depends on.
pub fn tiers(ops: Vec<Op>, rank_of: impl Fn(&str) -> u8) -> [Vec<Op>; 3] {
    let mut group_rank: HashMap<String, u8> = HashMap::new();
    for op in &ops {
        if let Some(g) = op.group_key() {
            let r = op
                .alert_ids()
                .into_iter()
                .map(&rank_of)
                .min()
                .unwrap_or(2)
                .min(2);
            let e = group_rank.entry(g.to_owned()).or_insert(r);
            *e = (*e).min(r);
        }
    }
    let rest = group_rank.values().copied().min().unwrap_or(2) as usize;
    let mut out: [Vec<Op>; 3] = [Vec::new(), Vec::new(), Vec::new()];
    for op in ops {
        let tier = match op.group_key() {
            Some(g) => group_rank.get(g).copied().unwrap_or(2) as usize,
            None => rest,
        };
        out[tier].push(op);
    }
    out
}

/// One tenant's plan as it is built: the view indexed, and what the plan has decided so far.
struct Planner<'a> {
    target: &'a TenantTarget,
    view: &'a TenantView,
    settings: &'a TicketSettings,
    listed: HashMap<&'a str, &'a AlertFacts>,
    still_open: HashMap<&'a str, &'a AlertFacts>,
    links: HashMap<&'a str, &'a AlertRecord>,
    by_ticket: BTreeMap<TicketId, Vec<&'a AlertRecord>>,
    /// Group -> (ticket, state) as the plan goes on.
    groups: HashMap<String, (TicketRef, GroupTicket)>,
    ticket_states: HashMap<TicketId, TicketPhase>,
    acked: HashSet<String>,
    ops: Vec<Op>,
}

impl<'a> Planner<'a> {
    fn new(target: &'a TenantTarget, view: &'a TenantView, settings: &'a TicketSettings) -> Self {
        let listed: HashMap<&str, &AlertFacts> =
            view.listed.iter().map(|a| (a.id.as_str(), a)).collect();
        let still_open: HashMap<&str, &AlertFacts> = listed
            .iter()
            .map(|(k, v)| (*k, *v))
            .chain(view.unlisted_open.iter().map(|a| (a.id.as_str(), a)))
            .collect();
        let links: HashMap<&str, &AlertRecord> = view
            .links
            .iter()
            .map(|l| (l.alert_id.as_str(), l))
            .collect();
        let mut groups = HashMap::new();
        let mut ticket_states = HashMap::new();
        for t in &view.tickets {
            let closed = view.closed_in_cw.contains(&t.ticket_id);
            let g = match t.phase {
                _ if closed => GroupTicket::Done,
                TicketPhase::Open | TicketPhase::Reopening => GroupTicket::Open,
                TicketPhase::Resolving | TicketPhase::Resolved | TicketPhase::Closed => {
                    GroupTicket::Done
                }
            };
            groups.insert(t.group_key.clone(), (TicketRef::Existing(t.ticket_id), g));
            ticket_states.insert(t.ticket_id, t.phase);
        }
        let mut by_ticket: BTreeMap<TicketId, Vec<&AlertRecord>> = BTreeMap::new();
        for l in &view.links {
            if let Some(t) = l.ticket_id {
                by_ticket.entry(t).or_default().push(l);
            }
        }
        Planner {
            target,
            view,
            settings,
            listed,
            still_open,
            links,
            by_ticket,
            groups,
            ticket_states,
            acked: HashSet::new(),
            ops: Vec::new(),
        }
    }

    /// Step 1, tickets closed in ConnectWise: acknowledge their open alerts (when set to), then
    /// record the closure.
    fn closed_in_connectwise(&mut self) {
        let (view, settings) = (self.view, self.settings);
        let closed: BTreeSet<TicketId> = view.closed_in_cw.iter().copied().collect();
        let mut mark_closed = Vec::new();
        for &tid in &closed {
            if !self.ticket_states.contains_key(&tid) && !self.by_ticket.contains_key(&tid) {
                continue;
            }
            // Recorded after the acknowledgements: until then a re-run still sees the ticket as
            // ours and open, so an interrupted acknowledgement is finished.
            mark_closed.push(Op::MarkClosed { ticket_id: tid });
            self.ticket_states.insert(tid, TicketPhase::Closed);
            for l in self.by_ticket.get(&tid).into_iter().flatten() {
                if l.phase != AlertPhase::Open || l.step != LinkStep::Linked {
                    continue;
                }
                if let Some(a) = self.still_open.get(l.alert_id.as_str()) {
                    if !settings.acknowledge_on_close {
                        continue;
                    }
                    if a.can_acknowledge {
                        self.ops.push(Op::Acknowledge {
                            alert_id: l.alert_id.clone(),
                            ticket_id: tid,
                            message: messages::ack_message(tid),
                        });
                    } else {
                        self.ops.push(Op::CannotAcknowledge {
                            alert_id: l.alert_id.clone(),
                            ticket_id: tid,
                        });
                    }
                    self.acked.insert(l.alert_id.clone());
                }
            }
        }
        // Interrupted acknowledgements.
        for l in &view.links {
            if l.phase == AlertPhase::Acknowledging
                && let Some(t) = l.ticket_id
                && !self.acked.contains(&l.alert_id)
            {
                self.ops.push(Op::Acknowledge {
                    alert_id: l.alert_id.clone(),
                    ticket_id: t,
                    message: messages::ack_message(t),
                });
                self.acked.insert(l.alert_id.clone());
            }
        }
        self.ops.extend(mark_closed);
    }

    /// Step 2, clears: linked alerts that left Sophos resolve their ticket when none is left
    /// open; then interrupted resolutions are finished.
    fn clears(&mut self) {
        let (view, settings) = (self.view, self.settings);
        for (&tid, ls) in &self.by_ticket {
            let open_links: Vec<&&AlertRecord> = ls
                .iter()
                .filter(|l| l.phase == AlertPhase::Open && l.step == LinkStep::Linked)
                .collect();
            let cleared: Vec<String> = open_links
                .iter()
                .filter(|l| {
                    !self.still_open.contains_key(l.alert_id.as_str())
                        && !self.acked.contains(&l.alert_id)
                })
                .map(|l| l.alert_id.clone())
                .collect();
            let in_flight = ls.iter().any(|l| l.step != LinkStep::Linked);
            let state = self.ticket_states.get(&tid).copied();
            let all_gone = !cleared.is_empty() && cleared.len() == open_links.len() && !in_flight;
            if all_gone && matches!(state, Some(TicketPhase::Open | TicketPhase::Reopening)) {
                self.ops.push(resolve(tid, cleared, settings));
                self.ticket_states.insert(tid, TicketPhase::Resolving);
                if let Some(g) = ls.first().map(|l| l.group_key.clone())
                    && let Some(e) = self.groups.get_mut(&g)
                    && e.0 == TicketRef::Existing(tid)
                {
                    e.1 = GroupTicket::Done;
                }
            } else {
                for a in cleared {
                    self.ops.push(Op::MarkCleared { alert_id: a });
                }
            }
        }
        // Interrupted resolutions.
        for t in &view.tickets {
            if t.phase == TicketPhase::Resolving
                && !self.ops.iter().any(
                    |o| matches!(o, Op::Resolve { ticket_id, .. } if *ticket_id == t.ticket_id),
                )
            {
                let ids: Vec<String> = self
                    .by_ticket
                    .get(&t.ticket_id)
                    .map(|ls| {
                        ls.iter()
                            .filter(|l| l.phase == AlertPhase::Open)
                            .map(|l| l.alert_id.clone())
                            .collect()
                    })
                    .unwrap_or_default();
                self.ops.push(resolve(t.ticket_id, ids, settings));
            }
        }
    }

    /// Step 3: interrupted creates and notes whose alert is no longer listed.
    fn interrupted_unlisted(&mut self) {
        for l in &self.view.links {
            if self.listed.contains_key(l.alert_id.as_str()) {
                continue;
            }
            match l.step {
                LinkStep::Creating => self.ops.push(Op::LookupTicket {
                    alert_id: l.alert_id.clone(),
                    group_key: l.group_key.clone(),
                    summary: l.summary.clone(),
                    company_id: company_of(&self.target.destination),
                    previous_ticket_id: None,
                }),
                LinkStep::Noting => {
                    if let Some(t) = l.ticket_id {
                        let alert = self.still_open.get(l.alert_id.as_str());
                        let repeat = Repeat {
                            alert_id: l.alert_id.clone(),
                            summary: l.summary.clone(),
                            note: alert.map(|a| content::repeat_note(a)),
                        };
                        self.push_repeat(&l.group_key, TicketRef::Existing(t), repeat);
                    }
                }
                // Gone before its group's create was settled: whether its part reached the
                // description no longer matters; the record is finished.
                LinkStep::Joining => self.ops.push(Op::MarkCleared {
                    alert_id: l.alert_id.clone(),
                }),
                LinkStep::Linked => {}
            }
        }
    }

    /// Step 4: one listed alert (they come oldest first): new, or its create or note was
    /// interrupted.
    fn listed_alert(&mut self, a: &AlertFacts) {
        if self.view.done_alerts.contains(&a.id) {
            return;
        }
        match self.links.get(a.id.as_str()).copied() {
            Some(l) if l.step == LinkStep::Linked => {}
            Some(l) if l.step == LinkStep::Noting => self.resume_note(a, l),
            // Planned again as the repeat it was; apply looks for its part in the ticket first.
            Some(l) if l.step == LinkStep::Joining => self.new_alert(a),
            Some(l) => self.resume_create(a, l),
            None => self.new_alert(a),
        }
    }

    /// A repeat joins what this plan already writes to its group's ticket: the create of that
    /// ticket (its part goes into the description) or the note before it (one note for all),
    /// while that write has room; otherwise it starts a note of its own.
    fn push_repeat(&mut self, group: &str, ticket: TicketRef, repeat: Repeat) {
        let joined = self.ops.iter_mut().rev().find_map(|op| match op {
            Op::CreateTicket {
                alert_id,
                repeats,
                ticket: draft,
                ..
            } if ticket == TicketRef::CreatedBy(alert_id.clone()) => Some((repeats, Some(draft))),
            Op::AddNote {
                ticket: t, repeats, ..
            } if *t == ticket => Some((repeats, None)),
            _ => None,
        });
        match joined {
            Some((repeats, draft)) if repeats.len() < MAX_REPEATS_PER_WRITE => {
                if let (Some(draft), Some(part)) = (draft, &repeat.note) {
                    draft.description = content::with_repeat(&draft.description, part);
                }
                repeats.push(repeat);
            }
            _ => self.ops.push(Op::AddNote {
                group_key: group.to_owned(),
                ticket,
                repeats: vec![repeat],
            }),
        }
    }

    /// An interrupted note (or reopen) on the alert's ticket is sent again.
    fn resume_note(&mut self, a: &AlertFacts, l: &AlertRecord) {
        let Some(t) = l.ticket_id else { return };
        let reopening = self
            .view
            .tickets
            .iter()
            .any(|x| x.ticket_id == t && x.phase == TicketPhase::Reopening);
        if reopening {
            self.ops.push(Op::Reopen {
                alert_id: a.id.clone(),
                group_key: l.group_key.clone(),
                ticket_id: t,
                summary: l.summary.clone(),
                status: self.settings.new_status.clone(),
                note: content::reopen_note(a),
            });
        } else {
            let repeat = Repeat {
                alert_id: a.id.clone(),
                summary: l.summary.clone(),
                note: Some(content::repeat_note(a)),
            };
            self.push_repeat(&l.group_key, TicketRef::Existing(t), repeat);
        }
        self.groups.insert(
            l.group_key.clone(),
            (TicketRef::Existing(t), GroupTicket::Open),
        );
    }

    /// An interrupted create resumes with a lookup by the alert id first, sending the summary the
    /// first attempt recorded.
    fn resume_create(&mut self, a: &AlertFacts, l: &AlertRecord) {
        let previous = match self.groups.get(&l.group_key) {
            Some((TicketRef::Existing(t), GroupTicket::Done)) => Some(*t),
            _ => None,
        };
        let created = (TicketRef::CreatedBy(a.id.clone()), GroupTicket::Open);
        let (company_id, unmapped) = match &self.target.destination {
            Destination::Mapped { company_id } => (*company_id, false),
            Destination::Fallback { company_id } => (*company_id, true),
            Destination::Skip => {
                self.ops.push(Op::LookupTicket {
                    alert_id: a.id.clone(),
                    group_key: l.group_key.clone(),
                    summary: l.summary.clone(),
                    company_id: None,
                    previous_ticket_id: previous,
                });
                self.groups.insert(l.group_key.clone(), created);
                return;
            }
        };
        self.ops.push(Op::CreateTicket {
            alert_id: a.id.clone(),
            group_key: l.group_key.clone(),
            unmapped,
            previous_ticket_id: previous,
            ticket: Box::new(draft(
                a,
                self.target,
                self.settings,
                company_id,
                l.summary.clone(),
                previous,
            )),
            repeats: Vec::new(),
        });
        self.groups.insert(l.group_key.clone(), created);
    }

    /// A new alert: filtered or unmapped ones are skipped (and said so once), else it joins its
    /// group's open ticket, reopens the group's closed one, or opens a ticket.
    fn new_alert(&mut self, a: &AlertFacts) {
        let (target, settings) = (self.target, self.settings);
        let fresh = match (self.view.seen_before, a.raised_at) {
            (Some(seen), Some(r)) => r > seen,
            _ => true,
        };
        if !passes_filters(a, settings) {
            if fresh {
                self.ops.push(Op::Skip {
                    alert_id: a.id.clone(),
                    reason: SkipReason::Filtered,
                });
            }
            return;
        }
        let (company_id, unmapped) = match &target.destination {
            Destination::Mapped { company_id } => (*company_id, false),
            Destination::Fallback { company_id } => (*company_id, true),
            Destination::Skip => {
                if fresh {
                    self.ops.push(Op::Skip {
                        alert_id: a.id.clone(),
                        reason: SkipReason::Unmapped,
                    });
                }
                return;
            }
        };
        let group = content::group_key(&target.tenant_id, a);
        match self.groups.get(&group).cloned() {
            Some((tref, GroupTicket::Open)) => {
                let repeat = Repeat {
                    alert_id: a.id.clone(),
                    summary: content::summary(a, &target.name, false),
                    note: Some(content::repeat_note(a)),
                };
                self.push_repeat(&group, tref, repeat);
            }
            Some((TicketRef::Existing(old), GroupTicket::Done))
                if settings.recurrence == Recurrence::Reopen =>
            {
                self.ops.push(Op::Reopen {
                    alert_id: a.id.clone(),
                    group_key: group.clone(),
                    ticket_id: old,
                    summary: content::summary(a, &target.name, false),
                    status: settings.new_status.clone(),
                    note: content::reopen_note(a),
                });
                self.groups
                    .insert(group, (TicketRef::Existing(old), GroupTicket::Open));
            }
            other => {
                let previous = match other {
                    Some((TicketRef::Existing(t), GroupTicket::Done)) => Some(t),
                    _ => None,
                };
                self.ops.push(Op::CreateTicket {
                    alert_id: a.id.clone(),
                    group_key: group.clone(),
                    unmapped,
                    previous_ticket_id: previous,
                    ticket: Box::new(draft(
                        a,
                        target,
                        settings,
                        company_id,
                        content::summary(a, &target.name, unmapped),
                        previous,
                    )),
                    repeats: Vec::new(),
                });
                self.groups.insert(
                    group,
                    (TicketRef::CreatedBy(a.id.clone()), GroupTicket::Open),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tickets::alert::Device;
    use proptest::prelude::*;

    fn alert(i: usize, device: u8, kind: u8, sev: u8) -> AlertFacts {
        AlertFacts {
            id: format!("alert-{i}"),
            raised_at: jiff::Timestamp::from_second(1_800_000_000 + i as i64).ok(),
            severity: Some(["low", "medium", "high"][usize::from(sev % 3)].into()),
            product: None,
            category: None,
            alert_type: Some(format!("Event::Endpoint::Kind{kind}")),
            description: Some("d".into()),
            device: Some(Device {
                id: format!("dev-{device}"),
                name: None,
                kind: Some("computer".into()),
            }),
            can_acknowledge: true,
        }
    }

    fn target(dest: Destination) -> TenantTarget {
        TenantTarget {
            tenant_id: "t".into(),
            name: "Tenant".into(),
            api_host: "h".into(),
            billing_type: None,
            destination: dest,
        }
    }

    /// What apply would leave in the store after `ops` (ticket ids from 1000).
    fn apply(view: &TenantView, ops: &[Op]) -> TenantView {
        let mut v = view.clone();
        let mut created: HashMap<String, TicketId> = HashMap::new();
        for op in ops {
            let (alerts, group, ticket) = match op {
                Op::CreateTicket {
                    alert_id,
                    group_key,
                    repeats,
                    ..
                } => {
                    let id = TicketId::new(1000 + v.tickets.len() as i64);
                    created.insert(alert_id.clone(), id);
                    v.tickets.retain(|t| t.group_key != *group_key);
                    v.tickets.push(TicketRecord {
                        ticket_id: id,
                        group_key: group_key.clone(),
                        phase: TicketPhase::Open,
                    });
                    let mut alerts = vec![alert_id.clone()];
                    alerts.extend(repeats.iter().map(|r| r.alert_id.clone()));
                    (alerts, group_key, id)
                }
                Op::AddNote {
                    group_key,
                    ticket,
                    repeats,
                } => {
                    let id = match ticket {
                        TicketRef::Existing(t) => *t,
                        TicketRef::CreatedBy(a) => created[a],
                    };
                    let alerts = repeats.iter().map(|r| r.alert_id.clone()).collect();
                    (alerts, group_key, id)
                }
                _ => continue,
            };
            for alert_id in alerts {
                v.links.push(AlertRecord {
                    alert_id,
                    group_key: group.clone(),
                    ticket_id: Some(ticket),
                    step: LinkStep::Linked,
                    phase: AlertPhase::Open,
                    summary: String::new(),
                });
            }
        }
        v.seen_before = v.listed.iter().filter_map(|a| a.raised_at).max();
        v
    }

    proptest! {
        #[test]
        fn planning_again_after_applying_changes_nothing(
            specs in proptest::collection::vec((0u8..3, 0u8..3, 0u8..3), 0..30),
            mapped in any::<bool>(),
        ) {
            let listed: Vec<AlertFacts> = specs.iter().enumerate().map(|(i, (d, k, s))| alert(i, *d, *k, *s)).collect();
            let view = TenantView { listed, ..TenantView::default() };
            let dest = if mapped { Destination::Mapped { company_id: CompanyId::new(1) } } else { Destination::Skip };
            let settings = TicketSettings::default();
            let ops = plan_tenant(&target(dest), &view, &settings);
            // At most one ticket per group, one op per selected alert.
            let creates: Vec<&String> = ops.iter().filter_map(|o| match o { Op::CreateTicket { group_key, .. } => Some(group_key), _ => None }).collect();
            let unique: HashSet<&&String> = creates.iter().collect();
            prop_assert_eq!(unique.len(), creates.len());
            let after = apply(&view, &ops);
            let again = plan_tenant(&target(if mapped { Destination::Mapped { company_id: CompanyId::new(1) } } else { Destination::Skip }), &after, &settings);
            prop_assert!(again.is_empty(), "second plan: {:?}", again);
        }
    }

    #[test]
    fn a_burst_of_repeats_is_written_in_few_notes() {
        let dest = Destination::Mapped {
            company_id: CompanyId::new(1),
        };
        let n = 2 * MAX_REPEATS_PER_WRITE + 3;
        let listed: Vec<AlertFacts> = (0..n).map(|i| alert(i, 0, 0, 1)).collect();
        let view = TenantView {
            listed,
            ..TenantView::default()
        };
        let ops = plan_tenant(&target(dest.clone()), &view, &TicketSettings::default());
        // One create carrying 25 repeats, then notes of at most 25.
        let sizes: Vec<(&str, usize)> = ops
            .iter()
            .map(|o| (o.kind(), o.alert_ids().len()))
            .collect();
        assert_eq!(
            sizes,
            vec![
                ("create_ticket", MAX_REPEATS_PER_WRITE + 1),
                ("add_note", MAX_REPEATS_PER_WRITE),
                ("add_note", 2)
            ]
        );
        let every: HashSet<&str> = ops.iter().flat_map(Op::alert_ids).collect();
        assert_eq!(every.len(), n, "each alert once");
        let after = apply(&view, &ops);
        assert!(plan_tenant(&target(dest), &after, &TicketSettings::default()).is_empty());
    }

    #[test]
    fn a_repeat_whose_create_was_interrupted_joins_the_resumed_create() {
        let dest = Destination::Mapped {
            company_id: CompanyId::new(1),
        };
        let (a, b) = (alert(1, 0, 0, 2), alert(2, 0, 0, 2));
        let g = content::group_key("t", &a);
        let record = |id: &str, step| AlertRecord {
            alert_id: id.into(),
            group_key: g.clone(),
            ticket_id: None,
            step,
            phase: AlertPhase::Open,
            summary: "s".into(),
        };
        let view = TenantView {
            listed: vec![a.clone(), b.clone()],
            links: vec![
                record(&a.id, LinkStep::Creating),
                record(&b.id, LinkStep::Joining),
            ],
            ..TenantView::default()
        };
        let ops = plan_tenant(&target(dest), &view, &TicketSettings::default());
        assert_eq!(ops.len(), 1, "{ops:?}");
        assert_eq!(ops[0].alert_ids(), vec![a.id.as_str(), b.id.as_str()]);
    }

    #[test]
    fn closed_ticket_is_acknowledged_before_it_is_marked() {
        let a = alert(1, 0, 0, 2);
        let mut view = TenantView {
            listed: vec![a.clone()],
            ..TenantView::default()
        };
        let ops = plan_tenant(
            &target(Destination::Mapped {
                company_id: CompanyId::new(1),
            }),
            &view,
            &TicketSettings::default(),
        );
        view = apply(&view, &ops);
        let tid = view.tickets[0].ticket_id;
        view.closed_in_cw.insert(tid);
        let ops = plan_tenant(
            &target(Destination::Mapped {
                company_id: CompanyId::new(1),
            }),
            &view,
            &TicketSettings::default(),
        );
        assert_eq!(
            ops,
            vec![
                Op::Acknowledge {
                    alert_id: a.id.clone(),
                    ticket_id: tid,
                    message: messages::ack_message(tid),
                },
                Op::MarkClosed { ticket_id: tid }
            ]
        );
    }

    fn pick(id: i64, name: &str) -> Option<Pick> {
        Some(Pick {
            id,
            name: name.into(),
        })
    }

    #[test]
    fn plans_carry_the_whole_ticket_and_every_note() {
        let mut settings = TicketSettings {
            board: pick(1, "Help Desk"),
            new_status: pick(2, "New"),
            clear_status: pick(3, "Closed"),
            resolved_status: pick(4, "Resolved"),
            type_: pick(5, "Alert"),
            subtype: pick(6, "Endpoint"),
            item: pick(7, "Antivirus"),
            source: pick(8, "Sophos Central"),
            ..TicketSettings::default()
        };
        settings.priorities.high = pick(9, "P1");
        let target = target(Destination::Mapped {
            company_id: CompanyId::new(250),
        });
        let first = alert(1, 0, 0, 2);
        let repeat = alert(2, 0, 0, 2);
        let view = TenantView {
            listed: vec![first.clone(), repeat.clone()],
            ..TenantView::default()
        };
        let ops = plan_tenant(&target, &view, &settings);
        let summary = content::summary(&first, "Tenant", false);
        assert_eq!(
            ops[0],
            Op::CreateTicket {
                alert_id: first.id.clone(),
                group_key: content::group_key("t", &first),
                unmapped: false,
                previous_ticket_id: None,
                ticket: Box::new(TicketDraft {
                    summary: summary.clone(),
                    description: content::with_repeat(
                        &content::description(
                            &first,
                            "t",
                            "Tenant",
                            &settings.device_url_pattern,
                            None
                        ),
                        &content::repeat_note(&repeat)
                    ),
                    company_id: CompanyId::new(250),
                    board: settings.board.clone(),
                    status: settings.new_status.clone(),
                    type_: settings.type_.clone(),
                    subtype: settings.subtype.clone(),
                    item: settings.item.clone(),
                    priority: settings.priorities.high.clone(),
                    source: settings.source.clone(),
                    severity: TicketSeverity::High,
                }),
                repeats: vec![Repeat {
                    alert_id: repeat.id.clone(),
                    summary: content::summary(&repeat, "Tenant", false),
                    note: Some(content::repeat_note(&repeat)),
                }],
            }
        );
        assert_eq!(ops.len(), 1, "the repeat goes into the new ticket: {ops:?}");

        // Both alerts clear: one resolution with its note and both statuses.
        let after = TenantView {
            listed: Vec::new(),
            ..apply(&view, &ops)
        };
        let tid = after.tickets[0].ticket_id;
        let ops = plan_tenant(&target, &after, &settings);
        let ids = vec![first.id.clone(), repeat.id.clone()];
        assert_eq!(
            ops,
            vec![Op::Resolve {
                ticket_id: tid,
                note: messages::resolution_note(&ids),
                alert_ids: ids,
                clear_status: settings.clear_status.clone(),
                resolved_status: settings.resolved_status.clone(),
            }]
        );

        // A recurrence under the reopen policy: back to the new status with the reopen note.
        settings.recurrence = Recurrence::Reopen;
        let mut resolved = after.clone();
        resolved.tickets[0].phase = TicketPhase::Resolved;
        for l in &mut resolved.links {
            l.phase = AlertPhase::Cleared;
        }
        let again = alert(3, 0, 0, 2);
        resolved.listed = vec![again.clone()];
        let ops = plan_tenant(&target, &resolved, &settings);
        assert_eq!(
            ops,
            vec![Op::Reopen {
                alert_id: again.id.clone(),
                group_key: content::group_key("t", &again),
                ticket_id: tid,
                summary: content::summary(&again, "Tenant", false),
                status: settings.new_status.clone(),
                note: content::reopen_note(&again),
            }]
        );
    }
}
