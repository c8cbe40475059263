//! The core area: connections (with encrypted secrets), settings, audit log, sync runs, customer
//! status and leases.

use std::time::Duration;

use jiff::Timestamp;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sqlx::Row as _;

use super::{
    KEY_CHECK, Result, StoreError, from_ms, json_text, key_check_blob, ms_after, parse_json,
    store_area, to_ms,
};
use crate::ids::TenantId;
use crate::secrets;

/// Which vendor a stored connection is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionKind {
    /// The ConnectWise PSA API member (site, company, public key; the private key is the secret).
    Connectwise,
    /// The Sophos Central Partner API credential (client id; the client secret is the secret).
    Sophos,
}

impl ConnectionKind {
    /// Both kinds, ConnectWise first.
    pub const ALL: [ConnectionKind; 2] = [ConnectionKind::Connectwise, ConnectionKind::Sophos];

    /// The name kept in `connections.kind` and used in the secret's associated data.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionKind::Connectwise => "connectwise",
            ConnectionKind::Sophos => "sophos",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        match text {
            "connectwise" => Ok(ConnectionKind::Connectwise),
            "sophos" => Ok(ConnectionKind::Sophos),
            other => Err(StoreError::Corrupt {
                what: "connections.kind".into(),
                reason: format!("unknown kind `{other}`"),
            }),
        }
    }

    /// Associated data binding the encrypted secret to its row and column.
    fn secret_aad(self) -> String {
        secrets::aad("connections", self.as_str(), "secret")
    }
}

/// A stored connection: non-secret settings (site, ids, URLs) plus the one secret (ConnectWise
/// private key or Sophos client secret), decrypted. `Debug` redacts the secret.
#[derive(Debug, Clone)]
pub struct Connection {
    /// Which vendor it is for.
    pub kind: ConnectionKind,
    /// The non-secret settings as JSON, in the shape `connections` saves for this kind.
    pub settings: Value,
    /// The decrypted secret.
    pub secret: SecretString,
    /// When it was last saved.
    pub updated_at: Timestamp,
}

/// A stored connection without its secret (nothing is decrypted).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ConnectionSummary {
    /// Which vendor it is for.
    pub kind: ConnectionKind,
    /// The non-secret settings as JSON.
    pub settings: Value,
    /// When it was last saved.
    pub updated_at: Timestamp,
}

/// An audit entry to append. `before`/`after` are JSON snapshots of the changed thing and must never
/// contain secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAudit {
    /// When the change was made.
    pub at: Timestamp,
    /// Who made it: the OS user, the dashboard user, or "service".
    pub actor: String,
    /// What was done: one of the kinds every filter offers.
    pub action: crate::audit::AuditKind,
    /// What it was done to, as `kind:id` (e.g. `product:…`, `agreement:…/product:…`).
    pub subject: String,
    /// The thing before the change; `None` when it did not exist.
    pub before: Option<Value>,
    /// The thing after the change; `None` when it was removed.
    pub after: Option<Value>,
    /// Why, in words for the engineer.
    pub reason: String,
}

/// An audit entry as stored; the fields mean what they mean in [`NewAudit`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    /// The entry's row id, increasing with each append.
    pub id: i64,
    /// When the change was made.
    pub at: Timestamp,
    /// Who made it.
    pub actor: String,
    /// What was done.
    pub action: String,
    /// What it was done to.
    pub subject: String,
    /// The thing before the change; `None` when it did not exist.
    pub before: Option<Value>,
    /// The thing after the change; `None` when it was removed.
    pub after: Option<Value>,
    /// Why, in words for the engineer.
    pub reason: String,
}

/// Filters for [`CoreStore::list_audit`]; `None` means "any". Results are newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only entries by exactly this actor.
    pub actor: Option<String>,
    /// Only entries with exactly this action.
    pub action: Option<String>,
    /// Only entries about exactly this subject.
    pub subject: Option<String>,
    /// Inclusive.
    pub since: Option<Timestamp>,
    /// Exclusive.
    pub until: Option<Timestamp>,
    /// Default 100.
    pub limit: Option<u32>,
}

/// How a sync run ended (or that it has not yet).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunOutcome {
    /// Started and not finished (or its process died and no one has taken the job over yet).
    Running,
    /// No customer failed (including a run with no customers).
    Ok,
    /// Some customers failed; the others went through.
    Partial,
    /// The run failed as a whole, or every customer failed.
    Failed,
    /// Asked to stop (Ctrl-C, service shutdown): the operation in flight finished, the rest did not run.
    Stopped,
    /// Its holder died or lost the lease; another run took the job over.
    Abandoned,
}

