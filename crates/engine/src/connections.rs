//! The two vendor connections as they are stored: non-secret settings as JSON, the one secret
//! (ConnectWise private key, Sophos client secret) encrypted by the store.
//!
//! Everything that talks to a vendor gets its client from here, so a command run against an empty
//! store tells the user which `connect` command to run instead of failing somewhere deeper.

use connectwise::CwConfig;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use sophos::SophosConfig;

use crate::store::{ConnectionKind, CoreStore as _, Store, StoreError};

/// Non-secret settings of the ConnectWise connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectWiseSettings {
    /// The site as entered, normalised (e.g. `api-na.myconnectwise.net` or `http://127.0.0.1:8080`).
    pub site: String,
    /// The login company id: the company typed on the ConnectWise login page (e.g. `examplemsp`).
    pub company_id: String,
    /// The API member's public key (the private key is the stored secret).
    pub public_key: String,
    /// The integration's clientId GUID from ConnectWise's developer portal, sent on every call.
    pub client_id: String,
    /// A codebase to use instead of discovering it (e.g. `v2025_1/`); `None` discovers it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codebase: Option<String>,
    /// Plain HTTP is allowed only for the sandbox.
    #[serde(default)]
    pub allow_http: bool,
}

/// Non-secret settings of the Sophos Central connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SophosSettings {
    /// The client id of the Sophos Central Partner API credential (the secret is stored encrypted).
    pub client_id: String,
    /// The full URL of Sophos's token endpoint.
    pub token_url: String,
    /// The base URL of Sophos's global API (whoami, partner, billing).
    pub global_url: String,
}

/// Why a client could not be built from the store.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    /// No connection of this kind is stored yet; the message names the `connect` command to run.
    #[error("{}", messages::not_connected(*.0))]
    Missing(ConnectionKind),
    /// The stored settings of this kind do not (de)serialize; the text is serde's explanation.
    #[error("{}", messages::corrupt(*.0, .1))]
    Corrupt(ConnectionKind, String),
    /// Reading or writing the store failed (including a wrong master key).
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Connecting to ConnectWise failed (e.g. codebase discovery).
    #[error(transparent)]
    ConnectWise(#[from] connectwise::CwError),
    /// Connecting to Sophos failed (token or whoami).
    #[error(transparent)]
    Sophos(#[from] sophos::SophosError),
}

impl ConnectWiseSettings {
    /// The client configuration for these settings and `private_key`, with the client's defaults for
    /// limits and retries (callers may tune them before connecting).
    pub fn client_config(&self, private_key: SecretString) -> CwConfig {
        let mut cfg = CwConfig::new(
            self.site.clone(),
            self.company_id.clone(),
            self.public_key.clone(),
            private_key,
            self.client_id.clone(),
        );
        cfg.codebase_override = self.codebase.clone();
        cfg.allow_http = self.allow_http;
        cfg.rate_limit = rate_limits().connectwise;
        cfg
    }
}

impl SophosSettings {
    /// The client configuration for these settings and `client_secret`.
    pub fn client_config(&self, client_secret: SecretString) -> SophosConfig {
        let mut cfg = SophosConfig::new(self.client_id.clone(), client_secret);
        cfg.token_url = self.token_url.clone();
        cfg.global_url = self.global_url.clone();
        cfg.rate_limit = rate_limits().sophos;
        cfg
    }
}

/// Our own pace toward each vendor, for every client this process builds from the stored
/// connections (the config's `[connectwise]` / `[sophos] requests_per_minute`, set once at start).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Toward the ConnectWise site.
    pub connectwise: connectwise::RateLimit,
    /// Toward each Sophos host.
    pub sophos: sophos::RateLimit,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            connectwise: connectwise::RateLimit::per_minute(
                connectwise::DEFAULT_REQUESTS_PER_MINUTE,
            ),
            sophos: sophos::RateLimit::per_minute(sophos::DEFAULT_REQUESTS_PER_MINUTE),
        }
    }
}

