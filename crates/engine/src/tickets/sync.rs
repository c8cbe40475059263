//! One ticket-sync cycle: read -> plan -> apply, per tenant with bounded concurrency.
//!
//! Journal rule: every create, note, status change and acknowledgement first writes its "…ing"
//! state to the store, then calls the vendor, then writes the result. A run that finds an "…ing"
//! state looks the work up (ticket by `externalXRef`, note by its text, status by reading the
//! ticket, alert by GET) before doing it again, so a crash or a timeout never makes a duplicate.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use connectwise::models::{Level, PatchOp, Ticket, TicketNote};
use connectwise::{Conditions, CwError, Query};
use futures::TryStreamExt as _;
use jiff::Timestamp;
use serde::Serialize;
use sophos::models::{Alert, Severity};
use sophos::{AlertQuery, SophosError, TenantRef};

use super::content;
use super::messages;
use super::plan::{Destination, Op, SkipReason, TenantTarget, TenantView, TicketRef, plan_tenant};
use super::settings::{TicketSettings, load_settings};
use super::{JOB, TicketError};
use crate::job::{Run, RunEnd, RunReport, Tally};
use crate::store::{
    AlertLink, AlertRole, AlertState, CoreStore as _, CustomerStatus, LinkState, MappingStore as _,
    NewAudit, OwnedTicket, RunOutcome, Store, TicketCursor, TicketState, TicketStore as _,
};

/// What a cycle takes from its [`Run`]: a dry run reads and plans only; the actor is who the audit
/// log names. (The crash-test hook is the run's too: [`Run::step`].)
#[derive(Debug, Clone)]
struct CycleOptions {
    dry_run: bool,
    actor: String,
}

/// Per-tenant counters of one cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub listed: u64,
    pub created: u64,
    pub noted: u64,
    pub reopened: u64,
    pub resolved: u64,
    pub cleared: u64,
    pub closed_in_connectwise: u64,
    pub acknowledged: u64,
    pub skipped_unmapped: u64,
    pub filtered: u64,
}

impl Counts {
    fn add(&mut self, o: &Counts) {
        self.listed += o.listed;
        self.created += o.created;
        self.noted += o.noted;
        self.reopened += o.reopened;
        self.resolved += o.resolved;
        self.cleared += o.cleared;
        self.closed_in_connectwise += o.closed_in_connectwise;
        self.acknowledged += o.acknowledged;
        self.skipped_unmapped += o.skipped_unmapped;
        self.filtered += o.filtered;
    }
}

/// A ticket created in this cycle (for the benchmark's latency figures).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Created {
    pub alert_id: String,
    pub ticket_id: i64,
    pub raised_at: Option<Timestamp>,
    pub created_at: Timestamp,
}

/// One tenant's result.
#[derive(Debug, Clone, Serialize)]
pub struct TenantReport {
    pub tenant_id: String,
    pub name: String,
    pub ok: bool,
    /// Not polled this cycle (forbidden, waiting to retry).
    pub waiting: bool,
    /// Not worked on: the run was asked to stop first.
    pub stopped: bool,
    pub forbidden: bool,
    pub error: Option<String>,
    pub advice: Option<String>,
    pub counts: Counts,
    pub warnings: Vec<String>,
    /// The plan (always filled; with `--dry-run` nothing of it was applied).
    pub plan: Vec<Op>,
    #[serde(skip)]
    pub created: Vec<Created>,
}

/// API calls made by the cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ApiCalls {
    pub sophos: u64,
    pub connectwise: u64,
}

/// What a cycle did.
#[derive(Debug, Clone, Serialize)]
pub struct CycleReport {
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    pub dry_run: bool,
    pub outcome: RunOutcome,
    pub totals: Counts,
    pub tenants: Vec<TenantReport>,
    pub api_calls: ApiCalls,
    pub warnings: Vec<String>,
}

impl CycleReport {
    /// Tenants that failed this cycle (waiting and stopped ones are not failures).
    pub fn failed(&self) -> usize {
        self.tenants
            .iter()
            .filter(|t| !t.ok && !t.waiting && !t.stopped)
            .count()
    }

    fn tally(&self) -> Tally {
        Tally {
            customers: self.tenants.len(),
            failed: self.failed(),
            stopped: self.tenants.iter().any(|t| t.stopped),
            interrupted: false,
        }
    }

    /// Tickets created, in creation order per tenant.
    pub fn created(&self) -> impl Iterator<Item = &Created> {
        self.tenants.iter().flat_map(|t| t.created.iter())
    }
}

/// The tenants ticket sync works on, from the mapping store: mapped tenants with ticket sync on go
/// to their company; unmapped tenants go to the fallback company, or are polled only to count what
/// is skipped. Mapped tenants with ticket sync off are left alone (the user's choice).
pub async fn load_targets(
    store: &Store,
    settings: &TicketSettings,
) -> Result<Vec<TenantTarget>, TicketError> {
    let mut out = Vec::new();
    for c in store.list_customers().await? {
        if c.tenant.gone {
            continue;
        }
        let Some(api_host) = c.tenant.api_host.clone().filter(|h| !h.is_empty()) else {
            continue;
        };
        let destination = match &c.mapping {
            Some(m) if m.ticket_sync => Destination::Mapped {
                company_id: m.company_id,
            },
            Some(_) => continue,
            None => match &settings.fallback_company {
                Some(f) if !settings.skip_unmapped => Destination::Fallback { company_id: f.id },
                _ => Destination::Skip,
            },
        };
        out.push(TenantTarget {
            tenant_id: c.tenant.id.clone(),
            name: c.tenant.name.clone(),
            api_host,
            billing_type: c.tenant.billing_type.clone(),
            destination,
        });
    }
    Ok(out)
}

