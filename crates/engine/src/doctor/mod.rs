//! `centralbridge doctor`: checks, live and without changing any data, that both connections work and
//! that the ConnectWise API member's security role has every level the integration needs.
//!
//! How each level is proven (see [`connectwise::probe`]): Inquire by a one-record read; Add by posting
//! an empty record, which ConnectWise refuses on validation *after* the role check; Edit by a JSON
//! Patch `test` op that fails, on an existing record. A 403 `Security` means the level is missing;
//! an answer that cannot tell either way makes the row "unverified" with the reason.

pub mod messages;
pub mod rows;

use std::time::Duration;

use connectwise::probe::ProbeAnswer;
use connectwise::{CwConfig, CwError};
use serde::Serialize;
use sophos::{AlertQuery, SophosConfig, SophosError};

use crate::connections::{self, ConnectionError};
use crate::ids::BillingType;
use crate::store::Store;
pub use rows::{Need, Probe, ROLE_ROWS, RoleLevel, RoleRow, check_id, role_row};

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum CheckStatus {
    /// The check proved what it tests: the connection works or the role level is granted.
    Pass,
    /// The check found a problem: a connection or read that fails, a refused level, a skewed clock.
    Fail,
    /// The check ran but its answer cannot prove the level either way; `detail` says why.
    Unverified,
    /// Not run (its prerequisite failed, or the feature is off).
    Skipped,
}

impl CheckStatus {
    /// ✓ ✗ ? –
    pub fn symbol(self) -> &'static str {
        match self {
            CheckStatus::Pass => "✓",
            CheckStatus::Fail => "✗",
            CheckStatus::Unverified => "?",
            CheckStatus::Skipped => "–",
        }
    }
}

/// Which side a check is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Area {
    /// The ConnectWise connection and the API member's security-role levels.
    Connectwise,
    /// The Sophos Central sign-in and what the partner credential can read.
    Sophos,
    /// This machine's clock compared with the Date header ConnectWise sends.
    Clock,
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Stable id, e.g. `cw.role.agreements.add`, `sophos.token`, `clock`.
    pub id: String,
    /// Which side the check is about, for grouping in the report.
    pub area: Area,
    /// The one-line heading shown for the check, e.g. "Finance > Agreements: Add Level".
    pub title: String,
    /// A failed required check makes the doctor fail (exit code 1).
    pub required: bool,
    /// Whether the check passed, failed, could not tell, or did not run.
    pub status: CheckStatus,
    /// What the check found, or why it was skipped or is unverified; shown after the title.
    pub detail: String,
    /// The exact fix, for a failure.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

/// Everything the doctor found.
#[derive(Debug, Clone, Serialize)]
pub struct DoctorReport {
    /// True when no required check failed; false makes `doctor` exit with code 1.
    pub ok: bool,
    /// Every check in report order: ConnectWise connection and role rows, the clock, then Sophos.
    pub checks: Vec<Check>,
}

impl DoctorReport {
    fn new(checks: Vec<Check>) -> Self {
        let ok = !checks
            .iter()
            .any(|c| c.required && c.status == CheckStatus::Fail);
        Self { ok, checks }
    }

    /// The check with `id`.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.iter().find(|c| c.id == id)
    }

    /// Checks that failed (required or not).
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| c.status == CheckStatus::Fail)
    }
}

/// Which optional features are on (their role rows become required).
#[derive(Debug, Clone)]
pub struct DoctorOptions {
    /// Close tickets when their alert clears: needs Close Service Tickets.
    pub auto_resolve: bool,
    /// Set a contact on tickets: needs Contacts.
    pub ticket_contacts: bool,
    /// Clock difference above which the clock check fails (not required).
    pub clock_tolerance: Duration,
}

impl Default for DoctorOptions {
    fn default() -> Self {
        Self {
            auto_resolve: false,
            ticket_contacts: false,
            clock_tolerance: Duration::from_secs(60),
        }
    }
}

impl DoctorOptions {
    fn required(&self, need: Need) -> bool {
        match need {
            Need::Seed => true,
            Need::AutoResolve => self.auto_resolve,
            Need::TicketContacts => self.ticket_contacts,
        }
    }
}

