//! Usage sync against both emulators: first sync, re-run, quantity changes, every rule, crash recovery.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use engine::ids::{AdditionId, AgreementId, CatalogItemId, CompanyId, TenantId};
use engine::job::{self, Door, Hooks, Job, RunReport as _, StartOptions};
use engine::mapping::{RefreshOptions, refresh_agreements, refresh_companies, refresh_tenants};
use engine::products::ProductTable;
use engine::store::{
    AdditionLink, CoreStore as _, Mapping, MappingSource, MappingStore as _, MappingWrite,
    NewAudit, UsageStore as _,
};
use engine::usage::{self, Month, OpKind, SyncOptions, SyncReport, ZeroUsage};
use futures::TryStreamExt as _;
use sandbox::connectwise::{CwEmulator, Table};
use sandbox::sophos::SophosEmulator;
use sandbox::world::{BILLING_CODES, World, WorldConfig};
use serde_json::{Value, json};
use testkit::TestStore;

const MONTH: Month = Month {
    year: 2026,
    month: 11,
};
const EARLIER: Month = Month {
    year: 2026,
    month: 10,
};

struct Env {
    t: TestStore,
    world: Arc<World>,
    cw_emu: CwEmulator,
    sophos_emu: SophosEmulator,
    cw: connectwise::Client,
    sophos: sophos::Client,
    /// tenant id -> agreement id, for mapped customers.
    agreements: BTreeMap<String, i64>,
}

fn world(customers: usize, seed: u64) -> Arc<World> {
    Arc::new(World::generate(WorldConfig {
        seed,
        customers,
        extra_companies: 0,
        extra_tenants: 0,
        usage_anchor: (2026, 11),
    }))
}

/// A ConnectWise client's settings for the emulator: no rate limit of our own, 8 in flight.
fn cw_config(emu: &CwEmulator) -> connectwise::CwConfig {
    let creds = emu.credentials();
    let mut cfg = connectwise::CwConfig::new(
        emu.site_url(),
        creds.company_id.clone(),
        creds.public_key.clone(),
        creds.private_key.clone(),
        creds.client_id.clone(),
    );
    cfg.allow_http = true;
    cfg.rate_limit = connectwise::RateLimit::Off;
    cfg.max_concurrency = 8;
    cfg
}

async fn env(customers: usize, seed: u64) -> Env {
    let world = world(customers, seed);
    let cw_emu = CwEmulator::spawn(sandbox::connectwise::CwConfig::new(world.clone()))
        .await
        .expect("cw emulator");
    let mut scfg = sandbox::sophos::SophosConfig::new(world.clone());
    scfg.alert_rate = 0.0;
    let sophos_emu = SophosEmulator::spawn(scfg).await.expect("sophos emulator");
    let mut cfg = cw_config(&cw_emu);
    cfg.retry.max_delay = Duration::from_millis(20);
    let cw = connectwise::Client::connect(cfg).await.expect("cw client");
    let sc = sophos_emu.credentials();
    let mut scfg = sophos::SophosConfig::new(sc.client_id, sc.client_secret);
    scfg.token_url = sophos_emu.token_url();
    scfg.global_url = sophos_emu.global_url();
    scfg.rate_limit = sophos::RateLimit::Off;
    scfg.page_size.usage = 1000;
    scfg.page_size.tenants = 100;
    scfg.retry.base_delay = Duration::from_millis(5);
    let sophos = sophos::Client::connect(scfg).await.expect("sophos client");
    let t = TestStore::sqlite().await;
    let mut e = Env {
        t,
        world,
        cw_emu,
        sophos_emu,
        cw,
        sophos,
        agreements: BTreeMap::new(),
    };
    e.map_true_pairs().await;
    e
}

impl Env {
    fn store(&self) -> &engine::store::Store {
        &self.t.store
    }

    /// Loads tenants, companies and agreements into the store and maps every customer of the world
    /// to its true company and first active agreement, usage sync on.
    async fn map_true_pairs(&mut self) {
        let now = jiff::Timestamp::now();
        // Through the refresh's own ingest (one kind after another), as the service reads them.
        let opts = RefreshOptions::default();
        refresh_tenants(self.store(), self.sophos.tenant_summaries(), now, &opts)
            .await
            .expect("tenants");
        refresh_companies(self.store(), self.cw.company_summaries(), now, &opts)
            .await
            .expect("companies");
        refresh_agreements(self.store(), self.cw.agreement_summaries(), now, &opts)
            .await
            .expect("agreements");
        // The world's true pairs, by the emulated ConnectWise's own records.
        let companies: Vec<connectwise::models::Company> = self
            .cw
            .companies(())
            .try_collect()
            .await
            .expect("companies");
        let agreements: Vec<connectwise::models::Agreement> = self
            .cw
            .agreements(())
            .try_collect()
            .await
            .expect("agreements");
        let mut writes = Vec::new();
        for c in &self.world.customers {
            let (Some(company), Some(tenant)) = (&c.company, &c.tenant) else {
                continue;
            };
            let Some(cid) = companies
                .iter()
                .find(|x| x.identifier.as_deref() == Some(company.identifier.as_str()))
                .and_then(|x| x.id)
            else {
                continue;
            };
            let Some(aid) = agreements
                .iter()
                .find(|a| {
                    a.company.as_ref().and_then(|r| r.id) == Some(cid)
                        && a.agreement_status == Some(connectwise::models::AgreementStatus::Active)
                })
                .and_then(|a| a.id)
            else {
                continue;
            };
            self.agreements.insert(tenant.id.clone(), aid);
            writes.push(MappingWrite {
                tenant_id: tenant.id.as_str().into(),
                after: Some(Mapping {
                    tenant_id: tenant.id.as_str().into(),
                    company_id: CompanyId::new(cid),
                    agreement_id: Some(AgreementId::new(aid)),
                    usage_sync: true,
                    ticket_sync: false,
                    source: MappingSource::Manual,
                    confirmed_by: "test".into(),
                    confirmed_at: now,
                }),
                audit: NewAudit {
                    at: now,
                    actor: "test".into(),
                    action: engine::audit::AuditKind::MappingSet,
                    subject: tenant.id.clone(),
                    before: None,
                    after: None,
                    reason: "test".into(),
                },
            });
        }
        self.store()
            .write_mappings(&writes)
            .await
            .expect("mappings");
        usage::select_all(self.store(), "test")
            .await
            .expect("select");
    }

    async fn sync(&self, month: Month) -> SyncReport {
        self.sync_with(SyncOptions {
            month: Some(month),
            ..SyncOptions::default()
        })
        .await
    }

    async fn sync_with(&self, opts: SyncOptions) -> SyncReport {
        self.sync_as(opts, StartOptions::new(Door::Cli, "test"))
            .await
    }

    /// One run through the harness, as every door makes it.
    async fn sync_as(&self, opts: SyncOptions, start: StartOptions) -> SyncReport {
        let run = job::start(self.store(), Job::Usage, start)
            .await
            .expect("the run starts");
        let r = usage::run(self.store(), &self.cw, &self.sophos, &opts, &run).await;
        run.finish(&r.run_end()).await.expect("the run is recorded");
        r.expect("sync runs")
    }

