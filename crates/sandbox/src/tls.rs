//! HTTPS for the emulators: a generated self-signed certificate, and one `serve` helper for both
//! plain HTTP and HTTPS.
//!
//! The certificate covers `localhost` and `127.0.0.1`; its PEM is written to a file so a client that
//! insists on `https://` can trust it (e.g. `reqwest::Certificate::from_pem`). The private key stays in
//! memory. Over HTTPS both HTTP/2 (`h2`) and HTTP/1.1 are offered through ALPN.
//!
//! Every request body is read whole before the router sees the request (up to [`BODY_LIMIT`]; a
//! larger one is answered 413). So an answer decided before a handler looks at the body (a 401, a
//! 403, an injected fault) still reaches a client that sends its whole body before it reads: a server
//! that answers and closes with the body unread makes such clients see a broken connection instead.

use axum::Router;
use axum::body::{Body, HttpBody as _};
use axum::extract::{DefaultBodyLimit, Request};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use http::StatusCode;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::time::Duration;
use tokio::task::JoinHandle;

/// The largest request body handed to a handler; larger bodies are answered 413.
pub const BODY_LIMIT: usize = 16 * 1024 * 1024;

/// How much of a too-large body is still read (and dropped) so that its 413 arrives; past this the
/// connection is cut.
const DRAIN_LIMIT: usize = 64 * 1024 * 1024;

/// Errors from generating a certificate or starting a server.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The certificate generator failed; carries its message.
    #[error("could not generate the self-signed certificate: {0}")]
    Certificate(String),
    /// The certificate PEM (or its parent directory) could not be written.
    #[error("could not write the certificate to {path}: {source}")]
    WriteCert {
        /// Where the PEM was to be written.
        path: PathBuf,
        /// The file-system error.
        source: std::io::Error,
    },
    /// The listening socket could not be bound or handed to the server.
    #[error("could not bind {addr}: {source}")]
    Bind {
        /// The address asked for (the port may be 0).
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// rustls refused the generated certificate and key.
    #[error("could not configure TLS: {0}")]
    Tls(std::io::Error),
}

/// Ask [`serve`] for HTTPS: a fresh self-signed certificate is generated and its PEM written to
/// `cert_path`.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    /// Where the certificate PEM is written; parent directories are created, an existing file replaced.
    pub cert_path: PathBuf,
}

impl TlsConfig {
    /// HTTPS with the certificate PEM written to `cert_path`.
    pub fn new(cert_path: impl Into<PathBuf>) -> Self {
        Self {
            cert_path: cert_path.into(),
        }
    }
}

/// A generated certificate and its key, both PEM.
pub struct SelfSigned {
    /// The certificate, PEM-encoded: what a client adds to its trusted roots.
    pub cert_pem: String,
    key_pem: String,
}

impl std::fmt::Debug for SelfSigned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SelfSigned")
            .field("cert_pem", &self.cert_pem)
            .field("key_pem", &"[redacted]")
            .finish()
    }
}

/// Generates a self-signed certificate for `localhost` and `127.0.0.1`.
pub fn generate_self_signed() -> Result<SelfSigned, ServeError> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let ck = rcgen::generate_simple_self_signed(names)
        .map_err(|e| ServeError::Certificate(e.to_string()))?;
    Ok(SelfSigned {
        cert_pem: ck.cert.pem(),
        key_pem: ck.signing_key.serialize_pem(),
    })
}

/// Generates a certificate and writes its PEM to `path` (parent directories are created).
pub fn write_self_signed(path: &Path) -> Result<SelfSigned, ServeError> {
    let cert = generate_self_signed()?;
    let write = || -> std::io::Result<()> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(path, cert.cert_pem.as_bytes())
    };
    write().map_err(|source| ServeError::WriteCert {
        path: path.to_owned(),
        source,
    })?;
    Ok(cert)
}

/// A running server. Dropping it leaves the server running (until the runtime stops); call
/// [`ServerHandle::shutdown`] to stop it.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    https: bool,
    cert_path: Option<PathBuf>,
    handle: Handle<SocketAddr>,
    task: JoinHandle<std::io::Result<()>>,
}

impl ServerHandle {
    /// The bound address (the real port when `127.0.0.1:0` was asked for).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Where the certificate PEM was written (HTTPS only).
    pub fn cert_path(&self) -> Option<&Path> {
        self.cert_path.as_deref()
    }