static RATE_LIMITS: std::sync::RwLock<Option<RateLimits>> = std::sync::RwLock::new(None);

/// Sets the pace of every client built from now on in this process.
pub fn set_rate_limits(limits: RateLimits) {
    if let Ok(mut l) = RATE_LIMITS.write() {
        *l = Some(limits);
    }
}

/// The pace clients get: what [`set_rate_limits`] set, else the defaults.
pub fn rate_limits() -> RateLimits {
    RATE_LIMITS.read().ok().and_then(|l| *l).unwrap_or_default()
}

/// Stores the ConnectWise connection (replacing any previous one in one transaction).
pub async fn save_connectwise(
    store: &Store,
    settings: &ConnectWiseSettings,
    private_key: &SecretString,
) -> Result<(), ConnectionError> {
    let value = serde_json::to_value(settings)
        .map_err(|e| ConnectionError::Corrupt(ConnectionKind::Connectwise, e.to_string()))?;
    store
        .save_connection(ConnectionKind::Connectwise, &value, private_key)
        .await?;
    Ok(())
}

/// Stores the Sophos connection (replacing any previous one in one transaction).
pub async fn save_sophos(
    store: &Store,
    settings: &SophosSettings,
    client_secret: &SecretString,
) -> Result<(), ConnectionError> {
    let value = serde_json::to_value(settings)
        .map_err(|e| ConnectionError::Corrupt(ConnectionKind::Sophos, e.to_string()))?;
    store
        .save_connection(ConnectionKind::Sophos, &value, client_secret)
        .await?;
    Ok(())
}

/// The stored ConnectWise client configuration (secret decrypted).
pub async fn connectwise_config(store: &Store) -> Result<CwConfig, ConnectionError> {
    let kind = ConnectionKind::Connectwise;
    let conn = store
        .load_connection(kind)
        .await?
        .ok_or(ConnectionError::Missing(kind))?;
    let settings: ConnectWiseSettings = serde_json::from_value(conn.settings)
        .map_err(|e| ConnectionError::Corrupt(kind, e.to_string()))?;
    Ok(settings.client_config(conn.secret))
}

/// The stored Sophos client configuration (secret decrypted).
pub async fn sophos_config(store: &Store) -> Result<SophosConfig, ConnectionError> {
    let kind = ConnectionKind::Sophos;
    let conn = store
        .load_connection(kind)
        .await?
        .ok_or(ConnectionError::Missing(kind))?;
    let settings: SophosSettings = serde_json::from_value(conn.settings)
        .map_err(|e| ConnectionError::Corrupt(kind, e.to_string()))?;
    Ok(settings.client_config(conn.secret))
}

/// A connected ConnectWise client built from the stored connection (discovers the codebase).
pub async fn connectwise_client(store: &Store) -> Result<connectwise::Client, ConnectionError> {
    Ok(connectwise::Client::connect(connectwise_config(store).await?).await?)
}

/// A connected Sophos client built from the stored connection (token + whoami).
pub async fn sophos_client(store: &Store) -> Result<sophos::Client, ConnectionError> {
    Ok(sophos::Client::connect(sophos_config(store).await?).await?)
}

/// A value the user gives to `connect`, to say which one is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectField {
    /// The ConnectWise site: unusable, unreachable, or not answering as ConnectWise.
    Site,
    /// The ConnectWise login company id: badly formed or unknown on the site.
    CompanyId,
    /// The API member's public key: badly formed.
    PublicKey,
    /// The API member's private key: badly formed, the public key again, or the pair refused.
    PrivateKey,
    /// The ConnectWise clientId: missing, not a GUID, or refused.
    ClientId,
    /// The `--codebase` given does not exist on the site.
    Codebase,
    /// The Sophos client id: missing, refused, or not a partner credential.
    SophosClientId,
    /// The Sophos client secret: missing or refused.
    SophosClientSecret,
    /// The Sophos token or API URL: invalid or unreachable.
    SophosUrl,
}

