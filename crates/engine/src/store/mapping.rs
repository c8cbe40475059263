//! The mapping area: Sophos tenants, ConnectWise companies and agreements as last refreshed, and the
//! confirmed tenant -> company (+ agreement) mappings with their per-customer switches.
//!
//! Rows are never deleted by a refresh: what is missing from a full listing is flagged `gone`.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sqlx::Row as _;

use crate::ids::{AgreementId, BillingType, CompanyId, TenantId};

use super::{BackendKind, NewAudit, Result, StoreError, from_ms, json_text, store_area, to_ms};

/// A Sophos tenant as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TenantRecord {
    /// Sophos's tenant id.
    pub id: TenantId,
    /// The tenant's display name (`showAs`, else `name`, else the id).
    pub name: String,
    /// How Sophos bills the tenant (usage, term, trial); `None` when Sophos did not say.
    pub billing_type: Option<BillingType>,
    /// The tenant's Sophos data region as Sophos writes it; `None` when not given.
    pub data_region: Option<String>,
    /// The tenant's own API host, where its alerts are read; `None` when Sophos gave none.
    pub api_host: Option<String>,
    /// The tenant's status as Sophos writes it; `None` when not given.
    pub status: Option<String>,
    /// When a refresh first stored it.
    pub first_seen: Timestamp,
    /// When a refresh last saw it in a listing.
    pub last_seen: Timestamp,
    /// Missing from the last full tenant listing.
    pub gone: bool,
}

/// A ConnectWise company as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CompanyRecord {
    /// ConnectWise's record id of the company.
    pub id: CompanyId,
    /// The company's short identifier in ConnectWise (empty when ConnectWise sent none).
    pub identifier: String,
    /// The company's name (the identifier when ConnectWise sent no name).
    pub name: String,
    /// Company status name (`Active`, `Inactive`, ...).
    pub status: Option<String>,
    /// In ConnectWise's recycle bin (`deletedFlag`).
    pub deleted: bool,
    /// Its status name contains "inactive" (any case).
    pub inactive: bool,
    /// When a refresh first stored it.
    pub first_seen: Timestamp,
    /// When a refresh last saw it in a listing.
    pub last_seen: Timestamp,
    /// Missing from the last full company listing (deleted for good).
    pub gone: bool,
}

/// A ConnectWise agreement as last seen.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AgreementRecord {
    /// ConnectWise's record id of the agreement.
    pub id: AgreementId,
    /// The company the agreement belongs to; `None` when ConnectWise gave none.
    pub company_id: Option<CompanyId>,
    /// The agreement's name (`Agreement <id>` when ConnectWise sent none).
    pub name: String,
    /// The name of the agreement's type; `None` when not given.
    pub type_name: Option<String>,
    /// `agreementStatus` (`Active`, `Cancelled`, `Expired`, `Inactive`, ...).
    pub status: Option<String>,
    /// Cancelled by its flag or its status.
    pub cancelled: bool,
    /// Not cancelled, and its status says Expired or its end date has passed.
    pub expired: bool,
    /// The name of its billing cycle; `None` when not given.
    pub billing_cycle: Option<String>,
    /// When a refresh first stored it.
    pub first_seen: Timestamp,
    /// When a refresh last saw it in a listing.
    pub last_seen: Timestamp,
    /// Missing from the last full agreement listing.
    pub gone: bool,
}

/// How a mapping came to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MappingSource {
    /// `map set` or the dashboard.
    Manual,
    /// A suggestion confirmed by `map accept`.
    Accepted,
    /// A CSV import.
    Import,
}

impl MappingSource {
    /// The name kept in `mappings.source`.
    pub fn as_str(self) -> &'static str {
        match self {
            MappingSource::Manual => "manual",
            MappingSource::Accepted => "accepted",
            MappingSource::Import => "import",
        }
    }

    fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "manual" => MappingSource::Manual,
            "accepted" => MappingSource::Accepted,
            "import" => MappingSource::Import,
            other => {
                return Err(StoreError::Corrupt {
                    what: "mappings.source".into(),
                    reason: format!("unknown source `{other}`"),
                });
            }
        })
    }
}

