//! The usage area: selected products and their catalog items, our links to agreement additions, and
//! the journal of write operations (recorded before and after each one runs).

use jiff::Timestamp;
use serde::Serialize;
use sqlx::Row as _;

use crate::ids::{AdditionId, AgreementId, CatalogItemId, TenantId};

use super::{NewAudit, Result, StoreError, from_ms, json_text, store_area, to_ms};

/// A product's selection and catalog link.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UsageProductRow {
    /// The product's identifier in the product table.
    pub identifier: String,
    /// Usage sync bills this product.
    pub selected: bool,
    /// ConnectWise's record id of the catalog item the product bills as; `None` when not linked.
    pub catalog_item_id: Option<CatalogItemId>,
    /// That catalog item's identifier in ConnectWise; `None` when not linked.
    pub catalog_identifier: Option<String>,
    /// `created` or `mapped`.
    pub link_source: Option<String>,
    /// When the selection or the link last changed.
    pub updated_at: Timestamp,
}

/// Our link from (agreement, product) to the addition that bills it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AdditionLink {
    /// ConnectWise's record id of the agreement the addition is on.
    pub agreement_id: AgreementId,
    /// The product's identifier in the product table.
    pub product: String,
    /// The Sophos tenant whose usage the addition bills.
    pub tenant_id: TenantId,
    /// ConnectWise's record id of the addition.
    pub addition_id: AdditionId,
    /// The catalog item the addition is for.
    pub catalog_item_id: CatalogItemId,
    /// We created it (false: we adopted one the user had made).
    pub created_by_us: bool,
    /// The quantity we last wrote or saw.
    pub quantity: f64,
    /// We cancelled the addition (a move to another catalog item, or a repair); it bills no more.
    pub cancelled_by_us: bool,
}

/// Journal state of one write operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum JournalState {
    /// Recorded with the run's plan; its ConnectWise call has not begun.
    Planned,
    /// Its ConnectWise call is about to be made or in flight; the outcome is not known yet.
    Started,
    /// The call succeeded and the link was written.
    Done,
    /// The call failed; `error` says why.
    Failed,
    /// A later run settled it (a `started` row whose outcome was unknown, or a `planned` one that
    /// never ran).
    Resolved,
}

impl JournalState {
    /// The name kept in `usage_journal.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            JournalState::Planned => "planned",
            JournalState::Started => "started",
            JournalState::Done => "done",
            JournalState::Failed => "failed",
            JournalState::Resolved => "resolved",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "planned" => JournalState::Planned,
            "started" => JournalState::Started,
            "done" => JournalState::Done,
            "failed" => JournalState::Failed,
            "resolved" => JournalState::Resolved,
            other => {
                return Err(StoreError::Corrupt {
                    what: "usage_journal.state".into(),
                    reason: format!("unknown state `{other}`"),
                });
            }
        })
    }
}

/// The write a journal row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JournalKind {
    /// POST a new addition.
    Create,
    /// PATCH an addition's quantity.
    UpdateQuantity,
    /// PATCH a cancelled date on an addition.
    Cancel,
    /// Take over an addition we did not create (and set its quantity).
    Adopt,
}

impl JournalKind {
    /// The name kept in `usage_journal.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            JournalKind::Create => "create",
            JournalKind::UpdateQuantity => "update_quantity",
            JournalKind::Cancel => "cancel",
            JournalKind::Adopt => "adopt",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "create" => JournalKind::Create,
            "update_quantity" => JournalKind::UpdateQuantity,
            "cancel" => JournalKind::Cancel,
            "adopt" => JournalKind::Adopt,
            other => {
                return Err(StoreError::Corrupt {
                    what: "usage_journal.kind".into(),
                    reason: format!("unknown kind `{other}`"),
                });
            }
        })
    }
}