/// Runs every check with the connections stored in `store`.
pub async fn run_doctor(store: &Store, opts: &DoctorOptions) -> DoctorReport {
    let cw = connections::connectwise_config(store).await;
    let so = connections::sophos_config(store).await;
    run_with_configs(cw, so, opts).await
}

/// Runs every check with explicit configurations (a missing connection is reported as a failed
/// check telling which `connect` command to run).
pub async fn run_with_configs(
    cw: Result<CwConfig, ConnectionError>,
    sophos: Result<SophosConfig, ConnectionError>,
    opts: &DoctorOptions,
) -> DoctorReport {
    let (mut checks, sophos_checks) =
        tokio::join!(check_connectwise(cw, opts), check_sophos(sophos));
    checks.extend(sophos_checks);
    DoctorReport::new(checks)
}

fn check(
    id: impl Into<String>,
    area: Area,
    title: impl Into<String>,
    required: bool,
    status: CheckStatus,
    detail: impl Into<String>,
    fix: Option<String>,
) -> Check {
    Check {
        id: id.into(),
        area,
        title: title.into(),
        required,
        status,
        detail: detail.into(),
        fix,
    }
}

fn skipped_rows(opts: &DoctorOptions, why: &str) -> Vec<Check> {
    let mut out = vec![member_row()];
    for row in ROLE_ROWS {
        for (level, _) in row.levels {
            out.push(check(
                check_id(row, *level),
                Area::Connectwise,
                messages::role_title(row, *level),
                opts.required(row.need),
                CheckStatus::Skipped,
                why,
                None,
            ));
        }
    }
    out.push(check(
        "clock",
        Area::Clock,
        messages::CLOCK_TITLE,
        false,
        CheckStatus::Skipped,
        why,
        None,
    ));
    out
}

fn member_row() -> Check {
    check(
        "cw.role.member",
        Area::Connectwise,
        messages::MEMBER_TITLE,
        false,
        CheckStatus::Unverified,
        messages::MEMBER_REASON,
        None,
    )
}

/// The ConnectWise connection, every role row and the clock.
pub async fn check_connectwise(
    cfg: Result<CwConfig, ConnectionError>,
    opts: &DoctorOptions,
) -> Vec<Check> {
    let conn = |status, detail: String, fix: Option<String>| {
        check(
            "cw.connection",
            Area::Connectwise,
            messages::CW_CONNECTION_TITLE,
            true,
            status,
            detail,
            fix,
        )
    };
    let mut cfg = match cfg {
        Ok(c) => c,
        Err(e) => {
            let mut out = vec![conn(
                CheckStatus::Fail,
                e.to_string(),
                Some("centralbridge connect connectwise".into()),
            )];
            out.extend(skipped_rows(opts, messages::CW_SKIPPED));
            return out;
        }
    };
    cfg.retry = connectwise::RetryPolicy::none();
    let settings_like = connections::ConnectWiseSettings {
        site: cfg.site.clone(),
        company_id: cfg.company_id.clone(),
        public_key: cfg.public_key.clone(),
        client_id: cfg.client_id.clone(),
        codebase: cfg.codebase_override.clone(),
        allow_http: cfg.allow_http,
    };
    // The same test `connect` runs, so a failure names the value at fault.
    if let Err(p) = connections::test_connectwise(&settings_like, &cfg.private_key).await {
        let mut out = vec![conn(
            CheckStatus::Fail,
            p.message,
            Some("centralbridge connect connectwise".into()),
        )];
        out.extend(skipped_rows(opts, messages::CW_SKIPPED));
        return out;
    }
    let client = match connectwise::Client::connect(cfg).await {
        Ok(c) => c,
        Err(e) => {
            let mut out = vec![conn(CheckStatus::Fail, e.to_string(), None)];
            out.extend(skipped_rows(opts, messages::CW_SKIPPED));
            return out;
        }
    };
    let info = client.probe_read("system/info").await;
    let mut out = vec![
        conn(
            CheckStatus::Pass,
            messages::cw_connected(client.origin(), &client.codebase()),
            None,
        ),
        member_row(),
    ];
    for row in ROLE_ROWS {
        out.extend(check_row(&client, row, opts).await);
    }
    out.push(bulk_check(&client).await);
    out.push(clock_check(&info, opts));
    out
}

