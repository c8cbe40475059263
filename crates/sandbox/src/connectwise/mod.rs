//! The ConnectWise PSA emulator: an in-process axum server that behaves like a ConnectWise cloud site
//! (`/login/companyinfo/{id}` and `/{codebase}apis/3.0/…`), serving the seeded MSP of
//! [`World`](crate::world::World).
//!
//! ```no_run
//! # async fn demo() -> Result<(), sandbox::tls::ServeError> {
//! use sandbox::connectwise::{CwConfig, CwEmulator};
//! let cw = CwEmulator::spawn(CwConfig::demo(7)).await?;
//! let creds = cw.credentials();
//! // GET {cw.api_base()}/company/companies with Basic auth creds.username():private key and a clientId.
//! # Ok(()) }
//! ```
//!
//! Faithfulness notes (see connectwise-psa-api.md §12 for the open questions): the 401 body, the missing
//! `clientId` answer, the forward-only `Link` rel, the invoiced-period refusal and the conditions
//! parse-error code are emulator choices, documented where they are built (`wire.rs`, `resources.rs`).

pub mod conditions;
mod data;
pub mod paging;
mod reports;
mod resources;
pub mod roles;
mod server;
pub mod wire;

pub use data::{Record, Table};
pub use resources::INVOICED_MESSAGE;
pub use roles::{Access, Level, Role, RoleFunction};

use crate::faults::{Faults, RequestCounts, VendorResponses};
use crate::tls::{ServeError, ServerHandle, TlsConfig};
use crate::world::{World, WorldConfig};
use axum::Router;
use axum::response::IntoResponse;
use data::{ApiKey, Store};
use jiff::Timestamp;
use secrecy::{ExposeSecret, SecretString};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// How to start the emulator.
#[derive(Debug, Clone)]
pub struct CwConfig {
    /// The MSP to serve.
    pub world: Arc<World>,
    /// Codebase with its trailing slash, e.g. `v2025_1/`.
    pub codebase: String,
    /// The login company id (the `companyId+` part of the username, and the companyinfo id).
    pub company_id: String,
    /// Keys of the default API member (`apisophos`, licence class A, the seed's role).
    pub public_key: String,
    /// The default API member's private key: the Basic-auth password paired with `public_key`.
    pub private_key: SecretString,
    /// The clientId tests should send (the emulator accepts any non-empty value).
    pub client_id: String,
    /// Answer 400 when the `clientId` header is missing (default true).
    pub require_client_id: bool,
    /// Refuse `Accept: …; version=X` below this (e.g. `"2019.1"`); `None` accepts any version.
    pub min_api_version: Option<String>,
    /// Serve HTTPS with a self-signed certificate written to this path.
    pub https_cert_path: Option<PathBuf>,
    /// Address to bind (default `127.0.0.1:0`).
    pub bind: SocketAddr,
    /// Upper bound of `pageSize` (default 1000).
    pub page_size_max: u32,
    /// Freeze the clock (dates of writes, closedDate…); `None` uses the system clock.
    pub fixed_now: Option<Timestamp>,
    /// Seed of the fault-rate RNG.
    pub fault_seed: u64,
    /// Send companyinfo's `IsCloud` as the string `"True"` (the guide) instead of `true`.
    pub is_cloud_as_string: bool,
}

impl CwConfig {
    /// Defaults around a world.
    pub fn new(world: Arc<World>) -> Self {
        Self {
            world,
            codebase: "v2025_1/".into(),
            company_id: "bridgewater".into(),
            public_key: "EmuPublicKey0001".into(),
            private_key: SecretString::from("EmuPrivateKey0001"),
            client_id: "00000000-0000-4000-8000-00000000c11d".into(),
            require_client_id: true,
            min_api_version: None,
            https_cert_path: None,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            page_size_max: 1000,
            fixed_now: None,
            fault_seed: 0,
            is_cloud_as_string: false,
        }
    }

    /// The demo MSP (`WorldConfig::demo(seed, (2026, 11))`) with a fixed clock (2026-11-15T12:00:00Z), so
    /// snapshots are stable.
    pub fn demo(seed: u64) -> Self {
        let mut c = Self::new(Arc::new(World::generate(WorldConfig::demo(
            seed,
            (2026, 11),
        ))));
        c.fixed_now = "2026-11-15T12:00:00Z".parse().ok();
        c
    }

