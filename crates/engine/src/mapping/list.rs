//! Listings: customers with their mapping and warnings, company search, a company's agreements.

use std::cmp::Ordering;
use std::collections::HashMap;

use serde::Serialize;

use super::normalize::{normalize_name, similarity};
use super::rules::{agreement_label, company_label, tenant_label};
use super::{MappingError, messages};
use crate::ids::{AgreementId, CompanyId, TenantId};
use crate::store::{
    AgreementRecord, CompanyRecord, CoreStore as _, CustomerJoin, CustomerStatus, Mapping,
    MappingStore as _, Store, TenantRecord,
};

/// What is wrong with a mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WarningKind {
    /// The mapped company is in ConnectWise's recycle bin or gone from its listing.
    CompanyDeleted,
    /// The mapped company's status is inactive.
    CompanyInactive,
    /// The mapped agreement is cancelled.
    AgreementCancelled,
    /// The mapped agreement is gone from ConnectWise's listing, or was never refreshed.
    AgreementGone,
    /// The mapped agreement has expired.
    AgreementExpired,
    /// The mapped agreement belongs to another company than the mapped one.
    AgreementOtherCompany,
    /// The tenant is gone from Sophos's listing but still mapped.
    TenantGone,
    /// Usage sync is on but the mapping has no agreement to bill on.
    UsageSyncWithoutAgreement,
}

/// A problem with a mapping, with what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    /// Which problem it is.
    pub kind: WarningKind,
    /// What is wrong, naming the tenant, company or agreement.
    pub message: String,
    /// What the engineer should do about it.
    pub advice: String,
}

impl Warning {
    fn new(kind: WarningKind, (message, advice): (String, String)) -> Self {
        Self {
            kind,
            message,
            advice,
        }
    }
}

/// One Sophos customer as the Customers screen shows it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerRow {
    /// The Sophos tenant.
    pub tenant: TenantRecord,
    /// Its mapping; `None` when it is not mapped.
    pub mapping: Option<Mapping>,
    /// The mapped company; `None` when unmapped or the company is not in the store.
    pub company: Option<CompanyRecord>,
    /// The mapped agreement; `None` when the mapping has none or it is not in the store.
    pub agreement: Option<AgreementRecord>,
    /// What is wrong with the mapping; empty for an unmapped tenant.
    pub warnings: Vec<Warning>,
    /// Last result per job (usage, tickets, ...) from the core store.
    pub status: Vec<CustomerStatus>,
}

impl CustomerRow {
    /// The tenant has a mapping.
    pub fn is_mapped(&self) -> bool {
        self.mapping.is_some()
    }
}

/// Which customers [`list_customers`] returns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustomerFilter {
    /// Only mapped (`Some(true)`) or only unmapped (`Some(false)`) customers; `None` for both.
    pub mapped: Option<bool>,
    /// Only customers with warnings.
    pub warnings_only: bool,
    /// Case- and accent-insensitive substring of the tenant name, company name or identifier, or a
    /// tenant/company id.
    pub search: Option<String>,
    /// Include tenants gone from Sophos that have no mapping (default: hidden).
    pub include_gone: bool,
}

