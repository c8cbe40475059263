//! The tickets area of the store, on SQLite and PostgreSQL.

use engine::ids::{CompanyId, TicketId};
use engine::store::{
    AlertLink, AlertRole, AlertState, LinkState, OwnedTicket, TicketCursor, TicketState,
    TicketStore as _,
};
use jiff::Timestamp;
use testkit::{TestStore, both_backends};

fn ts(s: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + s).unwrap()
}

fn link(id: &str, tenant: &str, group: &str, ticket: Option<i64>, at: i64) -> AlertLink {
    AlertLink {
        alert_id: id.into(),
        tenant_id: tenant.into(),
        group_key: group.into(),
        ticket_id: ticket.map(TicketId::new),
        role: AlertRole::Primary,
        state: LinkState::Creating,
        alert_state: AlertState::Open,
        severity: "high".into(),
        alert_type: "Event::Endpoint::OutOfDate".into(),
        device_name: Some("PC-ção-😀".into()),
        summary: "[High] Out of date on PC-001 — Açaí".into(),
        raised_at: Some(ts(at)),
        created_at: ts(at + 1),
        updated_at: ts(at + 1),
        last_seen_at: ts(at + 1),
        cleared_at: None,
        acknowledged_at: None,
    }
}

fn ticket(id: i64, tenant: &str, group: &str, state: TicketState) -> OwnedTicket {
    OwnedTicket {
        ticket_id: TicketId::new(id),
        tenant_id: tenant.into(),
        group_key: group.into(),
        company_id: CompanyId::new(250),
        primary_alert_id: format!("a{id}"),
        previous_ticket_id: None,
        state,
        summary: "s".into(),
        created_at: ts(id),
        updated_at: ts(id),
        resolved_at: None,
        closed_at: None,
    }
}

async fn links_round_trip(t: TestStore) {
    let s = &t.store;
    let mut l = link("a1", "t1", "g1", None, 0);
    s.put_alert_link(&l).await.unwrap();
    assert_eq!(s.alert_link("a1").await.unwrap(), Some(l.clone()));
    l.state = LinkState::Linked;
    l.ticket_id = Some(TicketId::new(1001));
    s.put_alert_link(&l).await.unwrap();
    s.put_alert_link(&link("a2", "t1", "g1", Some(1001), 5))
        .await
        .unwrap();
    s.put_alert_link(&link("b1", "t2", "g2", None, 3))
        .await
        .unwrap();
    assert_eq!(
        s.alert_link("a1").await.unwrap().unwrap().ticket_id,
        Some(TicketId::new(1001))
    );
    assert_eq!(
        s.alert_links_for_ticket(TicketId::new(1001))
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(s.active_alert_links("t1").await.unwrap().len(), 2);
    // A settled, cleared link is no longer active.
    l.alert_state = AlertState::Cleared;
    l.cleared_at = Some(ts(9));
    s.put_alert_link(&l).await.unwrap();
    let active: Vec<String> = s
        .active_alert_links("t1")
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.alert_id)
        .collect();
    assert_eq!(active, vec!["a2"]);
    let recent: Vec<String> = s
        .recent_alert_links(None, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|x| x.alert_id)
        .collect();
    assert_eq!(recent, vec!["a2", "b1", "a1"]);
    assert_eq!(s.recent_alert_links(Some("t2"), 10).await.unwrap().len(), 1);
    let counts = s.count_alert_links("t1").await.unwrap();
    assert_eq!(
        counts,
        vec![("cleared".to_owned(), 1), ("open".to_owned(), 1)]
    );
}

async fn tickets_and_cursors(t: TestStore) {
    let s = &t.store;
    s.put_owned_ticket(&ticket(1, "t1", "g1", TicketState::Closed))
        .await
        .unwrap();
    s.put_owned_ticket(&ticket(5, "t1", "g1", TicketState::Open))
        .await
        .unwrap();
    s.put_owned_ticket(&ticket(3, "t1", "g2", TicketState::Resolved))
        .await
        .unwrap();
    s.put_owned_ticket(&ticket(4, "t2", "g1", TicketState::Open))
        .await
        .unwrap();
    let latest: Vec<TicketId> = s
        .latest_tickets_for_tenant("t1")
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.ticket_id)
        .collect();
    assert_eq!(latest, vec![3, 5]);
    let open: Vec<TicketId> = s
        .owned_tickets_in_state(TicketState::Open)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.ticket_id)
        .collect();
    assert_eq!(open, vec![4, 5]);
    let mut t5 = s.owned_ticket(TicketId::new(5)).await.unwrap().unwrap();
    t5.state = TicketState::Resolving;
    t5.previous_ticket_id = Some(TicketId::new(1));
    s.put_owned_ticket(&t5).await.unwrap();
    assert_eq!(s.owned_ticket(TicketId::new(5)).await.unwrap(), Some(t5));
    assert_eq!(
        s.recent_owned_tickets(Some("t1"), 2).await.unwrap().len(),
        2
    );

    assert_eq!(s.ticket_cursor("t1").await.unwrap(), None);
    let c = TicketCursor {
        tenant_id: "t1".into(),
        last_raised_at: Some(ts(10)),
        last_poll_at: Some(ts(11)),
        forbidden: true,
        advice: Some("turn on Partner Assistance".into()),
        next_retry_at: Some(ts(20)),
        last_error: Some("403".into()),
    };
    s.put_ticket_cursor(&c).await.unwrap();
    assert_eq!(s.ticket_cursor("t1").await.unwrap(), Some(c.clone()));
    let c2 = TicketCursor {
        forbidden: false,
        advice: None,
        next_retry_at: None,
        last_error: None,
        ..c
    };
    s.put_ticket_cursor(&c2).await.unwrap();
    assert_eq!(s.ticket_cursors().await.unwrap(), vec![c2]);
}

both_backends!(links_round_trip, tickets_and_cursors);
