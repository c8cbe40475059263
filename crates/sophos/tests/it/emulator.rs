//! The client against the Sophos emulator (`sandbox::sophos`), as the sync engine will use it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use sandbox::sophos::{AlertKind, AlertSpec, SophosConfig as EmuConfig, SophosEmulator};
use sandbox::world::{BillingType as WorldBilling, World, WorldConfig};
use sophos::{
    AlertQuery, Client, PageSizes, RetryPolicy, SophosConfig, SophosError, Tenant, TenantRef,
};

const ANCHOR: (i16, i8) = (2024, 3);

fn world(customers: usize) -> Arc<World> {
    Arc::new(World::generate(WorldConfig {
        seed: 7,
        customers,
        extra_companies: 0,
        extra_tenants: 0,
        usage_anchor: ANCHOR,
    }))
}

async fn emulator(world: Arc<World>, tune: impl FnOnce(&mut EmuConfig)) -> SophosEmulator {
    let mut cfg = EmuConfig::new(world);
    cfg.alert_rate = 0.0;
    cfg.alert_backlog = Duration::ZERO;
    tune(&mut cfg);
    SophosEmulator::spawn(cfg).await.unwrap()
}

fn client_cfg(emu: &SophosEmulator) -> SophosConfig {
    let creds = emu.credentials();
    let mut cfg = SophosConfig::new(creds.client_id, creds.client_secret);
    cfg.token_url = emu.token_url();
    cfg.global_url = emu.global_url();
    cfg.rate_limit = sophos::RateLimit::Off;
    cfg.page_size = PageSizes {
        tenants: 100,
        usage: 1000,
        alerts: 100,
    };
    cfg.retry = RetryPolicy {
        max_attempts: 6,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
        max_retry_after: Duration::from_secs(5),
        jitter: true,
    };
    cfg
}

async fn tenants_of(c: &Client) -> Vec<Tenant> {
    c.tenants().try_collect().await.unwrap()
}

fn find_tenant(world: &World, pred: impl Fn(WorldBilling) -> bool) -> String {
    world
        .tenants()
        .find(|t| pred(t.billing))
        .map(|t| t.id.clone())
        .expect("world has such a tenant")
}

#[tokio::test]
async fn pages_3000_tenants_with_their_api_hosts() {
    let w = world(3000);
    let emu = emulator(w.clone(), |_| {}).await;
    let c = Client::connect(client_cfg(&emu)).await.unwrap();
    assert_eq!(c.partner_id(), emu.partner_id());
    let tenants = tenants_of(&c).await;
    assert_eq!(tenants.len(), 3000);
    let want: Vec<_> = w.tenants().map(|t| t.id.clone()).collect();
    let got: BTreeSet<_> = tenants.iter().map(|t| t.id.clone()).collect();
    assert_eq!(got, want.iter().cloned().collect::<BTreeSet<_>>());
    for t in &tenants {
        assert_eq!(t.api_host, emu.tenant_api_host(&t.id), "{}", t.id);
    }
    // Several regions, each its own host as returned.
    let hosts: BTreeSet<_> = tenants.iter().filter_map(|t| t.api_host.clone()).collect();
    assert!(hosts.len() > 3, "{hosts:?}");
    assert_eq!(emu.request_counts().by_family["tenants"], 30);
}

