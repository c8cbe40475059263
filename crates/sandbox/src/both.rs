//! Both emulators over one seeded MSP: what the demo, the `centralbridge sandbox` command, the
//! benchmarks and end-to-end tests start.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use secrecy::ExposeSecret as _;
use serde::Serialize;

use crate::connectwise::{CwConfig, CwCredentials, CwEmulator, Role};
use crate::sophos::{ClockMode, IdHeaderRejection, SophosConfig, SophosEmulator};
use crate::world::{World, WorldConfig};

/// How to start the sandbox.
#[derive(Debug, Clone)]
pub struct SandboxOptions {
    /// The MSP to generate.
    pub world: WorldConfig,
    /// Where to bind the ConnectWise emulator (default `127.0.0.1:0`).
    pub connectwise_bind: SocketAddr,
    /// Where to bind the Sophos emulator's global listener (default `127.0.0.1:0`); its regions take
    /// free ports, or the nine ports after a fixed one (see [`SophosConfig::bind`]).
    pub sophos_bind: SocketAddr,
    /// Serve both over HTTPS with self-signed certificates written into this directory.
    pub https_dir: Option<PathBuf>,
    /// Added latency per call, on both emulators.
    pub latency: Duration,
    /// Generated alerts per tenant per hour of emulated time (0 turns the generator off).
    pub alert_rate: f64,
    /// `Some(speed)`: emulated Sophos time runs `speed` times faster than real time, so alerts keep
    /// appearing and clearing on their own (the demo). `None`: time moves only when a test advances it.
    pub realtime_speed: Option<f64>,
    /// Start the Sophos clock at the real current time instead of the world's deterministic start.
    pub start_now: bool,
    /// ConnectWise's companyinfo sends `IsCloud` as the string `"True"`, as the Developer Guide
    /// shows it, instead of the boolean `true` some clients' fixtures have.
    pub is_cloud_as_string: bool,
    /// The vendor behaviours their documentation leaves open.
    pub knobs: VendorKnobs,
}

/// Vendor behaviours the documentation leaves open or that vary between sites, each a knob whose
/// default is what the vendor documents (or, where it says nothing, the most common answer).
#[derive(Debug, Clone, PartialEq)]
pub struct VendorKnobs {
    /// ConnectWise answers 400 when the `clientId` header is missing (the Developer Guide requires
    /// it; default true).
    pub require_client_id: bool,
    /// Sophos access token lifetime (`expires_in`; Sophos documents 3600 s).
    pub token_lifetime: Duration,
    /// Sophos token successes carry `errorCode`, `message` and `trackingId` besides the OAuth2
    /// fields (seen in some answers, not documented; default off).
    pub token_success_extras: bool,
    /// Sophos's answer to a missing `X-Partner-ID` / `X-Tenant-ID` (Sophos's article: 401).
    pub id_header_rejection: IdHeaderRejection,
    /// Emulated time between an accepted acknowledge and the alert leaving Sophos's list
    /// (undocumented; default 0).
    pub ack_delay: Duration,
}

impl Default for VendorKnobs {
    fn default() -> Self {
        Self {
            require_client_id: true,
            token_lifetime: Duration::from_secs(3600),
            token_success_extras: false,
            id_header_rejection: IdHeaderRejection::Unauthorized,
            ack_delay: Duration::ZERO,
        }
    }
}

impl SandboxOptions {
    /// The demo's MSP: `customers` customers with usage in the current month, alerts flowing in real time.
    pub fn demo(seed: u64, customers: usize) -> Self {
        let now = jiff::Timestamp::now().to_zoned_datetime(jiff::tz::TimeZone::UTC);
        let mut world = WorldConfig::demo(seed, (now.year(), now.month()));
        world.customers = customers;
        Self {
            world,
            connectwise_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            sophos_bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            https_dir: None,
            latency: Duration::ZERO,
            alert_rate: 0.5,
            realtime_speed: Some(60.0),
            start_now: true,
            is_cloud_as_string: false,
            knobs: VendorKnobs::default(),
        }
    }
}

/// Errors starting the sandbox.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The ConnectWise emulator could not start (certificate, bind or TLS setup failed).
    #[error(transparent)]
    ConnectWise(#[from] crate::tls::ServeError),
    /// The Sophos emulator could not start.
    #[error(transparent)]
    Sophos(#[from] crate::sophos::SophosError),
}

/// Both emulators, running.
#[derive(Clone)]
pub struct Sandbox {
    /// The seeded MSP both emulators serve.
    pub world: Arc<World>,
    /// The running ConnectWise PSA emulator.
    pub connectwise: CwEmulator,
    /// The running Sophos Central Partner emulator.
    pub sophos: SophosEmulator,
    /// A second ConnectWise API member, `apitechnician`, with [`Role::technician`]: the person on
    /// the other side (deletes, closes, renames, cancels through the ordinary REST API).
    pub technician: CwCredentials,
}

/// Where the sandbox listens and the credentials it accepts. These are the emulators' own test
/// credentials, printed on purpose so users can point their own tools at the sandbox.
#[derive(Debug, Clone, Serialize)]
pub struct SandboxInfo {
    /// How to reach and sign in to the ConnectWise emulator.
    pub connectwise: ConnectWiseInfo,
    /// How to reach and sign in to the Sophos emulator.
    pub sophos: SophosInfo,
    /// Number of Sophos tenants in the world (customers' and tenants without a company).
    pub tenants: usize,
    /// Number of ConnectWise companies in the world (customers' and companies without a tenant).
    pub companies: usize,
}

/// The ConnectWise emulator's address and the default API member's credentials, in clear.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectWiseInfo {
    /// The site URL, `http://127.0.0.1:PORT` (or `https://`), where `/login/companyinfo/{id}` answers.
    pub site: String,
    /// The REST base, `{site}/{codebase}apis/3.0`, without a trailing slash.
    pub api_base: String,
    /// The login company id: the `companyId+` part of the Basic-auth user name.
    pub company_id: String,
    /// The API member's public key (the part after `+` in the user name).
    pub public_key: String,
    /// The API member's private key (the Basic-auth password), printed on purpose.
    pub private_key: String,
    /// A `clientId` header value the emulator accepts.
    pub client_id: String,
    /// The self-signed certificate's PEM file in HTTPS mode; `None` when serving plain HTTP.
    pub cert_path: Option<PathBuf>,
    /// The technician's API member: not for centralbridge, for playing the person who deletes,
    /// closes, renames and cancels in ConnectWise.
    pub technician: TechnicianInfo,
}

