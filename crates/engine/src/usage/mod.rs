//! Usage sync: each mapped MSP Flex customer's monthly Sophos licence usage becomes the quantities of
//! agreement additions in ConnectWise, one addition per (agreement, selected product).
//!
//! read (usage listing, agreements, one additions read per agreement) -> plan ([`plan::plan_agreement`],
//! pure) -> apply (each write journalled `planned -> started -> done/failed` before and after it runs;
//! a `started` create whose outcome was lost is settled by the next run from the agreement's
//! additions, never by a blind second POST).

pub mod bulk;
pub mod catalog;
pub mod messages;
pub mod plan;
pub mod reconcile;
pub mod removals;
pub mod saved;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use connectwise::{CwError, NewAddition};
use futures::TryStreamExt as _;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sophos::UsageEvent;

pub use catalog::{
    CatalogOutcome, CatalogSummary, ProductView, ensure_catalog_items, map_product, product_views,
    search_catalog, select_all, select_products, unmap_product,
};
pub use plan::{
    AgreementInput, Change, CurrentAddition, LinkedAddition, Op, OpKind, PlanFlags, ZeroUsage,
    plan_agreement,
};

use crate::ids::{AdditionId, AgreementId, BillingType, CatalogItemId, CompanyId, TenantId};
use crate::job::{Run, RunEnd, Tally};
use crate::products;
use crate::store::{
    AdditionLink, CoreStore as _, CustomerStatus, JournalKind, JournalState, MappingStore as _,
    NewAudit, NewJournalEntry, RunOutcome, Store, StoreError, UsageStore as _,
};

/// The job name in `sync_runs` and `customer_status`.
pub const JOB: &str = "usage";

/// Settings key of the zero-usage policy (`"quantity_zero"` or `"cancel"`).
pub const ZERO_USAGE_SETTING: &str = "usage.zero_usage";

/// Agreement ids per `id in (...)` listing call (keeps URLs short).
const AGREEMENT_CHUNK: usize = 200;

/// Why the usage sync (or a product operation) could not run at all. Per-customer failures are not
/// errors: they are in the report.
#[derive(Debug, thiserror::Error)]
pub enum UsageError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A ConnectWise call failed.
    #[error(transparent)]
    ConnectWise(#[from] CwError),
    /// A Sophos Central call failed.
    #[error(transparent)]
    Sophos(#[from] sophos::SophosError),
    /// The product identifier is not in the product table.
    #[error("{}", products::messages::unknown_product(.0))]
    UnknownProduct(String),
    /// No ConnectWise catalog item has the id or exact identifier given.
    #[error(
        "No ConnectWise catalog item `{0}` was found (give its numeric id or its exact identifier)."
    )]
    CatalogItemNotFound(String),
    /// The month given is not `YYYY-MM` (years 2000 to 2999).
    #[error("`{0}` is not a month: use YYYY-MM, e.g. 2026-11")]
    BadMonth(String),
    /// The customer filter matches no mapped customer with usage sync on.
    #[error("No customer matches `{0}` (give a tenant id or name, or a company id or name).")]
    NoSuchCustomer(String),
    /// A removal cannot be acknowledged or withdrawn as asked; the text says why and what to do.
    #[error("{0}")]
    Removal(String),
    /// A saved plan cannot be shown, approved or discarded as asked; the text says why and what
    /// to do.
    #[error("{0}")]
    Plan(String),
    /// The month asked for is earlier than the newest month synced, and `force` is off.
    #[error("{}", messages::month_backwards(*.month, *.last))]
    MonthBackwards {
        /// The month asked for.
        month: Month,
        /// The newest month a usage run got through.
        last: Month,
    },
}

/// A billing month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Month {
    /// The year, e.g. 2026.
    pub year: i16,
    /// The month of the year, 1 to 12.
    pub month: i8,
}

impl Month {
    /// Parses `YYYY-MM`.
    pub fn parse(text: &str) -> Result<Self, UsageError> {
        let bad = || UsageError::BadMonth(text.to_owned());
        let (y, m) = text.trim().split_once('-').ok_or_else(bad)?;
        let year: i16 = y.parse().map_err(|_| bad())?;
        let month: i8 = m.parse().map_err(|_| bad())?;
        if !(2000..=2999).contains(&year) || !(1..=12).contains(&month) {
            return Err(bad());
        }
        Ok(Self { year, month })
    }

    /// The month before the one `now` falls in (UTC): the last complete billing month.
    pub fn previous(now: Timestamp) -> Self {
        let d = jiff::tz::Offset::UTC.to_datetime(now).date();
        if d.month() == 1 {
            Self {
                year: d.year() - 1,
                month: 12,
            }
        } else {
            Self {
                year: d.year(),
                month: d.month() - 1,
            }
        }
    }

    /// 00:00 UTC on the first day: the effective date of additions.
    pub fn first_day(self) -> Timestamp {
        jiff::tz::Offset::UTC
            .to_timestamp(
                jiff::civil::date(self.year, self.month, 1)
                    .to_datetime(jiff::civil::Time::midnight()),
            )
            .unwrap_or(Timestamp::UNIX_EPOCH)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

/// One customer to sync, from the mapping.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageTarget {
    /// Sophos's id of the tenant.
    pub tenant_id: TenantId,
    /// The tenant's name in Sophos.
    pub tenant_name: String,
    /// Sophos `billingType` as last refreshed (`usage` = MSP Flex).
    pub billing_type: Option<BillingType>,
    /// The tenant is missing from the latest complete Sophos listing; the customer fails.
    pub tenant_gone: bool,
    /// ConnectWise's id of the company the tenant is mapped to.
    pub company_id: CompanyId,
    /// The company's name; `None` when the company is not in the store.
    pub company_name: Option<String>,
    /// ConnectWise's id of the agreement the additions go on; `None` when none is chosen (the
    /// customer fails).
    pub agreement_id: Option<AgreementId>,
}

/// The mapped customers with usage sync on.
pub async fn targets_from_store(store: &Store) -> Result<Vec<UsageTarget>, UsageError> {
    Ok(store
        .list_customers()
        .await?
        .into_iter()
        .filter_map(|c| {
            let m = c.mapping?;
            m.usage_sync.then(|| UsageTarget {
                tenant_id: c.tenant.id.clone(),
                tenant_name: c.tenant.name.clone(),
                billing_type: c.tenant.billing_type.clone(),
                tenant_gone: c.tenant.gone,
                company_id: m.company_id,
                company_name: c.company.map(|co| co.name),
                agreement_id: m.agreement_id,
            })
        })
        .collect())
}

/// Progress of a run: customers done of total.
pub type ProgressFn = Arc<dyn Fn(usize, usize) + Send + Sync>;

/// How to run the sync. Whether it is a dry run, who acts, and the crash-test hooks come from the
/// [`Run`] (the harness), the same for every job.
#[derive(Clone)]
pub struct SyncOptions {
    /// Default: the previous month.
    pub month: Option<Month>,
    /// Only customers matching one of these (tenant id/name, company id/name); empty = all.
    pub customers: Vec<String>,
    /// Recreate additions we made that were deleted in ConnectWise, instead of reporting them.
    pub recreate: bool,
    /// Sync a month earlier than the last one synced (it rewrites quantities back).
    pub force: bool,
    /// Cancel extra live additions that bill one product twice (keeping ours, else the oldest).
    pub repair: bool,
    /// Apply a plan even when its drop is over the guard's limits (a person said so).
    pub confirm: bool,
    /// The limits on how much a plan may lower the bills without `confirm`.
    pub guard: Guard,
    /// Customers processed at once (the clients bound the requests themselves).
    pub concurrency: usize,
    /// Called with (steps done, steps in all) as customers are planned, then applied; `None`
    /// reports nothing.
    pub progress: Option<ProgressFn>,
    /// Plan only, even in a run that may write: read and plan every customer, write nothing (not
    /// even customer statuses), so the plan can be saved for a person to approve.
    pub plan_only: bool,
    /// Apply only if the plan equals this saved one (approving it); otherwise refuse, naming
    /// what moved, and write nothing to ConnectWise.
    pub expect: Option<Arc<saved::Expected>>,
    /// How the agreements' additions are read: through the `AgreementAdditions` report or one
    /// REST read per agreement.
    pub additions: bulk::AdditionsRead,
}

/// Customers synced at once unless set: the same default at every door.
pub const DEFAULT_CONCURRENCY: usize = 8;

impl Default for SyncOptions {
    fn default() -> Self {
        Self {
            month: None,
            customers: Vec::new(),
            recreate: false,
            force: false,
            repair: false,
            confirm: false,
            guard: Guard::default(),
            concurrency: DEFAULT_CONCURRENCY,
            progress: None,
            plan_only: false,
            expect: None,
            additions: bulk::AdditionsRead::Auto,
        }
    }
}

impl std::fmt::Debug for SyncOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncOptions")
            .field("month", &self.month)
            .field("customers", &self.customers)
            .field("recreate", &self.recreate)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

/// Operation counts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Creates planned.
    pub created: usize,
    /// Quantity updates planned.
    pub updated: usize,
    /// Cancels planned (zero usage under the cancel policy, a product moved to another catalog
    /// item, or extra additions `repair` cancels).
    pub cancelled: usize,
    /// Adoptions planned of an addition we did not create.
    pub adopted: usize,
    /// Products whose addition is already right, or that need nothing.
    pub unchanged: usize,
    /// Products with several live additions that could be theirs; each fails the customer.
    pub conflicts: usize,
    /// Additions of ours deleted or cancelled in ConnectWise; each fails the customer.
    pub removed_in_cw: usize,
    /// Planned writes that failed when applied.
    pub failed: usize,
    /// Billing codes with usage that count toward no product.
    pub unmapped_codes: usize,
}

