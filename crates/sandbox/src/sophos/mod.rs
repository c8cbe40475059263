//! The Sophos Central Partner emulator.
//!
//! The roles of reference §2, each at its own origin as in production:
//!
//! | Role | URL |
//! |---|---|
//! | identity (token) | `{base}/api/v2/oauth2/token` |
//! | global API (whoami, tenants, billing) | `{base}` (whoami's `apiHosts.global`) |
//! | regional API host of `eu01`, … | a listener of its own, e.g. `http://127.0.0.1:40123` (each tenant's `apiHost`, a bare origin) |
//!
//! Every region in the emulator's region list has its own listener and port, serving `/common/v1/...`
//! and `/siem/v1/...` at its root; [`SophosConfig::bind`] says how the ports are chosen. Tenant
//! endpoints answer only on their tenant's own region origin. A call on another region's origin, or on
//! the global one, answers **403** `forbidden` (the tenant's data is not on that host; a 403 keeps a
//! client from mistaking it for "alert gone", which a 404 would mean). One [`Faults`] covers every
//! listener: latency, rate limit, injections, random 500s and the counters.
//!
//! Access rules: missing/unknown/expired token → 401 `notAuthorized`; missing or wrong `X-Partner-ID` /
//! missing `X-Tenant-ID` → 401 by default ([`IdHeaderRejection`] makes it 400 or 403, uncertainty 3);
//! an `X-Tenant-ID` that is not one of the partner's tenants, or a term-without-assistance or trial
//! tenant ([`SophosEmulator::set_forbidden`] overrides), → 403 `forbidden`.
//!
//! Paging limits: tenants `pageSize` 1..=100, billing 1..=1000, alerts 1..=1000 (default 50 each);
//! outside answers 400 `badRequest`. Alerts are sorted by `raisedAt` ascending unless `sort` says
//! otherwise; their `nextKey` is a number (like the real ones) that stays valid when alerts go away.
//!
//! SIEM: `/siem/v1/alerts` and `/siem/v1/events` page by cursor (`limit` 1..=1000, default 200;
//! `from_date` within the last 24 hours; an older cursor falls back to 24 hours ago). Events are
//! derived from the alert history (a raise, and the end of each cleared or acknowledged alert, as
//! Sophos event types), so the feed moves with the clock; `exclude_types` leaves types out. Sophos's
//! own SIEM script (`siem.py`) reads both feeds.
//!
//! Time: the emulator has its own clock ([`SophosEmulator::now`]). With [`ClockMode::Manual`] it moves
//! only through [`SophosEmulator::advance`], so a seed and a sequence of calls give byte-identical alerts;
//! with [`ClockMode::Realtime`] a ticker moves it at a speed factor (the demo). Tokens age in real time
//! only (the clock a client renews by): for "token expired mid-run" use a short
//! [`SophosConfig::token_lifetime`] or [`SophosEmulator::expire_tokens`].

mod alerts;
mod billing;
mod events;
mod messages;
mod routes;
mod state;
mod util;
pub mod wire;

pub use alerts::{AlertKind, AlertSpec, Closed};
pub use routes::{ALERTS_MAX_PAGE, BILLING_MAX_PAGE, DEFAULT_PAGE, TENANTS_MAX_PAGE};
pub use state::ActionLog;
pub use wire::Alert;

use crate::faults::{Faults, RequestCounts, VendorResponses};
use crate::tls::{self, ServeError, ServerHandle, SharedTls, TlsConfig};
use crate::world::{BillingType, World};
use secrecy::SecretString;
use state::Shared;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// What a missing or wrong `X-Partner-ID`, or a missing `X-Tenant-ID`, answers (reference uncertainty 3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum IdHeaderRejection {
    /// 401 `notAuthorized`, as Sophos's article says.
    #[default]
    Unauthorized,
    /// 400 `badRequest`, as some third-party write-ups say.
    BadRequest,
    /// 403 `forbidden`.
    Forbidden,
}

/// How the emulated clock moves.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ClockMode {
    /// Only [`SophosEmulator::advance`] moves it: deterministic.
    #[default]
    Manual,
    /// A background ticker moves it `speed` times faster than real time (e.g. 60.0: an hour a minute).
    Realtime {
        /// Emulated seconds per real second; not positive or not finite leaves the clock manual.
        speed: f64,
    },
}

