//! The HTTP core: auth headers, codebase discovery, rate limit, concurrency, retries, paging.

use std::collections::BTreeMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use base64::Engine as _;
use futures::Stream;
use governor::{DefaultDirectRateLimiter, RateLimiter};
use http::{HeaderMap, HeaderValue, Method};
use secrecy::ExposeSecret;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use tokio::sync::Semaphore;

use crate::conditions::{Query, encode_query};
use crate::config::{CwConfig, Note, normalize_site};
use crate::error::{CwError, from_response};
use crate::messages;
use crate::models::{CompanyInfo, Count, PatchOp};
use crate::paging::{next_page, next_page_id, parse_link_header};
use clientkit::{Next, retry_after};

/// A stream of records, fetched page by page (memory stays flat).
pub type CwStream<T> = Pin<Box<dyn Stream<Item = Result<T, CwError>> + Send + 'static>>;

/// Request counters, for benchmarks and the status page.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// HTTP attempts sent (including retries and discovery).
    pub requests: u64,
    /// Attempts that were retries.
    pub retries: u64,
    /// Codebase rediscoveries after a 404.
    pub rediscoveries: u64,
    /// POST lookups run after an ambiguous failure.
    pub lookups: u64,
    /// "METHOD status" (or "METHOD transport") → count.
    pub by_status: BTreeMap<String, u64>,
}

/// A ConnectWise PSA client for one site and API member. Cheap to clone; clones share the rate
/// limiter, the concurrency limit, the codebase and the counters, so use one per site.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("origin", &self.inner.origin)
            .field("company_id", &self.inner.company_id)
            .field("codebase", &self.codebase())
            .finish_non_exhaustive()
    }
}

struct Inner {
    http: reqwest::Client,
    origin: String,
    company_id: String,
    codebase: RwLock<String>,
    pinned: bool,
    auth: HeaderValue,
    client_id: HeaderValue,
    accept: HeaderValue,
    /// Our own pace; `None` when off.
    limiter: Option<DefaultDirectRateLimiter>,
    /// The last answer said the server enforces no limit (our emulator), so the pace is skipped.
    unlimited: AtomicBool,
    sem: Semaphore,
    retry: crate::config::RetryPolicy,
    lookup_attempts: u32,
    timeout: Duration,
    page_size: u32,
    stats: Mutex<Stats>,
    rediscover: tokio::sync::Mutex<()>,
    notes: Vec<Note>,
}

/// One request, relative to `apis/3.0/`.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub method: Method,
    pub path: String,
    pub params: Vec<(String, String)>,
    pub body: Option<Value>,
    pub forward_only: bool,
}

impl Req {
    pub(crate) fn new(method: Method, path: impl Into<String>) -> Self {
        Req {
            method,
            path: path.into(),
            params: Vec::new(),
            body: None,
            forward_only: false,
        }
    }
    pub(crate) fn params(mut self, params: Vec<(String, String)>) -> Self {
        self.params = params;
        self
    }
    pub(crate) fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }
}

/// A successful answer.
pub(crate) struct Raw {
    pub link: Option<String>,
    pub body: String,
}

/// How a list is paged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageMode {
    ForwardOnly,
    Navigable,
}