/// The warnings of one joined row.
pub(crate) fn warnings_for(j: &CustomerJoin) -> Vec<Warning> {
    let mut out = Vec::new();
    let Some(m) = &j.mapping else { return out };
    if j.tenant.gone {
        out.push(Warning::new(
            WarningKind::TenantGone,
            messages::warn_tenant_gone(&tenant_label(&j.tenant)),
        ));
    }
    match &j.company {
        Some(c) if c.deleted || c.gone => out.push(Warning::new(
            WarningKind::CompanyDeleted,
            messages::warn_company_deleted(&company_label(c)),
        )),
        Some(c) if c.inactive => out.push(Warning::new(
            WarningKind::CompanyInactive,
            messages::warn_company_inactive(&company_label(c)),
        )),
        _ => {}
    }
    match (&j.agreement, m.agreement_id) {
        (Some(a), _) => {
            if a.gone {
                out.push(Warning::new(
                    WarningKind::AgreementGone,
                    messages::warn_agreement_gone(a.id),
                ));
            } else if a.cancelled {
                out.push(Warning::new(
                    WarningKind::AgreementCancelled,
                    messages::warn_agreement_cancelled(&agreement_label(a)),
                ));
            } else if a.expired {
                out.push(Warning::new(
                    WarningKind::AgreementExpired,
                    messages::warn_agreement_expired(&agreement_label(a)),
                ));
            }
            if a.company_id != Some(m.company_id) {
                let company = j
                    .company
                    .as_ref()
                    .map(company_label)
                    .unwrap_or_else(|| m.company_id.to_string());
                out.push(Warning::new(
                    WarningKind::AgreementOtherCompany,
                    messages::warn_agreement_other_company(&agreement_label(a), &company),
                ));
            }
        }
        (None, Some(id)) => out.push(Warning::new(
            WarningKind::AgreementGone,
            messages::warn_agreement_gone(id),
        )),
        (None, None) => {
            if m.usage_sync {
                out.push(Warning::new(
                    WarningKind::UsageSyncWithoutAgreement,
                    messages::warn_usage_without_agreement(&tenant_label(&j.tenant)),
                ));
            }
        }
    }
    out
}

fn matches_search(j: &CustomerJoin, needle: &str, raw: &str) -> bool {
    if j.tenant.id == raw || j.company.as_ref().is_some_and(|c| c.id.to_string() == raw) {
        return true;
    }
    let hay = |s: &str| normalize_name(s).contains(needle);
    hay(&j.tenant.name)
        || j.company
            .as_ref()
            .is_some_and(|c| hay(&c.name) || hay(&c.identifier))
}

/// Every Sophos customer with its mapping, what it points at, warnings and sync status, sorted by
/// tenant name.
pub async fn list_customers(
    store: &Store,
    filter: &CustomerFilter,
) -> Result<Vec<CustomerRow>, MappingError> {
    let joined = store.list_customers().await?;
    let mut statuses: HashMap<TenantId, Vec<CustomerStatus>> = HashMap::new();
    for s in store.list_customer_status(None).await? {
        statuses.entry(s.tenant_id.clone()).or_default().push(s);
    }
    let needle = filter
        .search
        .as_deref()
        .map(|s| (normalize_name(s), s.trim().to_owned()));
    let mut rows: Vec<CustomerRow> = joined
        .into_iter()
        .filter(|j| filter.include_gone || !j.tenant.gone || j.mapping.is_some())
        .filter(|j| filter.mapped.is_none_or(|m| m == j.mapping.is_some()))
        .filter(|j| {
            needle
                .as_ref()
                .is_none_or(|(n, raw)| matches_search(j, n, raw))
        })
        .map(|j| {
            let warnings = warnings_for(&j);
            let status = statuses.remove(&j.tenant.id).unwrap_or_default();
            CustomerRow {
                tenant: j.tenant,
                mapping: j.mapping,
                company: j.company,
                agreement: j.agreement,
                warnings,
                status,
            }
        })
        .filter(|r| !filter.warnings_only || !r.warnings.is_empty())
        .collect();
    rows.sort_by(|a, b| {
        normalize_name(&a.tenant.name)
            .cmp(&normalize_name(&b.tenant.name))
            .then_with(|| a.tenant.id.cmp(&b.tenant.id))
    });
    Ok(rows)
}

/// A company offered by the autocomplete.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CompanyHit {
    /// ConnectWise's record id of the company.
    pub id: CompanyId,
    /// The company's identifier in ConnectWise.
    pub identifier: String,
    /// The company's name.
    pub name: String,
    /// Its status is inactive.
    pub inactive: bool,
    /// How well it matches, 0 to 1: 1 for an exact id or identifier, 0.99 for an equal name.
    pub score: f64,
    /// The tenant already mapped to it (it cannot take another).
    pub mapped_tenant_id: Option<TenantId>,
}

