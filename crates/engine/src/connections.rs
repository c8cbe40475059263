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
    pub company_id: String,
    pub public_key: String,
    pub client_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub codebase: Option<String>,
    /// Plain HTTP is allowed only for the sandbox.
    #[serde(default)]
    pub allow_http: bool,
}

/// Non-secret settings of the Sophos Central connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SophosSettings {
    pub client_id: String,
    pub token_url: String,
    pub global_url: String,
}

/// Why a client could not be built from the store.
#[derive(Debug, thiserror::Error)]
pub enum ConnectionError {
    #[error("{}", messages::not_connected(*.0))]
    Missing(ConnectionKind),
    #[error("{}", messages::corrupt(*.0, .1))]
    Corrupt(ConnectionKind, String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    ConnectWise(#[from] connectwise::CwError),
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
        cfg
    }
}

impl SophosSettings {
    /// The client configuration for these settings and `client_secret`.
    pub fn client_config(&self, client_secret: SecretString) -> SophosConfig {
        let mut cfg = SophosConfig::new(self.client_id.clone(), client_secret);
        cfg.token_url = self.token_url.clone();
        cfg.global_url = self.global_url.clone();
        cfg
    }
}

/// Stores the ConnectWise connection (replacing any previous one in one transaction).
pub async fn save_connectwise(
    store: &Store,
    settings: &ConnectWiseSettings,
    private_key: &SecretString,
) -> Result<(), ConnectionError> {
    let value = serde_json::to_value(settings)
        .map_err(|e| ConnectionError::Corrupt(ConnectionKind::Connectwise, e.to_string()))?;
    store.save_connection(ConnectionKind::Connectwise, &value, private_key).await?;
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
    store.save_connection(ConnectionKind::Sophos, &value, client_secret).await?;
    Ok(())
}

/// The stored ConnectWise client configuration (secret decrypted).
pub async fn connectwise_config(store: &Store) -> Result<CwConfig, ConnectionError> {
    let kind = ConnectionKind::Connectwise;
    let conn = store.load_connection(kind).await?.ok_or(ConnectionError::Missing(kind))?;
    let settings: ConnectWiseSettings =
        serde_json::from_value(conn.settings).map_err(|e| ConnectionError::Corrupt(kind, e.to_string()))?;
    Ok(settings.client_config(conn.secret))
}

/// The stored Sophos client configuration (secret decrypted).
pub async fn sophos_config(store: &Store) -> Result<SophosConfig, ConnectionError> {
    let kind = ConnectionKind::Sophos;
    let conn = store.load_connection(kind).await?.ok_or(ConnectionError::Missing(kind))?;
    let settings: SophosSettings =
        serde_json::from_value(conn.settings).map_err(|e| ConnectionError::Corrupt(kind, e.to_string()))?;
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

/// User-facing text of this module.
pub mod messages {
    use crate::store::ConnectionKind;

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

    pub fn corrupt(kind: ConnectionKind, detail: &str) -> String {
        format!(
            "The stored {} connection could not be read ({detail}). Run `centralbridge connect {}` again to replace it.",
            kind.as_str(),
            kind.as_str()
        )
    }
}
