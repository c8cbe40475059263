//! Configuration: a TOML file (default `<user config dir>/centralbridge/config.toml`), overridden by
//! `CENTRALBRIDGE_<SECTION>_<KEY>` environment variables, then by command-line flags such as
//! `--database`. Everything is checked on load against [`SCHEMA`]; the first problem is reported with
//! the key (or variable) named and the fix. Secrets never live here: they are stored encrypted in the
//! database by `centralbridge connect`.
//!
//! To add a setting: add a field to the section struct below and one line to [`SCHEMA`].

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::messages;

/// The environment variable naming the config file (same as `--config`).
pub const CONFIG_ENV: &str = "CENTRALBRIDGE_CONFIG";
const ENV_PREFIX: &str = "CENTRALBRIDGE_";

/// The whole configuration, one field per `[section]`; unknown sections and keys are refused.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[database]`: where the store is.
    pub database: DatabaseConfig,
    /// `[secrets]`: where the master key file is.
    pub secrets: SecretsConfig,
    /// `[connectwise]`: defaults for `connect connectwise` (the private key is never here).
    pub connectwise: ConnectwiseConfig,
    /// `[sophos]`: defaults for `connect sophos` (the client secret is never here).
    pub sophos: SophosConfig,
    /// `[service]`: the addresses `serve` listens on.
    pub service: ServiceConfig,
    /// `[sync]`: job intervals, concurrency, lease and the usage sync's blast-radius limits.
    pub sync: SyncConfig,
    /// `[usage]`: whether usage plans wait for a person's approval.
    pub usage: UsageConfig,
    /// `[sandbox]`: defaults for `centralbridge sandbox` (its flags win).
    #[serde(skip_serializing_if = "SandboxConfig::is_empty")]
    pub sandbox: SandboxConfig,
}

/// `[database]`: where the store is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DatabaseConfig {
    /// A SQLite file path / `sqlite://` URL, or a `postgres://` URL. Default: a file in the data dir.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// `[secrets]`: where the master key file is.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SecretsConfig {
    /// The master key file. Default: `master.key` in the data dir.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_file: Option<PathBuf>,
}

/// `[connectwise]`: values `connect connectwise` takes when a flag and its variable are unset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConnectwiseConfig {
    /// The ConnectWise site host, e.g. `api-na.myconnectwise.net`; `None` asks for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<String>,
    /// The company id typed on the ConnectWise login page, e.g. `mymsp`; `None` asks for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_id: Option<String>,
    /// The API member's public key; `None` asks for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// The integration's clientId GUID from developer.connectwise.com; `None` asks for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Our own pace toward the site: requests per rolling minute, or `"off"` [default: 900, under
    /// ConnectWise's "about 1,000 a minute"]. Our emulators say when they enforce no limit, and
    /// are then not paced.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<Limit>,
}

/// A rate limit as written in the config: a number of requests per minute, or `"off"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Limit {
    /// Requests per rolling minute.
    PerMinute(u32),
    /// `"off"`.
    Word(LimitWord),
}

/// The one word a [`Limit`] takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LimitWord {
    /// No pace of our own.
    Off,
}

impl Limit {
    /// Parses `N` or `off` (as a flag or a variable gives it).
    pub fn parse(text: &str) -> Option<Limit> {
        match text.trim() {
            "off" => Some(Limit::Word(LimitWord::Off)),
            t => t
                .parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .map(Limit::PerMinute),
        }
    }

    /// As the clients take it.
    pub fn rate_limit(self) -> connectwise::RateLimit {
        match self {
            Limit::PerMinute(n) => connectwise::RateLimit::per_minute(n),
            Limit::Word(LimitWord::Off) => connectwise::RateLimit::Off,
        }
    }
}

/// `[sophos]`: values `connect sophos` uses when its flags are not given.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SophosConfig {
    /// The API credential's client id; `None` asks for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_id: Option<String>,
    /// Sophos's OAuth2 token endpoint; Sophos production by default.
    pub token_url: String,
    /// Sophos's global API base (whoami, tenants, billing); Sophos production by default.
    pub api_url: String,
    /// Our own pace toward each Sophos host: requests per rolling minute, or `"off"` [default:
    /// 300, about 5 a second; Sophos publishes no number].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requests_per_minute: Option<Limit>,
}

impl Default for SophosConfig {
    fn default() -> Self {
        Self {
            client_id: None,
            token_url: "https://id.sophos.com/api/v2/oauth2/token".into(),
            api_url: "https://api.central.sophos.com".into(),
            requests_per_minute: None,
        }
    }
}

