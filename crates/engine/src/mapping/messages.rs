//! User-facing text of customer mapping (plain English; one place so it can be translated).

use crate::ids::{AgreementId, CompanyId, TenantId};

/// `Name (id)` label of a tenant for messages.
pub fn tenant_label(name: &str, id: &str) -> String {
    format!("Sophos tenant \"{name}\" ({id})")
}

/// `ConnectWise company "name" (id n)`, how messages name a company.
pub fn company_label(name: &str, id: CompanyId) -> String {
    format!("ConnectWise company \"{name}\" (id {id})")
}

/// `agreement "name" (id n)`, how messages name an agreement.
pub fn agreement_label(name: &str, id: AgreementId) -> String {
    format!("agreement \"{name}\" (id {id})")
}

// ---- refusals -------------------------------------------------------------------------------------

/// Refusal: the tenant is mapped to another company and `--replace` was not given.
pub fn tenant_already_mapped(tenant: &str, company: &str, tenant_id: &str) -> String {
    format!(
        "{tenant} is already mapped to {company}. A Sophos customer maps to one ConnectWise company: \
         run `centralbridge map clear --tenant {tenant_id}` first, or repeat with --replace"
    )
}

/// Refusal: the company is already mapped to another tenant.
pub fn company_taken(company: &str, holder: &str) -> String {
    format!(
        "{company} is already mapped to {holder}. A ConnectWise company serves one Sophos customer: \
         clear that mapping first (`centralbridge map clear --tenant ...`) or pick another company"
    )
}

/// Refusal: the agreement is already used by another tenant's mapping.
pub fn agreement_taken(agreement: &str, holder: &str) -> String {
    format!(
        "{agreement} is already used by the mapping of {holder}. An agreement is billed for one \
         Sophos customer only: choose another agreement of this company, or create one in \
         ConnectWise (Finance > Agreements) and run `centralbridge refresh`"
    )
}

/// Refusal: the agreement chosen belongs to another company.
pub fn agreement_not_of_company(agreement: &str, company: &str) -> String {
    format!(
        "{agreement} does not belong to {company}. Choose one of the company's agreements \
         (`centralbridge map suggest --tenant ...` lists them)"
    )
}

/// Refusal: mapping to a company that is deleted or gone in ConnectWise.
pub fn company_removed(company: &str) -> String {
    format!(
        "{company} is deleted in ConnectWise. Restore it from the recycle bin (Companies > Company \
         Search, include deleted) and run `centralbridge refresh`, or map to another company"
    )
}

/// Refusal: choosing an agreement that is cancelled or gone in ConnectWise.
pub fn agreement_cancelled(agreement: &str) -> String {
    format!(
        "{agreement} is cancelled or no longer exists in ConnectWise. Choose an active agreement, or \
         reopen this one in Finance > Agreements and run `centralbridge refresh`"
    )
}

/// Refusal: usage sync switched on for a mapping without an agreement.
pub fn usage_sync_needs_agreement(tenant: &str) -> String {
    format!(
        "usage sync for {tenant} needs an agreement to bill on. Add --agreement <id> (or leave usage \
         sync off: ticket sync needs only the company)"
    )
}

/// Refusal: mapping a tenant that is gone from Sophos to a new company.
pub fn tenant_gone(tenant: &str) -> String {
    format!(
        "{tenant} is no longer in Sophos Central Partner. Check the customer still exists there and \
         run `centralbridge refresh`"
    )
}

/// Refusal: changing the switches of a tenant that has no mapping.
pub fn not_mapped(tenant: &str) -> String {
    format!("{tenant} is not mapped. Map it first with `centralbridge map set`")
}

/// No stored tenant matches the id or name given.
pub fn unknown_tenant(query: &str) -> String {
    format!(
        "no Sophos tenant matches \"{query}\". Use the tenant id or exact name shown by \
         `centralbridge map list`; if the customer is new in Sophos, run `centralbridge refresh` first"
    )
}

/// The name given matches several tenants.
pub fn ambiguous_tenant(query: &str, matches: &[String]) -> String {
    format!(
        "\"{query}\" matches several Sophos tenants: {}. Use the tenant id instead",
        matches.join(", ")
    )
}

