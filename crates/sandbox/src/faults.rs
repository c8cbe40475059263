//! Fault knobs shared by both emulators: latency, rate limits, injected errors, slow commits.
//!
//! A [`Faults`] is a cheap, cloneable handle (an `Arc` inside): the emulator keeps one clone in its
//! middleware, tests and benchmarks keep another and change the knobs while the server runs.
//!
//! Order of effects for one request: count it → added latency → rate limit (429) → injected per-route
//! status ([`Injection`]: any status, the vendor's body or a raw one such as a gateway's HTML page) →
//! random fault (500) → the handler runs → for a successful POST, the "slow commit" delay: the first
//! [`SlowRoute`] whose path matches, else the global one. The handler has committed by then, so a
//! client whose timeout is shorter than the delay sees a timeout although the record exists (the real
//! cause of duplicate tickets in the field).

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, Method, StatusCode, header};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// The knob values. All off by default.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultSettings {
    /// Added to every request before it is handled.
    pub latency: Duration,
    /// Requests allowed per rolling minute and host (each Sophos region is a host of its own);
    /// above it the emulator answers 429. `None`: unlimited.
    pub rate_limit_per_minute: Option<u32>,
    /// Fixed `Retry-After` seconds for 429s; `None`: the seconds until the window frees a slot.
    pub retry_after: Option<u64>,
    /// Fraction (0.0..=1.0) of requests answered 500 without being handled.
    pub fault_rate: f64,
    /// Successful POSTs commit, then wait this long before answering.
    pub slow_commit: Option<Duration>,
}

impl Default for FaultSettings {
    fn default() -> Self {
        Self {
            latency: Duration::ZERO,
            rate_limit_per_minute: None,
            retry_after: None,
            fault_rate: 0.0,
            slow_commit: None,
        }
    }
}

/// Per-request counters, for benchmarks and for "the doctor wrote nothing" assertions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct RequestCounts {
    /// Every request seen by the middleware, including the ones answered 429/500 by a knob.
    pub total: u64,
    /// Requests with method POST (but a `…/search`, which reads), PUT, PATCH or DELETE (whatever
    /// their outcome).
    pub writes: u64,
    /// Writes answered with a 2xx status.
    pub successful_writes: u64,
    /// Answered 429 by the rate limit.
    pub rate_limited: u64,
    /// Answered 500 by the fault knob.
    pub injected_faults: u64,
    /// Keyed `"GET 200"`, `"POST 201"`, ...
    pub by_method_status: BTreeMap<String, u64>,
    /// Keyed by the vendor's route family (e.g. `"service/tickets"`).
    pub by_family: BTreeMap<String, u64>,
}

impl RequestCounts {
    /// Requests a knob answered instead of the handler: rate-limited, injected or random faults.
    pub fn answered_by_a_fault(&self) -> u64 {
        self.rate_limited + self.injected_faults
    }

    /// Count for one method and status, e.g. `count("POST", 201)`.
    pub fn count(&self, method: &str, status: u16) -> u64 {
        self.by_method_status
            .get(&format!("{} {status}", method.to_ascii_uppercase()))
            .copied()
            .unwrap_or(0)
    }
}

type RateLimitedFn = dyn Fn(u64) -> Response + Send + Sync;
type ServerErrorFn = dyn Fn() -> Response + Send + Sync;
type FamilyFn = dyn Fn(&Method, &str) -> String + Send + Sync;

/// How a vendor answers the knobs' synthetic errors, and how it groups routes for the counters.
#[derive(Clone)]
pub struct VendorResponses {
    rate_limited: Arc<RateLimitedFn>,
    server_error: Arc<ServerErrorFn>,
    family: Arc<FamilyFn>,
}

impl VendorResponses {
    /// `rate_limited(retry_after_secs)` builds the 429 (the middleware adds `Retry-After` and forces the
    /// status); `server_error()` builds the 500 (status forced too).
    pub fn new(
        rate_limited: impl Fn(u64) -> Response + Send + Sync + 'static,
        server_error: impl Fn() -> Response + Send + Sync + 'static,
    ) -> Self {
        Self {
            rate_limited: Arc::new(rate_limited),
            server_error: Arc::new(server_error),
            family: Arc::new(|_, path| path.trim_matches('/').to_ascii_lowercase()),
        }
    }