/// Emulator settings. Build with [`SophosConfig::new`] and change fields.
#[derive(Debug, Clone)]
pub struct SophosConfig {
    /// The MSP to serve.
    pub world: Arc<World>,
    /// Seed of the alert generator, the credentials, foreign tenant ids and the fault RNG.
    pub seed: u64,
    /// Address of the global listener (token, whoami, tenants, billing); default `127.0.0.1:0`. The
    /// regions listen on the same IP: with port 0 each region gets a free port of its own; with a
    /// fixed port P they get P+1..=P+9, one per region in the order `us01, us03, eu01, eu02, ca01,
    /// au01, jp01, br01, in01` (so P+1..=P+9 must be free too).
    pub bind: SocketAddr,
    /// Serve HTTPS with a fresh self-signed certificate whose PEM is written here.
    pub https_cert_path: Option<PathBuf>,
    /// Access token lifetime (`expires_in`); default 3600 s.
    pub token_lifetime: Duration,
    /// Add `errorCode:"success"`, `message:"OK"`, `trackingId` to token successes (uncertainty 1).
    pub token_success_extras: bool,
    /// See [`IdHeaderRejection`].
    pub id_header_rejection: IdHeaderRejection,
    /// Generated alerts per tenant per hour of emulated time; 0 turns the generator off.
    pub alert_rate: f64,
    /// Emulated time the generator runs before the start, so tenants begin with open alerts.
    pub alert_backlog: Duration,
    /// Emulated start time; default 09:00 UTC on the first day of the month after the world's usage
    /// anchor (deterministic). The CLI and demo pass `Some(Timestamp::now())`.
    pub start: Option<jiff::Timestamp>,
    /// How the emulated clock moves; default [`ClockMode::Manual`].
    pub clock: ClockMode,
    /// Emulated time between an accepted `acknowledge` and the alert leaving the list; default 0.
    pub ack_delay: Duration,
    /// Billing lines without `accountId` (device subscriptions not tied to a tenant) in every month.
    pub orphan_usage_lines: usize,
    /// Tenant ids of another partner that answer 403 ([`SophosEmulator::foreign_tenant_ids`]).
    pub foreign_tenants: usize,
}

impl SophosConfig {
    /// Defaults for `world`: seed from the world, 3600 s tokens, 0.2 alerts per tenant-hour, a 24 h
    /// backlog, manual clock, two orphan usage lines, two foreign tenants, plain HTTP on a free port.
    pub fn new(world: Arc<World>) -> Self {
        let seed = world.config.seed;
        Self {
            world,
            seed,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            https_cert_path: None,
            token_lifetime: Duration::from_secs(3600),
            token_success_extras: false,
            id_header_rejection: IdHeaderRejection::default(),
            alert_rate: 0.2,
            alert_backlog: Duration::from_secs(24 * 3600),
            start: None,
            clock: ClockMode::Manual,
            ack_delay: Duration::ZERO,
            orphan_usage_lines: 2,
            foreign_tenants: 2,
        }
    }
}

/// Errors starting the emulator.
#[derive(Debug, thiserror::Error)]
pub enum SophosError {
    /// The server could not start (certificate, bind or TLS setup failed).
    #[error("could not start the Sophos emulator: {0}")]
    Serve(#[from] ServeError),
    /// A state call named a tenant id the world does not have.
    #[error("the emulator has no tenant {0}")]
    UnknownTenant(String),
}

/// The API credential the emulator accepts. The secret is redacted in `Debug`.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// The OAuth2 `client_id` the token endpoint accepts.
    pub client_id: String,
    /// The OAuth2 `client_secret`; empty after [`SophosEmulator::revoke_secret`].
    pub client_secret: SecretString,
}

/// An alert with its closing state, for assertions and determinism checks.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AlertRecord {
    /// The alert as the API serves (or served) it.
    pub alert: Alert,
    /// `None` while listed.
    pub closed: Option<Closed>,
}

/// A running emulator. Cheap to clone; all clones drive the same servers.
#[derive(Clone)]
pub struct SophosEmulator {
    shared: Arc<Shared>,
    /// The global listener first, then one per region in [`state::REGIONS`] order; empty once shut
    /// down.
    servers: Arc<Mutex<Vec<ServerHandle>>>,
    ticker: Arc<Mutex<Option<tokio::task::JoinHandle<()>>>>,
    base: String,
}

impl std::fmt::Debug for SophosEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SophosEmulator")
            .field("base", &self.base)
            .finish_non_exhaustive()
    }
}

