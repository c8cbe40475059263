//! The scheduler: each job (company refresh, usage sync, ticket sync) runs on its own interval and on
//! demand, one runner at a time across every `serve` process sharing the store.
//!
//! A run is: take the job's lease in the store -> run (renewing the lease meanwhile) -> make sure the
//! run is in `sync_runs` with its outcome -> give the lease back. When is a job due? When its last run
//! in the store (by any process) started at least one interval ago, so processes share the work
//! instead of each running every job. Start to start, not end to start: a ticket cycle that takes 50 s
//! of a 60 s interval still polls every tenant once a minute (a run longer than the interval is
//! followed at once by the next, never overlapped). If the lease is lost while running (another process took it
//! after it expired), the run is abandoned at once: the engine's journals make that safe.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use engine::store::{CoreStore as _, RunOutcome, Store};
use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::metrics;

/// A scheduled job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Job {
    Refresh,
    Usage,
    Tickets,
}

impl Job {
    pub const ALL: [Job; 3] = [Job::Refresh, Job::Usage, Job::Tickets];

    /// The job's name in `sync_runs`, `customer_status` and `leases`.
    pub fn name(self) -> &'static str {
        match self {
            Job::Refresh => "refresh",
            Job::Usage => "usage",
            Job::Tickets => "tickets",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Job::Refresh => "Company refresh",
            Job::Usage => "Usage sync",
            Job::Tickets => "Ticket sync",
        }
    }

    pub fn parse(text: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.name() == text)
    }
}

/// How one run of a job ended, as the runner reports it.
#[derive(Debug, Clone)]
pub struct JobResult {
    pub outcome: RunOutcome,
    pub counts: Value,
    pub error: Option<String>,
    /// One line for people ("12 customers refreshed").
    pub summary: String,
}

impl JobResult {
    pub fn failed(error: impl Into<String>) -> Self {
        let error = error.into();
        Self {
            outcome: RunOutcome::Failed,
            counts: Value::Object(Default::default()),
            summary: error.clone(),
            error: Some(error),
        }
    }
}

pub type JobFuture = Pin<Box<dyn Future<Output = JobResult> + Send>>;

/// What actually does a job's work (the engine in production; tests may count calls).
pub trait JobRunner: Send + Sync + 'static {
    fn run(&self, job: Job, store: Store) -> JobFuture;
}

/// Timing of the scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    pub intervals: BTreeMap<Job, Duration>,
    /// Lease length; renewed every third of it while a run goes on.
    pub lease_ttl: Duration,
    /// How long a run may go on after shutdown was asked before it is abandoned.
    pub grace: Duration,
    /// Upper bound between two looks at the store (other processes may have run the job).
    pub poll: Duration,
    /// Who we are in the leases table.
    pub holder: String,
}

impl SchedulerOptions {
    pub fn new(holder: String) -> Self {
        let intervals = BTreeMap::from([
            (Job::Refresh, Duration::from_secs(24 * 3600)),
            (Job::Usage, Duration::from_secs(24 * 3600)),
            (Job::Tickets, Duration::from_secs(60)),
        ]);
        Self {
            intervals,
            lease_ttl: Duration::from_secs(30),
            grace: Duration::from_secs(20),
            poll: Duration::from_secs(5),
            holder,
        }
    }
}

/// What the dashboard shows about a job.
#[derive(Debug, Clone, Default, Serialize)]
pub struct JobState {
    pub running: bool,
    /// A "run now" is waiting for the lease.
    pub pending: bool,
    pub last_outcome: Option<String>,
    pub last_summary: Option<String>,
    pub last_finished: Option<Timestamp>,
}

struct JobSlot {
    notify: Notify,
    pending: AtomicBool,
    state: Mutex<JobState>,
}

/// A cheap handle to ask for runs and read the state.
#[derive(Clone)]
pub struct SchedulerHandle {
    slots: Arc<BTreeMap<Job, Arc<JobSlot>>>,
}

impl SchedulerHandle {
    /// Asks for a run of `job` as soon as its lease is free. False if the job is not scheduled here.
    pub fn trigger(&self, job: Job) -> bool {
        let Some(slot) = self.slots.get(&job) else {
            return false;
        };
        slot.pending.store(true, Ordering::SeqCst);
        if let Ok(mut s) = slot.state.lock() {
            s.pending = true;
        }
        slot.notify.notify_one();
        true
    }

