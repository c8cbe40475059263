//! The transport every call goes through: per-host rate limiting, bounded concurrency, bearer token,
//! retries with backoff honouring `Retry-After`, one new sign-in after a 401, error mapping, logging.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use governor::{DefaultKeyedRateLimiter, RateLimiter};
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use secrecy::ExposeSecret;
use tokio::sync::Semaphore;
use url::Url;

use crate::auth::TokenCache;
use crate::config::{SophosConfig, host_key, parse_base};
use crate::error::SophosError;
use crate::messages;
use crate::models::ErrorBody;
use crate::stats::StatsCell;
use clientkit::{Next, is_retryable_status, retry_after};

type Bytes = Vec<u8>;

/// Which id header a call carries.
#[derive(Debug, Clone)]
pub(crate) enum Scope {
    /// Token call: no bearer, no id header.
    Token,
    /// whoami: bearer only.
    Bearer,
    /// `X-Partner-ID`.
    Partner(String),
    /// `X-Tenant-ID`.
    Tenant(String),
}

pub(crate) enum Body {
    None,
    Json(serde_json::Value),
    /// The client-credentials form, built at send time so the secret lives only in `SecretString`.
    TokenForm,
}

pub(crate) struct Request {
    pub method: Method,
    pub url: Url,
    pub scope: Scope,
    pub query: Vec<(&'static str, String)>,
    pub body: Body,
    /// What is being fetched, for error messages ("tenant 123", "alert 456").
    pub what: String,
    /// Tenant a 403 is about, when the call is about one tenant.
    pub tenant: Option<String>,
}

impl Request {
    pub(crate) fn get(url: Url, scope: Scope, what: impl Into<String>) -> Self {
        let tenant = match &scope {
            Scope::Tenant(t) => Some(t.clone()),
            _ => None,
        };
        Request {
            method: Method::GET,
            url,
            scope,
            query: Vec::new(),
            body: Body::None,
            what: what.into(),
            tenant,
        }
    }
}

pub(crate) struct Response {
    pub body: Bytes,
}

impl Response {
    pub(crate) fn json<T: serde::de::DeserializeOwned>(
        &self,
        what: &str,
    ) -> Result<T, SophosError> {
        serde_json::from_slice(&self.body).map_err(|e| SophosError::decode(what, e.to_string()))
    }
}

pub(crate) struct Transport {
    pub cfg: SophosConfig,
    http: reqwest::Client,
    /// Our own pace per host; `None` when off.
    limiter: Option<DefaultKeyedRateLimiter<String>>,
    /// The last answer said the server enforces no limit (our emulator), so the pace is skipped.
    unlimited: AtomicBool,
    /// Requests in flight per host: each regional host is polled at its own pace, in parallel.
    permits: std::sync::Mutex<HashMap<String, Arc<Semaphore>>>,
    pub stats: StatsCell,
    pub tokens: TokenCache,
    pub token_url: Url,
    /// Bearer tokens never go over plain http when the configured global API is https.
    https_only: bool,
}

impl Transport {
    pub(crate) fn new(cfg: SophosConfig) -> Result<Arc<Transport>, SophosError> {
        cfg.validate()?;
        let token_url = parse_base(&cfg.token_url)?;
        let global = parse_base(&cfg.global_url)?;
        let http = clientkit::http_client()
            .timeout(cfg.timeout)
            .connect_timeout(cfg.timeout.min(Duration::from_secs(10)))
            // A redirect could carry the bearer token elsewhere; Sophos does not redirect.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("centralbridge-sophos/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| SophosError::invalid_config(e.to_string()))?;
        Ok(Arc::new(Transport {
            limiter: cfg.rate_limit.quota().map(RateLimiter::keyed),
            unlimited: AtomicBool::new(false),
            permits: std::sync::Mutex::new(HashMap::new()),
            https_only: global.scheme() == "https",
            cfg,
            http,
            stats: StatsCell::default(),
            tokens: TokenCache::default(),
            token_url,
        }))
    }

    fn host_permits(&self, host: &str) -> Arc<Semaphore> {
        let mut map = self.permits.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(host.to_owned())
            .or_insert_with(|| Arc::new(Semaphore::new(self.cfg.max_concurrency)))
            .clone()
    }

    async fn wait_turn(&self, host: &String) {
        let Some(limiter) = &self.limiter else {
            return;
        };
        if self.unlimited.load(Ordering::Relaxed) || limiter.check_key(host).is_ok() {
            return;
        }
        let start = Instant::now();
        limiter.until_key_ready(host).await;
        let waited = start.elapsed();
        self.stats.update(|s| {
            s.rate_limit_waits += 1;
            s.rate_limit_wait += waited;
        });
    }

