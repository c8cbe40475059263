//! The usage store area on both backends.

use engine::ids::{AdditionId, AgreementId, CatalogItemId};
use engine::store::{
    AdditionLink, AuditFilter, CoreStore as _, JournalKind, JournalState, NewAudit,
    NewJournalEntry, UsageStore as _,
};
use testkit::{TestStore, both_backends};

async fn products_and_links_round_trip(t: TestStore) {
    let s = &t.store;
    assert!(s.list_usage_products().await.unwrap().is_empty());
    s.set_product_selected("Sophos_Intercept_X", true)
        .await
        .unwrap();
    s.set_product_catalog(
        "Sophos_Intercept_X",
        Some(CatalogItemId::new(901)),
        Some("Sophos_Intercept_X"),
        Some("created"),
    )
    .await
    .unwrap();
    s.set_product_catalog(
        "Sophos_MTR_Standard",
        Some(CatalogItemId::new(902)),
        Some("MY-MTR"),
        Some("mapped"),
    )
    .await
    .unwrap();
    let rows = s.list_usage_products().await.unwrap();
    assert_eq!(rows.len(), 2);
    let ix = rows
        .iter()
        .find(|r| r.identifier == "Sophos_Intercept_X")
        .unwrap();
    assert!(ix.selected, "setting the catalog keeps the selection");
    assert_eq!(ix.catalog_item_id, Some(CatalogItemId::new(901)));
    let mtr = rows
        .iter()
        .find(|r| r.identifier == "Sophos_MTR_Standard")
        .unwrap();
    assert!(!mtr.selected);
    assert_eq!(mtr.link_source.as_deref(), Some("mapped"));

    let mut link = AdditionLink {
        agreement_id: AgreementId::new(11),
        product: "Sophos_Intercept_X".into(),
        tenant_id: "t1".into(),
        addition_id: AdditionId::new(5001),
        catalog_item_id: CatalogItemId::new(901),
        created_by_us: true,
        quantity: 12.0,
        cancelled_by_us: false,
    };
    s.upsert_addition_link(&link).await.unwrap();
    link.quantity = 14.5;
    link.cancelled_by_us = true;
    s.upsert_addition_link(&link).await.unwrap();
    assert_eq!(
        s.list_addition_links(Some("t1")).await.unwrap(),
        vec![link.clone()]
    );
    assert!(s.list_addition_links(Some("t2")).await.unwrap().is_empty());
}

async fn journal_states_and_atomic_finish(t: TestStore) {
    let s = &t.store;
    let entry = |product: &str| NewJournalEntry {
        run_id: Some(1),
        tenant_id: "t1".into(),
        agreement_id: AgreementId::new(11),
        product: product.into(),
        kind: JournalKind::Create,
        addition_id: None,
        before_qty: None,
        after_qty: Some(3.0),
        reason: "test".into(),
    };
    let ids = s
        .journal_plan(&[entry("A"), entry("B"), entry("C")])
        .await
        .unwrap();
    assert_eq!(ids.len(), 3);
    s.journal_start(ids[0]).await.unwrap();
    let link = AdditionLink {
        agreement_id: AgreementId::new(11),
        product: "A".into(),
        tenant_id: "t1".into(),
        addition_id: AdditionId::new(77),
        catalog_item_id: CatalogItemId::new(5),
        created_by_us: true,
        quantity: 3.0,
        cancelled_by_us: false,
    };
    let audit = NewAudit {
        at: jiff::Timestamp::now(),
        actor: "test".into(),
        action: engine::audit::AuditKind::UsageCreateAddition,
        subject: "agreement:11/product:A".into(),
        before: None,
        after: Some(serde_json::json!({"quantity": 3.0})),
        reason: "test".into(),
    };
    s.journal_finish(
        ids[0],
        JournalState::Done,
        Some(AdditionId::new(77)),
        None,
        Some(&link),
        Some(&audit),
    )
    .await
    .unwrap();
    s.journal_start(ids[1]).await.unwrap();
    let open = s.journal_open().await.unwrap();
    let states: Vec<(String, JournalState)> =
        open.iter().map(|e| (e.product.clone(), e.state)).collect();
    assert_eq!(
        states,
        vec![
            ("B".to_owned(), JournalState::Started),
            ("C".to_owned(), JournalState::Planned)
        ]
    );
    s.journal_resolve(&[ids[1], ids[2]]).await.unwrap();
    assert!(s.journal_open().await.unwrap().is_empty());
    let recent = s.journal_recent(10).await.unwrap();
    assert_eq!(recent[2].state, JournalState::Done);
    assert_eq!(recent[2].addition_id, Some(AdditionId::new(77)));
    assert_eq!(s.list_addition_links(None).await.unwrap(), vec![link]);
    let audits = s
        .list_audit(&AuditFilter {
            action: Some("usage.create_addition".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audits.len(), 1);
}

/// A user-added code list that cannot be read is an error, and stays as it was: a change must never
/// overwrite what it could not read.
async fn unreadable_extra_codes_are_refused_not_replaced(t: TestStore) {
    let s = &t.store;
    let garbage = serde_json::json!("not a code list");
    s.set_setting(engine::products::EXTRA_CODES_SETTING, &garbage)
        .await
        .unwrap();
    let err = engine::products::add_code(s, "Sophos_Intercept_X", "NEW-CODE", "test")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("products.extra_codes"), "{err}");
    let kept = s
        .get_setting(engine::products::EXTRA_CODES_SETTING)
        .await
        .unwrap();
    assert_eq!(kept, Some(garbage));
}

both_backends!(
    products_and_links_round_trip,
    journal_states_and_atomic_finish,
    unreadable_extra_codes_are_refused_not_replaced
);
