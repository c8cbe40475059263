//! Ticket sync against both emulators: exactly once through faults and crashes, consolidation,
//! recurrence, clears, two-way close, unmapped and forbidden tenants, summary limits.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use engine::ids::TicketId;
use engine::job::{self, Door, Hooks, Job, RunReport as _, StartOptions};
use engine::mapping::{
    MappingInput, RefreshOptions, refresh_companies, refresh_tenants, set_mapping,
};
use engine::store::{CoreStore as _, MappingStore as _, TicketState, TicketStore as _};
use engine::tickets::{self, Recurrence, SettingsInput, TicketError};
use sandbox::connectwise::{
    Access, CwConfig as CwEmuConfig, CwEmulator, Level, RoleFunction, Table,
};
use sandbox::sophos::{AlertKind, AlertSpec, SophosConfig as SoEmuConfig, SophosEmulator};
use sandbox::world::{World, WorldConfig};
use serde_json::Value;
use testkit::TestStore;

struct Env {
    t: TestStore,
    cw_emu: CwEmulator,
    so_emu: SophosEmulator,
    cw: connectwise::Client,
    sophos: sophos::Client,
    /// (tenant id, tenant name, company id) of the mapped customers.
    mapped: Vec<(String, String, i64)>,
    /// Tenants without a company.
    unmapped: Vec<(String, String)>,
}

fn fast_cw_retry() -> connectwise::RetryPolicy {
    connectwise::RetryPolicy {
        max_attempts: 4,
        base_delay: Duration::from_millis(10),
        max_delay: Duration::from_millis(100),
        max_retry_after: Duration::from_secs(5),
        jitter: true,
    }
}

async fn cw_client(emu: &CwEmulator, timeout: Duration) -> connectwise::Client {
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
    cfg.timeout = timeout;
    cfg.retry = fast_cw_retry();
    connectwise::Client::connect(cfg).await.expect("cw connect")
}

/// Tenants and companies into the mapping store through the refresh's own ingest (one kind after
/// the other).
async fn load_directory(
    store: &engine::store::Store,
    sophos: &sophos::Client,
    cw: &connectwise::Client,
) {
    let now = jiff::Timestamp::now();
    let opts = RefreshOptions::default();
    refresh_tenants(store, sophos.tenant_summaries(), now, &opts)
        .await
        .expect("tenants stored");
    refresh_companies(store, cw.company_summaries(), now, &opts)
        .await
        .expect("companies stored");
}

async fn env_with(customers: usize, cw_timeout: Duration) -> Env {
    let world = Arc::new(World::generate(WorldConfig {
        seed: 42,
        customers,
        extra_companies: 0,
        extra_tenants: 1,
        usage_anchor: (2026, 11),
    }));
    let mut so_cfg = SoEmuConfig::new(world.clone());
    so_cfg.alert_rate = 0.0;
    so_cfg.alert_backlog = Duration::ZERO;
    let so_emu = SophosEmulator::spawn(so_cfg)
        .await
        .expect("sophos emulator");
    let cw_emu = CwEmulator::spawn(CwEmuConfig::new(world.clone()))
        .await
        .expect("cw emulator");
    let creds = so_emu.credentials();
    let mut scfg = sophos::SophosConfig::new(creds.client_id, creds.client_secret);
    scfg.token_url = so_emu.token_url();
    scfg.global_url = so_emu.global_url();
    scfg.rate_limit = sophos::RateLimit::Off;
    scfg.retry.base_delay = Duration::from_millis(5);
    let sophos = sophos::Client::connect(scfg).await.expect("sophos connect");
    let cw = cw_client(&cw_emu, cw_timeout).await;
    let t = TestStore::sqlite().await;
    load_directory(&t.store, &sophos, &cw).await;
    let companies = t.store.list_companies(true).await.expect("companies");
    let mut mapped = Vec::new();
    let mut unmapped = Vec::new();
    for c in &world.customers {
        let Some(tenant) = &c.tenant else { continue };
        // Every tenant readable unless a test says otherwise.
        so_emu.set_forbidden(&tenant.id, false).expect("tenant");
        match &c.company {
            Some(co) => {
                let company = companies
                    .iter()
                    .find(|x| x.identifier == co.identifier)
                    .expect("company refreshed");
                set_mapping(
                    &t.store,
                    "test",
                    &MappingInput {
                        ticket_sync: Some(true),
                        ..MappingInput::new(tenant.id.as_str().into(), company.id)
                    },
                )
                .await
                .expect("map");
                mapped.push((tenant.id.clone(), tenant.name.clone(), company.id.get()));
            }
            None => unmapped.push((tenant.id.clone(), tenant.name.clone())),
        }
    }
    let input = SettingsInput {
        board: Some("Security Alerts".into()),
        auto: true,
        ..SettingsInput::default()
    };
    tickets::update_settings(&t.store, &cw, &input, "test")
        .await
        .expect("settings");
    Env {
        t,
        cw_emu,
        so_emu,
        cw,
        sophos,
        mapped,
        unmapped,
    }
}

async fn env() -> Env {
    env_with(3, Duration::from_secs(20)).await
}

impl Env {
    fn opts() -> StartOptions {
        StartOptions::new(Door::Cli, "test")
    }

    async fn cycle(&self) -> tickets::CycleReport {
        self.cycle_with(&Self::opts()).await.expect("cycle")
    }

