//! The long-running service behind `centralbridge serve` and `centralbridge demo`: the scheduler
//! (company refresh, usage sync, ticket sync, each through a lease in the store), the dashboard with
//! `/healthz`, and Prometheus metrics on a separate listener.

pub mod auth;
pub mod dashboard;
pub mod http;
pub mod jobs;
pub mod messages;
pub mod metrics;
pub mod scheduler;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use engine::secrets::MasterKey;
use engine::store::Store;
use secrecy::ExposeSecret as _;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

pub use auth::Auth;
pub use scheduler::{Job, JobRunner, SchedulerHandle, SchedulerOptions};

/// What every dashboard handler can reach.
pub struct AppState {
    /// The store every page reads and writes.
    pub store: Store,
    /// Login, sessions and CSRF tokens.
    pub auth: Arc<Auth>,
    /// Triggers runs and reports each job's state in this process.
    pub scheduler: SchedulerHandle,
    /// Add `Secure` to cookies (when served behind HTTPS).
    pub secure_cookies: bool,
    /// This process serves HTTPS itself (cookies are then always `Secure`).
    pub tls: bool,
    /// A reverse proxy in front names the client in `X-Forwarded-For` (for login throttling).
    pub behind_proxy: bool,
    /// Usage plans wait for a person's approval.
    pub approval_required: bool,
    /// The last doctor report shown on the Connection page.
    pub doctor: tokio::sync::Mutex<Option<(jiff::Timestamp, engine::doctor::DoctorReport)>>,
}

/// How to run the service.
#[derive(Debug, Clone)]
pub struct ServiceOptions {
    /// The dashboard's address (port 0 picks a free one).
    pub listen: SocketAddr,
    /// The Prometheus listener's address; `None` serves no metrics.
    pub metrics_listen: Option<SocketAddr>,
    /// Which jobs run, how often, and with what lease and grace.
    pub scheduler: SchedulerOptions,
    /// Mark cookies `Secure` (when the dashboard is served through HTTPS).
    pub secure_cookies: bool,
    /// Serve HTTPS with this certificate and key (PEM files); `None` serves plain HTTP.
    pub tls: Option<TlsFiles>,
    /// A reverse proxy in front terminates TLS and names the client in `X-Forwarded-For`.
    pub behind_proxy: bool,
    /// Session lifetimes and login throttling.
    pub auth: auth::Policy,
    /// `[usage] approval = "required"`: usage plans wait for a person (the dashboard says so).
    pub approval_required: bool,
}

/// A certificate chain and its private key, PEM files, for the dashboard's own HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain (PEM).
    pub cert: std::path::PathBuf,
    /// The private key (PEM). Its contents are never logged.
    pub key: std::path::PathBuf,
}

/// A lease holder name unique to this process: host, process id and a random part.
pub fn holder_id() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_owned());
    let random = auth::random_token();
    format!(
        "{host}-{}-{}",
        std::process::id(),
        &random[..8.min(random.len())]
    )
}

/// Why the service could not start; the message says what to change.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The dashboard's address cannot be bound.
    #[error("{0}")]
    Listen(String),
    /// The metrics address cannot be bound, or this process already has a metrics recorder.
    #[error("{0}")]
    Metrics(String),
    /// The TLS certificate or key cannot be read or used.
    #[error("{0}")]
    Tls(String),
}

/// The running service.
pub struct Running {
    /// The dashboard's address (with the real port when 0 was asked).
    pub addr: SocketAddr,
    /// The metrics listener's address, when one was asked for (the real port, too).
    pub metrics_addr: Option<SocketAddr>,
    /// The dashboard's authentication (the demo creates its account through it).
    pub auth: Arc<Auth>,
    tls: bool,
    shutdown: watch::Sender<bool>,
    server: JoinHandle<()>,
    jobs: JoinSet<()>,
}