/// `[service]`: the addresses `serve` listens on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServiceConfig {
    /// Dashboard and API address.
    pub listen: String,
    /// Prometheus metrics address; off when unset.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<String>,
    /// The dashboard's TLS certificate chain (PEM); with `tls_key`, `serve` speaks HTTPS.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of `tls_cert` (PEM).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,
    /// A reverse proxy in front terminates HTTPS (and names clients in `X-Forwarded-For`).
    pub behind_proxy: bool,
    /// A dashboard session unused this long ends.
    pub session_idle: String,
    /// A dashboard session ends this long after login, however busy.
    pub session_max: String,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            metrics_listen: None,
            tls_cert: None,
            tls_key: None,
            behind_proxy: false,
            session_idle: "2h".into(),
            session_max: "12h".into(),
        }
    }
}

/// `[sync]`: schedules and limits; durations are parsed by [`parse_duration`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// How often Sophos tenants and ConnectWise companies and agreements are re-read (Sophos: 24 h).
    pub refresh_interval: String,
    /// How often usage is pushed to agreements (Sophos: every 24 h).
    pub usage_interval: String,
    /// How often alerts are turned into tickets and tickets checked for closing.
    pub tickets_interval: String,
    /// How many customers are worked on at once.
    pub concurrency: u32,
    /// How long a run's lease lasts unless renewed: how soon a job left by a killed process can be
    /// taken over (renewed every third of it while a run goes on).
    pub lease: String,
    /// A usage plan lowering billed quantities by more than this percentage of the total waits for
    /// `--confirm`.
    pub max_drop_percent: u32,
    /// A usage plan taking more customers than this from billed to nothing waits for `--confirm`.
    pub max_zeroed_customers: u32,
}

impl Default for SyncConfig {
    fn default() -> Self {
        Self {
            refresh_interval: "24h".into(),
            usage_interval: "24h".into(),
            tickets_interval: "60s".into(),
            concurrency: engine::usage::DEFAULT_CONCURRENCY as u32,
            lease: "30s".into(),
            max_drop_percent: 30,
            max_zeroed_customers: 10,
        }
    }
}

/// `[usage]`: how usage sync writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsageConfig {
    /// `auto` (the default): every sync writes its plan at once. `required`: the service only
    /// computes and saves the daily plan, and nothing is written until a person approves it
    /// (`plans approve`, or Approve on the dashboard's Usage page); `sync usage` then refuses to
    /// write directly.
    pub approval: Approval,
}

/// Whether usage plans wait for a person.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Approval {
    /// Plans are applied as they are made.
    #[default]
    Auto,
    /// Plans wait for a person's approval.
    Required,
}

/// `[sandbox]`: what `centralbridge sandbox` uses when its flag is not given; every key is the
/// flag's name with `_` for `-`, and unset keys take the flag's default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// `--seed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seed: Option<u64>,
    /// `--customers`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customers: Option<usize>,
    /// `--extra-companies`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_companies: Option<usize>,
    /// `--extra-tenants`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extra_tenants: Option<usize>,
    /// `--host`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// `--connectwise-port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connectwise_port: Option<u16>,
    /// `--sophos-port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sophos_port: Option<u16>,
    /// `--admin-port`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_port: Option<u16>,
    /// `--https`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub https: Option<PathBuf>,
    /// `--latency-ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<u64>,
    /// `--alert-rate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alert_rate: Option<f64>,
    /// `--speed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
    /// `--cw-rate-limit`: requests per minute, or `"real"`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cw_rate_limit: Option<RateSetting>,
    /// `--sophos-rate-limit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sophos_rate_limit: Option<RateSetting>,
    /// `--retry-after`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
    /// `--fault-rate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fault_rate: Option<f64>,
    /// `--slow-commit-ms`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow_commit_ms: Option<u64>,
    /// `--is-cloud-as-string`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_cloud_as_string: Option<bool>,
    /// `--codebase`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub codebase: Option<String>,
    /// `--setup-reads-need-inquire`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub setup_reads_need_inquire: Option<bool>,
    /// `--no-client-id-check`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub no_client_id_check: Option<bool>,
    /// `--token-lifetime`, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_lifetime: Option<u64>,
    /// `--token-extras`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_extras: Option<bool>,
    /// `--missing-id-header`: 401, 400 or 403.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub missing_id_header: Option<u16>,
    /// `--ack-delay`, emulated seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ack_delay: Option<u64>,
}

