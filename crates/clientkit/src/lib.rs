//! What the ConnectWise and Sophos clients share, and nothing of either vendor: one retry policy
//! (which failures are retried, how long to wait, when to give up), `Retry-After` in both its
//! forms, and the HTTP client builder with its TLS crypto provider.
//!
//! Each client decides *whether* a failure may be retried (a POST that may have been applied
//! must not be sent blindly again); this crate decides *how*: [`Retries`] is one call's budget.

use std::sync::Once;
use std::time::{Duration, SystemTime};

use backon::{BackoffBuilder, ExponentialBuilder};

/// How a failed call is retried: exponential backoff with jitter between attempts, a server's
/// `Retry-After` honoured up to a cap.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// Total attempts per call, the first one included (1 = no retry).
    pub max_attempts: u32,
    /// First backoff delay when the server gives no `Retry-After`; it doubles each time.
    pub base_delay: Duration,
    /// Largest backoff delay.
    pub max_delay: Duration,
    /// Largest `Retry-After` worth sleeping for; a longer one ends the call with the vendor's
    /// rate-limit error, so the customer is deferred to the next run instead of the run stalling.
    pub max_retry_after: Duration,
    /// Random jitter on backoff delays (never on `Retry-After`), so parallel callers spread out.
    pub jitter: bool,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 6,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(30),
            max_retry_after: Duration::from_secs(30),
            jitter: true,
        }
    }
}

/// A server-asked wait at least this long is logged (at warn): the run is visibly waiting.
pub const LONG_WAIT: Duration = Duration::from_secs(5);

impl RetryPolicy {
    /// One attempt only (interactive checks such as the doctor, which report the first answer).
    pub fn none() -> Self {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The budget of one call.
    pub fn start(&self) -> Retries {
        Retries {
            max_attempts: self.max_attempts.max(1),
            max_retry_after: self.max_retry_after,
            backoff: Backoff::new(self),
            attempts: 0,
        }
    }
}

/// Successive backoff delays: `base, 2·base, 4·base…` capped at `max_delay`, with jitter.
#[derive(Debug)]
pub struct Backoff {
    inner: backon::ExponentialBackoff,
    max: Duration,
}

impl Backoff {
    /// The delays `policy` gives.
    pub fn new(policy: &RetryPolicy) -> Self {
        let max = policy.max_delay.max(policy.base_delay);
        let mut b = ExponentialBuilder::new()
            .with_min_delay(policy.base_delay)
            .with_max_delay(max)
            .with_factor(2.0)
            .without_max_times();
        if policy.jitter {
            b = b.with_jitter();
        }
        Backoff {
            inner: b.build(),
            max,
        }
    }

    /// The next delay.
    pub fn next_delay(&mut self) -> Duration {
        self.inner.next().unwrap_or(self.max).min(self.max)
    }
}

/// One call's attempts: count each with [`Retries::attempt`], and after a retryable failure ask
/// [`Retries::after_failure`] how long to wait, or whether to give up.
#[derive(Debug)]
pub struct Retries {
    max_attempts: u32,
    max_retry_after: Duration,
    backoff: Backoff,
    attempts: u32,
}

/// What to do after a failed attempt that may be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Sleep this long, then try again.
    Wait {
        /// How long.
        delay: Duration,
        /// The delay is the server's `Retry-After`, not our backoff.
        honoured_retry_after: bool,
    },
    /// Every attempt is spent.
    Exhausted,
    /// The server asked for a wait longer than the policy allows.
    WaitTooLong,
}

impl Retries {
    /// Counts an attempt about to be made; returns its number (1 for the first).
    pub fn attempt(&mut self) -> u32 {
        self.attempts += 1;
        self.attempts
    }

    /// Takes back the last attempt: it does not count against the budget (a new sign-in after a
    /// 401, a rediscovered codebase after a 404).
    pub fn forgive(&mut self) {
        self.attempts = self.attempts.saturating_sub(1);
    }

    /// Whether another attempt is allowed.
    pub fn may_retry(&self) -> bool {
        self.attempts < self.max_attempts
    }

    /// After a retryable failure: the server's `Retry-After` when it gave one, else the backoff.
    pub fn after_failure(&mut self, retry_after: Option<Duration>) -> Next {
        if !self.may_retry() {
            return Next::Exhausted;
        }
        match retry_after {
            Some(d) if d > self.max_retry_after => {
                tracing::warn!(
                    wait_s = d.as_secs_f64(),
                    cap_s = self.max_retry_after.as_secs_f64(),
                    "the server asked to wait longer than allowed (Retry-After); giving up this call"
                );
                Next::WaitTooLong
            }
            Some(d) => {
                if d >= LONG_WAIT {
                    tracing::warn!(
                        wait_s = d.as_secs_f64(),
                        "the server asked to wait before the next call (Retry-After); waiting"
                    );
                }
                Next::Wait {
                    delay: d,
                    honoured_retry_after: true,
                }
            }
            None => Next::Wait {
                delay: self.backoff.next_delay(),
                honoured_retry_after: false,
            },
        }
    }

