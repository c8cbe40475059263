//! Typed client for the Sophos Central Partner APIs: client-credentials sign-in, whoami, tenants,
//! billing usage, Common alerts and alert actions.
//!
//! - Partner calls go to the global API with `X-Partner-ID`; tenant calls go to the tenant's `apiHost`
//!   exactly as returned, with `X-Tenant-ID` (never built from `dataRegion`).
//! - Lists are streamed page by page ([`futures::Stream`]).
//! - One token bucket per host, shared by every tenant and every clone of the [`Client`]; bounded
//!   concurrency; retries with backoff honouring `Retry-After`; one new sign-in after a 401.
//! - Errors are [`SophosError`], in plain English, never carrying a secret or token.

mod api;
mod auth;
pub mod config;
pub mod error;
mod facts;
mod http;
pub mod messages;
pub mod models;
mod stats;

use std::sync::Arc;

use url::Url;

pub use api::alerts::{AlertQuery, is_alert_category, is_alert_product, is_alert_severity};
pub use api::partner::UsageFilter;
pub use clientkit::{RateLimit, RetryPolicy};
pub use config::{
    DEFAULT_GLOBAL_URL, DEFAULT_REQUESTS_PER_MINUTE, DEFAULT_TOKEN_URL, PageSizes, SophosConfig,
    normalize_base_url,
};
pub use error::SophosError;
pub use facts::{OpenAlert, OpenAlertDevice, TenantSummary, UsageEvent, UsageLine};
pub use models::{
    ActionResult, Alert, AlertAction, ApiHosts, BillingType, Category, IdType, ManagedAgent,
    Product, Severity, Tenant, TenantRef, UsageItem, UsageMonth, WhoAmI,
};
pub use stats::Stats;

/// A signed-in Sophos Central Partner connection. Cheap to clone; clones share the token, the rate
/// limiter, the concurrency limit and the stats.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    t: Arc<http::Transport>,
    whoami: WhoAmI,
    /// Base of partner calls: `apiHosts.global` from whoami (normalised), else the configured URL.
    partner_base: Url,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("sophos::Client")
            .field("partner_id", &self.inner.whoami.id)
            .field("global", &self.inner.partner_base.as_str())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Signs in and calls whoami. Fails with [`SophosError::NotPartner`] unless `idType` is `partner`.
    pub async fn connect(cfg: SophosConfig) -> Result<Client, SophosError> {
        let t = http::Transport::new(cfg)?;
        let global = config::parse_base(&t.cfg.global_url)?;
        let whoami = api::partner::fetch_whoami(&t, &global).await?;
        match &whoami.id_type {
            Some(IdType::Partner) => {}
            other => {
                return Err(SophosError::NotPartner {
                    id_type: other
                        .as_ref()
                        .map(|i| i.as_str().to_string())
                        .unwrap_or_else(|| "unknown".to_string()),
                });
            }
        }
        let partner_base = choose_partner_base(global, whoami.api_hosts.global.as_deref());
        Ok(Client {
            inner: Arc::new(Inner {
                t,
                whoami,
                partner_base,
            }),
        })
    }

    /// The partner id (`X-Partner-ID`).
    pub fn partner_id(&self) -> &str {
        &self.inner.whoami.id
    }

    /// The whoami answer read at connect time.
    pub fn identity(&self) -> &WhoAmI {
        &self.inner.whoami
    }

    /// Base URL used for partner calls (normalised, no trailing slash).
    pub fn global_url(&self) -> &str {
        self.inner.partner_base.as_str().trim_end_matches('/')
    }

    /// Counters so far, for benchmarks and metrics.
    pub fn stats(&self) -> Stats {
        self.inner.t.stats.snapshot()
    }

    /// The configuration in use.
    pub fn config(&self) -> &SophosConfig {
        &self.inner.t.cfg
    }
}

/// Partner calls go to whoami's `apiHosts.global` (normalised), except that a plain-http value never
/// replaces a configured https URL (the published example shows `http://`), and an unreadable or
/// missing one keeps the configured URL.
fn choose_partner_base(configured: Url, from_whoami: Option<&str>) -> Url {
    match from_whoami.map(config::parse_base) {
        Some(Ok(u)) if !(configured.scheme() == "https" && u.scheme() != "https") => u,
        _ => configured,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        config::parse_base(s).unwrap()
    }

    #[test]
    fn partner_base_choice() {
        let prod = url("https://api.central.sophos.com");
        assert_eq!(
            choose_partner_base(prod.clone(), Some("http://api.central.sophos.com/")),
            prod
        );
        assert_eq!(
            choose_partner_base(prod.clone(), Some("https://api2.central.sophos.com/")).as_str(),
            "https://api2.central.sophos.com/"
        );
        assert_eq!(choose_partner_base(prod.clone(), None), prod);
        assert_eq!(choose_partner_base(prod.clone(), Some("::bad")), prod);
        let emu = url("http://127.0.0.1:9000");
        assert_eq!(
            choose_partner_base(emu, Some("http://127.0.0.1:9000/")).as_str(),
            "http://127.0.0.1:9000/"
        );
    }
}
