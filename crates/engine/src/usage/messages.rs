//! User-facing text of the usage sync (plain English; one place, so a translation can follow).

use crate::ids::{AdditionId, AgreementId, CatalogItemId};

fn qty(q: f64) -> String {
    if q.fract() == 0.0 {
        format!("{q:.0}")
    } else {
        format!("{q}")
    }
}

/// The reason for creating the first addition of a product.
pub fn reason_create(q: f64) -> String {
    format!("no addition for this product yet; usage is {}", qty(q))
}

/// The reason for recreating (with `--recreate`) an addition of ours deleted in ConnectWise.
pub fn reason_recreate(q: f64) -> String {
    format!(
        "our addition was removed in ConnectWise; recreating it (--recreate) with usage {}",
        qty(q)
    )
}

/// The reason for leaving an addition whose quantity already matches the usage.
pub fn reason_same(q: f64) -> String {
    format!("quantity already {}", qty(q))
}

/// The reason for changing an addition's quantity to the month's usage.
pub fn reason_update(before: f64, after: f64) -> String {
    format!("usage changed from {} to {}", qty(before), qty(after))
}

/// The reason for cancelling an addition whose usage dropped to zero under the cancel policy.
pub fn reason_cancel() -> String {
    "usage dropped to 0; cancelling the addition (zero-usage policy: cancel)".to_owned()
}

/// The reason for leaving alone an addition we cancelled while usage stays zero.
pub fn reason_still_cancelled() -> String {
    "no usage; our addition is already cancelled".to_owned()
}

/// The reason for doing nothing about a removed addition of ours when there is no usage.
pub fn reason_removed_no_usage() -> String {
    "our addition was removed in ConnectWise and there is no usage this month".to_owned()
}

/// The reason reported for an addition of ours that was deleted or cancelled in ConnectWise.
pub fn reason_removed(addition_id: AdditionId, q: f64) -> String {
    format!(
        "removed in ConnectWise: addition {addition_id}, which centralbridge managed, was deleted or cancelled there; \
         usage is {} but it is not recreated. Run `centralbridge sync usage --recreate` to add it again.",
        qty(q)
    )
}

/// The reason for leaving a removed addition alone because a person acknowledged the removal.
pub fn reason_removed_by_choice(addition_id: AdditionId, q: f64) -> String {
    format!(
        "not billed by choice: addition {addition_id} was removed in ConnectWise and the removal acknowledged; \
         usage is {}. `centralbridge removals withdraw …` bills it again.",
        qty(q)
    )
}

/// The reason for taking over the only addition of a product that we did not create.
pub fn reason_adopt(addition_id: AdditionId) -> String {
    format!(
        "addition {addition_id} is the only one for this product on the agreement; centralbridge takes it over"
    )
}

/// The reason for taking over the addition an interrupted create of ours made.
pub fn reason_finish_create(addition_id: AdditionId) -> String {
    format!(
        "an earlier run was interrupted while creating this addition; it exists (addition {addition_id}) and is not created again"
    )
}

/// The reason reported when several additions on the agreement bill the same product.
pub fn reason_conflict(ids: &[AdditionId]) -> String {
    let ids: Vec<String> = ids.iter().map(AdditionId::to_string).collect();
    format!(
        "several additions bill this product on the agreement ({}); centralbridge does not guess which one is its own. \
         Cancel the extra ones in ConnectWise (Finance > Agreements > the agreement > Additions) and run the sync again.",
        ids.join(", ")
    )
}

/// The line reporting a billing code with usage that counts toward no product.
pub fn unmapped_code(code: &str, quantity: f64, description: Option<&str>) -> String {
    let what = description.map(|d| format!(" ({d})")).unwrap_or_default();
    format!(
        "unmapped product: billing code {code}{what} has usage {} but counts toward no product. \
         Add the code to a product with `centralbridge products add-code <PRODUCT> {code}`.",
        qty(quantity)
    )
}

/// The error and advice for a customer whose agreement is cancelled, expired or inactive.
pub fn agreement_not_active(agreement_id: AgreementId, status: &str) -> (String, String) {
    (
        format!("agreement {agreement_id} is {status}; nothing was written to it"),
        "Map this customer to an active agreement (`centralbridge map set --tenant … --agreement …`), \
         or reopen the agreement in ConnectWise (Finance > Agreements)."
            .to_owned(),
    )
}

