//! `centralbridge audit` on a prepared store: the OS user is the CLI's actor even without `USER`,
//! names stand beside ids, the filters (kind, family, customer) select what they say, the CSV holds
//! the same rows, and every kind written is offered by the CLI and by the dashboard's filter.

use engine::audit::AuditKind;
use engine::store::{CoreStore as _, MappingStore as _};
use serde_json::Value;

use crate::support::{Target, World, text};

/// The OS account of this process, as `id -un` names it.
fn os_user() -> String {
    let out = std::process::Command::new("id")
        .arg("-un")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

async fn run_without_user(w: &World, args: &[&str]) -> std::process::Output {
    let mut cmd = w.cli(args);
    cmd.env_remove("USER")
        .env_remove("LOGNAME")
        .env_remove("USERNAME");
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_audit_trail_names_who_and_what() {
    let w = World::new(Target::sqlite(), 4).await;
    let mapping = w.store.list_mappings().await.unwrap()[0].clone();
    let tenant = w
        .store
        .get_tenant(mapping.tenant_id.as_str())
        .await
        .unwrap()
        .unwrap();
    let out = run_without_user(&w, &["map", "clear", "--tenant", tenant.id.as_str()]).await;
    assert!(out.status.success(), "{}", text(&out));

    let out = w
        .run(&[
            "--json",
            "audit",
            "--what",
            "mapping",
            "--customer",
            &tenant.name,
        ])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let listed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let entries = listed["entries"].as_array().unwrap();
    let cleared = entries
        .iter()
        .find(|e| e["kind"] == "mapping.clear")
        .unwrap_or_else(|| panic!("{listed}"));
    assert_eq!(
        cleared["actor"],
        os_user().as_str(),
        "the OS user, not a placeholder"
    );
    assert_eq!(cleared["what"], "mapping removed");
    assert!(
        cleared["about"].as_str().unwrap().contains(&tenant.name),
        "{cleared}"
    );
    assert!(
        entries
            .iter()
            .all(|e| e["kind"].as_str().unwrap().starts_with("mapping.")),
        "{listed}"
    );
    // The human table says the same.
    let table = text(&w.run(&["audit", "--customer", tenant.id.as_str()]).await);
    assert!(
        table.contains("mapping removed") && table.contains(&tenant.name),
        "{table}"
    );

    // The CSV holds the same rows as the JSON.
    let all = w.run(&["--json", "audit", "--limit", "1000"]).await;
    let all: Value = serde_json::from_slice(&all.stdout).unwrap();
    let n = all["entries"].as_array().unwrap().len();
    assert!(n > 5, "{all}");
    let csv = w.run(&["audit", "--limit", "1000", "--csv", "-"]).await;
    assert!(csv.status.success(), "{}", text(&csv));
    let csv_rows = csv::Reader::from_reader(csv.stdout.as_slice())
        .records()
        .count();
    assert_eq!(csv_rows, n);

    // Bad filters are refused with their fix.
    for args in [
        &["audit", "--what", "addition.create"][..],
        &["audit", "--customer", "Nobody At All"][..],
        &["audit", "--since", "last tuesday"][..],
    ] {
        let o = w.run(args).await;
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", text(&o));
        assert!(text(&o).contains("Fix:"), "{}", text(&o));
    }
    w.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_written_is_offered_by_both_filters() {
    let w = World::new(Target::sqlite(), 3).await;
    // The prepared store holds mappings, products, catalog items and ticket settings; a sync adds
    // additions.
    let out = w.run(&["sync", "usage"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let written = w
        .store
        .list_audit(&engine::store::AuditFilter {
            limit: Some(10_000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(written.len() > 10);
    for e in &written {
        assert!(
            AuditKind::parse(&e.action).is_some(),
            "{} is written but in no filter",
            e.action
        );
    }
    // The CLI accepts every kind; the dashboard offers every kind.
    let kinds = text(&w.run(&["audit", "--what", "list"]).await);
    let app = crate::support::App::spawn(&w, &[]).await;
    let page = app
        .http
        .get(format!("{}/activity", app.base))
        .header("cookie", &app.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for k in AuditKind::ALL {
        assert!(
            kinds.contains(k.as_str()),
            "{k} missing from audit --what list"
        );
        assert!(
            page.contains(&format!("<option value=\"{}\"", k.as_str())),
            "{k} missing from the dashboard's filter"
        );
        let o = w.run(&["audit", "--what", k.as_str()]).await;
        assert!(o.status.success(), "{k}: {}", text(&o));
    }
    app.stop().await;
    w.finish().await;
}

/// A world synced once, then one of the additions the sync made deleted in ConnectWise by a
/// person, and synced again: that run's output, which fails the customer (exit 1).
async fn a_synced_addition_deleted_by_hand()
-> (World, engine::store::AdditionLink, std::process::Output) {
    use engine::store::UsageStore as _;
    let w = World::new(Target::sqlite(), 10).await;
    let out = w.run(&["sync", "usage"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let link = w
        .store
        .list_addition_links(None)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.created_by_us)
        .expect("an addition made by the sync");
    assert!(w.sb.connectwise.delete_record(
        sandbox::connectwise::Table::Additions,
        link.addition_id.get()
    ));
    let out = w.run(&["sync", "usage"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    (w, link, out)
}

/// A person deletes an addition in ConnectWise: `sync usage` fails that customer with the advice;
/// `removals acknowledge` makes it "not billed by choice" (exit 0, nothing recreated, audited under
/// the OS user); `removals withdraw` brings the failure back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_is_acknowledged_and_withdrawn_from_the_cli() {
    let (w, link, out) = a_synced_addition_deleted_by_hand().await;
    assert!(
        text(&out).contains("removals acknowledge"),
        "{}",
        text(&out)
    );

    let tenant = link.tenant_id.as_str();
    let out = run_without_user(
        &w,
        &[
            "removals",
            "acknowledge",
            "--customer",
            tenant,
            "--product",
            &link.product,
            "--reason",
            "the customer dropped it",
        ],
    )
    .await;
    assert!(out.status.success(), "{}", text(&out));
    let before =
        w.sb.connectwise
            .records(sandbox::connectwise::Table::Additions)
            .len();
    let out = w.run(&["sync", "usage"]).await;
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        w.sb.connectwise
            .records(sandbox::connectwise::Table::Additions)
            .len(),
        before,
        "nothing recreated"
    );
    let listed = text(&w.run(&["removals", "list"]).await);
    assert!(
        listed.contains(&link.product) && listed.contains("the customer dropped it"),
        "{listed}"
    );
    let audit = w
        .run(&["--json", "audit", "--what", "usage.removal_acknowledged"])
        .await;
    let audit: Value = serde_json::from_slice(&audit.stdout).unwrap();
    assert_eq!(audit["entries"][0]["actor"], os_user().as_str(), "{audit}");

    let out = w
        .run(&[
            "removals",
            "withdraw",
            "--customer",
            tenant,
            "--product",
            &link.product,
        ])
        .await;
    assert!(out.status.success(), "{}", text(&out));
    let out = w.run(&["sync", "usage"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    // Nothing to acknowledge for a product it does not manage: refused with the fix.
    let out = w
        .run(&[
            "removals",
            "acknowledge",
            "--customer",
            tenant,
            "--product",
            "Sophos_Nothing",
        ])
        .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    w.finish().await;
}

/// The same from the dashboard: the customer's error lists the removed addition with a button;
/// pressing it stops the failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removal_is_acknowledged_from_the_dashboard() {
    let (w, link, _) = a_synced_addition_deleted_by_hand().await;
    let app = crate::support::App::spawn(&w, &[]).await;
    let tenant = link.tenant_id.as_str();
    let detail = app
        .http
        .get(format!("{}/customers/{tenant}/error", app.base))
        .header("cookie", &app.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let action = format!("/customers/{tenant}/removals/{}/acknowledge", link.product);
    assert!(detail.contains(&action), "{detail}");
    let done = app.post(&action).await;
    assert!(done.contains("Acknowledged"), "{done}");
    let out = w.run(&["sync", "usage"]).await;
    assert!(out.status.success(), "{}", text(&out));
    // Acknowledged, the button is gone.
    let detail = app
        .http
        .get(format!("{}/customers/{tenant}/error", app.base))
        .header("cookie", &app.cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!detail.contains(&action), "{detail}");
    app.stop().await;
    w.finish().await;
}
