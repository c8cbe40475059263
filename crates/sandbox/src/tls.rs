//! HTTPS for the emulators: a generated self-signed certificate, and one `serve` helper for both
//! plain HTTP and HTTPS.
//!
//! The certificate covers `localhost` and `127.0.0.1`; its PEM is written to a file so a client that
//! insists on `https://` can trust it (e.g. `reqwest::Certificate::from_pem`). The private key stays in
//! memory.

use axum::Router;
use axum_server::Handle;
use axum_server::tls_rustls::RustlsConfig;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::task::JoinHandle;

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

/// Serves `router` on `addr` (use `127.0.0.1:0` for a free port), over HTTPS when `tls` is given.
/// Returns once the socket is bound, so the address is immediately usable.
pub async fn serve(
    router: Router,
    addr: SocketAddr,
    tls: Option<TlsConfig>,
) -> Result<ServerHandle, ServeError> {
    let listener =
        std::net::TcpListener::bind(addr).map_err(|source| ServeError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| ServeError::Bind { addr, source })?;
    let handle = Handle::new();
    let service = router.into_make_service();
    let (task, https, cert_path) = match tls {
        None => {
            let server = axum_server::from_tcp(listener)
                .map_err(|source| ServeError::Bind { addr, source })?;
            let h = handle.clone();
            (
                tokio::spawn(async move { server.handle(h).serve(service).await }),
                false,
                None,
            )
        }
        Some(cfg) => {
            let cert = write_self_signed(&cfg.cert_path)?;
            let rustls =
                RustlsConfig::from_pem(cert.cert_pem.into_bytes(), cert.key_pem.into_bytes())
                    .await
                    .map_err(ServeError::Tls)?;
            let server = axum_server::tls_rustls::from_tcp_rustls(listener, rustls)
                .map_err(|source| ServeError::Bind { addr, source })?;
            let h = handle.clone();
            (
                tokio::spawn(async move { server.handle(h).serve(service).await }),
                true,
                Some(cfg.cert_path),
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