#[tokio::test]
async fn key_pages_20000_usage_items_and_reads_an_empty_month() {
    let w = world(3300);
    let tenant_lines: usize = w.tenants().map(|t| t.usage.len()).sum();
    assert!(tenant_lines <= 20_000, "{tenant_lines}");
    let orphans = 20_000 - tenant_lines;
    let emu = emulator(w.clone(), |c| c.orphan_usage_lines = orphans).await;
    let c = Client::connect(client_cfg(&emu)).await.unwrap();

    let items: Vec<_> = c.usage(ANCHOR.0, ANCHOR.1).try_collect().await.unwrap();
    assert_eq!(items.len(), 20_000);
    assert_eq!(emu.request_counts().by_family["billing"], 20);
    assert_eq!(
        items.iter().filter(|i| i.account_id.is_none()).count(),
        orphans
    );
    // Every tenant's lines arrived, with the world's quantities.
    let mut by_tenant: HashMap<&str, Vec<i64>> = HashMap::new();
    for i in &items {
        if let Some(a) = &i.account_id {
            by_tenant
                .entry(a)
                .or_default()
                .push(i.billable_quantity.unwrap());
        }
        assert_eq!(
            i.billing_end(),
            Some(jiff::civil::date(ANCHOR.0, ANCHOR.1, 31))
        );
    }
    for t in w.tenants() {
        let mut want: Vec<i64> = (0..t.usage.len())
            .map(|row| i64::from(w.monthly_quantity(t, row, ANCHOR.0, ANCHOR.1)))
            .collect();
        let mut got = by_tenant.remove(t.id.as_str()).unwrap_or_default();
        want.sort_unstable();
        got.sort_unstable();
        assert_eq!(got, want, "tenant {}", t.id);
    }
    assert!(by_tenant.is_empty());

    // The month after the anchor has no data: an empty stream, flagged by usage_month.
    let empty: Vec<_> = c.usage(2024, 4).try_collect().await.unwrap();
    assert!(empty.is_empty());
    let month = c.usage_month(2024, 4).await.unwrap();
    assert!(month.no_data && month.items.is_empty());
    let month = c.usage_month(2024, 1).await.unwrap();
    assert!(!month.no_data && month.items.len() == 20_000);
}

#[tokio::test]
async fn usage_filter_by_account() {
    let w = world(40);
    let emu = emulator(w.clone(), |_| {}).await;
    let c = Client::connect(client_cfg(&emu)).await.unwrap();
    let tid = find_tenant(&w, |b| b == WorldBilling::Usage);
    let filter = sophos::UsageFilter {
        account_id: Some(tid.clone()),
        ..Default::default()
    };
    let items: Vec<_> = c
        .usage_with(ANCHOR.0, ANCHOR.1, filter)
        .try_collect()
        .await
        .unwrap();
    let want = w.tenants().find(|t| t.id == tid).unwrap().usage.len();
    assert_eq!(items.len(), want);
    assert!(items.iter().all(|i| i.account_id.as_deref() == Some(&tid)));
}

#[tokio::test]
async fn token_expiry_mid_run_is_transparent() {
    let w = world(60);
    let emu = emulator(w.clone(), |_| {}).await;
    let mut cfg = client_cfg(&emu);
    cfg.page_size.tenants = 5;
    let c = Client::connect(cfg).await.unwrap();
    let mut stream = Box::pin(c.tenants());
    let mut n = 0;
    while let Some(t) = stream.next().await {
        t.unwrap();
        n += 1;
        if n == 12 {
            emu.expire_tokens();
        }
        if n == 31 {
            // Again, later in the run: each time exactly one transparent new sign-in.
            emu.expire_tokens();
        }
    }
    assert_eq!(n, 60);
    let st = c.stats();
    assert_eq!(st.reauthentications, 2);
    assert_eq!(st.token_fetches, 3);
    assert_eq!(st.count_status(401), 2);
}

#[tokio::test]
async fn short_lived_tokens_are_renewed_before_they_expire() {
    let w = world(10);
    let emu = emulator(w.clone(), |c| c.token_lifetime = Duration::from_secs(2)).await;
    let c = Client::connect(client_cfg(&emu)).await.unwrap();
    let tid = w.tenants().next().unwrap().id.clone();
    c.tenant(&tid).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1300)).await;
    c.tenant(&tid).await.unwrap();
    let st = c.stats();
    assert_eq!(st.token_fetches, 2, "renewed at half-life");
    assert_eq!(st.count_status(401), 0);
}

