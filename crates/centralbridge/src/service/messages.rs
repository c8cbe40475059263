//! What the service and the dashboard say to people, in one place (for translation).

/// A scheduled run's failure when a stored connection is missing or unusable; `detail` says why.
pub fn not_connected_job(job: &str, detail: &str) -> String {
    format!("{job} could not start: {detail}")
}

/// Login form: the name or password is wrong (or the account is disabled; the answer does not say).
pub const LOGIN_FAILED: &str = "That name and password do not match an account.";
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

/// An account name that cannot be used.
pub fn bad_user_name(name: &str, max: usize) -> String {
    format!(
        "`{name}` cannot be an account name. Fix: use 1 to {max} letters, digits, `.`, `_`, `-` or `@`, \
         e.g. `ana.souza`."
    )
}

/// `users add` with a name already taken.
pub fn user_exists(name: &str) -> String {
    format!(
        "An account named `{name}` exists already. Fix: choose another name, or change its password with \
         `centralbridge users passwd {name}`."
    )
}

/// A command or page named an account that does not exist.
pub fn no_such_user(name: &str) -> String {
    format!(
        "There is no account named `{name}`. Fix: `centralbridge users list` shows the accounts."
    )
}

/// Refused: the last enabled admin would be disabled or demoted.
pub const LAST_ADMIN: &str = "This is the last enabled admin account, so it keeps its role and stays enabled. \
     Fix: make another account admin first (`centralbridge users add NAME --role admin`).";

/// Login form: too many failed attempts; `wait` is how long until the next attempt is looked at.
pub fn login_throttled(wait: &str) -> String {
    format!("Too many failed logins. Try again in {wait}.")
}

/// Login form: no account exists yet, so the setup link (or `users add`) is needed.
pub const LOGIN_NO_USERS: &str = "No account exists yet. Open the setup link that `centralbridge serve` printed when \
     it started, or create one with `centralbridge users add NAME --role admin`.";

/// A dashboard action the session's role does not include, refused with 403.
pub fn role_refused(needed: &str, role: &str) -> String {
    format!(
        "This needs the {needed} role; your account is a {role}. Fix: ask an admin to change your role \
         (`centralbridge users role NAME {needed}`)."
    )
}

/// Printed by `serve` while no account exists: the one-time link to create the first admin.
pub fn serve_setup_admin(url: &str) -> String {
    format!(
        "No dashboard account exists yet. Open this one-time link to create the first admin:\n  {url}\n\
         (it works until an account exists or the service restarts; or run `centralbridge users add NAME --role admin`)"
    )
}

/// The dashboard's TLS certificate or key cannot be used.
pub fn tls_failed(files: &super::TlsFiles, e: &dyn std::fmt::Display) -> String {
    format!(
        "Cannot serve HTTPS with the certificate {} and key {}: {e}. Fix: give PEM files that belong \
         together with --tls-cert and --tls-key (or `[service] tls_cert` and `tls_key`).",
        files.cert.display(),
        files.key.display()
    )
}

/// `serve` asked to listen beyond loopback with no TLS and no proxy declared.
pub fn exposed_without_tls(addr: &str) -> String {
    format!(
        "Refusing to serve the dashboard on {addr} over plain HTTP: passwords and session cookies would \
         cross the network in clear. Fix: give a certificate with --tls-cert and --tls-key (or \
         `[service] tls_cert` and `tls_key`), or, behind a reverse proxy that terminates HTTPS, set \
         --behind-proxy (or `[service] behind_proxy = true`); or listen on 127.0.0.1."
    )
}

/// Printed by `serve` while no account exists and stdout is not a terminal (a journal, a pipe).
pub const SERVE_NO_ACCOUNT: &str = "No dashboard account exists yet. Create the first admin with \
     `centralbridge users add NAME --role admin` (the one-time setup link is shown only when `serve` runs on a \
     terminal, so it never lands in a log).";
