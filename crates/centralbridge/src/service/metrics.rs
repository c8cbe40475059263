//! Prometheus metrics, served on their own listener (never the dashboard's).
//!
//! - `centralbridge_sync_runs_total{job, outcome}`
//! - `centralbridge_vendor_requests_total{vendor, status}`
//! - `centralbridge_rate_limit_waits_total{vendor}`
//! - `centralbridge_alerts_ticketed_total`

use std::net::SocketAddr;

use axum::Router;
use axum::routing::get;
use metrics::counter;
use metrics_exporter_prometheus::PrometheusBuilder;
use tokio::net::TcpListener;

/// Installs the process's metrics recorder and serves `GET /metrics` on `listener` (which the
/// caller bound, so port 0 works and the address is known before anyone scrapes). The recorder is
/// process-wide: a second install in one process fails.
pub fn install(listener: TcpListener) -> Result<SocketAddr, String> {
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let handle = PrometheusBuilder::new()
        .install_recorder()
        .map_err(|e| e.to_string())?;
    describe();
    let app = Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                handle.run_upkeep();
                handle.render()
            }
        }),
    );
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            tracing::error!(error = %e, "the metrics listener stopped");
        }
    });
    Ok(addr)
}

fn describe() {
    metrics::describe_counter!(
        "centralbridge_sync_runs_total",
        "Sync runs by job and outcome"
    );
    metrics::describe_counter!(
        "centralbridge_vendor_requests_total",
        "Requests to the vendor APIs by vendor and HTTP status"
    );
    metrics::describe_counter!(
        "centralbridge_rate_limit_waits_total",
        "Times a request waited for the vendor's rate limit"
    );
    metrics::describe_counter!(
        "centralbridge_alerts_ticketed_total",
        "Sophos alerts that opened a ConnectWise ticket"
    );
    metrics::describe_gauge!(
        "centralbridge_usage_plans_pending",
        "Saved usage plans waiting for a person's approval"
    );
    metrics::describe_counter!(
        super::auth::FAILED_LOGINS_METRIC,
        "Refused dashboard logins, by reason (refused: wrong name or password, or disabled; throttled)"
    );
}

/// How many usage plans wait for approval now.
pub fn plans_pending(n: usize) {
    metrics::gauge!("centralbridge_usage_plans_pending").set(n as f64);
}

/// Counts one finished run of `job` with its `outcome` (`ok`, `partial`, `failed`, …).
pub fn sync_run(job: &'static str, outcome: &'static str) {
    counter!("centralbridge_sync_runs_total", "job" => job, "outcome" => outcome).increment(1);
}

/// Adds `n` requests to `vendor` answered with `status`; nothing when `n` is 0.
pub fn vendor_requests(vendor: &'static str, status: String, n: u64) {
    if n > 0 {
        counter!("centralbridge_vendor_requests_total", "vendor" => vendor, "status" => status)
            .increment(n);
    }
}

/// Adds `n` waits for `vendor`'s rate limit; nothing when `n` is 0.
pub fn rate_limit_waits(vendor: &'static str, n: u64) {
    if n > 0 {
        counter!("centralbridge_rate_limit_waits_total", "vendor" => vendor).increment(n);
    }
}

/// Adds `n` alerts that opened a ConnectWise ticket; nothing when `n` is 0.
pub fn alerts_ticketed(n: u64) {
    if n > 0 {
        counter!("centralbridge_alerts_ticketed_total").increment(n);
    }
}

/// Adds what a ConnectWise client did to the counters.
pub fn connectwise_stats(stats: &connectwise::Stats) {
    // Keys are "METHOD status" (or "METHOD transport"): count by status only.
    let mut by_status = std::collections::BTreeMap::<String, u64>::new();
    for (key, n) in &stats.by_status {
        let status = key.rsplit(' ').next().unwrap_or(key).to_owned();
        *by_status.entry(status).or_default() += n;
    }
    for (status, n) in by_status {
        vendor_requests("connectwise", status, n);
    }
}

/// Adds what a Sophos client did to the counters.
pub fn sophos_stats(stats: &sophos::Stats) {
    for per_status in stats.requests.values() {
        for (status, n) in per_status {
            vendor_requests("sophos", status.to_string(), *n);
        }
    }
    rate_limit_waits("sophos", stats.rate_limit_waits);
}
