//! Reconciliation: for one month, every tenant with Sophos usage (mapped or not) and every
//! product, the Sophos quantity beside what ConnectWise bills on the mapped agreement, with the
//! drift in quantity and money and a status saying why they differ. Read-only: nothing is written
//! anywhere, so it needs no lease.
//!
//! [`build`] is pure (facts in, report out); [`reconcile`] reads the facts.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use futures::{StreamExt as _, TryStreamExt as _};
use jiff::Timestamp;
use serde::Serialize;

use super::{Month, MonthUsage, UsageError, messages, product_views};
use crate::ids::{AgreementId, CatalogItemId, CompanyId, TenantId};
use crate::products::{self, ProductTable};
use crate::store::{JournalState, MappingStore as _, Store, UsageStore as _};

/// Why Sophos and ConnectWise agree or differ on one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The tenant has usage and no ConnectWise company: money nobody bills.
    NotMapped,
    /// Mapped to a company, but no agreement is chosen.
    NoAgreement,
    /// ConnectWise bills what Sophos counts.
    InStep,
    /// ConnectWise bills less than Sophos counts.
    UnderBilled,
    /// ConnectWise bills more than Sophos counts.
    OverBilled,
    /// The product is not selected for usage sync.
    ProductNotSelected,
    /// A billing code that counts toward no product of the table.
    UnknownProduct,
    /// Usage sync is off for the customer.
    UsageSyncOff,
    /// The addition centralbridge managed was deleted or cancelled in ConnectWise.
    RemovedInConnectwise,
    /// A person acknowledged the removal: left unbilled on purpose.
    NotBilledByChoice,
    /// The last write was refused because the period is already invoiced.
    PeriodInvoiced,
    /// The mapped agreement is cancelled, expired or gone.
    AgreementInactive,
    /// ConnectWise could not be read for this agreement: nothing is known (never taken as 0).
    Unread,
}

impl Status {
    /// Every status, in report order.
    pub const ALL: &[Status] = &[
        Status::NotMapped,
        Status::NoAgreement,
        Status::InStep,
        Status::UnderBilled,
        Status::OverBilled,
        Status::ProductNotSelected,
        Status::UnknownProduct,
        Status::UsageSyncOff,
        Status::RemovedInConnectwise,
        Status::NotBilledByChoice,
        Status::PeriodInvoiced,
        Status::AgreementInactive,
        Status::Unread,
    ];

    /// The status as in `--json` and the CSV.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::NotMapped => "not_mapped",
            Status::NoAgreement => "no_agreement",
            Status::InStep => "in_step",
            Status::UnderBilled => "under_billed",
            Status::OverBilled => "over_billed",
            Status::ProductNotSelected => "product_not_selected",
            Status::UnknownProduct => "unknown_product",
            Status::UsageSyncOff => "usage_sync_off",
            Status::RemovedInConnectwise => "removed_in_connectwise",
            Status::NotBilledByChoice => "not_billed_by_choice",
            Status::PeriodInvoiced => "period_invoiced",
            Status::AgreementInactive => "agreement_inactive",
            Status::Unread => "unread",
        }
    }

    /// The status for people.
    pub fn label(self) -> &'static str {
        messages::reconcile_status(self)
    }
}

/// One tenant × product.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// Sophos's id of the tenant.
    pub tenant_id: TenantId,
    /// The tenant's name (its id when the store has not seen it yet).
    pub tenant_name: String,
    /// The mapped company.
    pub company_id: Option<CompanyId>,
    /// Its name, when known.
    pub company_name: Option<String>,
    /// The mapped agreement.
    pub agreement_id: Option<AgreementId>,
    /// The product identifier (the billing code, for an unknown code).
    pub product: String,
    /// The month's Sophos usage.
    pub sophos_quantity: f64,
    /// What ConnectWise bills on the agreement; `None` when there is nothing to read or it could
    /// not be read.
    pub connectwise_quantity: Option<f64>,
    /// Price per unit (the addition's, else the catalog item's); `None` when unknown.
    pub unit_price: Option<f64>,
    /// What ConnectWise bills for it (the additions' extended price).
    pub billed_amount: Option<f64>,
    /// ConnectWise minus Sophos (negative: under-billed).
    pub drift_quantity: Option<f64>,
    /// `drift_quantity` × `unit_price`.
    pub drift_amount: Option<f64>,
    /// Why they agree or differ.
    pub status: Status,
    /// A sentence more, where useful.
    pub detail: String,
}

