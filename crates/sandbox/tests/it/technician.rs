//! The sandbox's technician key: a second API member who can do what the integration's role may
//! not (delete an addition, close a ticket, rename a company), through the ordinary REST API.

use reqwest::{Method, StatusCode};
use sandbox::{Sandbox, SandboxOptions, TECHNICIAN};
use serde_json::{Value, json};

use crate::connectwise_support::{Api, Resp, send};

async fn start() -> (Sandbox, Api) {
    let mut o = SandboxOptions::demo(7, 8);
    o.realtime_speed = None;
    o.alert_rate = 0.0;
    let sb = Sandbox::spawn(o).await.expect("sandbox starts");
    let api = Api {
        cw: sb.connectwise.clone(),
        http: clientkit::http_client().build().unwrap(),
        creds: sb.connectwise.credentials(),
    };
    (sb, api)
}

async fn as_technician(
    sb: &Sandbox,
    api: &Api,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Resp {
    let mut rb = api.request_as(&sb.technician, method, path);
    if let Some(b) = body {
        rb = rb.json(&b);
    }
    send(rb).await
}

#[tokio::test]
async fn the_technician_is_a_second_api_member_and_is_printed() {
    let (sb, api) = start().await;
    assert_eq!(sb.technician.member_identifier, TECHNICIAN);
    assert_ne!(sb.technician.public_key, api.creds.public_key);
    let info = sb.info();
    assert_eq!(info.connectwise.technician.member, TECHNICIAN);
    assert_eq!(
        info.connectwise.technician.public_key,
        sb.technician.public_key
    );
    let me = as_technician(
        &sb,
        &api,
        Method::GET,
        "system/members?conditions=identifier%3D%22apitechnician%22",
        None,
    )
    .await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body[0]["identifier"], TECHNICIAN);
    assert_eq!(me.body[0]["securityRole"]["name"], "Service Technician");
}

#[tokio::test]
async fn the_technician_deletes_what_the_integration_may_not() {
    let (sb, api) = start().await;
    let agreements = api.get("finance/agreements?pageSize=1&orderBy=id").await;
    let agreement = agreements.body[0]["id"].as_i64().expect("an agreement");
    let addition = api
        .post(
            &format!("finance/agreements/{agreement}/additions"),
            json!({"product": {"identifier": "M365-BP"}, "quantity": 3, "billCustomer": "Billable"}),
        )
        .await;
    assert_eq!(addition.status, StatusCode::CREATED, "{:?}", addition.body);
    let path = format!(
        "finance/agreements/{agreement}/additions/{}",
        addition.body["id"]
    );
    // The integration's role has no Delete.
    assert_eq!(api.delete(&path).await.status, StatusCode::FORBIDDEN);
    let gone = as_technician(&sb, &api, Method::DELETE, &path, None).await;
    assert_eq!(gone.status, StatusCode::NO_CONTENT);
    assert_eq!(api.get(&path).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_technician_closes_a_ticket_and_renames_a_company() {
    let (sb, api) = start().await;
    let ticket = api
        .get("service/tickets?pageSize=1&orderBy=id&conditions=closedFlag%3Dfalse")
        .await;
    let id = ticket.body[0]["id"]
        .as_i64()
        .expect("an open seeded ticket");
    let board = ticket.body[0]["board"]["id"].as_i64().expect("its board");
    let statuses = api.get(&format!("service/boards/{board}/statuses")).await;
    let closed = statuses
        .body
        .as_array()
        .expect("statuses")
        .iter()
        .find(|s| s["closedStatus"] == json!(true))
        .expect("a closed status")["id"]
        .clone();
    let close = json!([{"op": "replace", "path": "status", "value": {"id": closed}}]);
    let path = format!("service/tickets/{id}");
    // Closing needs Close Service Tickets, which the integration's role lacks.
    assert_eq!(
        api.patch(&path, close.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let r = as_technician(&sb, &api, Method::PATCH, &path, Some(close)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(api.get(&path).await.body["closedFlag"], true);

    let company = api
        .get("company/companies?pageSize=1&orderBy=id")
        .await
        .body[0]["id"]
        .clone();
    let path = format!("company/companies/{company}");
    let rename = json!([{"op": "replace", "path": "name", "value": "Renamed By A Person Ltd"}]);
    assert_eq!(
        api.patch(&path, rename.clone()).await.status,
        StatusCode::FORBIDDEN
    );
    let r = as_technician(&sb, &api, Method::PATCH, &path, Some(rename)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(api.get(&path).await.body["name"], "Renamed By A Person Ltd");
}
