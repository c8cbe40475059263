//! The alert catalogue and the deterministic alert generator.
//!
//! Each tenant has its own random stream (seeded from the emulator seed and the tenant's position) and
//! one pending "raise" event; clears are further events. Events are processed in (time, class, tenant,
//! sequence) order, and a tenant's stream is only drawn from by its own raises, so the result of reaching
//! a given emulated time does not depend on how time was advanced (one hour at once or sixty minutes).

use super::util::{hash_parts, hash_str, mix, uuid_from_hash};
use super::wire::{Alert, AlertTenant, ManagedAgent, Person};
use base64::Engine as _;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

/// The kinds of alert the generator raises, with their Sophos type, category, product and severity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum AlertKind {
    /// `Event::Endpoint::OutOfDate`, updating, medium; often clears once the computer updates.
    EndpointOutOfDate,
    /// `Event::Server::OutOfDate`, updating, medium, on a server.
    ServerOutOfDate,
    /// `Event::Endpoint::UpdateFailure`, updating, low.
    UpdateFailure,
    /// `Event::Endpoint::UpdateRebootRequired`, updating, medium.
    RebootRequired,
    /// `Event::Endpoint::RealTimeProtectionDisabled`, protection, high.
    RealTimeProtectionDisabled,
    /// `Event::Endpoint::Threat::Detected`, malware, high; actions `cleanVirus`, `clearThreat`.
    ThreatDetected,
    /// `Event::Endpoint::CorePuaDetection`, pua, medium; actions `cleanPua`, `authPua`.
    PuaDetected,
    /// `Event::Endpoint::HealthStatus`, systemHealth, medium (services not running).
    HealthStatus,
    /// `Event::Endpoint::Isolation`, isolation, high.
    Isolation,
    /// `Event::Endpoint::NonCompliant`, policy, medium.
    PolicyNonCompliance,
    /// `Event::Endpoint::CoreHmpa`, runtimeDetections, high; action `clearHmpa`.
    RuntimeDetection,
    /// `Event::Firewall::LostConnectionToSophosCentral`, connectivity, firewall, high; no device.
    FirewallDisconnected,
    /// `Event::Other::LicenseLimitExceeded`, general, other, low; no device.
    LicenceLimit,
}

/// Which device an alert kind is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Target {
    Computer,
    Server,
    AnyDevice,
    NoDevice,
}

/// How an alert kind clears by itself: `percent` of them, after `min..=max` minutes of emulated time.
#[derive(Debug, Clone, Copy)]
struct ClearRule {
    percent: u32,
    min_minutes: u32,
    max_minutes: u32,
}

struct KindDef {
    kind: AlertKind,
    type_name: &'static str,
    category: &'static str,
    severity: &'static str,
    actions: &'static [&'static str],
    target: Target,
    /// Relative frequency among generated alerts.
    weight: u32,
    clear: Option<ClearRule>,
}

const fn clear(percent: u32, min_minutes: u32, max_minutes: u32) -> Option<ClearRule> {
    Some(ClearRule {
        percent,
        min_minutes,
        max_minutes,
    })
}

const ACK: &[&str] = &["acknowledge"];