    pub fn state(&self, job: Job) -> Option<JobState> {
        self.slots
            .get(&job)
            .and_then(|s| s.state.lock().ok().map(|g| g.clone()))
    }

    pub fn jobs(&self) -> Vec<Job> {
        self.slots.keys().copied().collect()
    }
}

impl std::fmt::Debug for SchedulerHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SchedulerHandle")
            .field("jobs", &self.jobs())
            .finish()
    }
}

/// Starts one loop per job in `opts.intervals`; they stop when `shutdown` turns true (a running job
/// gets `opts.grace` to finish, then is abandoned). Await the returned set to know they are done.
pub fn start(
    store: Store,
    runner: Arc<dyn JobRunner>,
    opts: SchedulerOptions,
    shutdown: watch::Receiver<bool>,
) -> (SchedulerHandle, JoinSet<()>) {
    let slots: BTreeMap<Job, Arc<JobSlot>> = opts
        .intervals
        .keys()
        .map(|j| {
            (
                *j,
                Arc::new(JobSlot {
                    notify: Notify::new(),
                    pending: AtomicBool::new(false),
                    state: Mutex::new(JobState::default()),
                }),
            )
        })
        .collect();
    let handle = SchedulerHandle {
        slots: Arc::new(slots),
    };
    let opts = Arc::new(opts);
    let mut set = JoinSet::new();
    for (job, every) in opts.intervals.clone() {
        let Some(slot) = handle.slots.get(&job).cloned() else {
            continue;
        };
        let lp = JobLoop {
            job,
            every,
            store: store.clone(),
            runner: runner.clone(),
            opts: opts.clone(),
            slot,
            shutdown: shutdown.clone(),
        };
        set.spawn(lp.run());
    }
    (handle, set)
}

struct JobLoop {
    job: Job,
    every: Duration,
    store: Store,
    runner: Arc<dyn JobRunner>,
    opts: Arc<SchedulerOptions>,
    slot: Arc<JobSlot>,
    shutdown: watch::Receiver<bool>,
}

impl JobLoop {
    /// Time until the job is due, from its last run in the store (any process).
    async fn due_in(&self) -> Duration {
        let last = match self.store.list_sync_runs(Some(self.job.name()), 1).await {
            Ok(runs) => runs.into_iter().next(),
            Err(e) => {
                tracing::warn!(job = self.job.name(), error = %e, "cannot read the last run");
                return self.opts.poll;
            }
        };
        let Some(last) = last else {
            return Duration::ZERO;
        };
        let since = last.started_at;
        let next = since
            .checked_add(
                jiff::SignedDuration::try_from(self.every).unwrap_or(jiff::SignedDuration::MAX),
            )
            .unwrap_or(Timestamp::MAX);
        let left = Timestamp::now().duration_until(next);
        Duration::try_from(left).unwrap_or(Duration::ZERO)
    }

    fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }

    async fn run(mut self) {
        loop {
            if self.stopping() {
                break;
            }
            let forced = self.slot.pending.load(Ordering::SeqCst);
            let wait = if forced {
                Duration::ZERO
            } else {
                self.due_in().await
            };
            if !wait.is_zero() {
                tokio::select! {
                    _ = tokio::time::sleep(wait.min(self.opts.poll)) => {}
                    _ = self.slot.notify.notified() => {}
                    _ = self.shutdown.changed() => {}
                }
                continue;
            }
            let now = Timestamp::now();
            let got = self
                .store
                .acquire_lease(self.job.name(), &self.opts.holder, now, self.opts.lease_ttl)
                .await;
            match got {
                Ok(true) => {}
                Ok(false) => {
                    // Another process runs it; look again shortly.
                    self.idle(self.opts.poll.min(Duration::from_secs(1))).await;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(job = self.job.name(), error = %e, "cannot take the lease");
                    self.idle(self.opts.poll).await;
                    continue;
                }
            }
            // Another process may have finished a run between our look and the lease.
            let forced = self.slot.pending.swap(false, Ordering::SeqCst);
            if forced || self.due_in().await.is_zero() {
                self.run_once(now).await;
            }
            if let Err(e) = self
                .store
                .release_lease(self.job.name(), &self.opts.holder)
                .await
            {
                tracing::warn!(job = self.job.name(), error = %e, "cannot release the lease");
            }
        }
        tracing::debug!(job = self.job.name(), "scheduler loop stopped");
    }

    async fn idle(&mut self, d: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = self.shutdown.changed() => {}
        }
    }

    async fn run_once(&mut self, started: Timestamp) {
        let job = self.job;
        if let Ok(mut s) = self.slot.state.lock() {
            s.running = true;
            s.pending = false;
        }
        let before = self
            .store
            .list_sync_runs(Some(job.name()), 1)
            .await
            .ok()
            .and_then(|r| r.first().map(|r| r.id));
        tracing::info!(job = job.name(), "run started");

        // Lease renewal beside the run; `lost` turns true if the lease is gone.
        let (lost_tx, mut lost_rx) = watch::channel(false);
        let renew = {
            let store = self.store.clone();
            let holder = self.opts.holder.clone();
            let ttl = self.opts.lease_ttl;
            tokio::spawn(async move {
                let mut failures = 0u32;
                loop {
                    tokio::time::sleep(ttl / 3).await;
                    match store
                        .renew_lease(job.name(), &holder, Timestamp::now(), ttl)
                        .await
                    {
                        Ok(true) => failures = 0,
                        Ok(false) => {
                            let _ = lost_tx.send(true);
                            break;
                        }
                        Err(e) => {
                            failures += 1;
                            tracing::warn!(job = job.name(), error = %e, "cannot renew the lease");
                            // Two misses leave a third of the lease: stop before it can expire.
                            if failures >= 2 {
                                let _ = lost_tx.send(true);
                                break;
                            }
                        }
                    }
                }
            })
        };

        let fut = self.runner.run(job, self.store.clone());
        tokio::pin!(fut);
        let lost = async move {
            let _ = lost_rx.wait_for(|l| *l).await;
        };
        tokio::pin!(lost);
        let grace = self.opts.grace;
        let stopping = tokio::select! {
            r = &mut fut => Err(r),
            _ = &mut lost => Err(JobResult::failed(super::messages::lease_lost(job.title()))),
            _ = self.shutdown.wait_for(|s| *s) => Ok(()),
        };
        let result = match stopping {
            Err(r) => r,
            Ok(()) => {
                tracing::info!(
                    job = job.name(),
                    ?grace,
                    "shutting down: letting the run finish"
                );
                tokio::select! {
                    r = &mut fut => r,
                    _ = tokio::time::sleep(grace) => JobResult::failed(super::messages::abandoned(job.title())),
                    _ = &mut lost => JobResult::failed(super::messages::lease_lost(job.title())),
                }
            }
        };
        renew.abort();
        self.record(started, before, &result).await;
        metrics::sync_run(job.name(), result.outcome.as_str());
        tracing::info!(job = job.name(), outcome = result.outcome.as_str(), summary = %result.summary, "run finished");
        if let Ok(mut s) = self.slot.state.lock() {
            s.running = false;
            s.last_outcome = Some(result.outcome.as_str().to_owned());
            s.last_summary = Some(result.summary.clone());
            s.last_finished = Some(Timestamp::now());
        }
    }

    /// Makes sure the run is in `sync_runs` with its outcome: the engine records its own runs once
    /// it gets going; a run that failed earlier, or was abandoned, is recorded (or finished) here.
    async fn record(&self, started: Timestamp, before: Option<i64>, result: &JobResult) {
        let store = &self.store;
        let name = self.job.name();
        let latest = store
            .list_sync_runs(Some(name), 1)
            .await
            .ok()
            .and_then(|r| r.into_iter().next());
        let outcome_ok = match latest {
            Some(run) if Some(run.id) != before && run.started_at >= started => {
                if run.outcome == RunOutcome::Running {
                    store
                        .finish_sync_run(
                            run.id,
                            Timestamp::now(),
                            result.outcome,
                            &result.counts,
                            result.error.as_deref(),
                        )
                        .await
                        .map(|_| ())
                } else {
                    Ok(())
                }
            }
            _ => match store.start_sync_run(name, started).await {
                Ok(id) => store
                    .finish_sync_run(
                        id,
                        Timestamp::now(),
                        result.outcome,
                        &result.counts,
                        result.error.as_deref(),
                    )
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            },
        };
        if let Err(e) = outcome_ok {
            tracing::warn!(job = name, error = %e, "cannot record the run");
        }
    }
}