impl Counts {
    fn add_op(&mut self, kind: OpKind) {
        match kind {
            OpKind::Create => self.created += 1,
            OpKind::UpdateQuantity => self.updated += 1,
            OpKind::Cancel => self.cancelled += 1,
            OpKind::Adopt => self.adopted += 1,
            OpKind::Skip => self.unchanged += 1,
            OpKind::Conflict => self.conflicts += 1,
            OpKind::RemovedInCw => self.removed_in_cw += 1,
        }
    }

    fn merge(&mut self, o: &Counts) {
        self.created += o.created;
        self.updated += o.updated;
        self.cancelled += o.cancelled;
        self.adopted += o.adopted;
        self.unchanged += o.unchanged;
        self.conflicts += o.conflicts;
        self.removed_in_cw += o.removed_in_cw;
        self.failed += o.failed;
        self.unmapped_codes += o.unmapped_codes;
    }

    /// Planned writes (creates, updates, cancels, adoptions).
    pub fn writes(&self) -> usize {
        self.created + self.updated + self.cancelled + self.adopted
    }
}

/// A billing code with usage that counts toward no product.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnmappedCode {
    /// The Sophos billing product code.
    pub code: String,
    /// Sophos's description of the code, if the listing gave one.
    pub description: Option<String>,
    /// The code's usage in the month, summed over its lines.
    pub quantity: f64,
    /// The line that reports it to people.
    pub message: String,
}

/// How one customer's sync ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustomerOutcome {
    /// Nothing failed: the plan was applied (or, in a dry run, only made).
    Ok,
    /// A read or write failed, or the plan has conflicts or removals that need a person; `error`
    /// says which.
    Failed,
    /// Nothing to sync (not a monthly customer).
    Skipped,
    /// Nothing planned because a read gave no data (no data is not zero); `error` says why.
    Held,
    /// The run stopped before this customer finished (a stop was asked, or the crash-test hook).
    Interrupted,
}

/// One customer's part of the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerReport {
    /// Sophos's id of the tenant.
    pub tenant_id: TenantId,
    /// The tenant's name in Sophos.
    pub tenant_name: String,
    /// ConnectWise's id of the company the tenant is mapped to.
    pub company_id: CompanyId,
    /// The company's name; `None` when the company is not in the store.
    pub company_name: Option<String>,
    /// ConnectWise's id of the agreement the additions go on; `None` when none is chosen.
    pub agreement_id: Option<AgreementId>,
    /// How the customer's sync ended.
    pub outcome: CustomerOutcome,
    /// The operations planned for the agreement, in product order; empty when nothing was planned.
    pub ops: Vec<Op>,
    /// Billing codes with usage that count toward no product (reported, never dropped).
    pub unmapped: Vec<UnmappedCode>,
    /// What the plan does and what failed.
    pub counts: Counts,
    /// What went wrong (or why the customer is held); `None` when nothing did.
    pub error: Option<String>,
    /// What the user can do about the error; `None` when there is no error.
    pub advice: Option<String>,
    /// A remark that is not an error, e.g. why the customer was skipped.
    pub note: Option<String>,
    /// The unit price ConnectWise bills per product, from the product's addition on the
    /// agreement; a product without a live addition is absent.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub unit_prices: BTreeMap<String, f64>,
}

impl CustomerReport {
    fn new(target: &UsageTarget) -> Self {
        Self {
            tenant_id: target.tenant_id.clone(),
            tenant_name: target.tenant_name.clone(),
            company_id: target.company_id,
            company_name: target.company_name.clone(),
            agreement_id: target.agreement_id,
            outcome: CustomerOutcome::Ok,
            ops: Vec::new(),
            unmapped: Vec::new(),
            counts: Counts::default(),
            error: None,
            advice: None,
            note: None,
            unit_prices: BTreeMap::new(),
        }
    }

    /// Held for a person: nothing was planned, and why.
    fn held(target: &UsageTarget, error: String, advice: String) -> Self {
        let mut r = Self::new(target);
        r.outcome = CustomerOutcome::Held;
        r.error = Some(error);
        r.advice = Some(advice);
        r
    }
}

/// The whole run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncReport {
    /// The billing month synced.
    pub month: Month,
    /// The run only read and planned; nothing was written.
    pub dry_run: bool,
    /// The run row's id; `None` for a dry run.
    pub run_id: Option<i64>,
    /// The catalog item of each selected product: already linked, found or created.
    pub catalog: Vec<CatalogOutcome>,
    /// Selected products that have no catalog item (dry run: would be created).
    pub catalog_to_create: Vec<String>,
    /// Every customer's report: the held ones first.
    pub customers: Vec<CustomerReport>,
    /// Usage lines without a tenant (device subscriptions): not billed to a customer.
    pub lines_without_tenant: usize,
    /// Every customer's counts added up.
    pub counts: Counts,
    /// Customers that failed or were held.
    pub failed_customers: usize,
    /// Where the agreements' additions were read from (the report, or per agreement and why).
    pub additions: bulk::AdditionsSource,
    /// Approving a saved plan: what changed in Sophos or ConnectWise since it was computed (the
    /// plan was then not applied). Empty otherwise.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub moved: Vec<String>,
    /// The run stopped early: a stop was asked (Ctrl-C, shutdown) or the crash-test hook fired.
    pub stopped: bool,
    /// The crash-test hook fired (the run row stays "running", as after a real crash).
    #[serde(skip)]
    pub interrupted: bool,
    /// What the plan would take off the bills.
    pub blast: BlastRadius,
    /// Why the plan was not applied (too large a drop without `--confirm`).
    pub refused: Option<String>,
}

