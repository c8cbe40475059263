//! The one run harness every job goes through, whichever door starts it (the scheduler, the CLI, the
//! dashboard, the demo, the benchmarks).
//!
//! ```text
//! claim (lease, renewed) -> begin (stale runs marked abandoned, run row "running")
//!   -> work (fan_out over customers: a panic is that customer's failure; record_customer)
//!   -> finish (outcome computed once from the tally; run row closed; lease released)
//! ```
//!
//! A second run of the same job is refused while the lease is held ([`StartError::Busy`] names the
//! holder and since when) or waits for it ([`StartOptions::wait`]). A holder that died stops renewing;
//! its lease expires and the next run takes the job over and marks the dead run abandoned. The sync
//! functions take a [`Run`], which only [`start`] makes, so no door can run a sync outside the harness.

mod fan_out;
pub mod messages;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::watch;

pub use fan_out::{Panicked, fan_out, fan_out_keyed, panic_message};

use crate::store::{CoreStore as _, CustomerStatus, RunOutcome, Store, StoreError};

/// The jobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Job {
    /// Company refresh: tenants, companies and agreements read into the store.
    Refresh,
    /// Usage sync: Sophos billing usage written to ConnectWise agreement additions.
    Usage,
    /// Ticket sync: Sophos alerts turned into ConnectWise tickets.
    Tickets,
}

impl Job {
    /// Every job: refresh, usage, tickets.
    pub const ALL: [Job; 3] = [Job::Refresh, Job::Usage, Job::Tickets];

    /// The job's name in `sync_runs`, `customer_status` and `leases`.
    pub fn name(self) -> &'static str {
        match self {
            Job::Refresh => "refresh",
            Job::Usage => "usage",
            Job::Tickets => "tickets",
        }
    }

    /// For people: "Usage sync".
    pub fn title(self) -> &'static str {
        messages::job_title(self)
    }

    /// The job stored under `text` (see [`Job::name`]); `None` for an unknown name.
    pub fn parse(text: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.name() == text)
    }
}

/// Which door started a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Door {
    /// The scheduler of `centralbridge serve`.
    Service,
    /// A CLI command (`sync usage`, `sync tickets`, `refresh`, `demo`, `bench`).
    Cli,
    /// A button on the dashboard.
    Dashboard,
}

impl Door {
    fn as_str(self) -> &'static str {
        match self {
            Door::Service => "service",
            Door::Cli => "cli",
            Door::Dashboard => "dashboard",
        }
    }

    fn parse(text: &str) -> Option<Door> {
        [Door::Service, Door::Cli, Door::Dashboard]
            .into_iter()
            .find(|d| d.as_str() == text)
    }
}

/// Who holds (or asks for) a job's lease: door, person, host and process, and a nonce so two runs
/// in one process (the scheduler and a dashboard button) are different holders.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The door the run comes through.
    pub door: Door,
    /// Who the audit log names: the OS user, the dashboard user, or "service".
    pub actor: String,
    /// The holder's host name (`HOSTNAME`, else `/etc/hostname`, else "localhost").
    pub host: String,
    /// The holder's process id.
    pub pid: u32,
    nonce: String,
}

impl Holder {
    /// A holder for this process and host, with a fresh nonce.
    pub fn new(door: Door, actor: impl Into<String>) -> Self {
        Self {
            door,
            actor: actor.into(),
            host: host_name(),
            pid: std::process::id(),
            nonce: nonce(),
        }
    }

    /// The form kept in `leases.holder` and `sync_runs.started_by`.
    pub fn key(&self) -> String {
        let clean = |s: &str| s.replace('|', "/");
        format!(
            "{}|{}|{}|{}|{}",
            self.door.as_str(),
            clean(&self.actor),
            clean(&self.host),
            self.pid,
            self.nonce
        )
    }

    /// Reads [`Holder::key`] back; `None` for a holder written by an older version.
    pub fn parse(key: &str) -> Option<Self> {
        let mut parts = key.split('|');
        let door = Door::parse(parts.next()?)?;
        let actor = parts.next()?.to_owned();
        let host = parts.next()?.to_owned();
        let pid = parts.next()?.parse().ok()?;
        let nonce = parts.next()?.to_owned();
        Some(Self {
            door,
            actor,
            host,
            pid,
            nonce,
        })
    }