const CATALOGUE: &[KindDef] = &[
    KindDef {
        kind: AlertKind::EndpointOutOfDate,
        type_name: "Event::Endpoint::OutOfDate",
        category: "updating",
        severity: "medium",
        actions: ACK,
        target: Target::Computer,
        weight: 14,
        clear: clear(70, 60, 720),
    },
    KindDef {
        kind: AlertKind::ServerOutOfDate,
        type_name: "Event::Server::OutOfDate",
        category: "updating",
        severity: "medium",
        actions: ACK,
        target: Target::Server,
        weight: 5,
        clear: clear(70, 60, 720),
    },
    KindDef {
        kind: AlertKind::UpdateFailure,
        type_name: "Event::Endpoint::UpdateFailure",
        category: "updating",
        severity: "low",
        actions: ACK,
        target: Target::AnyDevice,
        weight: 10,
        clear: clear(80, 30, 360),
    },
    KindDef {
        kind: AlertKind::RebootRequired,
        type_name: "Event::Endpoint::UpdateRebootRequired",
        category: "updating",
        severity: "medium",
        actions: ACK,
        target: Target::AnyDevice,
        weight: 8,
        clear: clear(60, 120, 1440),
    },
    KindDef {
        kind: AlertKind::RealTimeProtectionDisabled,
        type_name: "Event::Endpoint::RealTimeProtectionDisabled",
        category: "protection",
        severity: "high",
        actions: ACK,
        target: Target::Computer,
        weight: 5,
        clear: clear(50, 60, 480),
    },
    KindDef {
        kind: AlertKind::ThreatDetected,
        type_name: "Event::Endpoint::Threat::Detected",
        category: "malware",
        severity: "high",
        actions: &["acknowledge", "cleanVirus", "clearThreat", "sendMsgThreat"],
        target: Target::Computer,
        weight: 6,
        clear: clear(30, 10, 120),
    },
    KindDef {
        kind: AlertKind::PuaDetected,
        type_name: "Event::Endpoint::CorePuaDetection",
        category: "pua",
        severity: "medium",
        actions: &["acknowledge", "cleanPua", "authPua", "sendMsgPua"],
        target: Target::Computer,
        weight: 5,
        clear: None,
    },
    KindDef {
        kind: AlertKind::HealthStatus,
        type_name: "Event::Endpoint::HealthStatus",
        category: "systemHealth",
        severity: "medium",
        actions: ACK,
        target: Target::AnyDevice,
        weight: 8,
        clear: clear(80, 15, 240),
    },
    KindDef {
        kind: AlertKind::Isolation,
        type_name: "Event::Endpoint::Isolation",
        category: "isolation",
        severity: "high",
        actions: ACK,
        target: Target::Computer,
        weight: 2,
        clear: clear(50, 60, 360),
    },
    KindDef {
        kind: AlertKind::PolicyNonCompliance,
        type_name: "Event::Endpoint::NonCompliant",
        category: "policy",
        severity: "medium",
        actions: ACK,
        target: Target::AnyDevice,
        weight: 4,
        clear: clear(40, 120, 2880),
    },
    KindDef {
        kind: AlertKind::RuntimeDetection,
        type_name: "Event::Endpoint::CoreHmpa",
        category: "runtimeDetections",
        severity: "high",
        actions: &["acknowledge", "clearHmpa"],
        target: Target::Computer,
        weight: 2,
        clear: None,
    },
    KindDef {
        kind: AlertKind::FirewallDisconnected,
        type_name: "Event::Firewall::LostConnectionToSophosCentral",
        category: "connectivity",
        severity: "high",
        actions: ACK,
        target: Target::NoDevice,
        weight: 3,
        clear: clear(80, 5, 180),
    },
    KindDef {
        kind: AlertKind::LicenceLimit,
        type_name: "Event::Other::LicenseLimitExceeded",
        category: "general",
        severity: "low",
        actions: ACK,
        target: Target::NoDevice,
        weight: 1,
        clear: None,
    },
];

fn def(kind: AlertKind) -> &'static KindDef {
    // The catalogue lists every kind once, in declaration order.
    &CATALOGUE[kind as usize]
}

impl AlertKind {
    /// Every kind, in catalogue order.
    pub fn all() -> impl Iterator<Item = AlertKind> {
        CATALOGUE.iter().map(|d| d.kind)
    }
    /// The alert's `type`, e.g. `Event::Endpoint::OutOfDate`.
    pub fn type_name(self) -> &'static str {
        def(self).type_name
    }
    /// The alert's `category`.
    pub fn category(self) -> &'static str {
        def(self).category
    }
    /// The alert's default `severity`.
    pub fn severity(self) -> &'static str {
        def(self).severity
    }
    /// The alert's `allowedActions` when raised.
    pub fn allowed_actions(self) -> &'static [&'static str] {
        def(self).actions
    }
}

