//! Suggestions for unmapped tenants, and bulk acceptance of the unambiguous ones.
//!
//! A suggestion is only a proposal: nothing is billed or ticketed on it until a person confirms it
//! (`map set`, or `map accept` which takes only clear winners).

use std::cmp::Ordering;
use std::collections::{BTreeSet, HashMap, HashSet};

use jiff::Timestamp;
use serde::Serialize;

use super::MappingError;
use super::list::{AgreementOption, rank_agreements};
use super::normalize::{compact, index_tokens, normalize_name, similarity};
use super::rules::{MappingChange, MappingInput, audit_for, plan_set, write};
use crate::ids::{AgreementId, CompanyId, TenantId};
use crate::store::{AgreementRecord, CompanyRecord, MappingSource, MappingStore as _, Store};

/// Why a candidate was proposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchReason {
    /// The tenant name, without separators, equals the company identifier.
    Identifier,
    /// The names are equal after normalisation (case, accents, punctuation, legal suffix).
    Name,
    /// Similar names (typos, extra words).
    Similar,
}

/// A company proposed for a tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Candidate {
    /// ConnectWise's record id of the company.
    pub company_id: CompanyId,
    /// The company's identifier in ConnectWise.
    pub identifier: String,
    /// The company's name.
    pub name: String,
    /// 1.0 = exact after normalisation; below 1.0 = similarity.
    pub score: f64,
    /// Why it was proposed.
    pub reason: MatchReason,
    /// The company is inactive in ConnectWise (`map accept` skips it).
    pub inactive: bool,
    /// The company's agreements, ranked (active first, cancelled last).
    pub agreements: Vec<AgreementOption>,
}

/// The candidates for one unmapped tenant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggestion {
    /// The unmapped Sophos tenant.
    pub tenant_id: TenantId,
    /// Its display name.
    pub tenant_name: String,
    /// Best first; empty when nothing scored above the floor.
    pub candidates: Vec<Candidate>,
    /// The best two are within the ambiguity margin: a person must choose.
    pub ambiguous: bool,
    /// Other tenants whose best candidate is the same company.
    pub contested_by: Vec<TenantId>,
}

impl Suggestion {
    /// The highest-scoring candidate; `None` when there is none.
    pub fn best(&self) -> Option<&Candidate> {
        self.candidates.first()
    }

    /// Clear enough for `map accept` (before the score threshold).
    pub fn unambiguous(&self) -> bool {
        !self.candidates.is_empty() && !self.ambiguous && self.contested_by.is_empty()
    }
}

/// How [`suggest`] scores and filters candidates.
#[derive(Debug, Clone, PartialEq)]
pub struct SuggestOptions {
    /// Candidates below this score are not shown.
    pub floor: f64,
    /// Candidates per tenant.
    pub top: usize,
    /// Best two within this margin = ambiguous.
    pub ambiguity_margin: f64,
    /// Only this tenant (id).
    pub tenant_id: Option<TenantId>,
}

impl Default for SuggestOptions {
    fn default() -> Self {
        Self {
            floor: 0.6,
            top: 3,
            ambiguity_margin: 0.05,
            tenant_id: None,
        }
    }
}

struct Indexed {
    company: CompanyRecord,
    norm: String,
}