impl SandboxConfig {
    /// No key set: the section is left out when the config is printed.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// A rate limit as written in the config: requests per minute, or a named preset (`"real"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum RateSetting {
    /// Requests per rolling minute.
    PerMinute(u32),
    /// A preset's name; `real` is the only one (checked on load).
    Preset(String),
}

/// What a key holds, for checking and for converting environment strings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A non-blank string.
    Text,
    /// A non-blank file path.
    Path,
    /// A database location, checked like `Store::open` would.
    Database,
    /// An `http://` or `https://` URL.
    HttpUrl,
    /// An IP address and port, e.g. `127.0.0.1:8080`.
    SocketAddr,
    /// A positive duration such as `90s`, `1h 30m` or `PT1H`.
    Duration,
    /// 1..=256
    Count,
    /// A percentage, 1..=100.
    Percent,
    /// A whole number of 0 or more.
    Whole,
    /// A port, 0..=65535 (0: a free one).
    Port,
    /// A number of 0 or more, e.g. `0.5`.
    Number,
    /// A number from 0 to 1.
    Fraction,
    /// `true` or `false`.
    Bool,
    /// An IP address.
    IpAddr,
    /// Requests per minute (1 or more), or `"real"`.
    Rate,
    /// `"required"` or `"auto"`.
    Approval,
    /// Requests per minute (1 or more), or `"off"`.
    Limit,
}

/// One key the config accepts: where it goes, what it holds, and an example for error messages.
pub struct KeySpec {
    /// The `[section]` it belongs to.
    pub section: &'static str,
    /// Its name within the section, as written in the file.
    pub key: &'static str,
    /// What it holds, which decides how it is checked and how a variable's text is converted.
    pub kind: Kind,
    /// A valid value written as TOML, shown in the fix of an error message.
    pub example: &'static str,
}

const fn spec(
    section: &'static str,
    key: &'static str,
    kind: Kind,
    example: &'static str,
) -> KeySpec {
    KeySpec {
        section,
        key,
        kind,
        example,
    }
}

/// Every key the config accepts.
pub const SCHEMA: &[KeySpec] = &[
    spec(
        "database",
        "url",
        Kind::Database,
        "\"postgres://centralbridge:PASSWORD@db.internal/centralbridge\"",
    ),
    spec(
        "secrets",
        "key_file",
        Kind::Path,
        "\"/etc/centralbridge/master.key\"",
    ),
    spec(
        "connectwise",
        "site",
        Kind::Text,
        "\"api-na.myconnectwise.net\"",
    ),
    spec("connectwise", "company_id", Kind::Text, "\"mymsp\""),
    spec("connectwise", "public_key", Kind::Text, "\"AbCdEf123456\""),
    spec(
        "connectwise",
        "client_id",
        Kind::Text,
        "\"3f2a...-guid-from-developer.connectwise.com\"",
    ),
    spec("connectwise", "requests_per_minute", Kind::Limit, "900"),
    spec("sophos", "client_id", Kind::Text, "\"0b1c2d3e-...\""),
    spec(
        "sophos",
        "token_url",
        Kind::HttpUrl,
        "\"https://id.sophos.com/api/v2/oauth2/token\"",
    ),
    spec(
        "sophos",
        "api_url",
        Kind::HttpUrl,
        "\"https://api.central.sophos.com\"",
    ),
    spec("sophos", "requests_per_minute", Kind::Limit, "300"),
    spec("service", "listen", Kind::SocketAddr, "\"127.0.0.1:8080\""),
    spec(
        "service",
        "metrics_listen",
        Kind::SocketAddr,
        "\"127.0.0.1:9184\"",
    ),
    spec(
        "service",
        "tls_cert",
        Kind::Path,
        "\"/etc/centralbridge/dashboard.crt\"",
    ),
    spec(
        "service",
        "tls_key",
        Kind::Path,
        "\"/etc/centralbridge/dashboard.key\"",
    ),
    spec("service", "behind_proxy", Kind::Bool, "true"),
    spec("service", "session_idle", Kind::Duration, "\"2h\""),
    spec("service", "session_max", Kind::Duration, "\"12h\""),
    spec("sync", "refresh_interval", Kind::Duration, "\"24h\""),
    spec("sync", "usage_interval", Kind::Duration, "\"24h\""),
    spec("sync", "tickets_interval", Kind::Duration, "\"60s\""),
    spec("sync", "concurrency", Kind::Count, "8"),
    spec("sync", "lease", Kind::Duration, "\"30s\""),
    spec("sync", "max_drop_percent", Kind::Percent, "30"),
    spec("sync", "max_zeroed_customers", Kind::Count, "10"),
    spec("usage", "approval", Kind::Approval, "\"required\""),
    spec("sandbox", "seed", Kind::Whole, "7"),
    spec("sandbox", "customers", Kind::Whole, "40"),
    spec("sandbox", "extra_companies", Kind::Whole, "6"),
    spec("sandbox", "extra_tenants", Kind::Whole, "4"),
    spec("sandbox", "host", Kind::IpAddr, "\"127.0.0.1\""),
    spec("sandbox", "connectwise_port", Kind::Port, "8081"),
    spec("sandbox", "sophos_port", Kind::Port, "8082"),
    spec("sandbox", "admin_port", Kind::Port, "8099"),
    spec("sandbox", "https", Kind::Path, "\"/tmp/sandbox-certs\""),
    spec("sandbox", "latency_ms", Kind::Whole, "50"),
    spec("sandbox", "alert_rate", Kind::Number, "0.5"),
    spec("sandbox", "speed", Kind::Number, "60"),
    spec("sandbox", "cw_rate_limit", Kind::Rate, "\"real\""),
    spec("sandbox", "sophos_rate_limit", Kind::Rate, "300"),
    spec("sandbox", "retry_after", Kind::Whole, "5"),
    spec("sandbox", "fault_rate", Kind::Fraction, "0.05"),
    spec("sandbox", "slow_commit_ms", Kind::Whole, "3000"),
    spec("sandbox", "is_cloud_as_string", Kind::Bool, "true"),
    spec("sandbox", "codebase", Kind::Text, "\"v2025_1\""),
    spec("sandbox", "setup_reads_need_inquire", Kind::Bool, "true"),
    spec("sandbox", "no_client_id_check", Kind::Bool, "true"),
    spec("sandbox", "token_lifetime", Kind::Whole, "300"),
    spec("sandbox", "token_extras", Kind::Bool, "true"),
    spec("sandbox", "missing_id_header", Kind::Whole, "400"),
    spec("sandbox", "ack_delay", Kind::Whole, "120"),
];

