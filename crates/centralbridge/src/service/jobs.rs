//! The real work behind each scheduled job: the engine's refresh, usage sync and ticket sync, inside
//! the run the scheduler began, with clients built from the stored connections for every run (so a
//! `connect` takes effect at the next run) and their request counters added to the metrics.

use std::sync::Arc;

use engine::connections;
use engine::job::{Job, Run, RunEnd, RunReport as _};
use engine::store::Store;

use super::metrics;
use super::scheduler::{JobFuture, JobRunner};

/// Who the audit log names for scheduled runs.
pub const SERVICE_ACTOR: &str = "service";

/// Runs jobs through the engine.
#[derive(Debug, Clone, Default)]
pub struct EngineRunner {
    /// Customers worked on at once by the usage sync.
    pub concurrency: usize,
    /// The usage sync's limits past which a drop waits for a person (`sync usage --confirm`).
    pub guard: engine::usage::Guard,
    /// `[usage] approval = "required"`: the usage job saves its plan for a person instead of
    /// applying it.
    pub approval_required: bool,
}

impl JobRunner for EngineRunner {
    fn run(&self, job: Job, store: Store, run: Run) -> JobFuture {
        let this = self.clone();
        Box::pin(async move {
            match job {
                Job::Refresh => refresh(&store, &run).await,
                Job::Usage => usage(&store, &this, &run).await,
                Job::Tickets => tickets(&store, &run).await,
            }
        })
    }
}

impl EngineRunner {
    /// The runner for the scheduler: usage syncs `concurrency` customers at once under `guard`.
    pub fn shared(concurrency: usize, guard: engine::usage::Guard) -> Arc<dyn JobRunner> {
        EngineRunner {
            concurrency,
            guard,
            approval_required: false,
        }
        .into_shared()
    }

    /// This runner, for the scheduler.
    pub fn into_shared(self) -> Arc<dyn JobRunner> {
        Arc::new(self)
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
pub async fn refresh(store: &Store, run: &Run) -> RunEnd {
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
        run,
    )
    .await;
    record_stats(cw.as_ref(), so.as_ref());
    result.run_end()
}

/// Usage sync of every mapped customer with usage sync on; with approval required, the plan is
/// saved for a person instead (superseding the previous pending one) and nothing is written.
pub async fn usage(store: &Store, runner: &EngineRunner, run: &Run) -> RunEnd {
    let (cw, so) = match clients(store, Job::Usage).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let opts = engine::usage::SyncOptions {
        concurrency: runner.concurrency.max(1),
        guard: runner.guard,
        ..Default::default()
    };
    if runner.approval_required {
        let result = engine::usage::saved::plan(store, &cw, &so, &opts, run).await;
        record_stats(Some(&cw), Some(&so));
        let end = match result {
            Ok(p) => {
                let mut end = p.report.run_end();
                end.summary = engine::usage::messages::plan_waiting(
                    p.plan.id,
                    p.plan.body.totals.writes,
                    p.plan.customers_with_writes(),
                );
                end
            }
            Err(e) => RunEnd::failed(e.to_string()),
        };
        if let Ok(n) = engine::usage::saved::pending_count(store).await {
            metrics::plans_pending(n);
        }
        return end;
    }
    let result = engine::usage::run(store, &cw, &so, &opts, run).await;
    record_stats(Some(&cw), Some(&so));
    result.run_end()
}

/// One ticket sync cycle.
pub async fn tickets(store: &Store, run: &Run) -> RunEnd {
    let (cw, so) = match clients(store, Job::Tickets).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let result = engine::tickets::run_cycle(store, &cw, &so, run).await;
    record_stats(Some(&cw), Some(&so));
    if let Ok(r) = &result {
        metrics::alerts_ticketed(r.totals.created);
    }
    result.run_end()
}

async fn clients(store: &Store, job: Job) -> Result<(connectwise::Client, sophos::Client), RunEnd> {
    let failed = |e: connections::ConnectionError| {
        RunEnd::failed(super::messages::not_connected_job(
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
