//! Pins the emulator's JSON against the reference's shapes (connectwise-psa-api.md §1, §7, §9).

use crate::connectwise_support;

use connectwise_support::{Api, send, stable};
use insta::assert_json_snapshot;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn companyinfo_known_and_unknown() {
    let api = Api::start().await;
    let r = send(api.http.get(format!(
        "{}/login/companyinfo/bridgewater",
        api.cw.site_url()
    )))
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_json_snapshot!("companyinfo", r.body);
    let r = send(
        api.http
            .get(format!("{}/login/companyinfo/nobody", api.cw.site_url())),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.body.is_null(),
        "unknown company id answers the JSON literal null"
    );
}

#[tokio::test]
async fn read_shapes() {
    let api = Api::start().await;
    let company = api.get("company/companies/250").await;
    assert_eq!(company.status, StatusCode::OK);
    assert_json_snapshot!("company", stable(&api, &company.body));
    let agreement = api.get("finance/agreements/11").await;
    assert_json_snapshot!("agreement", stable(&api, &agreement.body));
    let status = api.get("service/boards/1/statuses/5").await;
    assert_json_snapshot!("board_status", stable(&api, &status.body));
    let info = api.get("system/info").await;
    assert_json_snapshot!("system_info", info.body);
    let report = api.get("system/reports/Company?pageSize=2").await;
    assert_json_snapshot!("report_company", report.body);
    let list = api.get("system/reports").await;
    assert_json_snapshot!("report_list", list.body);
    let cols = api.get("system/reports/service/columns").await;
    assert_json_snapshot!("report_service_columns", cols.body);
}

#[tokio::test]
async fn write_shapes() {
    let api = Api::start().await;
    let catalog = api
        .post(
            "procurement/catalog",
            json!({"identifier": "Sophos_Intercept_X_Advanced", "description": "Sophos Intercept X Advanced",
                "customerDescription": "Sophos Central Intercept X Advanced", "subcategory": {"id": 4}, "type": {"id": 4},
                "productClass": "Agreement", "price": 5.5, "cost": 3.25}),
        )
        .await;
    assert_eq!(catalog.status, StatusCode::CREATED);
    assert_json_snapshot!("catalog_item_created", stable(&api, &catalog.body));
    let product = catalog.body["id"].as_i64().expect("id");

    let addition = api
        .post(
            "finance/agreements/12/additions",
            json!({"product": {"id": product}, "quantity": 20, "billCustomer": "Billable",
                "effectiveDate": "2026-11-01T00:00:00Z", "description": "Sophos Central Intercept X Advanced"}),
        )
        .await;
    assert_eq!(addition.status, StatusCode::CREATED);
    assert_json_snapshot!("addition_created", stable(&api, &addition.body));

    let ticket = api
        .post(
            "service/tickets",
            json!({"summary": "Sophos: PC-001 is out of date", "company": {"id": 250}, "board": {"id": 2},
                "status": {"id": 7}, "type": {"id": 5}, "priority": {"id": 2}, "source": {"id": 1},
                "externalXRef": "00000000-0000-4000-8000-00000000a001",
                "initialDescription": "Alert type: Event::Endpoint::OutOfDate\nSeverity: medium", "processNotifications": false}),
        )
        .await;
    assert_eq!(ticket.status, StatusCode::CREATED, "{}", ticket.body);
    assert_json_snapshot!("ticket_created", stable(&api, &ticket.body));
    let id = ticket.body["id"].as_i64().expect("id");

    let note = api
        .post(
            &format!("service/tickets/{id}/notes"),
            json!({"text": "Seen again on PC-001", "internalAnalysisFlag": true}),
        )
        .await;
    assert_eq!(note.status, StatusCode::CREATED);
    assert_json_snapshot!("note_created", stable(&api, &note.body));
}

#[tokio::test]
async fn error_shapes() {
    let api = Api::start().await;
    // 401
    let r = send(
        api.http
            .get(api.url("company/companies"))
            .basic_auth("bridgewater+EmuPublicKey0001", Some("wrong"))
            .header("clientId", "x"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    assert_json_snapshot!("error_401", r.body);
    // 403 Security (seed role has no Delete)
    let r = api.delete("service/tickets/1001").await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_json_snapshot!("error_403_security", r.body);
    // 400 MissingRequiredField
    let r = api
        .post("service/tickets", json!({"company": {"id": 250}}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_json_snapshot!("error_missing_required_field", r.body);
    // 400 MaxLengthField
    let r = api
        .post(
            "service/tickets",
            json!({"summary": "x".repeat(101), "company": {"id": 250}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_json_snapshot!("error_max_length", r.body);
    // 400 ObjectExists
    let r = api
        .post(
            "procurement/catalog",
            json!({"identifier": "m365-bp", "description": "dup", "customerDescription": "dup",
                "subcategory": {"id": 4}, "type": {"id": 4}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_json_snapshot!("error_object_exists", r.body);
    // 400 NotFound (bad reference)
    let r = api.post("service/tickets", json!({"summary": "s", "company": {"id": 250}, "board": {"id": 1}, "status": {"id": 17}})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_json_snapshot!("error_bad_reference", r.body);
    // 404 NotFound
    let r = api.get("service/tickets/1255787").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_json_snapshot!("error_404", r.body);
    // 400 OutOfRange
    let r = api.get("company/companies?pageSize=1001").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_json_snapshot!("error_page_size", r.body);
    // 400 conditions parse error
    let r = api
        .get("company/companies?conditions=name%3D%27unbalanced")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_json_snapshot!("error_conditions", r.body);
    assert!(
        r.body["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("Expected a boolean value, not a numeric."))
    );
    // 400 note without display flag
    let r = api
        .post("service/tickets/1001/notes", json!({"text": "no flag"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_json_snapshot!("error_note_display_flag", r.body);
    // 400 clientId missing
    let r = send(
        api.http
            .get(api.url("system/info"))
            .basic_auth(api.creds.username(), Some("EmuPrivateKey0001")),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_json_snapshot!("error_client_id", r.body);
    // 500 conversion (bare id where a reference is expected)
    let r = api
        .post("service/tickets", json!({"summary": "s", "company": "250"}))
        .await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_json_snapshot!("error_conversion", r.body);
    // 429
    api.cw.faults().set_rate_limit(Some(1));
    let _ = api.get("system/info").await;
    let r = send(api.request(Method::GET, "system/info")).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = r
        .header("retry-after")
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=60).contains(&retry));
    assert_json_snapshot!("error_429", r.body);
}