/// Whether usage sync can read additions in bulk through the `AgreementAdditions` report (not
/// required: without it, one read per agreement, under the same rate limit).
async fn bulk_check(client: &connectwise::Client) -> Check {
    let (status, detail, fix) = match client.additions_report_support().await {
        Ok(connectwise::BulkSupport::Usable { prices }) => {
            (CheckStatus::Pass, messages::bulk_ok(prices), None)
        }
        Ok(connectwise::BulkSupport::Unusable(why)) => {
            let fix = why.split_once("Fix: ").map(|(_, f)| f.to_owned());
            (CheckStatus::Fail, why, fix)
        }
        Err(e) => (CheckStatus::Unverified, e.to_string(), None),
    };
    check(
        "cw.bulk_additions",
        Area::Connectwise,
        messages::BULK_TITLE,
        false,
        status,
        detail,
        fix,
    )
}

async fn check_row(
    client: &connectwise::Client,
    row: &RoleRow,
    opts: &DoctorOptions,
) -> Vec<Check> {
    let required = opts.required(row.need);
    let read = match row.read_path() {
        Some(p) => Some(client.probe_read(p).await),
        None => None,
    };
    let read_title = messages::role_title(row, RoleLevel::Inquire);
    // A record for the Edit probes: from the read probe, or from the row's sample list (setup tables
    // answer reads to anyone, so that read proves nothing and is not judged).
    let first_id = match (&read, row.sample) {
        (Some(a), _) => a.first_id,
        (None, Some(sample)) => client.probe_read(sample).await.first_id,
        (None, None) => None,
    };
    let mut out = Vec::new();
    for (level, probe) in row.levels {
        let level = *level;
        let (status, detail) = match probe {
            Probe::Read(_) => match &read {
                Some(a) => judge(a, level, row, None),
                None => (CheckStatus::Unverified, messages::inconclusive("no read")),
            },
            Probe::Add(path) => {
                let path = match (path.split_once("/{id}"), first_id) {
                    (Some(_), Some(id)) => path.replace("{id}", &id.to_string()),
                    // No record to hang the probe on: post to the parent collection instead (same row).
                    (Some((parent, _)), None) => parent.to_owned(),
                    (None, _) => (*path).to_owned(),
                };
                let a = client.probe_add(&path).await;
                judge(&a, level, row, Some(&path))
            }
            Probe::Edit(path) => {
                let (path, missing) = match first_id {
                    Some(id) => (path.replace("{id}", &id.to_string()), false),
                    None => (path.replace("{id}", "0"), true),
                };
                let a = client.probe_edit(&path).await;
                let (s, d) = judge(&a, level, row, Some(&path));
                if missing && s != CheckStatus::Fail {
                    (s, format!("{}; {d}", messages::no_record(&read_title)))
                } else {
                    (s, d)
                }
            }
            Probe::OpenRead(path, reason) => {
                let a = client.probe_read(path).await;
                match judge(&a, level, row, Some(path)) {
                    (CheckStatus::Pass, _) => (CheckStatus::Unverified, (*reason).to_owned()),
                    other => other,
                }
            }
            Probe::Unprovable(reason) => (CheckStatus::Unverified, (*reason).to_owned()),
        };
        let (status, detail) = if !required && status != CheckStatus::Pass {
            (status, format!("{detail} ({})", messages::OPTIONAL_OFF))
        } else {
            (status, detail)
        };
        let fix = (status == CheckStatus::Fail).then(|| messages::role_fix(row, level));
        out.push(check(
            check_id(row, level),
            Area::Connectwise,
            messages::role_title(row, level),
            required,
            status,
            detail,
            fix,
        ));
    }
    out
}