struct Ctx {
    store: Store,
    cw: connectwise::Client,
    sophos: sophos::Client,
    settings: TicketSettings,
    opts: CycleOptions,
    run: Run,
}

impl Ctx {
    /// Counts one apply step; fails as a crash would once the test hook's budget is spent.
    fn step(&self) -> Result<(), TicketError> {
        self.run.step().map_err(|_| TicketError::Interrupted)
    }

    async fn audit(
        &self,
        action: &str,
        subject: String,
        after: serde_json::Value,
        reason: String,
    ) -> Result<(), TicketError> {
        self.store
            .append_audit(&NewAudit {
                at: Timestamp::now(),
                actor: self.opts.actor.clone(),
                action: action.to_owned(),
                subject,
                before: None,
                after: Some(after),
                reason,
            })
            .await?;
        Ok(())
    }
}

/// Runs one cycle over every target tenant (from the mapping store), as part of `run` (the harness:
/// lease, run row, hooks); the caller finishes the run with the result's
/// [`RunReport::run_end`](crate::job::RunReport::run_end).
pub async fn run_cycle(
    store: &Store,
    cw: &connectwise::Client,
    sophos: &sophos::Client,
    run: &Run,
) -> Result<CycleReport, TicketError> {
    let settings = load_settings(store).await?;
    if !settings.is_configured() {
        return Err(TicketError::NotConfigured);
    }
    let targets = load_targets(store, &settings).await?;
    run_cycle_for(store, cw, sophos, settings, targets, run).await
}

/// [`run_cycle`] with explicit settings and targets.
pub async fn run_cycle_for(
    store: &Store,
    cw: &connectwise::Client,
    sophos: &sophos::Client,
    settings: TicketSettings,
    targets: Vec<TenantTarget>,
    run: &Run,
) -> Result<CycleReport, TicketError> {
    let started_at = Timestamp::now();
    let sophos_before = sophos.stats().total_requests();
    let cw_before = cw.stats().requests;
    let ctx = Arc::new(Ctx {
        store: store.clone(),
        cw: cw.clone(),
        sophos: sophos.clone(),
        settings,
        opts: CycleOptions {
            dry_run: run.is_dry_run(),
            actor: run.actor().to_owned(),
        },
        run: run.clone(),
    });
    let (tenants, warnings) = cycle_inner(&ctx, targets).await?;
    let finished_at = Timestamp::now();
    let mut totals = Counts::default();
    for t in &tenants {
        totals.add(&t.counts);
    }
    let api_calls = ApiCalls {
        sophos: sophos
            .stats()
            .total_requests()
            .saturating_sub(sophos_before),
        connectwise: cw.stats().requests.saturating_sub(cw_before),
    };
    let mut report = CycleReport {
        started_at,
        finished_at,
        dry_run: run.is_dry_run(),
        outcome: RunOutcome::Running,
        totals,
        tenants,
        api_calls,
        warnings,
    };
    report.outcome = report.tally().outcome();
    Ok(report)
}

impl RunReport for CycleReport {
    fn run_end(&self) -> RunEnd {
        let counts = serde_json::json!({
            "totals": self.totals, "tenants": self.tenants.len(), "failed": self.failed(),
            "api_calls": self.api_calls,
        });
        RunEnd::from_tally(self.tally(), counts, messages::run_summary(self))
    }
}

impl RunReport for Result<CycleReport, TicketError> {
    fn run_end(&self) -> RunEnd {
        match self {
            Ok(r) => r.run_end(),
            // Not set up yet is a state, not a failure: the Tickets page says what to do.
            Err(TicketError::NotConfigured) => RunEnd {
                outcome: RunOutcome::Ok,
                counts: serde_json::json!({"configured": false}),
                error: None,
                summary: TicketError::NotConfigured.to_string(),
                interrupted: false,
            },
            Err(TicketError::Interrupted) => RunEnd::from_tally(
                Tally {
                    interrupted: true,
                    ..Tally::default()
                },
                serde_json::json!({}),
                TicketError::Interrupted.to_string(),
            ),
            Err(e) => RunEnd::failed(e.to_string()),
        }
    }
}

async fn cycle_inner(
    ctx: &Arc<Ctx>,
    targets: Vec<TenantTarget>,
) -> Result<(Vec<TenantReport>, Vec<String>), TicketError> {
    let closed = closed_in_connectwise(ctx).await?;
    let closed = Arc::new(closed);
    let concurrency = ctx.settings.concurrency.max(1);
    let who = targets.clone();
    let results = crate::job::fan_out(
        targets,
        concurrency,
        |_, _| {},
        |t| {
            let ctx = ctx.clone();
            let closed = closed.clone();
            async move { tenant_cycle(&ctx, &t, &closed).await }
        },
    )
    .await;
    let mut reports = Vec::new();
    let mut warnings = Vec::new();
    for (target, r) in who.iter().zip(results) {
        let r = match r {
            // A store failure or the crash hook stops the cycle; vendor failures are per tenant.
            Ok(r) => r?,
            Err(p) => {
                tracing::error!(tenant = %target.tenant_id, "ticket sync task panicked: {}", p.message);
                let (error, advice) = crate::job::messages::panicked(&p.message);
                let mut report = TenantReport::new(target);
                report.ok = false;
                report.error = Some(error);
                report.advice = Some(advice);
                write_status(ctx, &report).await?;
                report
            }
        };
        warnings.extend(r.warnings.iter().cloned());
        reports.push(r);
    }
    reports.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then_with(|| a.tenant_id.cmp(&b.tenant_id))
    });
    warnings.sort();
    warnings.dedup();
    Ok((reports, warnings))
}