impl SophosEmulator {
    /// Generates the state (alert backlog included), binds the global and the regional listeners,
    /// and serves in the background.
    pub async fn spawn(cfg: SophosConfig) -> Result<Self, SophosError> {
        let faults = Faults::new(cfg.seed);
        let shared = Arc::new(Shared::new(&cfg, faults.clone()));
        let responses = VendorResponses::new(routes::rate_limited, routes::server_error)
            .with_family(routes::family);
        let tls = match &cfg.https_cert_path {
            Some(path) => Some(SharedTls::generate(&TlsConfig::new(path)).await?),
            None => None,
        };
        let mut listeners = vec![(routes::router(shared.clone()), cfg.bind)];
        for (region, addr) in state::REGIONS.iter().zip(region_addrs(cfg.bind)?) {
            listeners.push((routes::region_router(shared.clone(), region), addr));
        }
        let mut servers = Vec::with_capacity(listeners.len());
        for (router, addr) in listeners {
            let router = faults.apply(router, responses.clone());
            match tls::serve_shared(router, addr, tls.as_ref()).await {
                Ok(server) => servers.push(server),
                Err(e) => {
                    for s in servers {
                        s.shutdown().await;
                    }
                    return Err(e.into());
                }
            }
        }
        let base = servers[0].base_url();
        // Nobody knows the ports before `spawn` returns, so no request can see them unset.
        let _ = shared.base.set(base.clone());
        let _ = shared
            .regions
            .set(servers[1..].iter().map(ServerHandle::base_url).collect());
        let ticker = match cfg.clock {
            ClockMode::Realtime { speed } if speed > 0.0 && speed.is_finite() => {
                let sh = shared.clone();
                Some(tokio::spawn(async move {
                    let mut tick = tokio::time::interval(Duration::from_millis(250));
                    let mut last = tokio::time::Instant::now();
                    loop {
                        tick.tick().await;
                        let now = tokio::time::Instant::now();
                        sh.advance((now - last).mul_f64(speed));
                        last = now;
                    }
                }))
            }
            _ => None,
        };
        Ok(Self {
            shared,
            servers: Arc::new(Mutex::new(servers)),
            ticker: Arc::new(Mutex::new(ticker)),
            base,
        })
    }

    /// `http://127.0.0.1:P/api/v2/oauth2/token`.
    pub fn token_url(&self) -> String {
        format!("{}/api/v2/oauth2/token", self.base)
    }

    /// `http://127.0.0.1:P`: the global API (whoami's `apiHosts.global`).
    pub fn global_url(&self) -> String {
        self.base.clone()
    }

    /// The `apiHost` of a region code: that region's own origin, e.g. `http://127.0.0.1:40123`;
    /// `None` for a code the emulator does not serve.
    pub fn region_url(&self, region: &str) -> Option<String> {
        self.shared.region_url(region)
    }

    /// Every region's origin, `(code, URL)` in the emulator's region order.
    pub fn region_urls(&self) -> Vec<(String, String)> {
        state::REGIONS
            .iter()
            .filter_map(|r| Some(((*r).to_owned(), self.shared.region_url(r)?)))
            .collect()
    }

    /// The `apiHost` the tenant list gives for `tenant_id`.
    pub fn tenant_api_host(&self, tenant_id: &str) -> Option<String> {
        let t = *self.shared.tenant_index.get(tenant_id)?;
        self.shared.region_url(self.shared.tenant_seed(t)?.region)
    }

    /// Where the HTTPS certificate PEM was written (HTTPS only; every listener serves it).
    pub fn cert_path(&self) -> Option<PathBuf> {
        self.servers_lock()
            .first()
            .and_then(|s| s.cert_path().map(Path::to_path_buf))
    }

    /// The credential the token endpoint accepts (until rotated or revoked).
    pub fn credentials(&self) -> Credentials {
        let secret = self.shared.lock().client_secret.clone().unwrap_or_default();
        Credentials {
            client_id: self.shared.client_id.clone(),
            client_secret: SecretString::from(secret),
        }
    }

    /// Replaces the secret: the old one and every issued token stop working. Returns the new secret.
    pub fn rotate_secret(&self) -> SecretString {
        let mut inner = self.shared.lock();
        let secret = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        inner.client_secret = Some(secret.clone());
        inner.tokens.clear();
        inner.refresh_tokens.clear();
        SecretString::from(secret)
    }

    /// Deletes the credential: no secret works any more and issued tokens answer 401.
    pub fn revoke_secret(&self) {
        let mut inner = self.shared.lock();
        inner.client_secret = None;
        inner.tokens.clear();
        inner.refresh_tokens.clear();
    }

