//! Behaviour of the ConnectWise emulator as a raw HTTP client sees it: auth, headers, paging, queries,
//! roles, writes and knobs.

use crate::connectwise_support;

use connectwise_support::{Api, send};
use reqwest::{Method, StatusCode};
use sandbox::connectwise::{Access, CwConfig, Level, Role, RoleFunction, Table};
use serde_json::{Value, json};
use std::time::Duration;

fn ids(v: &Value) -> Vec<i64> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn auth_client_id_and_accept_are_checked() {
    let api = Api::start().await;
    // Wrong company id in the user name.
    let r = send(
        api.http
            .get(api.url("system/info"))
            .basic_auth("other+EmuPublicKey0001", Some("EmuPrivateKey0001"))
            .header("clientId", "c"),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // No auth at all.
    let r = send(api.http.get(api.url("system/info")).header("clientId", "c")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // clientId header name is case-insensitive.
    let ok = send(
        api.http
            .get(api.url("system/info"))
            .basic_auth(api.creds.username(), Some("EmuPrivateKey0001"))
            .header("ClientID", "c"),
    )
    .await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(ok.header("api-current-version").as_deref(), Some("2025.1"));
    // The knob turns the requirement off.
    api.cw.set_require_client_id(false);
    let r = send(
        api.http
            .get(api.url("system/info"))
            .basic_auth(api.creds.username(), Some("EmuPrivateKey0001")),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // Every Accept form is tolerated.
    let bare = |accept: &str| {
        api.http
            .get(api.url("system/info"))
            .basic_auth(api.creds.username(), Some("EmuPrivateKey0001"))
            .header("clientId", "c")
            .header("Accept", accept)
    };
    for accept in [
        "application/json",
        "*/*",
        "application/vnd.connectwise.com+json; version=2021.1, application/json",
        "application/vnd.connectwise.com+json",
    ] {
        let r = send(bare(accept)).await;
        assert_eq!(r.status, StatusCode::OK, "{accept}");
    }
    api.cw.set_min_api_version(Some("2020.1"));
    let r = send(bare("application/vnd.connectwise.com+json; version=2019.1")).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["message"]
            .as_str()
            .expect("message")
            .contains("does not support the API version '2019.1'")
    );
}

/// GET of a full URL with the default member's keys.
async fn get_signed_in(api: &Api, url: &str) -> crate::connectwise_support::Resp {
    send(
        api.http
            .get(url)
            .basic_auth(api.creds.username(), Some("EmuPrivateKey0001"))
            .header("clientId", "c"),
    )
    .await
}

#[tokio::test]
async fn codebase_moves_and_paths_are_tolerant() {
    let api = Api::start().await;
    assert_eq!(
        api.get("Company/Companies/250/").await.status,
        StatusCode::OK
    );
    let old = api.url("system/info");
    api.cw.move_codebase("v2026_1");
    let r = get_signed_in(&api, &old).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let info = send(api.http.get(format!(
        "{}/login/companyinfo/BRIDGEWATER",
        api.cw.site_url()
    )))
    .await;
    assert_eq!(info.body["Codebase"], "v2026_1/");
    assert_eq!(api.get("system/info").await.status, StatusCode::OK);
}

#[tokio::test]
async fn v4_6_release_is_served_beside_the_discovered_codebase() {
    let api = Api::start().await;
    let guide_style = format!(
        "{}/v4_6_release/apis/3.0/company/companies?pageSize=3",
        api.cw.site_url()
    );
    let r = get_signed_in(&api, &guide_style).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body.as_array().map(Vec::len), Some(3));
    // Still after the site moves codebase.
    api.cw.move_codebase("v2026_1");
    assert_eq!(
        get_signed_in(&api, &guide_style).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn navigable_paging_links() {
    let api = Api::start().await;
    let total = api.get("company/companies/count").await.body["count"]
        .as_u64()
        .expect("count");
    assert_eq!(total as usize, api.cw.records(Table::Companies).len());
    let r = api
        .get("company/companies?conditions=deletedFlag%3Dfalse&pageSize=10&page=2")
        .await;
    let link = r.header("link").expect("Link");
    let base = api.url("company/companies");
    let live = api
        .get("company/companies/count?conditions=deletedFlag=false")
        .await
        .body["count"]
        .as_u64()
        .expect("count");
    let last = live.div_ceil(10);
    assert_eq!(
        link,
        format!(
            "<{base}?conditions=deletedFlag%3Dfalse&pageSize=10&page=1>; rel=\"first\", <{base}?conditions=deletedFlag%3Dfalse&pageSize=10&page=1>; rel=\"prev\", <{base}?conditions=deletedFlag%3Dfalse&pageSize=10&page=3>; rel=\"next\", <{base}?conditions=deletedFlag%3Dfalse&pageSize=10&page={last}>; rel=\"last\""
        )
    );
    assert_eq!(r.body.as_array().expect("array").len(), 10);
    // Walking `next` visits every live company once.
    let mut seen = Vec::new();
    let mut url = Some(format!("{base}?conditions=deletedFlag%3Dfalse&pageSize=7"));
    while let Some(u) = url {
        let r = send(
            api.http
                .get(&u)
                .basic_auth(api.creds.username(), Some("EmuPrivateKey0001"))
                .header("clientId", "c"),
        )
        .await;
        seen.extend(ids(&r.body));
        url = r.header("link").and_then(|l| {
            l.split(", ")
                .find(|p| p.ends_with("rel=\"next\""))
                .map(|p| p[1..p.find('>').expect(">")].to_owned())
        });
    }
    assert_eq!(seen.len() as u64, live);
    // First page: no first/prev; past the end: empty array.
    let r = api.get("company/companies?pageSize=1000").await;
    assert_eq!(
        r.header("link").expect("Link"),
        format!("<{base}?pageSize=1000&page=1>; rel=\"last\"")
    );
    assert_eq!(api.get("company/companies?page=99").await.body, json!([]));
    assert_eq!(
        api.get("company/companies?pageSize=0").await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        api.get("company/companies?pagesize=1000").await.status,
        StatusCode::OK
    );
    assert_eq!(
        api.get("company/companies")
            .await
            .body
            .as_array()
            .expect("array")
            .len(),
        25
    );
}

#[tokio::test]
async fn forward_only_paging() {
    let api = Api::start().await;
    let mut seen = Vec::new();
    let mut url = api.url("company/companies?pageSize=10");
    loop {
        let r = send(
            api.http
                .get(&url)
                .basic_auth(api.creds.username(), Some("EmuPrivateKey0001"))
                .header("clientId", "c")
                .header("pagination-type", "forward-only"),
        )
        .await;
        assert_eq!(r.status, StatusCode::OK);
        seen.extend(ids(&r.body));
        let link = r.header("link").expect("forward-only always sends Link");
        if link.is_empty() {
            break;
        }
        assert!(link.contains("pageId="), "{link}");
        url = link[1..link.find('>').expect(">")].to_owned();
    }
    let all: Vec<i64> = api
        .cw
        .records(Table::Companies)
        .iter()
        .map(|c| c["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(seen, all);
    let r = send(
        api.request(Method::GET, "company/companies?orderBy=name")
            .header("pagination-type", "forward-only"),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn conditions_order_fields_and_search() {
    let api = Api::start().await;
    api.cw.insert_record(
        Table::Companies,
        json!({"identifier": "OBrienTech", "name": "O'Brien \"Tech\" & Co", "deletedFlag": false, "types": [{"id": 3, "name": "Vendor"}], "status": {"id": 1, "name": "Active"}}),
    );
    let q = |c: &str| format!("company/companies?conditions={}", urlencode(c));
    let r = api
        .get(&q(r#"name contains "O'Brien" and name contains '"Tech"'"#))
        .await;
    assert_eq!(r.body.as_array().expect("array").len(), 1, "{}", r.body);
    let r = api.get(&q(r#"NAME like '%& co'"#)).await;
    assert_eq!(r.body[0]["identifier"], "OBrienTech");
    // `+` in the query string is a space.
    let r = api
        .get("company/companies?conditions=identifier+%3D+%22OBrienTech%22")
        .await;
    assert_eq!(r.body.as_array().expect("array").len(), 1);
    // childConditions on the types array; case-insensitive parameter name.
    let r = api
        .get(&format!(
            "company/companies?childconditions={}&pageSize=1000",
            urlencode("types/name=\"Vendor\"")
        ))
        .await;
    assert!(r.body.as_array().expect("array").iter().all(|c| {
        c["types"]
            .as_array()
            .expect("types")
            .iter()
            .any(|t| t["name"] == "Vendor")
    }));
    assert!(!r.body.as_array().expect("array").is_empty());
    // orderBy and fields.
    let r = api
        .get("company/companies?orderBy=name%20desc&fields=id,name,status/name&pageSize=5")
        .await;
    let names: Vec<&str> = r
        .body
        .as_array()
        .expect("array")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    let mut sorted = names.clone();
    sorted.sort_by_key(|n| std::cmp::Reverse(n.to_lowercase()));
    assert_eq!(names, sorted);
    assert_eq!(
        r.body[0]
            .as_object()
            .expect("object")
            .keys()
            .collect::<Vec<_>>(),
        ["id", "name", "status"]
    );
    assert_eq!(r.body[0]["status"].as_object().expect("status").len(), 1);
    // in / not in / null / datetimes.
    let r = api.get(&q("id in (250, 251, 99999)")).await;
    assert_eq!(ids(&r.body), [250, 251]);
    let r = api
        .get(&format!(
            "service/tickets?conditions={}",
            urlencode("closedDate = null and _info/dateEntered > [2025-08-23T00:00:00Z]")
        ))
        .await;
    assert!(ids(&r.body).iter().all(|id| *id > 1001));
    // POST …/search with the conditions in the body.
    let r = api
        .post(
            "service/tickets/search",
            json!({"conditions": "summary like 'Printer%'", "pageSize": 5}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(ids(&r.body), [1001]);
}

#[tokio::test]
async fn roles_are_checked_before_validation() {
    let api = Api::start().await;
    // Invalid bodies still get 403 when the level is missing.
    assert_eq!(
        api.post("company/companies", json!({})).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.delete("finance/agreements/11/additions/1").await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.get("company/contacts").await.status,
        StatusCode::FORBIDDEN
    );
    // Setup tables answer reads even without Table Setup.
    api.cw.set_role_level(
        api.creds.member_id,
        RoleFunction::TableSetup,
        Level::Inquire,
        Access::None,
    );
    assert_eq!(api.get("service/boards").await.status, StatusCode::OK);
    // Taking Add away from Service Tickets: POST refused before the body is read.
    api.cw.set_role_level(
        api.creds.member_id,
        RoleFunction::ServiceTickets,
        Level::Add,
        Access::None,
    );
    assert_eq!(
        api.post("service/tickets", json!({"summary": "x".repeat(500)}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    // A full member may create companies and read contacts.
    let admin = api.cw.add_member("admin2", Role::full());
    let r = send(api.request_as(&admin, Method::GET, "company/contacts")).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = send(
        api.request_as(&admin, Method::POST, "company/companies")
            .json(&json!({"identifier": "NewCo", "name": "New Co"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "needs an address field");
    let r = send(
        api.request_as(&admin, Method::POST, "company/companies")
            .json(&json!({"identifier": "NewCo", "name": "New Co", "city": "Lisboa"})),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn closing_tickets_needs_close_service_tickets() {
    let api = Api::start().await;
    let r = api
        .patch(
            "service/tickets/1001",
            json!([{"op": "replace", "path": "status", "value": {"id": 6}}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(
        api.cw.record(Table::Tickets, 1001).expect("ticket")["closedFlag"],
        false
    );
    // Moving between open statuses is fine.
    let r = api
        .patch(
            "service/tickets/1001",
            json!([{"op": "replace", "path": "/status", "value": {"id": 2}}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["status"]["name"], "In Progress");
    api.cw.set_role_level(
        api.creds.member_id,
        RoleFunction::CloseServiceTickets,
        Level::Edit,
        Access::All,
    );
    let r = api
        .patch(
            "service/tickets/1001",
            json!([{"op": "replace", "path": "status", "value": {"id": 6}}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["closedFlag"], true);
    assert_eq!(r.body["closedDate"], "2026-11-15T12:00:00Z");
}

#[tokio::test]
async fn patch_semantics() {
    let api = Api::start().await;
    // A sub-path inside a reference: false 200, nothing changes.
    let before = api.cw.record(Table::Tickets, 1001).expect("ticket");
    let r = api
        .patch(
            "service/tickets/1001",
            json!([{"op": "replace", "path": "company/identifier", "value": "Other"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(api.cw.record(Table::Tickets, 1001).expect("ticket"), before);
    // Paths are case-sensitive.
    let r = api
        .patch(
            "service/tickets/1001",
            json!([{"op": "replace", "path": "Summary", "value": "x"}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Not an array.
    let r = api
        .patch("service/tickets/1001", json!({"summary": "x"}))
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Validation applies to patches too.
    let r = api
        .patch(
            "service/tickets/1001",
            json!([{"op": "replace", "path": "summary", "value": "y".repeat(101)}]),
        )
        .await;
    assert_eq!(r.body["code"], "MaxLengthField");
    let r = api
        .patch(
            "service/tickets/1001",
            json!([{"op": "replace", "path": "summary", "value": "Renamed"}]),
        )
        .await;
    assert_eq!(r.body["summary"], "Renamed");
    assert_eq!(r.body["_info"]["updatedBy"], "apisophos");
    // PUT resets omitted fields.
    let mut full = api.get("service/tickets/1001").await.body;
    full.as_object_mut().expect("object").remove("priority");
    let r = api.put("service/tickets/1001", full).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body["priority"]["name"], "Priority 3 - Normal Response",
        "reset to the default priority"
    );
}

#[tokio::test]
async fn tickets_notes_and_hidden_fields() {
    let api = Api::start().await;
    let r = api
        .post("service/tickets", json!({"summary": "Sophos alert", "company": {"identifier": "adventuretextiles"}, "initialDescription": "Details here", "externalXRef": "abc"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert!(r.body.get("initialDescription").is_none());
    let id = r.body["id"].as_i64().expect("id");
    assert_eq!(r.body["board"]["name"], "Help Desk");
    assert_eq!(r.body["status"]["name"], "New");
    assert_eq!(
        api.cw.ticket_hidden_fields(id).expect("hidden")["initialDescription"],
        "Details here"
    );
    assert_eq!(api.cw.notes(id)[0]["text"], "Details here");
    assert_eq!(api.cw.tickets_by_xref("abc").len(), 1);
    let r = api
        .get(&format!(
            "service/tickets?conditions={}",
            urlencode("externalXRef=\"abc\"")
        ))
        .await;
    assert_eq!(ids(&r.body), [id]);
    let n = api.get(&format!("service/tickets/{id}/notes/count")).await;
    assert_eq!(n.body["count"], 1);
    // Contacts need the Contacts function.
    let r = api
        .post(
            "service/tickets",
            json!({"summary": "s", "company": {"id": 250}, "contact": {"id": 2000}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Deleted companies are not found.
    assert!(api.cw.update_record(Table::Companies, 251, |c| {
        c.insert("deletedFlag".into(), json!(true));
    }));
    let r = api
        .post(
            "service/tickets",
            json!({"summary": "s", "company": {"id": 251}}),
        )
        .await;
    assert_eq!(r.body["errors"][0]["code"], "NotFound");
}

#[tokio::test]
async fn additions_and_invoiced_periods() {
    let api = Api::start().await;
    let body = json!({"product": {"identifier": "M365-BP"}, "quantity": 3, "billCustomer": "Billable", "effectiveDate": "2026-10-01T00:00:00Z"});
    api.cw
        .set_invoiced_through(12, Some("2026-10-31T23:59:59Z".parse().expect("ts")));
    let r = api
        .post("finance/agreements/12/additions", body.clone())
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["errors"][0]["message"]
            .as_str()
            .expect("message")
            .starts_with("Period has already been invoiced")
    );
    let mut later = body.clone();
    later["effectiveDate"] = json!("2026-11-01T00:00:00Z");
    let r = api.post("finance/agreements/12/additions", later).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["extPrice"], 66.0);
    assert_eq!(r.body["agreementId"], 12);
    let id = r.body["id"].as_i64().expect("id");
    // The clock (2026-11-15) is after the invoiced date: quantity changes are accepted.
    let r = api
        .patch(
            &format!("finance/agreements/12/additions/{id}"),
            json!([{"op": "replace", "path": "quantity", "value": 5}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(api.cw.additions(12)[0]["quantity"], 5.0);
    // Now the current period is invoiced too.
    api.cw
        .set_invoiced_through(12, Some("2026-11-30T23:59:59Z".parse().expect("ts")));
    let r = api
        .patch(
            &format!("finance/agreements/12/additions/{id}"),
            json!([{"op": "replace", "path": "quantity", "value": 6}]),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // Wrong agreement in the path: 404.
    assert_eq!(
        api.get(&format!("finance/agreements/11/additions/{id}"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        api.get("finance/agreements/999999/additions").await.status,
        StatusCode::NOT_FOUND
    );
    // billCustomer enum and required product.
    let r = api
        .post(
            "finance/agreements/12/additions",
            json!({"billCustomer": "Sometimes"}),
        )
        .await;
    let codes: Vec<&str> = r.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["code"].as_str().expect("code"))
        .collect();
    assert_eq!(codes, ["InvalidField", "MissingRequiredField"]);
}

#[tokio::test]
async fn slow_commit_still_commits() {
    let api = Api::start().await;
    api.cw
        .faults()
        .set_slow_commit(Some(Duration::from_millis(1500)));
    let client = clientkit::http_client()
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let res = api
        .request(Method::POST, "service/tickets")
        .json(&json!({"summary": "slow", "company": {"id": 250}, "externalXRef": "slow-1"}));
    let (c, req) = res.build_split();
    let _ = c;
    let err = client
        .execute(req.expect("request"))
        .await
        .expect_err("times out");
    assert!(err.is_timeout());
    assert_eq!(
        api.cw.tickets_by_xref("slow-1").len(),
        1,
        "the record exists although the client timed out"
    );
    api.cw.faults().set_slow_commit(None);
    // Reads are not delayed.
    assert_eq!(api.get("system/info").await.status, StatusCode::OK);
}

#[tokio::test]
async fn fault_rate_and_counters() {
    let api = Api::start().await;
    api.cw.faults().set_fault_rate(1.0);
    let r = api.get("system/info").await;
    assert_eq!(r.status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(r.body["code"], "ConnectWiseApi");
    api.cw.faults().set_fault_rate(0.0);
    api.post(
        "service/tickets/1001/notes",
        json!({"text": "t", "detailDescriptionFlag": true}),
    )
    .await;
    let c = api.cw.request_counts();
    assert_eq!(c.injected_faults, 1);
    assert_eq!(c.count("POST", 201), 1);
    assert_eq!(c.successful_writes, 1);
    assert_eq!(c.by_family.get("service/tickets"), Some(&1));
}

#[tokio::test]
async fn snapshot_detects_writes() {
    let api = Api::start().await;
    let before = api.cw.snapshot();
    api.get("company/companies?pageSize=1000").await;
    api.post("service/tickets/search", json!({"conditions": "id > 0"}))
        .await;
    assert_eq!(api.cw.snapshot(), before);
    api.post("procurement/manufacturers", json!({"name": "Sophos"}))
        .await;
    assert_ne!(api.cw.snapshot(), before);
}

#[tokio::test]
async fn https_mode() {
    let dir = std::env::temp_dir().join(format!("cw-emu-{}", std::process::id()));
    let cert = dir.join("cw.pem");
    let mut cfg = CwConfig::demo(1);
    cfg.https_cert_path = Some(cert.clone());
    let api = Api::start_with(cfg).await;
    assert!(api.cw.site_url().starts_with("https://"));
    let pem = std::fs::read(&cert).expect("certificate written");
    let client = clientkit::http_client()
        .tls_certs_only([reqwest::Certificate::from_pem(&pem).expect("pem")])
        .build()
        .expect("client");
    let r = send(client.get(format!(
        "{}/login/companyinfo/bridgewater",
        api.cw.site_url()
    )))
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["CompanyID"], "bridgewater");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn big_world() {
    let cfg = CwConfig::sized(3, 5000);
    let api = Api::start_with(cfg).await;
    let n = api.get("company/companies/count").await.body["count"]
        .as_u64()
        .expect("count");
    assert_eq!(n, 5000);
    let r = api
        .get("finance/agreements?pageSize=1000&conditions=cancelledFlag%3Dfalse")
        .await;
    assert_eq!(r.body.as_array().expect("array").len(), 1000);
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b'/' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A close made by a person in ConnectWise moves `_info/lastUpdated`, so integrations that poll
/// "changed since" find it.
#[tokio::test]
async fn a_person_closing_a_ticket_updates_last_updated() {
    let api = Api::start().await;
    let ticket = api
        .cw
        .records(Table::Tickets)
        .into_iter()
        .find(|t| t["closedFlag"] == json!(false));
    let ticket = ticket.expect("an open seeded ticket");
    let id = ticket["id"].as_i64().expect("id");
    let before = ticket["_info"]["lastUpdated"].clone();
    api.cw
        .set_now(Some("2030-01-02T03:04:05Z".parse().expect("timestamp")));
    assert!(api.cw.close_ticket(id));
    let after = api.cw.record(Table::Tickets, id).expect("still there");
    assert_eq!(after["closedFlag"], json!(true));
    assert_ne!(after["_info"]["lastUpdated"], before);
    assert_eq!(after["_info"]["lastUpdated"], json!("2030-01-02T03:04:05Z"));
    let found = api
        .get(&format!(
            "service/tickets?conditions=_info/lastUpdated > [2030-01-01T00:00:00Z] and id = {id}"
        ))
        .await;
    assert_eq!(found.status, StatusCode::OK);
    assert_eq!(ids(&found.body), vec![id]);
}

#[tokio::test]
async fn conditions_on_unknown_fields_or_wrong_types_are_refused() {
    let api = Api::start().await;
    // ConnectWise's own message for a number where a boolean belongs.
    let r = api.get("service/tickets?conditions=closedFlag%3D1").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(
        r.body["message"]
            .as_str()
            .unwrap()
            .starts_with("Expected a boolean value, not a numeric."),
        "{}",
        r.body
    );
    let r = api
        .get("service/tickets/count?conditions=closedFlag%3D%22yes%22")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    // A field the resource does not have is an error, not an empty list.
    let r = api
        .get("company/companies?conditions=colour%3D%22blue%22")
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.body["message"].as_str().unwrap().contains("colour"));
    // What the Developer Guide writes is accepted: booleans, null, nested and _info fields, and
    // top-level lastUpdated / dateEntered.
    for ok in [
        "closedFlag%3Dfalse",
        "closedFlag%20%3D%20null",
        "company%2Fid%3D250",
        "lastUpdated%20%3E%20%5B2016-08-20T18%3A04%3A26Z%5D",
        "dateEntered%20%3E%3D%20%5B2015-12-23T05%3A53%3A27Z%5D",
        "_info%2FlastUpdated%20%3E%20%5B2016-08-20T18%3A04%3A26Z%5D",
    ] {
        let r = api.get(&format!("service/tickets?conditions={ok}")).await;
        assert_eq!(r.status, StatusCode::OK, "{ok}: {}", r.body);
    }
    let recent = api
        .get("service/tickets?conditions=lastUpdated%20%3E%20%5B2016-08-20T18%3A04%3A26Z%5D")
        .await;
    assert!(
        !recent.body.as_array().unwrap().is_empty(),
        "lastUpdated matches the records' _info/lastUpdated"
    );
}