    /// For people: "the service on host-1 (pid 42)".
    pub fn describe(&self) -> String {
        messages::holder(self)
    }
}

/// "the service on host-1 (pid 42)" from a stored holder key, whatever version wrote it.
pub fn describe_holder(key: &str) -> String {
    Holder::parse(key).map_or_else(|| key.to_owned(), |h| h.describe())
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

fn nonce() -> String {
    let mut b = [0u8; 4];
    // A clash only matters within one process and job; the pid and time make it harmless.
    if getrandom::fill(&mut b).is_err() {
        b = (Timestamp::now().as_nanosecond() as u32).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Test hooks, in one place for every job: stop as a crash would after `stop_after` steps, run the
/// next vendor call before stopping (`crash_inside`), or panic inside one customer (`panic_in`).
#[derive(Debug, Clone, Default)]
pub struct Hooks {
    /// Apply steps allowed before the run stops as if crashed; `None` never stops.
    pub stop_after: Option<usize>,
    /// When the hook fires, make the vendor call first and stop before its outcome is recorded.
    pub crash_inside: bool,
    /// Tenant id of a customer whose work panics.
    pub panic_in: Option<String>,
}

/// The crash hook fired: the run stops where it is, as if the process had died.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("stopped by the crash-test hook")]
pub struct Interrupted;

/// Callback while waiting for a held lease (told once, with who holds it).
pub type OnWait = Arc<dyn Fn(&Busy) + Send + Sync>;

/// How to start a run.
#[derive(Clone)]
pub struct StartOptions {
    /// Who takes the lease and is named in the run row and the audit log.
    pub holder: Holder,
    /// Lease length; renewed every third of it while the run goes on.
    pub lease_ttl: Duration,
    /// Wait for a held lease instead of refusing.
    pub wait: bool,
    /// Called once when the run starts waiting for a held lease; `None` waits silently.
    pub on_wait: Option<OnWait>,
    /// A dry run: reads and plans only, so it takes no lease and records no run.
    pub dry_run: bool,
    /// Crash-test hooks; the default has none.
    pub hooks: Hooks,
    /// Asked to stop from outside (a signal, the service shutting down).
    pub stop: StopHandle,
    /// Let a run that waits for the lease go first (the scheduler: it would otherwise take the lease
    /// again the moment its own run gives it back, and a `--wait` would wait forever).
    pub yield_to_waiters: bool,
}

impl StartOptions {
    /// Options for a holder of `door` named `actor`: a 30 s lease, no waiting, not a dry run,
    /// no hooks.
    pub fn new(door: Door, actor: impl Into<String>) -> Self {
        Self {
            holder: Holder::new(door, actor),
            lease_ttl: DEFAULT_LEASE_TTL,
            wait: false,
            on_wait: None,
            dry_run: false,
            hooks: Hooks::default(),
            stop: StopHandle::default(),
            yield_to_waiters: false,
        }
    }

    /// Sets whether a run waiting for the lease goes first (the scheduler turns this on).
    pub fn yield_to_waiters(mut self, on: bool) -> Self {
        self.yield_to_waiters = on;
        self
    }

    /// Sets whether the run only reads and plans.
    pub fn dry_run(mut self, dry_run: bool) -> Self {
        self.dry_run = dry_run;
        self
    }

    /// Sets whether to wait for a held lease instead of refusing with [`StartError::Busy`].
    pub fn wait(mut self, wait: bool) -> Self {
        self.wait = wait;
        self
    }

    /// Sets the crash-test hooks.
    pub fn hooks(mut self, hooks: Hooks) -> Self {
        self.hooks = hooks;
        self
    }

    /// Sets the lease length.
    pub fn lease_ttl(mut self, ttl: Duration) -> Self {
        self.lease_ttl = ttl;
        self
    }

    /// Sets the handle through which the run is asked to stop.
    pub fn stop(mut self, stop: StopHandle) -> Self {
        self.stop = stop;
        self
    }
}

impl std::fmt::Debug for StartOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StartOptions")
            .field("holder", &self.holder)
            .field("lease_ttl", &self.lease_ttl)
            .field("wait", &self.wait)
            .field("dry_run", &self.dry_run)
            .field("hooks", &self.hooks)
            .finish_non_exhaustive()
    }
}

/// Lease length unless a door says otherwise: long enough for a slow database, short enough that a
/// killed process's job is taken over within half a minute.
pub const DEFAULT_LEASE_TTL: Duration = Duration::from_secs(30);

/// How often a waiting run asks for the lease again.
const WAIT_POLL: Duration = Duration::from_millis(500);

/// A waiting run's mark counts this long after it was last written (a few polls).
const WAITER_FRESH: Duration = Duration::from_secs(2);

/// Settings key where a run waiting for `job`'s lease leaves its mark.
fn waiter_key(job: Job) -> String {
    format!("job.waiting.{}", job.name())
}

/// A way to ask a run to stop after the operation in flight.
#[derive(Debug, Clone)]
pub struct StopHandle(Arc<watch::Sender<bool>>);

impl Default for StopHandle {
    fn default() -> Self {
        Self(Arc::new(watch::channel(false).0))
    }
}

impl StopHandle {
    /// Asks the run to stop after the operation in flight; every clone of the handle sees it.
    pub fn request(&self) {
        self.0.send_replace(true);
    }

    /// Whether a stop has been asked.
    pub fn is_requested(&self) -> bool {
        *self.0.borrow()
    }

    /// Resolves once a stop is asked.
    pub async fn requested(&self) {
        let mut rx = self.0.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }
}

/// The lease is held by someone else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    /// The job whose lease is held.
    pub job: Job,
    /// The holder's key as stored.
    pub holder: String,
    /// When the holder took the lease; `None` for a lease taken before that was recorded.
    pub since: Option<Timestamp>,
    /// When the lease expires unless its holder renews it.
    pub expires_at: Option<Timestamp>,
}

