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
    format!(
        "{} customers: {} additions created, {} updated, {} cancelled, {} unchanged, {} failed",
        r.customers.len(),
        c.created,
        c.updated,
        c.cancelled,
        c.unchanged,
        r.failed_customers
    )
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