/// Scored candidates for every unmapped tenant still in Sophos (or just `opts.tenant_id`). Deleted
/// companies and companies already mapped to a tenant are never proposed; inactive ones are, flagged.
pub async fn suggest(
    store: &Store,
    opts: &SuggestOptions,
) -> Result<Vec<Suggestion>, MappingError> {
    let mappings = store.list_mappings().await?;
    let mapped_tenants: HashSet<&str> = mappings.iter().map(|m| m.tenant_id.as_str()).collect();
    let mapped_companies: HashSet<CompanyId> = mappings.iter().map(|m| m.company_id).collect();
    let agreement_used: HashMap<AgreementId, TenantId> = mappings
        .iter()
        .filter_map(|m| m.agreement_id.map(|a| (a, m.tenant_id.clone())))
        .collect();

    let companies: Vec<Indexed> = store
        .list_companies(false)
        .await?
        .into_iter()
        .filter(|c| !mapped_companies.contains(&c.id))
        .map(|c| Indexed {
            norm: normalize_name(&c.name),
            company: c,
        })
        .collect();
    let mut by_name: HashMap<&str, Vec<usize>> = HashMap::new();
    let mut by_compact: HashMap<String, Vec<(usize, MatchReason)>> = HashMap::new();
    let mut by_token: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, c) in companies.iter().enumerate() {
        by_name.entry(c.norm.as_str()).or_default().push(i);
        by_compact
            .entry(c.norm.replace(' ', ""))
            .or_default()
            .push((i, MatchReason::Name));
        let ident = compact(&c.company.identifier);
        if !ident.is_empty() {
            by_compact
                .entry(ident)
                .or_default()
                .push((i, MatchReason::Identifier));
        }
        for t in index_tokens(&c.norm) {
            by_token.entry(t).or_default().push(i);
        }
    }
    let mut agreements_of: HashMap<CompanyId, Vec<AgreementRecord>> = HashMap::new();
    for a in store.list_agreements().await? {
        if let Some(cid) = a.company_id {
            agreements_of.entry(cid).or_default().push(a);
        }
    }

    let tenants = store.list_tenants().await?;
    let mut out = Vec::new();
    for t in tenants.iter().filter(|t| {
        !t.gone
            && !mapped_tenants.contains(t.id.as_str())
            && opts.tenant_id.as_ref().is_none_or(|id| *id == t.id)
    }) {
        let norm = normalize_name(&t.name);
        let mut scored: HashMap<usize, (f64, MatchReason)> = HashMap::new();
        for &i in by_name.get(norm.as_str()).into_iter().flatten() {
            scored.insert(i, (1.0, MatchReason::Name));
        }
        for &(i, reason) in by_compact.get(&norm.replace(' ', "")).into_iter().flatten() {
            scored.entry(i).or_insert((1.0, reason));
        }
        // Fuzzy: only companies sharing a word, unless none does (then all of them).
        let mut pool: BTreeSet<usize> = BTreeSet::new();
        for tok in index_tokens(&norm) {
            pool.extend(by_token.get(tok).into_iter().flatten().copied());
        }
        let everyone = pool.is_empty();
        let all: Box<dyn Iterator<Item = usize>> = if everyone {
            Box::new(0..companies.len())
        } else {
            Box::new(pool.into_iter())
        };
        for i in all {
            if scored.contains_key(&i) {
                continue;
            }
            let s = similarity(&norm, &companies[i].norm);
            if s >= opts.floor {
                scored.insert(i, (s, MatchReason::Similar));
            }
        }
        let mut ranked: Vec<(usize, f64, MatchReason)> =
            scored.into_iter().map(|(i, (s, r))| (i, s, r)).collect();
        ranked.sort_by(|a, b| {
            b.1.partial_cmp(&a.1)
                .unwrap_or(Ordering::Equal)
                .then_with(|| {
                    companies[a.0]
                        .company
                        .name
                        .cmp(&companies[b.0].company.name)
                })
                .then_with(|| companies[a.0].company.id.cmp(&companies[b.0].company.id))
        });
        let ambiguous =
            ranked.len() >= 2 && ranked[0].1 - ranked[1].1 <= opts.ambiguity_margin + 1e-9;
        ranked.truncate(opts.top.max(1));
        let candidates = ranked
            .into_iter()
            .map(|(i, score, reason)| {
                let c = &companies[i].company;
                Candidate {
                    company_id: c.id,
                    identifier: c.identifier.clone(),
                    name: c.name.clone(),
                    score,
                    reason,
                    inactive: c.inactive,
                    agreements: rank_agreements(
                        agreements_of.get(&c.id).cloned().unwrap_or_default(),
                        &agreement_used,
                    ),
                }
            })
            .collect();
        out.push(Suggestion {
            tenant_id: t.id.clone(),
            tenant_name: t.name.clone(),
            candidates,
            ambiguous,
            contested_by: Vec::new(),
        });
    }
    // Two tenants whose best match is the same company cannot both have it.
    let mut by_best: HashMap<CompanyId, Vec<TenantId>> = HashMap::new();
    for s in &out {
        if let Some(b) = s.best() {
            by_best
                .entry(b.company_id)
                .or_default()
                .push(s.tenant_id.clone());
        }
    }
    for s in &mut out {
        if let Some(id) = s.best().map(|b| b.company_id)
            && let Some(all) = by_best.get(&id)
        {
            s.contested_by = all.iter().filter(|t| **t != s.tenant_id).cloned().collect();
        }
    }
    out.sort_by(|a, b| {
        normalize_name(&a.tenant_name)
            .cmp(&normalize_name(&b.tenant_name))
            .then_with(|| a.tenant_id.cmp(&b.tenant_id))
    });
    Ok(out)
}

/// How [`accept`] picks the suggestions it confirms.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptOptions {
    /// Only best candidates scoring at least this are accepted.
    pub min_score: f64,
    /// Turn usage sync on for accepted mappings that got an agreement.
    pub usage_sync: bool,
    /// Turn ticket sync on for accepted mappings.
    pub ticket_sync: bool,
    /// Plan only: nothing is written.
    pub dry_run: bool,
    /// How the suggestions to accept are made.
    pub suggest: SuggestOptions,
}