/// A confirmed mapping with its per-customer switches.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mapping {
    /// The Sophos tenant (one mapping per tenant).
    pub tenant_id: TenantId,
    /// The ConnectWise company it is mapped to (one tenant per company).
    pub company_id: CompanyId,
    /// Needed for usage sync only.
    pub agreement_id: Option<AgreementId>,
    /// Usage sync puts this customer's quantities on the agreement.
    pub usage_sync: bool,
    /// Ticket sync opens tickets for this customer's alerts.
    pub ticket_sync: bool,
    /// How the mapping came to be.
    pub source: MappingSource,
    /// Who set, accepted or imported it (the audit actor).
    pub confirmed_by: String,
    /// When it was last confirmed.
    pub confirmed_at: Timestamp,
}

/// One mapping change, written atomically with its audit entry by [`MappingStore::write_mappings`].
#[derive(Debug, Clone, PartialEq)]
pub struct MappingWrite {
    /// The tenant whose mapping changes; its old mapping is removed first.
    pub tenant_id: TenantId,
    /// The mapping after the change; `None` clears it.
    pub after: Option<Mapping>,
    /// The audit entry written in the same transaction.
    pub audit: NewAudit,
}

/// A name change seen by a refresh.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rename {
    /// The renamed record's vendor id, as text.
    pub id: String,
    /// The name the store had.
    pub old: String,
    /// The name the vendor now sends.
    pub new: String,
}

/// What one refresh batch changed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct BatchCounts {
    /// Records in the batch.
    pub seen: u64,
    /// Records the store did not have.
    pub new: u64,
    /// Known records whose name changed.
    pub renamed: u64,
    /// Other fields changed (status, flags, region, ...).
    pub changed: u64,
    /// Was flagged gone and is back.
    pub returned: u64,
    /// Every rename in the batch, old and new name.
    pub renames: Vec<Rename>,
}

impl BatchCounts {
    fn note(&mut self, previous: Option<(String, bool, bool)>, id: String, name: &str) {
        self.seen += 1;
        match previous {
            None => self.new += 1,
            Some((old_name, was_gone, same_rest)) => {
                if was_gone {
                    self.returned += 1;
                }
                if old_name != name {
                    self.renamed += 1;
                    self.renames.push(Rename {
                        id,
                        old: old_name,
                        new: name.to_owned(),
                    });
                } else if !same_rest {
                    self.changed += 1;
                }
            }
        }
    }
}

/// Which refreshed table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordKind {
    /// Sophos tenants (`tenants`).
    Tenants,
    /// ConnectWise companies (`companies`).
    Companies,
    /// ConnectWise agreements (`agreements`).
    Agreements,
}

/// A tenant with its mapping and what the mapping points at, for listings.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CustomerJoin {
    /// The tenant (gone ones included).
    pub tenant: TenantRecord,
    /// Its mapping; `None` when it is not mapped.
    pub mapping: Option<Mapping>,
    /// The mapped company; `None` when unmapped or the company was never refreshed.
    pub company: Option<CompanyRecord>,
    /// The mapped agreement; `None` when the mapping has none or it was never refreshed.
    pub agreement: Option<AgreementRecord>,
}

fn ts(ms: i64) -> Result<Timestamp> {
    from_ms(ms)
}

macro_rules! decode_tenant {
    ($r:expr, $p:literal) => {
        TenantRecord {
            id: $r.try_get(concat!($p, "id"))?,
            name: $r.try_get(concat!($p, "name"))?,
            billing_type: $r
                .try_get::<Option<String>, _>(concat!($p, "billing_type"))?
                .as_deref()
                .map(BillingType::parse),
            data_region: $r.try_get(concat!($p, "data_region"))?,
            api_host: $r.try_get(concat!($p, "api_host"))?,
            status: $r.try_get(concat!($p, "status"))?,
            first_seen: ts($r.try_get(concat!($p, "first_seen"))?)?,
            last_seen: ts($r.try_get(concat!($p, "last_seen"))?)?,
            gone: $r.try_get(concat!($p, "gone"))?,
        }
    };
}

