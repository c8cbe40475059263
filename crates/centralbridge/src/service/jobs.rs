//! The real work behind each scheduled job: the engine's refresh, usage sync and ticket sync, with
//! clients built from the stored connections for every run (so a `connect` takes effect at the next
//! run) and their request counters added to the metrics.

use std::sync::Arc;

use engine::connections;
use engine::store::{RunOutcome, Store};
use serde_json::json;

use super::metrics;
use super::scheduler::{Job, JobFuture, JobResult, JobRunner};

/// Who the audit log names for scheduled runs.
pub const SERVICE_ACTOR: &str = "service";

/// Runs jobs through the engine.
#[derive(Debug, Clone, Default)]
pub struct EngineRunner {
    /// Customers worked on at once by the usage sync.
    pub concurrency: usize,
}

impl JobRunner for EngineRunner {
    fn run(&self, job: Job, store: Store) -> JobFuture {
        let this = self.clone();
        Box::pin(async move {
            match job {
                Job::Refresh => refresh(&store).await,
                Job::Usage => usage(&store, this.concurrency).await,
                Job::Tickets => tickets(&store).await,
            }
        })
    }
}

impl EngineRunner {
    pub fn shared(concurrency: usize) -> Arc<dyn JobRunner> {
        Arc::new(EngineRunner { concurrency })
    }
}

fn record_stats(cw: Option<&connectwise::Client>, so: Option<&sophos::Client>) {
    if let Some(cw) = cw {
        metrics::connectwise_stats(&cw.stats());
    }
    if let Some(so) = so {
        metrics::sophos_stats(&so.stats());
    }
}

/// Company refresh: tenants, companies and agreements into the store.
pub async fn refresh(store: &Store) -> JobResult {
    let so = connections::sophos_client(store).await;
    let cw = connections::connectwise_client(store).await;
    let mut missing = Vec::new();
    if let Err(e) = &so {
        missing.push(e.to_string());
    }
    if let Err(e) = &cw {
        missing.push(e.to_string());
    }
    let so = so.ok();
    let cw = cw.ok();
    let result = engine::mapping::refresh(
        store,
        so.as_ref(),
        cw.as_ref(),
        &missing.join(" "),
        &engine::mapping::RefreshOptions::default(),
    )
    .await;
    record_stats(cw.as_ref(), so.as_ref());
    match result {
        Ok(s) => {
            let outcome = s.outcome();
            let summary = format!(
                "{} tenants, {} companies, {} agreements read ({} new, {} renamed)",
                s.tenants.seen,
                s.companies.seen,
                s.agreements.seen,
                s.tenants.new + s.companies.new + s.agreements.new,
                s.tenants.renamed + s.companies.renamed + s.agreements.renamed,
            );
            JobResult {
                outcome,
                counts: json!({
                    "tenants": s.tenants.seen, "companies": s.companies.seen, "agreements": s.agreements.seen
                }),
                error: (outcome != RunOutcome::Ok)
                    .then(|| missing.join(" "))
                    .filter(|e| !e.is_empty()),
                summary,
            }
        }
        Err(e) => JobResult::failed(e.to_string()),
    }
}

/// Usage sync of every mapped customer with usage sync on.
pub async fn usage(store: &Store, concurrency: usize) -> JobResult {
    let (cw, so) = match clients(store, Job::Usage).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let opts = engine::usage::SyncOptions {
        actor: SERVICE_ACTOR.to_owned(),
        concurrency: concurrency.max(1),
        ..Default::default()
    };
    let result = engine::usage::run(store, &cw, &so, &opts).await;
    record_stats(Some(&cw), Some(&so));
    match result {
        Ok(r) => usage_result(&r),
        Err(e) => JobResult::failed(e.to_string()),
    }
}

pub fn usage_result(r: &engine::usage::SyncReport) -> JobResult {
    let total = r.customers.len();
    let outcome = match r.failed_customers {
        0 => RunOutcome::Ok,
        n if n == total => RunOutcome::Failed,
        _ => RunOutcome::Partial,
    };
    let c = &r.counts;
    JobResult {
        outcome,
        counts: serde_json::to_value(c).unwrap_or_default(),
        error: (r.failed_customers > 0)
            .then(|| format!("{} customer(s) failed", r.failed_customers)),
        summary: format!(
            "{} customers: {} additions created, {} updated, {} cancelled, {} unchanged, {} failed",
            total, c.created, c.updated, c.cancelled, c.unchanged, r.failed_customers
        ),
    }
}

/// One ticket sync cycle.
pub async fn tickets(store: &Store) -> JobResult {
    let (cw, so) = match clients(store, Job::Tickets).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let opts = engine::tickets::SyncOptions {
        actor: SERVICE_ACTOR.to_owned(),
        ..Default::default()
    };
    let result = engine::tickets::run_cycle(store, &cw, &so, &opts).await;
    record_stats(Some(&cw), Some(&so));
    match result {
        Ok(r) => tickets_result(&r),
        // Not set up yet is a state, not a failure: the Tickets page says what to do.
        Err(engine::tickets::TicketError::NotConfigured) => JobResult {
            outcome: RunOutcome::Ok,
            counts: json!({"configured": false}),
            error: None,
            summary: engine::tickets::TicketError::NotConfigured.to_string(),
        },
        Err(e) => JobResult::failed(e.to_string()),
    }
}

pub fn tickets_result(r: &engine::tickets::CycleReport) -> JobResult {
    let t = &r.totals;
    metrics::alerts_ticketed(t.created);
    let failed = r.tenants.iter().filter(|t| !t.ok && !t.waiting).count();
    JobResult {
        outcome: r.outcome,
        counts: json!({"totals": t, "tenants": r.tenants.len(), "failed": failed}),
        error: (failed > 0).then(|| format!("{failed} customer(s) failed")),
        summary: format!(
            "{} alerts read: {} tickets opened, {} notes added, {} resolved, {} customers failed",
            t.listed, t.created, t.noted, t.resolved, failed
        ),
    }
}

async fn clients(
    store: &Store,
    job: Job,
) -> Result<(connectwise::Client, sophos::Client), JobResult> {
    let failed = |e: connections::ConnectionError| {
        JobResult::failed(super::messages::not_connected_job(
            job.title(),
            &e.to_string(),
        ))
    };
    // Both stored connections first (instant), so a missing one is reported without network waits.
    let cw_cfg = connections::connectwise_config(store)
        .await
        .map_err(failed)?;
    let so_cfg = connections::sophos_config(store).await.map_err(failed)?;
    let cw = connectwise::Client::connect(cw_cfg)
        .await
        .map_err(|e| failed(e.into()))?;
    let so = sophos::Client::connect(so_cfg)
        .await
        .map_err(|e| failed(e.into()))?;
    Ok((cw, so))
}