    /// A big MSP for scale tests: `companies` companies (about 1.5 agreements each).
    pub fn sized(seed: u64, companies: usize) -> Self {
        let world = World::generate(WorldConfig {
            seed,
            customers: companies,
            extra_companies: 0,
            extra_tenants: 0,
            usage_anchor: (2026, 11),
        });
        Self::new(Arc::new(world))
    }
}

/// Credentials of one API member.
#[derive(Clone)]
pub struct CwCredentials {
    /// The login company id, the `companyId+` part of the Basic-auth user name.
    pub company_id: String,
    /// The member's public key, the part after `+` in the user name.
    pub public_key: String,
    /// The member's private key, the Basic-auth password.
    pub private_key: SecretString,
    /// A `clientId` header value the emulator accepts.
    pub client_id: String,
    /// ConnectWise's record id of the member in `system/members` (0 if the seed had no API member).
    pub member_id: i64,
    /// The member's login identifier, e.g. `apisophos`.
    pub member_identifier: String,
}

impl std::fmt::Debug for CwCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CwCredentials")
            .field("company_id", &self.company_id)
            .field("public_key", &self.public_key)
            .field("private_key", &"[redacted]")
            .field("client_id", &self.client_id)
            .field("member_id", &self.member_id)
            .finish()
    }
}

impl CwCredentials {
    /// `companyId+publicKey`, the Basic-auth user name.
    pub fn username(&self) -> String {
        format!("{}+{}", self.company_id, self.public_key)
    }