/// Secrets people may try to put in the config; refused with a pointer to `connect`.
const FORBIDDEN: &[(&str, &str, &str)] = &[
    (
        "connectwise",
        "private_key",
        "centralbridge connect connectwise",
    ),
    ("sophos", "client_secret", "centralbridge connect sophos"),
];

fn sections() -> Vec<&'static str> {
    let mut out: Vec<&str> = SCHEMA.iter().map(|s| s.section).collect();
    out.dedup();
    out
}

fn keys_of(section: &str) -> Vec<&'static str> {
    SCHEMA
        .iter()
        .filter(|s| s.section == section)
        .map(|s| s.key)
        .collect()
}

fn find(section: &str, key: &str) -> Option<&'static KeySpec> {
    SCHEMA.iter().find(|s| s.section == section && s.key == key)
}

/// A configuration problem. Shown as is; exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Where the config file is and whether it was there.
#[derive(Debug, Clone, Serialize)]
pub struct ConfigSource {
    /// The config file read, or the default location when none was named.
    pub path: PathBuf,
    /// The user named it (flag or env), so it must exist.
    pub explicit: bool,
    /// The file existed, so its settings were read (false: only defaults and variables apply).
    pub loaded: bool,
    /// Names of the `CENTRALBRIDGE_*` variables that changed a setting.
    pub env_overrides: Vec<String>,
}

/// Standard directories.
#[derive(Debug, Clone)]
pub struct Dirs {
    /// Where the config file is looked for by default: the OS's per-user config dir, else `.`.
    pub config_dir: PathBuf,
    /// Where the default database and master key file go: the OS's per-user data dir, else `.`.
    pub data_dir: PathBuf,
}

impl Dirs {
    /// The OS's per-user directories for centralbridge, else the working directory (no home).
    pub fn detect() -> Self {
        match directories::ProjectDirs::from("", "", "centralbridge") {
            Some(d) => Dirs {
                config_dir: d.config_dir().to_path_buf(),
                data_dir: d.data_dir().to_path_buf(),
            },
            // No home directory (e.g. a bare service account): use the working directory.
            None => Dirs {
                config_dir: PathBuf::from("."),
                data_dir: PathBuf::from("."),
            },
        }
    }

    /// `config.toml` in the config dir: the file read when none is named.
    pub fn default_config_file(&self) -> PathBuf {
        self.config_dir.join("config.toml")
    }
    /// `centralbridge.db` in the data dir: the SQLite store used when `[database] url` is unset.
    pub fn default_database(&self) -> PathBuf {
        self.data_dir.join("centralbridge.db")
    }
    /// `master.key` in the data dir: the key file used when `[secrets] key_file` is unset.
    pub fn default_key_file(&self) -> PathBuf {
        self.data_dir.join("master.key")
    }
}

