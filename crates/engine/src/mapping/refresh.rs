//! Refresh: all Sophos tenants and all ConnectWise companies and agreements into the store.
//!
//! Streams are consumed page by page and written in batches (one transaction each), so memory stays
//! bounded by one vendor page plus one batch whatever the MSP's size. Only a listing that completed
//! marks missing objects `gone`: a refresh cut short by an error never makes anything disappear.

use std::fmt::Display;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::{Stream, StreamExt as _};
use jiff::Timestamp;
use serde::Serialize;

use super::{MappingError, messages};
use crate::ids::{AgreementId, BillingType, CompanyId, TenantId};
use crate::job::{Run, RunEnd, RunReport, Tally};
use crate::store::{
    AgreementRecord, BatchCounts, CompanyRecord, CoreStore as _, MappingStore as _, RecordKind,
    Rename, RunOutcome, Store, SyncRun, TenantRecord,
};

/// The sync-run job name of a refresh.
pub const REFRESH_JOB: &str = "refresh";

/// How often the service refreshes (reference §9: every 24 hours).
pub const REFRESH_INTERVAL: Duration = Duration::from_secs(24 * 3600);

/// Called with the kind and the number of records read so far (for progress bars).
pub type Progress = Arc<dyn Fn(RecordKind, u64) + Send + Sync>;

/// How a refresh batches its writes and reports progress.
#[derive(Clone)]
pub struct RefreshOptions {
    /// Records per store transaction.
    pub batch_size: usize,
    /// How many renames per kind the summary keeps (all are counted).
    pub max_renames: usize,
    /// Called after each batch and at the end of each listing; `None` reports nothing.
    pub progress: Option<Progress>,
}

impl Default for RefreshOptions {
    fn default() -> Self {
        Self {
            batch_size: 500,
            max_renames: 50,
            progress: None,
        }
    }
}

impl std::fmt::Debug for RefreshOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshOptions")
            .field("batch_size", &self.batch_size)
            .field("max_renames", &self.max_renames)
            .finish_non_exhaustive()
    }
}

/// What a refresh did to one kind of record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KindSummary {
    /// Records written to the store (those with an id).
    pub seen: u64,
    /// Records the store did not have.
    pub new: u64,
    /// Known records whose name changed.
    pub renamed: u64,
    /// Known records with the same name whose other fields changed (status, flags, region, ...).
    pub changed: u64,
    /// Were gone and came back.
    pub returned: u64,
    /// Newly flagged gone (missing from a complete listing).
    pub gone: u64,
    /// Records the vendor sent without an id (ignored).
    pub skipped: u64,
    /// The listing was read to the end.
    pub complete: bool,
    /// Why it was not (vendor error or missing connection).
    pub error: Option<String>,
    /// The first renames (up to `max_renames`).
    pub renames: Vec<Rename>,
}

impl KindSummary {
    fn add(&mut self, b: BatchCounts, max_renames: usize) {
        self.seen += b.seen;
        self.new += b.new;
        self.renamed += b.renamed;
        self.changed += b.changed;
        self.returned += b.returned;
        let room = max_renames.saturating_sub(self.renames.len());
        self.renames.extend(b.renames.into_iter().take(room));
    }

    fn skipped_because(reason: String) -> Self {
        Self {
            error: Some(reason),
            ..Self::default()
        }
    }
}

/// The result of [`refresh`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefreshSummary {
    /// The `sync_runs` id of the run; `None` for a dry run.
    pub run_id: Option<i64>,
    /// When the run started; records not seen since then are flagged gone.
    pub started_at: Timestamp,
    /// When the last of the three listings ended.
    pub finished_at: Timestamp,
    /// What happened to Sophos tenants.
    pub tenants: KindSummary,
    /// What happened to ConnectWise companies.
    pub companies: KindSummary,
    /// What happened to ConnectWise agreements.
    pub agreements: KindSummary,
}

impl RefreshSummary {
    /// All three listings completed.
    pub fn ok(&self) -> bool {
        self.tenants.complete && self.companies.complete && self.agreements.complete
    }

    /// The run's outcome, each listing one part: ok, partial, or failed when none completed.
    pub fn outcome(&self) -> RunOutcome {
        self.tally().outcome()
    }

    /// Each of the three listings counts as one part of the run.
    fn tally(&self) -> Tally {
        let done = [&self.tenants, &self.companies, &self.agreements]
            .iter()
            .filter(|k| k.complete)
            .count();
        Tally {
            customers: 3,
            failed: 3 - done,
            ..Tally::default()
        }
    }

    fn errors(&self) -> Option<String> {
        let parts: Vec<String> = [
            ("tenants", &self.tenants),
            ("companies", &self.companies),
            ("agreements", &self.agreements),
        ]
        .iter()
        .filter_map(|(n, k)| k.error.as_ref().map(|e| format!("{n}: {e}")))
        .collect();
        (!parts.is_empty()).then(|| parts.join("; "))
    }
}

