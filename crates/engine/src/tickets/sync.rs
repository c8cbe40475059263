//! One ticket-sync cycle: read -> plan -> apply, per tenant with bounded concurrency.
//!
//! Journal rule: every create, note, status change and acknowledgement first writes its "…ing"
//! state to the store, then calls the vendor, then writes the result. A run that finds an "…ing"
//! state looks the work up (ticket by `externalXRef`, note by its text, status by reading the
//! ticket, alert by GET) before doing it again, so a crash or a timeout never makes a duplicate.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use connectwise::{ClosedTicket, CwError, NewTicket, NoteKind};
use futures::TryStreamExt as _;
use jiff::Timestamp;
use serde::Serialize;
use sophos::{AlertQuery, SophosError, TenantRef};

use super::alert::{AlertFacts, TicketSeverity};
use super::content;
use super::messages;
use super::plan::{
    AlertPhase, AlertRecord, Destination, LinkStep, Op, Repeat, SkipReason, TenantTarget,
    TenantView, TicketDraft, TicketPhase, TicketRecord, TicketRef, plan_tenant,
};
use super::settings::{Pick, TicketSettings, load_settings};
use super::{JOB, TicketError};
use crate::ids::{CompanyId, TenantId, TicketId};
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
    /// Alerts Sophos listed open for the tenant this cycle.
    pub listed: u64,
    /// Tickets created, including ones found for an interrupted create.
    pub created: u64,
    /// Repeats noted on their group's open ticket.
    pub noted: u64,
    /// Tickets reopened for a recurrence.
    pub reopened: u64,
    /// Tickets resolved because every alert of theirs left Sophos.
    pub resolved: u64,
    /// Alerts recorded as cleared (gone from Sophos).
    pub cleared: u64,
    /// Our tickets found closed by a person in ConnectWise.
    pub closed_in_connectwise: u64,
    /// Alerts acknowledged in Sophos because their ticket was closed.
    pub acknowledged: u64,
    /// Alerts skipped because the tenant is unmapped and there is no fallback company.
    pub skipped_unmapped: u64,
    /// Alerts skipped by the product, category or severity filters.
    pub filtered: u64,
    /// Tickets that already existed in ConnectWise for a new alert (found by its id), taken over.
    pub adopted: u64,
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
        self.adopted += o.adopted;
    }
}

/// A ticket created in this cycle (for the benchmark's latency figures).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Created {
    /// Sophos's id of the alert the ticket is for.
    pub alert_id: String,
    /// ConnectWise's id of the ticket.
    pub ticket_id: TicketId,
    /// When Sophos raised the alert; `None` when Sophos did not say.
    pub raised_at: Option<Timestamp>,
    /// When the ticket was recorded (this machine's clock).
    pub created_at: Timestamp,
}

/// One tenant's result.
#[derive(Debug, Clone, Serialize)]
pub struct TenantReport {
    /// Sophos's id of the tenant.
    pub tenant_id: TenantId,
    /// The tenant's name in Sophos.
    pub name: String,
    /// The tenant's cycle succeeded; false when it failed, was refused, or skipped unmapped alerts.
    pub ok: bool,
    /// Not polled this cycle (forbidden, waiting to retry).
    pub waiting: bool,
    /// Not worked on: the run was asked to stop first.
    pub stopped: bool,
    /// Sophos refused the tenant's alerts (403); it is tried again after `forbidden_retry_s`.
    pub forbidden: bool,
    /// What went wrong for the tenant; `None` when nothing did.
    pub error: Option<String>,
    /// What the user can do about the error; `None` when there is no error.
    pub advice: Option<String>,
    /// What the tenant's cycle did.
    pub counts: Counts,
    /// Things to know that did not fail the tenant, e.g. an alert Sophos would not acknowledge.
    pub warnings: Vec<String>,
    /// The plan (always filled; with `--dry-run` nothing of it was applied).
    pub plan: Vec<Op>,
    /// Tickets created for the tenant this cycle, in order (not serialized).
    #[serde(skip)]
    pub created: Vec<Created>,
}

/// API calls made by the cycle.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct ApiCalls {
    /// Requests sent to Sophos Central during the cycle.
    pub sophos: u64,
    /// Requests sent to ConnectWise during the cycle.
    pub connectwise: u64,
}