#[tokio::test]
async fn forbidden_tenants_are_typed_and_others_carry_on() {
    let w = world(60);
    let emu = emulator(w.clone(), |_| {}).await;
    let c = Client::connect(client_cfg(&emu)).await.unwrap();
    let tenants = tenants_of(&c).await;
    let by_id: HashMap<_, _> = tenants.iter().map(|t| (t.id.clone(), t)).collect();

    let trial = find_tenant(&w, |b| {
        matches!(b, WorldBilling::Trial | WorldBilling::TermNoAssistance)
    });
    let readable = find_tenant(&w, |b| b == WorldBilling::Usage);
    let made_forbidden = w
        .tenants()
        .filter(|t| t.billing == WorldBilling::Term)
        .map(|t| t.id.clone())
        .next()
        .unwrap();
    emu.set_forbidden(&made_forbidden, true).unwrap();

    for tid in [&trial, &made_forbidden] {
        let r = by_id[tid].tenant_ref().unwrap();
        let err = c
            .alerts(&r, AlertQuery::default())
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err();
        match &err {
            SophosError::ForbiddenTenant {
                tenant_id,
                correlation_id,
                ..
            } => {
                assert_eq!(tenant_id, tid);
                assert!(correlation_id.is_some());
            }
            other => panic!("{other:?}"),
        }
        assert!(err.to_string().contains("no access to this customer"));
    }
    // The readable tenant still works with the same client.
    let r = by_id[&readable].tenant_ref().unwrap();
    c.alerts(&r, AlertQuery::default())
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    // Another partner's tenant.
    let foreign = emu.foreign_tenant_ids()[0].clone();
    let err = c.tenant(&foreign).await.unwrap_err();
    assert!(
        matches!(&err, SophosError::ForbiddenTenant { tenant_id, .. } if *tenant_id == foreign),
        "{err:?}"
    );
    // An unknown tenant is "not found".
    let err = c
        .tenant("00000000-0000-4000-8000-00000000dead")
        .await
        .unwrap_err();
    assert!(matches!(err, SophosError::NotFound { .. }), "{err:?}");
}

