//! The client against the in-process ConnectWise emulator: every resource, paging, permissions,
//! rate limits, codebase moves and slow POSTs.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use connectwise::models::*;
use connectwise::{Client, Conditions, CwError, Query, RetryPolicy};
use futures::TryStreamExt;
use sandbox::connectwise::{
    Access, CwConfig as EmuConfig, CwCredentials, CwEmulator, Level as RoleLevel, Role,
    RoleFunction, Table,
};
use serde_json::Value;

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(200),
        max_retry_after: Duration::from_secs(10),
        jitter: true,
    }
}

fn config_for(emu: &CwEmulator, creds: &CwCredentials) -> connectwise::CwConfig {
    let mut cfg = connectwise::CwConfig::new(
        emu.site_url(),
        creds.company_id.clone(),
        creds.public_key.clone(),
        creds.private_key.clone(),
        creds.client_id.clone(),
    );
    cfg.allow_http = true;
    cfg.rate_limit = connectwise::RateLimit::Off;
    cfg.timeout = Duration::from_secs(20);
    cfg.retry = fast_retry();
    cfg
}

async fn demo() -> (CwEmulator, Client) {
    let emu = CwEmulator::spawn(EmuConfig::demo(7))
        .await
        .expect("emulator");
    let cw = Client::connect(config_for(&emu, &emu.credentials()))
        .await
        .expect("connect");
    (emu, cw)
}

fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().expect("id")
}

#[tokio::test]
async fn connect_discovers_codebase_and_checks_credentials() {
    let (emu, cw) = demo().await;
    assert_eq!(cw.codebase(), emu.codebase());
    let info = cw.system_info().await.expect("system info");
    assert!(info.version.is_some());
    let ci = Client::company_info(&config_for(&emu, &emu.credentials()))
        .await
        .unwrap()
        .expect("known company");
    assert_eq!(ci.codebase.as_deref(), Some(emu.codebase().as_str()));

    let mut unknown = config_for(&emu, &emu.credentials());
    unknown.company_id = "nosuchcompany".into();
    assert_eq!(Client::company_info(&unknown).await.unwrap(), None);
    let err = Client::connect(unknown).await.unwrap_err();
    assert!(matches!(err, CwError::InvalidConfig { .. }), "{err:?}");

    let mut bad = config_for(&emu, &emu.credentials());
    bad.private_key = "wrong".to_string().into();
    let cw_bad = Client::connect(bad).await.unwrap();
    let err = cw_bad.company(250).await.unwrap_err();
    assert!(matches!(err, CwError::Auth { .. }), "{err:?}");
    assert!(!err.to_string().contains("wrong"));

    let mut plain = config_for(&emu, &emu.credentials());
    plain.allow_http = false;
    assert!(matches!(
        Client::connect(plain).await.unwrap_err(),
        CwError::InvalidConfig { .. }
    ));
}

#[tokio::test]
async fn companies_read_count_and_hostile_names() {
    let (emu, cw) = demo().await;
    let stored = emu.records(Table::Companies);
    let all: Vec<Company> = cw.companies(()).try_collect().await.unwrap();
    assert_eq!(all.len(), stored.len());
    assert_eq!(cw.count_companies(()).await.unwrap() as usize, stored.len());
    let first = &stored[0];
    let c = cw.company(id_of(first)).await.unwrap();
    assert_eq!(c.name.as_deref(), first["name"].as_str());
    assert!(matches!(
        cw.company(999_999).await.unwrap_err(),
        CwError::NotFound { .. }
    ));

    // Every live company is found by its exact name, whatever quotes it holds.
    let mut hostile = 0;
    for rec in stored
        .iter()
        .filter(|r| r["deletedFlag"] != Value::Bool(true))
    {
        let name = rec["name"].as_str().unwrap();
        if name.contains('\'') || name.contains('"') || name.contains('&') {
            hostile += 1;
        }
        let found = cw.find_companies_by_name(name).await.unwrap();
        assert!(found.iter().any(|c| c.id == Some(id_of(rec))), "{name:?}");
        assert!(found.iter().all(|c| c.deleted_flag != Some(true)));
    }
    assert!(hostile > 0, "the demo world should hold hostile names");

    // Both quote kinds at once: not expressible with '=', still found through the fallback.
    let nasty = "O'Brien \"Tech\" & Co";
    let id = emu.insert_record(
        Table::Companies,
        serde_json::json!({"identifier": "OBrienTech", "name": nasty, "deletedFlag": false, "types": []}),
    );
    assert!(matches!(
        Conditions::new().eq("name", nasty).build(),
        Err(CwError::Unquotable { .. })
    ));
    let found = cw.find_companies_by_name(nasty).await.unwrap();
    assert_eq!(
        found.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![Some(id)]
    );
    let by_ident = cw.find_company_by_identifier("OBrienTech").await.unwrap();
    assert_eq!(by_ident.and_then(|c| c.id), Some(id));
}