    /// The `Authorization` header value (contains the secret: for test clients only).
    pub fn authorization(&self) -> String {
        use base64::Engine;
        let raw = format!("{}:{}", self.username(), self.private_key.expose_secret());
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

/// Knobs that can change while running.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    pub require_client_id: bool,
    pub min_api_version: Option<String>,
    pub page_size_max: u32,
    /// Setup-table reads need System > Table Setup: Inquire (off by default: the guide says setup
    /// tables answer reads to anyone; a role's Table Setup "Customize" list can restrict them).
    pub setup_reads_need_inquire: bool,
}

pub(crate) struct Shared {
    store: RwLock<Store>,
    settings: RwLock<Settings>,
    site_url: RwLock<String>,
    company_id: String,
    company_name: String,
    now: Mutex<Option<Timestamp>>,
    is_cloud_as_string: bool,
    pub(crate) request_seq: AtomicU64,
    /// Bumped under each write lock: what was read under a read lock at one generation still
    /// holds while the generation is unchanged.
    generation: AtomicU64,
    /// The last report query's matching rows, in order, so a report read page by page is built
    /// once, not once a page (a database would index; this keeps the emulator's cost out of
    /// the client's figures).
    pub(crate) report_cache: Mutex<Option<ReportCache>>,
}

/// Rows of one report query (name, conditions, order) at one generation of the data.
pub(crate) struct ReportCache {
    pub(crate) key: (String, String, String),
    pub(crate) generation: u64,
    pub(crate) rows: Arc<Vec<Value>>,
}

impl Shared {
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Store> {
        self.store.read().unwrap_or_else(PoisonError::into_inner)
    }
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Store> {
        let guard = self.store.write().unwrap_or_else(PoisonError::into_inner);
        // Under the lock: a reader holding the read lock sees the generation of the data it reads.
        self.generation.fetch_add(1, Ordering::SeqCst);
        guard
    }
    /// The data's generation; read it while holding [`Shared::read`]'s guard.
    pub(crate) fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
    pub(crate) fn settings(&self) -> Settings {
        self.settings
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
    pub(crate) fn site_url(&self) -> String {
        self.site_url
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
    pub(crate) fn api_base(&self) -> String {
        format!("{}/{}apis/3.0", self.site_url(), self.read().codebase)
    }
    pub(crate) fn now(&self) -> Timestamp {
        let fixed = *self.now.lock().unwrap_or_else(PoisonError::into_inner);
        fixed.unwrap_or_else(|| {
            Timestamp::from_second(Timestamp::now().as_second()).unwrap_or(Timestamp::UNIX_EPOCH)
        })
    }
    pub(crate) fn company_info(&self, id: &str) -> Value {
        if !id.eq_ignore_ascii_case(&self.company_id) {
            return Value::Null;
        }
        let is_cloud = if self.is_cloud_as_string {
            json!("True")
        } else {
            json!(true)
        };
        json!({"CompanyName": self.company_name, "Codebase": self.read().codebase, "VersionCode": "v2025.1",
            "VersionNumber": "v4.6.12345", "CompanyID": self.company_id, "IsCloud": is_cloud})
    }
    pub(crate) fn system_info(&self) -> Value {
        json!({"version": "v2025.1.12345", "isCloud": true, "serverTimeZone": "Eastern Standard Time",
            "licenseBits": [{"name": "Manage", "activeFlag": true}, {"name": "Sales", "activeFlag": true},
                {"name": "Procurement", "activeFlag": true}, {"name": "Project", "activeFlag": false}],
            "cloudRegion": "NA", "maxWorkFlowRecordsAllowed": 5000})
    }
}

/// A running emulator. Cheap to clone; all clones drive the same server and state.
#[derive(Clone)]
pub struct CwEmulator {
    shared: Arc<Shared>,
    faults: Faults,
    default_creds: CwCredentials,
    server: Arc<Mutex<Option<ServerHandle>>>,
    addr: SocketAddr,
    cert_path: Option<PathBuf>,
}

impl std::fmt::Debug for CwEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CwEmulator")
            .field("site_url", &self.site_url())
            .finish()
    }
}

fn cw_responses() -> VendorResponses {
    VendorResponses::new(
        |_| axum::Json(wire::too_many_requests_body()).into_response(),
        || axum::Json(wire::server_error_body()).into_response(),
    )
    .with_family(|_, path| {
        // "/v2025_1/apis/3.0/service/tickets/12/notes" → "service/tickets"
        let segs: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match segs.as_slice() {
            ["login", ..] => "login/companyinfo".to_owned(),
            [_, _, _, a, b, ..] => format!("{a}/{b}").to_ascii_lowercase(),
            _ => path.to_ascii_lowercase(),
        }
    })
}

impl CwEmulator {
    /// Seeds the state and starts serving (HTTPS if `https_cert_path` is set).
    pub async fn spawn(cfg: CwConfig) -> Result<CwEmulator, ServeError> {
        let mut store = Store::seed(&cfg.world, cfg.codebase.clone());
        let member = store.find_by(Table::Members, "licenseClass", "A").cloned();
        let member_id = member
            .as_ref()
            .and_then(|m| m.get("id"))
            .and_then(Value::as_i64)
            .unwrap_or(0);
        let member_identifier = member
            .as_ref()
            .and_then(|m| m.get("identifier"))
            .and_then(Value::as_str)
            .unwrap_or("apisophos")
            .to_owned();
        store.keys.push(ApiKey {
            member_id,
            member_identifier: member_identifier.clone(),
            public_key: cfg.public_key.clone(),
            private_key: cfg.private_key.clone(),
            role: Role::seed(),
        });
        let shared = Arc::new(Shared {
            store: RwLock::new(store),
            settings: RwLock::new(Settings {
                require_client_id: cfg.require_client_id,
                min_api_version: cfg.min_api_version.clone(),
                page_size_max: cfg.page_size_max.max(1),
                setup_reads_need_inquire: false,
            }),
            site_url: RwLock::new(String::new()),
            company_id: cfg.company_id.clone(),
            company_name: cfg.world.partner_name.clone(),
            now: Mutex::new(cfg.fixed_now),
            is_cloud_as_string: cfg.is_cloud_as_string,
            request_seq: AtomicU64::new(1),
            generation: AtomicU64::new(0),
            report_cache: Mutex::new(None),
        });
        let faults = Faults::new(cfg.fault_seed);
        let router = Router::new()
            .fallback(server::dispatch)
            .with_state(shared.clone());
        let router = faults.apply(router, cw_responses());
        let tls = cfg.https_cert_path.clone().map(TlsConfig::new);
        let handle = crate::tls::serve(router, cfg.bind, tls).await?;
        let addr = handle.addr();
        *shared
            .site_url
            .write()
            .unwrap_or_else(PoisonError::into_inner) = handle.base_url();
        let default_creds = CwCredentials {
            company_id: cfg.company_id.clone(),
            public_key: cfg.public_key,
            private_key: cfg.private_key,
            client_id: cfg.client_id,
            member_id,
            member_identifier,
        };
        Ok(CwEmulator {
            shared,
            faults,
            default_creds,
            cert_path: handle.cert_path().map(PathBuf::from),
            server: Arc::new(Mutex::new(Some(handle))),
            addr,
        })
    }