/// Settings key: when the last successful closed-ticket check started (our clock).
const CLOSED_CHECK_AT_KEY: &str = "tickets.closed_check_at";
/// Settings key: the closes that check found, `[[ticket id, externalXRef], …]`, checked again by
/// `externalXRef` until their tickets are marked closed (a later "changed since" query would not
/// return them again).
const CLOSED_PENDING_KEY: &str = "tickets.closed_check_pending";
/// How far before the previous check the next one looks, so clock skew between us and ConnectWise
/// (whose clock stamps `_info/lastUpdated`) cannot lose a close.
const CLOSED_CHECK_OVERLAP: Duration = Duration::from_secs(5 * 60);
/// `externalXRef`s per direct query.
const XREF_BATCH: usize = 100;

/// Our open tickets that a person closed in ConnectWise.
///
/// Steady state: one paged query for closed tickets with an `externalXRef` changed since the
/// previous check (minus [`CLOSED_CHECK_OVERLAP`]), intersected with ours; the cost follows the
/// number of recent closes, not of open tickets. Checked directly by `externalXRef` (100 per query):
/// every open ticket on the first run (no stored check time), tickets being reopened, and closes
/// found earlier but not handled yet (tenant failed or waiting, run interrupted).
async fn closed_in_connectwise(ctx: &Ctx) -> Result<HashSet<i64>, TicketError> {
    // Taken before any query: a close stamped after this is seen by the next check.
    let started = Timestamp::now();
    let mut open = ctx.store.owned_tickets_in_state(TicketState::Open).await?;
    open.extend(
        ctx.store
            .owned_tickets_in_state(TicketState::Reopening)
            .await?,
    );
    let ours: HashMap<i64, &OwnedTicket> = open.iter().map(|t| (t.ticket_id, t)).collect();
    // Creates in flight: the ticket may exist in ConnectWise and is recorded by the next tenant
    // cycle, after this check, so a close of it found now is kept for the next check.
    let creating: HashSet<String> = ctx
        .store
        .alert_links_in_state(LinkState::Creating)
        .await?
        .into_iter()
        .map(|l| l.alert_id)
        .collect();
    let mut found: BTreeMap<i64, String> = BTreeMap::new();
    // A closed ticket that is ours (or about to be): (id, externalXRef).
    let relevant = |t: Ticket| -> Option<(i64, String)> {
        let id = t.id.filter(|_| t.closed_flag == Some(true))?;
        match ours.get(&id) {
            Some(o) => Some((id, o.primary_alert_id.clone())),
            None => t
                .external_x_ref
                .filter(|x| creating.contains(x))
                .map(|x| (id, x)),
        }
    };
    let mut direct: Vec<String> = Vec::new();
    match last_closed_check(ctx, started).await? {
        None => {
            direct.extend(open.iter().map(|t| t.primary_alert_id.clone()));
            direct.extend(creating.iter().cloned());
        }
        Some((at, pending)) => {
            if !ours.is_empty() || !creating.is_empty() {
                let cond = Conditions::new()
                    .eq_bool("closedFlag", true)
                    .not_null("externalXRef")
                    .gt("_info/lastUpdated", at - CLOSED_CHECK_OVERLAP);
                let query = Query::new()
                    .conditions(cond)
                    .fields("id,closedFlag,externalXRef");
                let mut changed = ctx.cw.tickets(query);
                while let Some(t) = changed.try_next().await? {
                    found.extend(relevant(t));
                }
            }
            // Reopening tickets were checked directly before this query existed: kept so.
            direct.extend(
                open.iter()
                    .filter(|t| t.state == TicketState::Reopening)
                    .map(|t| t.primary_alert_id.clone()),
            );
            direct.extend(
                pending
                    .into_iter()
                    .filter(|(id, x)| ours.contains_key(id) || creating.contains(x))
                    .map(|(_, x)| x),
            );
            let seen: HashSet<&str> = found.values().map(String::as_str).collect();
            direct.retain(|x| !seen.contains(x.as_str()));
        }
    }
    direct.sort();
    direct.dedup();
    for batch in direct.chunks(XREF_BATCH) {
        let cond = Conditions::new()
            .is_in("externalXRef", batch.to_vec())
            .eq_bool("closedFlag", true);
        found.extend(
            ctx.cw
                .search_tickets(&cond)
                .await?
                .into_iter()
                .filter_map(relevant),
        );
    }
    if !ctx.opts.dry_run {
        // Pending first: a crash between the two writes leaves the older (wider) check time.
        let pending: Vec<(i64, &str)> = found.iter().map(|(id, x)| (*id, x.as_str())).collect();
        ctx.store
            .set_setting(CLOSED_PENDING_KEY, &serde_json::json!(pending))
            .await?;
        ctx.store
            .set_setting(CLOSED_CHECK_AT_KEY, &serde_json::json!(started))
            .await?;
    }
    Ok(found
        .into_keys()
        .filter(|id| ours.contains_key(id))
        .collect())
}

