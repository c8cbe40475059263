//! The doctor against the ConnectWise emulator: each level of each role row, taken away alone, makes
//! exactly that row fail with the fix in ConnectWise's words; restoring it makes the doctor pass; and
//! a run never changes the emulated ConnectWise.

use engine::connections::ConnectionError;
use engine::doctor::{self, CheckStatus, DoctorOptions, DoctorReport, RoleLevel, role_row};
use engine::store::ConnectionKind;
use rstest::rstest;
use sandbox::connectwise::{Access, CwConfig, CwEmulator, Level, Role, RoleFunction};

async fn emulator() -> CwEmulator {
    CwEmulator::spawn(CwConfig::demo(7)).await.unwrap()
}

fn client_cfg(emu: &CwEmulator) -> connectwise::CwConfig {
    let c = emu.credentials();
    let mut cfg = connectwise::CwConfig::new(
        emu.site_url(),
        c.company_id,
        c.public_key,
        c.private_key,
        c.client_id,
    );
    cfg.allow_http = true;
    cfg.rate_limit = connectwise::RateLimit::Off;
    cfg
}

async fn run(emu: &CwEmulator, opts: &DoctorOptions) -> DoctorReport {
    doctor::run_with_configs(
        Ok(client_cfg(emu)),
        Err(ConnectionError::Missing(ConnectionKind::Sophos)),
        opts,
    )
    .await
}

/// Failed ConnectWise checks (the Sophos side is not connected in these tests).
fn cw_failures(r: &DoctorReport) -> Vec<String> {
    r.failures()
        .filter(|c| c.id.starts_with("cw."))
        .map(|c| c.id.clone())
        .collect()
}

fn table(r: &DoctorReport) -> String {
    r.checks
        .iter()
        .map(|c| {
            format!(
                "{} {} {:?}: {}\n",
                c.status.symbol(),
                c.id,
                c.status,
                c.detail
            )
        })
        .collect()
}

#[tokio::test]
async fn seed_role_passes_every_required_row() {
    let emu = emulator().await;
    let r = run(&emu, &DoctorOptions::default()).await;
    assert!(
        cw_failures(&r)
            .iter()
            .all(|id| id == "cw.role.contacts.inquire"),
        "{}",
        table(&r)
    );
    for row in doctor::ROLE_ROWS
        .iter()
        .filter(|r| r.need == doctor::Need::Seed)
    {
        for (level, _) in row.levels {
            let c = r.check(&doctor::check_id(row, *level)).unwrap();
            if row.key == "table_setup" && *level == RoleLevel::Inquire {
                assert_eq!(c.status, CheckStatus::Unverified, "{}", table(&r));
                assert!(c.detail.contains("any API member"));
            } else {
                assert_eq!(c.status, CheckStatus::Pass, "{}: {}", c.id, c.detail);
            }
        }
    }
    assert_eq!(r.check("cw.connection").unwrap().status, CheckStatus::Pass);
    assert_eq!(
        r.check("cw.role.member").unwrap().status,
        CheckStatus::Unverified
    );
    assert_eq!(
        r.check("clock").unwrap().status,
        CheckStatus::Pass,
        "{}",
        table(&r)
    );
    // Optional rows: Contacts is missing from the seed role, but the feature is off.
    let contacts = r.check("cw.role.contacts.inquire").unwrap();
    assert_eq!(contacts.status, CheckStatus::Fail);
    assert!(!contacts.required);
    let close = r.check("cw.role.close_service_tickets.edit").unwrap();
    assert_eq!(close.status, CheckStatus::Unverified);
    // Sophos is not connected: the report is not ok because of that alone.
    assert!(!r.ok);
    assert!(r.failures().all(|c| c.id == "sophos.token" || !c.required));
}