/// No stored company has the id or identifier given.
pub fn unknown_company(query: &str) -> String {
    format!(
        "no ConnectWise company has the id or identifier \"{query}\". Find it in ConnectWise \
         (Companies > Company Search, Company ID column); if it is new, run `centralbridge refresh` first"
    )
}

/// The identifier given matches several companies.
pub fn ambiguous_company(query: &str, matches: &[String]) -> String {
    format!(
        "\"{query}\" matches several ConnectWise companies: {}. Use the numeric company id",
        matches.join(", ")
    )
}

/// No stored agreement has the id given.
pub fn unknown_agreement(id: AgreementId) -> String {
    format!(
        "no ConnectWise agreement has id {id}. If it is new, run `centralbridge refresh` first; \
         the company's agreements are listed by `centralbridge map suggest --tenant ...`"
    )
}

/// Another writer took the company or agreement between the check and the write.
pub fn conflict_meanwhile() -> String {
    "another change took this company or agreement at the same time; nothing was changed. Look at \
     `centralbridge map list` and try again"
        .to_owned()
}

// ---- warnings on listings -------------------------------------------------------------------------

/// Warning and advice: the mapped company is deleted or gone in ConnectWise.
pub fn warn_company_deleted(company: &str) -> (String, String) {
    (
        format!("{company} is deleted in ConnectWise"),
        "Restore the company from the ConnectWise recycle bin, or map this customer to its new \
         company with `centralbridge map set`. Nothing is billed or ticketed until then."
            .to_owned(),
    )
}

/// Warning and advice: the mapped company is inactive.
pub fn warn_company_inactive(company: &str) -> (String, String) {
    (
        format!("{company} is inactive in ConnectWise"),
        "Set the company's status back to Active (Companies > the company > Status) or map this \
         customer to another company."
            .to_owned(),
    )
}

/// Warning and advice: the mapped agreement is cancelled.
pub fn warn_agreement_cancelled(agreement: &str) -> (String, String) {
    (
        format!("{agreement} is cancelled"),
        "Usage cannot be billed on a cancelled agreement. Pick an active agreement with \
         `centralbridge map set --tenant ... --company ... --agreement <id>`."
            .to_owned(),
    )
}

/// Warning and advice: the mapped agreement no longer exists in ConnectWise.
pub fn warn_agreement_gone(agreement_id: AgreementId) -> (String, String) {
    (
        format!("agreement {agreement_id} no longer exists in ConnectWise"),
        "Pick another agreement with `centralbridge map set --agreement <id>`.".to_owned(),
    )
}

/// Warning and advice: the mapped agreement has expired.
pub fn warn_agreement_expired(agreement: &str) -> (String, String) {
    (
        format!("{agreement} has expired"),
        "Renew the agreement in ConnectWise (Finance > Agreements > end date), or pick an active \
         agreement."
            .to_owned(),
    )
}

/// Warning and advice: the mapped agreement now belongs to another company.
pub fn warn_agreement_other_company(agreement: &str, company: &str) -> (String, String) {
    (
        format!("{agreement} now belongs to another company than {company}"),
        "The agreement was moved in ConnectWise. Pick one of the mapped company's agreements, or \
         map the customer to the agreement's company."
            .to_owned(),
    )
}

/// Warning and advice: a mapped tenant is gone from Sophos.
pub fn warn_tenant_gone(tenant: &str) -> (String, String) {
    (
        format!("{tenant} is no longer in Sophos Central Partner"),
        "If the customer left, clear the mapping with `centralbridge map clear --tenant ...`; if \
         not, check the tenant in Sophos Central Partner and run `centralbridge refresh`."
            .to_owned(),
    )
}

/// Warning and advice: usage sync is on but the mapping has no agreement.
pub fn warn_usage_without_agreement(tenant: &str) -> (String, String) {
    (
        format!("usage sync is on for {tenant} but no agreement is chosen"),
        "Choose the agreement to bill with `centralbridge map set --agreement <id>`.".to_owned(),
    )
}

// ---- CSV -------------------------------------------------------------------------------------------

/// The CSV header lacks the `tenant_id` or `company_id` column.
pub fn csv_bad_header(missing: &str) -> String {
    format!(
        "the CSV file has no `{missing}` column. Start from `centralbridge map export`, which writes \
         the expected columns"
    )
}