#[tokio::test]
async fn alert_paging_and_acknowledge() {
    let w = world(20);
    let emu = emulator(w.clone(), |_| {}).await;
    let mut cfg = client_cfg(&emu);
    cfg.page_size.alerts = 40;
    let c = Client::connect(cfg).await.unwrap();
    let tid = find_tenant(&w, |b| b == WorldBilling::Usage);
    let tenant = c.tenant(&tid).await.unwrap();
    let r = tenant.tenant_ref().unwrap();
    assert_eq!(Some(r.api_host.clone()), emu.tenant_api_host(&tid));

    let kinds = [
        AlertKind::EndpointOutOfDate,
        AlertKind::PuaDetected,
        AlertKind::ThreatDetected,
        AlertKind::FirewallDisconnected,
        AlertKind::LicenceLimit,
    ];
    // Raised a minute apart in the past (advancing the clock instead would also age the token).
    let now = emu.now();
    for i in 0..105 {
        let at = now - jiff::SignedDuration::from_mins(105 - i as i64);
        emu.inject_alert(&tid, AlertSpec::new(kinds[i % kinds.len()]).raised_at(at))
            .unwrap();
    }
    let before = emu
        .request_counts()
        .by_family
        .get("alerts")
        .copied()
        .unwrap_or(0);
    let alerts: Vec<_> = c
        .alerts(&r, AlertQuery::default())
        .try_collect()
        .await
        .unwrap();
    let served = emu.alerts(&tid);
    let want: Vec<_> = served.iter().map(|a| a.id.clone()).collect();
    assert_eq!(
        alerts.iter().map(|a| a.id.clone()).collect::<Vec<_>>(),
        want
    );
    // Field by field against what the emulator served (separate wire types on each side).
    for (a, e) in alerts.iter().zip(&served) {
        assert_eq!(a.alert_type.as_deref(), Some(e.kind.as_str()));
        assert_eq!(
            a.category.as_ref().map(|c| c.as_str()),
            Some(e.category.as_str())
        );
        assert_eq!(
            a.severity.as_ref().map(|c| c.as_str()),
            Some(e.severity.as_str())
        );
        assert_eq!(
            a.product.as_ref().map(|c| c.as_str()),
            Some(e.product.as_str())
        );
        assert_eq!(a.group_key.as_deref(), Some(e.group_key.as_str()));
        assert_eq!(a.description.as_deref(), Some(e.description.as_str()));
        assert_eq!(
            a.raised_at
                .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S%.3f").to_string()),
            Some(e.raised_at.clone())
        );
        let actions: Vec<_> = a
            .allowed_actions
            .iter()
            .map(|x| x.as_str().to_string())
            .collect();
        assert_eq!(actions, e.allowed_actions);
        let agent = |m: &sophos::ManagedAgent| (m.id.clone(), m.agent_type.clone(), m.name.clone());
        assert_eq!(
            a.managed_agent.as_ref().map(agent),
            e.managed_agent.as_ref().map(|m| (
                m.id.clone(),
                Some(m.kind.clone()),
                Some(m.name.clone())
            ))
        );
    }
    assert_eq!(alerts.len(), 105);
    assert_eq!(emu.request_counts().by_family["alerts"] - before, 3);
    for a in &alerts {
        assert!(a.raised_at.is_some() && a.severity.is_some() && a.category.is_some());
        assert_eq!(a.tenant.as_ref().map(|t| t.id.as_str()), Some(tid.as_str()));
    }
    assert!(alerts.iter().any(|a| a.managed_agent.is_none()));

    // Filters reach the emulator.
    let high: Vec<_> = c
        .alerts(
            &r,
            AlertQuery {
                severity: vec![sophos::Severity::High],
                ..AlertQuery::default()
            },
        )
        .try_collect()
        .await
        .unwrap();
    assert!(!high.is_empty() && high.len() < alerts.len());
    assert!(
        high.iter()
            .all(|a| a.severity == Some(sophos::Severity::High))
    );

    // Acknowledge: 201 started, the alert leaves the list, get answers None.
    let target = alerts
        .iter()
        .find(|a| a.allows(&sophos::AlertAction::Acknowledge))
        .unwrap();
    let res = c
        .acknowledge(&r, &target.id, Some("Ticket 12345 closed in ConnectWise"))
        .await
        .unwrap();
    assert_eq!(res.alert_id.as_deref(), Some(target.id.as_str()));
    assert_eq!(res.action, Some(sophos::AlertAction::Acknowledge));
    assert_eq!(emu.acknowledged(), vec![target.id.clone()]);
    let after: Vec<_> = c
        .alerts(&r, AlertQuery::default())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(after.len(), 104);
    assert!(after.iter().all(|a| a.id != target.id));
    assert_eq!(c.alert(&r, &target.id).await.unwrap(), None);
    let other = &after[0];
    assert_eq!(c.alert(&r, &other.id).await.unwrap().as_ref(), Some(other));

    // An action the alert does not allow is a bad request, not retried.
    let err = c
        .alert_action(&r, &other.id, "definitelyNotAnAction", None)
        .await
        .unwrap_err();
    assert!(matches!(err, SophosError::BadRequest { .. }), "{err:?}");
}