    /// Groups request paths for [`RequestCounts::by_family`] (default: the lower-cased path).
    pub fn with_family(
        mut self,
        family: impl Fn(&Method, &str) -> String + Send + Sync + 'static,
    ) -> Self {
        self.family = Arc::new(family);
        self
    }
}

impl fmt::Debug for VendorResponses {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("VendorResponses { .. }")
    }
}

/// A status injected on matching requests, before they reach the handler (nothing is committed).
#[derive(Debug, Clone, PartialEq)]
pub struct Injection {
    /// Only requests with this method (`None`: any).
    pub method: Option<Method>,
    /// Only requests whose path contains this text, compared case-insensitively (`""`: any).
    pub path_contains: String,
    /// The HTTP status answered instead of running the handler (an unknown code given to `new` is 500).
    pub status: StatusCode,
    /// The body to send as is: JSON when it parses as JSON, otherwise `text/html` (gateways answer
    /// with HTML pages). `None`: the vendor's own server-error body.
    pub body: Option<String>,
    /// How many matching requests to answer this way (`None`: until removed).
    pub remaining: Option<u32>,
}

impl Injection {
    /// Answers every request whose path contains `path_contains` with `status` and the vendor's body.
    pub fn new(path_contains: impl Into<String>, status: u16) -> Self {
        Self {
            method: None,
            path_contains: path_contains.into(),
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
            body: None,
            remaining: None,
        }
    }

    /// Only for this method.
    pub fn method(mut self, method: Method) -> Self {
        self.method = Some(method);
        self
    }

    /// With this raw body (e.g. a gateway's HTML page).
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = Some(body.into());
        self
    }

    /// For the next `n` matching requests only.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }

    fn matches(&self, method: &Method, path: &str) -> bool {
        self.method.as_ref().is_none_or(|m| m == method)
            && path
                .to_ascii_lowercase()
                .contains(&self.path_contains.to_ascii_lowercase())
    }
}

/// A commit delay for successful POSTs on matching routes only (the global one is
/// [`FaultSettings::slow_commit`]).
#[derive(Debug, Clone, PartialEq)]
pub struct SlowRoute {
    /// Only POSTs whose path contains this text, compared case-insensitively.
    pub path_contains: String,
    /// How long a matching POST waits after committing, before it answers.
    pub delay: Duration,
    /// How many matching successful POSTs to slow (`None`: until removed).
    pub remaining: Option<u32>,
}

impl SlowRoute {
    /// Slows every successful POST whose path contains `path_contains` by `delay`.
    pub fn new(path_contains: impl Into<String>, delay: Duration) -> Self {
        Self {
            path_contains: path_contains.into(),
            delay,
            remaining: None,
        }
    }

    /// For the next `n` matching successful POSTs only.
    pub fn times(mut self, n: u32) -> Self {
        self.remaining = Some(n);
        self
    }
}

struct Inner {
    injections: Mutex<Vec<Injection>>,
    slow_routes: Mutex<Vec<SlowRoute>>,
    settings: Mutex<FaultSettings>,
    rng: Mutex<ChaCha8Rng>,
    /// One rolling window per host the request named: each Sophos region is its own host, and
    /// rate limits are per host.
    window: Mutex<HashMap<String, VecDeque<Instant>>>,
    counts: Mutex<RequestCounts>,
}

/// The knob set. Clone it freely; all clones share state.
#[derive(Clone)]
pub struct Faults {
    inner: Arc<Inner>,
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("settings", &self.settings())
            .finish()
    }
}