macro_rules! decode_company {
    ($r:expr, $p:literal) => {
        CompanyRecord {
            id: $r.try_get(concat!($p, "id"))?,
            identifier: $r.try_get(concat!($p, "identifier"))?,
            name: $r.try_get(concat!($p, "name"))?,
            status: $r.try_get(concat!($p, "status"))?,
            deleted: $r.try_get(concat!($p, "deleted"))?,
            inactive: $r.try_get(concat!($p, "inactive"))?,
            first_seen: ts($r.try_get(concat!($p, "first_seen"))?)?,
            last_seen: ts($r.try_get(concat!($p, "last_seen"))?)?,
            gone: $r.try_get(concat!($p, "gone"))?,
        }
    };
}

macro_rules! decode_agreement {
    ($r:expr, $p:literal) => {
        AgreementRecord {
            id: $r.try_get(concat!($p, "id"))?,
            company_id: $r.try_get(concat!($p, "company_id"))?,
            name: $r.try_get(concat!($p, "name"))?,
            type_name: $r.try_get(concat!($p, "type_name"))?,
            status: $r.try_get(concat!($p, "status"))?,
            cancelled: $r.try_get(concat!($p, "cancelled"))?,
            expired: $r.try_get(concat!($p, "expired"))?,
            billing_cycle: $r.try_get(concat!($p, "billing_cycle"))?,
            first_seen: ts($r.try_get(concat!($p, "first_seen"))?)?,
            last_seen: ts($r.try_get(concat!($p, "last_seen"))?)?,
            gone: $r.try_get(concat!($p, "gone"))?,
        }
    };
}

macro_rules! decode_mapping {
    ($r:expr, $p:literal) => {
        Mapping {
            tenant_id: $r.try_get(concat!($p, "tenant_id"))?,
            company_id: $r.try_get(concat!($p, "company_id"))?,
            agreement_id: $r.try_get(concat!($p, "agreement_id"))?,
            usage_sync: $r.try_get(concat!($p, "usage_sync"))?,
            ticket_sync: $r.try_get(concat!($p, "ticket_sync"))?,
            source: MappingSource::parse(&$r.try_get::<String, _>(concat!($p, "source"))?)?,
            confirmed_by: $r.try_get(concat!($p, "confirmed_by"))?,
            confirmed_at: ts($r.try_get(concat!($p, "confirmed_at"))?)?,
        }
    };
}

const TENANT_COLS: &str =
    "id, name, billing_type, data_region, api_host, status, first_seen, last_seen, gone";
const COMPANY_COLS: &str =
    "id, identifier, name, status, deleted, inactive, first_seen, last_seen, gone";
const AGREEMENT_COLS: &str = "id, company_id, name, type_name, status, cancelled, expired, \
                              billing_cycle, first_seen, last_seen, gone";
const MAPPING_COLS: &str = "tenant_id, company_id, agreement_id, usage_sync, ticket_sync, source, \
                            confirmed_by, confirmed_at";

/// SQLite: take the write lock at BEGIN. A deferred transaction that reads first and writes later
/// fails with "database is locked" when another writer committed in between (concurrent refreshes of
/// tenants, companies and agreements do exactly that); busy_timeout cannot help an upgrade.
fn begin_write(kind: BackendKind) -> &'static str {
    match kind {
        BackendKind::Sqlite => "BEGIN IMMEDIATE",
        BackendKind::Postgres => "BEGIN",
    }
}

fn sql(parts: &[&str]) -> sqlx::AssertSqlSafe<String> {
    // Only ever built from the constant column lists above: no user text reaches the SQL.
    sqlx::AssertSqlSafe(parts.concat())
}

