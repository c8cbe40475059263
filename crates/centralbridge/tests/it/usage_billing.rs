//! Billing a person approves and reconciles, on the sandbox: a saved plan is refused (naming what
//! moved) when ConnectWise changed by hand since, and a fresh one is applied exactly; the service
//! under `approval = "required"` writes nothing until a person approves; reconciliation lists every
//! tenant with usage, with a status for each case, totals that are the sum of the rows, and the
//! same rows in its CSV.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use connectwise::models::PatchOp;
use engine::store::{PlanState, PlanStore as _, UsageStore as _};
use sandbox::connectwise::Table;
use serde_json::Value;

use crate::support::{App, SchedJob, Target, World, on_both_backends, text};

on_both_backends!(a_plan_is_refused_when_moved_and_applied_exactly_when_fresh);

fn json(o: &std::process::Output) -> Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(o)))
}

/// Every addition in the emulated ConnectWise: id -> (quantity, cancelled).
fn additions(w: &World) -> BTreeMap<i64, (f64, bool)> {
    w.sb.connectwise
        .records(Table::Additions)
        .iter()
        .map(|a| {
            (
                a["id"].as_i64().unwrap(),
                (
                    a["quantity"].as_f64().unwrap_or(0.0),
                    !a["cancelledDate"].is_null(),
                ),
            )
        })
        .collect()
}

/// Sets an addition's quantity through the REST API, as a person would (ConnectWise recomputes
/// its billed quantity and extended price).
async fn set_quantity(w: &World, agreement: i64, addition: i64, q: f64) {
    let cw = engine::connections::connectwise_client(&w.store)
        .await
        .unwrap();
    cw.patch_addition(agreement, addition, &[PatchOp::replace("quantity", q)])
        .await
        .unwrap();
}

/// Our links, one per (tenant, product), with their agreement and addition.
async fn links(w: &World) -> Vec<engine::store::AdditionLink> {
    w.store.list_addition_links(None).await.unwrap()
}