impl RunOutcome {
    /// The name kept in `sync_runs.outcome`.
    pub fn as_str(self) -> &'static str {
        match self {
            RunOutcome::Running => "running",
            RunOutcome::Ok => "ok",
            RunOutcome::Partial => "partial",
            RunOutcome::Failed => "failed",
            RunOutcome::Stopped => "stopped",
            RunOutcome::Abandoned => "abandoned",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "running" => RunOutcome::Running,
            "ok" => RunOutcome::Ok,
            "partial" => RunOutcome::Partial,
            "failed" => RunOutcome::Failed,
            "stopped" => RunOutcome::Stopped,
            "abandoned" => RunOutcome::Abandoned,
            other => {
                return Err(StoreError::Corrupt {
                    what: "sync_runs.outcome".into(),
                    reason: format!("unknown outcome `{other}`"),
                });
            }
        })
    }
}

/// One run of a job, as recorded by the run harness.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncRun {
    /// The run's row id.
    pub id: i64,
    /// The job's name (`refresh`, `usage`, `tickets`).
    pub job: String,
    /// When the run began.
    pub started_at: Timestamp,
    /// When it ended; `None` while it is running.
    pub finished_at: Option<Timestamp>,
    /// How it ended, or `Running`.
    pub outcome: RunOutcome,
    /// The run's counters as a JSON object; `{}` until it finishes.
    pub counts: Value,
    /// What went wrong, for a failed, stopped or abandoned run; `None` otherwise.
    pub error: Option<String>,
    /// Which door started it and for whom (e.g. "cli alice@host pid 42"); `None` for older rows.
    pub started_by: Option<String>,
}

/// The last result of one job for one customer (Sophos tenant).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerStatus {
    /// The customer's Sophos tenant.
    pub tenant_id: TenantId,
    /// The job's name (`usage`, `tickets`).
    pub job: String,
    /// When the job last ran for this customer.
    pub last_run_at: Timestamp,
    /// False when the customer failed or was held on that run.
    pub ok: bool,
    /// The job's counters for this customer as a JSON object.
    pub counts: Value,
    /// Why the customer failed or was held; `None` when it went through.
    pub error: Option<String>,
    /// What the engineer should do about `error`.
    pub advice: Option<String>,
}

/// Who holds a job's lease, and until when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lease {
    /// The job's name (`refresh`, `usage`, `tickets`).
    pub job: String,
    /// The holder in the form of `job::Holder::key` (door, actor, host, pid, nonce).
    pub holder: String,
    /// When the lease runs out unless renewed.
    pub expires_at: Timestamp,
    /// When this holder took it (`None` for leases taken before the column existed).
    pub since: Option<Timestamp>,
}

fn audit_from_row(
    id: i64,
    at: i64,
    fields: [String; 4],
    before: Option<String>,
    after: Option<String>,
) -> Result<AuditEntry> {
    let [actor, action, subject, reason] = fields;
    Ok(AuditEntry {
        id,
        at: from_ms(at)?,
        actor,
        action,
        subject,
        before: before
            .map(|t| parse_json("audit_log.before", &t))
            .transpose()?,
        after: after
            .map(|t| parse_json("audit_log.after", &t))
            .transpose()?,
        reason,
    })
}

