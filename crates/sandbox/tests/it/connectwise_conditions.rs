//! The conditions parser never panics, and parses every expression of a small generator.

use proptest::prelude::*;
use sandbox::connectwise::conditions::{Expr, parse};
use serde_json::json;

fn field() -> impl Strategy<Value = String> {
    prop::sample::select(vec![
        "id",
        "name",
        "company/id",
        "Board/Name",
        "_info/lastUpdated",
        "types/name",
        "closedFlag",
    ])
    .prop_map(str::to_owned)
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        (-1000i64..1000).prop_map(|n| n.to_string()),
        (0u32..1000, 0u32..100).prop_map(|(a, b)| format!("{a}.{b}")),
        "[a-zA-Z0-9 &%*_-]{0,12}".prop_map(|s| format!("\"{s}\"")),
        "[a-zA-Z0-9 \"&%*_-]{0,12}".prop_map(|s| format!("'{s}'")),
        prop::sample::select(vec![
            "true",
            "FALSE",
            "null",
            "[2016-08-20T18:04:26Z]",
            "[2024-01-01]"
        ])
        .prop_map(str::to_owned),
    ]
}

fn comparison() -> impl Strategy<Value = String> {
    prop_oneof![
        (
            field(),
            prop::sample::select(vec!["=", "!=", "<", "<=", ">", ">="]),
            value()
        )
            .prop_map(|(f, o, v)| format!("{f} {o} {v}")),
        (field(), any::<bool>(), prop::collection::vec(value(), 1..4)).prop_map(|(f, n, vs)| {
            format!("{f} {}in ({})", if n { "not " } else { "" }, vs.join(", "))
        }),
        (
            field(),
            any::<bool>(),
            prop::sample::select(vec!["like", "contains", "LIKE"]),
            "[a-z%*]{0,6}"
        )
            .prop_map(|(f, n, op, s)| format!("{f} {}{op} \"{s}\"", if n { "NOT " } else { "" })),
    ]
}

fn expr() -> impl Strategy<Value = String> {
    comparison().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (
                inner.clone(),
                prop::sample::select(vec!["and", "OR", "And"]),
                inner.clone()
            )
                .prop_map(|(a, op, b)| format!("{a} {op} {b}")),
            inner.prop_map(|e| format!("({e})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_arbitrary_text(s in "\\PC{0,80}") {
        if let Ok(e) = parse(&s) {
            let _ = e.matches(&json!({"id": 1, "name": "x"}));
        }
    }

    #[test]
    fn never_panics_on_condition_like_text(s in "[a-z/ ()=!<>'\"\\[\\]0-9.,%*-]{0,60}") {
        if let Ok(e) = parse(&s) {
            let _ = e.matches(&json!({"id": 1, "name": "x", "types": [{"name": "y"}]}));
        }
    }

    #[test]
    fn parses_generated_expressions(s in expr()) {
        let parsed = parse(&s);
        prop_assert!(parsed.is_ok(), "{s}: {:?}", parsed.err());
        let record = json!({"id": 5, "name": "Fred & Co", "company": {"id": 250}, "board": {"name": "Help Desk"},
            "types": [{"name": "Client"}], "closedFlag": false, "_info": {"lastUpdated": "2024-01-01T00:00:00Z"}});
        let _ = parsed.map(|e: Expr| e.matches(&record));
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!("{}id=1{}", "(".repeat(10_000), ")".repeat(10_000));
    assert!(parse(&deep).is_err());
}