impl Row {
    /// What this row leaves on the table (an under-billed amount), unless left out by choice.
    pub fn left_on_table(&self) -> f64 {
        match self.drift_amount {
            Some(d) if d < 0.0 && self.status != Status::NotBilledByChoice => -d,
            _ => 0.0,
        }
    }

    /// What this row bills too much.
    pub fn over_billed(&self) -> f64 {
        match self.drift_amount {
            Some(d) if d > 0.0 => d,
            _ => 0.0,
        }
    }
}

/// The rows added up.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Totals {
    /// Rows.
    pub rows: usize,
    /// Tenants listed.
    pub tenants: usize,
    /// Tenants with usage and no mapping.
    pub tenants_not_mapped: usize,
    /// Sum of Sophos quantities.
    pub sophos_quantity: f64,
    /// Sum of the known ConnectWise quantities.
    pub connectwise_quantity: f64,
    /// Sum of the known billed amounts.
    pub billed_amount: f64,
    /// Sum of the known drift amounts.
    pub drift_amount: f64,
    /// The revenue left on the table: every under-billed amount (not billed by choice excepted).
    pub under_billed_amount: f64,
    /// Every over-billed amount.
    pub over_billed_amount: f64,
    /// Rows whose price is unknown (left out of the amounts).
    pub unpriced_rows: usize,
    /// Rows per status.
    pub by_status: BTreeMap<Status, usize>,
}

impl Totals {
    /// The totals of `rows`.
    pub fn of(rows: &[Row]) -> Self {
        let mut t = Totals {
            rows: rows.len(),
            ..Totals::default()
        };
        let mut tenants = BTreeSet::new();
        let mut unmapped = BTreeSet::new();
        for r in rows {
            tenants.insert(&r.tenant_id);
            if r.status == Status::NotMapped {
                unmapped.insert(&r.tenant_id);
            }
            t.sophos_quantity += r.sophos_quantity;
            t.connectwise_quantity += r.connectwise_quantity.unwrap_or(0.0);
            t.billed_amount += r.billed_amount.unwrap_or(0.0);
            t.drift_amount += r.drift_amount.unwrap_or(0.0);
            t.under_billed_amount += r.left_on_table();
            t.over_billed_amount += r.over_billed();
            if r.unit_price.is_none() {
                t.unpriced_rows += 1;
            }
            *t.by_status.entry(r.status).or_default() += 1;
        }
        t.tenants = tenants.len();
        t.tenants_not_mapped = unmapped.len();
        t
    }
}

/// The month's report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Reconciliation {
    /// The billing month.
    pub month: Month,
    /// When it was read.
    pub generated_at: Timestamp,
    /// Not-mapped tenants first (money nobody bills), then by customer and product.
    pub rows: Vec<Row>,
    /// The rows added up.
    pub totals: Totals,
}

/// A live or cancelled addition as reconciliation needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct AdditionFacts {
    /// ConnectWise's id.
    pub id: i64,
    /// The catalog item it bills.
    pub catalog_item_id: CatalogItemId,
    /// Its quantity.
    pub quantity: f64,
    /// It has a cancelled date.
    pub cancelled: bool,
    /// Its unit price.
    pub unit_price: Option<f64>,
    /// Its extended price.
    pub ext_price: Option<f64>,
}

/// What ConnectWise says of the mapped agreement.
#[derive(Debug, Clone, PartialEq)]
pub enum AgreementFacts {
    /// Its additions, read.
    Read(Vec<AdditionFacts>),
    /// Cancelled, expired or gone (`why`).
    Inactive(String),
    /// The read failed (`why`).
    Unread(String),
}

/// One mapped customer's side of ConnectWise and of our store.
#[derive(Debug, Clone, PartialEq)]
pub struct MappedFacts {
    /// The company.
    pub company_id: CompanyId,
    /// Its name.
    pub company_name: Option<String>,
    /// The agreement; `None` when none is chosen.
    pub agreement_id: Option<AgreementId>,
    /// Usage sync is on.
    pub usage_sync: bool,
    /// The agreement's additions (absent without an agreement).
    pub agreement: Option<AgreementFacts>,
    /// Our links by product: (addition id, cancelled by us).
    pub links: BTreeMap<String, (i64, bool)>,
    /// Products whose removal a person acknowledged.
    pub acknowledged: BTreeSet<String>,
    /// Products whose last write was refused for an invoiced period.
    pub invoiced: BTreeSet<String>,
}