/// Why a connection was not saved: the value at fault (when known) and what to do.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{message}")]
pub struct ConnectProblem {
    /// The value at fault; `None` when the failure is not about one value (e.g. saving failed).
    pub field: Option<ConnectField>,
    /// What is wrong and what to do, for the user.
    pub message: String,
}

impl ConnectProblem {
    fn new(field: ConnectField, message: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            message: message.into(),
        }
    }
    fn other(message: impl Into<String>) -> Self {
        Self {
            field: None,
            message: message.into(),
        }
    }
}

/// The site as the API needs it (`https://api-na.myconnectwise.net`) and what was corrected.
pub fn check_site(input: &str, allow_http: bool) -> Result<(String, Vec<String>), ConnectProblem> {
    let (origin, notes) = connectwise::normalize_site(input, allow_http)
        .map_err(|e| ConnectProblem::new(ConnectField::Site, messages::bad_site(&e.to_string())))?;
    let mut notes: Vec<String> = notes.into_iter().map(|n| n.0).collect();
    let typed = input.trim().trim_end_matches('/');
    let host = origin.split("://").nth(1).unwrap_or(&origin);
    if notes.is_empty() && !typed.eq_ignore_ascii_case(host) && !typed.eq_ignore_ascii_case(&origin)
    {
        notes.push(messages::site_used(host, typed));
    }
    notes.dedup();
    Ok((origin, notes))
}

/// The login company id: a word, not a URL or a record number.
pub fn check_company_id(input: &str) -> Result<(String, Vec<String>), ConnectProblem> {
    let v = input.trim();
    let bad =
        |why: &str| ConnectProblem::new(ConnectField::CompanyId, messages::bad_company_id(v, why));
    if v.is_empty() {
        return Err(bad("it is empty"));
    }
    if v.contains("://") || v.contains('/') || v.contains('.') {
        return Err(bad("it looks like a web address"));
    }
    if v.chars().any(|c| c.is_whitespace() || c == '+' || c == ':') {
        return Err(bad("it contains spaces, '+' or ':'"));
    }
    let mut notes = Vec::new();
    if v.chars().all(|c| c.is_ascii_digit()) {
        notes.push(messages::numeric_company_id(v));
    }
    Ok((v.to_owned(), notes))
}