impl crate::job::RunReport for Result<SyncReport, UsageError> {
    fn run_end(&self) -> RunEnd {
        match self {
            Ok(r) => crate::job::RunReport::run_end(r),
            Err(e) => RunEnd::failed(e.to_string()),
        }
    }
}

impl crate::job::RunReport for SyncReport {
    fn run_end(&self) -> RunEnd {
        let c = &self.counts;
        let mut counts = serde_json::to_value(c).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut counts {
            m.insert("month".into(), json!(self.month.to_string()));
            m.insert("customers".into(), json!(self.customers.len()));
            m.insert("failed_customers".into(), json!(self.failed_customers));
        }
        let tally = Tally {
            customers: self.customers.len(),
            failed: self.failed_customers,
            stopped: self.stopped && !self.interrupted,
            interrupted: self.interrupted,
        };
        RunEnd::from_tally(tally, counts, messages::run_summary(self))
    }
}

impl SyncReport {
    /// Every planned operation, customer by customer.
    pub fn ops(&self) -> impl Iterator<Item = &Op> {
        self.customers.iter().flat_map(|c| c.ops.iter())
    }
}

/// The newest month a usage run got through (ok or partial), from the run rows.
pub async fn last_synced_month(store: &Store) -> Result<Option<Month>, UsageError> {
    Ok(store
        .list_sync_runs(Some(JOB), 200)
        .await?
        .into_iter()
        .filter(|r| matches!(r.outcome, RunOutcome::Ok | RunOutcome::Partial))
        .filter(|r| r.counts["customers"].as_u64().is_some_and(|n| n > 0))
        .filter_map(|r| {
            r.counts["month"]
                .as_str()
                .and_then(|m| Month::parse(m).ok())
        })
        .max())
}

/// The zero-usage policy from the settings.
pub async fn zero_usage_policy(store: &Store) -> Result<ZeroUsage, UsageError> {
    Ok(store
        .get_setting(ZERO_USAGE_SETTING)
        .await?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default())
}

/// Sets the zero-usage policy.
pub async fn set_zero_usage_policy(store: &Store, policy: ZeroUsage) -> Result<(), UsageError> {
    store
        .set_setting(
            ZERO_USAGE_SETTING,
            &serde_json::to_value(policy).unwrap_or(Value::Null),
        )
        .await?;
    Ok(())
}

fn matches_filter(t: &UsageTarget, filters: &[String]) -> bool {
    filters.is_empty()
        || filters.iter().any(|f| {
            let f = f.trim();
            t.tenant_id.eq_ignore_ascii_case(f)
                || t.tenant_name.eq_ignore_ascii_case(f)
                || t.company_id.to_string() == f
                || t.company_name
                    .as_deref()
                    .is_some_and(|n| n.eq_ignore_ascii_case(f))
        })
}

/// Per-tenant usage of the month: code -> (quantity, description).
type TenantUsage = BTreeMap<String, (f64, Option<String>)>;

/// Runs the usage sync for the mapped customers (see the module docs), as part of `run` (the
/// harness: lease, run row, hooks); the caller finishes the run with the report's
/// [`RunReport::run_end`](crate::job::RunReport::run_end).
pub async fn run(
    store: &Store,
    cw: &connectwise::Client,
    sophos: &sophos::Client,
    opts: &SyncOptions,
    run: &Run,
) -> Result<SyncReport, UsageError> {
    let targets = targets_from_store(store).await?;
    run_for(store, cw, sophos, targets, opts, run).await
}