/// What a probe's answer proves about `level`.
fn judge(
    a: &ProbeAnswer,
    level: RoleLevel,
    row: &RoleRow,
    item_path: Option<&str>,
) -> (CheckStatus, String) {
    if a.is_permission_denied() {
        return (CheckStatus::Fail, messages::denied(row));
    }
    match (level, &a.error) {
        (RoleLevel::Inquire, None) => (CheckStatus::Pass, messages::READ_OK.into()),
        (RoleLevel::Add, None) => (CheckStatus::Pass, messages::ADD_ACCEPTED.into()),
        (RoleLevel::Add, Some(_)) if a.is_body_refused() => {
            (CheckStatus::Pass, messages::ADD_OK.into())
        }
        (RoleLevel::Edit, None) => (CheckStatus::Pass, messages::EDIT_OK.into()),
        (RoleLevel::Edit, Some(_)) if a.is_body_refused() => {
            (CheckStatus::Pass, messages::EDIT_OK.into())
        }
        (_, Some(CwError::NotFound { path, .. })) => (
            CheckStatus::Unverified,
            messages::not_found_unverified(item_path.unwrap_or(path)),
        ),
        (_, Some(e)) => (
            CheckStatus::Unverified,
            messages::inconclusive(&e.to_string()),
        ),
    }
}

fn clock_check(a: &ProbeAnswer, opts: &DoctorOptions) -> Check {
    let tol = opts.clock_tolerance.as_secs() as i64;
    let (status, detail, fix) = match a.server_date {
        None => (
            CheckStatus::Unverified,
            messages::CLOCK_NO_DATE.to_owned(),
            None,
        ),
        Some(server) => {
            let skew = jiff::Timestamp::now().as_second() - server.as_second();
            if skew.abs() > tol {
                (
                    CheckStatus::Fail,
                    messages::clock_skewed(skew, tol),
                    Some(messages::CLOCK_FIX.to_owned()),
                )
            } else {
                (CheckStatus::Pass, messages::clock_ok(skew), None)
            }
        }
    };
    check(
        "clock",
        Area::Clock,
        messages::CLOCK_TITLE,
        false,
        status,
        detail,
        fix,
    )
}

/// The Sophos side: token, whoami, tenants, billing usage, alerts of a sample tenant.
pub async fn check_sophos(cfg: Result<SophosConfig, ConnectionError>) -> Vec<Check> {
    let row = |id: &str, title: &str, status, detail: String, fix: Option<String>| {
        check(id, Area::Sophos, title, true, status, detail, fix)
    };
    let rest_skipped = |out: &mut Vec<Check>, from: usize| {
        let all = [
            ("sophos.token", messages::SOPHOS_TOKEN_TITLE),
            ("sophos.whoami", messages::SOPHOS_WHOAMI_TITLE),
            ("sophos.tenants", messages::SOPHOS_TENANTS_TITLE),
            ("sophos.billing", messages::SOPHOS_BILLING_TITLE),
            ("sophos.alerts", messages::SOPHOS_ALERTS_TITLE),
        ];
        for (id, title) in &all[from..] {
            out.push(check(
                *id,
                Area::Sophos,
                *title,
                true,
                CheckStatus::Skipped,
                messages::SOPHOS_SKIPPED,
                None,
            ));
        }
    };
    let mut out = Vec::new();
    let mut cfg = match cfg {
        Ok(c) => c,
        Err(e) => {
            out.push(row(
                "sophos.token",
                messages::SOPHOS_TOKEN_TITLE,
                CheckStatus::Fail,
                e.to_string(),
                Some("centralbridge connect sophos".into()),
            ));
            rest_skipped(&mut out, 1);
            return out;
        }
    };
    cfg.retry = sophos::RetryPolicy::none();
    let client = match sophos::Client::connect(cfg).await {
        Ok(c) => c,
        Err(SophosError::NotPartner { id_type }) => {
            out.push(row(
                "sophos.token",
                messages::SOPHOS_TOKEN_TITLE,
                CheckStatus::Pass,
                "signed in".into(),
                None,
            ));
            out.push(row(
                "sophos.whoami",
                messages::SOPHOS_WHOAMI_TITLE,
                CheckStatus::Fail,
                messages::sophos_not_partner(&id_type),
                Some(messages::SOPHOS_NOT_PARTNER_FIX.into()),
            ));
            rest_skipped(&mut out, 2);
            return out;
        }
        Err(e) => {
            let detail = if matches!(e, SophosError::Auth { .. }) {
                messages::SOPHOS_SECRET_REFUSED.to_owned()
            } else {
                e.to_string()
            };
            out.push(row(
                "sophos.token",
                messages::SOPHOS_TOKEN_TITLE,
                CheckStatus::Fail,
                detail,
                Some(messages::SOPHOS_CREDENTIAL_FIX.into()),
            ));
            rest_skipped(&mut out, 1);
            return out;
        }
    };
    out.push(row(
        "sophos.token",
        messages::SOPHOS_TOKEN_TITLE,
        CheckStatus::Pass,
        "signed in".into(),
        None,
    ));
    out.push(row(
        "sophos.whoami",
        messages::SOPHOS_WHOAMI_TITLE,
        CheckStatus::Pass,
        messages::sophos_signed_in(client.partner_id()),
        None,
    ));
    let fail = |id: &str, title: &str, what: &str, e: &SophosError| {
        let fix = matches!(e, SophosError::Forbidden { .. } | SophosError::Auth { .. })
            .then(|| messages::SOPHOS_PERMISSION_FIX.to_owned());
        row(
            id,
            title,
            CheckStatus::Fail,
            messages::sophos_failed(what, &e.to_string()),
            fix,
        )
    };
    let tenants = match client.tenants_page(1).await {
        Ok(page) => {
            let more = page.pages.total.is_some_and(|t| t > 1);
            out.push(row(
                "sophos.tenants",
                messages::SOPHOS_TENANTS_TITLE,
                CheckStatus::Pass,
                messages::sophos_tenants(page.items.len(), more),
                None,
            ));
            page.items
                .into_iter()
                .map(sophos::TenantSummary::from)
                .collect()
        }
        Err(e) => {
            out.push(fail(
                "sophos.tenants",
                messages::SOPHOS_TENANTS_TITLE,
                "tenant list",
                &e,
            ));
            Vec::new()
        }
    };
    let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC);
    match client.usage_month(now.year(), now.month()).await {
        Ok(m) => out.push(row(
            "sophos.billing",
            messages::SOPHOS_BILLING_TITLE,
            CheckStatus::Pass,
            messages::sophos_billing(m.year, m.month, m.items.len(), m.no_data),
            None,
        )),
        Err(e) => out.push(fail(
            "sophos.billing",
            messages::SOPHOS_BILLING_TITLE,
            "billing usage",
            &e,
        )),
    }
    out.push(sample_alerts(&client, &tenants).await);
    out
}