    /// Sends `req` with retries; returns the 2xx response or the mapped error.
    pub(crate) async fn execute(&self, req: Request) -> Result<Response, SophosError> {
        let bearer = !matches!(req.scope, Scope::Token);
        if bearer && self.https_only && req.url.scheme() != "https" {
            return Err(SophosError::invalid_config(format!(
                "{} ({})",
                messages::INSECURE_HOST,
                req.url.host_str().unwrap_or_default()
            )));
        }
        // Only idempotent calls are retried after 5xx/network errors: a POST may have been applied.
        // The token grant is safe to repeat.
        let idempotent = req.method == Method::GET || matches!(req.scope, Scope::Token);
        let mut retries = self.cfg.retry.start();
        let mut reauthed = false;
        let host = host_key(&req.url);
        loop {
            let attempt = retries.attempt();
            let token = if bearer {
                Some(self.token().await?)
            } else {
                None
            };
            self.wait_turn(&host).await;
            let outcome = {
                let _permit = self.host_permits(&host).acquire_owned().await;
                let start = Instant::now();
                let r = self.send_once(&req, token.as_ref().map(|t| &t.0)).await;
                (r, start.elapsed())
            };
            let (result, elapsed) = outcome;
            match result {
                Ok((status, headers, body)) => {
                    let code = status.as_u16();
                    self.unlimited.store(
                        code != 429 && clientkit::server_unlimited(&headers),
                        Ordering::Relaxed,
                    );
                    let err_body = if status.is_success() {
                        None
                    } else {
                        Some(ErrorBody::parse(&body))
                    };
                    tracing::debug!(
                        method = %req.method,
                        host = %host,
                        path = %req.url.path(),
                        status = code,
                        elapsed_ms = elapsed.as_millis() as u64,
                        attempt,
                        correlation_id = err_body.as_ref().and_then(|b| b.correlation_id.as_deref()),
                        request_id = err_body.as_ref().and_then(|b| b.request_id.as_deref()),
                        "sophos request"
                    );
                    self.stats.update(|s| {
                        *s.requests
                            .entry(host.clone())
                            .or_default()
                            .entry(code)
                            .or_default() += 1;
                    });
                    let Some(err_body) = err_body else {
                        return Ok(Response { body });
                    };
                    if code == 401
                        && bearer
                        && !reauthed
                        && let Some((_, generation)) = &token
                    {
                        // The token may have expired early or been revoked: sign in once more.
                        reauthed = true;
                        retries.forgive();
                        self.tokens.invalidate(*generation).await;
                        self.stats.update(|s| s.reauthentications += 1);
                        continue;
                    }
                    let asked = retry_after(&headers);
                    if is_retryable_status(code)
                        && (idempotent || code == 429)
                        && let Next::Wait {
                            delay,
                            honoured_retry_after,
                        } = retries.after_failure(asked)
                    {
                        self.stats.update(|s| {
                            s.retries += 1;
                            s.retry_wait += delay;
                            if honoured_retry_after {
                                s.retry_after_honoured += 1;
                            }
                        });
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(self.map_error(&req, code, asked, err_body));
                }
                Err(e) => {
                    tracing::debug!(
                        method = %req.method,
                        host = %host,
                        path = %req.url.path(),
                        elapsed_ms = elapsed.as_millis() as u64,
                        attempt,
                        error = %e,
                        "sophos request failed"
                    );
                    self.stats.update(|s| s.transport_errors += 1);
                    if (idempotent || e.is_connect())
                        && let Next::Wait { delay, .. } = retries.after_failure(None)
                    {
                        self.stats.update(|s| {
                            s.retries += 1;
                            s.retry_wait += delay;
                        });
                        tokio::time::sleep(delay).await;
                        continue;
                    }
                    return Err(SophosError::Transport {
                        timeout: e.is_timeout(),
                        message: transport_text(&e),
                    });
                }
            }
        }
    }

    async fn send_once(
        &self,
        req: &Request,
        token: Option<&secrecy::SecretString>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), reqwest::Error> {
        let mut b = self.http.request(req.method.clone(), req.url.clone());
        if !req.query.is_empty() {
            b = b.query(&req.query);
        }
        if let Some(t) = token {
            b = b.bearer_auth(t.expose_secret());
        }
        match &req.scope {
            Scope::Partner(id) => b = b.header("X-Partner-ID", id),
            Scope::Tenant(id) => b = b.header("X-Tenant-ID", id),
            Scope::Token | Scope::Bearer => {}
        }
        match &req.body {
            Body::None => {}
            Body::Json(v) => b = b.json(v),
            Body::TokenForm => {
                b = b.form(&[
                    ("grant_type", "client_credentials"),
                    ("client_id", self.cfg.client_id.as_str()),
                    ("client_secret", self.cfg.client_secret.expose_secret()),
                    ("scope", "token"),
                ]);
            }
        }
        b = b.header(reqwest::header::ACCEPT, "application/json");
        let resp = b.send().await?;
        let status = resp.status();
        let headers = resp.headers().clone();
        let body = resp.bytes().await?.to_vec();
        Ok((status, headers, body))
    }

    fn map_error(
        &self,
        req: &Request,
        status: u16,
        retry_after: Option<Duration>,
        body: ErrorBody,
    ) -> SophosError {
        if matches!(req.scope, Scope::Token) && matches!(status, 400 | 401 | 403) {
            return SophosError::Auth {
                message: messages::AUTH_REJECTED.to_string(),
                code: body.error_code.or(body.error),
                tracking_id: body.tracking_id.or(body.correlation_id),
            };
        }
        let ErrorBody {
            error,
            message,
            correlation_id,
            request_id,
            ..
        } = body;
        match status {
            401 => SophosError::Auth {
                message: messages::API_NOT_AUTHORIZED.to_string(),
                code: error,
                tracking_id: correlation_id,
            },
            403 => match &req.tenant {
                Some(t) => SophosError::ForbiddenTenant {
                    tenant_id: t.clone(),
                    correlation_id,
                    request_id,
                },
                None => SophosError::Forbidden {
                    message,
                    correlation_id,
                    request_id,
                },
            },
            404 => SophosError::NotFound {
                what: req.what.clone(),
                error,
                correlation_id,
                request_id,
            },
            429 => SophosError::RateLimited {
                retry_after,
                correlation_id,
                request_id,
            },
            400..=499 => SophosError::BadRequest {
                status,
                error,
                message,
                correlation_id,
                request_id,
            },
            _ => SophosError::Server {
                status,
                error,
                message,
                correlation_id,
                request_id,
            },
        }
    }
}

/// reqwest's text plus its source chain; URLs carry no secrets (ids only), tokens never appear.
fn transport_text(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        text.push_str(": ");
        text.push_str(&s.to_string());
        src = s.source();
    }
    text
}