/// What a cycle did.
#[derive(Debug, Clone, Serialize)]
pub struct CycleReport {
    /// When the cycle started.
    pub started_at: Timestamp,
    /// When the cycle finished.
    pub finished_at: Timestamp,
    /// The cycle only read and planned; nothing was written.
    pub dry_run: bool,
    /// The run outcome from the tally: ok, partial, failed or stopped.
    pub outcome: RunOutcome,
    /// Every tenant's counts added up.
    pub totals: Counts,
    /// One report per tenant, sorted by name.
    pub tenants: Vec<TenantReport>,
    /// Requests sent to each vendor during the cycle.
    pub api_calls: ApiCalls,
    /// The cycle's warnings, sorted and without repeats: duplicate tickets in ConnectWise, then
    /// every tenant's.
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
                Some(f) if !settings.skip_unmapped => Destination::Fallback {
                    company_id: CompanyId::new(f.id),
                },
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
        action: crate::audit::AuditKind,
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
#[tracing::instrument(skip_all, fields(job = "tickets", run_id = ?run.id(), tenants = targets.len()))]
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
    let closed = Arc::new(closed_in_connectwise(ctx).await?);
    let concurrency = ctx.settings.concurrency.max(1);
    let who = targets.clone();
    // Polls: each Sophos host's tenants side by side with the other hosts', each host within its
    // own limit. Every plan goes to the writers as soon as it is made, so a tenant's tickets do
    // not wait for the last tenant's poll.
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let polls = {
        let ctx = ctx.clone();
        let indexed: Vec<(usize, TenantTarget)> = targets.into_iter().enumerate().collect();
        async move {
            Ok::<_, TicketError>(
                crate::job::fan_out_keyed(
                    indexed,
                    |(_, t)| t.api_host.clone(),
                    concurrency,
                    |_, _| {},
                    move |(i, t)| {
                        let (ctx, closed, tx) = (ctx.clone(), closed.clone(), tx.clone());
                        async move {
                            let planned = plan_phase(&ctx, &t, &closed).await;
                            // The writers stop listening only when the cycle is stopping.
                            let _ = tx.send((i, planned));
                        }
                    },
                )
                .await,
            )
        }
    };
    let (poll_results, (mut reports, mut duplicates)) =
        tokio::try_join!(polls, write_as_planned(ctx, rx, concurrency))?;
    for (target, r) in who.iter().zip(poll_results) {
        if let Err(p) = r {
            reports.push(panicked(ctx, target, &p).await?);
        }
    }
    let mut warnings = Vec::new();
    warnings.append(&mut duplicates);
    for r in &reports {
        warnings.extend(r.warnings.iter().cloned());
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

/// Our open tickets that a person closed in ConnectWise.
///
/// Steady state: one paged query for closed tickets with an `externalXRef` changed since the
/// previous check (minus [`CLOSED_CHECK_OVERLAP`]), intersected with ours; the cost follows the
/// number of recent closes, not of open tickets. Checked directly by `externalXRef` (100 per query,
/// [`connectwise::EXTERNAL_REF_BATCH`]):
/// every open ticket on the first run (no stored check time), tickets being reopened, and closes
/// found earlier but not handled yet (tenant failed or waiting, run interrupted).
async fn closed_in_connectwise(ctx: &Ctx) -> Result<HashSet<TicketId>, TicketError> {
    // Taken before any query: a close stamped after this is seen by the next check.
    let started = Timestamp::now();
    let mut open = ctx.store.owned_tickets_in_state(TicketState::Open).await?;
    open.extend(
        ctx.store
            .owned_tickets_in_state(TicketState::Reopening)
            .await?,
    );
    let ours: HashMap<TicketId, &OwnedTicket> = open.iter().map(|t| (t.ticket_id, t)).collect();
    // Creates in flight: the ticket may exist in ConnectWise and is recorded by the next tenant
    // cycle, after this check, so a close of it found now is kept for the next check.
    let creating: HashSet<String> = ctx
        .store
        .alert_links_in_state(LinkState::Creating)
        .await?
        .into_iter()
        .filter(|l| l.role == AlertRole::Primary)
        .map(|l| l.alert_id)
        .collect();
    let mut found: BTreeMap<TicketId, String> = BTreeMap::new();
    // A closed ticket that is ours (or about to be): (id, externalXRef).
    let relevant = |t: ClosedTicket| -> Option<(TicketId, String)> {
        let id = TicketId::new(t.id);
        match ours.get(&id) {
            Some(o) => Some((id, o.primary_alert_id.clone())),
            None => t
                .external_ref
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
                let mut changed = ctx
                    .cw
                    .closed_tickets_changed_since(at - CLOSED_CHECK_OVERLAP);
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
    found.extend(
        ctx.cw
            .closed_tickets_by_external_refs(&direct)
            .await?
            .into_iter()
            .filter_map(relevant),
    );
    if !ctx.opts.dry_run {
        // Pending first: a crash between the two writes leaves the older (wider) check time.
        let pending: Vec<(TicketId, &str)> =
            found.iter().map(|(id, x)| (*id, x.as_str())).collect();
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
) -> Result<Option<(Timestamp, Vec<(TicketId, String)>)>, TicketError> {
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
        Some(v) => match serde_json::from_value::<Vec<(TicketId, String)>>(v) {
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

/// A tenant read and planned, waiting for the cycle-wide ticket lookup before it is applied.
struct Ready {
    target: TenantTarget,
    report: TenantReport,
    cursor: TicketCursor,
    now: Timestamp,
    tref: TenantRef,
    view: TenantView,
    rows: TenantRows,
    ops: Vec<Op>,
}

enum Planned {
    /// Nothing to apply (waiting, forbidden, failed read, dry run, stopped).
    Done(Box<TenantReport>),
    Ready(Box<Ready>),
}

impl Ready {
    /// Alerts whose plan creates their first ticket: no link of ours says one exists.
    fn fresh_alerts(&self) -> impl Iterator<Item = &String> {
        self.ops.iter().filter_map(|op| match op {
            Op::CreateTicket { alert_id, .. }
                if !self.rows.links.iter().any(|l| &l.alert_id == alert_id) =>
            {
                Some(alert_id)
            }
            _ => None,
        })
    }
}

/// Read and plan one tenant.
#[tracing::instrument(skip_all, fields(tenant_id = %target.tenant_id))]
async fn plan_phase(
    ctx: &Ctx,
    target: &TenantTarget,
    closed: &HashSet<TicketId>,
) -> Result<Planned, TicketError> {
    let now = Timestamp::now();
    let mut report = TenantReport::new(target);
    // A stop (signal, shutdown, lost lease) lets the tenants in flight finish, starts no more.
    if ctx.run.should_stop() {
        report.stopped = true;
        return Ok(Planned::Done(Box::new(report)));
    }
    ctx.run.panic_hook(&target.tenant_id);
    let mut cursor = ctx
        .store
        .ticket_cursor(&target.tenant_id)
        .await?
        .unwrap_or_else(|| TicketCursor::new(target.tenant_id.clone()));
    if let Some(next) = cursor.next_retry_at
        && next > now
    {
        report.waiting = true;
        report.ok = !cursor.forbidden;
        report.forbidden = cursor.forbidden;
        report.error = cursor.last_error.clone();
        report.advice = cursor.advice.clone();
        return Ok(Planned::Done(Box::new(report)));
    }
    let tref = TenantRef::new(target.tenant_id.to_string(), target.api_host.clone());
    let (view, rows) = match read_tenant(ctx, target, &tref, &cursor, closed).await {
        Ok(v) => v,
        Err(TicketError::Sophos(e)) if is_forbidden(&e) => {
            let advice = messages::forbidden_advice(&target.name, target.billing_type.as_ref());
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
            return Ok(Planned::Done(Box::new(report)));
        }
        Err(TicketError::Store(e)) => return Err(TicketError::Store(e)),
        Err(e) => {
            report.ok = false;
            report.error = Some(e.to_string());
            report.advice = Some(messages::tenant_failed_advice());
            if !ctx.opts.dry_run {
                write_status(ctx, &report).await?;
            }
            return Ok(Planned::Done(Box::new(report)));
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
        return Ok(Planned::Done(Box::new(report)));
    }
    Ok(Planned::Ready(Box::new(Ready {
        target: target.clone(),
        report,
        cursor,
        now,
        tref,
        view,
        rows,
        ops,
    })))
}

/// A planned tenant while its tiers are applied.
struct Applying {
    ready: Ready,
    tiers: [Vec<Op>; 3],
    /// The tier to apply next.
    next: usize,
    /// The tickets ConnectWise already has for the tenant's new alerts (its lookup batch's).
    existing: Arc<HashMap<String, connectwise::OpenedTicket>>,
    /// The first failure; a tenant that failed applies no later tier.
    outcome: Result<(), TicketError>,
}

impl Applying {
    fn new(mut ready: Ready, existing: Arc<HashMap<String, connectwise::OpenedTicket>>) -> Self {
        let alerts: HashMap<String, u8> = ready
            .view
            .listed
            .iter()
            .chain(ready.view.unlisted_open.iter())
            .map(|a| (a.id.clone(), super::plan::rank(a.ticket_severity())))
            .collect();
        let ops = std::mem::take(&mut ready.ops);
        let tiers = super::plan::tiers(ops, |id| alerts.get(id).copied().unwrap_or(1));
        let mut a = Applying {
            ready,
            tiers,
            next: 0,
            existing,
            outcome: Ok(()),
        };
        a.skip_empty();
        a
    }

    fn skip_empty(&mut self) {
        while self.next < self.tiers.len() && self.tiers[self.next].is_empty() {
            self.next += 1;
        }
    }

    /// The tier still to apply, if any (none after a failure).
    fn pending(&self) -> Option<usize> {
        (self.outcome.is_ok() && self.next < self.tiers.len()).then_some(self.next)
    }
}

/// Lookups for new alerts wait this long at most to be sent together.
const LOOKUP_GATHER: Duration = Duration::from_millis(500);

/// The writers: takes each tenant's plan as its poll ends and applies it, the most urgent first
/// across every tenant planned so far (all high-severity problems, then medium, then low; within
/// a tier, in the order the plans came). Before a tenant's first tier, ConnectWise is asked, by
/// external reference, for the tickets of every alert about to get its first ticket: exactly-once
/// is anchored in ConnectWise, not only in our store (a second install, a restored backup, a lost
/// database); those lookups are gathered, one query per 100 alerts across tenants. Returns the
/// finished tenants' reports and the duplicates the lookups found.
async fn write_as_planned(
    ctx: &Arc<Ctx>,
    planned: tokio::sync::mpsc::UnboundedReceiver<(usize, Result<Planned, TicketError>)>,
    concurrency: usize,
) -> Result<(Vec<TenantReport>, Vec<String>), TicketError> {
    let mut running = tokio::task::JoinSet::new();
    let written = write_loop(ctx, planned, concurrency, &mut running).await;
    if written.is_err() {
        // A cycle that stops (the crash hook, a store failure) lets the writes in flight end, at
        // their next step, before it returns: none of its requests is still in the air after it.
        while running.join_next().await.is_some() {}
    }
    written
}

type Running = tokio::task::JoinSet<Applying>;

async fn write_loop(
    ctx: &Arc<Ctx>,
    mut planned: tokio::sync::mpsc::UnboundedReceiver<(usize, Result<Planned, TicketError>)>,
    concurrency: usize,
    running: &mut Running,
) -> Result<(Vec<TenantReport>, Vec<String>), TicketError> {
    use std::cmp::Reverse;
    use tracing::Instrument as _;
    let mut reports = Vec::new();
    let mut duplicates = Vec::new();
    let mut slots: Vec<Option<Applying>> = Vec::new();
    let mut targets: Vec<TenantTarget> = Vec::new();
    // The most urgent tier first, then the earliest plan.
    let mut queue = WriteQueue::new();
    let mut running_slot: HashMap<tokio::task::Id, usize> = HashMap::new();
    let mut gathering: Vec<Ready> = Vec::new();
    let mut gather_until = tokio::time::Instant::now();
    let mut polls_done = false;
    loop {
        while running.len() < concurrency
            && let Some(Reverse((tier, slot))) = queue.pop()
        {
            let Some(mut a) = slots[slot].take() else {
                continue;
            };
            let ctx = ctx.clone();
            let task = async move {
                let ops = std::mem::take(&mut a.tiers[tier]);
                let existing = a.existing.clone();
                a.outcome = apply_ops(&ctx, &mut a.ready, &ops, &existing).await;
                a.ready.ops.extend(ops);
                a.next = tier + 1;
                a.skip_empty();
                a
            };
            let handle = running.spawn(task.instrument(tracing::Span::current()));
            running_slot.insert(handle.id(), slot);
        }
        let fresh: usize = gathering.iter().map(|r| r.fresh_alerts().count()).sum();
        if !gathering.is_empty()
            && (polls_done
                || fresh >= connectwise::EXTERNAL_REF_BATCH
                || tokio::time::Instant::now() >= gather_until)
        {
            let batch = std::mem::take(&mut gathering);
            let existing = Arc::new(look_up_existing(ctx, &batch, &mut duplicates).await?);
            for r in batch {
                enqueue(
                    ctx,
                    Applying::new(r, existing.clone()),
                    (&mut slots, &mut targets, &mut queue, &mut reports),
                )
                .await?;
            }
            continue;
        }
        if polls_done && running.is_empty() && queue.is_empty() && gathering.is_empty() {
            break;
        }
        tokio::select! {
            got = planned.recv(), if !polls_done => match got {
                None => polls_done = true,
                // A store failure or the crash hook stops the cycle; vendor failures are per tenant.
                Some((_, r)) => match r? {
                    Planned::Done(report) => reports.push(*report),
                    Planned::Ready(r) if r.fresh_alerts().next().is_some() => {
                        if gathering.is_empty() {
                            gather_until = tokio::time::Instant::now() + LOOKUP_GATHER;
                        }
                        gathering.push(*r);
                    }
                    Planned::Ready(r) => {
                        let a = Applying::new(*r, Arc::new(HashMap::new()));
                        enqueue(ctx, a, (&mut slots, &mut targets, &mut queue, &mut reports)).await?;
                    }
                },
            },
            Some(done) = running.join_next_with_id(), if !running.is_empty() => {
                let (id, result) = match done {
                    Ok((id, a)) => (id, Ok(a)),
                    Err(e) => (e.id(), Err(e)),
                };
                let Some(slot) = running_slot.remove(&id) else { continue };
                match result {
                    Ok(a) => {
                        slots[slot] = Some(a);
                        requeue(ctx, slot, (&mut slots, &mut queue, &mut reports)).await?;
                    }
                    Err(e) => {
                        let message = if e.is_panic() {
                            crate::job::panic_message(e.into_panic())
                        } else {
                            "the task was cancelled".to_owned()
                        };
                        let p = crate::job::Panicked { message };
                        reports.push(panicked(ctx, &targets[slot], &p).await?);
                    }
                }
            },
            _ = tokio::time::sleep_until(gather_until), if !gathering.is_empty() => {},
        }
    }
    Ok((reports, duplicates))
}

/// The tickets ConnectWise already has for the batch's alerts about to get their first ticket
/// (the oldest one where several exist; the others are named in `duplicates`).
async fn look_up_existing(
    ctx: &Ctx,
    batch: &[Ready],
    duplicates: &mut Vec<String>,
) -> Result<HashMap<String, connectwise::OpenedTicket>, TicketError> {
    let fresh: Vec<String> = batch
        .iter()
        .flat_map(Ready::fresh_alerts)
        .cloned()
        .collect();
    let mut existing: HashMap<String, connectwise::OpenedTicket> = HashMap::new();
    if fresh.is_empty() {
        return Ok(existing);
    }
    let mut seen: BTreeMap<String, Vec<TicketId>> = BTreeMap::new();
    ctx.step()?;
    for (xref, t) in ctx.cw.tickets_by_external_refs(&fresh).await? {
        seen.entry(xref.clone())
            .or_default()
            .push(TicketId::new(t.id));
        match existing.get(&xref) {
            Some(e) if e.id <= t.id => {}
            _ => {
                existing.insert(xref, t);
            }
        }
    }
    duplicates.extend(
        seen.iter()
            .filter(|(_, ids)| ids.len() > 1)
            .map(|(alert, ids)| messages::duplicate_tickets(alert, ids)),
    );
    Ok(existing)
}

/// (tier, slot), the most urgent tier first; slots are numbered as plans arrive, so within a
/// tier the earliest plan goes first.
type WriteQueue = std::collections::BinaryHeap<std::cmp::Reverse<(usize, usize)>>;

type WriterState<'a> = (
    &'a mut Vec<Option<Applying>>,
    &'a mut Vec<TenantTarget>,
    &'a mut WriteQueue,
    &'a mut Vec<TenantReport>,
);

/// A newly planned tenant: queued at its first tier, or finished at once when it has nothing
/// to write.
async fn enqueue(
    ctx: &Ctx,
    a: Applying,
    (slots, targets, queue, reports): WriterState<'_>,
) -> Result<(), TicketError> {
    targets.push(a.ready.target.clone());
    slots.push(Some(a));
    requeue(ctx, slots.len() - 1, (slots, queue, reports)).await
}

/// A tenant between tiers: queued at its next one, or finished (cursor, status).
async fn requeue(
    ctx: &Ctx,
    slot: usize,
    (slots, queue, reports): (
        &mut Vec<Option<Applying>>,
        &mut WriteQueue,
        &mut Vec<TenantReport>,
    ),
) -> Result<(), TicketError> {
    let Some(a) = slots[slot].as_ref() else {
        return Ok(());
    };
    match a.pending() {
        Some(tier) => queue.push(std::cmp::Reverse((tier, slot))),
        None => {
            if let Some(a) = slots[slot].take() {
                reports.push(finish_tenant(ctx, a.ready, a.outcome).await?);
            }
        }
    }
    Ok(())
}

/// Applies `ops` of one planned tenant, with the tickets the cycle found for new alerts.
#[tracing::instrument(skip_all, fields(tenant_id = %ready.target.tenant_id))]
async fn apply_ops(
    ctx: &Ctx,
    ready: &mut Ready,
    ops: &[Op],
    existing: &HashMap<String, connectwise::OpenedTicket>,
) -> Result<(), TicketError> {
    let plan = TenantPlan {
        target: &ready.target,
        tref: &ready.tref,
        view: &ready.view,
        rows: &ready.rows,
        ops,
    };
    apply_tenant(ctx, plan, existing, &mut ready.report).await
}

/// After its tiers: the tenant's cursor moves on when everything went through, and its status is
/// written.
async fn finish_tenant(
    ctx: &Ctx,
    ready: Ready,
    applied: Result<(), TicketError>,
) -> Result<TenantReport, TicketError> {
    let Ready {
        target,
        mut report,
        mut cursor,
        now,
        view,
        ..
    } = ready;
    let target = &target;
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
        Err(TicketError::Stopped) => {
            report.stopped = true;
            return Ok(report);
        }
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

/// A tenant whose task panicked: failed with the message, the others go on.
async fn panicked(
    ctx: &Ctx,
    target: &TenantTarget,
    p: &crate::job::Panicked,
) -> Result<TenantReport, TicketError> {
    tracing::error!(tenant = %target.tenant_id, "ticket sync task panicked: {}", p.message);
    let (error, advice) = crate::job::messages::panicked(&p.message);
    let mut report = TenantReport::new(target);
    report.ok = false;
    report.error = Some(error);
    report.advice = Some(advice);
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

/// The store's rows of one tenant: what planning sees of them is in [`TenantView`]; apply updates
/// the rows themselves.
struct TenantRows {
    links: Vec<AlertLink>,
}

async fn read_tenant(
    ctx: &Ctx,
    target: &TenantTarget,
    tref: &TenantRef,
    cursor: &TicketCursor,
    closed: &HashSet<TicketId>,
) -> Result<(TenantView, TenantRows), TicketError> {
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
    let s = &ctx.settings;
    let query = AlertQuery {
        from,
        page_size: Some(1000),
        ..AlertQuery::default()
    }
    .named_filters(&s.severities, &s.products, &s.categories);
    let listed: Vec<AlertFacts> = ctx
        .sophos
        .open_alerts(tref, query)
        .map_ok(AlertFacts::from_sophos)
        .try_collect()
        .await?;
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
            && let Some(a) = ctx.sophos.open_alert(tref, &l.alert_id).await?
        {
            unlisted_open.push(AlertFacts::from_sophos(a));
        }
    }
    let ticket_ids: HashSet<TicketId> = tickets
        .iter()
        .map(|t| t.ticket_id)
        .chain(links.iter().filter_map(|l| l.ticket_id))
        .collect();
    let view = TenantView {
        listed,
        unlisted_open,
        links: links.iter().map(alert_record).collect(),
        done_alerts,
        tickets: tickets.iter().map(ticket_record).collect(),
        closed_in_cw: closed
            .iter()
            .copied()
            .filter(|t| ticket_ids.contains(t))
            .collect(),
        seen_before: cursor.last_raised_at,
    };
    Ok((view, TenantRows { links }))
}

/// What planning needs of a stored alert link.
fn alert_record(l: &AlertLink) -> AlertRecord {
    AlertRecord {
        alert_id: l.alert_id.clone(),
        group_key: l.group_key.clone(),
        ticket_id: l.ticket_id,
        step: match l.state {
            LinkState::Creating if l.role == AlertRole::Repeat => LinkStep::Joining,
            LinkState::Creating => LinkStep::Creating,
            LinkState::Noting => LinkStep::Noting,
            LinkState::Linked => LinkStep::Linked,
        },
        phase: match l.alert_state {
            AlertState::Open => AlertPhase::Open,
            AlertState::Cleared => AlertPhase::Cleared,
            AlertState::Acknowledging => AlertPhase::Acknowledging,
            AlertState::Acknowledged => AlertPhase::Acknowledged,
        },
        summary: l.summary.clone(),
    }
}

/// What planning needs of a stored ticket.
fn ticket_record(t: &OwnedTicket) -> TicketRecord {
    TicketRecord {
        ticket_id: t.ticket_id,
        group_key: t.group_key.clone(),
        phase: match t.state {
            TicketState::Open => TicketPhase::Open,
            TicketState::Resolving => TicketPhase::Resolving,
            TicketState::Resolved => TicketPhase::Resolved,
            TicketState::Reopening => TicketPhase::Reopening,
            TicketState::Closed => TicketPhase::Closed,
        },
    }
}

/// The ticket exactly as the plan drafted it, for the ConnectWise client.
fn new_ticket(alert_id: &str, d: &TicketDraft) -> NewTicket {
    let id = |p: &Option<Pick>| p.as_ref().map(|p| p.id);
    NewTicket {
        summary: d.summary.clone(),
        description: d.description.clone(),
        external_ref: alert_id.to_owned(),
        company_id: d.company_id.get(),
        board_id: id(&d.board),
        status_id: id(&d.status),
        type_id: id(&d.type_),
        subtype_id: id(&d.subtype),
        item_id: id(&d.item),
        priority_id: id(&d.priority),
        source_id: id(&d.source),
        severity: match d.severity {
            TicketSeverity::Low => connectwise::TicketSeverity::Low,
            TicketSeverity::Medium => connectwise::TicketSeverity::Medium,
            TicketSeverity::High => connectwise::TicketSeverity::High,
        },
    }
}

fn new_link(
    target: &TenantTarget,
    alert: &AlertFacts,
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
            .clone()
            .unwrap_or_else(|| "unknown".to_owned()),
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

/// One tenant's plan and what it was planned on, for [`apply_tenant`].
struct TenantPlan<'a> {
    target: &'a TenantTarget,
    tref: &'a TenantRef,
    view: &'a TenantView,
    rows: &'a TenantRows,
    ops: &'a [Op],
}

async fn apply_tenant(
    ctx: &Ctx,
    plan: TenantPlan<'_>,
    existing: &HashMap<String, connectwise::OpenedTicket>,
    report: &mut TenantReport,
) -> Result<(), TicketError> {
    let TenantPlan {
        target,
        tref,
        view,
        rows,
        ops,
    } = plan;
    // The alerts are used for our own records only (device, raised at); what goes to the vendors
    // is in the ops.
    let alerts: HashMap<&str, &AlertFacts> = view
        .listed
        .iter()
        .chain(view.unlisted_open.iter())
        .map(|a| (a.id.as_str(), a))
        .collect();
    let links: HashMap<&str, &AlertLink> = rows
        .links
        .iter()
        .map(|l| (l.alert_id.as_str(), l))
        .collect();
    let mut applier = Applier {
        ctx,
        target,
        tref,
        alerts,
        links,
        existing,
        created: HashMap::new(),
        adopted: HashSet::new(),
        report,
    };
    for op in ops {
        // A stop lets the operation in flight finish and starts no other (the cursor stays, so the
        // next cycle plans the rest again).
        if ctx.run.should_stop() {
            return Err(TicketError::Stopped);
        }
        match op {
            Op::Skip { reason, .. } => match reason {
                SkipReason::Unmapped => applier.report.counts.skipped_unmapped += 1,
                SkipReason::Filtered => applier.report.counts.filtered += 1,
            },
            Op::MarkClosed { ticket_id } => {
                if let Some(mut t) = ctx.store.owned_ticket(*ticket_id).await? {
                    ctx.step()?;
                    t.state = TicketState::Closed;
                    t.closed_at = Some(Timestamp::now());
                    t.updated_at = Timestamp::now();
                    ctx.store.put_owned_ticket(&t).await?;
                    applier.report.counts.closed_in_connectwise += 1;
                }
            }
            Op::CannotAcknowledge {
                alert_id,
                ticket_id,
            } => {
                applier
                    .report
                    .warnings
                    .push(messages::ack_not_allowed(alert_id, *ticket_id));
            }
            Op::Acknowledge {
                alert_id,
                ticket_id,
                message,
            } => applier.acknowledge(alert_id, *ticket_id, message).await?,
            Op::MarkCleared { alert_id } => {
                if let Some(mut link) = ctx.store.alert_link(alert_id).await? {
                    ctx.step()?;
                    // A repeat gone before its group's create settled: nothing is in flight now.
                    if link.state == LinkState::Creating && link.role == AlertRole::Repeat {
                        link.state = LinkState::Linked;
                    }
                    link.alert_state = AlertState::Cleared;
                    link.cleared_at = Some(Timestamp::now());
                    link.updated_at = Timestamp::now();
                    ctx.store.put_alert_link(&link).await?;
                    applier.report.counts.cleared += 1;
                }
            }
            Op::Resolve {
                ticket_id,
                alert_ids,
                note,
                clear_status,
                resolved_status,
            } => {
                let statuses = ClearStatuses {
                    clear: clear_status.as_ref(),
                    resolved: resolved_status.as_ref(),
                };
                resolve(
                    ctx,
                    target,
                    *ticket_id,
                    alert_ids,
                    note,
                    statuses,
                    applier.report,
                )
                .await?;
            }
            Op::LookupTicket {
                alert_id,
                group_key,
                summary,
                company_id,
                previous_ticket_id,
            } => {
                applier
                    .lookup_ticket(
                        alert_id,
                        group_key,
                        summary,
                        *company_id,
                        *previous_ticket_id,
                    )
                    .await?
            }
            Op::CreateTicket {
                alert_id,
                group_key,
                unmapped: _,
                previous_ticket_id,
                ticket,
                repeats,
            } => {
                applier
                    .create_ticket(alert_id, group_key, *previous_ticket_id, ticket, repeats)
                    .await?
            }
            Op::AddNote {
                group_key,
                ticket,
                repeats,
            } => applier.add_note(group_key, ticket, repeats).await?,
            Op::Reopen {
                alert_id,
                group_key,
                ticket_id,
                summary,
                status,
                note,
            } => {
                applier
                    .reopen(
                        alert_id,
                        group_key,
                        *ticket_id,
                        summary,
                        status.as_ref(),
                        note,
                    )
                    .await?
            }
        }
    }
    Ok(())
}

/// Applies one tenant's ops, in order, with what they need: the alerts and links they were
/// planned on, and the tickets made or adopted so far this cycle.
struct Applier<'a> {
    ctx: &'a Ctx,
    target: &'a TenantTarget,
    tref: &'a TenantRef,
    /// For our own records only (device, raised at); what goes to the vendors is in the ops.
    alerts: HashMap<&'a str, &'a AlertFacts>,
    links: HashMap<&'a str, &'a AlertLink>,
    /// Open tickets ConnectWise already has for these alerts (made by another install).
    existing: &'a HashMap<String, connectwise::OpenedTicket>,
    /// Alert id -> the ticket made for it this cycle (the notes of its group go there).
    created: HashMap<String, TicketId>,
    /// Tickets adopted this cycle: their notes may exist already, so each is looked for first.
    adopted: HashSet<TicketId>,
    report: &'a mut TenantReport,
}

impl Applier<'_> {
    /// Acknowledges an alert in Sophos (its ticket was closed in ConnectWise), marking the link first so an interruption is finished by the next cycle.
    async fn acknowledge(
        &mut self,
        alert_id: &str,
        ticket_id: TicketId,
        message: &str,
    ) -> Result<(), TicketError> {
        let (ctx, target) = (self.ctx, self.target);
        let tref = self.tref;
        let Some(mut link) = ctx.store.alert_link(alert_id).await? else {
            return Ok(());
        };
        let resume = link.alert_state == AlertState::Acknowledging;
        ctx.step()?;
        link.alert_state = AlertState::Acknowledging;
        link.updated_at = Timestamp::now();
        ctx.store.put_alert_link(&link).await?;
        ctx.step()?;
        let already = resume && ctx.sophos.open_alert(tref, alert_id).await?.is_none();
        if !already {
            ctx.step()?;
            match ctx.sophos.acknowledge(tref, alert_id, Some(message)).await {
                Ok(_) => {}
                Err(SophosError::NotFound { .. }) => {}
                Err(SophosError::BadRequest { .. }) => {
                    self.report
                        .warnings
                        .push(messages::ack_not_allowed(alert_id, ticket_id));
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
            crate::audit::AuditKind::AlertAcknowledge,
            format!("alert:{alert_id}"),
            serde_json::json!({"alert_id": alert_id, "ticket_id": ticket_id, "tenant_id": target.tenant_id}),
            message.to_owned(),
        )
        .await?;
        self.report.counts.acknowledged += 1;
        Ok(())
    }

    /// Finishes an interrupted create whose alert is no longer listed: a ticket found by the alert id is recorded; none means there is nothing to create.
    async fn lookup_ticket(
        &mut self,
        alert_id: &str,
        group_key: &str,
        summary: &str,
        company_id: Option<CompanyId>,
        previous_ticket_id: Option<TicketId>,
    ) -> Result<(), TicketError> {
        let (ctx, target) = (self.ctx, self.target);
        ctx.step()?;
        if let Some(found) = ctx.cw.find_ticket_by_external_ref(alert_id).await? {
            let found_id = TicketId::new(found.id);
            let company = found
                .company_id
                .map(CompanyId::new)
                .or(company_id)
                .ok_or_else(|| TicketError::Settings(messages::ticket_without_company(found_id)))?;
            let made = Made {
                alert_id,
                group_key,
                company_id: company,
                previous: previous_ticket_id,
                summary,
                ticket_id: found_id,
            };
            let raised_at = self.alerts.get(alert_id).and_then(|a| a.raised_at);
            settle_created(
                ctx,
                target,
                &made,
                raised_at,
                &mut self.created,
                self.report,
            )
            .await?;
            return Ok(());
        }
        // No ticket was made before the alert went (or its tenant lost its company):
        // nothing to create.
        if let Some(mut link) = ctx.store.alert_link(alert_id).await? {
            ctx.step()?;
            link.state = LinkState::Linked;
            link.alert_state = AlertState::Cleared;
            link.cleared_at = Some(Timestamp::now());
            link.updated_at = Timestamp::now();
            ctx.store.put_alert_link(&link).await?;
        }
        Ok(())
    }

    /// Opens the alert's ticket: an interrupted create is looked up first, a ticket ConnectWise already has for the alert is adopted, else one is opened.
    async fn create_ticket(
        &mut self,
        alert_id: &str,
        group_key: &str,
        previous_ticket_id: Option<TicketId>,
        ticket: &TicketDraft,
        repeats: &[Repeat],
    ) -> Result<(), TicketError> {
        let (ctx, target) = (self.ctx, self.target);
        let resume = self
            .links
            .get(alert_id)
            .is_some_and(|l| l.state == LinkState::Creating);
        if resume {
            ctx.step()?;
            if let Some(found) = ctx.cw.find_ticket_by_external_ref(alert_id).await? {
                let made = Made {
                    alert_id,
                    group_key,
                    company_id: found.company_id.map_or(ticket.company_id, CompanyId::new),
                    previous: previous_ticket_id,
                    summary: &ticket.summary,
                    ticket_id: TicketId::new(found.id),
                };
                let raised_at = self.alerts.get(alert_id).and_then(|a| a.raised_at);
                settle_created(
                    ctx,
                    target,
                    &made,
                    raised_at,
                    &mut self.created,
                    self.report,
                )
                .await?;
                // Which repeats the lost create carried is unknown: the ticket's notes say.
                return self
                    .finish_repeats(made.ticket_id, group_key, repeats, Written::Unknown)
                    .await;
            }
        }
        let Some(alert) = self.alerts.get(alert_id) else {
            return Ok(());
        };
        let link = new_link(
            target,
            alert,
            group_key,
            AlertRole::Primary,
            ticket.summary.to_owned(),
        );
        if let Some(found) = self.existing.get(alert_id) {
            ctx.step()?;
            ctx.store.put_alert_link(&link).await?;
            let made = Made {
                alert_id,
                group_key,
                company_id: found.company_id.map_or(ticket.company_id, CompanyId::new),
                previous: previous_ticket_id,
                summary: &ticket.summary,
                ticket_id: TicketId::new(found.id),
            };
            record_created(ctx, target, &made).await?;
            self.created.insert(alert_id.to_owned(), made.ticket_id);
            self.adopted.insert(made.ticket_id);
            self.report.counts.adopted += 1;
            return self
                .finish_repeats(made.ticket_id, group_key, repeats, Written::Unknown)
                .await;
        }
        ctx.step()?;
        ctx.store.put_alert_link(&link).await?;
        // The repeats are recorded as joining this create before it is sent, so a crash leaves
        // them looked for in the ticket, never written twice.
        for r in repeats {
            if self.links.contains_key(r.alert_id.as_str()) {
                continue;
            }
            if let Some(a) = self.alerts.get(r.alert_id.as_str()) {
                ctx.step()?;
                let joining = new_link(target, a, group_key, AlertRole::Repeat, r.summary.clone());
                ctx.store.put_alert_link(&joining).await?;
            }
        }
        ctx.step()?;
        let t = ctx.cw.open_ticket(&new_ticket(alert_id, ticket)).await?;
        ctx.step()?;
        let made = Made {
            alert_id,
            group_key,
            company_id: ticket.company_id,
            previous: previous_ticket_id,
            summary: &ticket.summary,
            ticket_id: TicketId::new(t.id),
        };
        settle_created(
            ctx,
            target,
            &made,
            alert.raised_at,
            &mut self.created,
            self.report,
        )
        .await?;
        self.finish_repeats(made.ticket_id, group_key, repeats, Written::InTicket)
            .await
    }

    /// Notes repeats of a problem on its group's ticket, all in one note.
    async fn add_note(
        &mut self,
        group_key: &str,
        ticket: &TicketRef,
        repeats: &[Repeat],
    ) -> Result<(), TicketError> {
        let tid = match ticket {
            TicketRef::Existing(t) => *t,
            TicketRef::CreatedBy(a) => match self.created.get(a) {
                Some(t) => *t,
                None => return Ok(()),
            },
        };
        self.finish_repeats(tid, group_key, repeats, Written::Send)
            .await
    }

    /// Links repeats to ticket `tid` and writes what ConnectWise lacks of them in one note: none
    /// when the create just sent carried them; those the ticket's notes do not name yet when a
    /// write may have happened before (a resumed note or create, an adopted ticket).
    async fn finish_repeats(
        &mut self,
        tid: TicketId,
        group_key: &str,
        repeats: &[Repeat],
        written: Written,
    ) -> Result<(), TicketError> {
        let (ctx, target) = (self.ctx, self.target);
        let mut check = written == Written::Unknown || self.adopted.contains(&tid);
        let mut links = Vec::new();
        for r in repeats {
            let existing = self.links.get(r.alert_id.as_str()).copied();
            let mut link = match (existing, self.alerts.get(r.alert_id.as_str())) {
                (Some(l), _) => {
                    check |= l.state != LinkState::Linked;
                    l.clone()
                }
                (None, Some(a)) => {
                    new_link(target, a, group_key, AlertRole::Repeat, r.summary.clone())
                }
                (None, None) => continue,
            };
            link.role = AlertRole::Repeat;
            link.ticket_id = Some(tid);
            link.updated_at = Timestamp::now();
            links.push((link, r));
        }
        if written != Written::InTicket {
            for (link, _) in &mut links {
                link.state = LinkState::Noting;
                ctx.step()?;
                ctx.store.put_alert_link(link).await?;
            }
            let texts = if check {
                ctx.cw.ticket_note_texts(tid.get()).await?
            } else {
                Vec::new()
            };
            let missing: Vec<&str> = links
                .iter()
                .filter(|(_, r)| !texts.iter().any(|t| t.contains(&r.alert_id)))
                .filter_map(|(_, r)| r.note.as_deref())
                .collect();
            if !missing.is_empty() {
                ctx.step()?;
                ctx.cw
                    .add_ticket_note(
                        tid.get(),
                        &content::repeats_note(&missing),
                        NoteKind::Detail,
                    )
                    .await?;
            }
        }
        for (mut link, r) in links {
            ctx.step()?;
            link.state = LinkState::Linked;
            link.updated_at = Timestamp::now();
            if r.note.is_none() {
                link.alert_state = AlertState::Cleared;
                link.cleared_at = Some(Timestamp::now());
            }
            ctx.store.put_alert_link(&link).await?;
            ctx.audit(
                crate::audit::AuditKind::TicketNote,
                format!("ticket:{tid}"),
                serde_json::json!({"ticket_id": tid, "alert_id": r.alert_id, "tenant_id": target.tenant_id}),
                "repeat of the same Sophos alert".into(),
            )
            .await?;
            self.report.counts.noted += 1;
        }
        Ok(())
    }

    /// Reopens the group's closed ticket for an alert that came back, with a note.
    async fn reopen(
        &mut self,
        alert_id: &str,
        group_key: &str,
        ticket_id: TicketId,
        summary: &str,
        status: Option<&Pick>,
        note: &str,
    ) -> Result<(), TicketError> {
        let (ctx, target) = (self.ctx, self.target);
        let Some(alert) = self.alerts.get(alert_id).copied() else {
            return Ok(());
        };
        let Some(mut ticket) = ctx.store.owned_ticket(ticket_id).await? else {
            return Ok(());
        };
        let mut link = self
            .links
            .get(alert_id)
            .map(|l| (*l).clone())
            .unwrap_or_else(|| {
                new_link(
                    target,
                    alert,
                    group_key,
                    AlertRole::Repeat,
                    summary.to_owned(),
                )
            });
        let resume = link.state == LinkState::Noting;
        link.role = AlertRole::Repeat;
        link.ticket_id = Some(ticket_id);
        link.state = LinkState::Noting;
        link.updated_at = Timestamp::now();
        ticket.state = TicketState::Reopening;
        ticket.updated_at = Timestamp::now();
        ctx.step()?;
        ctx.store.put_owned_ticket(&ticket).await?;
        ctx.store.put_alert_link(&link).await?;
        if let Some(st) = status {
            ctx.step()?;
            ctx.cw.set_ticket_status(ticket_id.get(), st.id).await?;
        }
        if !(resume && note_exists(ctx, ticket_id, alert_id).await?) {
            ctx.step()?;
            ctx.cw
                .add_ticket_note(ticket_id.get(), note, NoteKind::Detail)
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
            crate::audit::AuditKind::TicketReopen,
            format!("ticket:{ticket_id}"),
            serde_json::json!({"ticket_id": ticket_id, "alert_id": alert_id, "status": status}),
            "the problem came back in Sophos Central".into(),
        )
        .await?;
        self.report.counts.reopened += 1;
        Ok(())
    }
}

/// A ticket made for an alert (now, or by an interrupted run): recorded, remembered for the notes
/// of this plan, counted.
#[tracing::instrument(skip_all, fields(tenant_id = %target.tenant_id, ticket_id = %made.ticket_id, alert_id = made.alert_id))]
async fn settle_created(
    ctx: &Ctx,
    target: &TenantTarget,
    made: &Made<'_>,
    raised_at: Option<Timestamp>,
    created: &mut HashMap<String, TicketId>,
    report: &mut TenantReport,
) -> Result<(), TicketError> {
    record_created(ctx, target, made).await?;
    created.insert(made.alert_id.to_owned(), made.ticket_id);
    report.counts.created += 1;
    report.created.push(Created {
        alert_id: made.alert_id.to_owned(),
        ticket_id: made.ticket_id,
        raised_at,
        created_at: Timestamp::now(),
    });
    Ok(())
}

async fn note_exists(ctx: &Ctx, ticket_id: TicketId, marker: &str) -> Result<bool, TicketError> {
    let texts = ctx.cw.ticket_note_texts(ticket_id.get()).await?;
    Ok(texts.iter().any(|t| t.contains(marker)))
}

/// Whether ConnectWise has a group's repeats already.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Written {
    /// In the description of the ticket just created.
    InTicket,
    /// Maybe: the ticket was found or adopted; its notes say.
    Unknown,
    /// Not yet, unless an earlier attempt of a note was interrupted (its link says).
    Send,
}

/// A ticket made for an alert (created now, or found from a create whose outcome was lost).
struct Made<'a> {
    alert_id: &'a str,
    group_key: &'a str,
    company_id: CompanyId,
    previous: Option<TicketId>,
    summary: &'a str,
    ticket_id: TicketId,
}

async fn record_created(ctx: &Ctx, target: &TenantTarget, m: &Made<'_>) -> Result<(), TicketError> {
    let now = Timestamp::now();
    ctx.store
        .put_owned_ticket(&OwnedTicket {
            ticket_id: m.ticket_id,
            tenant_id: target.tenant_id.clone(),
            group_key: m.group_key.to_owned(),
            company_id: m.company_id,
            primary_alert_id: m.alert_id.to_owned(),
            previous_ticket_id: m.previous,
            state: TicketState::Open,
            summary: m.summary.to_owned(),
            created_at: now,
            updated_at: now,
            resolved_at: None,
            closed_at: None,
        })
        .await?;
    if let Some(mut link) = ctx.store.alert_link(m.alert_id).await? {
        link.ticket_id = Some(m.ticket_id);
        link.state = LinkState::Linked;
        link.updated_at = now;
        ctx.store.put_alert_link(&link).await?;
    }
    ctx.audit(
        crate::audit::AuditKind::TicketCreate,
        format!("ticket:{}", m.ticket_id),
        serde_json::json!({"ticket_id": m.ticket_id, "alert_id": m.alert_id, "company_id": m.company_id,
            "tenant_id": target.tenant_id, "summary": m.summary, "previous_ticket_id": m.previous}),
        "new Sophos Central alert".into(),
    )
    .await
}

/// The statuses a resolution moves the ticket to, as the plan chose them.
struct ClearStatuses<'a> {
    /// Where a cleared ticket goes (may be a closed status).
    clear: Option<&'a Pick>,
    /// The open status used instead when the member may not close tickets.
    resolved: Option<&'a Pick>,
}

#[tracing::instrument(skip_all, fields(tenant_id = %target.tenant_id, ticket_id = %ticket_id))]
async fn resolve(
    ctx: &Ctx,
    target: &TenantTarget,
    ticket_id: TicketId,
    alert_ids: &[String],
    note: &str,
    statuses: ClearStatuses<'_>,
    report: &mut TenantReport,
) -> Result<(), TicketError> {
    let Some(mut ticket) = ctx.store.owned_ticket(ticket_id).await? else {
        return Ok(());
    };
    let resume = ticket.state == TicketState::Resolving;
    ctx.step()?;
    ticket.state = TicketState::Resolving;
    ticket.updated_at = Timestamp::now();
    ctx.store.put_owned_ticket(&ticket).await?;
    let current = if resume {
        ctx.cw.ticket_state(ticket_id.get()).await?
    } else {
        None
    };
    let mut noted = false;
    if resume {
        let texts = ctx.cw.ticket_note_texts(ticket_id.get()).await?;
        noted = texts.iter().any(|t| t.trim() == note.trim());
    }
    if !noted {
        ctx.step()?;
        match ctx
            .cw
            .add_ticket_note(ticket_id.get(), note, NoteKind::Resolution)
            .await
        {
            Ok(()) => {}
            Err(CwError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let mut final_state = TicketState::Resolved;
    let mut moved_to = None;
    if let Some(target_status) = statuses.clear {
        let already = current.as_ref().and_then(|t| t.status_id) == Some(target_status.id);
        if !already {
            ctx.step()?;
            match ctx
                .cw
                .close_ticket_with_status(ticket_id.get(), target_status.id)
                .await
            {
                Ok(t) => {
                    moved_to = Some(target_status.name.clone());
                    if t.closed {
                        final_state = TicketState::Closed;
                    }
                }
                Err(CwError::Permission { .. }) => {
                    report.warnings.push(messages::close_permission_warning(
                        &target_status.name,
                        statuses.resolved.map(|p| p.name.as_str()),
                    ));
                    if let Some(r) = statuses.resolved {
                        ctx.step()?;
                        ctx.cw.set_ticket_status(ticket_id.get(), r.id).await?;
                        moved_to = Some(r.name.clone());
                    }
                }
                Err(CwError::NotFound { .. }) => final_state = TicketState::Closed,
                Err(e) => return Err(e.into()),
            }
        } else if current.as_ref().is_some_and(|t| t.closed) {
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
        crate::audit::AuditKind::TicketResolve,
        format!("ticket:{ticket_id}"),
        serde_json::json!({"ticket_id": ticket_id, "alert_ids": alert_ids, "status": moved_to, "tenant_id": target.tenant_id}),
        "the alert is no longer open in Sophos Central".into(),
    )
    .await?;
    report.counts.resolved += 1;
    report.counts.cleared += alert_ids.len() as u64;
    Ok(())
}