store_area! {
    /// Connections, settings, audit log, sync runs, customer status and leases.
    pub trait CoreStore {
        /// A setting's JSON value.
        async fn get_setting(&self, key: &str) -> Result<Option<Value>> {
            let text: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE key = $1")
                .bind(key)
                .fetch_optional(&self.pool)
                .await?;
            text.map(|t| parse_json("settings.value", &t)).transpose()
        }

        /// Sets (inserts or replaces) a setting.
        async fn set_setting(&self, key: &str, value: &Value) -> Result<()> {
            sqlx::query(
                "INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            )
            .bind(key)
            .bind(json_text(value)?)
            .bind(to_ms(Timestamp::now()))
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        /// Removes a setting; true if it existed.
        async fn delete_setting(&self, key: &str) -> Result<bool> {
            let done = sqlx::query("DELETE FROM settings WHERE key = $1")
                .bind(key)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() > 0)
        }

        /// All settings, by key.
        async fn list_settings(&self) -> Result<Vec<(String, Value)>> {
            let rows = sqlx::query("SELECT key, value FROM settings ORDER BY key")
                .fetch_all(&self.pool)
                .await?;
            rows.iter()
                .map(|r| {
                    let key: String = r.try_get("key")?;
                    let value: String = r.try_get("value")?;
                    Ok((key, parse_json("settings.value", &value)?))
                })
                .collect()
        }

        /// Saves a connection, encrypting `secret` with the store's master key. Replaces any previous
        /// connection of that kind. (Callers record the change in the audit log, without the secret.)
        async fn save_connection(
            &self,
            kind: ConnectionKind,
            settings: &Value,
            secret: &SecretString,
        ) -> Result<()> {
            let sealed = secrets::encrypt_secret(&self.key, secret, &kind.secret_aad())?;
            let check = key_check_blob(&self.key)?;
            let mut tx = self.pool.begin().await?;
            sqlx::query("INSERT INTO store_meta (name, value) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING")
                .bind(KEY_CHECK)
                .bind(check)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO connections (kind, settings, secret, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (kind) DO UPDATE SET settings = excluded.settings, \
                 secret = excluded.secret, updated_at = excluded.updated_at",
            )
            .bind(kind.as_str())
            .bind(json_text(settings)?)
            .bind(sealed)
            .bind(to_ms(Timestamp::now()))
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(())
        }

        /// Loads a connection and decrypts its secret.
        async fn load_connection(&self, kind: ConnectionKind) -> Result<Option<Connection>> {
            let row = sqlx::query("SELECT settings, secret, updated_at FROM connections WHERE kind = $1")
                .bind(kind.as_str())
                .fetch_optional(&self.pool)
                .await?;
            let Some(row) = row else { return Ok(None) };
            let settings: String = row.try_get("settings")?;
            let sealed: Vec<u8> = row.try_get("secret")?;
            let updated_at: i64 = row.try_get("updated_at")?;
            let secret = secrets::decrypt_secret(&self.key, &sealed, &kind.secret_aad())
                .map_err(|e| match e {
                    secrets::SecretError::WrongKey => StoreError::WrongMasterKey,
                    other => StoreError::Secret(other),
                })?;
            Ok(Some(Connection {
                kind,
                settings: parse_json("connections.settings", &settings)?,
                secret,
                updated_at: from_ms(updated_at)?,
            }))
        }

        /// The stored connections without their secrets.
        async fn list_connections(&self) -> Result<Vec<ConnectionSummary>> {
            let rows = sqlx::query("SELECT kind, settings, updated_at FROM connections ORDER BY kind")
                .fetch_all(&self.pool)
                .await?;
            rows.iter()
                .map(|r| {
                    let kind: String = r.try_get("kind")?;
                    let settings: String = r.try_get("settings")?;
                    let updated_at: i64 = r.try_get("updated_at")?;
                    Ok(ConnectionSummary {
                        kind: ConnectionKind::parse(&kind)?,
                        settings: parse_json("connections.settings", &settings)?,
                        updated_at: from_ms(updated_at)?,
                    })
                })
                .collect()
        }

        /// Removes a connection; true if it existed.
        async fn delete_connection(&self, kind: ConnectionKind) -> Result<bool> {
            let done = sqlx::query("DELETE FROM connections WHERE kind = $1")
                .bind(kind.as_str())
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() > 0)
        }

        /// Appends an audit entry and returns its id.
        async fn append_audit(&self, entry: &NewAudit) -> Result<i64> {
            let before = entry.before.as_ref().map(json_text).transpose()?;
            let after = entry.after.as_ref().map(json_text).transpose()?;
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO audit_log (at, actor, action, subject, before, after, reason) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id",
            )
            .bind(to_ms(entry.at))
            .bind(&entry.actor)
            .bind(entry.action.as_str())
            .bind(&entry.subject)
            .bind(before)
            .bind(after)
            .bind(&entry.reason)
            .fetch_one(&self.pool)
            .await?;
            Ok(id)
        }

        /// Audit entries matching `filter`, newest first.
        async fn list_audit(&self, filter: &AuditFilter) -> Result<Vec<AuditEntry>> {
            let rows = sqlx::query(
                "SELECT id, at, actor, action, subject, before, after, reason FROM audit_log \
                 WHERE ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR action = $2) \
                 AND ($3 IS NULL OR subject = $3) AND ($4 IS NULL OR at >= $4) \
                 AND ($5 IS NULL OR at < $5) \
                 ORDER BY id DESC LIMIT $6",
            )
            .bind(filter.actor.as_deref())
            .bind(filter.action.as_deref())
            .bind(filter.subject.as_deref())
            .bind(filter.since.map(to_ms))
            .bind(filter.until.map(to_ms))
            .bind(i64::from(filter.limit.unwrap_or(100)))
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|r| {
                    audit_from_row(
                        r.try_get("id")?,
                        r.try_get("at")?,
                        [
                            r.try_get("actor")?,
                            r.try_get("action")?,
                            r.try_get("subject")?,
                            r.try_get("reason")?,
                        ],
                        r.try_get("before")?,
                        r.try_get("after")?,
                    )
                })
                .collect()
        }

        /// Records the start of a run of `job` by `started_by`; returns the run id.
        async fn start_sync_run(&self, job: &str, at: Timestamp, started_by: &str) -> Result<i64> {
            let id: i64 = sqlx::query_scalar(
                "INSERT INTO sync_runs (job, started_at, outcome, counts, started_by) \
                 VALUES ($1, $2, $3, $4, $5) RETURNING id",
            )
            .bind(job)
            .bind(to_ms(at))
            .bind(RunOutcome::Running.as_str())
            .bind("{}")
            .bind(started_by)
            .fetch_one(&self.pool)
            .await?;
            Ok(id)
        }

        /// Records how run `id` ended. False if there is no such run, or it is no longer running (it
        /// was marked abandoned when another holder took its job over: that verdict stands).
        async fn finish_sync_run(
            &self,
            id: i64,
            at: Timestamp,
            outcome: RunOutcome,
            counts: &Value,
            error: Option<&str>,
        ) -> Result<bool> {
            let done = sqlx::query(
                "UPDATE sync_runs SET finished_at = $2, outcome = $3, counts = $4, error = $5 \
                 WHERE id = $1 AND outcome = $6",
            )
            .bind(id)
            .bind(to_ms(at))
            .bind(outcome.as_str())
            .bind(json_text(counts)?)
            .bind(error)
            .bind(RunOutcome::Running.as_str())
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() > 0)
        }

        /// Marks every run of `job` still "running" as abandoned: called by a run that has just taken
        /// the job's lease, so none of them can still be alive. Returns how many there were.
        async fn abandon_running_sync_runs(
            &self,
            job: &str,
            at: Timestamp,
            error: &str,
        ) -> Result<u64> {
            let done = sqlx::query(
                "UPDATE sync_runs SET finished_at = $2, outcome = $3, error = $4 \
                 WHERE job = $1 AND outcome = $5",
            )
            .bind(job)
            .bind(to_ms(at))
            .bind(RunOutcome::Abandoned.as_str())
            .bind(error)
            .bind(RunOutcome::Running.as_str())
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected())
        }

        /// Recent runs, newest first, of one job or of all.
        async fn list_sync_runs(&self, job: Option<&str>, limit: u32) -> Result<Vec<SyncRun>> {
            let rows = sqlx::query(
                "SELECT id, job, started_at, finished_at, outcome, counts, error, started_by FROM sync_runs \
                 WHERE ($1 IS NULL OR job = $1) ORDER BY started_at DESC, id DESC LIMIT $2",
            )
            .bind(job)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|r| {
                    let finished: Option<i64> = r.try_get("finished_at")?;
                    let outcome: String = r.try_get("outcome")?;
                    let counts: String = r.try_get("counts")?;
                    Ok(SyncRun {
                        id: r.try_get("id")?,
                        job: r.try_get("job")?,
                        started_at: from_ms(r.try_get("started_at")?)?,
                        finished_at: finished.map(from_ms).transpose()?,
                        outcome: RunOutcome::parse(&outcome)?,
                        counts: parse_json("sync_runs.counts", &counts)?,
                        error: r.try_get("error")?,
                        started_by: r.try_get("started_by")?,
                    })
                })
                .collect()
        }

        /// Inserts or replaces the status of one job for one customer.
        async fn upsert_customer_status(&self, status: &CustomerStatus) -> Result<()> {
            self.upsert_customer_statuses(std::slice::from_ref(status))
                .await
        }

        /// Several customers' statuses in one transaction (a run's many unchanged customers).
        async fn upsert_customer_statuses(&self, statuses: &[CustomerStatus]) -> Result<()> {
            let mut tx = self.pool.begin().await?;
            for status in statuses {
                sqlx::query(
                    "INSERT INTO customer_status (tenant_id, job, last_run_at, ok, counts, error, advice) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) \
                     ON CONFLICT (tenant_id, job) DO UPDATE SET last_run_at = excluded.last_run_at, \
                     ok = excluded.ok, counts = excluded.counts, error = excluded.error, \
                     advice = excluded.advice",
                )
                .bind(&status.tenant_id)
                .bind(&status.job)
                .bind(to_ms(status.last_run_at))
                .bind(status.ok)
                .bind(json_text(&status.counts)?)
                .bind(status.error.as_deref())
                .bind(status.advice.as_deref())
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        /// Customer statuses of one job or of all, by tenant then job.
        async fn list_customer_status(&self, job: Option<&str>) -> Result<Vec<CustomerStatus>> {
            let rows = sqlx::query(
                "SELECT tenant_id, job, last_run_at, ok, counts, error, advice FROM customer_status \
                 WHERE ($1 IS NULL OR job = $1) ORDER BY tenant_id, job",
            )
            .bind(job)
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|r| {
                    let counts: String = r.try_get("counts")?;
                    Ok(CustomerStatus {
                        tenant_id: r.try_get("tenant_id")?,
                        job: r.try_get("job")?,
                        last_run_at: from_ms(r.try_get("last_run_at")?)?,
                        ok: r.try_get("ok")?,
                        counts: parse_json("customer_status.counts", &counts)?,
                        error: r.try_get("error")?,
                        advice: r.try_get("advice")?,
                    })
                })
                .collect()
        }

        /// Takes the lease on `job` for `holder` until `now + ttl`, if it is free, expired, or already
        /// held by `holder` (then it is extended). One atomic statement on both backends: the
        /// conditional upsert locks the row, so two holders can never both get it.
        async fn acquire_lease(
            &self,
            job: &str,
            holder: &str,
            now: Timestamp,
            ttl: Duration,
        ) -> Result<bool> {
            let got: Option<String> = sqlx::query_scalar(
                "INSERT INTO leases (job, holder, expires_at, since) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (job) DO UPDATE SET \
                 since = CASE WHEN leases.holder = excluded.holder THEN leases.since \
                 ELSE excluded.since END, \
                 holder = excluded.holder, expires_at = excluded.expires_at \
                 WHERE leases.holder = excluded.holder OR leases.expires_at <= $4 \
                 RETURNING holder",
            )
            .bind(job)
            .bind(holder)
            .bind(ms_after(now, ttl))
            .bind(to_ms(now))
            .fetch_optional(&self.pool)
            .await?;
            Ok(got.is_some())
        }

        /// Extends a lease `holder` still holds (not expired). False if it was lost.
        async fn renew_lease(
            &self,
            job: &str,
            holder: &str,
            now: Timestamp,
            ttl: Duration,
        ) -> Result<bool> {
            let done = sqlx::query(
                "UPDATE leases SET expires_at = $3 WHERE job = $1 AND holder = $2 AND expires_at > $4",
            )
            .bind(job)
            .bind(holder)
            .bind(ms_after(now, ttl))
            .bind(to_ms(now))
            .execute(&self.pool)
            .await?;
            Ok(done.rows_affected() > 0)
        }

        /// Gives a lease up. False if `holder` did not hold it.
        async fn release_lease(&self, job: &str, holder: &str) -> Result<bool> {
            let done = sqlx::query("DELETE FROM leases WHERE job = $1 AND holder = $2")
                .bind(job)
                .bind(holder)
                .execute(&self.pool)
                .await?;
            Ok(done.rows_affected() > 0)
        }

        /// Who holds `job` at `now`, if anyone.
        async fn lease_holder(&self, job: &str, now: Timestamp) -> Result<Option<Lease>> {
            let row = sqlx::query(
                "SELECT job, holder, expires_at, since FROM leases WHERE job = $1 AND expires_at > $2",
            )
            .bind(job)
            .bind(to_ms(now))
            .fetch_optional(&self.pool)
            .await?;
            row.map(|r| {
                Ok(Lease {
                    job: r.try_get("job")?,
                    holder: r.try_get("holder")?,
                    expires_at: from_ms(r.try_get("expires_at")?)?,
                    since: r
                        .try_get::<Option<i64>, _>("since")?
                        .map(from_ms)
                        .transpose()?,
                })
            })
            .transpose()
        }
    }
}
