//! Dashboard accounts: named users with roles (argon2id hashes in the store), server-side sessions
//! (the cookie holds a random id; the store holds its SHA-256, with an idle and an absolute end),
//! a CSRF token per session, and a login throttle shared through the store by every process.
//!
//! Throttling is per login name and per client address: from the third failure in a row each
//! further attempt must wait (1 s, 2 s, 4 s, … up to about a minute), and ten failures lock the
//! name for 15 minutes; an address, shared by an office, gets five times that allowance. The answer is the same whether or not the name exists, and a wrong password costs
//! the same time either way (an unknown name is checked against a dummy hash).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use engine::store::{
    AccountStore as _, CoreStore as _, Role, SessionRow, Store, StoreError, Throttle, User,
    normalise_name,
};
use jiff::Timestamp;
use rand::Rng as _;
use secrecy::{ExposeSecret as _, SecretString};
use sha2::{Digest as _, Sha256};

use super::messages;

/// Settings key of the single password of earlier versions; turned into the account `admin` once.
pub const LEGACY_PASSWORD_SETTING: &str = "dashboard.password_hash";
/// Name of the session cookie.
pub const SESSION_COOKIE: &str = "cb_session";
/// Name of the pre-login cookie used for the login form's CSRF check (double submit).
pub const PRELOGIN_COOKIE: &str = "cb_prelogin";
/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;
/// Longest login name accepted.
pub const MAX_NAME_LEN: usize = 64;
/// How many times a name's allowance of failures a client address gets (offices share one).
pub const ADDRESS_SCALE: i64 = 5;
/// The metric counting refused logins (wrong password, unknown name, disabled, throttled).
pub const FAILED_LOGINS_METRIC: &str = "centralbridge_dashboard_login_failures_total";

/// Why an account operation could not be done (a wrong password is not an error: see [`Login`]).
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The store could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Argon2 could not hash the password.
    #[error("the password could not be hashed: {0}")]
    Hash(String),
    /// The input is not acceptable; the message names the problem and ends with a fix.
    #[error("{0}")]
    Invalid(String),
}

/// How long sessions last and how hard logins are throttled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after login, however busy.
    pub absolute: Duration,
    /// Failures in a row before each further attempt must wait.
    pub free_failures: i64,
    /// Failures in a row that lock the key.
    pub lock_after: i64,
    /// How long a lock lasts; failures older than this are forgotten.
    pub lock_for: Duration,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(2 * 3600),
            absolute: Duration::from_secs(12 * 3600),
            free_failures: 2,
            lock_after: 10,
            lock_for: Duration::from_secs(15 * 60),
        }
    }
}

/// The clock sessions and throttling read; tests replace it.
pub type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// A logged-in session (from a valid cookie).
#[derive(Debug, Clone)]
pub struct Session {
    /// The account's name, which the audit log records for every action.
    pub user: String,
    /// What the account may do.
    pub role: Role,
    /// The token every action of this session must carry.
    pub csrf: String,
}

impl Session {
    /// Whether the session's role includes `needed`.
    pub fn may(&self, needed: Role) -> bool {
        self.role.allows(needed)
    }

    /// Who the audit log names for this session's actions, e.g. `ana (dashboard)`.
    pub fn actor(&self) -> String {
        actor_of(&self.user)
    }
}

/// How a login attempt ended.
#[derive(Debug)]
pub enum Login {
    /// Logged in: the cookie value and the session.
    Ok {
        /// The session cookie's value (the session id); never logged.
        cookie: SecretString,
        /// The new session.
        session: Session,
    },
    /// Wrong name or password, or a disabled account (the answer does not say which).
    Refused,
    /// Too many failures: no attempt is checked until `until`.
    Throttled {
        /// When the next attempt is looked at.
        until: Timestamp,
        /// How long that is from now.
        retry_in: Duration,
    },
}

