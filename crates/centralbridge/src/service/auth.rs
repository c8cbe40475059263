//! Dashboard login: one administrator password (argon2id hash in the store's settings), a signed
//! session cookie (HttpOnly, SameSite=Strict) and a CSRF token per session.
//!
//! Sessions are stateless: the cookie carries `id.expiry.mac`, signed with a key derived from the
//! master key and the current password hash. Every `serve` process sharing the store (and key)
//! accepts the same sessions, and changing the password logs every session out.

use std::sync::Mutex;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use engine::secrets::MasterKey;
use engine::store::{CoreStore as _, Store, StoreError};
use hmac::{Hmac, Mac as _};
use rand::Rng as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

/// Settings key of the password hash (a PHC string; never the password).
pub const PASSWORD_SETTING: &str = "dashboard.password_hash";
/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "cb_session";
/// Name of the pre-login cookie used for the login form's CSRF check (double submit).
pub const PRELOGIN_COOKIE: &str = "cb_prelogin";
/// How long a session lasts.
pub const SESSION_TTL_SECS: i64 = 12 * 3600;
/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;

/// Why an authentication step could not be done (not a wrong password: that is `Ok(false)`).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Argon2 could not hash the password or derive the session key.
    #[error("the password could not be hashed: {0}")]
    Hash(String),
}

/// A logged-in session (from a verified cookie).
#[derive(Debug, Clone)]
pub struct Session {
    /// The token every action of this session must carry.
    pub csrf: String,
}

/// The dashboard's authentication state.
pub struct Auth {
    store: Store,
    master: MasterKey,
    /// One-time token printed by `serve` at first start to set the password; cleared once used.
    setup_token: Mutex<Option<SecretString>>,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth").finish_non_exhaustive()
    }
}

/// A random URL-safe token of 32 bytes.
pub fn random_token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    B64.encode(bytes)
}