/// An alert a test asks for ([`super::SophosEmulator::inject_alert`]). Unset fields take the kind's
/// defaults: its first suitable device, the current emulated time, its usual description.
#[derive(Debug, Clone)]
pub struct AlertSpec {
    /// What the alert is about; sets its `type`, `category` and defaults.
    pub kind: AlertKind,
    /// Index into the tenant's `devices` in the world; `None` picks the first suitable device (or none
    /// for kinds that are not about a device). An index past the end gives an alert without a device.
    pub device: Option<usize>,
    /// Raise time; default the emulator's current time.
    pub raised_at: Option<jiff::Timestamp>,
    /// The alert's `description`; `None` uses the kind's usual text.
    pub description: Option<String>,
    /// The alert's `severity` (`low`, `medium`, `high`); `None` uses the kind's default.
    pub severity: Option<String>,
    /// The alert's `allowedActions`; `None` uses the kind's list.
    pub allowed_actions: Option<Vec<String>>,
    /// Clear by itself after this much emulated time.
    pub clears_after: Option<std::time::Duration>,
    /// Leave out `managedAgent` and `person` even for device kinds.
    pub without_device: bool,
}

impl AlertSpec {
    /// An alert of `kind` with every other field defaulted.
    pub fn new(kind: AlertKind) -> Self {
        Self {
            kind,
            device: None,
            raised_at: None,
            description: None,
            severity: None,
            allowed_actions: None,
            clears_after: None,
            without_device: false,
        }
    }
    /// On the tenant's device number `index` (as in `TenantSeed::devices`).
    pub fn on_device(mut self, index: usize) -> Self {
        self.device = Some(index);
        self
    }
    /// Raised at `at` instead of now.
    pub fn raised_at(mut self, at: jiff::Timestamp) -> Self {
        self.raised_at = Some(at);
        self
    }
    /// With this description.
    pub fn description(mut self, text: impl Into<String>) -> Self {
        self.description = Some(text.into());
        self
    }
    /// With this severity (`low`, `medium`, `high`).
    pub fn severity(mut self, severity: impl Into<String>) -> Self {
        self.severity = Some(severity.into());
        self
    }
    /// With these `allowedActions`.
    pub fn allowed_actions<I, S>(mut self, actions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_actions = Some(actions.into_iter().map(Into::into).collect());
        self
    }
    /// Clearing by itself after `d` of emulated time.
    pub fn clears_after(mut self, d: std::time::Duration) -> Self {
        self.clears_after = Some(d);
        self
    }
    /// Without `managedAgent`/`person`.
    pub fn without_device(mut self) -> Self {
        self.without_device = true;
        self
    }
}

/// One managed device of a tenant, with the ids the emulator gives it.
#[derive(Debug, Clone)]
pub(crate) struct Device {
    pub name: String,
    /// `computer` or `server`.
    pub kind: &'static str,
    pub agent_id: String,
    pub person: Option<Person>,
}

/// What the generator needs to know about a tenant.
#[derive(Debug, Clone)]
pub(crate) struct TenantCtx {
    pub id: String,
    pub name: String,
    pub devices: Vec<Device>,
}