/// The dashboard's authentication state.
pub struct Auth {
    store: Store,
    policy: Policy,
    clock: Mutex<Clock>,
    /// One-time token printed by `serve` while no account exists; cleared once used.
    setup_token: Mutex<Option<SecretString>>,
    /// A hash to check unknown names against, so they cost what a real check costs.
    dummy_hash: String,
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Auth")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
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

/// Compares in constant time (for tokens).
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The audit log's name for a dashboard account, e.g. `ana (dashboard)`.
pub fn actor_of(user: &str) -> String {
    format!("{user} (dashboard)")
}

fn digest(id: &str) -> String {
    Sha256::digest(id.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn hash_password(password: &SecretString) -> Result<String, AuthError> {
    Argon2::default()
        .hash_password(password.expose_secret().as_bytes())
        .map(|h| h.to_string())
        .map_err(|e| AuthError::Hash(e.to_string()))
}

fn after(t: Timestamp, d: Duration) -> Timestamp {
    jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|d| t.checked_add(d).ok())
        .unwrap_or(Timestamp::MAX)
}

/// Checks a login name: 1 to 64 letters, digits, `.`, `_`, `-` or `@`.
pub fn check_name(name: &str) -> Result<String, AuthError> {
    let n = normalise_name(name);
    let ok = !n.is_empty()
        && n.chars().count() <= MAX_NAME_LEN
        && n.chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if ok {
        Ok(n)
    } else {
        Err(AuthError::Invalid(messages::bad_user_name(
            name,
            MAX_NAME_LEN,
        )))
    }
}

/// Checks a new password: at least [`MIN_PASSWORD_LEN`] characters.
pub fn check_password(password: &SecretString) -> Result<(), AuthError> {
    if password.expose_secret().chars().count() < MIN_PASSWORD_LEN {
        return Err(AuthError::Invalid(messages::setup_too_short(
            MIN_PASSWORD_LEN,
        )));
    }
    Ok(())
}

impl Auth {
    /// Authentication over `store` with the default [`Policy`] and the system clock. No setup token
    /// exists until [`Auth::setup_token`] is asked for.
    pub fn new(store: Store) -> Self {
        Self::with_policy(store, Policy::default())
    }

    /// [`Auth::new`] with another policy.
    pub fn with_policy(store: Store, policy: Policy) -> Self {
        let dummy_hash =
            hash_password(&SecretString::from(random_token())).unwrap_or_else(|_| String::new());
        Self {
            store,
            policy,
            clock: Mutex::new(Arc::new(Timestamp::now)),
            setup_token: Mutex::new(None),
            dummy_hash,
        }
    }

    /// Replaces the clock (tests move it to end locks and sessions).
    pub fn set_clock(&self, clock: Clock) {
        *self.clock.lock().unwrap_or_else(|e| e.into_inner()) = clock;
    }

    fn now(&self) -> Timestamp {
        let clock = self.clock.lock().unwrap_or_else(|e| e.into_inner()).clone();
        clock()
    }

    /// The policy in force.
    pub fn policy(&self) -> Policy {
        self.policy
    }

    /// True once an account exists. The single password of earlier versions becomes the account
    /// `admin` the first time this is asked.
    pub async fn has_users(&self) -> Result<bool, AuthError> {
        if !self.store.list_users().await?.is_empty() {
            return Ok(true);
        }
        let legacy = self
            .store
            .get_setting(LEGACY_PASSWORD_SETTING)
            .await?
            .and_then(|v| v.as_str().map(str::to_owned));
        if let Some(hash) = legacy {
            self.store
                .create_user("admin", Role::Admin, &hash, self.now())
                .await?;
            tracing::info!("the dashboard's single password now belongs to the account `admin`");
            return Ok(true);
        }
        Ok(false)
    }

    /// Creates (or returns) the one-time setup token shown by `serve` while no account exists.
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

    /// Creates an account. The name must be free and valid, the password long enough.
    pub async fn add_user(
        &self,
        name: &str,
        role: Role,
        password: &SecretString,
    ) -> Result<User, AuthError> {
        let name = check_name(name)?;
        check_password(password)?;
        let hash = hash_blocking(password.clone()).await?;
        let user = self
            .store
            .create_user(&name, role, &hash, self.now())
            .await?
            .ok_or_else(|| AuthError::Invalid(messages::user_exists(&name)))?;
        self.clear_setup_token();
        Ok(user)
    }

    /// Sets an account's password; every session of the account ends.
    pub async fn set_password(&self, name: &str, password: &SecretString) -> Result<(), AuthError> {
        check_password(password)?;
        let hash = hash_blocking(password.clone()).await?;
        if !self
            .store
            .set_user_password(name, &hash, self.now())
            .await?
        {
            return Err(AuthError::Invalid(messages::no_such_user(name)));
        }
        Ok(())
    }

    /// Disables (or enables) an account; disabling ends its sessions. The last enabled admin
    /// cannot be disabled.
    pub async fn set_disabled(&self, name: &str, disabled: bool) -> Result<(), AuthError> {
        let user = self.user(name).await?;
        if disabled && user.role == Role::Admin && !user.disabled {
            self.refuse_last_admin().await?;
        }
        self.store.set_user_disabled(name, disabled).await?;
        Ok(())
    }

    /// Changes an account's role. The last enabled admin keeps theirs.
    pub async fn set_role(&self, name: &str, role: Role) -> Result<(), AuthError> {
        let user = self.user(name).await?;
        if user.role == Role::Admin && role != Role::Admin && !user.disabled {
            self.refuse_last_admin().await?;
        }
        self.store.set_user_role(name, role).await?;
        Ok(())
    }

    async fn refuse_last_admin(&self) -> Result<(), AuthError> {
        if self.store.count_enabled_admins().await? <= 1 {
            return Err(AuthError::Invalid(messages::LAST_ADMIN.to_owned()));
        }
        Ok(())
    }

    /// One account, or a refusal naming it.
    pub async fn user(&self, name: &str) -> Result<User, AuthError> {
        self.store
            .user_by_name(name)
            .await?
            .ok_or_else(|| AuthError::Invalid(messages::no_such_user(name)))
    }

    /// Tries a login: throttling first (per name and per client address), then the password.
    pub async fn login(
        &self,
        name: &str,
        password: &SecretString,
        client: Option<&str>,
    ) -> Result<Login, AuthError> {
        let now = self.now();
        let name = normalise_name(name);
        let keys: Vec<String> = std::iter::once(format!("user:{name}"))
            .chain(client.map(|c| format!("addr:{c}")))
            .collect();
        let mut locked_until: Option<Timestamp> = None;
        for key in &keys {
            if let Some(t) = self.store.throttle(key).await?
                && let Some(until) = t.locked_until
                && until > now
            {
                locked_until = Some(locked_until.map_or(until, |u| u.max(until)));
            }
        }
        if let Some(until) = locked_until {
            metrics::counter!(FAILED_LOGINS_METRIC, "reason" => "throttled").increment(1);
            return Ok(throttled(until, now));
        }
        let user = self.store.user_by_name(&name).await?;
        let hash = user
            .as_ref()
            .map_or(self.dummy_hash.clone(), |u| u.password_hash.clone());
        let matches = verify_blocking(password.clone(), hash).await;
        match user {
            Some(u) if matches && !u.disabled => {
                self.store.clear_throttle(&keys[0]).await?;
                let (cookie, session) = self.open_session(&u, client, now).await?;
                Ok(Login::Ok { cookie, session })
            }
            _ => {
                metrics::counter!(FAILED_LOGINS_METRIC, "reason" => "refused").increment(1);
                let mut until = None;
                for key in &keys {
                    if let Some(u) = self.record_failure(key, now).await? {
                        until = Some(until.map_or(u, |x: Timestamp| x.max(u)));
                    }
                }
                Ok(match until {
                    Some(until) => throttled(until, now),
                    None => Login::Refused,
                })
            }
        }
    }

    /// Counts a failure for `key`; the time until which it is now locked, if it is.
    async fn record_failure(
        &self,
        key: &str,
        now: Timestamp,
    ) -> Result<Option<Timestamp>, AuthError> {
        // An address is shared by everyone behind one NAT: it gets ADDRESS_SCALE times the allowance.
        let mut p = self.policy;
        if key.starts_with("addr:") {
            p.free_failures *= ADDRESS_SCALE;
            p.lock_after *= ADDRESS_SCALE;
        }
        let previous = self
            .store
            .throttle(key)
            .await?
            .filter(|t| after(t.last_failure_at, p.lock_for) > now);
        let failures = previous.map_or(0, |t| t.failures) + 1;
        let locked_until = if failures >= p.lock_after {
            Some(after(now, p.lock_for))
        } else if failures > p.free_failures {
            let steps = u32::try_from(failures - p.free_failures - 1)
                .unwrap_or(6)
                .min(6);
            Some(after(now, Duration::from_secs(1 << steps)))
        } else {
            None
        };
        let t = Throttle {
            // A lock ends the run of failures: after it, the count starts again.
            failures: if failures >= p.lock_after {
                0
            } else {
                failures
            },
            last_failure_at: now,
            locked_until,
        };
        self.store.put_throttle(key, &t).await?;
        if failures >= p.lock_after {
            tracing::warn!(
                key_kind = key.split(':').next().unwrap_or(""),
                "dashboard logins locked after repeated failures"
            );
        }
        Ok(locked_until)
    }

    async fn open_session(
        &self,
        user: &User,
        client: Option<&str>,
        now: Timestamp,
    ) -> Result<(SecretString, Session), AuthError> {
        let id = random_token();
        let csrf = random_token();
        self.store
            .create_session(&SessionRow {
                id_hash: digest(&id),
                user_id: user.id,
                csrf: csrf.clone(),
                created_at: now,
                last_seen_at: now,
                expires_at: after(now, self.policy.absolute),
                client: client.map(str::to_owned),
            })
            .await?;
        tracing::info!(user = %user.name, "dashboard login");
        Ok((
            SecretString::from(id),
            Session {
                user: user.name.clone(),
                role: user.role,
                csrf,
            },
        ))
    }

    /// Logs `user` in without a password (first setup, the demo): a new session.
    pub async fn session_for(&self, name: &str) -> Result<(SecretString, Session), AuthError> {
        let user = self.user(name).await?;
        self.open_session(&user, None, self.now()).await
    }

    /// The session a cookie value stands for, if it is live: not logged out, not idle too long, not
    /// past its end, and its account enabled.
    pub async fn session(&self, cookie: &str) -> Result<Option<Session>, AuthError> {
        if cookie.is_empty() {
            return Ok(None);
        }
        let now = self.now();
        let id_hash = digest(cookie);
        let Some(row) = self.store.session_by_hash(&id_hash).await? else {
            return Ok(None);
        };
        if row.expires_at <= now || after(row.last_seen_at, self.policy.idle) <= now {
            self.store.delete_session(&id_hash).await?;
            return Ok(None);
        }
        let Some(user) = self.store.user_by_id(row.user_id).await? else {
            return Ok(None);
        };
        if user.disabled {
            return Ok(None);
        }
        // One write a minute at most per session, not one per request.
        if after(row.last_seen_at, Duration::from_secs(60)) <= now {
            self.store.touch_session(&id_hash, now).await?;
        }
        Ok(Some(Session {
            user: user.name,
            role: user.role,
            csrf: row.csrf,
        }))
    }

    /// Ends the session of a cookie value (logout).
    pub async fn logout(&self, cookie: &str) -> Result<(), AuthError> {
        self.store.delete_session(&digest(cookie)).await?;
        Ok(())
    }

    /// Ends every session of an account; how many there were.
    pub async fn revoke_sessions(&self, name: &str) -> Result<u64, AuthError> {
        let user = self.user(name).await?;
        Ok(self.store.delete_user_sessions(user.id).await?)
    }
}

fn throttled(until: Timestamp, now: Timestamp) -> Login {
    let retry_in = Duration::try_from(until.duration_since(now)).unwrap_or(Duration::ZERO);
    Login::Throttled { until, retry_in }
}

async fn hash_blocking(password: SecretString) -> Result<String, AuthError> {
    // argon2 is deliberately slow: keep it off the async workers.
    tokio::task::spawn_blocking(move || hash_password(&password))
        .await
        .map_err(|e| AuthError::Hash(e.to_string()))?
}

async fn verify_blocking(password: SecretString, hash: String) -> bool {
    tokio::task::spawn_blocking(move || {
        argon2::PasswordHash::new(&hash).is_ok_and(|parsed| {
            Argon2::default()
                .verify_password(password.expose_secret().as_bytes(), &parsed)
                .is_ok()
        })
    })
    .await
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn auth() -> (Auth, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let key = engine::secrets::MasterKey::generate().unwrap();
        let store = Store::open(&dir.path().join("s.db").to_string_lossy(), key)
            .await
            .unwrap();
        (Auth::new(store), dir)
    }

    fn pw(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[tokio::test]
    async fn sessions_are_stored_and_end_on_logout_password_change_and_disable() {
        let (auth, _dir) = auth().await;
        assert!(!auth.has_users().await.unwrap());
        let token = auth.setup_token();
        assert!(auth.check_setup_token(token.expose_secret()));
        auth.add_user("Ana", Role::Admin, &pw("correct horse battery"))
            .await
            .unwrap();
        assert!(!auth.check_setup_token(token.expose_secret()), "one-time");
        let Login::Ok { cookie, session } = auth
            .login("ana", &pw("correct horse battery"), Some("10.0.0.1"))
            .await
            .unwrap()
        else {
            panic!("the right password logs in");
        };
        assert_eq!((session.user.as_str(), session.role), ("ana", Role::Admin));
        let c = cookie.expose_secret().to_owned();
        assert_eq!(auth.session(&c).await.unwrap().unwrap().csrf, session.csrf);
        assert!(auth.session("forged").await.unwrap().is_none());
        auth.logout(&c).await.unwrap();
        assert!(auth.session(&c).await.unwrap().is_none(), "logout ends it");

        let (c2, _) = auth.session_for("ana").await.unwrap();
        auth.set_password("ana", &pw("another long password"))
            .await
            .unwrap();
        assert!(auth.session(c2.expose_secret()).await.unwrap().is_none());
        assert!(matches!(
            auth.login("ana", &pw("correct horse battery"), None)
                .await
                .unwrap(),
            Login::Refused
        ));
        // The last admin can be neither disabled nor demoted.
        assert!(matches!(
            auth.set_disabled("ana", true).await,
            Err(AuthError::Invalid(_))
        ));
        assert!(auth.set_role("ana", Role::Viewer).await.is_err());
        auth.add_user("bo", Role::Viewer, &pw("viewer password"))
            .await
            .unwrap();
        let (c3, _) = auth.session_for("bo").await.unwrap();
        auth.set_disabled("bo", true).await.unwrap();
        assert!(auth.session(c3.expose_secret()).await.unwrap().is_none());
        assert!(matches!(
            auth.login("bo", &pw("viewer password"), None)
                .await
                .unwrap(),
            Login::Refused
        ));
        assert!(
            auth.add_user("x y", Role::Viewer, &pw("long enough pw"))
                .await
                .is_err()
        );
        assert!(
            auth.add_user("cy", Role::Viewer, &pw("short"))
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn idle_and_absolute_ends() {
        let (auth, _dir) = auth().await;
        let now = Arc::new(Mutex::new(Timestamp::from_second(2_000_000_000).unwrap()));
        let n = now.clone();
        auth.set_clock(Arc::new(move || *n.lock().unwrap()));
        let step = |d: u64| {
            let mut t = now.lock().unwrap();
            *t = after(*t, Duration::from_secs(d));
        };
        auth.add_user("ana", Role::Admin, &pw("correct horse battery"))
            .await
            .unwrap();
        let (c, _) = auth.session_for("ana").await.unwrap();
        let c = c.expose_secret().to_owned();
        // Busy: a request every hour keeps it alive until the absolute end (12 h).
        for _ in 0..11 {
            step(3600);
            assert!(auth.session(&c).await.unwrap().is_some());
        }
        step(3600);
        assert!(auth.session(&c).await.unwrap().is_none(), "absolute end");
        let (c, _) = auth.session_for("ana").await.unwrap();
        step(2 * 3600 + 1);
        assert!(
            auth.session(c.expose_secret()).await.unwrap().is_none(),
            "idle end"
        );
    }
}
