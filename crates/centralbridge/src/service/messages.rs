//! What the service and the dashboard say to people, in one place (for translation).

/// A scheduled run's failure when a stored connection is missing or unusable; `detail` says why.
pub fn not_connected_job(job: &str, detail: &str) -> String {
    format!("{job} could not start: {detail}")
}

/// Login form: the password is wrong.
pub const LOGIN_FAILED: &str = "That password is not right.";
/// Login form: no password is set yet, so the setup link is needed.
pub const LOGIN_NO_PASSWORD: &str = "No password is set yet. Open the setup link that `centralbridge serve` printed when it started.";
/// Setup page: the token is unknown, used up, or from before a restart.
pub const SETUP_BAD_TOKEN: &str = "This setup link is not valid (it is used up, or the service restarted). \
     Restart `centralbridge serve` to get a new one, or log in with the password already set.";
/// Setup form: the password and its confirmation differ.
pub const SETUP_MISMATCH: &str = "The two passwords are not the same.";
/// A POST without this session's CSRF token, refused with 403.
pub const CSRF_REFUSED: &str = "This request was refused because it did not carry this page's security token (CSRF). \
     Reload the page and try again.";
/// A POST from another origin, refused with 403.
pub const ORIGIN_REFUSED: &str = "This request came from another site and was refused.";

/// Setup form: the password is shorter than `min` characters.
pub fn setup_too_short(min: usize) -> String {
    format!("Choose a password of at least {min} characters.")
}

/// A dashboard "run now" was accepted; the run starts when the lease is free.
pub fn job_requested(job: &str) -> String {
    format!("{job} requested. It starts as soon as no other run of it is going on.")
}

/// A dashboard "run now" for a job this service does not schedule (`serve --jobs`).
pub fn job_not_here(job: &str) -> String {
    format!("{job} is not scheduled by this service, so it cannot be started from here.")
}

/// Printed by `serve` once the dashboard listens at `url`.
pub fn serve_started(url: &str) -> String {
    format!("centralbridge is serving the dashboard on {url} (Ctrl-C stops it).")
}

/// Printed by `serve` while no password is set: the one-time link to set it.
pub fn serve_setup(url: &str) -> String {
    format!(
        "No dashboard password is set yet. Open this one-time link to set it:\n  {url}\n\
         (it works until a password is set or the service restarts)"
    )
}

/// Logged and printed once the metrics listener serves at `addr`.
pub fn metrics_started(addr: &str) -> String {
    format!("Prometheus metrics on http://{addr}/metrics")
}

/// The dashboard address `addr` cannot be bound, with the flag and config key that change it.
pub fn listen_failed(addr: &str, e: &dyn std::fmt::Display) -> String {
    format!(
        "Cannot listen on {addr}: {e}. Fix: choose another address with --listen (or `[service] listen`), \
         or stop what uses that port."
    )
}

/// The metrics address `addr` cannot be used, with the flag and config key that change it.
pub fn metrics_failed(addr: &str, e: &str) -> String {
    format!(
        "Cannot serve metrics on {addr}: {e}. Fix: choose another address with --metrics-listen \
         (or `[service] metrics_listen`)."
    )
}

/// Printed by `serve` on Ctrl-C or SIGTERM.
pub const SHUTTING_DOWN: &str =
    "Stopping: no new runs start; a run in progress may take a few seconds to finish.";

/// A dashboard button found its job already running.
pub fn job_busy(b: &engine::job::Busy) -> String {
    let since = b
        .since
        .map(|s| format!(" since {}", engine::job::messages::when(s)))
        .unwrap_or_default();
    format!(
        "The {} is running right now{since}, started by {}; this customer is part of it. Look again \
         when it has finished (the Activity page shows it).",
        b.job.title().to_lowercase(),
        b.holder_description()
    )
}

/// "Usage sync: running since 20:01:02 UTC, started by the service on host-1 (pid 42)".
pub fn job_running(job: &str, since: Option<jiff::Timestamp>, by: &str) -> String {
    let since = since
        .map(|s| format!(" since {}", engine::job::messages::when(s)))
        .unwrap_or_default();
    format!("{job}: running{since}, started by {by}")
}