impl Default for Faults {
    fn default() -> Self {
        Self::new(0)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks cannot leave the data inconsistent: keep going.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

const WINDOW: Duration = Duration::from_secs(60);

impl Faults {
    /// All knobs off; `seed` drives the fault-rate RNG so runs are reproducible.
    pub fn new(seed: u64) -> Self {
        Self {
            inner: Arc::new(Inner {
                injections: Mutex::new(Vec::new()),
                slow_routes: Mutex::new(Vec::new()),
                settings: Mutex::new(FaultSettings::default()),
                rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed)),
                window: Mutex::new(HashMap::new()),
                counts: Mutex::new(RequestCounts::default()),
            }),
        }
    }

    /// The current knob values.
    pub fn settings(&self) -> FaultSettings {
        lock(&self.inner.settings).clone()
    }

    /// Changes several knobs at once.
    pub fn update(&self, f: impl FnOnce(&mut FaultSettings)) {
        f(&mut lock(&self.inner.settings));
    }

    /// Adds a per-route injected status (checked in the order added, after the rate limit).
    pub fn inject(&self, injection: Injection) {
        lock(&self.inner.injections).push(injection);
    }

    /// Removes every injected status.
    pub fn clear_injections(&self) {
        lock(&self.inner.injections).clear();
    }

    /// The first injection matching this request, consuming one of its uses.
    fn take_injection(&self, method: &Method, path: &str) -> Option<Injection> {
        let mut list = lock(&self.inner.injections);
        let i = list.iter().position(|inj| inj.matches(method, path))?;
        let found = list[i].clone();
        if let Some(n) = &mut list[i].remaining {
            *n = n.saturating_sub(1);
            if *n == 0 {
                list.remove(i);
            }
        }
        Some(found)
    }

    /// Adds a per-route commit delay (checked in the order added, before the global one).
    pub fn slow_route(&self, route: SlowRoute) {
        lock(&self.inner.slow_routes).push(route);
    }

    /// Removes every per-route commit delay (the global one stays).
    pub fn clear_slow_routes(&self) {
        lock(&self.inner.slow_routes).clear();
    }

    /// The per-route commit delays still in force, in the order added.
    pub fn slow_routes(&self) -> Vec<SlowRoute> {
        lock(&self.inner.slow_routes).clone()
    }

    /// The delay of the first slow route matching `path`, consuming one of its uses.
    fn take_slow_route(&self, path: &str) -> Option<Duration> {
        let path = path.to_ascii_lowercase();
        let mut list = lock(&self.inner.slow_routes);
        let i = list
            .iter()
            .position(|r| path.contains(&r.path_contains.to_ascii_lowercase()))?;
        let delay = list[i].delay;
        if let Some(n) = &mut list[i].remaining {
            *n = n.saturating_sub(1);
            if *n == 0 {
                list.remove(i);
            }
        }
        Some(delay)
    }

    /// Turns every knob off, injections and slow routes included (counters are kept).
    pub fn reset(&self) {
        lock(&self.inner.injections).clear();
        lock(&self.inner.slow_routes).clear();
        *lock(&self.inner.settings) = FaultSettings::default();
        lock(&self.inner.window).clear();
    }

    /// Adds `latency` to every request.
    pub fn set_latency(&self, latency: Duration) {
        self.update(|s| s.latency = latency);
    }

    /// Allows `per_minute` requests per rolling minute (`None`: unlimited). Resets the window.
    pub fn set_rate_limit(&self, per_minute: Option<u32>) {
        self.update(|s| s.rate_limit_per_minute = per_minute);
        lock(&self.inner.window).clear();
    }

    /// Fixes the `Retry-After` seconds of 429s (`None`: computed from the window).
    pub fn set_retry_after(&self, secs: Option<u64>) {
        self.update(|s| s.retry_after = secs);
    }

    /// Answers this fraction of requests with 500 (clamped to 0.0..=1.0).
    pub fn set_fault_rate(&self, rate: f64) {
        let rate = if rate.is_nan() {
            0.0
        } else {
            rate.clamp(0.0, 1.0)
        };
        self.update(|s| s.fault_rate = rate);
    }

    /// Successful POSTs wait `delay` after committing (`None`: off).
    pub fn set_slow_commit(&self, delay: Option<Duration>) {
        self.update(|s| s.slow_commit = delay);
    }

    /// A copy of the counters.
    pub fn counts(&self) -> RequestCounts {
        lock(&self.inner.counts).clone()
    }