impl Busy {
    /// "the service on host-1 (pid 42)".
    pub fn holder_description(&self) -> String {
        describe_holder(&self.holder)
    }
}

impl std::fmt::Display for Busy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&messages::busy(self))
    }
}

/// Why a run could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Another holder has the lease and the options say not to wait (or the wait was stopped).
    #[error("{0}")]
    Busy(Busy),
    /// Another door is waiting for this job's lease and goes first.
    #[error("another run of the job is waiting for its turn")]
    Yielded,
    /// The store failed while taking the lease or recording the run.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Aborts the lease renewal when the run ends in any way (finished, dropped, panicked), so a dead
/// run's lease expires instead of being renewed by an orphaned task.
struct Renewal(tokio::task::JoinHandle<()>);

impl Drop for Renewal {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// A job's lease, taken; no run recorded yet (the scheduler looks once more whether the job is due).
pub struct Claim {
    job: Job,
    store: Store,
    opts: StartOptions,
    key: String,
    leased: bool,
    lost: watch::Receiver<bool>,
    renewal: Option<Renewal>,
}

/// Takes the job's lease (or, for a dry run, nothing).
pub async fn claim(store: &Store, job: Job, opts: StartOptions) -> Result<Claim, StartError> {
    let key = opts.holder.key();
    let (lost_tx, lost) = watch::channel(false);
    if opts.dry_run {
        return Ok(Claim {
            job,
            store: store.clone(),
            opts,
            key,
            leased: false,
            lost,
            renewal: None,
        });
    }
    if opts.yield_to_waiters && someone_waiting(store, job, &key).await? {
        return Err(StartError::Yielded);
    }
    let mut told = false;
    loop {
        let now = Timestamp::now();
        if store
            .acquire_lease(job.name(), &key, now, opts.lease_ttl)
            .await?
        {
            if told {
                // Our mark is spent; a newer waiter's stays.
                if store
                    .get_setting(&waiter_key(job))
                    .await?
                    .is_some_and(|v| v["holder"] == serde_json::json!(key))
                {
                    store.delete_setting(&waiter_key(job)).await?;
                }
            }
            break;
        }
        let busy = match store.lease_holder(job.name(), now).await? {
            Some(l) => Busy {
                job,
                holder: l.holder,
                since: l.since,
                expires_at: Some(l.expires_at),
            },
            // Released between the two statements: try again at once.
            None => continue,
        };
        if !opts.wait {
            return Err(StartError::Busy(busy));
        }
        if !told {
            told = true;
            if let Some(cb) = &opts.on_wait {
                cb(&busy);
            }
        }
        store
            .set_setting(
                &waiter_key(job),
                &serde_json::json!({"holder": key, "at": now}),
            )
            .await?;
        tokio::select! {
            _ = tokio::time::sleep(WAIT_POLL) => {}
            _ = opts.stop.requested() => return Err(StartError::Busy(busy)),
        }
    }
    let renewal = spawn_renewal(store.clone(), job, key.clone(), opts.lease_ttl, lost_tx);
    Ok(Claim {
        job,
        store: store.clone(),
        opts,
        key,
        leased: true,
        lost,
        renewal: Some(renewal),
    })
}

/// Whether another holder is waiting for `job`'s lease (its mark is fresh).
async fn someone_waiting(store: &Store, job: Job, us: &str) -> Result<bool, StoreError> {
    let Some(mark) = store.get_setting(&waiter_key(job)).await? else {
        return Ok(false);
    };
    let fresh = serde_json::from_value::<Timestamp>(mark["at"].clone())
        .is_ok_and(|at| Timestamp::now().duration_since(at).unsigned_abs() < WAITER_FRESH);
    Ok(fresh && mark["holder"] != serde_json::json!(us))
}

fn spawn_renewal(
    store: Store,
    job: Job,
    key: String,
    ttl: Duration,
    lost: watch::Sender<bool>,
) -> Renewal {
    Renewal(tokio::spawn(async move {
        let mut failures = 0u32;
        loop {
            tokio::time::sleep(ttl / 3).await;
            match store
                .renew_lease(job.name(), &key, Timestamp::now(), ttl)
                .await
            {
                Ok(true) => failures = 0,
                Ok(false) => {
                    tracing::warn!(job = job.name(), "the lease was lost");
                    lost.send_replace(true);
                    break;
                }
                Err(e) => {
                    failures += 1;
                    tracing::warn!(job = job.name(), error = %e, "cannot renew the lease");
                    // Two misses leave a third of the lease: stop before it can expire.
                    if failures >= 2 {
                        lost.send_replace(true);
                        break;
                    }
                }
            }
        }
    }))
}

impl Claim {
    /// Gives the lease back without running.
    pub async fn release(self) {
        if self.leased
            && let Err(e) = self.store.release_lease(self.job.name(), &self.key).await
        {
            tracing::warn!(job = self.job.name(), error = %e, "cannot release the lease");
        }
    }

