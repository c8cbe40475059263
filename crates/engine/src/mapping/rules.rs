//! The one-to-one rules and the single place mappings are written.
//!
//! Rules (reference §4.2): a Sophos tenant maps to one ConnectWise company and at most one agreement of
//! that company; a company and an agreement serve at most one tenant; usage sync needs an agreement.
//! They are checked here with messages naming who holds what, and again by the database's unique
//! constraints (a race between two writers ends in [`messages::conflict_meanwhile`], never in a
//! duplicate).

use std::fmt;

use jiff::Timestamp;
use serde::Serialize;

use super::{MappingError, audit_subject, messages};
use crate::ids::{AgreementId, CompanyId, TenantId};
use crate::store::{
    AgreementRecord, CompanyRecord, Mapping, MappingSource, MappingStore as _, MappingWrite,
    NewAudit, Store, StoreError, TenantRecord,
};

/// A rule or state check that refused a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Refusal {
    /// Reference scenario 2: the tenant already has a mapping to another company.
    TenantAlreadyMapped {
        /// The tenant's label for messages.
        tenant: String,
        /// The tenant's id, for the `map clear` command the message suggests.
        tenant_id: TenantId,
        /// The label of the company it is mapped to now.
        company: String,
    },
    /// The company is already mapped to another tenant.
    CompanyTaken {
        /// The company's label.
        company: String,
        /// The label of the tenant that holds it.
        holder: String,
        /// The id of the tenant that holds it.
        holder_tenant_id: TenantId,
    },
    /// Reference scenario 3: the agreement is used by another mapping.
    AgreementTaken {
        /// The agreement's label.
        agreement: String,
        /// The label of the tenant whose mapping uses it.
        holder: String,
        /// The id of the tenant whose mapping uses it.
        holder_tenant_id: TenantId,
    },
    /// The agreement chosen belongs to another company than the one mapped.
    AgreementNotOfCompany {
        /// The agreement's label.
        agreement: String,
        /// The label of the company being mapped.
        company: String,
    },
    /// The new company is deleted in ConnectWise or gone from its listing.
    CompanyRemoved {
        /// The company's label.
        company: String,
    },
    /// A newly chosen agreement is cancelled or gone from ConnectWise's listing.
    AgreementCancelled {
        /// The agreement's label.
        agreement: String,
    },
    /// Usage sync would be on without an agreement to bill on.
    UsageSyncNeedsAgreement {
        /// The tenant's label.
        tenant: String,
    },
    /// The tenant is gone from Sophos and the change maps it to a new company.
    TenantGone {
        /// The tenant's label.
        tenant: String,
    },
    /// The switches of a tenant without a mapping were to be changed.
    NotMapped {
        /// The tenant's label.
        tenant: String,
    },
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            Refusal::TenantAlreadyMapped {
                tenant,
                tenant_id,
                company,
            } => messages::tenant_already_mapped(tenant, company, tenant_id),
            Refusal::CompanyTaken {
                company, holder, ..
            } => messages::company_taken(company, holder),
            Refusal::AgreementTaken {
                agreement, holder, ..
            } => messages::agreement_taken(agreement, holder),
            Refusal::AgreementNotOfCompany { agreement, company } => {
                messages::agreement_not_of_company(agreement, company)
            }
            Refusal::CompanyRemoved { company } => messages::company_removed(company),
            Refusal::AgreementCancelled { agreement } => messages::agreement_cancelled(agreement),
            Refusal::UsageSyncNeedsAgreement { tenant } => {
                messages::usage_sync_needs_agreement(tenant)
            }
            Refusal::TenantGone { tenant } => messages::tenant_gone(tenant),
            Refusal::NotMapped { tenant } => messages::not_mapped(tenant),
        };
        f.write_str(&text)
    }
}

/// What to map, by store ids.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingInput {
    /// The Sophos tenant to map.
    pub tenant_id: TenantId,
    /// The ConnectWise company to map it to.
    pub company_id: CompanyId,
    /// `None` keeps the current agreement when the company does not change, else means none.
    pub agreement_id: Option<AgreementId>,
    /// Remove the agreement (overrides `agreement_id`).
    pub clear_agreement: bool,
    /// `None` keeps the current value (off for a new mapping).
    pub usage_sync: Option<bool>,
    /// `None` keeps the current value (off for a new mapping).
    pub ticket_sync: Option<bool>,
    /// Allow replacing a mapping to another company (otherwise refused, reference scenario 2).
    pub replace: bool,
}

impl MappingInput {
    /// Map `tenant_id` to `company_id`, keeping everything else as it is.
    pub fn new(tenant_id: TenantId, company_id: CompanyId) -> Self {
        MappingInput {
            tenant_id,
            company_id,
            agreement_id: None,
            clear_agreement: false,
            usage_sync: None,
            ticket_sync: None,
            replace: false,
        }
    }
}

