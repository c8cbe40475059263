//! Saved plans: a usage plan computed and kept (`sync usage --plan`, the service when
//! `[usage] approval = "required"`, the dashboard's "Sync now") until a person approves or
//! discards it. Approving runs the usage sync for the plan's month and customers and applies only
//! if the plan made then is the saved one (same operations from the same quantities on both
//! sides); otherwise nothing is written to ConnectWise and what moved is named.
//!
//! The rows, totals, fingerprint and comparison are pure functions of the run's reports; saving,
//! approving and discarding are I/O through the store and the harness's [`Run`].

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use super::{
    BlastRadius, CustomerOutcome, CustomerReport, Month, OpKind, SyncOptions, SyncReport,
    UsageError, messages,
};
use crate::audit::AuditKind;
use crate::ids::{AdditionId, AgreementId, CompanyId, TenantId};
use crate::job::Run;
use crate::store::{NewAudit, NewPlan, PlanDecision, PlanRecord, PlanState, PlanStore as _, Store};

/// Where a row's unit price comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceSource {
    /// The addition on the agreement (what ConnectWise bills).
    Addition,
    /// The product's catalog item (what a new addition would bill).
    CatalogItem,
}

/// One product of one customer in a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanRow {
    /// Product identifier.
    pub product: String,
    /// What the plan does.
    pub operation: OpKind,
    /// The month's Sophos usage for the product.
    pub sophos_quantity: f64,
    /// What ConnectWise bills now; `None` when there is no addition (or several).
    pub connectwise_quantity: Option<f64>,
    /// What ConnectWise bills after the plan (0 for a cancel); `None` when it stays without one.
    pub new_quantity: Option<f64>,
    /// The addition the operation concerns; `None` for a create or a conflict.
    pub addition_id: Option<AdditionId>,
    /// Price per unit; `None` when unknown (never taken as 0).
    pub unit_price: Option<f64>,
    /// Where `unit_price` comes from.
    pub price_from: Option<PriceSource>,
    /// `connectwise_quantity` × `unit_price`.
    pub amount_now: Option<f64>,
    /// `new_quantity` × `unit_price`.
    pub amount_after: Option<f64>,
    /// Why, for people.
    pub reason: String,
}

impl PlanRow {
    /// Whether approving the plan writes this row to ConnectWise.
    pub fn is_write(&self) -> bool {
        self.operation.is_write()
    }
}

/// Money and counts of a customer or a whole plan.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PlanTotals {
    /// Writes the plan makes.
    pub writes: usize,
    /// What the priced rows bill now.
    pub amount_now: f64,
    /// What they bill after the plan.
    pub amount_after: f64,
    /// `amount_after - amount_now`.
    pub change: f64,
    /// Rows whose price is unknown (left out of the amounts).
    pub unpriced_rows: usize,
}

impl PlanTotals {
    fn of<'a>(rows: impl IntoIterator<Item = &'a PlanRow>) -> Self {
        let mut t = PlanTotals::default();
        for r in rows {
            if r.is_write() {
                t.writes += 1;
            }
            match (r.amount_now, r.amount_after, r.unit_price) {
                (_, _, None) => t.unpriced_rows += 1,
                (now, after, Some(_)) => {
                    t.amount_now += now.unwrap_or(0.0);
                    t.amount_after += after.unwrap_or(0.0);
                }
            }
        }
        t.change = t.amount_after - t.amount_now;
        t
    }

    fn add(&mut self, o: &PlanTotals) {
        self.writes += o.writes;
        self.amount_now += o.amount_now;
        self.amount_after += o.amount_after;
        self.change = self.amount_after - self.amount_now;
        self.unpriced_rows += o.unpriced_rows;
    }
}

/// One customer of a plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanCustomer {
    /// Sophos's id of the tenant.
    pub tenant_id: TenantId,
    /// The tenant's name in Sophos.
    pub tenant_name: String,
    /// ConnectWise's id of the mapped company.
    pub company_id: CompanyId,
    /// The company's name, when known.
    pub company_name: Option<String>,
    /// The mapped agreement.
    pub agreement_id: Option<AgreementId>,
    /// How planning ended for the customer.
    pub outcome: CustomerOutcome,
    /// Why it failed or is held; `None` when ok.
    pub error: Option<String>,
    /// What to do about `error`.
    pub advice: Option<String>,
    /// One row per selected product.
    pub rows: Vec<PlanRow>,
    /// The rows added up.
    pub totals: PlanTotals,
}