/// [`run`] for the given customers.
#[tracing::instrument(skip_all, fields(job = JOB, run_id = ?run.id(), customers = targets.len()))]
pub async fn run_for(
    store: &Store,
    cw: &connectwise::Client,
    sophos: &sophos::Client,
    targets: Vec<UsageTarget>,
    opts: &SyncOptions,
    run: &Run,
) -> Result<SyncReport, UsageError> {
    let dry_run = run.is_dry_run() || opts.plan_only;
    let month = opts
        .month
        .unwrap_or_else(|| Month::previous(Timestamp::now()));
    let targets: Vec<UsageTarget> = targets
        .into_iter()
        .filter(|t| matches_filter(t, &opts.customers))
        .collect();
    if targets.is_empty()
        && let Some(f) = opts.customers.first()
    {
        return Err(UsageError::NoSuchCustomer(f.clone()));
    }
    if !opts.force
        && let Some(last) = last_synced_month(store).await?
        && month < last
    {
        return Err(UsageError::MonthBackwards { month, last });
    }
    let table = products::load_table(store).await?;
    let zero = zero_usage_policy(store).await?;
    let views = product_views(store).await?;
    let selected: Vec<String> = views
        .iter()
        .filter(|v| v.selected)
        .map(|v| v.identifier.clone())
        .collect();

    let wanted: BTreeSet<&str> = targets.iter().map(|t| t.tenant_id.as_str()).collect();
    let (mut open, mut links) = read_left_overs(store).await?;
    let mut agreement_ids: Vec<AgreementId> =
        targets.iter().filter_map(|t| t.agreement_id).collect();
    agreement_ids.sort();
    agreement_ids.dedup();
    // The reads overlap, since each waits mostly on its vendor: Sophos's usage listing beside
    // ConnectWise's catalog items, then its agreements beside the additions report.
    let connectwise_reads = async {
        // Catalog items of the selected products (looked up or created only when not linked yet).
        let catalog_outcomes =
            ensure_catalog_items(store, cw, &selected, run.actor(), dry_run).await?;
        // The additions of every agreement at once, when the report can be trusted.
        let mut catalog_ids: BTreeSet<i64> = catalog_outcomes
            .iter()
            .map(|c| c.catalog_item_id.get())
            .collect();
        catalog_ids.extend(
            links
                .values()
                .flat_map(|ls| ls.values())
                .map(|l| l.catalog_item_id.get()),
        );
        let (agreements, prefetched) = tokio::join!(
            read_agreements(cw, &targets),
            bulk::prefetch(cw, opts.additions, &agreement_ids, &catalog_ids)
        );
        Ok::<_, UsageError>((catalog_outcomes, agreements?, prefetched))
    };
    let (month_usage, connectwise_reads) = tokio::join!(
        MonthUsage::read(sophos, month, Some(&wanted)),
        connectwise_reads
    );
    let MonthUsage {
        mut usage,
        lines,
        lines_without_tenant,
        no_data,
        read,
    } = month_usage;
    let (
        catalog_outcomes,
        mut agreements,
        bulk::Prefetched {
            by_agreement: mut prefetched,
            source: additions_source,
        },
    ) = connectwise_reads?;
    let catalog: BTreeMap<String, CatalogItemId> = catalog_outcomes
        .iter()
        .map(|c| (c.product.clone(), c.catalog_item_id))
        .collect();
    let catalog_to_create: Vec<String> = selected
        .iter()
        .filter(|p| !catalog.contains_key(*p))
        .cloned()
        .collect();
    let mut acknowledged: HashMap<String, BTreeSet<String>> = HashMap::new();
    for a in store.removal_acks(None).await? {
        acknowledged
            .entry(a.tenant_id.to_string())
            .or_default()
            .insert(a.product);
    }

    // No data is not zero: a month Sophos has not published, a listing that failed, an empty
    // listing after billed months, or a billed customer missing from the listing plans nothing.
    let billed_before = |t: &UsageTarget| -> f64 {
        t.agreement_id
            .and_then(|a| links.get(&a))
            .map(|ls| {
                ls.values()
                    .filter(|l| !l.cancelled_by_us)
                    .map(|l| l.quantity)
                    .sum()
            })
            .unwrap_or(0.0)
    };
    let whole_run_held: Option<(String, String)> = match &read {
        Err(e) => Some(messages::usage_read_failed(month, &e.to_string())),
        Ok(()) if no_data => Some(messages::no_data(month)),
        Ok(()) if lines == 0 && targets.iter().any(|t| billed_before(t) > 0.0) => {
            Some(messages::empty_listing(month))
        }
        Ok(()) => None,
    };
    // What is billed now over every agreement we manage (not only this run's customers, so a
    // one-customer sync is weighed against the whole bill): the total a drop is weighed against.
    let billed_total: f64 = links
        .values()
        .flat_map(|ls| ls.values())
        .filter(|l| !l.cancelled_by_us)
        .map(|l| l.quantity)
        .sum();
    let mut held: Vec<CustomerReport> = Vec::new();
    let targets: Vec<UsageTarget> = targets
        .into_iter()
        .filter_map(|t| {
            let monthly = t.billing_type.as_ref().is_none_or(BillingType::is_monthly);
            let reason = match &whole_run_held {
                Some(r) => Some(r.clone()),
                None if monthly
                    && !usage.contains_key(t.tenant_id.as_str())
                    && billed_before(&t) > 0.0 =>
                {
                    Some(messages::tenant_missing(month, billed_before(&t)))
                }
                None => None,
            };
            match reason {
                Some((error, advice)) => {
                    held.push(CustomerReport::held(&t, error, advice));
                    None
                }
                None => Some(t),
            }
        })
        .collect();

    let shared = Arc::new(Shared {
        store: store.clone(),
        cw: cw.clone(),
        month,
        zero,
        flags: PlanFlags {
            recreate: opts.recreate,
            repair: opts.repair,
        },
        dry_run,
        actor: run.actor().to_owned(),
        run_id: run.id(),
        run: run.clone(),
        stopped: AtomicBool::new(false),
        selected: selected.clone(),
        catalog,
        table,
        acknowledged,
        statuses: std::sync::Mutex::new(Vec::new()),
    });
    // Each customer's inputs, moved out of the shared maps (nothing is copied).
    let work: Vec<_> = targets
        .into_iter()
        .map(|target| {
            let tenant_usage = usage.remove(target.tenant_id.as_str()).unwrap_or_default();
            let agreement = target.agreement_id.and_then(|id| agreements.remove(&id));
            let agreement_links = target
                .agreement_id
                .and_then(|id| links.remove(&id))
                .unwrap_or_default();
            let left_over = target
                .agreement_id
                .and_then(|id| open.remove(&id))
                .unwrap_or_default();
            let read = target
                .agreement_id
                .zip(prefetched.as_mut())
                .and_then(|(id, p)| p.remove(&id));
            (
                target,
                tenant_usage,
                agreement,
                agreement_links,
                left_over,
                read,
            )
        })
        .collect();
    let who: Vec<UsageTarget> = work.iter().map(|w| w.0.clone()).collect();
    let Phases {
        results,
        blast,
        refusal,
        moved,
    } = plan_then_apply(&shared, work, &held, opts, billed_total).await;
    for r in &held {
        if let Err(e) = shared.write_status(r).await {
            tracing::error!("could not record the usage status of {}: {e}", r.tenant_id);
        }
    }
    // The listing failed: the customers' statuses say so; the run fails with the error.
    read?;
    let customers = collect_reports(&shared, held, who, results).await;
    let mut counts = Counts::default();
    for c in &customers {
        counts.merge(&c.counts);
    }
    let failed_customers = customers
        .iter()
        .filter(|c| matches!(c.outcome, CustomerOutcome::Failed | CustomerOutcome::Held))
        .count();
    let interrupted = shared.stopped.load(Ordering::SeqCst);
    let stopped = interrupted
        || customers
            .iter()
            .any(|c| c.outcome == CustomerOutcome::Interrupted);
    Ok(SyncReport {
        month,
        dry_run,
        run_id: run.id(),
        catalog: catalog_outcomes,
        catalog_to_create,
        customers,
        lines_without_tenant,
        counts,
        failed_customers,
        stopped,
        interrupted,
        blast,
        refused: refusal.map(|(e, _)| e),
        additions: additions_source,
        moved,
    })
}

/// One month's usage as Sophos lists it, only our customers' lines, summed per product code.
struct MonthUsage {
    usage: HashMap<String, TenantUsage>,
    lines: usize,
    lines_without_tenant: usize,
    no_data: bool,
    /// How the listing ended: a failure holds every customer (no data is not zero).
    read: Result<(), UsageError>,
}

impl MonthUsage {
    /// One key-paged listing of the month's usage.
    /// Only the tenants in `wanted`, when given.
    async fn read(sophos: &sophos::Client, month: Month, wanted: Option<&BTreeSet<&str>>) -> Self {
        let mut m = MonthUsage {
            usage: HashMap::new(),
            lines: 0,
            lines_without_tenant: 0,
            no_data: false,
            read: Ok(()),
        };
        let mut stream = std::pin::pin!(sophos.usage_events(month.year, month.month));
        loop {
            let line = match stream.try_next().await {
                Ok(None) => break,
                Ok(Some(UsageEvent::NoData)) => {
                    m.no_data = true;
                    continue;
                }
                Ok(Some(UsageEvent::Line(l))) => l,
                Err(e) => {
                    m.read = Err(e.into());
                    break;
                }
            };
            m.lines += 1;
            let Some(tenant) = line.tenant_id.as_deref() else {
                m.lines_without_tenant += 1;
                continue;
            };
            if wanted.is_some_and(|w| !w.contains(tenant)) {
                continue;
            }
            let code = line.product_code.clone().unwrap_or_default();
            let entry = m
                .usage
                .entry(tenant.to_owned())
                .or_default()
                .entry(products::normalize_code(&code))
                .or_insert((0.0, line.description.clone()));
            // A line without a quantity is not a line at zero: it counts nothing.
            if let Some(q) = line.billable_quantity {
                entry.0 += q as f64;
            }
        }
        m
    }
}

/// Statuses of customers with nothing to write go to the store this many at a time.
const STATUS_BATCH: usize = 250;

/// Agreement listings by id sent at once.
const AGREEMENT_READS_AT_ONCE: usize = 4;