/// The previous check's start and the closes it found; `None` (check everything) when there is
/// none, it is unreadable, or it lies ahead of `now` (our clock went back: the window is unknown).
async fn last_closed_check(
    ctx: &Ctx,
    now: Timestamp,
) -> Result<Option<(Timestamp, Vec<(i64, String)>)>, TicketError> {
    let Some(at) = ctx.store.get_setting(CLOSED_CHECK_AT_KEY).await? else {
        return Ok(None);
    };
    let Ok(at) = serde_json::from_value::<Timestamp>(at) else {
        return Ok(None);
    };
    if at > now {
        return Ok(None);
    }
    let pending = match ctx.store.get_setting(CLOSED_PENDING_KEY).await? {
        None => Vec::new(),
        Some(v) => match serde_json::from_value::<Vec<(i64, String)>>(v) {
            Ok(p) => p,
            Err(_) => return Ok(None),
        },
    };
    Ok(Some((at, pending)))
}

fn is_forbidden(e: &SophosError) -> bool {
    matches!(
        e,
        SophosError::ForbiddenTenant { .. } | SophosError::Forbidden { .. }
    )
}

async fn tenant_cycle(
    ctx: &Ctx,
    target: &TenantTarget,
    closed: &HashSet<i64>,
) -> Result<TenantReport, TicketError> {
    let now = Timestamp::now();
    let mut report = TenantReport::new(target);
    // A stop (signal, shutdown, lost lease) lets the tenants in flight finish, starts no more.
    if ctx.run.should_stop() {
        report.stopped = true;
        return Ok(report);
    }
    ctx.run.panic_hook(&target.tenant_id);
    let mut cursor = ctx
        .store
        .ticket_cursor(&target.tenant_id)
        .await?
        .unwrap_or_else(|| TicketCursor {
            tenant_id: target.tenant_id.clone(),
            ..TicketCursor::default()
        });
    if let Some(next) = cursor.next_retry_at
        && next > now
    {
        report.waiting = true;
        report.ok = !cursor.forbidden;
        report.forbidden = cursor.forbidden;
        report.error = cursor.last_error.clone();
        report.advice = cursor.advice.clone();
        return Ok(report);
    }
    let tref = TenantRef::new(target.tenant_id.clone(), target.api_host.clone());
    let view = match read_tenant(ctx, target, &tref, &cursor, closed).await {
        Ok(v) => v,
        Err(TicketError::Sophos(e)) if is_forbidden(&e) => {
            let advice = messages::forbidden_advice(&target.name, target.billing_type.as_deref());
            cursor.forbidden = true;
            cursor.advice = Some(advice.clone());
            cursor.last_error = Some(messages::FORBIDDEN_ERROR.to_owned());
            cursor.last_poll_at = Some(now);
            cursor.next_retry_at = Some(now + Duration::from_secs(ctx.settings.forbidden_retry_s));
            report.ok = false;
            report.forbidden = true;
            report.error = cursor.last_error.clone();
            report.advice = Some(advice);
            if !ctx.opts.dry_run {
                ctx.store.put_ticket_cursor(&cursor).await?;
                write_status(ctx, &report).await?;
            }
            return Ok(report);
        }
        Err(TicketError::Store(e)) => return Err(TicketError::Store(e)),
        Err(e) => {
            report.ok = false;
            report.error = Some(e.to_string());
            report.advice = Some(messages::tenant_failed_advice());
            if !ctx.opts.dry_run {
                write_status(ctx, &report).await?;
            }
            return Ok(report);
        }
    };
    report.counts.listed = view.listed.len() as u64;
    let ops = plan_tenant(target, &view, &ctx.settings);
    report.plan = ops.clone();
    if ctx.opts.dry_run {
        for op in &ops {
            if let Op::Skip { reason, .. } = op {
                match reason {
                    SkipReason::Unmapped => report.counts.skipped_unmapped += 1,
                    SkipReason::Filtered => report.counts.filtered += 1,
                }
            }
        }
        return Ok(report);
    }
    let applied = apply_tenant(ctx, target, &tref, &view, &ops, &mut report).await;
    match applied {
        Ok(()) => {
            let newest = view.listed.iter().filter_map(|a| a.raised_at).max();
            cursor.last_raised_at = match (cursor.last_raised_at, newest) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            cursor.last_poll_at = Some(now);
            cursor.forbidden = false;
            cursor.advice = None;
            cursor.next_retry_at = None;
            cursor.last_error = None;
            ctx.store.put_ticket_cursor(&cursor).await?;
        }
        Err(e @ (TicketError::Interrupted | TicketError::Store(_))) => return Err(e),
        Err(e) => {
            report.ok = false;
            report.error = Some(e.to_string());
            report.advice = Some(match &e {
                TicketError::ConnectWise(CwError::Permission {
                    function: Some(f), ..
                }) => {
                    format!(
                        "Give the API member's security role \"{f}\" in ConnectWise (System > Security Roles)."
                    )
                }
                _ => messages::tenant_failed_advice(),
            });
        }
    }
    if report.ok
        && matches!(target.destination, Destination::Skip)
        && report.counts.skipped_unmapped > 0
    {
        report.ok = false;
        report.error = Some(messages::unmapped_error(report.counts.skipped_unmapped));
        report.advice = Some(messages::unmapped_advice(&target.name));
    }
    write_status(ctx, &report).await?;
    Ok(report)
}

impl TenantReport {
    fn new(target: &TenantTarget) -> Self {
        Self {
            tenant_id: target.tenant_id.clone(),
            name: target.name.clone(),
            ok: true,
            waiting: false,
            stopped: false,
            forbidden: false,
            error: None,
            advice: None,
            counts: Counts::default(),
            warnings: Vec::new(),
            plan: Vec::new(),
            created: Vec::new(),
        }
    }
}