impl PlanCustomer {
    /// A customer's rows from its report; `catalog_prices` prices products without an addition.
    pub fn of(r: &CustomerReport, catalog_prices: &BTreeMap<String, f64>) -> Self {
        let rows: Vec<PlanRow> = r
            .ops
            .iter()
            .map(|op| {
                let kind = op.kind();
                let connectwise_quantity = match kind {
                    OpKind::RemovedInCw | OpKind::Conflict | OpKind::Create => None,
                    _ => op.before(),
                };
                let new_quantity = match kind {
                    OpKind::Create | OpKind::UpdateQuantity | OpKind::Adopt => Some(op.after()),
                    OpKind::Cancel => Some(0.0),
                    OpKind::Conflict | OpKind::RemovedInCw | OpKind::Skip => connectwise_quantity,
                };
                let (unit_price, price_from) = match r.unit_prices.get(&op.product) {
                    Some(p) => (Some(*p), Some(PriceSource::Addition)),
                    None => match catalog_prices.get(&op.product) {
                        Some(p) => (Some(*p), Some(PriceSource::CatalogItem)),
                        None => (None, None),
                    },
                };
                let times = |q: Option<f64>| unit_price.map(|p| q.unwrap_or(0.0) * p);
                PlanRow {
                    product: op.product.clone(),
                    operation: kind,
                    sophos_quantity: op.after(),
                    connectwise_quantity,
                    new_quantity,
                    addition_id: op.addition_id(),
                    unit_price,
                    price_from,
                    amount_now: times(connectwise_quantity),
                    amount_after: times(new_quantity),
                    reason: op.reason.clone(),
                }
            })
            .collect();
        PlanCustomer {
            tenant_id: r.tenant_id.clone(),
            tenant_name: r.tenant_name.clone(),
            company_id: r.company_id,
            company_name: r.company_name.clone(),
            agreement_id: r.agreement_id,
            outcome: r.outcome,
            error: r.error.clone(),
            advice: r.advice.clone(),
            totals: PlanTotals::of(&rows),
            rows,
        }
    }
}

/// The saved part of a plan: what it covers, what it does, and what it was computed from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanBody {
    /// The billing month.
    pub month: Month,
    /// Tenant ids the plan covers; empty: every mapped customer with usage sync on.
    pub scope: Vec<TenantId>,
    /// `--recreate` was given.
    pub recreate: bool,
    /// `--repair` was given.
    pub repair: bool,
    /// Selected products whose catalog item approving creates first.
    pub catalog_to_create: Vec<String>,
    /// Every customer, held and failed ones included.
    pub customers: Vec<PlanCustomer>,
    /// All customers added up.
    pub totals: PlanTotals,
    /// What the plan takes off the bills (approving it counts as the `--confirm` a large drop
    /// needs: a person looked at it).
    pub blast: BlastRadius,
    /// The guard's verdict at planning time: why a plain sync would not apply it.
    pub held_by_guard: Option<String>,
}

/// A plan as shown: its record and its body.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SavedPlan {
    /// The plan's number.
    pub id: i64,
    /// Where it is in its life.
    pub state: PlanState,
    /// When it was computed.
    pub created_at: Timestamp,
    /// Who computed it.
    pub created_by: String,
    /// The digest of its inputs.
    pub fingerprint: String,
    /// When it was decided.
    pub decided_at: Option<Timestamp>,
    /// Who decided.
    pub decided_by: Option<String>,
    /// What approving did, or why it was set aside.
    pub outcome: Option<String>,
    /// The run that applied it.
    pub run_id: Option<i64>,
    /// What it covers and does.
    #[serde(flatten)]
    pub body: PlanBody,
}

impl SavedPlan {
    fn from_record(r: PlanRecord) -> Result<Self, UsageError> {
        let body: PlanBody = serde_json::from_value(r.body)
            .map_err(|e| UsageError::Plan(messages::plan_unreadable(r.id, &e.to_string())))?;
        Ok(SavedPlan {
            id: r.id,
            state: r.state,
            created_at: r.created_at,
            created_by: r.created_by,
            fingerprint: r.fingerprint,
            decided_at: r.decided_at,
            decided_by: r.decided_by,
            outcome: r.outcome,
            run_id: r.run_id,
            body,
        })
    }