const FIRST_NAMES: &[&str] = &[
    "Ana", "João", "Maria", "Lucas", "Beatriz", "Thomas", "Sarah", "James", "Emily", "Jürgen",
    "Sophie", "Liam", "Olivia", "Rafael", "Camila", "Seán", "Aoife", "Noah", "Chloé", "Mateus",
];
const LAST_NAMES: &[&str] = &[
    "Silva", "Souza", "Oliveira", "Smith", "Johnson", "Müller", "Schmidt", "O'Connor", "Murphy",
    "Brown", "Costa", "Pereira", "Wilson", "Taylor", "Fischer", "Lefèvre", "Nguyen", "Kelly",
    "Santos", "Walsh",
];
const THREATS: &[&str] = &[
    "Troj/Agent-BHKZ",
    "Mal/Generic-S",
    "Troj/Ransom-GXT",
    "Mal/EncPk-APV",
    "EICAR-AV-Test",
    "Troj/DocDl-AFQX",
];
const THREAT_FILES: &[&str] = &[
    "Downloads\\invoice_2024.exe",
    "AppData\\Local\\Temp\\setup.tmp",
    "Documents\\Proposta Comercial.docm",
    "Desktop\\scan0042.pdf.exe",
    "AppData\\Roaming\\Microsoft\\Windows\\Start Menu\\Programs\\Startup\\upd.js",
];
const PUAS: &[&str] = &[
    "PsExec",
    "AdvancedIPScanner",
    "NirSoft Password Recovery",
    "uTorrent",
    "AnyDesk",
];
const PUA_PATHS: &[&str] = &[
    "C:\\Tools\\PsExec.exe",
    "C:\\Program Files (x86)\\Advanced IP Scanner\\advanced_ip_scanner.exe",
    "C:\\Users\\Public\\pw\\WebBrowserPassView.exe",
    "C:\\Program Files\\uTorrent\\uTorrent.exe",
    "C:\\Users\\Public\\Downloads\\AnyDesk.exe",
];

impl TenantCtx {
    /// Derives device ids and users from the tenant id, so they are stable across emulator seeds.
    pub(crate) fn new(id: &str, name: &str, devices: &[(String, &'static str)]) -> Self {
        let th = hash_str(id);
        let devices = devices
            .iter()
            .enumerate()
            .map(|(i, (dname, kind))| {
                let dh = hash_parts(&[th, i as u64, 1]);
                let person = (*kind == "computer").then(|| {
                    let ph = hash_parts(&[th, i as u64, 2]);
                    let first = FIRST_NAMES[(ph % FIRST_NAMES.len() as u64) as usize];
                    let last = LAST_NAMES[((ph >> 20) % LAST_NAMES.len() as u64) as usize];
                    Person {
                        id: uuid_from_hash(ph),
                        name: format!("{first} {last}"),
                    }
                });
                Device {
                    name: dname.clone(),
                    kind,
                    agent_id: uuid_from_hash(dh),
                    person,
                }
            })
            .collect();
        Self {
            id: id.to_owned(),
            name: name.to_owned(),
            devices,
        }
    }

    fn first_of(&self, kind: &str) -> Option<usize> {
        self.devices.iter().position(|d| d.kind == kind)
    }
}

/// The `groupKey` of alerts of `type_name` on `device` of `tenant`: same problem, same key.
pub(crate) fn group_key(tenant_id: &str, device: Option<usize>, type_name: &str) -> String {
    let n = hash_parts(&[hash_str(tenant_id), device.map_or(u64::MAX, |d| d as u64)]) % 1_000_000;
    base64::engine::general_purpose::STANDARD.encode(format!("1,{type_name},{n},"))
}

/// Why an alert is no longer listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Closed {
    /// `acknowledge` (or a resolving action) was posted.
    Acknowledged,
    /// The problem went away by itself, or a test cleared it.
    Cleared,
}

/// An alert with the emulator's bookkeeping.
#[derive(Debug, Clone)]
pub(crate) struct Stored {
    pub seq: u64,
    pub raised_ms: i64,
    pub alert: Alert,
    pub closed: Option<(Closed, i64)>,
    /// Place of the raise in the store's history (raises and closes share one counter), which
    /// orders SIEM events of the same millisecond.
    pub raise_event: u64,
    /// Place of the close in that history; 0 while open.
    pub close_event: u64,
}

/// Every alert ever raised, by tenant, plus an id index.
#[derive(Debug, Default)]
pub(crate) struct AlertStore {
    pub by_tenant: Vec<Vec<Stored>>,
    pub index: HashMap<String, (usize, usize)>,
    next_seq: u64,
    /// Counts raises and closes together (alert `seq`s count raises only, and page keys rest on them).
    next_event: u64,
}

impl AlertStore {
    pub(crate) fn new(tenants: usize) -> Self {
        Self {
            by_tenant: (0..tenants).map(|_| Vec::new()).collect(),
            index: HashMap::new(),
            next_seq: 1,
            next_event: 1,
        }
    }

