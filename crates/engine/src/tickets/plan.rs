//! Planning: from what was read (alerts listed in Sophos, our links and tickets, tickets closed in
//! ConnectWise) to the operations of one tenant's cycle. Pure: no I/O, so it is unit- and
//! property-tested, and `--dry-run` prints exactly what would be done.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;
use sophos::models::{Alert, AlertAction};

use super::content;
use super::settings::{Recurrence, TicketSettings};
use crate::store::{AlertLink, AlertState, LinkState, OwnedTicket, TicketState};

/// Where a tenant's tickets go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Destination {
    /// The mapped company.
    Mapped { company_id: i64 },
    /// The fallback company (tickets say "Unmapped").
    Fallback { company_id: i64 },
    /// Unmapped and no fallback: alerts are skipped and counted.
    Skip,
}

/// One tenant, as ticket sync sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantTarget {
    pub tenant_id: String,
    pub name: String,
    pub api_host: String,
    pub billing_type: Option<String>,
    pub destination: Destination,
}

/// A ticket an operation works on: one that exists, or one created earlier in the same plan.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum TicketRef {
    Existing(i64),
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

/// One operation of a cycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// A person closed our ticket in ConnectWise.
    MarkClosed { ticket_id: i64 },
    /// Acknowledge the alert in Sophos because its ticket was closed.
    Acknowledge { alert_id: String, ticket_id: i64 },
    /// Sophos does not allow `acknowledge` on an alert whose ticket was closed: report it.
    CannotAcknowledge { alert_id: String, ticket_id: i64 },
    /// The alert left Sophos, others of the ticket are still open: just record it.
    MarkCleared { alert_id: String },
    /// Every alert of the ticket left Sophos: resolution note + clear status.
    Resolve {
        ticket_id: i64,
        alert_ids: Vec<String>,
    },
    /// A new ticket (or resuming one whose create may have been sent).
    CreateTicket {
        alert_id: String,
        group_key: String,
        company_id: i64,
        unmapped: bool,
        previous_ticket_id: Option<i64>,
        summary: String,
        /// The alert is gone from Sophos: only look for a ticket a crashed run made; do not create.
        lookup_only: bool,
    },
    /// A repeat of the problem: note on the group's open ticket.
    AddNote {
        alert_id: String,
        group_key: String,
        ticket: TicketRef,
    },
    /// A recurrence after the ticket was resolved/closed: back to the new status, plus a note.
    Reopen {
        alert_id: String,
        group_key: String,
        ticket_id: i64,
    },
    Skip {
        alert_id: String,
        reason: SkipReason,
    },
}

impl Op {
    pub fn kind(&self) -> &'static str {
        match self {
            Op::MarkClosed { .. } => "mark_closed",
            Op::Acknowledge { .. } => "acknowledge",
            Op::CannotAcknowledge { .. } => "cannot_acknowledge",
            Op::MarkCleared { .. } => "mark_cleared",
            Op::Resolve { .. } => "resolve",
            Op::CreateTicket { .. } => "create_ticket",
            Op::AddNote { .. } => "add_note",
            Op::Reopen { .. } => "reopen",
            Op::Skip { .. } => "skip",
        }
    }
}

/// What the read phase found for one tenant.
#[derive(Debug, Clone, Default)]
pub struct TenantView {
    /// Alerts listed now (open in Sophos), any order.
    pub listed: Vec<Alert>,
    /// Linked alerts not listed whose GET by id still found them (open, outside the listing filters).
    pub unlisted_open: Vec<Alert>,
    /// Links needing attention (alert open, or a vendor call in flight).
    pub links: Vec<AlertLink>,
    /// Listed alerts that already have a link in a settled state (not in `links`): nothing to do.
    pub done_alerts: HashSet<String>,
    /// The newest ticket of each group.
    pub tickets: Vec<OwnedTicket>,
    /// Our open tickets found closed in ConnectWise this cycle.
    pub closed_in_cw: HashSet<i64>,
    /// Alerts raised after this were not seen by earlier cycles (skips are counted once).
    pub seen_before: Option<jiff::Timestamp>,
}