    /// `http://127.0.0.1:PORT` or `https://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    /// Stops accepting, gives open connections a moment, and waits for the server task.
    pub async fn shutdown(self) {
        self.handle
            .graceful_shutdown(Some(Duration::from_millis(200)));
        // The task's own error, if any, is of no interest once we are stopping it.
        let _ = self.task.await;
    }
}

/// One generated certificate, ready to be served by several listeners (the Sophos emulator's
/// global origin and its regional ones share it).
#[derive(Clone)]
pub struct SharedTls {
    rustls: RustlsConfig,
    cert_path: PathBuf,
}

impl std::fmt::Debug for SharedTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedTls")
            .field("cert_path", &self.cert_path)
            .finish_non_exhaustive()
    }
}

impl SharedTls {
    /// Generates the certificate, writes its PEM to `cfg.cert_path` and prepares rustls.
    pub async fn generate(cfg: &TlsConfig) -> Result<Self, ServeError> {
        let cert = write_self_signed(&cfg.cert_path)?;
        let rustls = RustlsConfig::from_pem(cert.cert_pem.into_bytes(), cert.key_pem.into_bytes())
            .await
            .map_err(ServeError::Tls)?;
        Ok(Self {
            rustls,
            cert_path: cfg.cert_path.clone(),
        })
    }

    /// Where the certificate PEM was written.
    pub fn cert_path(&self) -> &Path {
        &self.cert_path
    }
}

/// Serves `router` on `addr` (use `127.0.0.1:0` for a free port), over HTTPS with a fresh
/// certificate when `tls` is given. Returns once the socket is bound, so the address is immediately
/// usable.
pub async fn serve(
    router: Router,
    addr: SocketAddr,
    tls: Option<TlsConfig>,
) -> Result<ServerHandle, ServeError> {
    let shared = match tls {
        Some(cfg) => Some(SharedTls::generate(&cfg).await?),
        None => None,
    };
    serve_shared(router, addr, shared.as_ref()).await
}

/// Like [`serve`], with a certificate generated once for several listeners.
pub async fn serve_shared(
    router: Router,
    addr: SocketAddr,
    tls: Option<&SharedTls>,
) -> Result<ServerHandle, ServeError> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let handle = Handle::new();
    // The whole body is in memory once the handler runs, so the extractors' own 2 MB cap would only
    // refuse what BODY_LIMIT already allows.
    let service = router
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn(read_body_first))
        .into_make_service();
    let h = handle.clone();
    let (task, https, cert_path) = match tls {
        None => {
            let server = axum_server::from_tcp(listener)
                .map_err(|source| ServeError::Bind { addr, source })?;
            (
                tokio::spawn(async move { server.handle(h).serve(service).await }),
                false,
                None,
            )
        }
        Some(tls) => {
            let server = axum_server::tls_rustls::from_tcp_rustls(listener, tls.rustls.clone())
                .map_err(|source| ServeError::Bind { addr, source })?;
            (
                tokio::spawn(async move { server.handle(h).serve(service).await }),
                true,
                Some(tls.cert_path.clone()),
            )
        }
    };
    Ok(ServerHandle {
        addr: local,
        https,
        cert_path,
        handle,
        task,
    })
}

/// Reads the request body whole before the rest of the stack runs (see the module documentation).
async fn read_body_first(req: Request, next: Next) -> Response {
    let (parts, mut body) = req.into_parts();
    let mut kept = Vec::new();
    let mut total = 0usize;
    loop {
        match std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
            None => break,
            Some(Ok(frame)) => {
                let Ok(data) = frame.into_data() else {
                    continue; // trailers carry no body bytes
                };
                total = total.saturating_add(data.len());
                if total <= BODY_LIMIT {
                    kept.extend_from_slice(&data);
                } else if total > DRAIN_LIMIT {
                    break;
                }
            }
            // The client went away mid-body: nobody is left to read an answer.
            Some(Err(_)) => return StatusCode::BAD_REQUEST.into_response(),
        }
    }
    if total > BODY_LIMIT {
        let message = format!("The request body is larger than {BODY_LIMIT} bytes.");
        return (
            StatusCode::PAYLOAD_TOO_LARGE,
            axum::Json(serde_json::json!({"code": "RequestTooLarge", "message": message})),
        )
            .into_response();
    }
    next.run(Request::from_parts(parts, Body::from(kept))).await
}
