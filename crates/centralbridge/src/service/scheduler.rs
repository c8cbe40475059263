//! The scheduler: each job (company refresh, usage sync, ticket sync) runs on its own interval and on
//! demand, through the engine's run harness ([`engine::job`]), like every other door.
//!
//! A run is: claim the job's lease (`job::claim`) -> look once more whether it is due -> begin the run
//! -> the engine's work -> `Run::finish` (run row, lease released). When is a job due? When its last
//! run in the store (by any process or door) started at least one interval ago, so processes share
//! the work instead of each running every job. Start to start, not end to start: a ticket cycle that
//! takes 50 s of a 60 s interval still polls every tenant once a minute (a run longer than the
//! interval is followed at once by the next, never overlapped). If the lease is lost while running,
//! the work is dropped at once: the engine's journals make that safe. On shutdown the run is asked to
//! stop after the operation in flight and gets `grace` to do so.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub use engine::job::Job;
use engine::job::{self, Door, Run, RunEnd, StartError, StartOptions, StopHandle};
use engine::store::{CoreStore as _, Store};
use jiff::Timestamp;
use serde::Serialize;
use tokio::sync::{Notify, watch};
use tokio::task::JoinSet;

use super::metrics;

/// The work of one run, ending in how it went.
pub type JobFuture = Pin<Box<dyn Future<Output = RunEnd> + Send>>;

/// What actually does a job's work inside a run (the engine in production; tests may count calls).
pub trait JobRunner: Send + Sync + 'static {
    /// Does `job`'s work inside `run`; the scheduler finishes the run with the result.
    fn run(&self, job: Job, store: Store, run: Run) -> JobFuture;
}

/// Timing of the scheduler.
#[derive(Debug, Clone)]
pub struct SchedulerOptions {
    /// How often each job is due, start to start; a job not listed is not scheduled here.
    pub intervals: BTreeMap<Job, Duration>,
    /// Lease length; renewed every third of it while a run goes on.
    pub lease_ttl: Duration,
    /// How long a run may go on after shutdown was asked before it is abandoned.
    pub grace: Duration,
    /// Upper bound between two looks at the store (other processes may have run the job).
    pub poll: Duration,
    /// This process, for the log (each run's lease holder is made by the harness).
    pub holder: String,
}

impl SchedulerOptions {
    /// The defaults for lease holder `holder`: refresh and usage every 24 h, tickets every 60 s,
    /// a 30 s lease, 20 s grace and a look at the store every 5 s.
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
    /// A run of this job is going on in this process.
    pub running: bool,
    /// A "run now" is waiting for the lease.
    pub pending: bool,
    /// How this process's last run ended (`ok`, `partial`, `failed`, …); `None` before the first.
    pub last_outcome: Option<String>,
    /// The one-line summary of that run.
    pub last_summary: Option<String>,
    /// When that run ended.
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

    /// The job's state in this process; `None` when the job is not scheduled here.
    pub fn state(&self, job: Job) -> Option<JobState> {
        self.slots
            .get(&job)
            .and_then(|s| s.state.lock().ok().map(|g| g.clone()))
    }

    /// The jobs this process schedules.
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
            let stop = StopHandle::default();
            let start = StartOptions::new(Door::Service, super::jobs::SERVICE_ACTOR)
                .lease_ttl(self.opts.lease_ttl)
                .stop(stop.clone())
                .yield_to_waiters(true);
            let claim = match job::claim(&self.store, self.job, start).await {
                Ok(c) => c,
                Err(StartError::Busy(b)) => {
                    // Another process or door runs it; look again shortly.
                    tracing::debug!(job = self.job.name(), holder = %b.holder_description(), "job is running elsewhere");
                    self.idle(self.opts.poll.min(Duration::from_secs(1))).await;
                    continue;
                }
                Err(StartError::Yielded) => {
                    // A CLI or dashboard run waits for this job: it goes first.
                    self.idle(self.opts.poll.min(Duration::from_secs(1))).await;
                    continue;
                }
                Err(StartError::Store(e)) => {
                    tracing::warn!(job = self.job.name(), error = %e, "cannot take the lease");
                    self.idle(self.opts.poll).await;
                    continue;
                }
            };
            // Another process may have finished a run between our look and the lease.
            let forced = self.slot.pending.swap(false, Ordering::SeqCst);
            if forced || self.due_in().await.is_zero() {
                match claim.begin().await {
                    Ok(run) => self.run_once(run, stop).await,
                    Err(e) => {
                        tracing::warn!(job = self.job.name(), error = %e, "cannot record the run");
                        self.idle(self.opts.poll).await;
                    }
                }
            } else {
                claim.release().await;
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

    async fn run_once(&mut self, run: Run, stop: StopHandle) {
        let job = self.job;
        if let Ok(mut s) = self.slot.state.lock() {
            s.running = true;
            s.pending = false;
        }
        let fut = self.runner.run(job, self.store.clone(), run.clone());
        let guarded = run.until_lost(fut);
        tokio::pin!(guarded);
        let grace = self.opts.grace;
        let first = tokio::select! {
            r = &mut guarded => Some(r),
            _ = self.shutdown.wait_for(|s| *s) => None,
        };
        let end = match first {
            Some(Some(end)) => end,
            Some(None) => RunEnd::lease_lost(job),
            None => {
                tracing::info!(
                    job = job.name(),
                    ?grace,
                    "shutting down: letting the operation in flight finish"
                );
                stop.request();
                tokio::select! {
                    r = &mut guarded => r.unwrap_or_else(|| RunEnd::lease_lost(job)),
                    _ = tokio::time::sleep(grace) => RunEnd::abandoned(job),
                }
            }
        };
        let outcome = match run.finish(&end).await {
            Ok(o) => o,
            Err(e) => {
                tracing::warn!(job = job.name(), error = %e, "cannot record the run");
                end.outcome
            }
        };
        metrics::sync_run(job.name(), outcome.as_str());
        if let Ok(mut s) = self.slot.state.lock() {
            s.running = false;
            s.last_outcome = Some(outcome.as_str().to_owned());
            s.last_summary = Some(end.summary.clone());
            s.last_finished = Some(Timestamp::now());
        }
    }
}