/// A mapping before and after a change (equal when nothing changed and nothing was written).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MappingChange {
    /// The tenant whose mapping it is.
    pub tenant_id: TenantId,
    /// The mapping before; `None` when the tenant was unmapped.
    pub before: Option<Mapping>,
    /// The mapping after; `None` when the change clears it.
    pub after: Option<Mapping>,
}

impl MappingChange {
    /// Before and after differ, so the change is (or would be) written.
    pub fn changed(&self) -> bool {
        self.before != self.after
    }
}

pub(crate) fn tenant_label(t: &TenantRecord) -> String {
    messages::tenant_label(&t.name, &t.id)
}

pub(crate) fn company_label(c: &CompanyRecord) -> String {
    messages::company_label(&c.name, c.id)
}

pub(crate) fn agreement_label(a: &AgreementRecord) -> String {
    messages::agreement_label(&a.name, a.id)
}

/// Who holds a company or agreement (another tenant's mapping).
#[derive(Debug, Clone)]
pub(crate) struct Holder {
    pub tenant_id: TenantId,
    pub label: String,
}

/// Everything [`check`] needs; built from the store for one change, or from the whole final state of
/// an import.
pub(crate) struct Proposal<'a> {
    pub tenant: &'a TenantRecord,
    pub company: &'a CompanyRecord,
    pub agreement: Option<&'a AgreementRecord>,
    pub usage_sync: bool,
    /// The tenant's current mapping and its company's label.
    pub current: Option<(&'a Mapping, String)>,
    pub company_holder: Option<Holder>,
    pub agreement_holder: Option<Holder>,
    pub replace: bool,
}

/// The rules, as a pure function: every refusal that applies (empty = allowed).
pub(crate) fn check(p: &Proposal<'_>) -> Vec<Refusal> {
    let mut out = Vec::new();
    let same_company = p
        .current
        .as_ref()
        .is_some_and(|(m, _)| m.company_id == p.company.id);
    let same_agreement = p
        .current
        .as_ref()
        .is_some_and(|(m, _)| p.agreement.is_some_and(|a| m.agreement_id == Some(a.id)));
    if let Some((_, current_company)) = &p.current
        && !same_company
        && !p.replace
    {
        out.push(Refusal::TenantAlreadyMapped {
            tenant: tenant_label(p.tenant),
            tenant_id: p.tenant.id.clone(),
            company: current_company.clone(),
        });
    }
    if p.tenant.gone && !same_company {
        out.push(Refusal::TenantGone {
            tenant: tenant_label(p.tenant),
        });
    }
    if (p.company.deleted || p.company.gone) && !same_company {
        out.push(Refusal::CompanyRemoved {
            company: company_label(p.company),
        });
    }
    if let Some(h) = &p.company_holder
        && h.tenant_id != p.tenant.id
    {
        out.push(Refusal::CompanyTaken {
            company: company_label(p.company),
            holder: h.label.clone(),
            holder_tenant_id: h.tenant_id.clone(),
        });
    }
    if let Some(a) = p.agreement {
        // Reference scenario 3 reports the taken agreement first.
        if let Some(h) = &p.agreement_holder
            && h.tenant_id != p.tenant.id
        {
            out.push(Refusal::AgreementTaken {
                agreement: agreement_label(a),
                holder: h.label.clone(),
                holder_tenant_id: h.tenant_id.clone(),
            });
        }
        if a.company_id != Some(p.company.id) {
            out.push(Refusal::AgreementNotOfCompany {
                agreement: agreement_label(a),
                company: company_label(p.company),
            });
        }
        if (a.cancelled || a.gone) && !same_agreement {
            out.push(Refusal::AgreementCancelled {
                agreement: agreement_label(a),
            });
        }
    }
    if p.usage_sync && p.agreement.is_none() {
        out.push(Refusal::UsageSyncNeedsAgreement {
            tenant: tenant_label(p.tenant),
        });
    }
    out
}

async fn holder_of(
    store: &Store,
    mapping: Option<Mapping>,
) -> Result<Option<Holder>, MappingError> {
    let Some(m) = mapping else { return Ok(None) };
    let label = match store.get_tenant(&m.tenant_id).await? {
        Some(t) => tenant_label(&t),
        None => messages::tenant_label(&m.tenant_id, &m.tenant_id),
    };
    Ok(Some(Holder {
        tenant_id: m.tenant_id,
        label,
    }))
}

pub(crate) async fn load_tenant(store: &Store, id: &str) -> Result<TenantRecord, MappingError> {
    store
        .get_tenant(id)
        .await?
        .ok_or_else(|| MappingError::NotFound(messages::unknown_tenant(id)))
}

