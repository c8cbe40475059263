//! Mapping rules, switches, audit, gone flags, listings with warnings and CSV import/export, on both
//! store backends (store filled directly, no vendors).

use engine::ids::{AgreementId, CompanyId};
use engine::mapping::{self, CustomerFilter, MappingError, MappingInput, Refusal, WarningKind};
use engine::store::{
    AgreementRecord, AuditFilter, CompanyRecord, CoreStore as _, Mapping, MappingSource,
    MappingStore as _, MappingWrite, NewAudit, RecordKind, Store, TenantRecord,
};
use jiff::Timestamp;
use testkit::{TestStore, both_backends};

fn tenant(id: &str, name: &str) -> TenantRecord {
    TenantRecord {
        id: id.into(),
        name: name.into(),
        billing_type: Some("usage".into()),
        data_region: Some("eu01".into()),
        api_host: Some("https://api-eu01.central.sophos.com".into()),
        status: None,
        first_seen: Timestamp::UNIX_EPOCH,
        last_seen: Timestamp::UNIX_EPOCH,
        gone: false,
    }
}

fn company(id: i64, identifier: &str, name: &str) -> CompanyRecord {
    CompanyRecord {
        id: CompanyId::new(id),
        identifier: identifier.into(),
        name: name.into(),
        status: Some("Active".into()),
        deleted: false,
        inactive: false,
        first_seen: Timestamp::UNIX_EPOCH,
        last_seen: Timestamp::UNIX_EPOCH,
        gone: false,
    }
}

fn agreement(id: i64, company_id: i64, name: &str) -> AgreementRecord {
    AgreementRecord {
        id: AgreementId::new(id),
        company_id: Some(CompanyId::new(company_id)),
        name: name.into(),
        type_name: Some("Managed Services".into()),
        status: Some("Active".into()),
        cancelled: false,
        expired: false,
        billing_cycle: Some("Monthly".into()),
        first_seen: Timestamp::UNIX_EPOCH,
        last_seen: Timestamp::UNIX_EPOCH,
        gone: false,
    }
}

const T1: &str = "11111111-1111-4111-8111-111111111111";
const T2: &str = "22222222-2222-4222-8222-222222222222";
const T3: &str = "33333333-3333-4333-8333-333333333333";

/// Tenants 1-3, companies 250 ("Customer One") / 251 / 252, agreements 1 (of 250), 2 (of 251), 3 (of 252).
async fn seed(store: &Store) -> Timestamp {
    let at: Timestamp = "2026-11-01T00:00:00Z".parse().unwrap();
    store
        .upsert_tenants(
            &[
                tenant(T1, "Customer One Ltda"),
                tenant(T2, "Customer Two"),
                tenant(T3, "Customer Three"),
            ],
            at,
        )
        .await
        .unwrap();
    store
        .upsert_companies(
            &[
                company(250, "CustomerOne", "Customer One Ltda"),
                company(251, "CustomerTwo", "Customer Two LLC"),
                company(252, "CustomerThree", "Customer Three GmbH"),
            ],
            at,
        )
        .await
        .unwrap();
    store
        .upsert_agreements(
            &[
                agreement(1, 250, "Managed Services"),
                agreement(2, 251, "Managed Services"),
                agreement(3, 252, "Sophos MDR"),
            ],
            at,
        )
        .await
        .unwrap();
    at
}

fn input(tenant: &str, company: i64, agreement: Option<i64>) -> MappingInput {
    MappingInput {
        agreement_id: agreement.map(AgreementId::new),
        ..MappingInput::new(tenant.into(), CompanyId::new(company))
    }
}