/// The CSV lacks value columns and `--keep-missing` was not given.
pub fn csv_missing_columns(missing: &[String]) -> String {
    let names = missing
        .iter()
        .map(|c| format!("`{c}`"))
        .collect::<Vec<_>>()
        .join(", ");
    format!(
        "the CSV file has no {names} column, so every row would lose its value (a missing switch \
         reads as \"off\": billing or tickets would stop for every customer in the file); nothing \
         was imported. Fix: add the column (`centralbridge map export` writes every column), or run \
         the import with --keep-missing to keep each customer's current value for it"
    )
}

/// A CSV switch cell is not on/off (or an accepted synonym).
pub fn csv_bad_bool(column: &str, value: &str) -> String {
    format!("`{column}` must be on or off (or true/false, yes/no, 1/0), not \"{value}\"")
}

/// A CSV id cell is not a number.
pub fn csv_bad_number(column: &str, value: &str) -> String {
    format!("`{column}` must be a number, not \"{value}\"")
}

/// A CSV row repeats a tenant of an earlier row.
pub fn csv_duplicate_tenant(first_line: u64) -> String {
    format!("this tenant is already on line {first_line} of the file")
}

/// A CSV row has an empty `tenant_id`.
pub fn csv_no_tenant() -> String {
    "the row has no tenant_id".to_owned()
}

/// The CSV cannot be parsed, or the export cannot be written.
pub fn csv_unreadable(detail: &str) -> String {
    format!("the CSV file cannot be read: {detail}")
}

/// The head line of an import refused for bad rows.
pub fn import_rejected(bad: usize) -> String {
    format!(
        "the import was refused: {bad} row(s) have problems (listed below). Nothing was changed; fix \
         the rows and import the whole file again"
    )
}

// ---- map accept ------------------------------------------------------------------------------------

/// `map accept` skips a tenant that has no candidate company.
pub fn accept_no_candidate() -> String {
    "no ConnectWise company looks like this customer; map it by hand with `centralbridge map set`"
        .to_owned()
}

/// `map accept` skips a tenant whose two best candidates score too close.
pub fn accept_ambiguous(s: &super::Suggestion) -> String {
    let names: Vec<String> = s
        .candidates
        .iter()
        .take(2)
        .map(|c| format!("\"{}\" ({:.2})", c.name, c.score))
        .collect();
    format!(
        "ambiguous: {} score too close to choose; pick one with `centralbridge map set`",
        names.join(" and ")
    )
}

/// `map accept` skips a tenant whose best company is also best for other tenants.
pub fn accept_contested(best: &super::Candidate, others: &[TenantId]) -> String {
    format!(
        "\"{}\" is also the best match for tenant(s) {}; choose which customer it belongs to with \
         `centralbridge map set`",
        best.name,
        others.join(", ")
    )
}

/// `map accept` skips a tenant whose best candidate scores below `--min-score`.
pub fn accept_low_score(best: &super::Candidate, min: f64) -> String {
    format!(
        "best match \"{}\" scores {:.2}, below --min-score {:.2}",
        best.name, best.score, min
    )
}

/// `map accept` skips a tenant whose best candidate is an inactive company.
pub fn accept_inactive(best: &super::Candidate) -> String {
    format!(
        "best match \"{}\" is inactive in ConnectWise; map it by hand if it is right",
        best.name
    )
}

/// `map accept` maps without an agreement because the company has no active free one.
pub fn accept_no_agreement() -> String {
    "no active unused agreement, mapped without one (ticket sync only)".to_owned()
}

/// `map accept` maps without an agreement because the company has several active ones.
pub fn accept_many_agreements(n: usize) -> String {
    format!("{n} active agreements, none chosen: pick one with `centralbridge map set --agreement`")
}

/// A CSV row names an agreement but no company.
pub fn csv_agreement_without_company() -> String {
    "the row names an agreement but no company; fill in company_id or company_identifier".to_owned()
}

/// One line for the run row and the service log.
pub fn refresh_summary(s: &super::RefreshSummary) -> String {
    format!(
        "{} tenants, {} companies, {} agreements read ({} new, {} renamed)",
        s.tenants.seen,
        s.companies.seen,
        s.agreements.seen,
        s.tenants.new + s.companies.new + s.agreements.new,
        s.tenants.renamed + s.companies.renamed + s.agreements.renamed,
    )
}