/// The login identifier of the sandbox's technician API member.
pub const TECHNICIAN: &str = "apitechnician";

/// The technician's API keys (same company id and clientId as the integration's), in clear.
#[derive(Debug, Clone, Serialize)]
pub struct TechnicianInfo {
    /// The member's login identifier (`apitechnician`).
    pub member: String,
    /// The technician's public key (the part after `+` in the user name).
    pub public_key: String,
    /// The technician's private key (the Basic-auth password), printed on purpose.
    pub private_key: String,
}

/// The Sophos emulator's URLs and the API credential it accepts, in clear.
#[derive(Debug, Clone, Serialize)]
pub struct SophosInfo {
    /// The OAuth2 client-credentials endpoint, `{base}/api/v2/oauth2/token`.
    pub token_url: String,
    /// The global API host (whoami's `apiHosts.global`), for whoami, tenants and billing.
    pub global_url: String,
    /// Each region's own origin by region code (`eu01` → `http://127.0.0.1:40125`): the tenants'
    /// `apiHost` values, where alerts and the SIEM feeds answer.
    pub regions: BTreeMap<String, String>,
    /// The API credential's client id.
    pub client_id: String,
    /// The API credential's client secret, printed on purpose.
    pub client_secret: String,
    /// The partner id whoami returns, sent as `X-Partner-ID`.
    pub partner_id: String,
    /// The self-signed certificate's PEM file in HTTPS mode; `None` when serving plain HTTP.
    pub cert_path: Option<PathBuf>,
}

impl Sandbox {
    /// Generates the world and starts both emulators.
    pub async fn spawn(opts: SandboxOptions) -> Result<Self, SandboxError> {
        let world = Arc::new(World::generate(opts.world.clone()));
        let mut cw = CwConfig::new(world.clone());
        cw.bind = opts.connectwise_bind;
        cw.is_cloud_as_string = opts.is_cloud_as_string;
        cw.require_client_id = opts.knobs.require_client_id;
        cw.https_cert_path = opts
            .https_dir
            .as_ref()
            .map(|d| d.join("connectwise-cert.pem"));
        let mut so = SophosConfig::new(world.clone());
        so.bind = opts.sophos_bind;
        so.https_cert_path = opts.https_dir.as_ref().map(|d| d.join("sophos-cert.pem"));
        so.alert_rate = opts.alert_rate;
        so.token_lifetime = opts.knobs.token_lifetime;
        so.token_success_extras = opts.knobs.token_success_extras;
        so.id_header_rejection = opts.knobs.id_header_rejection;
        so.ack_delay = opts.knobs.ack_delay;
        if let Some(speed) = opts.realtime_speed {
            so.clock = ClockMode::Realtime { speed };
        }
        if opts.start_now {
            so.start = Some(jiff::Timestamp::now());
        }
        let connectwise = CwEmulator::spawn(cw).await?;
        let sophos = SophosEmulator::spawn(so).await?;
        for faults in [connectwise.faults(), sophos.faults()] {
            faults.set_latency(opts.latency);
        }
        let technician = connectwise.add_member(TECHNICIAN, Role::technician());
        Ok(Self {
            world,
            connectwise,
            sophos,
            technician,
        })
    }

    /// URLs and credentials, for printing.
    pub fn info(&self) -> SandboxInfo {
        let cw = self.connectwise.credentials();
        let so = self.sophos.credentials();
        SandboxInfo {
            connectwise: ConnectWiseInfo {
                site: self.connectwise.site_url(),
                api_base: self.connectwise.api_base(),
                company_id: cw.company_id.clone(),
                public_key: cw.public_key.clone(),
                private_key: cw.private_key.expose_secret().to_owned(),
                client_id: cw.client_id.clone(),
                cert_path: self.connectwise.cert_path(),
                technician: TechnicianInfo {
                    member: self.technician.member_identifier.clone(),
                    public_key: self.technician.public_key.clone(),
                    private_key: self.technician.private_key.expose_secret().to_owned(),
                },
            },
            sophos: SophosInfo {
                token_url: self.sophos.token_url(),
                global_url: self.sophos.global_url(),
                regions: self.sophos.region_urls().into_iter().collect(),
                client_id: so.client_id.clone(),
                client_secret: so.client_secret.expose_secret().to_owned(),
                partner_id: self.sophos.partner_id(),
                cert_path: self.sophos.cert_path(),
            },
            tenants: self.world.tenants().count(),
            companies: self.world.companies().count(),
        }
    }

    /// Stops both servers.
    pub async fn shutdown(self) {
        self.connectwise.shutdown().await;
        self.sophos.shutdown().await;
    }
}