#[tokio::test]
async fn retry_after_of_429_is_honoured() {
    let w = world(10);
    let emu = emulator(w.clone(), |_| {}).await;
    let c = Client::connect(client_cfg(&emu)).await.unwrap();
    let tid = w.tenants().next().unwrap().id.clone();
    emu.faults().set_retry_after(Some(1));
    emu.faults().set_rate_limit(Some(1));
    c.tenant(&tid).await.unwrap(); // uses the one slot

    let c2 = c.clone();
    let tid2 = tid.clone();
    let start = Instant::now();
    let call = tokio::spawn(async move { c2.tenant(&tid2).await });
    // Once the emulator has refused a call, lift the limit: the retry must wait Retry-After first.
    while emu.request_counts().rate_limited == 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    emu.faults().set_rate_limit(None);
    let t = call.await.unwrap().unwrap();
    assert_eq!(t.id, tid);
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    let st = c.stats();
    assert_eq!(st.count_status(429), 1);
    assert_eq!(st.retry_after_honoured, 1);
    assert!(st.retry_wait >= Duration::from_secs(1));

    // A limit that never lifts ends in RateLimited after the attempts run out.
    let mut cfg = client_cfg(&emu);
    cfg.retry.max_attempts = 2;
    let c3 = Client::connect(cfg).await.unwrap();
    emu.faults().set_rate_limit(Some(0));
    let err = c3.tenant(&tid).await.unwrap_err();
    assert!(
        matches!(err, SophosError::RateLimited { retry_after: Some(d), .. } if d == Duration::from_secs(1)),
        "{err:?}"
    );
}

#[tokio::test]
async fn injected_server_errors_are_retried() {
    let w = world(300);
    let emu = emulator(w.clone(), |_| {}).await;
    let mut cfg = client_cfg(&emu);
    cfg.page_size.tenants = 10;
    let c = Client::connect(cfg).await.unwrap();
    emu.faults().set_fault_rate(0.3);
    let tenants = tenants_of(&c).await;
    assert_eq!(tenants.len(), 300);
    let st = c.stats();
    assert!(st.count_status(500) > 0);
    assert_eq!(st.retries, st.count_status(500));
}

