//! The CLI's door into the run harness ([`engine::job`]): every CLI sync (`sync usage`, `sync
//! tickets`, `refresh`, the demo, the benchmarks) starts here, so it takes the job's lease like the
//! service and the dashboard do.
//!
//! A held lease refuses the run with exit 2, naming the holder and since when, or waits with
//! `--wait`. The first Ctrl-C or SIGTERM asks the run to stop after the operation in flight (it is
//! recorded as stopped); a second one ends the process at once (the journal lets the next run
//! finish the job).

use engine::job::{self, Door, Job, Run, RunEnd, StartError, StartOptions};
use engine::store::{RunOutcome, Store};

use crate::context::Ctx;
use crate::error::CliError;

/// Exit code of a run stopped by a signal (128 + SIGINT), as shells expect.
pub const EXIT_STOPPED: u8 = 130;

/// How a CLI run starts.
#[derive(Debug, Clone, Default)]
pub struct CliStart {
    /// Only read and plan: the run takes no lease and records no run row.
    pub dry_run: bool,
    /// Wait for a run holding the lease to end instead of refusing with exit 2.
    pub wait: bool,
    /// Stop on Ctrl-C / SIGTERM after the operation in flight (off where the command handles
    /// signals itself, e.g. the demo).
    pub signals: bool,
}

/// A run started from the CLI; finish it with [`CliRun::finish`].
pub struct CliRun {
    run: Run,
    signals: Option<tokio::task::JoinHandle<()>>,
}

impl CliRun {
    /// The harness's run, to pass to the job and to check for a stop.
    pub fn run(&self) -> &Run {
        &self.run
    }

    /// Records how the run ended and gives the lease back. A run stopped by a signal becomes exit
    /// 130 with a message saying what happens next.
    pub async fn finish(self, end: &RunEnd) -> Result<RunOutcome, CliError> {
        if let Some(s) = &self.signals {
            s.abort();
        }
        let outcome = self.run.finish(end).await?;
        if outcome == RunOutcome::Stopped && self.run.stop_handle().is_requested() {
            return Err(CliError::new(
                EXIT_STOPPED,
                crate::messages::run_stopped(self.run.job().title()),
            ));
        }
        Ok(outcome)
    }
}

/// Starts a run of `job` from the CLI for the OS user, with the lease length of `[sync] lease`.
pub async fn start(ctx: &Ctx, store: &Store, job: Job, how: CliStart) -> Result<CliRun, CliError> {
    let ttl = crate::config::parse_duration(&ctx.config.sync.lease)
        .unwrap_or(job::DEFAULT_LEASE_TTL)
        .max(std::time::Duration::from_secs(1));
    let mut opts = StartOptions::new(Door::Cli, super::sync::actor())
        .dry_run(how.dry_run)
        .wait(how.wait)
        .lease_ttl(ttl);
    opts.on_wait = Some(std::sync::Arc::new(|b: &job::Busy| {
        eprintln!("{}", job::messages::waiting(b));
    }));
    let stop = opts.stop.clone();
    // Listening before the lease is taken, so a Ctrl-C while waiting for it ends the wait too.
    let signals = how.signals.then(|| {
        let title = job.title();
        tokio::spawn(async move {
            crate::service::wait_for_signal().await;
            eprintln!("{}", crate::messages::stopping(title));
            stop.request();
            crate::service::wait_for_signal().await;
            eprintln!("{}", crate::messages::aborting(title));
            std::process::exit(i32::from(EXIT_STOPPED));
        })
    });
    match job::start(store, job, opts).await {
        Ok(run) => Ok(CliRun { run, signals }),
        Err(e) => {
            if let Some(s) = &signals {
                s.abort();
            }
            Err(match e {
                StartError::Busy(b) => CliError::usage(b.to_string()),
                StartError::Store(e) => e.into(),
                e @ StartError::Yielded => CliError::usage_from(e),
            })
        }
    }
}