#[rstest]
#[case(
    RoleFunction::CompanyMaintenance,
    Level::Inquire,
    "company_maintenance",
    RoleLevel::Inquire
)]
#[case(RoleFunction::Agreements, Level::Add, "agreements", RoleLevel::Add)]
#[case(RoleFunction::Agreements, Level::Edit, "agreements", RoleLevel::Edit)]
#[case(
    RoleFunction::Agreements,
    Level::Inquire,
    "agreements",
    RoleLevel::Inquire
)]
#[case(
    RoleFunction::ProductCatalog,
    Level::Add,
    "product_catalog",
    RoleLevel::Add
)]
#[case(
    RoleFunction::ProductCatalog,
    Level::Edit,
    "product_catalog",
    RoleLevel::Edit
)]
#[case(
    RoleFunction::ProductCatalog,
    Level::Inquire,
    "product_catalog",
    RoleLevel::Inquire
)]
#[case(RoleFunction::TableSetup, Level::Add, "table_setup", RoleLevel::Add)]
#[case(RoleFunction::TableSetup, Level::Edit, "table_setup", RoleLevel::Edit)]
#[case(
    RoleFunction::MemberMaintenance,
    Level::Inquire,
    "member_maintenance",
    RoleLevel::Inquire
)]
#[case(
    RoleFunction::ServiceTickets,
    Level::Add,
    "service_tickets",
    RoleLevel::Add
)]
#[case(
    RoleFunction::ServiceTickets,
    Level::Edit,
    "service_tickets",
    RoleLevel::Edit
)]
#[case(
    RoleFunction::ServiceTickets,
    Level::Inquire,
    "service_tickets",
    RoleLevel::Inquire
)]
#[case(
    RoleFunction::ApiReports,
    Level::Inquire,
    "api_reports",
    RoleLevel::Inquire
)]
#[tokio::test]
async fn missing_level_fails_exactly_that_row(
    #[case] function: RoleFunction,
    #[case] level: Level,
    #[case] key: &str,
    #[case] want: RoleLevel,
) {
    let emu = emulator().await;
    let member = emu.credentials().member_id;
    let opts = DoctorOptions::default();
    let id = doctor::check_id(role_row(key).unwrap(), want);

    emu.set_role_level(member, function, level, Access::None);
    let r = run(&emu, &opts).await;
    let required_failures: Vec<_> = r
        .failures()
        .filter(|c| c.required && c.id.starts_with("cw."))
        .map(|c| c.id.clone())
        .collect();
    assert_eq!(required_failures, vec![id.clone()], "{}", table(&r));
    let c = r.check(&id).unwrap();
    let row = role_row(key).unwrap();
    let fix = format!(
        "System > Security Roles > (the API member's role) > {} > {}: set {} = All",
        row.module,
        row.function,
        want.label()
    );
    assert_eq!(c.fix.as_deref(), Some(fix.as_str()));
    assert!(
        c.detail.contains("You do not have security permission"),
        "{}",
        c.detail
    );
    assert!(!r.ok);

    emu.set_role_level(member, function, level, Access::All);
    let r = run(&emu, &opts).await;
    assert_eq!(
        r.check(&id).unwrap().status,
        CheckStatus::Pass,
        "{}",
        table(&r)
    );
    assert!(
        cw_failures(&r)
            .iter()
            .all(|f| f == "cw.role.contacts.inquire"),
        "{}",
        table(&r)
    );
}

/// ConnectWise answers setup-table reads to anyone, so Table Setup's Inquire Level cannot be proven:
/// the row says so instead of guessing, and nothing else fails.
#[tokio::test]
async fn table_setup_inquire_is_unverified_not_guessed() {
    let emu = emulator().await;
    let member = emu.credentials().member_id;
    emu.set_role_level(
        member,
        RoleFunction::TableSetup,
        Level::Inquire,
        Access::None,
    );
    let r = run(&emu, &DoctorOptions::default()).await;
    let c = r.check("cw.role.table_setup.inquire").unwrap();
    assert_eq!(c.status, CheckStatus::Unverified);
    assert!(c.fix.is_none());
    assert!(
        cw_failures(&r)
            .iter()
            .all(|f| f == "cw.role.contacts.inquire")
    );
}

