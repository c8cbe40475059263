//! The conditions builder's output, encoded as the client sends it, parses in the emulator's
//! conditions parser into exactly the comparison we meant, and selects exactly the right records.

use connectwise::conditions::{encode_query, quote};
use connectwise::{Conditions, CwError};
use proptest::prelude::*;
use sandbox::connectwise::conditions::{Expr, Literal, parse};
use sandbox::connectwise::paging::Query as EmuQuery;
use serde_json::json;

/// What the emulator reads from the query string we send.
fn server_side(expr: &str) -> String {
    let qs = encode_query(&[
        ("conditions".to_string(), expr.to_string()),
        ("pageSize".into(), "1000".into()),
    ]);
    let q = EmuQuery::parse(Some(&qs));
    q.get("conditions").expect("conditions param").to_string()
}

fn hostile() -> impl Strategy<Value = String> {
    // Quotes, query-string specials, wildcards, spaces, keywords and non-ASCII.
    proptest::string::string_regex(
        r#"[A-Za-z0-9 '"&+%*=()\[\]/,.éçÕ-]{0,24}|(and|or|null|true) ?[A-Za-z'"&]{0,5}"#,
    )
    .expect("regex")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn eq_round_trips(value in hostile()) {
        match Conditions::new().eq("name", value.as_str()).build() {
            Err(CwError::Unquotable { .. }) => {
                prop_assert!(value.contains('"') && value.contains('\''));
                prop_assert!(quote(&value).is_none());
            }
            Err(e) => prop_assert!(false, "unexpected error {e}"),
            Ok(expr) => {
                let received = server_side(&expr);
                prop_assert_eq!(&received, &expr);
                let parsed = parse(&received).map_err(|e| TestCaseError::fail(format!("{expr:?}: {e}")))?;
                match &parsed {
                    Expr::Compare { value: Literal::Str(s), .. } => prop_assert_eq!(s, &value),
                    other => prop_assert!(false, "parsed as {other:?}"),
                }
                let same = json!({"name": value});
                prop_assert!(parsed.matches(&same), "{} should match {}", expr, same);
                let other = json!({"name": format!("{value}x")});
                prop_assert!(!parsed.matches(&other), "{} should not match {}", expr, other);
            }
        }
    }

    #[test]
    fn compound_round_trips(a in hostile(), b in hostile(), n in -1_000_000i64..1_000_000, flag: bool) {
        let c = Conditions::new()
            .eq("company/id", n)
            .eq_bool("closedFlag", flag)
            .group(Conditions::new().contains("summary", &a).or().is_in("status/name", [a.clone(), b.clone()]));
        let Ok(expr) = c.build() else {
            prop_assert!((a.contains('"') && a.contains('\'')) || (b.contains('"') && b.contains('\'')));
            return Ok(());
        };
        let parsed = parse(&server_side(&expr)).map_err(|e| TestCaseError::fail(format!("{expr:?}: {e}")))?;
        let hit = json!({"company": {"id": n}, "closedFlag": flag, "summary": format!("<{a}>"), "status": {"name": "zzz-none"}});
        prop_assert!(parsed.matches(&hit), "{} should match {}", expr, hit);
        let miss = json!({"company": {"id": n + 1}, "closedFlag": flag, "summary": format!("<{a}>"), "status": {"name": b}});
        prop_assert!(!parsed.matches(&miss), "{} should not match {}", expr, miss);
        let by_status = json!({"company": {"id": n}, "closedFlag": flag, "summary": "", "status": {"name": b}});
        prop_assert!(parsed.matches(&by_status), "{} should match {}", expr, by_status);
    }
}

#[test]
fn datetimes_and_nulls_parse() {
    let t: jiff::Timestamp = "2016-08-20T18:04:26Z".parse().unwrap();
    let expr = Conditions::new()
        .gt("dateEntered", t)
        .is_null("parentTicketId")
        .build()
        .unwrap();
    let parsed = parse(&server_side(&expr)).unwrap();
    assert!(
        parsed.matches(&json!({"dateEntered": "2016-08-21T00:00:00Z", "parentTicketId": null}))
    );
    assert!(
        !parsed.matches(&json!({"dateEntered": "2016-08-20T00:00:00Z", "parentTicketId": null}))
    );
    assert!(!parsed.matches(&json!({"dateEntered": "2016-08-21T00:00:00Z", "parentTicketId": 5})));
}