    /// One cycle through the harness, as every door runs it.
    async fn cycle_with(&self, opts: &StartOptions) -> Result<tickets::CycleReport, TicketError> {
        let run = job::start(&self.t.store, Job::Tickets, opts.clone())
            .await
            .expect("the run starts");
        let r = tickets::run_cycle(&self.t.store, &self.cw, &self.sophos, &run).await;
        run.finish(&r.run_end()).await.expect("the run is recorded");
        r
    }

    async fn set(&self, input: SettingsInput) {
        tickets::update_settings(&self.t.store, &self.cw, &input, "test")
            .await
            .expect("settings");
    }

    fn raise(&self, tenant: usize, kind: AlertKind, device: usize) -> String {
        self.so_emu
            .inject_alert(
                &self.mapped[tenant].0,
                AlertSpec::new(kind).on_device(device),
            )
            .expect("inject")
    }

    /// Tickets whose externalXRef is `alert`.
    fn tickets_for(&self, alert: &str) -> Vec<Value> {
        self.cw_emu.tickets_by_xref(alert)
    }

    fn ticket_id(&self, alert: &str) -> i64 {
        let t = self.tickets_for(alert);
        assert_eq!(t.len(), 1, "exactly one ticket for {alert}: {t:?}");
        t[0]["id"].as_i64().expect("id")
    }

    /// Every ticket created by ticket sync (externalXRef set), by xref.
    fn our_tickets(&self) -> BTreeMap<String, usize> {
        let mut m = BTreeMap::new();
        for t in self.cw_emu.records(Table::Tickets) {
            if let Some(x) = t["externalXRef"].as_str() {
                *m.entry(x.to_owned()).or_insert(0) += 1;
            }
        }
        m
    }

    fn assert_no_duplicates(&self) {
        for (x, n) in self.our_tickets() {
            assert_eq!(n, 1, "alert {x} has {n} tickets");
        }
    }

    fn grant_close(&self) {
        let member = self.cw_emu.credentials().member_id;
        self.cw_emu.set_role_level(
            member,
            RoleFunction::CloseServiceTickets,
            Level::Edit,
            Access::All,
        );
    }
}