/// A store record type a refresh writes.
pub(crate) trait Refreshed: Sized + Send + Sync {
    const KIND: RecordKind;
    fn upsert<'a>(
        store: &'a Store,
        batch: &'a [Self],
        at: Timestamp,
    ) -> impl Future<Output = crate::store::Result<BatchCounts>> + Send + 'a;
}

impl Refreshed for TenantRecord {
    const KIND: RecordKind = RecordKind::Tenants;
    fn upsert<'a>(
        store: &'a Store,
        batch: &'a [Self],
        at: Timestamp,
    ) -> impl Future<Output = crate::store::Result<BatchCounts>> + Send + 'a {
        store.upsert_tenants(batch, at)
    }
}

impl Refreshed for CompanyRecord {
    const KIND: RecordKind = RecordKind::Companies;
    fn upsert<'a>(
        store: &'a Store,
        batch: &'a [Self],
        at: Timestamp,
    ) -> impl Future<Output = crate::store::Result<BatchCounts>> + Send + 'a {
        store.upsert_companies(batch, at)
    }
}

impl Refreshed for AgreementRecord {
    const KIND: RecordKind = RecordKind::Agreements;
    fn upsert<'a>(
        store: &'a Store,
        batch: &'a [Self],
        at: Timestamp,
    ) -> impl Future<Output = crate::store::Result<BatchCounts>> + Send + 'a {
        store.upsert_agreements(batch, at)
    }
}

/// Reads `stream` to the end in batches; flags what was not seen as gone when the listing completed.
async fn ingest<T, E, R, S>(
    store: &Store,
    stream: S,
    convert: impl Fn(T) -> Option<R>,
    seen_at: Timestamp,
    opts: &RefreshOptions,
) -> Result<KindSummary, MappingError>
where
    S: Stream<Item = Result<T, E>>,
    E: Display,
    R: Refreshed,
{
    let size = opts.batch_size.max(1);
    let mut stream = std::pin::pin!(stream);
    let mut batch: Vec<R> = Vec::with_capacity(size);
    let mut summary = KindSummary::default();
    let mut read = 0u64;
    loop {
        match stream.next().await {
            Some(Ok(item)) => {
                read += 1;
                match convert(item) {
                    Some(r) => batch.push(r),
                    None => summary.skipped += 1,
                }
                if batch.len() >= size {
                    let counts = R::upsert(store, &batch, seen_at).await?;
                    summary.add(counts, opts.max_renames);
                    batch.clear();
                    if let Some(p) = &opts.progress {
                        p(R::KIND, read);
                    }
                }
            }
            Some(Err(e)) => {
                summary.error = Some(e.to_string());
                break;
            }
            None => {
                summary.complete = true;
                break;
            }
        }
    }
    // What was read before an error is still true: keep it.
    if !batch.is_empty() {
        let counts = R::upsert(store, &batch, seen_at).await?;
        summary.add(counts, opts.max_renames);
    }
    if let Some(p) = &opts.progress {
        p(R::KIND, read);
    }
    if summary.complete {
        summary.gone = store.mark_gone(R::KIND, seen_at).await?;
    }
    Ok(summary)
}

fn tenant_record(t: sophos::TenantSummary, at: Timestamp) -> Option<TenantRecord> {
    if t.id.trim().is_empty() {
        return None;
    }
    Some(TenantRecord {
        name: t.name,
        billing_type: t.billing_type.as_deref().map(BillingType::parse),
        data_region: t.data_region,
        api_host: t.api_host,
        status: t.status,
        id: TenantId::new(t.id),
        first_seen: at,
        last_seen: at,
        gone: false,
    })
}

fn company_record(c: connectwise::CompanySummary, at: Timestamp) -> CompanyRecord {
    let inactive = c
        .status
        .as_deref()
        .is_some_and(|s| s.to_lowercase().contains("inactive"));
    let identifier = c.identifier.unwrap_or_default();
    CompanyRecord {
        id: CompanyId::new(c.id),
        name: c.name.unwrap_or_else(|| identifier.clone()),
        identifier,
        status: c.status,
        deleted: c.deleted,
        inactive,
        first_seen: at,
        last_seen: at,
        gone: false,
    }
}

fn agreement_record(a: connectwise::AgreementSummary, at: Timestamp) -> AgreementRecord {
    let id = AgreementId::new(a.id);
    // ConnectWise flips the status to Expired on its own schedule; the end date says it sooner.
    let ended = a.ends_at.is_some_and(|d| d < at);
    let expired = !a.cancelled && (a.expired_status || ended);
    AgreementRecord {
        id,
        company_id: a.company_id.map(CompanyId::new),
        name: a.name.unwrap_or_else(|| format!("Agreement {id}")),
        type_name: a.type_name,
        status: a.status,
        cancelled: a.cancelled,
        expired,
        billing_cycle: a.billing_cycle,
        first_seen: at,
        last_seen: at,
        gone: false,
    }
}

/// Reads every tenant from `stream` (e.g. `sophos.tenant_summaries()`) into the store.
pub async fn refresh_tenants<E: Display>(
    store: &Store,
    stream: impl Stream<Item = Result<sophos::TenantSummary, E>>,
    seen_at: Timestamp,
    opts: &RefreshOptions,
) -> Result<KindSummary, MappingError> {
    ingest(store, stream, |t| tenant_record(t, seen_at), seen_at, opts).await
}