/// One tenant's facts.
#[derive(Debug, Clone, PartialEq)]
pub struct TenantFacts {
    /// Sophos's id.
    pub tenant_id: TenantId,
    /// Its name.
    pub tenant_name: String,
    /// The month's usage per billing code.
    pub usage: BTreeMap<String, f64>,
    /// Its mapping; `None` when not mapped.
    pub mapped: Option<MappedFacts>,
}

/// Everything [`build`] needs.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The month.
    pub month: Month,
    /// When the facts were read.
    pub at: Timestamp,
    /// The tenants to report.
    pub tenants: Vec<TenantFacts>,
    /// The product table.
    pub table: ProductTable,
    /// Selected products.
    pub selected: BTreeSet<String>,
    /// Catalog item per product (linked ones).
    pub catalog: BTreeMap<String, CatalogItemId>,
    /// Catalog price per product (linked ones, when read).
    pub catalog_prices: BTreeMap<String, f64>,
}

/// ConnectWise's side of one product on a read agreement.
struct Billed {
    quantity: f64,
    unit_price: Option<f64>,
    ext: Option<f64>,
    /// Our addition is live.
    ours_live: bool,
}

fn billed(
    additions: &[AdditionFacts],
    item: Option<CatalogItemId>,
    ours: Option<i64>,
) -> Option<Billed> {
    if item.is_none() && ours.is_none() {
        return None;
    }
    let live: Vec<&AdditionFacts> = additions
        .iter()
        .filter(|a| !a.cancelled && (Some(a.catalog_item_id) == item || Some(a.id) == ours))
        .collect();
    let quantity = live.iter().map(|a| a.quantity).sum();
    let ext = live.iter().map(|a| a.ext_price).sum::<Option<f64>>();
    Some(Billed {
        quantity,
        unit_price: live.iter().find_map(|a| a.unit_price),
        ext,
        ours_live: ours.is_some_and(|id| live.iter().any(|a| a.id == id)),
    })
}

/// The report of `facts` (pure).
pub fn build(facts: &Facts) -> Reconciliation {
    let mut rows = Vec::new();
    for t in &facts.tenants {
        tenant_rows(facts, t, &mut rows);
    }
    rows.sort_by(|a, b| {
        (
            a.status != Status::NotMapped,
            a.tenant_name.to_lowercase(),
            &a.product,
        )
            .cmp(&(
                b.status != Status::NotMapped,
                b.tenant_name.to_lowercase(),
                &b.product,
            ))
    });
    Reconciliation {
        month: facts.month,
        generated_at: facts.at,
        totals: Totals::of(&rows),
        rows,
    }
}