/// ConnectWise: the mapped agreements, in as few calls as it takes. By id, a few hundred per
/// listing (the URL stays short), several listings at once; or, when the whole agreement list
/// takes fewer pages than that (one count call tells), every agreement, keeping the mapped ones.
async fn read_agreements(
    cw: &connectwise::Client,
    targets: &[UsageTarget],
) -> Result<HashMap<AgreementId, connectwise::AgreementSummary>, UsageError> {
    let mut agreement_ids: Vec<i64> = targets
        .iter()
        .filter_map(|t| t.agreement_id.map(AgreementId::get))
        .collect();
    agreement_ids.sort_unstable();
    agreement_ids.dedup();
    let chunks = agreement_ids.len().div_ceil(AGREEMENT_CHUNK);
    let mut agreements = HashMap::new();
    // A count ConnectWise refuses only means reading by id.
    if chunks > 2
        && let Ok(total) = cw.count_agreements(()).await
        && list_every_agreement(agreement_ids.len(), total, cw.page_size())
    {
        let wanted: BTreeSet<i64> = agreement_ids.iter().copied().collect();
        let mut s = cw.agreement_summaries();
        while let Some(a) = s.try_next().await? {
            if wanted.contains(&a.id) {
                agreements.insert(AgreementId::new(a.id), a);
            }
        }
        return Ok(agreements);
    }
    for batch in agreement_ids.chunks(AGREEMENT_CHUNK * AGREEMENT_READS_AT_ONCE) {
        let chunks: Vec<Vec<i64>> = batch.chunks(AGREEMENT_CHUNK).map(<[i64]>::to_vec).collect();
        let reads = futures::future::join_all(chunks.into_iter().map(|chunk| {
            let cw = cw.clone();
            async move {
                cw.agreement_summaries_by_ids(&chunk)
                    .try_collect::<Vec<_>>()
                    .await
            }
        }))
        .await;
        for read in reads {
            for a in read? {
                agreements.insert(AgreementId::new(a.id), a);
            }
        }
    }
    Ok(agreements)
}

/// Whether listing all `total` agreements (pages of `page_size`) takes fewer calls than listing
/// the `mapped` ones by id, counting the count call it took to know.
fn list_every_agreement(mapped: usize, total: i64, page_size: u32) -> bool {
    let by_id = mapped.div_ceil(AGREEMENT_CHUNK);
    let pages = usize::try_from(total.max(0))
        .unwrap_or(usize::MAX)
        .div_ceil(page_size.max(1) as usize);
    pages.max(1) < by_id
}

/// Journal entries left open by an interrupted run, and the additions we manage, by agreement.
type LeftOvers = (
    HashMap<AgreementId, Vec<crate::store::JournalEntry>>,
    HashMap<AgreementId, BTreeMap<String, AdditionLink>>,
);

async fn read_left_overs(store: &Store) -> Result<LeftOvers, UsageError> {
    let mut open: HashMap<AgreementId, Vec<crate::store::JournalEntry>> = HashMap::new();
    for e in store.journal_open().await? {
        open.entry(e.agreement_id).or_default().push(e);
    }
    let mut links: HashMap<AgreementId, BTreeMap<String, AdditionLink>> = HashMap::new();
    for l in store.list_addition_links(None).await? {
        links
            .entry(l.agreement_id)
            .or_default()
            .insert(l.product.clone(), l);
    }
    Ok((open, links))
}

/// One customer's inputs: the target, its usage, its agreement, the additions we manage on it
/// and the journal entries an interrupted run left.
type CustomerWork = (
    UsageTarget,
    TenantUsage,
    Option<connectwise::AgreementSummary>,
    BTreeMap<String, AdditionLink>,
    Vec<crate::store::JournalEntry>,
    Option<Vec<connectwise::AdditionState>>,
);

type TaskResult = Result<CustomerReport, crate::job::Panicked>;

/// What planning then applying came to.
struct Phases {
    /// Each customer's result, in the order of the work.
    results: Vec<TaskResult>,
    /// What the whole plan takes off the bills.
    blast: BlastRadius,
    /// Why nothing was applied (error, advice): a drop too large, or a saved plan that moved.
    refusal: Option<(String, String)>,
    /// Approving a saved plan: what moved since it was computed.
    moved: Vec<String>,
}

/// Phase 1 reads and plans every customer; the whole plan is weighed (large drops need a
/// person) before phase 2 applies it. Results are in the order of `work`.
async fn plan_then_apply(
    shared: &Arc<Shared>,
    work: Vec<CustomerWork>,
    held: &[CustomerReport],
    opts: &SyncOptions,
    billed_total: f64,
) -> Phases {
    let dry_run = shared.dry_run;
    let progress = opts.progress.clone();
    // Phase 1: read and plan every customer.
    let planned = crate::job::fan_out(
        work,
        opts.concurrency,
        |done, total| {
            if let Some(p) = &progress {
                p(done, total.max(1) * 2);
            }
        },
        |(target, tenant_usage, agreement, agreement_links, left_over, read)| {
            let shared = shared.clone();
            async move {
                shared
                    .customer(
                        target,
                        tenant_usage,
                        agreement,
                        (agreement_links, read),
                        left_over,
                    )
                    .await
            }
        },
    )
    .await;
    shared.flush_statuses().await;
    // Large drops need a person: the whole plan is weighed before anything is applied.
    let plans: Vec<&CustomerReport> = planned
        .iter()
        .filter_map(|r| r.as_ref().ok())
        .filter(|(_, pending)| pending.is_some())
        .map(|(r, _)| r)
        .collect();
    let blast = BlastRadius::of(plans.iter().copied(), billed_total);
    // Approving a saved plan: the plan made now must be the one a person approved.
    let moved = match &opts.expect {
        Some(expected) => {
            let now: Vec<saved::PlanCustomer> = held
                .iter()
                .chain(
                    planned
                        .iter()
                        .filter_map(|r| r.as_ref().ok().map(|(r, _)| r)),
                )
                .map(|r| saved::PlanCustomer::of(r, &BTreeMap::new()))
                .collect();
            let mut moved = saved::moved(&expected.customers, &now);
            if planned.iter().any(Result::is_err) {
                moved.push(messages::plan_task_panicked());
            }
            moved
        }
        None => Vec::new(),
    };
    let refusal = if moved.is_empty() {
        (!dry_run && !opts.confirm)
            .then(|| blast.refusal(&opts.guard))
            .flatten()
    } else {
        Some(messages::plan_moved(moved.len()))
    };
    let mut results: Vec<Result<CustomerReport, crate::job::Panicked>> = Vec::new();
    let mut to_apply = Vec::new();
    for (i, r) in planned.into_iter().enumerate() {
        match r {
            Ok((report, Some(input))) => match &refusal {
                Some((error, advice)) => {
                    let mut report = report;
                    report.outcome = CustomerOutcome::Held;
                    report.error = Some(error.clone());
                    report.advice = Some(advice.clone());
                    shared.finish(&report).await;
                    results.push(Ok(report));
                }
                None => {
                    to_apply.push((i, report, input));
                    results.push(Err(crate::job::Panicked {
                        message: String::new(),
                    }));
                }
            },
            Ok((report, None)) => results.push(Ok(report)),
            Err(p) => results.push(Err(p)),
        }
    }
    // Phase 2: apply.
    let index: Vec<usize> = to_apply.iter().map(|(i, _, _)| *i).collect();
    let total = results.len();
    let applied = crate::job::fan_out(
        to_apply
            .into_iter()
            .map(|(_, report, input)| (report, input))
            .collect(),
        opts.concurrency,
        |done, _| {
            if let Some(p) = &progress {
                p(total + done, total.max(1) * 2);
            }
        },
        |(report, input)| {
            let shared = shared.clone();
            async move { shared.apply(report, input).await }
        },
    )
    .await;
    for (i, r) in index.into_iter().zip(applied) {
        results[i] = r;
    }
    if let Some(p) = &progress {
        p(total.max(1) * 2, total.max(1) * 2);
    }
    Phases {
        results,
        blast,
        refusal,
        moved,
    }
}