/// Reads every company from `stream` (e.g. `cw.company_summaries()`) into the store.
pub async fn refresh_companies<E: Display>(
    store: &Store,
    stream: impl Stream<Item = Result<connectwise::CompanySummary, E>>,
    seen_at: Timestamp,
    opts: &RefreshOptions,
) -> Result<KindSummary, MappingError> {
    ingest(
        store,
        stream,
        |c| Some(company_record(c, seen_at)),
        seen_at,
        opts,
    )
    .await
}

/// Reads every agreement from `stream` (e.g. `cw.agreement_summaries()`) into the store.
pub async fn refresh_agreements<E: Display>(
    store: &Store,
    stream: impl Stream<Item = Result<connectwise::AgreementSummary, E>>,
    seen_at: Timestamp,
    opts: &RefreshOptions,
) -> Result<KindSummary, MappingError> {
    ingest(
        store,
        stream,
        |a| Some(agreement_record(a, seen_at)),
        seen_at,
        opts,
    )
    .await
}

/// Refreshes tenants (Sophos) and companies and agreements (ConnectWise) at once, as part of `run`
/// (job [`REFRESH_JOB`]); the caller finishes the run with the result's [`RunReport::run_end`]. A
/// side without a client (`None`, e.g. not connected yet) is reported as not refreshed with
/// `missing_reason`; a vendor error ends only its own listing.
#[tracing::instrument(skip_all, fields(job = "refresh", run_id = ?run.id()))]
pub async fn refresh(
    store: &Store,
    sophos: Option<&sophos::Client>,
    cw: Option<&connectwise::Client>,
    missing_reason: &str,
    opts: &RefreshOptions,
    run: &Run,
) -> Result<RefreshSummary, MappingError> {
    let started_at = run.started_at();
    let tenants = async {
        match sophos {
            Some(s) => refresh_tenants(store, s.tenant_summaries(), started_at, opts).await,
            None => Ok(KindSummary::skipped_because(missing_reason.to_owned())),
        }
    };
    let companies = async {
        match cw {
            Some(c) => refresh_companies(store, c.company_summaries(), started_at, opts).await,
            None => Ok(KindSummary::skipped_because(missing_reason.to_owned())),
        }
    };
    let agreements = async {
        match cw {
            Some(c) => refresh_agreements(store, c.agreement_summaries(), started_at, opts).await,
            None => Ok(KindSummary::skipped_because(missing_reason.to_owned())),
        }
    };
    let (tenants, companies, agreements) = tokio::join!(tenants, companies, agreements);
    let finished_at = Timestamp::now();
    match (tenants, companies, agreements) {
        (Ok(tenants), Ok(companies), Ok(agreements)) => Ok(RefreshSummary {
            run_id: run.id(),
            started_at,
            finished_at,
            tenants,
            companies,
            agreements,
        }),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => Err(e),
    }
}

impl RunReport for RefreshSummary {
    fn run_end(&self) -> RunEnd {
        let counts = serde_json::json!({
            "tenants": counts_json(&self.tenants),
            "companies": counts_json(&self.companies),
            "agreements": counts_json(&self.agreements),
        });
        let mut end = RunEnd::from_tally(self.tally(), counts, messages::refresh_summary(self));
        // Which listing failed says more than "n customers failed".
        if end.error.is_some() || self.errors().is_some() {
            end.error = self.errors();
        }
        end
    }
}

impl RunReport for Result<RefreshSummary, MappingError> {
    fn run_end(&self) -> RunEnd {
        match self {
            Ok(s) => s.run_end(),
            Err(e) => RunEnd::failed(e.to_string()),
        }
    }
}

fn counts_json(k: &KindSummary) -> serde_json::Value {
    serde_json::json!({
        "seen": k.seen, "new": k.new, "renamed": k.renamed, "changed": k.changed,
        "returned": k.returned, "gone": k.gone, "complete": k.complete,
    })
}

/// The newest refresh run, if any.
pub async fn last_refresh(store: &Store) -> Result<Option<SyncRun>, MappingError> {
    Ok(store
        .list_sync_runs(Some(REFRESH_JOB), 1)
        .await?
        .into_iter()
        .next())
}

/// Whether the 24-hour refresh is due at `now`: never refreshed, or the last run that got anything
/// through (ok or partial) started at least [`REFRESH_INTERVAL`] ago. A failed run does not count.
pub async fn refresh_due(store: &Store, now: Timestamp) -> Result<bool, MappingError> {
    let runs = store.list_sync_runs(Some(REFRESH_JOB), 20).await?;
    let last_good = runs
        .iter()
        .find(|r| matches!(r.outcome, RunOutcome::Ok | RunOutcome::Partial));
    Ok(match last_good {
        None => true,
        Some(r) => {
            let age = now.duration_since(r.started_at);
            u64::try_from(age.as_secs()).is_ok_and(|s| s >= REFRESH_INTERVAL.as_secs())
        }
    })
}