fn tenant_rows(facts: &Facts, t: &TenantFacts, rows: &mut Vec<Row>) {
    // Sophos quantities per product; unknown codes stay their own rows.
    let mut sophos: BTreeMap<String, f64> = BTreeMap::new();
    let mut unknown: BTreeMap<String, f64> = BTreeMap::new();
    for (code, q) in &t.usage {
        match facts.table.product_for_code(code) {
            Some(p) => *sophos.entry(p.identifier.clone()).or_default() += q,
            None => *unknown.entry(code.clone()).or_default() += q,
        }
    }
    let base = |product: &str, q: f64| Row {
        tenant_id: t.tenant_id.clone(),
        tenant_name: t.tenant_name.clone(),
        company_id: t.mapped.as_ref().map(|m| m.company_id),
        company_name: t.mapped.as_ref().and_then(|m| m.company_name.clone()),
        agreement_id: t.mapped.as_ref().and_then(|m| m.agreement_id),
        product: product.to_owned(),
        sophos_quantity: q,
        connectwise_quantity: None,
        unit_price: facts.catalog_prices.get(product).copied(),
        billed_amount: None,
        drift_quantity: None,
        drift_amount: None,
        status: Status::NotMapped,
        detail: String::new(),
    };
    for (code, q) in &unknown {
        let mut r = base(code, *q);
        r.unit_price = None;
        r.status = Status::UnknownProduct;
        r.detail = messages::reconcile_unknown_code(code);
        rows.push(r);
    }
    let Some(m) = &t.mapped else {
        for (p, q) in sophos.iter().filter(|(_, q)| **q > 0.0) {
            let mut r = base(p, *q);
            r.drift_quantity = Some(-q);
            r.drift_amount = r.unit_price.map(|price| -q * price);
            r.detail = messages::reconcile_not_mapped();
            rows.push(r);
        }
        return;
    };
    let additions = match &m.agreement {
        None => {
            for (p, q) in sophos.iter().filter(|(_, q)| **q > 0.0) {
                let mut r = base(p, *q);
                r.status = Status::NoAgreement;
                r.drift_quantity = Some(-q);
                r.drift_amount = r.unit_price.map(|price| -q * price);
                r.detail = messages::reconcile_no_agreement();
                rows.push(r);
            }
            return;
        }
        Some(AgreementFacts::Inactive(why) | AgreementFacts::Unread(why)) => {
            let status = if matches!(m.agreement, Some(AgreementFacts::Inactive(_))) {
                Status::AgreementInactive
            } else {
                Status::Unread
            };
            for (p, q) in sophos.iter().filter(|(_, q)| **q > 0.0) {
                let mut r = base(p, *q);
                r.status = status;
                r.detail = why.clone();
                rows.push(r);
            }
            return;
        }
        Some(AgreementFacts::Read(a)) => a,
    };
    // Every product with usage, every product ConnectWise bills (by its catalog item), every
    // product we manage an addition for.
    let mut products: BTreeSet<String> = sophos.keys().cloned().collect();
    products.extend(m.links.keys().cloned());
    for (p, item) in &facts.catalog {
        if additions
            .iter()
            .any(|a| !a.cancelled && a.catalog_item_id == *item && a.quantity > 0.0)
        {
            products.insert(p.clone());
        }
    }
    for p in products {
        let q = sophos.get(&p).copied().unwrap_or(0.0);
        let link = m.links.get(&p);
        let cw = billed(
            additions,
            facts.catalog.get(&p).copied(),
            link.map(|(id, _)| *id),
        );
        let mut r = base(&p, q);
        if let Some(b) = &cw {
            r.connectwise_quantity = Some(b.quantity);
            if b.unit_price.is_some() {
                r.unit_price = b.unit_price;
            }
            r.billed_amount = b.ext.or_else(|| r.unit_price.map(|u| u * b.quantity));
            r.drift_quantity = Some(b.quantity - q);
            r.drift_amount = r.unit_price.map(|u| (b.quantity - q) * u);
        }
        let in_step = r.drift_quantity.is_some_and(|d| d.abs() < 1e-9);
        if q == 0.0 && in_step {
            continue;
        }
        let removed = link.is_some_and(|(_, by_us)| !by_us)
            && cw
                .as_ref()
                .is_some_and(|b| !b.ours_live && b.quantity == 0.0);
        r.status = if !m.usage_sync {
            Status::UsageSyncOff
        } else if !facts.selected.contains(&p) {
            Status::ProductNotSelected
        } else if m.acknowledged.contains(&p) {
            Status::NotBilledByChoice
        } else if removed {
            Status::RemovedInConnectwise
        } else if m.invoiced.contains(&p) && !in_step {
            Status::PeriodInvoiced
        } else {
            match r.drift_quantity {
                None => Status::Unread,
                Some(_) if in_step => Status::InStep,
                Some(d) if d < 0.0 => Status::UnderBilled,
                Some(_) => Status::OverBilled,
            }
        };
        r.detail = messages::reconcile_detail(r.status, cw.is_none());
        rows.push(r);
    }
}

/// What to reconcile.
#[derive(Debug, Clone, Default)]
pub struct ReconcileOptions {
    /// Default: the previous month.
    pub month: Option<Month>,
    /// Only tenants matching one of these (tenant id or name, company id or name); empty: all.
    pub customers: Vec<String>,
    /// Agreements read at once.
    pub concurrency: usize,
}