pub(crate) async fn load_company(
    store: &Store,
    id: CompanyId,
) -> Result<CompanyRecord, MappingError> {
    store
        .get_company(id)
        .await?
        .ok_or_else(|| MappingError::NotFound(messages::unknown_company(&id.to_string())))
}

/// Checks `input` against the rules and the store, and returns the mapping it would produce (and
/// the current one), without writing anything.
pub(crate) async fn plan_set(
    store: &Store,
    actor: &str,
    input: &MappingInput,
    source: MappingSource,
    now: Timestamp,
) -> Result<MappingChange, MappingError> {
    let tenant = load_tenant(store, &input.tenant_id).await?;
    let company = load_company(store, input.company_id).await?;
    let before = store.get_mapping(&tenant.id).await?;
    let same_company = before.as_ref().is_some_and(|m| m.company_id == company.id);
    let agreement_id = if input.clear_agreement {
        None
    } else {
        input.agreement_id.or_else(|| {
            before
                .as_ref()
                .filter(|_| same_company)
                .and_then(|m| m.agreement_id)
        })
    };
    let agreement = match agreement_id {
        Some(id) => Some(
            store
                .get_agreement(id)
                .await?
                .ok_or_else(|| MappingError::NotFound(messages::unknown_agreement(id)))?,
        ),
        None => None,
    };
    let usage_sync = input
        .usage_sync
        .or(before.as_ref().map(|m| m.usage_sync))
        .unwrap_or(false);
    let ticket_sync = input
        .ticket_sync
        .or(before.as_ref().map(|m| m.ticket_sync))
        .unwrap_or(false);
    let current_label = match &before {
        Some(m) => Some(match store.get_company(m.company_id).await? {
            Some(c) => company_label(&c),
            None => messages::company_label("?", m.company_id),
        }),
        None => None,
    };
    let company_holder = holder_of(store, store.mapping_by_company(company.id).await?).await?;
    let agreement_holder = match &agreement {
        Some(a) => holder_of(store, store.mapping_by_agreement(a.id).await?).await?,
        None => None,
    };
    let refusals = check(&Proposal {
        tenant: &tenant,
        company: &company,
        agreement: agreement.as_ref(),
        usage_sync,
        current: before.as_ref().zip(current_label),
        company_holder,
        agreement_holder,
        replace: input.replace,
    });
    if let Some(first) = refusals.into_iter().next() {
        return Err(MappingError::Refused(first));
    }
    let unchanged = before.as_ref().is_some_and(|m| {
        m.company_id == company.id
            && m.agreement_id == agreement_id
            && m.usage_sync == usage_sync
            && m.ticket_sync == ticket_sync
    });
    let after = if unchanged {
        before.clone()
    } else {
        Some(Mapping {
            tenant_id: tenant.id.clone(),
            company_id: company.id,
            agreement_id,
            usage_sync,
            ticket_sync,
            source,
            confirmed_by: actor.to_owned(),
            confirmed_at: now,
        })
    };
    Ok(MappingChange {
        tenant_id: tenant.id,
        before,
        after,
    })
}

/// The audit entry of a change.
pub(crate) fn audit_for(
    change: &MappingChange,
    actor: &str,
    action: crate::audit::AuditKind,
    reason: &str,
    now: Timestamp,
) -> NewAudit {
    NewAudit {
        at: now,
        actor: actor.to_owned(),
        action,
        subject: audit_subject(&change.tenant_id),
        before: change
            .before
            .as_ref()
            .and_then(|m| serde_json::to_value(m).ok()),
        after: change
            .after
            .as_ref()
            .and_then(|m| serde_json::to_value(m).ok()),
        reason: reason.to_owned(),
    }
}

/// Writes changes (those that change something) with their audit entries, all or nothing.
pub(crate) async fn write(
    store: &Store,
    changes: &[(MappingChange, NewAudit)],
) -> Result<(), MappingError> {
    let writes: Vec<MappingWrite> = changes
        .iter()
        .filter(|(c, _)| c.changed())
        .map(|(c, audit)| MappingWrite {
            tenant_id: c.tenant_id.clone(),
            after: c.after.clone(),
            audit: audit.clone(),
        })
        .collect();
    if writes.is_empty() {
        return Ok(());
    }
    store.write_mappings(&writes).await.map_err(|e| match &e {
        StoreError::Database(sqlx::Error::Database(db))
            if db.is_unique_violation()
                || db.is_foreign_key_violation()
                || db.is_check_violation() =>
        {
            MappingError::Conflict(messages::conflict_meanwhile())
        }
        _ => MappingError::Store(e),
    })
}