/// Loads the config: `explicit_path` (from `--config` or `CENTRALBRIDGE_CONFIG`) must exist; the
/// default path may be missing (defaults apply). `env` is the process environment (passed in so tests
/// can use their own).
pub fn load(
    explicit_path: Option<&Path>,
    dirs: &Dirs,
    env: &[(String, String)],
) -> Result<(Config, ConfigSource), ConfigError> {
    let (path, explicit) = match explicit_path {
        Some(p) => (p.to_path_buf(), true),
        None => (dirs.default_config_file(), false),
    };
    let mut table = match std::fs::read_to_string(&path) {
        Ok(text) => text
            .parse::<toml::Table>()
            .map_err(|e| ConfigError(messages::config_syntax(&path, &e.to_string())))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !explicit => toml::Table::new(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(ConfigError(messages::config_missing(&path)));
        }
        Err(e) => return Err(ConfigError(messages::config_unreadable(&path, &e))),
    };
    let loaded = path.exists();
    let origin = path.display().to_string();
    check_table(&table, &origin)?;
    let env_overrides = apply_env(&mut table, env)?;
    let config: Config = toml::Value::Table(table)
        .try_into()
        // The checks above cover every key and type, so this is a bug if it happens; still no panic.
        .map_err(|e: toml::de::Error| {
            ConfigError(messages::config_syntax(&path, &e.to_string()))
        })?;
    Ok((
        config,
        ConfigSource {
            path,
            explicit,
            loaded,
            env_overrides,
        },
    ))
}

fn check_table(table: &toml::Table, origin: &str) -> Result<(), ConfigError> {
    for (section, value) in table {
        let toml::Value::Table(inner) = value else {
            return Err(ConfigError(if sections().contains(&section.as_str()) {
                messages::config_section_not_table(origin, section)
            } else {
                messages::config_top_level_key(origin, section, &sections())
            }));
        };
        if !sections().contains(&section.as_str()) {
            return Err(ConfigError(messages::config_unknown_section(
                origin,
                section,
                &sections(),
            )));
        }
        for (key, value) in inner {
            check_value(section, key, value, origin)?;
        }
    }
    Ok(())
}

fn check_value(
    section: &str,
    key: &str,
    value: &toml::Value,
    origin: &str,
) -> Result<(), ConfigError> {
    if let Some((_, _, command)) = FORBIDDEN
        .iter()
        .find(|(s, k, _)| *s == section && *k == key)
    {
        return Err(ConfigError(messages::config_secret_in_file(
            origin, section, key, command,
        )));
    }
    let Some(spec) = find(section, key) else {
        return Err(ConfigError(messages::config_unknown_key(
            origin,
            section,
            key,
            &keys_of(section),
        )));
    };
    let name = format!("{section}.{key}");
    let wrong_type = |expected: &str| {
        ConfigError(messages::config_wrong_type(
            origin,
            &name,
            expected,
            spec.example,
        ))
    };
    match spec.kind {
        Kind::Count | Kind::Percent => {
            let Some(n) = value.as_integer() else {
                return Err(wrong_type("a whole number"));
            };
            let (top, why) = if spec.kind == Kind::Percent {
                (100, "a percentage is between 1 and 100")
            } else {
                (256, "it must be between 1 and 256")
            };
            if !(1..=top).contains(&n) {
                return Err(ConfigError(messages::config_bad_value(
                    origin,
                    &name,
                    &n.to_string(),
                    why,
                    spec.example,
                )));
            }
        }
        Kind::Whole | Kind::Port | Kind::Number | Kind::Fraction | Kind::Bool => {
            check_scalar(spec.kind, value).map_err(|expected| match expected {
                Scalar::Type(t) => wrong_type(t),
                Scalar::Range(reason) => ConfigError(messages::config_bad_value(
                    origin,
                    &name,
                    &value.to_string(),
                    reason,
                    spec.example,
                )),
            })?;
        }
        Kind::Limit if value.is_integer() => {
            check_scalar(Kind::Rate, value).map_err(|_| {
                ConfigError(messages::config_bad_value(
                    origin,
                    &name,
                    &value.to_string(),
                    "it must be 1 or more",
                    spec.example,
                ))
            })?;
        }
        Kind::Rate if value.is_integer() => {
            check_scalar(Kind::Rate, value).map_err(|_| {
                ConfigError(messages::config_bad_value(
                    origin,
                    &name,
                    &value.to_string(),
                    "it must be 1 or more",
                    spec.example,
                ))
            })?;
        }
        kind => {
            let Some(text) = value.as_str() else {
                return Err(wrong_type("a string in quotes"));
            };
            if let Err(reason) = check_text(kind, text) {
                let shown = if kind == Kind::Database {
                    engine::store::redact_url(text)
                } else {
                    text.to_owned()
                };
                return Err(ConfigError(messages::config_bad_value(
                    origin,
                    &name,
                    &shown,
                    &reason,
                    spec.example,
                )));
            }
        }
    }
    Ok(())
}