#[tokio::test]
async fn optional_rows_fail_the_run_only_when_their_feature_is_on() {
    let emu = emulator().await;
    let on = DoctorOptions {
        ticket_contacts: true,
        auto_resolve: true,
        ..DoctorOptions::default()
    };
    let r = run(&emu, &on).await;
    let c = r.check("cw.role.contacts.inquire").unwrap();
    assert!(c.required);
    assert_eq!(c.status, CheckStatus::Fail);
    assert_eq!(
        c.fix.as_deref(),
        Some(
            "System > Security Roles > (the API member's role) > Companies > Contacts: set Inquire Level = All"
        )
    );
    let close = r.check("cw.role.close_service_tickets.edit").unwrap();
    assert!(close.required);
    assert_eq!(close.status, CheckStatus::Unverified);

    let member = emu.credentials().member_id;
    emu.set_role_level(member, RoleFunction::Contacts, Level::Inquire, Access::All);
    let r = run(&emu, &on).await;
    assert_eq!(
        r.check("cw.role.contacts.inquire").unwrap().status,
        CheckStatus::Pass
    );
    assert!(cw_failures(&r).is_empty(), "{}", table(&r));
}

/// Whatever the role, a doctor run leaves every record as it was: with an admin role every Add and
/// Edit probe reaches validation, which is where a careless probe would write.
#[rstest]
#[case::seed(Role::seed())]
#[case::admin(Role::full())]
#[case::nothing(Role::empty("Nothing"))]
#[tokio::test]
async fn doctor_writes_nothing(#[case] role: Role) {
    let emu = emulator().await;
    let member = emu.credentials().member_id;
    emu.set_role(member, role);
    let before = emu.snapshot();
    let opts = DoctorOptions {
        ticket_contacts: true,
        auto_resolve: true,
        ..DoctorOptions::default()
    };
    let r = run(&emu, &opts).await;
    assert_eq!(r.check("cw.connection").unwrap().status, CheckStatus::Pass);
    assert!(
        emu.snapshot() == before,
        "doctor changed data:\n{}",
        table(&r)
    );
    let counts = emu.request_counts();
    assert!(counts.writes > 0, "the Add/Edit probes were sent");
    assert_eq!(counts.successful_writes, 0, "no write was accepted");
}

#[tokio::test]
async fn wrong_keys_are_named_and_every_row_is_skipped() {
    let emu = emulator().await;
    let mut cfg = client_cfg(&emu);
    cfg.private_key = "WrongPrivateKey1".to_string().into();
    let r = doctor::run_with_configs(
        Ok(cfg),
        Err(ConnectionError::Missing(ConnectionKind::Sophos)),
        &DoctorOptions::default(),
    )
    .await;
    let c = r.check("cw.connection").unwrap();
    assert_eq!(c.status, CheckStatus::Fail);
    assert!(
        c.detail.contains("public/private key pair was refused"),
        "{}",
        c.detail
    );
    assert!(c.detail.contains("System > Members > API Members"));
    assert_eq!(
        r.check("cw.role.agreements.add").unwrap().status,
        CheckStatus::Skipped
    );
}

/// A server that does restrict setup-table reads (a role whose Table Setup is customised) answers 403:
/// then the row fails with its fix, and passes again (as unverified) once the level is restored.
#[tokio::test]
async fn table_setup_inquire_fails_when_the_server_refuses_the_read() {
    let emu = emulator().await;
    emu.set_setup_reads_need_inquire(true);
    let member = emu.credentials().member_id;
    emu.set_role_level(
        member,
        RoleFunction::TableSetup,
        Level::Inquire,
        Access::None,
    );
    let r = run(&emu, &DoctorOptions::default()).await;
    let c = r.check("cw.role.table_setup.inquire").unwrap();
    assert_eq!(c.status, CheckStatus::Fail, "{}", table(&r));
    assert_eq!(
        c.fix.as_deref(),
        Some(
            "System > Security Roles > (the API member's role) > System > Table Setup: set Inquire Level = All"
        )
    );
    let mut failing = cw_failures(&r);
    failing.retain(|f| f != "cw.role.contacts.inquire");
    assert_eq!(
        failing,
        vec!["cw.role.table_setup.inquire".to_owned()],
        "{}",
        table(&r)
    );

    emu.set_role_level(
        member,
        RoleFunction::TableSetup,
        Level::Inquire,
        Access::All,
    );
    let r = run(&emu, &DoctorOptions::default()).await;
    let c = r.check("cw.role.table_setup.inquire").unwrap();
    assert_eq!(c.status, CheckStatus::Unverified, "{}", table(&r));
    assert!(
        cw_failures(&r)
            .iter()
            .all(|f| f == "cw.role.contacts.inquire"),
        "{}",
        table(&r)
    );
}