/// The error and advice for a customer whose agreement ConnectWise does not have.
pub fn agreement_missing(agreement_id: AgreementId) -> (String, String) {
    (
        format!("agreement {agreement_id} was not found in ConnectWise"),
        "The agreement was deleted or the API member cannot see it. Run `centralbridge refresh` and map the \
         customer to an existing agreement (`centralbridge map set`)."
            .to_owned(),
    )
}

/// The error and advice for a customer mapped to no agreement.
pub fn no_agreement() -> (String, String) {
    (
        "no agreement is mapped for this customer".to_owned(),
        "Usage is billed as additions of an agreement: choose one with `centralbridge map set --tenant … --agreement …`."
            .to_owned(),
    )
}

/// The error and advice for a customer whose tenant Sophos no longer lists.
pub fn tenant_gone(tenant_id: &str) -> (String, String) {
    (
        format!("Sophos tenant {tenant_id} is no longer listed by Sophos Central"),
        "The customer was removed from your Sophos Central Partner account. Clear its mapping with \
         `centralbridge map clear --tenant …`."
            .to_owned(),
    )
}

/// The note for a customer skipped because its billing type is not monthly (MSP Flex).
pub fn not_monthly(billing: &str) -> String {
    format!(
        "not a monthly (MSP Flex) customer (billing type {billing}): Sophos reports no usage to sync"
    )
}

/// The error and advice for a customer with products that have several candidate additions.
pub fn conflicts(n: usize) -> (String, String) {
    (
        format!("{n} product(s) have several candidate additions on the agreement"),
        "Cancel the extra additions in ConnectWise (Finance > Agreements > the agreement > Additions), keeping one \
         per product, then run the sync again. The plan (`centralbridge sync usage --dry-run`) lists the ids."
            .to_owned(),
    )
}

/// The error and advice for a product with no catalog item in a real run.
pub fn catalog_item_missing(product: &str) -> (String, String) {
    (
        format!("{product} has no ConnectWise catalog item to bill"),
        "Map the product to a catalog item (`centralbridge products map …`) or let the sync create one, then run the \
         sync again."
            .to_owned(),
    )
}

/// The error and advice for a customer whose managed additions were removed in ConnectWise.
pub fn removed(n: usize) -> (String, String) {
    (
        format!("{n} addition(s) managed by centralbridge were removed in ConnectWise and not recreated"),
        "If the removal was a mistake, run `centralbridge sync usage --recreate --customer …`; if it was on purpose, \
         acknowledge it (`centralbridge removals acknowledge --customer … --product …`) and it is left unbilled \
         without failing the customer."
            .to_owned(),
    )
}

/// Advice for a ConnectWise refusal, by error kind.
pub fn cw_advice(e: &connectwise::CwError, agreement_id: AgreementId) -> String {
    use connectwise::CwError as E;
    match e {
        E::InvoicedPeriod { .. } => format!(
            "ConnectWise refuses changes to an invoiced period of agreement {agreement_id}. Either turn on proration \
             for the agreement (Finance > Agreements > the agreement > Prorate), or sync a month that is not invoiced \
             yet (`centralbridge sync usage --month YYYY-MM`), or set the effective date by hand in ConnectWise."
        ),
        E::Permission { function, .. } => match function {
            Some(f) => format!(
                "The API member's security role lacks \"{f}\". In ConnectWise open System > Security Roles, edit the \
                 API member's role and set that level to All, then run `centralbridge doctor`."
            ),
            None => "The API member's security role refused this. Run `centralbridge doctor` to see which row is missing."
                .to_owned(),
        },
        E::Auth { .. } => {
            "ConnectWise refused the API keys. Create a new key pair (System > Members > API Members > API Keys) and run \
             `centralbridge connect connectwise`."
                .to_owned()
        }
        E::NotFound { .. } => format!(
            "Agreement {agreement_id} or one of its additions no longer exists. Run `centralbridge refresh` and check \
             the mapping (`centralbridge map list`)."
        ),
        E::Validation { .. } => format!(
            "ConnectWise rejected the addition on agreement {agreement_id}. Check the agreement and the product's catalog \
             item (active, with a type and subcategory) in ConnectWise."
        ),
        E::RateLimited { .. } | E::Server { .. } | E::Transport { .. } => {
            "ConnectWise did not answer in time or is busy; nothing was duplicated. The next run (or \
             `centralbridge sync usage --customer …`) finishes the job."
                .to_owned()
        }
        _ => "Run `centralbridge doctor` to check the ConnectWise connection, then sync again.".to_owned(),
    }
}