store_area! {
    /// Tenants, companies, agreements and mappings.
    pub trait MappingStore {
        /// Inserts or updates a batch of tenants seen at `seen_at`, in one transaction.
        async fn upsert_tenants(&self, batch: &[TenantRecord], seen_at: Timestamp) -> Result<BatchCounts> {
            let mut counts = BatchCounts::default();
            let mut tx = self.pool.begin_with(begin_write(Self::KIND)).await?;
            for t in batch {
                let prev = sqlx::query(
                    "SELECT name, gone, billing_type, data_region, api_host, status FROM tenants WHERE id = $1",
                )
                .bind(&t.id)
                .fetch_optional(&mut *tx)
                .await?;
                let previous = match prev {
                    Some(r) => {
                        let same = r.try_get::<Option<String>, _>("billing_type")?.as_deref()
                            == t.billing_type.as_ref().map(BillingType::as_str)
                            && r.try_get::<Option<String>, _>("data_region")? == t.data_region
                            && r.try_get::<Option<String>, _>("api_host")? == t.api_host
                            && r.try_get::<Option<String>, _>("status")? == t.status;
                        Some((r.try_get::<String, _>("name")?, r.try_get::<bool, _>("gone")?, same))
                    }
                    None => None,
                };
                counts.note(previous, t.id.to_string(), &t.name);
                sqlx::query(
                    "INSERT INTO tenants (id, name, billing_type, data_region, api_host, status, \
                     first_seen, last_seen, gone) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) \
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, \
                     billing_type = excluded.billing_type, data_region = excluded.data_region, \
                     api_host = excluded.api_host, status = excluded.status, \
                     last_seen = excluded.last_seen, gone = excluded.gone",
                )
                .bind(&t.id)
                .bind(&t.name)
                .bind(t.billing_type.as_ref().map(BillingType::as_str))
                .bind(t.data_region.as_deref())
                .bind(t.api_host.as_deref())
                .bind(t.status.as_deref())
                .bind(to_ms(seen_at))
                .bind(false)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(counts)
        }

        /// Inserts or updates a batch of companies seen at `seen_at`, in one transaction.
        async fn upsert_companies(&self, batch: &[CompanyRecord], seen_at: Timestamp) -> Result<BatchCounts> {
            let mut counts = BatchCounts::default();
            let mut tx = self.pool.begin_with(begin_write(Self::KIND)).await?;
            for c in batch {
                let prev = sqlx::query(
                    "SELECT name, gone, identifier, status, deleted, inactive FROM companies WHERE id = $1",
                )
                .bind(c.id)
                .fetch_optional(&mut *tx)
                .await?;
                let previous = match prev {
                    Some(r) => {
                        let same = r.try_get::<String, _>("identifier")? == c.identifier
                            && r.try_get::<Option<String>, _>("status")? == c.status
                            && r.try_get::<bool, _>("deleted")? == c.deleted
                            && r.try_get::<bool, _>("inactive")? == c.inactive;
                        Some((r.try_get::<String, _>("name")?, r.try_get::<bool, _>("gone")?, same))
                    }
                    None => None,
                };
                counts.note(previous, c.id.to_string(), &c.name);
                sqlx::query(
                    "INSERT INTO companies (id, identifier, name, status, deleted, inactive, \
                     first_seen, last_seen, gone) VALUES ($1, $2, $3, $4, $5, $6, $7, $7, $8) \
                     ON CONFLICT (id) DO UPDATE SET identifier = excluded.identifier, \
                     name = excluded.name, status = excluded.status, deleted = excluded.deleted, \
                     inactive = excluded.inactive, last_seen = excluded.last_seen, gone = excluded.gone",
                )
                .bind(c.id)
                .bind(&c.identifier)
                .bind(&c.name)
                .bind(c.status.as_deref())
                .bind(c.deleted)
                .bind(c.inactive)
                .bind(to_ms(seen_at))
                .bind(false)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(counts)
        }

        /// Inserts or updates a batch of agreements seen at `seen_at`, in one transaction.
        async fn upsert_agreements(&self, batch: &[AgreementRecord], seen_at: Timestamp) -> Result<BatchCounts> {
            let mut counts = BatchCounts::default();
            let mut tx = self.pool.begin_with(begin_write(Self::KIND)).await?;
            for a in batch {
                let prev = sqlx::query(
                    "SELECT name, gone, company_id, type_name, status, cancelled, expired, billing_cycle \
                     FROM agreements WHERE id = $1",
                )
                .bind(a.id)
                .fetch_optional(&mut *tx)
                .await?;
                let previous = match prev {
                    Some(r) => {
                        let same = r.try_get::<Option<CompanyId>, _>("company_id")? == a.company_id
                            && r.try_get::<Option<String>, _>("type_name")? == a.type_name
                            && r.try_get::<Option<String>, _>("status")? == a.status
                            && r.try_get::<bool, _>("cancelled")? == a.cancelled
                            && r.try_get::<bool, _>("expired")? == a.expired
                            && r.try_get::<Option<String>, _>("billing_cycle")? == a.billing_cycle;
                        Some((r.try_get::<String, _>("name")?, r.try_get::<bool, _>("gone")?, same))
                    }
                    None => None,
                };
                counts.note(previous, a.id.to_string(), &a.name);
                sqlx::query(
                    "INSERT INTO agreements (id, company_id, name, type_name, status, cancelled, \
                     expired, billing_cycle, first_seen, last_seen, gone) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9, $10) \
                     ON CONFLICT (id) DO UPDATE SET company_id = excluded.company_id, \
                     name = excluded.name, type_name = excluded.type_name, status = excluded.status, \
                     cancelled = excluded.cancelled, expired = excluded.expired, \
                     billing_cycle = excluded.billing_cycle, last_seen = excluded.last_seen, \
                     gone = excluded.gone",
                )
                .bind(a.id)
                .bind(a.company_id)
                .bind(&a.name)
                .bind(a.type_name.as_deref())
                .bind(a.status.as_deref())
                .bind(a.cancelled)
                .bind(a.expired)
                .bind(a.billing_cycle.as_deref())
                .bind(to_ms(seen_at))
                .bind(false)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(counts)
        }

        /// Flags as gone every row of `kind` not seen since `before` (call only after a complete
        /// listing). Returns how many were newly flagged.
        async fn mark_gone(&self, kind: RecordKind, before: Timestamp) -> Result<u64> {
            let q = match kind {
                RecordKind::Tenants => "UPDATE tenants SET gone = $2 WHERE last_seen < $1 AND NOT gone",
                RecordKind::Companies => "UPDATE companies SET gone = $2 WHERE last_seen < $1 AND NOT gone",
                RecordKind::Agreements => "UPDATE agreements SET gone = $2 WHERE last_seen < $1 AND NOT gone",
            };
            let done = sqlx::query(q).bind(to_ms(before)).bind(true).execute(&self.pool).await?;
            Ok(done.rows_affected())
        }

        /// How many rows of `kind` there are, and how many of them are not gone.
        async fn count_records(&self, kind: RecordKind) -> Result<(i64, i64)> {
            let q = match kind {
                RecordKind::Tenants => "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN gone THEN 0 ELSE 1 END), 0) AS live FROM tenants",
                RecordKind::Companies => "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN gone THEN 0 ELSE 1 END), 0) AS live FROM companies",
                RecordKind::Agreements => "SELECT COUNT(*) AS n, COALESCE(SUM(CASE WHEN gone THEN 0 ELSE 1 END), 0) AS live FROM agreements",
            };
            let r = sqlx::query(q).fetch_one(&self.pool).await?;
            Ok((r.try_get("n")?, r.try_get("live")?))
        }

        /// One tenant by Sophos id, gone or not; `None` if never stored.
        async fn get_tenant(&self, id: &str) -> Result<Option<TenantRecord>> {
            let r = sqlx::query(sql(&["SELECT ", TENANT_COLS, " FROM tenants WHERE id = $1"]))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            Ok(match r { Some(r) => Some(decode_tenant!(r, "")), None => None })
        }

        /// Every tenant, gone ones included, by id.
        async fn list_tenants(&self) -> Result<Vec<TenantRecord>> {
            let rows = sqlx::query(sql(&["SELECT ", TENANT_COLS, " FROM tenants ORDER BY id"]))
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(|r| Ok(decode_tenant!(r, ""))).collect()
        }

        /// One company by ConnectWise id, deleted or gone included; `None` if never stored.
        async fn get_company(&self, id: CompanyId) -> Result<Option<CompanyRecord>> {
            let r = sqlx::query(sql(&["SELECT ", COMPANY_COLS, " FROM companies WHERE id = $1"]))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            Ok(match r { Some(r) => Some(decode_company!(r, "")), None => None })
        }

        /// Companies whose identifier equals `identifier` ignoring ASCII case.
        async fn find_companies_by_identifier(&self, identifier: &str) -> Result<Vec<CompanyRecord>> {
            let rows = sqlx::query(sql(&["SELECT ", COMPANY_COLS,
                " FROM companies WHERE LOWER(identifier) = LOWER($1) ORDER BY id"]))
                .bind(identifier)
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(|r| Ok(decode_company!(r, ""))).collect()
        }

        /// Companies by id; deleted and gone ones only when `include_removed`.
        async fn list_companies(&self, include_removed: bool) -> Result<Vec<CompanyRecord>> {
            let rows = sqlx::query(sql(&["SELECT ", COMPANY_COLS,
                " FROM companies WHERE $1 OR (NOT deleted AND NOT gone) ORDER BY id"]))
                .bind(include_removed)
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(|r| Ok(decode_company!(r, ""))).collect()
        }

        /// One agreement by ConnectWise id, gone included; `None` if never stored.
        async fn get_agreement(&self, id: AgreementId) -> Result<Option<AgreementRecord>> {
            let r = sqlx::query(sql(&["SELECT ", AGREEMENT_COLS, " FROM agreements WHERE id = $1"]))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
            Ok(match r { Some(r) => Some(decode_agreement!(r, "")), None => None })
        }

        /// A company's agreements (gone ones included), by id.
        async fn list_agreements_of(&self, company_id: CompanyId) -> Result<Vec<AgreementRecord>> {
            let rows = sqlx::query(sql(&["SELECT ", AGREEMENT_COLS,
                " FROM agreements WHERE company_id = $1 ORDER BY id"]))
                .bind(company_id)
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(|r| Ok(decode_agreement!(r, ""))).collect()
        }

        /// Every agreement (gone ones included), by id.
        async fn list_agreements(&self) -> Result<Vec<AgreementRecord>> {
            let rows = sqlx::query(sql(&["SELECT ", AGREEMENT_COLS, " FROM agreements ORDER BY id"]))
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(|r| Ok(decode_agreement!(r, ""))).collect()
        }

        /// The mapping of tenant `tenant_id`; `None` when it is not mapped.
        async fn get_mapping(&self, tenant_id: &str) -> Result<Option<Mapping>> {
            let r = sqlx::query(sql(&["SELECT ", MAPPING_COLS, " FROM mappings WHERE tenant_id = $1"]))
                .bind(tenant_id)
                .fetch_optional(&self.pool)
                .await?;
            Ok(match r { Some(r) => Some(decode_mapping!(r, "")), None => None })
        }

        /// The mapping that uses company `company_id`, if any.
        async fn mapping_by_company(&self, company_id: CompanyId) -> Result<Option<Mapping>> {
            let r = sqlx::query(sql(&["SELECT ", MAPPING_COLS, " FROM mappings WHERE company_id = $1"]))
                .bind(company_id)
                .fetch_optional(&self.pool)
                .await?;
            Ok(match r { Some(r) => Some(decode_mapping!(r, "")), None => None })
        }

        /// The mapping that uses agreement `agreement_id`, if any.
        async fn mapping_by_agreement(&self, agreement_id: AgreementId) -> Result<Option<Mapping>> {
            let r = sqlx::query(sql(&["SELECT ", MAPPING_COLS, " FROM mappings WHERE agreement_id = $1"]))
                .bind(agreement_id)
                .fetch_optional(&self.pool)
                .await?;
            Ok(match r { Some(r) => Some(decode_mapping!(r, "")), None => None })
        }

        /// Every mapping, by tenant id.
        async fn list_mappings(&self) -> Result<Vec<Mapping>> {
            let rows = sqlx::query(sql(&["SELECT ", MAPPING_COLS, " FROM mappings ORDER BY tenant_id"]))
                .fetch_all(&self.pool)
                .await?;
            rows.iter().map(|r| Ok(decode_mapping!(r, ""))).collect()
        }

        /// Applies mapping changes and their audit entries in ONE transaction: all or nothing. Every
        /// touched tenant's old mapping is removed before any new one is inserted, so swaps between
        /// tenants in one call do not trip the unique constraints.
        async fn write_mappings(&self, writes: &[MappingWrite]) -> Result<()> {
            let mut tx = self.pool.begin_with(begin_write(Self::KIND)).await?;
            for w in writes {
                sqlx::query("DELETE FROM mappings WHERE tenant_id = $1")
                    .bind(&w.tenant_id)
                    .execute(&mut *tx)
                    .await?;
            }
            for w in writes {
                if let Some(m) = &w.after {
                    sqlx::query(
                        "INSERT INTO mappings (tenant_id, company_id, agreement_id, usage_sync, \
                         ticket_sync, source, confirmed_by, confirmed_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                    )
                    .bind(&m.tenant_id)
                    .bind(m.company_id)
                    .bind(m.agreement_id)
                    .bind(m.usage_sync)
                    .bind(m.ticket_sync)
                    .bind(m.source.as_str())
                    .bind(&m.confirmed_by)
                    .bind(to_ms(m.confirmed_at))
                    .execute(&mut *tx)
                    .await?;
                }
            }
            for w in writes {
                let e = &w.audit;
                sqlx::query(
                    "INSERT INTO audit_log (at, actor, action, subject, before, after, reason) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(to_ms(e.at))
                .bind(&e.actor)
                .bind(e.action.as_str())
                .bind(&e.subject)
                .bind(e.before.as_ref().map(json_text).transpose()?)
                .bind(e.after.as_ref().map(json_text).transpose()?)
                .bind(&e.reason)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        /// Every tenant with its mapping, mapped company and agreement (gone tenants included).
        async fn list_customers(&self) -> Result<Vec<CustomerJoin>> {
            let rows = sqlx::query(
                "SELECT t.id AS t_id, t.name AS t_name, t.billing_type AS t_billing_type, \
                 t.data_region AS t_data_region, t.api_host AS t_api_host, t.status AS t_status, \
                 t.first_seen AS t_first_seen, t.last_seen AS t_last_seen, t.gone AS t_gone, \
                 m.tenant_id AS m_tenant_id, m.company_id AS m_company_id, \
                 m.agreement_id AS m_agreement_id, m.usage_sync AS m_usage_sync, \
                 m.ticket_sync AS m_ticket_sync, m.source AS m_source, \
                 m.confirmed_by AS m_confirmed_by, m.confirmed_at AS m_confirmed_at, \
                 c.id AS c_id, c.identifier AS c_identifier, c.name AS c_name, c.status AS c_status, \
                 c.deleted AS c_deleted, c.inactive AS c_inactive, c.first_seen AS c_first_seen, \
                 c.last_seen AS c_last_seen, c.gone AS c_gone, \
                 a.id AS a_id, a.company_id AS a_company_id, a.name AS a_name, \
                 a.type_name AS a_type_name, a.status AS a_status, a.cancelled AS a_cancelled, \
                 a.expired AS a_expired, a.billing_cycle AS a_billing_cycle, \
                 a.first_seen AS a_first_seen, a.last_seen AS a_last_seen, a.gone AS a_gone \
                 FROM tenants t \
                 LEFT JOIN mappings m ON m.tenant_id = t.id \
                 LEFT JOIN companies c ON c.id = m.company_id \
                 LEFT JOIN agreements a ON a.id = m.agreement_id \
                 ORDER BY t.id",
            )
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|r| {
                    let tenant = decode_tenant!(r, "t_");
                    let mapping = match r.try_get::<Option<String>, _>("m_tenant_id")? {
                        Some(_) => Some(decode_mapping!(r, "m_")),
                        None => None,
                    };
                    let company = match r.try_get::<Option<i64>, _>("c_id")? {
                        Some(_) => Some(decode_company!(r, "c_")),
                        None => None,
                    };
                    let agreement = match r.try_get::<Option<i64>, _>("a_id")? {
                        Some(_) => Some(decode_agreement!(r, "a_")),
                        None => None,
                    };
                    Ok(CustomerJoin { tenant, mapping, company, agreement })
                })
                .collect()
        }
    }
}