/// Companies (not deleted) matching `text` for an autocomplete: id or identifier exact first, then
/// names containing the text, then similar names; best `limit`.
pub async fn search_companies(
    store: &Store,
    text: &str,
    limit: usize,
) -> Result<Vec<CompanyHit>, MappingError> {
    let raw = text.trim();
    let needle = normalize_name(raw);
    let mapped: HashMap<CompanyId, TenantId> = store
        .list_mappings()
        .await?
        .into_iter()
        .map(|m| (m.company_id, m.tenant_id))
        .collect();
    let mut hits: Vec<CompanyHit> = store
        .list_companies(false)
        .await?
        .into_iter()
        .filter_map(|c| {
            let name = normalize_name(&c.name);
            let score = if c.id.to_string() == raw || c.identifier.eq_ignore_ascii_case(raw) {
                1.0
            } else if needle.is_empty() {
                0.5
            } else if name == needle {
                0.99
            } else if name.contains(&needle) || normalize_name(&c.identifier).contains(&needle) {
                0.9
            } else {
                let s = similarity(&needle, &name);
                if s < 0.6 {
                    return None;
                }
                s * 0.9
            };
            Some(CompanyHit {
                mapped_tenant_id: mapped.get(&c.id).cloned(),
                id: c.id,
                identifier: c.identifier,
                name: c.name,
                inactive: c.inactive,
                score,
            })
        })
        .collect();
    hits.sort_by(|a, b| {
        b.score
            .partial_cmp(&a.score)
            .unwrap_or(Ordering::Equal)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| a.id.cmp(&b.id))
    });
    hits.truncate(limit);
    Ok(hits)
}

/// An agreement offered for a company, ranked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgreementOption {
    /// ConnectWise's record id of the agreement.
    pub id: AgreementId,
    /// The agreement's name.
    pub name: String,
    /// The name of its type; `None` when not given.
    pub type_name: Option<String>,
    /// Its `agreementStatus`; `None` when not given (counted as active).
    pub status: Option<String>,
    /// Cancelled by its flag or its status.
    pub cancelled: bool,
    /// Expired by its status or its end date.
    pub expired: bool,
    /// The tenant whose mapping uses it already.
    pub used_by: Option<TenantId>,
}

impl AgreementOption {
    /// Active and free: what `map accept` may pick.
    pub fn usable(&self) -> bool {
        !self.cancelled && !self.expired && self.used_by.is_none() && self.is_active_status()
    }

    fn is_active_status(&self) -> bool {
        self.status
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case("active"))
    }

    fn rank(&self) -> u8 {
        if self.cancelled {
            3
        } else if self.expired || !self.is_active_status() {
            2
        } else {
            1
        }
    }
}

/// Ranks agreements: active first, then expired/inactive, cancelled last; by name, then id.
pub(crate) fn rank_agreements(
    agreements: impl IntoIterator<Item = AgreementRecord>,
    used_by: &HashMap<AgreementId, TenantId>,
) -> Vec<AgreementOption> {
    let mut out: Vec<AgreementOption> = agreements
        .into_iter()
        .filter(|a| !a.gone)
        .map(|a| AgreementOption {
            used_by: used_by.get(&a.id).cloned(),
            id: a.id,
            name: a.name,
            type_name: a.type_name,
            status: a.status,
            cancelled: a.cancelled,
            expired: a.expired,
        })
        .collect();
    out.sort_by(|a, b| {
        a.rank()
            .cmp(&b.rank())
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

/// A company's agreements, ranked; cancelled ones only with `include_cancelled`.
pub async fn agreements_for_company(
    store: &Store,
    company_id: CompanyId,
    include_cancelled: bool,
) -> Result<Vec<AgreementOption>, MappingError> {
    let used_by: HashMap<AgreementId, TenantId> = store
        .list_mappings()
        .await?
        .into_iter()
        .filter_map(|m| m.agreement_id.map(|a| (a, m.tenant_id)))
        .collect();
    let mut out = rank_agreements(store.list_agreements_of(company_id).await?, &used_by);
    if !include_cancelled {
        out.retain(|a| !a.cancelled);
    }
    Ok(out)
}