/// A random password people can type (letters and digits, no look-alikes).
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..16)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares in constant time (for tokens and MACs).
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl Auth {
    /// Authentication over `store`; sessions are signed with a key derived from `master` and the
    /// password hash. No setup token exists until [`Auth::setup_token`] is asked for.
    pub fn new(store: Store, master: MasterKey) -> Self {
        Self {
            store,
            master,
            setup_token: Mutex::new(None),
        }
    }

    /// True once a password has been set.
    pub async fn has_password(&self) -> Result<bool, AuthError> {
        Ok(self.password_hash().await?.is_some())
    }

    async fn password_hash(&self) -> Result<Option<String>, AuthError> {
        Ok(self
            .store
            .get_setting(PASSWORD_SETTING)
            .await?
            .and_then(|v| v.as_str().map(str::to_owned)))
    }

    /// Creates (or returns) the one-time setup token shown by `serve` while no password is set.
    pub fn setup_token(&self) -> SecretString {
        let mut guard = self.setup_token.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .get_or_insert_with(|| SecretString::from(random_token()))
            .clone()
    }

    /// Checks a setup token (without using it up).
    pub fn check_setup_token(&self, token: &str) -> bool {
        let guard = self.setup_token.lock().unwrap_or_else(|e| e.into_inner());
        guard
            .as_ref()
            .is_some_and(|t| same(t.expose_secret(), token))
    }

    fn clear_setup_token(&self) {
        let mut guard = self.setup_token.lock().unwrap_or_else(|e| e.into_inner());
        *guard = None;
    }

    /// Sets the password (argon2id). Every existing session ends.
    pub async fn set_password(&self, password: &SecretString) -> Result<(), AuthError> {
        let hash = Argon2::default()
            .hash_password(password.expose_secret().as_bytes())
            .map_err(|e| AuthError::Hash(e.to_string()))?
            .to_string();
        self.store
            .set_setting(PASSWORD_SETTING, &serde_json::Value::String(hash))
            .await?;
        self.clear_setup_token();
        Ok(())
    }

    /// Checks a password against the stored hash.
    pub async fn verify_password(&self, password: &SecretString) -> Result<bool, AuthError> {
        let Some(stored) = self.password_hash().await? else {
            return Ok(false);
        };
        // argon2 is deliberately slow: keep it off the async workers.
        let password = password.clone();
        let ok = tokio::task::spawn_blocking(move || {
            Argon2::default()
                .verify_password(password.expose_secret().as_bytes(), stored.as_str())
                .is_ok()
        })
        .await
        .unwrap_or(false);
        Ok(ok)
    }

    /// The signing key of sessions: master key + current password hash, so a password change ends
    /// every session everywhere.
    async fn signing_key(&self) -> Result<Option<Vec<u8>>, AuthError> {
        let Some(hash) = self.password_hash().await? else {
            return Ok(None);
        };
        let master = self.master.to_base64();
        let mut mac = HmacSha256::new_from_slice(master.expose_secret().as_bytes())
            .map_err(|e| AuthError::Hash(e.to_string()))?;
        mac.update(b"centralbridge dashboard session v1\n");
        mac.update(hash.as_bytes());
        Ok(Some(mac.finalize().into_bytes().to_vec()))
    }

    fn mac(key: &[u8], parts: &[&str]) -> String {
        // HMAC accepts keys of any length, so this cannot fail; fall back to an unusable MAC anyway.
        let Ok(mut mac) = HmacSha256::new_from_slice(key) else {
            return String::new();
        };
        for p in parts {
            mac.update(p.as_bytes());
            mac.update(b"\n");
        }
        hex(&mac.finalize().into_bytes())
    }

    /// A new session cookie value.
    pub async fn new_session(&self) -> Result<Option<String>, AuthError> {
        let Some(key) = self.signing_key().await? else {
            return Ok(None);
        };
        let id = random_token();
        let expires = jiff::Timestamp::now().as_second() + SESSION_TTL_SECS;
        let exp = expires.to_string();
        let mac = Self::mac(&key, &["session", &id, &exp]);
        Ok(Some(format!("{id}.{exp}.{mac}")))
    }

    /// Verifies a session cookie value; the session with its CSRF token if it is valid.
    pub async fn session(&self, cookie: &str) -> Result<Option<Session>, AuthError> {
        let mut parts = cookie.split('.');
        let (Some(id), Some(exp), Some(mac), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Ok(None);
        };
        let Ok(expires) = exp.parse::<i64>() else {
            return Ok(None);
        };
        if expires <= jiff::Timestamp::now().as_second() {
            return Ok(None);
        }
        let Some(key) = self.signing_key().await? else {
            return Ok(None);
        };
        if !same(&Self::mac(&key, &["session", id, exp]), mac) {
            return Ok(None);
        }
        Ok(Some(Session {
            csrf: Self::mac(&key, &["csrf", id]),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn auth() -> (Auth, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let key = MasterKey::generate().unwrap();
        let store = Store::open(&dir.path().join("s.db").to_string_lossy(), key.clone())
            .await
            .unwrap();
        (Auth::new(store, key), dir)
    }

    #[tokio::test]
    async fn sessions_are_signed_and_end_with_a_password_change() {
        let (auth, _dir) = auth().await;
        assert!(!auth.has_password().await.unwrap());
        assert!(auth.new_session().await.unwrap().is_none());
        let token = auth.setup_token();
        assert!(auth.check_setup_token(token.expose_secret()));
        assert!(!auth.check_setup_token("nope"));

        auth.set_password(&SecretString::from("correct horse battery"))
            .await
            .unwrap();
        assert!(!auth.check_setup_token(token.expose_secret()), "one-time");
        assert!(
            auth.verify_password(&SecretString::from("correct horse battery"))
                .await
                .unwrap()
        );
        assert!(
            !auth
                .verify_password(&SecretString::from("wrong"))
                .await
                .unwrap()
        );

        let cookie = auth.new_session().await.unwrap().unwrap();
        let s = auth.session(&cookie).await.unwrap().unwrap();
        assert_eq!(s.csrf.len(), 64);
        // Tampering with any part is refused.
        let mut forged = cookie.clone();
        forged.replace_range(0..1, if cookie.starts_with('A') { "B" } else { "A" });
        assert!(auth.session(&forged).await.unwrap().is_none());
        assert!(auth.session("a.b").await.unwrap().is_none());

        auth.set_password(&SecretString::from("another password"))
            .await
            .unwrap();
        assert!(auth.session(&cookie).await.unwrap().is_none());
    }
}