    fn push(&mut self, tenant: usize, raised_ms: i64, alert: Alert) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let raise_event = self.next_event;
        self.next_event += 1;
        let list = &mut self.by_tenant[tenant];
        self.index.insert(alert.id.clone(), (tenant, list.len()));
        list.push(Stored {
            seq,
            raised_ms,
            alert,
            closed: None,
            raise_event,
            close_event: 0,
        });
        seq
    }

    pub(crate) fn get(&self, id: &str) -> Option<&Stored> {
        self.index.get(id).map(|&(t, i)| &self.by_tenant[t][i])
    }

    /// The tenant's alert with sequence number `seq` (sequence numbers grow along each tenant's list).
    pub(crate) fn by_seq(&self, tenant: usize, seq: u64) -> Option<&Stored> {
        let list = self.by_tenant.get(tenant)?;
        list.binary_search_by_key(&seq, |s| s.seq)
            .ok()
            .map(|i| &list[i])
    }

    /// Closes the alert if still open; returns whether it was open.
    pub(crate) fn close(&mut self, id: &str, why: Closed, at_ms: i64) -> bool {
        match self.index.get(id) {
            Some(&(t, i)) => {
                let s = &mut self.by_tenant[t][i];
                if s.closed.is_none() {
                    s.closed = Some((why, at_ms));
                    s.close_event = self.next_event;
                    self.next_event += 1;
                    true
                } else {
                    false
                }
            }
            None => false,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum EventClass {
    /// Remove an alert (self-clearing or delayed acknowledgement).
    Close = 0,
    Raise = 1,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    at_ms: i64,
    class: EventClass,
    tenant: usize,
    seq: u64,
    /// For `Close`: the alert id and why.
    target: Option<(String, ClosedOrd)>,
}

/// `Closed` with an order, for the heap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum ClosedOrd {
    Acknowledged,
    Cleared,
}

struct TenantGen {
    rng: ChaCha8Rng,
    /// Recent (kind, device) pairs, for recurrences of the same problem.
    history: Vec<(AlertKind, Option<usize>)>,
}

/// The generator: per-tenant streams and the event queue.
pub(crate) struct Generator {
    rate_per_hour: f64,
    gens: Vec<TenantGen>,
    queue: BinaryHeap<Reverse<Event>>,
    /// Injected alerts get their ids from this stream, in injection order.
    inject_rng: ChaCha8Rng,
    event_seq: u64,
}

const HISTORY: usize = 12;

impl Generator {
    /// Starts every tenant's stream at `start_ms`.
    pub(crate) fn new(seed: u64, rate_per_hour: f64, tenants: usize, start_ms: i64) -> Self {
        let mut g = Self {
            rate_per_hour,
            gens: (0..tenants)
                .map(|t| TenantGen {
                    rng: ChaCha8Rng::seed_from_u64(hash_parts(&[seed, t as u64, 0xA1E7])),
                    history: Vec::new(),
                })
                .collect(),
            queue: BinaryHeap::new(),
            inject_rng: ChaCha8Rng::seed_from_u64(mix(seed ^ 0x1A5E_C7ED)),
            event_seq: 0,
        };
        if rate_per_hour > 0.0 && rate_per_hour.is_finite() {
            for t in 0..tenants {
                let gap = g.gap_ms(t);
                g.schedule(start_ms + gap, EventClass::Raise, t, None);
            }
        }
        g
    }

    fn schedule(
        &mut self,
        at_ms: i64,
        class: EventClass,
        tenant: usize,
        target: Option<(String, ClosedOrd)>,
    ) {
        self.event_seq += 1;
        self.queue.push(Reverse(Event {
            at_ms,
            class,
            tenant,
            seq: self.event_seq,
            target,
        }));
    }

    /// Exponential gap of the tenant's Poisson process, at least one millisecond.
    fn gap_ms(&mut self, tenant: usize) -> i64 {
        let u: f64 = self.gens[tenant].rng.random();
        let hours = -(1.0 - u).ln() / self.rate_per_hour;
        let ms = hours * 3_600_000.0;
        if ms.is_finite() {
            (ms as i64).clamp(1, i64::MAX / 4)
        } else {
            i64::MAX / 4
        }
    }

    /// Schedules the alert's removal at `at_ms` (a delayed acknowledgement).
    pub(crate) fn schedule_close(&mut self, tenant: usize, id: String, why: Closed, at_ms: i64) {
        let why = match why {
            Closed::Acknowledged => ClosedOrd::Acknowledged,
            Closed::Cleared => ClosedOrd::Cleared,
        };
        self.schedule(at_ms, EventClass::Close, tenant, Some((id, why)));
    }

    /// Processes every event due at or before `to_ms`.
    pub(crate) fn run_until<'a>(
        &mut self,
        to_ms: i64,
        tenants: &impl Fn(usize) -> Option<&'a TenantCtx>,
        store: &mut AlertStore,
    ) {
        while let Some(Reverse(ev)) = self.queue.peek() {
            if ev.at_ms > to_ms {
                break;
            }
            let Some(Reverse(ev)) = self.queue.pop() else {
                break;
            };
            match ev.class {
                EventClass::Close => {
                    if let Some((id, why)) = ev.target {
                        let why = match why {
                            ClosedOrd::Acknowledged => Closed::Acknowledged,
                            ClosedOrd::Cleared => Closed::Cleared,
                        };
                        store.close(&id, why, ev.at_ms);
                    }
                }
                EventClass::Raise => {
                    self.raise(ev.tenant, ev.at_ms, tenants, store);
                    let gap = self.gap_ms(ev.tenant);
                    self.schedule(
                        ev.at_ms.saturating_add(gap),
                        EventClass::Raise,
                        ev.tenant,
                        None,
                    );
                }
            }
        }
    }

    fn pick(&mut self, tenant: usize, ctx: &TenantCtx) -> (AlertKind, Option<usize>) {
        let g = &mut self.gens[tenant];
        // About a third of alerts repeat a recent problem on the same device (same groupKey).
        if !g.history.is_empty()
            && g.rng.random_ratio(1, 3)
            && let Some(&pair) = g.history.choose(&mut g.rng)
        {
            return pair;
        }
        let total: u32 = CATALOGUE.iter().map(|d| d.weight).sum();
        let mut roll = g.rng.random_range(0..total);
        let mut kind = AlertKind::EndpointOutOfDate;
        for d in CATALOGUE {
            if roll < d.weight {
                kind = d.kind;
                break;
            }
            roll -= d.weight;
        }
        let of_kind = |k: &str| -> Vec<usize> {
            ctx.devices
                .iter()
                .enumerate()
                .filter(|(_, d)| d.kind == k)
                .map(|(i, _)| i)
                .collect()
        };
        let device = match def(kind).target {
            Target::NoDevice => None,
            Target::AnyDevice => {
                if ctx.devices.is_empty() {
                    None
                } else {
                    Some(g.rng.random_range(0..ctx.devices.len()))
                }
            }
            Target::Computer => {
                let c = of_kind("computer");
                c.choose(&mut g.rng).copied()
            }
            Target::Server => {
                let s = of_kind("server");
                match s.choose(&mut g.rng) {
                    Some(&i) => Some(i),
                    None => {
                        // A tenant without servers gets the computer flavour instead.
                        kind = AlertKind::EndpointOutOfDate;
                        of_kind("computer").choose(&mut g.rng).copied()
                    }
                }
            }
        };
        let pair = (kind, device);
        if g.history.len() >= HISTORY {
            g.history.remove(0);
        }
        g.history.push(pair);
        pair
    }

    fn raise<'a>(
        &mut self,
        tenant: usize,
        at_ms: i64,
        tenants: &impl Fn(usize) -> Option<&'a TenantCtx>,
        store: &mut AlertStore,
    ) {
        let Some(ctx) = tenants(tenant) else { return };
        let (kind, device) = self.pick(tenant, ctx);
        let g = &mut self.gens[tenant];
        let detail: u64 = g.rng.random();
        let id = uuid_from_hash(g.rng.random());
        let d = def(kind);
        let clears_in = d.clear.and_then(|rule| {
            let hit = g.rng.random_ratio(rule.percent, 100);
            let minutes = g.rng.random_range(rule.min_minutes..=rule.max_minutes);
            hit.then_some(i64::from(minutes) * 60_000)
        });
        let alert = build(ctx, kind, device, id.clone(), at_ms, detail, None);
        store.push(tenant, at_ms, alert);
        if let Some(after) = clears_in {
            self.schedule_close(tenant, id, Closed::Cleared, at_ms + after);
        }
    }

