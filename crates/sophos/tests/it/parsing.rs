//! Pins the client's parsing of every example body in the reference (§4–§11).

use sophos::models::{
    ActionResult, Alert, AlertAction, BillingType, Category, ErrorBody, IdType, Page, Product,
    Severity, Tenant, UsageItem, WhoAmI,
};

fn fixture(name: &str) -> String {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_str(&fixture(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn whoami_partner() {
    let w: WhoAmI = parse("whoami.json");
    assert_eq!(w.id_type, Some(IdType::Partner));
    insta::assert_json_snapshot!(w);
}

#[test]
fn whoami_tenant_with_http_and_trailing_slash() {
    let w: WhoAmI = parse("whoami_tenant_http.json");
    assert_eq!(w.id_type, Some(IdType::Tenant));
    let global = w.api_hosts.global.as_deref().unwrap();
    assert_eq!(
        sophos::normalize_base_url(global).unwrap(),
        "http://api.central.sophos.com"
    );
    insta::assert_json_snapshot!(w);
}

#[test]
fn tenants_page() {
    let p: Page<Tenant> = parse("tenants_page.json");
    assert_eq!(p.pages.total, Some(3));
    assert_eq!(p.items[0].billing_type, Some(BillingType::Usage));
    let r = p.items[0].tenant_ref().unwrap();
    assert_eq!(r.api_host, "https://api-us01.central.sophos.com");
    insta::assert_json_snapshot!(p);
}

#[test]
fn tenant_get() {
    let t: Tenant = parse("tenant_get.json");
    assert_eq!(t.display_name(), "Example Customer");
    assert_eq!(
        t.organization.as_ref().map(|o| o.id.as_str()),
        Some("00000000-0000-4000-8000-0000000000bb")
    );
    insta::assert_json_snapshot!(t);
}

#[test]
fn billing_page_with_impossible_date_and_no_account() {
    let p: Page<UsageItem> = parse("billing_page.json");
    assert_eq!(p.pages.next_key.as_deref(), Some("k2"));
    let odd = &p.items[1];
    assert_eq!(odd.billing_end_date.as_deref(), Some("2021-04-31"));
    assert_eq!(odd.billing_end(), Some(jiff::civil::date(2021, 4, 30)));
    assert_eq!(odd.account_id, None);
    assert_eq!(p.items[0].billable_quantity, Some(20));
    insta::assert_json_snapshot!(p);
}

#[test]
fn alerts_page() {
    let p: Page<Alert> = parse("alerts_page.json");
    let a = &p.items[0];
    assert_eq!(a.category, Some(Category::Updating));
    assert_eq!(a.product, Some(Product::Endpoint));
    assert_eq!(a.severity, Some(Severity::Medium));
    assert!(a.allows(&AlertAction::Acknowledge));
    // Zone-less raisedAt is UTC.
    assert_eq!(
        a.raised_at,
        Some("2024-03-12T15:04:53.780Z".parse().unwrap())
    );
    insta::assert_json_snapshot!(p);
}

#[test]
fn alert_get_with_unknown_action_and_extra_fields() {
    let a: Alert = parse("alert_get.json");
    assert_eq!(
        a.allowed_actions[2],
        AlertAction::Other("quarantineEverything".into())
    );
    assert_eq!(
        a.description.as_deref(),
        Some(r"PUA detected: 'PsExec' at 'C:\Tools\PsExec.exe'")
    );
    insta::assert_json_snapshot!(a);
}

#[test]
fn alert_with_unknown_values_does_not_fail() {
    let a: Alert = parse("alert_no_agent.json");
    assert_eq!(a.category, Some(Category::Other("brandNewCategory".into())));
    assert_eq!(a.product, Some(Product::OtherProduct));
    assert_eq!(a.severity, Some(Severity::Other("critical".into())));
    assert_eq!(a.raised_at, None);
    assert!(a.managed_agent.is_none() && a.allowed_actions.is_empty());
    insta::assert_json_snapshot!(a);
}

#[test]
fn action_201() {
    let r: ActionResult = parse("action_201.json");
    assert_eq!(r.action, Some(AlertAction::Acknowledge));
    assert_eq!(r.completed_at, None);
    insta::assert_json_snapshot!(r);
}

#[test]
fn error_bodies() {
    let mut all = Vec::new();
    for name in [
        "error_400.json",
        "error_401.json",
        "error_401_real.json",
        "error_403.json",
        "error_403_real.json",
        "error_404.json",
        "error_404_alert.json",
        "error_409.json",
        "error_429.json",
        "error_500.json",
        "error_502.html",
        "token_401.json",
    ] {
        all.push((name, ErrorBody::parse(fixture(name).as_bytes())));
    }
    assert_eq!(
        all[10].1,
        ErrorBody::default(),
        "non-JSON body reads as empty"
    );
    insta::assert_json_snapshot!(all);
}