impl Running {
    /// `http://addr`, or `https://addr` when this process serves TLS.
    pub fn url(&self) -> String {
        let scheme = if self.tls { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// The one-time link to create the first admin account, while no account exists.
    pub async fn setup_url(&self) -> Option<String> {
        match self.auth.has_users().await {
            Ok(false) => Some(format!(
                "{}/setup?token={}",
                self.url(),
                self.auth.setup_token().expose_secret()
            )),
            _ => None,
        }
    }

    /// Stops scheduling, lets a running job finish (up to the grace period, then abandons it and
    /// releases its lease), then stops the web server.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown.send(true);
        while self.jobs.join_next().await.is_some() {}
        // The server stops accepting at once and gives open requests a moment.
        match tokio::time::timeout(Duration::from_secs(5), &mut self.server).await {
            Ok(_) => {}
            Err(_) => self.server.abort(),
        }
    }
}

/// Starts the service: metrics listener (if asked), scheduler and dashboard.
pub async fn start(
    store: Store,
    master: MasterKey,
    opts: ServiceOptions,
    runner: Arc<dyn JobRunner>,
) -> Result<Running, ServiceError> {
    let metrics_addr = match opts.metrics_listen {
        Some(asked) => {
            let failed =
                |e: String| ServiceError::Metrics(messages::metrics_failed(&asked.to_string(), &e));
            let listener = tokio::net::TcpListener::bind(asked)
                .await
                .map_err(|e| failed(e.to_string()))?;
            let addr = metrics::install(listener).map_err(failed)?;
            tracing::info!("{}", messages::metrics_started(&addr.to_string()));
            Some(addr)
        }
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(opts.listen)
        .await
        .map_err(|e| ServiceError::Listen(messages::listen_failed(&opts.listen.to_string(), &e)))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServiceError::Listen(messages::listen_failed(&opts.listen.to_string(), &e)))?;

    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (scheduler, jobs) = scheduler::start(
        store.clone(),
        runner,
        opts.scheduler.clone(),
        shutdown_rx.clone(),
    );
    let _ = master;
    let auth = Arc::new(Auth::with_policy(store.clone(), opts.auth));
    let state = Arc::new(AppState {
        store,
        auth: auth.clone(),
        scheduler: scheduler.clone(),
        secure_cookies: opts.secure_cookies,
        tls: opts.tls.is_some(),
        behind_proxy: opts.behind_proxy,
        approval_required: opts.approval_required,
        doctor: tokio::sync::Mutex::new(None),
    });
    let app = http::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let mut stop = shutdown_rx;
    let server = match &opts.tls {
        None => tokio::spawn(async move {
            let result = axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    let _ = stop.wait_for(|s| *s).await;
                })
                .await;
            if let Err(e) = result {
                tracing::error!(error = %e, "the dashboard server stopped");
            }
        }),
        Some(files) => {
            let config =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                    .await
                    .map_err(|e| ServiceError::Tls(messages::tls_failed(files, &e)))?;
            let std_listener = listener.into_std().map_err(|e| {
                ServiceError::Listen(messages::listen_failed(&addr.to_string(), &e))
            })?;
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                let _ = stop.wait_for(|s| *s).await;
                stopper.graceful_shutdown(Some(Duration::from_secs(5)));
            });
            let server = axum_server::from_tcp_rustls(std_listener, config)
                .map_err(|e| ServiceError::Listen(messages::listen_failed(&addr.to_string(), &e)))?
                .handle(handle);
            tokio::spawn(async move {
                if let Err(e) = server.serve(app).await {
                    tracing::error!(error = %e, "the dashboard server stopped");
                }
            })
        }
    };
    Ok(Running {
        addr,
        metrics_addr,
        auth,
        tls: opts.tls.is_some(),
        shutdown: shutdown_tx,
        server,
        jobs,
    })
}

/// Waits for Ctrl-C or (on Unix) SIGTERM.
pub async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