async fn sample_alerts(client: &sophos::Client, tenants: &[sophos::TenantSummary]) -> Check {
    let title = messages::SOPHOS_ALERTS_TITLE;
    // Trial tenants have no alerts for the partner to read.
    let candidates: Vec<_> = tenants
        .iter()
        .filter(|t| {
            t.billing_type
                .as_deref()
                .map(BillingType::parse)
                .is_some_and(|b| b.alerts_readable())
        })
        .filter_map(|t| Some((t.name.clone(), t.tenant_ref()?)))
        .take(5)
        .collect();
    let mut forbidden = Vec::new();
    for (name, tref) in &candidates {
        let q = AlertQuery {
            page_size: Some(1),
            ..AlertQuery::default()
        };
        match client.alerts_page(tref, &q, None).await {
            Ok(_) => {
                let mut detail = messages::sophos_alerts(name);
                if !forbidden.is_empty() {
                    detail = format!(
                        "{detail}; {}",
                        messages::sophos_alerts_forbidden(&forbidden.join(", "))
                    );
                }
                return check(
                    "sophos.alerts",
                    Area::Sophos,
                    title,
                    true,
                    CheckStatus::Pass,
                    detail,
                    None,
                );
            }
            Err(SophosError::ForbiddenTenant { .. }) => forbidden.push(name.clone()),
            Err(e) => {
                return check(
                    "sophos.alerts",
                    Area::Sophos,
                    title,
                    true,
                    CheckStatus::Fail,
                    messages::sophos_failed("alerts", &e.to_string()),
                    None,
                );
            }
        }
    }
    let detail = if forbidden.is_empty() {
        messages::SOPHOS_NO_TENANT.to_owned()
    } else {
        messages::sophos_alerts_forbidden(&forbidden.join(", "))
    };
    check(
        "sophos.alerts",
        Area::Sophos,
        title,
        true,
        CheckStatus::Skipped,
        detail,
        None,
    )
}