fn note_texts(emu: &CwEmulator, ticket: i64) -> Vec<String> {
    emu.notes(ticket)
        .iter()
        .filter_map(|n| n["text"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_alerts_become_tickets_with_content() {
    let e = env().await;
    let a = e.raise(0, AlertKind::RealTimeProtectionDisabled, 0);
    let low = e.raise(1, AlertKind::UpdateFailure, 0); // low: not selected by default
    let r = e.cycle().await;
    assert_eq!(r.totals.created, 1, "{r:?}");
    // The severity filter is applied by Sophos: the low alert is not even listed.
    assert_eq!(r.totals.listed, 1);
    assert!(e.tickets_for(&low).is_empty());
    let id = e.ticket_id(&a);
    let t = e.cw_emu.record(Table::Tickets, id).expect("ticket");
    let summary = t["summary"].as_str().expect("summary");
    assert!(
        summary.starts_with("[High] Real-time protection disabled on "),
        "{summary}"
    );
    assert!(summary.ends_with(&e.mapped[0].1), "{summary}");
    assert_eq!(t["company"]["id"].as_i64(), Some(e.mapped[0].2));
    assert_eq!(t["board"]["name"].as_str(), Some("Security Alerts"));
    assert_eq!(t["status"]["name"].as_str(), Some("New"));
    assert_eq!(
        t["priority"]["name"].as_str(),
        Some("Priority 1 - Emergency Response")
    );
    let hidden = e.cw_emu.ticket_hidden_fields(id).expect("hidden");
    let desc = hidden["initialDescription"].as_str().expect("description");
    for needle in [
        "Customer (tenant): ",
        "Device: ",
        "Type: Event::Endpoint::RealTimeProtectionDisabled",
        "Category: protection",
        "Severity: High",
        "Raised: ",
        "Device in Sophos Central: https://central.sophos.com/",
        &a,
    ] {
        assert!(desc.contains(needle), "{needle} missing from {desc}");
    }
    // A second cycle changes nothing.
    let r2 = e.cycle().await;
    assert_eq!(r2.totals.created + r2.totals.noted, 0, "{r2:?}");
    e.assert_no_duplicates();
    // Audited, and the customer status says so.
    let audit =
        e.t.store
            .list_audit(&engine::store::AuditFilter {
                action: Some("ticket.create".into()),
                ..Default::default()
            })
            .await
            .unwrap();
    assert_eq!(audit.len(), 1);
    let st =
        e.t.store
            .list_customer_status(Some("tickets"))
            .await
            .unwrap();
    assert!(
        st.iter()
            .any(|s| s.tenant_id == e.mapped[0].0 && s.ok && s.counts["open_alerts_ticketed"] == 1),
        "{st:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_ticket_per_alert_through_server_errors() {
    let e = env().await;
    let mut alerts = Vec::new();
    for i in 0..3 {
        alerts.push(e.raise(i, AlertKind::RealTimeProtectionDisabled, 0));
        alerts.push(e.raise(i, AlertKind::ThreatDetected, 1));
    }
    e.cw_emu.faults().set_fault_rate(0.35);
    for _ in 0..12 {
        let _ = e.cycle_with(&Env::opts()).await;
        if alerts.iter().all(|a| e.tickets_for(a).len() == 1)
            && e.t
                .store
                .owned_tickets_in_state(TicketState::Open)
                .await
                .unwrap()
                .len()
                == alerts.len()
        {
            break;
        }
    }
    e.cw_emu.faults().set_fault_rate(0.0);
    e.cycle().await;
    for a in &alerts {
        assert_eq!(e.tickets_for(a).len(), 1, "alert {a}");
    }
    e.assert_no_duplicates();
    assert!(
        e.cw_emu.request_counts().injected_faults > 0,
        "the fault knob did inject 500s"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_post_that_commits_makes_one_ticket() {
    let e = env_with(2, Duration::from_millis(700)).await;
    let a = e.raise(0, AlertKind::RealTimeProtectionDisabled, 0);
    e.cw_emu
        .faults()
        .set_slow_commit(Some(Duration::from_millis(1500)));
    let r = e.cycle_with(&Env::opts()).await;
    e.cw_emu.faults().set_slow_commit(None);
    // Whatever the first cycle saw, the next one settles it, with one ticket.
    let _ = r;
    e.cycle().await;
    assert_eq!(e.tickets_for(&a).len(), 1);
    e.assert_no_duplicates();
    assert_eq!(
        e.t.store.alert_link(&a).await.unwrap().unwrap().ticket_id,
        Some(TicketId::new(e.ticket_id(&a)))
    );
}

/// Each of `alerts` is named by exactly one of the ticket's notes (its description is the first).
fn named_once(e: &Env, ticket: i64, alerts: &[&String], k: usize) {
    let texts = note_texts(&e.cw_emu, ticket);
    for a in alerts {
        let n = texts.iter().filter(|t| t.contains(a.as_str())).count();
        assert_eq!(n, 1, "k={k}: alert {a} is named by {n} notes of #{ticket}");
    }
}

/// Phase A: a create carrying a repeat of the same cycle; phase A2: two repeats in one note;
/// phase B: clear -> resolve, and close in CW -> acknowledge.
async fn crash_scenario(k: usize) -> Option<usize> {
    let e = env_with(2, Duration::from_secs(20)).await;
    e.grant_close();
    let a1 = e.raise(0, AlertKind::RealTimeProtectionDisabled, 0);
    // Same device and type in the same cycle: into the new ticket's description.
    let a2 = e.raise(0, AlertKind::RealTimeProtectionDisabled, 0);
    let b1 = e.raise(1, AlertKind::ThreatDetected, 0);
    let crash = Env::opts().hooks(Hooks {
        stop_after: Some(k),
        ..Hooks::default()
    });
    let first = e.cycle_with(&crash).await;
    let interrupted_a = matches!(first, Err(TicketError::Interrupted));
    e.cycle().await;
    assert_eq!(e.tickets_for(&a1).len(), 1, "k={k}");
    assert!(
        e.tickets_for(&a2).is_empty(),
        "k={k}: a repeat makes no ticket"
    );
    assert_eq!(e.tickets_for(&b1).len(), 1, "k={k}");
    let ta = e.ticket_id(&a1);
    named_once(&e, ta, &[&a2], k);
    e.assert_no_duplicates();

    // Phase A2: two repeats of an open ticket's problem in one cycle: one note.
    let a3 = e.raise(0, AlertKind::RealTimeProtectionDisabled, 0);
    let a4 = e.raise(0, AlertKind::RealTimeProtectionDisabled, 0);
    let notes_before = note_texts(&e.cw_emu, ta).len();
    let mid = e.cycle_with(&crash).await;
    let interrupted_a2 = matches!(mid, Err(TicketError::Interrupted));
    e.cycle().await;
    named_once(&e, ta, &[&a2, &a3, &a4], k);
    if !interrupted_a2 {
        assert_eq!(
            note_texts(&e.cw_emu, ta).len(),
            notes_before + 1,
            "k={k}: one note for both repeats"
        );
    }

    // Phase B.
    for a in [&a1, &a2, &a3, &a4] {
        e.so_emu.clear_alert(&e.mapped[0].0, a);
    }
    let tb = e.ticket_id(&b1);
    assert!(e.cw_emu.close_ticket(tb));
    let second = e.cycle_with(&crash).await;
    let interrupted_b = matches!(second, Err(TicketError::Interrupted));
    e.cycle().await;
    let resolution_notes = e
        .cw_emu
        .notes(ta)
        .iter()
        .filter(|n| n["resolutionFlag"] == Value::Bool(true))
        .count();
    assert_eq!(resolution_notes, 1, "k={k}: one resolution note");
    assert_eq!(
        e.cw_emu.record(Table::Tickets, ta).unwrap()["closedFlag"],
        Value::Bool(true),
        "k={k}"
    );
    assert_eq!(
        e.so_emu.acknowledged(),
        vec![b1.clone()],
        "k={k}: acknowledged once"
    );
    e.assert_no_duplicates();
    (interrupted_a || interrupted_a2 || interrupted_b).then_some(k)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_at_every_step_then_rerun_makes_no_duplicates() {
    let mut k = 0;
    while crash_scenario(k).await.is_some() {
        k += 1;
        assert!(k < 200, "the crash hook never ran out of steps");
    }
    assert!(k >= 8, "the scenario has many steps ({k})");
    println!("crash points tested: {k}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeats_of_one_cycle_make_one_write_per_ticket() {
    let e = env().await;
    let first: Vec<String> = (0..4)
        .map(|_| e.raise(0, AlertKind::PuaDetected, 0))
        .collect();
    let other = e.raise(0, AlertKind::ThreatDetected, 0);
    let before = e.cw_emu.faults().counts().writes;
    let r = e.cycle().await;
    assert_eq!((r.totals.created, r.totals.noted), (2, 3), "{r:?}");
    assert_eq!(
        e.cw_emu.faults().counts().writes - before,
        2,
        "two tickets, and the three repeats in the first one's description"
    );
    // Alerts raised in the same instant are taken in id order: any of the four may be first.
    let primary: Vec<&String> = first
        .iter()
        .filter(|a| !e.tickets_for(a).is_empty())
        .collect();
    assert_eq!(primary.len(), 1, "one ticket for the four: {primary:?}");
    let t = e.ticket_id(primary[0]);
    assert_eq!(e.tickets_for(&other).len(), 1);
    let desc = e.cw_emu.ticket_hidden_fields(t).unwrap()["initialDescription"]
        .as_str()
        .unwrap()
        .to_owned();
    for a in &first {
        assert!(desc.contains(a.as_str()), "{a} in {desc}");
    }
    // Repeats arriving later, several in one cycle: one note naming each.
    let more: Vec<String> = (0..3)
        .map(|_| e.raise(0, AlertKind::PuaDetected, 0))
        .collect();
    let notes = note_texts(&e.cw_emu, t).len();
    let before = e.cw_emu.faults().counts().writes;
    let r = e.cycle().await;
    assert_eq!((r.totals.created, r.totals.noted), (0, 3), "{r:?}");
    assert_eq!(e.cw_emu.faults().counts().writes - before, 1);
    let texts = note_texts(&e.cw_emu, t);
    assert_eq!(texts.len(), notes + 1);
    let last = texts.last().unwrap();
    assert!(last.contains("3 more times"), "{last}");
    for a in &more {
        assert!(last.contains(a.as_str()), "{a} in {last}");
    }
    // Nothing new: nothing written.
    let before = e.cw_emu.faults().counts().writes;
    e.cycle().await;
    assert_eq!(e.cw_emu.faults().counts().writes, before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn repeats_are_noted_and_recurrence_opens_a_new_ticket_referencing_the_old() {
    let e = env().await;
    // The seed role may not close tickets: clear moves to the open "Resolved" status and says why.
    let a1 = e.raise(0, AlertKind::PuaDetected, 0);
    e.cycle().await;
    let a2 = e.raise(0, AlertKind::PuaDetected, 0);
    let r = e.cycle().await;
    assert_eq!((r.totals.created, r.totals.noted), (0, 1), "{r:?}");
    let t1 = e.ticket_id(&a1);
    assert!(note_texts(&e.cw_emu, t1).iter().any(|t| t.contains(&a2)));
    e.so_emu.clear_alert(&e.mapped[0].0, &a1);
    let r = e.cycle().await;
    assert_eq!(r.totals.resolved, 0, "one of two alerts still open: {r:?}");
    assert_eq!(r.totals.cleared, 1);
    e.so_emu.clear_alert(&e.mapped[0].0, &a2);
    let r = e.cycle().await;
    assert_eq!(r.totals.resolved, 1, "{r:?}");
    assert!(
        r.warnings
            .iter()
            .any(|w| w.contains("Close Service Tickets")),
        "{:?}",
        r.warnings
    );
    let t = e.cw_emu.record(Table::Tickets, t1).unwrap();
    assert_eq!(t["status"]["name"].as_str(), Some("Resolved"));
    assert_eq!(t["closedFlag"], Value::Bool(false));
    assert!(
        e.cw_emu
            .notes(t1)
            .iter()
            .any(|n| n["resolutionFlag"] == Value::Bool(true))
    );
    // Recurrence: a new ticket that names the old one.
    let a3 = e.raise(0, AlertKind::PuaDetected, 0);
    let r = e.cycle().await;
    assert_eq!(r.totals.created, 1, "{r:?}");
    let t3 = e.ticket_id(&a3);
    assert_ne!(t3, t1);
    let desc = e.cw_emu.ticket_hidden_fields(t3).unwrap()["initialDescription"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(desc.contains(&format!("#{t1}")), "{desc}");
    let st =
        e.t.store
            .owned_ticket(TicketId::new(t3))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(st.previous_ticket_id, Some(TicketId::new(t1)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recurrence_reopens_when_set() {
    let e = env().await;
    e.grant_close();
    e.set(SettingsInput {
        recurrence: Some(Recurrence::Reopen),
        ..SettingsInput::default()
    })
    .await;
    let a1 = e.raise(0, AlertKind::Isolation, 0);
    e.cycle().await;
    let t1 = e.ticket_id(&a1);
    e.so_emu.clear_alert(&e.mapped[0].0, &a1);
    e.cycle().await;
    assert_eq!(
        e.cw_emu.record(Table::Tickets, t1).unwrap()["closedFlag"],
        Value::Bool(true),
        "closed when permitted"
    );
    let a2 = e.raise(0, AlertKind::Isolation, 0);
    let r = e.cycle().await;
    assert_eq!((r.totals.created, r.totals.reopened), (0, 1), "{r:?}");
    assert!(e.tickets_for(&a2).is_empty());
    let t = e.cw_emu.record(Table::Tickets, t1).unwrap();
    assert_eq!(t["status"]["name"].as_str(), Some("New"));
    assert_eq!(t["closedFlag"], Value::Bool(false));
    assert!(
        note_texts(&e.cw_emu, t1)
            .iter()
            .any(|n| n.starts_with("Reopened") && n.contains(&a2))
    );
    assert_eq!(
        e.t.store
            .owned_ticket(TicketId::new(t1))
            .await
            .unwrap()
            .unwrap()
            .state,
        TicketState::Open
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticket_closed_in_connectwise_acknowledges_the_alert() {
    let e = env().await;
    let a = e.raise(1, AlertKind::HealthStatus, 0);
    e.cycle().await;
    let t = e.ticket_id(&a);
    assert!(e.cw_emu.close_ticket(t));
    let r = e.cycle().await;
    assert_eq!(
        (r.totals.closed_in_connectwise, r.totals.acknowledged),
        (1, 1),
        "{r:?}"
    );
    assert_eq!(e.so_emu.acknowledged(), vec![a.clone()]);
    let action = e
        .so_emu
        .actions()
        .into_iter()
        .find(|x| x.alert_id == a)
        .expect("action");
    assert_eq!(
        action.message.as_deref(),
        Some(format!("Ticket {t} closed in ConnectWise").as_str())
    );
    assert!(e.so_emu.alerts(&e.mapped[1].0).iter().all(|x| x.id != a));
    let audit =
        e.t.store
            .list_audit(&engine::store::AuditFilter {
                action: Some("alert.acknowledge".into()),
                ..Default::default()
            })
            .await
            .unwrap();
    assert_eq!(audit.len(), 1);
    // Nothing more happens afterwards (no resolve of a closed ticket, no second ack).
    let r = e.cycle().await;
    assert_eq!(r.totals.acknowledged + r.totals.resolved, 0, "{r:?}");
    // Turned off: a closed ticket leaves the alert alone.
    e.set(SettingsInput {
        acknowledge_on_close: Some(false),
        ..SettingsInput::default()
    })
    .await;
    let b = e.raise(1, AlertKind::ThreatDetected, 1);
    e.cycle().await;
    assert!(e.cw_emu.close_ticket(e.ticket_id(&b)));
    e.cycle().await;
    assert_eq!(e.so_emu.acknowledged(), vec![a]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unmapped_tenant_goes_to_the_fallback_company_or_is_counted() {
    let e = env().await;
    let (tenant, name) = e.unmapped[0].clone();
    // Without a fallback the alert is skipped, counted and reported.
    e.set(SettingsInput {
        skip_unmapped: Some(true),
        ..SettingsInput::default()
    })
    .await;
    let a = e
        .so_emu
        .inject_alert(
            &tenant,
            AlertSpec::new(AlertKind::RealTimeProtectionDisabled),
        )
        .unwrap();
    let r = e.cycle().await;
    assert_eq!(r.totals.skipped_unmapped, 1, "{r:?}");
    assert!(e.tickets_for(&a).is_empty());
    let st =
        e.t.store
            .list_customer_status(Some("tickets"))
            .await
            .unwrap();
    let s = st
        .iter()
        .find(|s| s.tenant_id == tenant)
        .expect("status of the unmapped tenant");
    assert!(
        !s.ok && s.error.as_deref().unwrap_or("").contains("skipped"),
        "{s:?}"
    );
    assert!(
        s.advice.as_deref().unwrap_or("").contains("map set"),
        "{s:?}"
    );
    // With a fallback company, the next alert gets a ticket there, with the prefix.
    let fallback = e.mapped[2].2;
    e.set(SettingsInput {
        fallback_company: Some(fallback.to_string()),
        ..SettingsInput::default()
    })
    .await;
    let b = e
        .so_emu
        .inject_alert(&tenant, AlertSpec::new(AlertKind::ThreatDetected))
        .unwrap();
    e.cycle().await;
    let id = e.ticket_id(&b);
    let t = e.cw_emu.record(Table::Tickets, id).unwrap();
    assert_eq!(t["company"]["id"].as_i64(), Some(fallback));
    let summary = t["summary"].as_str().unwrap();
    assert!(
        summary.starts_with(&format!("[Unmapped: {name}] [High]")),
        "{summary}"
    );
    // A bad fallback is refused with a clear message.
    let err = tickets::update_settings(
        &e.t.store,
        &e.cw,
        &SettingsInput {
            fallback_company: Some("NoSuchCompany".into()),
            ..SettingsInput::default()
        },
        "test",
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("NoSuchCompany"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_tenant_is_marked_and_others_proceed() {
    let e = env().await;
    let (bad, bad_name, _) = e.mapped[0].clone();
    let a = e.raise(0, AlertKind::RealTimeProtectionDisabled, 0);
    let b = e.raise(1, AlertKind::RealTimeProtectionDisabled, 0);
    e.so_emu.set_forbidden(&bad, true).unwrap();
    let r = e.cycle().await;
    assert_eq!(r.outcome, engine::store::RunOutcome::Partial);
    assert!(e.tickets_for(&a).is_empty());
    assert_eq!(e.tickets_for(&b).len(), 1);
    let rep = r.tenants.iter().find(|t| t.tenant_id == bad).unwrap();
    assert!(rep.forbidden && !rep.ok);
    assert!(
        rep.advice
            .as_deref()
            .unwrap()
            .contains("Partner Assistance"),
        "{rep:?}"
    );
    let cursor = e.t.store.ticket_cursor(&bad).await.unwrap().unwrap();
    assert!(cursor.forbidden && cursor.next_retry_at.is_some());
    let st =
        e.t.store
            .list_customer_status(Some("tickets"))
            .await
            .unwrap();
    let s = st.iter().find(|s| s.tenant_id == bad).unwrap();
    assert!(!s.ok && s.advice.as_deref().unwrap().contains(&bad_name));
    // Not polled again until the retry time.
    let before = e.so_emu.request_counts().total;
    let r = e.cycle().await;
    assert!(
        r.tenants
            .iter()
            .find(|t| t.tenant_id == bad)
            .unwrap()
            .waiting
    );
    let _ = before;
    // Once the retry is due and access is back, its alert gets a ticket.
    e.so_emu.set_forbidden(&bad, false).unwrap();
    let mut c = e.t.store.ticket_cursor(&bad).await.unwrap().unwrap();
    c.next_retry_at = Some(jiff::Timestamp::now() - Duration::from_secs(1));
    e.t.store.put_ticket_cursor(&c).await.unwrap();
    e.cycle().await;
    assert_eq!(e.tickets_for(&a).len(), 1);
    assert!(
        !e.t.store
            .ticket_cursor(&bad)
            .await
            .unwrap()
            .unwrap()
            .forbidden
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_with_multibyte_names_fit_the_limit() {
    let e = env().await;
    let (tenant, _, _) = e.mapped[0].clone();
    let mut rec = e.t.store.get_tenant(&tenant).await.unwrap().unwrap();
    rec.name = "Ribeirão Três Rios Açaí Distribuição de Alimentos Orgânicos Ltda 🍇🍍 Filial São José dos Campos 👩‍👩‍👧".into();
    e.t.store
        .upsert_tenants(&[rec.clone()], jiff::Timestamp::now())
        .await
        .unwrap();
    let a = e.raise(0, AlertKind::RealTimeProtectionDisabled, 0);
    e.cycle().await;
    let t = e.cw_emu.record(Table::Tickets, e.ticket_id(&a)).unwrap();
    let s = t["summary"].as_str().unwrap();
    assert!(
        s.chars().count() <= 100 && s.encode_utf16().count() <= 100,
        "{s}"
    );
    assert!(s.ends_with('…'), "{s}");
    assert!(s.contains("Ribeirão Três"), "{s}");
    assert!(!s.contains('\u{FFFD}'));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_writes_nothing() {
    let e = env().await;
    let a = e.raise(0, AlertKind::RealTimeProtectionDisabled, 0);
    let before = e.cw_emu.snapshot();
    let r = e.cycle_with(&Env::opts().dry_run(true)).await.unwrap();
    assert!(r.tenants.iter().any(|t| {
        t.plan
            .iter()
            .any(|op| matches!(op, tickets::Op::CreateTicket { alert_id, .. } if *alert_id == a))
    }));
    assert_eq!(e.cw_emu.snapshot(), before);
    assert!(e.t.store.alert_link(&a).await.unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_are_checked_against_connectwise() {
    let e = env().await;
    let err = tickets::update_settings(
        &e.t.store,
        &e.cw,
        &SettingsInput {
            board: Some("Nope".into()),
            ..SettingsInput::default()
        },
        "test",
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("Nope") && err.contains("Security Alerts"),
        "{err}"
    );
    let err = tickets::update_settings(
        &e.t.store,
        &e.cw,
        &SettingsInput {
            new_status: Some("Closed".into()),
            ..SettingsInput::default()
        },
        "test",
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("closed status"), "{err}");
    let err = tickets::update_settings(
        &e.t.store,
        &e.cw,
        &SettingsInput {
            priorities: vec![("high".into(), "Urgent!".into())],
            ..SettingsInput::default()
        },
        "test",
    )
    .await
    .unwrap_err()
    .to_string();
    assert!(err.contains("Priority 1 - Emergency Response"), "{err}");
    // By id works too; the stored settings keep id and name.
    let s = tickets::load_settings(&e.t.store).await.unwrap();
    let board = s.board.clone().unwrap();
    e.set(SettingsInput {
        board: Some(board.id.to_string()),
        clear_status: Some("completed".into()),
        ..SettingsInput::default()
    })
    .await;
    let s = tickets::load_settings(&e.t.store).await.unwrap();
    assert_eq!(s.clear_status.unwrap().name, "Completed");
    assert_eq!(s.severities, vec!["high", "medium"]);
}

/// ConnectWise calls to `service/tickets` (list, search, get, notes, writes) counted by the emulator.
fn ticket_calls(emu: &CwEmulator) -> u64 {
    emu.request_counts()
        .by_family
        .get("service/tickets")
        .copied()
        .unwrap_or(0)
}

/// Issue 8: the closed-ticket check costs a bounded number of calls however many tickets are open,
/// and a close made after the previous check is still found and its alert acknowledged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn closed_ticket_check_stays_cheap_with_many_open_tickets() {
    const KINDS: [AlertKind; 10] = [
        AlertKind::HealthStatus,
        AlertKind::EndpointOutOfDate,
        AlertKind::ServerOutOfDate,
        AlertKind::RebootRequired,
        AlertKind::RealTimeProtectionDisabled,
        AlertKind::ThreatDetected,
        AlertKind::PuaDetected,
        AlertKind::Isolation,
        AlertKind::PolicyNonCompliance,
        AlertKind::RuntimeDetection,
    ];
    const OPEN: usize = 300;
    let e = env_with(16, Duration::from_secs(20)).await;
    // One group (tenant + device + type) per alert, so each makes its own ticket.
    let mut alerts = Vec::new();
    'fill: for tenant in 0..e.mapped.len() {
        for device in 0..3 {
            for kind in KINDS {
                if alerts.len() == OPEN {
                    break 'fill;
                }
                alerts.push(e.raise(tenant, kind, device));
            }
        }
    }
    assert_eq!(alerts.len(), OPEN, "not enough mapped tenants in the world");
    let r = e.cycle().await;
    assert_eq!(r.totals.created, OPEN as u64, "{:?}", r.totals);

    // Without a stored check time (the first run) every open ticket is checked, 100 per query: the
    // cost of every cycle before this change.
    assert!(
        e.t.store
            .delete_setting("tickets.closed_check_at")
            .await
            .unwrap()
    );
    let before = ticket_calls(&e.cw_emu);
    let r = e.cycle().await;
    let full = ticket_calls(&e.cw_emu) - before;
    assert_eq!(full, 3, "{r:?}");
    assert_eq!(r.api_calls.connectwise, full);

    // The tickets were made long ago: only the close below can bring one into the next check.
    let long_ago = (jiff::Timestamp::now() - Duration::from_secs(2 * 3600))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    for a in &alerts {
        let id = e.ticket_id(a);
        assert!(e.cw_emu.update_record(Table::Tickets, id, |t| {
            t["_info"]["lastUpdated"] = Value::String(long_ago.clone());
        }));
    }
    // A technician closes one ticket in ConnectWise, after the previous check. (Through the API as a
    // second member, which stamps `_info.lastUpdated` as ConnectWise does; the emulator's
    // `close_ticket` helper does not stamp it.)
    let closed_alert = alerts[0].clone();
    let closed_id = e.ticket_id(&closed_alert);
    let board = e.cw_emu.record(Table::Tickets, closed_id).unwrap()["board"]["id"]
        .as_i64()
        .unwrap();
    let closed_status = e
        .cw_emu
        .records(Table::BoardStatuses)
        .into_iter()
        .find(|s| {
            s["board"]["id"].as_i64() == Some(board) && s["closedStatus"] == Value::Bool(true)
        })
        .and_then(|s| s["id"].as_i64())
        .expect("a closed status on the board");
    let tech = e
        .cw_emu
        .add_member("ktech", sandbox::connectwise::Role::full());
    let mut cfg = connectwise::CwConfig::new(
        e.cw_emu.site_url(),
        tech.company_id.clone(),
        tech.public_key.clone(),
        tech.private_key.clone(),
        tech.client_id.clone(),
    );
    cfg.allow_http = true;
    let person = connectwise::Client::connect(cfg).await.expect("cw connect");
    let t = person
        .close_ticket(closed_id, closed_status)
        .await
        .expect("closed by a person");
    assert_eq!(t.closed_flag, Some(true));

    let before = ticket_calls(&e.cw_emu);
    let r = e.cycle().await;
    let steady = ticket_calls(&e.cw_emu) - before;
    assert!(steady <= 2, "{steady} calls: {r:?}");
    assert_eq!(r.api_calls.connectwise, steady);
    assert_eq!(
        (r.totals.closed_in_connectwise, r.totals.acknowledged),
        (1, 1),
        "{:?}",
        r.totals
    );
    assert_eq!(e.so_emu.acknowledged(), vec![closed_alert]);
    assert_eq!(
        e.t.store
            .owned_ticket(TicketId::new(closed_id))
            .await
            .unwrap()
            .unwrap()
            .state,
        TicketState::Closed
    );
    assert_eq!(
        e.t.store
            .owned_tickets_in_state(TicketState::Open)
            .await
            .unwrap()
            .len(),
        OPEN - 1
    );
    println!(
        "closed-ticket check with {OPEN} open tickets: {full} ConnectWise calls per cycle without a \
         stored check time (as before), {steady} after"
    );
}

/// A close found while its tenant cannot be handled is kept: it is acknowledged once the tenant is
/// back, though no later "changed since" query returns that ticket again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_found_while_tenant_waits_is_handled_later() {
    let e = env().await;
    let (tenant, _, _) = e.mapped[1].clone();
    let a = e.raise(1, AlertKind::HealthStatus, 0);
    e.cycle().await;
    let t = e.ticket_id(&a);
    assert!(e.cw_emu.close_ticket(t));
    e.so_emu.set_forbidden(&tenant, true).unwrap();
    let r = e.cycle().await;
    assert_eq!(r.totals.closed_in_connectwise, 0, "{r:?}");
    assert!(e.so_emu.acknowledged().is_empty());
    // Long ago by ConnectWise's clock: outside every later "changed since" window.
    let long_ago = (jiff::Timestamp::now() - Duration::from_secs(2 * 3600))
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string();
    assert!(e.cw_emu.update_record(Table::Tickets, t, |r| {
        r["_info"]["lastUpdated"] = Value::String(long_ago.clone());
    }));
    e.cycle().await; // still waiting
    e.so_emu.set_forbidden(&tenant, false).unwrap();
    let mut c = e.t.store.ticket_cursor(&tenant).await.unwrap().unwrap();
    c.next_retry_at = Some(jiff::Timestamp::now() - Duration::from_secs(1));
    e.t.store.put_ticket_cursor(&c).await.unwrap();
    let r = e.cycle().await;
    assert_eq!(
        (r.totals.closed_in_connectwise, r.totals.acknowledged),
        (1, 1),
        "{r:?}"
    );
    assert_eq!(e.so_emu.acknowledged(), vec![a]);
    // Handled, and nothing of ours is open any more: no query at all.
    let r = e.cycle().await;
    assert_eq!(r.api_calls.connectwise, 0, "{r:?}");
}

/// What a person sees of ticket sync in ConnectWise, independent of alert ids: per ticket its
/// company, summary, status, whether it is closed and how many notes it has, sorted.
fn ticket_view(emu: &CwEmulator) -> Vec<(i64, String, String, bool, usize)> {
    let mut v: Vec<_> = emu
        .records(Table::Tickets)
        .iter()
        .filter(|t| t["externalXRef"].is_string())
        .map(|t| {
            let id = t["id"].as_i64().expect("id");
            (
                t["company"]["id"].as_i64().unwrap_or(0),
                t["summary"].as_str().unwrap_or("").to_owned(),
                t["status"]["name"].as_str().unwrap_or("").to_owned(),
                t["closedFlag"] == Value::Bool(true),
                emu.notes(id).len(),
            )
        })
        .collect();
    v.sort();
    v
}

/// Cycles until one has no failed tenant (at most 8); returns how many it took.
async fn cycle_until_clean(e: &Env) -> usize {
    for n in 1..=8 {
        if let Ok(r) = e.cycle_with(&Env::opts()).await
            && r.failed() == 0
        {
            return n;
        }
    }
    panic!("tenants still failing after 8 cycles");
}

/// The alerts of the campaign: per customer a protection alert and a threat, and a repeat of the
/// protection alert (a consolidation note) on every other customer. Returns the threats.
fn raise_campaign_alerts(e: &Env) -> Vec<(String, String)> {
    let mut threats = Vec::new();
    for i in 0..e.mapped.len() {
        e.raise(i, AlertKind::RealTimeProtectionDisabled, 0);
        threats.push((
            e.mapped[i].0.clone(),
            e.raise(i, AlertKind::ThreatDetected, 1),
        ));
        if i % 2 == 0 {
            e.raise(i, AlertKind::RealTimeProtectionDisabled, 0);
        }
    }
    threats
}

/// Two phases: the alerts become tickets (with repeats noted), then the threats clear and their
/// tickets are resolved. Returns the cycles needed.
async fn campaign_phases(e: &Env) -> usize {
    let threats = raise_campaign_alerts(e);
    let mut cycles = cycle_until_clean(e).await;
    for (tenant, alert) in &threats {
        assert!(e.so_emu.clear_alert(tenant, alert), "{alert} cleared");
    }
    cycles += cycle_until_clean(e).await;
    cycles
}

/// Ticket sync's half of the fault campaign: the same alerts and clears once without faults and
/// once under 5 % random 500s on both vendors, 429s with `Retry-After` on ticket POSTs, slow POSTs
/// that commit after the client gave up, a Sophos token expiring and the ConnectWise codebase
/// moving mid-run. ConnectWise must end as in the fault-free run: one ticket per alert, the same
/// notes and statuses. A third run under 10 % random 500s alone must take at most twice the
/// fault-free wall. Prints the figures the README's reliability section quotes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_campaign_ends_in_the_fault_free_state() {
    let customers = 10;
    let clean = env_with(customers, Duration::from_secs(20)).await;
    let started = std::time::Instant::now();
    campaign_phases(&clean).await;
    let clean_wall = started.elapsed();
    let want = ticket_view(&clean.cw_emu);
    assert!(want.len() >= 2 * customers - 2, "enough tickets: {want:?}");
    assert!(want.iter().any(|t| t.4 > 0), "some repeats were noted");

    let e = env_with(customers, Duration::from_millis(400)).await;
    for f in [e.cw_emu.faults(), e.so_emu.faults()] {
        f.set_fault_rate(0.05);
        f.set_retry_after(Some(1));
    }
    e.cw_emu.faults().inject(
        sandbox::faults::Injection::new("service/tickets", 429)
            .method(http::Method::POST)
            .times(2),
    );
    e.so_emu
        .faults()
        .inject(sandbox::faults::Injection::new("common/v1/alerts", 503).times(1));
    e.cw_emu
        .faults()
        .set_slow_commit(Some(Duration::from_millis(600)));
    let (so, cw) = (e.so_emu.clone(), e.cw_emu.clone());
    let midway = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        so.expire_tokens();
        tokio::time::sleep(Duration::from_millis(800)).await;
        cw.faults().set_slow_commit(None);
        cw.move_codebase("v2026_1");
    });
    let started = std::time::Instant::now();
    let cycles = campaign_phases(&e).await;
    let campaign_wall = started.elapsed();
    midway.await.expect("the mid-run faults ran");
    e.assert_no_duplicates();
    assert_eq!(
        ticket_view(&e.cw_emu),
        want,
        "ConnectWise differs from the fault-free run"
    );
    let (cw_counts, so_counts, stats) = (
        e.cw_emu.request_counts(),
        e.so_emu.request_counts(),
        e.cw.stats(),
    );
    assert!(cw_counts.answered_by_a_fault() > 0 && so_counts.answered_by_a_fault() > 0);

    let e5 = env_with(customers, Duration::from_secs(60)).await;
    e5.cw_emu.faults().set_fault_rate(0.10);
    let started = std::time::Instant::now();
    campaign_phases(&e5).await;
    let fivexx_wall = started.elapsed();
    e5.assert_no_duplicates();
    assert_eq!(
        ticket_view(&e5.cw_emu),
        want,
        "ConnectWise differs from the fault-free run"
    );
    eprintln!(
        "fault campaign (ticket sync, {customers} customers, {} tickets): faults answered \
         ConnectWise {} of {} calls, Sophos {} of {}; ConnectWise retries {}, POST look-ups {}, \
         codebase rediscoveries {}; {cycles} cycle(s), wall {:.2} s; 10 % 500s alone: {} of {} \
         calls, wall {:.2} s; fault-free wall {:.2} s",
        want.len(),
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
    assert!(
        fivexx_wall <= clean_wall * 2 + Duration::from_millis(500),
        "10 % 500s took {fivexx_wall:?}, fault-free {clean_wall:?}"
    );
}
