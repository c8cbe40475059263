//! The additions of many agreements in a few calls: ConnectWise's `AgreementAdditions` report
//! (API Reports: Inquire, which the setup guide's role grants) instead of one REST read per
//! agreement. The report is trusted only after discovery (listed, with the columns needed) and a
//! sample of its rows matches the REST records; otherwise the run reads per agreement and says why.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::messages;
use crate::ids::AgreementId;

/// How a usage run reads the agreements' additions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AdditionsRead {
    /// The report when there are enough agreements to gain from it, else per agreement.
    #[default]
    Auto,
    /// The report whenever it can be trusted.
    Report,
    /// One REST read per agreement.
    PerAgreement,
}

/// Below this many agreements, the per-agreement reads cost no more than discovering and
/// checking the report.
const AUTO_MIN_AGREEMENTS: usize = 8;

/// Agreements whose REST records are compared with the report before it is trusted.
const SAMPLE: usize = 3;

/// Where a run's additions came from, for the summary.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct AdditionsSource {
    /// `report` or `per_agreement`.
    pub read: &'static str,
    /// Why the report was not used (`None` when it was, or when too few agreements made it not
    /// worth it).
    pub reason: Option<String>,
    /// Agreements whose records were checked against the report.
    pub sampled: usize,
}

/// The additions read ahead for every agreement, or `None` to read each one as it is planned.
pub(super) struct Prefetched {
    pub(super) by_agreement: Option<HashMap<AgreementId, Vec<connectwise::AdditionState>>>,
    pub(super) source: AdditionsSource,
}

fn per_agreement(reason: Option<String>) -> Prefetched {
    Prefetched {
        by_agreement: None,
        source: AdditionsSource {
            read: "per_agreement",
            reason,
            sampled: 0,
        },
    }
}

/// What planning sees of an addition (prices are shown, never compared).
fn key(a: &connectwise::AdditionState) -> (i64, i64, u64, bool) {
    (a.id, a.catalog_item_id, a.quantity.to_bits(), a.cancelled)
}

/// Reads the additions of `agreements` that bill one of `catalog_item_ids`, through the report
/// when `mode` and the server allow and a sample agrees with the REST records.
pub(super) async fn prefetch(
    cw: &connectwise::Client,
    mode: AdditionsRead,
    agreements: &[AgreementId],
    catalog_item_ids: &BTreeSet<i64>,
) -> Prefetched {
    let worth_it = match mode {
        AdditionsRead::PerAgreement => false,
        AdditionsRead::Report => !agreements.is_empty(),
        AdditionsRead::Auto => agreements.len() >= AUTO_MIN_AGREEMENTS,
    };
    if !worth_it || catalog_item_ids.is_empty() {
        return per_agreement(None);
    }
    let prices = match cw.additions_report_support().await {
        Ok(connectwise::BulkSupport::Usable { prices }) => prices,
        Ok(connectwise::BulkSupport::Unusable(why)) => return per_agreement(Some(why)),
        Err(e) => return per_agreement(Some(messages::report_failed(&e.to_string()))),
    };
    let ids: Vec<i64> = catalog_item_ids.iter().copied().collect();
    let rows = match cw.additions_by_report(&ids, prices).await {
        Ok(r) => r,
        Err(e) => return per_agreement(Some(messages::report_failed(&e.to_string()))),
    };
    let wanted: BTreeSet<i64> = agreements.iter().map(|a| a.get()).collect();
    let mut by_agreement: HashMap<AgreementId, Vec<connectwise::AdditionState>> = rows
        .into_iter()
        .filter(|(a, _)| wanted.contains(a))
        .map(|(a, v)| (AgreementId::new(a), v))
        .collect();
    // Check a sample, spread over the agreements (those with rows first): a report served from a
    // lagging copy, or one that means something else by a column, must not plan the run.
    let mut with_rows: Vec<AgreementId> = agreements
        .iter()
        .copied()
        .filter(|a| by_agreement.get(a).is_some_and(|v| !v.is_empty()))
        .collect();
    with_rows.sort();
    let step = (with_rows.len() / SAMPLE).max(1);
    let sample: Vec<AgreementId> = with_rows
        .iter()
        .step_by(step)
        .take(SAMPLE)
        .copied()
        .collect();
    // The sampled agreements are read at once.
    let reads = futures::future::join_all(sample.iter().map(|a| cw.addition_states(a.get()))).await;
    for (a, read) in sample.iter().zip(reads) {
        let rest: Vec<connectwise::AdditionState> = match read {
            Ok(v) => v
                .into_iter()
                .filter(|s| catalog_item_ids.contains(&s.catalog_item_id))
                .collect(),
            Err(e) => return per_agreement(Some(messages::report_failed(&e.to_string()))),
        };
        let from_report: BTreeMap<i64, _> = by_agreement
            .get(a)
            .map(|v| v.iter().map(|s| (s.id, key(s))).collect())
            .unwrap_or_default();
        let from_rest: BTreeMap<i64, _> = rest.iter().map(|s| (s.id, key(s))).collect();
        if from_report != from_rest {
            return per_agreement(Some(messages::report_disagrees(
                *a,
                &describe(&from_report, &from_rest),
            )));
        }
        // The REST read is the fresher: keep it (it has the prices the report may lack).
        by_agreement.insert(*a, rest);
    }
    // Agreements without rows have no addition of these products.
    for a in agreements {
        by_agreement.entry(*a).or_default();
    }
    Prefetched {
        by_agreement: Some(by_agreement),
        source: AdditionsSource {
            read: "report",
            reason: None,
            sampled: sample.len(),
        },
    }
}

type Seen = BTreeMap<i64, (i64, i64, u64, bool)>;

/// The first difference, for people.
fn describe(report: &Seen, rest: &Seen) -> String {
    for (id, r) in report {
        match rest.get(id) {
            None => return messages::report_extra(*id),
            Some(x) if x != r => {
                return messages::report_differs(
                    *id,
                    (f64::from_bits(r.2), r.3),
                    (f64::from_bits(x.2), x.3),
                );
            }
            Some(_) => {}
        }
    }
    match rest.keys().find(|id| !report.contains_key(id)) {
        Some(id) => messages::report_lacks(*id),
        None => String::new(),
    }
}