#[tokio::test]
async fn rate_limiter_is_shared_across_tenants_of_one_host() {
    let w = world(40);
    let emu = emulator(w.clone(), |_| {}).await;
    // A limit the server enforces (far above ours), so the client keeps its own pace.
    emu.faults().set_rate_limit(Some(1_000_000));
    let mut cfg = client_cfg(&emu);
    cfg.rate_limit = sophos::RateLimit::per_minute(300);
    let c = Client::connect(cfg).await.unwrap();
    let usage: Vec<TenantRef> = tenants_of(&c)
        .await
        .iter()
        .filter(|t| t.billing_type == Some(sophos::BillingType::Usage))
        .filter_map(Tenant::tenant_ref)
        .collect();
    // The limit is per host (each region is its own origin): tenants of the busiest region.
    let mut by_host: std::collections::BTreeMap<&str, Vec<&TenantRef>> = Default::default();
    for r in &usage {
        by_host.entry(r.api_host.as_str()).or_default().push(r);
    }
    let refs: Vec<TenantRef> = by_host
        .into_values()
        .max_by_key(Vec::len)
        .expect("usage tenants")
        .into_iter()
        .take(4)
        .cloned()
        .collect();
    assert!(refs.len() >= 2, "several tenants on one host");
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let (c, r) = (c.clone(), refs[i % refs.len()].clone());
        tasks.push(tokio::spawn(async move {
            c.alerts_page(&r, &AlertQuery::default(), None).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    // 40 calls at 300 a minute (a burst of 30, then 4.5/s): at least 2 s, whichever tenants
    // they were for (the tenant listing before them came out of the same burst).
    assert!(
        start.elapsed() >= Duration::from_millis(2000),
        "{:?}",
        start.elapsed()
    );
    assert!(c.stats().rate_limit_waits >= 8);
}

#[tokio::test]
async fn wrong_secret_is_a_plain_auth_error() {
    let w = world(5);
    let emu = emulator(w, |_| {}).await;
    let mut cfg = client_cfg(&emu);
    cfg.client_secret = "not-the-secret-1234".to_string().into();
    let err = Client::connect(cfg).await.unwrap_err();
    assert!(matches!(err, SophosError::Auth { .. }), "{err:?}");
    assert!(err.is_credentials_problem());
    let text = err.to_string();
    assert!(text.contains("rejected the API credentials"), "{text}");
    assert!(!text.contains("not-the-secret-1234"));
    assert!(!format!("{err:?}").contains("not-the-secret-1234"));
}

#[tokio::test]
async fn token_success_extras_are_tolerated() {
    let w = world(5);
    let emu = emulator(w, |c| c.token_success_extras = true).await;
    let c = Client::connect(client_cfg(&emu)).await.unwrap();
    assert_eq!(c.tenants().count().await, 5);
    let counts: BTreeMap<_, _> = emu.request_counts().by_family;
    assert_eq!(counts["token"], 1);
}

#[tokio::test]
async fn open_alerts_are_plain_values() {
    let w = world(10);
    let emu = emulator(w.clone(), |_| {}).await;
    let c = Client::connect(client_cfg(&emu)).await.unwrap();
    let tid = find_tenant(&w, |b| b == WorldBilling::Usage);
    let r = c.tenant(&tid).await.unwrap().tenant_ref().unwrap();
    let now = emu.now();
    for (i, kind) in [
        AlertKind::EndpointOutOfDate,
        AlertKind::FirewallDisconnected,
        AlertKind::LicenceLimit,
    ]
    .into_iter()
    .enumerate()
    {
        let at = now - jiff::SignedDuration::from_mins(10 - i as i64);
        emu.inject_alert(&tid, AlertSpec::new(kind).raised_at(at))
            .unwrap();
    }
    let open: Vec<sophos::OpenAlert> = c
        .open_alerts(&r, AlertQuery::default())
        .try_collect()
        .await
        .unwrap();
    let served = emu.alerts(&tid);
    assert_eq!(open.len(), served.len());
    for (a, e) in open.iter().zip(&served) {
        assert_eq!(a.id, e.id);
        assert_eq!(a.alert_type.as_deref(), Some(e.kind.as_str()));
        assert_eq!(a.severity.as_deref(), Some(e.severity.as_str()));
        assert_eq!(a.product.as_deref(), Some(e.product.as_str()));
        assert_eq!(a.category.as_deref(), Some(e.category.as_str()));
        assert_eq!(a.description.as_deref(), Some(e.description.as_str()));
        assert_eq!(
            a.can_acknowledge,
            e.allowed_actions.iter().any(|x| x == "acknowledge")
        );
        assert_eq!(
            a.device
                .as_ref()
                .map(|d| (d.id.clone(), d.kind.clone(), d.name.clone())),
            e.managed_agent.as_ref().map(|m| (
                m.id.clone(),
                Some(m.kind.clone()),
                Some(m.name.clone())
            ))
        );
    }
    assert!(open.iter().any(|a| a.device.is_none()));
    let first = &open[0];
    assert_eq!(
        c.open_alert(&r, &first.id).await.unwrap().as_ref(),
        Some(first)
    );
    let ackable = open.iter().find(|a| a.can_acknowledge).unwrap();
    c.acknowledge(&r, &ackable.id, None).await.unwrap();
    assert_eq!(c.open_alert(&r, &ackable.id).await.unwrap(), None);
}

#[tokio::test]
async fn tenant_summaries_are_plain_values() {
    let w = world(12);
    let emu = emulator(w.clone(), |_| {}).await;
    let c = Client::connect(client_cfg(&emu)).await.unwrap();
    let full = tenants_of(&c).await;
    let summaries: Vec<sophos::TenantSummary> = c.tenant_summaries().try_collect().await.unwrap();
    assert_eq!(summaries.len(), full.len());
    for (s, t) in summaries.iter().zip(&full) {
        assert_eq!(s.id, t.id);
        assert_eq!(s.name, t.display_name());
        assert_eq!(
            s.billing_type.as_deref(),
            t.billing_type.as_ref().map(|b| b.as_str())
        );
        assert_eq!(s.api_host, t.api_host);
        assert_eq!(s.data_region, t.data_region);
        assert_eq!(s.status, t.status);
        assert_eq!(s.tenant_ref(), t.tenant_ref());
    }
    assert!(
        summaries
            .iter()
            .any(|s| s.billing_type.as_deref() == Some("usage"))
    );
}

#[test]
fn alert_filter_names() {
    assert!(sophos::is_alert_severity("high"));
    assert!(!sophos::is_alert_severity("urgent"));
    assert!(sophos::is_alert_product("firewall"));
    assert!(!sophos::is_alert_product("toaster"));
    assert!(sophos::is_alert_category("malware"));
    assert!(!sophos::is_alert_category("weather"));
    let q = AlertQuery::default().named_filters(
        &["high".into()],
        &["endpoint".into(), "server".into()],
        &[],
    );
    assert_eq!(q.severity, vec![sophos::Severity::High]);
    assert_eq!(
        q.product,
        vec![sophos::Product::Endpoint, sophos::Product::Server]
    );
    assert!(q.category.is_empty());
}

#[tokio::test]
async fn named_filters_reach_the_emulator() {
    let w = world(10);
    let emu = emulator(w.clone(), |_| {}).await;
    let c = Client::connect(client_cfg(&emu)).await.unwrap();
    let tid = find_tenant(&w, |b| b == WorldBilling::Usage);
    let r = c.tenant(&tid).await.unwrap().tenant_ref().unwrap();
    let now = emu.now();
    for i in 0..30 {
        let kind = [
            AlertKind::EndpointOutOfDate,
            AlertKind::ThreatDetected,
            AlertKind::FirewallDisconnected,
        ][i % 3];
        let at = now - jiff::SignedDuration::from_mins(40 - i as i64);
        emu.inject_alert(&tid, AlertSpec::new(kind).raised_at(at))
            .unwrap();
    }
    let all: Vec<sophos::OpenAlert> = c
        .open_alerts(&r, AlertQuery::default())
        .try_collect()
        .await
        .unwrap();
    let high: Vec<sophos::OpenAlert> = c
        .open_alerts(
            &r,
            AlertQuery::default().named_filters(&["high".into()], &[], &[]),
        )
        .try_collect()
        .await
        .unwrap();
    assert!(!high.is_empty() && high.len() < all.len());
    assert!(high.iter().all(|a| a.severity.as_deref() == Some("high")));
}

#[tokio::test]
async fn the_pace_is_skipped_while_the_server_enforces_no_limit() {
    let w = world(40);
    let emu = emulator(w.clone(), |_| {}).await;
    let mut cfg = client_cfg(&emu);
    cfg.rate_limit = sophos::RateLimit::per_minute(60);
    let c = Client::connect(cfg).await.unwrap();
    let tenants = tenants_of(&c).await;
    let r = tenants
        .iter()
        .filter(|t| t.billing_type == Some(sophos::BillingType::Usage))
        .find_map(Tenant::tenant_ref)
        .expect("a usage tenant");
    let start = Instant::now();
    for _ in 0..20 {
        c.alerts_page(&r, &AlertQuery::default(), None)
            .await
            .unwrap();
    }
    // 60 a minute would take about 15 s for these; the emulator says it limits nothing.
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    // Once it enforces a limit, the client's own pace is back.
    emu.faults().set_rate_limit(Some(1_000_000));
    c.alerts_page(&r, &AlertQuery::default(), None)
        .await
        .unwrap();
    let start = Instant::now();
    for _ in 0..10 {
        c.alerts_page(&r, &AlertQuery::default(), None)
            .await
            .unwrap();
    }
    // A burst of 6, then one every 1.1 s.
    assert!(
        start.elapsed() >= Duration::from_secs(3),
        "{:?}",
        start.elapsed()
    );
}