/// The note, shown with products, that the catalog item's Customer Description must not be changed.
pub const CATALOG_CUSTOMER_DESCRIPTION_NOTE: &str = "The catalog item's Customer Description is the product description. \
     Do not change it in ConnectWise: like Sophos's own integration, centralbridge expects it to stay as created.";

/// One line for the run row and the service log.
pub fn run_summary(r: &super::SyncReport) -> String {
    let c = &r.counts;
    let mut s = format!(
        "{} customers: {} additions created, {} updated, {} cancelled, {} unchanged, {} failed",
        r.customers.len(),
        c.created,
        c.updated,
        c.cancelled,
        c.unchanged,
        r.failed_customers
    );
    if let Some(how) = additions_line(&r.additions) {
        s.push_str("; ");
        s.push_str(&how);
    }
    s
}

/// How the additions were read, when worth saying: from the report, or per agreement because
/// the report could not be used.
pub fn additions_line(a: &super::bulk::AdditionsSource) -> Option<String> {
    match (a.read, &a.reason) {
        ("report", _) => Some(format!(
            "additions read from the AgreementAdditions report ({} agreement(s) checked against the records)",
            a.sampled
        )),
        (_, Some(why)) => Some(format!("additions read per agreement: {why}")),
        _ => None,
    }
}

/// `--month` earlier than the last month synced.
pub fn month_backwards(month: super::Month, last: super::Month) -> String {
    format!(
        "{month} is earlier than {last}, the last month synced: syncing it would set every \
         addition back to {month}'s quantities. Fix: sync {last} or later, or add --force if you \
         really mean to bill {month}'s usage again"
    )
}

const NO_DATA_IS_NOT_ZERO: &str = "Nothing was changed: no data is not zero usage.";

/// Sophos answered 404 "no data" for the month.
pub fn no_data(month: super::Month) -> (String, String) {
    (
        format!(
            "Sophos has published no usage for {month} yet (\"No data for requested year or month\"). \
             {NO_DATA_IS_NOT_ZERO}"
        ),
        format!(
            "Run the sync again once Sophos publishes {month} (the service tries every day), or \
             sync another month with --month."
        ),
    )
}

/// The listing failed: nothing can be told about anyone's usage.
pub fn usage_read_failed(month: super::Month, error: &str) -> (String, String) {
    (
        format!("Reading the usage of {month} from Sophos failed: {error}. {NO_DATA_IS_NOT_ZERO}"),
        "Run the sync again; if it keeps failing, check the Sophos connection with `centralbridge \
         doctor`."
            .to_owned(),
    )
}

/// The listing came back with no line at all while customers were billed before.
pub fn empty_listing(month: super::Month) -> (String, String) {
    (
        format!(
            "Sophos listed no usage line at all for {month}, yet customers were billed before. \
             {NO_DATA_IS_NOT_ZERO}"
        ),
        "This looks like a gap at Sophos, not real usage: run the sync again later. If every \
         customer really stopped, end the additions in ConnectWise by hand."
            .to_owned(),
    )
}

/// A billed customer is missing from a listing that has other customers' lines.
pub fn tenant_missing(month: super::Month, billed: f64) -> (String, String) {
    (
        format!(
            "Sophos lists no usage for this customer in {month}, though {} units were billed \
             before. {NO_DATA_IS_NOT_ZERO}",
            qty(billed)
        ),
        "Check the customer in Sophos Central. If it really stopped using Sophos, turn its usage \
         sync off (`centralbridge map set --tenant TENANT --usage-sync off`) and end its additions \
         in ConnectWise; otherwise the next sync bills it as soon as Sophos lists it again."
            .to_owned(),
    )
}