/// Maps a tenant to a company (and agreement), or edits its mapping, under the rules. Writes the audit
/// log. Returns the change (unchanged when the mapping already was exactly that).
pub async fn set_mapping(
    store: &Store,
    actor: &str,
    input: &MappingInput,
) -> Result<MappingChange, MappingError> {
    let now = Timestamp::now();
    let change = plan_set(store, actor, input, MappingSource::Manual, now).await?;
    let audit = audit_for(
        &change,
        actor,
        crate::audit::AuditKind::MappingSet,
        "map set",
        now,
    );
    write(store, &[(change.clone(), audit)]).await?;
    Ok(change)
}

/// Removes a tenant's mapping (no-op when it has none). Writes the audit log.
pub async fn clear_mapping(
    store: &Store,
    actor: &str,
    tenant_id: &str,
) -> Result<MappingChange, MappingError> {
    let now = Timestamp::now();
    let before = store.get_mapping(tenant_id).await?;
    let change = MappingChange {
        tenant_id: TenantId::new(tenant_id),
        before,
        after: None,
    };
    let audit = audit_for(
        &change,
        actor,
        crate::audit::AuditKind::MappingClear,
        "map clear",
        now,
    );
    write(store, &[(change.clone(), audit)]).await?;
    Ok(change)
}

/// Turns usage sync and/or ticket sync on or off for a mapped tenant (`None` keeps the value).
pub async fn set_switches(
    store: &Store,
    actor: &str,
    tenant_id: &str,
    usage_sync: Option<bool>,
    ticket_sync: Option<bool>,
) -> Result<MappingChange, MappingError> {
    let tenant = load_tenant(store, tenant_id).await?;
    let Some(before) = store.get_mapping(&tenant.id).await? else {
        return Err(MappingError::Refused(Refusal::NotMapped {
            tenant: tenant_label(&tenant),
        }));
    };
    let mut after = before.clone();
    after.usage_sync = usage_sync.unwrap_or(before.usage_sync);
    after.ticket_sync = ticket_sync.unwrap_or(before.ticket_sync);
    if after.usage_sync && after.agreement_id.is_none() {
        return Err(MappingError::Refused(Refusal::UsageSyncNeedsAgreement {
            tenant: tenant_label(&tenant),
        }));
    }
    let now = Timestamp::now();
    if after != before {
        after.confirmed_by = actor.to_owned();
        after.confirmed_at = now;
    }
    let change = MappingChange {
        tenant_id: tenant.id.clone(),
        before: Some(before),
        after: Some(after),
    };
    let audit = audit_for(
        &change,
        actor,
        crate::audit::AuditKind::MappingSwitches,
        "switches changed",
        now,
    );
    write(store, &[(change.clone(), audit)]).await?;
    Ok(change)
}

/// Finds a tenant by id, else by exact name (case- and accent-insensitive). Several matches or none
/// are errors naming the candidates.
pub async fn resolve_tenant(store: &Store, query: &str) -> Result<TenantRecord, MappingError> {
    let q = query.trim();
    if let Some(t) = store.get_tenant(q).await? {
        return Ok(t);
    }
    let want = super::normalize::normalize_name(q);
    let exact: Vec<TenantRecord> = store
        .list_tenants()
        .await?
        .into_iter()
        .filter(|t| t.name == q || super::normalize::normalize_name(&t.name) == want)
        .collect();
    let literal: Vec<&TenantRecord> = exact.iter().filter(|t| t.name == q).collect();
    match (literal.len(), exact.len()) {
        (1, _) => Ok(literal[0].clone()),
        (_, 1) => Ok(exact
            .into_iter()
            .next()
            .ok_or_else(|| MappingError::NotFound(messages::unknown_tenant(q)))?),
        (_, 0) => Err(MappingError::NotFound(messages::unknown_tenant(q))),
        _ => Err(MappingError::NotFound(messages::ambiguous_tenant(
            q,
            &exact.iter().map(tenant_label).collect::<Vec<_>>(),
        ))),
    }
}

/// Finds a company by numeric id, else by identifier (ASCII case-insensitive).
pub async fn resolve_company(store: &Store, query: &str) -> Result<CompanyRecord, MappingError> {
    let q = query.trim();
    if let Ok(id) = q.parse::<CompanyId>()
        && let Some(c) = store.get_company(id).await?
    {
        return Ok(c);
    }
    let mut found = store.find_companies_by_identifier(q).await?;
    // A deleted namesake must not make a live identifier ambiguous.
    if found.len() > 1 {
        let live: Vec<CompanyRecord> = found
            .iter()
            .filter(|c| !c.deleted && !c.gone)
            .cloned()
            .collect();
        if live.len() == 1 {
            found = live;
        }
    }
    match found.len() {
        0 => Err(MappingError::NotFound(messages::unknown_company(q))),
        1 => Ok(found.remove(0)),
        _ => Err(MappingError::NotFound(messages::ambiguous_company(
            q,
            &found.iter().map(company_label).collect::<Vec<_>>(),
        ))),
    }
}
