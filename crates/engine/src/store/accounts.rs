//! The accounts area: the dashboard's named users with their roles, their server-side sessions,
//! and the login throttle shared by every process on the store.
//!
//! Password hashing and cookie handling live with the dashboard; this area stores hashes and
//! session-id digests only, so a copy of the database logs nobody in.

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row as _;

use super::{Result, StoreError, from_ms, store_area, to_ms};

/// What an account may do on the dashboard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Reads every page; changes nothing.
    Viewer,
    /// Also runs syncs, maps customers, selects products and approves plans.
    Operator,
    /// Also edits connections, settings and accounts.
    Admin,
}

impl Role {
    /// Every role, least to most.
    pub const ALL: [Role; 3] = [Role::Viewer, Role::Operator, Role::Admin];

    /// The role's name, as stored and as typed (`viewer`, `operator`, `admin`).
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Admin => "admin",
        }
    }

    /// Reads a role name (any case); `None` when it is not one.
    pub fn from_name(text: &str) -> Option<Role> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str().eq_ignore_ascii_case(text.trim()))
    }

    /// Whether this role includes everything `needed` may do.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct User {
    /// The store's id.
    pub id: i64,
    /// The login name, lower-case.
    pub name: String,
    /// What the account may do.
    pub role: Role,
    /// The argon2id PHC string; never the password. Not serialized.
    #[serde(skip)]
    pub password_hash: String,
    /// A disabled account cannot log in and has no sessions.
    pub disabled: bool,
    /// When the account was created.
    pub created_at: Timestamp,
    /// When its password was last set.
    pub password_changed_at: Timestamp,
}

/// One server-side session. The cookie holds the session id; the store holds its digest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionRow {
    /// SHA-256 of the session id, hex. Not serialized.
    #[serde(skip)]
    pub id_hash: String,
    /// The account it belongs to.
    pub user_id: i64,
    /// The token every action of the session must carry. Not serialized.
    #[serde(skip)]
    pub csrf: String,
    /// When the person logged in.
    pub created_at: Timestamp,
    /// The last request of the session (idle expiry counts from here).
    pub last_seen_at: Timestamp,
    /// The absolute end of the session, whatever its activity.
    pub expires_at: Timestamp,
    /// The client address it logged in from, when known.
    pub client: Option<String>,
}

/// Failed logins for one key (`user:<name>` or `addr:<ip>`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Throttle {
    /// Failures since the last success or the end of the last lock.
    pub failures: i64,
    /// When the last failure was.
    pub last_failure_at: Timestamp,
    /// Until when logins under this key are refused; `None` when not locked.
    pub locked_until: Option<Timestamp>,
}

/// Normalises a login name: trimmed, lower-case.
pub fn normalise_name(name: &str) -> String {
    name.trim().to_lowercase()
}

const USER_COLS: &str = "id, name, role, password_hash, disabled, created_at, password_changed_at";
const SESSION_COLS: &str = "id_hash, user_id, csrf, created_at, last_seen_at, expires_at, client";

fn user_from_row<R>(r: &R) -> Result<User>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> bool: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    let role: String = r.try_get("role")?;
    Ok(User {
        id: r.try_get("id")?,
        name: r.try_get("name")?,
        role: Role::from_name(&role).ok_or_else(|| StoreError::Corrupt {
            what: "users.role".into(),
            reason: format!("`{role}` is not a role"),
        })?,
        password_hash: r.try_get("password_hash")?,
        disabled: r.try_get("disabled")?,
        created_at: from_ms(r.try_get("created_at")?)?,
        password_changed_at: from_ms(r.try_get("password_changed_at")?)?,
    })
}

fn session_from_row<R>(r: &R) -> Result<SessionRow>
where
    R: sqlx::Row,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<String>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(SessionRow {
        id_hash: r.try_get("id_hash")?,
        user_id: r.try_get("user_id")?,
        csrf: r.try_get("csrf")?,
        created_at: from_ms(r.try_get("created_at")?)?,
        last_seen_at: from_ms(r.try_get("last_seen_at")?)?,
        expires_at: from_ms(r.try_get("expires_at")?)?,
        client: r.try_get("client")?,
    })
}

