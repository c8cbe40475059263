//! User-facing text of the run harness (one place, so a translation can follow).

use jiff::Timestamp;

use super::{Busy, Door, Holder, Job};

/// The job's name for people, e.g. "Usage sync".
pub fn job_title(job: Job) -> &'static str {
    match job {
        Job::Refresh => "Company refresh",
        Job::Usage => "Usage sync",
        Job::Tickets => "Ticket sync",
    }
}

fn flag(job: Job) -> &'static str {
    match job {
        Job::Refresh => "centralbridge refresh --wait",
        Job::Usage => "centralbridge sync usage --wait",
        Job::Tickets => "centralbridge sync tickets --once --wait",
    }
}

/// How a lease holder is named to people, e.g. "the service on host-1 (pid 42)".
pub fn holder(h: &Holder) -> String {
    match h.door {
        Door::Service => format!("the service on {} (pid {})", h.host, h.pid),
        Door::Cli => format!(
            "a centralbridge command run by {} on {} (pid {})",
            h.actor, h.host, h.pid
        ),
        Door::Dashboard => format!(
            "the dashboard ({}) of the service on {} (pid {})",
            h.actor, h.host, h.pid
        ),
    }
}

/// "20:01:02 UTC" today, else the date too.
pub fn when(t: Timestamp) -> String {
    let utc = |t: Timestamp| jiff::tz::Offset::UTC.to_datetime(t);
    let (at, now) = (utc(t), utc(Timestamp::now()));
    if at.date() == now.date() {
        at.strftime("%H:%M:%S UTC").to_string()
    } else {
        at.strftime("%Y-%m-%d %H:%M:%S UTC").to_string()
    }
}

/// The refusal when a job's lease is held: who holds it, since when, and how to wait for it.
pub fn busy(b: &Busy) -> String {
    let since = b
        .since
        .map(|s| format!(" since {}", when(s)))
        .unwrap_or_default();
    let expiry = b
        .expires_at
        .map(|e| {
            format!(
                " If that process is gone, its lease expires at {} and the job can be started again.",
                when(e)
            )
        })
        .unwrap_or_default();
    format!(
        "The {} is already running: started by {}{since}. Two runs at once would write the same \
         changes twice, so this one did not start.{expiry}\nFix: wait for it to finish \
         (`centralbridge status` shows it), or run `{}` to start as soon as it ends.",
        job_title(b.job).to_lowercase(),
        b.holder_description(),
        flag(b.job)
    )
}

/// The line shown while a run waits for a held lease.
pub fn waiting(b: &Busy) -> String {
    let since = b
        .since
        .map(|s| format!(" since {}", when(s)))
        .unwrap_or_default();
    format!(
        "Waiting for the {} started by {}{since} to finish…",
        job_title(b.job).to_lowercase(),
        b.holder_description()
    )
}

/// The error written on a run that was found still "running" after its holder died.
pub fn abandoned_run() -> String {
    "abandoned: its process stopped without finishing (killed, crashed or cut off from the \
     database); the next run took the job over and its journal finished what was started"
        .to_owned()
}

/// The error of a run dropped because it did not finish within the shutdown grace period.
pub fn abandoned_at_shutdown(job: Job) -> String {
    format!(
        "{} did not finish in time when the service stopped; the next run carries on from its journal",
        job_title(job)
    )
}

/// The error of a run dropped because its lease was lost.
pub fn lease_lost(job: Job) -> String {
    format!(
        "{} stopped: its lease was lost (the database was unreachable or another process took the \
         job over); the next run carries on from its journal",
        job_title(job)
    )
}

/// The error of a run stopped on request (Ctrl-C, shutdown).
pub fn stopped() -> String {
    "stopped on request after the operation in flight; the next run finishes the job".to_owned()
}

/// The error of a run stopped by the crash-test hook.
pub fn interrupted() -> String {
    "stopped by the crash-test hook".to_owned()
}

/// The error of a run in which some customers failed, with their number.
pub fn customers_failed(n: usize) -> String {
    if n == 1 {
        "1 customer failed".to_owned()
    } else {
        format!("{n} customers failed")
    }
}

/// The error and advice recorded for a customer whose task panicked.
pub fn panicked(message: &str) -> (String, String) {
    (
        format!("internal error: {message}"),
        "This is a bug in centralbridge, not in your data: the other customers went on. Run the \
         sync again; if it happens again, report it with the log."
            .to_owned(),
    )
}