fn key_shape(v: &str) -> bool {
    (8..=64).contains(&v.len()) && v.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The API member's public key: letters and digits (16 on ConnectWise cloud).
pub fn check_public_key(input: &str) -> Result<String, ConnectProblem> {
    let v = input.trim();
    if !key_shape(v) {
        return Err(ConnectProblem::new(
            ConnectField::PublicKey,
            messages::bad_key("public", v.is_empty()),
        ));
    }
    Ok(v.to_owned())
}

/// The private key: same shape, and not the public key again. `Ok(Some(question))` when it looks
/// wrong but might be right (the caller asks the user).
pub fn check_private_key(private: &str, public: &str) -> Result<Option<String>, ConnectProblem> {
    let v = private.trim();
    if !key_shape(v) {
        return Err(ConnectProblem::new(
            ConnectField::PrivateKey,
            messages::bad_key("private", v.is_empty()),
        ));
    }
    if v == public.trim() {
        return Err(ConnectProblem::new(
            ConnectField::PrivateKey,
            messages::PRIVATE_IS_PUBLIC,
        ));
    }
    if v.eq_ignore_ascii_case(public.trim())
        || (v.len() >= 12 && public.trim().starts_with(&v[..12]))
    {
        return Ok(Some(messages::PRIVATE_LOOKS_PUBLIC.to_owned()));
    }
    Ok(None)
}

/// The clientId: a GUID from ConnectWise's developer portal.
pub fn check_client_id(input: &str) -> Result<String, ConnectProblem> {
    let v = input.trim().trim_matches(|c| c == '{' || c == '}');
    if v.is_empty() {
        return Err(ConnectProblem::new(
            ConnectField::ClientId,
            messages::CLIENT_ID_MISSING,
        ));
    }
    uuid::Uuid::parse_str(v)
        .map(|u| u.hyphenated().to_string())
        .map_err(|_| ConnectProblem::new(ConnectField::ClientId, messages::bad_client_id(v)))
}

/// What a successful ConnectWise connection test found.
#[derive(Debug, Clone, Serialize)]
pub struct ConnectWiseTest {
    /// The site as the API needs it (e.g. `https://api-na.myconnectwise.net`), as it is saved.
    pub origin: String,
    /// The codebase in use (discovered, or the one given).
    pub codebase: String,
    /// The company name ConnectWise reports for the login company id; `None` when it gave none.
    pub company_name: Option<String>,
    /// Corrections made to what was typed, to show the user.
    pub notes: Vec<String>,
}

/// Tests `settings` + `private_key` against ConnectWise: the site answers, the company id is known,
/// the keys and clientId are accepted. Reads only.
pub async fn test_connectwise(
    settings: &ConnectWiseSettings,
    private_key: &SecretString,
) -> Result<ConnectWiseTest, ConnectProblem> {
    let (origin, notes) = check_site(&settings.site, settings.allow_http)?;
    let mut cfg = settings.client_config(private_key.clone());
    cfg.site = origin.clone();
    cfg.retry = connectwise::RetryPolicy::none();
    cfg.timeout = std::time::Duration::from_secs(30);
    let info = match connectwise::Client::company_info(&cfg).await {
        Ok(Some(info)) => info,
        Ok(None) => {
            return Err(ConnectProblem::new(
                ConnectField::CompanyId,
                messages::unknown_company(&settings.company_id, &origin),
            ));
        }
        Err(e @ (connectwise::CwError::Transport { .. } | connectwise::CwError::Server { .. }))
        | Err(e @ connectwise::CwError::NotFound { .. }) => {
            return Err(ConnectProblem::new(
                ConnectField::Site,
                messages::site_unreachable(&origin, &e.to_string()),
            ));
        }
        Err(e) => return Err(ConnectProblem::new(ConnectField::Site, e.to_string())),
    };
    let client = connectwise::Client::connect(cfg)
        .await
        .map_err(|e| ConnectProblem::new(ConnectField::Site, e.to_string()))?;
    let answer = client.probe_read("system/info").await;
    match &answer.error {
        None | Some(connectwise::CwError::Permission { .. }) => {}
        Some(connectwise::CwError::Auth { .. }) => {
            return Err(ConnectProblem::new(
                ConnectField::PrivateKey,
                messages::KEYS_REFUSED,
            ));
        }
        Some(connectwise::CwError::Validation { message, .. })
            if message.to_ascii_lowercase().contains("clientid") =>
        {
            return Err(ConnectProblem::new(
                ConnectField::ClientId,
                messages::client_id_refused(message),
            ));
        }
        Some(connectwise::CwError::NotFound { .. }) if settings.codebase.is_some() => {
            return Err(ConnectProblem::new(
                ConnectField::Codebase,
                messages::bad_codebase(&client.codebase()),
            ));
        }
        Some(
            e @ (connectwise::CwError::Transport { .. } | connectwise::CwError::Server { .. }),
        ) => {
            return Err(ConnectProblem::new(
                ConnectField::Site,
                messages::site_unreachable(&origin, &e.to_string()),
            ));
        }
        Some(e) => return Err(ConnectProblem::other(e.to_string())),
    }
    Ok(ConnectWiseTest {
        origin,
        codebase: client.codebase(),
        company_name: info.company_name,
        notes,
    })
}

/// Tests the connection and, only if it works, saves it (replacing the previous one in one
/// transaction). On any failure the stored connection is left as it was.
pub async fn connect_connectwise(
    store: &Store,
    settings: &ConnectWiseSettings,
    private_key: &SecretString,
) -> Result<ConnectWiseTest, ConnectProblem> {
    let test = test_connectwise(settings, private_key).await?;
    let mut saved = settings.clone();
    saved.site = test.origin.clone();
    save_connectwise(store, &saved, private_key)
        .await
        .map_err(|e| ConnectProblem::other(e.to_string()))?;
    Ok(test)
}

/// What a successful Sophos connection test found.
#[derive(Debug, Clone, Serialize)]
pub struct SophosTest {
    /// The partner id whoami returned for the credential.
    pub partner_id: String,
}

/// Tests the Sophos credential: token, whoami = partner. Reads only.
pub async fn test_sophos(
    settings: &SophosSettings,
    client_secret: &SecretString,
) -> Result<SophosTest, ConnectProblem> {
    if settings.client_id.trim().is_empty() {
        return Err(ConnectProblem::new(
            ConnectField::SophosClientId,
            messages::SOPHOS_CLIENT_ID_MISSING,
        ));
    }
    let mut cfg = settings.client_config(client_secret.clone());
    cfg.retry = sophos::RetryPolicy::none();
    match sophos::Client::connect(cfg).await {
        Ok(c) => Ok(SophosTest {
            partner_id: c.partner_id().to_owned(),
        }),
        Err(sophos::SophosError::Auth { code, .. }) => {
            let field = match code.as_deref() {
                Some(c) if c.contains("client_id") || c.contains("clientid") => {
                    ConnectField::SophosClientId
                }
                _ => ConnectField::SophosClientSecret,
            };
            Err(ConnectProblem::new(field, messages::SOPHOS_REFUSED))
        }
        Err(sophos::SophosError::NotPartner { id_type }) => Err(ConnectProblem::new(
            ConnectField::SophosClientId,
            messages::sophos_not_partner(&id_type),
        )),
        Err(
            e @ (sophos::SophosError::InvalidConfig { .. } | sophos::SophosError::Transport { .. }),
        ) => Err(ConnectProblem::new(
            ConnectField::SophosUrl,
            messages::sophos_unreachable(&settings.token_url, &e.to_string()),
        )),
        Err(e) => Err(ConnectProblem::other(e.to_string())),
    }
}

/// Tests the Sophos credential and, only if it works, saves it.
pub async fn connect_sophos(
    store: &Store,
    settings: &SophosSettings,
    client_secret: &SecretString,
) -> Result<SophosTest, ConnectProblem> {
    let test = test_sophos(settings, client_secret).await?;
    save_sophos(store, settings, client_secret)
        .await
        .map_err(|e| ConnectProblem::other(e.to_string()))?;
    Ok(test)
}

/// User-facing text of this module.
pub mod messages {
    use crate::store::ConnectionKind;

    /// No connection of `kind` is stored yet.
    pub fn not_connected(kind: ConnectionKind) -> String {
        match kind {
            ConnectionKind::Connectwise => "No ConnectWise connection is stored yet. Run `centralbridge connect connectwise` \
                 with your site, company id, the API member's public and private keys, and your clientId."
                .to_owned(),
            ConnectionKind::Sophos => "No Sophos Central connection is stored yet. Run `centralbridge connect sophos` \
                 with the client id and secret of a Sophos Central Partner API credential."
                .to_owned(),
        }
    }

    /// The stored connection of `kind` cannot be read.
    pub fn corrupt(kind: ConnectionKind, detail: &str) -> String {
        format!(
            "The stored {} connection could not be read ({detail}). Run `centralbridge connect {}` again to replace it.",
            kind.as_str(),
            kind.as_str()
        )
    }

    /// The ConnectWise site typed cannot be turned into an API address.
    pub fn bad_site(detail: &str) -> String {
        format!(
            "The ConnectWise site is not usable: {detail} Use the address you open ConnectWise with, e.g. na.myconnectwise.net."
        )
    }

    /// A note that another host than the one typed is used for the site.
    pub fn site_used(api_host: &str, typed: &str) -> String {
        format!("using {api_host} instead of {typed}")
    }

    /// The login company id is empty, a web address, or has spaces, `+` or `:`.
    pub fn bad_company_id(v: &str, why: &str) -> String {
        format!(
            "The company id '{v}' is not usable ({why}): it is the company you type on the ConnectWise login page, e.g. 'examplemsp'."
        )
    }

    /// A warning that the login company id is all digits (usually a word).
    pub fn numeric_company_id(v: &str) -> String {
        format!(
            "The company id '{v}' is a number; the login company id is usually a word (the company you type on the ConnectWise login page)."
        )
    }

    /// The public or private key is missing or not 8-64 letters and digits.
    pub fn bad_key(which: &str, empty: bool) -> String {
        let what = if empty {
            "is missing"
        } else {
            "does not look like a ConnectWise API key (8-64 letters and digits)"
        };
        format!(
            "The {which} key {what}. Keys are created for the API member in ConnectWise: System > Members > API Members > (the member) > API Keys."
        )
    }

    /// The private key typed is exactly the public key.
    pub const PRIVATE_IS_PUBLIC: &str = "The private key is the same as the public key: paste the private key, shown only once when the API key was created. If it is lost, create a new API key: System > Members > API Members > (the member) > API Keys.";
    /// A question when the private key looks like the public key (same start or case only).
    pub const PRIVATE_LOOKS_PUBLIC: &str = "The private key looks like the public key (same start). Did you paste the public key twice?";

    /// No clientId was given.
    pub const CLIENT_ID_MISSING: &str = "The clientId is missing. It is the integration's GUID from ConnectWise's developer portal (developer.connectwise.com > ClientID); ConnectWise requires it on every API call.";

    /// The clientId given is not a GUID.
    pub fn bad_client_id(v: &str) -> String {
        format!(
            "The clientId '{v}' is not a GUID. Get it from ConnectWise's developer portal: developer.connectwise.com > ClientID."
        )
    }

    /// ConnectWise refused the clientId on the test call.
    pub fn client_id_refused(detail: &str) -> String {
        format!(
            "ConnectWise refused the clientId ({detail}). Get a valid one from developer.connectwise.com > ClientID."
        )
    }

    /// The site does not know the login company id.
    pub fn unknown_company(id: &str, origin: &str) -> String {
        format!(
            "The company id {id} is not known on this site ({origin}): it is the company you type on the ConnectWise login page."
        )
    }

    /// The ConnectWise site cannot be reached, fails with a server error, or has no API there.
    pub fn site_unreachable(origin: &str, detail: &str) -> String {
        format!(
            "The ConnectWise site {origin} does not answer ({detail}). Check the site: it is the address you open ConnectWise with, e.g. na.myconnectwise.net."
        )
    }

    /// ConnectWise refused the public/private key pair.
    pub const KEYS_REFUSED: &str = "The public/private key pair was refused: create a new API key for the API member (System > Members > API Members > API Keys) and enter both keys again.";

    /// The `--codebase` given does not exist on the site.
    pub fn bad_codebase(cb: &str) -> String {
        format!(
            "The codebase '{cb}' does not exist on this site: leave --codebase out to discover it."
        )
    }

    /// No Sophos client id was given.
    pub const SOPHOS_CLIENT_ID_MISSING: &str = "The Sophos client id is missing: create an API credential in Sophos Central Partner: Settings & policies > API Credentials.";
    /// No Sophos client secret was given.
    pub const SOPHOS_SECRET_MISSING: &str = "The Sophos client secret is missing: it is shown once when the API credential is created in Sophos Central Partner: Settings & policies > API Credentials.";
    /// Sophos refused the credential at the token endpoint.
    pub const SOPHOS_REFUSED: &str = "The Sophos client secret was refused — create a new credential in Sophos Central Partner: Settings & policies > API Credentials.";

    /// The Sophos credential belongs to a tenant or organization, not to the partner.
    pub fn sophos_not_partner(id_type: &str) -> String {
        format!(
            "This Sophos credential belongs to a {id_type}, not to the partner: create it in Sophos Central Partner: Settings & policies > API Credentials."
        )
    }

    /// Sophos's token or API URL is invalid or cannot be reached.
    pub fn sophos_unreachable(url: &str, detail: &str) -> String {
        format!(
            "Sophos Central at {url} cannot be reached ({detail}). Check --token-url/--api-url (leave them out for Sophos production)."
        )
    }
}
