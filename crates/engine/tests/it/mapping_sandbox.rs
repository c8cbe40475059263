//! Mapping against the seeded sandbox: refresh from both emulators, suggestion accuracy on the
//! generator's tricky names, ambiguity, bulk accept, renames and removals on either side.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use engine::ids::CompanyId;
use engine::mapping::{
    self, AcceptOptions, CustomerFilter, RefreshOptions, SuggestOptions, WarningKind,
};
use engine::store::{MappingStore as _, RecordKind, Store};
use sandbox::connectwise::{CwConfig as EmuCwConfig, CwEmulator, Table};
use sandbox::sophos::{SophosConfig as EmuSophosConfig, SophosEmulator};
use sandbox::world::{NameVariant, World, WorldConfig};
use serde_json::json;
use testkit::{TestStore, both_backends};

fn world() -> World {
    World::generate(WorldConfig {
        seed: 20261115,
        customers: 300,
        extra_companies: 20,
        extra_tenants: 10,
        usage_anchor: (2026, 11),
    })
}

async fn spawn_sophos(world: World) -> (SophosEmulator, sophos::Client) {
    let mut cfg = EmuSophosConfig::new(Arc::new(world));
    cfg.alert_rate = 0.0;
    let emu = SophosEmulator::spawn(cfg).await.unwrap();
    let creds = emu.credentials();
    let mut c = sophos::SophosConfig::new(creds.client_id, creds.client_secret);
    c.token_url = emu.token_url();
    c.global_url = emu.global_url();
    c.rate_limit = sophos::RateLimit::Off;
    c.page_size.tenants = 100;
    c.retry.base_delay = Duration::from_millis(5);
    let client = sophos::Client::connect(c).await.unwrap();
    (emu, client)
}

async fn spawn_cw(world: World) -> (CwEmulator, connectwise::Client) {
    let emu = CwEmulator::spawn(EmuCwConfig::new(Arc::new(world)))
        .await
        .unwrap();
    let creds = emu.credentials();
    let mut c = connectwise::CwConfig::new(
        emu.site_url(),
        creds.company_id.clone(),
        creds.public_key.clone(),
        creds.private_key.clone(),
        creds.client_id.clone(),
    );
    c.allow_http = true;
    c.rate_limit = connectwise::RateLimit::Off;
    let client = connectwise::Client::connect(c).await.unwrap();
    (emu, client)
}

async fn refresh(
    store: &Store,
    s: &sophos::Client,
    c: &connectwise::Client,
) -> mapping::RefreshSummary {
    let run = engine::job::start(
        store,
        engine::job::Job::Refresh,
        engine::job::StartOptions::new(engine::job::Door::Cli, "test"),
    )
    .await
    .unwrap();
    let summary = mapping::refresh(
        store,
        Some(s),
        Some(c),
        "not connected",
        &RefreshOptions::default(),
        &run,
    )
    .await;
    engine::job::Run::finish(&run, &engine::job::RunReport::run_end(&summary))
        .await
        .unwrap();
    let summary = summary.unwrap();
    assert!(summary.ok(), "{summary:#?}");
    summary
}