    /// Adds a test's alert now; returns its id.
    pub(crate) fn inject(
        &mut self,
        tenant: usize,
        now_ms: i64,
        spec: &AlertSpec,
        ctx: &TenantCtx,
        store: &mut AlertStore,
    ) -> String {
        let id = uuid_from_hash(self.inject_rng.random());
        let detail: u64 = self.inject_rng.random();
        let device = if spec.without_device {
            None
        } else {
            match (spec.device, def(spec.kind).target) {
                (Some(i), _) if i < ctx.devices.len() => Some(i),
                (Some(_), _) => None,
                (None, Target::NoDevice) => None,
                (None, Target::Server) => {
                    ctx.first_of("server").or_else(|| ctx.first_of("computer"))
                }
                (None, Target::Computer) => {
                    ctx.first_of("computer").or_else(|| ctx.first_of("server"))
                }
                (None, Target::AnyDevice) => (!ctx.devices.is_empty()).then_some(0),
            }
        };
        let at_ms = spec
            .raised_at
            .map_or(now_ms, jiff::Timestamp::as_millisecond);
        let alert = build(
            ctx,
            spec.kind,
            device,
            id.clone(),
            at_ms,
            detail,
            Some(spec),
        );
        store.push(tenant, at_ms, alert);
        if let Some(after) = spec.clears_after {
            let after_ms = i64::try_from(after.as_millis()).unwrap_or(i64::MAX / 4);
            self.schedule_close(
                tenant,
                id.clone(),
                Closed::Cleared,
                now_ms.saturating_add(after_ms),
            );
        }
        id
    }
}

