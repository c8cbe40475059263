//! The shapes clients generated from ConnectWise's spec check on every response: enum names where
//! the spec has an enum, and the fields it calls required.

use crate::connectwise_support::Api;
use reqwest::StatusCode;
use sandbox::connectwise::Role;
use serde_json::{Value, json};

/// The spec's `Priority.color` names.
const COLORS: [&str; 13] = [
    "Black", "Blue", "Cyan", "Gray", "Green", "Lime", "Orange", "Pink", "Purple", "Red", "White",
    "Yellow", "Custom",
];

fn is_one_of(v: &Value, names: &[&str]) -> bool {
    v.as_str().is_some_and(|s| names.contains(&s))
}

#[tokio::test]
async fn priority_colours_are_the_spec_names_on_get_and_post() {
    let api = Api::start().await;
    let list = api.get("service/priorities").await;
    assert_eq!(list.status, StatusCode::OK);
    let rows = list.body.as_array().unwrap();
    assert!(rows.len() >= 4);
    for p in rows {
        assert!(is_one_of(&p["color"], &COLORS), "{p}");
        assert!(
            is_one_of(&p["level"], &["Critical", "High", "Medium", "Low"]),
            "{p}"
        );
        let one = api.get(&format!("service/priorities/{}", p["id"])).await;
        assert_eq!(one.body["color"], p["color"]);
    }

    // A hex colour is refused as ConnectWise refuses any value outside an enum.
    let hex = api
        .post(
            "service/priorities",
            json!({"name": "Sophos High", "color": "#FF0000"}),
        )
        .await;
    assert_eq!(hex.status, StatusCode::BAD_REQUEST, "{}", hex.body);
    assert_eq!(hex.body["code"], "InvalidObject");
    assert_eq!(hex.body["errors"][0]["field"], "color");
    assert_eq!(hex.body["errors"][0]["code"], "InvalidField");

    let made = api
        .post(
            "service/priorities",
            json!({"name": "Sophos High", "color": "purple"}),
        )
        .await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    assert_eq!(made.body["color"], "Purple", "the spec's spelling");
    assert_eq!(made.body["defaultFlag"], false);
    let plain = api
        .post("service/priorities", json!({"name": "Sophos Low"}))
        .await;
    assert_eq!(plain.status, StatusCode::CREATED);
    assert!(is_one_of(&plain.body["color"], &COLORS), "{}", plain.body);
    let listed = api.get("service/priorities").await;
    assert!(
        listed
            .body
            .as_array()
            .unwrap()
            .iter()
            .all(|p| is_one_of(&p["color"], &COLORS))
    );
}

#[tokio::test]
async fn members_carry_the_fields_the_spec_requires() {
    let api = Api::start().await;
    // A member added later (as the sandbox adds its technician) too.
    let tech = api.cw.add_member("apitech2", Role::technician());
    let list = api.get("system/members?pageSize=100").await;
    assert_eq!(list.status, StatusCode::OK);
    let rows = list.body.as_array().unwrap();
    assert!(rows.iter().any(|m| m["id"] == tech.member_id));
    for m in rows {
        let one = api.get(&format!("system/members/{}", m["id"])).await;
        assert_eq!(one.status, StatusCode::OK);
        for rec in [m, &one.body] {
            for key in [
                "identifier",
                "firstName",
                "lastName",
                "licenseClass",
                "hireDate",
            ] {
                assert!(rec[key].is_string(), "{key} in {rec}");
            }
            assert!(rec["securityRole"]["id"].is_number(), "{rec}");
            assert!(rec.get("officeEmail").is_some() && rec["inactiveFlag"].is_boolean());
            for key in ["defaultEmail", "defaultPhone"] {
                assert!(
                    is_one_of(&rec[key], &["Office", "Mobile", "Home"]),
                    "{key} in {rec}"
                );
            }
            for key in [
                "agreementInvoicingDisplayOptions",
                "invoicingDisplayOptions",
            ] {
                let names = ["RemainOnInvoicingScreen", "ShowRecentInvoices"];
                assert!(is_one_of(&rec[key], &names), "{key} in {rec}");
            }
            let tabs = ["ShowInvoicingTab", "ShowAgreementInvoicingTab"];
            assert!(
                is_one_of(&rec["invoiceScreenDefaultTabFormat"], &tabs),
                "{rec}"
            );
        }
    }
}

#[tokio::test]
async fn setup_rows_created_by_post_carry_default_flag_like_seeded_ones() {
    let api = Api::start().await;
    for (path, body) in [
        ("service/sources", json!({"name": "Sophos Central"})),
        (
            "service/priorities",
            json!({"name": "Sophos", "color": "Red"}),
        ),
        ("procurement/types", json!({"name": "Security"})),
        ("service/boards/2/types", json!({"name": "Sophos Alert"})),
        ("service/boards/2/statuses", json!({"name": "Sophos New"})),
        ("finance/agreements/types", json!({"name": "Sophos MSP"})),
        (
            "company/companies/types",
            json!({"name": "Sophos Customer"}),
        ),
        ("company/companies/statuses", json!({"name": "Sophos Hold"})),
    ] {
        let seeded = api.get(&format!("{path}?pageSize=1")).await;
        assert!(seeded.body[0]["defaultFlag"].is_boolean(), "{path}: seeded");
        let made = api.post(path, body).await;
        assert_eq!(made.status, StatusCode::CREATED, "{path}: {}", made.body);
        assert_eq!(made.body["defaultFlag"], false, "{path}: {}", made.body);
        let back = api.get(&format!("{path}/{}", made.body["id"])).await;
        assert_eq!(back.body["defaultFlag"], false, "{path}");
        // Every field a seeded row shows, a created one shows too (nothing a strict client misses).
        let seeded_keys: Vec<&String> = seeded.body[0].as_object().unwrap().keys().collect();
        let made_keys = back.body.as_object().unwrap();
        let missing: Vec<_> = seeded_keys
            .into_iter()
            .filter(|k| !made_keys.contains_key(k.as_str()) && k.as_str() != "enteredBy")
            .collect();
        assert!(missing.is_empty(), "{path}: {missing:?}");
    }
}