    /// Records the run: every run of this job still "running" is dead (we hold the lease), so it is
    /// marked abandoned first; then the new run row.
    pub async fn begin(self) -> Result<Run, StoreError> {
        let started_at = Timestamp::now();
        let mut id = None;
        if self.leased {
            let begun = async {
                let n = self
                    .store
                    .abandon_running_sync_runs(
                        self.job.name(),
                        started_at,
                        &messages::abandoned_run(),
                    )
                    .await?;
                if n > 0 {
                    tracing::warn!(
                        job = self.job.name(),
                        runs = n,
                        "took over from a run whose holder is gone"
                    );
                }
                self.store
                    .start_sync_run(self.job.name(), started_at, &self.key)
                    .await
            }
            .await;
            match begun {
                Ok(run_id) => id = Some(run_id),
                Err(e) => {
                    let _ = self.store.release_lease(self.job.name(), &self.key).await;
                    return Err(e);
                }
            }
        }
        tracing::info!(job = self.job.name(), run = ?id, by = %self.opts.holder.describe(), "run started");
        Ok(Run(Arc::new(Inner {
            job: self.job,
            store: self.store,
            key: self.key,
            leased: self.leased,
            id,
            started_at,
            lost: self.lost,
            renewal: std::sync::Mutex::new(self.renewal),
            steps: AtomicUsize::new(0),
            finished: AtomicBool::new(false),
            opts: self.opts,
        })))
    }
}

/// Takes the lease and records the run.
pub async fn start(store: &Store, job: Job, opts: StartOptions) -> Result<Run, StartError> {
    Ok(claim(store, job, opts).await?.begin().await?)
}

/// One run of a job, from [`start`] to [`Run::finish`]. A cheap handle: per-customer tasks hold
/// clones. Only [`start`] makes one.
#[derive(Clone)]
pub struct Run(Arc<Inner>);

struct Inner {
    job: Job,
    store: Store,
    key: String,
    leased: bool,
    id: Option<i64>,
    started_at: Timestamp,
    lost: watch::Receiver<bool>,
    /// Taken (and so aborted) when the run finishes; dropped with the last handle otherwise.
    renewal: std::sync::Mutex<Option<Renewal>>,
    steps: AtomicUsize,
    finished: AtomicBool,
    opts: StartOptions,
}

impl std::fmt::Debug for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Run")
            .field("job", &self.0.job)
            .field("id", &self.0.id)
            .field("holder", &self.0.key)
            .finish_non_exhaustive()
    }
}