async fn write_status(ctx: &Ctx, r: &TenantReport) -> Result<(), TicketError> {
    let open = ctx
        .store
        .count_alert_links(&r.tenant_id)
        .await?
        .into_iter()
        .find(|(s, _)| s == AlertState::Open.as_str())
        .map_or(0, |(_, n)| n);
    let mut counts = serde_json::to_value(&r.counts).unwrap_or_default();
    if let Some(m) = counts.as_object_mut() {
        m.insert("open_alerts_ticketed".into(), serde_json::json!(open));
    }
    ctx.run
        .record_customer(&CustomerStatus {
            tenant_id: r.tenant_id.clone(),
            job: JOB.into(),
            last_run_at: Timestamp::now(),
            ok: r.ok,
            counts,
            error: r.error.clone(),
            advice: r.advice.clone(),
        })
        .await?;
    Ok(())
}

async fn read_tenant(
    ctx: &Ctx,
    target: &TenantTarget,
    tref: &TenantRef,
    cursor: &TicketCursor,
    closed: &HashSet<i64>,
) -> Result<TenantView, TicketError> {
    let links = ctx.store.active_alert_links(&target.tenant_id).await?;
    let tickets = ctx
        .store
        .latest_tickets_for_tenant(&target.tenant_id)
        .await?;
    let overlap = Duration::from_secs(ctx.settings.overlap_s);
    // Start early enough to see both new alerts (cursor - overlap) and every linked alert still open.
    let from = cursor.last_raised_at.map(|c| c - overlap).and_then(|c| {
        let mut from = c;
        for l in links
            .iter()
            .filter(|l| l.alert_state == AlertState::Open || l.state != LinkState::Linked)
        {
            match l.raised_at {
                Some(r) => from = from.min(r),
                None => return None,
            }
        }
        Some(from)
    });
    let query = AlertQuery {
        from,
        severity: ctx.settings.severity_filter(),
        product: ctx.settings.product_filter(),
        category: ctx.settings.category_filter(),
        page_size: Some(1000),
        ..AlertQuery::default()
    };
    let listed: Vec<Alert> = ctx.sophos.alerts(tref, query).try_collect().await?;
    let listed_ids: HashSet<&str> = listed.iter().map(|a| a.id.as_str()).collect();
    let active: HashSet<&str> = links.iter().map(|l| l.alert_id.as_str()).collect();
    let mut done_alerts = HashSet::new();
    for a in &listed {
        if !active.contains(a.id.as_str()) && ctx.store.alert_link(&a.id).await?.is_some() {
            done_alerts.insert(a.id.clone());
        }
    }
    // Linked alerts missing from the listing: gone, or just outside the filters? Ask.
    let mut unlisted_open = Vec::new();
    for l in &links {
        if listed_ids.contains(l.alert_id.as_str()) {
            continue;
        }
        if (l.alert_state == AlertState::Open || l.alert_state == AlertState::Acknowledging)
            && let Some(a) = ctx.sophos.alert(tref, &l.alert_id).await?
        {
            unlisted_open.push(a);
        }
    }
    let ticket_ids: HashSet<i64> = tickets
        .iter()
        .map(|t| t.ticket_id)
        .chain(links.iter().filter_map(|l| l.ticket_id))
        .collect();
    Ok(TenantView {
        listed,
        unlisted_open,
        links,
        done_alerts,
        tickets,
        closed_in_cw: closed
            .iter()
            .copied()
            .filter(|t| ticket_ids.contains(t))
            .collect(),
        seen_before: cursor.last_raised_at,
    })
}

fn cw_severity(s: Option<&Severity>) -> Level {
    match s {
        Some(Severity::High) => Level::High,
        Some(Severity::Low) => Level::Low,
        _ => Level::Medium,
    }
}

fn new_link(
    target: &TenantTarget,
    alert: &Alert,
    group_key: &str,
    role: AlertRole,
    summary: String,
) -> AlertLink {
    let now = Timestamp::now();
    AlertLink {
        alert_id: alert.id.clone(),
        tenant_id: target.tenant_id.clone(),
        group_key: group_key.to_owned(),
        ticket_id: None,
        role,
        state: LinkState::Creating,
        alert_state: AlertState::Open,
        severity: alert
            .severity
            .as_ref()
            .map_or("unknown", |s| s.as_str())
            .to_owned(),
        alert_type: alert.alert_type.clone().unwrap_or_default(),
        device_name: content::device_name(alert),
        summary,
        raised_at: alert.raised_at,
        created_at: now,
        updated_at: now,
        last_seen_at: now,
        cleared_at: None,
        acknowledged_at: None,
    }
}