/// Every customer's report: the held ones first, then each task's (a panicked task's customer
/// is recorded as failed).
async fn collect_reports(
    shared: &Shared,
    held: Vec<CustomerReport>,
    who: Vec<UsageTarget>,
    results: Vec<TaskResult>,
) -> Vec<CustomerReport> {
    let mut customers = held;
    for (target, result) in who.into_iter().zip(results) {
        match result {
            Ok(report) => customers.push(report),
            Err(p) => {
                let (error, advice) = crate::job::messages::panicked(&p.message);
                tracing::error!(tenant = %target.tenant_id, "usage sync task panicked: {}", p.message);
                let mut report = CustomerReport::new(&target);
                report.outcome = CustomerOutcome::Failed;
                report.error = Some(error);
                report.advice = Some(advice);
                if let Err(e) = shared.write_status(&report).await {
                    tracing::error!(
                        "could not record the usage status of {}: {e}",
                        target.tenant_id
                    );
                }
                customers.push(report);
            }
        }
    }
    customers
}

/// What every customer task shares.
struct Shared {
    store: Store,
    cw: connectwise::Client,
    month: Month,
    zero: ZeroUsage,
    flags: PlanFlags,
    dry_run: bool,
    actor: String,
    run_id: Option<i64>,
    run: Run,
    /// The crash-test hook fired: every task stops where it is.
    stopped: AtomicBool,
    selected: Vec<String>,
    catalog: BTreeMap<String, CatalogItemId>,
    table: products::ProductTable,
    /// Acknowledged removals by tenant id: read once per run.
    acknowledged: HashMap<String, BTreeSet<String>>,
    /// Statuses of customers finished while planning (nothing to write), written in batches.
    statuses: std::sync::Mutex<Vec<CustomerStatus>>,
}

impl Shared {
    /// Phase 1: read and plan one customer. A customer with writes to make comes back with what
    /// applying them needs; every other one is finished here (status written).
    #[tracing::instrument(skip_all, fields(tenant_id = %target.tenant_id))]
    async fn customer(
        &self,
        target: UsageTarget,
        usage: TenantUsage,
        agreement: Option<connectwise::AgreementSummary>,
        (links, read): (
            BTreeMap<String, AdditionLink>,
            Option<Vec<connectwise::AdditionState>>,
        ),
        left_over: Vec<crate::store::JournalEntry>,
    ) -> (CustomerReport, Option<ApplyInput>) {
        let mut report = CustomerReport::new(&target);
        if self.stopped.load(Ordering::SeqCst) || self.run.should_stop() {
            report.outcome = CustomerOutcome::Interrupted;
            return (report, None);
        }
        self.run.panic_hook(&target.tenant_id);
        let pending = match self
            .plan_customer(
                &target,
                usage,
                agreement,
                (links, read),
                left_over,
                &mut report,
            )
            .await
        {
            Ok(p) => p,
            Err(f) => {
                report.fail(f);
                None
            }
        };
        if pending.is_none() {
            self.finish_later(&report).await;
        }
        (report, pending)
    }

    /// Phase 2: apply one customer's planned writes.
    #[tracing::instrument(skip_all, fields(tenant_id = %report.tenant_id))]
    async fn apply(&self, mut report: CustomerReport, input: ApplyInput) -> CustomerReport {
        if let Err(f) = self.apply_customer(input, &mut report).await {
            report.fail(f);
        }
        tracing::info!(
            outcome = ?report.outcome,
            created = report.counts.created,
            updated = report.counts.updated,
            cancelled = report.counts.cancelled,
            "usage applied"
        );
        self.finish(&report).await;
        report
    }

    /// Writes a finished customer's status (not for an interrupted customer or a dry run).
    async fn finish(&self, report: &CustomerReport) {
        if report.outcome == CustomerOutcome::Interrupted || self.dry_run {
            return;
        }
        if let Err(e) = self.write_status(report).await {
            tracing::error!(
                "could not record the usage status of {}: {e}",
                report.tenant_id
            );
        }
    }

    /// [`Self::finish`] for a customer with nothing to write: its status joins the next batch.
    async fn finish_later(&self, report: &CustomerReport) {
        if report.outcome == CustomerOutcome::Interrupted || self.dry_run {
            return;
        }
        let full = {
            let mut buffered = self
                .statuses
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            buffered.push(self.status_of(report));
            buffered.len() >= STATUS_BATCH
        };
        if full {
            self.flush_statuses().await;
        }
    }

    /// Writes the buffered statuses, one transaction.
    async fn flush_statuses(&self) {
        let batch = std::mem::take(
            &mut *self
                .statuses
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        );
        if batch.is_empty() {
            return;
        }
        if let Err(e) = self.run.record_customers(&batch).await {
            tracing::error!(
                "could not record the usage status of {} customers: {e}",
                batch.len()
            );
        }
    }

    async fn write_status(&self, r: &CustomerReport) -> Result<(), StoreError> {
        self.run.record_customer(&self.status_of(r)).await
    }

    fn status_of(&self, r: &CustomerReport) -> CustomerStatus {
        let mut counts = serde_json::to_value(&r.counts).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut counts {
            m.insert("month".into(), json!(self.month.to_string()));
            m.insert("tenant_name".into(), json!(r.tenant_name));
            m.insert("company_name".into(), json!(r.company_name));
            m.insert("company_id".into(), json!(r.company_id));
            m.insert("agreement_id".into(), json!(r.agreement_id));
            m.insert("outcome".into(), json!(r.outcome));
            if let Some(n) = &r.note {
                m.insert("note".into(), json!(n));
            }
            if !r.unmapped.is_empty() {
                m.insert(
                    "unmapped".into(),
                    json!(r.unmapped.iter().map(|u| &u.message).collect::<Vec<_>>()),
                );
            }
        }
        CustomerStatus {
            tenant_id: r.tenant_id.clone(),
            job: JOB.to_owned(),
            last_run_at: Timestamp::now(),
            ok: !matches!(r.outcome, CustomerOutcome::Failed | CustomerOutcome::Held),
            counts,
            error: r.error.clone(),
            advice: r.advice.clone(),
        }
    }