    /// Catalog item id -> identifier, as the emulator stores them.
    fn catalog_identifiers(&self) -> BTreeMap<i64, String> {
        self.cw_emu
            .records(Table::Catalog)
            .iter()
            .map(|c| {
                (
                    c["id"].as_i64().unwrap(),
                    c["identifier"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// Per agreement: (product identifier, quantity, cancelled, effective date) of every addition.
    fn cw_state(&self) -> BTreeMap<i64, Vec<(String, f64, bool, String)>> {
        let names = self.catalog_identifiers();
        let mut out = BTreeMap::new();
        for &aid in self.agreements.values() {
            let mut rows: Vec<(String, f64, bool, String)> = self
                .cw_emu
                .additions(aid)
                .iter()
                .map(|a| {
                    (
                        names[&a["product"]["id"].as_i64().unwrap()].clone(),
                        a["quantity"].as_f64().unwrap_or(0.0),
                        !a["cancelledDate"].is_null(),
                        a["effectiveDate"].as_str().unwrap_or("").to_owned(),
                    )
                })
                .collect();
            rows.sort_by(|a, b| a.partial_cmp(b).unwrap());
            out.insert(aid, rows);
        }
        out
    }

    /// What the additions should be for `month`, computed from the world with the engine's table.
    fn expected(&self, month: Month) -> BTreeMap<i64, BTreeMap<String, f64>> {
        let table = ProductTable::builtin();
        let mut out = BTreeMap::new();
        for tenant in self.world.tenants() {
            let Some(&aid) = self.agreements.get(&tenant.id) else {
                continue;
            };
            let mut per: BTreeMap<String, f64> = BTreeMap::new();
            for (row, (code, _)) in tenant.usage.iter().enumerate() {
                let code = BILLING_CODES[*code].product_code;
                if let Some(p) = table.product_for_code(code) {
                    *per.entry(p.identifier.clone()).or_default() += f64::from(
                        self.world
                            .monthly_quantity(tenant, row, month.year, month.month),
                    );
                }
            }
            out.insert(aid, per);
        }
        out
    }

    fn live_quantities(&self) -> BTreeMap<i64, BTreeMap<String, f64>> {
        self.cw_state()
            .into_iter()
            .map(|(aid, rows)| {
                let live: BTreeMap<String, f64> = rows
                    .into_iter()
                    .filter(|r| !r.2)
                    .map(|r| (r.0, r.1))
                    .collect();
                (aid, live)
            })
            .collect()
    }

    fn cw_writes(&self) -> u64 {
        self.cw_emu.request_counts().writes
    }

    /// A mapped usage tenant and its agreement, with at least `n` products of usage.
    fn usage_customer(&self, skip: usize) -> (String, i64) {
        let exp = self.expected(MONTH);
        self.agreements
            .iter()
            .filter(|(_, aid)| exp.get(aid).is_some_and(|p| p.len() >= 2))
            .nth(skip)
            .map(|(t, a)| (t.clone(), *a))
            .expect("a usage customer")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_sync_creates_exactly_the_expected_then_nothing() {
    let e = env(14, 3).await;
    assert!(e.agreements.len() >= 5, "the world maps enough customers");

    // A dry run writes nothing anywhere.
    let before = e.cw_writes();
    let dry = e
        .sync_as(
            SyncOptions {
                month: Some(MONTH),
                ..SyncOptions::default()
            },
            StartOptions::new(Door::Cli, "test").dry_run(true),
        )
        .await;
    assert_eq!(e.cw_writes(), before, "dry run wrote to ConnectWise");
    assert_eq!(dry.catalog_to_create.len(), 19);
    assert!(dry.counts.created > 0);
    assert!(
        e.store()
            .list_customer_status(Some("usage"))
            .await
            .unwrap()
            .is_empty()
    );

    let first = e.sync(MONTH).await;
    assert_eq!(
        first.failed_customers,
        0,
        "{:#?}",
        first
            .customers
            .iter()
            .filter(|c| c.error.is_some())
            .collect::<Vec<_>>()
    );
    assert_eq!(
        first.counts.created, dry.counts.created,
        "the dry run announced the real plan"
    );
    // Catalog: one item per product, identifier = the Sophos identifier, typed "Sophos".
    let sophos_items: Vec<Value> = e
        .cw_emu
        .records(Table::Catalog)
        .into_iter()
        .filter(|c| c["identifier"].as_str().unwrap().starts_with("Sophos_"))
        .collect();
    assert_eq!(sophos_items.len(), 19);
    for item in &sophos_items {
        assert_eq!(item["type"]["name"], json!("Sophos"));
        assert_eq!(item["subcategory"]["name"], json!("Sophos"));
        assert_eq!(item["manufacturer"]["name"], json!("Sophos"));
        assert_eq!(item["customerDescription"], item["description"]);
    }
    // Additions: exactly the expected products and quantities, effective the 1st of the month.
    let expected: BTreeMap<i64, BTreeMap<String, f64>> = e
        .expected(MONTH)
        .into_iter()
        .map(|(a, p)| (a, p.into_iter().filter(|(_, q)| *q > 0.0).collect()))
        .collect();
    assert_eq!(e.live_quantities(), expected);
    for rows in e.cw_state().values() {
        for r in rows {
            assert_eq!(r.3, "2026-11-01T00:00:00Z");
        }
    }
    let total: usize = expected.values().map(BTreeMap::len).sum();
    assert_eq!(first.counts.created, total);
    // Status and audit.
    let statuses = e.store().list_customer_status(Some("usage")).await.unwrap();
    assert_eq!(statuses.len(), e.agreements.len());
    assert!(statuses.iter().all(|s| s.ok));
    let audit = e
        .store()
        .list_audit(&engine::store::AuditFilter {
            action: Some("usage.create_addition".into()),
            limit: Some(10_000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), total);
    assert!(
        audit
            .iter()
            .all(|a| a.after.as_ref().is_some_and(|v| v["quantity"].is_number()))
    );

    // The second run plans nothing and writes nothing.
    let writes = e.cw_writes();
    let calls = e.cw_emu.request_counts().total;
    let sophos_calls = e.sophos_emu.request_counts().total;
    let second = e.sync(MONTH).await;
    assert_eq!(second.counts.writes(), 0, "{:?}", second.counts);
    assert!(second.ops().all(|o| o.kind() == OpKind::Skip));
    assert_eq!(e.cw_writes(), writes);
    // Reads: one agreements listing page, then the additions of every agreement from the
    // report (its discovery, one page, and the sampled agreements' records); no catalog lookups.
    let reads = e.cw_emu.request_counts().total - calls;
    assert_eq!(second.additions.read, "report", "{:?}", second.additions);
    assert_eq!(
        reads as usize,
        1 + 2 + 1 + second.additions.sampled,
        "ConnectWise calls of an unchanged run"
    );
    // Read per agreement instead: one additions read per monthly agreement. (Term and trial
    // customers have no usage: their additions are not read.)
    let calls = e.cw_emu.request_counts().total;
    let third = e
        .sync_with(SyncOptions {
            month: Some(MONTH),
            additions: usage::bulk::AdditionsRead::PerAgreement,
            ..SyncOptions::default()
        })
        .await;
    let monthly = third
        .customers
        .iter()
        .filter(|c| c.outcome != usage::CustomerOutcome::Skipped)
        .count();
    assert_eq!(
        (e.cw_emu.request_counts().total - calls) as usize,
        1 + monthly,
        "ConnectWise calls of an unchanged run read per agreement"
    );
    // Sophos: one usage page a run (the token is still valid).
    assert_eq!(e.sophos_emu.request_counts().total - sophos_calls, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quantity_changes_produce_updates_only() {
    let e = env(10, 5).await;
    let first = e.sync(EARLIER).await;
    assert_eq!(first.failed_customers, 0);
    let second = e.sync(MONTH).await;
    assert_eq!(second.counts.created, 0);
    assert_eq!(second.counts.adopted, 0);
    assert!(second.counts.updated > 0);
    assert!(
        second
            .ops()
            .all(|o| matches!(o.kind(), OpKind::UpdateQuantity | OpKind::Skip))
    );
    let expected: BTreeMap<i64, BTreeMap<String, f64>> = e
        .expected(MONTH)
        .into_iter()
        .map(|(a, p)| (a, p.into_iter().filter(|(_, q)| *q > 0.0).collect()))
        .collect();
    assert_eq!(e.live_quantities(), expected);
    // Audit carries before and after quantities.
    let audit = e
        .store()
        .list_audit(&engine::store::AuditFilter {
            action: Some("usage.update_quantity".into()),
            limit: Some(10_000),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), second.counts.updated);
    let a = &audit[0];
    assert_ne!(
        a.before.as_ref().unwrap()["quantity"],
        a.after.as_ref().unwrap()["quantity"]
    );
}

fn catalog_id(e: &Env, identifier: &str) -> i64 {
    *e.catalog_identifiers()
        .iter()
        .find(|(_, v)| v.as_str() == identifier)
        .expect("catalog item")
        .0
}

fn insert_addition(e: &Env, agreement: i64, catalog: i64, qty: f64) -> i64 {
    e.cw_emu.insert_record(
        Table::Additions,
        json!({"agreementId": agreement, "product": {"id": catalog}, "quantity": qty, "billCustomer": "Billable",
               "effectiveDate": "2026-01-01T00:00:00Z", "cancelledDate": null}),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_foreign_addition_is_adopted_several_are_a_conflict() {
    let e = env(10, 7).await;
    // Create the catalog items first (no customers synced yet: filter to nobody is an error, so
    // create them directly).
    let selected: Vec<String> = ProductTable::builtin()
        .products()
        .iter()
        .map(|p| p.identifier.clone())
        .collect();
    usage::ensure_catalog_items(e.store(), &e.cw, &selected, "test", false)
        .await
        .unwrap();
    let (ta, aa) = e.usage_customer(0);
    let (tb, ab) = e.usage_customer(1);
    let exp = e.expected(MONTH);
    let pa = exp[&aa].keys().next().unwrap().clone();
    let pb = exp[&ab].keys().next().unwrap().clone();
    let adopted = insert_addition(&e, aa, catalog_id(&e, &pa), 1.0);
    insert_addition(&e, ab, catalog_id(&e, &pb), 1.0);
    insert_addition(&e, ab, catalog_id(&e, &pb), 2.0);

    let r = e.sync(MONTH).await;
    let a = r.customers.iter().find(|c| c.tenant_id == ta).unwrap();
    let adopt = a.ops.iter().find(|o| o.product == pa).unwrap();
    assert_eq!(adopt.kind(), OpKind::Adopt);
    assert_eq!(adopt.addition_id(), Some(AdditionId::new(adopted)));
    assert_eq!(a.outcome, usage::CustomerOutcome::Ok);
    // Adopted, with the right quantity, and no second addition for that product.
    let live: Vec<Value> = e
        .cw_emu
        .additions(aa)
        .into_iter()
        .filter(|x| x["product"]["id"] == json!(catalog_id(&e, &pa)))
        .collect();
    assert_eq!(live.len(), 1);
    assert_eq!(live[0]["quantity"].as_f64(), Some(exp[&aa][&pa]));
    let link = e.store().list_addition_links(Some(&ta)).await.unwrap();
    assert!(
        link.iter()
            .any(|l| l.product == pa && !l.created_by_us && l.addition_id == adopted)
    );

    let b = r.customers.iter().find(|c| c.tenant_id == tb).unwrap();
    assert_eq!(
        b.ops.iter().find(|o| o.product == pb).unwrap().kind(),
        OpKind::Conflict
    );
    assert_eq!(b.outcome, usage::CustomerOutcome::Failed);
    assert!(
        b.advice
            .as_deref()
            .unwrap()
            .contains("Cancel the extra additions")
    );
    // The other products of B were still synced; the conflicting one got nothing new.
    assert_eq!(
        e.cw_emu
            .additions(ab)
            .iter()
            .filter(|x| x["product"]["id"] == json!(catalog_id(&e, &pb)))
            .count(),
        2
    );
    // Everybody else is fine.
    assert_eq!(r.failed_customers, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn usage_dropping_to_zero_sets_zero_or_cancels() {
    for policy in [ZeroUsage::QuantityZero, ZeroUsage::Cancel] {
        let e = env(8, 11).await;
        usage::set_zero_usage_policy(e.store(), policy)
            .await
            .unwrap();
        e.sync(MONTH).await;
        let (t, a) = e.usage_customer(0);
        // A product with no usage this month that we billed before: our own addition + link.
        let exp = e.expected(MONTH);
        let unused = ProductTable::builtin()
            .products()
            .iter()
            .map(|p| p.identifier.clone())
            .find(|p| !exp[&a].contains_key(p))
            .unwrap();
        let cat = catalog_id(&e, &unused);
        let id = insert_addition(&e, a, cat, 9.0);
        e.store()
            .upsert_addition_link(&AdditionLink {
                agreement_id: AgreementId::new(a),
                product: unused.clone(),
                tenant_id: t.as_str().into(),
                addition_id: AdditionId::new(id),
                catalog_item_id: CatalogItemId::new(cat),
                created_by_us: true,
                quantity: 9.0,
                cancelled_by_us: false,
            })
            .await
            .unwrap();
        let r = e.sync(MONTH).await;
        let op = r
            .ops()
            .find(|o| o.product == unused && o.agreement_id == a)
            .unwrap();
        let rec = e.cw_emu.record(Table::Additions, id).unwrap();
        match policy {
            ZeroUsage::QuantityZero => {
                assert_eq!(op.kind(), OpKind::UpdateQuantity);
                assert_eq!(rec["quantity"].as_f64(), Some(0.0));
                assert!(rec["cancelledDate"].is_null());
            }
            ZeroUsage::Cancel => {
                assert_eq!(op.kind(), OpKind::Cancel);
                assert_eq!(rec["cancelledDate"], json!("2026-11-01T00:00:00Z"));
            }
        }
        // And the next run leaves it alone.
        let again = e.sync(MONTH).await;
        assert_eq!(again.counts.writes(), 0, "{policy:?}: {:?}", again.counts);
    }
}

/// A removal acknowledged as on purpose stops failing the customer, leaves the product unbilled
/// (nothing recreated), is audited, and comes back as a failure once withdrawn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_acknowledged_removal_is_not_billed_by_choice_until_withdrawn() {
    let e = env(8, 13).await;
    e.sync(MONTH).await;
    let (t, a) = e.usage_customer(0);
    let victim = e.cw_emu.additions(a)[0].clone();
    let victim_id = victim["id"].as_i64().unwrap();
    assert!(e.cw_emu.delete_record(Table::Additions, victim_id));
    let r = e.sync(MONTH).await;
    let c = r.customers.iter().find(|c| c.tenant_id == t).unwrap();
    assert_eq!(c.outcome, usage::CustomerOutcome::Failed);
    let product = c
        .ops
        .iter()
        .find(|o| o.kind() == OpKind::RemovedInCw)
        .unwrap()
        .product
        .clone();
    // Refused for a product it does not manage for this customer, and for an unknown one.
    assert!(
        usage::removals::acknowledge(&e.t.store, t.as_str(), "Sophos_Nothing", "ana", "")
            .await
            .is_err()
    );
    let ack = usage::removals::acknowledge(
        &e.t.store,
        t.as_str(),
        &product,
        "ana",
        "customer cancelled it",
    )
    .await
    .unwrap();
    assert_eq!(ack.reason, "customer cancelled it");
    let count = e.cw_emu.additions(a).len();
    let r = e.sync(MONTH).await;
    let c = r.customers.iter().find(|c| c.tenant_id == t).unwrap();
    assert_eq!(c.outcome, usage::CustomerOutcome::Ok, "{:?}", c.error);
    assert_eq!(c.counts.removed_in_cw, 0);
    let op = c.ops.iter().find(|o| o.product == product).unwrap();
    assert_eq!(op.kind(), OpKind::Skip);
    assert!(
        op.reason.starts_with("not billed by choice"),
        "{}",
        op.reason
    );
    assert_eq!(e.cw_emu.additions(a).len(), count, "nothing recreated");
    let audit = engine::audit::query(
        &e.t.store,
        &engine::audit::AuditQuery {
            kinds: vec![engine::audit::AuditKind::UsageRemovalAcknowledged],
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "ana");
    // Withdrawn: reported again; withdrawing twice is refused.
    usage::removals::withdraw(&e.t.store, t.as_str(), &product, "ana")
        .await
        .unwrap();
    assert!(
        usage::removals::withdraw(&e.t.store, t.as_str(), &product, "ana")
            .await
            .is_err()
    );
    let r = e.sync(MONTH).await;
    let c = r.customers.iter().find(|c| c.tenant_id == t).unwrap();
    assert_eq!(c.outcome, usage::CustomerOutcome::Failed);
    assert_eq!(c.counts.removed_in_cw, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_addition_deleted_in_connectwise_is_reported_not_recreated() {
    let e = env(8, 13).await;
    e.sync(MONTH).await;
    let (t, a) = e.usage_customer(0);
    let victim = e.cw_emu.additions(a)[0]["id"].as_i64().unwrap();
    assert!(e.cw_emu.delete_record(Table::Additions, victim));
    let count = e.cw_emu.additions(a).len();
    let r = e.sync(MONTH).await;
    let c = r.customers.iter().find(|c| c.tenant_id == t).unwrap();
    assert_eq!(c.counts.removed_in_cw, 1);
    assert_eq!(c.outcome, usage::CustomerOutcome::Failed);
    assert!(
        c.error
            .as_deref()
            .unwrap()
            .contains("removed in ConnectWise")
    );
    assert!(
        c.ops
            .iter()
            .any(|o| o.kind() == OpKind::RemovedInCw && o.reason.contains("--recreate"))
    );
    assert_eq!(e.cw_emu.additions(a).len(), count, "nothing was recreated");
    // Cancelled by the user counts the same.
    let other = e.cw_emu.additions(a)[0]["id"].as_i64().unwrap();
    e.cw_emu.update_record(Table::Additions, other, |r| {
        r.insert("cancelledDate".into(), json!("2026-11-10T00:00:00Z"));
    });
    let r = e.sync(MONTH).await;
    assert_eq!(
        r.customers
            .iter()
            .find(|c| c.tenant_id == t)
            .unwrap()
            .counts
            .removed_in_cw,
        2
    );
    // Asked to, it recreates them.
    let r = e
        .sync_with(SyncOptions {
            month: Some(MONTH),
            recreate: true,
            customers: vec![t.clone()],
            ..SyncOptions::default()
        })
        .await;
    assert_eq!(r.counts.created, 2);
    assert_eq!(r.failed_customers, 0);
    assert_eq!(e.sync(MONTH).await.counts.writes(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoiced_period_and_refusals_fail_one_customer_with_advice() {
    let e = env(8, 17).await;
    let (t_inv, a_inv) = e.usage_customer(0);
    let (t_cancel, a_cancel) = e.usage_customer(1);
    let (t_exp, a_exp) = e.usage_customer(2);
    e.cw_emu
        .set_invoiced_through(a_inv, Some("2026-11-30T00:00:00Z".parse().unwrap()));
    e.cw_emu.update_record(Table::Agreements, a_cancel, |r| {
        r.insert("agreementStatus".into(), json!("Cancelled"));
        r.insert("cancelledFlag".into(), json!(true));
    });
    e.cw_emu.update_record(Table::Agreements, a_exp, |r| {
        r.insert("agreementStatus".into(), json!("Expired"));
    });
    let r = e.sync(MONTH).await;
    let get = |t: &str| r.customers.iter().find(|c| c.tenant_id == t).unwrap();
    let inv = get(&t_inv);
    assert_eq!(inv.outcome, usage::CustomerOutcome::Failed);
    assert!(
        inv.error.as_deref().unwrap().contains("invoiced"),
        "{:?}",
        inv.error
    );
    assert!(
        inv.advice.as_deref().unwrap().contains("proration"),
        "{:?}",
        inv.advice
    );
    assert!(e.cw_emu.additions(a_inv).is_empty());
    for (t, a, word) in [
        (&t_cancel, a_cancel, "cancelled"),
        (&t_exp, a_exp, "expired"),
    ] {
        let c = get(t);
        assert_eq!(c.outcome, usage::CustomerOutcome::Failed);
        assert!(c.error.as_deref().unwrap().contains(word), "{:?}", c.error);
        assert!(c.ops.is_empty());
        assert!(
            e.cw_emu.additions(a).is_empty(),
            "nothing written to a {word} agreement"
        );
    }
    // The others went through; the status says who failed and why.
    assert_eq!(r.failed_customers, 3);
    assert!(
        r.customers
            .iter()
            .filter(|c| c.outcome == usage::CustomerOutcome::Ok)
            .count()
            >= 1
    );
    let status = e.store().list_customer_status(Some("usage")).await.unwrap();
    let s = status.iter().find(|s| s.tenant_id == t_inv).unwrap();
    assert!(!s.ok);
    assert!(s.advice.as_deref().unwrap().contains("proration"));
    // A failed create is journalled as failed, not left open.
    assert!(e.store().journal_open().await.unwrap().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permission_refusal_names_the_role_row() {
    let e = env(6, 19).await;
    let member = e.cw_emu.credentials().member_id;
    e.cw_emu.set_role_level(
        member,
        sandbox::connectwise::RoleFunction::Agreements,
        sandbox::connectwise::Level::Add,
        sandbox::connectwise::Access::None,
    );
    let r = e.sync(MONTH).await;
    let failed: Vec<_> = r
        .customers
        .iter()
        .filter(|c| c.outcome == usage::CustomerOutcome::Failed)
        .collect();
    assert!(!failed.is_empty());
    for c in failed {
        assert!(
            c.advice
                .as_deref()
                .unwrap()
                .contains("Finance > Agreements"),
            "{:?}",
            c.advice
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_codes_are_reported_until_added_to_a_product() {
    // Find a seed whose small world has a mapped customer with an unknown code.
    let mut chosen = None;
    for seed in 1..40u64 {
        let w = world(8, seed);
        if w.customers.iter().any(|c| {
            c.company
                .as_ref()
                .is_some_and(|co| co.agreements.iter().any(|a| a.status == "Active"))
                && c.tenant
                    .as_ref()
                    .is_some_and(|t| t.usage.iter().any(|(code, _)| *code >= 20))
        }) {
            chosen = Some(seed);
            break;
        }
    }
    let e = env(8, chosen.expect("a seed with an unknown code")).await;
    let r = e.sync(MONTH).await;
    let c = r
        .customers
        .iter()
        .find(|c| !c.unmapped.is_empty())
        .expect("an unmapped code");
    let u = &c.unmapped[0];
    assert!(u.message.contains("unmapped product"));
    assert!(u.message.contains(&format!(
        "centralbridge products add-code <PRODUCT> {}",
        u.code
    )));
    let status = e.store().list_customer_status(Some("usage")).await.unwrap();
    let s = status.iter().find(|s| s.tenant_id == c.tenant_id).unwrap();
    assert!(s.counts["unmapped"].to_string().contains(&u.code));
    // Counting the code toward a product bills it from then on.
    engine::products::add_code(e.store(), "Sophos_Intercept_X", &u.code, "test")
        .await
        .unwrap();
    let r2 = e.sync(MONTH).await;
    let c2 = r2
        .customers
        .iter()
        .find(|x| x.tenant_id == c.tenant_id)
        .unwrap();
    assert!(c2.unmapped.iter().all(|x| x.code != u.code));
    assert!(
        c2.ops
            .iter()
            .any(|o| o.product == "Sophos_Intercept_X" && o.is_write())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unselected_products_get_nothing() {
    let e = env(6, 23).await;
    let keep = "Sophos_Intercept_X_Advanced".to_owned();
    let others: Vec<String> = ProductTable::builtin()
        .products()
        .iter()
        .map(|p| p.identifier.clone())
        .filter(|p| *p != keep)
        .collect();
    usage::select_products(e.store(), &others, false, "test")
        .await
        .unwrap();
    let r = e.sync(MONTH).await;
    assert!(r.ops().all(|o| o.product == keep));
    let items: Vec<String> = e
        .catalog_identifiers()
        .into_values()
        .filter(|i| i.starts_with("Sophos_"))
        .collect();
    assert_eq!(items, vec![keep]);
}

/// A crash after k operations (for every k, with and without the k+1-th call having happened),
/// then a normal run, ends in the same ConnectWise state as an uninterrupted run, with no duplicates.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_any_two_operations_is_repaired_by_the_next_run() {
    let (customers, seed) = (4, 29);
    let reference = env(customers, seed).await;
    let opts = SyncOptions {
        month: Some(MONTH),
        concurrency: 1,
        ..SyncOptions::default()
    };
    let sequential = |stop: Option<usize>, inside: bool| {
        StartOptions::new(Door::Cli, "test").hooks(Hooks {
            stop_after: stop,
            crash_inside: inside,
            ..Hooks::default()
        })
    };
    let full = reference
        .sync_as(opts.clone(), sequential(None, false))
        .await;
    let n = full.counts.writes();
    assert!(n >= 6, "enough operations to interrupt ({n})");
    let want = reference.cw_state();
    for k in 0..=n {
        for inside in [false, true] {
            let e = env(customers, seed).await;
            let stopped = e.sync_as(opts.clone(), sequential(Some(k), inside)).await;
            assert_eq!(stopped.stopped, k < n, "k={k}");
            let open = e.store().journal_open().await.unwrap();
            if k < n {
                assert!(
                    !open.is_empty(),
                    "k={k}: the interrupted plan is in the journal"
                );
            }
            let rerun = e.sync_as(opts.clone(), sequential(None, false)).await;
            assert!(!rerun.stopped);
            assert_eq!(rerun.failed_customers, 0, "k={k} inside={inside}");
            assert_eq!(e.cw_state(), want, "k={k} inside={inside}");
            assert!(e.store().journal_open().await.unwrap().is_empty());
            // And it is stable.
            assert_eq!(
                e.sync_as(opts.clone(), sequential(None, false))
                    .await
                    .counts
                    .writes(),
                0,
                "k={k}"
            );
            let links: BTreeSet<(AgreementId, String)> = e
                .store()
                .list_addition_links(None)
                .await
                .unwrap()
                .into_iter()
                .map(|l| (l.agreement_id, l.product))
                .collect();
            let expected_links: usize = want.values().map(Vec::len).sum();
            assert_eq!(links.len(), expected_links, "k={k}");
        }
    }
}

/// No data is not zero: a month Sophos has not published (its 404), a failed usage listing, an empty
/// listing after a billed month, and a billed customer missing from a listing each plan nothing for
/// those customers, say why, and leave ConnectWise as it was.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_data_is_not_zero() {
    use sandbox::faults::Injection;
    let e = env(6, 31).await;
    let first = e.sync(MONTH).await;
    assert!(first.counts.created > 0);
    let billed = e.cw_state();
    let writes = e.cw_writes();
    let monthly: BTreeSet<TenantId> = first
        .customers
        .iter()
        .filter(|c| c.outcome == usage::CustomerOutcome::Ok && c.counts.created > 0)
        .map(|c| c.tenant_id.clone())
        .collect();
    assert!(monthly.len() >= 2, "{first:#?}");
    let held = |r: &SyncReport, text: &str| {
        let billed_customers: Vec<_> = r
            .customers
            .iter()
            .filter(|c| monthly.contains(&c.tenant_id))
            .collect();
        assert!(!billed_customers.is_empty());
        for c in billed_customers {
            assert_eq!(c.outcome, usage::CustomerOutcome::Held, "{c:?}");
            assert!(
                c.error
                    .as_deref()
                    .is_some_and(|m| m.contains(text) && m.contains("no data is not zero")),
                "{c:?}"
            );
            assert!(c.ops.is_empty());
        }
        assert!(r.failed_customers > 0);
    };

    // 1. A month Sophos has not published: the emulator answers 404 "no data" past its months.
    let later = Month {
        year: 2026,
        month: 12,
    };
    let r = e.sync(later).await;
    held(&r, "has published no usage for 2026-12");
    assert_eq!(e.cw_writes(), writes);
    assert_eq!(e.cw_state(), billed);
    let statuses = e
        .store()
        .list_customer_status(Some(usage::JOB))
        .await
        .unwrap();
    assert!(
        statuses
            .iter()
            .filter(|s| monthly.contains(&s.tenant_id))
            .all(|s| !s.ok && s.error.as_deref().is_some_and(|m| m.contains("2026-12")))
    );

    // 2. The listing fails: the run fails, nothing is planned, the statuses say why.
    e.sophos_emu
        .faults()
        .inject(Injection::new("billing/usage", 500));
    let run = job::start(e.store(), Job::Usage, StartOptions::new(Door::Cli, "test"))
        .await
        .unwrap();
    let r = usage::run(
        e.store(),
        &e.cw,
        &e.sophos,
        &SyncOptions {
            month: Some(MONTH),
            ..SyncOptions::default()
        },
        &run,
    )
    .await;
    run.finish(&r.run_end()).await.unwrap();
    assert!(r.is_err(), "{r:?}");
    e.sophos_emu.faults().clear_injections();
    assert_eq!(e.cw_writes(), writes);
    let statuses = e
        .store()
        .list_customer_status(Some(usage::JOB))
        .await
        .unwrap();
    assert!(
        statuses
            .iter()
            .filter(|s| monthly.contains(&s.tenant_id))
            .all(|s| {
                !s.ok
                    && s.error.as_deref().is_some_and(|m| {
                        m.contains("Reading the usage of 2026-11 from Sophos failed")
                    })
            })
    );

    // 3. An empty listing after a billed month.
    e.sophos_emu.faults().inject(
        Injection::new("billing/usage", 200).body(r#"{"items":[],"pages":{"size":0,"items":0}}"#),
    );
    let r = e.sync(MONTH).await;
    e.sophos_emu.faults().clear_injections();
    held(&r, "no usage line at all for 2026-11");
    assert_eq!(e.cw_writes(), writes);

    // 4. One billed customer listed, the others missing: only the listed one is synced.
    let listed = monthly.iter().next().unwrap();
    let tenant = e.world.tenants().find(|t| *listed == t.id).unwrap();
    let (code_index, quantity) = tenant.usage[0];
    let line = json!({
        "accountId": listed,
        "productCode": BILLING_CODES[code_index].product_code,
        "productDescription": "listed alone",
        "billableQuantity": quantity + 5,
    });
    e.sophos_emu.faults().inject(
        Injection::new("billing/usage", 200)
            .body(json!({"items": [line], "pages": {"size": 1, "items": 1}}).to_string()),
    );
    let r = e.sync(MONTH).await;
    e.sophos_emu.faults().clear_injections();
    for c in r
        .customers
        .iter()
        .filter(|c| monthly.contains(&c.tenant_id))
    {
        if &c.tenant_id == listed {
            assert_eq!(c.outcome, usage::CustomerOutcome::Ok, "{c:?}");
        } else {
            assert_eq!(c.outcome, usage::CustomerOutcome::Held, "{c:?}");
            assert!(
                c.error
                    .as_deref()
                    .unwrap()
                    .contains("lists no usage for this customer")
            );
        }
    }
    // The listed customer's other products went to zero (its line disappeared from a month with
    // data); nobody else's quantities moved.
    let now = e.cw_state();
    let listed_agreement = e.agreements[listed.as_str()];
    for (aid, lines) in &billed {
        if *aid != listed_agreement {
            assert_eq!(now.get(aid), Some(lines), "agreement {aid} changed");
        }
    }
    assert_ne!(now.get(&listed_agreement), billed.get(&listed_agreement));
}

/// One live addition per (agreement, billed product): a product mapped to another catalog item
/// moves its addition (the old one cancelled, audited; the new one with the full quantity), and
/// duplicates already present are reported with their ids until `--repair` leaves one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_remap_moves_the_addition_and_repair_leaves_one_of_duplicates() {
    let e = env(4, 37).await;
    e.sync(MONTH).await;
    let link = e
        .store()
        .list_addition_links(None)
        .await
        .unwrap()
        .into_iter()
        .find(|l| l.quantity > 0.0 && !l.cancelled_by_us)
        .expect("a billed line");
    let live_for = |item: i64| -> Vec<Value> {
        e.cw_emu
            .additions(link.agreement_id.get())
            .into_iter()
            .filter(|a| a["product"]["id"].as_i64() == Some(item) && a["cancelledDate"].is_null())
            .collect()
    };
    // Another catalog item for the product, then the product is mapped to it.
    let mut item = e
        .cw_emu
        .record(Table::Catalog, link.catalog_item_id.get())
        .unwrap();
    item.as_object_mut().unwrap().remove("id");
    item["identifier"] = json!("Sophos_Custom_Item");
    let new_item = e.cw_emu.insert_record(Table::Catalog, item);
    usage::map_product(
        e.store(),
        &e.cw,
        &link.product,
        &new_item.to_string(),
        "test",
    )
    .await
    .unwrap();
    let r = e.sync(MONTH).await;
    assert_eq!(r.failed_customers, 0, "{r:#?}");
    assert!(
        live_for(link.catalog_item_id.get()).is_empty(),
        "the old addition still bills"
    );
    let moved = live_for(new_item);
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(moved[0]["quantity"].as_f64(), Some(link.quantity));
    let old = e
        .cw_emu
        .additions(link.agreement_id.get())
        .into_iter()
        .find(|a| a["id"].as_i64() == Some(link.addition_id.get()))
        .unwrap();
    assert!(!old["cancelledDate"].is_null(), "{old}");
    let audit = e
        .store()
        .list_audit(&engine::store::AuditFilter {
            action: Some("usage.cancel_addition".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(
        audit
            .iter()
            .any(|a| a.reason.contains("now bills through catalog item")),
        "{audit:?}"
    );
    assert_eq!(
        e.sync(MONTH).await.counts.writes(),
        0,
        "stable after the move"
    );

    // A duplicate made by hand: reported with both ids, nothing written.
    let mut dup = moved[0].clone();
    dup.as_object_mut().unwrap().remove("id");
    let dup_id = e.cw_emu.insert_record(Table::Additions, dup);
    let writes = e.cw_writes();
    let r = e.sync(MONTH).await;
    let conflict = r
        .ops()
        .find(|o| o.kind() == OpKind::Conflict)
        .expect("the duplicate is a conflict");
    assert!(
        conflict.reason.contains(&format!("#{dup_id}")) && conflict.reason.contains("--repair"),
        "{}",
        conflict.reason
    );
    assert_eq!(e.cw_writes(), writes);
    assert_eq!(live_for(new_item).len(), 2);
    // --repair: the dry run shows the cancel, the run leaves one (ours).
    let repair = SyncOptions {
        month: Some(MONTH),
        repair: true,
        ..SyncOptions::default()
    };
    let dry = e
        .sync_as(
            repair.clone(),
            StartOptions::new(Door::Cli, "test").dry_run(true),
        )
        .await;
    assert!(
        dry.ops()
            .any(|o| o.kind() == OpKind::Cancel && o.addition_id() == Some(AdditionId::new(dup_id)))
    );
    assert_eq!(e.cw_writes(), writes);
    let r = e.sync_with(repair).await;
    assert_eq!(r.failed_customers, 0, "{r:#?}");
    let left = live_for(new_item);
    assert_eq!(left.len(), 1);
    assert_eq!(
        left[0]["id"].as_i64(),
        moved[0]["id"].as_i64(),
        "ours is kept"
    );
}

/// Large drops need a person: a plan that takes more than ten customers to zero is not applied
/// until it is confirmed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_blast_radius_guard_holds_a_plan_that_zeroes_eleven_customers() {
    use sandbox::faults::Injection;
    let e = env(30, 43).await;
    let first = e.sync(MONTH).await;
    let billed: Vec<TenantId> = first
        .customers
        .iter()
        .filter(|c| c.outcome == usage::CustomerOutcome::Ok && c.counts.created > 0)
        .map(|c| c.tenant_id.clone())
        .collect();
    assert!(billed.len() >= 11, "{} billed customers", billed.len());
    let before = e.cw_state();
    let writes = e.cw_writes();
    // Every billed customer is listed, but only with a code no product counts: all go to zero.
    let items: Vec<Value> = billed
        .iter()
        .map(|t| json!({"accountId": t, "productCode": "ZZZ-NOT-A-PRODUCT", "billableQuantity": 1}))
        .collect();
    let body = json!({"items": items, "pages": {"size": items.len(), "items": items.len()}});
    e.sophos_emu
        .faults()
        .inject(Injection::new("billing/usage", 200).body(body.to_string()));
    let r = e.sync(MONTH).await;
    let refused = r.refused.clone().expect("the plan is held");
    assert!(
        refused.contains(&format!(
            "take {} customers from billed to nothing",
            billed.len()
        )) && refused.contains("limits are 30 % and 10 customers"),
        "{refused}"
    );
    assert!(
        r.blast.zeroed_customers >= 11 && r.blast.share() > 0.99,
        "{:?}",
        r.blast
    );
    assert_eq!(e.cw_writes(), writes, "nothing applied");
    assert_eq!(e.cw_state(), before);
    assert!(
        r.customers
            .iter()
            .filter(|c| billed.contains(&c.tenant_id))
            .all(|c| c.outcome == usage::CustomerOutcome::Held)
    );
    // Confirmed, it is applied.
    let r = e
        .sync_with(SyncOptions {
            month: Some(MONTH),
            confirm: true,
            ..SyncOptions::default()
        })
        .await;
    e.sophos_emu.faults().clear_injections();
    assert!(r.refused.is_none());
    assert!(r.counts.updated > 0);
    assert_ne!(e.cw_state(), before);
}

/// A usage-sync environment whose ConnectWise client gives up on a call after `timeout` (so a
/// slow POST the emulator still commits looks like a timeout), with quick backoff.
async fn faulty_env(customers: usize, seed: u64, timeout: Duration) -> Env {
    let mut e = env(customers, seed).await;
    let mut cfg = cw_config(&e.cw_emu);
    cfg.timeout = timeout;
    cfg.retry.base_delay = Duration::from_millis(10);
    cfg.retry.max_delay = Duration::from_millis(50);
    e.cw = connectwise::Client::connect(cfg).await.expect("cw client");
    e
}

/// Syncs until a run has no failed customer (at most 5 runs); returns how many it took.
async fn sync_until_clean(e: &Env) -> usize {
    for runs in 1..=5 {
        let r = e.sync(MONTH).await;
        if r.failed_customers == 0 {
            return runs;
        }
    }
    panic!("customers still failing after 5 runs");
}

/// The fault campaign: the same MSP synced once without faults and once under 5 % random 500s on
/// both vendors, a 503 on the Sophos usage listing, a 429 with `Retry-After` on ConnectWise, slow
/// POSTs that commit after the client gave up, a Sophos token expiring and the ConnectWise
/// codebase moving mid-run. Re-run until no customer failed, ConnectWise must hold exactly what
/// the fault-free run left: no duplicate, nothing missing. A third run under 10 % random 500s
/// alone must take at most twice the fault-free wall (a refused POST is looked up at once, not
/// after the request timeout). Prints the figures the README's reliability section quotes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_campaign_ends_in_the_fault_free_state() {
    let (customers, seed) = (12, 41);
    let clean = env(customers, seed).await;
    let started = std::time::Instant::now();
    let r = clean.sync(MONTH).await;
    let clean_wall = started.elapsed();
    assert_eq!(r.failed_customers, 0, "{r:?}");
    let want = clean.cw_state();
    let additions = want.values().map(Vec::len).sum::<usize>();
    assert!(additions >= 20, "enough additions to matter");

    let e = faulty_env(customers, seed, Duration::from_millis(400)).await;
    for f in [e.cw_emu.faults(), e.sophos_emu.faults()] {
        f.set_fault_rate(0.05);
        f.set_retry_after(Some(1));
    }
    e.sophos_emu
        .faults()
        .inject(sandbox::faults::Injection::new("billing", 503).times(1));
    e.cw_emu.faults().inject(
        sandbox::faults::Injection::new("finance/agreements", 429)
            .method(http::Method::POST)
            .times(2),
    );
    e.cw_emu
        .faults()
        .set_slow_commit(Some(Duration::from_millis(600)));
    // Mid-run: Sophos tokens expire, slow commits stop, ConnectWise moves codebase.
    let (so, cw) = (e.sophos_emu.clone(), e.cw_emu.clone());
    let midway = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        so.expire_tokens();
        tokio::time::sleep(Duration::from_millis(800)).await;
        cw.faults().set_slow_commit(None);
        cw.move_codebase("v2026_1");
    });
    let started = std::time::Instant::now();
    let runs = sync_until_clean(&e).await;
    let campaign_wall = started.elapsed();
    midway.await.unwrap();
    assert_eq!(
        e.cw_state(),
        want,
        "ConnectWise differs from the fault-free run"
    );
    let (cw_counts, so_counts, stats) = (
        e.cw_emu.request_counts(),
        e.sophos_emu.request_counts(),
        e.cw.stats(),
    );
    assert!(cw_counts.answered_by_a_fault() > 0 && so_counts.answered_by_a_fault() > 0);

    // 10 % of ConnectWise calls answered 500 before anything is done.
    let e5 = faulty_env(customers, seed, Duration::from_secs(60)).await;
    e5.cw_emu.faults().set_fault_rate(0.10);
    let started = std::time::Instant::now();
    sync_until_clean(&e5).await;
    let fivexx_wall = started.elapsed();
    assert_eq!(
        e5.cw_state(),
        want,
        "ConnectWise differs from the fault-free run"
    );
    eprintln!(
        "fault campaign (usage sync, {customers} customers, {additions} additions): faults answered \
         ConnectWise {} of {} calls, Sophos {} of {}; ConnectWise retries {}, POST look-ups {}, \
         codebase rediscoveries {}; {runs} run(s), wall {:.2} s; 10 % 500s alone: {} of {} calls, \
         wall {:.2} s; fault-free wall {:.2} s",
        cw_counts.answered_by_a_fault(),
        cw_counts.total,
        so_counts.answered_by_a_fault(),
        so_counts.total,
        stats.retries,
        stats.lookups,
        stats.rediscoveries,
        campaign_wall.as_secs_f64(),
        e5.cw_emu.request_counts().answered_by_a_fault(),
        e5.cw_emu.request_counts().total,
        fivexx_wall.as_secs_f64(),
        clean_wall.as_secs_f64(),
    );
    // Twice the fault-free wall, plus a little for a machine running other tests at once.
    assert!(
        fivexx_wall <= clean_wall * 2 + Duration::from_millis(500),
        "10 % 500s took {fivexx_wall:?}, fault-free {clean_wall:?}"
    );
}

/// A dry run reading the additions as `mode` says, and the ConnectWise calls it made.
async fn plan_reading(e: &Env, mode: usage::bulk::AdditionsRead) -> (SyncReport, u64) {
    let before = e.cw_emu.request_counts().total;
    let mut start = StartOptions::new(Door::Cli, "test");
    start.dry_run = true;
    let r = e
        .sync_as(
            SyncOptions {
                month: Some(MONTH),
                additions: mode,
                ..SyncOptions::default()
            },
            start,
        )
        .await;
    (r, e.cw_emu.request_counts().total - before)
}

/// Hand edits that give a plan something to do: one quantity changed, one addition deleted.
fn hand_edits(e: &Env) {
    let (_, a) = e.usage_customer(0);
    let first = e.cw_emu.additions(a)[0]["id"].as_i64().unwrap();
    e.cw_emu.update_record(Table::Additions, first, |r| {
        r.insert("quantity".into(), json!(1.0));
    });
    let (_, b) = e.usage_customer(1);
    let gone = e.cw_emu.additions(b)[0]["id"].as_i64().unwrap();
    e.cw_emu.delete_record(Table::Additions, gone);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_and_the_reads_per_agreement_make_the_same_plan() {
    use usage::bulk::AdditionsRead;
    let e = env(40, 29).await;
    let first = e.sync(MONTH).await;
    assert!(first.counts.created > 20, "{:?}", first.counts);
    hand_edits(&e);
    let (per, per_calls) = plan_reading(&e, AdditionsRead::PerAgreement).await;
    let (rep, rep_calls) = plan_reading(&e, AdditionsRead::Report).await;
    assert_eq!(per.additions.read, "per_agreement");
    assert_eq!(rep.additions.read, "report", "{:?}", rep.additions);
    assert_eq!(rep.additions.sampled, 3);
    let writes = |r: &SyncReport| {
        r.ops()
            .filter(|o| o.is_write() || o.kind() == OpKind::RemovedInCw)
            .count()
    };
    assert!(writes(&per) >= 2, "the edits planned something");
    assert_eq!(
        rep.ops().collect::<Vec<_>>(),
        per.ops().collect::<Vec<_>>(),
        "the same plan either way"
    );
    let agreements = e.agreements.len() as u64;
    assert!(
        rep_calls + agreements / 2 < per_calls,
        "the report saves calls: {rep_calls} against {per_calls} for {agreements} agreements"
    );

    // Each reason to distrust the report falls back, says why, and plans the same.
    let fallback = |r: &SyncReport, why: &str| {
        assert_eq!(r.additions.read, "per_agreement", "{:?}", r.additions);
        let reason = r.additions.reason.as_deref().unwrap_or_default();
        assert!(reason.contains(why), "{reason}");
        assert!(
            usage::messages::run_summary(r).contains(why),
            "the run summary says so"
        );
        assert_eq!(r.ops().collect::<Vec<_>>(), per.ops().collect::<Vec<_>>());
    };
    e.cw_emu
        .set_report_column_dropped("AgreementAdditions", Some("Total_Quantity"));
    fallback(
        &plan_reading(&e, AdditionsRead::Report).await.0,
        "Total_Quantity",
    );
    e.cw_emu
        .set_report_column_dropped("AgreementAdditions", None);

    e.cw_emu.set_report_offered("AgreementAdditions", false);
    fallback(
        &plan_reading(&e, AdditionsRead::Report).await.0,
        "does not offer",
    );
    e.cw_emu.set_report_offered("AgreementAdditions", true);

    let member = e.cw_emu.credentials().member_id;
    e.cw_emu.set_role_level(
        member,
        sandbox::connectwise::RoleFunction::ApiReports,
        sandbox::connectwise::Level::Inquire,
        sandbox::connectwise::Access::None,
    );
    fallback(
        &plan_reading(&e, AdditionsRead::Report).await.0,
        "API Reports",
    );
    e.cw_emu.set_role_level(
        member,
        sandbox::connectwise::RoleFunction::ApiReports,
        sandbox::connectwise::Level::Inquire,
        sandbox::connectwise::Access::All,
    );

    // A report served from a lagging copy: every record changes after the copy is taken.
    e.cw_emu.set_additions_report_frozen(true);
    let ids: Vec<i64> = e
        .cw_emu
        .records(Table::Additions)
        .iter()
        .map(|a| a["id"].as_i64().unwrap())
        .collect();
    for id in &ids {
        e.cw_emu.update_record(Table::Additions, *id, |r| {
            let q = r["quantity"].as_f64().unwrap_or(0.0);
            r.insert("quantity".into(), json!(q + 1.0));
        });
    }
    let (per_now, _) = plan_reading(&e, AdditionsRead::PerAgreement).await;
    let (lagging, _) = plan_reading(&e, AdditionsRead::Report).await;
    assert_eq!(lagging.additions.read, "per_agreement");
    let reason = lagging.additions.reason.as_deref().unwrap_or_default();
    assert!(
        reason.contains("disagrees") && reason.contains("in the report"),
        "{reason}"
    );
    assert_eq!(
        lagging.ops().collect::<Vec<_>>(),
        per_now.ops().collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_an_enforced_rate_limit_a_run_gets_no_429_storm() {
    let world = world(30, 31);
    let cw_emu = CwEmulator::spawn(sandbox::connectwise::CwConfig::new(world.clone()))
        .await
        .expect("cw emulator");
    // The server allows 700 a minute; the client paces itself to 600.
    cw_emu.faults().set_rate_limit(Some(700));
    let mut e = env(30, 31).await;
    let mut cfg = cw_config(&cw_emu);
    cfg.rate_limit = connectwise::RateLimit::per_minute(600);
    e.cw = connectwise::Client::connect(cfg).await.expect("cw client");
    e.cw_emu = cw_emu;
    e.agreements.clear();
    e.map_true_pairs().await;
    let r = e
        .sync_with(SyncOptions {
            month: Some(MONTH),
            additions: usage::bulk::AdditionsRead::PerAgreement,
            ..SyncOptions::default()
        })
        .await;
    assert_eq!(r.failed_customers, 0);
    let counts = e.cw_emu.request_counts();
    assert!(counts.total > 60, "{counts:?}");
    assert!(
        counts.rate_limited <= 2,
        "{} of {} calls answered 429",
        counts.rate_limited,
        counts.total
    );
}