/// Refreshing the seeded world, then suggestions: top-1 accuracy per name variant.
async fn suggestions_find_the_true_company(t: TestStore) {
    let s = &t.store;
    let w = world();
    let (_se, sophos) = spawn_sophos(w.clone()).await;
    let (cwe, cw) = spawn_cw(w.clone()).await;
    let summary = refresh(s, &sophos, &cw).await;
    assert_eq!(summary.tenants.new as usize, w.tenants().count());
    assert_eq!(summary.companies.new as usize, w.companies().count());
    let n_agreements: usize = w.companies().map(|c| c.agreements.len()).sum();
    assert_eq!(summary.agreements.new as usize, n_agreements);

    // identifier -> company id, from what the refresh stored.
    let companies = s.list_companies(true).await.unwrap();
    let id_of: HashMap<String, CompanyId> = companies
        .iter()
        .map(|c| (c.identifier.clone(), c.id))
        .collect();

    let suggestions = mapping::suggest(s, &SuggestOptions::default())
        .await
        .unwrap();
    let by_tenant: HashMap<&str, &mapping::Suggestion> = suggestions
        .iter()
        .map(|x| (x.tenant_id.as_str(), x))
        .collect();
    let mut per_variant: BTreeMap<String, (usize, usize, usize)> = BTreeMap::new();
    let mut deleted_skipped = 0;
    for c in &w.customers {
        let (Some(company), Some(tenant), Some(variant)) = (&c.company, &c.tenant, c.variant)
        else {
            continue;
        };
        if company.deleted {
            deleted_skipped += 1;
            continue;
        }
        let want = id_of[&company.identifier];
        let sug = by_tenant[tenant.id.as_str()];
        let e = per_variant.entry(format!("{variant:?}")).or_default();
        e.0 += 1;
        if sug.best().map(|b| b.company_id) == Some(want) {
            e.1 += 1;
        } else {
            eprintln!(
                "miss ({variant:?}): tenant {:?} -> {:?}, want {:?}",
                tenant.name,
                sug.candidates
                    .iter()
                    .map(|c| (&c.name, c.score))
                    .collect::<Vec<_>>(),
                company.name
            );
        }
        if sug.ambiguous {
            e.2 += 1;
        }
    }
    let (mut total, mut hits) = (0, 0);
    eprintln!("top-1 accuracy per name variant (deleted companies skipped: {deleted_skipped}):");
    for (v, (n, ok, amb)) in &per_variant {
        eprintln!(
            "  {v:<16} {ok:>3}/{n:<3} = {:>5.1}%  ambiguous {amb}",
            100.0 * *ok as f64 / *n as f64
        );
        total += n;
        hits += ok;
    }
    let overall = hits as f64 / total as f64;
    eprintln!(
        "  overall          {hits}/{total} = {:.1}%",
        100.0 * overall
    );
    assert!(overall >= 0.95, "overall top-1 accuracy {overall}");
    for v in [
        NameVariant::Same,
        NameVariant::Case,
        NameVariant::AccentsStripped,
        NameVariant::SuffixDropped,
        NameVariant::SuffixAdded,
        NameVariant::SuffixChanged,
        NameVariant::Punctuation,
    ] {
        if let Some((n, ok, _)) = per_variant.get(&format!("{v:?}")) {
            assert_eq!(ok, n, "{v:?} must always be found");
        }
    }
    assert!(per_variant.contains_key("Typo"), "the world has typos");

    // Craft a near-duplicate: a second company whose name normalises like an unmapped tenant's.
    let (target, company) = w
        .customers
        .iter()
        .find_map(|c| match (&c.tenant, &c.company, c.variant) {
            (Some(t), Some(co), Some(NameVariant::Same))
                if !co.deleted && co.status == "Active" =>
            {
                Some((t.clone(), co.clone()))
            }
            _ => None,
        })
        .unwrap();
    let dup_name = format!("{} LLC", company.name.to_uppercase());
    let dup_id = cwe.insert_record(
        Table::Companies,
        json!({"identifier": "ZzDuplicate01", "name": dup_name, "status": {"id": 1, "name": "Active"},
               "deletedFlag": false, "types": []}),
    );
    refresh(s, &sophos, &cw).await;
    let sug = mapping::suggest(
        s,
        &SuggestOptions {
            tenant_id: Some(target.id.as_str().into()),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let sug = &sug[0];
    assert!(sug.ambiguous, "{sug:#?}");
    assert!(
        sug.candidates
            .iter()
            .take(2)
            .any(|c| c.company_id == dup_id)
    );

    // Bulk accept: exact, unambiguous ones only; the crafted duplicate stays unmapped.
    let out = mapping::accept(
        s,
        "tester",
        &AcceptOptions {
            min_score: 1.0,
            ticket_sync: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(!out.accepted.is_empty());
    assert!(
        out.skipped
            .iter()
            .any(|k| k.tenant_id == target.id && k.reason.contains("ambiguous")),
        "{:#?}",
        out.skipped
    );
    assert!(s.get_mapping(&target.id).await.unwrap().is_none());
    for a in &out.accepted {
        let m = a.change.after.as_ref().unwrap();
        assert!(m.ticket_sync && !m.usage_sync);
        assert!((a.score - 1.0).abs() < 1e-9);
    }
    // Every accepted mapping is the true one.
    let truth: HashMap<&str, CompanyId> = w
        .customers
        .iter()
        .filter_map(|c| {
            Some((
                c.tenant.as_ref()?.id.as_str(),
                id_of[&c.company.as_ref()?.identifier],
            ))
        })
        .collect();
    for a in &out.accepted {
        let m = a.change.after.as_ref().unwrap();
        assert_eq!(
            truth.get(m.tenant_id.as_str()),
            Some(&m.company_id),
            "{a:#?}"
        );
    }
    eprintln!(
        "map accept --min-score 1.0: {} accepted, {} skipped",
        out.accepted.len(),
        out.skipped.len()
    );
    // Accepted tenants no longer get suggestions; a second accept does nothing new.
    let again = mapping::accept(
        s,
        "tester",
        &AcceptOptions {
            min_score: 1.0,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert!(again.accepted.is_empty(), "{:#?}", again.accepted);
}

/// Renames on either side show after the next refresh; removed objects are flagged, not dropped.
async fn refresh_tracks_renames_and_removals(t: TestStore) {
    let s = &t.store;
    let w = world();
    let (_se, sophos) = spawn_sophos(w.clone()).await;
    let (cwe, cw) = spawn_cw(w.clone()).await;
    refresh(s, &sophos, &cw).await;
    let again = refresh(s, &sophos, &cw).await;
    assert_eq!(
        (again.tenants.new, again.tenants.renamed, again.tenants.gone),
        (0, 0, 0)
    );
    assert_eq!(
        (
            again.companies.new,
            again.companies.changed,
            again.agreements.changed
        ),
        (0, 0, 0)
    );

    // Two live customers with an agreement, mapped.
    let picks: Vec<(String, String)> = w
        .customers
        .iter()
        .filter_map(|c| {
            let co = c.company.as_ref()?;
            let t = c.tenant.as_ref()?;
            (!co.deleted
                && co.status == "Active"
                && co.agreements.iter().any(|a| a.status == "Active"))
            .then(|| (t.id.clone(), co.identifier.clone()))
        })
        .take(2)
        .collect();
    let mut mapped = Vec::new();
    for (tenant_id, identifier) in &picks {
        let company = mapping::resolve_company(s, identifier).await.unwrap();
        let agreement = mapping::agreements_for_company(s, company.id, false)
            .await
            .unwrap()[0]
            .id;
        mapping::set_mapping(
            s,
            "tester",
            &mapping::MappingInput {
                agreement_id: Some(agreement),
                ..mapping::MappingInput::new(tenant_id.as_str().into(), company.id)
            },
        )
        .await
        .unwrap();
        mapped.push((tenant_id.clone(), company.id, agreement));
    }
    let (t_a, c_a, ag_a) = mapped[0].clone();
    let (t_b, c_b, _) = mapped[1].clone();

    // ConnectWise: rename company A, cancel its agreement; delete company B for good.
    assert!(cwe.rename_company(c_a.get(), "Renamed Company Ltda"));
    assert!(cwe.update_record(Table::Agreements, ag_a.get(), |r| {
        r.insert("cancelledFlag".into(), json!(true));
        r.insert("agreementStatus".into(), json!("Cancelled"));
    }));
    let b_agreements: Vec<i64> = cwe
        .records(Table::Agreements)
        .iter()
        .filter(|a| a["company"]["id"] == json!(c_b))
        .filter_map(|a| a["id"].as_i64())
        .collect();
    assert!(cwe.delete_record(Table::Companies, c_b.get()));
    // Sophos: a new world where tenant A is renamed and tenant B is gone.
    let mut w2 = w.clone();
    for c in &mut w2.customers {
        if let Some(t) = &mut c.tenant
            && t.id == t_a
        {
            t.name = "Renamed Tenant".into();
        }
    }
    for c in &mut w2.customers {
        if c.tenant.as_ref().is_some_and(|t| t.id == t_b) {
            c.tenant = None;
            c.variant = None;
        }
    }
    let (_se2, sophos2) = spawn_sophos(w2).await;
    let summary = refresh(s, &sophos2, &cw).await;
    assert_eq!(summary.tenants.renamed, 1, "{summary:#?}");
    assert_eq!(summary.tenants.gone, 1);
    assert_eq!(summary.companies.renamed, 1);
    assert_eq!(summary.companies.gone, 1);
    assert_eq!(summary.agreements.changed, 1, "the cancelled agreement");
    assert_eq!(summary.tenants.renames[0].new, "Renamed Tenant");
    assert_eq!(summary.companies.renames[0].new, "Renamed Company Ltda");
    // Company B's agreements are still listed by ConnectWise (their company reference is stale).
    assert!(!b_agreements.is_empty());

    let rows = mapping::list_customers(
        s,
        &CustomerFilter {
            mapped: Some(true),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let a = rows.iter().find(|r| r.tenant.id == t_a).unwrap();
    assert_eq!(a.tenant.name, "Renamed Tenant");
    assert_eq!(a.company.as_ref().unwrap().name, "Renamed Company Ltda");
    assert_eq!(
        a.warnings.iter().map(|w| w.kind).collect::<Vec<_>>(),
        vec![WarningKind::AgreementCancelled]
    );
    let b = rows.iter().find(|r| r.tenant.id == t_b).unwrap();
    let kinds: Vec<WarningKind> = b.warnings.iter().map(|w| w.kind).collect();
    assert_eq!(
        kinds,
        vec![WarningKind::TenantGone, WarningKind::CompanyDeleted]
    );
    assert!(
        s.get_company(c_b).await.unwrap().unwrap().gone,
        "flagged, not deleted"
    );
    let (all, live) = s.count_records(RecordKind::Companies).await.unwrap();
    assert_eq!(all, live + 1);
}

/// A listing cut short by a vendor error marks nothing gone.
async fn failed_listing_marks_nothing_gone(t: TestStore) {
    let s = &t.store;
    let w = world();
    let (_se, sophos) = spawn_sophos(w.clone()).await;
    let (_cwe, cw) = spawn_cw(w.clone()).await;
    refresh(s, &sophos, &cw).await;
    let failing = futures::stream::iter(vec![
        Ok(sophos::TenantSummary::from(
            sophos.tenants_page(1).await.unwrap().items.remove(0),
        )),
        Err("connection reset"),
    ]);
    let k = mapping::refresh_tenants(
        s,
        failing,
        jiff::Timestamp::now(),
        &RefreshOptions::default(),
    )
    .await
    .unwrap();
    assert!(!k.complete);
    assert_eq!(k.error.as_deref(), Some("connection reset"));
    assert_eq!((k.seen, k.gone), (1, 0));
    let (all, live) = s.count_records(RecordKind::Tenants).await.unwrap();
    assert_eq!(all, live);
    // A missing connection is reported per side; the other side still refreshes.
    let run = engine::job::start(
        s,
        engine::job::Job::Refresh,
        engine::job::StartOptions::new(engine::job::Door::Cli, "test"),
    )
    .await
    .unwrap();
    let summary = mapping::refresh(
        s,
        None,
        Some(&cw),
        "no Sophos connection",
        &RefreshOptions::default(),
        &run,
    )
    .await;
    engine::job::Run::finish(&run, &engine::job::RunReport::run_end(&summary))
        .await
        .unwrap();
    let summary = summary.unwrap();
    assert!(!summary.ok() && summary.companies.complete);
    assert_eq!(
        summary.tenants.error.as_deref(),
        Some("no Sophos connection")
    );
    assert!(
        !mapping::refresh_due(s, jiff::Timestamp::now())
            .await
            .unwrap()
    );
    let later = jiff::Timestamp::now() + jiff::SignedDuration::from_hours(25);
    assert!(mapping::refresh_due(s, later).await.unwrap());
}

both_backends!(
    suggestions_find_the_true_company,
    refresh_tracks_renames_and_removals,
    failed_listing_marks_nothing_gone,
);