    async fn plan_customer(
        &self,
        target: &UsageTarget,
        usage: TenantUsage,
        agreement: Option<connectwise::AgreementSummary>,
        (links, read): (
            BTreeMap<String, AdditionLink>,
            Option<Vec<connectwise::AdditionState>>,
        ),
        left_over: Vec<crate::store::JournalEntry>,
        report: &mut CustomerReport,
    ) -> Result<Option<ApplyInput>, Failure> {
        if target.tenant_gone {
            return Err(Failure::from(messages::tenant_gone(&target.tenant_id)));
        }
        if let Some(b) = &target.billing_type
            && !b.is_monthly()
        {
            report.outcome = CustomerOutcome::Skipped;
            report.note = Some(messages::not_monthly(b.as_str()));
            return Ok(None);
        }
        let Some(agreement_id) = target.agreement_id else {
            return Err(Failure::from(messages::no_agreement()));
        };
        let Some(agreement) = agreement else {
            return Err(Failure::from(messages::agreement_missing(agreement_id)));
        };
        if let Some(status) = agreement.inactive {
            return Err(Failure::from(messages::agreement_not_active(
                agreement_id,
                status,
            )));
        }

        // Desired quantities per selected product; unknown codes are reported, never dropped.
        let mut desired: BTreeMap<String, f64> =
            self.selected.iter().map(|p| (p.clone(), 0.0)).collect();
        for (code, (qty, description)) in &usage {
            match self.table.product_for_code(code) {
                Some(p) => {
                    if let Some(d) = desired.get_mut(&p.identifier) {
                        *d += qty;
                    }
                }
                None => report.unmapped.push(UnmappedCode {
                    code: code.clone(),
                    description: description.clone(),
                    quantity: *qty,
                    message: messages::unmapped_code(code, *qty, description.as_deref()),
                }),
            }
        }
        report.counts.unmapped_codes = report.unmapped.len();

        // The agreement's additions: read ahead from the report, or one read now.
        let states = match read {
            Some(s) => s,
            None => self
                .cw
                .addition_states(agreement_id.get())
                .await
                .map_err(|e| Failure::cw(&e, agreement_id))?,
        };
        report.unit_prices = unit_prices(&states, &self.catalog, &links);
        let additions: Vec<CurrentAddition> = states
            .into_iter()
            .map(|a| CurrentAddition {
                id: AdditionId::new(a.id),
                catalog_item_id: CatalogItemId::new(a.catalog_item_id),
                quantity: a.quantity,
                cancelled: a.cancelled,
            })
            .collect();
        let in_doubt: BTreeSet<String> = left_over
            .iter()
            .filter(|e| {
                e.state == JournalState::Started
                    && matches!(e.kind, JournalKind::Create | JournalKind::Adopt)
            })
            .map(|e| e.product.clone())
            .collect();
        let input = AgreementInput {
            tenant_id: target.tenant_id.clone(),
            agreement_id,
            desired,
            catalog: self.catalog.clone(),
            additions,
            links: links
                .iter()
                .map(|(product, l)| (product.clone(), linked_addition(l)))
                .collect(),
            in_doubt,
            acknowledged_removals: self
                .acknowledged
                .get(target.tenant_id.as_str())
                .cloned()
                .unwrap_or_default(),
        };
        let ops = plan_agreement(&input, self.zero, self.flags);
        for op in &ops {
            report.counts.add_op(op.kind());
        }
        report.ops = ops;
        if self.dry_run {
            return self.verdict(report).map(|()| None);
        }
        // A real run made every selected product's catalog item before planning.
        if let Some(op) = report
            .ops
            .iter()
            .find(|o| matches!(o.change, Change::CreateWithNewCatalogItem { .. }))
        {
            return Err(Failure::from(messages::catalog_item_missing(&op.product)));
        }

        if !report.ops.iter().any(Op::is_write) && left_over.is_empty() {
            return self.verdict(report).map(|()| None);
        }
        Ok(Some(ApplyInput {
            agreement_id,
            links,
            left_over,
        }))
    }

    async fn apply_customer(
        &self,
        input: ApplyInput,
        report: &mut CustomerReport,
    ) -> Result<(), Failure> {
        let ApplyInput {
            agreement_id,
            links,
            left_over,
        } = input;
        let writes: Vec<&Op> = report.ops.iter().filter(|o| o.is_write()).collect();
        let entries: Vec<NewJournalEntry> = writes
            .iter()
            .filter_map(|o| {
                Some(NewJournalEntry {
                    run_id: self.run_id,
                    tenant_id: o.tenant_id.clone(),
                    agreement_id: o.agreement_id,
                    product: o.product.clone(),
                    kind: journal_kind(o.kind())?,
                    addition_id: o.addition_id(),
                    before_qty: o.before(),
                    after_qty: Some(o.after()),
                    reason: o.reason.clone(),
                })
            })
            .collect();
        let ids = if entries.is_empty() {
            Vec::new()
        } else {
            self.store
                .journal_plan(&entries)
                .await
                .map_err(Failure::store)?
        };
        // The left-overs are now settled by this plan (it was made from what ConnectWise has).
        let settled: Vec<i64> = left_over.iter().map(|e| e.id).collect();
        if !settled.is_empty() {
            self.store
                .journal_resolve(&settled)
                .await
                .map_err(Failure::store)?;
        }
        let mut first_error: Option<Failure> = None;
        let writes: Vec<Op> = writes.into_iter().cloned().collect();
        for (op, id) in writes.iter().zip(ids) {
            // A stop (signal, shutdown, lost lease) lets the operation in flight finish, never
            // starts the next; the journal makes the next run finish the customer.
            if self.stopped.load(Ordering::SeqCst) || self.run.should_stop() {
                report.outcome = CustomerOutcome::Interrupted;
                return Ok(());
            }
            if self.run.step().is_err() {
                self.stopped.store(true, Ordering::SeqCst);
                report.outcome = CustomerOutcome::Interrupted;
                if self.run.crash_inside() {
                    // The call happens; its outcome is never recorded.
                    self.store.journal_start(id).await.map_err(Failure::store)?;
                    let _ = self.execute(op, links.get(&op.product)).await;
                }
                return Ok(());
            }
            self.store.journal_start(id).await.map_err(Failure::store)?;
            match self.execute(op, links.get(&op.product)).await {
                Ok((link, audit)) => {
                    self.store
                        .journal_finish(
                            id,
                            JournalState::Done,
                            Some(link.addition_id),
                            None,
                            Some(&link),
                            Some(&audit),
                        )
                        .await
                        .map_err(Failure::store)?;
                }
                Err(e) => {
                    let failure = Failure::cw(&e, agreement_id);
                    self.store
                        .journal_finish(
                            id,
                            JournalState::Failed,
                            None,
                            Some((e.kind(), &e.to_string())),
                            None,
                            None,
                        )
                        .await
                        .map_err(Failure::store)?;
                    report.counts.failed += 1;
                    first_error.get_or_insert(failure);
                }
            }
        }
        if let Some(f) = first_error {
            return Err(f);
        }
        self.verdict(report)
    }

    /// Conflicts and removals fail the customer (they need a person); the rest is ok.
    fn verdict(&self, report: &CustomerReport) -> Result<(), Failure> {
        if report.counts.conflicts > 0 {
            return Err(Failure::from(messages::conflicts(report.counts.conflicts)));
        }
        if report.counts.removed_in_cw > 0 {
            return Err(Failure::from(messages::removed(
                report.counts.removed_in_cw,
            )));
        }
        Ok(())
    }