fn check_text(kind: Kind, text: &str) -> Result<(), String> {
    match kind {
        Kind::Text | Kind::Path => {
            if text.trim().is_empty() {
                Err("it is empty".into())
            } else {
                Ok(())
            }
        }
        Kind::Database => engine::store::Target::parse(text)
            .map(|_| ())
            .map_err(|_| "it is neither a file path nor a sqlite:// or postgres:// URL".into()),
        Kind::HttpUrl => match url::Url::parse(text) {
            Ok(u) if u.scheme() == "https" || u.scheme() == "http" => Ok(()),
            Ok(u) => Err(format!(
                "`{}` URLs are not supported; use https",
                u.scheme()
            )),
            Err(e) => Err(format!("it is not a URL ({e})")),
        },
        Kind::SocketAddr => text
            .parse::<std::net::SocketAddr>()
            .map(|_| ())
            .map_err(|_| "it is not an IP address and port".into()),
        Kind::Duration => parse_duration(text)
            .map(|_| ())
            .ok_or_else(|| "it is not a positive duration".into()),
        Kind::IpAddr => text
            .parse::<std::net::IpAddr>()
            .map(|_| ())
            .map_err(|_| "it is not an IP address".into()),
        Kind::Rate if text == "real" => Ok(()),
        Kind::Rate => Err("it is neither a number of requests per minute nor `real`".into()),
        Kind::Approval if matches!(text, "required" | "auto") => Ok(()),
        Kind::Limit if text == "off" => Ok(()),
        Kind::Limit => Err("it is neither a number of requests per minute nor `off`".into()),
        Kind::Approval => Err("it is neither `required` nor `auto`".into()),
        Kind::Count
        | Kind::Percent
        | Kind::Whole
        | Kind::Port
        | Kind::Number
        | Kind::Fraction
        | Kind::Bool => Ok(()),
    }
}