fn passes_filters(alert: &Alert, s: &TicketSettings) -> bool {
    let sev_ok = s.severities.is_empty()
        || alert
            .severity
            .as_ref()
            .is_some_and(|v| s.severities.iter().any(|x| x == v.as_str()));
    let prod_ok = s.products.is_empty()
        || alert
            .product
            .as_ref()
            .is_some_and(|v| s.products.iter().any(|x| x == v.as_str()));
    let cat_ok = s.categories.is_empty()
        || alert
            .category
            .as_ref()
            .is_some_and(|v| s.categories.iter().any(|x| x == v.as_str()));
    sev_ok && prod_ok && cat_ok
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupTicket {
    /// Open (or being reopened): repeats become notes.
    Open,
    /// Resolved or closed: a repeat is a recurrence.
    Done,
}

/// Plans one tenant's cycle. Order: closures seen in ConnectWise (and acknowledgements), clears,
/// resumptions of interrupted work, then new alerts oldest first.
pub fn plan_tenant(target: &TenantTarget, view: &TenantView, settings: &TicketSettings) -> Vec<Op> {
    let mut ops = Vec::new();
    let listed: HashMap<&str, &Alert> = view.listed.iter().map(|a| (a.id.as_str(), a)).collect();
    let still_open: HashMap<&str, &Alert> = listed
        .iter()
        .map(|(k, v)| (*k, *v))
        .chain(view.unlisted_open.iter().map(|a| (a.id.as_str(), a)))
        .collect();
    let links: HashMap<&str, &AlertLink> = view
        .links
        .iter()
        .map(|l| (l.alert_id.as_str(), l))
        .collect();

    // Group -> (ticket id, state) as the plan goes on.
    let mut groups: HashMap<String, (TicketRef, GroupTicket)> = HashMap::new();
    let mut ticket_states: HashMap<i64, TicketState> = HashMap::new();
    for t in &view.tickets {
        let closed = view.closed_in_cw.contains(&t.ticket_id);
        let g = match t.state {
            _ if closed => GroupTicket::Done,
            TicketState::Open | TicketState::Reopening => GroupTicket::Open,
            TicketState::Resolving | TicketState::Resolved | TicketState::Closed => {
                GroupTicket::Done
            }
        };
        groups.insert(t.group_key.clone(), (TicketRef::Existing(t.ticket_id), g));
        ticket_states.insert(t.ticket_id, t.state);
    }

    // 1. Tickets closed in ConnectWise.
    let mut acked: HashSet<String> = HashSet::new();
    let mut by_ticket: BTreeMap<i64, Vec<&AlertLink>> = BTreeMap::new();
    for l in &view.links {
        if let Some(t) = l.ticket_id {
            by_ticket.entry(t).or_default().push(l);
        }
    }
    let closed: BTreeSet<i64> = view.closed_in_cw.iter().copied().collect();
    let mut mark_closed = Vec::new();
    for &tid in &closed {
        if !ticket_states.contains_key(&tid) && !by_ticket.contains_key(&tid) {
            continue;
        }
        // Recorded after the acknowledgements: until then a re-run still sees the ticket as ours
        // and open, so an interrupted acknowledgement is finished.
        mark_closed.push(Op::MarkClosed { ticket_id: tid });
        ticket_states.insert(tid, TicketState::Closed);
        for l in by_ticket.get(&tid).into_iter().flatten() {
            if l.alert_state != AlertState::Open || l.state != LinkState::Linked {
                continue;
            }
            if let Some(a) = still_open.get(l.alert_id.as_str()) {
                if !settings.acknowledge_on_close {
                    continue;
                }
                if a.allows(&AlertAction::Acknowledge) {
                    ops.push(Op::Acknowledge {
                        alert_id: l.alert_id.clone(),
                        ticket_id: tid,
                    });
                } else {
                    ops.push(Op::CannotAcknowledge {
                        alert_id: l.alert_id.clone(),
                        ticket_id: tid,
                    });
                }
                acked.insert(l.alert_id.clone());
            }
        }
    }
    // Interrupted acknowledgements.
    for l in &view.links {
        if l.alert_state == AlertState::Acknowledging
            && let Some(t) = l.ticket_id
            && !acked.contains(&l.alert_id)
        {
            ops.push(Op::Acknowledge {
                alert_id: l.alert_id.clone(),
                ticket_id: t,
            });
            acked.insert(l.alert_id.clone());
        }
    }
    ops.extend(mark_closed);

    // 2. Clears: linked alerts that left Sophos.
    let gone = |l: &AlertLink| !still_open.contains_key(l.alert_id.as_str());
    for (&tid, ls) in &by_ticket {
        let open_links: Vec<&&AlertLink> = ls
            .iter()
            .filter(|l| l.alert_state == AlertState::Open && l.state == LinkState::Linked)
            .collect();
        let cleared: Vec<String> = open_links
            .iter()
            .filter(|l| gone(l) && !acked.contains(&l.alert_id))
            .map(|l| l.alert_id.clone())
            .collect();
        let in_flight = ls.iter().any(|l| l.state != LinkState::Linked);
        let state = ticket_states.get(&tid).copied();
        let all_gone = !cleared.is_empty() && cleared.len() == open_links.len() && !in_flight;
        if all_gone && matches!(state, Some(TicketState::Open | TicketState::Reopening)) {
            ops.push(Op::Resolve {
                ticket_id: tid,
                alert_ids: cleared,
            });
            ticket_states.insert(tid, TicketState::Resolving);
            if let Some(g) = ls.first().map(|l| l.group_key.clone())
                && let Some(e) = groups.get_mut(&g)
                && e.0 == TicketRef::Existing(tid)
            {
                e.1 = GroupTicket::Done;
            }
        } else {
            for a in cleared {
                ops.push(Op::MarkCleared { alert_id: a });
            }
        }
    }
    // Interrupted resolutions.
    for t in &view.tickets {
        if t.state == TicketState::Resolving
            && !ops
                .iter()
                .any(|o| matches!(o, Op::Resolve { ticket_id, .. } if *ticket_id == t.ticket_id))
        {
            let ids: Vec<String> = by_ticket
                .get(&t.ticket_id)
                .map(|ls| {
                    ls.iter()
                        .filter(|l| l.alert_state == AlertState::Open)
                        .map(|l| l.alert_id.clone())
                        .collect()
                })
                .unwrap_or_default();
            ops.push(Op::Resolve {
                ticket_id: t.ticket_id,
                alert_ids: ids,
            });
        }
    }

    // 3. Interrupted creates/notes whose alert is no longer listed.
    for l in &view.links {
        if listed.contains_key(l.alert_id.as_str()) {
            continue;
        }
        match l.state {
            LinkState::Creating => ops.push(Op::CreateTicket {
                alert_id: l.alert_id.clone(),
                group_key: l.group_key.clone(),
                company_id: 0,
                unmapped: false,
                previous_ticket_id: None,
                summary: l.summary.clone(),
                lookup_only: true,
            }),
            LinkState::Noting => {
                if let Some(t) = l.ticket_id {
                    ops.push(Op::AddNote {
                        alert_id: l.alert_id.clone(),
                        group_key: l.group_key.clone(),
                        ticket: TicketRef::Existing(t),
                    });
                }
            }
            LinkState::Linked => {}
        }
    }

    // 4. Listed alerts, oldest first: new ones, and ones whose create/note was interrupted.
    let mut new: Vec<&Alert> = view.listed.iter().collect();
    new.sort_by(|a, b| a.raised_at.cmp(&b.raised_at).then_with(|| a.id.cmp(&b.id)));
    for a in new {
        if view.done_alerts.contains(&a.id) {
            continue;
        }
        let group = content::group_key(&target.tenant_id, a);
        match links.get(a.id.as_str()) {
            Some(l) if l.state == LinkState::Linked => continue,
            Some(l) if l.state == LinkState::Noting => {
                if let Some(t) = l.ticket_id {
                    let reopening = view
                        .tickets
                        .iter()
                        .any(|x| x.ticket_id == t && x.state == TicketState::Reopening);
                    ops.push(if reopening {
                        Op::Reopen {
                            alert_id: a.id.clone(),
                            group_key: l.group_key.clone(),
                            ticket_id: t,
                        }
                    } else {
                        Op::AddNote {
                            alert_id: a.id.clone(),
                            group_key: l.group_key.clone(),
                            ticket: TicketRef::Existing(t),
                        }
                    });
                    groups.insert(
                        l.group_key.clone(),
                        (TicketRef::Existing(t), GroupTicket::Open),
                    );
                }
                continue;
            }
            Some(l) => {
                // Creating: resume with a lookup by externalXRef first.
                let (company_id, unmapped) = match &target.destination {
                    Destination::Mapped { company_id } => (*company_id, false),
                    Destination::Fallback { company_id } => (*company_id, true),
                    Destination::Skip => (0, false),
                };
                let previous = match groups.get(&l.group_key) {
                    Some((TicketRef::Existing(t), GroupTicket::Done)) => Some(*t),
                    _ => None,
                };
                ops.push(Op::CreateTicket {
                    alert_id: a.id.clone(),
                    group_key: l.group_key.clone(),
                    company_id,
                    unmapped,
                    previous_ticket_id: previous,
                    summary: l.summary.clone(),
                    lookup_only: matches!(target.destination, Destination::Skip),
                });
                groups.insert(
                    l.group_key.clone(),
                    (TicketRef::CreatedBy(a.id.clone()), GroupTicket::Open),
                );
                continue;
            }
            None => {}
        }
        let fresh = match (view.seen_before, a.raised_at) {
            (Some(seen), Some(r)) => r > seen,
            _ => true,
        };
        if !passes_filters(a, settings) {
            if fresh {
                ops.push(Op::Skip {
                    alert_id: a.id.clone(),
                    reason: SkipReason::Filtered,
                });
            }
            continue;
        }
        let (company_id, unmapped) = match &target.destination {
            Destination::Mapped { company_id } => (*company_id, false),
            Destination::Fallback { company_id } => (*company_id, true),
            Destination::Skip => {
                if fresh {
                    ops.push(Op::Skip {
                        alert_id: a.id.clone(),
                        reason: SkipReason::Unmapped,
                    });
                }
                continue;
            }
        };
        match groups.get(&group).cloned() {
            Some((tref, GroupTicket::Open)) => {
                ops.push(Op::AddNote {
                    alert_id: a.id.clone(),
                    group_key: group.clone(),
                    ticket: tref,
                });
            }
            Some((TicketRef::Existing(old), GroupTicket::Done))
                if settings.recurrence == Recurrence::Reopen =>
            {
                ops.push(Op::Reopen {
                    alert_id: a.id.clone(),
                    group_key: group.clone(),
                    ticket_id: old,
                });
                groups.insert(group, (TicketRef::Existing(old), GroupTicket::Open));
            }
            other => {
                let previous = match other {
                    Some((TicketRef::Existing(t), GroupTicket::Done)) => Some(t),
                    _ => None,
                };
                ops.push(Op::CreateTicket {
                    alert_id: a.id.clone(),
                    group_key: group.clone(),
                    company_id,
                    unmapped,
                    previous_ticket_id: previous,
                    summary: content::summary(a, &target.name, unmapped),
                    lookup_only: false,
                });
                groups.insert(
                    group,
                    (TicketRef::CreatedBy(a.id.clone()), GroupTicket::Open),
                );
            }
        }
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::AlertRole;
    use proptest::prelude::*;
    use sophos::models::{ManagedAgent, Severity};

    fn alert(i: usize, device: u8, kind: u8, sev: u8) -> Alert {
        Alert {
            id: format!("alert-{i}"),
            allowed_actions: vec![AlertAction::Acknowledge],
            category: None,
            description: Some("d".into()),
            group_key: None,
            managed_agent: Some(ManagedAgent {
                id: format!("dev-{device}"),
                agent_type: Some("computer".into()),
                name: None,
            }),
            person: None,
            product: None,
            raised_at: jiff::Timestamp::from_second(1_800_000_000 + i as i64).ok(),
            severity: Some(match sev % 3 {
                0 => Severity::Low,
                1 => Severity::Medium,
                _ => Severity::High,
            }),
            tenant: None,
            alert_type: Some(format!("Event::Endpoint::Kind{kind}")),
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
        let now =
            jiff::Timestamp::from_second(1_900_000_000).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        let mut v = view.clone();
        let mut created: HashMap<String, i64> = HashMap::new();
        for op in ops {
            let (alert_id, group, ticket, role) = match op {
                Op::CreateTicket {
                    alert_id,
                    group_key,
                    ..
                } => {
                    let id = 1000 + v.tickets.len() as i64;
                    created.insert(alert_id.clone(), id);
                    v.tickets.retain(|t| t.group_key != *group_key);
                    v.tickets.push(OwnedTicket {
                        ticket_id: id,
                        tenant_id: "t".into(),
                        group_key: group_key.clone(),
                        company_id: 1,
                        primary_alert_id: alert_id.clone(),
                        previous_ticket_id: None,
                        state: TicketState::Open,
                        summary: String::new(),
                        created_at: now,
                        updated_at: now,
                        resolved_at: None,
                        closed_at: None,
                    });
                    (alert_id, group_key, id, AlertRole::Primary)
                }
                Op::AddNote {
                    alert_id,
                    group_key,
                    ticket,
                } => {
                    let id = match ticket {
                        TicketRef::Existing(t) => *t,
                        TicketRef::CreatedBy(a) => created[a],
                    };
                    (alert_id, group_key, id, AlertRole::Repeat)
                }
                _ => continue,
            };
            v.links.push(AlertLink {
                alert_id: alert_id.clone(),
                tenant_id: "t".into(),
                group_key: group.clone(),
                ticket_id: Some(ticket),
                role,
                state: LinkState::Linked,
                alert_state: AlertState::Open,
                severity: String::new(),
                alert_type: String::new(),
                device_name: None,
                summary: String::new(),
                raised_at: None,
                created_at: now,
                updated_at: now,
                last_seen_at: now,
                cleared_at: None,
                acknowledged_at: None,
            });
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
            let listed: Vec<Alert> = specs.iter().enumerate().map(|(i, (d, k, s))| alert(i, *d, *k, *s)).collect();
            let view = TenantView { listed, ..TenantView::default() };
            let dest = if mapped { Destination::Mapped { company_id: 1 } } else { Destination::Skip };
            let settings = TicketSettings::default();
            let ops = plan_tenant(&target(dest), &view, &settings);
            // At most one ticket per group, one op per selected alert.
            let creates: Vec<&String> = ops.iter().filter_map(|o| match o { Op::CreateTicket { group_key, .. } => Some(group_key), _ => None }).collect();
            let unique: HashSet<&&String> = creates.iter().collect();
            prop_assert_eq!(unique.len(), creates.len());
            let after = apply(&view, &ops);
            let again = plan_tenant(&target(if mapped { Destination::Mapped { company_id: 1 } } else { Destination::Skip }), &after, &settings);
            prop_assert!(again.is_empty(), "second plan: {:?}", again);
        }
    }

    #[test]
    fn closed_ticket_is_acknowledged_before_it_is_marked() {
        let a = alert(1, 0, 0, 2);
        let mut view = TenantView {
            listed: vec![a.clone()],
            ..TenantView::default()
        };
        let ops = plan_tenant(
            &target(Destination::Mapped { company_id: 1 }),
            &view,
            &TicketSettings::default(),
        );
        view = apply(&view, &ops);
        let tid = view.tickets[0].ticket_id;
        view.closed_in_cw.insert(tid);
        let ops = plan_tenant(
            &target(Destination::Mapped { company_id: 1 }),
            &view,
            &TicketSettings::default(),
        );
        assert_eq!(
            ops,
            vec![
                Op::Acknowledge {
                    alert_id: a.id.clone(),
                    ticket_id: tid
                },
                Op::MarkClosed { ticket_id: tid }
            ]
        );
    }
}