    /// Makes every issued access token expired (refresh tokens and the secret still work).
    pub fn expire_tokens(&self) {
        self.shared.lock().tokens.clear();
    }

    /// The partner id (whoami `id`, the `X-Partner-ID` value).
    pub fn partner_id(&self) -> String {
        self.shared.world.partner_id.clone()
    }

    /// The world served.
    pub fn world(&self) -> &Arc<World> {
        &self.shared.world
    }

    /// The fault knobs (latency, 429 with `Retry-After`, 500 rate) and request counters.
    pub fn faults(&self) -> &Faults {
        &self.shared.faults
    }

    /// The request counters; families are `token`, `whoami`, `tenants`, `billing`, `alerts`,
    /// `alerts/search`, `alerts/actions`, `siem` (both feeds), `other`.
    pub fn request_counts(&self) -> RequestCounts {
        self.shared.faults.counts()
    }

    /// The emulated time now.
    pub fn now(&self) -> jiff::Timestamp {
        jiff::Timestamp::from_millisecond(self.shared.lock().now_ms)
            .unwrap_or(jiff::Timestamp::UNIX_EPOCH)
    }

    /// Moves emulated time forward by `d`: the generator raises and clears alerts due in between, and
    /// delayed acknowledgements complete. Tokens are not affected (they age in real time).
    pub fn advance(&self, d: Duration) {
        self.shared.advance(d);
    }

    /// Tenant ids of another partner: partner and tenant calls about them answer 403.
    pub fn foreign_tenant_ids(&self) -> Vec<String> {
        self.shared.foreign.clone()
    }

    /// The contact email the billing `contactEmail` filter matches for `tenant_id`.
    pub fn contact_email(&self, tenant_id: &str) -> Option<String> {
        let t = *self.shared.tenant_index.get(tenant_id)?;
        Some(self.shared.tenants.get(t)?.contact_email.clone())
    }

    /// Changes the tenant's billing type, as when a customer moves to a trial or a term licence
    /// (with or without Partner Assistance) and back: the tenant list shows it (`term` for both term
    /// kinds) and its alerts answer 403 for a trial or a term without Partner Assistance. Clears a
    /// [`SophosEmulator::set_forbidden`] override, so the billing type decides. Usage lines stay the
    /// world's.
    pub fn set_billing(&self, tenant_id: &str, billing: BillingType) -> Result<(), SophosError> {
        let t = self.tenant_pos(tenant_id)?;
        let mut inner = self.shared.lock();
        inner.forbidden.remove(&t);
        inner.billing.insert(t, billing);
        Ok(())
    }

    /// Billing types changed with [`SophosEmulator::set_billing`], `(tenant id, type)` in tenant order.
    pub fn billing_overrides(&self) -> Vec<(String, BillingType)> {
        let inner = self.shared.lock();
        let mut out: Vec<_> = inner.billing.iter().map(|(t, b)| (*t, *b)).collect();
        out.sort_unstable_by_key(|(t, _)| *t);
        out.into_iter()
            .map(|(t, b)| (self.shared.tenants[t].ctx.id.clone(), b))
            .collect()
    }

    /// Acknowledges an alert as a person in Sophos Central would (not through the API, so it is not
    /// in [`SophosEmulator::actions`]): it leaves the list at once, or after
    /// [`SophosConfig::ack_delay`] as after the API's `acknowledge`. Returns whether it was listed.
    pub fn acknowledge_alert(&self, tenant_id: &str, alert_id: &str) -> bool {
        let Ok(t) = self.tenant_pos(tenant_id) else {
            return false;
        };
        let mut inner = self.shared.lock();
        match inner.store.get(alert_id) {
            Some(s) if s.closed.is_none() && s.alert.tenant.id == self.shared.tenants[t].ctx.id => {
                self.shared
                    .close_alert(&mut inner, t, alert_id, Closed::Acknowledged);
                true
            }
            _ => false,
        }
    }

    /// Makes the partner's calls on this tenant's alerts answer 403 (`true`) or succeed (`false`),
    /// whatever its billing type says.
    pub fn set_forbidden(&self, tenant_id: &str, forbidden: bool) -> Result<(), SophosError> {
        let t = self.tenant_pos(tenant_id)?;
        self.shared.lock().forbidden.insert(t, forbidden);
        Ok(())
    }

    /// Raises an alert now (or at `spec.raised_at`); returns its id.
    pub fn inject_alert(&self, tenant_id: &str, spec: AlertSpec) -> Result<String, SophosError> {
        let t = self.tenant_pos(tenant_id)?;
        let ctx = &self.shared.tenants[t].ctx;
        let mut inner = self.shared.lock();
        let state::Inner {
            generator,
            store,
            now_ms,
            ..
        } = &mut *inner;
        Ok(generator.inject(t, *now_ms, &spec, ctx, store))
    }