/// A journal row to insert (state `planned`).
#[derive(Debug, Clone, PartialEq)]
pub struct NewJournalEntry {
    /// The `sync_runs` id of the run that plans it; `None` outside a recorded run.
    pub run_id: Option<i64>,
    /// The Sophos tenant whose usage it is.
    pub tenant_id: TenantId,
    /// ConnectWise's record id of the agreement the addition is on.
    pub agreement_id: AgreementId,
    /// The product's identifier in the product table.
    pub product: String,
    /// Which write it is.
    pub kind: JournalKind,
    /// The addition written to; `None` for a create (set when it finishes).
    pub addition_id: Option<AdditionId>,
    /// The addition's quantity before the write; `None` for a create.
    pub before_qty: Option<f64>,
    /// The quantity the write sets.
    pub after_qty: Option<f64>,
    /// Why the plan makes this write, for the engineer.
    pub reason: String,
}

/// A journal row as stored: a [`NewJournalEntry`] with its id, state and times.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JournalEntry {
    /// The row id, increasing in plan order.
    pub id: i64,
    /// The `sync_runs` id of the run that planned it; `None` outside a recorded run.
    pub run_id: Option<i64>,
    /// The Sophos tenant whose usage it is.
    pub tenant_id: TenantId,
    /// ConnectWise's record id of the agreement the addition is on.
    pub agreement_id: AgreementId,
    /// The product's identifier in the product table.
    pub product: String,
    /// Which write it is.
    pub kind: JournalKind,
    /// The addition written to; `None` for a create that has not finished.
    pub addition_id: Option<AdditionId>,
    /// The addition's quantity before the write; `None` for a create.
    pub before_qty: Option<f64>,
    /// The quantity the write sets.
    pub after_qty: Option<f64>,
    /// Why the plan made this write.
    pub reason: String,
    /// Where the write is now.
    pub state: JournalState,
    /// Why it failed; `None` unless it did.
    pub error: Option<String>,
    /// What kind of failure it was (e.g. `invoiced_period`); `None` unless it failed.
    pub error_code: Option<String>,
    /// When it was planned.
    pub created_at: Timestamp,
    /// When its state last changed.
    pub updated_at: Timestamp,
}

/// Builds a [`JournalEntry`] from a row of either backend.
macro_rules! journal_from_row {
    ($r:expr) => {{
        let r = $r;
        let state: String = r.try_get("state")?;
        Ok::<JournalEntry, StoreError>(JournalEntry {
            id: r.try_get("id")?,
            run_id: r.try_get("run_id")?,
            tenant_id: r.try_get("tenant_id")?,
            agreement_id: r.try_get("agreement_id")?,
            product: r.try_get("product")?,
            kind: JournalKind::parse(&r.try_get::<String, _>("kind")?)?,
            addition_id: r.try_get("addition_id")?,
            before_qty: r.try_get("before_qty")?,
            after_qty: r.try_get("after_qty")?,
            reason: r.try_get("reason")?,
            state: JournalState::parse(&state)?,
            error: r.try_get("error")?,
            error_code: r.try_get("error_code")?,
            created_at: from_ms(r.try_get("created_at")?)?,
            updated_at: from_ms(r.try_get("updated_at")?)?,
        })
    }};
}

macro_rules! journal_columns {
    () => {
        "id, run_id, tenant_id, agreement_id, product, kind, addition_id, before_qty, after_qty, \
         reason, state, error, error_code, created_at, updated_at"
    };
}