/// A product now billed through another catalog item: our addition on the old one ends.
pub fn reason_moved(addition: AdditionId, from: CatalogItemId, to: CatalogItemId) -> String {
    format!(
        "the product now bills through catalog item {to}: our addition #{addition} on catalog item \
         {from} is cancelled so the same usage is not billed twice"
    )
}

/// Several live additions bill one product.
pub fn reason_duplicates(ids: &[AdditionId], keep: AdditionId) -> String {
    let list = ids
        .iter()
        .map(|i| format!("#{i}"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "{} live additions bill this product ({list}): the same usage would be billed more than \
         once; nothing was changed. Fix: `centralbridge sync usage --repair --dry-run` shows the \
         extra ones to cancel (keeping #{keep}), then `sync usage --repair` cancels them",
        ids.len()
    )
}

/// --repair: an extra addition of a product is cancelled.
pub fn reason_repair(addition: AdditionId, keep: AdditionId) -> String {
    format!("addition #{addition} duplicates #{keep} for the same product: cancelled (--repair)")
}

/// The quantity in ConnectWise differs from what we last set.
pub fn reason_hand_edit(now: f64, ours: f64, usage: f64) -> String {
    format!(
        "quantity set by hand in ConnectWise to {} (centralbridge last set {}); Sophos usage is {}",
        qty(now),
        qty(ours),
        qty(usage)
    )
}

/// A plan whose drop is over the guard's limits waits for a person.
pub fn blast_refused(b: &super::BlastRadius, g: &super::Guard) -> (String, String) {
    (
        format!(
            "This plan would lower billed quantities by {} of {} ({:.0} %) and take {} customers \
             from billed to nothing; the limits are {:.0} % and {} customers, so nothing was \
             applied (large drops need a person).",
            qty(b.dropped),
            qty(b.billed_before),
            b.share() * 100.0,
            b.zeroed_customers,
            g.max_drop_share * 100.0,
            g.max_zeroed_customers
        ),
        "Look at the plan (`centralbridge sync usage --dry-run`); if the drop is real, apply it \
         with `centralbridge sync usage --confirm`."
            .to_owned(),
    )
}

fn maybe_qty(q: Option<f64>, addition: Option<AdditionId>) -> String {
    match (q, addition) {
        (Some(q), Some(a)) => format!("{} (addition #{a})", qty(q)),
        (Some(q), None) => qty(q),
        (None, _) => "no addition".to_owned(),
    }
}

/// Approving a plan that moved: nothing was applied.
pub fn plan_moved(changes: usize) -> (String, String) {
    (
        format!(
            "The saved plan no longer matches Sophos and ConnectWise ({changes} change(s) since it \
             was computed), so nothing was written."
        ),
        "Compute a new plan (`centralbridge sync usage --plan`, or Preview in the dashboard), look \
         at it, and approve that one."
            .to_owned(),
    )
}

/// Approving a plan that moved, as one paragraph ending with the fix.
pub fn plan_refused(id: i64, moved: &[String]) -> String {
    let (error, advice) = plan_moved(moved.len());
    format!(
        "Plan #{id} was not applied. {error}\n  - {}\nFix: {advice}",
        moved.join("\n  - ")
    )
}

/// A customer's planning panicked while approving.
pub fn plan_task_panicked() -> String {
    "a customer's planning failed unexpectedly, so the plan could not be compared".to_owned()
}

/// A customer in the saved plan is not in the new one.
pub fn plan_customer_gone(customer: &str) -> String {
    format!("{customer}: no longer synced (unmapped, usage sync off, or its tenant gone)")
}

/// A customer not in the saved plan is in the new one.
pub fn plan_customer_new(customer: &str) -> String {
    format!("{customer}: mapped or switched on since the plan was computed")
}

/// The customer's mapped agreement changed.
pub fn plan_agreement_moved(
    customer: &str,
    was: Option<AgreementId>,
    now: Option<AgreementId>,
) -> String {
    let a = |x: Option<AgreementId>| x.map_or("none".to_owned(), |a| format!("#{a}"));
    format!(
        "{customer}: the mapped agreement was {}, now {}",
        a(was),
        a(now)
    )
}

/// The customer could be planned then and cannot now, or the other way round.
pub fn plan_customer_state(customer: &str, error: Option<&str>) -> String {
    match error {
        Some(e) => format!("{customer}: cannot be planned now: {e}"),
        None => format!("{customer}: could not be planned then, can now"),
    }
}

/// A product's row appeared or went (selection changed).
pub fn plan_product_changed(customer: &str, product: &str) -> String {
    format!("{customer} / {product}: the product's selection changed")
}

/// Sophos's quantity moved.
pub fn plan_sophos_moved(customer: &str, product: &str, was: f64, now: f64) -> String {
    format!(
        "{customer} / {product}: Sophos usage was {}, now {}",
        qty(was),
        qty(now)
    )
}

/// ConnectWise's quantity (or addition) moved.
pub fn plan_connectwise_moved(
    customer: &str,
    product: &str,
    was: (Option<f64>, Option<AdditionId>),
    now: (Option<f64>, Option<AdditionId>),
) -> String {
    if was.1 == now.1 && was.1.is_some() {
        return format!(
            "{customer} / {product}: ConnectWise had {}, now {} (addition #{})",
            maybe_qty(was.0, None),
            maybe_qty(now.0, None),
            now.1.map(|a| a.to_string()).unwrap_or_default()
        );
    }
    format!(
        "{customer} / {product}: ConnectWise had {}, now {}",
        maybe_qty(was.0, was.1),
        maybe_qty(now.0, now.1)
    )
}

/// The operation changed with the same quantities (e.g. a removal acknowledged).
pub fn plan_operation_moved(customer: &str, product: &str, was: &str, now: &str) -> String {
    format!("{customer} / {product}: the plan was to {was}, now it is to {now}")
}

/// No plan with this number.
pub fn no_such_plan(id: i64) -> String {
    format!(
        "There is no saved plan #{id}. Fix: list the plans with `centralbridge plans list` and use \
         one of their numbers."
    )
}

/// A plan that is not pending cannot be approved or discarded again.
pub fn plan_not_pending(id: i64, state: &str, by: Option<&str>) -> String {
    let by = by.map(|b| format!(" by {b}")).unwrap_or_default();
    format!(
        "Plan #{id} was already {state}{by}, so it cannot be approved or discarded. Fix: compute a \
         new plan with `centralbridge sync usage --plan` (or Preview in the dashboard)."
    )
}

/// A stored plan that cannot be read back.
pub fn plan_unreadable(id: i64, why: &str) -> String {
    format!(
        "Saved plan #{id} cannot be read ({why}). Fix: discard it and compute a new plan with \
         `centralbridge sync usage --plan`."
    )
}

/// Approving needs a run that writes.
pub fn plan_approve_dry_run() -> String {
    "A plan cannot be approved in a dry run. Fix: leave out --dry-run.".to_owned()
}

/// The audit reason of a saved plan.
pub fn plan_saved_reason(month: super::Month, writes: usize) -> String {
    format!("usage plan for {month} saved for approval: {writes} write(s)")
}

/// The audit reason of an approval.
pub fn plan_approved_reason(id: i64, month: super::Month) -> String {
    format!("usage plan #{id} for {month} approved and applied")
}

/// The audit reason of a discard.
pub fn plan_discarded_reason(id: i64, month: super::Month) -> String {
    format!("usage plan #{id} for {month} discarded; nothing was written")
}

/// A discarded plan's outcome.
pub fn plan_discarded_outcome() -> String {
    "discarded; nothing was written".to_owned()
}

/// The service's usage run under `approval = "required"`.
pub fn plan_waiting(id: i64, writes: usize, customers: usize) -> String {
    format!(
        "usage plan #{id} saved: {writes} write(s) for {customers} customer(s) wait for approval \
         (`centralbridge plans show {id}`)"
    )
}

/// A direct sync refused under `approval = "required"`.
pub fn approval_required() -> String {
    "Usage sync needs approval here (`[usage] approval = \"required\"`), so it does not write \
     directly. Fix: compute a plan with `centralbridge sync usage --plan`, look at it with \
     `centralbridge plans show ID`, then `centralbridge plans approve ID`."
        .to_owned()
}

/// A reconciliation status for people.
pub fn reconcile_status(s: super::reconcile::Status) -> &'static str {
    use super::reconcile::Status as S;
    match s {
        S::NotMapped => "not mapped",
        S::NoAgreement => "no agreement chosen",
        S::InStep => "in step",
        S::UnderBilled => "under-billed",
        S::OverBilled => "over-billed",
        S::ProductNotSelected => "product not selected",
        S::UnknownProduct => "unknown billing code",
        S::UsageSyncOff => "usage sync off",
        S::RemovedInConnectwise => "removed in ConnectWise",
        S::NotBilledByChoice => "not billed by choice",
        S::PeriodInvoiced => "period invoiced",
        S::AgreementInactive => "agreement not active",
        S::Unread => "ConnectWise unread",
    }
}