fn build_http(timeout: Duration) -> Result<reqwest::Client, CwError> {
    clientkit::http_client()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(15)))
        .user_agent(concat!("centralbridge/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| CwError::invalid_config(e.to_string()))
}

fn header(value: &str) -> Result<HeaderValue, CwError> {
    HeaderValue::from_str(value)
        .map_err(|_| CwError::invalid_config(format!("'{value}' cannot be sent in an HTTP header")))
}

fn transport(e: &reqwest::Error) -> CwError {
    // reqwest's Display may include the URL (which holds conditions, never secrets): keep it short.
    let mut message = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(s) = src {
        message = format!("{message}: {s}");
        src = s.source();
    }
    CwError::Transport {
        message,
        timeout: e.is_timeout(),
        connect: e.is_connect(),
    }
}

fn normalize_codebase(cb: &str) -> String {
    let t = cb.trim().trim_matches('/');
    if t.is_empty() {
        String::new()
    } else {
        format!("{t}/")
    }
}

async fn fetch_company_info(
    http: &reqwest::Client,
    origin: &str,
    company_id: &str,
) -> Result<Option<CompanyInfo>, CwError> {
    let url = format!(
        "{origin}/login/companyinfo/{}",
        crate::conditions::encode_component(company_id)
    );
    let resp = http.get(&url).send().await.map_err(|e| transport(&e))?;
    let status = resp.status().as_u16();
    let ra = retry_after(resp.headers());
    let body = resp.text().await.map_err(|e| transport(&e))?;
    if !(200..300).contains(&status) {
        return Err(from_response("GET", "login/companyinfo", status, ra, &body));
    }
    let trimmed = body.trim();
    if trimmed.is_empty() || trimmed == "null" {
        return Ok(None);
    }
    serde_json::from_str::<CompanyInfo>(trimmed)
        .map(Some)
        .map_err(|e| CwError::Decode {
            path: "login/companyinfo".to_string(),
            message: e.to_string(),
        })
}

impl Client {
    /// Check the configuration, discover the codebase (unless overridden) and build the client.
    pub async fn connect(cfg: CwConfig) -> Result<Client, CwError> {
        let (origin, notes) = normalize_site(&cfg.site, cfg.allow_http)?;
        if cfg.company_id.trim().is_empty() {
            return Err(CwError::invalid_config(messages::company_not_found("")));
        }
        let http = build_http(cfg.timeout)?;
        let (codebase, pinned) = match &cfg.codebase_override {
            Some(cb) if !cb.trim().is_empty() => (normalize_codebase(cb), true),
            _ => {
                let info = fetch_company_info(&http, &origin, cfg.company_id.trim())
                    .await?
                    .ok_or_else(|| {
                        CwError::invalid_config(messages::company_not_found(&cfg.company_id))
                    })?;
                let cb = info.codebase.as_deref().unwrap_or("").to_string();
                (normalize_codebase(&cb), false)
            }
        };
        let basic = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}+{}:{}",
            cfg.company_id.trim(),
            cfg.public_key.trim(),
            cfg.private_key.expose_secret()
        ));
        let mut auth = header(&format!("Basic {basic}")).map_err(|_| {
            CwError::invalid_config("The API keys contain characters that cannot be sent.")
        })?;
        auth.set_sensitive(true);
        let page_size = cfg.page_size.clamp(1, 1000);
        let inner = Inner {
            http,
            origin,
            company_id: cfg.company_id.trim().to_string(),
            codebase: RwLock::new(codebase),
            pinned,
            auth,
            client_id: header(cfg.client_id.trim())?,
            accept: header(&format!(
                "application/vnd.connectwise.com+json; version={}",
                cfg.api_version.trim()
            ))?,
            limiter: cfg.rate_limit.quota().map(RateLimiter::direct),
            unlimited: AtomicBool::new(false),
            sem: Semaphore::new(cfg.max_concurrency.max(1)),
            retry: cfg.retry.clone(),
            lookup_attempts: cfg.lookup_attempts,
            timeout: cfg.timeout,
            page_size,
            stats: Mutex::new(Stats::default()),
            rediscover: tokio::sync::Mutex::new(()),
            notes,
        };
        Ok(Client {
            inner: Arc::new(inner),
        })
    }

    /// Unauthenticated `login/companyinfo/{companyId}` for the configured site; `None` when ConnectWise
    /// does not know the company id.
    pub async fn company_info(cfg: &CwConfig) -> Result<Option<CompanyInfo>, CwError> {
        let (origin, _) = normalize_site(&cfg.site, cfg.allow_http)?;
        let http = build_http(cfg.timeout)?;
        fetch_company_info(&http, &origin, cfg.company_id.trim()).await
    }

    /// The API origin in use, e.g. `https://api-na.myconnectwise.net`.
    pub fn origin(&self) -> &str {
        &self.inner.origin
    }

    /// The codebase in use, e.g. `v2025_1/`.
    pub fn codebase(&self) -> String {
        self.inner
            .codebase
            .read()
            .map(|c| c.clone())
            .unwrap_or_default()
    }

    /// What was corrected in the configured site, to tell the user.
    pub fn notes(&self) -> &[Note] {
        &self.inner.notes
    }

    /// Request counters so far.
    pub fn stats(&self) -> Stats {
        self.inner
            .stats
            .lock()
            .map(|s| s.clone())
            .unwrap_or_default()
    }

    /// Page size used for bulk reads.
    pub fn page_size(&self) -> u32 {
        self.inner.page_size
    }

    fn count_stat(&self, f: impl FnOnce(&mut Stats)) {
        if let Ok(mut s) = self.inner.stats.lock() {
            f(&mut s);
        }
    }

    fn url(&self, codebase: &str, req: &Req) -> String {
        let path = req.path.trim_start_matches('/');
        let base = format!("{}/{codebase}apis/3.0/{path}", self.inner.origin);
        if req.params.is_empty() {
            base
        } else {
            format!("{base}?{}", encode_query(&req.params))
        }
    }

    /// One HTTP attempt. Ok for any status; Err only for transport trouble.
    pub(crate) async fn attempt(
        &self,
        codebase: &str,
        req: &Req,
    ) -> Result<(u16, HeaderMap, String), CwError> {
        let _permit = self
            .inner
            .sem
            .acquire()
            .await
            .map_err(|_| CwError::Transport {
                message: "client closed".into(),
                timeout: false,
                connect: true,
            })?;
        if let Some(l) = &self.inner.limiter
            && !self.inner.unlimited.load(Ordering::Relaxed)
        {
            l.until_ready().await;
        }
        let url = self.url(codebase, req);
        let mut rb = self
            .inner
            .http
            .request(req.method.clone(), &url)
            .header(http::header::AUTHORIZATION, self.inner.auth.clone())
            .header("clientId", self.inner.client_id.clone())
            .header(http::header::ACCEPT, self.inner.accept.clone());
        if req.forward_only {
            rb = rb.header("pagination-type", "forward-only");
        }
        if let Some(body) = &req.body {
            rb = rb
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(serde_json::to_vec(body).unwrap_or_default());
        }
        let started = Instant::now();
        let result = async {
            let resp = rb.send().await.map_err(|e| transport(&e))?;
            let status = resp.status().as_u16();
            let headers = resp.headers().clone();
            self.inner.unlimited.store(
                status != 429 && clientkit::server_unlimited(&headers),
                Ordering::Relaxed,
            );
            let body = resp.text().await.map_err(|e| transport(&e))?;
            Ok::<_, CwError>((status, headers, body))
        }
        .await;
        let elapsed_ms = started.elapsed().as_millis() as u64;
        let key = match &result {
            Ok((status, _, _)) => format!("{} {status}", req.method),
            Err(_) => format!("{} transport", req.method),
        };
        match &result {
            Ok((status, _, _)) => tracing::debug!(
                method = %req.method, path = %req.path, status, elapsed_ms, "connectwise request"
            ),
            Err(e) => tracing::debug!(
                method = %req.method, path = %req.path, error = %e, elapsed_ms, "connectwise request failed"
            ),
        }
        self.count_stat(|s| {
            s.requests += 1;
            *s.by_status.entry(key).or_default() += 1;
        });
        result
    }

    /// Re-run discovery after a 404. Returns true when the request should be sent again because the
    /// codebase changed (here or in a concurrent call).
    async fn rediscover(&self, used: &str) -> Result<bool, CwError> {
        let _guard = self.inner.rediscover.lock().await;
        if self.codebase() != used {
            return Ok(true);
        }
        self.count_stat(|s| {
            s.rediscoveries += 1;
            s.requests += 1;
        });
        let info = fetch_company_info(&self.inner.http, &self.inner.origin, &self.inner.company_id)
            .await?;
        let Some(new) = info
            .and_then(|i| i.codebase)
            .map(|c| normalize_codebase(&c))
        else {
            return Ok(false);
        };
        if new.is_empty() || new == used {
            return Ok(false);
        }
        if self.inner.pinned {
            return Err(CwError::CodebaseMoved {
                old: used.to_string(),
                new,
            });
        }
        tracing::info!(old = used, new = %new, "connectwise codebase changed; using the new one");
        if let Ok(mut cb) = self.inner.codebase.write() {
            *cb = new;
        }
        Ok(true)
    }

    /// Send with retries: 429 always (nothing was done), 5xx and transport errors except for POST, and
    /// once more after a 404 that turned out to be a moved codebase.
    pub(crate) async fn execute(&self, req: &Req) -> Result<Raw, CwError> {
        let mut retries = self.inner.retry.start();
        let mut rediscovered = false;
        loop {
            retries.attempt();
            let used = self.codebase();
            let err = match self.attempt(&used, req).await {
                Ok((status, headers, body)) if (200..300).contains(&status) => {
                    let link = headers
                        .get(http::header::LINK)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    return Ok(Raw { link, body });
                }
                Ok((status, headers, body)) => from_response(
                    req.method.as_str(),
                    &req.path,
                    status,
                    retry_after(&headers),
                    &body,
                ),
                Err(e) => e,
            };
            if matches!(err, CwError::NotFound { .. }) && !rediscovered {
                rediscovered = true;
                if self.rediscover(&used).await? {
                    retries.forgive();
                    continue;
                }
                return Err(err);
            }
            let retryable = match &err {
                CwError::RateLimited { .. } => true,
                CwError::Server { .. } | CwError::Transport { .. } => req.method != Method::POST,
                _ => false,
            };
            if !retryable {
                return Err(err);
            }
            let server_wait = match &err {
                CwError::RateLimited { retry_after, .. } => *retry_after,
                _ => None,
            };
            let Next::Wait { delay, .. } = retries.after_failure(server_wait) else {
                return Err(err);
            };
            tracing::debug!(method = %req.method, path = %req.path, kind = err.kind(), delay_ms = delay.as_millis() as u64, "connectwise retry");
            self.count_stat(|s| s.retries += 1);
            tokio::time::sleep(delay).await;
        }
    }

    pub(crate) fn decode<T: DeserializeOwned>(path: &str, body: &str) -> Result<T, CwError> {
        serde_json::from_str(body).map_err(|e| CwError::Decode {
            path: path.to_string(),
            message: e.to_string(),
        })
    }

    /// GET one record or document.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        params: Vec<(String, String)>,
    ) -> Result<T, CwError> {
        let raw = self
            .execute(&Req::new(Method::GET, path).params(params))
            .await?;
        Self::decode(path, &raw.body)
    }

    /// `GET …/count`.
    pub(crate) async fn count(&self, path: &str, query: Query) -> Result<i64, CwError> {
        let c: Count = self.get(path, query.params()?).await?;
        Ok(c.count)
    }

    /// POST once (429 is retried: nothing was done). An ambiguous failure is returned as is.
    pub(crate) async fn post<T: DeserializeOwned, B: Serialize>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, CwError> {
        let raw = self
            .execute(&Req::new(Method::POST, path).body(to_body(body)?))
            .await?;
        Self::decode(path, &raw.body)
    }

    /// POST that is safe to retry. A POST that never reached the server (no connection) is sent
    /// again after a backoff. After an ambiguous failure `lookup` finds the record the attempt may
    /// have committed: at once after a 5xx (the server is done with the request), and after a
    /// timeout or a cut connection again with backoff for at least as long as the request
    /// timeout (the server may still be working on it). Only if the record is still absent is the
    /// POST sent again.
    pub async fn create_with_lookup<T, B, F, Fut>(
        &self,
        path: &str,
        body: &B,
        lookup: F,
    ) -> Result<T, CwError>
    where
        T: DeserializeOwned,
        B: Serialize,
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<T>, CwError>>,
    {
        let body = to_body(body)?;
        let req = Req::new(Method::POST, path).body(body);
        let mut retries = self.inner.retry.start();
        loop {
            retries.attempt();
            let err = match self.execute(&req).await {
                Ok(raw) => return Self::decode(path, &raw.body),
                Err(e @ CwError::Transport { connect: true, .. }) => {
                    // Nothing was sent: no look-up needed, only another try.
                    let Next::Wait { delay, .. } = retries.after_failure(None) else {
                        return Err(e);
                    };
                    self.count_stat(|s| s.retries += 1);
                    tokio::time::sleep(delay).await;
                    continue;
                }
                Err(e) if e.is_ambiguous() => e,
                Err(e) => return Err(e),
            };
            tracing::debug!(
                path,
                kind = err.kind(),
                "connectwise POST outcome unknown; looking the record up"
            );
            if let Some(found) = self.look_up_after(&err, &mut retries, &lookup).await? {
                return Ok(found);
            }
            if !retries.may_retry() {
                return Err(err);
            }
            self.count_stat(|s| s.retries += 1);
        }
    }

    /// The look-up after an ambiguous POST failure `err` (see [`Client::create_with_lookup`]).
    async fn look_up_after<T, F, Fut>(
        &self,
        err: &CwError,
        retries: &mut clientkit::Retries,
        lookup: &F,
    ) -> Result<Option<T>, CwError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<Option<T>, CwError>>,
    {
        let keep_looking = err.may_still_be_running();
        let failed_at = Instant::now();
        let mut tries = 0u32;
        loop {
            tries += 1;
            if tries > 1 {
                tokio::time::sleep(retries.backoff_delay()).await;
            }
            self.count_stat(|s| s.lookups += 1);
            let transient = match lookup().await {
                Ok(Some(found)) => return Ok(Some(found)),
                Ok(None) => false,
                Err(e) if e.is_transient() => true,
                Err(e) => return Err(e),
            };
            let enough = if keep_looking {
                // The first attempt may still be running on the server: keep looking for at
                // least as long as we waited for it.
                tries >= self.inner.lookup_attempts.max(1)
                    && failed_at.elapsed() >= self.inner.timeout
            } else {
                // The server answered: one clean look-up settles it.
                !transient || tries >= self.inner.lookup_attempts.max(1)
            };
            if enough {
                return Ok(None);
            }
        }
    }

    /// DELETE one record. `Ok(false)` when it was not there (already deleted, perhaps by an
    /// earlier attempt of this very call: DELETE is retried like a GET, since repeating it is safe).
    pub(crate) async fn delete(&self, path: &str) -> Result<bool, CwError> {
        match self.execute(&Req::new(Method::DELETE, path)).await {
            Ok(_) => Ok(true),
            Err(CwError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// PATCH with JSON Patch ops, then check that the returned record shows every change.
    pub(crate) async fn patch<T: DeserializeOwned>(
        &self,
        path: &str,
        ops: &[PatchOp],
    ) -> Result<T, CwError> {
        let body = serde_json::to_value(ops).map_err(|e| CwError::Decode {
            path: path.to_string(),
            message: e.to_string(),
        })?;
        let raw = self
            .execute(&Req::new(Method::PATCH, path).body(body))
            .await?;
        let returned: Value = Self::decode(path, &raw.body)?;
        let missing = crate::verify::unapplied_ops(ops, &returned);
        if !missing.is_empty() {
            return Err(CwError::PatchNotApplied {
                path: path.to_string(),
                fields: missing,
            });
        }
        serde_json::from_value(returned).map_err(|e| CwError::Decode {
            path: path.to_string(),
            message: e.to_string(),
        })
    }

    /// Stream every record of a list, page by page. Forward-only falls back to navigable paging
    /// when the server does not answer with a forward-only `Link`.
    pub(crate) fn stream<T>(&self, path: String, query: Query, mode: PageMode) -> CwStream<T>
    where
        T: DeserializeOwned + Send + 'static,
    {
        let client = self.clone();
        Box::pin(async_stream::try_stream! {
            let base = query.params()?;
            let size = client.inner.page_size;
            let mut forward = mode == PageMode::ForwardOnly && query.order_by.is_none();
            let mut page: u32 = 1;
            let mut page_id: Option<i64> = None;
            loop {
                let mut params = base.clone();
                params.push(("pageSize".to_string(), size.to_string()));
                if forward {
                    if let Some(id) = page_id {
                        params.push(("pageId".to_string(), id.to_string()));
                    }
                } else {
                    params.push(("page".to_string(), page.to_string()));
                }
                let mut req = Req::new(Method::GET, path.clone()).params(params);
                req.forward_only = forward;
                let raw = client.execute(&req).await?;
                let items: Vec<T> = Self::decode(&path, &raw.body)?;
                let n = items.len();
                for item in items {
                    yield item;
                }
                if n == 0 || n < size as usize {
                    break;
                }
                let links = raw.link.as_deref().map(parse_link_header);
                if forward {
                    let next_id = links.as_ref().and_then(next_page_id);
                    match (next_id, &links) {
                        (Some(id), _) => {
                            if page_id.is_some_and(|prev| id <= prev) {
                                break;
                            }
                            page_id = Some(id);
                        }
                        // Server ignored forward-only (navigable Link or none): continue navigably.
                        (None, Some(l)) if l.next.is_some() => {
                            forward = false;
                            page = next_page(l).unwrap_or(2);
                        }
                        (None, None) if page_id.is_none() => {
                            forward = false;
                            page = 2;
                        }
                        _ => break,
                    }
                } else {
                    match &links {
                        Some(l) => match next_page(l) {
                            Some(p) if p > page => page = p,
                            _ => break,
                        },
                        None => page += 1,
                    }
                }
            }
        })
    }

    /// Collect a stream into a Vec (for small tables).
    pub(crate) async fn collect<T>(&self, stream: CwStream<T>) -> Result<Vec<T>, CwError> {
        use futures::TryStreamExt as _;
        stream.try_collect().await
    }
}

/// The JSON a create sends for `body`: nulls and `_info` dropped (we only send what we mean to set).
pub fn to_body<B: Serialize>(body: &B) -> Result<Value, CwError> {
    fn clean(v: Value) -> Value {
        match v {
            Value::Object(m) => Value::Object(
                m.into_iter()
                    .filter(|(k, v)| !v.is_null() && k != "_info")
                    .map(|(k, v)| (k, clean(v)))
                    .collect(),
            ),
            Value::Array(a) => Value::Array(a.into_iter().map(clean).collect()),
            other => other,
        }
    }
    serde_json::to_value(body)
        .map(clean)
        .map_err(|e| CwError::Decode {
            path: "request body".to_string(),
            message: e.to_string(),
        })
}