/// Reads the facts of `opts.month` and builds the report. A failed or empty Sophos listing is an
/// error (no data is not zero); a failed agreement read makes that customer's rows `unread`.
pub async fn reconcile(
    store: &Store,
    cw: &connectwise::Client,
    sophos: &sophos::Client,
    opts: &ReconcileOptions,
) -> Result<Reconciliation, UsageError> {
    let month = opts
        .month
        .unwrap_or_else(|| Month::previous(Timestamp::now()));
    let table = products::load_table(store).await?;
    let views = product_views(store).await?;
    let selected: BTreeSet<String> = views
        .iter()
        .filter(|v| v.selected)
        .map(|v| v.identifier.clone())
        .collect();
    let catalog: BTreeMap<String, CatalogItemId> = views
        .iter()
        .filter_map(|v| v.catalog_item_id.map(|c| (v.identifier.clone(), c)))
        .collect();
    let usage = MonthUsage::read(sophos, month, None).await;
    usage.read?;
    if usage.no_data {
        return Err(UsageError::Plan(messages::no_data(month).0));
    }
    let customers = store.list_customers().await?;
    let filters: Vec<String> = opts.customers.iter().map(|f| f.to_lowercase()).collect();
    let wanted = |tenant: &str, name: &str, company: Option<(CompanyId, &str)>| {
        filters.is_empty()
            || filters.iter().any(|f| {
                tenant.eq_ignore_ascii_case(f)
                    || name.to_lowercase() == *f
                    || company.is_some_and(|(id, n)| id.to_string() == *f || n.to_lowercase() == *f)
            })
    };
    let mut tenants: Vec<TenantFacts> = Vec::new();
    let mut by_agreement: Vec<(usize, AgreementId)> = Vec::new();
    let mut usage_of = usage.usage;
    let known: BTreeSet<String> = customers.iter().map(|c| c.tenant.id.to_string()).collect();
    for c in &customers {
        let id = c.tenant.id.as_str();
        let company = c.company.as_ref().map(|co| (co.id, co.name.as_str()));
        if !wanted(id, &c.tenant.name, company) {
            continue;
        }
        let usage: BTreeMap<String, f64> = usage_of
            .remove(id)
            .map(|u| u.into_iter().map(|(code, (q, _))| (code, q)).collect())
            .unwrap_or_default();
        let mapped = c.mapping.as_ref().map(|m| MappedFacts {
            company_id: m.company_id,
            company_name: c.company.as_ref().map(|co| co.name.clone()),
            agreement_id: m.agreement_id,
            usage_sync: m.usage_sync,
            agreement: None,
            links: BTreeMap::new(),
            acknowledged: BTreeSet::new(),
            invoiced: BTreeSet::new(),
        });
        let has_usage = usage.values().any(|q| *q > 0.0);
        if !has_usage && !mapped.as_ref().is_some_and(|m| m.usage_sync) {
            continue;
        }
        if let Some(a) = mapped.as_ref().and_then(|m| m.agreement_id) {
            by_agreement.push((tenants.len(), a));
        }
        tenants.push(TenantFacts {
            tenant_id: c.tenant.id.clone(),
            tenant_name: c.tenant.name.clone(),
            usage,
            mapped,
        });
    }
    // Tenants in the listing the store has not seen (no refresh since they appeared).
    for (id, u) in usage_of {
        if known.contains(&id) || !wanted(&id, &id, None) {
            continue;
        }
        let usage: BTreeMap<String, f64> = u.into_iter().map(|(code, (q, _))| (code, q)).collect();
        if usage.values().any(|q| *q > 0.0) {
            tenants.push(TenantFacts {
                tenant_id: TenantId::from(id.clone()),
                tenant_name: id,
                usage,
                mapped: None,
            });
        }
    }
    read_connectwise(
        store,
        cw,
        &mut tenants,
        &by_agreement,
        opts.concurrency.max(1),
    )
    .await?;
    let ids: Vec<i64> = catalog.values().map(|c| c.get()).collect();
    let mut catalog_prices = BTreeMap::new();
    match cw.catalog_item_summaries_by_ids(&ids).await {
        Ok(items) => {
            for (p, c) in &catalog {
                if let Some(price) = items.iter().find(|i| i.id == c.get()).and_then(|i| i.price) {
                    catalog_prices.insert(p.clone(), price);
                }
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, "catalog prices unread: rows without an addition stay unpriced")
        }
    }
    Ok(build(&Facts {
        month,
        at: Timestamp::now(),
        tenants,
        table,
        selected,
        catalog,
        catalog_prices,
    }))
}

