//! The emulator's state: credentials and tokens, the clock, tenants, billing index and alerts.

use super::alerts::{AlertStore, Closed, Generator, TenantCtx};
use super::billing::{self, LineRef};
use super::util::{hash_parts, hash_str, uuid_from_hash};
use super::{IdHeaderRejection, SophosConfig};
use crate::faults::Faults;
use crate::world::{BillingType, TenantSeed, World, strip_accents};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::{Duration, Instant};

/// Region codes the emulator serves, each on its own listener (its own origin, the `apiHost` of the
/// tenants in that region). With a fixed bind port P, they listen on P+1..=P+9 in this order.
pub(crate) const REGIONS: &[&str] = &[
    "us01", "us03", "eu01", "eu02", "ca01", "au01", "jp01", "br01", "in01",
];

/// A tenant as the emulator knows it.
#[derive(Debug)]
pub(crate) struct TenantInfo {
    /// Index into `world.customers`.
    pub customer: usize,
    pub ctx: TenantCtx,
    pub contact_email: String,
    pub organization_id: String,
}

#[derive(Debug, Clone, Copy)]
/// Tokens age in real time only, like the client's own renewal clock: emulated time is about alerts.
pub(crate) struct TokenInfo {
    issued: Instant,
}

/// One posted alert action, as tests see it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ActionLog {
    /// The tenant whose alert was acted on (its `X-Tenant-ID`).
    pub tenant_id: String,
    /// The alert's id, as in the request path.
    pub alert_id: String,
    /// The accepted action, e.g. `acknowledge` or `sendMsgThreat`; refused actions are not logged.
    pub action: String,
    /// The request's optional `message`; `None` when the body had none.
    pub message: Option<String>,
    /// Emulated time of the request, `2024-03-12T15:04:53.780`.
    pub requested_at: String,
}

/// The mutable part, behind one lock.
pub(crate) struct Inner {
    /// Emulated now, Unix milliseconds.
    pub now_ms: i64,
    /// `None` once the credential is revoked.
    pub client_secret: Option<String>,
    pub tokens: HashMap<String, TokenInfo>,
    pub refresh_tokens: HashMap<String, ()>,
    pub generator: Generator,
    pub store: AlertStore,
    pub forbidden: HashMap<usize, bool>,
    /// Billing types changed while running (the world's otherwise).
    pub billing: HashMap<usize, BillingType>,
    pub actions: Vec<ActionLog>,
}

/// Everything the handlers share.
pub(crate) struct Shared {
    pub world: Arc<World>,
    pub token_lifetime: Duration,
    pub token_success_extras: bool,
    pub id_header_rejection: IdHeaderRejection,
    pub ack_delay: Duration,
    pub client_id: String,
    pub tenants: Vec<TenantInfo>,
    pub tenant_index: HashMap<String, usize>,
    pub foreign: Vec<String>,
    pub lines: Vec<LineRef>,
    pub faults: Faults,
    /// `http://127.0.0.1:P`, set once bound.
    pub base: OnceLock<String>,
    /// Each region's origin, in [`REGIONS`] order, set once bound.
    pub regions: OnceLock<Vec<String>>,
    inner: Mutex<Inner>,
}

fn slug(name: &str) -> String {
    let s: String = strip_accents(name)
        .to_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let s: Vec<&str> = s.split('-').filter(|p| !p.is_empty()).collect();
    let joined = s.join("-");
    let clipped: String = joined.chars().take(30).collect();
    let clipped = clipped.trim_end_matches('-').to_owned();
    if clipped.is_empty() {
        String::from("customer")
    } else {
        clipped
    }
}

/// The contact email the billing `contactEmail` filter matches (the world has none, so it is derived).
fn contact_email(t: &TenantSeed) -> String {
    format!(
        "it-{}@{}.example.com",
        &t.id[..6.min(t.id.len())],
        slug(&t.name)
    )
}

/// The default emulated start: 09:00 UTC on the first day of the month after the usage anchor.
pub(crate) fn default_start_ms(world: &World) -> i64 {
    let (y, m) = world.config.usage_anchor;
    let (y, m) = if m >= 12 {
        (y.saturating_add(1), 1)
    } else {
        (y, m.max(0) + 1)
    };
    let date = jiff::civil::Date::new(y, m, 1).unwrap_or(jiff::civil::date(2026, 1, 1));
    jiff::tz::TimeZone::UTC
        .to_timestamp(date.to_datetime(jiff::civil::time(9, 0, 0, 0)))
        .map_or(0, jiff::Timestamp::as_millisecond)
}