    /// The next backoff delay, for waits that are not a retry of the same request (looking up
    /// whether an ambiguous POST committed).
    pub fn backoff_delay(&mut self) -> Duration {
        self.backoff.next_delay()
    }
}

/// Statuses worth retrying: 429 and the server errors that say "try again" (not 501).
pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// A response's `Retry-After`, in either form (RFC 9110 §10.2.3).
pub fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    parse_retry_after(headers.get(http::header::RETRY_AFTER)?.to_str().ok()?)
}

/// `Retry-After` as delta-seconds (the usual form; a fraction is tolerated) or as an HTTP date,
/// which is read against the local clock (a date already past means "now").
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    if let Ok(secs) = v.parse::<f64>()
        && secs.is_finite()
        && secs >= 0.0
    {
        return Some(Duration::from_secs_f64(secs));
    }
    let when = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let now = jiff::Timestamp::try_from(SystemTime::now()).ok()?;
    Some(Duration::try_from(when.duration_since(now)).unwrap_or(Duration::ZERO))
}

/// A `reqwest` client builder with TLS ready: rustls on the `ring` provider, installed once per
/// process (one provider for every client keeps the build free of a second crypto library).
pub fn http_client() -> reqwest::ClientBuilder {
    static PROVIDER: Once = Once::new();
    PROVIDER.call_once(|| {
        // Err means another part of the process installed one first; that one is used.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// A client's own pace toward one vendor host: at most so many requests per rolling minute, or
/// none. One rule for both clients, so a limit set in the config means the same thing for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// At most this many requests in any 60 s.
    PerMinute(std::num::NonZeroU32),
    /// No pace of our own (the server's 429 and `Retry-After` are still honoured).
    Off,
}

impl RateLimit {
    /// `n` requests a minute; 0 is taken as 1.
    pub fn per_minute(n: u32) -> Self {
        RateLimit::PerMinute(std::num::NonZeroU32::new(n).unwrap_or(std::num::NonZeroU32::MIN))
    }

    /// The token bucket that keeps under the limit in every rolling minute: a burst of a tenth of
    /// it, refilled at the rate that makes burst + one minute's refill equal the limit (a
    /// per-minute bucket with a full minute's burst would allow nearly twice the limit in the
    /// first minute). `None` when off.
    pub fn quota(self) -> Option<governor::Quota> {
        let RateLimit::PerMinute(n) = self else {
            return None;
        };
        let n = n.get();
        let burst = (n / 10).max(1);
        let refill = (n - burst).max(1);
        let period = Duration::from_secs_f64(60.0 / f64::from(refill));
        let burst = std::num::NonZeroU32::new(burst).unwrap_or(std::num::NonZeroU32::MIN);
        governor::Quota::with_period(period).map(|q| q.allow_burst(burst))
    }

    /// The least wall time `calls` requests take under this limit (the floor a benchmark is
    /// measured against); zero when off.
    pub fn floor(self, calls: u64) -> Duration {
        match self {
            RateLimit::Off => Duration::ZERO,
            RateLimit::PerMinute(n) => {
                let n = u64::from(n.get());
                let burst = (n / 10).max(1);
                let rest = calls.saturating_sub(burst);
                Duration::from_secs_f64(rest as f64 * 60.0 / (n - burst).max(1) as f64)
            }
        }
    }
}

impl std::fmt::Display for RateLimit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RateLimit::PerMinute(n) => write!(f, "{n} requests/min"),
            RateLimit::Off => f.write_str("no limit"),
        }
    }
}

/// The header centralbridge's own emulators send on every answer: `off` when they enforce no
/// rate limit (a client may then skip its own pace), else the limit. No vendor sends it.
pub const EMULATOR_RATE_HEADER: &str = "x-sandbox-rate-limit";