/// Fills each mapped tenant's agreement facts, links, acknowledgements and invoiced products.
async fn read_connectwise(
    store: &Store,
    cw: &connectwise::Client,
    tenants: &mut [TenantFacts],
    by_agreement: &[(usize, AgreementId)],
    concurrency: usize,
) -> Result<(), UsageError> {
    let mut summaries: HashMap<i64, connectwise::AgreementSummary> = HashMap::new();
    let ids: Vec<i64> = by_agreement.iter().map(|(_, a)| a.get()).collect();
    for chunk in ids.chunks(super::AGREEMENT_CHUNK) {
        let mut s = cw.agreement_summaries_by_ids(chunk);
        while let Some(a) = s.try_next().await? {
            summaries.insert(a.id, a);
        }
    }
    let reads: Vec<(usize, AgreementFacts)> = futures::stream::iter(by_agreement.iter().copied())
        .map(|(i, a)| {
            let summary = summaries.get(&a.get());
            async move {
                let facts = match summary {
                    None => AgreementFacts::Inactive(messages::reconcile_agreement_gone(a)),
                    Some(s) if s.inactive.is_some() => AgreementFacts::Inactive(
                        messages::reconcile_agreement_inactive(a, s.inactive.unwrap_or_default()),
                    ),
                    Some(_) => match cw.addition_states(a.get()).await {
                        Ok(states) => AgreementFacts::Read(
                            states
                                .into_iter()
                                .map(|s| AdditionFacts {
                                    id: s.id,
                                    catalog_item_id: CatalogItemId::new(s.catalog_item_id),
                                    quantity: s.quantity,
                                    cancelled: s.cancelled,
                                    unit_price: s.unit_price,
                                    ext_price: s.ext_price,
                                })
                                .collect(),
                        ),
                        Err(e) => {
                            AgreementFacts::Unread(messages::reconcile_unread(a, &e.to_string()))
                        }
                    },
                };
                (i, facts)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    for (i, f) in reads {
        if let Some(m) = tenants[i].mapped.as_mut() {
            m.agreement = Some(f);
        }
    }
    let index: HashMap<i64, usize> = by_agreement.iter().map(|(i, a)| (a.get(), *i)).collect();
    let tenant_index: HashMap<String, usize> = tenants
        .iter()
        .enumerate()
        .map(|(i, t)| (t.tenant_id.to_string(), i))
        .collect();
    for l in store.list_addition_links(None).await? {
        if let Some(m) = index
            .get(&l.agreement_id.get())
            .and_then(|i| tenants[*i].mapped.as_mut())
        {
            m.links
                .insert(l.product.clone(), (l.addition_id.get(), l.cancelled_by_us));
        }
    }
    for a in store.removal_acks(None).await? {
        if let Some(m) = tenant_index
            .get(a.tenant_id.as_str())
            .and_then(|i| tenants[*i].mapped.as_mut())
        {
            m.acknowledged.insert(a.product);
        }
    }
    for e in store.journal_latest().await? {
        if e.state == JournalState::Failed
            && e.error_code.as_deref() == Some("invoiced_period")
            && let Some(m) = index
                .get(&e.agreement_id.get())
                .and_then(|i| tenants[*i].mapped.as_mut())
        {
            m.invoiced.insert(e.product);
        }
    }
    Ok(())
}

/// The report as CSV: one line per row, the same columns as `--json`'s rows.
pub fn write_csv<W: std::io::Write>(r: &Reconciliation, out: W) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    w.write_record([
        "tenant_id",
        "tenant_name",
        "company_id",
        "company_name",
        "agreement_id",
        "product",
        "sophos_quantity",
        "connectwise_quantity",
        "unit_price",
        "billed_amount",
        "drift_quantity",
        "drift_amount",
        "status",
        "detail",
    ])?;
    let num = |x: Option<f64>| x.map(|x| x.to_string()).unwrap_or_default();
    for row in &r.rows {
        w.write_record([
            row.tenant_id.to_string(),
            row.tenant_name.clone(),
            row.company_id.map(|c| c.to_string()).unwrap_or_default(),
            row.company_name.clone().unwrap_or_default(),
            row.agreement_id.map(|a| a.to_string()).unwrap_or_default(),
            row.product.clone(),
            row.sophos_quantity.to_string(),
            num(row.connectwise_quantity),
            num(row.unit_price),
            num(row.billed_amount),
            num(row.drift_quantity),
            num(row.drift_amount),
            row.status.as_str().to_owned(),
            row.detail.clone(),
        ])?;
    }
    w.flush()?;
    Ok(())
}