async fn a_plan_is_refused_when_moved_and_applied_exactly_when_fresh(t: Target) {
    let w = World::new(t, 6).await;
    let first = w.run(&["sync", "usage"]).await;
    assert!(first.status.success(), "{}", text(&first));
    let ls = links(&w).await;
    assert!(ls.len() >= 4, "{ls:?}");
    // A person lowers two quantities by hand: the plan puts them back.
    set_quantity(&w, ls[0].agreement_id.get(), ls[0].addition_id.get(), 1.0).await;
    set_quantity(&w, ls[1].agreement_id.get(), ls[1].addition_id.get(), 2.0).await;
    let before = additions(&w);

    let planned = w.run(&["--json", "sync", "usage", "--plan"]).await;
    assert!(planned.status.success(), "{}", text(&planned));
    let plan = json(&planned);
    let id = plan["id"].as_i64().unwrap();
    assert_eq!(plan["state"], "pending");
    assert_eq!(plan["totals"]["writes"], 2, "{plan}");
    assert!(plan["fingerprint"].as_str().unwrap().len() == 64);
    assert_eq!(additions(&w), before, "planning wrote nothing");
    let human = text(&w.run(&["plans", "show", &id.to_string()]).await);
    assert!(
        human.contains(&format!("Plan #{id}")) && human.contains("update_quantity"),
        "{human}"
    );

    // ConnectWise moves by hand after the plan: approving is refused, naming the change.
    set_quantity(&w, ls[2].agreement_id.get(), ls[2].addition_id.get(), 99.0).await;
    let moved = additions(&w);
    let refused = w.run(&["plans", "approve", &id.to_string()]).await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    let said = text(&refused);
    assert!(
        said.contains(&format!("Plan #{id} was not applied"))
            && said.contains(&format!("now 99 (addition #{})", ls[2].addition_id))
            && said.contains("Fix:"),
        "{said}"
    );
    assert_eq!(additions(&w), moved, "a refused approval writes nothing");
    assert_eq!(
        w.store.plan(id).await.unwrap().unwrap().state,
        PlanState::Pending
    );

    // Planned again and approved: ConnectWise ends exactly as the plan said.
    let again = json(&w.run(&["--json", "sync", "usage", "--plan"]).await);
    let id2 = again["id"].as_i64().unwrap();
    assert_eq!(
        w.store.plan(id).await.unwrap().unwrap().state,
        PlanState::Superseded,
        "a newer plan of the same customers supersedes the older"
    );
    let approved = w.run(&["plans", "approve", &id2.to_string()]).await;
    assert!(approved.status.success(), "{}", text(&approved));
    assert!(
        text(&approved).contains(&format!("Plan #{id2} applied: 0 created, 3 updated")),
        "{}",
        text(&approved)
    );
    let after = additions(&w);
    let mut expected = moved.clone();
    for c in again["customers"].as_array().unwrap() {
        for r in c["rows"].as_array().unwrap() {
            if let (Some(a), Some(q)) = (r["addition_id"].as_i64(), r["new_quantity"].as_f64()) {
                expected.insert(a, (q, expected[&a].1));
            }
        }
    }
    assert_eq!(
        after, expected,
        "ConnectWise holds exactly the plan's quantities"
    );
    let record = w.store.plan(id2).await.unwrap().unwrap();
    assert_eq!(record.state, PlanState::Approved);
    assert!(record.run_id.is_some());
    // Approving twice is refused before anything runs.
    let twice = w.run(&["plans", "approve", &id2.to_string()]).await;
    assert_eq!(twice.status.code(), Some(2), "{}", text(&twice));
    assert!(
        text(&twice).contains("already approved"),
        "{}",
        text(&twice)
    );
    let audit = json(
        &w.run(&["--json", "audit", "--what", "usage.plan_approved"])
            .await,
    );
    assert_eq!(audit["entries"].as_array().unwrap().len(), 1, "{audit}");
    let listed = json(&w.run(&["--json", "plans", "list"]).await);
    let states: Vec<&str> = listed["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["approved", "superseded"]);
    w.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_approval_required_the_service_writes_nothing_until_approved() {
    let w = World::new(Target::sqlite(), 12).await;
    // Under `approval = "required"` the CLI does not write directly either.
    std::fs::write(&w.config, "[usage]\napproval = \"required\"\n").unwrap();
    let direct = w.run(&["sync", "usage"]).await;
    assert_eq!(direct.status.code(), Some(2), "{}", text(&direct));
    assert!(
        text(&direct).contains("needs approval") && text(&direct).contains("Fix:"),
        "{}",
        text(&direct)
    );
    let app = App::spawn_with(&w, &[(SchedJob::Usage, Duration::from_millis(1500))], true).await;
    let newest = || async {
        w.store
            .list_plans(Some(PlanState::Pending), 1)
            .await
            .unwrap()
            .into_iter()
            .next()
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    let first = loop {
        if let Some(p) = newest().await {
            break p;
        }
        assert!(Instant::now() < deadline, "the service saved no plan");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(first.writes > 0, "{}", first.body);
    assert_eq!(first.created_by, "service");
    // The next scheduled run plans again (replacing the first), and still nothing is written.
    while newest().await.is_some_and(|p| p.id == first.id) {
        assert!(Instant::now() < deadline, "the service planned only once");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(additions(&w).is_empty(), "nothing written before approval");
    assert_eq!(
        w.store.plan(first.id).await.unwrap().unwrap().state,
        PlanState::Superseded
    );
    let page = app.get("/usage").await;
    assert!(page.contains("Approval is required"), "{page}");
    let status = text(&w.run(&["status"]).await);
    assert!(
        status.contains("waits for approval") && status.contains("plans approve"),
        "{status}"
    );
    // Approve the newest plan (between two scheduled runs: a run in progress holds the lease).
    let (plan, html) = loop {
        let plan = newest().await.expect("a pending plan");
        let html = app.post(&format!("/usage/plans/{}/approve", plan.id)).await;
        if html.contains(&format!("Plan #{} applied", plan.id)) {
            break (plan, html);
        }
        assert!(Instant::now() < deadline, "{html}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(html.contains("approved"), "{html}");
    app.stop().await;
    let live = w.assert_one_addition_per_line();
    assert_eq!(live as i64, plan.writes, "exactly the plan's creates");
    w.finish().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconciliation_names_every_case_and_adds_up() {
    let w = World::new(Target::sqlite(), 40).await;
    // Catalog items first, priced as an MSP would; additions then bill these prices.
    let made = w.run(&["products", "create"]).await;
    assert!(made.status.success(), "{}", text(&made));
    for item in w.sb.connectwise.records(Table::Catalog) {
        let id = item["id"].as_i64().unwrap();
        w.sb.connectwise.update_record(Table::Catalog, id, |r| {
            r.insert("price".into(), serde_json::json!(2.5));
        });
    }
    assert!(w.run(&["sync", "usage"]).await.status.success());
    let ls = links(&w).await;
    let mut by_tenant: BTreeMap<String, Vec<&engine::store::AdditionLink>> = BTreeMap::new();
    for l in &ls {
        by_tenant
            .entry(l.tenant_id.to_string())
            .or_default()
            .push(l);
    }
    let tenants: Vec<&String> = by_tenant.keys().collect();
    assert!(tenants.len() >= 8, "{tenants:?}");
    let link = |i: usize| by_tenant[tenants[i]][0];
    // Under- and over-billed: quantities changed by hand.
    set_quantity(
        &w,
        link(0).agreement_id.get(),
        link(0).addition_id.get(),
        0.0,
    )
    .await;
    let over = link(1);
    let over_q =
        w.sb.connectwise
            .record(Table::Additions, over.addition_id.get())
            .unwrap()["quantity"]
            .as_f64()
            .unwrap();
    set_quantity(
        &w,
        over.agreement_id.get(),
        over.addition_id.get(),
        over_q + 5.0,
    )
    .await;
    // Removed in ConnectWise, and removed by choice.
    w.sb.connectwise
        .delete_record(Table::Additions, link(2).addition_id.get());
    w.sb.connectwise
        .delete_record(Table::Additions, link(3).addition_id.get());
    let ack = w
        .run(&[
            "removals",
            "acknowledge",
            "--customer",
            link(3).tenant_id.as_str(),
            "--product",
            &link(3).product,
        ])
        .await;
    assert!(ack.status.success(), "{}", text(&ack));
    // Usage sync off for one customer.
    let off = w
        .run(&["map", "set", "--tenant", tenants[4], "--usage-sync", "off"])
        .await;
    assert!(off.status.success(), "{}", text(&off));
    // An invoiced period: a lowered quantity ConnectWise refuses to put back.
    let inv = link(5);
    set_quantity(&w, inv.agreement_id.get(), inv.addition_id.get(), 1.0).await;
    w.sb.connectwise.set_invoiced_through(
        inv.agreement_id.get(),
        Some("2099-01-01T00:00:00Z".parse().unwrap()),
    );
    let refused = w
        .run(&["sync", "usage", "--customer", inv.tenant_id.as_str()])
        .await;
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused));
    // A product nobody bills any more.
    let taken: BTreeSet<&str> = (0..6).map(|i| link(i).product.as_str()).collect();
    let unselect = &by_tenant[tenants[6]]
        .iter()
        .find(|l| !taken.contains(l.product.as_str()))
        .expect("a product of its own")
        .product;
    assert!(
        w.run(&["products", "unselect", unselect])
            .await
            .status
            .success()
    );
    // One tenant unmapped.
    let cleared = w.run(&["map", "clear", "--tenant", tenants[7]]).await;
    assert!(cleared.status.success(), "{}", text(&cleared));

    let out = w.run(&["--json", "reconcile"]).await;
    assert!(out.status.success(), "{}", text(&out));
    let r = json(&out);
    let rows = r["rows"].as_array().unwrap();
    let statuses: BTreeSet<&str> = rows.iter().map(|x| x["status"].as_str().unwrap()).collect();
    for s in [
        "in_step",
        "under_billed",
        "over_billed",
        "not_mapped",
        "product_not_selected",
        "usage_sync_off",
        "removed_in_connectwise",
        "not_billed_by_choice",
        "period_invoiced",
    ] {
        assert!(statuses.contains(s), "no `{s}` row: {statuses:?}");
    }
    let status_of = |tenant: &str, product: &str| -> String {
        rows.iter()
            .find(|x| x["tenant_id"] == tenant && x["product"] == product)
            .map(|x| x["status"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no row for {tenant} / {product}"))
    };
    assert_eq!(
        status_of(link(0).tenant_id.as_str(), &link(0).product),
        "under_billed"
    );
    assert_eq!(
        status_of(over.tenant_id.as_str(), &over.product),
        "over_billed"
    );
    assert_eq!(
        status_of(link(2).tenant_id.as_str(), &link(2).product),
        "removed_in_connectwise"
    );
    assert_eq!(
        status_of(link(3).tenant_id.as_str(), &link(3).product),
        "not_billed_by_choice"
    );
    assert_eq!(
        status_of(inv.tenant_id.as_str(), &inv.product),
        "period_invoiced"
    );
    // Not-mapped tenants come first: that is money nobody bills.
    let first_other = rows
        .iter()
        .position(|x| x["status"] != "not_mapped")
        .unwrap();
    assert!(
        rows[first_other..]
            .iter()
            .all(|x| x["status"] != "not_mapped")
    );
    // Every tenant with usage this month is listed.
    let listed: BTreeSet<&str> = rows
        .iter()
        .map(|x| x["tenant_id"].as_str().unwrap())
        .collect();
    for t in w.sb.world.tenants() {
        let billed = t.billing.wire() == "usage" && !t.usage.is_empty();
        if billed {
            assert!(
                listed.contains(t.id.as_str()),
                "{} ({}) is missing",
                t.name,
                t.id
            );
        }
    }
    // Totals are the sum of the rows.
    let sum = |f: &dyn Fn(&Value) -> f64| -> f64 { rows.iter().map(f).sum() };
    let close = |a: f64, b: f64| (a - b).abs() < 1e-6;
    let totals = &r["totals"];
    assert_eq!(totals["rows"].as_u64().unwrap() as usize, rows.len());
    assert!(close(
        totals["sophos_quantity"].as_f64().unwrap(),
        sum(&|x| x["sophos_quantity"].as_f64().unwrap())
    ));
    assert!(close(
        totals["billed_amount"].as_f64().unwrap(),
        sum(&|x| x["billed_amount"].as_f64().unwrap_or(0.0))
    ));
    let left = sum(&|x| {
        let d = x["drift_amount"].as_f64().unwrap_or(0.0);
        if d < 0.0 && x["status"] != "not_billed_by_choice" {
            -d
        } else {
            0.0
        }
    });
    assert!(close(totals["under_billed_amount"].as_f64().unwrap(), left));
    assert!(left > 0.0, "money is left on the table: {totals}");
    // The CSV holds the same rows.
    let csv_path = w.target.dir.path().join("rec.csv");
    let csv_out = w
        .run(&["reconcile", "--csv", csv_path.to_str().unwrap()])
        .await;
    assert!(csv_out.status.success(), "{}", text(&csv_out));
    let mut reader = csv::Reader::from_path(&csv_path).unwrap();
    let csv_rows: Vec<(String, String, String)> = reader
        .records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[0].to_owned(), rec[5].to_owned(), rec[12].to_owned())
        })
        .collect();
    let json_rows: Vec<(String, String, String)> = rows
        .iter()
        .map(|x| {
            (
                x["tenant_id"].as_str().unwrap().to_owned(),
                x["product"].as_str().unwrap().to_owned(),
                x["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(csv_rows, json_rows);
    // The table says what it is.
    let human = text(&w.run(&["reconcile"]).await);
    assert!(
        human.contains("revenue left on the table") && human.contains("not mapped"),
        "{human}"
    );
    w.finish().await;
}