    /// Customers with at least one write.
    pub fn customers_with_writes(&self) -> usize {
        self.body
            .customers
            .iter()
            .filter(|c| c.totals.writes > 0)
            .count()
    }
}

/// What approving compares the new plan with.
#[derive(Debug, Clone, PartialEq)]
pub struct Expected {
    /// The saved plan's customers.
    pub customers: Vec<PlanCustomer>,
}

/// The digest of what a plan was computed from: per customer (by tenant id) its agreement, and
/// per product the operation, both sides' quantities and the addition. Prices and reasons are
/// left out: they change nothing approving writes.
pub fn fingerprint(month: Month, customers: &[PlanCustomer]) -> String {
    let mut lines: Vec<String> = Vec::new();
    for c in customers {
        let mut rows: Vec<String> = c
            .rows
            .iter()
            .map(|r| {
                format!(
                    "{}|{}|{:?}|{:?}|{:?}|{:?}",
                    r.product,
                    r.operation.as_str(),
                    r.sophos_quantity,
                    r.connectwise_quantity,
                    r.new_quantity,
                    r.addition_id.map(AdditionId::get)
                )
            })
            .collect();
        rows.sort();
        lines.push(format!(
            "{}|{:?}|{}",
            c.tenant_id,
            c.agreement_id.map(AgreementId::get),
            rows.join(";")
        ));
    }
    lines.sort();
    let mut h = Sha256::new();
    h.update(month.to_string().as_bytes());
    for l in lines {
        h.update(b"\n");
        h.update(l.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// What changed between the saved plan and the one made now, one sentence per change; empty when
/// they are the same plan.
pub fn moved(saved: &[PlanCustomer], now: &[PlanCustomer]) -> Vec<String> {
    let by_tenant = |cs: &[PlanCustomer]| -> BTreeMap<TenantId, PlanCustomer> {
        cs.iter()
            .map(|c| (c.tenant_id.clone(), c.clone()))
            .collect()
    };
    let (old, new) = (by_tenant(saved), by_tenant(now));
    let mut out = Vec::new();
    let tenants: BTreeSet<&TenantId> = old.keys().chain(new.keys()).collect();
    for t in tenants {
        match (old.get(t), new.get(t)) {
            (Some(o), None) => out.push(messages::plan_customer_gone(&o.tenant_name)),
            (None, Some(n)) => out.push(messages::plan_customer_new(&n.tenant_name)),
            (Some(o), Some(n)) => {
                if o.agreement_id != n.agreement_id {
                    out.push(messages::plan_agreement_moved(
                        &o.tenant_name,
                        o.agreement_id,
                        n.agreement_id,
                    ));
                    continue;
                }
                row_moves(o, n, &mut out);
            }
            (None, None) => {}
        }
    }
    out
}

fn row_moves(o: &PlanCustomer, n: &PlanCustomer, out: &mut Vec<String>) {
    let rows = |c: &PlanCustomer| -> BTreeMap<String, PlanRow> {
        c.rows
            .iter()
            .map(|r| (r.product.clone(), r.clone()))
            .collect()
    };
    let (a, b) = (rows(o), rows(n));
    if a.is_empty() && !b.is_empty() || !a.is_empty() && b.is_empty() {
        out.push(messages::plan_customer_state(
            &o.tenant_name,
            n.error.as_deref(),
        ));
        return;
    }
    let products: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
    let who = &o.tenant_name;
    for p in products {
        let (Some(x), Some(y)) = (a.get(p), b.get(p)) else {
            out.push(messages::plan_product_changed(who, p));
            continue;
        };
        let before = out.len();
        if x.sophos_quantity != y.sophos_quantity {
            out.push(messages::plan_sophos_moved(
                who,
                p,
                x.sophos_quantity,
                y.sophos_quantity,
            ));
        }
        if x.connectwise_quantity != y.connectwise_quantity || x.addition_id != y.addition_id {
            out.push(messages::plan_connectwise_moved(
                who,
                p,
                (x.connectwise_quantity, x.addition_id),
                (y.connectwise_quantity, y.addition_id),
            ));
        }
        if out.len() == before && (x.operation != y.operation || x.new_quantity != y.new_quantity) {
            out.push(messages::plan_operation_moved(
                who,
                p,
                x.operation.as_str(),
                y.operation.as_str(),
            ));
        }
    }
}

/// The plan of a (dry or plan-only) run's report, priced: rows without an addition take their
/// catalog item's price (one catalog read; a failed read leaves them unpriced, never at 0).
pub async fn body_of(
    cw: &connectwise::Client,
    store: &Store,
    report: &SyncReport,
    opts: &SyncOptions,
    scope: Vec<TenantId>,
) -> Result<PlanBody, UsageError> {
    let links: Vec<(String, i64)> = super::product_views(store)
        .await?
        .into_iter()
        .filter(|v| v.selected)
        .filter_map(|v| v.catalog_item_id.map(|c| (v.identifier, c.get())))
        .collect();
    let ids: Vec<i64> = links.iter().map(|(_, c)| *c).collect();
    let mut catalog_prices = BTreeMap::new();
    match cw.catalog_item_summaries_by_ids(&ids).await {
        Ok(items) => {
            for (product, id) in &links {
                if let Some(price) = items.iter().find(|i| i.id == *id).and_then(|i| i.price) {
                    catalog_prices.insert(product.clone(), price);
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "catalog prices unread: rows without an addition stay unpriced")
        }
    }
    let customers: Vec<PlanCustomer> = report
        .customers
        .iter()
        .map(|c| PlanCustomer::of(c, &catalog_prices))
        .collect();
    let mut totals = PlanTotals::default();
    for c in &customers {
        totals.add(&c.totals);
    }
    Ok(PlanBody {
        month: report.month,
        scope,
        recreate: opts.recreate,
        repair: opts.repair,
        catalog_to_create: report.catalog_to_create.clone(),
        held_by_guard: report.blast.refusal(&opts.guard).map(|(error, _)| error),
        blast: report.blast.clone(),
        customers,
        totals,
    })
}

/// What `plan` made: the saved plan and the run's report it came from.
#[derive(Debug)]
pub struct Planned {
    /// The plan as saved.
    pub plan: SavedPlan,
    /// The run's report (per customer, as a dry run shows it).
    pub report: SyncReport,
}

/// Computes the usage plan in `run` (which writes nothing: the plan is made as a dry run does) and
/// saves it, pending, superseding older pending plans of the same customers.
pub async fn plan(
    store: &Store,
    cw: &connectwise::Client,
    sophos: &sophos::Client,
    opts: &SyncOptions,
    run: &Run,
) -> Result<Planned, UsageError> {
    let opts = SyncOptions {
        plan_only: true,
        expect: None,
        ..opts.clone()
    };
    let report = super::run(store, cw, sophos, &opts, run).await?;
    let scope: Vec<TenantId> = if opts.customers.is_empty() {
        Vec::new()
    } else {
        let mut ids: Vec<TenantId> = report
            .customers
            .iter()
            .map(|c| c.tenant_id.clone())
            .collect();
        ids.sort();
        ids
    };
    let body = body_of(cw, store, &report, &opts, scope).await?;
    let fingerprint = fingerprint(body.month, &body.customers);
    let at = Timestamp::now();
    let new = NewPlan {
        month: body.month.to_string(),
        scope: body.scope.iter().map(ToString::to_string).collect(),
        created_at: at,
        created_by: run.actor().to_owned(),
        fingerprint,
        writes: i64::try_from(body.totals.writes).unwrap_or(i64::MAX),
        body: serde_json::to_value(&body)
            .map_err(|e| UsageError::Plan(messages::plan_unreadable(0, &e.to_string())))?,
    };
    let audit = NewAudit {
        at,
        actor: run.actor().to_owned(),
        action: AuditKind::UsagePlanSaved,
        subject: String::new(),
        before: None,
        after: Some(serde_json::json!({
            "month": new.month,
            "writes": new.writes,
            "customers": body.customers.len(),
            "change": body.totals.change,
        })),
        reason: messages::plan_saved_reason(body.month, body.totals.writes),
    };
    let id = store.save_plan(&new, &audit).await?;
    let plan = load(store, id).await?;
    Ok(Planned { plan, report })
}

/// One saved plan by its number.
pub async fn load(store: &Store, id: i64) -> Result<SavedPlan, UsageError> {
    match store.plan(id).await? {
        Some(r) => SavedPlan::from_record(r),
        None => Err(UsageError::Plan(messages::no_such_plan(id))),
    }
}

/// Saved plans, newest first (only pending ones when asked).
pub async fn list(
    store: &Store,
    pending_only: bool,
    limit: u32,
) -> Result<Vec<SavedPlan>, UsageError> {
    store
        .list_plans(pending_only.then_some(PlanState::Pending), limit)
        .await?
        .into_iter()
        .map(SavedPlan::from_record)
        .collect()
}

/// What approving a plan did.
#[derive(Debug)]
pub struct Approval {
    /// The plan, after the decision (still pending when it moved).
    pub plan: SavedPlan,
    /// The usage run that applied it, or refused to.
    pub report: SyncReport,
    /// The plan was applied (false: it moved, and nothing was written to ConnectWise).
    pub applied: bool,
}

fn pending(plan: &SavedPlan) -> Result<(), UsageError> {
    if plan.state == PlanState::Pending {
        Ok(())
    } else {
        Err(UsageError::Plan(messages::plan_not_pending(
            plan.id,
            plan.state.as_str(),
            plan.decided_by.as_deref(),
        )))
    }
}

/// Approves plan `id` in `run` (a run that may write, holding the usage lease): runs the usage
/// sync for the plan's month and customers, and applies it only if the plan made now is the saved
/// one. `base` gives the concurrency and progress; the rest comes from the plan.
pub async fn approve(
    store: &Store,
    cw: &connectwise::Client,
    sophos: &sophos::Client,
    id: i64,
    base: &SyncOptions,
    run: &Run,
) -> Result<Approval, UsageError> {
    let plan = load(store, id).await?;
    pending(&plan)?;
    if run.is_dry_run() {
        return Err(UsageError::Plan(messages::plan_approve_dry_run()));
    }
    let opts = SyncOptions {
        month: Some(plan.body.month),
        customers: plan.body.scope.iter().map(ToString::to_string).collect(),
        recreate: plan.body.recreate,
        repair: plan.body.repair,
        confirm: true,
        plan_only: false,
        expect: Some(Arc::new(Expected {
            customers: plan.body.customers.clone(),
        })),
        ..base.clone()
    };
    let report = match super::run(store, cw, sophos, &opts, run).await {
        // A customer of a one-customer plan that is no longer mapped: the plan moved.
        Err(UsageError::NoSuchCustomer(_)) => {
            let mut moved = Vec::new();
            for c in &plan.body.customers {
                moved.push(messages::plan_customer_gone(&c.tenant_name));
            }
            return Err(UsageError::Plan(messages::plan_refused(id, &moved)));
        }
        other => other?,
    };
    if !report.moved.is_empty() {
        let plan = load(store, id).await?;
        return Ok(Approval {
            plan,
            report,
            applied: false,
        });
    }
    let decision = PlanDecision {
        state: PlanState::Approved,
        by: run.actor().to_owned(),
        at: Timestamp::now(),
        outcome: messages::run_summary(&report),
        run_id: run.id(),
    };
    let audit = NewAudit {
        at: decision.at,
        actor: run.actor().to_owned(),
        action: AuditKind::UsagePlanApproved,
        subject: format!("plan:{id}"),
        before: Some(serde_json::json!({"state": "pending"})),
        after: Some(serde_json::json!({
            "state": "approved",
            "writes": report.counts.writes(),
            "failed_customers": report.failed_customers,
        })),
        reason: messages::plan_approved_reason(id, plan.body.month),
    };
    store.decide_plan(id, &decision, &audit).await?;
    let plan = load(store, id).await?;
    Ok(Approval {
        plan,
        report,
        applied: true,
    })
}

/// Discards pending plan `id` (nothing is written to ConnectWise).
pub async fn discard(store: &Store, id: i64, actor: &str) -> Result<SavedPlan, UsageError> {
    let plan = load(store, id).await?;
    pending(&plan)?;
    let decision = PlanDecision {
        state: PlanState::Discarded,
        by: actor.to_owned(),
        at: Timestamp::now(),
        outcome: messages::plan_discarded_outcome(),
        run_id: None,
    };
    let audit = NewAudit {
        at: decision.at,
        actor: actor.to_owned(),
        action: AuditKind::UsagePlanDiscarded,
        subject: format!("plan:{id}"),
        before: Some(serde_json::json!({"state": "pending"})),
        after: Some(serde_json::json!({"state": "discarded"})),
        reason: messages::plan_discarded_reason(id, plan.body.month),
    };
    if !store.decide_plan(id, &decision, &audit).await? {
        // Decided by someone else in the meantime.
        let plan = load(store, id).await?;
        pending(&plan)?;
    }
    load(store, id).await
}

/// How many plans wait for a person.
pub async fn pending_count(store: &Store) -> Result<usize, UsageError> {
    Ok(store
        .list_plans(Some(PlanState::Pending), 1000)
        .await?
        .len())
}

/// What a dashboard action on plans did: its result, or why it did not run; and the calls it made
/// (for the service's metrics).
#[derive(Debug)]
pub struct Now<T> {
    /// What it did, or why it could not run or failed.
    pub result: Result<T, String>,
    /// The ConnectWise client's request counts; `None` when the client could not be made.
    pub connectwise_stats: Option<connectwise::Stats>,
    /// The Sophos client's request counts; `None` when the client could not be made.
    pub sophos_stats: Option<sophos::Stats>,
}

/// Runs `work` in a usage run started with `opts` (a plan takes no lease: `opts.dry_run`; an
/// approval holds the usage lease, renewed while it runs, so it never overlaps another door's
/// run), with clients from the stored connections, and records the run's end.
async fn in_run<T, F, Fut>(
    store: &Store,
    opts: crate::job::StartOptions,
    end_of: fn(&T) -> crate::job::RunEnd,
    work: F,
) -> Result<Now<T>, crate::job::StartError>
where
    F: FnOnce(connectwise::Client, sophos::Client, Run) -> Fut,
    Fut: std::future::Future<Output = (Result<T, UsageError>, connectwise::Client, sophos::Client)>,
{
    use crate::job::{Job, RunEnd};
    let run = crate::job::start(store, Job::Usage, opts).await?;
    let mut connectwise_stats = None;
    let mut sophos_stats = None;
    let result = async {
        let cw = crate::connections::connectwise_client(store)
            .await
            .map_err(|e| e.to_string())?;
        let so = crate::connections::sophos_client(store)
            .await
            .map_err(|e| e.to_string())?;
        let out = run.until_lost(work(cw, so, run.clone())).await;
        Ok::<_, String>(out.map(|(r, cw, so)| {
            connectwise_stats = Some(cw.stats());
            sophos_stats = Some(so.stats());
            r
        }))
    }
    .await;
    let end = match &result {
        Ok(Some(Ok(r))) => end_of(r),
        Ok(Some(Err(e))) => RunEnd::failed(e.to_string()),
        Ok(None) => RunEnd::lease_lost(Job::Usage),
        Err(e) => RunEnd::failed(e.clone()),
    };
    if let Err(e) = run.finish(&end).await {
        tracing::warn!(error = %e, "cannot record the usage run");
    }
    let result = match result {
        Ok(Some(r)) => r.map_err(|e| e.to_string()),
        Ok(None) => Err(end.summary.clone()),
        Err(e) => Err(e),
    };
    Ok(Now {
        result,
        connectwise_stats,
        sophos_stats,
    })
}

/// Computes and saves the plan of `customers` (empty: every customer) now: the dashboard's
/// Preview. It writes nothing to ConnectWise, so it takes no lease.
pub async fn plan_now(
    store: &Store,
    customers: Vec<String>,
    mut opts: crate::job::StartOptions,
) -> Result<Now<Planned>, crate::job::StartError> {
    use crate::job::RunReport as _;
    opts.dry_run = true;
    let sync = SyncOptions {
        customers,
        ..SyncOptions::default()
    };
    in_run(
        store,
        opts,
        |p: &Planned| p.report.run_end(),
        |cw, so, run| async move {
            let r = plan(store, &cw, &so, &sync, &run).await;
            (r, cw, so)
        },
    )
    .await
}

/// Approves plan `id` now (the dashboard's Approve), holding the usage lease.
pub async fn approve_now(
    store: &Store,
    id: i64,
    mut opts: crate::job::StartOptions,
) -> Result<Now<Approval>, crate::job::StartError> {
    use crate::job::RunReport as _;
    opts.dry_run = false;
    in_run(
        store,
        opts,
        |a: &Approval| a.report.run_end(),
        |cw, so, run| async move {
            let r = approve(store, &cw, &so, id, &SyncOptions::default(), &run).await;
            (r, cw, so)
        },
    )
    .await
}