/// Appends `entry` to the audit log inside the transaction `tx` (whichever backend's it is).
macro_rules! insert_audit {
    ($tx:ident, $entry:expr) => {{
        let entry: &NewAudit = $entry;
        let before = entry.before.as_ref().map(json_text).transpose()?;
        let after = entry.after.as_ref().map(json_text).transpose()?;
        sqlx::query(
            "INSERT INTO audit_log (at, actor, action, subject, before, after, reason) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(to_ms(entry.at))
        .bind(&entry.actor)
        .bind(entry.action.as_str())
        .bind(&entry.subject)
        .bind(before)
        .bind(after)
        .bind(&entry.reason)
        .execute(&mut *$tx)
        .await?;
    }};
}
pub(super) use insert_audit as insert_audit_entry;

store_area! {
    /// Selected products, catalog links, addition links and the usage journal.
    pub trait UsageStore {
        /// Every product row (only products the user has touched have one).
        async fn list_usage_products(&self) -> Result<Vec<UsageProductRow>> {
            let rows = sqlx::query(
                "SELECT identifier, selected, catalog_item_id, catalog_identifier, link_source, updated_at \
                 FROM usage_products ORDER BY identifier",
            )
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(UsageProductRow {
                        identifier: r.try_get("identifier")?,
                        selected: r.try_get("selected")?,
                        catalog_item_id: r.try_get("catalog_item_id")?,
                        catalog_identifier: r.try_get("catalog_identifier")?,
                        link_source: r.try_get("link_source")?,
                        updated_at: from_ms(r.try_get("updated_at")?)?,
                    })
                })
                .collect()
        }

        /// Selects or unselects a product for sync.
        async fn set_product_selected(&self, identifier: &str, selected: bool) -> Result<()> {
            sqlx::query(
                "INSERT INTO usage_products (identifier, selected, updated_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (identifier) DO UPDATE SET selected = excluded.selected, \
                 updated_at = excluded.updated_at",
            )
            .bind(identifier)
            .bind(selected)
            .bind(to_ms(Timestamp::now()))
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        /// Sets (or with `None` clears) the catalog item a product bills as.
        async fn set_product_catalog(
            &self,
            identifier: &str,
            catalog_item_id: Option<CatalogItemId>,
            catalog_identifier: Option<&str>,
            link_source: Option<&str>,
        ) -> Result<()> {
            sqlx::query(
                "INSERT INTO usage_products (identifier, selected, catalog_item_id, catalog_identifier, \
                 link_source, updated_at) VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (identifier) DO UPDATE SET catalog_item_id = excluded.catalog_item_id, \
                 catalog_identifier = excluded.catalog_identifier, link_source = excluded.link_source, \
                 updated_at = excluded.updated_at",
            )
            .bind(identifier)
            .bind(false)
            .bind(catalog_item_id)
            .bind(catalog_identifier)
            .bind(link_source)
            .bind(to_ms(Timestamp::now()))
            .execute(&self.pool)
            .await?;
            Ok(())
        }

        /// Our addition links, of one tenant or of all.
        async fn list_addition_links(&self, tenant_id: Option<&str>) -> Result<Vec<AdditionLink>> {
            let rows = sqlx::query(
                "SELECT agreement_id, product, tenant_id, addition_id, catalog_item_id, created_by_us, \
                 quantity, cancelled_by_us FROM usage_additions \
                 WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY agreement_id, product",
            )
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(AdditionLink {
                        agreement_id: r.try_get("agreement_id")?,
                        product: r.try_get("product")?,
                        tenant_id: r.try_get("tenant_id")?,
                        addition_id: r.try_get("addition_id")?,
                        catalog_item_id: r.try_get("catalog_item_id")?,
                        created_by_us: r.try_get("created_by_us")?,
                        quantity: r.try_get("quantity")?,
                        cancelled_by_us: r.try_get("cancelled_by_us")?,
                    })
                })
                .collect()
        }

        /// Inserts or replaces one addition link.
        async fn upsert_addition_link(&self, link: &AdditionLink) -> Result<()> {
            sqlx::query(UPSERT_LINK)
                .bind(link.agreement_id)
                .bind(&link.product)
                .bind(&link.tenant_id)
                .bind(link.addition_id)
                .bind(link.catalog_item_id)
                .bind(link.created_by_us)
                .bind(link.quantity)
                .bind(link.cancelled_by_us)
                .bind(to_ms(Timestamp::now()))
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        /// Records operations about to run (state `planned`), in one transaction; returns their ids
        /// in order.
        async fn journal_plan(&self, entries: &[NewJournalEntry]) -> Result<Vec<i64>> {
            let now = to_ms(Timestamp::now());
            let mut tx = self.pool.begin().await?;
            let mut ids = Vec::with_capacity(entries.len());
            for e in entries {
                let id: i64 = sqlx::query_scalar(
                    "INSERT INTO usage_journal (run_id, tenant_id, agreement_id, product, kind, addition_id, \
                     before_qty, after_qty, reason, state, created_at, updated_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11) RETURNING id",
                )
                .bind(e.run_id)
                .bind(&e.tenant_id)
                .bind(e.agreement_id)
                .bind(&e.product)
                .bind(e.kind.as_str())
                .bind(e.addition_id)
                .bind(e.before_qty)
                .bind(e.after_qty)
                .bind(&e.reason)
                .bind(JournalState::Planned.as_str())
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                ids.push(id);
            }
            tx.commit().await?;
            Ok(ids)
        }

        /// Marks an operation `started` (just before its ConnectWise call).
        async fn journal_start(&self, id: i64) -> Result<()> {
            sqlx::query("UPDATE usage_journal SET state = $2, updated_at = $3 WHERE id = $1")
                .bind(id)
                .bind(JournalState::Started.as_str())
                .bind(to_ms(Timestamp::now()))
                .execute(&self.pool)
                .await?;
            Ok(())
        }

        /// Records how an operation ended, with the link it leaves and its audit entry, in one
        /// transaction (so the journal, our links and the audit log never disagree).
        async fn journal_finish(
            &self,
            id: i64,
            state: JournalState,
            addition_id: Option<AdditionId>,
            error: Option<(&str, &str)>,
            link: Option<&AdditionLink>,
            audit: Option<&NewAudit>,
        ) -> Result<()> {
            let now = to_ms(Timestamp::now());
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "UPDATE usage_journal SET state = $2, addition_id = COALESCE($3, addition_id), error = $4, \
                 error_code = $6, updated_at = $5 WHERE id = $1",
            )
            .bind(id)
            .bind(state.as_str())
            .bind(addition_id)
            .bind(error.map(|(_, message)| message))
            .bind(now)
            .bind(error.map(|(code, _)| code))
            .execute(&mut *tx)
            .await?;
            if let Some(link) = link {
                sqlx::query(UPSERT_LINK)
                    .bind(link.agreement_id)
                    .bind(&link.product)
                    .bind(&link.tenant_id)
                    .bind(link.addition_id)
                    .bind(link.catalog_item_id)
                    .bind(link.created_by_us)
                    .bind(link.quantity)
                    .bind(link.cancelled_by_us)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            if let Some(entry) = audit {
                insert_audit!(tx, entry);
            }
            tx.commit().await?;
            Ok(())
        }

        /// Operations left `planned` or `started` by an earlier run (a crash or a stop).
        async fn journal_open(&self) -> Result<Vec<JournalEntry>> {
            let rows = sqlx::query(concat!(
                "SELECT ",
                journal_columns!(),
                " FROM usage_journal WHERE state IN ('planned', 'started') ORDER BY id"
            ))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(|r| journal_from_row!(r)).collect()
        }

        /// Marks left-over rows `resolved` once a run has settled them.
        async fn journal_resolve(&self, ids: &[i64]) -> Result<()> {
            let now = to_ms(Timestamp::now());
            let mut tx = self.pool.begin().await?;
            for id in ids {
                sqlx::query("UPDATE usage_journal SET state = $2, updated_at = $3 WHERE id = $1")
                    .bind(id)
                    .bind(JournalState::Resolved.as_str())
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        }

        /// The newest journal rows, newest first.
        async fn journal_recent(&self, limit: u32) -> Result<Vec<JournalEntry>> {
            let rows = sqlx::query(concat!(
                "SELECT ",
                journal_columns!(),
                " FROM usage_journal ORDER BY id DESC LIMIT $1"
            ))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(|r| journal_from_row!(r)).collect()
        }

        /// The newest journal row of each (agreement, product): what usage sync last tried there.
        async fn journal_latest(&self) -> Result<Vec<JournalEntry>> {
            let rows = sqlx::query(concat!(
                "SELECT ",
                journal_columns!(),
                " FROM usage_journal j WHERE id = (SELECT MAX(k.id) FROM usage_journal k \
                 WHERE k.agreement_id = j.agreement_id AND k.product = j.product) ORDER BY id"
            ))
            .fetch_all(&self.pool)
            .await?;
            rows.iter().map(|r| journal_from_row!(r)).collect()
        }

        /// Records that a person removed the customer's addition for `product` on purpose (replacing
        /// an earlier acknowledgement), with its audit entry, in one transaction.
        async fn acknowledge_removal(&self, ack: &RemovalAck, audit: &NewAudit) -> Result<()> {
            let mut tx = self.pool.begin().await?;
            sqlx::query(
                "INSERT INTO removal_acks (tenant_id, product, actor, reason, acknowledged_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant_id, product) DO UPDATE SET \
                 actor = excluded.actor, reason = excluded.reason, acknowledged_at = excluded.acknowledged_at",
            )
            .bind(&ack.tenant_id)
            .bind(&ack.product)
            .bind(&ack.actor)
            .bind(&ack.reason)
            .bind(to_ms(ack.acknowledged_at))
            .execute(&mut *tx)
            .await?;
            insert_audit!(tx, audit);
            tx.commit().await?;
            Ok(())
        }

        /// Withdraws an acknowledgement, with its audit entry; false when there was none.
        async fn withdraw_removal(&self, tenant_id: &str, product: &str, audit: &NewAudit) -> Result<bool> {
            let mut tx = self.pool.begin().await?;
            let done = sqlx::query("DELETE FROM removal_acks WHERE tenant_id = $1 AND product = $2")
                .bind(tenant_id)
                .bind(product)
                .execute(&mut *tx)
                .await?;
            if done.rows_affected() == 0 {
                return Ok(false);
            }
            insert_audit!(tx, audit);
            tx.commit().await?;
            Ok(true)
        }

        /// Acknowledged removals, of one tenant or of all, by tenant and product.
        async fn removal_acks(&self, tenant_id: Option<&str>) -> Result<Vec<RemovalAck>> {
            let rows = sqlx::query(
                "SELECT tenant_id, product, actor, reason, acknowledged_at FROM removal_acks \
                 WHERE ($1 IS NULL OR tenant_id = $1) ORDER BY tenant_id, product",
            )
            .bind(tenant_id)
            .fetch_all(&self.pool)
            .await?;
            rows.iter()
                .map(|r| {
                    Ok(RemovalAck {
                        tenant_id: r.try_get("tenant_id")?,
                        product: r.try_get("product")?,
                        actor: r.try_get("actor")?,
                        reason: r.try_get("reason")?,
                        acknowledged_at: from_ms(r.try_get("acknowledged_at")?)?,
                    })
                })
                .collect()
        }
    }
}

/// A removal a person made on purpose: the customer's product stays unbilled, by choice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemovalAck {
    /// Sophos's id of the customer's tenant.
    pub tenant_id: TenantId,
    /// The product whose addition was removed.
    pub product: String,
    /// Who acknowledged it.
    pub actor: String,
    /// Why, as they said it.
    pub reason: String,
    /// When.
    pub acknowledged_at: jiff::Timestamp,
}

const UPSERT_LINK: &str = "INSERT INTO usage_additions (agreement_id, product, tenant_id, addition_id, \
     catalog_item_id, created_by_us, quantity, cancelled_by_us, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
     ON CONFLICT (agreement_id, product) DO UPDATE SET tenant_id = excluded.tenant_id, \
     addition_id = excluded.addition_id, catalog_item_id = excluded.catalog_item_id, \
     created_by_us = excluded.created_by_us, quantity = excluded.quantity, \
     cancelled_by_us = excluded.cancelled_by_us, updated_at = excluded.updated_at";