impl Run {
    /// The job being run.
    pub fn job(&self) -> Job {
        self.0.job
    }

    /// The `sync_runs` id (`None` for a dry run).
    pub fn id(&self) -> Option<i64> {
        self.0.id
    }

    /// When the run started (the time in its run row).
    pub fn started_at(&self) -> Timestamp {
        self.0.started_at
    }

    /// Who the audit log names.
    pub fn actor(&self) -> &str {
        &self.0.opts.holder.actor
    }

    /// Who holds the lease for this run.
    pub fn holder(&self) -> &Holder {
        &self.0.opts.holder
    }

    /// Reads and plans only: nothing may be written.
    pub fn is_dry_run(&self) -> bool {
        self.0.opts.dry_run
    }

    /// The handle through which this run is asked to stop.
    pub fn stop_handle(&self) -> StopHandle {
        self.0.opts.stop.clone()
    }

    /// Whether the lease was lost (another holder may be running the job now).
    pub fn lease_lost(&self) -> bool {
        *self.0.lost.borrow()
    }

    /// Whether to stop before the next operation: a stop was asked, or the lease is gone.
    pub fn should_stop(&self) -> bool {
        self.0.opts.stop.is_requested() || self.lease_lost()
    }

    /// Runs `work` unless the lease is lost first; then `work` is dropped at once (`None`), since
    /// another holder may already run the job and the journals make an abrupt end safe.
    pub async fn until_lost<F: Future>(&self, work: F) -> Option<F::Output> {
        if !self.0.leased {
            return Some(work.await);
        }
        let mut lost = self.0.lost.clone();
        tokio::select! {
            r = work => Some(r),
            _ = lost.wait_for(|l| *l) => None,
        }
    }

    /// Counts one apply step for the crash hook; `Err` once its budget is spent.
    pub fn step(&self) -> Result<(), Interrupted> {
        let n = self.0.steps.fetch_add(1, Ordering::SeqCst);
        match self.0.opts.hooks.stop_after {
            Some(k) if n >= k => Err(Interrupted),
            _ => Ok(()),
        }
    }

    /// Whether the crash hook runs the vendor call it stops at.
    pub fn crash_inside(&self) -> bool {
        self.0.opts.hooks.crash_inside
    }

    /// Test hook: panics inside the work of one customer.
    pub fn panic_hook(&self, tenant_id: &str) {
        if self.0.opts.hooks.panic_in.as_deref() == Some(tenant_id) {
            panic!("injected panic for tenant {tenant_id}");
        }
    }

    /// Writes one customer's status for this job (nothing in a dry run).
    pub async fn record_customer(&self, status: &CustomerStatus) -> Result<(), StoreError> {
        if self.is_dry_run() {
            return Ok(());
        }
        self.0.store.upsert_customer_status(status).await
    }

    /// Writes several customers' statuses for this job in one transaction (nothing in a dry run).
    pub async fn record_customers(&self, statuses: &[CustomerStatus]) -> Result<(), StoreError> {
        if self.is_dry_run() {
            return Ok(());
        }
        self.0.store.upsert_customer_statuses(statuses).await
    }

    /// Closes the run row with its outcome and gives the lease back (once; later calls only return
    /// the outcome). A run stopped by the crash hook leaves its row "running", as a dead process
    /// would, for the next run to mark abandoned.
    pub async fn finish(&self, end: &RunEnd) -> Result<RunOutcome, StoreError> {
        let i = &self.0;
        let outcome = end.outcome;
        if i.finished.swap(true, Ordering::SeqCst) {
            return Ok(outcome);
        }
        // Stop renewing before the lease is given back.
        drop(
            i.renewal
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take(),
        );
        let result = match i.id {
            Some(id) if !end.interrupted => i
                .store
                .finish_sync_run(
                    id,
                    Timestamp::now(),
                    outcome,
                    &end.counts,
                    end.error.as_deref(),
                )
                .await
                .map(|_| ()),
            _ => Ok(()),
        };
        if i.leased
            && let Err(e) = i.store.release_lease(i.job.name(), &i.key).await
        {
            tracing::warn!(job = i.job.name(), error = %e, "cannot release the lease");
        }
        tracing::info!(job = i.job.name(), run = ?i.id, outcome = outcome.as_str(), summary = %end.summary, "run finished");
        result.map(|()| outcome)
    }
}