    /// Wraps `router` (all of its routes) in the fault middleware.
    pub fn apply(&self, router: Router, responses: VendorResponses) -> Router {
        let state = MiddlewareState {
            faults: self.clone(),
            responses,
        };
        router.layer(middleware::from_fn_with_state(state, fault_middleware))
    }

    /// Returns `Some(retry_after)` when the request must be refused, else records it in `host`'s
    /// window.
    fn rate_check(&self, host: &str, limit: u32, fixed: Option<u64>) -> Option<u64> {
        let now = Instant::now();
        let mut windows = lock(&self.inner.window);
        let window = windows.entry(host.to_owned()).or_default();
        while window
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            window.pop_front();
        }
        if window.len() < limit as usize {
            window.push_back(now);
            return None;
        }
        let computed = window
            .front()
            .map(|t| {
                WINDOW
                    .saturating_sub(now.duration_since(*t))
                    .as_secs_f64()
                    .ceil() as u64
            })
            .unwrap_or(60)
            .max(1);
        Some(fixed.unwrap_or(computed))
    }

    fn roll_fault(&self, rate: f64) -> bool {
        rate > 0.0 && lock(&self.inner.rng).random_bool(rate.clamp(0.0, 1.0))
    }

    fn record(
        &self,
        method: &Method,
        (family, is_write): Route,
        status: StatusCode,
        f: impl FnOnce(&mut RequestCounts),
    ) {
        let mut c = lock(&self.inner.counts);
        c.total += 1;
        if is_write {
            c.writes += 1;
            if status.is_success() {
                c.successful_writes += 1;
            }
        }
        *c.by_method_status
            .entry(format!("{method} {}", status.as_u16()))
            .or_default() += 1;
        *c.by_family.entry(family).or_default() += 1;
        f(&mut c);
    }
}

#[derive(Clone)]
struct MiddlewareState {
    faults: Faults,
    responses: VendorResponses,
}

/// Every answer says whether a rate limit is enforced (`x-sandbox-rate-limit: off` or `N/min`), so
/// centralbridge's clients can skip their own pace when none is.
async fn fault_middleware(State(st): State<MiddlewareState>, req: Request, next: Next) -> Response {
    let limit = st.faults.settings().rate_limit_per_minute;
    let mut resp = faulted(st, req, next).await;
    let value = match limit {
        None => HeaderValue::from_static("off"),
        Some(n) => {
            HeaderValue::from_str(&format!("{n}/min")).unwrap_or(HeaderValue::from_static("on"))
        }
    };
    resp.headers_mut().insert(RATE_HEADER, value);
    resp
}

/// The header's name (the clients know it as `clientkit::EMULATOR_RATE_HEADER`; the emulators
/// share no code with them).
const RATE_HEADER: &str = "x-sandbox-rate-limit";

/// A request's route family (for the counters) and whether it writes.
type Route = (String, bool);

/// Whether a request changes the vendor's data: POST, PUT, PATCH and DELETE, except a POST to a
/// `…/search` route (ConnectWise's searches take their conditions in a POST body; they read).
fn is_write(method: &Method, path: &str) -> bool {
    match *method {
        Method::POST => !path.trim_end_matches('/').ends_with("/search"),
        Method::PUT | Method::PATCH | Method::DELETE => true,
        _ => false,
    }
}