    /// Clears an alert as if the problem went away; returns whether it was listed.
    pub fn clear_alert(&self, tenant_id: &str, alert_id: &str) -> bool {
        let Ok(t) = self.tenant_pos(tenant_id) else {
            return false;
        };
        let mut inner = self.shared.lock();
        let now = inner.now_ms;
        match inner.store.get(alert_id) {
            Some(s) if s.alert.tenant.id == self.shared.tenants[t].ctx.id => {
                inner.store.close(alert_id, Closed::Cleared, now)
            }
            _ => false,
        }
    }

    /// The tenant's listed (open) alerts, oldest first, as the API serves them.
    pub fn alerts(&self, tenant_id: &str) -> Vec<Alert> {
        self.alert_log(tenant_id)
            .into_iter()
            .filter(|r| r.closed.is_none())
            .map(|r| r.alert)
            .collect()
    }

    /// Every alert the tenant ever had, in raise order, with its closing state.
    pub fn alert_log(&self, tenant_id: &str) -> Vec<AlertRecord> {
        let Ok(t) = self.tenant_pos(tenant_id) else {
            return Vec::new();
        };
        let inner = self.shared.lock();
        let mut list: Vec<_> = inner.store.by_tenant[t].iter().collect();
        list.sort_by_key(|s| (s.raised_ms, s.seq));
        list.into_iter()
            .map(|s| AlertRecord {
                alert: s.alert.clone(),
                closed: s.closed.map(|c| c.0),
            })
            .collect()
    }

    /// Every alert of every tenant, tenants in world order (determinism checks).
    pub fn all_alerts(&self) -> Vec<AlertRecord> {
        self.shared
            .tenants
            .iter()
            .flat_map(|t| self.alert_log(&t.ctx.id))
            .collect()
    }

    /// Every action posted, in order.
    pub fn actions(&self) -> Vec<ActionLog> {
        self.shared.lock().actions.clone()
    }

    /// Ids of the alerts acknowledged through the API, in order.
    pub fn acknowledged(&self) -> Vec<String> {
        self.shared
            .lock()
            .actions
            .iter()
            .filter(|a| a.action == "acknowledge")
            .map(|a| a.alert_id.clone())
            .collect()
    }

    /// Stops the ticker and every listener.
    pub async fn shutdown(self) {
        if let Some(t) = self
            .ticker
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
        {
            t.abort();
        }
        let servers = std::mem::take(&mut *self.servers_lock());
        for s in servers {
            s.shutdown().await;
        }
    }

    fn servers_lock(&self) -> std::sync::MutexGuard<'_, Vec<ServerHandle>> {
        self.servers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn tenant_pos(&self, tenant_id: &str) -> Result<usize, SophosError> {
        self.shared
            .tenant_index
            .get(tenant_id)
            .copied()
            .ok_or_else(|| SophosError::UnknownTenant(tenant_id.to_owned()))
    }
}

/// The regions' addresses for a global bind address (see [`SophosConfig::bind`]).
fn region_addrs(bind: SocketAddr) -> Result<Vec<SocketAddr>, ServeError> {
    (1..=state::REGIONS.len())
        .map(|i| {
            if bind.port() == 0 {
                return Ok(bind);
            }
            let port = u16::try_from(i)
                .ok()
                .and_then(|i| bind.port().checked_add(i))
                .ok_or_else(|| ServeError::Bind {
                    addr: bind,
                    source: std::io::Error::new(
                        std::io::ErrorKind::InvalidInput,
                        "the regions need the nine ports after the Sophos port; choose a lower port or 0",
                    ),
                })?;
            Ok(SocketAddr::new(bind.ip(), port))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_ports_follow_a_fixed_port_and_stay_free_for_port_zero() {
        let fixed = region_addrs("127.0.0.1:40100".parse().unwrap()).unwrap();
        let ports: Vec<u16> = fixed.iter().map(SocketAddr::port).collect();
        assert_eq!(ports, (40101..=40109).collect::<Vec<_>>());
        let free = region_addrs("127.0.0.1:0".parse().unwrap()).unwrap();
        assert!(free.iter().all(|a| a.port() == 0) && free.len() == 9);
        assert!(region_addrs("127.0.0.1:65530".parse().unwrap()).is_err());
    }
}