/// Why a non-string value was refused: the wrong TOML type, or out of range.
enum Scalar {
    Type(&'static str),
    Range(&'static str),
}

fn check_scalar(kind: Kind, value: &toml::Value) -> Result<(), Scalar> {
    let number = value
        .as_float()
        .or_else(|| value.as_integer().map(|n| n as f64));
    match kind {
        Kind::Whole => match value.as_integer() {
            Some(n) if n >= 0 => Ok(()),
            Some(_) => Err(Scalar::Range("it must be 0 or more")),
            None => Err(Scalar::Type("a whole number")),
        },
        Kind::Port => match value.as_integer() {
            Some(n) if (0..=65535).contains(&n) => Ok(()),
            Some(_) => Err(Scalar::Range("a port is between 0 and 65535")),
            None => Err(Scalar::Type("a whole number")),
        },
        Kind::Rate => match value.as_integer() {
            Some(n) if (1..=i64::from(u32::MAX)).contains(&n) => Ok(()),
            _ => Err(Scalar::Range("it must be 1 or more")),
        },
        Kind::Number => match number {
            Some(x) if x.is_finite() && x >= 0.0 => Ok(()),
            Some(_) => Err(Scalar::Range("it must be 0 or more")),
            None => Err(Scalar::Type("a number")),
        },
        Kind::Fraction => match number {
            Some(x) if (0.0..=1.0).contains(&x) => Ok(()),
            Some(_) => Err(Scalar::Range("it must be from 0 to 1 (0.05 is 5 %)")),
            None => Err(Scalar::Type("a number")),
        },
        Kind::Bool => value
            .as_bool()
            .map(|_| ())
            .ok_or(Scalar::Type("true or false")),
        _ => Ok(()),
    }
}

/// "90s", "5m", "1h 30m", or ISO 8601 ("PT1H").
pub fn parse_duration(text: &str) -> Option<std::time::Duration> {
    let d: jiff::SignedDuration = text.trim().parse().ok()?;
    if d.is_positive() {
        std::time::Duration::try_from(d).ok()
    } else {
        None
    }
}

/// Applies `CENTRALBRIDGE_<SECTION>_<KEY>` variables; returns the names of those applied.
fn apply_env(
    table: &mut toml::Table,
    env: &[(String, String)],
) -> Result<Vec<String>, ConfigError> {
    let mut applied = Vec::new();
    let mut vars: Vec<&(String, String)> = env.iter().collect();
    vars.sort();
    for (name, value) in vars {
        let Some(rest) = name.strip_prefix(ENV_PREFIX) else {
            continue;
        };
        let lower = rest.to_ascii_lowercase();
        let Some(section) = sections()
            .into_iter()
            .find(|s| lower.starts_with(&format!("{s}_")))
        else {
            // Other CENTRALBRIDGE_* variables (MASTER_KEY, CONFIG, TEST_PG_URL, ...) are not settings.
            continue;
        };
        let key = &lower[section.len() + 1..];
        let toml_value = match find(section, key).map(|s| s.kind) {
            Some(Kind::Number | Kind::Fraction) => match value.trim().parse::<f64>() {
                Ok(x) => toml::Value::Float(x),
                Err(_) => {
                    return Err(ConfigError(messages::config_wrong_type(
                        name,
                        &format!("{section}.{key}"),
                        "a number",
                        "0.5",
                    )));
                }
            },
            Some(Kind::Bool) => match value.trim() {
                "true" | "1" | "yes" => toml::Value::Boolean(true),
                "false" | "0" | "no" => toml::Value::Boolean(false),
                _ => {
                    return Err(ConfigError(messages::config_wrong_type(
                        name,
                        &format!("{section}.{key}"),
                        "true or false",
                        "true",
                    )));
                }
            },
            Some(Kind::Rate | Kind::Limit) if value.trim().parse::<i64>().is_ok() => {
                toml::Value::Integer(value.trim().parse::<i64>().unwrap_or(0))
            }
            Some(Kind::Count | Kind::Percent | Kind::Whole | Kind::Port) => {
                match value.trim().parse::<i64>() {
                    Ok(n) => toml::Value::Integer(n),
                    Err(_) => {
                        return Err(ConfigError(messages::config_wrong_type(
                            name,
                            &format!("{section}.{key}"),
                            "a whole number",
                            "4",
                        )));
                    }
                }
            }
            _ => toml::Value::String(value.clone()),
        };
        check_value(section, key, &toml_value, name)?;
        let entry = table
            .entry(section.to_owned())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        if let toml::Value::Table(inner) = entry {
            inner.insert(key.to_owned(), toml_value);
        }
        applied.push(name.clone());
    }
    Ok(applied)
}

impl Config {
    /// The config as it may be shown: the database password is replaced by `***`.
    pub fn redacted(&self) -> Config {
        let mut shown = self.clone();
        shown.database.url = shown.database.url.as_deref().map(engine::store::redact_url);
        shown
    }

    /// The database location to use: `[database] url` or the default file.
    pub fn database_target(&self, dirs: &Dirs) -> String {
        match &self.database.url {
            Some(url) => url.clone(),
            None => dirs.default_database().to_string_lossy().into_owned(),
        }
    }

    /// The master key file to use: `[secrets] key_file`, else `master.key` in the data dir.
    pub fn key_file(&self, dirs: &Dirs) -> PathBuf {
        self.secrets
            .key_file
            .clone()
            .unwrap_or_else(|| dirs.default_key_file())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dirs(tmp: &Path) -> Dirs {
        Dirs {
            config_dir: tmp.join("config"),
            data_dir: tmp.join("data"),
        }
    }

    fn load_text(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("c.toml");
        std::fs::write(&path, text).unwrap();
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        load(Some(&path), &dirs(tmp.path()), &env).map(|(c, _)| c)
    }

    #[test]
    fn defaults_when_the_default_file_is_missing() {
        let tmp = tempfile::tempdir().unwrap();
        let (config, source) = load(None, &dirs(tmp.path()), &[]).unwrap();
        assert_eq!(config, Config::default());
        assert!(!source.loaded && !source.explicit);
    }

    #[test]
    fn reads_sections_and_env_overrides_win() {
        let config = load_text(
            "[sophos]\nclient_id = \"abc\"\n[sync]\nconcurrency = 8\n",
            &[
                ("CENTRALBRIDGE_SYNC_CONCURRENCY", "2"),
                ("CENTRALBRIDGE_SERVICE_METRICS_LISTEN", "127.0.0.1:9184"),
                ("CENTRALBRIDGE_MASTER_KEY", "ignored"),
            ],
        )
        .unwrap();
        assert_eq!(config.sophos.client_id.as_deref(), Some("abc"));
        assert_eq!(config.sync.concurrency, 2);
        assert_eq!(
            config.service.metrics_listen.as_deref(),
            Some("127.0.0.1:9184")
        );
        assert_eq!(config.service.listen, "127.0.0.1:8080");
    }

    #[test]
    fn errors_name_the_key_and_the_fix() {
        let err = load_text("[sophos]\nclientid = \"abc\"\n", &[])
            .unwrap_err()
            .0;
        assert!(
            err.contains("sophos.clientid") && err.contains("client_id"),
            "{err}"
        );
        let err = load_text("[sync]\nconcurrency = \"four\"\n", &[])
            .unwrap_err()
            .0;
        assert!(
            err.contains("sync.concurrency") && err.contains("whole number"),
            "{err}"
        );
        let err = load_text("[sync]\nmax_drop_percent = 150\n", &[])
            .unwrap_err()
            .0;
        assert!(
            err.contains("sync.max_drop_percent") && err.contains("between 1 and 100"),
            "{err}"
        );
        assert!(load_text("[sync]\nmax_drop_percent = 100\n", &[]).is_ok());
        let err = load_text("[service]\nlisten = \"localhost\"\n", &[])
            .unwrap_err()
            .0;
        assert!(
            err.contains("service.listen") && err.contains("127.0.0.1:8080"),
            "{err}"
        );
        let err = load_text("[servcie]\nlisten = \"x\"\n", &[]).unwrap_err().0;
        assert!(
            err.contains("[servcie]") && err.contains("service"),
            "{err}"
        );
        let err = load_text("[connectwise]\nprivate_key = \"zzz-secret\"\n", &[])
            .unwrap_err()
            .0;
        assert!(
            err.contains("connectwise.private_key") && err.contains("connect"),
            "{err}"
        );
        assert!(!err.contains("zzz-secret"));
        let err = load_text("", &[("CENTRALBRIDGE_SYNC_USAGE_INTERVAL", "soon")])
            .unwrap_err()
            .0;
        assert!(err.contains("CENTRALBRIDGE_SYNC_USAGE_INTERVAL"), "{err}");
        let err = load_text("[database]\nurl = \"mysql://u:pw@h/d\"\n", &[])
            .unwrap_err()
            .0;
        assert!(
            err.contains("database.url") && !err.contains("pw@"),
            "{err}"
        );
        let err = load_text("[sync\n", &[]).unwrap_err().0;
        assert!(err.contains("not valid TOML"), "{err}");
    }

    #[test]
    fn rate_limits_and_approval_are_checked_on_load() {
        let c = load_text(
            "[connectwise]\nrequests_per_minute = 600\n[sophos]\nrequests_per_minute = \"off\"\n[usage]\napproval = \"required\"\n",
            &[],
        )
        .unwrap();
        assert_eq!(
            c.connectwise.requests_per_minute,
            Some(Limit::PerMinute(600))
        );
        assert_eq!(
            c.sophos.requests_per_minute,
            Some(Limit::Word(LimitWord::Off))
        );
        assert_eq!(c.usage.approval, Approval::Required);
        let c = load_text(
            "",
            &[("CENTRALBRIDGE_CONNECTWISE_REQUESTS_PER_MINUTE", "120")],
        )
        .unwrap();
        assert_eq!(
            c.connectwise.requests_per_minute,
            Some(Limit::PerMinute(120))
        );
        for (text, key) in [
            (
                "[connectwise]\nrequests_per_minute = 0\n",
                "connectwise.requests_per_minute",
            ),
            (
                "[sophos]\nrequests_per_minute = \"fast\"\n",
                "sophos.requests_per_minute",
            ),
            ("[usage]\napproval = \"sometimes\"\n", "usage.approval"),
        ] {
            let err = load_text(text, &[]).unwrap_err().0;
            assert!(err.contains(key) && err.contains("Fix:"), "{err}");
        }
    }

    #[test]
    fn redacts_the_database_password() {
        let config = load_text("[database]\nurl = \"postgres://cb:hunter2@db/cb\"\n", &[]).unwrap();
        let shown = toml::to_string(&config.redacted()).unwrap();
        assert!(
            !shown.contains("hunter2") && shown.contains("cb:***@db"),
            "{shown}"
        );
    }

    #[test]
    fn durations() {
        assert_eq!(
            parse_duration("90s"),
            Some(std::time::Duration::from_secs(90))
        );
        assert_eq!(
            parse_duration("1h 30m"),
            Some(std::time::Duration::from_secs(5400))
        );
        assert_eq!(parse_duration("-5m"), None);
        assert_eq!(parse_duration("soon"), None);
    }
}