    /// `http://127.0.0.1:PORT` (or https): the "site".
    pub fn site_url(&self) -> String {
        self.shared.site_url()
    }

    /// `{site}/{codebase}apis/3.0` (no trailing slash).
    pub fn api_base(&self) -> String {
        self.shared.api_base()
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The certificate PEM path in HTTPS mode.
    pub fn cert_path(&self) -> Option<PathBuf> {
        self.cert_path.clone()
    }

    /// The current codebase, e.g. `v2025_1/`.
    pub fn codebase(&self) -> String {
        self.shared.read().codebase.clone()
    }

    /// The login company id.
    pub fn company_id(&self) -> &str {
        &self.shared.company_id
    }

    /// The default API member's credentials (seed role).
    pub fn credentials(&self) -> CwCredentials {
        self.default_creds.clone()
    }

    /// The fault knobs (latency, 429, 500, slow commit) and request counters.
    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// Counters of every request so far.
    pub fn request_counts(&self) -> RequestCounts {
        self.faults.counts()
    }

    /// Moves the site to another codebase (as after an upgrade): the old path answers 404 and
    /// companyinfo reports the new one. A missing trailing slash is added.
    pub fn move_codebase(&self, new: &str) {
        let mut cb = new.trim_matches('/').to_owned();
        cb.push('/');
        self.shared.write().codebase = cb;
    }

    /// Makes setup-table reads require System > Table Setup: Inquire (default off, as the guide says
    /// setup tables answer reads to any member; on, as a role whose Table Setup is restricted).
    pub fn set_setup_reads_need_inquire(&self, on: bool) {
        self.shared
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .setup_reads_need_inquire = on;
    }

    /// Turns the `clientId` requirement on or off.
    pub fn set_require_client_id(&self, on: bool) {
        self.shared
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .require_client_id = on;
    }

    /// Sets the minimum accepted `Accept` version (`None`: any).
    pub fn set_min_api_version(&self, v: Option<&str>) {
        self.shared
            .settings
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .min_api_version = v.map(str::to_owned);
    }

    /// Freezes the clock at `t` (`None`: system clock).
    pub fn set_now(&self, t: Option<Timestamp>) {
        *self
            .shared
            .now
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = t;
    }

    /// The emulator's current time.
    pub fn now(&self) -> Timestamp {
        self.shared.now()
    }

    /// Creates a new API member with `role` and returns its credentials.
    pub fn add_member(&self, identifier: &str, role: Role) -> CwCredentials {
        let mut store = self.shared.write();
        let rec = json!({"identifier": identifier, "firstName": identifier, "lastName": "API", "inactiveFlag": false,
            "licenseClass": "A", "officeEmail": null, "securityRole": {"id": 64, "name": role.name}});
        let id = match rec {
            Value::Object(mut m) => {
                m.extend(data::member_settings());
                m.insert("hireDate".into(), json!(data::fmt_ts(self.now())));
                store.insert(Table::Members, m)
            }
            _ => 0,
        };
        let n = store.keys.len() + 1;
        let public_key = format!("EmuPublicKey{n:04}");
        let private_key = format!("EmuPrivateKey{n:04}");
        store.keys.push(ApiKey {
            member_id: id,
            member_identifier: identifier.to_owned(),
            public_key: public_key.clone(),
            private_key: SecretString::from(private_key.clone()),
            role,
        });
        CwCredentials {
            company_id: self.shared.company_id.clone(),
            public_key,
            private_key: SecretString::from(private_key),
            client_id: self.default_creds.client_id.clone(),
            member_id: id,
            member_identifier: identifier.to_owned(),
        }
    }

    /// Changes one level of a member's role (every key of that member).
    pub fn set_role_level(
        &self,
        member_id: i64,
        function: RoleFunction,
        level: Level,
        access: Access,
    ) {
        for k in self
            .shared
            .write()
            .keys
            .iter_mut()
            .filter(|k| k.member_id == member_id)
        {
            k.role.set(function, level, access);
        }
    }

    /// Replaces a member's role.
    pub fn set_role(&self, member_id: i64, role: Role) {
        for k in self
            .shared
            .write()
            .keys
            .iter_mut()
            .filter(|k| k.member_id == member_id)
        {
            k.role = role.clone();
        }
    }

    /// A member's role.
    pub fn role(&self, member_id: i64) -> Option<Role> {
        self.shared
            .read()
            .keys
            .iter()
            .find(|k| k.member_id == member_id)
            .map(|k| k.role.clone())
    }

    /// The whole data set (every table, hidden ticket fields, invoiced dates), to assert that nothing
    /// was written.
    pub fn snapshot(&self) -> Value {
        self.shared.read().snapshot()
    }

    /// All records of a table, as stored (no `_info` hrefs), in id order.
    pub fn records(&self, table: Table) -> Vec<Value> {
        self.shared
            .read()
            .table(table)
            .values()
            .cloned()
            .map(Value::Object)
            .collect()
    }

    /// One stored record.
    pub fn record(&self, table: Table, id: i64) -> Option<Value> {
        self.shared
            .read()
            .get(table, id)
            .cloned()
            .map(Value::Object)
    }

    /// Inserts a record as-is (no validation) and returns its new id.
    pub fn insert_record(&self, table: Table, record: Value) -> i64 {
        let Value::Object(m) = record else { return 0 };
        self.shared.write().insert(table, m)
    }

    /// Edits a stored record in place (no validation, as a user in the UI would). False if missing.
    pub fn update_record(&self, table: Table, id: i64, f: impl FnOnce(&mut Record)) -> bool {
        match self.shared.write().table_mut(table).get_mut(&id) {
            Some(r) => {
                f(r);
                true
            }
            None => false,
        }
    }

    /// Deletes a stored record (as a user would). False if missing.
    pub fn delete_record(&self, table: Table, id: i64) -> bool {
        self.shared.write().table_mut(table).remove(&id).is_some()
    }

    /// Tickets whose `externalXRef` equals `xref`.
    pub fn tickets_by_xref(&self, xref: &str) -> Vec<Value> {
        let store = self.shared.read();
        store
            .table(Table::Tickets)
            .values()
            .filter(|t| t.get("externalXRef").and_then(Value::as_str) == Some(xref))
            .cloned()
            .map(Value::Object)
            .collect()
    }

    /// The POST-only fields of a ticket (`initialDescription`, …) as received.
    pub fn ticket_hidden_fields(&self, ticket_id: i64) -> Option<Value> {
        self.shared
            .read()
            .hidden
            .get(&ticket_id)
            .cloned()
            .map(Value::Object)
    }

    /// Notes of a ticket, in id order.
    pub fn notes(&self, ticket_id: i64) -> Vec<Value> {
        let store = self.shared.read();
        store
            .table(Table::Notes)
            .values()
            .filter(|n| resources::parent_of(n, "ticketId") == Some(ticket_id))
            .cloned()
            .map(Value::Object)
            .collect()
    }

    /// Additions of an agreement, in id order.
    pub fn additions(&self, agreement_id: i64) -> Vec<Value> {
        let store = self.shared.read();
        store
            .table(Table::Additions)
            .values()
            .filter(|a| resources::parent_of(a, "agreementId") == Some(agreement_id))
            .cloned()
            .map(Value::Object)
            .collect()
    }

    /// Marks an agreement invoiced through `through`: additions effective (or changed) on or before it
    /// are refused with [`INVOICED_MESSAGE`] unless the agreement prorates. `None` clears it.
    pub fn set_invoiced_through(&self, agreement_id: i64, through: Option<Timestamp>) {
        let mut store = self.shared.write();
        match through {
            Some(t) => store.invoiced_through.insert(agreement_id, t),
            None => store.invoiced_through.remove(&agreement_id),
        };
    }

    /// Whether `system/reports` offers the report `name` (a server that dropped it answers 404).
    pub fn set_report_offered(&self, name: &str, offered: bool) {
        let mut store = self.shared.write();
        let key = name.to_ascii_lowercase();
        if offered {
            store.reports.hidden.remove(&key);
        } else {
            store.reports.hidden.insert(key);
        }
    }

    /// Drops `column` from the report `name`'s definitions and rows (`None`: offers every column
    /// again), as a newer server that renamed or removed it.
    pub fn set_report_column_dropped(&self, name: &str, column: Option<&str>) {
        let mut store = self.shared.write();
        let key = name.to_ascii_lowercase();
        match column {
            Some(c) => {
                store
                    .reports
                    .dropped
                    .entry(key)
                    .or_default()
                    .insert(c.to_ascii_lowercase());
            }
            None => {
                store.reports.dropped.remove(&key);
            }
        }
    }

    /// Serves the `AgreementAdditions` report from a copy of the additions taken now, so later
    /// changes show in the REST records but not in the report (a lagging reporting replica);
    /// `false` serves the records again.
    pub fn set_additions_report_frozen(&self, frozen: bool) {
        let mut store = self.shared.write();
        store.reports.frozen_additions = frozen.then(|| store.table(Table::Additions).clone());
    }

    /// The report names offered and the columns dropped, for the admin API's state.
    pub fn report_knobs(&self) -> Value {
        let store = self.shared.read();
        serde_json::json!({
            "hidden": store.reports.hidden,
            "dropped_columns": store.reports.dropped,
            "additions_frozen": store.reports.frozen_additions.is_some(),
        })
    }

    /// Closes a ticket as a user in the UI would: moves it to the board's first `closedStatus` status.
    pub fn close_ticket(&self, ticket_id: i64) -> bool {
        let now = data::fmt_ts(self.now());
        let mut store = self.shared.write();
        let Some(board) = store
            .get(Table::Tickets, ticket_id)
            .and_then(|t| t.get("board")?.get("id")?.as_i64())
        else {
            return false;
        };
        let Some(status) = store
            .table(Table::BoardStatuses)
            .values()
            .find(|s| {
                s.get("board")
                    .and_then(|b| b.get("id"))
                    .and_then(Value::as_i64)
                    == Some(board)
                    && s.get("closedStatus") == Some(&Value::Bool(true))
            })
            .map(data::name_ref)
        else {
            return false;
        };
        match store.table_mut(Table::Tickets).get_mut(&ticket_id) {
            Some(t) => {
                t.insert("status".into(), status);
                t.insert("closedFlag".into(), json!(true));
                t.insert("closedDate".into(), json!(now));
                t.insert("closedBy".into(), json!("mlopes"));
                touch(t, &now, "mlopes");
                true
            }
            None => false,
        }
    }

    /// Renames a company as a user would (references elsewhere keep the old name, as in ConnectWise
    /// until they are re-read).
    pub fn rename_company(&self, company_id: i64, name: &str) -> bool {
        let now = data::fmt_ts(self.now());
        self.update_record(Table::Companies, company_id, |c| {
            c.insert("name".into(), json!(name));
            touch(c, &now, "mlopes");
        })
    }

    /// Stops the server (other clones stop serving too).
    pub async fn shutdown(self) {
        let handle = self
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(h) = handle {
            h.shutdown().await;
        }
    }
}

/// Stamps `_info.lastUpdated`/`updatedBy` as ConnectWise does on every change, including changes a
/// person makes in the UI (integrations find those by `_info/lastUpdated`).
fn touch(record: &mut Record, now: &str, by: &str) {
    let info = record.entry("_info").or_insert_with(|| json!({}));
    if let Some(info) = info.as_object_mut() {
        info.insert("lastUpdated".into(), json!(now));
        info.insert("updatedBy".into(), json!(by));
    }
}