store_area! {
    /// Dashboard accounts, their sessions and the login throttle.
    pub trait AccountStore {
        /// Creates an account; `Ok(None)` when the name is taken.
        async fn create_user(&self, name: &str, role: Role, password_hash: &str, now: Timestamp) -> Result<Option<User>> {
            let sql = format!(
                "INSERT INTO users (name, role, password_hash, disabled, created_at, password_changed_at) \
                 VALUES ($1, $2, $3, $4, $5, $5) ON CONFLICT (name) DO NOTHING RETURNING {USER_COLS}"
            );
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(normalise_name(name))
                .bind(role.as_str())
                .bind(password_hash)
                .bind(false)
                .bind(to_ms(now))
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(user_from_row).transpose()
        }

        /// One account by name (any case).
        async fn user_by_name(&self, name: &str) -> Result<Option<User>> {
            let sql = format!("SELECT {USER_COLS} FROM users WHERE name = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(normalise_name(name))
                .fetch_optional(&self.pool)
                .await?;
            row.as_ref().map(user_from_row).transpose()
        }

        /// One account by id.
        async fn user_by_id(&self, id: i64) -> Result<Option<User>> {
            let sql = format!("SELECT {USER_COLS} FROM users WHERE id = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id).fetch_optional(&self.pool).await?;
            row.as_ref().map(user_from_row).transpose()
        }

        /// Every account, by name.
        async fn list_users(&self) -> Result<Vec<User>> {
            let sql = format!("SELECT {USER_COLS} FROM users ORDER BY name");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).fetch_all(&self.pool).await?;
            rows.iter().map(user_from_row).collect()
        }

        /// How many enabled admins there are (the last one may not be disabled or demoted).
        async fn count_enabled_admins(&self) -> Result<i64> {
            let row = sqlx::query("SELECT COUNT(*) AS n FROM users WHERE role = $1 AND disabled = $2")
                .bind(Role::Admin.as_str())
                .bind(false)
                .fetch_one(&self.pool)
                .await?;
            Ok(row.try_get("n")?)
        }

        /// Sets an account's password hash and ends all its sessions; false when there is no such account.
        async fn set_user_password(&self, name: &str, password_hash: &str, now: Timestamp) -> Result<bool> {
            let mut tx = self.pool.begin().await?;
            let row = sqlx::query("UPDATE users SET password_hash = $1, password_changed_at = $2 WHERE name = $3 RETURNING id")
                .bind(password_hash)
                .bind(to_ms(now))
                .bind(normalise_name(name))
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else { return Ok(false) };
            let id: i64 = row.try_get("id")?;
            sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
            tx.commit().await?;
            Ok(true)
        }

        /// Enables or disables an account; disabling ends its sessions. False when there is no such account.
        async fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<bool> {
            let mut tx = self.pool.begin().await?;
            let row = sqlx::query("UPDATE users SET disabled = $1 WHERE name = $2 RETURNING id")
                .bind(disabled)
                .bind(normalise_name(name))
                .fetch_optional(&mut *tx)
                .await?;
            let Some(row) = row else { return Ok(false) };
            let id: i64 = row.try_get("id")?;
            if disabled {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(id).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(true)
        }

        /// Changes an account's role; false when there is no such account.
        async fn set_user_role(&self, name: &str, role: Role) -> Result<bool> {
            let done = sqlx::query("UPDATE users SET role = $1 WHERE name = $2")
                .bind(role.as_str())
                .bind(normalise_name(name))
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() > 0)
        }

        /// Records a new session.
        async fn create_session(&self, s: &SessionRow) -> Result<()> {
            sqlx::query(
                "INSERT INTO sessions (id_hash, user_id, csrf, created_at, last_seen_at, expires_at, client) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7)",
            )
            .bind(&s.id_hash)
            .bind(s.user_id)
            .bind(&s.csrf)
            .bind(to_ms(s.created_at))
            .bind(to_ms(s.last_seen_at))
            .bind(to_ms(s.expires_at))
            .bind(s.client.as_deref())
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        /// One session by its id's digest.
        async fn session_by_hash(&self, id_hash: &str) -> Result<Option<SessionRow>> {
            let sql = format!("SELECT {SESSION_COLS} FROM sessions WHERE id_hash = $1");
            let row = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(id_hash).fetch_optional(&self.pool).await?;
            row.as_ref().map(session_from_row).transpose()
        }

        /// Notes a request of the session (for idle expiry).
        async fn touch_session(&self, id_hash: &str, now: Timestamp) -> Result<()> {
            sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE id_hash = $2")
                .bind(to_ms(now))
                .bind(id_hash)
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        /// Ends one session; false when it did not exist.
        async fn delete_session(&self, id_hash: &str) -> Result<bool> {
            let done = sqlx::query("DELETE FROM sessions WHERE id_hash = $1").bind(id_hash).execute(&self.pool).await?;
            Ok(done.rows_affected() > 0)
        }

        /// An account's sessions, newest first.
        async fn user_sessions(&self, user_id: i64) -> Result<Vec<SessionRow>> {
            let sql = format!("SELECT {SESSION_COLS} FROM sessions WHERE user_id = $1 ORDER BY created_at DESC");
            let rows = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(user_id).fetch_all(&self.pool).await?;
            rows.iter().map(session_from_row).collect()
        }

        /// Ends every session of an account; how many there were.
        async fn delete_user_sessions(&self, user_id: i64) -> Result<u64> {
            let done = sqlx::query("DELETE FROM sessions WHERE user_id = $1").bind(user_id).execute(&self.pool).await?;
            Ok(done.rows_affected())
        }

        /// Removes sessions past their absolute end, or idle since before `idle_before`.
        async fn delete_stale_sessions(&self, now: Timestamp, idle_before: Timestamp) -> Result<u64> {
            let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1 OR last_seen_at < $2")
                .bind(to_ms(now))
                .bind(to_ms(idle_before))
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected())
        }

        /// The throttle state of a key; `None` when it has no failures on record.
        async fn throttle(&self, key: &str) -> Result<Option<Throttle>> {
            let row = sqlx::query("SELECT failures, last_failure_at, locked_until FROM login_throttle WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
            let Some(r) = row else { return Ok(None) };
            let locked: Option<i64> = r.try_get("locked_until")?;
            Ok(Some(Throttle {
                failures: r.try_get("failures")?,
                last_failure_at: from_ms(r.try_get("last_failure_at")?)?,
                locked_until: locked.map(from_ms).transpose()?,
            }))
        }

        /// Writes a key's throttle state (after a failure).
        async fn put_throttle(&self, key: &str, t: &Throttle) -> Result<()> {
            sqlx::query(
                "INSERT INTO login_throttle (key, failures, last_failure_at, locked_until) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, \
                 last_failure_at = excluded.last_failure_at, locked_until = excluded.locked_until",
            )
            .bind(key)
            .bind(t.failures)
            .bind(to_ms(t.last_failure_at))
            .bind(t.locked_until.map(to_ms))
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        /// Forgets a key's failures (after a successful login).
        async fn clear_throttle(&self, key: &str) -> Result<()> {
            sqlx::query("DELETE FROM login_throttle WHERE key = $1").bind(key).execute(&self.pool).await?;
            Ok(())
        }
    }
}