async fn apply_tenant(
    ctx: &Ctx,
    target: &TenantTarget,
    tref: &TenantRef,
    view: &TenantView,
    ops: &[Op],
    report: &mut TenantReport,
) -> Result<(), TicketError> {
    let alerts: HashMap<&str, &Alert> = view
        .listed
        .iter()
        .chain(view.unlisted_open.iter())
        .map(|a| (a.id.as_str(), a))
        .collect();
    let links: HashMap<&str, &AlertLink> = view
        .links
        .iter()
        .map(|l| (l.alert_id.as_str(), l))
        .collect();
    let mut created: HashMap<String, i64> = HashMap::new();
    let s = &ctx.settings;
    for op in ops {
        match op {
            Op::Skip { reason, .. } => match reason {
                SkipReason::Unmapped => report.counts.skipped_unmapped += 1,
                SkipReason::Filtered => report.counts.filtered += 1,
            },
            Op::MarkClosed { ticket_id } => {
                if let Some(mut t) = ctx.store.owned_ticket(*ticket_id).await? {
                    ctx.step()?;
                    t.state = TicketState::Closed;
                    t.closed_at = Some(Timestamp::now());
                    t.updated_at = Timestamp::now();
                    ctx.store.put_owned_ticket(&t).await?;
                    report.counts.closed_in_connectwise += 1;
                }
            }
            Op::CannotAcknowledge {
                alert_id,
                ticket_id,
            } => {
                report
                    .warnings
                    .push(messages::ack_not_allowed(alert_id, *ticket_id));
            }
            Op::Acknowledge {
                alert_id,
                ticket_id,
            } => {
                let Some(mut link) = ctx.store.alert_link(alert_id).await? else {
                    continue;
                };
                let resume = link.alert_state == AlertState::Acknowledging;
                ctx.step()?;
                link.alert_state = AlertState::Acknowledging;
                link.updated_at = Timestamp::now();
                ctx.store.put_alert_link(&link).await?;
                ctx.step()?;
                let already = resume && ctx.sophos.alert(tref, alert_id).await?.is_none();
                if !already {
                    ctx.step()?;
                    match ctx
                        .sophos
                        .acknowledge(tref, alert_id, Some(&messages::ack_message(*ticket_id)))
                        .await
                    {
                        Ok(_) => {}
                        Err(SophosError::NotFound { .. }) => {}
                        Err(SophosError::BadRequest { .. }) => {
                            report
                                .warnings
                                .push(messages::ack_not_allowed(alert_id, *ticket_id));
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                ctx.step()?;
                link.alert_state = AlertState::Acknowledged;
                link.acknowledged_at = Some(Timestamp::now());
                link.updated_at = Timestamp::now();
                ctx.store.put_alert_link(&link).await?;
                ctx.audit(
                    "alert.acknowledge",
                    format!("alert:{alert_id}"),
                    serde_json::json!({"alert_id": alert_id, "ticket_id": ticket_id, "tenant_id": target.tenant_id}),
                    messages::ack_message(*ticket_id),
                )
                .await?;
                report.counts.acknowledged += 1;
            }
            Op::MarkCleared { alert_id } => {
                if let Some(mut link) = ctx.store.alert_link(alert_id).await? {
                    ctx.step()?;
                    link.alert_state = AlertState::Cleared;
                    link.cleared_at = Some(Timestamp::now());
                    link.updated_at = Timestamp::now();
                    ctx.store.put_alert_link(&link).await?;
                    report.counts.cleared += 1;
                }
            }
            Op::Resolve {
                ticket_id,
                alert_ids,
            } => {
                resolve(ctx, target, *ticket_id, alert_ids, report).await?;
            }
            Op::CreateTicket {
                alert_id,
                group_key,
                company_id,
                unmapped,
                previous_ticket_id,
                summary,
                lookup_only,
            } => {
                let resume = links
                    .get(alert_id.as_str())
                    .is_some_and(|l| l.state == LinkState::Creating);
                if resume || *lookup_only {
                    ctx.step()?;
                    if let Some(found) = ctx.cw.find_ticket_by_external_xref(alert_id).await? {
                        let tid = found.id.unwrap_or_default();
                        record_created(
                            ctx,
                            target,
                            alert_id,
                            group_key,
                            *company_id,
                            *previous_ticket_id,
                            summary,
                            tid,
                            found.company.as_ref().and_then(|c| c.id),
                        )
                        .await?;
                        created.insert(alert_id.clone(), tid);
                        report.counts.created += 1;
                        report.created.push(Created {
                            alert_id: alert_id.clone(),
                            ticket_id: tid,
                            raised_at: alerts.get(alert_id.as_str()).and_then(|a| a.raised_at),
                            created_at: Timestamp::now(),
                        });
                        continue;
                    }
                    if *lookup_only {
                        // Gone from Sophos before its ticket was made: nothing to create.
                        if let Some(mut link) = ctx.store.alert_link(alert_id).await? {
                            ctx.step()?;
                            link.state = LinkState::Linked;
                            link.alert_state = AlertState::Cleared;
                            link.cleared_at = Some(Timestamp::now());
                            link.updated_at = Timestamp::now();
                            ctx.store.put_alert_link(&link).await?;
                        }
                        continue;
                    }
                }
                let Some(alert) = alerts.get(alert_id.as_str()) else {
                    continue;
                };
                let link = new_link(
                    target,
                    alert,
                    group_key,
                    AlertRole::Primary,
                    summary.clone(),
                );
                ctx.step()?;
                ctx.store.put_alert_link(&link).await?;
                let body = Ticket {
                    summary: Some(summary.clone()),
                    company: Some(connectwise::models::Reference::id(*company_id)),
                    board: s.board.as_ref().map(|p| p.reference()),
                    status: s.new_status.as_ref().map(|p| p.reference()),
                    type_: s.type_.as_ref().map(|p| p.reference()),
                    sub_type: s.subtype.as_ref().map(|p| p.reference()),
                    item: s.item.as_ref().map(|p| p.reference()),
                    priority: alert
                        .severity
                        .as_ref()
                        .and_then(|sev| s.priorities.for_severity(sev))
                        .map(|p| p.reference()),
                    source: s.source.as_ref().map(|p| p.reference()),
                    severity: Some(cw_severity(alert.severity.as_ref())),
                    external_x_ref: Some(alert_id.clone()),
                    initial_description: Some(content::description(
                        alert,
                        &target.tenant_id,
                        &target.name,
                        &s.device_url_pattern,
                        *previous_ticket_id,
                    )),
                    ..Ticket::default()
                };
                ctx.step()?;
                let t = ctx.cw.create_ticket(&body).await?;
                let tid = t.id.ok_or_else(|| {
                    TicketError::Settings("ConnectWise returned a ticket without an id".into())
                })?;
                ctx.step()?;
                record_created(
                    ctx,
                    target,
                    alert_id,
                    group_key,
                    *company_id,
                    *previous_ticket_id,
                    summary,
                    tid,
                    Some(*company_id),
                )
                .await?;
                let _ = unmapped;
                created.insert(alert_id.clone(), tid);
                report.counts.created += 1;
                report.created.push(Created {
                    alert_id: alert_id.clone(),
                    ticket_id: tid,
                    raised_at: alert.raised_at,
                    created_at: Timestamp::now(),
                });
            }
            Op::AddNote {
                alert_id,
                group_key,
                ticket,
            } => {
                let tid = match ticket {
                    TicketRef::Existing(t) => *t,
                    TicketRef::CreatedBy(a) => match created.get(a) {
                        Some(t) => *t,
                        None => continue,
                    },
                };
                let existing = links.get(alert_id.as_str()).copied();
                let resume = existing.is_some_and(|l| l.state == LinkState::Noting);
                let alert = alerts.get(alert_id.as_str()).copied();
                let mut link = match (existing, alert) {
                    (Some(l), _) => l.clone(),
                    (None, Some(a)) => new_link(
                        target,
                        a,
                        group_key,
                        AlertRole::Repeat,
                        content::summary(a, &target.name, false),
                    ),
                    (None, None) => continue,
                };
                link.role = AlertRole::Repeat;
                link.ticket_id = Some(tid);
                link.state = LinkState::Noting;
                link.updated_at = Timestamp::now();
                ctx.step()?;
                ctx.store.put_alert_link(&link).await?;
                let text = match alert {
                    Some(a) => content::repeat_note(a),
                    None => String::new(),
                };
                let noted = if resume {
                    note_exists(ctx, tid, alert_id).await?
                } else {
                    false
                };
                if !noted && !text.is_empty() {
                    ctx.step()?;
                    ctx.cw
                        .create_ticket_note(tid, &TicketNote::detail(text.clone()))
                        .await?;
                }
                ctx.step()?;
                link.state = LinkState::Linked;
                link.updated_at = Timestamp::now();
                if alert.is_none() {
                    link.alert_state = AlertState::Cleared;
                    link.cleared_at = Some(Timestamp::now());
                }
                ctx.store.put_alert_link(&link).await?;
                ctx.audit(
                    "ticket.note",
                    format!("ticket:{tid}"),
                    serde_json::json!({"ticket_id": tid, "alert_id": alert_id, "tenant_id": target.tenant_id}),
                    "repeat of the same Sophos alert".into(),
                )
                .await?;
                report.counts.noted += 1;
            }
            Op::Reopen {
                alert_id,
                group_key,
                ticket_id,
            } => {
                let Some(alert) = alerts.get(alert_id.as_str()).copied() else {
                    continue;
                };
                let Some(mut ticket) = ctx.store.owned_ticket(*ticket_id).await? else {
                    continue;
                };
                let mut link = links
                    .get(alert_id.as_str())
                    .map(|l| (*l).clone())
                    .unwrap_or_else(|| {
                        new_link(
                            target,
                            alert,
                            group_key,
                            AlertRole::Repeat,
                            content::summary(alert, &target.name, false),
                        )
                    });
                let resume = link.state == LinkState::Noting;
                link.role = AlertRole::Repeat;
                link.ticket_id = Some(*ticket_id);
                link.state = LinkState::Noting;
                link.updated_at = Timestamp::now();
                ticket.state = TicketState::Reopening;
                ticket.updated_at = Timestamp::now();
                ctx.step()?;
                ctx.store.put_owned_ticket(&ticket).await?;
                ctx.store.put_alert_link(&link).await?;
                if let Some(st) = &s.new_status {
                    ctx.step()?;
                    ctx.cw
                        .patch_ticket(*ticket_id, &[PatchOp::replace("status", st.reference())])
                        .await?;
                }
                if !(resume && note_exists(ctx, *ticket_id, alert_id).await?) {
                    ctx.step()?;
                    ctx.cw
                        .create_ticket_note(
                            *ticket_id,
                            &TicketNote::detail(content::reopen_note(alert)),
                        )
                        .await?;
                }
                ctx.step()?;
                ticket.state = TicketState::Open;
                ticket.closed_at = None;
                ticket.resolved_at = None;
                ticket.updated_at = Timestamp::now();
                ctx.store.put_owned_ticket(&ticket).await?;
                link.state = LinkState::Linked;
                ctx.store.put_alert_link(&link).await?;
                ctx.audit(
                    "ticket.reopen",
                    format!("ticket:{ticket_id}"),
                    serde_json::json!({"ticket_id": ticket_id, "alert_id": alert_id, "status": s.new_status}),
                    "the problem came back in Sophos Central".into(),
                )
                .await?;
                report.counts.reopened += 1;
            }
        }
    }
    Ok(())
}

async fn note_exists(ctx: &Ctx, ticket_id: i64, marker: &str) -> Result<bool, TicketError> {
    let notes = ctx.cw.ticket_notes(ticket_id).await?;
    Ok(notes
        .iter()
        .any(|n| n.text.as_deref().is_some_and(|t| t.contains(marker))))
}

#[allow(clippy::too_many_arguments)]
async fn record_created(
    ctx: &Ctx,
    target: &TenantTarget,
    alert_id: &str,
    group_key: &str,
    company_id: i64,
    previous: Option<i64>,
    summary: &str,
    ticket_id: i64,
    actual_company: Option<i64>,
) -> Result<(), TicketError> {
    let now = Timestamp::now();
    let company = actual_company.unwrap_or(company_id);
    ctx.store
        .put_owned_ticket(&OwnedTicket {
            ticket_id,
            tenant_id: target.tenant_id.clone(),
            group_key: group_key.to_owned(),
            company_id: company,
            primary_alert_id: alert_id.to_owned(),
            previous_ticket_id: previous,
            state: TicketState::Open,
            summary: summary.to_owned(),
            created_at: now,
            updated_at: now,
            resolved_at: None,
            closed_at: None,
        })
        .await?;
    if let Some(mut link) = ctx.store.alert_link(alert_id).await? {
        link.ticket_id = Some(ticket_id);
        link.state = LinkState::Linked;
        link.updated_at = now;
        ctx.store.put_alert_link(&link).await?;
    }
    ctx.audit(
        "ticket.create",
        format!("ticket:{ticket_id}"),
        serde_json::json!({"ticket_id": ticket_id, "alert_id": alert_id, "company_id": company,
            "tenant_id": target.tenant_id, "summary": summary, "previous_ticket_id": previous}),
        "new Sophos Central alert".into(),
    )
    .await
}

async fn resolve(
    ctx: &Ctx,
    target: &TenantTarget,
    ticket_id: i64,
    alert_ids: &[String],
    report: &mut TenantReport,
) -> Result<(), TicketError> {
    let s = &ctx.settings;
    let Some(mut ticket) = ctx.store.owned_ticket(ticket_id).await? else {
        return Ok(());
    };
    let resume = ticket.state == TicketState::Resolving;
    ctx.step()?;
    ticket.state = TicketState::Resolving;
    ticket.updated_at = Timestamp::now();
    ctx.store.put_owned_ticket(&ticket).await?;
    let text = messages::resolution_note(alert_ids);
    let current = if resume {
        match ctx.cw.ticket(ticket_id).await {
            Ok(t) => Some(t),
            Err(CwError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let mut noted = false;
    if resume {
        let notes = ctx.cw.ticket_notes(ticket_id).await?;
        noted = notes
            .iter()
            .any(|n| n.text.as_deref().map(str::trim) == Some(text.trim()));
    }
    if !noted {
        ctx.step()?;
        let note = TicketNote {
            resolution_flag: Some(true),
            ..TicketNote::detail(text.clone())
        };
        match ctx.cw.create_ticket_note(ticket_id, &note).await {
            Ok(_) => {}
            Err(CwError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut final_state = TicketState::Resolved;
    let mut moved_to = None;
    if let Some(target_status) = &s.clear_status {
        let already = current
            .as_ref()
            .and_then(|t| t.status.as_ref())
            .and_then(|r| r.id)
            == Some(target_status.id);
        if !already {
            ctx.step()?;
            match ctx.cw.close_ticket(ticket_id, target_status.id).await {
                Ok(t) => {
                    moved_to = Some(target_status.name.clone());
                    if t.closed_flag == Some(true) {
                        final_state = TicketState::Closed;
                    }
                }
                Err(CwError::Permission { .. }) => {
                    report.warnings.push(messages::close_permission_warning(
                        &target_status.name,
                        s.resolved_status.as_ref().map(|p| p.name.as_str()),
                    ));
                    if let Some(r) = &s.resolved_status {
                        ctx.step()?;
                        ctx.cw
                            .patch_ticket(ticket_id, &[PatchOp::replace("status", r.reference())])
                            .await?;
                        moved_to = Some(r.name.clone());
                    }
                }
                Err(CwError::NotFound { .. }) => final_state = TicketState::Closed,
                Err(e) => return Err(e.into()),
            }
        } else if current.as_ref().and_then(|t| t.closed_flag) == Some(true) {
            final_state = TicketState::Closed;
        }
    }
    ctx.step()?;
    let now = Timestamp::now();
    for a in alert_ids {
        if let Some(mut link) = ctx.store.alert_link(a).await? {
            link.alert_state = AlertState::Cleared;
            link.cleared_at = Some(now);
            link.updated_at = now;
            ctx.store.put_alert_link(&link).await?;
        }
    }
    ticket.state = final_state;
    ticket.resolved_at = Some(now);
    if final_state == TicketState::Closed {
        ticket.closed_at = Some(now);
    }
    ticket.updated_at = now;
    ctx.store.put_owned_ticket(&ticket).await?;
    ctx.audit(
        "ticket.resolve",
        format!("ticket:{ticket_id}"),
        serde_json::json!({"ticket_id": ticket_id, "alert_ids": alert_ids, "status": moved_to, "tenant_id": target.tenant_id}),
        "the alert is no longer open in Sophos Central".into(),
    )
    .await?;
    report.counts.resolved += 1;
    report.counts.cleared += alert_ids.len() as u64;
    Ok(())
}