impl Default for AcceptOptions {
    fn default() -> Self {
        Self {
            min_score: 1.0,
            usage_sync: false,
            ticket_sync: false,
            dry_run: false,
            suggest: SuggestOptions::default(),
        }
    }
}

/// A tenant `map accept` left alone, and why.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcceptSkip {
    /// The tenant left unmapped.
    pub tenant_id: TenantId,
    /// Its display name.
    pub tenant_name: String,
    /// Why it was skipped, with what to do (a message or a rule's refusal).
    pub reason: String,
}

/// One accepted suggestion.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Accepted {
    /// The tenant's display name.
    pub tenant_name: String,
    /// The name of the company it was mapped to.
    pub company_name: String,
    /// The candidate's score.
    pub score: f64,
    /// The mapping before and after.
    pub change: MappingChange,
    /// E.g. why no agreement was chosen.
    pub note: Option<String>,
}

/// What [`accept`] did (or, with `dry_run`, would do).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AcceptOutcome {
    /// Nothing was written.
    pub dry_run: bool,
    /// The suggestions confirmed, in tenant-name order.
    pub accepted: Vec<Accepted>,
    /// The tenants left alone, and why.
    pub skipped: Vec<AcceptSkip>,
}

/// Confirms every unambiguous suggestion whose best score is at least `min_score`, in one
/// transaction with one audit entry per mapping. The agreement is set when the company has exactly
/// one active, unused agreement.
pub async fn accept(
    store: &Store,
    actor: &str,
    opts: &AcceptOptions,
) -> Result<AcceptOutcome, MappingError> {
    let now = Timestamp::now();
    let suggestions = suggest(store, &opts.suggest).await?;
    let mut accepted = Vec::new();
    let mut skipped = Vec::new();
    let mut writes = Vec::new();
    for s in suggestions {
        let skip = |reason: String| AcceptSkip {
            tenant_id: s.tenant_id.clone(),
            tenant_name: s.tenant_name.clone(),
            reason,
        };
        let Some(best) = s.best() else {
            skipped.push(skip(crate::mapping::messages::accept_no_candidate()));
            continue;
        };
        if s.ambiguous {
            skipped.push(skip(crate::mapping::messages::accept_ambiguous(&s)));
            continue;
        }
        if !s.contested_by.is_empty() {
            skipped.push(skip(crate::mapping::messages::accept_contested(
                best,
                &s.contested_by,
            )));
            continue;
        }
        if best.score + 1e-9 < opts.min_score {
            skipped.push(skip(crate::mapping::messages::accept_low_score(
                best,
                opts.min_score,
            )));
            continue;
        }
        if best.inactive {
            skipped.push(skip(crate::mapping::messages::accept_inactive(best)));
            continue;
        }
        let usable: Vec<&AgreementOption> = best.agreements.iter().filter(|a| a.usable()).collect();
        let (agreement_id, mut note) = match usable.as_slice() {
            [one] => (Some(one.id), None),
            [] => (None, Some(crate::mapping::messages::accept_no_agreement())),
            many => (
                None,
                Some(crate::mapping::messages::accept_many_agreements(many.len())),
            ),
        };
        let usage_sync = opts.usage_sync && agreement_id.is_some();
        if opts.usage_sync && agreement_id.is_none() {
            note = note.map(|n| format!("{n}; usage sync left off"));
        }
        let input = MappingInput {
            tenant_id: s.tenant_id.clone(),
            company_id: best.company_id,
            agreement_id,
            clear_agreement: agreement_id.is_none(),
            usage_sync: Some(usage_sync),
            ticket_sync: Some(opts.ticket_sync),
            replace: false,
        };
        match plan_set(store, actor, &input, MappingSource::Accepted, now).await {
            Ok(change) => {
                let reason = format!("accepted suggestion (score {:.2})", best.score);
                writes.push((
                    change.clone(),
                    audit_for(
                        &change,
                        actor,
                        crate::audit::AuditKind::MappingAccept,
                        &reason,
                        now,
                    ),
                ));
                accepted.push(Accepted {
                    tenant_name: s.tenant_name.clone(),
                    company_name: best.name.clone(),
                    score: best.score,
                    change,
                    note,
                });
            }
            Err(MappingError::Refused(r)) => skipped.push(skip(r.to_string())),
            Err(e) => return Err(e),
        }
    }
    if !opts.dry_run {
        write(store, &writes).await?;
    }
    Ok(AcceptOutcome {
        dry_run: opts.dry_run,
        accepted,
        skipped,
    })
}