    /// Runs one write against ConnectWise; returns the link it leaves and its audit entry. Only
    /// writes ([`Op::is_write`]) reach here.
    #[tracing::instrument(skip_all, fields(tenant_id = %op.tenant_id, agreement_id = %op.agreement_id, product = %op.product, kind = op.kind().as_str()))]
    async fn execute(
        &self,
        op: &Op,
        link: Option<&AdditionLink>,
    ) -> Result<(AdditionLink, NewAudit), CwError> {
        let new_link =
            |addition_id: AdditionId, catalog_item_id: CatalogItemId, quantity: f64| AdditionLink {
                agreement_id: op.agreement_id,
                product: op.product.clone(),
                tenant_id: op.tenant_id.clone(),
                addition_id,
                catalog_item_id,
                created_by_us: link.is_none_or(|l| l.created_by_us),
                quantity,
                cancelled_by_us: false,
            };
        let (new_link, action) = match op.change {
            Change::Create {
                catalog_item_id,
                after,
            } => {
                let addition = NewAddition {
                    catalog_item_id: catalog_item_id.get(),
                    quantity: after,
                    effective_date: self.month.first_day(),
                    description: self.table.get(&op.product).map(|p| p.description.clone()),
                };
                let addition_id = AdditionId::new(
                    self.cw
                        .add_billable_addition(op.agreement_id.get(), &addition)
                        .await?,
                );
                let l = AdditionLink {
                    created_by_us: true,
                    ..new_link(addition_id, catalog_item_id, after)
                };
                (l, crate::audit::AuditKind::UsageCreateAddition)
            }
            Change::UpdateQuantity {
                addition_id,
                catalog_item_id,
                after,
                ..
            } => {
                self.cw
                    .set_addition_quantity(op.agreement_id.get(), addition_id.get(), after)
                    .await?;
                (
                    new_link(addition_id, catalog_item_id, after),
                    crate::audit::AuditKind::UsageUpdateQuantity,
                )
            }
            Change::Cancel {
                addition_id,
                catalog_item_id,
                before,
            } => {
                self.cw
                    .cancel_addition(
                        op.agreement_id.get(),
                        addition_id.get(),
                        self.month.first_day(),
                    )
                    .await?;
                let l = AdditionLink {
                    cancelled_by_us: true,
                    ..new_link(addition_id, catalog_item_id, before)
                };
                (l, crate::audit::AuditKind::UsageCancelAddition)
            }
            Change::Adopt {
                addition_id,
                catalog_item_id,
                ours,
                before,
                after,
            } => {
                if (before - after).abs() >= 1e-9 {
                    self.cw
                        .set_addition_quantity(op.agreement_id.get(), addition_id.get(), after)
                        .await?;
                }
                let l = AdditionLink {
                    created_by_us: ours,
                    ..new_link(addition_id, catalog_item_id, after)
                };
                (l, crate::audit::AuditKind::UsageAdoptAddition)
            }
            Change::CreateWithNewCatalogItem { .. }
            | Change::Conflict { .. }
            | Change::RemovedInCw { .. }
            | Change::Skip { .. } => {
                return Err(CwError::Decode {
                    path: format!("finance/agreements/{}/additions", op.agreement_id),
                    message: format!("`{}` is not a write", op.kind().as_str()),
                });
            }
        };
        let cancelled = matches!(op.change, Change::Cancel { .. });
        let audit = NewAudit {
            at: Timestamp::now(),
            actor: self.actor.clone(),
            action,
            subject: format!("agreement:{}/product:{}", op.agreement_id, op.product),
            before: Some(json!({"quantity": op.before(), "addition_id": op.addition_id()})),
            after: Some(json!({
                "quantity": new_link.quantity,
                "addition_id": new_link.addition_id,
                "cancelled": cancelled,
            })),
            reason: format!(
                "{} (tenant {}, month {})",
                op.reason, op.tenant_id, self.month
            ),
        };
        Ok((new_link, audit))
    }
}

/// The unit price of each product's live addition: ours when we manage one, else the first
/// live addition billing the product's catalog item.
fn unit_prices(
    states: &[connectwise::AdditionState],
    catalog: &BTreeMap<String, CatalogItemId>,
    links: &BTreeMap<String, AdditionLink>,
) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for (product, item) in catalog {
        let ours = links.get(product).map(|l| l.addition_id.get());
        let live = states.iter().filter(|a| !a.cancelled);
        let pick = live
            .clone()
            .find(|a| Some(a.id) == ours)
            .or_else(|| live.clone().find(|a| a.catalog_item_id == item.get()));
        if let Some(price) = pick.and_then(|a| a.unit_price) {
            out.insert(product.clone(), price);
        }
    }
    out
}

/// What the planner needs of one of our links.
fn linked_addition(l: &AdditionLink) -> LinkedAddition {
    LinkedAddition {
        addition_id: l.addition_id,
        catalog_item_id: l.catalog_item_id,
        quantity: l.quantity,
        cancelled_by_us: l.cancelled_by_us,
    }
}

/// The journal row kind of a write; `None` for what writes nothing.
fn journal_kind(kind: OpKind) -> Option<JournalKind> {
    match kind {
        OpKind::Create => Some(JournalKind::Create),
        OpKind::UpdateQuantity => Some(JournalKind::UpdateQuantity),
        OpKind::Cancel => Some(JournalKind::Cancel),
        OpKind::Adopt => Some(JournalKind::Adopt),
        OpKind::Conflict | OpKind::RemovedInCw | OpKind::Skip => None,
    }
}

/// What applying a customer's plan needs besides the plan.
struct ApplyInput {
    agreement_id: AgreementId,
    links: BTreeMap<String, AdditionLink>,
    left_over: Vec<crate::store::JournalEntry>,
}

impl CustomerReport {
    fn fail(&mut self, Failure { error, advice }: Failure) {
        self.outcome = CustomerOutcome::Failed;
        self.error = Some(error);
        self.advice = Some(advice);
    }
}

/// The limits past which a plan's drop in billed quantities waits for a person.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Guard {
    /// Largest share of the billed total a plan may take off (0.3 = 30 %).
    pub max_drop_share: f64,
    /// Most customers a plan may take from billed to nothing.
    pub max_zeroed_customers: usize,
}

impl Default for Guard {
    fn default() -> Self {
        Self {
            max_drop_share: 0.3,
            max_zeroed_customers: 10,
        }
    }
}

/// How much a plan lowers what is billed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BlastRadius {
    /// Billed quantity now: what the run's customers are billed (by our records, or by what
    /// ConnectWise holds on the lines planned, whichever is more).
    pub billed_before: f64,
    /// Quantity the plan takes off (lowered and cancelled lines).
    pub dropped: f64,
    /// Customers billed now that the plan takes to nothing.
    pub zeroed_customers: usize,
}

impl BlastRadius {
    fn of<'a>(reports: impl Iterator<Item = &'a CustomerReport>, billed_total: f64) -> Self {
        let mut b = BlastRadius::default();
        for r in reports {
            let before: f64 = r.ops.iter().filter_map(Op::before).sum();
            let after: f64 = r
                .ops
                .iter()
                .map(|o| {
                    if o.kind() == OpKind::Cancel {
                        0.0
                    } else {
                        o.after()
                    }
                })
                .sum();
            b.billed_before += before;
            b.dropped += r
                .ops
                .iter()
                .filter(|o| o.is_write())
                .filter_map(|o| o.before().map(|before| (before - o.after()).max(0.0)))
                .sum::<f64>();
            if before > 0.0 && after == 0.0 {
                b.zeroed_customers += 1;
            }
        }
        b.billed_before = b.billed_before.max(billed_total);
        b
    }

    /// The share of the billed total the plan takes off.
    pub fn share(&self) -> f64 {
        if self.billed_before > 0.0 {
            self.dropped / self.billed_before
        } else {
            0.0
        }
    }

    pub(crate) fn refusal(&self, g: &Guard) -> Option<(String, String)> {
        let too_much = self.share() > g.max_drop_share;
        let too_many = self.zeroed_customers > g.max_zeroed_customers;
        (too_much || too_many).then(|| messages::blast_refused(self, g))
    }
}

/// A customer's failure: what went wrong and what to do.
struct Failure {
    error: String,
    advice: String,
}

impl From<(String, String)> for Failure {
    fn from((error, advice): (String, String)) -> Self {
        Self { error, advice }
    }
}

impl Failure {
    fn cw(e: &CwError, agreement_id: AgreementId) -> Self {
        Self {
            error: e.to_string(),
            advice: messages::cw_advice(e, agreement_id),
        }
    }

    fn store(e: StoreError) -> Self {
        Self {
            error: e.to_string(),
            advice: "centralbridge could not write to its database; check the disk or the database server, then sync again."
                .to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agreements_are_listed_whole_only_when_that_takes_fewer_calls() {
        // 4,500 mapped = 23 listings by id; 6,500 agreements in all = 7 pages of 1,000.
        assert!(list_every_agreement(4_500, 6_500, 1000));
        // 500 mapped of 60,000 agreements: 3 listings by id beat 60 pages.
        assert!(!list_every_agreement(500, 60_000, 1000));
        // Equal cost: by id (no count-dependent paging).
        assert!(!list_every_agreement(600, 3_000, 1000));
        // Small pages make the whole list dear.
        assert!(!list_every_agreement(4_500, 6_500, 100));
    }
}