impl Shared {
    pub(crate) fn new(cfg: &SophosConfig, faults: Faults) -> Self {
        let world = cfg.world.clone();
        let mut tenants = Vec::new();
        let mut tenant_index = HashMap::new();
        for (c, customer) in world.customers.iter().enumerate() {
            if let Some(t) = &customer.tenant {
                tenant_index.insert(t.id.clone(), tenants.len());
                tenants.push(TenantInfo {
                    customer: c,
                    ctx: TenantCtx::new(&t.id, &t.name, &t.devices),
                    contact_email: contact_email(t),
                    organization_id: uuid_from_hash(hash_parts(&[hash_str(&t.id), 0x0E6])),
                });
            }
        }
        let customers: Vec<usize> = tenants.iter().map(|t| t.customer).collect();
        let lines = billing::index_lines(&world, &customers, cfg.orphan_usage_lines);
        let foreign = (0..cfg.foreign_tenants)
            .map(|i| uuid_from_hash(hash_parts(&[cfg.seed, i as u64, 0xF0E])))
            .collect();
        let start_ms = cfg
            .start
            .map_or_else(|| default_start_ms(&world), jiff::Timestamp::as_millisecond);
        let backlog_ms = i64::try_from(cfg.alert_backlog.as_millis()).unwrap_or(0);
        let mut generator = Generator::new(
            cfg.seed,
            cfg.alert_rate,
            tenants.len(),
            start_ms - backlog_ms,
        );
        let mut store = AlertStore::new(tenants.len());
        generator.run_until(
            start_ms,
            &|t| tenants.get(t).map(|i: &TenantInfo| &i.ctx),
            &mut store,
        );
        let client_id = uuid_from_hash(hash_parts(&[cfg.seed, 0xC11E]));
        let secret = format!(
            "{:016x}{:016x}",
            hash_parts(&[cfg.seed, 0x5EC]),
            hash_parts(&[cfg.seed, 0x5ED])
        );
        Self {
            world,
            token_lifetime: cfg.token_lifetime,
            token_success_extras: cfg.token_success_extras,
            id_header_rejection: cfg.id_header_rejection,
            ack_delay: cfg.ack_delay,
            client_id,
            tenants,
            tenant_index,
            foreign,
            lines,
            faults,
            base: OnceLock::new(),
            regions: OnceLock::new(),
            inner: Mutex::new(Inner {
                now_ms: start_ms,
                client_secret: Some(secret),
                tokens: HashMap::new(),
                refresh_tokens: HashMap::new(),
                generator,
                store,
                forbidden: HashMap::new(),
                billing: HashMap::new(),
                actions: Vec::new(),
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, Inner> {
        // Handlers never leave the state half-updated across a panic point, so a poisoned lock is usable.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn base(&self) -> &str {
        self.base.get().map_or("", String::as_str)
    }

    /// The `apiHost` of a region: its own origin, e.g. `http://127.0.0.1:40123`.
    pub(crate) fn region_url(&self, region: &str) -> Option<String> {
        let i = REGIONS.iter().position(|r| *r == region)?;
        self.regions.get()?.get(i).cloned()
    }

    pub(crate) fn tenant_seed(&self, t: usize) -> Option<&TenantSeed> {
        let info = self.tenants.get(t)?;
        self.world.customers.get(info.customer)?.tenant.as_ref()
    }

    /// Tenant `t`'s billing type now: changed while running, else the world's.
    pub(crate) fn billing_of(&self, inner: &Inner, t: usize) -> Option<BillingType> {
        inner
            .billing
            .get(&t)
            .copied()
            .or_else(|| self.tenant_seed(t).map(|s| s.billing))
    }

    /// Whether the partner may read tenant `t`'s alerts (its billing type, unless overridden).
    pub(crate) fn alerts_readable(&self, inner: &Inner, t: usize) -> bool {
        match inner.forbidden.get(&t) {
            Some(forbidden) => !forbidden,
            None => self
                .billing_of(inner, t)
                .is_some_and(BillingType::alerts_readable),
        }
    }

    /// Moves emulated time forward by `d`, running the generator.
    pub(crate) fn advance(&self, d: Duration) {
        let mut inner = self.lock();
        let ms = i64::try_from(d.as_millis()).unwrap_or(i64::MAX / 4);
        let to = inner.now_ms.saturating_add(ms);
        let Inner {
            generator, store, ..
        } = &mut *inner;
        generator.run_until(to, &|t| self.tenants.get(t).map(|i| &i.ctx), store);
        inner.now_ms = to;
    }

    /// Issues an access token and a refresh token.
    pub(crate) fn issue_token(&self, inner: &mut Inner) -> (String, String) {
        let access = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let refresh = uuid::Uuid::new_v4().simple().to_string();
        inner.tokens.insert(
            access.clone(),
            TokenInfo {
                issued: Instant::now(),
            },
        );
        inner.refresh_tokens.insert(refresh.clone(), ());
        (access, refresh)
    }

    /// Whether `token` is known and unexpired.
    pub(crate) fn token_valid(&self, inner: &Inner, token: &str) -> bool {
        inner
            .tokens
            .get(token)
            .is_some_and(|t| t.issued.elapsed() < self.token_lifetime)
    }

    /// Closes an alert now, or after the acknowledgement delay.
    pub(crate) fn close_alert(&self, inner: &mut Inner, tenant: usize, id: &str, why: Closed) {
        if why == Closed::Acknowledged && !self.ack_delay.is_zero() {
            let ms = i64::try_from(self.ack_delay.as_millis()).unwrap_or(i64::MAX / 4);
            let at = inner.now_ms.saturating_add(ms);
            inner
                .generator
                .schedule_close(tenant, id.to_owned(), why, at);
        } else {
            let now = inner.now_ms;
            inner.store.close(id, why, now);
        }
    }
}