/// Renders an alert of `kind` on `device`.
fn build(
    ctx: &TenantCtx,
    kind: AlertKind,
    device: Option<usize>,
    id: String,
    at_ms: i64,
    detail: u64,
    spec: Option<&AlertSpec>,
) -> Alert {
    let d = def(kind);
    let dev = device.and_then(|i| ctx.devices.get(i));
    let product = match (d.target, dev) {
        (Target::NoDevice, _) if kind == AlertKind::FirewallDisconnected => "firewall",
        (Target::NoDevice, _) => "other",
        (_, Some(dv)) if dv.kind == "server" => "server",
        _ => "endpoint",
    };
    let dname = dev.map_or("the device", |d| d.name.as_str());
    let user = dev
        .and_then(|d| d.person.as_ref())
        .map_or("Administrator", |p| p.name.as_str());
    let user_dir = user.split(' ').next().unwrap_or("user").to_lowercase();
    let pick =
        |list: &[&'static str], salt: u64| list[(mix(detail ^ salt) % list.len() as u64) as usize];
    let description = match kind {
        AlertKind::EndpointOutOfDate | AlertKind::ServerOutOfDate => {
            format!("{dname} is out of date.")
        }
        AlertKind::UpdateFailure => {
            format!("Failed to update {dname}: the update source could not be reached.")
        }
        AlertKind::RebootRequired => format!("Reboot required to complete the update on {dname}."),
        AlertKind::RealTimeProtectionDisabled => {
            format!("Real-time protection disabled on {dname}.")
        }
        AlertKind::ThreatDetected => format!(
            "Malware detected: '{}' at 'C:\\Users\\{user_dir}\\{}'",
            pick(THREATS, 1),
            pick(THREAT_FILES, 2)
        ),
        AlertKind::PuaDetected => {
            let i = (mix(detail ^ 3) % PUAS.len() as u64) as usize;
            format!("PUA detected: '{}' at '{}'", PUAS[i], PUA_PATHS[i])
        }
        AlertKind::HealthStatus => {
            format!("One or more Sophos services are missing or not running on {dname}.")
        }
        AlertKind::Isolation => {
            format!("{dname} was isolated from the network because its health is bad.")
        }
        AlertKind::PolicyNonCompliance => {
            format!("{dname} is not compliant with its threat protection policy.")
        }
        AlertKind::RuntimeDetection => {
            format!(
                "Ransomware behavior detected (CryptoGuard) on {dname} in 'C:\\Users\\{user_dir}\\Documents'"
            )
        }
        AlertKind::FirewallDisconnected => {
            format!(
                "Firewall XGS{}-{:04} lost its connection to Sophos Central.",
                [87, 107, 116, 126][(detail % 4) as usize],
                (detail >> 8) % 10_000
            )
        }
        AlertKind::LicenceLimit => {
            String::from("You are using more Intercept X Advanced licences than you have.")
        }
    };
    let managed_agent = dev.map(|d| ManagedAgent {
        id: d.agent_id.clone(),
        kind: d.kind.to_owned(),
        name: d.name.clone(),
    });
    let person = dev.and_then(|d| d.person.clone());
    let mut alert = Alert {
        id,
        allowed_actions: d.actions.iter().map(|a| (*a).to_owned()).collect(),
        category: d.category.to_owned(),
        description,
        group_key: group_key(&ctx.id, device, d.type_name),
        managed_agent,
        person,
        product: product.to_owned(),
        raised_at: super::util::format_local_ms(at_ms),
        severity: d.severity.to_owned(),
        tenant: AlertTenant {
            id: ctx.id.clone(),
            name: ctx.name.clone(),
        },
        kind: d.type_name.to_owned(),
    };
    if let Some(spec) = spec {
        if let Some(text) = &spec.description {
            alert.description.clone_from(text);
        }
        if let Some(sev) = &spec.severity {
            alert.severity.clone_from(sev);
        }
        if let Some(actions) = &spec.allowed_actions {
            alert.allowed_actions.clone_from(actions);
        }
    }
    alert
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_in_declaration_order() {
        for (i, d) in CATALOGUE.iter().enumerate() {
            assert_eq!(d.kind as usize, i, "{:?}", d.kind);
        }
    }

    #[test]
    fn step_size_does_not_change_the_result() {
        let ctx: Vec<TenantCtx> = (0..5)
            .map(|t| {
                TenantCtx::new(
                    &format!("t{t}"),
                    "T",
                    &[
                        ("PC-001".into(), "computer"),
                        ("LT-002".into(), "computer"),
                        ("SRV-03".into(), "server"),
                    ],
                )
            })
            .collect();
        let run = |steps: i64| {
            let mut g = Generator::new(9, 2.0, ctx.len(), 0);
            let mut s = AlertStore::new(ctx.len());
            let day = 86_400_000;
            for k in 1..=steps {
                g.run_until(day * k / steps, &|t| ctx.get(t), &mut s);
            }
            s.by_tenant
                .iter()
                .flatten()
                .map(|a| format!("{}{:?}{}", a.alert.id, a.closed, a.alert.group_key))
                .collect::<Vec<_>>()
        };
        let once = run(1);
        assert!(once.len() > 50);
        assert_eq!(once, run(97));
    }
}
