//! Request counters for benchmarks and metrics.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use serde::Serialize;

/// A snapshot of what a [`crate::Client`] (and all its clones) has done so far.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    /// host (`name:port`) → HTTP status → responses.
    pub requests: BTreeMap<String, BTreeMap<u16, u64>>,
    /// Requests that got no HTTP answer (connect error, timeout…).
    pub transport_errors: u64,
    /// Attempts repeated after a 429/5xx/network error.
    pub retries: u64,
    /// Time slept before those retries (backoff or `Retry-After`).
    pub retry_wait: Duration,
    /// Of the retries, those that waited for a server `Retry-After`.
    pub retry_after_honoured: u64,
    /// Tokens fetched from the token endpoint.
    pub token_fetches: u64,
    /// Tokens thrown away because an API call answered 401.
    pub reauthentications: u64,
    /// Requests that had to wait for the per-host rate limiter.
    pub rate_limit_waits: u64,
    /// Time spent waiting for the per-host rate limiter, all requests together.
    pub rate_limit_wait: Duration,
}

impl Stats {
    /// HTTP answers received, all hosts and statuses together (transport errors are not counted).
    pub fn total_requests(&self) -> u64 {
        self.requests.values().flat_map(|m| m.values()).sum()
    }

    /// Responses with this status, all hosts together.
    pub fn count_status(&self, status: u16) -> u64 {
        self.requests.values().filter_map(|m| m.get(&status)).sum()
    }
}

#[derive(Default)]
pub(crate) struct StatsCell(Mutex<Stats>);

impl StatsCell {
    pub(crate) fn update(&self, f: impl FnOnce(&mut Stats)) {
        // A poisoned lock only means another thread panicked mid-update; counters stay usable.
        let mut g = self.0.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut g);
    }

    pub(crate) fn snapshot(&self) -> Stats {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}