async fn faulted(st: MiddlewareState, req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let route: Route = (
        (st.responses.family)(&method, req.uri().path()),
        is_write(&method, req.uri().path()),
    );
    let settings = st.faults.settings();
    if !settings.latency.is_zero() {
        tokio::time::sleep(settings.latency).await;
    }
    if let Some(limit) = settings.rate_limit_per_minute
        && let Some(retry_after) = st.faults.rate_check(
            req.headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .unwrap_or_default(),
            limit,
            settings.retry_after,
        )
    {
        let mut resp = (st.responses.rate_limited)(retry_after);
        *resp.status_mut() = StatusCode::TOO_MANY_REQUESTS;
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
        st.faults
            .record(&method, route, resp.status(), |c| c.rate_limited += 1);
        return resp;
    }
    if let Some(inj) = st.faults.take_injection(&method, req.uri().path()) {
        let mut resp = match inj.body {
            None => (st.responses.server_error)(),
            Some(body) => {
                let kind = if serde_json::from_str::<serde_json::Value>(&body).is_ok() {
                    "application/json"
                } else {
                    "text/html"
                };
                ([(header::CONTENT_TYPE, kind)], body).into_response()
            }
        };
        *resp.status_mut() = inj.status;
        st.faults
            .record(&method, route, resp.status(), |c| c.injected_faults += 1);
        return resp;
    }
    if st.faults.roll_fault(settings.fault_rate) {
        let mut resp = (st.responses.server_error)();
        *resp.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
        st.faults
            .record(&method, route, resp.status(), |c| c.injected_faults += 1);
        return resp;
    }
    let path = req.uri().path().to_owned();
    let resp = next.run(req).await;
    st.faults.record(&method, route, resp.status(), |_| {});
    if method == Method::POST
        && resp.status().is_success()
        && let Some(delay) = st.faults.take_slow_route(&path).or(settings.slow_commit)
    {
        tokio::time::sleep(delay).await;
    }
    resp.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn injections_match_method_and_path_and_run_out() {
        let f = Faults::new(1);
        f.inject(
            Injection::new("/Common/V1/alerts", 503)
                .method(Method::GET)
                .times(2),
        );
        assert!(
            f.take_injection(&Method::POST, "/common/v1/alerts")
                .is_none()
        );
        assert!(
            f.take_injection(&Method::GET, "/partner/v1/tenants")
                .is_none()
        );
        let got = f.take_injection(&Method::GET, "/common/v1/alerts");
        assert_eq!(got.map(|i| i.status), Some(StatusCode::SERVICE_UNAVAILABLE));
        assert!(
            f.take_injection(&Method::GET, "/common/v1/alerts")
                .is_some()
        );
        assert!(
            f.take_injection(&Method::GET, "/common/v1/alerts")
                .is_none()
        );
    }

    #[test]
    fn slow_routes_match_by_path_and_run_out() {
        let f = Faults::new(1);
        f.slow_route(SlowRoute::new("Service/Tickets", Duration::from_millis(700)).times(1));
        f.slow_route(SlowRoute::new("notes", Duration::from_millis(5)));
        assert_eq!(
            f.take_slow_route("/v2025_1/apis/3.0/procurement/catalog"),
            None
        );
        let ticket = "/v2025_1/apis/3.0/service/tickets";
        assert_eq!(f.take_slow_route(ticket), Some(Duration::from_millis(700)));
        assert_eq!(f.take_slow_route(ticket), None, "used up");
        assert_eq!(f.slow_routes().len(), 1);
        f.reset();
        assert!(f.slow_routes().is_empty());
    }

    #[test]
    fn rate_window_refuses_above_the_limit_per_host() {
        let f = Faults::new(1);
        let eu = "127.0.0.1:4001";
        assert_eq!(f.rate_check(eu, 2, None), None);
        assert_eq!(f.rate_check(eu, 2, None), None);
        let retry = f.rate_check(eu, 2, None).expect("third request refused");
        assert!((59..=60).contains(&retry), "{retry}");
        assert_eq!(f.rate_check(eu, 2, Some(30)), Some(30));
        // Another host (another Sophos region) has a window of its own.
        assert_eq!(f.rate_check("127.0.0.1:4002", 2, None), None);
    }

    #[test]
    fn fault_rate_is_deterministic_and_bounded() {
        let roll = |seed| {
            let f = Faults::new(seed);
            (0..1000).filter(|_| f.roll_fault(0.25)).count()
        };
        assert_eq!(roll(5), roll(5));
        let n = roll(5);
        assert!((150..350).contains(&n), "{n}");
        let f = Faults::new(1);
        assert!(!(0..100).any(|_| f.roll_fault(0.0)));
        f.set_fault_rate(7.0);
        assert_eq!(f.settings().fault_rate, 1.0);
    }
}