#[tokio::test]
async fn paging_2500_records_both_ways() {
    let emu = CwEmulator::spawn(EmuConfig::sized(11, 2600)).await.unwrap();
    let cw = Client::connect(config_for(&emu, &emu.credentials()))
        .await
        .unwrap();
    let want: Vec<i64> = emu.records(Table::Companies).iter().map(id_of).collect();
    assert!(want.len() >= 2500, "only {} companies", want.len());

    // Forward-only, pageSize 1000: ids strictly ascending, all of them, one request per page.
    let before = emu.request_counts().total;
    let fwd: Vec<i64> = cw
        .companies(())
        .map_ok(|c| c.id.unwrap())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(fwd, want);
    let pages = emu.request_counts().total - before;
    assert!(
        pages <= want.len().div_ceil(1000) as u64 + 1,
        "{pages} requests"
    );

    // Navigable (orderBy forces it): the same set.
    let nav: Vec<i64> = cw
        .companies(Query::new().order_by("id desc"))
        .map_ok(|c| c.id.unwrap())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(nav.len(), want.len());
    assert_eq!(
        nav.iter().copied().collect::<BTreeSet<_>>(),
        want.iter().copied().collect()
    );
    assert!(nav.windows(2).all(|w| w[0] > w[1]));

    // Small pages keep the conditions on every page.
    let mut small = config_for(&emu, &emu.credentials());
    small.page_size = 97;
    let cw_small = Client::connect(small).await.unwrap();
    let live = Conditions::new().eq_bool("deletedFlag", false);
    let want_live = cw.count_companies(live.clone()).await.unwrap() as usize;
    let fwd_live: Vec<Company> = cw_small
        .companies(live.clone())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(fwd_live.len(), want_live);
    assert!(fwd_live.iter().all(|c| c.deleted_flag == Some(false)));
    let nav_live: Vec<Company> = cw_small
        .companies(Query::new().conditions(live).order_by("name"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(nav_live.len(), want_live);
}

#[tokio::test]
async fn agreements_additions_and_patch() {
    let (emu, cw) = demo().await;
    let agr = emu
        .records(Table::Agreements)
        .into_iter()
        .find(|a| a["cancelledFlag"] == Value::Bool(false) && a["prorateFlag"] != Value::Bool(true))
        .expect("an active agreement");
    let agr_id = id_of(&agr);
    let company_id = agr["company"]["id"].as_i64().unwrap();
    let list = cw.agreements_for_company(company_id, false).await.unwrap();
    assert!(list.iter().any(|a| a.id == Some(agr_id)));
    assert!(list.iter().all(|a| a.cancelled_flag == Some(false)));
    assert_eq!(cw.agreement(agr_id).await.unwrap().id, Some(agr_id));
    assert!(!cw.agreement_types().await.unwrap().is_empty());

    let product = emu
        .records(Table::Catalog)
        .into_iter()
        .next()
        .expect("catalog item");
    let product_id = id_of(&product);
    let existing = cw
        .find_addition_for_product(agr_id, product_id)
        .await
        .unwrap();
    let addition = match existing {
        Some(a) => a,
        None => cw
            .create_addition(
                agr_id,
                &Addition {
                    product: Some(Reference::id(product_id)),
                    quantity: Some(20.0),
                    bill_customer: Some(BillCustomer::Billable),
                    effective_date: Some("2026-12-01T00:00:00Z".parse().unwrap()),
                    description: Some("Sophos Central Intercept X Advanced".into()),
                    ..Addition::default()
                },
            )
            .await
            .unwrap(),
    };
    let add_id = addition.id.unwrap();
    let patched = cw
        .patch_addition(agr_id, add_id, &[PatchOp::replace("quantity", 25)])
        .await
        .unwrap();
    assert_eq!(patched.quantity, Some(25.0));
    assert_eq!(
        cw.addition(agr_id, add_id).await.unwrap().quantity,
        Some(25.0)
    );
    let stored = emu.additions(agr_id);
    assert_eq!(
        stored.iter().find(|a| id_of(a) == add_id).unwrap()["quantity"].as_f64(),
        Some(25.0)
    );
    assert!(
        cw.additions(agr_id, ())
            .await
            .unwrap()
            .iter()
            .any(|a| a.id == Some(add_id))
    );

    // A sub-path patch is the false 200: caught.
    let err = cw
        .patch_addition(
            agr_id,
            add_id,
            &[PatchOp::replace("product/identifier", "SOMETHING-ELSE")],
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, CwError::PatchNotApplied { fields, .. } if fields == &["product/identifier"]),
        "{err:?}"
    );

    // An invoiced period is refused with its own error.
    emu.set_invoiced_through(agr_id, Some("2099-01-01T00:00:00Z".parse().unwrap()));
    let err = cw
        .patch_addition(agr_id, add_id, &[PatchOp::replace("quantity", 30)])
        .await
        .unwrap_err();
    assert!(matches!(err, CwError::InvoicedPeriod { .. }), "{err:?}");
}

#[tokio::test]
async fn catalog_and_procurement_setup() {
    let (_emu, cw) = demo().await;
    let category = cw
        .create_procurement_category(&ProcurementCategory {
            name: Some("Sophos Test".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        cw.procurement_categories()
            .await
            .unwrap()
            .iter()
            .any(|c| c.id == category.id)
    );
    let sub = cw
        .create_procurement_subcategory(&ProcurementSubcategory {
            name: Some("Endpoint".into()),
            category: Some(Reference::id(category.id.unwrap())),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        cw.procurement_subcategories(category.id.unwrap())
            .await
            .unwrap()
            .iter()
            .any(|s| s.id == sub.id)
    );
    let ptype = cw
        .create_product_type(&ProductType {
            name: Some("Sophos Licence".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        cw.product_types()
            .await
            .unwrap()
            .iter()
            .any(|t| t.id == ptype.id)
    );
    let maker = cw
        .create_manufacturer(&Manufacturer {
            name: Some("Sophos Test Maker".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        cw.manufacturers()
            .await
            .unwrap()
            .iter()
            .any(|m| m.id == maker.id)
    );

    let item = CatalogItem {
        identifier: Some("SOPHOS-TEST-1".into()),
        description: Some("Sophos test product".into()),
        customer_description: Some("Test".into()),
        subcategory: Some(Reference::id(sub.id.unwrap())),
        type_: Some(Reference::id(ptype.id.unwrap())),
        manufacturer: Some(Reference::id(maker.id.unwrap())),
        product_class: Some(ProductClass::NonInventory),
        price: Some(4.5),
        ..Default::default()
    };
    let created = cw.create_catalog_item(&item).await.unwrap();
    let found = cw
        .find_catalog_item("sophos-test-1")
        .await
        .unwrap()
        .expect("found");
    assert_eq!(found.id, created.id);
    assert_eq!(
        cw.catalog_item(created.id.unwrap()).await.unwrap().price,
        Some(4.5)
    );
    let patched = cw
        .patch_catalog_item(created.id.unwrap(), &[PatchOp::replace("price", 5.25)])
        .await
        .unwrap();
    assert_eq!(patched.price, Some(5.25));
    assert!(cw.count_catalog(()).await.unwrap() >= 1);
    let err = cw.create_catalog_item(&item).await.unwrap_err();
    assert!(
        matches!(&err, CwError::Validation { code, .. } if code == "ObjectExists"),
        "{err:?}"
    );
}

#[tokio::test]
async fn service_setup_tables() {
    let (_emu, cw) = demo().await;
    let boards = cw.boards().await.unwrap();
    let board = boards.first().expect("a board").id.unwrap();
    assert_eq!(cw.board(board).await.unwrap().id, Some(board));
    let statuses = cw.board_statuses(board).await.unwrap();
    assert!(statuses.iter().any(|s| s.closed_status == Some(true)));
    assert!(statuses.iter().any(|s| s.closed_status == Some(false)));
    cw.board_types(board).await.unwrap();
    cw.board_subtypes(board).await.unwrap();
    cw.board_items(board).await.unwrap();
    assert!(!cw.priorities().await.unwrap().is_empty());
    let src = cw
        .create_source(&Source {
            name: Some("Sophos Central Test".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(cw.sources().await.unwrap().iter().any(|s| s.id == src.id));
}

async fn new_ticket(emu: &CwEmulator, cw: &Client, xref: &str) -> Ticket {
    let company = id_of(&emu.records(Table::Companies)[0]);
    let board = cw.boards().await.unwrap()[0].id.unwrap();
    let status = cw
        .board_statuses(board)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.closed_status == Some(false))
        .unwrap();
    let t = Ticket {
        summary: Some("Sophos: PC-001 is out of date".into()),
        company: Some(Reference::id(company)),
        board: Some(Reference::id(board)),
        status: Some(Reference::id(status.id.unwrap())),
        external_x_ref: Some(xref.into()),
        initial_description: Some("Alert type: Event::Endpoint::OutOfDate".into()),
        process_notifications: Some(false),
        ..Ticket::default()
    };
    cw.create_ticket(&t).await.unwrap()
}

#[tokio::test]
async fn tickets_notes_members_reports() {
    let (emu, cw) = demo().await;
    let xref = "00000000-0000-4000-8000-00000000a001";
    let t = new_ticket(&emu, &cw, xref).await;
    let id = t.id.unwrap();
    assert_eq!(
        cw.ticket(id).await.unwrap().external_x_ref.as_deref(),
        Some(xref)
    );
    assert_eq!(
        cw.find_ticket_by_external_xref(xref)
            .await
            .unwrap()
            .and_then(|t| t.id),
        Some(id)
    );
    assert_eq!(cw.find_ticket_by_external_xref("nope").await.unwrap(), None);
    let hidden = emu.ticket_hidden_fields(id).unwrap();
    assert_eq!(
        hidden["initialDescription"],
        "Alert type: Event::Endpoint::OutOfDate"
    );

    let patched = cw
        .patch_ticket(id, &[PatchOp::replace("summary", "Sophos: updated")])
        .await
        .unwrap();
    assert_eq!(patched.summary.as_deref(), Some("Sophos: updated"));
    let found = cw
        .search_tickets(&Conditions::new().eq("summary", "Sophos: updated"))
        .await
        .unwrap();
    assert!(found.iter().any(|t| t.id == Some(id)));
    // Long conditions go through POST …/search.
    let many: Vec<String> = (0..150)
        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
        .collect();
    let long = Conditions::new().is_in("externalXRef", many.iter().chain([&xref.to_string()]));
    assert!(
        cw.search_tickets(&long)
            .await
            .unwrap()
            .iter()
            .any(|t| t.id == Some(id))
    );
    assert!(cw.count_tickets(()).await.unwrap() >= 1);
    let streamed: Vec<Ticket> = cw.tickets(()).try_collect().await.unwrap();
    assert!(streamed.iter().any(|t| t.id == Some(id)));

    let notes_before = emu.notes(id).len();
    let note = cw
        .create_ticket_note(id, &TicketNote::detail("Alert repeated"))
        .await
        .unwrap();
    assert!(
        cw.ticket_notes(id)
            .await
            .unwrap()
            .iter()
            .any(|n| n.id == note.id)
    );
    assert_eq!(emu.notes(id).len(), notes_before + 1);
    let err = cw
        .create_ticket_note(
            id,
            &TicketNote {
                text: Some("no flag".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, CwError::Validation { .. }), "{err:?}");

    // The seed role cannot close tickets: the error names the missing function.
    let closed = cw
        .board_statuses(t.board.unwrap().id.unwrap())
        .await
        .unwrap();
    let closed = closed
        .iter()
        .find(|s| s.closed_status == Some(true))
        .unwrap();
    let err = cw.close_ticket(id, closed.id.unwrap()).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("Service Desk > Close Service Tickets"),
        "{err}"
    );

    let me = cw
        .member_by_identifier(&emu.credentials().member_identifier)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(me.license_class, Some(LicenseClass::Api));
    assert_eq!(cw.member(me.id.unwrap()).await.unwrap().id, me.id);
    assert!(cw.count_members(()).await.unwrap() >= 1);

    let reports = cw.reports().await.unwrap();
    let name = reports
        .first()
        .and_then(|r| r.name.clone())
        .expect("a report");
    let data = cw
        .report_data(&name, &connectwise::ReportQuery::default())
        .await
        .unwrap();
    assert!(!data.columns.is_empty());
    assert!(data.rows.iter().all(|r| r.len() == data.columns.len()));
    let count = cw.report_count(&name, None).await.unwrap();
    assert!(count >= data.rows.len() as i64);
    assert_eq!(
        cw.report_columns(&name).await.unwrap().0.len(),
        data.columns.len()
    );
}

#[tokio::test]
async fn each_missing_role_row_gives_a_named_403() {
    let (emu, _) = demo().await;
    let company = id_of(&emu.records(Table::Companies)[0]);
    let agr = id_of(&emu.records(Table::Agreements)[0]);
    let product = id_of(&emu.records(Table::Catalog)[0]);

    use RoleFunction as F;
    use RoleLevel as L;
    let cases: Vec<(F, L, &str)> = vec![
        (
            F::CompanyMaintenance,
            L::Inquire,
            "Companies > Company Maintenance: Inquire Level",
        ),
        (
            F::Agreements,
            L::Inquire,
            "Finance > Agreements: Inquire Level",
        ),
        (F::Agreements, L::Add, "Finance > Agreements: Add Level"),
        (F::Agreements, L::Edit, "Finance > Agreements: Edit Level"),
        (
            F::ProductCatalog,
            L::Inquire,
            "Procurement > Product Catalog: Inquire Level",
        ),
        (
            F::ProductCatalog,
            L::Add,
            "Procurement > Product Catalog: Add Level",
        ),
        (
            F::ProductCatalog,
            L::Edit,
            "Procurement > Product Catalog: Edit Level",
        ),
        (F::TableSetup, L::Add, "System > Table Setup: Add Level"),
        (
            F::MemberMaintenance,
            L::Inquire,
            "System > Member Maintenance: Inquire Level",
        ),
        (
            F::ServiceTickets,
            L::Inquire,
            "Service Desk > Service Tickets: Inquire Level",
        ),
        (
            F::ServiceTickets,
            L::Add,
            "Service Desk > Service Tickets: Add Level",
        ),
        (
            F::ServiceTickets,
            L::Edit,
            "Service Desk > Service Tickets: Edit Level",
        ),
        (
            F::ApiReports,
            L::Inquire,
            "System > API Reports: Inquire Level",
        ),
    ];
    let (ticket, addition) = {
        let cw = Client::connect(config_for(&emu, &emu.credentials()))
            .await
            .unwrap();
        let add = cw
            .create_addition(
                agr,
                &Addition {
                    product: Some(Reference::id(product)),
                    quantity: Some(1.0),
                    bill_customer: Some(BillCustomer::Billable),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        (
            new_ticket(&emu, &cw, "role-test").await.id.unwrap(),
            add.id.unwrap(),
        )
    };
    for (i, (function, level, want)) in cases.into_iter().enumerate() {
        let creds = emu.add_member(
            &format!("role{i}"),
            Role::seed().with(function, level, Access::None),
        );
        let cw = Client::connect(config_for(&emu, &creds)).await.unwrap();
        let err = match (function, level) {
            (F::CompanyMaintenance, _) => cw.company(company).await.map(|_| ()),
            (F::Agreements, L::Inquire) => cw.agreement(agr).await.map(|_| ()),
            (F::Agreements, L::Add) => cw
                .create_addition(
                    agr,
                    &Addition {
                        product: Some(Reference::id(product)),
                        quantity: Some(1.0),
                        bill_customer: Some(BillCustomer::Billable),
                        ..Default::default()
                    },
                )
                .await
                .map(|_| ()),
            (F::Agreements, _) => cw
                .patch_addition(agr, addition, &[PatchOp::replace("quantity", 3)])
                .await
                .map(|_| ()),
            (F::ProductCatalog, L::Inquire) => cw.catalog_item(product).await.map(|_| ()),
            (F::ProductCatalog, L::Add) => cw
                .create_catalog_item(&CatalogItem {
                    identifier: Some("X-403".into()),
                    description: Some("x".into()),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            (F::ProductCatalog, _) => cw
                .patch_catalog_item(product, &[PatchOp::replace("price", 1.0)])
                .await
                .map(|_| ()),
            (F::TableSetup, _) => cw
                .create_manufacturer(&Manufacturer {
                    name: Some("M403".into()),
                    ..Default::default()
                })
                .await
                .map(|_| ()),
            (F::MemberMaintenance, _) => cw.member(creds.member_id).await.map(|_| ()),
            (F::ServiceTickets, L::Inquire) => cw.ticket(ticket).await.map(|_| ()),
            (F::ServiceTickets, L::Add) => cw
                .create_ticket_note(ticket, &TicketNote::internal("x"))
                .await
                .map(|_| ()),
            (F::ServiceTickets, _) => cw
                .patch_ticket(ticket, &[PatchOp::replace("summary", "x")])
                .await
                .map(|_| ()),
            (F::ApiReports, _) => cw.reports().await.map(|_| ()),
            _ => unreachable!(),
        }
        .unwrap_err();
        match &err {
            CwError::Permission {
                function: Some(f), ..
            } => assert_eq!(f, want),
            other => panic!("{want}: {other:?}"),
        }
        assert!(err.to_string().contains(want));
    }
    // Contacts are not in the seed role at all.
    let cw = Client::connect(config_for(&emu, &emu.credentials()))
        .await
        .unwrap();
    let err = cw.count_contacts(()).await.unwrap_err();
    assert!(
        matches!(&err, CwError::Permission { function: Some(f), .. } if f == "Companies > Contacts: Inquire Level"),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limit_honours_retry_after() {
    let (emu, cw) = demo().await;
    emu.faults().set_retry_after(Some(1));
    emu.faults().set_rate_limit(Some(1));
    cw.company(250).await.unwrap();
    let faults = emu.faults().clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        faults.set_rate_limit(None);
    });
    let started = Instant::now();
    cw.company(250).await.unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(1), "retried after {waited:?}");
    assert_eq!(emu.request_counts().rate_limited, 1);
    assert_eq!(cw.stats().retries, 1);

    // A Retry-After above the allowed maximum is reported, not waited for.
    emu.faults().set_retry_after(Some(3600));
    emu.faults().set_rate_limit(Some(1));
    cw.company(250).await.unwrap();
    let err = cw.company(250).await.unwrap_err();
    assert!(
        matches!(err, CwError::RateLimited { retry_after: Some(d), .. } if d.as_secs() == 3600)
    );
}

#[tokio::test]
async fn server_errors_retry_reads_but_never_blind_posts() {
    let (emu, cw) = demo().await;
    emu.faults().set_fault_rate(1.0);
    let before = emu.request_counts().total;
    let err = cw.company(250).await.unwrap_err();
    assert!(
        matches!(err, CwError::Server { status: 500, .. }),
        "{err:?}"
    );
    assert_eq!(emu.request_counts().total - before, 4);

    // A POST without a lookup key goes once.
    let before = emu.request_counts().by_method_status.clone();
    let posts = |m: &std::collections::BTreeMap<String, u64>| {
        m.iter()
            .filter(|(k, _)| k.starts_with("POST"))
            .map(|(_, v)| v)
            .sum::<u64>()
    };
    let err = cw
        .create_ticket(&Ticket {
            summary: Some("no xref".into()),
            company: Some(Reference::id(250)),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(err.is_ambiguous());
    assert_eq!(
        posts(&emu.request_counts().by_method_status) - posts(&before),
        1
    );
    emu.faults().set_fault_rate(0.0);
}

#[tokio::test]
async fn codebase_moved_is_rediscovered() {
    let (emu, cw) = demo().await;
    cw.company(250).await.unwrap();
    emu.move_codebase("v2026_1");
    let c = cw.company(250).await.unwrap();
    assert_eq!(c.id, Some(250));
    assert_eq!(cw.codebase(), "v2026_1/");
    assert_eq!(cw.stats().rediscoveries, 1);
    // A real missing record does not loop.
    assert!(matches!(
        cw.company(987_654).await.unwrap_err(),
        CwError::NotFound { .. }
    ));

    // With a pinned codebase the move is reported.
    let mut pinned = config_for(&emu, &emu.credentials());
    pinned.codebase_override = Some("v2026_1/".into());
    let cw_pinned = Client::connect(pinned).await.unwrap();
    emu.move_codebase("v2027_1");
    let err = cw_pinned.company(250).await.unwrap_err();
    assert!(
        matches!(&err, CwError::CodebaseMoved { new, .. } if new == "v2027_1/"),
        "{err:?}"
    );
}

#[tokio::test]
async fn slow_post_makes_no_duplicate() {
    let emu = CwEmulator::spawn(EmuConfig::demo(7)).await.unwrap();
    let mut cfg = config_for(&emu, &emu.credentials());
    cfg.timeout = Duration::from_millis(700);
    let cw = Client::connect(cfg).await.unwrap();
    let board = cw.boards().await.unwrap()[0].id.unwrap();
    emu.faults().set_slow_commit(Some(Duration::from_secs(2)));
    let xref = "00000000-0000-4000-8000-00000000b002";
    let t = Ticket {
        summary: Some("Sophos: slow".into()),
        company: Some(Reference::id(250)),
        board: Some(Reference::id(board)),
        external_x_ref: Some(xref.into()),
        ..Default::default()
    };
    let created = cw.create_ticket(&t).await.unwrap();
    assert_eq!(created.external_x_ref.as_deref(), Some(xref));
    assert_eq!(emu.tickets_by_xref(xref).len(), 1);
    assert!(cw.stats().lookups >= 1);
    emu.faults().set_slow_commit(None);
}

#[tokio::test]
async fn closed_ticket_queries_and_status_moves() {
    let (emu, cw) = demo().await;
    let before = emu.now() - Duration::from_secs(60);
    let xref_closed = "00000000-0000-4000-8000-00000000c001";
    let xref_open = "00000000-0000-4000-8000-00000000c002";
    let closed = new_ticket(&emu, &cw, xref_closed).await.id.unwrap();
    let open = new_ticket(&emu, &cw, xref_open).await;
    let open_id = open.id.unwrap();
    assert!(emu.close_ticket(closed));

    let changed: Vec<connectwise::ClosedTicket> = cw
        .closed_tickets_changed_since(before)
        .try_collect()
        .await
        .unwrap();
    assert!(changed.contains(&connectwise::ClosedTicket {
        id: closed,
        external_ref: Some(xref_closed.into()),
    }));
    assert!(changed.iter().all(|t| t.id != open_id));
    let later: Vec<connectwise::ClosedTicket> = cw
        .closed_tickets_changed_since(emu.now() + Duration::from_secs(3600))
        .try_collect()
        .await
        .unwrap();
    assert!(later.iter().all(|t| t.id != closed));

    // More references than one search takes: every batch is asked, only closed tickets come back.
    let mut refs: Vec<String> = (0..connectwise::EXTERNAL_REF_BATCH + 20)
        .map(|i| format!("00000000-0000-4000-8000-{i:012}"))
        .collect();
    refs.push(xref_open.into());
    refs.push(xref_closed.into());
    let found = cw.closed_tickets_by_external_refs(&refs).await.unwrap();
    assert_eq!(
        found,
        vec![connectwise::ClosedTicket {
            id: closed,
            external_ref: Some(xref_closed.into()),
        }]
    );
    assert!(
        cw.closed_tickets_by_external_refs(&[])
            .await
            .unwrap()
            .is_empty()
    );

    let board = open.board.unwrap().id.unwrap();
    let other = cw
        .board_statuses(board)
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.closed_status == Some(false) && s.id != open.status.as_ref().unwrap().id)
        .expect("a second open status");
    let moved = cw
        .set_ticket_status(open_id, other.id.unwrap())
        .await
        .unwrap();
    assert_eq!(
        moved,
        connectwise::TicketState {
            status_id: other.id,
            closed: false
        }
    );
    assert_eq!(
        emu.record(Table::Tickets, open_id).unwrap()["status"]["id"].as_i64(),
        other.id
    );
}

#[tokio::test]
async fn agreements_by_ids_and_addition_writes() {
    let (emu, cw) = demo().await;
    let active: Vec<Value> = emu
        .records(Table::Agreements)
        .into_iter()
        .filter(|a| a["cancelledFlag"] == Value::Bool(false))
        .collect();
    let ids: Vec<i64> = active.iter().take(2).map(id_of).collect();
    assert_eq!(ids.len(), 2);
    let mut asked = ids.clone();
    asked.push(987_654_321);
    let mut got: Vec<i64> = cw
        .agreements_by_ids(&asked)
        .try_collect::<Vec<Agreement>>()
        .await
        .unwrap()
        .into_iter()
        .filter_map(|a| a.id)
        .collect();
    got.sort();
    let mut want = ids.clone();
    want.sort();
    assert_eq!(got, want);

    let agr_id = ids[0];
    let product_id = id_of(&emu.records(Table::Catalog)[0]);
    let addition = match cw
        .find_addition_for_product(agr_id, product_id)
        .await
        .unwrap()
    {
        Some(a) => a,
        None => cw
            .create_addition(
                agr_id,
                &Addition {
                    product: Some(Reference::id(product_id)),
                    quantity: Some(3.0),
                    bill_customer: Some(BillCustomer::Billable),
                    effective_date: Some("2026-11-01T00:00:00Z".parse().unwrap()),
                    ..Addition::default()
                },
            )
            .await
            .unwrap(),
    };
    let add_id = addition.id.unwrap();
    let stored = |emu: &CwEmulator| {
        emu.additions(agr_id)
            .into_iter()
            .find(|a| id_of(a) == add_id)
            .unwrap()
    };
    let set = cw.set_addition_quantity(agr_id, add_id, 7.0).await.unwrap();
    assert_eq!(set.quantity, Some(7.0));
    assert_eq!(stored(&emu)["quantity"].as_f64(), Some(7.0));

    let date: jiff::Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
    let cancelled = cw.cancel_addition(agr_id, add_id, date).await.unwrap();
    assert_eq!(cancelled.cancelled_date, Some(date));
    assert!(stored(&emu)["cancelledDate"].is_string());
    assert_eq!(
        cw.find_addition_for_product(agr_id, product_id)
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn catalog_items_containing_text() {
    let (emu, cw) = demo().await;
    let item = emu.records(Table::Catalog).into_iter().next().unwrap();
    let identifier = item["identifier"].as_str().unwrap().to_owned();
    let part: String = identifier.chars().skip(1).take(5).collect();
    let found = cw.catalog_items_containing(&part).await.unwrap();
    assert!(found.iter().any(|i| i.id == id_of(&item)), "{part}");
    let idents: Vec<String> = found.iter().filter_map(|i| i.identifier.clone()).collect();
    let mut sorted = idents.clone();
    sorted.sort_by_key(|s| s.to_lowercase());
    assert_eq!(idents, sorted);
    assert!(
        cw.catalog_items_containing("zz-no-such-item-zz")
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn open_ticket_notes_and_state() {
    let (emu, cw) = demo().await;
    let company = id_of(&emu.records(Table::Companies)[0]);
    let board = cw.boards().await.unwrap()[0].id.unwrap();
    let statuses = cw.board_statuses(board).await.unwrap();
    let open_status = statuses
        .iter()
        .find(|s| s.closed_status == Some(false))
        .and_then(|s| s.id)
        .unwrap();
    let priority = cw.priorities().await.unwrap()[0].id;
    let xref = "00000000-0000-4000-8000-00000000d001";
    let want = connectwise::NewTicket {
        summary: "[High] Out of date on PC-001".into(),
        description: "Sophos Central alert".into(),
        external_ref: xref.into(),
        company_id: company,
        board_id: Some(board),
        status_id: Some(open_status),
        type_id: None,
        subtype_id: None,
        item_id: None,
        priority_id: priority,
        source_id: None,
        severity: connectwise::TicketSeverity::High,
    };
    let opened = cw.open_ticket(&want).await.unwrap();
    assert_eq!(opened.company_id, Some(company));
    let stored = emu.record(Table::Tickets, opened.id).unwrap();
    assert_eq!(stored["summary"], "[High] Out of date on PC-001");
    assert_eq!(stored["severity"], "High");
    assert_eq!(stored["externalXRef"], xref);
    assert_eq!(stored["board"]["id"].as_i64(), Some(board));
    assert_eq!(stored["priority"]["id"].as_i64(), priority);
    assert_eq!(
        emu.ticket_hidden_fields(opened.id).unwrap()["initialDescription"],
        "Sophos Central alert"
    );
    assert_eq!(
        cw.find_ticket_by_external_ref(xref).await.unwrap(),
        Some(opened.clone())
    );
    assert_eq!(cw.find_ticket_by_external_ref("nope").await.unwrap(), None);

    cw.add_ticket_note(opened.id, "repeat", connectwise::NoteKind::Detail)
        .await
        .unwrap();
    cw.add_ticket_note(opened.id, "resolved", connectwise::NoteKind::Resolution)
        .await
        .unwrap();
    let texts = cw.ticket_note_texts(opened.id).await.unwrap();
    assert!(
        texts.ends_with(&["repeat".to_string(), "resolved".to_string()]),
        "{texts:?}"
    );
    let notes = emu.notes(opened.id);
    let resolution = notes.iter().find(|n| n["text"] == "resolved").unwrap();
    assert_eq!(resolution["resolutionFlag"], Value::Bool(true));
    assert_eq!(resolution["detailDescriptionFlag"], Value::Bool(true));
    let detail = notes.iter().find(|n| n["text"] == "repeat").unwrap();
    assert_ne!(detail["resolutionFlag"], Value::Bool(true));

    assert_eq!(
        cw.ticket_state(opened.id).await.unwrap(),
        Some(connectwise::TicketState {
            status_id: Some(open_status),
            closed: false
        })
    );
    assert_eq!(cw.ticket_state(987_654_321).await.unwrap(), None);
    assert!(emu.close_ticket(opened.id));
    assert!(cw.ticket_state(opened.id).await.unwrap().unwrap().closed);

    // The seed role may not close: the error names the function, as close_ticket's does.
    let closed_status = statuses
        .iter()
        .find(|s| s.closed_status == Some(true))
        .and_then(|s| s.id)
        .unwrap();
    let second = connectwise::NewTicket {
        external_ref: "00000000-0000-4000-8000-00000000d002".into(),
        ..want
    };
    let other = cw.open_ticket(&second).await.unwrap();
    let err = cw
        .close_ticket_with_status(other.id, closed_status)
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("Service Desk > Close Service Tickets"),
        "{err}"
    );
    // A member who may close gets the ticket's new state back.
    let admin = emu.add_member("closer", Role::full());
    let admin = Client::connect(config_for(&emu, &admin)).await.unwrap();
    assert_eq!(
        admin
            .close_ticket_with_status(other.id, closed_status)
            .await
            .unwrap(),
        connectwise::TicketState {
            status_id: Some(closed_status),
            closed: true
        }
    );
}

#[tokio::test]
async fn summaries_and_addition_states() {
    let (emu, cw) = demo().await;
    let companies: Vec<connectwise::CompanySummary> =
        cw.company_summaries().try_collect().await.unwrap();
    let records = emu.records(Table::Companies);
    assert_eq!(companies.len(), records.len());
    for (c, r) in companies.iter().zip(&records) {
        assert_eq!(c.id, id_of(r));
        assert_eq!(c.identifier.as_deref(), r["identifier"].as_str());
        assert_eq!(c.name.as_deref(), r["name"].as_str());
        assert_eq!(c.status.as_deref(), r["status"]["name"].as_str());
        assert_eq!(c.deleted, r["deletedFlag"] == Value::Bool(true));
    }

    let agreements: Vec<connectwise::AgreementSummary> =
        cw.agreement_summaries().try_collect().await.unwrap();
    let records = emu.records(Table::Agreements);
    assert_eq!(agreements.len(), records.len());
    for (a, r) in agreements.iter().zip(&records) {
        assert_eq!(a.id, id_of(r));
        assert_eq!(a.company_id, r["company"]["id"].as_i64());
        assert_eq!(a.status.as_deref(), r["agreementStatus"].as_str());
        assert_eq!(
            a.cancelled,
            r["cancelledFlag"] == Value::Bool(true) || r["agreementStatus"] == "Cancelled"
        );
        assert_eq!(a.expired_status, r["agreementStatus"] == "Expired");
        if r["noEndingDateFlag"] == Value::Bool(true) || r["endDate"].is_null() {
            assert_eq!(a.ends_at, None);
        } else {
            assert!(a.ends_at.is_some());
        }
        let full = cw.agreement(a.id).await.unwrap();
        assert_eq!(
            full.inactive_reason().is_none(),
            !a.cancelled && !a.expired_status && r["agreementStatus"] != "Inactive"
        );
    }
    assert!(agreements.iter().any(|a| a.cancelled));
    assert!(agreements.iter().any(|a| !a.cancelled));

    let agr = agreements
        .iter()
        .find(|a| !a.cancelled && !a.expired_status)
        .unwrap()
        .id;
    let before = cw.addition_states(agr).await.unwrap();
    // A catalog item the agreement has no live addition for, so the create really happens.
    let product = emu
        .records(Table::Catalog)
        .iter()
        .map(id_of)
        .find(|p| {
            !before
                .iter()
                .any(|a| a.catalog_item_id == *p && !a.cancelled)
        })
        .expect("a catalog item without a live addition");
    let new = connectwise::NewAddition {
        catalog_item_id: product,
        quantity: 12.0,
        effective_date: "2026-11-01T00:00:00Z".parse().unwrap(),
        description: Some("Sophos Central Intercept X Advanced".into()),
    };
    let id = cw.add_billable_addition(agr, &new).await.unwrap();
    let stored = emu
        .additions(agr)
        .into_iter()
        .find(|a| id_of(a) == id)
        .unwrap();
    assert_eq!(stored["product"]["id"].as_i64(), Some(product));
    assert_eq!(stored["quantity"].as_f64(), Some(12.0));
    assert_eq!(stored["billCustomer"], "Billable");
    assert_eq!(stored["description"], "Sophos Central Intercept X Advanced");
    let states = cw.addition_states(agr).await.unwrap();
    let state = states.iter().find(|a| a.id == id).unwrap();
    assert_eq!(state.catalog_item_id, product);
    assert_eq!(Some(state.quantity), stored["quantity"].as_f64());
    assert!(!state.cancelled);
    cw.cancel_addition(agr, id, "2026-12-01T00:00:00Z".parse().unwrap())
        .await
        .unwrap();
    let states = cw.addition_states(agr).await.unwrap();
    assert!(states.iter().find(|a| a.id == id).unwrap().cancelled);
}

#[tokio::test]
async fn board_status_choices_are_active_and_ordered() {
    let (emu, cw) = demo().await;
    let board = cw.boards().await.unwrap()[0].id.unwrap();
    let all = cw.board_statuses(board).await.unwrap();
    // One status made inactive must drop out of the choices.
    let hidden = all
        .iter()
        .find(|s| s.closed_status == Some(false))
        .unwrap()
        .id
        .unwrap();
    assert!(emu.update_record(Table::BoardStatuses, hidden, |r| {
        r.insert("inactive".into(), Value::Bool(true));
    }));
    let choices = cw.board_status_choices(board).await.unwrap();
    assert!(choices.iter().all(|c| c.id != hidden));
    assert_eq!(choices.len(), all.len() - 1);
    let order: Vec<i64> = choices
        .iter()
        .map(|c| {
            let s = all.iter().find(|s| s.id == Some(c.id)).unwrap();
            assert_eq!(c.name.as_str(), s.name.as_deref().unwrap());
            assert_eq!(c.closed, s.closed_status == Some(true));
            s.sort_order.unwrap_or(i64::MAX)
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");
    assert!(choices.iter().any(|c| c.closed) && choices.iter().any(|c| !c.closed));
}

#[tokio::test]
async fn procurement_setup_and_recurring_catalog_items() {
    let (emu, cw) = demo().await;
    let name = "Tidy Vendor";
    let before = emu.records(Table::Catalog).len();
    let (setup, created) = cw.ensure_procurement_setup(name).await.unwrap();
    assert_eq!(
        created,
        vec!["category", "subcategory", "product type", "manufacturer"]
    );
    // A second call finds all four (names compared case-insensitively).
    let (again, created) = cw
        .ensure_procurement_setup(&name.to_uppercase())
        .await
        .unwrap();
    assert_eq!((again, created), (setup, Vec::<&str>::new()));

    let item = connectwise::NewCatalogItem {
        identifier: "Tidy_Product_1".into(),
        description: "Tidy product".into(),
        customer_description: "Tidy product, billed monthly".into(),
        setup,
    };
    let made = cw.create_recurring_catalog_item(&item).await.unwrap();
    assert_eq!(made.identifier.as_deref(), Some("Tidy_Product_1"));
    assert!(!made.inactive);
    assert_eq!(emu.records(Table::Catalog).len(), before + 1);
    let stored = emu.record(Table::Catalog, made.id).unwrap();
    assert_eq!(stored["productClass"], "Agreement");
    assert_eq!(stored["recurringFlag"], Value::Bool(true));
    assert_eq!(stored["category"]["id"].as_i64(), Some(setup.category));
    assert_eq!(
        stored["manufacturer"]["id"].as_i64(),
        Some(setup.manufacturer)
    );
    assert_eq!(
        cw.catalog_item_summary(made.id).await.unwrap(),
        Some(made.clone())
    );
    assert_eq!(cw.catalog_item_summary(987_654_321).await.unwrap(), None);
    assert_eq!(
        cw.find_catalog_item_summary("tidy_product_1")
            .await
            .unwrap(),
        Some(made)
    );
    assert_eq!(
        cw.find_catalog_item_summary("Nope_Nothing").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn setup_choices_and_company_summaries() {
    let (emu, cw) = demo().await;
    let boards = cw.boards().await.unwrap();
    let board = boards[0].id.unwrap();
    // An inactive board drops out of the choices.
    let hidden = boards[1].id.unwrap();
    assert!(emu.update_record(Table::Boards, hidden, |r| {
        r.insert("inactiveFlag".into(), Value::Bool(true));
    }));
    let choices = cw.board_choices().await.unwrap();
    assert!(choices.iter().any(|c| c.id == board));
    assert!(choices.iter().all(|c| c.id != hidden));
    assert_eq!(choices.len(), boards.len() - 1);

    let named = |ids: Vec<(Option<i64>, Option<String>)>| -> Vec<connectwise::Choice> {
        ids.into_iter()
            .filter_map(|(id, name)| {
                Some(connectwise::Choice {
                    id: id?,
                    name: name?,
                })
            })
            .collect()
    };
    let types = cw.board_types(board).await.unwrap();
    assert_eq!(
        cw.board_type_choices(board).await.unwrap(),
        named(
            types
                .into_iter()
                .filter(|t| t.inactive_flag != Some(true))
                .map(|t| (t.id, t.name))
                .collect()
        )
    );
    let subtypes = cw.board_subtypes(board).await.unwrap();
    assert_eq!(
        cw.board_subtype_choices(board).await.unwrap(),
        named(
            subtypes
                .into_iter()
                .filter(|t| t.inactive_flag != Some(true))
                .map(|t| (t.id, t.name))
                .collect()
        )
    );
    let items = cw.board_items(board).await.unwrap();
    assert_eq!(
        cw.board_item_choices(board).await.unwrap(),
        named(
            items
                .into_iter()
                .filter(|t| t.inactive_flag != Some(true))
                .map(|t| (t.id, t.name))
                .collect()
        )
    );
    let sources = cw.sources().await.unwrap();
    assert_eq!(
        cw.source_choices().await.unwrap(),
        named(sources.into_iter().map(|s| (s.id, s.name)).collect())
    );
    let prios = cw.priorities().await.unwrap();
    let listed = cw.priority_choices().await.unwrap();
    assert_eq!(
        listed,
        named(prios.iter().map(|p| (p.id, p.name.clone())).collect())
    );
    let urgent = cw.priorities_by_urgency().await.unwrap();
    assert_eq!(urgent.len(), listed.len());
    let order: Vec<i64> = urgent
        .iter()
        .map(|c| {
            prios
                .iter()
                .find(|p| p.id == Some(c.id))
                .and_then(|p| p.sort_order)
                .unwrap_or(i64::MAX)
        })
        .collect();
    assert!(order.windows(2).all(|w| w[0] <= w[1]), "{order:?}");

    let company = emu.records(Table::Companies)[0].clone();
    let id = id_of(&company);
    let summary = cw.company_summary(id).await.unwrap().unwrap();
    assert_eq!(summary.id, id);
    assert_eq!(summary.name.as_deref(), company["name"].as_str());
    assert_eq!(cw.company_summary(987_654_321).await.unwrap(), None);
    let identifier = company["identifier"].as_str().unwrap();
    assert_eq!(
        cw.find_company_summary_by_identifier(identifier)
            .await
            .unwrap(),
        Some(summary)
    );
}

/// A person's key may delete an addition; the integration's (the setup guide's role, no Delete)
/// may not, and is told which permission is missing. A second delete finds nothing.
#[tokio::test]
async fn delete_addition_needs_the_delete_permission() {
    let (emu, cw) = demo().await;
    let technician = Client::connect(config_for(
        &emu,
        &emu.add_member("apitechnician", Role::technician()),
    ))
    .await
    .expect("technician connects");
    let agr_id = emu
        .records(Table::Agreements)
        .iter()
        .find(|a| a["cancelledFlag"] == Value::Bool(false) && a["prorateFlag"] != Value::Bool(true))
        .map(id_of)
        .expect("an active agreement");
    let product_id = id_of(&emu.records(Table::Catalog)[0]);
    let add_id = cw
        .create_addition(
            agr_id,
            &Addition {
                product: Some(Reference::id(product_id)),
                quantity: Some(3.0),
                bill_customer: Some(BillCustomer::Billable),
                effective_date: Some("2026-12-01T00:00:00Z".parse().unwrap()),
                ..Addition::default()
            },
        )
        .await
        .expect("the integration creates an addition")
        .id
        .expect("id");
    let err = cw.delete_addition(agr_id, add_id).await.unwrap_err();
    assert!(matches!(err, CwError::Permission { .. }), "{err:?}");
    assert!(emu.additions(agr_id).iter().any(|a| id_of(a) == add_id));
    assert!(technician.delete_addition(agr_id, add_id).await.unwrap());
    assert!(!emu.additions(agr_id).iter().any(|a| id_of(a) == add_id));
    assert!(!technician.delete_addition(agr_id, add_id).await.unwrap());
}

/// The emulator builds a report's rows once per query while the data stands still: a write
/// between two page reads shows in the next read, a quantity changed and a row added alike.
#[tokio::test]
async fn a_report_read_by_pages_follows_writes_between_pages() {
    let (emu, cw) = demo().await;
    let agr = emu
        .records(Table::Agreements)
        .into_iter()
        .find(|a| a["cancelledFlag"] == Value::Bool(false) && a["prorateFlag"] != Value::Bool(true))
        .expect("an active agreement");
    let agr_id = id_of(&agr);
    let billed: BTreeSet<i64> = emu
        .additions(agr_id)
        .iter()
        .filter_map(|a| a["product"]["id"].as_i64())
        .collect();
    let products: Vec<i64> = emu
        .records(Table::Catalog)
        .iter()
        .map(id_of)
        .filter(|p| !billed.contains(p))
        .collect();
    let first = cw
        .add_billable_addition(
            agr_id,
            &connectwise::NewAddition {
                catalog_item_id: products[0],
                quantity: 20.0,
                effective_date: "2026-12-01T00:00:00Z".parse().unwrap(),
                description: None,
            },
        )
        .await
        .unwrap();
    let rows = |page: u32| {
        let cw = cw.clone();
        async move {
            let q = connectwise::ReportQuery {
                conditions: Some(Conditions::new().eq("AGR_RecID", agr_id)),
                columns: Some("Addition_RecId,Total_Quantity".into()),
                order_by: Some("Addition_RecId".into()),
                page: Some(page),
                page_size: Some(1),
            };
            cw.report_data("AgreementAdditions", &q)
                .await
                .unwrap()
                .records()
                .into_iter()
                .map(|r| {
                    (
                        r["Addition_RecId"].as_i64().unwrap(),
                        r["Total_Quantity"].as_f64().unwrap(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let before = cw
        .report_count(
            "AgreementAdditions",
            Some(&Conditions::new().eq("AGR_RecID", agr_id)),
        )
        .await
        .unwrap();
    let last = u32::try_from(before).unwrap();
    // Ordered by id, the newest addition is the last row.
    assert_eq!(rows(last).await, vec![(first, 20.0)]);
    cw.set_addition_quantity(agr_id, first, 35.0).await.unwrap();
    assert_eq!(rows(last).await, vec![(first, 35.0)]);
    let second = cw
        .add_billable_addition(
            agr_id,
            &connectwise::NewAddition {
                catalog_item_id: products[1],
                quantity: 7.0,
                effective_date: "2026-12-01T00:00:00Z".parse().unwrap(),
                description: None,
            },
        )
        .await
        .unwrap();
    assert!(second > first);
    assert_eq!(rows(last + 1).await, vec![(second, 7.0)]);
    assert_eq!(rows(last).await, vec![(first, 35.0)]);
}