/// Whether an answer's headers say the server enforces no rate limit (see
/// [`EMULATOR_RATE_HEADER`]).
pub fn server_unlimited(headers: &http::HeaderMap) -> bool {
    headers
        .get(EMULATOR_RATE_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "off")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixed(base_ms: u64, max_ms: u64, attempts: u32) -> RetryPolicy {
        RetryPolicy {
            max_attempts: attempts,
            base_delay: Duration::from_millis(base_ms),
            max_delay: Duration::from_millis(max_ms),
            max_retry_after: Duration::from_secs(120),
            jitter: false,
        }
    }

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("5"), Some(Duration::from_secs(5)));
        assert_eq!(parse_retry_after(" 0 "), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("1.5"), Some(Duration::from_millis(1500)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
        assert_eq!(parse_retry_after("-3"), None);
    }

    #[test]
    fn retry_after_as_a_future_http_date() {
        let when = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(90);
        let text = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&when)
            .unwrap();
        let d = parse_retry_after(&text).expect("an HTTP date parses");
        assert!(
            d > Duration::from_secs(85) && d <= Duration::from_secs(90),
            "{d:?}"
        );
        let mut h = http::HeaderMap::new();
        h.insert(http::header::RETRY_AFTER, text.parse().unwrap());
        assert!(retry_after(&h).is_some());
    }

    #[test]
    fn backoff_doubles_and_caps() {
        let mut b = Backoff::new(&fixed(100, 700, 6));
        // backon multiplies in f32, so compare whole milliseconds.
        let d: Vec<u128> = (0..6).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(d, vec![100, 200, 400, 700, 700, 700]);
    }

    #[test]
    fn jitter_stays_within_double() {
        let mut p = fixed(100, 10_000, 6);
        p.jitter = true;
        let first = Backoff::new(&p).next_delay();
        assert!(first >= Duration::from_millis(100) && first <= Duration::from_millis(200));
    }

    #[test]
    fn a_call_gives_up_after_its_attempts() {
        let mut r = fixed(10, 100, 3).start();
        let mut waits = Vec::new();
        let made = loop {
            let n = r.attempt();
            match r.after_failure(None) {
                Next::Wait { delay, .. } => waits.push(delay.as_millis()),
                other => {
                    assert_eq!(other, Next::Exhausted);
                    break n;
                }
            }
        };
        assert_eq!(waits, vec![10, 20]);
        assert_eq!(made, 3);
    }

    #[test]
    fn retry_after_is_honoured_up_to_the_cap() {
        let mut r = fixed(10, 100, 6).start();
        r.attempt();
        assert_eq!(
            r.after_failure(Some(Duration::from_secs(3))),
            Next::Wait {
                delay: Duration::from_secs(3),
                honoured_retry_after: true
            }
        );
        r.attempt();
        assert_eq!(
            r.after_failure(Some(Duration::from_secs(121))),
            Next::WaitTooLong
        );
    }

    #[test]
    fn a_forgiven_attempt_does_not_count() {
        let mut r = fixed(10, 100, 1).start();
        r.attempt();
        r.forgive();
        assert!(r.may_retry());
        r.attempt();
        assert_eq!(r.after_failure(None), Next::Exhausted);
    }

    #[test]
    fn retryable_statuses() {
        for s in [429, 500, 502, 503, 504] {
            assert!(is_retryable_status(s));
        }
        for s in [400, 401, 403, 404, 409, 501] {
            assert!(!is_retryable_status(s));
        }
    }

    #[test]
    fn the_client_builds_with_tls() {
        http_client()
            .build()
            .expect("a client with the ring provider");
    }

    #[test]
    fn a_rate_limit_never_allows_more_than_its_minute() {
        use governor::{RateLimiter, clock::FakeRelativeClock};
        for n in [1u32, 10, 60, 900, 1000] {
            let clock = FakeRelativeClock::default();
            let q = super::RateLimit::per_minute(n).quota().unwrap();
            let lim = RateLimiter::direct_with_clock(q, clock.clone());
            // Try every 10 ms for two minutes; count what passes in each rolling minute.
            let mut passed: Vec<u64> = Vec::new();
            for step in 0..12_000u64 {
                if lim.check().is_ok() {
                    passed.push(step * 10);
                }
                clock.advance(Duration::from_millis(10));
            }
            for (i, t) in passed.iter().enumerate() {
                let in_minute = passed[i..].iter().take_while(|u| **u < t + 60_000).count();
                assert!(in_minute as u32 <= n, "{n}/min let {in_minute} through");
            }
            assert!(
                passed.len() as u32 >= n,
                "{n}/min is too slow: {}",
                passed.len()
            );
        }
        assert!(super::RateLimit::Off.quota().is_none());
        assert_eq!(super::RateLimit::Off.floor(1000), Duration::ZERO);
        let floor = super::RateLimit::per_minute(1000).floor(1100);
        assert!((floor.as_secs_f64() - 1000.0 * 60.0 / 900.0).abs() < 1e-6);
    }
}
