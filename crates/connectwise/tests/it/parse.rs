//! Pins how the client reads the reference's example JSON shapes (and writes its POST bodies).

use connectwise::models::*;
use serde_json::{Value, json};

fn fixture(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture")
}

fn parse<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn companyinfo_is_cloud_string_and_bool() {
    let a: CompanyInfo = parse("companyinfo_string.json");
    assert_eq!(a.is_cloud, Some(true));
    assert_eq!(a.codebase.as_deref(), Some("v2025_1/"));
    let b: CompanyInfo = parse("companyinfo_bool.json");
    assert_eq!(b.is_cloud, Some(false));
    insta::assert_debug_snapshot!("companyinfo", (a, b));
    // An unknown company id is the JSON literal null.
    let none: Option<CompanyInfo> = serde_json::from_str("null").unwrap();
    assert!(none.is_none());
}

#[test]
fn system_info() {
    let s: SystemInfo = parse("system_info.json");
    assert_eq!(s.version_parts(), Some((2025, 1)));
    insta::assert_debug_snapshot!("system_info", s);
}

#[test]
fn report_data_rows_align_with_columns() {
    let r: ReportData = parse("report_data.json");
    assert_eq!(r.column("DATE_ENTERED"), Some(2));
    let recs = r.records();
    assert_eq!(recs[1]["name"], json!("Office Closed"));
    assert_eq!(recs[1]["date_entered"], Value::Null);
    insta::assert_debug_snapshot!("report_data", r);
    let cols: ReportColumns = serde_json::from_str(&fixture("report_data.json")).unwrap();
    assert_eq!(cols.0.len(), 3);
    let cols: ReportColumns =
        serde_json::from_str(r#"[{"id": {"type": "Numeric"}}, {"name": {"type": "Text"}}]"#)
            .unwrap();
    assert_eq!(cols.0[1].name, "name");
}

#[test]
fn records_tolerate_unknown_fields_and_new_enum_values() {
    let t: Ticket = parse("ticket_response.json");
    assert_eq!(t.impact, Some(Level::Unknown("Critical".into())));
    assert_eq!(t.severity, Some(Level::Medium));
    assert_eq!(
        t.company.as_ref().and_then(|c| c.name.as_deref()),
        Some("O'Brien \"Tech\" & Co")
    );
    insta::assert_debug_snapshot!("ticket", t);
    let c: Vec<Company> = parse("companies.json");
    assert_eq!(c.len(), 3);
    assert_eq!(c[1].identifier, None);
    insta::assert_debug_snapshot!("companies", c);
    let s: Vec<BoardStatus> = parse("board_statuses.json");
    assert_eq!(
        s[1].escalation_status,
        Some(EscalationStatus::Unknown("SomethingNew".into()))
    );
    insta::assert_debug_snapshot!("board_statuses", s);
}

#[test]
fn other_records() {
    let a: Agreement = parse("agreement.json");
    assert_eq!(a.agreement_status, Some(AgreementStatus::Active));
    insta::assert_debug_snapshot!("agreement", a);
    let d: Addition = parse("addition.json");
    assert_eq!(d.quantity, Some(20.0));
    assert_eq!(d.cancelled_date, None);
    insta::assert_debug_snapshot!("addition", d);
    let i: CatalogItem = parse("catalog_item.json");
    assert_eq!(i.product_class, Some(ProductClass::NonInventory));
    insta::assert_debug_snapshot!("catalog_item", i);
    let m: Member = parse("member.json");
    assert_eq!(m.license_class, Some(LicenseClass::Api));
    insta::assert_debug_snapshot!("member", m);
    let n: TicketNote = parse("note.json");
    insta::assert_debug_snapshot!("note", n);
}

#[test]
fn post_bodies_match_the_reference_examples() {
    let ticket = Ticket {
        summary: Some("Sophos: PC-001 is out of date".into()),
        company: Some(Reference::id(250)),
        board: Some(Reference::id(12)),
        status: Some(Reference::id(71)),
        type_: Some(Reference::id(5)),
        priority: Some(Reference::id(8)),
        source: Some(Reference::id(3)),
        external_x_ref: Some("00000000-0000-4000-8000-00000000a001".into()),
        initial_description: Some("Alert type: Event::Endpoint::OutOfDate\nSeverity: medium\nDevice: PC-001\nRaised: 2024-03-12T15:04:53Z".into()),
        process_notifications: Some(false),
        ..Ticket::default()
    };
    let want: Value = parse("ticket_post.json");
    assert_eq!(connectwise::to_body(&ticket).unwrap(), want);

    let addition = Addition {
        product: Some(Reference::id(901)),
        quantity: Some(20.0),
        bill_customer: Some(BillCustomer::Billable),
        effective_date: Some("2024-03-01T00:00:00Z".parse().unwrap()),
        description: Some("Sophos Central Intercept X Advanced".into()),
        ..Addition::default()
    };
    let want: Value = parse("addition_post.json");
    let got = connectwise::to_body(&addition).unwrap();
    // 20 vs 20.0: compare numerically.
    assert_eq!(got["quantity"].as_f64(), want["quantity"].as_f64());
    let (mut g, mut w) = (got.clone(), want.clone());
    g.as_object_mut().unwrap().remove("quantity");
    w.as_object_mut().unwrap().remove("quantity");
    assert_eq!(g, w);

    // A record read back and re-sent never carries _info or nulls.
    let t: Ticket = parse("ticket_response.json");
    let body = connectwise::to_body(&t).unwrap();
    assert!(body.get("_info").is_none());
    assert!(body["board"].get("_info").is_none());
    assert!(body.get("closedDate").is_none());

    let ops = [
        PatchOp::replace("quantity", 25),
        PatchOp::replace("status", Reference::id(42)),
        PatchOp::remove("parentPhase"),
    ];
    assert_eq!(
        serde_json::to_value(ops).unwrap(),
        json!([{"op":"replace","path":"quantity","value":25},{"op":"replace","path":"status","value":{"id":42}},{"op":"remove","path":"parentPhase"}])
    );
}