/// A billing code that counts toward no product.
pub fn reconcile_unknown_code(code: &str) -> String {
    format!(
        "billing code {code} counts toward no product; add it to one with `centralbridge products \
         add-code` to bill it"
    )
}

/// A tenant with usage and no mapping.
pub fn reconcile_not_mapped() -> String {
    "nobody bills this usage: map the tenant with `centralbridge map set` (or accept its \
     suggestion)"
        .to_owned()
}

/// A mapping without an agreement.
pub fn reconcile_no_agreement() -> String {
    "mapped without an agreement: choose one with `centralbridge map set --agreement`".to_owned()
}

/// The detail of a row of a read agreement.
pub fn reconcile_detail(s: super::reconcile::Status, no_catalog_item: bool) -> String {
    use super::reconcile::Status as S;
    match s {
        S::UsageSyncOff => {
            "usage sync is off for this customer: `centralbridge map set --usage-sync on`".to_owned()
        }
        S::ProductNotSelected if no_catalog_item => {
            "not selected, and no catalog item is linked, so what ConnectWise bills for it is not known"
                .to_owned()
        }
        S::ProductNotSelected => {
            "not selected for usage sync: `centralbridge products select`".to_owned()
        }
        S::NotBilledByChoice => {
            "a person acknowledged the removal (`centralbridge removals withdraw` bills it again)"
                .to_owned()
        }
        S::RemovedInConnectwise => {
            "the addition centralbridge managed was removed in ConnectWise: acknowledge it \
             (`centralbridge removals acknowledge`) or re-add it (`sync usage --recreate`)"
                .to_owned()
        }
        S::PeriodInvoiced => {
            "ConnectWise refused the last change: the period is already invoiced".to_owned()
        }
        S::UnderBilled | S::OverBilled => {
            "the next usage sync brings ConnectWise in step".to_owned()
        }
        _ => String::new(),
    }
}