/// What a run did, as counted by its job: the input of the one outcome rule.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Customers the run worked on (skipped or waiting ones not counted).
    pub customers: usize,
    /// Customers among them whose work failed.
    pub failed: usize,
    /// Stopped on request before every customer was done.
    pub stopped: bool,
    /// Stopped by the crash hook.
    pub interrupted: bool,
}

impl Tally {
    /// The one rule: stopped wins; no failure is ok; all failed is failed; otherwise partial.
    pub fn outcome(&self) -> RunOutcome {
        if self.stopped || self.interrupted {
            RunOutcome::Stopped
        } else if self.failed == 0 {
            RunOutcome::Ok
        } else if self.failed >= self.customers {
            RunOutcome::Failed
        } else {
            RunOutcome::Partial
        }
    }
}

/// How a run ended: what [`Run::finish`] records.
#[derive(Debug, Clone, PartialEq)]
pub struct RunEnd {
    /// The outcome written to the run row.
    pub outcome: RunOutcome,
    /// The job's counts as a JSON object, written to the run row.
    pub counts: Value,
    /// Why the run did not end ok (stopped, customers failed, could not work); `None` when ok.
    pub error: Option<String>,
    /// One line for people ("12 customers: 3 additions created, …").
    pub summary: String,
    /// Stopped by the crash hook: the row stays "running".
    pub interrupted: bool,
}

impl RunEnd {
    /// From a job's tally: the outcome is computed here and nowhere else.
    pub fn from_tally(tally: Tally, counts: Value, summary: String) -> Self {
        let error = match tally.outcome() {
            RunOutcome::Stopped if tally.interrupted => Some(messages::interrupted()),
            RunOutcome::Stopped => Some(messages::stopped()),
            _ if tally.failed > 0 => Some(messages::customers_failed(tally.failed)),
            _ => None,
        };
        Self {
            outcome: tally.outcome(),
            counts,
            error,
            summary,
            interrupted: tally.interrupted,
        }
    }

    /// The run could not do its work at all.
    pub fn failed(error: impl Into<String>) -> Self {
        let error = error.into();
        Self {
            outcome: RunOutcome::Failed,
            counts: Value::Object(Default::default()),
            summary: error.clone(),
            error: Some(error),
            interrupted: false,
        }
    }

    /// The lease was lost mid-run: the work was dropped.
    pub fn lease_lost(job: Job) -> Self {
        let mut end = Self::failed(messages::lease_lost(job));
        end.outcome = RunOutcome::Abandoned;
        end
    }

    /// Not done after the shutdown grace: the work was dropped.
    pub fn abandoned(job: Job) -> Self {
        let mut end = Self::failed(messages::abandoned_at_shutdown(job));
        end.outcome = RunOutcome::Abandoned;
        end
    }
}

/// A job's report, summed up for the run row.
pub trait RunReport {
    /// The run's end as [`Run::finish`] records it.
    fn run_end(&self) -> RunEnd;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holder_keys_round_trip() {
        let h = Holder::new(Door::Dashboard, "ana|maria");
        let back = Holder::parse(&h.key()).expect("parses");
        assert_eq!(back.door, Door::Dashboard);
        assert_eq!(back.actor, "ana/maria");
        assert_eq!(back.pid, std::process::id());
        assert!(Holder::parse("host-1-42-abcd").is_none());
        assert_eq!(describe_holder("host-1-42-abcd"), "host-1-42-abcd");
    }

    #[test]
    fn one_outcome_rule() {
        let t = |customers, failed, stopped| Tally {
            customers,
            failed,
            stopped,
            interrupted: false,
        };
        assert_eq!(t(3, 0, false).outcome(), RunOutcome::Ok);
        assert_eq!(t(0, 0, false).outcome(), RunOutcome::Ok);
        assert_eq!(t(3, 1, false).outcome(), RunOutcome::Partial);
        assert_eq!(t(3, 3, false).outcome(), RunOutcome::Failed);
        assert_eq!(t(3, 1, true).outcome(), RunOutcome::Stopped);
    }
}