fn refused(r: Result<mapping::MappingChange, MappingError>) -> Refusal {
    match r {
        Err(MappingError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn reference_scenarios(t: TestStore) {
    let s = &t.store;
    seed(s).await;
    // Scenario 1: Sophos customer 1 -> ConnectWise customer 1 + agreement 1: valid.
    let c = mapping::set_mapping(s, "alice", &input(T1, 250, Some(1)))
        .await
        .unwrap();
    assert!(c.changed());
    let m = s.get_mapping(T1).await.unwrap().unwrap();
    assert_eq!(
        (m.company_id.get(), m.agreement_id.map(AgreementId::get)),
        (250, Some(1))
    );
    assert_eq!(m.source, MappingSource::Manual);
    assert!(!m.usage_sync && !m.ticket_sync, "switches default off");

    // Scenario 2: Sophos customer 1 -> customer 2 + agreement 2: customer 1 already has a mapping.
    let r = refused(mapping::set_mapping(s, "alice", &input(T1, 251, Some(2))).await);
    assert!(matches!(r, Refusal::TenantAlreadyMapped { .. }), "{r:?}");
    let text = r.to_string();
    assert!(
        text.contains("Customer One Ltda") && text.contains("(id 250)"),
        "{text}"
    );

    // Scenario 3: Sophos customer 2 -> customer 2 + agreement 1: agreement 1 is used by customer 1.
    let r = refused(mapping::set_mapping(s, "alice", &input(T2, 251, Some(1))).await);
    match &r {
        Refusal::AgreementTaken {
            holder_tenant_id, ..
        } => assert_eq!(holder_tenant_id, T1),
        other => panic!("{other:?}"),
    }
    assert!(
        r.to_string().contains(T1),
        "names the tenant holding it: {r}"
    );

    // A company serves one tenant.
    let r = refused(mapping::set_mapping(s, "alice", &input(T2, 250, None)).await);
    assert!(
        matches!(&r, Refusal::CompanyTaken { holder_tenant_id, .. } if holder_tenant_id == T1),
        "{r:?}"
    );

    // The agreement must belong to the company.
    let r = refused(mapping::set_mapping(s, "alice", &input(T2, 251, Some(3))).await);
    assert!(matches!(r, Refusal::AgreementNotOfCompany { .. }), "{r:?}");

    // Usage sync needs an agreement; ticket sync does not.
    let mut i = input(T2, 251, None);
    i.usage_sync = Some(true);
    let r = refused(mapping::set_mapping(s, "alice", &i).await);
    assert!(
        matches!(r, Refusal::UsageSyncNeedsAgreement { .. }),
        "{r:?}"
    );
    i.usage_sync = None;
    i.ticket_sync = Some(true);
    mapping::set_mapping(s, "alice", &i).await.unwrap();

    // Replacing is explicit; then the old company is free again.
    let mut i = input(T1, 252, Some(3));
    i.replace = true;
    mapping::set_mapping(s, "bob", &i).await.unwrap();
    mapping::set_mapping(s, "bob", &input(T3, 250, Some(1)))
        .await
        .unwrap();

    // Nothing refused was written.
    let all = s.list_mappings().await.unwrap();
    let pairs: Vec<(&str, i64, Option<i64>)> = all
        .iter()
        .map(|m| {
            (
                m.tenant_id.as_str(),
                m.company_id.get(),
                m.agreement_id.map(AgreementId::get),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        vec![(T1, 252, Some(3)), (T2, 251, None), (T3, 250, Some(1))]
    );
}

async fn database_enforces_one_to_one(t: TestStore) {
    let s = &t.store;
    seed(s).await;
    let now = Timestamp::now();
    let m = |tenant: &str, company: i64, agreement: Option<i64>| MappingWrite {
        tenant_id: tenant.into(),
        after: Some(Mapping {
            tenant_id: tenant.into(),
            company_id: CompanyId::new(company),
            agreement_id: agreement.map(AgreementId::new),
            usage_sync: false,
            ticket_sync: false,
            source: MappingSource::Manual,
            confirmed_by: "test".into(),
            confirmed_at: now,
        }),
        audit: NewAudit {
            at: now,
            actor: "test".into(),
            action: engine::audit::AuditKind::MappingSet,
            subject: format!("tenant:{tenant}"),
            before: None,
            after: None,
            reason: "test".into(),
        },
    };
    s.write_mappings(&[m(T1, 250, Some(1))]).await.unwrap();
    // Same company for a second tenant: the unique constraint refuses, and the transaction rolls back.
    assert!(
        s.write_mappings(&[m(T3, 252, None), m(T2, 250, None)])
            .await
            .is_err()
    );
    assert!(s.write_mappings(&[m(T2, 251, Some(1))]).await.is_err());
    assert_eq!(s.list_mappings().await.unwrap().len(), 1, "all or nothing");
    // A swap in one call is fine (old rows go first).
    s.write_mappings(&[m(T1, 251, Some(2)), m(T2, 250, Some(1))])
        .await
        .unwrap();
    let audits = s.list_audit(&AuditFilter::default()).await.unwrap();
    assert_eq!(
        audits.len(),
        3,
        "one audit entry per applied write, none for the rolled-back ones"
    );
}

async fn switches_clear_and_audit(t: TestStore) {
    let s = &t.store;
    seed(s).await;
    mapping::set_mapping(s, "alice", &input(T1, 250, Some(1)))
        .await
        .unwrap();
    let c = mapping::set_switches(s, "bob", T1, Some(true), Some(true))
        .await
        .unwrap();
    assert!(c.after.as_ref().unwrap().usage_sync && c.after.as_ref().unwrap().ticket_sync);
    // Same request again changes nothing and writes no audit entry.
    let again = mapping::set_switches(s, "bob", T1, Some(true), None)
        .await
        .unwrap();
    assert!(!again.changed());
    // Switches on an unmapped tenant are refused.
    let r = refused(mapping::set_switches(s, "bob", T2, None, Some(true)).await);
    assert!(matches!(r, Refusal::NotMapped { .. }));
    // Removing the agreement while usage sync is on is refused.
    let mut i = input(T1, 250, None);
    i.clear_agreement = true;
    assert!(matches!(
        refused(mapping::set_mapping(s, "bob", &i).await),
        Refusal::UsageSyncNeedsAgreement { .. }
    ));
    let c = mapping::clear_mapping(s, "carol", T1).await.unwrap();
    assert!(c.changed() && c.after.is_none());
    assert!(s.get_mapping(T1).await.unwrap().is_none());

    let audits = s
        .list_audit(&AuditFilter {
            subject: Some(mapping::audit_subject(T1)),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let seen: Vec<(&str, &str)> = audits
        .iter()
        .map(|a| (a.actor.as_str(), a.action.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            ("carol", "mapping.clear"),
            ("bob", "mapping.switches"),
            ("alice", "mapping.set")
        ]
    );
    let clear = &audits[0];
    assert_eq!(clear.before.as_ref().unwrap()["company_id"], 250);
    assert_eq!(clear.before.as_ref().unwrap()["usage_sync"], true);
    assert!(clear.after.is_none());
    assert!(audits[2].before.is_none() && audits[2].after.is_some());
}

async fn gone_and_warnings(t: TestStore) {
    let s = &t.store;
    let t0 = seed(s).await;
    mapping::set_mapping(s, "alice", &input(T1, 250, Some(1)))
        .await
        .unwrap();
    mapping::set_mapping(s, "alice", &input(T2, 251, Some(2)))
        .await
        .unwrap();
    // Next refresh: tenant 2 and agreement 2 are missing, company 250 deleted, agreement 1 cancelled.
    let t1: Timestamp = "2026-11-02T00:00:00Z".parse().unwrap();
    let counts = s
        .upsert_tenants(
            &[
                tenant(T1, "Customer One Ltda (renamed)"),
                tenant(T3, "Customer Three"),
            ],
            t1,
        )
        .await
        .unwrap();
    assert_eq!((counts.seen, counts.renamed, counts.new), (2, 1, 0));
    assert_eq!(counts.renames[0].old, "Customer One Ltda");
    let mut deleted = company(250, "CustomerOne", "Customer One Ltda");
    deleted.deleted = true;
    s.upsert_companies(
        &[
            deleted,
            company(251, "CustomerTwo", "Customer Two LLC"),
            company(252, "CustomerThree", "Customer Three GmbH"),
        ],
        t1,
    )
    .await
    .unwrap();
    let mut cancelled = agreement(1, 250, "Managed Services");
    cancelled.cancelled = true;
    cancelled.status = Some("Cancelled".into());
    s.upsert_agreements(&[cancelled, agreement(3, 252, "Sophos MDR")], t1)
        .await
        .unwrap();
    assert_eq!(s.mark_gone(RecordKind::Tenants, t1).await.unwrap(), 1);
    assert_eq!(s.mark_gone(RecordKind::Agreements, t1).await.unwrap(), 1);
    assert_eq!(s.mark_gone(RecordKind::Companies, t1).await.unwrap(), 0);
    assert!(t0 < t1);
    // Marked, not dropped.
    assert_eq!(s.count_records(RecordKind::Tenants).await.unwrap(), (3, 2));
    assert!(s.get_tenant(T2).await.unwrap().unwrap().gone);

    let rows = mapping::list_customers(
        s,
        &CustomerFilter {
            warnings_only: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let kinds = |id: &str| -> Vec<WarningKind> {
        rows.iter()
            .find(|r| r.tenant.id == id)
            .map(|r| r.warnings.iter().map(|w| w.kind).collect())
            .unwrap_or_default()
    };
    assert_eq!(
        kinds(T1),
        vec![WarningKind::CompanyDeleted, WarningKind::AgreementCancelled]
    );
    assert_eq!(
        kinds(T2),
        vec![WarningKind::TenantGone, WarningKind::AgreementGone]
    );
    assert!(
        rows.iter()
            .all(|r| r.warnings.iter().all(|w| !w.advice.is_empty()))
    );
    let one = rows.iter().find(|r| r.tenant.id == T1).unwrap();
    assert_eq!(
        one.tenant.name, "Customer One Ltda (renamed)",
        "rename shows in the listing"
    );

    // A new mapping to a deleted company or a cancelled agreement is refused.
    let r = refused(mapping::set_mapping(s, "alice", &input(T3, 250, None)).await);
    assert!(matches!(
        r,
        Refusal::CompanyTaken { .. } | Refusal::CompanyRemoved { .. }
    ));
    mapping::clear_mapping(s, "alice", T1).await.unwrap();
    let r = refused(mapping::set_mapping(s, "alice", &input(T3, 250, None)).await);
    assert!(matches!(r, Refusal::CompanyRemoved { .. }), "{r:?}");

    // Filters.
    let unmapped = mapping::list_customers(
        s,
        &CustomerFilter {
            mapped: Some(false),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let ids: Vec<&str> = unmapped.iter().map(|r| r.tenant.id.as_str()).collect();
    assert_eq!(ids, vec![T1, T3], "gone unmapped tenants are hidden");
    let found = mapping::list_customers(
        s,
        &CustomerFilter {
            search: Some("customer two llc".into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].tenant.id, T2);
}

async fn csv_round_trip_and_all_or_nothing(t: TestStore) {
    let s = &t.store;
    seed(s).await;
    mapping::set_mapping(s, "alice", &input(T1, 250, Some(1)))
        .await
        .unwrap();
    mapping::set_switches(s, "alice", T1, Some(true), None)
        .await
        .unwrap();
    let mut out = Vec::new();
    assert_eq!(mapping::export_csv(s, &mut out).await.unwrap(), 3);
    let text = String::from_utf8(out).unwrap();
    assert!(
        text.starts_with("tenant_id,tenant_name,company_id,"),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "{T1},Customer One Ltda,250,CustomerOne,Customer One Ltda,1,Managed Services,on,off"
        )),
        "{text}"
    );

    // Importing the export changes nothing.
    let same = mapping::import_csv(s, "bob", text.as_bytes(), "export.csv", false)
        .await
        .unwrap();
    assert_eq!((same.rows, same.unchanged, same.changes.len()), (3, 3, 0));

    // Edited file: map tenant 2 by identifier, tenant 3 by id with its agreement, clear tenant 1.
    let edited = format!(
        "tenant_id,company_id,company_identifier,agreement_id,usage_sync,ticket_sync\n\
         {T1},,,,off,off\n{T2},,customertwo,2,on,yes\n{T3},252,,3,off,on\n"
    );
    let dry = mapping::import_csv(s, "bob", edited.as_bytes(), "edit.csv", true)
        .await
        .unwrap();
    assert_eq!(dry.changes.len(), 3);
    assert!(
        s.get_mapping(T2).await.unwrap().is_none(),
        "dry run writes nothing"
    );
    let done = mapping::import_csv(s, "bob", edited.as_bytes(), "edit.csv", false)
        .await
        .unwrap();
    assert_eq!(done.changes.len(), 3);
    assert!(s.get_mapping(T1).await.unwrap().is_none());
    let m2 = s.get_mapping(T2).await.unwrap().unwrap();
    assert_eq!(
        (
            m2.company_id.get(),
            m2.agreement_id.map(AgreementId::get),
            m2.usage_sync,
            m2.ticket_sync,
            m2.source
        ),
        (251, Some(2), true, true, MappingSource::Import)
    );

    // Round trip of the new state.
    let mut out = Vec::new();
    mapping::export_csv(s, &mut out).await.unwrap();
    let again = mapping::import_csv(s, "bob", out.as_slice(), "export2.csv", false)
        .await
        .unwrap();
    assert_eq!(again.changes.len(), 0);

    // A file with bad rows: nothing is applied, every bad row is reported.
    let before = s.list_mappings().await.unwrap();
    let bad = format!(
        "tenant_id,company_id,agreement_id,usage_sync,ticket_sync\n\
         {T1},250,1,on,off\n\
         {T2},999,,off,off\n\
         {T3},252,2,off,maybe\n\
         nope,251,,off,off\n\
         {T1},250,,off,off\n"
    );
    let err = mapping::import_csv(s, "bob", bad.as_bytes(), "bad.csv", false)
        .await
        .unwrap_err();
    let MappingError::ImportRejected(problems) = &err else {
        panic!("{err:?}")
    };
    let lines: Vec<u64> = problems.iter().map(|p| p.line).collect();
    assert_eq!(lines, vec![3, 4, 5, 6], "{err}");
    let text = err.to_string();
    assert!(text.contains("999"), "unknown company named: {text}");
    assert!(text.contains("maybe"), "bad switch named: {text}");
    assert!(
        text.contains("line 2"),
        "duplicate tenant points at its first line: {text}"
    );
    assert_eq!(s.list_mappings().await.unwrap(), before, "all or nothing");

    // Two rows wanting the same agreement: both reported, naming each other.
    let dup = format!(
        "tenant_id,company_id,agreement_id,usage_sync,ticket_sync\n{T1},250,1,off,off\n{T2},251,1,off,off\n"
    );
    let err = mapping::import_csv(s, "bob", dup.as_bytes(), "dup.csv", false)
        .await
        .unwrap_err();
    let MappingError::ImportRejected(problems) = &err else {
        panic!("{err:?}")
    };
    assert!(
        problems
            .iter()
            .any(|p| p.line == 3 && p.problems.iter().any(|x| x.contains(T1))),
        "{err}"
    );
    assert_eq!(s.list_mappings().await.unwrap(), before);
}

async fn resolve_by_name_and_identifier(t: TestStore) {
    let s = &t.store;
    seed(s).await;
    assert_eq!(
        mapping::resolve_tenant(s, "customer two").await.unwrap().id,
        T2
    );
    assert_eq!(mapping::resolve_tenant(s, T3).await.unwrap().id, T3);
    assert!(matches!(
        mapping::resolve_tenant(s, "nobody").await,
        Err(MappingError::NotFound(_))
    ));
    assert_eq!(
        mapping::resolve_company(s, "customerthree")
            .await
            .unwrap()
            .id,
        252
    );
    assert_eq!(mapping::resolve_company(s, "251").await.unwrap().id, 251);
    let hits = mapping::search_companies(s, "custmer two", 5)
        .await
        .unwrap();
    assert_eq!(hits[0].id, 251, "{hits:?}");
    let agreements = mapping::agreements_for_company(s, CompanyId::new(250), false)
        .await
        .unwrap();
    assert_eq!(agreements.len(), 1);
    assert!(agreements[0].usable());
}

both_backends!(
    reference_scenarios,
    database_enforces_one_to_one,
    switches_clear_and_audit,
    gone_and_warnings,
    csv_round_trip_and_all_or_nothing,
    resolve_by_name_and_identifier,
);