/// The mapped agreement is not in ConnectWise.
pub fn reconcile_agreement_gone(a: AgreementId) -> String {
    format!("agreement #{a} is not in ConnectWise any more: map another one")
}

/// The mapped agreement is cancelled or expired.
pub fn reconcile_agreement_inactive(a: AgreementId, why: &str) -> String {
    format!("agreement #{a} is {why}: map an active one")
}

/// The agreement's additions could not be read.
pub fn reconcile_unread(a: AgreementId, error: &str) -> String {
    format!("the additions of agreement #{a} could not be read ({error}); nothing is assumed")
}

/// The report could not be read (the run reads per agreement).
pub fn report_failed(error: &str) -> String {
    format!(
        "the AgreementAdditions report could not be read ({error}); additions are read one agreement at a time"
    )
}

/// A sampled agreement's records differ from the report.
pub fn report_disagrees(agreement: AgreementId, difference: &str) -> String {
    format!(
        "the AgreementAdditions report disagrees with ConnectWise's records for agreement #{agreement} \
         ({difference}); additions are read one agreement at a time"
    )
}

/// The report lists an addition the records do not have.
pub fn report_extra(id: i64) -> String {
    format!("the report lists addition #{id}, the records do not")
}

/// The records have an addition the report lacks.
pub fn report_lacks(id: i64) -> String {
    format!("the records have addition #{id}, the report does not")
}

/// An addition differs between the report and the records.
pub fn report_differs(id: i64, report: (f64, bool), rest: (f64, bool)) -> String {
    let side = |(q, cancelled): (f64, bool)| {
        if cancelled {
            format!("{} (cancelled)", qty(q))
        } else {
            qty(q)
        }
    };
    format!(
        "addition #{id}: {} in the report, {} in the record",
        side(report),
        side(rest)
    )
}
